/*
 * db_admin.c - configuration rows: connectors, params, accounts (routing
 * rules and rate tables: db_rules.c; users, tokens, audit: db_access.c).
 *
 * One admin connection, guarded by db_admin_lock: MI handlers run one at a
 * time anyway, and start-up runs before them.  Every statement is prepared
 * with bound parameters; no SQL text is ever built from input.  (The v3
 * routes table is read only by migration 4, db_rules.c.)
 *
 * Passwords (SMPP accounts, users) are stored as argon2id hashes from
 * libsodium's crypto_pwhash_str (interactive limits: ~64 MiB, tens of ms).
 * Verification hashes outside db_admin_lock so a slow login does not stall
 * other admin work.
 *
 * Threads: any (MI handlers, the worker pool verifying SMPP binds, start-up),
 * serialised by db_admin_lock.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"

static pthread_mutex_t db_admin_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *db_admin_conn; /* guarded by db_admin_lock */
static pthread_once_t db_admin_sodium_once = PTHREAD_ONCE_INIT;
static int db_admin_sodium_rc;

void db_admin_attach(sqlite3 *conn)
{
    pthread_mutex_lock(&db_admin_lock);
    db_admin_conn = conn;
    pthread_mutex_unlock(&db_admin_lock);
}

sqlite3 *db_admin_detach(void)
{
    pthread_mutex_lock(&db_admin_lock);
    sqlite3 *c = db_admin_conn;
    db_admin_conn = NULL;
    pthread_mutex_unlock(&db_admin_lock);
    return c;
}

sqlite3 *db_admin_lock_conn(void)
{
    pthread_mutex_lock(&db_admin_lock);
    return db_admin_conn;
}

void db_admin_unlock(void)
{
    pthread_mutex_unlock(&db_admin_lock);
}

/* Lock and prepare sql on the admin connection.  Returns the statement
 * with db_admin_lock held, or NULL with the lock released. */
sqlite3_stmt *db_admin_begin(const char *sql, const char *what)
{
    pthread_mutex_lock(&db_admin_lock);
    sqlite3_stmt *st = db_admin_conn != NULL ? db_prepare(db_admin_conn, sql, what) : NULL;
    if (st == NULL)
        pthread_mutex_unlock(&db_admin_lock);
    return st;
}

void db_admin_end(sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_admin_lock);
}

/* Step a write statement: 0, GW_EEXIST on a uniqueness conflict,
 * GW_ENOTFOUND when it changed no row and must_change, GW_ESTORE (logged). */
int db_admin_write(sqlite3_stmt *st, int must_change, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return must_change && sqlite3_changes(db_admin_conn) == 0 ? GW_ENOTFOUND : 0;
    int ext = sqlite3_extended_errcode(db_admin_conn);
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return GW_EEXIST;
    GW_ERR("db", "%s: %s", what, sqlite3_errmsg(db_admin_conn));
    return GW_ESTORE;
}

/* ---- connectors -------------------------------------------------------- */

json_t *db_connectors_list(void)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = db_admin_begin(
        "SELECT name, type, enabled, conf FROM connectors ORDER BY name", "list connectors");
    if (st == NULL || arr == NULL) {
        if (st != NULL)
            db_admin_end(st);
        json_decref(arr);
        return NULL;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_error_t jerr;
        const char *conf = (const char *)sqlite3_column_text(st, 3);
        json_t *c = conf != NULL ? json_loads(conf, 0, &jerr) : NULL;
        json_t *row = json_pack("{s:o, s:o, s:b, s:o}", "name", db_col_json_str(st, 0),
                                "type", db_col_json_str(st, 1),
                                "enabled", sqlite3_column_int(st, 2) != 0,
                                "conf", c != NULL ? c : json_object());
        if (row == NULL || json_array_append_new(arr, row) < 0)
            break;
    }
    db_admin_end(st);
    return arr;
}

/* conf as compact JSON text ("{}" for NULL); malloc'd or NULL. */
static char *db_admin_conf_text(const json_t *conf)
{
    if (conf == NULL)
        return strdup("{}");
    if (!json_is_object(conf))
        return NULL;
    return json_dumps(conf, JSON_COMPACT | JSON_SORT_KEYS);
}

int db_connector_add(const char *name, const char *type, const json_t *conf, int enabled)
{
    if (name == NULL || name[0] == '\0' || type == NULL || type[0] == '\0' ||
        (conf != NULL && !json_is_object(conf)))
        return GW_EINVAL;
    char *text = db_admin_conf_text(conf);
    if (text == NULL)
        return GW_ENOMEM;
    int rc = GW_ESTORE;
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO connectors(name, type, conf, enabled, created_at, updated_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?5)",
        "add connector");
    if (st != NULL) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, enabled != 0);
        sqlite3_bind_int64(st, 5, gw_now_ms());
        rc = db_admin_write(st, 0, "add connector");
        db_admin_end(st);
    }
    free(text);
    return rc;
}

int db_connector_update(const char *name, const json_t *conf, int enabled)
{
    char *text = NULL;

    if (name == NULL || (conf != NULL && !json_is_object(conf)))
        return GW_EINVAL;
    if (conf != NULL && (text = db_admin_conf_text(conf)) == NULL)
        return GW_ENOMEM;
    int rc = GW_ESTORE;
    /* NULL binds keep the stored values. */
    sqlite3_stmt *st = db_admin_begin(
        "UPDATE connectors SET conf = COALESCE(?2, conf), enabled = COALESCE(?3, enabled),"
        " updated_at = ?4 WHERE name = ?1",
        "update connector");
    if (st != NULL) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        db_bind_text(st, 2, text);
        if (enabled >= 0)
            sqlite3_bind_int(st, 3, enabled != 0);
        sqlite3_bind_int64(st, 4, gw_now_ms());
        rc = db_admin_write(st, 1, "update connector");
        db_admin_end(st);
    }
    free(text);
    return rc;
}

int db_connector_delete(const char *name)
{
    if (name == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin("DELETE FROM connectors WHERE name = ?1",
                                      "delete connector");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = db_admin_write(st, 1, "delete connector");
    db_admin_end(st);
    return rc;
}

/* ---- trusted networks (gateway/gw_trusted.c) ------------------------------ */

json_t *db_trusted_list(void)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = db_admin_begin("SELECT net, name, created_at FROM trusted ORDER BY net",
                                      "list trusted networks");
    int step;

    if (st == NULL || arr == NULL) {
        if (st != NULL)
            db_admin_end(st);
        json_decref(arr);
        return NULL;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, json_pack("{s:o, s:o, s:I}", "net", db_col_json_str(st, 0),
                                             "name", db_col_json_str(st, 1), "created_at",
                                             (json_int_t)sqlite3_column_int64(st, 2)));
    db_admin_end(st);
    if (step != SQLITE_DONE) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int db_trusted_add(const char *net, const char *name)
{
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO trusted(net, name, created_at) VALUES(?1, ?2, ?3)", "add trusted network");
    int rc;

    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, net, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, gw_now_ms());
    rc = db_admin_write(st, 0, "add trusted network");
    db_admin_end(st);
    return rc;
}

int db_trusted_delete(const char *net)
{
    sqlite3_stmt *st = db_admin_begin("DELETE FROM trusted WHERE net = ?1",
                                      "delete trusted network");
    int rc;

    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, net, -1, SQLITE_STATIC);
    rc = db_admin_write(st, 1, "delete trusted network");
    db_admin_end(st);
    return rc;
}

/* ---- params ------------------------------------------------------------ */

json_t *db_params_list(void)
{
    json_t *obj = json_object();
    sqlite3_stmt *st = db_admin_begin("SELECT name, value FROM params ORDER BY name",
                                      "list params");
    if (st == NULL || obj == NULL) {
        if (st != NULL)
            db_admin_end(st);
        json_decref(obj);
        return NULL;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(obj, (const char *)sqlite3_column_text(st, 0),
                            db_col_json_str(st, 1));
    db_admin_end(st);
    return obj;
}

int db_param_set(const char *name, const char *value)
{
    if (name == NULL || name[0] == '\0' || value == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO params(name, value, updated_at) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        "set param");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, gw_now_ms());
    int rc = db_admin_write(st, 0, "set param");
    db_admin_end(st);
    return rc;
}

/* ---- password hashes --------------------------------------------------- */

static void db_admin_sodium_init(void)
{
    db_admin_sodium_rc = sodium_init() < 0 ? GW_ERROR : 0;
}

/* argon2id hash of password into out.  0, GW_EINVAL or GW_ENOMEM. */
int db_admin_hash(const char *password, char *out)
{
    pthread_once(&db_admin_sodium_once, db_admin_sodium_init);
    if (db_admin_sodium_rc < 0)
        return GW_ERROR;
    if (password == NULL || password[0] == '\0')
        return GW_EINVAL;
    if (crypto_pwhash_str_alg(out, password, strlen(password),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return GW_ENOMEM; /* libsodium fails here only when it cannot get the memory */
    return 0;
}

/* 0 when password matches hash, else GW_EINVAL. */
int db_admin_hash_verify(const char *hash, const char *password)
{
    pthread_once(&db_admin_sodium_once, db_admin_sodium_init);
    if (db_admin_sodium_rc < 0 || password == NULL)
        return GW_EINVAL;
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : GW_EINVAL;
}

/* Fetch the hash of one row by key with sql (one text column).  0 with the
 * hash copied into out, GW_ENOTFOUND or GW_ESTORE. */
int db_admin_fetch_hash(const char *sql, const char *key, char *out)
{
    sqlite3_stmt *st = db_admin_begin(sql, "fetch hash");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = GW_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 0);
        if (h != NULL && strlen(h) < crypto_pwhash_STRBYTES) {
            strcpy(out, h);
            rc = 0;
        } else {
            rc = GW_ESTORE;
        }
    }
    db_admin_end(st);
    return rc;
}

/* ---- accounts ---------------------------------------------------------- */

int db_account_add(const char *system_id, const char *password, const char *allowed_nets,
                   int throughput)
{
    char hash[crypto_pwhash_STRBYTES];

    if (system_id == NULL || system_id[0] == '\0' || throughput < 0)
        return GW_EINVAL;
    int rc = db_admin_hash(password, hash);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO accounts(system_id, password_hash, allowed_nets, throughput, enabled,"
        " created_at) VALUES(?1, ?2, ?3, ?4, 1, ?5)",
        "add account");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, system_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, allowed_nets != NULL ? allowed_nets : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, throughput);
    sqlite3_bind_int64(st, 5, gw_now_ms());
    rc = db_admin_write(st, 0, "add account");
    db_admin_end(st);
    return rc;
}

int db_account_delete(const char *system_id)
{
    if (system_id == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin("DELETE FROM accounts WHERE system_id = ?1",
                                      "delete account");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, system_id, -1, SQLITE_STATIC);
    int rc = db_admin_write(st, 1, "delete account");
    db_admin_end(st);
    return rc;
}

/* One statement, so a partial update is never visible: each column is
 * kept when its bound value is NULL (COALESCE). */
int db_account_update(const char *system_id, const char *password, const char *allowed_nets,
                      int throughput, int enabled)
{
    char hash[crypto_pwhash_STRBYTES];
    int rc = 0;

    if (system_id == NULL || system_id[0] == '\0')
        return GW_EINVAL;
    if (password != NULL && (rc = db_admin_hash(password, hash)) < 0)
        return rc; /* hashed before the lock: tens of ms */
    sqlite3_stmt *st = db_admin_begin(
        "UPDATE accounts SET password_hash = COALESCE(?2, password_hash),"
        " allowed_nets = COALESCE(?3, allowed_nets), throughput = COALESCE(?4, throughput),"
        " enabled = COALESCE(?5, enabled) WHERE system_id = ?1",
        "update account");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, system_id, -1, SQLITE_STATIC);
    if (password != NULL)
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    if (allowed_nets != NULL)
        sqlite3_bind_text(st, 3, allowed_nets, -1, SQLITE_STATIC);
    if (throughput >= 0)
        sqlite3_bind_int(st, 4, throughput);
    if (enabled >= 0)
        sqlite3_bind_int(st, 5, enabled != 0);
    rc = db_admin_write(st, 1, "update account");
    db_admin_end(st);
    sodium_memzero(hash, sizeof(hash));
    return rc;
}

/* The columns db_admin_account_row reads, in its order. */
#define DB_ADMIN_ACCOUNT_SELECT \
    "SELECT system_id, allowed_nets, throughput, enabled, created_at FROM accounts"

static json_t *db_admin_account_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:i, s:b, s:I}", "system_id", db_col_json_str(st, 0),
                     "allowed_nets", db_col_json_str(st, 1), "throughput",
                     sqlite3_column_int(st, 2), "enabled", sqlite3_column_int(st, 3) != 0,
                     "created_at", (json_int_t)sqlite3_column_int64(st, 4));
}

json_t *db_admin_rows(const char *sql, const char *what, json_t *(*row)(sqlite3_stmt *st))
{
    json_t *arr = json_array();
    sqlite3_stmt *st = db_admin_begin(sql, what);

    if (st == NULL || arr == NULL) {
        if (st != NULL)
            db_admin_end(st);
        json_decref(arr);
        return NULL;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *r = row(st);
        if (r == NULL || json_array_append_new(arr, r) < 0)
            break;
    }
    db_admin_end(st);
    return arr;
}

json_t *db_accounts_list(void)
{
    return db_admin_rows(DB_ADMIN_ACCOUNT_SELECT " ORDER BY system_id", "list accounts",
                         db_admin_account_row);
}

int db_account_verify(const char *system_id, const char *password, json_t **out)
{
    char hash[crypto_pwhash_STRBYTES];

    if (out != NULL)
        *out = NULL;
    if (system_id == NULL)
        return GW_ENOTFOUND;
    int rc = db_admin_fetch_hash("SELECT password_hash FROM accounts WHERE system_id = ?1",
                                 system_id, hash);
    if (rc < 0)
        return rc;
    rc = db_admin_hash_verify(hash, password); /* slow: outside the lock */
    if (rc < 0 || out == NULL)
        return rc;
    sqlite3_stmt *st = db_admin_begin(DB_ADMIN_ACCOUNT_SELECT " WHERE system_id = ?1",
        "get account");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, system_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = db_admin_account_row(st);
    else
        rc = GW_ENOTFOUND; /* deleted meanwhile */
    db_admin_end(st);
    return rc;
}

int db_account_get(const char *system_id, json_t **out)
{
    *out = NULL;
    if (system_id == NULL)
        return GW_ENOTFOUND;
    sqlite3_stmt *st = db_admin_begin(DB_ADMIN_ACCOUNT_SELECT " WHERE system_id = ?1",
                                      "get account");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, system_id, -1, SQLITE_STATIC);
    int rc = GW_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = db_admin_account_row(st);
        rc = *out != NULL ? 0 : GW_ENOMEM;
    }
    db_admin_end(st);
    return rc;
}

static pthread_once_t db_admin_decoy_once = PTHREAD_ONCE_INIT;
static char db_admin_decoy[crypto_pwhash_STRBYTES];
static int db_admin_decoy_rc;

/* The decoy: a hash of random bytes no one knows, made once. */
static void db_admin_decoy_init(void)
{
    unsigned char raw[16];
    char pw[2 * sizeof(raw) + 1];

    pthread_once(&db_admin_sodium_once, db_admin_sodium_init);
    if (db_admin_sodium_rc < 0) {
        db_admin_decoy_rc = GW_ERROR;
        return;
    }
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
    db_admin_decoy_rc = db_admin_hash(pw, db_admin_decoy);
}

int db_hash_decoy(const char *password)
{
    pthread_once(&db_admin_decoy_once, db_admin_decoy_init);
    if (db_admin_decoy_rc == 0)
        (void)db_admin_hash_verify(db_admin_decoy, password != NULL ? password : "");
    return GW_EINVAL;
}
