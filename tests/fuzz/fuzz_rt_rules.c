/*
 * fuzz_rt_rules.c - libFuzzer target for the rule compiler and the match
 * path (router/rt_compile.c, rt_match.c, rt_explain.c): any text as a rule
 * set must compile or return errors, never crash or leak; a set that
 * compiles decides and explains a few queries.  Rules come from admins over
 * the MI, but the MI is a network surface.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_rt_rules -max_total_time=60 tests/fuzz/corpus/fuzz_rt_rules
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const to[] = { "447700900123", "4915112345678", "07700900123", "", "ACME" };
    json_t *errs = NULL, *rules = json_loadb((const char *)data, size, 0, NULL);
    if (rules == NULL)
        return 0;
    rt_set_t *s = rt_compile(rules, NULL, &errs);
    json_decref(errs);
    json_decref(rules);
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < sizeof to / sizeof to[0]; i++) {
        rt_query_t q;
        rt_decision_t d;
        rt_tag_t tag = { "tier", "gold" };
        json_t *x = NULL;
        memset(&q, 0, sizeof q);
        q.source.values[i % RT_SRC__COUNT] = "acme";
        q.source.values[RT_SRC_SIP_DOMAIN] = i % 2 ? "a.example.com" : NULL;
        q.source.connector = "sip0";
        q.from.address = "4930123";
        q.to.address = (char *)to[i];
        q.to.type = (gw_addr_type_t)(i % GW_ADDR__COUNT);
        q.body = "hello";
        q.body_len = 5;
        q.coding = (rt_coding_t)(i % RT_CODING__COUNT);
        q.chars = (unsigned)i * 70;
        q.parts = (unsigned)i;
        q.tags = &tag;
        q.ntags = 1;
        q.now = 1774864800 + (int64_t)i * 40000;
        rt_decide(s, &q, &d);
        rt_decide_linear(s, &q, &d);
        if (rt_explain(s, &q, &x) == 0)
            json_decref(x);
    }
    rt_set_unref(s);
    return 0;
}
