/*
 * test_log.c - levels and per-module switches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(global_level_filters_every_module),
        cmocka_unit_test(a_module_switch_overrides_the_global_level_both_ways),
        cmocka_unit_test(bad_specs_and_levels_are_refused),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
