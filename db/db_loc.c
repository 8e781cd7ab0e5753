/*
 * db_loc.c - the SIP registrar's bindings (adapters/sip/sip_location.c
 * through gateway/gw_location.c).
 *
 * Table sip_locations (schema 10): one row per address of record, its
 * bindings as one JSON array (the registrar's own form: contact, expires
 * time, q, Call-ID, CSeq, source, Path, ...), written whole by each
 * REGISTER that changed it and deleted when none is left.  A REGISTER is
 * answered only after its row committed, like a MESSAGE's 202, so a
 * restart keeps every registration a phone was told about.  The row is
 * written on the store's writer connection inside its group transaction
 * (db_writer.c calls db_loc_exec_put), with the registration's event in
 * the same transaction; the rows are read back once at start on the admin
 * connection (db_loc_load).
 *
 * Threads: db_loc_exec_put on the writer thread; db_loc_load on the main
 * thread at start.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"

static sqlite3_stmt *db_loc_st_put, *db_loc_st_del;

int db_loc_prepare(sqlite3 *conn)
{
    db_loc_st_put = db_prepare(conn, "INSERT INTO sip_locations(aor, bindings, updated_at)"
                                     " VALUES(?1, ?2, ?3) ON CONFLICT(aor) DO UPDATE SET"
                                     " bindings = excluded.bindings,"
                                     " updated_at = excluded.updated_at", "sip locations");
    db_loc_st_del = db_prepare(conn, "DELETE FROM sip_locations WHERE aor = ?1", "sip locations");
    return db_loc_st_put != NULL && db_loc_st_del != NULL ? 0 : GW_ESTORE;
}

void db_loc_finalize(void)
{
    sqlite3_finalize(db_loc_st_put);
    sqlite3_finalize(db_loc_st_del);
    db_loc_st_put = db_loc_st_del = NULL;
}

int db_loc_exec_put(const char *aor, const char *bindings, int64_t now_ms)
{
    sqlite3_stmt *st = bindings != NULL ? db_loc_st_put : db_loc_st_del;
    int step;

    sqlite3_bind_text(st, 1, aor, -1, SQLITE_STATIC);
    if (bindings != NULL) {
        sqlite3_bind_text(st, 2, bindings, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_ms);
    }
    step = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return step == SQLITE_DONE ? 0 : GW_ESTORE;
}

int db_loc_load(db_loc_row_fn fn, void *arg)
{
    sqlite3_stmt *st = db_admin_begin("SELECT aor, bindings FROM sip_locations ORDER BY aor",
                                      "load sip locations");
    int step, rc = 0;

    if (st == NULL)
        return GW_ESTORE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(arg, (const char *)sqlite3_column_text(st, 0),
                (const char *)sqlite3_column_text(st, 1));
    if (rc == 0 && step != SQLITE_DONE)
        rc = GW_ESTORE;
    db_admin_end(st);
    return rc;
}
