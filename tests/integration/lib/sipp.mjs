// SIPp as a real SIP peer for integration tests (Debian package sip-tester).
//
// runSipp() runs a scenario in the foreground to the end and resolves with
// its exit code (0: every call succeeded); startSipp() starts a long-running
// peer (a UAS) and returns a handle whose stop() kills it by PID.  Each run
// logs the SIP messages it sent and received (-trace_msg) into the test's
// folder; receivedMessages() reads them back so a test can assert on what
// the peer really got.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIPP_BIN = process.env.SIPP_BIN || 'sipp';
export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../sipp');

const started = new Set();

function sippArgs(o) {
  const args = ['-sf', path.join(SCENARIO_DIR, o.scenario)];
  if (o.target) args.push(o.target);
  args.push('-i', '127.0.0.1', '-p', String(o.localPort), '-nostdin',
    '-trace_msg', '-message_file', o.messageFile,
    '-trace_err', '-error_file', o.errorFile);
  if (o.calls) args.push('-m', String(o.calls));
  if (o.service) args.push('-s', o.service);
  args.push('-timeout', `${o.timeoutS || 20}s`, '-timeout_error');
  return args.concat(o.args || []);
}

// o: {scenario, dir, name, localPort, target?, calls?, service?, timeoutS?, args?}
function spawnSipp(o) {
  const messageFile = path.join(o.dir, `${o.name}.messages.log`);
  const errorFile = path.join(o.dir, `${o.name}.errors.log`);
  const args = sippArgs({ ...o, messageFile, errorFile });
  const proc = spawn(SIPP_BIN, args, { cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const h = { proc, pid: proc.pid, messageFile, errorFile, output: '', exited: null, args };
  started.add(h);
  proc.stdout.on('data', (d) => { h.output += d; if (h.output.length > 200000) h.output = h.output.slice(-100000); });
  proc.stderr.on('data', (d) => { h.output += d; });
  h.done = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { h.exited = { code, signal }; started.delete(h); resolve(h.exited); });
    proc.on('error', (e) => { h.exited = { code: -1, signal: null, error: e }; started.delete(h); resolve(h.exited); });
  });
  // Kill this SIPp (by its PID) and wait for it; SIGKILL if it lingers.
  h.stop = async () => {
    if (h.exited) return h.exited;
    proc.kill('SIGTERM');
    const t = setTimeout(() => { if (!h.exited) proc.kill('SIGKILL'); }, 3000);
    await h.done;
    clearTimeout(t);
    return h.exited;
  };
  // Text of the error log and the last output, for assertion messages.
  h.explain = () => {
    const err = existsSync(errorFile) ? readFileSync(errorFile, 'utf8') : '';
    return `sipp ${args.join(' ')}\nexit ${JSON.stringify(h.exited)}\n${err}\n${h.output.slice(-2000)}`;
  };
  return h;
}

// Run a scenario to its end (bounded by timeoutS plus a margin); resolves
// with the handle, h.exited.code === 0 when every call succeeded.
export async function runSipp(o) {
  const h = spawnSipp(o);
  const margin = setTimeout(() => h.stop(), ((o.timeoutS || 20) + 10) * 1000);
  await h.done;
  clearTimeout(margin);
  return h;
}

// Start a long-running peer (e.g. a UAS); call h.stop() when done.
export function startSipp(o) {
  return spawnSipp({ timeoutS: 120, ...o });
}

// Kill every SIPp this process started that is still running (test
// teardown safety net; each by its own PID).
export async function stopAllSipp() {
  await Promise.all([...started].map((h) => h.stop()));
}

// The SIP messages a SIPp run logged with the given direction
// ('received' or 'sent'), each as its text.
export function loggedMessages(file, direction = 'received') {
  if (!existsSync(file)) return [];
  const blocks = readFileSync(file, 'utf8').split(/^-{10,} .*$/m);
  const out = [];
  for (const b of blocks) {
    const m = b.match(/^\s*(?:UDP|TCP) message (received|sent)[^\n]*\n\n([\s\S]*)$/);
    if (m && m[1] === direction) out.push(m[2]);
  }
  return out;
}
