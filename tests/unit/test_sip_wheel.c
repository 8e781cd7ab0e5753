/*
 * test_sip_wheel.c - the proxy's timer wheel (adapters/sip/sip_wheel.c),
 * driven by the test's clock (no event base): a node fires once its
 * deadline has passed and not before, within the grain; re-arming moves
 * it; deadlines past the ring wait for their round; a node armed again
 * from its own firing never fires twice in one collection.
 *
 * Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/sip/sip_wheel.h"

#define G SIP_WHEEL_GRAIN_MS

static sip_wheel_t wh;

/* Collect at now; how many fired (each node's fired count goes up). */
static int tick(int64_t now, int *fired, sip_wheel_node_t *base)
{
    sip_wheel_node_t *n;
    int k = 0;

    sip_wheel_collect(&wh, now);
    while ((n = sip_wheel_pop(&wh)) != NULL) {
        fired[n - base]++;
        k++;
    }
    return k;
}

static void test_a_node_fires_after_its_deadline_within_a_grain(void **state)
{
    sip_wheel_node_t n[3] = {0};
    int fired[3] = {0};
    int64_t t0 = 1000 * G; /* on a grain edge */
    (void)state;

    assert_int_equal(sip_wheel_init(&wh, t0, NULL, NULL, NULL), 0);
    sip_wheel_arm(&wh, &n[0], t0 + 500, t0);
    sip_wheel_arm(&wh, &n[1], t0 + 500, t0);
    sip_wheel_arm(&wh, &n[2], t0 + 32000, t0);
    assert_int_equal(wh.count, 3);
    for (int64_t t = t0; t < t0 + 500; t += 5)
        assert_int_equal(tick(t, fired, n), 0);
    /* due by the end of the grain that holds 500 */
    assert_int_equal(tick(t0 + 500 + G, fired, n), 2);
    assert_int_equal(fired[0] + fired[1], 2);
    assert_false(sip_wheel_armed(&n[0]));
    assert_int_equal(tick(t0 + 31990, fired, n), 0);
    assert_int_equal(tick(t0 + 32000 + G, fired, n), 1);
    assert_int_equal(wh.count, 0);
}

static void test_rearming_moves_and_disarming_cancels(void **state)
{
    sip_wheel_node_t n[2] = {0};
    int fired[2] = {0};
    int64_t t0 = 5000 * G;
    (void)state;

    sip_wheel_init(&wh, t0, NULL, NULL, NULL);
    sip_wheel_arm(&wh, &n[0], t0 + 100, t0);
    sip_wheel_arm(&wh, &n[0], t0 + 5000, t0); /* moved, still one node */
    sip_wheel_arm(&wh, &n[1], t0 + 100, t0);
    sip_wheel_disarm(&wh, &n[1]);
    sip_wheel_disarm(&wh, &n[1]); /* twice: nothing */
    assert_int_equal(wh.count, 1);
    assert_int_equal(tick(t0 + 1000, fired, n), 0);
    assert_int_equal(tick(t0 + 5000 + G, fired, n), 1);
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 0);
}

static void test_a_deadline_beyond_the_ring_waits_for_its_round(void **state)
{
    sip_wheel_node_t n[1] = {0};
    int fired[1] = {0};
    int64_t t0 = 7 * G, ring = (int64_t)SIP_WHEEL_SLOTS * G;
    (void)state;

    sip_wheel_init(&wh, t0, NULL, NULL, NULL);
    sip_wheel_arm(&wh, &n[0], t0 + 2 * ring + 40, t0); /* Timer C, 180 s */
    /* the cursor passes its slot twice before it is due */
    for (int64_t t = t0; t < t0 + 2 * ring + 40 - G; t += 10 * G)
        assert_int_equal(tick(t, fired, n), 0);
    assert_int_equal(tick(t0 + 2 * ring + 40 + G, fired, n), 1);
}

static void test_a_past_deadline_fires_at_the_next_collection_once(void **state)
{
    sip_wheel_node_t n[1] = {0};
    int fired[1] = {0};
    int64_t t0 = 9000 * G;
    sip_wheel_node_t *p;
    (void)state;

    sip_wheel_init(&wh, t0, NULL, NULL, NULL);
    sip_wheel_arm(&wh, &n[0], t0 - 1000, t0);
    sip_wheel_collect(&wh, t0 + G);
    p = sip_wheel_pop(&wh);
    assert_ptr_equal(p, &n[0]);
    /* armed again for a time already past from its own firing: it waits
     * for the next collection, the loop ends */
    sip_wheel_arm(&wh, p, t0, t0 + G);
    assert_null(sip_wheel_pop(&wh));
    assert_int_equal(tick(t0 + 2 * G, fired, n), 1);
}

static void test_a_long_idle_wheel_collects_each_slot_once(void **state)
{
    sip_wheel_node_t n[2] = {0};
    int fired[2] = {0};
    int64_t t0 = 100 * G, ring = (int64_t)SIP_WHEEL_SLOTS * G;
    (void)state;

    sip_wheel_init(&wh, t0, NULL, NULL, NULL);
    sip_wheel_arm(&wh, &n[0], t0 + 3 * G, t0);
    sip_wheel_arm(&wh, &n[1], t0 + ring + ring / 2, t0);
    /* the first collection comes ten rings late: both are due */
    assert_int_equal(tick(t0 + 10 * ring, fired, n), 2);
    assert_int_equal(fired[0] + fired[1], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_node_fires_after_its_deadline_within_a_grain),
        cmocka_unit_test(test_rearming_moves_and_disarming_cancels),
        cmocka_unit_test(test_a_deadline_beyond_the_ring_waits_for_its_round),
        cmocka_unit_test(test_a_past_deadline_fires_at_the_next_collection_once),
        cmocka_unit_test(test_a_long_idle_wheel_collects_each_slot_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
