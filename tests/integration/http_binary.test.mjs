// Binary bodies on the back-office surfaces and Kannel's sendsms in full:
// messages.inject and POST /api/v1/messages take `binary` (hex or base64)
// with `udh` and `data_coding`, and the SMSC (lib/smsc.mjs, npm smpp) gets
// the exact octets, the data_coding and esm_class UDHI; bad input is a
// -32602 / 400 naming the member; a binary message waiting for its SMSC
// survives a restart; one with a UDH toward SIP fails for good with its
// reason.  Kannel's /cgi-bin/sendsms: GET and POST forms, X-Kannel-*
// headers with the text as the body, several recipients in `to`, coding,
// charset (iconv), udh, mclass, validity.  Every wait is for a state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { startJunction, waitFor, freePort } from './lib/junction.mjs';
import { startSmsc, waitBound, connectorState } from './lib/smsc.mjs';

const spec = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
let j;
let smsc;
let tok;

before(async () => {
  smsc = await startSmsc();
  j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  await j.mi('connectors.add', { name: 'smsc1', type: 'smpp', conf: { host: '127.0.0.1', port: smsc.port, system_id: 'bin', password: 'pw' } });
  await waitBound(j, 'smsc1');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'smsc1' });
  tok = (await j.mi('tokens.create', { name: 'shop', role: 'operator' })).token;
  await j.addUser('kannel', 'operator', 'kannel-password-1');
});
after(async () => { if (j) await j.cleanup(); if (smsc) await smsc.stop(); });

// The raw short_message octets of a submit_sm as the SMSC got them
// (npm smpp splits a UDH off into .udh, a list of its IEs).
function octets(pdu) {
  const sm = pdu.short_message;
  if (Buffer.isBuffer(sm)) return sm;
  const msg = Buffer.isBuffer(sm.message) ? sm.message : Buffer.from(sm.message || '', 'latin1');
  if (!sm.udh) return msg;
  const ies = Buffer.concat(sm.udh);
  return Buffer.concat([Buffer.from([ies.length]), ies, msg]);
}
const submitTo = (dst) => waitFor(() => smsc.submits.find((p) => p.destination_addr === dst), 10000, `submit_sm to ${dst}`);

const api = (body) => j.httpAnon('/api/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('messages.inject binary hex with a udh reaches the SMSC byte-exact, data_coding 4, UDHI', async () => {
  const r = await j.mi('messages.inject', { from: '4930123', to: '447700900101', binary: '00ff7f8081fe', udh: '06050415810000' });
  assert.ok(r.id);
  const m = await j.mi('messages.get', { id: r.id });
  assert.equal(m.envelope.tags.udh, '06050415810000', 'the UDH is stored with the envelope');
  const p = await submitTo('447700900101');
  assert.equal(p.data_coding, 4);
  assert.equal(p.esm_class & 0x40, 0x40, 'UDHI');
  assert.deepEqual(octets(p), Buffer.from('0605041581000000ff7f8081fe', 'hex'));
});

test('messages.inject binary base64 without udh: the octets, the data_coding given, no UDHI', async () => {
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x1b, 0x0a]);
  await j.mi('messages.inject', { from: '4930123', to: '447700900102', binary: bytes.toString('base64'), encoding: 'base64', data_coding: 0xf5 });
  const p = await submitTo('447700900102');
  assert.equal(p.data_coding, 0xf5);
  assert.equal(p.esm_class & 0x40, 0);
  assert.deepEqual(octets(p), bytes);
});

test('messages.inject: bad binary input is -32602 naming the member, nothing stored', async () => {
  const before = (await j.mi('messages.list', { limit: 1000 })).length;
  const base = { from: '4930123', to: '447700900103' };
  const cases = [
    [{ binary: 'abc' }, /binary: not valid hex/],
    [{ binary: 'zz' }, /binary: not valid hex/],
    [{ binary: '!!!!', encoding: 'base64' }, /binary: not valid base64/],
    [{ binary: '00', encoding: 'base32' }, /encoding/],
    [{ binary: '00', udh: '0500' }, /udh:/],
    [{ binary: '00', data_coding: 300 }, /data_coding/],
    [{ binary: 'ab'.repeat(141) }, /more than 140 octets/],
    [{ binary: 'ab'.repeat(134), udh: '06050415810000' }, /more than 133 octets/],
    [{ binary: '00', body: 'text too' }, /exactly one of body/],
    [{}, /exactly one of body/],
    [{ body: 'x', udh: '06050415810000' }, /go with binary/],
    [{ binary: '00', tags: { udh: '00' } }, /udh/],
  ];
  for (const [extra, re] of cases) {
    let err;
    try { await j.mi('messages.inject', { ...base, ...extra }); } catch (e) { err = e.rpc; }
    assert.ok(err, `${JSON.stringify(extra)} is refused`);
    assert.equal(err.code, -32602, JSON.stringify(extra));
    assert.match(err.message, re, JSON.stringify(extra));
  }
  assert.equal((await j.mi('messages.list', { limit: 1000 })).length, before);
});

test('POST /api/v1/messages binary hex and base64 arrive byte-exact; bad hex is a 400', async () => {
  let r = await api({ to: '447700900111', from: '4930123', binary: 'c0ffee00', udh: '050003aa0201' });
  assert.equal(r.status, 202, await r.clone().text());
  let p = await submitTo('447700900111');
  assert.equal(p.data_coding, 4);
  assert.equal(p.esm_class & 0x40, 0x40);
  assert.deepEqual(octets(p), Buffer.from('050003aa0201c0ffee00', 'hex'));
  r = await api({ to: '447700900112', from: '4930123', binary: Buffer.from('hi\u0000there').toString('base64'), encoding: 'base64' });
  assert.equal(r.status, 202);
  p = await submitTo('447700900112');
  assert.deepEqual(octets(p), Buffer.from('hi\u0000there'));
  r = await api({ to: '447700900113', from: '4930123', binary: 'xyz1' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /binary: not valid hex/);
  r = await api({ to: '447700900113', from: '4930123', text: 'a', binary: '00' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /exactly one of text and binary/);
});

test('a binary message survives a restart while its SMSC is down, and goes out byte-exact', async () => {
  await smsc.stop();
  await waitFor(async () => (await connectorState(j, 'smsc1')) !== 'bound', 10000, 'smsc1 down');
  const r = await j.mi('messages.inject', { from: '4930123', to: '447700900121', binary: 'deadbeef0102', udh: '0605040b8423f0', data_coding: 4 });
  assert.equal((await j.mi('messages.get', { id: r.id })).status, 'queued');
  const later = await j.mi('messages.inject', { from: '4930123', to: '447700900122', binary: '0102', deferred_s: 3600 });
  const laterAt = (await j.mi('messages.get', { id: later.id })).next_at;
  await j.stop();
  j.start();
  await j.ready();
  const m = await j.mi('messages.get', { id: r.id });
  assert.equal(m.status, 'queued', 'recovered from the store');
  assert.equal(m.envelope.tags.udh, '0605040b8423f0');
  await smsc.start();
  const p = await submitTo('447700900121');
  assert.equal(p.data_coding, 4);
  assert.equal(p.esm_class & 0x40, 0x40);
  assert.deepEqual(octets(p), Buffer.from('0605040b8423f0deadbeef0102', 'hex'));
  await waitFor(async () => (await j.mi('messages.get', { id: r.id })).status === 'submitted', 10000, 'submitted');
  const l = await j.mi('messages.get', { id: later.id });
  assert.equal(l.status, 'queued', 'a deferred one still waits after the restart');
  assert.equal(l.next_at, laterAt);
  assert.ok(!smsc.submits.some((p) => p.destination_addr === '447700900122'));
});

test('to SIP: a binary body goes as its octets with its content type; with a udh it fails for good', async () => {
  const port = await freePort();
  const got = [];
  const uas = dgram.createSocket('udp4');
  uas.on('message', (msg, rinfo) => {
    got.push(msg);
    const head = msg.toString('latin1');
    const hdr = (n) => (head.match(new RegExp(`^${n}:.*$`, 'mi')) || [''])[0];
    const resp = `SIP/2.0 200 OK\r\n${hdr('Via')}\r\n${hdr('From')}\r\n${hdr('To')};tag=u1\r\n${hdr('Call-ID')}\r\n${hdr('CSeq')}\r\nContent-Length: 0\r\n\r\n`;
    uas.send(resp, rinfo.port, rinfo.address);
  });
  await new Promise((res) => uas.bind(port, '127.0.0.1', res));
  try {
    await j.mi('connectors.add', { name: 'phones', type: 'sip', conf: { uri: `sip:127.0.0.1:${port}` } });
    await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'phones' });
    const ok = await j.mi('messages.inject', { from: '4930123', to: '4915100000001', binary: '00010280ff' });
    await waitFor(async () => (await j.mi('messages.get', { id: ok.id })).status === 'delivered', 10000, 'delivered over SIP');
    const raw = got.find((g) => g.toString('latin1').startsWith('MESSAGE '));
    const sep = raw.indexOf('\r\n\r\n');
    assert.match(raw.subarray(0, sep).toString(), /^Content-Type: application\/octet-stream$/mi);
    assert.deepEqual(raw.subarray(sep + 4), Buffer.from('00010280ff', 'hex'));
    const bad = await j.mi('messages.inject', { from: '4930123', to: '4915100000002', binary: '00', udh: '06050415810000' });
    const m = await waitFor(async () => { const x = await j.mi('messages.get', { id: bad.id }); return x.status === 'failed' && x; }, 10000, 'failed');
    assert.match(m.reason_text, /user data header.*SIP/);
    assert.equal(m.attempts, 1, 'not retried');
  } finally {
    uas.close();
  }
});

// ---- Kannel's /cgi-bin/sendsms -----------------------------------------

const KANNEL = { username: 'kannel', password: 'kannel-password-1', from: '4930999' };
// A GET with a raw query (so '+' and %2B are as the test writes them).
// Every answer's status is one docs/openapi.json lists, as text/plain.
const documented = (method, r) => {
  assert.ok(spec.paths['/cgi-bin/sendsms'][method].responses[String(r.status)], `${method} ${r.status} in openapi.json`);
  assert.match(r.headers.get('content-type'), /^text\/plain/);
};
const sendsmsGet = async (query) => {
  const r = await j.httpAnon(`/cgi-bin/sendsms?username=kannel&password=kannel-password-1&from=4930999&${query}`);
  documented('get', r);
  return { status: r.status, text: await r.text() };
};
const sendsmsPost = async (body, headers) => {
  const r = await j.httpAnon('/cgi-bin/sendsms', { method: 'POST', headers, body });
  documented('post', r);
  return { status: r.status, text: await r.text() };
};
const form = { 'content-type': 'application/x-www-form-urlencoded' };

test('sendsms GET: "+" separates recipients, %2B keeps an international +, one answer', async () => {
  const r = await sendsmsGet('to=447700900201+447700900202+%2B447700900203&text=to+three');
  assert.equal(r.status, 202);
  assert.equal(r.text, '0: Accepted for delivery');
  for (const d of ['447700900201', '447700900202', '447700900203']) {
    const p = await submitTo(d);
    assert.equal(p.short_message.message, 'to three');
  }
  assert.equal(smsc.submits.find((p) => p.destination_addr === '447700900203').dest_addr_ton, 1, '+44... is international');
});

test('sendsms POST form: one message per recipient, Kannel\'s answer', async () => {
  const body = new URLSearchParams({ ...KANNEL, to: '447700900211 447700900212', text: 'hello form', 'dlr-mask': '1' }).toString();
  const r = await sendsmsPost(body, form);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.text, '0: Accepted for delivery');
  for (const d of ['447700900211', '447700900212']) {
    const p = await submitTo(d);
    assert.equal(p.short_message.message, 'hello form');
    assert.equal(p.registered_delivery & 1, 1);
  }
  assert.equal(smsc.submits.filter((p) => ['447700900211', '447700900212'].includes(p.destination_addr)).length, 2, 'one each');
});

test('sendsms coding=2 with charset=UTF-8 arrives as UCS-2; without charset the text is UTF-16BE', async () => {
  let r = await sendsmsGet(`to=447700900221&coding=2&charset=UTF-8&text=${encodeURIComponent('Grüße €')}`);
  assert.equal(r.status, 202, r.text);
  let p = await submitTo('447700900221');
  assert.equal(p.data_coding, 8);
  assert.equal(p.short_message.message, 'Grüße €');
  const utf16 = [...Buffer.from('\u00fcber 16', 'utf16le').swap16()].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  r = await sendsmsGet(`to=447700900222&coding=2&text=${utf16}`);
  assert.equal(r.status, 202, r.text);
  p = await submitTo('447700900222');
  assert.equal(p.data_coding, 8);
  assert.equal(p.short_message.message, '\u00fcber 16');
});

test('sendsms charset=ISO-8859-1 text is converted; mclass is the message class', async () => {
  const r = await sendsmsGet('to=447700900231&charset=ISO-8859-1&text=%E9t%E9&mclass=1&validity=10');
  assert.equal(r.status, 202, r.text);
  const p = await submitTo('447700900231');
  assert.equal(p.short_message.message, 'été');
  assert.equal(p.data_coding, 0xf1, 'GSM, class 1');
  assert.ok(p.validity_period, 'validity sent on');
  const m = (await j.mi('messages.list', { number: '447700900231' }))[0];
  assert.equal(m.envelope.tags.validity_s, '600', '10 minutes');
});

test('sendsms coding=1 with a udh: the octets byte-exact, data_coding 4 (0xF4|mclass), UDHI', async () => {
  let r = await sendsmsGet('to=447700900241&udh=%06%05%04%15%81%00%00&text=%00%01%FF%2B');
  assert.equal(r.status, 202, r.text);
  let p = await submitTo('447700900241');
  assert.equal(p.data_coding, 4);
  assert.equal(p.esm_class & 0x40, 0x40);
  assert.deepEqual(octets(p), Buffer.from('0605041581000000' + '01ff2b', 'hex'));
  r = await sendsmsGet('to=447700900242&coding=1&mclass=2&text=%C0%C1');
  assert.equal(r.status, 202, r.text);
  p = await submitTo('447700900242');
  assert.equal(p.data_coding, 0xf6);
  assert.deepEqual(octets(p), Buffer.from('c0c1', 'hex'));
});

test('sendsms POST with the text as the body and X-Kannel-* headers', async () => {
  let r = await sendsmsPost(Buffer.from('caf\u00e9 post', 'latin1'), {
    'content-type': 'text/plain; charset=ISO-8859-1', 'x-kannel-username': 'kannel',
    'x-kannel-password': 'kannel-password-1', 'x-kannel-from': '4930999', 'x-kannel-to': '447700900251 447700900252',
  });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.text, '0: Accepted for delivery');
  for (const d of ['447700900251', '447700900252']) assert.equal((await submitTo(d)).short_message.message, 'café post');
  r = await sendsmsPost(Buffer.from('0102', 'hex'), {
    'content-type': 'application/octet-stream', 'x-kannel-username': 'kannel', 'x-kannel-password': 'kannel-password-1',
    'x-kannel-from': '4930999', 'x-kannel-to': '447700900253', 'x-kannel-udh': '050003070201',
  });
  assert.equal(r.status, 202, r.text);
  const p = await submitTo('447700900253');
  assert.equal(p.data_coding, 4);
  assert.deepEqual(octets(p), Buffer.from('0500030702010102', 'hex'));
});

test('sendsms refusals are Kannel\'s texts and statuses; nothing is stored', async () => {
  const before = (await j.mi('messages.list', { limit: 1000 })).length;
  const cases = [
    ['to=447700900261&text=x&coding=5', 400, 'Coding field misformed, rejected'],
    ['to=447700900261&text=x&mclass=7', 400, 'MClass field misformed, rejected'],
    ['to=447700900261&text=x&udh=%05%00', 400, 'UDH field misformed, rejected'],
    ['to=447700900261&text=x&validity=-1', 400, 'Validity field misformed, rejected'],
    ['to=447700900261&text=x&deferred=-1', 400, 'Deferred field misformed, rejected'],
    ['to=447700900261&text=x&deferred=43201', 400, 'Deferred field misformed, rejected'],
    ['to=447700900261&text=%FF%FE&charset=UTF-8', 400, 'Charset or body misformed, rejected'],
    ['to=447700900261&text=x&charset=NO-SUCH-CHARSET', 400, 'Charset or body misformed, rejected'],
    ['text=x', 400, 'Missing receiver number, rejected'],
    ['to=+&text=x', 400, 'Empty receiver number not allowed, rejected'],
    [`to=447700900261&coding=1&text=${'%AA'.repeat(141)}`, 400, 'Message too long for one SMS (binary is not split), rejected'],
    ['to=33123456789&text=x', 403, 'Not routable. Do not try again.'],
    [`to=${Array.from({ length: 101 }, (_, i) => `447700909${String(i).padStart(3, '0')}`).join('+')}&text=x`, 400, 'Too many receivers, rejected'],
    ['to=447700900261&text=%C3%A9&udh=%05%00%03%01%02%01&coding=0', 400, 'UDH with coding 0 (7 bits) is not supported, rejected'],
  ];
  for (const [q, status, text] of cases) {
    const r = await sendsmsGet(q);
    assert.equal(r.status, status, `${q}: ${r.text}`);
    assert.equal(r.text, text, q);
  }
  let r = await sendsmsPost('x', { 'content-type': 'application/json' });
  assert.equal(r.status, 400);
  assert.equal(r.text, 'Invalid content-type');
  r = await sendsmsPost(new URLSearchParams({ ...KANNEL, password: 'wrong', to: '447700900262', text: 'x' }).toString(), form);
  assert.equal(r.status, 403);
  assert.equal(r.text, 'Authorization failed for sendsms');
  assert.equal((await j.mi('messages.list', { limit: 1000 })).length, before);
  const head = await j.httpAnon('/cgi-bin/sendsms?username=kannel&password=kannel-password-1&from=1&to=447700900264&text=x', { method: 'HEAD' });
  assert.equal(head.status, 405, 'a HEAD sends nothing');
  assert.equal((await j.mi('messages.list', { limit: 1000 })).length, before);
  r = await sendsmsGet('to=447700900263+33123456789&text=half');
  assert.equal(r.status, 202);
  assert.equal(r.text, '0: Accepted for delivery Denied receivers are: 33123456789');
});

test('sendsms to a connector that is down: "3: Queued for later delivery"', async () => {
  await j.mi('connectors.add', { name: 'down', type: 'smpp', conf: { host: '127.0.0.1', port: await freePort(), system_id: 'x', password: 'y' } });
  await j.mi('routes.add', { name: 'fr', priority: 5, dst_prefix: '33', target: 'down' });
  try {
    const r = await sendsmsGet('to=33600000001&text=later');
    assert.equal(r.status, 202);
    assert.equal(r.text, '3: Queued for later delivery');
    const m = (await j.mi('messages.list', { number: '33600000001' }))[0];
    assert.equal(m.status, 'queued');
  } finally {
    await j.mi('routes.delete', { name: 'fr' }).catch(() => {});
  }
});

test('deferred: messages.inject deferred_s holds the first attempt; sendsms deferred answers 3', async () => {
  const t0 = Date.now();
  const r = await j.mi('messages.inject', { from: '4930123', to: '447700900271', body: 'later, please', deferred_s: 2 });
  const m = await j.mi('messages.get', { id: r.id });
  assert.equal(m.status, 'queued');
  assert.ok(m.next_at >= t0 + 2000, `next_at ${m.next_at - t0} ms after the inject`);
  const p = await submitTo('447700900271');
  assert.ok(p.at >= t0 + 2000, `sent ${p.at - t0} ms after the inject, not before 2 s`);
  const s = await sendsmsGet('to=447700900272&text=in+a+minute&deferred=1');
  assert.equal(s.status, 202);
  assert.equal(s.text, '3: Queued for later delivery');
  const k = (await j.mi('messages.list', { number: '447700900272' }))[0];
  assert.equal(k.status, 'queued');
  assert.ok(k.next_at >= Date.now() + 50000, 'held for about a minute');
  assert.equal(k.envelope.tags.deferred_until, String(k.next_at));
  let err;
  try { await j.mi('messages.inject', { from: '1', to: '447700900273', body: 'x', deferred_s: 0 }); } catch (e) { err = e.rpc; }
  assert.equal(err.code, -32602);
  assert.match(err.message, /deferred_s/);
});
