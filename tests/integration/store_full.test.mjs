// A full disk refuses new messages (SIP 503 with Retry-After, SMPP
// ESME_RSYSERR / ESME_RTHROTTLED, an MI error) and loses none already
// accepted.  The fault is real: junction runs under a file size limit
// (ulimit -f; it ignores SIGXFSZ, so a write past the limit fails with
// EFBIG as on a full disk) while the operator SMSC is away, and SIP, SMPP
// and the MI inject until the store's files reach the limit.  What the
// senders heard as accepted must be exactly what the file holds; after a
// restart without the limit, every accepted message reaches the SMSC once.
//
// Seen with SQLite 3.40: the WAL (which starts at ~140 KB holding the
// migrations) grows by a few pages per commit; the first write past the
// limit fails as SQLITE_IOERR ("disk I/O error"), not SQLITE_FULL; on
// SIGTERM the closing checkpoint still fits (the main file is small) and
// the WAL is folded in and removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound, bindCustomer, submit } from './lib/smsc.mjs';

const LIMIT_BLOCKS = 1600; // dash's ulimit -f counts 512-byte blocks: 800 KB
const ESME_RSYSERR = 0x08;
const ESME_RTHROTTLED = 0x58;

async function sipClient(j) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  const waiting = new Map(); // Call-ID -> resolve
  sock.on('message', (m) => {
    const text = m.toString('utf8');
    const id = text.match(/\r\nCall-ID: *([^\r]+)/i)?.[1];
    const w = id && waiting.get(id);
    if (w && !/^SIP\/2\.0 1\d\d /.test(text)) { waiting.delete(id); w(text); }
  });
  return {
    message: (callId, to, body) => new Promise((resolve, reject) => {
      const req = `MESSAGE sip:${to}@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId};rport\r\n` +
        'Max-Forwards: 70\r\nFrom: <sip:+4930111@127.0.0.1>;tag=f1\r\n' +
        `To: <sip:${to}@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const t = setTimeout(() => { waiting.delete(callId); reject(new Error(`no answer to ${callId}`)); }, 10000);
      waiting.set(callId, (text) => { clearTimeout(t); resolve(text); });
      sock.send(Buffer.from(req), j.ports.sip, '127.0.0.1');
    }),
    close: () => new Promise((resolve) => sock.close(resolve)),
  };
}

test('a full disk refuses new messages on every surface and loses none already accepted', async (t) => {
  const smsc = await startSmsc();
  await smsc.stop(); // away while the store fills: everything stays queued
  t.after(() => smsc.stop());
  const j = await startJunction({
    params: { 'smpp.reconnect_s': 1, 'log.level': 'info' },
    wrap: ['sh', '-c', `ulimit -f ${LIMIT_BLOCKS}; exec "$0" "$@"`],
  });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jop', password: 'pw' } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'cust', password: 'pw' });
  const sip = await sipClient(j);
  t.after(() => sip.close());
  let customer = (await bindCustomer(j.ports.smpp, 'cust', 'pw')).session;
  t.after(() => { if (customer) customer.close(); });

  const accepted = new Set(); // bodies
  const refused = { sip: 0, smpp: 0, mi: 0 };
  const surfaces = {
    async sip(i) {
      const body = `full sip ${i}`;
      const resp = await sip.message(`full-${i}`, `+4477009${String(i).padStart(5, '0')}`, body);
      const code = Number(resp.split(' ')[1]);
      if (code === 202) return accepted.add(body);
      assert.equal(code, 503, resp);
      assert.match(resp, /\r\nRetry-After: \d+\r\n/i, 'the 503 says when to come back');
      refused.sip++;
    },
    async smpp(i) {
      const body = `full smpp ${i}`;
      const r = await submit(customer, { destination_addr: `4477008${String(i).padStart(5, '0')}`, short_message: body });
      if (r.command_status === 0) return accepted.add(body);
      assert.ok(r.command_status === ESME_RSYSERR || r.command_status === ESME_RTHROTTLED,
        `submit_sm refused with 0x${r.command_status.toString(16)}`);
      refused.smpp++;
    },
    async mi(i) {
      const body = `full mi ${i}`;
      try {
        await j.mi('messages.inject', { from: '4930111', to: `4477007${String(i).padStart(5, '0')}`, body });
        accepted.add(body);
      } catch (e) {
        assert.ok(e.rpc && (e.rpc.code === -32603 || e.rpc.code === -32010), e.message);
        refused.mi++;
      }
    },
  };
  // Rounds of one request per surface, side by side, until each surface has
  // been refused twice and the writer has had time to let a probe through
  // (it refuses for 1 s after a failure, then tries one insert): bounded.
  const t0 = Date.now();
  let firstRefusal = 0;
  let rounds = 0;
  for (; rounds < 3000 && Date.now() - t0 < 30000; rounds++) {
    await Promise.all(Object.values(surfaces).map((f) => f(rounds)));
    const n = refused.sip + refused.smpp + refused.mi;
    if (n > 0 && !firstRefusal) firstRefusal = Date.now();
    if (refused.sip >= 2 && refused.smpp >= 2 && refused.mi >= 2 && Date.now() - firstRefusal > 1500) break;
  }
  const c = (await j.mi('stats.get')).counters;
  console.log(`# ${rounds} rounds; accepted ${accepted.size}; refused sip ${refused.sip}, smpp ${refused.smpp}, ` +
    `mi ${refused.mi}; db.errors ${c['db.errors']}, db.refused ${c['db.refused']}, core.store_errors ${c['core.store_errors']}`);
  assert.ok(refused.sip >= 2 && refused.smpp >= 2 && refused.mi >= 2, 'the store filled: every surface was refused');
  assert.ok(accepted.size > 0, 'messages were accepted before the store filled');
  assert.ok(c['db.errors'] >= 2, 'the probe let through after the first failure failed too');
  assert.match(j.log, /group of \d+ job\(s\) not stored/);

  customer.close();
  customer = null;
  assert.deepEqual(await j.stop('SIGTERM'), { code: 0, sig: null }, j.log.slice(-3000));
  // the file, read by another process: exactly the accepted messages
  const r = spawnSync('sqlite3', [j.params['db.path'],
    "SELECT json_extract(envelope, '$.body') FROM messages WHERE status = 'queued';"], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const stored = new Set(r.stdout.split('\n').filter(Boolean));
  for (const b of accepted) assert.ok(stored.has(b), `"${b}" was accepted but is not in the store`);
  for (const b of stored) assert.ok(accepted.has(b), `"${b}" is stored but its sender heard a refusal`);
  assert.equal(stored.size, accepted.size);

  // again without the limit, the SMSC back: each accepted message once
  j.wrap = null;
  await smsc.start();
  j.start();
  await j.ready();
  await waitBound(j, 'op');
  await waitFor(() => smsc.submits.length >= accepted.size, 20000,
    `${accepted.size} submits (got ${smsc.submits.length})`);
  await waitFor(() => {
    const out = spawnSync('sqlite3', ['-cmd', '.timeout 5000', j.params['db.path'],
      "SELECT count(*) FROM messages WHERE status <> 'submitted';"], { encoding: 'utf8' });
    return out.stdout.trim() === '0';
  }, 10000, 'every message submitted');
  const texts = smsc.submits.map((p) => p.short_message.message);
  assert.equal(texts.length, accepted.size, 'none twice');
  assert.deepEqual([...new Set(texts)].sort(), [...accepted].sort());
});
