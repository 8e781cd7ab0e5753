// A SIP trunk destination found up and down by its OPTIONS probes is
// published as ops.connector_state (docs/events.md, docs/sip-proxy.md
// "Trunks"): connector = the trunk, bind = the destination's index,
// detail = its URI and why; each event validates against
// docs/events.schema.json.  RabbitMQ is the event sink, the destination a
// node UDP socket that answers OPTIONS while told to.  Every wait is for an
// event, bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';
import { validate } from './lib/jsonschema.mjs';

const EVENTS = 'junction.events';
const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));
let mq, j;

before(async () => {
  mq = await startRabbit();
  j = await startJunction();
  await j.mi('connectors.add', { name: 'events', type: 'amqp', conf: { port: mq.port, exchange: EVENTS } });
  await waitFor(async () => (await j.mi('connectors.list')).find((x) => x.name === 'events')?.status?.state === 'connected',
    15000, 'the amqp sink connected');
});

after(async () => {
  await j?.cleanup();
  await mq?.stop();
});

test('a trunk destination going up and down by its probes is ops.connector_state up / down with its index and why', async () => {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  let answering = true;
  sock.on('message', (b, ri) => {
    const m = b.toString('utf8');
    if (!answering || !m.startsWith('OPTIONS ')) return;
    const keep = m.split('\r\n').filter((l) => /^(via|from|call-id|cseq):/i.test(l));
    const to = m.split('\r\n').find((l) => /^to:/i.test(l));
    sock.send([`SIP/2.0 200 OK`, ...keep, `${to};tag=p1`, 'Content-Length: 0', '', ''].join('\r\n'), ri.port, ri.address);
  });
  const port = sock.address().port;
  const ops = await consume(mq.url, EVENTS, 'ops.connector_state');
  try {
    await j.mi('connectors.add', { name: 'pstn', type: 'sip_trunk', enabled: true, conf: {
      destinations: [{ uri: 'sip:127.0.0.1:9' /* nothing listens: down */ }, { uri: `sip:127.0.0.1:${port}` }],
      probe: { interval_s: 1, up_after: 1, down_after: 1, timeout_ms: 300 } } });
    const mine = () => ops.messages.filter((m) => m.json.data.connector === 'pstn');
    await waitFor(() => mine().some((m) => m.json.data.bind === 1 && m.json.data.state === 'up'), 15000, 'destination 1 up');
    await waitFor(() => mine().some((m) => m.json.data.bind === 0 && m.json.data.state === 'down'), 15000, 'destination 0 down');
    answering = false;
    await waitFor(() => mine().some((m) => m.json.data.bind === 1 && m.json.data.state === 'down'), 15000, 'destination 1 down');
    const up1 = mine().find((m) => m.json.data.bind === 1 && m.json.data.state === 'up');
    assert.equal(up1.json.data.detail, `sip:127.0.0.1:${port} answered OPTIONS 200 (1 in a row)`);
    const down1 = mine().find((m) => m.json.data.bind === 1 && m.json.data.state === 'down');
    assert.equal(down1.json.data.detail, `sip:127.0.0.1:${port}: no answer to OPTIONS within 300 ms (1 in a row)`);
    assert.deepEqual(mine().map((m) => m.json.data.state).filter((_, i) => mine()[i].json.data.bind === 1), ['up', 'down'],
      'one event per change, none while the state holds');
    for (const m of mine()) assert.deepEqual(validate(SCHEMA, m.json), [], JSON.stringify(m.json));
  } finally {
    await ops.close();
    await j.mi('connectors.delete', { name: 'pstn' });
    sock.close();
  }
});
