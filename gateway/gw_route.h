/*
 * gw_route.h - the compiled rule engine (router/rt_engine.h) as the core's
 * router: rules and rate tables from the store, compiled and installed
 * together; an envelope asked as a query; a decision applied to the
 * envelope and its delivery plan.
 *
 *   gw_rateset_*      the sealed rate tables of one compile, reference
 *                     counted: every rule set compiled against a rate set
 *                     holds a reference (rt_compile_opts_t.owner), so a
 *                     table outlives every set that may look up in it
 *   gw_rules_compile  rules + a rate set -> a set, or every error
 *   gw_rules_reload   store -> compile -> rt_set_install; a compile error
 *                     leaves the running set (and its rates) in place
 *   gw_route_query    the rt_query_t of an envelope
 *   gw_route_decide   decide on the running set and apply: rewrites, tags,
 *                     validity, receipt request onto env, targets into the
 *                     plan, a rate hold and a mirror for the core; or a
 *                     refusal / drop / no route
 *   gw_route_explain  the same as a dry run (rt_explain's JSON)
 *   gw_route_ask      decide a query an adapter built without an envelope
 *                     (the SIP proxy's requests, adapters/sip/sip_trunk_route.c)
 *
 * Ownership: gw_rateset_ref / unref; sets as in rt_engine.h.
 * Threads: decide / explain / query on any thread (lock-free: the running
 * set by hazard pointer); compile / reload / the rate set's current
 * pointer under gw_route_lock (MI handlers and start-up).
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <jansson.h>

#include "../router/rt_engine.h"
#include "gw_core.h"
#include "gw_delivery.h"
#include "gw_envelope.h"

typedef struct gw_rateset gw_rateset_t;

/* Every rate table of the store, sealed: a new set (one reference) or NULL
 * with the reason in err (a store error, a stored row the tables refuse). */
gw_rateset_t *gw_rateset_load(char *err, size_t errlen);
/* A copy of rs (sharing its tables) in which table t (sealed; taken over)
 * replaces the one of its name, or is added; t == NULL with name removes
 * that table.  NULL when out of memory (t freed). */
gw_rateset_t *gw_rateset_with(gw_rateset_t *rs, const char *name, rt_rates_t *t);
gw_rateset_t *gw_rateset_ref(gw_rateset_t *rs);
void gw_rateset_unref(gw_rateset_t *rs); /* NULL is accepted */
const rt_rates_t *gw_rateset_find(const gw_rateset_t *rs, const char *name);
/* [{name, rows, memory}] of the tables; a new array. */
json_t *gw_rateset_tables(const gw_rateset_t *rs);
/* The rate set the running rules were compiled with (a new reference;
 * an empty set before the first reload). */
gw_rateset_t *gw_rates_current(void);

/* Compile rules (a JSON array) against rs: a new set with one reference
 * (holding rs) or NULL with *errors (a new array, rt_compile's form). */
rt_set_t *gw_rules_compile(const json_t *rules, gw_rateset_t *rs, json_t **errors);
/* Read rules and rates from the store, compile and install them.  0;
 * GW_EINVAL with *errors (a new array; the running set stays); GW_ESTORE
 * or GW_ENOMEM with *errors = NULL.  errors may be NULL.  MI or start-up. */
int gw_rules_reload(json_t **errors);
/* As gw_rules_reload, but with rules given and the rate set rs (NULL: the
 * current one) instead of the store's: used after a change was stored. */
int gw_rules_install(const json_t *rules, gw_rateset_t *rs, json_t **errors);

/* Uninstall the running rules and drop the current rate set: every table
 * is freed once the last reader lets go.  Main thread, at shutdown. */
void gw_rules_shutdown(void);

/* Fill q from env (pointers into env: valid while env is); tags has room
 * for ntags_max of env's tags.  Any thread. */
void gw_route_query(rt_query_t *q, const gw_envelope_t *env, rt_tag_t *tags, size_t ntags_max);

/* What a routed decision asks of the core beyond the plan: copied out of
 * the rule set, so it outlives the decision. */
typedef struct gw_route_extra {
    int64_t hold_until_ms;     /* a rate limit with "over": "queue" was over: deliver
                                * no earlier than this (ms since the epoch); 0: now */
    char mirror_exchange[128]; /* "": no mirror */
    char mirror_key[256];
} gw_route_extra_t;

/* Decide for env on the running set and apply the decision:
 *   GW_OK        routed: d's plan set, env's addresses rewritten, tags,
 *                validity and receipt request set (env not yet shared);
 *                *extra says whether to hold it back and where to mirror it
 *   GW_ENOROUTE  no rule matched, or the rule could not route (reason
 *                logged and traced)
 *   GW_EREJECTED a reject or a rate limit over: *ref filled
 *   GW_EDROPPED  a drop: d's route and reason_text name the rule; *extra
 *                may name a mirror
 *   GW_ENOMEM
 * Every decision is recorded on the trace bus.  Adapter threads. */
int gw_route_decide(gw_envelope_t *env, gw_delivery_t *d, gw_refusal_t *ref,
                    gw_route_extra_t *extra);

/* The dry run of env on the running set: *out = rt_explain's JSON (a new
 * object).  0, GW_ENOROUTE (no set installed), GW_ENOMEM. */
int gw_route_explain(const gw_envelope_t *env, json_t **out);

/* Decide q on the running set into *dec without applying anything: for
 * a surface that asks about something that is no envelope (a proxied SIP
 * request).  q->now / now_us are filled when 0.  Returns the set decided
 * with (a new reference: dec's strings point into it; rt_set_unref it
 * when done), or NULL when no rules are installed (dec->kind RT_NOROUTE,
 * reason "no rules installed").  The caller traces the decision.  Any
 * thread. */
rt_set_t *gw_route_ask(rt_query_t *q, rt_decision_t *dec);

/* Register routes.* and rates.* (gw_route_mi.c).  Main thread. */
int gw_route_mi_init(void);

#endif
