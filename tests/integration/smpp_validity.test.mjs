// validity_period of a customer's submit_sm and replace_sm (SMPP 3.4
// 7.1.1, adapters/smpp/smpp_time.c): an absolute time (with its UTC
// offset) or a relative one becomes the message's expiry - a message whose
// connector stays held down expires when it says, not at core.validity_s -
// and the client connector passes what is left of it on to the operator's
// SMSC; a time that is none gets ESME_RINVEXPIRY.  The SMSC is the fake of
// lib/smsc.mjs, the customer an npm smpp session.  Loopback only; every
// wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, bindCustomer, submit, waitBound, connectorState } from './lib/smsc.mjs';

const ESME_RINVEXPIRY = 0x62;

async function setup(t) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'core.sweep_ms': 200 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', {
    name: 'op', type: 'smpp', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw' },
  });
  await waitBound(j, 'op');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  const { session, resp } = await bindCustomer(j.ports.smpp, 'acme', 'pw');
  assert.equal(resp.command_status, 0);
  session.on('error', () => {});
  t.after(() => session.destroy());
  return { smsc, j, acme: session };
}

async function hold(j) {
  await j.mi('smpp.unbind', { connector: 'op' });
  await waitFor(async () => (await connectorState(j, 'op')) === 'held', 10000, 'op held');
}

const sm = (text, extra = {}) => ({
  source_addr: '447700100001', destination_addr: '447700900001', short_message: text, ...extra,
});
const call = (session, cmd, fields) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no ${cmd}_resp`)), 10000);
  session[cmd](fields, (resp) => { clearTimeout(timer); resolve(resp); });
});

// SMPP absolute time of ms at UTC+01:00 (04 quarter hours), tenths 0.
function absolute(ms) {
  const d = new Date(ms + 3600000);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}004+`;
}

test('submit_sm validity_period: relative and absolute set the expiry; a held message expires then; a bad one is ESME_RINVEXPIRY', async (t) => {
  const { j, acme } = await setup(t);
  await hold(j);
  const before = Date.now();
  const rel = await submit(acme, sm('relative', { validity_period: '000000000002000R' }));
  assert.equal(rel.command_status, 0);
  const at = Math.floor(Date.now() / 1000) * 1000 + 3600000;
  const abs = await submit(acme, sm('absolute', { validity_period: absolute(at) }));
  assert.equal(abs.command_status, 0);
  const none = await submit(acme, sm('default'));
  assert.equal(none.command_status, 0);

  const r = await j.mi('messages.get', { id: rel.message_id });
  assert.ok(r.expires_at >= before + 2000 - 1000 && r.expires_at <= Date.now() + 2000, `relative: ${r.expires_at}`);
  assert.equal((await j.mi('messages.get', { id: abs.message_id })).expires_at, at, 'absolute, its offset taken off');
  assert.ok((await j.mi('messages.get', { id: none.message_id })).expires_at > Date.now() + 3600000, 'core.validity_s');

  await waitFor(async () => (await j.mi('messages.get', { id: rel.message_id })).status === 'expired', 10000, 'relative expired');
  assert.equal((await j.mi('messages.get', { id: none.message_id })).status, 'queued', 'the default one waits on');

  for (const bad of ['2612011330157+', '261301133015004+', '000000240000000R', '261201133015049+']) {
    const resp = await submit(acme, sm('bad', { validity_period: bad }));
    assert.equal(resp.command_status, ESME_RINVEXPIRY, bad);
  }
});

test('the validity a customer gave is passed on to the SMSC as the time left', async (t) => {
  const { smsc, acme } = await setup(t);
  const resp = await submit(acme, sm('passed on', { validity_period: '000000010000000R' }));
  assert.equal(resp.command_status, 0);
  await waitFor(() => smsc.submits.length >= 1, 10000, 'at the SMSC');
  const v = smsc.submits[0].validity_period; // the npm smpp decoder gives a Date
  assert.ok(v, 'a validity_period was sent');
  const left = new Date(v).getTime() - Date.now();
  assert.ok(left > 3600000 - 60000 && left <= 3600000 + 5000, `about an hour left: ${v}`);
});

test('replace_sm validity_period replaces the expiry of a queued message; a bad one is ESME_RINVEXPIRY and changes nothing', async (t) => {
  const { j, acme } = await setup(t);
  await hold(j);
  const s = await submit(acme, sm('to replace'));
  assert.equal(s.command_status, 0);
  const first = (await j.mi('messages.get', { id: s.message_id })).expires_at;
  const bad = await call(acme, 'replace_sm', { message_id: s.message_id, short_message: Buffer.from('x'), validity_period: '26130113301500+' });
  assert.equal(bad.command_status, ESME_RINVEXPIRY);
  assert.equal((await j.mi('messages.get', { id: s.message_id })).expires_at, first);

  const ok = await call(acme, 'replace_sm', { message_id: s.message_id, short_message: Buffer.from('soon gone'), validity_period: '000000000002000R' });
  assert.equal(ok.command_status, 0);
  const m = await j.mi('messages.get', { id: s.message_id });
  assert.equal(m.envelope.body, 'soon gone');
  assert.ok(m.expires_at < first && m.expires_at <= Date.now() + 2000, 'the new expiry');
  await waitFor(async () => (await j.mi('messages.get', { id: s.message_id })).status === 'expired', 10000, 'expired at the new time');
});
