// The submit window: more messages than the window allows are queued and
// go out as responses free slots, with no new traffic to push them; none is
// stuck once the burst ends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

let j, smsc;

before(async () => {
  smsc = await startSmsc();
  j = await startJunction({ params: { 'log.level': 'info' } });
  await j.mi('connectors.add', {
    name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'j', password: 'pw', window: 2 },
  });
  await j.mi('routes.add', { name: 'all', priority: 10, dst_prefix: '44', target: 'op' });
  await waitBound(j, 'op');
});

after(async () => {
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

test('a burst ten times the window is fully submitted after it ends', async () => {
  const N = 20;
  await Promise.all(Array.from({ length: N }, (_, i) =>
    j.mi('messages.inject', { from: '4930111', to: `4477009${String(i).padStart(5, '0')}`, body: `burst ${i}` })));
  await waitFor(() => smsc.submits.length === N, 10000, `${N} submit_sm (got ${smsc.submits.length})`);
  const texts = smsc.submits.map((p) => p.short_message.message).sort();
  assert.deepEqual(texts, Array.from({ length: N }, (_, i) => `burst ${i}`).sort());
  // the last submit_sm_resp is on its way back: wait for the window to empty
  await waitFor(async () => {
    const st = (await j.mi('connectors.list')).find((c) => c.name === 'op').status;
    return st.pending === 0 && st.inflight === 0;
  }, 5000, 'pending and inflight back to 0');
});
