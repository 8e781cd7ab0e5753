/*
 * rt_match.c - filters, actions and rt_decide: the match path.
 *
 * rt_decide walks the set's destination trie along to.address, merges the
 * candidate lists it passes (each ascending in priority order) with the
 * rules that have no dst prefix, and tests candidates in that order with
 * rt_rule_check until one matches; rt_apply turns the rule into the
 * decision.  Neither allocates nor locks: regexes use the calling thread's
 * match data (rt_tls_match_data, created once per thread), rewrites write
 * into the decision's buffers, strings point into the set.
 *
 * rt_rule_check tests a rule's conditions in a fixed order, cheap ones
 * first, and reports the first that failed (for rt_explain):
 *   enabled, source.connector, source.<kind> (the kinds the rule lists:
 *   one must match), filters.dst.{prefix,exact,type},
 *   filters.src.{prefix,exact,type}, filters.coding, filters.length.chars,
 *   filters.length.parts, filters.tags, filters.time, filters.dst.regex,
 *   filters.src.regex, filters.body.regex
 * (docs/routing.md lists the same order: keep the two together).
 *
 * Threads: any; several at once on one set.
 */
#include <string.h>
#include <strings.h>

#include "router/rt_int.h"

#define RT_ESME_RINVDSTADR 0x0B
#define RT_ESME_RTHROTTLED 0x58

static const char *const rt_coding_names[RT_CODING__COUNT] = { "gsm", "ucs2", "binary" };

const char *rt_kind_name(rt_kind_t k)
{
    static const char *const names[] = { "no_route", "route", "reject", "drop" };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

int rt_regex_match(const rt_set_t *s, const pcre2_code *re, const char *subj, size_t len)
{
    pcre2_match_data *md = rt_tls_match_data();
    if (md == NULL)
        return 0; /* out of memory once per thread: fail closed */
    return pcre2_match(re, (PCRE2_SPTR)(subj != NULL ? subj : ""), subj != NULL ? len : 0, 0, 0,
                       md, s->mctx) >= 0;
}

static int rt_in_list(const char *const *list, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], v) == 0)
            return 1;
    return 0;
}

/* 1 when v (vlen bytes) starts with one of f's prefixes; their lengths
 * were measured at compile time. */
static int rt_has_prefix_of(const rt_addr_filter_t *f, const char *v, size_t vlen)
{
    for (size_t i = 0; i < f->nprefix; i++)
        if (f->prefix_len[i] <= vlen && memcmp(v, f->prefix[i], f->prefix_len[i]) == 0)
            return 1;
    return 0;
}

static int rt_fail_at(rt_fail_t *f, const char *field, const char *value)
{
    f->field = field;
    f->value = value;
    f->has_num = 0;
    f->num = 0;
    return 0;
}

static int rt_fail_num(rt_fail_t *f, const char *field, long long num)
{
    rt_fail_at(f, field, NULL);
    f->num = num;
    f->has_num = 1;
    return 0;
}

/* Field names per side: [0] dst, [1] src. */
static const char *const rt_f_prefix[2] = { "filters.dst.prefix", "filters.src.prefix" };
static const char *const rt_f_exact[2] = { "filters.dst.exact", "filters.src.exact" };
static const char *const rt_f_type[2] = { "filters.dst.type", "filters.src.type" };

static int rt_addr_simple(const rt_addr_filter_t *f, const gw_addr_t *a, int side, int skip_prefix,
                          rt_fail_t *fail)
{
    const char *v = a->address != NULL ? a->address : "";
    if (f->nprefix > 0 && !skip_prefix && !rt_has_prefix_of(f, v, strlen(v)))
        return rt_fail_at(fail, rt_f_prefix[side], v);
    if (f->nexact > 0 && !rt_in_list(f->exact, f->nexact, v))
        return rt_fail_at(fail, rt_f_exact[side], v);
    if (f->types != 0 && ((unsigned)a->type >= GW_ADDR__COUNT || !(f->types & (1u << a->type))))
        return rt_fail_at(fail, rt_f_type[side],
                          (unsigned)a->type < GW_ADDR__COUNT ? gw_addr_type_name(a->type) : "?");
    return 1;
}

/* Failure field per source kind (rt_src_kind_names in rt_compile.c). */
static const char *const rt_f_source[RT_SRC__COUNT] = {
    "source.connector", "source.smpp_account", "source.sip_domain",
    "source.sip_peer",  "source.amqp_queue",   "source.api_key"
};

/* 1 when domain d is one of the list's, case-insensitively; an item
 * "*.example.com" stands for every name below example.com (a.example.com,
 * a.b.example.com) but not example.com itself. */
static int rt_domain_in_list(const char *const *list, size_t n, const char *d)
{
    size_t dlen = strlen(d);
    for (size_t i = 0; i < n; i++) {
        const char *p = list[i];
        if (p[0] == '*' && p[1] == '.') {
            size_t slen = strlen(p + 1); /* ".example.com" */
            if (dlen > slen && strcasecmp(d + dlen - slen, p + 1) == 0)
                return 1;
        } else if (strcasecmp(p, d) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A SIP peer "ip:port" against the rule's peers: "ip:port" exactly, or a
 * bare "ip" for any port of that address (an IPv4 text has no ':'). */
static int rt_peer_in_list(const char *const *list, size_t n, const char *peer)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = list[i];
        size_t k = 0;
        while (p[k] != '\0' && p[k] == peer[k])
            k++;
        if (p[k] == '\0' && (peer[k] == '\0' || (peer[k] == ':' && strchr(p, ':') == NULL)))
            return 1;
    }
    return 0;
}

/* The rule's source kinds: 1 when the query's value of ONE of the kinds
 * the rule lists is among that kind's values.  Else 0, failing at the
 * first listed kind the query has a value for (or the first listed at
 * all, with no value): the explanation names what did not match. */
static int rt_source_ok(const rt_crule_t *r, const rt_query_t *q, rt_fail_t *fail)
{
    int blame = -1;
    for (int k = RT_SRC_CONNECTOR + 1; k < RT_SRC__COUNT; k++) {
        const char *v = q->source.values[k];
        if (r->nsrc_vals[k] == 0)
            continue;
        if (v != NULL &&
            (k == RT_SRC_SIP_DOMAIN ? rt_domain_in_list(r->src_vals[k], r->nsrc_vals[k], v)
             : k == RT_SRC_SIP_PEER ? rt_peer_in_list(r->src_vals[k], r->nsrc_vals[k], v)
                                    : rt_in_list(r->src_vals[k], r->nsrc_vals[k], v)))
            return 1;
        if (blame < 0 || (q->source.values[blame] == NULL && v != NULL))
            blame = k;
    }
    if (blame < 0)
        return rt_fail_at(fail, "source", NULL);
    return rt_fail_at(fail, rt_f_source[blame], q->source.values[blame]);
}

static const char *rt_tag_value(const rt_query_t *q, const char *key)
{
    for (size_t i = 0; i < q->ntags; i++)
        if (q->tags[i].key != NULL && strcmp(q->tags[i].key, key) == 0)
            return q->tags[i].value != NULL ? q->tags[i].value : "";
    return NULL;
}

/* 1 when q->now falls in one of r's windows, in r's zone. */
static int rt_time_ok(const rt_crule_t *r, int64_t now)
{
    if (now > (INT64_C(1) << 44) || now < -(INT64_C(1) << 44))
        return 0; /* no clock is that wrong: and now + offset must not overflow */
    int64_t local = now + rt_tz_offset(r->tz, now);
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    unsigned minute = (unsigned)((local - days * 86400) / 60);
    int wd = rt_weekday(days), prev = (wd + 6) % 7;
    for (size_t i = 0; i < r->nwindows; i++) {
        const rt_window_t *w = &r->windows[i];
        if (w->from < w->to) {
            if ((w->days & (1u << wd)) && minute >= w->from && minute < w->to)
                return 1;
        } else if (((w->days & (1u << wd)) && minute >= w->from) ||
                   ((w->days & (1u << prev)) && minute < w->to)) {
            return 1; /* from == to: the whole day */
        }
    }
    return 0;
}

int rt_rule_check(const rt_set_t *s, const rt_crule_t *r, const rt_query_t *q, int skip_dst_prefix,
                  rt_fail_t *fail)
{
    rt_fail_t dummy;
    if (fail == NULL)
        fail = &dummy;
    if (!r->enabled)
        return rt_fail_at(fail, "enabled", NULL);
    if (r->nsrc_conn > 0 &&
        (q->source.connector == NULL || !rt_in_list(r->src_conn, r->nsrc_conn, q->source.connector)))
        return rt_fail_at(fail, "source.connector", q->source.connector);
    if (r->has_src_kind && !rt_source_ok(r, q, fail))
        return 0;
    if (!rt_addr_simple(&r->f_dst, &q->to, 0, skip_dst_prefix, fail) ||
        !rt_addr_simple(&r->f_src, &q->from, 1, 0, fail))
        return 0;
    if (r->codings != 0 &&
        ((unsigned)q->coding >= RT_CODING__COUNT || !(r->codings & (1u << q->coding))))
        return rt_fail_at(fail, "filters.coding",
                          (unsigned)q->coding < RT_CODING__COUNT ? rt_coding_names[q->coding] : "?");
    if (q->chars < r->chars_min || q->chars > r->chars_max)
        return rt_fail_num(fail, "filters.length.chars", q->chars);
    if (q->parts < r->parts_min || q->parts > r->parts_max)
        return rt_fail_num(fail, "filters.length.parts", q->parts);
    for (size_t i = 0; i < r->ntags; i++) {
        const char *v = rt_tag_value(q, r->tags[i].key);
        if (v == NULL || (r->tags[i].value != NULL && strcmp(v, r->tags[i].value) != 0))
            return rt_fail_at(fail, "filters.tags", r->tags[i].key);
    }
    if (r->tz != NULL && !rt_time_ok(r, q->now))
        return rt_fail_num(fail, "filters.time", q->now);
    if (r->f_dst.re != NULL && !rt_regex_match(s, r->f_dst.re, q->to.address,
                                               q->to.address ? strlen(q->to.address) : 0))
        return rt_fail_at(fail, "filters.dst.regex", q->to.address);
    if (r->f_src.re != NULL && !rt_regex_match(s, r->f_src.re, q->from.address,
                                               q->from.address ? strlen(q->from.address) : 0))
        return rt_fail_at(fail, "filters.src.regex", q->from.address);
    if (r->body_re != NULL &&
        (q->coding == RT_CODING_BINARY || !rt_regex_match(s, r->body_re, q->body, q->body_len)))
        return rt_fail_at(fail, "filters.body.regex", NULL);
    return 1;
}

/* Rewrite in into *out (address in buf, GW_ADDR_MAX + 1 bytes): strip,
 * prefix, regex substitution, then alnum/type/ton/npi.  0, or -1 when the
 * result does not fit or the substitution failed. */
static int rt_rewrite(const rt_set_t *s, const rt_rewrite_t *rw, const gw_addr_t *in, gw_addr_t *out,
                      char *buf)
{
    char tmp[GW_ADDR_MAX + 1];
    const char *cur = in->address != NULL ? in->address : "";
    size_t len = strlen(cur);

    *out = *in;
    if (rw->alnum != NULL) {
        len = strlen(rw->alnum);
        memcpy(buf, rw->alnum, len + 1);
        out->type = GW_ADDR_ALNUM;
        out->ton = GW_TON_ALNUM;
        out->npi = GW_NPI_UNKNOWN;
    } else {
        size_t k = rw->strip < len ? rw->strip : len;
        cur += k;
        len -= k;
        if (rw->prefix != NULL) {
            size_t plen = strlen(rw->prefix);
            if (plen + len > GW_ADDR_MAX)
                return -1;
            memcpy(tmp, rw->prefix, plen);
            memcpy(tmp + plen, cur, len);
            tmp[plen + len] = '\0';
            cur = tmp;
            len += plen;
        }
        if (rw->re != NULL) {
            pcre2_match_data *md = rt_tls_match_data();
            PCRE2_SIZE olen = GW_ADDR_MAX + 1;
            if (md == NULL ||
                pcre2_substitute(rw->re, (PCRE2_SPTR)cur, len, 0, 0, md, s->mctx,
                                 (PCRE2_SPTR)rw->replace, PCRE2_ZERO_TERMINATED,
                                 (PCRE2_UCHAR *)buf, &olen) < 0)
                return -1;
        } else {
            memmove(buf, cur, len + 1);
        }
    }
    if (rw->type >= 0)
        out->type = (gw_addr_type_t)rw->type;
    if (rw->ton >= 0)
        out->ton = rw->ton;
    if (rw->npi >= 0)
        out->npi = rw->npi;
    out->address = buf;
    return 0;
}

static rt_kind_t rt_noroute(rt_decision_t *out, const char *reason)
{
    out->kind = RT_NOROUTE;
    out->reason = reason;
    out->sip_status = 404;
    out->smpp_status = RT_ESME_RINVDSTADR;
    out->ntargets = 0;
    return RT_NOROUTE;
}

/* The targets of a route action into out->targets. */
static rt_kind_t rt_route(const rt_crule_t *r, const rt_query_t *q, int dry, rt_decision_t *out)
{
    out->kind = RT_ROUTE;
    out->reason = "routed";
    out->strategy = r->strategy;
    if (r->rates != NULL) {
        rt_rate_hit_t hits[4 * RT_TARGETS_MAX];
        size_t n = rt_rates_lookup(r->rates, out->to.address != NULL ? out->to.address : "", q->now,
                                   hits, sizeof hits / sizeof hits[0]);
        out->ntargets = 0;
        for (size_t i = 0; i < n && out->ntargets < RT_TARGETS_MAX; i++) {
            int listed = r->ntargets == 0;
            for (size_t k = 0; k < r->ntargets && !listed; k++)
                listed = strcmp(r->targets[k].connector, hits[i].connector) == 0;
            if (!listed)
                continue;
            rt_target_t *t = &out->targets[out->ntargets++];
            t->connector = hits[i].connector;
            t->cost = hits[i].cost;
            t->currency = hits[i].currency;
        }
        if (out->ntargets == 0)
            return rt_noroute(out, r->norate_reason);
        return RT_ROUTE;
    }
    const char *names[RT_TARGETS_MAX];
    /* A dry run must not advance the round-robin counter: it shows the
     * configured order instead. */
    rt_pick_kind_t kind = dry && r->strategy == RT_PICK_ROUND_ROBIN ? RT_PICK_FAILOVER
                                                                     : (rt_pick_kind_t)r->strategy;
    size_t n = rt_pick_order(kind, r->pick, r->targets, r->ntargets, names, RT_TARGETS_MAX);
    for (size_t i = 0; i < n; i++) {
        out->targets[i].connector = names[i];
        out->targets[i].cost = -1;
        out->targets[i].currency = NULL;
    }
    out->ntargets = n;
    return n > 0 ? RT_ROUTE : rt_noroute(out, "rule has no targets");
}

rt_kind_t rt_apply(const rt_set_t *s, const rt_crule_t *r, const rt_query_t *q, int dry,
                   rt_decision_t *out)
{
    out->rule_id = -1;
    out->rule_name = NULL;
    out->strategy = 0;
    out->ntargets = 0;
    out->from = q->from;
    out->to = q->to;
    out->from_rewritten = out->to_rewritten = 0;
    out->tags = NULL;
    out->ntags = 0;
    out->validity_s = -1;
    out->receipt = -1;
    out->mirror_exchange = out->mirror_routing_key = NULL;
    out->rate = RT_RATE_NONE;
    out->rate_due_us = 0;
    out->sip_status = out->smpp_status = 0;
    if (r == NULL)
        return rt_noroute(out, "no rule matched");
    out->rule_id = r->id;
    out->rule_name = r->name;
    if (r->rw_src.on) {
        if (rt_rewrite(s, &r->rw_src, &q->from, &out->from, out->from_buf) != 0)
            return rt_noroute(out, "rewrite of from failed (result too long)");
        out->from_rewritten = 1;
    }
    if (r->rw_dst.on) {
        if (rt_rewrite(s, &r->rw_dst, &q->to, &out->to, out->to_buf) != 0)
            return rt_noroute(out, "rewrite of to failed (result too long)");
        out->to_rewritten = 1;
    }
    out->tags = r->set_tags;
    out->ntags = r->nset_tags;
    out->validity_s = r->validity_s;
    out->receipt = r->receipt;
    out->mirror_exchange = r->mirror_exchange;
    out->mirror_routing_key = r->mirror_rk;
    if (r->bucket != NULL) {
        int64_t us = q->now_us != 0 ? q->now_us : q->now * 1000000;
        if (dry) {
            out->rate = RT_RATE_OK;
        } else if (!r->over_reject) {
            /* "queue": book the next token; the core holds the message
             * until it is due, so the rate holds on the way out */
            int64_t due = rt_bucket_reserve(r->bucket, us);
            if (due > us) {
                out->rate = RT_RATE_OVER_QUEUE;
                out->rate_due_us = due;
            } else {
                out->rate = RT_RATE_OK;
            }
        } else if (rt_bucket_take(r->bucket, us)) {
            out->rate = RT_RATE_OK;
        } else {
            out->rate = RT_RATE_OVER_REJECT;
            out->kind = RT_REJECT;
            out->reason = r->over_reason;
            out->sip_status = r->over_sip;
            out->smpp_status = r->over_smpp;
            return RT_REJECT;
        }
    }
    switch (r->kind) {
    case RT_REJECT:
        out->kind = RT_REJECT;
        out->reason = r->reason;
        out->sip_status = r->sip_status;
        out->smpp_status = r->smpp_status;
        return RT_REJECT;
    case RT_DROP:
        out->kind = RT_DROP;
        out->reason = r->reason;
        out->tags = r->set_tags; /* the stored record and its mirror copy carry them */
        out->ntags = r->nset_tags;
        return RT_DROP;
    default:
        return rt_route(r, q, dry, out);
    }
}

rt_kind_t rt_decide(const rt_set_t *s, const rt_query_t *q, rt_decision_t *out)
{
    const uint32_t *list[RT_PREFIX_MAX + 2];
    uint32_t len[RT_PREFIX_MAX + 2], pos[RT_PREFIX_MAX + 2];
    size_t k = 0;
    const rt_crule_t *hit = NULL;

    if (s->nnopfx > 0) {
        list[k] = s->nopfx;
        len[k++] = (uint32_t)s->nnopfx;
    }
    if (s->nnodes > 0) {
        const unsigned char *p = (const unsigned char *)(q->to.address ? q->to.address : "");
        uint32_t at = 0;
        for (int depth = 0; *p != '\0' && depth < RT_PREFIX_MAX; p++, depth++) {
            const rt_tnode_t *n = &s->nodes[at];
            uint32_t c = 0;
            while (c < n->nkids && n->keys[c] != *p)
                c++;
            if (c == n->nkids)
                break;
            at = n->kids[c];
            if (s->nodes[at].nrules > 0) {
                list[k] = s->nodes[at].rules;
                len[k++] = s->nodes[at].nrules;
            }
        }
    }
    memset(pos, 0, k * sizeof pos[0]);
    for (uint32_t last = UINT32_MAX;;) {
        size_t best = k;
        for (size_t i = 0; i < k; i++)
            if (pos[i] < len[i] && (best == k || list[i][pos[i]] < list[best][pos[best]]))
                best = i;
        if (best == k)
            break;
        uint32_t o = list[best][pos[best]++];
        if (o == last)
            continue; /* listed under two of the prefixes passed */
        last = o;
        if (rt_rule_check(s, &s->rules[o], q, 1, NULL)) {
            hit = &s->rules[o];
            break;
        }
    }
    /* what the self-diagnosis reads (rt_set_hits): one relaxed add each */
    __atomic_add_fetch(&s->hits[s->nrules], 1, __ATOMIC_RELAXED);
    if (hit != NULL)
        __atomic_add_fetch(&s->hits[hit->order], 1, __ATOMIC_RELAXED);
    return rt_apply(s, hit, q, 0, out);
}

rt_kind_t rt_decide_linear(const rt_set_t *s, const rt_query_t *q, rt_decision_t *out)
{
    const rt_crule_t *hit = NULL;
    for (size_t i = 0; i < s->nrules && hit == NULL; i++)
        if (rt_rule_check(s, &s->rules[i], q, 0, NULL))
            hit = &s->rules[i];
    return rt_apply(s, hit, q, 0, out);
}
