/*
 * rt_explain.c - the dry run: what rt_decide would do, and why.
 *
 * A linear pass over every rule in priority order (allocation and time are
 * fine here: this serves routes.test, not traffic) that records, for each
 * rule before the winner, the first condition that failed and the query's
 * value it failed on (rt_rule_check's order), then the winner's decision
 * made "dry" (rt_apply with dry = 1: no token taken from a rate limit, no
 * round-robin counter advanced).
 *
 * Output (docs/routing.md, "Dry run"):
 *   {"decision": "route"|"reject"|"drop"|"no_route", "reason": "...",
 *    "rule": {"id", "name", "priority"} | null,
 *    "considered": [{"id", "name", "priority", "failed": {"field", "value"}}],
 *    "strategy": "least_cost", "targets": [{"connector", "cost", "currency"}],
 *    "rewrites": [{"field": "to", "before": "...", "after": "..."}],
 *    "result": {"from": {address, type, ton, npi}, "to": {...}},
 *    "set": {"tags": {...}, "validity_s": n, "receipt": bool},
 *    "mirror": {"exchange", "routing_key"} | null, "rate_limit": "none"|"ok",
 *    "sip_status": n, "smpp_status": n}
 *
 * Threads: any.
 */
#include <stdlib.h>
#include <string.h>

#include "router/rt_int.h"
#include "gw_errors.h"

static const char *const rt_ex_strategies[] = { "failover", "round_robin", "weighted",
                                                "least_cost" };

static json_t *rt_ex_addr(const gw_addr_t *a)
{
    return json_pack("{s:s?,s:s,s:i,s:i}", "address", a->address, "type",
                     (unsigned)a->type < GW_ADDR__COUNT ? gw_addr_type_name(a->type) : "?", "ton",
                     a->ton, "npi", a->npi);
}

static json_t *rt_ex_rule(const rt_crule_t *r)
{
    return json_pack("{s:I,s:s,s:i}", "id", (json_int_t)r->id, "name", r->name, "priority",
                     r->priority);
}

static int rt_ex_add(json_t *obj, const char *key, json_t *v)
{
    return v == NULL || json_object_set_new(obj, key, v) != 0 ? GW_ENOMEM : 0;
}

static int rt_ex_considered(const rt_set_t *s, const rt_query_t *q, json_t *list,
                            const rt_crule_t **hit)
{
    *hit = NULL;
    for (size_t i = 0; i < s->nrules; i++) {
        rt_fail_t f;
        const rt_crule_t *r = &s->rules[i];
        if (rt_rule_check(s, r, q, 0, &f)) {
            *hit = r;
            return 0;
        }
        json_t *e = rt_ex_rule(r), *why;
        if (f.has_num)
            why = json_pack("{s:s,s:I}", "field", f.field, "value", (json_int_t)f.num);
        else
            why = json_pack("{s:s,s:s?}", "field", f.field, "value", f.value);
        if (e == NULL || rt_ex_add(e, "failed", why) != 0 || json_array_append_new(list, e) != 0)
            return GW_ENOMEM;
    }
    return 0;
}

static int rt_ex_decision(json_t *o, const rt_crule_t *hit, const rt_query_t *q,
                          const rt_decision_t *d)
{
    json_t *targets = json_array(), *rewrites = json_array(), *tags = json_object();
    int rc = GW_ENOMEM;
    if (targets == NULL || rewrites == NULL || tags == NULL)
        goto out_free;
    for (size_t i = 0; i < d->ntargets; i++) {
        json_t *t = json_pack("{s:s}", "connector", d->targets[i].connector);
        if (t == NULL || json_array_append_new(targets, t) != 0)
            goto out_free;
        if (d->targets[i].currency != NULL &&
            (rt_ex_add(t, "cost", json_real(d->targets[i].cost)) != 0 ||
             rt_ex_add(t, "currency", json_string(d->targets[i].currency)) != 0))
            goto out_free;
    }
    if (d->from_rewritten &&
        json_array_append_new(rewrites, json_pack("{s:s,s:s?,s:s}", "field", "from", "before",
                                                  q->from.address, "after", d->from.address)) != 0)
        goto out_free;
    if (d->to_rewritten &&
        json_array_append_new(rewrites, json_pack("{s:s,s:s?,s:s}", "field", "to", "before",
                                                  q->to.address, "after", d->to.address)) != 0)
        goto out_free;
    for (size_t i = 0; i < d->ntags; i++)
        if (json_object_set_new(tags, d->tags[i].key, json_string(d->tags[i].value)) != 0)
            goto out_free;
    json_t *set = json_pack("{s:o}", "tags", tags);
    tags = NULL;
    if (set == NULL || rt_ex_add(o, "set", set) != 0)
        goto out_free;
    if ((d->validity_s >= 0 && rt_ex_add(set, "validity_s", json_integer(d->validity_s)) != 0) ||
        (d->receipt >= 0 && rt_ex_add(set, "receipt", json_boolean(d->receipt)) != 0))
        goto out_free;
    rc = rt_ex_add(o, "targets", targets);
    targets = NULL;
    if (rc == 0) {
        rc = rt_ex_add(o, "rewrites", rewrites);
        rewrites = NULL;
    }
    if (rc == 0 && hit != NULL && hit->kind == RT_ROUTE)
        rc = rt_ex_add(o, "strategy", json_string(rt_ex_strategies[hit->strategy]));
    if (rc == 0)
        rc = rt_ex_add(o, "result", json_pack("{s:o,s:o}", "from", rt_ex_addr(&d->from), "to",
                                              rt_ex_addr(&d->to)));
    if (rc == 0)
        rc = rt_ex_add(o, "mirror", d->mirror_exchange == NULL
                                        ? json_null()
                                        : json_pack("{s:s,s:s}", "exchange", d->mirror_exchange,
                                                    "routing_key", d->mirror_routing_key));
    if (rc == 0)
        rc = rt_ex_add(o, "rate_limit", json_string(d->rate == RT_RATE_NONE ? "none" : "ok"));
    if (rc == 0 && (d->kind == RT_REJECT || d->kind == RT_NOROUTE))
        rc = rt_ex_add(o, "sip_status", json_integer(d->sip_status)) ||
             rt_ex_add(o, "smpp_status", json_integer(d->smpp_status));
out_free:
    json_decref(targets);
    json_decref(rewrites);
    json_decref(tags);
    return rc;
}

int rt_explain(const rt_set_t *s, const rt_query_t *q, json_t **out)
{
    int rc = GW_ENOMEM;
    const rt_crule_t *hit;
    rt_decision_t *d = malloc(sizeof *d);
    json_t *o = json_object(), *considered = json_array();

    *out = NULL;
    if (d == NULL || o == NULL || considered == NULL)
        goto out_free;
    if ((rc = rt_ex_considered(s, q, considered, &hit)) != 0)
        goto out_free;
    rt_apply(s, hit, q, 1, d);
    rc = rt_ex_add(o, "decision", json_string(rt_kind_name(d->kind)));
    if (rc == 0)
        rc = rt_ex_add(o, "reason", json_string(d->reason));
    if (rc == 0)
        rc = rt_ex_add(o, "rule", hit != NULL ? rt_ex_rule(hit) : json_null());
    if (rc == 0) {
        rc = rt_ex_add(o, "considered", considered);
        considered = NULL;
    }
    if (rc == 0)
        rc = rt_ex_decision(o, hit, q, d);
    if (rc == 0) {
        *out = o;
        o = NULL;
    }
out_free:
    json_decref(considered);
    json_decref(o);
    free(d);
    return rc;
}
