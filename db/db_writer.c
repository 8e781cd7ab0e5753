/*
 * db_writer.c - the writer thread: group commit of messages, their state
 * changes, their events and receipts.
 *
 * Every write of the message path goes through one thread with its own
 * connection.  Producers (adapter threads, the core) push jobs on
 * db_wr_queue; the thread blocks for the first job, then takes everything
 * else that is waiting (up to db.batch_max) and runs the lot inside one
 * BEGIN IMMEDIATE ... COMMIT.  Only after COMMIT returned does it call each
 * job's callback and hand the group's events to the event hook, so no
 * sender hears "accepted" and no consumer sees an event for a row that is
 * not on disk.  One fsync is shared by the whole group: the more load, the
 * bigger the groups.
 *
 * Jobs: an INSERT (a new message: envelope JSON, delivery columns), an
 * UPDATE (a state change of a delivery: a snapshot taken when queued), a
 * RECEIPT (the far side's final word, matched on the message row by
 * (target, remote_id) in the same transaction), each with up to GW_EVBATCH_MAX events written to
 * the outbox table in that transaction.
 *
 * Nothing is dropped.  When a group cannot commit (the write lock held
 * past busy_timeout, a full disk, an I/O error) it is rolled back; its
 * inserts are answered GW_ESTORE (nothing of them is stored; the sender may
 * try again), but its updates and receipts stay, in their order, at the
 * head of the next group, which waits an exponential backoff first (100 ms
 * doubling to 5 s).  They are idempotent (an update sets absolute values
 * and never moves a final row), so running one twice is harmless.
 *
 * Admission: an insert is refused with GW_EFULL while more than
 * db.queue_max jobs wait, or while the last group failed (the disk is
 * full: refuse new work rather than pile it up); updates are never refused.
 *
 * Stopping: db_writer_stop closes the door under db_wr_lock (later pushes
 * get GW_ESTOPPED) and queues a stop job behind everything already queued;
 * the thread exits once that is committed.  Updates still failing then are
 * given up with an error in the log: the rows keep their previous state,
 * which recovery picks up (at least once).
 *
 * Threads: db_dlv_insert / update, db_receipt_apply, db_writer_flush from
 * any thread; db_writer_start / stop from the main thread; the rest on the
 * writer thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/db_int.h"
#include "gw_str.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_param.h"
#include "gw_queue.h"
#include "gw_stats.h"

typedef enum {
    DB_JOB_INSERT = 0,
    DB_JOB_UPDATE,
    DB_JOB_RECEIPT,
    DB_JOB_SWEEP,
    DB_JOB_FRAG,        /* a part of a long message (db_frag.c): answered like an insert */
    DB_JOB_FRAG_SWEEP,  /* stale sets claimed and handed over; not retried */
    DB_JOB_FRAG_STATE,  /* a claimed set released or dropped: retried like an update */
    DB_JOB_EVENT,       /* events of no message (operations): retried like an update */
    DB_JOB_LOC,         /* a SIP address of record's bindings (db_loc.c): answered like
                         * an insert, not retried */
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
    db_commit_cb_t cb;      /* INSERT, UPDATE */
    db_receipt_cb_t rcb;    /* RECEIPT */
    db_sweep_cb_t scb;      /* SWEEP */
    void *arg;
    db_barrier_t *barrier;  /* BARRIER of a flush; NULL: of db_writer_after (cb) */
    gw_evbatch_t ev;         /* owned texts */
    /* INSERT */
    gw_envelope_t *env;     /* a reference held by the job */
    const char *json;       /* the envelope's JSON text, borrowed until cb */
    char route[GW_NAME_MAX];
    char *sender;           /* INSERT: the report stub (db_report_stub_fn_t), malloc'd;
                             * NULL: the sender wants no report */
    char *plan;             /* INSERT: "strategy:a,b", malloc'd (most plans are
                             * short: kept off the job, whose size stays in
                             * malloc's fast small classes) */
    /* INSERT and UPDATE: a snapshot of the delivery */
    char id[GW_ENV_ID_LEN + 1];
    int status;
    int cur;
    int attempts;
    int reason;
    char reason_text[96];
    char target[GW_NAME_MAX];
    char tries[GW_PLAN_MAX * 8];
    char remote_id[GW_REMOTE_ID_MAX];
    char *part_ids;         /* UPDATE to submitted of a message sent in parts: every
                             * part's id, '\n' after each; malloc'd */
    char *alt;              /* RECEIPT: other forms of remote_id, each followed by
                             * '\n', tried on a miss; UPDATE to submitted: lines
                             * "form\tid\n", forms its ids' early receipts may be
                             * parked under (gw_delivery_t.rcpt_aliases); malloc'd */
    char *new_env;          /* UPDATE of a replaced message (db_dlv_replace): its new
                             * envelope JSON, malloc'd; only the envelope changes */
    int if_queued;          /* UPDATE (db_dlv_update_if_queued): only a row still queued */
    int unchanged;          /* UPDATE: a conditional one found no row to change; its
                             * events and report dropped, cb gets GW_ENOTFOUND */
    int64_t next_at;
    unsigned flags;
    int64_t qseq;           /* INSERT, UPDATE: assigned when the row is left queued */
    /* SWEEP */
    db_sweep_kind_t sweep;
    int64_t after, now, older_than;
    int limit, swept;
    gw_evbatch_t *sweep_ev; /* one batch per swept row, owned */
    /* RECEIPT */
    char connector[GW_NAME_MAX];
    char stat[16];
    char found_id[GW_ENV_ID_LEN + 1];
    int parked;             /* RECEIPT: no message waits for it yet; kept in receipts_early */
    int64_t ts;
    /* FRAG, FRAG_SWEEP, FRAG_STATE; INSERT of an assembled message: frag_key */
    char *frag_key;         /* malloc'd */
    int frag_seq, frag_total, frag_dup, frag_state, frag_n;
    char frag_digest[16];     /* FRAG: what the part holds (a resend has the same) */
    db_frag_set_t *frag_set;  /* FRAG: the set this part completed, for the callback */
    db_frag_set_t **frag_sets; /* FRAG_SWEEP: up to limit */
    db_frag_cb_t fcb;
    void (*feach)(void *arg, db_frag_set_t *set);
    void (*fdone)(void *arg, int n);
    /* LOC: the address of record (frag_key holds it), its bindings' JSON
     * (NULL: delete) */
    char *loc_json;
    db_loc_cb_t lcb;
    /* the delivery reports this job's change made (db_writer_set_report_hook):
     * inserts run after it in its transaction; made again when it runs again */
    struct db_job *kids, *knext;
} db_job_t;

/* Configuration (db_params); read when the writer starts. */
static char db_cfg_sync[8] = "full";
static int db_cfg_batch_max = 512;
static int db_cfg_queue_max = 20000;
static int db_cfg_outbox_keep_s = 86400;
static int db_cfg_group_wait_us = 3000;
static int db_cfg_group_idle_us = 1000;
#define DB_WR_GROUP_FULL 64 /* jobs past which a group does not wait for more */

const gw_param_t db_params[] = {
    {"db.synchronous", GW_PT_STR, db_cfg_sync, sizeof db_cfg_sync, "full", 1, 0, 0,
     "full: an accepted message survives power loss (one fsync per group commit); "
     "normal: survives a crash of the process only, faster on slow disks"},
    {"db.batch_max", GW_PT_INT, &db_cfg_batch_max, 0, "512", 1, 10000, 0,
     "most jobs (inserts and updates) committed in one transaction"},
    {"db.queue_max", GW_PT_INT, &db_cfg_queue_max, 0, "20000", 1, 10000000, GW_PARAM_RUNTIME,
     "jobs waiting for the writer past which new messages are refused (SIP 503, "
     "SMPP ESME_RTHROTTLED): admission control"},
    {"db.group_wait_us", GW_PT_INT, &db_cfg_group_wait_us, 0, "3000", 0, 100000, GW_PARAM_RUNTIME,
     "when fewer than 64 jobs wait, the writer waits up to this long in all for more before "
     "it commits, while they keep coming: fewer, bigger groups, less CPU per message "
     "(0: never wait)"},
    {"db.group_idle_us", GW_PT_INT, &db_cfg_group_idle_us, 0, "1000", 1, 100000, GW_PARAM_RUNTIME,
     "a group's wait ends when no job came for this long (a peer waiting for its answers, "
     "a lone message); at most db.group_wait_us"},
    {"db.outbox_keep_s", GW_PT_INT, &db_cfg_outbox_keep_s, 0, "86400", 60, 31536000,
     GW_PARAM_RUNTIME, "seconds an event stays in the outbox table"},
    GW_PARAM_END,
};

/* db_wr_lock guards db_wr_accepting and the order "push, then stop job". */
static pthread_mutex_t db_wr_lock = PTHREAD_MUTEX_INITIALIZER;
static int db_wr_accepting;
static int db_wr_running;     /* main thread only */
static int db_wr_fail;        /* atomic: the last group did not commit */
static int64_t db_wr_fail_ms; /* atomic: when it failed (ms since the epoch) */
static pthread_t db_wr_thread;
static gw_queue_t *db_wr_queue;
static db_row_events_fn_t db_wr_row_events; /* set before start */
static db_event_hook_fn_t db_wr_on_event;
static db_report_stub_fn_t db_wr_report_stub; /* set before start */
static db_report_make_fn_t db_wr_report_make;
static db_commit_cb_t db_wr_report_done;
/* Static so that stopping cannot fail for want of memory. */
static db_job_t db_wr_stop_job = {.kind = DB_JOB_STOP};

/* Writer-thread state. */
static sqlite3 *db_wr_conn;
static sqlite3_stmt *db_wr_st_insert, *db_wr_st_update, *db_wr_st_outbox,
    *db_wr_st_rcpt_find, *db_wr_st_rcpt_set, *db_wr_st_purge, *db_wr_st_sw_queued,
    *db_wr_st_sw_submitted, *db_wr_st_sw_set, *db_wr_st_sw_purge_msgs,
    *db_wr_st_qseq_max;
static int64_t db_wr_qseq;       /* the last queue number given out */
static sqlite3_stmt *db_wr_st_part_add, *db_wr_st_part_find, *db_wr_st_part_msg,
    *db_wr_st_part_set, *db_wr_st_part_fold, *db_wr_st_early_add, *db_wr_st_early_take,
    *db_wr_st_early_purge, *db_wr_st_early_count;
static int64_t db_wr_early;      /* receipts_early rows, at least as many as there are: none
                                  * means no submit looks for one */
static gw_stat_t *db_wr_st_unparked, *db_wr_st_parts, *db_wr_st_alt;
static sqlite3_stmt *db_wr_st_begin, *db_wr_st_commit, *db_wr_st_replace, *db_wr_st_if_queued;
static db_job_t **db_wr_batch;   /* the group being run */
static db_job_t **db_wr_retry;   /* updates and receipts of a failed group, in order */
static size_t db_wr_nretry;
static int db_wr_batch_max;
static gw_stat_t *db_wr_st_commits, *db_wr_st_rows, *db_wr_st_commit_us_last,
    *db_wr_st_commit_us_max, *db_wr_st_commit_us_1s, *db_wr_st_errors, *db_wr_st_queue, *db_wr_st_batch_last, *db_wr_st_ckpt_inline,
    *db_wr_st_gather_full, *db_wr_st_gather_idle, *db_wr_st_gather_spent,
    *db_wr_st_refused, *db_wr_st_retried, *db_wr_st_events, *db_wr_st_wal_pages;
static gw_hist_t *db_wr_hist_commit; /* each group's BEGIN .. COMMIT */
static int db_wr_wal_last; /* the WAL's length in frames after the last commit */
static int db_wr_next_kick; /* ... at which the checkpointer is kicked next */

static const char db_wr_sql_insert[] =
    "INSERT INTO messages(id, created_at, updated_at, expires_at, status, source_adapter,"
    " source_connector, from_addr, to_addr, target, route, attempts, reason, reason_text,"
    " remote_id, envelope, plan, cur, tries, next_at, flags, qseq, sender)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23)"
    " ON CONFLICT(id) DO NOTHING";
/* "Not final" spelled out: NOT IN (...) would build an ephemeral table on
 * every execution, which was a third of the writer's time. */
#define DB_WR_NOT_FINAL                                                     \
    "status <> 'delivered' AND status <> 'failed' AND status <> 'expired'" \
    " AND status <> 'rejected'"

/* A final state is never left again: a late or stale update (a retry
 * racing a receipt, a duplicate outcome) must not turn a delivered message
 * back into one that recovery would send again.  Checklist: the final
 * states here are gw_status_final()'s. */
#define DB_WR_SET_STATE                                                                   \
    "UPDATE messages SET status=?1, attempts=?2, reason=?3, reason_text=?4,"              \
    " remote_id=COALESCE(?5, remote_id), target=?6, cur=?7, tries=?8, next_at=?9, flags=?10," \
    " updated_at=?11, qseq=COALESCE(?13, qseq)"
static const char db_wr_sql_update[] = DB_WR_SET_STATE " WHERE id=?12 AND " DB_WR_NOT_FINAL;
/* A cancel of a message the core does not hold (db_dlv_update_if_queued):
 * only while the row is still queued, which sqlite3_changes() tells. */
static const char db_wr_sql_if_queued[] = DB_WR_SET_STATE " WHERE id=?12 AND status='queued'";
/* A replace_sm: a queued row's content only (it keeps its place). */
static const char db_wr_sql_replace[] =
    "UPDATE messages SET envelope=?1, expires_at=?2, updated_at=?3"
    " WHERE id=?4 AND status='queued'";
static const char db_wr_sql_outbox[] =
    "INSERT INTO outbox(ts, message_id, type, payload) VALUES(?1, ?2, ?3, ?4)";
static const char db_wr_sql_rcpt_find[] =
    "SELECT id, status, envelope, source_connector, flags, sender FROM messages WHERE target = ?1"
    " AND remote_id = ?2"
    " AND " DB_SCHEMA_RCPT_WAIT; /* the term of messages_remote (db_schema.c) */
static const char db_wr_sql_rcpt_set[] =
    "UPDATE messages SET status=?1, reason=?2, reason_text=?3, updated_at=?4"
    " WHERE id=?5 AND " DB_WR_NOT_FINAL;
/* Receipts of parts and receipts ahead of their submit (schema 5). */
static const char db_wr_sql_part_add[] =
    "INSERT OR IGNORE INTO parts(target, remote_id, message_id, part) VALUES(?1, ?2, ?3, ?4)";
static const char db_wr_sql_part_find[] =
    "SELECT message_id FROM parts WHERE target = ?1 AND remote_id = ?2";
static const char db_wr_sql_part_msg[] =
    "SELECT id, status, envelope, source_connector, flags, sender FROM messages WHERE id = ?1"
    " AND " DB_SCHEMA_RCPT_WAIT;
static const char db_wr_sql_part_set[] =
    "UPDATE parts SET stat = ?3, err = ?4 WHERE target = ?1 AND remote_id = ?2";
static const char db_wr_sql_part_fold[] =
    "SELECT stat, err FROM parts WHERE message_id = ?1 ORDER BY part";
static const char db_wr_sql_early_add[] =
    "INSERT OR REPLACE INTO receipts_early(target, remote_id, stat, err, status, ts)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char db_wr_sql_early_take[] =
    "DELETE FROM receipts_early WHERE target = ?1 AND remote_id = ?2 RETURNING stat, err, status";
static const char db_wr_sql_early_purge[] = "DELETE FROM receipts_early WHERE ts < ?1";
static const char db_wr_sql_early_count[] = "SELECT count(*) FROM receipts_early";
#define DB_WR_EARLY_KEEP_MS 3600000 /* an hour: a submit_sm_resp takes seconds */
static const char db_wr_sql_purge[] = DB_OUTBOX_PURGE_SQL;
/* The sweeps' row pickers each walk one partial index (db_schema.c). */
static const char db_wr_sql_sw_queued[] =
    "SELECT id, envelope, source_connector, sender FROM messages WHERE status = 'queued'"
    " AND expires_at > 0"
    " AND expires_at < ?1 AND target = ?2 AND qseq > ?3 LIMIT ?4";
static const char db_wr_sql_sw_submitted[] =
    "SELECT id, envelope, source_connector, sender FROM messages WHERE " DB_SCHEMA_RCPT_WAIT
    " AND updated_at < ?1"
    " LIMIT ?2"; /* the term of messages_submitted */
static const char db_wr_sql_sw_set[] =
    "UPDATE messages SET status = ?1, reason_text = ?2, updated_at = ?3 WHERE id = ?4";
static const char db_wr_sql_sw_purge_msgs[] =
    "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages WHERE"
    " " DB_SCHEMA_DONE " AND updated_at < ?1 LIMIT ?2)"; /* the term of messages_done (db_schema.c) */
static const char db_wr_sql_qseq_max[] = "SELECT COALESCE(max(qseq), 0) FROM messages";

/* After each commit (SQLite's WAL hook, writer thread): count the pages
 * it wrote, and checkpoint as SQLite's own hook would (a hook set here
 * replaces that one): passively, once the WAL holds DB_WR_CHECKPOINT_PAGES
 * frames - on the checkpointer's thread (db_ckpt.c), or here when it is
 * not running or the WAL grew past DB_CKPT_INLINE_FRAMES all the same. */
#define DB_WR_CHECKPOINT_PAGES 1000
static int db_wr_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)arg;
    if (frames < db_wr_wal_last) /* the WAL started over */
        db_wr_next_kick = DB_WR_CHECKPOINT_PAGES;
    gw_stat_add(db_wr_st_wal_pages, frames >= db_wr_wal_last ? frames - db_wr_wal_last : frames);
    db_wr_wal_last = frames;
    /* kicked once per DB_WR_CHECKPOINT_PAGES new frames, as SQLite's own
     * hook would checkpoint: each run syncs the database file.  Once all
     * of it is checkpointed, the next commit starts the WAL over: a
     * smaller count than the last is that restart. */
    int here = frames >= DB_CKPT_INLINE_FRAMES;
    if (!here && frames >= db_wr_next_kick) {
        db_wr_next_kick = frames + DB_WR_CHECKPOINT_PAGES;
        here = !db_ckpt_kick();
    }
    if (here) {
        gw_stat_add(db_wr_st_ckpt_inline, 1);
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    return SQLITE_OK;
}

const char *db_writer_sync_level(void)
{
    return strcasecmp(db_cfg_sync, "normal") == 0 ? "NORMAL" : "FULL";
}

void db_writer_set_hooks(db_row_events_fn_t row_events, db_event_hook_fn_t on_event)
{
    db_wr_row_events = row_events;
    db_wr_on_event = on_event;
}

void db_writer_set_report_hook(db_report_stub_fn_t stub, db_report_make_fn_t make,
                               db_commit_cb_t done)
{
    db_wr_report_stub = stub;
    db_wr_report_make = make;
    db_wr_report_done = done;
}

static int64_t db_wr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void db_job_free(db_job_t *job);

/* Drop the reports job made, unstored: each is answered GW_ESTORE (its
 * maker frees it). */
static void db_job_kids_drop(db_job_t *job)
{
    db_job_t *k;

    while ((k = job->kids) != NULL) {
        job->kids = k->knext;
        if (k->cb != NULL)
            k->cb(k->arg, GW_ESTORE, 0);
        db_job_free(k);
    }
}

static void db_job_free(db_job_t *job)
{
    db_job_kids_drop(job);
    gw_env_unref(job->env);
    free(job->plan);
    free(job->sender);
    free(job->part_ids);
    free(job->alt);
    free(job->new_env);
    free(job->frag_key);
    free(job->loc_json);
    if (job->json != NULL && (job->kind == DB_JOB_FRAG))
        free((char *)job->json);
    db_frag_set_free(job->frag_set);
    for (int i = 0; job->frag_sets != NULL && i < job->frag_n; i++)
        db_frag_set_free(job->frag_sets[i]);
    free(job->frag_sets);
    gw_evbatch_clear(&job->ev);
    for (int i = 0; job->sweep_ev != NULL && i < job->limit; i++)
        gw_evbatch_clear(&job->sweep_ev[i]);
    free(job->sweep_ev);
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
        job->cb(job->arg, GW_ESTORE, 0);
    else if (job->kind == DB_JOB_FRAG && job->fcb != NULL)
        job->fcb(job->arg, GW_ESTORE, 0, NULL);
    else if (job->kind == DB_JOB_FRAG_SWEEP && job->fdone != NULL)
        job->fdone(job->arg, 0);
    else if (job->kind == DB_JOB_LOC && job->lcb != NULL)
        job->lcb(job->arg, GW_ESTORE);
    db_job_free(job);
}

/* Push under db_wr_lock so nothing lands behind the stop job.  An insert
 * is refused (GW_EFULL) past db.queue_max or while commits fail.
 * 0, GW_EFULL, GW_ESTOPPED or GW_ENOMEM; on error the job stays the
 * caller's. */
static int db_wr_push(db_job_t *job)
{
    int rc;
    pthread_mutex_lock(&db_wr_lock);
    if (!db_wr_accepting)
        rc = GW_ESTOPPED;
    else if ((job->kind == DB_JOB_INSERT || job->kind == DB_JOB_FRAG || job->kind == DB_JOB_LOC) &&
             /* failing: refuse for a second after each failure, then let
              * one through to find out whether the store is back */
             ((__atomic_load_n(&db_wr_fail, __ATOMIC_RELAXED) &&
               gw_now_ms() - __atomic_load_n(&db_wr_fail_ms, __ATOMIC_RELAXED) < 1000) ||
              gw_queue_len(db_wr_queue) >=
                  (size_t)__atomic_load_n(&db_cfg_queue_max, __ATOMIC_RELAXED)))
        rc = GW_EFULL;
    else
        rc = gw_queue_push(db_wr_queue, job) == 0 ? 0 : GW_ENOMEM;
    pthread_mutex_unlock(&db_wr_lock);
    if (rc == GW_EFULL)
        gw_stat_add(db_wr_st_refused, 1);
    return rc;
}

size_t db_writer_backlog(void)
{
    return db_wr_queue ? gw_queue_len(db_wr_queue) : 0;
}

int db_writer_failing(void)
{
    return __atomic_load_n(&db_wr_fail, __ATOMIC_RELAXED);
}

/* Copy the delivery state of d into job (no allocation). */
static void db_job_snapshot(db_job_t *job, const gw_delivery_t *d)
{
    memcpy(job->id, d->env->id, sizeof job->id);
    job->status = (int)d->status;
    job->cur = d->cur;
    job->attempts = d->attempts;
    job->reason = d->reason;
    memcpy(job->reason_text, d->reason_text, sizeof job->reason_text);
    gw_strlcpy(job->target, gw_dlv_target(d), sizeof job->target);
    if (gw_dlv_tries_text(d, job->tries, sizeof job->tries) < 0)
        job->tries[0] = '\0';
    memcpy(job->remote_id, d->remote_id, sizeof job->remote_id);
    job->next_at = d->next_at;
    job->flags = d->flags;
    job->ts = gw_now_ms();
}

/* Take ev's texts into job (ev is left empty). */
static void db_job_take_events(db_job_t *job, gw_evbatch_t *ev)
{
    if (ev == NULL)
        return;
    job->ev = *ev;
    memset(ev, 0, sizeof *ev);
}

/* Give ev's texts back from job to the caller after a failed push. */
static void db_job_give_events(db_job_t *job, gw_evbatch_t *ev)
{
    if (ev == NULL)
        return;
    *ev = job->ev;
    memset(&job->ev, 0, sizeof job->ev);
}

/* Push job; on failure it is freed.  0 or the push's error. */
static int db_wr_push_or_free(db_job_t *job)
{
    int rc = db_wr_push(job);

    if (rc < 0)
        db_job_free(job);
    return rc;
}

/* Push job with ev's texts; on failure the texts go back to ev and the job
 * is freed.  0 or the push's error. */
static int db_wr_push_with(db_job_t *job, gw_evbatch_t *ev)
{
    int rc;

    db_job_take_events(job, ev);
    rc = db_wr_push(job);
    if (rc < 0) {
        db_job_give_events(job, ev);
        db_job_free(job);
    }
    return rc;
}

/* A new insert job for d (its events taken from ev), or NULL. */
static db_job_t *db_job_insert_new(const gw_delivery_t *d, const char *env_json, gw_evbatch_t *ev,
                                   db_commit_cb_t cb, void *arg)
{
    db_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    job->kind = DB_JOB_INSERT;
    db_job_snapshot(job, d);
    gw_strlcpy(job->route, d->route, sizeof job->route);
    {
        char plan[GW_PLAN_MAX * GW_NAME_MAX + 16];
        if (gw_dlv_plan_text(d, plan, sizeof plan) < 0)
            plan[0] = '\0';
        if ((job->plan = strdup(plan)) == NULL) {
            free(job);
            return NULL;
        }
    }
    /* what a report to the sender needs, made here on the caller's thread
     * so that the writer never parses an envelope to report on it */
    if (db_wr_report_stub != NULL && d->env->report.of == NULL)
        job->sender = db_wr_report_stub(d->env);
    job->cb = cb;
    job->arg = arg;
    job->env = gw_env_ref(d->env);
    job->json = env_json;
    db_job_take_events(job, ev);
    return job;
}

int db_dlv_insert(const gw_delivery_t *d, const char *env_json, gw_evbatch_t *ev,
                  db_commit_cb_t cb, void *arg)
{
    gw_evbatch_t mine = { 0 };
    db_job_t *job = db_job_insert_new(d, env_json, &mine, cb, arg);

    if (job == NULL)
        return GW_ENOMEM;
    return db_wr_push_with(job, ev);
}

int db_dlv_insert_frag(const gw_delivery_t *d, const char *env_json, gw_evbatch_t *ev,
                       const char *frag_key, db_commit_cb_t cb, void *arg)
{
    gw_evbatch_t mine = { 0 };
    db_job_t *job = db_job_insert_new(d, env_json, &mine, cb, arg);

    if (job == NULL)
        return GW_ENOMEM;
    if (frag_key != NULL && (job->frag_key = strdup(frag_key)) == NULL) {
        db_job_free(job);
        return GW_ENOMEM;
    }
    return db_wr_push_with(job, ev);
}

int db_frag_add(const char *key, int seq, int total, const char *digest, const char *json,
                db_frag_cb_t cb, void *arg)
{
    db_job_t *job;

    if (key == NULL || json == NULL || strlen(key) >= DB_FRAG_KEY_MAX || seq < 1 ||
        seq > total || total > DB_FRAG_MAX)
        return GW_EINVAL;
    if ((job = calloc(1, sizeof *job)) == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_FRAG;
    job->frag_key = strdup(key);
    job->json = strdup(json);
    gw_strlcpy(job->frag_digest, digest ? digest : "", sizeof job->frag_digest);
    job->frag_seq = seq;
    job->frag_total = total;
    job->fcb = cb;
    job->arg = arg;
    job->ts = gw_now_ms();
    if (job->frag_key == NULL || job->json == NULL) {
        db_job_free(job);
        return GW_ENOMEM;
    }
    return db_wr_push_or_free(job);
}

int db_loc_save(const char *aor, const char *bindings, gw_evbatch_t *ev, db_loc_cb_t cb,
                void *arg)
{
    db_job_t *job;
    int rc;

    if (aor == NULL || aor[0] == '\0')
        return GW_EINVAL;
    if ((job = calloc(1, sizeof *job)) == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_LOC;
    job->frag_key = strdup(aor);
    job->loc_json = bindings != NULL ? strdup(bindings) : NULL;
    job->lcb = cb;
    job->arg = arg;
    job->ts = gw_now_ms();
    if (job->frag_key == NULL || (bindings != NULL && job->loc_json == NULL)) {
        db_job_free(job);
        return GW_ENOMEM;
    }
    if (ev != NULL) {
        job->ev = *ev; /* taken; given back below on failure */
        ev->n = 0;
    }
    rc = db_wr_push(job);
    if (rc != 0) {
        if (ev != NULL) {
            *ev = job->ev;
            job->ev.n = 0;
        }
        db_job_free(job);
    }
    return rc;
}

int db_frag_sweep(int64_t older_than, int limit, void (*each)(void *arg, db_frag_set_t *set),
                  void (*done)(void *arg, int n), void *arg)
{
    db_job_t *job;

    if (limit < 1 || limit > 100 || (job = calloc(1, sizeof *job)) == NULL)
        return limit < 1 || limit > 100 ? GW_EINVAL : GW_ENOMEM;
    job->kind = DB_JOB_FRAG_SWEEP;
    job->older_than = older_than;
    job->limit = limit;
    job->feach = each;
    job->fdone = done;
    job->arg = arg;
    job->frag_sets = calloc((size_t)limit, sizeof *job->frag_sets);
    if (job->frag_sets == NULL) {
        free(job);
        return GW_ENOMEM;
    }
    return db_wr_push_or_free(job);
}

int db_frag_release(const char *key, int drop)
{
    db_job_t *job;

    if (key == NULL || (job = calloc(1, sizeof *job)) == NULL)
        return key == NULL ? GW_EINVAL : GW_ENOMEM;
    job->kind = DB_JOB_FRAG_STATE;
    job->frag_state = drop ? -1 : DB_FRAG_WAITING;
    if ((job->frag_key = strdup(key)) == NULL) {
        free(job);
        return GW_ENOMEM;
    }
    return db_wr_push_or_free(job);
}

int db_dlv_update(const gw_delivery_t *d, gw_evbatch_t *ev, db_commit_cb_t cb, void *arg)
{
    db_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_UPDATE;
    db_job_snapshot(job, d);
    if ((d->part_ids != NULL && (job->part_ids = strdup(d->part_ids)) == NULL) ||
        (d->rcpt_aliases != NULL && d->status == GW_ST_SUBMITTED &&
         (job->alt = strdup(d->rcpt_aliases)) == NULL)) {
        free(job->part_ids);
        free(job);
        return GW_ENOMEM;
    }
    /* a final state may owe the sender a report, made from the envelope */
    if (db_wr_report_make != NULL && gw_status_final(d->status))
        job->env = gw_env_ref(d->env);
    job->cb = cb;
    job->arg = arg;
    return db_wr_push_with(job, ev);
}

int db_event_insert(gw_evbatch_t *ev)
{
    db_job_t *job = calloc(1, sizeof *job);

    if (job == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_EVENT;
    job->ts = gw_now_ms();
    return db_wr_push_with(job, ev);
}

int db_dlv_update_if_queued(const gw_delivery_t *d, gw_evbatch_t *ev, db_commit_cb_t cb,
                            void *arg)
{
    db_job_t *job = calloc(1, sizeof *job);

    if (job == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_UPDATE;
    job->if_queued = 1;
    db_job_snapshot(job, d);
    if (db_wr_report_make != NULL && gw_status_final(d->status))
        job->env = gw_env_ref(d->env);
    job->cb = cb;
    job->arg = arg;
    return db_wr_push_with(job, ev);
}

int db_dlv_replace(const char *id, const char *env_json, int64_t expires_at, gw_evbatch_t *ev,
                   db_commit_cb_t cb, void *arg)
{
    db_job_t *job;

    if (id == NULL || strlen(id) != GW_ENV_ID_LEN || env_json == NULL)
        return GW_EINVAL;
    if ((job = calloc(1, sizeof *job)) == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_UPDATE;
    memcpy(job->id, id, sizeof job->id);
    job->status = GW_ST_QUEUED;
    job->next_at = expires_at;
    job->ts = gw_now_ms();
    if ((job->new_env = strdup(env_json)) == NULL) {
        free(job);
        return GW_ENOMEM;
    }
    job->cb = cb;
    job->arg = arg;
    return db_wr_push_with(job, ev);
}

int db_receipt_apply(const char *connector, const char *remote_id, const char *alt,
                     gw_status_t status, int err, const char *stat, db_receipt_cb_t cb,
                     void *arg)
{
    db_job_t *job;

    if (connector == NULL || remote_id == NULL || strlen(connector) >= GW_NAME_MAX ||
        strlen(remote_id) >= GW_REMOTE_ID_MAX)
        return GW_EINVAL;
    job = calloc(1, sizeof *job);
    if (job == NULL)
        return GW_ENOMEM;
    if (alt != NULL && alt[0] != '\0' && (job->alt = strdup(alt)) == NULL) {
        free(job);
        return GW_ENOMEM;
    }
    job->kind = DB_JOB_RECEIPT;
    gw_strlcpy(job->connector, connector, sizeof job->connector);
    gw_strlcpy(job->remote_id, remote_id, sizeof job->remote_id);
    gw_strlcpy(job->stat, stat ? stat : "", sizeof job->stat);
    job->status = (int)status;
    job->reason = err;
    job->rcb = cb;
    job->arg = arg;
    job->ts = gw_now_ms();
    return db_wr_push_or_free(job);
}

int db_sweep(db_sweep_kind_t kind, const char *target, int64_t after, int64_t now,
             int64_t older_than, int limit, db_sweep_cb_t cb, void *arg)
{
    db_job_t *job;

    if (limit <= 0 || limit > 5000 || (kind == DB_SWEEP_EXPIRE_QUEUED && target == NULL) ||
        (target != NULL && strlen(target) >= GW_NAME_MAX))
        return GW_EINVAL;
    job = calloc(1, sizeof *job);
    if (job == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_SWEEP;
    job->sweep = kind;
    gw_strlcpy(job->target, target ? target : "", sizeof job->target);
    job->after = after;
    job->now = now;
    job->older_than = older_than;
    job->limit = limit;
    job->scb = cb;
    job->arg = arg;
    job->ts = gw_now_ms();
    if (kind != DB_SWEEP_PURGE) {
        job->sweep_ev = calloc((size_t)limit, sizeof *job->sweep_ev);
        if (job->sweep_ev == NULL) {
            free(job);
            return GW_ENOMEM;
        }
    }
    return db_wr_push_or_free(job);
}

int db_writer_after(db_commit_cb_t cb, void *arg)
{
    db_job_t *job = calloc(1, sizeof *job);
    int rc;

    if (job == NULL)
        return GW_ENOMEM;
    job->kind = DB_JOB_BARRIER;
    job->cb = cb;
    job->arg = arg;
    rc = db_wr_push(job);
    if (rc < 0)
        free(job);
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

/* Step st and reset it; 0 or GW_ESTORE. */
static int db_wr_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : GW_ESTORE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* The job's events into the outbox; 0 or GW_ESTORE. */
static int db_wr_exec_events(db_job_t *job, const char *id)
{
    sqlite3_stmt *st = db_wr_st_outbox;

    for (int i = 0; i < job->ev.n; i++) {
        sqlite3_bind_int64(st, 1, job->ts);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, job->ev.types[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, job->ev.texts[i], -1, SQLITE_STATIC);
        if (db_wr_step(st) < 0)
            return GW_ESTORE;
        job->ev.seqs[i] = sqlite3_last_insert_rowid(db_wr_conn);
    }
    return 0;
}

/* Ask the gateway for the report the final change of a row owes its
 * sender (see db_writer_set_report_hook) and keep it as a kid of job, to
 * run after the change (db_wr_exec_kids). */
static db_job_t *db_wr_make_kid(db_job_t *job, const gw_envelope_t *env,
                                const db_report_row_t *row, gw_status_t st, const char *stat,
                                int err, int wait)
{
    gw_evbatch_t ev = { 0 };
    gw_delivery_t *d;
    db_job_t *k;

    if (db_wr_report_make == NULL)
        return NULL;
    d = db_wr_report_make(env, row, st, stat, err, wait, &ev);
    if (d == NULL)
        return NULL;
    k = db_job_insert_new(d, d->env_json, &ev, db_wr_report_done, d);
    if (k == NULL) {
        GW_ERR("db", "out of memory: a delivery report is not stored");
        gw_evbatch_clear(&ev);
        db_wr_report_done(d, GW_ESTORE, 0);
        return NULL;
    }
    k->knext = job->kids;
    job->kids = k;
    return k;
}

static int db_wr_exec_insert(db_job_t *job);
static void db_wr_publish_batch(const gw_evbatch_t *ev);

/* Run the inserts of job's reports; 0 or GW_ESTORE. */
static int db_wr_exec_kids(db_job_t *job)
{
    for (db_job_t *k = job->kids; k != NULL; k = k->knext)
        if (db_wr_exec_insert(k) < 0)
            return GW_ESTORE;
    return 0;
}

/* The group committed: the reports of job are stored; hand them on. */
static void db_wr_kids_committed(db_job_t *job)
{
    db_job_t *k;

    while ((k = job->kids) != NULL) {
        job->kids = k->knext;
        if (db_wr_on_event != NULL)
            db_wr_publish_batch(&k->ev);
        k->cb(k->arg, 0, k->qseq);
        db_job_free(k);
    }
}

/* Bind and run the insert of job; 0 or GW_ESTORE (logged). Writer thread. */
static int db_wr_exec_insert(db_job_t *job)
{
    sqlite3_stmt *st = db_wr_st_insert;
    const gw_envelope_t *e = job->env;

    sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e->created_at);
    sqlite3_bind_int64(st, 3, job->ts);
    sqlite3_bind_int64(st, 4, e->expires_at);
    sqlite3_bind_text(st, 5, gw_status_name((gw_status_t)job->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->source.adapter, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, e->source.connector, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, e->from.address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, e->to.address, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, job->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, job->route, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 12, job->attempts);
    sqlite3_bind_int(st, 13, job->reason);
    db_bind_text(st, 14, job->reason_text[0] ? job->reason_text : NULL);
    db_bind_text(st, 15, job->remote_id[0] ? job->remote_id : NULL);
    sqlite3_bind_text(st, 16, job->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 17, job->plan, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 18, job->cur);
    sqlite3_bind_text(st, 19, job->tries, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 20, job->next_at);
    sqlite3_bind_int(st, 21, (int)job->flags);
    job->qseq = job->status == GW_ST_QUEUED ? ++db_wr_qseq : 0;
    sqlite3_bind_int64(st, 22, job->qseq);
    sqlite3_bind_text(st, 23, job->sender ? job->sender : "", -1, SQLITE_STATIC);
    int rc = db_wr_step(st);
    if (rc == 0 && job->frag_key != NULL) /* assembled: its parts are done */
        rc = db_frag_exec_state(job->frag_key, DB_FRAG_DONE);
    if (rc == 0)
        rc = db_wr_exec_events(job, e->id);
    if (rc < 0)
        GW_ERR("db", "insert %s: %s", e->id, sqlite3_errmsg(db_wr_conn));
    return rc;
}

static int db_wr_submitted(db_job_t *job);

/* Bind and run an update (and its events); 0 or GW_ESTORE
 * (logged). */
static int db_wr_exec_update(db_job_t *job)
{
    sqlite3_stmt *st = db_wr_st_update;
    int rc;

    db_job_kids_drop(job); /* a retried group makes them again */
    if (job->new_env != NULL) {
        st = db_wr_st_replace;
        sqlite3_bind_text(st, 1, job->new_env, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, job->next_at); /* here: the new expires_at */
        sqlite3_bind_int64(st, 3, job->ts);
        sqlite3_bind_text(st, 4, job->id, -1, SQLITE_STATIC);
        rc = db_wr_step(st);
        job->unchanged = rc == 0 && sqlite3_changes(db_wr_conn) == 0;
        if (rc == 0 && !job->unchanged)
            rc = db_wr_exec_events(job, job->id);
        if (rc < 0)
            GW_ERR("db", "replace %s: %s", job->id, sqlite3_errmsg(db_wr_conn));
        return rc;
    }
    if (job->if_queued)
        st = db_wr_st_if_queued;
    sqlite3_bind_text(st, 1, gw_status_name((gw_status_t)job->status), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, job->attempts);
    sqlite3_bind_int(st, 3, job->reason);
    db_bind_text(st, 4, job->reason_text[0] ? job->reason_text : NULL);
    db_bind_text(st, 5, job->remote_id[0] ? job->remote_id : NULL);
    sqlite3_bind_text(st, 6, job->target, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, job->cur);
    sqlite3_bind_text(st, 8, job->tries, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, job->next_at);
    sqlite3_bind_int(st, 10, (int)job->flags);
    sqlite3_bind_int64(st, 11, job->ts);
    sqlite3_bind_text(st, 12, job->id, -1, SQLITE_STATIC);
    job->qseq = job->status == GW_ST_QUEUED ? ++db_wr_qseq : 0;
    if (job->qseq)
        sqlite3_bind_int64(st, 13, job->qseq);
    rc = db_wr_step(st);
    job->unchanged = rc == 0 && job->if_queued && sqlite3_changes(db_wr_conn) == 0;
    if (job->unchanged)
        return 0; /* no longer queued: nothing of it written */
    /* the row became final now (not a stale repeat): its sender's report */
    if (rc == 0 && job->env != NULL && sqlite3_changes(db_wr_conn) > 0) {
        db_report_row_t rr = { job->id, NULL, NULL, NULL,
                               job->remote_id[0] ? job->remote_id : NULL,
                               job->reason_text[0] ? job->reason_text : NULL,
                               job->target[0] ? job->target : NULL };
        db_wr_make_kid(job, job->env, &rr, (gw_status_t)job->status, NULL, job->reason, 0);
        rc = db_wr_exec_kids(job);
    } else if (rc == 0 && job->status == GW_ST_SUBMITTED && sqlite3_changes(db_wr_conn) > 0) {
        rc = db_wr_submitted(job);
    }
    if (rc == 0)
        rc = db_wr_exec_events(job, job->id);
    if (rc < 0)
        GW_ERR("db", "update %s: %s", job->id, sqlite3_errmsg(db_wr_conn));
    return rc;
}

/* Bind (target, remote_id) to st's first two parameters. */
static void db_wr_bind_key(sqlite3_stmt *st, const char *target, const char *remote_id)
{
    sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, remote_id, -1, SQLITE_STATIC);
}

static void db_wr_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* The outcome of a message sent in parts, once each part's receipt gave
 * its final word: 1 with *status / stat / *err (delivered when every part
 * was DELIVRD, else the first other part's word: EXPIRED expired, any
 * other failed), 0 while a part waits, GW_ESTORE. */
static int db_wr_fold(const char *id, int *status, char *stat, size_t statlen, int *err)
{
    sqlite3_stmt *st = db_wr_st_part_fold;
    int step, all = 1, bad = 0;

    *status = GW_ST_DELIVERED;
    gw_strlcpy(stat, "DELIVRD", statlen);
    *err = 0;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *w = (const char *)sqlite3_column_text(st, 0);
        if (w == NULL) {
            all = 0;
        } else if (strcmp(w, "DELIVRD") != 0 && !bad) {
            bad = 1;
            gw_strlcpy(stat, w, statlen);
            *err = sqlite3_column_int(st, 1);
            *status = strcmp(w, "EXPIRED") == 0 ? GW_ST_EXPIRED : GW_ST_FAILED;
        }
    }
    db_wr_done(st);
    return step != SQLITE_DONE ? GW_ESTORE : all;
}

/* Drop kid, the report job made last (at the head of its kids), unstored. */
static void db_wr_kid_unmake(db_job_t *job, db_job_t *kid)
{
    if (kid == NULL || job->kids != kid)
        return;
    job->kids = kid->knext;
    kid->cb(kid->arg, GW_ESTORE, 0);
    db_job_free(kid);
}

/* Place a receipt (stat, err; status: its final status, or GW_ST__COUNT
 * for a word that is not final) for the submit the far side knows as
 * remote_id through target, in job's transaction: the message waiting for
 * it is found by its remote_id (messages_remote) or, for a later part of
 * a message sent in parts, through parts.  A part's final word is kept;
 * the message gets its outcome when every part has one.  Its events go
 * into job->ev, its sender's report (if owed) is stored.  found gets the
 * message id ("" when none waits).  0 or GW_ESTORE. */
static int db_wr_receipt_place(db_job_t *job, const char *target, const char *remote_id,
                               const char *stat, int err, int status, char *found)
{
    sqlite3_stmt *row = db_wr_st_rcpt_find, *pf = db_wr_st_part_find;
    char mid[GW_ENV_ID_LEN + 1] = "", fstat[16];
    int rc = 0, step, fstatus = status, ferr = err;
    db_job_t *kid = NULL;

    found[0] = '\0';
    gw_strlcpy(fstat, stat, sizeof fstat);
    db_wr_bind_key(row, target, remote_id);
    step = sqlite3_step(row);
    if (step == SQLITE_DONE) { /* not a first part: perhaps a later one */
        db_wr_done(row);
        row = NULL;
        db_wr_bind_key(pf, target, remote_id);
        if ((step = sqlite3_step(pf)) == SQLITE_ROW)
            gw_strlcpy(mid, (const char *)sqlite3_column_text(pf, 0), sizeof mid);
        db_wr_done(pf);
        if (step == SQLITE_ROW && mid[0]) {
            row = db_wr_st_part_msg;
            sqlite3_bind_text(row, 1, mid, -1, SQLITE_STATIC);
            step = sqlite3_step(row);
        }
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = GW_ESTORE;
    if (rc == 0 && step == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(row, 2);
        int cst = gw_status_parse((const char *)sqlite3_column_text(row, 1));
        gw_strlcpy(found, (const char *)sqlite3_column_text(row, 0), GW_ENV_ID_LEN + 1);
        if ((sqlite3_column_int(row, 4) & GW_DLV_PARTS) && status < GW_ST__COUNT) {
            sqlite3_stmt *ps = db_wr_st_part_set;
            db_wr_bind_key(ps, target, remote_id);
            sqlite3_bind_text(ps, 3, stat, -1, SQLITE_STATIC);
            sqlite3_bind_int(ps, 4, err);
            rc = db_wr_step(ps);
            gw_stat_add(db_wr_st_parts, 1);
            int r = rc == 0 ? db_wr_fold(found, &fstatus, fstat, sizeof fstat, &ferr) : rc;
            if (r < 0)
                rc = r;
            else if (r == 0)
                fstatus = GW_ST__COUNT; /* another part has not said yet */
        }
        if (rc == 0 && db_wr_row_events != NULL)
            db_wr_row_events(&job->ev, found, json,
                             fstatus < GW_ST__COUNT ? (gw_status_t)fstatus : (gw_status_t)cst,
                             fstatus < GW_ST__COUNT ? fstat : stat, 1);
        if (rc == 0 && fstatus < GW_ST__COUNT) {
            db_report_row_t rr = { found, (const char *)sqlite3_column_text(row, 3),
                                   (const char *)sqlite3_column_text(row, 5), json,
                                   remote_id, NULL, target };
            kid = db_wr_make_kid(job, NULL, &rr, (gw_status_t)fstatus, fstat, ferr, 0);
        }
    }
    if (row != NULL)
        db_wr_done(row);
    if (rc == 0 && found[0] && fstatus < GW_ST__COUNT) {
        sqlite3_stmt *st = db_wr_st_rcpt_set;
        sqlite3_bind_text(st, 1, gw_status_name((gw_status_t)fstatus), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, ferr);
        sqlite3_bind_text(st, 3, fstat, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, job->ts);
        sqlite3_bind_text(st, 5, found, -1, SQLITE_STATIC);
        rc = db_wr_step(st);
        if (rc == 0 && sqlite3_changes(db_wr_conn) == 0)
            db_wr_kid_unmake(job, kid); /* not changed: owes no report */
        else if (rc == 0 && kid != NULL)
            rc = db_wr_exec_insert(kid);
    }
    return rc;
}

/* Find the receipt's message and apply it.  An unknown id is no error of
 * the store: rc 0, found_id empty; a final word for no waiting message is
 * parked in receipts_early (job->parked), for a submit_sm_resp it may
 * have overtaken.  A message already final keeps its state. */
static int db_wr_exec_receipt(db_job_t *job)
{
    int rc;

    job->found_id[0] = '\0';
    job->parked = 0;
    gw_evbatch_clear(&job->ev); /* a retried group builds them again */
    db_job_kids_drop(job);
    rc = db_wr_receipt_place(job, job->connector, job->remote_id, job->stat, job->reason,
                             job->status, job->found_id);
    /* its id's other forms (a connector's receipt_ids "auto"), only on a miss */
    for (const char *p = job->alt; rc == 0 && !job->found_id[0] && p && *p != '\0';) {
        char id[GW_REMOTE_ID_MAX];
        size_t n = strcspn(p, "\n");
        snprintf(id, sizeof id, "%.*s", (int)n, p);
        if (n > 0)
            rc = db_wr_receipt_place(job, job->connector, id, job->stat, job->reason,
                                     job->status, job->found_id);
        if (rc == 0 && job->found_id[0])
            gw_stat_add(db_wr_st_alt, 1);
        p += n + (p[n] == '\n');
    }
    if (rc == 0 && !job->found_id[0] && job->status < GW_ST__COUNT) {
        sqlite3_stmt *st = db_wr_st_early_add;
        db_wr_bind_key(st, job->connector, job->remote_id);
        sqlite3_bind_text(st, 3, job->stat, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, job->reason);
        sqlite3_bind_int(st, 5, job->status);
        sqlite3_bind_int64(st, 6, job->ts);
        rc = db_wr_step(st);
        if (rc == 0) {
            job->parked = 1;
            db_wr_early++;
        }
    }
    if (rc == 0 && job->found_id[0])
        rc = db_wr_exec_events(job, job->found_id);
    if (rc < 0)
        GW_ERR("db", "receipt %s from %s: %s", job->remote_id, job->connector,
               sqlite3_errmsg(db_wr_conn));
    return rc;
}

/* A receipt parked under form, now that the submit the far side knows as
 * remote_id is in: taken out of receipts_early and placed.  alias: form
 * is another form of remote_id (counted).  0 or GW_ESTORE. */
static int db_wr_take_early(db_job_t *job, const char *form, const char *remote_id, int alias)
{
    sqlite3_stmt *st = db_wr_st_early_take;
    char stat[16] = "", found[GW_ENV_ID_LEN + 1];
    int err = 0, status = GW_ST__COUNT, step;

    db_wr_bind_key(st, job->target, form);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        gw_strlcpy(stat, (const char *)sqlite3_column_text(st, 0), sizeof stat);
        err = sqlite3_column_int(st, 1);
        status = sqlite3_column_int(st, 2);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) /* RETURNING: run it to the end */
            ;
    }
    db_wr_done(st);
    if (step != SQLITE_DONE)
        return GW_ESTORE;
    if (stat[0] == '\0')
        return 0;
    db_wr_early--;
    gw_stat_add(db_wr_st_unparked, 1);
    if (alias)
        gw_stat_add(db_wr_st_alt, 1);
    return db_wr_receipt_place(job, job->target, remote_id, stat, err, status, found);
}

/* A message became submitted: record the ids of its parts, and place the
 * receipts that came ahead of it.  0 or GW_ESTORE. */
static int db_wr_submitted(db_job_t *job)
{
    char id[GW_REMOTE_ID_MAX];
    const char *p;
    int rc = 0, part = 0;

    for (p = job->part_ids; rc == 0 && p != NULL && *p != '\0'; part++) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        sqlite3_stmt *st = db_wr_st_part_add;
        snprintf(id, sizeof id, "%.*s", (int)n, p);
        db_wr_bind_key(st, job->target, id);
        sqlite3_bind_text(st, 3, job->id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, part);
        rc = db_wr_step(st);
        p += n + (nl != NULL);
    }
    if (rc != 0 || db_wr_early <= 0 || (job->flags & GW_DLV_NORCPT))
        return rc;
    if (job->part_ids == NULL && job->remote_id[0])
        rc = db_wr_take_early(job, job->remote_id, job->remote_id, 0);
    for (p = job->part_ids; rc == 0 && p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(id, sizeof id, "%.*s", (int)n, p);
        rc = db_wr_take_early(job, id, id, 0);
        p += n + (nl != NULL);
    }
    /* lines "form\tid": a receipt in another base, parked as it was written */
    for (p = job->alt; rc == 0 && p != NULL && *p != '\0';) {
        char form[GW_REMOTE_ID_MAX];
        size_t len = strcspn(p, "\n"), n = strcspn(p, "\t");
        if (n > 0 && n + 1 < len) { /* a form, a tab, an id */
            snprintf(form, sizeof form, "%.*s", (int)n, p);
            snprintf(id, sizeof id, "%.*s", (int)(len - n - 1), p + n + 1);
            rc = db_wr_take_early(job, form, id, 1);
        }
        p += len + (p[len] == '\n');
    }
    return rc;
}

/* Expire the rows the picker st returns (bound and ready), each with its
 * event; 0 or GW_ESTORE. */
static int db_wr_sweep_rows(db_job_t *job, sqlite3_stmt *st, const char *detail)
{
    int rc = 0, step;
    char (*ids)[GW_ENV_ID_LEN + 1] = calloc((size_t)job->limit, sizeof *ids);

    if (ids == NULL)
        return GW_ESTORE;
    job->swept = 0;
    while (job->swept < job->limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        if (id == NULL || strlen(id) != GW_ENV_ID_LEN)
            continue;
        memcpy(ids[job->swept], id, GW_ENV_ID_LEN + 1);
        gw_evbatch_clear(&job->sweep_ev[job->swept]);
        if (db_wr_row_events != NULL)
            db_wr_row_events(&job->sweep_ev[job->swept], id,
                             (const char *)sqlite3_column_text(st, 1), GW_ST_EXPIRED, detail, 0);
        {
            db_report_row_t rr = { id, (const char *)sqlite3_column_text(st, 2),
                                   (const char *)sqlite3_column_text(st, 3),
                                   (const char *)sqlite3_column_text(st, 1), NULL,
                                   detail, NULL };
            db_wr_make_kid(job, NULL, &rr, GW_ST_EXPIRED, NULL, 0,
                           job->sweep == DB_SWEEP_RECEIPT_WAIT);
        }
        job->swept++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; rc == 0 && i < job->swept; i++) {
        sqlite3_stmt *up = db_wr_st_sw_set;
        sqlite3_bind_text(up, 1, "expired", -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 2, detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 3, job->ts);
        sqlite3_bind_text(up, 4, ids[i], -1, SQLITE_STATIC);
        rc = db_wr_step(up);
        job->ev = job->sweep_ev[i]; /* borrow the batch for the outbox insert */
        if (rc == 0)
            rc = db_wr_exec_events(job, ids[i]);
        job->sweep_ev[i] = job->ev; /* with its seqs */
        memset(&job->ev, 0, sizeof job->ev);
    }
    if (rc == 0)
        rc = db_wr_exec_kids(job);
    free(ids);
    return rc;
}

/* One sweep batch; 0 or GW_ESTORE (logged). */
static int db_wr_exec_sweep(db_job_t *job)
{
    sqlite3_stmt *st;
    int rc = 0;

    db_job_kids_drop(job); /* a retried group makes them again */
    switch (job->sweep) {
    case DB_SWEEP_EXPIRE_QUEUED:
        st = db_wr_st_sw_queued;
        sqlite3_bind_int64(st, 1, job->now);
        sqlite3_bind_text(st, 2, job->target, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, job->after);
        sqlite3_bind_int(st, 4, job->limit);
        rc = db_wr_sweep_rows(job, st, "validity period passed");
        break;
    case DB_SWEEP_RECEIPT_WAIT:
        st = db_wr_st_sw_submitted;
        sqlite3_bind_int64(st, 1, job->older_than);
        sqlite3_bind_int(st, 2, job->limit);
        rc = db_wr_sweep_rows(job, st, "no delivery receipt in time");
        break;
    case DB_SWEEP_PURGE:
        st = db_wr_st_sw_purge_msgs;
        sqlite3_bind_int64(st, 1, job->older_than);
        sqlite3_bind_int(st, 2, job->limit);
        rc = db_wr_step(st);
        job->swept = rc == 0 ? sqlite3_changes(db_wr_conn) : 0;
        break;
    }
    if (rc < 0)
        GW_ERR("db", "sweep %d: %s", (int)job->sweep, sqlite3_errmsg(db_wr_conn));
    return rc;
}

/* The fragment jobs (db_frag.c); 0 or GW_ESTORE / GW_ENOMEM. */
static int db_wr_exec_frag(db_job_t *job)
{
    int rc, purged = 0;

    switch (job->kind) {
    case DB_JOB_FRAG:
        db_frag_set_free(job->frag_set); /* a retried group finds it again */
        job->frag_set = NULL;
        rc = db_frag_exec_add(job->frag_key, job->frag_seq, job->frag_total, job->frag_digest, job->json,
                              job->ts, &job->frag_dup, &job->frag_set);
        break;
    case DB_JOB_FRAG_SWEEP:
        for (int i = 0; i < job->frag_n; i++)
            db_frag_set_free(job->frag_sets[i]);
        job->frag_n = 0;
        rc = db_frag_exec_stale(job->older_than, job->limit, job->frag_sets, &job->frag_n,
                                &purged);
        break;
    default: /* DB_JOB_FRAG_STATE */
        rc = job->frag_state < 0 ? db_frag_exec_drop(job->frag_key)
                                 : db_frag_exec_state(job->frag_key, job->frag_state);
        break;
    }
    if (rc < 0)
        GW_ERR("db", "fragments: %s", sqlite3_errmsg(db_wr_conn));
    return rc;
}

/* A SIP address of record's bindings and the event of their change
 * (db_loc.c); 0 or GW_ESTORE. */
static int db_wr_exec_loc(db_job_t *job)
{
    int rc = db_loc_exec_put(job->frag_key, job->loc_json, job->ts);

    if (rc == 0)
        rc = db_wr_exec_events(job, NULL);
    if (rc < 0)
        GW_ERR("db", "sip location %s: %s", job->frag_key, sqlite3_errmsg(db_wr_conn));
    return rc;
}

/* Outbox rows past db.outbox_keep_s go, a few hundred per group, so the
 * purge never makes one commit long. */
static void db_wr_purge_outbox(void)
{
    int64_t keep = (int64_t)__atomic_load_n(&db_cfg_outbox_keep_s, __ATOMIC_RELAXED) * 1000;

    sqlite3_bind_int64(db_wr_st_purge, 1, gw_now_ms() - keep);
    if (db_wr_step(db_wr_st_purge) < 0)
        GW_WARN("db", "outbox purge: %s", sqlite3_errmsg(db_wr_conn));
    if (db_wr_early <= 0)
        return;
    /* early receipts nothing claimed within the hour go too */
    sqlite3_bind_int64(db_wr_st_early_purge, 1, gw_now_ms() - DB_WR_EARLY_KEEP_MS);
    if (db_wr_step(db_wr_st_early_purge) < 0)
        GW_WARN("db", "early receipts purge: %s", sqlite3_errmsg(db_wr_conn));
    else if (sqlite3_changes(db_wr_conn) > 0)
        db_wr_early -= sqlite3_changes(db_wr_conn);
}

/* db.commit_us_1s: the slowest commit of the second (of the writer's
 * clock) in which the last commit started, for the self-diagnosis; it
 * keeps its value while no commit runs (readers pair it with db.commits).
 * Writer thread. */
static void db_wr_note_slowest(int64_t t0_us, int64_t us)
{
    static int64_t second = -1, slowest;

    if (t0_us / 1000000 != second) {
        second = t0_us / 1000000;
        slowest = 0;
    }
    if (us > slowest)
        slowest = us;
    gw_stat_set(db_wr_st_commit_us_1s, slowest);
}

/* Run the data jobs of jobs[0..n) in one transaction.  Returns 0 when
 * committed, or GW_ESTORE when the group was rolled back (logged once).
 * Sets each run job's rc.  Writer thread. */
static int db_wr_commit_group(db_job_t **jobs, size_t n)
{
    size_t rows = 0;
    int64_t t0 = db_wr_now_us();
    static unsigned groups;

    if (db_wr_step(db_wr_st_begin) < 0)
        goto out_fail;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i]->kind == DB_JOB_INSERT)
            jobs[i]->rc = db_wr_exec_insert(jobs[i]);
        else if (jobs[i]->kind == DB_JOB_UPDATE)
            jobs[i]->rc = db_wr_exec_update(jobs[i]);
        else if (jobs[i]->kind == DB_JOB_RECEIPT)
            jobs[i]->rc = db_wr_exec_receipt(jobs[i]);
        else if (jobs[i]->kind == DB_JOB_SWEEP)
            jobs[i]->rc = db_wr_exec_sweep(jobs[i]);
        else if (jobs[i]->kind == DB_JOB_EVENT)
            jobs[i]->rc = db_wr_exec_events(jobs[i], NULL);
        else if (jobs[i]->kind == DB_JOB_LOC)
            jobs[i]->rc = db_wr_exec_loc(jobs[i]);
        else if (jobs[i]->kind < DB_JOB_BARRIER)
            jobs[i]->rc = db_wr_exec_frag(jobs[i]);
        else
            continue;
        rows += jobs[i]->rc == 0;
        /* Some errors (I/O, full disk) roll the whole transaction back;
         * a failing update must not commit without its later ones. */
        if (sqlite3_get_autocommit(db_wr_conn) ||
            (jobs[i]->rc < 0 && jobs[i]->kind != DB_JOB_INSERT && jobs[i]->kind != DB_JOB_FRAG &&
             jobs[i]->kind != DB_JOB_FRAG_SWEEP && jobs[i]->kind != DB_JOB_LOC))
            goto out_fail;
    }
    if (++groups % 64 == 0)
        db_wr_purge_outbox();
    if (db_wr_step(db_wr_st_commit) < 0)
        goto out_fail;
    int64_t us = db_wr_now_us() - t0;
    gw_stat_add(db_wr_st_commits, 1);
    gw_stat_add(db_wr_st_rows, (int64_t)rows);
    gw_stat_set(db_wr_st_commit_us_last, us);
    gw_hist_observe_us(db_wr_hist_commit, us);
    if (us > gw_stat_get(db_wr_st_commit_us_max))
        gw_stat_set(db_wr_st_commit_us_max, us);
    db_wr_note_slowest(t0, us);
    return 0;

out_fail:
    GW_ERR("db", "group of %zu job(s) not stored: %s", n, sqlite3_errmsg(db_wr_conn));
    if (!sqlite3_get_autocommit(db_wr_conn))
        sqlite3_exec(db_wr_conn, "ROLLBACK", NULL, NULL, NULL);
    gw_stat_add(db_wr_st_errors, 1);
    return GW_ESTORE;
}

/* Hand the job's committed events to the hook. */
static void db_wr_publish_batch(const gw_evbatch_t *ev)
{
    for (int i = 0; i < ev->n; i++)
        db_wr_on_event(ev->seqs[i], ev->types[i], ev->texts[i]);
    gw_stat_add(db_wr_st_events, ev->n);
}

static void db_wr_publish(db_job_t *job)
{
    if (db_wr_on_event == NULL || job->unchanged)
        return; /* a conditional change that found nothing wrote no events */
    db_wr_publish_batch(&job->ev);
    for (int i = 0; job->sweep_ev != NULL && i < job->swept; i++)
        db_wr_publish_batch(&job->sweep_ev[i]);
}

/* Commit one batch, then answer it: callbacks, events, barriers.  Updates
 * and receipts of a failed group go to db_wr_retry in order.  Returns 1
 * when the batch held the stop job.  Writer thread. */
static int db_wr_run_batch(db_job_t **jobs, size_t n)
{
    int stop = 0, data = 0;
    int group_rc = db_wr_commit_group(jobs, n);

    for (size_t i = 0; i < n; i++)
        data += jobs[i]->kind < DB_JOB_BARRIER;
    if (group_rc < 0)
        __atomic_store_n(&db_wr_fail_ms, gw_now_ms(), __ATOMIC_RELAXED);
    /* only a group that wrote something tells whether the store works */
    if (data > 0)
        __atomic_store_n(&db_wr_fail, group_rc < 0, __ATOMIC_RELAXED);
    db_wr_nretry = 0;
    /* the group's answers go to a few loops (adapters, the core): each is
     * woken once when they are all queued, not once per answer */
    gw_queue_hold();
    for (size_t i = 0; i < n; i++) {
        db_job_t *job = jobs[i];
        switch (job->kind) {
        case DB_JOB_INSERT:
            if (group_rc == 0 && job->rc == 0)
                db_wr_publish(job);
            if (job->cb != NULL)
                job->cb(job->arg, group_rc < 0 ? GW_ESTORE : job->rc,
                        group_rc < 0 ? 0 : job->qseq);
            db_job_free(job);
            break;
        case DB_JOB_FRAG:
            if (job->fcb != NULL) {
                db_frag_set_t *set = group_rc == 0 && job->rc == 0 ? job->frag_set : NULL;
                job->frag_set = NULL; /* the callee's */
                job->fcb(job->arg, group_rc < 0 ? GW_ESTORE : job->rc, job->frag_dup, set);
            }
            db_job_free(job);
            break;
        case DB_JOB_LOC:
            if (group_rc == 0 && job->rc == 0)
                db_wr_publish(job);
            if (job->lcb != NULL)
                job->lcb(job->arg, group_rc < 0 ? GW_ESTORE : job->rc);
            db_job_free(job);
            break;
        case DB_JOB_FRAG_SWEEP:
            for (int k = 0; group_rc == 0 && job->rc == 0 && k < job->frag_n; k++) {
                db_frag_set_t *set = job->frag_sets[k];
                job->frag_sets[k] = NULL;
                job->feach(job->arg, set);
            }
            if (job->fdone != NULL)
                job->fdone(job->arg, group_rc == 0 && job->rc == 0 ? job->frag_n : 0);
            db_job_free(job);
            break;
        case DB_JOB_FRAG_STATE:
        case DB_JOB_EVENT:
        case DB_JOB_UPDATE:
        case DB_JOB_RECEIPT:
        case DB_JOB_SWEEP:
            if (group_rc < 0) {
                db_wr_retry[db_wr_nretry++] = job; /* never freed unstored */
                break;
            }
            db_wr_publish(job);
            db_wr_kids_committed(job);
            if (job->kind == DB_JOB_UPDATE && job->cb != NULL)
                job->cb(job->arg, job->unchanged ? GW_ENOTFOUND : 0, job->qseq);
            else if (job->kind == DB_JOB_SWEEP && job->scb != NULL)
                job->scb(job->arg, job->swept);
            else if (job->kind == DB_JOB_RECEIPT && job->rcb != NULL)
                job->rcb(job->arg, job->found_id[0] ? 0 : job->parked ? GW_EAGAIN : GW_ENOTFOUND,
                         job->found_id[0] ? job->found_id : NULL);
            db_job_free(job);
            break;
        case DB_JOB_BARRIER:
            /* a flush waits for the updates before it to land */
            if (group_rc < 0) {
                db_wr_retry[db_wr_nretry++] = job;
                break;
            }
            if (job->barrier == NULL) {
                job->cb(job->arg, 0, 0); /* db_writer_after */
                free(job);
                break;
            }
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
    gw_queue_release();
    if (db_wr_nretry > 0)
        gw_stat_add(db_wr_st_retried, (int64_t)db_wr_nretry);
    return stop;
}

/* Stopping with updates that never committed: say which, then release
 * them (their rows keep the state before; recovery resends). */
static void db_wr_give_up(void)
{
    for (size_t i = 0; i < db_wr_nretry; i++) {
        db_job_t *job = db_wr_retry[i];
        if (job->kind == DB_JOB_BARRIER && job->barrier == NULL) {
            job->cb(job->arg, GW_ESTOPPED, 0);
            free(job);
            continue;
        }
        if (job->kind == DB_JOB_BARRIER) {
            pthread_mutex_lock(&job->barrier->lock);
            job->barrier->done = 1;
            pthread_cond_signal(&job->barrier->cond);
            pthread_mutex_unlock(&job->barrier->lock);
            free(job);
            continue;
        }
        GW_ERR("db", "stopping: message %s: a state change never committed",
               job->kind == DB_JOB_RECEIPT ? job->remote_id : job->id);
        if (job->kind == DB_JOB_RECEIPT && job->rcb != NULL)
            job->rcb(job->arg, GW_ESTORE, NULL);
        else if (job->kind == DB_JOB_SWEEP && job->scb != NULL)
            job->scb(job->arg, 0);
        db_job_free(job);
    }
    db_wr_nretry = 0;
}

/* Gather more jobs for a group that holds n: wait while they keep
 * coming, at most db.group_wait_us in all, in slices of db.group_idle_us
 * each of which ends early once the group is full (one wake-up, pushes
 * before do not wake the writer).  A slice in which nothing came ends
 * the wait: a peer that waits for its answers (a window of submits) or a
 * lone message loses one slice, an open stream (SIPp, a paced ESME)
 * fills the whole wait.  Returns how many jobs it added to db_wr_batch.
 * Writer thread. */
static size_t db_wr_gather(size_t n)
{
    int wait_us = __atomic_load_n(&db_cfg_group_wait_us, __ATOMIC_RELAXED);
    int idle_us = __atomic_load_n(&db_cfg_group_idle_us, __ATOMIC_RELAXED);
    size_t want = DB_WR_GROUP_FULL < (size_t)db_wr_batch_max ? DB_WR_GROUP_FULL
                                                             : (size_t)db_wr_batch_max;
    int64_t end = db_wr_now_us() + wait_us;
    size_t added = 0;

    if (wait_us <= 0 || n >= want)
        return 0;
    if (idle_us <= 0 || idle_us > wait_us)
        idle_us = wait_us;
    while (n + added < want) {
        int64_t left = end - db_wr_now_us();
        if (left <= 0)
            break;
        int reached = gw_queue_wait_len(db_wr_queue, want - n - added,
                                        left < idle_us ? (int)left : idle_us);
        size_t got = gw_queue_pop_many(db_wr_queue, (void **)db_wr_batch + n + added,
                                       (size_t)db_wr_batch_max - n - added);
        added += got;
        if (!reached && got == 0) {
            gw_stat_add(db_wr_st_gather_idle, 1);
            return added;
        }
    }
    gw_stat_add(n + added >= want ? db_wr_st_gather_full : db_wr_st_gather_spent, 1);
    return added;
}

static void *db_wr_main(void *arg)
{
    int backoff_ms = 0, stop = 0;
    size_t last_n = 0; /* jobs in the last group */

    (void)arg;
    while (!stop) {
        size_t n = 0;
        if (db_wr_nretry > 0) {
            /* a failed group: wait, then run its updates first, in order */
            backoff_ms = backoff_ms ? (backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2) : 100;
            struct timespec ts = { backoff_ms / 1000, (long)(backoff_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            memcpy(db_wr_batch, db_wr_retry, db_wr_nretry * sizeof *db_wr_batch);
            n = db_wr_nretry;
            db_wr_nretry = 0;
        } else {
            backoff_ms = 0;
            db_job_t *first = gw_queue_pop(db_wr_queue, -1);
            if (first == NULL)
                continue;
            db_wr_batch[n++] = first;
        }
        if (n < (size_t)db_wr_batch_max)
            n += gw_queue_pop_many(db_wr_queue, (void **)db_wr_batch + n,
                                   (size_t)db_wr_batch_max - n);
        /* A short queue: wait a bounded moment for more, so one commit
         * (its WAL page writes and its fsync, most of the writer's cost)
         * carries more rows.  Not right after a full group: under load the
         * commit itself gathers the next group. */
        if (n < DB_WR_GROUP_FULL && n < (size_t)db_wr_batch_max && last_n < DB_WR_GROUP_FULL)
            n += db_wr_gather(n);
        last_n = n;
        gw_stat_set(db_wr_st_batch_last, (int64_t)n);
        gw_stat_set(db_wr_st_queue, (int64_t)gw_queue_len(db_wr_queue));
        stop = db_wr_run_batch(db_wr_batch, n);
        if (stop && db_wr_nretry > 0) {
            /* the stop job came with a failing group: a few last tries */
            for (int i = 0; i < 3 && db_wr_nretry > 0; i++) {
                struct timespec ts = { 0, 200 * 1000000L };
                nanosleep(&ts, NULL);
                memcpy(db_wr_batch, db_wr_retry, db_wr_nretry * sizeof *db_wr_batch);
                n = db_wr_nretry;
                db_wr_run_batch(db_wr_batch, n);
            }
            db_wr_give_up();
        }
    }
    return NULL;
}

static void db_wr_close_conn(void)
{
    sqlite3_stmt **sts[] = { &db_wr_st_insert,       &db_wr_st_update,        &db_wr_st_outbox,
                             &db_wr_st_rcpt_find,    &db_wr_st_rcpt_set,      &db_wr_st_purge,
                             &db_wr_st_sw_queued,    &db_wr_st_sw_submitted,  &db_wr_st_sw_set,
                             &db_wr_st_sw_purge_msgs, &db_wr_st_qseq_max,     &db_wr_st_begin,
                             &db_wr_st_commit,       &db_wr_st_part_add,      &db_wr_st_part_find,
                             &db_wr_st_part_msg,     &db_wr_st_part_set,      &db_wr_st_part_fold,
                             &db_wr_st_early_add,    &db_wr_st_early_take,    &db_wr_st_early_purge,
                             &db_wr_st_early_count,  &db_wr_st_replace,      &db_wr_st_if_queued };
    for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++) {
        sqlite3_finalize(*sts[i]);
        *sts[i] = NULL;
    }
    db_frag_finalize();
    db_loc_finalize();
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
    db_wr_st_commit_us_last = gw_stat_gauge("db.commit_us_last", "duration of the last group commit");
    db_wr_st_commit_us_max = gw_stat_gauge("db.commit_us_max", "longest group commit");
    db_wr_hist_commit = gw_hist("db.commit_seconds",
                                "duration of each group commit of the writer, BEGIN to COMMIT");
    db_wr_st_commit_us_1s = gw_stat_gauge("db.commit_us_1s",
                                          "slowest group commit of the second of the last one");
    db_wr_st_errors = gw_stat("db.errors", "groups rolled back");
    db_wr_st_queue = gw_stat_gauge("db.queue", "jobs waiting for the writer");
    db_wr_st_batch_last = gw_stat_gauge("db.batch_last", "jobs in the last group");
    db_wr_st_gather_full = gw_stat("db.gather_full", "group waits ended by a full group");
    db_wr_st_gather_idle = gw_stat("db.gather_idle",
                                   "group waits ended by db.group_idle_us without a new job");
    db_wr_st_gather_spent = gw_stat("db.gather_spent", "group waits that took all of db.group_wait_us");
    db_wr_st_ckpt_inline = gw_stat("db.checkpoints_inline",
                                   "WAL checkpoints the writer ran itself (no checkpointer, or "
                                   "the WAL past 8000 frames)");
    db_wr_st_refused = gw_stat("db.refused", "new messages refused: writer queue full or failing");
    db_wr_st_retried = gw_stat("db.retried", "state changes run again after a failed group");
    db_wr_st_events = gw_stat("db.events", "events committed to the outbox");
    db_wr_st_wal_pages = gw_stat("db.wal_pages", "pages the writer's commits wrote to the WAL");
    db_wr_st_unparked = gw_stat("db.receipts_unparked",
                                "receipts that came ahead of their submit_sm_resp, placed when it came");
    db_wr_st_parts = gw_stat("db.part_receipts", "receipts of parts of messages sent in parts");
    db_wr_st_alt = gw_stat("db.receipts_alt",
                           "receipts placed under another form of their id (receipt_ids auto)");
    if (db_conn_open(db_path(), db_writer_sync_level(), &db_wr_conn) < 0)
        return GW_ESTORE;
    db_wr_st_insert = db_prepare(db_wr_conn, db_wr_sql_insert, "insert message");
    db_wr_st_update = db_prepare(db_wr_conn, db_wr_sql_update, "update message");
    db_wr_st_outbox = db_prepare(db_wr_conn, db_wr_sql_outbox, "insert event");
    db_wr_st_rcpt_find = db_prepare(db_wr_conn, db_wr_sql_rcpt_find, "find receipt");
    db_wr_st_rcpt_set = db_prepare(db_wr_conn, db_wr_sql_rcpt_set, "apply receipt");
    db_wr_st_purge = db_prepare(db_wr_conn, db_wr_sql_purge, "purge outbox");
    db_wr_st_sw_queued = db_prepare(db_wr_conn, db_wr_sql_sw_queued, "sweep queued");
    db_wr_st_sw_submitted = db_prepare(db_wr_conn, db_wr_sql_sw_submitted, "sweep submitted");
    db_wr_st_sw_set = db_prepare(db_wr_conn, db_wr_sql_sw_set, "sweep set");
    db_wr_st_sw_purge_msgs = db_prepare(db_wr_conn, db_wr_sql_sw_purge_msgs, "purge messages");
    db_wr_st_qseq_max = db_prepare(db_wr_conn, db_wr_sql_qseq_max, "max qseq");
    db_wr_st_begin = db_prepare(db_wr_conn, "BEGIN IMMEDIATE", "begin");
    db_wr_st_commit = db_prepare(db_wr_conn, "COMMIT", "commit");
    if (db_wr_st_insert == NULL || db_wr_st_update == NULL ||
        db_wr_st_outbox == NULL || db_wr_st_rcpt_find == NULL || db_wr_st_rcpt_set == NULL ||
        db_wr_st_purge == NULL || db_wr_st_sw_queued == NULL || db_wr_st_sw_submitted == NULL ||
        db_wr_st_sw_set == NULL || db_wr_st_sw_purge_msgs == NULL ||
        db_wr_st_qseq_max == NULL || db_wr_st_begin == NULL ||
        db_wr_st_commit == NULL)
        goto out_close_conn;
    {
        static const struct {
            sqlite3_stmt **st;
            const char *sql, *what;
        } more[] = {
            { &db_wr_st_part_add, db_wr_sql_part_add, "add part" },
            { &db_wr_st_part_find, db_wr_sql_part_find, "find part" },
            { &db_wr_st_part_msg, db_wr_sql_part_msg, "message of a part" },
            { &db_wr_st_part_set, db_wr_sql_part_set, "part receipt" },
            { &db_wr_st_part_fold, db_wr_sql_part_fold, "fold parts" },
            { &db_wr_st_early_add, db_wr_sql_early_add, "park receipt" },
            { &db_wr_st_early_take, db_wr_sql_early_take, "take parked receipt" },
            { &db_wr_st_early_purge, db_wr_sql_early_purge, "purge parked receipts" },
            { &db_wr_st_early_count, db_wr_sql_early_count, "count parked receipts" },
            { &db_wr_st_replace, db_wr_sql_replace, "replace message" },
            { &db_wr_st_if_queued, db_wr_sql_if_queued, "update a queued message" },
        };
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            if ((*more[i].st = db_prepare(db_wr_conn, more[i].sql, more[i].what)) == NULL)
                goto out_close_conn;
    }
    if (db_frag_prepare(db_wr_conn) != 0 || db_loc_prepare(db_wr_conn) != 0)
        goto out_close_conn;
    if (sqlite3_step(db_wr_st_early_count) != SQLITE_ROW)
        goto out_close_conn;
    db_wr_early = sqlite3_column_int64(db_wr_st_early_count, 0);
    sqlite3_reset(db_wr_st_early_count);
    if (sqlite3_step(db_wr_st_qseq_max) != SQLITE_ROW)
        goto out_close_conn;
    db_wr_qseq = sqlite3_column_int64(db_wr_st_qseq_max, 0);
    sqlite3_reset(db_wr_st_qseq_max);
    db_wr_wal_last = 0;
    db_wr_next_kick = DB_WR_CHECKPOINT_PAGES;
    sqlite3_wal_hook(db_wr_conn, db_wr_wal_hook, NULL);
    rc = GW_ENOMEM;
    db_wr_batch_max = db_cfg_batch_max > 0 ? db_cfg_batch_max : 1;
    db_wr_batch = calloc((size_t)db_wr_batch_max, sizeof *db_wr_batch);
    db_wr_retry = calloc((size_t)db_wr_batch_max, sizeof *db_wr_retry);
    if (db_wr_batch == NULL || db_wr_retry == NULL)
        goto out_free_batch;
    db_wr_queue = gw_queue_new(0, db_job_drop);
    if (db_wr_queue == NULL)
        goto out_free_batch;
    db_wr_accepting = 1;
    __atomic_store_n(&db_wr_fail, 0, __ATOMIC_RELAXED);
    if (pthread_create(&db_wr_thread, NULL, db_wr_main, NULL) != 0) {
        rc = GW_ERROR;
        goto out_free_queue;
    }
    pthread_setname_np(db_wr_thread, "writer");
    db_wr_running = 1;
    if (db_ckpt_start() != 0) /* the writer checkpoints itself meanwhile */
        GW_WARN("db", "no checkpointer thread: the writer checkpoints the WAL itself");
    GW_INFO("db", "writer started (synchronous %s, batch up to %d)", db_writer_sync_level(),
            db_wr_batch_max);
    return 0;

out_free_queue:
    db_wr_accepting = 0;
    gw_queue_free(db_wr_queue);
    db_wr_queue = NULL;
out_free_batch:
    free(db_wr_batch);
    free(db_wr_retry);
    db_wr_batch = db_wr_retry = NULL;
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
    db_ckpt_stop();
    db_wr_running = 0;
    gw_queue_free(db_wr_queue);
    db_wr_queue = NULL;
    free(db_wr_batch);
    free(db_wr_retry);
    db_wr_batch = db_wr_retry = NULL;
    db_wr_close_conn();
    GW_INFO("db", "writer stopped");
}
