// A schema migration carries existing v1 rows over, tested on a v1
// database file.  The file is built with the sqlite3 CLI from migration 1's
// SQL as it shipped (copied below from db/db_schema.c; PRAGMA
// user_version = 1) and filled the way a v1 junction left it: a route, an
// smpp connector, messages queued (one still "received") with envelopes in
// the v1 JSON form (delivery fields status / target / attempts / route
// inside the envelope), and one submitted with its receipt map row.
// Junction on that file must migrate it through versions 2 and 3, deliver
// the queued ones, show their plan, and apply the SMSC's receipt for the
// submitted one (its map row carried onto the message by version 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startJunction, waitFor } from './lib/junction.mjs';
import { startSmsc, waitBound } from './lib/smsc.mjs';

// db/db_schema.c, migration 1, verbatim: never edited once shipped.
const MIGRATION_1 =
  'CREATE TABLE connectors(' +
  "  name TEXT PRIMARY KEY, type TEXT NOT NULL, conf TEXT NOT NULL DEFAULT '{}'," +
  '  enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL,' +
  '  updated_at INTEGER NOT NULL);' +
  'CREATE TABLE routes(' +
  '  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, priority INTEGER NOT NULL DEFAULT 100,' +
  '  source TEXT, src_prefix TEXT, dst_prefix TEXT, dst_regex TEXT, target TEXT NOT NULL,' +
  '  enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL);' +
  'CREATE TABLE messages(' +
  '  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,' +
  '  expires_at INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, source_adapter TEXT,' +
  '  source_connector TEXT, from_addr TEXT, to_addr TEXT, target TEXT, route TEXT,' +
  '  attempts INTEGER NOT NULL DEFAULT 0, reason INTEGER NOT NULL DEFAULT 0, reason_text TEXT,' +
  '  remote_id TEXT, envelope TEXT NOT NULL);' +
  'CREATE INDEX messages_status_created ON messages(status, created_at);' +
  'CREATE INDEX messages_created ON messages(created_at);' +
  'CREATE INDEX messages_target ON messages(target);' +
  'CREATE TABLE receipts(' +
  '  connector TEXT NOT NULL, remote_id TEXT NOT NULL, message_id TEXT NOT NULL,' +
  '  created_at INTEGER NOT NULL, PRIMARY KEY(connector, remote_id));' +
  'CREATE TABLE accounts(' +
  '  system_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL,' +
  "  allowed_nets TEXT NOT NULL DEFAULT '', throughput INTEGER NOT NULL DEFAULT 0," +
  '  enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL);' +
  'CREATE TABLE users(' +
  "  name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'admin'," +
  '  created_at INTEGER NOT NULL);' +
  'CREATE TABLE params(' +
  '  name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);' +
  'CREATE TABLE location(' +
  '  aor TEXT NOT NULL, contact TEXT NOT NULL, expires INTEGER NOT NULL, received TEXT,' +
  '  path TEXT, user_agent TEXT, q REAL, updated_at INTEGER NOT NULL,' +
  '  PRIMARY KEY(aor, contact));' +
  'CREATE TABLE events(' +
  '  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, message_id TEXT, state TEXT NOT NULL,' +
  '  detail TEXT);' +
  'CREATE INDEX events_message ON events(message_id);';

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

function sqlite(file, text, ...opts) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', ...opts, file, text], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// A message row as a v1 junction wrote it: the delivery state in the
// columns and, the v1 envelope form, inside the JSON too.
function v1Message({ id, now, status, to, body, attempts = 0, remoteId = null }) {
  const env = {
    id, v: 1, created_at: now - 60000, expires_at: now + 86400000,
    from: { address: '4930111', type: 'e164', ton: 1, npi: 1 },
    to: { address: to, type: 'e164', ton: 1, npi: 1 },
    content_type: 'text/plain', data_coding: 0, registered_delivery: 1,
    attempts, status, reason: 0,
    source: { adapter: 'smpp', connector: 'cust', peer: '127.0.0.1:40000' },
    corr: {}, tags: {},
    route: 'uk', target: 'op', body,
  };
  return 'INSERT INTO messages(id, created_at, updated_at, expires_at, status, source_adapter,' +
    ' source_connector, from_addr, to_addr, target, route, attempts, reason, reason_text, remote_id,' +
    ` envelope) VALUES(${q(id)}, ${env.created_at}, ${now - 30000}, ${env.expires_at}, ${q(status)},` +
    ` 'smpp', 'cust', '4930111', ${q(to)}, 'op', 'uk', ${attempts}, 0, NULL,` +
    ` ${remoteId ? q(remoteId) : 'NULL'}, ${q(JSON.stringify(env))});`;
}

test('a v1 database file is migrated to v4 with its rows: queued ones delivered, a receipt applied', async (t) => {
  let j = null;
  const smsc = await startSmsc();
  const dir = mkdtempSync(path.join(tmpdir(), 'junction-v1-'));
  t.after(async () => {
    if (j) await j.cleanup();
    await smsc.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'v1.db');
  const now = Date.now();
  const queued = [
    { id: '01JB0000000000000000000001', status: 'queued', to: '447700900001', body: 'v1 queued one' },
    { id: '01JB0000000000000000000002', status: 'queued', to: '447700900002', body: 'v1 queued two' },
    { id: '01JB0000000000000000000003', status: 'queued', to: '447700900003', body: 'v1 queued three', attempts: 1 },
    // a v1 row accepted but not yet routed to its queue: migration 2 queues it
    { id: '01JB0000000000000000000004', status: 'received', to: '447700900004', body: 'v1 received four' },
  ];
  const submitted = { id: '01JB0000000000000000000005', status: 'submitted', to: '447700900005',
    body: 'v1 submitted five', attempts: 1, remoteId: 'smsc-old-77' };
  const conf = { host: '127.0.0.1', port: smsc.port, system_id: 'jv1', password: 'pw' };
  sqlite(file, 'BEGIN;' + MIGRATION_1 +
    `INSERT INTO connectors(name, type, conf, enabled, created_at, updated_at) VALUES('op', 'smpp', ${q(JSON.stringify(conf))}, 1, ${now}, ${now});` +
    `INSERT INTO routes(name, priority, dst_prefix, target, enabled, created_at) VALUES('uk', 10, '44', 'op', 1, ${now});` +
    [...queued, submitted].map((m) => v1Message({ ...m, now })).join('') +
    `INSERT INTO receipts(connector, remote_id, message_id, created_at) VALUES('op', 'smsc-old-77', ${q(submitted.id)}, ${now - 30000});` +
    `INSERT INTO events(ts, message_id, state, detail) VALUES(${now}, ${q(submitted.id)}, 'submitted', NULL);` +
    'PRAGMA user_version = 1; COMMIT;');
  assert.equal(sqlite(file, 'PRAGMA user_version;'), '1');

  j = await startJunction({ params: { 'db.path': file, 'smpp.reconnect_s': 1 } });
  assert.match(j.log, /schema migrated to version 2/);
  assert.match(j.log, /schema migrated to version 3/);
  assert.match(j.log, /schema migrated to version 4/);
  assert.doesNotMatch(j.log, /schema migrated to version 1$/m, 'the v1 schema was not created again');
  assert.match(j.log, /schema migrated to version 11$/m);
  assert.equal(sqlite(file, 'PRAGMA user_version;'), '11');
  // migration 4: the route became the equivalent rule of the engine
  assert.deepEqual(JSON.parse(sqlite(file, "SELECT body FROM rules WHERE name = 'uk';")), {
    id: 1, name: 'uk', priority: 10, enabled: true,
    description: 'carried over from the v3 routes table',
    action: { route: { strategy: 'failover', targets: ['op'] } },
    filters: { dst: { prefix: ['44'] } },
  });
  assert.equal(sqlite(file, "SELECT name FROM sqlite_master WHERE name IN ('outbox', 'events', 'receipts');"), 'outbox');
  assert.equal(sqlite(file, `SELECT remote_id FROM messages WHERE id = ${q(submitted.id)};`), 'smsc-old-77',
    'the receipt map row carried onto its message');

  // the v1 connector and route are the running ones
  assert.deepEqual((await j.mi('routes.list')).map((r) => [r.name, r.target]), [['uk', 'op']]);
  await waitBound(j, 'op');
  assert.equal(smsc.binds[0].system_id, 'jv1');

  // the queued ones (and the received one) reach the SMSC, once each, oldest first
  await waitFor(() => smsc.submits.length >= queued.length, 15000, `${queued.length} submits`);
  assert.deepEqual(smsc.submits.map((p) => [p.destination_addr, p.short_message.message]),
    queued.map((m) => [m.to, m.body]));
  for (const m of queued) {
    await waitFor(async () => (await j.mi('messages.get', { id: m.id })).status === 'submitted', 10000,
      `${m.id} submitted`);
    const got = await j.mi('messages.get', { id: m.id });
    assert.equal(got.plan, 'single:op');
    assert.equal(got.target, 'op');
    assert.equal(got.possible_duplicate, false);
    assert.equal(got.attempts, (m.attempts || 0) + 1, 'v1 attempts carried over and counted on');
  }
  const sub = await j.mi('messages.get', { id: submitted.id });
  assert.equal(sub.status, 'submitted');
  assert.equal(sub.plan, 'single:op');
  assert.equal(sub.remote_id, 'smsc-old-77');
  assert.equal(sub.tries, '1');

  // the SMSC's receipt for the message v1 submitted: found through the v1 receipt map
  const resp = await smsc.deliver({
    esm_class: 0x04, source_addr: submitted.to, destination_addr: '4930111',
    short_message: 'id:smsc-old-77 sub:001 dlvrd:001 submit date:2611281200 done date:2611281201 stat:DELIVRD err:000 text:v1 submitted',
  });
  assert.equal(resp.command_status, 0);
  await waitFor(async () => (await j.mi('messages.get', { id: submitted.id })).status === 'delivered', 10000,
    'delivered after the receipt');
  assert.equal(smsc.submits.length, queued.length, 'the submitted one was not sent again');
  const c = (await j.mi('stats.get')).counters;
  assert.equal(c['core.receipts_unknown'], 0);
});
