// Parameters at runtime (issue 8, "Auto-scaling and runtime changes"):
// params.set validates and applies a runtime parameter at once (through
// its table's on-change hook where its users must be told, e.g.
// log.level) and keeps it across a restart; params.diff lists what
// differs from the defaults; restart-only parameters say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor, miError } from './lib/junction.mjs';

const MI_INVALID_PARAMS = -32602;
const MI_NOT_FOUND = -32004;

test('params.diff lists what differs from the defaults; params.set applies log.level at once and keeps it across a restart', async (t) => {
  const j = await startJunction({ params: { 'log.level': 'info' } });
  t.after(() => j.cleanup());
  const diff = async () => Object.fromEntries((await j.mi('params.diff')).map((p) => [p.name, p]));
  const d0 = await diff();
  assert.equal(d0['core.max_attempts'], undefined, 'a parameter at its default is not listed');
  assert.equal(d0['log.level'], undefined, 'info is the default');

  await j.mi('params.set', { name: 'core.max_attempts', value: '7' });
  assert.deepEqual((await diff())['core.max_attempts'],
    { name: 'core.max_attempts', value: '7', default: '10', runtime: true });

  // log.level through its hook: debug lines appear at once
  const before = j.log.length;
  await j.mi('params.set', { name: 'log.level', value: 'debug' });
  assert.doesNotMatch(j.log.slice(0, before), /DEBUG/, 'no debug line before');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'nowhere' });
  await j.mi('messages.inject', { from: '4930111', to: '4477009000001', body: 'routed, logged at debug' });
  await waitFor(() => /DEBUG/.test(j.log.slice(before)), 5000, 'a debug line after log.level debug');
  assert.equal((await diff())['log.level'].value, 'debug');

  assert.equal(await miError(j, 'params.set', { name: 'core.max_attempts', value: 'many' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'params.set', { name: 'db.path', value: 'x.db' }), MI_INVALID_PARAMS, 'restart only');
  assert.equal(await miError(j, 'params.set', { name: 'no.such', value: '1' }), MI_NOT_FOUND);

  // kept in the database: a restart starts with them (the flag given at start still wins)
  await j.stop();
  j.start();
  await j.ready();
  const d1 = await diff();
  assert.equal(d1['core.max_attempts'].value, '7');
});
