// make bench-smpp: SMPP end to end with delivery reports flowing back,
// junction beside Kannel (issue 7), in one run of a few minutes.
//
//   node bench/run_smpp.mjs [--count=200000] [--window=100] [--limit-s=45]
//                           [--kannel-count=40000] [--kannel-concurrency=100]
//                           [--tests-wait-s=300] [--no-kannel] [--no-junction] [--no-write]
//                           [--kannel-dlr=1] [--kannel-store=file] [--param=name=value ...]
//
//  A. junction (log.level=warn, db.synchronous=full, a temporary database):
//     a customer ESME (esme_fast, transceiver, window --window,
//     registered_delivery 1, --rate 0: as fast as the window allows) bound
//     to junction's SMSC port with an account made by MI accounts.add ->
//     route 49160 -> SMPP client connector `smsc_rcpt` (window --window) ->
//     smsc_fast --receipts.  smsc_fast sends one delivery receipt per
//     submit_sm; junction applies it and sends the customer a delivery
//     report (deliver_sm, esm_class 4) on its bind, which esme_fast counts.
//  B. Kannel (Debian's bearerbox + smsbox, started here from a temporary
//     folder with their own configuration on 127.0.0.1 ports, stopped by
//     PID): ab (apache2-utils, keep-alive, --kannel-concurrency at a time)
//     sends HTTP sendsms with dlr-mask 1 and a dlr-url into smsbox ->
//     bearerbox SMPP client (transceiver, max-pending-submits --window) ->
//     its own smsc_fast --receipts; the delivery report comes back as
//     smsbox's HTTP GET of the dlr-url, counted by a small HTTP sink in
//     this process.
//
// Figures: messages/s accepted, submitted to the SMSC and with their report
// back at the customer; submit_sm_resp p50/p99 (esme_fast); CPU µs per
// message (utime + stime from /proc/<pid>/stat over the load and its drain,
// ÷ messages); junction's per-thread CPU; the load generators' CPU; the
// ratio junction / Kannel.  Before each part the script waits (up to
// --tests-wait-s) until no `node --test` runs on this shared machine, and
// notes it if it had to go on alongside one.  Only 127.0.0.1; every process
// is stopped by its PID; every load is bounded in count and time, the run
// by RUN_LIMIT_S.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CLK_TCK, cpuSeconds, threadCpu, runGuard } from './lib/proc.mjs';
import { recordSection } from './lib/results.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
process.env.JUNCTION_BIN ||= path.join(ROOT, 'build/junction');
const SMSC_FAST = process.env.SMSC_FAST_BIN || path.join(ROOT, 'build/bench/smsc_fast');
const ESME_FAST = process.env.ESME_FAST_BIN || path.join(ROOT, 'build/bench/esme_fast');
const BEARERBOX = process.env.BEARERBOX_BIN || '/usr/sbin/bearerbox';
const SMSBOX = process.env.SMSBOX_BIN || '/usr/sbin/smsbox';
const AB = process.env.AB_BIN || '/usr/bin/ab';
const { startJunction, freePort, waitFor, sleep } =
  await import('../tests/integration/lib/junction.mjs');

function option(name, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const COUNT = Math.min(2000000, Number(option('count', '200000')));
const WINDOW = Number(option('window', '100'));
const LIMIT_S = Math.min(120, Number(option('limit-s', '45')));
const K_COUNT = Math.min(500000, Number(option('kannel-count', '40000')));
const K_CONC = Number(option('kannel-concurrency', '100'));
const TESTS_WAIT_S = Number(option('tests-wait-s', '300'));
const KANNEL = !process.argv.includes('--no-kannel');
const JUNCTION = !process.argv.includes('--no-junction');
const K_DLR = option('kannel-dlr', '1') !== '0';          // dlr-mask 1 and a dlr-url per message
const K_STORE = option('kannel-store', 'file');            // Kannel's store-type: file, spool or none
// junction parameters (--param=name=value, repeatable).  smpp.window (the
// window of deliver_sm towards a customer's bind, default 10) is set to
// the customer's own submit window, as Kannel's and the connector's.
const PARAMS = { 'log.level': 'warn', 'sip.workers': 0, 'db.synchronous': 'full', 'smpp.window': WINDOW,
  ...Object.fromEntries(process.argv.filter((x) => x.startsWith('--param='))
    .map((x) => { const kv = x.slice(8); const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; })) };
const WRITE = !process.argv.includes('--no-write');
const DRAIN_S = 20;
const RUN_LIMIT_S = 900;
const ACCOUNT = { system_id: 'bench', password: 'bench' };
const TARGET = { rate: 20000, ratio: 3 };

const { track, stopChildren } = runGuard('bench-smpp', RUN_LIMIT_S);

const log = (...a) => console.error('bench-smpp:', ...a);
const f1 = (x) => Number.isFinite(x) ? x.toFixed(1) : '-';
const f2 = (x) => Number.isFinite(x) ? x.toFixed(2) : '-';
const int = (x) => Number.isFinite(x) ? String(Math.round(x)) : '-';
function threadText(th0, th1, n) {
  return Object.entries(th1).map(([k, v]) => [k, ((v - (th0[k] || 0)) * 1e6) / n])
    .filter(([, v]) => v >= 0.5).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${f1(v)}`).join(', ');
}
// Busy CPU seconds of the whole machine so far (all cores).
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK;
  } catch { return NaN; }
}
function testsRunning() {
  try { return execFileSync('pgrep', ['-f', 'node --test'], { encoding: 'utf8' }).trim() !== ''; }
  catch { return false; }
}
// Wait (bounded) until no `node --test` runs; {waited_s, alongside}.
async function waitNoTests(what) {
  const t0 = Date.now();
  let said = false;
  while (testsRunning() && Date.now() - t0 < TESTS_WAIT_S * 1000) {
    if (!said) { log(`${what}: a node --test run is going on, waiting up to ${TESTS_WAIT_S} s`); said = true; }
    await sleep(2000);
  }
  return { waited_s: (Date.now() - t0) / 1000, alongside: testsRunning() };
}

// smsc_fast --receipts as a child: port, stats() (SIGUSR1 -> JSON), stop().
async function startSmscFast() {
  const args = ['--listen', '127.0.0.1', '--port', '0', '--receipts', '--time-limit', String(RUN_LIMIT_S)];
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

// Poll the SMSC every 100 ms until it has `want` more submits and answered
// receipts than `base` (or `limitS` pass): the times of its first and last
// new submit as this poll saw them.
async function watchSmsc(smsc, base, want, limitS, stopWhen = () => false) {
  const t0 = Date.now();
  let first = NaN, last = NaN, st = base;
  for (;;) {
    const s = await smsc.stats();
    const now = Date.now();
    if (s && s.submits > base.submits && !Number.isFinite(first)) first = now;
    if (s && s.submits > st.submits) last = now;
    if (s) st = s;
    if ((st.submits - base.submits >= want && st.deliver_sm_resp - base.deliver_sm_resp >= want) ||
        now - t0 > limitS * 1000 || stopWhen()) break;
    await sleep(100);
  }
  return { st, first, last };
}

function runEsme(opts, onBound) {
  const args = [];
  for (const [k, v] of Object.entries(opts)) args.push(`--${k}`, String(v));
  return new Promise((resolve) => {
    const proc = track(spawn(ESME_FAST, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
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

// ---- A. junction ----------------------------------------------------------

async function junctionRun() {
  const smsc = await startSmscFast();
  const j = await startJunction({ params: PARAMS });
  track(j.proc);
  try {
    await j.mi('connectors.add', { name: 'smsc_rcpt', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'bench', window: WINDOW } });
    await j.mi('routes.add', { name: 'rcpt', priority: 10, dst_prefix: '49160', target: 'smsc_rcpt' });
    await j.mi('accounts.add', ACCOUNT);
    await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'smsc_rcpt')
      ?.status?.state === 'bound', 15000, 'smsc_rcpt bound');
    const esmeOpts = (count, rate, tag) => ({ host: '127.0.0.1', port: j.ports.smpp,
      'system-id': ACCOUNT.system_id, password: ACCOUNT.password, rate, count, window: WINDOW,
      'registered-delivery': 1, 'receipt-wait': DRAIN_S, 'time-limit': LIMIT_S, dst: '4916000003', tag });
    // warm-up: first binds, caches, SQLite pages, the account connector
    const w = await runEsme(esmeOpts(5000, 2000, 'warm-up '));
    log(`junction warm-up: ok ${w.ok} receipts ${w.receipts}`);
    await sleep(1000);
    const tests = await waitNoTests('junction');
    const base = await smsc.stats();
    const c0 = await j.mi('stats.get');
    let cpu0, th0, m0, t0, s0;
    const mark = () => { cpu0 = cpuSeconds(j.proc.pid); th0 = threadCpu(j.proc.pid); m0 = machineBusy(); t0 = Date.now(); s0 = cpuSeconds(smsc.proc.pid); };
    mark();
    const e = await runEsme(esmeOpts(COUNT, 0, 'bench '), mark);
    // the SMSC side: every submit and every receipt answered (bounded)
    const { st } = await watchSmsc(smsc, base, e.ok ?? 0, DRAIN_S);
    const cpuS = cpuSeconds(j.proc.pid) - cpu0, th1 = threadCpu(j.proc.pid);
    const wallS = (Date.now() - t0) / 1000;
    const smscS = cpuSeconds(smsc.proc.pid) - s0;
    const othersS = machineBusy() - m0 - cpuS - e.cpu_s - smscS;
    const c1 = await j.mi('stats.get');
    const d = (k) => (c1.counters[k] ?? 0) - (c0.counters[k] ?? 0);
    const ok = e.ok ?? 0;
    const r = {
      tests, esme: e, ok, wall_s: wallS, cpu_s: cpuS, us_per_msg: ok ? (cpuS * 1e6) / ok : NaN,
      cpu_pct: (100 * cpuS) / wallS, others_pct: Math.max(0, (100 * othersS) / wallS), smsc_cpu_s: smscS,
      threads: ok ? threadText(th0, th1, ok) : '',
      accepted_s: e.ack_rate, e2e_s: e.receipt_rate, receipts: e.receipts,
      smsc_submits: st.submits - base.submits, smsc_distinct: st.distinct - base.distinct,
      smsc_receipts: st.receipts_sent - base.receipts_sent, smsc_receipt_resps: st.deliver_sm_resp - base.deliver_sm_resp,
      smsc_resp_err: st.deliver_sm_resp_err - base.deliver_sm_resp_err,
      counters: {
        submitted: d('core.submitted'), delivered: d('core.delivered'), commits: d('db.commits'),
        rows: d('db.rows'), store_errors: d('core.store_errors'), spills: d('core.queue_spills'),
        paged: d('core.queue_paged') },
      rss_mib: (() => { try { return Number(readFileSync(`/proc/${j.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024; } catch { return NaN; } })(),
    };
    log(`junction: ok ${ok}/${COUNT} at ${int(r.accepted_s)}/s accepted, reports back ${r.receipts} at ${int(r.e2e_s)}/s; ` +
      `SMSC submits ${r.smsc_submits} (distinct ${r.smsc_distinct}), receipts answered ${r.smsc_receipt_resps}; ` +
      `junction ${int(r.cpu_pct)}% = ${f1(r.us_per_msg)} us/msg (${r.threads}); p50/p99 ${e.lat_us?.p50}/${e.lat_us?.p99} us; ` +
      `errors ${JSON.stringify(e.errors)}; counters ${JSON.stringify(r.counters)}`);
    return r;
  } finally {
    await j.cleanup();
    await smsc.stop();
  }
}

// ---- B. Kannel ------------------------------------------------------------

function kannelConf(dir, p, smscPort) {
  return `group = core
admin-port = ${p.admin}
admin-interface = 127.0.0.1
admin-password = bench
smsbox-port = ${p.smsbox}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "${dir}/bearerbox.log"
log-level = 3
${K_STORE === 'none' ? '' : `store-type = ${K_STORE}\nstore-location = "${dir}/store"\n`}dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = fast
host = 127.0.0.1
port = ${smscPort}
transceiver-mode = true
smsc-username = kannel
smsc-password = bench
system-type = ""
max-pending-submits = ${WINDOW}
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${p.smsbox}
sendsms-port = ${p.sendsms}
sendsms-interface = 127.0.0.1
log-file = "${dir}/smsbox.log"
log-level = 3

group = sendsms-user
username = bench
password = bench
max-messages = 1
concatenation = false
`;
}

// A Kannel box as a child (console verbosity 4: errors only; its log file
// at warning, as junction's log.level=warn), stopped by its PID.
function startBox(bin, conf, dir, name) {
  const proc = track(spawn(bin, ['-v', '4', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  proc.stderr.on('data', (d) => { if (err.length < 4000) err += d; });
  proc.on('exit', (code, sig) => { if (code && !proc.stopping) log(`${name} exit ${code} ${sig || ''}: ${err.slice(0, 300)}`); });
  return {
    proc, name,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.stopping = true;
      const done = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      if (await Promise.race([done.then(() => true), sleep(5000).then(() => false)])) return;
      proc.kill('SIGKILL');
      await Promise.race([done, sleep(2000)]);
    },
  };
}

function httpGet(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve({ status: res.statusCode, body: b })); });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
  });
}

// The DLR sink: smsbox GETs the dlr-url for each delivery report.
function startDlrSink(port) {
  const s = { n: 0, first: NaN, last: NaN, server: null };
  s.server = http.createServer((req, res) => {
    const now = Date.now();
    if (!s.n) s.first = now;
    s.n++; s.last = now;
    res.end('ok');
  });
  s.server.keepAliveTimeout = 60000;
  return new Promise((resolve) => s.server.listen(port, '127.0.0.1', () => resolve(s)));
}

async function kannelRun() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-kannel-'));
  const smsc = await startSmscFast();
  const p = { admin: await freePort(), smsbox: await freePort(), sendsms: await freePort(), dlr: await freePort() };
  const conf = path.join(dir, 'kannel.conf');
  writeFileSync(conf, kannelConf(dir, p, smsc.port));
  const sink = await startDlrSink(p.dlr);
  const boxes = [];
  try {
    boxes.push(startBox(BEARERBOX, conf, dir, 'bearerbox'));
    await waitFor(async () => /fast\[fast\].*online/.test((await httpGet(`http://127.0.0.1:${p.admin}/status.txt?password=bench`)).body),
      15000, 'bearerbox bound to smsc_fast');
    boxes.push(startBox(SMSBOX, conf, dir, 'smsbox'));
    const [bb, sb] = boxes;
    const dlrUrl = encodeURIComponent(`http://127.0.0.1:${p.dlr}/dlr?s=%d&id=%i`);
    const url = (n) => `http://127.0.0.1:${p.sendsms}/cgi-bin/sendsms?username=bench&password=bench` +
      `&from=4930123456&to=4916000003&text=${encodeURIComponent(`#${n} Hello from the Junction benchmark, a message of typical length.`)}` +
      (K_DLR ? `&dlr-mask=1&dlr-url=${dlrUrl}` : '');
    await waitFor(async () => (await httpGet(url(0))).status === 202, 15000, 'smsbox sendsms answering');
    // warm-up: a few thousand through ab, as junction's warm-up
    const ab = (n, limitS) => new Promise((resolve) => {
      const proc = track(spawn(AB, ['-q', '-k', '-c', String(K_CONC), '-n', String(n), '-s', '10', url(1)],
        { stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '', cpuS = 0;
      proc.stdout.on('data', (d) => { out += d; });
      proc.stderr.on('data', (d) => { out += d; });
      const poll = setInterval(() => { const c = cpuSeconds(proc.pid); if (Number.isFinite(c)) cpuS = c; }, 200);
      const guard = setTimeout(() => proc.kill('SIGKILL'), limitS * 1000);
      proc.on('exit', (code) => {
        clearInterval(poll); clearTimeout(guard);
        const g = (re) => Number((out.match(re) || [])[1]);
        resolve({ code, cpu_s: cpuS, complete: g(/Complete requests:\s+(\d+)/), failed: g(/Failed requests:\s+(\d+)/),
          non2xx: g(/Non-2xx responses:\s+(\d+)/) || 0, keepalive: g(/Keep-Alive requests:\s+(\d+)/),
          rps: g(/Requests per second:\s+([\d.]+)/), out: code ? out.slice(-400) : '' });
      });
    });
    const wbase = await smsc.stats();
    const w = await ab(3000, 60);
    await watchSmsc(smsc, wbase, 3000, DRAIN_S);
    if (K_DLR) await waitFor(() => sink.n >= 3000, DRAIN_S * 1000, 'warm-up reports').catch(() => {});
    log(`kannel warm-up: ${w.complete} requests at ${int(w.rps)}/s, reports ${sink.n}`);
    await sleep(1000);
    const tests = await waitNoTests('kannel');
    const base = await smsc.stats();
    const n0 = sink.n;
    sink.first = NaN;
    const cb0 = cpuSeconds(bb.proc.pid), cs0 = cpuSeconds(sb.proc.pid), m0 = machineBusy(), t0 = Date.now(), s0 = cpuSeconds(smsc.proc.pid);
    const me0 = process.cpuUsage();
    let abDone = null;
    const abP = ab(K_COUNT, LIMIT_S + 15).then((r) => { abDone = r; return r; });
    const first = await watchSmsc(smsc, base, K_COUNT, LIMIT_S + DRAIN_S);
    const a = abDone || await abP;
    if (K_DLR) await waitFor(() => sink.n - n0 >= K_COUNT, DRAIN_S * 1000, 'reports').catch(() => {});
    const wallS = (Date.now() - t0) / 1000;
    const cbS = cpuSeconds(bb.proc.pid) - cb0, csS = cpuSeconds(sb.proc.pid) - cs0;
    const me = process.cpuUsage(me0);
    const st = first.st;
    const submits = st.submits - base.submits;
    const reports = sink.n - n0;
    const kS = cbS + csS;
    const smscS = cpuSeconds(smsc.proc.pid) - s0;
    const othersS = machineBusy() - m0 - kS - a.cpu_s - smscS - (me.user + me.system) / 1e6;
    const status = (await httpGet(`http://127.0.0.1:${p.admin}/status.txt?password=bench`)).body;
    // error lines, less the start-up ones of a store file not there yet
    // (bearerbox tries to load store, store.new and store.bak first)
    const errLines = (f) => { try { return readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => /ERROR|PANIC/.test(l) && !/couldn't open `[^']*\/store(\.new|\.bak)?'|System error 2: No such file/.test(l)); } catch { return []; } };
    const r = {
      tests, ab: a, submits, reports, wall_s: wallS,
      submit_rate: submits > 1 ? (submits - 1) / ((first.last - first.first) / 1000) : NaN,
      e2e_s: reports > 1 ? reports / ((sink.last - t0) / 1000) : NaN,
      smsc_receipt_resps: st.deliver_sm_resp - base.deliver_sm_resp,
      bb_cpu_s: cbS, sb_cpu_s: csS, us_per_msg: submits ? (kS * 1e6) / submits : NaN,
      bb_us: submits ? (cbS * 1e6) / submits : NaN, sb_us: submits ? (csS * 1e6) / submits : NaN,
      cpu_pct: (100 * kS) / wallS, others_pct: Math.max(0, (100 * othersS) / wallS),
      sink_cpu_s: (me.user + me.system) / 1e6, smsc_cpu_s: smscS,
      errors: [...errLines('bearerbox.log'), ...errLines('smsbox.log')],
      status_sms: (status.match(/^SMS: received.*$/m) || [''])[0],
      status_dlr: (status.match(/^DLR: received.*$/m) || [''])[0],
    };
    log(`kannel: ab ${a.complete} at ${int(a.rps)}/s (failed ${a.failed}, non-2xx ${a.non2xx}, ab CPU ${f1(a.cpu_s)} s); ` +
      `SMSC submits ${submits} at ${int(r.submit_rate)}/s, reports back ${reports} at ${int(r.e2e_s)}/s; ` +
      `bearerbox ${f1(r.bb_us)} + smsbox ${f1(r.sb_us)} = ${f1(r.us_per_msg)} us/msg; ${r.errors.length} error lines`);
    return r;
  } finally {
    for (const b of boxes.reverse()) await b.stop();
    await smsc.stop();
    sink.server.closeAllConnections?.();
    sink.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- report ---------------------------------------------------------------

function git(args) { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return '?'; } }
function machine() {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
  const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench']) !== '';
  const kv = (() => { try { return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'kannel'], { encoding: 'utf8' }); } catch { return '?'; } })();
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpu: cpu ? cpu[1] : '?', mem_gib: (os.totalmem() / 2 ** 30).toFixed(0),
    // junction's code: the last commit that changed anything outside bench/
    // (and the top Makefile, whose bench-smpp help line is the bench's)
    commit: process.env.BENCH_COMMIT || git(['log', '-1', '--format=%h', '--', '.', ':!bench', ':!Makefile']) +
      (dirty ? ' (with uncommitted changes)' : ''),
    head: git(['rev-parse', '--short', 'HEAD']),
    kernel: os.release(), node: process.version, kannel: kv,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function report(cmd, mach, J, K, startedAt, seconds) {
  const L = [];
  L.push(`## ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${mach.commit}: SMPP end to end with reports, junction beside Kannel`, '');
  L.push('```', cmd, '```', '');
  const along = [J?.tests, K?.tests].filter((t) => t && (t.alongside || t.waited_s > 3));
  L.push(`Machine: ${mach.nproc} cores (${mach.cpu}), ${mach.mem_gib} GiB, Linux ${mach.kernel}, Node ${mach.node}, ` +
    `Kannel ${mach.kannel} (Debian); bench scripts at ${mach.head}. Load average before ${mach.load}, after ` +
    `${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; run time ${Math.round(seconds)} s. ` +
    (along.length ? `Waited for a \`node --test\` run: junction ${f1(J?.tests?.waited_s)} s${J?.tests?.alongside ? ' (ran alongside it)' : ''}, ` +
      `Kannel ${f1(K?.tests?.waited_s)} s${K?.tests?.alongside ? ' (ran alongside it)' : ''}.` : 'No `node --test` run during either part.'), '');
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
  const e2eRatio = ratio(J?.e2e_s, K?.e2e_s), subRatio = ratio(J?.accepted_s, K?.submit_rate);
  L.push('### Summary', '', '| figure | junction | Kannel | junction / Kannel | target |', '|---|---:|---:|---:|---:|');
  L.push(`| messages/s end to end, report back at the customer (count ÷ first submit to last report) | ${int(J?.e2e_s)} | ${int(K?.e2e_s)} | ${f2(e2eRatio)} | ≥ ${TARGET.rate} ${J ? (J.e2e_s >= TARGET.rate ? '✓' : '✗') : ''}; ratio ≥ ${TARGET.ratio} ${J && K ? (e2eRatio >= TARGET.ratio ? '✓' : '✗') : ''} |`);
  L.push(`| messages/s submitted (junction: submit_sm_resp to the customer; Kannel: submit_sm at smsc_fast) | ${int(J?.accepted_s)} | ${int(K?.submit_rate)} | ${f2(subRatio)} | |`);
  L.push(`| CPU µs per message (junction; bearerbox + smsbox) | ${f1(J?.us_per_msg)} | ${f1(K?.us_per_msg)} | ${f2(ratio(K?.us_per_msg, J?.us_per_msg))}× less | |`);
  L.push(`| the rest of the machine meanwhile, % of a core | ${int(J?.others_pct)} | ${int(K?.others_pct)} | | quiet |`);
  L.push(`| messages, reports back | ${J?.ok ?? '-'} / ${J?.receipts ?? '-'} | ${K?.submits ?? '-'} / ${K?.reports ?? '-'} | | every one |`);
  L.push('');
  if (J) {
    const e = J.esme;
    L.push(`**A. junction** (${Object.entries(PARAMS).map(([k, v]) => `${k}=${v}`).join(', ')}): esme_fast → SMSC port (account \`bench\`, ` +
      `transceiver, window ${WINDOW}, registered_delivery 1, --rate 0, ${COUNT} messages) → route 49160 → connector ` +
      `\`smsc_rcpt\` (window ${WINDOW}) → smsc_fast --receipts; each receipt goes back to the customer as a deliver_sm ` +
      `(esm_class 4) on its bind.`, '');
    L.push(`- accepted ${J.ok} of ${COUNT} at ${int(J.accepted_s)}/s (submit_sm_resp p50 ${e.lat_us?.p50} µs, p99 ${e.lat_us?.p99} µs, ` +
      `max ${e.lat_us?.max} µs; errors ${JSON.stringify(e.errors)}${e.time_limit_hit ? `; stopped at the ${LIMIT_S} s limit` : ''}); ` +
      `reports received by the customer ${J.receipts} (last ${f1(e.receipt_span_s)} s after the first submit: ${int(J.e2e_s)}/s end to end).`);
    L.push(`- smsc_fast: ${J.smsc_submits} submit_sm (${J.smsc_distinct} distinct), ${J.smsc_receipts} receipts sent, ` +
      `${J.smsc_receipt_resps} answered (${J.smsc_resp_err} with an error status).`);
    L.push(`- junction CPU ${f1(J.cpu_s)} s over ${f1(J.wall_s)} s (${int(J.cpu_pct)}% of a core) = ${f1(J.us_per_msg)} µs per message; ` +
      `by thread ${J.threads}. esme_fast CPU ${f1(e.cpu_s)} s. Others on the machine ${int(J.others_pct)}% of a core ` +
      `(smsc_fast used ${f1(J.smsc_cpu_s)} s). RSS after ${f1(J.rss_mib)} MiB.`);
    L.push(`- counters: ${Object.entries(J.counters).map(([k, v]) => `${k} ${v}`).join(', ')}` +
      (J.counters.commits ? ` (${f1(J.counters.rows / J.counters.commits)} rows per commit)` : '') + '.', '');
  }
  if (K) {
    L.push(`**B. Kannel** (bearerbox + smsbox, log level warning, store-type ${K_STORE}, internal DLR storage): ab -k -c ${K_CONC} ` +
      `-n ${K_COUNT} of HTTP sendsms (${K_DLR ? 'dlr-mask 1, dlr-url to an HTTP sink in the bench script' : '**no dlr-mask: no reports asked**'}) → smsbox → bearerbox SMPP client ` +
      `(transceiver, max-pending-submits ${WINDOW}) → its own smsc_fast --receipts; each receipt goes back as smsbox's GET of ` +
      `the dlr-url. (ab sends the same text each time: smsc_fast's distinct count is 1, submits are counted.)`, '');
    L.push(`- ab: ${K.ab.complete} requests at ${int(K.ab.rps)}/s (failed ${K.ab.failed}, non-2xx ${K.ab.non2xx}, keep-alive ${K.ab.keepalive}); ` +
      `ab CPU ${f1(K.ab.cpu_s)} s, the DLR sink (this script) ${f1(K.sink_cpu_s)} s.`);
    L.push(`- smsc_fast: ${K.submits} submit_sm at ${int(K.submit_rate)}/s (first to last as polled every 100 ms), ` +
      `${K.smsc_receipt_resps} receipts answered; reports at the dlr-url ${K.reports} (${int(K.e2e_s)}/s from the first request to the last report).`);
    L.push(`- Kannel CPU: bearerbox ${f1(K.bb_cpu_s)} s + smsbox ${f1(K.sb_cpu_s)} s over ${f1(K.wall_s)} s (${int(K.cpu_pct)}% of a core) = ` +
      `${f1(K.bb_us)} + ${f1(K.sb_us)} = ${f1(K.us_per_msg)} µs per message. smsc_fast ${f1(K.smsc_cpu_s)} s; others ${int(K.others_pct)}% of a core.`);
    L.push(`- bearerbox status: \`${K.status_sms}\`; \`${K.status_dlr}\`. Error lines in the logs (less the start-up ones of a store file not there yet): ${K.errors.length}` +
      (K.errors.length ? ` (first: \`${K.errors[0].replace(/`/g, "'").slice(0, 200)}\`)` : '') + '.', '');
  }
  return L.join('\n');
}

function record(section) {
  log(`recorded in ${path.relative(ROOT, recordSection(BENCH, section))}`);
}

async function main() {
  const startedAt = new Date(), t0 = Date.now();
  for (const bin of [process.env.JUNCTION_BIN, SMSC_FAST, ESME_FAST, ...(KANNEL ? [BEARERBOX, SMSBOX, AB] : [])]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make bench-smpp (it builds and installs first)`);
  }
  const args = process.argv.slice(2).join(' ');
  const cmd = process.env.MAKELEVEL ? `make bench-smpp${args ? ` BENCH_ARGS="${args}"` : ''}` : `node bench/run_smpp.mjs ${args}`.trim();
  const mach = machine();
  const J = JUNCTION ? await junctionRun() : null;
  const K = KANNEL ? await kannelRun() : null;
  const section = report(cmd, mach, J, K, startedAt, (Date.now() - t0) / 1000);
  console.log(section);
  if (WRITE) record(section);
}

main().then(() => process.exit(0), (e) => { console.error(e); stopChildren(); process.exit(1); });
