// SMPP client connectors against a fake operator SMSC (npm smpp):
// bind/list/unbind, GSM and UCS-2 submit_sm, mobile-originated deliver_sm,
// and an SMSC that dies and comes back.  Messages are injected through
// junction's own SMSC port by a customer bound with the npm smpp client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, bindCustomer, submit, connectorState, waitBound } from './lib/smsc.mjs';

const SMPP_PARAMS = { 'smpp.reconnect_s': 1, 'smpp.enquire_link_s': 2 };

async function addConnector(j, name, smsc, extra = {}) {
  await j.mi('connectors.add', {
    name, type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: `jx-${name}`, password: 'secret', ...extra },
  });
}

async function customer(j, id = 'cust1', pw = 'pw1') {
  await j.mi('accounts.add', { system_id: id, password: pw });
  const { session, resp } = await bindCustomer(j.ports.smpp, id, pw);
  assert.equal(resp.command_status, 0, 'customer bind accepted');
  return session;
}

test('connectors.add binds, connectors.list shows bound, connectors.delete unbinds', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());

  await addConnector(j, 'op1', smsc);
  await waitFor(() => smsc.binds.length === 1, 10000, 'bind at the SMSC');
  assert.equal(smsc.binds[0].command, 'bind_transceiver');
  assert.equal(smsc.binds[0].system_id, 'jx-op1');
  assert.equal(smsc.binds[0].password, 'secret');
  await waitBound(j, 'op1');
  await waitFor(() => smsc.enquires >= 1, 6000, 'enquire_link after smpp.enquire_link_s of silence');

  await j.mi('connectors.delete', { name: 'op1' });
  await waitFor(() => smsc.unbinds.length === 1 || smsc.closes >= 1, 10000, 'unbind at the SMSC');
  assert.equal(smsc.unbinds.length, 1, 'junction sent unbind before closing');
});

test('ASCII goes out as data_coding 0, Cyrillic and emoji as UCS-2', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());

  await addConnector(j, 'op1', smsc);
  await waitBound(j, 'op1');
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());

  const r1 = await submit(cust, {
    source_addr_ton: 5, source_addr: 'Alice', dest_addr_ton: 1, dest_addr_npi: 1,
    destination_addr: '447700900123', data_coding: 0, short_message: 'Hello {world} @ 10',
  });
  assert.equal(r1.command_status, 0);
  assert.match(r1.message_id, /^[0-9A-Z]{26}$/, 'message_id is the envelope id');
  const text = 'Привет 😀';
  const r2 = await submit(cust, {
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900999', dest_addr_ton: 1,
    dest_addr_npi: 1, destination_addr: '447700900124', data_coding: 8,
    short_message: Buffer.from(text, 'utf16le').swap16(),
  });
  assert.equal(r2.command_status, 0);

  await waitFor(() => smsc.submits.length === 2, 10000, 'two submit_sm at the SMSC');
  const [a, b] = [...smsc.submits].sort((x, y) => x.destination_addr.localeCompare(y.destination_addr));
  assert.equal(a.destination_addr, '447700900123');
  assert.equal(a.dest_addr_ton, 1);
  assert.equal(a.source_addr, 'Alice');
  assert.equal(a.source_addr_ton, 5);
  assert.equal(a.data_coding, 0);
  assert.equal(a.short_message.message, 'Hello {world} @ 10');
  assert.equal(b.destination_addr, '447700900124');
  assert.equal(b.source_addr, '447700900999');
  assert.equal(b.source_addr_ton, 1);
  assert.equal(b.data_coding, 8);
  assert.equal(b.short_message.message, text);
});

test('a long GSM message is split into concatenated parts with a UDH', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());

  await addConnector(j, 'op1', smsc);
  await waitBound(j, 'op1');
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());
  const long = 'x'.repeat(200);
  const r = await submit(cust, {
    source_addr: '123', destination_addr: '447700900200', data_coding: 0,
    message_payload: Buffer.from(long),
  });
  assert.equal(r.command_status, 0);
  await waitFor(() => smsc.submits.length === 2, 10000, 'two parts');
  const parts = smsc.submits.map((p) => ({ udh: p.short_message.udh[0], text: p.short_message.message }));
  assert.equal(parts[0].udh[0], 0x00, 'concatenation IE');
  assert.equal(parts[0].udh[3], 2, 'two parts in total');
  assert.deepEqual(parts.map((p) => p.udh[4]), [1, 2]);
  assert.equal(parts.map((p) => p.text).join(''), long);
  assert.equal(parts[0].text.length, 153);
});

test('a mobile-originated deliver_sm is committed, acknowledged and routed on', async (t) => {
  const smsc1 = await startSmsc();
  t.after(() => smsc1.stop());
  const smsc2 = await startSmsc();
  t.after(() => smsc2.stop());
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());

  await addConnector(j, 'op1', smsc1);
  await addConnector(j, 'op2', smsc2);
  await waitBound(j, 'op1');
  await waitBound(j, 'op2');
  await j.mi('routes.add', { name: 'mo', priority: 10, dst_prefix: '4479', target: 'op2' });

  const resp = await smsc1.deliver({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900001',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447912345678',
    data_coding: 8, short_message: Buffer.from('Ответ', 'utf16le').swap16(),
  });
  assert.equal(resp.command_status, 0, 'deliver_sm_resp OK after the commit');
  await waitFor(() => smsc2.submits.length === 1, 10000, 'submit_sm at the second SMSC');
  const p = smsc2.submits[0];
  assert.equal(p.destination_addr, '447912345678');
  assert.equal(p.source_addr, '447700900001');
  assert.equal(p.data_coding, 8);
  assert.equal(p.short_message.message, 'Ответ');

  const noRoute = await smsc1.deliver({ source_addr: '1', destination_addr: '999', short_message: 'x' });
  assert.equal(noRoute.command_status, 0x66, 'no route: ESME_RX_R_APPN');
});

test('an SMSC that dies gets the stored message after junction rebinds', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: SMPP_PARAMS });
  t.after(() => j.cleanup());

  await addConnector(j, 'op1', smsc);
  await waitBound(j, 'op1');
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());

  await smsc.stop();
  await waitFor(async () => (await connectorState(j, 'op1')) !== 'bound', 10000, 'op1 down');
  const r = await submit(cust, {
    source_addr: '123', destination_addr: '447700900300', data_coding: 0,
    short_message: Buffer.from('stored while down'),
  });
  assert.equal(r.command_status, 0, 'accepted and stored while the SMSC is down');
  assert.equal(smsc.submits.length, 0);

  await smsc.start();
  await waitBound(j, 'op1', 15000);
  assert.ok(smsc.binds.length >= 2, 'junction bound again');
  await waitFor(() => smsc.submits.length >= 1, 20000, 'queued message at the SMSC');
  assert.equal(smsc.submits[0].destination_addr, '447700900300');
  assert.equal(smsc.submits[0].short_message.message, 'stored while down');
});

test('ESME_RTHROTTLED is retried later; a permanent error fails the message', async (t) => {
  let throttled = 0;
  const smsc = await startSmsc({
    submitStatus: (pdu) => {
      if (pdu.destination_addr === '447700900401' && throttled++ === 0) return 0x58;
      if (pdu.destination_addr === '447700900402') return 0x0b;
      return 0;
    },
  });
  t.after(() => smsc.stop()); // registered first: runs even if junction fails to start
  const j = await startJunction({ params: { ...SMPP_PARAMS, 'core.retry_base_ms': 100 } });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc);
  await waitBound(j, 'op1');
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());

  const ok = await submit(cust, { source_addr: '1', destination_addr: '447700900401', short_message: 'again' });
  const bad = await submit(cust, { source_addr: '1', destination_addr: '447700900402', short_message: 'never' });
  assert.equal(ok.command_status, 0);
  assert.equal(bad.command_status, 0);
  await waitFor(() => smsc.submits.length === 1, 10000, 'the throttled message, resent');
  assert.equal(throttled, 2, 'first attempt throttled, second accepted');
  assert.equal(smsc.submits[0].destination_addr, '447700900401');
  const failed = await waitFor(async () => {
    const m = await j.mi('messages.get', { id: bad.message_id });
    return m.status === 'failed' && m;
  }, 10000, 'the rejected message failed');
  assert.equal(failed.status, 'failed');
  const sent = await waitFor(async () => {
    const m = await j.mi('messages.get', { id: ok.message_id });
    return m.status === 'submitted' && m;
  }, 10000, 'the retried message submitted');
  assert.equal(sent.status, 'submitted');
});

// While the bind is down the message waits in the core, queued (the client
// is not ready, so it is never marked "sending"); replacing the connector is
// not the message's fault and spends no attempt, so even with
// core.max_attempts = 1 it reaches the SMSC of the new conf.
test('connectors.update hands queued messages on without spending an attempt', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  await smsc.stop(); // down: submits wait in the core
  const j = await startJunction({ params: { ...SMPP_PARAMS, 'core.max_attempts': 1 } });
  t.after(() => j.cleanup());
  await addConnector(j, 'op1', smsc);
  await j.mi('routes.add', { name: 'to-op1', priority: 10, dst_prefix: '44', target: 'op1' });
  const cust = await customer(j);
  t.after(() => cust.close());
  const r = await submit(cust, { source_addr: '1', destination_addr: '447700900500', short_message: 'kept' });
  assert.equal(r.command_status, 0);
  await waitFor(async () => (await j.mi('messages.get', { id: r.message_id })).status === 'queued',
    10000, 'the message waits, queued');
  assert.equal((await j.mi('connectors.list')).find((c) => c.name === 'op1').status.pending, 0,
    'nothing handed to a client that is not bound');

  await j.mi('connectors.update', { name: 'op1', conf: { host: '127.0.0.1', port: smsc.port,
    system_id: 'jx-op1b', password: 'secret' } });
  // wait for the state: the new connector in place with the message still
  // queued in the core (its bind is down, so nothing is handed to it), or failed
  const m = await waitFor(async () => {
    const msg = await j.mi('messages.get', { id: r.message_id });
    const op1 = (await j.mi('connectors.list')).find((c) => c.name === 'op1');
    return (msg.status === 'failed' ||
      (op1.status.system_id === 'jx-op1b' && msg.status === 'queued')) && msg;
  }, 10000, 'the updated connector, the message still queued');
  assert.notEqual(m.status, 'failed', `closing the connector failed the message: ${JSON.stringify(m)}`);
  assert.equal(m.attempts ?? 0, 0, 'no attempt counted');
  await smsc.start();
  await waitFor(() => smsc.submits.length === 1, 20000, 'the message at the SMSC after the update');
  assert.equal(smsc.submits[0].destination_addr, '447700900500');
  assert.equal(smsc.binds.at(-1).system_id, 'jx-op1b');
});
