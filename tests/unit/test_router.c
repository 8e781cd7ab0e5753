/*
 * test_router.c - behaviour of the rule engine (router/rt.c).
 *
 * Each test builds its own table from rule specs and matches hand-made
 * envelopes; no I/O.  Single-threaded (cmocka's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "router/rt.h"
#include "gw_errors.h"

/* An envelope from source adapter/connector, from -> to; caller unrefs. */
static gw_envelope_t *test_env(const char *adapter, const char *connector, const char *from,
                               const char *to)
{
    gw_envelope_t *env = gw_env_new();
    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->source.adapter, adapter, (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->source.connector, connector, (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->from.address, from, (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->to.address, to, (size_t)-1), 0);
    return env;
}

static rt_rule_spec_t test_spec(long long id, const char *name, int priority,
                                const char *dst_prefix, const char *target)
{
    rt_rule_spec_t s;
    memset(&s, 0, sizeof s);
    s.id = id;
    s.name = name;
    s.priority = priority;
    s.dst_prefix = dst_prefix;
    s.target = target;
    s.enabled = 1;
    return s;
}

static void test_add(rt_table_t *t, rt_rule_spec_t s)
{
    char err[256] = "";
    assert_int_equal(rt_table_add(t, &s, err, sizeof err), 0);
}

/* Name of the target the table picks for env, or NULL. */
static const char *test_target(const rt_table_t *t, const gw_envelope_t *env)
{
    const rt_rule_t *r = rt_match(t, env);
    return r != NULL ? rt_rule_target(r) : NULL;
}

static void test_prefix_match_picks_rule_by_destination(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(1, "fr", 10, "33", "smsc-fr"));
    test_add(t, test_spec(2, "de", 10, "49", "smsc-de"));
    rt_table_seal(t);
    gw_envelope_t *fr = test_env("sip", "sip0", "100", "33612345678");
    gw_envelope_t *de = test_env("sip", "sip0", "100", "4915112345");
    assert_string_equal(test_target(t, fr), "smsc-fr");
    assert_string_equal(test_target(t, de), "smsc-de");
    gw_env_unref(fr);
    gw_env_unref(de);
    rt_table_unref(t);
}

/* The router matches to.address as gw_addr_normalise left it: one
 * international prefix rule serves every way of writing the number. */
static void test_prefix_matches_every_written_form_once_normalised(void **state)
{
    static const char *const intl[] = { "+4915112345678", "004915112345678", "4915112345678",
                                        "sip:+4915112345678@gw.example",
                                        "tel:+49-151-12345678;phone-context=example.com" };
    (void)state;
    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(1, "de", 10, "49", "smsc-de"));
    test_add(t, test_spec(2, "national", 20, "0151", "smsc-national"));
    test_add(t, test_spec(3, "short", 30, "2020", "shortcodes"));
    rt_table_seal(t);
    for (size_t i = 0; i < sizeof(intl) / sizeof(intl[0]); i++) {
        gw_envelope_t *env = test_env("sip", "sip0", "100", "-");
        assert_int_equal(gw_addr_normalise(&env->to, intl[i], GW_ADDR_TON_NONE, 0), 0);
        assert_string_equal(test_target(t, env), "smsc-de");
        gw_env_unref(env);
    }
    gw_envelope_t *nat = test_env("sip", "sip0", "100", "-");
    gw_envelope_t *sc = test_env("sip", "sip0", "100", "-");
    assert_int_equal(gw_addr_normalise(&nat->to, "sip:015112345678@gw", GW_ADDR_TON_NONE, 0), 0);
    assert_int_equal(gw_addr_normalise(&sc->to, "2020", 0, 1), 0);
    assert_string_equal(test_target(t, nat), "smsc-national");
    assert_string_equal(test_target(t, sc), "shortcodes");
    gw_env_unref(nat);
    gw_env_unref(sc);
    rt_table_unref(t);
}

static void test_first_rule_by_priority_wins_over_more_specific(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    /* Added in reverse order: the sort, not insertion, decides. */
    test_add(t, test_spec(1, "specific", 20, "336", "specific-target"));
    test_add(t, test_spec(2, "broad", 10, "33", "broad-target"));
    rt_table_seal(t);
    gw_envelope_t *env = test_env("sip", "sip0", "100", "33612345678");
    const rt_rule_t *r = rt_match(t, env);
    assert_non_null(r);
    assert_string_equal(rt_rule_name(r), "broad");
    assert_int_equal(rt_rule_id(r), 2);
    gw_env_unref(env);
    rt_table_unref(t);
}

static void test_regex_matches_destination(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    rt_rule_spec_t s = test_spec(1, "mobiles", 10, NULL, "smsc-mobile");
    s.dst_regex = "^33[67][0-9]{8}$";
    test_add(t, s);
    rt_table_seal(t);
    gw_envelope_t *mob = test_env("sip", "sip0", "100", "33612345678");
    gw_envelope_t *fixed = test_env("sip", "sip0", "100", "33112345678");
    gw_envelope_t *longer = test_env("sip", "sip0", "100", "336123456789");
    assert_string_equal(test_target(t, mob), "smsc-mobile");
    assert_null(test_target(t, fixed));
    assert_null(test_target(t, longer));
    gw_env_unref(mob);
    gw_env_unref(fixed);
    gw_env_unref(longer);
    rt_table_unref(t);
}

static void test_invalid_regex_rejected_with_reason_table_unchanged(void **state)
{
    (void)state;
    char err[256] = "";
    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(1, "ok", 10, "33", "a"));
    rt_rule_spec_t bad = test_spec(2, "bad", 5, NULL, "b");
    bad.dst_regex = "^33(";
    assert_int_equal(rt_table_add(t, &bad, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "dst_regex: "));
    assert_non_null(strstr(err, "at offset 4"));
    assert_int_equal(rt_table_count(t), 1);
    assert_int_equal(rt_regex_check("^33(", err, sizeof err), GW_EINVAL);
    assert_int_equal(rt_regex_check("^33[0-9]+$", err, sizeof err), 0);
    rt_table_seal(t);
    gw_envelope_t *env = test_env("sip", "sip0", "100", "33612345678");
    assert_string_equal(test_target(t, env), "a");
    gw_env_unref(env);
    rt_table_unref(t);
}

static void test_disabled_rule_is_skipped(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    rt_rule_spec_t off = test_spec(1, "off", 1, "33", "off-target");
    off.enabled = 0;
    test_add(t, off);
    test_add(t, test_spec(2, "on", 2, "33", "on-target"));
    rt_table_seal(t);
    gw_envelope_t *env = test_env("sip", "sip0", "100", "33612345678");
    assert_string_equal(test_target(t, env), "on-target");
    gw_env_unref(env);
    rt_table_unref(t);
}

static void test_source_condition_matches_connector_or_adapter(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    rt_rule_spec_t by_conn = test_spec(1, "from-smpp-in", 1, NULL, "sip-out");
    by_conn.source = "smpp-in";
    rt_rule_spec_t by_adapter = test_spec(2, "from-amqp", 2, NULL, "smsc");
    by_adapter.source = "amqp";
    test_add(t, by_conn);
    test_add(t, by_adapter);
    rt_table_seal(t);
    gw_envelope_t *smpp = test_env("smpp", "smpp-in", "100", "200");
    gw_envelope_t *amqp = test_env("amqp", "backoffice", "100", "200");
    gw_envelope_t *sip = test_env("sip", "sip0", "100", "200");
    assert_string_equal(test_target(t, smpp), "sip-out");
    assert_string_equal(test_target(t, amqp), "smsc");
    assert_null(test_target(t, sip));
    gw_env_unref(smpp);
    gw_env_unref(amqp);
    gw_env_unref(sip);
    rt_table_unref(t);
}

static void test_source_prefix_condition(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    rt_rule_spec_t s = test_spec(1, "vip", 1, NULL, "vip-smsc");
    s.src_prefix = "4420";
    test_add(t, s);
    rt_table_seal(t);
    gw_envelope_t *vip = test_env("sip", "sip0", "442071234567", "33612345678");
    gw_envelope_t *other = test_env("sip", "sip0", "447700900123", "33612345678");
    assert_string_equal(test_target(t, vip), "vip-smsc");
    assert_null(test_target(t, other));
    gw_env_unref(vip);
    gw_env_unref(other);
    rt_table_unref(t);
}

static void test_no_match_returns_null(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(1, "fr", 10, "33", "smsc-fr"));
    rt_table_seal(t);
    gw_envelope_t *env = test_env("sip", "sip0", "100", "4915112345");
    assert_null(rt_match(t, env));
    gw_env_unref(env);
    rt_table_unref(t);
    rt_table_t *empty = rt_table_new();
    rt_table_seal(empty);
    env = test_env("sip", "sip0", "100", "4915112345");
    assert_null(rt_match(empty, env));
    gw_env_unref(env);
    rt_table_unref(empty);
}

static void test_priority_ties_broken_by_id(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(7, "seven", 10, "33", "t7"));
    test_add(t, test_spec(3, "three", 10, "33", "t3"));
    test_add(t, test_spec(5, "five", 10, "33", "t5"));
    rt_table_seal(t);
    gw_envelope_t *env = test_env("sip", "sip0", "100", "33612345678");
    assert_string_equal(test_target(t, env), "t3");
    gw_env_unref(env);
    rt_table_unref(t);
}

static void test_table_survives_unref_while_held_elsewhere(void **state)
{
    (void)state;
    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(1, "fr", 10, "33", "smsc-fr"));
    rt_table_seal(t);
    rt_table_t *held = rt_table_ref(t);
    rt_table_unref(t); /* the builder lets go */
    gw_envelope_t *env = test_env("sip", "sip0", "100", "33612345678");
    assert_string_equal(test_target(held, env), "smsc-fr");
    gw_env_unref(env);
    rt_table_unref(held);
}

static void test_install_swaps_running_table_readers_keep_old(void **state)
{
    (void)state;
    rt_init();
    rt_table_t *first = rt_current();
    assert_non_null(first);
    assert_int_equal(rt_table_count(first), 0);

    rt_table_t *t = rt_table_new();
    test_add(t, test_spec(1, "fr", 10, "33", "smsc-fr"));
    rt_table_seal(t);
    rt_install(t);

    rt_table_t *now = rt_current();
    assert_int_equal(rt_table_count(now), 1);
    assert_int_equal(rt_table_count(first), 0); /* still valid for its holder */
    rt_table_unref(first);
    rt_table_unref(now);
    rt_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_match_picks_rule_by_destination),
        cmocka_unit_test(test_prefix_matches_every_written_form_once_normalised),
        cmocka_unit_test(test_first_rule_by_priority_wins_over_more_specific),
        cmocka_unit_test(test_regex_matches_destination),
        cmocka_unit_test(test_invalid_regex_rejected_with_reason_table_unchanged),
        cmocka_unit_test(test_disabled_rule_is_skipped),
        cmocka_unit_test(test_source_condition_matches_connector_or_adapter),
        cmocka_unit_test(test_source_prefix_condition),
        cmocka_unit_test(test_no_match_returns_null),
        cmocka_unit_test(test_priority_ties_broken_by_id),
        cmocka_unit_test(test_table_survives_unref_while_held_elsewhere),
        cmocka_unit_test(test_install_swaps_running_table_readers_keep_old),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
