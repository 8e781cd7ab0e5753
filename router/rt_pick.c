/*
 * rt_pick.c - target strategies (rt_pick.h): failover, round robin,
 * weighted random, least cost.
 *
 * Round robin keeps one counter per rule, bumped with a relaxed atomic add:
 * fairness needs only that every call gets a distinct number, not any order
 * between threads.  The state is padded to a cache line so two rules'
 * counters never share one.
 *
 * Weighted: for each place in the output a target is drawn among those not
 * yet placed, with probability weight / (sum of their weights), using
 * Lemire's multiply-shift to map a 64-bit draw onto the sum (no division,
 * a bias below 2^-32 for any sum of RT_PICK_MAX 32-bit weights).  Weight-0
 * targets are standbys: they follow the drawn ones in the given order.
 * O(n^2) for n <= RT_PICK_MAX, no allocation.
 *
 * The generator is xoshiro256** per thread, seeded on first use from
 * getrandom (mixed through splitmix64); if that fails, from the clock and
 * the thread's address, which is enough for load spreading.
 *
 * Threads: any; the only shared state is the rule's counter.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "router/rt_pick.h"

struct rt_pick_state {
    _Alignas(64) atomic_ulong next;
    char pad[64 - sizeof(atomic_ulong)];
};

static _Thread_local uint64_t rt_pick_s[4];
static _Thread_local int rt_pick_seeded;

static uint64_t rt_pick_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rt_pick_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rt_pick_s[i] = rt_pick_splitmix(&seed);
    rt_pick_seeded = 1;
}

static void rt_pick_seed_once(void)
{
    uint64_t seed = 0;
    struct timespec ts;

    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&seed;
    }
    rt_pick_seed(seed);
}

static inline uint64_t rt_pick_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rt_pick_rand(void)
{
    uint64_t *s = rt_pick_s, r, t;

    if (!rt_pick_seeded)
        rt_pick_seed_once();
    r = rt_pick_rotl(s[1] * 5, 7) * 9;
    t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rt_pick_rotl(s[3], 45);
    return r;
}

rt_pick_state_t *rt_pick_state_new(void)
{
    rt_pick_state_t *st = aligned_alloc(64, sizeof *st);

    if (st != NULL)
        atomic_init(&st->next, 0);
    return st;
}

void rt_pick_state_free(rt_pick_state_t *st)
{
    free(st);
}

/* out[0..w) from weighted draws among t[0..n) with weight > 0, then the
 * standbys in order.  Returns how many were written (<= max). */
static size_t rt_pick_weighted(const rt_pick_target_t *t, size_t n, const char **out, size_t max)
{
    uint8_t left[RT_PICK_MAX];  /* indices of positive-weight targets not yet drawn */
    size_t nleft = 0, w = 0, i;
    uint64_t sum = 0;

    for (i = 0; i < n; i++) {
        if (t[i].weight > 0) {
            left[nleft++] = (uint8_t)i;
            sum += t[i].weight;
        }
    }
    while (nleft > 0 && w < max) {
        uint64_t r = (uint64_t)(((unsigned __int128)rt_pick_rand() * sum) >> 64);
        size_t k = 0;
        while (r >= t[left[k]].weight) {  /* r < sum, so k stays < nleft */
            r -= t[left[k]].weight;
            k++;
        }
        out[w++] = t[left[k]].connector;
        sum -= t[left[k]].weight;
        memmove(&left[k], &left[k + 1], (nleft - k - 1) * sizeof left[0]);
        nleft--;
    }
    for (i = 0; i < n && w < max; i++)
        if (t[i].weight == 0)
            out[w++] = t[i].connector;
    return w;
}

size_t rt_pick_order(rt_pick_kind_t kind, rt_pick_state_t *st, const rt_pick_target_t *t,
                     size_t n, const char **out, size_t max)
{
    size_t w = 0, start = 0, i;

    if (n > RT_PICK_MAX)
        n = RT_PICK_MAX;
    if (n == 0 || max == 0)
        return 0;
    switch (kind) {
    case RT_PICK_WEIGHTED:
        return rt_pick_weighted(t, n, out, max);
    case RT_PICK_ROUND_ROBIN:
        if (st != NULL)
            start = (size_t)(atomic_fetch_add_explicit(&st->next, 1, memory_order_relaxed) % n);
        break;
    case RT_PICK_FAILOVER:
    case RT_PICK_LEAST_COST:
    default:
        break;
    }
    for (i = 0; i < n && w < max; i++)
        out[w++] = t[(start + i) % n].connector;
    return w;
}

static const char *const rt_pick_names[] = {
    [RT_PICK_FAILOVER] = "failover",
    [RT_PICK_ROUND_ROBIN] = "round_robin",
    [RT_PICK_WEIGHTED] = "weighted",
    [RT_PICK_LEAST_COST] = "least_cost",
};

const char *rt_pick_kind_name(rt_pick_kind_t kind)
{
    return (unsigned)kind < sizeof rt_pick_names / sizeof rt_pick_names[0] ?
               rt_pick_names[kind] : "unknown";
}

int rt_pick_kind_parse(const char *name)
{
    for (size_t i = 0; i < sizeof rt_pick_names / sizeof rt_pick_names[0]; i++)
        if (strcmp(name, rt_pick_names[i]) == 0)
            return (int)i;
    return -1;
}
