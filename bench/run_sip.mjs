// make bench-sip: junction's SIP proxy beside Kamailio, stateless and
// stateful, the same SIPp flows at fixed rates through each, in one run.
//
//   node bench/run_sip.mjs [--rates=500,1000,2000,4000] [--step-s=3]
//        [--cpu-rate=2000] [--cpu-warm-s=35] [--cpu-s=8] [--flows=message,call]
//        [--modes=stateless,stateful] [--proxies=junction,kamailio]
//        [--workers=2] [--no-write]
//
// For each mode, flow and proxy: a SIPp UAS on 127.0.0.2 (one per run),
// the proxy on 127.0.0.1 (junction: sip.proxy_mode, sip.workers W,
// sip.record_route no, log.level warn, 127.0.0.0/8 trusted as by default;
// Kamailio: bench/kamailio-<mode>.cfg, -n W UDP processes, forward() or
// t_relay(), no Record-Route either), and SIPp UACs whose Request-URI
// names the UAS (-key uas), so both proxies relay by Request-URI:
//   cpu     first, at --cpu-rate (a rate both reach, checked), the proxies
//           side by side (each its own UAS and UAC, the same window, so a
//           noisy neighbour slows both alike): after
//           --cpu-warm-s seconds at it (the steady state: transactions
//           freed as fast as they are made), over --cpu-s seconds the
//           proxy's CPU (utime + stime from /proc/<pid>/stat; Kamailio:
//           every process of it summed) divided by SIPp's successful calls
//           meanwhile; the p99 of SIPp's response times over the run
//           (-trace_rtt: MESSAGE -> 200; INVITE -> 200 of a call), RSS and
//           PSS at the window's end (smaps_rollup; Kamailio's shared memory
//           is counted once by PSS and once per process by RSS), and SIPp's
//           own CPU (UAC and UAS) so it is seen not to be the bottleneck;
//   ladder  then each rate of --rates for --step-s seconds (-r, -m rate*step);
//           the highest with under 0.1 % failed calls (a call fails when a
//           response does not come within 4 s) is the proxy's top rate; the
//           ladder stops at the first step over that;
// A MESSAGE call is one transaction; a call is INVITE + ACK + BYE (two
// transactions and an ACK): its CPU is given per call.  Results go into
// bench/RESULTS.md ("SIP proxy vs Kamailio") unless --no-write.
//
// Only 127.0.0.1 / 127.0.0.2; every process it starts is stopped by its
// PID; each SIPp run is bounded by -m and a time limit, the whole run by
// RUN_LIMIT_S.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, runGuard } from './lib/proc.mjs';
import { recordSection } from './lib/results.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
process.env.JUNCTION_BIN ||= path.join(ROOT, 'build/junction');
const { startJunction, freePort, sleep } = await import('../tests/integration/lib/junction.mjs');
const SIPP = process.env.SIPP_BIN || 'sipp';
const KAMAILIO = process.env.KAMAILIO_BIN || '/usr/sbin/kamailio';

function option(name, def) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const RATES = option('rates', '500,1000,2000,4000').split(',').map(Number).filter((x) => x > 0).slice(0, 8);
const STEP_S = Math.min(10, Math.max(1, Number(option('step-s', '3'))));
const CPU_RATE = Number(option('cpu-rate', '2000'));
const CPU_S = Math.min(30, Math.max(2, Number(option('cpu-s', '8'))));
// junction keeps a non-INVITE transaction for Timer J (64*T1 = 32 s over
// UDP), Kamailio's tm for its wait timer (5 s): past 35 s both free what
// they made as fast as they make it
const CPU_WARM_S = Math.min(120, Math.max(0, Number(option('cpu-warm-s', '35'))));
const FLOWS = option('flows', 'message,call').split(',');
const MODES = option('modes', 'stateless,stateful').split(',');
const PROXIES = option('proxies', 'junction,kamailio').split(',');
const WORKERS = Number(option('workers', '2'));
// Kamailio (-m 256 MiB of shared memory: its transactions at the top rates;
// -M 8 MiB per process) and its memory manager: Debian's default is qm, its debugging allocator
// (about 3x the CPU per message here); tlsf is the one it recommends to run.
const KAM_MEM = option('kamailio-mem', 'tlsf');
const WRITE = !process.argv.includes('--no-write');
const RUN_LIMIT_S = 1200;
const FAIL_MAX = 0.001;
const SIPP_BUF = 4 * 1024 * 1024; // SIPp's socket buffers (its default is 64 KiB)
const UAS_IP = '127.0.0.2';

const { track, stopChildren } = runGuard('bench-sip', RUN_LIMIT_S);

const log = (...a) => console.error('bench-sip:', ...a);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const int = (x) => (Number.isFinite(x) ? String(Math.round(x)) : '-');

// Every process of the tree under pid (pid included).
function tree(pid) {
  const kids = {};
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      (kids[ppid] ||= []).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(kids[out[i]] || []));
  return out;
}
const cpuOf = (pids) => pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0);
// Rss and Pss in MiB, summed over pids.
function memOf(pids) {
  let rss = 0, pss = 0;
  for (const p of pids) {
    try {
      const t = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(t)[1]);
      pss += Number(/^Pss:\s+(\d+)/m.exec(t)[1]);
    } catch { /* gone */ }
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}
// 1 when UDP port is bound on 127.0.0.1 (/proc/net/udp).
function udpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex));
}
// Datagrams the kernel dropped at the UDP sockets bound to port (full
// receive buffers): the last column of /proc/net/udp, summed (junction has
// one SO_REUSEPORT socket per worker).
function udpDrops(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let d = 0;
  for (const l of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f[1]?.endsWith(hex)) d += Number(f[f.length - 1]) || 0;
  }
  return d;
}
async function waitBound(port, what) {
  for (let i = 0; i < 100; i++) {
    if (udpBound(port)) return;
    await sleep(100);
  }
  throw new Error(`${what}: port ${port} not bound after 10 s`);
}

// The proxy under test: {name, port, pids(), stop()}.
async function startProxy(name, mode, dir) {
  if (name === 'junction') {
    const j = await startJunction({ params: {
      'sip.workers': WORKERS, 'sip.proxy_mode': mode, 'sip.record_route': 'no', 'sip.tcp': 'no',
      'log.level': 'warn' } });
    track(j.proc);
    return { name, port: j.ports.sip, pids: () => [j.proc.pid], stop: () => j.cleanup(), j };
  }
  const port = await freePort();
  const proc = track(spawn(KAMAILIO, ['-f', path.join(BENCH, `kamailio-${mode}.cfg`), '-DD', '-E',
    '-l', `udp:127.0.0.1:${port}`, '-n', String(WORKERS), '-m', '256', '-M', '8', '-x', KAM_MEM, '-w', dir],
  { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  proc.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  try {
    await waitBound(port, 'kamailio');
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\n${err}`);
  }
  await sleep(300); // its children fork after the bind
  return {
    name, port, pids: () => tree(proc.pid),
    stop: async () => {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      clearTimeout(t);
    },
  };
}

function startUas(flow, port, dir) {
  const proc = track(spawn(SIPP, ['-sf', path.join(BENCH, 'sipp', `sip_uas_${flow}.xml`), '-i', UAS_IP,
    '-p', String(port), '-nostdin', '-buff_size', String(SIPP_BUF)], { cwd: dir, stdio: 'ignore' }));
  return {
    proc,
    stop: async () => {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await new Promise((r) => (proc.exitCode !== null || proc.signalCode ? r() : proc.on('exit', r)));
      clearTimeout(t);
    },
  };
}

// One SIPp UAC run: rate calls/s for seconds through proxy to the UAS.
// {calls, ok, failed, p99_ms, cpu_s (the UAC's)}.
async function runUac(flow, rate, seconds, proxyPort, uasPort, dir, tag, during = null) {
  const count = Math.max(1, Math.round(rate * seconds));
  const name = `uac_${tag}`;
  const uacPort = await freePort();
  const drops0 = [udpDrops(proxyPort), udpDrops(uasPort)];
  let uacDrops = 0;
  const args = ['-sf', path.join(BENCH, 'sipp', `sip_uac_${flow}.xml`), `127.0.0.1:${proxyPort}`,
    '-i', '127.0.0.1', '-p', String(uacPort), '-s', 'bench', '-key', 'uas', `${UAS_IP}:${uasPort}`,
    '-buff_size', String(SIPP_BUF),
    '-r', String(rate), '-rp', '1000', '-m', String(count), '-l', String(Math.max(1000, rate * 5)),
    '-recv_timeout', '4000', '-nostdin', '-trace_stat', '-stf', path.join(dir, `${name}.csv`), '-fd', '1',
    '-trace_rtt', '-rtt_freq', String(count), '-timeout', `${Math.ceil(seconds + 30)}s`, '-timeout_error'];
  const proc = track(spawn(SIPP, args, { cwd: dir, stdio: 'ignore' }));
  const duringDone = during ? during(proc) : null;
  let cpu = 0;
  const poll = setInterval(() => {
    const c = cpuSeconds(proc.pid);
    if (Number.isFinite(c)) cpu = c;
    uacDrops = Math.max(uacDrops, udpDrops(uacPort));
  }, 200);
  await new Promise((r) => proc.on('exit', r));
  clearInterval(poll);
  const window = duringDone ? await duringDone : null;
  // the cumulative counters of the statistics file's last line
  const lines = readFileSync(path.join(dir, `${name}.csv`), 'utf8').trim().split('\n');
  const head = lines[0].split(';'), last = lines[lines.length - 1].split(';');
  const col = (k) => Number(last[head.indexOf(k)]);
  const ok = col('SuccessfulCall(C)'), failed = col('FailedCall(C)');
  // the response times: <scenario>_<pid>_rtt.csv, "date_ms;time_ms;rtd_no"
  const rttFile = readdirSync(dir).find((f) => f.startsWith(`sip_uac_${flow}_${proc.pid}_`) && f.endsWith('rtt.csv'));
  const rtt = [];
  if (rttFile) {
    for (const l of readFileSync(path.join(dir, rttFile), 'utf8').split('\n').slice(1)) {
      const f = l.split(';');
      if (f.length >= 3 && f[2].trim() === '1') rtt.push(Number(f[1]));
    }
    rmSync(path.join(dir, rttFile));
  }
  rtt.sort((a, b) => a - b);
  const p99 = rtt.length ? rtt[Math.min(rtt.length - 1, Math.floor(rtt.length * 0.99))] : NaN;
  const drops = { proxy: udpDrops(proxyPort) - drops0[0], uas: udpDrops(uasPort) - drops0[1], uac: uacDrops };
  return { calls: count, ok, failed: count - ok, failed_sipp: failed, p99_ms: p99, cpu_s: cpu, drops, window };
}

// One (mode, flow, proxy) set up: its UAS, the proxy, a warm-up that
// both ends answer.  {r, px, uas, dir, uasPort}.
async function setup(mode, flow, proxyName) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-sip-'));
  const uasPort = await freePort();
  const uas = startUas(flow, uasPort, dir);
  const px = await startProxy(proxyName, mode, dir);
  const s = { r: { mode, flow, proxy: proxyName, ladder: [] }, px, uas, dir, uasPort };
  // a few tries, bounded, before anything is measured
  let warm = null;
  for (let i = 0; i < 5 && !(warm && warm.ok === warm.calls); i++) {
    if (i) await sleep(500);
    warm = await runUac(flow, 100, 1, px.port, uasPort, dir, `warm${i}`);
  }
  if (warm.ok !== warm.calls) {
    await teardown(s);
    throw new Error(`${proxyName} ${mode} ${flow}: the warm-up failed (${warm.ok}/${warm.calls})`);
  }
  return s;
}

async function teardown(s) {
  await s.px.stop();
  await s.uas.stop();
  rmSync(s.dir, { recursive: true, force: true });
}

// CPU in steady state: CPU_WARM_S at the rate first, so what was made is
// being freed as fast as it is made, then the window of CPU_S seconds (the
// proxy's CPU and SIPp's successful calls at both ends).  The proxies'
// runs go at the same time, so both windows see the same machine.
async function cpuPhase(s) {
  const { r, px, uas, dir, uasPort } = s;
  const pids = px.pids();
  const u0 = cpuSeconds(uas.proc.pid);
  const u = await runUac(r.flow, CPU_RATE, CPU_WARM_S + CPU_S + 1, px.port, uasPort, dir, 'cpu', async (proc) => {
    await sleep(CPU_WARM_S * 1000);
    const a = { cpu: cpuOf(px.pids()), uac: cpuSeconds(proc.pid), t: Date.now() };
    await sleep(CPU_S * 1000);
    const b = { cpu: cpuOf(px.pids()), uac: cpuSeconds(proc.pid), t: Date.now() };
    return { cpu_s: b.cpu - a.cpu, uac_s: b.uac - a.uac, wall: (b.t - a.t) / 1000, mem: memOf(px.pids()) };
  });
  const wnd = u.window;
  r.cpu = {
    rate: CPU_RATE, calls: u.calls, ok: u.ok, failed: u.failed, p99_ms: u.p99_ms,
    // SIPp keeps the rate (its statistics file is written once a second,
    // too coarse for the window): calls in the window = rate x its length
    window_calls: CPU_RATE * wnd.wall, us_per_call: (wnd.cpu_s * 1e6) / (CPU_RATE * wnd.wall),
    proxy_pct: (wnd.cpu_s / wnd.wall) * 100,
    uac_pct: (wnd.uac_s / wnd.wall) * 100, uas_pct: ((cpuSeconds(uas.proc.pid) - u0) / (CPU_WARM_S + CPU_S + 1)) * 100,
    nproc: pids.length, drops: u.drops, ...wnd.mem,
  };
  log(`${r.proxy} ${r.mode} ${r.flow} CPU at ${CPU_RATE}/s (steady state): ${f1(r.cpu.us_per_call)} µs per call over ${int(r.cpu.window_calls)} calls, ` +
    `p99 ${f2(u.p99_ms)} ms, ${u.failed} failed of ${u.calls}, RSS ${f1(r.cpu.rss)} MiB, PSS ${f1(r.cpu.pss)} MiB`);
}

// The ladder: each rate of RATES alone on the machine until one fails.
async function ladder(s) {
  const { r, px, dir, uasPort } = s;
  let tag = 0;
  for (const rate of RATES) {
    const u = await runUac(r.flow, rate, STEP_S, px.port, uasPort, dir, `${++tag}`);
    const frac = u.failed / u.calls;
    r.ladder.push({ rate, failed: u.failed, calls: u.calls, p99_ms: u.p99_ms, uac_pct: (u.cpu_s / STEP_S) * 100, drops: u.drops });
    log(`${r.proxy} ${r.mode} ${r.flow} ${rate}/s: ${u.ok}/${u.calls} ok, p99 ${f2(u.p99_ms)} ms, UAC ${int((u.cpu_s / STEP_S) * 100)}% of a core, ` +
      `drops ${JSON.stringify(u.drops)}`);
    if (frac < FAIL_MAX) r.top = rate;
    else break;
  }
}

// One (mode, flow): every proxy set up, their CPU runs side by side, then
// each one's ladder.
async function measure(mode, flow) {
  const sets = [];
  try {
    for (const p of PROXIES) sets.push(await setup(mode, flow, p));
    await Promise.all(sets.map(cpuPhase));
    for (const s of sets) await ladder(s);
  } finally {
    for (const s of sets) await teardown(s);
  }
  return sets.map((s) => s.r);
}

function git(args) { try { return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return '?'; } }
function version(pkg) { try { return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }); } catch { return '?'; } }

function report(cmd, results, startedAt, seconds) {
  const L = [];
  const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench']) !== '';
  const commit = git(['log', '-1', '--format=%h', '--', '.', ':!bench', ':!Makefile']) + (dirty ? ' (with uncommitted changes)' : '');
  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
  L.push(`## ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}: SIP proxy vs Kamailio`, '');
  L.push('```', cmd, '```', '');
  L.push(`Machine: ${os.cpus().length} cores (${cpu ? cpu[1] : '?'}), Linux ${os.release()}, Kamailio ${version('kamailio')}, ` +
    `SIPp ${version('sip-tester')} (Debian). ${WORKERS} workers each (junction sip.workers, Kamailio -n). ` +
    `CPU at ${CPU_RATE}/s over ${CPU_S} s after ${CPU_WARM_S} s at that rate (steady state), the proxies side by side in the same window (each with its own SIPp pair); then the ladder ${RATES.join(', ')} calls/s, ${STEP_S} s a step. ` +
    `Load average after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; run time ${Math.round(seconds)} s. ` +
    'A MESSAGE call is one transaction; a call is INVITE + ACK + BYE.', '');
  L.push('| mode | flow | proxy | top rate < 0.1 % failed | CPU µs per call | junction / Kamailio | p99 ms | failed in the CPU run | RSS MiB | PSS MiB | proxy % core | SIPp UAC / UAS % core |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const k = results.find((x) => x.mode === r.mode && x.flow === r.flow && x.proxy === 'kamailio');
    const ratio = r.proxy === 'junction' && k?.cpu ? r.cpu.us_per_call / k.cpu.us_per_call : NaN;
    const top = r.top ? `${r.top}${r.top === RATES[RATES.length - 1] ? ' (the ladder\'s last)' : ''}` : `< ${RATES[0]}`;
    L.push(`| ${r.mode} | ${r.flow} | ${r.proxy} (${r.cpu.nproc} proc) | ${top} | ${f1(r.cpu.us_per_call)} | ${f2(ratio)} | ` +
      `${f2(r.cpu.p99_ms)} | ${r.cpu.failed} / ${r.cpu.calls} | ${f1(r.cpu.rss)} | ${f1(r.cpu.pss)} | ${int(r.cpu.proxy_pct)} | ` +
      `${int(r.cpu.uac_pct)} / ${int(r.cpu.uas_pct)} |`);
  }
  L.push('');
  for (const r of results) {
    const dr = (d) => `drops proxy ${d.proxy} / UAS ${d.uas} / UAC ${d.uac}`;
    L.push(`- ${r.proxy} ${r.mode} ${r.flow} ladder: ${r.ladder.map((s) => `${s.rate}/s ${s.failed} failed (${dr(s.drops)}) p99 ${f2(s.p99_ms)} ms UAC ${int(s.uac_pct)}%`).join('; ')}; ` +
      `CPU run: ${dr(r.cpu.drops)}`);
  }
  L.push('', 'SIPp runs single-threaded: a UAC near 100 % of a core in a step means the ladder measured SIPp, not the proxy. ' +
    '"drops" are datagrams the kernel dropped at that socket (full receive buffer, /proc/net/udp): at the proxy they are the ' +
    'proxy\'s loss, at SIPp (4 MiB buffers) the load generator\'s. p99 is at SIPp\'s 1 ms resolution ("-": none recorded).', '');
  return L.join('\n');
}

function record(section) {
  log(`recorded in ${path.relative(ROOT, recordSection(BENCH, section))}`);
}

async function main() {
  const startedAt = new Date(), t0 = Date.now();
  for (const bin of [process.env.JUNCTION_BIN, ...(PROXIES.includes('kamailio') ? [KAMAILIO] : [])]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run make bench-sip (it builds and installs first)`);
  }
  const args = process.argv.slice(2).join(' ');
  const cmd = process.env.MAKELEVEL ? `make bench-sip${args ? ` BENCH_ARGS="${args}"` : ''}` : `node bench/run_sip.mjs ${args}`.trim();
  const results = [];
  for (const mode of MODES) {
    for (const flow of FLOWS) {
      results.push(...(await measure(mode, flow)));
    }
  }
  const text = report(cmd, results, startedAt, (Date.now() - t0) / 1000);
  console.log(text);
  if (WRITE) record(text);
}

main().then(() => process.exit(0), (e) => { console.error(e); stopChildren(); process.exit(1); });
