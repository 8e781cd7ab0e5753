/*
 * sip_trunk.h - SIP trunks: connectors of type "sip_trunk" that the
 * proxy routes requests to through the rule engine; private to
 * adapters/sip/.
 *
 * Table of contents:
 *   sip_trunk_pick.c   pure: a trunk's destinations in the order its
 *                      strategy gives (failover, round_robin, weighted),
 *                      which final statuses fail over.
 *   sip_trunk.c        the connector type: conf check, open / close at
 *                      runtime, the registry of open trunks, OPTIONS
 *                      probing (up / down per destination), MI
 *                      sip.trunks.status, the sip.trunk_* statistics.
 *   sip_trunk_route.c  the proxy's side: a request as a rule engine
 *                      query, a decision's trunks as the proxy's serial
 *                      destination set.
 *
 * Destinations are IPv4 literals (sip:1.2.3.4[:port]); host names wait
 * for RFC 3263 resolution (sip_dns.c), a ";transport=" parameter is kept
 * in the URI but every request goes over UDP.
 *
 * Threads: the registry is guarded by one mutex (sip_trunk.c); the probe
 * timer runs on the main thread, probe responses arrive on any worker,
 * the proxy reads the registry from its workers.
 */
#ifndef SIP_TRUNK_H
#define SIP_TRUNK_H

#include <netinet/in.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_adapter.h"
#include "gw_mi.h"
#include "gw_stats.h"
#include "sip.h"

#define SIP_TRUNK_MAX_DST 16
#define SIP_TRUNK_BRANCH_PREFIX "z9hG4bK-jt" /* OPTIONS probes: then "<random hex>" */

typedef enum {
    SIP_TRUNK_FAILOVER = 0, /* by priority (lower first), then as listed */
    SIP_TRUNK_ROUND_ROBIN,  /* each request starts one destination further */
    SIP_TRUNK_WEIGHTED,     /* the first by weight at random, the rest by priority */
} sip_trunk_strategy_t;

typedef enum {
    SIP_TRUNK_PROBING = 0, /* not yet decided (taken for calls) */
    SIP_TRUNK_UP,
    SIP_TRUNK_DOWN,        /* skipped for calls */
} sip_trunk_state_t;

/* ---- sip_trunk_pick.c: pure ---- */
typedef struct sip_trunk_cand {
    int weight;    /* >= 1 */
    int priority;  /* lower first */
    int usable;    /* 0: down, skipped */
} sip_trunk_cand_t;

/* The order in which a request tries n destinations c[]: indices of the
 * usable ones into order[] (room for n), by strategy; counter is the
 * trunk's request count (round_robin), rnd a random number (weighted).
 * Returns how many were written (0: none usable). */
int sip_trunk_order(sip_trunk_strategy_t strategy, const sip_trunk_cand_t *c, int n,
                    unsigned counter, uint32_t rnd, int *order);
/* 1 when a destination's final status lets the request go on to the next
 * destination: 408 and 5xx (a timeout is 408); 2xx, 3xx, other 4xx and
 * 6xx go up to the caller. */
int sip_trunk_fails_over(int status);
/* "failover", "round_robin", "weighted" <-> the enum; parse: -1. */
int sip_trunk_strategy_parse(const char *s);
const char *sip_trunk_strategy_name(sip_trunk_strategy_t s);
const char *sip_trunk_state_name(sip_trunk_state_t s);

/* ---- sip_trunk.c ---- */
/* One destination the proxy may send to (a copy: valid without the lock). */
typedef struct sip_trunk_hop {
    char trunk[64];
    int idx;                 /* the destination's index in its trunk */
    sip_sa_t addr;
    char ruri[256];          /* the Request-URI for it */
} sip_trunk_hop_t;

/* The usable destinations of trunk name for a request to user (the
 * Request-URI's user part, "" for none), in its strategy's order, into
 * hops (room for max); the Request-URI of each is
 * "sip:<prefix><user after strip>@<host:port>".  Returns how many, 0
 * when none is up, -1 when no open trunk has that name.  Any thread. */
int sip_trunk_hops(const char *name, const char *user, sip_trunk_hop_t *hops, int max);
/* A branch started to destination idx of trunk (calls and in flight
 * counted) / got its final status or timed out (in flight: one fewer).
 * Any thread. */
void sip_trunk_note_call(const char *trunk, int idx);
void sip_trunk_note_end(const char *trunk, int idx);
/* A response whose top Via carries a probe branch: 1 when taken (ours,
 * matched or stale), 0 when not a probe's.  Any worker. */
int sip_trunk_response(const char *buf, size_t n);
/* Statistics and the probe timer on the main base.  Adapter init; stop
 * ends the timer (main thread). */
int sip_trunk_init(struct event_base *main_base);
void sip_trunk_stop(void);
/* MI sip.trunks.status (viewer). */
void sip_trunk_mi_status(const json_t *params, gw_mi_reply_t *r);

typedef struct sip_trunk_stats {
    gw_stat_t *requests, *failovers, *probes, *down;
} sip_trunk_stats_t;
extern sip_trunk_stats_t sip_trunk_stats;

/* The connector type "sip_trunk" (listed in gateway/gw_adapters.c). */
extern const gw_adapter_t sip_trunk_adapter;

#endif
