/*
 * db_int.h - what the files of db/ share, and nothing outside db/ sees.
 *
 *   db_schema.c  opening connections, migrations, db_open / db_close
 *   db_admin.c   the admin connection (connectors, routes, params, accounts,
 *                users) behind db_admin_lock
 *   db_msgs.c    the reader connection (message reads, recovery, receipts)
 *                behind db_msgs_lock
 *   db_writer.c  the writer thread and its own connection
 *   db_ckpt.c    the checkpointer thread and its own connection
 *   db_rules.c   routing rules and rate tables (admin connection)
 *   db_access.c  users, API tokens and the audit log (admin connection)
 *   db_sip_users.c SIP digest users and their HA1s (admin connection)
 *
 * Each connection is opened with SQLITE_OPEN_NOMUTEX: it is used by one
 * thread at a time, either the writer thread alone or under its file's lock.
 */
#ifndef DB_INT_H
#define DB_INT_H

#include <sqlite3.h>
#include "db/db.h"

/* Row classes as SQL terms, each the WHERE of one partial index
 * (db_schema.c) and repeated exactly by the statements that walk it
 * (db_writer.c), so that the planner can use the index.  2 is
 * GW_DLV_NORCPT: submitted without asking for a receipt. */
/* final: never left again */
#define DB_SCHEMA_FINAL                                                                 \
    "(status = 'delivered' OR status = 'failed' OR status = 'expired' OR status = 'rejected')"
/* waiting for its receipt (messages_remote, messages_submitted) */
#define DB_SCHEMA_RCPT_WAIT "(status = 'submitted' AND flags & 2 = 0)"
/* done: final, or submitted with no receipt to wait for (messages_done,
 * the retention purge) */
#define DB_SCHEMA_DONE                                                                  \
    "(status = 'delivered' OR status = 'failed' OR status = 'expired' OR status = 'rejected'" \
    " OR (status = 'submitted' AND flags & 2 <> 0))"

/* The outbox retention purge (db_writer.c, every 64 groups): the oldest
 * rows past the cutoff ?1, a few hundred at a time, found through
 * outbox_ts.  Ordered by ts, not seq: "WHERE ts < ?1 ORDER BY seq" made
 * SQLite walk the table in seq order and read every row (payloads and
 * all) when none was old yet, each time; tests/unit/test_db_writer.c
 * checks the plan and that a purge with nothing to take reads no row. */
#define DB_OUTBOX_PURGE_SQL                                                             \
    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE ts < ?1 ORDER BY ts LIMIT 500)"

/* The database path given to db_open (valid until db_close), or NULL. */
const char *db_path(void);

/* Open a connection to path with the project's pragmas (WAL, busy timeout,
 * foreign keys, the given synchronous level "FULL" or "NORMAL").  Returns 0
 * and *out, or GW_ESTORE (logged).  Caller closes with sqlite3_close. */
int db_conn_open(const char *path, const char *synchronous, sqlite3 **out);

/* Apply every migration newer than the file's user_version.  Returns the
 * resulting version (> 0) or GW_ESTORE (logged). */
int db_schema_migrate(sqlite3 *db);

/* Prepare sql on db; NULL on failure (logged with what). */
sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql, const char *what);

/* Bind s as text, or NULL when s is NULL. */
int db_bind_text(sqlite3_stmt *st, int idx, const char *s);

/* The column as a JSON string, or JSON null when the column is NULL. */
json_t *db_col_json_str(sqlite3_stmt *st, int col);

/* Hand the connections to their owners (db_open) and take them back
 * (db_close: the returned connection is the caller's to close). */
void db_admin_attach(sqlite3 *conn);
sqlite3 *db_admin_detach(void);
void db_msgs_attach(sqlite3 *conn);
/* The admin connection with db_admin_lock held (NULL: closed, the lock is
 * held all the same); db_admin_unlock releases it.  For db_rules.c. */
sqlite3 *db_admin_lock_conn(void);
void db_admin_unlock(void);

/* The admin connection's statement helpers (db_admin.c), shared with
 * db_access.c.  db_admin_begin locks and prepares (NULL: not prepared,
 * the lock released); db_admin_end finalizes and unlocks; db_admin_write
 * steps a write: 0, GW_EEXIST (uniqueness), GW_ENOTFOUND (no row changed
 * and must_change), GW_ESTORE.  db_admin_hash / _verify: argon2id of a
 * password (slow: call without the lock); db_admin_fetch_hash: one text
 * column of one row by key. */
sqlite3_stmt *db_admin_begin(const char *sql, const char *what);
void db_admin_end(sqlite3_stmt *st);
int db_admin_write(sqlite3_stmt *st, int must_change, const char *what);
int db_admin_hash(const char *password, char *out); /* out: crypto_pwhash_STRBYTES */
int db_admin_hash_verify(const char *hash, const char *password);
int db_admin_fetch_hash(const char *sql, const char *key, char *out);
/* Every row of sql (no parameters) through row as a JSON array (new
 * reference), or NULL when the statement failed. */
json_t *db_admin_rows(const char *sql, const char *what, json_t *(*row)(sqlite3_stmt *st));

/* Migration 4: every v3 routes row into rules, as the equivalent rule
 * (db_rules.c).  0 or a negative code; on the migrating connection. */
int db_rules_carry(sqlite3 *db);
sqlite3 *db_msgs_detach(void);

/* The checkpointer thread (db_ckpt.c), started and stopped with the
 * writer.  db_ckpt_kick (writer thread) asks it for a PASSIVE checkpoint
 * and returns 1, or 0 when it is not running (checkpoint inline then).
 * Past DB_CKPT_INLINE_FRAMES frames the writer checkpoints inline anyway,
 * so that the WAL is copied whole and starts over under endless writes. */
#define DB_CKPT_INLINE_FRAMES 8000
int db_ckpt_start(void);
int db_ckpt_kick(void);
void db_ckpt_stop(void);

/* Synchronous level for the writer ("FULL" or "NORMAL") and its batch
 * limit, from db_params (db_writer.c). */
const char *db_writer_sync_level(void);

/* The fragments table on the writer's connection (db_frag.c), inside its
 * transaction.  prepare also puts sets left claimed by a stop back to
 * waiting.  Each returns 0 or GW_ESTORE / GW_ENOMEM. */
/* sip_locations on the writer's connection (db_loc.c), inside its group
 * transaction: the bindings of aor written whole, or the row deleted
 * (bindings NULL).  0 or GW_ESTORE. */
int db_loc_prepare(sqlite3 *conn);
void db_loc_finalize(void);
int db_loc_exec_put(const char *aor, const char *bindings, int64_t now_ms);
int db_frag_prepare(sqlite3 *conn);
void db_frag_finalize(void);
int db_frag_exec_add(const char *key, int seq, int total, const char *digest, const char *json,
                     int64_t ts, int *dup, db_frag_set_t **complete);
int db_frag_exec_state(const char *key, int state);
int db_frag_exec_drop(const char *key);
/* At most limit stale sets: waiting ones claimed into sets[*nsets], done
 * ones purged (*purged). */
int db_frag_exec_stale(int64_t older_than, int limit, db_frag_set_t **sets, int *nsets,
                       int *purged);

#endif
