/*
 * test_rt_rates.c - behaviour of rate tables (router/rt_rates*.c): longest
 * prefix, validity windows and the fall-back past expired rows, cheapest
 * first with ties by connector name, overlap refusal, every CSV error, the
 * all-or-nothing import and the CSV round trip.
 *
 * Each test builds its own table; no I/O.  Single-threaded (cmocka's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "router/rt_rates.h"
#include "gw_errors.h"

#define T_2026 1767225600LL  /* 2026-01-01T00:00:00Z */

static void test_add(rt_rates_t *t, const char *prefix, const char *conn, double cost,
                     int64_t from, int64_t to)
{
    char err[160] = "";
    int rc = rt_rates_add(t, prefix, conn, cost, "EUR", from, to, err, sizeof err);
    if (rc != 0)
        fail_msg("add %s %s: %s", prefix, conn, err);
}

static void test_seal(rt_rates_t *t)
{
    char err[160] = "";
    int rc = rt_rates_seal(t, err, sizeof err);
    if (rc != 0)
        fail_msg("seal: %s", err);
}

/* "conn@prefix,conn@prefix" of a lookup, for compact assertions. */
static const char *test_hits(const rt_rates_t *t, const char *digits, int64_t now)
{
    static char buf[256];
    rt_rate_hit_t h[8];
    size_t n = rt_rates_lookup(t, digits, now, h, 8), i;

    buf[0] = '\0';
    for (i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s@%s", i ? "," : "",
                 h[i].connector, h[i].prefix);
    return buf;
}

/* Parse text into a fresh table; the table (caller frees), rc in *rc. */
static rt_rates_t *test_csv(const char *text, rt_csv_errors_t *errs, int *rc)
{
    rt_rates_t *t = rt_rates_new("sheet");
    assert_non_null(t);
    *rc = rt_rates_parse_csv(text, strlen(text), t, errs);
    return t;
}

/* The first error of a sheet that must fail, formatted. */
static const char *test_csv_error(const char *text)
{
    static char buf[256];
    rt_csv_errors_t errs;
    int rc;
    rt_rates_t *t = test_csv(text, &errs, &rc);

    assert_int_equal(rc, GW_EINVAL);
    assert_true(errs.count >= 1);
    assert_int_equal(rt_rates_count(t), 0);
    rt_csv_error_format(&errs.err[0], buf, sizeof buf);
    rt_rates_free(t);
    return buf;
}

static void test_longest_prefix_wins(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("lcr");
    test_add(t, "44", "uk_any", 0.05, 0, 0);
    test_add(t, "447", "uk_mobile", 0.03, 0, 0);
    test_add(t, "4477", "uk_77", 0.02, 0, 0);
    test_add(t, "49", "de", 0.04, 0, 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "447700900123", T_2026), "uk_77@4477");
    assert_string_equal(test_hits(t, "447100900123", T_2026), "uk_mobile@447");
    assert_string_equal(test_hits(t, "+442071234567", T_2026), "uk_any@44");
    assert_string_equal(test_hits(t, "4930123", T_2026), "de@49");
    assert_string_equal(test_hits(t, "33123", T_2026), "");
    assert_string_equal(test_hits(t, "4", T_2026), "");
    assert_string_equal(rt_rates_name(t), "lcr");
    rt_rates_free(t);
}

static void test_lookup_stops_at_first_non_digit(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("x");
    test_add(t, "44", "a", 1, 0, 0);
    test_add(t, "447", "b", 1, 0, 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "44-7", T_2026), "a@44");
    assert_string_equal(test_hits(t, "", T_2026), "");
    rt_rates_free(t);
}

static void test_cheapest_first_ties_by_connector_name(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("x");
    test_add(t, "49", "zeta", 0.010, 0, 0);
    test_add(t, "49", "beta", 0.020, 0, 0);
    test_add(t, "49", "alpha", 0.020, 0, 0);
    test_add(t, "49", "gamma", 0.005, 0, 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "4915", T_2026), "gamma@49,zeta@49,alpha@49,beta@49");
    rt_rate_hit_t h[2];
    assert_int_equal(rt_rates_lookup(t, "4915", T_2026, h, 2), 2);  /* max respected */
    assert_string_equal(h[1].connector, "zeta");
    assert_true(h[1].cost == 0.010);
    assert_string_equal(h[1].currency, "EUR");
    rt_rates_free(t);
}

static void test_validity_window_is_half_open(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("x");
    test_add(t, "49", "jan", 0.01, T_2026, T_2026 + 31 * 86400);
    test_add(t, "49", "feb_on", 0.02, T_2026 + 31 * 86400, 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "49", T_2026 - 1), "");
    assert_string_equal(test_hits(t, "49", T_2026), "jan@49");
    assert_string_equal(test_hits(t, "49", T_2026 + 31 * 86400 - 1), "jan@49");
    assert_string_equal(test_hits(t, "49", T_2026 + 31 * 86400), "feb_on@49");
    assert_string_equal(test_hits(t, "49", INT64_MAX / 2), "feb_on@49");
    rt_rates_free(t);
}

static void test_expired_longest_prefix_falls_back_to_shorter(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("x");
    test_add(t, "4", "world", 0.09, 0, 0);
    test_add(t, "49", "de", 0.05, 0, T_2026);          /* expired in 2026 */
    test_add(t, "4915", "de_mob", 0.03, T_2026 + 100, 0); /* not yet */
    test_seal(t);
    assert_string_equal(test_hits(t, "491512345", T_2026 - 10), "de@49");
    assert_string_equal(test_hits(t, "491512345", T_2026 + 10), "world@4");
    assert_string_equal(test_hits(t, "491512345", T_2026 + 100), "de_mob@4915");
    rt_rates_free(t);
}

static void test_same_prefix_and_connector_may_not_overlap(void **state)
{
    (void)state;
    char err[160] = "";
    rt_rates_t *t = rt_rates_new("x");
    test_add(t, "49", "a", 0.01, 0, T_2026);
    test_add(t, "49", "a", 0.02, T_2026, 0);  /* adjacent: fine */
    test_add(t, "49", "b", 0.02, 0, 0);
    test_add(t, "49", "b", 0.03, T_2026, T_2026 + 1);  /* inside the open one */
    assert_int_equal(rt_rates_seal(t, err, sizeof err), GW_EINVAL);
    assert_non_null(strstr(err, "prefix 49, connector b"));
    assert_false(rt_rates_sealed(t));
    rt_rates_free(t);

    /* the third row overlaps the second, not the first: the check keeps the
     * latest end seen, not the first row's */
    t = rt_rates_new("x");
    test_add(t, "49", "a", 0.01, 1000, 2000);
    test_add(t, "49", "a", 0.02, 2000, 9000);  /* touches the first: fine */
    test_add(t, "49", "a", 0.03, 5000, 6000);
    assert_int_equal(rt_rates_seal(t, err, sizeof err), GW_EINVAL);
    rt_rates_free(t);

    /* one second of overlap is an overlap */
    t = rt_rates_new("x");
    test_add(t, "49", "a", 0.01, T_2026 - 100, T_2026);
    test_add(t, "49", "a", 0.02, T_2026 - 1, 0);
    assert_int_equal(rt_rates_seal(t, err, sizeof err), GW_EINVAL);
    rt_rates_free(t);

    t = rt_rates_new("x");
    test_add(t, "49", "a", 0.01, 0, T_2026);
    test_add(t, "49", "a", 0.02, T_2026, 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "49", T_2026 - 1), "a@49");
    rt_rates_free(t);
}

static void test_add_refuses_bad_rows(void **state)
{
    (void)state;
    char err[160];
    rt_rates_t *t = rt_rates_new("x");
#define BAD(p, c, cost, cur, f, to, want)                                                   \
    do {                                                                                    \
        err[0] = '\0';                                                                      \
        assert_int_equal(rt_rates_add(t, p, c, cost, cur, f, to, err, sizeof err), GW_EINVAL); \
        assert_non_null(strstr(err, want));                                                 \
    } while (0)
    BAD("49a", "c", 1, "EUR", 0, 0, "prefix: 'a' is not a digit");
    BAD("", "c", 1, "EUR", 0, 0, "prefix: empty");
    BAD("+", "c", 1, "EUR", 0, 0, "prefix: empty");
    BAD("12345678901234567", "c", 1, "EUR", 0, 0, "prefix: longer than 16 digits");
    BAD("49", "", 1, "EUR", 0, 0, "connector: empty");
    BAD("49", "c", -0.5, "EUR", 0, 0, "cost: negative");
    BAD("49", "c", 1.0 / 0.0, "EUR", 0, 0, "cost: not a finite number");
    BAD("49", "c", 1, "eur", 0, 0, "currency:");
    BAD("49", "c", 1, "EURO", 0, 0, "currency:");
    BAD("49", "c", 1, "EUR", 200, 100, "valid_to: not after valid_from");
    BAD("49", "c", 1, "EUR", 100, 100, "valid_to: not after valid_from");
    BAD("49", "c", 1, "EUR", -5, 0, "valid_from: before 1970");
#undef BAD
    assert_int_equal(rt_rates_count(t), 0);
    assert_int_equal(rt_rates_add(t, "+49", "c", 0, "EUR", 0, 0, err, sizeof err), 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "4912", 0), "c@49");  /* '+' normalised away */
    assert_int_equal(rt_rates_add(t, "50", "c", 0, "EUR", 0, 0, err, sizeof err), GW_EINVAL);
    rt_rates_free(t);
}

static void test_empty_table_finds_nothing(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("empty");
    rt_rate_hit_t h[1];
    assert_int_equal(rt_rates_lookup(t, "49", 0, h, 1), 0);  /* unsealed */
    test_seal(t);
    assert_int_equal(rt_rates_count(t), 0);
    assert_int_equal(rt_rates_lookup(t, "49", 0, h, 1), 0);
    rt_rates_free(t);
}

static int test_count_row(void *arg, const rt_rate_row_t *row)
{
    char *buf = arg;
    snprintf(buf + strlen(buf), 512 - strlen(buf), "%s/%s ", row->prefix, row->connector);
    return 0;
}

static void test_foreach_walks_prefix_order_cheapest_first(void **state)
{
    (void)state;
    char buf[512] = "";
    rt_rates_t *t = rt_rates_new("x");
    test_add(t, "491", "b", 2, 0, 0);
    test_add(t, "4", "a", 1, 0, 0);
    test_add(t, "49", "y", 2, 0, 0);
    test_add(t, "49", "x", 1, 0, 0);
    test_add(t, "5", "a", 1, 0, 0);
    test_add(t, "0049", "z", 1, 0, 0);
    test_seal(t);
    assert_int_equal(rt_rates_foreach(t, test_count_row, buf), 0);
    assert_string_equal(buf, "0049/z 4/a 49/x 49/y 491/b 5/a ");
    assert_int_equal(rt_rates_count(t), 6);
    assert_true(rt_rates_memory(t) > 0);
    rt_rates_free(t);
}

static void test_many_prefixes_match_their_own_rows(void **state)
{
    (void)state;
    rt_rates_t *t = rt_rates_new("big");
    char p[32], want[64];
    uint64_t x = 12345;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(p, sizeof p, "%d%llu", 1 + i % 9, (unsigned long long)(x >> 40) % 1000000);
        snprintf(want, sizeof want, "c%d", i);
        char err[160];
        int rc = rt_rates_add(t, p, want, i, "EUR", 0, 0, err, sizeof err);
        assert_int_equal(rc, 0);
    }
    test_seal(t);
    assert_int_equal(rt_rates_count(t), 20000);
    /* each row's own prefix (plus digits) finds a row at that prefix or longer */
    x = 12345;
    for (int i = 0; i < 20000; i++) {
        rt_rate_hit_t h[4];
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(p, sizeof p, "%d%llu", 1 + i % 9, (unsigned long long)(x >> 40) % 1000000);
        size_t plen = strlen(p);
        strcat(p, "99999");
        assert_true(rt_rates_lookup(t, p, 0, h, 4) >= 1);
        assert_true(strlen(h[0].prefix) >= plen);
        assert_memory_equal(h[0].prefix, p, strlen(h[0].prefix));
    }
    rt_rates_free(t);
}

/* ---- CSV ---- */

static const char *test_sheet =
    "Prefix;Connector;Rate;Currency;Valid_From;Valid_To;Comment\r\n"
    "+44;uk_a;0,05;GBP;;;\"any UK\"\r\n"
    "447;\"uk;b\";0,030;GBP;2026-01-01;2027-01-01T00:00Z;\"mobile, \"\"all\"\"\"\r\n"
    "\r\n"
    "447;uk_a;0,031;GBP;1767225600;;\"multi\nline\"\r\n"
    ";;;;;;\r\n"
    "4477;uk_a;1e-3;GBP;2026-06-01T12:30:15Z;;\r\n";

static void test_csv_semicolon_sheet_with_quotes_and_dates(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    int rc;
    rt_rates_t *t = test_csv(test_sheet, &errs, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(errs.total, 0);
    assert_int_equal(rt_rates_count(t), 4);
    test_seal(t);
    rt_rate_hit_t h[4];
    assert_int_equal(rt_rates_lookup(t, "447123", T_2026, h, 4), 2);
    assert_string_equal(h[0].connector, "uk;b");
    assert_true(h[0].cost == 0.030);
    assert_string_equal(h[0].currency, "GBP");
    assert_string_equal(h[1].connector, "uk_a");
    assert_int_equal(rt_rates_lookup(t, "447123", T_2026 - 1, h, 4), 1);  /* uk_a: open */
    assert_string_equal(h[0].connector, "uk_a");
    assert_string_equal(h[0].prefix, "44");
    assert_int_equal(rt_rates_lookup(t, "4477", T_2026 + 151 * 86400 + 45015, h, 4), 1);
    assert_true(h[0].cost == 0.001);
    assert_int_equal(rt_rates_lookup(t, "4477", T_2026 + 151 * 86400 + 45014, h, 4), 2);
    rt_rates_free(t);
}

static void test_csv_comma_sheet_any_column_order(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    int rc;
    rt_rates_t *t = test_csv("\xEF\xBB\xBF" "currency,PRICE,extra,connector,prefix\n"
                             "EUR,0.5,x,smsc1,49\nEUR,0.25,y,smsc2,49", &errs, &rc);
    assert_int_equal(rc, 0);
    test_seal(t);
    assert_string_equal(test_hits(t, "4912", 0), "smsc2@49,smsc1@49");
    rt_rates_free(t);
}

static void test_csv_missing_columns_are_named(void **state)
{
    (void)state;
    assert_string_equal(test_csv_error("prefix,cost,valid_to\n49,1,\n"),
                        "line 1: header: missing column(s): connector, currency");
    assert_string_equal(test_csv_error(""), "line 1: header: no header row (empty sheet)");
    assert_string_equal(test_csv_error("prefix,connector,cost,rate,currency\n"),
                        "line 1: header: columns 3 and 4 both give cost");
}

static void test_csv_bad_fields_name_line_and_field(void **state)
{
    (void)state;
    const char *h = "prefix,connector,cost,currency,valid_from,valid_to\n";
    char text[512];
#define ONE(row, want)                                       \
    do {                                                     \
        snprintf(text, sizeof text, "%s49,ok,1,EUR,,\n%s", h, row); \
        assert_string_equal(test_csv_error(text), want);     \
    } while (0)
    ONE("49,c,abc,EUR,,\n", "line 3: cost: not a number");
    ONE("49,c,1.2.3,EUR,,\n", "line 3: cost: not a number");
    ONE("49,c,0,5,EUR,1,2\n", "line 3: record: 7 fields, the header has 6");
    ONE("49,c,,EUR,,\n", "line 3: cost: empty");
    ONE("49,c,-1,EUR,,\n", "line 3: cost: negative");
    ONE("49,c,1,euro,,\n", "line 3: currency: not three upper-case letters (ISO 4217)");
    ONE("49x,c,1,EUR,,\n", "line 3: prefix: 'x' is not a digit");
    ONE(",c,1,EUR,,\n", "line 3: prefix: empty");
    ONE("49,,1,EUR,,\n", "line 3: connector: empty");
    ONE("49,c,1,EUR,2026-02-30,\n", "line 3: valid_from: no such date or time");
    ONE("49,c,1,EUR,yesterday,\n",
        "line 3: valid_from: not unix seconds or YYYY-MM-DD[THH:MM[:SS]][Z]");
    ONE("49,c,1,EUR,2026-01-01T10:00+02:00,\n",
        "line 3: valid_from: not unix seconds or YYYY-MM-DD[THH:MM[:SS]][Z]");
    ONE("49,c,1,EUR,,2026-13-01\n", "line 3: valid_to: no such date or time");
    ONE("49,c,1,EUR,2027-01-01,2026-01-01\n", "line 3: valid_to: not after valid_from");
    ONE("49,c\n", "line 3: cost: missing (2 fields)");
    ONE("49,\"c\"x,1,EUR,,\n", "line 3: record: text after the closing quote of field 2");
    ONE("\n\n49,\"c,1,EUR,,\n50,d,1,EUR,,\n", "line 5: record: unterminated quote (field 2)");
#undef ONE
}

static void test_csv_decimal_comma_only_with_semicolons(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    int rc;
    rt_rates_t *t = test_csv("prefix,connector,cost,currency\n49,c,\"0,5\",EUR\n", &errs, &rc);
    assert_int_equal(rc, GW_EINVAL);
    assert_string_equal(errs.err[0].field, "cost");
    rt_rates_free(t);
    t = test_csv("prefix;connector;cost;currency\n49;c;0,5;EUR\n", &errs, &rc);
    assert_int_equal(rc, 0);
    test_seal(t);
    rt_rate_hit_t hit;
    assert_int_equal(rt_rates_lookup(t, "49", 0, &hit, 1), 1);
    assert_true(hit.cost == 0.5);
    rt_rates_free(t);
}

static void test_csv_duplicates_name_both_lines(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    int rc;
    rt_rates_t *t = test_csv("prefix,connector,cost,currency,valid_from,valid_to\n"
                             "49,a,1,EUR,,\n"
                             "49,b,1,EUR,,\n"
                             "49,a,2,EUR,2026-01-01,\n"
                             "49,b,1,EUR,,\n"
                             "491,a,1,EUR,,\n",
                             &errs, &rc);
    assert_int_equal(rc, GW_EINVAL);
    assert_int_equal(errs.total, 2);
    assert_int_equal(rt_rates_count(t), 0);
    char buf[256];
    for (size_t i = 0; i < errs.count; i++) {
        rt_csv_error_format(&errs.err[i], buf, sizeof buf);
        if (errs.err[i].line == 4) {
            assert_int_equal(errs.err[i].other_line, 2);
            assert_string_equal(buf, "line 4: prefix: duplicate of line 2: prefix 49, "
                                     "connector a, overlapping validity");
        } else {
            assert_int_equal(errs.err[i].line, 5);
            assert_int_equal(errs.err[i].other_line, 3);
        }
    }
    rt_rates_free(t);
}

static void test_csv_bad_line_imports_nothing(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    rt_rates_t *t = rt_rates_new("x");
    const char *good = "prefix,connector,cost,currency\n49,a,1,EUR\n44,a,1,EUR\n";
    const char *bad = "prefix,connector,cost,currency\n33,a,1,EUR\n34,a,x,EUR\n35,a,1,EUR\n"
                      "49,a,3,EUR\n";
    assert_int_equal(rt_rates_parse_csv(good, strlen(good), t, &errs), 0);
    assert_int_equal(rt_rates_count(t), 2);
    assert_int_equal(rt_rates_parse_csv(bad, strlen(bad), t, &errs), GW_EINVAL);
    /* line 3's cost, and line 5 overlapping the row of the first sheet */
    assert_int_equal(errs.total, 2);
    assert_int_equal(errs.err[0].line, 3);
    assert_int_equal(errs.err[1].line, 5);
    assert_non_null(strstr(errs.err[1].reason, "already in the table"));
    assert_int_equal(rt_rates_count(t), 2);
    test_seal(t);
    assert_string_equal(test_hits(t, "3312", 0), "");
    assert_string_equal(test_hits(t, "4912", 0), "a@49");
    rt_rates_free(t);
}

static void test_csv_collects_errors_up_to_the_limit(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    int rc;
    size_t cap = 100 * 16 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    strcpy(text, "prefix,connector,cost,currency\n");
    for (int i = 0; i < 100; i++)
        strcat(text, "49,a,x,EUR\n");
    rt_rates_t *t = test_csv(text, &errs, &rc);
    assert_int_equal(rc, GW_EINVAL);
    assert_int_equal(errs.total, 100);
    assert_int_equal(errs.count, RT_CSV_ERRORS_MAX);
    assert_int_equal(errs.err[RT_CSV_ERRORS_MAX - 1].line, RT_CSV_ERRORS_MAX + 1);
    rt_rates_free(t);
    free(text);
}

static void test_csv_export_round_trips(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    char *out1, *out2;
    size_t len1, len2;
    rt_rates_t *t = rt_rates_new("a");
    test_add(t, "447", "uk \"b\", ltd", 0.1, T_2026, T_2026 + 86400 + 3661);
    test_add(t, "447", "uk_a", 1.0 / 3.0, 0, 0);
    test_add(t, "0049", " pad ", 12345.678, 0, T_2026);
    test_add(t, "1", "us", 0, 951782400, 0);  /* 2000-02-29 */
    test_seal(t);
    assert_int_equal(rt_rates_export_csv(t, &out1, &len1), 0);
    assert_string_equal(out1, "prefix,connector,cost,currency,valid_from,valid_to\n"
                              "0049,\" pad \",12345.678,EUR,,2026-01-01T00:00:00Z\n"
                              "1,us,0,EUR,2000-02-29T00:00:00Z,\n"
                              "447,\"uk \"\"b\"\", ltd\",0.1,EUR,2026-01-01T00:00:00Z,"
                              "2026-01-02T01:01:01Z\n"
                              "447,uk_a,0.3333333333333333,EUR,,\n");
    rt_rates_t *u = rt_rates_new("b");
    assert_int_equal(rt_rates_parse_csv(out1, len1, u, &errs), 0);
    test_seal(u);
    assert_int_equal(rt_rates_export_csv(u, &out2, &len2), 0);
    assert_int_equal(len1, len2);
    assert_string_equal(out1, out2);
    rt_rate_hit_t h[2];
    assert_int_equal(rt_rates_lookup(u, "4471", 0, h, 2), 1);
    assert_true(h[0].cost == 1.0 / 3.0);
    free(out1);
    free(out2);
    rt_rates_free(t);
    rt_rates_free(u);
}

static void test_csv_into_sealed_table_is_refused(void **state)
{
    (void)state;
    rt_csv_errors_t errs;
    char *out;
    size_t len;
    rt_rates_t *t = rt_rates_new("x");
    assert_int_equal(rt_rates_export_csv(t, &out, &len), GW_EINVAL);
    test_seal(t);
    assert_int_equal(rt_rates_parse_csv("prefix,connector,cost,currency\n", 31, t, &errs),
                     GW_EINVAL);
    rt_rates_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_prefix_wins),
        cmocka_unit_test(test_lookup_stops_at_first_non_digit),
        cmocka_unit_test(test_cheapest_first_ties_by_connector_name),
        cmocka_unit_test(test_validity_window_is_half_open),
        cmocka_unit_test(test_expired_longest_prefix_falls_back_to_shorter),
        cmocka_unit_test(test_same_prefix_and_connector_may_not_overlap),
        cmocka_unit_test(test_add_refuses_bad_rows),
        cmocka_unit_test(test_empty_table_finds_nothing),
        cmocka_unit_test(test_foreach_walks_prefix_order_cheapest_first),
        cmocka_unit_test(test_many_prefixes_match_their_own_rows),
        cmocka_unit_test(test_csv_semicolon_sheet_with_quotes_and_dates),
        cmocka_unit_test(test_csv_comma_sheet_any_column_order),
        cmocka_unit_test(test_csv_missing_columns_are_named),
        cmocka_unit_test(test_csv_bad_fields_name_line_and_field),
        cmocka_unit_test(test_csv_decimal_comma_only_with_semicolons),
        cmocka_unit_test(test_csv_duplicates_name_both_lines),
        cmocka_unit_test(test_csv_bad_line_imports_nothing),
        cmocka_unit_test(test_csv_collects_errors_up_to_the_limit),
        cmocka_unit_test(test_csv_export_round_trips),
        cmocka_unit_test(test_csv_into_sealed_table_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
