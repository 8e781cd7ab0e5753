/*
 * test_rt_examples.c - the worked examples of docs/routing.md, as written
 * there, compile and do what the page says.  Keep the two in step: a
 * change to an example there is a change here.
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

static const char test_examples[] =
    "[{ 'id': 100, 'name': 'uk-mobile-least-cost', 'priority': 100,"
    "  'filters': { 'dst': { 'prefix': '447', 'type': 'international' } },"
    "  'action': { 'route': { 'strategy': 'least_cost', 'rates': 'uk-sms',"
    "                         'targets': ['smsc-a', 'smsc-b', 'smsc-c'] } } },"
    " { 'id': 1, 'name': 'no-premium-rate', 'priority': 1,"
    "  'filters': { 'dst': { 'prefix': ['449', '4487'] } },"
    "  'action': { 'reject': { 'sip_status': 403, 'smpp_status': 11,"
    "                          'reason': 'premium-rate destination' } } },"
    " { 'id': 20, 'name': 'acme-office-hours', 'priority': 200,"
    "    'source': { 'smpp_account': 'acme' },"
    "    'filters': { 'dst': { 'prefix': '49' },"
    "                 'time': { 'tz': 'Europe/Berlin',"
    "                           'windows': [ { 'days': 'mon-fri', 'from': '08:00', 'to': '18:00' },"
    "                                        { 'days': 'sat', 'from': '10:00', 'to': '14:00' } ] } },"
    "    'action': { 'route': { 'targets': ['smsc-de'] } } },"
    "  { 'id': 21, 'name': 'acme-after-hours', 'priority': 201,"
    "    'source': { 'smpp_account': 'acme' },"
    "    'filters': { 'dst': { 'prefix': '49' } },"
    "    'action': { 'reject': { 'sip_status': 480, 'reason': 'outside business hours' } } },"
    " { 'id': 50, 'name': 'uk-national-to-international', 'priority': 50,"
    "  'filters': { 'dst': { 'type': 'national', 'regex': '^07[0-9]{9}$' } },"
    "  'action': { 'rewrite': { 'dst': { 'regex': '^0([0-9]+)$', 'replace': '44$1',"
    "                                    'type': 'international', 'ton': 1, 'npi': 1 } },"
    "              'route': { 'strategy': 'least_cost', 'rates': 'uk-sms' } } }]";

static rt_rates_t *test_uk;

static int test_setup(void **state)
{
    (void)state;
    test_uk = rt_stub_rates_new("uk-sms");
    rt_stub_rates_add(test_uk, "447", "smsc-a", 0.030, "EUR", 0, 0);
    rt_stub_rates_add(test_uk, "447", "smsc-b", 0.021, "EUR", 0, 0);
    rt_stub_rates_add(test_uk, "447", "smsc-c", 0.025, "EUR", 0, 0);
    rt_stub_rates_add(test_uk, "447", "smsc-x", 0.001, "EUR", 0, 0); /* not a listed target */
    rt_test_rates[0] = test_uk;
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    rt_test_rates[0] = NULL;
    rt_stub_rates_free(test_uk);
    return 0;
}

static void test_uk_mobiles_go_to_the_cheapest_of_three(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(test_examples);
    rt_query_t q = rt_test_query("4930123", "447700900123");
    rt_decision_t d;
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_string_equal(d.rule_name, "uk-mobile-least-cost");
    assert_int_equal(d.ntargets, 3);
    assert_string_equal(d.targets[0].connector, "smsc-b");
    assert_string_equal(d.targets[1].connector, "smsc-c");
    assert_string_equal(d.targets[2].connector, "smsc-a");
    rt_set_unref(s);
}

static void test_premium_rate_is_rejected_first(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(test_examples);
    rt_query_t q = rt_test_query("4930123", "449012345678");
    rt_decision_t d;
    assert_int_equal(rt_decide(s, &q, &d), RT_REJECT);
    assert_string_equal(d.reason, "premium-rate destination");
    assert_int_equal(d.sip_status, 403);
    assert_int_equal(d.smpp_status, 11);
    rt_set_unref(s);
}

static void test_business_hours_route_and_after_hours_reject(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(test_examples);
    rt_query_t q = rt_test_query("4930123", "4915112345678");
    rt_decision_t d;
    q.source.values[RT_SRC_SMPP_ACCOUNT] = "acme";
    q.now = RT_TEST_NOW; /* Monday 12:00 in Berlin */
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_string_equal(d.targets[0].connector, "smsc-de");
    q.now = RT_TEST_NOW + 9 * 3600; /* Monday 21:00 */
    assert_int_equal(rt_decide(s, &q, &d), RT_REJECT);
    assert_string_equal(d.reason, "outside business hours");
    assert_int_equal(d.sip_status, 480);
    q.now = RT_TEST_NOW + 5 * 86400; /* Saturday 12:00 */
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    q.source.values[RT_SRC_SMPP_ACCOUNT] = "other"; /* not acme: no rule */
    assert_int_equal(rt_decide(s, &q, &d), RT_NOROUTE);
    rt_set_unref(s);
}

static void test_national_uk_number_rewritten_then_least_cost(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(test_examples);
    rt_query_t q = rt_test_query("4930123", "07700900123");
    rt_decision_t d;
    q.to.type = GW_ADDR_NATIONAL;
    q.to.ton = GW_TON_NATIONAL;
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_string_equal(d.rule_name, "uk-national-to-international");
    assert_string_equal(d.to.address, "447700900123");
    assert_int_equal(d.to.type, GW_ADDR_INTL);
    assert_int_equal(d.to.ton, 1);
    assert_string_equal(d.targets[0].connector, "smsc-x"); /* no targets given: all rates */
    rt_set_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uk_mobiles_go_to_the_cheapest_of_three),
        cmocka_unit_test(test_premium_rate_is_rejected_first),
        cmocka_unit_test(test_business_hours_route_and_after_hours_reject),
        cmocka_unit_test(test_national_uk_number_rewritten_then_least_cost),
    };
    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
