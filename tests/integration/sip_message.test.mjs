// SIP MESSAGE through junction: a real UAC (SIPp) sends MESSAGE to junction,
// which routes it to a "sip" connector pointing at a real UAS (SIPp).  The
// assertions read what the far UAS actually received (its -message_file),
// the codes the UAC got, and junction's counters.  Malformed requests and
// retransmissions are sent as raw UDP from node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { startJunction, freePort, waitFor, sleep } from './lib/junction.mjs';
import { runSipp, startSipp, stopAllSipp, loggedMessages } from './lib/sipp.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

let j;
let uas;
let uasPort;
let busy;
let smsc;

const counters = async () => (await j.mi('stats.get')).counters;
const connector = async (name) => (await j.mi('connectors.list')).find((c) => c.name === name);
const uasMessages = (h) => loggedMessages(h.messageFile, 'received').filter((m) => m.startsWith('MESSAGE '));

before(async () => {
  j = await startJunction({ params: { 'core.retry_base_ms': 200 } });
  uasPort = await freePort();
  uas = startSipp({ scenario: 'uas_message.xml', dir: j.dir, name: 'uas', localPort: uasPort });
  const busyPort = await freePort();
  busy = startSipp({ scenario: 'uas_reject.xml', dir: j.dir, name: 'busy', localPort: busyPort });
  await j.mi('connectors.add', { name: 'far', type: 'sip', conf: { uri: `sip:127.0.0.1:${uasPort}` } });
  await j.mi('connectors.add', { name: 'busy', type: 'sip', conf: { uri: `sip:127.0.0.1:${busyPort}` } });
  await j.mi('routes.add', { name: 'to-far', priority: 10, dst_prefix: '49', target: 'far' });
  await j.mi('routes.add', { name: 'to-busy', priority: 20, dst_prefix: '44', target: 'busy' });
  // 4917... goes to an SMSC: what SMPP sees of SIP and MI addresses
  smsc = await startSmsc();
  await j.mi('connectors.add', {
    name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' },
  });
  await j.mi('routes.add', { name: 'to-smsc', priority: 1, dst_prefix: '4917', target: 'smsc' });
  await waitBound(j, 'smsc');
});

after(async () => {
  await stopAllSipp();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

// A UDP client on 127.0.0.1 that collects every datagram it gets back.
async function rawClient() {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const c = { port: sock.address().port, responses: [] };
  sock.on('message', (m) => c.responses.push(m.toString('utf8')));
  c.send = (buf) => new Promise((resolve, reject) =>
    sock.send(buf, j.ports.sip, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  c.wait = (n, ms = 5000) => waitFor(() => c.responses.length >= n, ms, `${n} SIP response(s)`);
  c.close = () => new Promise((resolve) => sock.close(resolve));
  return c;
}

// A request as bytes.  omit: header names to leave out; body may be a Buffer;
// ruri and to replace the Request-URI and the To header value.
function request(c, o = {}) {
  const method = o.method || 'MESSAGE';
  const user = o.user || '+4915112345678';
  const body = Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body ?? 'hello', 'utf8');
  const headers = [
    ['Via', `SIP/2.0/UDP 127.0.0.1:${c.port};branch=${o.branch || `z9hG4bK-${Math.random().toString(16).slice(2)}`};rport`],
    ['Max-Forwards', o.maxForwards ?? '70'],
    ['From', '<sip:bob@127.0.0.1>;tag=raw1'],
    ['To', o.to || `<sip:${user}@127.0.0.1>`],
    ['Call-ID', o.callId || `raw-${Math.random().toString(16).slice(2)}`],
    ['CSeq', `1 ${method}`],
    ['Content-Type', o.contentType || 'text/plain;charset=UTF-8'],
  ].filter(([name]) => !(o.omit || []).includes(name));
  const ruri = o.ruri || `sip:${user}@127.0.0.1:${j.ports.sip}`;
  const head = `${method} ${ruri} SIP/2.0\r\n` +
    headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') +
    (o.rawHeaders || '') + `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}

const statusOf = (resp) => Number(resp.split(' ')[1]);

// A scripted far-end UAS on a node UDP socket: answer(req, n) returns the
// status line ("200 OK") for the n-th MESSAGE received (0-based), or null
// to stay silent.  Every received request is kept in u.requests.
async function scriptedUas(answer) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const u = { port: sock.address().port, requests: [] };
  sock.on('message', (m, rinfo) => {
    const req = m.toString('utf8');
    const status = answer(req, u.requests.length);
    u.requests.push(req);
    if (!status) return;
    const keep = req.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .map((l) => (/^To:/i.test(l) ? `${l};tag=far1` : l));
    const resp = `SIP/2.0 ${status}\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
    sock.send(Buffer.from(resp), rinfo.port, rinfo.address);
  });
  u.close = () => new Promise((resolve) => sock.close(resolve));
  return u;
}

const branchOf = (req) => req.match(/\r\nVia: [^\r]*;branch=([^;\r]+)/)[1];

test('MESSAGE from a SIP UAC is answered 202 and delivered to the SIP connector', async () => {
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'uac202', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: '+4915112345678',
  });
  assert.equal(h.exited.code, 0, h.explain());
  const got = await waitFor(() => uasMessages(uas).find((m) => m.includes('Hello Junction 1')), 10000,
    'the MESSAGE at the far UAS');
  assert.match(got, new RegExp(`^MESSAGE sip:\\+4915112345678@127\\.0\\.0\\.1:${uasPort} SIP/2\\.0\r?\n`));
  assert.match(got, /\r?\nFrom: <sip:alice@127\.0\.0\.1:\d+>;tag=\w+/);
  assert.match(got, /\r?\nContent-Type: text\/plain;charset=UTF-8/);
  assert.match(got, /\r?\nUser-Agent: junction/);
  assert.match(got, /Hello Junction 1 grüße/);
  await waitFor(async () => (await connector('far')).status.sent === 1, 10000, 'far.sent == 1');
  const c = await counters();
  assert.ok(c['sip.tx_202'] >= 1);
  assert.ok(c['sip.tx_message'] >= 1);
});

test('MESSAGE over TCP is answered 202', async () => {
  const before202 = (await counters())['sip.tx_202'];
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'uactcp', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: '4930123456', args: ['-t', 't1'],
  });
  assert.equal(h.exited.code, 0, h.explain());
  assert.equal((await counters())['sip.tx_202'], before202 + 1);
  // all digits and longer than a short code: international, so '+' on the way out
  await waitFor(() => uasMessages(uas).find((m) => m.startsWith('MESSAGE sip:+4930123456@')), 10000,
    'the TCP MESSAGE at the far UAS');
});

test('a number without a route is answered 404', async () => {
  const h = await runSipp({
    scenario: 'uac_message_404.xml', dir: j.dir, name: 'uac404', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: '3312345',
  });
  assert.equal(h.exited.code, 0, h.explain());
});

test('malformed requests get a 4xx, garbage is dropped', async () => {
  const c = await rawClient();
  try {
    const drops = (await counters())['sip.drops'];
    const cases = [
      [{ omit: ['Call-ID'] }, 400, /Missing Call-ID/],
      [{ maxForwards: '0' }, 483, /Too Many Hops/],
      [{ contentType: 'application/json', body: '{}' }, 415, /Accept: text\/plain/],
      [{ body: Buffer.from([0x68, 0xc3, 0x28]) }, 400, /Invalid UTF-8/],
      [{ rawHeaders: 'Contact: <<<sip:broken\r\n', omit: ['From'] }, 400, null],
    ];
    for (const [o, status, re] of cases) {
      const n = c.responses.length;
      await c.send(request(c, o));
      await c.wait(n + 1);
      const r = c.responses[n];
      assert.equal(statusOf(r), status, `${JSON.stringify(o)} -> ${r}`);
      assert.match(r, /\r\nVia: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK-/);
      assert.match(r, /\r\nCSeq: 1 MESSAGE\r\n/);
      if (re) assert.match(r, re);
    }
    // a request line whose headers libosip2 cannot parse: 400 from the raw lines
    const n = c.responses.length;
    await c.send(Buffer.from(`MESSAGE sip:491@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bK-bad1\r\n` +
      'From: <<<sip:a@h>;tag=1\r\nTo: sip:1@h>>\r\nCall-ID: bad1\r\nCSeq: abc\r\n\r\n'));
    await c.wait(n + 1);
    assert.equal(statusOf(c.responses[n]), 400, c.responses[n]);
    assert.match(c.responses[n], /branch=z9hG4bK-bad1/);
    // not SIP at all: no answer, counted
    const before = c.responses.length;
    await c.send(Buffer.from('hello, is this the gateway?\r\n'));
    await c.send(Buffer.from([0, 1, 2, 3, 255]));
    await waitFor(async () => (await counters())['sip.drops'] >= drops + 2, 5000, 'sip.drops + 2');
    // and junction still serves; its answer comes after any it gave the
    // garbage (one worker serves this client's datagrams in order)
    await c.send(request(c, { method: 'OPTIONS', omit: ['Content-Type'], body: '' }));
    await c.wait(before + 1);
    assert.equal(statusOf(c.responses[before]), 200, 'the garbage got no answer');
  } finally {
    await c.close();
  }
});

const smscGot = (text) => waitFor(() => smsc.submits.find((p) => p.short_message.message === text),
  10000, `submit_sm "${text}" at the SMSC`);

test('MESSAGE tel:+49... is answered 202 and reaches the SMSC as TON 1 with the digits', async () => {
  const c = await rawClient();
  try {
    await c.send(request(c, { ruri: 'tel:+4917012345678', to: '<tel:+4917012345678>', body: 'to a tel URI' }));
    await c.wait(1);
    assert.equal(statusOf(c.responses[0]), 202, c.responses[0]);
    // a scheme that is no phone number nor SIP: 416, nothing stored
    await c.send(request(c, { ruri: 'mailto:bob@example.com', body: 'not for us' }));
    await c.wait(2);
    assert.equal(statusOf(c.responses[1]), 416, c.responses[1]);
  } finally {
    await c.close();
  }
  const pdu = await smscGot('to a tel URI');
  assert.equal(pdu.destination_addr, '4917012345678');
  assert.equal(pdu.dest_addr_ton, 1);
  assert.equal(pdu.dest_addr_npi, 1);
  assert.equal(pdu.source_addr, 'bob');
  assert.equal(pdu.source_addr_ton, 5);
});

test('4917... without a + is the same number at the SMSC from SIP and from the MI', async () => {
  const c = await rawClient();
  try {
    await c.send(request(c, { user: '4917012340001', body: 'plain digits via SIP' }));
    await c.wait(1);
    assert.equal(statusOf(c.responses[0]), 202, c.responses[0]);
  } finally {
    await c.close();
  }
  await j.mi('messages.inject', { from: 'MyShop', to: '4917012340002', body: 'plain digits via MI' });
  const sip = await smscGot('plain digits via SIP');
  const mi = await smscGot('plain digits via MI');
  assert.deepEqual([sip.destination_addr, sip.dest_addr_ton, sip.dest_addr_npi], ['4917012340001', 1, 1]);
  assert.deepEqual([mi.destination_addr, mi.dest_addr_ton, mi.dest_addr_npi], ['4917012340002', 1, 1]);
  assert.deepEqual([mi.source_addr, mi.source_addr_ton, mi.source_addr_npi], ['MyShop', 5, 0]);
  // and the MI refuses what no surface could carry
  await assert.rejects(j.mi('messages.inject', { from: 'a\r\nb', to: '4917012340003', body: 'x' }),
    /from: not an address/);
});

test('a connector with a bad uri is refused with the reason', async () => {
  await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'sip', conf: { uri: 'http://example.com' } }),
    /not a sip: URI/);
  await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'sip', conf: { uri: 'sip:h', transport: 'sctp' } }),
    /only "udp"/);
});

test('an unanswered MESSAGE is retransmitted (Timer E) until the far end answers', async () => {
  // silent for the first three copies, then 200 to the fourth
  const far = await scriptedUas((req, n) => (n >= 3 ? '200 OK' : null));
  try {
    await j.mi('connectors.add', { name: 'slow', type: 'sip', conf: { uri: `sip:127.0.0.1:${far.port}` } });
    await j.mi('routes.add', { name: 'to-slow', priority: 5, dst_prefix: '4966', target: 'slow' });
    const c = await rawClient();
    await c.send(request(c, { user: '+4966123', body: 'slowly' }));
    await c.wait(1);
    assert.equal(statusOf(c.responses[0]), 202);
    await c.close();
    await waitFor(async () => (await connector('slow')).status.sent === 1, 10000, 'slow.sent == 1');
    assert.equal(far.requests.length, 4);
    assert.equal(new Set(far.requests.map(branchOf)).size, 1, 'retransmissions keep the branch');
    assert.match(far.requests[0], /^MESSAGE sip:\+4966123@127\.0\.0\.1:\d+ SIP\/2\.0\r\n/);
    assert.match(far.requests[0], /\r\n\r\nslowly$/);
    assert.ok((await counters())['sip.tx_retrans'] >= 3);
  } finally {
    await far.close();
  }
});

test('a 503 from the far end is retried and then delivered', async () => {
  const far = await scriptedUas((req, n) => (n === 0 ? '503 Service Unavailable' : '200 OK'));
  try {
    await j.mi('connectors.add', { name: 'flaky', type: 'sip', conf: { uri: `sip:127.0.0.1:${far.port}` } });
    await j.mi('routes.add', { name: 'to-flaky', priority: 5, dst_prefix: '4977', target: 'flaky' });
    const c = await rawClient();
    await c.send(request(c, { user: '4977123', body: 'try again' }));
    await c.wait(1);
    assert.equal(statusOf(c.responses[0]), 202);
    await c.close();
    await waitFor(async () => (await connector('flaky')).status.sent === 1, 15000, 'flaky.sent == 1');
    assert.equal(far.requests.length, 2);
    assert.notEqual(branchOf(far.requests[0]), branchOf(far.requests[1]), 'a retry is a new transaction');
    assert.match(far.requests[1], /^MESSAGE sip:\+4977123@/);
    assert.equal((await connector('flaky')).status.failed, 1);
  } finally {
    await far.close();
  }
});

test('OPTIONS is answered 200; an INVITE goes to the proxy: 404 for a local user with no binding', async () => {
  const c = await rawClient();
  try {
    await c.send(request(c, { method: 'OPTIONS', omit: ['Content-Type'], body: '' }));
    await c.wait(1);
    assert.equal(statusOf(c.responses[0]), 200, c.responses[0]);
    assert.match(c.responses[0], /\r\nAllow: MESSAGE, OPTIONS, ACK, REGISTER\r\n/);
    assert.match(c.responses[0], /\r\nTo: <sip:\+4915112345678@127\.0\.0\.1>;tag=\w+\r\n/);
    assert.match(c.responses[0], new RegExp(`;rport=${c.port}`));
    await c.send(request(c, { method: 'INVITE', contentType: 'application/sdp', body: 'v=0\r\n' }));
    await waitFor(() => c.responses.some((r) => statusOf(r) >= 200 && r.includes('INVITE')), 5000, 'the INVITE\'s final');
    const inv = c.responses.filter((r) => r.includes(' INVITE\r\n'));
    assert.equal(statusOf(inv[0]), 100, inv[0]);
    assert.equal(statusOf(inv[inv.length - 1]), 404, inv[inv.length - 1]);
    const st = await j.mi('sip.stats');
    assert.equal(st.workers, 2);
    assert.ok(st.rx_requests >= 2);
  } finally {
    await c.close();
  }
});

test('a retransmitted MESSAGE yields one message and the same answer', async () => {
  const c = await rawClient();
  try {
    const before = await counters();
    const msg = request(c, { user: '+4915550001', body: 'retransmitted once', branch: 'z9hG4bK-retrans-1', callId: 'retrans-1' });
    await c.send(msg);
    await c.send(msg); // while pending (absorbed) or after the 202 (answered again)
    await c.wait(1);
    await c.send(msg); // after the 202: answered from the transaction table
    await c.wait(2);
    // every one of the three datagrams accounted for: one message, two
    // retransmissions, so no second envelope can come later
    const after = await waitFor(async () => {
      const n = await counters();
      return (n['sip.rx_message'] - before['sip.rx_message']) +
        (n['sip.rx_retrans'] - before['sip.rx_retrans']) >= 3 && n;
    }, 5000, 'three datagrams counted');
    assert.equal(after['sip.rx_message'] - before['sip.rx_message'], 1);
    assert.equal(after['sip.rx_retrans'] - before['sip.rx_retrans'], 2);
    assert.ok(c.responses.every((r) => statusOf(r) === 202), c.responses.join('\n'));
    const tags = new Set(c.responses.map((r) => r.match(/\r\nTo: [^\r]*;tag=(\w+)/)[1]));
    assert.equal(tags.size, 1, 'every answer carries the same To tag');
    await waitFor(() => uasMessages(uas).some((m) => m.includes('retransmitted once')), 10000, 'delivery');
    assert.equal(uasMessages(uas).filter((m) => m.includes('retransmitted once')).length, 1);
  } finally {
    await c.close();
  }
});

test('a final rejection by the far UAS fails the message', async () => {
  const h = await runSipp({
    scenario: 'uac_message_202.xml', dir: j.dir, name: 'uacbusy', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: '+442071234567',
  });
  assert.equal(h.exited.code, 0, h.explain());
  await waitFor(() => uasMessages(busy).some((m) => m.startsWith('MESSAGE sip:+442071234567@')), 10000,
    'the MESSAGE at the rejecting UAS');
  await waitFor(async () => (await connector('busy')).status.failed === 1, 10000, 'busy.failed == 1');
  assert.equal((await connector('busy')).status.sent, 0);
  // the far end saw it once: a 486 is final, no retransmission or retry
  await sleep(1000);
  assert.equal(uasMessages(busy).length, 1);
});

// Flow control towards a SIP target: a far end that never answers gets at
// most SIP_CONN_MAX_INFLIGHT (1024) MESSAGEs at a time; the others wait,
// accepted and stored, until transactions end.
test('a connector keeps at most 1024 MESSAGEs in flight to a silent far end', async () => {
  const mute = await scriptedUas(() => null);
  const c = await rawClient();
  await j.mi('connectors.add', { name: 'mute', type: 'sip', conf: { uri: `sip:127.0.0.1:${mute.port}` } });
  const route = await j.mi('routes.add', { name: 'to-mute', priority: 5, dst_prefix: '3399', target: 'mute' });
  try {
    const N = 1100;
    const reqs = [];
    for (let i = 0; i < N; i++) {
      reqs.push(request(c, { user: `+3399${String(i).padStart(6, '0')}`, callId: `cap-${i}`,
        branch: `z9hG4bK-cap-${i}` }));
    }
    const callIdOf = (m) => m.match(/\r\nCall-ID: *([^\r]+)/i)[1];
    const answered = () => new Map(c.responses.map((r) => [callIdOf(r), statusOf(r)]));
    // UDP: what a busy loopback drops is sent again, as a UAC retransmits
    for (let round = 0; round < 6 && answered().size < N; round++) {
      const got = answered();
      const todo = reqs.filter((_, i) => !got.has(`cap-${i}`));
      for (let k = 0; k < todo.length; k++) {
        await c.send(todo[k]);
        if (k % 50 === 0) await sleep(5);
      }
      await waitFor(() => answered().size >= N, 5000, 'answers').catch(() => {});
    }
    const finals = answered();
    assert.equal(finals.size, N, 'every MESSAGE answered');
    assert.ok([...finals.values()].every((st) => st === 202), 'every MESSAGE accepted');
    const sent = () => new Set(mute.requests.map(callIdOf));
    await waitFor(() => sent().size >= 1024, 20000, '1024 MESSAGEs at the far end');
    await sleep(2500); // the core offers the rest again every second: none may pass
    assert.equal(sent().size, 1024, 'no more than 1024 transactions at once');
    const st = (await connector('mute')).status;
    assert.equal(st.inflight, 1024);
  } finally {
    await j.mi('routes.delete', { id: route.id });
    await j.mi('connectors.delete', { name: 'mute' });
    await c.close();
    await mute.close();
  }
});

// Shutdown over TCP: a 202 written just before the workers stop must still
// reach the client, so every committed MESSAGE was answered 202 and every
// 202 stands for a committed MESSAGE.
test('SIGTERM while MESSAGEs arrive over TCP: 202s and committed rows are the same set', async () => {
  const k = await startJunction({ params: { 'log.level': 'info' } });
  const sock = net.connect(k.ports.sip, '127.0.0.1');
  let reset = null;
  sock.on('error', (e) => { reset = e.code; });
  try {
    await once(sock, 'connect');
    await k.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'nowhere' });
    const finals = new Map(); // Call-ID -> status
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) { // answers carry no body
        const resp = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const id = resp.match(/\r\nCall-ID: *([^\r]+)/i)?.[1];
        if (id) finals.set(id, statusOf(resp));
      }
    });
    const lport = sock.localPort;
    const N = 400;
    for (let i = 0; i < N && !sock.destroyed; i++) {
      const body = `tcp load ${i}`;
      sock.write(`MESSAGE sip:+4915100000${String(i).padStart(3, '0')}@127.0.0.1:${k.ports.sip} SIP/2.0\r\n` +
        `Via: SIP/2.0/TCP 127.0.0.1:${lport};branch=z9hG4bK-tcpdown-${i}\r\n` +
        'Max-Forwards: 70\r\nFrom: <sip:+4930111@127.0.0.1>;tag=f1\r\n' +
        `To: <sip:+49151@127.0.0.1>\r\nCall-ID: tcpdown-${i}\r\nCSeq: 1 MESSAGE\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      if (i === N / 2) k.proc.kill('SIGTERM');
      if (i % 10 === 0) await sleep(2);
    }
    await waitFor(() => k.exited, 15000, 'junction exit');
    assert.deepEqual(k.exited, { code: 0, sig: null }, k.log);
    await sleep(200);
    const r = spawnSync('sqlite3', [k.params['db.path'],
      "SELECT json_extract(envelope, '$.corr.sip_call_id') FROM messages;"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const stored = new Set(r.stdout.split('\n').filter(Boolean));
    const accepted = [...finals].filter(([, st]) => st === 202).map(([id]) => id);
    assert.ok(accepted.length > 0, 'some MESSAGEs were accepted before the signal');
    for (const id of accepted) assert.ok(stored.has(id), `${id} got 202 but is not in the store`);
    for (const id of stored) assert.equal(finals.get(id), 202, `${id} is stored but was answered ${finals.get(id)}`);
    assert.equal(reset, null, 'junction closed the connection cleanly, without a reset');
  } finally {
    sock.destroy();
    await k.cleanup();
  }
});
