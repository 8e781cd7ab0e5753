// The delivery core against real SMPP peers: failover to the next target
// of a plan (a permanent refusal, a target that stays down), expiry of
// queued messages, admission control (SIP 503 + Retry-After, SMPP
// ESME_RTHROTTLED) with every accepted message delivered later, and a
// connector that comes back draining a backlog that spilled to the store
// while new traffic keeps flowing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound, bindCustomer, submit } from './lib/smsc.mjs';

const smppConf = (smsc, id) => ({ host: '127.0.0.1', port: smsc.port, system_id: id, password: 'pw' });
const ESME_RINVDSTADR = 0x0b;
const ESME_RTHROTTLED = 0x58;

async function inject(j, to, body) {
  return j.mi('messages.inject', { from: '4930111', to, body });
}

async function statusOf(j, id) {
  return (await j.mi('messages.get', { id })).status;
}

async function queue(j, name) {
  return (await j.mi('queues.list')).find((q) => q.name === name);
}

test('a permanent refusal moves the message to the next target of its plan', async (t) => {
  let refused = 0;
  const refusing = await startSmsc({ submitStatus: () => { refused++; return ESME_RINVDSTADR; } });
  const good = await startSmsc();
  const j = await startJunction();
  t.after(async () => { await j.cleanup(); await refusing.stop(); await good.stop(); });
  await j.mi('connectors.add', { name: 'a', type: 'smpp', conf: smppConf(refusing, 'ja') });
  await j.mi('connectors.add', { name: 'b', type: 'smpp', conf: smppConf(good, 'jb') });
  await waitBound(j, 'a');
  await waitBound(j, 'b');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'a,b' });
  const { id } = await inject(j, '447700900001', 'fail me over');
  await waitFor(async () => (await statusOf(j, id)) === 'submitted', 10000, 'submitted via b');
  assert.equal(refused, 1, 'a was tried first');
  assert.equal(good.submits.length, 1);
  assert.equal(good.submits[0].short_message.message, 'fail me over');
  const m = await j.mi('messages.get', { id });
  assert.equal(m.target, 'b');
  assert.equal(m.cur, 1);
  assert.equal(m.plan, 'failover:a,b');
  assert.equal(m.tries, '1,1');
});

test('a refusal on the last target fails the message', async (t) => {
  const refusing = await startSmsc({ submitStatus: () => ESME_RINVDSTADR });
  const j = await startJunction();
  t.after(async () => { await j.cleanup(); await refusing.stop(); });
  await j.mi('connectors.add', { name: 'a', type: 'smpp', conf: smppConf(refusing, 'ja') });
  await waitBound(j, 'a');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'a' });
  const { id } = await inject(j, '447700900002', 'nowhere to go');
  await waitFor(async () => (await statusOf(j, id)) === 'failed', 10000, 'failed');
  assert.equal((await j.mi('messages.get', { id })).reason, ESME_RINVDSTADR);
});

test('a target that stays down hands its queue to the next target', async (t) => {
  const dead = await startSmsc();
  await dead.stop(); // its port is closed: the connector never binds
  const good = await startSmsc();
  const j = await startJunction({ params: { 'core.failover_after_s': 1, 'core.sweep_ms': 200 } });
  t.after(async () => { await j.cleanup(); await good.stop(); });
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: smppConf(dead, 'jd') });
  await j.mi('connectors.add', { name: 'up', type: 'smpp', conf: smppConf(good, 'ju') });
  await waitBound(j, 'up');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'down,up' });
  await j.mi('routes.add', { name: 'de', priority: 20, dst_prefix: '49', target: 'down' });
  const moved = await inject(j, '447700900003', 'around the dead one');
  const stuck = await inject(j, '4915100000003', 'single target');
  await waitFor(() => good.submits.length === 1, 10000, 'the message at the live SMSC');
  assert.equal(good.submits[0].short_message.message, 'around the dead one');
  await waitFor(async () => (await statusOf(j, moved.id)) === 'submitted', 5000, 'submitted');
  // the single-target message has nowhere to go: it waits, queued
  assert.equal(await statusOf(j, stuck.id), 'queued');
  const q = await queue(j, 'down');
  assert.equal(q.backlog, 1);
  assert.ok(q.down_s >= 1, `down for ${q.down_s} s`);
  assert.ok((await j.mi('stats.get')).counters['core.moved'] >= 1);
});

test('a queued message expires when its validity passes', async (t) => {
  const dead = await startSmsc();
  await dead.stop();
  const j = await startJunction({ params: { 'core.validity_s': 1, 'core.sweep_ms': 200 } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: smppConf(dead, 'jd') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'down' });
  const { id } = await inject(j, '447700900004', 'too late');
  assert.equal(await statusOf(j, id), 'queued');
  await waitFor(async () => (await statusOf(j, id)) === 'expired', 5000, 'expired');
  assert.equal((await queue(j, 'down')).backlog, 0);
});

function sipMessage(sock, port, to, callId) {
  const body = 'overload';
  const req = `MESSAGE sip:${to}@127.0.0.1:${port} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bK-${callId};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:+4930111@127.0.0.1>;tag=f1\r\n' +
    `To: <sip:${to}@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\n` +
    `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no SIP response')), 10000);
    const onMsg = (m) => {
      const text = m.toString('utf8');
      if (!text.includes(`Call-ID: ${callId}`)) return;
      sock.off('message', onMsg);
      clearTimeout(timer);
      resolve(text);
    };
    sock.on('message', onMsg);
    sock.send(Buffer.from(req), port, '127.0.0.1');
  });
}

test('past a connector backlog new messages are refused (503, ESME_RTHROTTLED), none accepted is lost', async (t) => {
  const smsc = await startSmsc();
  await smsc.stop(); // down while the backlog builds
  const j = await startJunction({ params: { 'core.queue_max': 5, 'smpp.reconnect_s': 1 } });
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  t.after(async () => { sock.close(); await j.cleanup(); await smsc.stop(); });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: smppConf(smsc, 'jo') });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'cust', password: 'pw' });
  const { session } = await bindCustomer(j.ports.smpp, 'cust', 'pw');
  t.after(() => session.close());
  const accepted = [];
  for (let i = 0; i < 5; i++) accepted.push((await inject(j, `4477009001${i}`, `kept ${i}`)).id);
  assert.equal((await queue(j, 'op')).backlog, 5);
  // the sixth, on each surface
  const sip = await sipMessage(sock, j.ports.sip, '+447700900199', 'over-1');
  assert.match(sip, /^SIP\/2\.0 503 /);
  assert.match(sip, /\r\nRetry-After: \d+\r\n/i);
  const r = await submit(session, { destination_addr: '447700900198', short_message: 'x' });
  assert.equal(r.command_status, ESME_RTHROTTLED);
  await assert.rejects(inject(j, '447700900197', 'x'), (e) => e.rpc.code === -32010);
  assert.ok((await j.mi('stats.get')).counters['core.overload'] >= 3);
  // the SMSC returns: exactly the accepted five arrive
  await smsc.start();
  await waitFor(() => smsc.submits.length === 5, 20000, 'the five accepted messages');
  assert.deepEqual(smsc.submits.map((p) => p.short_message.message).sort(),
    [0, 1, 2, 3, 4].map((i) => `kept ${i}`));
  for (const id of accepted)
    await waitFor(async () => (await statusOf(j, id)) === 'submitted', 5000, `${id} submitted`);
});

test('a connector back after an outage drains its spilled backlog while new traffic flows', async (t) => {
  const smsc = await startSmsc();
  await smsc.stop();
  const j = await startJunction({ params: { 'core.queue_memory': 10, 'smpp.reconnect_s': 1 } });
  t.after(async () => { await j.cleanup(); await smsc.stop(); });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: { ...smppConf(smsc, 'jo'), window: 5 } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  const N = 120;
  for (let i = 0; i < N; i++) await inject(j, `44770091${String(i).padStart(4, '0')}`, `old ${i}`);
  const q = await queue(j, 'op');
  assert.equal(q.backlog, N);
  assert.ok(q.memory <= 20, `at most core.queue_memory in the FIFO and as many held aside, got ${q.memory}`);
  assert.equal(q.spilled, true);
  await smsc.start();
  // new traffic while the backlog drains
  const fresh = [];
  for (let i = 0; i < 20; i++) fresh.push((await inject(j, `44770092${String(i).padStart(4, '0')}`, `new ${i}`)).id);
  await waitFor(() => smsc.submits.length >= N + 20, 30000, `${N + 20} submits (got ${smsc.submits.length})`);
  const texts = smsc.submits.map((p) => p.short_message.message);
  assert.equal(new Set(texts).size, N + 20, 'no message twice');
  // oldest first: the backlog keeps its order
  const olds = texts.filter((s) => s.startsWith('old ')).map((s) => Number(s.slice(4)));
  assert.deepEqual(olds, [...olds].sort((a, b) => a - b));
  const c = (await j.mi('stats.get')).counters;
  assert.ok(c['core.queue_pages'] >= 1, 'the backlog was paged back from the store');
  await waitFor(async () => (await queue(j, 'op')).backlog === 0, 10000, 'an empty queue');
  assert.equal((await queue(j, 'op')).spilled, false);
});

// While a queue is spilled its arrivals are held aside and a page reads
// the store only up to the first of them; once a short page brought the
// rest, the held ones follow: the order stays the store's, nothing is
// lost or sent twice, and the spill ends once the backlog is read.
test('a spilled queue keeps its order and ends its spill while new traffic arrives', async (t) => {
  const smsc = await startSmsc();
  await smsc.stop();
  const j = await startJunction({ params: { 'core.queue_memory': 200, 'smpp.reconnect_s': 1 } });
  t.after(async () => { await j.cleanup(); await smsc.stop(); });
  await j.mi('connectors.add', { name: 'op', type: 'smpp', conf: { ...smppConf(smsc, 'js'), window: 100 } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  await j.mi('accounts.add', { system_id: 'cust', password: 'pw' });
  const { session } = await bindCustomer(j.ports.smpp, 'cust', 'pw');
  t.after(() => session.close());
  const OLD = 1000, NEW = 1500;
  let next = 0;
  const send = (prefix, n) => async () => {
    while (next < n) {
      const i = next++;
      const r = await submit(session, { destination_addr: `${prefix}${String(i).padStart(5, '0')}`,
        short_message: `${prefix} ${i}` });
      assert.equal(r.command_status, 0);
    }
  };
  await Promise.all(Array.from({ length: 20 }, send('4477009', OLD)));
  const q0 = await queue(j, 'op');
  assert.equal(q0.spilled, true);
  assert.ok(q0.memory <= 400, `the FIFO and the held arrivals: ${q0.memory}`);
  await smsc.start();
  next = 0;
  await Promise.all(Array.from({ length: 4 }, send('4477010', NEW)));
  await waitFor(() => smsc.submits.length >= OLD + NEW, 30000, `${OLD + NEW} submits (got ${smsc.submits.length})`);
  const texts = smsc.submits.map((p) => p.short_message.message);
  assert.equal(new Set(texts).size, OLD + NEW, 'no message twice');
  // the store's order: every old message before every new one, each
  // group in the order it was accepted
  const lastOld = texts.map((s) => s.startsWith('4477009')).lastIndexOf(true);
  const firstNew = texts.findIndex((s) => s.startsWith('4477010'));
  assert.ok(lastOld < firstNew, `old ones first (last old at ${lastOld}, first new at ${firstNew})`);
  await waitFor(async () => !(await queue(j, 'op')).spilled, 10000, 'the spill ended');
  const c = (await j.mi('stats.get')).counters;
  t.diagnostic(`paged back ${c['core.queue_paged']} of ${OLD + NEW}`);
});

// An operator's agreed rate: the connector's "throughput" bounds what the
// core hands it, so a backlog drains at that rate, oldest first, while new
// traffic is still accepted and queues behind it.
test('a connector back after an outage drains its backlog at its throughput limit while new traffic is accepted', async (t) => {
  const times = [];
  const smsc = await startSmsc({ submitStatus: () => { times.push(Date.now()); return 0; } });
  await smsc.stop();
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(async () => { await j.cleanup(); await smsc.stop(); });
  const RATE = 40, OLD = 80, NEW = 20;
  await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'smpp',
    conf: { ...smppConf(smsc, 'jb'), throughput: -1 } }), /throughput/);
  await j.mi('connectors.add', { name: 'op', type: 'smpp',
    conf: { ...smppConf(smsc, 'jt'), window: 10, throughput: RATE } });
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'op' });
  for (let i = 0; i < OLD; i++) await inject(j, `44770095${String(i).padStart(4, '0')}`, `old ${i}`);
  assert.equal((await queue(j, 'op')).backlog, OLD);
  await smsc.start();
  await waitBound(j, 'op');
  for (let i = 0; i < NEW; i++) await inject(j, `44770096${String(i).padStart(4, '0')}`, `new ${i}`);
  await waitFor(() => smsc.submits.length >= OLD + NEW, 20000, `${OLD + NEW} submits (got ${smsc.submits.length})`);
  const texts = smsc.submits.map((p) => p.short_message.message);
  assert.equal(new Set(texts).size, OLD + NEW, 'no message twice');
  const lastOld = texts.map((s) => s.startsWith('old ')).lastIndexOf(true);
  assert.ok(lastOld < texts.findIndex((s) => s.startsWith('new ')), 'the backlog first, then the new traffic');
  // at most a twentieth of a second of sends at once (and one), then RATE/s
  const spanS = (times[times.length - 1] - times[0]) / 1000;
  const leastS = (OLD + NEW - Math.max(1, RATE / 20)) / RATE;
  t.diagnostic(`${OLD + NEW} submits over ${spanS.toFixed(2)} s; the limit allows no less than ${leastS.toFixed(2)} s`);
  assert.ok(spanS >= 0.9 * leastS, `drained at the limit: ${spanS} s for ${OLD + NEW} at ${RATE}/s`);
});
