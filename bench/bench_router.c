/*
 * bench_router.c - `make bench-router`: the compiled rule engine's
 * decisions per second on one core with a 1,000,000-prefix rate table,
 * beside a naive linear scan over the same rules in the same run, with the
 * load times and the memory (bench/README.md).
 *
 * 1. Rate table "bench" (--prefixes, 1,000,000): random distinct prefixes of
 *    3-12 digits (bench_rates.c's draw), 2-4 connectors each of smsc-0 ..
 *    smsc-19, written as an operator's CSV sheet (~86 MB) and loaded the way
 *    an admin loads one: rt_rates_parse_csv, the text freed, rt_rates_seal.
 * 2. Rules (seeded, reproducible): 10,000 with mixed filters: destination
 *    prefix lists of 1-3 prefixes (drawn from 3,000 prefixes of 2-6 digits),
 *    some with a dst regex, some a time window in Europe/Berlin or
 *    America/New_York, some tags, some a src prefix, a few without a dst
 *    prefix (source rules: connector, or SIP domain / peer), rejects; of the routes --lcr-share %
 *    (15) least cost over "bench", the rest failover or round robin; a
 *    catch-all default last.  Compiled with rt_compile.
 * 3. 200,000 queries (numbers under those prefixes and under none).  The
 *    first 20,000 through rt_decide and rt_decide_linear must agree (kind,
 *    rule, targets), and 50 least-cost decisions among them must name the
 *    targets a scan of every row of the table names.
 * 4. rt_decide over the queries for --seconds of CPU, then rt_decide_linear
 *    (the reference: every rule in order, the same filter code, no trie)
 *    for as long.
 * One JSON line; the exit status is 1 when a check disagrees.
 *
 * Single-threaded.  Options: --rules N, --queries N, --prefixes N (0: no
 * rate table), --lcr-share PCT, --seconds S, --seed N.
 */
#include <stdint.h>
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

/* The rate table: its own generator (xorshift64*, seeded from --seed), so
 * the rules and queries drawn with bench_rand stay those of a run without
 * a table. */
static uint64_t bench_xs = 0x9e3779b97f4a7c15ull;
static uint64_t bench_xs_rand(void)
{
    bench_xs ^= bench_xs >> 12;
    bench_xs ^= bench_xs << 25;
    bench_xs ^= bench_xs >> 27;
    return bench_xs * 0x2545f4914f6cdd1dull;
}

#define BENCH_RATE_CONNS 20 /* smsc-0 .. smsc-19: among the rules' 40 targets */

/* What loading the rate table cost: CPU seconds of this thread (the
 * machine is shared) and wall seconds, the sheet's size. */
typedef struct bench_load {
    size_t rows;
    double csv_mb, gen_s, parse_s, seal_s, load_wall_s;
} bench_load_t;

/* CPU seconds of this thread. */
static double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n distinct random prefixes of 3-12 digits, first digit 1-9 (bench_rates.c's
 * draw), as strings packed 16 bytes each; the caller frees.  NULL when out of
 * memory. */
static char *bench_rate_prefixes(size_t n)
{
    size_t cap = 1, i = 0;
    while (cap < n * 2)
        cap *= 2;
    uint64_t *set = calloc(cap, sizeof *set);
    char *out = malloc(n * 16);
    if (set == NULL || out == NULL) {
        free(set);
        free(out);
        return NULL;
    }
    while (i < n) {
        unsigned len = 3 + (unsigned)(bench_xs_rand() % 10);
        uint64_t v = 1 + bench_xs_rand() % 9, key, h;
        for (unsigned k = 1; k < len; k++)
            v = v * 10 + bench_xs_rand() % 10;
        key = (v << 4 | len) + 1;
        for (h = (key * 0x9e3779b97f4a7c15ull) & (cap - 1); set[h] != 0 && set[h] != key;
             h = (h + 1) & (cap - 1))
            ;
        if (set[h] == key)
            continue; /* drawn before */
        set[h] = key;
        snprintf(out + i * 16, 16, "%llu", (unsigned long long)v);
        i++;
    }
    free(set);
    return out;
}

/* An operator's rate sheet for the prefixes, as an admin would import it:
 * a header row, then 2-4 rows per prefix (distinct connectors of 20),
 * costs of 6 decimals, EUR, no validity columns.  malloc'd text (caller
 * frees) or NULL; its length in *len, its rows in *rows. */
static char *bench_rate_sheet(const char *prefixes, size_t n, size_t *len, size_t *rows)
{
    size_t cap = n * 4 * 40 + 64, used; /* a row is at most 36 bytes */
    char *text = malloc(cap);
    if (text == NULL)
        return NULL;
    used = (size_t)snprintf(text, cap, "prefix,connector,cost,currency\n");
    *rows = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = 2 + (unsigned)(bench_xs_rand() % 3);
        unsigned first = (unsigned)(bench_xs_rand() % BENCH_RATE_CONNS);
        for (unsigned j = 0; j < k; j++, (*rows)++) /* 7 is prime to 20: distinct */
            used += (size_t)snprintf(text + used, cap - used, "%s,smsc-%u,0.%06u,EUR\n",
                                     prefixes + i * 16, (first + j * 7) % BENCH_RATE_CONNS,
                                     (unsigned)(bench_xs_rand() % 100000));
    }
    *len = used;
    return text;
}

/* The rate table "bench": nprefixes random prefixes loaded the way an admin
 * loads a sheet (rt_rates_parse_csv of the CSV text, the text freed, then
 * rt_rates_seal), the costs in *load.  The sealed table (caller frees with
 * rt_rates_free) or NULL with the reason on stderr; NULL and no table when
 * nprefixes is 0. */
static rt_rates_t *bench_rates_build(size_t nprefixes, bench_load_t *load)
{
    rt_csv_errors_t errs;
    char err[256] = "", *prefixes, *text;
    size_t len;
    double c0 = bench_cpu(), w0, c1;

    memset(load, 0, sizeof *load);
    if (nprefixes == 0)
        return NULL;
    prefixes = bench_rate_prefixes(nprefixes);
    text = prefixes != NULL ? bench_rate_sheet(prefixes, nprefixes, &len, &load->rows) : NULL;
    free(prefixes);
    rt_rates_t *t = text != NULL ? rt_rates_new("bench") : NULL;
    if (t == NULL) {
        fprintf(stderr, "bench_router: out of memory for the rate sheet\n");
        free(text);
        return NULL;
    }
    load->csv_mb = (double)len / (1024.0 * 1024.0);
    load->gen_s = bench_cpu() - c0;

    w0 = bench_now();
    c0 = bench_cpu();
    int rc = rt_rates_parse_csv(text, len, t, &errs);
    free(text); /* the sheet is the caller's; the table keeps nothing of it */
    c1 = bench_cpu();
    load->parse_s = c1 - c0;
    if (rc != 0 || rt_rates_seal(t, err, sizeof err) != 0) {
        fprintf(stderr, "bench_router: the rate sheet did not load (%zu errors) %s\n",
                rc != 0 ? errs.total : 0, err);
        rt_rates_free(t);
        return NULL;
    }
    load->seal_s = bench_cpu() - c1;
    load->load_wall_s = bench_now() - w0;
    return t;
}

static rt_rates_t *bench_rates;
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

/* n rules (the last a catch-all default); *nprefixes dst prefixes in
 * them; with a rate table, lcr_pct % of the routes (picked by a hash of the
 * id, so the draws stay those of a run without) are least cost over it, no
 * targets given, their number in *nlcr. */
static json_t *bench_rules(int n, unsigned lcr_pct, size_t *nprefixes, size_t *nlcr)
{
    json_t *rules = json_array();
    *nprefixes = *nlcr = 0;
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
            /* half by connector, half by the SIP sender's domain or peer
             * (which the SIP queries below run through and fail) */
            json_t *src = i % 2 ? json_pack("{s:s}", "connector", "smpp-partner")
                                : json_pack("{s:[s,s],s:s}", "sip_domain", "*.partner.example",
                                            "partner.example", "sip_peer", "198.51.100.1:5060");
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
        else {
            json_t *targets = bench_targets(1 + (int)(bench_rand() % 3));
            if (bench_rates != NULL && ((unsigned)i * 2654435761u >> 16) % 100 < lcr_pct) {
                json_decref(targets);
                json_object_set_new(a, "route", json_pack("{s:s,s:s}", "strategy", "least_cost",
                                                          "rates", "bench"));
                (*nlcr)++;
            } else {
                json_object_set_new(a, "route",
                                    json_pack("{s:s,s:o}", "strategy",
                                              kind % 7 == 0 ? "round_robin" : "failover",
                                              "targets", targets));
            }
        }
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
        if (bench_rand() % 20 == 0) {
            b->q.source.connector = "smpp-partner";
            b->q.source.values[RT_SRC_SMPP_ACCOUNT] = "smpp-partner";
        } else { /* a SIP MESSAGE: peer and From domain */
            b->q.source.connector = "sip0";
            b->q.source.values[RT_SRC_SIP_PEER] = "192.0.2.10:5060";
            b->q.source.values[RT_SRC_SIP_DOMAIN] = "customer.example";
        }
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

/* The naive reference for a least-cost decision: every row of the table in
 * turn (rt_rates_foreach), the rows of the longest prefix of to valid at
 * now, then sorted cheapest first, ties by connector name. */
typedef struct bench_naive {
    const char *to;
    size_t tolen, best_len, n;
    int64_t now;
    rt_rate_row_t hit[4 * RT_TARGETS_MAX];
} bench_naive_t;

static int bench_naive_row(void *arg, const rt_rate_row_t *row)
{
    bench_naive_t *nv = arg;
    size_t len = strlen(row->prefix);
    if (len < nv->best_len || len > nv->tolen || memcmp(row->prefix, nv->to, len) != 0)
        return 0;
    if ((row->valid_from != 0 && nv->now < row->valid_from) ||
        (row->valid_to != 0 && nv->now >= row->valid_to))
        return 0;
    if (len > nv->best_len) {
        nv->best_len = len;
        nv->n = 0;
    }
    if (nv->n < sizeof nv->hit / sizeof nv->hit[0])
        nv->hit[nv->n++] = *row;
    return 0;
}

static int bench_naive_before(const rt_rate_row_t *a, const rt_rate_row_t *b)
{
    return a->cost < b->cost || (a->cost == b->cost && strcmp(a->connector, b->connector) < 0);
}

/* 1 when the least-cost decision d for q names the targets the naive scan
 * of t finds, in its order (no route when it finds none). */
static int bench_naive_agrees(const rt_rates_t *t, const rt_query_t *q, const rt_decision_t *d)
{
    bench_naive_t nv = { .to = q->to.address, .tolen = strlen(q->to.address), .now = q->now };
    rt_rates_foreach(t, bench_naive_row, &nv);
    for (size_t i = 1; i < nv.n; i++) /* insertion sort: a handful of rows */
        for (size_t k = i; k > 0 && bench_naive_before(&nv.hit[k], &nv.hit[k - 1]); k--) {
            rt_rate_row_t x = nv.hit[k];
            nv.hit[k] = nv.hit[k - 1];
            nv.hit[k - 1] = x;
        }
    size_t want = nv.n < RT_TARGETS_MAX ? nv.n : RT_TARGETS_MAX;
    if ((d->kind == RT_ROUTE) != (nv.n > 0) || d->ntargets != want)
        return 0;
    for (size_t i = 0; i < want; i++)
        if (strcmp(d->targets[i].connector, nv.hit[i].connector) != 0 ||
            d->targets[i].cost != nv.hit[i].cost)
            return 0;
    return 1;
}

/* 1 when the engine's and the linear scan's decisions are the same: kind,
 * rule and targets (but a round robin's order: its counter moved between
 * the two calls). */
static int bench_same(const rt_decision_t *a, const rt_decision_t *b)
{
    if (a->kind != b->kind || a->rule_id != b->rule_id || a->ntargets != b->ntargets)
        return 0;
    if (a->strategy == RT_PICK_ROUND_ROBIN)
        return 1;
    for (size_t i = 0; i < a->ntargets; i++)
        if (strcmp(a->targets[i].connector, b->targets[i].connector) != 0 ||
            a->targets[i].cost != b->targets[i].cost)
            return 0;
    return 1;
}

typedef rt_kind_t (*bench_fn)(const rt_set_t *, const rt_query_t *, rt_decision_t *);

/* What one throughput run measured. */
typedef struct bench_rate {
    double per_cpu_s, per_wall_s; /* decisions per CPU second of this thread, per wall second */
    double matched;               /* share of decisions by a rule */
    double lcr;                   /* share of decisions by a least-cost rule */
} bench_rate_t;

/* fn over qs, round and round, for secs CPU seconds of this thread. */
static bench_rate_t bench_run(bench_fn fn, const rt_set_t *s, const bench_q_t *qs, size_t n,
                              double secs)
{
    rt_decision_t d;
    size_t done = 0, hits = 0, lcr = 0;
    double w0 = bench_now(), c0 = bench_cpu(), c;
    bench_rate_t r;
    do {
        for (size_t i = 0; i < 1000; i++, done++) {
            fn(s, &qs[done % n].q, &d);
            hits += d.rule_id != -1;
            lcr += d.rule_id != -1 && d.strategy == RT_PICK_LEAST_COST;
        }
        c = bench_cpu();
    } while (c - c0 < secs);
    r.per_cpu_s = (double)done / (c - c0);
    r.per_wall_s = (double)done / (bench_now() - w0);
    r.matched = (double)hits / (double)done;
    r.lcr = (double)lcr / (double)done;
    return r;
}

#define BENCH_AGREE 20000   /* queries decided both ways */
#define BENCH_NAIVE_LCR 50  /* least-cost decisions checked against a scan of every rate row */

int main(int argc, char **argv)
{
    int nrules = 10000;
    unsigned lcr_pct = 15;
    size_t nq = 200000, nrates = 1000000, nprefixes = 0, nlcr = 0;
    double secs = 2.0;
    bench_load_t load;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rules") == 0)
            nrules = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--queries") == 0)
            nq = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--prefixes") == 0)
            nrates = (size_t)atol(argv[i + 1]);
        else if (strcmp(argv[i], "--lcr-share") == 0)
            lcr_pct = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            bench_seed = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_router [--rules N] [--queries N] [--prefixes N] "
                            "[--lcr-share PCT] [--seconds S] [--seed N]\n");
            return 2;
        }
    }
    if (nrules < 1 || nq < 1 || lcr_pct > 100)
        return 2;
    bench_xs ^= bench_seed * 0xbf58476d1ce4e5b9ull;
    if (bench_xs == 0)
        bench_xs = 1; /* xorshift's one fixed point */
    for (int i = 0; i < BENCH_POOL; i++)
        snprintf(bench_pool[i], sizeof bench_pool[i], "%lu",
                 (1 + bench_rand() % 9) * 100000 + bench_rand() % 100000);
    for (int i = 0; i < BENCH_POOL; i++) /* 2 to 6 digits */
        bench_pool[i][2 + bench_rand() % 5] = '\0';

    long rss_base = bench_status_kb("VmRSS:");
    bench_rates = bench_rates_build(nrates, &load);
    if (nrates > 0 && bench_rates == NULL)
        return 1;
    double t0 = bench_now();
    json_t *rules = bench_rules(nrules, lcr_pct, &nprefixes, &nlcr);
    double t1 = bench_now(), c1 = bench_cpu();
    long rss0 = bench_status_kb("VmRSS:");
    rt_compile_opts_t opts = { .find_rates = bench_find_rates };
    json_t *errs = NULL;
    rt_set_t *s = rt_compile(rules, &opts, &errs);
    double t2 = bench_now(), compile_cpu = bench_cpu() - c1;
    long rss1 = bench_status_kb("VmRSS:");
    if (s == NULL) {
        char *dump = json_dumps(json_array_get(errs, 0), 0);
        fprintf(stderr, "compile failed: %s\n", dump);
        return 1;
    }
    json_decref(rules);
    long rss_load = bench_status_kb("VmRSS:");

    bench_q_t *qs = malloc(nq * sizeof *qs);
    if (qs == NULL)
        return 1;
    bench_queries(qs, nq);
    int agree = 1, naive_ok = 1;
    size_t naive_n = 0;
    double naive_s = 0;
    for (size_t i = 0; i < nq && i < BENCH_AGREE; i++) {
        rt_decision_t a, b;
        rt_decide(s, &qs[i].q, &a);
        rt_decide_linear(s, &qs[i].q, &b);
        if (!bench_same(&a, &b))
            agree = 0;
        if (bench_rates != NULL && naive_n < BENCH_NAIVE_LCR && a.rule_id != -1 &&
            a.strategy == RT_PICK_LEAST_COST) {
            double n0 = bench_cpu();
            naive_ok &= bench_naive_agrees(bench_rates, &qs[i].q, &a);
            naive_s += bench_cpu() - n0;
            naive_n++;
        }
    }
    bench_rate_t engine = bench_run(rt_decide, s, qs, nq, secs);
    bench_rate_t linear = bench_run(rt_decide_linear, s, qs, nq, secs);
    long hwm = bench_status_kb("VmHWM:");
    double load_s = load.parse_s + load.seal_s;

    printf("{\"rules\":%d,\"prefixes_in_rules\":%zu,\"lcr_rules\":%zu,\"rate_prefixes\":%zu,"
           "\"rate_rows\":%zu,\"csv_mb\":%.1f,\"json_build_s\":%.3f,\"compile_s\":%.3f,"
           "\"compile_wall_s\":%.3f,\"rates_parse_s\":%.3f,\"rates_seal_s\":%.3f,"
           "\"rates_load_s\":%.3f,\"rates_load_wall_s\":%.3f,\"load_s\":%.3f,"
           "\"engine_decisions_per_s\":%.0f,\"engine_decisions_per_wall_s\":%.0f,"
           "\"linear_decisions_per_s\":%.0f,\"speedup\":%.1f,\"matched_share\":%.3f,"
           "\"lcr_share\":%.3f,\"agree\":%s,\"naive_rate_checked\":%zu,\"naive_rate_agree\":%s,"
           "\"naive_rate_lookups_per_s\":%.1f,\"table_mb\":%.1f,\"set_rss_mb\":%.1f,"
           "\"rss_load_mb\":%.1f,\"rss_load_added_mb\":%.1f,\"vm_hwm_mb\":%.1f,"
           "\"targets\":{\"decisions_per_s\":2000000,\"load_s\":3,\"rss_mb\":200}}\n",
           nrules, nprefixes, nlcr, nrates, load.rows, load.csv_mb, t1 - t0, compile_cpu,
           t2 - t1, load.parse_s, load.seal_s, load_s, load.load_wall_s, load_s + compile_cpu,
           engine.per_cpu_s, engine.per_wall_s, linear.per_cpu_s,
           engine.per_cpu_s / linear.per_cpu_s, engine.matched, engine.lcr,
           agree ? "true" : "false", naive_n, naive_ok ? "true" : "false",
           naive_s > 0 ? (double)naive_n / naive_s : 0.0,
           bench_rates != NULL ? (double)rt_rates_memory(bench_rates) / (1024.0 * 1024.0) : 0.0,
           (double)(rss1 - rss0) / 1024.0, (double)rss_load / 1024.0,
           (double)(rss_load - rss_base) / 1024.0, (double)hwm / 1024.0);
    free(qs);
    rt_set_unref(s);
    rt_rates_free(bench_rates); /* after the last set compiled against it */
    return agree && naive_ok ? 0 : 1;
}
