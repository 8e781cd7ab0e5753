// make bench: the figures the "message core v2" work is judged by, on
// today's code, in one run of a few minutes.
//
//   node bench/run_core.mjs [--rate=5000] [--seconds=10]
//                           [--steps=5000,7500,10000,12500,15000,20000,25000,30000]
//                           [--step-seconds=5] [--rss-cap-mib=4096]
//                           [--window=100] [--queued=1000000] [--queued-limit-s=240]
//                           [--no-queued] [--no-write] [--perf=DIR] [--no-climb]
//                           [--param=name=value ...]
//
// One junction (log.level=warn, db.synchronous=full, sip.workers default,
// its own temporary database) with two connectors to C SMSC peers
// (smsc_fast: one plain, one sending a delivery receipt per submit_sm),
// an SMPP customer account, and routes by destination prefix:
// 49151 -> smsc1 (plain), 49160 -> smsc_rcpt (receipts).  Then:
//
//  1. CPU per message at a fixed rate (--rate for --seconds), from
//     /proc/<pid>/stat (utime + stime of junction, all threads) over the
//     load and its drain (until the SMSC has every accepted message, and
//     with receipts until every receipt is answered), divided by the
//     messages accepted: SIP MESSAGE -> SMPP (SIPp, UDP), SMPP customer ->
//     SMPP (esme_fast binding to junction's SMSC port; counted from the
//     answered bind on, without the bind's password check), and the SMPP
//     path with one receipt per message coming back from the SMSC.
//     Beside each, the raw limit of the store: sqlite_lifecycle
//     (bench/sqlite_lifecycle.c) writes the same number of messages' rows
//     in junction's own messages schema, as many a commit as the step had,
//     and the writer thread's CPU per row is shown against it as a ratio.
//  2. The highest FULL SIP -> SMPP rate with < 0.1% failed calls: rising
//     fixed rates (--steps, --step-seconds each), a step passes when under
//     0.1% of its calls failed, it accepted >= 90% of the offered rate (the
//     first 99.9% of its 202s / first request to the 99.9th percentile 202) and
//     the SMSC got every accepted message; a step that does not pass is
//     run once more (the machine is shared), and if it fails again the
//     climb ends.  Each row shows the CPU other processes on the machine
//     used meanwhile (/proc/stat minus ours); before each step the script
//     waits up to --quiet-wait-s=30 for the others to use under
//     --quiet-pct=40 % of a core (120 s for all waits of a run together).
//  3. Memory with --queued messages queued for a dead connector (an smpp
//     connector to a closed port; route 49170): a fresh junction, esme_fast
//     injects as fast as it is answered (window 1000), then VmRSS/VmHWM.
//     --no-queued skips it; --queued-limit-s bounds it in time and
//     --rss-cap-mib (default 4096) in memory: the injection is stopped
//     there, and what was accepted by then is reported.
//
// --perf=DIR records `perf record -g` of junction over each fixed-rate
// step (load and drain) into DIR/<step>.data, to read with `perf report -i`;
// --no-climb skips step 2.
//
// The report is printed as markdown and recorded, newest first, in
// bench/RESULTS.md.  Only 127.0.0.1; every process it starts is stopped by
// its PID; every load is bounded in count and time, the run by RUN_LIMIT_S.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CLK_TCK, cpuSeconds, threadCpu } from './lib/proc.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
process.env.JUNCTION_BIN ||= path.join(ROOT, 'build/junction');
const SMSC_FAST = process.env.SMSC_FAST_BIN || path.join(ROOT, 'build/bench/smsc_fast');
const ESME_FAST = process.env.ESME_FAST_BIN || path.join(ROOT, 'build/bench/esme_fast');
const SQLITE_LIFECYCLE = process.env.SQLITE_LIFECYCLE_BIN || path.join(ROOT, 'build/bench/sqlite_lifecycle');
const { startJunction, freePort, waitFor, sleep } =
  await import('../tests/integration/lib/junction.mjs');

function option(name, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const RATE = Number(option('rate', '5000'));
const SECONDS = Math.min(60, Math.max(2, Number(option('seconds', '10'))));
const STEPS = option('steps', '5000,7500,10000,12500,15000,20000,25000,30000').split(',').map(Number)
  .filter((x) => x > 0);
const STEP_SECONDS = Math.min(30, Math.max(2, Number(option('step-seconds', '5'))));
const WINDOW = Number(option('window', '100'));
const QUEUED = process.argv.includes('--no-queued') ? 0 : Number(option('queued', '1000000'));
const QUEUED_LIMIT_S = Number(option('queued-limit-s', '240'));
const QUEUED_WINDOW = 1000;
const RSS_CAP_MIB = Number(option('rss-cap-mib', '4096'));
const QUIET_WAIT_S = Number(option('quiet-wait-s', '30'));
const QUIET_PCT = Number(option('quiet-pct', '40'));
const WRITE = !process.argv.includes('--no-write');
const PERF_DIR = option('perf', '');
const CLIMB = !process.argv.includes('--no-climb');
// --param=name=value (repeatable): a junction parameter for both runs
const EXTRA_PARAMS = Object.fromEntries(process.argv.filter((x) => x.startsWith('--param='))
  .map((x) => { const kv = x.slice(8); const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; }));
const DRAIN_S = 10;
const RUN_LIMIT_S = 600;
const SCENARIO = path.join(BENCH, 'sipp/uac_message_bench.xml');
const ACCOUNT = { system_id: 'bench', password: 'bench' };

const children = new Set();
function track(proc) {
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  return proc;
}
function stopChildren() {
  for (const p of children) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
}
setTimeout(() => {
  console.error(`bench: over ${RUN_LIMIT_S} s, stopping`);
  stopChildren();
  process.exit(1);
}, RUN_LIMIT_S * 1000).unref();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopChildren(); process.exit(1); });

const log = (...a) => console.error('bench:', ...a);
const f1 = (x) => Number.isFinite(x) ? x.toFixed(1) : '-';
const int = (x) => Number.isFinite(x) ? String(Math.round(x)) : '-';


// Busy CPU seconds of the whole machine so far (all cores, every process:
// user, nice, system, irq, softirq, steal), to show what others took.
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK;
  } catch { return NaN; }
}

// {VmRSS, VmHWM} of pid in MiB.
function memory(pid) {
  const out = {};
  try {
    for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(VmRSS|VmHWM):\s+(\d+) kB/gm))
      out[m[1]] = Number(m[2]) / 1024;
  } catch { /* gone */ }
  return out;
}

// smsc_fast as a child: port, stats() (SIGUSR1 -> one JSON line), stop().
async function startSmscFast(receipts) {
  const args = ['--listen', '127.0.0.1', '--port', '0', '--time-limit', String(RUN_LIMIT_S)];
  if (receipts) args.push('--receipts');
  const proc = track(spawn(SMSC_FAST, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const waiters = [];
  let last = null, port = 0;
  const rl = readline.createInterface({ input: proc.stdout });
  rl.on('line', (line) => {
    let v;
    try { v = JSON.parse(line); } catch { return; }
    if (v.listening) { port = v.listening; return; }
    last = v;
    while (waiters.length) waiters.shift()(v);
  });
  await waitFor(() => port, 5000, 'smsc_fast listening');
  const s = { proc, port, receipts };
  s.stats = () => new Promise((resolve) => {
    waiters.push(resolve);
    proc.kill('SIGUSR1');
    setTimeout(() => resolve(last), 2000);
  });
  s.stop = async () => {
    if (proc.exitCode !== null) return last;
    const done = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([done, sleep(3000)]);
    return last;
  };
  return s;
}

// esme_fast with these options; resolves its JSON summary (+ cpu_s).
// onProc(proc), when given, gets the child (to stop it early by its PID);
// onBound() runs once the bind is answered.
function runEsme(opts, onProc, onBound) {
  const args = [];
  for (const [k, v] of Object.entries(opts)) args.push(`--${k}`, String(v));
  return new Promise((resolve) => {
    const proc = track(spawn(ESME_FAST, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    if (onProc) onProc(proc);
    let out = '', err = '', cpuS = 0;
    proc.stdout.on('data', (d) => {
      out += d;
      if (onBound && out.includes('{"bound":true}')) { onBound(); onBound = null; }
    });
    proc.stderr.on('data', (d) => { if (err.length < 4000) err += d; });
    const poll = setInterval(() => { const c = cpuSeconds(proc.pid); if (Number.isFinite(c)) cpuS = c; }, 200);
    const guard = setTimeout(() => proc.kill('SIGKILL'), (Number(opts['time-limit']) + 15) * 1000);
    proc.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(guard);
      let r;
      try { r = JSON.parse(out.trim().split('\n').pop()); } catch { r = { error: `no summary: ${err}` }; }
      if (err.trim()) log(`esme_fast: ${err.trim().slice(0, 300)}`);
      resolve({ ...r, code, cpu_s: cpuS });
    });
  });
}

// SIPp's last statistics line (-trace_stat) as {column: value}.
function sippStats(file) {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const head = lines[0].split(';'), last = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

// From -trace_rtt: the span from the first request to the 99.9th
// percentile 202 and the number of 202s by then (so one datagram lost and
// recovered by a 0.5-3.5 s retransmission does not decide a step's rate),
// the span to the last 202, and the p99 of the 202's response time in ms
// (SIPp's clock ticks in 4 ms steps here).
function sippRtt(dir) {
  const f = readdirSync(dir).find((x) => x.endsWith('_rtt.csv'));
  if (!f) return { span_s: NaN, n_span: 0, span_last_s: NaN, p99_ms: NaN };
  let first = Infinity;
  const rts = [], ats = [];
  for (const l of readFileSync(path.join(dir, f), 'utf8').trim().split('\n').slice(1)) {
    const [at, rt] = l.split(';').map(Number);
    if (!Number.isFinite(rt)) continue;
    first = Math.min(first, at - rt);
    ats.push(at);
    rts.push(rt);
  }
  rts.sort((a, b) => a - b);
  ats.sort((a, b) => a - b);
  const k = Math.floor(0.999 * (ats.length - 1));
  return { span_s: (ats[k] - first) / 1000, n_span: k + 1,
    span_last_s: (ats[ats.length - 1] - first) / 1000, p99_ms: rts[Math.floor(0.99 * (rts.length - 1))] };
}

// SIPp MESSAGEs to dst at rate for calls; resolves {ok, failed, span_s, cpu_s}.
async function runSipp(j, dir, dst, rate, calls) {
  mkdirSync(dir, { recursive: true });
  const timeoutS = Math.ceil(calls / rate) * 3 + 15;
  let rttFreq = 100;
  while (calls % rttFreq !== 0) rttFreq--;
  const args = ['-sf', SCENARIO, `127.0.0.1:${j.ports.sip}`, '-i', '127.0.0.1',
    '-p', String(await freePort()), '-nostdin', '-s', dst, '-m', String(calls), '-r', String(rate),
    '-t', 'un', '-max_socket', '16', '-timeout', `${timeoutS}s`, '-timeout_error',
    '-trace_rtt', '-rtt_freq', String(rttFreq), '-trace_stat', '-stf', 'stat.csv', '-fd', '3600',
    '-trace_err', '-error_file', 'errors.log'];
  const proc = track(spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '', cpuS = 0, exited = null;
  proc.stderr.on('data', (d) => { if (stderr.length < 4000) stderr += d; });
  const done = new Promise((resolve) => proc.on('exit', (code) => { exited = { code }; resolve(); }));
  const guard = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, (timeoutS + 10) * 1000);
  while (!exited) {
    const c = cpuSeconds(proc.pid);
    if (Number.isFinite(c)) cpuS = c;
    await Promise.race([done, sleep(200)]);
  }
  clearTimeout(guard);
  if (exited.code !== 0 && exited.code !== 1) log(`sipp exit ${exited.code}: ${stderr.slice(0, 300)}`);
  const st = sippStats(path.join(dir, 'stat.csv'));
  const ok = Number(st['SuccessfulCall(C)'] ?? 0);
  return { ok, failed: calls - ok, retrans: Number(st['Retransmissions(C)'] ?? NaN),
    ...sippRtt(dir), cpu_s: cpuS };
}

// Wait (bounded) until the SMSC has seen `want` more distinct messages than
// in `before` (and with receipts, as many deliver_sm_resp); its last stats.
async function drain(smsc, before, want) {
  let st = await smsc.stats();
  const end = Date.now() + DRAIN_S * 1000;
  const enough = (s) => s.distinct - before.distinct >= want &&
    (!smsc.receipts || s.deliver_sm_resp - before.deliver_sm_resp >= want);
  while (!enough(st) && Date.now() < end) {
    await sleep(100);
    st = await smsc.stats();
  }
  return st;
}

// One measured load: fn() runs it and returns {ok, failed, ...}; the row
// adds junction's CPU over load + drain and the SMSC's view.
async function measure(j, smsc, label, rate, fn) {
  const before = await smsc.stats();
  const c0 = await j.mi('stats.get');
  let cpu0, t0, m0, s0, me0, th0;
  // mark(): the measurement starts now (called again by an SMPP step once
  // its bind is answered, so the bind's argon2id check is not counted)
  const mark = () => {
    cpu0 = cpuSeconds(j.proc.pid); t0 = Date.now(); m0 = machineBusy(); th0 = threadCpu(j.proc.pid);
    s0 = cpuSeconds(smsc.proc.pid); me0 = process.cpuUsage();
  };
  mark();
  const perf = PERF_DIR && !label.startsWith('warm-up') ? startPerf(j.proc.pid, label) : null;
  const r = await fn(mark);
  const after = await drain(smsc, before, r.ok);
  if (perf) await perf.stop();
  const cpuS = cpuSeconds(j.proc.pid) - cpu0, wallS = (Date.now() - t0) / 1000;
  const th1 = threadCpu(j.proc.pid), threads = {};
  for (const [k, v] of Object.entries(th1)) {
    const us = r.ok > 0 ? ((v - (th0[k] || 0)) * 1e6) / r.ok : NaN;
    if (us >= 0.5) threads[k] = us;
  }
  const me = process.cpuUsage(me0);
  // what other processes on this shared machine used meanwhile
  const othersS = machineBusy() - m0 - cpuS - (cpuSeconds(smsc.proc.pid) - s0) -
    (r.load_cpu_s || 0) - (me.user + me.system) / 1e6;
  const c1 = await j.mi('stats.get');
  const d = (k) => (c1.counters[k] ?? 0) - (c0.counters[k] ?? 0);
  const row = {
    label, rate, ...r, wall_s: wallS, cpu_s: cpuS,
    us_per_msg: r.ok > 0 ? (cpuS * 1e6) / r.ok : NaN,
    cpu_pct: (100 * cpuS) / wallS, others_pct: Math.max(0, (100 * othersS) / wallS),
    accepted_s: (r.n_span ?? r.ok) / r.span_s,
    smsc_submits: after.submits - before.submits, smsc_distinct: after.distinct - before.distinct,
    smsc_receipts: after.receipts_sent - before.receipts_sent,
    smsc_receipt_resps: after.deliver_sm_resp - before.deliver_sm_resp,
    core_submitted: d('core.submitted'), core_delivered: d('core.delivered'),
    commits: d('db.commits'), rows: d('db.rows'), store_errors: d('core.store_errors'),
    wal_pages: d('db.wal_pages'), spills: d('core.queue_spills'), paged: d('core.queue_paged'),
    rss_mib: memory(j.proc.pid).VmRSS, threads,
  };
  log(`${label} ${rate}/s: ok ${r.ok} failed ${r.failed} accepted/s ${int(row.accepted_s)} ` +
    `junction ${int(row.cpu_pct)}% = ${f1(row.us_per_msg)} us/msg (others ${int(row.others_pct)}%), smsc ${row.smsc_distinct}/${r.ok}` +
    (smsc.receipts ? `, receipts answered ${row.smsc_receipt_resps}` : '') +
    `; per thread us/msg ${threadText(threads)}; ${row.commits} commits, ` +
    `${f1(row.rows / row.commits)} rows and ${f1(row.wal_pages / row.commits)} pages each` +
    (row.spills || row.paged ? `; queue spills ${row.spills}, paged back ${row.paged}` : ''));
  return row;
}

// The raw limit beside the writer: sqlite_lifecycle lives as many
// messages' rows through junction's own messages schema (copied from this
// junction's database) in transactions of the size the step committed,
// single-threaded, with FULL.  Compared per row, since junction writes
// more rows per message than the raw lifecycle (reports, outcomes).
function rawLifecycle(j, row, receipt) {
  if (!(row.ok > 0 && row.commits > 0 && row.rows > 0 && row.threads.writer > 0)) return null;
  const perMsg = row.rows / row.ok;
  const group = Math.max(1, Math.round(row.ok / row.commits));
  let raw;
  try {
    raw = JSON.parse(execFileSync(SQLITE_LIFECYCLE, [path.join(j.dir, 'junction.db'), j.dir,
      String(Math.min(row.ok, 50000)), String(group), receipt ? '1' : '0'], { encoding: 'utf8', timeout: 120000 }));
  } catch (e) {
    log(`sqlite_lifecycle: ${String(e.message).slice(0, 200)}`);
    return null;
  }
  raw.group = group;
  raw.us_per_row = raw.cpu_us_per_msg / (raw.rows / raw.messages);
  raw.writer_us_per_row = row.threads.writer / perMsg;
  raw.ratio = raw.writer_us_per_row / raw.us_per_row;
  log(`${row.label}: writer ${f1(raw.writer_us_per_row)} us per row (${f1(perMsg)} rows/msg) against raw SQLite ` +
    `${f1(raw.us_per_row)} us per row (sqlite_lifecycle, ${group} messages a commit) = ${raw.ratio.toFixed(2)}x`);
  return raw;
}

// "writer 40.1, smpp 30.2, ..." largest first
function threadText(threads) {
  return Object.entries(threads || {}).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${f1(v)}`).join(', ');
}

// perf record -g of pid into PERF_DIR/<label>.data until stop().
function startPerf(pid, label) {
  mkdirSync(PERF_DIR, { recursive: true });
  const file = path.join(PERF_DIR, `${label.replace(/[^A-Za-z0-9]+/g, '_')}.data`);
  const proc = track(spawn('perf', ['record', '-q', '-F', process.env.PERF_FREQ || '1999', '--call-graph', process.env.PERF_CG || 'fp', '-p', String(pid), '-o', file],
    { stdio: 'ignore' }));
  return {
    stop: async () => {
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGINT');
      await Promise.race([done, sleep(5000)]);
      log(`perf: ${file}`);
    },
  };
}

// Before a rate step: wait (up to QUIET_WAIT_S) until the rest of the
// machine uses under QUIET_PCT% of a core, measured over 1 s with junction
// idle; returns the seconds waited.  The machine is shared with other users.
// All waits of a run together stop at QUIET_BUDGET_S, so that a busy
// machine cannot push the run past its watchdog.
const QUIET_BUDGET_S = 120;
let quietSpentS = 0;
async function waitQuiet(j) {
  const t0 = Date.now();
  const limitS = Math.min(QUIET_WAIT_S, Math.max(0, QUIET_BUDGET_S - quietSpentS));
  const done = () => { const w = (Date.now() - t0) / 1000; quietSpentS += w; return w; };
  for (;;) {
    const m0 = machineBusy(), c0 = cpuSeconds(j.proc.pid), me0 = process.cpuUsage();
    await sleep(1000);
    const me = process.cpuUsage(me0);
    const others = 100 * (machineBusy() - m0 - (cpuSeconds(j.proc.pid) - c0) - (me.user + me.system) / 1e6);
    if (others < QUIET_PCT || Date.now() - t0 >= limitS * 1000) return done();
  }
}

let sippRuns = 0;   // each SIPp run gets its own folder (its files are found by suffix)

function sipStep(j, smsc, label, rate, seconds, dst) {
  return measure(j, smsc, label, rate, async () => {
    const dir = path.join(j.dir, `sipp-${++sippRuns}-${label.replace(/[^A-Za-z0-9]+/g, '_')}-${rate}`);
    const s = await runSipp(j, dir, dst, rate, rate * seconds);
    return { ...s, calls: rate * seconds, load_cpu_s: s.cpu_s };
  });
}

function smppStep(j, smsc, label, rate, seconds, dst, extra = {}) {
  return measure(j, smsc, label, rate, async (mark) => {
    const count = rate * seconds;
    const e = await runEsme({ host: '127.0.0.1', port: j.ports.smpp, 'system-id': ACCOUNT.system_id,
      password: ACCOUNT.password, rate, count, window: WINDOW, 'time-limit': seconds * 10 + 10,
      dst, tag: `${label} `, ...extra }, null, mark);
    // span: first submit_sm to last submit_sm_resp (not the bind, unbind or receipt wait)
    return { calls: count, ok: e.ok ?? 0, failed: count - (e.ok ?? 0), span_s: (e.ok ?? 0) / e.ack_rate,
      span_last_s: (e.ok ?? 0) / e.ack_rate, esme: e, load_cpu_s: e.cpu_s, p99_ms: (e.lat_us?.p99 ?? NaN) / 1000 };
  });
}

async function addConnector(j, name, port) {
  await j.mi('connectors.add', { name, type: 'smpp',
    conf: { host: '127.0.0.1', port, system_id: 'junction', password: 'bench', window: WINDOW } });
}

async function waitBound(j, name) {
  await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === name)
    ?.status?.state === 'bound', 15000, `${name} bound`);
}

async function mainRun() {
  const plain = await startSmscFast(false), rcpt = await startSmscFast(true);
  const jn = await startJunction({ params: { 'log.level': 'warn', 'sip.workers': 0,
    'db.synchronous': 'full', ...EXTRA_PARAMS } });
  track(jn.proc);
  const out = { cpu: [], climb: [] };
  try {
    await addConnector(jn, 'smsc1', plain.port);
    await addConnector(jn, 'smsc_rcpt', rcpt.port);
    await jn.mi('routes.add', { name: 'plain', priority: 10, dst_prefix: '49151', target: 'smsc1' });
    await jn.mi('routes.add', { name: 'rcpt', priority: 10, dst_prefix: '49160', target: 'smsc_rcpt' });
    await jn.mi('accounts.add', ACCOUNT);
    await waitBound(jn, 'smsc1');
    await waitBound(jn, 'smsc_rcpt');
    const c0 = cpuSeconds(jn.proc.pid);
    await sleep(2000);
    out.idle_cpu_pct = (100 * (cpuSeconds(jn.proc.pid) - c0)) / 2;
    out.rss_start_mib = memory(jn.proc.pid).VmRSS;
    // a short warm-up of both paths (first binds, caches, SQLite pages)
    await smppStep(jn, plain, 'warm-up smpp', 1000, 2, '4915100900');
    await sipStep(jn, plain, 'warm-up sip', 1000, 2, '+4915100901');

    await waitQuiet(jn);
    out.cpu.push(await sipStep(jn, plain, 'SIP -> SMPP', RATE, SECONDS, '+4915100001'));
    await waitQuiet(jn);
    out.cpu.push(await smppStep(jn, plain, 'SMPP -> SMPP', RATE, SECONDS, '4915100002'));
    await waitQuiet(jn);
    out.cpu.push(await smppStep(jn, rcpt, 'SMPP -> SMPP + receipts', RATE, SECONDS, '4916000003',
      { 'registered-delivery': 1, 'receipt-wait': 2 }));
    for (const r of out.cpu) r.raw = rawLifecycle(jn, r, r.smsc_receipts > 0);
    // a step that does not pass is run once more (the machine is shared):
    // both attempts are reported, the second decides
    for (const [i, rate] of (CLIMB ? STEPS : []).entries()) {
      let row;
      for (let attempt = 1; attempt <= 2; attempt++) {
        const waited = await waitQuiet(jn);
        row = await sipStep(jn, plain, 'SIP -> SMPP FULL', rate, STEP_SECONDS,
          `+4915100${attempt}${String(i).padStart(2, '0')}`);
        row.waited_s = waited;
        row.attempt = attempt;
        row.pass = row.failed < 0.001 * row.calls && row.accepted_s >= 0.9 * rate &&
          row.smsc_distinct >= row.ok;
        out.climb.push(row);
        if (row.pass) break;
      }
      if (!row.pass) break;
    }
    out.smsc_totals = { plain: await plain.stats(), rcpt: await rcpt.stats() };
  } finally {
    await jn.cleanup();
    await plain.stop();
    await rcpt.stop();
  }
  return out;
}

// --queued messages for a connector whose SMSC is not there.
async function queuedRun() {
  const deadPort = await freePort();   // nothing listens on it
  // the customer's window of 1,000 needs as many unanswered submits per
  // session (smpp.server_window, default 100: one past it is ESME_RMSGQFUL)
  const jn = await startJunction({ params: { 'log.level': 'warn', 'sip.workers': 0,
    'db.synchronous': 'full', 'smpp.server_window': QUEUED_WINDOW, ...EXTRA_PARAMS } });
  track(jn.proc);
  try {
    await addConnector(jn, 'dead', deadPort);
    await jn.mi('routes.add', { name: 'dead', priority: 10, dst_prefix: '49170', target: 'dead' });
    await jn.mi('accounts.add', ACCOUNT);
    await sleep(500);
    const m0 = memory(jn.proc.pid);
    let peak = 0, esme = null, capped = false;
    const watch = setInterval(() => {
      peak = Math.max(peak, memory(jn.proc.pid).VmRSS || 0);
      if (peak > RSS_CAP_MIB && esme && !capped) {
        capped = true;   // esme_fast stops on SIGTERM and still reports
        log(`queued: junction RSS ${int(peak)} MiB over --rss-cap-mib=${RSS_CAP_MIB}, stopping the injection`);
        esme.kill('SIGTERM');
      }
    }, 250);
    const cpu0 = cpuSeconds(jn.proc.pid);
    const e = await runEsme({ host: '127.0.0.1', port: jn.ports.smpp, 'system-id': ACCOUNT.system_id,
      password: ACCOUNT.password, rate: 0, count: QUEUED, window: QUEUED_WINDOW,
      'time-limit': QUEUED_LIMIT_S, dst: '4917000000', tag: 'queued ' }, (p) => { esme = p; });
    clearInterval(watch);
    const cpuS = cpuSeconds(jn.proc.pid) - cpu0;
    await sleep(2000);
    const m1 = memory(jn.proc.pid);
    const conn = (await jn.mi('connectors.list')).find((c) => c.name === 'dead')?.status || {};
    const r = { target: QUEUED, accepted: e.ok ?? 0, errors: e.errors, elapsed_s: e.elapsed_s,
      ack_rate: e.ack_rate, time_limit_hit: e.time_limit_hit, rss_before_mib: m0.VmRSS,
      rss_after_mib: m1.VmRSS, hwm_mib: m1.VmHWM, rss_peak_sampled_mib: peak,
      pending: conn.pending, state: conn.state, capped, us_per_msg: e.ok ? (cpuS * 1e6) / e.ok : NaN,
      lat: e.lat_us };
    log(`queued: ${r.accepted}/${QUEUED} accepted in ${f1(r.elapsed_s)} s (${int(r.ack_rate)}/s), ` +
      `RSS ${f1(r.rss_before_mib)} -> ${f1(r.rss_after_mib)} MiB (HWM ${f1(r.hwm_mib)}), ` +
      `pending ${r.pending}`);
    return r;
  } finally {
    await jn.cleanup();
  }
}

function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
  const git = (args) => { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return '?'; } };
  // RESULTS.md is written by the runs themselves: not a change to what is measured
  const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', '.',
    ':!bench/RESULTS.md']) !== '';
  const sippV = (() => { try { return execFileSync('sipp', ['-v'], { encoding: 'utf8' }); } catch (e) { return String(e.stdout || ''); } })()
    .match(/SIPp v[^\s,]+/)?.[0] || 'SIPp ?';
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpu: cpu ? cpu[1] : '?', mem_gib: (os.totalmem() / 2 ** 30).toFixed(0),
    commit: process.env.BENCH_COMMIT ||
      git(['rev-parse', '--short', 'HEAD']) + (dirty ? ' (with uncommitted changes)' : ''),
    kernel: os.release(), node: process.version, sipp: sippV,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

const TARGET = { us: 40, us_receipts: 60, rate: 20000, rss: 200 };

function report(cmd, mach, res, q, startedAt, seconds) {
  const L = [];
  L.push(`## ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${mach.commit}: message core v2 figures`, '');
  L.push('```', cmd, '```', '');
  L.push(`Machine: ${mach.nproc} cores (${mach.cpu}), ${mach.mem_gib} GiB, Linux ${mach.kernel}, ` +
    `${mach.sipp}, Node ${mach.node}; load average before the run ${mach.load}, after it ` +
    `${os.loadavg().map((x) => x.toFixed(2)).join(' ')}. Run time ${Math.round(seconds)} s. ` +
    `Junction: db.synchronous FULL, sip.workers default, SMPP connector window ${WINDOW}` +
    Object.entries(EXTRA_PARAMS).map(([k, v]) => `, ${k}=${v}`).join('') + '; ' +
    `idle CPU ${f1(res.idle_cpu_pct)}% of a core, RSS at start ${f1(res.rss_start_mib)} MiB.`, '');
  const summary = [];
  const [sip, smpp, rc] = res.cpu;
  const best = res.climb.filter((r) => r.pass).pop();
  summary.push(['CPU µs per message, SIP MESSAGE -> SMPP', f1(sip?.us_per_msg), `≤ ${TARGET.us}`]);
  summary.push(['CPU µs per message, SMPP customer -> SMPP', f1(smpp?.us_per_msg), `≤ ${TARGET.us}`]);
  summary.push(['CPU µs per message, SMPP -> SMPP with one receipt back', f1(rc?.us_per_msg),
    `≤ ${TARGET.us_receipts} (1.5 × 40)`]);
  summary.push(['highest FULL SIP -> SMPP rate with < 0.1% failures, msg/s',
    best ? `${int(best.accepted_s)} (step ${best.rate}/s${best === res.climb[res.climb.length - 1] ? ', the last step: a lower bound' : ''})` : 'none passed',
    `≥ ${TARGET.rate}`]);
  if (q) {
    summary.push([`RSS with ${q.accepted} messages queued for a dead connector, MiB`,
      `${f1(q.rss_after_mib)} (peak ${f1(Math.max(q.hwm_mib || 0, q.rss_peak_sampled_mib || 0))})` +
      (q.accepted < q.target ? `; only ${q.accepted} of ${q.target} accepted` +
        (q.capped ? ` (stopped at the ${RSS_CAP_MIB} MiB cap)` : ` in ${QUEUED_LIMIT_S} s`) : ''),
      `< ${TARGET.rss} with 1,000,000`]);
  }
  L.push('### Summary', '', '| figure | today | target |', '|---|---:|---:|');
  for (const [a, b, c] of summary) L.push(`| ${a} | ${b} | ${c} |`);
  L.push('');
  L.push(`### CPU per message at a fixed ${RATE}/s for ${SECONDS} s`, '');
  L.push('junction CPU = utime + stime of the whole process (/proc/<pid>/stat) from the first ' +
    'message to the end of the drain (the SMSC holds every accepted message; with receipts, every ' +
    'receipt is answered), ÷ messages accepted. The load generator\'s own CPU is beside it; ' +
    '"others" is what the rest of this shared machine used meanwhile (/proc/stat busy time ' +
    'minus junction, the SMSC, the load generator and this script), in % of one core. p99: ' +
    'of the 202 (SIPp, 4 ms ticks) or of the submit_sm_resp (esme_fast).', '');
  L.push('| path | offered/s | sent | accepted | failed | accepted/s | junction CPU % | µs/msg | ' +
    'load gen CPU s | others CPU % | p99 ms | SMSC distinct | receipts sent / answered | commits | rows/commit | RSS MiB |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
  const rowLine = (r) => `| ${r.label} | ${r.rate} | ${r.calls} | ${r.ok} | ${r.failed} | ` +
    `${int(r.accepted_s)} | ${int(r.cpu_pct)}% | ${f1(r.us_per_msg)} | ${f1(r.load_cpu_s)} | ` +
    `${int(r.others_pct)}% | ${f1(r.p99_ms)} | ${r.smsc_distinct} | ${r.smsc_receipts} / ${r.smsc_receipt_resps} | ${r.commits} | ` +
    `${f1(r.commits ? r.rows / r.commits : NaN)} | ${f1(r.rss_mib)} |`;
  for (const r of res.cpu) L.push(rowLine(r));
  L.push('');
  for (const r of res.cpu) L.push(`- ${r.label}: junction CPU µs per message by thread: ${threadText(r.threads)}.`);
  for (const r of res.cpu.filter((x) => x.raw)) {
    L.push(`- ${r.label}: the writer ${f1(r.raw.writer_us_per_row)} µs per row (${f1(r.rows / r.ok)} rows per message) ` +
      `against raw SQLite ${f1(r.raw.us_per_row)} µs per row in the same schema and run (sqlite_lifecycle: ` +
      `${r.raw.messages} messages, ${r.raw.group} a commit, ${r.raw.receipt ? 'insert, submitted, delivered' : 'insert, submitted'}, FULL): ` +
      `${r.raw.ratio.toFixed(2)}×.`);
  }
  for (const r of res.cpu.filter((x) => x.esme)) {
    L.push(`- ${r.label}: esme_fast submit_sm_resp p50 ${r.esme.lat_us?.p50} µs, p99 ` +
      `${r.esme.lat_us?.p99} µs, max ${r.esme.lat_us?.max} µs; errors ${JSON.stringify(r.esme.errors)}; ` +
      `receipts forwarded to the customer ${r.esme.receipts}; junction core.delivered +${r.core_delivered}.`);
  }
  L.push('', `### Highest FULL SIP -> SMPP rate (${STEP_SECONDS} s steps, pass: < 0.1% failed, ` +
    '≥ 90% of the offered rate accepted, every accepted message at the SMSC)', '');
  L.push('accepted/s = the first 99.9% of the 202s ÷ the time from the first request to the ' +
    '99.9th percentile 202 (one datagram lost and recovered by SIPp\'s 0.5-3.5 s retransmission ' +
    'would otherwise decide the rate; "last 202 after" shows that tail).', '');
  L.push('| offered/s | attempt | calls | 202 | failed | accepted/s | junction CPU % | µs/msg | SIPp CPU s | ' +
    'waited s | others CPU % | 202 p99 ms | SIPp retrans | last 202 after s | SMSC distinct | rows/commit | pass |');
  L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of res.climb) {
    L.push(`| ${r.rate} | ${r.attempt} | ${r.calls} | ${r.ok} | ${r.failed} | ${int(r.accepted_s)} | ` +
      `${int(r.cpu_pct)}% | ${f1(r.us_per_msg)} | ${f1(r.load_cpu_s)} | ${int(r.waited_s)} | ${int(r.others_pct)}% | ${f1(r.p99_ms)} | ${r.retrans} | ${f1(r.span_last_s)} | ${r.smsc_distinct} | ` +
      `${f1(r.commits ? r.rows / r.commits : NaN)} | ${r.pass ? 'yes' : '**no**'} |`);
  }
  L.push('');
  if (q) {
    L.push(`### ${q.target} messages queued for a dead connector`, '');
    L.push(`A fresh junction; connector \`dead\` points at a closed port (state ${q.state}); ` +
      `esme_fast sends as fast as it is answered (window 1000). Accepted ${q.accepted} of ` +
      `${q.target} in ${f1(q.elapsed_s)} s (${int(q.ack_rate)}/s, submit_sm_resp p50 ` +
      `${q.lat?.p50} µs, p99 ${q.lat?.p99} µs; errors ${JSON.stringify(q.errors)}` +
      `${q.time_limit_hit ? `; stopped at the ${QUEUED_LIMIT_S} s limit` : ''}` +
      `${q.capped ? `; stopped at the ${RSS_CAP_MIB} MiB RSS cap` : ''}); ` +
      `${f1(q.us_per_msg)} µs junction CPU per message. VmRSS ${f1(q.rss_before_mib)} MiB ` +
      `before, ${f1(q.rss_after_mib)} MiB after (VmHWM ${f1(q.hwm_mib)} MiB); connector pending ` +
      `${q.pending}.`, '');
  } else {
    L.push('The queued-memory step was skipped (--no-queued).', '');
  }
  return L.join('\n');
}

// Put the section at the top of the runs in RESULTS.md (replacing one with
// the same heading but the time).
function record(section) {
  const file = path.join(BENCH, 'RESULTS.md');
  const marker = '<!-- runs, newest first; make bench adds one here -->';
  let text = existsSync(file) ? readFileSync(file, 'utf8')
    : `# Benchmark results\n\n${marker}\n`;
  if (!text.includes(marker)) text += `\n${marker}\n`;
  const at = text.indexOf(marker) + marker.length;
  const sections = text.slice(at).split(/^(?=## )/m).filter((s) => s.trim() !== '');
  const key = (s) => s.split('\n')[0].replace(/^## (\d{4}-\d\d-\d\d) [\d:]+ UTC/, '$1');
  const kept = sections.filter((s) => key(s) !== key(section));
  writeFileSync(file, `${text.slice(0, at)}\n\n${[section.trim(), ...kept.map((s) => s.trim())].join('\n\n')}\n`);
  log(`recorded in ${path.relative(ROOT, file)}`);
}

async function main() {
  const startedAt = new Date(), t0 = Date.now();
  for (const bin of [process.env.JUNCTION_BIN, SMSC_FAST, ESME_FAST]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make bench (it builds first)`);
  }
  const args = process.argv.slice(2).join(' ');
  const cmd = process.env.MAKELEVEL ? `make bench${args ? ` BENCH_ARGS="${args}"` : ''}`
    : `node bench/run_core.mjs ${args}`.trim();
  const mach = machine();
  const res = await mainRun();
  const q = QUEUED > 0 ? await queuedRun() : null;
  const section = report(cmd, mach, res, q, startedAt, (Date.now() - t0) / 1000);
  console.log(section);
  if (WRITE) record(section);
}

main().then(() => process.exit(0), (e) => { console.error(e); stopChildren(); process.exit(1); });
