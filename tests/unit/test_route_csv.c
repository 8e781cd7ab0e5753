/*
 * test_route_csv.c - the flat CSV form of rules (gateway/gw_route_csv.c):
 * a sheet read into rule JSON, bad lines reported with line and column and
 * nothing returned, compile errors mapped to lines, export of flat rules
 * and the list of those that do not fit, and sheet -> rules -> sheet
 * giving the same text.  Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw_errors.h"
#include "gw_route_csv.h"

#define HEAD "id,name,priority,enabled,description,source,src_prefix,dst_prefix,dst_regex," \
             "action,strategy,targets,rates,sip_status,smpp_status,reason\n"

static const char gw_test_sheet[] =
    HEAD
    "1,no-premium,1,true,,,,449|4487,,reject,,,,403,11,premium-rate destination\n"
    "2,uk,10,true,\"UK, cheapest first\",smpp-in,,447,,route,least_cost,,uk-sms,,,\n"
    "3,de,20,false,,,4930,49,^49[0-9]+$,route,weighted,a:3|b,,,,\n"
    "4,spam,30,true,,,,,,drop,,,,,,\n";

/* Parse text expecting success; the rules. */
static json_t *gw_test_parse(const char *text, json_t **lines)
{
    json_t *rules = NULL, *errors = NULL;
    size_t total = 9;
    int rc = gw_rcsv_parse(text, strlen(text), &rules, lines, &errors, &total);

    if (rc != 0) {
        char *dump = errors ? json_dumps(errors, 0) : NULL;
        fail_msg("parse failed (%d): %s", rc, dump ? dump : "");
    }
    assert_null(errors);
    return rules;
}

/* Parse text expecting GW_EINVAL; the first error's text is want. */
static void gw_test_refused(const char *text, const char *want)
{
    json_t *rules = NULL, *lines = NULL, *errors = NULL;
    size_t total = 0;

    assert_int_equal(gw_rcsv_parse(text, strlen(text), &rules, &lines, &errors, &total), GW_EINVAL);
    assert_null(rules);
    assert_null(lines);
    assert_non_null(errors);
    assert_true(total >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "text")), want);
    json_decref(errors);
}

static void test_sheet_becomes_rules(void **state)
{
    json_t *lines = NULL, *rules = gw_test_parse(gw_test_sheet, &lines);
    json_t *want = json_loads(
        "[{\"id\":1,\"name\":\"no-premium\",\"priority\":1,\"enabled\":true,"
        "  \"filters\":{\"dst\":{\"prefix\":[\"449\",\"4487\"]}},"
        "  \"action\":{\"reject\":{\"sip_status\":403,\"smpp_status\":11,\"reason\":\"premium-rate destination\"}}},"
        " {\"id\":2,\"name\":\"uk\",\"priority\":10,\"enabled\":true,\"description\":\"UK, cheapest first\","
        "  \"source\":{\"connector\":[\"smpp-in\"]},\"filters\":{\"dst\":{\"prefix\":[\"447\"]}},"
        "  \"action\":{\"route\":{\"strategy\":\"least_cost\",\"rates\":\"uk-sms\"}}},"
        " {\"id\":3,\"name\":\"de\",\"priority\":20,\"enabled\":false,"
        "  \"filters\":{\"dst\":{\"prefix\":[\"49\"],\"regex\":\"^49[0-9]+$\"},\"src\":{\"prefix\":[\"4930\"]}},"
        "  \"action\":{\"route\":{\"strategy\":\"weighted\",\"targets\":[{\"connector\":\"a\",\"weight\":3},\"b\"]}}},"
        " {\"id\":4,\"name\":\"spam\",\"priority\":30,\"enabled\":true,\"action\":{\"drop\":true}}]",
        0, NULL);

    (void)state;
    assert_non_null(want);
    if (!json_equal(rules, want)) {
        char *dump = json_dumps(rules, JSON_SORT_KEYS);
        fail_msg("got %s", dump);
    }
    assert_int_equal(json_integer_value(json_array_get(lines, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(lines, 3)), 5);
    json_decref(want);
    json_decref(rules);
    json_decref(lines);
}

static void test_round_trip_gives_the_same_sheet(void **state)
{
    json_t *lines = NULL, *rules = gw_test_parse(gw_test_sheet, &lines), *skipped = NULL;
    char *csv = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(gw_rcsv_export(rules, &csv, &len, &skipped), 0);
    assert_string_equal(csv, gw_test_sheet);
    assert_int_equal(len, strlen(gw_test_sheet));
    assert_int_equal(json_array_size(skipped), 0);
    free(csv);
    json_decref(skipped);
    json_decref(rules);
    json_decref(lines);
}

static void test_semicolons_quotes_and_defaults(void **state)
{
    /* a spreadsheet's ';' sheet with a BOM, CRLF, a quoted field across lines,
     * no id column (ids follow the rows), empty action = route */
    const char *text = "\xEF\xBB\xBFName;Priority;Dst Prefix;Targets;Description\r\n"
                       "x;5;44 45;a|b;\"two\r\nlines\"\r\n"
                       "\r\n"
                       "y;6;;c;\r\n";
    json_t *lines = NULL, *rules = gw_test_parse(text, &lines), *r0 = json_array_get(rules, 0);

    (void)state;
    assert_int_equal(json_array_size(rules), 2);
    assert_int_equal(json_integer_value(json_object_get(r0, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(r0, "description")), "two\r\nlines");
    assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(r0, "filters"), "dst"), "prefix")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 1), "id")), 2);
    assert_int_equal(json_integer_value(json_array_get(lines, 1)), 5);
    json_decref(rules);
    json_decref(lines);
}

static void test_unknown_column_is_refused(void **state)
{
    (void)state;
    gw_test_refused("name,priority,colour\nx,1,red\n", "line 1: header: unknown column \"colour\" (column 3)");
}

static void test_missing_columns_are_refused(void **state)
{
    (void)state;
    gw_test_refused("name,targets\nx,a\n", "line 1: header: missing column(s): priority");
}

static void test_bad_number_names_line_and_field(void **state)
{
    (void)state;
    gw_test_refused("name,priority,targets\nx,1,a\ny,ten,b\n", "line 3: priority: \"ten\": not an integer");
}

static void test_unknown_strategy_names_line_and_field(void **state)
{
    (void)state;
    gw_test_refused("name,priority,strategy,targets\nx,1,fastest,a\n",
                    "line 2: strategy: unknown strategy \"fastest\" (failover, round_robin, weighted "
                    "or least_cost)");
}

static void test_column_of_another_action_is_refused(void **state)
{
    (void)state;
    gw_test_refused("name,priority,action,targets\nx,1,reject,a\n", "line 2: targets: only with action route");
}

static void test_bad_weight_is_refused(void **state)
{
    (void)state;
    gw_test_refused("name,priority,strategy,targets\nx,1,weighted,a:0\n",
                    "line 2: targets: \"a:0\": a connector, or connector:weight with a weight of 1 or more");
}

static void test_every_bad_line_is_counted(void **state)
{
    const char *text = "name,priority,targets\nx,a,t\ny,b,t\nz,3,t\n";
    json_t *rules = NULL, *lines = NULL, *errors = NULL;
    size_t total = 0;

    (void)state;
    assert_int_equal(gw_rcsv_parse(text, strlen(text), &rules, &lines, &errors, &total), GW_EINVAL);
    assert_int_equal(total, 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 1), "line")), 3);
    json_decref(errors);
}

static void test_unterminated_quote_is_refused(void **state)
{
    (void)state;
    gw_test_refused("name,priority,targets\nx,1,\"a\n", "line 2: record: unterminated quote (field 3)");
}

static void test_compile_errors_map_to_lines_and_columns(void **state)
{
    json_t *lines = NULL, *rules = gw_test_parse("name,priority,targets\nx,1,a\ny,2,b\n", &lines);
    json_t *cerrs = json_loads("[{\"rule\":2,\"path\":\"action.route.targets[0]\",\"message\":\"no such\"},"
                               " {\"rule\":1,\"path\":\"priority\",\"message\":\"taken\"}]", 0, NULL);
    json_t *errs = gw_rcsv_compile_errors(cerrs, rules, lines);

    (void)state;
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "text")),
                        "line 3: targets: no such");
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 1), "text")),
                        "line 2: priority: taken");
    json_decref(errs);
    json_decref(cerrs);
    json_decref(rules);
    json_decref(lines);
}

static void test_rules_that_do_not_fit_are_skipped_with_a_reason(void **state)
{
    json_t *rules = json_loads(
        "[{\"id\":1,\"name\":\"flat\",\"priority\":1,\"action\":{\"route\":{\"targets\":[\"a\"]}}},"
        " {\"id\":2,\"name\":\"hours\",\"priority\":2,\"filters\":{\"time\":{\"tz\":\"UTC\"}},"
        "  \"action\":{\"route\":{\"targets\":[\"a\"]}}},"
        " {\"id\":3,\"name\":\"rw\",\"priority\":3,\"action\":{\"route\":{\"targets\":[\"a\"]},"
        "  \"rewrite\":{\"dst\":{\"strip\":1}}}},"
        " {\"id\":4,\"name\":\"tagged\",\"priority\":4,\"filters\":{\"tags\":{\"x\":true}},"
        "  \"action\":{\"drop\":true}}]", 0, NULL);
    json_t *skipped = NULL;
    char *csv = NULL;
    size_t len;

    (void)state;
    assert_int_equal(gw_rcsv_export(rules, &csv, &len, &skipped), 0);
    assert_string_equal(csv, HEAD "1,flat,1,true,,,,,,route,,a,,,,\n");
    assert_int_equal(json_array_size(skipped), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(skipped, 0), "id")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(skipped, 0), "reason")),
                        "filters.time: no column for it (JSON keeps it)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(skipped, 1), "reason")),
                        "action.rewrite: no column for it (JSON keeps it)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(skipped, 2), "name")), "tagged");
    free(csv);
    json_decref(skipped);
    json_decref(rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sheet_becomes_rules),
        cmocka_unit_test(test_round_trip_gives_the_same_sheet),
        cmocka_unit_test(test_semicolons_quotes_and_defaults),
        cmocka_unit_test(test_unknown_column_is_refused),
        cmocka_unit_test(test_missing_columns_are_refused),
        cmocka_unit_test(test_bad_number_names_line_and_field),
        cmocka_unit_test(test_unknown_strategy_names_line_and_field),
        cmocka_unit_test(test_column_of_another_action_is_refused),
        cmocka_unit_test(test_bad_weight_is_refused),
        cmocka_unit_test(test_every_bad_line_is_counted),
        cmocka_unit_test(test_unterminated_quote_is_refused),
        cmocka_unit_test(test_compile_errors_map_to_lines_and_columns),
        cmocka_unit_test(test_rules_that_do_not_fit_are_skipped_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
