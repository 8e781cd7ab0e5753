// Response steering (adapters/sip/sip_steer.c): with two workers, the
// responses to proxied requests reach the worker that owns their client
// transaction straight from the kernel (the SO_REUSEPORT program reads
// our branch), so none is copied and queued to its owner.  Callers on
// sixteen source ports spread the requests over both workers (the hash);
// the one callee answers all of them from one address.  The test reads
// what each caller got, the per-worker receive counts (MI sip.workers)
// and the hand-off counter (stats.get sip.proxy_handoffs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor } from './lib/junction.mjs';

const CALLERS = 16;
const PER_CALLER = 4;
let j;

before(async () => {
  j = await startJunction({ params: { 'sip.workers': 2, 'sip.record_route': 'no' } });
});

after(async () => {
  await j?.cleanup();
});

async function udp(host) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, host, resolve));
  const s = { sock, port: sock.address().port, msgs: [] };
  sock.on('message', (m, rinfo) => s.msgs.push({ text: m.toString('utf8'), rinfo }));
  s.send = (text, port, to = '127.0.0.1') => new Promise((resolve, reject) =>
    sock.send(text, port, to, (e) => (e ? reject(e) : resolve())));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  return s;
}

// The callee answers every request 200, its Vias copied (RFC 3261 8.2.6).
function answer(callee) {
  callee.sock.on('message', (m, rinfo) => {
    const req = m.toString('utf8');
    const head = req.split('\r\n\r\n')[0].split('\r\n');
    const keep = head.filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
    const resp = ['SIP/2.0 200 OK', ...keep.map((l) => (/^to:/i.test(l) && !/tag=/.test(l) ? `${l};tag=callee` : l)),
      'Content-Length: 0', '', ''].join('\r\n');
    callee.sock.send(resp, rinfo.port, rinfo.address);
  });
}

test('responses reach the owning worker: requests on both workers, no hand-off', async () => {
  const callee = await udp('127.0.0.2');
  answer(callee);
  const callers = [];
  for (let i = 0; i < CALLERS; i++) callers.push(await udp('127.0.0.1'));
  const before = (await j.mi('sip.workers')).workers.map((w) => w.rx);
  const h0 = (await j.mi('stats.get')).counters['sip.proxy_handoffs'] ?? 0;
  let n = 0;
  for (const c of callers) {
    for (let k = 0; k < PER_CALLER; k++) {
      const branch = `z9hG4bK-steer${++n}`;
      await c.send([
        `MESSAGE sip:bob@127.0.0.2:${callee.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:alice@127.0.0.1>;tag=s${n}`,
        `To: <sip:bob@127.0.0.2>`,
        `Call-ID: steer-${n}`,
        `CSeq: 1 MESSAGE`,
        'Content-Type: text/plain',
        'Content-Length: 2', '', 'hi'].join('\r\n'), j.ports.sip);
    }
  }
  await waitFor(() => callers.every((c) => c.msgs.filter((m) => m.text.startsWith('SIP/2.0 200 ')).length === PER_CALLER),
    10000, 'every caller has its 200s');
  const after = (await j.mi('sip.workers')).workers.map((w) => w.rx);
  const grew = after.map((x, i) => x - (before[i] ?? 0));
  // each worker read requests (the hash spread the callers) ...
  assert.equal(grew.length, 2, JSON.stringify(after));
  assert.ok(grew.every((g) => g > 0), `per-worker reads ${JSON.stringify(grew)}`);
  // ... and every response went to its owner: none was handed off
  const h1 = (await j.mi('stats.get')).counters['sip.proxy_handoffs'] ?? 0;
  assert.equal(h1 - h0, 0, `${h1 - h0} responses handed off between workers`);
  assert.equal(grew.reduce((a, b) => a + b, 0), 2 * CALLERS * PER_CALLER);
  for (const c of callers) await c.close();
  await callee.close();
});

// The worker the steering program's hash picks for 127.0.0.1:port among n
// (sip_steer.c: (addr ^ port) * 2^32/phi, the high 16 bits, modulo n).
function hashSlot(port, n) {
  const a = (0x7f000001 ^ port) >>> 0;
  return ((Math.imul(a, 0x9E3779B1) >>> 0) >>> 16) % n;
}

test('a retransmission after the pool grew reaches the worker that holds its transaction: one forward, one branch', async () => {
  const k = await startJunction({ params: {
    'sip.workers': 1, 'sip.workers_min': 1, 'sip.workers_max': 2, 'sip.record_route': 'no',
    // no growth by load; the bounds move it
    'sip.scale_up_pct': 100, 'sip.scale_down_pct': 0, 'sip.scale_cycle_ms': 200 } });
  const callee = await udp('127.0.0.2'); // never answers: the caller retransmits
  let caller = null;
  const spare = [];
  try {
    // a caller the grown pool steers to worker 1 (the one pool has only worker 0)
    for (let i = 0; i < 64 && !caller; i++) {
      const s = await udp('127.0.0.1');
      if (hashSlot(s.port, 2) === 1) caller = s;
      else spare.push(s);
    }
    assert.ok(caller, 'no source port hashed to worker 1 in 64 tries');
    const msg = [
      `MESSAGE sip:bob@127.0.0.2:${callee.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-resize1;rport`,
      'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=rs1',
      'To: <sip:bob@127.0.0.2>',
      'Call-ID: steer-resize-1',
      'CSeq: 1 MESSAGE',
      'Content-Type: text/plain',
      'Content-Length: 2', '', 'hi'].join('\r\n');
    const branches = () => [...new Set(callee.msgs.filter((m) => m.text.startsWith('MESSAGE '))
      .map((m) => /branch=([^;\r\n]+)/.exec(m.text)[1]))];
    await caller.send(msg, k.ports.sip);
    await waitFor(() => branches().length === 1, 8000, 'the first forward at the callee');
    await k.mi('params.set', { name: 'sip.workers_min', value: '2' });
    await waitFor(async () => (await k.mi('sip.workers')).active === 2, 10000, 'the pool at two workers');
    const h0 = (await k.mi('stats.get')).counters['sip.proxy_request_handoffs'] ?? 0;
    await caller.send(msg, k.ports.sip); // the caller's retransmission, now read by worker 1
    await waitFor(async () => ((await k.mi('stats.get')).counters['sip.proxy_request_handoffs'] ?? 0) > h0,
      8000, 'the retransmission handed to worker 0');
    // worker 0 absorbed it: still one transaction, nothing forwarded under a new branch
    const st = await k.mi('sip.transactions.stats');
    assert.equal(st.nist.total, 1, JSON.stringify(st));
    await callee.send(['SIP/2.0 200 OK', ...callee.msgs[0].text.split('\r\n\r\n')[0].split('\r\n')
      .filter((l) => /^(via|from|call-id|cseq):/i.test(l)), 'To: <sip:bob@127.0.0.2>;tag=b1',
    'Content-Length: 0', '', ''].join('\r\n'), callee.msgs[0].rinfo.port, callee.msgs[0].rinfo.address);
    await waitFor(() => caller.msgs.some((m) => m.text.startsWith('SIP/2.0 200 ')), 8000, 'the 200 at the caller');
    assert.deepEqual(branches().length, 1, `branches at the callee: ${branches().join(', ')}`);
    assert.equal(caller.msgs.filter((m) => m.text.startsWith('SIP/2.0 200 ')).length, 1);
  } finally {
    for (const s of spare) await s.close();
    await caller?.close();
    await callee.close();
    await k.cleanup();
  }
});
