/*
 * gw_trace.c - the trace bus: active traces, their filters and rings.
 *
 * A trace is one malloc'd gw_trace_t with its filter, four small sets of
 * learned ids (envelope ids, Call-IDs, SMPP message_ids, SMPP requests
 * awaiting a response) and a ring of fixed-size entries allocated when the
 * trace starts.  Entry n of the journey lives in slot n % cap; a reader's
 * cursor is the number of the next entry it wants, so "since the cursor"
 * is a range and an entry overwritten before it was read is counted as
 * dropped once.
 *
 * The hot path: callers test gw_trace_on() (one relaxed load) and build
 * nothing when it is 0.  With a trace active, gw_trace_record takes
 * gw_trace_lock, walks the (at most trace.max) traces, matches with string
 * compares and, for packets without number fields, memmem over the raw
 * bytes, and copies a matching record into a ring slot: no allocation.
 * Traces nobody polled for their idle time are ended on the way (here or
 * in any MI call), so a forgotten junctionctl leaves nothing running.
 *
 * Threads: any.  gw_trace_lock guards gw_traces and every trace in it;
 * gw_trace_nactive is written under it and read without it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "gw_errors.h"
#include "gw_hep.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "gw_trace.h"

/* SMPP command ids the matcher needs (SMPP 3.4, 5.1.2.1); the bus does not
 * include libsmpp34. */
#define GW_TRACE_SMPP_RESP 0x80000000u
#define GW_TRACE_SMPP_DELIVER_SM 0x00000005u
#define GW_TRACE_SMPP_DATA_SM 0x00000103u

/* A copy of a record.  Fixed size so that a ring is allocated once. */
typedef struct gw_trace_entry {
    uint64_t seq;
    int64_t time_us;           /* wall clock, microseconds since the epoch */
    gw_trace_kind_t kind;
    gw_trace_dir_t dir;
    uint32_t smpp_cmd, smpp_seq, smpp_status;
    uint64_t amqp_tag;
    size_t raw_total;          /* bytes offered */
    size_t raw_len;            /* bytes kept, <= GW_TRACE_RAW_MAX */
    char connector[64];
    char peer[64];
    char env_id[GW_ENV_ID_LEN + 1];
    char from[48], to[48];
    char call_id[128];
    char system_id[16];
    char smpp_msgid[72];
    char summary[256];
    unsigned char raw[GW_TRACE_RAW_MAX];
} gw_trace_entry_t;

/* An SMPP request a trace matched: its response (same peer and sequence,
 * the other direction) belongs to the same journey. */
typedef struct gw_trace_req {
    char peer[64];
    uint32_t seq;
    gw_trace_dir_t resp_dir;
} gw_trace_req_t;

typedef struct gw_trace {
    int id;
    gw_trace_filter_t f;
    size_t to_len, from_len;
    /* learned ids: each a ring of GW_TRACE_LEARN_MAX, n counts insertions */
    char envs[GW_TRACE_LEARN_MAX][GW_ENV_ID_LEN + 1];
    char calls[GW_TRACE_LEARN_MAX][128];
    char msgids[GW_TRACE_LEARN_MAX][72];
    gw_trace_req_t reqs[GW_TRACE_LEARN_MAX];
    unsigned nenvs, ncalls, nmsgids, nreqs;
    /* the ring */
    gw_trace_entry_t *ring; /* owned, cap entries */
    size_t cap;
    uint64_t next_seq;      /* number of the next entry */
    uint64_t read_seq;      /* entries below it were read */
    uint64_t dropped;
    int64_t created_ms, polled_ms, idle_ms; /* monotonic */
    int waiters;            /* readers waiting in gw_trace_read */
    int has_hep;
    gw_hep_dest_t hep;      /* when has_hep: the collector */
    struct gw_trace *next;
} gw_trace_t;

int gw_trace_nactive;
static gw_trace_t *gw_traces;    /* guarded by gw_trace_lock */
static int gw_trace_next_id;     /* guarded by gw_trace_lock */
static pthread_mutex_t gw_trace_lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled (under gw_trace_lock) when a trace with a waiting reader keeps
 * a record, or traces stop.  CLOCK_MONOTONIC, set up by gw_trace_cond_init. */
static pthread_cond_t gw_trace_cond;
static pthread_once_t gw_trace_cond_once = PTHREAD_ONCE_INIT;
static gw_stat_t *gw_trace_st_offered, *gw_trace_st_matched, *gw_trace_st_dropped,
    *gw_trace_st_active;

static int gw_trace_param_max, gw_trace_param_ring, gw_trace_param_idle_s;

const gw_param_t gw_trace_params[] = {
    { "trace.max", GW_PT_INT, &gw_trace_param_max, 0, "8", 1, 64, GW_PARAM_RUNTIME,
      "traces that may run at once (MI trace.start)" },
    { "trace.ring", GW_PT_INT, &gw_trace_param_ring, 0, "256", 16, 16384, GW_PARAM_RUNTIME,
      "records each trace keeps until read (about 1.3 KiB each)" },
    { "trace.idle_s", GW_PT_INT, &gw_trace_param_idle_s, 0, "30", 1, 86400, GW_PARAM_RUNTIME,
      "a trace nobody polled for this long ends" },
    GW_PARAM_END,
};

static const char *const gw_trace_kind_names[GW_TRACE__KINDS] = {
    "packet", "pdu", "publish", "route", "state", "log", "http",
};

const char *gw_trace_kind_name(gw_trace_kind_t k)
{
    return (unsigned)k < GW_TRACE__KINDS ? gw_trace_kind_names[k] : "?";
}

const char *gw_trace_dir_name(gw_trace_dir_t d)
{
    return d == GW_TRACE_IN ? "in" : d == GW_TRACE_OUT ? "out" : "-";
}

/* Idle time is counted in seconds, so the coarse clock (a few ns, no
 * syscall) is precise enough. */
static int64_t gw_trace_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void gw_trace_stats_init(void)
{
    gw_trace_st_offered = gw_stat("trace.offered", "records offered while a trace was active");
    gw_trace_st_matched = gw_stat("trace.matched", "records kept by a trace");
    gw_trace_st_dropped = gw_stat("trace.dropped", "trace records overwritten before read");
    gw_trace_st_active = gw_stat_gauge("trace.active", "traces running");
}

static void gw_trace_cond_init(void)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&gw_trace_cond, &a);
    pthread_condattr_destroy(&a);
}

int gw_trace_init(void)
{
    pthread_once(&gw_trace_cond_once, gw_trace_cond_init);
    gw_hep_stats_init();
    gw_trace_stats_init();
    return gw_trace_mi_init();
}

/* ---- matching (under gw_trace_lock) -------------------------------------- */

static int gw_trace_set(const char *s)
{
    return s != NULL && *s != '\0';
}

/* Copy s into dst (cap bytes), cut back to whole UTF-8 characters.  Bytes
 * are copied as they are: readers clean them (gw_trace_json_str), off the
 * recording path. */
static void gw_trace_copy(char *dst, size_t cap, const char *s)
{
    size_t n;

    if (!gw_trace_set(s)) {
        dst[0] = '\0';
        return;
    }
    n = strnlen(s, cap - 1);
    if (s[n] != '\0')
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* s[n] starts the first character left out */
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* A number field against filter digits d (n of them): a prefix once '+' is
 * dropped; in a field that is not a plain number (a SIP URI) anywhere. */
static int gw_trace_num_match(const char *field, const char *d, size_t n)
{
    const char *p;

    if (!gw_trace_set(field))
        return 0;
    if (*field == '+')
        field++;
    if (strncmp(field, d, n) == 0)
        return 1;
    for (p = field; *p >= '0' && *p <= '9'; p++)
        ;
    return *p != '\0' && strstr(field, d) != NULL;
}

static int gw_trace_peer_match(const char *peer, const char *f)
{
    size_t n = strlen(f);

    if (!gw_trace_set(peer))
        return 0;
    if (strchr(f, ':') != NULL)
        return strcmp(peer, f) == 0;
    return strncmp(peer, f, n) == 0 && (peer[n] == ':' || peer[n] == '\0');
}

static int gw_trace_raw_has(const gw_trace_rec_t *r, const char *s, size_t n)
{
    return r->raw != NULL && r->raw_len >= n && memmem(r->raw, r->raw_len, s, n) != NULL;
}

/* A learned set is a ring of GW_TRACE_LEARN_MAX strings of stride bytes,
 * count of them ever inserted.  1 when s is in it. */
static int gw_trace_in_set(const char *set, size_t stride, unsigned count, const char *s)
{
    unsigned i, n = count < GW_TRACE_LEARN_MAX ? count : GW_TRACE_LEARN_MAX;

    for (i = 0; i < n; i++)
        if (strcmp(set + i * stride, s) == 0)
            return 1;
    return 0;
}

/* Add s to a learned set unless present (or too long), replacing the
 * oldest when full. */
static void gw_trace_learn_str(char *set, size_t stride, unsigned *count, const char *s)
{
    if (!gw_trace_set(s) || strlen(s) >= stride || gw_trace_in_set(set, stride, *count, s))
        return;
    strcpy(set + (*count % GW_TRACE_LEARN_MAX) * stride, s);
    (*count)++;
}

#define GW_TRACE_SET_ARGS(a) (a)[0], sizeof((a)[0])

/* Does r continue a journey t follows? */
static int gw_trace_knows(const gw_trace_t *t, const gw_trace_rec_t *r)
{
    unsigned i, n;

    if (gw_trace_set(r->env_id) && gw_trace_in_set(GW_TRACE_SET_ARGS(t->envs), t->nenvs, r->env_id))
        return 1;
    if (gw_trace_set(r->call_id) && gw_trace_in_set(GW_TRACE_SET_ARGS(t->calls), t->ncalls, r->call_id))
        return 1;
    if (gw_trace_set(r->smpp_msgid) &&
        gw_trace_in_set(GW_TRACE_SET_ARGS(t->msgids), t->nmsgids, r->smpp_msgid))
        return 1;
    if (r->kind != GW_TRACE_PDU)
        return 0;
    if (r->smpp_cmd & GW_TRACE_SMPP_RESP) {
        n = t->nreqs < GW_TRACE_LEARN_MAX ? t->nreqs : GW_TRACE_LEARN_MAX;
        for (i = 0; i < n; i++)
            if (t->reqs[i].seq == r->smpp_seq && t->reqs[i].resp_dir == r->dir &&
                gw_trace_set(r->peer) && strcmp(t->reqs[i].peer, r->peer) == 0)
                return 1;
        return 0;
    }
    /* a delivery receipt quotes the message_id in its text or a TLV */
    if (r->smpp_cmd == GW_TRACE_SMPP_DELIVER_SM || r->smpp_cmd == GW_TRACE_SMPP_DATA_SM) {
        n = t->nmsgids < GW_TRACE_LEARN_MAX ? t->nmsgids : GW_TRACE_LEARN_MAX;
        for (i = 0; i < n; i++)
            if (gw_trace_raw_has(r, t->msgids[i], strlen(t->msgids[i])))
                return 1;
    }
    return 0;
}

/* Is connector the one of the SMPP account f->system_id names (the
 * source of its messages, the destination of its reports)? */
static int gw_trace_is_account(const char *connector, const gw_trace_filter_t *f)
{
    return gw_trace_set(connector) && strncmp(connector, "account:", 8) == 0 &&
           strcmp(connector + 8, f->system_id) == 0;
}

/* Does r pass every filter of t? */
static int gw_trace_passes(const gw_trace_t *t, const gw_trace_rec_t *r)
{
    const gw_trace_filter_t *f = &t->f;
    int numbers = gw_trace_set(r->to) || gw_trace_set(r->from);

    if (f->to[0] && !(numbers ? gw_trace_num_match(r->to, f->to, t->to_len)
                              : gw_trace_raw_has(r, f->to, t->to_len)))
        return 0;
    if (f->from[0] && !(numbers ? gw_trace_num_match(r->from, f->from, t->from_len)
                                : gw_trace_raw_has(r, f->from, t->from_len)))
        return 0;
    if (f->env_id[0] && !(gw_trace_set(r->env_id) && strcmp(r->env_id, f->env_id) == 0))
        return 0;
    if (f->call_id[0] && !(gw_trace_set(r->call_id) && strcmp(r->call_id, f->call_id) == 0))
        return 0;
    if (f->connector[0] &&
        !(gw_trace_set(r->connector) && strcmp(r->connector, f->connector) == 0))
        return 0;
    if (f->peer[0] && !gw_trace_peer_match(r->peer, f->peer))
        return 0;
    if (f->system_id[0] && !(gw_trace_set(r->system_id) ? strcmp(r->system_id, f->system_id) == 0
                                                        : gw_trace_is_account(r->connector, f)))
        return 0;
    return 1;
}

/* t matched r: remember the ids that will name the rest of the journey. */
static void gw_trace_learn(gw_trace_t *t, const gw_trace_rec_t *r)
{
    gw_trace_req_t *q;
    unsigned i, n;

    gw_trace_learn_str(GW_TRACE_SET_ARGS(t->envs), &t->nenvs, r->env_id);
    gw_trace_learn_str(GW_TRACE_SET_ARGS(t->calls), &t->ncalls, r->call_id);
    gw_trace_learn_str(GW_TRACE_SET_ARGS(t->msgids), &t->nmsgids, r->smpp_msgid);
    if (r->kind != GW_TRACE_PDU || (r->smpp_cmd & GW_TRACE_SMPP_RESP) || r->dir == GW_TRACE_NONE ||
        !gw_trace_set(r->peer) || strlen(r->peer) >= sizeof(q->peer))
        return;
    n = t->nreqs < GW_TRACE_LEARN_MAX ? t->nreqs : GW_TRACE_LEARN_MAX;
    for (i = 0; i < n; i++)
        if (t->reqs[i].seq == r->smpp_seq && strcmp(t->reqs[i].peer, r->peer) == 0)
            return;
    q = &t->reqs[t->nreqs++ % GW_TRACE_LEARN_MAX];
    strcpy(q->peer, r->peer);
    q->seq = r->smpp_seq;
    q->resp_dir = r->dir == GW_TRACE_IN ? GW_TRACE_OUT : GW_TRACE_IN;
}

/* Copy r into t's next ring slot. */
static void gw_trace_keep(gw_trace_t *t, const gw_trace_rec_t *r, int64_t now_us)
{
    gw_trace_entry_t *e = &t->ring[t->next_seq % t->cap];

    if (t->next_seq >= t->cap && t->next_seq - t->cap >= t->read_seq) {
        t->dropped++; /* the entry overwritten now was never read */
        gw_stat_add(gw_trace_st_dropped, 1);
    }
    e->seq = t->next_seq++;
    e->time_us = now_us;
    e->kind = r->kind;
    e->dir = r->dir;
    e->smpp_cmd = r->smpp_cmd;
    e->smpp_seq = r->smpp_seq;
    e->smpp_status = r->smpp_status;
    e->amqp_tag = r->amqp_tag;
    gw_trace_copy(e->connector, sizeof(e->connector), r->connector);
    gw_trace_copy(e->peer, sizeof(e->peer), r->peer);
    gw_trace_copy(e->env_id, sizeof(e->env_id), r->env_id);
    gw_trace_copy(e->from, sizeof(e->from), r->from);
    gw_trace_copy(e->to, sizeof(e->to), r->to);
    gw_trace_copy(e->call_id, sizeof(e->call_id), r->call_id);
    gw_trace_copy(e->system_id, sizeof(e->system_id), r->system_id);
    gw_trace_copy(e->smpp_msgid, sizeof(e->smpp_msgid), r->smpp_msgid);
    gw_trace_copy(e->summary, sizeof(e->summary), r->summary);
    e->raw_total = r->raw ? r->raw_len : 0;
    e->raw_len = e->raw_total < GW_TRACE_RAW_MAX ? e->raw_total : GW_TRACE_RAW_MAX;
    if (e->raw_len)
        memcpy(e->raw, r->raw, e->raw_len);
    gw_stat_add(gw_trace_st_matched, 1);
    if (t->has_hep)
        gw_hep_offer(&t->hep, r, now_us); /* the whole record, not the ring's cut copy */
}

static void gw_trace_free(gw_trace_t *t)
{
    if (t != NULL)
        free(t->ring);
    free(t);
}

/* Unlink *pp (under the lock); the caller frees it after unlocking. */
static gw_trace_t *gw_trace_unlink(gw_trace_t **pp)
{
    gw_trace_t *t = *pp;

    *pp = t->next;
    t->next = NULL;
    __atomic_store_n(&gw_trace_nactive, gw_trace_nactive - 1, __ATOMIC_RELAXED);
    gw_stat_add(gw_trace_st_active, -1);
    return t;
}

/* Unlink the traces idle since before now (under the lock); returns them
 * as a list for the caller to free once unlocked. */
static gw_trace_t *gw_trace_expire(int64_t now)
{
    gw_trace_t **pp = &gw_traces, *t, *gone = NULL;

    while ((t = *pp) != NULL) {
        if (t->waiters > 0 || now - t->polled_ms <= t->idle_ms) {
            pp = &t->next;
            continue;
        }
        t = gw_trace_unlink(pp);
        t->next = gone;
        gone = t;
    }
    return gone;
}

static void gw_trace_free_expired(gw_trace_t *gone)
{
    gw_trace_t *t;

    while ((t = gone) != NULL) {
        gone = t->next;
        GW_INFO("trace", "trace %d ended: not polled for %lld s", t->id,
                (long long)(t->idle_ms / 1000));
        gw_trace_free(t);
    }
}

/* Wall clock in microseconds: relative times of a journey need more than
 * milliseconds. */
static int64_t gw_trace_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void gw_trace_record(const gw_trace_rec_t *r)
{
    int64_t now = r->time_ms * 1000, mono;
    gw_trace_t *t, *gone;
    int wake = 0;

    if (!gw_trace_on())
        return;
    gw_stat_add(gw_trace_st_offered, 1);
    mono = gw_trace_mono_ms();
    pthread_mutex_lock(&gw_trace_lock);
    gone = gw_trace_expire(mono);
    for (t = gw_traces; t; t = t->next) {
        if (!gw_trace_knows(t, r) && !gw_trace_passes(t, r))
            continue;
        if (now == 0)
            now = gw_trace_now_us(); /* only for records that are kept */
        gw_trace_learn(t, r);
        gw_trace_keep(t, r, now);
        wake |= t->waiters > 0;
    }
    if (wake)
        pthread_cond_broadcast(&gw_trace_cond);
    pthread_mutex_unlock(&gw_trace_lock);
    gw_trace_free_expired(gone);
}

int gw_trace_wants(const gw_trace_rec_t *r)
{
    gw_trace_t *t;
    int want = 0;

    if (!gw_trace_on())
        return 0;
    pthread_mutex_lock(&gw_trace_lock);
    for (t = gw_traces; t && !want; t = t->next)
        want = gw_trace_knows(t, r) || gw_trace_passes(t, r);
    pthread_mutex_unlock(&gw_trace_lock);
    if (!want)
        gw_stat_add(gw_trace_st_offered, 1); /* gw_trace_record counts the others */
    return want;
}

/* The fields every record about env carries. */
static void gw_trace_env_rec(gw_trace_rec_t *r, const gw_envelope_t *env, gw_trace_kind_t kind)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->dir = GW_TRACE_NONE;
    r->connector = env->source.connector;
    r->peer = env->source.peer;
    r->env_id = env->id;
    r->from = env->from.address;
    r->to = env->to.address;
    r->call_id = env->corr.sip_call_id;
    r->smpp_msgid = env->corr.smpp_message_id;
}

void gw_trace_env(const gw_envelope_t *env, gw_trace_kind_t kind, const char *summary)
{
    gw_trace_rec_t r;

    gw_trace_env_rec(&r, env, kind);
    r.summary = summary;
    gw_trace_record(&r);
}

void gw_trace_envf(const gw_envelope_t *env, gw_trace_kind_t kind, const char *fmt, ...)
{
    gw_trace_rec_t r;
    char line[256];
    va_list ap;

    gw_trace_env_rec(&r, env, kind);
    if (!gw_trace_wants(&r))
        return; /* no trace keeps it: not formatted */
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r.summary = line;
    gw_trace_record(&r);
}

void gw_trace_vlogf(const char *connector, const char *peer, const char *call_id,
                    const char *fmt, va_list ap)
{
    gw_trace_rec_t r = {0};
    char line[512];

    r.kind = GW_TRACE_LOG;
    r.connector = connector;
    r.peer = peer;
    r.call_id = call_id;
    if (!gw_trace_wants(&r))
        return; /* no trace keeps it: not formatted */
    vsnprintf(line, sizeof line, fmt, ap);
    r.summary = line;
    gw_trace_record(&r);
}

void gw_trace_logf(const char *connector, const char *peer, const char *call_id,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gw_trace_vlogf(connector, peer, call_id, fmt, ap);
    va_end(ap);
}

/* The fields of a record about delivery d: its envelope's, with the
 * current target as connector and the remote id as SMPP message_id. */
static void gw_trace_dlv_rec(gw_trace_rec_t *r, const gw_delivery_t *d, gw_trace_kind_t kind)
{
    gw_trace_env_rec(r, d->env, kind);
    if (gw_dlv_target(d)[0])
        r->connector = gw_dlv_target(d);
    if (d->remote_id[0])
        r->smpp_msgid = d->remote_id;
}

void gw_trace_dlvf(const gw_delivery_t *d, gw_trace_kind_t kind, const char *fmt, ...)
{
    gw_trace_rec_t r;
    char line[256];
    va_list ap;

    gw_trace_dlv_rec(&r, d, kind);
    if (!gw_trace_wants(&r))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r.summary = line;
    gw_trace_record(&r);
}

void gw_trace_state(const gw_delivery_t *d, const char *detail)
{
    gw_trace_dlvf(d, GW_TRACE_STATE, "%s%s%s", gw_status_name(d->status),
                  detail && *detail ? ": " : "", detail ? detail : "");
}

void gw_trace_route(const gw_delivery_t *d)
{
    gw_trace_rec_t r;
    char line[256];
    size_t n;
    int i;

    gw_trace_dlv_rec(&r, d, GW_TRACE_ROUTE);
    if (!gw_trace_wants(&r))
        return;
    n = (size_t)snprintf(line, sizeof(line), "rule %s ->", d->route);
    for (i = 0; i < d->ntargets && n < sizeof(line); i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s", i ? "," : "", d->targets[i]);
    if (d->strategy != GW_STRAT_SINGLE && n < sizeof(line))
        snprintf(line + n, sizeof(line) - n, " (%s)", gw_strategy_name(d->strategy));
    r.summary = line;
    gw_trace_record(&r);
}

void gw_trace_receipt(const char *connector, const char *remote_id, const char *stat)
{
    char line[128];
    gw_trace_rec_t r;

    snprintf(line, sizeof(line), "receipt %s", stat ? stat : "?");
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_STATE;
    r.connector = connector;
    r.smpp_msgid = remote_id;
    r.summary = line;
    gw_trace_record(&r);
}

/* ---- traces ------------------------------------------------------------- */

int gw_trace_start(const gw_trace_filter_t *f)
{
    gw_trace_t *t, *gone, *n;
    int count = 0, rc;
    size_t cap = (size_t)__atomic_load_n(&gw_trace_param_ring, __ATOMIC_RELAXED);
    int max = __atomic_load_n(&gw_trace_param_max, __ATOMIC_RELAXED);

    gw_hep_dest_t hep;

    if (!f->to[0] && !f->from[0] && !f->env_id[0] && !f->call_id[0] && !f->connector[0] &&
        !f->peer[0] && !f->system_id[0])
        return GW_EINVAL;
    if (f->hep[0] && gw_hep_parse(f->hep, &hep) != 0)
        return GW_EINVAL;
    if (cap < 16)
        cap = 16; /* parameters not registered: unit tests */
    if (max < 1)
        max = 8;
    gw_trace_stats_init();
    pthread_once(&gw_trace_cond_once, gw_trace_cond_init);
    /* allocate before locking: recorders wait on the lock */
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return GW_ENOMEM;
    t->ring = calloc(cap, sizeof(*t->ring));
    if (t->ring == NULL) {
        gw_trace_free(t);
        return GW_ENOMEM;
    }
    t->cap = cap;
    t->f = *f;
    t->has_hep = f->hep[0] != '\0';
    if (t->has_hep)
        t->hep = hep;
    t->to_len = strlen(f->to);
    t->from_len = strlen(f->from);
    t->created_ms = t->polled_ms = gw_trace_mono_ms();
    t->idle_ms = 1000LL * (gw_trace_param_idle_s > 0 ? gw_trace_param_idle_s : 30);
    pthread_mutex_lock(&gw_trace_lock);
    gone = gw_trace_expire(t->created_ms);
    for (n = gw_traces; n; n = n->next)
        count++;
    if (count >= max) {
        rc = GW_EFULL;
    } else {
        rc = t->id = ++gw_trace_next_id;
        t->next = gw_traces;
        gw_traces = t;
        __atomic_store_n(&gw_trace_nactive, gw_trace_nactive + 1, __ATOMIC_RELAXED);
        gw_stat_add(gw_trace_st_active, 1);
    }
    pthread_mutex_unlock(&gw_trace_lock);
    gw_trace_free_expired(gone);
    if (rc < 0)
        gw_trace_free(t);
    else
        GW_INFO("trace", "trace %d started", rc);
    return rc;
}

int gw_trace_stop(int id)
{
    gw_trace_t **pp, *t = NULL;

    pthread_mutex_lock(&gw_trace_lock);
    for (pp = &gw_traces; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            t = gw_trace_unlink(pp);
            break;
        }
    pthread_cond_broadcast(&gw_trace_cond); /* its readers: it is gone */
    pthread_mutex_unlock(&gw_trace_lock);
    if (t == NULL)
        return GW_ENOTFOUND;
    GW_INFO("trace", "trace %d stopped: %llu record(s), %llu dropped", id,
            (unsigned long long)t->next_seq, (unsigned long long)t->dropped);
    gw_trace_free(t);
    return GW_OK;
}

void gw_trace_stop_all(void)
{
    gw_trace_t *t, *gone = NULL;

    pthread_mutex_lock(&gw_trace_lock);
    while (gw_traces) {
        t = gw_trace_unlink(&gw_traces);
        t->next = gone;
        gone = t;
    }
    pthread_cond_broadcast(&gw_trace_cond);
    /* under the lock: no record is being offered to the collectors now */
    gw_hep_stop();
    pthread_mutex_unlock(&gw_trace_lock);
    while ((t = gone) != NULL) {
        gone = t->next;
        gw_trace_free(t);
    }
}

/* ---- reading ------------------------------------------------------------ */

/* A JSON string of s (n bytes) that is safe to print on a terminal:
 * control characters become spaces (one line, no escape sequences from
 * the network) and, when s is not valid UTF-8, bytes >= 0x80 become '?'. */
static json_t *gw_trace_json_str(const char *s, size_t n)
{
    char buf[512], *copy = n < sizeof(buf) ? buf : malloc(n + 1);
    json_t *v = NULL;
    size_t i;

    if (n == 0 || copy == NULL)
        return n == 0 ? json_string("") : NULL;
    for (i = 0; i < n; i++)
        copy[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    v = json_stringn(copy, n);
    if (v == NULL) {
        for (i = 0; i < n; i++)
            if ((unsigned char)copy[i] >= 0x80)
                copy[i] = '?';
        v = json_stringn(copy, n);
    }
    if (copy != buf)
        free(copy);
    return v;
}

static void gw_trace_json_set(json_t *o, const char *key, const char *s)
{
    if (s[0] != '\0')
        json_object_set_new(o, key, gw_trace_json_str(s, strlen(s)));
}

static json_t *gw_trace_entry_json(const gw_trace_entry_t *e, int with_raw)
{
    json_t *o = json_object();
    char *b64;
    size_t b64len;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(o, "time", json_integer(e->time_us / 1000));
    json_object_set_new(o, "time_us", json_integer(e->time_us));
    json_object_set_new(o, "kind", json_string(gw_trace_kind_name(e->kind)));
    json_object_set_new(o, "dir", json_string(gw_trace_dir_name(e->dir)));
    gw_trace_json_set(o, "connector", e->connector);
    gw_trace_json_set(o, "peer", e->peer);
    gw_trace_json_set(o, "env_id", e->env_id);
    gw_trace_json_set(o, "from", e->from);
    gw_trace_json_set(o, "to", e->to);
    gw_trace_json_set(o, "call_id", e->call_id);
    gw_trace_json_set(o, "system_id", e->system_id);
    if (e->kind == GW_TRACE_PDU) {
        json_object_set_new(o, "smpp_cmd", json_integer(e->smpp_cmd));
        json_object_set_new(o, "smpp_seq", json_integer(e->smpp_seq));
        json_object_set_new(o, "smpp_status", json_integer(e->smpp_status));
    }
    gw_trace_json_set(o, "smpp_msgid", e->smpp_msgid);
    if (e->amqp_tag)
        json_object_set_new(o, "amqp_tag", json_integer((json_int_t)e->amqp_tag));
    gw_trace_json_set(o, "summary", e->summary);
    if (e->raw_total)
        json_object_set_new(o, "raw_len", json_integer((json_int_t)e->raw_total));
    if (with_raw && e->raw_len) {
        b64len = sodium_base64_encoded_len(e->raw_len, sodium_base64_VARIANT_ORIGINAL);
        b64 = malloc(b64len);
        if (b64 != NULL) {
            sodium_bin2base64(b64, b64len, e->raw, e->raw_len, sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(o, "raw", json_string(b64));
        }
        free(b64);
    }
    return o;
}

/* Trace id in the list, or NULL (under the lock). */
static gw_trace_t *gw_trace_find(int id)
{
    gw_trace_t *t;

    for (t = gw_traces; t && t->id != id; t = t->next)
        ;
    return t;
}

/* *ts = now (CLOCK_MONOTONIC) + ms. */
static void gw_trace_deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int gw_trace_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Wait (under the lock, which the wait releases) until trace id has an
 * entry at or past cursor, is gone, or wait_ms passed.  A reader woken by
 * a first record waits GW_TRACE_WAIT_BATCH_MS more for the rest of its
 * burst (one message's records come within a few ms), so a console
 * following a stream of messages polls about once per message, not once
 * per record.  Returns the trace or NULL when it is gone. */
static gw_trace_t *gw_trace_wait(int id, uint64_t cursor, int wait_ms)
{
    gw_trace_t *t = gw_trace_find(id);
    struct timespec until, batch;
    int w = 0;

    if (t == NULL || t->next_seq > cursor || wait_ms <= 0)
        return t;
    if (wait_ms > GW_TRACE_WAIT_MAX_MS)
        wait_ms = GW_TRACE_WAIT_MAX_MS;
    gw_trace_deadline(&until, wait_ms);
    t->waiters++;
    while (w == 0 && t->next_seq <= cursor) {
        w = pthread_cond_timedwait(&gw_trace_cond, &gw_trace_lock, &until);
        /* t may have been stopped and freed meanwhile: look it up again */
        if ((t = gw_trace_find(id)) == NULL)
            return NULL;
    }
    t->waiters--;
    if (w != 0)
        return t; /* the wait ended (perhaps with a record just in) */
    t->polled_ms = gw_trace_mono_ms(); /* not idle during the batch wait */
    gw_trace_deadline(&batch, GW_TRACE_WAIT_BATCH_MS);
    if (gw_trace_before(&until, &batch))
        batch = until;
    /* no longer a waiter: records kept now do not signal for it */
    while (pthread_cond_timedwait(&gw_trace_cond, &gw_trace_lock, &batch) == 0)
        if ((t = gw_trace_find(id)) == NULL)
            return NULL;
    return gw_trace_find(id);
}

json_t *gw_trace_read(int id, uint64_t *cursor, size_t limit, int with_raw, int wait_ms,
                      uint64_t *lost, int *rc)
{
    gw_trace_entry_t *copy;
    gw_trace_t *t, *gone;
    uint64_t first, start, end, s;
    json_t *a = NULL;
    size_t n = 0;

    *lost = 0;
    if (limit == 0)
        limit = 1;
    /* the copy is taken under the lock, the JSON built after it */
    copy = malloc(limit * sizeof(*copy));
    if (copy == NULL) {
        *rc = GW_ENOMEM;
        return NULL;
    }
    pthread_once(&gw_trace_cond_once, gw_trace_cond_init);
    pthread_mutex_lock(&gw_trace_lock);
    gone = gw_trace_expire(gw_trace_mono_ms());
    t = gw_trace_wait(id, *cursor, wait_ms);
    if (t != NULL) {
        t->polled_ms = gw_trace_mono_ms();
        first = t->next_seq > t->cap ? t->next_seq - t->cap : 0;
        start = *cursor < first ? first : *cursor;
        if (*cursor < first)
            *lost = first - *cursor;
        end = t->next_seq;
        if (start > end)
            start = end; /* a cursor from the future: nothing yet */
        if (end - start > limit)
            end = start + limit;
        for (s = start; s < end; s++)
            copy[n++] = t->ring[s % t->cap];
        *cursor = end;
        if (end > t->read_seq)
            t->read_seq = end;
    }
    pthread_mutex_unlock(&gw_trace_lock);
    gw_trace_free_expired(gone);
    if (t == NULL) {
        *rc = GW_ENOTFOUND;
        goto out_free;
    }
    a = json_array();
    for (s = 0; a && s < n; s++)
        json_array_append_new(a, gw_trace_entry_json(&copy[s], with_raw));
    *rc = a ? GW_OK : GW_ENOMEM;
out_free:
    free(copy);
    return a;
}

static json_t *gw_trace_filter_json(const gw_trace_filter_t *f)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    gw_trace_json_set(o, "to", f->to);
    gw_trace_json_set(o, "from", f->from);
    gw_trace_json_set(o, "env_id", f->env_id);
    gw_trace_json_set(o, "call_id", f->call_id);
    gw_trace_json_set(o, "connector", f->connector);
    gw_trace_json_set(o, "peer", f->peer);
    gw_trace_json_set(o, "system_id", f->system_id);
    gw_trace_json_set(o, "hep", f->hep);
    return o;
}

json_t *gw_trace_list(void)
{
    json_t *a = json_array();
    gw_trace_t *t, *gone;
    int64_t now = gw_trace_mono_ms();

    pthread_mutex_lock(&gw_trace_lock);
    gone = gw_trace_expire(now);
    for (t = gw_traces; a && t; t = t->next)
        json_array_append_new(a, json_pack("{s:i, s:o, s:I, s:I, s:I, s:i}", "id", t->id,
                                           "filter", gw_trace_filter_json(&t->f), "records",
                                           (json_int_t)t->next_seq, "dropped",
                                           (json_int_t)t->dropped, "idle_ms",
                                           (json_int_t)(now - t->polled_ms), "waiting",
                                           t->waiters));
    pthread_mutex_unlock(&gw_trace_lock);
    gw_trace_free_expired(gone);
    return a;
}
