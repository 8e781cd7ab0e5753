// The crash test: SIGKILL junction while SIPp and an SMPP customer are
// sending to an SMPP connector (window 10) toward the operator SMSC,
// restart on the same database, and account for every accepted message at
// the SMSC: lost 0; the ones that may have reached the SMSC before the
// crash (the store had them "sending") are sent again, flagged
// possible_duplicate and counted, and the real duplicates are fewer than one
// window.  Every body is unique (SIPp's carries its call number), so the
// SMSC's submits are matched to what each sender heard as accepted: a 202
// in SIPp's message log, submit_sm_resp OK on the customer's session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import smpp from 'smpp';
import { startJunction, freePort, waitFor, sleep } from './lib/junction.mjs';
import { sqliteRows } from './lib/sqlite.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { startSipp, stopAllSipp, loggedMessages } from './lib/sipp.mjs';

const WINDOW = 10;
const SIPP_RATE = 300;   // calls/s
const SIPP_CALLS = 900;  // 3 s
const SMPP_MAX = 600;    // customer submits, one every 4 ms at most

const header = (msg, name) => msg.match(new RegExp(`\\r?\\n${name}: *([^\\r\\n]+)`, 'i'))?.[1];

// Rows of a query, read by the sqlite3 CLI beside the running daemon (WAL).
const sql = (j, text) => sqliteRows(j.params['db.path'], text);

// The key a body is matched by at the SMSC and in the store.
const keyOf = (text) => {
  const m = /Hello Junction (\d+)/.exec(text);
  return m ? `sip ${m[1]}` : text;
};

test('SIGKILL under SIP and SMPP load: nothing accepted is lost, duplicates are flagged and fewer than a window', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'log.level': 'info' } });
  t.after(() => j.cleanup());
  t.after(() => stopAllSipp());
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jop', password: 'pw', window: WINDOW } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'cust', password: 'pw' });
  await waitBound(j, 'op');

  // the SMPP customer: pipelined submits, answers recorded as they come
  const session = smpp.connect({ url: `smpp://127.0.0.1:${j.ports.smpp}` });
  let closed = false;
  session.on('error', () => {});
  session.on('close', () => { closed = true; });
  t.after(() => { if (!closed) session.close(); });
  await new Promise((resolve, reject) => {
    session.on('connect', () => session.bind_transceiver({ system_id: 'cust', password: 'pw' },
      (r) => (r.command_status === 0 ? resolve() : reject(new Error(`bind ${r.command_status}`)))));
  });
  const smppAccepted = new Map(); // text -> envelope id
  let smppSent = 0;

  // SIPp: a bounded burst, each call giving up 2 s after its MESSAGE (so no
  // retransmission reaches the restarted junction)
  const sipp = startSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'crash', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: SIPP_CALLS, service: '+447700900123', timeoutS: 30,
    args: ['-r', String(SIPP_RATE), '-recv_timeout', '2000'],
  });
  const customer = (async () => {
    for (let i = 0; i < SMPP_MAX && !closed; i++) {
      const text = `crash smpp ${i}`;
      session.submit_sm({ destination_addr: `4477008${String(i).padStart(5, '0')}`, short_message: text }, (r) => {
        if (r.command_status === 0) smppAccepted.set(text, r.message_id);
      });
      smppSent++;
      await sleep(4);
    }
  })();

  // mid-run: half of SIPp's burst and some of the customer's at the SMSC
  const atSmscFrom = (re) => smsc.submits.filter((p) => re.test(p.short_message.message)).length;
  await waitFor(() => atSmscFrom(/Hello Junction/) >= SIPP_CALLS / 2 && atSmscFrom(/^crash smpp/) >= 100,
    15000, 'traffic at the SMSC');
  j.proc.kill('SIGKILL');
  await waitFor(() => j.exited, 10000, 'junction killed');
  assert.equal(j.exited.sig, 'SIGKILL');
  const atKill = smsc.submits.length;
  await waitFor(() => closed, 10000, 'the customer session closed');
  await customer;
  await sipp.done; // each call ends with a 202 or 2 s without one
  await waitFor(() => smsc.sessions.size === 0, 10000, 'the SMSC session gone');

  // SIPp's view: the calls that got a 202
  const sent = new Map(); // Call-ID -> key
  for (const m of loggedMessages(sipp.messageFile, 'sent'))
    if (m.startsWith('MESSAGE ')) sent.set(header(m, 'Call-ID'), keyOf(m));
  const sipAccepted = new Set();
  for (const m of loggedMessages(sipp.messageFile, 'received'))
    if (/^SIP\/2\.0 202 /.test(m)) sipAccepted.add(sent.get(header(m, 'Call-ID')));
  assert.ok(!sipAccepted.has(undefined), 'every 202 matches a MESSAGE sent');
  const accepted = new Set([...sipAccepted, ...smppAccepted.keys()]);
  assert.ok(sipAccepted.size > 0 && smppAccepted.size > 0, 'both senders had messages accepted');

  // restart on the same database and let it drain
  j.start();
  await j.ready();
  await waitBound(j, 'op');
  await waitFor(() => sql(j, "SELECT count(*) AS n FROM messages WHERE status IN ('received', 'queued', 'sending');")[0].n === 0,
    30000, 'nothing left queued or sending');

  const atSmsc = new Map(); // key -> submits
  for (const p of smsc.submits) {
    const k = keyOf(p.short_message.message);
    atSmsc.set(k, (atSmsc.get(k) || 0) + 1);
  }
  const lost = [...accepted].filter((k) => !atSmsc.has(k));
  const dups = [...atSmsc].filter(([, n]) => n > 1).map(([k]) => k);
  const rows = sql(j, "SELECT id, json_extract(envelope, '$.body') AS body, flags, status FROM messages;");
  const rowOf = new Map(rows.map((r) => [keyOf(r.body), r]));
  const flagged = rows.filter((r) => r.flags & 1).length;
  const c = (await j.mi('stats.get')).counters;
  const unanswered = [...atSmsc.keys()].filter((k) => !accepted.has(k)).length;
  console.log(`# sent: sip ${sent.size}, smpp ${smppSent}; accepted: sip ${sipAccepted.size}, smpp ${smppAccepted.size}; ` +
    `at the SMSC before the kill ${atKill}, in all ${smsc.submits.length} (${atSmsc.size} distinct)`);
  console.log(`# lost ${lost.length}; duplicates at the SMSC ${dups.length}; flagged possible_duplicate ${flagged} ` +
    `(core.possible_duplicates ${c['core.possible_duplicates']}); stored and delivered but never acknowledged ${unanswered}`);

  assert.deepEqual(lost, [], 'every accepted message is at the SMSC');
  for (const k of atSmsc.keys()) assert.ok(rowOf.has(k), `${k} at the SMSC but not in the store`);
  for (const k of dups) {
    const m = await j.mi('messages.get', { id: rowOf.get(k).id });
    assert.equal(m.possible_duplicate, true, `${k} reached the SMSC twice but is not flagged`);
  }
  assert.ok(Math.max(...atSmsc.values()) <= 2, 'no message more than twice');
  assert.equal(c["core.possible_duplicates"], flagged, 'each flagged message counted once');
  assert.ok(flagged >= dups.length);
  assert.ok(dups.length < WINDOW, `duplicates (${dups.length}) fewer than one window (${WINDOW})`);
  for (const { status } of rowOf.values()) assert.equal(status, 'submitted');
});

// What a crash can send twice is bounded by the window: the core counts a
// delivery against its connector from "sending" until its outcome has
// committed, and feeds the connector only while that count is below its
// room (the SMPP window), so at most a window of rows is "sending" when
// junction is killed, however long the backlog (this test found the bug).
test('a crash while a backlog drains flags at most a window as possible duplicates', async (t) => {
  const smsc = await startSmsc();
  await smsc.stop(); // away while the backlog builds
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1, 'log.level': 'info' } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'jop', password: 'pw', window: WINDOW } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  const N = 800;
  for (let i = 0; i < N; i++)
    await j.mi('messages.inject', { from: '4930111', to: `4477009${String(i).padStart(5, '0')}`, body: `backlog ${i}` });
  await smsc.start();
  await waitFor(() => smsc.submits.length >= 2 * WINDOW, 15000, 'the backlog draining');
  j.proc.kill('SIGKILL');
  await waitFor(() => j.exited, 10000, 'junction killed');
  const sending = sql(j, "SELECT count(*) AS n FROM messages WHERE status = 'sending';")[0].n;
  j.start();
  await j.ready();
  await waitFor(() => sql(j, "SELECT count(*) AS n FROM messages WHERE status IN ('queued', 'sending');")[0].n === 0,
    30000, 'the backlog drained');
  const texts = smsc.submits.map((p) => p.short_message.message);
  const dups = texts.length - new Set(texts).size;
  const flagged = (await j.mi('stats.get')).counters['core.possible_duplicates'];
  console.log(`# backlog ${N}: "sending" at the kill ${sending}; flagged ${flagged}; duplicates at the SMSC ${dups}`);
  assert.equal(new Set(texts).size, N, 'lost none');
  assert.ok(dups <= WINDOW, `duplicates (${dups}) at most one window`);
  assert.ok(flagged <= WINDOW, `possible duplicates (${flagged}) at most one window (${WINDOW})`);
});
