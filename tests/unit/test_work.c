/*
 * test_work.c - the worker pool (gateway/gw_work.c): every job runs once
 * (in no particular order), jobs queued before a stop still run, a submit
 * after the stop is refused and its job never runs, and the bound on
 * queued jobs answers GW_EFULL; with core.workers_max the pool grows while
 * jobs wait and shrinks back after core.workers_idle_s.
 *
 * Threads: cmocka's, the pool's, and one helper thread in the stop test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gw_config.h"
#include "gateway/gw_errors.h"
#include "gateway/gw_param.h"
#include "gateway/gw_stats.h"
#include "gateway/gw_work.h"

#define TEST_JOBS 200

static int ran[TEST_JOBS]; /* atomic counters, one per job */
static int nran;           /* atomic */

static void count_job(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&nran, 1, __ATOMIC_SEQ_CST);
}

/* A job that holds its pool thread until the test opens the gate. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;

static void gate_job(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void gate_wait_entered(void)
{
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static int setup(void **state)
{
    (void)state;
    memset(ran, 0, sizeof(ran));
    nran = 0;
    gate_open = gate_entered = 0;
    gw_config.workers = 2;
    gw_config.work_queue = 1000;
    return 0;
}

static void every_job_runs_exactly_once_in_any_order(void **state)
{
    int i;

    (void)state;
    gw_config.workers = 4;
    assert_int_equal(gw_work_start(), 0);
    for (i = 0; i < TEST_JOBS; i++)
        assert_int_equal(gw_work_submit(count_job, &ran[i]), 0);
    gw_work_stop();
    assert_int_equal(nran, TEST_JOBS);
    for (i = 0; i < TEST_JOBS; i++)
        assert_int_equal(ran[i], 1);
}

static void a_submit_after_stop_fails_and_its_job_never_runs(void **state)
{
    (void)state;
    assert_int_equal(gw_work_submit(count_job, &ran[0]), GW_ESTOPPED); /* never started */
    assert_int_equal(gw_work_start(), 0);
    gw_work_stop();
    assert_int_equal(gw_work_submit(count_job, &ran[0]), GW_ESTOPPED);
    gw_work_stop(); /* twice is harmless */
    usleep(50 * 1000);
    assert_int_equal(nran, 0);
    assert_int_equal(ran[0], 0);
}

/* Submits until the pool says it is stopping, then opens the gate. */
static int helper_accepted;
static void *stop_helper(void *arg)
{
    int rc, i = 0;

    (void)arg;
    for (;;) {
        rc = gw_work_submit(count_job, &ran[(1 + i++) % TEST_JOBS]);
        if (rc == 0)
            helper_accepted++;
        else if (rc == GW_ESTOPPED)
            break;
        else
            usleep(1000); /* GW_EFULL: the stop is near */
    }
    gate_release();
    return NULL;
}

static void jobs_queued_before_stop_still_run(void **state)
{
    pthread_t helper;
    int i;

    (void)state;
    gw_config.workers = 1;
    helper_accepted = 0;
    assert_int_equal(gw_work_start(), 0);
    assert_int_equal(gw_work_submit(gate_job, NULL), 0);
    gate_wait_entered();
    for (i = 0; i < 5; i++)
        assert_int_equal(gw_work_submit(count_job, &ran[0]), 0);
    assert_int_equal(pthread_create(&helper, NULL, stop_helper, NULL), 0);
    gw_work_stop(); /* the helper opens the gate once this refuses work */
    pthread_join(helper, NULL);
    assert_int_equal(nran, 5 + helper_accepted);
}

static void a_full_queue_answers_efull_and_keeps_the_job_out(void **state)
{
    int i, refused = 0;

    (void)state;
    gw_config.workers = 1;
    gw_config.work_queue = 3;
    assert_int_equal(gw_work_start(), 0);
    assert_int_equal(gw_work_submit(gate_job, NULL), 0);
    gate_wait_entered(); /* the only thread is busy: the queue is empty */
    for (i = 0; i < 3; i++)
        assert_int_equal(gw_work_submit(count_job, &ran[i]), 0);
    assert_int_equal(gw_work_submit(count_job, &refused), GW_EFULL);
    gate_release();
    gw_work_stop();
    assert_int_equal(nran, 3);
    assert_int_equal(refused, 0);
}

/* A job that counts itself in, then holds its thread until the gate opens. */
static int held; /* atomic */
static void hold_job(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&held, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    __atomic_add_fetch(&nran, 1, __ATOMIC_SEQ_CST);
}

static void set_param(const char *name, const char *value)
{
    char err[128];
    assert_int_equal(gw_param_set(gw_param_find(name), value, err, sizeof err), 0);
}

/* Wait up to ms for the gauge work.threads to read want. */
static int threads_become(int64_t want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (gw_stat_get(gw_stat_find("work.threads")) == want)
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

static void the_pool_grows_while_jobs_wait_and_shrinks_when_idle(void **state)
{
    (void)state;
    gw_config.workers = 1;
    held = 0;
    set_param("core.workers_max", "3");
    set_param("core.workers_idle_s", "1");
    assert_int_equal(gw_work_start(), 0);
    assert_true(threads_become(1, 1000));
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_work_submit(hold_job, NULL), 0);
    /* three jobs held at once: three threads, one grown per waiting job */
    for (int i = 0; i < 300 && __atomic_load_n(&held, __ATOMIC_SEQ_CST) < 3; i++)
        usleep(10 * 1000);
    assert_int_equal(__atomic_load_n(&held, __ATOMIC_SEQ_CST), 3);
    assert_true(threads_become(3, 1000));
    assert_int_equal(gw_work_submit(hold_job, NULL), 0); /* a fourth waits: max is 3 */
    usleep(100 * 1000);
    assert_int_equal(gw_stat_get(gw_stat_find("work.threads")), 3);
    gate_release();
    /* idle for core.workers_idle_s: back to core.workers */
    assert_true(threads_become(1, 5000));
    gw_work_stop();
    assert_int_equal(nran, 4);
    set_param("core.workers_max", "0");
}

int main(void)
{
    gw_params_register(gw_work_params);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(every_job_runs_exactly_once_in_any_order, setup),
        cmocka_unit_test_setup(a_submit_after_stop_fails_and_its_job_never_runs, setup),
        cmocka_unit_test_setup(jobs_queued_before_stop_still_run, setup),
        cmocka_unit_test_setup(a_full_queue_answers_efull_and_keeps_the_job_out, setup),
        cmocka_unit_test_setup(the_pool_grows_while_jobs_wait_and_shrinks_when_idle, setup),
    };
    return cmocka_run_group_tests_name("work", tests, NULL, NULL);
}
