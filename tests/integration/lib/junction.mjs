// Start a junction daemon for one test: its own temporary folder, database,
// MI socket and free loopback ports.  Every test file uses this; each peer
// helper (sipp.mjs, smsc.mjs, rabbitmq.mjs) lives beside it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import dgram from 'node:dgram';

export const JUNCTION_BIN = process.env.JUNCTION_BIN || path.resolve('../../build/junction');
export const JUNCTIONCTL_BIN = process.env.JUNCTIONCTL_BIN || path.resolve('../../build/junctionctl');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Ports handed out by this process: the kernel may offer a just-closed port
// again, so two calls in a row could otherwise return the same one.
const handedOut = new Set();

// A port free for both TCP and UDP on 127.0.0.1, never the same twice.
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    const ok = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok && !handedOut.has(port)) { handedOut.add(port); return port; }
  }
  throw new Error('no free port');
}

// Poll fn until it returns a truthy value or timeoutMs passes.
export async function waitFor(fn, timeoutMs = 10000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

// The JSON-RPC error code j.mi(method, params) is answered with, or null
// when it succeeds.
export async function miError(j, method, params) {
  try {
    await j.mi(method, params);
  } catch (e) {
    if (!e.rpc) throw e;
    return e.rpc.code;
  }
  return null;
}

// One JSON-RPC call over junction's MI UNIX socket (root or the daemon's
// own user: an administrator there).  Resolves to the result; rejects
// with e.rpc for a JSON-RPC error.
export function miSocket(sockPath, method, params = {}) {
  return new Promise((resolve, reject) => {
    const c = net.connect(sockPath);
    let buf = '';
    c.on('error', reject);
    c.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      c.destroy();
      const body = JSON.parse(buf.slice(0, nl));
      if (body.error) { const e = new Error(`${method}: ${body.error.message}`); e.rpc = body.error; reject(e); } else resolve(body.result);
    });
    c.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n');
  });
}

let tokenSeq = 0;

// fetch() over HTTPS trusting init.ca (PEM) only: Node's fetch takes no CA
// without undici, so this is node:https answering a fetch Response.
export function httpsFetch(url, init = {}) {
  const { ca, body, method = 'GET', headers = {} } = init;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const x of [v].flat()) h.append(k, x);
        const empty = method === 'HEAD' || [204, 205, 304].includes(res.statusCode);
        resolve(new Response(empty ? null : Buffer.concat(chunks), { status: res.statusCode, headers: h }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// opts.params: extra {name: value} passed as -o name=value.  opts.wrap: a
// command to start junction through (its binary and arguments follow), e.g.
// ['sh', '-c', 'ulimit -f 500; exec "$0" "$@"']; j.wrap may be changed (or
// cleared) before a restart with j.start().
export async function startJunction(opts = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-test-'));
  const ports = {
    sip: opts.sipPort || await freePort(),
    smpp: opts.smppPort || await freePort(),
    http: opts.httpPort || await freePort(),
  };
  const params = {
    'db.path': path.join(dir, 'junction.db'),
    'mi.socket': path.join(dir, 'mi.sock'),
    'sip.listen': '127.0.0.1',
    'sip.port': ports.sip,
    'sip.workers': 2,
    'smpp.listen': '127.0.0.1',
    'smpp.port': ports.smpp,
    'http.listen': '127.0.0.1',
    'http.port': ports.http,
    'log.level': 'debug',
    ...(opts.params || {}),
  };
  const args = [];
  if (opts.configFile) args.push('-c', opts.configFile);
  for (const [k, v] of Object.entries(params)) args.push('-o', `${k}=${v}`);
  const j = { dir, ports, params, log: '', exited: null, wrap: opts.wrap || null };
  j.start = () => {
    j.exited = null;
    const argv = j.wrap ? [...j.wrap.slice(1), JUNCTION_BIN, ...args] : args;
    j.proc = spawn(j.wrap ? j.wrap[0] : JUNCTION_BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    j.proc.stdout.on('data', (d) => { j.log += d; if (process.env.JUNCTION_LOG) process.stderr.write(d); });
    j.proc.stderr.on('data', (d) => { j.log += d; if (process.env.JUNCTION_LOG) process.stderr.write(d); });
    j.proc.on('exit', (code, sig) => { j.exited = { code, sig }; });
  };
  // The MI over the UNIX socket, as an administrator.
  j.sock = (method, params = {}) => miSocket(j.params['mi.socket'], method, params);
  // An admin API token for HTTP, made over the socket once per database
  // (again when a request says it is unknown: a new database file).
  j.token = null;
  j.newToken = async () => {
    j.token = (await j.sock('tokens.create', { name: `test-${process.pid}-${++tokenSeq}`, role: 'admin' })).token;
    return j.token;
  };
  // A web / MI user made over the socket (no forced password change).
  j.addUser = (name, role, password) => j.sock('users.add', { name, role, password });
  // Any HTTP request to junction's HTTP port: path like '/metrics', init as
  // for fetch(), with the admin token (init.anonymous: none).  Every test
  // that speaks HTTP to junction goes through this (or j.mi).
  j.httpAnon = (p, init = {}) => fetch(`http://127.0.0.1:${ports.http}${p}`, init);
  j.http = async (p, init = {}) => {
    if (init.anonymous) { const { anonymous, ...rest } = init; return j.httpAnon(p, rest); }
    if (!j.token) await j.newToken();
    const send = () => j.httpAnon(p, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${j.token}` } });
    let res = await send();
    if (res.status === 401) { await j.newToken(); res = await send(); }
    return res;
  };
  // The same over HTTPS, to http.tls_port with http.tls_cert as the only CA
  // (for tests that set them), with the admin token.
  j.https = async (p, init = {}) => {
    if (!j.token) await j.newToken();
    return httpsFetch(`https://127.0.0.1:${params['http.tls_port']}${p}`,
      { ca: readFileSync(params['http.tls_cert']), ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${j.token}` } });
  };
  j.mi = async (method, params = {}) => {
    const res = await j.http('/mi', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = await res.json();
    if (body.error) { const e = new Error(`${method}: ${body.error.message}`); e.rpc = body.error; e.status = res.status; throw e; }
    return body.result;
  };
  j.miRaw = async (text) => {
    const res = await j.http('/mi', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: text,
    });
    return { status: res.status, body: await res.text() };
  };
  // With plain HTTP off, ready is when HTTPS serves.
  const plainOff = ['no', 'false', '0'].includes(String(params['http.enabled']));
  j.ready = () => waitFor(async () => {
    if (j.exited) throw new Error(`junction exited ${JSON.stringify(j.exited)}:\n${j.log}`);
    if (plainOff) return (await j.https('/', { method: 'HEAD' })).ok;
    return (await j.mi('system.version')).version;
  }, 15000, 'junction MI');
  // SIGTERM and wait; returns the exit code.  SIGKILL after 10 s.
  j.stop = async (sig = 'SIGTERM') => {
    if (!j.proc || j.exited) return j.exited;
    j.proc.kill(sig);
    const t = setTimeout(() => { if (!j.exited) j.proc.kill('SIGKILL'); }, 10000);
    await waitFor(() => j.exited, 15000, 'junction exit');
    clearTimeout(t);
    return j.exited;
  };
  j.cleanup = async () => {
    await j.stop();
    if (!process.env.JUNCTION_KEEP && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  };
  j.start();
  await j.ready();
  return j;
}
