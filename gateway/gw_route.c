/*
 * gw_route.c - the compiled rule engine as the core's router.
 *
 * Rules and rate tables live in the store (db_rules.c).  A reload reads
 * both, seals the rate tables into a rate set, compiles the rules against
 * it and installs the result with rt_set_install: the match path never
 * takes a lock, and a set with any error is never installed (the running
 * one stays, and the errors go back to the caller, each with its rule id
 * and field).  The engine keeps no reference on rate tables, so the rate
 * set is reference counted and every rule set compiled against it holds
 * one (rt_compile_opts_t.owner): a table is freed only once the last set
 * that may look up in it is.
 *
 * For a message, gw_route_query views the envelope as an rt_query_t (the
 * router never sees the envelope): source, addresses, body, coding class,
 * length in characters and parts, tags, time.  Length and parts are
 * counted here as the SMS surfaces would encode the text (the SMPP codec
 * is an adapter's, below reach): GSM 03.38 when every character is in its
 * default alphabet or extension table (an extension character counts two
 * septets), 160 septets in one part or 153 per part of a long message;
 * otherwise UCS-2, 70 units or 67 per part; binary 140 / 134 bytes.
 *
 * gw_route_decide applies the decision before the envelope is stored or
 * shared: rewritten addresses, tags, validity and receipt request go onto
 * the envelope; the targets, in the order the rule's strategy chose them,
 * become the delivery plan (failover across them is the core's).  Every
 * decision goes to the trace bus.  Two parts of a routed decision are the
 * core's to carry out, and go back to it in gw_route_extra_t (copied: the
 * decision's strings live only as long as the set): the time a rate limit
 * with "over": "queue" booked for the message (the core holds it in its
 * queue's retry list until then), and the rule's mirror exchange and
 * routing key (the core adds a message.mirrored event to the insert).
 *
 * Threads: gw_route_decide / explain / query on any thread; reload,
 * install and the current rate set under gw_route_lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../db/db.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_report.h"
#include "gw_route.h"
#include "gw_str.h"
#include "gw_trace.h"

#define GW_ROUTE_TAGS_MAX 32

struct gw_rateset {
    int refs;            /* atomic */
    size_t n;
    rt_rates_t **t;      /* sorted by name; each shared with other sets: see refs */
    int **trefs;         /* per table: how many rate sets hold it (atomic) */
};

static pthread_mutex_t gw_route_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_rateset_t *gw_route_rates; /* the running set's rates; guarded by gw_route_lock */
static __thread gw_refusal_t gw_route_refusal;

const gw_refusal_t *gw_core_refusal(void)
{
    return &gw_route_refusal;
}

/* ---- rate sets ---------------------------------------------------------- */

static gw_rateset_t *gw_rateset_alloc(size_t n)
{
    gw_rateset_t *rs = calloc(1, sizeof *rs);

    if (rs == NULL)
        return NULL;
    rs->refs = 1;
    rs->t = calloc(n ? n : 1, sizeof *rs->t);
    rs->trefs = calloc(n ? n : 1, sizeof *rs->trefs);
    if (rs->t == NULL || rs->trefs == NULL) {
        free(rs->t);
        free(rs->trefs);
        free(rs);
        return NULL;
    }
    return rs;
}

/* Put table t (with its share count c, or a new one) at the end of rs. */
static int gw_rateset_push(gw_rateset_t *rs, rt_rates_t *t, int *c)
{
    if (c == NULL && (c = calloc(1, sizeof *c)) == NULL)
        return GW_ENOMEM;
    __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
    rs->t[rs->n] = t;
    rs->trefs[rs->n] = c;
    rs->n++;
    return GW_OK;
}

gw_rateset_t *gw_rateset_ref(gw_rateset_t *rs)
{
    if (rs != NULL)
        __atomic_add_fetch(&rs->refs, 1, __ATOMIC_RELAXED);
    return rs;
}

void gw_rateset_unref(gw_rateset_t *rs)
{
    if (rs == NULL || __atomic_sub_fetch(&rs->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        if (__atomic_sub_fetch(rs->trefs[i], 1, __ATOMIC_ACQ_REL) == 0) {
            rt_rates_free(rs->t[i]);
            free(rs->trefs[i]);
        }
    }
    free(rs->t);
    free(rs->trefs);
    free(rs);
}

static void gw_rateset_release(void *rs)
{
    gw_rateset_unref(rs);
}

const rt_rates_t *gw_rateset_find(const gw_rateset_t *rs, const char *name)
{
    for (size_t i = 0; rs != NULL && i < rs->n; i++)
        if (strcmp(rt_rates_name(rs->t[i]), name) == 0)
            return rs->t[i];
    return NULL;
}

static const rt_rates_t *gw_rateset_find_cb(void *ctx, const char *name)
{
    return gw_rateset_find(ctx, name);
}

json_t *gw_rateset_tables(const gw_rateset_t *rs)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && rs != NULL && i < rs->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "name", rt_rates_name(rs->t[i]),
                                           "rows", (json_int_t)rt_rates_count(rs->t[i]),
                                           "memory", (json_int_t)rt_rates_memory(rs->t[i])));
    return a;
}

gw_rateset_t *gw_rateset_with(gw_rateset_t *rs, const char *name, rt_rates_t *t)
{
    gw_rateset_t *out = gw_rateset_alloc((rs != NULL ? rs->n : 0) + 1);
    int rc = out != NULL ? GW_OK : GW_ENOMEM;

    for (size_t i = 0; rc == GW_OK && rs != NULL && i < rs->n; i++)
        if (strcmp(rt_rates_name(rs->t[i]), name) != 0)
            rc = gw_rateset_push(out, rs->t[i], rs->trefs[i]);
    if (rc == GW_OK && t != NULL) {
        rc = gw_rateset_push(out, t, NULL);
        t = rc == GW_OK ? NULL : t;
    }
    rt_rates_free(t);
    if (rc != GW_OK) {
        gw_rateset_unref(out);
        return NULL;
    }
    return out;
}

typedef struct gw_rates_load {
    gw_rateset_t *rs;
    rt_rates_t *cur;     /* the table being filled: the last one of rs */
    char *err;
    size_t errlen;
} gw_rates_load_t;

/* db_rates_foreach: rows come grouped by table. */
static int gw_rates_load_row(void *arg, const char *table, const db_rate_row_t *row)
{
    gw_rates_load_t *l = arg;
    char why[160];

    if (l->cur == NULL || strcmp(rt_rates_name(l->cur), table) != 0) {
        gw_rateset_t *grown = gw_rateset_with(l->rs, table, rt_rates_new(table));
        if (grown == NULL)
            return GW_ENOMEM;
        gw_rateset_unref(l->rs);
        l->rs = grown;
        l->cur = grown->t[grown->n - 1];
    }
    if (rt_rates_add(l->cur, row->prefix, row->connector, row->cost, row->currency,
                     row->valid_from, row->valid_to, why, sizeof why) != 0) {
        snprintf(l->err, l->errlen, "rate table %s: %s", table, why);
        return GW_EINVAL;
    }
    return 0;
}

gw_rateset_t *gw_rateset_load(char *err, size_t errlen)
{
    gw_rates_load_t l = { gw_rateset_alloc(0), NULL, err, errlen };
    char why[160];
    int rc = l.rs != NULL ? db_rates_foreach(gw_rates_load_row, &l) : GW_ENOMEM;

    for (size_t i = 0; rc == 0 && i < l.rs->n; i++)
        if (rt_rates_seal(l.rs->t[i], why, sizeof why) != 0) {
            snprintf(err, errlen, "rate table %s: %s", rt_rates_name(l.rs->t[i]), why);
            rc = GW_EINVAL;
        }
    if (rc != 0) {
        if (rc != GW_EINVAL)
            snprintf(err, errlen, "cannot read the rate tables: %s", gw_strerror(rc));
        gw_rateset_unref(l.rs);
        return NULL;
    }
    return l.rs;
}

gw_rateset_t *gw_rates_current(void)
{
    gw_rateset_t *rs;

    pthread_mutex_lock(&gw_route_lock);
    if (gw_route_rates == NULL)
        gw_route_rates = gw_rateset_alloc(0);
    rs = gw_rateset_ref(gw_route_rates);
    pthread_mutex_unlock(&gw_route_lock);
    return rs;
}

/* ---- compile and install ------------------------------------------------ */

rt_set_t *gw_rules_compile(const json_t *rules, gw_rateset_t *rs, json_t **errors)
{
    rt_compile_opts_t opts = { .find_rates = gw_rateset_find_cb, .rates_ctx = rs,
                               .owner = gw_rateset_ref(rs), .release = gw_rateset_release };
    rt_set_t *s = rt_compile(rules, &opts, errors);

    if (s == NULL)
        gw_rateset_unref(rs); /* the set did not take it over */
    return s;
}

static json_t *gw_route_one_error(const char *text)
{
    return json_pack("[{s:n, s:s, s:s, s:s}]", "rule", "path", "store", "message", text, "text",
                     text);
}

int gw_rules_install(const json_t *rules, gw_rateset_t *rs, json_t **errors)
{
    json_t *errs = NULL;
    rt_set_t *s;
    int rc = GW_OK;

    pthread_mutex_lock(&gw_route_lock);
    if (rs == NULL)
        rs = gw_route_rates != NULL ? gw_rateset_ref(gw_route_rates) : gw_rateset_alloc(0);
    else
        gw_rateset_ref(rs);
    s = rs != NULL ? gw_rules_compile(rules, rs, &errs) : NULL;
    if (s == NULL) {
        rc = errs != NULL ? GW_EINVAL : GW_ENOMEM;
        gw_rateset_unref(rs);
    } else {
        GW_INFO("core", "routing rules installed: %zu rule(s)", rt_set_count(s));
        rt_set_install(s);
        gw_rateset_unref(gw_route_rates);
        gw_route_rates = rs; /* our reference moves to the running pointer */
    }
    pthread_mutex_unlock(&gw_route_lock);
    if (errors != NULL)
        *errors = errs;
    else
        json_decref(errs);
    return rc;
}

int gw_rules_reload(json_t **errors)
{
    char err[256] = "";
    json_t *rules = db_rules_list();
    gw_rateset_t *rs = rules != NULL ? gw_rateset_load(err, sizeof err) : NULL;
    int rc;

    if (errors != NULL)
        *errors = NULL;
    if (rules == NULL || rs == NULL) {
        if (errors != NULL)
            *errors = gw_route_one_error(rules == NULL ? "cannot read the rules table" : err);
        json_decref(rules);
        return GW_EINVAL;
    }
    rc = gw_rules_install(rules, rs, errors);
    gw_rateset_unref(rs);
    json_decref(rules);
    return rc;
}

void gw_rules_shutdown(void)
{
    rt_set_install(NULL); /* the set's reference to its rate set goes with it */
    pthread_mutex_lock(&gw_route_lock);
    gw_rateset_unref(gw_route_rates);
    gw_route_rates = NULL;
    pthread_mutex_unlock(&gw_route_lock);
}

/* ---- the query ---------------------------------------------------------- */

/* Code point at s (len bytes left), its byte length in *n (1 on bad UTF-8). */
static unsigned gw_route_utf8(const unsigned char *s, size_t len, size_t *n)
{
    unsigned c = s[0];
    size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;

    if (k > len)
        k = 1;
    if (k > 1) {
        c &= 0x3F >> (k - 1);
        for (size_t i = 1; i < k; i++)
            c = (c << 6) | (s[i] & 0x3F);
    }
    *n = k;
    return c;
}

/* Septets of c in GSM 03.38: 1 (default alphabet), 2 (extension table) or
 * 0 (not representable). */
static int gw_route_gsm_septets(unsigned c)
{
    static const unsigned basic[] = { 0xA3, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0xD8,
                                      0xF8, 0xC5, 0xE5, 0x394, 0x3A6, 0x393, 0x39B, 0x3A9,
                                      0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF,
                                      0xC9, 0xA4, 0xA1, 0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF,
                                      0xE4, 0xF6, 0xF1, 0xFC, 0xE0 };

    int rc = 0;

    if (c < 0x80) { /* one switch, not a chain of tests: this runs per character */
        switch (c) {
        case '\n': case '\r':
            rc = 1;
            break;
        case '^': case '{': case '}': case '\\': case '[': case ']': case '~': case '|': case '\f':
            rc = 2;
            break;
        case '`':
            rc = 0;
            break;
        default:
            rc = c >= 0x20 && c < 0x7F;
            break;
        }
    } else if (c == 0x20AC) {
        rc = 2;
    } else {
        for (size_t i = 0; i < sizeof basic / sizeof basic[0] && rc == 0; i++)
            rc = basic[i] == c;
    }
    return rc;
}

/* 1 when data_coding says its sender sent UCS-2: SMPP 3.4's 8, and the
 * 3GPP TS 23.038 groups whose alphabet bits say UCS-2 (general data
 * coding 0x18-0x1B, message waiting 0xE0-0xEF).  Checklist: the adapters'
 * reading of the same values is smpp_dcs_alphabet (adapters/smpp/
 * smpp_codec.c); binary codings reach here as env->binary already. */
static int gw_route_dcs_ucs2(int dc)
{
    return dc == 8 || (dc >= 0x10 && dc <= 0x1F && ((dc >> 2) & 0x3) == 2) ||
           (dc >= 0xE0 && dc <= 0xEF);
}

/* Coding class, characters and SMS parts of env's body. */
static void gw_route_length(rt_query_t *q, const gw_envelope_t *env)
{
    const unsigned char *s = (const unsigned char *)env->body;
    size_t len = env->body != NULL ? env->body_len : 0, n;
    unsigned chars = 0, septets = 0, units = 0;
    int gsm = !gw_route_dcs_ucs2(env->data_coding); /* the peer sent UCS-2 */

    if (env->binary) {
        q->coding = RT_CODING_BINARY;
        q->chars = (unsigned)len;
        q->parts = len <= 140 ? 1 : (unsigned)((len + 133) / 134);
        return;
    }
    for (size_t i = 0; i < len; i += n) {
        unsigned c = s[i] < 0x80 ? (n = 1, s[i]) : gw_route_utf8(s + i, len - i, &n);
        int sep = gw_route_gsm_septets(c);
        chars++;
        units += c > 0xFFFF ? 2 : 1;
        septets += (unsigned)sep;
        if (sep == 0)
            gsm = 0;
    }
    q->chars = chars;
    if (gsm) {
        q->coding = RT_CODING_GSM;
        q->parts = septets <= 160 ? 1 : (septets + 152) / 153;
    } else {
        q->coding = RT_CODING_UCS2;
        q->parts = units <= 70 ? 1 : (units + 66) / 67;
    }
}

void gw_route_query(rt_query_t *q, const gw_envelope_t *env, rt_tag_t *tags, size_t ntags_max)
{
    const char *adapter = env->source.adapter != NULL ? env->source.adapter : "";
    struct timespec ts;
    const char *key;
    json_t *v;

    memset(q, 0, sizeof *q);
    /* Every facet of the sender the surface knows (docs/routing.md,
     * "Source"); a rule matches on any one of those it lists.  api_key:
     * the API token's name of a message the MI took from a token (its
     * peer is the caller, "token:<name>"). */
    q->source.connector = env->source.connector;
    if (strcmp(adapter, "smpp") == 0) {
        /* a customer bind's connector is "account:<system_id>" */
        const char *c = env->source.connector;
        if (c != NULL && strncmp(c, GW_REPORT_CONN_PREFIX, sizeof GW_REPORT_CONN_PREFIX - 1) == 0)
            q->source.values[RT_SRC_SMPP_ACCOUNT] = c + sizeof GW_REPORT_CONN_PREFIX - 1;
    } else if (strcmp(adapter, "sip") == 0) {
        q->source.values[RT_SRC_SIP_PEER] = env->source.peer;
        q->source.values[RT_SRC_SIP_DOMAIN] = env->source.domain;
    } else if (strcmp(adapter, "amqp") == 0) {
        q->source.values[RT_SRC_AMQP_QUEUE] = env->source.peer;
    } else if (strcmp(adapter, "mi") == 0 && env->source.peer != NULL &&
               strncmp(env->source.peer, "token:", 6) == 0) {
        q->source.values[RT_SRC_API_KEY] = env->source.peer + 6;
    }
    q->from = env->from;
    q->to = env->to;
    q->body = env->body;
    q->body_len = env->body != NULL ? env->body_len : 0;
    gw_route_length(q, env);
    json_object_foreach(env->tags, key, v) {
        if (q->ntags >= ntags_max || !json_is_string(v))
            continue;
        tags[q->ntags].key = key;
        tags[q->ntags].value = json_string_value(v);
        q->ntags++;
    }
    q->tags = tags;
    clock_gettime(CLOCK_REALTIME, &ts);
    q->now = ts.tv_sec;
    q->now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- deciding ----------------------------------------------------------- */

/* Replace *a by the decision's address b. */
static int gw_route_set_addr(gw_addr_t *a, const gw_addr_t *b)
{
    int rc = gw_env_set_str(&a->address, b->address, (size_t)-1);

    if (rc == 0) {
        a->type = b->type;
        a->ton = b->ton;
        a->npi = b->npi;
    }
    return rc;
}

/* The routed decision onto env and d. */
static int gw_route_apply(gw_envelope_t *env, gw_delivery_t *d, const rt_decision_t *dec)
{
    const char *names[RT_TARGETS_MAX];
    int rc = GW_OK;

    if (dec->to_rewritten)
        rc = gw_route_set_addr(&env->to, &dec->to);
    if (rc == GW_OK && dec->from_rewritten)
        rc = gw_route_set_addr(&env->from, &dec->from);
    for (size_t i = 0; rc == GW_OK && i < dec->ntags; i++)
        rc = gw_env_set_tag(env, dec->tags[i].key, dec->tags[i].value);
    if (rc != GW_OK)
        return rc;
    if (dec->validity_s >= 0)
        env->expires_at = env->created_at + (int64_t)dec->validity_s * 1000;
    if (dec->receipt >= 0)
        env->registered_delivery = dec->receipt;
    for (size_t i = 0; i < dec->ntargets; i++)
        names[i] = dec->targets[i].connector;
    if (gw_dlv_plan_targets(d, dec->rule_name, names, dec->ntargets) != 0)
        return GW_ENOROUTE;
    return GW_OK;
}

static void gw_route_trace(const gw_envelope_t *env, const rt_decision_t *dec)
{
    char targets[256] = "";
    size_t off = 0;

    for (size_t i = 0; i < dec->ntargets && off < sizeof targets; i++)
        off += (size_t)snprintf(targets + off, sizeof targets - off, "%s%s", i ? "," : "",
                                dec->targets[i].connector);
    if (dec->rule_id < 0)
        gw_trace_envf(env, GW_TRACE_ROUTE, "no route: %s", dec->reason);
    else
        gw_trace_envf(env, GW_TRACE_ROUTE, "%s by rule %lld %s%s%s%s%s: %s", rt_kind_name(dec->kind),
                      dec->rule_id, dec->rule_name, dec->ntargets ? " -> " : "", targets,
                      dec->to_rewritten ? " to=" : "", dec->to_rewritten ? dec->to.address : "",
                      dec->reason);
}

/* The core's part of a routed decision into *extra. */
static void gw_route_extra(const gw_envelope_t *env, const rt_decision_t *dec,
                           gw_route_extra_t *extra)
{
    if (dec->rate == RT_RATE_OVER_QUEUE) {
        extra->hold_until_ms = (dec->rate_due_us + 999) / 1000;
        if (gw_trace_on())
            gw_trace_envf(env, GW_TRACE_ROUTE, "rule %lld %s over its rate: held %lld ms",
                          dec->rule_id, dec->rule_name,
                          (long long)(extra->hold_until_ms - gw_now_ms()));
    }
    if (dec->mirror_exchange != NULL) {
        gw_strlcpy(extra->mirror_exchange, dec->mirror_exchange, sizeof extra->mirror_exchange);
        gw_strlcpy(extra->mirror_key, dec->mirror_routing_key ? dec->mirror_routing_key : "",
                   sizeof extra->mirror_key);
    }
}

int gw_route_decide(gw_envelope_t *env, gw_delivery_t *d, gw_refusal_t *ref,
                    gw_route_extra_t *extra)
{
    rt_tag_t tags[GW_ROUTE_TAGS_MAX];
    rt_decision_t dec;
    rt_query_t q;
    rt_set_t *s = rt_set_current();
    int rc;

    memset(extra, 0, sizeof *extra);
    if (s == NULL) {
        if (gw_trace_on())
            gw_trace_env(env, GW_TRACE_ROUTE, "no route: no rules installed");
        return GW_ENOROUTE;
    }
    gw_route_query(&q, env, tags, GW_ROUTE_TAGS_MAX);
    rt_decide(s, &q, &dec);
    if (gw_trace_on())
        gw_route_trace(env, &dec);
    switch (dec.kind) {
    case RT_ROUTE:
        rc = gw_route_apply(env, d, &dec);
        if (rc == GW_OK)
            gw_route_extra(env, &dec, extra);
        if (rc == GW_ENOROUTE)
            GW_ENV_LOG(env, "core", GW_LOG_WARN, "%s: rule %s has no usable targets", env->id,
                       dec.rule_name);
        break;
    case RT_REJECT:
        memset(ref, 0, sizeof *ref);
        ref->sip_status = dec.sip_status;
        ref->smpp_status = dec.smpp_status;
        ref->throttled = dec.rate == RT_RATE_OVER_REJECT;
        ref->rule_id = dec.rule_id;
        gw_strlcpy(ref->rule, dec.rule_name != NULL ? dec.rule_name : "", sizeof ref->rule);
        gw_strlcpy(ref->reason, dec.reason, sizeof ref->reason);
        gw_route_refusal = *ref;
        GW_INFO("core", "%s from %s to %s: rejected by rule %lld %s: %s", env->id,
                env->from.address ? env->from.address : "-", env->to.address, dec.rule_id,
                ref->rule, dec.reason);
        rc = GW_EREJECTED;
        break;
    case RT_DROP:
        gw_strlcpy(d->route, dec.rule_name != NULL ? dec.rule_name : "", sizeof d->route);
        gw_dlv_set_reason(d, 0, dec.reason);
        for (size_t i = 0; i < dec.ntags; i++) /* the record keeps the rule's tags */
            (void)gw_env_set_tag(env, dec.tags[i].key, dec.tags[i].value);
        gw_route_extra(env, &dec, extra); /* its mirror (a hold means nothing here) */
        extra->hold_until_ms = 0;
        rc = GW_EDROPPED;
        break;
    default:
        GW_INFO("core", "%s from %s to %s: no route: %s", env->id,
                env->from.address ? env->from.address : "-", env->to.address, dec.reason);
        rc = GW_ENOROUTE;
        break;
    }
    rt_set_unref(s);
    return rc;
}

int gw_route_explain(const gw_envelope_t *env, json_t **out)
{
    rt_tag_t tags[GW_ROUTE_TAGS_MAX];
    rt_query_t q;
    rt_set_t *s = rt_set_current();
    int rc;

    *out = NULL;
    if (s == NULL)
        return GW_ENOROUTE;
    gw_route_query(&q, env, tags, GW_ROUTE_TAGS_MAX);
    rc = rt_explain(s, &q, out);
    rt_set_unref(s);
    return rc;
}

rt_set_t *gw_route_ask(rt_query_t *q, rt_decision_t *dec)
{
    rt_set_t *s = rt_set_current();

    if (q->now == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        q->now = ts.tv_sec;
        q->now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    if (s == NULL) {
        memset(dec, 0, sizeof *dec);
        dec->kind = RT_NOROUTE;
        dec->rule_id = -1;
        dec->reason = "no rules installed";
        dec->sip_status = 404;
        return NULL;
    }
    rt_decide(s, q, dec);
    return s;
}
