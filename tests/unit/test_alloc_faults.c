/*
 * test_alloc_faults.c - allocation failures injected in the envelope,
 * delivery, router and writer paths are handled.
 *
 * The binary is linked with --wrap=malloc,calloc,realloc,strdup,free
 * (tests/module.mk), and jansson is pointed at the same wrappers
 * (json_set_alloc_funcs), so every allocation our code or jansson makes
 * goes through tf_alloc.  A thread that opens a window (tf_begin) has its
 * allocations counted, the Nth one made to fail when asked, and every
 * pointer it got remembered in tf_live until freed (by any thread).  Each
 * test first runs its operation once without injection to count the
 * allocations it makes (n), then again for every N in 1..n with the Nth
 * failing: the operation must report an error (never crash, never report
 * success with a wrong result) and leave no allocation of its own behind;
 * finally it must succeed again with nothing injected.
 *
 * Not covered, on purpose: SQLite's, PCRE2's and libc's own allocations
 * (shared libraries are not wrapped), and the writer thread, which never
 * opens a window: injection is limited to the calling thread.
 *
 * Threads: cmocka's; the writer thread in the writer tests (it frees jobs
 * made in a window, which tf_free accounts for).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "gw_addr.h"
#include "gw_delivery.h"
#include "gw_envelope.h"
#include "gw_errors.h"
#include "router/rt_engine.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void __real_free(void *p);

/* ---- the injector ------------------------------------------------------ */

#define TF_LIVE_MAX 4096
#define TF_WRONG 99 /* an operation "succeeded" with a wrong result */

static __thread int tf_on;      /* this thread's window is open */
static __thread long tf_count;  /* allocations made in the window */
static __thread long tf_fail_at;/* 1-based index of the one to fail; 0 none */
static __thread int tf_failed;  /* the injected failure happened */
static int tf_damaged;          /* json_loads returned a tree despite a failure */

/* Pointers handed out in a window and not freed yet; tf_lock guards
 * them, since the writer thread frees jobs made on the test's thread. */
static pthread_mutex_t tf_lock = PTHREAD_MUTEX_INITIALIZER;
static void *tf_live[TF_LIVE_MAX];
static int tf_nlive;     /* guarded by tf_lock */
static int tf_overflow;  /* guarded by tf_lock */

static void tf_remember(void *p)
{
    pthread_mutex_lock(&tf_lock);
    if (tf_nlive < TF_LIVE_MAX)
        tf_live[tf_nlive++] = p;
    else
        tf_overflow = 1;
    pthread_mutex_unlock(&tf_lock);
}

/* Forget p; 1 when it was one of the window's. */
static int tf_forget(void *p)
{
    int found = 0;

    if (p == NULL || __atomic_load_n(&tf_nlive, __ATOMIC_RELAXED) == 0)
        return 0;
    pthread_mutex_lock(&tf_lock);
    for (int i = tf_nlive - 1; i >= 0; i--)
        if (tf_live[i] == p) {
            tf_live[i] = tf_live[--tf_nlive];
            found = 1;
            break;
        }
    pthread_mutex_unlock(&tf_lock);
    return found;
}

static int tf_live_count(void)
{
    pthread_mutex_lock(&tf_lock);
    int n = tf_nlive;
    pthread_mutex_unlock(&tf_lock);
    return n;
}

/* 1 when this allocation must fail. */
static int tf_inject(void)
{
    if (!tf_on)
        return 0;
    tf_count++;
    if (tf_count == tf_fail_at) {
        tf_failed = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    if (tf_inject())
        return NULL;
    void *p = __real_malloc(n);
    if (tf_on && p != NULL)
        tf_remember(p);
    return p;
}

void *__wrap_calloc(size_t n, size_t m)
{
    if (tf_inject())
        return NULL;
    void *p = __real_calloc(n, m);
    if (tf_on && p != NULL)
        tf_remember(p);
    return p;
}

void *__wrap_realloc(void *old, size_t n)
{
    if (tf_inject())
        return NULL;
    int ours = tf_forget(old);
    void *p = __real_realloc(old, n);
    if (p == NULL && ours)
        tf_remember(old); /* a failed realloc keeps the old block */
    else if (p != NULL && (ours || (old == NULL && tf_on)))
        tf_remember(p);
    return p;
}

char *__wrap_strdup(const char *s)
{
    if (tf_inject())
        return NULL;
    char *p = __real_strdup(s);
    if (tf_on && p != NULL)
        tf_remember(p);
    return p;
}

void __wrap_free(void *p)
{
    tf_forget(p);
    __real_free(p);
}

static void *tf_json_malloc(size_t n)
{
    return __wrap_malloc(n);
}

static void tf_json_free(void *p)
{
    __wrap_free(p);
}

/* Open this thread's window, failing allocation fail_at (0: none). */
static void tf_begin(long fail_at)
{
    tf_count = 0;
    tf_fail_at = fail_at;
    tf_failed = 0;
    tf_on = 1;
}

/* Close the window; the number of allocations it saw. */
static long tf_end(void)
{
    tf_on = 0;
    return tf_count;
}

typedef int (*tf_op_t)(void *arg);

/* Run op clean to count its allocations, then once per allocation with
 * that one failing, then clean again.  op must release everything it made
 * before returning (success or not).  Returns the count. */
static long tf_every_allocation(const char *what, tf_op_t op, void *arg)
{
    tf_begin(0);
    int rc = op(arg);
    long n = tf_end();
    assert_int_equal(rc, 0);
    assert_int_equal(tf_live_count(), 0);
    assert_true(n >= 1); /* a test that injects nothing proves nothing */
    for (long i = 1; i <= n; i++) {
        tf_begin(i);
        rc = op(arg);
        tf_end();
        if (!tf_failed || rc >= 0 || tf_live_count() != 0)
            print_error("%s: allocation %ld of %ld failing: rc %d, %d block(s) left\n", what, i,
                        n, rc, tf_live_count());
        assert_true(tf_failed);
        assert_true(rc < 0); /* an error, not a success with a wrong result */
        assert_int_equal(tf_live_count(), 0);
    }
    tf_begin(0);
    rc = op(arg);
    tf_end();
    assert_int_equal(rc, 0);
    assert_int_equal(tf_live_count(), 0);
    assert_false(tf_overflow);
    print_message("%s: %ld allocation(s), each failed in turn\n", what, n);
    return n;
}

/* ---- envelope ------------------------------------------------------------ */

/* Build an envelope, write its text, read it back; check the copy. */
static int tf_op_envelope(void *arg)
{
    int binary = arg != NULL;
    int rc = GW_ENOMEM;
    char *text = NULL;
    json_t *j = NULL;
    gw_envelope_t *back = NULL;
    const char *err = NULL;
    static const char body[] = "h\xc3\xa9llo \x00 world";
    gw_envelope_t *env = gw_env_new();

    if (env == NULL)
        return GW_ENOMEM;
    if (gw_env_set_str(&env->source.adapter, "smpp", (size_t)-1) < 0 ||
        gw_env_set_str(&env->source.connector, "esme1", (size_t)-1) < 0 ||
        gw_env_set_str(&env->corr.smpp_message_id, "abc123", (size_t)-1) < 0 ||
        gw_env_set_str(&env->body, body, sizeof body - 1) < 0 ||
        gw_env_set_tag(env, "campaign", "spring") < 0 || gw_env_set_tag(env, "lang", "fr") < 0 ||
        gw_addr_normalise(&env->from, "+33612345678", GW_ADDR_TON_NONE, 0) < 0 ||
        gw_addr_normalise(&env->to, "004915112345678", GW_ADDR_TON_NONE, 0) < 0)
        goto out;
    env->body_len = sizeof body - 1;
    if (binary) {
        env->binary = 1;
        if (gw_env_set_str(&env->content_type, "application/octet-stream", (size_t)-1) < 0)
            goto out;
    }
    text = gw_env_to_text(env);
    if (text == NULL)
        goto out;
    int hit_before = tf_failed;
    j = json_loads(text, JSON_ALLOW_NUL, NULL);
    if (j == NULL)
        goto out;
    /* jansson 2.14's lexer ignores a failed append to its token buffer
     * (load.c, lex_save), so json_loads can return a damaged tree (a key
     * cut short) instead of NULL: jansson's business.  What is ours:
     * gw_env_from_json must refuse or read it without crash or leak. */
    int damaged = !hit_before && tf_failed;
    tf_damaged += damaged;
    back = gw_env_from_json(j, &err);
    if (back == NULL) {
        /* for this valid text the only other refusal is the lack of memory */
        rc = damaged || (err != NULL && strcmp(err, "out of memory") == 0) ? GW_ENOMEM : TF_WRONG;
        if (rc == TF_WRONG)
            print_error("gw_env_from_json refused: %s\n", err);
        goto out;
    }
    rc = damaged ? GW_ENOMEM : strcmp(back->id, env->id) == 0 && back->body_len == env->body_len &&
                 memcmp(back->body, env->body, env->body_len) == 0 &&
                 back->binary == binary && strcmp(back->from.address, "33612345678") == 0 &&
                 strcmp(back->to.address, "4915112345678") == 0 &&
                 strcmp(back->corr.smpp_message_id, "abc123") == 0 &&
                 json_object_size(back->tags) == 2 &&
                 strcmp(json_string_value(json_object_get(back->tags, "campaign")), "spring") == 0
             ? 0
             : TF_WRONG;
out:
    gw_env_unref(back);
    json_decref(j);
    free(text);
    gw_env_unref(env);
    return rc;
}

static void test_envelope_build_and_json_round_trip_fail_cleanly_at_every_allocation(void **state)
{
    (void)state;
    tf_damaged = 0;
    tf_every_allocation("envelope (text body)", tf_op_envelope, NULL);
    print_message("envelope (text body): json_loads returned a damaged tree %d time(s)\n",
                  tf_damaged);
}

static void test_envelope_binary_body_round_trip_fails_cleanly_at_every_allocation(void **state)
{
    static int binary = 1;
    (void)state;
    tf_every_allocation("envelope (binary body)", tf_op_envelope, &binary);
}

/* ---- delivery ------------------------------------------------------------ */

static int tf_op_delivery(void *arg)
{
    gw_envelope_t *env = arg;
    gw_delivery_t *d = gw_dlv_new(env);

    if (d == NULL)
        return GW_ENOMEM;
    int rc = gw_dlv_plan_set(d, "default", "smsc1, smsc2,smsc3");
    if (rc == 0 && (d->ntargets != 3 || strcmp(gw_dlv_target(d), "smsc1") != 0 ||
                    d->strategy != GW_STRAT_FAILOVER))
        rc = TF_WRONG;
    gw_dlv_free(d);
    return rc;
}

static void test_delivery_new_and_plan_fail_cleanly_at_every_allocation(void **state)
{
    (void)state;
    gw_envelope_t *env = gw_env_new();
    assert_non_null(env);
    tf_every_allocation("delivery", tf_op_delivery, env);
    assert_int_equal(env->refs, 1); /* every failed attempt gave its reference back */
    gw_env_unref(env);
}

/* ---- store: db_open, db_writer_start, the writer's calls ----------------- */

typedef struct tf_db {
    char dir[64];
    char path[128];
} tf_db_t;

static int tf_db_setup(void **state)
{
    tf_db_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/junction-test-faults-XXXXXX");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    snprintf(t->path, sizeof t->path, "%s/var/junction.db", t->dir);
    *state = t;
    return 0;
}

static int tf_db_teardown(void **state)
{
    tf_db_t *t = *state;
    char cmd[160];
    db_close();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static int tf_op_db_open(void *arg)
{
    tf_db_t *t = arg;
    int rc = db_open(t->path);
    if (rc == 0) {
        rc = db_schema_version() > 0 ? 0 : TF_WRONG;
        db_close();
    }
    return rc;
}

static void test_db_open_fails_cleanly_at_every_allocation(void **state)
{
    tf_every_allocation("db_open", tf_op_db_open, *state);
}

static int tf_op_writer_start(void *arg)
{
    (void)arg;
    int rc = db_writer_start();
    tf_on = 0; /* stopping is not under test: it retries its one push */
    if (rc == 0)
        db_writer_stop();
    return rc;
}

static void test_writer_start_fails_cleanly_at_every_allocation(void **state)
{
    tf_db_t *t = *state;
    assert_int_equal(db_open(t->path), 0);
    tf_every_allocation("db_writer_start", tf_op_writer_start, NULL);
}

/* Callback counters of the writer test (written on the writer thread,
 * read after db_writer_flush). */
static int tf_commit_calls, tf_commit_rc = -1000, tf_receipt_calls, tf_sweep_calls;

static void tf_commit_cb(void *arg, int rc, int64_t qseq)
{
    (void)arg;
    (void)qseq;
    tf_commit_calls++;
    tf_commit_rc = rc;
}

static void tf_receipt_cb(void *arg, int rc, const char *id)
{
    (void)arg;
    (void)id;
    (void)rc;
    tf_receipt_calls++;
}

static void tf_sweep_cb(void *arg, int n)
{
    (void)arg;
    (void)n;
    tf_sweep_calls++;
}

typedef struct tf_call {
    int kind; /* 0 insert, 1 update, 2 receipt, 3 expire sweep, 4 purge sweep */
    gw_delivery_t *d;
    gw_evbatch_t ev;
} tf_call_t;

/* One writer call under the window.  No allocation is released here:
 * on success the writer thread frees the job (after flush). */
static long tf_writer_call(tf_call_t *c, long fail_at, int *rc)
{
    tf_begin(fail_at);
    switch (c->kind) {
    case 0:
        *rc = db_dlv_insert(c->d, c->d->env_json, &c->ev, tf_commit_cb, NULL);
        break;
    case 1:
        *rc = db_dlv_update(c->d, &c->ev, tf_commit_cb, NULL);
        break;
    case 2:
        *rc = db_receipt_apply("smsc1", "remote-1", NULL, GW_ST_DELIVERED, 0, "DELIVRD", tf_receipt_cb,
                               NULL);
        break;
    case 3:
        *rc = db_sweep(DB_SWEEP_EXPIRE_QUEUED, "smsc1", 0, gw_now_ms(), 0, 10, tf_sweep_cb, NULL);
        break;
    default:
        *rc = db_sweep(DB_SWEEP_PURGE, NULL, 0, 0, 1, 10, tf_sweep_cb, NULL);
        break;
    }
    return tf_end();
}

/* One event of the caller's in ev (its text malloc'd outside any window). */
static char *tf_give_event(gw_evbatch_t *ev)
{
    char *text = strdup("{\"event\":\"message.test\"}");
    assert_non_null(text);
    ev->n = 1;
    ev->types[0] = "message.test";
    ev->texts[0] = text;
    return text;
}

static int tf_calls_total(void)
{
    return tf_commit_calls + tf_receipt_calls + tf_sweep_calls;
}

/* A call of the writer's that fails for want of memory on the calling
 * thread returns GW_ENOMEM, queues nothing, never runs its callback and
 * leaves the caller's events with the caller; the same call then goes
 * through. */
static void test_writer_calls_refused_for_memory_queue_nothing_and_then_commit(void **state)
{
    tf_db_t *t = *state;
    static const char *const names[] = {"db_dlv_insert", "db_dlv_update", "db_receipt_apply",
                                        "db_sweep expire", "db_sweep purge"};
    assert_int_equal(db_open(t->path), 0);
    assert_int_equal(db_writer_start(), 0);

    gw_envelope_t *env = gw_env_new();
    assert_non_null(env);
    assert_int_equal(gw_env_set_str(&env->from.address, "100", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->to.address, "200", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&env->body, "x", (size_t)-1), 0);
    env->body_len = 1;
    gw_delivery_t *d = gw_dlv_new(env);
    gw_env_unref(env);
    assert_non_null(d);
    assert_int_equal(gw_dlv_plan_set(d, "r", "smsc1"), 0);
    d->status = GW_ST_QUEUED;
    d->env_json = gw_env_to_text(d->env);
    assert_non_null(d->env_json);

    for (int kind = 0; kind <= 4; kind++) {
        tf_call_t c = {.kind = kind, .d = d};
        char *text = tf_give_event(&c.ev);
        if (kind == 1) { /* an update to submitted with a remote id */
            d->status = GW_ST_SUBMITTED;
            snprintf(d->remote_id, sizeof d->remote_id, "remote-1");
        }
        int rc;
        long n = tf_writer_call(&c, 0, &rc);
        assert_int_equal(rc, 0);
        db_writer_flush();
        assert_int_equal(tf_live_count(), 0); /* the writer freed the job */
        assert_true(n >= 1);
        int calls = tf_calls_total();
        for (long i = 1; i <= n; i++) {
            if (c.ev.n == 0) /* taken by the successful call: give it another */
                text = tf_give_event(&c.ev);
            tf_writer_call(&c, i, &rc);
            assert_true(tf_failed);
            assert_int_equal(rc, GW_ENOMEM);
            assert_int_equal(db_writer_backlog(), 0);
            assert_int_equal(tf_live_count(), 0);
            if (kind <= 1) { /* the events stay the caller's */
                assert_int_equal(c.ev.n, 1);
                assert_ptr_equal(c.ev.texts[0], text);
            }
            db_writer_flush();
            assert_int_equal(tf_calls_total(), calls); /* no callback ran */
        }
        if (c.ev.n == 0)
            tf_give_event(&c.ev);
        tf_writer_call(&c, 0, &rc);
        assert_int_equal(rc, 0);
        db_writer_flush();
        assert_int_equal(tf_calls_total(), calls + 1);
        assert_int_equal(tf_live_count(), 0);
        gw_evbatch_clear(&c.ev);
        print_message("%s: %ld allocation(s) on the calling thread, each failed in turn\n",
                      names[kind], n);
    }
    /* everything that went through committed: the insert (twice, the
     * second a no-op by id) and its updates */
    assert_int_equal(tf_commit_rc, 0);
    json_t *row = db_msg_get(d->env->id);
    assert_non_null(row);
    assert_string_equal(json_string_value(json_object_get(row, "status")), "delivered");
    json_decref(row);
    /* delivered by the receipt: the row waits for no receipt any more */
    assert_null(db_receipt_lookup("smsc1", "remote-1"));
    db_writer_stop();
    gw_dlv_free(d);
}

/* ---- the compiled rule engine ------------------------------------------ */

/* Every kind of thing rt_compile builds: strings and lists in the arena,
 * zones, trie nodes, round-robin states, buckets, the error array. */
static const char tf_rt_rules[] =
    "[{\"id\":1,\"priority\":1,\"source\":{\"connector\":[\"sip0\",\"smpp0\"],"
    "\"smpp_account\":\"acme\"},\"action\":{\"drop\":true}},"
    "{\"id\":2,\"priority\":2,\"filters\":{\"dst\":{\"prefix\":[\"49\",\"4915\"],"
    "\"regex\":\"^49[0-9]+$\"},\"tags\":{\"tier\":\"gold\",\"x\":true},"
    "\"time\":{\"tz\":\"Europe/Berlin\",\"windows\":[{\"days\":\"mon-fri\","
    "\"from\":\"08:00\",\"to\":\"18:00\"}]},\"coding\":[\"gsm\"]},"
    "\"action\":{\"reject\":{\"reason\":\"no\"}}},"
    "{\"id\":3,\"priority\":3,\"filters\":{\"dst\":{\"prefix\":\"4915\"}},"
    "\"action\":{\"route\":{\"strategy\":\"round_robin\",\"targets\":[\"smsc-de\"]},"
    "\"rewrite\":{\"src\":{\"alnum\":\"ACME\"},\"dst\":{\"strip\":2,\"prefix\":\"0\"}},"
    "\"set\":{\"tags\":{\"k\":\"v\"}},\"mirror\":{\"exchange\":\"audit\"},"
    "\"rate_limit\":{\"rate\":100}}}]";

/* Compile tf_rt_rules and decide one query: rt_compile must answer NULL
 * (with no errors or the one "out of memory") or a set that decides
 * right. */
static int tf_op_rt_compile(void *arg)
{
    json_t *errs = NULL;
    rt_set_t *s = rt_compile(arg, NULL, &errs);
    rt_query_t q;
    rt_decision_t d;
    int rc;

    if (s == NULL) {
        const char *msg = json_string_value(json_object_get(json_array_get(errs, 0), "message"));
        rc = errs == NULL || (json_array_size(errs) == 1 && msg != NULL &&
                              strcmp(msg, "out of memory") == 0) ? GW_ENOMEM : TF_WRONG;
        json_decref(errs);
        return rc;
    }
    memset(&q, 0, sizeof q);
    q.source.connector = "sip0";
    q.from.address = "33612345678";
    q.to.address = "4915112345678";
    q.now = 1774864800;
    q.now_us = 1;
    rc = errs == NULL && rt_decide(s, &q, &d) == RT_ROUTE &&
                 strcmp(d.targets[0].connector, "smsc-de") == 0 &&
                 strcmp(d.to.address, "015112345678") == 0 ? 0 : TF_WRONG;
    rt_set_unref(s);
    return rc;
}

static void test_rule_set_compile_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    json_t *rules = json_loads(tf_rt_rules, 0, NULL);
    assert_non_null(rules);
    /* this thread's PCRE2 match data, made outside the window: it lives
     * as long as the thread */
    rt_set_t *warm = rt_compile(rules, NULL, NULL);
    rt_query_t q;
    rt_decision_t d;
    memset(&q, 0, sizeof q);
    q.to.address = "49";
    assert_non_null(warm);
    rt_decide(warm, &q, &d);
    rt_set_unref(warm);
    tf_every_allocation("rule set compile", tf_op_rt_compile, rules);
    json_decref(rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_build_and_json_round_trip_fail_cleanly_at_every_allocation),
        cmocka_unit_test(test_envelope_binary_body_round_trip_fails_cleanly_at_every_allocation),
        cmocka_unit_test(test_delivery_new_and_plan_fail_cleanly_at_every_allocation),
        cmocka_unit_test(test_rule_set_compile_fails_cleanly_at_every_allocation),
        cmocka_unit_test_setup_teardown(test_db_open_fails_cleanly_at_every_allocation,
                                        tf_db_setup, tf_db_teardown),
        cmocka_unit_test_setup_teardown(test_writer_start_fails_cleanly_at_every_allocation,
                                        tf_db_setup, tf_db_teardown),
        cmocka_unit_test_setup_teardown(
            test_writer_calls_refused_for_memory_queue_nothing_and_then_commit, tf_db_setup,
            tf_db_teardown),
    };
    /* jansson allocates through the same counting wrappers */
    json_set_alloc_funcs(tf_json_malloc, tf_json_free);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
