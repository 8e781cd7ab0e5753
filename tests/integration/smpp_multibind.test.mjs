// Client connectors of several binds (issue 7): conf "binds" N sessions of
// the bind type, "pair" (a bind_transmitter for the submits, a
// bind_receiver for deliver_sm); submits spread over the bound binds; a
// lost bind gives back only its own messages and reconnects alone, with
// an exponential backoff (smpp.reconnect_s doubled up to
// smpp.reconnect_max_s, +-20%); the connector's throughput and each bind's
// bind_throughput; interface_version in the bind.  The SMSC is the fake of
// lib/smsc.mjs.  Loopback only; every wait is for a state, bounded.
import { test } from 'node:test';
import smpp from 'smpp';
import assert from 'node:assert/strict';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound, connectorState } from './lib/smsc.mjs';

const PARAMS = { 'smpp.reconnect_s': 1, 'smpp.reconnect_max_s': 4, 'smpp.enquire_link_s': 5 };

async function setup(t, smscOpts = {}, params = {}) {
  const smsc = await startSmsc(smscOpts);
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { ...PARAMS, ...params } });
  t.after(() => j.cleanup());
  return { smsc, j };
}

const conf = (smsc, extra) => ({ host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw', ...extra });
const bindsOf = async (j, name) => (await j.mi('smpp.binds')).find((b) => b.connector === name).binds;
const statusOf = async (j, id) => (await j.mi('messages.get', { id })).status;

async function inject(j, n, prefix) {
  const ids = [];
  for (let i = 0; i < n; i++)
    ids.push((await j.mi('messages.inject', { from: '4930111', to: `4477009${String(i).padStart(5, '0')}`,
      body: `${prefix} ${i}` })).id);
  return ids;
}

test('binds 3: three binds at the SMSC and the submits spread over all of them', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: conf(smsc, { binds: 3, window: 2 }) });
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'bound'), 10000, 'three bound');
  assert.equal(smsc.binds.length, 3);
  assert.ok(smsc.binds.every((b) => b.command === 'bind_transceiver'));
  assert.equal(new Set(smsc.binds.map((b) => b.session)).size, 3, 'three sessions');
  const c = (await j.mi('connectors.list')).find((x) => x.name === 'op');
  assert.equal(c.status.state, 'bound');
  assert.equal(c.status.binds.length, 3);
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await inject(j, 30, 'spread');
  await waitFor(() => smsc.submits.filter((p) => p.short_message.message.startsWith('spread')).length === 30,
    15000, 'thirty submitted');
  const per = new Map();
  for (const p of smsc.submits) per.set(p.session, (per.get(p.session) || 0) + 1);
  assert.equal(per.size, 3, `every bind carried some: ${JSON.stringify([...per])}`);
  for (const n of per.values()) assert.ok(n >= 3, `no bind starved: ${JSON.stringify([...per])}`);
  await waitFor(async () => (await bindsOf(j, 'op')).reduce((a, b) => a + b.submitted, 0) === 30, 5000,
    'smpp.binds counts each bind\'s submits');
});

test('pair: a transmitter carries the submits, a receipt on the receiver is matched', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'pr', type: 'smpp', conf: conf(smsc, { bind: 'pair' }) });
  await waitFor(async () => (await bindsOf(j, 'pr')).every((b) => b.state === 'bound'), 10000, 'both bound');
  assert.deepEqual(smsc.binds.map((b) => b.command).sort(), ['bind_receiver', 'bind_transmitter']);
  assert.deepEqual((await bindsOf(j, 'pr')).map((b) => b.type), ['transmitter', 'receiver']);
  const tx = smsc.binds.find((b) => b.command === 'bind_transmitter').session;
  const rxSession = [...smsc.sessions].find((s) => s.bound === 'bind_receiver');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'pr' });
  const [id] = await inject(j, 1, 'paired');
  await waitFor(() => smsc.submits.length === 1, 10000, 'submitted');
  assert.equal(smsc.submits[0].session, tx, 'on the transmitter');
  await waitFor(async () => (await statusOf(j, id)) === 'submitted', 5000, 'submitted state');
  const r = await smsc.deliver({ esm_class: 0x04, source_addr: '447700900000', destination_addr: '4930111',
    short_message: `id:${smsc.submits[0].smsc_message_id} sub:001 dlvrd:001 submit date:2612011200 ` +
      'done date:2612011201 stat:DELIVRD err:000 text:x' }, 10000, rxSession);
  assert.equal(r.command_status, 0);
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 10000, 'delivered by the receipt on the RX');
  assert.equal((await bindsOf(j, 'pr'))[1].received, 1);
  // the transmitter lost: not bound (the receiver alone carries no submits)
  for (const s of smsc.sessions) if (s.n === tx) s.socket.destroy();
  await waitFor(async () => (await connectorState(j, 'pr')) !== 'bound', 5000, 'not bound without its TX');
  await waitBound(j, 'pr');
});

test('a long message over 3 binds: every part on one bind, in order', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: conf(smsc, { binds: 3 }) });
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'bound'), 10000, 'three bound');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  const long = (k) => Array.from({ length: 40 }, (_, i) => `m${k}w${String(i).padStart(2, '0')}`).join(' ');
  for (let k = 0; k < 4; k++)
    await j.mi('messages.inject', { from: '4930111', to: `44770090000${k}`, body: long(k) });
  await waitFor(() => smsc.submits.length >= 8, 10000, 'the parts submitted');
  const byMsg = new Map();
  for (const p of smsc.submits) {
    const udh = p.short_message.udh[0]; // [0x00, 3, ref, total, seq]
    const key = p.destination_addr;
    if (!byMsg.has(key)) byMsg.set(key, []);
    byMsg.get(key).push({ session: p.session, seq: udh[4], total: udh[3] });
  }
  assert.equal(byMsg.size, 4);
  for (const [dst, parts] of byMsg) {
    assert.equal(new Set(parts.map((x) => x.session)).size, 1, `${dst}: one bind`);
    assert.deepEqual(parts.map((x) => x.seq), parts.map((_, i) => i + 1), `${dst}: in order`);
    assert.equal(parts.length, parts[0].total);
  }
  assert.ok(new Set([...byMsg.values()].map((p) => p[0].session)).size >= 2, 'the messages spread');
});

test('smpp.unbind holds every bind of the connector, smpp.bind binds them all again', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: conf(smsc, { binds: 2 }) });
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'bound'), 10000, 'two bound');
  await j.mi('smpp.unbind', { connector: 'op' });
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'held'), 10000, 'both held');
  assert.equal(await connectorState(j, 'op'), 'held');
  assert.equal(smsc.unbinds.length, 2, 'an unbind on each');
  await j.mi('smpp.bind', { connector: 'op' });
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'bound'), 10000, 'both bound again');
  assert.equal(smsc.binds.length, 4);
});

test('one of three binds killed: its messages in flight go out again, none lost or duplicated', async (t) => {
  let victim = 0;
  const { smsc, j } = await setup(t, { answer: (session) => session.n !== victim });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: conf(smsc, { binds: 3, window: 5 }) });
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'bound'), 10000, 'three bound');
  victim = smsc.binds[1].session; // it takes submits and never answers them
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  const ids = await inject(j, 40, 'kill');
  // least in flight: the hanging bind gets a message or two, the others the rest
  await waitFor(() => smsc.hung.length >= 1, 10000, 'the victim holds one');
  await waitFor(async () => (await bindsOf(j, 'op'))[1].inflight >= 1, 5000, 'in flight on bind 1');
  const stuck = smsc.hung.map((p) => p.short_message.message);
  for (const s of smsc.sessions) if (s.n === victim) s.socket.destroy();
  await waitFor(async () => {
    for (const id of ids) if ((await statusOf(j, id)) !== 'submitted') return false;
    return true;
  }, 20000, 'every message submitted');
  const answered = smsc.submits.filter((p) => p.session !== victim).map((p) => p.short_message.message);
  assert.equal(answered.length, 40, 'each message answered once');
  assert.equal(new Set(answered).size, 40, 'no duplicate among the answered');
  for (const m of stuck) assert.ok(answered.includes(m), `${m} went out again`);
  assert.ok((await bindsOf(j, 'op'))[1].inflight === 0, 'nothing left in flight on the lost bind');
  await waitFor(async () => (await bindsOf(j, 'op')).every((b) => b.state === 'bound'), 10000, 'the lost bind rebinds');
  assert.equal((await bindsOf(j, 'op'))[1].lost, 1, 'counted lost on its own bind');
  assert.equal(smsc.binds.length, 4, 'only the lost bind bound again');
});

test('a refused bind backs off: the delays between attempts grow up to smpp.reconnect_max_s', async (t) => {
  const { smsc, j } = await setup(t, { bindStatus: () => 0x0d });
  await j.mi('connectors.add', { name: 'no', type: 'smpp', conf: conf(smsc, {}) });
  await waitFor(() => smsc.binds.length >= 5, 20000, 'five bind attempts');
  const at = smsc.binds.map((b) => b.at);
  const gaps = at.slice(1).map((x, i) => x - at[i]);
  // 1 s, 2 s, 4 s, 4 s, each +-20%
  assert.ok(gaps[0] >= 700 && gaps[0] <= 1500, `first ${gaps}`);
  assert.ok(gaps[1] >= 1500 && gaps[1] <= 2700, `second ${gaps}`);
  assert.ok(gaps[2] >= 3100 && gaps[2] <= 5100, `third ${gaps}`);
  assert.ok(gaps[3] >= 3100 && gaps[3] <= 5100, `capped ${gaps}`);
  const [b] = await bindsOf(j, 'no');
  assert.ok(b.refused >= 5);
  assert.notEqual(b.state, 'bound');
  assert.match(j.log, /bind 0: bind refused with status 0xd; next attempt in \d+ ms/);
});

test('throughput 50 over 2 binds: at most ~50/s in all; bind_throughput 10 each: ~20/s', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'tp', type: 'smpp', conf: conf(smsc, { binds: 2, throughput: 50 }) });
  await waitFor(async () => (await bindsOf(j, 'tp')).every((b) => b.state === 'bound'), 10000, 'two bound');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'tp' });
  await inject(j, 100, 'rate');
  await waitFor(() => smsc.submits.length === 100, 15000, 'a hundred submitted');
  const span = (smsc.submits[99].at - smsc.submits[0].at) / 1000;
  assert.ok(99 / span <= 60, `${(99 / span).toFixed(1)}/s over ${span}s`);
  assert.equal(new Set(smsc.submits.map((p) => p.session)).size, 2, 'both binds carried');

  await j.mi('connectors.update', { name: 'tp', conf: conf(smsc, { binds: 2, bind_throughput: 10 }) });
  await waitFor(async () => (await bindsOf(j, 'tp')).every((b) => b.state === 'bound'), 10000, 'two bound again');
  const from = smsc.submits.length;
  await inject(j, 30, 'slow');
  await waitFor(() => smsc.submits.length === from + 30, 15000, 'thirty more');
  const slow = smsc.submits.slice(from);
  const s2 = (slow[29].at - slow[0].at) / 1000;
  assert.ok(29 / s2 <= 24, `${(29 / s2).toFixed(1)}/s over ${s2}s`);
  assert.ok(29 / s2 >= 12, `both binds send: ${(29 / s2).toFixed(1)}/s`);
});

test('interface_version 5.0 is sent in the bind; 3.4 by default; bad values are refused', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'v5', type: 'smpp', conf: conf(smsc, { interface_version: '5.0' }) });
  await j.mi('connectors.add', { name: 'v34', type: 'smpp', conf: conf(smsc, { system_id: 'jy' }) });
  await waitBound(j, 'v5');
  await waitBound(j, 'v34');
  assert.equal(smsc.binds.find((b) => b.system_id === 'jx').interface_version, 0x50);
  assert.equal(smsc.binds.find((b) => b.system_id === 'jy').interface_version, 0x34);
  for (const [extra, key] of [[{ interface_version: '4.0' }, /interface_version/], [{ binds: 0 }, /binds/],
    [{ binds: 17 }, /binds/], [{ bind: 'pair', binds: 9 }, /binds/], [{ bind_throughput: -1 }, /bind_throughput/],
    [{ bind: 'duo' }, /bind/]])
    await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'smpp', conf: conf(smsc, extra) }), key);
});

test('alert_notification from the SMSC is logged and counted, and not answered', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'al', type: 'smpp', conf: conf(smsc, {}) });
  await waitBound(j, 'al');
  const session = smsc.boundSession();
  let nacks = 0;
  session.on('generic_nack', () => { nacks++; });
  session.send(new smpp.PDU('alert_notification', { source_addr_ton: 1, source_addr_npi: 1,
    source_addr: '447700900123', esme_addr_ton: 0, esme_addr_npi: 0, esme_addr: 'jx' }));
  await waitFor(async () => (await j.mi('stats.get')).counters['smpp.client_alerts'] === 1, 5000, 'counted');
  assert.equal((await bindsOf(j, 'al'))[0].alerts, 1);
  assert.match(j.log, /bind 0: alert_notification: 447700900123 is available \(for jx\)/);
  // an enquire_link round trip after it: had junction answered, the answer came first
  await new Promise((resolve) => session.enquire_link({}, resolve));
  assert.equal(nacks, 0, 'no response to an alert_notification');
});

// An operator's SMSC dialling in to junction's SMSC port with outbind.
function dialIn(j) {
  return new Promise((resolve, reject) => {
    const sess = smpp.connect({ url: `smpp://127.0.0.1:${j.ports.smpp}` });
    sess.closed = false;
    sess.on('error', () => {});
    sess.on('close', () => { sess.closed = true; });
    sess.on('enquire_link', (pdu) => sess.send(pdu.response()));
    sess.binds = [];
    sess.on('bind_receiver', (pdu) => { sess.binds.push(pdu); sess.send(pdu.response({ system_id: 'op' })); });
    sess.once('connect', () => resolve(sess));
    setTimeout(() => reject(new Error('no connect')), 5000);
  });
}

test('outbind: an SMSC that outbinds to our port gets bind_receiver there, and a receipt on it is matched', async (t) => {
  const { smsc, j } = await setup(t);
  await j.mi('connectors.add', { name: 'ob', type: 'smpp', conf: conf(smsc, { bind: 'transmitter', outbind: true }) });
  await waitBound(j, 'ob');
  let binds = await bindsOf(j, 'ob');
  assert.deepEqual(binds.map((b) => [b.type, b.outbind, b.state]),
    [['transmitter', false, 'bound'], ['receiver', true, 'down']]);
  assert.equal(smsc.binds.length, 1, 'the outbind receiver does not connect by itself');

  // a wrong password: the connection is closed, no bind_receiver
  const bad = await dialIn(j);
  bad.outbind({ system_id: 'jx', password: 'nope' });
  await waitFor(() => bad.closed, 5000, 'a wrong outbind closed');
  assert.equal(bad.binds.length, 0);

  const op = await dialIn(j);
  t.after(() => op.destroy());
  op.outbind({ system_id: 'jx', password: 'pw' });
  await waitFor(() => op.binds.length === 1, 5000, 'bind_receiver on the outbind connection');
  assert.equal(op.binds[0].system_id, 'jx');
  assert.equal(op.binds[0].password, 'pw');
  await waitFor(async () => (await bindsOf(j, 'ob'))[1].state === 'bound', 5000, 'the outbind bind bound');
  assert.equal((await j.mi('smpp.sessions')).length, 0, 'no longer a customer session');

  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'ob' });
  const [id] = await inject(j, 1, 'outbound');
  await waitFor(async () => (await statusOf(j, id)) === 'submitted', 10000, 'submitted on the transmitter');
  const r = await new Promise((resolve) => op.deliver_sm({ esm_class: 0x04, source_addr: '447700900000',
    destination_addr: '4930111', short_message: `id:${smsc.submits[0].smsc_message_id} sub:001 dlvrd:001 ` +
      'submit date:2612011200 done date:2612011201 stat:DELIVRD err:000 text:x' }, resolve));
  assert.equal(r.command_status, 0);
  await waitFor(async () => (await statusOf(j, id)) === 'delivered', 10000, 'delivered by the receipt on the outbind');

  // a second outbind while it is in use is refused; when it ends the bind waits for the next
  const again = await dialIn(j);
  again.outbind({ system_id: 'jx', password: 'pw' });
  await waitFor(() => again.closed, 5000, 'a second outbind closed');
  op.destroy();
  await waitFor(async () => (await bindsOf(j, 'ob'))[1].state === 'down', 5000, 'down, waiting');
  binds = await bindsOf(j, 'ob');
  assert.equal(binds[1].next_attempt_ms, null, 'no reconnect of its own');
  assert.equal(await connectorState(j, 'ob'), 'bound', 'the transmitter is still up');
});

test('each bind\'s state changes are on the trace bus', async (t) => {
  const { smsc, j } = await setup(t);
  const { id } = await j.mi('trace.start', { connector: 'tr' });
  t.after(() => j.mi('trace.stop', { id }).catch(() => {}));
  await j.mi('connectors.add', { name: 'tr', type: 'smpp', conf: conf(smsc, { binds: 2 }) });
  await waitFor(async () => (await bindsOf(j, 'tr')).every((b) => b.state === 'bound'), 10000, 'two bound');
  const victim = smsc.binds[0].session;
  for (const s of smsc.sessions) if (s.n === victim) s.socket.destroy();
  const got = await waitFor(async () => {
    const r = await j.mi('trace.list', { id, after: 0 });
    const states = r.records.filter((x) => x.kind === 'state').map((x) => x.summary);
    return states.some((x) => /^bind \d \(transceiver\): down: /.test(x)) && states;
  }, 10000, 'a down in the trace');
  for (const n of [0, 1])
    for (const st of ['connecting', 'binding', 'bound'])
      assert.ok(got.includes(`bind ${n} (transceiver): ${st}`), `bind ${n} ${st}: ${got}`);
});
