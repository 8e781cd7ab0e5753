/*
 * db_sip_users.c - the SIP digest users (table sip_users, migration 11).
 *
 * A row is a username in a realm with its two HA1 values, H(username ":"
 * realm ":" password) for MD5 and for SHA-256 (RFC 7616), as computed by
 * the caller (gateway/gw_sip_users.c): no password reaches this file.
 * Lists for the MI leave the HA1s out; only the loader, which builds the
 * SIP workers' table in memory, asks for them.
 *
 * All on the admin connection (db_admin_begin / db_admin_end).
 *
 * Threads: any (the MI's handlers, start-up), serialised by db_admin_lock.
 */
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"

json_t *db_sip_users_list(int with_ha1)
{
    json_t *arr = json_array(), *row;
    sqlite3_stmt *st = db_admin_begin(
        "SELECT username, realm, enabled, created_at, updated_at, ha1_md5, ha1_sha256"
        " FROM sip_users ORDER BY realm, username", "list sip users");
    int step;

    if (st == NULL || arr == NULL) {
        if (st != NULL)
            db_admin_end(st);
        json_decref(arr);
        return NULL;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        row = json_pack("{s:o, s:o, s:b, s:I, s:I}", "username", db_col_json_str(st, 0),
                        "realm", db_col_json_str(st, 1), "enabled", sqlite3_column_int(st, 2),
                        "created_at", (json_int_t)sqlite3_column_int64(st, 3), "updated_at",
                        (json_int_t)sqlite3_column_int64(st, 4));
        if (row != NULL && with_ha1) {
            json_object_set_new(row, "ha1_md5", db_col_json_str(st, 5));
            json_object_set_new(row, "ha1_sha256", db_col_json_str(st, 6));
        }
        json_array_append_new(arr, row);
    }
    db_admin_end(st);
    if (step != SQLITE_DONE) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int db_sip_user_add(const char *username, const char *realm, const char *ha1_md5,
                    const char *ha1_sha256)
{
    sqlite3_stmt *st = db_admin_begin(
        "INSERT INTO sip_users(username, realm, ha1_md5, ha1_sha256, enabled, created_at,"
        " updated_at) VALUES(?1, ?2, ?3, ?4, 1, ?5, ?5)", "add sip user");
    int rc;

    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, realm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ha1_md5, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ha1_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, gw_now_ms());
    rc = db_admin_write(st, 0, "add sip user");
    db_admin_end(st);
    return rc;
}

int db_sip_user_update(const char *username, const char *realm, const char *ha1_md5,
                       const char *ha1_sha256, int enabled)
{
    /* one statement for both changes: NULL / -1 keep the column */
    sqlite3_stmt *st = db_admin_begin(
        "UPDATE sip_users SET ha1_md5 = coalesce(?3, ha1_md5),"
        " ha1_sha256 = coalesce(?4, ha1_sha256),"
        " enabled = CASE WHEN ?5 < 0 THEN enabled ELSE ?5 END, updated_at = ?6"
        " WHERE username = ?1 AND realm = ?2", "update sip user");
    int rc;

    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, realm, -1, SQLITE_STATIC);
    db_bind_text(st, 3, ha1_md5);
    db_bind_text(st, 4, ha1_sha256);
    sqlite3_bind_int(st, 5, enabled);
    sqlite3_bind_int64(st, 6, gw_now_ms());
    rc = db_admin_write(st, 1, "update sip user");
    db_admin_end(st);
    return rc;
}

int db_sip_user_delete(const char *username, const char *realm)
{
    sqlite3_stmt *st = db_admin_begin("DELETE FROM sip_users WHERE username = ?1 AND realm = ?2",
                                      "delete sip user");
    int rc;

    if (st == NULL)
        return GW_ESTORE;
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, realm, -1, SQLITE_STATIC);
    rc = db_admin_write(st, 1, "delete sip user");
    db_admin_end(st);
    return rc;
}
