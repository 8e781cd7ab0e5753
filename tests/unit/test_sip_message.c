/*
 * test_sip_message.c - the SIP adapter's pure helpers (adapters/sip/
 * sip_message.c, sip_txn.c): address classification, UTF-8, request
 * checks, response building, transaction keys and dedupe, stream framing.
 * No network.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip.h"
#include "gw_errors.h"

#define MSG_HEAD                                                                  \
    "MESSAGE sip:+4915112345678@gw.example SIP/2.0\r\n"                           \
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-abc;rport\r\n"                 \
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-outer\r\n"                     \
    "Max-Forwards: 70\r\n"                                                        \
    "From: <sip:alice@example.com>;tag=ft1\r\n"                                  \
    "To: <sip:+4915112345678@gw.example>\r\n"                                     \
    "Call-ID: cid-1@10.0.0.1\r\n"                                                 \
    "CSeq: 7 MESSAGE\r\n"

static osip_message_t *parse(const char *text)
{
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    if (osip_message_parse(m, text, strlen(text)) != 0) {
        osip_message_free(m);
        return NULL;
    }
    return m;
}

static osip_uri_t *uri(const char *text)
{
    osip_uri_t *u = NULL;
    assert_int_equal(osip_uri_init(&u), 0);
    assert_int_equal(osip_uri_parse(u, text), 0);
    return u;
}

static void classify(const char *text, const char *addr, gw_addr_type_t type, int ton, int npi)
{
    gw_addr_t a = {0};
    osip_uri_t *u = uri(text);
    assert_int_equal(sip_addr_from_uri(u, &a), 0);
    assert_string_equal(a.address, addr);
    assert_int_equal(a.type, type);
    assert_int_equal(a.ton, ton);
    assert_int_equal(a.npi, npi);
    free(a.address);
    osip_uri_free(u);
}

static void test_addr_international_number_is_international_ton1(void **s)
{
    (void)s;
    classify("sip:+4915112345678@gw.example", "4915112345678", GW_ADDR_INTL, 1, 1);
    classify("sip:4915112345678@gw.example", "4915112345678", GW_ADDR_INTL, 1, 1);
}

static void test_addr_national_numbers_and_short_codes_follow_gw_addr(void **s)
{
    (void)s;
    classify("sip:03012345@gw.example", "03012345", GW_ADDR_NATIONAL, 2, 1);
    classify("sip:2020@gw.example", "2020", GW_ADDR_SHORT, 0, 1);
}

static void test_addr_tel_uris_are_their_number(void **s)
{
    (void)s;
    classify("tel:+4915112345678;phone-context=example.com", "4915112345678", GW_ADDR_INTL, 1,
             1);
    classify("tel:2020;phone-context=example.com", "2020", GW_ADDR_SHORT, 0, 1);
}

static void test_addr_other_schemes_are_declined(void **s)
{
    gw_addr_t a = {0};
    osip_uri_t *u = uri("mailto:alice@example.com");
    (void)s;
    assert_int_equal(sip_addr_from_uri(u, &a), GW_EDECLINED);
    assert_null(a.address);
    osip_uri_free(u);
}

static void test_addr_names_and_mixed_users_are_sip_uris(void **s)
{
    (void)s;
    classify("sip:alice@example.com", "sip:alice@example.com", GW_ADDR_SIP_URI, 0, 0);
    classify("sip:+49abc@example.com", "sip:+49abc@example.com", GW_ADDR_SIP_URI, 0, 0);
    classify("sip:example.com", "sip:example.com", GW_ADDR_SIP_URI, 0, 0);
    classify("sip:+@example.com", "sip:+@example.com", GW_ADDR_SIP_URI, 0, 0);
}

static void test_utf8_accepts_well_formed_text(void **s)
{
    const char *t = "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80";
    (void)s;
    assert_true(sip_utf8_valid("hello", 5));
    assert_true(sip_utf8_valid(t, strlen(t)));
    assert_true(sip_utf8_valid("", 0));
}

static void test_utf8_rejects_malformed_sequences(void **s)
{
    (void)s;
    assert_false(sip_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    assert_false(sip_utf8_valid("\xe0\x80\xaf", 3));     /* overlong '/' */
    assert_false(sip_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(sip_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(sip_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(sip_utf8_valid("a\x80", 2));            /* stray continuation */
    assert_false(sip_utf8_valid("a\0b", 3));             /* NUL */
    assert_false(sip_utf8_valid("\xff", 1));
}

static void test_looks_like_sip_tells_requests_responses_and_garbage(void **s)
{
    (void)s;
    assert_int_equal(sip_looks_like_sip("MESSAGE sip:a@b SIP/2.0\r\n", 25), 1);
    assert_int_equal(sip_looks_like_sip("SIP/2.0 200 OK\r\n", 16), 2);
    assert_int_equal(sip_looks_like_sip("GET / HTTP/1.1\r\n", 16), 0);
    assert_int_equal(sip_looks_like_sip("hello world", 11), 0);
    assert_int_equal(sip_looks_like_sip("MESSAGE  SIP/2.0\r\n", 18), 0);
    assert_int_equal(sip_looks_like_sip("\x00\x01\x02", 3), 0);
}

static void test_check_request_accepts_complete_message(void **s)
{
    const char *reason = NULL;
    osip_message_t *m = parse(MSG_HEAD "Content-Length: 0\r\n\r\n");
    (void)s;
    assert_non_null(m);
    assert_int_equal(sip_check_request(m, &reason), 0);
    osip_message_free(m);
}

static void test_check_request_missing_call_id_is_400(void **s)
{
    const char *reason = NULL;
    osip_message_t *m = parse("MESSAGE sip:1@h SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n"
                              "From: <sip:a@h>;tag=1\r\nTo: <sip:1@h>\r\n"
                              "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
    (void)s;
    assert_non_null(m);
    assert_int_equal(sip_check_request(m, &reason), 400);
    assert_string_equal(reason, "Missing Call-ID");
    /* the 400 still mirrors what the request had */
    size_t len = 0;
    char *r = sip_build_response(m, 400, reason, "t1", "127.0.0.1", 5060, NULL, &len);
    assert_non_null(r);
    assert_non_null(strstr(r, "SIP/2.0 400 Missing Call-ID\r\n"));
    assert_non_null(strstr(r, "CSeq: 1 MESSAGE\r\n"));
    assert_null(strstr(r, "\r\nCall-ID:"));
    free(r);
    osip_message_free(m);
}

static void test_check_request_max_forwards_zero_is_483(void **s)
{
    const char *reason = NULL;
    osip_message_t *m = parse("MESSAGE sip:1@h SIP/2.0\r\n"
                              "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n"
                              "Max-Forwards: 0\r\n"
                              "From: <sip:a@h>;tag=1\r\nTo: <sip:1@h>\r\nCall-ID: x\r\n"
                              "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
    (void)s;
    assert_non_null(m);
    assert_int_equal(sip_check_request(m, &reason), 483);
    osip_message_free(m);
}

static int body_status(const char *ctype, const char *body)
{
    char text[2048];
    const char *reason = NULL, *b = NULL;
    size_t len = 0;
    int st;
    snprintf(text, sizeof(text), MSG_HEAD "%s%s%sContent-Length: %zu\r\n\r\n%s",
             ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
             strlen(body), body);
    osip_message_t *m = parse(text);
    assert_non_null(m);
    st = sip_check_text_body(m, &b, &len, &reason);
    if (st == 0) {
        assert_int_equal(len, strlen(body));
        assert_memory_equal(b, body, len);
    }
    osip_message_free(m);
    return st;
}

static void test_text_body_accepts_text_plain_utf8(void **s)
{
    (void)s;
    assert_int_equal(body_status("text/plain;charset=UTF-8", "hi \xe2\x82\xac"), 0);
    assert_int_equal(body_status("text/plain", "hello"), 0);
    assert_int_equal(body_status("Text/Plain; charset=\"utf-8\"", "hello"), 0);
    assert_int_equal(body_status(NULL, ""), 0);
}

static void test_text_body_other_types_are_415_bad_utf8_400(void **s)
{
    (void)s;
    assert_int_equal(body_status("application/json", "{}"), 415);
    assert_int_equal(body_status("text/plain;charset=ISO-8859-1", "hello"), 415);
    assert_int_equal(body_status("text/plain", "bad \xc3("), 400);
    assert_int_equal(body_status(NULL, "no type"), 400);
}

static void test_response_copies_headers_and_adds_to_tag(void **s)
{
    size_t len = 0;
    osip_message_t *m = parse(MSG_HEAD "Content-Length: 0\r\n\r\n");
    char *r;
    (void)s;
    r = sip_build_response(m, 202, "Accepted", "tag42", "127.0.0.2", 40000, NULL, &len);
    assert_non_null(r);
    assert_int_equal(len, strlen(r));
    assert_true(strncmp(r, "SIP/2.0 202 Accepted\r\n", 22) == 0);
    assert_non_null(strstr(r, "branch=z9hG4bK-abc"));
    assert_non_null(strstr(r, "rport=40000"));
    assert_non_null(strstr(r, "received=127.0.0.2"));
    assert_non_null(strstr(r, "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-outer\r\n"));
    assert_true(strstr(r, "z9hG4bK-abc") < strstr(r, "z9hG4bK-outer"));
    assert_non_null(strstr(r, "From: <sip:alice@example.com>;tag=ft1\r\n"));
    assert_non_null(strstr(r, "To: <sip:+4915112345678@gw.example>;tag=tag42\r\n"));
    assert_non_null(strstr(r, "Call-ID: cid-1@10.0.0.1\r\n"));
    assert_non_null(strstr(r, "CSeq: 7 MESSAGE\r\n"));
    assert_non_null(strstr(r, "Server: junction\r\n"));
    assert_true(strstr(r, "Content-Length: 0\r\n\r\n") + 21 == r + len);
    free(r);
    /* the same transaction answered again keeps its tag */
    r = sip_build_response(m, 500, "Server Internal Error", "other", "127.0.0.2", 40000, NULL,
                           &len);
    assert_non_null(strstr(r, ";tag=tag42\r\n"));
    assert_null(strstr(r, "other"));
    free(r);
    osip_message_free(m);
}

static void test_raw_response_copies_lines_or_refuses_without_via(void **s)
{
    const char *bad = "MESSAGE sip:1@h SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK-x\r\n"
                      "f: <sip:a@h>;tag=1\r\nCSeq: 1 MESSAGE\r\nX: y\r\n\r\nbody";
    size_t len = 0;
    char *r = sip_build_raw_response(bad, strlen(bad), 400, "Bad Request", &len);
    (void)s;
    assert_non_null(r);
    assert_true(strncmp(r, "SIP/2.0 400 Bad Request\r\n", 25) == 0);
    assert_non_null(strstr(r, "v: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK-x\r\n"));
    assert_non_null(strstr(r, "CSeq: 1 MESSAGE\r\n"));
    assert_null(strstr(r, "X: y"));
    free(r);
    assert_null(sip_build_raw_response("MESSAGE sip:1@h SIP/2.0\r\nX: y\r\n\r\n", 33, 400,
                                       "Bad Request", &len));
}

static void test_txn_key_uses_branch_or_call_id(void **s)
{
    char k1[256], k2[256];
    osip_message_t *a = parse(MSG_HEAD "Content-Length: 0\r\n\r\n");
    osip_message_t *b = parse("MESSAGE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=old1\r\n"
                              "From: <sip:a@h>;tag=1\r\nTo: <sip:1@h>\r\nCall-ID: c9\r\n"
                              "CSeq: 3 MESSAGE\r\nContent-Length: 0\r\n\r\n");
    (void)s;
    assert_int_equal(sip_txn_key(a, k1, sizeof(k1)), 0);
    assert_non_null(strstr(k1, "z9hG4bK-abc"));
    assert_int_equal(sip_txn_key(b, k2, sizeof(k2)), 0);
    assert_non_null(strstr(k2, "c9"));
    assert_string_not_equal(k1, k2);
    assert_int_equal(sip_txn_key(a, k1, 8), GW_EINVAL);
    osip_message_free(a);
    osip_message_free(b);
}

static void test_txn_table_dedupes_until_expiry(void **s)
{
    sip_txn_table_t *t = sip_txn_table_new(16);
    const char *resp = NULL;
    size_t len = 0;
    (void)s;
    assert_int_equal(sip_txn_lookup(t, "k1", 1000, &resp, &len), SIP_TXN_NEW);
    assert_int_equal(sip_txn_lookup(t, "k1", 1100, &resp, &len), SIP_TXN_PENDING);
    sip_txn_final(t, "k1", "SIP/2.0 202 Accepted\r\n", 22, 1200);
    assert_int_equal(sip_txn_lookup(t, "k1", 1300, &resp, &len), SIP_TXN_FINAL);
    assert_int_equal(len, 22);
    assert_memory_equal(resp, "SIP/2.0 202 Accepted\r\n", 22);
    assert_int_equal(sip_txn_lookup(t, "k2", 1300, &resp, &len), SIP_TXN_NEW);
    assert_int_equal(sip_txn_count(t), 2);
    /* Timer J: 32 s after the final response the key is new again */
    assert_int_equal(sip_txn_lookup(t, "k1", 1200 + SIP_TXN_LINGER_MS, &resp, &len), SIP_TXN_NEW);
    sip_txn_table_free(t);
}

static void test_txn_table_is_bounded(void **s)
{
    sip_txn_table_t *t = sip_txn_table_new(2);
    const char *resp = NULL;
    size_t len = 0;
    (void)s;
    assert_int_equal(sip_txn_lookup(t, "a", 0, &resp, &len), SIP_TXN_NEW);
    assert_int_equal(sip_txn_lookup(t, "b", 0, &resp, &len), SIP_TXN_NEW);
    assert_int_equal(sip_txn_lookup(t, "c", 0, &resp, &len), SIP_TXN_NEW);
    assert_true(sip_txn_count(t) <= 2);
    assert_int_equal(sip_txn_lookup(t, "c", 0, &resp, &len), SIP_TXN_PENDING);
    /* "a" was the oldest and was evicted */
    assert_int_equal(sip_txn_lookup(t, "a", 0, &resp, &len), SIP_TXN_NEW);
    /* a final for an evicted key is recorded again */
    sip_txn_final(t, "zz", "R", 1, 0);
    assert_int_equal(sip_txn_lookup(t, "zz", 1, &resp, &len), SIP_TXN_FINAL);
    assert_true(sip_txn_count(t) <= 2);
    sip_txn_table_free(t);
}

/* Workers racing for the same requests (a retransmission that the
 * steering sent to another worker than its original): the pool's table
 * lets exactly one of them take each as new. */
#define TXN_RACERS 4
#define TXN_KEYS 500
static int txn_new_count[TXN_KEYS]; /* atomic */

static void *txn_racer(void *arg)
{
    char key[32], *resp;
    size_t len;
    (void)arg;
    for (int i = 0; i < TXN_KEYS; i++) {
        snprintf(key, sizeof key, "race-%d", i);
        if (sip_txns_lookup(key, 1000, &resp, &len) == SIP_TXN_NEW)
            __atomic_add_fetch(&txn_new_count[i], 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_txns_take_each_request_as_new_once_among_workers(void **s)
{
    pthread_t t[TXN_RACERS];
    (void)s;
    assert_int_equal(sip_txns_init(), 0);
    for (int i = 0; i < TXN_RACERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, txn_racer, NULL), 0);
    for (int i = 0; i < TXN_RACERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < TXN_KEYS; i++)
        assert_int_equal(txn_new_count[i], 1);
    assert_int_equal(sip_txns_count(), TXN_KEYS);
    sip_txns_free();
}

static void *txn_answerer(void *arg)
{
    sip_txns_final(arg, "SIP/2.0 202 Accepted\r\n", 22, 2000);
    return NULL;
}

static void test_txns_answer_a_retransmission_with_another_workers_response(void **s)
{
    pthread_t t;
    char *resp = NULL;
    size_t len = 0;
    (void)s;
    assert_int_equal(sip_txns_init(), 0);
    assert_int_equal(sip_txns_lookup("k", 1000, &resp, &len), SIP_TXN_NEW);
    assert_int_equal(sip_txns_lookup("k", 1100, &resp, &len), SIP_TXN_PENDING);
    assert_null(resp);
    assert_int_equal(pthread_create(&t, NULL, txn_answerer, "k"), 0);
    pthread_join(t, NULL);
    assert_int_equal(sip_txns_lookup("k", 2100, &resp, &len), SIP_TXN_FINAL);
    assert_int_equal(len, 22);
    assert_memory_equal(resp, "SIP/2.0 202 Accepted\r\n", 22);
    free(resp); /* a copy: the caller's */
    sip_txns_free();
}

static void test_frame_length_follows_content_length(void **s)
{
    const char *m = "MESSAGE sip:1@h SIP/2.0\r\nContent-Length: 5\r\n\r\nhelloMESSAGE";
    const char *c = "OPTIONS sip:1@h SIP/2.0\r\nl: 2\r\n\r\nhi";
    size_t hdr = strlen("MESSAGE sip:1@h SIP/2.0\r\nContent-Length: 5\r\n\r\n");
    (void)s;
    assert_int_equal(sip_frame_length(m, strlen(m), 65535), (long)hdr + 5);
    assert_int_equal(sip_frame_length(m, hdr + 3, 65535), 0);         /* body incomplete */
    assert_int_equal(sip_frame_length(m, 10, 65535), 0);              /* header incomplete */
    assert_int_equal(sip_frame_length(c, strlen(c), 65535), (long)strlen(c));
    assert_int_equal(sip_frame_length(m, strlen(m), 50), GW_EINVAL);  /* too big */
    assert_int_equal(sip_frame_length("X sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n", 39, 100),
                     GW_EINVAL);
}

static int setup(void **s)
{
    (void)s;
    return sip_osip_init() == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_international_number_is_international_ton1),
        cmocka_unit_test(test_addr_national_numbers_and_short_codes_follow_gw_addr),
        cmocka_unit_test(test_addr_tel_uris_are_their_number),
        cmocka_unit_test(test_addr_other_schemes_are_declined),
        cmocka_unit_test(test_addr_names_and_mixed_users_are_sip_uris),
        cmocka_unit_test(test_utf8_accepts_well_formed_text),
        cmocka_unit_test(test_utf8_rejects_malformed_sequences),
        cmocka_unit_test(test_looks_like_sip_tells_requests_responses_and_garbage),
        cmocka_unit_test(test_check_request_accepts_complete_message),
        cmocka_unit_test(test_check_request_missing_call_id_is_400),
        cmocka_unit_test(test_check_request_max_forwards_zero_is_483),
        cmocka_unit_test(test_text_body_accepts_text_plain_utf8),
        cmocka_unit_test(test_text_body_other_types_are_415_bad_utf8_400),
        cmocka_unit_test(test_response_copies_headers_and_adds_to_tag),
        cmocka_unit_test(test_raw_response_copies_lines_or_refuses_without_via),
        cmocka_unit_test(test_txn_key_uses_branch_or_call_id),
        cmocka_unit_test(test_txn_table_dedupes_until_expiry),
        cmocka_unit_test(test_txn_table_is_bounded),
        cmocka_unit_test(test_txns_take_each_request_as_new_once_among_workers),
        cmocka_unit_test(test_txns_answer_a_retransmission_with_another_workers_response),
        cmocka_unit_test(test_frame_length_follows_content_length),
    };
    return cmocka_run_group_tests_name("sip_message", tests, setup, NULL);
}
