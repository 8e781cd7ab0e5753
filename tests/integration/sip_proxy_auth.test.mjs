// Digest authentication of proxied requests (docs/sip-auth.md "Proxied
// requests", docs/sip-proxy.md): with sip.auth on, a request from a source
// in no trusted network is challenged 407 when its From is a local user
// or when it would be relayed to a non-local target; with the right
// credentials it is proxied and our Proxy-Authorization is gone from what
// the far side gets; in-dialog requests (To tag + our Route first) are not
// challenged; a foreign caller to a registered user is proxied without a
// challenge; credentials of another user than the From's are 403.
//
// Callers are node UDP sockets on 127.0.0.2 (untrusted once 127.0.0.0/8 is
// deleted from trusted.*), callees node sockets on 127.0.0.3 / .4 that
// read every request and answer it; the digest responses are computed
// here (RFC 7616, both algorithms).  One call is SIPp's (MD5 only, it
// answers the first challenge: a junction with sip.auth_algorithms MD5).
// Every wait is for a packet or a state, bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { runSipp, startSipp, loggedMessages } from './lib/sipp.mjs';

const H = (alg, s) => createHash(alg === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');
const rnd = () => Math.random().toString(16).slice(2);
const statusOf = (m) => Number(m.split(' ')[1]);
const headers = (m, name) => m.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const REALM = 'junction.test';

let j;
let bob; // bob@example.com's phone on 127.0.0.3

// A UDP socket on addr that keeps what it receives.
async function udp(addr) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, addr, resolve));
  const s = { addr, port: sock.address().port, msgs: [] };
  sock.on('message', (m) => { s.msgs.push(m.toString('utf8')); s.onmsg?.(m.toString('utf8')); });
  s.send = (text) => new Promise((resolve, reject) =>
    sock.send(text, j.ports.sip, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  s.waitFor = (pred, what) => waitFor(() => s.msgs.find(pred), 8000, what);
  return s;
}

// A response of ours (a callee) to request text req: every Via, Record-Route, From, Call-ID, CSeq.
function answer(req, code, reason) {
  const keep = req.split('\r\n').filter((l) => /^(via|record-route|from|call-id|cseq):/i.test(l));
  const to = headers(req, 'To')[0];
  return [`SIP/2.0 ${code} ${reason}`, ...keep, to.includes(';tag=') ? to : `${to};tag=b1`,
    'Content-Length: 0', '', ''].join('\r\n');
}

// A callee that answers every request but ACK with code (200 by default).
function autoAnswer(s, code = 200, reason = 'OK') {
  s.onmsg = (m) => {
    if (!m.startsWith('SIP/2.0') && !m.startsWith('ACK '))
      s.send(answer(m, code, reason)); // through junction: our Via is on top
  };
}

// A request from caller c.  o: method, ruri, from (user@host), to, callId,
// cseq, branch, toTag, route, auth (a function of method and uri giving the
// Proxy-Authorization value).
function request(c, o) {
  const lines = [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${c.addr}:${c.port};branch=${o.branch || `z9hG4bK-${rnd()}`};rport`,
    'Max-Forwards: 70',
    `From: <sip:${o.from}>;tag=${o.fromTag || 'a1'}`,
    `To: <${o.to || o.ruri}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId || `pa-${rnd()}`}`,
    `CSeq: ${o.cseq || 1} ${o.method}`,
    `Contact: <sip:${o.from.split('@')[0]}@${c.addr}:${c.port}>`,
    ...(o.route ? [`Route: ${o.route}`] : []),
    ...(o.auth ? [`Proxy-Authorization: ${o.auth(o.method, o.ruri)}`] : []),
    'Content-Length: 0', '', ''];
  return lines.join('\r\n');
}

// The Proxy-Authenticate challenges of a response, in order, as objects.
function challenges(resp) {
  return headers(resp, 'Proxy-Authenticate').map((l) => {
    const o = {};
    for (const m of l.replace(/^Proxy-Authenticate:\s*Digest\s+/i, '').matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g))
      o[m[1]] = m[3] ?? m[2];
    return o;
  });
}

// Proxy-Authorization for challenge ch: (method, uri) -> value.
function credentials(ch, user, password, nc = 1) {
  const alg = ch.algorithm;
  const ncs = nc.toString(16).padStart(8, '0');
  const cnonce = rnd();
  return (method, uri) => {
    const ha1 = H(alg, `${user}:${ch.realm}:${password}`);
    const resp = H(alg, `${ha1}:${ch.nonce}:${ncs}:${cnonce}:auth:${H(alg, `${method}:${uri}`)}`);
    return `Digest username="${user}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", ` +
      `response="${resp}", algorithm=${alg}, qop=auth, nc=${ncs}, cnonce="${cnonce}", opaque="${ch.opaque}"`;
  };
}

// Send o from c and wait for its final response (by branch).
async function transact(c, o) {
  const branch = o.branch || `z9hG4bK-${rnd()}`;
  await c.send(request(c, { ...o, branch }));
  return c.waitFor((m) => m.startsWith('SIP/2.0') && m.includes(branch) && statusOf(m) >= 200,
    `final response to ${o.method} ${o.ruri}`);
}

const counters = async () => (await j.mi('stats.get')).counters;
const rr = () => `<sip:127.0.0.1:${j.ports.sip};lr>`;

before(async () => {
  j = await startJunction({ params: { 'sip.auth': 'yes', 'sip.realm': REALM, 'sip.domains': 'example.com' } });
  await j.mi('sip.users.add', { username: 'alice', password: 'alice-pw-1' });
  await j.mi('sip.users.add', { username: 'mallory', password: 'mallory-pw-1' });
  // bob registers while loopback is still trusted (the registrar's own
  // challenge is sip_auth.test's); then 127.0.0.0/8 is no longer trusted
  bob = await udp('127.0.0.3');
  const branch = `z9hG4bK-reg${rnd()}`;
  await bob.send([
    'REGISTER sip:example.com SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.3:${bob.port};branch=${branch};rport`,
    'Max-Forwards: 70', 'From: <sip:bob@example.com>;tag=r1', 'To: <sip:bob@example.com>',
    `Call-ID: reg-${rnd()}`, 'CSeq: 1 REGISTER', `Contact: <sip:bob@127.0.0.3:${bob.port}>`,
    'Expires: 600', 'Content-Length: 0', '', ''].join('\r\n'));
  const ok = await bob.waitFor((m) => m.includes(branch), 'REGISTER bob');
  assert.equal(statusOf(ok), 200, ok);
  await j.mi('trusted.delete', { net: '127.0.0.0/8' });
  autoAnswer(bob);
});

after(async () => {
  await bob?.close();
  await j?.cleanup();
});

test('an untrusted local caller\'s INVITE is challenged 407 (SHA-256 and MD5) through its transaction; with credentials it reaches B without our Proxy-Authorization, and the in-dialog ACK and BYE are not challenged', async () => {
  const a = await udp('127.0.0.2');
  try {
    const before = await counters();
    const callId = `call-${rnd()}`;
    const { id } = await j.mi('trace.start', { call_id: callId });
    const inv = { method: 'INVITE', ruri: 'sip:bob@example.com', from: 'alice@example.com', callId, branch: `z9hG4bK-${rnd()}` };
    const r407 = await transact(a, inv);
    assert.equal(statusOf(r407), 407, r407);
    const chs = challenges(r407);
    assert.deepEqual(chs.map((c) => c.algorithm), ['SHA-256', 'MD5']);
    for (const c of chs) {
      assert.equal(c.realm, REALM);
      assert.equal(c.qop, 'auth');
      assert.ok(c.nonce && c.opaque);
    }
    // a retransmission gets the same 407 again (the server transaction), and
    // the ACK of the 407 is absorbed: B sees nothing of either
    const n407 = a.msgs.filter((m) => m.startsWith('SIP/2.0 407')).length;
    await a.send(request(a, inv));
    await waitFor(() => a.msgs.filter((m) => m.startsWith('SIP/2.0 407')).length > n407, 8000, 'the 407 again');
    const to407 = headers(r407, 'To')[0];
    await a.send(request(a, { ...inv, method: 'ACK', toTag: to407.split(';tag=')[1] }));
    // the retry with credentials (SHA-256)
    const auth = credentials(chs[0], 'alice', 'alice-pw-1');
    const ok = await transact(a, { ...inv, branch: undefined, cseq: 2, auth });
    assert.equal(statusOf(ok), 200, ok);
    const [binv, ...more] = bob.msgs.filter((m) => m.startsWith('INVITE ') && m.includes(callId));
    assert.ok(binv, 'B got the INVITE');
    assert.equal(more.length, 0, 'B got it once (not the challenged one)');
    assert.match(binv, /CSeq: 2 INVITE/);
    assert.deepEqual(headers(binv, 'Proxy-Authorization'), [], `our credentials removed: ${binv}`);
    assert.ok(binv.includes(`Record-Route: ${rr()}`), binv);
    assert.equal(bob.msgs.filter((m) => m.startsWith('ACK ') && m.includes(callId)).length, 0,
      'the ACK of the 407 stayed with the proxy');
    // the dialog: ACK and BYE to B's contact with our Route, B's To tag
    const dialog = { ruri: `sip:bob@127.0.0.3:${bob.port}`, from: 'alice@example.com', callId,
      to: 'sip:bob@example.com', toTag: 'b1', route: rr() };
    await a.send(request(a, { ...dialog, method: 'ACK', cseq: 2 }));
    await bob.waitFor((m) => m.startsWith('ACK ') && m.includes(callId), 'B got the ACK of the 200');
    const bye = await transact(a, { ...dialog, method: 'BYE', cseq: 3 });
    assert.equal(statusOf(bye), 200, `the BYE is not challenged: ${bye}`);
    const [bbye] = bob.msgs.filter((m) => m.startsWith('BYE ') && m.includes(callId));
    assert.ok(bbye, 'B got the BYE');
    // each decision is a trace record with the Call-ID
    const recs = (await j.mi('trace.list', { id, after: 0 })).records.map((x) => x.summary);
    await j.mi('trace.stop', { id });
    assert.ok(recs.some((x) => /^proxy auth: INVITE \(a local caller\): 407 Proxy Authentication Required \(no credentials\)$/.test(x)), JSON.stringify(recs));
    assert.ok(recs.some((x) => x === `proxy auth: INVITE (a local caller) taken as sip:alice@${REALM} (digest SHA-256); our Proxy-Authorization removed`), JSON.stringify(recs));
    const c = await counters();
    assert.equal(c['sip.proxy_auth_challenges'], (before['sip.proxy_auth_challenges'] ?? 0) + 1);
    assert.equal(c['sip.proxy_auth_ok'], (before['sip.proxy_auth_ok'] ?? 0) + 1);
  } finally {
    await a.close();
  }
});

test('a wrong password is 403, an expired nonce 407 stale=true, both for a proxied INVITE, and B gets neither', async () => {
  const a = await udp('127.0.0.2');
  try {
    const callId = `bad-${rnd()}`;
    const inv = { method: 'INVITE', ruri: 'sip:bob@example.com', from: 'alice@example.com', callId };
    let r = await transact(a, inv);
    assert.equal(statusOf(r), 407, r);
    const md5 = challenges(r).find((c) => c.algorithm === 'MD5');
    r = await transact(a, { ...inv, cseq: 2, auth: credentials(md5, 'alice', 'not-the-password') });
    assert.equal(statusOf(r), 403, r);
    assert.deepEqual(challenges(r), [], 'no new nonce for a wrong password');
    // stale: nonces of 1 s, and the right password after it expired
    await j.mi('params.set', { name: 'sip.nonce_ttl_s', value: '1' });
    r = await transact(a, { ...inv, cseq: 3 });
    await j.mi('params.set', { name: 'sip.nonce_ttl_s', value: '300' });
    const issued = Date.now();
    const ch = challenges(r)[0];
    await waitFor(() => Date.now() > issued + 2100, 5000, 'the nonce expired');
    r = await transact(a, { ...inv, cseq: 4, auth: credentials(ch, 'alice', 'alice-pw-1') });
    assert.equal(statusOf(r), 407, r);
    assert.deepEqual(challenges(r).map((c) => c.stale), ['true', 'true']);
    assert.equal(bob.msgs.filter((m) => m.includes(callId)).length, 0, 'B got none of them');
  } finally {
    await a.close();
  }
});

test('a relay to another host from an untrusted source is 407, and relayed with credentials; with sip.proxy_auth off it is 403 as before', async () => {
  const a = await udp('127.0.0.2');
  const far = await udp('127.0.0.4');
  autoAnswer(far);
  try {
    const callId = `relay-${rnd()}`;
    // a foreign From: only the relay asks for credentials
    const opt = { method: 'OPTIONS', ruri: `sip:carol@127.0.0.4:${far.port}`, from: 'alice@foreign.example', callId };
    let r = await transact(a, opt);
    assert.equal(statusOf(r), 407, r);
    assert.equal(far.msgs.length, 0, 'nothing relayed before the credentials');
    const ch = challenges(r).find((c) => c.algorithm === 'MD5');
    r = await transact(a, { ...opt, cseq: 2, auth: credentials(ch, 'alice', 'alice-pw-1') });
    assert.equal(statusOf(r), 200, r);
    const [got] = far.msgs.filter((m) => m.startsWith('OPTIONS ') && m.includes(callId));
    assert.ok(got, 'relayed');
    assert.match(got, new RegExp(`^OPTIONS sip:carol@127\\.0\\.0\\.4:${far.port} SIP/2\\.0`));
    assert.deepEqual(headers(got, 'Proxy-Authorization'), []);
    // credentials for another realm go on untouched (RFC 3261 22.3)
    const r2 = await transact(a, { ...opt, cseq: 3, auth: undefined });
    const ch2 = challenges(r2)[0];
    const both = (m, u) => `${credentials(ch2, 'alice', 'alice-pw-1')(m, u)}\r\nProxy-Authorization: Digest username="x", realm="next.example", nonce="n", uri="${u}", response="r"`;
    r = await transact(a, { ...opt, cseq: 4, auth: both });
    assert.equal(statusOf(r), 200, r);
    const got4 = far.msgs.find((m) => m.startsWith('OPTIONS ') && m.includes('CSeq: 4 OPTIONS'));
    assert.deepEqual(headers(got4, 'Proxy-Authorization').map((h) => /realm="next\.example"/.test(h)), [true], got4);
    await j.mi('params.set', { name: 'sip.proxy_auth', value: 'no' });
    try {
      r = await transact(a, { ...opt, cseq: 5 });
      assert.equal(statusOf(r), 403, r);
      assert.match(r, /Relaying Denied/);
    } finally {
      await j.mi('params.set', { name: 'sip.proxy_auth', value: 'yes' });
    }
  } finally {
    await a.close();
    await far.close();
  }
});

test('a foreign caller to a registered user is proxied without a challenge', async () => {
  const a = await udp('127.0.0.2');
  try {
    const callId = `foreign-${rnd()}`;
    const r = await transact(a, { method: 'OPTIONS', ruri: 'sip:bob@example.com', from: 'dave@other.example', callId });
    assert.equal(statusOf(r), 200, r);
    assert.ok(bob.msgs.find((m) => m.startsWith('OPTIONS ') && m.includes(callId)), 'B got it');
  } finally {
    await a.close();
  }
});

test('credentials of alice on a request From bob are refused 403 (sip.auth_match_from)', async () => {
  const a = await udp('127.0.0.2');
  try {
    const callId = `spoof-${rnd()}`;
    const inv = { method: 'INVITE', ruri: 'sip:bob@example.com', from: 'mallory@example.com', callId };
    let r = await transact(a, inv);
    assert.equal(statusOf(r), 407, r);
    const before = (await counters())['sip.proxy_auth_refused'] ?? 0;
    r = await transact(a, { ...inv, cseq: 2, auth: credentials(challenges(r)[0], 'alice', 'alice-pw-1') });
    assert.equal(statusOf(r), 403, r);
    assert.match(r, /not of the From user/);
    assert.equal((await counters())['sip.proxy_auth_refused'], before + 1);
    assert.equal(bob.msgs.filter((m) => m.includes(callId)).length, 0, 'B got nothing');
  } finally {
    await a.close();
  }
});

test('a SIPp caller with digest credentials completes a call through the proxy: 407, ACK, INVITE with credentials, 200, ACK, BYE; B got one INVITE without our Proxy-Authorization', async (t) => {
  const k = await startJunction({ params: { 'sip.auth': 'yes', 'sip.auth_algorithms': 'MD5' } });
  t.after(() => k.cleanup());
  await k.mi('sip.users.add', { username: 'alice', password: 'alice-pw-1' });
  // B registers from the port its SIPp then listens on, while loopback is trusted
  const port = await freePort();
  const reg = dgram.createSocket('udp4');
  await new Promise((resolve) => reg.bind(port, '127.0.0.1', resolve));
  const regOk = new Promise((resolve) => reg.once('message', (m) => resolve(m.toString('utf8'))));
  reg.send(['REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-sreg${rnd()};rport`, 'Max-Forwards: 70',
    'From: <sip:bob@127.0.0.1>;tag=r2', 'To: <sip:bob@127.0.0.1>', `Call-ID: sreg-${rnd()}`,
    'CSeq: 1 REGISTER', `Contact: <sip:bob@127.0.0.1:${port}>`, 'Expires: 600',
    'Content-Length: 0', '', ''].join('\r\n'), k.ports.sip, '127.0.0.1');
  const r = await Promise.race([regOk, new Promise((_, rej) => setTimeout(() => rej(new Error('no REGISTER answer')), 8000))]);
  await new Promise((resolve) => reg.close(resolve));
  assert.equal(statusOf(r), 200, r);
  await k.mi('trusted.delete', { net: '127.0.0.0/8' });
  const uas = startSipp({ scenario: 'uas_answer.xml', dir: k.dir, name: 'bob-auth', localPort: port, calls: 1 });
  t.after(() => uas.stop());
  const uac = await runSipp({ scenario: 'uac_call_auth.xml', dir: k.dir, name: 'alice-auth', localPort: await freePort(),
    target: `127.0.0.1:${k.ports.sip}`, service: 'bob', calls: 1,
    args: ['-i', '127.0.0.2', '-au', 'alice', '-ap', 'alice-pw-1'] });
  assert.equal(uac.exited.code, 0, uac.explain());
  await uas.done;
  assert.equal(uas.exited.code, 0, uas.explain());
  const got = loggedMessages(uac.messageFile, 'received').filter((m) => !m.startsWith('SIP/2.0 100'));
  assert.match(got[0], /^SIP\/2.0 407 /);
  assert.deepEqual(challenges(got[0]).map((c) => c.algorithm), ['MD5']);
  const sent = loggedMessages(uac.messageFile, 'sent');
  assert.match(sent.find((m) => m.startsWith('INVITE ') && /CSeq: 2 INVITE/.test(m)), /Proxy-Authorization: Digest username="alice"/);
  const invites = loggedMessages(uas.messageFile, 'received').filter((m) => m.startsWith('INVITE '));
  assert.equal(invites.length, 1, 'B got only the authenticated INVITE');
  assert.match(invites[0], /CSeq: 2 INVITE/);
  assert.deepEqual(headers(invites[0], 'Proxy-Authorization'), [], invites[0]);
  const bye = loggedMessages(uas.messageFile, 'received').find((m) => m.startsWith('BYE '));
  assert.ok(bye, 'B got the BYE');
  assert.equal(headers(bye, 'Via').length, 2, `the BYE came through the proxy: ${bye}`);
  const c = (await k.mi('stats.get')).counters;
  assert.equal(c['sip.proxy_auth_ok'], 1);
  assert.equal(c['sip.proxy_auth_challenges'], 1);
  // the ACK of the 407 stayed with the INVITE's transaction: only the ACK of the 200 went on
  assert.equal(c['sip.proxy_stateless'], 1, JSON.stringify(c));
});
