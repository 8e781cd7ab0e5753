// Flood protection of the SIP adapter (docs/sip-auth.md "Flood
// protection", adapters/sip/sip_flood.c): a burst over sip.flood_rate from
// one source is refused 503 with Retry-After (or dropped with
// sip.flood_action = drop) while another source is served; refusals past
// sip.ban_after ban the source (sip.bans.list, its packets dropped
// unread, counted); sip.bans.delete lifts the ban; a trusted source is
// never limited.
//
// Sources are node UDP sockets on 127.0.0.x, one address per case (each
// its own bucket); only 127.0.0.1 stays trusted.  The requests are
// OPTIONS for junction (answered 200 by it), so what each source gets back
// is exactly junction's verdict.  Waits are for packets or counters,
// bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor } from './lib/junction.mjs';

const rnd = () => Math.random().toString(16).slice(2);
const statusOf = (m) => Number(m.split(' ')[1]);

let j;

before(async () => {
  j = await startJunction({ params: { 'sip.flood_rate': 2, 'sip.flood_burst': 4, 'sip.ban_after': 0 } });
  await j.mi('trusted.delete', { net: '127.0.0.0/8' });
  await j.mi('trusted.add', { net: '127.0.0.1/32', name: 'self' });
});

after(async () => {
  await j?.cleanup();
});

const counters = async () => (await j.mi('stats.get')).counters;
const counter = async (name) => (await counters())[name] ?? 0;

// A source on addr: burst(n) sends n OPTIONS back to back; got lists what came back.
async function source(addr) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, addr, resolve));
  const s = { addr, port: sock.address().port, got: [] };
  sock.on('message', (m) => s.got.push(m.toString('utf8')));
  s.options = (tag = rnd()) => [
    `OPTIONS sip:127.0.0.1:${j.ports.sip} SIP/2.0`,
    `Via: SIP/2.0/UDP ${addr}:${s.port};branch=z9hG4bK-${tag};rport`,
    'Max-Forwards: 70', `From: <sip:flood@${addr}>;tag=${tag}`, `To: <sip:127.0.0.1:${j.ports.sip}>`,
    `Call-ID: fl-${tag}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');
  s.send = (text) => new Promise((resolve, reject) =>
    sock.send(text, j.ports.sip, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.burst = async (n) => {
    const tags = [];
    for (let i = 0; i < n; i++) { tags.push(rnd()); await s.send(s.options(tags[i])); }
    return tags;
  };
  // the responses to tags, once each has one (bounded)
  s.answers = (tags) => waitFor(() => {
    const a = tags.map((t) => s.got.find((m) => m.includes(`branch=z9hG4bK-${t}`)));
    return a.every(Boolean) && a;
  }, 8000, `answers from ${addr}`);
  s.close = () => new Promise((resolve) => sock.close(resolve));
  return s;
}

test('a burst over sip.flood_rate from one source gets 503 with Retry-After while another source is served', async () => {
  const a = await source('127.0.0.2');
  const b = await source('127.0.0.3');
  try {
    const limited = await counter('sip.flood_limited');
    const t0 = Date.now();
    const answers = await a.answers(await a.burst(20));
    const elapsed = (Date.now() - t0) / 1000;
    const ok = answers.filter((m) => statusOf(m) === 200);
    const refused = answers.filter((m) => statusOf(m) === 503);
    assert.equal(ok.length + refused.length, 20, answers.map((m) => m.split('\r\n')[0]).join('\n'));
    // the burst, and what the rate refilled while it was sent and answered
    assert.ok(ok.length >= 4 && ok.length <= 4 + Math.ceil(2 * elapsed) + 1, `${ok.length} taken in ${elapsed}s`);
    assert.ok(refused.length >= 1);
    for (const m of refused) {
      assert.match(m, /^SIP\/2.0 503 /);
      assert.match(m, /\r\nRetry-After: 1\r\n/);
      assert.match(m, /\r\nVia: SIP\/2.0\/UDP 127\.0\.0\.2:/);
    }
    assert.equal(await counter('sip.flood_limited'), limited + refused.length);
    // another source has its own bucket
    const [other] = await b.answers(await b.burst(1));
    assert.equal(statusOf(other), 200, other);
  } finally {
    await a.close();
    await b.close();
  }
});

test('with sip.flood_action drop the requests over the rate get nothing, and are counted', async () => {
  const a = await source('127.0.0.4');
  await j.mi('params.set', { name: 'sip.flood_action', value: 'drop' });
  try {
    const limited = await counter('sip.flood_limited');
    const tags = await a.burst(20);
    // every request is either answered or counted as limited
    await waitFor(async () => a.got.length + (await counter('sip.flood_limited')) - limited >= 20, 8000,
      'each request answered or limited');
    const n = (await counter('sip.flood_limited')) - limited;
    assert.ok(n >= 1, 'some were limited');
    assert.equal(a.got.length, 20 - n, 'a limited request gets no answer');
    assert.ok(a.got.every((m) => statusOf(m) === 200), a.got.map((m) => m.split('\r\n')[0]).join('\n'));
    assert.equal(tags.length, 20);
  } finally {
    await j.mi('params.set', { name: 'sip.flood_action', value: '503' });
    await a.close();
  }
});

test('refusals past sip.ban_after ban the source: sip.bans.list shows it, its packets are dropped and counted; sip.bans.delete lifts the ban', async () => {
  const a = await source('127.0.0.5');
  await j.mi('params.set', { name: 'sip.ban_after', value: '5' });
  await j.mi('params.set', { name: 'sip.ban_s', value: '600' });
  try {
    const c0 = await counters();
    const { id } = await j.mi('trace.start', { peer: '127.0.0.5' });
    await a.burst(30);
    const ban = await waitFor(async () => (await j.mi('sip.bans.list')).find((x) => x.ip === '127.0.0.5'), 8000, 'the ban');
    assert.match(ban.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Date.parse(ban.until) - Date.parse(ban.since) === 600000, JSON.stringify(ban));
    assert.match(ban.reason, /5 requests over sip\.flood_rate/);
    // every packet after the ban is dropped unread: 30 = taken + 5 refused + dropped
    await waitFor(async () => {
      const c = await counters();
      return c['sip.flood_limited'] - (c0['sip.flood_limited'] ?? 0) === 5 &&
        (c['sip.flood_dropped'] - (c0['sip.flood_dropped'] ?? 0)) + 5 + a.got.filter((m) => statusOf(m) === 200).length === 30;
    }, 8000, 'the rest dropped');
    assert.equal(a.got.filter((m) => statusOf(m) === 503).length, 5, 'five refused 503, then nothing');
    const c1 = await counters();
    assert.equal(c1['sip.bans_active'], 1);
    assert.equal(c1['sip.bans_total'], (c0['sip.bans_total'] ?? 0) + 1);
    const hits = (await j.mi('sip.bans.list')).find((x) => x.ip === '127.0.0.5').hits;
    assert.equal(hits, c1['sip.flood_dropped'] - (c0['sip.flood_dropped'] ?? 0));
    // a response from the banned source is dropped too
    const n = a.got.length;
    await a.send(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:${j.ports.sip};branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
    await waitFor(async () => (await counter('sip.flood_dropped')) === c1['sip.flood_dropped'] + 1, 8000, 'the response dropped');
    // the refusals and the ban are trace records of the source
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((x) => x.summary);
    await j.mi('trace.stop', { id });
    assert.equal(recs.filter((x) => x === 'flood: request over sip.flood_rate 2/s (burst 4): 503').length, 5, JSON.stringify(recs));
    assert.ok(recs.includes('flood: source banned for 600 s after 5 refusals (sip.ban_after)'), JSON.stringify(recs));
    // the metrics show the same
    const metrics = await (await j.http('/metrics')).text();
    assert.match(metrics, /\njunction_sip_bans_active 1\n/);
    // lifted: the next request is answered
    assert.deepEqual(await j.mi('sip.bans.delete', { ip: '127.0.0.5' }), { deleted: '127.0.0.5' });
    assert.deepEqual(await j.mi('sip.bans.list'), []);
    assert.equal(await counter('sip.bans_active'), 0);
    const [r] = await a.answers(await a.burst(1));
    assert.equal(statusOf(r), 200, r);
    assert.ok(a.got.length === n + 1);
    await assert.rejects(j.mi('sip.bans.delete', { ip: '127.0.0.5' }), /not banned/);
  } finally {
    await j.mi('params.set', { name: 'sip.ban_after', value: '0' });
    await a.close();
  }
});

test('a trusted source is never limited nor banned', async () => {
  const a = await source('127.0.0.1');
  await j.mi('params.set', { name: 'sip.ban_after', value: '2' });
  try {
    const limited = await counter('sip.flood_limited');
    const answers = await a.answers(await a.burst(30));
    assert.ok(answers.every((m) => statusOf(m) === 200), answers.map((m) => m.split('\r\n')[0]).join('\n'));
    assert.equal(await counter('sip.flood_limited'), limited);
    assert.equal((await j.mi('sip.bans.list')).length, 0);
  } finally {
    await j.mi('params.set', { name: 'sip.ban_after', value: '0' });
    await a.close();
  }
});
