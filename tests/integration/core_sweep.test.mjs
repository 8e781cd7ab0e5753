// The sweep (ARCHITECTURE.md, "The path of a message", point 8) against
// real SMPP peers: the retention purge of final messages, in batches of at
// most 500 per writer group, while new traffic keeps being accepted and
// submitted, leaving what is not final alone; submitted messages whose
// receipt never comes expiring after core.receipt_wait_s; and a backlog
// that spilled to the store expiring as a whole, the part held in memory
// and the part only in the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startJunction, waitFor, sleep } from './lib/junction.mjs';
import { sqliteRows } from './lib/sqlite.mjs';
import { startSmsc, waitBound, bindCustomer } from './lib/smsc.mjs';

const smppConf = (smsc, id) => ({ host: '127.0.0.1', port: smsc.port, system_id: id, password: 'pw' });
const ESME_RINVDSTADR = 0x0b;
const NOT_FOUND = -32004;
const BATCH = 500; // GW_CQ_SWEEP_BATCH

// Rows of a query, read by the sqlite3 CLI beside the running daemon (WAL).
const sql = (j, text) => sqliteRows(j.params['db.path'], text);
const count = (j, where) => sql(j, `SELECT count(*) AS n FROM ${where};`)[0].n;

const statusOf = async (j, id) => (await j.mi('messages.get', { id })).status;
const counters = async (j) => (await j.mi('stats.get')).counters;
const queue = async (j, name) => (await j.mi('queues.list')).find((q) => q.name === name);

// messages.get of id fails with -32004.
async function isGone(j, id) {
  try {
    await j.mi('messages.get', { id });
    return false;
  } catch (e) {
    if (e.rpc && e.rpc.code === NOT_FOUND) return true;
    throw e;
  }
}

const receiptText = (remote) =>
  `id:${remote} sub:001 dlvrd:001 submit date:2612011200 done date:2612011201 stat:DELIVRD err:000 text:x`;

// The SMSC answers every submit but the ones skip(text) names with a
// DELIVRD receipt on its bound session, pipelined.  Returns a handle whose
// stop() ends the loop (bounded by maxMs in any case).
function autoReceipts(smsc, skip = () => false, maxMs = 60000) {
  const r = { sent: 0, acked: 0, failed: 0, running: true };
  let next = 0;
  const end = Date.now() + maxMs;
  r.done = (async () => {
    while (r.running && Date.now() < end) {
      const session = smsc.boundSession();
      while (session && next < smsc.submits.length) {
        const pdu = smsc.submits[next++];
        if (skip(pdu.short_message.message)) continue;
        r.sent++;
        session.deliver_sm({ esm_class: 0x04, source_addr: pdu.destination_addr,
          destination_addr: pdu.source_addr || 'x', short_message: receiptText(pdu.smsc_message_id) },
        (resp) => { if (resp.command_status === 0) r.acked++; else r.failed++; });
      }
      await sleep(10);
    }
  })();
  r.stop = async () => { r.running = false; await r.done; };
  return r;
}

// submit_sm on session; resolves {status, ms} (ms: until submit_sm_resp,
// i.e. until the message was committed), status -1 after timeoutMs.
function timedSubmit(session, fields, timeoutMs = 10000) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve({ status: -1, ms: timeoutMs, t0 }), timeoutMs);
    session.submit_sm(fields, (resp) => {
      clearTimeout(t);
      resolve({ status: resp.command_status, ms: performance.now() - t0, t0 });
    });
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

test('retention purge under load: final messages go in batches of 500 while new traffic flows, the rest stays', async (t) => {
  const SWEEP_MS = 300;
  const OLD = 1500;
  const smsc = await startSmsc();
  const dead = await startSmsc();
  await dead.stop(); // its port is closed: that connector never binds
  // retention long while the old messages become final, 1 s once they all are
  const j = await startJunction({ params: { 'core.sweep_ms': SWEEP_MS, 'core.retention_s': 3600,
    'log.level': 'info' } });
  t.after(async () => { await j.cleanup(); await smsc.stop(); });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: { ...smppConf(smsc, 'jop'), window: 20 } });
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: smppConf(dead, 'jdown') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('routes.add', { name: 'de', priority: 20, dst_prefix: '49', target: 'down' });
  await j.mi('accounts.add', { system_id: 'cust', password: 'pw' });
  await waitBound(j, 'op');
  // a transmitter: the delivery report each old message owes it waits
  // queued (not final, never purged) for a receiver that never binds
  const { session } = await bindCustomer(j.ports.smpp, 'cust', 'pw', 10000, 'transmitter');
  t.after(() => session.close());
  const receipts = autoReceipts(smsc, (text) => text === 'no receipt for me');
  t.after(() => receipts.stop());

  // not final: one queued for a connector that is down, one submitted whose
  // receipt never comes
  const queued = await j.mi('messages.inject', { from: '4930111', to: '4915100000001', body: 'held' });
  const waiting = await j.mi('messages.inject', { from: '4930111', to: '447700700001', body: 'no receipt for me' });
  await waitFor(async () => (await statusOf(j, waiting.id)) === 'submitted', 10000, 'submitted, no receipt');

  // the old traffic, 1,500 messages from the customer, each delivered
  const oldIds = [];
  for (let i = 0; i < OLD; i += 100) {
    const burst = [];
    for (let k = i; k < i + 100; k++)
      burst.push(timedSubmit(session, { destination_addr: `4477008${String(k).padStart(5, '0')}`,
        short_message: `old ${k}`, registered_delivery: 1 }));
    for (const r of await Promise.all(burst)) assert.equal(r.status, 0, 'old message accepted');
  }
  await waitFor(() => count(j, "messages WHERE to_addr LIKE '%4477008%' AND status = 'delivered'") === OLD,
    30000, `${OLD} old messages delivered`);
  for (const row of sql(j, "SELECT id FROM messages WHERE to_addr LIKE '%4477008%' ORDER BY random() LIMIT 20;"))
    oldIds.push(row.id);
  assert.equal((await counters(j))['core.purged'] ?? 0, 0, 'nothing purged while retention is long');
  assert.equal(count(j, "messages WHERE to_addr LIKE '%4477008%' AND remote_id IS NOT NULL"), OLD,
    'each old message keeps the id the SMSC gave it');
  const before = count(j, 'messages');
  assert.equal(count(j, "messages WHERE source_connector = 'report' AND status = 'queued'"), OLD,
    'one report per old message, made with its final state, queued for the customer');
  assert.equal(before, OLD + 2 + OLD);
  // every old row past the 1 s retention to come, so that only the batch
  // bounds the purge
  await waitFor(() => Date.now() - sql(j, "SELECT max(updated_at) AS t FROM messages WHERE to_addr LIKE '%4477008%';")[0].t > 1100,
    5000, 'the old rows a second old');

  // new traffic through the purge: one submit every 4 ms, latency measured
  const fresh = [];
  let flowing = true;
  const flow = (async () => {
    for (let i = 0; flowing && i < 3000; i++) {
      fresh.push(timedSubmit(session, { destination_addr: `4477009${String(i).padStart(5, '0')}`,
        short_message: `new ${i}` }));
      await sleep(4);
    }
  })();
  await sleep(200); // some of it before the purge starts, too

  const tSet = performance.now();
  await j.mi('params.set', { name: 'core.retention_s', value: '1' });
  const samples = []; // [ms since tSet, old rows left]
  await waitFor(() => {
    const n = count(j, "messages WHERE to_addr LIKE '%4477008%'");
    samples.push([performance.now() - tSet, n]);
    return n === 0;
  }, 15000, 'old messages purged');
  const purgeMs = samples[samples.length - 1][0];
  await sleep(300); // a little more of the flow after the purge
  flowing = false;
  await flow;
  const results = await Promise.all(fresh);

  // batches: the old rows fell in steps, never more than a batch per sweep
  const steps = [...new Set(samples.map(([, n]) => n))];
  t.diagnostic(`old rows left, as sampled: ${steps.join(' -> ')}; all gone ${purgeMs.toFixed(0)} ms after retention 1 s`);
  assert.ok(steps.some((n) => n > 0 && n < OLD), `intermediate counts seen: ${steps.join(',')}`);
  for (let i = 1; i < samples.length; i++) {
    const [t0, n0] = samples[i - 1];
    const [t1, n1] = samples[i];
    if (t1 - t0 < SWEEP_MS / 2)
      assert.ok(n0 - n1 <= BATCH, `${n0 - n1} rows went within ${(t1 - t0).toFixed(0)} ms`);
  }
  // the purge walks messages_final by updated_at, oldest first, and every
  // old row was older than the cutoff: each batch is a full one of old rows
  for (const n of steps) assert.equal(n % BATCH, 0, `old rows go a whole batch at a time: ${steps.join(',')}`);
  assert.ok(purgeMs >= 2 * SWEEP_MS * 0.8, `${OLD} rows need three purge batches, took ${purgeMs.toFixed(0)} ms`);

  // the traffic during the purge: all accepted, accept latency bounded
  const during = results.filter((r) => r.t0 >= tSet && r.t0 <= tSet + purgeMs).map((r) => r.ms);
  const all = results.map((r) => r.ms);
  t.diagnostic(`new messages: ${results.length}, ${during.length} sent during the purge; accept latency ` +
    `during the purge p50 ${pct(during, 50).toFixed(1)} ms, p99 ${pct(during, 99).toFixed(1)} ms, ` +
    `max ${Math.max(...during).toFixed(1)} ms; overall p99 ${pct(all, 99).toFixed(1)} ms`);
  assert.ok(during.length >= 50, `traffic flowed during the purge (${during.length})`);
  assert.deepEqual(results.filter((r) => r.status !== 0), [], 'every new message accepted');
  assert.ok(pct(during, 99) < 1000, `accept p99 during the purge ${pct(during, 99)} ms`);
  await waitFor(() => {
    const texts = new Set(smsc.submits.map((p) => p.short_message.message));
    return results.every((_, i) => texts.has(`new ${i}`));
  }, 20000, 'every new message submitted to the SMSC');

  // purged means gone: the MI, the store, the counter
  for (const id of oldIds) assert.equal(await isGone(j, id), true, `${id} purged`);
  const c = await counters(j);
  t.diagnostic(`core.purged ${c['core.purged']}; messages ${before} before, ${count(j, 'messages')} after`);
  const gone = before + results.length - count(j, 'messages');
  assert.ok(gone >= OLD);
  assert.ok(c['core.purged'] >= gone, `core.purged ${c['core.purged']} counts the ${gone} purged messages`);

  // not final, never purged
  assert.equal(await statusOf(j, queued.id), 'queued');
  assert.equal((await queue(j, 'down')).backlog, 1);
  assert.equal(await statusOf(j, waiting.id), 'submitted');
  await receipts.stop();
  assert.equal(receipts.failed, 0, 'every receipt answered OK');
});

// A submitted message waiting for its receipt outlives the retention (it is
// not done), so a late receipt still finds it.
test('a message still waiting for its receipt outlives core.retention_s and its late receipt delivers it', async (t) => {
  const smsc = await startSmsc({ submitStatus: (pdu) =>
    (pdu.short_message.message === 'canary' ? ESME_RINVDSTADR : 0) });
  const j = await startJunction({ params: { 'core.sweep_ms': 200, 'core.retention_s': 1 } });
  t.after(async () => { await j.cleanup(); await smsc.stop(); });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: smppConf(smsc, 'jop') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await waitBound(j, 'op');
  const waiting = await j.mi('messages.inject', { from: '4930111', to: '447700700002', body: 'late receipt' });
  await waitFor(async () => (await statusOf(j, waiting.id)) === 'submitted', 10000, 'submitted');
  // a final message younger than the map: once it is purged, a purge with a
  // cutoff past the map's age has run
  const canary = await j.mi('messages.inject', { from: '4930111', to: '447700700003', body: 'canary' });
  await waitFor(async () => (await statusOf(j, canary.id)) === 'failed', 10000, 'canary failed');
  await waitFor(() => isGone(j, canary.id), 10000, 'canary purged');
  const remote = smsc.submits.find((p) => p.short_message.message === 'late receipt').smsc_message_id;
  const resp = await smsc.deliver({ esm_class: 0x04, source_addr: '447700700002', destination_addr: '4930111',
    short_message: receiptText(remote) });
  assert.equal(resp.command_status, 0);
  assert.equal((await counters(j))['core.receipts_unknown'] ?? 0, 0, 'the receipt was matched');
  await waitFor(async () => (await statusOf(j, waiting.id)) === 'delivered', 5000, 'delivered by its receipt');
});

// Done is final or submitted without a receipt asked for: both are purged
// and counted; a message that asked for none waits for none (a receipt the
// SMSC sends anyway finds nothing).
test('core.purged counts the done messages purged: delivered ones and those that asked for no receipt', async (t) => {
  const N = 10, M = 5;
  const smsc = await startSmsc();
  const j = await startJunction({ params: { 'core.sweep_ms': 200, 'core.retention_s': 3600 } });
  t.after(async () => { await j.cleanup(); await smsc.stop(); });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: smppConf(smsc, 'jop') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await waitBound(j, 'op');
  const receipts = autoReceipts(smsc);
  t.after(() => receipts.stop());
  for (let i = 0; i < N; i++)
    await j.mi('messages.inject', { from: '4930111', to: `4477007002${i}`, body: `counted ${i}` });
  for (let i = 0; i < M; i++)
    await j.mi('messages.inject', { from: '4930111', to: `4477007003${i}`, body: `no receipt ${i}`,
      registered_delivery: 0 });
  await waitFor(() => count(j, "messages WHERE status = 'delivered'") === N, 10000, `${N} delivered`);
  await waitFor(async () => ((await counters(j))['core.receipts_unknown'] ?? 0) === M, 10000,
    `the ${M} receipts nobody asked for matched nothing`);
  assert.equal(count(j, "messages WHERE status = 'submitted'"), M, 'submitted is where they end');
  assert.ok(smsc.submits.filter((p) => p.short_message.message.startsWith('no receipt'))
    .every((p) => p.registered_delivery === 0), 'the SMSC was asked for no receipt');
  await waitFor(() => Date.now() - sql(j, 'SELECT max(updated_at) AS t FROM messages;')[0].t > 1100,
    5000, 'the rows a second old');
  await j.mi('params.set', { name: 'core.retention_s', value: '1' }); // one batch takes all
  await waitFor(() => count(j, 'messages') === 0, 5000, 'all purged');
  const purged = await waitFor(async () => {
    const n = (await counters(j))['core.purged'];
    return n >= N + M ? n : false;
  }, 2000, 'core.purged').catch(async () => (await counters(j))['core.purged']);
  assert.equal(purged, N + M, `${N} delivered and ${M} submitted messages purged`);
});

test('a submitted message without a receipt expires after core.receipt_wait_s; one with its receipt is delivered', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop()); // also when junction fails to start
  const j = await startJunction({ params: { 'core.sweep_ms': 200, 'core.receipt_wait_s': 1 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: smppConf(smsc, 'jop') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await waitBound(j, 'op');
  const silent = await j.mi('messages.inject', { from: '4930111', to: '447700700010', body: 'never confirmed' });
  const confirmed = await j.mi('messages.inject', { from: '4930111', to: '447700700011', body: 'confirmed' });
  await waitFor(async () => (await statusOf(j, silent.id)) === 'submitted' &&
    (await statusOf(j, confirmed.id)) === 'submitted', 10000, 'both submitted');
  const remote = smsc.submits.find((p) => p.short_message.message === 'confirmed').smsc_message_id;
  const resp = await smsc.deliver({ esm_class: 0x04, source_addr: '447700700011', destination_addr: '4930111',
    short_message: receiptText(remote) });
  assert.equal(resp.command_status, 0);
  await waitFor(async () => (await statusOf(j, confirmed.id)) === 'delivered', 5000, 'delivered by its receipt');

  await waitFor(async () => (await statusOf(j, silent.id)) === 'expired', 5000, 'expired without a receipt');
  const m = await j.mi('messages.get', { id: silent.id });
  assert.match(m.reason_text, /no delivery receipt/);
  assert.ok(m.updated_at - m.created_at >= 1000, `expired ${m.updated_at - m.created_at} ms after it was made`);
  const d = await j.mi('messages.get', { id: confirmed.id });
  assert.equal(d.status, 'delivered', 'the one with its receipt is not expired');
  assert.ok((await counters(j))['core.swept'] >= 1);
});

// With one validity for all, the sweep expires the ten in memory, the pump
// then asks for a page before the store sweep's turn, and the rows only in
// the store come back ten at a time to expire in memory (core.swept stays 0,
// core.queue_paged 90); the next test makes the store sweep do the work.
test('a spilled backlog expires whole: the part in memory and the part only in the store', async (t) => {
  const N = 100;
  const dead = await startSmsc();
  await dead.stop();
  const j = await startJunction({ params: { 'core.queue_memory': 10, 'core.validity_s': 2, 'core.sweep_ms': 200 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: smppConf(dead, 'jd') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'down' });
  const ids = [];
  for (let i = 0; i < N; i += 20) {
    const burst = [];
    for (let k = i; k < i + 20; k++)
      burst.push(j.mi('messages.inject', { from: '4930111', to: `44770071${String(k).padStart(4, '0')}`, body: `q ${k}` }));
    for (const r of await Promise.all(burst)) ids.push(r.id);
  }
  const q = await queue(j, 'down');
  assert.equal(q.backlog, N, 'all queued');
  assert.ok(q.memory <= 20, `at most core.queue_memory in the FIFO and as many held aside, got ${q.memory}`);
  assert.equal(q.spilled, true, 'the rest only in the store');
  assert.ok(count(j, "messages WHERE status = 'expired'") === 0, 'none expired before its validity');

  await waitFor(() => count(j, "messages WHERE status = 'expired'") === N, 10000, `${N} expired`);
  for (const id of ids) {
    const m = await j.mi('messages.get', { id });
    assert.equal(m.status, 'expired', id);
    assert.match(m.reason_text ?? '', /validity/, `${id}: ${m.reason_text}`);
  }
  await waitFor(async () => (await queue(j, 'down')).backlog === 0, 5000, 'backlog back to 0');
  await waitFor(async () => (await queue(j, 'down')).spilled === false, 5000, 'no longer spilled');
  const after = await queue(j, 'down');
  assert.equal(after.memory, 0);
  const c = await counters(j);
  t.diagnostic(`expired in the store by the sweep: ${c['core.swept']}; paged back: ${c['core.queue_paged']}`);
});

test('rows only in the store expire by the store sweep while valid ones in memory stay queued', async (t) => {
  const dead = await startSmsc();
  await dead.stop();
  const j = await startJunction({ params: { 'core.queue_memory': 10, 'core.validity_s': 3600, 'core.sweep_ms': 200 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: smppConf(dead, 'jd') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'down' });
  const valid = [];
  for (let i = 0; i < 10; i++)
    valid.push((await j.mi('messages.inject', { from: '4930111', to: `44770072${String(i).padStart(4, '0')}`, body: `v ${i}` })).id);
  // the next ones, past core.queue_memory, only in the store, valid 1 s
  await j.mi('params.set', { name: 'core.validity_s', value: '1' });
  const shortLived = [];
  for (let i = 0; i < 90; i += 15) {
    const burst = [];
    for (let k = i; k < i + 15; k++)
      burst.push(j.mi('messages.inject', { from: '4930111', to: `44770073${String(k).padStart(4, '0')}`, body: `s ${k}` }));
    for (const r of await Promise.all(burst)) shortLived.push(r.id);
  }
  const q = await queue(j, 'down');
  assert.equal(q.backlog, 100);
  // the FIFO, and as many again held aside while spilled
  assert.equal(q.memory, 20);
  assert.equal(q.spilled, true);
  await waitFor(async () => (await queue(j, 'down')).backlog === 10, 10000, 'the 90 in the store expired');
  assert.equal(count(j, "messages WHERE status = 'expired'"), 90);
  for (const id of shortLived) assert.equal(await statusOf(j, id), 'expired', id);
  for (const id of valid) assert.equal(await statusOf(j, id), 'queued', id);
  const c = await counters(j);
  // the 10 held aside expire in memory, the 80 only in the store by the sweep there
  assert.equal(c['core.swept'], 80, 'expired by the sweep in the store, not paged back');
  assert.equal(c['core.queue_paged'] ?? 0, 0);
});
