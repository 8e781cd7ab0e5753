// The registrar (RFC 3261 section 10.3, RFC 3327): REGISTER adds,
// refreshes, queries and removes bindings of an address of record; several
// contacts with their q, "*" removal, 423 with Min-Expires, the CSeq order
// of one Call-ID, the most contacts per address of record, Path kept and
// echoed, the source of a phone behind a NAT remembered; the 200 comes
// only after the change is stored and a restart keeps every binding; each
// change is the event sip.registration (docs/events.md), checked against
// docs/events.schema.json; sip.registrations.list / delete in the MI.
// One SIPp scenario registers like a phone; the rest are exact requests
// from a node UDP socket on loopback, so each answer can be read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';
import { runSipp } from './lib/sipp.mjs';
import { validate } from './lib/jsonschema.mjs';

const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));
let j, mq, events, sock, port;
const answers = [];

before(async () => {
  mq = await startRabbit();
  j = await startJunction({ params: { 'sip.domains': 'example.com, 127.0.0.1', 'sip.min_expires': 30,
    'sip.max_contacts': 3 } });
  await j.mi('connectors.add', { name: 'events', type: 'amqp', conf: { port: mq.port, exchange: 'junction.events' } });
  await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'events')?.status?.state === 'connected',
    15000, 'amqp connected');
  events = await consume(mq.url, 'junction.events', 'sip.#');
  sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  port = sock.address().port;
  sock.on('message', (m) => answers.push(m.toString('utf8')));
});

after(async () => {
  sock?.close();
  await events?.close();
  await j?.cleanup();
  await mq?.stop();
});

let seq = 0;
// Send a REGISTER (o: aor user, contacts [header values], expires header,
// callId, cseq, extra header lines, domain) and wait for its answer.
async function register(o = {}) {
  const branch = `z9hG4bK-reg${++seq}`;
  const domain = o.domain || 'example.com';
  const lines = [
    `REGISTER sip:${domain} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${o.user || 'alice'}@${domain}>;tag=f${seq}`,
    `To: <sip:${o.user || 'alice'}@${domain}>`,
    `Call-ID: ${o.callId || 'reg-call-1'}`,
    `CSeq: ${o.cseq ?? seq} REGISTER`,
    ...(o.contacts || []).map((c) => `Contact: ${c}`),
    ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
    ...(o.extra || []),
    'Content-Length: 0', '', '',
  ];
  const n = answers.length;
  sock.send(lines.join('\r\n'), j.ports.sip, '127.0.0.1');
  await waitFor(() => answers.slice(n).find((a) => a.includes(branch)), 5000, `answer to ${branch}`);
  return answers.slice(n).find((a) => a.includes(branch));
}
const status = (a) => Number(a.split(' ')[1]);
const contacts = (a) => a.split('\r\n').filter((l) => l.startsWith('Contact:')).map((l) => l.slice(9).trim());
const bindings = async (aor) => (await j.mi('sip.registrations.list', { aor }))[0]?.bindings || [];

test('a REGISTER adds bindings with their q; the 200 lists each with its expires; a query lists them; the source is kept', async () => {
  const a = await register({ contacts: ['<sip:alice@10.0.0.1:5060>;q=0.5', '<sip:alice@10.0.0.2:5070>;expires=120;q=1.0'], expires: 600 });
  assert.equal(status(a), 200, a);
  assert.deepEqual(contacts(a).sort(), ['<sip:alice@10.0.0.1:5060>;expires=600;q=0.500',
    '<sip:alice@10.0.0.2:5070>;expires=120;q=1.000'].sort());
  assert.match(a, /\r\nDate: \w{3}, \d\d \w{3} \d{4} /);
  const b = await bindings('sip:alice@example.com');
  assert.equal(b.length, 2);
  assert.ok(b.every((x) => x.source === `udp:127.0.0.1:${port}`), JSON.stringify(b));
  const q = await register({});
  assert.equal(status(q), 200);
  assert.equal(contacts(q).length, 2, 'a query lists the bindings');
});

test('too short an expiry is 423 with Min-Expires; a longer one is lowered to sip.max_expires', async () => {
  const a = await register({ user: 'bob', contacts: ['<sip:bob@10.0.0.3>'], expires: 10 });
  assert.equal(status(a), 423, a);
  assert.match(a, /\r\nMin-Expires: 30\r\n/);
  const b = await register({ user: 'bob', callId: 'bob-1', contacts: ['<sip:bob@10.0.0.3>'], expires: 9999999 });
  assert.equal(status(b), 200, b);
  assert.match(contacts(b)[0], /;expires=86400$/);
});

test('the same Call-ID with a CSeq not above the binding\'s is refused and changes nothing', async () => {
  const a = await register({ user: 'carol', callId: 'carol-1', cseq: 10, contacts: ['<sip:carol@10.0.0.4>'], expires: 300 });
  assert.equal(status(a), 200);
  const b = await register({ user: 'carol', callId: 'carol-1', cseq: 10, contacts: ['<sip:carol@10.0.0.4>'], expires: 0 });
  assert.equal(status(b), 500, b);
  assert.equal((await bindings('sip:carol@example.com')).length, 1, 'still registered');
  const c = await register({ user: 'carol', callId: 'carol-1', cseq: 11, contacts: ['<sip:carol@10.0.0.4>'], expires: 0 });
  assert.equal(status(c), 200, c);
  assert.equal(contacts(c).length, 0);
  assert.equal((await bindings('sip:carol@example.com')).length, 0, 'removed by expires 0');
});

test('"*" with Expires: 0 removes every binding; "*" without it is 400; more than sip.max_contacts is 403', async () => {
  const a = await register({ user: 'dave', callId: 'dave-1', contacts: ['<sip:d@10.0.0.5>', '<sip:d@10.0.0.6>', '<sip:d@10.0.0.7>'], expires: 300 });
  assert.equal(status(a), 200, a);
  const full = await register({ user: 'dave', callId: 'dave-2', contacts: ['<sip:d@10.0.0.8>'], expires: 300 });
  assert.equal(status(full), 403, full);
  assert.equal(status(await register({ user: 'dave', callId: 'dave-3', contacts: ['*'], expires: 300 })), 400);
  const star = await register({ user: 'dave', callId: 'dave-4', contacts: ['*'], expires: 0 });
  assert.equal(status(star), 200, star);
  assert.equal((await bindings('sip:dave@example.com')).length, 0);
});

test('another domain is 403, an unknown Require is 420 with Unsupported, Path is kept and echoed to a UA that supports it', async () => {
  assert.equal(status(await register({ domain: 'elsewhere.org', contacts: ['<sip:x@10.0.0.9>'] })), 403);
  const r = await register({ user: 'erin', contacts: ['<sip:erin@10.0.0.9>'], extra: ['Require: foo'] });
  assert.equal(status(r), 420);
  assert.match(r, /\r\nUnsupported: foo\r\n/);
  const p = await register({ user: 'erin', callId: 'erin-1', contacts: ['<sip:erin@10.0.0.9>'], expires: 300,
    extra: ['Supported: path', 'Path: <sip:edge.example.com;lr>'] });
  assert.equal(status(p), 200, p);
  assert.match(p, /\r\nPath: <sip:edge\.example\.com;lr>\r\n/);
  assert.equal((await bindings('sip:erin@example.com'))[0].path, '<sip:edge.example.com;lr>');
});

test('every change is a sip.registration event that matches the schema', async () => {
  await waitFor(() => events.messages.some((m) => m.json.data?.aor === 'sip:dave@example.com' &&
    m.json.data.bindings.length === 0), 10000, 'dave removed');
  const mine = events.messages.filter((m) => m.routingKey === 'sip.registration');
  assert.ok(mine.length >= 6, `events: ${mine.length}`);
  for (const m of mine) assert.deepEqual(validate(SCHEMA, m.json), [], JSON.stringify(m.json));
  const alice = mine.find((m) => m.json.data.aor === 'sip:alice@example.com');
  assert.deepEqual(alice.json.data.changes.map((c) => c.change), ['added', 'added']);
  const removed = mine.find((m) => m.json.data.aor === 'sip:carol@example.com' && m.json.data.bindings.length === 0);
  assert.deepEqual(removed.json.data.changes, [{ contact: 'sip:carol@10.0.0.4', change: 'removed' }]);
});

test('a SIPp phone registers and unregisters', async () => {
  const h = await runSipp({ scenario: 'uac_register.xml', dir: j.dir, name: 'register',
    localPort: await freePort(), target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: 'phone' });
  assert.equal(h.exited.code, 0, h.explain());
  await waitFor(() => events.messages.some((m) => m.json.data?.aor === 'sip:phone@127.0.0.1' &&
    m.json.data.changes.some((c) => c.change === 'removed')), 10000, 'the phone\'s unregister');
  assert.equal((await bindings('sip:phone@127.0.0.1')).length, 0);
});

test('sip.registrations.delete removes one binding; a restart keeps every binding; an expired one goes by itself', async () => {
  await register({ user: 'frank', callId: 'frank-1', contacts: ['<sip:f@10.0.1.1>', '<sip:f@10.0.1.2>'], expires: 300 });
  const del = await j.mi('sip.registrations.delete', { aor: 'sip:frank@example.com', contact: 'sip:f@10.0.1.1' });
  assert.equal(del.deleted, 'sip:frank@example.com');
  assert.deepEqual((await bindings('sip:frank@example.com')).map((b) => b.contact), ['sip:f@10.0.1.2']);
  await assert.rejects(j.mi('sip.registrations.delete', { aor: 'sip:nobody@example.com' }), /no such binding/);
  await j.mi('params.set', { name: 'sip.min_expires', value: '1' });
  await register({ user: 'gina', callId: 'gina-1', contacts: ['<sip:g@10.0.1.3>'], expires: 2 });
  const before = (await j.mi('sip.registrations.list', {})).map((a) => a.aor).sort();
  await j.stop();
  j.start();
  await j.ready();
  const afterList = await j.mi('sip.registrations.list', {});
  assert.deepEqual(afterList.map((a) => a.aor).sort().filter((a) => a !== 'sip:gina@example.com'),
    before.filter((a) => a !== 'sip:gina@example.com'), 'the same addresses of record after a restart');
  assert.deepEqual((await bindings('sip:frank@example.com')).map((b) => b.contact), ['sip:f@10.0.1.2']);
  await waitFor(async () => !(await j.mi('sip.registrations.list', {})).some((a) => a.aor === 'sip:gina@example.com'),
    10000, 'gina expired and swept');
  assert.ok((await j.mi('stats.get')).counters['sip.registrar_expired'] >= 1);
});
