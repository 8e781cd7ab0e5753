// cancel_sm and replace_sm from SMPP customers (issue 7): a message that
// still waits in its queue (its connector held down by smpp.unbind) can be
// cancelled - by id, or every one from a source to a destination - or have
// its text replaced, by the account that submitted it only; the change is
// committed before the answer, survives a restart, and a cancelled message
// never reaches the SMSC.  A message already sent cannot be cancelled
// (ESME_RCANCELFAIL) or replaced (ESME_RREPLACEFAIL).  A queue spilled
// past core.queue_memory: a message held aside or waiting only in the
// store is cancelled (by id or by addresses) or replaced too, even when a
// page reads it while its cancel commits; cancels racing a queue that
// drains (a throughput limit; spilled or not) leave each message
// cancelled or sent, never both, none lost; replaces racing one leave each
// sent once, with the new text if its replace succeeded.  Cut bodies get generic_nack.  The
// SMSC is the fake of lib/smsc.mjs, customers are npm smpp sessions.
// Loopback only; every wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, bindCustomer, submit, waitBound, connectorState } from './lib/smsc.mjs';

const ESME_RINVMSGID = 0x0c;
const ESME_RCANCELFAIL = 0x11;
const ESME_RREPLACEFAIL = 0x13;

async function setup(t) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', {
    name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw' },
  });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  await j.mi('accounts.add', { system_id: 'other', password: 'pw' });
  await hold(j);
  const acme = await customer(t, j, 'acme');
  return { smsc, j, acme };
}

// smpp.unbind: the connector stays down, its messages stay queued.
async function hold(j) {
  await j.mi('smpp.unbind', { connector: 'op' });
  await waitFor(async () => (await connectorState(j, 'op')) === 'held', 10000, 'op held');
}

async function release(j) {
  await j.mi('smpp.bind', { connector: 'op' });
  await waitBound(j, 'op');
}

async function customer(t, j, systemId) {
  const { session, resp } = await bindCustomer(j.ports.smpp, systemId, 'pw');
  assert.equal(resp.command_status, 0);
  session.on('error', () => {});
  t.after(() => session.destroy());
  return session;
}

// A request PDU on a customer session; resolves with its response.
const call = (session, cmd, fields, ms = 10000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no ${cmd}_resp`)), ms);
  session[cmd](fields, (resp) => { clearTimeout(timer); resolve(resp); });
});

async function queued(j, session, text, { from = '447700100001', to = '447700900001' } = {}) {
  const resp = await submit(session, { source_addr: from, destination_addr: to, short_message: text });
  assert.equal(resp.command_status, 0, `submit_sm of ${text} accepted`);
  assert.equal((await j.mi('messages.get', { id: resp.message_id })).status, 'queued');
  return resp.message_id;
}

const text = (pdu) => {
  const sm = pdu.short_message;
  return typeof sm === 'string' ? sm : Buffer.isBuffer(sm) ? sm.toString('latin1') : sm.message;
};
const sentTexts = (smsc) => smsc.submits.map(text);
const sent = (smsc, s) => waitFor(() => sentTexts(smsc).includes(s), 10000, `${s} at the SMSC`);

test('cancel_sm of a queued message: ROK, failed "cancelled", never sent; another account, a sent one, an unknown id fail', async (t) => {
  const { smsc, j, acme } = await setup(t);
  const other = await customer(t, j, 'other');
  const trace = await j.mi('trace.start', { peer: '127.0.0.1' });
  const gone = await queued(j, acme, 'cancel me');
  const kept = await queued(j, acme, 'keep me');

  // another account cannot cancel it, nor can a malformed id
  assert.equal((await call(other, 'cancel_sm', { message_id: gone })).command_status, ESME_RCANCELFAIL);
  assert.equal((await call(acme, 'cancel_sm', { message_id: 'nope' })).command_status, ESME_RINVMSGID);
  assert.equal((await j.mi('messages.get', { id: gone })).status, 'queued');

  const resp = await call(acme, 'cancel_sm', { message_id: gone });
  assert.equal(resp.command_status, 0);
  // committed before the answer: final already when the resp came
  const m = await j.mi('messages.get', { id: gone });
  assert.equal(m.status, 'failed');
  assert.equal(m.reason_text, 'cancelled');
  assert.equal((await call(acme, 'cancel_sm', { message_id: gone })).command_status, ESME_RCANCELFAIL,
    'a final message cannot be cancelled again');

  await release(j);
  await sent(smsc, 'keep me');
  await waitFor(async () => (await j.mi('messages.get', { id: kept })).status === 'submitted', 10000, 'kept submitted');
  assert.ok(!sentTexts(smsc).includes('cancel me'), 'the cancelled message never reached the SMSC');
  assert.equal((await call(acme, 'cancel_sm', { message_id: kept })).command_status, ESME_RCANCELFAIL,
    'a submitted message cannot be cancelled');
  // on the trace bus like every PDU, with the message id
  const pdus = (await j.mi('trace.list', { id: trace.id, after: 0 })).records.filter((x) => x.kind === 'pdu');
  assert.ok(pdus.some((x) => x.dir === 'in' && x.summary.startsWith('cancel_sm ') && x.smpp_msgid === gone),
    JSON.stringify(pdus.map((x) => x.summary)));
  assert.ok(pdus.some((x) => x.dir === 'out' && x.summary.startsWith('cancel_sm_resp ') && /status 0x11/.test(x.summary)));
  const { counters } = await j.mi('stats.get');
  assert.equal(counters['smpp.server_cancel_sm'], 5);
  assert.equal(counters['smpp.server_cancel_ok'], 1);
});

test('cancel_sm without an id cancels every queued message of the account from source to destination', async (t) => {
  const { smsc, j, acme } = await setup(t);
  const from = '447700100002', to = '447700900002';
  const a = await queued(j, acme, 'pair one', { from, to });
  const b = await queued(j, acme, 'pair two', { from, to });
  const c = await queued(j, acme, 'elsewhere', { from, to: '447700900099' });
  const other = await customer(t, j, 'other');
  const d = await queued(j, other, 'not acme', { from, to });

  const resp = await call(acme, 'cancel_sm', {
    message_id: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: from,
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: to,
  });
  assert.equal(resp.command_status, 0);
  for (const id of [a, b]) assert.equal((await j.mi('messages.get', { id })).status, 'failed');
  for (const id of [c, d]) assert.equal((await j.mi('messages.get', { id })).status, 'queued');

  const again = await call(acme, 'cancel_sm', {
    message_id: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: from,
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: to,
  });
  assert.equal(again.command_status, ESME_RCANCELFAIL, 'nothing left to cancel');
  await release(j);
  await sent(smsc, 'elsewhere');
  await sent(smsc, 'not acme');
  assert.ok(!sentTexts(smsc).some((s) => s.startsWith('pair')), 'no cancelled message was sent');
});

test('replace_sm of a queued message: the SMSC gets the new text; a sent one cannot be replaced', async (t) => {
  const { smsc, j, acme } = await setup(t);
  const other = await customer(t, j, 'other');
  const id = await queued(j, acme, 'old text');

  assert.equal((await call(other, 'replace_sm', { message_id: id, short_message: Buffer.from('hijack') }))
    .command_status, ESME_RREPLACEFAIL, 'another account cannot replace it');
  const resp = await call(acme, 'replace_sm', { message_id: id, short_message: Buffer.from('new text') });
  assert.equal(resp.command_status, 0);
  const m = await j.mi('messages.get', { id });
  assert.equal(m.status, 'queued', 'still queued after the replace');
  assert.equal(m.envelope.body, 'new text', 'the stored envelope has the new text');

  await release(j);
  await sent(smsc, 'new text');
  assert.ok(!sentTexts(smsc).includes('old text'));
  assert.ok(!sentTexts(smsc).includes('hijack'));
  await waitFor(async () => (await j.mi('messages.get', { id })).status === 'submitted', 10000, 'submitted');
  assert.equal((await call(acme, 'replace_sm', { message_id: id, short_message: Buffer.from('late') }))
    .command_status, ESME_RREPLACEFAIL);
});

test('a cancel is durable: after a restart the message stays cancelled and is never sent', async (t) => {
  const { smsc, j, acme } = await setup(t);
  const gone = await queued(j, acme, 'cancelled before the restart');
  const kept = await queued(j, acme, 'sent after the restart');
  assert.equal((await call(acme, 'cancel_sm', { message_id: gone })).command_status, 0);
  acme.destroy();

  await j.stop();
  j.start();
  await j.ready();
  if ((await connectorState(j, 'op')) === 'held') await release(j);
  await sent(smsc, 'sent after the restart');
  await waitFor(async () => (await j.mi('messages.get', { id: kept })).status === 'submitted', 10000, 'kept submitted');
  const m = await j.mi('messages.get', { id: gone });
  assert.equal(m.status, 'failed');
  assert.equal(m.reason_text, 'cancelled');
  assert.ok(!sentTexts(smsc).includes('cancelled before the restart'));
});

test('cancel_sm racing the queue as it feeds the connector: each message is cancelled or sent, never both', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(() => j.cleanup());
  // 25 msg/s: the queue drains while the cancels arrive
  await j.mi('connectors.add', {
    name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw', throughput: 25 },
  });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  const acme = await customer(t, j, 'acme');

  const n = 30;
  const runs = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const body = `race ${i}`;
    const resp = await submit(acme, { source_addr: '447700100009', destination_addr: '447700900009', short_message: body });
    assert.equal(resp.command_status, 0);
    // staggered, so that cancels meet the queue at every point of its draining
    await new Promise((r) => setTimeout(r, i * 25));
    const c = await call(acme, 'cancel_sm', { message_id: resp.message_id });
    return { body, id: resp.message_id, status: c.command_status };
  }));
  const cancelled = runs.filter((r) => r.status === 0), refused = runs.filter((r) => r.status === ESME_RCANCELFAIL);
  assert.equal(cancelled.length + refused.length, n, 'every cancel answered ROK or RCANCELFAIL');
  assert.ok(cancelled.length > 0, 'some were still queued');
  assert.ok(refused.length > 0, 'some were on their way already');
  t.diagnostic(`${cancelled.length} cancelled, ${refused.length} sent first`);
  for (const r of refused) await sent(smsc, r.body);
  for (const r of cancelled) {
    const m = await j.mi('messages.get', { id: r.id });
    assert.equal(m.status, 'failed');
    assert.equal(m.reason_text, 'cancelled');
  }
  // nothing of them waits any more (each submitted or failed), and no cancelled one was sent
  await waitFor(async () => {
    for (const r of runs) if (!['submitted', 'failed'].includes((await j.mi('messages.get', { id: r.id })).status)) return false;
    return true;
  }, 10000, 'every message submitted or cancelled');
  for (const r of cancelled) assert.ok(!sentTexts(smsc).includes(r.body), `${r.body} cancelled and sent`);
  assert.equal(smsc.submits.length, refused.length);
});

test('a cut cancel_sm or replace_sm gets generic_nack ESME_RINVCMDLEN and the session goes on; a receiver may not cancel', async (t) => {
  const { j, acme } = await setup(t);
  const id = await queued(j, acme, 'still here');
  const nacks = [];
  acme.on('generic_nack', (pdu) => nacks.push(pdu));
  // cancel_sm (8) with a body of one octet; replace_sm (7) whose sm_length runs past the body
  const cut = Buffer.from([0, 0, 0, 17, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x7f, 0x01, 0x41]);
  const body = Buffer.concat([Buffer.from(`${id}\0`), Buffer.from([1, 1]), Buffer.from('447700100001\0\0\0'),
    Buffer.from([0, 0, 200]), Buffer.from('short')]);
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(7, 4);
  head.writeUInt32BE(0x7f02, 12);
  acme.socket.write(Buffer.concat([cut, head, body]));
  await waitFor(() => nacks.length >= 2, 5000, 'two generic_nack');
  assert.deepEqual(nacks.map((p) => [p.sequence_number, p.command_status]), [[0x7f01, 0x02], [0x7f02, 0x02]]);
  assert.equal((await j.mi('messages.get', { id })).envelope.body, 'still here');

  const { session: rx, resp } = await bindCustomer(j.ports.smpp, 'acme', 'pw', 10000, 'receiver');
  assert.equal(resp.command_status, 0);
  t.after(() => rx.destroy());
  assert.equal((await call(rx, 'cancel_sm', { message_id: id })).command_status, 0x04, 'ESME_RINVBNDSTS');
  assert.equal((await call(acme, 'cancel_sm', { message_id: id })).command_status, 0, 'the session still works');
});

// A junction whose queue spills past 10 messages, its connector held down.
async function spillSetup(t, conf = {}) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'core.queue_memory': 10 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', {
    name: 'op', type: 'smpp', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw', ...conf },
  });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  await j.mi('accounts.add', { system_id: 'other', password: 'pw' });
  await hold(j);
  const acme = await customer(t, j, 'acme');
  return { smsc, j, acme };
}

const counters = async (j) => (await j.mi('stats.get')).counters;

// SQL on junction's store through the sqlite3 CLI (fault injection).
function sql(j, text) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', j.params['db.path'], text], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('a spilled queue: a message in memory, held aside or only in the store is cancelled (never sent) or replaced (the SMSC gets the new text)', async (t) => {
  const { smsc, j, acme } = await spillSetup(t);
  const other = await customer(t, j, 'other');
  const ids = [];
  // 10 in memory, 10 held aside while spilled, the last 5 only in the store
  for (let i = 0; i < 25; i++) ids.push(await queued(j, acme, `spill ${i}`));
  const q = (await j.mi('queues.list')).find((x) => x.name === 'op');
  assert.equal(q.spilled, true, 'past core.queue_memory: spilled');
  assert.equal(q.backlog, 25);
  assert.ok((await counters(j))['core.queue_left_in_store'] >= 5, 'some wait only in the store');

  assert.equal((await call(other, 'cancel_sm', { message_id: ids[24] })).command_status, ESME_RCANCELFAIL,
    'another account cannot cancel one in the store');
  assert.equal((await call(other, 'replace_sm', { message_id: ids[23], short_message: Buffer.from('hijack') }))
    .command_status, ESME_RREPLACEFAIL, 'nor replace it');
  for (const i of [0, 15, 24]) {
    assert.equal((await call(acme, 'cancel_sm', { message_id: ids[i] })).command_status, 0, `spill ${i} cancelled`);
    const m = await j.mi('messages.get', { id: ids[i] });
    assert.equal(m.status, 'failed');
    assert.equal(m.reason_text, 'cancelled');
  }
  for (const i of [14, 23]) {
    const resp = await call(acme, 'replace_sm', { message_id: ids[i], short_message: Buffer.from(`new ${i}`) });
    assert.equal(resp.command_status, 0, `spill ${i} replaced`);
    const m = await j.mi('messages.get', { id: ids[i] });
    assert.equal(m.status, 'queued');
    assert.equal(m.envelope.body, `new ${i}`);
  }
  assert.equal((await call(acme, 'cancel_sm', { message_id: ids[24] })).command_status, ESME_RCANCELFAIL,
    'a cancelled one cannot be cancelled again');
  const c = await counters(j);
  assert.ok(c['core.cancel_in_store'] >= 2, 'the held-aside and the store-only cancels went through the store');
  assert.ok(c['core.replace_in_store'] >= 2);
  assert.equal((await j.mi('queues.list')).find((x) => x.name === 'op').backlog, 22, 'three left the queue');

  await release(j);
  await sent(smsc, 'new 23');
  await sent(smsc, 'new 14');
  await waitFor(() => smsc.submits.length >= 22, 15000, 'the other 22 sent');
  await waitFor(async () => (await j.mi('queues.list')).find((x) => x.name === 'op').backlog === 0, 10000, 'drained');
  const texts = sentTexts(smsc);
  for (const i of [0, 15, 24]) assert.ok(!texts.includes(`spill ${i}`), `cancelled spill ${i} was not sent`);
  for (const i of [14, 23]) assert.ok(!texts.includes(`spill ${i}`), `the old text of spill ${i} was not sent`);
  assert.ok(!texts.includes('hijack'));
  assert.equal(new Set(texts).size, texts.length, 'none twice');
  assert.equal(texts.length, 22);
});

test('cancel_sm without an id on a spilled queue cancels the pair\'s messages in memory, held aside and only in the store', async (t) => {
  const { smsc, j, acme } = await spillSetup(t);
  const other = await customer(t, j, 'other');
  const from = '447700100002', to = '447700900002';
  const pair = [], rest = [];
  // 30 in turn: memory, held aside and the store each hold some of the pair
  for (let i = 0; i < 30; i++) {
    if (i % 2 === 0) pair.push(await queued(j, acme, `pair ${i}`, { from, to }));
    else if (i % 6 === 1) rest.push(await queued(j, other, `theirs ${i}`, { from, to }));
    else rest.push(await queued(j, acme, `kept ${i}`, { from, to: '447700900099' }));
  }
  assert.equal((await j.mi('queues.list')).find((x) => x.name === 'op').spilled, true);
  const c0 = await counters(j);
  const resp = await call(acme, 'cancel_sm', {
    message_id: '', source_addr_ton: 1, source_addr_npi: 1, source_addr: from,
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: to,
  });
  assert.equal(resp.command_status, 0);
  for (const id of pair) {
    const m = await j.mi('messages.get', { id });
    assert.equal(m.status, 'failed', `${m.envelope.body} cancelled`);
    assert.equal(m.reason_text, 'cancelled');
  }
  for (const id of rest) assert.equal((await j.mi('messages.get', { id })).status, 'queued');
  const c1 = await counters(j);
  assert.ok(c1['core.cancel_in_store'] - c0['core.cancel_in_store'] >= 5, 'those beyond memory cancelled in the store');
  assert.equal(c1['core.change_in_store_late'], c0['core.change_in_store_late'], 'none cancelled twice');
  assert.equal((await j.mi('queues.list')).find((x) => x.name === 'op').backlog, rest.length);

  await release(j);
  await waitFor(() => smsc.submits.length >= rest.length, 15000, 'the rest sent');
  await waitFor(async () => (await j.mi('queues.list')).find((x) => x.name === 'op').backlog === 0, 10000, 'drained');
  const texts = sentTexts(smsc);
  assert.equal(texts.length, rest.length, 'only the rest, each once');
  assert.ok(!texts.some((x) => x.startsWith('pair')), 'no cancelled message was sent');
});

test('cancel_sm racing a spilled queue as it drains: each message is cancelled (never at the SMSC) or sent (its cancel failed), none lost', async (t) => {
  // 40 msg/s: the spilled queue pages and drains while the cancels arrive
  const { smsc, j, acme } = await spillSetup(t, { throughput: 40 });
  const n = 60;
  const subs = [];
  for (let i = 0; i < n; i++) {
    const body = `drain ${i}`;
    const resp = await submit(acme, { source_addr: '447700100009', destination_addr: '447700900009', short_message: body });
    assert.equal(resp.command_status, 0);
    subs.push({ body, id: resp.message_id });
  }
  assert.equal((await j.mi('queues.list')).find((x) => x.name === 'op').spilled, true);
  const before = await counters(j);
  await release(j);
  // the newest first, staggered, so that cancels meet memory, pages and the store
  const runs = await Promise.all(subs.map(async (s, i) => {
    await new Promise((r) => setTimeout(r, (n - 1 - i) * 25));
    const c = await call(acme, 'cancel_sm', { message_id: s.id });
    return { ...s, status: c.command_status };
  }));
  const cancelled = runs.filter((r) => r.status === 0), refused = runs.filter((r) => r.status === ESME_RCANCELFAIL);
  assert.equal(cancelled.length + refused.length, n, 'every cancel answered ROK or RCANCELFAIL');
  assert.ok(cancelled.length > 0, 'some were still queued');
  assert.ok(refused.length > 0, 'some were on their way already');
  const after = await counters(j);
  t.diagnostic(`${cancelled.length} cancelled (${after['core.cancel_in_store'] - before['core.cancel_in_store']} in the store), ${refused.length} sent first`);
  assert.ok(after['core.cancel_in_store'] > before['core.cancel_in_store'], 'some cancels found their message only in the store');
  await waitFor(async () => {
    for (const r of runs) if (!['submitted', 'failed'].includes((await j.mi('messages.get', { id: r.id })).status)) return false;
    return true;
  }, 15000, 'every message submitted or cancelled');
  for (const r of refused) await sent(smsc, r.body);
  for (const r of cancelled) {
    const m = await j.mi('messages.get', { id: r.id });
    assert.equal(m.status, 'failed');
    assert.equal(m.reason_text, 'cancelled');
    assert.ok(!sentTexts(smsc).includes(r.body), `${r.body} cancelled and sent`);
  }
  for (const r of refused) assert.equal((await j.mi('messages.get', { id: r.id })).status, 'submitted');
  assert.equal(smsc.submits.length, refused.length, 'exactly the refused ones at the SMSC');
  assert.equal(new Set(sentTexts(smsc)).size, smsc.submits.length, 'none twice');
  assert.equal((await j.mi('queues.list')).find((x) => x.name === 'op').backlog, 0);
});

test('replace_sm racing a spilled queue as it drains: the SMSC gets each message once, the new text if replaced, the old one if its replace failed', async (t) => {
  const { smsc, j, acme } = await spillSetup(t, { throughput: 40 });
  const n = 60;
  const subs = [];
  for (let i = 0; i < n; i++) {
    const resp = await submit(acme, { source_addr: '447700100009', destination_addr: '447700900009', short_message: `old ${i}` });
    assert.equal(resp.command_status, 0);
    subs.push({ i, id: resp.message_id });
  }
  const before = await counters(j);
  await release(j);
  const runs = await Promise.all(subs.map(async (s) => {
    await new Promise((r) => setTimeout(r, (n - 1 - s.i) * 25));
    const c = await call(acme, 'replace_sm', { message_id: s.id, short_message: Buffer.from(`new ${s.i}`) });
    return { ...s, status: c.command_status };
  }));
  const replaced = runs.filter((r) => r.status === 0), refused = runs.filter((r) => r.status === ESME_RREPLACEFAIL);
  assert.equal(replaced.length + refused.length, n, 'every replace answered ROK or RREPLACEFAIL');
  assert.ok(replaced.length > 0 && refused.length > 0, `${replaced.length} replaced, ${refused.length} sent first`);
  const after = await counters(j);
  t.diagnostic(`${replaced.length} replaced (${after['core.replace_in_store'] - before['core.replace_in_store']} in the store), ${refused.length} sent first`);
  assert.ok(after['core.replace_in_store'] > before['core.replace_in_store'], 'some only in the store');
  await waitFor(() => smsc.submits.length >= n, 15000, 'every message at the SMSC');
  await waitFor(async () => (await j.mi('queues.list')).find((x) => x.name === 'op').backlog === 0, 10000, 'drained');
  const texts = sentTexts(smsc);
  assert.equal(texts.length, n, 'each once');
  for (const r of replaced) {
    assert.ok(texts.includes(`new ${r.i}`), `new ${r.i} at the SMSC`);
    assert.ok(!texts.includes(`old ${r.i}`), `old ${r.i} replaced and sent`);
  }
  for (const r of refused) assert.ok(texts.includes(`old ${r.i}`) && !texts.includes(`new ${r.i}`), `old ${r.i}`);
});

test('a cancel in the store whose commit is held up: a page that reads the row meanwhile is caught, the message never sent', async (t) => {
  const { smsc, j, acme } = await spillSetup(t, { window: 40 });
  const ids = [];
  for (let i = 0; i < 25; i++) ids.push(await queued(j, acme, `slow ${i}`));
  // every group holding the cancel rolls back (and is retried) until the trigger goes
  sql(j, "CREATE TRIGGER slow_cancel BEFORE UPDATE ON messages WHEN NEW.reason_text = 'cancelled'" +
    " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
  const errors = (await counters(j))['db.errors'];
  const answer = call(acme, 'cancel_sm', { message_id: ids[24] }, 60000);
  await waitFor(async () => (await counters(j))['db.errors'] > errors, 10000, 'the cancel held up');
  await release(j);
  // the queue drains into memory and pages the store's rows, the cancelled one too
  await waitFor(async () => (await counters(j))['core.queue_held_copies'] >= 1, 15000, 'a page brought the row');
  sql(j, 'DROP TRIGGER slow_cancel;');
  assert.equal((await answer).command_status, 0, 'cancelled once its change committed');
  await waitFor(() => smsc.submits.length >= 24, 15000, 'the other 24 sent');
  await waitFor(async () => (await j.mi('queues.list')).find((x) => x.name === 'op').backlog === 0, 10000, 'drained');
  assert.ok(!sentTexts(smsc).includes('slow 24'), 'the cancelled one was not sent');
  assert.equal((await j.mi('messages.get', { id: ids[24] })).status, 'failed');
  assert.equal(new Set(sentTexts(smsc)).size, 24, 'none twice');
});
