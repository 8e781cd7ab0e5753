/*
 * test_rand.c - gw_rand: the per-thread key stream gives bytes that do not
 * repeat across refills or threads, and a draw longer than the pool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <sodium.h>

#include "gateway/gw_rand.h"

enum { DRAWS = 400, LEN = 16 }; /* 6,400 bytes: ten refills of the pool */

static int all_distinct(unsigned char (*v)[LEN], int n)
{
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (memcmp(v[i], v[k], LEN) == 0)
                return 0;
    return 1;
}

static void draws_do_not_repeat_across_refills(void **state)
{
    static unsigned char v[DRAWS][LEN];
    static const unsigned char zero[LEN];

    (void)state;
    for (int i = 0; i < DRAWS; i++) {
        gw_rand_bytes(v[i], LEN);
        assert_memory_not_equal(v[i], zero, LEN);
    }
    assert_true(all_distinct(v, DRAWS));
}

static void *draw_in_thread(void *arg)
{
    gw_rand_bytes(arg, LEN);
    return NULL;
}

static void each_thread_draws_its_own_stream(void **state)
{
    unsigned char v[2][LEN];
    pthread_t t[2];

    (void)state;
    for (int i = 0; i < 2; i++) /* each thread's first draw: same offset, own key */
        pthread_create(&t[i], NULL, draw_in_thread, v[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_true(all_distinct(v, 2));
}

static void a_draw_longer_than_the_pool_is_filled_whole(void **state)
{
    static unsigned char big[2000];
    size_t zeros = 0;

    (void)state;
    gw_rand_bytes(big, sizeof big);
    for (size_t i = 0; i < sizeof big; i++)
        zeros += big[i] == 0;
    assert_true(zeros < 40); /* ~8 expected; a gap left unfilled would show */
    assert_memory_not_equal(big, big + 640, 640);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(draws_do_not_repeat_across_refills),
        cmocka_unit_test(each_thread_draws_its_own_stream),
        cmocka_unit_test(a_draw_longer_than_the_pool_is_filled_whole),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("rand", tests, NULL, NULL);
}
