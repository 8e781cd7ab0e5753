/*
 * test_report_http.c - receipt callbacks (gateway/gw_report_http.c): the
 * callback URL check with its reasons, which outcomes owe a callback, the
 * JSON document a callback carries, and Kannel's dlr-url escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "gw_errors.h"
#include "gw_report_http.h"

static int url_ok(const char *url)
{
    char err[128];

    return gw_report_http_url_check(url, err, sizeof err) == 0;
}

static void http_and_https_urls_with_a_host_are_taken(void **state)
{
    (void)state;
    assert_true(url_ok("http://example.com"));
    assert_true(url_ok("http://example.com/dlr?id=1&x=%20"));
    assert_true(url_ok("HTTPS://shop.example.com:8443/cb"));
    assert_true(url_ok("http://127.0.0.1:8080/"));
    assert_true(url_ok("http://[::1]:9000/cb"));
    assert_true(url_ok("http://h?q"));
}

static void bad_urls_are_refused_with_the_reason(void **state)
{
    char err[128], longer[GW_REPORT_HTTP_URL_MAX + 16];

    (void)state;
    assert_int_equal(gw_report_http_url_check("ftp://h/x", err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "http:// or https://"));
    assert_int_equal(gw_report_http_url_check("http://", err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "no host"));
    assert_int_equal(gw_report_http_url_check("http://u:p@h/", err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "user"));
    assert_int_equal(gw_report_http_url_check("http://h:0/", err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "port"));
    assert_int_equal(gw_report_http_url_check("http://h:65536/", err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_report_http_url_check("http://h:/", err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_report_http_url_check("http://h a/", err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "escaped"));
    assert_int_equal(gw_report_http_url_check("http://h/\xc3\xa9", err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_report_http_url_check("http://[zz]/", err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_report_http_url_check("http://h_1/", err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_report_http_url_check("", err, sizeof err), GW_EINVAL);
    assert_int_equal(gw_report_http_url_check(NULL, err, sizeof err), GW_EINVAL);
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer, "http://h/", 9);
    assert_int_equal(gw_report_http_url_check(longer, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "1024"));
    longer[GW_REPORT_HTTP_URL_MAX] = '\0';
    assert_int_equal(gw_report_http_url_check(longer, err, sizeof err), GW_OK);
}

static void only_an_mi_message_with_the_tag_owes_a_callback_of_a_final_outcome(void **state)
{
    gw_envelope_t *env = gw_env_new();

    (void)state;
    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->source.adapter, "mi", (size_t)-1), 0);
    assert_false(gw_report_http_asked(env));
    assert_int_equal(gw_env_set_tag(env, GW_REPORT_HTTP_TAG, "http://h/"), 0);
    assert_true(gw_report_http_asked(env));
    assert_true(gw_report_http_wanted(env, GW_ST_DELIVERED, "DELIVRD"));
    assert_true(gw_report_http_wanted(env, GW_ST_FAILED, NULL));
    assert_true(gw_report_http_wanted(env, GW_ST_EXPIRED, NULL));
    assert_false(gw_report_http_wanted(env, GW_ST_SUBMITTED, NULL));
    assert_int_equal(gw_env_set_str(&env->source.adapter, "amqp", (size_t)-1), 0);
    assert_false(gw_report_http_asked(env)); /* a tag from elsewhere aims nothing */
    assert_int_equal(gw_env_set_str(&env->source.adapter, "mi", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->report.of, "01ABC", (size_t)-1), 0);
    assert_false(gw_report_http_asked(env)); /* no callback on a report */
    assert_true(gw_report_http_maybe(GW_REPORT_HTTP_STUB));
    assert_false(gw_report_http_maybe(""));
    assert_false(gw_report_http_maybe(NULL));
    gw_env_unref(env);
}

static void the_document_names_the_message_its_outcome_and_its_receipt(void **state)
{
    gw_report_http_info_t in = {
        .id = "01JABCDEFGHJKMNPQRSTVWXYZ0", .client_ref = "order-17", .from = "4930123",
        .to = "447700900001", .status = GW_ST_DELIVERED, .error = 0, .stat = "DELIVRD",
        .remote_id = "smsc-9", .at_ms = 1796169599123LL, /* 2026-12-01T23:59:59.123Z */
    };
    char *text = gw_report_http_body(&in);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;

    (void)state;
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "event")), "message.delivered");
    assert_string_equal(json_string_value(json_object_get(o, "id")), in.id);
    assert_string_equal(json_string_value(json_object_get(o, "client_ref")), "order-17");
    assert_string_equal(json_string_value(json_object_get(o, "to")), "447700900001");
    assert_string_equal(json_string_value(json_object_get(o, "from")), "4930123");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "delivered");
    assert_true(json_is_null(json_object_get(o, "reason")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "receipt"), "stat")),
                        "DELIVRD");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "receipt"), "remote_id")), "smsc-9");
    assert_string_equal(json_string_value(json_object_get(o, "at")), "2026-12-01T23:59:59.123Z");
    json_decref(o);
    free(text);
}

static void a_failure_without_receipt_has_its_reason_and_no_receipt_or_client_ref(void **state)
{
    gw_report_http_info_t in = {
        .id = "01JABCDEFGHJKMNPQRSTVWXYZ1", .from = "4930123", .to = "447700900002",
        .status = GW_ST_EXPIRED, .reason = "validity ended", .error = 0, .at_ms = 0,
    };
    char *text = gw_report_http_body(&in);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;

    (void)state;
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "event")), "message.expired");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "expired");
    assert_string_equal(json_string_value(json_object_get(o, "reason")), "validity ended");
    assert_null(json_object_get(o, "receipt"));
    assert_null(json_object_get(o, "client_ref"));
    assert_true(json_is_null(json_object_get(o, "remote_id")));
    assert_string_equal(json_string_value(json_object_get(o, "at")), "1970-01-01T00:00:00.000Z");
    json_decref(o);
    free(text);
}

static void kannel_escapes_are_expanded_and_encoded(void **state)
{
    gw_report_http_info_t in = {
        .id = "01JABCDEFGHJKMNPQRSTVWXYZ2", .from = "4930123", .to = "+447700900003",
        .status = GW_ST_DELIVERED, .stat = "DELIVRD", .remote_id = "smsc 7",
        .at_ms = 1796169599123LL, .smsc = "smsc1", .text = "id:x stat:DELIVRD",
    };
    char *url = gw_report_http_kannel_url(
        "http://h/dlr?t=%d&id=%I&f=%F&s=%i&p=%p&P=%P&A=%A&T=%T&w=%t&b=%b&pc=100%%&sp=a%20b&end=%",
        &in);

    (void)state;
    assert_non_null(url);
    assert_string_equal(url, "http://h/dlr?t=1&id=01JABCDEFGHJKMNPQRSTVWXYZ2&f=smsc%207&s=smsc1"
                             "&p=%2B447700900003&P=4930123&A=id%3Ax%20stat%3ADELIVRD"
                             "&T=1796169599&w=2026-12-01%2023%3A59%3A59&b=&pc=100%25&sp=a%20b&end=%");
    free(url);
}

static void kannel_types_and_the_mask_choose_the_outcomes(void **state)
{
    gw_envelope_t *env = gw_env_new();

    (void)state;
    assert_int_equal(gw_report_http_kannel_type(GW_ST_DELIVERED, "DELIVRD"), 1);
    assert_int_equal(gw_report_http_kannel_type(GW_ST_FAILED, "UNDELIV"), 2);
    assert_int_equal(gw_report_http_kannel_type(GW_ST_EXPIRED, NULL), 2);
    assert_int_equal(gw_report_http_kannel_type(GW_ST_FAILED, NULL), 16); /* the SMSC refused */
    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->source.adapter, "mi", (size_t)-1), 0);
    assert_int_equal(gw_env_set_tag(env, GW_REPORT_HTTP_TAG, "http://h/%d"), 0);
    assert_int_equal(gw_env_set_tag(env, GW_REPORT_HTTP_TAG_MASK, "2"), 0);
    assert_false(gw_report_http_wanted(env, GW_ST_DELIVERED, "DELIVRD"));
    assert_true(gw_report_http_wanted(env, GW_ST_FAILED, "UNDELIV"));
    assert_false(gw_report_http_wanted(env, GW_ST_FAILED, NULL));
    assert_int_equal(gw_env_set_tag(env, GW_REPORT_HTTP_TAG_MASK, "17"), 0);
    assert_true(gw_report_http_wanted(env, GW_ST_DELIVERED, "DELIVRD"));
    assert_true(gw_report_http_wanted(env, GW_ST_FAILED, NULL));
    assert_false(gw_report_http_wanted(env, GW_ST_EXPIRED, NULL));
    gw_env_unref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_and_https_urls_with_a_host_are_taken),
        cmocka_unit_test(bad_urls_are_refused_with_the_reason),
        cmocka_unit_test(only_an_mi_message_with_the_tag_owes_a_callback_of_a_final_outcome),
        cmocka_unit_test(the_document_names_the_message_its_outcome_and_its_receipt),
        cmocka_unit_test(a_failure_without_receipt_has_its_reason_and_no_receipt_or_client_ref),
        cmocka_unit_test(kannel_escapes_are_expanded_and_encoded),
        cmocka_unit_test(kannel_types_and_the_mask_choose_the_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
