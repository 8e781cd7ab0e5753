/*
 * sqlite_insert.c - raw SQLite batched inserts: the ceiling for Junction.
 *
 *   sqlite_insert PATH N B
 *
 * Inserts N rows shaped like Junction's messages rows (same columns and
 * indexes, a ~600-byte envelope JSON) in transactions of B rows, in WAL
 * mode, once with synchronous=FULL and once with synchronous=NORMAL, each
 * into a fresh database file at PATH, and prints one line per run:
 *
 *   sqlite_insert synchronous=FULL batch=B rows=N seconds=S rows_per_s=R
 *
 * `make bench` compares these rates with the rate at which junction
 * acknowledges messages: the gap is what the gateway itself costs.
 * Standalone: links only SQLite; single-threaded.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char bench_schema[] =
    "CREATE TABLE messages("
    "  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, source_adapter TEXT,"
    "  source_connector TEXT, from_addr TEXT, to_addr TEXT, target TEXT, route TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0, reason INTEGER NOT NULL DEFAULT 0, reason_text TEXT,"
    "  remote_id TEXT, envelope TEXT NOT NULL);"
    "CREATE INDEX messages_status_created ON messages(status, created_at);"
    "CREATE INDEX messages_created ON messages(created_at);"
    "CREATE INDEX messages_target ON messages(target);";

static const char bench_insert[] =
    "INSERT INTO messages(id, created_at, updated_at, expires_at, status, source_adapter,"
    " source_connector, from_addr, to_addr, target, route, attempts, reason, reason_text,"
    " remote_id, envelope) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)";

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite_insert: %s: %s\n", what, db != NULL ? sqlite3_errmsg(db) : "?");
    return 1;
}

/* Remove PATH and its WAL companions, so every run starts empty. */
static void bench_unlink(const char *path)
{
    char buf[4096];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
}

/* A ~600-byte envelope JSON of the kind junction stores, for row i. */
static void bench_envelope(char *out, size_t len, const char *id, long long now, long i)
{
    snprintf(out, len,
             "{\"id\":\"%s\",\"v\":1,\"created_at\":%lld,\"expires_at\":%lld,"
             "\"from\":{\"address\":\"33612%06ld\",\"type\":\"e164\",\"ton\":1,\"npi\":1},"
             "\"to\":{\"address\":\"44770%06ld\",\"type\":\"e164\",\"ton\":1,\"npi\":1},"
             "\"content_type\":\"text/plain\",\"data_coding\":0,\"registered_delivery\":1,"
             "\"attempts\":0,\"status\":\"queued\",\"reason\":0,"
             "\"source\":{\"adapter\":\"sip\",\"connector\":\"sip0\",\"peer\":\"127.0.0.1:5070\"},"
             "\"corr\":{\"sip_call_id\":\"a84b4c76e66710-%ld@127.0.0.1\"},"
             "\"tags\":{\"customer\":\"acme\",\"campaign\":\"spring\"},"
             "\"route\":\"default\",\"target\":\"smsc1\","
             "\"body\":\"Hello %ld, this is a benchmark message of typical length: your code is "
             "482913; it expires in ten minutes. Do not share it with anyone. Reply STOP to opt "
             "out. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\"}",
             id, now, now + 86400000LL, i % 1000000, i % 1000000, i, i);
}

/* One run; prints its line.  0 or 1. */
static int bench_run(const char *path, long n, long batch, const char *sync)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[128], id[32], env[1024];
    int rc = 1;

    bench_unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return bench_fail(db, "open");
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", sync);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, bench_schema, NULL, NULL, NULL) != SQLITE_OK) {
        rc = bench_fail(db, "schema");
        goto out_close;
    }
    if (sqlite3_prepare_v2(db, bench_insert, -1, &st, NULL) != SQLITE_OK) {
        rc = bench_fail(db, "prepare");
        goto out_close;
    }
    long long now = (long long)time(NULL) * 1000;
    double t0 = bench_now();
    for (long i = 0; i < n;) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            rc = bench_fail(db, "begin");
            goto out_finalize;
        }
        for (long k = 0; k < batch && i < n; k++, i++) {
            snprintf(id, sizeof id, "01BENCH%019ld", i);
            bench_envelope(env, sizeof env, id, now, i);
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, now + i);
            sqlite3_bind_int64(st, 3, now + i);
            sqlite3_bind_int64(st, 4, now + 86400000LL);
            sqlite3_bind_text(st, 5, "queued", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, "sip", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 7, "sip0", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 8, "33612000000", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 9, "44770000000", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 10, "smsc1", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 11, "default", -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 12, 0);
            sqlite3_bind_int(st, 13, 0);
            sqlite3_bind_null(st, 14);
            sqlite3_bind_null(st, 15);
            sqlite3_bind_text(st, 16, env, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE) {
                rc = bench_fail(db, "insert");
                goto out_finalize;
            }
            sqlite3_reset(st);
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            rc = bench_fail(db, "commit");
            goto out_finalize;
        }
    }
    double secs = bench_now() - t0;
    printf("sqlite_insert synchronous=%s batch=%ld rows=%ld seconds=%.3f rows_per_s=%.0f\n",
           sync, batch, n, secs, secs > 0 ? (double)n / secs : 0.0);
    fflush(stdout);
    rc = 0;
out_finalize:
    sqlite3_finalize(st);
out_close:
    sqlite3_close(db);
    bench_unlink(path);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PATH N B\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10), batch = strtol(argv[3], NULL, 10);
    if (n <= 0 || batch <= 0) {
        fprintf(stderr, "sqlite_insert: N and B must be positive\n");
        return 2;
    }
    if (bench_run(argv[1], n, batch, "FULL") != 0 || bench_run(argv[1], n, batch, "NORMAL") != 0)
        return 1;
    return 0;
}
