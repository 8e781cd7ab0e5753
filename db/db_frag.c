/*
 * db_frag.c - the parts of long messages that come in pieces, kept until
 * the whole is assembled (gateway/gw_frag.c).
 *
 * Table fragments (schema 5): one row per part (key, seq), the part's
 * envelope JSON, and a state: 0 waiting; 2 claimed (the set is complete,
 * or timed out, and being assembled: no one else takes it); 1 done (the
 * assembled message is stored: kept as a tombstone so that a part the
 * peer sends again is known as a duplicate, then purged by the sweep).
 * Every write runs on the store's writer connection inside its group
 * transaction (db_writer.c calls these); the assembled message's insert
 * marks its set done in that same transaction, so a crash can neither
 * lose the parts nor store the whole twice.
 *
 * Threads: the writer thread (db_frag_exec_*); db_frag_set_free anywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_str.h"

static sqlite3 *db_frag_conn;
static sqlite3_stmt *db_frag_st_part, *db_frag_st_add, *db_frag_st_count, *db_frag_st_load, *db_frag_st_state,
    *db_frag_st_stale, *db_frag_st_drop, *db_frag_st_key_state;

static const struct {
    sqlite3_stmt **st;
    const char *sql;
} db_frag_sql[] = {
    { &db_frag_st_add, "INSERT OR IGNORE INTO fragments(key, seq, total, envelope, state,"
                       " created_at, digest) VALUES(?1, ?2, ?3, ?4, 0, ?5, ?6)" },
    { &db_frag_st_part, "SELECT digest, (SELECT max(state) FROM fragments WHERE key = ?1)"
                        " FROM fragments WHERE key = ?1 AND seq = ?2" },
    { &db_frag_st_count, "SELECT count(*), max(state) FROM fragments WHERE key = ?1" },
    { &db_frag_st_load, "SELECT seq, total, envelope FROM fragments WHERE key = ?1 ORDER BY seq" },
    { &db_frag_st_state, "UPDATE fragments SET state = ?2 WHERE key = ?1" },
    { &db_frag_st_stale, "SELECT key FROM fragments WHERE created_at < ?1 GROUP BY key"
                         " LIMIT ?2" },
    { &db_frag_st_drop, "DELETE FROM fragments WHERE key = ?1" },
    { &db_frag_st_key_state, "SELECT max(state), max(created_at) FROM fragments WHERE key = ?1" },
};

int db_frag_prepare(sqlite3 *conn)
{
    db_frag_conn = conn;
    for (size_t i = 0; i < sizeof db_frag_sql / sizeof db_frag_sql[0]; i++)
        if ((*db_frag_sql[i].st = db_prepare(conn, db_frag_sql[i].sql, "fragments")) == NULL)
            return GW_ESTORE;
    /* nothing is being assembled at start: what a stop left claimed waits again */
    if (sqlite3_exec(conn, "UPDATE fragments SET state = 0 WHERE state = 2", NULL, NULL, NULL) !=
        SQLITE_OK)
        return GW_ESTORE;
    return 0;
}

void db_frag_finalize(void)
{
    for (size_t i = 0; i < sizeof db_frag_sql / sizeof db_frag_sql[0]; i++) {
        sqlite3_finalize(*db_frag_sql[i].st);
        *db_frag_sql[i].st = NULL;
    }
    db_frag_conn = NULL;
}

void db_frag_set_free(db_frag_set_t *set)
{
    if (set == NULL)
        return;
    for (int i = 0; i < set->n; i++)
        free(set->json[i]);
    free(set);
}

static int db_frag_run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : GW_ESTORE;

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int db_frag_exec_state(const char *key, int state)
{
    sqlite3_bind_text(db_frag_st_state, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(db_frag_st_state, 2, state);
    return db_frag_run(db_frag_st_state);
}

int db_frag_exec_drop(const char *key)
{
    sqlite3_bind_text(db_frag_st_drop, 1, key, -1, SQLITE_STATIC);
    return db_frag_run(db_frag_st_drop);
}

/* The parts of key into a new set (*out), in order.  0 or GW_ESTORE /
 * GW_ENOMEM. */
static int db_frag_load(const char *key, db_frag_set_t **out)
{
    sqlite3_stmt *st = db_frag_st_load;
    db_frag_set_t *set = calloc(1, sizeof *set);
    int step, rc = 0;

    *out = NULL;
    if (set == NULL)
        return GW_ENOMEM;
    gw_strlcpy(set->key, key, sizeof set->key);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW && set->n < DB_FRAG_MAX) {
        const char *json = (const char *)sqlite3_column_text(st, 2);
        set->seq[set->n] = sqlite3_column_int(st, 0);
        set->total = sqlite3_column_int(st, 1);
        if ((set->json[set->n] = strdup(json ? json : "")) == NULL)
            rc = GW_ENOMEM;
        else
            set->n++;
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = GW_ESTORE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != 0) {
        db_frag_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

/* Insert the part; *changed 1 when it was new.  0 or GW_ESTORE. */
static int db_frag_insert(const char *key, int seq, int total, const char *digest,
                          const char *json, int64_t ts, int *changed)
{
    sqlite3_stmt *st = db_frag_st_add;
    int rc;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, seq);
    sqlite3_bind_int(st, 3, total);
    sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ts);
    sqlite3_bind_text(st, 6, digest, -1, SQLITE_STATIC);
    rc = db_frag_run(st);
    *changed = rc == 0 && sqlite3_changes(db_frag_conn) > 0;
    return rc;
}

/* Part seq of key is stored already: 1 when it is the same part (the
 * digest), or a conflicting part of a set still being filled (the first
 * one stays); 0 when the set was joined already, so this is a new message
 * under a reused reference.  GW_ESTORE. */
static int db_frag_same(const char *key, int seq, const char *digest)
{
    sqlite3_stmt *st = db_frag_st_part;
    int same = 1;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, seq);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(st, 0);
        same = (old != NULL && strcmp(old, digest) == 0) ||
               sqlite3_column_int(st, 1) != DB_FRAG_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return same;
}

int db_frag_exec_add(const char *key, int seq, int total, const char *digest, const char *json,
                     int64_t ts, int *dup, db_frag_set_t **complete)
{
    sqlite3_stmt *st;
    int rc, count = 0, state = 0, changed = 0;

    *dup = 0;
    *complete = NULL;
    rc = db_frag_insert(key, seq, total, digest, json, ts, &changed);
    if (rc == 0 && !changed && db_frag_same(key, seq, digest) == 0) {
        /* the reference came back for another message: the joined set's
         * tombstone goes, this part starts the new set */
        rc = db_frag_exec_drop(key);
        if (rc == 0)
            rc = db_frag_insert(key, seq, total, digest, json, ts, &changed);
    }
    if (rc != 0)
        return rc;
    if (!changed) {
        *dup = 1; /* that part is here already (or its message is assembled) */
        return 0;
    }
    st = db_frag_st_count;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int(st, 0);
        state = sqlite3_column_int(st, 1);
    } else {
        rc = GW_ESTORE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != 0 || count < total || state != 0)
        return rc;
    /* this part completed the set: claimed for assembly in this transaction */
    rc = db_frag_exec_state(key, DB_FRAG_CLAIMED);
    return rc == 0 ? db_frag_load(key, complete) : rc;
}

int db_frag_exec_stale(int64_t older_than, int limit, db_frag_set_t **sets, int *nsets,
                       int *purged)
{
    sqlite3_stmt *st = db_frag_st_stale;
    char (*keys)[DB_FRAG_KEY_MAX] = calloc((size_t)limit, sizeof *keys);
    int nkeys = 0, rc = 0, step;

    *nsets = 0;
    *purged = 0;
    if (keys == NULL)
        return GW_ENOMEM;
    sqlite3_bind_int64(st, 1, older_than);
    sqlite3_bind_int(st, 2, limit);
    while (nkeys < limit && (step = sqlite3_step(st)) == SQLITE_ROW)
        gw_strlcpy(keys[nkeys++], (const char *)sqlite3_column_text(st, 0), DB_FRAG_KEY_MAX);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; rc == 0 && i < nkeys; i++) {
        int state = 0;
        st = db_frag_st_key_state;
        sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            state = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (state == DB_FRAG_DONE) { /* the tombstone of an assembled message */
            rc = db_frag_exec_drop(keys[i]);
            *purged += rc == 0;
        } else if (state == DB_FRAG_WAITING) { /* timed out: claimed for what arrived */
            rc = db_frag_exec_state(keys[i], DB_FRAG_CLAIMED);
            if (rc == 0 && (rc = db_frag_load(keys[i], &sets[*nsets])) == 0)
                (*nsets)++;
        } /* claimed: being assembled now */
    }
    free(keys);
    return rc;
}
