// "Accepted" means committed: while the store refuses to commit, no surface
// says accepted (SIP 503 with Retry-After instead of 202, an SMPP error status instead of
// submit_sm_resp OK, a JSON-RPC error instead of an id), nothing is queued,
// and once the store works again the same requests are accepted.  The fault
// is a real SQLite failure: a trigger, added from another connection with
// the sqlite3 CLI, that aborts every insert into messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor } from './lib/junction.mjs';
import { bindCustomer, submit } from './lib/smsc.mjs';

let j, sip, customer;

function sql(text) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', j.params['db.path'], text], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

async function sipClient() {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const c = { port: sock.address().port, responses: [] };
  sock.on('message', (m) => c.responses.push(m.toString('utf8')));
  c.message = async (callId) => {
    const body = Buffer.from('store me');
    const req = `MESSAGE sip:+4915100000001@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bK-${callId};rport\r\n` +
      'Max-Forwards: 70\r\nFrom: <sip:+4930111@127.0.0.1>;tag=f1\r\n' +
      'To: <sip:+4915100000001@127.0.0.1>\r\n' +
      `Call-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`;
    const n = c.responses.length;
    sock.send(Buffer.from(req), j.ports.sip, '127.0.0.1');
    await waitFor(() => c.responses.length > n, 10000, 'a SIP final response');
    c.last = c.responses[n];
    return Number(c.responses[n].split(' ')[1]);
  };
  c.close = () => new Promise((resolve) => sock.close(resolve));
  return c;
}

before(async () => {
  j = await startJunction();
  await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'nowhere' });
  await j.mi('accounts.add', { system_id: 'cust1', password: 'pw1' });
  sip = await sipClient();
  ({ session: customer } = await bindCustomer(j.ports.smpp, 'cust1', 'pw1'));
});

after(async () => {
  if (customer) customer.close();
  if (sip) await sip.close();
  if (j) await j.cleanup();
});

test('while commits fail, SIP gets 503, SMPP an error status, the MI an error', async () => {
  sql("CREATE TRIGGER no_insert BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
  assert.equal(await sip.message('fault-1'), 503);
  assert.match(sip.last, /\r\nRetry-After: \d+\r\n/i, 'the 503 says when to come back');
  const resp = await submit(customer, { destination_addr: '4915100000002', short_message: 'x' });
  assert.equal(resp.command_status, 0x08, 'ESME_RSYSERR, so the customer retries');
  await assert.rejects(j.mi('messages.inject', { from: '1', to: '4915100000003', body: 'x' }),
    (e) => e.rpc.code === -32603);
  assert.equal(sql('SELECT count(*) FROM messages;').trim(), '0');
  const c = (await j.mi('stats.get')).counters;
  assert.equal(c['core.store_errors'], 3);
});

test('once the store commits again the same requests are accepted', async () => {
  sql('DROP TRIGGER no_insert;');
  assert.equal(await sip.message('fault-2'), 202);
  const resp = await submit(customer, { destination_addr: '4915100000002', short_message: 'y' });
  assert.equal(resp.command_status, 0);
  const { id } = await j.mi('messages.inject', { from: '1', to: '4915100000003', body: 'z' });
  assert.equal((await j.mi('messages.get', { id })).status, 'queued');
  assert.equal(sql('SELECT count(*) FROM messages;').trim(), '3');
});
