// messages.list's filters (the web console's message search): a number
// matches a prefix of the source or the destination, "+" and "00" dropped;
// a connector matches the source connector or the target; an id prefix;
// a created_at window; all given filters at once; bad values refused.
// messages.get carries the message's own events from the outbox (an AMQP
// connector is the event sink that makes them; no broker is needed for
// them to be stored), none without a sink.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, freePort, waitFor, miError } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

let j;
const ids = {};

before(async () => {
  j = await startJunction();
  // Two SMPP clients towards closed ports: their messages stay queued.
  for (const name of ['smsc-uk', 'smsc-de']) {
    await j.mi('connectors.add', { name, type: 'smpp',
      conf: { host: '127.0.0.1', port: await freePort(), system_id: 't', password: 'x' } });
  }
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'smsc-uk' });
  await j.mi('routes.add', { name: 'de', priority: 20, dst_prefix: '49', target: 'smsc-de' });
  ids.uk = (await j.mi('messages.inject', { from: '4930111', to: '447700900001', body: 'a' })).id;
  ids.de1 = (await j.mi('messages.inject', { from: '4930222', to: '4915112345678', body: 'b' })).id;
  // A later created_at for the window test.
  const t = Date.now();
  await waitFor(() => Date.now() > t + 5, 1000, 'a new millisecond');
  ids.since = Date.now();
  ids.de2 = (await j.mi('messages.inject', { from: '447700900999', to: '4915199999999', body: 'c' })).id;
});

after(async () => { if (j) await j.cleanup(); });

const found = async (params) => (await j.mi('messages.list', params)).map((m) => m.id);

test('a number matches a prefix of either address, written with + or 00 or without', async () => {
  assert.deepEqual(await found({ number: '+4477009' }), [ids.de2, ids.uk], 'to of uk, from of de2');
  assert.deepEqual(await found({ number: '00447700900001' }), [ids.uk]);
  assert.deepEqual(await found({ number: '4930222' }), [ids.de1], 'a source number');
  assert.deepEqual(await found({ number: '3' }), []);
});

test('a connector matches the source connector or the target', async () => {
  assert.deepEqual(await found({ connector: 'smsc-de' }), [ids.de2, ids.de1]);
  assert.deepEqual(await found({ connector: 'mi' }), [ids.de2, ids.de1, ids.uk]);
  assert.deepEqual(await found({ connector: 'nobody' }), []);
});

test('an id prefix, a time window and several filters together', async () => {
  assert.deepEqual(await found({ id: ids.uk }), [ids.uk]);
  assert.ok((await found({ id: ids.uk.slice(0, 4) })).includes(ids.uk));
  assert.deepEqual(await found({ since: ids.since }), [ids.de2]);
  assert.deepEqual(await found({ until: ids.since - 1 }), [ids.de1, ids.uk]);
  assert.deepEqual(await found({ connector: 'smsc-de', number: '49151123' }), [ids.de1]);
  assert.deepEqual(await found({ connector: 'smsc-uk', number: '49151123' }), []);
  assert.deepEqual(await found({ status: 'queued', connector: 'smsc-uk' }), [ids.uk]);
  assert.deepEqual(await found({ number: '%' }), [], 'no LIKE wildcard');
  assert.deepEqual(await found({ limit: 1 }), [ids.de2]);
});

test('bad filters are refused', async () => {
  assert.equal(await miError(j, 'messages.list', { since: -1 }), -32602);
  assert.equal(await miError(j, 'messages.list', { status: 'lost' }), -32602);
  assert.equal(await miError(j, 'messages.list', { limit: 0 }), -32602);
});

test('messages.get lists the events of that message only, none before a sink listened', async () => {
  const m = await j.mi('messages.get', { id: ids.uk });
  assert.equal(m.status, 'queued');
  assert.deepEqual(m.events, [], 'no AMQP connector yet: no events made');
  await j.mi('connectors.add', { name: 'events', type: 'amqp',
    conf: { host: '127.0.0.1', port: await freePort(), vhost: '/', user: 'guest', password: 'guest', exchange: 'x' } });
  // a waits while b comes in, then both go to the SMSC: b's events fall
  // inside a's lifetime and must still not be listed as a's.
  const smsc = await startSmsc();
  try {
    await j.mi('connectors.add', { name: 'smsc-live', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' } });
    await j.mi('routes.add', { name: 'fr', priority: 30, dst_prefix: '33', target: 'smsc-live' });
    await waitBound(j, 'smsc-live');
    await j.mi('smpp.unbind', { connector: 'smsc-live' });
    const a = (await j.mi('messages.inject', { from: '4930333', to: '33612345678', body: 'd' })).id;
    const b = (await j.mi('messages.inject', { from: '4930444', to: '33612345679', body: 'e' })).id;
    await j.mi('smpp.bind', { connector: 'smsc-live' });
    const done = (id) => waitFor(async () => {
      const x = await j.mi('messages.get', { id });
      return x.status === 'submitted' && x.events.some((e) => e.type === 'message.submitted') && x;
    }, 10000, `${id} submitted`);
    const ma = await done(a);
    const mb = await done(b);
    assert.ok(mb.created_at <= ma.updated_at, 'b arrived within a\'s lifetime');
    assert.deepEqual(ma.events.map((e) => e.type).slice(0, 1), ['message.received']);
    assert.ok(ma.events.every((e) => e.event.id === a), `only a's own: ${ma.events.map((e) => e.event.id)}`);
    assert.ok(mb.events.every((e) => e.event.id === b));
    assert.ok(ma.events.every((e, i) => i === 0 || e.seq > ma.events[i - 1].seq), 'oldest first');
  } finally {
    await smsc.stop();
  }
});
