// SMPP management: accounts.get / accounts.update, smpp.sessions and
// smpp.binds, seen through the MI while real npm smpp customers bind to
// junction's SMSC port and junction binds to a fake operator SMSC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor, miError } from './lib/junction.mjs';
import { startSmsc, bindCustomer, submit, rawConnect, connectorState, waitBound } from './lib/smsc.mjs';

const ESME_RBINDFAIL = 0x0d;
const ESME_RTHROTTLED = 0x58;
const MI_NOT_FOUND = -32004;
const MI_INVALID_PARAMS = -32602;

// Two submit_sm at once: their statuses.  With no route the one that
// passes the rate gets ESME_RINVDSTADR; one over it ESME_RTHROTTLED.
const twoSubmits = async (session) => {
  const fields = { source_addr: '100', destination_addr: '4915112345678', short_message: 'hi' };
  const rs = await Promise.all([submit(session, fields), submit(session, fields)]);
  return rs.map((r) => r.command_status);
};

test('accounts.get shows the row; accounts.update changes only the given fields and checks them', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'old', allowed_nets: '127.0.0.0/8', throughput: 5 });
  const before = await j.mi('accounts.get', { system_id: 'acme' });
  assert.deepEqual((await j.mi('accounts.list')).find((a) => a.system_id === 'acme'), before,
    'accounts.get returns the row as accounts.list lists it');
  assert.equal(before.password_hash, undefined, 'no hash');

  const after = await j.mi('accounts.update', { system_id: 'acme', throughput: 9 });
  assert.deepEqual(after, { ...before, throughput: 9 }, 'the result is the new row; nothing else moved');
  assert.equal((await j.mi('accounts.get', { system_id: 'acme' })).throughput, 9);

  assert.equal(await miError(j, 'accounts.update', { system_id: 'nobody', throughput: 1 }), MI_NOT_FOUND);
  assert.equal(await miError(j, 'accounts.get', { system_id: 'nobody' }), MI_NOT_FOUND);
  assert.equal(await miError(j, 'accounts.update', {}), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'accounts.update', { system_id: 'acme', throughput: -1 }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'accounts.update', { system_id: 'acme', password: '123456789' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'accounts.update', { system_id: 'acme', password: '' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'accounts.update', { system_id: 'acme', enabled: 'no' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'accounts.update', { system_id: 'acme', allowed_nets: '10.0.0.0/33' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'accounts.add', { system_id: 'bad', password: 'pw', allowed_nets: '127.0.0.1, nonsense' }),
    MI_INVALID_PARAMS, 'a bad network is refused, naming it');
  assert.equal(await miError(j, 'accounts.get', { system_id: 'bad' }), MI_NOT_FOUND, 'nothing stored');
  assert.deepEqual(await j.mi('accounts.get', { system_id: 'acme' }), after, 'refused updates changed nothing');
  await j.mi('accounts.add', { system_id: 'six', password: 'pw', allowed_nets: '::1, 127.0.0.0/8' });
  const six = await bindCustomer(j.ports.smpp, 'six', 'pw');
  assert.equal(six.resp.command_status, 0, 'an IPv4 peer inside a mixed IPv4 / IPv6 list binds');
  six.session.destroy();
  const methods = JSON.stringify(await j.mi('system.listMethods'));
  assert.match(methods, /accounts\.update/);
  assert.match(methods, /system_id, password\?, allowed_nets\?, throughput\?, enabled\?/);
});

test('a new password binds and the old one no longer does; bound sessions are left alone', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'old' });
  const kept = await bindCustomer(j.ports.smpp, 'acme', 'old');
  assert.equal(kept.resp.command_status, 0);
  t.after(() => kept.session.destroy());

  await j.mi('accounts.update', { system_id: 'acme', password: 'new' });
  const stale = await bindCustomer(j.ports.smpp, 'acme', 'old');
  assert.equal(stale.resp.command_status, ESME_RBINDFAIL, 'the old password is refused');
  stale.session.destroy();
  const fresh = await bindCustomer(j.ports.smpp, 'acme', 'new');
  assert.equal(fresh.resp.command_status, 0, 'the new password binds');
  fresh.session.close();
  const sessions = await j.mi('smpp.sessions');
  assert.ok(sessions.some((s) => s.system_id === 'acme'), 'the session bound before the change stays');
  assert.equal(kept.session.unbound, false);
});

test('a throughput change applies from the next bind', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'slow', password: 'pw', throughput: 1 });
  const a = await bindCustomer(j.ports.smpp, 'slow', 'pw');
  assert.equal(a.resp.command_status, 0);
  t.after(() => a.session.destroy());
  assert.ok((await twoSubmits(a.session)).includes(ESME_RTHROTTLED), '1/s: the second is throttled');

  await j.mi('accounts.update', { system_id: 'slow', throughput: 1000 });
  const b = await bindCustomer(j.ports.smpp, 'slow', 'pw');
  assert.equal(b.resp.command_status, 0);
  t.after(() => b.session.destroy());
  assert.ok(!(await twoSubmits(b.session)).includes(ESME_RTHROTTLED), 'the new rate after a bind');
  assert.ok(!(await twoSubmits(a.session)).includes(ESME_RTHROTTLED), 'shared by the account\'s sessions');
});

test('enabled=false disables account:<id>, unbinds its sessions and refuses binds; true brings it back', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  const c = await bindCustomer(j.ports.smpp, 'acme', 'pw');
  assert.equal(c.resp.command_status, 0);
  t.after(() => c.session.destroy());
  await waitBound(j, 'account:acme');

  const row = await j.mi('accounts.update', { system_id: 'acme', enabled: false });
  assert.equal(row.enabled, false);
  assert.equal(await connectorState(j, 'account:acme'), 'disabled');
  await waitFor(() => c.session.unbound, 10000, 'the bound customer unbound');
  await waitFor(async () => !(await j.mi('smpp.sessions')).some((s) => s.system_id === 'acme'),
    10000, 'its session gone');
  const refused = await bindCustomer(j.ports.smpp, 'acme', 'pw');
  assert.equal(refused.resp.command_status, ESME_RBINDFAIL);
  refused.session.destroy();

  await j.mi('accounts.update', { system_id: 'acme', enabled: true });
  assert.equal(await connectorState(j, 'account:acme'), 'unbound');
  const back = await bindCustomer(j.ports.smpp, 'acme', 'pw');
  assert.equal(back.resp.command_status, 0);
  t.after(() => back.session.destroy());
  await waitBound(j, 'account:acme');
});

test('smpp.sessions lists a bound transceiver with its system_id and an unbound connection with null', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  const t0 = Date.now();
  const c = await bindCustomer(j.ports.smpp, 'acme', 'pw');
  assert.equal(c.resp.command_status, 0);
  t.after(() => c.session.destroy());
  const raw = await rawConnect(j.ports.smpp);
  t.after(() => raw.sock.destroy());
  const rx = await bindCustomer(j.ports.smpp, 'acme', 'pw', 10000, 'receiver');
  t.after(() => rx.session.destroy());

  const sessions = await waitFor(async () => {
    const s = await j.mi('smpp.sessions');
    return s.length === 3 ? s : null;
  }, 10000, 'three sessions');
  const bound = sessions.filter((s) => s.system_id === 'acme');
  assert.deepEqual(bound.map((s) => s.bound_as).sort(), ['receiver', 'transceiver']);
  const trx = bound.find((s) => s.bound_as === 'transceiver');
  assert.match(trx.peer, /^127\.0\.0\.1:\d+$/);
  assert.ok(trx.since >= t0 - 1000 && trx.since <= Date.now(), 'since: the bind, ms epoch');
  assert.equal(trx.inflight, 0);
  assert.equal(trx.pending_in, 0);
  assert.ok(trx.rx >= 1 && trx.tx >= 1, 'the bind and its answer counted');
  const unbound = sessions.find((s) => s.system_id === null);
  assert.ok(unbound, 'the raw connection is listed unbound');
  assert.equal(unbound.bound_as, null);
  assert.equal(unbound.rx, 0);

  raw.sock.destroy();
  await waitFor(async () => (await j.mi('smpp.sessions')).length === 2, 10000, 'the raw one gone');
});

test('smpp.binds lists a client connector bound to an SMSC and the account connectors', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('connectors.add', {
    name: 'op1', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx-op1', password: 'secret' },
  });
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  await waitBound(j, 'op1');
  const c = await bindCustomer(j.ports.smpp, 'acme', 'pw');
  t.after(() => c.session.destroy());
  await waitBound(j, 'account:acme');

  const binds = await j.mi('smpp.binds');
  const op = binds.find((b) => b.connector === 'op1');
  assert.deepEqual(op, {
    connector: 'op1', role: 'client', state: 'bound', peer: `127.0.0.1:${smsc.port}`,
    system_id: 'jx-op1', window: 10, inflight: 0, pending: 0,
    binds: [{ bind: 0, type: 'transceiver', outbind: false, state: 'bound', inflight: 0, submitted: 0,
      received: 0, binds: 1, refused: 0, lost: 0, alerts: 0, next_attempt_ms: null }],
  });
  const acct = binds.find((b) => b.connector === 'account:acme');
  assert.equal(acct.role, 'account');
  assert.equal(acct.state, 'bound');
  assert.equal(acct.system_id, 'acme');
  assert.equal(acct.binds, 1);
  assert.equal(acct.peer, null);
  assert.equal(acct.inflight, 0);

  await j.mi('accounts.update', { system_id: 'acme', enabled: false });
  const off = (await j.mi('smpp.binds')).find((b) => b.connector === 'account:acme');
  assert.equal(off.state, 'disabled');
  assert.equal(off.system_id, 'acme');
});
