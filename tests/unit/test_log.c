/*
 * test_log.c - levels and per-module switches; what peers put into log
 * lines is escaped (read back from stderr through a pipe).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/gw_log.h"

static void global_level_filters_every_module(void **state)
{
    (void)state;
    gw_log_set_level(GW_LOG_WARN);
    assert_true(gw_log_enabled("sip", GW_LOG_ERR));
    assert_true(gw_log_enabled("sip", GW_LOG_WARN));
    assert_false(gw_log_enabled("sip", GW_LOG_INFO));
}

static void a_module_switch_overrides_the_global_level_both_ways(void **state)
{
    (void)state;
    gw_log_set_level(GW_LOG_INFO);
    assert_int_equal(gw_log_apply_spec("sip=debug,smpp=err"), 0);
    assert_true(gw_log_enabled("sip", GW_LOG_DEBUG));
    assert_false(gw_log_enabled("smpp", GW_LOG_WARN));
    assert_true(gw_log_enabled("amqp", GW_LOG_INFO));
    assert_false(gw_log_enabled("amqp", GW_LOG_DEBUG));
    assert_int_equal(gw_log_apply_spec("sip=default"), 0);
    assert_false(gw_log_enabled("sip", GW_LOG_DEBUG));
}

static void bad_specs_and_levels_are_refused(void **state)
{
    (void)state;
    assert_int_equal(gw_log_apply_spec("sip"), -1);
    assert_int_equal(gw_log_apply_spec("sip=loud"), -1);
    assert_int_equal(gw_log_level_parse("warning"), GW_LOG_WARN);
    assert_int_equal(gw_log_level_parse("3"), GW_LOG_DEBUG);
    assert_int_equal(gw_log_level_parse("verbose"), -1);
}

/* One gw_log_write of text (as a peer's string) read back from stderr;
 * returns the bytes in out (NUL-terminated). */
static size_t logged(const char *text, char *out, size_t cap)
{
    int fds[2], saved;
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    gw_log_write("sip", GW_LOG_INFO, "From: %s", text);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(fds[1]);
    n = read(fds[0], out, cap - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
    return (size_t)n;
}

static size_t count_char(const char *s, char c)
{
    size_t k = 0;
    for (; *s; s++)
        k += *s == c;
    return k;
}

static void a_crlf_from_a_peer_cannot_forge_a_second_line(void **state)
{
    char out[512];
    size_t n;
    (void)state;
    n = logged("alice\r\n2026-12-01T00:00:00.000Z ERROR [core] forged", out, sizeof(out));
    assert_int_equal(count_char(out, '\n'), 1); /* the line's own end only */
    assert_int_equal(out[n - 1], '\n');
    assert_null(strchr(out, '\r'));
    assert_non_null(
        strstr(out, "[sip] From: alice\\r\\n2026-12-01T00:00:00.000Z ERROR [core] forged\n"));
}

static void control_bytes_and_invalid_utf8_become_hex_escapes(void **state)
{
    char out[512];
    (void)state;
    logged("a\tb\x1b[31mred\x7f \xc3\x28 \xff \xc0\x80 \xed\xa0\x80 \xe2\x82", out, sizeof(out));
    assert_non_null(strstr(out, "From: a\\tb\\x1b[31mred\\x7f \\xc3( \\xff \\xc0\\x80 "
                                "\\xed\\xa0\\x80 \\xe2\\x82\n"));
}

static void valid_utf8_is_kept_as_it_is(void **state)
{
    char out[512];
    (void)state;
    logged("Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80", out, sizeof(out));
    assert_non_null(strstr(out, "From: Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80\n"));
}

static void escaping_never_cuts_an_escape_or_a_character_in_half(void **state)
{
    char out[8];
    (void)state;
    /* "ab" + "\n" fit in 4; "\x01" (4) would not fit in the last 2 */
    assert_int_equal(gw_log_escape(out, 6, "ab\n\x01", 4), 4);
    assert_memory_equal(out, "ab\\n", 4);
    /* a 4-byte emoji that does not fit whole is left out */
    assert_int_equal(gw_log_escape(out, 4, "a\xf0\x9f\x98\x80", 5), 1);
    assert_int_equal(gw_log_escape(out, 5, "a\xf0\x9f\x98\x80", 5), 5);
    assert_memory_equal(out, "a\xf0\x9f\x98\x80", 5);
}

static void a_long_line_is_cut_but_stays_one_line(void **state)
{
    char text[3000], out[8192];
    size_t n;
    (void)state;
    memset(text, '\n', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    n = logged(text, out, sizeof(out));
    assert_true(n <= 4096);
    assert_int_equal(count_char(out, '\n'), 1);
    assert_int_equal(out[n - 1], '\n');
    assert_int_equal(out[n - 2], 'n');
    assert_int_equal(out[n - 3], '\\');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(global_level_filters_every_module),
        cmocka_unit_test(a_module_switch_overrides_the_global_level_both_ways),
        cmocka_unit_test(bad_specs_and_levels_are_refused),
        cmocka_unit_test(a_crlf_from_a_peer_cannot_forge_a_second_line),
        cmocka_unit_test(control_bytes_and_invalid_utf8_become_hex_escapes),
        cmocka_unit_test(valid_utf8_is_kept_as_it_is),
        cmocka_unit_test(escaping_never_cuts_an_escape_or_a_character_in_half),
        cmocka_unit_test(a_long_line_is_cut_but_stays_one_line),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
