// A private RabbitMQ node for one test file: its own node name, AMQP port,
// distribution port, epmd, data, logs and Erlang cookie, all under a temporary
// folder, listening on 127.0.0.1 only.  It never touches a system node or the
// Debian service.
//
//   const mq = await startRabbit();          // or startRabbit({ port })
//   ... amqplib.connect(mq.url) ...
//   await mq.stop();
//
// Starting costs ~7 s, so a test file starts one broker in before() and runs
// several tests against it.  How it starts:
//   1. `epmd -port P` runs in the foreground as our own child (never
//      -daemon), so stop() can kill exactly it by PID.
//   2. The server script (Debian: /usr/lib/rabbitmq/bin/rabbitmq-server, the
//      one that does not su to the rabbitmq user) runs in a new process group;
//      it execs erl -> erlexec -> beam.smp, so the PID we hold is the VM and
//      the group holds only its helpers (erl_child_setup, inet_gethost).
//   3. We poll an AMQP login with amqplib until it succeeds; if the broker
//      exits or does not answer in time, start() throws with its output and
//      log file, so the test fails rather than skips.
// stop() sends SIGTERM to the broker's group (SIGKILL after 10 s), then kills
// the epmd child, then removes the folder (kept when RABBITMQ_KEEP is set).
//
// startRabbit({ tls: true }) adds a TLS listener (mq.tlsPort, mq.amqpsUrl)
// with a CA and a server certificate for 127.0.0.1 / localhost made by the
// openssl command in the node's folder (mq.tls: {ca, cert, key, otherCa,
// clientCert, clientKey}: otherCa is a CA that signed nothing here, the
// client pair is signed by ca); { tls: { verifyPeer: true } } makes the
// broker ask for and require a client certificate.  mq.ctl(...args) runs
// rabbitmqctl against the node (e.g. set_vm_memory_high_watermark).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import amqplib from 'amqplib';
import { freePort, sleep } from './junction.mjs';

const SERVER_CANDIDATES = [
  process.env.RABBITMQ_SERVER,
  '/usr/lib/rabbitmq/bin/rabbitmq-server',
].filter(Boolean);

// Every live broker and epmd we started, killed on process exit should a
// test crash before calling stop().
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { process.kill(p.group ? -p.pid : p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

function serverBinary() {
  const bin = SERVER_CANDIDATES.find((p) => existsSync(p));
  if (!bin) throw new Error(`rabbitmq-server not found (tried ${SERVER_CANDIDATES.join(', ')}); run .ci/deps.sh`);
  return bin;
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
  });
}

function exitPromise(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

// Kill a child (or its whole group) and wait for it, SIGKILL after graceMs.
async function killChild(child, group, graceMs) {
  const done = exitPromise(child);
  const sig = (s) => { try { process.kill(group ? -child.pid : child.pid, s); } catch { /* gone */ } };
  sig('SIGTERM');
  const timer = setTimeout(() => sig('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
  // The group's helpers may outlive the VM by a moment.
  if (group) sig('SIGKILL');
}

// Boot-time definitions: the guest user and vhost "/" (which RabbitMQ does
// not create when definitions are loaded) plus the given durable queues, each
// bound to a durable topic exchange, so that messages published the moment
// the broker accepts connections already have somewhere to go.
function definitions(queues) {
  const salt = randomBytes(4);
  const hash = createHash('sha256').update(Buffer.concat([salt, Buffer.from('guest')])).digest();
  const vhost = '/';
  const exchanges = [...new Set(queues.map((q) => q.exchange))];
  return {
    users: [{ name: 'guest', password_hash: Buffer.concat([salt, hash]).toString('base64'),
      hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'], limits: {} }],
    vhosts: [{ name: vhost }],
    permissions: [{ user: 'guest', vhost, configure: '.*', write: '.*', read: '.*' }],
    exchanges: exchanges.map((name) => ({ name, vhost, type: 'topic', durable: true,
      auto_delete: false, internal: false, arguments: {} })),
    queues: queues.map((q) => ({ name: q.name, vhost, durable: true, auto_delete: false, arguments: {} })),
    bindings: queues.map((q) => ({ source: q.exchange, vhost, destination: q.name,
      destination_type: 'queue', routing_key: q.key, arguments: {} })),
  };
}

// Make a CA, a server certificate for 127.0.0.1 and localhost, a client
// certificate, and a second CA that signed nothing, as PEM files in dir.
function makeCerts(dir) {
  const f = (n) => path.join(dir, n);
  const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name) => ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`));
  const leaf = (name, cn, ext) => {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`,
      '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    writeFileSync(f(`${name}.ext`), ext);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('test-ca.pem'), '-CAkey', f('test-ca.key'),
      '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  ca('test-ca');
  ca('other-ca');
  leaf('server', 'localhost', 'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1\n' +
    'extendedKeyUsage=serverAuth\n');
  leaf('client', 'junction', 'extendedKeyUsage=clientAuth\n');
  return { ca: f('test-ca.pem'), cert: f('server.pem'), key: f('server.key'), otherCa: f('other-ca.pem'),
    clientCert: f('client.pem'), clientKey: f('client.key') };
}

// opts.port: AMQP port (default: a free one); opts.timeoutMs: start budget;
// opts.tls: true or {verifyPeer} for a TLS listener too (above);
// opts.queues: [{name, exchange, key}] durable queues present at boot.
export async function startRabbit(opts = {}) {
  const bin = serverBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-rmq-'));
  const port = opts.port || await freePort();
  const distPort = await freePort();
  const epmdPort = await freePort();
  const node = `junctiontest-${process.pid}-${port}@localhost`;
  const logDir = path.join(dir, 'log');
  const mq = { dir, port, node, url: `amqp://guest:guest@127.0.0.1:${port}`, out: '' };
  const tlsConf = [];
  if (opts.tls) {
    mq.tls = makeCerts(dir);
    mq.tlsPort = await freePort();
    mq.amqpsUrl = `amqps://guest:guest@127.0.0.1:${mq.tlsPort}`;
    const verifyPeer = typeof opts.tls === 'object' && opts.tls.verifyPeer;
    tlsConf.push(`listeners.ssl.default = 127.0.0.1:${mq.tlsPort}`,
      `ssl_options.cacertfile = ${mq.tls.ca}`,
      `ssl_options.certfile = ${mq.tls.cert}`,
      `ssl_options.keyfile = ${mq.tls.key}`,
      `ssl_options.verify = ${verifyPeer ? 'verify_peer' : 'verify_none'}`,
      `ssl_options.fail_if_no_peer_cert = ${verifyPeer ? 'true' : 'false'}`);
  }

  writeFileSync(path.join(dir, 'rabbitmq.conf'), [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    'loopback_users.guest = true',
    // A nearly full test disk must not block publishers.
    'disk_free_limit.absolute = 1MB',
    'log.file.level = info',
    ...tlsConf,
    ...(opts.queues ? [`load_definitions = ${path.join(dir, 'definitions.json')}`] : []),
    '',
  ].join('\n'));
  if (opts.queues) writeFileSync(path.join(dir, 'definitions.json'), JSON.stringify(definitions(opts.queues)));
  writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: node,
    RABBITMQ_USE_LONGNAME: 'false',
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: logDir,
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
  };

  const t0 = Date.now();
  mq.epmd = spawn('epmd', ['-port', String(epmdPort)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add({ pid: mq.epmd.pid, group: false });
  mq.epmd.stdout.on('data', (d) => { mq.out += `[epmd] ${d}`; });
  mq.epmd.stderr.on('data', (d) => { mq.out += `[epmd] ${d}`; });
  for (let i = 0; i < 100 && !(await portOpen(epmdPort)); i++) {
    if (mq.epmd.exitCode !== null) break;
    await sleep(20);
  }

  mq.proc = spawn(bin, [], { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add({ pid: mq.proc.pid, group: true });
  mq.proc.stdout.on('data', (d) => { mq.out += d; });
  mq.proc.stderr.on('data', (d) => { mq.out += d; });
  mq.exited = null;
  mq.proc.on('exit', (code, sig) => { mq.exited = { code, sig }; });

  // The broker's own log files, for failure messages.
  mq.log = () => {
    let text = mq.out;
    if (existsSync(logDir)) {
      for (const f of readdirSync(logDir)) {
        text += `\n--- ${f}\n${readFileSync(path.join(logDir, f), 'utf8')}`;
      }
    }
    return text;
  };

  // rabbitmqctl against this node (its cookie is under HOME = dir); the
  // output, or a thrown error with it.
  mq.ctl = (...args) => execFileSync(path.join(path.dirname(bin), 'rabbitmqctl'),
    ['-n', node, ...args], { env, cwd: dir, stdio: 'pipe', timeout: 30000 }).toString();

  mq.stop = async () => {
    if (mq.stopped) return;
    mq.stopped = true;
    await killChild(mq.proc, true, 10000);
    await killChild(mq.epmd, false, 2000);
    for (const p of live) if (p.pid === mq.proc.pid || p.pid === mq.epmd.pid) live.delete(p);
    if (!process.env.RABBITMQ_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  const budget = opts.timeoutMs || 60000;
  let lastErr = null;
  while (Date.now() - t0 < budget) {
    if (mq.exited) break;
    if (await portOpen(port)) {
      try {
        const conn = await amqplib.connect(mq.url);
        await conn.close();
        mq.startMs = Date.now() - t0;
        return mq;
      } catch (e) { lastErr = e; }
    }
    await sleep(100);
  }
  const why = mq.exited ? `exited ${JSON.stringify(mq.exited)}` : `no AMQP login within ${budget} ms`;
  const log = mq.log();
  await mq.stop().catch(() => {});
  throw new Error(`rabbitmq on 127.0.0.1:${port} did not start (${why}; last error: ${lastErr && lastErr.message}):\n${log}`);
}

// Consume with amqplib.  With key: a fresh exclusive queue bound to exchange
// with key (the exchange must already exist: it is checked, not declared,
// so a test still sees who created it).  Without key: exchange names an
// existing queue (e.g. one from opts.queues).  Returns {conn, ch, queue,
// messages, waitCount(n, ms), close()}; messages collects {routingKey,
// properties, json} in arrival order.
export async function consume(url, exchange, key) {
  const conn = await amqplib.connect(url);
  const ch = await conn.createChannel();
  let queue = exchange;
  if (key) {
    await ch.checkExchange(exchange);
    ({ queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true }));
    await ch.bindQueue(queue, exchange, key);
  } else {
    await ch.checkQueue(queue);
  }
  const c = { conn, ch, queue, messages: [] };
  await ch.consume(queue, (m) => {
    let json = null;
    try { json = JSON.parse(m.content.toString('utf8')); } catch { json = { unparsable: m.content.toString('utf8') }; }
    c.messages.push({ routingKey: m.fields.routingKey, properties: m.properties, json });
  }, { noAck: true });
  // Wait until at least n messages arrived.
  c.waitCount = async (n, timeoutMs = 10000) => {
    const end = Date.now() + timeoutMs;
    while (c.messages.length < n && Date.now() < end) await sleep(25);
    if (c.messages.length < n) {
      throw new Error(`expected ${n} AMQP messages, got ${c.messages.length}: ${JSON.stringify(c.messages.map((m) => m.routingKey))}`);
    }
    return c.messages;
  };
  c.close = async () => { try { await conn.close(); } catch { /* already closed */ } };
  return c;
}
