/*
 * rt_ext_stub.c - TEMPORARY stand-ins for rt_rates / rt_pick / rt_bucket
 * (router/rt_ext.h), linked into the test_rt_* binaries and
 * bench_router only while router/rt_rates.c does not exist (tests/module.mk,
 * bench/bench.mk).  Delete at the merge with the rates branch; the tests'
 * rt_stub_rates_* calls then become the real table's constructor.
 *
 * Behaviour is the contract of rt_ext.h, simply done: rates are a list
 * scanned linearly; weighted order draws without replacement.
 *
 * Threads: lookups any; building single-threaded; the bucket and the
 * round-robin counter use atomics.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_ext.h"
#include "rt_ext_stub.h"

typedef struct rt_stub_rate {
    char prefix[33], connector[64], currency[8];
    double cost;
    int64_t from, to; /* validity; 0 = open */
} rt_stub_rate_t;

struct rt_rates {
    char name[64];
    rt_stub_rate_t *r;
    size_t n;
};

rt_rates_t *rt_stub_rates_new(const char *name)
{
    rt_rates_t *t = calloc(1, sizeof *t);
    if (t != NULL)
        strncpy(t->name, name, sizeof t->name - 1);
    return t;
}

int rt_stub_rates_add(rt_rates_t *t, const char *prefix, const char *connector, double cost,
                      const char *currency, int64_t from, int64_t to)
{
    rt_stub_rate_t *nr = realloc(t->r, (t->n + 1) * sizeof *nr);
    if (nr == NULL)
        return -1;
    t->r = nr;
    rt_stub_rate_t *e = &t->r[t->n++];
    memset(e, 0, sizeof *e);
    strncpy(e->prefix, prefix, sizeof e->prefix - 1);
    strncpy(e->connector, connector, sizeof e->connector - 1);
    strncpy(e->currency, currency, sizeof e->currency - 1);
    e->cost = cost;
    e->from = from;
    e->to = to;
    return 0;
}

void rt_stub_rates_free(rt_rates_t *t)
{
    if (t != NULL)
        free(t->r);
    free(t);
}

const char *rt_rates_name(const rt_rates_t *t)
{
    return t->name;
}

size_t rt_rates_lookup(const rt_rates_t *t, const char *digits, int64_t now, rt_rate_hit_t *out,
                       size_t max)
{
    size_t best = 0, n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const rt_stub_rate_t *e = &t->r[i];
        size_t len = strlen(e->prefix);
        if (strncmp(digits, e->prefix, len) == 0 && (e->from == 0 || now >= e->from) &&
            (e->to == 0 || now < e->to) && len > best)
            best = len;
    }
    for (size_t i = 0; i < t->n && n < max; i++) {
        const rt_stub_rate_t *e = &t->r[i];
        if (strlen(e->prefix) != best || strncmp(digits, e->prefix, best) != 0 ||
            (e->from != 0 && now < e->from) || (e->to != 0 && now >= e->to) || best == 0)
            continue;
        size_t k = n++;
        /* insertion sort: cheapest first, ties by connector name */
        while (k > 0 && (out[k - 1].cost > e->cost ||
                         (out[k - 1].cost == e->cost && strcmp(out[k - 1].connector, e->connector) > 0))) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = (rt_rate_hit_t){ e->connector, e->cost, e->currency, e->prefix };
    }
    return n;
}

struct rt_pick_state {
    unsigned long next; /* atomic */
};

rt_pick_state_t *rt_pick_state_new(void)
{
    return calloc(1, sizeof(rt_pick_state_t));
}

void rt_pick_state_free(rt_pick_state_t *st)
{
    free(st);
}

size_t rt_pick_order(rt_pick_kind_t kind, rt_pick_state_t *st, const rt_pick_target_t *t, size_t n,
                     const char **out, size_t max)
{
    size_t m = n < max ? n : max;
    if (kind == RT_PICK_ROUND_ROBIN && n > 0) {
        unsigned long k = __atomic_fetch_add(&st->next, 1, __ATOMIC_RELAXED) % n;
        for (size_t i = 0; i < m; i++)
            out[i] = t[(k + i) % n].connector;
    } else if (kind == RT_PICK_WEIGHTED && n > 0) {
        unsigned char used[64] = { 0 };
        for (size_t i = 0; i < m && i < 64; i++) {
            unsigned long sum = 0, r;
            for (size_t k = 0; k < n && k < 64; k++)
                sum += used[k] ? 0 : t[k].weight;
            r = sum ? (unsigned long)random() % sum : 0;
            for (size_t k = 0; k < n && k < 64; k++) {
                if (used[k])
                    continue;
                if (r < t[k].weight) {
                    used[k] = 1;
                    out[i] = t[k].connector;
                    break;
                }
                r -= t[k].weight;
            }
        }
    } else {
        for (size_t i = 0; i < m; i++)
            out[i] = t[i].connector;
    }
    return m;
}

struct rt_bucket {
    double rate, burst, tokens;
    int64_t last_us;
};

rt_bucket_t *rt_bucket_new(double rate_per_s, double burst)
{
    rt_bucket_t *b = calloc(1, sizeof *b);
    if (b != NULL) {
        b->rate = rate_per_s;
        b->burst = b->tokens = burst;
        b->last_us = -1;
    }
    return b;
}

void rt_bucket_free(rt_bucket_t *b)
{
    free(b);
}

/* Not lock-free like the real one: the stub's users take it on one thread. */
int rt_bucket_take(rt_bucket_t *b, int64_t now_us)
{
    if (b->last_us >= 0 && now_us > b->last_us)
        b->tokens = fmin(b->burst, b->tokens + (double)(now_us - b->last_us) * b->rate / 1e6);
    if (now_us > b->last_us)
        b->last_us = now_us;
    if (b->tokens < 1)
        return 0;
    b->tokens -= 1;
    return 1;
}
