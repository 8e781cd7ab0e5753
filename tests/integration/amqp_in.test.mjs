// AMQP in: an amqp connector that consumes queues (conf "consume") turns
// each delivery into a message, acknowledged only after it committed;
// duplicates by message_id are taken once; malformed or unroutable input is
// dead-lettered with its reason in headers, never dropped; a refusal for
// load is a nack with requeue; reply_to gets the outcome with the same
// correlation_id.  Real peers: a private RabbitMQ node (amqplib publishes
// and inspects queues) and an npm smpp SMSC the messages go to.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import amqplib from 'amqplib';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startRabbit } from './lib/rabbitmq.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { validate } from './lib/jsonschema.mjs';

const INPUT_SCHEMA = JSON.parse(readFileSync(new URL('../../docs/amqp-in.schema.json', import.meta.url), 'utf8'));

async function inStatus(j, name) {
  const c = (await j.mi('connectors.list')).find((x) => x.name === name);
  return c && c.status && c.status.in;
}

describe('amqp messages in', () => {
  let mq, j, smsc, conn, ch;
  let n = 0;
  const text = (what) => `${what} ${++n}`;
  const submitted = (t) => smsc.submits.filter((p) => p.short_message.message === t);

  // Publish one message to the consumed queue's exchange.
  const publish = (body, props = {}) => ch.publish('jt.in', 'sms.out',
    Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    { contentType: 'application/json', persistent: true, ...props });

  // The next dead-lettered message (the queue junction declared for them).
  async function nextDead(timeoutMs = 10000) {
    return waitFor(async () => ch.get('junction.dead', { noAck: true }), timeoutMs, 'a dead-lettered message');
  }
  async function queueDepth(q) { return (await ch.checkQueue(q)).messageCount; }

  before(async () => {
    mq = await startRabbit();
    smsc = await startSmsc();
    j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
    await j.mi('connectors.add', { name: 'smsc1', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' } });
    await waitBound(j, 'smsc1');
    // only messages from the consumed queue match: the router sees amqp_queue
    await j.mi('routes.add', { name: 'from-queue', priority: 10, source: { amqp_queue: ['sms.in'] },
      filters: { dst: { prefix: ['49'] } }, action: { route: { targets: ['smsc1'] } } });
    await j.mi('routes.add', { name: 'premium', priority: 5, filters: { dst: { prefix: ['4990'] } },
      action: { reject: { reason: 'premium-rate destination' } } });
    await j.mi('routes.add', { name: 'slow', priority: 6, filters: { dst: { prefix: ['4980'] } },
      action: { route: { targets: ['smsc1'] }, rate_limit: { rate: 1, burst: 1, over: 'reject' } } });
    await j.mi('connectors.add', { name: 'in', type: 'amqp', conf: {
      port: mq.port, exchange: 'junction.events', prefetch: 8, requeue_delay_ms: 300, dedup_window_s: 60,
      consume: [{ queue: 'sms.in', bindings: [{ exchange: 'jt.in', key: 'sms.#' }] }] } });
    await waitFor(async () => (await inStatus(j, 'in'))?.state === 'consuming', 15000, 'consumer up');
    conn = await amqplib.connect(mq.url);
    ch = await conn.createChannel();
  });
  after(async () => {
    if (conn) await conn.close().catch(() => {});
    if (j) await j.cleanup();
    if (smsc) await smsc.stop();
    if (mq) await mq.stop();
  });

  test('the consumer declares its queue durable, bound, and the dead-letter queue', async () => {
    const c = await amqplib.connect(mq.url);
    try {
      const c1 = await c.createChannel();
      // same arguments: accepted; another durability: 406
      await c1.assertQueue('sms.in', { durable: true });
      await c1.assertQueue('junction.dead', { durable: true });
      const c2 = await c.createChannel();
      c2.on('error', () => {});
      await assert.rejects(c2.assertQueue('sms.in', { durable: false }), /406|PRECONDITION/);
    } finally {
      await c.close().catch(() => {});
    }
    const st = await inStatus(j, 'in');
    assert.deepEqual(st.queues, ['sms.in']);
    const [conn1] = (await j.mi('amqp.connections')).filter((x) => x.connector === 'in');
    assert.equal(conn1.state, 'connected');
    assert.equal(conn1.in.state, 'consuming');
    assert.equal(conn1.in.last_error, '');
    assert.ok(!(await j.mi('amqp.connections')).some((x) => x.connector === 'smsc1'), 'amqp connectors only');
    const r = await j.http('/metrics');
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /^junction_amqp_link_up\{connector="in"\} 1$/m);
    assert.match(text, /^junction_amqp_consumer_up\{connector="in"\} 1$/m);
    assert.match(text, /^# TYPE junction_amqp_consumer_received_total counter$/m);
  });

  test('a delivery becomes a message to the SMSC, named after its queue, acked after commit', async () => {
    const t = text('hello from AMQP');
    publish({ to: '4915112345678', from: 'Acme', text: t, client_ref: 'c-1', tags: { campaign: 'x' } },
      { messageId: 'in-1' });
    await waitFor(() => submitted(t).length === 1, 10000, 'submit_sm at the SMSC');
    assert.equal(submitted(t)[0].destination_addr, '4915112345678');
    assert.equal(submitted(t)[0].source_addr, 'Acme');
    const m = (await j.mi('messages.list', { limit: 20 })).find((x) => x.envelope.body === t);
    assert.equal(m.envelope.tags.sender, 'amqp:in/sms.in');
    assert.equal(m.envelope.tags.client_ref, 'c-1');
    assert.equal(m.envelope.tags.campaign, 'x');
    assert.equal(m.envelope.tags.amqp_routing_key, 'sms.out');
    assert.equal(m.envelope.source.adapter, 'amqp');
    assert.equal(m.envelope.source.peer, 'sms.in');
    assert.equal(m.envelope.corr.amqp_message_id, 'in-1');
    assert.equal(m.route, 'from-queue');
    await waitFor(async () => (await inStatus(j, 'in')).accepted >= 1, 5000, 'accepted counted');
    await waitFor(async () => (await queueDepth('sms.in')) === 0, 5000, 'the delivery acked');
  });

  test('while the store cannot commit, the delivery is not acked: requeued, then sent once', async () => {
    // a real SQLite failure: a trigger that aborts every insert into messages
    const sql = (q) => {
      const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', j.params['db.path'], q], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    const t = text('after the fault');
    const before = (await inStatus(j, 'in')).requeued;
    sql("CREATE TRIGGER no_insert BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
    try {
      publish({ to: '4915112345678', from: 'Acme', text: t }, { messageId: 'fault-1' });
      await waitFor(async () => (await inStatus(j, 'in')).requeued >= before + 2, 15000,
        'refused and requeued twice');
      assert.equal(submitted(t).length, 0);
      assert.equal((await inStatus(j, 'in')).duplicates, 0, 'a failed commit is no duplicate later');
    } finally {
      sql('DROP TRIGGER no_insert;');
    }
    await waitFor(() => submitted(t).length === 1, 15000, 'sent once the store commits');
    await waitFor(async () => (await queueDepth('sms.in')) === 0, 5000, 'acked after that commit');
    assert.equal(submitted(t).length, 1);
  });

  test('deliveries, acks and dead-letter publishes are on the trace bus', async () => {
    const { id } = await j.mi('trace.start', { connector: 'in' });
    try {
      const t = text('traced');
      publish({ to: '4915112345678', from: 'Acme', text: t });
      publish('traced but not json');
      await nextDead();
      const recs = await waitFor(async () => {
        const r = (await j.mi('trace.list', { id })).records.filter((x) => x.kind === 'publish');
        return r.some((x) => /^reject /.test(x.summary)) && r.some((x) => /^ack /.test(x.summary)) && r;
      }, 10000, 'deliver, ack, publish and reject records');
      const sums = recs.map((x) => `${x.dir} ${x.summary}`);
      assert.ok(sums.filter((s) => /^in deliver sms\.in sms\.out tag \d+$/.test(s)).length >= 2, sums.join('\n'));
      assert.ok(sums.some((s) => /^out publish junction\.dlx sms\.in tag \d+$/.test(s)), sums.join('\n'));
      const ack = recs.find((x) => /^ack /.test(x.summary));
      assert.match(ack.env_id, /^[0-9A-Z]{26}$/);
      assert.equal((await j.mi('messages.get', { id: ack.env_id })).envelope.body, t);
    } finally {
      await j.mi('trace.stop', { id });
    }
  });

  test('headers and properties are tags rules match', async () => {
    await j.mi('routes.add', { name: 'tenant-b', priority: 8,
      filters: { dst: { prefix: ['49'] }, tags: { 'amqp_header.tenant': 'b', amqp_app_id: 'crm' } },
      action: { route: { targets: ['smsc1'] } } });
    const t = text('tenant b');
    publish({ to: '4915112345678', from: 'Acme', text: t }, { headers: { tenant: 'b' }, appId: 'crm', type: 'sms' });
    await waitFor(() => submitted(t).length === 1, 10000, 'sent');
    const m = (await j.mi('messages.list', { limit: 20 })).find((x) => x.envelope.body === t);
    assert.equal(m.route, 'tenant-b');
    assert.equal(m.envelope.tags.amqp_type, 'sms');
  });

  test('a message_id seen again within the window is sent once', async () => {
    const t = text('only once');
    const before = (await inStatus(j, 'in')).duplicates;
    publish({ to: '4915112345678', from: 'Acme', text: t }, { messageId: 'dup-1' });
    publish({ to: '4915112345678', from: 'Acme', text: t }, { messageId: 'dup-1' });
    publish({ to: '4915112345678', from: 'Acme', text: t }, { messageId: 'dup-2' });
    await waitFor(async () => (await inStatus(j, 'in')).duplicates === before + 1, 10000, 'one duplicate');
    await waitFor(() => submitted(t).length === 2, 10000, 'dup-1 once and dup-2');
    await waitFor(async () => (await queueDepth('sms.in')) === 0, 5000, 'the duplicate acked too');
    assert.equal(submitted(t).length, 2);
  });

  test('malformed input is dead-lettered with its reason, never dropped', async () => {
    const cases = [
      ['this is not json', /not JSON/],
      [{ to: '4915112345678', from: 'Acme' }, /exactly one of text and binary/],
      [{ to: '4915112345678', from: 'Acme', text: 'x', binary: '00' }, /exactly one of text and binary/],
      [{ to: '4915112345678', from: 'Acme', binary: '0x00' }, /binary: not valid hex/],
      [{ to: '4915112345678', from: 'Acme', binary: 'a-b=', encoding: 'base64' }, /binary: not valid base64/],
      [{ to: '4915112345678', from: 'Acme', binary: 'ab'.repeat(141) }, /more than 140 octets/],
      [{ to: '4915112345678', from: 'Acme', binary: '00', udh: '0701' }, /udh: not a user data header/],
      [{ to: '4915112345678', from: 'Acme', text: 'x', colour: 'red' }, /unknown member "colour"/],
      [{ to: '4915112345678', from: 'Acme', text: 'x', validity_s: -5 }, /validity_s/],
    ];
    for (const [body, reason] of cases) {
      publish(body, { messageId: `bad-${++n}`, headers: { 'x-app': 'crm' } });
      const d = await nextDead();
      assert.equal(d.properties.headers['x-junction-error'], 'invalid');
      assert.match(d.properties.headers['x-junction-reason'], reason);
      assert.equal(d.properties.headers['x-junction-queue'], 'sms.in');
      assert.equal(d.properties.headers['x-app'], 'crm', 'the original headers stay');
      assert.equal(d.properties.messageId, `bad-${n}`);
      assert.equal(d.content.toString(), typeof body === 'string' ? body : JSON.stringify(body));
    }
    await waitFor(async () => (await queueDepth('sms.in')) === 0, 5000, 'rejected from sms.in');
    assert.ok((await inStatus(j, 'in')).dead_lettered >= cases.length);
  });

  test('no route and a rule refusal are dead-lettered with their reason', async () => {
    publish({ to: '3312345678', from: 'Acme', text: text('nowhere') });
    let d = await nextDead();
    assert.equal(d.properties.headers['x-junction-error'], 'no_route');
    assert.match(d.properties.headers['x-junction-reason'], /no route for 3312345678/);
    publish({ to: '49901234567', from: 'Acme', text: text('premium') });
    d = await nextDead();
    assert.equal(d.properties.headers['x-junction-error'], 'rejected');
    assert.match(d.properties.headers['x-junction-reason'], /premium \(|premium-rate destination/);
  });

  test('a refusal for load is a nack with requeue: the message comes back and is sent', async () => {
    // rate 1/s: of three at once two are refused for load, requeued after
    // 300 ms and taken when the bucket has a token again
    const before = (await inStatus(j, 'in')).requeued;
    const ts = [text('slow'), text('slow'), text('slow')];
    for (const t of ts) publish({ to: '4980123456', from: 'Acme', text: t });
    await waitFor(() => ts.every((t) => submitted(t).length === 1), 15000, 'all three sent');
    assert.ok((await inStatus(j, 'in')).requeued > before, 'some were requeued');
    assert.equal(await queueDepth('junction.dead'), 0, 'none dead-lettered');
  });

  test('reply_to gets the outcome with the same correlation_id', async () => {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const replies = [];
    await ch.consume(queue, (m) => replies.push(m), { noAck: true });
    const t = text('with reply');
    publish({ to: '4915112345678', from: 'Acme', text: t }, { replyTo: queue, correlationId: 'corr-1', messageId: 'rr-1' });
    publish({ to: '4915112345678', from: 'Acme' }, { replyTo: queue, correlationId: 'corr-2' });
    publish({ to: '4915112345678', from: 'Acme', text: t }, { replyTo: queue, correlationId: 'corr-3', messageId: 'rr-1' });
    await waitFor(() => replies.length === 3, 10000, 'three replies');
    const by = Object.fromEntries(replies.map((m) => [m.properties.correlationId, JSON.parse(m.content.toString())]));
    assert.equal(by['corr-1'].status, 'accepted');
    assert.match(by['corr-1'].id, /^[0-9A-Z]{26}$/);
    const stored = await j.mi('messages.get', { id: by['corr-1'].id });
    assert.equal(stored.envelope.body, t);
    assert.equal(stored.envelope.corr.amqp_correlation_id, 'corr-1');
    assert.equal(by['corr-2'].status, 'rejected');
    assert.equal(by['corr-2'].error, 'invalid');
    assert.match(by['corr-2'].reason, /text/);
    assert.deepEqual(by['corr-3'], { status: 'accepted', id: by['corr-1'].id, message_id: 'rr-1', duplicate: true });
    assert.ok(replies.every((m) => m.properties.appId === 'junction' && m.properties.type === 'outcome'));
    await nextDead(); // corr-2's copy
  });

  test('receipts_to_reply: the receipt and final state follow the outcome to reply_to', async () => {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const replies = [];
    await ch.consume(queue, (m) => replies.push(m), { noAck: true });
    const t = text('follow me');
    publish({ to: '4915112345678', from: 'Acme', text: t, receipts_to_reply: true },
      { replyTo: queue, correlationId: 'corr-f' });
    await waitFor(() => submitted(t).length === 1 && replies.length === 1, 10000, 'sent and accepted');
    const { id } = JSON.parse(replies[0].content.toString());
    assert.equal(submitted(t)[0].registered_delivery & 1, 1, 'a receipt was asked for');
    await smsc.deliver({ esm_class: 0x04, source_addr: '4915112345678', destination_addr: 'Acme',
      short_message: `id:${submitted(t)[0].smsc_message_id} sub:001 dlvrd:001 submit date:2611281200 done date:2611281201 stat:DELIVRD err:000 text:x` });
    await waitFor(() => replies.length === 3, 10000, 'the receipt and delivered events follow');
    assert.deepEqual(replies.map((m) => m.properties.type), ['outcome', 'message.receipt', 'message.delivered']);
    assert.ok(replies.every((m) => m.properties.correlationId === 'corr-f'));
    const delivered = JSON.parse(replies[2].content.toString());
    assert.equal(delivered.id, id);
    assert.equal(delivered.status, 'delivered');
    // without reply_to the option is invalid input
    publish({ to: '4915112345678', from: 'Acme', text: 'x', receipts_to_reply: true });
    const d = await nextDead();
    assert.match(d.properties.headers['x-junction-reason'], /receipts_to_reply: the delivery has no reply_to/);
  });

  test('prefetch bounds the deliveries held unacked; closing hands them back to the queue', async () => {
    // rate 1/s with a 5 s requeue delay: the first is taken, the next two are
    // refused for load and held unacked; prefetch 2 leaves the rest ready
    await j.mi('routes.add', { name: 'slower', priority: 7, filters: { dst: { prefix: ['4981'] } },
      action: { route: { targets: ['smsc1'] }, rate_limit: { rate: 1, burst: 1, over: 'reject' } } });
    await ch.assertQueue('sms.slow', { durable: true });
    await j.mi('connectors.add', { name: 'q2', type: 'amqp', conf: { port: mq.port, prefetch: 2,
      requeue_delay_ms: 5000, consume: ['sms.slow'] } });
    await waitFor(async () => (await inStatus(j, 'q2'))?.state === 'consuming', 15000, 'q2 consuming');
    const ts = [1, 2, 3, 4, 5].map(() => text('held'));
    for (const t of ts) ch.sendToQueue('sms.slow', Buffer.from(JSON.stringify({ to: '4981123456', from: 'Acme', text: t })));
    await waitFor(async () => {
      const st = await inStatus(j, 'q2');
      return st.accepted === 1 && st.requeued >= 2 && (await queueDepth('sms.slow')) === 2;
    }, 10000, 'one taken, two held, two ready');
    assert.equal((await inStatus(j, 'q2')).received, 3, 'no more than prefetch delivered');
    await j.mi('connectors.delete', { name: 'q2' });
    await waitFor(async () => (await queueDepth('sms.slow')) === 4, 10000, 'the held two back in the queue');
    assert.equal(ts.filter((t) => submitted(t).length > 0).length, 1);
  });

  test('a frozen broker holds up neither accepting nor SMPP; the consumer goes on after it', async () => {
    await j.mi('routes.add', { name: 'mi-out', priority: 50, dst_prefix: '4917', target: 'smsc1' });
    const ts = Array.from({ length: 20 }, () => text('while frozen'));
    process.kill(mq.proc.pid, 'SIGSTOP'); // the broker we started: its I/O stops, its sockets stay open
    let slowest = 0;
    try {
      for (const t of ts) {
        const t0 = Date.now();
        await j.mi('messages.inject', { from: 'Acme', to: '4917012345678', body: t });
        slowest = Math.max(slowest, Date.now() - t0);
      }
      await waitFor(() => ts.every((t) => submitted(t).length === 1), 10000, 'every one at the SMSC');
    } finally {
      process.kill(mq.proc.pid, 'SIGCONT');
    }
    console.log(`# slowest messages.inject while the broker was frozen: ${slowest} ms`);
    assert.ok(slowest < 1000, `messages.inject took ${slowest} ms`);
    const t = text('after the thaw');
    publish({ to: '4915112345678', from: 'Acme', text: t });
    await waitFor(() => submitted(t).length === 1, 20000, 'the consumer takes messages again');
  });

  test('a binary body (hex with a udh, base64) reaches the SMSC byte-exact with its data_coding', async () => {
    const octets = (pdu) => {
      const sm = pdu.short_message;
      const msg = Buffer.isBuffer(sm) ? sm : Buffer.isBuffer(sm.message) ? sm.message : Buffer.from(sm.message || '', 'latin1');
      if (!sm.udh) return msg;
      const ies = Buffer.concat(sm.udh);
      return Buffer.concat([Buffer.from([ies.length]), ies, msg]);
    };
    publish({ to: '4915112340001', from: 'Acme', binary: '0001fffe', udh: '06050415810000' }, { messageId: 'bin-1' });
    publish({ to: '4915112340002', from: 'Acme', binary: Buffer.from([9, 8, 0, 255]).toString('base64'), encoding: 'base64', data_coding: 0xf6 }, { messageId: 'bin-2' });
    const a = await waitFor(() => smsc.submits.find((p) => p.destination_addr === '4915112340001'), 10000, 'hex at the SMSC');
    assert.equal(a.data_coding, 4);
    assert.equal(a.esm_class & 0x40, 0x40, 'UDHI');
    assert.deepEqual(octets(a), Buffer.from('060504158100000001fffe', 'hex'));
    const b = await waitFor(() => smsc.submits.find((p) => p.destination_addr === '4915112340002'), 10000, 'base64 at the SMSC');
    assert.equal(b.data_coding, 0xf6);
    assert.equal(b.esm_class & 0x40, 0);
    assert.deepEqual(octets(b), Buffer.from([9, 8, 0, 255]));
  });

  test('docs/amqp-in.schema.json takes what junction takes and refuses what it refuses', () => {
    const good = { to: '4915112345678', from: 'Acme', text: 'x', receipt: true, validity_s: 60,
      tags: { a: 'b' }, client_ref: 'c', coding: 'ucs2', connector: 'smsc1', route_hint: 'bulk' };
    assert.deepEqual(validate(INPUT_SCHEMA, good), []);
    assert.deepEqual(validate(INPUT_SCHEMA, { to: '49', from: 'A', binary: 'AAE=', encoding: 'base64', udh: '06050415810000', data_coding: 4 }), []);
    for (const bad of [{ to: '49', from: 'A' }, { ...good, colour: 1 }, { ...good, validity_s: 0 },
      { ...good, coding: 'latin1' }, { ...good, tags: { sender: 'me' } }, { ...good, receipt: 'yes' },
      { ...good, tags: { amqp_reply_to: 'q' } }, { ...good, binary: '00' }, { ...good, udh: '0500' },
      { to: '49', from: 'A', binary: '00', encoding: 'b32' }, { to: '49', from: 'A', binary: '00', data_coding: 256 },
      { to: '49', from: 'A', binary: '00', tags: { udh: '00' } }]) {
      assert.notDeepEqual(validate(INPUT_SCHEMA, bad), [], JSON.stringify(bad));
    }
  });

  // last in this block: it restarts junction
  test('a message_id taken before a restart is still a duplicate after it (the store seeds the window)', async () => {
    const t = text('across a restart');
    publish({ to: '4915112345678', from: 'Acme', text: t }, { messageId: 'restart-1' });
    await waitFor(() => submitted(t).length === 1, 10000, 'the first copy at the SMSC');
    await waitFor(async () => (await queueDepth('sms.in')) === 0, 5000, 'the first copy acked');
    assert.deepEqual(await j.stop(), { code: 0, sig: null }, 'a clean stop');
    j.start();
    await j.ready();
    await waitFor(async () => (await inStatus(j, 'in'))?.state === 'consuming', 15000, 'consumer up again');
    assert.match(j.log, /message_id\(s\) of the last 60 s known again from the store/);
    // the broker delivers it again, as after a crash between commit and ack
    publish({ to: '4915112345678', from: 'Acme', text: t }, { messageId: 'restart-1' });
    await waitFor(async () => (await inStatus(j, 'in')).duplicates === 1, 10000, 'known as a duplicate');
    await waitFor(async () => (await queueDepth('sms.in')) === 0, 5000, 'the duplicate acked');
    await waitBound(j, 'smsc1');
    const stored = (await j.mi('messages.list', { limit: 1000 })).filter((m) => m.envelope?.corr?.amqp_message_id === 'restart-1');
    assert.equal(stored.length, 1, 'stored once');
    assert.equal(submitted(t).length, 1, 'sent once');
  });
});

describe('amqp messages in, passive topology', () => {
  let mq, j;
  before(async () => {
    mq = await startRabbit();
    j = await startJunction();
  });
  after(async () => {
    if (j) await j.cleanup();
    if (mq) await mq.stop();
  });

  test('passive: a queue the admin has not made is a clear error, then consumed once it exists', async () => {
    await j.mi('connectors.add', { name: 'adm', type: 'amqp', conf: { port: mq.port, passive: true,
      dead_letter_exchange: 'adm.dlx', dead_letter_queue: '', consume: ['adm.in'] } });
    const down = await waitFor(async () => {
      const s = await inStatus(j, 'adm');
      return s && /404|NOT_FOUND/.test(s.last_error) && s;
    }, 15000, 'the missing exchange named');
    assert.equal(down.state, 'down');
    assert.match(j.log, /consumer cannot start on broker/);
    const c = await amqplib.connect(mq.url);
    try {
      const ch = await c.createChannel();
      await ch.assertExchange('adm.dlx', 'topic', { durable: true });
      await ch.assertQueue('adm.in', { durable: true });
      await waitFor(async () => (await inStatus(j, 'adm'))?.state === 'consuming', 20000, 'consuming');
      // passive declares nothing: no binding or dead-letter queue was made
      const ch2 = await c.createChannel();
      ch2.on('error', () => {});
      await assert.rejects(ch2.checkQueue('junction.dead'), /404|NOT_FOUND/);
    } finally {
      await c.close().catch(() => {});
    }
  });

  test('a dead-letter copy nobody can take leaves the delivery in its queue, with a warning', async () => {
    // adm.dlx has no queue bound: the broker returns the copy, so the
    // invalid delivery must not be rejected (that would lose it)
    const c = await amqplib.connect(mq.url);
    try {
      const ch = await c.createChannel();
      ch.sendToQueue('adm.in', Buffer.from('not json'), { messageId: 'lost?' });
      await waitFor(() => /returned \(nothing bound to it\) the dead-letter copy/.test(j.log), 10000,
        'the WARN about the returned copy');
      await waitFor(async () => (await inStatus(j, 'adm')).requeued >= 2, 10000, 'requeued again');
      assert.equal((await inStatus(j, 'adm')).dead_lettered, 0);
      await j.mi('connectors.delete', { name: 'adm' });
      await waitFor(async () => (await ch.checkQueue('adm.in')).messageCount === 1, 10000,
        'the delivery is still in its queue');
    } finally {
      await c.close().catch(() => {});
    }
  });
});
