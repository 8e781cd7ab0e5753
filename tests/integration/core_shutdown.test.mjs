// Graceful shutdown under load: SIGTERM while MESSAGEs are arriving.  Every
// message the store committed must have been answered 202 before junction
// exited, and every 202 must stand for a committed message; nothing the
// peer heard as accepted is missing from the database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { startJunction, waitFor, sleep } from './lib/junction.mjs';

test('SIGTERM under load: 202s and committed rows are the same set', async () => {
  const j = await startJunction({ params: { 'log.level': 'info' } });
  // A roomy receive buffer, and sends paced so that node reads the answers
  // as they come: a lost answer would look like a lost 202.
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
  try {
    await j.mi('routes.add', { name: 'de', priority: 10, dst_prefix: '49', target: 'nowhere' });
    await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const port = sock.address().port;
    const finals = new Map(); // Call-ID -> status
    sock.on('message', (m) => {
      const t = m.toString('utf8');
      const id = t.match(/\r\nCall-ID: *([^\r]+)/i)?.[1];
      if (id) finals.set(id, Number(t.split(' ')[1]));
    });
    const N = 300;
    for (let i = 0; i < N; i++) {
      const callId = `shutdown-${i}`;
      const body = `load ${i}`;
      const req = `MESSAGE sip:+4915100000${String(i).padStart(3, '0')}@127.0.0.1:${j.ports.sip} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-${callId};rport\r\n` +
        'Max-Forwards: 70\r\nFrom: <sip:+4930111@127.0.0.1>;tag=f1\r\n' +
        `To: <sip:+49151@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 MESSAGE\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      sock.send(Buffer.from(req), j.ports.sip, '127.0.0.1');
      if (i === N / 2) j.proc.kill('SIGTERM'); // mid-stream
      if (i % 10 === 0) await sleep(2);
    }
    await waitFor(() => j.exited, 15000, 'junction exit');
    assert.deepEqual(j.exited, { code: 0, sig: null }, j.log);
    await sleep(200); // the last datagrams in flight on loopback
    const r = spawnSync('sqlite3', [j.params['db.path'],
      "SELECT json_extract(envelope, '$.corr.sip_call_id') FROM messages;"], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const stored = new Set(r.stdout.split('\n').filter(Boolean));
    const accepted = new Set([...finals].filter(([, s]) => s === 202).map(([id]) => id));
    assert.ok(accepted.size > 0, 'some messages were accepted before the signal');
    for (const id of accepted) assert.ok(stored.has(id), `${id} got 202 but is not in the store`);
    for (const id of stored) assert.equal(finals.get(id), 202, `${id} is stored but was answered ${finals.get(id)}`);
    for (const [id, s] of finals) assert.ok(s === 202 || s === 503, `${id}: unexpected ${s}`);
  } finally {
    sock.close();
    await j.cleanup();
  }
});
