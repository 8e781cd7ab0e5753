/*
 * ctl_explain.c - `junctionctl routes test`: a dry run (routes.test, the
 * JSON of rt_explain) printed for people.
 *
 *   decision: route (routed)
 *   rule:     100 uk-mobile-least-cost (priority 100)
 *   before it:
 *     1 no-premium-rate (priority 1): filters.dst.prefix failed on 447700900123
 *   rewrites:
 *     to: 07700900123 -> 447700900123
 *   targets (least_cost):
 *     1. smsc-b  0.021 EUR
 *     2. smsc-c  0.025 EUR
 *   result:   from 4930123 (international) to 447700900123 (international)
 *
 * Threads: junctionctl is single-threaded.
 */
#include <stdio.h>
#include <string.h>

#include "webui/ctl.h"

static const char *web_ctl_ex_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static void web_ctl_ex_rule(FILE *out, const json_t *r)
{
    fprintf(out, "%lld %s (priority %lld)", (long long)json_integer_value(json_object_get(r, "id")),
            web_ctl_ex_str(r, "name"), (long long)json_integer_value(json_object_get(r, "priority")));
}

static void web_ctl_ex_addr(FILE *out, const char *label, const json_t *a)
{
    fprintf(out, "%s %s (%s)", label, web_ctl_ex_str(a, "address"), web_ctl_ex_str(a, "type"));
}

void web_ctl_print_explain(FILE *out, const json_t *ex)
{
    const json_t *rule = json_object_get(ex, "rule"), *v, *failed, *res;
    size_t i;

    fprintf(out, "decision: %s (%s)\n", web_ctl_ex_str(ex, "decision"), web_ctl_ex_str(ex, "reason"));
    if (json_is_object(rule)) {
        fprintf(out, "rule:     ");
        web_ctl_ex_rule(out, rule);
        fputc('\n', out);
    } else {
        fprintf(out, "rule:     (none matched)\n");
    }
    if (json_array_size(json_object_get(ex, "considered")) > 0)
        fprintf(out, "%s:\n", json_is_object(rule) ? "before it" : "considered");
    json_array_foreach(json_object_get(ex, "considered"), i, v) {
        failed = json_object_get(v, "failed");
        fprintf(out, "  ");
        web_ctl_ex_rule(out, v);
        fprintf(out, ": %s failed", web_ctl_ex_str(failed, "field"));
        if (json_is_string(json_object_get(failed, "value")))
            fprintf(out, " on %s", web_ctl_ex_str(failed, "value"));
        else if (json_is_integer(json_object_get(failed, "value")))
            fprintf(out, " on %lld", (long long)json_integer_value(json_object_get(failed, "value")));
        fputc('\n', out);
    }
    if (json_array_size(json_object_get(ex, "rewrites")) > 0)
        fprintf(out, "rewrites:\n");
    json_array_foreach(json_object_get(ex, "rewrites"), i, v)
        fprintf(out, "  %s: %s -> %s\n", web_ctl_ex_str(v, "field"), web_ctl_ex_str(v, "before"),
                web_ctl_ex_str(v, "after"));
    if (json_array_size(json_object_get(ex, "targets")) > 0)
        fprintf(out, "targets (%s):\n", web_ctl_ex_str(ex, "strategy"));
    json_array_foreach(json_object_get(ex, "targets"), i, v) {
        fprintf(out, "  %zu. %s", i + 1, web_ctl_ex_str(v, "connector"));
        if (json_is_number(json_object_get(v, "cost")) && json_number_value(json_object_get(v, "cost")) >= 0)
            fprintf(out, "  %g %s", json_number_value(json_object_get(v, "cost")),
                    web_ctl_ex_str(v, "currency"));
        fputc('\n', out);
    }
    if (json_is_integer(json_object_get(ex, "sip_status")))
        fprintf(out, "answer:   SIP %lld, SMPP 0x%llx\n",
                (long long)json_integer_value(json_object_get(ex, "sip_status")),
                (unsigned long long)json_integer_value(json_object_get(ex, "smpp_status")));
    res = json_object_get(ex, "result");
    if (json_is_object(res)) {
        fprintf(out, "result:   ");
        web_ctl_ex_addr(out, "from", json_object_get(res, "from"));
        web_ctl_ex_addr(out, " to", json_object_get(res, "to"));
        fputc('\n', out);
    }
}
