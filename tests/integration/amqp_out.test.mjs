// AMQP out: what junction publishes to RabbitMQ.  An envelope routed to an
// amqp connector is published with mandatory set, so a broker with no queue
// bound to its key returns it (basic.return) and the delivery is a
// temporary failure, never "delivered"; and every event junction publishes
// matches docs/events.schema.json and carries the AMQP properties
// docs/events.md promises.  Real peers: a private RabbitMQ node and amqplib.
import { test, describe, before, after } from 'node:test';
import smpp from 'smpp';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { validate } from './lib/jsonschema.mjs';

const EVENTS = 'junction.events';
const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));

async function connectorStatus(j, name) {
  const c = (await j.mi('connectors.list')).find((x) => x.name === name);
  return c && c.status;
}

async function addAmqp(j, name, port, exchange) {
  await j.mi('connectors.add', { name, type: 'amqp', conf: { port, exchange } });
  await waitFor(async () => (await connectorStatus(j, name))?.state === 'connected', 15000,
    `amqp connector ${name} connected`);
}

const about = (c, id) => c.messages.filter((m) => m.json.id === id);

describe('envelopes to an amqp target are published mandatory', () => {
  let mq, j;
  before(async () => {
    // jt.bound has a queue for key "envelope"; jt.nobody has none
    mq = await startRabbit({ queues: [{ name: 'jt.envelopes', exchange: 'jt.bound', key: 'envelope' }] });
    j = await startJunction({ params: { 'core.max_attempts': 2, 'core.retry_base_ms': 100,
      'core.retry_max_ms': 200 } });
    await addAmqp(j, 'nobody', mq.port, 'jt.nobody');
    await addAmqp(j, 'bound', mq.port, 'jt.bound');
  });
  after(async () => {
    if (j) await j.cleanup();
    if (mq) await mq.stop();
  });

  test('an envelope no queue takes is returned, retried and failed, never delivered', async () => {
    await j.mi('routes.add', { name: 'unbound', target: 'nobody', dst_prefix: '4671' });
    const { id } = await j.mi('messages.inject', { from: '46700000009', to: '46710000001', body: 'no queue' });
    const m = await waitFor(async () => {
      const g = await j.mi('messages.get', { id });
      return g.status === 'failed' && g;
    }, 15000, 'the returned message failed after core.max_attempts');
    assert.equal(m.attempts, 2, 'each return is one attempt');
    assert.match(m.reason_text, /returned the message: 312 NO_ROUTE \(exchange jt.nobody, key envelope\)/);
    assert.equal(m.reason, 312);
    const { counters } = await j.mi('stats.get');
    assert.ok(counters['amqp.returned'] >= 2, `amqp.returned ${counters['amqp.returned']}`);
    const st = await connectorStatus(j, 'nobody');
    assert.equal(st.state, 'connected', 'a return does not break the link');
  });

  test('a returned envelope moves on to the next target of a failover plan', async () => {
    const c = await consume(mq.url, 'jt.envelopes');
    try {
      await j.mi('routes.add', { name: 'failover', target: 'nobody,bound', dst_prefix: '4672' });
      const { id } = await j.mi('messages.inject', { from: '46700000009', to: '46720000001', body: 'second target' });
      const m = await waitFor(async () => {
        const g = await j.mi('messages.get', { id });
        return g.status === 'delivered' && g;
      }, 15000, 'delivered through the second target');
      assert.equal(m.target, 'bound');
      assert.equal(m.tries, '2,1', 'two returns on the first target, one confirm on the second');
      await c.waitCount(1, 5000);
      assert.equal(c.messages[0].json.id, id);
      assert.equal(c.messages.length, 1);
    } finally {
      await c.close();
    }
  });

  test('the headers a rule sets ride on the published envelope, and a bad header name is refused with its path', async () => {
    const bad = await j.mi('routes.import', { rules: [{ id: 9, name: 'bad', priority: 1,
      filters: { dst: { prefix: '4673' } }, action: { route: { targets: ['bound'] },
        set: { headers: { 'x-junction-error': 'mine' } } } }] }).catch((e) => e);
    assert.ok(bad instanceof Error && bad.rpc, 'refused');
    assert.match(JSON.stringify(bad.rpc), /action\.set\.headers/);
    const c = await consume(mq.url, 'jt.envelopes');
    try {
      await j.mi('routes.import', { rules: [{ id: 9, name: 'tenant', priority: 1,
        filters: { dst: { prefix: '4673' } }, action: { route: { targets: ['bound'] },
          set: { headers: { 'x-tenant': 'acme', priority_class: 'gold' }, tags: { plain: 'tag' } } } }] });
      const { id } = await j.mi('messages.inject', { from: '46700000009', to: '46730000001', body: 'with headers' });
      await c.waitCount(1, 10000);
      const m = c.messages[0];
      assert.equal(m.json.id, id);
      assert.deepEqual(m.properties.headers, { 'x-tenant': 'acme', priority_class: 'gold' },
        'only the rule\'s headers, not its other tags');
      assert.equal(m.json.tags['amqp_out.x-tenant'], 'acme', 'the envelope keeps them as tags');
    } finally {
      await c.close();
    }
  });
});

// Every published event against docs/events.schema.json, and the AMQP
// properties docs/events.md promises.  Returns the validation errors.
function checkEvent(m) {
  const errs = validate(SCHEMA, m.json).map((e) => `${m.routingKey}: ${e}`);
  const p = m.properties;
  if (p.contentType !== 'application/json') errs.push(`${m.routingKey}: content_type ${p.contentType}`);
  if (p.deliveryMode !== 2) errs.push(`${m.routingKey}: not persistent`);
  if (p.appId !== 'junction') errs.push(`${m.routingKey}: app_id ${p.appId}`);
  if (p.type !== m.json.event || m.routingKey !== m.json.event) errs.push(`${m.routingKey}: type ${p.type}`);
  const idPrefix = m.json.event.startsWith('ops.') ? 'ops.' : `${m.json.id}.`;
  if (!(p.messageId || '').startsWith(idPrefix)) errs.push(`${m.routingKey}: message_id ${p.messageId}`);
  if (!(Math.abs(p.timestamp - Date.now() / 1000) < 120)) errs.push(`${m.routingKey}: timestamp ${p.timestamp}`);
  return errs;
}

describe('the events of a message life match the schema', () => {
  let mq, j, smsc, events;
  before(async () => {
    mq = await startRabbit();
    smsc = await startSmsc();
    j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'core.max_attempts': 1 } });
    await addAmqp(j, 'events', mq.port, EVENTS);
    events = await consume(mq.url, EVENTS, 'message.#');
    await j.mi('connectors.add', { name: 'smsc1', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' } });
    await waitBound(j, 'smsc1');
    await j.mi('routes.add', { name: 'mt', dst_prefix: '49', target: 'smsc1' });
    await j.mi('routes.add', { name: 'unbound', dst_prefix: '4671', target: 'events' });
  });
  after(async () => {
    if (events) await events.close();
    if (j) await j.cleanup();
    if (smsc) await smsc.stop();
    if (mq) await mq.stop();
  });

  test('received, routed, queued, sending, submitted, receipt and delivered validate', async () => {
    const { id } = await j.mi('messages.inject', { from: '46700000009', to: '4915112345678', body: 'life' });
    await waitFor(() => about(events, id).some((m) => m.routingKey === 'message.submitted'), 10000,
      'message.submitted');
    const pdu = smsc.submits.find((p) => p.short_message.message === 'life');
    await smsc.deliver({ esm_class: 0x04, source_addr: '4915112345678', destination_addr: '46700000009',
      short_message: `id:${pdu.smsc_message_id} sub:001 dlvrd:001 submit date:2611281200 done date:2611281201 stat:DELIVRD err:000 text:life` });
    await waitFor(() => about(events, id).some((m) => m.routingKey === 'message.delivered'), 10000,
      'message.delivered');
    const mine = about(events, id);
    assert.deepEqual(mine.map((m) => m.routingKey), ['message.received', 'message.routed',
      'message.queued', 'message.sending', 'message.submitted', 'message.receipt', 'message.delivered']);
    assert.deepEqual(mine.flatMap(checkEvent), []);
    assert.equal(new Set(mine.map((m) => m.properties.messageId)).size, mine.length,
      'each event has its own message_id');
    assert.ok(mine.every((m) => m.json.v === 1), 'schema version 1');
  });

  test('a failed message\'s events validate too', async () => {
    // the events exchange has no queue for key "envelope": returned, then failed
    const { id } = await j.mi('messages.inject', { from: '46700000009', to: '46710000001', body: 'fails' });
    await waitFor(() => about(events, id).some((m) => m.routingKey === 'message.failed'), 15000,
      'message.failed');
    const mine = about(events, id);
    assert.deepEqual(mine.flatMap(checkEvent), []);
    const failed = mine.find((m) => m.routingKey === 'message.failed');
    assert.equal(failed.json.status, 'failed');
    assert.equal(failed.json.reason, 312, 'the broker\'s NO_ROUTE');
  });

  test('a configuration change is published as ops.config_changed, and validates', async () => {
    const ops = await consume(mq.url, EVENTS, 'ops.#');
    try {
      await j.mi('routes.add', { name: 'ops-check', dst_prefix: '4699', target: 'smsc1' });
      await ops.waitCount(1, 10000);
      const m = ops.messages.find((x) => x.json.data.method === 'routes.add');
      assert.ok(m, JSON.stringify(ops.messages.map((x) => x.json)));
      assert.equal(m.routingKey, 'ops.config_changed');
      assert.match(m.json.data.who, /^token:/);
      assert.equal(m.json.data.via, 'http');
      assert.deepEqual(checkEvent(m), []);
      assert.deepEqual(validate(SCHEMA, { ...m.json, data: { who: 'x' } }).length > 0, true, 'data is checked');
    } finally {
      await ops.close();
    }
  });

  test('an SMSC lost and back is published as ops.connector_state down, then up, and validates', async () => {
    const ops = await consume(mq.url, EVENTS, 'ops.connector_state');
    try {
      await smsc.stop();
      await waitFor(() => ops.messages.some((m) => m.json.data.connector === 'smsc1' && m.json.data.state === 'down'), 15000, 'smsc1 down');
      await smsc.start();
      await waitFor(() => ops.messages.some((m) => m.json.data.connector === 'smsc1' && m.json.data.state === 'up'), 15000, 'smsc1 up');
      const mine = ops.messages.filter((m) => m.json.data.connector === 'smsc1');
      assert.deepEqual(mine.map((m) => m.json.data.state).slice(0, 2), ['down', 'up']);
      assert.equal(mine[0].json.data.bind, 0);
      assert.equal(typeof mine[0].json.data.detail, 'string');
      assert.deepEqual(mine.flatMap(checkEvent), []);
      await waitBound(j, 'smsc1');
    } finally {
      await ops.close();
    }
  });

  test('an SMPP customer\'s first receiving bind and its last unbind are ops.connector_state up and down of account:<system_id>', async () => {
    const ops = await consume(mq.url, EVENTS, 'ops.connector_state');
    try {
      await j.mi('accounts.add', { system_id: 'opsacct', password: 'pw' });
      const session = smpp.connect({ url: `smpp://127.0.0.1:${j.ports.smpp}` });
      session.on('error', () => {});
      const resp = await new Promise((resolve) => session.on('connect', () =>
        session.bind_transceiver({ system_id: 'opsacct', password: 'pw' }, resolve)));
      assert.equal(resp.command_status, 0);
      const mine = () => ops.messages.filter((m) => m.json.data.connector === 'account:opsacct');
      await waitFor(() => mine().some((m) => m.json.data.state === 'up'), 10000, 'account up');
      await new Promise((resolve) => session.unbind(() => { session.close(); resolve(); }));
      await waitFor(() => mine().some((m) => m.json.data.state === 'down'), 10000, 'account down');
      assert.deepEqual(mine().map((m) => m.json.data.state), ['up', 'down']);
      assert.equal(mine()[1].json.data.detail, 'no receiving bind');
      assert.deepEqual(mine().flatMap(checkEvent), []);
    } finally {
      await ops.close();
    }
  });

  test('the schema is not a pass-all: a changed event fails it', () => {
    const m = events.messages[0];
    assert.deepEqual(checkEvent(m), []);
    const bad = [
      { ...m.json, v: 2 }, { ...m.json, event: 'message.unknown' }, { ...m.json, extra: 1 },
      { ...m.json, envelope: { ...m.json.envelope, to: { address: 1 } } },
    ];
    for (const b of bad) assert.notDeepEqual(validate(SCHEMA, b), [], JSON.stringify(b).slice(0, 80));
    assert.notDeepEqual(checkEvent({ ...m, properties: { ...m.properties, deliveryMode: 1 } }), []);
  });
});
