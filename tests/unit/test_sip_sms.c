/*
 * test_sip_sms.c - the SMS details of SIP MESSAGEs (adapters/sip/
 * sip_sms.c in, sip_report.c out): CPIM bodies with IMDN requests, the
 * X-SMS-* header values and their refusals, the IMDN and text forms of a
 * report and the X-SMS-* headers going out.  Pure functions; no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip.h"
#include "gw_errors.h"

#define HEAD                                                                      \
    "MESSAGE sip:+4917012345678@gw.example SIP/2.0\r\n"                           \
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-abc;rport\r\n"                 \
    "Max-Forwards: 70\r\n"                                                        \
    "From: <sip:alice@example.com>;tag=ft1\r\n"                                  \
    "To: <sip:+4917012345678@gw.example>\r\n"                                     \
    "Call-ID: cid-1@10.0.0.1\r\n"                                                 \
    "CSeq: 7 MESSAGE\r\n"

#define CPIM_OK                                                                   \
    "From: <sip:alice@example.com>\r\n"                                           \
    "To: <sip:+4917012345678@gw.example>\r\n"                                     \
    "NS: imdn <urn:ietf:params:imdn>\r\n"                                         \
    "imdn.Message-ID: 34jk324j\r\n"                                               \
    "DateTime: 2026-12-01T18:00:00Z\r\n"                                          \
    "imdn.Disposition-Notification: positive-delivery, negative-delivery\r\n"     \
    "\r\n"                                                                        \
    "Content-Type: text/plain; charset=utf-8\r\n"                                 \
    "\r\n"                                                                        \
    "Hello world"

static osip_message_t *parse_msg(const char *extra, const char *ctype, const char *body)
{
    char text[4096];
    osip_message_t *m = NULL;

    snprintf(text, sizeof text, HEAD "%sContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
             extra, ctype, strlen(body), body);
    assert_int_equal(osip_message_init(&m), 0);
    assert_int_equal(osip_message_parse(m, text, strlen(text)), 0);
    return m;
}

/* sip_sms_read of a MESSAGE: the status, with s and reason filled. */
static int read_msg(const char *extra, const char *ctype, const char *body, sip_sms_t *s,
                    const char **reason, char *text, size_t n)
{
    osip_message_t *m = parse_msg(extra, ctype, body);
    int st = sip_sms_read(m, s, reason);

    if (st == 0 && text != NULL) {
        snprintf(text, n, "%.*s", (int)s->text_len, s->text);
        s->text = NULL; /* points into m */
    }
    osip_message_free(m);
    return st;
}

static int cpim(const char *body, sip_sms_t *s, const char **reason)
{
    memset(s, 0, sizeof *s);
    s->coding = s->validity_s = s->rd = -1;
    return sip_cpim_parse(body, strlen(body), s, reason);
}

static void test_a_cpim_body_is_unwrapped_and_its_imdn_request_kept(void **state)
{
    sip_sms_t s;
    const char *reason = NULL;
    char text[64];

    (void)state;
    assert_int_equal(read_msg("", "message/cpim", CPIM_OK, &s, &reason, text, sizeof text), 0);
    assert_string_equal(text, "Hello world");
    assert_int_equal(s.cpim, 1);
    assert_int_equal(s.imdn, 1);
    assert_string_equal(s.imdn_id, "34jk324j");
    assert_int_equal(s.dn, SIP_DN_POSITIVE | SIP_DN_NEGATIVE);
}

static void test_the_imdn_prefix_is_the_one_ns_declares(void **state)
{
    sip_sms_t s;
    const char *reason = NULL;

    (void)state;
    assert_int_equal(cpim("NS: x <urn:ietf:params:imdn>\r\nx.Message-ID: m1\r\n"
                          "x.Disposition-Notification: negative-delivery\r\n"
                          "imdn.Message-ID: not-this\r\n\r\nContent-Type: text/plain\r\n\r\nhi",
                          &s, &reason),
                     0);
    assert_string_equal(s.imdn_id, "m1");
    assert_int_equal(s.dn, SIP_DN_NEGATIVE);
}

static void test_cpim_without_imdn_is_text_and_asks_for_nothing(void **state)
{
    sip_sms_t s;
    const char *reason = NULL;

    (void)state;
    assert_int_equal(cpim("From: <sip:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\nhi", &s, &reason),
                     0);
    assert_int_equal(s.imdn, 0);
    assert_int_equal(s.dn, 0);
    assert_int_equal(s.text_len, 2);
}

static void test_bad_cpim_bodies_are_refused_with_a_reason(void **state)
{
    static const char *const bad400[] = {
        "no blank line at all",
        "From <no colon>\r\n\r\nContent-Type: text/plain\r\n\r\nx",
        "From: <a>\r\n\r\nContent-Type: text/plain\r\nno end of headers",
        "imdn.Message-ID: has space\r\n\r\nContent-Type: text/plain\r\n\r\nx",
        "From: <a>\r\n\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\nshort",
        "From: <a>\r\n\r\nContent-Type: text/plain\r\nContent-Length: -1\r\n\r\nx",
        "From: <a>\r\n\r\nContent-Type: text/plain\r\n\r\n\xff\xfe",
    };
    sip_sms_t s;
    const char *reason = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof bad400 / sizeof bad400[0]; i++) {
        reason = NULL;
        assert_int_equal(cpim(bad400[i], &s, &reason), 400);
        assert_non_null(reason);
    }
    assert_int_equal(cpim("From: <a>\r\n\r\nContent-Type: image/png\r\n\r\nx", &s, &reason), 415);
    assert_int_equal(
        cpim("From: <a>\r\n\r\nContent-Type: text/plain;charset=latin1\r\n\r\nx", &s, &reason), 415);
}

static void test_x_sms_headers_set_coding_validity_and_the_request(void **state)
{
    sip_sms_t s;
    const char *reason = NULL;

    (void)state;
    assert_int_equal(read_msg("X-SMS-Coding: UCS2\r\nX-SMS-Validity: 600\r\n"
                              "X-SMS-Registered-Delivery: 2\r\n",
                              "text/plain", "hi", &s, &reason, NULL, 0),
                     0);
    assert_int_equal(s.coding, 8);
    assert_int_equal(s.validity_s, 600);
    assert_int_equal(s.rd, 2);
    assert_int_equal(s.dn, SIP_DN_NEGATIVE);
    assert_int_equal(read_msg("x-sms-receipt: yes\r\n", "text/plain", "hi", &s, &reason, NULL, 0),
                     0);
    assert_int_equal(s.dn, SIP_DN_POSITIVE | SIP_DN_NEGATIVE);
    assert_int_equal(read_msg("", "text/plain", "hi", &s, &reason, NULL, 0), 0);
    assert_int_equal(s.dn, 0);
    assert_int_equal(s.coding, -1);
    assert_int_equal(s.validity_s, -1);
}

static void test_bad_x_sms_values_are_a_400_naming_the_header(void **state)
{
    static const struct { const char *hdr, *name; } bad[] = {
        {"X-SMS-Coding: klingon\r\n", "X-SMS-Coding"},
        {"X-SMS-Coding: 4\r\n", "X-SMS-Coding"},
        {"X-SMS-Validity: 0\r\n", "X-SMS-Validity"},
        {"X-SMS-Validity: -5\r\n", "X-SMS-Validity"},
        {"X-SMS-Validity: 2592001\r\n", "X-SMS-Validity"},
        {"X-SMS-Validity: 1234567890123\r\n", "X-SMS-Validity"},
        {"X-SMS-Validity: 10s\r\n", "X-SMS-Validity"},
        {"X-SMS-Registered-Delivery: 3\r\n", "X-SMS-Registered-Delivery"},
        {"X-SMS-Receipt: maybe\r\n", "X-SMS-Receipt"},
    };
    sip_sms_t s;
    const char *reason;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reason = NULL;
        assert_int_equal(read_msg(bad[i].hdr, "text/plain", "hi", &s, &reason, NULL, 0), 400);
        assert_non_null(strstr(reason, bad[i].name));
    }
}

/* A report on a message to +4917012345678, stat, in form. */
static gw_envelope_t *report(const char *stat, const char *form)
{
    gw_envelope_t *r = gw_env_new();

    assert_non_null(r);
    assert_int_equal(gw_addr_normalise(&r->from, "+4917012345678", GW_ADDR_TON_NONE, 0), 0);
    assert_int_equal(gw_env_set_str(&r->report.of, "01ORIGINAL", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&r->report.stat, stat, (size_t)-1), 0);
    if (form != NULL)
        assert_int_equal(gw_env_set_tag(r, SIP_TAG_REPORT, form), 0);
    assert_int_equal(gw_env_set_tag(r, SIP_TAG_IMDN_ID, "id<&>1"), 0);
    return r;
}

static void test_an_imdn_report_is_cpim_wrapping_imdn_xml_with_the_id_escaped(void **state)
{
    gw_envelope_t *r = report("DELIVRD", "imdn");
    gw_jbuf_t b = {0};
    const char *ct = NULL;

    (void)state;
    assert_int_equal(sip_report_body(r, "sip:+4917012345678@gw", "sip:alice@x", &b, &ct), 0);
    assert_string_equal(ct, "message/cpim");
    assert_non_null(strstr(b.p, "NS: imdn <urn:ietf:params:imdn>\r\n"));
    assert_non_null(strstr(b.p, "\r\n\r\nContent-Type: message/imdn+xml\r\n"));
    assert_non_null(strstr(b.p, "<message-id>id&lt;&amp;&gt;1</message-id>"));
    assert_non_null(strstr(b.p, "<status><delivered/></status>"));
    gw_jbuf_free(&b);
    gw_env_unref(r);
    r = report("UNDELIV", "imdn");
    b = (gw_jbuf_t){0};
    assert_int_equal(sip_report_body(r, "sip:a@b", "sip:c@d", &b, &ct), 0);
    assert_non_null(strstr(b.p, "<status><failed/></status>"));
    gw_jbuf_free(&b);
    gw_env_unref(r);
}

static void test_a_text_report_names_the_number_and_the_outcome(void **state)
{
    gw_envelope_t *r = report("EXPIRED", "text");
    gw_jbuf_t b = {0};
    const char *ct = NULL;

    (void)state;
    assert_int_equal(sip_report_body(r, "sip:a@b", "sip:c@d", &b, &ct), 0);
    assert_string_equal(ct, "text/plain;charset=UTF-8");
    assert_non_null(strstr(b.p, "Your message to +4917012345678 expired undelivered at "));
    gw_jbuf_free(&b);
    gw_env_unref(r);
}

static void test_headers_out_carry_the_sms_details_and_never_a_peers_crlf(void **state)
{
    gw_envelope_t *e = gw_env_new(), *r = report("DELIVRD", "text");
    gw_jbuf_t b = {0};

    (void)state;
    assert_int_equal(gw_env_set_str(&e->source.adapter, "smpp", (size_t)-1), 0);
    assert_int_equal(gw_addr_normalise(&e->from, "4915112345678", 1, 1), 0);
    e->data_coding = 8;
    assert_int_equal(gw_env_set_str(&e->corr.smpp_message_id, "abc\r\nX-Evil: 1", (size_t)-1), 0);
    sip_report_headers(e, &b);
    assert_non_null(strstr(b.p, "X-SMS-Coding: ucs2\r\n"));
    assert_non_null(strstr(b.p, "X-SMS-Source-TON: 1\r\nX-SMS-Source-NPI: 1\r\n"));
    assert_null(strstr(b.p, "X-Evil"));
    gw_jbuf_free(&b);
    b = (gw_jbuf_t){0};
    sip_report_headers(r, &b);
    assert_non_null(strstr(b.p, "X-SMS-Status: DELIVRD\r\nX-SMS-Message-Id: 01ORIGINAL\r\n"));
    gw_jbuf_free(&b);
    gw_env_unref(e);
    gw_env_unref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_cpim_body_is_unwrapped_and_its_imdn_request_kept),
        cmocka_unit_test(test_the_imdn_prefix_is_the_one_ns_declares),
        cmocka_unit_test(test_cpim_without_imdn_is_text_and_asks_for_nothing),
        cmocka_unit_test(test_bad_cpim_bodies_are_refused_with_a_reason),
        cmocka_unit_test(test_x_sms_headers_set_coding_validity_and_the_request),
        cmocka_unit_test(test_bad_x_sms_values_are_a_400_naming_the_header),
        cmocka_unit_test(test_an_imdn_report_is_cpim_wrapping_imdn_xml_with_the_id_escaped),
        cmocka_unit_test(test_a_text_report_names_the_number_and_the_outcome),
        cmocka_unit_test(test_headers_out_carry_the_sms_details_and_never_a_peers_crlf),
    };
    sip_osip_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
