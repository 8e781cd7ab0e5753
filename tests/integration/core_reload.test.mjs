// system.reload and SIGHUP take what an operator changed in the database:
// parameters (all validated first: one bad value applies none) and users'
// roles (live sessions follow; a deleted user is logged out).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor } from './lib/junction.mjs';

let j;

before(async () => { j = await startJunction(); });
after(async () => { if (j) await j.cleanup(); });

function sql(text) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', j.params['db.path'], text], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const param = async (name) => (await j.mi('params.list')).find((p) => p.name === name).value;

async function login(user, password) {
  const res = await j.httpAnon('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  return { cookie: (res.headers.get('set-cookie') || '').split(';')[0], ...(await res.json()) };
}

async function miSession(s, method, params = {}) {
  const res = await j.httpAnon('/mi', {
    method: 'POST', headers: { 'content-type': 'application/json', cookie: s.cookie, 'x-csrf-token': s.csrf },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return { status: res.status, body: await res.json() };
}

test('SIGHUP applies a runtime parameter changed in the database, with its hook', async () => {
  assert.equal(await param('http.max_body'), '1048576');
  sql("INSERT OR REPLACE INTO params(name, value, updated_at) VALUES('http.max_body', '2048', 0), ('log.level', 'info', 0)");
  j.proc.kill('SIGHUP');
  await waitFor(async () => (await param('http.max_body')) === '2048', 10000, 'the reloaded http.max_body');
  assert.equal(await param('log.level'), 'info');
  const r = await j.miRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'system.version', params: { pad: 'x'.repeat(3000) } }));
  assert.equal(r.status, 413, 'the new limit is in force');
});

test('one invalid stored parameter applies none, and system.reload says which', async () => {
  sql("INSERT OR REPLACE INTO params(name, value, updated_at) VALUES('http.max_body', '4096', 0), ('auth.session_idle_s', 'soon', 0)");
  const e = await j.mi('system.reload').catch((x) => x);
  assert.equal(e.rpc.code, -32602);
  assert.equal(e.rpc.data[0].name, 'auth.session_idle_s');
  assert.match(e.rpc.data[0].text, /expected an integer/);
  assert.equal(await param('http.max_body'), '2048', 'the valid one was not applied either');
  sql("DELETE FROM params WHERE name = 'auth.session_idle_s'");
  const ok = await j.mi('system.reload');
  assert.deepEqual(ok.params.applied, ['http.max_body']);
  assert.equal(await param('http.max_body'), '4096');
});

test('a role changed in the database reaches live sessions at reload; a deleted user is logged out', async () => {
  await j.addUser('rita', 'operator', 'rita-password-1');
  await j.addUser('gone', 'viewer', 'gone-password-1');
  const rita = await login('rita', 'rita-password-1');
  const gone = await login('gone', 'gone-password-1');
  assert.equal((await miSession(rita, 'routes.add', { name: 'r1', dst_prefix: '1', target: 'x' })).status, 200);
  sql("UPDATE users SET role = 'viewer' WHERE name = 'rita'; DELETE FROM users WHERE name = 'gone'");
  assert.equal((await miSession(gone, 'routes.list')).status, 200, 'before the reload the session lives');
  const res = await j.mi('system.reload');
  assert.equal(res.sessions_ended, 1);
  const r = await miSession(rita, 'routes.add', { name: 'r2', dst_prefix: '2', target: 'x' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, -32003);
  assert.equal((await miSession(gone, 'routes.list')).status, 401);
});
