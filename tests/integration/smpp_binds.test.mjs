// Client connector bind types (issue 7): conf "bind" is transceiver (the
// default), transmitter or receiver, with address_range and system_type
// sent as configured; a receiver bind is fed no submit_sm (its messages
// wait queued) but takes MO from the SMSC.  The SMSC is the fake of
// lib/smsc.mjs, which records each bind's command.  Loopback only; every
// wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound, connectorState } from './lib/smsc.mjs';

async function setup(t) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(() => j.cleanup());
  return { smsc, j };
}

const conf = (smsc, extra) => ({ host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw', ...extra });

test('a transmitter bind is a bind_transmitter and carries the messages', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'tx', type: 'smpp', conf: conf(smsc, { bind: 'transmitter',
    system_type: 'VMA', address_range: '4477*' }) });
  await waitBound(j, 'tx');
  assert.equal(smsc.binds[0].command, 'bind_transmitter');
  assert.equal((await j.mi('connectors.list')).find((c) => c.name === 'tx').status.bind, 'transmitter');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'tx' });
  await j.mi('messages.inject', { from: '4930111', to: '447700900001', body: 'via tx' });
  await waitFor(() => smsc.submits.some((p) => p.short_message.message === 'via tx'), 10000, 'submitted');
});

test('a receiver bind gets no submit_sm but delivers the MO it receives', async (t) => {
  const { smsc, j } = await setup(t);
  const out = await startSmsc();
  t.after(() => out.stop());
  await j.mi('connectors.add', { name: 'rx', type: 'smpp', conf: conf(smsc, { bind: 'receiver' }) });
  await j.mi('connectors.add', { name: 'out', type: 'smpp', conf: conf(out, {}) });
  await waitBound(j, 'rx');
  await waitBound(j, 'out');
  assert.equal(smsc.binds[0].command, 'bind_receiver');
  await j.mi('routes.add', { name: 'to-rx', priority: 10, dst_prefix: '447700', target: 'rx' });
  await j.mi('routes.add', { name: 'mo', priority: 20, dst_prefix: '4479', target: 'out' });
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900002', body: 'not on rx' });
  // an MO from the receiver's SMSC goes on, while the message for rx waits
  const r = await smsc.deliver({ source_addr: '447700900001', destination_addr: '447912345678',
    short_message: 'mo on rx' });
  assert.equal(r.command_status, 0);
  await waitFor(() => out.submits.some((p) => p.short_message.message === 'mo on rx'), 10000, 'MO routed on');
  assert.equal((await j.mi('messages.get', { id })).status, 'queued', 'nothing is fed to a receiver');
  assert.equal(smsc.submits.length, 0);
  assert.equal(await connectorState(j, 'rx'), 'bound');
});

test('an unknown bind type is refused with the reason', async (t) => {
  const { smsc, j } = await setup(t);
  await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'smpp', conf: conf(smsc, { bind: 'both' }) }),
    /bind/);
});

test('smpp.unbind holds a client connector down with its messages queued; smpp.bind binds it again', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: conf(smsc, {}) });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('smpp.unbind', { connector: 'op' });
  await waitFor(async () => (await connectorState(j, 'op')) === 'held', 10000, 'held');
  assert.equal(smsc.unbinds.length, 1, 'an unbind, not a dropped socket');
  const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900003', body: 'after the hold' });
  assert.equal((await j.mi('messages.get', { id })).status, 'queued', 'waits while held');

  await j.mi('smpp.bind', { connector: 'op' });
  await waitBound(j, 'op');
  await waitFor(() => smsc.submits.some((p) => p.short_message.message === 'after the hold'), 10000, 'sent once bound');
  assert.equal(smsc.binds.length, 2, 'no reconnect while it was held, one bind after');

  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  await assert.rejects(j.mi('smpp.unbind', { connector: 'account:acme' }), /not a client/);
  await assert.rejects(j.mi('smpp.unbind', { connector: 'nope' }), /no smpp connector/);
});
