// The MI over HTTP: JSON-RPC error codes, batches, the route validation
// path, and the HTTP layer around it (404, 405, 413, /metrics, assets,
// security headers).  One daemon for the file, http.max_body lowered so the
// 413 case stays small.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startJunction } from './lib/junction.mjs';

const MAX_BODY = 4096;
let j;
let base;

before(async () => {
  j = await startJunction({ params: { 'http.max_body': MAX_BODY } });
  base = `http://127.0.0.1:${j.ports.http}`;
});
after(async () => { if (j) await j.cleanup(); });

const rpc = (method, params, id = 7) => JSON.stringify({ jsonrpc: '2.0', id, method, params });

test('invalid JSON gets -32700 with HTTP 200 and a null id', async () => {
  const r = await j.miRaw('{"jsonrpc": "2.0", "method": ');
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body);
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.error.code, -32700);
  assert.equal(body.id, null);
  assert.match(body.error.message, /parse/i);
});

test('a request without method gets -32600', async () => {
  const body = JSON.parse((await j.miRaw('{"jsonrpc":"2.0","id":3}')).body);
  assert.equal(body.error.code, -32600);
  assert.equal(body.id, 3);
});

test('an unknown method gets -32601 naming it', async () => {
  const body = JSON.parse((await j.miRaw(rpc('nosuch.method', {}))).body);
  assert.equal(body.error.code, -32601);
  assert.match(body.error.message, /nosuch\.method/);
  assert.equal(body.id, 7);
});

test('missing params get -32602 naming the parameter', async () => {
  let body = JSON.parse((await j.miRaw(rpc('routes.add', {}))).body);
  assert.equal(body.error.code, -32602);
  assert.match(body.error.message, /name/);
  body = JSON.parse((await j.miRaw(rpc('routes.delete', {}))).body);
  assert.equal(body.error.code, -32602);
  assert.match(body.error.message, /id/);
});

test('not found is -32004 and a duplicate is -32009', async () => {
  let body = JSON.parse((await j.miRaw(rpc('routes.delete', { id: 987654 }))).body);
  assert.equal(body.error.code, -32004);
  const { id } = await j.mi('routes.add', { name: 'dup', target: 'nowhere' });
  body = JSON.parse((await j.miRaw(rpc('routes.add', { name: 'dup', target: 'nowhere' }))).body);
  assert.equal(body.error.code, -32009);
  await j.mi('routes.delete', { id });
});

test('a batch answers each request by id and skips notifications', async () => {
  const r = await j.miRaw(JSON.stringify([
    { jsonrpc: '2.0', id: 'a', method: 'system.version' },
    { jsonrpc: '2.0', id: 'b', method: 'no.such' },
    { jsonrpc: '2.0', method: 'system.uptime' },
    { jsonrpc: '2.0', id: 'c', method: 'system.uptime' },
  ]));
  assert.equal(r.status, 200);
  const replies = JSON.parse(r.body);
  assert.ok(Array.isArray(replies));
  assert.equal(replies.length, 3);
  const byId = Object.fromEntries(replies.map((x) => [x.id, x]));
  assert.equal(typeof byId.a.result.version, 'string');
  assert.equal(byId.b.error.code, -32601);
  assert.equal(typeof byId.c.result.uptime_s, 'number');
});

test('notifications alone get 204 and an empty batch -32600', async () => {
  const r = await j.miRaw(JSON.stringify({ jsonrpc: '2.0', method: 'system.version' }));
  assert.equal(r.status, 204);
  assert.equal(r.body, '');
  const e = JSON.parse((await j.miRaw('[]')).body);
  assert.equal(e.error.code, -32600);
});

// A raw POST /mi with chosen headers (fetch will not let us set Host).
function post(headers, body = rpc('system.version', {})) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: j.ports.http, path: '/mi', method: 'POST',
      headers: { 'content-length': Buffer.byteLength(body), authorization: `Bearer ${j.token}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the MI refuses what a web page could send it from elsewhere', async () => {
  const own = `127.0.0.1:${j.ports.http}`;
  let r = await post({ 'content-type': 'text/plain', host: own });
  assert.equal(r.status, 415, 'a cross-site form or text/plain post');
  r = await post({ 'content-type': 'application/x-www-form-urlencoded', host: own });
  assert.equal(r.status, 415);
  r = await post({ 'content-type': 'application/json', host: `rebound.example:${j.ports.http}` });
  assert.equal(r.status, 403, 'a DNS-rebound host name');
  r = await post({ 'content-type': 'application/json', host: own, origin: 'http://evil.example' });
  assert.equal(r.status, 403, 'a foreign Origin');
  r = await post({ 'content-type': 'application/json', host: own, origin: `http://${own}` });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).result.version.split('.').length, 3);
  r = await post({ 'content-type': 'application/json; charset=utf-8', host: `localhost:${j.ports.http}` });
  assert.equal(r.status, 200);
});

test('a notification with bad params gets no answer', async () => {
  const r = await j.miRaw(JSON.stringify({ jsonrpc: '2.0', method: 'routes.list', params: 5 }));
  assert.equal(r.status, 204);
  assert.equal(r.body, '');
});

test('an error text cut inside a UTF-8 character still answers the id', async () => {
  // the method name is quoted back, cut at 200 bytes: here inside the "é"
  const method = `${'a'.repeat(199)}é`;
  const body = JSON.parse((await j.miRaw(rpc(method, {}, 42))).body);
  assert.equal(body.id, 42);
  assert.equal(body.error.code, -32601);
  assert.ok(body.error.message.includes('a'.repeat(199)));
});

test('a route with an invalid regex is rejected with the reason; routes.list is unchanged', async () => {
  const { id } = await j.mi('routes.add', { name: 'keep', priority: 10, dst_prefix: '44', target: 'smsc1' });
  const beforeList = await j.mi('routes.list');
  const body = JSON.parse((await j.miRaw(rpc('routes.add', {
    name: 'broken', dst_regex: '^(44[0-9', target: 'smsc1',
  }))).body);
  assert.equal(body.error.code, -32602);
  // PCRE2's own words: "missing closing parenthesis" or "missing terminating ]".
  assert.match(body.error.message, /missing|terminat|parenthes/i);
  assert.deepEqual(await j.mi('routes.list'), beforeList);
  assert.ok(beforeList.some((r) => r.id === id && r.dst_prefix === '44' && r.priority === 10));
  await j.mi('routes.delete', { id });
});

test('unknown paths are 404, wrong methods 405', async () => {
  let r = await fetch(`${base}/nope`);
  assert.equal(r.status, 404);
  r = await fetch(`${base}/mi`);
  assert.equal(r.status, 405);
  assert.match(r.headers.get('allow'), /POST/);
  r = await fetch(`${base}/metrics`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  r = await fetch(`${base}/`, { method: 'PUT', body: 'x' });
  assert.equal(r.status, 405);
});

test('a body over http.max_body gets 413; one under it is served', async () => {
  const big = 'x'.repeat(MAX_BODY + 1);
  let r = await j.miRaw(big);
  assert.equal(r.status, 413);
  // Valid JSON just under the limit (padded with spaces) is answered.
  const req = rpc('system.version', {});
  r = await j.miRaw(req + ' '.repeat(MAX_BODY - req.length));
  assert.equal(r.status, 200);
  assert.equal(typeof JSON.parse(r.body).result.version, 'string');
  // The server still works after the rejected upload.
  assert.ok((await j.mi('system.version')).version);
});

test('GET /metrics is Prometheus text', async () => {
  await j.mi('system.version');
  const r = await j.http('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  assert.match(text, /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|untyped)$/m);
  assert.match(text, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+$/m);
  const head = await j.http('/metrics', { method: 'HEAD' });
  assert.equal(head.status, 200);
});

test('the UI assets are served with security headers; HEAD has no body', async () => {
  let r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  assert.match(await r.text(), /<title>Junction<\/title>/);
  r = await fetch(`${base}/app.js`);
  assert.match(r.headers.get('content-type'), /javascript/);
  assert.match(await r.text(), /\/mi/);
  r = await fetch(`${base}/app.css`);
  assert.match(r.headers.get('content-type'), /^text\/css/);
  r = await fetch(`${base}/index.html`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), '');
  r = await j.http('/mi', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: rpc('system.version', {}),
  });
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
});
