// No open relay (issue 8, "Access"): a SIP MESSAGE reaches the gateway
// path only from a peer inside a trusted network (the table `trusted`,
// loopback to begin with; MI trusted.list / add / delete); others get 403
// and nothing is stored.  The network that let a message in names it on
// its envelope (tag sender = "trusted:<name>"), and rules match on it.
// The MESSAGEs come from node UDP sockets bound to 127.0.0.1 and
// 127.0.0.2 (both loopback); the SMSC is the npm smpp peer of
// lib/smsc.mjs.  Every wait is for a state, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startJunction, waitFor, miError } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

const MI_INVALID_PARAMS = -32602;
const MI_NOT_FOUND = -32004;
const MI_CONFLICT = -32009;

// A MESSAGE from a socket bound to `from`; resolves with the response's
// status line.
async function message(j, from, to, text) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, from, resolve));
  const port = sock.address().port;
  const body = Buffer.from(text, 'utf8');
  const req = `MESSAGE sip:${to}@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${from}:${port};branch=z9hG4bK-${Math.random().toString(16).slice(2)};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@${from}>;tag=t1\r\nTo: <sip:${to}@127.0.0.1>\r\n` +
    `Call-ID: trust-${Math.random().toString(16).slice(2)}\r\nCSeq: 1 MESSAGE\r\n` +
    `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n\r\n`;
  const got = new Promise((resolve) => sock.once('message', (m) => resolve(m.toString('utf8'))));
  sock.send(Buffer.concat([Buffer.from(req), body]), j.ports.sip, '127.0.0.1');
  try {
    const resp = await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error('no response')), 5000))]);
    return resp.split('\r\n')[0];
  } finally {
    sock.close();
  }
}

const stored = async (j, text) =>
  (await j.mi('messages.list', { limit: 100 })).find((m) => m.envelope?.body === text);

test('loopback is trusted from the start; a MESSAGE from it is taken and names its network', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({});
  t.after(() => j.cleanup());
  const nets = (await j.mi('trusted.list')).map((r) => [r.net, r.name]);
  assert.deepEqual(nets, [['127.0.0.0/8', 'loopback'], ['::1/128', 'loopback']]);
  await j.mi('connectors.add', { name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'j', password: 'pw' } });
  await j.mi('routes.add', { name: 'all', priority: 10, dst_prefix: '49', target: 'smsc' });
  await waitBound(j, 'smsc');
  assert.match(await message(j, '127.0.0.1', '+4917011110000', 'from loopback'), /^SIP\/2.0 202/);
  const m = await waitFor(() => stored(j, 'from loopback'), 5000, 'the message stored');
  assert.equal(m.envelope.tags.sender, 'trusted:loopback');
});

test('a peer outside every trusted network gets 403 and nothing is stored; a network added is trusted at once and after a restart', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'j', password: 'pw' } });
  await j.mi('routes.add', { name: 'all', priority: 10, dst_prefix: '49', target: 'smsc' });
  await waitBound(j, 'smsc');

  assert.deepEqual(await j.mi('trusted.add', { net: '127.0.0.2', name: 'pbx' }), { net: '127.0.0.2/32', name: 'pbx' });
  await j.mi('trusted.delete', { net: '127.0.0.0/8' });
  const before = (await j.mi('stats.get')).counters['sip.rx_untrusted'] ?? 0;
  assert.match(await message(j, '127.0.0.1', '+4917011110001', 'untrusted'), /^SIP\/2.0 403/);
  assert.equal((await j.mi('stats.get')).counters['sip.rx_untrusted'], before + 1, 'counted');
  assert.match(await message(j, '127.0.0.2', '+4917011110002', 'from the pbx'), /^SIP\/2.0 202/);
  const m = await waitFor(() => stored(j, 'from the pbx'), 5000, 'the pbx message stored');
  assert.equal(m.envelope.tags.sender, 'trusted:pbx');
  await waitFor(() => smsc.submits.find((p) => p.destination_addr === '4917011110002'), 10000, 'at the SMSC');
  assert.equal(await stored(j, 'untrusted'), undefined, 'the refused one was never stored');
  assert.ok(!smsc.submits.some((p) => p.destination_addr === '4917011110001'), 'nor sent');

  // the table is the truth: a restart runs what it holds
  await j.stop();
  j.start();
  await j.ready();
  assert.deepEqual((await j.mi('trusted.list')).map((r) => r.net), ['127.0.0.2/32', '::1/128']);
  assert.match(await message(j, '127.0.0.1', '+4917011110003', 'still untrusted'), /^SIP\/2.0 403/);
  assert.match(await message(j, '127.0.0.2', '+4917011110004', 'still the pbx'), /^SIP\/2.0 202/);
});

test('trusted.add refuses what is not a network, a network twice; trusted.delete one it does not have', async (t) => {
  const j = await startJunction({});
  t.after(() => j.cleanup());
  assert.equal(await miError(j, 'trusted.add', { net: '10.0.0.0/33' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'trusted.add', { net: 'pbx.example.com' }), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'trusted.add', {}), MI_INVALID_PARAMS);
  assert.equal(await miError(j, 'trusted.add', { net: '127.1.2.3/8' }), MI_CONFLICT, '127.0.0.0/8 in another spelling');
  assert.equal(await miError(j, 'trusted.delete', { net: '192.0.2.0/24' }), MI_NOT_FOUND);
  assert.deepEqual(await j.mi('trusted.add', { net: '2001:db8::1/32' }), { net: '2001:db8::/32', name: '' });
  assert.equal((await j.mi('trusted.list')).length, 3);
  const methods = JSON.stringify(await j.mi('system.listMethods'));
  assert.match(methods, /trusted\.add/);
});

test('a rule matches the network a MESSAGE came in by (tag sender)', async (t) => {
  const smsc = await startSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({});
  t.after(() => j.cleanup());
  await j.mi('connectors.add', { name: 'smsc', type: 'smpp',
    conf: { host: '127.0.0.1', port: smsc.port, system_id: 'j', password: 'pw' } });
  await j.mi('trusted.add', { net: '127.0.0.2', name: 'pbx' });
  await j.mi('routes.add', { name: 'pbx-only', priority: 5, filters: { tags: { sender: 'trusted:pbx' } },
    action: { reject: { sip_status: 488, reason: 'pbx traffic not allowed' } } });
  await j.mi('routes.add', { name: 'all', priority: 10, dst_prefix: '49', target: 'smsc' });
  await waitBound(j, 'smsc');
  assert.match(await message(j, '127.0.0.2', '+4917011110005', 'pbx'), /^SIP\/2.0 488/);
  assert.match(await message(j, '127.0.0.1', '+4917011110006', 'loopback'), /^SIP\/2.0 202/);
});
