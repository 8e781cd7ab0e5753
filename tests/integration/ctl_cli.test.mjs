// junctionctl against a real daemon: both transports (the MI UNIX socket
// and --url), tables and --json, key=value typing, and the exit codes
// (0 result, 1 JSON-RPC error, 2 usage or connection error).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { startJunction, JUNCTIONCTL_BIN } from './lib/junction.mjs';

let j;
let sock;
let url;

before(async () => {
  j = await startJunction();
  sock = j.params['mi.socket'];
  url = `http://127.0.0.1:${j.ports.http}`;
});
after(async () => { if (j) await j.cleanup(); });

// Run junctionctl; resolves to {code, stdout, stderr}.  Killed after 15 s.
function ctl(args, env = {}) {
  return new Promise((resolve) => {
    const e = { ...process.env, JUNCTION_TOKEN: j.token, ...env };
    if (!('JUNCTION_MI_SOCKET' in env)) delete e.JUNCTION_MI_SOCKET;
    execFile(JUNCTIONCTL_BIN, args, { env: e, timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('system version over the socket and over --url', async () => {
  const { version } = await j.mi('system.version');
  for (const transport of [['--socket', sock], ['--url', url]]) {
    const r = await ctl([...transport, 'system', 'version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^version: +${version.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(r.stdout, /^libraries:$/m);
    assert.match(r.stdout, /^ {2}jansson: +\S+/m);
  }
});

test('$JUNCTION_MI_SOCKET is the default transport', async () => {
  const r = await ctl(['--json', 'system.uptime'], { JUNCTION_MI_SOCKET: sock });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(typeof JSON.parse(r.stdout).uptime_s, 'number');
});

test('routes add via the CLI, then list shows it as a table and as --json', async () => {
  let r = await ctl(['--socket', sock, 'routes', 'add', 'name=cli-uk', 'priority=5',
    'dst_prefix=44', 'dst_regex=^44[0-9]+$', 'target=smsc1']);
  assert.equal(r.code, 0, r.stderr);
  const id = Number(r.stdout.match(/^id: +(\d+)$/m)[1]);
  // The daemon stored typed values: priority a number, the prefix (sent by
  // the CLI as the number 44) as the text "44".
  const stored = (await j.mi('routes.list')).find((x) => x.id === id);
  assert.equal(stored.name, 'cli-uk');
  assert.equal(stored.priority, 5);
  assert.equal(stored.dst_prefix, '44');
  assert.equal(stored.dst_regex, '^44[0-9]+$');

  r = await ctl(['--socket', sock, 'routes', 'list']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^ID +NAME +PRIORITY\b.*\bTARGET\b/);
  const row = lines.find((l) => /\bcli-uk\b/.test(l));
  assert.ok(row, r.stdout);
  // Aligned: the NAME column starts at the same offset in header and row.
  assert.equal(row.indexOf('cli-uk'), lines[0].indexOf('NAME'));

  r = await ctl(['--url', url, '--json', 'routes', 'list']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  assert.ok(Array.isArray(list));
  assert.ok(list.some((x) => x.id === id && x.target === 'smsc1'));

  r = await ctl(['--socket', sock, 'call', 'routes.delete', JSON.stringify({ id })]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!(await j.mi('routes.list')).some((x) => x.id === id));
});

test('an empty list prints (none)', async () => {
  const r = await ctl(['--socket', sock, 'messages', 'list', 'status=failed']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '(none)\n');
});

test('JSON-RPC errors exit 1 with the code on stderr', async () => {
  let r = await ctl(['--socket', sock, 'routes', 'delete', 'id=987654']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-32004/);
  assert.equal(r.stdout, '');
  r = await ctl(['--url', url, 'nosuch', 'thing']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-32601.*nosuch\.thing/);
  r = await ctl(['--socket', sock, 'routes', 'add', 'name=bad', 'target=x', 'dst_regex=(']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-32602.*invalid route/);
});

test('usage errors exit 2', async () => {
  let r = await ctl([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /usage/);
  r = await ctl(['--socket', sock, 'routes', 'add', 'no-equals-sign']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /key=value/);
  r = await ctl(['--socket', sock, 'call', 'routes.list', '{not json']);
  assert.equal(r.code, 2);
  r = await ctl(['--socket', sock, '--url', url, 'system', 'version']);
  assert.equal(r.code, 2);
});

test('connection errors exit 2 with a clear message', async () => {
  const missing = path.join(j.dir, 'nothing-here.sock');
  let r = await ctl(['--socket', missing, 'system', 'version']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot connect to .*nothing-here\.sock: No such file or directory .* is junction running\?/);
  r = await ctl(['--url', 'http://10.1.2.3:8080', 'system', 'version']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /loopback/);
  r = await ctl(['--url', `${url}/nope`, 'system', 'version']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /HTTP 404/);
});
