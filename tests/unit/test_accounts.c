/*
 * test_accounts.c - SMPP account checks for adapters (gateway/gw_accounts.c)
 * on the worker pool: the right password binds, every refusal (wrong
 * password, unknown system_id, peer outside allowed_nets) has the same
 * code and costs about as long, and a check the pool refuses never calls
 * back.  Also the network match itself.
 *
 * Each test opens a fresh database in its own mkdtemp folder and runs the
 * pool with two threads.
 *
 * Threads: cmocka's, and the pool's (the callbacks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "gateway/gw_accounts.h"
#include "gateway/gw_config.h"
#include "gateway/gw_errors.h"
#include "gateway/gw_work.h"

typedef struct test_answer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, rc;
    json_t *account;
} test_answer_t;

static char test_dir[64];

static void test_cb(int rc, json_t *account, void *arg)
{
    test_answer_t *a = arg;

    pthread_mutex_lock(&a->lock);
    a->rc = rc;
    a->account = account;
    a->done = 1;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

/* Verify on the pool and wait for the answer; returns its rc, and the
 * elapsed milliseconds in *ms when ms != NULL. */
static int test_verify(const char *id, const char *pw, const char *ip, double *ms)
{
    test_answer_t a = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL };
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(gw_account_verify_async(id, pw, ip, test_cb, &a), 0);
    pthread_mutex_lock(&a.lock);
    while (!a.done)
        pthread_cond_wait(&a.cond, &a.lock);
    pthread_mutex_unlock(&a.lock);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ms)
        *ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (a.rc == 0) {
        assert_non_null(a.account);
        assert_string_equal(json_string_value(json_object_get(a.account, "system_id")), id);
    } else {
        assert_null(a.account);
    }
    json_decref(a.account);
    return a.rc;
}

static int setup(void **state)
{
    char path[128];

    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/junction-test-acct-XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/junction.db", test_dir);
    gw_config.workers = 2;
    gw_config.work_queue = 16;
    if (db_open(path) != 0 || gw_work_start() != 0)
        return -1;
    if (gw_account_add("acme", "right", "", 0) != 0 ||
        gw_account_add("far", "right", "10.0.0.0/8", 0) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    gw_work_stop();
    db_close();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void the_right_password_binds_with_the_account_row(void **state)
{
    (void)state;
    assert_int_equal(test_verify("acme", "right", "127.0.0.1", NULL), 0);
}

static void every_refusal_has_one_code(void **state)
{
    (void)state;
    assert_int_equal(test_verify("acme", "wrong", "127.0.0.1", NULL), GW_EINVAL);
    assert_int_equal(test_verify("nobody", "right", "127.0.0.1", NULL), GW_EINVAL);
    assert_int_equal(test_verify("far", "right", "127.0.0.1", NULL), GW_EINVAL);
    assert_int_equal(test_verify("far", "right", "10.1.2.3", NULL), 0);
    assert_int_equal(gw_account_delete("acme"), 0);
    assert_int_equal(test_verify("acme", "right", "127.0.0.1", NULL), GW_EINVAL);
}

static void an_update_changes_only_the_given_fields(void **state)
{
    json_t *row = NULL;

    (void)state;
    assert_int_equal(gw_account_update("far", NULL, NULL, 7, -1), 0);
    assert_int_equal(gw_account_get("far", &row), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "throughput")), 7);
    assert_string_equal(json_string_value(json_object_get(row, "allowed_nets")), "10.0.0.0/8");
    assert_true(json_is_true(json_object_get(row, "enabled")));
    json_decref(row);
    assert_int_equal(test_verify("far", "right", "10.1.2.3", NULL), 0); /* password kept */
    assert_int_equal(gw_account_update("far", NULL, "", -1, -1), 0);
    assert_int_equal(test_verify("far", "right", "127.0.0.1", NULL), 0);
}

static void an_updated_password_replaces_the_old_one(void **state)
{
    (void)state;
    assert_int_equal(gw_account_update("acme", "new", NULL, -1, -1), 0);
    assert_int_equal(test_verify("acme", "new", "127.0.0.1", NULL), 0);
    assert_int_equal(test_verify("acme", "right", "127.0.0.1", NULL), GW_EINVAL);
    assert_int_equal(gw_account_update("acme", "", NULL, -1, -1), GW_EINVAL);
    assert_int_equal(test_verify("acme", "new", "127.0.0.1", NULL), 0);
}

static void a_disabled_account_is_refused_until_enabled(void **state)
{
    json_t *row = NULL;

    (void)state;
    assert_int_equal(gw_account_update("acme", NULL, NULL, -1, 0), 0);
    assert_int_equal(gw_account_get("acme", &row), 0);
    assert_false(json_is_true(json_object_get(row, "enabled")));
    json_decref(row);
    assert_int_equal(test_verify("acme", "right", "127.0.0.1", NULL), GW_EINVAL);
    assert_int_equal(gw_account_update("acme", NULL, NULL, -1, 1), 0);
    assert_int_equal(test_verify("acme", "right", "127.0.0.1", NULL), 0);
}

static void an_unknown_account_is_not_found(void **state)
{
    json_t *row = NULL;

    (void)state;
    assert_int_equal(gw_account_update("nobody", "x", NULL, 1, 1), GW_ENOTFOUND);
    assert_int_equal(gw_account_get("nobody", &row), GW_ENOTFOUND);
    assert_null(row);
}

/* An unknown system_id costs one argon2id verification like a wrong
 * password, so the time does not tell which ids exist.  The bound is
 * loose (a fraction) to stay true on a loaded machine; without the decoy
 * the unknown id answers in well under a millisecond. */
static void an_unknown_system_id_costs_as_long_as_a_wrong_password(void **state)
{
    double wrong = 1e9, unknown = 1e9, far = 1e9, ms;
    int i;

    (void)state;
    test_verify("nobody", "x", "127.0.0.1", NULL); /* the decoy is made once: not timed */
    for (i = 0; i < 3; i++) {
        test_verify("acme", "wrong", "127.0.0.1", &ms);
        wrong = ms < wrong ? ms : wrong;
        test_verify("nobody", "wrong", "127.0.0.1", &ms);
        unknown = ms < unknown ? ms : unknown;
        test_verify("far", "wrong", "127.0.0.1", &ms);
        far = ms < far ? ms : far;
    }
    assert_true(unknown > 0.3 * wrong);
    assert_true(far > 0.3 * wrong);
}

static void a_check_the_pool_refuses_never_calls_back(void **state)
{
    test_answer_t a = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL };

    (void)state;
    gw_work_stop();
    assert_int_equal(gw_account_verify_async("acme", "right", "127.0.0.1", test_cb, &a),
                     GW_ESTOPPED);
    assert_int_equal(a.done, 0);
}

static void allowed_nets_match_cidr_blocks(void **state)
{
    (void)state;
    assert_true(gw_net_allowed("", "192.0.2.1"));
    assert_true(gw_net_allowed(NULL, "192.0.2.1"));
    assert_true(gw_net_allowed("10.0.0.0/8, 192.0.2.0/24", "192.0.2.77"));
    assert_true(gw_net_allowed("192.0.2.7", "192.0.2.7"));
    assert_true(gw_net_allowed("0.0.0.0/0", "203.0.113.9"));
    assert_false(gw_net_allowed("10.0.0.0/8", "11.0.0.1"));
    assert_false(gw_net_allowed("192.0.2.7", "192.0.2.8"));
    assert_false(gw_net_allowed("garbage,10.0.0.0/33", "10.0.0.1"));
    assert_false(gw_net_allowed("10.0.0.0/8", "::1")); /* IPv6 peers match no IPv4 block */
    assert_true(gw_net_allowed("::1/128", "::1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_right_password_binds_with_the_account_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_refusal_has_one_code, setup, teardown),
        cmocka_unit_test_setup_teardown(an_update_changes_only_the_given_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(an_updated_password_replaces_the_old_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_disabled_account_is_refused_until_enabled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_unknown_account_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(an_unknown_system_id_costs_as_long_as_a_wrong_password,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_check_the_pool_refuses_never_calls_back, setup,
                                        teardown),
        cmocka_unit_test(allowed_nets_match_cidr_blocks),
    };
    return cmocka_run_group_tests_name("accounts", tests, NULL, NULL);
}
