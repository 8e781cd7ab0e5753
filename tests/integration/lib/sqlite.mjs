// The store as another process sees it: a sqlite3 CLI on junction's
// database file, as an operator (or a backup job) would run it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { waitFor } from './junction.mjs';

// Rows of sql on file, read by a connection of its own (WAL: never blocked
// by the writer, nor by a held write lock).
export function sqliteRows(file, sql) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', '-json', file, sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

// A sqlite3 CLI holding the write lock of file (BEGIN IMMEDIATE, the
// transaction kept open) until release() commits it and exits.
export async function holdWriteLock(file) {
  const proc = spawn('sqlite3', [file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const h = { proc, out: '', err: '', exited: null };
  proc.stdout.on('data', (d) => { h.out += d; });
  proc.stderr.on('data', (d) => { h.err += d; });
  proc.on('exit', (code, sig) => { h.exited = { code, sig }; });
  proc.stdin.write('.timeout 5000\nBEGIN IMMEDIATE;\nSELECT \'locked\';\n');
  await waitFor(() => h.out.includes('locked') || h.exited, 10000, 'the lock holder');
  assert.ok(!h.exited, `sqlite3 exited: ${h.err}`);
  h.release = async () => {
    if (h.exited) return h.exited;
    proc.stdin.end('COMMIT;\n.quit\n');
    const t = setTimeout(() => { if (!h.exited) proc.kill('SIGKILL'); }, 5000);
    await waitFor(() => h.exited, 10000, 'the lock holder exit');
    clearTimeout(t);
    return h.exited;
  };
  return h;
}
