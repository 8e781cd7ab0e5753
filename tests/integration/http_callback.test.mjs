// Receipt callbacks of the HTTP send API: a message sent with callback_url
// gets its outcome POSTed there as JSON once it is final (here: after the
// SMSC's delivery receipt), through the implicit connector http:callback,
// retried by the core with backoff while the receiver is away or answers
// 503, and delivered exactly once after its first 2xx, across a restart
// too; a 404 is final.  A bad callback_url is a 400.  Each request and
// answer is on the trace bus and counted; https is verified against
// http.ca_file.  Kannel's sendsms dlr-url is a GET with its escapes
// expanded, for the outcomes of dlr-mask.
// Receivers are node:http servers on 127.0.0.1; every wait is for a state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

let j;
let smsc;
let token;
let tls; // a self-signed pair for 127.0.0.1, junction's http.ca_file

// Short retries so a receiver that is down for a while is tried often.
const PARAMS = { 'core.retry_base_ms': 100, 'core.retry_max_ms': 400, 'http.timeout_ms': 2000 };

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-cb-tls-'));
  execFileSync('sh', [path.resolve('../../webui/tls_selfsigned.sh'), dir]);
  tls = { cert: readFileSync(path.join(dir, 'cert.pem')), key: readFileSync(path.join(dir, 'key.pem')), certPath: path.join(dir, 'cert.pem') };
  smsc = await startSmsc();
  j = await startJunction({ params: { ...PARAMS, 'http.ca_file': tls.certPath } });
  await j.mi('connectors.add', { name: 'smsc1', type: 'smpp', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'cb', password: 'pw' } });
  await waitBound(j, 'smsc1');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'smsc1' });
  token = (await j.mi('tokens.create', { name: 'shop', role: 'operator' })).token;
});
after(async () => { if (j) await j.cleanup(); if (smsc) await smsc.stop(); });

// A receiver on port: answer(n) gives the status of the n-th request (1..).
// withTls: HTTPS with the self-signed pair.
function startReceiver(port, answer = () => 200, withTls = false) {
  const r = { port, requests: [], server: null };
  const handler = (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const status = answer(r.requests.length + 1);
      r.requests.push({ method: req.method, url: req.url, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'not now');
    });
  };
  r.server = withTls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler);
  return new Promise((resolve) => r.server.listen(port, '127.0.0.1', () => resolve(r)));
}
const stopReceiver = (r) => new Promise((resolve) => r.server.close(() => resolve()));

async function send(body) {
  const res = await j.httpAnon('/api/v1/messages', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// The SMSC's receipt for the submit_sm to dst.
async function receipt(dst, stat) {
  const pdu = await waitFor(() => smsc.submits.find((p) => p.destination_addr === dst), 10000, `submit_sm to ${dst}`);
  assert.equal(pdu.registered_delivery & 1, 1, 'a callback_url asks for a receipt');
  const session = [...smsc.sessions].find((x) => x.n === pdu.session); // the one it came on
  await smsc.deliver({ esm_class: 0x04, source_addr: dst, destination_addr: pdu.source_addr,
    short_message: `id:${pdu.smsc_message_id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
      `submit date:2612011200 done date:2612011201 stat:${stat} err:000 text:x` }, 10000, session);
  return pdu;
}

const counters = async () => (await j.mi('stats.get')).counters;

// The callback as docs/openapi.json describes it (the POST operation's
// callbacks): its header parameters, and its body against the schema
// (type, required, properties, additionalProperties, enum, nullable, $ref).
const spec = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
const resolve = (s) => (s && s.$ref ? resolve(s.$ref.split('/').slice(1).reduce((o, k) => o[k], spec)) : s);
function check(schema, v, where = '$') {
  const s = resolve(schema);
  if (v === null) return assert.ok(s.nullable, `${where} may not be null`);
  const t = Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  assert.ok(t === s.type || (s.type === 'number' && t === 'integer'), `${where}: ${t} is not ${s.type}`);
  if (s.enum) assert.ok(s.enum.includes(v), `${where}: ${v} not in ${s.enum}`);
  if (s.type !== 'object') return;
  for (const r of s.required || []) assert.ok(r in v, `${where}.${r} is required`);
  for (const [k, x] of Object.entries(v)) {
    if (s.properties && k in s.properties) check(s.properties[k], x, `${where}.${k}`);
    else assert.ok(s.additionalProperties !== false, `${where}.${k} is not in the schema`);
  }
}
function checkCallback(req) {
  const op = spec.paths['/api/v1/messages'].post.callbacks.outcome['{$request.body#/callback_url}'].post;
  for (const p of op.parameters) {
    const v = req.headers[p.name.toLowerCase()];
    assert.ok(!p.required || v, `header ${p.name}`);
    if (v !== undefined) check(p.schema, v, p.name);
  }
  assert.equal(req.headers['content-type'], Object.keys(op.requestBody.content)[0]);
  const doc = JSON.parse(req.body);
  check(op.requestBody.content['application/json'].schema, doc);
  return doc;
}

test('a message with callback_url gets one callback with its outcome after the receipt', async () => {
  const rx = await startReceiver(await freePort());
  try {
    const url = `http://127.0.0.1:${rx.port}/dlr?shop=1`;
    const r = await send({ to: '447700900101', from: '4930123', text: 'cb one', client_ref: 'order-1', callback_url: url });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.accepted[0].id;
    const m = await j.mi('messages.get', { id });
    assert.equal(m.envelope.tags.callback_url, url);
    const pdu = await receipt('447700900101', 'DELIVRD');
    const got = await waitFor(() => rx.requests[0], 10000, 'the callback');
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/dlr?shop=1');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-junction-event'], 'message.delivered');
    assert.equal(got.headers['x-junction-message-id'], id);
    const doc = checkCallback(got);
    assert.equal(doc.event, 'message.delivered');
    assert.equal(doc.id, id);
    assert.equal(doc.client_ref, 'order-1');
    assert.equal(doc.to, '447700900101');
    assert.equal(doc.from, '4930123');
    assert.equal(doc.state, 'delivered');
    assert.equal(doc.reason, null);
    assert.equal(doc.error, 0);
    assert.deepEqual(doc.receipt, { stat: 'DELIVRD', err: 0, remote_id: pdu.smsc_message_id });
    assert.match(doc.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(Math.abs(Date.parse(doc.at) - Date.now()) < 60000, 'at is now');
    // the report is a stored message of its own, delivered by the 200
    await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'delivered', limit: 50 }))
      .some((x) => x.envelope?.report?.of === id), 10000, 'the callback delivered in the store');
    assert.equal(rx.requests.length, 1, 'one callback');
  } finally { await stopReceiver(rx); }
});

test('a receiver that is down, then answers 503, gets the callback exactly once after its first 2xx', async () => {
  const port = await freePort(); // nothing listens yet: connection refused
  const before = (await counters())['http.callbacks_retried'] ?? 0;
  const r = await send({ to: '447700900102', from: '4930123', text: 'cb two', callback_url: `http://127.0.0.1:${port}/cb` });
  assert.equal(r.status, 202);
  const id = r.body.accepted[0].id;
  await receipt('447700900102', 'UNDELIV');
  await waitFor(async () => ((await counters())['http.callbacks_retried'] ?? 0) >= before + 2, 15000, 'retries while nobody listens');
  const rx = await startReceiver(port, (n) => (n <= 2 ? 503 : 200));
  try {
    await waitFor(() => rx.requests.some((q) => q.status === 200), 15000, 'a 200 after two 503');
    await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'delivered', limit: 50 }))
      .some((x) => x.envelope?.report?.of === id), 10000, 'the callback delivered in the store');
    assert.deepEqual(rx.requests.map((q) => q.status), [503, 503, 200], 'nothing after the 2xx');
    const bodies = new Set(rx.requests.map((q) => q.body));
    assert.equal(bodies.size, 1, 'every attempt carries the same document');
    const doc = checkCallback(rx.requests[2]);
    assert.equal(doc.id, id);
    assert.equal(doc.state, 'failed');
    assert.equal(doc.event, 'message.failed');
    assert.equal(doc.receipt.stat, 'UNDELIV');
    assert.equal(rx.requests[2].headers['x-junction-event'], 'message.failed');
  } finally { await stopReceiver(rx); }
});

test('a 4xx other than 408 / 429 is a permanent failure: no retry', async () => {
  const rx = await startReceiver(await freePort(), () => 404);
  try {
    const before = (await counters())['http.callbacks_failed'] ?? 0;
    const r = await send({ to: '447700900103', from: '4930123', text: 'cb three', callback_url: `http://127.0.0.1:${rx.port}/gone` });
    const id = r.body.accepted[0].id;
    await receipt('447700900103', 'DELIVRD');
    await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'failed', limit: 50 }))
      .some((x) => x.envelope?.report?.of === id), 10000, 'the callback failed in the store');
    assert.equal(rx.requests.length, 1);
    assert.equal((await counters())['http.callbacks_failed'], before + 1);
  } finally { await stopReceiver(rx); }
});

test('a bad callback_url is a 400, over the API and the MI', async () => {
  for (const bad of ['ftp://example.com/x', 'http://', 'http:/x', 'http://a b/', 'http://user:pw@h/x',
    'http://h:0/', 'http://h:99999/', `http://h/${'x'.repeat(1100)}`, 42, 'javascript:alert(1)']) {
    const r = await send({ to: '447700900104', from: '4930123', text: 'bad', callback_url: bad });
    assert.equal(r.status, 400, `${bad}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error, /callback_url/);
  }
  await assert.rejects(j.mi('messages.inject', { from: '4930123', to: '447700900104', body: 'x', callback_url: 'gopher://h/' }),
    (e) => e.rpc?.code === -32602 && /callback_url/.test(e.rpc.message));
  await assert.rejects(j.mi('messages.inject', { from: '4930123', to: '447700900104', body: 'x', tags: { callback_url: 'http://h/' } }),
    (e) => e.rpc?.code === -32602, 'the tag is not set by hand');
  await assert.rejects(j.mi('connectors.add', { name: 'http:callback', type: 'http', conf: { callback: true } }),
    (e) => e.rpc?.code === -32602 && /HTTP adapter's own connector/.test(e.rpc.message));
  const ok = await send({ to: '447700900104', from: '4930123', text: 'good', callback_url: 'https://[::1]:8443/a?b=c' });
  assert.equal(ok.status, 202, 'an https URL with an IPv6 host is taken');
});

test('the callback request and its answer are on the trace bus, and counted', async () => {
  const rx = await startReceiver(await freePort());
  const { id: traceId } = await j.mi('trace.start', { connector: 'http:callback' });
  try {
    const before = await counters();
    const r = await send({ to: '447700900105', from: '4930123', text: 'cb five', callback_url: `http://127.0.0.1:${rx.port}/t` });
    const id = r.body.accepted[0].id;
    await receipt('447700900105', 'DELIVRD');
    const recs = await waitFor(async () => {
      const all = (await j.mi('trace.list', { id: traceId, after: 0 })).records.filter((x) => x.kind === 'http');
      return all.some((x) => x.dir === 'in') && all;
    }, 10000, 'http records');
    const out = recs.find((x) => x.dir === 'out');
    const inn = recs.find((x) => x.dir === 'in');
    assert.match(out.summary, new RegExp(`^POST http://127\\.0\\.0\\.1:${rx.port}/t$`));
    assert.equal(out.connector, 'http:callback');
    assert.equal(out.peer, `127.0.0.1:${rx.port}`);
    assert.match(inn.summary, /^HTTP 200 OK$/);
    const c = await counters();
    assert.equal(c['http.callbacks_sent'], before['http.callbacks_sent'] + 1);
    assert.equal(c['http.callbacks_delivered'], before['http.callbacks_delivered'] + 1);
    const conn = (await j.mi('connectors.list')).find((x) => x.name === 'http:callback');
    assert.equal(conn.type, 'http');
    assert.equal(conn.status.state, 'ready');
    assert.ok(conn.status.delivered >= 1);
    assert.ok(id);
  } finally {
    await j.mi('trace.stop', { id: traceId });
    await stopReceiver(rx);
  }
});

test('an https:// callback is verified against http.ca_file and delivered', async () => {
  const rx = await startReceiver(await freePort(), () => 200, true);
  try {
    const r = await send({ to: '447700900106', from: '4930123', text: 'cb tls', callback_url: `https://127.0.0.1:${rx.port}/secure` });
    const id = r.body.accepted[0].id;
    await receipt('447700900106', 'DELIVRD');
    const got = await waitFor(() => rx.requests[0], 10000, 'the https callback');
    assert.equal(got.url, '/secure');
    assert.equal(JSON.parse(got.body).id, id);
  } finally { await stopReceiver(rx); }
});

test('a callback owed when junction restarts is sent after the restart', async () => {
  const port = await freePort();
  const before = (await counters())['http.callbacks_retried'] ?? 0;
  const r = await send({ to: '447700900107', from: '4930123', text: 'cb restart', callback_url: `http://127.0.0.1:${port}/later` });
  const id = r.body.accepted[0].id;
  await receipt('447700900107', 'DELIVRD');
  await waitFor(async () => ((await counters())['http.callbacks_retried'] ?? 0) > before, 15000, 'a retry before the restart');
  assert.equal(await j.stop(), j.exited);
  assert.equal(j.exited.code, 0, 'a clean shutdown');
  j.start();
  await j.ready();
  await waitBound(j, 'smsc1');
  const rx = await startReceiver(port);
  try {
    const got = await waitFor(() => rx.requests[0], 15000, 'the callback after the restart');
    assert.equal(JSON.parse(got.body).id, id);
    await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'delivered', limit: 50 }))
      .some((x) => x.envelope?.report?.of === id), 10000, 'the callback delivered in the store');
    assert.equal(rx.requests.length, 1);
  } finally { await stopReceiver(rx); }
});

test("Kannel's sendsms dlr-url: a GET with the escapes expanded, for the outcomes of dlr-mask", async () => {
  await j.addUser('kannel', 'operator', 'kannel-pw-1');
  const rx = await startReceiver(await freePort());
  const sendsms = async (to, mask, dlrUrl) => {
    const q = new URLSearchParams({ username: 'kannel', password: 'kannel-pw-1', to, from: '4930123', text: 'kannel dlr', 'dlr-mask': String(mask), 'dlr-url': dlrUrl });
    const res = await j.httpAnon(`/cgi-bin/sendsms?${q}`);
    return { status: res.status, text: await res.text() };
  };
  const idOf = async (to) => (await waitFor(async () => (await j.mi('messages.list', { number: to, limit: 5 }))
    .find((x) => x.to === to && !x.envelope?.report), 5000, `the message to ${to}`)).id;
  try {
    const tmpl = `http://127.0.0.1:${rx.port}/kdlr?type=%d&id=%I&to=%p&from=%P&smsc=%i&fid=%F&T=%T&a=%A&b=%b`;
    const r = await sendsms('447700900108', 3, tmpl);
    assert.equal(r.status, 202, r.text);
    const id = await idOf('447700900108');
    const pdu = await receipt('447700900108', 'DELIVRD');
    const got = await waitFor(() => rx.requests[0], 10000, 'the Kannel DLR');
    assert.equal(got.method, 'GET');
    assert.equal(got.body, '');
    const u = new URL(got.url, 'http://x');
    assert.equal(u.pathname, '/kdlr');
    assert.equal(u.searchParams.get('type'), '1');
    assert.equal(u.searchParams.get('id'), id);
    assert.equal(u.searchParams.get('to'), '447700900108');
    assert.equal(u.searchParams.get('from'), '4930123');
    assert.equal(u.searchParams.get('smsc'), 'smsc1');
    assert.equal(u.searchParams.get('fid'), pdu.smsc_message_id);
    assert.ok(Math.abs(Number(u.searchParams.get('T')) * 1000 - Date.now()) < 60000);
    assert.match(u.searchParams.get('a'), new RegExp(`^id:${id} sub:001 dlvrd:001 .* stat:DELIVRD err:000 text:kannel dlr$`));
    assert.equal(u.searchParams.get('b'), '', 'an escape junction has no value for is empty');

    // dlr-mask 2 (failures only): a delivered message owes no callback
    const r2 = await sendsms('447700900109', 2, tmpl);
    assert.equal(r2.status, 202, r2.text);
    const id2 = await idOf('447700900109');
    await receipt('447700900109', 'DELIVRD');
    await waitFor(async () => (await j.mi('messages.get', { id: id2 })).status === 'delivered', 10000, 'delivered');
    // the report would have been inserted in the same transaction as the change
    assert.equal((await j.mi('messages.list', { connector: 'http:callback', limit: 100 }))
      .filter((x) => x.envelope?.report?.of === id2).length, 0, 'no callback made');

    const bad = await sendsms('447700900110', 3, 'ftp://127.0.0.1/x');
    assert.equal(bad.status, 400);
    assert.equal(bad.text, 'Invalid dlr-url');
  } finally { await stopReceiver(rx); }
});

test('a callback_url no client can give (set by a rule) fails its report, and junction goes on', async () => {
  await j.mi('routes.add', { name: 'cb-rule', priority: 5, filters: { dst: { exact: ['447700900111'] } },
    action: { route: { targets: ['smsc1'] }, set: { tags: { callback_url: 'http://[zz]/' } } } });
  try {
    const r = await send({ to: '447700900111', from: '4930123', text: 'rule cb', receipt: true });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.accepted[0].id;
    assert.equal((await j.mi('messages.get', { id })).envelope.tags.callback_url, 'http://[zz]/');
    await receipt('447700900111', 'DELIVRD');
    const rep = await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'failed', limit: 50 }))
      .find((x) => x.envelope?.report?.of === id), 10000, 'the callback failed');
    assert.match(rep.reason_text ?? rep.reason ?? '', /not an http/);
    assert.ok((await j.mi('system.version')).version, 'junction is alive');
  } finally {
    const rules = await j.mi('routes.list');
    const mine = (rules.rules ?? rules).find((x) => x.name === 'cb-rule');
    if (mine) await j.mi('routes.delete', { id: mine.id });
  }
});

test('a receiver that does not answer within http.timeout_ms is retried, then gets it once', async () => {
  const port = await freePort();
  const held = [];
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      requests.push(body);
      if (requests.length === 1) return held.push(res); // no answer: junction's timeout ends it
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    const r = await send({ to: '447700900112', from: '4930123', text: 'cb slow', callback_url: `http://127.0.0.1:${port}/slow` });
    const id = r.body.accepted[0].id;
    await receipt('447700900112', 'DELIVRD');
    await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'delivered', limit: 50 }))
      .some((x) => x.envelope?.report?.of === id), 15000, 'delivered after the timeout');
    assert.equal(requests.length, 2, 'the held one, then the answered one');
    assert.equal(requests[0], requests[1]);
    const log = j.log.split('\n').filter((l) => l.includes(id) || l.includes('timeout'));
    assert.ok(j.log.includes(': 0 timeout; retried later'), `the timeout is the retry's reason: ${log.slice(-5).join('\n')}`);
  } finally {
    for (const res of held) res.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a message a rule routes to http:callback is no callback: it fails, nothing is sent', async () => {
  const rx = await startReceiver(await freePort());
  await j.mi('routes.add', { name: 'to-http', priority: 4, dst_prefix: '447700900113', target: 'http:callback' });
  try {
    const r = await send({ to: '447700900113', from: '4930123', text: 'not a report', callback_url: `http://127.0.0.1:${rx.port}/x` });
    const id = r.body.accepted[0].id;
    const m = await waitFor(async () => { const x = await j.mi('messages.get', { id }); return x.status === 'failed' && x; }, 10000, 'failed');
    assert.match(m.reason_text ?? '', /not a callback/);
    // its own failure is final: its callback (a report) is what reaches the receiver
    const got = await waitFor(() => rx.requests[0], 10000, 'the callback of its failure');
    assert.equal(JSON.parse(got.body).state, 'failed');
    await waitFor(async () => (await j.mi('messages.list', { connector: 'http:callback', status: 'delivered', limit: 50 }))
      .some((x) => x.envelope?.report?.of === id), 10000, 'the callback delivered in the store');
    assert.equal(rx.requests.length, 1, 'the message itself was never sent');
  } finally {
    const rules = await j.mi('routes.list');
    const mine = (rules.rules ?? rules).find((x) => x.name === 'to-http');
    if (mine) await j.mi('routes.delete', { id: mine.id });
    await stopReceiver(rx);
  }
});
