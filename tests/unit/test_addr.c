/*
 * test_addr.c - gateway/gw_addr.c: one normalisation for every surface, the
 * SMPP and SIP forms, the stored form of the previous version.  Tables of
 * inputs and the address each must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/gw_addr.h"
#include "gateway/gw_errors.h"

typedef struct {
    const char *text;
    int ton, npi; /* what the surface gave: GW_ADDR_TON_NONE unless SMPP */
    const char *address;
    gw_addr_type_t type;
    int want_ton, want_npi;
} addr_case_t;

static void check_cases(const addr_case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gw_addr_t a = { 0 };
        int rc = gw_addr_normalise(&a, c[i].text, c[i].ton, c[i].npi);
        if (rc != 0)
            fail_msg("\"%s\" (ton %d): rc %d", c[i].text, c[i].ton, rc);
        if (strcmp(a.address, c[i].address) != 0 || a.type != c[i].type ||
            a.ton != c[i].want_ton || a.npi != c[i].want_npi)
            fail_msg("\"%s\" (ton %d): got \"%s\" %s %d/%d, want \"%s\" %s %d/%d", c[i].text,
                     c[i].ton, a.address, gw_addr_type_name(a.type), a.ton, a.npi,
                     c[i].address, gw_addr_type_name(c[i].type), c[i].want_ton, c[i].want_npi);
        free(a.address);
    }
}

#define NONE GW_ADDR_TON_NONE

static void numbers_from_text_are_classified_by_the_prefix_rules(void **s)
{
    static const addr_case_t cases[] = {
        { "+4915112345678", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "004915112345678", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "4915112345678", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "015112345678", NONE, 0, "015112345678", GW_ADDR_NATIONAL, 2, 1 },
        { "2020", NONE, 0, "2020", GW_ADDR_SHORT, 0, 1 },
        { "123456", NONE, 0, "123456", GW_ADDR_SHORT, 0, 1 },
        { "1234567", NONE, 0, "1234567", GW_ADDR_INTL, 1, 1 },
        { "0", NONE, 0, "0", GW_ADDR_SHORT, 0, 1 },
        { "+1", NONE, 0, "1", GW_ADDR_INTL, 1, 1 },
        { "12345678901234567890", NONE, 0, "12345678901234567890", GW_ADDR_INTL, 1, 1 },
    };
    (void)s;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void names_are_alphanumeric(void **s)
{
    static const addr_case_t cases[] = {
        { "MyShop", NONE, 0, "MyShop", GW_ADDR_ALNUM, 5, 0 },
        { "My Shop", NONE, 0, "My Shop", GW_ADDR_ALNUM, 5, 0 },
        { "49-151", NONE, 0, "49-151", GW_ADDR_ALNUM, 5, 0 }, /* separators only in URIs */
        { "alice@example.com", NONE, 0, "alice@example.com", GW_ADDR_ALNUM, 5, 0 },
    };
    (void)s;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void sip_uris_with_a_number_are_that_number(void **s)
{
    static const addr_case_t cases[] = {
        { "sip:+4915112345678@gw.example", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "sip:+4915112345678@gw.example;user=phone", NONE, 0, "4915112345678", GW_ADDR_INTL,
          1, 1 },
        { "sips:004915112345678@gw.example", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "sip:4915112345678@gw.example:5060", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "sip:015112345678@gw.example", NONE, 0, "015112345678", GW_ADDR_NATIONAL, 2, 1 },
        { "sip:2020@gw.example", NONE, 0, "2020", GW_ADDR_SHORT, 0, 1 },
        { "SIP:+49-151-1234-5678@gw.example", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "sip:+4915112345678;isub=1@gw.example", NONE, 0, "4915112345678", GW_ADDR_INTL, 1,
          1 },
    };
    (void)s;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void sip_uris_with_a_name_stay_uris(void **s)
{
    static const addr_case_t cases[] = {
        { "sip:alice@example.com", NONE, 0, "sip:alice@example.com", GW_ADDR_SIP_URI, 0, 0 },
        { "sips:alice@example.com", NONE, 0, "sips:alice@example.com", GW_ADDR_SIP_URI, 0, 0 },
        { "sip:+49abc@example.com", NONE, 0, "sip:+49abc@example.com", GW_ADDR_SIP_URI, 0, 0 },
        { "sip:example.com", NONE, 0, "sip:example.com", GW_ADDR_SIP_URI, 0, 0 },
        { "sip:+@example.com", NONE, 0, "sip:+@example.com", GW_ADDR_SIP_URI, 0, 0 },
    };
    (void)s;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void tel_uris_are_their_number(void **s)
{
    static const addr_case_t cases[] = {
        { "tel:+4915112345678", NONE, 0, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "tel:+49-151-12345678;phone-context=example.com", NONE, 0, "4915112345678",
          GW_ADDR_INTL, 1, 1 },
        { "TEL:2020;phone-context=example.com", NONE, 0, "2020", GW_ADDR_SHORT, 0, 1 },
        { "tel:015112345678;phone-context=+49", NONE, 0, "015112345678", GW_ADDR_NATIONAL, 2,
          1 },
        { "tel:*100#;phone-context=example.com", NONE, 0, "tel:*100#;phone-context=example.com",
          GW_ADDR_TEL_URI, 0, 0 },
    };
    (void)s;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void smpp_text_keeps_the_meaning_of_its_ton(void **s)
{
    static const addr_case_t cases[] = {
        { "4915112345678", 0, 1, "4915112345678", GW_ADDR_INTL, 1, 1 }, /* same as SIP, MI */
        { "4915112345678", 1, 1, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "+4915112345678", 1, 1, "4915112345678", GW_ADDR_INTL, 1, 1 },
        { "2020", 1, 1, "2020", GW_ADDR_INTL, 1, 1 },
        { "15112345678", 2, 1, "015112345678", GW_ADDR_NATIONAL, 2, 1 },
        { "015112345678", 2, 1, "015112345678", GW_ADDR_NATIONAL, 2, 1 },
        { "2020", 3, 0, "2020", GW_ADDR_SHORT, 3, 0 },
        { "2020", 0, 1, "2020", GW_ADDR_SHORT, 0, 1 },
        { "12345", 5, 0, "12345", GW_ADDR_ALNUM, 5, 0 },
        { "Alice", 5, 0, "Alice", GW_ADDR_ALNUM, 5, 0 },
        { "Alice", 1, 1, "Alice", GW_ADDR_ALNUM, 5, 0 }, /* the TON cannot hold: by the text */
        { "015112345678", 0, 0, "015112345678", GW_ADDR_NATIONAL, 2, 1 },
    };
    (void)s;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void bad_inputs_are_refused_and_leave_the_address_alone(void **s)
{
    static const char *const bad[] = {
        "", " 4915112345678", "MyShop ", "line\r\nbreak", "tab\there", "del\x7f",
        "caf\xc3\xa9", "+", "+49 151", "+49abc", "00", "123456789012345678901",
        "sip:", "tel:", "tel:;phone-context=x",
    };
    char longtext[300];
    gw_addr_t a = { NULL, GW_ADDR_SHORT, 3, 0 };
    (void)s;
    assert_int_equal(gw_addr_normalise(&a, "2020", 3, 0), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gw_addr_normalise(&a, bad[i], GW_ADDR_TON_NONE, 0) != GW_EINVAL)
            fail_msg("\"%s\" was accepted as \"%s\"", bad[i], a.address);
    }
    assert_int_equal(gw_addr_normalise(&a, NULL, GW_ADDR_TON_NONE, 0), GW_EINVAL);
    assert_int_equal(gw_addr_normalise(&a, "\x01", 5, 0), GW_EINVAL);
    memset(longtext, 'a', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    assert_int_equal(gw_addr_normalise(&a, longtext, GW_ADDR_TON_NONE, 0), GW_EINVAL);
    longtext[GW_ADDR_MAX] = '\0';
    assert_int_equal(gw_addr_normalise(&a, longtext, GW_ADDR_TON_NONE, 0), 0);
    assert_int_equal(a.type, GW_ADDR_ALNUM);
    longtext[GW_ADDR_MAX] = 'a';
    assert_int_equal(gw_addr_normalise(&a, longtext, GW_ADDR_TON_NONE, 0), GW_EINVAL);
    assert_int_equal(strlen(a.address), GW_ADDR_MAX); /* the last good one stays */
    free(a.address);
}

typedef struct {
    const char *text;
    int ton, npi;
    const char *out;
    int out_ton, out_npi;
} smpp_case_t;

static void the_smpp_form_of_every_kind(void **s)
{
    static const smpp_case_t cases[] = {
        { "+4915112345678", NONE, 0, "4915112345678", 1, 1 },
        { "sip:+4915112345678@gw.example", NONE, 0, "4915112345678", 1, 1 },
        { "tel:+4915112345678", NONE, 0, "4915112345678", 1, 1 },
        { "015112345678", NONE, 0, "15112345678", 2, 1 }, /* TON 2: no national prefix */
        { "15112345678", 2, 1, "15112345678", 2, 1 },
        { "2020", NONE, 0, "2020", 0, 1 },
        { "2020", 3, 0, "2020", 3, 0 },
        { "MyShop", NONE, 0, "MyShop", 5, 0 },
        { "VeryLongShopName", NONE, 0, "VeryLongSho", 5, 0 },
        { "sip:alice@example.com", NONE, 0, "alice", 5, 0 },
        { "sip:averyverylongname@example.com", NONE, 0, "averyverylo", 5, 0 },
        { "sip:example.com", NONE, 0, "example.com", 5, 0 },
        { "tel:*100#;phone-context=example.com", NONE, 0, "*100#", 0, 1 },
    };
    (void)s;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_addr_t a = { 0 };
        uint8_t ton = 99, npi = 99;
        char out[21];
        assert_int_equal(gw_addr_normalise(&a, cases[i].text, cases[i].ton, cases[i].npi), 0);
        assert_int_equal(gw_addr_to_smpp(&a, &ton, &npi, out, sizeof(out)), 0);
        if (strcmp(out, cases[i].out) != 0 || ton != cases[i].out_ton || npi != cases[i].out_npi)
            fail_msg("\"%s\": got \"%s\" %d/%d, want \"%s\" %d/%d", cases[i].text, out, ton, npi,
                     cases[i].out, cases[i].out_ton, cases[i].out_npi);
        free(a.address);
    }
}

static void the_smpp_form_refuses_what_does_not_fit(void **s)
{
    gw_addr_t a = { "12345678901234567890", GW_ADDR_INTL, 1, 1 };
    gw_addr_t empty = { "", GW_ADDR_ALNUM, 5, 0 };
    uint8_t ton, npi;
    char out[21], small[8];
    (void)s;
    assert_int_equal(gw_addr_to_smpp(&a, &ton, &npi, out, sizeof(out)), 0);
    assert_int_equal(gw_addr_to_smpp(&a, &ton, &npi, small, sizeof(small)), GW_EINVAL);
    assert_int_equal(gw_addr_to_smpp(&empty, &ton, &npi, out, sizeof(out)), GW_EINVAL);
}

static void the_sip_user_part_of_every_kind(void **s)
{
    static const char *const cases[][2] = {
        { "+4915112345678", "+4915112345678" },
        { "015112345678", "015112345678" },
        { "2020", "2020" },
        { "MyShop", "MyShop" },
        { "sip:alice@example.com;transport=tcp", "alice" },
        { "tel:*100#;phone-context=example.com", "*100#" },
    };
    char out[64];
    gw_addr_t none = { "sip:example.com", GW_ADDR_SIP_URI, 0, 0 };
    (void)s;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_addr_t a = { 0 };
        assert_int_equal(gw_addr_normalise(&a, cases[i][0], GW_ADDR_TON_NONE, 0), 0);
        assert_int_equal(gw_addr_sip_user(&a, out, sizeof(out)), 0);
        assert_string_equal(out, cases[i][1]);
        free(a.address);
    }
    assert_int_equal(gw_addr_sip_user(&none, out, sizeof(out)), GW_EINVAL);
}

static void stored_names_round_trip_and_e164_is_mapped_by_ton(void **s)
{
    gw_addr_t a = { 0 };
    (void)s;
    for (int t = 0; t < GW_ADDR__COUNT; t++)
        assert_int_equal(gw_addr_type_parse(gw_addr_type_name((gw_addr_type_t)t)), t);
    assert_int_equal(gw_addr_type_parse("e164"), -1);
    assert_int_equal(gw_addr_load(&a, "4915112345678", "e164", 1, 1), 0);
    assert_int_equal(a.type, GW_ADDR_INTL);
    assert_int_equal(gw_addr_load(&a, "03012345", "e164", 0, 1), 0);
    assert_int_equal(a.type, GW_ADDR_NATIONAL);
    assert_int_equal(a.ton, 2);
    assert_int_equal(gw_addr_load(&a, "2020", "e164", 3, 0), 0);
    assert_int_equal(a.type, GW_ADDR_SHORT);
    assert_int_equal(a.ton, 3);
    assert_int_equal(gw_addr_load(&a, "4930123", NULL, 0, 0), 0);
    assert_int_equal(a.type, GW_ADDR_INTL);
    assert_int_equal(gw_addr_load(&a, "2020", "short", 3, 0), 0);
    assert_int_equal(a.type, GW_ADDR_SHORT);
    assert_int_equal(a.ton, 3);
    assert_int_equal(gw_addr_load(&a, "", "alnum", 0, 0), 0); /* SMSC fills the source */
    assert_int_equal(gw_addr_load(&a, "x", "phone", 0, 0), GW_EINVAL);
    assert_int_equal(gw_addr_load(&a, "a\nb", "alnum", 5, 0), GW_EINVAL);
    free(a.address);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_from_text_are_classified_by_the_prefix_rules),
        cmocka_unit_test(names_are_alphanumeric),
        cmocka_unit_test(sip_uris_with_a_number_are_that_number),
        cmocka_unit_test(sip_uris_with_a_name_stay_uris),
        cmocka_unit_test(tel_uris_are_their_number),
        cmocka_unit_test(smpp_text_keeps_the_meaning_of_its_ton),
        cmocka_unit_test(bad_inputs_are_refused_and_leave_the_address_alone),
        cmocka_unit_test(the_smpp_form_of_every_kind),
        cmocka_unit_test(the_smpp_form_refuses_what_does_not_fit),
        cmocka_unit_test(the_sip_user_part_of_every_kind),
        cmocka_unit_test(stored_names_round_trip_and_e164_is_mapped_by_ton),
    };
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
