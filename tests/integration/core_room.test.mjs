// A connector's room (core.room_windows x its window: the deliveries that
// may be "sending" at once, what a crash may send twice) frees a place as
// soon as an outcome is queued for the store, not once it committed: the
// next delivery's "sending" mark goes into the writer's queue behind that
// outcome and shares its commit, so the wire does not idle a writer cycle
// per place.  The writer commits jobs in their order, so the store never
// holds more rows "sending" than the room.  Shown with the writer stopped
// by a real held write lock (a sqlite3 CLI in BEGIN IMMEDIATE) between an
// SMSC's answer and its commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startScriptedSmsc, waitBound } from './lib/smsc.mjs';
import { holdWriteLock, sqliteRows } from './lib/sqlite.mjs';

const queue = async (j, name) => (await j.mi('queues.list')).find((q) => q.name === name);
const statuses = (j, ids) => Object.fromEntries(sqliteRows(j.params['db.path'],
  `SELECT id, status FROM messages WHERE id IN (${ids.map((x) => `'${x}'`).join(',')})`)
  .map((r) => [r.id, r.status]));

test('a place frees when its outcome is queued, and no commit leaves more sending than the room', async (t) => {
  const held = []; // [session, pdu] of every submit_sm not answered yet
  const smsc = await startScriptedSmsc('room', (session, pdu, s) => {
    s.submits.push(pdu.short_message.message.toString());
    held.push([session, pdu]);
  });
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(() => j.cleanup());
  let holder = null;
  t.after(async () => { if (holder) await holder.release(); });

  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jroom', password: 'pw', window: 1 } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await waitBound(j, 'op');

  const a = (await j.mi('messages.inject', { from: '4930111', to: '447700900001', body: 'room a' })).id;
  const b = (await j.mi('messages.inject', { from: '4930111', to: '447700900002', body: 'room b' })).id;
  // a on the wire, b waits for the one place
  await waitFor(() => held.length === 1, 10000, 'a at the SMSC');
  assert.deepEqual(smsc.submits, ['room a']);
  await waitFor(async () => (await queue(j, 'op')).backlog === 1, 10000, 'b queued behind a');
  assert.equal((await queue(j, 'op')).outstanding, 1);

  // the writer cannot commit from here on
  holder = await holdWriteLock(j.params['db.path']);
  const [session, pdu] = held.shift();
  session.send(pdu.response({ message_id: 'smsc-a' }));

  // a's outcome is queued, not committed, and b already took the place:
  // it left the queue (its "sending" mark waits in the writer's queue
  // behind a's outcome)
  await waitFor(async () => (await queue(j, 'op')).backlog === 0, 10000, 'b took the freed place');
  const q = await queue(j, 'op');
  assert.equal(q.outstanding, 1, 'one place, now b\'s');
  assert.equal(q.memory, 0);
  // the store still says what was committed: a sending, b queued; b is
  // not on the wire before its mark is durable
  assert.deepEqual(statuses(j, [a, b]), { [a]: 'sending', [b]: 'queued' });
  assert.deepEqual(smsc.submits, ['room a']);

  // the lock goes: a's outcome and b's mark commit in that order, b goes out
  await holder.release();
  holder = null;
  await waitFor(() => held.length === 1, 15000, 'b at the SMSC after the commit');
  assert.deepEqual(smsc.submits, ['room a', 'room b']);
  assert.deepEqual(statuses(j, [a, b]), { [a]: 'submitted', [b]: 'sending' });
  const [s2, p2] = held.shift();
  s2.send(p2.response({ message_id: 'smsc-b' }));
  await waitFor(async () => (await j.mi('messages.get', { id: b })).status === 'submitted', 10000, 'b submitted');
  assert.equal((await queue(j, 'op')).outstanding, 0);
  assert.equal(smsc.submits.length, 2, 'each sent once');
});
