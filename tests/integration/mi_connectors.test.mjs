// connectors.update takes effect at once: a changed SMPP connector unbinds
// and binds again with its new settings, a disabled one unbinds, a bad
// change is refused with the reason and leaves the running bind alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound, connectorState } from './lib/smsc.mjs';

let j, smsc;

before(async () => {
  smsc = await startSmsc();
  j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  await j.mi('connectors.add', {
    name: 'op', type: 'smpp', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'first', password: 'pw' },
  });
  await waitBound(j, 'op');
});

after(async () => {
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

test('a changed conf rebinds with the new system_id', async () => {
  assert.deepEqual(smsc.binds.map((b) => b.system_id), ['first']);
  const r = await j.mi('connectors.update', {
    name: 'op', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'second', password: 'pw' },
  });
  assert.equal(r.name, 'op');
  await waitFor(() => smsc.binds.length === 2, 10000, 'the second bind');
  assert.equal(smsc.binds[1].system_id, 'second');
  assert.equal(smsc.unbinds.length, 1, 'the old bind was closed with unbind');
  await waitBound(j, 'op');
  const listed = (await j.mi('connectors.list')).find((c) => c.name === 'op');
  assert.equal(listed.conf.system_id, 'second');
  assert.equal(listed.conf.password, '***', 'secrets are masked');
});

test('a bad change is refused with the reason and the bind stays', async () => {
  await assert.rejects(j.mi('connectors.update', { name: 'op', conf: { host: '127.0.0.1', port: 0 } }),
    (e) => e.rpc.code === -32602 && /port|system_id/.test(e.rpc.message));
  await assert.rejects(j.mi('connectors.update', { name: 'nope', enabled: false }),
    (e) => e.rpc.code === -32004);
  assert.equal(await connectorState(j, 'op'), 'bound');
  assert.equal(smsc.binds.length, 2);
});

test('disabling unbinds; enabling binds again', async () => {
  await j.mi('connectors.update', { name: 'op', enabled: false });
  await waitFor(() => smsc.unbinds.length === 2, 10000, 'unbind on disable');
  assert.equal(await connectorState(j, 'op'), 'disabled');
  await j.mi('connectors.update', { name: 'op', enabled: true });
  await waitBound(j, 'op');
  assert.equal(smsc.binds.length, 3);
});
