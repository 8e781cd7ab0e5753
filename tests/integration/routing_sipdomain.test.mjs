// A rule's source.sip_domain, end to end: the SIP adapter takes the From
// URI's host (lower-cased) as the message's source domain, and the router
// matches it, so MESSAGEs from two customers' domains reach two SMSCs; a
// domain no rule names is answered 404 with nothing stored.  Raw UDP
// requests (as sip_message.test.mjs sends them) so the From is ours.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

let j, smscA, smscB, sock;
const responses = [];

const smppConf = (smsc, id) => ({ host: '127.0.0.1', port: smsc.port, system_id: id, password: 'pw' });
const bodiesAt = (smsc) => smsc.submits.map((p) => p.short_message.message);

before(async () => {
  smscA = await startSmsc();
  smscB = await startSmsc();
  j = await startJunction();
  await j.mi('connectors.add', { name: 'smsc-a', type: 'smpp', conf: smppConf(smscA, 'ja') });
  await j.mi('connectors.add', { name: 'smsc-b', type: 'smpp', conf: smppConf(smscB, 'jb') });
  await waitBound(j, 'smsc-a');
  await waitBound(j, 'smsc-b');
  await j.mi('routes.import', { rules: [
    { id: 1, name: 'customer-a', priority: 10, source: { sip_domain: 'customer-a.example' },
      action: { route: { targets: ['smsc-a'] } } },
    { id: 2, name: 'customer-b', priority: 20, source: { sip_domain: ['*.customer-b.example', 'customer-b.example'] },
      action: { route: { targets: ['smsc-b'] } } },
  ] });
  sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  sock.on('message', (m) => responses.push(m.toString('utf8')));
});

after(async () => {
  sock?.close();
  await j?.cleanup();
  await smscA?.stop();
  await smscB?.stop();
});

// Send a MESSAGE from `from` (a SIP URI) and return the final answer's status.
async function message(from, body, user = '+4915112345678') {
  const callId = `dom-${Math.random().toString(16).slice(2)}`;
  const port = sock.address().port;
  const b = Buffer.from(body, 'utf8');
  const req = `MESSAGE sip:${user}@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId};rport\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <${from}>;tag=d1\r\n` +
    `To: <sip:${user}@127.0.0.1>\r\n` +
    `Call-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\n` +
    'Content-Type: text/plain;charset=UTF-8\r\n' +
    `Content-Length: ${b.length}\r\n\r\n`;
  await new Promise((resolve, reject) =>
    sock.send(Buffer.concat([Buffer.from(req, 'utf8'), b]), j.ports.sip, '127.0.0.1',
      (e) => (e ? reject(e) : resolve())));
  const resp = await waitFor(() => responses.find((r) => r.includes(callId) && !/^SIP\/2\.0 1\d\d/.test(r)),
    10000, `the answer to ${callId}`);
  return Number(resp.split(' ')[1]);
}

test('a sip_domain rule routes each customer\'s MESSAGEs to its SMSC by the From domain', async () => {
  assert.equal(await message('sip:alice@customer-a.example', 'from alice'), 202);
  assert.equal(await message('sip:bob@customer-b.example', 'from bob'), 202);
  // host names have no case: the adapter lower-cases, the rule matches any
  assert.equal(await message('sip:+4930111@Customer-A.EXAMPLE;user=phone', 'from a number at A'), 202);
  assert.equal(await message('sip:carol@pbx.customer-b.example', 'from a subdomain of B'), 202);
  await waitFor(() => bodiesAt(smscA).length >= 2 && bodiesAt(smscB).length >= 2, 10000, 'four submits');
  assert.deepEqual(bodiesAt(smscA).sort(), ['from a number at A', 'from alice']);
  assert.deepEqual(bodiesAt(smscB).sort(), ['from a subdomain of B', 'from bob']);

  // the stored envelope carries it (source.domain), lower-cased
  const rows = await j.mi('messages.list', { limit: 10 });
  const domainOf = (body) => rows.find((m) => m.envelope.body === body).envelope.source.domain;
  assert.equal(domainOf('from alice'), 'customer-a.example');
  assert.equal(domainOf('from a number at A'), 'customer-a.example');
});

test('a From domain no rule names is not routed: 404 and nothing sent', async () => {
  const before = bodiesAt(smscA).length + bodiesAt(smscB).length;
  assert.equal(await message('sip:mallory@customer-c.example', 'from mallory'), 404);
  assert.equal(await message('sip:eve@example', 'from eve'), 404); // "*.customer-b.example" is not "example"
  const ex = await j.mi('routes.test', { to: '+4915112345678', adapter: 'sip', source: 'sip',
    peer: '127.0.0.1:5999', domain: 'customer-c.example' });
  assert.equal(ex.decision, 'no_route');
  assert.deepEqual(ex.considered.map((c) => [c.id, c.failed.field, c.failed.value]),
    [[1, 'source.sip_domain', 'customer-c.example'], [2, 'source.sip_domain', 'customer-c.example']]);
  assert.equal(bodiesAt(smscA).length + bodiesAt(smscB).length, before);
});
