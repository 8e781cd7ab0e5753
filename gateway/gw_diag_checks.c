/*
 * gw_diag_checks.c - what the self-diagnosis looks for: one row per check
 * (area, function, thresholds) and one row per area (name, detail).
 *
 * A check reads the sample history (gw_diag_view_t, oldest first) and
 * adds a problem for each subject it finds wrong; an area's status is the
 * worst of its problems, the overall status the worst area.  Checks take
 * two kinds of history: a *state* must hold over diagnose.sustain_s (a
 * window always full, slow commits, a busy SIP worker) or, for a link,
 * diagnose.down_s; a *count* is the growth of a cumulative counter over
 * diagnose.window_s (binds lost, throttling answers, no route).  So a
 * single slow commit or a reconnect that took a second is not reported,
 * and a problem clears itself once its history does.
 *
 * Checklist: a new check is a row of gw_diag_rules[] and a line of
 * docs/diagnose.md; a new threshold also a diagnose.* parameter
 * (gw_diag.c) and a member of gw_diag_cfg_t.
 *
 * Threads: the MI's, under gw_diag_lock (gw_diag.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_diag_int.h"

static const char *const gw_diag_status_names[] = { "OK", "WARNING", "CRITICAL" };
static const char *const gw_diag_area_names[GW_DIAG__AREAS] = {
    "sip_workers", "smpp_binds", "amqp_links", "store", "router", "memory", "fds", "disk",
};

/* What checks write: problems, and each area's worst status. */
typedef struct gw_diag_out {
    json_t *problems;
    int status[GW_DIAG__AREAS];
} gw_diag_out_t;

typedef struct gw_diag_rule gw_diag_rule_t;
struct gw_diag_rule {
    int area;                  /* gw_diag_area_t: where its problems are listed */
    void (*check)(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o);
    const int *warn, *crit;    /* thresholds (diagnose.* parameters); NULL: none */
};

/* Add a problem (cause printf-style) and raise its area's status. */
static void gw_diag_problem(gw_diag_out_t *o, int area, int status, const char *subject,
                            const char *advice, const char *cause_fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void gw_diag_problem(gw_diag_out_t *o, int area, int status, const char *subject,
                            const char *advice, const char *cause_fmt, ...)
{
    char cause[512];
    va_list ap;

    va_start(ap, cause_fmt);
    vsnprintf(cause, sizeof cause, cause_fmt, ap);
    va_end(ap);
    json_array_append_new(o->problems,
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "area", gw_diag_area_names[area],
                                    "status", gw_diag_status_names[status], "subject", subject,
                                    "cause", cause, "advice", advice));
    if (status > o->status[area])
        o->status[area] = status;
}

/* ---- history helpers ------------------------------------------------------- */

static const gw_diag_sample_t *gw_diag_newest(const gw_diag_view_t *v)
{
    return v->s[v->n - 1];
}

/* Index of the oldest sample at most seconds older than the newest (half
 * a tick of slack for the timer's jitter). */
static int gw_diag_since(const gw_diag_view_t *v, int seconds)
{
    int64_t from = gw_diag_newest(v)->at_ms - (int64_t)seconds * 1000 - 500;
    int i = v->n - 1;

    while (i > 0 && v->s[i - 1]->at_ms >= from)
        i--;
    return i;
}

/* 1 when the history from index first spans about seconds: a state seen
 * in every sample since first has lasted that long. */
static int gw_diag_spans(const gw_diag_view_t *v, int first, int seconds)
{
    return gw_diag_newest(v)->at_ms - v->s[first]->at_ms >= (int64_t)seconds * 1000 - 500;
}

static const gw_diag_conn_t *gw_diag_conn_in(const gw_diag_sample_t *s, const char *name)
{
    for (int i = 0; i < s->nconns; i++)
        if (strcmp(s->conns[i].name, name) == 0)
            return &s->conns[i];
    return NULL;
}

/* What c's cumulative counters were at the start of the history from
 * first: its entry there, or zeros when it was opened since (a new
 * connector counts from 0, and may have counted before its first sample). */
static const gw_diag_conn_t *gw_diag_conn_base(const gw_diag_view_t *v, int first,
                                               const char *name)
{
    static const gw_diag_conn_t zero;
    const gw_diag_conn_t *p = gw_diag_conn_in(v->s[first], name);

    return p ? p : &zero;
}

/* The worst status value reaches: CRITICAL past crit, WARNING past warn. */
static int gw_diag_level(int64_t value, const gw_diag_rule_t *r)
{
    if (r->crit && value >= *r->crit)
        return GW_DIAG_CRITICAL;
    if (r->warn && value >= *r->warn)
        return GW_DIAG_WARNING;
    return GW_DIAG_OK;
}

/* ---- connectors ------------------------------------------------------------ */

/* An SMPP client not bound, or an AMQP link not connected, for down_s. */
static void gw_diag_check_down(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);

    for (int k = 0; k < now->nconns; k++) {
        const gw_diag_conn_t *c = &now->conns[k], *p;
        int i = v->n - 1;

        if (c->kind == GW_DIAG_K_OTHER || c->up)
            continue;
        if (c->held) {
            gw_diag_problem(o, c->area, GW_DIAG_WARNING, c->name,
                            "smpp.bind lets it bind again when it should carry traffic",
                            "bind held down by an operator (smpp.unbind)");
            continue;
        }
        while (i > 0 && (p = gw_diag_conn_in(v->s[i - 1], c->name)) != NULL && !p->up)
            i--;
        if (!gw_diag_spans(v, i, *r->warn))
            continue;
        long secs = (long)((now->at_ms - v->s[i]->at_ms + 500) / 1000);
        if (c->kind == GW_DIAG_K_SMPP)
            gw_diag_problem(o, c->area, GW_DIAG_CRITICAL, c->name,
                            "check that the SMSC is reachable from this host and accepts the "
                            "system_id and password (smpp.binds: refusals, next attempt); its "
                            "messages wait in its queue meanwhile",
                            "bind down: not bound for %lds (state %s)", secs, c->state);
        else
            gw_diag_problem(o, c->area, GW_DIAG_CRITICAL, c->name,
                            "check the broker's host, port and credentials and that it runs; "
                            "events wait in the outbox and are sent when it is back",
                            "broker unreachable: not connected for %lds%s%s", secs,
                            c->error[0] ? ": " : "", c->error);
    }
}

/* Sessions lost while bound, more than flaps in window_s. */
static void gw_diag_check_flaps(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int first = gw_diag_since(v, gw_diag_cfg.window_s);

    for (int k = 0; k < now->nconns; k++) {
        const gw_diag_conn_t *c = &now->conns[k], *p = gw_diag_conn_base(v, first, c->name);

        if (c->kind != GW_DIAG_K_SMPP || c->lost - p->lost < *r->warn)
            continue;
        gw_diag_problem(o, c->area, GW_DIAG_WARNING, c->name,
                        "the SMSC or the network ends the session: compare enquire_link "
                        "(smpp.enquire_link_s) with the SMSC's idle timeout, and look at the log "
                        "for why each session ended",
                        "bind flapping: lost %lld times in the last %ds",
                        (long long)(c->lost - p->lost), gw_diag_cfg.window_s);
    }
}

/* Every submit_sm slot in flight in every sample of sustain_s. */
static void gw_diag_check_window(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int first = gw_diag_since(v, gw_diag_cfg.sustain_s);

    (void)r;
    if (!gw_diag_spans(v, first, gw_diag_cfg.sustain_s))
        return;
    for (int k = 0; k < now->nconns; k++) {
        const gw_diag_conn_t *c = &now->conns[k], *p;
        int i, full = c->kind == GW_DIAG_K_SMPP;

        for (i = first; full && i < v->n; i++)
            full = (p = gw_diag_conn_in(v->s[i], c->name)) != NULL && p->cap > 0 &&
                   p->inflight >= p->cap;
        if (!full)
            continue;
        gw_diag_problem(o, c->area, GW_DIAG_WARNING, c->name,
                        "the SMSC answers slower than messages come: raise the window (conf "
                        "window) if the SMSC allows it, add binds (conf binds), or ask the "
                        "operator about its latency",
                        "window always full: %d of %d submit_sm in flight for %ds", c->inflight,
                        c->cap, gw_diag_cfg.sustain_s);
    }
}

/* Submit answers asking to slow down, more than throttled in window_s. */
static void gw_diag_check_throttle(const gw_diag_view_t *v, const gw_diag_rule_t *r,
                                   gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int first = gw_diag_since(v, gw_diag_cfg.window_s);

    for (int k = 0; k < now->nconns; k++) {
        const gw_diag_conn_t *c = &now->conns[k], *p = gw_diag_conn_base(v, first, c->name);

        if (c->kind != GW_DIAG_K_SMPP || c->throttled - p->throttled < *r->warn)
            continue;
        gw_diag_problem(o, c->area, GW_DIAG_WARNING, c->name,
                        "the SMSC limits our rate: set the connector's throughput (msg/s) or "
                        "bind_throughput below its limit, or ask the operator to raise it",
                        "SMSC throttling: %lld submit_sm answered ESME_RTHROTTLED (or queue full) "
                        "in the last %ds", (long long)(c->throttled - p->throttled),
                        gw_diag_cfg.window_s);
    }
}

/* A backlog up by queue_growth over window_s and not shrinking (no lower
 * than sustain_s ago). */
static void gw_diag_check_queue(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int first = gw_diag_since(v, gw_diag_cfg.window_s);
    int recent = gw_diag_since(v, gw_diag_cfg.sustain_s);

    for (int k = 0; k < now->nconns; k++) {
        const gw_diag_conn_t *c = &now->conns[k], *p;
        int64_t low = c->backlog, then = c->backlog;

        /* a connector added within the window started with an empty queue */
        if (gw_diag_conn_in(v->s[first], c->name) == NULL)
            low = 0;
        for (int i = first; i < v->n; i++)
            if ((p = gw_diag_conn_in(v->s[i], c->name)) != NULL) {
                if (p->backlog < low)
                    low = p->backlog;
                if (i == recent)
                    then = p->backlog;
            }
        if (c->backlog - low < *r->warn || c->backlog < then)
            continue;
        gw_diag_problem(o, c->area, GW_DIAG_WARNING, c->name,
                        c->kind == GW_DIAG_K_OTHER ?
                            "the connector takes less than arrives: see its status "
                            "(connectors.list) and its far side" :
                            "the connector takes less than arrives: see its link above (down, "
                            "window full, throttled); add binds or a second target to its routes",
                        "queue growing: backlog %lld, up %lld in the last %ds",
                        (long long)c->backlog, (long long)(c->backlog - low),
                        gw_diag_cfg.window_s);
    }
}

/* ---- store, SIP, router ------------------------------------------------------ */

static int gw_diag_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The median of the per-second slowest commit over sustain_s (seconds
 * with commits only), against commit_warn_ms / commit_crit_ms; and any
 * group rolled back in window_s. */
static void gw_diag_check_commits(const gw_diag_view_t *v, const gw_diag_rule_t *r,
                                  gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int64_t us[GW_DIAG_RING], worst = 0;
    int n = 0, first = gw_diag_since(v, gw_diag_cfg.sustain_s), st;

    for (int i = first > 0 ? first : 1; i < v->n; i++)
        if (v->s[i]->commits != v->s[i - 1]->commits) {
            us[n++] = v->s[i]->commit_us;
            if (v->s[i]->commit_us > worst)
                worst = v->s[i]->commit_us;
        }
    if (n > 0) {
        qsort(us, (size_t)n, sizeof us[0], gw_diag_cmp64);
        st = gw_diag_level(us[n / 2] / 1000, r);
        if (st != GW_DIAG_OK)
            gw_diag_problem(o, r->area, st, "writer",
                            "the disk is slow to sync: look at its latency (iostat), move db.path "
                            "to a faster disk, or raise db.batch_max so one sync carries more",
                            "commits slow: median %lld ms, slowest %lld ms over the last %ds",
                            (long long)(us[n / 2] / 1000), (long long)(worst / 1000),
                            gw_diag_cfg.sustain_s);
    }
    first = gw_diag_since(v, gw_diag_cfg.window_s);
    if (now->db_errors > v->s[first]->db_errors)
        gw_diag_problem(o, r->area, GW_DIAG_CRITICAL, "writer",
                        "see the log: a full disk, a read-only file system or an I/O error; new "
                        "messages are refused until commits succeed",
                        "commits failing: %lld groups rolled back in the last %ds",
                        (long long)(now->db_errors - v->s[first]->db_errors),
                        gw_diag_cfg.window_s);
}

/* The busiest SIP worker's busy %, averaged over sustain_s. */
static void gw_diag_check_sip(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    int64_t sum = 0;
    int n = 0, first = gw_diag_since(v, gw_diag_cfg.sustain_s), st;

    if (gw_diag_newest(v)->sip_busy < 0 || !gw_diag_spans(v, first, gw_diag_cfg.sustain_s))
        return;
    for (int i = first; i < v->n; i++)
        if (v->s[i]->sip_busy >= 0) {
            sum += v->s[i]->sip_busy;
            n++;
        }
    st = gw_diag_level(sum / n, r);
    if (st != GW_DIAG_OK)
        gw_diag_problem(o, r->area, st, "sip workers",
                        "raise sip.workers (or the auto-scaling maximum), or spread the SIP "
                        "traffic over more hosts",
                        "SIP worker saturated: the busiest worker %lld%% busy over the last %ds",
                        (long long)(sum / n), gw_diag_cfg.sustain_s);
}

/* Messages that found no route, as a share of all decided in window_s. */
static void gw_diag_check_noroute(const gw_diag_view_t *v, const gw_diag_rule_t *r,
                                  gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v), *then;

    then = v->s[gw_diag_since(v, gw_diag_cfg.window_s)];
    int64_t none = now->no_route - then->no_route;
    int64_t all = none + now->accepted - then->accepted + now->rejected - then->rejected;
    if (all < gw_diag_cfg.route_min || none * 100 < all * *r->warn)
        return;
    gw_diag_problem(o, r->area, GW_DIAG_WARNING, "routes",
                    "routes.test with one of these messages shows which rule should have "
                    "matched it; add a route or a default rule",
                    "no route: %lld of %lld messages in the last %ds matched no rule",
                    (long long)none, (long long)all, gw_diag_cfg.window_s);
}

/* Rules of the running set that matched nothing, or every message while
 * rules follow them, once the set made rule_min decisions. */
static void gw_diag_check_rules(const gw_diag_view_t *v, const gw_diag_rule_t *r,
                                gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);

    if (now->decisions < *r->warn)
        return;
    for (int i = 0; i < now->nsuspect; i++) {
        const gw_diag_rule_seen_t *u = &now->suspects[i];

        if (u->all)
            gw_diag_problem(o, r->area, GW_DIAG_WARNING, u->name,
                            "narrow its filters, or give it a priority after the rules it hides "
                            "(routes.reorder)",
                            "route matches everything: it took all %lld messages routed since "
                            "the rules were loaded; the %d enabled rules after it never match",
                            (long long)now->decisions, u->later);
        else
            gw_diag_problem(o, r->area, GW_DIAG_WARNING, u->name,
                            "check its filters with routes.test and a message it should take, "
                            "and whether an earlier rule takes them first; disable it if unused",
                            "route matches nothing: none of the %lld messages routed since the "
                            "rules were loaded", (long long)now->decisions);
    }
    if (now->suspects_total > now->nsuspect)
        gw_diag_problem(o, r->area, GW_DIAG_WARNING, "routes", "routes.list shows them all",
                        "%d more rules match nothing or everything",
                        now->suspects_total - now->nsuspect);
}

/* ---- the process ------------------------------------------------------------- */

static void gw_diag_check_rss(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    int64_t mb = gw_diag_newest(v)->rss_kb / 1024;
    int st = gw_diag_level(mb, r);

    if (st != GW_DIAG_OK)
        gw_diag_problem(o, r->area, st, "junction",
                        "queues held in memory are the usual cause (queues.list: memory; lower "
                        "core.queue_memory); if it only grows, report it and restart at a quiet "
                        "time",
                        "memory: %lld MB resident (thresholds %d / %d MB)", (long long)mb,
                        *r->warn, *r->crit);
}

static void gw_diag_check_fds(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int st;

    if (now->fd_limit <= 0)
        return;
    st = gw_diag_level((int64_t)now->nfds * 100 / now->fd_limit, r);
    if (st != GW_DIAG_OK)
        gw_diag_problem(o, r->area, st, "junction",
                        "raise the limit (LimitNOFILE=, ulimit -n) or look for connections piling "
                        "up (sip.tcp_conns, smpp.sessions)",
                        "file descriptors near the limit: %d of %d open", now->nfds,
                        now->fd_limit);
}

static void gw_diag_check_disk(const gw_diag_view_t *v, const gw_diag_rule_t *r, gw_diag_out_t *o)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int st = now->disk_pct < 0 ? GW_DIAG_OK : gw_diag_level(now->disk_pct, r);

    if (st != GW_DIAG_OK)
        gw_diag_problem(o, r->area, st, "database",
                        "free space on it or move db.path to a larger disk: when it is full new "
                        "messages are refused (lower core.retention_s to purge sooner)",
                        "disk nearly full: %d%% used, %lld MB free", now->disk_pct,
                        (long long)now->disk_free_mb);
}

/* The checks, in the order their problems are listed. */
static const gw_diag_rule_t gw_diag_rules[] = {
    { GW_DIAG_A_SMPP, gw_diag_check_down, &gw_diag_cfg.down_s, NULL }, /* and AMQP links */
    { GW_DIAG_A_SMPP, gw_diag_check_flaps, &gw_diag_cfg.flaps, NULL },
    { GW_DIAG_A_SMPP, gw_diag_check_throttle, &gw_diag_cfg.throttled, NULL },
    { GW_DIAG_A_SMPP, gw_diag_check_window, NULL, NULL },
    { GW_DIAG_A_SMPP, gw_diag_check_queue, &gw_diag_cfg.queue_growth, NULL }, /* every connector */
    { GW_DIAG_A_STORE, gw_diag_check_commits, &gw_diag_cfg.commit_warn_ms,
      &gw_diag_cfg.commit_crit_ms },
    { GW_DIAG_A_SIP, gw_diag_check_sip, &gw_diag_cfg.sip_busy_warn, &gw_diag_cfg.sip_busy_crit },
    { GW_DIAG_A_ROUTER, gw_diag_check_noroute, &gw_diag_cfg.noroute_pct, NULL },
    { GW_DIAG_A_ROUTER, gw_diag_check_rules, &gw_diag_cfg.rule_min, NULL },
    { GW_DIAG_A_MEMORY, gw_diag_check_rss, &gw_diag_cfg.rss_warn_mb, &gw_diag_cfg.rss_crit_mb },
    { GW_DIAG_A_FDS, gw_diag_check_fds, &gw_diag_cfg.fd_warn_pct, &gw_diag_cfg.fd_crit_pct },
    { GW_DIAG_A_DISK, gw_diag_check_disk, &gw_diag_cfg.disk_warn_pct, &gw_diag_cfg.disk_crit_pct },
};

/* ---- areas ------------------------------------------------------------------- */

typedef struct gw_diag_area {
    int area;
    /* One line on the area's state now, into buf. */
    void (*detail)(const gw_diag_view_t *v, char *buf, size_t len);
} gw_diag_area_row_t;

static void gw_diag_links(const gw_diag_sample_t *s, int kind, int *n, int *up)
{
    *n = *up = 0;
    for (int i = 0; i < s->nconns; i++)
        if (s->conns[i].kind == kind) {
            (*n)++;
            *up += s->conns[i].up;
        }
}

static void gw_diag_detail_sip(const gw_diag_view_t *v, char *buf, size_t len)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);

    if (now->sip_busy < 0)
        snprintf(buf, len, "no data");
    else if (now->sip_workers >= 0)
        snprintf(buf, len, "busiest worker %lld%% busy, %lld workers", (long long)now->sip_busy,
                 (long long)now->sip_workers);
    else
        snprintf(buf, len, "busiest worker %lld%% busy", (long long)now->sip_busy);
}

static void gw_diag_detail_smpp(const gw_diag_view_t *v, char *buf, size_t len)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    int n, up;

    gw_diag_links(now, GW_DIAG_K_SMPP, &n, &up);
    if (n == 0)
        snprintf(buf, len, "no SMPP client connectors");
    else
        snprintf(buf, len, "%d client connector%s, %d bound%s", n, n == 1 ? "" : "s", up,
                 now->conns_total > now->nconns ? " (not every connector followed)" : "");
}

static void gw_diag_detail_amqp(const gw_diag_view_t *v, char *buf, size_t len)
{
    int n, up;

    gw_diag_links(gw_diag_newest(v), GW_DIAG_K_AMQP, &n, &up);
    if (n == 0)
        snprintf(buf, len, "no AMQP links");
    else
        snprintf(buf, len, "%d link%s, %d connected", n, n == 1 ? "" : "s", up);
}

static void gw_diag_detail_store(const gw_diag_view_t *v, char *buf, size_t len)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    const gw_diag_sample_t *then = v->s[gw_diag_since(v, gw_diag_cfg.sustain_s)];

    snprintf(buf, len, "%lld commits in the last %ds, slowest of the last busy second %lld ms, "
             "writer queue %lld", (long long)(now->commits - then->commits),
             gw_diag_cfg.sustain_s, (long long)(now->commit_us / 1000),
             (long long)now->db_queue);
}

static void gw_diag_detail_router(const gw_diag_view_t *v, char *buf, size_t len)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);
    const gw_diag_sample_t *then = v->s[gw_diag_since(v, gw_diag_cfg.window_s)];

    snprintf(buf, len, "%lld accepted, %lld with no route, %lld refused by a rule in the last %ds; "
             "%lld decisions since the rules were loaded",
             (long long)(now->accepted - then->accepted),
             (long long)(now->no_route - then->no_route),
             (long long)(now->rejected - then->rejected), gw_diag_cfg.window_s,
             (long long)now->decisions);
}

static void gw_diag_detail_memory(const gw_diag_view_t *v, char *buf, size_t len)
{
    snprintf(buf, len, "%lld MB resident", (long long)(gw_diag_newest(v)->rss_kb / 1024));
}

static void gw_diag_detail_fds(const gw_diag_view_t *v, char *buf, size_t len)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);

    if (now->fd_limit > 0)
        snprintf(buf, len, "%d of %d open", now->nfds, now->fd_limit);
    else
        snprintf(buf, len, "%d open, no limit", now->nfds);
}

static void gw_diag_detail_disk(const gw_diag_view_t *v, char *buf, size_t len)
{
    const gw_diag_sample_t *now = gw_diag_newest(v);

    if (now->disk_pct < 0)
        snprintf(buf, len, "no data (the database folder cannot be read)");
    else
        snprintf(buf, len, "%d%% used, %lld MB free", now->disk_pct, (long long)now->disk_free_mb);
}

/* The areas, in the order they are listed. */
static const gw_diag_area_row_t gw_diag_areas[GW_DIAG__AREAS] = {
    { GW_DIAG_A_SIP, gw_diag_detail_sip },       { GW_DIAG_A_SMPP, gw_diag_detail_smpp },
    { GW_DIAG_A_AMQP, gw_diag_detail_amqp },     { GW_DIAG_A_STORE, gw_diag_detail_store },
    { GW_DIAG_A_ROUTER, gw_diag_detail_router }, { GW_DIAG_A_MEMORY, gw_diag_detail_memory },
    { GW_DIAG_A_FDS, gw_diag_detail_fds },       { GW_DIAG_A_DISK, gw_diag_detail_disk },
};

json_t *gw_diag_evaluate(const gw_diag_view_t *v)
{
    gw_diag_out_t o = { .problems = json_array() };
    json_t *areas = json_array();
    char detail[320];
    int worst = GW_DIAG_OK;

    if (o.problems == NULL || areas == NULL) {
        json_decref(o.problems);
        json_decref(areas);
        return NULL;
    }
    for (size_t i = 0; i < sizeof gw_diag_rules / sizeof gw_diag_rules[0]; i++)
        gw_diag_rules[i].check(v, &gw_diag_rules[i], &o);
    for (int i = 0; i < GW_DIAG__AREAS; i++) {
        int a = gw_diag_areas[i].area;

        gw_diag_areas[i].detail(v, detail, sizeof detail);
        json_array_append_new(areas, json_pack("{s:s, s:s, s:s}", "area", gw_diag_area_names[a],
                                               "status", gw_diag_status_names[o.status[a]],
                                               "detail", detail));
        if (o.status[a] > worst)
            worst = o.status[a];
    }
    return json_pack("{s:s, s:o, s:o}", "status", gw_diag_status_names[worst], "areas", areas,
                     "problems", o.problems);
}
