/*
 * test_db.c - behaviour of the SQLite store (db/).
 *
 * Each test opens a fresh database in its own mkdtemp folder (setup) and
 * removes it afterwards (teardown).  Checks that must not trust db/ itself
 * (is the row really committed? make the commit fail) use a second raw
 * SQLite connection: this test is the one place outside db/ allowed to
 * include sqlite3.h, because it plays the part of an independent reader
 * and of the fault injector.
 *
 * Threads: cmocka's, plus the writer thread and two producer threads in
 * the group-commit test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "gw_errors.h"
#include "gw_stats.h"

typedef struct test_db {
    char dir[64];
    char path[128];
} test_db_t;

static int test_setup(void **state)
{
    test_db_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/junction-test-db-XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    /* A subfolder that does not exist yet: db_open creates it. */
    snprintf(t->path, sizeof t->path, "%s/var/junction.db", t->dir);
    if (db_open(t->path) != 0)
        return -1;
    *state = t;
    return 0;
}

static int test_teardown(void **state)
{
    test_db_t *t = *state;
    char cmd[160];
    db_close();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

/* A second, independent connection to the test database. */
static sqlite3 *test_raw_open(const test_db_t *t)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The single integer an SQL query returns, through a raw connection. */
static long long test_raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* A queued delivery to `to` via smsc1 (route "default"), its envelope
 * JSON cached as the core does. */
static gw_delivery_t *test_env(const char *to)
{
    gw_envelope_t *env = gw_env_new();
    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->source.adapter, "sip", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->source.connector, "sip0", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->from.address, "33100000000", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->to.address, to, (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->body, "hello from the test", (size_t)-1), 0);
    env->body_len = strlen(env->body);
    gw_delivery_t *d = gw_dlv_new(env);
    gw_env_unref(env);
    assert_non_null(d);
    assert_int_equal(gw_dlv_plan_set(d, "default", "smsc1"), 0);
    d->status = GW_ST_QUEUED;
    json_t *j = gw_env_to_json(d->env);
    d->env_json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(d->env_json);
    return d;
}

static int test_insert(gw_delivery_t *d, db_commit_cb_t cb, void *arg)
{
    return db_dlv_insert(d, d->env_json, NULL, cb, arg);
}

static int test_update(gw_delivery_t *d, gw_status_t st, int want_receipt)
{
    d->status = st;
    if (st == GW_ST_SUBMITTED && !want_receipt)
        d->flags |= GW_DLV_NORCPT;
    return db_dlv_update(d, NULL, NULL, NULL);
}

static void test_migrations_create_schema_and_user_version(void **state)
{
    test_db_t *t = *state;
    assert_int_equal(db_schema_version(), 11);
    sqlite3 *raw = test_raw_open(t);
    assert_int_equal(test_raw_int(raw, "PRAGMA user_version"), 11);
    assert_int_equal(test_raw_int(raw, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                       " AND name IN ('connectors', 'routes', 'messages',"
                                       " 'accounts', 'users', 'params', 'sip_locations', 'outbox',"
                                       " 'rules', 'rates', 'parts', 'receipts_early', 'fragments',"
                                       " 'tokens', 'audit', 'sip_users')"),
                     16);
    sqlite3_close(raw);
}

static void test_sip_users_keep_ha1s_out_of_lists_and_change_in_place(void **state)
{
    json_t *rows, *u;
    (void)state;

    assert_int_equal(db_sip_user_add("alice", "r", "m1", "s1"), 0);
    assert_int_equal(db_sip_user_add("alice", "r", "m2", "s2"), GW_EEXIST);
    assert_int_equal(db_sip_user_add("alice", "other", "m3", "s3"), 0);
    assert_int_equal(db_sip_user_update("alice", "r", "m4", NULL, 0), 0);
    assert_int_equal(db_sip_user_update("bob", "r", "m4", "s4", -1), GW_ENOTFOUND);
    rows = db_sip_users_list(0);
    assert_int_equal(json_array_size(rows), 2);
    u = json_array_get(rows, 1); /* ordered by realm: other, r */
    assert_string_equal(json_string_value(json_object_get(u, "realm")), "r");
    assert_true(json_is_false(json_object_get(u, "enabled")));
    assert_null(json_object_get(u, "ha1_md5"));
    assert_null(json_object_get(u, "ha1_sha256"));
    json_decref(rows);
    rows = db_sip_users_list(1);
    u = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(u, "ha1_md5")), "m4");
    assert_string_equal(json_string_value(json_object_get(u, "ha1_sha256")), "s1");
    json_decref(rows);
    assert_int_equal(db_sip_user_delete("alice", "r"), 0);
    assert_int_equal(db_sip_user_delete("alice", "r"), GW_ENOTFOUND);
    rows = db_sip_users_list(0);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
}

static void test_reopen_is_idempotent_and_keeps_rows(void **state)
{
    test_db_t *t = *state;
    assert_int_equal(db_param_set("sip.port", "5070"), 0);
    db_close();
    assert_int_equal(db_open(t->path), 0);
    assert_int_equal(db_schema_version(), 11);
    json_t *params = db_params_list();
    assert_string_equal(json_string_value(json_object_get(params, "sip.port")), "5070");
    json_decref(params);
}

static void test_duplicate_connector_rejected_update_and_delete(void **state)
{
    (void)state;
    json_t *conf = json_pack("{s:s, s:i}", "host", "127.0.0.1", "port", 2775);
    assert_int_equal(db_connector_add("smsc1", "smpp", conf, 1), 0);
    assert_int_equal(db_connector_add("smsc1", "smpp", conf, 1), GW_EEXIST);
    json_decref(conf);

    json_t *conf2 = json_pack("{s:s, s:i}", "host", "127.0.0.1", "port", 2776);
    assert_int_equal(db_connector_update("smsc1", conf2, -1), 0);
    assert_int_equal(db_connector_update("nope", conf2, 1), GW_ENOTFOUND);
    json_decref(conf2);
    assert_int_equal(db_connector_update("smsc1", NULL, 0), 0);

    json_t *list = db_connectors_list();
    assert_int_equal(json_array_size(list), 1);
    json_t *row = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(row, "type")), "smpp");
    assert_true(json_is_false(json_object_get(row, "enabled")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(row, "conf"), "port")),
                     2776);
    json_decref(list);

    assert_int_equal(db_connector_delete("smsc1"), 0);
    assert_int_equal(db_connector_delete("smsc1"), GW_ENOTFOUND);
}

/* Callback state of the visibility test. */
typedef struct test_visible {
    const test_db_t *t;
    const char *id;
    int calls;
    int rc;
    long long rows_seen; /* rows with this id seen by another connection */
} test_visible_t;

static void test_visible_cb(void *arg, int rc, int64_t qseq)
{
    (void)qseq;
    test_visible_t *v = arg;
    sqlite3 *raw = NULL;
    sqlite3_stmt *st = NULL;
    v->calls++;
    v->rc = rc;
    /* On the writer thread, right after COMMIT: is the row really there? */
    if (sqlite3_open(v->t->path, &raw) == SQLITE_OK &&
        sqlite3_prepare_v2(raw, "SELECT count(*) FROM messages WHERE id = ?1", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v->rows_seen = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(raw);
}

static void test_insert_acknowledged_only_once_row_is_visible(void **state)
{
    test_db_t *t = *state;
    test_visible_t v = {.t = t, .rows_seen = -1};
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *d = test_env("33612345678");
    v.id = d->env->id;
    assert_int_equal(test_insert(d, test_visible_cb, &v), 0);
    db_writer_flush();
    assert_int_equal(v.calls, 1);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.rows_seen, 1);

    json_t *got = db_msg_get(d->env->id);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "queued");
    assert_string_equal(json_string_value(json_object_get(got, "to")), "33612345678");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(got, "envelope"), "body")),
        "hello from the test");
    json_decref(got);
    db_writer_stop();
    assert_int_equal(test_insert(d, test_visible_cb, &v), GW_ESTOPPED);
    assert_int_equal(v.calls, 1);
    gw_dlv_free(d);
}

#define TEST_GC_PER_THREAD 500

typedef struct test_gc {
    pthread_mutex_t lock;
    int acks;       /* guarded by lock */
    int failures;   /* guarded by lock */
    unsigned char seen[2 * TEST_GC_PER_THREAD]; /* guarded by lock */
} test_gc_t;

typedef struct test_gc_arg {
    test_gc_t *gc;
    int index;
} test_gc_arg_t;

static test_gc_arg_t test_gc_args[2 * TEST_GC_PER_THREAD];

static void test_gc_cb(void *arg, int rc, int64_t qseq)
{
    (void)qseq;
    test_gc_arg_t *a = arg;
    pthread_mutex_lock(&a->gc->lock);
    a->gc->acks++;
    a->gc->seen[a->index]++;
    if (rc != 0)
        a->gc->failures++;
    pthread_mutex_unlock(&a->gc->lock);
}

static void *test_gc_producer(void *arg)
{
    int base = *(int *)arg;
    for (int i = 0; i < TEST_GC_PER_THREAD; i++) {
        gw_envelope_t *env = gw_env_new();
        if (env == NULL || gw_env_set_str(&env->from.address, "100", (size_t)-1) < 0 ||
            gw_env_set_str(&env->to.address, "200", (size_t)-1) < 0 ||
            gw_env_set_str(&env->body, "x", (size_t)-1) < 0)
            return (void *)1;
        gw_delivery_t *d = gw_dlv_new(env);
        gw_env_unref(env);
        if (d == NULL || gw_dlv_plan_set(d, "r", "smsc1") < 0)
            return (void *)1;
        d->status = GW_ST_QUEUED;
        /* the JSON is borrowed until the callback: a static text will do */
        int rc = db_dlv_insert(d, "{}", NULL, test_gc_cb, &test_gc_args[base + i]);
        gw_dlv_free(d);
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_group_commit_acknowledges_each_insert_once(void **state)
{
    test_db_t *t = *state;
    static test_gc_t gc;
    pthread_t th[2];
    int bases[2] = {0, TEST_GC_PER_THREAD};
    void *res[2];

    memset(&gc, 0, sizeof gc);
    pthread_mutex_init(&gc.lock, NULL);
    for (int i = 0; i < 2 * TEST_GC_PER_THREAD; i++)
        test_gc_args[i] = (test_gc_arg_t){.gc = &gc, .index = i};
    gw_stat_t *commits = gw_stat("db.commits", "group commits of the writer");
    int64_t commits0 = gw_stat_get(commits);

    assert_int_equal(db_writer_start(), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, test_gc_producer, &bases[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], &res[i]);
        assert_null(res[i]);
    }
    db_writer_flush();

    assert_int_equal(gc.acks, 2 * TEST_GC_PER_THREAD);
    assert_int_equal(gc.failures, 0);
    for (int i = 0; i < 2 * TEST_GC_PER_THREAD; i++)
        assert_int_equal(gc.seen[i], 1);
    sqlite3 *raw = test_raw_open(t);
    assert_int_equal(test_raw_int(raw, "SELECT count(*) FROM messages"),
                     2 * TEST_GC_PER_THREAD);
    sqlite3_close(raw);
    int64_t used = gw_stat_get(commits) - commits0;
    assert_true(used >= 1);
    assert_true(used < 2 * TEST_GC_PER_THREAD);
    db_writer_stop();
}

static void test_collect_cb(gw_delivery_t *d, char *env_json, void *arg)
{
    json_t *ids = arg;
    json_array_append_new(ids, json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:I}", "id",
                                         d->env->id, "status", (int)d->status, "target",
                                         gw_dlv_target(d), "attempts", d->attempts, "cur",
                                         d->cur, "flags", (int)d->flags, "qseq",
                                         (json_int_t)d->qseq));
    free(env_json);
    gw_dlv_free(d);
}

static void test_pending_messages_survive_restart(void **state)
{
    test_db_t *t = *state;
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *a = test_env("331"), *b = test_env("332"), *done = test_env("333");
    /* b fails over from smsc1 to smsc2 */
    assert_int_equal(gw_dlv_plan_set(b, "default", "smsc1,smsc2"), 0);
    assert_int_equal(test_insert(a, NULL, NULL), 0);
    assert_int_equal(test_insert(b, NULL, NULL), 0);
    assert_int_equal(test_insert(done, NULL, NULL), 0);
    /* b went through one failed attempt and was re-queued toward smsc2 */
    b->attempts = 1;
    b->tries[0] = 1;
    assert_int_equal(gw_dlv_next_target(b), 1);
    assert_int_equal(test_update(b, GW_ST_QUEUED, 0), 0);
    snprintf(done->remote_id, sizeof done->remote_id, "smsc-abc-1");
    assert_int_equal(test_update(done, GW_ST_SENDING, 0), 0);
    assert_int_equal(test_update(done, GW_ST_SUBMITTED, 1), 0);
    db_writer_stop();
    db_close();

    assert_int_equal(db_open(t->path), 0);
    /* the queues page their rows back in their store order (qseq) */
    json_t *got = json_array();
    assert_int_equal(db_msgs_page("smsc1", 0, INT64_MAX, 10, test_collect_cb, got), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "id")),
                        a->env->id);
    long long qa = json_integer_value(json_object_get(json_array_get(got, 0), "qseq"));
    assert_true(qa > 0);
    assert_int_equal(db_msgs_page("smsc1", qa, INT64_MAX, 10, test_collect_cb, got), 0);
    /* before bounds the page: rows from qseq before on are not read */
    assert_int_equal(db_msgs_page("smsc1", 0, qa, 10, test_collect_cb, got), 0);
    assert_int_equal(db_msgs_page("smsc2", 0, INT64_MAX, 10, test_collect_cb, got), 1);
    json_t *rb = json_array_get(got, 1);
    assert_string_equal(json_string_value(json_object_get(rb, "id")), b->env->id);
    assert_int_equal(json_integer_value(json_object_get(rb, "status")), GW_ST_QUEUED);
    assert_int_equal(json_integer_value(json_object_get(rb, "attempts")), 1);
    assert_int_equal(json_integer_value(json_object_get(rb, "cur")), 1);
    assert_string_equal(json_string_value(json_object_get(rb, "target")), "smsc2");
    /* b was queued again after a, so it is numbered after it */
    assert_true(json_integer_value(json_object_get(rb, "qseq")) > qa);
    json_decref(got);
    /* nothing was left sending */
    got = json_array();
    assert_int_equal(db_msgs_pending(test_collect_cb, got), 0);
    json_decref(got);

    char *id = db_receipt_lookup("smsc1", "smsc-abc-1");
    assert_non_null(id);
    assert_string_equal(id, done->env->id);
    free(id);
    assert_null(db_receipt_lookup("smsc1", "unknown"));
    json_t *list = db_msgs_list(10, "submitted");
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    list = db_msgs_list(10, NULL);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    gw_dlv_free(a);
    gw_dlv_free(b);
    gw_dlv_free(done);
}

static void test_account_password_verify(void **state)
{
    (void)state;
    json_t *acc = NULL;
    assert_int_equal(db_account_add("cust1", "s3cret", "127.0.0.0/8", 50), 0);
    assert_int_equal(db_account_add("cust1", "other", "", 0), GW_EEXIST);
    assert_int_equal(db_account_verify("cust1", "s3cret", &acc), 0);
    assert_non_null(acc);
    assert_int_equal(json_integer_value(json_object_get(acc, "throughput")), 50);
    assert_null(json_object_get(acc, "password_hash"));
    json_decref(acc);
    assert_int_equal(db_account_verify("cust1", "wrong", NULL), GW_EINVAL);
    assert_int_equal(db_account_verify("nobody", "s3cret", NULL), GW_ENOTFOUND);

    assert_int_equal(db_users_count(), 0);
    assert_int_equal(db_user_add("admin", "pw-admin", "admin", 1), 0);
    assert_int_equal(db_user_add("admin", "pw-other", "viewer", 0), GW_EEXIST);
    assert_int_equal(db_users_count(), 1);
    json_t *u = NULL;
    assert_int_equal(db_user_verify("admin", "pw-admin", &u), 0);
    assert_string_equal(json_string_value(json_object_get(u, "role")), "admin");
    assert_true(json_is_true(json_object_get(u, "must_change")));
    assert_null(json_object_get(u, "password_hash"));
    json_decref(u);
    assert_int_equal(db_user_verify("admin", "pw-wrong", NULL), GW_EINVAL);
    assert_int_equal(db_user_verify("ghost", "pw-admin", NULL), GW_ENOTFOUND);
    assert_int_equal(db_user_passwd("admin", "pw-new", 0), 0);
    assert_int_equal(db_user_verify("admin", "pw-admin", NULL), GW_EINVAL);
    assert_int_equal(db_user_verify("admin", "pw-new", &u), 0);
    assert_true(json_is_false(json_object_get(u, "must_change")));
    json_decref(u);
    assert_int_equal(db_user_passwd("ghost", "pw-new", 0), GW_ENOTFOUND);
    assert_int_equal(db_users_admins(), 1);

    /* tokens: found by their hash, listed without it */
    assert_int_equal(db_token_add("ci", "ab12", "operator", 0, "admin"), 0);
    assert_int_equal(db_token_add("ci", "cd34", "operator", 0, "admin"), GW_EEXIST);
    assert_int_equal(db_token_find("ab12", &u), 0);
    assert_string_equal(json_string_value(json_object_get(u, "name")), "ci");
    assert_true(json_is_null(json_object_get(u, "expires_at")));
    json_decref(u);
    assert_int_equal(db_token_find("ffff", &u), GW_ENOTFOUND);
    assert_int_equal(db_token_delete("ci"), 0);
    assert_int_equal(db_token_find("ab12", &u), GW_ENOTFOUND);

    /* audit: newest first, filtered by area */
    assert_int_equal(db_audit_add("admin", "http", "routes.add", "{\"name\":\"a\"}", NULL,
                                  "{\"id\":1}"), 0);
    assert_int_equal(db_audit_add("ops", "socket", "params.set", NULL, "1", "2"), 0);
    json_t *a = db_audit_list(10, 0, NULL, "routes");
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "who")), "admin");
    json_decref(a);
    a = db_audit_list(10, 0, NULL, NULL);
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "method")),
                        "params.set");
    json_decref(a);
    assert_int_equal(db_account_delete("cust1"), 0);
    assert_int_equal(db_account_delete("cust1"), GW_ENOTFOUND);
}

typedef struct test_fault {
    int ok;
    int failed;
} test_fault_t;

static void test_fault_cb(void *arg, int rc, int64_t qseq)
{
    (void)qseq;
    test_fault_t *f = arg;
    if (rc == 0)
        f->ok++;
    else if (rc == GW_ESTORE)
        f->failed++;
}

/* Inject through a raw connection: after each insert into messages a
 * trigger writes a row whose deferred foreign key cannot hold, so every
 * statement succeeds and the COMMIT itself fails. */
static void test_commit_failure_answers_estore_and_stores_nothing(void **state)
{
    test_db_t *t = *state;
    sqlite3 *raw = test_raw_open(t);
    assert_int_equal(
        sqlite3_exec(raw,
                     "CREATE TABLE fault_parent(id INTEGER PRIMARY KEY);"
                     "CREATE TABLE fault_child(pid INTEGER REFERENCES fault_parent(id)"
                     "  DEFERRABLE INITIALLY DEFERRED);"
                     "CREATE TRIGGER fault AFTER INSERT ON messages"
                     "  BEGIN INSERT INTO fault_child VALUES(42); END;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    test_fault_t f = {0, 0};
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *envs[5];
    for (int i = 0; i < 5; i++) {
        envs[i] = test_env("33612345678");
        assert_int_equal(test_insert(envs[i], test_fault_cb, &f), 0);
    }
    db_writer_flush();
    assert_int_equal(f.ok, 0);
    assert_int_equal(f.failed, 5);
    assert_int_equal(test_raw_int(raw, "SELECT count(*) FROM messages"), 0);

    /* While commits fail, new messages are refused at once (admission)... */
    assert_true(db_writer_failing());
    assert_int_equal(test_insert(envs[0], test_fault_cb, &f), GW_EFULL);
    /* ...and once the fault is gone, the writer stores again (a new insert
     * is let through to try after at most a second). */
    assert_int_equal(sqlite3_exec(raw, "DROP TRIGGER fault", NULL, NULL, NULL), SQLITE_OK);
    int rc = GW_EFULL;
    for (int i = 0; i < 40 && rc == GW_EFULL; i++) {
        rc = test_insert(envs[0], test_fault_cb, &f);
        if (rc == GW_EFULL)
            usleep(50 * 1000);
    }
    assert_int_equal(rc, 0);
    db_writer_flush();
    assert_false(db_writer_failing());
    assert_int_equal(f.ok, 1);
    assert_int_equal(test_raw_int(raw, "SELECT count(*) FROM messages"), 1);
    db_writer_stop();
    for (int i = 0; i < 5; i++)
        gw_dlv_free(envs[i]);
    sqlite3_close(raw);
}

/* A statement that fails inside the group (a trigger raising an error)
 * fails its own insert only. */
static void test_failed_statement_answers_estore(void **state)
{
    test_db_t *t = *state;
    sqlite3 *raw = test_raw_open(t);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TRIGGER refuse BEFORE INSERT ON messages"
                                  " WHEN NEW.to_addr = 'refused'"
                                  " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    test_fault_t f = {0, 0};
    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *good = test_env("33612345678"), *bad = test_env("refused");
    assert_int_equal(test_insert(bad, test_fault_cb, &f), 0);
    assert_int_equal(test_insert(good, test_fault_cb, &f), 0);
    db_writer_flush();
    assert_int_equal(f.failed, 1);
    assert_int_equal(f.ok, 1);
    assert_int_equal(test_raw_int(raw, "SELECT count(*) FROM messages WHERE to_addr = 'refused'"),
                     0);
    db_writer_stop();
    gw_dlv_free(good);
    gw_dlv_free(bad);
    sqlite3_close(raw);
}

/* The status column of message id, through the raw connection. */
static void test_raw_status(sqlite3 *db, const char *id, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT status FROM messages WHERE id = ?1", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* An insert whose COMMIT fails must not take the state updates of other,
 * already stored messages down with it: nobody could retry those. */
static void test_failed_group_still_stores_state_updates(void **state)
{
    test_db_t *t = *state;
    sqlite3 *raw = test_raw_open(t);
    test_fault_t f = {0, 0};
    char status[32];

    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *stored = test_env("33612345678"), *doomed = test_env("33612345679");
    assert_int_equal(test_insert(stored, test_fault_cb, &f), 0);
    db_writer_flush();
    assert_int_equal(f.ok, 1);
    assert_int_equal(
        sqlite3_exec(raw,
                     "CREATE TABLE fault_parent(id INTEGER PRIMARY KEY);"
                     "CREATE TABLE fault_child(pid INTEGER REFERENCES fault_parent(id)"
                     "  DEFERRABLE INITIALLY DEFERRED);"
                     "CREATE TRIGGER fault AFTER INSERT ON messages"
                     "  BEGIN INSERT INTO fault_child VALUES(42); END;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    /* Hold the write lock so the writer waits in BEGIN while the insert and
     * the update queue up behind: they then form one group. */
    assert_int_equal(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(test_update(stored, GW_ST_SUBMITTED, 0), 0);
    usleep(50 * 1000);
    assert_int_equal(test_insert(doomed, test_fault_cb, &f), 0);
    assert_int_equal(test_update(stored, GW_ST_DELIVERED, 0), 0);
    assert_int_equal(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    db_writer_flush();

    assert_int_equal(f.failed, 1);
    assert_int_equal(test_raw_int(raw, "SELECT count(*) FROM messages"), 1);
    test_raw_status(raw, stored->env->id, status, sizeof status);
    assert_string_equal(status, "delivered");
    db_writer_stop();
    gw_dlv_free(stored);
    gw_dlv_free(doomed);
    sqlite3_close(raw);
}

/* A final state stays: a stale "queued" after "delivered" would make
 * recovery send the message again. */
static void test_final_state_is_never_left(void **state)
{
    test_db_t *t = *state;
    sqlite3 *raw = test_raw_open(t);
    test_fault_t f = {0, 0};
    char status[32];
    int n;

    assert_int_equal(db_writer_start(), 0);
    gw_delivery_t *env = test_env("33612345678");
    assert_int_equal(test_insert(env, test_fault_cb, &f), 0);
    assert_int_equal(test_update(env, GW_ST_DELIVERED, 0), 0);
    env->attempts = 2;
    gw_dlv_set_reason(env, 8, "late retry");
    assert_int_equal(test_update(env, GW_ST_QUEUED, 0), 0);
    db_writer_flush();
    assert_int_equal(f.ok, 1);
    test_raw_status(raw, env->env->id, status, sizeof status);
    assert_string_equal(status, "delivered");
    db_writer_stop();

    json_t *ids = json_array();
    n = db_msgs_pending(test_collect_cb, ids);
    assert_int_equal(n, 0);
    json_decref(ids);
    gw_dlv_free(env);
    sqlite3_close(raw);
}

/* Rules are written in one transaction: a name taken by another rule
 * undoes the whole write. */
static void test_rules_write_list_and_conflicts(void **state)
{
    (void)state;
    json_t *two = json_loads("[{\"id\":2,\"name\":\"b\",\"priority\":5,\"action\":{\"drop\":true}},"
                             "{\"id\":1,\"name\":\"a\",\"priority\":9,\"action\":{\"drop\":true}}]",
                             0, NULL);
    json_t *clash = json_loads("[{\"id\":3,\"name\":\"c\",\"priority\":1,\"action\":{\"drop\":true}},"
                               "{\"id\":4,\"name\":\"a\",\"priority\":2,\"action\":{\"drop\":true}}]",
                               0, NULL);
    json_t *del = json_loads("[2]", 0, NULL), *missing = json_loads("[77]", 0, NULL);
    assert_int_equal(db_rules_write(two, NULL, 0), 0);
    json_t *list = db_rules_list();
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "b");
    json_decref(list);
    assert_int_equal(db_rules_write(clash, NULL, 0), GW_EEXIST);
    assert_int_equal(db_rules_write(NULL, missing, 0), GW_ENOTFOUND);
    list = db_rules_list();
    assert_int_equal(json_array_size(list), 2); /* "c" was rolled back with the clash */
    json_decref(list);
    assert_int_equal(db_rules_write(NULL, del, 0), 0);
    list = db_rules_list();
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(db_rules_write(two, NULL, 1), 0);
    list = db_rules_list();
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    json_decref(two);
    json_decref(clash);
    json_decref(del);
    json_decref(missing);
}

static int test_rate_rows_next(void *arg, db_rate_row_t *row)
{
    int *left = arg;
    if (*left == 0)
        return 0;
    (*left)--;
    *row = (db_rate_row_t){ *left ? "44" : "447", "a", "EUR", 0.01 * *left, 0, 0 };
    return 1;
}

static int test_rate_rows_count(void *arg, const char *table, const db_rate_row_t *row)
{
    (void)row;
    if (strcmp(table, "uk") == 0)
        (*(int *)arg)++;
    return 0;
}

static void test_rate_table_replace_and_delete(void **state)
{
    (void)state;
    int three = 3, two = 2, n = 0;
    assert_int_equal(db_rates_replace("uk", test_rate_rows_next, &three), 0);
    assert_int_equal(db_rates_replace("uk", test_rate_rows_next, &two), 0);
    assert_int_equal(db_rates_foreach(test_rate_rows_count, &n), 0);
    assert_int_equal(n, 2); /* replaced, not added */
    assert_int_equal(db_rates_delete("uk"), 0);
    assert_int_equal(db_rates_delete("uk"), GW_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_create_schema_and_user_version,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_sip_users_keep_ha1s_out_of_lists_and_change_in_place,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_is_idempotent_and_keeps_rows, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_connector_rejected_update_and_delete,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_insert_acknowledged_only_once_row_is_visible,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_acknowledges_each_insert_once,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_pending_messages_survive_restart, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_account_password_verify, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure_answers_estore_and_stores_nothing,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_failed_statement_answers_estore, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_failed_group_still_stores_state_updates, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_final_state_is_never_left, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_rules_write_list_and_conflicts, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_rate_table_replace_and_delete, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
