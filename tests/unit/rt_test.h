/*
 * rt_test.h - helpers shared by the rule engine's tests (test_rt_*.c):
 * compiling rules from JSON text, expecting errors, and default queries.
 * Static functions: each test binary includes it once.
 */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_engine.h"

/* Rate tables the compiler can find by name (rt_test_rates[i], NULL-terminated). */
static rt_rates_t *rt_test_rates[8];

/* A table is sealed the first time the compiler asks for it. */
static const rt_rates_t *rt_test_find_rates(void *ctx, const char *name)
{
    char err[160];
    (void)ctx;
    for (size_t i = 0; i < 8 && rt_test_rates[i] != NULL; i++)
        if (strcmp(rt_rates_name(rt_test_rates[i]), name) == 0) {
            if (!rt_rates_sealed(rt_test_rates[i]) && rt_rates_seal(rt_test_rates[i], err, sizeof err) != 0)
                fail_msg("seal %s: %s", name, err);
            return rt_test_rates[i];
        }
    return NULL;
}

/* The tests' rate tables: rt_rates.h's builder, each row asserted. */
__attribute__((unused)) static rt_rates_t *rt_stub_rates_new(const char *name)
{
    rt_rates_t *t = rt_rates_new(name);
    if (t == NULL)
        fail_msg("rt_rates_new %s", name);
    return t;
}

__attribute__((unused)) static int rt_stub_rates_add(rt_rates_t *t, const char *prefix,
                                                     const char *connector, double cost,
                                                     const char *currency, int64_t from, int64_t to)
{
    char err[160];
    int rc = rt_rates_add(t, prefix, connector, cost, currency, from, to, err, sizeof err);
    if (rc != 0)
        fail_msg("rt_rates_add %s %s: %s", prefix, connector, err);
    return rc;
}

__attribute__((unused)) static void rt_stub_rates_free(rt_rates_t *t)
{
    rt_rates_free(t);
}

static const rt_compile_opts_t rt_test_opts = { .find_rates = rt_test_find_rates };

/* JSON text written with ' for " (readable in C strings): a copy with
 * the quotes turned back; caller frees. */
static char *rt_test_json(const char *text)
{
    char *t = strdup(text);
    for (char *p = t; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return t;
}

static json_t *rt_test_load(const char *text)
{
    json_error_t jerr;
    char *t = rt_test_json(text);
    json_t *j = json_loads(t, 0, &jerr);
    free(t);
    if (j == NULL)
        fail_msg("bad test JSON: %s at line %d col %d", jerr.text, jerr.line, jerr.column);
    return j;
}

/* Compile text the test, printing every error, when it does not. */
__attribute__((unused)) static rt_set_t *rt_test_compile(const char *text)
{
    json_t *errs = NULL, *rules = rt_test_load(text);
    rt_set_t *s = rt_compile(rules, &rt_test_opts, &errs);
    if (s == NULL) {
        char *dump = json_dumps(errs, JSON_INDENT(1));
        fprintf(stderr, "%s\n", dump);
        free(dump);
        fail_msg("rules did not compile");
    }
    json_decref(rules);
    return s;
}

/* Compile text expecting failure; the errors array (caller decrefs). */
__attribute__((unused)) static json_t *rt_test_errors(const char *text)
{
    json_t *errs = NULL, *rules = rt_test_load(text);
    rt_set_t *s = rt_compile(rules, &rt_test_opts, &errs);
    json_decref(rules);
    if (s != NULL) {
        rt_set_unref(s);
        fail_msg("rules compiled but should not have");
    }
    if (!json_is_array(errs) || json_array_size(errs) == 0)
        fail_msg("no errors returned");
    return errs;
}

/* 1 when one of errs has exactly this "text". */
__attribute__((unused)) static int rt_test_has_error(const json_t *errs, const char *text)
{
    for (size_t i = 0; i < json_array_size(errs); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(errs, i), "text")), text) == 0)
            return 1;
    char *dump = json_dumps(errs, JSON_INDENT(1));
    fprintf(stderr, "wanted \"%s\" in %s\n", text, dump);
    free(dump);
    return 0;
}

/* 2026-03-30 (a Monday) 10:00 UTC. */
#define RT_TEST_NOW 1774864800

/* A text message from connector sip0, international from and to. */
__attribute__((unused)) static rt_query_t rt_test_query(const char *from, const char *to)
{
    rt_query_t q;
    memset(&q, 0, sizeof q);
    q.source.connector = "sip0";
    q.from.address = (char *)from;
    q.from.type = GW_ADDR_INTL;
    q.from.ton = GW_TON_INTL;
    q.from.npi = GW_NPI_ISDN;
    q.to.address = (char *)to;
    q.to.type = GW_ADDR_INTL;
    q.to.ton = GW_TON_INTL;
    q.to.npi = GW_NPI_ISDN;
    q.body = "hello";
    q.body_len = 5;
    q.coding = RT_CODING_GSM;
    q.chars = 5;
    q.parts = 1;
    q.now = RT_TEST_NOW;
    return q;
}

#endif
