/*
 * test_diag.c - the self-diagnosis' checks over made-up histories: a state
 * counts only once it has lasted, a count only past its threshold, and
 * the answer always lists the eight areas with the worst status on top.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gw_diag.h"
#include "gw_diag_int.h"
#include "gw_param.h"

static gw_diag_sample_t test_s[GW_DIAG_RING];
static gw_diag_view_t test_v;

/* n healthy samples one second apart, no SIP statistic, one SMPP client
 * "op1" bound with a window of 10. */
static void test_history(int n)
{
    memset(test_s, 0, sizeof test_s);
    for (int i = 0; i < n; i++) {
        gw_diag_sample_t *s = &test_s[i];
        s->at_ms = 1000000 + 1000 * (int64_t)i;
        s->commits = i;
        s->commit_us = 2000;
        s->sip_busy = s->sip_workers = -1;
        s->rss_kb = 10 * 1024;
        s->nfds = 40;
        s->fd_limit = 1024;
        s->disk_pct = 20;
        s->disk_free_mb = 1000;
        s->nconns = s->conns_total = 1;
        snprintf(s->conns[0].name, sizeof s->conns[0].name, "op1");
        snprintf(s->conns[0].state, sizeof s->conns[0].state, "bound");
        s->conns[0].kind = GW_DIAG_K_SMPP;
        s->conns[0].area = GW_DIAG_A_SMPP;
        s->conns[0].up = 1;
        s->conns[0].cap = 10;
        test_v.s[i] = s;
    }
    test_v.n = n;
}

/* The problems whose cause starts with prefix. */
static int test_count(const json_t *d, const char *prefix)
{
    const json_t *p;
    size_t i;
    int n = 0;

    json_array_foreach(json_object_get(d, "problems"), i, p)
        n += strncmp(json_string_value(json_object_get(p, "cause")), prefix, strlen(prefix)) == 0;
    return n;
}

static const char *test_area_status(const json_t *d, const char *area)
{
    const json_t *a;
    size_t i;

    json_array_foreach(json_object_get(d, "areas"), i, a)
        if (strcmp(json_string_value(json_object_get(a, "area")), area) == 0)
            return json_string_value(json_object_get(a, "status"));
    return NULL;
}

static int test_setup(void **state)
{
    (void)state;
    static int done;
    if (!done && gw_params_register(gw_diag_params) != 0)
        return -1;
    done = 1;
    /* the defaults, again: a test may have changed one */
    for (const gw_param_t *p = gw_diag_params; p->name; p++) {
        char err[128];
        if (gw_param_set(p, p->def, err, sizeof err) != 0)
            return -1;
    }
    return 0;
}

static void test_healthy_history_is_ok_with_every_area_in_order(void **state)
{
    static const char *const areas[] = { "sip_workers", "smpp_binds", "amqp_links", "store",
                                         "router", "memory", "fds", "disk" };
    (void)state;
    test_history(30);
    json_t *d = gw_diag_evaluate(&test_v);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "OK");
    assert_int_equal(json_array_size(json_object_get(d, "problems")), 0);
    assert_int_equal(json_array_size(json_object_get(d, "areas")), 8);
    for (size_t i = 0; i < 8; i++) {
        json_t *a = json_array_get(json_object_get(d, "areas"), i);
        assert_string_equal(json_string_value(json_object_get(a, "area")), areas[i]);
        assert_string_equal(json_string_value(json_object_get(a, "status")), "OK");
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(d, "areas"), 0), "detail")), "no data");
    json_decref(d);
}

static void test_one_slow_commit_is_no_problem_a_slow_median_is(void **state)
{
    (void)state;
    test_history(30);
    test_s[29].commit_us = 5000000; /* one 5 s commit in the last 10 s */
    json_t *d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "commits slow"), 0);
    json_decref(d);

    for (int i = 20; i < 30; i++)
        test_s[i].commit_us = 300000; /* 300 ms: past commit_warn_ms (200) */
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "commits slow: median 300 ms"), 1);
    assert_string_equal(test_area_status(d, "store"), "WARNING");
    assert_string_equal(json_string_value(json_object_get(d, "status")), "WARNING");
    json_decref(d);

    for (int i = 20; i < 30; i++)
        test_s[i].commit_us = 1500000; /* past commit_crit_ms (1000) */
    d = gw_diag_evaluate(&test_v);
    assert_string_equal(test_area_status(d, "store"), "CRITICAL");
    json_decref(d);
}

static void test_a_bind_is_down_only_after_down_s(void **state)
{
    (void)state;
    test_history(30);
    for (int i = 22; i < 30; i++) /* 7 s not bound: under down_s (10) */
        test_s[i].conns[0].up = 0;
    json_t *d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "bind down"), 0);
    json_decref(d);

    for (int i = 15; i < 30; i++)
        test_s[i].conns[0].up = 0;
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "bind down: not bound for 14s"), 1);
    assert_string_equal(test_area_status(d, "smpp_binds"), "CRITICAL");
    json_decref(d);

    test_s[29].conns[0].held = 1; /* an operator's unbind is no outage */
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "bind down"), 0);
    assert_int_equal(test_count(d, "bind held down by an operator"), 1);
    assert_string_equal(test_area_status(d, "smpp_binds"), "WARNING");
    json_decref(d);
}

static void test_a_draining_queue_is_not_growing(void **state)
{
    (void)state;
    test_history(30);
    for (int i = 10; i < 30; i++) /* up to 500, then down by 10 a second */
        test_s[i].conns[0].backlog = i < 20 ? (i - 9) * 50 : 500 - (i - 19) * 10;
    json_t *d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "queue growing"), 0);
    json_decref(d);

    for (int i = 20; i < 30; i++) /* still growing */
        test_s[i].conns[0].backlog = 500 + (i - 19) * 10;
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "queue growing: backlog 600, up 600"), 1);
    json_decref(d);
}

static void test_window_full_must_last_every_sample(void **state)
{
    (void)state;
    test_history(30);
    for (int i = 0; i < 30; i++)
        test_s[i].conns[0].inflight = 10;
    test_s[25].conns[0].inflight = 9; /* one breath in the last 10 s */
    json_t *d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "window always full"), 0);
    json_decref(d);

    test_s[25].conns[0].inflight = 10;
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "window always full: 10 of 10"), 1);
    json_decref(d);
}

static void test_counts_need_their_threshold_within_the_window(void **state)
{
    (void)state;
    test_history(120);
    for (int i = 0; i < 120; i++) /* 4 binds lost, but 3 of them over 60 s ago */
        test_s[i].conns[0].lost = i < 30 ? 0 : i < 50 ? 3 : 4;
    json_t *d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "bind flapping"), 0);
    json_decref(d);

    for (int i = 100; i < 120; i++)
        test_s[i].conns[0].lost = 7;
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "bind flapping: lost 3 times in the last 60s"), 1);
    json_decref(d);
}

static void test_sip_busy_is_averaged_and_graded(void **state)
{
    (void)state;
    test_history(30);
    for (int i = 0; i < 30; i++)
        test_s[i].sip_busy = 50;
    test_s[29].sip_busy = 100; /* one busy cycle */
    json_t *d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "SIP worker saturated"), 0);
    json_decref(d);

    for (int i = 18; i < 30; i++)
        test_s[i].sip_busy = 99;
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "SIP worker saturated: the busiest worker 99% busy"), 1);
    assert_string_equal(test_area_status(d, "sip_workers"), "CRITICAL");
    json_decref(d);
}

static void test_threshold_parameters_apply_at_once(void **state)
{
    char err[128];
    (void)state;
    test_history(30);
    json_t *d = gw_diag_evaluate(&test_v);
    assert_string_equal(test_area_status(d, "disk"), "OK");
    json_decref(d);
    assert_int_equal(gw_param_set(gw_param_find("diagnose.disk_warn_pct"), "20", err, sizeof err), 0);
    d = gw_diag_evaluate(&test_v);
    assert_int_equal(test_count(d, "disk nearly full: 20% used, 1000 MB free"), 1);
    assert_string_equal(test_area_status(d, "disk"), "WARNING");
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_healthy_history_is_ok_with_every_area_in_order, test_setup),
        cmocka_unit_test_setup(test_one_slow_commit_is_no_problem_a_slow_median_is, test_setup),
        cmocka_unit_test_setup(test_a_bind_is_down_only_after_down_s, test_setup),
        cmocka_unit_test_setup(test_a_draining_queue_is_not_growing, test_setup),
        cmocka_unit_test_setup(test_window_full_must_last_every_sample, test_setup),
        cmocka_unit_test_setup(test_counts_need_their_threshold_within_the_window, test_setup),
        cmocka_unit_test_setup(test_sip_busy_is_averaged_and_graded, test_setup),
        cmocka_unit_test_setup(test_threshold_parameters_apply_at_once, test_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
