/*
 * test_rt_explain.c - the dry run (router/rt_explain.c): its JSON shape,
 * the first failed filter of every earlier rule, targets with costs,
 * rewrites, the result addresses, and that it changes nothing (no token
 * taken, no round-robin step).
 *
 * Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt_test.h"

static const char *test_str(const json_t *o, const char *path)
{
    json_t *v = json_object_get(o, path);
    if (!json_is_string(v)) {
        char *dump = json_dumps(o, 0);
        fail_msg("%s is no string in %s", path, dump);
    }
    return json_string_value(v);
}

static void test_explain_lists_earlier_rules_with_first_failed_filter(void **state)
{
    (void)state;
    rt_rates_t *t = rt_stub_rates_new("uk");
    rt_stub_rates_add(t, "447", "smsc-a", 0.03, "EUR", 0, 0);
    rt_stub_rates_add(t, "447", "smsc-b", 0.02, "EUR", 0, 0);
    rt_test_rates[0] = t;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'name':'de','priority':1,'filters':{'dst':{'prefix':'49'}},'action':{'drop':true}},"
        " {'id':2,'name':'off','priority':2,'enabled':false,'action':{'drop':true}},"
        " {'id':3,'name':'acme','priority':3,'source':{'connector':'smpp-in'},'action':{'drop':true}},"
        " {'id':4,'name':'long','priority':4,'filters':{'length':{'parts':{'min':2}}},'action':{'drop':true}},"
        " {'id':5,'name':'vip','priority':5,'filters':{'tags':{'vip':true}},'action':{'drop':true}},"
        " {'id':6,'name':'uk','priority':6,'filters':{'dst':{'type':'national','prefix':'07'}},"
        "  'action':{'rewrite':{'dst':{'strip':1,'prefix':'44','type':'international'}},"
        "            'route':{'strategy':'least_cost','rates':'uk'},'set':{'validity_s':600},"
        "            'mirror':{'exchange':'audit'}}},"
        " {'id':7,'name':'later','priority':7,'action':{'drop':true}}]");
    rt_query_t q = rt_test_query("4930111", "07700900123");
    q.to.type = GW_ADDR_NATIONAL;
    json_t *x = NULL;
    assert_int_equal(rt_explain(s, &q, &x), 0);
    assert_string_equal(test_str(x, "decision"), "route");
    assert_string_equal(test_str(x, "reason"), "routed");
    assert_string_equal(test_str(x, "strategy"), "least_cost");
    json_t *rule = json_object_get(x, "rule");
    assert_int_equal(json_integer_value(json_object_get(rule, "id")), 6);
    assert_string_equal(test_str(rule, "name"), "uk");

    json_t *c = json_object_get(x, "considered");
    assert_int_equal(json_array_size(c), 5);
    static const char *const fields[] = { "filters.dst.prefix", "enabled", "source.connector",
                                          "filters.length.parts", "filters.tags" };
    for (size_t i = 0; i < 5; i++) {
        json_t *e = json_array_get(c, i), *f = json_object_get(e, "failed");
        assert_int_equal(json_integer_value(json_object_get(e, "id")), (long long)i + 1);
        assert_string_equal(test_str(f, "field"), fields[i]);
    }
    assert_string_equal(test_str(json_object_get(json_array_get(c, 0), "failed"), "value"),
                        "07700900123");
    assert_string_equal(test_str(json_object_get(json_array_get(c, 2), "failed"), "value"), "sip0");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(c, 3), "failed"), "value")), 1);
    assert_string_equal(test_str(json_object_get(json_array_get(c, 4), "failed"), "value"), "vip");

    json_t *tg = json_object_get(x, "targets");
    assert_int_equal(json_array_size(tg), 2);
    assert_string_equal(test_str(json_array_get(tg, 0), "connector"), "smsc-b");
    assert_true(json_real_value(json_object_get(json_array_get(tg, 0), "cost")) < 0.021);
    assert_string_equal(test_str(json_array_get(tg, 0), "currency"), "EUR");
    assert_string_equal(test_str(json_array_get(tg, 1), "connector"), "smsc-a");

    json_t *rw = json_array_get(json_object_get(x, "rewrites"), 0);
    assert_string_equal(test_str(rw, "field"), "to");
    assert_string_equal(test_str(rw, "before"), "07700900123");
    assert_string_equal(test_str(rw, "after"), "447700900123");
    json_t *to = json_object_get(json_object_get(x, "result"), "to");
    assert_string_equal(test_str(to, "address"), "447700900123");
    assert_string_equal(test_str(to, "type"), "international");
    json_t *from = json_object_get(json_object_get(x, "result"), "from");
    assert_string_equal(test_str(from, "address"), "4930111");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "set"), "validity_s")), 600);
    assert_string_equal(test_str(json_object_get(x, "mirror"), "exchange"), "audit");
    assert_string_equal(test_str(x, "rate_limit"), "none");
    json_decref(x);
    rt_set_unref(s);
    rt_test_rates[0] = NULL;
    rt_stub_rates_free(t);
}

static void test_explain_without_match_lists_every_rule_and_the_reason(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':1,'filters':{'dst':{'regex':'^1'}},'action':{'drop':true}},"
        " {'id':2,'priority':2,'filters':{'time':{'tz':'Europe/Berlin','windows':[{'days':'sat','from':'00:00','to':'24:00'}]}},'action':{'drop':true}}]");
    rt_query_t q = rt_test_query("1", "2");
    json_t *x = NULL;
    assert_int_equal(rt_explain(s, &q, &x), 0);
    assert_string_equal(test_str(x, "decision"), "no_route");
    assert_string_equal(test_str(x, "reason"), "no rule matched");
    assert_true(json_is_null(json_object_get(x, "rule")));
    assert_int_equal(json_integer_value(json_object_get(x, "sip_status")), 404);
    json_t *c = json_object_get(x, "considered");
    assert_int_equal(json_array_size(c), 2);
    assert_string_equal(test_str(json_object_get(json_array_get(c, 0), "failed"), "field"),
                        "filters.dst.regex");
    json_t *f = json_object_get(json_array_get(c, 1), "failed");
    assert_string_equal(test_str(f, "field"), "filters.time");
    assert_int_equal(json_integer_value(json_object_get(f, "value")), RT_TEST_NOW);
    assert_int_equal(json_array_size(json_object_get(x, "targets")), 0);
    json_decref(x);
    rt_set_unref(s);
}

/* A dry run takes no token and does not advance round robin. */
static void test_explain_changes_nothing(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':1,'action':{'route':{'strategy':'round_robin','targets':['a','b']},"
        "'rate_limit':{'rate':1,'burst':1}}}]");
    rt_query_t q = rt_test_query("1", "2");
    q.now_us = 1000000;
    for (int i = 0; i < 3; i++) {
        json_t *x = NULL;
        assert_int_equal(rt_explain(s, &q, &x), 0);
        assert_string_equal(test_str(json_array_get(json_object_get(x, "targets"), 0), "connector"), "a");
        assert_string_equal(test_str(x, "rate_limit"), "ok");
        json_decref(x);
    }
    rt_decision_t d;
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE); /* the one token is still there */
    assert_string_equal(d.targets[0].connector, "a");
    assert_int_equal(rt_decide(s, &q, &d), RT_REJECT);
    rt_set_unref(s);
}

static void test_explain_of_a_reject_has_statuses(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':9,'priority':1,'filters':{'dst':{'prefix':'4490'}},"
        "'action':{'reject':{'sip_status':403,'smpp_status':11,'reason':'premium rate'}}}]");
    rt_query_t q = rt_test_query("1", "44901234");
    json_t *x = NULL;
    assert_int_equal(rt_explain(s, &q, &x), 0);
    assert_string_equal(test_str(x, "decision"), "reject");
    assert_string_equal(test_str(x, "reason"), "premium rate");
    assert_int_equal(json_integer_value(json_object_get(x, "sip_status")), 403);
    assert_int_equal(json_integer_value(json_object_get(x, "smpp_status")), 11);
    assert_int_equal(json_array_size(json_object_get(x, "considered")), 0);
    assert_null(json_object_get(x, "strategy"));
    json_decref(x);
    rt_set_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain_lists_earlier_rules_with_first_failed_filter),
        cmocka_unit_test(test_explain_without_match_lists_every_rule_and_the_reason),
        cmocka_unit_test(test_explain_changes_nothing),
        cmocka_unit_test(test_explain_of_a_reject_has_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
