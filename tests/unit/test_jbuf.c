/*
 * test_jbuf.c - gw_jbuf: JSON strings escaped as RFC 8259 asks, integers
 * without printf, and a buffer that starts in the caller's storage and
 * moves to the heap only when it outgrows it.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_jbuf.h"

static void test_strings_escape_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    gw_jbuf_t b = { 0 };
    gw_jbuf_strn(&b, "a\"b\\c\n\x01\0z", 9);
    gw_jbuf_put(&b, ",", 1);
    gw_jbuf_str(&b, NULL);
    gw_jbuf_put(&b, ",", 1);
    gw_jbuf_str(&b, "Grüße");
    char *s = gw_jbuf_done(&b);
    assert_string_equal(s, "\"a\\\"b\\\\c\\u000a\\u0001\\u0000z\",null,\"Grüße\"");
    free(s);
}

static void test_integers_are_written_in_decimal_with_their_sign(void **state)
{
    (void)state;
    gw_jbuf_t b = { 0 };
    gw_jbuf_int(&b, 0);
    gw_jbuf_put(&b, " ", 1);
    gw_jbuf_int(&b, 1700000000123LL);
    gw_jbuf_put(&b, " ", 1);
    gw_jbuf_int(&b, -42);
    gw_jbuf_put(&b, " ", 1);
    gw_jbuf_int(&b, LLONG_MIN);
    gw_jbuf_put(&b, " ", 1);
    gw_jbuf_int(&b, LLONG_MAX);
    char *s = gw_jbuf_done(&b);
    assert_string_equal(s, "0 1700000000123 -42 -9223372036854775808 9223372036854775807");
    free(s);
}

static void test_text_that_fits_the_callers_storage_is_handed_out_as_a_heap_copy(void **state)
{
    (void)state;
    char arr[64];
    gw_jbuf_t b = GW_JBUF_IN(arr);
    gw_jbuf_puts(&b, "{\"k\":");
    gw_jbuf_int(&b, 7);
    gw_jbuf_put(&b, "}", 1);
    assert_ptr_equal(b.p, arr);
    char *s = gw_jbuf_done(&b);
    assert_non_null(s);
    assert_ptr_not_equal(s, arr);
    assert_string_equal(s, "{\"k\":7}");
    free(s); /* a heap block: freeing it must be fine (ASan checks) */
}

static void test_text_that_outgrows_the_callers_storage_moves_to_the_heap_intact(void **state)
{
    (void)state;
    char arr[16], want[1100];
    gw_jbuf_t b = GW_JBUF_IN(arr);
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        gw_jbuf_puts(&b, "0123456789");
        memcpy(want + n, "0123456789", 10);
        n += 10;
    }
    want[n] = '\0';
    assert_ptr_not_equal(b.p, arr);
    assert_int_equal(b.len, n);
    char *s = gw_jbuf_done(&b);
    assert_string_equal(s, want);
    free(s);
}

static void test_free_releases_either_kind_of_buffer(void **state)
{
    (void)state;
    char arr[8];
    gw_jbuf_t fixed = GW_JBUF_IN(arr), heap = { 0 }, grown = GW_JBUF_IN(arr);
    gw_jbuf_puts(&fixed, "abc");
    gw_jbuf_puts(&heap, "abc");
    gw_jbuf_puts(&grown, "longer than eight");
    gw_jbuf_free(&fixed);
    gw_jbuf_free(&heap);
    gw_jbuf_free(&grown);
    assert_null(fixed.p);
    assert_null(heap.p);
    assert_null(grown.p);
}

static void test_a_number_is_put_as_its_decimal_digits_without_a_nul(void **state)
{
    char b[24];
    (void)state;
    memset(b, 'x', sizeof b);
    assert_int_equal(gw_put_uint(b, 0), 1);
    assert_memory_equal(b, "0x", 2);
    assert_int_equal(gw_put_uint(b, 5060), 4);
    assert_memory_equal(b, "5060x", 5);
    assert_int_equal(gw_put_uint(b, 4294967295u), 10);
    assert_memory_equal(b, "4294967295", 10);
    assert_int_equal(gw_put_uint(b, 18446744073709551615ull), 20);
    assert_memory_equal(b, "18446744073709551615", 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_escape_quotes_backslashes_and_control_characters),
        cmocka_unit_test(test_integers_are_written_in_decimal_with_their_sign),
        cmocka_unit_test(test_a_number_is_put_as_its_decimal_digits_without_a_nul),
        cmocka_unit_test(test_text_that_fits_the_callers_storage_is_handed_out_as_a_heap_copy),
        cmocka_unit_test(test_text_that_outgrows_the_callers_storage_moves_to_the_heap_intact),
        cmocka_unit_test(test_free_releases_either_kind_of_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
