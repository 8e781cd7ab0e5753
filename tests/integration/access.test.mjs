// Access control: nothing without credentials, logins with backoff,
// sessions with CSRF tokens, API tokens with roles and expiry, the first
// login's forced password change, the socket's peer credentials and
// junctionctl users.  Every refusal leaves the configuration unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startJunction, waitFor, JUNCTIONCTL_BIN } from './lib/junction.mjs';

let j;

before(async () => { j = await startJunction(); });
after(async () => { if (j) await j.cleanup(); });

const rpcBody = (method, params = {}) => JSON.stringify({ jsonrpc: '2.0', id: 7, method, params });

// POST /mi with exactly these headers (no token of the test library).
async function miAs(headers, method, params = {}) {
  const res = await j.httpAnon('/mi', {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: rpcBody(method, params),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function login(user, password, headers = {}) {
  const res = await j.httpAnon('/login', {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ user, password }),
  });
  const body = await res.json().catch(() => null);
  const cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  return { status: res.status, body, cookie, setCookie: res.headers.get('set-cookie'), retryAfter: res.headers.get('retry-after') };
}

const session = (s) => ({ cookie: s.cookie, 'x-csrf-token': s.body.csrf });

async function tokenFor(role, extra = {}) {
  return (await j.mi('tokens.create', { name: `t-${role}-${Math.random().toString(36).slice(2, 8)}`, role, ...extra })).token;
}

test('without credentials the MI answers 401 with a JSON-RPC error and changes nothing', async () => {
  const routes = await j.mi('routes.list');
  let r = await miAs({}, 'routes.add', { name: 'x', dst_prefix: '44', target: 'smsc1' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, -32001);
  assert.match(r.body.error.message, /authentication required/);
  r = await miAs({ authorization: 'Bearer jt_not-a-real-token' }, 'routes.list');
  assert.equal(r.status, 401);
  r = await miAs({ authorization: 'Basic YWRtaW46YWRtaW4=' }, 'routes.list');
  assert.equal(r.status, 401);
  assert.deepEqual(await j.mi('routes.list'), routes);
  const m = await j.httpAnon('/metrics');
  assert.equal(m.status, 401);
  assert.match(m.headers.get('www-authenticate'), /Bearer/);
});

test('the first-start admin logs in with the password file and must change it before anything else', async () => {
  const pw = readFileSync(path.join(j.dir, 'admin-password'), 'utf8').trim();
  const s = await login('admin', pw);
  assert.equal(s.status, 200);
  assert.equal(s.body.user, 'admin');
  assert.equal(s.body.role, 'admin');
  assert.equal(s.body.must_change, true);
  assert.match(s.setCookie, /HttpOnly/);
  assert.match(s.setCookie, /SameSite=Strict/);
  assert.match(s.setCookie, /Path=\//);
  assert.match(s.setCookie, /Max-Age=\d+/);
  let r = await miAs(session(s), 'routes.list');
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, -32003);
  assert.match(r.body.error.message, /password change required/);
  r = await miAs(session(s), 'users.passwd', { old_password: 'wrong-old-password', password: 'a-new-long-password' });
  assert.equal(r.body.error.code, -32003, 'a wrong old password');
  r = await miAs(session(s), 'users.passwd', { old_password: pw, password: 'short' });
  assert.equal(r.body.error.code, -32602, 'too short');
  r = await miAs(session(s), 'users.passwd', { old_password: pw, password: 'a-new-long-password' });
  assert.equal(r.body.result.must_change, false);
  r = await miAs(session(s), 'routes.list');
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body.result));
  const again = await login('admin', pw);
  assert.equal(again.status, 401, 'the old password no longer works');
  const fresh = await login('admin', 'a-new-long-password');
  assert.equal(fresh.body.must_change, false);
  const who = await fetch(`http://127.0.0.1:${j.ports.http}/session`, { headers: { cookie: fresh.cookie } });
  assert.equal((await who.json()).user, 'admin');
});

test('a session needs its CSRF token; a foreign Origin is refused; logout ends it', async () => {
  await j.addUser('olga', 'operator', 'olga-password-1');
  const s = await login('olga', 'olga-password-1');
  assert.equal(s.status, 200);
  const routes = await j.mi('routes.list');
  let r = await miAs({ cookie: s.cookie }, 'routes.add', { name: 'csrf', dst_prefix: '1', target: 'x' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, -32003);
  assert.match(r.body.error.message, /CSRF/);
  r = await miAs({ cookie: s.cookie, 'x-csrf-token': '0'.repeat(32) }, 'routes.add', { name: 'csrf', dst_prefix: '1', target: 'x' });
  assert.equal(r.status, 403);
  r = await miAs({ ...session(s), origin: 'http://evil.example' }, 'routes.add', { name: 'csrf', dst_prefix: '1', target: 'x' });
  assert.equal(r.status, 403);
  assert.deepEqual(await j.mi('routes.list'), routes, 'nothing was added');
  const cross = await login('olga', 'olga-password-1', { origin: 'http://evil.example' });
  assert.equal(cross.status, 403, 'a cross-site login post');
  const form = await j.httpAnon('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'user=olga&password=olga-password-1' });
  assert.equal(form.status, 415, 'a cross-site form post');
  r = await miAs(session(s), 'routes.list');
  assert.equal(r.status, 200);
  const out = await j.httpAnon('/logout', { method: 'POST', headers: { 'content-type': 'application/json', cookie: s.cookie }, body: '{}' });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  r = await miAs(session(s), 'routes.list');
  assert.equal(r.status, 401);
});

test('wrong passwords back off per user and per address, observably, even for the right password', async () => {
  await j.addUser('bruno', 'viewer', 'bruno-password-1');
  for (let i = 0; i < 3; i++) {
    const r = await login('bruno', `wrong-${i}`);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'wrong user name or password');
  }
  const locked = await login('bruno', 'bruno-password-1');
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.retryAfter) >= 1);
  const other = await login('nosuchuser', 'whatever-it-is');
  assert.equal(other.status, 429, 'the same address is backing off too');
  const ok = await waitFor(async () => { const r = await login('bruno', 'bruno-password-1'); return r.status === 200 && r; }, 10000, 'the backoff to end');
  assert.equal(ok.body.role, 'viewer');
  assert.match(j.log, /login of 'bruno' from 127\.0\.0\.1 refused: backoff/);
});

test('an unknown user and a wrong password get the same answer', async () => {
  await j.mi('params.set', { name: 'auth.login_free_failures', value: '100' });
  const a = await login('ghost-user', 'some-password-1');
  const b = await login('olga', 'some-password-1');
  assert.equal(a.status, 401);
  assert.deepEqual(a.body, b.body);
  await j.mi('params.set', { name: 'auth.login_free_failures', value: '3' });
});

test('an idle session expires', async () => {
  await j.mi('params.set', { name: 'auth.session_idle_s', value: '5' });
  const s = await login('olga', 'olga-password-1');
  assert.equal(s.status, 200);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${j.ports.http}/session`, { headers: { cookie: s.cookie } })).status === 401, 15000, 'the session to expire');
  const r = await miAs(session(s), 'routes.list');
  assert.equal(r.status, 401);
  assert.match(r.body.error.message, /expired/);
  await j.mi('params.set', { name: 'auth.session_idle_s', value: '1800' });
});

test('a session in use still ends auth.session_max_s after its login', async () => {
  await j.mi('params.set', { name: 'auth.session_max_s', value: '5' });
  const s = await login('olga', 'olga-password-1');
  assert.equal(s.status, 200);
  assert.match(s.setCookie, /Max-Age=5/);
  const t0 = Date.now();
  // used all the time (waitFor asks every 50 ms): only the absolute expiry can end it
  await waitFor(async () => (await miAs(session(s), 'system.version')).status === 401, 15000, 'the absolute expiry');
  assert.ok(Date.now() - t0 >= 4000, `it lived its 5 s: ${Date.now() - t0} ms`);
  await j.mi('params.set', { name: 'auth.session_max_s', value: '43200' });
});

test('tokens carry a role: a viewer reads, an operator changes routes, neither manages users', async () => {
  const viewer = await tokenFor('viewer');
  const operator = await tokenFor('operator');
  const routes = await j.mi('routes.list');
  let r = await miAs({ authorization: `Bearer ${viewer}` }, 'routes.list');
  assert.equal(r.status, 200);
  r = await miAs({ authorization: `Bearer ${viewer}` }, 'routes.add', { name: 'v', dst_prefix: '9', target: 'x' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, -32003);
  assert.match(r.body.error.message, /routes\.add needs the operator role/);
  assert.deepEqual(await j.mi('routes.list'), routes);
  r = await miAs({ authorization: `Bearer ${operator}` }, 'routes.add', { name: 'op', dst_prefix: '9', target: 'x' });
  assert.equal(r.status, 200);
  const id = r.body.result.id;
  for (const [method, params] of [['users.add', { name: 'eve', role: 'admin', password: 'eve-password-1' }],
    ['params.set', { name: 'log.level', value: 'error' }], ['tokens.create', { name: 'mine', role: 'admin' }]]) {
    r = await miAs({ authorization: `Bearer ${operator}` }, method, params);
    assert.equal(r.status, 403, method);
  }
  assert.ok(!(await j.mi('users.list')).some((u) => u.name === 'eve'));
  assert.equal((await j.mi('params.list')).find((p) => p.name === 'log.level').value, 'debug');
  const m = await j.httpAnon('/metrics', { headers: { authorization: `Bearer ${viewer}` } });
  assert.equal(m.status, 200, 'a viewer may scrape /metrics');
  await j.mi('routes.delete', { id });
});

test('an expired or revoked token is refused', async () => {
  const t = await tokenFor('viewer', { expires_s: 2 });
  let r = await miAs({ authorization: `Bearer ${t}` }, 'system.version');
  assert.equal(r.status, 200);
  await waitFor(async () => (await miAs({ authorization: `Bearer ${t}` }, 'system.version')).status === 401, 10000, 'the token to expire');
  const name = 'revoke-me';
  const { token } = await j.mi('tokens.create', { name, role: 'viewer' });
  r = await miAs({ authorization: `Bearer ${token}` }, 'system.version');
  assert.equal(r.status, 200);
  const listed = (await j.mi('tokens.list')).find((x) => x.name === name);
  assert.equal(listed.role, 'viewer');
  assert.equal(listed.token, undefined, 'the token text is never listed');
  await j.mi('tokens.delete', { name });
  r = await miAs({ authorization: `Bearer ${token}` }, 'system.version');
  assert.equal(r.status, 401);
});

test('a deleted user is logged out; the last admin cannot be deleted or demoted', async () => {
  await j.addUser('temp', 'operator', 'temp-password-1');
  const s = await login('temp', 'temp-password-1');
  assert.equal((await miAs(session(s), 'routes.list')).status, 200);
  await j.mi('users.delete', { name: 'temp' });
  assert.equal((await miAs(session(s), 'routes.list')).status, 401);
  let e = await j.mi('users.delete', { name: 'admin' }).catch((x) => x);
  assert.equal(e.rpc.code, -32009);
  e = await j.mi('users.set_role', { name: 'admin', role: 'viewer' }).catch((x) => x);
  assert.equal(e.rpc.code, -32009);
  assert.equal((await j.mi('users.list')).find((u) => u.name === 'admin').role, 'admin');
});

test('junctionctl users add reads the password from stdin; users passwd changes it', () => {
  const sock = j.params['mi.socket'];
  let r = spawnSync(JUNCTIONCTL_BIN, ['--socket', sock, 'users', 'add', 'carla', 'operator'], { input: 'carla-password-1\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /carla-password-1/);
  r = spawnSync(JUNCTIONCTL_BIN, ['--socket', sock, 'users', 'passwd', 'carla'], { input: 'carla-password-2\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  r = spawnSync(JUNCTIONCTL_BIN, ['--socket', sock, 'users', 'add', 'dora'], { input: 'x\n', encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /users add NAME ROLE/);
});

test('a password set by an admin must be changed at the next login', async () => {
  const s = await login('carla', 'carla-password-2');
  assert.equal(s.status, 200);
  assert.equal(s.body.must_change, true);
  assert.equal(s.body.role, 'operator');
});

test('the MI socket refuses a client of another uid by its peer credentials', async (t) => {
  const sock = j.params['mi.socket'];
  if (process.getuid() !== 0) { t.skip('needs root to connect as another uid'); return; }
  chmodSync(sock, 0o666);
  chmodSync(path.dirname(sock), 0o755);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e',
    // it only reads: the refusal comes at accept, before any request
    `const c=require('net').connect(${JSON.stringify(sock)});let b='';c.on('error',()=>{});c.on('data',d=>b+=d);c.on('close',()=>{process.stdout.write(b)});`],
  { encoding: 'utf8', timeout: 10000 });
  chmodSync(sock, 0o600);
  assert.match(r.stdout, /"code":-32003/, r.stderr);
  assert.doesNotMatch(r.stdout, /"result"/);
  await waitFor(() => /socket client uid 65534 .* refused/.test(j.log), 5000, 'the refusal in the log');
});
