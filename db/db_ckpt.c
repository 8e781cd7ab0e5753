/*
 * db_ckpt.c - the checkpointer: WAL checkpoints off the writer's thread.
 *
 * The writer's WAL hook (db_writer.c) used to run every checkpoint itself,
 * inside the commit that crossed DB_WR_CHECKPOINT_PAGES: copying a
 * thousand pages into the database file and syncing it, about an eighth
 * of the writer's time under load, while the messages of the next group
 * waited.  Now the hook only kicks this thread, which runs the same
 * PASSIVE checkpoint on a connection of its own.  PASSIVE never waits for
 * the writer and the writer never waits for it (WAL: one writer and a
 * checkpoint run side by side); what it has copied lets the writer start
 * the WAL over at a commit that finds everything copied.  Under endless
 * writes that moment may not come, so the hook still checkpoints inline
 * past DB_CKPT_INLINE_FRAMES frames, where nothing else writes and the
 * WAL is sure to be copied whole (db_writer.c).
 *
 * Statistics: db.checkpoints (runs here), db.checkpoint_us_last,
 * db.checkpoint_errors.
 *
 * Threads: db_ckpt_start / db_ckpt_stop on the thread that starts and
 * stops the writer; db_ckpt_kick on the writer thread; the connection is
 * this thread's alone.  db_ckpt_lock guards the flags below.
 */
#include <pthread.h>

#include "db/db_int.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_stats.h"

static pthread_mutex_t db_ckpt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t db_ckpt_cond = PTHREAD_COND_INITIALIZER;
static int db_ckpt_kicked, db_ckpt_stopping;
static int db_ckpt_running; /* atomic: the thread is up */
static pthread_t db_ckpt_thread;
static sqlite3 *db_ckpt_conn;
static gw_stat_t *db_ckpt_st_runs, *db_ckpt_st_us_last, *db_ckpt_st_errors;

static void *db_ckpt_main(void *arg)
{
    int last_rc = SQLITE_OK;

    (void)arg;
    for (;;) {
        pthread_mutex_lock(&db_ckpt_lock);
        while (!db_ckpt_kicked && !db_ckpt_stopping)
            pthread_cond_wait(&db_ckpt_cond, &db_ckpt_lock);
        int stop = db_ckpt_stopping;
        db_ckpt_kicked = 0;
        pthread_mutex_unlock(&db_ckpt_lock);
        if (stop)
            break;
        int64_t t0 = gw_stats_now_us();
        int rc = sqlite3_wal_checkpoint_v2(db_ckpt_conn, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                           NULL);
        gw_stat_add(db_ckpt_st_runs, 1);
        gw_stat_set(db_ckpt_st_us_last, gw_stats_now_us() - t0);
        /* BUSY: another checkpoint runs (the writer's inline one) */
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
            gw_stat_add(db_ckpt_st_errors, 1);
            if (rc != last_rc) /* once per kind of failure, not per kick */
                GW_WARN("db", "checkpoint: %s; the writer checkpoints itself past %d frames",
                        sqlite3_errmsg(db_ckpt_conn), DB_CKPT_INLINE_FRAMES);
        }
        last_rc = rc;
    }
    return NULL;
}

int db_ckpt_start(void)
{
    db_ckpt_st_runs = gw_stat("db.checkpoints", "WAL checkpoints run by the checkpointer thread");
    db_ckpt_st_us_last = gw_stat_gauge("db.checkpoint_us_last", "duration of the last checkpoint");
    db_ckpt_st_errors = gw_stat("db.checkpoint_errors", "checkpoints that failed (not busy)");
    if (db_conn_open(db_path(), db_writer_sync_level(), &db_ckpt_conn) < 0)
        return GW_ESTORE;
    db_ckpt_kicked = db_ckpt_stopping = 0;
    if (pthread_create(&db_ckpt_thread, NULL, db_ckpt_main, NULL) != 0) {
        sqlite3_close(db_ckpt_conn);
        db_ckpt_conn = NULL;
        return GW_ERROR;
    }
    pthread_setname_np(db_ckpt_thread, "checkpoint");
    __atomic_store_n(&db_ckpt_running, 1, __ATOMIC_RELEASE);
    return GW_OK;
}

int db_ckpt_kick(void)
{
    if (!__atomic_load_n(&db_ckpt_running, __ATOMIC_ACQUIRE))
        return 0;
    pthread_mutex_lock(&db_ckpt_lock);
    db_ckpt_kicked = 1;
    pthread_cond_signal(&db_ckpt_cond);
    pthread_mutex_unlock(&db_ckpt_lock);
    return 1;
}

void db_ckpt_stop(void)
{
    if (!__atomic_load_n(&db_ckpt_running, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&db_ckpt_lock);
    db_ckpt_stopping = 1;
    pthread_cond_signal(&db_ckpt_cond);
    pthread_mutex_unlock(&db_ckpt_lock);
    pthread_join(db_ckpt_thread, NULL);
    __atomic_store_n(&db_ckpt_running, 0, __ATOMIC_RELEASE);
    sqlite3_close(db_ckpt_conn);
    db_ckpt_conn = NULL;
}
