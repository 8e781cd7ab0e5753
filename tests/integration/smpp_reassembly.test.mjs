// Long MO messages from an operator's SMSC arrive in parts (UDH 8-bit,
// 16-bit, SAR) and leave junction as one message (issue 7): each part is
// stored before its deliver_sm_resp (a restart between parts loses none),
// a part sent twice is answered and ignored, the parts are joined in order
// into one stored message, and a set that stays incomplete past
// core.reassembly_timeout_s is delivered with "[...]" for the missing
// parts, or dropped with core.reassembly_incomplete = fail.  The operator
// is the fake SMSC of lib/smsc.mjs; the joined message goes to a second
// one, which junction splits for again.  Loopback only; every wait is for a
// state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const SMPP_PARAMS = { 'smpp.reconnect_s': 1, 'smpp.enquire_link_s': 2 };
const PARTS = ['Part one of a long reply, ', 'part two in the middle, ', 'and part three at the end.'];
const WHOLE = PARTS.join('');

async function setup(t, params = {}) {
  const op1 = await startSmsc();
  t.after(() => op1.stop());
  const op2 = await startSmsc();
  t.after(() => op2.stop());
  const j = await startJunction({ params: { ...SMPP_PARAMS, ...params } });
  t.after(() => j.cleanup());
  for (const [name, smsc] of [['op1', op1], ['op2', op2]])
    await j.mi('connectors.add', { name, type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: `jx-${name}`, password: 'secret' } });
  await waitBound(j, 'op1');
  await waitBound(j, 'op2');
  await j.mi('routes.add', { name: 'mo', priority: 10, dst_prefix: '4479', target: 'op2' });
  return { op1, op2, j };
}

// Part seq (1-based) of PARTS as a deliver_sm with an 8-bit UDH, ref 0x42.
const udhPart = (seq, { ref = 0x42, bits = 8 } = {}) => ({
  source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900001',
  dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447912345678',
  esm_class: 0x40,
  short_message: {
    udh: bits === 8 ? Buffer.from([0x05, 0x00, 3, ref, PARTS.length, seq])
      : Buffer.from([0x06, 0x08, 4, ref >> 8, ref & 0xff, PARTS.length, seq]),
    message: PARTS[seq - 1],
  },
});
const sarPart = (seq) => ({
  source_addr: '447700900001', destination_addr: '447912345678',
  short_message: PARTS[seq - 1],
  sar_msg_ref_num: 0x2345, sar_total_segments: PARTS.length, sar_segment_seqnum: seq,
});

const stored = async (j) => (await j.mi('messages.list', { limit: 100 }))
  .filter((m) => (m.to || m.to_addr || '').includes('447912345678') || JSON.stringify(m).includes('447912345678'));
const bodyAtOp = (smsc) => smsc.submits.map((p) => p.short_message.message).join('');
const counters = async (j) => (await j.mi('stats.get')).counters;

test('an MO in three UDH parts, out of order, becomes one message with the text in order', async (t) => {
  const { op1, op2, j } = await setup(t);
  for (const seq of [2, 3, 1]) {
    const r = await op1.deliver(udhPart(seq));
    assert.equal(r.command_status, 0, `part ${seq} acknowledged`);
  }
  await waitFor(() => bodyAtOp(op2) === WHOLE, 10000, 'the whole text at the second SMSC');
  const msgs = await stored(j);
  assert.equal(msgs.length, 1, 'one message stored, not one per part');
  const m = await j.mi('messages.get', { id: msgs[0].id });
  assert.equal(m.envelope ? m.envelope.body : m.body, WHOLE);
  assert.equal((m.envelope || m).tags.parts, '3/3');
  assert.equal((await counters(j))['core.reassembled'], 1);
});

test('16-bit UDH and SAR parts are joined the same way', async (t) => {
  const { op1, op2, j } = await setup(t);
  for (const seq of [1, 2, 3]) assert.equal((await op1.deliver(udhPart(seq, { ref: 0x1234, bits: 16 }))).command_status, 0);
  await waitFor(() => bodyAtOp(op2) === WHOLE, 10000, 'the 16-bit set joined');
  op2.submits.length = 0;
  for (const seq of [3, 1, 2]) assert.equal((await op1.deliver(sarPart(seq))).command_status, 0);
  await waitFor(() => bodyAtOp(op2) === WHOLE, 10000, 'the SAR set joined');
  assert.equal((await stored(j)).length, 2);
});

test('a part sent twice is acknowledged twice and joined once', async (t) => {
  const { op1, op2, j } = await setup(t);
  assert.equal((await op1.deliver(udhPart(1))).command_status, 0);
  assert.equal((await op1.deliver(udhPart(1))).command_status, 0, 'the repeat is answered OK');
  assert.equal((await op1.deliver(udhPart(2))).command_status, 0);
  assert.equal((await op1.deliver(udhPart(3))).command_status, 0);
  await waitFor(() => bodyAtOp(op2) === WHOLE, 10000, 'joined');
  assert.equal((await op1.deliver(udhPart(3))).command_status, 0, 'a repeat after the join too');
  assert.equal((await stored(j)).length, 1, 'still one message');
  assert.equal((await counters(j))['core.parts_duplicate'], 2);
});

test('a reference used again after its message was joined starts a new message', async (t) => {
  const { op1, op2, j } = await setup(t);
  for (const seq of [1, 2, 3]) assert.equal((await op1.deliver(udhPart(seq))).command_status, 0);
  await waitFor(() => bodyAtOp(op2) === WHOLE, 10000, 'the first message joined');
  op2.submits.length = 0;
  const again = ['Another message, ', 'same reference, ', 'new words.'];
  for (const seq of [1, 2, 3]) {
    const p = udhPart(seq);
    p.short_message.message = again[seq - 1];
    assert.equal((await op1.deliver(p)).command_status, 0);
  }
  await waitFor(() => bodyAtOp(op2) === again.join(''), 10000, 'the second message joined too');
  assert.equal((await stored(j)).length, 2);
});

test('parts stored before a restart are joined with those after it', async (t) => {
  const { op1, op2, j } = await setup(t);
  assert.equal((await op1.deliver(udhPart(1))).command_status, 0);
  assert.equal((await op1.deliver(udhPart(3))).command_status, 0);
  assert.equal((await j.stop('SIGKILL')).sig, 'SIGKILL');
  j.start();
  await j.ready();
  await waitBound(j, 'op1');
  await waitBound(j, 'op2');
  assert.equal((await op1.deliver(udhPart(2))).command_status, 0);
  await waitFor(() => bodyAtOp(op2) === WHOLE, 10000, 'joined across the restart');
});

test('a set still missing a part after the timeout is delivered with a marker where it is missing', async (t) => {
  const { op1, op2, j } = await setup(t, { 'core.reassembly_timeout_s': 1, 'core.sweep_ms': 100 });
  assert.equal((await op1.deliver(udhPart(1))).command_status, 0);
  assert.equal((await op1.deliver(udhPart(3))).command_status, 0);
  await waitFor(() => bodyAtOp(op2) === PARTS[0] + '[...]' + PARTS[2], 10000, 'delivered with the gap marked');
  const [m] = await stored(j);
  assert.equal((m.envelope || (await j.mi('messages.get', { id: m.id })).envelope).tags.parts, '2/3');
  assert.equal((await counters(j))['core.reassembled_incomplete'], 1);
});

test('with core.reassembly_incomplete = fail an incomplete set is dropped and counted', async (t) => {
  const { op1, op2, j } = await setup(t, { 'core.reassembly_timeout_s': 1, 'core.sweep_ms': 100,
    'core.reassembly_incomplete': 'fail' });
  assert.equal((await op1.deliver(udhPart(2))).command_status, 0);
  await waitFor(async () => (await counters(j))['core.reassembly_dropped'] === 1, 10000, 'dropped');
  assert.equal(op2.submits.length, 0, 'nothing went out');
  assert.equal((await stored(j)).length, 0);
});
