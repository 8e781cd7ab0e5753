/*
 * test_sip_resp.c - sip_resp_headers (adapters/sip/sip_resp.c): the header
 * block of a response copied from the request's text says what
 * sip_build_response says from the parsed request — the same Vias (the
 * top one stamped with received= / rport=), From, To (with the tag),
 * Call-ID and CSeq — checked by parsing both answers with libosip2 and
 * comparing header by header, for requests written in many ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip.h"

#define TAIL "Max-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"

static osip_message_t *parse(const char *text, size_t n)
{
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    if (osip_message_parse(m, text, n) != 0) {
        osip_message_free(m);
        return NULL;
    }
    return m;
}

/* The raw answer: status line, sip_resp_headers, the fixed tail. */
static char *raw_answer(const char *req, const char *to_tag, const char *ip, int port)
{
    gw_jbuf_t b = { 0 };
    gw_jbuf_puts(&b, "SIP/2.0 202 Accepted\r\n");
    if (sip_resp_headers(req, strlen(req), to_tag, ip, port, &b) != 0) {
        gw_jbuf_free(&b);
        return NULL;
    }
    gw_jbuf_puts(&b, "Server: junction\r\nContent-Length: 0\r\n\r\n");
    return gw_jbuf_done(&b);
}

/* header i of a list as text through libosip2 (NULL when absent) */
typedef int (*to_str_fn)(const void *, char **);

static void same_header(const void *a, const void *b, int (*fn)(const void *, char **))
{
    char *sa = NULL, *sb = NULL;
    assert_true((a == NULL) == (b == NULL));
    if (a == NULL)
        return;
    assert_int_equal(fn(a, &sa), 0);
    assert_int_equal(fn(b, &sb), 0);
    assert_string_equal(sa, sb);
    osip_free(sa);
    osip_free(sb);
}

/* Both answers to req parse, and every mirrored header is the same. */
static void answers_agree(const char *req, const char *ip, int port)
{
    osip_message_t *m = parse(req, strlen(req));
    osip_generic_param_t *tag = NULL;
    size_t len = 0;
    assert_non_null(m);
    if (m->to)
        osip_to_get_tag(m->to, &tag);
    char *raw = raw_answer(req, tag ? NULL : "tag42", ip, port);
    assert_non_null(raw);
    char *lib = sip_build_response(m, 202, "Accepted", "tag42", ip, port, NULL, &len);
    assert_non_null(lib);
    osip_message_t *ra = parse(raw, strlen(raw)), *la = parse(lib, len);
    assert_non_null(ra);
    assert_non_null(la);
    assert_int_equal(osip_list_size(&ra->vias), osip_list_size(&la->vias));
    for (int i = 0; i < osip_list_size(&la->vias); i++)
        same_header(osip_list_get(&ra->vias, i), osip_list_get(&la->vias, i),
                    (int (*)(const void *, char **))osip_via_to_str);
    same_header(ra->from, la->from, (int (*)(const void *, char **))osip_from_to_str);
    same_header(ra->to, la->to, (int (*)(const void *, char **))osip_to_to_str);
    same_header(ra->call_id, la->call_id, (int (*)(const void *, char **))osip_call_id_to_str);
    same_header(ra->cseq, la->cseq, (int (*)(const void *, char **))osip_cseq_to_str);
    osip_message_free(ra);
    osip_message_free(la);
    osip_message_free(m);
    free(raw);
    free(lib);
}

static void test_answers_agree_with_the_parsed_form_for_many_spellings(void **s)
{
    (void)s;
    static const char *const reqs[] = {
        /* rport without value, a second Via line */
        "MESSAGE sip:+4915112345678@gw.example SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-abc;rport\r\n"
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-outer\r\n"
        "From: <sip:alice@example.com>;tag=ft1\r\nTo: <sip:+4915112345678@gw.example>\r\n"
        "Call-ID: cid-1@10.0.0.1\r\nCSeq: 7 MESSAGE\r\n" TAIL,
        /* sent-by is the source: nothing to stamp */
        "MESSAGE sip:bob@gw SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-1\r\n"
        "From: sip:alice@x;tag=a\r\nTo: sip:bob@gw\r\nCall-ID: c2\r\nCSeq: 1 MESSAGE\r\n" TAIL,
        /* compact names, two Vias on one line, rport with a value */
        "MESSAGE sip:bob@gw SIP/2.0\r\n"
        "v: SIP/2.0/UDP host.example:5080;rport=9;branch=z9hG4bK-2, SIP/2.0/TCP 10.1.1.1;branch=z9hG4bK-3\r\n"
        "f: \"Alice A\" <sip:alice@x>;tag=a2\r\nt: \"Bob\" <sip:bob@gw>\r\ni: c3@h\r\n"
        "CSeq: 2 MESSAGE\r\n" TAIL,
        /* received already there; To with a tag of its own */
        "MESSAGE sip:bob@gw SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.1;received=10.9.9.9;branch=z9hG4bK-4\r\n"
        "From: <sip:alice@x>;tag=a3\r\nTo: <sip:bob@gw>;tag=old\r\nCall-ID: c4\r\n"
        "CSeq: 3 MESSAGE\r\n" TAIL,
        /* a From folded over two lines, extra spaces around the colon */
        "MESSAGE sip:bob@gw SIP/2.0\r\nVia : SIP/2.0/UDP 10.0.0.1:5062 ;branch=z9hG4bK-5\r\n"
        "From: <sip:alice@x>\r\n ;tag=a4\r\nTo:   <sip:bob@gw>  \r\nCall-ID: c5\r\n"
        "CSeq: 4 MESSAGE\r\n" TAIL,
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
        answers_agree(reqs[i], "127.0.0.2", 40000);
}

static void test_top_via_gets_rport_and_received_and_the_rest_stays_as_received(void **s)
{
    (void)s;
    char *r = raw_answer("MESSAGE sip:b@gw SIP/2.0\r\n"
                         "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-abc;rport\r\n"
                         "v: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-outer\r\n"
                         "Contact: <sip:a@10.0.0.1>\r\nFrom: <sip:a@x>;tag=f\r\n"
                         "To: <sip:b@gw>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n" TAIL,
                         "tag42", "127.0.0.2", 40000);
    assert_non_null(r);
    assert_non_null(strstr(r, "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-abc;rport=40000"
                              ";received=127.0.0.2\r\n"));
    assert_non_null(strstr(r, "v: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-outer\r\n"));
    assert_non_null(strstr(r, "To: <sip:b@gw>;tag=tag42\r\n"));
    assert_null(strstr(r, "Contact"));
    assert_null(strstr(r, "Max-Forwards"));
    assert_null(strstr(r, "hi"));
    free(r);
}

static void test_stamp_goes_before_the_comma_of_a_second_via_on_the_line(void **s)
{
    (void)s;
    char *r = raw_answer("MESSAGE sip:b@gw SIP/2.0\r\n"
                         "Via: SIP/2.0/UDP a.example;branch=z9hG4bK-1 , SIP/2.0/UDP b;branch=z9hG4bK-2\r\n"
                         "From: <sip:a@x>;tag=f\r\nTo: <sip:b@gw>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n" TAIL,
                         "t", "127.0.0.2", 5060);
    assert_non_null(r);
    assert_non_null(strstr(r, "Via: SIP/2.0/UDP a.example;branch=z9hG4bK-1;received=127.0.0.2 , "
                              "SIP/2.0/UDP b;branch=z9hG4bK-2\r\n"));
    free(r);
}

static void test_text_without_a_via_is_refused_and_leaves_the_buffer_as_it_was(void **s)
{
    (void)s;
    gw_jbuf_t b = { 0 };
    gw_jbuf_puts(&b, "SIP/2.0 202 Accepted\r\n");
    size_t before = b.len;
    static const char req[] = "MESSAGE sip:b@gw SIP/2.0\r\nFrom: <sip:a@x>;tag=f\r\n"
                              "To: <sip:b@gw>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n\r\n";
    assert_int_equal(sip_resp_headers(req, strlen(req), "t", "127.0.0.2", 5060, &b), -1);
    assert_int_equal(b.len, before);
    static const char nosentby[] = "MESSAGE sip:b@gw SIP/2.0\r\nVia: SIP/2.0/UDP\r\n"
                                   "From: <sip:a@x>;tag=f\r\n\r\n";
    assert_int_equal(sip_resp_headers(nosentby, strlen(nosentby), "t", "127.0.0.2", 5060, &b),
                     -1);
    assert_int_equal(b.len, before);
    gw_jbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_agree_with_the_parsed_form_for_many_spellings),
        cmocka_unit_test(test_top_via_gets_rport_and_received_and_the_rest_stays_as_received),
        cmocka_unit_test(test_stamp_goes_before_the_comma_of_a_second_via_on_the_line),
        cmocka_unit_test(test_text_without_a_via_is_refused_and_leaves_the_buffer_as_it_was),
    };
    parser_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
