/*
 * sqlite_lifecycle.c - the raw SQLite cost of a message's life in junction's
 * own schema: the yardstick beside the writer's CPU per message.
 *
 *   sqlite_lifecycle FROM_DB DIR MESSAGES GROUP RECEIPT
 *
 * Copies the messages table and its indexes, as junction created them,
 * from FROM_DB (a junction database) into a fresh file under DIR, then
 * lives MESSAGES messages through it the way the writer does for a
 * message sent straight to a bound connector, GROUP messages' rows per
 * transaction, WAL mode, synchronous=FULL:
 *   - insert as `sending` (~570-byte envelope, ON CONFLICT(id) DO NOTHING);
 *   - one group later: `submitted` with the far side's id, by id;
 *   - RECEIPT 1: one group after that, `delivered` (the receipt), by id;
 *     RECEIPT 0: submitted with flags 2 (no receipt to wait for), final.
 * Every update is guarded like the writer's (never out of a final state).
 * Prints one JSON line: messages, rows, commits, CPU and wall µs per
 * message (getrusage of this single-threaded process).  What it leaves
 * out is what junction adds: the job queue, the callbacks, the events.
 * Standalone: links only SQLite.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double lc_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double lc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int lc_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite_lifecycle: %s: %s\n", what, db != NULL ? sqlite3_errmsg(db) : "?");
    return 1;
}

/* The messages table's CREATE statements of from into to; 0 or 1. */
static int lc_copy_schema(const char *from, sqlite3 *to)
{
    sqlite3 *src = NULL;
    sqlite3_stmt *st = NULL;
    int rc = 1;

    if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(src, "SELECT sql FROM sqlite_master WHERE tbl_name = 'messages'"
                                " AND type IN ('table', 'index') AND sql IS NOT NULL"
                                " ORDER BY type = 'index'",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    rc = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        if (sqlite3_exec(to, (const char *)sqlite3_column_text(st, 0), NULL, NULL, NULL) !=
            SQLITE_OK)
            rc = lc_fail(to, "schema");
out:
    if (rc != 0 && st == NULL)
        lc_fail(src, from);
    sqlite3_finalize(st);
    sqlite3_close(src);
    return rc;
}

static const char lc_insert[] =
    "INSERT INTO messages(id, created_at, updated_at, expires_at, status, source_adapter,"
    " source_connector, from_addr, to_addr, target, route, attempts, reason, reason_text,"
    " remote_id, envelope, plan, cur, tries, next_at, flags, qseq, sender)"
    " VALUES(?1, ?2, ?2, 0, 'sending', 'smpp', 'account:bench', '4930123456', '4915100900',"
    " 'smsc1', 'r1', 0, 0, NULL, NULL, ?3, 'single:smsc1', 0, '1', 0, 0, 0, 'smpp:bench')"
    " ON CONFLICT(id) DO NOTHING";
#define LC_GUARD " AND status <> 'delivered' AND status <> 'failed' AND status <> 'expired'" \
                 " AND status <> 'rejected'"
static const char lc_submit[] = "UPDATE messages SET status = 'submitted', updated_at = ?2,"
                                " remote_id = ?3, attempts = 1, tries = '1', flags = ?4"
                                " WHERE id = ?1" LC_GUARD;
static const char lc_deliver[] = "UPDATE messages SET status = 'delivered', updated_at = ?2"
                                 " WHERE id = ?1" LC_GUARD;

static void lc_id(char *id, size_t n, long m)
{
    snprintf(id, n, "01JZLC%020ld", m);
}

int main(int argc, char **argv)
{
    char path[512], id[32], rid[24], env[600];
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *sub = NULL, *dlv = NULL;
    long msgs, group, rows = 0, commits = 0;
    int receipt, lag;

    if (argc != 6) {
        fprintf(stderr, "usage: sqlite_lifecycle FROM_DB DIR MESSAGES GROUP RECEIPT(0|1)\n");
        return 2;
    }
    msgs = atol(argv[3]);
    group = atol(argv[4]) > 0 ? atol(argv[4]) : 1;
    receipt = atoi(argv[5]) != 0;
    lag = receipt ? 2 : 1;
    snprintf(path, sizeof path, "%s/sqlite_lifecycle.db", argv[2]);
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return lc_fail(db, path);
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     NULL) != SQLITE_OK || lc_copy_schema(argv[1], db) != 0)
        return lc_fail(db, "setup");
    if (sqlite3_prepare_v2(db, lc_insert, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, lc_submit, -1, &sub, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, lc_deliver, -1, &dlv, NULL) != SQLITE_OK)
        return lc_fail(db, "prepare");
    memset(env, 'x', 570);
    env[570] = '\0';

    double c0 = lc_cpu_s(), t0 = lc_now();
    long ngroups = (msgs + group - 1) / group;
    for (long k = 0; k < ngroups + lag; k++) {
        if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
            return lc_fail(db, "begin");
        for (long m = k * group; k < ngroups && m < (k + 1) * group && m < msgs; m++, rows++) {
            lc_id(id, sizeof id, m);
            sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, 1700000000000LL + m);
            sqlite3_bind_text(ins, 3, env, -1, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                return lc_fail(db, "insert");
            sqlite3_reset(ins);
        }
        for (int s = 1; s <= lag; s++) {
            long g = k - s;
            sqlite3_stmt *u = s == 1 ? sub : dlv;
            for (long m = g * group; g >= 0 && g < ngroups && m < (g + 1) * group && m < msgs;
                 m++, rows++) {
                lc_id(id, sizeof id, m);
                snprintf(rid, sizeof rid, "%lx", m * 7919);
                sqlite3_bind_text(u, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(u, 2, 1700000000000LL + m + 5);
                if (s == 1) {
                    sqlite3_bind_text(u, 3, rid, -1, SQLITE_STATIC);
                    sqlite3_bind_int(u, 4, receipt ? 0 : 2);
                }
                if (sqlite3_step(u) != SQLITE_DONE)
                    return lc_fail(db, "update");
                sqlite3_reset(u);
            }
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return lc_fail(db, "commit");
        commits++;
    }
    double cpu = lc_cpu_s() - c0, wall = lc_now() - t0;

    printf("{\"messages\":%ld,\"receipt\":%d,\"rows\":%ld,\"commits\":%ld,"
           "\"rows_per_commit\":%.1f,\"cpu_us_per_msg\":%.2f,\"wall_us_per_msg\":%.2f}\n",
           msgs, receipt, rows, commits, (double)rows / (double)commits,
           cpu * 1e6 / (double)msgs, wall * 1e6 / (double)msgs);
    sqlite3_finalize(ins);
    sqlite3_finalize(sub);
    sqlite3_finalize(dlv);
    sqlite3_close(db);
    unlink(path);
    return 0;
}
