/*
 * db_writer.c - the writer thread: group commit of envelopes and updates.
 *
 * Every write of the message path goes through one thread with its own
 * connection.  Producers (adapter threads, the core) push jobs on
 * db_wr_queue; the thread blocks for the first job, then takes everything
 * else that is waiting (up to db.batch_max) and runs the lot inside one
 * BEGIN IMMEDIATE ... COMMIT.  Only after COMMIT returned does it call each
 * insert's callback with rc 0; if the transaction cannot be committed it is
 * rolled back and every insert of the group gets GW_ESTORE, so no sender is
 * ever told "accepted" for a row that is not on disk.  One fsync is shared
 * by the whole group: the more load, the bigger the groups, and the cost
 * per message falls as the rate rises.
 *
 * The envelope JSON is serialised on the producer's thread (db_msg_insert),
 * which spreads that CPU over the adapters and keeps the writer's
 * transaction short.  Inserts and updates copy the delivery fields when
 * queued, since the delivering thread keeps changing the envelope
 * afterwards; the writer reads only the read-only-once-routed fields.
 *
 * Stopping: db_writer_stop closes the door under db_wr_lock (later pushes
 * get GW_ESTOPPED) and queues a stop job behind everything already queued,
 * so all accepted work is committed and answered before the thread exits.
 *
 * Threads: db_msg_insert, db_msg_update, db_writer_flush from any thread;
 * db_writer_start / db_writer_stop from the main thread; the rest on the
 * writer thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_param.h"
#include "gw_queue.h"
#include "gw_stats.h"

typedef enum {
    DB_JOB_INSERT = 0,
    DB_JOB_UPDATE,
    DB_JOB_BARRIER,
    DB_JOB_STOP,
} db_job_kind_t;

/* A flush waiter, on the waiting caller's stack. */
typedef struct db_barrier {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done; /* guarded by lock */
} db_barrier_t;

typedef struct db_job {
    db_job_kind_t kind;
    int rc;                 /* this job's outcome inside the group */
    gw_envelope_t *env;     /* INSERT: a reference held by the job */
    db_commit_cb_t cb;      /* INSERT */
    void *arg;              /* INSERT */
    char *json;             /* INSERT: envelope JSON text */
    db_barrier_t *barrier;  /* BARRIER */
    /* INSERT and UPDATE: a snapshot of the delivery fields */
    char id[GW_ENV_ID_LEN + 1];
    int status;
    int attempts;
    int reason;
    char *reason_text;
    char *remote_id;
    char *target;
    int want_receipt;       /* UPDATE: write the receipt map row */
    int64_t ts;
} db_job_t;

/* Configuration (db_params); read when the writer starts. */
static char db_cfg_sync[8] = "full";
static int db_cfg_batch_max = 512;

const gw_param_t db_params[] = {
    {"db.synchronous", GW_PT_STR, db_cfg_sync, sizeof db_cfg_sync, "full", 1, 0, 0,
     "full: an accepted message survives power loss (one fsync per group commit); "
     "normal: survives a crash of the process only, faster on slow disks"},
    {"db.batch_max", GW_PT_INT, &db_cfg_batch_max, 0, "512", 1, 10000, 0,
     "most jobs (inserts and updates) committed in one transaction"},
    GW_PARAM_END,
};

/* db_wr_lock guards db_wr_accepting and the order "push, then stop job". */
static pthread_mutex_t db_wr_lock = PTHREAD_MUTEX_INITIALIZER;
static int db_wr_accepting;
static int db_wr_running;     /* main thread only */
static pthread_t db_wr_thread;
static gw_queue_t *db_wr_queue;
/* Static so that stopping cannot fail for want of memory. */
static db_job_t db_wr_stop_job = {.kind = DB_JOB_STOP};

/* Writer-thread state. */
static sqlite3 *db_wr_conn;
static sqlite3_stmt *db_wr_st_insert, *db_wr_st_update, *db_wr_st_receipt;
static db_job_t **db_wr_batch;
static int db_wr_batch_max;
static gw_stat_t *db_wr_st_commits, *db_wr_st_rows, *db_wr_st_commit_us_last,
    *db_wr_st_commit_us_max, *db_wr_st_errors, *db_wr_st_queue, *db_wr_st_batch_last;

static const char db_wr_sql_insert[] =
    "INSERT INTO messages(id, created_at, updated_at, expires_at, status, source_adapter,"
    " source_connector, from_addr, to_addr, target, route, attempts, reason, reason_text,"
    " remote_id, envelope) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
    " ON CONFLICT(id) DO UPDATE SET updated_at=excluded.updated_at, status=excluded.status,"
    " target=excluded.target, route=excluded.route, attempts=excluded.attempts,"
    " reason=excluded.reason, reason_text=excluded.reason_text, envelope=excluded.envelope";
/* A final state is never left again: a late or stale update (a retry
 * racing a receipt, a duplicate outcome) must not turn a delivered message
 * back into one that recovery would send again.  Checklist: the final
 * states here are the gw_status_t values after submitted. */
static const char db_wr_sql_update[] =
    "UPDATE messages SET status=?1, attempts=?2, reason=?3, reason_text=?4,"
    " remote_id=COALESCE(?5, remote_id), target=COALESCE(?6, target), updated_at=?7"
    " WHERE id=?8 AND status NOT IN ('delivered', 'failed', 'expired', 'rejected')";
static const char db_wr_sql_receipt[] =
    "INSERT OR REPLACE INTO receipts(connector, remote_id, message_id, created_at)"
    " VALUES(?1, ?2, ?3, ?4)";

const char *db_writer_sync_level(void)
{
    return strcasecmp(db_cfg_sync, "normal") == 0 ? "NORMAL" : "FULL";
}

static int64_t db_wr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void db_job_free(db_job_t *job)
{
    gw_env_unref(job->env);
    free(job->json);
    free(job->reason_text);
    free(job->remote_id);
    free(job->target);
    free(job);
}

/* The queue's free function: only reached if jobs outlive the thread,
 * which db_writer_stop prevents; answer honestly all the same. */
static void db_job_drop(void *item)
{
    db_job_t *job = item;
    if (job == &db_wr_stop_job)
        return;
    if (job->kind == DB_JOB_INSERT && job->cb != NULL)
        job->cb(job->env, GW_ESTORE, job->arg);
    db_job_free(job);
}

/* Push under db_wr_lock so nothing lands behind the stop job.
 * 0, GW_ESTOPPED or GW_ENOMEM; on error the job stays the caller's. */
static int db_wr_push(db_job_t *job)
{
    int rc;
    pthread_mutex_lock(&db_wr_lock);
    if (!db_wr_accepting)
        rc = GW_ESTOPPED;
    else
        rc = gw_queue_push(db_wr_queue, job) == 0 ? 0 : GW_ENOMEM;
    pthread_mutex_unlock(&db_wr_lock);
    return rc;
}

/* strdup that keeps NULL; sets *fail on allocation failure. */
static char *db_wr_dup(const char *s, int *fail)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *fail = 1;
    return d;
}

int db_msg_insert(gw_envelope_t *env, db_commit_cb_t cb, void *arg)
{
    int rc = GW_ENOMEM;
    db_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return GW_ENOMEM;
    json_t *j = gw_env_to_json(env);
    if (j == NULL)
        goto out_free_job;
    job->json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (job->json == NULL)
        goto out_free_job;
    /* The delivery fields may change once the caller hands env on: take
     * them now, as the JSON above, not on the writer thread. */
    int fail = 0;
    job->status = (int)env->status;
    job->attempts = env->attempts;
    job->reason = env->reason;
    job->reason_text = db_wr_dup(env->reason_text, &fail);
    job->remote_id = db_wr_dup(env->corr.smpp_message_id, &fail);
    if (fail)
        goto out_free_job;
    job->kind = DB_JOB_INSERT;
    job->cb = cb;
    job->arg = arg;
    job->env = gw_env_ref(env);
    rc = db_wr_push(job);
    if (rc < 0)
        goto out_free_job;
    return 0;

out_free_job:
    db_job_free(job);
    return rc;
}

int db_msg_update(const gw_envelope_t *env, const char *remote_id)
{
    int fail = 0, rc;
    db_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_UPDATE;
    memcpy(job->id, env->id, sizeof job->id);
    job->status = (int)env->status;
    job->attempts = env->attempts;
    job->reason = env->reason;
    job->ts = gw_now_ms();
    job->reason_text = db_wr_dup(env->reason_text, &fail);
    job->remote_id = db_wr_dup(remote_id != NULL ? remote_id : env->corr.smpp_message_id, &fail);
    job->target = db_wr_dup(env->target, &fail);
    if (fail) {
        db_job_free(job);
        return GW_ENOMEM;
    }
    /* The receipt row is written only for an explicit remote_id. */
    job->want_receipt = remote_id != NULL;
    rc = db_wr_push(job);
    if (rc < 0)
        db_job_free(job);
    return rc;
}

void db_writer_flush(void)
{
    db_barrier_t b;
    db_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return;
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    b.done = 0;
    job->kind = DB_JOB_BARRIER;
    job->barrier = &b;
    if (db_wr_push(job) < 0) {
        free(job);
        goto out_destroy;
    }
    pthread_mutex_lock(&b.lock);
    while (!b.done)
        pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
out_destroy:
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
}

/* Bind and run the insert of job; 0 or GW_ESTORE (logged). Writer thread. */
static int db_wr_exec_insert(db_job_t *job)
{
    sqlite3_stmt *st = db_wr_st_insert;
    const gw_envelope_t *e = job->env;
    int64_t now = gw_now_ms();

    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e->created_at);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, e->expires_at);
    sqlite3_bind_text(st, 5, gw_status_name((gw_status_t)job->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->source.adapter, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e->source.connector, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->from.address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e->to.address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, e->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, e->route, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 12, job->attempts);
    sqlite3_bind_int(st, 13, job->reason);
    sqlite3_bind_text(st, 14, job->reason_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, job->remote_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, job->json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : GW_ESTORE;
    if (rc < 0)
        GW_ERR("db", "insert %s: %s", e->id, sqlite3_errmsg(db_wr_conn));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Bind and run an update (and its receipt row); 0 or GW_ESTORE (logged). */
static int db_wr_exec_update(db_job_t *job)
{
    sqlite3_stmt *st = db_wr_st_update;
    int rc = 0;

    sqlite3_bind_text(st, 1, gw_status_name((gw_status_t)job->status), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, job->attempts);
    sqlite3_bind_int(st, 3, job->reason);
    sqlite3_bind_text(st, 4, job->reason_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, job->remote_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, job->target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, job->ts);
    sqlite3_bind_text(st, 8, job->id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = GW_ESTORE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == 0 && job->want_receipt && job->remote_id != NULL && job->target != NULL) {
        st = db_wr_st_receipt;
        sqlite3_bind_text(st, 1, job->target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, job->remote_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, job->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, job->ts);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = GW_ESTORE;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (rc < 0)
        GW_ERR("db", "update %s: %s", job->id, sqlite3_errmsg(db_wr_conn));
    return rc;
}

/* Run the data jobs of jobs[0..n) (only the updates when updates_only) in
 * one transaction.  Returns 0 when committed, or GW_ESTORE when the group
 * was rolled back (logged once); *began tells whether BEGIN succeeded.
 * Sets each run job's rc.  Writer thread. */
static int db_wr_commit_group(db_job_t **jobs, size_t n, int updates_only, int *began)
{
    size_t rows = 0;
    int64_t t0 = db_wr_now_us();

    *began = 0;
    if (sqlite3_exec(db_wr_conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out_fail;
    *began = 1;
    for (size_t i = 0; i < n; i++) {
        if (updates_only && jobs[i]->kind != DB_JOB_UPDATE)
            continue;
        if (jobs[i]->kind == DB_JOB_INSERT)
            jobs[i]->rc = db_wr_exec_insert(jobs[i]);
        else if (jobs[i]->kind == DB_JOB_UPDATE)
            jobs[i]->rc = db_wr_exec_update(jobs[i]);
        else
            continue;
        rows += jobs[i]->rc == 0;
        /* Some errors (I/O, full disk) roll the whole transaction back. */
        if (sqlite3_get_autocommit(db_wr_conn))
            goto out_fail;
    }
    if (sqlite3_exec(db_wr_conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    int64_t us = db_wr_now_us() - t0;
    gw_stat_add(db_wr_st_commits, 1);
    gw_stat_add(db_wr_st_rows, (int64_t)rows);
    gw_stat_set(db_wr_st_commit_us_last, us);
    if (us > gw_stat_get(db_wr_st_commit_us_max))
        gw_stat_set(db_wr_st_commit_us_max, us);
    return 0;

out_rollback:
    GW_ERR("db", "commit of %zu job(s) failed: %s", n, sqlite3_errmsg(db_wr_conn));
    sqlite3_exec(db_wr_conn, "ROLLBACK", NULL, NULL, NULL);
    gw_stat_add(db_wr_st_errors, 1);
    return GW_ESTORE;
out_fail:
    GW_ERR("db", "group of %zu job(s) not stored: %s", n, sqlite3_errmsg(db_wr_conn));
    if (!sqlite3_get_autocommit(db_wr_conn))
        sqlite3_exec(db_wr_conn, "ROLLBACK", NULL, NULL, NULL);
    gw_stat_add(db_wr_st_errors, 1);
    return GW_ESTORE;
}

/* Commit one batch, then answer it: callbacks, barriers.  Returns 1 when
 * the batch held the stop job.  Writer thread. */
static int db_wr_run_batch(db_job_t **jobs, size_t n)
{
    int stop = 0, began, updates = 0, update_rc;
    int group_rc = db_wr_commit_group(jobs, n, 0, &began);

    /* Updates are fire and forget: nobody can retry them, and losing one
     * loses a final state.  When an insert spoiled the transaction (a
     * failing row, a failing COMMIT), commit the updates again on their
     * own; the inserts' senders are told GW_ESTORE and may retry. */
    for (size_t i = 0; i < n; i++)
        updates += jobs[i]->kind == DB_JOB_UPDATE;
    update_rc = group_rc;
    if (group_rc < 0 && began && updates > 0)
        update_rc = db_wr_commit_group(jobs, n, 1, &began);
    for (size_t i = 0; i < n; i++) {
        db_job_t *job = jobs[i];
        switch (job->kind) {
        case DB_JOB_INSERT:
            if (job->cb != NULL)
                job->cb(job->env, group_rc < 0 ? GW_ESTORE : job->rc, job->arg);
            db_job_free(job);
            break;
        case DB_JOB_UPDATE:
            if (update_rc < 0 || job->rc < 0)
                GW_ERR("db", "message %s: state %s not stored",
                       job->id, gw_status_name((gw_status_t)job->status));
            db_job_free(job);
            break;
        case DB_JOB_BARRIER:
            pthread_mutex_lock(&job->barrier->lock);
            job->barrier->done = 1;
            pthread_cond_signal(&job->barrier->cond);
            pthread_mutex_unlock(&job->barrier->lock);
            free(job);
            break;
        case DB_JOB_STOP:
            stop = 1; /* db_wr_stop_job: static, not freed */
            break;
        }
    }
    return stop;
}

static void *db_wr_main(void *arg)
{
    (void)arg;
    for (;;) {
        db_job_t *first = gw_queue_pop(db_wr_queue, -1);
        if (first == NULL)
            continue;
        db_wr_batch[0] = first;
        size_t n = 1 + gw_queue_pop_many(db_wr_queue, (void **)db_wr_batch + 1,
                                         (size_t)db_wr_batch_max - 1);
        gw_stat_set(db_wr_st_batch_last, (int64_t)n);
        gw_stat_set(db_wr_st_queue, (int64_t)gw_queue_len(db_wr_queue));
        if (db_wr_run_batch(db_wr_batch, n))
            break;
    }
    return NULL;
}

static void db_wr_close_conn(void)
{
    sqlite3_finalize(db_wr_st_insert);
    sqlite3_finalize(db_wr_st_update);
    sqlite3_finalize(db_wr_st_receipt);
    db_wr_st_insert = db_wr_st_update = db_wr_st_receipt = NULL;
    sqlite3_close(db_wr_conn);
    db_wr_conn = NULL;
}

int db_writer_start(void)
{
    int rc = GW_ESTORE;

    if (db_wr_running || db_path() == NULL)
        return GW_EINVAL;
    db_wr_st_commits = gw_stat("db.commits", "group commits of the writer");
    db_wr_st_rows = gw_stat("db.rows", "rows written by the writer");
    db_wr_st_commit_us_last = gw_stat("db.commit_us_last", "duration of the last group commit");
    db_wr_st_commit_us_max = gw_stat("db.commit_us_max", "longest group commit");
    db_wr_st_errors = gw_stat("db.errors", "groups rolled back");
    db_wr_st_queue = gw_stat("db.queue", "jobs waiting for the writer");
    db_wr_st_batch_last = gw_stat("db.batch_last", "jobs in the last group");
    if (db_conn_open(db_path(), db_writer_sync_level(), &db_wr_conn) < 0)
        return GW_ESTORE;
    db_wr_st_insert = db_prepare(db_wr_conn, db_wr_sql_insert, "insert message");
    db_wr_st_update = db_prepare(db_wr_conn, db_wr_sql_update, "update message");
    db_wr_st_receipt = db_prepare(db_wr_conn, db_wr_sql_receipt, "insert receipt");
    if (db_wr_st_insert == NULL || db_wr_st_update == NULL || db_wr_st_receipt == NULL)
        goto out_close_conn;
    rc = GW_ENOMEM;
    db_wr_batch_max = db_cfg_batch_max > 0 ? db_cfg_batch_max : 1;
    db_wr_batch = calloc((size_t)db_wr_batch_max, sizeof *db_wr_batch);
    if (db_wr_batch == NULL)
        goto out_close_conn;
    db_wr_queue = gw_queue_new(0, db_job_drop);
    if (db_wr_queue == NULL)
        goto out_free_batch;
    db_wr_accepting = 1;
    if (pthread_create(&db_wr_thread, NULL, db_wr_main, NULL) != 0) {
        rc = GW_ERROR;
        goto out_free_queue;
    }
    db_wr_running = 1;
    GW_INFO("db", "writer started (synchronous %s, batch up to %d)", db_writer_sync_level(),
            db_wr_batch_max);
    return 0;

out_free_queue:
    db_wr_accepting = 0;
    gw_queue_free(db_wr_queue);
    db_wr_queue = NULL;
out_free_batch:
    free(db_wr_batch);
    db_wr_batch = NULL;
out_close_conn:
    db_wr_close_conn();
    return rc;
}

void db_writer_stop(void)
{
    if (!db_wr_running)
        return;
    /* Retry until the stop job is queued: it must land behind every job
     * already accepted (an unbounded queue fails only without memory). */
    for (;;) {
        pthread_mutex_lock(&db_wr_lock);
        db_wr_accepting = 0;
        int rc = gw_queue_push(db_wr_queue, &db_wr_stop_job);
        pthread_mutex_unlock(&db_wr_lock);
        if (rc == 0)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(db_wr_thread, NULL);
    db_wr_running = 0;
    gw_queue_free(db_wr_queue);
    db_wr_queue = NULL;
    free(db_wr_batch);
    db_wr_batch = NULL;
    db_wr_close_conn();
    GW_INFO("db", "writer stopped");
}
