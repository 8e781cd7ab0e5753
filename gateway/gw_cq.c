/*
 * gw_cq.c - connector queues on the core thread: credit, paging, retries,
 * the sweep.
 *
 * A queue (gw_cq_t) holds, for one target name, a FIFO of deliveries ready
 * to go, a retry list sorted by next attempt, and the state of its pager.
 * Everything in it belongs to the core thread, which runs one libevent
 * loop fed by gw_cq_inq: other threads only push commands (a delivery
 * ready, a retry, a kick) and touch the atomic counters.
 *
 * Feeding: pump() hands the oldest delivery to gw_core_begin_send() while
 * fewer deliveries are outstanding against the queue than the connector's
 * room (conn_room: its window, times core.room_windows) and GW_CQ_OUTSTANDING_MAX.  A delivery is
 * outstanding from begin_send until the outcome the adapter reported is
 * queued for the store (gw_cq_settle_queue from gw_core.c): the writer
 * commits in queue order and the next begin_send's mark is queued after
 * that outcome, so at most the room is ever "sending" in the store: what
 * a crash can send twice.  Otherwise the queue waits for a
 * kick: a settle, the adapter's credit (gw_core_credit, e.g. a bind that
 * came up) or the sweep's tick, which pumps every queue once a period so
 * that no lost kick can stall one.
 *
 * Bounded memory and the store order.  The writer numbers every row that
 * becomes queued (qseq, commit order) and deliveries arrive here in that
 * order.  cursor is the highest qseq the queue has taken in.  While the
 * FIFO has room, arrivals are kept; past core.queue_memory the queue
 * spills: an arrival with qseq > cursor is dropped from memory (its row is
 * queued in the store) and the pager reads rows with qseq > cursor back,
 * in order, when the FIFO runs low.  Every dropped row has qseq > cursor,
 * so a page reaches it.  Arrivals while spilled are held aside, in qseq
 * order (side, at most core.queue_memory of them: a queue holds at most
 * twice that), and a page reads the store only up to the first held row.
 * A page that comes back short has brought every row before the held
 * ones: those follow it into the FIFO and the spill ends, under steady
 * traffic too.  (A page bounded only below came back full for as long as
 * traffic flowed, the backlog it read being refilled by the arrivals it
 * dropped: every message was read back from the store.)  An arrival
 * dropped because the side was full (dirty) leaves rows after the held
 * ones only in the store: the held rows still follow the short page, and
 * the queue stays spilled until a later page catches up.  Rows in the retry list may also be
 * read by a page: those are skipped (the list keeps them), and when they
 * come due they are kept if cursor passed them and dropped (to be paged)
 * if not.  Start-up is a spill from qseq 0.
 *
 * Rows changed behind the pager.  A cancel or replace of a message no
 * list may safely give up (gw_cancel.c: only in the store, held aside, or
 * above a spilled cursor) holds its id (gw_cq_hold_id) while the writer
 * changes the row only if it is still queued.  Every copy memory has is
 * taken then, and every copy that arrives - a page read before the
 * commit, a hand-over - is caught, so none is sent before the outcome is
 * known; then the copies are freed (cancelled), renewed (replaced) or
 * put back (nothing changed: the row had left its queue).  Pages are read
 * on the pool and merged here, so one read before the commit can be
 * merged after it: an entry lives until every page asked for before its
 * outcome came back (page_no), and in that time a cancelled id's copies
 * are freed and a replaced one's renewed.  Put back, a copy above the
 * first held row returns among the held rows, where no page reads.
 *
 * The sweep, every core.sweep_ms: expires what the queues hold and, for a
 * spilled queue, the store's rows beyond its cursor; expires submitted
 * messages whose receipt did not come in core.receipt_wait_s; purges final
 * messages past core.retention_s, a bounded batch per writer group; moves
 * the deliveries of a target that stayed down core.failover_after_s to the
 * next target of their plan.
 *
 * Threads: the entry points of gw_cq.h from any thread (but
 * gw_cq_hold_id / gw_cq_unhold_id: the core thread); the rest on the core
 * thread; page reads on the worker pool.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "../db/db.h"
#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_core_int.h"
#include "gw_cq.h"
#include "gw_frag.h"
#include "gw_str.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_queue.h"
#include "gw_stats.h"
#include "gw_work.h"

#define GW_CQ_MAX 256          /* target names */
#define GW_CQ_OUTSTANDING_MAX 4096 /* for connectors that give no room */
#define GW_CQ_SWEEP_BATCH 500

typedef struct gw_cq {
    char name[GW_NAME_MAX];
    /* any thread (atomics) */
    int64_t backlog;          /* queued rows of this target */
    int outstanding;          /* sending, their outcome not yet queued for the store */
    int kick;                 /* a KICK command is queued */
    int nmem_pub, nretry_pub, spilled_pub;
    int64_t down_since_pub;
    int64_t entered[GW_ST__COUNT]; /* deliveries of this target that entered each status */
    /* core thread */
    gw_delivery_t *head, *tail;
    int nmem;
    gw_delivery_t *retry;     /* sorted by next_at */
    int nretry;
    struct event *retry_ev;
    int spilled, dirty, sweep_inflight;
    gw_delivery_t *side, *side_tail; /* arrivals held while a page is read */
    int nside;
    /* the connector's throughput limit ("throughput", msg/s, in its conf) */
    double tokens;
    int64_t tokens_us;        /* when tokens was last refilled */
    struct event *tput_ev;    /* the pump again when the next token is due */
    int64_t page_inflight;    /* ms when the page read was asked for; 0: none */
    int64_t page_no;          /* its number (gw_cq_page_no) while it is read */
    int64_t cursor;
    int64_t down_since;       /* ms; 0 while it takes what waits */
} gw_cq_t;

typedef enum {
    GW_CQ_READY = 0,
    GW_CQ_RETRY,
    GW_CQ_KICK,
    GW_CQ_PAGE,
    GW_CQ_SWEPT,
    GW_CQ_SEED,
    GW_CQ_WITHDRAW,
    GW_CQ_CALL,
} gw_cq_cmd_kind_t;

typedef struct gw_cq_cmd {
    gw_cq_cmd_kind_t kind;
    gw_delivery_t *d;         /* READY, RETRY: owned; PAGE: a list (qnext) */
    gw_cq_t *q;               /* KICK, PAGE, SWEPT */
    int n, asked;             /* PAGE */
    gw_cq_pick_fn_t pick;     /* WITHDRAW; done also CALL's */
    void (*each)(gw_delivery_t *d, void *arg);
    void (*done)(void *arg, int n);
    void *arg;
} gw_cq_cmd_t;

/* The registry: entries are appended under gw_cq_lock and never removed
 * while the core runs, so readers scan [0, gw_cq_n) without the lock. */
static pthread_mutex_t gw_cq_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_cq_t *gw_cq_all[GW_CQ_MAX];
static int gw_cq_n; /* atomic */

static struct event_base *gw_cq_base;
static gw_queue_t *gw_cq_inq;
static struct event *gw_cq_sweep_ev;
static pthread_t gw_cq_thread;
static int gw_cq_running;
static int gw_cq_rw_inflight, gw_cq_purge_inflight; /* core thread */
static int gw_cq_quiet; /* atomic: stopping, feed nothing more */
static gw_stat_t *gw_cq_st_spills, *gw_cq_st_pages, *gw_cq_st_paged, *gw_cq_st_dropped,
    *gw_cq_st_swept, *gw_cq_st_purged, *gw_cq_st_moved, *gw_cq_st_caught;

/* A message whose row the core changes in the store without holding it
 * (gw_cq_hold): what arrives of it meanwhile is caught here. */
typedef struct gw_cq_held {
    struct gw_cq_held *next;
    char id[GW_ENV_ID_LEN + 1];
    gw_delivery_t *copies;    /* caught while the change runs (qnext) */
    int open;                 /* the change's outcome is not known yet */
    int gone;                 /* it committed and the row is final */
    gw_envelope_t *env;       /* it committed a new envelope (a reference) */
    char *env_json;
    int64_t page_no;          /* the pages asked for when the outcome was known */
} gw_cq_held_t;
static gw_cq_held_t *gw_cq_held;  /* core thread */
static int64_t gw_cq_page_no;     /* core thread: pages asked for so far */
static int gw_cq_held_catch(gw_delivery_t *d);
static void gw_cq_held_gc(void);

static void gw_cq_pump(gw_cq_t *q);
static void gw_cq_metrics(gw_metrics_t *m, void *arg);
static int gw_cq_conn_room(gw_connector_t *c);

/* ---- the registry --------------------------------------------------------- */

static gw_cq_t *gw_cq_find(const char *name)
{
    int n = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE);

    for (int i = 0; i < n; i++)
        if (strcmp(gw_cq_all[i]->name, name) == 0)
            return gw_cq_all[i];
    return NULL;
}

/* The queue of name, made on first use; NULL when the registry is full
 * or out of memory (logged). */
static gw_cq_t *gw_cq_get(const char *name)
{
    gw_cq_t *q = gw_cq_find(name);

    if (q != NULL || name[0] == '\0')
        return q;
    pthread_mutex_lock(&gw_cq_lock);
    q = gw_cq_find(name);
    if (q == NULL && gw_cq_n < GW_CQ_MAX && (q = calloc(1, sizeof(*q))) != NULL) {
        gw_strlcpy(q->name, name, sizeof q->name);
        gw_cq_all[gw_cq_n] = q;
        __atomic_store_n(&gw_cq_n, gw_cq_n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&gw_cq_lock);
    if (q == NULL)
        GW_ERR("core", "no queue for target %s (at most %d targets)", name, GW_CQ_MAX);
    return q;
}

/* c's throughput limit in messages per second, 0 for none: its conf's
 * "throughput" (connectors.add checks it).  Any thread. */
static double gw_cq_throughput(const gw_connector_t *c)
{
    const json_t *v = c && c->conf ? json_object_get(c->conf, "throughput") : NULL;

    return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
}

void *gw_cq_reserve(const char *name)
{
    gw_cq_t *q = gw_cq_get(name);
    gw_connector_t *c;
    int room, cur;

    if (q == NULL || __atomic_load_n(&gw_cq_quiet, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&q->backlog, __ATOMIC_RELAXED) != 0 ||
        __atomic_load_n(&q->nmem_pub, __ATOMIC_RELAXED) != 0 ||
        __atomic_load_n(&q->spilled_pub, __ATOMIC_RELAXED))
        return NULL;
    c = gw_connector_get(name);
    /* a connector with a throughput limit is fed by the pump only, which
     * keeps the limit's bucket on the core thread */
    room = gw_cq_throughput(c) > 0 ? 0 : gw_cq_conn_room(c);
    if (c)
        gw_connector_put(c);
    cur = __atomic_load_n(&q->outstanding, __ATOMIC_RELAXED);
    while (cur < room)
        if (__atomic_compare_exchange_n(&q->outstanding, &cur, cur + 1, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return q;
    return NULL;
}

int gw_cq_can_send(const char *name)
{
    gw_connector_t *c = gw_connector_get(name);
    int room = gw_cq_conn_room(c);

    if (c)
        gw_connector_put(c);
    return room > 0;
}

int64_t gw_cq_backlog(const char *name)
{
    gw_cq_t *q = gw_cq_find(name);
    return q ? __atomic_load_n(&q->backlog, __ATOMIC_RELAXED) : 0;
}

void gw_cq_backlog_add(const char *name, int64_t delta)
{
    gw_cq_t *q = gw_cq_get(name);
    if (q != NULL)
        __atomic_add_fetch(&q->backlog, delta, __ATOMIC_RELAXED);
}

void gw_cq_declare(const char *name)
{
    (void)gw_cq_get(name); /* a full registry is logged there */
}

void gw_cq_count(const char *name, gw_status_t st)
{
    gw_cq_t *q = st < GW_ST__COUNT ? gw_cq_get(name) : NULL;
    if (q != NULL)
        __atomic_add_fetch(&q->entered[st], 1, __ATOMIC_RELAXED);
}

/* ---- commands ------------------------------------------------------------- */

static void gw_cq_cmd_free(void *item)
{
    gw_cq_cmd_t *cmd = item;
    gw_delivery_t *d, *next;

    if (cmd->kind == GW_CQ_WITHDRAW || cmd->kind == GW_CQ_CALL)
        cmd->done(cmd->arg, GW_ESTOPPED); /* the core stopped before it ran */
    for (d = cmd->d; d != NULL; d = next) {
        next = cmd->kind == GW_CQ_PAGE ? d->qnext : NULL;
        gw_dlv_free(d);
    }
    free(cmd);
}

static int gw_cq_push(gw_cq_cmd_kind_t kind, gw_delivery_t *d, gw_cq_t *q)
{
    gw_cq_cmd_t *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL || gw_cq_inq == NULL) {
        free(cmd);
        return GW_ENOMEM;
    }
    cmd->kind = kind;
    cmd->d = d;
    cmd->q = q;
    if (gw_queue_push(gw_cq_inq, cmd) != 0) {
        free(cmd);
        return GW_ENOMEM;
    }
    return GW_OK;
}

/* Hand d to the core thread; when that fails d is dropped from memory,
 * which is safe (its row is queued) and found again at the next start. */
static void gw_cq_hand(gw_cq_cmd_kind_t kind, gw_delivery_t *d)
{
    if (gw_cq_push(kind, d, NULL) != 0) {
        GW_ERR("core", "%s: cannot queue for %s; it waits in the store for a restart",
               d->env->id, gw_dlv_target(d));
        gw_dlv_free(d);
    }
}

void gw_cq_ready(gw_delivery_t *d)
{
    gw_cq_hand(GW_CQ_READY, d);
}

void gw_cq_retry(gw_delivery_t *d)
{
    gw_cq_hand(GW_CQ_RETRY, d);
}

/* Ask the core thread to pump q, once however often it is asked before it
 * does.  Any thread. */
static void gw_cq_kick(gw_cq_t *q)
{
    if (__atomic_exchange_n(&q->kick, 1, __ATOMIC_ACQ_REL) == 0 &&
        gw_cq_push(GW_CQ_KICK, NULL, q) != 0)
        __atomic_store_n(&q->kick, 0, __ATOMIC_RELEASE); /* the sweep's tick pumps it */
}

void gw_core_credit(const char *name)
{
    gw_cq_t *q = name ? gw_cq_find(name) : NULL;
    if (q != NULL)
        gw_cq_kick(q);
}

void gw_cq_settle_queue(void *queue)
{
    gw_cq_t *q = queue;

    __atomic_sub_fetch(&q->outstanding, 1, __ATOMIC_RELAXED);
    /* the place freed matters only to what waits: every waiting delivery
     * is queued, so counted in the backlog (on the direct path nothing
     * waits, and the core thread need not wake for every outcome) */
    if (__atomic_load_n(&q->backlog, __ATOMIC_RELAXED) > 0)
        gw_cq_kick(q);
}

/* ---- the FIFO and the retry list (core thread) ------------------------------ */

static void gw_cq_publish(gw_cq_t *q)
{
    __atomic_store_n(&q->nmem_pub, q->nmem + q->nside, __ATOMIC_RELAXED);
    __atomic_store_n(&q->nretry_pub, q->nretry, __ATOMIC_RELAXED);
    __atomic_store_n(&q->spilled_pub, q->spilled, __ATOMIC_RELAXED);
    __atomic_store_n(&q->down_since_pub, q->down_since, __ATOMIC_RELAXED);
}

/* Append d to the singly linked list head..tail. */
static void gw_cq_link(gw_delivery_t **head, gw_delivery_t **tail, gw_delivery_t *d)
{
    d->qnext = NULL;
    if (*tail)
        (*tail)->qnext = d;
    else
        *head = d;
    *tail = d;
}

static void gw_cq_append(gw_cq_t *q, gw_delivery_t *d)
{
    gw_cq_link(&q->head, &q->tail, d);
    q->nmem++;
    if (d->qseq > q->cursor)
        q->cursor = d->qseq;
}

static gw_delivery_t *gw_cq_pop(gw_cq_t *q)
{
    gw_delivery_t *d = q->head;

    if (d == NULL)
        return NULL;
    q->head = d->qnext;
    if (q->head == NULL)
        q->tail = NULL;
    d->qnext = NULL;
    q->nmem--;
    return d;
}

static int gw_cq_in_retry(const gw_cq_t *q, const char *id)
{
    for (const gw_delivery_t *r = q->retry; r; r = r->qnext)
        if (strcmp(r->env->id, id) == 0)
            return 1;
    return 0;
}

static void gw_cq_on_retry_timer(evutil_socket_t fd, short what, void *arg);

/* Arm q's retry timer for its earliest entry. */
static void gw_cq_arm_retry(gw_cq_t *q)
{
    int64_t wait;
    struct timeval tv;

    if (q->retry == NULL) {
        if (q->retry_ev)
            evtimer_del(q->retry_ev);
        return;
    }
    if (q->retry_ev == NULL && (q->retry_ev = evtimer_new(gw_cq_base, gw_cq_on_retry_timer, q)) == NULL)
        return; /* the sweep's tick moves due entries too */
    wait = q->retry->next_at - gw_now_ms();
    if (wait < 0)
        wait = 0;
    tv.tv_sec = (time_t)(wait / 1000);
    tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
    evtimer_add(q->retry_ev, &tv);
}

static void gw_cq_add_retry(gw_cq_t *q, gw_delivery_t *d)
{
    gw_delivery_t **pp = &q->retry;

    while (*pp && (*pp)->next_at <= d->next_at)
        pp = &(*pp)->qnext;
    d->qnext = *pp;
    *pp = d;
    q->nretry++;
    if (q->retry == d)
        gw_cq_arm_retry(q);
}

/* Hold d aside in qseq order (an arrival is nearly always the newest). */
static void gw_cq_hold(gw_cq_t *q, gw_delivery_t *d)
{
    gw_delivery_t **pp = &q->side;

    if (q->side_tail == NULL || d->qseq > q->side_tail->qseq) {
        gw_cq_link(&q->side, &q->side_tail, d);
    } else {
        while (*pp != NULL && (*pp)->qseq < d->qseq)
            pp = &(*pp)->qnext;
        d->qnext = *pp;
        *pp = d;
    }
    q->nside++;
}

/* A delivery ready now arrives in q: keep it, or leave it to the pager. */
static void gw_cq_take(gw_cq_t *q, gw_delivery_t *d)
{
    int max = __atomic_load_n(&gw_config.queue_memory, __ATOMIC_RELAXED);

    if (!q->spilled && q->nmem >= max) {
        q->spilled = 1;
        gw_stat_add(gw_cq_st_spills, 1);
        GW_INFO("core", "queue %s: %d messages in memory; the rest wait in the store", q->name,
                q->nmem);
    }
    if (q->spilled && d->qseq > q->cursor) {
        if (q->side != NULL && d->qseq < q->side->qseq) {
            /* before the held rows: the page under way (bounded by them)
             * or a later one brings it */
            gw_stat_add(gw_cq_st_dropped, 1);
            gw_dlv_free(d);
            return;
        }
        if (!q->dirty && q->nside < max) {
            gw_cq_hold(q, d);
            return;
        }
        /* its row is queued: a page beyond the held rows will bring it */
        q->dirty = 1;
        gw_stat_add(gw_cq_st_dropped, 1);
        gw_dlv_free(d);
        return;
    }
    gw_cq_append(q, d);
}

/* Move the retry list's due entries into the FIFO. */
static void gw_cq_due(gw_cq_t *q)
{
    int64_t now = gw_now_ms();

    while (q->retry && q->retry->next_at <= now) {
        gw_delivery_t *d = q->retry;
        q->retry = d->qnext;
        q->nretry--;
        d->qnext = NULL;
        gw_cq_take(q, d);
    }
    gw_cq_arm_retry(q);
}

static void gw_cq_on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
    gw_cq_t *q = arg;

    (void)fd;
    (void)what;
    gw_cq_due(q);
    gw_cq_pump(q);
}

/* ---- paging (core thread, the read on the pool) ---------------------------- */

typedef struct gw_cq_page_job {
    gw_cq_t *q;
    gw_cq_cmd_t *cmd;         /* the answer, made by the core thread beforehand */
    char name[GW_NAME_MAX];
    int64_t after, before;    /* the rows after < qseq < before */
    int limit;
    gw_delivery_t *head, *tail;
    int n;
} gw_cq_page_job_t;

static void gw_cq_page_row(gw_delivery_t *d, char *env_json, void *arg)
{
    gw_cq_page_job_t *job = arg;

    d->env_json = env_json;
    gw_cq_link(&job->head, &job->tail, d);
    job->n++;
}

/* Pool thread: read the page, hand it to the core thread. */
static void gw_cq_page_run(void *arg)
{
    gw_cq_page_job_t *job = arg;
    gw_cq_cmd_t *cmd = job->cmd;
    int rc = db_msgs_page(job->name, job->after, job->before, job->limit, gw_cq_page_row, job);

    if (rc < 0)
        GW_WARN("core", "queue %s: page read failed; trying again", job->name);
    cmd->d = job->head;
    cmd->n = rc < 0 ? -1 : job->n;
    if (gw_queue_push(gw_cq_inq, cmd) != 0) {
        /* the rows stay queued in the store; the sweep notices the page
         * never came back and asks again */
        gw_cq_cmd_free(cmd);
        GW_ERR("core", "queue %s: a page was lost on the way; reading it again", job->name);
    }
    free(job);
}

static void gw_cq_page_request(gw_cq_t *q)
{
    int max = __atomic_load_n(&gw_config.queue_memory, __ATOMIC_RELAXED);
    gw_cq_page_job_t *job;

    if (__atomic_load_n(&gw_cq_quiet, __ATOMIC_ACQUIRE) || !q->spilled || q->page_inflight || q->sweep_inflight || q->nmem > max / 2)
        return;
    job = calloc(1, sizeof(*job));
    if (job == NULL || (job->cmd = calloc(1, sizeof(*job->cmd))) == NULL) {
        free(job);
        return;
    }
    job->cmd->kind = GW_CQ_PAGE;
    job->cmd->q = q;
    job->cmd->asked = max - q->nmem;
    job->q = q;
    gw_strlcpy(job->name, q->name, sizeof job->name);
    job->after = q->cursor;
    job->before = q->side ? q->side->qseq : INT64_MAX;
    job->limit = max - q->nmem;
    q->page_inflight = gw_now_ms();
    q->page_no = ++gw_cq_page_no;
    if (gw_work_submit(gw_cq_page_run, job) != 0) {
        q->page_inflight = 0; /* the pool is busy: the next pump asks again */
        free(job->cmd);
        free(job);
        return;
    }
    gw_stat_add(gw_cq_st_pages, 1);
}

/* A short page brought every row before the held ones: they follow it.
 * Without a drop meanwhile that is all of the queue and the spill ends. */
static void gw_cq_take_side(gw_cq_t *q)
{
    gw_delivery_t *d, *next;

    for (d = q->side; d; d = next) {
        next = d->qnext;
        d->qnext = NULL;
        if (d->qseq > q->cursor)
            gw_cq_append(q, d);
        else
            gw_dlv_free(d); /* the page brought it too */
    }
    q->side = q->side_tail = NULL;
    q->nside = 0;
    if (!q->dirty) {
        q->spilled = 0;
        GW_DEBUG("core", "queue %s: caught up with the store", q->name);
    }
    q->dirty = 0;
}

static void gw_cq_on_page(gw_cq_t *q, gw_delivery_t *list, int n, int asked)
{
    int64_t now = gw_now_ms();
    gw_delivery_t *d, *next;

    q->page_inflight = 0;
    for (d = list; d; d = next) {
        next = d->qnext;
        d->qnext = NULL;
        if (d->qseq > q->cursor)
            q->cursor = d->qseq;
        if (gw_cq_held != NULL && gw_cq_held_catch(d)) {
            continue; /* being changed in the store: read before that committed */
        } else if (gw_cq_in_retry(q, d->env->id)) {
            gw_dlv_free(d); /* the retry list has it */
        } else if (d->next_at > now) {
            gw_cq_add_retry(q, d);
        } else {
            gw_cq_append(q, d); /* the cursor is past it already */
        }
    }
    if (n >= 0)
        gw_stat_add(gw_cq_st_paged, n);
    if (n >= 0 && n < asked)
        gw_cq_take_side(q);
    gw_cq_held_gc();
}

/* ---- pumping (core thread) ------------------------------------------------- */

/* How many may be outstanding against c now (0: none, it is not there or
 * not up). */
static int gw_cq_conn_room(gw_connector_t *c)
{
    int room;

    if (!(c && c->enabled && c->adapter->send))
        return 0;
    room = c->adapter->conn_room ? c->adapter->conn_room(c) *
                                       __atomic_load_n(&gw_config.room_windows, __ATOMIC_RELAXED)
                                 : GW_CQ_OUTSTANDING_MAX;
    return room < GW_CQ_OUTSTANDING_MAX ? room : GW_CQ_OUTSTANDING_MAX;
}

static void gw_cq_on_tput_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_cq_pump(arg);
}

/* May q send one more now under its connector's limit tput (msg/s)?  A
 * token bucket on the core thread holding at most a twentieth of a second
 * of sends (and at least one); when empty, the pump is called again when
 * the next token is due. */
static int gw_cq_take_token(gw_cq_t *q, double tput)
{
    struct timespec ts;
    int64_t now_us;
    double burst = tput / 20 > 1 ? tput / 20 : 1;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;

    if (q->tokens_us == 0)
        q->tokens = burst;
    else
        q->tokens += (double)(now_us - q->tokens_us) * tput / 1e6;
    if (q->tokens > burst)
        q->tokens = burst;
    q->tokens_us = now_us;
    if (q->tokens >= 1) {
        q->tokens -= 1;
        return 1;
    }
    if (q->tput_ev == NULL && (q->tput_ev = evtimer_new(gw_cq_base, gw_cq_on_tput_timer, q)) == NULL)
        return 0; /* the next kick or sweep pumps again */
    if (!evtimer_pending(q->tput_ev, NULL)) {
        int64_t wait_us = (int64_t)((1 - q->tokens) * 1e6 / tput) + 1;
        struct timeval tv = { (time_t)(wait_us / 1000000), (suseconds_t)(wait_us % 1000000) };
        evtimer_add(q->tput_ev, &tv);
    }
    return 0;
}

static void gw_cq_pump(gw_cq_t *q)
{
    gw_connector_t *c = q->head ? gw_connector_get(q->name) : NULL;
    int room = q->head ? gw_cq_conn_room(c) : 0;
    double tput = gw_cq_throughput(c);
    int64_t now = gw_now_ms();

    __atomic_store_n(&q->kick, 0, __ATOMIC_RELEASE);
    while (q->head && !__atomic_load_n(&gw_cq_quiet, __ATOMIC_ACQUIRE)) {
        gw_delivery_t *d = q->head;
        if (d->env->expires_at && now > d->env->expires_at) {
            gw_cq_pop(q);
            gw_core_expire(d);
            continue;
        }
        if (__atomic_load_n(&q->outstanding, __ATOMIC_RELAXED) >= room)
            break;
        if (tput > 0 && !gw_cq_take_token(q, tput))
            break;
        gw_cq_pop(q);
        __atomic_add_fetch(&q->outstanding, 1, __ATOMIC_RELAXED);
        d->counted = q; /* settled when its outcome is queued for the store */
        gw_core_begin_send(d);
    }
    if (q->head && room == 0) {
        if (q->down_since == 0)
            q->down_since = now;
    } else {
        q->down_since = 0;
    }
    if (c)
        gw_connector_put(c);
    gw_cq_page_request(q);
    gw_cq_publish(q);
}

/* ---- the sweep (core thread) ----------------------------------------------- */

static void gw_cq_on_swept(void *arg, int n)
{
    gw_cq_t *q = arg;

    __atomic_sub_fetch(&q->backlog, n, __ATOMIC_RELAXED);
    gw_stat_add(gw_cq_st_swept, n);
    if (gw_cq_push(GW_CQ_SWEPT, NULL, q) != 0)
        GW_ERR("core", "queue %s: lost a sweep answer", q->name);
}

static void gw_cq_on_rw_swept(void *arg, int n)
{
    (void)arg;
    gw_stat_add(gw_cq_st_swept, n);
    __atomic_store_n(&gw_cq_rw_inflight, 0, __ATOMIC_RELEASE);
}

static void gw_cq_on_purged(void *arg, int n)
{
    (void)arg;
    gw_stat_add(gw_cq_st_purged, n);
    __atomic_store_n(&gw_cq_purge_inflight, n >= GW_CQ_SWEEP_BATCH ? 2 : 0, __ATOMIC_RELEASE);
}

/* Unlink from the list at *pp every delivery pick(d, now) holds for and
 * return them as a list of their own, in order; *n counts them.  Callers
 * fix q->tail (gw_cq_retail) when they took from the FIFO. */
static gw_delivery_t *gw_cq_extract(gw_delivery_t **pp, int (*pick)(const gw_delivery_t *, int64_t),
                                    int64_t now, int *n)
{
    gw_delivery_t *out = NULL, *out_tail = NULL;

    *n = 0;
    while (*pp) {
        gw_delivery_t *d = *pp;
        if (!pick(d, now)) {
            pp = &d->qnext;
            continue;
        }
        *pp = d->qnext;
        gw_cq_link(&out, &out_tail, d);
        (*n)++;
    }
    return out;
}

static void gw_cq_retail(gw_cq_t *q)
{
    q->tail = NULL;
    for (gw_delivery_t *d = q->head; d; d = d->qnext)
        q->tail = d;
}

static int gw_cq_pick_expired(const gw_delivery_t *d, int64_t now)
{
    return d->env->expires_at && now > d->env->expires_at;
}

static int gw_cq_pick_movable(const gw_delivery_t *d, int64_t now)
{
    (void)now;
    return d->cur + 1 < d->ntargets;
}

/* Hand each delivery of list to fn (which takes it over). */
static void gw_cq_each(gw_delivery_t *list, void (*fn)(gw_delivery_t *d, const char *why),
                       const char *why)
{
    for (gw_delivery_t *d = list, *next; d; d = next) {
        next = d->qnext;
        d->qnext = NULL;
        fn(d, why);
    }
}

static void gw_cq_expire_one(gw_delivery_t *d, const char *why)
{
    (void)why;
    gw_core_expire(d);
}

/* Expire what q holds in memory (FIFO and retry list) past its validity. */
static void gw_cq_expire_memory(gw_cq_t *q, int64_t now)
{
    int n;

    gw_cq_each(gw_cq_extract(&q->head, gw_cq_pick_expired, now, &n), gw_cq_expire_one, NULL);
    q->nmem -= n;
    gw_cq_retail(q);
    gw_cq_each(gw_cq_extract(&q->retry, gw_cq_pick_expired, now, &n), gw_cq_expire_one, NULL);
    q->nretry -= n;
    gw_cq_arm_retry(q);
}

/* Expire what q holds aside; before the store sweep is asked for, so that
 * its writer job finds these rows expired already (the writer runs jobs in
 * order) and expires each row once. */
static void gw_cq_expire_side(gw_cq_t *q, int64_t now)
{
    int n;

    gw_cq_each(gw_cq_extract(&q->side, gw_cq_pick_expired, now, &n), gw_cq_expire_one, NULL);
    q->nside -= n;
    q->side_tail = NULL;
    for (gw_delivery_t *d = q->side; d; d = d->qnext)
        q->side_tail = d;
}

/* q's target stayed down: move every delivery it holds whose plan has a
 * next target there (the pager brings the rest as room frees). */
static void gw_cq_failover(gw_cq_t *q)
{
    int moved;

    gw_cq_each(gw_cq_extract(&q->head, gw_cq_pick_movable, 0, &moved), gw_core_move,
               "target down");
    q->nmem -= moved;
    gw_cq_retail(q);
    if (moved > 0) {
        gw_stat_add(gw_cq_st_moved, moved);
        GW_INFO("core", "queue %s: target down for %lld s; %d message(s) moved to their next "
                "target", q->name, (long long)((gw_now_ms() - q->down_since) / 1000), moved);
    }
}

static void gw_cq_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = gw_now_ms();
    int64_t fail_ms = (int64_t)__atomic_load_n(&gw_config.failover_after_s, __ATOMIC_RELAXED) * 1000;
    int n = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE);

    (void)fd;
    (void)what;
    (void)arg;
    if (__atomic_load_n(&gw_cq_quiet, __ATOMIC_ACQUIRE))
        return; /* stopping: no new store work whose answer would outlive the queues */
    gw_frag_tick(now); /* long messages whose parts waited too long */
    for (int i = 0; i < n; i++) {
        gw_cq_t *q = gw_cq_all[i];
        if (q->page_inflight && now - q->page_inflight > 60000)
            q->page_inflight = 0; /* its answer was lost: ask again */
        gw_cq_expire_side(q, now);
        /* the store's rows first: expired there in batches, they are never
         * paged through memory just to be expired (a page waits for it) */
        if (q->spilled && !q->page_inflight && !q->sweep_inflight) {
            q->sweep_inflight = 1;
            if (db_sweep(DB_SWEEP_EXPIRE_QUEUED, q->name, q->cursor, now, 0, GW_CQ_SWEEP_BATCH,
                         gw_cq_on_swept, q) != 0)
                q->sweep_inflight = 0;
        }
        gw_cq_due(q);
        gw_cq_expire_memory(q, now);
        gw_cq_pump(q);
        if (q->down_since && now - q->down_since >= fail_ms)
            gw_cq_failover(q);
        gw_cq_publish(q);
    }
    if (__atomic_load_n(&gw_cq_rw_inflight, __ATOMIC_ACQUIRE) == 0) {
        int64_t wait = (int64_t)__atomic_load_n(&gw_config.receipt_wait_s, __ATOMIC_RELAXED) * 1000;
        __atomic_store_n(&gw_cq_rw_inflight, 1, __ATOMIC_RELEASE);
        if (db_sweep(DB_SWEEP_RECEIPT_WAIT, NULL, 0, now, now - wait, GW_CQ_SWEEP_BATCH,
                     gw_cq_on_rw_swept, NULL) != 0)
            __atomic_store_n(&gw_cq_rw_inflight, 0, __ATOMIC_RELEASE);
    }
    if (__atomic_load_n(&gw_cq_purge_inflight, __ATOMIC_ACQUIRE) != 1) {
        int64_t keep = (int64_t)__atomic_load_n(&gw_config.retention_s, __ATOMIC_RELAXED) * 1000;
        __atomic_store_n(&gw_cq_purge_inflight, 1, __ATOMIC_RELEASE);
        if (db_sweep(DB_SWEEP_PURGE, NULL, 0, now, now - keep, GW_CQ_SWEEP_BATCH,
                     gw_cq_on_purged, NULL) != 0)
            __atomic_store_n(&gw_cq_purge_inflight, 0, __ATOMIC_RELEASE);
    }
}

/* ---- withdrawal (core thread) ---------------------------------------------- */

/* Unlink from the list at *pp each delivery cmd picks that no page can
 * bring again and hand it to cmd->each; the count.  A page reads rows with
 * qseq > cursor: a delivery at or below the cursor is never read again.
 * One above it (a retry renumbered by the writer) is safe while the queue
 * is not spilled: then every queued row of it is in memory or on its way
 * here, and raising the cursor past the withdrawn one keeps a later page
 * from reading it before its change commits (a row on its way here with
 * a lower qseq is appended on arrival, cursor or not). */
static int gw_cq_withdraw_list(gw_cq_t *q, gw_delivery_t **pp, const gw_cq_cmd_t *cmd)
{
    int n = 0;

    while (*pp) {
        gw_delivery_t *d = *pp;
        if ((d->qseq > q->cursor && (q->spilled || q->page_inflight)) ||
            !cmd->pick(d, cmd->arg)) {
            pp = &d->qnext;
            continue;
        }
        if (d->qseq > q->cursor)
            q->cursor = d->qseq;
        *pp = d->qnext;
        d->qnext = NULL;
        cmd->each(d, cmd->arg);
        n++;
    }
    return n;
}

static void gw_cq_on_withdraw(const gw_cq_cmd_t *cmd)
{
    int nq = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE), total = 0;

    for (int i = 0; i < nq; i++) {
        gw_cq_t *q = gw_cq_all[i];
        int n = gw_cq_withdraw_list(q, &q->head, cmd);
        q->nmem -= n;
        gw_cq_retail(q);
        total += n;
        n = gw_cq_withdraw_list(q, &q->retry, cmd);
        if (n > 0) {
            q->nretry -= n;
            gw_cq_arm_retry(q);
        }
        total += n;
        gw_cq_publish(q);
    }
    cmd->done(cmd->arg, total);
}

int gw_cq_withdraw(gw_cq_pick_fn_t pick, void (*each)(gw_delivery_t *d, void *arg),
                   void (*done)(void *arg, int n), void *arg)
{
    gw_cq_cmd_t *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL || gw_cq_inq == NULL) {
        free(cmd);
        return GW_ENOMEM;
    }
    cmd->kind = GW_CQ_WITHDRAW;
    cmd->pick = pick;
    cmd->each = each;
    cmd->done = done;
    cmd->arg = arg;
    if (gw_queue_push(gw_cq_inq, cmd) != 0) {
        free(cmd);
        return GW_ENOMEM;
    }
    return GW_OK;
}

/* ---- rows changed in the store (core thread) --------------------------------- */

static gw_cq_held_t *gw_cq_held_find(const char *id)
{
    for (gw_cq_held_t *h = gw_cq_held; h; h = h->next)
        if (strcmp(h->id, id) == 0)
            return h;
    return NULL;
}

/* Give d the new content of h; 0, or GW_ENOMEM (d unchanged). */
static int gw_cq_held_renew(const gw_cq_held_t *h, gw_delivery_t *d)
{
    char *json = strdup(h->env_json);

    if (json == NULL)
        return GW_ENOMEM;
    gw_env_unref(d->env);
    d->env = gw_env_ref(h->env);
    free(d->env_json);
    d->env_json = json;
    return GW_OK;
}

/* d arrives (a page, a hand-over): 1 when it was caught (kept in its
 * entry while the change runs, or freed: the row is final), 0 when the
 * caller goes on with it (given the new content of a replace). */
static int gw_cq_held_catch(gw_delivery_t *d)
{
    gw_cq_held_t *h = gw_cq_held_find(d->env->id);

    if (h == NULL)
        return 0;
    gw_stat_add(gw_cq_st_caught, 1);
    if (h->open) {
        d->qnext = h->copies;
        h->copies = d;
        return 1;
    }
    if (h->gone || gw_cq_held_renew(h, d) < 0) {
        if (!h->gone)
            GW_ERR("core", "%s: out of memory: it waits in the store for a restart", h->id);
        gw_dlv_free(d); /* read before its cancel committed: the row is final */
        return 1;
    }
    return 0;
}

/* An entry whose outcome is known goes once no page asked for before it
 * can still bring an old copy. */
static void gw_cq_held_gc(void)
{
    int n = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE);
    gw_cq_held_t **pp = &gw_cq_held;

    while (*pp) {
        gw_cq_held_t *h = *pp;
        int old = h->open;
        for (int i = 0; !old && i < n; i++)
            old = gw_cq_all[i]->page_inflight && gw_cq_all[i]->page_no <= h->page_no;
        if (old) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        gw_env_unref(h->env);
        free(h->env_json);
        free(h);
    }
}

/* Move every delivery of id from the list at *pp onto *out; the count. */
static int gw_cq_held_take(gw_delivery_t **pp, const char *id, gw_delivery_t **out)
{
    int n = 0;

    while (*pp) {
        gw_delivery_t *d = *pp;
        if (strcmp(d->env->id, id) != 0) {
            pp = &d->qnext;
            continue;
        }
        *pp = d->qnext;
        d->qnext = *out;
        *out = d;
        n++;
    }
    return n;
}

int gw_cq_hold_id(const char *id)
{
    int nq = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE);
    gw_cq_held_t *h;

    if (gw_cq_held_find(id) != NULL)
        return GW_EEXIST;
    if ((h = calloc(1, sizeof *h)) == NULL)
        return GW_ENOMEM;
    gw_strlcpy(h->id, id, sizeof h->id);
    h->open = 1;
    h->next = gw_cq_held;
    gw_cq_held = h;
    /* what memory holds of it but the withdrawal would not take (above a
     * spilled queue's cursor, or held aside) is caught too */
    for (int i = 0; i < nq; i++) {
        gw_cq_t *q = gw_cq_all[i];
        int n = gw_cq_held_take(&q->head, id, &h->copies);
        q->nmem -= n;
        gw_cq_retail(q);
        if ((n = gw_cq_held_take(&q->retry, id, &h->copies)) > 0) {
            q->nretry -= n;
            gw_cq_arm_retry(q);
        }
        q->nside -= gw_cq_held_take(&q->side, id, &h->copies);
        q->side_tail = NULL;
        for (gw_delivery_t *d = q->side; d; d = d->qnext)
            q->side_tail = d;
        gw_cq_publish(q);
    }
    return GW_OK;
}

void gw_cq_unhold_id(const char *id, int gone, gw_envelope_t *env, const char *env_json)
{
    gw_cq_held_t *h = gw_cq_held_find(id);
    gw_delivery_t *d, *next;

    if (h == NULL || !h->open)
        return;
    h->open = 0;
    h->gone = gone;
    if (env != NULL && (h->env_json = strdup(env_json)) != NULL)
        h->env = gw_env_ref(env);
    if (env != NULL && h->env == NULL) {
        GW_ERR("core", "%s: out of memory: its new content waits in the store for a restart", id);
        h->gone = gone = 1; /* no copy with the old content may be sent */
    }
    h->page_no = gw_cq_page_no;
    if (h->env == NULL && !gone)
        h->page_no = 0; /* nothing changed: no copy is old */
    for (d = h->copies; d; d = next) {
        gw_cq_t *q;
        next = d->qnext;
        d->qnext = NULL;
        if (gone || (h->env != NULL && gw_cq_held_renew(h, d) < 0) ||
            (q = gw_cq_get(gw_dlv_target(d))) == NULL) {
            gw_dlv_free(d); /* cancelled; else its row waits in the store for a restart */
            continue;
        }
        if (d->next_at > gw_now_ms())
            gw_cq_add_retry(q, d);
        else if (q->spilled && d->qseq > q->cursor && q->side != NULL &&
                 d->qseq > q->side->qseq)
            gw_cq_hold(q, d); /* back among the held rows: no page reads past the first */
        else
            gw_cq_take(q, d);
        gw_cq_pump(q);
    }
    h->copies = NULL;
    gw_cq_held_gc();
}

int gw_cq_call(void (*fn)(void *arg, int rc), void *arg)
{
    gw_cq_cmd_t *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL || gw_cq_inq == NULL) {
        free(cmd);
        return GW_ENOMEM;
    }
    cmd->kind = GW_CQ_CALL;
    cmd->done = fn;
    cmd->arg = arg;
    if (gw_queue_push(gw_cq_inq, cmd) != 0) {
        free(cmd);
        return GW_ENOMEM;
    }
    return GW_OK;
}

/* ---- the core thread -------------------------------------------------------- */

static void gw_cq_on_cmd(void *item, void *arg)
{
    gw_cq_cmd_t *cmd = item;
    gw_cq_t *q = cmd->q;

    (void)arg;
    switch (cmd->kind) {
    case GW_CQ_READY:
    case GW_CQ_RETRY:
        q = gw_cq_get(gw_dlv_target(cmd->d));
        if (q == NULL) {
            gw_dlv_free(cmd->d); /* logged; its row waits in the store */
            break;
        }
        if (gw_cq_held != NULL && gw_cq_held_catch(cmd->d)) {
            cmd->d = NULL;
            break;
        }
        if (cmd->kind == GW_CQ_RETRY && cmd->d->next_at > gw_now_ms())
            gw_cq_add_retry(q, cmd->d);
        else
            gw_cq_take(q, cmd->d);
        cmd->d = NULL;
        gw_cq_pump(q);
        break;
    case GW_CQ_KICK:
        gw_cq_pump(q);
        break;
    case GW_CQ_PAGE:
        gw_cq_on_page(q, cmd->d, cmd->n, cmd->asked);
        cmd->d = NULL;
        gw_cq_pump(q);
        break;
    case GW_CQ_SWEPT:
        q->sweep_inflight = 0;
        gw_cq_pump(q);
        break;
    case GW_CQ_SEED:
        /* start-up, before any traffic: everything queued is in the store */
        q->spilled = 1;
        q->cursor = 0;
        gw_cq_pump(q);
        break;
    case GW_CQ_WITHDRAW:
        gw_cq_on_withdraw(cmd);
        break;
    case GW_CQ_CALL:
        cmd->done(cmd->arg, 0);
        break;
    }
    free(cmd);
}

static void *gw_cq_main(void *arg)
{
    (void)arg;
    event_base_loop(gw_cq_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int gw_cq_start(void)
{
    int ms = gw_config.sweep_ms > 0 ? gw_config.sweep_ms : 1000;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    gw_cq_st_spills = gw_stat("core.queue_spills", "times a connector queue spilled to the store");
    gw_cq_st_pages = gw_stat("core.queue_pages", "pages read back from the store");
    gw_cq_st_paged = gw_stat("core.queue_paged", "messages paged back from the store");
    gw_cq_st_dropped = gw_stat("core.queue_left_in_store",
                               "arrivals left in the store while their queue was spilled");
    gw_cq_st_swept = gw_stat("core.swept", "messages expired by the sweep in the store");
    gw_cq_st_purged = gw_stat("core.purged", "done messages purged (final, or submitted without a receipt to wait for)");
    gw_cq_st_moved = gw_stat("core.moved", "messages moved off a target that stayed down");
    gw_cq_st_caught = gw_stat("core.queue_held_copies",
                              "copies of a message being cancelled or replaced in the store "
                              "that a page or a hand-over brought meanwhile");
    static int registered; /* the collector lives as long as the process */
    if (!registered++)
        gw_metrics_collector(gw_cq_metrics, NULL);
    gw_cq_base = event_base_new();
    gw_cq_inq = gw_queue_new(0, gw_cq_cmd_free);
    if (gw_cq_base == NULL || gw_cq_inq == NULL ||
        gw_queue_attach(gw_cq_inq, gw_cq_base, gw_cq_on_cmd, NULL) != 0)
        return GW_ERROR;
    __atomic_store_n(&gw_cq_quiet, 0, __ATOMIC_RELEASE);
    gw_dlv_set_free_hook(gw_cq_settle_queue);
    gw_cq_sweep_ev = event_new(gw_cq_base, -1, EV_PERSIST, gw_cq_on_sweep, NULL);
    if (gw_cq_sweep_ev == NULL || event_add(gw_cq_sweep_ev, &tv) != 0)
        return GW_ERROR;
    if (pthread_create(&gw_cq_thread, NULL, gw_cq_main, NULL) != 0)
        return GW_ERROR;
    pthread_setname_np(gw_cq_thread, "core");
    gw_cq_running = 1;
    return GW_OK;
}

static void gw_cq_seed(const char *target, int64_t n, void *arg)
{
    int64_t *total = arg;
    gw_cq_t *q = gw_cq_get(target);

    if (q == NULL)
        return;
    __atomic_add_fetch(&q->backlog, n, __ATOMIC_RELAXED);
    *total += n;
    if (gw_cq_push(GW_CQ_SEED, NULL, q) != 0)
        GW_ERR("core", "queue %s: cannot start paging its %lld queued message(s)", target,
               (long long)n);
}

int64_t gw_cq_recover(void)
{
    int64_t total = 0;

    if (db_msgs_queued_counts(gw_cq_seed, &total) < 0)
        return GW_ESTORE;
    return total;
}

json_t *gw_cq_status(void)
{
    json_t *a = json_array();
    int n = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE);
    int64_t now = gw_now_ms();

    for (int i = 0; a && i < n; i++) {
        gw_cq_t *q = gw_cq_all[i];
        int64_t down = __atomic_load_n(&q->down_since_pub, __ATOMIC_RELAXED);
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:i, s:i, s:b, s:i, s:I}", "name", q->name, "backlog",
                         (json_int_t)__atomic_load_n(&q->backlog, __ATOMIC_RELAXED), "memory",
                         __atomic_load_n(&q->nmem_pub, __ATOMIC_RELAXED), "retrying",
                         __atomic_load_n(&q->nretry_pub, __ATOMIC_RELAXED), "spilled",
                         __atomic_load_n(&q->spilled_pub, __ATOMIC_RELAXED), "outstanding",
                         __atomic_load_n(&q->outstanding, __ATOMIC_RELAXED), "down_s",
                         (json_int_t)(down ? (now - down) / 1000 : 0)));
    }
    return a;
}

/* The queues on /metrics (a collector, gw_stats.h): per target name, its
 * depth and what it holds now, and how many of its deliveries entered each
 * status.  The HTTP thread; reads only the atomics, like gw_cq_status. */
static void gw_cq_metrics(gw_metrics_t *m, void *arg)
{
    /* the status counters exposed, by the name of their family */
    static const struct {
        gw_status_t st;
        const char *name, *help;
    } entered[] = {
        { GW_ST_QUEUED, "connector.messages_queued",
          "deliveries queued for the connector (new, retried, requeued, failed over to it)" },
        { GW_ST_SENDING, "connector.messages_sent", "deliveries handed to the connector" },
        { GW_ST_SUBMITTED, "connector.messages_submitted",
          "messages the connector's far side took (awaiting a receipt)" },
        { GW_ST_DELIVERED, "connector.messages_delivered", "messages confirmed delivered" },
        { GW_ST_FAILED, "connector.messages_failed", "messages failed for good at the connector" },
        { GW_ST_EXPIRED, "connector.messages_expired", "messages expired before delivery" },
        { GW_ST_REJECTED, "connector.messages_rejected", "messages rejected" },
    };
    int n = __atomic_load_n(&gw_cq_n, __ATOMIC_ACQUIRE);
    int64_t now = gw_now_ms();

    (void)arg;
    for (int i = 0; i < n; i++) {
        gw_cq_t *q = gw_cq_all[i];
        const char *lab[] = { "connector", q->name, NULL };
        int64_t down = __atomic_load_n(&q->down_since_pub, __ATOMIC_RELAXED);

        gw_metrics_value(m, "connector.queue_depth", GW_STAT_GAUGE,
                         "messages queued for the connector, in memory or only in the store",
                         lab, (double)__atomic_load_n(&q->backlog, __ATOMIC_RELAXED));
        gw_metrics_value(m, "connector.queue_memory", GW_STAT_GAUGE,
                         "queued deliveries of the connector held in memory", lab,
                         __atomic_load_n(&q->nmem_pub, __ATOMIC_RELAXED));
        gw_metrics_value(m, "connector.retrying", GW_STAT_GAUGE,
                         "deliveries of the connector waiting out a retry backoff", lab,
                         __atomic_load_n(&q->nretry_pub, __ATOMIC_RELAXED));
        gw_metrics_value(m, "connector.queue_spilled", GW_STAT_GAUGE,
                         "1 while the connector's queue is spilled to the store", lab,
                         __atomic_load_n(&q->spilled_pub, __ATOMIC_RELAXED) != 0);
        gw_metrics_value(m, "connector.in_flight", GW_STAT_GAUGE,
                         "deliveries marked sending whose outcome is not yet queued for the store",
                         lab, __atomic_load_n(&q->outstanding, __ATOMIC_RELAXED));
        gw_metrics_value(m, "connector.down_seconds", GW_STAT_GAUGE,
                         "how long the connector has taken nothing while messages wait (0: "
                         "it takes them)", lab, down ? (double)(now - down) / 1000 : 0);
        for (size_t k = 0; k < sizeof entered / sizeof entered[0]; k++)
            gw_metrics_value(m, entered[k].name, GW_STAT_COUNTER, entered[k].help, lab,
                             (double)__atomic_load_n(&q->entered[entered[k].st],
                                                     __ATOMIC_RELAXED));
    }
}

void gw_cq_quiesce(void)
{
    __atomic_store_n(&gw_cq_quiet, 1, __ATOMIC_RELEASE);
}

void gw_cq_stop(void)
{
    gw_cq_quiesce();
    gw_dlv_set_free_hook(NULL); /* the queues go: what is dropped now is recovered */
    if (gw_cq_running) {
        event_base_loopbreak(gw_cq_base);
        pthread_join(gw_cq_thread, NULL);
        gw_cq_running = 0;
    }
    /* what the queues hold is queued in the store: recovered at the next
     * start */
    for (int i = 0; i < gw_cq_n; i++) {
        gw_cq_t *q = gw_cq_all[i];
        for (gw_delivery_t *d = q->head, *next; d; d = next) {
            next = d->qnext;
            gw_dlv_free(d);
        }
        for (gw_delivery_t *d = q->retry, *next; d; d = next) {
            next = d->qnext;
            gw_dlv_free(d);
        }
        for (gw_delivery_t *d = q->side, *next; d; d = next) {
            next = d->qnext;
            gw_dlv_free(d);
        }
        if (q->retry_ev)
            event_free(q->retry_ev);
        if (q->tput_ev)
            event_free(q->tput_ev);
        free(q);
        gw_cq_all[i] = NULL;
    }
    __atomic_store_n(&gw_cq_n, 0, __ATOMIC_RELEASE);
    while (gw_cq_held != NULL) {
        gw_cq_held_t *h = gw_cq_held;
        gw_cq_held = h->next;
        for (gw_delivery_t *d = h->copies, *next; d; d = next) {
            next = d->qnext;
            gw_dlv_free(d);
        }
        gw_env_unref(h->env);
        free(h->env_json);
        free(h);
    }
    if (gw_cq_sweep_ev)
        event_free(gw_cq_sweep_ev);
    gw_cq_sweep_ev = NULL;
    gw_queue_free(gw_cq_inq);
    gw_cq_inq = NULL;
    if (gw_cq_base)
        event_base_free(gw_cq_base);
    gw_cq_base = NULL;
}
