/*
 * bench_router.c - `make bench-router`: the compiled rule engine's
 * decisions per second on one core, beside a naive linear scan over the
 * same rules in the same run, with the compile time and the peak RSS.
 *
 * Generates (seeded, reproducible) 10,000 rules with mixed filters:
 * destination prefix lists of 1-3 prefixes (drawn from 3,000 prefixes of
 * 2-6 digits), some with a dst regex, some a time window in Europe/Berlin
 * or America/New_York, some tags, some a src prefix, a few without a dst
 * prefix (source-connector rules), rejects and round robin among the
 * routes, and a catch-all default last.  Then 200,000 queries (numbers
 * under those prefixes and numbers under none).  Times rt_decide over the
 * queries for --seconds, then rt_decide_linear (the reference: every rule
 * in order, the same filter code, no trie) for --seconds, checks the two
 * agree on the first 20,000 queries, and prints one JSON line:
 *   {"rules", "prefixes_in_rules", "rate_prefixes", "compile_s", "json_build_s",
 *    "engine_decisions_per_s", "linear_decisions_per_s", "speedup",
 *    "matched_share", "agree", "set_rss_mb" (RSS added by rt_compile: the
 *    set, with the JSON tree still held), "vm_hwm_mb" (peak RSS of it all)}
 *
 * Rate table hook: the 1,000,000-prefix rate table and the least-cost rules
 * using it come with the rates branch (router/rt_rates.h): see
 * bench_rates_build below, which returns NULL until then (rate_prefixes 0).
 *
 * Single-threaded.  Options: --rules N, --queries N, --seconds S, --seed N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/rt_engine.h"

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "VmHWM:" or "VmRSS:" figure of /proc/self/status in KiB, -1 if none. */
static long bench_status_kb(const char *key)
{
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, n) == 0)
            kb = strtol(line + n, NULL, 10);
    fclose(f);
    return kb;
}

static unsigned long bench_seed = 1;
static unsigned long bench_rand(void)
{
    bench_seed = bench_seed * 6364136223846793005UL + 1442695040888963407UL;
    return bench_seed >> 33;
}

#define BENCH_POOL 3000
static char bench_pool[BENCH_POOL][8];

/* MERGE HOOK (rates branch): build a rate table of 1,000,000 prefixes with
 * rt_rates' constructor (e.g. from a generated CSV), return it, and let
 * bench_rules give ~10% of the routes "strategy": "least_cost" with
 * "rates": "bench".  Until then: no rate table. */
static const rt_rates_t *bench_rates_build(size_t *nprefixes)
{
    *nprefixes = 0;
    return NULL;
}

static const rt_rates_t *bench_rates;
static const rt_rates_t *bench_find_rates(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "bench") == 0 ? bench_rates : NULL;
}

static json_t *bench_targets(int n)
{
    json_t *t = json_array();
    for (int i = 0; i < n; i++) {
        char c[16];
        snprintf(c, sizeof c, "smsc-%lu", bench_rand() % 40);
        json_array_append_new(t, json_string(c));
    }
    return t;
}

static json_t *bench_rules(int n, size_t *nprefixes)
{
    json_t *rules = json_array();
    *nprefixes = 0;
    for (int i = 0; i < n - 1; i++) {
        json_t *f = json_object(), *dst = json_object(), *a = json_object();
        unsigned long kind = bench_rand() % 1000;
        if (kind >= 5) { /* 99.5%: a dst prefix list */
            json_t *p = json_array();
            int np = 1 + (int)(bench_rand() % 3);
            for (int k = 0; k < np; k++)
                json_array_append_new(p, json_string(bench_pool[bench_rand() % BENCH_POOL]));
            *nprefixes += (size_t)np;
            json_object_set_new(dst, "prefix", p);
        }
        if (kind < 5) {
            json_t *src = json_pack("{s:s}", "connector", "smpp-partner");
            json_object_set_new(f, "src", json_pack("{s:s}", "regex", "^[0-9]{6,}$"));
            json_t *rule = json_pack("{s:i,s:i,s:o}", "id", i, "priority", i, "source", src);
            json_object_set_new(a, "route", json_pack("{s:o}", "targets", bench_targets(1)));
            json_object_set_new(rule, "filters", f);
            json_object_set_new(rule, "action", a);
            json_decref(dst);
            json_array_append_new(rules, rule);
            continue;
        }
        if (kind < 105)
            json_object_set_new(dst, "regex", json_string("^[0-9]{8,15}$"));
        json_object_set_new(f, "dst", dst);
        if (kind >= 105 && kind < 185)
            json_object_set_new(
                f, "time",
                json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "tz",
                          kind % 2 ? "Europe/Berlin" : "America/New_York", "windows", "days",
                          "mon-fri", "from", "08:00", "to", "18:00"));
        if (kind >= 185 && kind < 255)
            json_object_set_new(f, "tags", json_pack("{s:s}", "tier", kind % 2 ? "gold" : "silver"));
        if (kind >= 255 && kind < 285)
            json_object_set_new(f, "src", json_pack("{s:[s,s]}", "prefix", "49", "44"));
        if (kind >= 285 && kind < 325)
            json_object_set_new(a, "reject", json_pack("{s:i,s:i,s:s}", "sip_status", 403,
                                                       "smpp_status", 11, "reason", "blocked"));
        else
            json_object_set_new(a, "route",
                                json_pack("{s:s,s:o}", "strategy",
                                          kind % 7 == 0 ? "round_robin" : "failover", "targets",
                                          bench_targets(1 + (int)(bench_rand() % 3))));
        json_array_append_new(rules, json_pack("{s:i,s:i,s:o,s:o}", "id", i, "priority", i,
                                               "filters", f, "action", a));
    }
    json_array_append_new(rules, json_pack("{s:i,s:s,s:i,s:{s:{s:[s]}}}", "id", n - 1, "name",
                                           "default", "priority", n - 1, "action", "route",
                                           "targets", "default"));
    return rules;
}

typedef struct bench_q {
    char to[24], from[16];
    rt_tag_t tag;
    rt_query_t q;
} bench_q_t;

static void bench_queries(bench_q_t *qs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bench_q_t *b = &qs[i];
        const char *p = bench_rand() % 10 == 0 ? "999" : bench_pool[bench_rand() % BENCH_POOL];
        size_t len = strlen(p);
        memcpy(b->to, p, len);
        for (; len < 11 + bench_rand() % 2; len++)
            b->to[len] = (char)('0' + bench_rand() % 10);
        b->to[len] = '\0';
        snprintf(b->from, sizeof b->from, "%s%07lu", bench_rand() % 2 ? "49" : "33",
                 bench_rand() % 10000000);
        b->tag.key = "tier";
        b->tag.value = bench_rand() % 2 ? "gold" : "bronze";
        memset(&b->q, 0, sizeof b->q);
        b->q.source.kind = RT_SRC_CONNECTOR;
        b->q.source.connector = bench_rand() % 20 == 0 ? "smpp-partner" : "sip0";
        b->q.from.address = b->from;
        b->q.from.type = GW_ADDR_INTL;
        b->q.to.address = b->to;
        b->q.to.type = GW_ADDR_INTL;
        b->q.body = "hello world";
        b->q.body_len = 11;
        b->q.chars = 11;
        b->q.parts = 1;
        b->q.tags = &b->tag;
        b->q.ntags = 1;
        b->q.now = 1774864800 + (int64_t)(bench_rand() % (7 * 86400)); /* a week from Mon 2026-03-30 */
    }
}

typedef rt_kind_t (*bench_fn)(const rt_set_t *, const rt_query_t *, rt_decision_t *);

/* Decisions per second of fn over qs for about secs seconds; *matched
 * counts decisions that were not "no route". */
static double bench_run(bench_fn fn, const rt_set_t *s, const bench_q_t *qs, size_t n, double secs,
                        double *matched)
{
    rt_decision_t d;
    size_t done = 0, hits = 0;
    double t0 = bench_now(), t;
    do {
        for (size_t i = 0; i < 1000; i++, done++)
            hits += fn(s, &qs[done % n].q, &d) != RT_NOROUTE && d.rule_id != -1;
        t = bench_now();
    } while (t - t0 < secs);
    if (matched != NULL)
        *matched = (double)hits / (double)done;
    return (double)done / (t - t0);
}

int main(int argc, char **argv)
{
    int nrules = 10000;
    size_t nq = 200000, nrates = 0, nprefixes = 0;
    double secs = 2.0, matched = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rules") == 0)
            nrules = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--queries") == 0)
            nq = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            bench_seed = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_router [--rules N] [--queries N] [--seconds S] [--seed N]\n");
            return 2;
        }
    }
    if (nrules < 1 || nq < 1)
        return 2;
    for (int i = 0; i < BENCH_POOL; i++)
        snprintf(bench_pool[i], sizeof bench_pool[i], "%lu",
                 (1 + bench_rand() % 9) * 100000 + bench_rand() % 100000);
    for (int i = 0; i < BENCH_POOL; i++) /* 2 to 6 digits */
        bench_pool[i][2 + bench_rand() % 5] = '\0';

    double t0 = bench_now();
    bench_rates = bench_rates_build(&nrates);
    json_t *rules = bench_rules(nrules, &nprefixes);
    double t1 = bench_now();
    long rss0 = bench_status_kb("VmRSS:");
    rt_compile_opts_t opts = { .find_rates = bench_find_rates };
    json_t *errs = NULL;
    rt_set_t *s = rt_compile(rules, &opts, &errs);
    double t2 = bench_now();
    long rss1 = bench_status_kb("VmRSS:");
    if (s == NULL) {
        char *dump = json_dumps(json_array_get(errs, 0), 0);
        fprintf(stderr, "compile failed: %s\n", dump);
        return 1;
    }
    json_decref(rules);

    bench_q_t *qs = malloc(nq * sizeof *qs);
    if (qs == NULL)
        return 1;
    bench_queries(qs, nq);
    int agree = 1;
    for (size_t i = 0; i < nq && i < 20000; i++) {
        rt_decision_t a, b;
        rt_decide(s, &qs[i].q, &a);
        rt_decide_linear(s, &qs[i].q, &b);
        if (a.rule_id != b.rule_id || a.kind != b.kind)
            agree = 0;
    }
    double engine = bench_run(rt_decide, s, qs, nq, secs, &matched);
    double linear = bench_run(rt_decide_linear, s, qs, nq, secs, NULL);
    long hwm = bench_status_kb("VmHWM:");

    printf("{\"rules\":%d,\"prefixes_in_rules\":%zu,\"rate_prefixes\":%zu,\"json_build_s\":%.3f,"
           "\"compile_s\":%.3f,\"engine_decisions_per_s\":%.0f,\"linear_decisions_per_s\":%.0f,"
           "\"speedup\":%.1f,\"matched_share\":%.3f,\"agree\":%s,\"set_rss_mb\":%.1f,"
           "\"vm_hwm_mb\":%.1f}\n",
           nrules, nprefixes, nrates, t1 - t0, t2 - t1, engine, linear, engine / linear, matched,
           agree ? "true" : "false", (double)(rss1 - rss0) / 1024.0, (double)hwm / 1024.0);
    free(qs);
    rt_set_unref(s);
    return agree ? 0 : 1;
}
