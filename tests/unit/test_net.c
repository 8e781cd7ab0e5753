/*
 * test_net.c - IPv4 and IPv6 networks (gateway/gw_net.c): parsing with
 * clear refusals, host bits cleared, matching across families.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "gw_accounts.h"
#include "gw_errors.h"
#include "gw_net.h"

static void a_network_is_parsed_with_its_host_bits_cleared(void **state)
{
    gw_net_t n;
    char err[128], text[64];

    (void)state;
    assert_int_equal(gw_net_parse(" 192.0.2.77/24 ", &n, err, sizeof err), GW_OK);
    assert_int_equal(n.family, AF_INET);
    assert_int_equal(n.bits, 24);
    gw_net_format(&n, text, sizeof text);
    assert_string_equal(text, "192.0.2.0/24");
    assert_int_equal(gw_net_parse("2001:db8::1/32", &n, err, sizeof err), GW_OK);
    assert_int_equal(n.family, AF_INET6);
    gw_net_format(&n, text, sizeof text);
    assert_string_equal(text, "2001:db8::/32");
    assert_int_equal(gw_net_parse("::1", &n, err, sizeof err), GW_OK);
    assert_int_equal(n.bits, 128);
    assert_int_equal(gw_net_parse("10.1.2.3", &n, err, sizeof err), GW_OK);
    assert_int_equal(n.bits, 32);
}

static void bad_networks_are_refused_with_the_reason(void **state)
{
    gw_net_t n;
    char err[128];

    (void)state;
    assert_int_equal(gw_net_parse("10.0.0.0/33", &n, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "at most 32"));
    assert_int_equal(gw_net_parse("::/129", &n, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "at most 128"));
    assert_int_equal(gw_net_parse("10.0.0.0/x", &n, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "not a number"));
    assert_int_equal(gw_net_parse("10.0.0.0/", &n, err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_net_parse("10.0.0.0/-1", &n, err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_net_parse("example.com/8", &n, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "not an IPv4 or IPv6 address"));
    assert_int_equal(gw_net_parse("", &n, err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_net_parse(NULL, &n, err, sizeof err), GW_EINVAL);
}

static void addresses_match_their_own_family_and_mapped_ipv4(void **state)
{
    gw_net_t n4, n6, zero;
    char err[128];

    (void)state;
    assert_int_equal(gw_net_parse("127.0.0.0/8", &n4, err, sizeof err), GW_OK);
    assert_int_equal(gw_net_parse("fd00::/8", &n6, err, sizeof err), GW_OK);
    assert_int_equal(gw_net_parse("0.0.0.0/0", &zero, err, sizeof err), GW_OK);
    assert_true(gw_net_match(&n4, "127.0.0.1"));
    assert_true(gw_net_match(&n4, "127.255.1.2"));
    assert_false(gw_net_match(&n4, "128.0.0.1"));
    assert_true(gw_net_match(&n4, "::ffff:127.0.0.9"));
    assert_false(gw_net_match(&n4, "::1"));
    assert_true(gw_net_match(&n6, "fd12:3456::1"));
    assert_false(gw_net_match(&n6, "fe80::1"));
    assert_false(gw_net_match(&n6, "127.0.0.1"));
    assert_true(gw_net_match(&zero, "203.0.113.9"));
    assert_false(gw_net_match(&n4, "not an address"));
    assert_false(gw_net_match(&n4, NULL));
}

static void a_list_is_parsed_whole_or_refused_naming_the_bad_item(void **state)
{
    gw_net_t *list;
    size_t n;
    char err[128];

    (void)state;
    assert_int_equal(gw_net_list_parse("10.0.0.0/8, ::1 ,, 192.0.2.0/24,", &list, &n, err,
                                       sizeof err), GW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(gw_net_find(list, n, "::1"), 1);
    assert_int_equal(gw_net_find(list, n, "192.0.2.200"), 2);
    assert_int_equal(gw_net_find(list, n, "11.0.0.1"), -1);
    free(list);
    assert_int_equal(gw_net_list_parse("", &list, &n, err, sizeof err), GW_OK);
    assert_int_equal(n, 0);
    assert_null(list);
    assert_int_equal(gw_net_list_parse("10.0.0.0/8,garbage", &list, &n, err, sizeof err),
                     GW_EINVAL);
    assert_non_null(strstr(err, "garbage"));
    assert_null(list);
}

static void account_networks_take_ipv6_too(void **state)
{
    char err[128];

    (void)state;
    assert_true(gw_net_allowed("2001:db8::/32", "2001:db8:1::5"));
    assert_false(gw_net_allowed("2001:db8::/32", "2001:db9::5"));
    assert_true(gw_net_allowed("10.0.0.0/8, ::1", "::1"));
    assert_int_equal(gw_nets_check("10.0.0.0/8, ::1", err, sizeof err), GW_OK);
    assert_int_equal(gw_nets_check("10.0.0.0/8, 300.1.1.1", err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "300.1.1.1"));
}

/* A socket address becomes the same gw_net_addr_t as its text: IPv4,
 * IPv6, and a mapped IPv4 one as IPv4 (a dual-stack socket's peer). */
static void a_socket_address_is_read_as_its_text_would_be(void **state)
{
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    struct sockaddr other = {.sa_family = AF_UNIX};
    gw_net_addr_t a, b;
    gw_net_t net;
    (void)state;

    inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
    assert_int_equal(gw_net_addr_from_sa((struct sockaddr *)&s4, &a), GW_OK);
    assert_int_equal(gw_net_addr_parse("10.1.2.3", &b), GW_OK);
    assert_int_equal(a.family, AF_INET);
    assert_memory_equal(a.addr, b.addr, 4);
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
    assert_int_equal(gw_net_addr_from_sa((struct sockaddr *)&s6, &a), GW_OK);
    assert_int_equal(a.family, AF_INET);
    assert_memory_equal(a.addr, b.addr, 4);
    inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr);
    assert_int_equal(gw_net_addr_from_sa((struct sockaddr *)&s6, &a), GW_OK);
    assert_int_equal(gw_net_addr_parse("2001:db8::7", &b), GW_OK);
    assert_int_equal(a.family, AF_INET6);
    assert_memory_equal(a.addr, b.addr, 16);
    assert_int_equal(gw_net_parse("2001:db8::/32", &net, NULL, 0), GW_OK);
    assert_true(gw_net_holds(&net, &a));
    assert_int_equal(gw_net_addr_from_sa(&other, &a), GW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_network_is_parsed_with_its_host_bits_cleared),
        cmocka_unit_test(bad_networks_are_refused_with_the_reason),
        cmocka_unit_test(addresses_match_their_own_family_and_mapped_ipv4),
        cmocka_unit_test(a_list_is_parsed_whole_or_refused_naming_the_bad_item),
        cmocka_unit_test(account_networks_take_ipv6_too),
        cmocka_unit_test(a_socket_address_is_read_as_its_text_would_be),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
