// Delivery reports to SIP senders and SMS details in X-SMS-* headers
// (issue 7, "Receipts"; docs/sip-sms-headers.md).  Real peers: SIPp sends
// the MESSAGE (IMDN in CPIM, or X-SMS-* headers), an npm smpp SMSC gets
// the submit_sm and sends the delivery receipt, and a SIPp UAS on its own
// port stands for the sender's user agent and receives the report MESSAGE
// (sip.reports_to "from": the From URI's host and port).  A scripted UA on
// a node socket refuses a report once (it is sent again), and a node
// sender checks the default sip.reports_to "source" (the report comes
// back to the socket the MESSAGE came from).  Every wait is
// for a state, bounded; "nothing sent" is checked once the message's final
// state (and so the report that would share its transaction) committed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, freePort, waitFor } from './lib/junction.mjs';
import { runSipp, startSipp, stopAllSipp, loggedMessages } from './lib/sipp.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

let j;
let smsc;
let reportUa; // the SIP sender's UA, receiving reports
let reportPort;
let far; // a SIP target for MO from the SMSC
let farPort;

const counters = async () => (await j.mi('stats.get')).counters;
const messagesAt = (h) => loggedMessages(h.messageFile, 'received').filter((m) => m.startsWith('MESSAGE '));

before(async () => {
  j = await startJunction({ params: { 'core.retry_base_ms': 200, 'sip.reports_to': 'from' } });
  reportPort = await freePort();
  reportUa = startSipp({ scenario: 'uas_report.xml', dir: j.dir, name: 'reports', localPort: reportPort });
  farPort = await freePort();
  far = startSipp({ scenario: 'uas_report.xml', dir: j.dir, name: 'far', localPort: farPort });
  smsc = await startSmsc();
  await j.mi('connectors.add', {
    name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'junction', password: 'secret' },
  });
  await j.mi('connectors.add', { name: 'far', type: 'sip', conf: { uri: `sip:127.0.0.1:${farPort}` } });
  await j.mi('routes.add', { name: 'to-smsc', priority: 1, dst_prefix: '4917', target: 'smsc' });
  await j.mi('routes.add', { name: 'to-far', priority: 2, dst_prefix: '4930', target: 'far' });
  await waitBound(j, 'smsc');
});

after(async () => {
  await stopAllSipp();
  if (j) await j.cleanup();
  if (smsc) await smsc.stop();
});

// Run one SIPp UAC scenario to its 202; keys: -key name value pairs.
async function send(scenario, name, service, keys = {}, localPort = undefined) {
  const args = [];
  for (const [k, v] of Object.entries({ report_port: reportPort, ...keys })) args.push('-key', k, String(v));
  const h = await runSipp({
    scenario, dir: j.dir, name, localPort: localPort ?? await freePort(),
    target: `127.0.0.1:${j.ports.sip}`, calls: 1, service, args,
  });
  assert.equal(h.exited.code, 0, h.explain());
}

// The submit_sm to dst (each test its own number), once the SMSC has it.
const submitted = (dst) => waitFor(() => smsc.submits.find((p) => p.destination_addr === dst),
  10000, `submit_sm to ${dst} at the SMSC`);

// Junction's row of the message the SMSC knows as remoteId.
const rowOf = async (remoteId) => (await j.mi('messages.list', { limit: 200 })).find((m) => m.remote_id === remoteId);

async function receipt(pdu, stat) {
  const resp = await smsc.deliver({
    esm_class: 0x04, source_addr: pdu.destination_addr, destination_addr: pdu.source_addr,
    short_message: `id:${pdu.smsc_message_id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} ` +
      `submit date:2612011200 done date:2612011201 stat:${stat} err:000 text:x`,
  });
  assert.equal(resp.command_status, 0, 'receipt acknowledged');
}

const finalOf = (pdu, status) => waitFor(async () => (await rowOf(pdu.smsc_message_id))?.status === status,
  10000, `message ${pdu.smsc_message_id} ${status}`);

test('the reply connector sip:reply is listed, ready, and cannot be added by hand', async () => {
  const c = (await j.mi('connectors.list')).find((x) => x.name === 'sip:reply');
  assert.ok(c, 'sip:reply listed');
  assert.equal(c.type, 'sip');
  assert.deepEqual(c.conf, { reply: true });
  assert.equal(c.status.state, 'ready');
  await assert.rejects(j.mi('connectors.add', { name: 'sip:reply', type: 'sip', conf: { reply: true } }),
    (e) => e.rpc?.code === -32602 && /SIP adapter's own connector/.test(e.rpc.message));
});

test('IMDN requested in CPIM: registered_delivery 1, DELIVRD receipt -> IMDN <delivered/> with the sender\'s Message-ID', async () => {
  const before = (await counters())['sip.tx_report'] ?? 0;
  const { id: traceId } = await j.mi('trace.start', { to: '4917011111111' });
  await send('uac_message_imdn.xml', 'imdn1', '+4917011111111', { imdn_id: 'imdn-abc-001' });
  try {
    const tr = await waitFor(async () => (await j.mi('trace.list', { id: traceId, after: 0 })).records
      .find((x) => /report asked for/.test(x.summary ?? '')), 10000, 'the decision on the trace bus');
    assert.match(tr.summary, /IMDN id imdn-abc-001\): imdn report \(by sip\.reports\) to sip:alice@127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+/);
  } finally {
    await j.mi('trace.stop', { id: traceId });
  }
  const pdu = await submitted('4917011111111');
  assert.equal(pdu.short_message.message.trim(), 'Hello IMDN 1', 'the CPIM wrapper was taken off');
  assert.equal(pdu.registered_delivery, 1);
  await receipt(pdu, 'DELIVRD');
  const got = await waitFor(() => messagesAt(reportUa).find((m) => m.includes('imdn-abc-001')), 15000,
    'the IMDN at the sender\'s UA');
  assert.match(got, new RegExp(`^MESSAGE sip:alice@127\\.0\\.0\\.1:${reportPort} SIP/2\\.0\r?\n`));
  assert.match(got, /\r?\nContent-Type: message\/cpim\r?\n/);
  assert.match(got, /\r?\nNS: imdn <urn:ietf:params:imdn>\r?\n/);
  assert.match(got, /\r?\nContent-Type: message\/imdn\+xml\r?\n/);
  assert.match(got, /\r?\nContent-Disposition: notification\r?\n/);
  assert.match(got, /<message-id>imdn-abc-001<\/message-id>/);
  assert.match(got, /<datetime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/datetime>/);
  assert.match(got, /<delivery-notification><status><delivered\/><\/status><\/delivery-notification>/);
  assert.match(got, /\r?\nX-SMS-Status: DELIVRD\r?\n/);
  await waitFor(async () => ((await counters())['sip.tx_report'] ?? 0) === before + 1, 10000, 'sip.tx_report counted');
});

test('IMDN requested, UNDELIV receipt -> IMDN <failed/>', async () => {
  await send('uac_message_imdn.xml', 'imdn2', '+4917022222222', { imdn_id: 'imdn-fail-002' });
  const pdu = await submitted('4917022222222');
  await receipt(pdu, 'UNDELIV');
  await finalOf(pdu, 'failed');
  const got = await waitFor(() => messagesAt(reportUa).find((m) => m.includes('imdn-fail-002')), 15000,
    'the failure IMDN');
  assert.match(got, /<status><failed\/><\/status>/);
  assert.doesNotMatch(got, /<delivered\/>/);
  assert.match(got, /\r?\nX-SMS-Status: UNDELIV\r?\n/);
});

test('X-SMS-Receipt: yes -> a plain-text report with the outcome', async () => {
  await send('uac_message_receipt.xml', 'rcpt1', '+4917033333333');
  const pdu = await submitted('4917033333333');
  assert.equal(pdu.registered_delivery, 1);
  await receipt(pdu, 'DELIVRD');
  const got = await waitFor(() => messagesAt(reportUa).find((m) => m.includes('+4917033333333 was delivered')),
    15000, 'the text report');
  assert.match(got, /\r?\nContent-Type: text\/plain;charset=UTF-8\r?\n/);
  assert.match(got, /Your message to \+4917033333333 was delivered at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\./);
  assert.match(got, /\r?\nX-SMS-Status: DELIVRD\r?\n/);
  const row = await rowOf(pdu.smsc_message_id);
  assert.match(got, new RegExp(`\r?\nX-SMS-Message-Id: ${row.id}\r?\n`), 'the report names the message');
});

test('no report asked for: the message is delivered and nothing is sent to the sender', async () => {
  const reportsBefore = (await counters())['core.reports'] ?? 0;
  const atUaBefore = messagesAt(reportUa).length;
  await send('uac_message_sms.xml', 'plain1', '+4917044444444', { validity: 600 });
  const pdu = await submitted('4917044444444');
  await receipt(pdu, 'DELIVRD');
  await finalOf(pdu, 'delivered'); // its report would have committed with this
  assert.equal((await counters())['core.reports'] ?? 0, reportsBefore, 'no report made');
  assert.equal(messagesAt(reportUa).length, atUaBefore, 'nothing at the sender\'s UA');
});

test('X-SMS-Coding ucs2 and X-SMS-Validity reach the SMSC as data_coding 8 and validity_period', async () => {
  const t0 = Date.now();
  await send('uac_message_sms.xml', 'sms2', '+4917055555555', { validity: 600 });
  const pdu = await submitted('4917055555555');
  assert.equal(pdu.data_coding, 8, 'UCS-2 although GSM 03.38 would carry the text');
  assert.equal(pdu.short_message.message.trim(), 'Hello coding 1');
  assert.ok(pdu.validity_period instanceof Date, `validity_period ${pdu.validity_period}`);
  const left = (pdu.validity_period.getTime() - t0) / 1000;
  assert.ok(left > 540 && left <= 660, `validity about 600 s, got ${left}`);
  // the SMSC's id is stored with the submitted state, a commit after the submit_sm_resp
  const row = await waitFor(() => rowOf(pdu.smsc_message_id), 5000, 'the row with its SMSC id');
  assert.ok(Math.abs(row.expires_at - row.created_at - 600000) < 2000, 'the message expires with it');
});

// A raw MESSAGE over UDP; resolves with the response's first line.
async function rawMessage(extra, body = 'hello', contentType = 'text/plain;charset=UTF-8') {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  const b = Buffer.from(body, 'utf8');
  const req = `MESSAGE sip:+4917066666666@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${Math.random().toString(16).slice(2)};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag=r1\r\nTo: <sip:+4917066666666@127.0.0.1>\r\n' +
    `Call-ID: raw-${Math.random().toString(16).slice(2)}\r\nCSeq: 1 MESSAGE\r\n` +
    `Content-Type: ${contentType}\r\n${extra}Content-Length: ${b.length}\r\n\r\n`;
  const got = new Promise((resolve) => sock.once('message', (m) => resolve(m.toString('utf8'))));
  sock.send(Buffer.concat([Buffer.from(req), b]), j.ports.sip, '127.0.0.1');
  const resp = await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('no response')), 5000))]);
  sock.close();
  return resp.split('\r\n')[0];
}

test('bad X-SMS-* values and a bad CPIM body are refused 400 with a reason naming them', async () => {
  const before = (await counters())['sip.rx_refused_sms'] ?? 0;
  assert.match(await rawMessage('X-SMS-Validity: soon\r\n'), /^SIP\/2\.0 400 Bad X-SMS-Validity/);
  assert.match(await rawMessage('X-SMS-Validity: 0\r\n'), /^SIP\/2\.0 400 Bad X-SMS-Validity/);
  assert.match(await rawMessage('X-SMS-Validity: 99999999999\r\n'), /^SIP\/2\.0 400 Bad X-SMS-Validity/);
  assert.match(await rawMessage('X-SMS-Coding: klingon\r\n'), /^SIP\/2\.0 400 Bad X-SMS-Coding/);
  assert.match(await rawMessage('X-SMS-Registered-Delivery: 7\r\n'), /^SIP\/2\.0 400 Bad X-SMS-Registered-Delivery/);
  assert.match(await rawMessage('X-SMS-Receipt: perhaps\r\n'), /^SIP\/2\.0 400 Bad X-SMS-Receipt/);
  assert.match(await rawMessage('', 'no blank line at all', 'message/cpim'), /^SIP\/2\.0 400 Bad CPIM Body/);
  assert.match(await rawMessage('', 'From: <sip:a@b>\r\n\r\nContent-Type: image/png\r\n\r\nxx', 'message/cpim'),
    /^SIP\/2\.0 415 Unsupported CPIM Content/);
  assert.equal((await counters())['sip.rx_refused_sms'] ?? 0, before + 8);
  // and a good one still goes through
  assert.match(await rawMessage('X-SMS-Validity: 60\r\nX-SMS-Coding: gsm\r\n'), /^SIP\/2\.0 202/);
});

test('an MO from the SMSC reaches a SIP target with X-SMS-Coding, X-SMS-Source-TON/-NPI', async () => {
  const resp = await smsc.deliver({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '4915112345678',
    destination_addr: '4930123456', data_coding: 8,
    short_message: Buffer.from('MO grüße Привет', 'utf16le').swap16(),
  });
  assert.equal(resp.command_status, 0);
  const got = await waitFor(() => messagesAt(far).find((m) => m.includes('MO grüße Привет')), 10000,
    'the MO at the SIP target');
  assert.match(got, /\r?\nX-SMS-Coding: ucs2\r?\n/);
  assert.match(got, /\r?\nX-SMS-Source-TON: 1\r?\n/);
  assert.match(got, /\r?\nX-SMS-Source-NPI: 1\r?\n/);
  assert.doesNotMatch(got, /X-SMS-Status/, 'not a report');
});

test('a sip connector\'s conf reports decides for MESSAGEs from its target: none sends nothing, text answers IMDN with text', async () => {
  await assert.rejects(j.mi('connectors.add', { name: 'pbx0', type: 'sip', conf: { uri: 'sip:127.0.0.1:5999', reports: 'bogus' } }),
    (e) => /conf\.reports/.test(e.rpc?.message ?? ''));
  const quietPort = await freePort();
  const textPort = await freePort();
  await j.mi('connectors.add', { name: 'pbx-quiet', type: 'sip', conf: { uri: `sip:127.0.0.1:${quietPort}`, reports: 'none' } });
  await j.mi('connectors.add', { name: 'pbx-text', type: 'sip', conf: { uri: `sip:127.0.0.1:${textPort}`, reports: 'text' } });

  const reportsBefore = (await counters())['core.reports'] ?? 0;
  await send('uac_message_receipt.xml', 'quiet1', '+4917091111111', {}, quietPort);
  const quiet = await submitted('4917091111111');
  await receipt(quiet, 'DELIVRD');
  await finalOf(quiet, 'delivered');
  assert.equal((await counters())['core.reports'] ?? 0, reportsBefore, 'no report for pbx-quiet\'s sender');

  await send('uac_message_imdn.xml', 'text1', '+4917092222222', { imdn_id: 'imdn-as-text-9' }, textPort);
  const loud = await submitted('4917092222222');
  await receipt(loud, 'DELIVRD');
  const got = await waitFor(() => messagesAt(reportUa).find((m) => m.includes('+4917092222222 was delivered')), 15000,
    'a text report to an IMDN request');
  assert.match(got, /\r?\nContent-Type: text\/plain;charset=UTF-8\r?\n/);
  assert.doesNotMatch(got, /imdn\+xml/);
  await j.mi('connectors.delete', { name: 'pbx-quiet' });
  await j.mi('connectors.delete', { name: 'pbx-text' });
});

// A UA on a node UDP socket: answer(n) gives the status line for the n-th
// MESSAGE it gets (0-based).  u.requests keeps them all.
async function scriptedUa(answer) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const u = { port: sock.address().port, requests: [] };
  sock.on('message', (m, rinfo) => {
    const req = m.toString('utf8');
    const status = answer(u.requests.length);
    u.requests.push(req);
    // the header block only: a CPIM body has From and To lines of its own
    const keep = req.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .map((l) => (/^To:/i.test(l) ? `${l};tag=ua1` : l));
    sock.send(Buffer.from(`SIP/2.0 ${status}\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`),
      rinfo.port, rinfo.address);
  });
  u.close = () => new Promise((resolve) => sock.close(resolve));
  return u;
}

test('a report the sender\'s UA refuses with 503 is kept and sent again until it answers 200', async () => {
  const ua = await scriptedUa((n) => (n === 0 ? '503 Service Unavailable' : '200 OK'));
  try {
    await send('uac_message_imdn.xml', 'retry1', '+4917077777777', { imdn_id: 'imdn-retry-007', report_port: ua.port });
    const pdu = await submitted('4917077777777');
    await receipt(pdu, 'DELIVRD');
    await waitFor(() => ua.requests.length >= 2, 15000, 'the report sent a second time');
    for (const r of ua.requests.slice(0, 2)) assert.match(r, /<message-id>imdn-retry-007<\/message-id>/);
    const orig = await rowOf(pdu.smsc_message_id);
    const rep = await waitFor(async () => (await j.mi('messages.list', { limit: 200 }))
      .find((m) => m.envelope?.report?.of === orig.id && m.status === 'delivered'), 10000, 'the report delivered');
    assert.equal(rep.target, 'sip:reply');
    assert.equal(rep.attempts, 2, 'one refused attempt, one answered');
  } finally {
    await ua.close();
  }
});

test('sip.reports_to source: the report goes back to where the MESSAGE came from', async (t) => {
  const j2 = await startJunction({ params: { 'core.retry_base_ms': 200 } });
  t.after(() => j2.cleanup());
  const smsc2 = await startSmsc();
  t.after(() => smsc2.stop());
  await j2.mi('connectors.add', {
    name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc2.port, system_id: 'junction', password: 'secret' },
  });
  await j2.mi('routes.add', { name: 'to-smsc', priority: 1, dst_prefix: '4917', target: 'smsc' });
  await waitBound(j2, 'smsc');
  // the sender: one UDP socket that sends the MESSAGE and then gets the
  // report on it (a From URI with no address junction could use)
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => sock.close(resolve)));
  const got = [];
  sock.on('message', (m, rinfo) => {
    const text = m.toString('utf8');
    got.push(text);
    if (!text.startsWith('MESSAGE ')) return;
    const keep = text.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .map((l) => (/^To:/i.test(l) ? `${l};tag=ua2` : l));
    sock.send(Buffer.from(`SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`), rinfo.port, rinfo.address);
  });
  const port = sock.address().port;
  const body = 'Hello source';
  sock.send(Buffer.from(`MESSAGE sip:+4917088888888@127.0.0.1:${j2.ports.sip} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-src1;rport\r\nMax-Forwards: 70\r\n` +
    'From: <sip:alice@example.invalid>;tag=s1\r\nTo: <sip:+4917088888888@127.0.0.1>\r\n' +
    'Call-ID: src-1\r\nCSeq: 1 MESSAGE\r\nX-SMS-Receipt: yes\r\n' +
    `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`), j2.ports.sip, '127.0.0.1');
  await waitFor(() => got.some((m) => m.startsWith('SIP/2.0 202')), 5000, '202 to the sender');
  const pdu = await waitFor(() => smsc2.submits.find((p) => p.destination_addr === '4917088888888'), 10000,
    'the submit_sm');
  const resp = await smsc2.deliver({
    esm_class: 0x04, source_addr: pdu.destination_addr, destination_addr: pdu.source_addr,
    short_message: `id:${pdu.smsc_message_id} sub:001 dlvrd:001 submit date:2612011200 ` +
      'done date:2612011201 stat:DELIVRD err:000 text:x',
  });
  assert.equal(resp.command_status, 0);
  const rep = await waitFor(() => got.find((m) => m.startsWith('MESSAGE ')), 10000, 'the report at the source');
  assert.match(rep, /^MESSAGE sip:alice@example\.invalid SIP\/2\.0\r\n/);
  assert.match(rep, /Your message to \+4917088888888 was delivered at /);
  await waitFor(async () => ((await j2.mi('stats.get')).counters['sip.tx_report'] ?? 0) === 1, 10000,
    'the report answered 200');
});
