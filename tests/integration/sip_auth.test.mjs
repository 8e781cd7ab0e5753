// Digest authentication of SIP MESSAGEs from peers outside the trusted
// networks (issue "Full SIP proxy", docs/sip-auth.md): with sip.auth on,
// such a MESSAGE is challenged 407 (Proxy-Authenticate for SHA-256, then
// MD5, qop="auth"), taken with a SIP user's credentials (202, the SMSC
// gets the text, tag sender "sip:<user>@<realm>"), refused 403 with a
// wrong password, 407 stale=true with an expired nonce, 407 with a
// replayed nc.  The users come from sip.users.* over the MI, which never
// shows an HA1 nor logs the password.
//
// The MESSAGEs come from a node UDP socket bound to 127.0.0.2 once
// 127.0.0.0/8 is no longer trusted; the digest responses are computed
// here (RFC 7616) for both algorithms.  SIPp 3.6.1 (the Debian
// sip-tester) computes MD5 only and answers the first challenge, which is
// SHA-256 by default ("createAuthHeader: authentication must use MD5 or
// AKAv1-MD5"), so its case runs with sip.auth_algorithms = MD5.  Every
// wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import { startJunction, waitFor, miError } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';
import { runSipp, loggedMessages } from './lib/sipp.mjs';
import { freePort } from './lib/junction.mjs';

const H = (alg, s) => createHash(alg === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');
const rnd = () => Math.random().toString(16).slice(2);

// One UDP peer on 127.0.0.2: send(text) resolves with the first response.
async function peer() {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.2', resolve));
  return {
    port: sock.address().port,
    close: () => sock.close(),
    send(j, text) {
      const got = new Promise((resolve) => sock.once('message', (m) => resolve(m.toString('utf8'))));
      sock.send(Buffer.from(text), j.ports.sip, '127.0.0.1');
      return Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('no response')), 5000))]);
    },
  };
}

// A MESSAGE to `to` with text, and the Proxy-Authorization line auth
// (a function of the Request-URI) when given.
function messageText(j, p, to, text, auth) {
  const uri = `sip:${to}@127.0.0.1:${j.ports.sip}`;
  const body = Buffer.from(text, 'utf8');
  return `MESSAGE ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.2:${p.port};branch=z9hG4bK-${rnd()};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.2>;tag=${rnd()}\r\nTo: <sip:${to}@127.0.0.1>\r\n` +
    `Call-ID: auth-${rnd()}\r\nCSeq: 1 MESSAGE\r\n` +
    (auth ? `Proxy-Authorization: ${auth(uri)}\r\n` : '') +
    `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n\r\n${text}`;
}

const status = (resp) => Number(resp.split('\r\n')[0].split(' ')[1]);

// The Proxy-Authenticate challenges of a response, in order, as objects.
function challenges(resp) {
  return resp.split('\r\n').filter((l) => /^Proxy-Authenticate:/i.test(l)).map((l) => {
    const o = {};
    for (const m of l.replace(/^Proxy-Authenticate:\s*Digest\s+/i, '').matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g))
      o[m[1]] = m[3] ?? m[2];
    return o;
  });
}

// The Proxy-Authorization value for challenge ch (user, password, nc).
function credentials(ch, user, password, nc = 1, opts = {}) {
  const alg = ch.algorithm;
  const ncs = nc.toString(16).padStart(8, '0');
  const cnonce = rnd();
  return (uri) => {
    const ha1 = H(alg, `${user}:${ch.realm}:${password}`);
    const resp = H(alg, `${ha1}:${ch.nonce}:${ncs}:${cnonce}:auth:${H(alg, `MESSAGE:${opts.uri || uri}`)}`);
    return `Digest username="${user}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${opts.uri || uri}", ` +
      `response="${resp}", algorithm=${alg}, qop=auth, nc=${ncs}, cnonce="${cnonce}", opaque="${ch.opaque}"`;
  };
}

const stored = async (j, text) =>
  (await j.mi('messages.list', { limit: 100 })).find((m) => m.envelope?.body === text);
const counters = async (j) => (await j.mi('stats.get')).counters;

async function setup(t, params = {}) {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'sip.auth': 'yes', ...params } });
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'j', password: 'pw' } });
  await j.mi('routes.add', { name: 'all', priority: 10, dst_prefix: '49', target: 'smsc' });
  await j.mi('trusted.delete', { net: '127.0.0.0/8' });
  await waitBound(j, 'smsc');
  const p = await peer();
  t.after(() => p.close());
  return { smsc, j, p };
}

// 407 for a MESSAGE without credentials, then the challenge of alg.
async function challenge(j, p, to, alg) {
  const resp = await p.send(j, messageText(j, p, to, 'no credentials'));
  assert.equal(status(resp), 407, resp);
  return challenges(resp).find((c) => c.algorithm === alg);
}

test('an untrusted MESSAGE is challenged 407 (SHA-256 then MD5); the right credentials of either are taken and reach the SMSC; sip.users.list shows no HA1', async (t) => {
  const { smsc, j, p } = await setup(t);
  const added = await j.mi('sip.users.add', { username: 'alice', password: 'wonderland-1' });
  const realm = added.realm; // sip.realm is empty: the host's name
  assert.ok(realm.length > 0);
  assert.equal((await j.mi('sip.stats')).realm, realm);
  const list = await j.mi('sip.users.list');
  assert.deepEqual(list.map((u) => [u.username, u.realm, u.enabled]), [['alice', realm, true]]);
  const text = JSON.stringify(list);
  assert.doesNotMatch(text, /ha1/i);
  for (const alg of ['MD5', 'SHA-256'])
    assert.ok(!text.includes(H(alg, `alice:${realm}:wonderland-1`)), `no ${alg} HA1 in the list`);

  const before = await counters(j);
  const resp = await p.send(j, messageText(j, p, '+4917012340001', 'no credentials'));
  assert.equal(status(resp), 407, resp);
  assert.match(resp, /^SIP\/2.0 407 Proxy Authentication Required/);
  const chs = challenges(resp);
  assert.deepEqual(chs.map((c) => c.algorithm), ['SHA-256', 'MD5'], 'SHA-256 first (RFC 8760)');
  for (const c of chs) {
    assert.equal(c.realm, realm);
    assert.equal(c.qop, 'auth');
    assert.ok(c.nonce && c.opaque);
    assert.equal(c.stale, undefined);
  }
  assert.equal((await counters(j))['sip.auth_challenges'], (before['sip.auth_challenges'] ?? 0) + 1);

  for (const [i, alg] of [[2, 'SHA-256'], [3, 'MD5']]) {
    const ch = await challenge(j, p, `+491701234000${i}`, alg);
    const ok = await p.send(j, messageText(j, p, `+491701234000${i}`, `signed ${alg}`, credentials(ch, 'alice', 'wonderland-1')));
    assert.equal(status(ok), 202, ok);
    await waitFor(() => smsc.submits.find((s) => s.destination_addr === `491701234000${i}`), 10000, `the ${alg} message at the SMSC`);
    const m = await waitFor(() => stored(j, `signed ${alg}`), 5000, 'stored');
    assert.equal(m.envelope.tags.sender, `sip:alice@${realm}`);
  }
  assert.equal((await counters(j))['sip.auth_ok'], (before['sip.auth_ok'] ?? 0) + 2);
});

test('a wrong password, an unknown user and a disabled user get 403 and nothing reaches the SMSC', async (t) => {
  const { smsc, j, p } = await setup(t, { 'sip.realm': 'junction.test' });
  await j.mi('sip.users.add', { username: 'bob', password: 'right-password' });
  const before = (await counters(j))['sip.auth_failed'] ?? 0;
  let ch = await challenge(j, p, '+4917012340010', 'SHA-256');
  assert.equal(ch.realm, 'junction.test');
  let r = await p.send(j, messageText(j, p, '+4917012340010', 'wrong password', credentials(ch, 'bob', 'wrong-password')));
  assert.match(r, /^SIP\/2.0 403/);
  ch = await challenge(j, p, '+4917012340011', 'MD5');
  r = await p.send(j, messageText(j, p, '+4917012340011', 'unknown user', credentials(ch, 'carol', 'right-password')));
  assert.match(r, /^SIP\/2.0 403/);
  await j.mi('sip.users.disable', { username: 'bob' });
  assert.equal((await j.mi('sip.users.list'))[0].enabled, false);
  ch = await challenge(j, p, '+4917012340012', 'MD5');
  r = await p.send(j, messageText(j, p, '+4917012340012', 'disabled', credentials(ch, 'bob', 'right-password')));
  assert.match(r, /^SIP\/2.0 403/);
  assert.equal((await counters(j))['sip.auth_failed'], before + 3);
  // a new password applies at once; the old one is refused
  await j.mi('sip.users.enable', { username: 'bob' });
  await j.mi('sip.users.passwd', { username: 'bob', password: 'new-password' });
  ch = await challenge(j, p, '+4917012340013', 'SHA-256');
  r = await p.send(j, messageText(j, p, '+4917012340013', 'old password', credentials(ch, 'bob', 'right-password')));
  assert.match(r, /^SIP\/2.0 403/);
  ch = await challenge(j, p, '+4917012340014', 'SHA-256');
  r = await p.send(j, messageText(j, p, '+4917012340014', 'new password', credentials(ch, 'bob', 'new-password')));
  assert.match(r, /^SIP\/2.0 202/);
  await waitFor(() => smsc.submits.find((s) => s.destination_addr === '4917012340014'), 10000, 'the good one at the SMSC');
  for (const [n, body] of [[10, 'wrong password'], [11, 'unknown user'], [12, 'disabled'], [13, 'old password']]) {
    assert.equal(await stored(j, body), undefined, `${body}: not stored`);
    assert.ok(!smsc.submits.some((s) => s.destination_addr === `49170123400${n}`), `${body}: not sent`);
  }
});

test('a replayed nc is refused with a fresh challenge; a higher nc on the same nonce is taken', async (t) => {
  const { smsc, j, p } = await setup(t, { 'sip.realm': 'junction.test' });
  await j.mi('sip.users.add', { username: 'alice', password: 'wonderland-1' });
  const ch = await challenge(j, p, '+4917012340020', 'SHA-256');
  let r = await p.send(j, messageText(j, p, '+4917012340020', 'first', credentials(ch, 'alice', 'wonderland-1', 1)));
  assert.match(r, /^SIP\/2.0 202/);
  const replays = (await counters(j))['sip.auth_replays'] ?? 0;
  r = await p.send(j, messageText(j, p, '+4917012340021', 'replayed', credentials(ch, 'alice', 'wonderland-1', 1)));
  assert.match(r, /^SIP\/2.0 407/);
  assert.equal(challenges(r)[0].stale, undefined, 'a replay is not stale');
  assert.notEqual(challenges(r)[0].nonce, ch.nonce);
  assert.equal((await counters(j))['sip.auth_replays'], replays + 1);
  r = await p.send(j, messageText(j, p, '+4917012340022', 'second', credentials(ch, 'alice', 'wonderland-1', 2)));
  assert.match(r, /^SIP\/2.0 202/);
  await waitFor(() => smsc.submits.find((s) => s.destination_addr === '4917012340022'), 10000, 'nc 2 at the SMSC');
  assert.equal(await stored(j, 'replayed'), undefined);
  // a tampered nonce is not ours: a fresh challenge, not stale
  const bad = { ...ch, nonce: ch.nonce.slice(0, -2) + (ch.nonce.endsWith('AA') ? 'BB' : 'AA') };
  r = await p.send(j, messageText(j, p, '+4917012340023', 'tampered', credentials(bad, 'alice', 'wonderland-1', 3)));
  assert.match(r, /^SIP\/2.0 407/);
  assert.equal(challenges(r)[0].stale, undefined);
  // a digest uri other than the Request-URI is taken (RFC 3261 22.4; SIPp
  // names its peer's address), but it is signed: changed, it fails
  r = await p.send(j, messageText(j, p, '+4917012340024', 'other uri',
    credentials(ch, 'alice', 'wonderland-1', 4, { uri: `sip:127.0.0.1:${j.ports.sip}` })));
  assert.match(r, /^SIP\/2.0 202/);
  const signed = credentials(ch, 'alice', 'wonderland-1', 5, { uri: 'sip:a@127.0.0.1' });
  r = await p.send(j, messageText(j, p, '+4917012340025', 'uri changed',
    (u) => signed(u).replace('uri="sip:a@127.0.0.1"', 'uri="sip:b@127.0.0.1"')));
  assert.match(r, /^SIP\/2.0 403/);
  assert.equal(await stored(j, 'uri changed'), undefined);
  // a header folded over lines (RFC 3261 7.3.1), after another realm's
  const folded = credentials(ch, 'alice', 'wonderland-1', 6);
  r = await p.send(j, messageText(j, p, '+4917012340026', 'folded',
    (u) => 'Digest username="x", realm="elsewhere", nonce="n", uri="u", response="r"\r\n' +
      `Proxy-Authorization: ${folded(u).replace(', nonce=', ',\r\n  nonce=')}`));
  assert.match(r, /^SIP\/2.0 202/);
});

test('an expired nonce with the right password gets 407 stale=true, and its fresh nonce is taken', async (t) => {
  const { smsc, j, p } = await setup(t, { 'sip.realm': 'junction.test', 'sip.nonce_ttl_s': 1 });
  await j.mi('sip.users.add', { username: 'alice', password: 'wonderland-1' });
  const ch = await challenge(j, p, '+4917012340030', 'MD5');
  const issued = Date.now();
  // the nonce's expiry is in whole seconds: 1 s after the second it was
  // made in has ended
  await waitFor(() => Date.now() > issued + 2100, 5000, 'the nonce expired');
  await j.mi('params.set', { name: 'sip.nonce_ttl_s', value: '300' });
  const stale = (await counters(j))['sip.auth_stale'] ?? 0;
  let r = await p.send(j, messageText(j, p, '+4917012340030', 'stale', credentials(ch, 'alice', 'wonderland-1')));
  assert.match(r, /^SIP\/2.0 407/);
  const fresh = challenges(r);
  assert.deepEqual(fresh.map((c) => c.stale), ['true', 'true']);
  assert.equal((await counters(j))['sip.auth_stale'], stale + 1);
  // a wrong password with a stale nonce is no stale answer: 403
  r = await p.send(j, messageText(j, p, '+4917012340031', 'stale and wrong', credentials(ch, 'alice', 'wrong-password')));
  assert.match(r, /^SIP\/2.0 403/);
  r = await p.send(j, messageText(j, p, '+4917012340032', 'fresh', credentials(fresh[1], 'alice', 'wonderland-1')));
  assert.match(r, /^SIP\/2.0 202/);
  await waitFor(() => smsc.submits.find((s) => s.destination_addr === '4917012340032'), 10000, 'at the SMSC');
  assert.equal(await stored(j, 'stale'), undefined);
});

test('with sip.auth off an untrusted MESSAGE is 403 as before, credentials or not; trusted peers are never challenged', async (t) => {
  const { j, p } = await setup(t, { 'sip.realm': 'junction.test' });
  await j.mi('sip.users.add', { username: 'alice', password: 'wonderland-1' });
  const ch = await challenge(j, p, '+4917012340040', 'SHA-256');
  await j.mi('params.set', { name: 'sip.auth', value: 'no' });
  const r = await p.send(j, messageText(j, p, '+4917012340040', 'auth off', credentials(ch, 'alice', 'wonderland-1')));
  assert.match(r, /^SIP\/2.0 403 Forbidden \(untrusted source\)/);
  await j.mi('params.set', { name: 'sip.auth', value: 'yes' });
  await j.mi('trusted.add', { net: '127.0.0.2', name: 'pbx' });
  const t2 = await p.send(j, messageText(j, p, '+4917012340041', 'trusted again'));
  assert.match(t2, /^SIP\/2.0 202/);
  const m = await waitFor(() => stored(j, 'trusted again'), 5000, 'stored');
  assert.equal(m.envelope.tags.sender, 'trusted:pbx');
});

test('sip.users.* check their params, audit the change without the password', async (t) => {
  const j = await startJunction({ params: { 'sip.realm': 'junction.test' } });
  t.after(() => j.cleanup());
  assert.equal(await miError(j, 'sip.users.add', { username: 'alice', password: 'short' }), -32602);
  assert.equal(await miError(j, 'sip.users.add', { username: 'al ice', password: 'long-enough' }), -32602);
  assert.equal(await miError(j, 'sip.users.add', { username: 'alice', password: 'long-enough', realm: 'a"b' }), -32602);
  assert.equal(await miError(j, 'sip.users.add', { password: 'long-enough' }), -32602);
  assert.deepEqual(await j.mi('sip.users.add', { username: 'alice', password: 'do-not-log-me-2' }),
    { username: 'alice', realm: 'junction.test' });
  assert.deepEqual(await j.mi('sip.users.add', { username: 'alice', password: 'another-one', realm: 'other.test' }),
    { username: 'alice', realm: 'other.test' });
  assert.equal(await miError(j, 'sip.users.add', { username: 'alice', password: 'long-enough' }), -32009);
  assert.equal(await miError(j, 'sip.users.delete', { username: 'bob' }), -32004);
  assert.equal(await miError(j, 'sip.users.passwd', { username: 'bob', password: 'long-enough' }), -32004);
  await j.mi('sip.users.delete', { username: 'alice', realm: 'other.test' });
  assert.deepEqual((await j.mi('sip.users.list')).map((u) => u.realm), ['junction.test']);
  const log = await j.mi('audit.list', { method: 'sip.users' });
  const add = log.find((e) => e.method === 'sip.users.add' && e.params.realm === undefined);
  assert.equal(add.params.password, '***');
  assert.equal(add.after.username, 'alice');
  const text = JSON.stringify(log);
  assert.doesNotMatch(text, /do-not-log-me-2|another-one/);
  assert.doesNotMatch(text, /ha1/i);
  assert.doesNotMatch(j.log, /do-not-log-me-2/);
  // the store is the truth: a restart runs what it holds
  await j.stop();
  j.start();
  await j.ready();
  assert.deepEqual((await j.mi('sip.users.list')).map((u) => u.username), ['alice']);
});

test('SIPp answers the challenge with its own MD5 digest (-au / -ap, [authentication]) when MD5 is offered first', async (t) => {
  const { smsc, j } = await setup(t, { 'sip.realm': 'junction.test', 'sip.auth_algorithms': 'MD5' });
  await j.mi('sip.users.add', { username: 'alice', password: 'wonderland-1' });
  const h = await runSipp({ scenario: 'uac_message_auth.xml', dir: j.dir, name: 'auth', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1, service: '+4917012340050', timeoutS: 10,
    args: ['-i', '127.0.0.2', '-au', 'alice', '-ap', 'wonderland-1'] });
  assert.equal(h.exited.code, 0, h.explain());
  const got = loggedMessages(h.messageFile, 'received');
  assert.match(got[0], /^SIP\/2.0 407/);
  assert.deepEqual(challenges(got[0]).map((c) => c.algorithm), ['MD5'], 'only what sip.auth_algorithms offers');
  const sent = loggedMessages(h.messageFile, 'sent');
  assert.match(sent[1], /Proxy-Authorization: Digest username="alice"/);
  const s = await waitFor(() => smsc.submits.find((x) => x.destination_addr === '4917012340050'), 10000, 'the SIPp message at the SMSC');
  assert.match(String(s.short_message?.message ?? s.short_message), /SIPp authenticated 1/);
  const m = await waitFor(async () => (await j.mi('messages.list', { limit: 100 }))
    .find((x) => x.envelope?.body?.includes('SIPp authenticated 1')), 5000, 'stored');
  assert.equal(m.envelope.tags.sender, 'sip:alice@junction.test');
  assert.ok(!smsc.submits.some((x) => String(x.short_message?.message ?? x.short_message).includes('unauthenticated')), 'the first never went');
});

test('credentials of an algorithm sip.auth_algorithms does not offer are challenged again', async (t) => {
  const { j, p } = await setup(t, { 'sip.realm': 'junction.test', 'sip.auth_algorithms': 'SHA-256' });
  await j.mi('sip.users.add', { username: 'alice', password: 'wonderland-1' });
  const resp = await p.send(j, messageText(j, p, '+4917012340060', 'no credentials'));
  const chs = challenges(resp);
  assert.deepEqual(chs.map((c) => c.algorithm), ['SHA-256']);
  const md5 = { ...chs[0], algorithm: 'MD5' };
  const r = await p.send(j, messageText(j, p, '+4917012340060', 'md5 refused', credentials(md5, 'alice', 'wonderland-1')));
  assert.match(r, /^SIP\/2.0 407/);
  assert.equal(await stored(j, 'md5 refused'), undefined);
});

// REGISTER is the registrar's (a UAS): 401 with WWW-Authenticate, the
// Authorization header, and only the digest user's own address of record.
function registerText(j, p, user, { auth, expires = 300, callId, cseq = 1 } = {}) {
  const uri = `sip:127.0.0.1:${j.ports.sip}`;
  return `REGISTER ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.2:${p.port};branch=z9hG4bK-${rnd()};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:${user}@127.0.0.1>;tag=${rnd()}\r\nTo: <sip:${user}@127.0.0.1>\r\n` +
    `Call-ID: ${callId || `reg-${rnd()}`}\r\nCSeq: ${cseq} REGISTER\r\n` +
    `Contact: <sip:${user}@127.0.0.2:${p.port}>\r\nExpires: ${expires}\r\n` +
    (auth ? `Authorization: ${auth(uri)}\r\n` : '') + 'Content-Length: 0\r\n\r\n';
}
function wwwChallenges(resp) {
  return resp.split('\r\n').filter((l) => /^WWW-Authenticate:/i.test(l)).map((l) => {
    const o = {};
    for (const m of l.replace(/^WWW-Authenticate:\s*Digest\s+/i, '').matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g))
      o[m[1]] = m[3] ?? m[2];
    return o;
  });
}
function regCredentials(ch, user, password) {
  const alg = ch.algorithm;
  const cnonce = rnd();
  return (uri) => {
    const ha1 = H(alg, `${user}:${ch.realm}:${password}`);
    const resp = H(alg, `${ha1}:${ch.nonce}:00000001:${cnonce}:auth:${H(alg, `REGISTER:${uri}`)}`);
    return `Digest username="${user}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", ` +
      `response="${resp}", algorithm=${alg}, qop=auth, nc=00000001, cnonce="${cnonce}", opaque="${ch.opaque}"`;
  };
}

test('an untrusted REGISTER is challenged 401; the right credentials register the user\'s own address of record only; a wrong password is 403', async (t) => {
  const { j, p } = await setup(t);
  await j.mi('sip.users.add', { username: 'bob', password: 'builder-1' });
  await j.mi('sip.users.add', { username: 'eve', password: 'eve-pass-1' });
  const first = await p.send(j, registerText(j, p, 'bob'));
  assert.equal(status(first), 401, first);
  const ch = wwwChallenges(first).find((c) => c.algorithm === 'SHA-256');
  assert.ok(ch && ch.qop === 'auth', first);
  assert.doesNotMatch(first, /Proxy-Authenticate/);
  const ok = await p.send(j, registerText(j, p, 'bob', { auth: regCredentials(ch, 'bob', 'builder-1'), cseq: 2 }));
  assert.equal(status(ok), 200, ok);
  const b = (await j.mi('sip.registrations.list', { aor: 'sip:bob@127.0.0.1' }))[0];
  assert.equal(b.bindings[0].contact, `sip:bob@127.0.0.2:${p.port}`);

  const ch2 = wwwChallenges(await p.send(j, registerText(j, p, 'bob'))).find((c) => c.algorithm === 'MD5');
  const wrong = await p.send(j, registerText(j, p, 'bob', { auth: regCredentials(ch2, 'bob', 'not-it'), cseq: 3 }));
  assert.equal(status(wrong), 403, wrong);
  // eve's good credentials do not register bob
  const ch3 = wwwChallenges(await p.send(j, registerText(j, p, 'bob'))).find((c) => c.algorithm === 'MD5');
  const other = await p.send(j, registerText(j, p, 'bob', { auth: regCredentials(ch3, 'eve', 'eve-pass-1'), cseq: 4 }));
  assert.equal(status(other), 403, other);
  assert.equal((await j.mi('sip.registrations.list', { aor: 'sip:bob@127.0.0.1' }))[0].bindings.length, 1);
});
