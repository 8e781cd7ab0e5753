// The SIP transport layer (docs/sip-proxy.md "Transports"): calls through
// the proxy over TCP (SIPp -t t1 on both sides), UDP -> TCP with double
// Record-Route, IPv6 over ::1 (sip.listen6), TCP connections spread over
// the workers (MI sip.connections.list), the per-address limit, the header
// deadline and the RFC 5626 CRLF keep-alive.  Raw peers are node sockets
// on loopback; each test reads what the far side received.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { runSipp, startSipp, stopAllSipp, loggedMessages } from './lib/sipp.mjs';

let j;
// The test's own certificate for 127.0.0.1 (self-signed: also the CA that
// junction's outgoing TLS trusts through sip.tls_ca).
const certDir = mkdtempSync(path.join(tmpdir(), 'junction-sip-tls-'));
const certFile = path.join(certDir, 'cert.pem');
const keyFile = path.join(certDir, 'key.pem');

before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', '/CN=junction test', '-addext', 'subjectAltName=IP:127.0.0.1,IP:::1',
    '-keyout', keyFile, '-out', certFile], { stdio: 'pipe' });
  j = await startJunction({ params: { 'sip.workers': 2, 'sip.listen6': '::1',
    'sip.domains': 'example.com, 127.0.0.1, [::1]', 'sip.tls_port': await freePort(),
    'sip.tls_cert': certFile, 'sip.tls_key': keyFile, 'sip.tls_verify': 'yes', 'sip.tls_ca': certFile } });
});

after(async () => {
  await stopAllSipp();
  await j?.cleanup();
});

const counters = async (jj = j) => (await jj.mi('stats.get')).counters;
const statusOf = (m) => Number(m.split(' ')[1]);
const headers = (m, name) => m.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const received = (h, method) => loggedMessages(h.messageFile, 'received').filter((m) => m.startsWith(`${method} `));
const responses = (h, code) => loggedMessages(h.messageFile, 'received').filter((m) => m.startsWith(`SIP/2.0 ${code} `));
const conns = async (jj = j) => jj.mi('sip.connections.list');

// A TCP client to junction that frames what it receives by Content-Length
// (and keeps bare CRLFs apart, as pongs).
async function tcp(port = j.ports.sip, host = '127.0.0.1', { secure } = {}) {
  const sock = secure ? tls.connect({ port, host, ca: readFileSync(certFile) }) : net.connect({ port, host });
  await new Promise((resolve, reject) => { sock.once(secure ? 'secureConnect' : 'connect', resolve); sock.once('error', reject); });
  return framed(sock);
}

// Framing and helpers over a connected stream (TCP or TLS).
function framed(sock) {
  const c = { sock, msgs: [], pongs: 0, closed: false, buf: '', localPort: sock.localPort };
  sock.on('data', (d) => {
    c.buf += d.toString('utf8');
    for (;;) {
      if (c.buf.startsWith('\r\n')) { c.pongs++; c.buf = c.buf.slice(2); continue; }
      const end = c.buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(c.buf.slice(0, end));
      const len = end + 4 + (m ? Number(m[1]) : 0);
      if (c.buf.length < len) break;
      c.msgs.push(c.buf.slice(0, len));
      c.buf = c.buf.slice(len);
    }
  });
  sock.on('close', () => { c.closed = true; });
  sock.on('error', () => {});
  c.send = (text) => new Promise((resolve) => sock.write(text, resolve));
  c.waitFor = (pred, what, ms = 8000) => waitFor(() => c.msgs.find(pred), ms, what);
  c.close = () => new Promise((resolve) => { if (c.closed) resolve(); else { sock.once('close', resolve); sock.end(); } });
  return c;
}

// A UDP socket (udp4 on 127.0.0.1 or udp6 on ::1) that keeps what it receives.
async function udp(family = 4, port = 0) {
  const host = family === 6 ? '::1' : '127.0.0.1';
  const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  await new Promise((resolve) => sock.bind(port, host, resolve));
  const s = { port: sock.address().port, msgs: [], host: family === 6 ? '[::1]' : host };
  sock.on('message', (m) => s.msgs.push(m.toString('utf8')));
  s.send = (text) => new Promise((resolve, reject) =>
    sock.send(text, j.ports.sip, host, (e) => (e ? reject(e) : resolve())));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  s.waitFor = (pred, what) => waitFor(() => s.msgs.find(pred), 8000, what);
  return s;
}

let seq = 0;
// A REGISTER of user at host (our domain as the peer writes it) with contact, via transport from host:port.
function register(user, { host, port, transport, contact, domain = '127.0.0.1' }) {
  seq++;
  return [
    `REGISTER sip:${domain} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${host}:${port};branch=z9hG4bK-treg${seq};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@${domain}>;tag=r${seq}`,
    `To: <sip:${user}@${domain}>`,
    `Call-ID: treg-${user}-${seq}`,
    `CSeq: ${seq} REGISTER`,
    `Contact: <${contact}>`,
    'Expires: 600',
    'Content-Length: 0', '', ''].join('\r\n');
}

// A response to request text req from a raw callee: its Vias, Record-Routes, From, To with a tag, Call-ID, CSeq.
function answer(req, code, reason, contact) {
  const keep = req.split('\r\n').filter((l) => /^(via|from|call-id|cseq|record-route):/i.test(l));
  const to = headers(req, 'To')[0];
  return [`SIP/2.0 ${code} ${reason}`, ...keep, `${to}${/tag=/.test(to) ? '' : ';tag=b1'}`,
    ...(contact ? [`Contact: <${contact}>`] : []), 'Content-Length: 0', '', ''].join('\r\n');
}

test('a call over TCP (SIPp -t t1 on both sides): B gets our Via SIP/2.0/TCP and a Record-Route with transport=tcp; ACK and BYE reach B through the proxy', async () => {
  const port = await freePort();
  // B's binding: its Contact over TCP (the REGISTER's own connection closes: the Contact is used)
  const r = await tcp();
  await r.send(register('tina', { host: '127.0.0.1', port: r.localPort, transport: 'TCP',
    contact: `sip:tina@127.0.0.1:${port};transport=tcp` }));
  const ok = await r.waitFor((m) => m.startsWith('SIP/2.0 '), '200 to the REGISTER over TCP');
  assert.equal(statusOf(ok), 200, ok);
  await r.close();
  const uas = startSipp({ scenario: 'uas_answer_tcp.xml', dir: j.dir, name: 'tina', localPort: port, calls: 1,
    args: ['-t', 't1'] });
  await waitFor(async () => { // SIPp listens on TCP
    const s = net.connect({ port, host: '127.0.0.1' });
    return new Promise((resolve) => { s.once('connect', () => { s.destroy(); resolve(true); }); s.once('error', () => resolve(false)); });
  }, 8000, 'SIPp B listening on TCP');
  const uac = await runSipp({ scenario: 'uac_call_tcp.xml', dir: j.dir, name: 'alice-tcp', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: 'tina', calls: 1, args: ['-t', 't1'] });
  assert.equal(uac.exited.code, 0, uac.explain());
  await uas.done;
  assert.equal(uas.exited.code, 0, uas.explain());
  const [inv] = received(uas, 'INVITE');
  assert.ok(inv, 'B got the INVITE');
  assert.match(headers(inv, 'Via')[0], new RegExp(`^Via: SIP/2\\.0/TCP 127\\.0\\.0\\.1:${j.ports.sip};branch=z9hG4bK-jp`), inv);
  assert.deepEqual(headers(inv, 'Record-Route'), [`Record-Route: <sip:127.0.0.1:${j.ports.sip};transport=tcp;lr>`], inv);
  const [bye] = received(uas, 'BYE');
  assert.ok(bye && received(uas, 'ACK').length === 1, 'B got the ACK and the BYE');
  assert.equal(headers(bye, 'Via').length, 2, `the BYE came through the proxy: ${bye}`);
  assert.match(headers(bye, 'Via')[0], /SIP\/2\.0\/TCP /);
  const [ok200] = responses(uac, 200);
  assert.ok(ok200.includes(`Record-Route: <sip:127.0.0.1:${j.ports.sip};transport=tcp;lr>`), ok200);
});

test('A on UDP -> B on TCP (registered over its own connection): B gets two Record-Routes, the TCP side first; the BYE reaches B over that connection', async () => {
  const b = await tcp();
  const contact = `sip:ursula@127.0.0.1:${b.localPort};transport=tcp`;
  await b.send(register('ursula', { host: '127.0.0.1', port: b.localPort, transport: 'TCP', contact }));
  const reg = await b.waitFor((m) => m.startsWith('SIP/2.0 '), '200 to the REGISTER');
  assert.equal(statusOf(reg), 200, reg);
  const [binding] = (await j.mi('sip.registrations.list', { aor: 'sip:ursula@127.0.0.1' }))[0].bindings;
  assert.equal(binding.source, `tcp:127.0.0.1:${b.localPort}`);
  const a = await udp(4);
  try {
    const inviteText = [
      `INVITE sip:ursula@127.0.0.1:${j.ports.sip} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK-ut1;rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=a1', 'To: <sip:ursula@127.0.0.1>',
      'Call-ID: ut-call', 'CSeq: 1 INVITE', `Contact: <sip:alice@127.0.0.1:${a.port}>`, 'Content-Length: 0', '', ''].join('\r\n');
    await a.send(inviteText);
    const inv = await b.waitFor((m) => m.startsWith('INVITE '), 'INVITE at B over its connection');
    const rr = headers(inv, 'Record-Route').join(', ');
    assert.equal(rr, `Record-Route: <sip:127.0.0.1:${j.ports.sip};transport=tcp;lr>, <sip:127.0.0.1:${j.ports.sip};lr>`, inv);
    assert.match(headers(inv, 'Via')[0], /^Via: SIP\/2\.0\/TCP /);
    await b.send(answer(inv, 200, 'OK', contact));
    const ok = await a.waitFor((m) => m.startsWith('SIP/2.0 200') && m.includes('INVITE'), '200 at A');
    assert.ok(ok.includes(`;transport=tcp;lr>`), ok);
    // A's route set is the Record-Route reversed: our UDP side, then our TCP side
    const routes = `Route: <sip:127.0.0.1:${j.ports.sip};lr>, <sip:127.0.0.1:${j.ports.sip};transport=tcp;lr>`;
    const inDialog = (method, cseq, branch) => [
      `${method} ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=${branch};rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=a1', `To: <sip:ursula@127.0.0.1>;tag=b1`,
      'Call-ID: ut-call', `CSeq: ${cseq} ${method}`, routes, 'Content-Length: 0', '', ''].join('\r\n');
    await a.send(inDialog('ACK', 1, 'z9hG4bK-ut2'));
    await b.waitFor((m) => m.startsWith('ACK '), 'ACK at B');
    await a.send(inDialog('BYE', 2, 'z9hG4bK-ut3'));
    const bye = await b.waitFor((m) => m.startsWith('BYE '), 'BYE at B');
    assert.equal(headers(bye, 'Route').length, 0, `both of our Routes are gone: ${bye}`);
    assert.match(headers(bye, 'Via')[0], /^Via: SIP\/2\.0\/TCP /);
    await b.send(answer(bye, 200, 'OK'));
    await a.waitFor((m) => m.startsWith('SIP/2.0 200') && m.includes('BYE'), '200 to the BYE at A');
    const list = await conns();
    assert.equal(list.filter((c) => c.remote === `127.0.0.1:${b.localPort}`).length, 1, 'no second connection to B');
  } finally {
    await a.close();
    await b.close();
  }
});

test('IPv6 over ::1 (sip.listen6): a REGISTER binds source udp:[::1]:port; a call reaches B with [::1] in our Via and Record-Route', async () => {
  const b = await udp(6);
  const a = await udp(6);
  try {
    await b.send(register('vera', { host: '[::1]', port: b.port, transport: 'UDP', contact: `sip:vera@[::1]:${b.port}` }));
    const reg = await b.waitFor((m) => m.startsWith('SIP/2.0 '), '200 to the REGISTER over IPv6');
    assert.equal(statusOf(reg), 200, reg);
    assert.match(headers(reg, 'Via')[0], /received=::1/, reg);
    const [binding] = (await j.mi('sip.registrations.list', { aor: 'sip:vera@127.0.0.1' }))[0].bindings;
    assert.equal(binding.source, `udp:[::1]:${b.port}`);
    await a.send([
      `INVITE sip:vera@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP [::1]:${a.port};branch=z9hG4bK-v6a;rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=a6', 'To: <sip:vera@127.0.0.1>',
      'Call-ID: v6-call', 'CSeq: 1 INVITE', `Contact: <sip:alice@[::1]:${a.port}>`, 'Content-Length: 0', '', ''].join('\r\n'));
    const inv = await b.waitFor((m) => m.startsWith('INVITE '), 'INVITE at B over IPv6');
    assert.match(inv, new RegExp(`^INVITE sip:vera@\\[::1\\]:${b.port} SIP/2\\.0`));
    assert.match(headers(inv, 'Via')[0], new RegExp(`^Via: SIP/2\\.0/UDP \\[::1\\]:${j.ports.sip};branch=z9hG4bK-jp`), inv);
    assert.deepEqual(headers(inv, 'Record-Route'), [`Record-Route: <sip:[::1]:${j.ports.sip};lr>`]);
    await b.send(answer(inv, 200, 'OK', `sip:vera@[::1]:${b.port}`));
    const ok = await a.waitFor((m) => m.startsWith('SIP/2.0 200'), '200 at A over IPv6');
    assert.equal(headers(ok, 'Via').length, 1, ok);
    // an IPv6 literal Request-URI is forwarded to (relayed from ::1, a trusted loopback)
    await a.send([`OPTIONS sip:vera@[::1]:${b.port} SIP/2.0`,
      `Via: SIP/2.0/UDP [::1]:${a.port};branch=z9hG4bK-v6o;rport`, 'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=a7', `To: <sip:vera@[::1]:${b.port}>`, 'Call-ID: v6-options',
      'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
    const o = await b.waitFor((m) => m.startsWith('OPTIONS '), 'OPTIONS at B by its IPv6 literal');
    assert.match(headers(o, 'Via')[0], /^Via: SIP\/2\.0\/UDP \[::1\]:/);
  } finally {
    await a.close();
    await b.close();
  }
});

test('TCP connections from several clients are spread over the workers (sip.workers 2)', async () => {
  const cs = [];
  try {
    for (let i = 0; i < 6; i++) cs.push(await tcp());
    const mine = new Set(cs.map((c) => `127.0.0.1:${c.localPort}`));
    const list = await waitFor(async () => {
      const l = (await conns()).filter((c) => mine.has(c.remote));
      return l.length === 6 && l.every((c) => c.worker >= 0) ? l : null;
    }, 8000, 'six connections adopted');
    const workers = new Set(list.map((c) => c.worker));
    assert.ok(workers.size > 1, `workers: ${JSON.stringify(list)}`);
    for (const c of list) {
      assert.equal(c.transport, 'tcp');
      assert.equal(c.direction, 'in');
      assert.equal(c.local, `127.0.0.1:${j.ports.sip}`);
    }
    // an OPTIONS on each is answered on its own connection, whichever worker holds it
    for (const [i, c] of cs.entries()) {
      await c.send([`OPTIONS sip:127.0.0.1:${j.ports.sip} SIP/2.0`,
        `Via: SIP/2.0/TCP 127.0.0.1:${c.localPort};branch=z9hG4bK-spread${i}`, 'Max-Forwards: 70',
        `From: <sip:x@127.0.0.1>;tag=s${i}`, '<sip:127.0.0.1>'.replace(/^/, 'To: '), `Call-ID: spread-${i}`,
        'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
    }
    for (const c of cs) {
      const r = await c.waitFor((m) => m.startsWith('SIP/2.0 '), 'OPTIONS answered');
      assert.equal(statusOf(r), 200, r);
    }
    const after = (await conns()).filter((c) => mine.has(c.remote));
    assert.ok(after.every((c) => c.in_bytes > 0 && c.out_bytes > 0), JSON.stringify(after));
  } finally {
    await Promise.all(cs.map((c) => c.close()));
  }
});

test('a CRLFCRLF keep-alive ping is answered with a CRLF pong (RFC 5626); its packets and the connection\'s close are on the trace bus (peer filter ip:port)', async () => {
  const c = await tcp();
  const { id } = await j.mi('trace.start', { peer: `127.0.0.1:${c.localPort}` });
  try {
    await c.send([`OPTIONS sip:127.0.0.1:${j.ports.sip} SIP/2.0`,
      `Via: SIP/2.0/TCP 127.0.0.1:${c.localPort};branch=z9hG4bK-trc`, 'Max-Forwards: 70',
      'From: <sip:x@127.0.0.1>;tag=tr', 'To: <sip:127.0.0.1>', 'Call-ID: trace-tcp', 'CSeq: 1 OPTIONS',
      'Content-Length: 0', '', ''].join('\r\n'));
    await c.waitFor((m) => m.startsWith('SIP/2.0 200'), 'the OPTIONS answered');
    await c.send('\r\n\r\n');
    await waitFor(() => c.pongs === 1, 5000, 'the pong');
    await c.send('\r\n\r\n');
    await waitFor(() => c.pongs === 2, 5000, 'the second pong');
    assert.equal(c.msgs.length, 1);
    assert.equal(c.closed, false);
    await c.close();
    const recs = await waitFor(async () => {
      const r = (await j.mi('trace.list', { id, after: 0 })).records;
      return r.some((x) => / closed: closed by the peer$/.test(x.summary)) ? r : null;
    }, 8000, 'the close on the trace bus');
    const sums = recs.map((r) => r.summary);
    assert.ok(sums.some((s) => s.startsWith('OPTIONS sip:')), JSON.stringify(sums));
    assert.ok(sums.some((s) => s.startsWith('SIP/2.0 200')), JSON.stringify(sums));
    assert.ok(recs.every((r) => r.peer === `127.0.0.1:${c.localPort}`), JSON.stringify(recs.map((r) => r.peer)));
  } finally {
    await j.mi('trace.stop', { id });
    await c.close();
  }
});

test('over TCP a request is not retransmitted (no Timer E): a callee that never answers gets the MESSAGE once, A gets 408 at Timer F', { timeout: 60000 }, async () => {
  const b = await tcp();
  const contact = `sip:xena@127.0.0.1:${b.localPort};transport=tcp`;
  await b.send(register('xena', { host: '127.0.0.1', port: b.localPort, transport: 'TCP', contact }));
  await b.waitFor((m) => m.startsWith('SIP/2.0 200'), '200 to the REGISTER');
  const a = await udp(4);
  await j.mi('params.set', { name: 'sip.t1_ms', value: '150' }); // Timer F 9.6 s
  try {
    await a.send([`MESSAGE sip:xena@127.0.0.1:${j.ports.sip} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK-noret;rport`, 'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=nr', 'To: <sip:xena@127.0.0.1>', 'Call-ID: no-retrans', 'CSeq: 1 MESSAGE',
      'Content-Type: text/plain', 'Content-Length: 5', '', 'hello'].join('\r\n'));
    const r = await waitFor(() => a.msgs.find((m) => m.includes('no-retrans') && statusOf(m) >= 200), 45000, '408 at A');
    assert.equal(statusOf(r), 408, r);
    assert.equal(b.msgs.filter((m) => m.startsWith('MESSAGE ')).length, 1, 'sent once over the reliable transport');
  } finally {
    await j.mi('params.set', { name: 'sip.t1_ms', value: '500' });
    await a.close();
    await b.close();
  }
});

test('limits: the connection over sip.tcp_max_per_ip is refused; one that never ends its headers is closed after sip.tcp_header_timeout_ms; a request over sip.max_message gets 413 and the connection closes', async () => {
  const k = await startJunction({ params: { 'sip.workers': 2, 'sip.tcp_max_per_ip': 3,
    'sip.tcp_header_timeout_ms': 600, 'sip.max_message': 1024 } });
  const cs = [];
  try {
    for (let i = 0; i < 3; i++) cs.push(await tcp(k.ports.sip));
    await waitFor(async () => (await conns(k)).length === 3, 8000, 'three connections in the table');
    const fourth = await tcp(k.ports.sip);
    await waitFor(() => fourth.closed, 5000, 'the fourth connection closed by junction');
    assert.equal((await counters(k))['sip.tcp_refused'], 1);
    assert.ok(cs.every((c) => !c.closed), 'the first three stay');
    await Promise.all(cs.map((c) => c.close()));
    await waitFor(async () => (await conns(k)).length === 0, 8000, 'the table empty again');
    // a message begun and never finished
    const slow = await tcp(k.ports.sip);
    const t0 = Date.now();
    await slow.send(`INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${slow.localPort};branch=z9hG4bK-slow\r\n`);
    await waitFor(() => slow.closed, 10000, 'the slow connection closed');
    const took = Date.now() - t0;
    assert.ok(took >= 500, `closed after ${took} ms, not before the deadline`);
    assert.equal((await counters(k))['sip.tcp_limit_closed'], 1);
    // an idle connection that sent nothing is not closed by the header deadline
    const quiet = await tcp(k.ports.sip);
    const idle = await waitFor(async () => (await conns(k)).find((c) => c.remote === `127.0.0.1:${quiet.localPort}` && c.age_s >= 1), 8000, 'the quiet one still open after 1 s');
    assert.ok(idle && !quiet.closed);
    await quiet.close();
    // a request whose body takes it over sip.max_message
    const big = await tcp(k.ports.sip);
    const body = 'x'.repeat(2000);
    await big.send([`MESSAGE sip:x@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/TCP 127.0.0.1:${big.localPort};branch=z9hG4bK-big`, 'Max-Forwards: 70',
      'From: <sip:a@127.0.0.1>;tag=g1', 'To: <sip:x@127.0.0.1>', 'Call-ID: too-big', 'CSeq: 1 MESSAGE',
      'Content-Type: text/plain', `Content-Length: ${body.length}`, '', body].join('\r\n'));
    const r = await big.waitFor((m) => m.startsWith('SIP/2.0 '), '413');
    assert.equal(statusOf(r), 413, r);
    assert.match(r, /\r\nCall-ID: too-big\r\n/);
    await waitFor(() => big.closed, 5000, 'the connection closed after the 413');
    assert.equal((await counters(k))['sip.tcp_limit_closed'], 2);
  } finally {
    await Promise.all(cs.map((c) => c.close()));
    await k.cleanup();
  }
});

test('the same call over TLS: A and B on TLS (B registered over its own TLS connection); B gets our Via SIP/2.0/TLS and Record-Route with transport=tls; the BYE reaches B over that connection', async () => {
  const tlsPort = Number(j.params['sip.tls_port']);
  const b = await tcp(tlsPort, '127.0.0.1', { secure: true });
  const a = await tcp(tlsPort, '127.0.0.1', { secure: true });
  try {
    const contact = `sip:wendy@127.0.0.1:${b.localPort};transport=tls`;
    await b.send(register('wendy', { host: '127.0.0.1', port: b.localPort, transport: 'TLS', contact }));
    const reg = await b.waitFor((m) => m.startsWith('SIP/2.0 '), '200 to the REGISTER over TLS');
    assert.equal(statusOf(reg), 200, reg);
    const [binding] = (await j.mi('sip.registrations.list', { aor: 'sip:wendy@127.0.0.1' }))[0].bindings;
    assert.equal(binding.source, `tls:127.0.0.1:${b.localPort}`);
    const mine = (await conns()).filter((c) => c.remote === `127.0.0.1:${b.localPort}`);
    assert.equal(mine[0]?.transport, 'tls', JSON.stringify(mine));
    const rr = `<sip:127.0.0.1:${tlsPort};transport=tls;lr>`;
    await a.send([
      `INVITE sip:wendy@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/TLS 127.0.0.1:${a.localPort};branch=z9hG4bK-tls1;rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=at', 'To: <sip:wendy@127.0.0.1>',
      'Call-ID: tls-call', 'CSeq: 1 INVITE', `Contact: <sip:alice@127.0.0.1:${a.localPort};transport=tls>`,
      'Content-Length: 0', '', ''].join('\r\n'));
    const inv = await b.waitFor((m) => m.startsWith('INVITE '), 'INVITE at B over TLS');
    assert.match(headers(inv, 'Via')[0], new RegExp(`^Via: SIP/2\\.0/TLS 127\\.0\\.0\\.1:${tlsPort};branch=z9hG4bK-jp`), inv);
    assert.deepEqual(headers(inv, 'Record-Route'), [`Record-Route: ${rr}`], inv);
    await b.send(answer(inv, 200, 'OK', contact));
    const ok = await a.waitFor((m) => m.startsWith('SIP/2.0 200'), '200 at A over TLS');
    assert.ok(ok.includes(rr), ok);
    await a.send([
      `BYE ${contact} SIP/2.0`,
      `Via: SIP/2.0/TLS 127.0.0.1:${a.localPort};branch=z9hG4bK-tls2;rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=at', 'To: <sip:wendy@127.0.0.1>;tag=b1',
      'Call-ID: tls-call', 'CSeq: 2 BYE', `Route: ${rr}`, 'Content-Length: 0', '', ''].join('\r\n'));
    const bye = await b.waitFor((m) => m.startsWith('BYE '), 'BYE at B over TLS');
    assert.equal(headers(bye, 'Route').length, 0, bye);
    await b.send(answer(bye, 200, 'OK'));
    await a.waitFor((m) => m.startsWith('SIP/2.0 200') && m.includes('BYE'), '200 to the BYE at A');
    assert.ok((await counters())['sip.tls_conns'] >= 2);
  } finally {
    await a.close();
    await b.close();
  }
});

test('outgoing TLS: a request for sip:...;transport=tls goes out over TLS, verified against sip.tls_ca, with Via SIP/2.0/TLS', async () => {
  const got = [];
  const socks = [];
  const server = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (s) => {
    socks.push(s);
    const c = framed(s);
    c.sock.on('data', () => {
      for (const m of c.msgs.splice(0)) {
        got.push(m);
        if (m.startsWith('OPTIONS ')) c.send(answer(m, 200, 'OK'));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const a = await udp(4);
  try {
    await a.send([
      `OPTIONS sip:far@127.0.0.1:${port};transport=tls SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK-otls;rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=ot', `To: <sip:far@127.0.0.1:${port}>`,
      'Call-ID: out-tls', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
    const ok = await a.waitFor((m) => m.startsWith('SIP/2.0 ') && m.includes('out-tls') && statusOf(m) >= 200, 'the answer at A');
    assert.equal(statusOf(ok), 200, ok);
    const [opt] = got.filter((m) => m.startsWith('OPTIONS '));
    assert.match(headers(opt, 'Via')[0], new RegExp(`^Via: SIP/2\\.0/TLS 127\\.0\\.0\\.1:${j.params['sip.tls_port']};branch=z9hG4bK-jp`), opt);
    const out = (await conns()).filter((c) => c.remote === `127.0.0.1:${port}`);
    assert.deepEqual(out.map((c) => [c.transport, c.direction]), [['tls', 'out']]);
  } finally {
    await a.close();
    await new Promise((resolve) => { server.close(resolve); for (const s of socks) s.destroy(); });
  }
});

test('outgoing TLS to a peer whose certificate sip.tls_ca does not vouch for fails the branch at once (5xx, not a Timer F 408)', async () => {
  const other = path.join(certDir, 'other');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', '/CN=someone else', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', `${other}.key`, '-out', `${other}.pem`], { stdio: 'pipe' });
  let requests = 0;
  const socks = [];
  const server = tls.createServer({ cert: readFileSync(`${other}.pem`), key: readFileSync(`${other}.key`) }, (s) => {
    socks.push(s);
    s.on('data', () => { requests++; });
  });
  server.on('tlsClientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const a = await udp(4);
  try {
    const t0 = Date.now();
    await a.send([
      `OPTIONS sip:far@127.0.0.1:${port};transport=tls SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK-btls;rport`,
      'Max-Forwards: 70', 'From: <sip:alice@127.0.0.1>;tag=bt', `To: <sip:far@127.0.0.1:${port}>`,
      'Call-ID: bad-tls', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
    const r = await a.waitFor((m) => m.startsWith('SIP/2.0 ') && m.includes('bad-tls') && statusOf(m) >= 200, 'the failure at A');
    assert.ok(statusOf(r) >= 500 && statusOf(r) < 600, r);
    assert.ok(Date.now() - t0 < 8000, 'answered well before Timer F');
    assert.equal(requests, 0, 'nothing reached the unverified peer');
    assert.equal((await conns()).filter((c) => c.remote === `127.0.0.1:${port}`).length, 0);
  } finally {
    await a.close();
    await new Promise((resolve) => { server.close(resolve); for (const s of socks) s.destroy(); });
  }
});
