/*
 * test_sip_dns.c - the pure parts of RFC 3263 server location
 * (adapters/sip/sip_dns_rr.c): the NAPTR order and filter, the SRV order
 * (priority, then weighted random within one priority, checked over many
 * draws), the smallest TTL of a DNS message, numeric hosts, and the
 * cache (TTL floor and ceiling, expiry, negative entries, a full table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip_dns.h"

static sip_dns_rr_t naptr(int order, int pref, const char *flags, const char *svc, const char *repl)
{
    sip_dns_rr_t r;
    memset(&r, 0, sizeof r);
    r.order = (uint16_t)order;
    r.pref = (uint16_t)pref;
    strcpy(r.flags, flags);
    strcpy(r.service, svc);
    strcpy(r.name, repl);
    return r;
}

static sip_dns_rr_t srv(int prio, int weight, int port, const char *target)
{
    sip_dns_rr_t r;
    memset(&r, 0, sizeof r);
    r.prio = (uint16_t)prio;
    r.weight = (uint16_t)weight;
    r.port = (uint16_t)port;
    strcpy(r.name, target);
    return r;
}

static void test_naptr_by_order_then_preference_only_supported_terminal(void **state)
{
    sip_dns_rr_t rr[6];
    int out[6], k;
    (void)state;
    rr[0] = naptr(20, 10, "s", "SIP+D2T", "_sip._tcp.x");
    rr[1] = naptr(10, 50, "s", "SIP+D2U", "_sip._udp.x");
    rr[2] = naptr(5, 10, "s", "SIPS+D2T", "_sips._tcp.x"); /* no TLS in the mask */
    rr[3] = naptr(10, 20, "s", "SIP+D2T", "_sip._tcp2.x");
    rr[4] = naptr(1, 1, "a", "SIP+D2U", "x");              /* not terminal */
    rr[5] = naptr(1, 1, "s", "E2U+sip", "y");              /* not a SIP service */
    k = sip_dns_naptr_order(rr, 6, SIP_DNS_UDP | SIP_DNS_TCP, 0, out);
    assert_int_equal(k, 3);
    assert_int_equal(out[0], 3); /* order 10 pref 20 */
    assert_int_equal(out[1], 1); /* order 10 pref 50 */
    assert_int_equal(out[2], 0); /* order 20 */
    k = sip_dns_naptr_order(rr, 6, SIP_DNS_UDP | SIP_DNS_TCP | SIP_DNS_TLS, 1, out);
    assert_int_equal(k, 1); /* sips: SIPS+D2T only */
    assert_int_equal(out[0], 2);
    assert_int_equal(sip_dns_naptr_transport("sip+d2u"), SIP_DNS_UDP);
    assert_int_equal(sip_dns_naptr_transport("SIP+D2S"), 0);
}

static unsigned long seed = 12345;
static long lcg(void)
{
    seed = seed * 1103515245u + 12345u;
    return (long)((seed >> 1) & 0x7fffffff);
}

static void test_srv_by_priority_and_dot_left_out(void **state)
{
    sip_dns_rr_t rr[4];
    int out[4], k;
    (void)state;
    rr[0] = srv(20, 0, 5062, "c");
    rr[1] = srv(10, 5, 5060, "a");
    rr[2] = srv(30, 5, 5063, ".");
    rr[3] = srv(15, 5, 5061, "b");
    k = sip_dns_srv_order(rr, 4, lcg, out);
    assert_int_equal(k, 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 0);
}

static void test_srv_weights_pick_first_in_proportion_over_many_draws(void **state)
{
    sip_dns_rr_t rr[3];
    int first[3] = {0}, out[3];
    const int draws = 20000;
    (void)state;
    rr[0] = srv(10, 60, 1, "a");
    rr[1] = srv(10, 30, 2, "b");
    rr[2] = srv(10, 10, 3, "c");
    for (int i = 0; i < draws; i++) {
        int k = sip_dns_srv_order(rr, 3, lcg, out);
        assert_int_equal(k, 3);
        /* every record once */
        assert_int_not_equal(out[0], out[1]);
        assert_int_not_equal(out[1], out[2]);
        assert_int_not_equal(out[0], out[2]);
        first[out[0]]++;
    }
    /* expected 60 %, 30 %, 10 % first (sum+1 = 101 slots): within 2 points */
    assert_in_range(first[0], draws * 58 / 100, draws * 62 / 100);
    assert_in_range(first[1], draws * 28 / 100, draws * 32 / 100);
    assert_in_range(first[2], draws * 8 / 100, draws * 12 / 100);
}

static void test_srv_weight_zero_rarely_first_all_zero_uniform(void **state)
{
    sip_dns_rr_t rr[2];
    int first0 = 0, out[2];
    const int draws = 10000;
    (void)state;
    rr[0] = srv(1, 0, 1, "zero");
    rr[1] = srv(1, 100, 2, "heavy");
    for (int i = 0; i < draws; i++) {
        sip_dns_srv_order(rr, 2, lcg, out);
        first0 += out[0] == 0;
    }
    assert_in_range(first0, 1, draws * 3 / 100); /* 1 in 101 */
    rr[1].weight = 0;
    first0 = 0;
    for (int i = 0; i < draws; i++) {
        sip_dns_srv_order(rr, 2, lcg, out);
        first0 += out[0] == 0;
    }
    assert_in_range(first0, draws * 45 / 100, draws * 55 / 100);
}

/* A DNS response: header, question "a.b" A IN, one answer (ttl 300) and
 * one authority SOA-ish record (ttl 60). */
static void test_min_ttl_of_answer_and_authority(void **state)
{
    unsigned char m[] = {
        0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 1, 0, 0,
        1, 'a', 1, 'b', 0, 0, 1, 0, 1,
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 127, 0, 0, 1,
        0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 60, 0, 2, 0, 0,
    };
    (void)state;
    assert_int_equal(sip_dns_min_ttl(m, (int)sizeof m), 60);
    m[9] = 0; /* no authority record */
    assert_int_equal(sip_dns_min_ttl(m, (int)sizeof m), 300);
    m[7] = 0; /* no record at all */
    assert_int_equal(sip_dns_min_ttl(m, (int)sizeof m), -1);
    m[7] = 1;
    assert_int_equal(sip_dns_min_ttl(m, 30), -1); /* cut short */
}

static void test_numeric_hosts(void **state)
{
    struct sockaddr_storage sa;
    socklen_t len;
    (void)state;
    assert_int_equal(sip_dns_numeric("192.0.2.1", &sa, &len), 1);
    assert_int_equal(sa.ss_family, AF_INET);
    assert_int_equal(sip_dns_numeric("[2001:db8::1]", &sa, &len), 1);
    assert_int_equal(sa.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(sip_dns_numeric("example.com", &sa, &len), 0);
}

static void test_cache_ttl_expiry_floor_ceiling_and_negative(void **state)
{
    sip_dns_rr_t rr[SIP_DNS_MAX_RR], one = srv(1, 1, 5060, "h");
    (void)state;
    assert_int_equal(sip_dns_cache_init(64), 0);
    sip_dns_cache_put("_sip._udp.x", SIP_DNS_T_SRV, &one, 1, 10, 1, 3600, 1000);
    assert_int_equal(sip_dns_cache_get("_SIP._udp.X", SIP_DNS_T_SRV, rr, 1000 + 9999), 1);
    assert_int_equal(rr[0].port, 5060);
    assert_int_equal(sip_dns_cache_get("_sip._udp.x", SIP_DNS_T_A, rr, 1000), -1); /* other type */
    assert_int_equal(sip_dns_cache_get("_sip._udp.x", SIP_DNS_T_SRV, rr, 1000 + 10000), -1);
    assert_int_equal(sip_dns_cache_count(), 0); /* an expired entry goes */
    /* floor: ttl 0 kept 5 s; ceiling: a day kept 60 s */
    sip_dns_cache_put("a", SIP_DNS_T_A, &one, 1, 0, 5, 60, 0);
    assert_int_equal(sip_dns_cache_get("a", SIP_DNS_T_A, rr, 4999), 1);
    assert_int_equal(sip_dns_cache_get("a", SIP_DNS_T_A, rr, 5000), -1);
    sip_dns_cache_put("b", SIP_DNS_T_A, &one, 1, 86400, 5, 60, 0);
    assert_int_equal(sip_dns_cache_get("b", SIP_DNS_T_A, rr, 59999), 1);
    assert_int_equal(sip_dns_cache_get("b", SIP_DNS_T_A, rr, 60000), -1);
    /* negative */
    sip_dns_cache_put("nx", SIP_DNS_T_NAPTR, NULL, 0, 30, 1, 3600, 0);
    assert_int_equal(sip_dns_cache_get("nx", SIP_DNS_T_NAPTR, rr, 29999), 0);
    sip_dns_cache_flush();
    assert_int_equal(sip_dns_cache_get("nx", SIP_DNS_T_NAPTR, rr, 0), -1);
    sip_dns_cache_free();
}

static void test_cache_full_stays_bounded_and_keeps_answering(void **state)
{
    sip_dns_rr_t rr[SIP_DNS_MAX_RR], one = srv(1, 1, 5060, "h");
    char name[32];
    (void)state;
    assert_int_equal(sip_dns_cache_init(16), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        sip_dns_cache_put(name, SIP_DNS_T_A, &one, 1, 100 + i, 1, 3600, 0);
    }
    assert_in_range(sip_dns_cache_count(), 1, 16);
    assert_int_equal(sip_dns_cache_get("n999", SIP_DNS_T_A, rr, 0), 1); /* the last put is there */
    sip_dns_cache_free();
    sip_dns_cache_put("x", SIP_DNS_T_A, &one, 1, 1, 1, 1, 0); /* no table: ignored */
    assert_int_equal(sip_dns_cache_get("x", SIP_DNS_T_A, rr, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_naptr_by_order_then_preference_only_supported_terminal),
        cmocka_unit_test(test_srv_by_priority_and_dot_left_out),
        cmocka_unit_test(test_srv_weights_pick_first_in_proportion_over_many_draws),
        cmocka_unit_test(test_srv_weight_zero_rarely_first_all_zero_uniform),
        cmocka_unit_test(test_min_ttl_of_answer_and_authority),
        cmocka_unit_test(test_numeric_hosts),
        cmocka_unit_test(test_cache_ttl_expiry_floor_ceiling_and_negative),
        cmocka_unit_test(test_cache_full_stays_bounded_and_keeps_answering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
