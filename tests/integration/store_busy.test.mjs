// The SQLite write lock held by another connection for 10 s (SQLITE_BUSY
// past the writer's 5 s busy_timeout) loses no update and causes no
// duplicate after a restart.  The fault is real: a sqlite3 CLI process runs
// BEGIN IMMEDIATE on the same file and keeps the transaction open while an
// SMPP customer keeps submitting.  A backlog accepted while the operator
// SMSC was away meets the lock when the SMSC comes back, so the queued ->
// sending updates of those messages are certain to hit the held lock (the
// writer's retry path, not only the refused inserts).  Afterwards every
// accepted message is submitted exactly once, and a restart on the same
// database sends none of them again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor, sleep } from './lib/junction.mjs';
import { startSmsc, waitBound, bindCustomer, submit } from './lib/smsc.mjs';
import { holdWriteLock } from './lib/sqlite.mjs';

const HOLD_MS = 10000;

const counters = async (j) => (await j.mi('stats.get')).counters;

test('the write lock held 10 s by another connection loses no update and duplicates nothing after a restart', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'log.level': 'info' } });
  t.after(() => j.cleanup());
  let holder = null;
  t.after(async () => { if (holder) await holder.release(); });
  let customer = null;
  t.after(() => { if (customer) customer.close(); });

  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jop', password: 'pw', window: 10 } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'cust', password: 'pw' });
  await waitBound(j, 'op');
  ({ session: customer } = await bindCustomer(j.ports.smpp, 'cust', 'pw'));

  const accepted = new Map(); // text -> envelope id
  const refused = new Map();  // command_status -> count
  let seq = 0;
  const send = async () => {
    const text = `busy ${seq++}`;
    const r = await submit(customer, { destination_addr: `4477009${String(seq).padStart(5, '0')}`, short_message: text });
    if (r.command_status === 0) accepted.set(text, r.message_id);
    else refused.set(r.command_status, (refused.get(r.command_status) || 0) + 1);
  };

  // flowing before the fault
  for (let i = 0; i < 20; i++) await send();
  await waitFor(() => smsc.submits.length === 20, 10000, '20 submits before the fault');
  // their submit_sm_resp read by junction before the SMSC goes (else they
  // are, rightly, sent again after the rebind)
  for (const id of accepted.values())
    await waitFor(async () => (await j.mi('messages.get', { id })).status === 'submitted', 10000, `${id} submitted`);

  // a backlog while the SMSC is away
  await smsc.stop();
  await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'op').status.state !== 'bound',
    10000, 'op down');
  for (let i = 0; i < 30; i++) await send();
  assert.equal(accepted.size, 50);

  const before = await counters(j);
  holder = await holdWriteLock(j.params['db.path']);
  const lockedAt = Date.now();
  await smsc.start(); // the backlog's updates now meet the lock
  // the customer keeps sending during the hold: a bounded stream, 20 ms apart
  const stream = (async () => {
    const pending = [];
    for (let i = 0; i < 400 && Date.now() - lockedAt < HOLD_MS + 1000; i++) {
      pending.push(send());
      await sleep(20);
    }
    await Promise.all(pending);
  })();
  // hold at least HOLD_MS and until the writer has seen a failed group
  // with updates in it
  await waitFor(async () => {
    const c = await counters(j);
    return Date.now() - lockedAt >= HOLD_MS && c['db.errors'] > before['db.errors'] &&
      c['db.retried'] > before['db.retried'];
  }, HOLD_MS + 15000, 'db.errors and db.retried rising while the lock is held');
  const during = smsc.submits.length;
  assert.equal(during, 20, 'nothing went out before its "sending" committed');
  await holder.release();
  const heldMs = Date.now() - lockedAt;
  await stream;

  const c = await counters(j);
  assert.ok(refused.size > 0, 'new messages were refused while commits failed');
  for (const st of refused.keys())
    // 0x14 ESME_RMSGQFUL: the session's window of unanswered submits
    // (smpp.server_window) filled while the store could not answer
    assert.ok(st === 0x08 || st === 0x58 || st === 0x14,
      `refused with ESME_RSYSERR, ESME_RTHROTTLED or ESME_RMSGQFUL, got 0x${st.toString(16)}`);
  console.log(`# lock held ${heldMs} ms; accepted ${accepted.size}, refused ${[...refused.values()].reduce((a, b) => a + b, 0)} ` +
    `(${[...refused].map(([s, n]) => `0x${s.toString(16)}: ${n}`).join(', ')}); ` +
    `db.errors +${c['db.errors'] - before['db.errors']}, db.retried +${c['db.retried'] - before['db.retried']}`);

  // nothing lost: every accepted message reaches the SMSC and is submitted
  await waitFor(() => smsc.submits.length >= accepted.size, 30000,
    `${accepted.size} submits (got ${smsc.submits.length})`);
  for (const id of accepted.values())
    await waitFor(async () => (await j.mi('messages.get', { id })).status === 'submitted', 10000, `${id} submitted`);
  const texts = () => smsc.submits.map((p) => p.short_message.message);
  assert.deepEqual([...new Set(texts())].sort(), [...accepted.keys()].sort(), 'the SMSC got exactly the accepted ones');
  assert.equal(texts().length, accepted.size, 'none twice before the restart');

  // restart on the same database: nothing is sent again
  customer.close();
  customer = null;
  assert.deepEqual(await j.stop('SIGTERM'), { code: 0, sig: null }, j.log.slice(-3000));
  const r = spawnSync('sqlite3', [j.params['db.path'],
    "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending');"], { encoding: 'utf8' });
  assert.equal(r.stdout.trim(), '0', 'nothing left queued or sending in the store');
  j.start();
  await j.ready();
  await waitBound(j, 'op');
  // a sentinel queued after recovery: anything recovered goes out before it
  const sentinel = await j.mi('messages.inject', { from: '4930111', to: '447700999999', body: 'sentinel' });
  await waitFor(() => texts().includes('sentinel'), 15000, 'the sentinel at the SMSC');
  await waitFor(async () => (await j.mi('messages.get', { id: sentinel.id })).status === 'submitted', 5000, 'sentinel submitted');
  const counts = new Map();
  for (const s of texts()) counts.set(s, (counts.get(s) || 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no message submitted twice after the restart');
  assert.equal(texts().length, accepted.size + 1);
  assert.equal((await counters(j))['core.possible_duplicates'], 0);
});
