/*
 * smpp_rate.c - the two pure pacing rules of client binds: how long a
 * lost or refused bind waits before its next attempt (exponential backoff
 * with jitter) and how fast one bind may send (a token bucket).
 *
 * Backoff: attempt 0 waits base, each further one twice the one before,
 * capped at max; the result is moved by up to +-20% (SMPP_RATE_JITTER_PCT)
 * so that the binds of many connectors that fell together (an SMSC
 * restart) do not all come back in the same millisecond.  The randomness
 * is passed in, so the rule is testable.
 *
 * Token bucket: rate tokens a second, at most burst held; one token per
 * submit_sm.  Time is passed in (microseconds, any monotonic origin); a
 * bucket starts full.  It is the same rule as the core's per-connector
 * throughput bucket (gateway/gw_cq.c), kept here so a bind has its own.
 *
 * Threads: any (pure; a bucket belongs to its caller).
 */
#include "smpp.h"

int64_t smpp_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt, uint32_t rnd)
{
    int64_t d = base_ms, span;

    if (d <= 0)
        return 0;
    if (max_ms < base_ms)
        max_ms = base_ms;
    for (int i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    span = d * SMPP_RATE_JITTER_PCT / 100;
    return d - span + (int64_t)(rnd % (uint32_t)(2 * span + 1));
}

void smpp_tb_init(smpp_tb_t *tb, double rate)
{
    tb->rate = rate > 0 ? rate : 0;
    tb->burst = rate / 20 > 1 ? rate / 20 : 1; /* a twentieth of a second, at least one */
    tb->tokens = tb->burst;
    tb->at_us = -1;
}

/* Refill tb up to now_us. */
static void smpp_tb_fill(smpp_tb_t *tb, int64_t now_us)
{
    if (tb->at_us >= 0 && now_us > tb->at_us)
        tb->tokens += (double)(now_us - tb->at_us) * tb->rate / 1e6;
    if (tb->tokens > tb->burst)
        tb->tokens = tb->burst;
    if (tb->at_us < 0 || now_us > tb->at_us)
        tb->at_us = now_us;
}

int smpp_tb_take(smpp_tb_t *tb, int64_t now_us)
{
    if (tb->rate <= 0)
        return 1; /* no limit */
    smpp_tb_fill(tb, now_us);
    if (tb->tokens < 1)
        return 0;
    tb->tokens -= 1;
    return 1;
}

int64_t smpp_tb_wait_us(smpp_tb_t *tb, int64_t now_us)
{
    if (tb->rate <= 0)
        return 0;
    smpp_tb_fill(tb, now_us);
    if (tb->tokens >= 1)
        return 0;
    return (int64_t)((1 - tb->tokens) * 1e6 / tb->rate) + 1;
}
