/*
 * test_smpp_time.c - the SMPP time format (adapters/smpp/smpp_time.c):
 * absolute times with their UTC offset and tenths, relative times added
 * to the calendar, and every malformed or out-of-range field refused.
 *
 * Threads: cmocka's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/smpp/smpp.h"
#include "gateway/gw_errors.h"

/* 2026-12-01 12:00:00.250 UTC */
#define TT_NOW 1796126400250LL

static int64_t tt_parse(const char *s, int64_t now)
{
    int64_t ms = -1;
    assert_int_equal(smpp_time_parse(s, now, &ms), 0);
    return ms;
}

static void tt_refused(const char *s)
{
    int64_t ms = -1;
    assert_int_equal(smpp_time_parse(s, TT_NOW, &ms), GW_EINVAL);
    assert_int_equal(ms, 0);
}

static void test_empty_is_no_time(void **state)
{
    (void)state;
    assert_int_equal(tt_parse("", TT_NOW), 0);
    assert_int_equal(tt_parse(NULL, TT_NOW), 0);
}

static void test_absolute_utc_with_tenths(void **state)
{
    (void)state;
    /* 2026-12-01 13:30:15.7 UTC */
    assert_int_equal(tt_parse("261201133015700+", TT_NOW), 1796131815700LL);
    assert_int_equal(tt_parse("261201133015700-", TT_NOW), 1796131815700LL);
}

static void test_absolute_offset_in_quarter_hours(void **state)
{
    (void)state;
    /* 14:30 local at UTC+01:00 (04 quarters) and 08:15 at UTC-05:15 (21) are 13:30 UTC */
    assert_int_equal(tt_parse("261201143000004+", TT_NOW), 1796131800000LL);
    assert_int_equal(tt_parse("261201081500021-", TT_NOW), 1796131800000LL);
    /* crossing midnight and the year: 2027-01-01 00:30 at UTC+02:00 */
    assert_int_equal(tt_parse("270101003000008+", TT_NOW), 1798763400000LL - 7200000LL);
}

static void test_relative_adds_to_now(void **state)
{
    (void)state;
    assert_int_equal(tt_parse("000000010000000R", TT_NOW), TT_NOW + 3600000LL);
    assert_int_equal(tt_parse("000002001030000R", TT_NOW), TT_NOW + (2 * 86400 + 630) * 1000LL);
    assert_int_equal(tt_parse("000000000000000R", TT_NOW), TT_NOW);
}

static void test_relative_months_and_years_follow_the_calendar(void **state)
{
    (void)state;
    /* 2026-12-01 + 1 month = 2027-01-01 (31 days); + 1 year = 2027-12-01 (365 days) */
    assert_int_equal(tt_parse("000100000000000R", TT_NOW), TT_NOW + 31 * 86400000LL);
    assert_int_equal(tt_parse("010000000000000R", TT_NOW), TT_NOW + 365 * 86400000LL);
}

static void test_malformed_times_refused(void **state)
{
    (void)state;
    tt_refused("26120113301570+");    /* 15 characters */
    tt_refused("2612011330157000+");  /* 17 */
    tt_refused("261201133015700X");   /* no such sign */
    tt_refused("26120113301a700+");   /* a letter */
    tt_refused("261301133015700+");   /* month 13 */
    tt_refused("261200133015700+");   /* month 0 */
    tt_refused("261232133015700+");   /* day 32 */
    tt_refused("260431133015700+");   /* 31 April */
    tt_refused("261201243015700+");   /* hour 24 */
    tt_refused("261201136015700+");   /* minute 60 */
    tt_refused("261201133060700+");   /* second 60 */
    tt_refused("261201133015749+");   /* 49 quarter hours */
    tt_refused("000000240000000R");   /* relative hour 24 */
    tt_refused("000000006000000R");   /* relative minute 60 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_is_no_time),
        cmocka_unit_test(test_absolute_utc_with_tenths),
        cmocka_unit_test(test_absolute_offset_in_quarter_hours),
        cmocka_unit_test(test_relative_adds_to_now),
        cmocka_unit_test(test_relative_months_and_years_follow_the_calendar),
        cmocka_unit_test(test_malformed_times_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
