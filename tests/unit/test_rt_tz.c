/*
 * test_rt_tz.c - time zones for the rule engine (router/rt_tz.c): TZif
 * files read without TZ, DST changes at their exact second, the footer's
 * POSIX rule past the table, and bad names and files refused.
 *
 * Fixed clocks only (unix times computed independently); the zone files
 * are the system's tzdata.  Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "router/rt_tz.h"
#include "gw_errors.h"

static rt_tz_t *test_zone(const char *name)
{
    char err[128] = "";
    rt_tz_t *z = rt_tz_load(NULL, name, NULL, err, sizeof err);
    if (z == NULL)
        fail_msg("%s: %s", name, err);
    return z;
}

static void test_civil_days_and_weekdays_of_known_dates(void **state)
{
    (void)state;
    assert_int_equal(rt_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(rt_weekday(0), 4); /* Thursday */
    assert_int_equal(rt_days_from_civil(2000, 1, 1), 10957);
    assert_int_equal(rt_weekday(10957), 6); /* Saturday */
    assert_int_equal(rt_weekday(rt_days_from_civil(2026, 3, 29)), 0);
    assert_int_equal(rt_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(rt_weekday(-1), 3);
}

static void test_berlin_springs_forward_2026_03_29_at_0100_utc(void **state)
{
    (void)state;
    rt_tz_t *z = test_zone("Europe/Berlin");
    assert_int_equal(rt_tz_offset(z, 1774746000 - 1), 3600);
    assert_int_equal(rt_tz_offset(z, 1774746000), 7200);
    rt_tz_free(z);
}

static void test_berlin_falls_back_2026_10_25_at_0100_utc(void **state)
{
    (void)state;
    rt_tz_t *z = test_zone("Europe/Berlin");
    assert_int_equal(rt_tz_offset(z, 1792890000 - 1), 7200);
    assert_int_equal(rt_tz_offset(z, 1792890000), 3600);
    rt_tz_free(z);
}

static void test_new_york_2026_changes_on_us_dates(void **state)
{
    (void)state;
    rt_tz_t *z = test_zone("America/New_York");
    assert_int_equal(rt_tz_offset(z, 1772953200 - 1), -5 * 3600);
    assert_int_equal(rt_tz_offset(z, 1772953200), -4 * 3600);
    assert_int_equal(rt_tz_offset(z, 1793512800 - 1), -4 * 3600);
    assert_int_equal(rt_tz_offset(z, 1793512800), -5 * 3600);
    rt_tz_free(z);
}

/* 2100 is past every transition stored in the file: the footer rule. */
static void test_past_the_table_the_footer_rule_decides(void **state)
{
    (void)state;
    rt_tz_t *z = test_zone("Europe/Berlin");
    assert_int_equal(rt_tz_offset(z, 4109878800 - 1), 3600);
    assert_int_equal(rt_tz_offset(z, 4109878800), 7200);
    assert_int_equal(rt_tz_offset(z, 4128627600 - 1), 7200);
    assert_int_equal(rt_tz_offset(z, 4128627600), 3600);
    rt_tz_free(z);
}

static void test_posix_rule_alone_matches_the_zone_file(void **state)
{
    (void)state;
    rt_tz_t *z = rt_tz_from_posix("EST5EDT,M3.2.0,M11.1.0");
    assert_non_null(z);
    assert_int_equal(rt_tz_offset(z, 1772953200 - 1), -5 * 3600);
    assert_int_equal(rt_tz_offset(z, 1772953200), -4 * 3600);
    assert_int_equal(rt_tz_offset(z, 1793512800 - 1), -4 * 3600);
    assert_int_equal(rt_tz_offset(z, 1793512800), -5 * 3600);
    rt_tz_free(z);
}

/* Southern hemisphere: daylight time spans the new year. */
static void test_posix_rule_southern_hemisphere_with_end_time(void **state)
{
    (void)state;
    rt_tz_t *z = rt_tz_from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3");
    assert_non_null(z);
    assert_int_equal(rt_tz_offset(z, 1775318400 - 1), 11 * 3600);
    assert_int_equal(rt_tz_offset(z, 1775318400), 10 * 3600);
    assert_int_equal(rt_tz_offset(z, 1791043200 - 1), 10 * 3600);
    assert_int_equal(rt_tz_offset(z, 1791043200), 11 * 3600);
    rt_tz_free(z);
}

static void test_posix_rule_without_dst_and_quoted_names(void **state)
{
    (void)state;
    rt_tz_t *z = rt_tz_from_posix("<+0530>-5:30");
    assert_non_null(z);
    assert_int_equal(rt_tz_offset(z, 1774746000), 5 * 3600 + 1800);
    rt_tz_free(z);
    assert_null(rt_tz_from_posix("CET-1CEST,M3.5.0"));
    assert_null(rt_tz_from_posix("X-1"));
    assert_null(rt_tz_from_posix("CET-1CEST,M13.5.0,M10.5.0"));
}

static void test_unknown_and_escaping_zone_names_are_refused(void **state)
{
    char err[128];
    int rc = 0;
    (void)state;
    assert_null(rt_tz_load(NULL, "Europe/Atlantis", &rc, err, sizeof err));
    assert_string_equal(err, "unknown time zone");
    assert_int_equal(rc, GW_ENOTFOUND);
    assert_null(rt_tz_load(NULL, "../../etc/passwd", NULL, err, sizeof err));
    assert_null(rt_tz_load(NULL, "/etc/localtime", NULL, err, sizeof err));
    assert_null(rt_tz_load(NULL, "", NULL, err, sizeof err));
}

/* JUNCTION_ZONEINFO points the loader at another directory: a copy of
 * Berlin under a made-up name loads, and a truncated file is refused. */
static void test_zoneinfo_directory_from_environment(void **state)
{
    char dir[] = "/tmp/rt_tz_XXXXXX", path[256], err[128];
    unsigned char buf[4096];
    (void)state;
    assert_non_null(mkdtemp(dir));
    FILE *in = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(in);
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    snprintf(path, sizeof path, "%s/Test_Zone", dir);
    FILE *out = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(out);
    snprintf(path, sizeof path, "%s/Short", dir);
    out = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, 60, out), 60);
    fclose(out);

    setenv("JUNCTION_ZONEINFO", dir, 1);
    rt_tz_t *z = rt_tz_load(NULL, "Test_Zone", NULL, err, sizeof err);
    assert_non_null(z);
    assert_int_equal(rt_tz_offset(z, 1774746000), 7200);
    rt_tz_free(z);
    int rc = 0;
    assert_null(rt_tz_load(NULL, "Short", &rc, err, sizeof err));
    assert_string_equal(err, "truncated TZif file");
    assert_int_equal(rc, GW_EINVAL);
    assert_null(rt_tz_load(NULL, "Europe/Berlin", NULL, err, sizeof err)); /* not in that dir */
    unsetenv("JUNCTION_ZONEINFO");

    snprintf(path, sizeof path, "%s/Test_Zone", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/Short", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_days_and_weekdays_of_known_dates),
        cmocka_unit_test(test_berlin_springs_forward_2026_03_29_at_0100_utc),
        cmocka_unit_test(test_berlin_falls_back_2026_10_25_at_0100_utc),
        cmocka_unit_test(test_new_york_2026_changes_on_us_dates),
        cmocka_unit_test(test_past_the_table_the_footer_rule_decides),
        cmocka_unit_test(test_posix_rule_alone_matches_the_zone_file),
        cmocka_unit_test(test_posix_rule_southern_hemisphere_with_end_time),
        cmocka_unit_test(test_posix_rule_without_dst_and_quoted_names),
        cmocka_unit_test(test_unknown_and_escaping_zone_names_are_refused),
        cmocka_unit_test(test_zoneinfo_directory_from_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
