// The first path end to end, every peer real: SIPp sends a SIP MESSAGE to
// junction, which stores it, answers 202 and submits it to an SMSC (npm
// smpp) as submit_sm; the SMSC sends a mobile-originated deliver_sm back,
// which junction delivers as SIP MESSAGE to a SIPp UAS; every state change
// is published to a private RabbitMQ node.  Assertions read what each peer
// actually received.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { runSipp, startSipp, stopAllSipp, loggedMessages } from './lib/sipp.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';

let j, smsc, mq, uas, events;

before(async () => {
  mq = await startRabbit();
  smsc = await startSmsc();
  j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  const uasPort = await freePort();
  uas = startSipp({ scenario: 'uas_message.xml', dir: j.dir, name: 'phones', localPort: uasPort });
  await j.mi('connectors.add', {
    name: 'events', type: 'amqp',
    conf: { host: '127.0.0.1', port: mq.port, user: 'guest', password: 'guest' },
  });
  await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'events')
    ?.status.state === 'connected', 15000, 'amqp connector connected');
  events = await consume(mq.url, 'junction.events', 'message.#');
  await j.mi('connectors.add', {
    name: 'smsc1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' },
  });
  await j.mi('connectors.add', { name: 'phones', type: 'sip', conf: { uri: `sip:127.0.0.1:${uasPort}` } });
  await j.mi('routes.add', { name: 'mt-de', priority: 10, dst_prefix: '49', target: 'smsc1' });
  await j.mi('routes.add', { name: 'mo', priority: 20, source: 'smsc1', target: 'phones' });
  // the events test counts every event of the first message: it must not
  // meet a connector still binding (a retry would add a 'queued')
  await waitBound(j, 'smsc1');
  await waitFor(() => smsc.boundSession(), 10000, 'the SMSC sees the bind');
});

after(async () => {
  await stopAllSipp();
  if (events) await events.close();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
  if (mq) await mq.stop();
});

test('SIP MESSAGE is answered 202 and arrives at the SMSC as submit_sm', async () => {
  assert.deepEqual(smsc.binds.map((b) => [b.command, b.system_id, b.password]),
    [['bind_transceiver', 'junction', 'secret']]);
  const uac = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'uac', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: '+4915112345678', calls: 1,
  });
  assert.equal(uac.exited.code, 0, uac.explain());
  await waitFor(() => smsc.submits.length === 1, 10000, 'submit_sm at the SMSC');
  const pdu = smsc.submits[0];
  assert.equal(pdu.destination_addr, '4915112345678');
  assert.equal(pdu.dest_addr_ton, 1);
  assert.equal(pdu.source_addr, 'alice');
  assert.equal(pdu.data_coding, 0, 'the text fits GSM 03.38');
  // SIPp sends the body line with its CRLF; ü and ß are in the GSM alphabet
  assert.equal(pdu.short_message.message, 'Hello Junction 1 grüße\r\n');
});

test('the events of that message reach RabbitMQ in order', async () => {
  await waitFor(() => events.messages.some((m) => m.routingKey === 'message.submitted'), 10000,
    'message.submitted event');
  const id = events.messages.find((m) => m.routingKey === 'message.received').json.id;
  const keys = events.messages.filter((m) => m.json.id === id).map((m) => m.routingKey);
  assert.deepEqual(keys, ['message.received', 'message.routed', 'message.queued', 'message.sending',
    'message.submitted']);
  const sub = events.messages.find((m) => m.json.id === id && m.routingKey === 'message.submitted');
  assert.equal(sub.json.envelope.to.address, '4915112345678');
  assert.equal(sub.json.target, 'smsc1');
  assert.equal(sub.json.status, 'submitted');
  assert.equal(sub.json.possible_duplicate, false);
  assert.match(sub.json.remote_id, /^smsc-/);
  assert.equal(sub.properties.contentType, 'application/json');
  // the event is emitted when the update is queued to the store's writer,
  // before its commit: wait for the stored state instead of reading it once
  await waitFor(async () => (await j.mi('messages.get', { id })).status === 'submitted', 10000,
    'stored status submitted');
});

test('a delivery receipt marks the message delivered and is an event', async () => {
  const id = events.messages.find((m) => m.routingKey === 'message.submitted').json.id;
  const remote = smsc.submits[0].smsc_message_id;
  const resp = await smsc.deliver({
    esm_class: 0x04, source_addr: '4915112345678', destination_addr: 'alice',
    short_message: `id:${remote} sub:001 dlvrd:001 submit date:2611281200 done date:2611281201 stat:DELIVRD err:000 text:Hello`,
  });
  assert.equal(resp.command_status, 0);
  await waitFor(async () => (await j.mi('messages.get', { id })).status === 'delivered', 10000,
    'status delivered');
  await waitFor(() => events.messages.some((m) => m.json.id === id && m.routingKey === 'message.delivered'),
    10000, 'message.delivered');
  const keys = events.messages.filter((m) => m.json.id === id).map((m) => m.routingKey);
  assert.deepEqual(keys.slice(-2), ['message.receipt', 'message.delivered']);
});

test('a mobile-originated deliver_sm arrives at the SIP UAS as MESSAGE', async () => {
  const resp = await smsc.deliver({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '4915112345678',
    destination_addr: '1000', data_coding: 8,
    short_message: Buffer.from('Antwort: Привет', 'utf16le').swap16(),
  });
  assert.equal(resp.command_status, 0);
  const got = await waitFor(() => loggedMessages(uas.messageFile, 'received')
    .find((m) => m.startsWith('MESSAGE ')), 10000, 'MESSAGE at the UAS');
  assert.match(got, /^MESSAGE sip:1000@127\.0\.0\.1:\d+ SIP\/2\.0/);
  assert.match(got, /^From: .*sip:\+4915112345678@/m);
  assert.ok(got.includes('Antwort: Привет'), got);
  await waitFor(() => events.messages.some((m) => m.routingKey === 'message.delivered' &&
    m.json.envelope.to.address === '1000'), 10000, 'message.delivered event of the MO message');
});
