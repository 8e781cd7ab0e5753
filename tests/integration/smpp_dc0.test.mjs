// What data_coding 0 means per client connector (conf "dc0", issue 7): an
// SMSC whose default alphabet is Latin-1 sends deliver_sm with data_coding
// 0 in Latin-1 octets, and junction reads them so (the default, GSM 03.38,
// would read other characters); toward it, text in Latin-1 goes as
// data_coding 0 where a GSM connector needs UCS-2.  The SMSC is the fake of
// lib/smsc.mjs.  Loopback only; every wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

async function setup(t, dc0) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(() => j.cleanup());
  const conf = { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw' };
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: dc0 ? { ...conf, dc0 } : conf });
  await waitBound(j, 'op');
  // MO to an account (nobody bound: it waits queued, its body readable)
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  await j.mi('routes.add', { name: 'mo', priority: 10, dst_prefix: '4479', target: 'account:acme' });
  await j.mi('routes.add', { name: 'mt', priority: 20, dst_prefix: '44', target: 'op' });
  return { smsc, j };
}

async function moBody(j, smsc, octets) {
  const resp = await smsc.deliver({
    source_addr: '447700100001', destination_addr: '447900900001', data_coding: 0, short_message: octets,
  });
  assert.equal(resp.command_status, 0);
  const m = await waitFor(async () => (await j.mi('messages.list', { limit: 10 }))
    .find((x) => x.target === 'account:acme'), 10000, 'the MO stored');
  return (await j.mi('messages.get', { id: m.id })).envelope.body;
}

test('dc0 latin1: a deliver_sm with data_coding 0 in Latin-1 arrives as its text; outgoing Latin-1 text goes as data_coding 0', async (t) => {
  const { smsc, j } = await setup(t, 'latin1');
  assert.equal(await moBody(j, smsc, Buffer.from('côte £5 @', 'latin1')), 'côte £5 @');

  await j.mi('messages.inject', { from: '447700100002', to: '447700900002', body: 'côte' });
  const pdu = await waitFor(() => smsc.submits[0], 10000, 'submit_sm at the SMSC');
  assert.equal(pdu.data_coding, 0, 'Latin-1 text as data_coding 0, not UCS-2');
  assert.equal(pdu.short_message.message.length, 4, 'one octet per character');
});

test('dc0 absent (gsm): the same octets read as GSM 03.38, and that text needs UCS-2', async (t) => {
  const { smsc, j } = await setup(t, null);
  assert.notEqual(await moBody(j, smsc, Buffer.from('côte £5 @', 'latin1')), 'côte £5 @');

  await j.mi('messages.inject', { from: '447700100002', to: '447700900002', body: 'côte' });
  const pdu = await waitFor(() => smsc.submits[0], 10000, 'submit_sm at the SMSC');
  assert.equal(pdu.data_coding, 8, 'ô is not in GSM 03.38: UCS-2');
});

test('dc0 takes only gsm, latin1, ascii or ia5', async (t) => {
  const j = await startJunction();
  t.after(() => j.cleanup());
  await assert.rejects(j.mi('connectors.add', {
    name: 'bad', type: 'smpp', conf: { host: '127.0.0.1', port: 9, system_id: 'jx', password: 'pw', dc0: 'utf8' },
  }), /dc0/);
  await j.mi('connectors.add', {
    name: 'ok', type: 'smpp', conf: { host: '127.0.0.1', port: 9, system_id: 'jx', password: 'pw', dc0: 'ia5' },
  });
});
