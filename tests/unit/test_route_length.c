/*
 * test_route_length.c - the length and coding facets of a routing query
 * (gateway/gw_route.c, gw_route_query): which alphabet a body needs
 * (GSM 03.38 7-bit, UCS-2, binary), its characters, and its SMS parts
 * (160 septets in one part, 153 per part of a long message; 70 / 67
 * UCS-2 units; 140 / 134 octets), with the extension table's characters
 * counted as two septets and a character outside GSM 03.38 making the
 * whole body UCS-2.  Rules filter on these (filters.length, filters
 * coding: docs/routing.md).  Single-threaded, no store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_envelope.h"
#include "gw_route.h"

/* The query of a body (UTF-8 text unless binary) sent with data_coding. */
static rt_query_t tl_query(const char *body, size_t len, int data_coding, int binary)
{
    gw_envelope_t *env = gw_env_new();
    rt_tag_t tags[4];
    rt_query_t q;

    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->body, body, len), 0);
    env->body_len = len;
    env->data_coding = data_coding;
    env->binary = binary;
    gw_route_query(&q, env, tags, 4);
    gw_env_unref(env);
    return q;
}

/* n copies of the UTF-8 text unit into buf (of cap bytes); its length. */
static size_t tl_repeat(char *buf, size_t cap, const char *unit, int n)
{
    size_t u = strlen(unit), len = 0;

    for (int i = 0; i < n && len + u < cap; i++, len += u)
        memcpy(buf + len, unit, u);
    buf[len] = '\0';
    return len;
}

static void tl_expect(const char *unit, int n, rt_coding_t coding, unsigned chars, unsigned parts)
{
    char buf[4096];
    size_t len = tl_repeat(buf, sizeof buf, unit, n);
    rt_query_t q = tl_query(buf, len, 0, 0);

    if (q.coding != coding || q.chars != chars || q.parts != parts)
        fail_msg("%d x \"%s\": coding %d chars %u parts %u, want %d %u %u", n, unit, q.coding,
                 q.chars, q.parts, coding, chars, parts);
}

/* Printable ASCII is one septet a character but '`', which GSM 03.38
 * lacks; the parts step at 160 and then every 153. */
static void test_ascii_is_gsm_one_septet_each_parts_at_160_and_153(void **state)
{
    (void)state;
    tl_expect("a", 160, RT_CODING_GSM, 160, 1);
    tl_expect("a", 161, RT_CODING_GSM, 161, 2);
    tl_expect("a", 306, RT_CODING_GSM, 306, 2);
    tl_expect("a", 307, RT_CODING_GSM, 307, 3);
    tl_expect("Hello, world! 0123456789 @$_?#%&*()+-=/;:<>.\"'\r\n", 3, RT_CODING_GSM, 144, 1);
    tl_expect("Hello, world! 0123456789 @$_?#%&*()+-=/;:<>.\"'\r\n", 4, RT_CODING_GSM, 192, 2);
    tl_expect("`", 1, RT_CODING_UCS2, 1, 1);
    tl_expect("\x7f", 1, RT_CODING_UCS2, 1, 1);
    tl_expect("\t", 1, RT_CODING_UCS2, 1, 1); /* no tab in GSM 03.38 */
}

/* ^ { } \ [ ] ~ | € and form feed are the extension table: two septets. */
static void test_extension_characters_count_two_septets(void **state)
{
    static const char *const ext[] = {"^", "{", "}", "\\", "[", "]", "~", "|", "\xe2\x82\xac", "\f"};
    (void)state;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        tl_expect(ext[i], 80, RT_CODING_GSM, 80, 1); /* 160 septets */
        tl_expect(ext[i], 81, RT_CODING_GSM, 81, 2); /* 162 */
    }
}

/* The default alphabet's Latin-1 and Greek letters are one septet; any
 * other character (Cyrillic, CJK, an emoji) makes the body UCS-2, where
 * a character outside the BMP takes two units. */
static void test_gsm_letters_beyond_ascii_and_what_forces_ucs2(void **state)
{
    (void)state;
    tl_expect("\xc3\xa9", 160, RT_CODING_GSM, 160, 1);       /* é */
    tl_expect("\xc3\x9f\xc3\x91\xc2\xa3", 53, RT_CODING_GSM, 159, 1); /* ß Ñ £ */
    tl_expect("\xce\x94", 161, RT_CODING_GSM, 161, 2);       /* Δ */
    tl_expect("\xd0\x96", 70, RT_CODING_UCS2, 70, 1);        /* Ж */
    tl_expect("\xd0\x96", 71, RT_CODING_UCS2, 71, 2);
    tl_expect("\xe4\xb8\xad", 134, RT_CODING_UCS2, 134, 2);  /* 中 */
    tl_expect("\xe4\xb8\xad", 135, RT_CODING_UCS2, 135, 3);
    tl_expect("\xf0\x9f\x98\x80", 35, RT_CODING_UCS2, 35, 1); /* 😀: 70 units */
    tl_expect("\xf0\x9f\x98\x80", 36, RT_CODING_UCS2, 36, 2);
    tl_expect("\xc3\x87", 1, RT_CODING_GSM, 1, 1);           /* Ç is in the table */
    tl_expect("\xc3\xa7", 1, RT_CODING_UCS2, 1, 1);          /* ç is not */
}

/* A sender's UCS-2 data_coding keeps the body UCS-2 even when every
 * character is GSM; a binary body counts octets. */
static void test_ucs2_data_coding_and_binary_bodies(void **state)
{
    char buf[300];
    rt_query_t q;
    (void)state;
    q = tl_query("abc", 3, 8, 0);
    assert_int_equal(q.coding, RT_CODING_UCS2);
    assert_int_equal(q.parts, 1);
    memset(buf, 0x01, sizeof buf);
    q = tl_query(buf, 140, 4, 1);
    assert_int_equal(q.coding, RT_CODING_BINARY);
    assert_int_equal(q.chars, 140);
    assert_int_equal(q.parts, 1);
    q = tl_query(buf, 141, 4, 1);
    assert_int_equal(q.parts, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_is_gsm_one_septet_each_parts_at_160_and_153),
        cmocka_unit_test(test_extension_characters_count_two_septets),
        cmocka_unit_test(test_gsm_letters_beyond_ascii_and_what_forces_ucs2),
        cmocka_unit_test(test_ucs2_data_coding_and_binary_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
