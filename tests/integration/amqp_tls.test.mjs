// AMQP over TLS (amqps://): an amqp connector publishes its events through
// the broker's TLS listener, verifying the broker's certificate against the
// connector's tls_ca; a connector with the wrong CA, or wrong credentials,
// does not connect, says why once in the log and in amqp.connections, and
// junction keeps working.  Real peers: a private RabbitMQ node with a TLS
// listener (lib/rabbitmq.mjs, certificates made by openssl) and amqplib
// consuming from its plain listener.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import amqplib from 'amqplib';
import path from 'node:path';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startRabbit, consume } from './lib/rabbitmq.mjs';

const EXCHANGE = 'junction.events';

async function amqpConn(j, name) {
  return (await j.mi('amqp.connections')).find((c) => c.connector === name);
}

const warnLines = (j, what) => j.log.split('\n').filter((l) => l.includes(what));

describe('amqp over TLS', () => {
  let mq, j;
  before(async () => {
    mq = await startRabbit({ tls: true });
    console.log(`# rabbitmq started in ${mq.startMs} ms, amqp ${mq.port}, amqps ${mq.tlsPort}`);
    j = await startJunction();
  });
  after(async () => {
    if (j) await j.cleanup();
    if (mq) await mq.stop();
  });

  test('TLS files are checked at create: an error names the file', async () => {
    const missing = path.join(mq.dir, 'no-such-ca.pem');
    await assert.rejects(j.mi('connectors.add', { name: 'bad1', type: 'amqp',
      conf: { url: `amqps://127.0.0.1:${mq.tlsPort}`, tls_ca: missing } }),
    (e) => e.rpc && e.message.includes(`tls_ca ${missing}`) && /No such file/.test(e.message));
    const junk = path.join(mq.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    await assert.rejects(j.mi('connectors.add', { name: 'bad2', type: 'amqp',
      conf: { url: `amqps://127.0.0.1:${mq.tlsPort}`, tls_ca: junk } }),
    (e) => e.rpc && e.message.includes(`tls_ca ${junk}`));
    await assert.rejects(j.mi('connectors.add', { name: 'bad3', type: 'amqp',
      conf: { url: `amqps://127.0.0.1:${mq.tlsPort}`, tls_cert: mq.tls.clientCert } }),
    (e) => e.rpc && /tls_cert and tls_key go together/.test(e.message));
    // a key that is not the certificate's
    await assert.rejects(j.mi('connectors.add', { name: 'bad4', type: 'amqp',
      conf: { url: `amqps://127.0.0.1:${mq.tlsPort}`, tls_cert: mq.tls.clientCert,
        tls_key: mq.tls.key } }),
    (e) => e.rpc && e.message.includes(`tls_key ${mq.tls.key} does not match`));
    await assert.rejects(j.mi('connectors.add', { name: 'bad5', type: 'amqp',
      conf: { port: mq.port, tls_ca: mq.tls.ca } }),
    (e) => e.rpc && /need TLS/.test(e.message));
    const list = await j.mi('connectors.list');
    assert.ok(!list.some((c) => c.name.startsWith('bad')), 'none was created');
  });

  test('events published over amqps:// arrive, verified against tls_ca', async () => {
    await j.mi('connectors.add', { name: 'secure', type: 'amqp',
      conf: { url: `amqps://guest:guest@localhost:${mq.tlsPort}/%2f`, tls_ca: mq.tls.ca,
        exchange: EXCHANGE, heartbeat: 10, channel_max: 16 } });
    const st = await waitFor(async () => {
      const c = await amqpConn(j, 'secure');
      return c && c.state === 'connected' && c;
    }, 15000, 'TLS connector connected');
    assert.equal(st.last_error, '');
    assert.equal(st.port, mq.tlsPort);
    assert.equal(st.broker, 'localhost');

    // the broker says the connection is TLS, and that junction asked for
    // connection.blocked
    // connection.blocked, with the heartbeat (timeout) and channel_max asked
    const conns = await waitFor(() => {
      const out = mq.ctl('list_connections', 'ssl', 'timeout', 'channel_max', 'vhost', 'user',
        'ssl_protocol', 'client_properties');
      return /\btrue\b/.test(out) && out;
    }, 10000, 'a TLS connection in list_connections');
    const line = conns.split('\n').find((l) => l.startsWith('true') && l.includes('junction'));
    assert.ok(line, conns);
    assert.match(line, /^true\t10\t16\t\/\tguest\ttlsv1\.[23]\t/, `heartbeat 10, channel_max 16, vhost /: ${line}`);
    assert.match(line, /connection\.blocked/);

    // the exchange is declared by the connector: consume once it connected;
    // '#' takes the envelopes too (published mandatory: with no queue for
    // them they would be returned, and never delivered)
    const c = await consume(mq.url, EXCHANGE, '#');
    try {
      await j.mi('routes.add', { name: 'to-secure', target: 'secure', dst_prefix: '4670' });
      const ids = [];
      for (let i = 0; i < 5; i++) {
        const r = await j.mi('messages.inject', { from: '46700000009', to: '46700000001', body: `tls ${i}` });
        ids.push(r.id);
      }
      await waitFor(() => ids.every((id) => c.messages.some((m) => m.json.id === id &&
        m.routingKey === 'message.delivered')), 15000, 'message.delivered of every message over TLS');
      for (const id of ids) {
        const keys = c.messages.filter((m) => m.json.id === id && m.routingKey.startsWith('message.'))
          .map((m) => m.routingKey);
        assert.deepEqual(keys.slice(0, 2), ['message.received', 'message.routed'], `${id}: ${keys}`);
      }
    } finally {
      await c.close();
    }
  });

  test('the consumer connection speaks TLS too: a delivery over amqps:// is taken in and acked', async () => {
    await j.mi('connectors.add', { name: 'securein', type: 'amqp',
      conf: { url: `amqps://guest:guest@localhost:${mq.tlsPort}`, tls_ca: mq.tls.ca, exchange: EXCHANGE,
        consume: ['tls.in'] } });
    await waitFor(async () => (await amqpConn(j, 'securein'))?.in?.state === 'consuming', 15000,
      'TLS consumer consuming');
    // both connections of the connector are TLS: the events one and the consumer
    const out = mq.ctl('list_connections', 'ssl', 'client_properties');
    assert.ok((out.match(/\btrue\b.*junction/g) || []).length >= 3, out);
    const conn = await amqplib.connect(mq.url);
    try {
      const ch = await conn.createConfirmChannel();
      ch.sendToQueue('tls.in', Buffer.from(JSON.stringify({ to: '46700000003', from: 'Acme', text: 'in over TLS' })),
        { messageId: 'tls-in-1', contentType: 'application/json' });
      await ch.waitForConfirms();
      await waitFor(async () => (await amqpConn(j, 'securein')).in.accepted === 1, 15000, 'accepted');
      await waitFor(async () => (await ch.checkQueue('tls.in')).messageCount === 0, 10000, 'acked');
      const m = (await j.mi('messages.list', { limit: 20 })).find((x) => x.envelope.body === 'in over TLS');
      assert.equal(m.envelope.tags.sender, 'amqp:securein/tls.in');
    } finally {
      await conn.close().catch(() => {});
    }
    await j.mi('connectors.delete', { name: 'securein' });
  });

  test('a wrong CA: no connection, one clear line, last_error says why, junction keeps working', async () => {
    await j.mi('connectors.add', { name: 'wrongca', type: 'amqp',
      conf: { url: `amqps://guest:guest@localhost:${mq.tlsPort}`, tls_ca: mq.tls.otherCa,
        exchange: EXCHANGE } });
    const st = await waitFor(async () => {
      const s = await amqpConn(j, 'wrongca');
      return s && s.state === 'down' && s.last_error && s;
    }, 15000, 'wrong-CA connector down with a reason');
    assert.match(st.last_error, /TLS handshake/);
    assert.match(st.last_error, /certificate verify failed|peer cert/i, st.last_error);
    // it keeps retrying (backoff 1 s, 2 s, ...), and says so once per outage
    await waitFor(() => j.log.includes('amqp connector wrongca: retry failed'), 10000,
      'a second failed attempt');
    const lines = warnLines(j, 'amqp connector wrongca: broker localhost');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /WARN/);
    assert.match(lines[0], /certificate verify failed|peer cert/i);

    // the good connector and the MI are unaffected
    assert.equal((await amqpConn(j, 'secure')).state, 'connected');
    const c = await consume(mq.url, EXCHANGE, '#');
    try {
      const r = await j.mi('messages.inject', { from: '46700000009', to: '46700000002', body: 'still' });
      await waitFor(() => c.messages.some((m) => m.json.id === r.id && m.routingKey === 'message.delivered'),
        15000, 'delivered while another connector fails');
    } finally {
      await c.close();
    }
    await j.mi('connectors.delete', { name: 'wrongca' });
  });

  test('tls_verify false connects without the CA (and says nothing of it)', async () => {
    await j.mi('connectors.add', { name: 'noverify', type: 'amqp',
      conf: { url: `amqps://guest:guest@127.0.0.1:${mq.tlsPort}`, tls_verify: false, exchange: EXCHANGE } });
    await waitFor(async () => (await amqpConn(j, 'noverify'))?.state === 'connected', 15000,
      'unverified TLS connector connected');
    await j.mi('connectors.delete', { name: 'noverify' });
  });

  test('refused credentials: ACCESS_REFUSED named once in the log and in last_error', async () => {
    await j.mi('connectors.add', { name: 'badpass', type: 'amqp',
      conf: { url: `amqps://guest:wrong@localhost:${mq.tlsPort}`, tls_ca: mq.tls.ca, exchange: EXCHANGE } });
    const st = await waitFor(async () => {
      const s = await amqpConn(j, 'badpass');
      return s && s.state === 'down' && s.last_error && s;
    }, 15000, 'bad-password connector down');
    assert.match(st.last_error, /403 ACCESS_REFUSED/);
    assert.match(st.last_error, /user guest: check user and password/);
    assert.ok(!st.last_error.includes('wrong'), 'the password is never shown');
    await waitFor(() => j.log.includes('amqp connector badpass: retry failed'), 10000, 'a retry');
    const lines = warnLines(j, 'amqp connector badpass: broker localhost');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /ACCESS_REFUSED/);
    await j.mi('connectors.delete', { name: 'badpass' });
  });

  test('a broker that requires a client certificate: refused without one, connected with tls_cert and tls_key', async () => {
    const mq2 = await startRabbit({ tls: { verifyPeer: true } });
    try {
      await j.mi('connectors.add', { name: 'nocert', type: 'amqp',
        conf: { url: `amqps://guest:guest@localhost:${mq2.tlsPort}`, tls_ca: mq2.tls.ca, exchange: EXCHANGE } });
      await j.mi('connectors.add', { name: 'withcert', type: 'amqp',
        conf: { url: `amqps://guest:guest@localhost:${mq2.tlsPort}`, tls_ca: mq2.tls.ca,
          tls_cert: mq2.tls.clientCert, tls_key: mq2.tls.clientKey, exchange: EXCHANGE } });
      await waitFor(async () => (await amqpConn(j, 'withcert'))?.state === 'connected', 15000,
        'client-certificate connector connected');
      const st = await waitFor(async () => {
        const s = await amqpConn(j, 'nocert');
        return s && s.state === 'down' && s.last_error && s;
      }, 15000, 'no-certificate connector down');
      // OpenSSL's alert when we read it first, else our own words (the
      // alert lost to a write that met the closed session)
      assert.match(st.last_error, /certificate required|does it want a client certificate/, st.last_error);
      const lines = warnLines(j, 'amqp connector nocert: broker localhost');
      assert.equal(lines.length, 1, lines.join('\n'));
      console.log(`# refused without a client certificate: ${st.last_error}`);
      await j.mi('connectors.delete', { name: 'nocert' });
      await j.mi('connectors.delete', { name: 'withcert' });
    } finally {
      await mq2.stop();
    }
  });

  test('a consumed queue the broker has with other arguments: 406 PRECONDITION_FAILED named', async () => {
    const conn = await amqplib.connect(mq.url);
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('pre.q', { durable: false });
      await j.mi('connectors.add', { name: 'preq', type: 'amqp',
        conf: { url: `amqps://guest:guest@localhost:${mq.tlsPort}`, tls_ca: mq.tls.ca, exchange: EXCHANGE,
          consume: ['pre.q'] } });
      const st = await waitFor(async () => {
        const s = await amqpConn(j, 'preq');
        return s && s.in && s.in.state === 'down' && s.in.last_error && s;
      }, 15000, 'consumer down with a reason');
      assert.match(st.in.last_error, /pre\.q.*406 PRECONDITION_FAILED/, st.in.last_error);
      // the publishing side is a connection of its own: it connects (its TLS
      // handshake may finish after the consumer's refusal) and stays up
      await waitFor(async () => (await amqpConn(j, 'preq'))?.state === 'connected', 15000,
        'the publishing side connected');
      await waitFor(() => warnLines(j, 'amqp connector preq: consumer cannot start').length === 1, 5000, 'one WARN');
      assert.match(warnLines(j, 'amqp connector preq: consumer cannot start')[0], /406 PRECONDITION_FAILED/);
      await j.mi('connectors.delete', { name: 'preq' });
    } finally {
      await conn.close().catch(() => {});
    }
  });

  test('a vhost the broker does not have is named in last_error', async () => {
    await j.mi('connectors.add', { name: 'novhost', type: 'amqp',
      conf: { url: `amqp://guest:guest@127.0.0.1:${mq.port}/nosuch`, exchange: EXCHANGE } });
    const st = await waitFor(async () => {
      const s = await amqpConn(j, 'novhost');
      return s && s.state === 'down' && s.last_error && s;
    }, 15000, 'no-vhost connector down');
    assert.match(st.last_error, /nosuch/);
    await j.mi('connectors.delete', { name: 'novhost' });
  });
});
