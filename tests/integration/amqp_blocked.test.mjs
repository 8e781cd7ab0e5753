// A blocked or unreachable broker stalls only the AMQP threads.  Real peers:
// SIPp sending SIP MESSAGE at a fixed rate to junction, which submits each to
// an SMPP SMSC (lib/smsc.mjs), with an amqp events connector publishing every
// change to a private RabbitMQ node (lib/rabbitmq.mjs).
//
// Phase A: broker normal.  Phase B: the broker's memory alarm set
// (rabbitmqctl set_vm_memory_high_watermark 0.000001), so it sends
// connection.blocked and stops reading from the publishing connection.  Same
// count and rate: in both every MESSAGE gets its 202, every one reaches the
// SMSC, B takes no longer than 1.5 times A, and the p99 of B's answer times
// (junction's histogram sip.message_answer_seconds) stays within 4 times
// A's or 0.5 s (ratios within one run, on a shared machine: generous on
// purpose; the numbers are printed).  During B
// amqp.connections says "blocked"; once the alarm clears, every event of both
// phases arrives: counted by message and type, none lost, in order per
// message.  The events buffer is kept small (amqp.buffer_max 1000), so B's
// events also go through the store's outbox and are read back from it.
//
// Then a black hole: a TCP server that accepts and never answers.  A
// connector to it (plain, and TLS) gives up after amqp.connect_timeout_ms,
// says so in last_error, and SIP/SMPP traffic goes on unaffected.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import amqplib from 'amqplib';
import { readFileSync } from 'node:fs';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { runSipp, stopAllSipp } from './lib/sipp.mjs';
import { validate } from './lib/jsonschema.mjs';

const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));

const EXCHANGE = 'junction.events';
const CALLS = 1000;
const RATE = 200; // MESSAGE/s
const ORDER = ['message.received', 'message.routed', 'message.queued', 'message.sending',
  'message.submitted'];

const warnLines = (j, what) => j.log.split('\n').filter((l) => l.includes(what));

async function amqpConn(j, name) {
  return (await j.mi('amqp.connections')).find((c) => c.connector === name);
}

// The cumulative buckets of junction's histogram sip.message_answer_seconds
// (a MESSAGE received to its 202 sent, after the commit): {le: count}.
async function answerBuckets(j) {
  const text = await (await j.http('/metrics')).text();
  const out = {};
  for (const m of text.matchAll(/^junction_sip_message_answer_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
    out[m[1]] = Number(m[2]);
  }
  return out;
}

// The p99 of the answers between two snapshots: the upper bound (s) of the
// bucket the 99th percentile falls in.
function p99(before, after) {
  const les = Object.keys(after).sort((a, b) => Number(a === '+Inf' ? Infinity : a) - Number(b === '+Inf' ? Infinity : b));
  const n = after['+Inf'] - (before['+Inf'] || 0);
  for (const le of les) {
    if (after[le] - (before[le] || 0) >= 0.99 * n) return le === '+Inf' ? Infinity : Number(le);
  }
  return Infinity;
}

// SIPp's final screen: every call successful, no failure, no timeout.
function assertSippClean(h, calls) {
  assert.equal(h.exited.code, 0, h.explain());
  const last = (re) => [...h.output.matchAll(re)].pop();
  assert.ok(last(new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${calls}\\b`, 'g')), h.explain());
  assert.equal(last(/Failed call\s+\|\s+\d+\s+\|\s+(\d+)/g)[1], '0', h.explain());
  const row = last(/202 <-+\s+(\d+)\s+(\d+)\s+(\d+)[ \t]*(\d*)/g);
  assert.ok(row, h.explain());
  assert.equal(Number(row[1]), calls, '202s received');
  assert.equal(Number(row[3]), 0, 'timeouts');
}

describe('amqp: a blocked broker stalls only the AMQP thread', () => {
  let mq, j, smsc, events, ops;
  const phases = {};

  before(async () => {
    mq = await startRabbit({ queues: [
      { name: 'ev.messages', exchange: EXCHANGE, key: 'message.#' },
      { name: 'ev.ops', exchange: EXCHANGE, key: 'ops.#' },
    ] });
    smsc = await startSmsc();
    j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'amqp.buffer_max': 1000,
      'amqp.connect_timeout_ms': 1000 } });
    await j.mi('connectors.add', { name: 'events', type: 'amqp',
      // heartbeat 2 s: librabbitmq gives a silent broker up after 2 of them,
      // so a block of phase B's length (> 4 s) shows the connection lives on
      conf: { url: `amqp://guest:guest@127.0.0.1:${mq.port}`, exchange: EXCHANGE, heartbeat: 2 } });
    await j.mi('connectors.add', { name: 'smsc1', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' } });
    await j.mi('routes.add', { name: 'mt', priority: 10, dst_prefix: '49', target: 'smsc1' });
    await waitBound(j, 'smsc1');
    await waitFor(async () => (await amqpConn(j, 'events'))?.state === 'connected', 15000, 'events connected');
    events = await consume(mq.url, 'ev.messages');
    ops = await consume(mq.url, 'ev.ops');
  });
  after(async () => {
    await stopAllSipp();
    if (events) await events.close();
    if (ops) await ops.close();
    if (j) await j.cleanup();
    if (smsc) await smsc.stop();
    if (mq) await mq.stop();
  });

  const run = async (name) => {
    const b0 = await answerBuckets(j);
    const t0 = Date.now();
    const h = await runSipp({ scenario: 'uac_message_202.xml', dir: j.dir, name,
      localPort: await freePort(), target: `127.0.0.1:${j.ports.sip}`, calls: CALLS,
      service: '+4915112345678', timeoutS: 60,
      args: ['-t', 'un', '-r', String(RATE), '-max_socket', '2000'] });
    const ms = Date.now() - t0;
    return { h, ms, p99: p99(b0, await answerBuckets(j)) };
  };

  test('phase A, broker normal: every MESSAGE 202 and at the SMSC', async () => {
    phases.A = await run('phaseA');
    assertSippClean(phases.A.h, CALLS);
    await waitFor(() => smsc.submits.length >= CALLS, 30000, `${CALLS} submit_sm at the SMSC`);
    console.log(`# phase A: ${CALLS} MESSAGE at ${RATE}/s in ${phases.A.ms} ms, answer p99 <= ${phases.A.p99 * 1000} ms`);
  });

  test('phase B, broker blocked: the same, as fast, and amqp.connections says blocked', async () => {
    mq.ctl('set_vm_memory_high_watermark', '0.000001');
    const seen = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const c = await amqpConn(j, 'events');
        seen.push(c.state);
        if (c.state === 'blocked') phases.blockedError = c.last_error;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const b = run('phaseB');
    phases.B = await b;
    watching = false;
    await watch;
    assertSippClean(phases.B.h, CALLS);
    await waitFor(() => smsc.submits.length >= 2 * CALLS, 30000, `${2 * CALLS} submit_sm at the SMSC`);
    console.log(`# phase B: ${CALLS} MESSAGE at ${RATE}/s in ${phases.B.ms} ms (A ${phases.A.ms} ms, ` +
      `ratio ${(phases.B.ms / phases.A.ms).toFixed(2)}), answer p99 <= ${phases.B.p99 * 1000} ms ` +
      `(A ${phases.A.p99 * 1000} ms)`);
    // ratios within this one run: B no slower than 1.5 x A to complete, and
    // its answer p99 (a histogram bucket's bound: the 10th slowest of 1000)
    // within 4 x A's or 2 s.  On this shared 2-core machine one scheduler
    // or fsync hiccup moves a p99 by a bucket or three (seen: A 500 ms, B
    // 250 ms vs A 25 ms, and B 1 s vs A 100 ms in a clean-clone CI run, with
    // the same code), while a broker that held SIP up would hold answers for
    // the confirm timeout (10 s)
    assert.ok(phases.B.ms <= 1.5 * phases.A.ms, `B ${phases.B.ms} ms vs A ${phases.A.ms} ms`);
    assert.ok(phases.B.p99 <= Math.max(4 * phases.A.p99, 2), `p99 B ${phases.B.p99} s vs A ${phases.A.p99} s`);
    assert.ok(seen.includes('blocked'), `states seen during B: ${[...new Set(seen)]}`);
    assert.ok(!seen.includes('down'), `states seen during B: ${[...new Set(seen)]}`);
    const st = await amqpConn(j, 'events');
    assert.equal(st.state, 'blocked', 'still blocked after B: the alarm is on');
    assert.match(st.last_error, /blocked by the broker: low on memory/);
    assert.ok(st.buffered > 0, `events wait: buffered ${st.buffered}`);
    const warns = j.log.split('\n').filter((l) => l.includes('amqp connector events: broker') &&
      l.includes('blocked by the broker'));
    assert.equal(warns.length, 1, warns.join('\n'));
    assert.match(warns[0], /WARN/);
    assert.doesNotMatch(j.log, /amqp connector events: broker \S+ unreachable/,
      'the blocked connection was never lost');
    assert.equal((await j.mi('stats.get')).counters['amqp.blocked'], 1, 'one episode counted');
  });

  test('unblocked: every event of both phases arrives, none lost, in order per message', async () => {
    mq.ctl('set_vm_memory_high_watermark', '0.4');
    await waitFor(async () => (await amqpConn(j, 'events'))?.state === 'connected', 30000,
      'events connected again');
    assert.match(j.log, /amqp connector events: broker 127\.0\.0\.1:\d+ unblocked after \d+ ms/);
    const byId = new Map();
    const collect = () => {
      byId.clear();
      for (const m of events.messages) {
        if (!byId.has(m.json.id)) byId.set(m.json.id, []);
        byId.get(m.json.id).push(m);
      }
      let done = 0;
      for (const list of byId.values()) if (list.some((m) => m.routingKey === 'message.submitted')) done++;
      return done;
    };
    await waitFor(() => collect() >= 2 * CALLS, 60000, `message.submitted of ${2 * CALLS} messages`);
    assert.equal(byId.size, 2 * CALLS, 'events of exactly the messages sent');
    let dups = 0;
    for (const [id, list] of byId) {
      const ids = list.map((m) => m.properties.messageId);
      dups += ids.length - new Set(ids).size;
      const keys = [...new Set(list.map((m) => m.routingKey))];
      for (const k of ['message.received', 'message.routed', 'message.sending', 'message.submitted']) {
        assert.ok(keys.includes(k), `${id}: ${k} missing from ${keys}`);
      }
      const pos = keys.map((k) => ORDER.indexOf(k));
      assert.ok(pos.every((p, i) => p >= 0 && (i === 0 || p > pos[i - 1])), `${id} in order: ${keys}`);
    }
    const st = await amqpConn(j, 'events');
    console.log(`# after unblock: ${events.messages.length} events of ${byId.size} messages, ` +
      `${dups} published twice, replayed from the outbox ${st.replayed}, dropped ${st.dropped}`);
    assert.equal(st.dropped, 0);
    assert.ok(st.replayed > 0, 'phase B went past amqp.buffer_max: read back from the outbox');
    // ops.connector_state: blocked, then up with detail "unblocked"
    await waitFor(() => ops.messages.some((m) => m.json.data?.connector === 'events' &&
      m.json.data.detail === 'unblocked'), 15000, 'ops.connector_state up (unblocked)');
    const evs = ops.messages.filter((m) => m.routingKey === 'ops.connector_state' &&
      m.json.data.connector === 'events');
    for (const m of evs) assert.deepEqual(validate(SCHEMA, m.json), [], JSON.stringify(m.json));
    assert.equal(evs.find((m) => m.json.data.state === 'blocked').json.data.detail,
      'blocked by the broker: low on memory');
    const mine = evs.map((m) => m.json.data.state);
    assert.ok(mine.indexOf('blocked') >= 0 && mine.lastIndexOf('up') > mine.indexOf('blocked'), `${mine}`);
  });

  test('a black-hole broker: the connect times out, the state says so, SIP and SMPP go on', async () => {
    const held = [];
    const hole = net.createServer((s) => { held.push(s); s.on('error', () => {}); });
    await new Promise((r) => hole.listen(0, '127.0.0.1', r));
    const port = hole.address().port;
    try {
      await j.mi('connectors.add', { name: 'hole', type: 'amqp', conf: { port, exchange: EXCHANGE } });
      await j.mi('connectors.add', { name: 'holetls', type: 'amqp',
        conf: { url: `amqps://127.0.0.1:${port}`, tls_verify: false, exchange: EXCHANGE } });
      for (const name of ['hole', 'holetls']) {
        const st = await waitFor(async () => {
          const s = await amqpConn(j, name);
          return s && s.state === 'down' && s.last_error && s;
        }, 15000, `${name} down`);
        assert.match(st.last_error, /1000 ms/, `${name}: ${st.last_error}`);
      }
      const before = smsc.submits.length;
      const c = await run('hole');
      assertSippClean(c.h, CALLS);
      await waitFor(() => smsc.submits.length >= before + CALLS, 30000, 'submit_sm at the SMSC');
      console.log(`# with a black-hole broker: ${CALLS} MESSAGE in ${c.ms} ms (A ${phases.A.ms} ms), ` +
        `answer p99 <= ${c.p99 * 1000} ms`);
      assert.ok(c.ms <= 1.5 * phases.A.ms, `${c.ms} ms vs A ${phases.A.ms} ms`);
      await j.mi('connectors.delete', { name: 'hole' });
      await j.mi('connectors.delete', { name: 'holetls' });
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => hole.close(r));
    }
  });
  test('a consumer the broker blocks shows blocked, its message still reaches the SMSC, and it catches up', async () => {
    const conn = await amqplib.connect(mq.url);
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('blk.in', { durable: true });
      await ch.assertQueue('blk.reply', { durable: true });
      // queued before the alarm (the alarm blocks this publisher too)
      ch.sendToQueue('blk.in', Buffer.from(JSON.stringify({ to: '4915112345678', from: 'Acme',
        text: 'taken while blocked' })), { messageId: 'blk-1', replyTo: 'blk.reply', correlationId: 'c-blk' });
      await waitFor(async () => (await ch.checkQueue('blk.in')).messageCount === 1, 10000, 'queued');
      mq.ctl('set_vm_memory_high_watermark', '0.000001');
      await j.mi('connectors.add', { name: 'blkin', type: 'amqp',
        conf: { port: mq.port, exchange: EXCHANGE, heartbeat: 2, consume: ['blk.in'] } });
      // its reply to reply_to is a publish: the broker blocks the consumer's connection
      const st = await waitFor(async () => {
        const c = await amqpConn(j, 'blkin');
        return c && c.in && c.in.state === 'blocked' && c;
      }, 20000, 'the consumer blocked');
      assert.match(st.in.last_error, /blocked by the broker: low on memory/);
      await waitFor(() => smsc.submits.some((p) => p.short_message.message === 'taken while blocked'), 15000,
        'at the SMSC while the broker is blocked');
      assert.equal((await amqpConn(j, 'blkin')).in.accepted, 1);
      assert.equal(warnLines(j, 'amqp connector blkin: consumer blocked by broker').length, 1);
      mq.ctl('set_vm_memory_high_watermark', '0.4');
      await waitFor(async () => (await amqpConn(j, 'blkin')).in.state === 'consuming', 30000, 'consuming again');
      const reply = await waitFor(async () => ch.get('blk.reply', { noAck: true }), 15000, 'the reply');
      assert.equal(reply.properties.correlationId, 'c-blk');
      assert.equal(JSON.parse(reply.content.toString()).status, 'accepted');
      // acked once the broker reads again: nothing ready or unacked is left
      await j.mi('connectors.delete', { name: 'blkin' });
      assert.equal((await ch.checkQueue('blk.in')).messageCount, 0, 'acked, not redelivered');
    } finally {
      mq.ctl('set_vm_memory_high_watermark', '0.4');
      await conn.close().catch(() => {});
    }
  });
});
