/*
 * db.h - the only door to SQLite.
 *
 * Three kinds of access, each on its own connection (WAL mode lets readers
 * run beside the writer):
 *   - the writer thread (db_writer.c) takes envelopes and state updates from
 *     a queue and commits them in groups: one transaction for everything
 *     that waited, each insert acknowledged only after its COMMIT returned;
 *   - the admin connection (db_admin.c): connectors, routes, params, users,
 *     used by MI handlers and start-up; guarded by db_admin_lock (private);
 *   - recovery at start-up reads the queued messages.
 * Migrations (db_schema.c) are versioned with PRAGMA user_version and run at
 * db_open.  Every statement is prepared; no SQL is built from input.
 *
 * Invariant: only files in db/ include sqlite3.h.
 */
#ifndef DB_H
#define DB_H

#include <stddef.h>
#include <jansson.h>
#include "../gateway/gw_envelope.h"
#include "../gateway/gw_param.h"

/* Parameters of the store (db.synchronous, db.batch_max), for
 * gw_params_register at start-up; read by db_open / db_writer_start. */
extern const gw_param_t db_params[];

/* Open (create) the database at path, apply migrations, open the admin
 * connection.  Main thread, before anything else touches the store. */
int db_open(const char *path);
void db_close(void);
int db_schema_version(void);

/* --- writer thread ------------------------------------------------------ */
typedef void (*db_commit_cb_t)(gw_envelope_t *env, int rc, void *arg);

int db_writer_start(void);
/* Commits what is queued, then stops the thread. */
void db_writer_stop(void);
/* Queue env for insertion (takes a reference).  cb runs on the writer
 * thread after the group commit with rc 0, or GW_ESTORE.  Any thread.
 * Returns 0, or GW_ESTOPPED / GW_ENOMEM (cb never runs). */
int db_msg_insert(gw_envelope_t *env, db_commit_cb_t cb, void *arg);
/* Queue a state update of env's delivery fields (status, attempts,
 * reason, corr.smpp_message_id), and when remote_id is not NULL a receipt
 * map row remote_id -> env->id.  Fire and forget; any thread. */
int db_msg_update(const gw_envelope_t *env, const char *remote_id);
/* Wait until everything queued so far is committed (tests, shutdown). */
void db_writer_flush(void);

/* --- messages (reads) --------------------------------------------------- */
/* Call fn for each message in state received/queued, oldest first; fn takes
 * over the envelope reference. Main thread at start-up. Returns count. */
int db_msgs_pending(void (*fn)(gw_envelope_t *env, void *arg), void *arg);
/* One message as JSON (the envelope plus status), or NULL. */
json_t *db_msg_get(const char *id);
/* Recent messages, newest first, optional status filter; JSON array. */
json_t *db_msgs_list(int limit, const char *status);
/* Envelope id for an SMSC message id, malloc'd or NULL. */
char *db_receipt_lookup(const char *connector, const char *remote_id);

/* --- routes ------------------------------------------------------------- */
/* Rows as a JSON array of objects (id, name, priority, source, src_prefix,
 * dst_prefix, dst_regex, target, enabled). */
json_t *db_routes_list(void);
/* Insert; returns the new id (> 0) or a negative code. */
long long db_route_add(const json_t *route);
int db_route_delete(long long id); /* GW_ENOTFOUND when absent */

/* --- connectors --------------------------------------------------------- */
/* Array of {name, type, enabled, conf: {...}}. */
json_t *db_connectors_list(void);
int db_connector_add(const char *name, const char *type, const json_t *conf, int enabled);
int db_connector_update(const char *name, const json_t *conf, int enabled); /* enabled < 0: keep */
int db_connector_delete(const char *name);

/* --- params ------------------------------------------------------------- */
json_t *db_params_list(void); /* {name: value} */
int db_param_set(const char *name, const char *value);

/* --- accounts (SMPP customers binding to our SMSC port) ---------------- */
/* Passwords are stored as argon2id hashes (libsodium).  allowed_nets is a
 * comma-separated list of CIDR blocks ("" = any); throughput in msg/s (0 =
 * unlimited). */
int db_account_add(const char *system_id, const char *password, const char *allowed_nets,
                   int throughput);
int db_account_delete(const char *system_id);
json_t *db_accounts_list(void); /* no password hashes */
/* 0 when system_id exists and password matches; copies the account row
 * (without hash) into *out when out != NULL (caller json_decref).  GW_ENOTFOUND
 * or GW_EINVAL (wrong password). */
int db_account_verify(const char *system_id, const char *password, json_t **out);
/* The account row of system_id (as in db_accounts_list) into *out (caller
 * json_decref).  0, GW_ENOTFOUND or GW_ESTORE.  No hashing: cheap. */
int db_account_get(const char *system_id, json_t **out);
/* One argon2id verification of password against a fixed decoy hash;
 * returns GW_EINVAL.  A refusal decided without the real hash (unknown
 * system_id, disabled, network) then costs as long as a wrong password. */
int db_hash_decoy(const char *password);

/* --- users (web UI and MI logins) --------------------------------------- */
int db_users_count(void);
int db_user_add(const char *name, const char *password, const char *role);
int db_user_verify(const char *name, const char *password); /* 0, GW_ENOTFOUND, GW_EINVAL */

#endif
