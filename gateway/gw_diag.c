/*
 * gw_diag.c - self-diagnosis: the sampler, its ring, the thresholds and
 * the MI method `diagnose`.
 *
 * Once a second a timer on the main loop copies what the checks need
 * into one gw_diag_sample_t: statistics (db.*, core.*, sip.*), every
 * connector's status (the same one connectors.list shows) and queue
 * (queues.list), the running rules' counts (rt_set_hits), and the
 * process itself (RSS from /proc/self/statm, open
 * descriptors from /proc/self/fd against RLIMIT_NOFILE, statvfs of the
 * database's folder).  The ring keeps the last GW_DIAG_RING samples, so a
 * check can say "lost its bind 4 times in 60 s" or "the backlog grew by
 * 300", which one look at the counters cannot.  `diagnose` runs the
 * table of checks (gw_diag_checks.c) over the ring; it never waits on
 * another thread: every source it reads is a counter or a status
 * snapshot safe to read anywhere.
 *
 * The ring costs about 1.3 MB (static).  A sample reads two /proc
 * entries, one statvfs and the connectors' status JSON: a small price
 * once a second.  `diagnose` itself takes one more sample, of now, so
 * what it says of the present is not up to a second old.
 *
 * Threads: gw_diag_start/stop and the sampler on the main thread; the MI
 * handler on the MI's thread.  gw_diag_lock guards the ring.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <event2/event.h>

#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_cq.h"
#include "gw_diag.h"
#include "gw_diag_int.h"
#include "gw_envelope.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_route.h"
#include "gw_stats.h"

gw_diag_cfg_t gw_diag_cfg;

const gw_param_t gw_diag_params[] = {
    { "diagnose.window_s", GW_PT_INT, &gw_diag_cfg.window_s, 0, "60", 5, GW_DIAG_RING,
      GW_PARAM_RUNTIME, "history the counting checks look back over (flaps, throttling, growth)" },
    { "diagnose.sustain_s", GW_PT_INT, &gw_diag_cfg.sustain_s, 0, "10", 1, GW_DIAG_RING,
      GW_PARAM_RUNTIME, "how long a state must last to count (window full, slow commits, busy SIP)" },
    { "diagnose.down_s", GW_PT_INT, &gw_diag_cfg.down_s, 0, "10", 1, GW_DIAG_RING,
      GW_PARAM_RUNTIME, "an SMPP bind or AMQP link not up for this long is down" },
    { "diagnose.flaps", GW_PT_INT, &gw_diag_cfg.flaps, 0, "3", 1, 1000000, GW_PARAM_RUNTIME,
      "binds lost in diagnose.window_s that make a connector flapping" },
    { "diagnose.throttled", GW_PT_INT, &gw_diag_cfg.throttled, 0, "5", 1, 1000000,
      GW_PARAM_RUNTIME, "submit_sm answers asking to slow down in diagnose.window_s: throttling" },
    { "diagnose.queue_growth", GW_PT_INT, &gw_diag_cfg.queue_growth, 0, "100", 1, 100000000,
      GW_PARAM_RUNTIME, "growth of a connector's backlog in diagnose.window_s that is a problem" },
    { "diagnose.commit_warn_ms", GW_PT_INT, &gw_diag_cfg.commit_warn_ms, 0, "200", 1, 600000,
      GW_PARAM_RUNTIME, "group commit slower than this (over diagnose.sustain_s): WARNING" },
    { "diagnose.commit_crit_ms", GW_PT_INT, &gw_diag_cfg.commit_crit_ms, 0, "1000", 1, 600000,
      GW_PARAM_RUNTIME, "group commit slower than this: CRITICAL" },
    { "diagnose.sip_busy_warn_pct", GW_PT_INT, &gw_diag_cfg.sip_busy_warn, 0, "85", 1, 100,
      GW_PARAM_RUNTIME, "busiest SIP worker busy this much on average over diagnose.sustain_s: WARNING" },
    { "diagnose.sip_busy_crit_pct", GW_PT_INT, &gw_diag_cfg.sip_busy_crit, 0, "98", 1, 100,
      GW_PARAM_RUNTIME, "busiest SIP worker busy this much: CRITICAL" },
    { "diagnose.rss_warn_mb", GW_PT_INT, &gw_diag_cfg.rss_warn_mb, 0, "1024", 1, 1048576,
      GW_PARAM_RUNTIME, "resident memory of the process above this: WARNING" },
    { "diagnose.rss_crit_mb", GW_PT_INT, &gw_diag_cfg.rss_crit_mb, 0, "4096", 1, 1048576,
      GW_PARAM_RUNTIME, "resident memory above this: CRITICAL" },
    { "diagnose.fd_warn_pct", GW_PT_INT, &gw_diag_cfg.fd_warn_pct, 0, "80", 1, 100,
      GW_PARAM_RUNTIME, "open descriptors, % of RLIMIT_NOFILE: WARNING" },
    { "diagnose.fd_crit_pct", GW_PT_INT, &gw_diag_cfg.fd_crit_pct, 0, "95", 1, 100,
      GW_PARAM_RUNTIME, "open descriptors, % of RLIMIT_NOFILE: CRITICAL" },
    { "diagnose.disk_warn_pct", GW_PT_INT, &gw_diag_cfg.disk_warn_pct, 0, "90", 1, 100,
      GW_PARAM_RUNTIME, "database file system used this much: WARNING" },
    { "diagnose.disk_crit_pct", GW_PT_INT, &gw_diag_cfg.disk_crit_pct, 0, "97", 1, 100,
      GW_PARAM_RUNTIME, "database file system used this much: CRITICAL" },
    { "diagnose.noroute_pct", GW_PT_INT, &gw_diag_cfg.noroute_pct, 0, "50", 1, 100,
      GW_PARAM_RUNTIME, "share of messages in diagnose.window_s that found no route: WARNING" },
    { "diagnose.route_min", GW_PT_INT, &gw_diag_cfg.route_min, 0, "20", 1, 100000000,
      GW_PARAM_RUNTIME, "messages in diagnose.window_s before the router's shares are judged" },
    { "diagnose.rule_min", GW_PT_INT, &gw_diag_cfg.rule_min, 0, "1000", 1, 2000000000,
      GW_PARAM_RUNTIME, "decisions of the running rules before a rule that matches nothing or "
      "everything is named" },
    GW_PARAM_END,
};

static pthread_mutex_t gw_diag_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the ring */
static gw_diag_sample_t gw_diag_ring[GW_DIAG_RING];
static int gw_diag_head, gw_diag_count; /* next slot; samples held */
static gw_diag_sample_t gw_diag_scratch; /* main thread: the sample being made */
static struct event *gw_diag_timer;
static int gw_diag_running; /* atomic: sampling sources are set up */
/* statistics read by name; sip.* may never exist (gw_stat_find: NULL) */
static gw_stat_t *gw_diag_st_commits, *gw_diag_st_commit_us, *gw_diag_st_db_errors,
    *gw_diag_st_db_queue, *gw_diag_st_accepted, *gw_diag_st_no_route, *gw_diag_st_rejected;

static int64_t gw_diag_stat(const char *name)
{
    gw_stat_t *s = gw_stat_find(name);

    return s ? gw_stat_get(s) : -1;
}

static int64_t gw_diag_json_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* One SMPP client's bind figures from its status. */
static void gw_diag_smpp_binds(gw_diag_conn_t *c, const json_t *st)
{
    const json_t *binds = json_object_get(st, "binds"), *b;
    int window = (int)gw_diag_json_int(st, "window");
    size_t i;

    c->kind = GW_DIAG_K_SMPP;
    c->up = strcmp(c->state, "bound") == 0;
    c->held = strcmp(c->state, "held") == 0;
    c->inflight = (int)gw_diag_json_int(st, "inflight");
    c->throttled = gw_diag_json_int(st, "throttled");
    json_array_foreach(binds, i, b) {
        const char *bst = json_string_value(json_object_get(b, "state"));
        const char *type = json_string_value(json_object_get(b, "type"));

        c->lost += gw_diag_json_int(b, "lost");
        if (bst && strcmp(bst, "bound") == 0 && type && strcmp(type, "receiver") != 0)
            c->cap += window;
    }
}

/* Fill c from one connectors.list entry; 0, or -1 when it is not followed
 * (disabled). */
static int gw_diag_conn_fill(gw_diag_conn_t *c, const json_t *entry)
{
    const json_t *st = json_object_get(entry, "status");
    const char *name = json_string_value(json_object_get(entry, "name"));
    const char *type = json_string_value(json_object_get(entry, "type"));
    const char *state = json_string_value(json_object_get(st, "state"));

    if (name == NULL || type == NULL || !json_is_true(json_object_get(entry, "enabled")))
        return -1;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->state, sizeof c->state, "%s", state ? state : "?");
    c->up = 1;
    c->area = GW_DIAG_A_ROUTER;
    if (strcmp(type, "smpp") == 0) {
        c->area = GW_DIAG_A_SMPP;
        /* a client names its SMSC; an account: connector has no peer */
        if (json_is_string(json_object_get(st, "peer")))
            gw_diag_smpp_binds(c, st);
    } else if (strcmp(type, "amqp") == 0) {
        c->area = GW_DIAG_A_AMQP;
        c->kind = GW_DIAG_K_AMQP;
        c->up = strcmp(c->state, "connected") == 0;
        snprintf(c->error, sizeof c->error, "%s",
                 json_string_value(json_object_get(st, "last_error")) ?
                     json_string_value(json_object_get(st, "last_error")) : "");
    } else if (strcmp(type, "sip") == 0) {
        c->area = GW_DIAG_A_SIP;
    }
    return 0;
}

/* Connectors and their queues into s. */
static void gw_diag_sample_conns(gw_diag_sample_t *s)
{
    json_t *conns = gw_connectors_status(), *queues = gw_cq_status(), *e, *q;
    size_t i, k;

    s->nconns = s->conns_total = 0;
    json_array_foreach(conns, i, e) {
        gw_diag_conn_t *c = &s->conns[s->nconns];

        if (s->nconns == GW_DIAG_CONNS) {
            s->conns_total++;
            continue;
        }
        if (gw_diag_conn_fill(c, e) != 0)
            continue;
        s->conns_total++;
        json_array_foreach(queues, k, q)
            if (json_string_value(json_object_get(q, "name")) != NULL &&
                strcmp(json_string_value(json_object_get(q, "name")), c->name) == 0)
                c->backlog = gw_diag_json_int(q, "backlog");
        s->nconns++;
    }
    json_decref(conns);
    json_decref(queues);
}

/* The process: resident memory, descriptors, the database's disk. */
static void gw_diag_sample_process(gw_diag_sample_t *s)
{
    char dir[sizeof gw_config.db_path], *slash;
    long pages = 0, resident = 0;
    struct rlimit rl;
    struct statvfs vfs;
    struct dirent *de;
    FILE *f = fopen("/proc/self/statm", "r");
    DIR *d;

    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    s->rss_kb = (int64_t)resident * (sysconf(_SC_PAGESIZE) / 1024);
    s->nfds = 0;
    d = opendir("/proc/self/fd");
    while (d != NULL && (de = readdir(d)) != NULL)
        s->nfds += de->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    s->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ?
                      (int)(rl.rlim_cur > 0x7fffffff ? 0x7fffffff : rl.rlim_cur) : 0;
    snprintf(dir, sizeof dir, "%s", gw_config.db_path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0'; /* "/x.db" -> "/" */
    s->disk_pct = -1;
    if (statvfs(dir, &vfs) == 0 && vfs.f_blocks > 0 && vfs.f_blocks >= vfs.f_bfree) {
        /* as df counts it: used of what we may use (the root reserve left out) */
        uint64_t used = (uint64_t)(vfs.f_blocks - vfs.f_bfree), all = used + vfs.f_bavail;
        s->disk_pct = all > 0 ? (int)((used * 100 + all - 1) / all) : 0;
        s->disk_free_mb = (int64_t)((uint64_t)vfs.f_bavail * vfs.f_frsize / (1024 * 1024));
    }
}

/* rt_set_hits' visitor: keep the rules that matched nothing (enabled) or
 * everything (with enabled rules after them). */
static void gw_diag_rule_visit(void *arg, const rt_rule_hits_t *r)
{
    gw_diag_sample_t *s = arg;
    gw_diag_rule_seen_t *seen = &s->suspects[s->nsuspect];
    int all = r->hits > 0 && (int64_t)r->hits == s->decisions && r->later > 0;

    if (!r->enabled || (r->hits != 0 && !all))
        return;
    s->suspects_total++;
    if (s->nsuspect == GW_DIAG_RULES)
        return;
    if (r->name != NULL)
        snprintf(seen->name, sizeof seen->name, "%s", r->name);
    else
        snprintf(seen->name, sizeof seen->name, "rule %lld", r->id);
    seen->all = all;
    seen->later = (int)r->later;
    s->nsuspect++;
}

/* The running rules' counts. */
static void gw_diag_sample_rules(gw_diag_sample_t *s)
{
    rt_set_t *set = rt_set_current();

    s->nsuspect = s->suspects_total = 0;
    /* the total first: the visitor compares each rule with it */
    s->decisions = (int64_t)rt_set_hits(set, NULL, NULL);
    rt_set_hits(set, gw_diag_rule_visit, s);
    rt_set_unref(set);
}

/* Take one sample into s.  The main loop, or the MI's thread for the
 * sample of now (every source is safe to read from any thread). */
static void gw_diag_sample(gw_diag_sample_t *s)
{
    s->at_ms = gw_now_ms();
    s->commits = gw_stat_get(gw_diag_st_commits);
    s->commit_us = gw_stat_get(gw_diag_st_commit_us);
    s->db_errors = gw_stat_get(gw_diag_st_db_errors);
    s->db_queue = gw_stat_get(gw_diag_st_db_queue);
    s->accepted = gw_stat_get(gw_diag_st_accepted);
    s->no_route = gw_stat_get(gw_diag_st_no_route);
    s->rejected = gw_stat_get(gw_diag_st_rejected);
    s->sip_busy = gw_diag_stat("sip.worker_busy_pct");
    s->sip_workers = gw_diag_stat("sip.workers_active");
    gw_diag_sample_process(s);
    gw_diag_sample_conns(s);
    gw_diag_sample_rules(s);
}

static void gw_diag_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    gw_diag_sample(&gw_diag_scratch);
    pthread_mutex_lock(&gw_diag_lock);
    gw_diag_ring[gw_diag_head] = gw_diag_scratch;
    gw_diag_head = (gw_diag_head + 1) % GW_DIAG_RING;
    if (gw_diag_count < GW_DIAG_RING)
        gw_diag_count++;
    pthread_mutex_unlock(&gw_diag_lock);
}

json_t *gw_diag_run(void)
{
    /* under gw_diag_lock: the view, and a sample of now as its newest, so
     * what the answer says of the present is not up to a second old */
    static gw_diag_view_t v;
    static gw_diag_sample_t now;
    json_t *result;

    pthread_mutex_lock(&gw_diag_lock);
    v.n = gw_diag_count < GW_DIAG_RING ? gw_diag_count : GW_DIAG_RING - 1;
    for (int i = 0; i < v.n; i++)
        v.s[i] = &gw_diag_ring[(gw_diag_head - v.n + i + GW_DIAG_RING) % GW_DIAG_RING];
    if (__atomic_load_n(&gw_diag_running, __ATOMIC_ACQUIRE)) {
        gw_diag_sample(&now);
        v.s[v.n++] = &now;
    }
    if (v.n == 0) { /* not started: judged on an empty sample */
        static const gw_diag_sample_t none = { .sip_busy = -1, .sip_workers = -1, .disk_pct = -1 };
        v.s[0] = &none;
        v.n = 1;
    }
    result = gw_diag_evaluate(&v);
    pthread_mutex_unlock(&gw_diag_lock);
    return result;
}

static void gw_diag_mi(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_mi_result(r, gw_diag_run());
}

static const gw_mi_cmd_t gw_diag_mi_cmds[] = {
    { "diagnose", gw_diag_mi, "",
      "self-diagnosis: {status, areas: [{area, status, detail}], problems: [{area, status, "
      "subject, cause, advice}]}", GW_ROLE_VIEWER, GW_MI_F_NOAUDIT },
    GW_MI_END,
};

int gw_diag_start(struct event_base *base)
{
    struct timeval one_s = { 1, 0 };
    int rc = gw_mi_register(gw_diag_mi_cmds);

    if (rc != 0)
        return rc;
    gw_diag_st_commits = gw_stat("db.commits", "group commits of the writer");
    gw_diag_st_commit_us = gw_stat("db.commit_us_1s",
                                   "slowest group commit of the second of the last one");
    gw_diag_st_db_errors = gw_stat("db.errors", "groups rolled back");
    gw_diag_st_db_queue = gw_stat("db.queue", "jobs waiting for the writer");
    gw_diag_st_accepted = gw_stat("core.accepted", "messages accepted (durably stored)");
    gw_diag_st_no_route = gw_stat("core.no_route", "messages refused: no route");
    gw_diag_st_rejected = gw_stat("core.rejected",
                                  "messages refused by a routing rule (reject, rate limit)");
    gw_diag_timer = event_new(base, -1, EV_PERSIST, gw_diag_on_timer, NULL);
    if (gw_diag_timer == NULL || event_add(gw_diag_timer, &one_s) != 0)
        return GW_ENOMEM;
    __atomic_store_n(&gw_diag_running, 1, __ATOMIC_RELEASE);
    gw_diag_on_timer(-1, 0, NULL);
    return GW_OK;
}

void gw_diag_stop(void)
{
    __atomic_store_n(&gw_diag_running, 0, __ATOMIC_RELEASE);
    if (gw_diag_timer != NULL)
        event_free(gw_diag_timer);
    gw_diag_timer = NULL;
}
