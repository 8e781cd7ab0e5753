/*
 * bench_store.c - `make bench-store`: how many envelopes per second the
 * store accepts and commits with full durability, beside the raw SQLite
 * limit on the same disk, in one run.
 *
 *   bench_store [--count N] [--inflight K] [--seconds S] [--sync full|normal]
 *               [--raw PATH_TO_sqlite_insert] [--raw-rows N] [--dir DIR]
 *
 * One fresh database (db_open on a new file under DIR, default /tmp), the
 * writer thread started (db_writer_start) with db.synchronous FULL, then
 * envelopes shaped like a SIP MESSAGE routed to SMPP (what junction
 * stores, ~650 bytes of JSON) pushed through db_dlv_insert as fast as they
 * are committed, with at most K (default 10,000) waiting for their
 * callback.  Counted: callbacks with rc 0, per second and in total, until
 * N (default 300,000) are committed or S (default 60) seconds pass.
 * Before and after that, build/bench/sqlite_insert (bench/sqlite_insert.c)
 * inserts as many rows (--raw-rows, default N) of the same columns and
 * indexes in batches of 512 on the same disk; the ratio store / raw FULL
 * uses the mean of the two raw runs, since this machine's speed drifts
 * (both are printed), and ends as one JSON line for scripts.
 *
 * The store's API is used in one place, bs_store_*, so the program follows
 * the db/ rewrite by changing those three functions only.
 *
 * Threads: main pushes; the store's writer thread runs bs_on_commit.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "gw_errors.h"
#include "gw_param.h"

/* bs_lock guards the counters below; bs_cond wakes main when a slot frees. */
static pthread_mutex_t bs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bs_cond = PTHREAD_COND_INITIALIZER;
static long bs_inflight, bs_ok, bs_err;

static double bs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writer thread, after the group commit: the delivery (arg) is done. */
static void bs_on_commit(void *arg, int rc, int64_t qseq)
{
    (void)qseq;
    gw_dlv_free(arg);
    pthread_mutex_lock(&bs_lock);
    if (rc == 0)
        bs_ok++;
    else
        bs_err++;
    bs_inflight--;
    pthread_cond_signal(&bs_cond);
    pthread_mutex_unlock(&bs_lock);
}

/* --- the store's API, in one place ------------------------------------- */

/* Open a fresh store at path with the given synchronous level and start
 * its writer.  0 or a negative code. */
static int bs_store_open(const char *path, const char *sync)
{
    const gw_param_t *p;
    char err[128];
    int rc;

    if ((rc = gw_params_register(db_params)) < 0)
        return rc;
    if ((p = gw_param_find("db.synchronous")) == NULL ||
        (rc = gw_param_set(p, sync, err, sizeof err)) < 0) {
        fprintf(stderr, "bench_store: db.synchronous=%s: %s\n", sync, p ? err : "unknown");
        return GW_EINVAL;
    }
    if ((rc = db_open(path)) < 0)
        return rc;
    if ((rc = db_writer_start()) < 0)
        db_close();
    return rc;
}

/* Queue env as the core does on accept: a delivery with a one-target
 * plan, the envelope's JSON made on this (the producer's) thread, one
 * insert job; bs_on_commit runs later.  0 or a negative code (then the
 * callback never runs).  No events: the bench has no event sink. */
static int bs_store_insert(gw_envelope_t *env)
{
    gw_delivery_t *d = gw_dlv_new(env);
    int rc = GW_ENOMEM;

    if (d == NULL)
        return GW_ENOMEM;
    d->env_json = gw_env_to_text(env);
    if (d->env_json == NULL || gw_dlv_plan_set(d, "bench", "smsc1") < 0)
        goto out_free;
    d->status = GW_ST_QUEUED;
    rc = db_dlv_insert(d, d->env_json, NULL, bs_on_commit, d);
    if (rc == 0)
        return 0;
out_free:
    gw_dlv_free(d);
    return rc;
}

static void bs_store_close(void)
{
    db_writer_stop();
    db_close();
}

/* ----------------------------------------------------------------------- */

/* An envelope like one junction builds for a SIP MESSAGE routed to SMPP. */
static gw_envelope_t *bs_envelope(long i)
{
    char body[200], cid[64];
    gw_envelope_t *env = gw_env_new();

    if (env == NULL)
        return NULL;
    snprintf(body, sizeof body,
             "#%ld Your code is 482913; it expires in ten minutes. Do not share it with "
             "anyone. Reply STOP to opt out. Benchmark message of typical length.", i);
    snprintf(cid, sizeof cid, "%ld-bench-a84b4c76e66710@127.0.0.1", i);
    if (gw_env_set_str(&env->source.adapter, "sip", (size_t)-1) < 0 ||
        gw_env_set_str(&env->source.connector, "sip", (size_t)-1) < 0 ||
        gw_env_set_str(&env->source.peer, "127.0.0.1:5070", (size_t)-1) < 0 ||
        gw_env_set_str(&env->from.address, "4930123456", (size_t)-1) < 0 ||
        gw_env_set_str(&env->to.address, "4915100000", (size_t)-1) < 0 ||
        gw_env_set_str(&env->body, body, (size_t)-1) < 0 ||
        gw_env_set_str(&env->content_type, "text/plain", (size_t)-1) < 0 ||
        gw_env_set_str(&env->corr.sip_call_id, cid, (size_t)-1) < 0) {
        gw_env_unref(env);
        return NULL;
    }
    env->body_len = strlen(body);
    env->from.ton = env->to.ton = 1;
    env->from.npi = env->to.npi = 1;
    env->data_coding = -1;
    env->expires_at = env->created_at + 86400000LL;
    return env;
}

/* Size of the envelope's JSON form (what the messages row holds). */
static size_t bs_envelope_bytes(void)
{
    gw_envelope_t *env = bs_envelope(123456);
    json_t *j = env ? gw_env_to_json(env) : NULL;
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    size_t n = s ? strlen(s) : 0;

    free(s);
    json_decref(j);
    gw_env_unref(env);
    return n;
}

/* The raw FULL rows/s at batch 512 from sqlite_insert, or 0. */
static double bs_raw_rate(const char *bin, const char *dbpath, long rows)
{
    char cmd[8192], line[512];
    double rate = 0, r;
    FILE *f;

    snprintf(cmd, sizeof cmd, "'%s' '%s' %ld 512", bin, dbpath, rows);
    if ((f = popen(cmd, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        fputs(line, stderr);
        const char *p = strstr(line, "rows_per_s=");
        if (strstr(line, "synchronous=FULL") && p && sscanf(p, "rows_per_s=%lf", &r) == 1)
            rate = r;
    }
    pclose(f);
    return rate;
}

static void bs_usage(void)
{
    fprintf(stderr, "usage: bench_store [--count N] [--inflight K] [--seconds S] "
                    "[--sync full|normal] [--raw sqlite_insert] [--raw-rows N (default: count)] "
                    "[--dir DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long count = 300000, max_inflight = 10000, raw_rows = 0;
    double seconds = 60;
    const char *sync = "full", *raw = NULL, *base = "/tmp";
    char dir[4096], path[4200], rawpath[4200], cmd[8400];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            bs_usage();
        if (strcmp(a, "--count") == 0) count = atol(v);
        else if (strcmp(a, "--inflight") == 0) max_inflight = atol(v);
        else if (strcmp(a, "--seconds") == 0) seconds = atof(v);
        else if (strcmp(a, "--sync") == 0) sync = v;
        else if (strcmp(a, "--raw") == 0) raw = v;
        else if (strcmp(a, "--raw-rows") == 0) raw_rows = atol(v);
        else if (strcmp(a, "--dir") == 0) base = v;
        else bs_usage();
        i++;
    }
    if (raw_rows == 0)
        raw_rows = count;
    if (count <= 0 || max_inflight <= 0 || seconds <= 0 || raw_rows <= 0)
        bs_usage();
    snprintf(dir, sizeof dir, "%s/junction-bench-store-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/store.db", dir);
    snprintf(rawpath, sizeof rawpath, "%s/raw.db", dir);
    double raw_before = raw ? bs_raw_rate(raw, rawpath, raw_rows) : 0;
    if (bs_store_open(path, sync) < 0) {
        fprintf(stderr, "bench_store: cannot open the store at %s\n", path);
        return 1;
    }

    long pushed = 0, push_err = 0, last_ok = 0, best = 0;
    double t0 = bs_now(), tick = t0 + 1, end = t0 + seconds;
    fprintf(stderr, "bench_store: synchronous=%s, up to %ld in flight, %ld envelopes\n", sync,
            max_inflight, count);
    for (;;) {
        double now = bs_now();
        pthread_mutex_lock(&bs_lock);
        long ok = bs_ok, inflight = bs_inflight;
        pthread_mutex_unlock(&bs_lock);
        if (now >= tick) {
            fprintf(stderr, "bench_store: second %d: %ld committed\n", (int)(tick - t0),
                    ok - last_ok);
            if (ok - last_ok > best)
                best = ok - last_ok;
            last_ok = ok;
            tick += 1;
        }
        if (now >= end || (pushed >= count && inflight == 0))
            break;
        if (pushed >= count || inflight >= max_inflight) {
            /* wait for a commit (or the next tick) */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_mutex_lock(&bs_lock);
            if (bs_inflight >= max_inflight || pushed >= count)
                pthread_cond_timedwait(&bs_cond, &bs_lock, &ts);
            pthread_mutex_unlock(&bs_lock);
            continue;
        }
        gw_envelope_t *env = bs_envelope(pushed);
        pthread_mutex_lock(&bs_lock);
        bs_inflight++;
        pthread_mutex_unlock(&bs_lock);
        if (env == NULL || bs_store_insert(env) < 0) {
            pthread_mutex_lock(&bs_lock);
            bs_inflight--;
            pthread_mutex_unlock(&bs_lock);
            push_err++;
        }
        gw_env_unref(env);
        pushed++;
    }
    double secs = bs_now() - t0;
    pthread_mutex_lock(&bs_lock);
    long ok = bs_ok, err = bs_err;
    pthread_mutex_unlock(&bs_lock);
    bs_store_close();
    double rate = secs > 0 ? (double)ok / secs : 0;
    size_t env_bytes = bs_envelope_bytes();
    fprintf(stderr, "bench_store: %ld committed in %.2f s: %.0f/s (best second %ld), "
                    "%ld store errors, %ld refused, envelope %zu bytes\n",
            ok, secs, rate, best, err, push_err, env_bytes);

    double raw_after = raw ? bs_raw_rate(raw, rawpath, raw_rows) : 0;
    double raw_rate = (raw_before + raw_after) / 2;
    printf("{\"sync\":\"%s\",\"committed\":%ld,\"seconds\":%.3f,\"committed_per_s\":%.0f,"
           "\"best_second\":%ld,\"store_errors\":%ld,\"refused\":%ld,\"inflight_max\":%ld,"
           "\"envelope_bytes\":%zu,\"raw_rows\":%ld,\"raw_full_batch512_before\":%.0f,"
           "\"raw_full_batch512_after\":%.0f,\"raw_full_batch512_rows_per_s\":%.0f,"
           "\"ratio\":%.3f}\n",
           sync, ok, secs, rate, best, err, push_err, max_inflight, env_bytes, raw_rows,
           raw_before, raw_after, raw_rate, raw_rate > 0 ? rate / raw_rate : 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: could not remove %s\n", dir);
    return ok > 0 && err == 0 ? 0 : 1;
}
