// A customer's own long message (issue 7, "Text"): parts it submits on
// junction's SMSC port (8-bit UDH, SAR TLVs) are kept as parts when the
// route's target is an SMPP connector, and joined into one message when it
// is not (a SIP target here): each part stored before its submit_sm_resp,
// out of order, a duplicate, a SIGKILL between parts, data_sm; the one
// delivery report (and query_sm) speaks of the first part's message_id;
// failover plans decide on their first target.  Then the message class a
// data_coding carries (flash SMS) kept SMPP -> SMPP, and the router's
// coding class ucs2 for the 3GPP UCS-2 groups.  Real peers: npm smpp
// customers and SMSC (lib/smsc.mjs), a SIP UA on a node UDP socket that
// answers every MESSAGE 200.  Loopback only; every wait is for a state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, bindCustomer, submit, waitBound } from './lib/smsc.mjs';

const UDHI = 0x40;
const udh8 = (ref, total, seq) => Buffer.from([0x05, 0x00, 0x03, ref, total, seq]);
const TEXTS = ['The first part of a long text, ', 'then the second part of it, ', 'and the third and last.'];
const WHOLE = TEXTS.join('');

// A SIP UA on a node UDP socket: answers every MESSAGE with status (200
// unless told) and keeps the requests' bodies.
async function sipUa(status = '200 OK') {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const u = { port: sock.address().port, bodies: [] };
  sock.on('message', (m, rinfo) => {
    const req = m.toString('utf8');
    if (!req.startsWith('MESSAGE ')) return;
    const [head, ...rest] = req.split('\r\n\r\n');
    u.bodies.push(rest.join('\r\n\r\n'));
    const keep = head.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .map((l) => (/^To:/i.test(l) ? `${l};tag=ua1` : l));
    sock.send(Buffer.from(`SIP/2.0 ${status}\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`),
      rinfo.port, rinfo.address);
  });
  u.close = () => new Promise((resolve) => sock.close(resolve));
  return u;
}

// junction with a SIP target "far" for 4930..., an SMPP connector "op1"
// for 44..., and a bound customer.
async function setup(t, params = {}, uaStatus = undefined) {
  const ua = await sipUa(uaStatus);
  t.after(() => ua.close());
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'core.retry_base_ms': 200, ...params } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'far', type: 'sip', conf: { uri: `sip:127.0.0.1:${ua.port}` } });
  await j.mi('connectors.add', {
    name: 'op1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'secret' },
  });
  await j.mi('routes.add', { name: 'to-far', priority: 10, dst_prefix: '4930', target: 'far' });
  await j.mi('routes.add', { name: 'to-op1', priority: 20, dst_prefix: '44', target: 'op1' });
  await waitBound(j, 'op1');
  await j.mi('accounts.add', { system_id: 'cust1', password: 'pw1' });
  const cust = await bindCustomer(j.ports.smpp, 'cust1', 'pw1');
  assert.equal(cust.resp.command_status, 0, 'customer bound');
  t.after(() => cust.session.close());
  return { j, ua, smsc, cust: cust.session };
}

const addr = (dst) => ({
  source_addr_ton: 1, source_addr_npi: 1, source_addr: '4917011112222',
  dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: dst, data_coding: 0,
});
const udhPart = (dst, ref, seq, extra = {}) => ({
  ...addr(dst), esm_class: UDHI, short_message: { udh: udh8(ref, 3, seq), message: TEXTS[seq - 1] }, ...extra,
});
const sarPart = (dst, ref, seq) => ({
  ...addr(dst), short_message: TEXTS[seq - 1],
  sar_msg_ref_num: ref, sar_total_segments: 3, sar_segment_seqnum: seq,
});

async function send(cust, pdu, what) {
  const r = await submit(cust, pdu);
  assert.equal(r.command_status, 0, `${what} accepted`);
  assert.ok(r.message_id, `${what} has a message_id`);
  return r.message_id;
}

const counters = async (j) => (await j.mi('stats.get')).counters;

test('a 3-part UDH message to a SIP target arrives as one MESSAGE; one report under part 1\'s id', async (t) => {
  const { j, ua, cust } = await setup(t);
  const ids = [];
  const { id: traceId } = await j.mi('trace.start', { to: '4930100001' });
  try {
    for (let seq = 1; seq <= 3; seq++)
      ids.push(await send(cust, udhPart('4930100001', 0x41, seq, { registered_delivery: 1 }), `part ${seq}`));
    const rec = await waitFor(async () => (await j.mi('trace.list', { id: traceId, after: 0 })).records
      .find((x) => /part 1\/3: target far \(sip\) cannot carry parts: joined first/.test(x.summary ?? '')),
    10000, 'the keep-or-join decision on the trace bus');
    assert.ok(rec);
  } finally {
    await j.mi('trace.stop', { id: traceId });
  }
  assert.equal(new Set(ids).size, 3, 'every part its own message_id');
  const body = await waitFor(() => ua.bodies.find((b) => b.includes('third')), 10000, 'the MESSAGE');
  assert.equal(body, WHOLE, 'the whole text, in order, once');
  const m = await j.mi('messages.get', { id: ids[0] });
  assert.equal(m.envelope.tags.parts, '3/3');
  assert.equal(m.envelope.tags.concat, undefined, 'the whole carries no part tag');
  assert.equal(m.target, 'far');
  for (const id of ids.slice(1))
    await assert.rejects(j.mi('messages.get', { id }), 'no message of its own for a later part');
  const rep = await waitFor(() => cust.delivered.find((p) => p.esm_class & 0x04), 10000, 'the delivery report');
  const text = Buffer.isBuffer(rep.short_message.message) ? rep.short_message.message.toString() : String(rep.short_message.message ?? rep.short_message);
  assert.match(text, new RegExp(`^id:${ids[0]} .*stat:DELIVRD`));
  await waitFor(async () => (await j.mi('messages.get', { id: ids[0] })).status === 'delivered', 10000, 'delivered');
  assert.equal(ua.bodies.length, 1, 'one MESSAGE only');
  assert.equal(cust.delivered.filter((p) => p.esm_class & 0x04).length, 1, 'one report for the message');
  const query = (id) => new Promise((resolve) => cust.query_sm({ message_id: id, source_addr: '' }, resolve));
  const q = await query(ids[0]);
  assert.equal(q.command_status, 0, 'query_sm knows part 1\'s id');
  assert.equal(q.message_state, 2, 'DELIVERED');
  assert.equal((await query(ids[1])).command_status, 0x67, 'a later part\'s id names no message: ESME_RQUERYFAIL');
  const c = await counters(j);
  assert.equal(c['core.parts_joined_for_target'], 3);
  assert.equal(c['core.reassembled'], 1);
});

test('SAR parts out of order with a duplicate to a SIP target: one MESSAGE with the whole text', async (t) => {
  const { j, ua, cust } = await setup(t);
  const dst = '4930100002';
  await send(cust, sarPart(dst, 0x1234, 3), 'part 3');
  const first = await send(cust, sarPart(dst, 0x1234, 1), 'part 1');
  await send(cust, sarPart(dst, 0x1234, 1), 'part 1 again');
  await send(cust, sarPart(dst, 0x1234, 2), 'part 2');
  const body = await waitFor(() => ua.bodies.find((b) => b.includes('third')), 10000, 'the MESSAGE');
  assert.equal(body, WHOLE);
  const m = await j.mi('messages.get', { id: first });
  assert.equal(m.envelope.tags.parts, '3/3');
  const c = await counters(j);
  assert.equal(c['core.parts_duplicate'], 1, 'the duplicate seen');
  assert.equal(c['core.reassembled'], 1);
  // the duplicate is not joined again: wait for the message's final state,
  // then count MESSAGEs
  await waitFor(async () => (await j.mi('messages.get', { id: first })).status === 'delivered', 10000, 'delivered');
  assert.equal(ua.bodies.length, 1, 'one MESSAGE only');
});

test('data_sm parts with SAR TLVs to a SIP target are joined too', async (t) => {
  const { j, ua, cust } = await setup(t);
  const dataSm = (seq) => new Promise((resolve) => cust.data_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '4917011112222',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '4930100004', data_coding: 0,
    message_payload: TEXTS[seq - 1], sar_msg_ref_num: 7, sar_total_segments: 3, sar_segment_seqnum: seq,
  }, resolve));
  const ids = [];
  for (const seq of [2, 3, 1]) {
    const r = await dataSm(seq);
    assert.equal(r.command_status, 0, `data_sm part ${seq} accepted`);
    ids.push(r.message_id);
  }
  const body = await waitFor(() => ua.bodies.find((b) => b.includes('third')), 10000, 'the MESSAGE');
  assert.equal(body, WHOLE);
  assert.equal((await j.mi('messages.get', { id: ids[2] })).envelope.tags.parts, '3/3', 'under part 1\'s id');
});

test('the same parts routed to an SMPP connector stay 3 parts with the customer\'s reference', async (t) => {
  const { j, smsc, ua, cust } = await setup(t);
  const dst = '447700900301';
  for (let seq = 1; seq <= 3; seq++) await send(cust, udhPart(dst, 0x77, seq), `part ${seq}`);
  const ps = await waitFor(() => {
    const got = smsc.submits.filter((p) => p.destination_addr === dst);
    return got.length >= 3 && got;
  }, 10000, '3 submit_sm at the SMSC');
  for (const p of ps) {
    const ie = p.short_message.udh.find((x) => x[0] === 0x00);
    assert.equal(ie[2], 0x77, 'the customer\'s reference');
    assert.equal(ie[3], 3, 'its total');
  }
  assert.deepEqual(ps.map((p) => p.short_message.message).sort(), [...TEXTS].sort());
  assert.equal(ua.bodies.length, 0);
  assert.equal((await counters(j))['core.parts_joined_for_target'] ?? 0, 0, 'nothing joined');
});

test('kill -9 after part 2\'s answer: after the restart part 3 completes the message', async (t) => {
  const { j, ua, cust } = await setup(t);
  const dst = '4930100003';
  const first = await send(cust, udhPart(dst, 0x42, 1), 'part 1');
  await send(cust, udhPart(dst, 0x42, 2), 'part 2');
  cust.close();
  await j.stop('SIGKILL');
  j.start();
  await j.ready();
  const again = await bindCustomer(j.ports.smpp, 'cust1', 'pw1');
  assert.equal(again.resp.command_status, 0);
  t.after(() => again.session.close());
  await send(again.session, udhPart(dst, 0x42, 3), 'part 3');
  const body = await waitFor(() => ua.bodies.find((b) => b.includes('third')), 15000, 'the MESSAGE');
  assert.equal(body, WHOLE, 'parts 1 and 2 survived the crash');
  assert.equal((await j.mi('messages.get', { id: first })).envelope.tags.parts, '3/3');
});

test('failover plans decide on their first target: SMPP -> SIP keeps the parts, SIP -> SMPP joins them', async (t) => {
  const { j, ua, smsc, cust } = await setup(t, {}, '403 Forbidden');
  await j.mi('routes.import', { rules: [
    { id: 1, name: 'smpp-first', priority: 1, filters: { dst: { prefix: ['4478'] } },
      action: { route: { strategy: 'failover', targets: ['op1', 'far'] } } },
    { id: 2, name: 'sip-first', priority: 2, filters: { dst: { prefix: ['4479'] } },
      action: { route: { strategy: 'failover', targets: ['far', 'op1'] } } },
  ] });
  for (let seq = 1; seq <= 3; seq++) await send(cust, udhPart('447800900601', 0x51, seq), `kept part ${seq}`);
  for (let seq = 1; seq <= 3; seq++) await send(cust, udhPart('447900900602', 0x52, seq), `joined part ${seq}`);
  const kept = await waitFor(() => {
    const got = smsc.submits.filter((p) => p.destination_addr === '447800900601');
    return got.length >= 3 && got;
  }, 10000, 'the 3 kept parts at the SMSC');
  for (const p of kept) assert.equal(p.short_message.udh.find((x) => x[0] === 0x00)[2], 0x51, 'the customer\'s reference');
  // the SIP target refuses the whole (403): the SMPP target gets it, as junction splits it
  const whole = await waitFor(() => smsc.submits.find((p) => p.destination_addr === '447900900602'), 10000,
    'the joined message at the SMSC after the SIP refusal');
  assert.equal(whole.short_message.message ?? whole.short_message, WHOLE, 'one text, short enough for one submit_sm');
  assert.equal(ua.bodies.filter((b) => b === WHOLE).length, 1, 'the SIP target was offered the whole text once');
  assert.equal((await counters(j))['core.parts_joined_for_target'], 3, 'only the SIP-first parts joined');
});

// --- the message class and the coding class -------------------------------

test('a flash SMS (data_coding 0xF0 or 0x10: class 0) forwarded to an SMPP connector keeps its class', async (t) => {
  const { j, smsc, cust } = await setup(t);
  const cases = [{ dst: '447700900401', dc: 0xF0, want: 0xF0 }, { dst: '447700900402', dc: 0x10, want: 0xF0 },
    { dst: '447700900403', dc: 0xF3, want: 0xF3 }, { dst: '447700900404', dc: 0x00, want: 0x00 }];
  for (const c of cases)
    await send(cust, { ...addr(c.dst), data_coding: c.dc, short_message: Buffer.from(`Flash ${c.dc}`) }, `dc ${c.dc}`);
  for (const c of cases) {
    const p = await waitFor(() => smsc.submits.find((x) => x.destination_addr === c.dst), 10000, `submit_sm to ${c.dst}`);
    assert.equal(p.data_coding, c.want, `data_coding 0x${c.dc.toString(16)} goes out as 0x${c.want.toString(16)}`);
  }
  const m = (await j.mi('messages.list', { limit: 10 })).find((x) => x.envelope?.to?.address === '447700900401');
  assert.equal(m.envelope.tags.sms_class, '0', 'the class on the envelope');
});

test('a rule on coding class ucs2 matches data_coding 0x18 and 0xE0 (UCS-2 by the 3GPP groups)', async (t) => {
  const { j, smsc, cust } = await setup(t);
  await j.mi('routes.import', { rules: [
    { id: 1, name: 'ucs2-only', priority: 1, filters: { dst: { prefix: ['4478'] }, coding: ['ucs2'] },
      action: { route: { targets: ['op1'] } } },
  ] });
  const hi = Buffer.from([0x00, 0x48, 0x00, 0x69]); // "Hi" in UTF-16BE: GSM could carry it
  for (const [dst, dc] of [['447800900501', 0x18], ['447800900502', 0xE0], ['447800900503', 0x08]])
    await send(cust, { ...addr(dst), data_coding: dc, short_message: hi }, `dc 0x${dc.toString(16)}`);
  const r = await submit(cust, { ...addr('447800900504'), data_coding: 0x10, short_message: Buffer.from('Hi') });
  assert.equal(r.command_status, 0x0B, 'a GSM class-0 text matches no ucs2 rule: ESME_RINVDSTADR');
  for (const dst of ['447800900501', '447800900502', '447800900503'])
    await waitFor(() => smsc.submits.find((x) => x.destination_addr === dst), 10000, `submit_sm to ${dst}`);
});
