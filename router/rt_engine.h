/*
 * rt_engine.h - the compiled rule engine: contents list.
 *
 *   rt_compile   JSON rules (docs/routing.md) -> an immutable rt_set_t, or
 *                every error with its rule id and field path
 *   rt_decide    the first matching enabled rule's decision; no lock, no
 *                allocation (rt_match.c)
 *   rt_explain   the same decision as a JSON dry run: every earlier rule
 *                with the filter that failed (rt_explain.c)
 *   rt_set_current / rt_set_install   the running set, swapped without a
 *                lock on the reading side (rt_set.c)
 *   rt_set_hits  how often each rule decided (the self-diagnosis)
 *
 * Ownership: a set is reference counted (rt_set_ref / rt_set_unref); the
 * decision's strings point into it.  Rate tables named by rules are looked
 * up at compile time and must outlive every set compiled against them: the
 * caller hands the set an owner of its tables (opts.owner with its release
 * function), which the set keeps until it is freed, so a table lives as
 * long as the last set that may look up in it.
 *
 * Threads: rt_compile on any one thread (it reads zoneinfo files: the only
 * I/O, done before the set exists); everything else on any thread.
 */
#ifndef RT_ENGINE_H
#define RT_ENGINE_H

#include <jansson.h>

#include "rt_query.h"

#include "rt_bucket.h"
#include "rt_pick.h"
#include "rt_rates.h"

typedef struct rt_set rt_set_t;

/* Find a rate table by name for the compiler: the table or NULL (unknown). */
typedef const rt_rates_t *(*rt_rates_find_fn)(void *ctx, const char *name);

typedef struct rt_compile_opts {
    rt_rates_find_fn find_rates; /* NULL: no rate tables exist */
    void *rates_ctx;
    const char *zoneinfo;        /* NULL: $JUNCTION_ZONEINFO, else /usr/share/zoneinfo */
    /* What keeps the rate tables alive (e.g. a reference-counted rate
     * set): on success the new set takes over one reference of owner and
     * calls release(owner) when it is freed; on failure it never calls it
     * (the reference stays the caller's).  NULL: nothing to release. */
    void *owner;
    void (*release)(void *owner);
} rt_compile_opts_t;

/* Compile rules (a JSON array of rule objects) into a new set with one
 * reference for the caller.  On any error returns NULL and, when errors
 * is not NULL, *errors = a new JSON array (caller decrefs) of
 * {"rule": id or null, "path": "filters.dst.regex", "message": "...",
 * "text": "rule 12: filters.dst.regex: missing ) at offset 3"}, one per
 * problem found (all of them, not the first).  On success *errors = NULL.
 * opts may be NULL. */
rt_set_t *rt_compile(const json_t *rules, const rt_compile_opts_t *opts, json_t **errors);

rt_set_t *rt_set_ref(rt_set_t *s);
void rt_set_unref(rt_set_t *s); /* NULL is accepted */
size_t rt_set_count(const rt_set_t *s); /* rules, enabled or not */
size_t rt_set_live(void);               /* sets not yet freed (tests, diagnostics) */

/* How often each rule of s decided since s was compiled (rt_decide only:
 * dry runs do not count): fn(arg, r) for every rule in order, with the
 * number of enabled rules after it.  Returns s's decisions (matched or
 * not).  Any thread; the counts are relaxed atomics, so a count read
 * while messages are routed may lag by a few. */
typedef struct rt_rule_hits {
    long long id;
    const char *name;   /* NULL when the rule has none; points into s */
    int enabled;
    uint64_t hits;
    size_t later;       /* enabled rules after this one */
} rt_rule_hits_t;
uint64_t rt_set_hits(const rt_set_t *s, void (*fn)(void *arg, const rt_rule_hits_t *r),
                     void *arg);

/* Decide q into *out (fully overwritten).  Returns out->kind.  Takes no
 * lock and allocates nothing (but the calling thread's PCRE2 match data,
 * once).  Takes a token from the matched rule's rate limit. */
rt_kind_t rt_decide(const rt_set_t *s, const rt_query_t *q, rt_decision_t *out);

/* The reference: the same decision by a linear scan of every rule (no
 * prefix trie).  For tests and bench/bench_router.c only. */
rt_kind_t rt_decide_linear(const rt_set_t *s, const rt_query_t *q, rt_decision_t *out);

/* Dry run: *out = a new JSON object (caller decrefs) describing what
 * rt_decide would do, without taking rate-limit tokens or advancing
 * round-robin counters.  Returns 0 or GW_ENOMEM. */
int rt_explain(const rt_set_t *s, const rt_query_t *q, json_t **out);

/* The running set: a new reference (NULL before the first install).
 * Lock-free: see rt_set.c for the scheme and its memory ordering. */
rt_set_t *rt_set_current(void);
/* Make s (the caller's reference is stolen; NULL uninstalls) the running
 * set; the old one is freed once its last reader lets go.  Writers may be
 * on any thread; concurrent installs are serialised by the caller (one MI
 * lock) or simply race to the last one. */
void rt_set_install(rt_set_t *s);

#endif
