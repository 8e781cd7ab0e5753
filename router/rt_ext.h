/*
 * rt_ext.h - PRIVATE, TEMPORARY: the interface of rt_rates.h, rt_pick.h
 * and rt_bucket.h, built in parallel on branch "rates".  The engine
 * (rt_compile.c, rt_match.c) compiles against these declarations until
 * that branch merges; at the merge delete this file and include the three
 * real headers from rt_int.h instead.  No definitions live here.
 *
 * Threads: as the real headers say (lookups lock-free, any thread).
 */
#ifndef RT_EXT_H
#define RT_EXT_H

#include <stddef.h>
#include <stdint.h>

/* rt_rates.h */
typedef struct rt_rates rt_rates_t; /* one named, immutable rate table */
typedef struct rt_rate_hit {
    const char *connector;
    double cost;
    const char *currency;
    const char *prefix;
} rt_rate_hit_t;
/* The entries of the longest matching prefix of digits valid at now (unix
 * s), cheapest first (ties: connector name order); returns how many were
 * written (<= max).  Lock-free, any thread. */
size_t rt_rates_lookup(const rt_rates_t *t, const char *digits, int64_t now, rt_rate_hit_t *out,
                       size_t max);
const char *rt_rates_name(const rt_rates_t *t);

/* rt_pick.h */
typedef enum { RT_PICK_FAILOVER, RT_PICK_ROUND_ROBIN, RT_PICK_WEIGHTED, RT_PICK_LEAST_COST } rt_pick_kind_t;
typedef struct rt_pick_target {
    const char *connector;
    unsigned weight;
} rt_pick_target_t;
typedef struct rt_pick_state rt_pick_state_t; /* per rule: atomic round-robin counter */
rt_pick_state_t *rt_pick_state_new(void);
void rt_pick_state_free(rt_pick_state_t *);
/* Order n targets into out[] (connector names, first = preferred, the
 * rest the failover order). */
size_t rt_pick_order(rt_pick_kind_t kind, rt_pick_state_t *st, const rt_pick_target_t *t, size_t n,
                     const char **out, size_t max);

/* rt_bucket.h */
typedef struct rt_bucket rt_bucket_t; /* lock-free token bucket */
rt_bucket_t *rt_bucket_new(double rate_per_s, double burst);
void rt_bucket_free(rt_bucket_t *);
int rt_bucket_take(rt_bucket_t *b, int64_t now_us); /* 1 = allowed, 0 = over the limit */

#endif
