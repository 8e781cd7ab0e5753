// AMQP events: every state change of a message is published to a RabbitMQ
// topic exchange by an "amqp" connector, and a broker that is down never
// stops junction.  Real peers: a private RabbitMQ node (lib/rabbitmq.mjs)
// and amqplib consumers.  Messages enter through the MI's messages.inject
// and are routed to the amqp connector itself, whose send() publishes the
// envelope (routing key "envelope") and reports it delivered.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';

const EXCHANGE = 'junction.events';

async function connectorStatus(j, name) {
  const list = await j.mi('connectors.list');
  const c = list.find((x) => x.name === name);
  return c && c.status;
}

// The events about envelope id, in arrival order.
const about = (c, id) => c.messages.filter((m) => m.json.id === id || m.json?.envelope?.id === id);

function assertEvent(m, state, inject) {
  assert.equal(m.routingKey, `message.${state}`);
  assert.equal(m.properties.contentType, 'application/json');
  assert.equal(m.properties.deliveryMode, 2, 'events are persistent');
  assert.equal(m.json.event, `message.${state}`);
  assert.equal(m.json.id, inject.id);
  // one message_id per event, stable when it is published again
  assert.match(m.properties.messageId, new RegExp(`^${inject.id}\\.\\d+$`));
  assert.equal(m.properties.type, `message.${state}`);
  assert.equal(m.json.envelope.id, inject.id);
  assert.equal(m.json.envelope.body, inject.body);
  assert.equal(m.json.envelope.from.address, inject.from);
  assert.equal(m.json.envelope.to.address, inject.to);
}

describe('amqp events with a live broker', () => {
  let mq, j;
  before(async () => {
    mq = await startRabbit();
    console.log(`# rabbitmq started in ${mq.startMs} ms on port ${mq.port}`);
    j = await startJunction();
  });
  after(async () => {
    if (j) await j.cleanup();
    if (mq) await mq.stop();
  });

  test('the connector connects, declares the exchange and shows as connected', async () => {
    await j.mi('connectors.add', {
      name: 'events', type: 'amqp',
      conf: { host: '127.0.0.1', port: mq.port, vhost: '/', user: 'guest', password: 'guest',
        exchange: EXCHANGE, heartbeat: 10 },
    });
    const st = await waitFor(async () => {
      const s = await connectorStatus(j, 'events');
      return s && s.state === 'connected' && s;
    }, 10000, 'amqp connector connected');
    assert.equal(st.dropped, 0);
    assert.equal(st.last_error, '');
  });

  test('a message publishes received then routed, then its envelope and delivered', async () => {
    const events = await consume(mq.url, EXCHANGE, 'message.#');
    const envelopes = await consume(mq.url, EXCHANGE, 'envelope');
    try {
      await j.mi('routes.add', { name: 'to-amqp', target: 'events', dst_prefix: '4670' });
      const msg = { from: '46700000009', to: '46700000001', body: 'hello AMQP' };
      const res = await j.mi('messages.inject', msg);
      assert.equal(res.target, 'events');
      const inject = { ...msg, id: res.id };

      await waitFor(() => about(events, inject.id).some((m) => m.routingKey === 'message.delivered'),
        10000, 'message.delivered event');
      const mine = about(events, inject.id);
      const keys = mine.map((m) => m.routingKey);
      assert.deepEqual(keys.slice(0, 2), ['message.received', 'message.routed'], `got ${keys}`);
      assertEvent(mine[0], 'received', inject);
      assertEvent(mine[1], 'routed', inject);
      assert.ok(keys.indexOf('message.delivered') > 1, `delivered comes last: ${keys}`);

      await envelopes.waitCount(1, 5000);
      const env = envelopes.messages[0];
      assert.equal(env.routingKey, 'envelope');
      assert.equal(env.json.id, inject.id);
      assert.equal(env.json.body, inject.body);
      assert.equal(env.json.to.address, inject.to);
      assert.equal(env.properties.messageId, inject.id);

      const stored = await j.mi('messages.get', { id: inject.id });
      assert.equal((stored.status ?? stored.envelope?.status), 'delivered');
      const st = await connectorStatus(j, 'events');
      assert.equal(st.state, 'connected');
      assert.ok(st.published >= 4, `published ${st.published}`);
      const { counters } = await j.mi('stats.get');
      assert.ok(counters['amqp.published'] >= 4, JSON.stringify(counters));
      assert.equal(counters['amqp.dropped'], 0);
    } finally {
      await events.close();
      await envelopes.close();
    }
  });

  test('the exchange is a durable topic exchange', async () => {
    const conn = await amqplib.connect(mq.url);
    try {
      const ok = await conn.createChannel();
      await ok.checkExchange(EXCHANGE);
      // Re-declaring with the same arguments succeeds...
      await ok.assertExchange(EXCHANGE, 'topic', { durable: true });
      await ok.close();
      // ...and with different ones the broker refuses (406 PRECONDITION_FAILED).
      for (const [type, durable] of [['topic', false], ['fanout', true]]) {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        await assert.rejects(ch.assertExchange(EXCHANGE, type, { durable }), /406|PRECONDITION/);
      }
    } finally {
      await conn.close().catch(() => {});
    }
  });

  test('a bad conf is refused before it is stored', async () => {
    await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'amqp', conf: { port: 0 } }),
      /port/);
    await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'amqp', conf: { hots: 'x' } }),
      /hots/);
  });
});

describe('amqp events while the broker is down', () => {
  let mq, j;
  after(async () => {
    if (j) await j.cleanup();
    if (mq) await mq.stop();
  });

  test('junction keeps running, buffers, and flushes in order once the broker is up', async () => {
    const port = await freePort();
    j = await startJunction({ params: { 'amqp.retry_max_ms': 2000 } });
    await j.mi('connectors.add', {
      name: 'events', type: 'amqp', conf: { host: '127.0.0.1', port, exchange: EXCHANGE },
    });
    await waitFor(async () => (await connectorStatus(j, 'events'))?.state === 'down', 10000,
      'amqp connector down');
    await j.mi('routes.add', { name: 'to-amqp', target: 'events', dst_prefix: '4670' });

    const sent = [];
    for (let i = 0; i < 3; i++) {
      const msg = { from: '46700000009', to: '46700000001', body: `while down ${i}` };
      const t0 = Date.now();
      const res = await j.mi('messages.inject', msg);
      assert.ok(Date.now() - t0 < 2000, 'accepting does not wait for the broker');
      sent.push({ ...msg, id: res.id });
    }
    assert.ok((await j.mi('system.version')).version, 'MI still answers');
    await waitFor(() => j.log.includes(`broker 127.0.0.1:${port} unreachable`), 5000, 'WARN in log');
    assert.match(j.log, /events are buffered \(\d+\) and junction keeps running/);
    const warns = j.log.split('\n').filter((l) => l.includes(`broker 127.0.0.1:${port} unreachable`));
    assert.equal(warns.length, 1, `one WARN per outage:\n${warns.join('\n')}`);
    const down = await connectorStatus(j, 'events');
    assert.equal(down.state, 'down');
    assert.ok(down.buffered >= 6, `buffered ${down.buffered}`);
    assert.notEqual(down.last_error, '');
    for (const s of sent) assert.notEqual((await j.mi('messages.get', { id: s.id })).status, 'delivered');

    // The queue exists from the broker's first moment, so nothing flushed on
    // reconnection can be lost to an unbound exchange.
    // (the envelopes are published mandatory: they need a queue of their own)
    mq = await startRabbit({ port, queues: [{ name: 'jt.events', exchange: EXCHANGE, key: 'message.#' },
      { name: 'jt.envelopes', exchange: EXCHANGE, key: 'envelope' }] });
    await waitFor(async () => (await connectorStatus(j, 'events'))?.state === 'connected', 15000,
      'amqp connector reconnected');
    const c = await consume(mq.url, 'jt.events');
    try {
      await waitFor(() => sent.every((s) => about(c, s.id).some((m) => m.routingKey === 'message.delivered')),
        15000, 'every message delivered through the broker');
      for (const s of sent) {
        const mine = about(c, s.id);
        assertEvent(mine[0], 'received', s);
        assertEvent(mine[1], 'routed', s);
      }
      // events kept their order across the outage
      const received = c.messages.filter((m) => m.routingKey === 'message.received').map((m) => m.json.id);
      assert.deepEqual(received, sent.map((s) => s.id));
      assert.match(j.log, /amqp connector events: reconnected to broker/);
      const up = await connectorStatus(j, 'events');
      assert.equal(up.dropped, 0);
      assert.equal(up.buffered, 0);
    } finally {
      await c.close();
    }
  });

  test('a full buffer loses no event: the rest is read back from the outbox, in order', async () => {
    const port = await freePort();
    const j2 = await startJunction({ params: { 'amqp.buffer_max': 4 } });
    let mq2, c2;
    try {
      await j2.mi('connectors.add', { name: 'small', type: 'amqp', conf: { port, exchange: EXCHANGE } });
      await waitFor(async () => (await connectorStatus(j2, 'small'))?.state === 'down', 10000,
        'amqp connector down');
      await j2.mi('routes.add', { name: 'nowhere', target: 'missing', dst_prefix: '4670' });
      const ids = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await j2.mi('messages.inject', { from: '46700000009', to: '46700000001', body: `m${i}` })).id);
      }
      const st = await connectorStatus(j2, 'small');
      // memory holds amqp.buffer_max (the link thread may hold one more in
      // hand); the rest of the 15 events waits in the outbox
      assert.ok(st.buffered >= 4 && st.buffered <= 5, `buffered ${st.buffered}`);
      assert.equal(st.behind, true);
      assert.equal(st.dropped, 0);
      mq2 = await startRabbit({ port, queues: [{ name: 'jt.small', exchange: EXCHANGE, key: 'message.#' }] });
      await waitFor(async () => (await connectorStatus(j2, 'small'))?.state === 'connected', 20000,
        'reconnected');
      c2 = await consume(mq2.url, 'jt.small');
      const want = ids.flatMap((id) => ['received', 'routed', 'queued'].map((k) => `${id} message.${k}`));
      await waitFor(() => c2.messages.length >= want.length, 15000, `${want.length} events`);
      const got = c2.messages.map((m) => `${m.json.id} ${m.routingKey}`);
      assert.deepEqual(got, want, 'every event, once, in commit order');
      const after = await connectorStatus(j2, 'small');
      assert.ok(after.replayed >= 10, `replayed ${after.replayed}`);
      assert.equal(after.behind, false);
      assert.equal(after.dropped, 0);
      assert.ok((await j2.mi('stats.get')).counters['amqp.replayed'] >= 10);
    } finally {
      if (c2) await c2.close();
      await j2.cleanup();
      if (mq2) await mq2.stop();
    }
  });
});
