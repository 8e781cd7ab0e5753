// SMPP over TLS (issue 7): junction's SMSC port has a TLS twin
// (smpp.tls_port with smpp.tls_cert / smpp.tls_key) where customers bind
// and submit as on the plain port, and a client connector with conf
// "tls": true binds to an operator's TLS SMSC, verifying its certificate
// (tls_ca, the name in host or tls_server_name) unless tls_verify is
// false.  The certificate is made for the test by the openssl CLI; the
// peers are npm smpp over Node's tls.  Loopback only; every wait is for a
// state, bounded.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import smpp from 'smpp';
import { startJunction, waitFor, freePort, JUNCTION_BIN } from './lib/junction.mjs';
import { connectorState } from './lib/smsc.mjs';

let dir, cert, key;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'junction-tls-'));
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
process.on('exit', () => { if (dir) rmSync(dir, { recursive: true, force: true }); });

// A customer over TLS (or plain when tls is false) binding transceiver.
function bindOver(port, tls, systemId, password) {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ url: `${tls ? 'ssmpp' : 'smpp'}://127.0.0.1:${port}`,
      rejectUnauthorized: false });
    const t = setTimeout(() => { session.destroy(); resolve({ session, resp: null }); }, 5000);
    session.on('error', () => {});
    session.on('close', () => { clearTimeout(t); resolve({ session, resp: null }); });
    session.on(tls ? 'secureConnect' : 'connect', () => {
      session.bind_transceiver({ system_id: systemId, password }, (resp) => {
        clearTimeout(t);
        resolve({ session, resp });
      });
    });
  });
}

test('a customer binds and submits over TLS on smpp.tls_port; plain SMPP there gets no bind', async (t) => {
  const tlsPort = await freePort();
  const j = await startJunction({ params: { 'smpp.tls_port': tlsPort, 'smpp.tls_cert': cert,
    'smpp.tls_key': key } });
  t.after(() => j.cleanup());
  await j.mi('accounts.add', { system_id: 'acme', password: 'pw' });
  await j.mi('routes.add', { name: 'any', priority: 10, dst_prefix: '44', target: 'nowhere' });

  const { session, resp } = await bindOver(tlsPort, true, 'acme', 'pw');
  assert.ok(resp, 'a bind_transceiver_resp over TLS');
  assert.equal(resp.command_status, 0);
  const sub = await new Promise((resolve) => session.submit_sm({ destination_addr: '447700900001',
    short_message: 'over tls' }, resolve));
  assert.equal(sub.command_status, 0, 'accepted after the commit');
  const m = await j.mi('messages.get', { id: sub.message_id });
  assert.equal(m.source_connector, 'account:acme');
  session.close();

  const plain = await bindOver(tlsPort, false, 'acme', 'pw');
  assert.equal(plain.resp, null, 'plain SMPP on the TLS port never binds');
  plain.session.destroy();
});

test('a missing certificate file is a clear start-up error', async () => {
  const params = { 'db.path': path.join(dir, 'bad.db'), 'mi.socket': path.join(dir, 'bad.sock'),
    'sip.port': await freePort(), 'smpp.port': await freePort(), 'http.port': await freePort(),
    'smpp.tls_port': await freePort(), 'smpp.tls_cert': path.join(dir, 'nope.pem'), 'smpp.tls_key': key };
  const r = spawnSync(JUNCTION_BIN, Object.entries(params).flatMap(([k, v]) => ['-o', `${k}=${v}`]),
    { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 1, 'junction does not start');
  assert.match(r.stdout + r.stderr, /smpp\.tls_port \d+: .*nope\.pem: .*No such file/);
});

// An operator SMSC over TLS (npm smpp's secure server) recording submits.
async function startTlsSmsc() {
  const s = { port: await freePort(), submits: [], binds: 0, sessions: new Set() };
  s.server = smpp.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (session) => {
    s.sessions.add(session);
    session.on('error', () => {});
    session.on('close', () => s.sessions.delete(session));
    session.on('bind_transceiver', (pdu) => { s.binds++; session.send(pdu.response({ system_id: 'tls-smsc' })); });
    session.on('submit_sm', (pdu) => { s.submits.push(pdu); session.send(pdu.response({ message_id: `t-${s.submits.length}` })); });
    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  });
  await new Promise((resolve) => s.server.listen(s.port, '127.0.0.1', resolve));
  s.stop = () => new Promise((resolve) => {
    for (const x of s.sessions) x.socket.destroy();
    s.server.close(() => resolve());
  });
  return s;
}

test('a client connector with tls binds to a TLS SMSC it can verify, and not to one it cannot', async (t) => {
  const smsc = await startTlsSmsc();
  t.after(() => smsc.stop());
  const j = await startJunction({ params: { 'smpp.reconnect_s': 1 } });
  t.after(() => j.cleanup());
  const base = { host: '127.0.0.1', port: smsc.port, system_id: 'jx', password: 'pw', tls: true };

  // the system CAs do not know the test's certificate: no bind
  await j.mi('connectors.add', { name: 'untrusted', type: 'smpp', conf: base });
  await waitFor(() => j.log.includes('untrusted: down'), 10000, 'the unverifiable SMSC refused');
  assert.notEqual(await connectorState(j, 'untrusted'), 'bound');

  await j.mi('connectors.add', { name: 'trusted', type: 'smpp',
    conf: { ...base, tls_ca: cert, tls_server_name: 'localhost' } });
  await waitFor(async () => (await connectorState(j, 'trusted')) === 'bound', 10000, 'bound over TLS');
  await j.mi('routes.add', { name: 'uk', priority: 10, dst_prefix: '44', target: 'trusted' });
  await j.mi('messages.inject', { from: '4930111', to: '447700900001', body: 'sealed' });
  await waitFor(() => smsc.submits.some((p) => p.short_message.message === 'sealed'), 10000, 'submit over TLS');

  await j.mi('connectors.add', { name: 'noverify', type: 'smpp', conf: { ...base, tls_verify: false } });
  await waitFor(async () => (await connectorState(j, 'noverify')) === 'bound', 10000,
    'tls_verify false binds without checking');
  await assert.rejects(j.mi('connectors.add', { name: 'bad', type: 'smpp', conf: { ...base, tls: 'yes' } }), /tls/);
});
