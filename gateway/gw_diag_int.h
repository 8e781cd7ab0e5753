/*
 * gw_diag_int.h - what the sampler (gw_diag.c) and the checks
 * (gw_diag_checks.c) share: one sample of the system, a view of the
 * ring of them, and the thresholds.
 *
 * A sample holds plain numbers copied from statistics, connector status
 * and the process (/proc, statvfs), so a check never calls into another
 * subsystem: it reads history only.  Counters are kept cumulative; a
 * check takes the difference between two samples.
 *
 * Threads: samples are written on the main loop and read by checks on the
 * MI's thread, both under gw_diag_lock (gw_diag.c).
 */
#ifndef GW_DIAG_INT_H
#define GW_DIAG_INT_H

#include <jansson.h>
#include <stdint.h>

#define GW_DIAG_RING 180 /* samples kept: 3 minutes at one a second */
#define GW_DIAG_CONNS 32 /* connectors followed per sample (the first ones listed) */
#define GW_DIAG_RULES 8  /* suspect rules kept per sample (the first in rule order) */

typedef enum { GW_DIAG_OK = 0, GW_DIAG_WARNING, GW_DIAG_CRITICAL } gw_diag_status_t;

/* Checklist: a new area goes here, in gw_diag_areas[] (gw_diag_checks.c)
 * and in docs/diagnose.md. */
typedef enum {
    GW_DIAG_A_SIP = 0, GW_DIAG_A_SMPP, GW_DIAG_A_AMQP, GW_DIAG_A_STORE, GW_DIAG_A_ROUTER,
    GW_DIAG_A_MEMORY, GW_DIAG_A_FDS, GW_DIAG_A_DISK, GW_DIAG__AREAS
} gw_diag_area_t;

typedef enum {
    GW_DIAG_K_OTHER = 0, /* a connector whose link is not followed (SIP, accounts) */
    GW_DIAG_K_SMPP,      /* an SMPP client connector: binds to an SMSC */
    GW_DIAG_K_AMQP,      /* an AMQP link to a broker */
} gw_diag_kind_t;

typedef struct gw_diag_conn {
    char name[64];
    char state[16];     /* as its status says: "bound", "connecting", ... */
    int kind;           /* gw_diag_kind_t */
    int area;           /* gw_diag_area_t its problems go to (by adapter) */
    int up;             /* bound (SMPP) / connected (AMQP); 1 for others */
    int held;           /* SMPP: held down by smpp.unbind */
    int inflight, cap;  /* SMPP: submit_sm in flight; window x bound binds that send */
    int64_t backlog;    /* queues.list: messages queued for it */
    int64_t throttled;  /* SMPP: answers asking to slow down (cumulative) */
    int64_t lost;       /* SMPP: sessions lost while bound, all binds (cumulative) */
    char error[80];     /* AMQP: its last error */
} gw_diag_conn_t;

/* A rule of the running set that matched nothing, or everything while
 * enabled rules follow it (rt_set_hits, since the set was loaded). */
typedef struct gw_diag_rule_seen {
    char name[64];      /* its name, else "rule <id>" */
    int all;            /* 1: matched every decision; 0: matched none */
    int later;          /* enabled rules after it */
} gw_diag_rule_seen_t;

typedef struct gw_diag_sample {
    int64_t at_ms;
    int64_t commits, commit_us, db_errors, db_queue; /* db.* */
    int64_t sip_busy;      /* sip.worker_busy_pct; -1: the statistic does not exist */
    int64_t sip_workers;   /* sip.workers_active; -1: does not exist */
    int64_t accepted, no_route, rejected; /* core.* */
    int64_t rss_kb;
    int nfds, fd_limit;    /* fd_limit 0: unknown */
    int disk_pct;          /* used, of the database's file system; -1: unknown */
    int64_t disk_free_mb;
    int64_t decisions;     /* the running rule set's, since it was loaded */
    int nsuspect, suspects_total; /* kept, and found */
    gw_diag_rule_seen_t suspects[GW_DIAG_RULES];
    int nconns, conns_total; /* followed, and listed (more than GW_DIAG_CONNS: cut) */
    gw_diag_conn_t conns[GW_DIAG_CONNS];
} gw_diag_sample_t;

/* The thresholds, one variable per diagnose.* parameter. */
typedef struct gw_diag_cfg {
    int window_s, sustain_s, down_s, flaps, throttled, queue_growth;
    int commit_warn_ms, commit_crit_ms, sip_busy_warn, sip_busy_crit;
    int rss_warn_mb, rss_crit_mb, fd_warn_pct, fd_crit_pct, disk_warn_pct, disk_crit_pct;
    int noroute_pct, route_min, rule_min;
} gw_diag_cfg_t;
extern gw_diag_cfg_t gw_diag_cfg;

/* The history a check reads: s[0] oldest .. s[n-1] newest (n >= 1). */
typedef struct gw_diag_view {
    const gw_diag_sample_t *s[GW_DIAG_RING];
    int n;
} gw_diag_view_t;

/* Run every check and describe every area over v into a new result
 * object (the MI's "diagnose" shape); NULL: no memory.  Caller holds
 * gw_diag_lock. */
json_t *gw_diag_evaluate(const gw_diag_view_t *v);

#endif
