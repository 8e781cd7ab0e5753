// Limits of junction's SMSC port, seen from customers (npm smpp and raw
// sockets): the account's throughput (ESME_RTHROTTLED, nothing stored),
// the idle timeout of a bound session, the cap of connections per peer
// address, and the window of unanswered submit_sm per session
// (ESME_RMSGQFUL).  Loopback only; every wait is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor } from './lib/junction.mjs';
import { bindCustomer, rawConnect, parseHeaders } from './lib/smsc.mjs';

const ESME_RTHROTTLED = 0x58;
const ESME_RMSGQFUL = 0x14;

function header(length, commandId, seq) {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(length, 0);
  b.writeUInt32BE(commandId, 4);
  b.writeUInt32BE(0, 8);
  b.writeUInt32BE(seq, 12);
  return b;
}

function bindPdu(seq, systemId, password) {
  const body = Buffer.concat([Buffer.from(`${systemId}\0${password}\0\0`), Buffer.from([0x34, 0, 0, 0])]);
  return Buffer.concat([header(16 + body.length, 0x00000009, seq), body]); // bind_transceiver
}

// submit_sm (SMPP 3.4, 4.4.1): service_type, source ton/npi/addr, dest
// ton/npi/addr, esm_class .. sm_default_msg_id, sm_length, short_message.
function submitPdu(seq, dst, text) {
  const sm = Buffer.from(text);
  const body = Buffer.concat([
    Buffer.from('\0'), Buffer.from([1, 1]), Buffer.from('4930111\0'),
    Buffer.from([1, 1]), Buffer.from(`${dst}\0`),
    Buffer.from([0, 0, 0]), Buffer.from('\0\0'), Buffer.from([0, 0, 0, 0, sm.length]), sm,
  ]);
  return Buffer.concat([header(16 + body.length, 0x00000004, seq), body]);
}

function storedIds(j) {
  const r = spawnSync('sqlite3', [j.params['db.path'], 'SELECT id FROM messages;'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return new Set(r.stdout.split('\n').filter(Boolean));
}

const counter = async (j, name) => {
  const s = await j.mi('stats.get');
  return (s.counters || s)[name];
};

test('an account of 20/s gets ESME_RTHROTTLED past its bucket, and only what was accepted is stored', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'slow', password: 'right', throughput: 20 });
  await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'nowhere' });
  const { session, resp } = await bindCustomer(j.ports.smpp, 'slow', 'right');
  assert.equal(resp.command_status, 0);
  t.after(() => session.close());

  const N = 100;
  const answers = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    session.submit_sm({ source_addr: '4930111', destination_addr: `4915100${String(i).padStart(4, '0')}`,
      short_message: `rate ${i}` }, (r) => answers.push({ status: r.command_status, id: r.message_id }));
  }
  await waitFor(() => answers.length === N, 20000, 'every submit_sm answered');
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;

  const ok = answers.filter((a) => a.status === 0);
  const throttled = answers.filter((a) => a.status === ESME_RTHROTTLED);
  assert.equal(ok.length + throttled.length, N, `only OK or ESME_RTHROTTLED: ${JSON.stringify(answers.filter(
    (a) => a.status !== 0 && a.status !== ESME_RTHROTTLED))}`);
  assert.ok(throttled.length > 0, 'some were throttled');
  const burst = 20;
  assert.ok(ok.length <= burst + Math.ceil(20 * elapsed),
    `${ok.length} accepted in ${elapsed.toFixed(3)} s: more than burst ${burst} + 20/s`);
  assert.ok(ok.length >= burst, `the full bucket lets ${burst} through at once, got ${ok.length}`);

  const stored = storedIds(j);
  assert.equal(stored.size, ok.length, 'one stored message per accepted submit_sm, none for the throttled');
  for (const a of ok) assert.ok(stored.has(a.id), `${a.id} accepted but not stored`);
  assert.equal(await counter(j, 'smpp.server_throttled'), throttled.length, 'each refusal counted');

  // the bucket is the account's, not the session's: a rebind gets no new burst
  session.close();
  const again = await bindCustomer(j.ports.smpp, 'slow', 'right');
  t.after(() => again.session.close());
  const burstAgain = [];
  for (let i = 0; i < 40; i++) {
    again.session.submit_sm({ source_addr: '4930111', destination_addr: '491510099999', short_message: 'again' },
      (r) => burstAgain.push(r.command_status));
  }
  await waitFor(() => burstAgain.length === 40, 20000, 'answers after the rebind');
  const elapsed2 = Number(process.hrtime.bigint() - t0) / 1e9;
  const okTotal = ok.length + burstAgain.filter((s) => s === 0).length;
  assert.ok(okTotal <= burst + Math.ceil(20 * elapsed2),
    `${okTotal} accepted over ${elapsed2.toFixed(3)} s across two binds: the bucket was refilled by the rebind`);
});

test('a bound customer that sends nothing is unbound and closed after smpp.server_idle_s; enquire_link keeps one open', async (t) => {
  const j = await startJunction({ params: { 'smpp.server_idle_s': 1 } });
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const idle = await bindCustomer(j.ports.smpp, 'acme', 'right');
  const busy = await bindCustomer(j.ports.smpp, 'acme', 'right');
  assert.equal(idle.resp.command_status, 0);
  assert.equal(busy.resp.command_status, 0);
  let idleClosed = false;
  let busyClosed = false;
  idle.session.on('close', () => { idleClosed = true; });
  busy.session.on('close', () => { busyClosed = true; });
  busy.session.on('error', () => {});
  const ping = setInterval(() => busy.session.enquire_link({}, () => {}), 300);
  t.after(() => clearInterval(ping));

  const since = Date.now();
  await waitFor(() => idleClosed, 6000, 'junction closes the idle session');
  assert.ok(Date.now() - since >= 500, 'not before the idle timeout');
  assert.equal(idle.session.unbound, true, 'junction unbound it first');
  assert.match(j.log, /nothing from the peer for 1 s, unbinding/);
  // the pinging one has been bound for longer than the idle timeout too
  const alive = await new Promise((resolve) => {
    const tm = setTimeout(() => resolve(false), 5000);
    busy.session.enquire_link({}, (r) => { clearTimeout(tm); resolve(r.command_status === 0); });
  });
  assert.equal(alive, true, 'the customer sending enquire_link is still served');
  assert.equal(busyClosed, false);
  clearInterval(ping);
  busy.session.close();
});

test('past smpp.server_max_per_ip connections from one address the next is closed at once', async (t) => {
  const j = await startJunction({ params: { 'smpp.server_max_per_ip': 3 } });
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  const socks = [];
  t.after(() => socks.forEach((r) => r.sock.destroy()));
  for (let i = 0; i < 3; i++) socks.push(await rawConnect(j.ports.smpp));
  // junction has accepted the three when each answers a bind
  for (const [i, r] of socks.entries()) r.sock.write(bindPdu(i + 1, 'acme', 'right'));
  await waitFor(() => socks.every((r) => parseHeaders(r.data).length >= 1), 10000, 'three binds answered');
  for (const r of socks) assert.equal(parseHeaders(r.data)[0].status, 0);

  const extra = await rawConnect(j.ports.smpp);
  socks.push(extra);
  extra.sock.write(bindPdu(9, 'acme', 'right'));
  await waitFor(() => extra.closed, 5000, 'the fourth connection is closed');
  assert.equal(extra.data.length, 0, 'without an answer to its bind');
  assert.equal(await counter(j, 'smpp.server_refused_per_ip'), 1, 'counted');
  assert.ok(socks.slice(0, 3).every((r) => !r.closed), 'the first three stay');

  // one leaves: a new connection is served again
  socks[0].sock.destroy();
  await waitFor(async () => {
    const r = await rawConnect(j.ports.smpp);
    socks.push(r);
    r.sock.write(bindPdu(1, 'acme', 'right'));
    try {
      await waitFor(() => parseHeaders(r.data).length >= 1 || r.closed, 5000, 'answer or close');
    } catch { return false; }
    return parseHeaders(r.data).length >= 1;
  }, 10000, 'a connection is accepted once one left');
});

test('past smpp.server_window unanswered submit_sm a session gets ESME_RMSGQFUL, nothing stored for it', async (t) => {
  const j = await startJunction({ params: { 'smpp.server_window': 2 } });
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'right' });
  await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'nowhere' });
  const raw = await rawConnect(j.ports.smpp);
  t.after(() => raw.sock.destroy());
  raw.sock.write(bindPdu(1, 'acme', 'right'));
  await waitFor(() => parseHeaders(raw.data).length >= 1, 10000, 'bind answered');
  assert.equal(parseHeaders(raw.data)[0].status, 0);

  // in one write: junction reads them all before any commit is answered
  const N = 20;
  const pdus = [];
  for (let i = 0; i < N; i++) pdus.push(submitPdu(10 + i, `4915100${String(i).padStart(4, '0')}`, `w ${i}`));
  raw.sock.write(Buffer.concat(pdus));
  await waitFor(() => parseHeaders(raw.data).length >= 1 + N, 10000, 'every submit_sm answered');
  const resps = parseHeaders(raw.data).slice(1);
  assert.ok(resps.every((r) => r.command_id === 0x80000004), 'submit_sm_resp each');
  const full = resps.filter((r) => r.status === ESME_RMSGQFUL);
  const ok = resps.filter((r) => r.status === 0);
  assert.equal(full.length + ok.length, N, `only OK or ESME_RMSGQFUL: ${JSON.stringify(resps)}`);
  assert.ok(full.length > 0, 'some were past the window');
  assert.ok(ok.length >= 2, 'the window lets two through');
  for (const seq of [10, 11]) assert.equal(resps.find((r) => r.seq === seq).status, 0, `seq ${seq} within the window`);
  assert.equal(storedIds(j).size, ok.length, 'only the accepted ones are stored');
  assert.equal(await counter(j, 'smpp.server_window_full'), full.length, 'each refusal counted');
});
