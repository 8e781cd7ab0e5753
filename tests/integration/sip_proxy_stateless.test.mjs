// The stateless proxy (sip.proxy_mode stateless, RFC 3261 16.11,
// docs/sip-proxy.md): exact requests from a node UDP socket A through
// junction to a node UDP socket B (a registered user on 127.0.0.1, or an
// IPv4 host 127.0.0.2 relayed from the trusted loopback), each test
// reading what B and A actually received.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor } from './lib/junction.mjs';

let j;

before(async () => {
  j = await startJunction({ params: { 'sip.workers': 2, 'sip.proxy_mode': 'stateless', 'sip.listen6': '::1' } });
});

after(async () => {
  await j?.cleanup();
});

const counters = async () => (await j.mi('stats.get')).counters;
const statusOf = (m) => Number(m.split(' ')[1]);
const headers = (m, name) => m.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const topBranch = (m) => /branch=([^;\r\n]+)/.exec(headers(m, 'Via')[0])[1];

// A UDP socket on addr (port 0: any) that keeps what it receives.
async function udp(addr = '127.0.0.1', port = 0) {
  const v6 = addr.includes(':');
  const sock = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  await new Promise((resolve) => sock.bind(port, addr, resolve));
  const s = { addr, port: sock.address().port, msgs: [] };
  sock.on('message', (m) => s.msgs.push(m.toString('utf8')));
  s.send = (text) => new Promise((resolve, reject) =>
    sock.send(text, j.ports.sip, v6 ? '::1' : '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  s.waitFor = (pred, what) => waitFor(() => s.msgs.find(pred), 8000, what);
  s.waitCount = (pred, n, what) => waitFor(() => s.msgs.filter(pred).length >= n && s.msgs.filter(pred), 8000, what);
  return s;
}

let seq = 0;
// A request from socket c (o: method, ruri, branch, callId, cseq, toTag, extra, body).
function request(c, o) {
  const body = o.body || '';
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${c.addr.includes(':') ? `[${c.addr}]` : c.addr}:${c.port};branch=${o.branch};rport`,
    'Max-Forwards: 70',
    'From: <sip:alice@127.0.0.1>;tag=a1',
    `To: <${o.ruri}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq || 1} ${o.cseqMethod || o.method}`,
    `Contact: <sip:alice@${c.addr.includes(':') ? `[${c.addr}]` : c.addr}:${c.port}>`,
    ...(o.extra || []),
    ...(body ? ['Content-Type: text/plain'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

// B's response to request text req: its Vias, From, To with a tag, Call-ID, CSeq.
function answer(req, code, reason) {
  const keep = req.split('\r\n').filter((l) => /^(via|from|call-id|cseq|record-route):/i.test(l));
  const to = headers(req, 'To')[0];
  return [`SIP/2.0 ${code} ${reason}`, ...keep, `${to.includes('tag=') ? to : `${to};tag=b1`}`,
    'Content-Length: 0', '', ''].join('\r\n');
}

// B answers through junction (its responses go to junction's port, as a phone's would).
const reply = (b, req, code, reason) => b.send(answer(req, code, reason));

async function registerAt(s, user) {
  const branch = `z9hG4bK-slreg${++seq}`;
  await s.send([
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${s.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=r${seq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: slreg-${user}-${s.port}`,
    `CSeq: ${seq} REGISTER`,
    `Contact: <sip:${user}@127.0.0.1:${s.port}>`,
    'Expires: 600',
    'Content-Length: 0', '', ''].join('\r\n'));
  const r = await s.waitFor((m) => m.includes(branch), `REGISTER ${user}`);
  assert.equal(statusOf(r), 200, r);
}

test('a MESSAGE for a registered user reaches B with our Via (a z9hG4bK-js branch) and Max-Forwards 69; B\'s 200 reaches A without it', async () => {
  const a = await udp();
  const b = await udp();
  try {
    await registerAt(b, 'sl-bob');
    const before = (await counters())['sip.proxy_sl_forwarded'] || 0;
    await a.send(request(a, { method: 'MESSAGE', ruri: 'sip:sl-bob@127.0.0.1', branch: 'z9hG4bK-slm1',
      callId: 'sl-msg', body: 'hello stateless' }));
    const m = await b.waitFor((x) => x.startsWith('MESSAGE '), 'B got the MESSAGE');
    assert.match(m, new RegExp(`^MESSAGE sip:sl-bob@127\\.0\\.0\\.1:${b.port} SIP/2\\.0`), 'the Request-URI is the contact');
    const vias = headers(m, 'Via');
    assert.equal(vias.length, 2, m);
    assert.match(vias[0], new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${j.ports.sip};branch=z9hG4bK-js[0-9a-f]{16};rport`));
    assert.ok(vias[1].includes('branch=z9hG4bK-slm1'), 'A\'s Via below ours');
    assert.deepEqual(headers(m, 'Max-Forwards'), ['Max-Forwards: 69']);
    assert.ok(m.endsWith('\r\n\r\nhello stateless'), 'the body came through');
    await reply(b, m, 200, 'OK');
    const ok = await a.waitFor((x) => x.startsWith('SIP/2.0 200'), 'A got the 200');
    assert.equal(headers(ok, 'Via').length, 1, `our Via is gone: ${ok}`);
    assert.ok(headers(ok, 'Via')[0].includes('branch=z9hG4bK-slm1'));
    const c = await counters();
    assert.equal(c['sip.proxy_sl_forwarded'], before + 1, JSON.stringify(c));
  } finally {
    await a.close();
    await b.close();
  }
});

test('a call to an IPv4 host: INVITE, 180, 200, ACK and BYE through stateless mode; junction sends A no 100 Trying', async () => {
  const a = await udp();
  const b = await udp('127.0.0.2');
  const ruri = `sip:carol@127.0.0.2:${b.port}`;
  try {
    const txBefore = (await j.mi('sip.transactions.stats'));
    await a.send(request(a, { method: 'INVITE', ruri, branch: 'z9hG4bK-slinv1', callId: 'sl-call', body: 'v=0' }));
    const inv = await b.waitFor((x) => x.startsWith('INVITE '), 'B got the INVITE');
    assert.ok(inv.startsWith(`INVITE ${ruri} SIP/2.0`), inv);
    assert.match(headers(inv, 'Via')[0], /branch=z9hG4bK-js[0-9a-f]{16}/);
    assert.deepEqual(headers(inv, 'Record-Route'), [`Record-Route: <sip:127.0.0.1:${j.ports.sip};lr>`]);
    await reply(b, inv, 180, 'Ringing');
    await a.waitFor((x) => x.startsWith('SIP/2.0 180'), 'A got the 180');
    await reply(b, inv, 200, 'OK');
    const ok = await a.waitFor((x) => x.startsWith('SIP/2.0 200'), 'A got the 200');
    assert.equal(headers(ok, 'Via').length, 1, ok);
    assert.equal(a.msgs.filter((x) => x.startsWith('SIP/2.0 100')).length, 0, `no 100 Trying: ${a.msgs.join('\n---\n')}`);
    const rr = [`Route: <sip:127.0.0.1:${j.ports.sip};lr>`];
    await a.send(request(a, { method: 'ACK', ruri, branch: 'z9hG4bK-slack1', callId: 'sl-call', toTag: 'b1', extra: rr }));
    const ack = await b.waitFor((x) => x.startsWith('ACK '), 'B got the ACK');
    assert.equal(headers(ack, 'Via').length, 2, ack);
    assert.equal(headers(ack, 'Route').length, 0, 'our own Route is removed');
    await a.send(request(a, { method: 'BYE', ruri, branch: 'z9hG4bK-slbye1', callId: 'sl-call', cseq: 2, toTag: 'b1', extra: rr }));
    const bye = await b.waitFor((x) => x.startsWith('BYE '), 'B got the BYE');
    assert.equal(headers(bye, 'Via').length, 2, bye);
    assert.match(headers(bye, 'Via')[0], /branch=z9hG4bK-js[0-9a-f]{16}/);
    await reply(b, bye, 200, 'OK');
    await a.waitFor((x) => x.startsWith('SIP/2.0 200') && x.includes('BYE'), 'A got the 200 of the BYE');
    // no transaction was made for any of it
    assert.deepEqual(await j.mi('sip.transactions.stats'), txBefore);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a retransmitted request is forwarded again with the same branch: B sees two copies with one branch', async () => {
  const a = await udp();
  const b = await udp('127.0.0.2');
  const ruri = `sip:dave@127.0.0.2:${b.port}`;
  try {
    const text = request(a, { method: 'INVITE', ruri, branch: 'z9hG4bK-slrtx1', callId: 'sl-rtx' });
    await a.send(text);
    await b.waitFor((x) => x.startsWith('INVITE '), 'B got the INVITE');
    await a.send(text);
    const both = await b.waitCount((x) => x.startsWith('INVITE '), 2, 'B got the retransmission');
    assert.equal(topBranch(both[0]), topBranch(both[1]));
    // a new transaction of the same dialog gets another branch
    await a.send(request(a, { method: 'INVITE', ruri, branch: 'z9hG4bK-slrtx2', callId: 'sl-rtx', cseq: 2 }));
    const three = await b.waitCount((x) => x.startsWith('INVITE '), 3, 'B got the second INVITE');
    assert.notEqual(topBranch(three[2]), topBranch(three[0]));
  } finally {
    await a.close();
    await b.close();
  }
});

test('CANCEL and the ACK of a non-2xx final get the branch of their INVITE', async () => {
  const a = await udp();
  const b = await udp('127.0.0.2');
  const ruri = `sip:erin@127.0.0.2:${b.port}`;
  try {
    await a.send(request(a, { method: 'INVITE', ruri, branch: 'z9hG4bK-slcan1', callId: 'sl-cancel' }));
    const inv = await b.waitFor((x) => x.startsWith('INVITE '), 'B got the INVITE');
    await reply(b, inv, 180, 'Ringing');
    await a.waitFor((x) => x.startsWith('SIP/2.0 180'), 'A got the 180');
    await a.send(request(a, { method: 'CANCEL', ruri, branch: 'z9hG4bK-slcan1', callId: 'sl-cancel' }));
    const can = await b.waitFor((x) => x.startsWith('CANCEL '), 'B got the CANCEL');
    assert.equal(topBranch(can), topBranch(inv));
    assert.ok(can.startsWith(`CANCEL ${ruri} SIP/2.0`), can);
    assert.equal(a.msgs.filter((x) => x.startsWith('SIP/2.0 200')).length, 0, 'junction does not answer the CANCEL');
    await reply(b, can, 200, 'OK');
    await a.waitFor((x) => x.startsWith('SIP/2.0 200') && x.includes('CANCEL'), 'A got B\'s 200 of the CANCEL');
    await reply(b, inv, 487, 'Request Terminated');
    await a.waitFor((x) => x.startsWith('SIP/2.0 487'), 'A got the 487');
    await a.send(request(a, { method: 'ACK', ruri, branch: 'z9hG4bK-slcan1', callId: 'sl-cancel', toTag: 'b1' }));
    const ack = await b.waitFor((x) => x.startsWith('ACK '), 'B got the ACK');
    assert.equal(topBranch(ack), topBranch(inv));
  } finally {
    await a.close();
    await b.close();
  }
});

test('a request routed to a host name (its top Route) is answered 503 at once in stateless mode (no DNS lookup)', async () => {
  const a = await udp();
  try {
    await a.send(request(a, { method: 'INVITE', ruri: 'sip:gina@127.0.0.2', branch: 'z9hG4bK-sldns1', callId: 'sl-dns',
      extra: ['Route: <sip:sl-nowhere.invalid;lr>'] }));
    const r = await a.waitFor((x) => x.startsWith('SIP/2.0 ') && !x.startsWith('SIP/2.0 100'), 'A got the answer');
    assert.equal(statusOf(r), 503, r);
    assert.match(r.split('\r\n')[0], /Stateless Mode Does Not Resolve Host Names/);
    assert.ok(headers(r, 'Via')[0].includes('branch=z9hG4bK-sldns1'), r);
    assert.equal(a.msgs.filter((x) => x.startsWith('SIP/2.0 100')).length, 0, 'no 100 Trying');
  } finally {
    await a.close();
  }
});

test('IPv6 in stateless mode: an OPTIONS from [::1] to an [::1] host reaches B with our [::1] Via, B\'s 200 reaches A', async () => {
  const a = await udp('::1');
  const b = await udp('::1');
  const ruri = `sip:hank@[::1]:${b.port}`;
  try {
    await a.send(request(a, { method: 'OPTIONS', ruri, branch: 'z9hG4bK-sl6o1', callId: 'sl-v6' }));
    const m = await b.waitFor((x) => x.startsWith('OPTIONS '), 'B got the OPTIONS');
    assert.ok(m.startsWith(`OPTIONS ${ruri} SIP/2.0`), m);
    assert.match(headers(m, 'Via')[0], new RegExp(`^Via: SIP/2\\.0/UDP \\[::1\\]:${j.ports.sip};branch=z9hG4bK-js[0-9a-f]{16};rport`));
    await reply(b, m, 200, 'OK');
    const ok = await a.waitFor((x) => x.startsWith('SIP/2.0 200'), 'A got the 200');
    assert.equal(headers(ok, 'Via').length, 1, ok);
    assert.ok(headers(ok, 'Via')[0].includes('branch=z9hG4bK-sl6o1'));
  } finally {
    await a.close();
    await b.close();
  }
});

test('sip.proxy_mode back to stateful at runtime: the next INVITE gets 100 Trying and a z9hG4bK-jp branch', async () => {
  const a = await udp();
  const b = await udp('127.0.0.2');
  const ruri = `sip:fred@127.0.0.2:${b.port}`;
  try {
    await j.mi('params.set', { name: 'sip.proxy_mode', value: 'stateful' });
    await a.send(request(a, { method: 'INVITE', ruri, branch: 'z9hG4bK-slsf1', callId: 'sl-stateful' }));
    await a.waitFor((x) => x.startsWith('SIP/2.0 100'), 'A got 100 Trying');
    const inv = await b.waitFor((x) => x.startsWith('INVITE '), 'B got the INVITE');
    assert.match(topBranch(inv), /^z9hG4bK-jp\d+-/);
    await reply(b, inv, 486, 'Busy Here');
    await a.waitFor((x) => x.startsWith('SIP/2.0 486'), 'A got the 486');
    await a.send(request(a, { method: 'ACK', ruri, branch: 'z9hG4bK-slsf1', callId: 'sl-stateful', toTag: 'b1' }));
  } finally {
    await j.mi('params.set', { name: 'sip.proxy_mode', value: 'stateless' });
    await a.close();
    await b.close();
  }
});
