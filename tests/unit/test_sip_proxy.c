/*
 * test_sip_proxy.c - the proxy's pure parts (adapters/sip/sip_proxy_route.c,
 * sip_proxy_fwd.c): URIs and "is this us", the fork order by q, the best
 * final response, the loop hash, the forwarded request's bytes (Via,
 * Max-Forwards, Record-Route, Request-URI, Path as Route), the strict-
 * router rewrite, a response with our Via removed and where it goes, the
 * CANCEL and the ACK of a branch, the stateless mode's branch.
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
#include "gateway/gw_errors.h"

static const char SIP_T_INVITE[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=f1\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: c1@10.0.0.1\r\n"
    "CSeq: 7 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1>\r\n"
    "Content-Length: 0\r\n\r\n";

static sip_view_t view;

static const sip_view_t *parse(const char *text)
{
    assert_int_equal(sip_view_parse(&view, text, strlen(text), 0), 0);
    return &view;
}

static sip_px_self_t self(void)
{
    sip_px_self_t s = {.naddr = 1, .port = 5080};
    strcpy(s.addr[0], "192.0.2.1");
    return s;
}

static void test_uri_parse_reads_user_host_port_and_lr(void **state)
{
    sip_px_uri_t u;
    const char *s = "sip:Alice:pw@EXAMPLE.com:5070;transport=udp;lr?X=1";
    (void)state;
    assert_int_equal(sip_px_uri_parse(s, strlen(s), &u), 0);
    assert_string_equal(u.user, "Alice");
    assert_string_equal(u.host, "example.com");
    assert_int_equal(u.port, 5070);
    assert_int_equal(u.lr, 1);
    assert_int_equal(u.ipv4, 0);
    s = "sip:192.0.2.1";
    assert_int_equal(sip_px_uri_parse(s, strlen(s), &u), 0);
    assert_int_equal(u.ipv4, 1);
    assert_int_equal(u.port, 0);
    assert_int_equal(u.lr, 0);
    s = "tel:+4915112345678";
    assert_int_equal(sip_px_uri_parse(s, strlen(s), &u), -1);
    /* RFC 4475 3.1.1.2: a user part with '?', ';' and ':' ends at the last '@' */
    s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
        "(doesn't-it)@example.com";
    assert_int_equal(sip_px_uri_parse(s, strlen(s), &u), 0);
    assert_string_equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert_string_equal(u.host, "example.com");
}

/* The same bytes parsed again (the proxy asks several times per request)
 * give the same answer, and other bytes theirs: the thread's memo of the
 * last parse is keyed by every byte, failures and long URIs included. */
static void test_uri_parse_again_gives_each_uri_its_own_answer(void **state)
{
    sip_px_uri_t u;
    char big[400], same[64];
    const char *a = "sip:bob@192.0.2.7:5071;lr", *b = "sip:bob@192.0.2.8:5071";
    (void)state;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(sip_px_uri_parse(a, strlen(a), &u), 0);
        assert_string_equal(u.host, "192.0.2.7");
        assert_int_equal(u.lr, 1);
        assert_int_equal(sip_px_uri_parse(b, strlen(b), &u), 0);
        assert_string_equal(u.host, "192.0.2.8");
        assert_int_equal(u.lr, 0);
        assert_int_equal(sip_px_uri_parse("tel:+4915", 9, &u), -1);
        assert_int_equal(sip_px_uri_parse("tel:+4915", 9, &u), -1);
    }
    /* a prefix of the last one is another URI */
    assert_int_equal(sip_px_uri_parse(a, strlen(a), &u), 0);
    assert_int_equal(sip_px_uri_parse(a, strlen(a) - 3, &u), 0);
    assert_int_equal(u.lr, 0);
    /* the same bytes at another address */
    snprintf(same, sizeof same, "%s", a);
    assert_int_equal(sip_px_uri_parse(same, strlen(same), &u), 0);
    assert_int_equal(u.lr, 1);
    /* longer than the memo keeps: parsed each time */
    memset(big, 'a', sizeof big);
    memcpy(big, "sip:", 4);
    memcpy(big + 300, "@192.0.2.9", 10);
    assert_int_equal(sip_px_uri_parse(big, 310, &u), -1); /* a user of 296 octets is too long */
    assert_int_equal(sip_px_uri_parse(big + 296, 14, &u), -1); /* "aaaa@192..." has no scheme */
    assert_int_equal(sip_px_uri_parse(b, strlen(b), &u), 0);
    assert_string_equal(u.host, "192.0.2.8");
}

static void test_self_needs_our_port_unless_any_port(void **state)
{
    sip_px_self_t s = self();
    sip_px_uri_t u;
    (void)state;
    assert_int_equal(sip_px_uri_parse("sip:192.0.2.1:5080;lr", 21, &u), 0);
    assert_int_equal(sip_px_is_self(&s, &u, 0), 1);
    assert_int_equal(sip_px_uri_parse("sip:192.0.2.1;lr", 16, &u), 0);
    assert_int_equal(sip_px_is_self(&s, &u, 0), 0); /* 5060 is not ours */
    assert_int_equal(sip_px_is_self(&s, &u, 1), 1);
    assert_int_equal(sip_px_uri_parse("sip:192.0.2.2:5080", 18, &u), 0);
    assert_int_equal(sip_px_is_self(&s, &u, 1), 0);
}

static void test_order_by_decreasing_q_groups_equal_q_in_parallel(void **state)
{
    int q[] = {500, -1, 1000, 500, 100}, order[5], group[5];
    (void)state;
    assert_int_equal(sip_px_order(q, 5, order, group), 3);
    /* q none (1.0) and 1.0 first in their order, then the two 0.5, then 0.1 */
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 0);
    assert_int_equal(order[3], 3);
    assert_int_equal(order[4], 4);
    assert_int_equal(group[0], 0);
    assert_int_equal(group[1], 0);
    assert_int_equal(group[2], 1);
    assert_int_equal(group[3], 1);
    assert_int_equal(group[4], 2);
}

static void test_best_response_6xx_wins_then_lowest_class_auth_first(void **state)
{
    int a[] = {486, 603, 302}, b[] = {503, 486, 408}, c[] = {404, 407, 500}, d[] = {500, 302},
        e[] = {408, 408};
    (void)state;
    assert_int_equal(sip_px_best(a, 3), 1);
    assert_int_equal(sip_px_best(b, 3), 1); /* 4xx before 5xx; the first 4xx */
    assert_int_equal(sip_px_best(c, 3), 1); /* a challenge before another 4xx */
    assert_int_equal(sip_px_best(d, 2), 1);
    assert_int_equal(sip_px_best(e, 2), 0);
    assert_int_equal(sip_px_best(e, 0), -1);
}

static void test_build_puts_via_rr_ruri_and_lowers_max_forwards(void **state)
{
    const sip_view_t *v = parse(SIP_T_INVITE);
    sip_px_fwd_t f = {.ruri = "sip:bob@10.0.0.9:5062",
                      .via = "SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK-jp0-1-2;rport",
                      .rr = "<sip:192.0.2.1:5080;lr>"};
    char out[2048];
    long n;
    sip_view_t v2;
    sip_view_via_t via;
    (void)state;
    n = sip_px_build(v, &f, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(sip_view_parse(&v2, out, (size_t)n, 0), 0);
    assert_true(sip_view_eq(&v2, v2.ruri, "sip:bob@10.0.0.9:5062"));
    assert_int_equal(v2.max_forwards, 69);
    assert_int_equal(sip_view_num(&v2, SIP_H_VIA), 2);
    assert_int_equal(sip_view_via(&v2, 0, &via), 0);
    assert_true(sip_view_eq(&v2, via.branch, "z9hG4bK-jp0-1-2"));
    assert_int_equal(sip_view_via(&v2, 1, &via), 0);
    assert_true(sip_view_eq(&v2, via.branch, "z9hG4bK-a1"));
    assert_non_null(strstr(out, "\r\nRecord-Route: <sip:192.0.2.1:5080;lr>\r\n"));
    assert_int_equal(sip_view_num(&v2, SIP_H_ROUTE), 0);
}

static void test_build_removes_our_route_and_puts_path_on_top(void **state)
{
    static const char req[] =
        "BYE sip:bob@10.0.0.9:5062 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-b1\r\n"
        "Route: <sip:192.0.2.1:5080;lr>, <sip:edge2.example.com;lr>\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\n"
        "To: <sip:bob@example.com>;tag=t1\r\n"
        "Call-ID: c2\r\n"
        "CSeq: 8 BYE\r\n"
        "Content-Length: 0\r\n\r\n";
    const sip_view_t *v = parse(req);
    sip_px_fwd_t f = {.via = "SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK-jp1-1-2",
                      .del_top_route = 1, .path = "<sip:edge.example.com;lr>"};
    char out[2048];
    long n;
    sip_view_t v2;
    sip_view_addr_t a;
    (void)state;
    n = sip_px_build(v, &f, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(sip_view_parse(&v2, out, (size_t)n, 0), 0);
    assert_int_equal(v2.max_forwards, 70); /* none given: 70 after this hop */
    assert_int_equal(sip_view_num(&v2, SIP_H_ROUTE), 2);
    assert_int_equal(sip_view_route(&v2, 0, &a), 0);
    assert_true(sip_view_eq(&v2, a.uri, "sip:edge.example.com;lr"));
    assert_int_equal(sip_view_route(&v2, 1, &a), 0);
    assert_true(sip_view_eq(&v2, a.uri, "sip:edge2.example.com;lr"));
    assert_null(strstr(out, "192.0.2.1:5080;lr"));
}

static void test_strict_rewrite_takes_the_last_route_as_request_uri(void **state)
{
    static const char req[] =
        "BYE sip:192.0.2.1:5080 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-s1\r\n"
        "Route: <sip:p2.example.com>\r\n"
        "Route: <sip:p3.example.com>, <sip:bob@10.0.0.9:5062>\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\n"
        "To: <sip:bob@example.com>;tag=t1\r\n"
        "Call-ID: c3\r\n"
        "CSeq: 9 BYE\r\n"
        "Content-Length: 0\r\n\r\n";
    const sip_view_t *v = parse(req);
    char out[2048];
    long n;
    sip_view_t v2;
    (void)state;
    n = sip_px_strict_rewrite(v, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(sip_view_parse(&v2, out, (size_t)n, 0), 0);
    assert_true(sip_view_eq(&v2, v2.ruri, "sip:bob@10.0.0.9:5062"));
    assert_int_equal(sip_view_num(&v2, SIP_H_ROUTE), 2);
    assert_non_null(strstr(out, "\r\nRoute: <sip:p3.example.com>\r\n"));
    parse(SIP_T_INVITE);
    assert_int_equal(sip_px_strict_rewrite(&view, out, sizeof out), SIP_VE_NOT_FOUND);
}

static void test_loop_is_our_via_with_the_same_hash_a_spiral_is_not(void **state)
{
    sip_px_self_t s = self();
    char req[1024], hash[16];
    const sip_view_t *v = parse(SIP_T_INVITE);
    (void)state;
    snprintf(hash, sizeof hash, "%08x", sip_px_loop_hash(v));
    assert_int_equal(sip_px_looped(v, &s), 0);
    /* the same request back with our Via under another hop's */
    snprintf(req, sizeof req,
             "INVITE sip:bob@example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-x\r\n"
             "Via: SIP/2.0/UDP 192.0.2.1:5080;branch=" SIP_PROXY_BRANCH_PREFIX "0-%s-abcd\r\n"
             "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport\r\n"
             "Max-Forwards: 68\r\nFrom: <sip:alice@example.com>;tag=f1\r\n"
             "To: <sip:bob@example.com>\r\nCall-ID: c1@10.0.0.1\r\nCSeq: 7 INVITE\r\n"
             "Content-Length: 0\r\n\r\n",
             hash);
    assert_int_equal(sip_px_looped(parse(req), &s), 1);
    /* a spiral: the Request-URI changed, so the hash does */
    memcpy(strstr(req, "sip:bob@example.com"), "sip:bob@example.org", 19);
    assert_int_equal(sip_px_looped(parse(req), &s), 0);
}

static void test_response_strip_and_next_via_destination(void **state)
{
    static const char resp[] =
        "SIP/2.0 180 Ringing\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK-jp0-1-2;rport\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport=40000;received=198.51.100.7\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\n"
        "To: <sip:bob@example.com>;tag=t1\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
    const sip_view_t *v = parse(resp);
    sip_sa_t sa;
    char out[1024], ip[INET6_ADDRSTRLEN];
    long n;
    (void)state;
    assert_int_equal(sip_px_via_dest(v, 1, &sa), 0);
    sip_sa_ip(&sa, ip, sizeof ip);
    assert_string_equal(ip, "198.51.100.7");
    assert_int_equal(sip_sa_port(&sa), 40000);
    n = sip_px_resp_strip(v, out, sizeof out);
    assert_true(n > 0);
    out[n] = '\0';
    assert_null(strstr(out, "jp0"));
    assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;"));
}

static void test_cancel_and_ack_of_a_branch(void **state)
{
    static const char fwd[] =
        "INVITE sip:bob@10.0.0.9:5062 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK-jp0-1-2;rport\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport\r\n"
        "Route: <sip:edge.example.com;lr>\r\n"
        "Max-Forwards: 69\r\nFrom: <sip:alice@example.com>;tag=f1\r\n"
        "To: <sip:bob@example.com>\r\nCall-ID: c1@10.0.0.1\r\nCSeq: 7 INVITE\r\n"
        "Content-Length: 0\r\n\r\n";
    static const char resp[] =
        "SIP/2.0 486 Busy Here\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK-jp0-1-2;rport\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\n"
        "To: <sip:bob@example.com>;tag=busy\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
    sip_view_t fv, rv;
    char out[1024];
    long n;
    (void)state;
    assert_int_equal(sip_view_parse(&fv, fwd, strlen(fwd), 0), 0);
    n = sip_px_build_cancel_ack(&fv, NULL, out, sizeof out);
    assert_true(n > 0);
    out[n] = '\0';
    assert_string_equal(out,
                        "CANCEL sip:bob@10.0.0.9:5062 SIP/2.0\r\n"
                        "Via: SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK-jp0-1-2;rport\r\n"
                        "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=f1\r\n"
                        "To: <sip:bob@example.com>\r\nCall-ID: c1@10.0.0.1\r\nCSeq: 7 CANCEL\r\n"
                        "Route: <sip:edge.example.com;lr>\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(sip_view_parse(&rv, resp, strlen(resp), 0), 0);
    n = sip_px_build_cancel_ack(&fv, &rv, out, sizeof out);
    assert_true(n > 0);
    out[n] = '\0';
    assert_non_null(strstr(out, "ACK sip:bob@10.0.0.9:5062 SIP/2.0\r\n"));
    assert_non_null(strstr(out, "\r\nTo: <sip:bob@example.com>;tag=busy\r\n"));
    assert_non_null(strstr(out, "\r\nCSeq: 7 ACK\r\n"));
}

/* Stateless mode (16.11): the branch is a function of the request, the same
 * for a retransmission and for the INVITE's CANCEL and non-2xx ACK (same
 * top Via), another for a new transaction; without the magic cookie the
 * other inputs count. */
static void test_stateless_branch_same_for_retransmission_cancel_and_ack(void **state)
{
    char inv[40], again[40], can[40], ack[40], other[40], old1[40], old2[40];
    (void)state;

    assert_int_equal(sip_px_sl_branch(parse(SIP_T_INVITE), inv, sizeof inv), 0);
    assert_int_equal(strncmp(inv, SIP_PROXY_SL_PREFIX, strlen(SIP_PROXY_SL_PREFIX)), 0);
    assert_int_equal(strlen(inv), strlen(SIP_PROXY_SL_PREFIX) + 16);
    assert_int_equal(sip_px_sl_branch(parse(SIP_T_INVITE), again, sizeof again), 0);
    assert_string_equal(inv, again);
    assert_int_equal(sip_px_sl_branch(parse("CANCEL sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 7 CANCEL\r\nContent-Length: 0\r\n\r\n"), can, sizeof can), 0);
    assert_string_equal(inv, can);
    assert_int_equal(sip_px_sl_branch(parse("ACK sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a1;rport\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=t9\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"), ack, sizeof ack), 0);
    assert_string_equal(inv, ack);
    assert_int_equal(sip_px_sl_branch(parse("BYE sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a2;rport\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=t9\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 8 BYE\r\nContent-Length: 0\r\n\r\n"), other, sizeof other), 0);
    assert_string_not_equal(inv, other);
    /* RFC 2543 branch: the To tag, Call-ID, CSeq number, ... count */
    assert_int_equal(sip_px_sl_branch(parse("OPTIONS sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=1\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"), old1, sizeof old1), 0);
    assert_int_equal(sip_px_sl_branch(parse("OPTIONS sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=1\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
        "Call-ID: c1@10.0.0.1\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n"), old2, sizeof old2), 0);
    assert_string_not_equal(old1, old2);
    assert_int_equal(sip_px_sl_branch(parse(SIP_T_INVITE), inv, 20), GW_EINVAL); /* too small */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_parse_reads_user_host_port_and_lr),
        cmocka_unit_test(test_uri_parse_again_gives_each_uri_its_own_answer),
        cmocka_unit_test(test_self_needs_our_port_unless_any_port),
        cmocka_unit_test(test_order_by_decreasing_q_groups_equal_q_in_parallel),
        cmocka_unit_test(test_best_response_6xx_wins_then_lowest_class_auth_first),
        cmocka_unit_test(test_build_puts_via_rr_ruri_and_lowers_max_forwards),
        cmocka_unit_test(test_build_removes_our_route_and_puts_path_on_top),
        cmocka_unit_test(test_strict_rewrite_takes_the_last_route_as_request_uri),
        cmocka_unit_test(test_loop_is_our_via_with_the_same_hash_a_spiral_is_not),
        cmocka_unit_test(test_response_strip_and_next_via_destination),
        cmocka_unit_test(test_cancel_and_ack_of_a_branch),
        cmocka_unit_test(test_stateless_branch_same_for_retransmission_cancel_and_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
