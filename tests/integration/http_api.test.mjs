// The HTTP send API against a real SMSC peer: POST /api/v1/messages is
// answered 202 with ids only after the commit, each token reads only its
// own messages, bad input and missing rights get the documented 4xx, load
// gets 429 with Retry-After, and Kannel's /cgi-bin/sendsms works for an
// unchanged Kannel client.  Every response is checked against
// docs/openapi.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const spec = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
let j;
let smsc;
const tok = {};

before(async () => {
  smsc = await startSmsc();
  j = await startJunction();
  await j.mi('connectors.add', { name: 'smsc1', type: 'smpp', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'api', password: 'pw' } });
  await waitBound(j, 'smsc1');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'smsc1' });
  for (const [name, role] of [['shop', 'operator'], ['crm', 'operator'], ['ro', 'viewer'], ['boss', 'admin']])
    tok[name] = (await j.mi('tokens.create', { name, role })).token;
});
after(async () => { if (j) await j.cleanup(); if (smsc) await smsc.stop(); });

// A small OpenAPI schema check: type, required, properties, items,
// additionalProperties, enum, nullable, oneOf, $ref.
function resolve(s) { return s && s.$ref ? resolve(s.$ref.split('/').slice(1).reduce((o, k) => o[k], spec)) : s; }
function check(schema, v, where = '$') {
  const s = resolve(schema);
  if (!s) return;
  if (v === null && s.nullable) return;
  if (s.oneOf) { assert.ok(s.oneOf.some((x) => { try { check(x, v, where); return true; } catch { return false; } }), `${where} matches one of oneOf`); return; }
  const t = Array.isArray(v) ? 'array' : v === null ? 'null' : Number.isInteger(v) ? 'integer' : typeof v;
  if (s.type) assert.ok(t === s.type || (s.type === 'number' && t === 'integer'), `${where}: ${t} is not ${s.type}`);
  if (s.enum) assert.ok(s.enum.includes(v), `${where}: ${v} not in ${s.enum}`);
  if (s.type === 'object') {
    for (const r of s.required || []) assert.ok(r in v, `${where}.${r} is required`);
    for (const [k, x] of Object.entries(v)) {
      if (s.properties && k in s.properties) check(s.properties[k], x, `${where}.${k}`);
      else if (s.additionalProperties === false) assert.fail(`${where}.${k} is not in the schema`);
      else if (typeof s.additionalProperties === 'object') check(s.additionalProperties, x, `${where}.${k}`);
    }
  }
  if (s.type === 'array' && s.items) v.forEach((x, i) => check(s.items, x, `${where}[${i}]`));
}

// A request through the API, its response checked against the spec.
async function api(method, path, { token, body, specPath = path, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] ??= 'application/json';
  const res = await j.httpAnon(path, { method, headers: h, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const text = await res.text();
  const op = spec.paths[specPath][method.toLowerCase()];
  const doc = op.responses[String(res.status)];
  assert.ok(doc, `${method} ${specPath} answered ${res.status}, which docs/openapi.json does not list: ${text}`);
  const media = doc.content && Object.keys(doc.content)[0];
  let parsed = text;
  if (media === 'application/json') { parsed = JSON.parse(text); check(doc.content[media].schema, parsed); }
  if (doc.headers) for (const name of Object.keys(doc.headers)) assert.ok(res.headers.get(name), `${name} header`);
  return { status: res.status, body: parsed, headers: res.headers };
}

test('POST /api/v1/messages answers 202 with committed ids and the SMSC gets each message', async () => {
  const r = await api('POST', '/api/v1/messages', { token: tok.shop, body: { to: ['447700900001', '447700900002'], from: '4930123', text: 'hello api', receipt: true, client_ref: 'order-17', tags: { campaign: 'x' } } });
  assert.equal(r.status, 202);
  assert.equal(r.body.accepted.length, 2);
  assert.deepEqual(r.body.refused, []);
  for (const a of r.body.accepted) {
    const m = await j.mi('messages.get', { id: a.id });
    assert.equal(m.to, a.to, 'stored before the answer');
    assert.equal(m.envelope.tags.sender, 'mi:token:shop');
    assert.equal(m.envelope.tags.client_ref, 'order-17');
    assert.equal(m.envelope.tags.campaign, 'x');
  }
  await waitFor(() => ['447700900001', '447700900002'].every((d) => smsc.submits.some((p) => p.destination_addr === d && p.short_message.message === 'hello api')), 10000, 'both submit_sm at the SMSC');
  const sub = smsc.submits.find((p) => p.destination_addr === '447700900001');
  assert.equal(sub.registered_delivery & 1, 1, 'receipt: true asks the SMSC for one');
});

test('GET /api/v1/messages/{id} shows the state and history to its sender only; an admin sees all', async () => {
  // an event sink (an AMQP connector, its broker not needed) keeps the events: the history
  await j.mi('connectors.add', { name: 'events', type: 'amqp', conf: { host: '127.0.0.1', port: await freePort(), vhost: '/', user: 'guest', password: 'guest', exchange: 'x' } });
  const { body } = await api('POST', '/api/v1/messages', { token: tok.shop, body: { to: '447700900003', from: '4930123', text: 'mine', client_ref: 'r3' } });
  const id = body.accepted[0].id;
  const own = await waitFor(async () => { const r = await api('GET', `/api/v1/messages/${id}`, { token: tok.shop, specPath: '/api/v1/messages/{id}' }); return r.body.status === 'submitted' && r; }, 10000, 'submitted');
  assert.equal(own.body.to, '447700900003');
  assert.equal(own.body.client_ref, 'r3');
  assert.equal(own.body.target, 'smsc1');
  const types = own.body.history.map((h) => h.type);
  assert.ok(types.includes('message.queued') && types.includes('message.submitted'), JSON.stringify(types));
  const other = await api('GET', `/api/v1/messages/${id}`, { token: tok.crm, specPath: '/api/v1/messages/{id}' });
  assert.equal(other.status, 404, 'another token does not see it');
  const boss = await api('GET', `/api/v1/messages/${id}`, { token: tok.boss, specPath: '/api/v1/messages/{id}' });
  assert.equal(boss.status, 200);
  const none = await api('GET', '/api/v1/messages/nosuchid', { token: tok.shop, specPath: '/api/v1/messages/{id}' });
  assert.equal(none.status, 404);
});

test('bad input and missing rights get the documented 4xx, and nothing is stored', async () => {
  const before = (await j.mi('messages.list', { limit: 1000 })).length;
  const cases = [
    [{ token: null, body: { to: '447700900009', from: '1', text: 'x' } }, 401],
    [{ token: 'jt_wrong', body: { to: '447700900009', from: '1', text: 'x' } }, 401],
    [{ token: tok.ro, body: { to: '447700900009', from: '1', text: 'x' } }, 403],
    [{ token: tok.shop, body: '{not json' }, 400],
    [{ token: tok.shop, body: { from: '1', text: 'x' } }, 400],
    [{ token: tok.shop, body: { to: [], from: '1', text: 'x' } }, 400],
    [{ token: tok.shop, body: { to: '447700900009', from: '1', text: 'x', colour: 'red' } }, 400],
    [{ token: tok.shop, body: { to: '447700900009', from: '1', text: 'x', validity_s: -5 } }, 400],
    [{ token: tok.shop, body: { to: '447700900009', from: '1', text: 'x', coding: 'latin9' } }, 400],
    [{ token: tok.shop, body: { to: '33123456789', from: '1', text: 'x' } }, 422],
  ];
  for (const [req, status] of cases) {
    const r = await api('POST', '/api/v1/messages', req);
    assert.equal(r.status, status, `${JSON.stringify(req.body)} -> ${JSON.stringify(r.body)}`);
    assert.equal(typeof r.body.error, 'string');
  }
  const form = await j.httpAnon('/api/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${tok.shop}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'to=447700900009' });
  assert.equal(form.status, 415);
  assert.equal((await j.mi('messages.list', { limit: 1000 })).length, before);
});

test('the members POST /api/v1/messages knows are those of SendRequest in docs/openapi.json', async () => {
  const req = spec.components.schemas.SendRequest;
  const before = (await j.mi('messages.list', { limit: 1000 })).length;
  for (const name of Object.keys(req.properties)) {
    // a value of the wrong kind: refused for what it is, never as unknown
    const body = { to: '447700900009', from: '1', text: 'x', [name]: { wrong: 1 } };
    const r = await api('POST', '/api/v1/messages', { token: tok.shop, body });
    assert.ok(r.status === 400 || r.status === 202, `${name}: ${r.status}`);
    if (r.status === 400) assert.doesNotMatch(r.body.error, /unknown member/, `${name} is implemented`);
  }
  const r = await api('POST', '/api/v1/messages', { token: tok.shop, body: { to: '447700900009', from: '1', text: 'x', colour: 'red' } });
  assert.match(r.body.error, /unknown member "colour"/);
  assert.equal((await j.mi('messages.list', { limit: 1000 })).length, before);
  // text or binary, exactly one: as the schema's oneOf says
  assert.deepEqual(req.oneOf.map((o) => o.required[0]).sort(), ['binary', 'text']);
  for (const body of [{ to: '447700900009', from: '1' }, { to: '447700900009', from: '1', text: 'x', binary: '00' }]) {
    const x = await api('POST', '/api/v1/messages', { token: tok.shop, body });
    assert.equal(x.status, 400);
    assert.match(x.body.error, /exactly one of text and binary/);
  }
});

test('a refusal for load is 429 with Retry-After; nothing accepted is lost', async () => {
  const dead = await freePort();
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: { host: '127.0.0.1', port: dead, system_id: 'x', password: 'y' } });
  await j.mi('routes.add', { name: 'fr', priority: 5, dst_prefix: '33', target: 'down' });
  await j.mi('params.set', { name: 'core.queue_max', value: '1' });
  const first = await api('POST', '/api/v1/messages', { token: tok.shop, body: { to: '33600000001', from: '1', text: 'a' } });
  assert.equal(first.status, 202);
  const r = await api('POST', '/api/v1/messages', { token: tok.shop, body: { to: '33600000002', from: '1', text: 'b' } });
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.equal(r.body.refused[0].to, '33600000002');
  assert.equal((await j.mi('messages.get', { id: first.body.accepted[0].id })).status, 'queued');
  await j.mi('params.set', { name: 'core.queue_max', value: '5000000' });
});

test('Kannel\'s /cgi-bin/sendsms: a Kannel client sends unchanged; bad credentials are refused', async () => {
  await j.addUser('kannel', 'operator', 'kannel-password-1');
  const q = (o) => `/cgi-bin/sendsms?${new URLSearchParams(o)}`;
  let r = await api('GET', q({ username: 'kannel', password: 'kannel-password-1', to: '447700900077', text: 'from kannel', from: '4930999', 'dlr-mask': '3' }), { specPath: '/cgi-bin/sendsms' });
  assert.equal(r.status, 202);
  assert.equal(r.body, '0: Accepted for delivery');
  await waitFor(() => smsc.submits.find((p) => p.destination_addr === '447700900077' && p.short_message.message === 'from kannel'), 10000, 'the Kannel message at the SMSC');
  r = await api('GET', q({ username: 'kannel', password: 'wrong', to: '447700900078', text: 'x' }), { specPath: '/cgi-bin/sendsms' });
  assert.equal(r.status, 403);
  assert.equal(r.body, 'Authorization failed for sendsms');
  r = await api('GET', q({ username: 'kannel', password: 'kannel-password-1', text: 'x' }), { specPath: '/cgi-bin/sendsms' });
  assert.equal(r.status, 400);
  assert.equal(r.body, 'Missing receiver number, rejected');
  await j.addUser('peeker', 'viewer', 'peeker-password-1');
  r = await api('GET', q({ username: 'peeker', password: 'peeker-password-1', to: '447700900079', text: 'x' }), { specPath: '/cgi-bin/sendsms' });
  assert.equal(r.status, 403, 'a viewer may not send');
  assert.ok(!smsc.submits.some((p) => ['447700900078', '447700900079'].includes(p.destination_addr)));
});
