// Dialogs through the SIP proxy (docs/sip-proxy.md, "Dialogs and CDRs"): a call
// A -> junction -> B that junction record-routed is a dialog from its 2xx
// to its BYE, listed by sip.dialogs.list; every end (a BYE from either
// side, sip.dialogs.end, sip.dialog_timeout_s) and every call that is not
// answered (486, CANCEL) is one sip.call CDR event, consumed from a real
// RabbitMQ broker and checked against docs/events.schema.json.  A and B
// are node UDP sockets on loopback so that each test reads exactly what
// each side received (the BYEs junction builds itself: their Request-URI,
// From / To tags and CSeq); one call is between SIPp UAs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';
import { validate } from './lib/jsonschema.mjs';
import { startSipp, stopAllSipp, loggedMessages } from './lib/sipp.mjs';

const SCHEMA = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));
let j, mq, events;

before(async () => {
  mq = await startRabbit();
  j = await startJunction({ params: { 'sip.workers': 2, 'sip.domains': '127.0.0.1' } });
  await j.mi('connectors.add', { name: 'events', type: 'amqp', conf: { port: mq.port, exchange: 'junction.events' } });
  await waitFor(async () => (await j.mi('connectors.list')).find((c) => c.name === 'events')?.status?.state === 'connected',
    15000, 'amqp connected');
  events = await consume(mq.url, 'junction.events', 'sip.call');
});

after(async () => {
  await stopAllSipp();
  await events?.close();
  await j?.cleanup();
  await mq?.stop();
});

const counters = async () => (await j.mi('stats.get')).counters;
const statusOf = (m) => Number(m.split(' ')[1]);
const headers = (m, name) => m.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
const header = (m, name) => headers(m, name)[0]?.slice(name.length + 1).trim();
const tagOf = (v) => /;tag=([^;>\s]+)/.exec(v || '')?.[1];
const rrLine = () => `<sip:127.0.0.1:${j.ports.sip};lr>`;

// A UDP socket on 127.0.0.1 that keeps what it receives.
async function udp(port = 0) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(port, '127.0.0.1', resolve));
  const s = { port: sock.address().port, msgs: [] };
  sock.on('message', (m) => s.msgs.push(m.toString('utf8')));
  s.send = (text) => new Promise((resolve, reject) =>
    sock.send(text, j.ports.sip, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  s.close = () => new Promise((resolve) => sock.close(resolve));
  s.waitFor = (pred, what) => waitFor(() => s.msgs.find(pred), 8000, what);
  return s;
}

let seq = 0;
const rnd = () => Math.random().toString(16).slice(2, 10);

// Callee user registered from socket b's port (its binding's source).
async function register(b, user) {
  const branch = `z9hG4bK-dreg${++seq}`;
  await b.send([
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${b.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=r${seq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: dreg-${user}-${b.port}`,
    `CSeq: ${seq} REGISTER`,
    `Contact: <sip:${user}@127.0.0.1:${b.port}>`,
    'Expires: 600',
    'Content-Length: 0', '', ''].join('\r\n'));
  const a = await b.waitFor((m) => m.includes(branch), `REGISTER ${user}`);
  assert.equal(statusOf(a), 200, a);
}

// A response of a UA to request req: its Vias, Record-Routes, From, To
// (with toTag unless it has one), Call-ID, CSeq, a Contact.
function respond(req, code, reason, { toTag, contact } = {}) {
  const keep = req.split('\r\n').filter((l) => /^(via|record-route|from|call-id|cseq):/i.test(l));
  const to = headers(req, 'To')[0];
  return [`SIP/2.0 ${code} ${reason}`, ...keep, tagOf(to) || !toTag ? to : `${to};tag=${toTag}`,
    ...(contact ? [`Contact: <${contact}>`] : []), 'Content-Length: 0', '', ''].join('\r\n');
}

// An in-dialog request from one side (o: method, ruri, route, from, to, callId, cseq).
function inDialog(s, o) {
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${s.port};branch=z9hG4bK-${rnd()};rport`,
    'Max-Forwards: 70',
    ...(o.route ? [`Route: ${o.route}`] : []),
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    ...(o.extra || []),
    'Content-Length: 0', '', ''].join('\r\n');
}

// A call from a new socket A to a new registered callee B, answered 200
// and ACKed: {a, b, user, callId, aTag, bTag, aFrom, bTo, route, bContact, aContact}.
async function call(tag) {
  const user = `dlg${tag}${++seq}`;
  const b = await udp();
  await register(b, user);
  const a = await udp();
  const callId = `dlg-${tag}-${rnd()}`;
  const aTag = `a${rnd()}`;
  const bTag = `b${rnd()}`;
  const aFrom = `<sip:alice@127.0.0.1>;tag=${aTag}`;
  const aContact = `sip:alice@127.0.0.1:${a.port}`;
  const bContact = `sip:${user}@127.0.0.1:${b.port}`;
  await a.send([
    `INVITE sip:${user}@127.0.0.1:${j.ports.sip} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK-${rnd()};rport`,
    'Max-Forwards: 70',
    `From: ${aFrom}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <${aContact}>`,
    'Content-Length: 0', '', ''].join('\r\n'));
  const inv = await b.waitFor((m) => m.startsWith('INVITE ') && m.includes(callId), 'INVITE at B');
  return { a, b, user, callId, aTag, bTag, aFrom, aContact, bContact, inv };
}

// B answers c's INVITE 200, A gets it and ACKs it through the proxy.
async function answerCall(c) {
  await c.b.send(respond(c.inv, 200, 'OK', { toTag: c.bTag, contact: c.bContact }));
  const ok = await c.a.waitFor((m) => m.startsWith('SIP/2.0 200') && m.includes(c.callId) && /CSeq: 1 INVITE/.test(m),
    '200 at A');
  c.bTo = header(ok, 'To');
  c.route = header(ok, 'Record-Route');
  assert.equal(c.route, rrLine(), ok);
  await c.a.send(inDialog(c.a, { method: 'ACK', ruri: c.bContact, route: c.route, from: c.aFrom, to: c.bTo,
    callId: c.callId, cseq: 1 }));
  await c.b.waitFor((m) => m.startsWith('ACK ') && m.includes(c.callId), 'ACK at B');
  return c;
}

const listed = async (callId) => (await j.mi('sip.dialogs.list', { call_id: callId }))[0];
const cdrs = (callId) => events.messages.filter((m) => m.json?.data?.call_id === callId);
async function oneCdr(callId) {
  await waitFor(() => cdrs(callId).length > 0, 10000, `sip.call of ${callId}`);
  const mine = cdrs(callId);
  assert.equal(mine.length, 1, JSON.stringify(mine.map((m) => m.json)));
  const [m] = mine;
  assert.equal(m.routingKey, 'sip.call');
  assert.deepEqual(validate(SCHEMA, m.json), [], JSON.stringify(m.json));
  return m.json;
}

test('a record-routed call is listed while up with its tags; A\'s BYE ends it with one sip.call CDR (bye-caller) that matches the schema, and the trace shows the call from INVITE to BYE', async () => {
  const before = await counters();
  const { id } = await j.mi('trace.start', { connector: 'sip' });
  const c = await call('bye');
  try {
    await answerCall(c);
    const d = await waitFor(async () => (await listed(c.callId))?.state === 'confirmed' && listed(c.callId),
      8000, 'dialog confirmed');
    assert.equal(d.from, 'sip:alice@127.0.0.1');
    assert.equal(d.from_tag, c.aTag);
    assert.equal(d.to, `sip:${c.user}@127.0.0.1`);
    assert.equal(d.to_tag, c.bTag);
    assert.equal(d.caller.source, `udp:127.0.0.1:${c.a.port}`);
    assert.equal(d.callee.source, `udp:127.0.0.1:${c.b.port}`);
    assert.equal(d.caller.contact, c.aContact);
    assert.equal(d.callee.contact, c.bContact);
    assert.ok(d.answer >= d.start && d.age_s >= 0, JSON.stringify(d));
    const mid = await counters();
    assert.equal(mid['sip.dialogs_started'] - (before['sip.dialogs_started'] || 0), 1);
    assert.equal(mid['sip.dialogs_active'], 1);

    await c.a.send(inDialog(c.a, { method: 'BYE', ruri: c.bContact, route: c.route, from: c.aFrom, to: c.bTo,
      callId: c.callId, cseq: 2 }));
    const bye = await c.b.waitFor((m) => m.startsWith('BYE ') && m.includes(c.callId), 'BYE at B');
    await c.b.send(respond(bye, 200, 'OK'));
    await c.a.waitFor((m) => m.startsWith('SIP/2.0 200') && /CSeq: 2 BYE/.test(m), '200 for the BYE at A');
    await waitFor(async () => !(await listed(c.callId)), 8000, 'dialog gone');

    const cdr = await oneCdr(c.callId);
    assert.equal(cdr.event, 'sip.call');
    assert.equal(cdr.data.cause, 'bye-caller');
    assert.equal(cdr.data.status, 200);
    assert.equal(cdr.data.from, 'sip:alice@127.0.0.1');
    assert.equal(cdr.data.to, `sip:${c.user}@127.0.0.1`);
    assert.equal(cdr.data.from_tag, c.aTag);
    assert.equal(cdr.data.to_tag, c.bTag);
    assert.equal(cdr.data.caller, `udp:127.0.0.1:${c.a.port}`);
    assert.equal(cdr.data.callee, c.bContact);
    assert.ok(cdr.data.start <= cdr.data.answer && cdr.data.answer <= cdr.data.end, JSON.stringify(cdr.data));
    assert.equal(cdr.data.setup_ms, cdr.data.answer - cdr.data.start);
    assert.equal(cdr.data.duration_s, Math.floor((cdr.data.end - cdr.data.answer) / 1000));
    const after = await counters();
    assert.equal(after['sip.dialogs_ended'] - (before['sip.dialogs_ended'] || 0), 1);
    assert.equal(after['sip.dialogs_active'], 0);

    const recs = (await j.mi('trace.list', { id, after: 0 })).records.filter((r) => r.call_id === c.callId)
      .map((r) => r.summary);
    const at = (re) => recs.findIndex((s) => re.test(s));
    assert.ok(at(/^INVITE /) >= 0, JSON.stringify(recs));
    assert.ok(at(/^dialog: created by 200/) > at(/^INVITE /), JSON.stringify(recs));
    assert.ok(at(/^dialog: confirmed/) > at(/^dialog: created/), JSON.stringify(recs));
    assert.ok(at(/^dialog: ended \(bye-caller\)/) > at(/^dialog: confirmed/), JSON.stringify(recs));
    assert.ok(recs.some((s) => /^BYE /.test(s)), JSON.stringify(recs));
  } finally {
    await j.mi('trace.stop', { id });
    await c.a.close();
    await c.b.close();
  }
});

test('a SIPp call held for 1.5 s is listed while up and makes one CDR with its duration', async () => {
  const port = await freePort();
  const b = await udp(port);
  await register(b, 'sippbob');
  await b.close();
  const uas = startSipp({ scenario: 'uas_answer.xml', dir: j.dir, name: 'sippbob', localPort: port, calls: 1 });
  const uac = startSipp({ scenario: 'uac_call_hold.xml', dir: j.dir, name: 'sippalice', localPort: await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, service: 'sippbob', calls: 1, timeoutS: 30, args: ['-d', '1500'] });
  const d = await waitFor(async () => (await j.mi('sip.dialogs.list', {})).find((x) => x.to === 'sip:sippbob@127.0.0.1'),
    8000, 'the SIPp call listed');
  await uac.done;
  assert.equal(uac.exited.code, 0, uac.explain());
  await uas.done;
  assert.equal(uas.exited.code, 0, uas.explain());
  const [inv] = loggedMessages(uas.messageFile, 'received').filter((m) => m.startsWith('INVITE '));
  assert.equal(header(inv, 'Call-ID'), d.call_id);
  assert.equal(tagOf(header(inv, 'From')), d.from_tag);
  const cdr = await oneCdr(d.call_id);
  assert.equal(cdr.data.cause, 'bye-caller');
  assert.equal(cdr.data.to_tag, d.to_tag);
  assert.ok(cdr.data.duration_s >= 1, JSON.stringify(cdr.data));
  assert.ok(cdr.data.end - cdr.data.answer >= 1500, JSON.stringify(cdr.data));
  assert.equal(await listed(d.call_id), undefined);
});

test('a BYE from the callee ends the dialog with cause bye-callee', async () => {
  const c = await answerCall(await call('callee'));
  try {
    await waitFor(() => listed(c.callId), 8000, 'dialog listed');
    // B's route set is the Record-Route of the INVITE it got
    await c.b.send(inDialog(c.b, { method: 'BYE', ruri: c.aContact, route: rrLine(), from: c.bTo, to: c.aFrom,
      callId: c.callId, cseq: 1 }));
    const bye = await c.a.waitFor((m) => m.startsWith('BYE ') && m.includes(c.callId), 'BYE at A');
    await c.a.send(respond(bye, 200, 'OK'));
    const cdr = await oneCdr(c.callId);
    assert.equal(cdr.data.cause, 'bye-callee');
    assert.equal(await listed(c.callId), undefined);
  } finally {
    await c.a.close();
    await c.b.close();
  }
});

test('a call rejected 486 makes no dialog and a CDR with no answer, cause 486', async () => {
  const c = await call('busy');
  try {
    await c.b.send(respond(c.inv, 486, 'Busy Here', { toTag: c.bTag }));
    await c.b.waitFor((m) => m.startsWith('ACK ') && m.includes(c.callId), 'the proxy ACKs the 486');
    const busy = await c.a.waitFor((m) => m.startsWith('SIP/2.0 486') && m.includes(c.callId), '486 at A');
    assert.ok(busy);
    const cdr = await oneCdr(c.callId);
    assert.equal(cdr.data.cause, '486');
    assert.equal(cdr.data.status, 486);
    assert.equal(cdr.data.answer, null);
    assert.equal(cdr.data.to_tag, null);
    assert.equal(cdr.data.duration_s, 0);
    assert.ok(cdr.data.setup_ms >= 0 && cdr.data.end >= cdr.data.start, JSON.stringify(cdr.data));
    assert.equal(await listed(c.callId), undefined);
  } finally {
    await c.a.close();
    await c.b.close();
  }
});

test('a call cancelled while ringing makes a CDR with no answer, cause cancel, status 487', async () => {
  const c = await call('cancel');
  try {
    await c.b.send(respond(c.inv, 180, 'Ringing', { toTag: c.bTag }));
    await c.a.waitFor((m) => m.startsWith('SIP/2.0 180') && m.includes(c.callId), '180 at A');
    const via = headers(c.inv, 'Via').pop(); // A's Via, as A sent it
    await c.a.send([
      `CANCEL sip:${c.user}@127.0.0.1:${j.ports.sip} SIP/2.0`, via, 'Max-Forwards: 70', `From: ${c.aFrom}`,
      `To: <sip:${c.user}@127.0.0.1>`, `Call-ID: ${c.callId}`, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n'));
    const cancel = await c.b.waitFor((m) => m.startsWith('CANCEL ') && m.includes(c.callId), 'CANCEL at B');
    await c.b.send(respond(cancel, 200, 'OK', { toTag: c.bTag }));
    await c.b.send(respond(c.inv, 487, 'Request Terminated', { toTag: c.bTag }));
    await c.a.waitFor((m) => m.startsWith('SIP/2.0 487') && m.includes(c.callId), '487 at A');
    const cdr = await oneCdr(c.callId);
    assert.equal(cdr.data.cause, 'cancel');
    assert.equal(cdr.data.status, 487);
    assert.equal(cdr.data.answer, null);
  } finally {
    await c.a.close();
    await c.b.close();
  }
});

test('sip.dialogs.end sends A and B each a BYE with the right tags, Request-URI and next CSeq, retransmitted until answered, and makes a CDR with cause mi', async () => {
  const c = await answerCall(await call('mi'));
  const { id } = await j.mi('trace.start', { call_id: c.callId });
  try {
    // A sends an INFO with CSeq 5 inside the dialog: the BYE to B must say 6
    await c.a.send(inDialog(c.a, { method: 'INFO', ruri: c.bContact, route: c.route, from: c.aFrom, to: c.bTo,
      callId: c.callId, cseq: 5 }));
    const info = await c.b.waitFor((m) => m.startsWith('INFO ') && m.includes(c.callId), 'INFO at B');
    await c.b.send(respond(info, 200, 'OK'));
    await c.a.waitFor((m) => m.startsWith('SIP/2.0 200') && /CSeq: 5 INFO/.test(m), '200 for the INFO');
    await waitFor(async () => (await listed(c.callId))?.caller?.cseq === 5, 8000, 'CSeq 5 seen');

    const res = await j.mi('sip.dialogs.end', { call_id: c.callId });
    assert.equal(res.ended, 1, JSON.stringify(res));
    assert.ok(res.bye.every((x) => x.sent), JSON.stringify(res));
    const toB = await c.b.waitFor((m) => m.startsWith('BYE ') && m.includes(c.callId), 'BYE at B');
    const toA = await c.a.waitFor((m) => m.startsWith('BYE ') && m.includes(c.callId), 'BYE at A');

    assert.ok(toB.startsWith(`BYE ${c.bContact} SIP/2.0\r\n`), toB);
    assert.equal(tagOf(header(toB, 'From')), c.aTag, toB);
    assert.equal(tagOf(header(toB, 'To')), c.bTag, toB);
    assert.equal(header(toB, 'CSeq'), '6 BYE', toB);
    assert.equal(header(toB, 'Call-ID'), c.callId);
    assert.match(header(toB, 'Via'), new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${j.ports.sip};branch=z9hG4bK-`), toB);
    assert.equal(headers(toB, 'Via').length, 1, toB);

    assert.ok(toA.startsWith(`BYE ${c.aContact} SIP/2.0\r\n`), toA);
    assert.equal(tagOf(header(toA, 'From')), c.bTag, toA);
    assert.equal(tagOf(header(toA, 'To')), c.aTag, toA);
    assert.equal(header(toA, 'CSeq'), '1 BYE', toA); // B sent no request: its first
    assert.equal(header(toA, 'Call-ID'), c.callId);
    assert.equal(headers(toA, 'Via').length, 1, toA);

    // B answers at once; A only the retransmission (Timer E, same branch)
    await c.b.send(respond(toB, 200, 'OK'));
    const again = await waitFor(() => c.a.msgs.filter((m) => m.startsWith('BYE ') && m.includes(c.callId))[1],
      8000, 'the BYE to A again');
    assert.equal(header(again, 'Via'), header(toA, 'Via'), 'a retransmission, not a new BYE');
    await c.a.send(respond(again, 200, 'OK'));
    const recs = await waitFor(async () => {
      const r = (await j.mi('trace.list', { id, after: 0 })).records.map((x) => x.summary);
      return r.some((x) => x === 'dialog: BYE to the caller answered 200') &&
        r.some((x) => x === 'dialog: BYE to the callee answered 200') && r;
    }, 8000, 'both BYEs answered');
    assert.ok(recs.some((x) => /^dialog: ended \(mi\)/.test(x)), JSON.stringify(recs));
    const cdr = await oneCdr(c.callId);
    assert.equal(cdr.data.cause, 'mi');
    assert.ok(cdr.data.answer > 0);
    assert.equal(await listed(c.callId), undefined);
    await assert.rejects(j.mi('sip.dialogs.end', { call_id: c.callId }), /no such dialog/);
  } finally {
    await j.mi('trace.stop', { id });
    await c.a.close();
    await c.b.close();
  }
});

test('a re-INVITE and its 2xx refresh both remote targets: sip.dialogs.end then sends each BYE to the new Contact', async () => {
  const c = await answerCall(await call('refresh'));
  try {
    const aContact2 = `sip:alice2@127.0.0.1:${c.a.port}`;
    const bContact2 = `sip:${c.user}-2@127.0.0.1:${c.b.port}`;
    await c.a.send(inDialog(c.a, { method: 'INVITE', ruri: c.bContact, route: c.route, from: c.aFrom, to: c.bTo,
      callId: c.callId, cseq: 2, extra: [`Contact: <${aContact2}>`] }));
    const re = await c.b.waitFor((m) => m.startsWith('INVITE ') && /CSeq: 2 INVITE/.test(m), 're-INVITE at B');
    await c.b.send(respond(re, 200, 'OK', { contact: bContact2 }));
    await c.a.waitFor((m) => m.startsWith('SIP/2.0 200') && /CSeq: 2 INVITE/.test(m), '200 of the re-INVITE at A');
    await c.a.send(inDialog(c.a, { method: 'ACK', ruri: bContact2, route: c.route, from: c.aFrom, to: c.bTo,
      callId: c.callId, cseq: 2 }));
    const d = await waitFor(async () => {
      const x = await listed(c.callId);
      return x?.caller?.contact === aContact2 && x?.callee?.contact === bContact2 && x;
    }, 8000, 'both targets refreshed');
    assert.equal(d.caller.cseq, 2);
    await j.mi('sip.dialogs.end', { call_id: c.callId });
    const toB = await c.b.waitFor((m) => m.startsWith('BYE ') && m.includes(c.callId), 'BYE at B');
    const toA = await c.a.waitFor((m) => m.startsWith('BYE ') && m.includes(c.callId), 'BYE at A');
    assert.ok(toB.startsWith(`BYE ${bContact2} SIP/2.0\r\n`), toB);
    assert.equal(header(toB, 'CSeq'), '3 BYE', toB);
    assert.ok(toA.startsWith(`BYE ${aContact2} SIP/2.0\r\n`), toA);
    await c.a.send(respond(toA, 200, 'OK'));
    await c.b.send(respond(toB, 200, 'OK'));
    assert.equal((await oneCdr(c.callId)).data.cause, 'mi');
  } finally {
    await c.a.close();
    await c.b.close();
  }
});

test('a dialog past sip.dialog_timeout_s ends with cause timeout', async () => {
  const before = await counters();
  const c = await answerCall(await call('timeout'));
  try {
    await waitFor(() => listed(c.callId), 8000, 'dialog listed');
    await j.mi('params.set', { name: 'sip.dialog_timeout_s', value: '1' });
    const cdr = await oneCdr(c.callId);
    assert.equal(cdr.data.cause, 'timeout');
    assert.ok(cdr.data.end - cdr.data.answer >= 1000, JSON.stringify(cdr.data));
    assert.equal(await listed(c.callId), undefined);
    const after = await counters();
    assert.equal(after['sip.dialogs_timeouts'] - (before['sip.dialogs_timeouts'] || 0), 1);
  } finally {
    await j.mi('params.set', { name: 'sip.dialog_timeout_s', value: '43200' });
    await c.a.close();
    await c.b.close();
  }
});

test('a call the proxy did not record-route is not tracked: no dialog, and the trace says why', async () => {
  const before = await counters();
  await j.mi('params.set', { name: 'sip.record_route', value: 'no' });
  const { id } = await j.mi('trace.start', { connector: 'sip' });
  const c = await call('norr');
  try {
    assert.equal(headers(c.inv, 'Record-Route').length, 0, c.inv);
    await c.b.send(respond(c.inv, 200, 'OK', { toTag: c.bTag, contact: c.bContact }));
    await c.a.waitFor((m) => m.startsWith('SIP/2.0 200') && m.includes(c.callId), '200 at A');
    const recs = await waitFor(async () => {
      const r = (await j.mi('trace.list', { id, after: 0 })).records.filter((x) => x.call_id === c.callId)
        .map((x) => x.summary);
      return r.some((s) => /^dialog: 200 not record-routed by us: not tracked$/.test(s)) && r;
    }, 8000, 'the trace record');
    assert.ok(!recs.some((s) => /^dialog: created/.test(s)), JSON.stringify(recs));
    assert.equal(await listed(c.callId), undefined);
    const after = await counters();
    assert.equal(after['sip.dialogs_started'] || 0, before['sip.dialogs_started'] || 0);
  } finally {
    await j.mi('trace.stop', { id });
    await j.mi('params.set', { name: 'sip.record_route', value: 'yes' });
    await c.a.close();
    await c.b.close();
  }
});

test('at sip.dialogs_max a call goes through untracked, counted in sip.dialogs_untracked', async () => {
  const before = await counters();
  await j.mi('params.set', { name: 'sip.dialogs_max', value: '0' });
  let c;
  try {
    c = await answerCall(await call('full'));
    await waitFor(async () => (await counters())['sip.dialogs_untracked'] === (before['sip.dialogs_untracked'] || 0) + 1,
      8000, 'sip.dialogs_untracked + 1');
    assert.equal(await listed(c.callId), undefined);
    assert.equal((await counters())['sip.dialogs_started'] || 0, before['sip.dialogs_started'] || 0);
  } finally {
    await j.mi('params.set', { name: 'sip.dialogs_max', value: '20000' });
    await c?.a.close();
    await c?.b.close();
  }
});

test('the dialog statistics are in /metrics', async () => {
  const res = await j.http('/metrics');
  const text = await res.text();
  for (const name of ['sip_dialogs_active', 'sip_dialogs_started', 'sip_dialogs_ended', 'sip_dialogs_timeouts'])
    assert.match(text, new RegExp(`^junction_${name}(_total)? \\d+`, 'm'), name);
});
