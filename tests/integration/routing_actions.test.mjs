// The two rule actions the core carries out after the decision
// (docs/routing.md, "What the core does with a decision"):
//   - rate_limit with over: "queue": a message over its rule's rate is
//     accepted and stored, and held in its connector queue until the token
//     booked for it is due, so the rule's rate holds on the way out to the
//     SMSC; a restart while messages are held loses none;
//   - mirror: a copy of the accepted message (its envelope) is published to
//     the rule's AMQP exchange with the rule's routing key, through the
//     outbox, so a broker that is briefly away gets it later, while the
//     original goes to the SMSC undelayed.
// Real peers: an npm `smpp` SMSC (lib/smsc.mjs) and a private RabbitMQ node
// (lib/rabbitmq.mjs), loopback only.  The rate is checked on the SMSC's
// recorded arrival times (a spread, not a stopwatch on junction's speed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';

let j, smsc;

const counters = async () => (await j.mi('stats.get')).counters;
const inject = (to, body) => j.mi('messages.inject', { from: '4930111', to, body });
const setRules = (rules) => j.mi('routes.import', { rules });
const arrivals = (prefix) => smsc.submits.filter((p) => p.short_message.message.startsWith(prefix));
const connectorStatus = async (name) => (await j.mi('connectors.list')).find((c) => c.name === name)?.status;
const limited = (rate, burst) => [{ id: 1, name: 'limited', priority: 1, filters: { dst: { prefix: '44' } },
  action: { route: { targets: ['a'] }, rate_limit: { rate, burst, over: 'queue' } } }];

before(async () => {
  smsc = await startSmsc();
  // every PDU the SMSC records gets its arrival time
  smsc.submits.push = function push(...pdus) {
    for (const p of pdus) p.at = Date.now();
    return Array.prototype.push.apply(this, pdus);
  };
  j = await startJunction({ params: { 'core.sweep_ms': 200, 'amqp.retry_max_ms': 2000 } });
  await j.mi('connectors.add', { name: 'a', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'ja', password: 'pw' } });
  await waitBound(j, 'a');
});

after(async () => {
  await j?.cleanup();
  await smsc?.stop();
});

test('rate_limit over "queue": 60 messages accepted at once all reach the SMSC, at the rule\'s rate', async () => {
  await setRules(limited(20, 1));
  const held0 = (await counters())['core.rate_held'] || 0;
  const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => inject('+447700900100', `rq ${i}`)));
  assert.equal(new Set(ids.map((r) => r.id)).size, 60, 'every message accepted with its own id');
  const held = (await counters())['core.rate_held'] - held0;
  assert.ok(held >= 30, `most were held back (core.rate_held +${held})`);
  // a held message is stored as queued with the time its token is due
  const states = await Promise.all(ids.map((r) => j.mi('messages.get', { id: r.id })));
  assert.ok(states.some((m) => m.status === 'queued' && m.next_at > Date.now()),
    'a held message waits as queued with next_at ahead');

  await waitFor(() => arrivals('rq ').length >= 60, 30000, '60 messages at the SMSC');
  const got = arrivals('rq ');
  assert.equal(got.length, 60);
  assert.equal(new Set(got.map((p) => p.short_message.message)).size, 60, 'none twice, none lost');
  const at = got.map((p) => p.at).sort((x, y) => x - y);
  // 20/s with a burst of 1: 59 intervals of 50 ms after the first
  const tol = 250;
  assert.ok(at[59] - at[0] >= 59 * 50 - tol, `spread ${at[59] - at[0]} ms`);
  for (let i = 0; i + 20 < at.length; i++)
    assert.ok(at[i + 20] - at[i] >= 1000 - tol, `20 messages within ${at[i + 20] - at[i]} ms at #${i}`);
  await waitFor(async () => (await Promise.all(ids.map((r) => j.mi('messages.get', { id: r.id }))))
    .every((m) => m.status === 'submitted' || m.status === 'delivered'), 10000, 'all submitted');
  // the dry run takes no token and says the rule is limited
  assert.equal((await j.mi('routes.test', { to: '+447700900100' })).rate_limit, 'ok');
});

test('rate_limit over "queue": a restart while messages are held loses none', async () => {
  await setRules(limited(5, 1)); // 40 messages: 8 s of hold
  const ids = [];
  for (let i = 0; i < 40; i++) ids.push((await inject('+447700900200', `rs ${i}`)).id);
  await waitFor(() => arrivals('rs ').length >= 2, 10000, 'the first held messages sent');
  const last = await j.mi('messages.get', { id: ids[39] });
  assert.equal(last.status, 'queued', 'the last one is still held');
  assert.ok(last.next_at > Date.now() + 1000, `held until ${last.next_at}`);

  assert.equal((await j.stop()).code, 0, 'a clean stop');
  const before = arrivals('rs ').length;
  assert.ok(before < 40, `${before} sent before the stop`);
  j.start();
  await j.ready();
  await waitBound(j, 'a');
  await waitFor(() => arrivals('rs ').length >= 40, 30000, '40 messages at the SMSC after the restart');
  const got = arrivals('rs ').map((p) => p.short_message.message);
  assert.equal(got.length, 40);
  assert.equal(new Set(got).size, 40, 'none twice, none lost');
  for (const id of ids) {
    const m = await j.mi('messages.get', { id });
    assert.ok(['submitted', 'delivered'].includes(m.status), `${id} ${m.status}`);
  }
});

test('mirror without an amqp connector: the message is delivered and the copy counted as unpublished', async () => {
  await setRules([{ id: 1, name: 'audited', priority: 1, filters: { dst: { prefix: '44' } },
    action: { route: { targets: ['a'] }, mirror: { exchange: 'audit', routing_key: 'uk.mobile' } } }]);
  const c0 = (await counters())['core.mirror_unpublished'] || 0;
  await inject('+447700900300', 'mirror nowhere');
  await waitFor(() => arrivals('mirror nowhere').length === 1, 10000, 'the original at the SMSC');
  assert.equal((await counters())['core.mirror_unpublished'], c0 + 1);
});

test('mirror: the copy reaches a queue bound to the rule\'s exchange; the original reaches the SMSC; a broker briefly away loses no copy', async () => {
  const port = await freePort();
  let mq = await startRabbit({ port });
  let copies, conn;
  try {
    conn = await amqplib.connect(mq.url);
    const ch = await conn.createChannel();
    await ch.assertExchange('audit', 'topic', { durable: true });
    await ch.close();
    copies = await consume(mq.url, 'audit', 'uk.#');
    await j.mi('connectors.add', { name: 'events', type: 'amqp',
      conf: { host: '127.0.0.1', port, exchange: 'junction.events' } });
    await waitFor(async () => (await connectorStatus('events'))?.state === 'connected', 10000, 'amqp connected');
    const m0 = (await counters())['core.mirrored'] || 0;

    const { id } = await inject('+447700900301', 'mirror me');
    await waitFor(() => arrivals('mirror me').length === 1, 10000, 'the original at the SMSC');
    await copies.waitCount(1, 10000);
    const copy = copies.messages[0];
    assert.equal(copy.routingKey, 'uk.mobile');
    assert.equal(copy.json.id, id, 'the copy is the envelope');
    assert.equal(copy.json.body, 'mirror me');
    assert.equal(copy.json.to.address, '447700900301');
    assert.equal(copy.properties.messageId, id);
    assert.equal(copy.properties.contentType, 'application/json');
    assert.equal((await counters())['core.mirrored'], m0 + 1);

    // a drop's copy is made too: the record of what was dropped
    await setRules([{ id: 1, name: 'spam-audit', priority: 1, filters: { body: { regex: '^spam' } },
      action: { drop: true, set: { headers: { 'x-audit': 'spam' } }, mirror: { exchange: 'audit', routing_key: 'uk.dropped' } } },
    { id: 2, name: 'audited', priority: 2, filters: { dst: { prefix: '44' } },
      action: { route: { targets: ['a'] }, mirror: { exchange: 'audit', routing_key: 'uk.mobile' } } }]);
    const dropped = await inject('+447700900303', 'spam spam');
    await waitFor(() => copies.messages.some((m) => m.json.id === dropped.id), 10000, 'the dropped copy');
    assert.equal(copies.messages.find((m) => m.json.id === dropped.id).routingKey, 'uk.dropped');
    assert.deepEqual(copies.messages.find((m) => m.json.id === dropped.id).properties.headers,
      { 'x-audit': 'spam' }, 'the rule\'s headers are on its mirror copy');
    assert.equal(copy.properties.headers, undefined, 'a rule without headers sets none');
    assert.equal((await j.mi('messages.get', { id: dropped.id })).status, 'rejected');
    assert.equal(arrivals('spam').length, 0, 'a dropped message is never delivered');
    await copies.close();
    await conn.close();
    conn = null;

    // the broker goes away: the original is not held up, the copy waits in
    // the outbox and reaches a broker that comes back on the same port
    await mq.stop();
    await waitFor(async () => (await connectorStatus('events'))?.state === 'down', 15000, 'amqp down');
    const away = await inject('+447700900302', 'mirror while away');
    await waitFor(() => arrivals('mirror while away').length === 1, 10000, 'the original at the SMSC');
    mq = await startRabbit({ port, queues: [{ name: 'jt.audit', exchange: 'audit', key: 'uk.#' }] });
    await waitFor(async () => (await connectorStatus('events'))?.state === 'connected', 20000, 'amqp reconnected');
    copies = await consume(mq.url, 'jt.audit');
    await waitFor(() => copies.messages.some((m) => m.json.id === away.id), 15000, 'the copy after the outage');
    const late = copies.messages.find((m) => m.json.id === away.id);
    assert.equal(late.routingKey, 'uk.mobile');
    assert.equal(late.json.body, 'mirror while away');
    assert.equal((await connectorStatus('events')).dropped, 0);
  } finally {
    await copies?.close();
    await conn?.close().catch(() => {});
    await j.mi('connectors.delete', { name: 'events' }).catch(() => {});
    await mq.stop();
  }
});
