// Every MI method is checked against the caller's role: a table-driven
// walk over system.listMethods with a viewer, an operator and an admin
// token.  A method above the caller's role answers 403 with -32003 and
// runs no handler; one within it never does.  The audit log names who
// changed what, with the object before and after and no secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction } from './lib/junction.mjs';

let j;
const rank = { viewer: 1, operator: 2, admin: 3 };
const tokens = {};

before(async () => {
  j = await startJunction();
  for (const role of Object.keys(rank)) tokens[role] = (await j.mi('tokens.create', { name: `roles-${role}`, role })).token;
});
after(async () => { if (j) await j.cleanup(); });

async function call(role, method, params = {}) {
  const res = await j.httpAnon('/mi', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[role]}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return { status: res.status, body: await res.json() };
}

// Methods whose handler must not run in this walk even when allowed: they
// would end the tokens or the process state the walk relies on.
const SKIP_RUN = new Set(['tokens.delete', 'users.delete', 'system.reload', 'routes.reload']);

test('every method declares a role and is refused below it, for each role', async () => {
  const methods = await j.mi('system.listMethods');
  assert.ok(methods.length > 40, `${methods.length} methods`);
  for (const m of methods) assert.ok(m.role in rank, `${m.name} has role ${m.role}`);
  for (const role of Object.keys(rank)) {
    for (const m of methods) {
      const allowed = rank[role] >= rank[m.role];
      if (allowed && SKIP_RUN.has(m.name)) continue;
      const r = await call(role, m.name, {});
      const code = r.body.error && r.body.error.code;
      if (allowed) {
        assert.notEqual(code, -32003, `${role} may call ${m.name} (needs ${m.role}): ${JSON.stringify(r.body.error)}`);
      } else {
        assert.equal(r.status, 403, `${role} calling ${m.name} (needs ${m.role})`);
        assert.equal(code, -32003, `${role} calling ${m.name}`);
      }
    }
  }
});

test('the roles follow the issue: viewers read, operators run routes, connectors, accounts, messages and trace', async () => {
  const methods = Object.fromEntries((await j.mi('system.listMethods')).map((m) => [m.name, m.role]));
  for (const read of ['routes.list', 'connectors.list', 'stats.get', 'messages.get', 'queues.list', 'params.list'])
    assert.equal(methods[read], 'viewer', read);
  for (const op of ['routes.add', 'connectors.add', 'accounts.add', 'messages.inject', 'trace.start', 'smpp.unbind'])
    assert.equal(methods[op], 'operator', op);
  for (const adm of ['users.add', 'tokens.create', 'params.set', 'audit.list', 'trusted.add', 'system.reload'])
    assert.equal(methods[adm], 'admin', adm);
});

test('a batch refuses per request: the allowed part runs, the rest answers -32003', async () => {
  const res = await j.httpAnon('/mi', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.viewer}` },
    body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'system.version' }, { jsonrpc: '2.0', id: 2, method: 'users.list' }]),
  });
  const [a, b] = await res.json();
  assert.ok(a.result.version);
  assert.equal(b.error.code, -32003);
});

test('the audit log names who changed what, before and after, without secrets', async () => {
  const { id } = (await call('operator', 'routes.add', { name: 'audited', priority: 5, dst_prefix: '49', target: 'x' })).body.result;
  await call('operator', 'routes.update', { id, priority: 6 });
  await j.mi('users.add', { name: 'secretive', role: 'viewer', password: 'do-not-log-me-1' });
  await call('operator', 'connectors.add', { name: 'c1', type: 'smpp', conf: { host: '127.0.0.1', port: 1, system_id: 's', password: 'smpp-secret-1' } });
  const { token } = await j.mi('tokens.create', { name: 'audited-token', role: 'viewer' });
  await call('viewer', 'routes.list');
  for (const read of ['users.list', 'tokens.list', 'audit.list', 'params.diff', 'routes.export']) await j.mi(read);
  const log = await j.mi('audit.list', { limit: 50 });
  assert.deepEqual(log.filter((e) => /\.(list|get|export|test|diff)$/.test(e.method)).map((e) => e.method), [], 'reads are never audited');
  const text = JSON.stringify(log);
  assert.doesNotMatch(text, /do-not-log-me-1/);
  assert.doesNotMatch(text, /smpp-secret-1/);
  assert.ok(!text.includes(token), 'the token text is not in the log');
  const add = log.find((e) => e.method === 'routes.add' && e.params.name === 'audited');
  assert.equal(add.who, 'token:roles-operator');
  assert.equal(add.via, 'http');
  assert.equal(add.before, null);
  assert.equal(add.after.id, id);
  assert.ok(add.ts > Date.now() - 60000);
  const upd = log.find((e) => e.method === 'routes.update');
  assert.equal(upd.before.priority, 5);
  assert.equal(upd.after.priority, 6);
  assert.ok(log.some((e) => e.method === 'users.add' && e.after.name === 'secretive' && e.params.password === '***'));
  assert.ok(!log.some((e) => e.method === 'routes.list'), 'reads are not audited');
  const mine = await j.mi('audit.list', { method: 'routes' });
  assert.ok(mine.length >= 2 && mine.every((e) => e.method.startsWith('routes.')));
  assert.ok(mine[0].id > mine[1].id, 'newest first');
  const older = await j.mi('audit.list', { before: mine[0].id, method: 'routes' });
  assert.equal(older[0].id, mine[1].id);
  const refused = await call('viewer', 'routes.delete', { id });
  assert.equal(refused.status, 403);
  assert.ok(!(await j.mi('audit.list', { method: 'routes.delete' })).length, 'a refused call changes nothing and is not a change');
});

test('a message sent with a token names it: rules match its api_key, the envelope its sender', async () => {
  await j.mi('connectors.add', { name: 'keyed', type: 'sip', conf: { uri: 'sip:127.0.0.1:9' } });
  await j.mi('connectors.add', { name: 'other', type: 'sip', conf: { uri: 'sip:127.0.0.1:9' } });
  await j.mi('routes.add', { name: 'by-key', priority: 1, source: { api_key: ['roles-operator'] },
    filters: { dst: { prefix: ['4477'] } }, action: { route: { targets: ['keyed'] } } });
  await j.mi('routes.add', { name: 'rest', priority: 2, dst_prefix: '4477', target: 'other' });
  const viaOperator = (await call('operator', 'messages.inject', { from: '4915100000001', to: '447700900001', body: 'k' })).body.result;
  assert.equal(viaOperator.target, 'keyed');
  const viaAdmin = (await call('admin', 'messages.inject', { from: '4915100000001', to: '447700900002', body: 'k' })).body.result;
  assert.equal(viaAdmin.target, 'other');
  const m = await j.mi('messages.get', { id: viaOperator.id });
  assert.equal(JSON.stringify(m).includes('mi:token:roles-operator'), true, JSON.stringify(m));
});
