/*
 * rt_bucket.c - the token bucket of rt_bucket.h as a GCRA ("virtual
 * scheduling"): instead of tokens and a refill time, which would need a
 * 128-bit compare-and-swap to change together, the bucket keeps one 64-bit
 * word, the theoretical arrival time `tat` (nanoseconds) at which it will be
 * full again.  A take at `now` is allowed when
 *     max(tat, now) + interval - now <= burst * interval
 * and then sets tat to max(tat, now) + interval with one CAS; a refusal
 * writes nothing, so a flood of refused takes does not bounce the cache line
 * more than reading it.  This is exactly a bucket of `burst` tokens filled at
 * `rate` per second: a fresh bucket (tat = 0) lets `burst` takes through at
 * once, then one per interval.
 *
 * The interval is rounded up to whole nanoseconds, so the limit never lets
 * more through than asked for (at 1,000,000/s exactly; at 3,000,000/s it is
 * 0.1% strict).  now_us * 1000 fits in 63 bits until the year 2262.
 *
 * A reservation (the over-limit action "queue") always moves tat on by one
 * interval; the token it books is due when the bucket would have let that
 * take through: at tat' - burst * interval, i.e. the moment
 * max(tat, now) + interval - t <= limit becomes true.
 *
 * Threads: any; the CAS loop retries only when another take succeeded in
 * between.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "router/rt_bucket.h"

struct rt_bucket {
    _Atomic int64_t tat;   /* ns; the only mutable field */
    int64_t interval;      /* ns per token, rounded up */
    int64_t limit;         /* burst * interval: how far tat may run ahead of now */
};

rt_bucket_t *rt_bucket_new(double rate_per_s, double burst)
{
    rt_bucket_t *b;

    if (!isfinite(rate_per_s) || rate_per_s <= 0 || rate_per_s > 1e9 || !isfinite(burst) ||
        burst < 1 || burst > 1e12)
        return NULL;
    if ((b = malloc(sizeof *b)) == NULL)
        return NULL;
    b->interval = (int64_t)ceil(1e9 / rate_per_s);
    b->limit = (int64_t)(floor(burst) * (double)b->interval);
    atomic_init(&b->tat, 0);
    return b;
}

void rt_bucket_free(rt_bucket_t *b)
{
    free(b);
}

int rt_bucket_take(rt_bucket_t *b, int64_t now_us)
{
    int64_t now = now_us * 1000;
    int64_t tat = atomic_load_explicit(&b->tat, memory_order_relaxed), next;

    do {
        next = (tat > now ? tat : now) + b->interval;
        if (next - now > b->limit)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(&b->tat, &tat, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 1;
}

int64_t rt_bucket_reserve(rt_bucket_t *b, int64_t now_us)
{
    int64_t now = now_us * 1000;
    int64_t tat = atomic_load_explicit(&b->tat, memory_order_relaxed), next, due;

    do {
        next = (tat > now ? tat : now) + b->interval;
    } while (!atomic_compare_exchange_weak_explicit(&b->tat, &tat, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    due = next - b->limit;
    if (due <= now)
        return now_us;
    return (due + 999) / 1000;
}
