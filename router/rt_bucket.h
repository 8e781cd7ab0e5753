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

/* Reserve the next token whether or not one is there now, and say when it
 * is due: now_us when a token was there (the same as a successful take),
 * else the later time (microseconds, rounded up) at which the bucket will
 * have filled it.  Reservations queue up: each one moves the bucket's
 * schedule on by one interval, so k reservations made at once fall due one
 * interval apart after the burst, and a caller that holds each message
 * until its time sends at the rate.  Any thread. */
int64_t rt_bucket_reserve(rt_bucket_t *b, int64_t now_us);

#endif
