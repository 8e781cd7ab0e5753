/*
 * test_sip_flood.c - the flood table of adapters/sip/sip_flood.c on its
 * own clock: a token bucket (burst, then the rate), requests that do not
 * count, an episode of refusals that ends when the bucket is full again,
 * a ban after ban_after refusals that drops every packet until it ends
 * or is lifted, trusted sources, a table bounded by eviction of the
 * oldest quiet source (never a ban), and the address texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip_flood.h"
#include "gw_errors.h"

static sip_flood_key_t key(const char *ip)
{
    sip_flood_key_t k;
    assert_int_equal(sip_flood_key_parse(ip, &k), 0);
    return k;
}

static sip_flood_limits_t limits(int rate, int burst, int ban_after, int ban_s)
{
    sip_flood_limits_t l = {rate, burst, ban_after, ban_s, NULL, NULL};
    return l;
}

/* n requests from k at now: how many passed. */
static int passed(sip_flood_t *t, const sip_flood_key_t *k, int n, int64_t now,
                  const sip_flood_limits_t *l)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += sip_flood_check(t, k, 1, now, l) == SIP_FLOOD_PASS;
    return ok;
}

static void test_the_burst_passes_then_the_rate(void **state)
{
    sip_flood_t *t = sip_flood_new(1024);
    sip_flood_key_t a = key("192.0.2.1"), b = key("192.0.2.2");
    sip_flood_limits_t l = limits(10, 5, 0, 60);
    (void)state;

    assert_non_null(t);
    assert_int_equal(passed(t, &a, 8, 1000, &l), 5);
    /* another source has its own bucket */
    assert_int_equal(passed(t, &b, 3, 1000, &l), 3);
    /* 10/s: one token per 100 ms */
    assert_int_equal(passed(t, &a, 3, 1100, &l), 1);
    assert_int_equal(passed(t, &a, 5, 1350, &l), 2);
    /* a second of quiet fills the bucket, not beyond the burst */
    assert_int_equal(passed(t, &a, 10, 5000, &l), 5);
    /* responses, ACK and CANCEL do not count, nor take a token */
    for (int i = 0; i < 10; i++)
        assert_int_equal(sip_flood_check(t, &b, 0, 1000, &l), SIP_FLOOD_PASS);
    assert_int_equal(passed(t, &b, 3, 1000, &l), 2);
    /* rate 0: no limit */
    l.rate = 0;
    assert_int_equal(passed(t, &a, 100, 5000, &l), 100);
    sip_flood_free(t);
}

static void test_ban_after_refusals_drops_everything_until_it_ends(void **state)
{
    sip_flood_t *t = sip_flood_new(1024);
    sip_flood_key_t a = key("198.51.100.7");
    sip_flood_limits_t l = limits(1, 2, 3, 10);
    (void)state;

    assert_int_equal(passed(t, &a, 2, 1000, &l), 2);
    assert_int_equal(sip_flood_check(t, &a, 1, 1000, &l), SIP_FLOOD_LIMIT);
    assert_int_equal(sip_flood_check(t, &a, 1, 1000, &l), SIP_FLOOD_LIMIT);
    assert_int_equal(sip_flood_nbans(t), 0);
    assert_int_equal(sip_flood_check(t, &a, 1, 1000, &l), SIP_FLOOD_BAN);
    assert_int_equal(sip_flood_nbans(t), 1);
    /* every packet now, responses too, even when the rate is off */
    assert_int_equal(sip_flood_check(t, &a, 1, 5000, &l), SIP_FLOOD_BANNED);
    assert_int_equal(sip_flood_check(t, &a, 0, 5000, &l), SIP_FLOOD_BANNED);
    l.rate = 0;
    assert_int_equal(sip_flood_check(t, &a, 1, 5000, &l), SIP_FLOOD_BANNED);
    l.rate = 1;
    /* ended at 11000: a full bucket again */
    assert_int_equal(sip_flood_check(t, &a, 1, 10999, &l), SIP_FLOOD_BANNED);
    assert_int_equal(passed(t, &a, 2, 11000, &l), 2);
    assert_int_equal(sip_flood_nbans(t), 0);
    sip_flood_free(t);
}

static void test_an_episode_ends_when_the_bucket_is_full_again(void **state)
{
    sip_flood_t *t = sip_flood_new(1024);
    sip_flood_key_t a = key("198.51.100.8");
    sip_flood_limits_t l = limits(1, 2, 3, 10);
    (void)state;

    assert_int_equal(passed(t, &a, 4, 1000, &l), 2); /* 2 refusals */
    /* 2 s of quiet: full, the count starts again */
    assert_int_equal(passed(t, &a, 4, 3000, &l), 2); /* 2 more, not 4 */
    assert_int_equal(sip_flood_nbans(t), 0);
    /* without a full bucket between them the refusals add up */
    assert_int_equal(passed(t, &a, 2, 4000, &l), 1);  /* 3rd: banned */
    assert_int_equal(sip_flood_nbans(t), 1);
    sip_flood_free(t);
}

static void count_ban(const sip_flood_ban_t *x, void *arg)
{
    assert_int_equal(x->until_ms - x->since_ms, 60000);
    ++*(int *)arg;
}

static void test_bans_are_listed_and_lifted(void **state)
{
    sip_flood_t *t = sip_flood_new(1024);
    sip_flood_key_t a = key("203.0.113.9"), b = key("2001:db8::1");
    sip_flood_limits_t l = limits(1, 1, 1, 60);
    int seen = 0;
    (void)state;

    assert_int_equal(passed(t, &a, 3, 1000, &l), 1);
    assert_int_equal(passed(t, &b, 2, 1000, &l), 1);
    assert_int_equal(sip_flood_check(t, &a, 1, 1000, &l), SIP_FLOOD_BANNED);
    assert_int_equal(sip_flood_bans(t, 2000, count_ban, &seen), 2);
    assert_int_equal(seen, 2);
    assert_int_equal(sip_flood_unban(t, &a, 2000), 0);
    assert_int_equal(sip_flood_unban(t, &a, 2000), GW_ENOTFOUND);
    assert_int_equal(sip_flood_nbans(t), 1);
    /* lifted with one token: the next request passes, a flood is refused */
    assert_int_equal(sip_flood_check(t, &a, 1, 2000, &l), SIP_FLOOD_PASS);
    assert_int_equal(sip_flood_check(t, &a, 1, 2000, &l), SIP_FLOOD_BAN);
    /* the list clears what ended */
    assert_int_equal(sip_flood_bans(t, 100000, NULL, NULL), 0);
    assert_int_equal(sip_flood_nbans(t), 0);
    sip_flood_free(t);
}

static int trusted_net(const sip_flood_key_t *k, void *arg)
{
    (void)arg;
    return k->a[12] == 10; /* 10.0.0.0/8 */
}

static void test_a_trusted_source_is_never_refused(void **state)
{
    sip_flood_t *t = sip_flood_new(1024);
    sip_flood_key_t a = key("10.1.2.3");
    sip_flood_limits_t l = limits(1, 1, 1, 60);
    (void)state;

    l.trusted = trusted_net;
    assert_int_equal(passed(t, &a, 1000, 1000, &l), 1000);
    assert_int_equal(sip_flood_nbans(t), 0);
    sip_flood_free(t);
}

static void test_the_table_is_bounded_and_keeps_its_bans(void **state)
{
    sip_flood_t *t = sip_flood_new(64); /* the least: 64 shards of 64 */
    sip_flood_limits_t l = limits(1, 1, 1, 600);
    sip_flood_key_t banned = key("192.0.2.200");
    char ip[32];
    (void)state;

    assert_int_equal(passed(t, &banned, 2, 1000, &l), 1);
    assert_int_equal(sip_flood_nbans(t), 1);
    /* 100000 other sources, each with a full bucket of its own */
    for (int i = 0; i < 100000; i++) {
        sip_flood_key_t k;
        snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        k = key(ip);
        assert_int_equal(sip_flood_check(t, &k, 1, 2000 + i, &l), SIP_FLOOD_PASS);
    }
    assert_int_equal(sip_flood_check(t, &banned, 1, 200000, &l), SIP_FLOOD_BANNED);
    assert_int_equal(sip_flood_bans(t, 200000, NULL, NULL), 1);
    sip_flood_free(t);
}

static void test_keys_read_and_print_both_families(void **state)
{
    sip_flood_key_t k;
    char s[64];
    (void)state;

    assert_int_equal(sip_flood_key_parse("127.0.0.5", &k), 0);
    sip_flood_key_text(&k, s, sizeof s);
    assert_string_equal(s, "127.0.0.5");
    assert_int_equal(sip_flood_key_parse("2001:db8::7", &k), 0);
    sip_flood_key_text(&k, s, sizeof s);
    assert_string_equal(s, "2001:db8::7");
    assert_int_equal(sip_flood_key_parse("not an address", &k), -1);
    assert_int_equal(sip_flood_key_parse("127.0.0.1/8", &k), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_burst_passes_then_the_rate),
        cmocka_unit_test(test_ban_after_refusals_drops_everything_until_it_ends),
        cmocka_unit_test(test_an_episode_ends_when_the_bucket_is_full_again),
        cmocka_unit_test(test_bans_are_listed_and_lifted),
        cmocka_unit_test(test_a_trusted_source_is_never_refused),
        cmocka_unit_test(test_the_table_is_bounded_and_keeps_its_bans),
        cmocka_unit_test(test_keys_read_and_print_both_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
