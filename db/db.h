/*
 * db.h - the only door to SQLite.
 *
 * Three kinds of access, each on its own connection (WAL mode lets readers
 * run beside the writer):
 *   - the writer thread (db_writer.c) takes envelopes and state updates from
 *     a queue and commits them in groups: one transaction for everything
 *     that waited, each insert acknowledged only after its COMMIT returned;
 *   - the admin connection (db_admin.c, db_rules.c): connectors, rules and
 *     rate tables, params, users,
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
#include "../gateway/gw_delivery.h"
#include "../gateway/gw_evbatch.h"
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
/* Runs on the writer thread after the change committed (rc 0) or, for an
 * insert only, could not be (GW_ESTORE: nothing of it is stored).  Updates
 * and receipts are retried until they commit, so their rc is always 0.
 * qseq: the row's new place in its connector's queue when the change left
 * it queued (the writer numbers those rows in commit order), else 0. */
typedef void (*db_commit_cb_t)(void *arg, int rc, int64_t qseq);
/* Receipts: id is the message the receipt was for (NULL when unknown). */
typedef void (*db_receipt_cb_t)(void *arg, int rc, const char *id);
/* Build the events of a change the writer made by itself to stored
 * message id (its envelope JSON given): a receipt (receipt = 1: the
 * "receipt" event, then the final state's) or a sweep (the state's event),
 * into ev; writer thread.  Set by the core. */
typedef void (*db_row_events_fn_t)(gw_evbatch_t *ev, const char *id, const char *envelope_json,
                                   gw_status_t status, const char *detail, int receipt);
/* Called on the writer thread for each committed event, in commit order,
 * with its outbox seq; text is borrowed for the call. */
typedef void (*db_event_hook_fn_t)(int64_t seq, const char *type, const char *text);

int db_writer_start(void);
/* Commits what is queued, then stops the thread. */
void db_writer_stop(void);
void db_writer_set_hooks(db_row_events_fn_t row_events, db_event_hook_fn_t on_event);
/* Delivery reports (gateway/gw_report.c).  A row that reaches a final
 * state in a writer job (an update to delivered / failed / expired, a
 * receipt, a sweep) may owe its sender a report: a new message, stored in
 * the same transaction, so a crash can never keep the outcome and lose
 * its report.
 *
 * stub(env) runs on the thread that inserts a message (any thread) and
 * returns, malloc'd, what a report to env's sender will need (its
 * "sender" column), or NULL when env's sender wants none; the writer
 * stores "" then, so that NULL marks a row older than the column.
 *
 * make() runs on the writer thread with the row's envelope (env) or, when
 * env is NULL, the row's columns (row: id, source_connector, sender and
 * the envelope JSON, read only when sender is NULL; with env too, the
 * remote id and reason text the change knows), the final status,
 * the far side's word (stat, NULL when none) and code (err), and wait = 1
 * when the receipt-wait sweep expires it; it returns a new delivery
 * (queued or, when its target had room, sending; plan and env_json set;
 * its own events in *ev) or NULL.  The writer inserts it after the
 * change; done(d, rc, qseq) runs after the group, on the writer thread,
 * and owns d: rc 0 committed (qseq its queue place), GW_ESTORE never
 * stored (a failed group makes its reports again when it runs again).
 * Set before the writer starts. */
typedef struct db_report_row {
    const char *id;
    const char *source_connector;
    const char *sender;   /* the stub; NULL for a row older than the column */
    const char *env_json;
    const char *remote_id; /* the far side's id of it, NULL when not known */
    const char *reason;    /* the reason text of its final change, NULL when none */
    const char *target;    /* the connector it went to, NULL when not known */
} db_report_row_t;
typedef char *(*db_report_stub_fn_t)(const gw_envelope_t *env);
typedef gw_delivery_t *(*db_report_make_fn_t)(const gw_envelope_t *env,
                                              const db_report_row_t *row, gw_status_t st,
                                              const char *stat, int err, int wait,
                                              gw_evbatch_t *ev);
void db_writer_set_report_hook(db_report_stub_fn_t stub, db_report_make_fn_t make,
                               db_commit_cb_t done);

/* --- the parts of long messages (db_frag.c, gateway/gw_frag.c) ----------
 * Each part of a message that comes in pieces is stored (its envelope
 * JSON) under the key of its set before the peer hears "accepted"; the
 * part that completes the set, or the sweep when a set waited too long,
 * hands the parts over for assembly, and the insert of the assembled
 * message (db_dlv_insert_frag) marks the set done in its transaction. */
#define DB_FRAG_MAX 255     /* parts in one set */
#define DB_FRAG_KEY_MAX 160
#define DB_FRAG_WAITING 0
#define DB_FRAG_DONE 1      /* assembled: kept a while so a resent part is a duplicate */
#define DB_FRAG_CLAIMED 2   /* handed over for assembly */
typedef struct db_frag_set {
    char key[DB_FRAG_KEY_MAX];
    int total;              /* parts the sender announced */
    int n;                  /* parts stored */
    int seq[DB_FRAG_MAX];   /* their numbers (from 1), ascending */
    char *json[DB_FRAG_MAX];/* their envelopes' JSON, malloc'd */
} db_frag_set_t;
void db_frag_set_free(db_frag_set_t *set);
/* After the commit, on the writer thread: rc 0 stored (dup 1: that part
 * was stored already, nothing written), or GW_ESTORE; set: when this part
 * completed its set, the parts (claimed; the callee frees it), else NULL. */
typedef void (*db_frag_cb_t)(void *arg, int rc, int dup, db_frag_set_t *set);
/* Store part seq (1..total) of the set key; digest tells its content
 * (the same part sent again has the same digest: a duplicate; another
 * digest for a part of a set already joined starts a new set - the sender
 * reused the reference).  0 or GW_EFULL / GW_ESTOPPED / GW_ENOMEM /
 * GW_EINVAL (cb never runs then).  Any thread. */
int db_frag_add(const char *key, int seq, int total, const char *digest, const char *json,
                db_frag_cb_t cb, void *arg);
/* Sets whose first part is older than older_than (at most limit): each
 * waiting one is claimed and handed to each(arg, set) (the callee frees
 * it), done ones purged; then done(arg, nsets).  Writer thread callbacks.
 * 0 or a push error. */
int db_frag_sweep(int64_t older_than, int limit, void (*each)(void *arg, db_frag_set_t *set),
                  void (*done)(void *arg, int n), void *arg);
/* A claimed set goes back to waiting (its assembled message could not be
 * stored: the sweep offers it again) or is dropped (drop = 1). */
int db_frag_release(const char *key, int drop);
/* db_dlv_insert of a message assembled from the set frag_key: the insert
 * marks the set done in its transaction. */
int db_dlv_insert_frag(const gw_delivery_t *d, const char *env_json, gw_evbatch_t *ev,
                       const char *frag_key, db_commit_cb_t cb, void *arg);
/* Queue a new message: d's envelope (its content as env_json, borrowed:
 * it must stay valid until cb has run) with d's delivery state, and ev
 * (taken over on success).  cb after the commit.  Any thread.  Returns 0,
 * GW_EFULL (the writer's queue is past db.queue_max, or commits fail:
 * admission control, nothing queued), GW_ESTOPPED or GW_ENOMEM; on error cb
 * never runs and ev stays the caller's. */
int db_dlv_insert(const gw_delivery_t *d, const char *env_json, gw_evbatch_t *ev,
                  db_commit_cb_t cb, void *arg);
/* Queue a state update of d (a snapshot is taken now) with ev.  A
 * submitted row with a remote id and without GW_DLV_NORCPT is what a
 * receipt finds (the partial index messages_remote).  Never refused for
 * load: a change of a stored message must land.  Retried until it commits; idempotent, and never moves a final row.
 * cb may be NULL.  0, GW_ESTOPPED or GW_ENOMEM. */
int db_dlv_update(const gw_delivery_t *d, gw_evbatch_t *ev, db_commit_cb_t cb, void *arg);
/* Events about no message (operations: workers scaled, configuration
 * changed) into the outbox, published after their commit like any other;
 * ev's texts are taken (given back on failure).  Retried until they
 * commit.  Any thread.  0, GW_ESTOPPED or GW_ENOMEM. */
int db_event_insert(gw_evbatch_t *ev);
/* The SIP registrar's bindings of one address of record (db_loc.c):
 * bindings is their JSON array, NULL to delete the row (none left).  The
 * row and ev's events commit in one transaction; cb then runs on the
 * writer thread with 0, or GW_ESTORE when the group could not commit
 * (nothing of it stored; not retried: the REGISTER is answered 500 and
 * the phone tries again).  Any thread.  0 or GW_EFULL / GW_ESTOPPED /
 * GW_ENOMEM / GW_EINVAL (cb never runs then; ev stays the caller's). */
typedef void (*db_loc_cb_t)(void *arg, int rc);
int db_loc_save(const char *aor, const char *bindings, gw_evbatch_t *ev, db_loc_cb_t cb,
                void *arg);
/* Every stored address of record with its bindings' JSON, to fn (a
 * non-zero return stops and is returned).  Main thread, at start. */
typedef int (*db_loc_row_fn)(void *arg, const char *aor, const char *bindings);
int db_loc_load(db_loc_row_fn fn, void *arg);
/* db_dlv_update for a message the core does not hold (a cancel of one
 * that waits only in the store): the row changes only while it is still
 * queued.  cb gets rc 0 when it changed, GW_ENOTFOUND when it was no
 * longer queued (nothing written: neither the change nor ev nor a
 * report).  Returns as db_dlv_update.  Any thread. */
int db_dlv_update_if_queued(const gw_delivery_t *d, gw_evbatch_t *ev, db_commit_cb_t cb,
                            void *arg);
/* Replace the content of queued message id (an SMPP replace_sm): its
 * envelope JSON (copied) and expires_at (ms, 0 = never), with ev, in one
 * writer job retried like an update; its status, plan and queue place
 * stay.  cb after the commit (qseq 0): rc 0, or GW_ENOTFOUND when the
 * row was no longer queued (left as it is, ev not written).  0, GW_EINVAL, GW_ESTOPPED or GW_ENOMEM (cb never runs, ev
 * stays the caller's).  Any thread. */
int db_dlv_replace(const char *id, const char *env_json, int64_t expires_at, gw_evbatch_t *ev,
                   db_commit_cb_t cb, void *arg);
/* Apply a delivery receipt: find the message that connector knows as
 * remote_id (or, when none waits under it, as one of the forms in alt:
 * NULL or ids each followed by '\n', tried in order) and, unless it is
 * final already, set status (reason err, text stat; GW_ST__COUNT: no
 * change, a receipt that is not final) with the events of the receipt
 * hook, in one transaction.  A final receipt that finds nothing is parked
 * under remote_id (receipts_early) for a submit still to come, which
 * takes it by its own ids and by the forms its update names
 * (gw_delivery_t.rcpt_aliases).  cb after the commit with rc 0 and the
 * message id, or GW_ENOTFOUND (no such message waiting for a receipt
 * under that id: nothing changed).  Any thread. */
int db_receipt_apply(const char *connector, const char *remote_id, const char *alt,
                     gw_status_t status, int err, const char *stat, db_receipt_cb_t cb,
                     void *arg);
/* Sweeps: bounded batches of changes the writer makes by itself, each row
 * with its event, in one transaction.
 *   EXPIRE_QUEUED  queued rows of target with qseq > after whose validity
 *                  passed before now -> expired (the core sweeps the rows
 *                  it holds in memory itself: after = its queue's cursor);
 *   RECEIPT_WAIT   submitted rows last changed before older_than ->
 *                  expired ("no receipt");
 *   PURGE          final rows last changed before older_than, and receipt
 *                  map rows created before it, deleted (no events).
 * cb(arg, n) after the commit with the number of rows changed (n < limit:
 * nothing more to do now).  Any thread; 0 or an error (cb never runs). */
typedef enum { DB_SWEEP_EXPIRE_QUEUED = 0, DB_SWEEP_RECEIPT_WAIT, DB_SWEEP_PURGE } db_sweep_kind_t;
typedef void (*db_sweep_cb_t)(void *arg, int n);
int db_sweep(db_sweep_kind_t kind, const char *target, int64_t after, int64_t now,
             int64_t older_than, int limit, db_sweep_cb_t cb, void *arg);
/* Wait until everything queued so far is committed (tests, shutdown). */
void db_writer_flush(void);
/* cb(arg, 0, 0) on the writer thread once everything queued before it has
 * committed and run its callbacks (GW_ESTOPPED when the writer stopped
 * first).  Never blocks; 0, GW_ESTOPPED or GW_ENOMEM (cb never runs).
 * Any thread. */
int db_writer_after(db_commit_cb_t cb, void *arg);
/* Jobs waiting for the writer, and 1 while its last commit failed. */
size_t db_writer_backlog(void);
int db_writer_failing(void);

/* --- messages (reads) --------------------------------------------------- */
/* A delivery rebuilt from its row, with its envelope's JSON text; fn takes
 * both over. */
typedef void (*db_dlv_fn_t)(gw_delivery_t *d, char *env_json, void *arg);
/* Call fn for each message that was with a peer when the last run ended
 * (status sending), oldest first.  Main thread at start-up.  Returns the
 * count or < 0. */
int db_msgs_pending(db_dlv_fn_t fn, void *arg);
/* One page of target's queue: up to limit queued rows with
 * after < qseq < before, in qseq order.  Returns the count (fn called for
 * each) or < 0.  Any thread but the writer's (a pool thread). */
int db_msgs_page(const char *target, int64_t after, int64_t before, int limit, db_dlv_fn_t fn,
                 void *arg);
/* Message id's row if it is queued: fn once (the count, 0 or 1, or < 0).
 * As db_msgs_page: a pool thread. */
int db_msgs_queued_one(const char *id, db_dlv_fn_t fn, void *arg);
/* Up to limit queued rows of source connector owner from address from to
 * address to (a cancel_sm by addresses): fn for each; the count or < 0.
 * As db_msgs_page: a pool thread. */
int db_msgs_queued_from(const char *owner, const char *from, const char *to, int limit,
                        db_dlv_fn_t fn, void *arg);
/* For each target with queued rows: fn(target, count, arg).  Start-up. */
int db_msgs_queued_counts(void (*fn)(const char *target, int64_t n, void *arg), void *arg);
/* One message as JSON (the envelope plus its delivery state), or NULL. */
json_t *db_msg_get(const char *id);
/* Recent messages, newest first, optional status filter; JSON array. */
json_t *db_msgs_list(int limit, const char *status);
/* What db_msgs_search matches; every member optional (NULL or 0: any),
 * all that are given must hold. */
typedef struct db_msg_filter {
    const char *status;
    const char *id_prefix;  /* a prefix of the envelope id */
    const char *number;     /* a prefix of the normalised from or to address */
    const char *connector;  /* the source connector or the target */
    int64_t since, until;   /* created_at within [since, until] (ms) */
} db_msg_filter_t;
/* Recent messages matching f, newest first, at most limit; JSON array, or
 * NULL when the store cannot be read.  Any thread. */
json_t *db_msgs_search(int limit, const db_msg_filter_t *f);
/* The outbox events of message id between its from and to times (ms; the
 * events of a change are stamped with its commit), oldest first, at most
 * limit: [{seq, ts, type, event}] with event the parsed payload.  Bounded
 * by the outbox's ts index.  Empty when no event sink was listening.
 * Any thread. */
json_t *db_msg_events(const char *id, int64_t from, int64_t to, int limit);
/* The AMQP message_ids (envelope corr.amqp_message_id) of the messages
 * connector took since `since` (ms), newest first, at most limit: fn for
 * each.  Returns how many, or GW_ESTORE.  Blocks on the store: for a
 * thread that may (an AMQP consumer seeding its dedup table at start). */
int db_msgs_recent_corr(const char *connector, int64_t since, int limit,
                        void (*fn)(const char *id, const char *amqp_msgid, int64_t at, void *arg),
                        void *arg);
/* Envelope id for an SMSC message id, malloc'd or NULL. */
char *db_receipt_lookup(const char *connector, const char *remote_id);
/* Rows of the outbox with seq > after, oldest first, at most limit: fn for
 * each (borrowed strings).  Returns the count or < 0.  Any thread but the
 * writer's. */
int db_outbox_read(int64_t after, int limit,
                   void (*fn)(int64_t seq, const char *type, const char *text, void *arg),
                   void *arg);

/* --- routing rules and rate tables (db_rules.c) ------------------------ */
/* Every rule's JSON (docs/routing.md) in (priority, id) order: a new array,
 * or NULL when the store cannot be read. */
json_t *db_rules_list(void);
/* One transaction: with replace_all every rule goes first; then each id of
 * delete_ids (integers; GW_ENOTFOUND when one is absent), then each rule of
 * put (objects with an integer id, name and priority: updated when the id
 * exists, else inserted).  Either array may be NULL.  0, GW_EEXIST (a name
 * taken by another rule), GW_ENOTFOUND, GW_ESTORE; on error nothing
 * changed.  The rules are stored as given: compiling them is the core's. */
int db_rules_write(const json_t *put, const json_t *delete_ids, int replace_all);

/* A rate row; strings borrowed for the call. */
typedef struct db_rate_row {
    const char *prefix, *connector, *currency;
    double cost;
    int64_t valid_from, valid_to; /* unix seconds, 0 = open */
} db_rate_row_t;
/* Fills *row with the next row: 1, 0 at the end, < 0 to abort. */
typedef int (*db_rate_next_fn)(void *arg, db_rate_row_t *row);
/* Replace every row of table by the rows next gives, in one transaction.
 * 0 or GW_ESTORE (nothing changed). */
int db_rates_replace(const char *table, db_rate_next_fn next, void *arg);
/* Delete table's rows: 0, GW_ENOTFOUND (no row), GW_ESTORE. */
int db_rates_delete(const char *table);
/* fn for every row of every table, by table name then in stored order;
 * stops at fn's first non-zero and returns it.  fn runs under the admin
 * lock: it must not call back into db/.  0 or GW_ESTORE. */
typedef int (*db_rate_fn)(void *arg, const char *table, const db_rate_row_t *row);
int db_rates_foreach(db_rate_fn fn, void *arg);

/* --- connectors --------------------------------------------------------- */
/* Array of {name, type, enabled, conf: {...}}. */
json_t *db_connectors_list(void);
int db_connector_add(const char *name, const char *type, const json_t *conf, int enabled);
int db_connector_update(const char *name, const json_t *conf, int enabled); /* enabled < 0: keep */
int db_connector_delete(const char *name);

/* --- trusted networks (gateway/gw_trusted.c) ---------------------------- */
/* Rows {net, name, created_at} ordered by net (caller json_decref), NULL
 * on error.  add: 0, GW_EEXIST, GW_ESTORE; delete: 0, GW_ENOTFOUND,
 * GW_ESTORE.  The caller checked net (gw_net_parse).  Any thread. */
json_t *db_trusted_list(void);
int db_trusted_add(const char *net, const char *name);
int db_trusted_delete(const char *net);

/* --- SIP digest users (gateway/gw_sip_users.c; db_sip_users.c) ---------- */
/* Rows {username, realm, enabled, created_at, updated_at} ordered by realm
 * and username, with ha1_md5 and ha1_sha256 only when with_ha1 (the
 * loader of the SIP workers' table; never an MI answer).  Caller
 * json_decref; NULL on error.  add: 0, GW_EEXIST, GW_ESTORE.  update:
 * the HA1s when not NULL, enabled when >= 0; 0, GW_ENOTFOUND, GW_ESTORE.
 * delete: 0, GW_ENOTFOUND, GW_ESTORE.  The HA1s are lower-case hex made
 * by the caller: no password comes here.  Any thread. */
json_t *db_sip_users_list(int with_ha1);
int db_sip_user_add(const char *username, const char *realm, const char *ha1_md5,
                    const char *ha1_sha256);
int db_sip_user_update(const char *username, const char *realm, const char *ha1_md5,
                       const char *ha1_sha256, int enabled);
int db_sip_user_delete(const char *username, const char *realm);

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
/* Change only the given fields of system_id's row: password (hashed
 * argon2id like add) and allowed_nets when not NULL, throughput and
 * enabled (0 / 1) when >= 0.  0, GW_ENOTFOUND, GW_EINVAL (empty
 * system_id or password), GW_ENOMEM, GW_ESTORE.  Any thread. */
int db_account_update(const char *system_id, const char *password, const char *allowed_nets,
                      int throughput, int enabled);
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

/* --- users (web UI and MI logins; db_access.c) --------------------------- */
/* A user row as JSON: {name, role, must_change, created_at, updated_at,
 * last_login} (times in unix ms or null); never the hash.  Each returns 0
 * or GW_EINVAL / GW_EEXIST / GW_ENOTFOUND / GW_ESTORE / GW_ENOMEM. */
int db_users_count(void);
int db_users_admins(void); /* how many have the role admin */
int db_user_add(const char *name, const char *password, const char *role, int must_change);
/* 0 with *out (when out is not NULL) the user row, GW_ENOTFOUND, or
 * GW_EINVAL for a wrong password.  Slow (argon2id): not on an event loop. */
int db_user_verify(const char *name, const char *password, json_t **out);
int db_user_get(const char *name, json_t **out);
json_t *db_users_list(void);
int db_user_passwd(const char *name, const char *password, int must_change);
int db_user_set_role(const char *name, const char *role);
int db_user_delete(const char *name);
int db_user_touch_login(const char *name);

/* --- API tokens (db_access.c): stored as the hex SHA-256 of the token ---- */
/* A token row: {name, role, expires_at (unix ms or null), created_at,
 * created_by, last_used}. */
int db_token_add(const char *name, const char *hash_hex, const char *role, int64_t expires_at,
                 const char *created_by);
int db_token_find(const char *hash_hex, json_t **out); /* 0 or GW_ENOTFOUND */
int db_token_touch(const char *name, int64_t now_ms);
int db_token_delete(const char *name);
json_t *db_tokens_list(void);

/* --- audit log (db_access.c) -------------------------------------------- */
/* params, before and after are JSON texts (NULL: none), secrets already
 * taken out by the caller. */
int db_audit_add(const char *who, const char *via, const char *method, const char *params,
                 const char *before, const char *after);
/* Newest first: at most limit entries with id < before_id (0: from the
 * newest), of who and of method (a method name or an area) when given. */
json_t *db_audit_list(int limit, int64_t before_id, const char *who, const char *method);

#endif
