/*
 * rt_pick.h - target strategies: the order in which a rule's targets are
 * tried (the first is preferred, the rest the failover order).
 *
 *   RT_PICK_FAILOVER     the given order
 *   RT_PICK_ROUND_ROBIN  the given order rotated by a per-rule counter
 *   RT_PICK_WEIGHTED     successive weighted random draws without replacement;
 *                        weight 0 = standby: never drawn, tried last in the
 *                        given order
 *   RT_PICK_LEAST_COST   the given order (the caller sorts by cost: rt_rates)
 *
 * No allocation, no lock: any thread, any number at once.  The weighted
 * draws use a per-thread xoshiro256** generator seeded once from getrandom.
 */
#ifndef RT_PICK_H
#define RT_PICK_H

#include <stddef.h>
#include <stdint.h>

#define RT_PICK_MAX 64  /* targets considered per call; the rest are ignored */

typedef enum { RT_PICK_FAILOVER, RT_PICK_ROUND_ROBIN, RT_PICK_WEIGHTED, RT_PICK_LEAST_COST } rt_pick_kind_t;
typedef struct rt_pick_target { const char *connector; unsigned weight; } rt_pick_target_t;
typedef struct rt_pick_state rt_pick_state_t;  /* per rule: atomic round-robin counter */

/* A counter starting at 0; NULL when out of memory.  Freed by
 * rt_pick_state_free (NULL is fine).  Any thread. */
rt_pick_state_t *rt_pick_state_new(void);
void rt_pick_state_free(rt_pick_state_t *st);

/* order n targets into out[] (connector names, first = preferred, the rest the
   failover order).  Returns how many were written: min(n, max, RT_PICK_MAX).
   st may be NULL (round robin then starts at the first target every time).
   The names are the caller's (t[i].connector). */
size_t rt_pick_order(rt_pick_kind_t kind, rt_pick_state_t *st, const rt_pick_target_t *t,
                     size_t n, const char **out, size_t max);

/* Seed the calling thread's generator (tests: a reproducible sequence). */
void rt_pick_seed(uint64_t seed);
/* The next number of the calling thread's generator. */
uint64_t rt_pick_rand(void);

/* "failover", "round_robin", "weighted", "least_cost" and back; -1 = unknown. */
const char *rt_pick_kind_name(rt_pick_kind_t kind);
int rt_pick_kind_parse(const char *name);

#endif
