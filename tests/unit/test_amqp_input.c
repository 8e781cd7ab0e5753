/*
 * test_amqp_input.c - what an AMQP delivery must hold to become a message
 * (docs/amqp-in.schema.json), the envelope it becomes, and the dedup
 * table's window and bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "adapters/amqp/amqp_in_int.h"
#include "gateway/gw_errors.h"

static const amqp_in_meta_t meta = { "in", "sms.in", "sms.out", "m-1", "c-1", NULL, NULL };

static int build(const char *text, gw_envelope_t **env, char *err, size_t errlen)
{
    err[0] = '\0';
    return amqp_input_envelope(text, strlen(text), &meta, env, err, errlen);
}

static void test_a_full_message_becomes_an_envelope(void **state)
{
    gw_envelope_t *env;
    char err[256];

    (void)state;
    assert_int_equal(build("{\"to\":\"+4915112345678\",\"from\":\"Acme\",\"text\":\"hi\","
                           "\"receipt\":true,\"validity_s\":60,\"tags\":{\"k\":\"v\"},"
                           "\"client_ref\":\"r1\",\"coding\":\"ucs2\",\"connector\":\"smsc1\","
                           "\"route_hint\":\"bulk\"}", &env, err, sizeof err), 0);
    assert_string_equal(env->to.address, "4915112345678");
    assert_string_equal(env->from.address, "Acme");
    assert_string_equal(env->body, "hi");
    assert_int_equal(env->registered_delivery, 1);
    assert_true(env->expires_at > gw_now_ms());
    assert_string_equal(env->source.adapter, "amqp");
    assert_string_equal(env->source.connector, "in");
    assert_string_equal(env->source.peer, "sms.in");
    assert_string_equal(env->corr.amqp_message_id, "m-1");
    assert_string_equal(env->corr.amqp_correlation_id, "c-1");
    assert_string_equal(json_string_value(json_object_get(env->tags, "sender")), "amqp:in/sms.in");
    assert_string_equal(json_string_value(json_object_get(env->tags, "k")), "v");
    assert_string_equal(json_string_value(json_object_get(env->tags, "client_ref")), "r1");
    assert_string_equal(json_string_value(json_object_get(env->tags, "coding")), "ucs2");
    assert_string_equal(json_string_value(json_object_get(env->tags, "connector")), "smsc1");
    assert_string_equal(json_string_value(json_object_get(env->tags, "route_hint")), "bulk");
    assert_string_equal(json_string_value(json_object_get(env->tags, "amqp_routing_key")),
                        "sms.out");
    gw_env_unref(env);
}

static void test_headers_and_properties_become_tags(void **state)
{
    amqp_table_entry_t h[3];
    amqp_basic_properties_t p;
    amqp_in_meta_t m = meta;
    gw_envelope_t *env;
    char err[256];
    const char *body = "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\"}";

    (void)state;
    memset(&p, 0, sizeof p);
    memset(h, 0, sizeof h);
    h[0].key = amqp_cstring_bytes("tenant");
    h[0].value.kind = AMQP_FIELD_KIND_UTF8;
    h[0].value.value.bytes = amqp_cstring_bytes("acme");
    h[1].key = amqp_cstring_bytes("count");
    h[1].value.kind = AMQP_FIELD_KIND_I32; /* not a string: left out */
    h[1].value.value.i32 = 3;
    h[2].key = amqp_cstring_bytes("x-app");
    h[2].value.kind = AMQP_FIELD_KIND_BYTES;
    h[2].value.value.bytes = amqp_cstring_bytes("crm");
    p._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG;
    p.headers.num_entries = 3;
    p.headers.entries = h;
    p.type = amqp_cstring_bytes("sms");
    p.app_id = amqp_cstring_bytes("crm-7");
    m.props = &p;
    assert_int_equal(amqp_input_envelope(body, strlen(body), &m, &env, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(env->tags, "amqp_header.tenant")), "acme");
    assert_string_equal(json_string_value(json_object_get(env->tags, "amqp_header.x-app")), "crm");
    assert_null(json_object_get(env->tags, "amqp_header.count"));
    assert_string_equal(json_string_value(json_object_get(env->tags, "amqp_type")), "sms");
    assert_string_equal(json_string_value(json_object_get(env->tags, "amqp_app_id")), "crm-7");
    gw_env_unref(env);
}

static void test_bad_input_is_refused_with_a_reason(void **state)
{
    static const char *const bad[][2] = {
        { "nope", "not JSON" },
        { "[1]", "not a JSON object" },
        { "{\"from\":\"A\",\"text\":\"x\"}", "to: missing" },
        { "{\"to\":\"49\",\"text\":\"x\"}", "from: missing" },
        { "{\"to\":\"49\",\"from\":\"A\"}", "exactly one of text and binary" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"binary\":\"00\"}",
          "exactly one of text and binary" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"0g\"}", "binary: not valid hex" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"abc\"}", "binary: not valid hex" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"@@@@\",\"encoding\":\"base64\"}",
          "binary: not valid base64" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"00\",\"encoding\":\"b32\"}",
          "encoding must be hex or base64" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"00\",\"udh\":\"0500\"}", "udh: " },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"00\",\"data_coding\":256}",
          "data_coding" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"\"}", "binary: empty" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"udh\":\"00\"}",
          "go with binary" },
        { "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"00\",\"tags\":{\"udh\":\"0500\"}}",
          "tags" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"x\":1}", "unknown member \"x\"" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"validity_s\":0}", "validity_s" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"receipt\":1}", "receipt" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"coding\":\"latin\"}", "coding" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"tags\":{\"sender\":\"me\"}}", "tags" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":\"x\",\"tags\":{\"k\":1}}", "tags" },
        { "{\"to\":\"49\",\"from\":\"A\",\"text\":5}", "text: not a" },
        { "{\"to\":\"49\",\"to\":\"50\",\"from\":\"A\",\"text\":\"x\"}", "not JSON" },
    };
    gw_envelope_t *env;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        env = (gw_envelope_t *)1;
        assert_int_equal(build(bad[i][0], &env, err, sizeof err), GW_EINVAL);
        assert_null(env);
        if (strstr(err, bad[i][1]) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", bad[i][0], err, bad[i][1]);
    }
}

/* 141 octets as hex: one past one SMS. */
static void test_binary_past_one_sms_is_refused(void **state)
{
    char body[512], hex[2 * 141 + 1];
    gw_envelope_t *env;
    char err[256];

    (void)state;
    memset(hex, 'a', sizeof hex - 1);
    hex[sizeof hex - 1] = '\0';
    snprintf(body, sizeof body, "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"%s\"}", hex);
    assert_int_equal(build(body, &env, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "more than 140 octets"));
    /* 134 octets and a 7-octet UDH: 141 as well */
    hex[2 * 134] = '\0';
    snprintf(body, sizeof body,
             "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"%s\",\"udh\":\"06050415810000\"}",
             hex);
    assert_int_equal(build(body, &env, err, sizeof err), GW_EINVAL);
    hex[2 * 133] = '\0';
    snprintf(body, sizeof body,
             "{\"to\":\"49\",\"from\":\"A\",\"binary\":\"%s\",\"udh\":\"06050415810000\"}",
             hex);
    assert_int_equal(build(body, &env, err, sizeof err), 0);
    assert_int_equal(env->body_len, 133);
    gw_env_unref(env);
}

static void test_binary_hex_and_base64_become_the_octets(void **state)
{
    gw_envelope_t *env;
    char err[256];

    (void)state;
    assert_int_equal(build("{\"to\":\"49\",\"from\":\"A\",\"binary\":\"00FF10\","
                           "\"udh\":\"06050415810000\"}", &env, err, sizeof err), 0);
    assert_true(env->binary);
    assert_int_equal(env->body_len, 3);
    assert_memory_equal(env->body, "\x00\xff\x10", 3);
    assert_int_equal(env->data_coding, 4);
    assert_string_equal(env->content_type, "application/octet-stream");
    assert_string_equal(json_string_value(json_object_get(env->tags, "udh")), "06050415810000");
    gw_env_unref(env);
    assert_int_equal(build("{\"to\":\"49\",\"from\":\"A\",\"binary\":\"AP8Q\","
                           "\"encoding\":\"base64\",\"data_coding\":245}", &env, err, sizeof err), 0);
    assert_int_equal(env->body_len, 3);
    assert_memory_equal(env->body, "\x00\xff\x10", 3);
    assert_int_equal(env->data_coding, 245);
    assert_null(json_object_get(env->tags, "udh"));
    gw_env_unref(env);
}

static void test_dedup_finds_within_the_window_only(void **state)
{
    amqp_dedup_t t;

    (void)state;
    assert_int_equal(amqp_dedup_init(&t, 16, 1000), 0);
    assert_null(amqp_dedup_find(&t, "a", 0));
    assert_non_null(amqp_dedup_add(&t, "a", "01AAAAAAAAAAAAAAAAAAAAAAAA", 0));
    assert_string_equal(amqp_dedup_find(&t, "a", 999)->jid, "01AAAAAAAAAAAAAAAAAAAAAAAA");
    assert_null(amqp_dedup_find(&t, "a", 1000));
    assert_null(amqp_dedup_find(&t, "b", 10));
    assert_null(amqp_dedup_add(&t, "", "x", 0)); /* no message_id: nothing to remember */
    assert_null(amqp_dedup_find(&t, NULL, 0));
    amqp_dedup_free(&t);
}

static void test_dedup_forgets_the_oldest_past_its_bound(void **state)
{
    char id[16];
    amqp_dedup_t t;

    (void)state;
    assert_int_equal(amqp_dedup_init(&t, 16, 1000000), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "m%d", i);
        amqp_dedup_add(&t, id, "01AAAAAAAAAAAAAAAAAAAAAAAA", i);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "m%d", i);
        if (i < 4)
            assert_null(amqp_dedup_find(&t, id, 100));
        else
            assert_non_null(amqp_dedup_find(&t, id, 100));
    }
    amqp_dedup_forget(&t, "m10", "01AAAAAAAAAAAAAAAAAAAAAAAA");
    assert_null(amqp_dedup_find(&t, "m10", 100));
    assert_non_null(amqp_dedup_find(&t, "m11", 100));
    amqp_dedup_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_full_message_becomes_an_envelope),
        cmocka_unit_test(test_headers_and_properties_become_tags),
        cmocka_unit_test(test_bad_input_is_refused_with_a_reason),
        cmocka_unit_test(test_binary_hex_and_base64_become_the_octets),
        cmocka_unit_test(test_binary_past_one_sms_is_refused),
        cmocka_unit_test(test_dedup_finds_within_the_window_only),
        cmocka_unit_test(test_dedup_forgets_the_oldest_past_its_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
