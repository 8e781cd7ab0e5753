// SIP trunks (docs/sip-proxy.md "Trunks", docs/connectors.md "sip_trunk"):
// a trusted caller's INVITE for a number junction has no registration for
// is routed by a rule to a sip_trunk connector, whose destinations are
// node UDP sockets acting as UAS: each answers INVITE as its mode says
// and OPTIONS probes while it is told to.  Every check reads what the far
// side received (the caller's final response, the INVITEs, ACKs and
// CANCELs at each destination, their headers), and sip.trunks.status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import { startJunction, waitFor } from './lib/junction.mjs';

let j;

before(async () => {
  // Timer C of 1 s: a destination that sent 100 Trying and no final is
  // given up after a second (the timeout failover test).
  j = await startJunction({ params: { 'sip.workers': 2, 'sip.timer_c_s': 1 } });
});

after(async () => {
  await j?.cleanup();
});

const statusOf = (m) => Number(m.split(' ')[1]);
const header = (m, name) => (m.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)) || '').replace(/^[^:]*:\s*/, '');
const callIdOf = (m) => header(m, 'Call-ID');

// A response to request req (its Vias, From, To with a tag, Call-ID, CSeq).
function answer(req, code, reason, extra = []) {
  const keep = req.split('\r\n').filter((l) => /^(via|from|call-id|cseq):/i.test(l));
  const to = req.split('\r\n').find((l) => /^to:/i.test(l));
  return [`SIP/2.0 ${code} ${reason}`, ...keep, /;tag=/.test(to) ? to : `${to};tag=uas1`, ...extra,
    'Content-Length: 0', '', ''].join('\r\n');
}

// A UAS on 127.0.0.1: answers INVITE by s.mode ('200', '486', '503',
// 'trying': 100 and then nothing until a CANCEL, 'silent': nothing at all),
// CANCEL 200 + 487, and
// OPTIONS 200 while s.options is true.  s.msgs keeps every request.
async function uas(mode) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const s = { port: sock.address().port, mode, options: true, msgs: [] };
  const reply = (text, rinfo) => sock.send(text, rinfo.port, rinfo.address);
  sock.on('message', (buf, rinfo) => {
    const m = buf.toString('utf8');
    s.msgs.push(m);
    const method = m.split(' ')[0];
    if (method === 'OPTIONS' && s.options) {
      // s.answerCopy n: only the n-th copy of each probe is answered (a lost datagram)
      const branch = (header(m, 'Via').match(/branch=([^;]+)/) || [])[1];
      s.copies = s.copies || {};
      s.copies[branch] = (s.copies[branch] || 0) + 1;
      if (!s.answerCopy || s.copies[branch] === s.answerCopy) reply(answer(m, 200, 'OK'), rinfo);
    }
    if (method === 'INVITE') {
      if (s.mode === 'trying') { reply(answer(m, 100, 'Trying'), rinfo); s.pending = { m, rinfo }; }
      else if (s.mode === 'silent') { /* a dead host: the INVITE and its retransmissions go unanswered */ }
      else if (s.mode === '200') reply(answer(m, 200, 'OK', [`Contact: <sip:uas@127.0.0.1:${s.port}>`]), rinfo);
      else reply(answer(m, Number(s.mode), s.mode === '486' ? 'Busy Here' : 'Service Unavailable'), rinfo);
    }
    if (method === 'CANCEL') {
      reply(answer(m, 200, 'OK'), rinfo);
      if (s.pending) reply(answer(s.pending.m, 487, 'Request Terminated'), s.pending.rinfo);
    }
  });
  s.invites = () => s.msgs.filter((m) => m.startsWith('INVITE '));
  s.got = (method, callId) => s.msgs.filter((m) => m.startsWith(`${method} `) && (!callId || callIdOf(m) === callId));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  return s;
}

// The caller: a UDP socket that sends INVITEs and keeps the responses.
async function caller() {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const c = { port: sock.address().port, msgs: [] };
  sock.on('message', (m) => c.msgs.push(m.toString('utf8')));
  let n = 0;
  // INVITE sip:<number>@junction; resolves with the final response.
  c.call = async (number, callId = `trk-${process.pid}-${c.port}-${n + 1}`, timeoutMs = 10000) => {
    ++n;
    const text = [
      `INVITE sip:${number}@127.0.0.1:${j.ports.sip} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bK-trk${c.port}x${n};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@127.0.0.1>;tag=a${n}`,
      `To: <sip:${number}@127.0.0.1>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:alice@127.0.0.1:${c.port}>`,
      'Content-Length: 0', '', ''].join('\r\n');
    await new Promise((resolve, reject) => sock.send(text, j.ports.sip, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    const final = await waitFor(() => c.msgs.find((m) => callIdOf(m) === callId && statusOf(m) >= 200), timeoutMs, `final response to ${callId}`);
    return { callId, final };
  };
  c.close = () => new Promise((resolve) => sock.close(resolve));
  return c;
}

let ruleId = 100;
// A trunk connector and a rule routing the prefix to it; returns an undo.
async function trunkWithRule(name, prefix, conf) {
  await j.mi('connectors.add', { name, type: 'sip_trunk', conf, enabled: true });
  const id = ++ruleId;
  await j.mi('routes.add', { id, name: `r-${name}`, priority: id, filters: { dst: { prefix: [prefix] } },
    action: { route: { strategy: 'failover', targets: [name] } } });
  return async () => {
    await j.mi('routes.delete', { id });
    await j.mi('connectors.delete', { name });
  };
}
const dst = (s, extra = {}) => ({ uri: `sip:127.0.0.1:${s.port}`, ...extra });
const trunkStatus = async (name) => (await j.mi('sip.trunks.status', { name })).trunks[0];

test('a 503 from the first destination fails over to the second: B gets Max-Forwards 69 and our Via, A gets the ACK of its 503', async () => {
  const a = await uas('503'), b = await uas('200'), c = await caller();
  const undo = await trunkWithRule('fo', '4930', { strategy: 'failover', destinations: [dst(a, { priority: 1 }), dst(b, { priority: 2 })] });
  const before = (await j.mi('stats.get')).counters;
  const { id: traceId } = await j.mi('trace.start', { call_id: 'trk-failover-503' });
  try {
    const { callId, final } = await c.call('+4930123', 'trk-failover-503');
    assert.equal(statusOf(final), 200, final);
    const [inv] = b.got('INVITE', callId);
    assert.ok(inv, 'the second destination got the INVITE');
    assert.equal(header(inv, 'Max-Forwards'), '69');
    assert.match(header(inv, 'Via'), new RegExp(`^SIP/2.0/UDP 127\\.0\\.0\\.1:${j.ports.sip};branch=z9hG4bK-jp`));
    assert.ok(inv.startsWith(`INVITE sip:+4930123@127.0.0.1:${b.port} SIP/2.0`), inv.split('\r\n')[0]);
    assert.equal(a.got('INVITE', callId).length >= 1, true, 'the first destination was tried');
    await waitFor(() => a.got('ACK', callId).length, 5000, 'the ACK of the 503 at the first destination');
    const after = (await j.mi('stats.get')).counters;
    assert.equal(after['sip.trunk_failovers'] - (before['sip.trunk_failovers'] || 0), 1);
    assert.equal(after['sip.trunk_requests'] - (before['sip.trunk_requests'] || 0), 1);
    const st = await trunkStatus('fo');
    assert.deepEqual(st.destinations.map((d) => [d.calls, d.inflight]), [[1, 0], [1, 0]]);
    // the decisions are on the trace bus: the rule and trunk, the failover and why
    const recs = (await j.mi('trace.list', { id: traceId, after: 0 })).records.map((r) => r.summary);
    assert.ok(recs.some((r) => /^trunk: rule \d+ r-fo -> fo\(2 usable\): 2 destination\(s\)$/.test(r)), JSON.stringify(recs));
    assert.ok(recs.includes('trunk: failover: fo destination 0 answered 503, next fo destination 1'), JSON.stringify(recs));
    // and the counters on /metrics
    const metrics = await (await j.http('/metrics')).text();
    assert.match(metrics, /^junction_sip_trunk_requests_total [1-9]/m);
    assert.match(metrics, /^junction_sip_trunk_failovers_total [1-9]/m);
    assert.match(metrics, new RegExp(`^junction_sip_trunk_destination_calls_total\\{connector="fo",destination="1",uri="sip:127\\.0\\.0\\.1:${b.port}"\\} 1$`, 'm'));
    assert.match(metrics, /^junction_sip_trunk_destination_up\{connector="fo",destination="0",[^}]*\} 1$/m);
  } finally {
    await j.mi('trace.stop', { id: traceId });
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('a 486 is not failed over: the caller gets the 486 and the second destination nothing', async () => {
  const a = await uas('486'), b = await uas('200'), c = await caller();
  const undo = await trunkWithRule('busy', '4931', { destinations: [dst(a), dst(b)] });
  try {
    const { callId, final } = await c.call('+4931123');
    assert.equal(statusOf(final), 486, final);
    assert.equal(a.got('INVITE', callId).length, 1);
    assert.equal(b.got('INVITE', callId).length, 0, 'no failover on 486');
    await waitFor(() => a.got('ACK', callId).length, 5000, 'the ACK of the 486');
  } finally {
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('a destination that answers 100 and then nothing is given up (Timer C: CANCEL, 408) for the next one', async () => {
  const a = await uas('trying'), b = await uas('200'), c = await caller();
  const undo = await trunkWithRule('slow', '4932', { destinations: [dst(a), dst(b)] });
  try {
    const { callId, final } = await c.call('+4932123');
    assert.equal(statusOf(final), 200, final);
    assert.equal(a.got('CANCEL', callId).length >= 1, true, 'the first destination got a CANCEL');
    assert.equal(b.got('INVITE', callId).length, 1, 'the second took the call');
  } finally {
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('a destination that never answers times out (Timer B, 64*T1: a 408) and the next one takes the call', async () => {
  const a = await uas('silent'), b = await uas('200'), c = await caller();
  await j.mi('params.set', { name: 'sip.t1_ms', value: '150' }); // Timer B 9.6 s
  const undo = await trunkWithRule('dead1', '4939', { destinations: [dst(a), dst(b)] });
  try {
    const t0 = Date.now();
    const pending = c.call('+4939123', undefined, 60000);
    // while the first is tried, its branch is in flight
    await waitFor(async () => (await trunkStatus('dead1')).destinations[0].inflight === 1, 20000, 'one in flight');
    const { callId, final } = await pending;
    assert.equal(statusOf(final), 200, final);
    const st = await trunkStatus('dead1');
    assert.deepEqual(st.destinations.map((d) => [d.calls, d.inflight]), [[1, 0], [1, 0]]);
    assert.ok(Date.now() - t0 >= 64 * 150 - 200, `failed over after ${Date.now() - t0} ms`);
    assert.ok(a.got('INVITE', callId).length >= 2, 'the first got the INVITE and its retransmissions (Timer A)');
    assert.equal(a.got('CANCEL', callId).length, 0, 'no CANCEL without a provisional (RFC 3261 9.1)');
    assert.equal(b.got('INVITE', callId).length, 1);
  } finally {
    await j.mi('params.set', { name: 'sip.t1_ms', value: '500' });
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('a request inside a dialog goes to its Request-URI, not to the trunk its number matches', async () => {
  const far = await uas('200'), t = await uas('200');
  const undo = await trunkWithRule('indialog', '4940', { destinations: [dst(t)] });
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const msgs = [];
  sock.on('message', (m) => msgs.push(m.toString('utf8')));
  try {
    const port = sock.address().port;
    const text = [`BYE sip:+4940123@127.0.0.1:${far.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-indlg;rport`, 'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=a9', 'To: <sip:+4940123@127.0.0.1>;tag=far1', 'Call-ID: trk-indialog',
      'CSeq: 2 BYE', 'Content-Length: 0', '', ''].join('\r\n');
    await new Promise((resolve) => sock.send(text, j.ports.sip, '127.0.0.1', resolve));
    await waitFor(() => far.got('BYE', 'trk-indialog').length, 5000, 'the BYE at its Request-URI');
    assert.equal(t.msgs.filter((m) => !m.startsWith('OPTIONS')).length, 0, 'nothing at the trunk');
  } finally {
    sock.close(); await undo(); await far.close(); await t.close();
  }
});

test('every destination failing ends with the best answer: two 503s are a 500 to the caller', async () => {
  const a = await uas('503'), b = await uas('503'), c = await caller();
  const undo = await trunkWithRule('dead', '4933', { destinations: [dst(a), dst(b)] });
  try {
    const { callId, final } = await c.call('+4933123');
    assert.equal(statusOf(final), 500, final);
    assert.equal(a.got('INVITE', callId).length, 1);
    assert.equal(b.got('INVITE', callId).length, 1);
  } finally {
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('round_robin spreads successive calls evenly over both destinations', async () => {
  const a = await uas('200'), b = await uas('200'), c = await caller();
  const undo = await trunkWithRule('rr', '4934', { strategy: 'round_robin', destinations: [dst(a), dst(b)] });
  try {
    for (let i = 0; i < 10; i++) assert.equal(statusOf((await c.call(`+4934${i}00`)).final), 200);
    assert.equal(a.invites().length, 5);
    assert.equal(b.invites().length, 5);
  } finally {
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('weighted 3:1 gives the heavier destination about three calls in four (40 calls)', async () => {
  const a = await uas('200'), b = await uas('200'), c = await caller();
  const undo = await trunkWithRule('wt', '4935', { strategy: 'weighted', destinations: [dst(a, { weight: 3 }), dst(b, { weight: 1 })] });
  try {
    for (let i = 0; i < 40; i++) assert.equal(statusOf((await c.call(`+4935${i}00`)).final), 200);
    const na = a.invites().length, nb = b.invites().length;
    assert.equal(na + nb, 40);
    // mean 30, sd 2.7: 20..38 is more than 3.5 sd either way
    assert.ok(na >= 20 && na <= 38, `heavy ${na}, light ${nb}`);
  } finally {
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('probing: a destination that stops answering OPTIONS goes down, calls skip it, and it comes back up', async () => {
  const a = await uas('200'), b = await uas('200'), c = await caller();
  const undo = await trunkWithRule('probed', '4936', { destinations: [dst(a), dst(b)],
    probe: { interval_s: 1, up_after: 1, down_after: 2, timeout_ms: 400 } });
  const state = async () => (await trunkStatus('probed')).destinations.map((d) => d.state);
  try {
    await waitFor(async () => (await state()).join() === 'up,up', 10000, 'both up');
    const st = await trunkStatus('probed');
    assert.equal(st.destinations[0].last_probe_status, 200);
    assert.ok(st.destinations[0].rtt_ms >= 0);
    const opt = a.got('OPTIONS')[0];
    assert.match(header(opt, 'Via'), new RegExp(`127\\.0\\.0\\.1:${j.ports.sip};branch=z9hG4bK-jt`));
    const { id: traceId } = await j.mi('trace.start', { connector: 'probed' });
    a.options = false;
    await waitFor(async () => (await state()).join() === 'down,up', 15000, 'the first down');
    const recs = (await j.mi('trace.list', { id: traceId, after: 0 })).records.map((r) => r.summary);
    await j.mi('trace.stop', { id: traceId });
    assert.ok(recs.some((r) => r.startsWith(`trunk: destination 0 down: sip:127.0.0.1:${a.port}: no answer to OPTIONS within 400 ms (2 in a row)`)), JSON.stringify(recs));
    const down = await trunkStatus('probed');
    assert.equal(down.destinations[0].last_probe_status, 408);
    assert.equal((await j.mi('stats.get')).counters['sip.trunk_down'], 1);
    assert.match(await (await j.http('/metrics')).text(), /^junction_sip_trunk_destination_up\{connector="probed",destination="0",[^}]*\} 0$/m);
    const { callId, final } = await c.call('+4936123');
    assert.equal(statusOf(final), 200, final);
    assert.equal(a.got('INVITE', callId).length, 0, 'the down destination is skipped');
    assert.equal(b.got('INVITE', callId).length, 1);
    a.options = true;
    await waitFor(async () => (await state()).join() === 'up,up', 15000, 'the first up again');
    const again = await c.call('+4936124');
    assert.equal(statusOf(again.final), 200);
    assert.equal(a.got('INVITE', again.callId).length, 1, 'back in first place');
    assert.equal((await j.mi('stats.get')).counters['sip.trunk_down'], 0);
  } finally {
    await undo(); await a.close(); await b.close(); await c.close();
  }
});

test('a probe is retransmitted (Timer E): a destination that answers only the second copy is up', async () => {
  const a = await uas('200');
  a.answerCopy = 2;
  await j.mi('connectors.add', { name: 'lossy', type: 'sip_trunk', enabled: true,
    conf: { destinations: [dst(a)], probe: { interval_s: 5, up_after: 1, down_after: 1, timeout_ms: 3000 } } });
  try {
    await waitFor(async () => (await trunkStatus('lossy')).destinations[0].state === 'up', 10000, 'up');
    const st = (await trunkStatus('lossy')).destinations[0];
    assert.equal(st.last_probe_status, 200);
    assert.ok(st.rtt_ms >= 400, `rtt ${st.rtt_ms} ms: the answer to the copy sent after T1`);
    assert.ok(Object.values(a.copies).some((n) => n >= 2), JSON.stringify(a.copies));
  } finally {
    await j.mi('connectors.delete', { name: 'lossy' });
    await a.close();
  }
});

test('no destination up is a 503, and a trunk added at runtime takes the calls of its rule', async () => {
  const a = await uas('200'), c = await caller();
  a.options = false;
  const id = ++ruleId;
  await j.mi('routes.add', { id, name: 'r-late', priority: id, filters: { dst: { prefix: ['4937'] } },
    action: { route: { targets: ['late'] } } });
  try {
    // the rule's target is no connector yet: no route, the 404 of an unknown user
    assert.equal(statusOf((await c.call('+4937123')).final), 404);
    await j.mi('connectors.add', { name: 'late', type: 'sip_trunk', enabled: true,
      conf: { destinations: [dst(a)], probe: { interval_s: 1, down_after: 1, timeout_ms: 300 } } });
    await waitFor(async () => (await trunkStatus('late'))?.destinations[0].state === 'down', 10000, 'down');
    assert.equal(statusOf((await c.call('+4937124')).final), 503);
    a.options = true;
    await waitFor(async () => (await trunkStatus('late')).destinations[0].state === 'up', 10000, 'up');
    const { callId, final } = await c.call('+4937125');
    assert.equal(statusOf(final), 200, final);
    assert.equal(a.got('INVITE', callId).length, 1);
    // an update (strip 2, prefix 0) applies without a restart
    await j.mi('connectors.update', { name: 'late', conf: { destinations: [dst(a)], strip: 3, prefix: '0' } });
    const r = await c.call('+4937126');
    assert.equal(statusOf(r.final), 200);
    assert.ok(a.got('INVITE', r.callId)[0].startsWith(`INVITE sip:037126@127.0.0.1:${a.port} `), a.got('INVITE', r.callId)[0]);
  } finally {
    await j.mi('routes.delete', { id });
    await j.mi('connectors.delete', { name: 'late' }).catch(() => {});
    await a.close(); await c.close();
  }
});

test('a rule\'s rewrite of the destination is the Request-URI user the trunk gets', async () => {
  const a = await uas('200'), c = await caller();
  await j.mi('connectors.add', { name: 'rw', type: 'sip_trunk', conf: { destinations: [dst(a)] }, enabled: true });
  const id = ++ruleId;
  await j.mi('routes.add', { id, name: 'r-rw', priority: id, filters: { dst: { prefix: ['4941'] } },
    action: { route: { targets: ['rw'] }, rewrite: { dst: { strip: 4, prefix: '4420' } } } });
  try {
    const { callId, final } = await c.call('+4941123');
    assert.equal(statusOf(final), 200, final);
    const [inv] = a.got('INVITE', callId);
    assert.ok(inv.startsWith(`INVITE sip:+4420123@127.0.0.1:${a.port} SIP/2.0`), inv.split('\r\n')[0]);
    assert.equal(header(inv, 'To'), '<sip:+4941123@127.0.0.1>', 'To is not changed');
  } finally {
    await j.mi('routes.delete', { id }); await j.mi('connectors.delete', { name: 'rw' });
    await a.close(); await c.close();
  }
});

test('the conf check refuses a bad destination, strategy or key with a clear error', async () => {
  const bad = (conf) => j.mi('connectors.add', { name: 'bad', type: 'sip_trunk', conf }).then(
    () => assert.fail('accepted'), (e) => { assert.equal(e.rpc?.code, -32602, e.message); return e.message; });
  assert.match(await bad({ destinations: [{ uri: 'sip:trunk.example.com:5070' }] }), /destinations\[0\]\.uri .*IPv4/);
  assert.match(await bad({ destinations: [] }), /conf\.destinations: a list of 1\.\.16/);
  assert.match(await bad({ destinations: [{ uri: 'http://1.2.3.4' }] }), /destinations\[0\]\.uri .*not a sip: URI/);
  assert.match(await bad({ destinations: [{ uri: 'sip:1.2.3.4', weight: 0 }] }), /destinations\[0\]\.weight: an integer 1\.\.1000/);
  assert.match(await bad({ destinations: [{ uri: 'sip:1.2.3.4' }], strategy: 'random' }), /conf\.strategy: one of/);
  assert.match(await bad({ destinations: [{ uri: 'sip:1.2.3.4' }], probe: { interval_s: 1, method: 'INFO' } }), /conf\.probe\.method/);
  assert.match(await bad({ destinations: [{ uri: 'sip:1.2.3.4' }], retries: 3 }), /conf\.retries: unknown key/);
  assert.equal((await j.mi('connectors.list')).find((x) => x.name === 'bad'), undefined);
});

test('an untrusted caller may not reach a trunk: 403, the destination gets nothing', async () => {
  const a = await uas('200');
  const undo = await trunkWithRule('closed', '4938', { destinations: [dst(a)] });
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.2', resolve));
  const msgs = [];
  sock.on('message', (m) => msgs.push(m.toString('utf8')));
  await j.mi('trusted.delete', { net: '127.0.0.0/8' });
  try {
    const port = sock.address().port;
    const text = [`INVITE sip:+4938123@127.0.0.1:${j.ports.sip} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.2:${port};branch=z9hG4bK-untr;rport`, 'Max-Forwards: 70',
      'From: <sip:mallory@127.0.0.2>;tag=m1', `To: <sip:+4938123@127.0.0.1>`, 'Call-ID: trk-untrusted',
      'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n');
    await new Promise((resolve) => sock.send(text, j.ports.sip, '127.0.0.1', resolve));
    const r = await waitFor(() => msgs.find((m) => statusOf(m) >= 200), 5000, 'final');
    assert.equal(statusOf(r), 403, r);
    assert.equal(a.invites().length, 0);
  } finally {
    await j.mi('trusted.add', { net: '127.0.0.0/8', name: 'loopback' });
    sock.close(); await undo(); await a.close();
  }
});

test('with sip.auth an untrusted caller is challenged 407 and reaches the trunk with credentials, which the destination does not get', async () => {
  const a = await uas('200');
  const undo = await trunkWithRule('authed', '4942', { destinations: [dst(a)] });
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.2', resolve));
  const msgs = [];
  sock.on('message', (m) => msgs.push(m.toString('utf8')));
  await j.mi('sip.users.add', { username: 'carol', password: 'carol-pw-1' });
  await j.mi('params.set', { name: 'sip.auth', value: 'yes' });
  await j.mi('trusted.delete', { net: '127.0.0.0/8' });
  const port = sock.address().port;
  const ruri = `sip:+4942123@127.0.0.1:${j.ports.sip}`;
  const invite = (branch, auth) => [`INVITE ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.2:${port};branch=${branch};rport`, 'Max-Forwards: 70',
    'From: <sip:carol@127.0.0.1>;tag=c1', 'To: <sip:+4942123@127.0.0.1>', 'Call-ID: trk-auth',
    'CSeq: 1 INVITE', `Contact: <sip:carol@127.0.0.2:${port}>`, ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
    'Content-Length: 0', '', ''].join('\r\n');
  const send = (text) => new Promise((resolve) => sock.send(text, j.ports.sip, '127.0.0.1', resolve));
  const final = (branch) => waitFor(() => msgs.find((m) => m.includes(branch) && statusOf(m) >= 200), 8000, `final of ${branch}`);
  try {
    await send(invite('z9hG4bK-auth1'));
    const r407 = await final('z9hG4bK-auth1');
    assert.equal(statusOf(r407), 407, r407);
    assert.equal(a.invites().length, 0, 'nothing at the trunk before the credentials');
    const ch = {};
    const line = r407.split('\r\n').find((l) => /^Proxy-Authenticate:.*algorithm=MD5/i.test(l));
    for (const m of line.replace(/^Proxy-Authenticate:\s*Digest\s+/i, '').matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g)) ch[m[1]] = m[3] ?? m[2];
    const md5 = (x) => createHash('md5').update(x).digest('hex');
    const resp = md5(`${md5(`carol:${ch.realm}:carol-pw-1`)}:${ch.nonce}:00000001:c0ffee:auth:${md5(`INVITE:${ruri}`)}`);
    const auth = `Digest username="carol", realm="${ch.realm}", nonce="${ch.nonce}", uri="${ruri}", response="${resp}", ` +
      `algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee", opaque="${ch.opaque}"`;
    await send(invite('z9hG4bK-auth2', auth));
    const ok = await final('z9hG4bK-auth2');
    assert.equal(statusOf(ok), 200, ok);
    const [inv] = a.got('INVITE', 'trk-auth');
    assert.ok(inv, 'the trunk destination got the INVITE');
    assert.equal(header(inv, 'Proxy-Authorization'), '', 'our credentials are removed');
  } finally {
    await j.mi('trusted.add', { net: '127.0.0.0/8', name: 'loopback' });
    await j.mi('params.set', { name: 'sip.auth', value: 'no' });
    sock.close(); await undo(); await a.close();
  }
});

test('a message a rule routes to a trunk fails there at once with a reason (it is no call), and takes the plan\'s next target', async () => {
  const a = await uas('200');
  const undo = await trunkWithRule('msgtrunk', '4977', { strategy: 'failover', destinations: [dst(a)] });
  try {
    const { id } = await j.mi('messages.inject', { from: '4911', to: '4977123', body: 'not a call' });
    const m = await waitFor(async () => {
      const x = await j.mi('messages.get', { id });
      return x.status === 'failed' && x;
    }, 10000, 'the message failed');
    assert.match(JSON.stringify(m), /carries proxied SIP requests, not messages/);
    assert.equal(a.msgs.filter((x) => !x.startsWith('OPTIONS ')).length, 0, 'nothing reached the destination');
  } finally {
    await undo(); await a.close();
  }
});
