/*
 * test_rt_compile.c - what the rule compiler refuses (router/rt_compile.c),
 * with the exact text an admin reads: rule id, field path, reason; every
 * error of a set at once; nothing half-applied.
 *
 * Rules are JSON text (' for ").  Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt_test.h"

/* Compile one rule's text expecting exactly one error with this text. */
static void test_one_error(const char *rules, const char *text)
{
    json_t *errs = rt_test_errors(rules);
    assert_true(rt_test_has_error(errs, text));
    if (json_array_size(errs) != 1) {
        char *dump = json_dumps(errs, 0);
        fail_msg("more than one error: %s", dump);
    }
    json_decref(errs);
}

#define ONE(body) "[{'id':1,'priority':10," body "}]"
#define ROUTE "'action':{'route':{'targets':['x']}}"

static void test_rules_must_be_an_array(void **state)
{
    (void)state;
    test_one_error("{'id':1}", "rule #0: rules: must be an array of rule objects");
}

static void test_error_object_names_rule_path_and_message(void **state)
{
    (void)state;
    json_t *errs = rt_test_errors("[{'id':12,'priority':1,'filters':{'dst':{'regex':'(ab'}}," ROUTE "}]");
    json_t *e = json_array_get(errs, 0);
    assert_int_equal(json_integer_value(json_object_get(e, "rule")), 12);
    assert_string_equal(json_string_value(json_object_get(e, "path")), "filters.dst.regex");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "missing closing parenthesis at offset 3");
    assert_string_equal(json_string_value(json_object_get(e, "text")),
                        "rule 12: filters.dst.regex: missing closing parenthesis at offset 3");
    json_decref(errs);
}

static void test_invalid_regexes_in_every_place(void **state)
{
    (void)state;
    test_one_error(ONE("'filters':{'src':{'regex':'a{2,1}'}}," ROUTE),
                   "rule 1: filters.src.regex: numbers out of order in {} quantifier at offset 5");
    test_one_error(ONE("'filters':{'body':{'regex':'['}}," ROUTE),
                   "rule 1: filters.body.regex: missing terminating ] for character class at offset 1");
    test_one_error(ONE("'action':{'route':{'targets':['x']},'rewrite':{'dst':{'regex':'*','replace':''}}}"),
                   "rule 1: action.rewrite.dst.regex: quantifier does not follow a repeatable item at offset 0");
}

static void test_unknown_fields_at_every_level(void **state)
{
    (void)state;
    test_one_error(ONE("'colour':'red'," ROUTE), "rule 1: colour: unknown field");
    test_one_error(ONE("'filters':{'dst':{'prefixes':['44']}}," ROUTE),
                   "rule 1: filters.dst.prefixes: unknown field");
    test_one_error(ONE("'filters':{'weather':1}," ROUTE), "rule 1: filters.weather: unknown field");
    test_one_error(ONE("'source':{'smpp_acount':'x'}," ROUTE), "rule 1: source.smpp_acount: unknown field");
    test_one_error(ONE("'action':{'route':{'targets':['x'],'stratgy':'x'}}"),
                   "rule 1: action.route.stratgy: unknown field");
    test_one_error(ONE("'action':{'route':{'targets':[{'connector':'x','wieght':2}]}}"),
                   "rule 1: action.route.targets[0].wieght: unknown field");
}

static void test_wrong_types(void **state)
{
    (void)state;
    test_one_error("[{'id':1,'priority':'high'," ROUTE "}]",
                   "rule 1: priority: must be an integer from -1000000000 to 1000000000");
    test_one_error(ONE("'enabled':'yes'," ROUTE), "rule 1: enabled: must be true or false");
    test_one_error(ONE("'name':7," ROUTE), "rule 1: name: must be a string");
    test_one_error(ONE("'filters':{'dst':{'prefix':44}}," ROUTE),
                   "rule 1: filters.dst.prefix: must be a string or an array of strings");
    test_one_error(ONE("'filters':{'dst':{'exact':['']}}," ROUTE),
                   "rule 1: filters.dst.exact: item 0: must be a non-empty string");
    test_one_error(ONE("'filters':{'tags':{'k':3}}," ROUTE),
                   "rule 1: filters.tags: k: must be a string or true (exists)");
    test_one_error(ONE("'filters':{'coding':'utf7'}," ROUTE),
                   "rule 1: filters.coding: unknown value \"utf7\"");
    test_one_error(ONE("'filters':{'dst':{'type':'e164'}}," ROUTE),
                   "rule 1: filters.dst.type: unknown value \"e164\"");
    test_one_error(ONE("'filters':{'length':{'chars':{'min':10,'max':5}}}," ROUTE),
                   "rule 1: filters.length.chars: min 10 is above max 5");
    test_one_error(ONE("'action':{'route':{'targets':['x']},'set':{'validity_s':-1}}"),
                   "rule 1: action.set.validity_s: must be an integer from 0 to 2592000");
    test_one_error("[{'priority':1," ROUTE "}]", "rule #0: id: required: an integer");
}

static void test_sip_domain_wildcard_only_as_a_leading_star_dot(void **state)
{
    (void)state;
    test_one_error(ONE("'source':{'sip_domain':['a.example','ex*ample.com']}," ROUTE),
                   "rule 1: source.sip_domain: item 1: \"ex*ample.com\": a wildcard is only a "
                   "leading \"*.\"");
    test_one_error(ONE("'source':{'sip_domain':'*.'}," ROUTE),
                   "rule 1: source.sip_domain: item 0: \"*.\": a wildcard is only a leading \"*.\"");
    test_one_error(ONE("'source':{'sip_domain':'*example.com'}," ROUTE),
                   "rule 1: source.sip_domain: item 0: \"*example.com\": a wildcard is only a "
                   "leading \"*.\"");
    rt_set_unref(rt_test_compile(ONE("'source':{'sip_domain':'*.example.com'}," ROUTE)));
}

static void test_priorities_shared_by_enabled_rules_name_both(void **state)
{
    (void)state;
    test_one_error("[{'id':1,'priority':10," ROUTE "},{'id':2,'priority':10," ROUTE "}]",
                   "rule 2: priority: 10 is also the priority of rule 1");
    /* a disabled rule may share a priority */
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10," ROUTE "},{'id':2,'priority':10,'enabled':false," ROUTE "}]");
    rt_set_unref(s);
}

static void test_duplicate_ids(void **state)
{
    (void)state;
    test_one_error("[{'id':1,'priority':10," ROUTE "},{'id':1,'priority':20," ROUTE "}]",
                   "rule 1: id: rule id 1 is used twice");
}

static void test_unknown_time_zone_and_bad_windows(void **state)
{
    (void)state;
    test_one_error(ONE("'filters':{'time':{'tz':'Mars/Olympus','windows':[{'from':'09:00','to':'17:00'}]}}," ROUTE),
                   "rule 1: filters.time.tz: unknown time zone \"Mars/Olympus\"");
    test_one_error(ONE("'filters':{'time':{'windows':[{'from':'09:00','to':'17:00'}]}}," ROUTE),
                   "rule 1: filters.time.tz: required (an IANA zone such as \"Europe/Berlin\")");
    test_one_error(ONE("'filters':{'time':{'tz':'UTC','windows':[{'from':'25:00','to':'17:00'}]}}," ROUTE),
                   "rule 1: filters.time.windows[0].from: must be \"HH:MM\" from 00:00 to 24:00");
    test_one_error(ONE("'filters':{'time':{'tz':'UTC','windows':[{'days':'funday','from':'09:00','to':'17:00'}]}}," ROUTE),
                   "rule 1: filters.time.windows[0].days: unknown day \"funday\" (sun, mon, ..., sat or a range mon-fri)");
    test_one_error(ONE("'filters':{'time':{'tz':'UTC','windows':[]}}," ROUTE),
                   "rule 1: filters.time.windows: must be a non-empty array");
}

static void test_rate_tables_and_strategies(void **state)
{
    (void)state;
    test_one_error(ONE("'action':{'route':{'strategy':'least_cost','rates':'nowhere'}}"),
                   "rule 1: action.route.rates: unknown rate table \"nowhere\"");
    test_one_error(ONE("'action':{'route':{'strategy':'least_cost'}}"),
                   "rule 1: action.route.rates: least_cost needs the name of a rate table");
    test_one_error(ONE("'action':{'route':{'targets':['x'],'rates':'uk'}}"),
                   "rule 1: action.route.rates: only for the least_cost strategy");
    test_one_error(ONE("'action':{'route':{'targets':['x'],'strategy':'cheapest'}}"),
                   "rule 1: action.route.strategy: unknown strategy (failover, round_robin, weighted, least_cost)");
    test_one_error(ONE("'action':{'route':{'targets':[]}}"),
                   "rule 1: action.route.targets: required: at least one target");
    test_one_error(ONE("'action':{'route':{'targets':['a','b','c','d','e','f','g','h','i']}}"),
                   "rule 1: action.route.targets: must be an array of at most 8 targets");
    test_one_error(ONE("'action':{'route':{'targets':[{'connector':'a','weight':0}]}}"),
                   "rule 1: action.route.targets[0].weight: must be an integer from 1 to 1000000");
}

static void test_actions_exactly_one_kind_and_their_fields(void **state)
{
    (void)state;
    test_one_error(ONE("'filters':{}"), "rule 1: action: required");
    test_one_error(ONE("'action':{'set':{'receipt':true}}"),
                   "rule 1: action: exactly one of route, reject, drop");
    test_one_error(ONE("'action':{'drop':true,'reject':{}}"),
                   "rule 1: action: exactly one of route, reject, drop");
    test_one_error(ONE("'action':{'reject':{'sip_status':200}}"),
                   "rule 1: action.reject.sip_status: must be an integer from 400 to 699");
    test_one_error(ONE("'action':{'drop':false}"),
                   "rule 1: action.drop: must be true or an object {reason}");
    test_one_error(ONE("'action':{'drop':true,'mirror':{'routing_key':'k'}}"),
                   "rule 1: action.mirror.exchange: required: a string of 1 to 127 bytes");
    test_one_error(ONE("'action':{'drop':true,'mirror':{'exchange':'"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'}}"),  /* 128 bytes */
                   "rule 1: action.mirror.exchange: required: a string of 1 to 127 bytes");
    test_one_error(ONE("'action':{'drop':true,'mirror':{'exchange':'audit','routing_key':1}}"),
                   "rule 1: action.mirror.routing_key: must be a string of at most 255 bytes");
    test_one_error(ONE("'action':{'drop':true,'rate_limit':{'rate':0}}"),
                   "rule 1: action.rate_limit.rate: must be a number of messages per second > 0");
    test_one_error(ONE("'action':{'drop':true,'rate_limit':{'rate':5,'over':'later'}}"),
                   "rule 1: action.rate_limit.over: must be \"reject\" or \"queue\"");
}

static void test_rewrite_errors(void **state)
{
    (void)state;
    test_one_error(ONE("'action':{'drop':true,'rewrite':{'dst':{'regex':'^0'}}}"),
                   "rule 1: action.rewrite.dst: regex and replace go together");
    test_one_error(ONE("'action':{'drop':true,'rewrite':{'src':{'alnum':'ACME-INDUSTRIES'}}}"),
                   "rule 1: action.rewrite.src.alnum: must be a string of 1 to 11 characters");
    test_one_error(ONE("'action':{'drop':true,'rewrite':{'dst':{'ton':9}}}"),
                   "rule 1: action.rewrite.dst.ton: must be an integer from 0 to 6");
    test_one_error(ONE("'action':{'drop':true,'rewrite':{'dst':{'type':'planet'}}}"),
                   "rule 1: action.rewrite.dst.type: unknown address type");
    test_one_error(ONE("'action':{'drop':true,'rewrite':{'dst':{'strip':'2'}}}"),
                   "rule 1: action.rewrite.dst.strip: must be an integer from 0 to 255");
}

/* action.set.headers: names a publish may carry, string values, at most
 * 16; a good one becomes the tag "amqp_out.<name>" (compiled, no error). */
static void test_set_headers_names_values_and_count(void **state)
{
    (void)state;
    test_one_error(ONE("'action':{'route':{'targets':['x']},'set':{'headers':{'x-junction-error':'a'}}}"),
                   "rule 1: action.set.headers: x-junction-error: a header name is 1-64 letters, "
                   "digits or -_. and not x-junction-*");
    test_one_error(ONE("'action':{'route':{'targets':['x']},'set':{'headers':{'bad name':'a'}}}"),
                   "rule 1: action.set.headers: bad name: a header name is 1-64 letters, digits "
                   "or -_. and not x-junction-*");
    test_one_error(ONE("'action':{'route':{'targets':['x']},'set':{'headers':{'x-n':5}}}"),
                   "rule 1: action.set.headers: x-n: must be a string of at most 256 bytes");
    test_one_error(ONE("'action':{'route':{'targets':['x']},'set':{'headers':['x']}}"),
                   "rule 1: action.set.headers: must be an object of name: value");
    test_one_error(ONE("'action':{'route':{'targets':['x']},'set':{'headers':{'a':'1','b':'1','c':'1',"
                       "'d':'1','e':'1','f':'1','g':'1','h':'1','i':'1','j':'1','k':'1','l':'1',"
                       "'m':'1','n':'1','o':'1','p':'1','q':'1'}}}"),
                   "rule 1: action.set.headers: at most 16 headers");
    rt_set_t *s = rt_test_compile(ONE("'action':{'route':{'targets':['x']},'set':{'headers':"
                                      "{'x-tenant':'acme'},'tags':{'t':'v'}}}"));
    rt_query_t q = rt_test_query("441234", "447700900123");
    rt_decision_t d;
    rt_decide(s, &q, &d);
    assert_int_equal(d.kind, RT_ROUTE);
    assert_int_equal(d.ntags, 2);
    assert_string_equal(d.tags[0].key, "t");
    assert_string_equal(d.tags[1].key, "amqp_out.x-tenant");
    assert_string_equal(d.tags[1].value, "acme");
    rt_set_unref(s);
}

/* Three broken rules (and one good one) give every error, each with its
 * own rule id. */
static void test_every_error_is_returned_not_only_the_first(void **state)
{
    (void)state;
    json_t *errs = rt_test_errors(
        "[{'id':1,'priority':1,'filters':{'dst':{'regex':'('}},'action':{'drop':true}},"
        " {'id':2,'priority':2,'action':{'route':{'targets':['ok']}}},"
        " {'id':3,'priority':3,'bogus':1,'filters':{'time':{'tz':'No/Where','windows':[{'from':'09:00','to':'10:00'}]}},'action':{'drop':true}},"
        " {'id':4,'priority':3,'action':{'route':{'strategy':'nope','targets':['x']}}}]");
    assert_true(rt_test_has_error(errs, "rule 1: filters.dst.regex: missing closing parenthesis at offset 1"));
    assert_true(rt_test_has_error(errs, "rule 3: bogus: unknown field"));
    assert_true(rt_test_has_error(errs, "rule 3: filters.time.tz: unknown time zone \"No/Where\""));
    assert_true(rt_test_has_error(errs, "rule 4: action.route.strategy: unknown strategy (failover, round_robin, weighted, least_cost)"));
    assert_true(rt_test_has_error(errs, "rule 4: priority: 3 is also the priority of rule 3"));
    assert_int_equal(json_array_size(errs), 5);
    json_decref(errs);
}

/* A failed compile frees everything it built and leaves the running set. */
static void test_failed_compile_leaves_nothing_and_running_set_untouched(void **state)
{
    (void)state;
    rt_set_t *good = rt_test_compile("[{'id':1,'priority':1," ROUTE "}]");
    rt_set_install(good);
    size_t live = rt_set_live();
    json_t *bad = rt_test_load("[{'id':1,'priority':1," ROUTE "},{'id':2,'priority':2,"
                               "'filters':{'time':{'tz':'Europe/Berlin','windows':[{'from':'x','to':'y'}]}},"
                               "'action':{'route':{'targets':['x']},'rate_limit':{'rate':1}}}]");
    assert_null(rt_compile(bad, &rt_test_opts, NULL)); /* errors may be NULL */
    json_t *errs = NULL;
    assert_null(rt_compile(bad, &rt_test_opts, &errs));
    assert_int_equal(json_array_size(errs), 2);
    json_decref(errs);
    json_decref(bad);
    assert_int_equal(rt_set_live(), live);
    rt_set_t *cur = rt_set_current();
    assert_ptr_equal(cur, good);
    rt_set_unref(cur);
    rt_set_install(NULL);
    assert_int_equal(rt_set_live(), live - 1);
}

static int test_owner_released;

static void test_owner_release(void *owner)
{
    assert_ptr_equal(owner, &test_owner_released);
    test_owner_released++;
}

/* The owner of the rate tables lives as long as the set: released once,
 * when the last reference goes; a failed compile never takes it. */
static void test_owner_released_when_the_set_is_freed(void **state)
{
    (void)state;
    rt_compile_opts_t opts = rt_test_opts;
    opts.owner = &test_owner_released;
    opts.release = test_owner_release;
    json_t *good = rt_test_load("[{'id':1,'priority':1," ROUTE "}]");
    json_t *bad = rt_test_load("[{'id':1}]");
    json_t *errs = NULL;
    test_owner_released = 0;
    assert_null(rt_compile(bad, &opts, &errs));
    assert_int_equal(test_owner_released, 0);
    rt_set_t *s = rt_compile(good, &opts, NULL);
    assert_non_null(s);
    rt_set_install(rt_set_ref(s));
    rt_set_unref(s);
    assert_int_equal(test_owner_released, 0); /* the running set still holds it */
    rt_set_install(NULL);
    assert_int_equal(test_owner_released, 1);
    json_decref(errs);
    json_decref(bad);
    json_decref(good);
}

static void test_empty_rule_list_compiles_and_routes_nothing(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[]");
    rt_query_t q = rt_test_query("1", "2");
    rt_decision_t d;
    assert_int_equal(rt_decide(s, &q, &d), RT_NOROUTE);
    assert_int_equal(rt_set_count(s), 0);
    rt_set_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_must_be_an_array),
        cmocka_unit_test(test_error_object_names_rule_path_and_message),
        cmocka_unit_test(test_invalid_regexes_in_every_place),
        cmocka_unit_test(test_unknown_fields_at_every_level),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_sip_domain_wildcard_only_as_a_leading_star_dot),
        cmocka_unit_test(test_priorities_shared_by_enabled_rules_name_both),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_unknown_time_zone_and_bad_windows),
        cmocka_unit_test(test_rate_tables_and_strategies),
        cmocka_unit_test(test_actions_exactly_one_kind_and_their_fields),
        cmocka_unit_test(test_rewrite_errors),
        cmocka_unit_test(test_set_headers_names_values_and_count),
        cmocka_unit_test(test_every_error_is_returned_not_only_the_first),
        cmocka_unit_test(test_failed_compile_leaves_nothing_and_running_set_untouched),
        cmocka_unit_test(test_empty_rule_list_compiles_and_routes_nothing),
        cmocka_unit_test(test_owner_released_when_the_set_is_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
