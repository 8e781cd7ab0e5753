/*
 * test_envelope.c - the envelope's identity, reference counting and JSON form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_envelope.h"

static gw_envelope_t *make_full(void)
{
    gw_envelope_t *e = gw_env_new();

    assert_non_null(e);
    gw_env_set_str(&e->source.adapter, "sip", (size_t)-1);
    gw_env_set_str(&e->source.connector, "sip", (size_t)-1);
    gw_env_set_str(&e->source.peer, "127.0.0.1:5062", (size_t)-1);
    gw_env_set_str(&e->source.domain, "example.com", (size_t)-1);
    gw_env_set_str(&e->from.address, "4915112345678", (size_t)-1);
    e->from.type = GW_ADDR_INTL;
    e->from.ton = 1;
    e->from.npi = 1;
    gw_env_set_str(&e->to.address, "sip:bob@example.org", (size_t)-1);
    e->to.type = GW_ADDR_SIP_URI;
    gw_env_set_str(&e->body, "Grüße, мир \xf0\x9f\x98\x80", (size_t)-1);
    e->body_len = strlen(e->body);
    gw_env_set_str(&e->content_type, "text/plain", (size_t)-1);
    gw_env_set_str(&e->corr.sip_call_id, "abc@host", (size_t)-1);
    gw_env_set_tag(e, "customer", "acme");
    e->expires_at = e->created_at + 60000;
    e->registered_delivery = 1;
    e->data_coding = 8;
    return e;
}

static void json_round_trip_keeps_every_field(void **state)
{
    gw_envelope_t *a = make_full(), *b;
    const char *err = NULL;
    json_t *j = gw_env_to_json(a), *j2;

    (void)state;
    assert_non_null(j);
    b = gw_env_from_json(j, &err);
    assert_null(err);
    assert_non_null(b);
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->expires_at, b->expires_at);
    assert_string_equal(b->source.peer, "127.0.0.1:5062");
    assert_string_equal(b->source.domain, "example.com");
    assert_string_equal(b->from.address, "4915112345678");
    assert_int_equal(b->from.type, GW_ADDR_INTL);
    assert_int_equal(b->from.ton, 1);
    assert_int_equal(b->to.type, GW_ADDR_SIP_URI);
    assert_string_equal(b->body, a->body);
    assert_int_equal(b->body_len, a->body_len);
    assert_string_equal(b->corr.sip_call_id, "abc@host");
    assert_string_equal(json_string_value(json_object_get(b->tags, "customer")), "acme");
    assert_int_equal(b->data_coding, 8);
    /* and the second encoding is identical to the first */
    j2 = gw_env_to_json(b);
    assert_true(json_equal(j, j2));
    json_decref(j);
    json_decref(j2);
    gw_env_unref(a);
    gw_env_unref(b);
}

/* The text writer is the message path's form: it must be the JSON a
 * parser reads back as the same envelope, with peers' bytes escaped. */
static void text_form_is_valid_json_and_escapes_what_peers_send(void **state)
{
    gw_envelope_t *a = make_full(), *b;
    const char *err = NULL;
    static const char body[] = "quote \" back\\slash \r\n tab\t nul\0 end \x01 \xc3\xa9";
    char *text;
    json_t *j;

    (void)state;
    gw_env_set_str(&a->body, body, sizeof body - 1); /* the NUL included */
    a->body_len = sizeof body - 1;
    gw_env_set_str(&a->corr.amqp_message_id, "m\"1", (size_t)-1);
    gw_env_set_tag(a, "k\"ey", "v\\al");
    text = gw_env_to_text(a);
    assert_non_null(text);
    /* one line, no raw control byte */
    for (const char *p = text; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
    j = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert_non_null(j);
    b = gw_env_from_json(j, &err);
    assert_null(err);
    assert_non_null(b);
    assert_int_equal(b->body_len, a->body_len);
    assert_memory_equal(b->body, body, sizeof body - 1);
    assert_string_equal(b->corr.amqp_message_id, "m\"1");
    assert_string_equal(json_string_value(json_object_get(b->tags, "k\"ey")), "v\\al");
    assert_string_equal(b->from.address, a->from.address);
    assert_int_equal(b->to.type, a->to.type);
    json_decref(j);
    free(text);
    gw_env_unref(a);
    gw_env_unref(b);
}

static void binary_body_round_trips_through_base64(void **state)
{
    gw_envelope_t *a = make_full(), *b;
    const char raw[] = { 0x00, 0x01, (char)0xff, 0x7f, 0x00 };
    const char *err;
    json_t *j;

    (void)state;
    free(a->body);
    a->body = malloc(sizeof(raw));
    memcpy(a->body, raw, sizeof(raw));
    a->body_len = sizeof(raw);
    a->binary = 1;
    j = gw_env_to_json(a);
    assert_non_null(json_object_get(j, "body_base64"));
    assert_null(json_object_get(j, "body"));
    b = gw_env_from_json(j, &err);
    assert_non_null(b);
    assert_int_equal(b->binary, 1);
    assert_int_equal(b->body_len, sizeof(raw));
    assert_memory_equal(b->body, raw, sizeof(raw));
    json_decref(j);
    gw_env_unref(a);
    gw_env_unref(b);
}

static void decoding_rejects_missing_to_and_bad_id(void **state)
{
    const char *err = NULL;
    json_t *j;
    gw_envelope_t *e;

    (void)state;
    j = json_loads("{\"id\":\"01HZZZZZZZZZZZZZZZZZZZZZZZ\",\"from\":{\"address\":\"1\"},"
                   "\"body\":\"x\"}", 0, NULL);
    e = gw_env_from_json(j, &err);
    assert_null(e);
    assert_non_null(strstr(err, "to"));
    json_decref(j);
    j = json_loads("{\"id\":\"short\",\"from\":{\"address\":\"1\"},\"to\":{\"address\":\"2\"},"
                   "\"body\":\"x\"}", 0, NULL);
    e = gw_env_from_json(j, &err);
    assert_null(e);
    assert_non_null(strstr(err, "id"));
    json_decref(j);
}

/* Envelopes stored before source.domain existed load without it; one
 * without a domain (not from SIP) writes none. */
static void source_domain_is_optional_both_ways(void **state)
{
    const char *err = NULL;
    json_t *j;
    gw_envelope_t *e;
    char *text;

    (void)state;
    j = json_loads("{\"id\":\"01HZZZZZZZZZZZZZZZZZZZZZZZ\",\"v\":2,\"from\":{\"address\":\"1\"},"
                   "\"to\":{\"address\":\"2\"},\"body\":\"x\","
                   "\"source\":{\"adapter\":\"sip\",\"connector\":\"sip\",\"peer\":\"192.0.2.1:5060\"}}",
                   0, NULL);
    e = gw_env_from_json(j, &err);
    json_decref(j);
    assert_non_null(e);
    assert_string_equal(e->source.peer, "192.0.2.1:5060");
    assert_null(e->source.domain);
    text = gw_env_to_text(e);
    assert_non_null(text);
    assert_null(strstr(text, "\"domain\""));
    free(text);
    gw_env_unref(e);
}

static void decoding_refuses_a_newer_version(void **state)
{
    gw_envelope_t *a = make_full(), *b;
    const char *err = NULL;
    json_t *j = gw_env_to_json(a);

    (void)state;
    json_object_set_new(j, "v", json_integer(GW_ENV_VERSION + 1));
    b = gw_env_from_json(j, &err);
    assert_null(b);
    assert_non_null(strstr(err, "version"));
    json_decref(j);
    gw_env_unref(a);
}

/* Rows and AMQP messages of the previous version name every number
 * "e164"; they read back by their ton, and are written with the new names. */
static void old_e164_addresses_are_read_by_their_ton(void **state)
{
    const char *err = NULL;
    json_t *j = json_pack("{s:s, s:{s:s, s:s, s:i, s:i}, s:{s:s, s:s, s:i, s:i}, s:s}", "id",
                          "01JDQZ5V0000000000000000AB", "from", "address", "03012345", "type",
                          "e164", "ton", 0, "npi", 1, "to", "address", "4915112345678", "type",
                          "e164", "ton", 1, "npi", 1, "body", "x");
    gw_envelope_t *e;
    json_t *out;

    (void)state;
    assert_non_null(j);
    e = gw_env_from_json(j, &err);
    assert_null(err);
    assert_non_null(e);
    assert_int_equal(e->from.type, GW_ADDR_NATIONAL);
    assert_int_equal(e->from.ton, 2);
    assert_int_equal(e->to.type, GW_ADDR_INTL);
    out = gw_env_to_json(e);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "to"), "type")),
                        "international");
    json_decref(out);
    json_decref(j);
    gw_env_unref(e);
}

static void ids_are_unique_and_time_ordered(void **state)
{
    char prev[GW_ENV_ID_LEN + 1], cur[GW_ENV_ID_LEN + 1];
    int i;

    (void)state;
    gw_env_make_id(prev);
    for (i = 0; i < 100000; i++) {
        gw_env_make_id(cur);
        assert_int_equal(strlen(cur), GW_ENV_ID_LEN);
        assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof(cur));
    }
}

/* Each new millisecond draws a new random part (past several refills of
 * the key stream): no two milliseconds' ids share their last 16 digits. */
static void each_millisecond_draws_a_new_random_part(void **state)
{
    enum { MS = 150 };
    static char seen[MS][GW_ENV_ID_LEN + 1];
    char id[GW_ENV_ID_LEN + 1];
    int n = 0;

    (void)state;
    gw_env_make_id(seen[n++]);
    while (n < MS) {
        gw_env_make_id(id);
        if (memcmp(id, seen[n - 1], 10) == 0)
            continue; /* the same millisecond: incremented, not drawn */
        memcpy(seen[n++], id, sizeof id);
    }
    for (int i = 0; i < MS; i++)
        for (int k = i + 1; k < MS; k++)
            assert_true(memcmp(seen[i] + 10, seen[k] + 10, 16) != 0);
}

static void last_unref_frees_and_ref_keeps_alive(void **state)
{
    gw_envelope_t *e = make_full();

    (void)state;
    assert_ptr_equal(gw_env_ref(e), e);
    assert_int_equal(e->refs, 2);
    gw_env_unref(e);
    assert_int_equal(e->refs, 1);
    assert_string_equal(e->to.address, "sip:bob@example.org"); /* still valid */
    gw_env_unref(e); /* ASan build catches a double free or a leak */
    gw_env_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_round_trip_keeps_every_field),
        cmocka_unit_test(text_form_is_valid_json_and_escapes_what_peers_send),
        cmocka_unit_test(binary_body_round_trips_through_base64),
        cmocka_unit_test(decoding_rejects_missing_to_and_bad_id),
        cmocka_unit_test(source_domain_is_optional_both_ways),
        cmocka_unit_test(decoding_refuses_a_newer_version),
        cmocka_unit_test(old_e164_addresses_are_read_by_their_ton),
        cmocka_unit_test(ids_are_unique_and_time_ordered),
        cmocka_unit_test(each_millisecond_draws_a_new_random_part),
        cmocka_unit_test(last_unref_frees_and_ref_keeps_alive),
    };
    return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
