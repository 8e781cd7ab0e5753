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
