/*
 * db_schema.c - opening the database: connections, pragmas, migrations.
 *
 * Migrations are an array of {version, sql}; db_open applies, in order and
 * each in its own transaction, every one newer than the file's
 * PRAGMA user_version, and sets user_version in the same transaction, so a
 * crash mid-migration leaves the previous version intact.  A file written
 * by a newer Junction (user_version above the last migration) is refused
 * rather than guessed at.  To change the schema, append a migration; never
 * edit one that has shipped.
 *
 * Every connection runs in WAL mode (readers beside the one writer),
 * busy_timeout 5000 ms, foreign keys on.  The synchronous level is FULL
 * for the connections that write acknowledged data: with WAL, NORMAL
 * survives a process crash but may lose the last commits on power loss,
 * and the promise is that an accepted message is never lost (see
 * db.synchronous in db_writer.c).
 *
 * Threads: db_open / db_close on the main thread, before and after every
 * other db_ function.  The helpers run on whichever thread owns the
 * connection they are given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"


typedef struct db_migration {
    int version;
    const char *sql;
} db_migration_t;

/* Data a migration moves in C, after its SQL and in its transaction. */
typedef struct db_carry {
    int version;
    int (*fn)(sqlite3 *db);
} db_carry_t;

/* Times are milliseconds since the epoch; statuses are gw_status_name()
 * strings; conf and envelope hold JSON text. */
static const db_migration_t db_migrations[] = {
    {1,
     "CREATE TABLE connectors("
     "  name TEXT PRIMARY KEY, type TEXT NOT NULL, conf TEXT NOT NULL DEFAULT '{}',"
     "  enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL);"
     "CREATE TABLE routes("
     "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, priority INTEGER NOT NULL DEFAULT 100,"
     "  source TEXT, src_prefix TEXT, dst_prefix TEXT, dst_regex TEXT, target TEXT NOT NULL,"
     "  enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL);"
     "CREATE TABLE messages("
     "  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, source_adapter TEXT,"
     "  source_connector TEXT, from_addr TEXT, to_addr TEXT, target TEXT, route TEXT,"
     "  attempts INTEGER NOT NULL DEFAULT 0, reason INTEGER NOT NULL DEFAULT 0, reason_text TEXT,"
     "  remote_id TEXT, envelope TEXT NOT NULL);"
     "CREATE INDEX messages_status_created ON messages(status, created_at);"
     "CREATE INDEX messages_created ON messages(created_at);"
     "CREATE INDEX messages_target ON messages(target);"
     "CREATE TABLE receipts("
     "  connector TEXT NOT NULL, remote_id TEXT NOT NULL, message_id TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL, PRIMARY KEY(connector, remote_id));"
     "CREATE TABLE accounts("
     "  system_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL,"
     "  allowed_nets TEXT NOT NULL DEFAULT '', throughput INTEGER NOT NULL DEFAULT 0,"
     "  enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL);"
     "CREATE TABLE users("
     "  name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'admin',"
     "  created_at INTEGER NOT NULL);"
     "CREATE TABLE params("
     "  name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE TABLE location("
     "  aor TEXT NOT NULL, contact TEXT NOT NULL, expires INTEGER NOT NULL, received TEXT,"
     "  path TEXT, user_agent TEXT, q REAL, updated_at INTEGER NOT NULL,"
     "  PRIMARY KEY(aor, contact));"
     "CREATE TABLE events("
     "  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, message_id TEXT, state TEXT NOT NULL,"
     "  detail TEXT);"
     "CREATE INDEX events_message ON events(message_id);"},
    /* 2: content and delivery apart.  The envelope column keeps the
     * content; the delivery record gets its plan ("strategy:a,b"), the
     * index of its current target, attempts per target, the time of its
     * next attempt, flags (1: possible duplicate) and qseq, its place in
     * its connector's queue (the writer numbers every row that becomes
     * queued, in commit order; the core pages queues in that order).
     * Partial indexes serve the queue pager, the expiry and receipt-wait
     * sweeps and the retention purge, each over the rows it needs only.
     * Events are written in the transaction of their change to the outbox;
     * the v1 events table was never written and goes. */
    {2,
     "ALTER TABLE messages ADD COLUMN plan TEXT;"
     "ALTER TABLE messages ADD COLUMN cur INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE messages ADD COLUMN tries TEXT;"
     "ALTER TABLE messages ADD COLUMN next_at INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE messages ADD COLUMN qseq INTEGER NOT NULL DEFAULT 0;"
     "UPDATE messages SET plan = 'single:' || target, tries = CAST(attempts AS TEXT)"
     "  WHERE target IS NOT NULL AND target <> '';"
     "UPDATE messages SET status = 'queued' WHERE status = 'received';"
     "UPDATE messages SET qseq = rowid WHERE status = 'queued';"
     "DROP INDEX messages_target;"
     "CREATE INDEX messages_queue ON messages(target, qseq) WHERE status = 'queued';"
     "CREATE INDEX messages_expiry ON messages(expires_at) WHERE status = 'queued';"
     "CREATE INDEX messages_submitted ON messages(updated_at) WHERE status = 'submitted';"
     /* ORs, not IN (...): an IN list in a partial index's WHERE builds
      * an ephemeral table on every update of a row; the purge's query
      * repeats this term exactly so that it can use the index */
     "CREATE INDEX messages_final ON messages(updated_at) WHERE " DB_SCHEMA_FINAL ";"
     "CREATE INDEX receipts_created ON receipts(created_at);"
     /* every status change rewrote (status, created_at); the partial
      * indexes above, and this one for the rows left sending at a crash,
      * serve every query by status */
     "DROP INDEX messages_status_created;"
     "CREATE INDEX messages_sending ON messages(created_at) WHERE status = 'sending';"
     "CREATE TABLE outbox("
     "  seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, message_id TEXT,"
     "  type TEXT NOT NULL, payload TEXT NOT NULL);"
     "CREATE INDEX outbox_ts ON outbox(ts);"
     "DROP TABLE events;"},
    /* 3: the receipt map is the message row itself.  A receipt finds its
     * message through messages_remote (target, remote_id) over the rows
     * that wait for one, instead of a receipts table with two indexes of
     * its own written beside every submitted message; a row leaves the
     * index when it leaves that class, so there is nothing to purge.  A
     * message submitted without asking for a receipt (flags bit 2) waits
     * for none: the receipt-wait sweep skips it and the retention purge
     * takes it (messages_done replaces messages_final).  Carried over:
     * every receipt map row's remote id onto its message. */
    {3,
     "UPDATE messages SET remote_id = (SELECT r.remote_id FROM receipts r"
     "  WHERE r.message_id = messages.id), target = (SELECT r.connector FROM receipts r"
     "  WHERE r.message_id = messages.id)"
     "  WHERE id IN (SELECT message_id FROM receipts);"
     "DROP TABLE receipts;"
     "DROP INDEX messages_submitted;"
     "CREATE INDEX messages_submitted ON messages(updated_at) WHERE " DB_SCHEMA_RCPT_WAIT ";"
     "CREATE INDEX messages_remote ON messages(target, remote_id) WHERE " DB_SCHEMA_RCPT_WAIT ";"
     "DROP INDEX messages_final;"
     "CREATE INDEX messages_done ON messages(updated_at) WHERE " DB_SCHEMA_DONE ";"},
    /* 4: the compiled rule engine routes.  A rule is its JSON
     * (docs/routing.md) in body, with id, name, priority, enabled and
     * description repeated as columns; rate tables hold their rows by
     * name (docs/rates.md).  Every v3 route is carried over as the rule
     * that routes the same messages (db_rules_carry); the routes table
     * stays, unused, so a downgrade finds its old rows. */
    {4,
     "CREATE TABLE rules("
     "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, priority INTEGER NOT NULL,"
     "  enabled INTEGER NOT NULL DEFAULT 1, description TEXT, body TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
     "CREATE TABLE rates("
     "  table_name TEXT NOT NULL, prefix TEXT NOT NULL, connector TEXT NOT NULL,"
     "  cost REAL NOT NULL, currency TEXT NOT NULL, valid_from INTEGER NOT NULL DEFAULT 0,"
     "  valid_to INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX rates_table ON rates(table_name);"},
    /* 5: receipts for every part and receipts ahead of their
     * submit_sm_resp.  parts: the far side's id of each part of a message
     * submitted as several (flags & 4, GW_DLV_PARTS; the first part's id
     * is also the message's remote_id) and the final word each part's
     * receipt gave; the rows go with their message (parts_gone).
     * receipts_early: a final receipt that matched no waiting message,
     * kept (an hour at most) for the submit it may have overtaken. */
    {5,
     "CREATE TABLE parts("
     "  target TEXT NOT NULL, remote_id TEXT NOT NULL, message_id TEXT NOT NULL,"
     "  part INTEGER NOT NULL, stat TEXT, err INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY(target, remote_id)) WITHOUT ROWID;"
     "CREATE INDEX parts_message ON parts(message_id);"
     "CREATE TRIGGER parts_gone AFTER DELETE ON messages WHEN OLD.flags & 4 <> 0"
     " BEGIN DELETE FROM parts WHERE message_id = OLD.id; END;"
     "CREATE TABLE receipts_early("
     "  target TEXT NOT NULL, remote_id TEXT NOT NULL, stat TEXT NOT NULL,"
     "  err INTEGER NOT NULL, status INTEGER NOT NULL, ts INTEGER NOT NULL,"
     "  PRIMARY KEY(target, remote_id)) WITHOUT ROWID;"},
    /* 6: the parts of long messages that come in pieces, until assembled
     * (db_frag.c: state 0 waiting, 2 claimed, 1 done). */
    {6,
     "CREATE TABLE fragments("
     "  key TEXT NOT NULL, seq INTEGER NOT NULL, total INTEGER NOT NULL, envelope TEXT NOT NULL,"
     "  state INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL DEFAULT '',"
     "  created_at INTEGER NOT NULL,"
     "  PRIMARY KEY(key, seq)) WITHOUT ROWID;"
     "CREATE INDEX fragments_created ON fragments(created_at);"},
    /* 7: sender, what a delivery report to the message's sender needs
     * (gateway/gw_report.c's stub; "" when it wants none), so that the
     * writer reports on a final row without parsing its envelope.  Rows
     * from before keep NULL and are reported on from their envelope.
     * messages_created goes: two b-tree writes per message (its insert
     * and a report's) for messages.list alone, which walks the rowid,
     * the order of insertion, instead. */
    {7, "ALTER TABLE messages ADD COLUMN sender TEXT;"
        "DROP INDEX messages_created;"},
    /* 8: the networks a SIP MESSAGE is taken from (gateway/gw_trusted.c);
     * loopback to begin with, as before. */
    {8, "CREATE TABLE trusted("
        "  net TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);"
        "INSERT INTO trusted(net, name, created_at) VALUES('127.0.0.0/8', 'loopback', 0),"
        "  ('::1/128', 'loopback', 0);"},
    /* 9: access control (db/db_access.c).  Users get must_change (every
     * user made before has a first-start password nobody chose, so it is
     * set for them), their last login and change times; API tokens are
     * kept as SHA-256 of the token (256 random bits: a slow hash would add
     * nothing); the audit log holds every configuration change with who
     * made it and the object before and after. */
    {9, "ALTER TABLE users ADD COLUMN must_change INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE users ADD COLUMN updated_at INTEGER;"
        "ALTER TABLE users ADD COLUMN last_login INTEGER;"
        "UPDATE users SET must_change = 1;"
        "CREATE TABLE tokens("
        "  name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
        "  expires_at INTEGER, created_at INTEGER NOT NULL, created_by TEXT NOT NULL DEFAULT '',"
        "  last_used INTEGER);"
        "CREATE TABLE audit("
        "  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, who TEXT NOT NULL, via TEXT NOT NULL,"
        "  method TEXT NOT NULL, params TEXT, before TEXT, after TEXT);"},
    /* 10: the SIP registrar's bindings (db/db_loc.c): one row per address
     * of record, its bindings as one JSON array written whole.  The table
     * `location` of schema 1 was a placeholder nothing ever wrote. */
    {10, "CREATE TABLE sip_locations("
         "  aor TEXT PRIMARY KEY, bindings TEXT NOT NULL, updated_at INTEGER NOT NULL);"
         "DROP TABLE location;"},
    /* 11: SIP digest credentials (db/db_sip_users.c, gateway/gw_sip_users.c):
     * one row per username and realm with H(username:realm:password) for
     * MD5 and for SHA-256 (RFC 7616), lower-case hex; the password itself
     * is never stored. */
    {11, "CREATE TABLE sip_users("
         "  username TEXT NOT NULL, realm TEXT NOT NULL, ha1_md5 TEXT NOT NULL,"
         "  ha1_sha256 TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
         "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
         "  PRIMARY KEY(username, realm)) WITHOUT ROWID;"},
};

static const db_carry_t db_carries[] = {
    {4, db_rules_carry},
};

#define DB_MIGRATIONS_N (sizeof db_migrations / sizeof db_migrations[0])

static char *db_path_saved;
static int db_version;

const char *db_path(void)
{
    return db_path_saved;
}

int db_schema_version(void)
{
    return db_version;
}

sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        GW_ERR("db", "prepare %s: %s", what, sqlite3_errmsg(db));
        return NULL;
    }
    return st;
}

int db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

json_t *db_col_json_str(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return s != NULL ? json_string(s) : json_null();
}

int db_conn_open(const char *path, const char *synchronous, sqlite3 **out)
{
    char sql[128];
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

    *out = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        GW_ERR("db", "open %s: %s", path, db != NULL ? sqlite3_errmsg(db) : "out of memory");
        goto out_close;
    }
    sqlite3_busy_timeout(db, 5000);
    /* synchronous is one of two constants chosen by db_writer_sync_level. */
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;",
             synchronous);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        GW_ERR("db", "pragmas on %s: %s", path, sqlite3_errmsg(db));
        goto out_close;
    }
    *out = db;
    return 0;

out_close:
    sqlite3_close(db);
    return GW_ESTORE;
}

/* user_version of db, or -1. */
static int db_user_version(sqlite3 *db)
{
    int v = -1;
    sqlite3_stmt *st = db_prepare(db, "PRAGMA user_version", "user_version");
    if (st == NULL)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Apply one migration in its own transaction. 0 or GW_ESTORE (logged). */
static int db_migration_apply(sqlite3 *db, const db_migration_t *m)
{
    char sql[64];

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out_fail;
    if (sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    for (size_t i = 0; i < sizeof db_carries / sizeof db_carries[0]; i++)
        if (db_carries[i].version == m->version && db_carries[i].fn(db) != 0)
            goto out_rollback;
    /* PRAGMA takes no bound parameters; the version is our own constant. */
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", m->version);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    GW_INFO("db", "schema migrated to version %d", m->version);
    return 0;

out_rollback:
    GW_ERR("db", "migration %d: %s", m->version, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return GW_ESTORE;
out_fail:
    GW_ERR("db", "migration %d: %s", m->version, sqlite3_errmsg(db));
    return GW_ESTORE;
}

int db_schema_migrate(sqlite3 *db)
{
    int v = db_user_version(db);
    int last = db_migrations[DB_MIGRATIONS_N - 1].version;

    if (v < 0)
        return GW_ESTORE;
    if (v > last) {
        GW_ERR("db", "database schema version %d is newer than this build (%d)", v, last);
        return GW_ESTORE;
    }
    for (size_t i = 0; i < DB_MIGRATIONS_N; i++) {
        if (db_migrations[i].version <= v)
            continue;
        if (db_migration_apply(db, &db_migrations[i]) < 0)
            return GW_ESTORE;
        v = db_migrations[i].version;
    }
    return v;
}

/* Create the folder holding path when missing (one level, like ./var).
 * 0 or GW_ESTORE (logged). */
static int db_make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return GW_ENOMEM;
    int rc = 0;
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        GW_ERR("db", "mkdir %s: %s", dir, strerror(errno));
        rc = GW_ESTORE;
    }
    free(dir);
    return rc;
}

int db_open(const char *path)
{
    int rc;
    sqlite3 *admin = NULL, *reader = NULL;

    if (path == NULL || path[0] == '\0' || db_path_saved != NULL)
        return GW_EINVAL;
    /* No memory statistics: with them every allocation of SQLite's takes
     * one process-wide mutex, a few per statement on the writer.  Only
     * possible before SQLite initialises (the first open); later calls
     * (a test reopening) are refused harmlessly. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    rc = db_make_parent(path);
    if (rc < 0)
        return rc;
    rc = db_conn_open(path, db_writer_sync_level(), &admin);
    if (rc < 0)
        return rc;
    rc = db_schema_migrate(admin);
    if (rc < 0)
        goto out_close_admin;
    db_version = rc;
    rc = db_conn_open(path, "NORMAL", &reader); /* reads only: level irrelevant */
    if (rc < 0)
        goto out_close_admin;
    db_path_saved = strdup(path);
    if (db_path_saved == NULL) {
        rc = GW_ENOMEM;
        goto out_close_reader;
    }
    db_admin_attach(admin);
    db_msgs_attach(reader);
    GW_INFO("db", "opened %s (schema version %d, synchronous %s)", path, db_version,
            db_writer_sync_level());
    return 0;

out_close_reader:
    sqlite3_close(reader);
out_close_admin:
    sqlite3_close(admin);
    db_version = 0;
    return rc;
}

void db_close(void)
{
    if (db_path_saved == NULL)
        return;
    db_writer_stop();
    sqlite3_close(db_msgs_detach());
    sqlite3_close(db_admin_detach());
    free(db_path_saved);
    db_path_saved = NULL;
    db_version = 0;
}
