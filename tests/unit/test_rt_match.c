/*
 * test_rt_match.c - what the compiled engine decides (router/rt_match.c):
 * every filter, every action, every rewrite, priority order, the no-match
 * reason, the trie agreeing with a linear scan, and no allocation on the
 * match path.
 *
 * Rules are JSON text (' for "); queries are built by rt_test_query.  Every
 * decision is made twice, through the trie (rt_decide) and by the linear
 * reference (rt_decide_linear), and the two must agree.  malloc is wrapped
 * (tests/module.mk) to count the match path's allocations.
 * Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rt_test.h"

static int test_counting;
static size_t test_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
    test_allocs += test_counting;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    test_allocs += test_counting;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    test_allocs += test_counting;
    return __real_realloc(p, n);
}

static rt_decision_t test_d, test_lin;

/* Decide q both ways; they must agree.  Returns the trie's decision. */
static const rt_decision_t *test_decide(const rt_set_t *s, const rt_query_t *q)
{
    rt_decide(s, q, &test_d);
    rt_decide_linear(s, q, &test_lin);
    assert_int_equal(test_d.kind, test_lin.kind);
    assert_int_equal(test_d.rule_id, test_lin.rule_id);
    return &test_d;
}

static long long test_rule(const rt_set_t *s, const rt_query_t *q)
{
    return test_decide(s, q)->rule_id;
}

#define R(id, prio, filters, action)                                                         \
    "{'id':" #id ",'name':'r" #id "','priority':" #prio ",'filters':{" filters "},'action':{" \
    action "}}"
#define TO(c) "'route':{'targets':['" c "']}"

static void test_dst_prefix_list_picks_the_rule(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'dst':{'prefix':['447','4478']}", TO("uk")) ","
                                  R(2, 20, "'dst':{'prefix':'49'}", TO("de")) "]");
    rt_query_t q = rt_test_query("100", "447700900123");
    assert_int_equal(test_rule(s, &q), 1);
    assert_string_equal(test_d.targets[0].connector, "uk");
    assert_int_equal(test_d.kind, RT_ROUTE);
    q.to.address = "4915112345678";
    assert_int_equal(test_rule(s, &q), 2);
    q.to.address = "33612345678";
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_priority_order_wins_over_specificity_and_file_order(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 30, "'dst':{'prefix':'4477'}", TO("specific")) ","
                                  R(2, 20, "'dst':{'prefix':'44'}", TO("broad")) ","
                                  R(3, 10, "", TO("catchall_disabled_below")) "]");
    rt_query_t q = rt_test_query("100", "447700900123");
    assert_int_equal(test_rule(s, &q), 3); /* priority 10, no dst filter */
    rt_set_unref(s);
    s = rt_test_compile("[" R(1, 30, "'dst':{'prefix':'4477'}", TO("specific")) ","
                        R(2, 20, "'dst':{'prefix':'44'}", TO("broad")) ","
                        R(3, 40, "", TO("default")) "]");
    assert_int_equal(test_rule(s, &q), 2);
    q.to.address = "1555";
    assert_int_equal(test_rule(s, &q), 3);
    rt_set_unref(s);
}

static void test_no_match_gives_no_route_with_reason(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'dst':{'prefix':'44'}", TO("uk")) "]");
    rt_query_t q = rt_test_query("100", "33612345678");
    const rt_decision_t *d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_NOROUTE);
    assert_string_equal(d->reason, "no rule matched");
    assert_int_equal(d->sip_status, 404);
    assert_int_equal(d->smpp_status, 0x0B);
    assert_null(d->rule_name);
    assert_int_equal(d->ntargets, 0);
    rt_set_unref(s);
}

static void test_disabled_rule_is_skipped(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'enabled':false,'action':{'route':{'targets':['off']}}},"
        "{'id':2,'priority':10,'action':{'route':{'targets':['on']}}}]");
    rt_query_t q = rt_test_query("100", "4477");
    assert_int_equal(test_rule(s, &q), 2);
    assert_int_equal(rt_set_count(s), 2);
    rt_set_unref(s);
}

static void test_dst_exact_values(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'dst':{'exact':['2020','3030']}", TO("sc")) "]");
    rt_query_t q = rt_test_query("100", "3030");
    assert_int_equal(test_rule(s, &q), 1);
    q.to.address = "30301";
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_dst_regex_with_prefix_both_must_hold(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'prefix':'33','regex':'^33[67][0-9]{8}$'}", TO("fr-mobile")) "]");
    rt_query_t q = rt_test_query("100", "33612345678");
    assert_int_equal(test_rule(s, &q), 1);
    q.to.address = "33112345678";
    assert_int_equal(test_rule(s, &q), -1);
    q.to.address = "336123456789";
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_src_prefix_exact_and_regex(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'src':{'prefix':'4930'}", TO("berlin")) ","
                                  R(2, 20, "'src':{'exact':'ACME'}", TO("acme")) ","
                                  R(3, 30, "'src':{'regex':'^[A-Z]+$'}", TO("alnum")) "]");
    rt_query_t q = rt_test_query("493012345", "1");
    assert_int_equal(test_rule(s, &q), 1);
    q.from.address = "ACME";
    assert_int_equal(test_rule(s, &q), 2);
    q.from.address = "SHOP";
    assert_int_equal(test_rule(s, &q), 3);
    q.from.address = "shop";
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_address_type_filter(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'type':['national','short']}", TO("local")) ","
        R(2, 20, "'src':{'type':'alnum'},'dst':{'type':'international'}", TO("a2p")) ","
        R(3, 30, "'dst':{'type':['sip-uri','tel-uri']}", TO("sip")) "]");
    rt_query_t q = rt_test_query("ACME", "015112345678");
    q.to.type = GW_ADDR_NATIONAL;
    assert_int_equal(test_rule(s, &q), 1);
    q.to.type = GW_ADDR_INTL;
    assert_int_equal(test_rule(s, &q), -1); /* from is not alnum */
    q.from.type = GW_ADDR_ALNUM;
    assert_int_equal(test_rule(s, &q), 2);
    q.to.type = GW_ADDR_SIP_URI;
    assert_int_equal(test_rule(s, &q), 3);
    rt_set_unref(s);
}

/* The query as a surface with one facet of the sender fills it. */
static rt_query_t test_from_source(rt_src_kind_t kind, const char *value, const char *connector)
{
    rt_query_t q = rt_test_query("1", "2");
    q.source.connector = connector;
    q.source.values[kind] = value;
    return q;
}

static void test_source_connector_and_kind_values(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'source':{'connector':'smpp-in','smpp_account':['acme','beta']},"
        "'action':{'route':{'targets':['a']}}},"
        "{'id':2,'priority':20,'source':{'sip_domain':'example.com','api_key':'crm'},"
        "'action':{'route':{'targets':['b']}}},"
        "{'id':3,'priority':30,'source':{'sip_peer':'192.0.2.1:5060'},"
        "'action':{'route':{'targets':['c']}}},"
        "{'id':4,'priority':40,'source':{'amqp_queue':'outbound'},"
        "'action':{'route':{'targets':['d']}}}]");
    rt_query_t q = test_from_source(RT_SRC_SMPP_ACCOUNT, "beta", "sip0");
    assert_int_equal(test_rule(s, &q), -1); /* wrong connector */
    q.source.connector = "smpp-in";
    assert_int_equal(test_rule(s, &q), 1);
    q.source.values[RT_SRC_SMPP_ACCOUNT] = "gamma";
    assert_int_equal(test_rule(s, &q), -1);
    q = test_from_source(RT_SRC_API_KEY, "crm", "mi");
    assert_int_equal(test_rule(s, &q), 2);
    q = test_from_source(RT_SRC_SIP_DOMAIN, "example.com", "sip");
    assert_int_equal(test_rule(s, &q), 2);
    q = test_from_source(RT_SRC_SIP_PEER, "192.0.2.1:5060", "sip");
    assert_int_equal(test_rule(s, &q), 3);
    q = test_from_source(RT_SRC_AMQP_QUEUE, "outbound", "amqp");
    assert_int_equal(test_rule(s, &q), 4);
    q = test_from_source(RT_SRC_SMPP_ACCOUNT, "outbound", "amqp"); /* right value, other kind */
    assert_int_equal(test_rule(s, &q), -1);
    q = rt_test_query("1", "2"); /* only a connector: no kind value */
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_source_sip_domain_matches_that_domain_and_not_another(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'source':{'sip_domain':'customer-a.example'},"
        "'action':{'route':{'targets':['a']}}}]");
    rt_query_t q = test_from_source(RT_SRC_SIP_DOMAIN, "customer-a.example", "sip");
    assert_int_equal(test_rule(s, &q), 1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "Customer-A.EXAMPLE"; /* host names have no case */
    assert_int_equal(test_rule(s, &q), 1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "customer-b.example";
    assert_int_equal(test_rule(s, &q), -1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "x.customer-a.example"; /* exact: no subdomains */
    assert_int_equal(test_rule(s, &q), -1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "customer-a.example.org";
    assert_int_equal(test_rule(s, &q), -1);
    q.source.values[RT_SRC_SIP_DOMAIN] = NULL; /* a tel: From has no domain */
    q.source.values[RT_SRC_SIP_PEER] = "customer-a.example";
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_source_sip_domain_wildcard_matches_subdomains_only(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'source':{'sip_domain':['*.example.com','other.example']},"
        "'action':{'route':{'targets':['a']}}}]");
    rt_query_t q = test_from_source(RT_SRC_SIP_DOMAIN, "a.example.com", "sip");
    assert_int_equal(test_rule(s, &q), 1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "b.A.Example.Com";
    assert_int_equal(test_rule(s, &q), 1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "example.com";
    assert_int_equal(test_rule(s, &q), -1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "badexample.com";
    assert_int_equal(test_rule(s, &q), -1);
    q.source.values[RT_SRC_SIP_DOMAIN] = "other.example";
    assert_int_equal(test_rule(s, &q), 1);
    rt_set_unref(s);
}

static void test_source_peer_or_domain_either_matches(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'source':{'sip_peer':'192.0.2.1:5060','sip_domain':'a.example'},"
        "'action':{'route':{'targets':['a']}}}]");
    rt_query_t q = rt_test_query("1", "2"); /* a SIP MESSAGE carries both facets */
    q.source.connector = "sip";
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.1:5060";
    q.source.values[RT_SRC_SIP_DOMAIN] = "b.example";
    assert_int_equal(test_rule(s, &q), 1); /* the peer */
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.2:5060";
    q.source.values[RT_SRC_SIP_DOMAIN] = "a.example";
    assert_int_equal(test_rule(s, &q), 1); /* the domain */
    q.source.values[RT_SRC_SIP_DOMAIN] = "b.example";
    assert_int_equal(test_rule(s, &q), -1); /* neither */
    rt_set_unref(s);
}

static void test_source_bare_peer_address_matches_any_port_of_it(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'source':{'sip_peer':['192.0.2.1','198.51.100.7:5070']},"
        "'action':{'route':{'targets':['a']}}}]");
    rt_query_t q = rt_test_query("1", "2");
    q.source.connector = "sip";
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.1:5060";
    assert_int_equal(test_rule(s, &q), 1);
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.1:40123";
    assert_int_equal(test_rule(s, &q), 1);           /* any port of a bare address */
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.10:5060";
    assert_int_equal(test_rule(s, &q), -1);          /* not a longer address */
    q.source.values[RT_SRC_SIP_PEER] = "198.51.100.7:5070";
    assert_int_equal(test_rule(s, &q), 1);           /* ip:port exactly */
    q.source.values[RT_SRC_SIP_PEER] = "198.51.100.7:5060";
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_source_explain_names_the_kind_that_failed(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[{'id':1,'priority':10,'source':{'smpp_account':'acme','sip_domain':'customer-a.example'},"
        "'action':{'route':{'targets':['a']}}},"
        "{'id':2,'priority':20,'source':{'api_key':'crm'},'action':{'route':{'targets':['b']}}},"
        "{'id':3,'priority':30,'action':{'route':{'targets':['c']}}}]");
    rt_query_t q = rt_test_query("1", "2");
    q.source.connector = "sip";
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.1:5060";
    q.source.values[RT_SRC_SIP_DOMAIN] = "customer-b.example";
    json_t *x = NULL;
    assert_int_equal(rt_explain(s, &q, &x), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "rule"), "id")), 3);
    json_t *c = json_object_get(x, "considered");
    assert_int_equal(json_array_size(c), 2);
    /* rule 1: the query has no SMPP account but a domain, and that failed */
    json_t *f = json_object_get(json_array_get(c, 0), "failed");
    assert_string_equal(json_string_value(json_object_get(f, "field")), "source.sip_domain");
    assert_string_equal(json_string_value(json_object_get(f, "value")), "customer-b.example");
    /* rule 2: the query has no API key at all */
    f = json_object_get(json_array_get(c, 1), "failed");
    assert_string_equal(json_string_value(json_object_get(f, "field")), "source.api_key");
    assert_true(json_is_null(json_object_get(f, "value")));
    json_decref(x);
    rt_set_unref(s);
}

static void test_body_regex_and_binary_bodies(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'body':{'regex':'(?i)^stop$'}", TO("optout")) "]");
    rt_query_t q = rt_test_query("1", "2");
    q.body = "STOP and more";
    q.body_len = 4; /* a view: only "STOP" */
    assert_int_equal(test_rule(s, &q), 1);
    q.body_len = 13;
    assert_int_equal(test_rule(s, &q), -1);
    q.body = "stop";
    q.body_len = 4;
    q.coding = RT_CODING_BINARY;
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_tags_value_and_exists(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'tags':{'tier':'gold','campaign':true}", TO("premium")) "]");
    rt_tag_t tags[] = { { "campaign", "x1" }, { "tier", "gold" } };
    rt_query_t q = rt_test_query("1", "2");
    assert_int_equal(test_rule(s, &q), -1);
    q.tags = tags;
    q.ntags = 2;
    assert_int_equal(test_rule(s, &q), 1);
    tags[1].value = "silver";
    assert_int_equal(test_rule(s, &q), -1);
    tags[1].value = "gold";
    q.ntags = 1;
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

/* Business hours in Berlin: 09:00 local is 08:00 UTC in winter and 07:00
 * UTC in summer; the week of the 2026-03-29 change shows both. */
static void test_time_window_business_hours_across_dst(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'time':{'tz':'Europe/Berlin','windows':[{'days':'mon-fri','from':'09:00',"
                     "'to':'17:00'}]}", TO("office")) "]");
    rt_query_t q = rt_test_query("1", "2");
    q.now = 1774597800; /* Fri 2026-03-27 07:50 UTC = 08:50 CET */
    assert_int_equal(test_rule(s, &q), -1);
    q.now = 1774598400 + 3600 - 600; /* 08:50 UTC = 09:50 CET */
    assert_int_equal(test_rule(s, &q), 1);
    q.now = 1774857000; /* Mon 2026-03-30 07:50 UTC = 09:50 CEST */
    assert_int_equal(test_rule(s, &q), 1);
    q.now = 1774857000 - 3600; /* 06:50 UTC = 08:50 CEST */
    assert_int_equal(test_rule(s, &q), -1);
    q.now = 1774881000; /* Mon 14:30 UTC = 16:30 CEST */
    assert_int_equal(test_rule(s, &q), 1);
    q.now = 1774884600; /* 15:30 UTC = 17:30 CEST */
    assert_int_equal(test_rule(s, &q), -1);
    q.now = 1774771800; /* Sun 2026-03-29 08:10 UTC = 10:10 CEST */
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

/* A window past midnight belongs to the day it starts on. */
static void test_time_window_past_midnight_and_new_york(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'time':{'tz':'America/New_York','windows':[{'days':['fri'],'from':'22:00',"
                     "'to':'06:00'}]}", TO("night")) "]");
    rt_query_t q = rt_test_query("1", "2");
    q.now = 1775268000; /* Sat 2026-04-04 02:00 UTC = Fri 22:00 EDT */
    assert_int_equal(test_rule(s, &q), 1);
    q.now = 1775268000 + 8 * 3600 - 60; /* Sat 05:59 EDT */
    assert_int_equal(test_rule(s, &q), 1);
    q.now = 1775268000 + 8 * 3600; /* Sat 06:00 EDT */
    assert_int_equal(test_rule(s, &q), -1);
    q.now = 1775268000 - 60; /* Fri 21:59 EDT */
    assert_int_equal(test_rule(s, &q), -1);
    q.now = 1775268000 + 24 * 3600; /* Sat 22:00: not a Friday */
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_length_in_chars_and_parts(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'length':{'chars':{'min':1,'max':160}}", TO("single")) ","
        R(2, 20, "'length':{'parts':{'min':2,'max':3}}", TO("long")) "]");
    rt_query_t q = rt_test_query("1", "2");
    q.chars = 160;
    assert_int_equal(test_rule(s, &q), 1);
    q.chars = 161;
    q.parts = 2;
    assert_int_equal(test_rule(s, &q), 2);
    q.parts = 4;
    assert_int_equal(test_rule(s, &q), -1);
    q.chars = 0;
    q.parts = 1;
    assert_int_equal(test_rule(s, &q), -1);
    rt_set_unref(s);
}

static void test_coding_class(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'coding':['ucs2','binary']", TO("wide")) "]");
    rt_query_t q = rt_test_query("1", "2");
    assert_int_equal(test_rule(s, &q), -1);
    q.coding = RT_CODING_UCS2;
    assert_int_equal(test_rule(s, &q), 1);
    q.coding = RT_CODING_BINARY;
    assert_int_equal(test_rule(s, &q), 1);
    rt_set_unref(s);
}

static void test_reject_carries_statuses_and_reason(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'prefix':['4490','4491']}",
              "'reject':{'sip_status':403,'smpp_status':11,'reason':'premium rate'}") ","
        R(2, 20, "'dst':{'prefix':'4498'}", "'reject':{}") "]");
    rt_query_t q = rt_test_query("1", "449012345");
    const rt_decision_t *d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_REJECT);
    assert_int_equal(d->sip_status, 403);
    assert_int_equal(d->smpp_status, 11);
    assert_string_equal(d->reason, "premium rate");
    assert_string_equal(d->rule_name, "r1");
    q.to.address = "44981";
    d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_REJECT);
    assert_int_equal(d->sip_status, 403);
    assert_int_equal(d->smpp_status, 0x45);
    assert_string_equal(d->reason, "rejected by rule");
    rt_set_unref(s);
}

static void test_drop_action(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'dst':{'prefix':'999'}", "'drop':true") ","
                                  R(2, 20, "'dst':{'prefix':'998'}", "'drop':{'reason':'spam'}") "]");
    rt_query_t q = rt_test_query("1", "9990");
    assert_int_equal(test_decide(s, &q)->kind, RT_DROP);
    assert_string_equal(test_d.reason, "dropped by rule");
    q.to.address = "9980";
    assert_int_equal(test_decide(s, &q)->kind, RT_DROP);
    assert_string_equal(test_d.reason, "spam");
    rt_set_unref(s);
}

static void test_route_failover_order_and_round_robin_rotation(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'prefix':'1'}", "'route':{'targets':['a','b','c']}") ","
        R(2, 20, "'dst':{'prefix':'2'}",
          "'route':{'strategy':'round_robin','targets':['a','b','c']}") ","
        R(3, 30, "'dst':{'prefix':'3'}",
          "'route':{'strategy':'weighted','targets':[{'connector':'a','weight':3},"
          "{'connector':'b','weight':1}]}") "]");
    rt_query_t q = rt_test_query("1", "100");
    rt_decision_t d;
    rt_decide(s, &q, &d);
    assert_int_equal(d.ntargets, 3);
    assert_string_equal(d.targets[0].connector, "a");
    assert_string_equal(d.targets[2].connector, "c");
    assert_true(d.targets[0].cost < 0);
    assert_int_equal(d.strategy, RT_PICK_FAILOVER);
    q.to.address = "200";
    char first[3];
    for (int i = 0; i < 3; i++) {
        rt_decide(s, &q, &d);
        assert_int_equal(d.ntargets, 3);
        first[i] = d.targets[0].connector[0];
    }
    assert_true(first[0] != first[1] && first[1] != first[2] && first[0] != first[2]);
    assert_int_equal(d.strategy, RT_PICK_ROUND_ROBIN);
    q.to.address = "300";
    rt_decide(s, &q, &d);
    assert_int_equal(d.strategy, RT_PICK_WEIGHTED);
    assert_int_equal(d.ntargets, 2);
    rt_set_unref(s);
}

/* UK mobiles to the cheapest of three SMSCs (the docs' first example). */
static void test_least_cost_cheapest_first_and_restricted_to_targets(void **state)
{
    (void)state;
    rt_rates_t *t = rt_stub_rates_new("uk");
    rt_stub_rates_add(t, "447", "smsc-a", 0.030, "EUR", 0, 0);
    rt_stub_rates_add(t, "447", "smsc-b", 0.021, "EUR", 0, 0);
    rt_stub_rates_add(t, "447", "smsc-c", 0.025, "EUR", 0, 0);
    rt_stub_rates_add(t, "4479", "smsc-a", 0.010, "EUR", 0, 0);
    rt_test_rates[0] = t;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'prefix':'447'}", "'route':{'strategy':'least_cost','rates':'uk'}") ","
        R(2, 20, "'dst':{'prefix':'44'}",
          "'route':{'strategy':'least_cost','rates':'uk','targets':['smsc-a','smsc-c']}") "]");
    rt_query_t q = rt_test_query("1", "447700900123");
    const rt_decision_t *d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_ROUTE);
    assert_int_equal(d->ntargets, 3);
    assert_string_equal(d->targets[0].connector, "smsc-b");
    assert_string_equal(d->targets[1].connector, "smsc-c");
    assert_string_equal(d->targets[2].connector, "smsc-a");
    assert_true(d->targets[0].cost > 0.0209 && d->targets[0].cost < 0.0211);
    assert_string_equal(d->targets[0].currency, "EUR");
    q.to.address = "447900900123"; /* the longest prefix decides */
    d = test_decide(s, &q);
    assert_int_equal(d->ntargets, 1);
    assert_string_equal(d->targets[0].connector, "smsc-a");
    rt_set_unref(s);

    s = rt_test_compile("[" R(2, 20, "'dst':{'prefix':'44'}",
                              "'route':{'strategy':'least_cost','rates':'uk','targets':["
                              "'smsc-a','smsc-c']}") "]");
    q.to.address = "447700900123";
    d = test_decide(s, &q);
    assert_int_equal(d->ntargets, 2);
    assert_string_equal(d->targets[0].connector, "smsc-c");
    assert_string_equal(d->targets[1].connector, "smsc-a");
    q.to.address = "441234"; /* no rate for a landline */
    d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_NOROUTE);
    assert_int_equal(d->rule_id, 2);
    assert_string_equal(d->reason, "rate table uk has no rate for the destination");
    rt_set_unref(s);
    rt_test_rates[0] = NULL;
    rt_stub_rates_free(t);
}

/* National to international with groups, then least cost on the result. */
static void test_rewrite_regex_groups_then_least_cost_on_the_result(void **state)
{
    (void)state;
    rt_rates_t *t = rt_stub_rates_new("uk");
    rt_stub_rates_add(t, "447", "smsc-b", 0.02, "GBP", 0, 0);
    rt_test_rates[0] = t;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'prefix':'07','type':'national'}",
              "'rewrite':{'dst':{'regex':'^0([0-9]{10})$','replace':'44$1','type':'international',"
              "'ton':1,'npi':1}},'route':{'strategy':'least_cost','rates':'uk'}") "]");
    rt_query_t q = rt_test_query("1", "07700900123");
    q.to.type = GW_ADDR_NATIONAL;
    q.to.ton = GW_TON_NATIONAL;
    const rt_decision_t *d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_ROUTE);
    assert_true(d->to_rewritten);
    assert_false(d->from_rewritten);
    assert_string_equal(d->to.address, "447700900123");
    assert_ptr_equal(d->to.address, d->to_buf);
    assert_int_equal(d->to.type, GW_ADDR_INTL);
    assert_int_equal(d->to.ton, 1);
    assert_string_equal(d->targets[0].connector, "smsc-b");
    assert_string_equal(d->from.address, "1");
    assert_string_equal(q.to.address, "07700900123"); /* the query is untouched */
    rt_set_unref(s);
    rt_test_rates[0] = NULL;
    rt_stub_rates_free(t);
}

static void test_rewrite_strip_prefix_ton_npi_and_alnum_sender(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "'dst':{'prefix':'0049'}",
              "'rewrite':{'dst':{'strip':4,'prefix':'0','type':'national','ton':2,'npi':1},"
              "'src':{'alnum':'ACME'}},'route':{'targets':['de']}") "]");
    rt_query_t q = rt_test_query("4930123", "0049151123");
    const rt_decision_t *d = test_decide(s, &q);
    assert_string_equal(d->to.address, "0151123");
    assert_int_equal(d->to.type, GW_ADDR_NATIONAL);
    assert_int_equal(d->to.ton, 2);
    assert_int_equal(d->to.npi, 1);
    assert_string_equal(d->from.address, "ACME");
    assert_int_equal(d->from.type, GW_ADDR_ALNUM);
    assert_int_equal(d->from.ton, GW_TON_ALNUM);
    assert_int_equal(d->from.npi, 0);
    rt_set_unref(s);
}

static void test_rewrite_regex_without_match_keeps_address(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "", "'rewrite':{'dst':{'regex':'^00','replace':''}},'route':{'targets':['x']}") "]");
    rt_query_t q = rt_test_query("1", "4915");
    const rt_decision_t *d = test_decide(s, &q);
    assert_string_equal(d->to.address, "4915");
    q.to.address = "004915";
    d = test_decide(s, &q);
    assert_string_equal(d->to.address, "4915");
    rt_set_unref(s);
}

static void test_rewrite_too_long_gives_no_route(void **state)
{
    (void)state;
    char longp[300];
    memset(longp, '1', 200);
    longp[200] = '\0';
    char rules[600];
    snprintf(rules, sizeof rules,
             "[{'id':1,'priority':1,'action':{'rewrite':{'dst':{'prefix':'%s'}},"
             "'route':{'targets':['x']}}}]", longp);
    rt_set_t *s = rt_test_compile(rules);
    char to[100];
    memset(to, '2', 99);
    to[99] = '\0';
    rt_query_t q = rt_test_query("1", to);
    const rt_decision_t *d = test_decide(s, &q);
    assert_int_equal(d->kind, RT_NOROUTE);
    assert_int_equal(d->rule_id, 1);
    assert_string_equal(d->reason, "rewrite of to failed (result too long)");
    rt_set_unref(s);
}

static void test_set_tags_validity_receipt_and_mirror(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "", "'route':{'targets':['x']},'set':{'tags':{'route':'uk','billing':'b2'},"
                         "'validity_s':3600,'receipt':true},"
                         "'mirror':{'exchange':'audit','routing_key':'uk.mobile'}") ","
        R(2, 20, "", TO("y")) "]");
    rt_query_t q = rt_test_query("1", "2");
    const rt_decision_t *d = test_decide(s, &q);
    assert_int_equal(d->ntags, 2);
    int seen = 0;
    for (size_t i = 0; i < d->ntags; i++)
        seen |= (strcmp(d->tags[i].key, "route") == 0 && strcmp(d->tags[i].value, "uk") == 0) |
                (strcmp(d->tags[i].key, "billing") == 0 && strcmp(d->tags[i].value, "b2") == 0) << 1;
    assert_int_equal(seen, 3);
    assert_int_equal(d->validity_s, 3600);
    assert_int_equal(d->receipt, 1);
    assert_string_equal(d->mirror_exchange, "audit");
    assert_string_equal(d->mirror_routing_key, "uk.mobile");
    rt_set_unref(s);
    s = rt_test_compile("[" R(2, 20, "", TO("y")) "]");
    d = test_decide(s, &q);
    assert_int_equal(d->ntags, 0);
    assert_int_equal(d->validity_s, -1);
    assert_int_equal(d->receipt, -1);
    assert_null(d->mirror_exchange);
    assert_int_equal(d->rate, RT_RATE_NONE);
    rt_set_unref(s);
}

static void test_rate_limit_rejects_over_burst_then_refills(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "", "'route':{'targets':['x']},'rate_limit':{'rate':1,'burst':2}") "]");
    rt_query_t q = rt_test_query("1", "2");
    rt_decision_t d;
    q.now_us = 1000000;
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(d.rate, RT_RATE_OK);
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(rt_decide(s, &q, &d), RT_REJECT);
    assert_int_equal(d.rate, RT_RATE_OVER_REJECT);
    assert_int_equal(d.sip_status, 503);
    assert_int_equal(d.smpp_status, 0x58);
    assert_string_equal(d.reason, "rate limit exceeded");
    assert_int_equal(d.rule_id, 1);
    q.now_us += 1000000; /* one token back */
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(rt_decide(s, &q, &d), RT_REJECT);
    rt_set_unref(s);
}

static void test_rate_limit_queue_routes_with_the_time_its_token_is_due(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile(
        "[" R(1, 10, "", "'route':{'targets':['x']},'rate_limit':{'rate':5,'burst':1,'over':'queue'}") "]");
    rt_query_t q = rt_test_query("1", "2");
    rt_decision_t d;
    q.now_us = 5000000;
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(d.rate, RT_RATE_OK);
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(d.rate, RT_RATE_OVER_QUEUE);
    assert_int_equal(d.rate_due_us, 5000000 + 200000); /* 5/s: the next token in 200 ms */
    assert_string_equal(d.targets[0].connector, "x");
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(d.rate_due_us, 5000000 + 400000); /* booked behind the one before */
    q.now_us = 5000000 + 600000; /* the booked tokens are spent: the next is due now */
    assert_int_equal(rt_decide(s, &q, &d), RT_ROUTE);
    assert_int_equal(d.rate, RT_RATE_OK);
    assert_int_equal(d.rate_due_us, 0);
    rt_set_unref(s);
}

/* The trie must give exactly the linear scan's answer: random rules with
 * nested prefixes (some in two lists), random queries. */
static void test_trie_agrees_with_linear_scan_on_random_rules(void **state)
{
    (void)state;
    srandom(7);
    json_t *rules = json_array();
    for (int i = 0; i < 300; i++) {
        char p1[16], p2[32];
        snprintf(p1, sizeof p1, "%ld", random() % 100);
        snprintf(p2, sizeof p2, "%s%ld", p1, random() % 10);
        json_t *f = json_object();
        int kind = (int)(random() % 4);
        if (kind < 2)
            json_object_set_new(f, "dst", json_pack("{s:[s,s]}", "prefix", p1, p2));
        else if (kind == 2)
            json_object_set_new(f, "dst", json_pack("{s:s}", "prefix", p2));
        if (random() % 3 == 0)
            json_object_set_new(f, "src", json_pack("{s:s}", "prefix", random() % 2 ? "1" : "2"));
        json_array_append_new(rules, json_pack("{s:i,s:i,s:b,s:o,s:{s:{s:[s]}}}", "id", i,
                                               "priority", 1000 - i, "enabled", random() % 8 != 0,
                                               "filters", f, "action", "route", "targets", "x"));
    }
    json_t *errs = NULL;
    rt_set_t *s = rt_compile(rules, NULL, &errs);
    assert_non_null(s);
    json_decref(rules);
    for (int i = 0; i < 5000; i++) {
        char to[16], from[4];
        snprintf(to, sizeof to, "%ld", random() % 100000);
        snprintf(from, sizeof from, "%ld", random() % 3);
        rt_query_t q = rt_test_query(from, to);
        test_decide(s, &q);
    }
    rt_set_unref(s);
}

typedef struct test_alloc_run {
    rt_set_t *s;
    size_t first, rest; /* allocations of the first decision, of the next 1000 */
    long long rule;
    char to[32];
} test_alloc_run_t;

/* On a fresh thread (no match data yet): count the first decision's
 * allocations and those of the 1000 after it. */
static void *test_alloc_thread(void *arg)
{
    test_alloc_run_t *run = arg;
    rt_query_t q = rt_test_query("1", "447700900123");
    rt_decision_t d;
    q.source.values[RT_SRC_SIP_PEER] = "192.0.2.1:5060";
    q.source.values[RT_SRC_SIP_DOMAIN] = "a.Customer.example"; /* fails rule 3 */
    q.body = "ababababc";
    q.body_len = 9;
    test_allocs = 0;
    test_counting = 1;
    rt_decide(run->s, &q, &d);
    run->first = test_allocs;
    test_allocs = 0;
    for (int i = 0; i < 1000; i++) {
        q.to.address = i % 2 ? "447700900123" : "33612345678";
        rt_decide(run->s, &q, &d);
    }
    run->rest = test_allocs;
    test_counting = 0;
    run->rule = d.rule_id;
    snprintf(run->to, sizeof run->to, "%s", d.to.address);
    return NULL;
}

/* A thread's first regex creates its match data (through the wrapped
 * malloc: the counter sees PCRE2's memory); after that deciding allocates
 * nothing: rewrites write into the decision, strings point into the set. */
static void test_match_path_allocates_nothing_after_the_first_decision(void **state)
{
    (void)state;
    test_alloc_run_t run = { 0 };
    run.s = rt_test_compile(
        "[{'id':3,'priority':5,'source':{'sip_domain':['*.other.example','customer.example'],"
        "'sip_peer':'192.0.2.9'},'action':{'route':{'targets':['y']}}},"
        R(1, 10, "'dst':{'prefix':'44','regex':'^44[0-9]+$'},'body':{'regex':'(a|b)+c'}",
              "'rewrite':{'dst':{'regex':'^44([0-9]+)$','replace':'0$1'}},'route':{'targets':['x']}") ","
        R(2, 20, "'time':{'tz':'Europe/Berlin','windows':[{'from':'00:00','to':'24:00'}]}",
          "'route':{'strategy':'round_robin','targets':['a','b']}") "]");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, test_alloc_thread, &run), 0);
    pthread_join(th, NULL);
    assert_true(run.first > 0);
    assert_int_equal(run.rest, 0);
    assert_int_equal(run.rule, 1);
    assert_string_equal(run.to, "07700900123");
    rt_set_unref(run.s);
}

/* rt_set_hits: one count per decision and one per rule that decided;
 * rt_decide_linear (the reference) and dry runs count nothing. */
static uint64_t test_hits[3];
static size_t test_later[3];
static void test_collect_hits(void *arg, const rt_rule_hits_t *r)
{
    size_t *i = arg;
    test_hits[*i] = r->hits;
    test_later[(*i)++] = r->later;
}

static void test_hits_count_each_rule_and_every_decision(void **state)
{
    (void)state;
    rt_set_t *s = rt_test_compile("[" R(1, 10, "'dst':{'prefix':'44'}", TO("uk")) ","
                                  R(2, 20, "'dst':{'prefix':'49'}", TO("de")) ","
                                  R(3, 30, "'dst':{'prefix':'33'}", TO("fr")) "]");
    rt_query_t uk = rt_test_query("1", "447700900123"), none = rt_test_query("1", "1234");
    rt_decision_t d;
    size_t i = 0;

    rt_decide(s, &uk, &d);
    rt_decide(s, &uk, &d);
    rt_decide(s, &none, &d);
    rt_decide_linear(s, &uk, &d);
    assert_int_equal(rt_set_hits(s, test_collect_hits, &i), 3);
    assert_int_equal(i, 3);
    assert_int_equal(test_hits[0], 2);
    assert_int_equal(test_hits[1], 0);
    assert_int_equal(test_hits[2], 0);
    assert_int_equal(test_later[0], 2);
    assert_int_equal(test_later[2], 0);
    rt_set_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dst_prefix_list_picks_the_rule),
        cmocka_unit_test(test_priority_order_wins_over_specificity_and_file_order),
        cmocka_unit_test(test_no_match_gives_no_route_with_reason),
        cmocka_unit_test(test_disabled_rule_is_skipped),
        cmocka_unit_test(test_dst_exact_values),
        cmocka_unit_test(test_dst_regex_with_prefix_both_must_hold),
        cmocka_unit_test(test_src_prefix_exact_and_regex),
        cmocka_unit_test(test_address_type_filter),
        cmocka_unit_test(test_source_connector_and_kind_values),
        cmocka_unit_test(test_source_sip_domain_matches_that_domain_and_not_another),
        cmocka_unit_test(test_source_sip_domain_wildcard_matches_subdomains_only),
        cmocka_unit_test(test_source_peer_or_domain_either_matches),
        cmocka_unit_test(test_source_bare_peer_address_matches_any_port_of_it),
        cmocka_unit_test(test_source_explain_names_the_kind_that_failed),
        cmocka_unit_test(test_body_regex_and_binary_bodies),
        cmocka_unit_test(test_tags_value_and_exists),
        cmocka_unit_test(test_time_window_business_hours_across_dst),
        cmocka_unit_test(test_time_window_past_midnight_and_new_york),
        cmocka_unit_test(test_length_in_chars_and_parts),
        cmocka_unit_test(test_coding_class),
        cmocka_unit_test(test_reject_carries_statuses_and_reason),
        cmocka_unit_test(test_drop_action),
        cmocka_unit_test(test_route_failover_order_and_round_robin_rotation),
        cmocka_unit_test(test_least_cost_cheapest_first_and_restricted_to_targets),
        cmocka_unit_test(test_rewrite_regex_groups_then_least_cost_on_the_result),
        cmocka_unit_test(test_rewrite_strip_prefix_ton_npi_and_alnum_sender),
        cmocka_unit_test(test_rewrite_regex_without_match_keeps_address),
        cmocka_unit_test(test_rewrite_too_long_gives_no_route),
        cmocka_unit_test(test_set_tags_validity_receipt_and_mirror),
        cmocka_unit_test(test_rate_limit_rejects_over_burst_then_refills),
        cmocka_unit_test(test_rate_limit_queue_routes_with_the_time_its_token_is_due),
        cmocka_unit_test(test_trie_agrees_with_linear_scan_on_random_rules),
        cmocka_unit_test(test_match_path_allocates_nothing_after_the_first_decision),
        cmocka_unit_test(test_hits_count_each_rule_and_every_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
