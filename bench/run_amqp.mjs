// make bench-amqp: the AMQP path and the HTTP send API, each figure beside
// the raw limit of what it runs on, measured in the same run.
//
//   node bench/run_amqp.mjs [--count=50000] [--lat-rate=250,1000] [--lat-seconds=8]
//        [--fill=10000] [--raw-count=100000] [--http-seconds=10] [--http-conns=100]
//        [--parts=a,b,c] [--store] [--no-write] [--param=name=value ...]
//
//  A. AMQP in -> junction -> smsc_fast --receipts, the receipts back out
//     as AMQP events.  One private RabbitMQ node (tests/integration/lib/
//     rabbitmq.mjs); junction's amqp connector `mq` consumes queue sms.in
//     and publishes its events to junction.events, where amqp_load consume
//     counts them on a durable queue bound with '#'.  amqp_load publish
//     sends --count messages (persistent, confirms, window 1000, a
//     message_id each) at full speed: messages/s in = count ÷ (first
//     publish to the last submit_sm at smsc_fast), every one at the SMSC;
//     then --lat-rate for --lat-seconds: p50/p99 from the publish (the
//     time in client_ref) to the message.submitted / message.delivered
//     event at the consumer.  Beside it the raw broker limit: amqp_load
//     publishing --raw-count to a queue and a second amqp_load consuming
//     and acking it (no junction); and the broker's limit for this traffic:
//     amqp_load doing junction's AMQP work (the messages in, consumed and
//     acked, and their events with confirms, as many bound and unbound as
//     junction publishes) all at once, with no junction.
//  B. The event publisher: a fresh junction whose amqp connector `ev`
//     points at a port where no broker listens yet; --fill messages go
//     SMPP -> junction -> smsc_fast --receipts (esme_fast), so their events
//     pile up in the outbox; then a broker starts on that port and the
//     drain is timed (connector `published` polled every 100 ms, and a
//     consumer on a queue bound with '#').  Beside it the raw limit on the
//     same node: amqp_load publishing with confirms at full speed (window
//     1000), and as junction's link does (64, then wait for every confirm).
//  C. HTTP API: a fresh junction, route to a plain smsc_fast; wrk (keep-
//     alive, --http-conns connections) POSTs /api/v1/messages with a Bearer
//     token; 202 only after the commit.  Beside it wrk POSTing the same
//     body to /session (405 at once: HTTP with no work), and with --store
//     bench_store's committed envelopes/s (the store alone).
//
// CPU µs per message of junction from /proc/<pid>/stat (utime + stime),
// RSS from /proc/<pid>/status.  Only 127.0.0.1; every process started here
// is stopped by its PID; every load is bounded in count and time, the run
// by RUN_LIMIT_S.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CLK_TCK, cpuSeconds, threadCpu } from './lib/proc.mjs';
import { recordSection } from './lib/results.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
process.env.JUNCTION_BIN ||= path.join(ROOT, 'build/junction');
const SMSC_FAST = process.env.SMSC_FAST_BIN || path.join(ROOT, 'build/bench/smsc_fast');
const ESME_FAST = process.env.ESME_FAST_BIN || path.join(ROOT, 'build/bench/esme_fast');
const AMQP_LOAD = process.env.AMQP_LOAD_BIN || path.join(ROOT, 'build/bench/amqp_load');
const BENCH_STORE = process.env.BENCH_STORE_BIN || path.join(ROOT, 'build/bench/bench_store');
const SQLITE_INSERT = process.env.SQLITE_INSERT_BIN || path.join(ROOT, 'build/bench/sqlite_insert');
const WRK = process.env.WRK_BIN || '/usr/bin/wrk';
const { startJunction, freePort, waitFor, sleep } = await import('../tests/integration/lib/junction.mjs');
const { startRabbit } = await import('../tests/integration/lib/rabbitmq.mjs');

function option(name, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const COUNT = Math.min(1000000, Number(option('count', '50000')));
// fixed rates for the latency, each for --lat-seconds; the last is the raw one's
const LAT_RATES = option('lat-rate', '250,1000').split(',').map(Number).filter((x) => x > 0);
const LAT_RATE = LAT_RATES[LAT_RATES.length - 1];
const LAT_S = Math.min(60, Number(option('lat-seconds', '8')));
const FILL = Math.min(500000, Number(option('fill', '10000')));
const RAW_COUNT = Math.min(1000000, Number(option('raw-count', '100000')));
const HTTP_S = Math.min(60, Number(option('http-seconds', '10')));
const HTTP_CONNS = Number(option('http-conns', '100'));
const PREFETCH = option('prefetch', '');      // the connector's prefetch; default: its own (100)
const PARTS = option('parts', 'a,b,c').split(',');
const STORE = process.argv.includes('--store');
const WRITE = !process.argv.includes('--no-write');
const PARAMS = { 'log.level': 'warn', 'sip.workers': 0, 'db.synchronous': 'full', 'amqp.retry_max_ms': 1000,
  ...Object.fromEntries(process.argv.filter((x) => x.startsWith('--param='))
    .map((x) => { const kv = x.slice(8); const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; })) };
const LIMIT_S = 60;          // any one load
const RUN_LIMIT_S = 900;
const TARGET = { in: 10000, events: 30000, http: 10000 };
const EXCHANGE = 'junction.events';

const children = new Set();
const brokers = new Set();
function track(proc) {
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  return proc;
}
function stopChildren() {
  for (const p of children) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
}
setTimeout(() => {
  console.error(`bench-amqp: over ${RUN_LIMIT_S} s, stopping`);
  stopChildren();
  Promise.all([...brokers].map((b) => b.stop().catch(() => {}))).finally(() => process.exit(1));
}, RUN_LIMIT_S * 1000).unref();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { stopChildren(); Promise.all([...brokers].map((b) => b.stop().catch(() => {}))).finally(() => process.exit(1)); });
}

const log = (...a) => console.error('bench-amqp:', ...a);
const f1 = (x) => Number.isFinite(x) ? x.toFixed(1) : '-';
const f2 = (x) => Number.isFinite(x) ? x.toFixed(2) : '-';
const int = (x) => Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
const ms = (us) => Number.isFinite(us) ? (us / 1000).toFixed(1) : '-';
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK;
  } catch { return NaN; }
}
function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const g = (k) => Number((s.match(new RegExp(`${k}:\\s+(\\d+)`)) || [])[1]) / 1024;
    return { rss_mib: g('VmRSS'), hwm_mib: g('VmHWM') };
  } catch { return { rss_mib: NaN, hwm_mib: NaN }; }
}
// CPU seconds of every process in group pgid (the broker: its script runs
// in a group of its own, with erl -> beam.smp and their helpers).
function groupCpu(pgid) {
  let sum = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) sum += (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch { /* gone */ }
  }
  return sum;
}
const brokerCpu = (mq) => groupCpu(mq.proc.pid);

// Where junction's threads named in `names` wait: every 50 ms, each one's
// state (R, S, D) and kernel wait channel from /proc; stop() gives
// {name: {"S futex_wait_queue": n, ...}} (the evidence for a bottleneck).
function waitSampler(pid, names) {
  const hist = {};
  const tids = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      if (names.includes(comm)) tids[tid] = comm;
    }
  } catch { /* gone */ }
  const t = setInterval(() => {
    for (const [tid, comm] of Object.entries(tids)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
        const wchan = state === 'R' ? '' : ` ${readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8').trim()}`;
        const h = (hist[comm] ||= {});
        h[state + wchan] = (h[state + wchan] || 0) + 1;
      } catch { /* the thread ended */ }
    }
  }, 50);
  return { stop: () => { clearInterval(t); return hist; } };
}
const waitText = (h) => Object.entries(h).map(([k, v]) => `${k}: ${Object.entries(v).sort((a, b) => b[1] - a[1])
  .slice(0, 4).map(([w, n]) => `${w} ${n}`).join(', ')}`).join('; ');
function threadText(th0, th1, n) {
  return Object.entries(th1).map(([k, v]) => [k, ((v - (th0[k] || 0)) * 1e6) / n])
    .filter(([, v]) => v >= 0.5).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${f1(v)}`).join(', ');
}

// Wait (bounded: --quiet-wait-s per call, QUIET_TOTAL_S in all) until the
// rest of the machine uses under --quiet-pct % of a core over 2 s: other
// engineers' builds and tests share it.  Notes what it found.
const QUIET_PCT = Number(option('quiet-pct', '50'));
const QUIET_WAIT_S = Number(option('quiet-wait-s', '60'));
const QUIET_TOTAL_S = 180;
let quietSpent = 0;
const quietLog = [];
async function quiet(what) {
  const t0 = Date.now();
  let pct = NaN;
  for (;;) {
    const m0 = machineBusy(), mine0 = [...children].reduce((a, p) => a + (cpuSeconds(p.pid) || 0), 0);
    await sleep(2000);
    const mine = [...children].reduce((a, p) => a + (cpuSeconds(p.pid) || 0), 0) - mine0;
    pct = (100 * (machineBusy() - m0 - mine)) / 2;
    const spent = (Date.now() - t0) / 1000;
    if (pct < QUIET_PCT || spent > QUIET_WAIT_S || quietSpent + spent > QUIET_TOTAL_S) break;
  }
  const spent = (Date.now() - t0) / 1000;
  quietSpent += spent;
  quietLog.push(`${what}: ${int(pct)}% after ${int(spent)} s`);
  if (spent > 3) log(`${what}: waited ${int(spent)} s for the machine (others at ${int(pct)}% of a core)`);
}

// A CPU meter over junction (and the machine): start(), then stop(n).
function meter(pid) {
  const m = { c0: cpuSeconds(pid), th0: threadCpu(pid), m0: machineBusy(), t0: Date.now() };
  m.stop = (n, loadCpuS = 0) => {
    const cpuS = cpuSeconds(pid) - m.c0, wallS = (Date.now() - m.t0) / 1000;
    const othersS = machineBusy() - m.m0 - cpuS - loadCpuS;
    return { cpu_s: cpuS, wall_s: wallS, us_per: n ? (cpuS * 1e6) / n : NaN, cpu_pct: (100 * cpuS) / wallS,
      others_pct: Math.max(0, (100 * othersS) / wallS), threads: n ? threadText(m.th0, threadCpu(pid), n) : '',
      ...memOf(pid) };
  };
  return m;
}

// A child whose last stdout line is its JSON summary; lines parsed as JSON
// go to onLine.  Resolves {...summary, code, cpu_s}; killed after limitS.
function runJson(bin, args, limitS, onLine) {
  return new Promise((resolve) => {
    const proc = track(spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let last = null, err = '', cpuS = 0;
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      let v;
      try { v = JSON.parse(line); } catch { return; }
      last = v;
      if (onLine) onLine(v);
    });
    proc.stderr.on('data', (d) => { if (err.length < 4000) err += d; });
    const poll = setInterval(() => { const c = cpuSeconds(proc.pid); if (Number.isFinite(c)) cpuS = c; }, 200);
    const guard = setTimeout(() => proc.kill('SIGTERM'), limitS * 1000);
    const r = { proc, done: null };
    r.done = new Promise((res) => proc.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(guard);
      if (err.trim()) log(`${path.basename(bin)}: ${err.trim().slice(0, 300)}`);
      res({ ...(last || { error: `no summary: ${err.slice(0, 300)}` }), code, cpu_s: cpuS });
    }));
    resolve(r);
  });
}

// amqp_load consume on queue (bound to EXCHANGE with '#' when bind):
// resolves once it is consuming; .done gives its summary.
// bind: true for '#', or a list of routing keys.
async function consumer(port, queue, count, bind, idleS = 8, limitS = LIMIT_S + 30, del = false) {
  let ready;
  const isReady = new Promise((r) => { ready = r; });
  const args = ['consume', '--port', String(port), '--queue', queue, '--count', String(count),
    '--time-limit', String(limitS), '--idle-s', String(idleS), '--prefetch', '2000'];
  for (const k of bind === true ? ['#'] : bind || []) args.push('--bind', `${EXCHANGE}:${k}`);
  if (del) args.push('--delete');
  const c = await runJson(AMQP_LOAD, args, limitS + 5, (v) => { if (v.ready) ready(); });
  await Promise.race([isReady, c.done, sleep(10000)]);
  return c;
}

function publish(port, opts, limitS = LIMIT_S) {
  const args = ['publish', '--port', String(port), '--time-limit', String(limitS)];
  for (const [k, v] of Object.entries(opts)) {
    if (v === true) args.push(`--${k}`);
    else args.push(`--${k}`, String(v));
  }
  return runJson(AMQP_LOAD, args, limitS + 5).then((r) => r.done);
}

// smsc_fast as a child: port, stats() (SIGUSR1 -> JSON), stop().
async function startSmscFast(receipts) {
  const args = ['--listen', '127.0.0.1', '--port', '0', '--time-limit', String(RUN_LIMIT_S)];
  if (receipts) args.push('--receipts');
  const proc = track(spawn(SMSC_FAST, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const waiters = [];
  let last = null, port = 0;
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let v;
    try { v = JSON.parse(line); } catch { return; }
    if (v.listening) { port = v.listening; return; }
    last = v;
    while (waiters.length) waiters.shift()(v);
  });
  await waitFor(() => port, 5000, 'smsc_fast listening');
  return {
    proc, port,
    stats: () => new Promise((resolve) => {
      waiters.push(resolve);
      proc.kill('SIGUSR1');
      setTimeout(() => resolve(last), 2000);
    }),
    stop: async () => {
      if (proc.exitCode !== null) return last;
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, sleep(3000)]);
      return last;
    },
  };
}

// Poll the SMSC every 50 ms until `want` more submits (and, with
// receipts, answered receipts) than base, or limitS: the final stats and
// the time of the last new submit.
async function watchSmsc(smsc, base, want, limitS, receipts) {
  const t0 = Date.now();
  let last = NaN, st = base;
  for (;;) {
    const s = await smsc.stats();
    const now = Date.now();
    if (s && s.submits > st.submits) last = now;
    if (s) st = s;
    if ((st.submits - base.submits >= want && (!receipts || st.deliver_sm_resp - base.deliver_sm_resp >= want)) ||
        now - t0 > limitS * 1000) break;
    await sleep(50);
  }
  return { st, last };
}

async function smppJunction(smsc, extra = {}) {
  const j = await startJunction({ params: { ...PARAMS, ...extra } });
  track(j.proc);
  await j.mi('connectors.add', { name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'bench', window: 100 } });
  await j.mi('routes.add', { name: 'bench', priority: 10, dst_prefix: '49', target: 'smsc' });
  await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'smsc')
    ?.status?.state === 'bound', 15000, 'smsc bound');
  return j;
}
const amqpConn = async (j, name) => (await j.mi('amqp.connections')).find((c) => c.connector === name);
// Until connector name has published every event it had (bounded): the
// next step must not start behind the last one's events.  Seconds waited.
async function publisherIdle(j, name, limitS = 60) {
  const t0 = Date.now();
  let idle = 0;
  while (Date.now() - t0 < limitS * 1000 && idle < 3) {
    const c = await amqpConn(j, name);
    idle = c && c.buffered === 0 && !c.behind ? idle + 1 : 0;
    await sleep(200);
  }
  return (Date.now() - t0) / 1000;
}

// ---- A. AMQP in -> SMPP, receipts out as events ----------------------------

// The two events (a) times; the other five of a message are published and
// confirmed too, but routed to no queue, so the broker only counts them.
const LAT_KEYS = ['message.submitted', 'message.delivered'];

async function partA(mq) {
  const smsc = await startSmscFast(true);
  const j = await smppJunction(smsc);
  const R = {};
  try {
    // the events' queue exists before junction publishes the first one
    let ev = await consumer(mq.port, 'bench.events', 1e9, true, 3, 20, true);
    await j.mi('connectors.add', { name: 'mq', type: 'amqp',
      conf: { host: '127.0.0.1', port: mq.port, exchange: EXCHANGE, consume: [{ queue: 'sms.in' }],
        ...(PREFETCH ? { prefetch: Number(PREFETCH) } : {}) } });
    await waitFor(async () => (await amqpConn(j, 'mq'))?.in?.state === 'consuming', 15000, 'mq consuming');
    // warm-up: also tells how many events a message makes
    const W = 5000;
    let base = await smsc.stats();
    await publish(mq.port, { key: 'sms.in', count: W, rate: 2500, msgid: 'warm' });
    await watchSmsc(smsc, base, W, 30, true);
    const wev = await ev.done;
    const perMsg = wev.received / W;
    R.events_per_msg = perMsg;
    R.event_bytes = wev.received ? wev.bytes / wev.received : 700;
    log(`A warm-up: ${W} messages, ${wev.received} events (${f2(perMsg)} per message, ${int(R.event_bytes)} bytes each)`);
    await sleep(1000);

    // throughput: COUNT at full speed; the consumer now takes only LAT_KEYS
    await quiet('A run');
    const evq = 'bench.lat';
    ev = await consumer(mq.port, evq, COUNT * LAT_KEYS.length, LAT_KEYS, 15, 300, true);
    base = await smsc.stats();
    const c0 = (await j.mi('stats.get')).counters;
    const m = meter(j.proc.pid), b0 = brokerCpu(mq);
    const ws = waitSampler(j.proc.pid, ['amqp-mq', 'amqpin-mq', 'writer']);
    const t0 = Date.now();
    const pubP = publish(mq.port, { key: 'sms.in', count: COUNT, rate: 0, window: 1000, msgid: 'run' });
    const sm = await watchSmsc(smsc, base, COUNT, LIMIT_S + 30, true);
    const pub = await pubP;
    const evr = await ev.done;
    const tEv = evr.last_us / 1000;
    const waits = ws.stop();
    const subs = sm.st.submits - base.submits;
    const brokerS = brokerCpu(mq) - b0;
    const M = m.stop(subs, pub.cpu_s + evr.cpu_s + brokerS);
    const c1 = (await j.mi('stats.get')).counters;
    const d = (k) => (c1[k] ?? 0) - (c0[k] ?? 0);
    const sub = evr.keys?.['message.submitted'] || {}, dlv = evr.keys?.['message.delivered'] || {};
    R.run = { pub, ev: evr, subs, distinct: sm.st.distinct - base.distinct,
      receipts: sm.st.deliver_sm_resp - base.deliver_sm_resp,
      in_s: subs / ((sm.last - t0) / 1000), events_s: d('amqp.published') / ((tEv - t0) / 1000), M,
      broker_cpu_s: brokerS, broker_us: (brokerS * 1e6) / subs, waits,
      counters: { in_accepted: d('amqp.in_accepted'), in_requeued: d('amqp.in_requeued'), published: d('amqp.published'),
        store_errors: d('core.store_errors'), commits: d('db.commits'), rows: d('db.rows') },
      sub, dlv };
    log(`A run: ${subs}/${COUNT} at the SMSC at ${int(R.run.in_s)}/s in (publisher ${int(pub.confirmed_per_s)}/s confirmed); ` +
      `events ${R.run.counters.published} published at ${int(R.run.events_s)}/s, ${evr.received} consumed; broker ${f1(R.run.broker_us)} us/msg; junction ${f1(M.us_per)} us/msg (${M.threads}), ${int(M.cpu_pct)}% of a core, ` +
      `others ${int(M.others_pct)}%; submitted p99 ${ms(sub.lat_us_p99)} ms; counters ${JSON.stringify(R.run.counters)}; ` +
      `waits ${waitText(waits)}`);
    await sleep(2000);

    // the input path alone: the same load with no queue bound for any event
    // (junction still publishes them all; the broker only confirms them)
    {
      await quiet('A, no events bound');
      const b1 = await smsc.stats();
      const q0 = (await j.mi('stats.get')).counters;
      const m1 = meter(j.proc.pid), bb0 = brokerCpu(mq);
      const t1 = Date.now();
      const p1P = publish(mq.port, { key: 'sms.in', count: COUNT, rate: 0, window: 1000, msgid: 'free' });
      const s1 = await watchSmsc(smsc, b1, COUNT, LIMIT_S + 30, true);
      const p1 = await p1P;
      const n1 = s1.st.submits - b1.submits;
      const bS = brokerCpu(mq) - bb0;
      const M1 = m1.stop(n1, p1.cpu_s + bS);
      const q1 = (await j.mi('stats.get')).counters;
      R.free = { pub: p1, subs: n1, in_s: n1 / ((s1.last - t1) / 1000), M: M1, broker_us: (bS * 1e6) / n1,
        requeued: (q1['amqp.in_requeued'] ?? 0) - (q0['amqp.in_requeued'] ?? 0) };
      // its events are still being published: the latency step waits for them
      const e0 = (await j.mi('stats.get')).counters['amqp.published'] ?? 0;
      const idleS = await publisherIdle(j, 'mq', 150);
      R.free.tail = { s: idleS, events: ((await j.mi('stats.get')).counters['amqp.published'] ?? 0) - e0 };
      log(`A, no events bound: ${n1}/${COUNT} at the SMSC at ${int(R.free.in_s)}/s in; junction ${f1(M1.us_per)} us/msg ` +
        `(${M1.threads}), ${int(M1.cpu_pct)}% of a core; broker ${f1(R.free.broker_us)} us/msg; others ${int(M1.others_pct)}%; ` +
        `then ${R.free.tail.events} events still to publish, ${f1(R.free.tail.s)} s`);
      await sleep(2000);
    }

    // latency at fixed rates, each starting with the link idle
    R.lats = [];
    for (const rate of LAT_RATES) {
      await publisherIdle(j, 'mq', 150);
      const behind = await amqpConn(j, 'mq');
      await quiet(`A latency at ${rate}/s`);
      const n = rate * LAT_S;
      ev = await consumer(mq.port, evq, n * LAT_KEYS.length, LAT_KEYS, 8, LIMIT_S + 30, true);
      base = await smsc.stats();
      const ml = meter(j.proc.pid);
      const lp = await publish(mq.port, { key: 'sms.in', count: n, rate, window: 1000, msgid: `lat${rate}` });
      const ls = await watchSmsc(smsc, base, n, 30, true);
      const le = await ev.done;
      const L1 = { rate, behind: { buffered: behind.buffered, behind: behind.behind }, pub: lp, ev: le, subs: ls.st.submits - base.submits, M: ml.stop(n, lp.cpu_s + le.cpu_s),
        sub: le.keys?.['message.submitted'] || {}, dlv: le.keys?.['message.delivered'] || {} };
      R.lats.push(L1);
      log(`A latency at ${rate}/s: submitted p50/p99 ${ms(L1.sub.lat_us_p50)}/${ms(L1.sub.lat_us_p99)} ms, ` +
        `delivered ${ms(L1.dlv.lat_us_p50)}/${ms(L1.dlv.lat_us_p99)} ms; ${f1(L1.M.us_per)} us/msg`);
    }
    R.mem = memOf(j.proc.pid);
    R.threads_run = M.threads;
  } finally {
    await j.cleanup();
    await smsc.stop();
  }
  // the raw limit: publish + consume + ack through the broker, no junction
  await quiet('A raw');
  const rc = await consumer(mq.port, 'raw.in', RAW_COUNT, false, 8);
  const rb0 = brokerCpu(mq);
  const rp = await publish(mq.port, { key: 'raw.in', count: RAW_COUNT, rate: 0, window: 1000, msgid: 'raw' });
  const rr = await rc.done;
  // the slower of the two sides bounds what passes through
  R.raw = { pub: rp, con: rr, rate: Math.min(rp.confirmed_per_s, rr.per_s),
    broker_us: ((brokerCpu(mq) - rb0) * 1e6) / rr.received };
  log(`A raw broker: published ${rp.confirmed} at ${int(rp.confirmed_per_s)}/s, consumed ${rr.received} at ${int(rr.per_s)}/s, ` +
    `latency p50/p99 ${ms(rr.keys?.['raw.in']?.lat_us_p50)}/${ms(rr.keys?.['raw.in']?.lat_us_p99)} ms`);
  // and at the same fixed rate, for the latency
  const rlc = await consumer(mq.port, 'raw.in', LAT_RATE * LAT_S, false, 8);
  await publish(mq.port, { key: 'raw.in', count: LAT_RATE * LAT_S, rate: LAT_RATE, window: 1000 });
  R.raw.lat = (await rlc.done).keys?.['raw.in'] || {};
  R.mix = await rawMix(mq, R.events_per_msg, R.event_bytes);
  return R;
}

// The broker's own limit for (a)'s traffic, no junction: amqp_load does
// junction's AMQP work side by side with (a)'s peers - COUNT messages
// published to a queue and consumed with acks, and per message as many
// events as the warm-up counted (persistent, confirms, of the mean event's
// size), LAT_KEYS.length of them into a durable queue that a consumer
// takes, the rest routed to no queue.  All at once, as fast as each goes:
// messages/s = COUNT ÷ (start to the last of them done).
async function rawMix(mq, perMsg, bytes) {
  await quiet('A raw mix');
  const n = COUNT, bound = LAT_KEYS.length, free = Math.max(0, Math.round(perMsg) - bound);
  const size = Math.round(bytes);
  const cin = await consumer(mq.port, 'mix.in', n, false, 8);
  const cev = await consumer(mq.port, 'mix.lat', n * bound, ['mix.lat'], 8, LIMIT_S + 30, true);
  const b0 = brokerCpu(mq), t0 = Date.now();
  const ends = [];
  const timed = (p) => p.then((r) => { ends.push(Date.now()); return r; });
  const [pin, pev, pfree] = await Promise.all([
    timed(publish(mq.port, { key: 'mix.in', count: n, rate: 0, window: 1000, msgid: 'mix' })),
    timed(publish(mq.port, { exchange: EXCHANGE, key: 'mix.lat', count: n * bound, rate: 0, window: 1000, size })),
    free ? timed(publish(mq.port, { exchange: EXCHANGE, key: 'mix.free', count: n * free, rate: 0, window: 1000, size }))
      : Promise.resolve(null),
  ]);
  const [rin, rev] = [await cin.done, await cev.done];
  const brokerS = brokerCpu(mq) - b0;
  const last = Math.max(...ends, (rin.last_us || 0) / 1000, (rev.last_us || 0) / 1000);
  const tools = [pin, pev, pfree, rin, rev].reduce((a, x) => a + (x?.cpu_s || 0), 0);
  const M = { rate: n / ((last - t0) / 1000), n, bound, free, size, broker_us: (brokerS * 1e6) / n,
    broker_pct: (100 * brokerS) / ((last - t0) / 1000), tools_cpu_s: tools,
    received: rin.received, events_received: rev.received,
    events_confirmed: (pev?.confirmed || 0) + (pfree?.confirmed || 0) };
  log(`A raw mix: ${n} in (+${n * (bound + free)} events, ${bound} per message consumed) at ${int(M.rate)} msg/s; ` +
    `broker ${f1(M.broker_us)} us/msg (${int(M.broker_pct)}% of a core); load tools ${f1(tools)} s of CPU`);
  return M;
}

// ---- B. the event publisher's drain ------------------------------------------

// One fill and drain: FILL messages through SMPP while no broker listens on
// port, then a broker starts there (with queue drain.ev bound '#' and a
// consumer on it when bound; else nothing bound: every event is published
// and confirmed but routed to no queue), and the drain is timed; then the
// raw limit on the same node.
async function drainOnce(j, smsc, port, bound, eventBytes) {
  const R = { bound };
  const base = await smsc.stats();
  const e = await runJson(ESME_FAST, ['--host', '127.0.0.1', '--port', String(j.ports.smpp), '--system-id', 'bench',
    '--password', 'bench', '--rate', '0', '--count', String(FILL), '--window', '100', '--registered-delivery', '1',
    '--time-limit', String(LIMIT_S), '--dst', '4916000003'], LIMIT_S + 10).then((r) => r.done);
  await watchSmsc(smsc, base, FILL, 30, true);
  // wait for the store to be quiet (receipts applied, reports sent)
  let prev = -1;
  await waitFor(async () => {
    const c = (await j.mi('stats.get')).counters['db.commits'];
    const quiet = c === prev;
    prev = c;
    await sleep(500);
    return quiet;
  }, 30000, 'store quiet');
  const before = await amqpConn(j, 'ev');
  R.fill = { ok: e.ok, buffered: before.buffered, behind: before.behind, state: before.state };
  log(`B fill (${bound ? 'queue bound' : 'nothing bound'}): ${e.ok} messages via SMPP; connector ev ${before.state}, ` +
    `buffered ${before.buffered}, behind ${before.behind}`);
  await quiet(`B drain, ${bound ? 'queue bound' : 'nothing bound'}`);
  const mq = await startRabbit(bound ? { port, queues: [{ name: 'drain.ev', exchange: EXCHANGE, key: '#' }] } : { port });
  brokers.add(mq);
  try {
    const con = bound ? await consumer(port, 'drain.ev', 1e9, true, 5) : null;
    const m = meter(j.proc.pid), b0 = brokerCpu(mq);
    let first = NaN, last = NaN, p0 = before.published, pl = p0, stable = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < (LIMIT_S + 30) * 1000) {
      const c = await amqpConn(j, 'ev');
      const now = Date.now();
      if (c.published > pl) {
        if (!Number.isFinite(first)) first = now;
        last = now;
        pl = c.published;
        stable = 0;
      } else if (Number.isFinite(first) && c.buffered === 0 && !c.behind) {
        if (++stable >= 10) break;
      }
      await sleep(100);
    }
    const n = pl - p0;
    const brokerS = brokerCpu(mq) - b0;
    const cr = con ? await con.done : null;
    // from the first poll that saw a publish to the last (each up to 100 ms late)
    R.drain = { n, seconds: (last - first) / 1000, rate: n / ((last - first) / 1000), consumer: cr,
      M: m.stop(n, (cr?.cpu_s ?? 0) + brokerS), broker_us: (brokerS * 1e6) / n };
    log(`B drain: ${n} events in ${f2(R.drain.seconds)} s = ${int(R.drain.rate)}/s` +
      (cr ? ` (consumer ${cr.received} at ${int(cr.per_s)}/s)` : '') +
      `; junction ${f1(R.drain.M.us_per)} us/event (${R.drain.M.threads}), broker ${f1(R.drain.broker_us)} us/event`);
    const size = Math.round(eventBytes);
    const rawOne = async (opts) => {
      const rc = bound ? await consumer(port, 'drain.ev', RAW_COUNT, true, 5) : null;
      const rp = await publish(port, { exchange: EXCHANGE, key: 'message.raw', count: RAW_COUNT, rate: 0, size, ...opts });
      if (rc) await rc.done;
      return rp;
    };
    R.raw = await rawOne({ window: 1000 });
    R.raw64 = await rawOne({ window: 64, 'stop-and-wait': true });
    R.size = size;
    log(`B raw: confirms window 1000 ${int(R.raw.confirmed_per_s)}/s; 64 then wait ${int(R.raw64.confirmed_per_s)}/s (${size} bytes)`);
  } finally {
    await mq.stop();
    brokers.delete(mq);
  }
  return R;
}

async function partB(eventBytes) {
  const smsc = await startSmscFast(true);
  const port = await freePort();
  const j = await smppJunction(smsc);
  const R = {};
  try {
    await j.mi('accounts.add', { system_id: 'bench', password: 'bench' });
    await j.mi('connectors.add', { name: 'ev', type: 'amqp', conf: { host: '127.0.0.1', port, exchange: EXCHANGE } });
    R.free = await drainOnce(j, smsc, port, false, eventBytes);
    await waitFor(async () => (await amqpConn(j, 'ev')).state !== 'connected', 15000, 'ev down');
    R.queue = await drainOnce(j, smsc, port, true, eventBytes);
    R.mem = memOf(j.proc.pid);
  } finally {
    await j.cleanup();
    await smsc.stop();
  }
  return R;
}

// ---- C. HTTP API ------------------------------------------------------------

function wrk(url, script, seconds, conns) {
  const args = ['-t', '2', '-c', String(conns), '-d', `${seconds}s`, '--timeout', '10s', '--latency', '-s', script, url];
  return new Promise((resolve) => {
    const proc = track(spawn(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '', cpuS = 0;
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const poll = setInterval(() => { const c = cpuSeconds(proc.pid); if (Number.isFinite(c)) cpuS = c; }, 200);
    const guard = setTimeout(() => proc.kill('SIGKILL'), (seconds + 20) * 1000);
    proc.on('close', (code) => {
      clearInterval(poll); clearTimeout(guard);
      let j = {};
      try { j = JSON.parse(out.split('\n').find((l) => l.startsWith('{"wrk"')) || '{}').wrk; } catch { /* none */ }
      const p = (q) => (out.match(new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, 'm')) || []);
      const toMs = (m) => m[1] ? Number(m[1]) * ({ us: 1e-3, ms: 1, s: 1e3 }[m[2]]) : NaN;
      resolve({ code, cpu_s: cpuS, ...j, p50_ms: toMs(p('50')), p99_ms: toMs(p('99')), out: code ? out.slice(-400) : '' });
    });
  });
}

function wrkScript(dir, token) {
  const body = JSON.stringify({ to: '4915100001', from: '4930123456', text: 'Hello from the Junction benchmark, a message of typical length.' });
  const f = path.join(dir, 'post.lua');
  writeFileSync(f, `-- POST one message per request, keep-alive (bench/run_amqp.mjs)
wrk.method = "POST"
wrk.body = ${JSON.stringify(body)}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${token}"
local counts = {}
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  io.write(string.format('{"wrk":{"requests":%d,"seconds":%.3f,"connect_err":%d,"read_err":%d,"write_err":%d,"status_err":%d,"timeouts":%d}}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
`);
  return f;
}

async function partC() {
  const smsc = await startSmscFast(false);
  const j = await smppJunction(smsc);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-amqp-http-'));
  const R = {};
  try {
    const token = await j.newToken();
    const script = wrkScript(dir, token);
    const url = (p) => `http://127.0.0.1:${j.ports.http}${p}`;
    await wrk(url('/api/v1/messages'), script, 2, 20); // warm-up
    await sleep(1000);
    await quiet('C API');
    const base = await smsc.stats();
    const c0 = (await j.mi('stats.get')).counters;
    const m = meter(j.proc.pid);
    const w = await wrk(url('/api/v1/messages'), script, HTTP_S, HTTP_CONNS);
    const c1 = (await j.mi('stats.get')).counters;
    const accepted = (c1['core.accepted'] ?? 0) - (c0['core.accepted'] ?? 0);
    const commits = (c1['db.commits'] ?? 0) - (c0['db.commits'] ?? 0);
    const M = m.stop(accepted, w.cpu_s);
    const sm = await watchSmsc(smsc, base, accepted, 30, false);
    R.api = { wrk: w, accepted, ok: w.requests - w.status_err, rate: (w.requests - w.status_err) / w.seconds,
      smsc: sm.st.submits - base.submits, M, commits };
    log(`C API: ${w.requests} requests in ${f1(w.seconds)} s, ${w.status_err} not 2xx; core.accepted ${accepted} ` +
      `(${int(R.api.rate)}/s); at the SMSC ${R.api.smsc}; p50/p99 ${f1(w.p50_ms)}/${f1(w.p99_ms)} ms; junction ${f1(M.us_per)} us/msg (${M.threads})`);
    await sleep(1000);
    const mr = meter(j.proc.pid);
    const r = await wrk(url('/session'), script, HTTP_S, HTTP_CONNS);
    R.raw = { wrk: r, rate: r.requests / r.seconds, M: mr.stop(r.requests, r.cpu_s) };
    log(`C raw HTTP (POST /session, 405): ${int(R.raw.rate)}/s, p50/p99 ${f1(r.p50_ms)}/${f1(r.p99_ms)} ms`);
    R.mem = memOf(j.proc.pid);
  } finally {
    await j.cleanup();
    await smsc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (STORE && existsSync(BENCH_STORE)) {
    const s = await runJson(BENCH_STORE, ['--raw', SQLITE_INSERT, '--count', '100000', '--seconds', '30'], 90).then((x) => x.done);
    R.store = s;
    log(`C store: ${JSON.stringify(s).slice(0, 300)}`);
  }
  return R;
}

// ---- report -----------------------------------------------------------------

function git(args) { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return '?'; } }
function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
  const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench']) !== '';
  const rv = (() => { try { return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server'], { encoding: 'utf8' }); } catch { return '?'; } })();
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpu: cpu ? cpu[1] : '?', mem_gib: (os.totalmem() / 2 ** 30).toFixed(0),
    commit: git(['log', '-1', '--format=%h', '--', '.', ':!bench', ':!Makefile']) + (dirty ? ' (with uncommitted changes)' : ''),
    head: git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--untracked-files=no']) ? '+' : ''),
    kernel: os.release(), node: process.version, rabbitmq: rv,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function report(cmd, mach, A, B, C, startedAt, seconds) {
  const L = [];
  const ok = (v, t) => (Number.isFinite(v) ? (v >= t ? '✓' : '✗') : '');
  L.push(`## ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${mach.commit}: AMQP in and events out, HTTP API (make bench-amqp)`, '');
  L.push('```', cmd, '```', '');
  L.push(`Machine: ${mach.nproc} cores (${mach.cpu}), ${mach.mem_gib} GiB, Linux ${mach.kernel}, Node ${mach.node}, ` +
    `RabbitMQ ${mach.rabbitmq} (Debian, a private node); HEAD ${mach.head}. **Shared with other engineers' builds and tests ` +
    `during the run**: load average before ${mach.load}, after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; run time ` +
    `${Math.round(seconds)} s; the rest of the machine before each step (waited for < ${QUIET_PCT}% of a core, at most ${QUIET_WAIT_S} s): ` +
    `${quietLog.join('; ')}. Junction: ${Object.entries(PARAMS).map(([k, v]) => `${k}=${v}`).join(', ')}.`, '');
  L.push('| figure | junction | raw limit, same run | junction / raw | target |', '|---|---:|---:|---:|---:|');
  if (A) {
    L.push(`| (a) AMQP in → SMSC, messages/s (${int(A.run.subs)} of ${int(COUNT)} at smsc_fast, receipts out as events) | ${int(A.run.in_s)} | ${int(A.raw.rate)} (publish + consume + ack, no junction) | ${f2(ratio(A.run.in_s, A.raw.rate))} | ≥ ${int(TARGET.in)} ${ok(A.run.in_s, TARGET.in)} |`);
    if (A.mix) L.push(`| (a) raw: the broker doing (a)'s AMQP work with no junction (1 in consumed, ${A.mix.bound + A.mix.free} events confirmed per message, ${A.mix.bound} of them consumed), messages/s | | ${int(A.mix.rate)} | ${f2(ratio(A.run.in_s, A.mix.rate))} | ≥ ${int(TARGET.in)} ${ok(A.mix.rate, TARGET.in)} (the broker alone) |`);
    L.push(`| (a) the same with no queue bound for any event (the input path alone), messages/s | ${int(A.free.in_s)} | ${int(A.raw.rate)} | ${f2(ratio(A.free.in_s, A.raw.rate))} | ≥ ${int(TARGET.in)} ${ok(A.free.in_s, TARGET.in)} |`);
    for (const x of A.lats) {
      const raw = x.rate === LAT_RATE ? `${ms(A.raw.lat.lat_us_p50)} / ${ms(A.raw.lat.lat_us_p99)} (publish → consumer, no junction)` : '';
      L.push(`| (a) p50 / p99 publish → \`message.submitted\` event at ${int(x.rate)}/s, ms | ${ms(x.sub.lat_us_p50)} / ${ms(x.sub.lat_us_p99)} | ${raw} | | |`);
      L.push(`| (a) p50 / p99 publish → \`message.delivered\` event at ${int(x.rate)}/s, ms | ${ms(x.dlv.lat_us_p50)} / ${ms(x.dlv.lat_us_p99)} | | | |`);
    }
    L.push(`| (a) events/s out during the full-speed run (${f2(A.events_per_msg)} per message) | ${int(A.run.events_s)} | | | |`);
  }
  if (B) {
    for (const [d, what] of [[B.free, 'nothing bound (published, confirmed, routed nowhere)'], [B.queue, 'a durable queue bound `#`, consumed']]) {
      L.push(`| (b) events/s with confirms, outbox drain of ${int(d.drain.n)} events, ${what} | ${int(d.drain.rate)} | ${int(d.raw.confirmed_per_s)} (amqp_load, window 1000) | ${f2(ratio(d.drain.rate, d.raw.confirmed_per_s))} | ≥ ${int(TARGET.events)} ${ok(d.drain.rate, TARGET.events)} |`);
      L.push(`| (b) … beside amqp_load publishing as junction's link does: 64, then wait for every confirm | | ${int(d.raw64.confirmed_per_s)} | ${f2(ratio(d.drain.rate, d.raw64.confirmed_per_s))} | |`);
    }
  }
  if (C) {
    L.push(`| (c) HTTP API messages/s accepted (202 after the commit), ${HTTP_CONNS} connections keep-alive | ${int(C.api.rate)} | ${int(C.raw.rate)} (POST /session, 405) | ${f2(ratio(C.api.rate, C.raw.rate))} | ≥ ${int(TARGET.http)} ${ok(C.api.rate, TARGET.http)} |`);
    if (C.store?.committed_per_s) {
      L.push(`| (c) … beside the store alone (bench_store: \`db_msg_insert\`, FULL, 10,000 in flight), envelopes committed/s | | ${int(C.store.committed_per_s)} | ${f2(ratio(C.api.rate, C.store.committed_per_s))} | |`);
    }
  }
  L.push('');
  if (A) {
    const r = A.run;
    L.push(`**(a)** junction's connector \`mq\` consumes \`sms.in\` (prefetch ${PREFETCH || 'default, 100'}) and publishes every event to \`${EXCHANGE}\` ` +
      `(${f2(A.events_per_msg)} per message, counted in the warm-up on a queue bound \`#\`); amqp_load consume takes ` +
      `\`${LAT_KEYS.join('`, `')}\` on the durable queue \`bench.lat\` (manual acks, multiple every 100); the other events are ` +
      `published and confirmed but routed to no queue. Route \`49\` → ` +
      `connector \`smsc\` (SMPP, window 100) → smsc_fast --receipts. amqp_load publish: persistent, a message_id each, confirms window 1000.`, '');
    L.push(`- full speed: published ${int(r.pub.confirmed)} at ${int(r.pub.confirmed_per_s)}/s confirmed (the queue then holds the backlog); ` +
      `smsc_fast ${int(r.subs)} submit_sm (${int(r.distinct)} distinct), ${int(r.receipts)} receipts answered; ` +
      `events published by junction ${int(r.counters.published)} (${int(r.events_s)}/s from the first publish to the last event consumed), ` +
      `${int(r.ev.received)} consumed. Under this backlog publish → submitted p50/p99 ` +
      `${ms(r.sub.lat_us_p50)}/${ms(r.sub.lat_us_p99)} ms (queueing, not service time).`);
    L.push(`- junction CPU ${f1(r.M.cpu_s)} s over ${f1(r.M.wall_s)} s (${int(r.M.cpu_pct)}% of a core) = **${f1(r.M.us_per)} µs per message** ` +
      `(${f1(r.M.us_per / A.events_per_msg)} per event); by thread ${r.M.threads}. The load tools used ${f1(r.pub.cpu_s)} s (publisher) ` +
      `and ${f1(r.ev.cpu_s)} s (event consumer); RabbitMQ ${f1(r.broker_cpu_s)} s = ${f1(r.broker_us)} µs per message ` +
      `(raw: ${f1(A.raw.broker_us)} µs per message published, consumed and acked); the rest of the machine (smsc_fast, others) ${int(r.M.others_pct)}% of a core.`);
    L.push(`- counters: ${Object.entries(r.counters).map(([k, v]) => `${k} ${v}`).join(', ')}. RSS after ${f1(A.mem.rss_mib)} MiB (peak ${f1(A.mem.hwm_mib)}).`);
    L.push(`- where junction's threads waited during the full-speed run (state and kernel wait channel, sampled every 50 ms): ${waitText(r.waits)}.`);
    L.push(`- the input path alone (no queue bound for any event): ${int(A.free.subs)} at the SMSC at ${int(A.free.in_s)}/s, junction ` +
      `${f1(A.free.M.us_per)} µs per message (${A.free.M.threads}), ${int(A.free.M.cpu_pct)}% of a core; RabbitMQ ${f1(A.free.broker_us)} µs per message; ` +
      `others ${int(A.free.M.others_pct)}% of a core; requeued for load ${A.free.requeued}; after the last submit the link still had ` +
      `${int(A.free.tail.events)} of its events to publish (${f1(A.free.tail.s)} s, waited for before the latency step).`);
    for (const x of A.lats) {
      L.push(`- at ${int(x.rate)}/s for ${LAT_S} s: ${int(x.subs)} at the SMSC, junction ${f1(x.M.us_per)} µs per message ` +
        `(${int(x.M.cpu_pct)}% of a core)${x.behind.buffered || x.behind.behind ? ` (**started with the link ${x.behind.buffered} buffered, behind ${x.behind.behind}**)` : ', the link idle at the start'}; event ts − publish (the event's own ms clock) submitted p50/p99 ` +
        `${ms(x.sub.ts_lat_us_p50)}/${ms(x.sub.ts_lat_us_p99)} ms.`);
    }
    L.push(`- raw broker: ${int(A.raw.pub.confirmed)} published at ${int(A.raw.pub.confirmed_per_s)}/s (confirm p99 ${ms(A.raw.pub.confirm_us_p99)} ms), ` +
      `consumed and acked at ${int(A.raw.con.per_s)}/s.`);
    if (A.mix) L.push(`- raw mix (the broker's limit for (a), no junction): amqp_load published ${int(A.mix.n)} messages to \`mix.in\` (consumed, acked: ${int(A.mix.received)}) ` +
      `and at the same time ${int(A.mix.events_confirmed)} events of ${A.mix.size} bytes with confirms to \`${EXCHANGE}\`, ${A.mix.bound} per message into the durable ` +
      `queue \`mix.lat\` (consumed: ${int(A.mix.events_received)}), ${A.mix.free} per message to no queue: ${int(A.mix.rate)} messages/s; ` +
      `RabbitMQ ${f1(A.mix.broker_us)} µs per message (${int(A.mix.broker_pct)}% of a core), the load tools ${f1(A.mix.tools_cpu_s)} s of CPU.`);
    L.push('');
  }
  if (B) {
    L.push(`**(b)** a fresh junction, connector \`ev\` (events only) to a port where no broker listens; ${int(FILL)} messages esme_fast → junction ` +
      `→ smsc_fast --receipts, each with its report back to the customer (the events pile up: ${int(B.free.fill.buffered)} in memory, ` +
      `the rest in the outbox); then a broker starts on that port and the connector's \`published\` is polled every 100 ms until it ` +
      `stops with nothing buffered or behind. Twice: first with nothing bound to \`${EXCHANGE}\`, then (a new fill, a new broker) with ` +
      `the durable queue \`drain.ev\` bound \`#\` at boot and amqp_load consuming it. The raw rows: amqp_load publishing ${int(RAW_COUNT)} ` +
      `messages of ${int(B.free.size)} bytes (the mean event) to \`${EXCHANGE}\` on the same node, the same binding and consumer.`, '');
    for (const d of [B.free, B.queue]) {
      L.push(`- ${d.bound ? 'queue bound' : 'nothing bound'}: ${int(d.drain.n)} events in ${f2(d.drain.seconds)} s = **${int(d.drain.rate)}/s**` +
        (d.drain.consumer ? ` (the consumer got ${int(d.drain.consumer.received)} at ${int(d.drain.consumer.per_s)}/s)` : '') +
        `; junction ${f1(d.drain.M.us_per)} µs per event (${d.drain.M.threads}), the broker ${f1(d.drain.broker_us)} µs per event; ` +
        `others ${int(d.drain.M.others_pct)}% of a core. Raw: window 1000 ${int(d.raw.confirmed_per_s)}/s (confirm p50/p99 ` +
        `${ms(d.raw.confirm_us_p50)}/${ms(d.raw.confirm_us_p99)} ms); 64 then wait ${int(d.raw64.confirmed_per_s)}/s ` +
        `(p50/p99 ${ms(d.raw64.confirm_us_p50)}/${ms(d.raw64.confirm_us_p99)} ms).`);
    }
    L.push('');
  }
  if (C) {
    const w = C.api.wrk;
    L.push(`**(c)** a fresh junction, route \`49\` → smsc_fast (no receipts, no AMQP connector); wrk -t2 -c${HTTP_CONNS} -d${HTTP_S}s, ` +
      `POST /api/v1/messages (one recipient, Bearer token, keep-alive).`, '');
    L.push(`- ${int(w.requests)} requests, ${int(w.status_err)} not 2xx, errors connect/read/write/timeout ${w.connect_err}/${w.read_err}/${w.write_err}/${w.timeouts}; ` +
      `core.accepted ${int(C.api.accepted)}, at the SMSC ${int(C.api.smsc)}; latency p50/p99 ${f1(w.p50_ms)}/${f1(w.p99_ms)} ms; ` +
      `${int(C.api.commits)} store commits (${f2(C.api.accepted / C.api.commits)} messages per commit).`);
    L.push(`- junction ${f1(C.api.M.us_per)} µs per message (${C.api.M.threads}), ${int(C.api.M.cpu_pct)}% of a core; wrk ${f1(w.cpu_s)} s of CPU; ` +
      `RSS after ${f1(C.mem.rss_mib)} MiB. Raw (POST /session → 405): ${int(C.raw.wrk.requests)} requests, p50/p99 ` +
      `${f1(C.raw.wrk.p50_ms)}/${f1(C.raw.wrk.p99_ms)} ms, junction ${f1(C.raw.M.us_per)} µs per request.`, '');
  }
  return L.join('\n');
}

function record(section) {
  log(`recorded in ${path.relative(ROOT, recordSection(BENCH, section))}`);
}

const startedAt = new Date();
const mach = machine();
const cmd = `make bench-amqp${process.argv.length > 2 ? ` BENCH_ARGS="${process.argv.slice(2).join(' ')}"` : ''}`;
let A = null, B = null, C = null;
try {
  if (PARTS.includes('a')) {
    const mq = await startRabbit();
    brokers.add(mq);
    try { A = await partA(mq); } finally { await mq.stop(); brokers.delete(mq); }
  }
  if (PARTS.includes('b')) B = await partB(A?.event_bytes ?? 780);
  if (PARTS.includes('c')) C = await partC();
} catch (e) {
  log(`failed: ${e.stack || e}`);
  stopChildren();
  for (const b of brokers) await b.stop().catch(() => {});
  process.exit(1);
}
const section = report(cmd, mach, A, B, C, startedAt, (Date.now() - startedAt) / 1000);
console.log(section);
if (WRITE) record(section);
stopChildren();
process.exit(0);
