// The SIP worker pool grows and shrinks with load (sip.workers_min/_max and
// the load profile), and no change of the pool loses a request or answers
// one twice.  SIPp drives MESSAGE load from one socket per call (-t un), so
// the load spreads over the workers; raw UDP clients send MESSAGEs before a
// change and the same requests again after it, when the new steering sends
// most of them to another worker than the original: each must get the very
// answer it got first (same To tag), and the store must hold one row per
// Call-ID.  The thresholds are low (1%): a worker handles a few hundred
// MESSAGEs per second at a few % busy, and the test must not load a shared
// machine more than that.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { runSipp, startSipp, stopAllSipp } from './lib/sipp.mjs';

const PROFILE = {
  'sip.scale_up_pct': 1, 'sip.scale_up_cycles': 2,
  'sip.scale_down_pct': 1, 'sip.scale_down_cycles': 3,
  'sip.scale_cycle_ms': 500,
};
const LOAD_CALLS = 4000; // SIPp: 400 per second for 10 s
const LOAD_RATE = 400;
const PROBES = 24;       // raw clients resending across a change

let running = [];
after(async () => {
  await stopAllSipp();
  for (const j of running) await j.cleanup();
});

async function junction(params) {
  const j = await startJunction({ params });
  running.push(j);
  return j;
}

const workers = (j) => j.mi('sip.workers');
// The ops.workers_scaled events in j's outbox, oldest first.
function outboxOps(j) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', j.params['db.path'],
    "SELECT payload FROM outbox WHERE type = 'ops.workers_scaled' ORDER BY seq"], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
// SIGTERM: a pool that changed still stops cleanly (under ASan: no leak)
async function stopsCleanly(j) {
  assert.deepEqual(await j.stop(), { code: 0, sig: null }, j.log.slice(-4000));
}
const counters = async (j) => (await j.mi('stats.get')).counters;

function sql(j, query) {
  const r = spawnSync('sqlite3', [j.params['db.path'], query], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// A route to a far SIPp UAS, so every MESSAGE also leaves on a client
// transaction of some worker (a retiring one must finish those too).
async function farUas(j, scenario = 'uas_message.xml') {
  const port = await freePort();
  startSipp({ scenario, dir: j.dir, name: 'uas', localPort: port });
  await j.mi('connectors.add', { name: 'far', type: 'sip', conf: { uri: `sip:127.0.0.1:${port}` } });
  await j.mi('routes.add', { name: 'to-far', priority: 10, dst_prefix: '49', target: 'far' });
}

// n UDP clients, one socket (so one flow) each, each with one MESSAGE of
// its own; send() sends it (again), answers() are what came back.
async function probes(j, n, tag) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const sock = dgram.createSocket('udp4');
    await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const port = sock.address().port;
    const callId = `${tag}-${i}-${Math.random().toString(16).slice(2)}`;
    const body = `probe ${tag} ${i}`;
    const req = Buffer.from(
      `MESSAGE sip:+4915100000${String(i).padStart(3, '0')}@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId};rport\r\n` +
      'Max-Forwards: 70\r\nFrom: <sip:+4930111@127.0.0.1>;tag=p1\r\n' +
      `To: <sip:+4915100000@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const p = { sock, callId, answers: [] };
    sock.on('message', (m) => p.answers.push(m.toString('utf8')));
    p.send = () => new Promise((resolve, reject) =>
      sock.send(req, j.ports.sip, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    list.push(p);
  }
  list.sendAll = () => Promise.all(list.map((p) => p.send()));
  list.waitAnswers = (k) => waitFor(() => list.every((p) => p.answers.length >= k), 10000,
    `${k} answer(s) on each of ${n} probes`);
  list.close = () => Promise.all(list.map((p) => new Promise((r) => p.sock.close(r))));
  return list;
}

// SIPp's own account of a load run: every call succeeded, each MESSAGE got
// its 202 and nothing else came (no unexpected message, none for a call
// already over or unknown).
function assertSippClean(h, calls) {
  assert.equal(h.exited.code, 0, h.explain());
  // the last screens are the final ones (SIPp may print some while it runs)
  const last = (re) => [...h.output.matchAll(re)].pop();
  assert.ok(last(new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${calls}\\b`, 'g')), h.explain());
  assert.equal(last(/Failed call\s+\|\s+\d+\s+\|\s+(\d+)/g)[1], '0', h.explain());
  const stray = last(/\b(\d+) dead call msg \(discarded\)\s+(\d+) out-of-call msg/g);
  assert.deepEqual([stray[1], stray[2]], ['0', '0'], 'messages for calls over or unknown');
  const row = last(/202 <-+\s+(\d+)\s+(\d+)\s+(\d+)[ \t]*(\d*)/g);
  assert.ok(row, h.explain());
  assert.equal(Number(row[1]), calls, '202s received');
  assert.equal(Number(row[3]), 0, 'timeouts');
  assert.equal(Number(row[4] || 0), 0, 'unexpected messages');
}

const toTag = (resp) => (resp.match(/\r\nTo: [^\r]*;tag=([^;\r]+)/) || [])[1];

// Every probe got two answers: the same 202 (its To tag says it is the one
// response recorded, not a second acceptance).
function assertAnsweredOnce(list) {
  for (const p of list) {
    assert.equal(p.answers.length, 2, `${p.callId}: ${p.answers.length} answers`);
    assert.match(p.answers[0], /^SIP\/2\.0 202 /, p.answers[0]);
    assert.match(p.answers[1], /^SIP\/2\.0 202 /, p.answers[1]);
    assert.equal(toTag(p.answers[1]), toTag(p.answers[0]), `${p.callId}: answered twice`);
  }
}

test('the pool grows to sip.workers_max under load and shrinks to sip.workers_min when idle, every MESSAGE answered and stored once', async () => {
  const j = await junction({ 'sip.workers': 1, 'sip.workers_min': 1, 'sip.workers_max': 3, ...PROFILE });
  await farUas(j);
  // an event sink (an amqp connector; its broker is not needed): each change
  // is an event in the outbox, published like the message events
  await j.mi('connectors.add', { name: 'events', type: 'amqp', conf: { port: await freePort(), exchange: 'x' } });
  let w = await workers(j);
  assert.deepEqual([w.min, w.max, w.active, w.scaling, w.steered], [1, 3, 1, true, true]);

  // sent to the one worker there is; resent below once there are three
  const before = await probes(j, PROBES, 'grow');
  await before.sendAll();
  await before.waitAnswers(1);

  const load = runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'load', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: LOAD_CALLS, service: '+4915112345678', timeoutS: 40,
    args: ['-t', 'un', '-r', String(LOAD_RATE), '-max_socket', '2000'],
  });
  await waitFor(async () => (await workers(j)).active === 3, 20000, 'the pool at its maximum of 3');
  const c = await counters(j);
  assert.equal(c['sip.workers_active'], 3);
  assert.ok(c['sip.worker_busy_pct'] >= 1, `busiest worker at ${c['sip.worker_busy_pct']}%`);
  w = await workers(j);
  assert.deepEqual(w.workers.map((x) => [x.id, x.state]), [[0, 'active'], [1, 'active'], [2, 'active']]);
  // the BPF program spreads the peers (one source port per call) over all three
  const rx0 = w.workers.map((x) => x.rx);
  await waitFor(async () => (await workers(j)).workers.every((x, i) => x.rx >= rx0[i] + 100), 5000,
    'datagrams read by every worker');

  await before.sendAll(); // retransmissions, steered over three workers now
  await before.waitAnswers(2);
  assertAnsweredOnce(before);

  // sent over three workers; resent once two of them have retired
  const during = await probes(j, PROBES, 'shrink');
  await during.sendAll();
  await during.waitAnswers(1);

  assertSippClean(await load, LOAD_CALLS);

  await waitFor(async () => {
    const x = await workers(j);
    return x.active === 1 && x.workers.length === 1; // the retired ones have stopped
  }, 20000, 'the pool back at its minimum of 1');
  await during.sendAll(); // their original workers are gone
  await during.waitAnswers(2);
  assertAnsweredOnce(during);
  await Promise.all([before.close(), during.close()]);

  // each change is in sip.workers (newest first), in the log and counted
  w = await workers(j);
  const steps = w.changes.map((x) => `${x.from}->${x.to}`).reverse();
  assert.deepEqual(steps.slice(0, 2), ['1->2', '2->3'], JSON.stringify(w.changes));
  assert.deepEqual(steps.slice(-2), ['3->2', '2->1'], JSON.stringify(w.changes));
  for (const x of w.changes) {
    assert.ok(x.ts > 0 && /^load \d+(\.\d)?% (above|below) 1% for \d+ cycles$/.test(x.reason), JSON.stringify(x));
    assert.ok(j.log.includes(`workers ${x.from} -> ${x.to}: ${x.reason}`), `log line of ${x.from} -> ${x.to}`);
  }
  const scaled = outboxOps(j).map((e) => `${e.data.from}->${e.data.to}`);
  assert.deepEqual(scaled, [...steps], 'one ops.workers_scaled event per change, in order');
  const after1 = await counters(j);
  assert.equal(after1['sip.scale_ups'], steps.filter((s) => s === '1->2' || s === '2->3').length);
  assert.equal(after1['sip.scale_downs'], steps.filter((s) => s === '3->2' || s === '2->1').length);
  assert.equal(after1['sip.workers_active'], 1);

  // every MESSAGE stored once and delivered: retiring workers finished
  // their client transactions
  const sent = LOAD_CALLS + 2 * PROBES;
  assert.equal(sql(j, "SELECT count(*) || ' ' || count(DISTINCT json_extract(envelope, '$.corr.sip_call_id')) FROM messages;"),
    `${sent} ${sent}`);
  await waitFor(() => sql(j, "SELECT count(*) FROM messages WHERE status = 'delivered';") === String(sent),
    20000, `${sent} messages delivered`);

  // TCP is worker 0's and still served
  const sock = net.connect(j.ports.sip, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => { got += d; });
  const body = 'over tcp';
  sock.write(`MESSAGE sip:+4915112345678@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
    'Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-tcp1\r\nMax-Forwards: 70\r\n' +
    'From: <sip:+4930111@127.0.0.1>;tag=t1\r\nTo: <sip:+4915112345678@127.0.0.1>\r\n' +
    'Call-ID: scale-tcp-1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n' +
    `Content-Length: ${body.length}\r\n\r\n${body}`);
  await waitFor(() => got.startsWith('SIP/2.0 202 '), 5000, '202 over TCP');
  sock.destroy();
  await stopsCleanly(j);
});

test('without sip.workers_max the pool keeps the size sip.workers gave it, whatever the load', async () => {
  const j = await junction({ 'sip.workers': 2, ...PROFILE });
  await farUas(j);
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'load', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1500, service: '+4915112345678', timeoutS: 30,
    args: ['-t', 'un', '-r', String(LOAD_RATE), '-max_socket', '2000'],
  });
  assertSippClean(h, 1500);
  const w = await workers(j);
  assert.deepEqual([w.min, w.max, w.active, w.scaling], [2, 2, 2, false]);
  assert.ok(w.load_pct >= 0 && w.workers.length === 2);
  assert.deepEqual(w.changes, []);
  assert.equal((await counters(j))['sip.scale_ups'], 0);
  await stopsCleanly(j);
});

test('params.set of sip.workers_min and sip.workers_max resizes the pool under load without losing or repeating a MESSAGE, and clearing them brings back sip.workers', async () => {
  // thresholds the load never crosses: only the bounds move the pool
  const j = await junction({
    'sip.workers': 2, 'sip.scale_cycle_ms': 200, 'sip.scale_up_pct': 100, 'sip.scale_down_pct': 0,
  });
  await farUas(j, 'uas_message_slow.xml'); // client transactions last 400 ms
  const calls = 3000;
  const load = runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'load', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls, service: '+4915112345678', timeoutS: 40,
    args: ['-t', 'un', '-r', String(LOAD_RATE), '-max_socket', '2000'],
  });
  const delivered = () => Number(sql(j, "SELECT count(*) FROM messages WHERE status = 'delivered';"));
  await waitFor(() => delivered() >= 200, 10000, 'the load under way');

  // retire a worker while MESSAGEs arrive
  await j.mi('params.set', { name: 'sip.workers_max', value: '1' });
  await waitFor(async () => {
    const x = await workers(j);
    return x.active === 1 && x.workers.length === 1;
  }, 10000, 'the pool shrunk to its new maximum of 1 under load');
  let w = await workers(j);
  assert.deepEqual([w.min, w.max, w.scaling], [1, 1, false]);
  assert.equal(w.changes[0].reason, 'above the maximum of 1');
  assert.ok(Math.abs(Date.parse(w.changes[0].time) - w.changes[0].ts) < 1, JSON.stringify(w.changes[0]));
  const atShrink = delivered();

  // the retired worker's MESSAGEs were answered and its client
  // transactions ended: nothing waits for a worker that is gone
  assertSippClean(await load, calls);
  assert.ok(atShrink < calls, 'the pool shrank while the load ran');
  assert.equal(sql(j, "SELECT count(*) || ' ' || count(DISTINCT json_extract(envelope, '$.corr.sip_call_id')) FROM messages;"),
    `${calls} ${calls}`);
  await waitFor(() => delivered() === calls, 20000, `${calls} messages delivered`);

  // grown while idle, each change on the trace bus too
  const trace = (await j.mi('trace.start', { connector: 'sip' })).id;
  await j.mi('params.set', { name: 'sip.workers_max', value: '3' });
  await j.mi('params.set', { name: 'sip.workers_min', value: '3' });
  await waitFor(async () => (await workers(j)).active === 3, 10000, 'the pool grown to its new minimum of 3');
  w = await workers(j);
  assert.equal(w.changes[0].reason, 'below the minimum of 3');
  const logged = (await j.mi('trace.list', { id: trace })).records
    .filter((r) => r.kind === 'log').map((r) => r.summary);
  assert.deepEqual(logged, ['SIP workers 1 -> 2: below the minimum of 3', 'SIP workers 2 -> 3: below the minimum of 3']);
  await j.mi('trace.stop', { id: trace });
  assert.deepEqual([w.min, w.max, w.scaling], [3, 3, false]);
  const h2 = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'load2', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 300, service: '+4915112345678', timeoutS: 20,
    args: ['-t', 'un', '-r', String(LOAD_RATE), '-max_socket', '2000'],
  });
  assertSippClean(h2, 300);
  assert.equal(sql(j, 'SELECT count(*) FROM messages;'), String(calls + 300));

  await j.mi('params.set', { name: 'sip.workers_min', value: '0' });
  await j.mi('params.set', { name: 'sip.workers_max', value: '0' });
  await waitFor(async () => {
    const x = await workers(j);
    return x.active === 2 && x.workers.length === 2;
  }, 10000, 'the pool back at the 2 workers of sip.workers');
  w = await workers(j);
  assert.equal(w.changes[0].reason, 'above the maximum of 2');
  assert.deepEqual([w.min, w.max, w.scaling], [2, 2, false]);
  await stopsCleanly(j);
});
