// RFC 3263 server location for the SIP proxy (adapters/sip/sip_dns.c,
// sip_proxy_dns.c, docs/sip-proxy.md): junction asks the test's own DNS
// server (lib/dns.mjs, on 127.0.0.1) through sip.dns_servers; callers and
// callees are node UDP sockets on 127.0.0.1, so each test reads exactly
// what the callee received and what the caller got back, and the DNS
// server's log says which queries junction sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startDns } from './lib/dns.mjs';

let j;
let dns;
// callee ports, known before the zone is served
const port = {};

before(async () => {
  for (const k of ['bob', 'fail1', 'fail2', 'mute1', 'mute2', 'cache', 'bcast', 'edge']) port[k] = await freePort();
  dns = await startDns({
    // NAPTR: SIPS+D2T comes first by order and finds no SRV records;
    // then SIP+D2U before SIP+D2T by preference
    'example.test': { NAPTR: [
      { order: 10, pref: 20, flags: 's', service: 'SIP+D2T', replacement: '_sip._tcp.example.test' },
      { order: 5, pref: 10, flags: 's', service: 'SIPS+D2T', replacement: '_sips._tcp.example.test' },
      { order: 10, pref: 10, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.example.test' }] },
    '_sip._udp.example.test': { SRV: [{ prio: 10, weight: 1, port: port.bob, target: 'bob-host.example.test' }] },
    '_sip._tcp.example.test': { SRV: [{ prio: 10, weight: 1, port: 5999, target: 'bob-host.example.test' }] },
    'bob-host.example.test': { A: ['127.0.0.1'] },
    // no NAPTR: SRV of _sip._udp, two priorities
    'fail.test': {},
    '_sip._udp.fail.test': { SRV: [
      { prio: 20, weight: 1, port: port.fail2, target: 'h2.fail.test' },
      { prio: 10, weight: 1, port: port.fail1, target: 'h1.fail.test' }] },
    'h1.fail.test': { A: ['127.0.0.1'] },
    'h2.fail.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
    'mute.test': {},
    '_sip._udp.mute.test': { SRV: [
      { prio: 10, weight: 1, port: port.mute1, target: 'h.mute.test' },
      { prio: 20, weight: 1, port: port.mute2, target: 'h.mute.test' }] },
    'h.mute.test': { A: ['127.0.0.1'] },
    // the first target is the broadcast address: sendto refuses it (EACCES)
    'bcast.test': {},
    '_sip._udp.bcast.test': { SRV: [
      { prio: 10, weight: 1, port: 5060, target: 'b.bcast.test' },
      { prio: 20, weight: 1, port: port.bcast, target: 'h.bcast.test' }] },
    'b.bcast.test': { A: ['255.255.255.255'] },
    'h.bcast.test': { A: ['127.0.0.1'] },
    'edge.test': { A: ['127.0.0.1'] },
    // a short TTL (sip.dns_ttl_min_s is 1 here)
    'cache.test': { ttl: 2 },
    '_sip._udp.cache.test': { ttl: 2, SRV: [{ prio: 1, weight: 1, port: port.cache, target: 'h.cache.test' }] },
    'h.cache.test': { ttl: 2, A: ['127.0.0.1'] },
  }, { negTtl: 2 });
  j = await startJunction({ params: { 'sip.workers': 2, 'sip.domains': 'local.test',
    'sip.dns_servers': dns.server, 'sip.dns_timeout_ms': 500, 'sip.dns_tries': 1, 'sip.dns_ttl_min_s': 1 } });
  await j.ready();
});

after(async () => {
  await j?.cleanup();
  await dns?.close();
});

const statusOf = (m) => Number(m.split(' ')[1]);
const headers = (m, name) => m.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const counters = async () => (await j.mi('stats.get')).counters;

// A UDP socket on 127.0.0.1 that keeps what it receives.
async function udp(p = 0) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(p, '127.0.0.1', resolve));
  const s = { port: sock.address().port, msgs: [] };
  sock.on('message', (m) => s.msgs.push(m.toString('utf8')));
  s.send = (text, p2 = j.ports.sip) => new Promise((resolve, reject) =>
    sock.send(text, p2, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  s.waitFor = (pred, what, ms = 8000) => waitFor(() => s.msgs.find(pred), ms, what);
  return s;
}

let seq = 0;
function invite(c, ruri, callId, extra = []) {
  return [
    `INVITE ${ruri} SIP/2.0`,
    ...extra,
    `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bK-dns${++seq}-${Math.random().toString(16).slice(2)};rport`,
    'Max-Forwards: 70',
    'From: <sip:alice@local.test>;tag=a1',
    `To: <${ruri}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@127.0.0.1:${c.port}>`,
    'Content-Length: 0', '', ''].join('\r\n');
}

function answer(req, code, reason) {
  const keep = req.split('\r\n').filter((l) => /^(via|from|call-id|cseq|record-route):/i.test(l));
  const to = headers(req, 'To')[0];
  return [`SIP/2.0 ${code} ${reason}`, ...keep, `${to};tag=b1`, 'Content-Length: 0', '', ''].join('\r\n');
}

// An INVITE from a to ruri; callee b (if any) answers code; resolves with the caller's final.
async function call(a, ruri, callId, b, code = 200, reason = 'OK', ms = 8000) {
  await a.send(invite(a, ruri, callId));
  if (b) {
    const inv = await b.waitFor((m) => m.startsWith('INVITE ') && m.includes(callId), `INVITE ${callId} at the callee`, ms);
    await b.send(answer(inv, code, reason));
  }
  return a.waitFor((m) => m.includes(callId) && statusOf(m) >= 200, `final ${callId}`, ms);
}

test('an INVITE for sip:bob@example.test goes NAPTR -> SRV -> A and reaches the callee on the SRV port, Request-URI kept', async () => {
  const before = await counters();
  const { id } = await j.mi('trace.start', { call_id: 'dns-naptr' });
  const a = await udp();
  const b = await udp(port.bob);
  try {
    const fin = await call(a, 'sip:bob@example.test', 'dns-naptr', b);
    assert.equal(statusOf(fin), 200, fin);
    const inv = b.msgs.find((m) => m.startsWith('INVITE '));
    assert.match(inv, /^INVITE sip:bob@example\.test SIP\/2\.0\r\n/, 'the Request-URI is kept');
    assert.equal(headers(inv, 'Via').length, 2, inv);
    assert.deepEqual(headers(inv, 'Max-Forwards'), ['Max-Forwards: 69']);
    assert.equal(dns.asked('NAPTR example.test'), 1);
    assert.equal(dns.asked('SRV _sip._udp.example.test'), 1, 'SIP+D2U is the first usable NAPTR');
    assert.equal(dns.asked('SRV _sips._tcp.example.test'), 1, 'SIPS+D2T, first by order, is tried: it has no SRV records');
    assert.equal(dns.asked('A bob-host.example.test'), 1);
    const after = await counters();
    assert.ok(after['sip.dns_queries'] - (before['sip.dns_queries'] || 0) >= 4, JSON.stringify(after));
    const metrics = await (await j.http('/metrics')).text();
    for (const m of ['sip_dns_queries', 'sip_dns_cache_hits', 'sip_dns_failures'])
      assert.match(metrics, new RegExp(`^\\w*${m}\\w* \\d+`, 'm'), `${m} in /metrics`);
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((r) => r.summary);
    assert.ok(recs.some((r) => /^proxy: INVITE sip:bob@example\.test: resolving example\.test$/.test(r)), JSON.stringify(recs));
    assert.ok(recs.some((r) => /^proxy: example\.test resolved: \d+ target\(s\)/.test(r)), JSON.stringify(recs));
  } finally {
    await j.mi('trace.stop', { id });
    await a.close();
    await b.close();
  }
});

test('a Route with a host name and a port: A/AAAA only, the request goes there with the Route and Request-URI kept', async () => {
  const a = await udp();
  const b = await udp(port.edge);
  try {
    const route = `Route: <sip:edge.test:${port.edge};lr>`;
    await a.send(invite(a, 'sip:gus@elsewhere.invalid', 'dns-route', [route]));
    const inv = await b.waitFor((m) => m.startsWith('INVITE ') && m.includes('dns-route'), 'INVITE at the Route host');
    assert.match(inv, /^INVITE sip:gus@elsewhere\.invalid SIP\/2\.0\r\n/);
    assert.deepEqual(headers(inv, 'Route'), [route], 'a Route not ours stays');
    assert.equal(dns.asked('A edge.test'), 1);
    assert.equal(dns.asked('NAPTR edge.test'), 0, 'a port given: no NAPTR');
    assert.equal(dns.asked('NAPTR elsewhere.invalid') + dns.asked('A elsewhere.invalid'), 0, 'the Request-URI is not resolved');
    await b.send(answer(inv, 200, 'OK'));
    const fin = await a.waitFor((m) => m.includes('dns-route') && statusOf(m) >= 200, 'final');
    assert.equal(statusOf(fin), 200, fin);
  } finally {
    await a.close();
    await b.close();
  }
});

test('sip.dns.resolve lists the targets in SRV priority order, IPv4 then IPv6 (AAAA parsed) of each host', async () => {
  const r = await j.mi('sip.dns.resolve', { host: 'fail.test' });
  assert.equal(r.status, 'ok');
  assert.deepEqual(r.targets.map((t) => [t.transport, t.address, t.port, t.priority]), [
    ['udp', '127.0.0.1', port.fail1, 10],
    ['udp', '127.0.0.1', port.fail2, 20],
    ['udp', '::1', port.fail2, 20]]);
  const tcp = await j.mi('sip.dns.resolve', { host: 'example.test', transport: 'tcp' });
  assert.deepEqual(tcp.targets.map((t) => [t.transport, t.port]), [['tcp', 5999]]);
  const lit = await j.mi('sip.dns.resolve', { host: '192.0.2.7' });
  assert.deepEqual(lit.targets.map((t) => [t.transport, t.address, t.port]), [['udp', '192.0.2.7', 5060]]);
  const withPort = await j.mi('sip.dns.resolve', { host: 'h1.fail.test', port: 5070 });
  assert.deepEqual(withPort.targets.map((t) => [t.address, t.port]), [['127.0.0.1', 5070]]);
  assert.equal(dns.asked('SRV _sip._udp.h1.fail.test'), 0, 'a port given: A/AAAA only');
});

test('failover: the first SRV target answers 503, the second gets the same INVITE and the caller gets its 200', async () => {
  const a = await udp();
  const b1 = await udp(port.fail1);
  const b2 = await udp(port.fail2);
  try {
    await a.send(invite(a, 'sip:carol@fail.test', 'dns-503'));
    const inv1 = await b1.waitFor((m) => m.startsWith('INVITE '), 'INVITE at the first target');
    await b1.send(answer(inv1, 503, 'Service Unavailable'));
    await b1.waitFor((m) => m.startsWith('ACK '), 'the proxy ACKs the 503');
    const inv2 = await b2.waitFor((m) => m.startsWith('INVITE '), 'INVITE at the second target');
    assert.match(inv2, /^INVITE sip:carol@fail\.test SIP\/2\.0\r\n/);
    assert.notEqual(headers(inv2, 'Via')[0], headers(inv1, 'Via')[0], 'a new branch');
    await b2.send(answer(inv2, 200, 'OK'));
    const fin = await a.waitFor((m) => m.includes('dns-503') && statusOf(m) >= 200, 'final at the caller');
    assert.equal(statusOf(fin), 200, fin);
    assert.equal(a.msgs.filter((m) => statusOf(m) === 503).length, 0, 'the caller never sees the 503');
  } finally {
    await a.close();
    await b1.close();
    await b2.close();
  }
});

test('failover: the first SRV target never answers (Timer B), the next one gets the INVITE and answers', { timeout: 90000 }, async () => {
  const a = await udp();
  const b1 = await udp(port.mute1); // listens, never answers
  const b2 = await udp(port.mute2);
  await j.mi('params.set', { name: 'sip.t1_ms', value: '150' }); // Timer B 9.6 s
  try {
    await a.send(invite(a, 'sip:dave@mute.test', 'dns-mute'));
    await b1.waitFor((m) => m.startsWith('INVITE '), 'INVITE at the silent target');
    // Timer B is 64*T1 = 9.6 s here: the retransmissions go to the first target meanwhile
    const inv2 = await b2.waitFor((m) => m.startsWith('INVITE '), 'INVITE at the next target', 60000);
    assert.ok(b1.msgs.filter((m) => m.startsWith('INVITE ')).length > 1, 'the silent target got retransmissions');
    await b2.send(answer(inv2, 200, 'OK'));
    const fin = await a.waitFor((m) => m.includes('dns-mute') && statusOf(m) >= 200, 'final at the caller');
    assert.equal(statusOf(fin), 200, fin);
  } finally {
    await j.mi('params.set', { name: 'sip.t1_ms', value: '500' });
    await a.close();
    await b1.close();
    await b2.close();
  }
});

test('failover: a target the socket refuses to send to (broadcast address) is left at once for the next', async () => {
  const { id } = await j.mi('trace.start', { call_id: 'dns-bcast' });
  const a = await udp();
  const b = await udp(port.bcast);
  try {
    const t0 = Date.now();
    const fin = await call(a, 'sip:fay@bcast.test', 'dns-bcast', b);
    assert.equal(statusOf(fin), 200, fin);
    assert.ok(Date.now() - t0 < 20000, 'well before Timer B');
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((r) => r.summary);
    assert.ok(recs.some((r) => /^proxy: branch .* to 255\.255\.255\.255:5060 /.test(r)), JSON.stringify(recs));
    assert.ok(recs.some((r) => /^proxy: branch .*: send failed, ended as 503$/.test(r)), JSON.stringify(recs));
    assert.ok(recs.some((r) => /^proxy: failover to step 1$/.test(r)), JSON.stringify(recs));
  } finally {
    await j.mi('trace.stop', { id });
    await a.close();
    await b.close();
  }
});

test('caching: a second call within the TTL sends no query; after the TTL the records are asked again', async () => {
  await j.mi('sip.dns.flush', {});
  const a = await udp();
  const b = await udp(port.cache);
  try {
    const hitsBefore = (await counters())['sip.dns_cache_hits'] || 0;
    assert.equal(statusOf(await call(a, 'sip:eve@cache.test', 'dns-c1', b)), 200);
    const n1 = dns.count;
    const t1 = Date.now();
    assert.equal(dns.asked('SRV _sip._udp.cache.test'), 1);
    assert.equal(statusOf(await call(a, 'sip:eve@cache.test', 'dns-c2', b)), 200);
    if (Date.now() - t1 < 1500) // still within the 2 s TTL (a loaded machine may be slower)
      assert.equal(dns.count, n1, `no new query: ${dns.queries.slice(n1)}`);
    assert.ok(((await counters())['sip.dns_cache_hits'] || 0) > hitsBefore, 'cache hits counted');
    // the TTL is 2 s: poll until the records are asked again, bounded
    const deadline = Date.now() + 15000;
    let k = 3;
    while (dns.asked('SRV _sip._udp.cache.test') < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(statusOf(await call(a, 'sip:eve@cache.test', `dns-c${k++}`, b)), 200);
    }
    assert.equal(dns.asked('SRV _sip._udp.cache.test'), 2, 'asked again once the TTL passed');
    assert.ok(Date.now() - t1 >= 1000, 'not before the TTL');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a name with no records is 503 Unresolvable Destination, with a trace record; one the server never answers is 503 too', async () => {
  const { id } = await j.mi('trace.start', { call_id: 'dns-none' });
  const a = await udp();
  try {
    const fin = await call(a, 'sip:x@nothing.test', 'dns-none');
    assert.equal(statusOf(fin), 503, fin);
    assert.match(fin, /^SIP\/2\.0 503 Unresolvable Destination\r\n/);
    assert.equal(dns.asked('NAPTR nothing.test'), 1);
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((r) => r.summary);
    assert.ok(recs.some((r) => /^proxy: nothing\.test: no usable DNS target \(no records\), 503$/.test(r)), JSON.stringify(recs));
    const r = await j.mi('sip.dns.resolve', { host: 'nothing.test' });
    assert.deepEqual(r, { host: 'nothing.test', status: 'no records', targets: [] });
    // a server that never answers: the lookup times out (500 ms, 1 try per query)
    dns.zone['dropped.test'] = { drop: true };
    const before = await counters();
    const t = await call(a, 'sip:x@dropped.test', 'dns-drop');
    assert.equal(statusOf(t), 503, t);
    assert.ok((await counters())['sip.dns_failures'] > (before['sip.dns_failures'] || 0), 'failures counted');
  } finally {
    await j.mi('trace.stop', { id });
    await a.close();
  }
});

test('a CANCEL while the name is being resolved is 487 at once; the late answer starts no branch', async () => {
  dns.zone['slow.test'] = { drop: true };
  const a = await udp();
  const before = await counters();
  try {
    const inv = invite(a, 'sip:x@slow.test', 'dns-cancel');
    await a.send(inv);
    await a.waitFor((m) => m.includes('dns-cancel') && statusOf(m) === 100, '100 Trying');
    const via = headers(inv, 'Via')[0];
    await a.send([`CANCEL sip:x@slow.test SIP/2.0`, via, 'Max-Forwards: 70', 'From: <sip:alice@local.test>;tag=a1',
      'To: <sip:x@slow.test>', 'Call-ID: dns-cancel', 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n'));
    const t = await a.waitFor((m) => m.includes('dns-cancel') && statusOf(m) === 487, '487');
    assert.match(t, /CSeq: 1 INVITE/);
    assert.ok(a.msgs.some((m) => statusOf(m) === 200 && m.includes('CSeq: 1 CANCEL')), 'the CANCEL got 200');
    // the lookup ends (NAPTR, A and AAAA of slow.test time out) without a branch
    await waitFor(async () => (await counters())['sip.dns_failures'] - (before['sip.dns_failures'] || 0) >= 3,
      15000, 'the lookup timed out');
    assert.equal(dns.asked('AAAA slow.test'), 1);
    assert.equal((await counters())['sip.proxy_branches'] || 0, before['sip.proxy_branches'] || 0, 'no branch started');
    assert.equal(a.msgs.filter((m) => m.includes('dns-cancel') && statusOf(m) >= 200 && m.includes('CSeq: 1 INVITE')).length >= 1, true);
  } finally {
    await a.close();
  }
});
