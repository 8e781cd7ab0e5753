/*
 * db_msgs.c - reading messages: recovery, the message log, queue pages,
 * receipt lookups.
 *
 * One reader connection, guarded by db_msgs_lock; in WAL mode it reads the
 * last committed state while the writer thread keeps committing.  Rows
 * hold the envelope's JSON form (written once, at acceptance) plus columns
 * for the delivery state (status, attempts, reason, target, remote_id),
 * which the writer keeps current; the columns win over the JSON when the
 * two are combined.
 *
 * Threads: db_msgs_pending on the main thread at start-up; the others from
 * any thread (MI handlers, the SMPP thread looking up receipts), one at a
 * time under db_msgs_lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"

static pthread_mutex_t db_msgs_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *db_msgs_conn; /* guarded by db_msgs_lock */

/* Columns shared by the row readers, in this order. */
#define DB_MSGS_COLS                                                                \
    "id, created_at, updated_at, expires_at, status, source_adapter, source_connector," \
    " from_addr, to_addr, target, route, attempts, reason, reason_text, remote_id, envelope," \
    " plan, cur, tries, next_at, flags, qseq"

enum {
    DB_C_ID = 0, DB_C_CREATED, DB_C_UPDATED, DB_C_EXPIRES, DB_C_STATUS, DB_C_SRC_ADAPTER,
    DB_C_SRC_CONNECTOR, DB_C_FROM, DB_C_TO, DB_C_TARGET, DB_C_ROUTE, DB_C_ATTEMPTS,
    DB_C_REASON, DB_C_REASON_TEXT, DB_C_REMOTE_ID, DB_C_ENVELOPE, DB_C_PLAN, DB_C_CUR,
    DB_C_TRIES, DB_C_NEXT_AT, DB_C_FLAGS, DB_C_QSEQ,
};

void db_msgs_attach(sqlite3 *conn)
{
    pthread_mutex_lock(&db_msgs_lock);
    db_msgs_conn = conn;
    pthread_mutex_unlock(&db_msgs_lock);
}

sqlite3 *db_msgs_detach(void)
{
    pthread_mutex_lock(&db_msgs_lock);
    sqlite3 *c = db_msgs_conn;
    db_msgs_conn = NULL;
    pthread_mutex_unlock(&db_msgs_lock);
    return c;
}

/* Rebuild a delivery from a row: the stored envelope JSON (the content),
 * then the delivery columns.  New delivery, or NULL (logged). */
static gw_delivery_t *db_msgs_row_dlv(sqlite3_stmt *st)
{
    const char *id = (const char *)sqlite3_column_text(st, DB_C_ID);
    const char *text = (const char *)sqlite3_column_text(st, DB_C_ENVELOPE);
    const char *plan = (const char *)sqlite3_column_text(st, DB_C_PLAN);
    const char *target = (const char *)sqlite3_column_text(st, DB_C_TARGET);
    const char *err = NULL;
    json_error_t jerr;
    gw_delivery_t *d = NULL;

    json_t *j = text != NULL ? json_loads(text, JSON_ALLOW_NUL, &jerr) : NULL;
    if (j == NULL) {
        GW_ERR("db", "message %s: stored envelope is not JSON", id);
        return NULL;
    }
    gw_envelope_t *env = gw_env_from_json(j, &err);
    json_decref(j);
    if (env == NULL) {
        GW_ERR("db", "message %s: stored envelope rejected: %s", id, err);
        return NULL;
    }
    d = gw_dlv_new(env);
    gw_env_unref(env);
    if (d == NULL)
        return NULL;
    snprintf(d->route, sizeof d->route, "%s",
             sqlite3_column_text(st, DB_C_ROUTE) ? (const char *)sqlite3_column_text(st, DB_C_ROUTE)
                                                 : "");
    /* a plan, or (rows of a v1 file migrated without a target) the target */
    if ((plan == NULL || gw_dlv_plan_parse(d, plan) < 0) &&
        (target == NULL || gw_dlv_plan_set(d, d->route, target) < 0)) {
        GW_ERR("db", "message %s: no delivery plan stored", id);
        gw_dlv_free(d);
        return NULL;
    }
    int status = gw_status_parse((const char *)sqlite3_column_text(st, DB_C_STATUS));
    d->status = status >= 0 ? (gw_status_t)status : GW_ST_QUEUED;
    d->cur = sqlite3_column_int(st, DB_C_CUR);
    if (d->cur < 0 || d->cur >= d->ntargets)
        d->cur = 0;
    if (gw_dlv_tries_parse(d, (const char *)sqlite3_column_text(st, DB_C_TRIES)) < 0)
        memset(d->tries, 0, sizeof d->tries);
    d->attempts = sqlite3_column_int(st, DB_C_ATTEMPTS);
    gw_dlv_set_reason(d, sqlite3_column_int(st, DB_C_REASON),
                      (const char *)sqlite3_column_text(st, DB_C_REASON_TEXT));
    snprintf(d->remote_id, sizeof d->remote_id, "%s",
             sqlite3_column_text(st, DB_C_REMOTE_ID)
                 ? (const char *)sqlite3_column_text(st, DB_C_REMOTE_ID)
                 : "");
    d->next_at = sqlite3_column_int64(st, DB_C_NEXT_AT);
    d->flags = (unsigned)sqlite3_column_int(st, DB_C_FLAGS);
    d->qseq = sqlite3_column_int64(st, DB_C_QSEQ);
    return d;
}

/* Run the select sql (bound by bind) on the reader connection and call fn
 * for each row rebuilt as a delivery.  Rows are collected under the lock
 * and handed out after it: fn may well read the store.  Returns the count
 * or < 0 (then fn was called for none). */
static int db_msgs_each(const char *sql, const char *what, void (*bind)(sqlite3_stmt *, void *),
                        void *bind_arg, db_dlv_fn_t fn, void *arg)
{
    int rc = 0;
    size_t n = 0, cap = 0;
    struct db_pending { gw_delivery_t *d; char *json; } *rows = NULL;

    pthread_mutex_lock(&db_msgs_lock);
    if (db_msgs_conn == NULL) {
        pthread_mutex_unlock(&db_msgs_lock);
        return GW_ESTORE;
    }
    sqlite3_stmt *st = db_prepare(db_msgs_conn, sql, what);
    if (st == NULL) {
        pthread_mutex_unlock(&db_msgs_lock);
        return GW_ESTORE;
    }
    if (bind)
        bind(st, bind_arg);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        gw_delivery_t *d = db_msgs_row_dlv(st);
        if (d == NULL)
            continue; /* logged; a broken row must not block the others */
        char *json = strdup((const char *)sqlite3_column_text(st, DB_C_ENVELOPE));
        if (json == NULL) {
            gw_dlv_free(d);
            rc = GW_ENOMEM;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct db_pending *nr = realloc(rows, ncap * sizeof *nr);
            if (nr == NULL) {
                gw_dlv_free(d);
                free(json);
                rc = GW_ENOMEM;
                break;
            }
            rows = nr;
            cap = ncap;
        }
        rows[n].d = d;
        rows[n].json = json;
        n++;
    }
    if (rc == 0 && step != SQLITE_DONE) {
        GW_ERR("db", "%s: %s", what, sqlite3_errmsg(db_msgs_conn));
        rc = GW_ESTORE;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_msgs_lock);

    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            fn(rows[i].d, rows[i].json, arg);
        } else {
            gw_dlv_free(rows[i].d);
            free(rows[i].json);
        }
    }
    free(rows);
    return rc < 0 ? rc : (int)n;
}

int db_msgs_pending(db_dlv_fn_t fn, void *arg)
{
    return db_msgs_each("SELECT " DB_MSGS_COLS " FROM messages WHERE status = 'sending'"
                        " ORDER BY created_at, id",
                        "messages left sending", NULL, NULL, fn, arg);
}

typedef struct db_page_args {
    const char *target;
    int64_t after, before;
    int limit;
} db_page_args_t;

static void db_msgs_page_bind(sqlite3_stmt *st, void *arg)
{
    db_page_args_t *a = arg;

    sqlite3_bind_text(st, 1, a->target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->after);
    sqlite3_bind_int(st, 3, a->limit);
    sqlite3_bind_int64(st, 4, a->before);
}

int db_msgs_page(const char *target, int64_t after, int64_t before, int limit, db_dlv_fn_t fn,
                 void *arg)
{
    db_page_args_t a = { target, after, before, limit };

    /* walks the partial index messages_queue(target, qseq) */
    return db_msgs_each("SELECT " DB_MSGS_COLS " FROM messages WHERE target = ?1"
                        " AND status = 'queued' AND qseq > ?2 AND qseq < ?4 ORDER BY qseq"
                        " LIMIT ?3",
                        "queue page", db_msgs_page_bind, &a, fn, arg);
}

static void db_msgs_id_bind(sqlite3_stmt *st, void *arg)
{
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
}

int db_msgs_queued_one(const char *id, db_dlv_fn_t fn, void *arg)
{
    return db_msgs_each("SELECT " DB_MSGS_COLS " FROM messages WHERE id = ?1"
                        " AND status = 'queued'",
                        "queued message", db_msgs_id_bind, (void *)id, fn, arg);
}

typedef struct db_from_args {
    const char *owner, *from, *to;
    int limit;
} db_from_args_t;

static void db_msgs_from_bind(sqlite3_stmt *st, void *arg)
{
    const db_from_args_t *a = arg;

    sqlite3_bind_text(st, 1, a->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->to, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, a->limit);
}

int db_msgs_queued_from(const char *owner, const char *from, const char *to, int limit,
                        db_dlv_fn_t fn, void *arg)
{
    db_from_args_t a = { owner, from, to, limit };

    /* walks the queued rows only (the partial index messages_expiry) */
    return db_msgs_each("SELECT " DB_MSGS_COLS " FROM messages INDEXED BY messages_expiry"
                        " WHERE status = 'queued' AND source_connector = ?1 AND from_addr = ?2"
                        " AND to_addr = ?3 LIMIT ?4",
                        "queued messages of a sender", db_msgs_from_bind, &a, fn, arg);
}

int db_msgs_queued_counts(void (*fn)(const char *target, int64_t n, void *arg), void *arg)
{
    int rc = 0, step;

    pthread_mutex_lock(&db_msgs_lock);
    sqlite3_stmt *st = db_msgs_conn
                           ? db_prepare(db_msgs_conn,
                                        "SELECT target, count(*) FROM messages"
                                        " WHERE status = 'queued' GROUP BY target",
                                        "queued counts")
                           : NULL;
    if (st == NULL) {
        pthread_mutex_unlock(&db_msgs_lock);
        return GW_ESTORE;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t != NULL)
            fn(t, sqlite3_column_int64(st, 1), arg);
        rc++;
    }
    if (step != SQLITE_DONE)
        rc = GW_ESTORE;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_msgs_lock);
    return rc;
}

/* A row as a JSON object: the columns, plus the stored envelope under
 * "envelope".  New reference or NULL. */
static json_t *db_msgs_row_json(sqlite3_stmt *st)
{
    json_error_t jerr;
    const char *text = (const char *)sqlite3_column_text(st, DB_C_ENVELOPE);
    json_t *env = text != NULL ? json_loads(text, JSON_ALLOW_NUL, &jerr) : NULL;
    json_t *o = json_pack(
        "{s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o}",
        "id", db_col_json_str(st, DB_C_ID),
        "created_at", (json_int_t)sqlite3_column_int64(st, DB_C_CREATED),
        "updated_at", (json_int_t)sqlite3_column_int64(st, DB_C_UPDATED),
        "expires_at", (json_int_t)sqlite3_column_int64(st, DB_C_EXPIRES),
        "status", db_col_json_str(st, DB_C_STATUS),
        "source_adapter", db_col_json_str(st, DB_C_SRC_ADAPTER),
        "source_connector", db_col_json_str(st, DB_C_SRC_CONNECTOR),
        "from", db_col_json_str(st, DB_C_FROM),
        "to", db_col_json_str(st, DB_C_TO),
        "target", db_col_json_str(st, DB_C_TARGET),
        "route", db_col_json_str(st, DB_C_ROUTE),
        "attempts", sqlite3_column_int(st, DB_C_ATTEMPTS),
        "reason", sqlite3_column_int(st, DB_C_REASON),
        "reason_text", db_col_json_str(st, DB_C_REASON_TEXT),
        "remote_id", db_col_json_str(st, DB_C_REMOTE_ID),
        "envelope", env != NULL ? env : json_null());
    if (o != NULL &&
        (json_object_set_new(o, "plan", db_col_json_str(st, DB_C_PLAN)) < 0 ||
         json_object_set_new(o, "cur", json_integer(sqlite3_column_int(st, DB_C_CUR))) < 0 ||
         json_object_set_new(o, "tries", db_col_json_str(st, DB_C_TRIES)) < 0 ||
         json_object_set_new(o, "next_at",
                             json_integer(sqlite3_column_int64(st, DB_C_NEXT_AT))) < 0 ||
         json_object_set_new(o, "possible_duplicate",
                             json_boolean(sqlite3_column_int(st, DB_C_FLAGS) & 1)) < 0 ||
         json_object_set_new(o, "qseq", json_integer(sqlite3_column_int64(st, DB_C_QSEQ))) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *db_msg_get(const char *id)
{
    json_t *out = NULL;

    if (id == NULL)
        return NULL;
    pthread_mutex_lock(&db_msgs_lock);
    if (db_msgs_conn == NULL)
        goto out_unlock;
    sqlite3_stmt *st = db_prepare(db_msgs_conn,
                                  "SELECT " DB_MSGS_COLS " FROM messages WHERE id = ?1",
                                  "get message");
    if (st == NULL)
        goto out_unlock;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        out = db_msgs_row_json(st);
    sqlite3_finalize(st);
out_unlock:
    pthread_mutex_unlock(&db_msgs_lock);
    return out;
}

json_t *db_msgs_list(int limit, const char *status)
{
    db_msg_filter_t f = { .status = status };
    json_t *a = db_msgs_search(limit, &f);

    return a != NULL ? a : json_array();
}

json_t *db_msgs_search(int limit, const db_msg_filter_t *f)
{
    json_t *arr = json_array();
    int step = SQLITE_ERROR; /* until the statement has run to its end */

    if (arr == NULL)
        return NULL;
    if (limit <= 0 || limit > 10000) /* the MI's declared bound (docs/mi.md) */
        limit = 100;
    pthread_mutex_lock(&db_msgs_lock);
    if (db_msgs_conn == NULL)
        goto out_unlock;
    /* One statement for every combination: an absent filter binds NULL and
     * its clause is true.  Prefixes compare with substr, not LIKE, so a
     * '%' or '_' typed by the user is no wildcard. */
    sqlite3_stmt *st = db_prepare(
        db_msgs_conn,
        "SELECT " DB_MSGS_COLS " FROM messages WHERE"
        " (?2 IS NULL OR status = ?2)"
        " AND (?3 IS NULL OR substr(id, 1, length(?3)) = ?3)"
        " AND (?4 IS NULL OR substr(from_addr, 1, length(?4)) = ?4"
        "      OR substr(to_addr, 1, length(?4)) = ?4)"
        " AND (?5 IS NULL OR source_connector = ?5 OR target = ?5)"
        " AND (?6 IS NULL OR created_at >= ?6) AND (?7 IS NULL OR created_at <= ?7)"
        " ORDER BY rowid DESC LIMIT ?1",
        "search messages");
    if (st == NULL)
        goto out_unlock;
    sqlite3_bind_int(st, 1, limit);
    const char *texts[] = { f->status, f->id_prefix, f->number, f->connector };
    for (int k = 0; k < 4; k++)
        if (texts[k] != NULL && texts[k][0] != '\0')
            sqlite3_bind_text(st, 2 + k, texts[k], -1, SQLITE_STATIC);
    if (f->since > 0)
        sqlite3_bind_int64(st, 6, f->since);
    if (f->until > 0)
        sqlite3_bind_int64(st, 7, f->until);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = db_msgs_row_json(st);
        if (row == NULL || json_array_append_new(arr, row) < 0)
            break;
    }
    sqlite3_finalize(st);
out_unlock:
    pthread_mutex_unlock(&db_msgs_lock);
    if (step != SQLITE_DONE && step != SQLITE_ROW) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *db_msg_events(const char *id, int64_t from, int64_t to, int limit)
{
    json_t *arr = json_array();
    json_error_t jerr;

    if (arr == NULL || id == NULL)
        return arr;
    pthread_mutex_lock(&db_msgs_lock);
    if (db_msgs_conn == NULL)
        goto out_unlock;
    /* ts first, so SQLite walks outbox_ts over the message's lifetime
     * instead of scanning the whole outbox for message_id. */
    sqlite3_stmt *st = db_prepare(db_msgs_conn,
                                  "SELECT seq, ts, type, payload FROM outbox"
                                  " WHERE ts >= ?2 AND ts <= ?3 AND message_id = ?1"
                                  " ORDER BY seq LIMIT ?4",
                                  "message events");
    if (st == NULL)
        goto out_unlock;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    sqlite3_bind_int(st, 4, limit > 0 ? limit : 100);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 3);
        json_t *ev = text != NULL ? json_loads(text, 0, &jerr) : NULL;
        json_t *o = json_pack("{s:I, s:I, s:s, s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                              "ts", (json_int_t)sqlite3_column_int64(st, 1), "type",
                              (const char *)sqlite3_column_text(st, 2) ?: "",
                              "event", ev != NULL ? ev : json_null());
        if (o == NULL || json_array_append_new(arr, o) < 0)
            break;
    }
    sqlite3_finalize(st);
out_unlock:
    pthread_mutex_unlock(&db_msgs_lock);
    return arr;
}

char *db_receipt_lookup(const char *connector, const char *remote_id)
{
    char *out = NULL;

    if (connector == NULL || remote_id == NULL)
        return NULL;
    pthread_mutex_lock(&db_msgs_lock);
    if (db_msgs_conn == NULL)
        goto out_unlock;
    sqlite3_stmt *st = db_prepare(db_msgs_conn,
                                  "SELECT id FROM messages WHERE target = ?1 AND remote_id = ?2"
                                  " AND " DB_SCHEMA_RCPT_WAIT,
                                  "receipt lookup");
    if (st == NULL)
        goto out_unlock;
    sqlite3_bind_text(st, 1, connector, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, remote_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        out = s != NULL ? strdup(s) : NULL;
    }
    sqlite3_finalize(st);
out_unlock:
    pthread_mutex_unlock(&db_msgs_lock);
    return out;
}

int db_outbox_read(int64_t after, int limit,
                   void (*fn)(int64_t seq, const char *type, const char *text, void *arg),
                   void *arg)
{
    int n = 0, step;

    if (limit <= 0 || limit > 10000)
        limit = 1000;
    pthread_mutex_lock(&db_msgs_lock);
    sqlite3_stmt *st = db_msgs_conn ? db_prepare(db_msgs_conn,
                                                 "SELECT seq, type, payload FROM outbox"
                                                 " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                                                 "read outbox")
                                    : NULL;
    if (st == NULL) {
        pthread_mutex_unlock(&db_msgs_lock);
        return GW_ESTORE;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, limit);
    /* fn only queues (the AMQP link's batch): called under the lock */
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 1);
        const char *text = (const char *)sqlite3_column_text(st, 2);
        if (type != NULL && text != NULL)
            fn(sqlite3_column_int64(st, 0), type, text, arg);
        n++;
    }
    if (step != SQLITE_DONE)
        n = GW_ESTORE;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_msgs_lock);
    return n;
}

int db_msgs_recent_corr(const char *connector, int64_t since, int limit,
                        void (*fn)(const char *id, const char *amqp_msgid, int64_t at, void *arg),
                        void *arg)
{
    int n = 0, step;

    if (connector == NULL || limit <= 0)
        return 0;
    pthread_mutex_lock(&db_msgs_lock);
    sqlite3_stmt *st = db_msgs_conn != NULL
                           ? db_prepare(db_msgs_conn,
                                        /* newest first by rowid (the order of insertion):
                                         * the walk stops at the window's start */
                                        "SELECT id, created_at,"
                                        " json_extract(envelope, '$.corr.amqp_message_id')"
                                        " FROM messages WHERE source_connector = ?1"
                                        " AND source_adapter = 'amqp' ORDER BY rowid DESC",
                                        "recent amqp message ids")
                           : NULL;
    if (st == NULL) {
        pthread_mutex_unlock(&db_msgs_lock);
        return GW_ESTORE;
    }
    sqlite3_bind_text(st, 1, connector, -1, SQLITE_STATIC);
    while (n < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t at = sqlite3_column_int64(st, 1);
        const char *mid = (const char *)sqlite3_column_text(st, 2);
        if (at < since)
            break;
        if (mid != NULL && mid[0] != '\0') {
            fn((const char *)sqlite3_column_text(st, 0), mid, at, arg);
            n++;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db_msgs_lock);
    return n;
}
