/*
 * rt_compile_action.c - a rule's "action" compiled (docs/routing.md,
 * "Actions"): route with its strategy and targets (rate tables looked up by
 * name, a round-robin state per rule), reject, drop, rewrites, set, mirror
 * and the rate limit's token bucket.  Each object has its table of known
 * fields; errors carry the field path.
 *
 * Threads: the compiling thread.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_envelope.h"
#include "router/rt_cc.h"

/* Checklist: a new field is named in its table here, parsed below and
 * documented in docs/routing.md. */
static const char *const rt_keys_action[] = { "route", "reject", "drop", "rewrite", "set",
                                              "mirror", "rate_limit", NULL };
static const char *const rt_keys_route[] = { "targets", "strategy", "rates", NULL };
static const char *const rt_keys_target[] = { "connector", "weight", NULL };
static const char *const rt_keys_reject[] = { "sip_status", "smpp_status", "reason", NULL };
static const char *const rt_keys_drop[] = { "reason", NULL };
static const char *const rt_keys_rewrite[] = { "src", "dst", NULL };
static const char *const rt_keys_rwside[] = { "strip", "prefix", "regex", "replace", "ton",
                                              "npi", "type", "alnum", NULL };
static const char *const rt_keys_set[] = { "tags", "validity_s", "receipt", "headers", NULL };
static const char *const rt_keys_mirror[] = { "exchange", "routing_key", NULL };
static const char *const rt_keys_rate[] = { "rate", "burst", "over", "sip_status", "smpp_status",
                                            NULL };
static const char *const rt_strategy_names[] = { "failover", "round_robin", "weighted",
                                                 "least_cost", NULL };

static void rt_cc_route(rt_cc_t *cc, rt_crule_t *r, const json_t *v)
{
    const json_t *t = json_object_get(v, "targets"), *st = json_object_get(v, "strategy"),
                 *rates = json_object_get(v, "rates");
    if (rt_cc_object(cc, v, "action.route", rt_keys_route) != 0)
        return;
    r->kind = RT_ROUTE;
    r->strategy = RT_PICK_FAILOVER;
    if (st != NULL) {
        int k = json_is_string(st) ? rt_cc_name_index(rt_strategy_names, json_string_value(st)) : -1;
        if (k < 0)
            rt_cc_err(cc, "action.route.strategy",
                      "unknown strategy (failover, round_robin, weighted, least_cost)");
        else
            r->strategy = k;
    }
    if (t != NULL && (!json_is_array(t) || json_array_size(t) > RT_TARGETS_MAX)) {
        rt_cc_err(cc, "action.route.targets", "must be an array of at most %d targets",
                  RT_TARGETS_MAX);
        return;
    }
    size_t n = t != NULL ? json_array_size(t) : 0;
    if (n == 0 && r->strategy != RT_PICK_LEAST_COST)
        rt_cc_err(cc, "action.route.targets", "required: at least one target");
    r->targets = rt_arena_alloc(cc->set, (n ? n : 1) * sizeof *r->targets);
    if (r->targets == NULL) {
        cc->nomem = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(t, i), *c, *w;
        char p[64];
        long long weight = 1;
        snprintf(p, sizeof p, "action.route.targets[%zu]", i);
        if (json_is_string(e)) {
            c = e;
        } else if (rt_cc_object(cc, e, p, rt_keys_target) == 0) {
            c = json_object_get(e, "connector");
            if ((w = json_object_get(e, "weight")) != NULL) {
                char q[80];
                snprintf(q, sizeof q, "%s.weight", p);
                rt_cc_int(cc, w, q, 1, 1000000, &weight);
            }
        } else {
            continue;
        }
        if (!json_is_string(c) || json_string_length(c) == 0) {
            rt_cc_err(cc, p, "connector: must be a non-empty string");
            continue;
        }
        r->targets[r->ntargets].connector = rt_cc_dup(cc, json_string_value(c));
        r->targets[r->ntargets++].weight = (unsigned)weight;
    }
    if (r->strategy == RT_PICK_LEAST_COST) {
        if (!json_is_string(rates)) {
            rt_cc_err(cc, "action.route.rates", "least_cost needs the name of a rate table");
        } else if (cc->opts->find_rates == NULL ||
                   (r->rates = cc->opts->find_rates(cc->opts->rates_ctx,
                                                    json_string_value(rates))) == NULL) {
            rt_cc_err(cc, "action.route.rates", "unknown rate table \"%s\"",
                      json_string_value(rates));
        } else {
            char why[200];
            snprintf(why, sizeof why, "rate table %s has no rate for the destination",
                     json_string_value(rates));
            r->norate_reason = rt_cc_dup(cc, why);
        }
    } else {
        if (rates != NULL)
            rt_cc_err(cc, "action.route.rates", "only for the least_cost strategy");
        if ((r->pick = rt_pick_state_new()) == NULL)
            cc->nomem = 1;
    }
}

static void rt_cc_reject(rt_cc_t *cc, rt_crule_t *r, const json_t *v)
{
    long long n;
    const json_t *x;
    if (rt_cc_object(cc, v, "action.reject", rt_keys_reject) != 0)
        return;
    r->kind = RT_REJECT;
    r->sip_status = 403;
    r->smpp_status = 0x45; /* ESME_RSUBMITFAIL */
    r->reason = "rejected by rule";
    if ((x = json_object_get(v, "sip_status")) != NULL &&
        rt_cc_int(cc, x, "action.reject.sip_status", 400, 699, &n) == 0)
        r->sip_status = (int)n;
    if ((x = json_object_get(v, "smpp_status")) != NULL &&
        rt_cc_int(cc, x, "action.reject.smpp_status", 1, 0x7fffffff, &n) == 0)
        r->smpp_status = (int)n;
    if ((x = json_object_get(v, "reason")) != NULL) {
        if (json_is_string(x))
            r->reason = rt_cc_dup(cc, json_string_value(x));
        else
            rt_cc_err(cc, "action.reject.reason", "must be a string");
    }
}

static void rt_cc_rwside(rt_cc_t *cc, rt_rewrite_t *rw, const json_t *v, const char *side)
{
    char path[48], p[64];
    const json_t *x;
    long long n;
    snprintf(path, sizeof path, "action.rewrite.%s", side);
    if (rt_cc_object(cc, v, path, rt_keys_rwside) != 0)
        return;
    rw->on = 1;
    rw->ton = rw->npi = rw->type = -1;
    snprintf(p, sizeof p, "%s.strip", path);
    if ((x = json_object_get(v, "strip")) != NULL && rt_cc_int(cc, x, p, 0, GW_ADDR_MAX, &n) == 0)
        rw->strip = (unsigned)n;
    snprintf(p, sizeof p, "%s.prefix", path);
    if ((x = json_object_get(v, "prefix")) != NULL) {
        if (json_is_string(x))
            rw->prefix = rt_cc_dup(cc, json_string_value(x));
        else
            rt_cc_err(cc, p, "must be a string");
    }
    snprintf(p, sizeof p, "%s.regex", path);
    const json_t *re = json_object_get(v, "regex"), *rep = json_object_get(v, "replace");
    if ((re == NULL) != (rep == NULL)) {
        rt_cc_err(cc, path, "regex and replace go together");
    } else if (re != NULL) {
        rw->re = rt_cc_regex(cc, re, p, NULL);
        snprintf(p, sizeof p, "%s.replace", path);
        if (json_is_string(rep))
            rw->replace = rt_cc_dup(cc, json_string_value(rep));
        else
            rt_cc_err(cc, p, "must be a string");
    }
    snprintf(p, sizeof p, "%s.ton", path);
    if ((x = json_object_get(v, "ton")) != NULL && rt_cc_int(cc, x, p, 0, 6, &n) == 0)
        rw->ton = (int)n;
    snprintf(p, sizeof p, "%s.npi", path);
    if ((x = json_object_get(v, "npi")) != NULL && rt_cc_int(cc, x, p, 0, 18, &n) == 0)
        rw->npi = (int)n;
    snprintf(p, sizeof p, "%s.type", path);
    if ((x = json_object_get(v, "type")) != NULL) {
        int t = json_is_string(x) ? gw_addr_type_parse(json_string_value(x)) : -1;
        if (t < 0)
            rt_cc_err(cc, p, "unknown address type");
        rw->type = t;
    }
    snprintf(p, sizeof p, "%s.alnum", path);
    if ((x = json_object_get(v, "alnum")) != NULL) {
        if (!json_is_string(x) || json_string_length(x) == 0 ||
            json_string_length(x) > GW_ADDR_ALNUM_SMPP)
            rt_cc_err(cc, p, "must be a string of 1 to %d characters", GW_ADDR_ALNUM_SMPP);
        else
            rw->alnum = rt_cc_dup(cc, json_string_value(x));
    }
}

/* action.set.tags: each a string, appended to r->set_tags (sized by the
 * caller). */
static void rt_cc_set_tags(rt_cc_t *cc, rt_crule_t *r, const json_t *x)
{
    const char *key;
    json_t *val;

    json_object_foreach((json_t *)x, key, val) {
        if (!json_is_string(val)) {
            rt_cc_err(cc, "action.set.tags", "%s: must be a string", key);
            continue;
        }
        r->set_tags[r->nset_tags].key = rt_cc_dup(cc, key);
        r->set_tags[r->nset_tags++].value = rt_cc_dup(cc, json_string_value(val));
    }
}

/* action.set.headers: AMQP headers for what junction publishes of the
 * message (its envelope to an amqp target, a mirror copy), carried as the
 * tags GW_TAG_AMQP_OUT "<name>" (docs/routing.md).  A name is 1-64
 * characters of letters, digits and "-_.", not starting "x-junction-"
 * (junction's own); a value a string of at most 256 bytes. */
static void rt_cc_set_headers(rt_cc_t *cc, rt_crule_t *r, const json_t *x)
{
    const char *key;
    json_t *val;
    char tag[96];

    json_object_foreach((json_t *)x, key, val) {
        size_t n = strlen(key);
        if (n == 0 || n > 64 || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_.") != n ||
            strncasecmp(key, "x-junction-", 11) == 0) {
            rt_cc_err(cc, "action.set.headers", "%s: a header name is 1-64 letters, digits or "
                      "-_. and not x-junction-*", key);
            continue;
        }
        if (!json_is_string(val) || json_string_length(val) > 256) {
            rt_cc_err(cc, "action.set.headers", "%s: must be a string of at most 256 bytes", key);
            continue;
        }
        snprintf(tag, sizeof tag, "%s%s", GW_TAG_AMQP_OUT, key);
        r->set_tags[r->nset_tags].key = rt_cc_dup(cc, tag);
        r->set_tags[r->nset_tags++].value = rt_cc_dup(cc, json_string_value(val));
    }
}

static void rt_cc_set(rt_cc_t *cc, rt_crule_t *r, const json_t *v)
{
    const json_t *x;
    long long n;
    if (rt_cc_object(cc, v, "action.set", rt_keys_set) != 0)
        return;
    if ((x = json_object_get(v, "validity_s")) != NULL &&
        rt_cc_int(cc, x, "action.set.validity_s", 0, 30LL * 86400, &n) == 0)
        r->validity_s = (int)n;
    if ((x = json_object_get(v, "receipt")) != NULL) {
        if (json_is_boolean(x))
            r->receipt = json_is_true(x);
        else
            rt_cc_err(cc, "action.set.receipt", "must be true or false");
    }
    size_t n_all = 0;
    const json_t *tags = json_object_get(v, "tags"), *hdrs = json_object_get(v, "headers");
    if (tags != NULL && !json_is_object(tags)) {
        rt_cc_err(cc, "action.set.tags", "must be an object of key: value");
        tags = NULL;
    }
    if (hdrs != NULL && !json_is_object(hdrs)) {
        rt_cc_err(cc, "action.set.headers", "must be an object of name: value");
        hdrs = NULL;
    } else if (hdrs != NULL && json_object_size(hdrs) > RT_SET_HEADERS_MAX) {
        rt_cc_err(cc, "action.set.headers", "at most %d headers", RT_SET_HEADERS_MAX);
        hdrs = NULL;
    }
    n_all = (tags ? json_object_size(tags) : 0) + (hdrs ? json_object_size(hdrs) : 0);
    if (n_all == 0)
        return;
    r->set_tags = rt_arena_alloc(cc->set, (n_all + 1) * sizeof *r->set_tags);
    if (r->set_tags == NULL) {
        cc->nomem = 1;
        return;
    }
    if (tags != NULL)
        rt_cc_set_tags(cc, r, tags);
    if (hdrs != NULL)
        rt_cc_set_headers(cc, r, hdrs);
}

static void rt_cc_rate(rt_cc_t *cc, rt_crule_t *r, const json_t *v)
{
    const json_t *rate = json_object_get(v, "rate"), *burst = json_object_get(v, "burst"),
                 *over = json_object_get(v, "over"), *x;
    long long n;
    if (rt_cc_object(cc, v, "action.rate_limit", rt_keys_rate) != 0)
        return;
    r->over_reject = 1;
    r->over_sip = 503;
    r->over_smpp = 0x58; /* ESME_RTHROTTLED */
    r->over_reason = "rate limit exceeded";
    if (!json_is_number(rate) || json_number_value(rate) <= 0) {
        rt_cc_err(cc, "action.rate_limit.rate", "must be a number of messages per second > 0");
        return;
    }
    double b = json_number_value(rate);
    if (burst != NULL && (!json_is_number(burst) || json_number_value(burst) < 1))
        rt_cc_err(cc, "action.rate_limit.burst", "must be a number >= 1");
    else if (burst != NULL)
        b = json_number_value(burst);
    if (over != NULL) {
        if (json_is_string(over) && strcmp(json_string_value(over), "queue") == 0)
            r->over_reject = 0;
        else if (!json_is_string(over) || strcmp(json_string_value(over), "reject") != 0)
            rt_cc_err(cc, "action.rate_limit.over", "must be \"reject\" or \"queue\"");
    }
    if ((x = json_object_get(v, "sip_status")) != NULL &&
        rt_cc_int(cc, x, "action.rate_limit.sip_status", 400, 699, &n) == 0)
        r->over_sip = (int)n;
    if ((x = json_object_get(v, "smpp_status")) != NULL &&
        rt_cc_int(cc, x, "action.rate_limit.smpp_status", 1, 0x7fffffff, &n) == 0)
        r->over_smpp = (int)n;
    if ((r->bucket = rt_bucket_new(json_number_value(rate), b < 1 ? 1 : b)) == NULL)
        cc->nomem = 1;
}

void rt_cc_action(rt_cc_t *cc, rt_crule_t *r, const json_t *a)
{
    const json_t *x;
    if (a == NULL) {
        rt_cc_err(cc, "action", "required");
        return;
    }
    if (rt_cc_object(cc, a, "action", rt_keys_action) != 0)
        return;
    int kinds = (json_object_get(a, "route") != NULL) + (json_object_get(a, "reject") != NULL) +
                (json_object_get(a, "drop") != NULL);
    if (kinds != 1)
        rt_cc_err(cc, "action", "exactly one of route, reject, drop");
    if ((x = json_object_get(a, "route")) != NULL)
        rt_cc_route(cc, r, x);
    if ((x = json_object_get(a, "reject")) != NULL)
        rt_cc_reject(cc, r, x);
    if ((x = json_object_get(a, "drop")) != NULL) {
        r->kind = RT_DROP;
        r->reason = "dropped by rule";
        if (json_is_object(x)) {
            if (rt_cc_object(cc, x, "action.drop", rt_keys_drop) == 0 &&
                json_is_string(json_object_get(x, "reason")))
                r->reason = rt_cc_dup(cc, json_string_value(json_object_get(x, "reason")));
        } else if (!json_is_true(x)) {
            rt_cc_err(cc, "action.drop", "must be true or an object {reason}");
        }
    }
    if ((x = json_object_get(a, "rewrite")) != NULL &&
        rt_cc_object(cc, x, "action.rewrite", rt_keys_rewrite) == 0) {
        if (json_object_get(x, "src") != NULL)
            rt_cc_rwside(cc, &r->rw_src, json_object_get(x, "src"), "src");
        if (json_object_get(x, "dst") != NULL)
            rt_cc_rwside(cc, &r->rw_dst, json_object_get(x, "dst"), "dst");
    }
    if ((x = json_object_get(a, "set")) != NULL)
        rt_cc_set(cc, r, x);
    if ((x = json_object_get(a, "mirror")) != NULL &&
        rt_cc_object(cc, x, "action.mirror", rt_keys_mirror) == 0) {
        const json_t *ex = json_object_get(x, "exchange"), *rk = json_object_get(x, "routing_key");
        /* AMQP short strings; the core copies both (gw_route_extra_t) */
        if (!json_is_string(ex) || json_string_length(ex) == 0 || json_string_length(ex) > 127)
            rt_cc_err(cc, "action.mirror.exchange", "required: a string of 1 to 127 bytes");
        else
            r->mirror_exchange = rt_cc_dup(cc, json_string_value(ex));
        if (rk != NULL && (!json_is_string(rk) || json_string_length(rk) > 255))
            rt_cc_err(cc, "action.mirror.routing_key", "must be a string of at most 255 bytes");
        r->mirror_rk = rt_cc_dup(cc, json_is_string(rk) ? json_string_value(rk) : "");
    }
    if ((x = json_object_get(a, "rate_limit")) != NULL)
        rt_cc_rate(cc, r, x);
}

