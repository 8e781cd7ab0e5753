// Junction's own SMSC port: bind authentication, garbage on the wire, and
// no-route answers, seen from a customer (npm smpp) and a raw TCP socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
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

test('a bind with a wrong password gets ESME_RINVPASWD, the right one binds', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const listed = await j.mi('accounts.list');
  assert.ok(listed.some((a) => a.system_id === 'acme'));

  const bad = await bindCustomer(j.ports.smpp, 'acme', 'wrong');
  assert.equal(bad.resp.command_status, 0x0e);
  bad.session.destroy();
  const unknown = await bindCustomer(j.ports.smpp, 'nobody', 'x');
  assert.equal(unknown.resp.command_status, 0x0d, 'unknown system_id: ESME_RBINDFAIL');
  unknown.session.destroy();
  const good = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(good.resp.command_status, 0);
  good.session.close();

  await j.mi('accounts.delete', { system_id: 'acme' });
  const gone = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.notEqual(gone.resp.command_status, 0, 'a deleted account cannot bind');
  gone.session.destroy();
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
