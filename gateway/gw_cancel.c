/*
 * gw_cancel.c - a sender takes back or changes a message that still waits
 * in its queue (an SMPP customer's cancel_sm and replace_sm).
 *
 * Who decides.  A queued delivery belongs to the core thread, whose pump
 * hands it to its connector (queued -> sending).  Both calls therefore go
 * to that thread (gw_cq_withdraw): what it still finds in a queue's
 * memory, and whose owner is the asking account, it unlinks there, in the
 * same thread that would have sent it, so a message is either withdrawn
 * or on its way to the connector, never both.
 *
 * A message can be between the writer and its queue: its insert (or a
 * retry's change back to queued) committed, its sender answered, but the
 * writer's hand-over to the core thread not yet arrived - a customer that
 * cancels right after its submit_sm_resp can overtake it.  So when the
 * first look finds nothing, the core looks once more after the writer has
 * run every callback queued so far (db_writer_after), by which time every
 * such hand-over is in the core's queue ahead of the second look.
 *
 * Only in the store.  What the second look does not find either may wait
 * only in the store (its queue spilled past core.queue_memory), or held
 * aside, or above a spilled queue's cursor where a page could bring it
 * again.  For a request by id the core then holds the id (gw_cq_hold_id:
 * every copy memory has of it, and every one a page or a hand-over brings
 * meanwhile, is caught and neither sent nor queued), reads the row on the
 * worker pool (db_msgs_queued_one), checks its owner on the core thread
 * and asks the writer for a change that lands only while the row is still
 * queued (db_dlv_update_if_queued for a cancel, db_dlv_replace for a
 * replace: the new envelope only, its queue place kept - the plain update
 * would renumber qseq).  The writer's outcome goes back to the core thread
 * (gw_cq_unhold_id): cancelled, the caught copies are freed; replaced, they
 * take the new envelope and go back to their queues (none in memory: the
 * pager brings the row, new content and all); unchanged (the row was no
 * longer queued: sending, final), they go back as they were and the
 * answer is GW_ENOTFOUND.  So a message is cancelled or sent, never both.
 * What is not found at all - sending or later, someone else's, unknown -
 * is GW_ENOTFOUND either way, which keeps other accounts' ids from being
 * probed.  A cancel by addresses, once what it withdrew from memory has
 * committed (db_writer_after), reads the account's queued rows between the
 * two addresses on the pool (db_msgs_queued_from, at most
 * GW_CANCEL_STORE_MAX) and cancels each the same way; it answers when the
 * last change is known, GW_OK when any landed.
 *
 * Commit, then acknowledge.  A cancel is the transition queued -> failed
 * (reason_text "cancelled", event message.cancelled: docs/delivery.md)
 * through gw_core_cancel_one; the caller's cb runs on the writer thread
 * once every withdrawn message's change has committed.  A replace writes
 * the new envelope (db_dlv_replace: content and expires_at; status, plan
 * and queue place unchanged, event message.replaced); after its commit
 * the delivery, with the new envelope, goes back to its queue (the back of
 * it: the FIFO is in memory only, its qseq keeps its store order) and cb
 * runs.  A replace that cannot be queued for the store puts the delivery
 * back unchanged.
 *
 * The core owns no SMPP: the new text is made by the caller's edit
 * function, run on the core thread on a copy of the envelope (so an SMPP
 * short_message is decoded with the data_coding the message came with).
 *
 * Threads: gw_core_cancel / gw_core_replace on any thread; the matching,
 * the edit and the store hand-over on the core thread; the row's read on
 * the worker pool; cb on the writer thread (or the core thread when
 * nothing was withdrawn, or after a change in the store).
 */
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_core.h"
#include "gw_core_int.h"
#include "gw_cq.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "gw_trace.h"
#include "gw_work.h"

typedef struct gw_cancel_ctx {
    char owner[GW_NAME_MAX];
    char id[GW_ENV_ID_LEN + 1];  /* "" when by addresses */
    char *from, *to;             /* normalised texts; malloc'd */
    gw_delivery_t *list;         /* withdrawn, not yet handed to the writer */
    int pending;                 /* atomic: cancels queued and not yet committed, + 1
                                  * while the core thread still hands them over */
    int done;                    /* atomic: committed */
    int again;                   /* the second look is asked for */
    void (*look)(void *arg, int n); /* the core thread's continuation of a look */
    gw_edit_fn_t edit;           /* replace */
    void *edit_arg;
    gw_envelope_t *new_env;      /* replace: the edited copy, while its write runs */
    char *new_json;
    gw_delivery_t *row;          /* only in the store: its row (by addresses: the
                                  * rows, qnext), read on the pool */
    int row_rc;                  /* that read's count, or < 0; then the change's rc */
    gw_ack_cb_t cb;
    void *arg;
} gw_cancel_ctx_t;

static gw_stat_t *gw_cancel_st_stored, *gw_cancel_st_replaced, *gw_cancel_st_late;

void gw_cancel_stats(void)
{
    gw_cancel_st_stored = gw_stat("core.cancel_in_store",
                                  "cancels of messages that waited only in the store, committed");
    gw_cancel_st_replaced = gw_stat("core.replace_in_store",
                                    "replaces of messages that waited only in the store, "
                                    "committed");
    gw_cancel_st_late = gw_stat("core.change_in_store_late",
                                "cancels and replaces in the store that found the row no "
                                "longer queued");
}

static void gw_cancel_ctx_free(gw_cancel_ctx_t *ctx)
{
    for (gw_delivery_t *d = ctx->row, *next; d != NULL; d = next) {
        next = d->qnext;
        gw_dlv_free(d);
    }
    free(ctx->from);
    free(ctx->to);
    gw_env_unref(ctx->new_env);
    free(ctx->new_json);
    free(ctx);
}

/* Core thread: is d one the request names? */
static int gw_cancel_pick(const gw_delivery_t *d, void *arg)
{
    const gw_cancel_ctx_t *ctx = arg;
    const gw_envelope_t *e = d->env;

    if (d->status != GW_ST_QUEUED || e->source.connector == NULL ||
        strcmp(e->source.connector, ctx->owner) != 0)
        return 0;
    if (ctx->id[0])
        return strcmp(e->id, ctx->id) == 0;
    return e->from.address && e->to.address && strcmp(e->from.address, ctx->from) == 0 &&
           strcmp(e->to.address, ctx->to) == 0;
}

static void gw_cancel_each(gw_delivery_t *d, void *arg)
{
    gw_cancel_ctx_t *ctx = arg;

    d->qnext = ctx->list;
    ctx->list = d;
}

/* Writer thread: everything before has been handed on; look again. */
static void gw_cancel_again(void *arg, int rc, int64_t qseq)
{
    gw_cancel_ctx_t *ctx = arg;

    (void)qseq;
    if (rc < 0 || gw_cq_withdraw(gw_cancel_pick, gw_cancel_each, ctx->look, ctx) < 0)
        ctx->look(ctx, rc < 0 ? rc : GW_ENOMEM);
}

/* Core thread: a first look that found nothing asks for the second; 1 when
 * it is under way (the continuation runs again then). */
static int gw_cancel_look_again(gw_cancel_ctx_t *ctx, int n)
{
    if (n != 0 || ctx->again)
        return 0;
    ctx->again = 1; /* before the push: the callback may run at once */
    if (db_writer_after(gw_cancel_again, ctx) == 0)
        return 1;
    return 0;
}

/* ---- only in the store (core thread, the read on the pool) --------------------- */

static void gw_cancel_on_read(void *arg, int rc);

static void gw_cancel_row(gw_delivery_t *d, char *env_json, void *arg)
{
    gw_cancel_ctx_t *ctx = arg;

    d->env_json = env_json;
    if (ctx->row != NULL)
        gw_dlv_free(ctx->row);
    ctx->row = d;
}

/* Pool thread: read the row, back to the core thread. */
static void gw_cancel_read(void *arg)
{
    gw_cancel_ctx_t *ctx = arg;

    ctx->row_rc = db_msgs_queued_one(ctx->id, gw_cancel_row, ctx);
    if (gw_cq_call(gw_cancel_on_read, ctx) != 0) {
        /* the core is stopping: what it caught is queued in the store */
        GW_ERR("core", "%s: cancel or replace in the store lost its way back", ctx->id);
        ctx->cb(ctx->arg, GW_ENOMEM);
        gw_cancel_ctx_free(ctx);
    }
}

/* Core thread: the second look found nothing; for a request by id the
 * store's row is asked.  1 when that is under way. */
static int gw_cancel_store(gw_cancel_ctx_t *ctx, int n)
{
    if (n != 0 || !ctx->id[0] || gw_cq_hold_id(ctx->id) < 0)
        return 0;
    if (gw_work_submit(gw_cancel_read, ctx) != 0) {
        gw_cq_unhold_id(ctx->id, 0, NULL, NULL);
        return 0;
    }
    return 1;
}

/* Core thread: the writer's outcome (ctx->row_rc) is known; answer. */
static void gw_cancel_on_stored(void *arg, int rc)
{
    gw_cancel_ctx_t *ctx = arg;
    int changed = ctx->row_rc == 0;

    if (rc == 0 && ctx->edit == NULL) /* else the core stopped: its queues are gone */
        gw_cq_unhold_id(ctx->id, changed, NULL, NULL);
    else if (rc == 0)
        gw_cq_unhold_id(ctx->id, 0, changed ? ctx->new_env : NULL, ctx->new_json);
    gw_stat_add(changed ? (ctx->edit ? gw_cancel_st_replaced : gw_cancel_st_stored)
                        : gw_cancel_st_late, 1);
    if (changed)
        GW_INFO("core", "%s: %s in the store by %s", ctx->id,
                ctx->edit ? "replaced" : "cancelled", ctx->owner);
    else
        GW_DEBUG("core", "%s: not %s: no longer queued", ctx->id,
                 ctx->edit ? "replaced" : "cancelled");
    ctx->cb(ctx->arg, changed ? GW_OK : ctx->row_rc == 0 ? GW_ENOTFOUND : ctx->row_rc);
    gw_cancel_ctx_free(ctx);
}

/* Writer thread: the conditional change committed (rc 0) or found the
 * row no longer queued (GW_ENOTFOUND). */
static void gw_cancel_on_change(void *arg, int rc, int64_t qseq)
{
    gw_cancel_ctx_t *ctx = arg;

    (void)qseq;
    ctx->row_rc = rc;
    if (gw_cq_call(gw_cancel_on_stored, ctx) != 0) {
        GW_ERR("core", "%s: the outcome of its change in the store lost its way back", ctx->id);
        ctx->cb(ctx->arg, rc);
        gw_cancel_ctx_free(ctx);
    }
}

/* Core thread: the replace of the row ctx->row; 0 or an error. */
static int gw_cancel_replace_row(gw_cancel_ctx_t *ctx)
{
    gw_delivery_t *d = ctx->row;
    gw_evbatch_t ev = { 0 };
    const char *why = NULL;
    json_t *j = gw_env_to_json(d->env);
    int rc = GW_ENOMEM;

    if (j == NULL || (ctx->new_env = gw_env_from_json(j, &why)) == NULL)
        goto out;
    if ((rc = ctx->edit(ctx->new_env, ctx->edit_arg)) < 0)
        goto out;
    rc = GW_ENOMEM;
    if ((ctx->new_json = gw_env_to_text(ctx->new_env)) == NULL)
        goto out;
    if (gw_trace_on())
        gw_trace_envf(d->env, GW_TRACE_STATE, "replace by %s: only in the store, changed there "
                      "while still queued", ctx->owner);
    gw_event_add(&ev, d, ctx->new_json, "replaced", ctx->owner);
    rc = db_dlv_replace(ctx->id, ctx->new_json, ctx->new_env->expires_at, &ev,
                        gw_cancel_on_change, ctx);
    if (rc < 0)
        gw_evbatch_clear(&ev);
out:
    if (rc < 0)
        GW_WARN("core", "%s: not replaced: %s%s%s", ctx->id, gw_strerror(rc), why ? ": " : "",
                why ? why : "");
    json_decref(j);
    return rc;
}

/* Core thread: the row is read (or was not queued); check its owner and
 * ask for the change. */
static void gw_cancel_on_read(void *arg, int rc)
{
    gw_cancel_ctx_t *ctx = arg;
    gw_delivery_t *d = ctx->row;
    char detail[96];

    if (rc < 0)
        goto out_stopped; /* the core stopped: its queues are gone */
    rc = ctx->row_rc < 0 ? ctx->row_rc : GW_ENOTFOUND;
    if (d == NULL || !gw_cancel_pick(d, ctx))
        goto out_answer; /* not queued, or another account's: as unknown */
    ctx->row_rc = 0;
    if (ctx->edit != NULL) {
        rc = gw_cancel_replace_row(ctx);
    } else {
        snprintf(detail, sizeof detail, "cancelled by %.80s", ctx->owner);
        ctx->row = NULL; /* gw_core_cancel_stored takes it over on success */
        rc = gw_core_cancel_stored(d, detail, gw_cancel_on_change, ctx);
        if (rc < 0)
            ctx->row = d;
    }
    if (rc == 0)
        return;
out_answer:
    gw_cq_unhold_id(ctx->id, 0, NULL, NULL);
out_stopped:
    ctx->cb(ctx->arg, rc);
    gw_cancel_ctx_free(ctx);
}

/* One reference of ctx->pending dropped; the last answers. */
static void gw_cancel_unpend(gw_cancel_ctx_t *ctx)
{
    if (__atomic_sub_fetch(&ctx->pending, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    ctx->cb(ctx->arg, __atomic_load_n(&ctx->done, __ATOMIC_ACQUIRE) > 0 ? GW_OK : GW_ENOTFOUND);
    gw_cancel_ctx_free(ctx);
}

/* Writer thread: one cancel committed. */
static void gw_cancel_on_commit(void *arg, int rc, int64_t qseq)
{
    gw_cancel_ctx_t *ctx = arg;

    (void)rc; /* updates always commit in the end */
    (void)qseq;
    __atomic_add_fetch(&ctx->done, 1, __ATOMIC_ACQ_REL);
    gw_cancel_unpend(ctx);
}

/* ---- by addresses, in the store ------------------------------------------------ */

#define GW_CANCEL_STORE_MAX 1000 /* rows of one cancel by addresses read from the store */

/* One row of a cancel by addresses whose change runs in the store. */
typedef struct gw_cancel_row_ticket {
    gw_cancel_ctx_t *ctx;
    char id[GW_ENV_ID_LEN + 1];
    int rc;
} gw_cancel_row_ticket_t;

static void gw_cancel_on_matched(void *arg, int rc);

static void gw_cancel_row_add(gw_delivery_t *d, char *env_json, void *arg)
{
    gw_cancel_ctx_t *ctx = arg;

    d->env_json = env_json;
    d->qnext = ctx->row;
    ctx->row = d;
}

/* Pool thread: the account's queued rows between the two addresses. */
static void gw_cancel_match(void *arg)
{
    gw_cancel_ctx_t *ctx = arg;

    ctx->row_rc = db_msgs_queued_from(ctx->owner, ctx->from, ctx->to, GW_CANCEL_STORE_MAX,
                                      gw_cancel_row_add, ctx);
    if (gw_cq_call(gw_cancel_on_matched, ctx) != 0) {
        GW_ERR("core", "cancel by %s: its look in the store lost its way back", ctx->owner);
        gw_cancel_unpend(ctx);
    }
}

/* Writer thread: the cancels withdrawn from memory have committed (their
 * rows are failed, so the store's look does not find them again). */
static void gw_cancel_match_after(void *arg, int rc, int64_t qseq)
{
    gw_cancel_ctx_t *ctx = arg;

    (void)qseq;
    if (rc < 0 || gw_work_submit(gw_cancel_match, ctx) != 0)
        gw_cancel_unpend(ctx);
}

/* Core thread: one row's conditional change is known. */
static void gw_cancel_on_row_stored(void *arg, int rc)
{
    gw_cancel_row_ticket_t *t = arg;

    if (rc == 0)
        gw_cq_unhold_id(t->id, t->rc == 0, NULL, NULL);
    gw_stat_add(t->rc == 0 ? gw_cancel_st_stored : gw_cancel_st_late, 1);
    if (t->rc == 0) {
        GW_INFO("core", "%s: cancelled in the store by %s", t->id, t->ctx->owner);
        __atomic_add_fetch(&t->ctx->done, 1, __ATOMIC_ACQ_REL);
    }
    gw_cancel_unpend(t->ctx);
    free(t);
}

/* Writer thread: a row's conditional change committed or found it gone. */
static void gw_cancel_on_row_change(void *arg, int rc, int64_t qseq)
{
    gw_cancel_row_ticket_t *t = arg;

    (void)qseq;
    t->rc = rc;
    if (gw_cq_call(gw_cancel_on_row_stored, t) != 0) {
        if (rc == 0)
            __atomic_add_fetch(&t->ctx->done, 1, __ATOMIC_ACQ_REL);
        gw_cancel_unpend(t->ctx);
        free(t);
    }
}

/* Core thread: cancel each matched row in the store (one a change of
 * which runs already, as one withdrawn from memory, is left to it). */
static void gw_cancel_on_matched(void *arg, int rc)
{
    gw_cancel_ctx_t *ctx = arg;
    char detail[96];
    gw_delivery_t *d, *next;

    snprintf(detail, sizeof detail, "cancelled by %.80s", ctx->owner);
    for (d = ctx->row, ctx->row = NULL; d != NULL; d = next) {
        gw_cancel_row_ticket_t *t = NULL;
        next = d->qnext;
        d->qnext = NULL;
        if (rc < 0 || !gw_cancel_pick(d, ctx) || (t = calloc(1, sizeof *t)) == NULL ||
            gw_cq_hold_id(d->env->id) < 0) {
            free(t);
            gw_dlv_free(d);
            continue;
        }
        t->ctx = ctx;
        memcpy(t->id, d->env->id, sizeof t->id);
        __atomic_add_fetch(&ctx->pending, 1, __ATOMIC_ACQ_REL);
        if (gw_core_cancel_stored(d, detail, gw_cancel_on_row_change, t) < 0) {
            __atomic_sub_fetch(&ctx->pending, 1, __ATOMIC_ACQ_REL);
            gw_cq_unhold_id(t->id, 0, NULL, NULL);
            gw_dlv_free(d);
            free(t);
        }
    }
    gw_cancel_unpend(ctx); /* the hand-over's own */
}

/* Core thread: hand every withdrawn delivery to the writer as failed. */
static void gw_cancel_on_withdrawn(void *arg, int n)
{
    gw_cancel_ctx_t *ctx = arg;
    char detail[96];
    gw_delivery_t *d, *next;

    if (gw_cancel_look_again(ctx, n) || gw_cancel_store(ctx, n))
        return;
    snprintf(detail, sizeof detail, "cancelled by %.80s", ctx->owner);
    __atomic_store_n(&ctx->pending, 1, __ATOMIC_RELEASE); /* this hand-over's own */
    for (d = ctx->list; d != NULL; d = next) {
        char id[GW_ENV_ID_LEN + 1];
        next = d->qnext;
        d->qnext = NULL;
        memcpy(id, d->env->id, sizeof id); /* d is freed once its change is queued */
        __atomic_add_fetch(&ctx->pending, 1, __ATOMIC_ACQ_REL);
        if (gw_core_cancel_one(d, detail, gw_cancel_on_commit, ctx) < 0) {
            /* not queued for the store: it stays queued, back to its queue */
            __atomic_sub_fetch(&ctx->pending, 1, __ATOMIC_ACQ_REL);
            gw_cq_ready(d);
        } else {
            GW_INFO("core", "%s: cancelled by %s", id, ctx->owner);
        }
    }
    ctx->list = NULL;
    /* by addresses, the store may hold more of them (a spilled queue):
     * looked for there once the withdrawn ones committed, the hand-over's
     * own reference kept until then */
    if (!ctx->id[0] && n >= 0 && db_writer_after(gw_cancel_match_after, ctx) == 0)
        return;
    gw_cancel_unpend(ctx);
}

/* A copy of a (normalised) address's text, or NULL. */
static char *gw_cancel_addr(const gw_addr_t *a)
{
    return a && a->address ? strdup(a->address) : NULL;
}

int gw_core_cancel(const char *owner, const char *id, const gw_addr_t *from, const gw_addr_t *to,
                   gw_ack_cb_t cb, void *arg)
{
    gw_cancel_ctx_t *ctx;
    int rc;

    if (owner == NULL || cb == NULL || strlen(owner) >= GW_NAME_MAX ||
        (id != NULL && strlen(id) != GW_ENV_ID_LEN) ||
        (id == NULL && (from == NULL || to == NULL || !from->address || !to->address)))
        return GW_EINVAL;
    if ((ctx = calloc(1, sizeof *ctx)) == NULL)
        return GW_ENOMEM;
    gw_strlcpy(ctx->owner, owner, sizeof ctx->owner);
    if (id != NULL)
        memcpy(ctx->id, id, GW_ENV_ID_LEN + 1);
    else if ((ctx->from = gw_cancel_addr(from)) == NULL || (ctx->to = gw_cancel_addr(to)) == NULL)
        goto out_nomem;
    ctx->cb = cb;
    ctx->arg = arg;
    ctx->look = gw_cancel_on_withdrawn;
    rc = gw_cq_withdraw(gw_cancel_pick, gw_cancel_each, gw_cancel_on_withdrawn, ctx);
    if (rc < 0)
        gw_cancel_ctx_free(ctx);
    return rc;

out_nomem:
    gw_cancel_ctx_free(ctx);
    return GW_ENOMEM;
}

/* ---- replace ----------------------------------------------------------------- */

/* Writer thread: the new content is durable; the delivery takes it and
 * goes back to its queue. */
static void gw_replace_on_commit(void *arg, int rc, int64_t qseq)
{
    gw_cancel_ctx_t *ctx = arg;
    gw_delivery_t *d = ctx->list;

    (void)rc;
    (void)qseq;
    gw_env_unref(d->env);
    d->env = ctx->new_env;
    ctx->new_env = NULL;
    free(d->env_json);
    d->env_json = ctx->new_json;
    ctx->new_json = NULL;
    ctx->list = NULL;
    if (d->next_at > gw_now_ms())
        gw_cq_retry(d);
    else
        gw_cq_ready(d);
    ctx->cb(ctx->arg, GW_OK);
    gw_cancel_ctx_free(ctx);
}

/* Core thread: edit a copy of the withdrawn delivery's envelope and write
 * it.  On any failure the delivery goes back unchanged. */
static void gw_replace_on_withdrawn(void *arg, int n)
{
    gw_cancel_ctx_t *ctx = arg;
    gw_delivery_t *d = ctx->list;
    gw_evbatch_t ev = { 0 };
    json_t *j = NULL;
    const char *why = NULL;
    int rc = GW_ENOTFOUND;

    if (gw_cancel_look_again(ctx, n) || gw_cancel_store(ctx, n))
        return;
    if (n <= 0 || d == NULL)
        goto out_answer;
    rc = GW_ENOMEM;
    if ((j = gw_env_to_json(d->env)) == NULL || (ctx->new_env = gw_env_from_json(j, &why)) == NULL)
        goto out_back;
    if ((rc = ctx->edit(ctx->new_env, ctx->edit_arg)) < 0)
        goto out_back;
    rc = GW_ENOMEM;
    if ((ctx->new_json = gw_env_to_text(ctx->new_env)) == NULL)
        goto out_back;
    gw_event_add(&ev, d, ctx->new_json, "replaced", ctx->owner);
    rc = db_dlv_replace(d->env->id, ctx->new_json, ctx->new_env->expires_at, &ev,
                        gw_replace_on_commit, ctx);
    if (rc < 0) {
        gw_evbatch_clear(&ev);
        goto out_back;
    }
    json_decref(j);
    GW_INFO("core", "%s: replaced by %s", d->env->id, ctx->owner);
    return;

out_back:
    GW_WARN("core", "%s: not replaced: %s%s%s", d->env->id, gw_strerror(rc), why ? ": " : "",
            why ? why : "");
    json_decref(j);
    ctx->list = NULL;
    gw_cq_ready(d); /* still queued, as it was */
out_answer:
    ctx->cb(ctx->arg, rc < 0 ? rc : GW_ENOTFOUND);
    gw_cancel_ctx_free(ctx);
}

int gw_core_replace(const char *owner, const char *id, gw_edit_fn_t edit, void *edit_arg,
                    gw_ack_cb_t cb, void *arg)
{
    gw_cancel_ctx_t *ctx;
    int rc;

    if (owner == NULL || id == NULL || edit == NULL || cb == NULL ||
        strlen(owner) >= GW_NAME_MAX || strlen(id) != GW_ENV_ID_LEN)
        return GW_EINVAL;
    if ((ctx = calloc(1, sizeof *ctx)) == NULL)
        return GW_ENOMEM;
    gw_strlcpy(ctx->owner, owner, sizeof ctx->owner);
    memcpy(ctx->id, id, GW_ENV_ID_LEN + 1);
    ctx->edit = edit;
    ctx->edit_arg = edit_arg;
    ctx->cb = cb;
    ctx->arg = arg;
    ctx->look = gw_replace_on_withdrawn;
    rc = gw_cq_withdraw(gw_cancel_pick, gw_cancel_each, gw_replace_on_withdrawn, ctx);
    if (rc < 0)
        gw_cancel_ctx_free(ctx);
    return rc;
}
