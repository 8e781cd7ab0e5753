/*
 * db_access.c - who may manage junction: users, API tokens, the audit log.
 *
 * Users (web UI and MI logins) have an argon2id password hash, a role
 * ("viewer", "operator", "admin"), must_change (the next login must choose
 * a new password) and their login and change times.  API tokens are stored
 * as the hex SHA-256 of the token text, never the token; a token has a
 * name, a role and an optional expiry.  The audit log is append-only:
 * who, through what, which method, its params (secrets already redacted by
 * the caller) and the object before and after, as JSON text.
 *
 * All on the admin connection (db_admin_begin / db_admin_end), hashing
 * outside its lock.
 *
 * Threads: any (MI handlers, libmicrohttpd threads logging in), serialised
 * by db_admin_lock.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"

/* ---- users ------------------------------------------------------------- */

#define DB_ACCESS_USER_SELECT \
    "SELECT name, role, must_change, created_at, updated_at, last_login FROM users"

static json_t *db_access_col_int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL
               ? json_null()
               : json_integer((json_int_t)sqlite3_column_int64(st, col));
}

static json_t *db_access_user_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:b, s:I, s:o, s:o}", "name", db_col_json_str(st, 0), "role",
                     db_col_json_str(st, 1), "must_change", sqlite3_column_int(st, 2) != 0,
                     "created_at", (json_int_t)sqlite3_column_int64(st, 3), "updated_at",
                     db_access_col_int_or_null(st, 4), "last_login",
                     db_access_col_int_or_null(st, 5));
}

/* The one integer sql answers, or GW_ESTORE. */
static int db_access_count(const char *sql, const char *what)
{
    sqlite3_stmt *st = db_admin_begin(sql, what);
    if (st == NULL)
        return GW_ESTORE;
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : GW_ESTORE;
    db_admin_end(st);
    return n;
}

int db_users_count(void)
{
    return db_access_count("SELECT count(*) FROM users", "count users");
}

int db_users_admins(void)
{
    return db_access_count("SELECT count(*) FROM users WHERE role = 'admin'", "count admins");
}

int db_user_add(const char *name, const char *password, const char *role, int must_change)
{
    char hash[crypto_pwhash_STRBYTES];

    if (name == NULL || name[0] == '\0' || role == NULL)
        return GW_EINVAL;
    int rc = db_admin_hash(password, hash);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO users(name, password_hash, role, must_change, created_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5)",
        "add user");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, must_change != 0);
    sqlite3_bind_int64(st, 5, gw_now_ms());
    rc = db_admin_write(st, 0, "add user");
    db_admin_end(st);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int db_user_get(const char *name, json_t **out)
{
    *out = NULL;
    if (name == NULL)
        return GW_ENOTFOUND;
    sqlite3_stmt *st = db_admin_begin(DB_ACCESS_USER_SELECT " WHERE name = ?1", "get user");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = GW_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = db_access_user_row(st);
        rc = *out != NULL ? 0 : GW_ENOMEM;
    }
    db_admin_end(st);
    return rc;
}

int db_user_verify(const char *name, const char *password, json_t **out)
{
    char hash[crypto_pwhash_STRBYTES];

    if (out != NULL)
        *out = NULL;
    if (name == NULL)
        return GW_ENOTFOUND;
    int rc = db_admin_fetch_hash("SELECT password_hash FROM users WHERE name = ?1", name, hash);
    if (rc < 0)
        return rc;
    rc = db_admin_hash_verify(hash, password); /* slow: outside the lock */
    if (rc < 0 || out == NULL)
        return rc;
    return db_user_get(name, out);
}

json_t *db_users_list(void)
{
    return db_admin_rows(DB_ACCESS_USER_SELECT " ORDER BY name", "list users", db_access_user_row);
}

int db_user_passwd(const char *name, const char *password, int must_change)
{
    char hash[crypto_pwhash_STRBYTES];

    if (name == NULL)
        return GW_EINVAL;
    int rc = db_admin_hash(password, hash);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = db_admin_begin(
        "UPDATE users SET password_hash = ?2, must_change = ?3, updated_at = ?4 WHERE name = ?1",
        "change password");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, must_change != 0);
    sqlite3_bind_int64(st, 4, gw_now_ms());
    rc = db_admin_write(st, 1, "change password");
    db_admin_end(st);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int db_user_set_role(const char *name, const char *role)
{
    if (name == NULL || role == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin(
        "UPDATE users SET role = ?2, updated_at = ?3 WHERE name = ?1", "set role");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, gw_now_ms());
    int rc = db_admin_write(st, 1, "set role");
    db_admin_end(st);
    return rc;
}

int db_user_delete(const char *name)
{
    if (name == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin("DELETE FROM users WHERE name = ?1", "delete user");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = db_admin_write(st, 1, "delete user");
    db_admin_end(st);
    return rc;
}

int db_user_touch_login(const char *name)
{
    sqlite3_stmt *st =
        db_admin_begin("UPDATE users SET last_login = ?2 WHERE name = ?1", "note login");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, gw_now_ms());
    int rc = db_admin_write(st, 0, "note login");
    db_admin_end(st);
    return rc;
}

/* ---- tokens ------------------------------------------------------------ */

#define DB_ACCESS_TOKEN_SELECT \
    "SELECT name, role, expires_at, created_at, created_by, last_used FROM tokens"

static json_t *db_access_token_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o}", "name", db_col_json_str(st, 0), "role",
                     db_col_json_str(st, 1), "expires_at", db_access_col_int_or_null(st, 2),
                     "created_at", (json_int_t)sqlite3_column_int64(st, 3), "created_by",
                     db_col_json_str(st, 4), "last_used", db_access_col_int_or_null(st, 5));
}

int db_token_add(const char *name, const char *hash_hex, const char *role, int64_t expires_at,
                 const char *created_by)
{
    if (name == NULL || name[0] == '\0' || hash_hex == NULL || role == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO tokens(name, hash, role, expires_at, created_at, created_by)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
        "add token");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash_hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
    if (expires_at > 0)
        sqlite3_bind_int64(st, 4, expires_at);
    sqlite3_bind_int64(st, 5, gw_now_ms());
    sqlite3_bind_text(st, 6, created_by != NULL ? created_by : "", -1, SQLITE_STATIC);
    int rc = db_admin_write(st, 0, "add token");
    db_admin_end(st);
    return rc;
}

int db_token_find(const char *hash_hex, json_t **out)
{
    *out = NULL;
    sqlite3_stmt *st = db_admin_begin(DB_ACCESS_TOKEN_SELECT " WHERE hash = ?1", "find token");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, hash_hex, -1, SQLITE_STATIC);
    int rc = GW_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = db_access_token_row(st);
        rc = *out != NULL ? 0 : GW_ENOMEM;
    }
    db_admin_end(st);
    return rc;
}

int db_token_touch(const char *name, int64_t now_ms)
{
    sqlite3_stmt *st =
        db_admin_begin("UPDATE tokens SET last_used = ?2 WHERE name = ?1", "note token use");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = db_admin_write(st, 0, "note token use");
    db_admin_end(st);
    return rc;
}

int db_token_delete(const char *name)
{
    if (name == NULL)
        return GW_EINVAL;
    sqlite3_stmt *st = db_admin_begin("DELETE FROM tokens WHERE name = ?1", "delete token");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = db_admin_write(st, 1, "delete token");
    db_admin_end(st);
    return rc;
}

json_t *db_tokens_list(void)
{
    return db_admin_rows(DB_ACCESS_TOKEN_SELECT " ORDER BY name", "list tokens",
                         db_access_token_row);
}

/* ---- audit ------------------------------------------------------------- */

int db_audit_add(const char *who, const char *via, const char *method, const char *params,
                 const char *before, const char *after)
{
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO audit(ts, who, via, method, params, before, after)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        "add audit entry");
    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_int64(st, 1, gw_now_ms());
    sqlite3_bind_text(st, 2, who, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, via, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, method, -1, SQLITE_STATIC);
    db_bind_text(st, 5, params);
    db_bind_text(st, 6, before);
    db_bind_text(st, 7, after);
    int rc = db_admin_write(st, 0, "add audit entry");
    db_admin_end(st);
    return rc;
}

/* A JSON text column as its value (null when NULL or not JSON). */
static json_t *db_access_col_json(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    json_t *v = t != NULL ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    return v != NULL ? v : json_null();
}

json_t *db_audit_list(int limit, int64_t before_id, const char *who, const char *method)
{
    json_t *arr = json_array();
    sqlite3_stmt *st = db_admin_begin(
        "SELECT id, ts, who, via, method, params, before, after FROM audit"
        " WHERE (?1 <= 0 OR id < ?1) AND (?2 IS NULL OR who = ?2)"
        " AND (?3 IS NULL OR method = ?3 OR method LIKE ?3 || '.%')"
        " ORDER BY id DESC LIMIT ?4",
        "list audit");
    if (st == NULL || arr == NULL) {
        if (st != NULL)
            db_admin_end(st);
        json_decref(arr);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, before_id);
    db_bind_text(st, 2, who);
    db_bind_text(st, 3, method);
    sqlite3_bind_int(st, 4, limit);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *row = json_pack(
            "{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
            (json_int_t)sqlite3_column_int64(st, 0), "ts", (json_int_t)sqlite3_column_int64(st, 1),
            "who", db_col_json_str(st, 2), "via", db_col_json_str(st, 3), "method",
            db_col_json_str(st, 4), "params", db_access_col_json(st, 5), "before",
            db_access_col_json(st, 6), "after", db_access_col_json(st, 7));
        if (row == NULL || json_array_append_new(arr, row) < 0)
            break;
    }
    db_admin_end(st);
    return arr;
}
