/*
 * bench_rates.c - the rate-table half of the router benchmark (make
 * bench-rates; bench/README.md).
 *
 * 1. Draws --prefixes distinct random prefixes (lengths 3-12, first digit
 *    1-9) and writes a rate sheet for them in memory: 2-4 connectors each out
 *    of 20 (~3 on average), costs of 6 decimals, EUR.
 * 2. Times the load: rt_rates_parse_csv of that text plus rt_rates_seal.
 * 3. Times lookups on one core: rt_rates_lookup (up to 4 hits) of 262,144
 *    numbers of 11-13 digits, half starting with a prefix of the sheet,
 *    half random, repeated for --seconds.
 *    The same over a working set of 65,536 numbers behind 1% of the
 *    prefixes (traffic with favourite destinations; the walk still goes on
 *    into the cold subtries below those prefixes).
 * 4. The reference, in the same run: a naive linear scan (longest prefix,
 *    then cheapest) over the first --sample rows of the sheet, and its rate
 *    scaled to the whole table (x sample / rows).
 * 5. Memory: the table's own bytes (rt_rates_memory) and the process's
 *    VmHWM / VmRSS, which include the sheet's text while it was parsed.
 * Prints one JSON line.  Threads: one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/rt_rates.h"

#define BR_CONNS 20

typedef struct br_row {
    char prefix[16];
    unsigned char len;
    unsigned char conn;
    double cost;
} br_row_t;

static uint64_t br_state = 0x9e3779b97f4a7c15ull;

static uint64_t br_rand(void)  /* xorshift64*: reproducible runs */
{
    br_state ^= br_state >> 12;
    br_state ^= br_state << 25;
    br_state ^= br_state >> 27;
    return br_state * 0x2545f4914f6cdd1dull;
}

/* CPU seconds of this thread: the machine is shared, so rates are per CPU
 * second used, not per wall second (both are printed). */
static double br_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double br_wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmHWM or VmRSS of this process in MiB, -1 if unknown. */
static double br_status_mb(const char *key)
{
    char line[256];
    double kb = -1;
    size_t n = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            kb = strtod(line + n + 1, NULL);
    fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

/* AnonHugePages of this process in MiB (the table's arrays ask for them). */
static double br_smaps_huge_mb(void)
{
    char line[256];
    double kb = 0;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "AnonHugePages:", 14) == 0)
            kb = strtod(line + 14, NULL);
    fclose(f);
    return kb / 1024.0;
}

/* n distinct random prefixes as "digits" strings packed 16 bytes each. */
static char *br_prefixes(size_t n)
{
    size_t cap = 1, i = 0;
    uint64_t *set;
    char *out = malloc(n * 16);

    while (cap < n * 2)
        cap *= 2;
    set = calloc(cap, sizeof *set);
    if (out == NULL || set == NULL) {
        fprintf(stderr, "bench_rates: out of memory\n");
        exit(1);
    }
    while (i < n) {
        unsigned len = 3 + (unsigned)(br_rand() % 10);
        uint64_t v = 1 + br_rand() % 9, key, h;
        for (unsigned k = 1; k < len; k++)
            v = v * 10 + br_rand() % 10;
        key = (v << 4 | len) + 1;
        for (h = (key * 0x9e3779b97f4a7c15ull) & (cap - 1); set[h] && set[h] != key;
             h = (h + 1) & (cap - 1))
            ;
        if (set[h] == key)
            continue;  /* drawn before */
        set[h] = key;
        snprintf(out + i * 16, 16, "%llu", (unsigned long long)v);
        i++;
    }
    free(set);
    return out;
}

/* The rate sheet for the prefixes; the first nsample rows also into sample. */
static char *br_sheet(const char *prefixes, size_t n, size_t *len, size_t *rows, br_row_t *sample,
                      size_t nsample)
{
    size_t cap = n * 3 * 40 + 64, used = 0;
    char *text = malloc(cap);

    if (text == NULL) {
        fprintf(stderr, "bench_rates: out of memory\n");
        exit(1);
    }
    used += (size_t)sprintf(text, "prefix,connector,cost,currency\n");
    *rows = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = 2 + (unsigned)(br_rand() % 3), first = (unsigned)(br_rand() % BR_CONNS);
        for (unsigned j = 0; j < k; j++) {
            unsigned conn = (first + j * 7) % BR_CONNS;  /* 7 is prime to 20: distinct */
            unsigned micro = (unsigned)(br_rand() % 100000);
            used += (size_t)snprintf(text + used, cap - used, "%s,smsc%02u,0.%06u,EUR\n",
                                     prefixes + i * 16, conn, micro);
            if (*rows < nsample) {
                br_row_t *r = &sample[*rows];
                memcpy(r->prefix, prefixes + i * 16, 16);
                r->len = (unsigned char)strlen(r->prefix);
                r->conn = (unsigned char)conn;
                r->cost = micro / 1e6;
            }
            (*rows)++;
        }
    }
    *len = used;
    return text;
}

/* The naive reference: longest prefix of num among rows, cheapest there. */
static int br_naive(const br_row_t *rows, size_t n, const char *num, size_t numlen)
{
    int best = -1;

    for (size_t i = 0; i < n; i++) {
        const br_row_t *r = &rows[i];
        if (r->len > numlen || memcmp(r->prefix, num, r->len) != 0)
            continue;
        if (best < 0 || r->len > rows[best].len ||
            (r->len == rows[best].len && r->cost < rows[best].cost))
            best = (int)i;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t nprefix = 1000000, nsample = 100000, nnum = 1 << 18, nhot = 1 << 16, len, rows;
    double seconds = 2, t_hot, hwm_parse, huge, w0, w_load, w_lookup, t0, t_parse, t_seal, t_lookup, t_naive, table_mb, hwm, rss;
    long long lookups = 0, hits = 0, hot_n = 0, hot_hits = 0, naive_n = 0, naive_hits = 0;
    rt_csv_errors_t errs;
    char err[256] = "";
    char *prefixes, *text, *nums, *hot;
    br_row_t *sample;
    rt_rates_t *t;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--prefixes") == 0)
            nprefix = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--sample") == 0)
            nsample = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "usage: bench_rates [--prefixes N] [--sample N] [--seconds S]\n");
            return 2;
        }
    }
    if (nprefix == 0 || nsample == 0) {
        fprintf(stderr, "bench_rates: --prefixes and --sample must be positive\n");
        return 2;
    }
    prefixes = br_prefixes(nprefix);
    sample = malloc(nsample * sizeof *sample);
    nums = malloc(nnum * 16);
    hot = malloc(nhot * 16);
    if (sample == NULL || nums == NULL || hot == NULL)
        return 1;
    text = br_sheet(prefixes, nprefix, &len, &rows, sample, nsample);
    if (rows < nsample)
        nsample = rows;
    for (size_t i = 0; i < nnum; i++) {  /* half behind a known prefix, half random */
        char *num = nums + i * 16;
        size_t want = 11 + br_rand() % 3, l = 0;
        if (i % 2 == 0) {
            l = (size_t)snprintf(num, 16, "%s", prefixes + (br_rand() % nprefix) * 16);
        } else {
            num[l++] = (char)('1' + br_rand() % 9);
        }
        while (l < want)
            num[l++] = (char)('0' + br_rand() % 10);
        num[l] = '\0';
    }
    for (size_t i = 0; i < nhot; i++) {  /* behind one of 1% of the prefixes */
        char *num = hot + i * 16;
        size_t want = 11 + br_rand() % 3, l;
        l = (size_t)snprintf(num, 16, "%s", prefixes + (br_rand() % (nprefix / 100 + 1)) * 16);
        while (l < want)
            num[l++] = (char)('0' + br_rand() % 10);
        num[l] = '\0';
    }
    free(prefixes);

    w0 = br_wall();
    t0 = br_cpu();
    t = rt_rates_new("bench");
    if (t == NULL || rt_rates_parse_csv(text, len, t, &errs) != 0) {
        fprintf(stderr, "bench_rates: the sheet did not load (%zu errors)\n", errs.total);
        return 1;
    }
    t_parse = br_cpu() - t0;
    hwm_parse = br_status_mb("VmHWM");
    free(text);  /* the sheet is the caller's; the table keeps nothing of it */
    t0 = br_cpu();
    if (rt_rates_seal(t, err, sizeof err) != 0) {
        fprintf(stderr, "bench_rates: seal: %s\n", err);
        return 1;
    }
    t_seal = br_cpu() - t0;
    w_load = br_wall() - w0;
    table_mb = (double)rt_rates_memory(t) / (1024.0 * 1024.0);

    w0 = br_wall();
    t0 = br_cpu();
    do {
        rt_rate_hit_t h[4];
        for (size_t i = 0; i < nnum; i++)
            hits += (long long)rt_rates_lookup(t, nums + i * 16, 1767225600, h, 4);
        lookups += (long long)nnum;
    } while ((t_lookup = br_cpu() - t0) < seconds);
    w_lookup = br_wall() - w0;

    t0 = br_cpu();
    do {
        rt_rate_hit_t h[4];
        for (size_t i = 0; i < nhot; i++)
            hot_hits += (long long)rt_rates_lookup(t, hot + i * 16, 1767225600, h, 4);
        hot_n += (long long)nhot;
    } while ((t_hot = br_cpu() - t0) < seconds / 2);

    t0 = br_cpu();
    do {
        for (int k = 0; k < 16; k++, naive_n++) {
            const char *num = nums + ((size_t)naive_n % nnum) * 16;
            naive_hits += br_naive(sample, nsample, num, strlen(num)) >= 0;
        }
    } while ((t_naive = br_cpu() - t0) < seconds / 2);

    hwm = br_status_mb("VmHWM");
    huge = br_smaps_huge_mb();
    rss = br_status_mb("VmRSS");
    double lps = (double)lookups / t_lookup, nps = (double)naive_n / t_naive;
    printf("{\"bench\":\"rates\",\"prefixes\":%zu,\"rows\":%zu,\"csv_mb\":%.1f,"
           "\"parse_s\":%.3f,\"seal_s\":%.3f,\"load_s\":%.3f,\"load_wall_s\":%.3f,"
           "\"lookups_per_s\":%.0f,\"lookups_per_wall_s\":%.0f,\"ns_per_lookup\":%.1f,\"hits_per_lookup\":%.2f,"
           "\"hot_lookups_per_s\":%.0f,\"hot_hits_per_lookup\":%.2f,"
           "\"naive_sample_rows\":%zu,\"naive_found\":%.2f,\"naive_sample_lookups_per_s\":%.0f,"
           "\"naive_scaled_lookups_per_s\":%.1f,\"speedup_vs_naive_scaled\":%.0f,"
           "\"table_mb\":%.1f,\"vm_hwm_parse_mb\":%.1f,\"vm_hwm_mb\":%.1f,\"vm_rss_mb\":%.1f,\"huge_pages_mb\":%.1f,"
           "\"targets\":{\"load_s\":3,\"rss_mb\":200,\"decisions_per_s\":2000000}}\n",
           nprefix, rows, (double)len / (1024.0 * 1024.0), t_parse, t_seal, t_parse + t_seal,
           w_load, lps, (double)lookups / w_lookup, 1e9 / lps, (double)hits / (double)lookups,
           (double)hot_n / t_hot, (double)hot_hits / (double)hot_n, nsample,
           (double)naive_hits / (double)naive_n, nps,
           nps * (double)nsample / (double)rows, lps / (nps * (double)nsample / (double)rows),
           table_mb, hwm_parse, hwm, rss, huge);
    rt_rates_free(t);
    free(sample);
    free(nums);
    free(hot);
    return 0;
}
