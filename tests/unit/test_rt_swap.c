/*
 * test_rt_swap.c - the running set swapped under readers (router/rt_set.c).
 *
 * Two reader threads decide in a loop on rt_set_current() while the main
 * thread installs 1,000 new sets.  Set number g has g % 5 + 1 rules, all
 * named "gen-<g>" and routing to "gen-<g>" then "gen-<g>-b", so a decision
 * that mixed two sets, or a set read after it was freed, shows as a name,
 * target or rule count that disagree (and ASan's build sees the free).
 * Old sets must be freed as readers leave them: at most one per reader plus
 * the running one stay alive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "rt_test.h"
#include "router/rt_int.h" /* cur->rules: the last set installed */

#define TEST_GENERATIONS 1000
#define TEST_READERS 2

static int test_stop;             /* atomic */
static unsigned long test_bad;    /* atomic: inconsistent decisions */
static unsigned long test_seen;   /* atomic: decisions checked */

static rt_set_t *test_generation(int g)
{
    json_t *rules = json_array();
    char name[32], alt[40];
    snprintf(name, sizeof name, "gen-%d", g);
    snprintf(alt, sizeof alt, "gen-%d-b", g);
    for (int i = 0; i < g % 5 + 1; i++)
        json_array_append_new(rules, json_pack("{s:i,s:s,s:i,s:{s:{s:[s,s]}}}", "id", i, "name",
                                               name, "priority", i, "action", "route", "targets",
                                               name, alt));
    json_t *errs = NULL;
    rt_set_t *s = rt_compile(rules, NULL, &errs);
    assert_non_null(s);
    json_decref(rules);
    return s;
}

static void *test_reader(void *arg)
{
    (void)arg;
    rt_query_t q = rt_test_query("1", "447700900123");
    rt_decision_t d;
    while (!__atomic_load_n(&test_stop, __ATOMIC_ACQUIRE)) {
        rt_set_t *s = rt_set_current();
        if (s == NULL)
            continue;
        int g = -1;
        char alt[40];
        int ok = rt_decide(s, &q, &d) == RT_ROUTE && d.rule_name != NULL &&
                 sscanf(d.rule_name, "gen-%d", &g) == 1 && d.ntargets == 2 &&
                 strcmp(d.targets[0].connector, d.rule_name) == 0;
        if (ok) {
            snprintf(alt, sizeof alt, "gen-%d-b", g);
            ok = strcmp(d.targets[1].connector, alt) == 0 &&
                 rt_set_count(s) == (size_t)(g % 5 + 1);
        }
        if (!ok)
            __atomic_add_fetch(&test_bad, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&test_seen, 1, __ATOMIC_RELAXED);
        rt_set_unref(s);
    }
    return NULL;
}

static void test_readers_never_see_a_half_changed_set_over_1000_installs(void **state)
{
    (void)state;
    pthread_t th[TEST_READERS];
    size_t most_alive = 0;
    rt_set_install(test_generation(0));
    for (int i = 0; i < TEST_READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, test_reader, NULL), 0);
    for (int g = 1; g <= TEST_GENERATIONS; g++) {
        rt_set_install(test_generation(g));
        size_t alive = rt_set_live();
        if (alive > most_alive)
            most_alive = alive;
    }
    /* let the readers see the last set too */
    unsigned long before = __atomic_load_n(&test_seen, __ATOMIC_RELAXED);
    while (__atomic_load_n(&test_seen, __ATOMIC_RELAXED) < before + 1000)
        ;
    __atomic_store_n(&test_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < TEST_READERS; i++)
        pthread_join(th[i], NULL);

    assert_int_equal(test_bad, 0);
    assert_true(test_seen > 1000);
    /* a set freed as soon as its last reader left: the running one, one
     * per reader, one just installed */
    assert_true(most_alive <= TEST_READERS + 2);
    rt_set_t *cur = rt_set_current();
    assert_string_equal(cur->rules[0].name, "gen-1000");
    rt_set_unref(cur);
    rt_set_install(NULL);
    assert_int_equal(rt_set_live(), 0);
    assert_null(rt_set_current());
}

/* A reference taken before an install keeps its set usable after it. */
static void test_held_set_outlives_its_replacement(void **state)
{
    (void)state;
    rt_set_install(test_generation(3));
    rt_set_t *held = rt_set_current();
    rt_set_install(test_generation(4));
    assert_int_equal(rt_set_live(), 2);
    rt_query_t q = rt_test_query("1", "2");
    rt_decision_t d;
    assert_int_equal(rt_decide(held, &q, &d), RT_ROUTE);
    assert_string_equal(d.targets[0].connector, "gen-3");
    rt_set_unref(held);
    assert_int_equal(rt_set_live(), 1);
    rt_set_install(NULL);
    assert_int_equal(rt_set_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_never_see_a_half_changed_set_over_1000_installs),
        cmocka_unit_test(test_held_set_outlives_its_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
