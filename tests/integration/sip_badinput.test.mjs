// Bad input through the running proxy: every RFC 4475 torture message
// (tests/fixtures/rfc4475/*.sip, the texts test_sip_view.c checks the
// parser with) sent over UDP, and what came back checked against what the
// RFC asks of a proxy / registrar: the valid ones get a proper answer for
// their Request-URI, the invalid ones a 400 (505, 416, 420 where the RFC
// names those) or nothing when they are responses no one can route; then
// oversized datagrams (413 or dropped), garbage, a lone CRLF, truncated
// messages and huge header counts; after all of it junction still answers
// OPTIONS and sip.transactions.stats shows every transaction ended.
//
// How an answer is attributed: each message's Via port is pointed at the
// test's socket (junction answers the source address at the Via port, as
// RFC 3261 18.2.2 says without rport), and after each message an OPTIONS
// "probe" from the same socket is sent; one source reaches one worker, in
// order, so when the probe's 200 is back every answer to the message has
// been sent: "nothing came" is a fact, not a timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';

const FIX = new URL('../fixtures/rfc4475/', import.meta.url);
const MAX = 8192; // sip.max_message
let j, s, port, got;
const socks = [];

// A fresh UDP socket as the sender: its port is in the Via, so messages
// that share a branch (many of RFC 4475's do) are not one transaction.
async function useSocket() {
  s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  port = s.address().port;
  const mine = [];
  got = mine;
  s.on('message', (m) => mine.push(m.toString('latin1')));
  socks.push(s);
}

before(async () => {
  // DNS asks a port where nothing listens: a host name fails fast (503)
  const dns = await freePort();
  j = await startJunction({ params: { 'sip.domains': 'example.com', 'sip.max_message': MAX,
    'sip.dns_servers': `127.0.0.1:${dns}`, 'sip.dns_timeout_ms': 200, 'sip.dns_tries': 1,
    // T1 of 150 ms: the transactions the messages leave end within 64*T1 = 9.6 s
    'sip.t1_ms': 150 } });
  await useSocket();
});

after(async () => {
  for (const x of socks) x.close();
  await j?.cleanup();
});

const callId = (t) => (t.match(/^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im) || [])[1];
const first = (t) => t.split('\r\n')[0];
// The top Via's sent-by port set to ours (folded and odd spacing kept).
const VIA = /^((?:v|via)[ \t]*:[ \t\r\n]*SIP[ \t\r\n]*\/[ \t\r\n]*\d\.\d[ \t\r\n]*\/[ \t\r\n]*[A-Za-z]+[ \t\r\n]+)([^;, \t\r\n:]+)(:\d+)?/im;
const aimed = (buf) => Buffer.from(buf.toString('latin1').replace(VIA, (_, a, h) => `${a}${h}:${port}`), 'latin1');

let probes = 0;
const sent = new Set(); // the Call-IDs sent: late retransmissions of their answers are theirs
// Send buf, then the probe; resolve with every datagram that came for
// buf's Call-ID (cid; undefined: every datagram not for an earlier one)
// before the probe's answer.
async function exchange(buf, cid) {
  const from = got.length;
  const earlier = new Set(sent);
  if (cid !== undefined) sent.add(cid);
  const tag = `probe-${++probes}`;
  s.send(buf, j.ports.sip, '127.0.0.1');
  s.send(['OPTIONS sip:127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${tag};rport`,
    'Max-Forwards: 70', 'From: <sip:probe@example.com>;tag=p', 'To: <sip:127.0.0.1>', `Call-ID: ${tag}`,
    'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'), j.ports.sip, '127.0.0.1');
  await waitFor(() => got.slice(from).some((t) => callId(t) === tag), 10000, `the probe ${tag}`);
  const upto = got.findIndex((t, i) => i >= from && callId(t) === tag);
  sent.add(tag);
  return got.slice(from, upto).filter((t) => (cid !== undefined ? callId(t) === cid : !earlier.has(callId(t))));
}
// The final answer among them (a 1xx is only Trying), or null.
const final = (answers) => answers.find((t) => /^SIP\/2\.0 [2-6]\d\d /.test(t)) || null;

// What RFC 4475 asks, for our set-up (example.com local, nobody
// registered, loopback trusted, DNS that never answers): a status (and the reason's
// words), or null for "no answer".
const EXPECT = {
  // 3.1.1 valid messages
  wsinv: [503],               // proxied by its Route to a host name that does not resolve
  intmeth: [404],             // an unknown method for a local user (who is not registered);
                              // libosip2 refuses the text, the proxy's view reads it
  esc01: [503],               // for example.net, not local: it does not resolve
  escnull: [200],             // a REGISTER, stored
  esc02: [503],               // RE%47IST%45R is not REGISTER: an unknown method, proxied
  lwsdisp: [200],             // OPTIONS junction answers
  dblreq: [200],              // the REGISTER; the INVITE after its Content-Length is ignored
  semiuri: [200],
  transports: [200],
  mpart01: [415],             // MESSAGE: the gateway takes text/plain only
  unreason: null,             // a response matching nothing of ours: dropped
  noreason: null,
  // 3.1.2 invalid messages
  badinv01: [400], clerr: [400], ncl: [400], scalar02: [400, /CSeq/], scalarlg: null,
  quotbal: [400], ltgtruri: [400], lwsruri: [400, /Request-Line/], lwsstart: [400, /Request-Line/],
  trws: [400, /Request-Line/], escruri: [400, /Request-URI/], baddate: [404], regbadct: [200],
  badaspec: [400], baddn: [400], badvers: [505], mismatch01: [400, /CSeq/], mismatch02: [400, /CSeq/],
  bigcode: null,
  // 3.2 / 3.3 transaction and application layer
  badbranch: [200], insuf: [400, /Missing/], unkscm: [416], novelsc: [416], unksm2: [404],
  invut: [404], regaut01: [200], bext01: [420], multi01: [400], mcl01: [400], bcast: null,
  zeromf: [483], cparam01: [200], cparam02: [200], regescrt: [200], sdp01: [404], inv2543: [404],
};

for (const [name, want] of Object.entries(EXPECT)) {
  test(`RFC 4475 ${name}: ${want ? `answered ${want[0]}` : 'dropped, no answer'}`, async () => {
    await useSocket();
    const raw = readFileSync(new URL(`${name}.sip`, FIX));
    const cid = callId(raw.toString('latin1'));
    const from = got.length;
    let answers = await exchange(aimed(raw), cid);
    if (want !== null && !final(answers)) { // a REGISTER is answered after its commit
      await waitFor(() => final(got.slice(from).filter((t) => callId(t) === cid)), 5000, `the answer to ${name}`);
      answers = got.slice(from).filter((t) => callId(t) === cid);
    }
    const f = final(answers);
    if (want === null) {
      assert.deepEqual(answers.map(first), [], 'nothing comes back');
    } else {
      assert.ok(f, `an answer; got ${JSON.stringify(answers.map(first))}`);
      const code = Number(f.split(' ')[1]);
      if (Array.isArray(want[0])) assert.ok(want[0].includes(code), first(f));
      else assert.equal(code, want[0], first(f));
      if (want[1]) assert.match(first(f), want[1]);
      if (want[0] === 420) assert.match(f, /\r\nUnsupported: \S+/);
    }
    // a REGISTER's binding would make later ones proxied: removed again
    for (const a of await j.mi('sip.registrations.list')) await j.mi('sip.registrations.delete', { aor: a.aor });
  });
}

test('the set ends on a fresh sender', useSocket);

const options = (extra = [], cid = 'bad-1') => ['OPTIONS sip:127.0.0.1 SIP/2.0',
  `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${cid}`, 'Max-Forwards: 70', 'From: <sip:a@example.com>;tag=a',
  'To: <sip:127.0.0.1>', `Call-ID: ${cid}`, 'CSeq: 1 OPTIONS', ...extra, 'Content-Length: 0', '', ''].join('\r\n');

test('a datagram over sip.max_message is refused 413 when its Via can be read, dropped when not', async () => {
  const c0 = (await j.mi('stats.get')).counters;
  const big = options([`X-Pad: ${'x'.repeat(MAX)}`], 'big-1');
  const a = await exchange(Buffer.from(big), 'big-1');
  assert.equal(a.length, 1, JSON.stringify(a.map(first)));
  assert.match(a[0], /^SIP\/2\.0 413 Request Entity Too Large\r\n/);
  assert.match(a[0], /\r\nCSeq: 1 OPTIONS\r\n/);
  // no request line: nothing to answer
  assert.deepEqual(await exchange(Buffer.alloc(MAX + 100, 0x41), undefined), []);
  const c1 = (await j.mi('stats.get')).counters;
  assert.equal(c1['sip.oversized'] - (c0['sip.oversized'] || 0), 2);
});

test('garbage, a lone CRLF and a truncated request get no answer, or a 400 from what can be read', async () => {
  const c0 = (await j.mi('stats.get')).counters;
  for (const g of [Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), Buffer.from('\r\n'),
    Buffer.from('hello world\r\n\r\n'), Buffer.from('SIP/2.0\r\n'), Buffer.alloc(1, 0)])
    assert.deepEqual(await exchange(g, undefined), []);
  // cut in its To header: the Via and Call-ID are there, the rest is not
  const full = options([], 'trunc-1');
  const cut = full.slice(0, full.indexOf('CSeq:') + 7);
  const a = await exchange(Buffer.from(cut), 'trunc-1');
  assert.equal(a.length, 1, JSON.stringify(a.map(first)));
  assert.match(a[0], /^SIP\/2\.0 400 /);
  // cut inside the request line: not a request, dropped
  assert.deepEqual(await exchange(Buffer.from('INVITE sip:bob@exam'), undefined), []);
  const c1 = (await j.mi('stats.get')).counters;
  assert.ok(c1['sip.drops'] - (c0['sip.drops'] || 0) >= 5, JSON.stringify(c1));
});

test('a request with 600 headers is answered, and junction goes on', async () => {
  const many = Array.from({ length: 600 }, (_, i) => `X-H${i}: v`);
  const text = options(many, 'many-1');
  assert.ok(text.length < MAX);
  const a = await exchange(Buffer.from(text), 'many-1');
  const f = final(a);
  assert.ok(f, JSON.stringify(a.map(first)));
  assert.match(first(f), /^SIP\/2\.0 (200|400|413) /);
  // as many Via headers
  const vias = Array.from({ length: 300 }, (_, i) => `Via: SIP/2.0/UDP 192.0.2.${i % 250}:5060;branch=z9hG4bK-v${i}`);
  const b = await exchange(Buffer.from(options(vias, 'vias-1')), 'vias-1');
  assert.ok(final(b), JSON.stringify(b.map(first)));
});

test('after all of it junction answers OPTIONS and every proxy transaction ends within its timers', async () => {
  const a = await exchange(Buffer.from(options([], 'after-1')), 'after-1');
  assert.match(first(final(a)), /^SIP\/2\.0 200 OK$/);
  // Timer H / J / B / F: 64*T1 = 9.6 s at most, plus the reaping
  await waitFor(async () => {
    const st = await j.mi('sip.transactions.stats');
    return ['ict', 'nict', 'ist', 'nist'].every((k) => st[k].total === 0);
  }, 60000, 'no transaction left');
  assert.equal(j.exited, null);
});
