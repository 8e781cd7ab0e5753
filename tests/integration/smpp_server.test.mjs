// Junction's own SMSC port: bind authentication, garbage on the wire, and
// no-route answers, seen from a customer (npm smpp) and a raw TCP socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor, sleep } from './lib/junction.mjs';
import { bindCustomer, submit, rawConnect, parseHeaders } from './lib/smsc.mjs';

const GENERIC_NACK = 0x80000000;

function header(length, commandId, seq) {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(length, 0);
  b.writeUInt32BE(commandId, 4);
  b.writeUInt32BE(0, 8);
  b.writeUInt32BE(seq, 12);
  return b;
}

const ESME_RBINDFAIL = 0x0d;

test('a wrong password and an unknown system_id get the same ESME_RBINDFAIL, the right one binds', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const listed = await j.mi('accounts.list');
  assert.ok(listed.some((a) => a.system_id === 'acme'));

  const bad = await bindCustomer(j.ports.smpp, 'acme', 'wrong');
  assert.equal(bad.resp.command_status, ESME_RBINDFAIL, 'wrong password');
  bad.session.destroy();
  const unknown = await bindCustomer(j.ports.smpp, 'nobody', 'x');
  assert.equal(unknown.resp.command_status, ESME_RBINDFAIL, 'unknown system_id: the same answer');
  unknown.session.destroy();
  const good = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(good.resp.command_status, 0);
  good.session.close();

  await j.mi('accounts.delete', { system_id: 'acme' });
  const gone = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(gone.resp.command_status, ESME_RBINDFAIL, 'a deleted account cannot bind');
  gone.session.destroy();
});

test('a peer outside allowed_nets and a disabled account are refused like a wrong password', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'far', password: 'right', allowed_nets: '10.0.0.0/8' });
  await j.mi('accounts.add', { system_id: 'near', password: 'right', allowed_nets: '10.0.0.0/8,127.0.0.0/8' });
  await j.mi('accounts.add', { system_id: 'off', password: 'right' });
  const r = spawnSync('sqlite3', [j.params['db.path'], "UPDATE accounts SET enabled = 0 WHERE system_id = 'off';"],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await j.mi('accounts.list')).find((a) => a.system_id === 'off').enabled, false);

  const far = await bindCustomer(j.ports.smpp, 'far', 'right');
  assert.equal(far.resp.command_status, ESME_RBINDFAIL, 'loopback is outside 10.0.0.0/8');
  far.session.destroy();
  const off = await bindCustomer(j.ports.smpp, 'off', 'right');
  assert.equal(off.resp.command_status, ESME_RBINDFAIL, 'enabled = 0 cannot bind');
  off.session.destroy();
  const near = await bindCustomer(j.ports.smpp, 'near', 'right');
  assert.equal(near.resp.command_status, 0, 'inside one of the allowed networks');
  near.session.close();
  assert.match(j.log, /bind as 'far' from 127\.0\.0\.1 refused: peer outside allowed_nets/);
  assert.match(j.log, /bind as 'off' from 127\.0\.0\.1 refused: account disabled/);
});

// A bind_transmitter PDU by hand: system_id, password, system_type,
// interface_version, addr_ton, addr_npi, address_range.
function bindPdu(seq, systemId, password) {
  const body = Buffer.concat([Buffer.from(`${systemId}\0${password}\0\0`), Buffer.from([0x34, 0, 0, 0])]);
  return Buffer.concat([header(16 + body.length, 0x00000002, seq), body]);
}

test('while a bind is checked the session stays unbound; a customer that leaves meanwhile is no harm', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });

  // bind and submit_sm back to back: the submit arrives before the verdict
  const raw = await rawConnect(j.ports.smpp);
  raw.sock.write(Buffer.concat([bindPdu(1, 'acme', 'right'), header(17 + 16, 0x00000004, 2), Buffer.alloc(17)]));
  await waitFor(() => parseHeaders(raw.data).length >= 2, 5000, 'two answers');
  const answers = parseHeaders(raw.data);
  const sub = answers.find((a) => a.seq === 2);
  const bind = answers.find((a) => a.seq === 1);
  assert.equal(sub.command_id, 0x80000004);
  assert.equal(sub.status, 0x04, 'ESME_RINVBNDSTS: not bound yet');
  assert.equal(bind.command_id, 0x80000002);
  assert.equal(bind.status, 0, 'then the bind succeeds');
  raw.sock.destroy();

  // a customer that closes right after its bind: the verdict finds no session
  const gone = await rawConnect(j.ports.smpp);
  gone.sock.end(bindPdu(1, 'acme', 'right'));
  await waitFor(() => gone.closed, 5000, 'closed');
  await waitFor(() => /session \d+ left before its bind was checked/.test(j.log), 5000,
    'the verdict of the bind of a session that is gone');
  const good = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(good.resp.command_status, 0, 'junction still serves binds');
  good.session.close();
  assert.equal(j.exited, null, 'junction is still running');
});

test('garbage PDUs get generic_nack; an impossible length closes; others are still served', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });

  const raw = await rawConnect(j.ports.smpp);
  raw.sock.write(header(16, 0x00000999, 7)); // unknown command id
  await waitFor(() => parseHeaders(raw.data).length >= 1, 5000, 'generic_nack');
  const [nack] = parseHeaders(raw.data);
  assert.equal(nack.command_id, GENERIC_NACK);
  assert.equal(nack.status, 0x03, 'ESME_RINVCMDID');
  assert.equal(nack.seq, 7);
  assert.equal(raw.closed, false, 'the session stays open after an unknown command');

  raw.sock.write(header(8, 0x00000004, 8)); // command_length below the header size
  await waitFor(() => raw.closed, 5000, 'close after an impossible length');
  const all = parseHeaders(raw.data);
  assert.equal(all.length, 2);
  assert.equal(all[1].command_id, GENERIC_NACK);
  assert.equal(all[1].status, 0x02, 'ESME_RINVCMDLEN');

  const huge = await rawConnect(j.ports.smpp);
  huge.sock.write(header(0x7fffffff, 0x00000004, 9));
  await waitFor(() => huge.closed, 5000, 'close after a huge length');

  const good = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(good.resp.command_status, 0, 'junction still serves other customers');
  good.session.close();
  assert.equal(j.exited, null, 'junction is still running');
});

test('submit_sm before bind and without a route are refused with SMPP statuses', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });

  const raw = await rawConnect(j.ports.smpp);
  raw.sock.write(Buffer.concat([header(17 + 16, 0x00000004, 3), Buffer.alloc(17)]));
  await waitFor(() => parseHeaders(raw.data).length >= 1, 5000, 'submit_sm_resp');
  const [resp] = parseHeaders(raw.data);
  assert.equal(resp.command_id, 0x80000004);
  assert.equal(resp.status, 0x04, 'ESME_RINVBNDSTS before bind');
  raw.sock.destroy();

  const { session, resp: bound } = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(bound.command_status, 0);
  t.after(() => session.close());
  const r = await submit(session, { source_addr: '1', destination_addr: '999000', short_message: 'hi' });
  assert.equal(r.command_status, 0x0b, 'no route: ESME_RINVDSTADR');
});

test('a connection that does not bind in time is closed; a bound one stays', async (t) => {
  const j = await startJunction({ params: { 'smpp.response_timeout_s': 1 } });
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const idle = await rawConnect(j.ports.smpp);
  const { session, resp } = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(resp.command_status, 0);
  let closed = false;
  session.on('close', () => { closed = true; });
  await waitFor(() => idle.closed, 5000, 'junction closes the idle connection');
  await sleep(1500); // past the bound session's own deadline, had it kept one
  const alive = await new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 5000);
    session.enquire_link({}, (r) => { clearTimeout(t); resolve(r.command_status === 0); });
  });
  assert.equal(alive, true, 'the bound customer is still served (enquire_link answered)');
  assert.equal(closed, false, 'the bound customer keeps its session');
  session.close();
});

// Shutdown with a customer submitting: every submit_sm the store committed
// is answered with its message_id before junction goes, every OK answer
// stands for a committed message, and the customer is unbound, not cut off.
test('SIGTERM under load: submit_sm_resp for every committed message, then unbind', async () => {
  // a window above N: this test is about shutdown, not about smpp.server_window
  const j = await startJunction({ params: { 'log.level': 'info', 'smpp.server_window': 1000 } });
  try {
    await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
    await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'nowhere' });
    const { session, resp } = await bindCustomer(j.ports.smpp, 'acme', 'right');
    assert.equal(resp.command_status, 0);
    session.on('error', () => {});
    const answers = []; // {status, id}
    const N = 400;
    for (let i = 0; i < N && !session.unbound; i++) {
      session.submit_sm({ source_addr: '4930111', destination_addr: `4915100${String(i).padStart(4, '0')}`,
        short_message: `load ${i}` }, (r) => answers.push({ status: r.command_status, id: r.message_id }));
      if (i === N / 2) j.proc.kill('SIGTERM');
      if (i % 10 === 0) await sleep(2);
    }
    await waitFor(() => j.exited, 15000, 'junction exit');
    assert.deepEqual(j.exited, { code: 0, sig: null }, j.log);
    await sleep(200);
    const r = spawnSync('sqlite3', [j.params['db.path'], 'SELECT id FROM messages;'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const stored = new Set(r.stdout.split('\n').filter(Boolean));
    const ok = new Set(answers.filter((a) => a.status === 0).map((a) => a.id));
    assert.ok(ok.size > 0, 'some messages were accepted before the signal');
    for (const id of ok) assert.ok(stored.has(id), `${id} answered OK but is not in the store`);
    for (const id of stored) assert.ok(ok.has(id), `${id} is stored but its submit_sm_resp never came`);
    for (const a of answers) assert.ok(a.status === 0 || a.status === 0x08, `unexpected status ${a.status}`);
    assert.equal(session.unbound, true, 'junction unbound the customer before closing');
    session.destroy();
  } finally {
    await j.cleanup();
  }
});

test('repeated wrong passwords close the address for a while: even the right one is refused unchecked, then binds', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  for (let i = 0; i < 4; i++) {
    const bad = await bindCustomer(j.ports.smpp, 'acme', `wrong${i}`);
    assert.equal(bad.resp.command_status, ESME_RBINDFAIL);
    bad.session.destroy();
  }
  const early = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(early.resp.command_status, ESME_RBINDFAIL, 'closed: the right password too');
  early.session.destroy();
  await waitFor(() => /bind as 'acme' refused unchecked: repeated failures/.test(j.log), 5000,
    'the refusal logged with its reason');
  assert.equal((await j.mi('stats.get')).counters['smpp.server_bind_backoff'], 1);
  // the first wait is a second; then the right password binds again
  const good = await waitFor(async () => {
    const b = await bindCustomer(j.ports.smpp, 'acme', 'right');
    if (b.resp.command_status === 0) return b;
    b.session.destroy();
    return false;
  }, 10000, 'bound once the wait is over');
  good.session.close();
});
