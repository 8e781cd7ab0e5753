// Receipts of messages sent in parts, and receipts that overtake their
// submit_sm_resp (issue 7).  Every part's message_id is kept as its
// submit_sm_resp arrives; a message sent in parts is final only once every
// part's receipt gave its final word (delivered when all say DELIVRD, else
// the first other part's word); a final receipt for an id no message waits
// for yet is parked and placed when the submit_sm_resp comes.  The
// operator is a small npm smpp SMSC here that names each part's id and can
// send the receipt before its answer.  Loopback only; every wait is for a
// state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { waitBound, startScriptedSmsc } from './lib/smsc.mjs';

const SMPP_PARAMS = { 'smpp.reconnect_s': 1, 'smpp.enquire_link_s': 2 };
const LONG_TEXT = Array.from({ length: 80 }, (_, i) => `w${String(i + 1).padStart(3, '0')} `).join('').slice(0, 400);

const receiptText = (id, stat) =>
  `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612011200 ` +
  `done date:2612011201 stat:${stat} err:000 text:x`;

// An SMSC that answers submit_sm with the id `${prefix}-${n}` (n counting
// submits from 1).  opts.ahead(pdu, id): when true, the receipt
// (opts.ahead's stat, "DELIVRD") goes out before the submit_sm_resp, and
// the answer only after junction acknowledged the receipt.
async function startPartSmsc(opts = {}) {
  const s = await startScriptedSmsc('parts', (session, pdu) => {
    const id = `${opts.prefix || 'P'}-${++s.n}`;
    pdu.smsc_message_id = id;
    s.submits.push(pdu);
    if (opts.ahead && opts.ahead(pdu, id)) {
      session.deliver_sm({ esm_class: 0x04, source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr, short_message: receiptText(id, 'DELIVRD') }, (r) => {
        s.earlyAcked = (s.earlyAcked || 0) + (r.command_status === 0 ? 1 : 0);
        session.send(pdu.response({ message_id: id }));
      });
      return;
    }
    session.send(pdu.response({ message_id: id }));
  });
  s.receipt = (id, stat) => s.deliver({ esm_class: 0x04, source_addr: '447700900001',
    destination_addr: '4930111', short_message: receiptText(id, stat) });
  return s;
}

async function setup(t, opts) {
  const smsc = await startPartSmsc(opts);
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'secret' } });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  return { smsc, j };
}

const statusOf = async (j, id) => (await j.mi('messages.get', { id })).status;
const counters = async (j) => (await j.mi('stats.get')).counters;

test('a message sent in 3 parts is delivered only when every part\'s receipt says DELIVRD, in any order', async (t) => {
  const { smsc, j } = await setup(t, { prefix: 'A' });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900001', body: LONG_TEXT });
  await waitFor(async () => (await statusOf(j, id)) === 'submitted', 10000, 'submitted in parts');
  assert.equal(smsc.submits.length, 3, 'three parts at the SMSC');
  const ids = smsc.submits.map((p) => p.smsc_message_id);

  for (const [k, part] of [[2, 'third'], [0, 'first']]) {
    const r = await smsc.receipt(ids[k], 'DELIVRD');
    assert.equal(r.command_status, 0, `the ${part} part's receipt acknowledged`);
    assert.equal(await statusOf(j, id), 'submitted', `one part still to say, after the ${part}`);
  }
  const r = await smsc.receipt(ids[1], 'DELIVRD');
  assert.equal(r.command_status, 0);
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 5000, 'delivered with the last part');
  assert.equal((await counters(j))['core.receipts_unknown'] ?? 0, 0, 'no part receipt was unknown');
});

test('one undeliverable part fails the whole message with that part\'s word', async (t) => {
  const { smsc, j } = await setup(t, { prefix: 'B' });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900002', body: LONG_TEXT });
  await waitFor(async () => (await statusOf(j, id)) === 'submitted', 10000, 'submitted in parts');
  const ids = smsc.submits.map((p) => p.smsc_message_id);
  await smsc.receipt(ids[0], 'DELIVRD');
  await smsc.receipt(ids[1], 'UNDELIV');
  assert.equal(await statusOf(j, id), 'submitted', 'not final while the third part has not said');
  await smsc.receipt(ids[2], 'DELIVRD');
  await waitFor(async () => (await statusOf(j, id)) === 'failed', 5000, 'failed with the bad part');
  const m = await j.mi('messages.get', { id });
  assert.match(JSON.stringify(m), /UNDELIV/, 'the failing part\'s word is the reason');
});

test('a receipt that overtakes its submit_sm_resp is parked and delivers the message when the answer comes', async (t) => {
  const { smsc, j } = await setup(t, { prefix: 'C', ahead: () => true });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900003', body: 'fast SMSC' });
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 10000, 'delivered by the early receipt');
  assert.equal(smsc.earlyAcked, 1, 'junction acknowledged the receipt that came first');
  const c = await counters(j);
  assert.equal(c['core.receipts_early'], 1, 'parked once');
  assert.equal(c['db.receipts_unparked'], 1, 'and placed when its submit came');
});

test('early receipts for every part of a long message fold into its outcome', async (t) => {
  const { smsc, j } = await setup(t, { prefix: 'D', ahead: () => true });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900004', body: LONG_TEXT });
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 10000, 'delivered: every part\'s receipt came first');
  assert.equal(smsc.submits.length, 3);
  assert.equal((await counters(j))['db.receipts_unparked'], 3);
});

test('an SMSC\'s data_sm receipt and data_sm MO are taken like deliver_sm, answered data_sm_resp', async (t) => {
  const { smsc, j } = await setup(t, { prefix: 'E' });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900005', body: 'receipt by data_sm' });
  await waitFor(async () => (await statusOf(j, id)) === 'submitted', 10000, 'submitted');
  const session = [...smsc.sessions].find((x) => x.bound);
  const dataSm = (fields) => new Promise((resolve) => session.data_sm(fields, resolve));
  const r = await dataSm({ esm_class: 0x04, source_addr: '447700900005', destination_addr: '4930111',
    receipted_message_id: smsc.submits[0].smsc_message_id, message_state: 2 });
  assert.equal(r.command_status, 0);
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 5000, 'delivered by the data_sm receipt');

  await j.mi('routes.add', { name: 'mo', priority: 5, dst_prefix: '4479', target: 'op' });
  const mo = await dataSm({ source_addr: '447700900001', destination_addr: '447912345678',
    message_payload: 'an MO in a data sm' });
  assert.equal(mo.command_status, 0, 'data_sm_resp after the commit');
  await waitFor(() => smsc.submits.some((p) => p.short_message.message === 'an MO in a data sm'), 10000,
    'the MO routed on');
});
