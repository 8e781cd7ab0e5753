// HTTPS for the web UI and the MI (http.tls_port, http.tls_cert,
// http.tls_key): the same handler as plain HTTP over libmicrohttpd's TLS,
// plain HTTP switched off with http.enabled, and clear start-up errors for
// a pair that cannot be used.  Every certificate here is made by openssl
// into this file's temporary folder; the one the daemon serves by the
// script `make run` uses (webui/tls_selfsigned.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { startJunction, freePort, JUNCTION_BIN } from './lib/junction.mjs';

const SELFSIGNED = path.resolve('../../webui/tls_selfsigned.sh');
let dir, cert, key, otherKey, j, made;

// A self-signed pair for 127.0.0.1 and localhost, as `make run` makes one.
function makePair(name) {
  const c = path.join(dir, `${name}-cert.pem`);
  const k = path.join(dir, `${name}-key.pem`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', k, '-out', c], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return [c, k];
}

const rpc = (method) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: {} });
const miPost = (origin) => ({
  method: 'POST', body: rpc('system.version'),
  headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
});

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'junction-tls-'));
  made = spawnSync('sh', [SELFSIGNED, path.join(dir, 'tls')], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  [cert, key] = [path.join(dir, 'tls', 'cert.pem'), path.join(dir, 'tls', 'key.pem')];
  [, otherKey] = makePair('b');
  j = await startJunction({ params: { 'http.tls_port': await freePort(), 'http.tls_cert': cert,
    'http.tls_key': key } });
});

after(async () => {
  if (j) await j.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('POST /mi over HTTPS answers a client that trusts only the configured certificate', async () => {
  const res = await j.https('/mi', miPost());
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.result.version, 'string');
  assert.match(j.log, /HTTPS on 127\.0\.0\.1 port \d+/);
  assert.match(j.log, /web UI and MI over HTTPS\s+https:\/\/127\.0\.0\.1:\d+/, 'the start-up summary names it');

  // the system's CAs do not know the test's certificate: the handshake fails
  await assert.rejects(j.https('/mi', { ...miPost(), ca: undefined }), /self[- ]signed|certificate/i);
});

test('make run\'s self-signed pair is made once, its key 0600, and reused after', () => {
  assert.match(made.stdout, /made a self-signed HTTPS certificate .*cert\.pem/);
  assert.match(made.stdout, /sha256 Fingerprint=/i);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const before = readFileSync(cert, 'utf8');
  const again = spawnSync('sh', [SELFSIGNED, path.join(dir, 'tls')], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, '', 'quiet when the pair is there');
  assert.equal(readFileSync(cert, 'utf8'), before, 'the same certificate');
});

test('GET / over HTTPS serves the web UI with the same headers as plain HTTP', async () => {
  const res = await j.https('/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.match(await res.text(), /<title>[^<]*[Jj]unction/);
  const plain = await j.http('/');
  for (const h of ['content-security-policy', 'x-content-type-options', 'x-frame-options'])
    assert.equal(res.headers.get(h), plain.headers.get(h), h);
});

test('the HTTPS port does not answer plain HTTP', async () => {
  await assert.rejects(fetch(`http://127.0.0.1:${j.params['http.tls_port']}/`));
});

test('a login over HTTPS sets a Secure session cookie; over plain HTTP it is not Secure', async () => {
  await j.addUser('tlsuser', 'viewer', 'tls-user-password-1');
  const body = JSON.stringify({ user: 'tlsuser', password: 'tls-user-password-1' });
  const headers = { 'content-type': 'application/json' };
  const overTls = await j.https('/login', { method: 'POST', headers, body });
  assert.equal(overTls.status, 200);
  assert.match(overTls.headers.get('set-cookie'), /; Secure/);
  const plain = await j.httpAnon('/login', { method: 'POST', headers, body });
  assert.equal(plain.status, 200);
  assert.doesNotMatch(plain.headers.get('set-cookie'), /Secure/);
});

// web_conn_is_tls as the MI's Origin check sees it: each daemon takes only
// its own scheme and port.
test('the MI knows which daemon a request came to: each takes only an Origin of its own scheme', async () => {
  const tls = j.params['http.tls_port'];
  const plain = j.ports.http;
  assert.equal((await j.https('/mi', miPost(`https://127.0.0.1:${tls}`))).status, 200);
  assert.equal((await j.https('/mi', miPost(`http://127.0.0.1:${tls}`))).status, 403);
  assert.equal((await j.http('/mi', miPost(`http://127.0.0.1:${plain}`))).status, 200);
  assert.equal((await j.http('/mi', miPost(`https://127.0.0.1:${plain}`))).status, 403);
});

test('with http.enabled=no the plain port refuses connections and HTTPS still serves', async (t) => {
  const k = await startJunction({ params: { 'http.enabled': 'no', 'http.tls_port': await freePort(),
    'http.tls_cert': cert, 'http.tls_key': key } });
  t.after(() => k.cleanup());
  assert.equal((await k.https('/mi', miPost())).status, 200);
  const err = await new Promise((resolve) => {
    const s = net.connect(k.ports.http, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(null); });
    s.once('error', resolve);
  });
  assert.equal(err?.code, 'ECONNREFUSED');
  assert.doesNotMatch(k.log, /http:\/\/127\.0\.0\.1/, 'the summary lists no plain HTTP');
});

// Start junction with this pair and wait for it to exit (it must not start).
async function startFails(certPath, keyPath) {
  const params = { 'db.path': path.join(dir, 'bad.db'), 'mi.socket': path.join(dir, 'bad.sock'),
    'sip.listen': '127.0.0.1', 'sip.port': await freePort(), 'smpp.listen': '127.0.0.1',
    'smpp.port': await freePort(), 'http.listen': '127.0.0.1', 'http.port': await freePort(),
    'http.tls_port': await freePort(), 'http.tls_cert': certPath, 'http.tls_key': keyPath };
  const r = spawnSync(JUNCTION_BIN, Object.entries(params).flatMap(([n, v]) => ['-o', `${n}=${v}`]),
    { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('a missing key file stops the start with a message naming the file', async () => {
  const missing = path.join(dir, 'nope-key.pem');
  const r = await startFails(cert, missing);
  assert.notEqual(r.status, 0);
  assert.equal(typeof r.status, 'number', 'it exits, it is not killed');
  assert.match(r.out, /cannot read http\.tls_key '[^']*nope-key\.pem': No such file or directory/);
  assert.doesNotMatch(r.out, /is running/);
});

test('a key that is not the certificate\'s stops the start naming both files and why', async () => {
  const r = await startFails(cert, otherKey);
  assert.notEqual(r.status, 0);
  assert.equal(typeof r.status, 'number');
  assert.match(r.out, /http\.tls_cert '[^']*tls\/cert\.pem' and http\.tls_key '[^']*b-key\.pem': .*do not match/);
  assert.doesNotMatch(r.out, /is running/);
});

test('a certificate file that is not PEM stops the start naming the file', async () => {
  const junk = path.join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const r = await startFails(junk, key);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /http\.tls_cert '[^']*junk\.pem' is not a PEM certificate/);
});

test('a key with a passphrase stops the start saying it is encrypted', async () => {
  const locked = path.join(dir, 'locked-key.pem');
  const r0 = spawnSync('openssl', ['pkey', '-in', key, '-aes256', '-passout', 'pass:secret', '-out', locked],
    { encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  const r = await startFails(cert, locked);
  assert.notEqual(r.status, 0);
  assert.match(r.out, /http\.tls_key '[^']*locked-key\.pem' is encrypted/);
});
