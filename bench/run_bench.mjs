// make bench: the baseline of Junction's first path under load, beside the
// raw speed of SQLite on this machine, measured in one run.
//
//   node bench/run_bench.mjs [--rates=500,1000,2000,4000,8000,12000,16000]
//                            [--seconds=5]
//                            [--sync=full,normal] [--no-write]
//
// For each db.synchronous level: one junction (log.level=warn, sip.workers
// default, its own temporary database) with an SMPP connector to a counting
// SMSC (smsc_counter.mjs) and a route for +49.  For each offered rate, SIPp
// sends rate x seconds MESSAGEs at that fixed rate (bench/sipp/), while a
// probe (sip_probe.mjs) times a few more to the microsecond; the step
// reports the 202s per second, failures, p50/p99 of the 202, the group
// commits it caused (rows per commit), CPU per process, and whether the SMSC
// got one submit_sm per 202.  Rates stop rising once a step fails more than
// 1% of its calls or accepts less than 90% of the offered rate.  Then
// build/bench/sqlite_insert inserts rows of the same shape in batches of 1,
// 64 and 512 (FULL and NORMAL).  The report is printed as markdown and
// recorded, newest first, in bench/RESULTS.md.
//
// Only 127.0.0.1; every process it starts is stopped by its PID; each step
// is bounded in calls and seconds, the whole run by the rate list and a
// watchdog (RUN_LIMIT_S) that stops what it started and exits.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync, rmSync, mkdtempSync }
  from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSmscCounter } from './smsc_counter.mjs';
import { runProbe } from './sip_probe.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
process.env.JUNCTION_BIN ||= path.join(ROOT, 'build/junction');
const SQLITE_INSERT = process.env.SQLITE_INSERT_BIN || path.join(ROOT, 'build/bench/sqlite_insert');
const { startJunction, freePort, waitFor, sleep } =
  await import('../tests/integration/lib/junction.mjs');

const FROM = '+4930123456';        // numeric: the SMPP source_addr
const TEXT = 'Your code is 482913; it expires in ten minutes. Do not share it with anyone. ' +
  'Reply STOP to opt out. Benchmark message of typical length.';   // as in the SIPp scenario
const SCENARIO = path.join(BENCH, 'sipp/uac_message_bench.xml');

function option(name, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const RATES = option('rates', '500,1000,2000,4000,8000,12000,16000').split(',').map(Number).filter((x) => x > 0);
const SECONDS = Math.min(30, Math.max(2, Number(option('seconds', '5'))));
const SYNCS = option('sync', 'full,normal').split(',').filter((x) => /^(full|normal)$/.test(x));
const WRITE = !process.argv.includes('--no-write');
const DRAIN_S = 5;          // how long a step waits for the SMSC to get every 202'd message
const RUN_LIMIT_S = 480;

// Every child process this run started and has not seen exit.
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
const quantile = (sorted, q) => sorted.length === 0 ? NaN
  : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const f1 = (x) => Number.isFinite(x) ? x.toFixed(1) : '-';
const f2 = (x) => Number.isFinite(x) ? x.toFixed(2) : '-';
const int = (x) => Number.isFinite(x) ? String(Math.round(x)) : '-';

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100; }
  catch { return 100; }
})();

// CPU seconds (user + system) a process has used so far; NaN once gone.
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return NaN; }
}

// CPU seconds so far of each thread of pid: {tid: seconds}.
function threadCpu(pid) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) out[tid] = cpuSeconds(`${pid}/task/${tid}`);
  } catch { /* gone */ }
  return out;
}

// Names the threads of pid by their start routine, read once with gdb
// (a second's pause before any load); {} without gdb.
const THREAD_ROLES = [['db_wr_main', 'db writer'], ['sip_worker_main', 'sip worker'],
  ['smpp_thread_main', 'smpp'], ['gw_core_thread_main', 'core timers'], ['amqp_link_main', 'amqp'],
  ['MHD_', 'http'], ['gw_log', 'log'], [' main (', 'main']];
function threadNames(pid) {
  let text = '';
  try {
    text = execFileSync('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt'],
      { encoding: 'utf8', timeout: 20000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) { text = String(e.stdout || ''); }
  const names = {}, seen = {};
  for (const block of text.split(/^Thread \d+ /m).slice(1)) {
    const lwp = /\(LWP (\d+)\)/.exec(block);
    if (!lwp) continue;
    const role = THREAD_ROLES.find(([fn]) => block.includes(fn))?.[1] || 'other';
    seen[role] = (seen[role] || 0) + 1;
    names[lwp[1]] = role === 'sip worker' ? `${role} ${seen[role]}` : role;
  }
  return names;
}

function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
  const git = (args) => { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return '?'; } };
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const sippV = (() => { try { return execFileSync('sipp', ['-v'], { encoding: 'utf8' }); } catch (e) { return String(e.stdout || ''); } })()
    .match(/SIPp v[^\s,]+/)?.[0] || 'SIPp ?';
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpu: cpu ? cpu[1] : '?', mem_gib: (os.totalmem() / 2 ** 30).toFixed(0),
    // BENCH_COMMIT: the label of a junction built elsewhere (JUNCTION_BIN)
    commit: process.env.BENCH_COMMIT ||
      git(['rev-parse', '--short', 'HEAD']) + (dirty ? ' (with uncommitted changes)' : ''),
    kernel: os.release(), node: process.version, sipp: sippV,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

// SIPp's last statistics line (-trace_stat) as {column: value}.
function sippStats(file) {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const head = lines[0].split(';'), last = lines[lines.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

// SIPp's response times (-trace_rtt): {n, spanS, p99} with span from the
// first request sent to the last 202 received.
function sippRtt(dir) {
  const f = readdirSync(dir).find((x) => x.endsWith('_rtt.csv'));
  if (!f) return { n: 0, spanS: NaN, p99: NaN };
  const rows = readFileSync(path.join(dir, f), 'utf8').trim().split('\n').slice(1)
    .map((l) => l.split(';').map(Number)).filter((r) => r.length >= 2 && Number.isFinite(r[1]));
  if (rows.length === 0) return { n: 0, spanS: NaN, p99: NaN };
  let first = Infinity, last = -Infinity;
  for (const [at, rt] of rows) { first = Math.min(first, at - rt); last = Math.max(last, at); }
  const rts = rows.map((r) => r[1]).sort((a, b) => a - b);
  return { n: rows.length, spanS: (last - first) / 1000, p99: quantile(rts, 0.99) };
}

// Run SIPp for one step; resolves {code, cpuS, wallS, dir}.
async function runSipp(j, dir, dst, rate, calls) {
  mkdirSync(dir, { recursive: true });
  const timeoutS = Math.ceil(calls / rate) * 3 + 15;
  // SIPp writes response times every rttFreq calls and drops a partial tail
  let rttFreq = 100;
  while (calls % rttFreq !== 0) rttFreq--;
  const args = ['-sf', SCENARIO, `127.0.0.1:${j.ports.sip}`, '-i', '127.0.0.1',
    '-p', String(await freePort()), '-nostdin', '-s', dst, '-m', String(calls), '-r', String(rate),
    '-t', 'un', '-max_socket', '16', '-timeout', `${timeoutS}s`, '-timeout_error',
    '-trace_rtt', '-rtt_freq', String(rttFreq), '-trace_stat', '-stf', 'stat.csv', '-fd', '3600',
    '-trace_err', '-error_file', 'errors.log'];
  const t0 = Date.now();
  const proc = track(spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '', cpuS = 0, exited = null;
  proc.stderr.on('data', (d) => { if (stderr.length < 10000) stderr += d; });
  const done = new Promise((resolve) => proc.on('exit', (code, sig) => { exited = { code, sig }; resolve(); }));
  const guard = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, (timeoutS + 10) * 1000);
  while (!exited) {
    const c = cpuSeconds(proc.pid);
    if (Number.isFinite(c)) cpuS = c;
    await Promise.race([done, sleep(200)]);
  }
  clearTimeout(guard);
  if (exited.code !== 0 && exited.code !== 1) log(`sipp exit ${JSON.stringify(exited)} ${stderr.slice(0, 500)}`);
  return { code: exited.code, cpuS, wallS: (Date.now() - t0) / 1000, dir, args };
}

// One offered rate against a running junction; returns the row of the table.
async function step(j, smsc, sync, idx, rate) {
  const calls = rate * SECONDS;
  const dst = `+4915100${String(idx).padStart(3, '0')}`;
  const probeDst = `+4915199${String(idx).padStart(3, '0')}`;
  const probeRate = Math.min(200, Math.max(50, rate / 10));
  const before = (await j.mi('stats.get')).counters;
  const jCpu0 = cpuSeconds(j.proc.pid), me0 = process.cpuUsage(), th0 = threadCpu(j.proc.pid);
  const sippRun = runSipp(j, path.join(j.dir, `${sync}-${rate}`), dst, rate, calls);
  await sleep(300);   // the probe runs inside the SIPp load
  const probe = await runProbe({ port: j.ports.sip, from: FROM, dst: probeDst, text: TEXT,
    count: Math.floor(probeRate * (SECONDS - 1)), rate: probeRate, waitMs: 5000 });
  const s = await sippRun;
  const jCpuS = cpuSeconds(j.proc.pid) - jCpu0;
  const th1 = threadCpu(j.proc.pid);
  const threads = Object.keys(th1).map((tid) => ({
    name: j.threadNames[tid] || `thread ${tid}`, pct: (100 * (th1[tid] - (th0[tid] || 0))) / s.wallS,
  })).sort((a, b) => b.pct - a.pct).slice(0, 4).filter((t) => t.pct >= 1);
  const me = process.cpuUsage(me0);
  const st = sippStats(path.join(s.dir, 'stat.csv'));
  const rtt = sippRtt(s.dir);
  const ok = Number(st['SuccessfulCall(C)'] ?? rtt.n), failed = Number(st['FailedCall(C)'] ?? NaN);
  const expected = ok + probe.ok;
  // every 202 must reach the SMSC: wait for the stragglers, bounded
  const drainT0 = Date.now();
  const seen = () => smsc.distinct(dst.slice(1)) + smsc.distinct(probeDst.slice(1));
  await waitFor(() => seen() >= expected, DRAIN_S * 1000, 'submits')
    .catch(() => {});
  const drainS = (Date.now() - drainT0) / 1000;
  const after = (await j.mi('stats.get')).counters;
  const conn = (await j.mi('connectors.list')).find((c) => c.name === 'smsc1')?.status || {};
  const d = (k) => (after[k] ?? 0) - (before[k] ?? 0);
  const lat = probe.lat.slice().sort((a, b) => a - b);
  const row = {
    sync, rate, calls, ok, failed, retrans: Number(st['Retransmissions(C)'] ?? NaN),
    accepted_s: ok / rtt.spanS, span_s: rtt.spanS,
    p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), pmax: lat[lat.length - 1],
    probe_n: probe.sent, probe_bad: probe.other + probe.lost, sipp_p99: rtt.p99,
    tx_202: d('sip.tx_202'), rx_retrans: d('sip.rx_retrans'), drops: d('sip.drops'),
    accepted: d('core.accepted'), commits: d('db.commits'), rows: d('db.rows'),
    commit_us_max: after['db.commit_us_max'], store_errors: d('core.store_errors'),
    submitted: d('core.submitted'),
    smsc_distinct: seen(), expected, drain_s: drainS,
    smpp_pending: conn.pending, smpp_inflight: conn.inflight, smpp_state: conn.state,
    smsc_binds: smsc.binds,
    cpu_junction: (100 * jCpuS) / s.wallS, cpu_sipp: (100 * s.cpuS) / s.wallS,
    cpu_node: (100 * (me.user + me.system) / 1e6) / s.wallS,
    sipp_args: s.args, threads,
  };
  row.rows_per_commit = row.commits > 0 ? row.rows / row.commits : NaN;
  row.saturated = !(failed <= 0.01 * calls) || !(row.accepted_s >= 0.9 * rate);
  log(`${sync} ${rate}/s: ok ${ok} failed ${failed} accepted/s ${int(row.accepted_s)} ` +
    `p50 ${f2(row.p50)} p99 ${f2(row.p99)} ms, rows/commit ${f1(row.rows_per_commit)}, ` +
    `smsc ${row.smsc_distinct}/${expected}, cpu j ${int(row.cpu_junction)}% sipp ${int(row.cpu_sipp)}%`);
  return row;
}

// The average stored size of a message row in junction's database (bytes of
// envelope JSON), read with the sqlite3 shell when there is one.
function rowSize(dbPath) {
  try {
    return Number(execFileSync('sqlite3', ['-readonly', dbPath,
      'SELECT avg(length(envelope)) FROM messages;'], { encoding: 'utf8', timeout: 10000 }).trim());
  } catch { return NaN; }
}

async function junctionRun(sync) {
  const smsc = await startSmscCounter({ expectSource: FROM.slice(1) });
  const j = await startJunction({ params: { 'log.level': 'warn', 'sip.workers': 0,
    'db.synchronous': sync } });
  track(j.proc);
  j.threadNames = threadNames(j.proc.pid);
  const rows = [];
  let envBytes = NaN;
  try {
    await j.mi('connectors.add', { name: 'smsc1', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'bench', password: 'bench' } });
    await j.mi('routes.add', { name: 'bench', priority: 10, dst_prefix: '49', target: 'smsc1' });
    await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'smsc1')
      ?.status?.state === 'bound', 10000, 'smsc1 bound');
    for (const [i, rate] of RATES.entries()) {
      const row = await step(j, smsc, sync, i, rate);
      rows.push(row);
      if (row.saturated) break;
    }
    envBytes = rowSize(j.params['db.path']);
  } finally {
    await j.cleanup();
    await smsc.stop();
  }
  return { sync, rows, envBytes, badSource: smsc.badSource, multipart: smsc.multipart,
    duplicates: smsc.submits - smsc.distinct(), unnumbered: smsc.unnumbered };
}

// build/bench/sqlite_insert N rows in batches of B: [{sync, batch, rows, rows_s}].
function sqliteRuns() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'junction-bench-'));
  const out = [];
  try {
    for (const [n, b] of [[1000, 1], [20000, 64], [50000, 512]]) {
      const text = execFileSync(SQLITE_INSERT, [path.join(dir, 'raw.db'), String(n), String(b)],
        { encoding: 'utf8', timeout: 120000 });
      for (const m of text.matchAll(/synchronous=(\w+) batch=(\d+) rows=(\d+) seconds=([\d.]+) rows_per_s=(\d+)/g))
        out.push({ sync: m[1].toLowerCase(), batch: Number(m[2]), rows: Number(m[3]), rows_s: Number(m[5]) });
      log(text.trim());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

function report(cmd, mach, runs, raw, startedAt, seconds) {
  const L = [];
  L.push(`## ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${mach.commit}`, '');
  L.push('```', cmd, '```', '');
  L.push(`Machine: ${mach.nproc} cores (${mach.cpu}), ${mach.mem_gib} GiB, Linux ${mach.kernel}, ` +
    `${mach.sipp}, Node ${mach.node}; load average before the run ${mach.load}, after it ` +
    `${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other users share this machine). ` +
    `Run time ${Math.round(seconds)} s.`, '');
  const raw512 = (s) => raw.find((r) => r.sync === s && r.batch === 512)?.rows_s;
  L.push('### Junction: SIP MESSAGE in, 202 after commit, SMPP submit_sm out', '');
  L.push(`Each step: SIPp sends rate x ${SECONDS} s MESSAGEs at a fixed rate (UDP, 16 sockets), ` +
    'a probe times 50-200/s more to the microsecond (p50/p99/max). accepted/s = 202s / (first ' +
    'request to last 202). rows/commit = db.rows / db.commits of the step (inserts and ' +
    'status updates); commit_us_max is the longest commit since start. SMSC = distinct messages ' +
    `the SMSC got for the step (within ${DRAIN_S} s after it) / 202s. CPU in % of ` +
    'one core over the step (the bench column is this Node process: SMSC and probe).', '');
  L.push('| sync | offered/s | calls | 202 | failed | accepted/s | p50 ms | p99 ms | max ms | ' +
    'SIPp p99 ms | commits | rows/commit | commit_us_max | SMSC | junction CPU | SIPp CPU | bench CPU |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
  for (const run of runs) {
    for (const r of run.rows) {
      L.push(`| ${run.sync.toUpperCase()} | ${r.rate} | ${r.calls} | ${r.ok} | ${r.failed} | ` +
        `${int(r.accepted_s)}${r.saturated ? ' (sat.)' : ''} | ${f2(r.p50)} | ${f2(r.p99)} | ` +
        `${f2(r.pmax)} | ${int(r.sipp_p99)} | ${r.commits} | ${f1(r.rows_per_commit)} | ` +
        `${r.commit_us_max} | ${r.smsc_distinct}/${r.expected} | ` +
        `${int(r.cpu_junction)}% | ${int(r.cpu_sipp)}% | ${int(r.cpu_node)}% |`);
    }
  }
  L.push('');
  for (const run of runs) {
    L.push(`- ${run.sync.toUpperCase()}: stored envelope ${int(run.envBytes)} bytes on average; ` +
      `SMSC: ${run.duplicates} duplicate submit_sm, ${run.badSource} with a wrong source_addr, ` +
      `${run.multipart} multi-part; junction counted ` +
      run.rows.map((r) => `${r.rate}/s: ${r.tx_202} tx_202, ${r.rx_retrans} rx_retrans, ` +
        `${r.drops} drops, ${r.store_errors} store errors, ` +
        `${r.smsc_distinct < r.expected ? '**SMSC short by ' + (r.expected - r.smsc_distinct) + '**, ' : ''}` +
        `SMPP ${r.smpp_state}, pending ${r.smpp_pending}, in flight ${r.smpp_inflight} after ` +
        `${f1(r.drain_s)} s, ${r.smsc_binds} binds so far`)
        .join('; ') + '.');
  }
  L.push('', 'Busiest junction threads per step (% of one core; named from gdb backtraces):', '');
  for (const run of runs) {
    for (const r of run.rows) {
      L.push(`- ${run.sync.toUpperCase()} ${r.rate}/s: ` +
        (r.threads.map((t) => `${t.name} ${int(t.pct)}%`).join(', ') || '-'));
    }
  }
  L.push('', '### Raw SQLite on the same disk (build/bench/sqlite_insert, same columns and indexes, ' +
    '~600-byte envelope, WAL)', '');
  L.push('| synchronous | batch | rows | rows/s |', '|---|---:|---:|---:|');
  for (const r of raw) L.push(`| ${r.sync.toUpperCase()} | ${r.batch} | ${r.rows} | ${r.rows_s} |`);
  L.push('', '### Ratio', '');
  L.push('| sync | best accepted/s (step) | raw rows/s, batch 512 | ratio |', '|---|---:|---:|---:|');
  for (const run of runs) {
    const best = run.rows.reduce((a, r) => (r.accepted_s > (a?.accepted_s ?? -1) ? r : a), null);
    const rawv = raw512(run.sync);
    const bound = run.rows.some((r) => r.saturated) ? '' : ', not saturated: a lower bound';
    L.push(`| ${run.sync.toUpperCase()} | ${int(best?.accepted_s)} (${best?.rate}/s offered${bound}) | ` +
      `${rawv ?? '-'} | ${best && rawv ? (best.accepted_s / rawv).toFixed(3) : '-'} |`);
  }
  L.push('');
  return L.join('\n');
}

// Put the section at the top of the runs in RESULTS.md (replacing one of
// the same commit and day).
function record(section) {
  const file = path.join(BENCH, 'RESULTS.md');
  const marker = '<!-- runs, newest first; make bench adds one here -->';
  let text = existsSync(file) ? readFileSync(file, 'utf8')
    : `# Benchmark results\n\nWritten by \`make bench\` (bench/run_bench.mjs).\n\n${marker}\n`;
  if (!text.includes(marker)) text += `\n${marker}\n`;
  const [head, rest] = [text.slice(0, text.indexOf(marker) + marker.length), text.slice(text.indexOf(marker) + marker.length)];
  const sections = rest.split(/^(?=## )/m).filter((s) => s.trim() !== '');
  const key = (s) => s.split('\n')[0].replace(/^## (\d{4}-\d\d-\d\d) [\d:]+ UTC/, '$1');
  const kept = sections.filter((s) => key(s) !== key(section));
  writeFileSync(file, `${head}\n\n${[section.trim(), ...kept.map((s) => s.trim())].join('\n\n')}\n`);
  log(`recorded in ${path.relative(ROOT, file)}`);
}

async function main() {
  const startedAt = new Date();
  const t0 = Date.now();
  for (const bin of [process.env.JUNCTION_BIN, SQLITE_INSERT]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make bench (it builds first)`);
  }
  const args = process.argv.slice(2).join(' ');
  const cmd = process.env.MAKELEVEL ? `make bench${args ? ` BENCH_ARGS="${args}"` : ''}`
    : `${process.env.BENCH_COMMIT ? 'JUNCTION_BIN=... SQLITE_INSERT_BIN=... BENCH_COMMIT=... ' : ''}` +
      `node bench/run_bench.mjs ${args}`.trim();
  const mach = machine();
  const runs = [];
  for (const sync of SYNCS) runs.push(await junctionRun(sync));
  const raw = sqliteRuns();
  const section = report(cmd, mach, runs, raw, startedAt, (Date.now() - t0) / 1000);
  console.log(section);
  if (WRITE) record(section);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
