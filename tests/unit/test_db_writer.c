/*
 * test_db_writer.c - the writer's outbox, sweeps and admission limits
 * (db/db_writer.c).
 *
 *   outbox     events given with an insert or update land in the outbox
 *              in the change's transaction, numbered in order, reach the
 *              event hook only after the COMMIT and read back in order;
 *              a failed group writes neither the change nor its events;
 *              a conditional change (a cancel or replace of a message
 *              not held in memory) lands only on a queued row;
 *   sweeps     EXPIRE_QUEUED, RECEIPT_WAIT and PURGE touch exactly the
 *              rows they name, in batches of at most limit, with an event
 *              per expired row through the row-events hook;
 *   receipts   a receipt tries the other forms of its id it is given
 *              only on a miss; one parked ahead of its submit is taken
 *              by a submit naming its form among its aliases;
 *   admission  db.queue_max and the "commits failing" refusal, with its
 *              one-second window;
 *   gathering  a short group waits for more while jobs come, and stops
 *              when idle, full or out of time;
 *   checkpoint the checkpointer thread, not the writer, checkpoints the WAL.
 *
 * Like test_db.c, a second raw SQLite connection plays the independent
 * reader and the fault injector (triggers, a held write lock, rows aged by
 * hand): the one reason this file includes sqlite3.h.  Each test opens a
 * fresh database in its own mkdtemp folder.
 *
 * Threads: cmocka's and the writer thread (the hooks and callbacks run
 * there; the counters they write are read after db_writer_flush, or under
 * tw_lock while the writer runs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_param.h"
#include "gw_stats.h"

typedef struct tw_db {
    char dir[64];
    char path[128];
    sqlite3 *raw;
} tw_db_t;

/* What the hooks and callbacks saw; tw_lock guards it. */
#define TW_EVENTS_MAX 64
typedef struct tw_seen {
    int n;
    int64_t seqs[TW_EVENTS_MAX];
    char types[TW_EVENTS_MAX][32];
    char texts[TW_EVENTS_MAX][160];
    int in_outbox[TW_EVENTS_MAX]; /* the row was visible to another connection */
    int row_events;               /* calls of the row-events hook */
    int commits, commit_fail;     /* insert / update callbacks; rc != 0 */
    int sweeps, swept;            /* sweep callbacks, their last n */
} tw_seen_t;

static pthread_mutex_t tw_lock = PTHREAD_MUTEX_INITIALIZER;
static tw_seen_t tw_seen;
static const char *tw_path; /* for the event hook's own connection */

static int tw_setup(void **state)
{
    tw_db_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/junction-test-writer-XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof t->path, "%s/junction.db", t->dir);
    if (db_open(t->path) != 0)
        return -1;
    if (sqlite3_open(t->path, &t->raw) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(t->raw, 5000);
    memset(&tw_seen, 0, sizeof tw_seen);
    tw_path = t->path;
    *state = t;
    return 0;
}

static int tw_teardown(void **state)
{
    tw_db_t *t = *state;
    char cmd[160], err[64];

    db_close();
    db_writer_set_hooks(NULL, NULL);
    gw_param_set(gw_param_find("db.queue_max"), "20000", err, sizeof err);
    sqlite3_close(t->raw);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static long long tw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void tw_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        print_error("%s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    assert_int_equal(rc, SQLITE_OK);
}

/* sql with ?1 bound to text, run to completion on the raw connection. */
static void tw_exec_id(sqlite3 *db, const char *sql, const char *text)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* The status of message id through the raw connection ("" when absent). */
static void tw_status(sqlite3 *db, const char *id, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT status FROM messages WHERE id = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    snprintf(out, n, "%s",
             sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
}

/* A delivery to smsc1 in status st, its envelope text cached. */
static gw_delivery_t *tw_dlv(const char *target, gw_status_t st, int64_t expires_at)
{
    gw_envelope_t *env = gw_env_new();
    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->from.address, "33100000000", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->to.address, "33612345678", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->body, "hello", (size_t)-1), 0);
    env->body_len = 5;
    env->expires_at = expires_at;
    gw_delivery_t *d = gw_dlv_new(env);
    gw_env_unref(env);
    assert_non_null(d);
    assert_int_equal(gw_dlv_plan_set(d, "default", target), 0);
    d->status = st;
    d->env_json = gw_env_to_text(d->env);
    assert_non_null(d->env_json);
    return d;
}

/* One event of type with a text naming it and the message. */
static void tw_event(gw_evbatch_t *ev, const char *type, const char *id)
{
    char buf[160];
    assert_true(ev->n < GW_EVBATCH_MAX);
    snprintf(buf, sizeof buf, "{\"event\":\"%s\",\"id\":\"%s\"}", type, id);
    ev->types[ev->n] = type;
    ev->texts[ev->n] = strdup(buf);
    assert_non_null(ev->texts[ev->n]);
    ev->n++;
}

/* The event hook: record, and check from another connection that the
 * event's outbox row is committed already. */
static void tw_on_event(int64_t seq, const char *type, const char *text)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int seen = 0;

    if (sqlite3_open(tw_path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE seq = ?1 AND type = ?2", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            seen = sqlite3_column_int(st, 0) == 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    pthread_mutex_lock(&tw_lock);
    if (tw_seen.n < TW_EVENTS_MAX) {
        tw_seen.seqs[tw_seen.n] = seq;
        snprintf(tw_seen.types[tw_seen.n], sizeof tw_seen.types[0], "%s", type);
        snprintf(tw_seen.texts[tw_seen.n], sizeof tw_seen.texts[0], "%s", text);
        tw_seen.in_outbox[tw_seen.n] = seen;
        tw_seen.n++;
    }
    pthread_mutex_unlock(&tw_lock);
}

/* The row-events hook of the sweeps and receipts: one event per row. */
static void tw_row_events(gw_evbatch_t *ev, const char *id, const char *envelope_json,
                          gw_status_t status, const char *detail, int receipt)
{
    char buf[160];
    (void)envelope_json;
    pthread_mutex_lock(&tw_lock);
    tw_seen.row_events++;
    pthread_mutex_unlock(&tw_lock);
    if (ev->n >= GW_EVBATCH_MAX)
        return;
    snprintf(buf, sizeof buf, "{\"id\":\"%s\",\"status\":\"%s\",\"detail\":\"%s\",\"r\":%d}", id,
             gw_status_name(status), detail ? detail : "", receipt);
    ev->texts[ev->n] = strdup(buf);
    if (ev->texts[ev->n] == NULL)
        return;
    ev->types[ev->n] = status == GW_ST_EXPIRED ? "message.expired" : "message.other";
    ev->n++;
}

static int tw_events_seen(void)
{
    pthread_mutex_lock(&tw_lock);
    int n = tw_seen.n;
    pthread_mutex_unlock(&tw_lock);
    return n;
}

static void tw_commit_cb(void *arg, int rc, int64_t qseq)
{
    int64_t *out = arg;
    pthread_mutex_lock(&tw_lock);
    tw_seen.commits++;
    tw_seen.commit_fail += rc != 0;
    pthread_mutex_unlock(&tw_lock);
    if (out != NULL)
        *out = rc == 0 ? qseq : -1;
}

static void tw_sweep_cb(void *arg, int n)
{
    (void)arg;
    pthread_mutex_lock(&tw_lock);
    tw_seen.sweeps++;
    tw_seen.swept = n;
    pthread_mutex_unlock(&tw_lock);
}

/* Insert d (with ev, may be NULL) and wait for its commit; its qseq. */
static int64_t tw_store(gw_delivery_t *d, gw_evbatch_t *ev)
{
    int64_t qseq = -2;
    assert_int_equal(db_dlv_insert(d, d->env_json, ev, tw_commit_cb, &qseq), 0);
    db_writer_flush();
    assert_true(qseq >= 0);
    return qseq;
}

/* Run one sweep to its commit; its n. */
static int tw_sweep(db_sweep_kind_t kind, const char *target, int64_t after, int64_t now,
                    int64_t older_than, int limit)
{
    int before = tw_seen.sweeps;
    assert_int_equal(db_sweep(kind, target, after, now, older_than, limit, tw_sweep_cb, NULL), 0);
    db_writer_flush();
    assert_int_equal(tw_seen.sweeps, before + 1);
    return tw_seen.swept;
}

/* Sleep until ms milliseconds have passed since t0 (gw_now_ms). */
static void tw_sleep_until(int64_t t0, int64_t ms)
{
    int64_t left = t0 + ms - gw_now_ms();
    if (left > 0)
        usleep((useconds_t)left * 1000);
}

/* Poll db_writer_failing() for want, up to 5 s. */
static int tw_wait_failing(int want)
{
    for (int i = 0; i < 500; i++) {
        if (db_writer_failing() == want)
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* A trigger on op ("INSERT" or "UPDATE") of messages that makes every
 * statement succeed and the COMMIT fail (a deferred foreign key). */
static void tw_fail_commits_on(sqlite3 *raw, const char *op)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS fault_parent(id INTEGER PRIMARY KEY);"
             "CREATE TABLE IF NOT EXISTS fault_child(pid INTEGER REFERENCES fault_parent(id)"
             "  DEFERRABLE INITIALLY DEFERRED);"
             "CREATE TRIGGER fault AFTER %s ON messages"
             "  BEGIN INSERT INTO fault_child VALUES(42); END;",
             op);
    tw_exec(raw, sql);
}

/* ---- outbox -------------------------------------------------------------- */

/* The outbox purge walks outbox_ts: with thousands of rows and only a
 * few past the cutoff it takes those, oldest first, and reads no other
 * row; with nothing old it reads nothing (no full-scan step).  The old
 * statement ("ORDER BY seq") read the whole outbox on every purge. */
static void test_outbox_purge_reads_only_the_rows_it_takes(void **state)
{
    tw_db_t *t = *state;
    sqlite3_stmt *st = NULL;
    char sql[512];
    int scans = 0;

    tw_exec(t->raw, "BEGIN");
    tw_exec(t->raw, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)"
                    " INSERT INTO outbox(ts, message_id, type, payload)"
                    " SELECT 1000 + i, 'old', 'message.received', '{}' FROM n");
    tw_exec(t->raw, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
                    " INSERT INTO outbox(ts, message_id, type, payload)"
                    " SELECT 5000000 + i, 'new', 'message.received', printf('%.700c', 'x') FROM n");
    tw_exec(t->raw, "COMMIT");
    /* the plan: the covering index, never a scan of the table */
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", DB_OUTBOX_PURGE_SQL);
    assert_int_equal(sqlite3_prepare_v2(t->raw, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        if (detail != NULL && strncmp(detail, "SCAN outbox", 11) == 0)
            scans++;
    }
    sqlite3_finalize(st);
    assert_int_equal(scans, 0);
    /* the run: the ten old rows go, the 3,000 newer ones are not read */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(sqlite3_prepare_v2(t->raw, DB_OUTBOX_PURGE_SQL, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int64(st, 1, 2000000);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        assert_int_equal(sqlite3_changes(t->raw), round == 0 ? 10 : 0);
        assert_int_equal(sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0), 0);
        assert_true(sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0) < 1000);
        sqlite3_finalize(st);
    }
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox WHERE message_id = 'old'"), 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox WHERE message_id = 'new'"), 3000);
}

typedef struct tw_read {
    int n;
    int64_t seqs[16];
    char types[16][32];
} tw_read_t;

static void tw_read_cb(int64_t seq, const char *type, const char *text, void *arg)
{
    tw_read_t *r = arg;
    (void)text;
    if (r->n < 16) {
        r->seqs[r->n] = seq;
        snprintf(r->types[r->n], sizeof r->types[0], "%s", type);
        r->n++;
    }
}

static void test_events_land_in_outbox_with_their_change_in_order_and_reach_hook_after_commit(
    void **state)
{
    tw_db_t *t = *state;
    gw_evbatch_t ev = {0};
    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);

    gw_delivery_t *d = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_event(&ev, "message.received", d->env->id);
    tw_event(&ev, "message.queued", d->env->id);
    tw_store(d, &ev);
    assert_int_equal(ev.n, 0); /* taken over */
    d->status = GW_ST_SENDING;
    tw_event(&ev, "message.sending", d->env->id);
    assert_int_equal(db_dlv_update(d, &ev, NULL, NULL), 0);
    d->status = GW_ST_SUBMITTED;
    tw_event(&ev, "message.submitted", d->env->id);
    assert_int_equal(db_dlv_update(d, &ev, NULL, NULL), 0);
    db_writer_flush();

    static const char *const want[] = {"message.received", "message.queued", "message.sending",
                                       "message.submitted"};
    assert_int_equal(tw_seen.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(tw_seen.types[i], want[i]);
        assert_true(tw_seen.in_outbox[i]); /* committed before the hook heard of it */
        assert_non_null(strstr(tw_seen.texts[i], d->env->id));
        if (i > 0)
            assert_true(tw_seen.seqs[i] > tw_seen.seqs[i - 1]);
    }
    /* the outbox holds each once, with its message */
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox"), 4);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(t->raw,
                                        "SELECT count(*) FROM outbox WHERE message_id = ?1", -1,
                                        &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, d->env->id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 4);
    sqlite3_finalize(st);

    /* read back after a seq, in order, bounded by limit */
    tw_read_t r = {0};
    assert_int_equal(db_outbox_read(0, 100, tw_read_cb, &r), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r.seqs[i], tw_seen.seqs[i]);
        assert_string_equal(r.types[i], want[i]);
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(db_outbox_read(tw_seen.seqs[1], 100, tw_read_cb, &r), 2);
    assert_int_equal(r.seqs[0], tw_seen.seqs[2]);
    assert_int_equal(r.seqs[1], tw_seen.seqs[3]);
    memset(&r, 0, sizeof r);
    assert_int_equal(db_outbox_read(tw_seen.seqs[0], 1, tw_read_cb, &r), 1);
    assert_int_equal(r.seqs[0], tw_seen.seqs[1]);
    memset(&r, 0, sizeof r);
    assert_int_equal(db_outbox_read(tw_seen.seqs[3], 100, tw_read_cb, &r), 0);
    db_writer_stop();
    gw_dlv_free(d);
}

/* An insert whose group cannot commit: no row, no event, no hook call;
 * its callback says GW_ESTORE. */
static void test_failed_insert_group_writes_neither_row_nor_events(void **state)
{
    tw_db_t *t = *state;
    gw_evbatch_t ev = {0};
    int64_t qseq = -2;
    db_writer_set_hooks(tw_row_events, tw_on_event);
    tw_fail_commits_on(t->raw, "INSERT");
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *d = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_event(&ev, "message.received", d->env->id);
    tw_event(&ev, "message.queued", d->env->id);
    assert_int_equal(db_dlv_insert(d, d->env_json, &ev, tw_commit_cb, &qseq), 0);
    db_writer_flush();
    assert_int_equal(tw_seen.commits, 1);
    assert_int_equal(tw_seen.commit_fail, 1);
    assert_int_equal(tw_seen.n, 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox"), 0);
    db_writer_stop();
    gw_dlv_free(d);
}

/* An update whose group cannot commit is held and run again: meanwhile
 * neither its row change nor its event is visible or published; once the
 * store takes it, both are written exactly once. */
static void test_failed_update_group_is_retried_and_writes_change_and_event_once(void **state)
{
    tw_db_t *t = *state;
    gw_evbatch_t ev = {0};
    char status[32];
    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *d = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_event(&ev, "message.queued", d->env->id);
    tw_store(d, &ev);
    assert_int_equal(tw_seen.n, 1);

    tw_fail_commits_on(t->raw, "UPDATE");
    d->status = GW_ST_SENDING;
    tw_event(&ev, "message.sending", d->env->id);
    assert_int_equal(db_dlv_update(d, &ev, tw_commit_cb, NULL), 0);
    assert_true(tw_wait_failing(1));
    usleep(300 * 1000); /* a retry or two fail as well (100 ms, 200 ms backoff) */
    tw_status(t->raw, d->env->id, status, sizeof status);
    assert_string_equal(status, "queued");
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox WHERE type = 'message.sending'"),
                     0);
    assert_int_equal(tw_events_seen(), 1);

    tw_exec(t->raw, "DROP TRIGGER fault");
    db_writer_flush(); /* the barrier waits for the retried update */
    assert_false(db_writer_failing());
    tw_status(t->raw, d->env->id, status, sizeof status);
    assert_string_equal(status, "sending");
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox WHERE type = 'message.sending'"),
                     1);
    assert_int_equal(tw_seen.n, 2);
    assert_string_equal(tw_seen.types[1], "message.sending");
    assert_true(tw_seen.in_outbox[1]);
    assert_int_equal(tw_seen.seqs[1],
                     tw_int(t->raw, "SELECT seq FROM outbox WHERE type = 'message.sending'"));
    assert_true(tw_seen.seqs[1] > tw_seen.seqs[0]);
    assert_int_equal(tw_seen.commits, 2); /* the insert's, and the update's once */
    assert_int_equal(tw_seen.commit_fail, 0);
    db_writer_stop();
    gw_dlv_free(d);
}

/* db_dlv_update_if_queued and db_dlv_replace change a row only while it
 * is queued; otherwise cb gets GW_ENOTFOUND and neither the change nor its
 * events are written (a cancel of a message that left its queue). */
static void test_conditional_change_lands_only_on_a_queued_row(void **state)
{
    tw_db_t *t = *state;
    gw_evbatch_t ev = {0};
    char status[32];
    int64_t res = 0;

    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *q = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    gw_delivery_t *s = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_store(q, NULL);
    tw_store(s, NULL);
    tw_exec_id(t->raw, "UPDATE messages SET status = 'sending' WHERE id = ?1", s->env->id);

    s->status = GW_ST_FAILED;
    tw_event(&ev, "message.cancelled", s->env->id);
    assert_int_equal(db_dlv_update_if_queued(s, &ev, tw_commit_cb, &res), 0);
    db_writer_flush();
    assert_int_equal(res, -1);
    assert_int_equal(tw_seen.commit_fail, 1);
    tw_status(t->raw, s->env->id, status, sizeof status);
    assert_string_equal(status, "sending");
    assert_int_equal(db_dlv_replace(s->env->id, "{}", 0, NULL, tw_commit_cb, &res), 0);
    db_writer_flush();
    assert_int_equal(tw_seen.commit_fail, 2);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox"), 0);
    assert_int_equal(tw_events_seen(), 0);

    q->status = GW_ST_FAILED;
    tw_event(&ev, "message.cancelled", q->env->id);
    assert_int_equal(db_dlv_update_if_queued(q, &ev, tw_commit_cb, &res), 0);
    db_writer_flush();
    assert_int_equal(res, 0);
    assert_int_equal(tw_seen.commit_fail, 2);
    tw_status(t->raw, q->env->id, status, sizeof status);
    assert_string_equal(status, "failed");
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox WHERE type = 'message.cancelled'"),
                     1);
    assert_int_equal(tw_events_seen(), 1);
    db_writer_stop();
    gw_dlv_free(q);
    gw_dlv_free(s);
}

/* ---- sweeps -------------------------------------------------------------- */

/* Queued rows of the target whose validity passed before now, and with
 * qseq > after only: expired, one event each; nothing else moves. */
static void test_expire_queued_takes_only_queued_rows_past_validity_beyond_after(void **state)
{
    tw_db_t *t = *state;
    char status[32];
    int64_t now = gw_now_ms();
    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);

    gw_delivery_t *held = tw_dlv("smsc1", GW_ST_QUEUED, now - 1000);   /* the core's */
    gw_delivery_t *late = tw_dlv("smsc1", GW_ST_QUEUED, now - 1000);   /* spilled */
    gw_delivery_t *valid = tw_dlv("smsc1", GW_ST_QUEUED, now + 3600000);
    gw_delivery_t *forever = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    gw_delivery_t *sending = tw_dlv("smsc1", GW_ST_SENDING, now - 1000);
    gw_delivery_t *done = tw_dlv("smsc1", GW_ST_DELIVERED, now - 1000);
    gw_delivery_t *other = tw_dlv("smsc2", GW_ST_QUEUED, now - 1000);
    int64_t q_held = tw_store(held, NULL);
    int64_t q_late = tw_store(late, NULL);
    tw_store(valid, NULL);
    tw_store(forever, NULL);
    tw_store(sending, NULL);
    tw_store(done, NULL);
    tw_store(other, NULL);
    assert_true(q_late > q_held);

    assert_int_equal(tw_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", q_held, now, 0, 10), 1);
    tw_status(t->raw, late->env->id, status, sizeof status);
    assert_string_equal(status, "expired");
    tw_status(t->raw, held->env->id, status, sizeof status);
    assert_string_equal(status, "queued"); /* at or before the cursor: the core's to expire */
    assert_int_equal(tw_seen.row_events, 1);
    assert_int_equal(tw_seen.n, 1);
    assert_string_equal(tw_seen.types[0], "message.expired");
    assert_non_null(strstr(tw_seen.texts[0], late->env->id));
    assert_non_null(strstr(tw_seen.texts[0], "validity"));
    assert_true(tw_seen.in_outbox[0]);

    /* from the start of the queue: the held one too, and nothing more */
    assert_int_equal(tw_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", 0, now, 0, 10), 1);
    tw_status(t->raw, held->env->id, status, sizeof status);
    assert_string_equal(status, "expired");
    assert_int_equal(tw_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", 0, now, 0, 10), 0);
    tw_status(t->raw, valid->env->id, status, sizeof status);
    assert_string_equal(status, "queued");
    tw_status(t->raw, forever->env->id, status, sizeof status);
    assert_string_equal(status, "queued");
    tw_status(t->raw, sending->env->id, status, sizeof status);
    assert_string_equal(status, "sending");
    tw_status(t->raw, done->env->id, status, sizeof status);
    assert_string_equal(status, "delivered");
    tw_status(t->raw, other->env->id, status, sizeof status);
    assert_string_equal(status, "queued");
    assert_int_equal(tw_seen.row_events, 2);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox WHERE type = 'message.expired'"),
                     2);
    db_writer_stop();
    gw_delivery_t *all[] = {held, late, valid, forever, sending, done, other};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        gw_dlv_free(all[i]);
}

/* A batch takes at most limit rows and says how many; the next takes the
 * rest. */
static void test_expire_queued_works_in_batches_of_at_most_limit(void **state)
{
    tw_db_t *t = *state;
    int64_t now = gw_now_ms();
    gw_delivery_t *d[5];
    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);
    for (int i = 0; i < 5; i++) {
        d[i] = tw_dlv("smsc1", GW_ST_QUEUED, now - 1000);
        tw_store(d[i], NULL);
    }
    assert_int_equal(tw_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", 0, now, 0, 2), 2);
    assert_int_equal(tw_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", 0, now, 0, 2), 2);
    assert_int_equal(tw_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", 0, now, 0, 2), 1);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages WHERE status = 'expired'"), 5);
    assert_int_equal(tw_seen.n, 5);
    for (int i = 1; i < 5; i++)
        assert_true(tw_seen.seqs[i] > tw_seen.seqs[i - 1]);
    db_writer_stop();
    for (int i = 0; i < 5; i++)
        gw_dlv_free(d[i]);
}

/* Submitted rows whose last change is older than the bound expire ("no
 * receipt"); newer submitted rows and rows in other states stay. */
static void test_receipt_wait_expires_only_submitted_rows_older_than_bound(void **state)
{
    tw_db_t *t = *state;
    char status[32];
    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *old = tw_dlv("smsc1", GW_ST_SUBMITTED, 0);
    gw_delivery_t *fresh = tw_dlv("smsc1", GW_ST_SUBMITTED, 0);
    gw_delivery_t *queued = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    gw_delivery_t *sending = tw_dlv("smsc1", GW_ST_SENDING, 0);
    gw_delivery_t *done = tw_dlv("smsc1", GW_ST_DELIVERED, 0);
    gw_delivery_t *norcpt = tw_dlv("smsc1", GW_ST_SUBMITTED, 0); /* asked for no receipt */
    gw_delivery_t *all[] = {old, fresh, queued, sending, done, norcpt};
    norcpt->flags |= GW_DLV_NORCPT;
    for (size_t i = 0; i < 6; i++)
        tw_store(all[i], NULL);
    /* everything but fresh last changed an hour ago */
    int64_t now = gw_now_ms();
    tw_exec(t->raw, "UPDATE messages SET updated_at = updated_at - 3600000");
    tw_exec_id(t->raw, "UPDATE messages SET updated_at = updated_at + 3600000 WHERE id = ?1",
               fresh->env->id);

    assert_int_equal(tw_sweep(DB_SWEEP_RECEIPT_WAIT, NULL, 0, now, now - 60000, 10), 1);
    tw_status(t->raw, old->env->id, status, sizeof status);
    assert_string_equal(status, "expired");
    static const char *const stays[] = {NULL,      "submitted", "queued",
                                        "sending", "delivered", "submitted"};
    for (size_t i = 1; i < 6; i++) {
        tw_status(t->raw, all[i]->env->id, status, sizeof status);
        assert_string_equal(status, stays[i]);
    }
    assert_int_equal(tw_seen.row_events, 1);
    assert_int_equal(tw_seen.n, 1);
    assert_non_null(strstr(tw_seen.texts[0], old->env->id));
    assert_non_null(strstr(tw_seen.texts[0], "receipt"));
    assert_int_equal(tw_sweep(DB_SWEEP_RECEIPT_WAIT, NULL, 0, now, now - 60000, 10), 0);
    db_writer_stop();
    for (size_t i = 0; i < 6; i++)
        gw_dlv_free(all[i]);
}

/* PURGE deletes done rows (final, or submitted without a receipt to wait
 * for) last changed before the bound, at most limit per batch, with no
 * event; newer done rows and old rows still in flight stay. */
static void test_purge_removes_only_old_done_rows_in_batches(void **state)
{
    tw_db_t *t = *state;
    static const gw_status_t finals[] = {GW_ST_DELIVERED, GW_ST_FAILED, GW_ST_EXPIRED,
                                         GW_ST_REJECTED, GW_ST_DELIVERED};
    gw_delivery_t *old_final[5], *recent, *old_queued, *old_waiting, *old_norcpt, *old_sending;
    char status[32];
    db_writer_set_hooks(tw_row_events, tw_on_event);
    assert_int_equal(db_writer_start(), 0);
    for (int i = 0; i < 5; i++) {
        old_final[i] = tw_dlv("smsc1", finals[i], 0);
        tw_store(old_final[i], NULL);
    }
    recent = tw_dlv("smsc1", GW_ST_DELIVERED, 0);
    old_queued = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    old_waiting = tw_dlv("smsc1", GW_ST_SUBMITTED, 0);
    old_norcpt = tw_dlv("smsc1", GW_ST_SUBMITTED, 0);
    old_sending = tw_dlv("smsc1", GW_ST_SENDING, 0);
    tw_store(recent, NULL);
    tw_store(old_queued, NULL);
    tw_store(old_waiting, NULL);
    tw_store(old_norcpt, NULL);
    tw_store(old_sending, NULL);
    /* one submitted message waits for its receipt, the other asked for none */
    snprintf(old_waiting->remote_id, sizeof old_waiting->remote_id, "waiting-1");
    assert_int_equal(db_dlv_update(old_waiting, NULL, NULL, NULL), 0);
    snprintf(old_norcpt->remote_id, sizeof old_norcpt->remote_id, "norcpt-1");
    old_norcpt->flags |= GW_DLV_NORCPT;
    assert_int_equal(db_dlv_update(old_norcpt, NULL, NULL, NULL), 0);
    db_writer_flush();
    int64_t now = gw_now_ms();
    tw_exec(t->raw, "UPDATE messages SET updated_at = updated_at - 3600000");
    tw_exec_id(t->raw, "UPDATE messages SET updated_at = updated_at + 3600000 WHERE id = ?1",
               recent->env->id);
    long long outbox0 = tw_int(t->raw, "SELECT count(*) FROM outbox");

    /* 5 old final rows and the old one that waits for nothing, at most 2
     * per batch; the message waiting for its receipt stays */
    assert_int_equal(tw_sweep(DB_SWEEP_PURGE, NULL, 0, now, now - 60000, 2), 2);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), 8);
    assert_int_equal(tw_sweep(DB_SWEEP_PURGE, NULL, 0, now, now - 60000, 2), 2);
    assert_int_equal(tw_sweep(DB_SWEEP_PURGE, NULL, 0, now, now - 60000, 2), 2);
    assert_int_equal(tw_sweep(DB_SWEEP_PURGE, NULL, 0, now, now - 60000, 2), 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), 4);
    for (int i = 0; i < 5; i++) {
        tw_status(t->raw, old_final[i]->env->id, status, sizeof status);
        assert_string_equal(status, "");
    }
    tw_status(t->raw, old_norcpt->env->id, status, sizeof status);
    assert_string_equal(status, "");
    tw_status(t->raw, recent->env->id, status, sizeof status);
    assert_string_equal(status, "delivered");
    tw_status(t->raw, old_queued->env->id, status, sizeof status);
    assert_string_equal(status, "queued");
    tw_status(t->raw, old_waiting->env->id, status, sizeof status);
    assert_string_equal(status, "submitted");
    tw_status(t->raw, old_sending->env->id, status, sizeof status);
    assert_string_equal(status, "sending");
    /* the waiting message is still what its receipt finds */
    char *id = db_receipt_lookup("smsc1", "waiting-1");
    assert_non_null(id);
    assert_string_equal(id, old_waiting->env->id);
    free(id);
    assert_int_equal(tw_seen.row_events, 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM outbox"), outbox0);
    db_writer_stop();
    for (int i = 0; i < 5; i++)
        gw_dlv_free(old_final[i]);
    gw_dlv_free(recent);
    gw_dlv_free(old_queued);
    gw_dlv_free(old_waiting);
    gw_dlv_free(old_norcpt);
    gw_dlv_free(old_sending);
}

/* ---- receipts under other forms of their id -------------------------------- */

typedef struct tw_rcpt {
    int rc;
    char id[GW_ENV_ID_LEN + 1];
} tw_rcpt_t;

static void tw_rcpt_cb(void *arg, int rc, const char *id)
{
    tw_rcpt_t *r = arg;
    r->rc = rc;
    snprintf(r->id, sizeof r->id, "%s", id ? id : "");
}

/* d, stored queued, becomes submitted under remote (aliases: its
 * rcpt_aliases, or NULL). */
static gw_delivery_t *tw_submitted(const char *remote, const char *aliases)
{
    gw_delivery_t *d = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_store(d, NULL);
    d->status = GW_ST_SUBMITTED;
    snprintf(d->remote_id, sizeof d->remote_id, "%s", remote);
    d->rcpt_aliases = aliases ? strdup(aliases) : NULL;
    assert_int_equal(db_dlv_update(d, NULL, NULL, NULL), 0);
    db_writer_flush();
    return d;
}

/* The store knows no bases: it tries the forms it is given, in order,
 * only when the id as written finds nothing; a receipt that finds nothing
 * is parked as written and taken by a later submit that names that form
 * among its aliases ("form\tid"), and by no other. */
static void test_a_receipt_tries_the_forms_it_is_given_and_a_parked_one_meets_an_alias(
    void **state)
{
    tw_db_t *t = *state;
    tw_rcpt_t r = {0};
    char status[32];
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *hex = tw_submitted("7b", NULL), *asis = tw_submitted("123", NULL);

    /* "123" as written finds asis first: its forms are not tried */
    assert_int_equal(db_receipt_apply("smsc1", "123", "7b\n", GW_ST_DELIVERED, 0, "DELIVRD",
                                      tw_rcpt_cb, &r), 0);
    db_writer_flush();
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.id, asis->env->id);
    tw_status(t->raw, hex->env->id, status, sizeof status);
    assert_string_equal(status, "submitted");
    /* "291" finds nothing as written, then "7b" among its forms */
    assert_int_equal(db_receipt_apply("smsc1", "291", "nothing\n7b\n", GW_ST_DELIVERED, 0,
                                      "DELIVRD", tw_rcpt_cb, &r), 0);
    db_writer_flush();
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.id, hex->env->id);
    tw_status(t->raw, hex->env->id, status, sizeof status);
    assert_string_equal(status, "delivered");

    /* ahead of its submit: parked as written, under no other form */
    assert_int_equal(db_receipt_apply("smsc1", "555", "22b\n", GW_ST_FAILED, 0, "UNDELIV",
                                      tw_rcpt_cb, &r), 0);
    db_writer_flush();
    assert_int_equal(r.rc, GW_EAGAIN);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM receipts_early"), 1);
    gw_delivery_t *plain = tw_submitted("22b", NULL); /* names no alias: not taken */
    tw_status(t->raw, plain->env->id, status, sizeof status);
    assert_string_equal(status, "submitted");
    /* malformed lines are skipped */
    gw_delivery_t *named = tw_submitted("22c", "\t\nbad\t\nnotab\n\nx\t22c\n555\t22c\n");
    tw_status(t->raw, named->env->id, status, sizeof status);
    assert_string_equal(status, "failed");
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM receipts_early"), 0);
    db_writer_stop();
    gw_dlv_free(hex);
    gw_dlv_free(asis);
    gw_dlv_free(plain);
    gw_dlv_free(named);
}

/* ---- admission ----------------------------------------------------------- */

static void tw_param(const char *name, const char *value)
{
    char err[128];
    assert_int_equal(gw_param_set(gw_param_find(name), value, err, sizeof err), 0);
}

/* While the writer cannot commit (the write lock held elsewhere), inserts
 * are refused with GW_EFULL once db.queue_max jobs wait; state updates are
 * still taken; once the writer drains, everything accepted commits and
 * inserts are taken again. */
static void test_inserts_refused_past_queue_max_updates_still_taken(void **state)
{
    tw_db_t *t = *state;
    enum { TW_N = 40 };
    gw_delivery_t *d[TW_N];
    char status[32];
    int accepted = 0, rc = 0;

    tw_param("db.queue_max", "5");
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *stored = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_store(stored, NULL);
    tw_exec(t->raw, "BEGIN IMMEDIATE"); /* the writer now waits in BEGIN */
    for (int i = 0; i < TW_N; i++)
        d[i] = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    for (int i = 0; i < TW_N; i++) {
        rc = db_dlv_insert(d[i], d[i]->env_json, NULL, tw_commit_cb, NULL);
        if (rc != 0)
            break;
        accepted++;
        if (i == 0)
            usleep(20 * 1000); /* the first is taken into a group that blocks */
    }
    assert_int_equal(rc, GW_EFULL);
    assert_true(db_writer_backlog() >= 5);
    assert_true(accepted >= 5 && accepted < TW_N);
    /* past the limit a change of a stored message is still taken */
    stored->status = GW_ST_SENDING;
    assert_int_equal(db_dlv_update(stored, NULL, tw_commit_cb, NULL), 0);
    stored->status = GW_ST_SUBMITTED;
    assert_int_equal(db_dlv_update(stored, NULL, tw_commit_cb, NULL), 0);
    assert_int_equal(db_dlv_insert(d[accepted], d[accepted]->env_json, NULL, tw_commit_cb, NULL),
                     GW_EFULL);
    tw_exec(t->raw, "COMMIT");
    db_writer_flush();

    assert_int_equal(tw_seen.commit_fail, 0);
    assert_int_equal(tw_seen.commits, 1 + accepted + 2);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), 1 + accepted);
    tw_status(t->raw, stored->env->id, status, sizeof status);
    assert_string_equal(status, "submitted");
    /* drained: taken again */
    assert_int_equal(db_dlv_insert(d[accepted], d[accepted]->env_json, NULL, tw_commit_cb, NULL),
                     0);
    db_writer_flush();
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), 2 + accepted);
    db_writer_stop();
    gw_dlv_free(stored);
    for (int i = 0; i < TW_N; i++)
        gw_dlv_free(d[i]);
}

/* After a group failed, inserts are refused (GW_EFULL) for a second;
 * then one is let through to find out whether the store is back: if not,
 * the refusal starts again; once it commits, the refusal ends.  Updates
 * are taken all along. */
static void test_failing_commits_refuse_inserts_for_one_second_then_let_one_through(
    void **state)
{
    tw_db_t *t = *state;
    gw_delivery_t *d[4];
    for (int i = 0; i < 4; i++)
        d[i] = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    tw_fail_commits_on(t->raw, "INSERT");
    assert_int_equal(db_writer_start(), 0);

    assert_int_equal(db_dlv_insert(d[0], d[0]->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    int64_t t0 = gw_now_ms(); /* at or after the failure's time */
    assert_int_equal(tw_seen.commit_fail, 1);
    assert_true(db_writer_failing());
    /* refused well inside the second, every time */
    int refusals = 0;
    while (gw_now_ms() - t0 < 500) {
        assert_int_equal(db_dlv_insert(d[1], d[1]->env_json, NULL, tw_commit_cb, NULL), GW_EFULL);
        refusals++;
        usleep(20 * 1000);
    }
    assert_true(refusals >= 10);
    assert_int_equal(tw_seen.commits, 1); /* no callback for a refusal */
    /* past the second, one goes through and fails again... */
    tw_sleep_until(t0, 1100);
    assert_int_equal(db_dlv_insert(d[1], d[1]->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    int64_t t1 = gw_now_ms();
    assert_int_equal(tw_seen.commit_fail, 2);
    assert_true(db_writer_failing());
    /* ...which starts a new second of refusals */
    assert_int_equal(db_dlv_insert(d[2], d[2]->env_json, NULL, tw_commit_cb, NULL), GW_EFULL);
    assert_true(gw_now_ms() - t1 < 500);

    /* the store is back: the next one let through commits, and ends it */
    tw_exec(t->raw, "DROP TRIGGER fault");
    tw_sleep_until(t1, 1100);
    assert_int_equal(db_dlv_insert(d[2], d[2]->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    assert_false(db_writer_failing());
    assert_int_equal(db_dlv_insert(d[3], d[3]->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    assert_int_equal(tw_seen.commit_fail, 2);
    assert_int_equal(tw_seen.commits, 4);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), 2);
    db_writer_stop();
    for (int i = 0; i < 4; i++)
        gw_dlv_free(d[i]);
}

/* While commits fail, a state change of a stored message is never
 * refused. */
static void test_failing_commits_never_refuse_updates(void **state)
{
    tw_db_t *t = *state;
    char status[32];
    gw_delivery_t *stored = tw_dlv("smsc1", GW_ST_QUEUED, 0), *doomed = tw_dlv("smsc1",
                                                                              GW_ST_QUEUED, 0);
    assert_int_equal(db_writer_start(), 0);
    tw_store(stored, NULL);
    tw_fail_commits_on(t->raw, "INSERT");
    assert_int_equal(db_dlv_insert(doomed, doomed->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    assert_true(db_writer_failing());
    stored->status = GW_ST_SENDING;
    assert_int_equal(db_dlv_update(stored, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    tw_status(t->raw, stored->env->id, status, sizeof status);
    assert_string_equal(status, "sending");
    /* a group that wrote and committed tells the store works again */
    assert_false(db_writer_failing());
    db_writer_stop();
    gw_dlv_free(stored);
    gw_dlv_free(doomed);
}

/* ---- group gathering ---------------------------------------------------- */

static int64_t tw_stat(const char *name)
{
    return gw_stat_get(gw_stat_find(name));
}

/* A short group waits for more jobs while they keep coming: a lone insert
 * ends its wait after db.group_idle_us without a new one; a burst that
 * fills the group ends it at once; a stream that keeps coming takes all
 * of db.group_wait_us; each is counted. */
static void test_a_group_waits_while_jobs_come_and_stops_when_idle_full_or_spent(void **state)
{
    tw_db_t *t = *state;
    enum { TW_BURST = 70, TW_STREAM = 25 };
    gw_delivery_t *d[TW_BURST];

    for (int i = 0; i < TW_BURST; i++)
        d[i] = tw_dlv("smsc1", GW_ST_QUEUED, 0);
    assert_int_equal(db_writer_start(), 0);

    /* lone: one idle slice, nothing else came */
    tw_param("db.group_wait_us", "100000");
    tw_param("db.group_idle_us", "2000");
    int64_t idle0 = tw_stat("db.gather_idle"), full0 = tw_stat("db.gather_full"),
            spent0 = tw_stat("db.gather_spent");
    assert_int_equal(db_dlv_insert(d[0], d[0]->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    assert_int_equal(tw_seen.commits, 1);
    assert_true(tw_stat("db.gather_idle") >= idle0 + 1);
    assert_int_equal(tw_stat("db.gather_spent"), spent0);

    /* burst: the slice is long, the group fills long before it ends */
    tw_param("db.group_idle_us", "100000");
    for (int i = 1; i < TW_BURST; i++)
        assert_int_equal(db_dlv_insert(d[i], d[i]->env_json, NULL, tw_commit_cb, NULL), 0);
    db_writer_flush();
    assert_int_equal(tw_seen.commits, TW_BURST);
    assert_true(tw_stat("db.gather_full") >= full0 + 1);
    assert_int_equal(tw_stat("db.gather_spent"), spent0);

    /* stream: one every 10 ms for 250 ms; slices of 60 ms never run
     * empty, so the wait of 100 ms is spent */
    tw_param("db.group_wait_us", "100000");
    tw_param("db.group_idle_us", "60000");
    for (int i = 0; i < TW_STREAM; i++) {
        gw_delivery_t *s = d[i];
        s->status = i % 2 ? GW_ST_SENDING : GW_ST_QUEUED;
        assert_int_equal(db_dlv_update(s, NULL, tw_commit_cb, NULL), 0);
        usleep(10 * 1000);
    }
    db_writer_flush();
    assert_true(tw_stat("db.gather_spent") >= spent0 + 1);
    assert_int_equal(tw_seen.commit_fail, 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), TW_BURST);
    db_writer_stop();
    tw_param("db.group_wait_us", "3000");
    tw_param("db.group_idle_us", "1000");
    for (int i = 0; i < TW_BURST; i++)
        gw_dlv_free(d[i]);
}

/* ---- checkpoints ---------------------------------------------------------- */

/* Once the WAL holds a thousand pages, the checkpointer thread copies it
 * into the database, not the writer inside its commit; every row stays. */
static void test_the_checkpointer_thread_checkpoints_the_wal_not_the_writer(void **state)
{
    tw_db_t *t = *state;
    enum { TW_ROWS = 6000, TW_AT_ONCE = 500 };
    gw_delivery_t *d[TW_AT_ONCE];

    assert_int_equal(db_writer_start(), 0);
    int64_t runs0 = tw_stat("db.checkpoints"), inline0 = tw_stat("db.checkpoints_inline");
    for (int done = 0; done < TW_ROWS; done += TW_AT_ONCE) {
        for (int i = 0; i < TW_AT_ONCE; i++) {
            d[i] = tw_dlv("smsc1", GW_ST_QUEUED, 0);
            assert_int_equal(db_dlv_insert(d[i], d[i]->env_json, NULL, tw_commit_cb, NULL), 0);
        }
        db_writer_flush();
        for (int i = 0; i < TW_AT_ONCE; i++)
            gw_dlv_free(d[i]);
    }
    assert_true(tw_stat("db.wal_pages") >= 1000);
    for (int i = 0; i < 500 && tw_stat("db.checkpoints") == runs0; i++)
        usleep(10 * 1000);
    assert_true(tw_stat("db.checkpoints") > runs0);
    assert_int_equal(tw_stat("db.checkpoints_inline"), inline0);
    assert_int_equal(tw_stat("db.checkpoint_errors"), 0);
    assert_int_equal(tw_seen.commit_fail, 0);
    assert_int_equal(tw_int(t->raw, "SELECT count(*) FROM messages"), TW_ROWS);
    db_writer_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_events_land_in_outbox_with_their_change_in_order_and_reach_hook_after_commit,
            tw_setup, tw_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_purge_reads_only_the_rows_it_takes, tw_setup,
                                        tw_teardown),
        cmocka_unit_test_setup_teardown(test_failed_insert_group_writes_neither_row_nor_events,
                                        tw_setup, tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_update_group_is_retried_and_writes_change_and_event_once, tw_setup,
            tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_expire_queued_takes_only_queued_rows_past_validity_beyond_after, tw_setup,
            tw_teardown),
        cmocka_unit_test_setup_teardown(test_conditional_change_lands_only_on_a_queued_row,
                                        tw_setup, tw_teardown),
        cmocka_unit_test_setup_teardown(test_expire_queued_works_in_batches_of_at_most_limit,
                                        tw_setup, tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_receipt_wait_expires_only_submitted_rows_older_than_bound, tw_setup,
            tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_purge_removes_only_old_done_rows_in_batches, tw_setup,
            tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_receipt_tries_the_forms_it_is_given_and_a_parked_one_meets_an_alias,
            tw_setup, tw_teardown),
        cmocka_unit_test_setup_teardown(test_inserts_refused_past_queue_max_updates_still_taken,
                                        tw_setup, tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_failing_commits_refuse_inserts_for_one_second_then_let_one_through, tw_setup,
            tw_teardown),
        cmocka_unit_test_setup_teardown(test_failing_commits_never_refuse_updates, tw_setup,
                                        tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_group_waits_while_jobs_come_and_stops_when_idle_full_or_spent, tw_setup,
            tw_teardown),
        cmocka_unit_test_setup_teardown(
            test_the_checkpointer_thread_checkpoints_the_wal_not_the_writer, tw_setup,
            tw_teardown),
    };
    if (gw_params_register(db_params) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
