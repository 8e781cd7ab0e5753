/*
 * rt_bucket.h - a lock-free token bucket for per-rule rate limits.
 *
 * rate_per_s tokens flow in per second up to burst; a take spends one.  Any
 * number of threads may take from one bucket at once.  Time is the caller's
 * (microseconds, any monotonic origin), so tests drive a simulated clock.
 */
#ifndef RT_BUCKET_H
#define RT_BUCKET_H

#include <stdint.h>

typedef struct rt_bucket rt_bucket_t;  /* lock-free token bucket */

/* A full bucket; NULL when rate_per_s is not a positive finite number at
 * most 1e9, burst is below 1 or not finite, or out of memory.  Freed by
 * rt_bucket_free (NULL is fine) once no thread takes from it. */
rt_bucket_t *rt_bucket_new(double rate_per_s, double burst);
void rt_bucket_free(rt_bucket_t *b);

/* 1 = allowed (a token spent), 0 = over the limit (nothing changed).
 * Any thread. */
int rt_bucket_take(rt_bucket_t *b, int64_t now_us);

#endif
