// Toward customers (issue 7): SMPP customers bound to junction's own SMSC
// port get their delivery receipts and mobile-originated messages as
// deliver_sm.  Every account has an implicit delivery connector
// `account:<system_id>` (listed by connectors.list, counting the account's
// receiver/transceiver binds); a customer's receipt (SMPP 3.4 appendix B
// text plus receipted_message_id / message_state) goes out on one of those
// binds once its message is final, and a rule may route an MO to the
// account.  What cannot be delivered yet waits queued; a deliver_sm_resp
// error is retried with backoff.  The upstream operator is the fake SMSC of
// lib/smsc.mjs; customers are npm smpp sessions.  Loopback only; every
// wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import smpp from 'smpp';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, submit, waitBound } from './lib/smsc.mjs';

const SMPP_PARAMS = { 'smpp.reconnect_s': 1, 'smpp.enquire_link_s': 2 };
const ESME_RTHROTTLED = 0x58;
const ESME_RSYSERR = 0x08;
const ESME_RINVDSTADR = 0x0b;
const MSG_STATE_DELIVERED = 2;
const MSG_STATE_UNDELIVERABLE = 5;

// SMPP 3.4 appendix B: id, sub, dlvrd, submit date, done date (YYMMDDhhmm),
// stat, err, text.
const RECEIPT_RE =
  /^id:(\S+) sub:(\d{3}) dlvrd:(\d{3}) submit date:(\d{10}) done date:(\d{10}) stat:(\w+) err:(\w{3}) text:/i;

async function addUpstream(j, name, smsc) {
  await j.mi('connectors.add', {
    name, type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: `jx-${name}`, password: 'secret' },
  });
  await waitBound(j, name);
}

// A customer of junction's SMSC port, bound as `as` (transmitter, receiver,
// transceiver).  Every deliver_sm junction sends it is recorded in `got`
// (with `answered`: the status it was given) and answered with
// answer(pdu, n) (n counts from 1; default ESME_ROK).  It answers
// enquire_link and an unbind from junction like a real ESME.
function customer(j, systemId, password, { as = 'transceiver', answer = () => 0 } = {}) {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ url: `smpp://127.0.0.1:${j.ports.smpp}` });
    const c = { session, got: [], closed: false, unbound: false };
    c.close = () => { if (!c.closed) session.destroy(); };
    const t = setTimeout(() => reject(new Error(`no bind_${as}_resp`)), 10000);
    session.on('deliver_sm', (pdu) => {
      const status = answer(pdu, c.got.length + 1);
      pdu.answered = status;
      c.got.push(pdu);
      session.send(pdu.response({ command_status: status }));
    });
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => { c.unbound = true; session.send(pdu.response()); session.close(); });
    session.on('close', () => { c.closed = true; });
    session.on('error', (e) => { clearTimeout(t); if (!c.resp) reject(e); });
    session.on('connect', () => {
      session[`bind_${as}`]({ system_id: systemId, password }, (resp) => {
        clearTimeout(t);
        c.resp = resp;
        if (resp.command_status !== 0) {
          session.destroy();
          reject(new Error(`bind_${as} as ${systemId} refused: 0x${resp.command_status.toString(16)}`));
        } else resolve(c);
      });
    });
  });
}

// The text of a deliver_sm: short_message, or message_payload when empty.
function smText(pdu) {
  const asText = (v) => {
    if (v == null) return '';
    if (typeof v === 'string') return v;
    if (Buffer.isBuffer(v)) return v.toString('latin1');
    return asText(v.message);
  };
  return asText(pdu.short_message) || asText(pdu.message_payload);
}

const isReceipt = (pdu) => (pdu.esm_class & 0x3c) === 0x04;

// The fake SMSC's receipt for a submit_sm it took.
async function upstreamReceipt(smsc, pdu, stat = 'DELIVRD', err = '000') {
  const resp = await smsc.deliver({
    esm_class: 0x04, source_addr: pdu.destination_addr, destination_addr: pdu.source_addr || 'x',
    short_message: `id:${pdu.smsc_message_id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
      `submit date:2612011200 done date:2612011201 stat:${stat} err:${err} text:x`,
  });
  assert.equal(resp.command_status, 0, 'junction acknowledged the upstream receipt');
}

const upstreamSubmit = (smsc, dst) =>
  waitFor(() => smsc.submits.find((p) => p.destination_addr === dst), 10000, `submit_sm to ${dst} at the SMSC`);

const waitStatus = (j, id, status, timeoutMs = 10000) => waitFor(async () => {
  const m = await j.mi('messages.get', { id });
  return (Array.isArray(status) ? status.includes(m.status) : m.status === status) && m;
}, timeoutMs, `message ${id} ${status}`);

const accountConnector = async (j, systemId) =>
  (await j.mi('connectors.list')).find((c) => c.name === `account:${systemId}`);

// Messages junction holds for delivery to an account (receipts and MOs).
const toAccount = async (j, systemId) =>
  (await j.mi('messages.list', { limit: 1000 })).filter((m) => m.target === `account:${systemId}`);

// A parsed receipt deliver_sm: its text fields and TLVs.
function receipt(pdu) {
  const text = smText(pdu);
  const m = RECEIPT_RE.exec(text);
  assert.ok(m, `appendix B receipt text: ${JSON.stringify(text)}`);
  return { text, id: m[1], sub: m[2], dlvrd: m[3], submitDate: m[4], doneDate: m[5], stat: m[6], err: m[7],
    receipted: pdu.receipted_message_id, state: pdu.message_state };
}

test('every account has an account:<system_id> connector counting its receiver binds; account: names cannot be added', async (t) => {
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });

  const c0 = await waitFor(() => accountConnector(j, 'acme'), 5000, 'account:acme listed');
  assert.equal(c0.type, 'smpp');
  assert.equal(c0.conf.account, 'acme');
  assert.equal(c0.status.state, 'unbound');
  assert.equal(c0.status.binds, 0);

  const tx = await customer(j, 'acme', 'right', { as: 'transmitter' });
  t.after(() => tx.close());
  // a transmitter cannot take deliver_sm: still no bind counted
  assert.equal((await accountConnector(j, 'acme')).status.binds, 0, 'a transmitter is not a delivery bind');
  assert.equal((await accountConnector(j, 'acme')).status.state, 'unbound');

  const rx = await customer(j, 'acme', 'right', { as: 'receiver' });
  t.after(() => rx.close());
  await waitFor(async () => {
    const c = await accountConnector(j, 'acme');
    return c.status.state === 'bound' && c.status.binds === 1;
  }, 5000, 'account:acme bound with one bind');
  const trx = await customer(j, 'acme', 'right', { as: 'transceiver' });
  t.after(() => trx.close());
  await waitFor(async () => (await accountConnector(j, 'acme')).status.binds === 2, 5000, 'two binds');

  rx.close();
  await waitFor(async () => (await accountConnector(j, 'acme')).status.binds === 1, 5000,
    'one bind after the receiver left');
  trx.close();
  await waitFor(async () => {
    const c = await accountConnector(j, 'acme');
    return c.status.state === 'unbound' && c.status.binds === 0;
  }, 5000, 'account:acme unbound once no receiver is left');

  await assert.rejects(j.mi('connectors.add', {
    name: 'account:rogue', type: 'smpp',
    conf: { host: '127.0.0.1', port: 9, system_id: 'x', password: 'y' },
  }), (e) => !!e.rpc, 'connectors.add of an account: name is an MI error');
  assert.ok(!(await j.mi('connectors.list')).some((c) => c.name === 'account:rogue'), 'nothing added');
  await assert.rejects(j.mi('connectors.add', {
    name: 'account:acme', type: 'smpp', conf: { account: 'acme' },
  }), (e) => !!e.rpc, 'nor can the implicit one be added again');
});

test('a delivered submit_sm with registered_delivery=1 comes back as an appendix B receipt quoting its message_id', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const cust = await customer(j, 'acme', 'right', { as: 'transceiver' });
  t.after(() => cust.close());

  const r = await submit(cust.session, {
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '4930111',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900123',
    registered_delivery: 1, short_message: 'please confirm',
  });
  assert.equal(r.command_status, 0);
  const stored = await j.mi('messages.get', { id: r.message_id });
  assert.equal(stored.source_connector, 'account:acme', 'a customer submit comes from its account connector');
  assert.match(JSON.stringify(stored), /"sender":"account:acme"/, 'the envelope names who sent it');

  const up = await upstreamSubmit(smsc, '447700900123');
  await waitStatus(j, r.message_id, 'submitted');
  assert.equal(cust.got.length, 0, 'no receipt before the message is final');
  await upstreamReceipt(smsc, up, 'DELIVRD');
  await waitStatus(j, r.message_id, 'delivered');

  await waitFor(() => cust.got.length >= 1, 10000, 'the receipt at the customer');
  const pdu = cust.got[0];
  assert.equal(pdu.esm_class & 0x3c, 0x04, 'esm_class: SMSC delivery receipt');
  const rc = receipt(pdu);
  assert.equal(rc.id, r.message_id, 'id: is the message_id of the submit_sm_resp');
  assert.equal(rc.sub, '001');
  assert.equal(rc.dlvrd, '001');
  assert.equal(rc.stat, 'DELIVRD');
  assert.equal(rc.err, '000');
  assert.equal(rc.receipted, r.message_id, 'receipted_message_id TLV');
  assert.equal(rc.state, MSG_STATE_DELIVERED, 'message_state TLV: DELIVERED');
  assert.equal(pdu.source_addr, '447700900123', 'from the original recipient');
  assert.equal(pdu.destination_addr, '4930111', 'to the original sender');

  // the receipt's own message is delivered once the customer acknowledged it
  const [rcptMsg] = await waitFor(async () => {
    const l = (await toAccount(j, 'acme')).filter((m) => m.status === 'delivered');
    return l.length === 1 && l;
  }, 10000, 'the receipt message delivered');
  assert.notEqual(rcptMsg.id, r.message_id);
  assert.equal(cust.got.length, 1, 'one receipt, sent once');
});

test('failures are receipted UNDELIV for registered_delivery 1 and 2; a success with 2 and anything with 0 get none', async (t) => {
  const smsc = await startSmsc({
    submitStatus: (pdu) => (pdu.destination_addr.startsWith('4477009004') ? ESME_RINVDSTADR : 0),
  });
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const cust = await customer(j, 'acme', 'right', { as: 'transceiver' });
  t.after(() => cust.close());
  const send = (dst, rd) => submit(cust.session, {
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '4930111', dest_addr_ton: 1, dest_addr_npi: 1,
    destination_addr: dst, registered_delivery: rd, short_message: `rd ${rd} to ${dst}`,
  });

  // delivered with registered_delivery 2 (failure only) and 0 (none)
  const a = await send('447700900201', 2);
  const b = await send('447700900202', 0);
  assert.equal(a.command_status, 0);
  assert.equal(b.command_status, 0);
  const upA = await upstreamSubmit(smsc, '447700900201');
  const upB = await upstreamSubmit(smsc, '447700900202');
  await waitStatus(j, a.message_id, ['submitted', 'delivered']);
  await upstreamReceipt(smsc, upA, 'DELIVRD');
  await waitStatus(j, a.message_id, 'delivered');
  if ((upB.registered_delivery & 0x03) !== 0) { // junction asked upstream anyway: answer like an SMSC
    await upstreamReceipt(smsc, upB, 'DELIVRD');
    await waitStatus(j, b.message_id, 'delivered');
  } else {
    await waitStatus(j, b.message_id, 'submitted');
  }

  // refused for good upstream with registered_delivery 1 and 2; 0 fails silently
  const c = await send('447700900401', 1);
  const d = await send('447700900402', 2);
  const e = await send('447700900403', 0);
  for (const x of [c, d, e]) assert.equal(x.command_status, 0);
  for (const x of [c, d, e]) await waitStatus(j, x.message_id, 'failed');

  await waitFor(() => cust.got.length >= 2, 10000, 'two failure receipts at the customer');
  const rcs = cust.got.map((p) => {
    assert.ok(isReceipt(p), `esm_class 0x04, got 0x${p.esm_class.toString(16)}`);
    return receipt(p);
  });
  assert.deepEqual(rcs.map((x) => x.id).sort(), [c.message_id, d.message_id].sort(),
    'receipts for the two failures asking for one, none for the deliveries nor for registered_delivery 0');
  for (const x of rcs) {
    assert.equal(x.stat, 'UNDELIV');
    assert.equal(x.state, MSG_STATE_UNDELIVERABLE, 'message_state TLV: UNDELIVERABLE');
    assert.equal(x.receipted, x.id, 'receipted_message_id TLV');
  }
  // everything for the account has been acknowledged: no other receipt is waiting
  await waitFor(async () => {
    const l = await toAccount(j, 'acme');
    return l.length === 2 && l.every((m) => m.status === 'delivered');
  }, 10000, 'exactly the two receipt messages, delivered');
  assert.equal(cust.got.length, 2);
});

test('a receipt for a customer bound only as transmitter waits queued and goes out when it binds a receiver', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const tx = await customer(j, 'acme', 'right', { as: 'transmitter' });
  t.after(() => tx.close());

  const r = await submit(tx.session, {
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '4930111', dest_addr_ton: 1, dest_addr_npi: 1,
    destination_addr: '447700900301', registered_delivery: 1, short_message: 'receipt later',
  });
  assert.equal(r.command_status, 0);
  const up = await upstreamSubmit(smsc, '447700900301');
  await waitStatus(j, r.message_id, ['submitted', 'delivered']);
  await upstreamReceipt(smsc, up, 'DELIVRD');
  await waitStatus(j, r.message_id, 'delivered');

  const [queued] = await waitFor(async () => {
    const l = (await toAccount(j, 'acme')).filter((m) => m.status === 'queued');
    return l.length === 1 && l;
  }, 10000, 'the receipt message queued for account:acme');
  assert.equal((await j.mi('messages.get', { id: queued.id })).status, 'queued');
  assert.equal(tx.got.length, 0, 'nothing sent to the transmitter');
  tx.close();

  const rx = await customer(j, 'acme', 'right', { as: 'receiver' });
  t.after(() => rx.close());
  await waitFor(() => rx.got.length >= 1, 10000, 'the queued receipt at the new receiver');
  const rc = receipt(rx.got[0]);
  assert.ok(isReceipt(rx.got[0]));
  assert.equal(rc.id, r.message_id);
  assert.equal(rc.stat, 'DELIVRD');
  assert.equal(rc.receipted, r.message_id);
  assert.equal(rc.state, MSG_STATE_DELIVERED);
  await waitStatus(j, queued.id, 'delivered');
  assert.equal(rx.got.length, 1);
});

test('an MO routed to account:acme reaches its bound receiver as deliver_sm and is delivered on deliver_sm_resp OK', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  await j.mi('routes.add', { name: 'mo-acme', priority: 10, dst_prefix: '4915', target: 'account:acme' });
  const rx = await customer(j, 'acme', 'right', { as: 'receiver' });
  t.after(() => rx.close());
  await waitBound(j, 'account:acme');

  const resp = await smsc.deliver({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900001',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '491510000001',
    esm_class: 0, data_coding: 0, short_message: 'hello acme',
  });
  assert.equal(resp.command_status, 0, 'junction took the MO');

  await waitFor(() => rx.got.length >= 1, 10000, 'the MO at the customer');
  const pdu = rx.got[0];
  assert.ok(!isReceipt(pdu), 'a plain message, not a receipt');
  assert.equal(smText(pdu), 'hello acme');
  assert.equal(pdu.source_addr, '447700900001');
  assert.equal(pdu.destination_addr, '491510000001');

  const [mo] = await waitFor(async () => {
    const l = await toAccount(j, 'acme');
    return l.length === 1 && l;
  }, 5000, 'the MO message for account:acme');
  const m = await waitStatus(j, mo.id, 'delivered');
  assert.equal(m.source_connector, 'op1');
  assert.equal(rx.got.length, 1, 'sent once');
});

test('a customer answering deliver_sm_resp with an error gets the MO again later, and it is delivered once answered OK', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { ...SMPP_PARAMS, 'core.retry_base_ms': 100, 'core.retry_max_ms': 500 } });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  await j.mi('routes.add', { name: 'mo-acme', priority: 10, dst_prefix: '4915', target: 'account:acme' });
  const answers = [ESME_RTHROTTLED, ESME_RSYSERR];
  const rx = await customer(j, 'acme', 'right', { as: 'receiver', answer: (pdu, n) => answers[n - 1] ?? 0 });
  t.after(() => rx.close());
  await waitBound(j, 'account:acme');

  const resp = await smsc.deliver({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900002',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '491510000002', short_message: 'try again',
  });
  assert.equal(resp.command_status, 0);

  const [mo] = await waitFor(async () => {
    const l = await toAccount(j, 'acme');
    return l.length === 1 && l;
  }, 5000, 'the MO message for account:acme');
  await waitFor(() => rx.got.length >= 3, 15000, 'three attempts: throttled, system error, OK');
  await waitStatus(j, mo.id, 'delivered');
  assert.deepEqual(rx.got.map((p) => p.answered), [ESME_RTHROTTLED, ESME_RSYSERR, 0]);
  for (const p of rx.got) {
    assert.equal(smText(p), 'try again', 'the same message each time');
    assert.equal(p.destination_addr, '491510000002');
  }
  assert.equal(rx.got.length, 3, 'nothing sent after the OK');
});

test('an MO for a customer that is not bound stays queued and is delivered when it binds', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  await j.mi('routes.add', { name: 'mo-acme', priority: 10, dst_prefix: '4915', target: 'account:acme' });

  const resp = await smsc.deliver({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900003',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '491510000003', short_message: 'while away',
  });
  assert.equal(resp.command_status, 0, 'taken although nobody is bound for it');
  const [mo] = await waitFor(async () => {
    const l = await toAccount(j, 'acme');
    return l.length === 1 && l[0].status === 'queued' && l;
  }, 10000, 'the MO queued for account:acme');
  assert.equal((await accountConnector(j, 'acme'))?.status?.state, 'unbound', 'account:acme listed, unbound');
  assert.equal((await j.mi('messages.get', { id: mo.id })).status, 'queued');

  const trx = await customer(j, 'acme', 'right', { as: 'transceiver' });
  t.after(() => trx.close());
  await waitFor(() => trx.got.length >= 1, 10000, 'the queued MO at the customer once bound');
  assert.equal(smText(trx.got[0]), 'while away');
  assert.equal(trx.got[0].source_addr, '447700900003');
  assert.equal(trx.got[0].destination_addr, '491510000003');
  assert.ok(!isReceipt(trx.got[0]));
  await waitStatus(j, mo.id, 'delivered');
  assert.equal(trx.got.length, 1);
});

// A junction with the fake SMSC as connector op1 (routes 44... there) and
// the account acme / pw.
async function upstreamAndAcme(t) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op1' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  return { smsc, j };
}

test('query_sm tells a customer the state of its own message, ENROUTE then DELIVERED; others\' ids and unknown ones fail', async (t) => {
  const { smsc, j } = await upstreamAndAcme(t);
  await j.mi('accounts.add', { system_id: 'other', password: 'pw' });
  const c = await customer(j, 'acme', 'pw');
  t.after(() => c.close());
  const o = await customer(j, 'other', 'pw');
  t.after(() => o.close());
  const query = (cust, id) => new Promise((resolve) =>
    cust.session.query_sm({ message_id: id, source_addr: '' }, resolve));

  const r = await submit(c.session, { destination_addr: '447700900901', short_message: 'ask me', registered_delivery: 1 });
  assert.equal(r.command_status, 0);
  const up = await upstreamSubmit(smsc, '447700900901');
  await waitStatus(j, r.message_id, 'submitted');
  let q = await query(c, r.message_id);
  assert.equal(q.command_status, 0);
  assert.equal(q.message_id, r.message_id);
  assert.equal(q.message_state, 1, 'ENROUTE while the receipt has not come');
  assert.equal(q.final_date, '', 'no final date yet');

  await upstreamReceipt(smsc, up);
  await waitStatus(j, r.message_id, 'delivered');
  q = await query(c, r.message_id);
  assert.equal(q.message_state, 2, 'DELIVERED');
  // npm smpp decodes the absolute time (YYMMDDhhmmss000+) into a Date
  assert.ok(q.final_date instanceof Date && Math.abs(q.final_date - Date.now()) < 120000,
    `final_date now: ${q.final_date}`);

  assert.equal((await query(o, r.message_id)).command_status, 0x67, 'another account\'s message: ESME_RQUERYFAIL');
  assert.equal((await query(c, '01ZZZZZZZZZZZZZZZZZZZZZZZZ')).command_status, 0x67, 'an unknown id');
});

test('submit_multi fans out one message per destination and answers once, listing those not taken', async (t) => {
  const { smsc, j } = await upstreamAndAcme(t);
  const c = await customer(j, 'acme', 'pw');
  t.after(() => c.close());

  const resp = await new Promise((resolve) => c.session.submit_multi({
    source_addr: '4930111',
    dest_address: [
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900951' },
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '999' },
      { dl_name: 'friends' },
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900952' },
    ],
    short_message: 'to many', registered_delivery: 1,
  }, resolve));
  assert.equal(resp.command_status, 0);
  assert.match(resp.message_id, /^[0-9A-Z]{26}$/, 'the first stored destination\'s id');
  const bad = Object.fromEntries(resp.unsuccess_sme.map((u) => [u.destination_addr, u.error_status_code]));
  assert.deepEqual(bad, { 999: 0x0b, friends: 0x34 }, 'no route, and the distribution list junction has none of');
  for (const dst of ['447700900951', '447700900952'])
    assert.equal((await upstreamSubmit(smsc, dst)).short_message.message, 'to many');
  const first = await j.mi('messages.get', { id: resp.message_id });
  assert.equal(first.source_connector, 'account:acme');
  // each destination is a message of its own, with its own receipt
  const stored = (await j.mi('messages.list', { limit: 100 })).filter((m) => m.source_connector === 'account:acme');
  assert.equal(stored.length, 2);
});

test('data_sm from a customer is stored and delivered like a submit_sm, answered data_sm_resp with its id', async (t) => {
  const { smsc, j } = await upstreamAndAcme(t);
  const c = await customer(j, 'acme', 'pw');
  t.after(() => c.close());
  const resp = await new Promise((resolve) => c.session.data_sm({ source_addr: '4930111',
    destination_addr: '447700900961', message_payload: 'carried in a data sm', registered_delivery: 1 }, resolve));
  assert.equal(resp.command_status, 0);
  assert.match(resp.message_id, /^[0-9A-Z]{26}$/);
  const up = await upstreamSubmit(smsc, '447700900961');
  assert.equal(up.short_message.message, 'carried in a data sm');
  assert.equal((await j.mi('messages.get', { id: resp.message_id })).source_connector, 'account:acme');
});

// core.room_windows 2: the core gives an account's connector two windows of
// deliveries; the wire still carries at most smpp.deliver_window unanswered
// deliver_sm per bind, the rest wait in the adapter, in order, for a place.
test('with core.room_windows 2 a slow customer has at most smpp.deliver_window unanswered deliver_sm while twice that is outstanding, and gets every MO in order', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { ...SMPP_PARAMS, 'core.room_windows': 2, 'smpp.deliver_window': 3 } });
  t.after(() => j.cleanup());
  await addUpstream(j, 'op1', smsc);
  await j.mi('accounts.add', { system_id: 'slow', password: 'right' });
  await j.mi('routes.add', { name: 'mo-slow', priority: 10, dst_prefix: '4915', target: 'account:slow' });
  // a receiver that holds its answers until released
  const held = [], got = [];
  let release = false, maxHeld = 0;
  const session = smpp.connect({ url: `smpp://127.0.0.1:${j.ports.smpp}` });
  t.after(() => session.destroy());
  session.on('error', () => {});
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('deliver_sm', (pdu) => {
    got.push(smText(pdu));
    if (release) return session.send(pdu.response());
    held.push(pdu);
    maxHeld = Math.max(maxHeld, held.length);
  });
  await new Promise((resolve, reject) => session.on('connect', () => session.bind_receiver(
    { system_id: 'slow', password: 'right' }, (r) => (r.command_status === 0 ? resolve() : reject(new Error('bind'))))));
  await waitBound(j, 'account:slow');

  const N = 10;
  for (let i = 0; i < N; i++) {
    const resp = await smsc.deliver({ source_addr: '447700900001', destination_addr: '491510000001',
      short_message: `mo ${i}` });
    assert.equal(resp.command_status, 0);
  }
  const queue = async () => (await j.mi('queues.list')).find((q) => q.name === 'account:slow');
  await waitFor(async () => (await queue())?.outstanding === 6, 10000, 'two windows outstanding');
  await waitFor(() => held.length === 3, 5000, 'a window on the wire');
  assert.equal(maxHeld, 3, 'never more than smpp.deliver_window unanswered');
  release = true;
  for (const pdu of held.splice(0)) session.send(pdu.response());
  await waitFor(() => got.length === N, 10000, 'every MO at the customer');
  assert.deepEqual(got, Array.from({ length: N }, (_, i) => `mo ${i}`), 'in order');
  await waitFor(async () => (await toAccount(j, 'slow')).every((m) => m.status === 'delivered'), 10000, 'all delivered');
});
