/*
 * test_delivery.c - the delivery record: the transition table (every edge,
 * allowed and refused), plans and their stored forms, the backoff bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/gw_delivery.h"
#include "gateway/gw_errors.h"

/* The life of a message, written out once more by hand: the table in
 * gw_delivery.c must agree with it edge for edge. */
static const struct {
    gw_status_t from, to;
} test_edges[] = {
    { GW_ST_RECEIVED, GW_ST_QUEUED },     { GW_ST_RECEIVED, GW_ST_REJECTED },
    { GW_ST_QUEUED, GW_ST_SENDING },      { GW_ST_QUEUED, GW_ST_EXPIRED },
    { GW_ST_QUEUED, GW_ST_FAILED },       { GW_ST_SENDING, GW_ST_SUBMITTED },
    { GW_ST_SENDING, GW_ST_DELIVERED },   { GW_ST_SENDING, GW_ST_QUEUED },
    { GW_ST_SENDING, GW_ST_FAILED },      { GW_ST_SENDING, GW_ST_EXPIRED },
    { GW_ST_SUBMITTED, GW_ST_DELIVERED }, { GW_ST_SUBMITTED, GW_ST_FAILED },
    { GW_ST_SUBMITTED, GW_ST_EXPIRED },
};

static int test_is_edge(gw_status_t from, gw_status_t to)
{
    for (size_t i = 0; i < sizeof test_edges / sizeof test_edges[0]; i++)
        if (test_edges[i].from == from && test_edges[i].to == to)
            return 1;
    return 0;
}

static void every_edge_of_the_table_is_allowed_and_every_other_refused(void **state)
{
    (void)state;
    for (int f = 0; f < GW_ST__COUNT; f++)
        for (int t = 0; t < GW_ST__COUNT; t++) {
            int want = test_is_edge((gw_status_t)f, (gw_status_t)t);
            if (gw_dlv_transition_ok((gw_status_t)f, (gw_status_t)t) != want)
                fail_msg("%s -> %s: table says %d, life says %d", gw_status_name((gw_status_t)f),
                         gw_status_name((gw_status_t)t), !want, want);
        }
    /* out of range is refused, not read past the table */
    assert_false(gw_dlv_transition_ok(GW_ST__COUNT, GW_ST_QUEUED));
    assert_false(gw_dlv_transition_ok(GW_ST_QUEUED, (gw_status_t)-1));
}

static void final_states_have_no_way_out(void **state)
{
    (void)state;
    for (int f = 0; f < GW_ST__COUNT; f++) {
        if (!gw_status_final((gw_status_t)f))
            continue;
        for (int t = 0; t < GW_ST__COUNT; t++)
            assert_false(gw_dlv_transition_ok((gw_status_t)f, (gw_status_t)t));
    }
    assert_true(gw_status_final(GW_ST_DELIVERED));
    assert_true(gw_status_final(GW_ST_REJECTED));
    assert_false(gw_status_final(GW_ST_SENDING));
    assert_false(gw_status_final(GW_ST_SUBMITTED));
}

static gw_delivery_t *test_dlv(void)
{
    gw_envelope_t *env = gw_env_new();
    gw_delivery_t *d = gw_dlv_new(env);
    gw_env_unref(env);
    assert_non_null(d);
    return d;
}

static void a_target_list_is_a_failover_plan_walked_in_order(void **state)
{
    gw_delivery_t *d = test_dlv();

    (void)state;
    assert_int_equal(gw_dlv_plan_set(d, "de", "smsc1"), GW_OK);
    assert_int_equal(d->strategy, GW_STRAT_SINGLE);
    assert_string_equal(gw_dlv_target(d), "smsc1");
    assert_int_equal(gw_dlv_next_target(d), 0);
    assert_int_equal(gw_dlv_plan_set(d, "de", "smsc1, smsc2 ,smsc3"), GW_OK);
    assert_int_equal(d->strategy, GW_STRAT_FAILOVER);
    assert_int_equal(d->ntargets, 3);
    assert_string_equal(gw_dlv_target(d), "smsc1");
    assert_int_equal(gw_dlv_next_target(d), 1);
    assert_string_equal(gw_dlv_target(d), "smsc2");
    assert_int_equal(gw_dlv_next_target(d), 1);
    assert_string_equal(gw_dlv_target(d), "smsc3");
    assert_int_equal(gw_dlv_next_target(d), 0);
    assert_string_equal(gw_dlv_target(d), "smsc3");
    gw_dlv_free(d);
}

static void a_bad_target_list_is_refused(void **state)
{
    gw_delivery_t *d = test_dlv();
    char long_name[GW_NAME_MAX + 8];

    (void)state;
    assert_int_equal(gw_dlv_plan_set(d, "r", ""), GW_EINVAL);
    assert_int_equal(gw_dlv_plan_set(d, "r", "a,,b"), GW_EINVAL);
    assert_int_equal(gw_dlv_plan_set(d, "r", "a,b,"), GW_EINVAL);
    assert_int_equal(gw_dlv_plan_set(d, "r", NULL), GW_EINVAL);
    assert_int_equal(gw_dlv_plan_set(d, "r", "a,b,c,d,e,f,g,h,i"), GW_EINVAL); /* 9 > 8 */
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(gw_dlv_plan_set(d, "r", long_name), GW_EINVAL);
    assert_int_equal(d->ntargets, 0);
    assert_string_equal(gw_dlv_target(d), "");
    gw_dlv_free(d);
}

static void plan_and_tries_survive_their_stored_form(void **state)
{
    gw_delivery_t *a = test_dlv(), *b = test_dlv();
    char plan[256], tries[64];

    (void)state;
    assert_int_equal(gw_dlv_plan_set(a, "r", "smsc1,smsc2"), GW_OK);
    a->tries[0] = 3;
    a->tries[1] = 1;
    assert_true(gw_dlv_plan_text(a, plan, sizeof plan) > 0);
    assert_string_equal(plan, "failover:smsc1,smsc2");
    assert_true(gw_dlv_tries_text(a, tries, sizeof tries) > 0);
    assert_string_equal(tries, "3,1");
    assert_int_equal(gw_dlv_plan_parse(b, plan), GW_OK);
    assert_int_equal(gw_dlv_tries_parse(b, tries), GW_OK);
    assert_int_equal(b->strategy, GW_STRAT_FAILOVER);
    assert_int_equal(b->ntargets, 2);
    assert_string_equal(b->targets[1], "smsc2");
    assert_int_equal(b->tries[0], 3);
    assert_int_equal(b->tries[1], 1);
    /* v1 rows carry "single:<target>" and one count */
    assert_int_equal(gw_dlv_plan_parse(b, "single:smsc9"), GW_OK);
    assert_int_equal(gw_dlv_tries_parse(b, "2"), GW_OK);
    assert_string_equal(gw_dlv_target(b), "smsc9");
    assert_int_equal(b->tries[0], 2);
    /* refused forms */
    assert_int_equal(gw_dlv_plan_parse(b, "smsc9"), GW_EINVAL);
    assert_int_equal(gw_dlv_plan_parse(b, "roundrobin:a"), GW_EINVAL);
    assert_int_equal(gw_dlv_tries_parse(b, "1,x"), GW_EINVAL);
    assert_int_equal(gw_dlv_tries_parse(b, "-1"), GW_EINVAL);
    /* too small a buffer is an error, not a cut text */
    assert_int_equal(gw_dlv_plan_text(a, plan, 8), GW_EINVAL);
    gw_dlv_free(a);
    gw_dlv_free(b);
}

static void backoff_doubles_is_capped_and_jitters_within_half(void **state)
{
    (void)state;
    /* attempt n: base * 2^(n-1) in [d/2, d] */
    for (int n = 1; n <= 12; n++) {
        long long d = 1000;
        for (int i = 1; i < n; i++)
            d = d * 2 > 60000 ? 60000 : d * 2;
        int lo = gw_dlv_backoff_ms(n, 1000, 60000, 0);
        int hi = gw_dlv_backoff_ms(n, 1000, 60000, (unsigned)(d / 2));
        assert_int_equal(lo, d - d / 2);
        assert_int_equal(hi, d);
        for (unsigned r = 0; r < 5000; r += 37) {
            int v = gw_dlv_backoff_ms(n, 1000, 60000, r * 2654435761u);
            assert_true(v >= d - d / 2 && v <= d);
        }
    }
    /* two messages failing together rarely come back together */
    assert_int_not_equal(gw_dlv_backoff_ms(3, 1000, 60000, 12345),
                         gw_dlv_backoff_ms(3, 1000, 60000, 54321));
    /* nonsense parameters still give a positive delay */
    assert_true(gw_dlv_backoff_ms(0, 0, 0, 7) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_edge_of_the_table_is_allowed_and_every_other_refused),
        cmocka_unit_test(final_states_have_no_way_out),
        cmocka_unit_test(a_target_list_is_a_failover_plan_walked_in_order),
        cmocka_unit_test(a_bad_target_list_is_refused),
        cmocka_unit_test(plan_and_tries_survive_their_stored_form),
        cmocka_unit_test(backoff_doubles_is_capped_and_jitters_within_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
