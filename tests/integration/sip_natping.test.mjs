// NAT handling (adapters/sip/sip_natping.c, docs/sip-proxy.md "NAT"):
// a binding whose Contact differs from where its REGISTER came from is
// flagged nat and reached at that source; OPTIONS pings (sip.nat_ping_*)
// go to NATed bindings' sources, an answer sets last_ping_ok, unanswered
// ones remove the binding after sip.nat_ping_fails (stored, the event
// sip.registration with why "unreachable"); a UDP CRLF keep-alive is
// ignored, unanswered.  Every phone is a node UDP socket on loopback, so
// what it received can be read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';
import { validate } from './lib/jsonschema.mjs';

const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));
let j, mq, events;
const phones = [];

// A UDP phone: every datagram it gets is kept; answer(fn) replies to
// requests (fn(text) -> response text or null).
async function phone() {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  const p = { s, port: s.address().port, got: [], answer: null };
  s.on('message', (m, r) => {
    const t = m.toString('latin1');
    p.got.push(t);
    const reply = p.answer && !t.startsWith('SIP/2.0') ? p.answer(t) : null;
    if (reply) s.send(reply, r.port, r.address);
  });
  phones.push(p);
  return p;
}
const hdr = (t, name) => (t.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)) || '')
  .slice(name.length + 1).trim();
// A 200 to request t: its Via, From, To (tagged), Call-ID and CSeq.
const ok200 = (t) => ['SIP/2.0 200 OK', ...t.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq):/i.test(l))
  .map((l) => (/^to:/i.test(l) ? `${l};tag=ph` : l)), 'Content-Length: 0', '', ''].join('\r\n');

let seq = 0;
async function register(p, user, contact, expires = 600) {
  const branch = `z9hG4bK-nat${++seq}`;
  const n = p.got.length;
  p.s.send([
    'REGISTER sip:example.com SIP/2.0',
    `Via: SIP/2.0/UDP ${contact.replace(/^.*@/, '').replace(/>.*$/, '')};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@example.com>;tag=r${seq}`,
    `To: <sip:${user}@example.com>`,
    `Call-ID: nat-${user}`,
    `CSeq: ${seq} REGISTER`,
    `Contact: <${contact}>`,
    `Expires: ${expires}`,
    'Content-Length: 0', '', ''].join('\r\n'), j.ports.sip, '127.0.0.1');
  await waitFor(() => p.got.slice(n).find((a) => a.includes(branch)), 5000, `answer to ${branch}`);
  const a = p.got.slice(n).find((x) => x.includes(branch));
  assert.match(a, /^SIP\/2\.0 200 /, a);
  return a;
}
const bindings = async (aor) => (await j.mi('sip.registrations.list', { aor }))[0]?.bindings || [];
const counters = async () => (await j.mi('stats.get')).counters;
const pings = (p) => p.got.filter((t) => t.startsWith('OPTIONS ') && t.includes('branch=z9hG4bK-jo'));

// The events need a broker: without rabbitmq-server on the machine the
// event checks are skipped (said in the test's diagnostics), the rest run.
let noBroker = null;
before(async () => {
  try { mq = await startRabbit(); } catch (e) { noBroker = e.message; }
  j = await startJunction({ params: { 'sip.domains': 'example.com' } });
  if (mq) {
    await j.mi('connectors.add', { name: 'events', type: 'amqp', conf: { port: mq.port, exchange: 'junction.events' } });
    await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'events')?.status?.state === 'connected',
      15000, 'amqp connected');
    events = await consume(mq.url, 'junction.events', 'sip.#');
  }
});

after(async () => {
  for (const p of phones) p.s.close();
  await events?.close();
  await j?.cleanup();
  await mq?.stop();
});

test('a phone behind a NAT (private Contact) is flagged nat and a request for it reaches its source', async () => {
  const bob = await phone();
  bob.answer = ok200;
  await register(bob, 'bob', 'sip:bob@192.168.1.20:5062');
  const [b] = await bindings('sip:bob@example.com');
  assert.equal(b.nat, true);
  assert.equal(b.source, `udp:127.0.0.1:${bob.port}`);
  assert.equal(b.last_ping_ok, null);
  // a binding whose Contact is where it registered from is not NATed
  const carol = await phone();
  await register(carol, 'carol', `sip:carol@127.0.0.1:${carol.port}`);
  assert.equal((await bindings('sip:carol@example.com'))[0].nat, false);

  const caller = await phone();
  const n = bob.got.length;
  caller.s.send(['OPTIONS sip:bob@example.com SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-natcall1;rport`,
    'Max-Forwards: 70', 'From: <sip:caller@example.com>;tag=c1', 'To: <sip:bob@example.com>',
    'Call-ID: nat-call-1', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'), j.ports.sip, '127.0.0.1');
  await waitFor(() => caller.got.find((t) => t.startsWith('SIP/2.0 200') && t.includes('z9hG4bK-natcall1')), 5000,
    'the 200 back through the proxy');
  const req = bob.got.slice(n).find((t) => t.startsWith('OPTIONS '));
  assert.ok(req, 'bob got the OPTIONS at its NAT source');
  assert.match(req, /^OPTIONS sip:bob@192\.168\.1\.20:5062 SIP\/2\.0\r\n/);
  assert.equal(hdr(req, 'Call-ID'), 'nat-call-1');
});

test('OPTIONS pings go to the source of NATed bindings only; an answer sets last_ping_ok', async () => {
  const erin = await phone();
  erin.answer = ok200;
  await register(erin, 'erin', 'sip:erin@10.1.2.3:5060');
  const frank = await phone(); // not NATed: never pinged while nat_ping_all is off
  await register(frank, 'frank', `sip:frank@127.0.0.1:${frank.port}`);
  const { id } = await j.mi('trace.start', { peer: `127.0.0.1:${erin.port}` });
  await j.mi('params.set', { name: 'sip.nat_ping_interval_s', value: '1' });
  try {
    await waitFor(() => pings(erin).length >= 2, 10000, 'two pings to erin');
    const ping = pings(erin)[0];
    assert.match(ping, /^OPTIONS sip:erin@10\.1\.2\.3:5060 SIP\/2\.0\r\n/);
    assert.equal(hdr(ping, 'To'), '<sip:erin@example.com>');
    assert.match(hdr(ping, 'Via'), /^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK-jo[0-9a-f]{16};rport$/);
    assert.equal(hdr(ping, 'CSeq'), '1 OPTIONS');
    await waitFor(async () => (await bindings('sip:erin@example.com'))[0]?.last_ping_ok > 0, 5000, 'last_ping_ok');
    // each ping and its answer are on the trace bus beside the packets
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((r) => r.summary);
    await j.mi('trace.stop', { id });
    assert.ok(recs.some((r) => /^OPTIONS ping sip:erin@example\.com sip:erin@10\.1\.2\.3:5060 \(nat, 0 unanswered before\)$/.test(r)),
      JSON.stringify(recs));
    assert.ok(recs.some((r) => r === 'OPTIONS ping sip:erin@example.com answered 200'), JSON.stringify(recs));
    const c = await counters();
    assert.ok(c['sip.nat_pings_sent'] >= 2, JSON.stringify(c));
    assert.ok(c['sip.nat_pings_ok'] >= 1, JSON.stringify(c));
    assert.equal(pings(frank).length, 0, 'frank is not NATed');
    // with sip.nat_ping_all every UDP binding is pinged
    await j.mi('params.set', { name: 'sip.nat_ping_all', value: 'yes' });
    await waitFor(() => pings(frank).length >= 1, 10000, 'a ping to frank');
    assert.match(pings(frank)[0], new RegExp(`^OPTIONS sip:frank@127\\.0\\.0\\.1:${frank.port} SIP/2\\.0\\r\\n`));
  } finally {
    await j.mi('params.set', { name: 'sip.nat_ping_all', value: 'no' });
    await j.mi('params.set', { name: 'sip.nat_ping_interval_s', value: '0' });
  }
});

test('a NATed binding whose pings go unanswered sip.nat_ping_fails times is removed, published as unreachable', async (t) => {
  const gina = await phone(); // never answers
  await register(gina, 'gina', 'sip:gina@100.64.0.9:5060');
  const before = (await counters())['sip.nat_pings_failed'] || 0;
  const { id } = await j.mi('trace.start', { peer: `127.0.0.1:${gina.port}` });
  await j.mi('params.set', { name: 'sip.nat_ping_fails', value: '2' });
  await j.mi('params.set', { name: 'sip.nat_ping_interval_s', value: '1' });
  try {
    await waitFor(async () => (await bindings('sip:gina@example.com')).length === 0, 15000, 'gina removed');
    assert.ok(pings(gina).length >= 2, `pings: ${pings(gina).length}`);
    assert.ok((await counters())['sip.nat_pings_failed'] - before >= 2);
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((r) => r.summary);
    await j.mi('trace.stop', { id });
    assert.ok(recs.some((r) => r === 'OPTIONS ping sip:gina@example.com sip:gina@100.64.0.9:5060 unanswered (1 in a row)'),
      JSON.stringify(recs));
    assert.ok(recs.some((r) => r === 'OPTIONS ping sip:gina@example.com sip:gina@100.64.0.9:5060 unanswered (2 in a row: binding removed)'),
      JSON.stringify(recs));
    if (!events) { t.diagnostic(`event not checked: ${noBroker}`); return; }
    await waitFor(() => events.messages.some((m) => m.json.data?.aor === 'sip:gina@example.com' &&
      m.json.data.why === 'unreachable'), 10000, 'the unreachable event');
    const ev = events.messages.find((m) => m.json.data?.aor === 'sip:gina@example.com' && m.json.data.why === 'unreachable');
    assert.deepEqual(ev.json.data.changes, [{ contact: 'sip:gina@100.64.0.9:5060', change: 'unreachable' }]);
    assert.deepEqual(ev.json.data.bindings, []);
    for (const m of events.messages.filter((x) => x.routingKey === 'sip.registration'))
      assert.deepEqual(validate(SCHEMA, m.json), [], JSON.stringify(m.json));
  } finally {
    await j.mi('params.set', { name: 'sip.nat_ping_interval_s', value: '0' });
    await j.mi('params.set', { name: 'sip.nat_ping_fails', value: '0' });
  }
});

test('a UDP CRLF keep-alive is ignored: no answer, counted in sip.keepalives, not in sip.drops', async () => {
  const p = await phone();
  const c0 = await counters();
  p.s.send('\r\n\r\n', j.ports.sip, '127.0.0.1');
  p.s.send('\r\n', j.ports.sip, '127.0.0.1');
  await waitFor(async () => (await counters())['sip.keepalives'] - (c0['sip.keepalives'] || 0) >= 2, 5000, 'keep-alives counted');
  // an OPTIONS after them is answered, and it is the first thing p got
  p.s.send(['OPTIONS sip:127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bK-ka1`,
    'Max-Forwards: 70', 'From: <sip:p@example.com>;tag=k', 'To: <sip:127.0.0.1>', 'Call-ID: ka-1',
    'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'), j.ports.sip, '127.0.0.1');
  await waitFor(() => p.got.length >= 1, 5000, 'the OPTIONS answer');
  assert.match(p.got[0], /^SIP\/2\.0 200 OK\r\n/);
  assert.equal((await counters())['sip.drops'] || 0, c0['sip.drops'] || 0);
});
