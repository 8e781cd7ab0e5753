// Receipt ids in another base than the submit_sm_resp, and the
// registered_delivery of a client connector (issue 7).  Many SMSCs answer
// submit_sm with a hex id and quote it in decimal in the receipt's "id:"
// (or the reverse); conf "receipt_ids" says so ("submit_hex_receipt_dec",
// "submit_dec_receipt_hex"), or "auto" tries the other forms on a miss —
// also for a receipt that overtakes its submit_sm_resp.  The default
// ("same") matches as written only.  Conf "registered_delivery" is what
// every submit_sm to that SMSC asks, and decides whether the message then
// waits for a receipt.  The operator is a small npm smpp SMSC whose ids
// are 64-bit numbers written in the base each test picks.  Loopback only;
// every wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor } from './lib/junction.mjs';
import { waitBound, startScriptedSmsc } from './lib/smsc.mjs';

const SMPP_PARAMS = { 'smpp.reconnect_s': 1, 'smpp.enquire_link_s': 2 };
const BIG = 18446744073709551000n; // near 2^64: 20 decimal digits, past a double's 2^53

const receiptText = (id, stat) =>
  `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612011200 ` +
  `done date:2612011201 stat:${stat} err:000 text:x`;
// hex as some SMSCs write it: upper case, zero-padded (norm drops both)
const write = (v, base) => (base === 'hex' ? v.toString(16).toUpperCase().padStart(18, '0') : v.toString(10));

// An SMSC whose n-th submit (from 1) has the number opts.value(n) (default
// BIG + n) as its id, answered in base bases(n)[0] and receipted in
// bases(n)[1].  opts.ahead: the DELIVRD receipt goes out before the
// submit_sm_resp, which follows once junction acknowledged it.
async function startIdSmsc(opts = {}) {
  const bases = opts.bases || (() => ['hex', 'dec']);
  const value = opts.value || ((n) => BIG + BigInt(n));
  const s = await startScriptedSmsc('ids', (session, pdu) => {
    const n = ++s.n, [sb, rb] = bases(n), v = value(n);
    pdu.submitId = write(v, sb);
    pdu.receiptId = write(v, rb);
    s.submits.push(pdu);
    if (opts.ahead) {
      session.deliver_sm({ esm_class: 0x04, source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr, short_message: receiptText(pdu.receiptId, 'DELIVRD') }, (r) => {
        s.earlyAcked = (s.earlyAcked || 0) + (r.command_status === 0 ? 1 : 0);
        session.send(pdu.response({ message_id: pdu.submitId }));
      });
      return;
    }
    session.send(pdu.response({ message_id: pdu.submitId }));
  });
  // the receipt of submit k (0-based), as the SMSC writes it
  s.receipt = (k, stat = 'DELIVRD') => s.deliver({ esm_class: 0x04, source_addr: '447700900001',
    destination_addr: '4930111', short_message: receiptText(s.submits[k].receiptId, stat) });
  return s;
}

// junction with connector "op" (extra conf) to an id SMSC, route 44 -> op.
async function setup(t, conf = {}, smscOpts = {}, params = {}) {
  const smsc = await startIdSmsc(smscOpts);
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { ...SMPP_PARAMS, ...params } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'secret', ...conf } });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  return { smsc, j };
}

const statusOf = async (j, id) => (await j.mi('messages.get', { id })).status;
const counters = async (j) => (await j.mi('stats.get')).counters;
function sql(j, text) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', '-json', j.params['db.path'], text],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

// Inject one message per entry of bodies, wait until all are submitted.
async function injectSubmitted(j, bodies, extra = {}) {
  const ids = [];
  for (const [i, body] of bodies.entries())
    ids.push((await j.mi('messages.inject', { from: '4930111', to: `44770090010${i}`, body, ...extra })).id);
  await waitFor(async () => {
    for (const id of ids) if ((await statusOf(j, id)) !== 'submitted') return false;
    return true;
  }, 10000, 'submitted');
  return ids;
}

for (const [mode, sb, rb] of [['submit_hex_receipt_dec', 'hex', 'dec'], ['submit_dec_receipt_hex', 'dec', 'hex']]) {
  test(`receipt_ids ${mode}: a ${sb} submit id is matched by its ${rb} receipt, exactly at 64 bits`, async (t) => {
    const { smsc, j } = await setup(t, { receipt_ids: mode }, { bases: () => [sb, rb] });
    const trace = (await j.mi('trace.start', { connector: 'op' })).id;
    const [id] = await injectSubmitted(j, ['one base each way']);
    assert.notEqual(smsc.submits[0].submitId.replace(/^0+/, '').toLowerCase(), smsc.submits[0].receiptId.toLowerCase());
    const r = await smsc.receipt(0);
    assert.equal(r.command_status, 0);
    await waitFor(async () => (await statusOf(j, id)) === 'delivered', 5000, 'delivered by its receipt');
    const c = await counters(j);
    assert.equal(c['smpp.receipt_ids_converted'], 1, 'one id read in the other base');
    const want = `receipt id ${smsc.submits[0].receiptId.replace(/^0+/, '').toLowerCase()} read as ${smsc.submits[0].submitId.replace(/^0+/, '').toLowerCase()}`;
    const recs = (await j.mi('trace.list', { id: trace, after: 0 })).records;
    assert.ok(recs.some((x) => x.kind === 'log' && x.summary.startsWith(want)),
      `the trace tells "${want}": ${JSON.stringify(recs.map((x) => x.summary))}`);
    assert.equal(c['core.receipts_unknown'] ?? 0, 0);
  });
}

test('receipt_ids auto: hex submit with decimal receipt and the reverse, also a hex id of digits only', async (t) => {
  // 1: hex answer, decimal receipt; 2: decimal answer, hex receipt;
  // 3: 0x1234 answered "1234" (hex) and receipted "4660": digits both
  const bases = (n) => (n === 2 ? ['dec', 'hex'] : ['hex', 'dec']);
  const value = (n) => (n === 3 ? 0x1234n : BIG + BigInt(n));
  const { smsc, j } = await setup(t, { receipt_ids: 'auto' }, { bases, value });
  const ids = [];
  for (const body of ['auto one', 'auto two', 'auto three']) // in order: the SMSC counts submits
    ids.push(...await injectSubmitted(j, [body]));
  assert.equal(smsc.submits[2].submitId, '000000000000001234');
  for (let k = 0; k < 3; k++) {
    const r = await smsc.receipt(k);
    assert.equal(r.command_status, 0);
    await waitFor(async () => (await statusOf(j, ids[k])) === 'delivered', 5000, `message ${k + 1} delivered`);
  }
  const c = await counters(j);
  assert.equal(c['db.receipts_alt'], 3, 'each matched under another form of its id');
  assert.equal(c['core.receipts_unknown'] ?? 0, 0);
});

test('receipt_ids auto: a receipt in the other base that overtakes its submit_sm_resp is parked and placed', async (t) => {
  const { smsc, j } = await setup(t, { receipt_ids: 'auto' }, { ahead: true, bases: (n) => (n === 1 ? ['hex', 'dec'] : ['dec', 'hex']) });
  for (const body of ['early hex', 'early dec']) {
    const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900200', body });
    await waitFor(async () => (await statusOf(j, id)) === 'delivered', 10000, `${body}: delivered by the early receipt`);
  }
  assert.equal(smsc.earlyAcked, 2, 'junction acknowledged both receipts that came first');
  const c = await counters(j);
  assert.equal(c['core.receipts_early'], 2, 'parked as written');
  assert.equal(c['db.receipts_unparked'], 2, 'and placed when their submits came');
  assert.equal(c['db.receipts_alt'], 2, 'under the other form of the submit id');
});

test('receipt_ids auto: early receipts in the other base for every part of a long message fold into its outcome', async (t) => {
  const LONG = Array.from({ length: 80 }, (_, i) => `w${String(i + 1).padStart(3, '0')} `).join('').slice(0, 400);
  const { smsc, j } = await setup(t, { receipt_ids: 'auto' }, { ahead: true, bases: () => ['hex', 'dec'] });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900300', body: LONG });
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 10000, 'delivered: every part\'s receipt came first');
  assert.equal(smsc.submits.length, 3, 'three parts');
  const c = await counters(j);
  assert.equal(c['db.receipts_unparked'], 3, 'each part\'s receipt placed when its answer came');
  assert.equal(c['db.receipts_alt'], 3, 'each under the other form of its part\'s id');
});

test('receipt_ids same (the default): a receipt in the other base matches nothing', async (t) => {
  const { smsc, j } = await setup(t, {}, { bases: () => ['hex', 'dec'] });
  const [id] = await injectSubmitted(j, ['one base only']);
  const r = await smsc.receipt(0);
  assert.equal(r.command_status, 0, 'acknowledged all the same');
  // the answer comes after the commit: nothing changed by then
  assert.equal(await statusOf(j, id), 'submitted', 'still waiting for its receipt');
  const c = await counters(j);
  assert.equal(c['core.receipts_unknown'], 1, 'counted unknown');
  assert.equal(c['smpp.receipt_ids_converted'] ?? 0, 0);
  assert.equal(c['db.receipts_alt'] ?? 0, 0);
});

test('registered_delivery 1 on the connector: asked in every submit_sm, its receipt matched', async (t) => {
  const { smsc, j } = await setup(t, { registered_delivery: 1 }, { bases: () => ['dec', 'dec'] });
  const trace = (await j.mi('trace.start', { connector: 'op' })).id;
  const [id] = await injectSubmitted(j, ['asked by the connector'], { registered_delivery: 0 });
  const recs = (await j.mi('trace.list', { id: trace, after: 0 })).records;
  assert.ok(recs.some((x) => x.kind === 'log' && /^registered_delivery 1 \(connector op\), the message asked 0/.test(x.summary)),
    JSON.stringify(recs.map((x) => x.summary)));
  assert.equal(smsc.submits[0].registered_delivery, 1, 'the SMSC was asked for a receipt');
  assert.equal((await counters(j))['smpp.registered_delivery_set'], 1, 'counted');
  assert.equal(sql(j, `SELECT flags & 2 AS n FROM messages WHERE id = '${id}';`)[0].n, 0, 'waits for one');
  const r = await smsc.receipt(0);
  assert.equal(r.command_status, 0);
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 5000, 'delivered by its receipt');
});

test('registered_delivery 0 on the connector: none asked, the message is done at submit', async (t) => {
  const { smsc, j } = await setup(t, { registered_delivery: 0 }, { bases: () => ['dec', 'dec'] },
    { 'core.sweep_ms': 200, 'core.receipt_wait_s': 1 });
  // a control through a connector without the setting, to the same SMSC: it waits, then expires
  await j.mi('connectors.add', { name: 'plain', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jy', password: 'secret' } });
  await waitBound(j, 'plain');
  await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'plain' });
  const [id] = await injectSubmitted(j, ['no receipt asked']); // registered_delivery 1 by default
  assert.equal(smsc.submits[0].registered_delivery, 0, 'the SMSC was asked for none');
  assert.equal(sql(j, `SELECT flags & 2 AS n FROM messages WHERE id = '${id}';`)[0].n, 2, 'waits for none');
  const ctl = (await j.mi('messages.inject', { from: '4930111', to: '4917000000', body: 'control' })).id;
  await waitFor(async () => (await statusOf(j, ctl)) === 'expired', 10000, 'the control expired waiting');
  assert.equal(await statusOf(j, id), 'submitted', 'not expired: it waited for nothing');
  assert.equal(smsc.submits[1].registered_delivery, 1, 'the control asked for its receipt');
  assert.equal((await counters(j))['smpp.registered_delivery_set'], 1, 'only the one it changed counted');
});

test('connectors.add refuses bad receipt_ids and registered_delivery, naming the key', async (t) => {
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());
  const base = { host: '127.0.0.1', port: 9, system_id: 'jx', password: 'pw' };
  for (const [k, v] of [['receipt_ids', 'hex'], ['receipt_ids', 1], ['registered_delivery', 3],
    ['registered_delivery', '1'], ['registered_delivery', -1]])
    await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'smpp', conf: { ...base, [k]: v } }),
      new RegExp(k), `${k} ${JSON.stringify(v)}`);
  await j.mi('connectors.add', { name: 'ok', type: 'smpp',
    conf: { ...base, receipt_ids: 'auto', registered_delivery: 2 } });
});
