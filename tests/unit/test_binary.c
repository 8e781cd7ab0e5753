/*
 * test_binary.c - a binary body handed in as text (gateway/gw_binary.c):
 * hex and base64, the UDH's shape, one SMS at most, data_coding, and
 * what lands on the envelope.  Pure functions; one behaviour per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/gw_binary.h"
#include "gateway/gw_errors.h"

static int apply(gw_envelope_t *env, const char *data, const char *enc, const char *udh,
                 long long dc, char *err)
{
    gw_bin_spec_t s = { data, strlen(data), enc, udh, dc };

    err[0] = '\0';
    return gw_bin_apply(env, &s, err, 160);
}

static void test_hex_decodes_either_case_and_refuses_odd_or_foreign_digits(void **state)
{
    uint8_t out[4];

    (void)state;
    assert_int_equal(gw_bin_hex_decode("00aBfF", 6, out, sizeof out), 3);
    assert_memory_equal(out, "\x00\xab\xff", 3);
    assert_int_equal(gw_bin_hex_decode("abc", 3, out, sizeof out), -1);
    assert_int_equal(gw_bin_hex_decode("0g", 2, out, sizeof out), -1);
    assert_int_equal(gw_bin_hex_decode("0000000000", 10, out, sizeof out), -1); /* past cap */
}

static void test_the_envelope_gets_octets_type_coding_and_the_udh_tag(void **state)
{
    gw_envelope_t *env = gw_env_new();
    char err[160];

    (void)state;
    assert_int_equal(apply(env, "00FF", NULL, "0500030A0201", -1, err), 0);
    assert_true(env->binary);
    assert_int_equal(env->body_len, 2);
    assert_memory_equal(env->body, "\x00\xff", 2);
    assert_int_equal(env->data_coding, 4);
    assert_string_equal(env->content_type, "application/octet-stream");
    assert_string_equal(json_string_value(json_object_get(env->tags, "udh")), "0500030a0201");
    gw_env_unref(env);
}

static void test_base64_takes_line_breaks_and_refuses_garbage(void **state)
{
    gw_envelope_t *env = gw_env_new();
    char err[160];

    (void)state;
    assert_int_equal(apply(env, "AAEC\r\nAw==", "base64", NULL, 245, err), 0);
    assert_int_equal(env->body_len, 4);
    assert_int_equal(env->data_coding, 245);
    assert_int_equal(apply(env, "A-B_", "base64", NULL, -1, err), GW_EINVAL);
    assert_non_null(strstr(err, "binary: not valid base64"));
    assert_int_equal(apply(env, "00", "base32", NULL, -1, err), GW_EINVAL);
    assert_non_null(strstr(err, "encoding"));
    gw_env_unref(env);
}

static void test_a_udh_must_hold_its_length_and_whole_elements(void **state)
{
    gw_envelope_t *env = gw_env_new();
    char err[160];
    uint8_t u[16];

    (void)state;
    assert_int_equal(apply(env, "00", NULL, "0500030a02", -1, err), GW_EINVAL); /* UDHL 5, 4 follow */
    assert_non_null(strstr(err, "udh:"));
    assert_int_equal(apply(env, "00", NULL, "04000502", -1, err), GW_EINVAL); /* IE past the UDH */
    assert_int_equal(apply(env, "00", NULL, "0x", -1, err), GW_EINVAL);
    assert_int_equal(gw_bin_udh(env, u, sizeof u), 0); /* none set */
    assert_int_equal(gw_env_set_tag(env, "udh", "0500"), 0);
    assert_int_equal(gw_bin_udh(env, u, sizeof u), -1);
    assert_int_equal(gw_env_set_tag(env, "udh", "0605040b8423f0"), 0);
    assert_int_equal(gw_bin_udh(env, u, sizeof u), 7);
    gw_env_unref(env);
}

static void test_udh_and_octets_fit_one_sms_and_data_coding_one_octet(void **state)
{
    gw_envelope_t *env = gw_env_new();
    char hex[2 * 141 + 1], err[160];

    (void)state;
    memset(hex, 'f', sizeof hex - 1);
    hex[2 * 140] = '\0';
    assert_int_equal(apply(env, hex, NULL, NULL, -1, err), 0);
    hex[2 * 140] = 'f';
    hex[2 * 141] = '\0';
    assert_int_equal(apply(env, hex, NULL, NULL, -1, err), GW_EINVAL);
    assert_non_null(strstr(err, "more than 140 octets"));
    hex[2 * 137] = '\0';
    assert_int_equal(apply(env, hex, NULL, "0401020000", -1, err), GW_EINVAL); /* 5 + 137 */
    assert_int_equal(apply(env, "00", NULL, NULL, 256, err), GW_EINVAL);
    assert_int_equal(apply(env, "00", NULL, NULL, -2, err), GW_EINVAL);
    assert_int_equal(apply(env, "", NULL, NULL, -1, err), GW_EINVAL);
    assert_non_null(strstr(err, "binary: empty"));
    assert_int_equal(apply(env, "", NULL, "0401020000", -1, err), 0); /* a UDH alone */
    gw_env_unref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_decodes_either_case_and_refuses_odd_or_foreign_digits),
        cmocka_unit_test(test_the_envelope_gets_octets_type_coding_and_the_udh_tag),
        cmocka_unit_test(test_base64_takes_line_breaks_and_refuses_garbage),
        cmocka_unit_test(test_a_udh_must_hold_its_length_and_whole_elements),
        cmocka_unit_test(test_udh_and_octets_fit_one_sms_and_data_coding_one_octet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
