// CPU of a running process, read from /proc: the measurements every bench
// script reports (junction's own threads are named: writer, core, smpp,
// sip-N, work, amqp-*; sip-N are summed as sip).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100; }
  catch { return 100; }
})();

// CPU seconds (utime + stime, every thread) of pid so far; NaN once gone.
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return NaN; }
}

// CPU seconds per thread name of pid so far (names ending in -N summed).
export function threadCpu(pid) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/-\d+$/, '');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[name] = (out[name] || 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK;
      } catch { /* the thread ended */ }
    }
  } catch { /* gone */ }
  return out;
}

// The children a bench script starts (track each), killed when it ends
// badly: past limitS seconds (then onLimit, else exit 1), on SIGINT or
// SIGTERM, or by the script itself (stopChildren).  tag names the script
// in the message.
export function runGuard(tag, limitS, onLimit) {
  const children = new Set();
  const track = (proc) => {
    children.add(proc);
    proc.on('exit', () => children.delete(proc));
    return proc;
  };
  const stopChildren = () => {
    for (const p of children) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  };
  setTimeout(() => {
    console.error(`${tag}: over ${limitS} s, stopping`);
    stopChildren();
    if (onLimit) onLimit(); else process.exit(1);
  }, limitS * 1000).unref();
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopChildren(); process.exit(1); });
  return { track, stopChildren };
}
