/*
 * test_sip_nat.c - the pure pieces of NAT handling and of bad input
 * (adapters/sip/sip_natping.c, sip_message.c): private addresses, the
 * nathelper-style detection of a binding behind a NAT, UDP keep-alives
 * told from messages, and the broken request lines answered 400 / 505.
 * No network; one thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip.h"

#define TXT(s) (s), sizeof(s) - 1

static void test_private_ranges_are_rfc1918_rfc6598_and_link_local(void **s)
{
    (void)s;
    assert_true(sip_nat_private("10.0.0.1"));
    assert_true(sip_nat_private("172.16.0.1"));
    assert_true(sip_nat_private("172.31.255.254"));
    assert_false(sip_nat_private("172.32.0.1"));
    assert_false(sip_nat_private("172.15.255.255"));
    assert_true(sip_nat_private("192.168.1.20"));
    assert_false(sip_nat_private("192.169.0.1"));
    assert_true(sip_nat_private("100.64.0.9"));
    assert_true(sip_nat_private("100.127.255.255"));
    assert_false(sip_nat_private("100.128.0.1"));
    assert_true(sip_nat_private("169.254.3.4"));
    assert_false(sip_nat_private("192.0.2.1"));
    assert_false(sip_nat_private("127.0.0.1"));
    assert_false(sip_nat_private("example.com"));
    assert_false(sip_nat_private(NULL));
    /* IPv6: unique local fc00::/7 and link local fe80::/10 */
    assert_true(sip_nat_private("fd12:3456::1"));
    assert_true(sip_nat_private("fe80::1"));
    assert_false(sip_nat_private("2001:db8::1"));
    assert_false(sip_nat_private("::1"));
}

static void test_nat_detect_flags_a_contact_other_than_the_source(void **s)
{
    (void)s;
    /* a private contact from anywhere */
    assert_true(sip_nat_detect("sip:bob@192.168.1.20:5062", "udp:203.0.113.5:40000"));
    /* a public contact that is not the source: address or port */
    assert_true(sip_nat_detect("sip:bob@198.51.100.7:5060", "udp:203.0.113.5:5060"));
    assert_true(sip_nat_detect("sip:bob@203.0.113.5:5060", "udp:203.0.113.5:40000"));
    assert_true(sip_nat_detect("sip:bob@203.0.113.5", "udp:203.0.113.5:40000"));
    /* the contact is where it came from: no NAT (5060 when no port) */
    assert_false(sip_nat_detect("sip:bob@203.0.113.5:40000", "udp:203.0.113.5:40000"));
    assert_false(sip_nat_detect("sip:bob@203.0.113.5;transport=udp", "udp:203.0.113.5:5060"));
    assert_false(sip_nat_detect("sip:bob@127.0.0.1:5070", "tcp:127.0.0.1:5070"));
    /* a host name cannot be compared: taken as it is */
    assert_false(sip_nat_detect("sip:bob@phone.example.com", "udp:203.0.113.5:5060"));
    assert_false(sip_nat_detect("not a uri", "udp:203.0.113.5:5060"));
    assert_false(sip_nat_detect(NULL, "udp:203.0.113.5:5060"));
    /* IPv6 contacts and sources */
    assert_false(sip_nat_detect("sip:bob@[2001:db8::7]:5062", "udp:[2001:db8::7]:5062"));
    assert_true(sip_nat_detect("sip:bob@[2001:db8::7]:5062", "udp:[2001:db8::9]:5062"));
    assert_true(sip_nat_detect("sip:bob@[fd00::7]:5062", "udp:[2001:db8::9]:40000"));
}

static void test_keepalives_are_crlf_or_four_byte_pings_only(void **s)
{
    (void)s;
    assert_true(sip_is_keepalive(TXT("\r\n\r\n")));
    assert_true(sip_is_keepalive(TXT("\r\n")));
    assert_true(sip_is_keepalive(TXT("\n")));
    assert_true(sip_is_keepalive("\0\0\0\0", 4));
    assert_true(sip_is_keepalive("\xff\xff\xff\xff", 4));
    assert_false(sip_is_keepalive("", 0));
    assert_false(sip_is_keepalive("\0\0\0", 3));
    assert_false(sip_is_keepalive(TXT("\r\n \r\n")));
    assert_false(sip_is_keepalive(TXT("OPTIONS sip:a SIP/2.0\r\n\r\n")));
}

static void test_broken_request_lines_are_400_and_other_versions_505(void **s)
{
    const char *reason = NULL;
    (void)s;
    /* RFC 4475 3.1.2.7 lwsruri, 3.1.2.8 lwsstart, 3.1.2.9 trws */
    assert_int_equal(sip_bad_request_line(TXT("INVITE sip:user@example.com; lr SIP/2.0\r\n"), &reason), 400);
    assert_string_equal(reason, "Bad Request-Line");
    assert_int_equal(sip_bad_request_line(TXT("INVITE  sip:user@example.com  SIP/2.0\r\n"), &reason), 400);
    assert_int_equal(sip_bad_request_line(TXT("OPTIONS sip:r@example.com SIP/2.0  \r\n"), &reason), 400);
    /* 3.1.2.16 badvers */
    assert_int_equal(sip_bad_request_line(TXT("OPTIONS sip:t.watson@example.org SIP/7.0\r\n"), &reason), 505);
    assert_string_equal(reason, "Version Not Supported");
    /* not meant as a request line: dropped */
    assert_int_equal(sip_bad_request_line(TXT("hello world\r\n"), &reason), 0);
    assert_int_equal(sip_bad_request_line(TXT("INVITE sip:bob@example.com SIP/2.0"), &reason), 0);
    assert_int_equal(sip_bad_request_line(TXT("SIP/2.0 200 OK\r\n"), &reason), 0);
    assert_int_equal(sip_bad_request_line(TXT("GET /index.html HTTP/1.1\r\n"), &reason), 0);
    assert_int_equal(sip_bad_request_line(TXT("\r\n"), &reason), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_ranges_are_rfc1918_rfc6598_and_link_local),
        cmocka_unit_test(test_nat_detect_flags_a_contact_other_than_the_source),
        cmocka_unit_test(test_keepalives_are_crlf_or_four_byte_pings_only),
        cmocka_unit_test(test_broken_request_lines_are_400_and_other_versions_505),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
