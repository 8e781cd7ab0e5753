/*
 * test_smpp_id.c - the base of an SMSC's message ids in receipts
 * (adapters/smpp/smpp_id.c): exact conversions up to 64 bits, the forms
 * "auto" tries, the aliases a submit names, the conf names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "adapters/smpp/smpp.h"
#include "gw_errors.h"

static void test_decimal_ids_convert_to_hex_exactly_up_to_64_bits(void **state)
{
    char out[SMPP_ID_MAX];
    (void)state;
    assert_int_equal(smpp_id_dec_to_hex("123", out, sizeof out), 0);
    assert_string_equal(out, "7b");
    assert_int_equal(smpp_id_dec_to_hex("0", out, sizeof out), 0);
    assert_string_equal(out, "0");
    /* past 2^53: a double would round these */
    assert_int_equal(smpp_id_dec_to_hex("9007199254740993", out, sizeof out), 0);
    assert_string_equal(out, "20000000000001");
    assert_int_equal(smpp_id_dec_to_hex("18446744073709551615", out, sizeof out), 0);
    assert_string_equal(out, "ffffffffffffffff");
    assert_int_equal(smpp_id_dec_to_hex("00000000000000000000018446744073709551615", out,
                                        sizeof out), 0);
    assert_string_equal(out, "ffffffffffffffff");
}

static void test_hex_ids_convert_to_decimal_exactly_up_to_64_bits(void **state)
{
    char out[SMPP_ID_MAX];
    (void)state;
    assert_int_equal(smpp_id_hex_to_dec("7B", out, sizeof out), 0);
    assert_string_equal(out, "123");
    assert_int_equal(smpp_id_hex_to_dec("ffffffffffffffff", out, sizeof out), 0);
    assert_string_equal(out, "18446744073709551615");
    assert_int_equal(smpp_id_hex_to_dec("20000000000001", out, sizeof out), 0);
    assert_string_equal(out, "9007199254740993");
}

static void test_ids_past_64_bits_or_with_other_characters_do_not_convert(void **state)
{
    char out[SMPP_ID_MAX];
    (void)state;
    assert_int_equal(smpp_id_dec_to_hex("18446744073709551616", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_dec_to_hex("99999999999999999999", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_hex_to_dec("10000000000000000", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_dec_to_hex("12a", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_hex_to_dec("12g", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_hex_to_dec("ab-12", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_dec_to_hex("", out, sizeof out), GW_EINVAL);
    assert_int_equal(smpp_id_dec_to_hex("255", out, 2), GW_EINVAL); /* "ff" needs 3 */
}

static void test_auto_tries_both_readings_of_an_all_digit_id(void **state)
{
    char out[2 * SMPP_ID_MAX];
    (void)state;
    assert_int_equal(smpp_id_forms("123", out, sizeof out), 1);
    assert_string_equal(out, "7b\n291\n");
    assert_int_equal(smpp_id_forms("7b", out, sizeof out), 1);
    assert_string_equal(out, "123\n"); /* hex only */
    assert_int_equal(smpp_id_forms("5", out, sizeof out), 0); /* the same in both */
    assert_string_equal(out, "");
    assert_int_equal(smpp_id_forms("msg-1", out, sizeof out), 0);
}

static void test_the_receipt_id_follows_the_mode(void **state)
{
    char m[SMPP_ID_MAX], alt[2 * SMPP_ID_MAX];
    (void)state;
    assert_int_equal(smpp_id_receipt(SMPP_RIDS_SAME, "123", m, sizeof m, alt, sizeof alt), 0);
    assert_string_equal(m, "123");
    assert_string_equal(alt, "");
    assert_int_equal(smpp_id_receipt(SMPP_RIDS_HEX_DEC, "123", m, sizeof m, alt, sizeof alt), 1);
    assert_string_equal(m, "7b");
    assert_int_equal(smpp_id_receipt(SMPP_RIDS_DEC_HEX, "7b", m, sizeof m, alt, sizeof alt), 1);
    assert_string_equal(m, "123");
    /* not a number of the receipt's base: as written */
    assert_int_equal(smpp_id_receipt(SMPP_RIDS_HEX_DEC, "7b", m, sizeof m, alt, sizeof alt), 0);
    assert_string_equal(m, "7b");
    assert_int_equal(smpp_id_receipt(SMPP_RIDS_AUTO, "123", m, sizeof m, alt, sizeof alt), 2);
    assert_string_equal(m, "123");
    assert_string_equal(alt, "7b\n291\n");
}

static void test_a_submit_names_the_forms_an_early_receipt_was_parked_under(void **state)
{
    const char *ids[] = { "7b", "x-1", "10" };
    char out[512];
    (void)state;
    int n = smpp_id_aliases(ids, 3, out, sizeof out);
    assert_int_equal(n, (int)strlen(out));
    assert_string_equal(out, "123\t7b\na\t10\n16\t10\n");
    assert_int_equal(smpp_id_aliases(ids, 1, out, 5), GW_EINVAL);
    assert_int_equal(smpp_id_aliases(ids + 1, 1, out, sizeof out), 0);
}

/* 1 when lines (each ended by '\n') hold id as one of them. */
static int has_line(const char *lines, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = lines; *p != '\0'; p += strcspn(p, "\n") + 1)
        if (strncmp(p, id, n) == 0 && p[n] == '\n')
            return 1;
    return 0;
}

static void test_the_forms_are_symmetric(void **state)
{
    /* a receipt R matches a submit S when S is among R's forms exactly when
     * R is among S's: so parking R as written and unparking by S's forms
     * meet */
    static const char *const ids[] = { "123", "7b", "291", "10", "a", "16", "ffff",
                                       "65535", "18446744073709551615", "ffffffffffffffff" };
    char fr[2 * SMPP_ID_MAX], fs[2 * SMPP_ID_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        for (size_t j = 0; j < sizeof ids / sizeof ids[0]; j++) {
            smpp_id_forms(ids[i], fr, sizeof fr);
            smpp_id_forms(ids[j], fs, sizeof fs);
            if (has_line(fr, ids[j]) != has_line(fs, ids[i]))
                fail_msg("%s -> %s but not back", ids[i], ids[j]);
        }
}

static void test_conf_names_the_modes(void **state)
{
    (void)state;
    assert_int_equal(smpp_receipt_ids_parse("same"), SMPP_RIDS_SAME);
    assert_int_equal(smpp_receipt_ids_parse("auto"), SMPP_RIDS_AUTO);
    assert_int_equal(smpp_receipt_ids_parse("submit_hex_receipt_dec"), SMPP_RIDS_HEX_DEC);
    assert_int_equal(smpp_receipt_ids_parse("submit_dec_receipt_hex"), SMPP_RIDS_DEC_HEX);
    assert_int_equal(smpp_receipt_ids_parse("hex"), -1);
    assert_int_equal(smpp_receipt_ids_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_ids_convert_to_hex_exactly_up_to_64_bits),
        cmocka_unit_test(test_hex_ids_convert_to_decimal_exactly_up_to_64_bits),
        cmocka_unit_test(test_ids_past_64_bits_or_with_other_characters_do_not_convert),
        cmocka_unit_test(test_auto_tries_both_readings_of_an_all_digit_id),
        cmocka_unit_test(test_the_receipt_id_follows_the_mode),
        cmocka_unit_test(test_a_submit_names_the_forms_an_early_receipt_was_parked_under),
        cmocka_unit_test(test_the_forms_are_symmetric),
        cmocka_unit_test(test_conf_names_the_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
