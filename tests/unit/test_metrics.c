/*
 * test_metrics.c - the Prometheus exposition (gw_metrics.c) and the
 * registry's kinds and histograms (gw_stats.c): names, types, HELP,
 * labels and their escaping, families grouped whatever the order of the
 * samples, histogram buckets, _sum and _count, observing from threads.
 * The registry is the process's: each test uses names of its own.
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

#include "gateway/gw_stats.h"

/* The text of one scrape; the caller frees. */
static char *scrape(void)
{
    char *t = gw_stats_prometheus();
    assert_non_null(t);
    return t;
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void a_counter_is_typed_counter_and_ends_in_total(void **state)
{
    gw_stat_t *s = gw_stat("ut.sent", "things sent");
    char *t;

    (void)state;
    gw_stat_add(s, 3);
    t = scrape();
    assert_non_null(strstr(t, "# HELP junction_ut_sent_total things sent\n"
                              "# TYPE junction_ut_sent_total counter\n"
                              "junction_ut_sent_total 3\n"));
    free(t);
}

static void a_gauge_declared_after_a_counter_of_its_name_is_a_gauge(void **state)
{
    gw_stat_t *a = gw_stat("ut.depth", "queue depth");
    gw_stat_t *b = gw_stat_gauge("ut.depth", "queue depth");
    char *t;

    (void)state;
    assert_ptr_equal(a, b);
    gw_stat_set(b, 7);
    gw_stat_add(b, -2);
    t = scrape();
    assert_non_null(strstr(t, "# TYPE junction_ut_depth gauge\njunction_ut_depth 5\n"));
    assert_null(strstr(t, "junction_ut_depth_total"));
    free(t);
}

static void a_value_that_is_set_is_a_gauge_even_if_registered_as_a_counter(void **state)
{
    gw_stat_t *s = gw_stat("ut.workers_active", "workers running");
    char *t;

    (void)state;
    gw_stat_set(s, 3);
    t = scrape();
    assert_non_null(strstr(t, "# TYPE junction_ut_workers_active gauge\njunction_ut_workers_active 3\n"));
    assert_null(strstr(t, "junction_ut_workers_active_total"));
    free(t);
}

static void a_duration_in_an_abbreviated_unit_is_shown_in_seconds(void **state)
{
    gw_stat_t *s = gw_stat_gauge("ut.wait_us_last", "last wait");
    char *t;

    (void)state;
    gw_stat_set(s, 1500);
    gw_stat_set(gw_stat_gauge("ut.down_s", "down for"), 42);
    gw_stat_add(gw_stat("ut.busy_ms", "busy for"), 250);
    t = scrape();
    assert_non_null(strstr(t, "# TYPE junction_ut_wait_seconds_last gauge\n"
                              "junction_ut_wait_seconds_last 0.0015\n"));
    assert_non_null(strstr(t, "# TYPE junction_ut_down_seconds gauge\njunction_ut_down_seconds 42\n"));
    assert_non_null(strstr(t, "junction_ut_busy_seconds_total 0.25\n"));
    /* "us" only as a whole part: "users" stays */
    gw_stat("ut.users", "users");
    free(t);
    t = scrape();
    assert_non_null(strstr(t, "junction_ut_users_total 0\n"));
    free(t);
}

static void histogram_buckets_are_inclusive_cumulative_and_agree_with_count(void **state)
{
    gw_hist_t *h = gw_hist("ut.lat_seconds", "a latency");
    char *t;

    (void)state;
    gw_hist_observe_us(h, 100);      /* on the first bound: in le=0.0001 */
    gw_hist_observe_us(h, 101);      /* just above: le=0.00025 */
    gw_hist_observe_us(h, 3000);     /* le=0.005 */
    gw_hist_observe_us(h, 60000000); /* past the last bound: +Inf only */
    gw_hist_observe_us(h, -5);       /* a clock step back counts as 0 */
    t = scrape();
    assert_non_null(strstr(t, "# HELP junction_ut_lat_seconds a latency\n"
                              "# TYPE junction_ut_lat_seconds histogram\n"
                              "junction_ut_lat_seconds_bucket{le=\"0.0001\"} 2\n"
                              "junction_ut_lat_seconds_bucket{le=\"0.00025\"} 3\n"
                              "junction_ut_lat_seconds_bucket{le=\"0.0005\"} 3\n"
                              "junction_ut_lat_seconds_bucket{le=\"0.001\"} 3\n"
                              "junction_ut_lat_seconds_bucket{le=\"0.0025\"} 3\n"
                              "junction_ut_lat_seconds_bucket{le=\"0.005\"} 4\n"));
    assert_non_null(strstr(t, "junction_ut_lat_seconds_bucket{le=\"10\"} 4\n"
                              "junction_ut_lat_seconds_bucket{le=\"+Inf\"} 5\n"
                              "junction_ut_lat_seconds_sum 60.003201\n"
                              "junction_ut_lat_seconds_count 5\n"));
    assert_int_equal(count_of(t, "junction_ut_lat_seconds_bucket{"), GW_HIST_BUCKETS + 1);
    free(t);
}

/* Two collectors write samples of one family, interleaved with another. */
static void ut_collector_a(gw_metrics_t *m, void *arg)
{
    (void)arg;
    gw_metrics_value(m, "ut.conn_sent", GW_STAT_COUNTER, "sent per connector",
                     (const char *[]){ "connector", "smsc\"1\\\n", NULL }, 4);
    gw_metrics_value(m, "ut.conn_up", GW_STAT_GAUGE, "up per connector",
                     (const char *[]){ "connector", "a", "bind", "0", NULL }, 1);
}

static void ut_collector_b(gw_metrics_t *m, void *arg)
{
    static gw_hist_t h;

    (void)arg;
    gw_metrics_value(m, "ut.conn_sent", GW_STAT_COUNTER, "sent per connector",
                     (const char *[]){ "connector", "b", NULL }, 2);
    gw_hist_observe_us(&h, 2000);
    gw_metrics_hist(m, "ut.conn_seconds", "per connector latency",
                    (const char *[]){ "connector", "b", NULL }, &h);
    /* the same family as another kind: dropped, not a second TYPE */
    gw_metrics_value(m, "ut.conn_seconds", GW_STAT_GAUGE, "wrong", NULL, 9);
}

static void collector_samples_are_labelled_escaped_and_grouped_per_family(void **state)
{
    static int once;
    char *t, *a, *b, *type;

    (void)state;
    if (!once++) {
        assert_int_equal(gw_metrics_collector(ut_collector_a, NULL), 0);
        assert_int_equal(gw_metrics_collector(ut_collector_b, NULL), 0);
    }
    t = scrape();
    assert_int_equal(count_of(t, "# TYPE junction_ut_conn_sent_total counter\n"), 1);
    assert_int_equal(count_of(t, "# TYPE junction_ut_conn_up gauge\n"), 1);
    assert_int_equal(count_of(t, "junction_ut_conn_up"), 3); /* HELP, TYPE, one sample */
    type = strstr(t, "# TYPE junction_ut_conn_sent_total counter\n");
    a = strstr(t, "junction_ut_conn_sent_total{connector=\"smsc\\\"1\\\\\\n\"} 4\n");
    b = strstr(t, "junction_ut_conn_sent_total{connector=\"b\"} 2\n");
    assert_non_null(type);
    assert_non_null(a);
    assert_non_null(b);
    /* both right under their TYPE line, one group */
    assert_ptr_equal(a, strchr(type, '\n') + 1);
    assert_ptr_equal(b, strchr(a, '\n') + 1);
    assert_non_null(strstr(t, "junction_ut_conn_up{connector=\"a\",bind=\"0\"} 1\n"));
    assert_non_null(strstr(t, "junction_ut_conn_seconds_bucket{connector=\"b\",le=\"0.0025\"} "));
    assert_non_null(strstr(t, "junction_ut_conn_seconds_count{connector=\"b\"} "));
    assert_int_equal(count_of(t, "# TYPE junction_ut_conn_seconds "), 1);
    assert_null(strstr(t, "junction_ut_conn_seconds 9"));
    free(t);
}

static void help_text_is_escaped(void **state)
{
    char *t;

    (void)state;
    gw_stat("ut.odd", "a back\\slash and a\nnewline");
    t = scrape();
    assert_non_null(strstr(t, "# HELP junction_ut_odd_total a back\\\\slash and a\\nnewline\n"));
    free(t);
}

#define UT_THREADS 4
#define UT_EACH 20000

static void *ut_observer(void *arg)
{
    for (int i = 0; i < UT_EACH; i++)
        gw_hist_observe_us(arg, i % 3 == 0 ? 50 : 700);
    return NULL;
}

static void observations_from_many_threads_are_all_counted(void **state)
{
    static gw_hist_t h;
    pthread_t th[UT_THREADS];
    uint64_t total = 0;

    (void)state;
    for (int i = 0; i < UT_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ut_observer, &h), 0);
    for (int i = 0; i < UT_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i <= GW_HIST_BUCKETS; i++)
        total += h.counts[i];
    assert_int_equal(total, UT_THREADS * UT_EACH);
    assert_int_equal(h.counts[0], UT_THREADS * ((UT_EACH + 2) / 3));
    assert_int_equal(h.sum_us, (uint64_t)UT_THREADS * (50 * ((UT_EACH + 2) / 3) +
                                                       700 * (UT_EACH - (UT_EACH + 2) / 3)));
}

static void every_line_is_a_comment_or_a_valid_sample(void **state)
{
    char *t = scrape(), *line, *save = NULL;

    (void)state;
    for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        /* name: [a-zA-Z_][a-zA-Z0-9_]*, starting junction_ */
        assert_int_equal(strncmp(line, "junction_", 9), 0);
        size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        assert_true(line[n] == ' ' || line[n] == '{');
    }
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_counter_is_typed_counter_and_ends_in_total),
        cmocka_unit_test(a_gauge_declared_after_a_counter_of_its_name_is_a_gauge),
        cmocka_unit_test(a_value_that_is_set_is_a_gauge_even_if_registered_as_a_counter),
        cmocka_unit_test(a_duration_in_an_abbreviated_unit_is_shown_in_seconds),
        cmocka_unit_test(histogram_buckets_are_inclusive_cumulative_and_agree_with_count),
        cmocka_unit_test(collector_samples_are_labelled_escaped_and_grouped_per_family),
        cmocka_unit_test(help_text_is_escaped),
        cmocka_unit_test(observations_from_many_threads_are_all_counted),
        cmocka_unit_test(every_line_is_a_comment_or_a_valid_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
