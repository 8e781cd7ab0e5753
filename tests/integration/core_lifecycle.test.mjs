// The daemon's life cycle: embedded defaults, configuration errors, SIGHUP
// reload, graceful SIGTERM, and state kept across a restart (routes,
// connectors and a queued message that is delivered after the restart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startJunction, waitFor, JUNCTION_BIN, JUNCTIONCTL_BIN } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

test('a bad configuration value stops the start with file:line and the reason', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-cfg-'));
  const file = path.join(dir, 'junction.cfg');
  writeFileSync(file, '# test\nsip: {\n  port = 70000;\n};\n');
  const r = spawnSync(JUNCTION_BIN, ['-c', file], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: sip\\.port: 70000 is out of range`));
  const r2 = spawnSync(JUNCTION_BIN, ['-o', 'no.such=1'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /unknown parameter no\.such/);
  rmSync(dir, { recursive: true, force: true });
});

test('an included file is read relative to the including one', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-cfg-'));
  writeFileSync(path.join(dir, 'main.cfg'), '@include "sip.cfg"\n');
  writeFileSync(path.join(dir, 'sip.cfg'), 'sip: { workers = 3; };\n');
  const r = spawnSync(JUNCTION_BIN, ['-c', path.join(dir, 'main.cfg'), '-l'], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^sip\.workers\s+3\s/m);
  rmSync(dir, { recursive: true, force: true });
});

test('on the embedded defaults it serves the page and answers junctionctl', async () => {
  // `make run` starts this (and its HTTPS flags): no file, state under ./var.
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-defaults-'));
  const proc = spawn(JUNCTION_BIN, [], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  try {
    // the summary's last line; log lines on stderr also say "listening on"
    await waitFor(() => /^\s+database\s+\S+/m.test(out), 15000, 'the startup summary');
    assert.match(out, /first start: created web UI \/ MI user "admin"; its password is in var\/admin-password \(mode 0600\)/);
    const secret = path.join(dir, 'var', 'admin-password');
    assert.equal(statSync(secret).mode & 0o777, 0o600, 'readable by its owner only');
    const pass = readFileSync(secret, 'utf8');
    assert.match(pass, /^[0-9a-f]{24}\n$/);
    assert.ok(!out.includes(pass.trim()), 'the password itself is not printed');
    assert.match(out, /SIP \(UDP and TCP\)\s+127\.0\.0\.1:5060/);
    assert.match(out, /SMPP server\s+127\.0\.0\.1:2775/);
    assert.match(out, /http:\/\/127\.0\.0\.1:8080/);
    assert.ok(existsSync(path.join(dir, 'var', 'junction.db')));
    const page = await fetch('http://127.0.0.1:8080/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>[^<]*[Jj]unction/);
    const r = spawnSync(JUNCTIONCTL_BIN, ['system', 'version'], { cwd: dir, encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /version:\s+\d+\.\d+\.\d+/);
  } finally {
    proc.kill('SIGTERM');
    await waitFor(() => proc.exitCode !== null, 15000, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(proc.exitCode, 0);
});

test('SIGHUP applies a route written straight into the database', async () => {
  const j = await startJunction();
  try {
    assert.equal((await j.mi('routes.test', { to: '4712345' })).matched, false);
    const body = JSON.stringify({ id: 7, name: 'from-sql', priority: 5, filters: { dst: { prefix: '47' } },
      action: { route: { targets: ['nowhere'] } } });
    const sql = "INSERT INTO rules(id, name, priority, enabled, body, created_at, updated_at) " +
      `VALUES (7, 'from-sql', 5, 1, '${body}', 0, 0);`;
    const r = spawnSync('sqlite3', [j.params['db.path'], sql], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await j.mi('routes.test', { to: '4712345' })).matched, false, 'not before SIGHUP');
    j.proc.kill('SIGHUP');
    const m = await waitFor(async () => {
      const t = await j.mi('routes.test', { to: '4712345' });
      return t.matched ? t : null;
    }, 5000, 'route after SIGHUP');
    assert.equal(m.route, 'from-sql');
    assert.equal(m.target, 'nowhere');
  } finally {
    await j.cleanup();
  }
});

test('SIGTERM stops cleanly and a restart keeps routes, connectors and queued messages', async () => {
  const smsc = await startSmsc();
  await smsc.stop(); // the SMSC is away while the message is accepted
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  try {
    await j.mi('connectors.add', {
      name: 'smsc1', type: 'smpp',
      conf: { host: '127.0.0.1', port: smsc.port, system_id: 'j', password: 'pw' },
    });
    await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'smsc1' });
    const { id } = await j.mi('messages.inject', { from: '4930111', to: '447700900999', body: 'kept across restarts' });
    assert.equal((await j.mi('messages.get', { id })).status, 'queued');
    const exit = await j.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, sig: null }, j.log);
    assert.match(j.log, /SIGTERM: shutting down/);
    assert.match(j.log, /\[main\] stopped/);
    assert.ok(!existsSync(j.params['mi.socket']), 'the MI socket is removed');
    assert.equal(smsc.submits.length, 0);

    await smsc.start(); // the SMSC is back, junction restarts on the same database
    j.start();
    await j.ready();
    assert.deepEqual((await j.mi('routes.list')).map((r) => r.name), ['uk']);
    // the table's connectors; sip:reply and http:callback are the SIP and HTTP adapters' implicit ones
    assert.deepEqual((await j.mi('connectors.list')).map((c) => c.name)
      .filter((n) => n !== 'sip:reply' && n !== 'http:callback'), ['smsc1']);
    await waitBound(j, 'smsc1');
    await waitFor(() => smsc.submits.length === 1, 15000, 'the queued message at the SMSC');
    assert.equal(smsc.submits[0].short_message.message, 'kept across restarts');
    await waitFor(async () => (await j.mi('messages.get', { id })).status === 'submitted', 5000, 'submitted');
  } finally {
    await j.cleanup();
    await smsc.stop();
  }
});
