/*
 * test_sip_addr.c - the SIP adapter's transport addresses
 * (adapters/sip/sip_addr.c): IPv4 and IPv6 literals in and out of their
 * text forms (ip, host with [] for IPv6, "ip:port"), comparison, a
 * binding's source "udp:1.2.3.4:5060", and the transport of a proxy
 * target URI (;transport=, sips:).
 *
 * Single-threaded; no daemon, no sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "adapters/sip/sip_proxy.h"

static void test_ipv4_host_round_trips(void **state)
{
    sip_sa_t a;
    char out[SIP_ADDR_MAX];
    (void)state;
    assert_int_equal(sip_sa_from_host("192.0.2.1", 9, 5060, &a), 0);
    assert_int_equal(a.sa.sa_family, AF_INET);
    assert_int_equal(sip_sa_port(&a), 5060);
    assert_string_equal(sip_sa_ip(&a, out, sizeof out), "192.0.2.1");
    assert_string_equal(sip_sa_host(&a, out, sizeof out), "192.0.2.1");
    assert_string_equal(sip_sa_str(&a, out, sizeof out), "192.0.2.1:5060");
    assert_int_equal(sip_sa_len(&a), sizeof(struct sockaddr_in));
}

static void test_ipv6_takes_brackets_in_host_and_str_not_in_ip(void **state)
{
    sip_sa_t a, b;
    char out[SIP_ADDR_MAX];
    (void)state;
    assert_int_equal(sip_sa_from_host("[2001:db8::1]", 13, 5070, &a), 0);
    assert_int_equal(sip_sa_from_host("2001:DB8:0::1", 13, 5070, &b), 0);
    assert_int_equal(a.sa.sa_family, AF_INET6);
    assert_true(sip_sa_equal(&a, &b));
    assert_string_equal(sip_sa_ip(&a, out, sizeof out), "2001:db8::1");
    assert_string_equal(sip_sa_host(&a, out, sizeof out), "[2001:db8::1]");
    assert_string_equal(sip_sa_str(&a, out, sizeof out), "[2001:db8::1]:5070");
    assert_int_equal(sip_sa_len(&a), sizeof(struct sockaddr_in6));
    sip_sa_set_port(&b, 5071);
    assert_false(sip_sa_equal(&a, &b));
    assert_true(sip_sa_same_ip(&a, &b));
}

static void test_names_and_bad_literals_are_refused(void **state)
{
    sip_sa_t a;
    (void)state;
    assert_int_equal(sip_sa_from_host("example.com", 11, 5060, &a), -1);
    assert_int_equal(sip_sa_from_host("[::1", 4, 5060, &a), -1);
    assert_int_equal(sip_sa_from_host("1.2.3.4", 7, 70000, &a), -1);
    assert_int_equal(sip_sa_from_host("", 0, 5060, &a), -1);
    assert_int_equal(sip_sa_parse("::1:5060", &a), -1); /* IPv6 with a port needs [] */
    assert_int_equal(sip_sa_parse("1.2.3.4", &a), -1);
    assert_int_equal(sip_sa_parse("1.2.3.4:0", &a), -1);
    assert_int_equal(sip_sa_parse("1.2.3.4:5060x", &a), -1);
}

static void test_ip_port_text_parses_both_families(void **state)
{
    sip_sa_t a;
    char out[SIP_ADDR_MAX];
    (void)state;
    assert_int_equal(sip_sa_parse("127.0.0.1:5099", &a), 0);
    assert_string_equal(sip_sa_str(&a, out, sizeof out), "127.0.0.1:5099");
    assert_int_equal(sip_sa_parse("[::1]:5099", &a), 0);
    assert_int_equal(a.sa.sa_family, AF_INET6);
    assert_string_equal(sip_sa_str(&a, out, sizeof out), "[::1]:5099");
}

static void test_a_bindings_source_names_its_transport(void **state)
{
    sip_sa_t a, b;
    int proto = -1;
    char out[96];
    (void)state;
    assert_int_equal(sip_source_parse("tcp:[::1]:40001", &proto, &a), 0);
    assert_int_equal(proto, SIP_PROTO_TCP);
    assert_string_equal(sip_source_format(proto, &a, out, sizeof out), "tcp:[::1]:40001");
    assert_int_equal(sip_source_parse("UDP:10.1.2.3:5060", &proto, &b), 0);
    assert_int_equal(proto, SIP_PROTO_UDP);
    assert_string_equal(sip_source_format(proto, &b, out, sizeof out), "udp:10.1.2.3:5060");
    assert_int_equal(sip_source_parse("sctp:10.1.2.3:5060", &proto, &b), -1);
    assert_int_equal(sip_source_parse("10.1.2.3:5060", &proto, &b), -1);
    assert_string_equal(sip_proto_name(SIP_PROTO_TLS), "tls");
}

static void test_host_of_ip_brackets_ipv6_once(void **state)
{
    char out[SIP_ADDR_MAX];
    (void)state;
    assert_string_equal(sip_host_of_ip("::1", out, sizeof out), "[::1]");
    assert_string_equal(sip_host_of_ip("[::1]", out, sizeof out), "[::1]");
    assert_string_equal(sip_host_of_ip("10.0.0.1", out, sizeof out), "10.0.0.1");
}

static void test_proxy_uri_knows_ipv6_literals_and_transport(void **state)
{
    sip_px_uri_t u;
    static const char a[] = "sip:bob@[::1]:5080;transport=TCP;lr";
    static const char b[] = "sips:bob@192.0.2.7";
    static const char c[] = "sip:bob@example.com;transport=udp";
    (void)state;
    assert_int_equal(sip_px_uri_parse(a, sizeof a - 1, &u), 0);
    assert_string_equal(u.host, "[::1]");
    assert_int_equal(u.port, 5080);
    assert_true(u.ip);
    assert_false(u.ipv4);
    assert_true(u.lr);
    assert_int_equal(u.proto, SIP_PROTO_TCP);
    assert_int_equal(sip_px_uri_parse(b, sizeof b - 1, &u), 0);
    assert_true(u.ip);
    assert_int_equal(u.proto, SIP_PROTO_TLS);
    assert_int_equal(sip_px_uri_parse(c, sizeof c - 1, &u), 0);
    assert_false(u.ip);
    assert_int_equal(u.proto, SIP_PROTO_UDP);
}

static void test_self_matches_an_ipv6_written_otherwise(void **state)
{
    sip_px_self_t self = {.naddr = 1, .port = 5060};
    sip_px_uri_t u;
    static const char a[] = "sip:[0:0::1]:5060;lr";
    (void)state;
    strcpy(self.addr[0], "[::1]");
    assert_int_equal(sip_px_uri_parse(a, sizeof a - 1, &u), 0);
    assert_true(sip_px_is_self(&self, &u, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_host_round_trips),
        cmocka_unit_test(test_ipv6_takes_brackets_in_host_and_str_not_in_ip),
        cmocka_unit_test(test_names_and_bad_literals_are_refused),
        cmocka_unit_test(test_ip_port_text_parses_both_families),
        cmocka_unit_test(test_a_bindings_source_names_its_transport),
        cmocka_unit_test(test_host_of_ip_brackets_ipv6_once),
        cmocka_unit_test(test_proxy_uri_knows_ipv6_literals_and_transport),
        cmocka_unit_test(test_self_matches_an_ipv6_written_otherwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
