/*
 * gw_route_csv.c - the flat CSV form of routing rules (gw_route_csv.h).
 * docs/routing.md "Rules as a sheet" is the user's description; keep the
 * column table below, the docs and the messages in step.
 *
 * Reading uses router/rt_csv.h, the reader rate sheets use too, so that a
 * rate sheet and a rule sheet are read alike (RFC 4180 records, the
 * separator from the header line, a byte order mark skipped, blanks around
 * fields trimmed); blank records are skipped and columns found by header
 * name case-insensitively in any order.  Unlike a rate sheet an unknown
 * column is an error: a typo must not widen a rule.
 *
 * Each data record becomes one rule object (the JSON routes.import takes),
 * every bad field reported with the record's first line; the caller
 * compiles the whole set and maps the compiler's errors back through
 * gw_rcsv_compile_errors.  Writing is the inverse for the rules whose every
 * field has a column; the others are listed, never dropped silently.
 *
 * Threads: any; nothing here is shared.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_errors.h"
#include "gw_route_csv.h"
#include "router/rt_csv.h"

/* Checklist: a new column needs its entry here, in gw_rcsv_row (read),
 * gw_rcsv_cells (write), gw_rcsv_paths (compile errors) and docs/routing.md. */
enum { GW_RCSV_ID, GW_RCSV_NAME, GW_RCSV_PRIORITY, GW_RCSV_ENABLED, GW_RCSV_DESCRIPTION,
       GW_RCSV_SOURCE, GW_RCSV_SRC_PREFIX, GW_RCSV_DST_PREFIX, GW_RCSV_DST_REGEX, GW_RCSV_ACTION,
       GW_RCSV_STRATEGY, GW_RCSV_TARGETS, GW_RCSV_RATES, GW_RCSV_SIP_STATUS, GW_RCSV_SMPP_STATUS,
       GW_RCSV_REASON, GW_RCSV_NCOLS };

/* Header names in export order; the columns a header must have. */
static const struct {
    const char *name;
    int required;
} gw_rcsv_cols[GW_RCSV_NCOLS] = {
    [GW_RCSV_ID] = { "id", 0 },
    [GW_RCSV_NAME] = { "name", 1 },
    [GW_RCSV_PRIORITY] = { "priority", 1 },
    [GW_RCSV_ENABLED] = { "enabled", 0 },
    [GW_RCSV_DESCRIPTION] = { "description", 0 },
    [GW_RCSV_SOURCE] = { "source", 0 },
    [GW_RCSV_SRC_PREFIX] = { "src_prefix", 0 },
    [GW_RCSV_DST_PREFIX] = { "dst_prefix", 0 },
    [GW_RCSV_DST_REGEX] = { "dst_regex", 0 },
    [GW_RCSV_ACTION] = { "action", 0 },
    [GW_RCSV_STRATEGY] = { "strategy", 0 },
    [GW_RCSV_TARGETS] = { "targets", 0 },
    [GW_RCSV_RATES] = { "rates", 0 },
    [GW_RCSV_SIP_STATUS] = { "sip_status", 0 },
    [GW_RCSV_SMPP_STATUS] = { "smpp_status", 0 },
    [GW_RCSV_REASON] = { "reason", 0 },
};

typedef struct gw_rcsv {
    rt_csvr_t rd;               /* the reader (router/rt_csv.h, shared with rate sheets) */
    json_t *errors;             /* at most GW_RCSV_ERRORS_MAX */
    size_t total;               /* every error */
    int nomem;
} gw_rcsv_t;

/* Append {line, field, reason, text} to errs (kept to GW_RCSV_ERRORS_MAX). */
static void gw_rcsv_verr(json_t *errs, size_t *total, int *nomem, unsigned line,
                         const char *field, const char *fmt, va_list ap)
{
    char reason[256], text[400];
    json_t *e;

    (*total)++;
    if (json_array_size(errs) >= GW_RCSV_ERRORS_MAX)
        return;
    vsnprintf(reason, sizeof reason, fmt, ap);
    snprintf(text, sizeof text, "line %u: %s: %s", line, field, reason);
    e = json_pack("{s:I, s:s, s:s, s:s}", "line", (json_int_t)line, "field", field, "reason",
                  reason, "text", text);
    if (e == NULL || json_array_append_new(errs, e) != 0)
        *nomem = 1;
}

static void gw_rcsv_err(gw_rcsv_t *c, unsigned line, const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gw_rcsv_verr(c->errors, &c->total, &c->nomem, line, field, fmt, ap);
    va_end(ap);
}

/* Read one record (rt_csvr_next), reporting an unterminated quote. */
static int gw_rcsv_record(gw_rcsv_t *c, unsigned *start)
{
    int r = rt_csvr_next(&c->rd, start);

    if (r == GW_EINVAL)
        gw_rcsv_err(c, c->rd.bad_line, "record", "unterminated quote (field %zu)", c->rd.nf + 1);
    return r;
}

/* Map the header record to col[]; 0, or GW_EINVAL with the errors reported. */
static int gw_rcsv_header(gw_rcsv_t *c, unsigned line, size_t col[GW_RCSV_NCOLS])
{
    char missing[128] = "";
    int rc = 0;

    for (int k = 0; k < GW_RCSV_NCOLS; k++)
        col[k] = SIZE_MAX;
    if (c->rd.nf > RT_CSV_FIELDS_MAX) {
        gw_rcsv_err(c, line, "header", "%zu columns, at most %d", c->rd.nf, RT_CSV_FIELDS_MAX);
        return GW_EINVAL;
    }
    for (size_t i = 0; i < c->rd.nf; i++) {
        int k;
        for (k = 0; k < GW_RCSV_NCOLS && !rt_csvr_name_is(rt_csvr_field(&c->rd, i), gw_rcsv_cols[k].name); k++)
            ;
        if (k == GW_RCSV_NCOLS) {
            gw_rcsv_err(c, line, "header", "unknown column \"%s\" (column %zu)", rt_csvr_field(&c->rd, i), i + 1);
            rc = GW_EINVAL;
        } else if (col[k] != SIZE_MAX) {
            gw_rcsv_err(c, line, "header", "columns %zu and %zu both give %s", col[k] + 1, i + 1,
                        gw_rcsv_cols[k].name);
            rc = GW_EINVAL;
        } else {
            col[k] = i;
        }
    }
    for (int k = 0; k < GW_RCSV_NCOLS; k++) {
        if (gw_rcsv_cols[k].required && col[k] == SIZE_MAX) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", gw_rcsv_cols[k].name);
        }
    }
    if (missing[0] != '\0') {
        gw_rcsv_err(c, line, "header", "missing column(s): %s", missing);
        rc = GW_EINVAL;
    }
    return rc;
}

/* ---- one record -> one rule ---- */

/* s as a decimal integer (or 0x hex when hex); 0 or -1. */
static int gw_rcsv_int(const char *s, int hex, long long *out)
{
    char *end;
    int base = 10;

    if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16;
    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    *out = strtoll(s, &end, base);
    return *end == '\0' ? 0 : -1;
}

/* The items of a list cell ("a|b c"): a new array of strings (maybe empty). */
static json_t *gw_rcsv_list(const char *s)
{
    json_t *a = json_array();

    while (a != NULL && *s) {
        size_t n = strcspn(s, "| \t\r\n");
        if (n > 0 && json_array_append_new(a, json_stringn(s, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        s += n;
        s += strspn(s, "| \t\r\n");
    }
    return a;
}

/* The targets cell: "a|b:3" -> ["a", {"connector":"b","weight":3}].  NULL
 * with the error reported. */
static json_t *gw_rcsv_targets(gw_rcsv_t *c, unsigned line, const char *s)
{
    json_t *items = gw_rcsv_list(s), *out = json_array(), *v;
    size_t i;

    if (items == NULL || out == NULL) {
        c->nomem = 1;
        goto out_fail;
    }
    json_array_foreach(items, i, v) {
        const char *t = json_string_value(v), *colon = strchr(t, ':');
        long long w;
        json_t *e;
        if (colon == NULL) {
            e = json_incref(v);
        } else if (colon == t || gw_rcsv_int(colon + 1, 0, &w) != 0 || w < 1) {
            gw_rcsv_err(c, line, "targets", "\"%s\": a connector, or connector:weight with a "
                        "weight of 1 or more", t);
            goto out_fail;
        } else {
            e = json_pack("{s:s%, s:I}", "connector", t, (size_t)(colon - t), "weight", (json_int_t)w);
        }
        if (e == NULL || json_array_append_new(out, e) != 0) {
            c->nomem = 1;
            goto out_fail;
        }
    }
    json_decref(items);
    return out;

out_fail:
    json_decref(items);
    json_decref(out);
    return NULL;
}

/* The cell of column k ("" when the header lacks it). */
static const char *gw_rcsv_cell(const gw_rcsv_t *c, const size_t col[GW_RCSV_NCOLS], int k)
{
    return col[k] == SIZE_MAX ? "" : rt_csvr_field(&c->rd, col[k]);
}

/* Set obj[key] to a list cell's items when it has any. */
static void gw_rcsv_set_list(gw_rcsv_t *c, json_t *obj, const char *key, const char *cell)
{
    json_t *a = gw_rcsv_list(cell);

    if (a == NULL)
        c->nomem = 1;
    else if (json_array_size(a) == 0)
        json_decref(a);
    else if (json_object_set_new(obj, key, a) != 0)
        c->nomem = 1;
}

/* The action object of a record; NULL with the errors reported. */
static json_t *gw_rcsv_action(gw_rcsv_t *c, unsigned line, const size_t col[GW_RCSV_NCOLS])
{
    static const int route_only[] = { GW_RCSV_STRATEGY, GW_RCSV_TARGETS, GW_RCSV_RATES, -1 };
    static const int reject_only[] = { GW_RCSV_SIP_STATUS, GW_RCSV_SMPP_STATUS, -1 };
    static const char *const strategies[] = { "failover", "round_robin", "weighted", "least_cost", NULL };
    const char *kind = gw_rcsv_cell(c, col, GW_RCSV_ACTION), *s;
    json_t *body = json_object(), *t;
    size_t before = c->total;
    long long v;

    if (body == NULL) {
        c->nomem = 1;
        return NULL;
    }
    if (*kind == '\0')
        kind = "route";
    if (strcmp(kind, "route") != 0 && strcmp(kind, "reject") != 0 && strcmp(kind, "drop") != 0) {
        gw_rcsv_err(c, line, "action", "unknown action \"%s\" (route, reject or drop)", kind);
        goto out_fail;
    }
    for (int i = 0; route_only[i] >= 0; i++)
        if (strcmp(kind, "route") != 0 && *gw_rcsv_cell(c, col, route_only[i]))
            gw_rcsv_err(c, line, gw_rcsv_cols[route_only[i]].name, "only with action route");
    for (int i = 0; reject_only[i] >= 0; i++)
        if (strcmp(kind, "reject") != 0 && *gw_rcsv_cell(c, col, reject_only[i]))
            gw_rcsv_err(c, line, gw_rcsv_cols[reject_only[i]].name, "only with action reject");
    if (strcmp(kind, "route") == 0 && *gw_rcsv_cell(c, col, GW_RCSV_REASON))
        gw_rcsv_err(c, line, "reason", "only with action reject or drop");
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_STRATEGY))) {
        int k;
        for (k = 0; strategies[k] && strcmp(strategies[k], s) != 0; k++)
            ;
        if (strategies[k] == NULL)
            gw_rcsv_err(c, line, "strategy", "unknown strategy \"%s\" (failover, round_robin, "
                        "weighted or least_cost)", s);
        else
            json_object_set_new(body, "strategy", json_string(s));
    }
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_TARGETS)) && strcmp(kind, "route") == 0) {
        if ((t = gw_rcsv_targets(c, line, s)) != NULL && json_array_size(t) > 0)
            json_object_set_new(body, "targets", t);
        else
            json_decref(t);
    }
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_RATES)))
        json_object_set_new(body, "rates", json_string(s));
    for (int k = GW_RCSV_SIP_STATUS; k <= GW_RCSV_SMPP_STATUS; k++) {
        if (!*(s = gw_rcsv_cell(c, col, k)))
            continue;
        if (gw_rcsv_int(s, k == GW_RCSV_SMPP_STATUS, &v) != 0 || v < 0)
            gw_rcsv_err(c, line, gw_rcsv_cols[k].name, "\"%s\": not a number", s);
        else
            json_object_set_new(body, gw_rcsv_cols[k].name, json_integer(v));
    }
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_REASON)))
        json_object_set_new(body, "reason", json_string(s));
    if (c->total != before)
        goto out_fail;
    if (strcmp(kind, "drop") == 0 && json_object_size(body) == 0) {
        json_decref(body);
        body = json_true(); /* drop: true, as written by hand */
    }
    return json_pack("{s:o}", kind, body);

out_fail:
    json_decref(body);
    return NULL;
}

/* One data record as a rule; NULL with the errors reported (or c->nomem). */
static json_t *gw_rcsv_row(gw_rcsv_t *c, unsigned line, const size_t col[GW_RCSV_NCOLS],
                           size_t ncols, size_t ordinal)
{
    json_t *rule = json_object(), *filters = json_object(), *dst = json_object(),
           *src = json_object(), *source = json_object(), *action;
    size_t before = c->total;
    long long id = (long long)ordinal, prio = 0;
    const char *s;
    char name[32];

    if (rule == NULL || filters == NULL || dst == NULL || src == NULL || source == NULL) {
        c->nomem = 1;
        goto out_fail;
    }
    for (size_t i = 0; i < c->rd.nf && i < RT_CSV_FIELDS_MAX; i++)
        if (c->rd.quoted[i] < 0)
            gw_rcsv_err(c, line, "record", "text after the closing quote of field %zu", i + 1);
    for (size_t i = ncols; i < c->rd.nf && i < RT_CSV_FIELDS_MAX; i++) {
        if (*rt_csvr_field(&c->rd, i) != '\0') {
            gw_rcsv_err(c, line, "record", "%zu fields, the header has %zu", c->rd.nf, ncols);
            break;
        }
    }
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_ID)) && (gw_rcsv_int(s, 0, &id) != 0 || id < 1))
        gw_rcsv_err(c, line, "id", "\"%s\": not a positive integer", s);
    if (!*(s = gw_rcsv_cell(c, col, GW_RCSV_PRIORITY)))
        gw_rcsv_err(c, line, "priority", "required");
    else if (gw_rcsv_int(s, 0, &prio) != 0)
        gw_rcsv_err(c, line, "priority", "\"%s\": not an integer", s);
    json_object_set_new(rule, "id", json_integer(id));
    snprintf(name, sizeof name, "rule-%lld", id);
    s = gw_rcsv_cell(c, col, GW_RCSV_NAME);
    json_object_set_new(rule, "name", json_string(*s ? s : name));
    json_object_set_new(rule, "priority", json_integer(prio));
    s = gw_rcsv_cell(c, col, GW_RCSV_ENABLED);
    if (*s == '\0' || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0)
        json_object_set_new(rule, "enabled", json_true());
    else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0)
        json_object_set_new(rule, "enabled", json_false());
    else
        gw_rcsv_err(c, line, "enabled", "\"%s\": true or false", s);
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_DESCRIPTION)))
        json_object_set_new(rule, "description", json_string(s));
    gw_rcsv_set_list(c, source, "connector", gw_rcsv_cell(c, col, GW_RCSV_SOURCE));
    gw_rcsv_set_list(c, src, "prefix", gw_rcsv_cell(c, col, GW_RCSV_SRC_PREFIX));
    gw_rcsv_set_list(c, dst, "prefix", gw_rcsv_cell(c, col, GW_RCSV_DST_PREFIX));
    if (*(s = gw_rcsv_cell(c, col, GW_RCSV_DST_REGEX)))
        json_object_set_new(dst, "regex", json_string(s));
    if (json_object_size(source) > 0)
        json_object_set(rule, "source", source);
    if (json_object_size(dst) > 0)
        json_object_set(filters, "dst", dst);
    if (json_object_size(src) > 0)
        json_object_set(filters, "src", src);
    if (json_object_size(filters) > 0)
        json_object_set(rule, "filters", filters);
    if ((action = gw_rcsv_action(c, line, col)) != NULL)
        json_object_set_new(rule, "action", action);
    if (c->total != before || c->nomem)
        goto out_fail;
    json_decref(filters);
    json_decref(dst);
    json_decref(src);
    json_decref(source);
    return rule;

out_fail:
    json_decref(rule);
    json_decref(filters);
    json_decref(dst);
    json_decref(src);
    json_decref(source);
    return NULL;
}

int gw_rcsv_parse(const char *text, size_t len, json_t **rules, json_t **lines,
                  json_t **errors, size_t *total)
{
    gw_rcsv_t c;
    size_t col[GW_RCSV_NCOLS], ncols = 0, ordinal = 0;
    unsigned line;
    int rc = 0, r;

    memset(&c, 0, sizeof c);
    *rules = json_array();
    *lines = json_array();
    *errors = NULL;
    *total = 0;
    c.errors = json_array();
    rt_csvr_init(&c.rd, text, len);
    if (*rules == NULL || *lines == NULL || c.errors == NULL) {
        rc = GW_ENOMEM;
        goto out;
    }
    do
        r = gw_rcsv_record(&c, &line);
    while (r == 1 && rt_csvr_blank(&c.rd));
    if (r == 0)
        gw_rcsv_err(&c, 1, "header", "no header row (empty sheet)");
    else if (r == 1 && gw_rcsv_header(&c, line, col) == 0)
        ncols = c.rd.nf;
    while (ncols > 0 && !c.nomem && (r = gw_rcsv_record(&c, &line)) == 1) {
        json_t *rule;
        if (rt_csvr_blank(&c.rd))
            continue;
        if ((rule = gw_rcsv_row(&c, line, col, ncols, ++ordinal)) == NULL)
            continue;
        if (json_array_append_new(*rules, rule) != 0 ||
            json_array_append_new(*lines, json_integer(line)) != 0)
            c.nomem = 1;
    }
    if (c.nomem || r == GW_ENOMEM)
        rc = GW_ENOMEM;
    else if (c.total > 0)
        rc = GW_EINVAL;
out:
    rt_csvr_free(&c.rd);
    if (rc == GW_EINVAL) {
        *errors = c.errors;
        *total = c.total;
    } else {
        json_decref(c.errors);
    }
    if (rc != 0) {
        json_decref(*rules);
        json_decref(*lines);
        *rules = *lines = NULL;
    }
    return rc;
}

/* ---- compile errors -> sheet errors ---- */

/* A compiler path's column: the longest prefix listed wins (the order). */
static const struct {
    const char *path, *column;
} gw_rcsv_paths[] = {
    { "filters.dst.prefix", "dst_prefix" }, { "filters.dst.regex", "dst_regex" },
    { "filters.src.prefix", "src_prefix" }, { "source.connector", "source" },
    { "action.route.strategy", "strategy" }, { "action.route.targets", "targets" },
    { "action.route.rates", "rates" },       { "action.reject.sip_status", "sip_status" },
    { "action.reject.smpp_status", "smpp_status" }, { "action.reject.reason", "reason" },
    { "action.drop.reason", "reason" },      { "action", "action" },
    { "priority", "priority" },              { "name", "name" },
    { "id", "id" },                          { "enabled", "enabled" },
    { "description", "description" },       { "source", "source" },
};

static const char *gw_rcsv_column_of(const char *path)
{
    for (size_t i = 0; i < sizeof gw_rcsv_paths / sizeof gw_rcsv_paths[0]; i++) {
        size_t n = strlen(gw_rcsv_paths[i].path);
        if (strncmp(path, gw_rcsv_paths[i].path, n) == 0 &&
            (path[n] == '\0' || path[n] == '.' || path[n] == '['))
            return gw_rcsv_paths[i].column;
    }
    return path;
}

static void gw_rcsv_errv(json_t *errs, size_t *total, int *nomem, unsigned line,
                         const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gw_rcsv_verr(errs, total, nomem, line, field, fmt, ap);
    va_end(ap);
}

json_t *gw_rcsv_compile_errors(const json_t *cerrs, const json_t *rules, const json_t *lines)
{
    json_t *out = json_array(), *e, *r;
    size_t i, k, total = 0;
    int nomem = 0;

    json_array_foreach(cerrs, i, e) {
        const json_t *rid = json_object_get(e, "rule");
        const char *path = json_string_value(json_object_get(e, "path"));
        unsigned line = 0;
        json_array_foreach(rules, k, r) {
            if (json_is_integer(rid) &&
                json_integer_value(json_object_get(r, "id")) == json_integer_value(rid)) {
                line = (unsigned)json_integer_value(json_array_get(lines, k));
                break; /* a duplicate id: the first line holding it */
            }
        }
        gw_rcsv_errv(out, &total, &nomem, line, gw_rcsv_column_of(path ? path : ""), "%s",
                     json_string_value(json_object_get(e, "message")) ?: "invalid");
    }
    if (nomem) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- export ---- */

/* Only the keys listed (NULL-terminated) in obj: 0, or -1 with why. */
static int gw_rcsv_only(const json_t *obj, const char *at, const char *const *keys, char *why,
                        size_t whylen)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        const char *const *k;
        for (k = keys; *k && strcmp(*k, key) != 0; k++)
            ;
        if (*k == NULL) {
            snprintf(why, whylen, "%s%s%s: no column for it (JSON keeps it)", at, *at ? "." : "", key);
            return -1;
        }
    }
    return 0;
}

/* A string or a list of strings joined by '|' into cell; extra is a
 * character an item may not hold either (':' in targets).  0 or -1 (why). */
static int gw_rcsv_join(const json_t *v, const char *at, char *cell, size_t cellsz, char *why,
                        size_t whylen)
{
    size_t i, off = 0;
    json_t *x;
    json_t *one = json_is_string(v) ? json_pack("[O]", v) : NULL;
    const json_t *list = one != NULL ? one : v;
    int rc = 0;

    cell[0] = '\0';
    if (!json_is_array(list)) {
        snprintf(why, whylen, "%s: neither a string nor a list", at);
        rc = -1;
    }
    json_array_foreach(list, i, x) {
        const char *s = json_string_value(x);
        if (s == NULL || *s == '\0' || strpbrk(s, "| \t\r\n") != NULL) {
            snprintf(why, whylen, "%s: an item the flat form cannot write", at);
            rc = -1;
            break;
        }
        off += (size_t)snprintf(cell + off, off < cellsz ? cellsz - off : 0, "%s%s", i ? "|" : "", s);
    }
    if (rc == 0 && off >= cellsz) {
        snprintf(why, whylen, "%s: too long for a cell", at);
        rc = -1;
    }
    json_decref(one);
    return rc;
}

#define GW_RCSV_CELL_MAX 4096

/* The targets of a route as "a|b:3".  0 or -1 (why). */
static int gw_rcsv_join_targets(const json_t *targets, char *cell, size_t cellsz, char *why,
                                size_t whylen)
{
    static const char *const tkeys[] = { "connector", "weight", NULL };
    size_t i, off = 0;
    json_t *t;

    cell[0] = '\0';
    if (targets != NULL && !json_is_array(targets)) {
        snprintf(why, whylen, "action.route.targets: not a list");
        return -1;
    }
    json_array_foreach(targets, i, t) {
        const char *name = json_is_string(t) ? json_string_value(t)
                                             : json_string_value(json_object_get(t, "connector"));
        const json_t *w = json_object_get(t, "weight");
        char wbuf[32] = "";
        if (json_is_object(t) && gw_rcsv_only(t, "action.route.targets", tkeys, why, whylen) != 0)
            return -1;
        if (name == NULL || *name == '\0' || strpbrk(name, "|: \t\r\n") != NULL ||
            (w != NULL && !json_is_integer(w))) {
            snprintf(why, whylen, "action.route.targets: a target the flat form cannot write");
            return -1;
        }
        if (w != NULL)
            snprintf(wbuf, sizeof wbuf, ":%lld", (long long)json_integer_value(w));
        off += (size_t)snprintf(cell + off, off < cellsz ? cellsz - off : 0, "%s%s%s", i ? "|" : "",
                                name, wbuf);
    }
    if (off >= cellsz) {
        snprintf(why, whylen, "action.route.targets: too long for a cell");
        return -1;
    }
    return 0;
}

/* The action columns of rule (action .. reason).  0 or -1 (why). */
static int gw_rcsv_action_cells(const json_t *action, char cells[][GW_RCSV_CELL_MAX], char *why,
                                size_t whylen)
{
    static const char *const kinds[] = { "route", "reject", "drop", NULL };
    static const char *const rkeys[] = { "strategy", "targets", "rates", NULL };
    static const char *const jkeys[] = { "sip_status", "smpp_status", "reason", NULL };
    static const char *const dkeys[] = { "reason", NULL };
    const json_t *body;
    const char *kind = NULL;

    if (gw_rcsv_only(action, "action", kinds, why, whylen) != 0)
        return -1; /* rewrite, set, mirror, rate_limit */
    if (!json_is_object(action) || json_object_size(action) != 1) {
        snprintf(why, whylen, "action: not exactly one of route, reject, drop");
        return -1;
    }
    kind = json_object_iter_key(json_object_iter((json_t *)action));
    body = json_object_get(action, kind);
    snprintf(cells[GW_RCSV_ACTION], GW_RCSV_CELL_MAX, "%s", kind);
    if (strcmp(kind, "route") == 0) {
        if (!json_is_object(body) || gw_rcsv_only(body, "action.route", rkeys, why, whylen) != 0 ||
            gw_rcsv_join_targets(json_object_get(body, "targets"), cells[GW_RCSV_TARGETS],
                                 GW_RCSV_CELL_MAX, why, whylen) != 0)
            return -1;
        snprintf(cells[GW_RCSV_STRATEGY], GW_RCSV_CELL_MAX, "%s",
                 json_string_value(json_object_get(body, "strategy")) ?: "");
        snprintf(cells[GW_RCSV_RATES], GW_RCSV_CELL_MAX, "%s",
                 json_string_value(json_object_get(body, "rates")) ?: "");
        return 0;
    }
    if (strcmp(kind, "drop") == 0 && json_is_true(body))
        return 0;
    if (!json_is_object(body) ||
        gw_rcsv_only(body, "action", strcmp(kind, "drop") == 0 ? dkeys : jkeys, why, whylen) != 0)
        return -1;
    for (int k = GW_RCSV_SIP_STATUS; k <= GW_RCSV_SMPP_STATUS; k++)
        if (json_is_integer(json_object_get(body, gw_rcsv_cols[k].name)))
            snprintf(cells[k], GW_RCSV_CELL_MAX, "%lld",
                     (long long)json_integer_value(json_object_get(body, gw_rcsv_cols[k].name)));
    snprintf(cells[GW_RCSV_REASON], GW_RCSV_CELL_MAX, "%s",
             json_string_value(json_object_get(body, "reason")) ?: "");
    return 0;
}

/* Every column of rule into cells, or -1 with why it does not fit. */
static int gw_rcsv_cells(const json_t *rule, char cells[][GW_RCSV_CELL_MAX], char *why, size_t whylen)
{
    static const char *const top[] = { "id", "name", "priority", "enabled", "description",
                                       "source", "filters", "action", NULL };
    static const char *const skeys[] = { "connector", NULL };
    static const char *const fkeys[] = { "dst", "src", NULL };
    static const char *const dkeys[] = { "prefix", "regex", NULL };
    static const char *const pkeys[] = { "prefix", NULL };
    const json_t *source = json_object_get(rule, "source"), *filters = json_object_get(rule, "filters");
    const json_t *dst = json_object_get(filters, "dst"), *src = json_object_get(filters, "src"), *v;

    for (int k = 0; k < GW_RCSV_NCOLS; k++)
        cells[k][0] = '\0';
    if (gw_rcsv_only(rule, "", top, why, whylen) != 0 ||
        (source != NULL && gw_rcsv_only(source, "source", skeys, why, whylen) != 0) ||
        (filters != NULL && gw_rcsv_only(filters, "filters", fkeys, why, whylen) != 0) ||
        (dst != NULL && gw_rcsv_only(dst, "filters.dst", dkeys, why, whylen) != 0) ||
        (src != NULL && gw_rcsv_only(src, "filters.src", pkeys, why, whylen) != 0))
        return -1;
    if (!json_is_integer(json_object_get(rule, "id")) || !json_is_integer(json_object_get(rule, "priority"))) {
        snprintf(why, whylen, "id or priority: not an integer");
        return -1;
    }
    snprintf(cells[GW_RCSV_ID], GW_RCSV_CELL_MAX, "%lld", (long long)json_integer_value(json_object_get(rule, "id")));
    snprintf(cells[GW_RCSV_NAME], GW_RCSV_CELL_MAX, "%s", json_string_value(json_object_get(rule, "name")) ?: "");
    snprintf(cells[GW_RCSV_PRIORITY], GW_RCSV_CELL_MAX, "%lld",
             (long long)json_integer_value(json_object_get(rule, "priority")));
    snprintf(cells[GW_RCSV_ENABLED], GW_RCSV_CELL_MAX, "%s",
             json_is_false(json_object_get(rule, "enabled")) ? "false" : "true");
    snprintf(cells[GW_RCSV_DESCRIPTION], GW_RCSV_CELL_MAX, "%s",
             json_string_value(json_object_get(rule, "description")) ?: "");
    if (((v = json_object_get(source, "connector")) != NULL &&
         gw_rcsv_join(v, "source.connector", cells[GW_RCSV_SOURCE], GW_RCSV_CELL_MAX, why, whylen) != 0) ||
        ((v = json_object_get(src, "prefix")) != NULL &&
         gw_rcsv_join(v, "filters.src.prefix", cells[GW_RCSV_SRC_PREFIX], GW_RCSV_CELL_MAX, why, whylen) != 0) ||
        ((v = json_object_get(dst, "prefix")) != NULL &&
         gw_rcsv_join(v, "filters.dst.prefix", cells[GW_RCSV_DST_PREFIX], GW_RCSV_CELL_MAX, why, whylen) != 0))
        return -1;
    snprintf(cells[GW_RCSV_DST_REGEX], GW_RCSV_CELL_MAX, "%s",
             json_string_value(json_object_get(dst, "regex")) ?: "");
    return gw_rcsv_action_cells(json_object_get(rule, "action"), cells, why, whylen);
}

int gw_rcsv_export(const json_t *rules, char **csv, size_t *len, json_t **skipped)
{
    rt_csvw_t o = { NULL, 0, 0, 0 };
    char (*cells)[GW_RCSV_CELL_MAX] = calloc(GW_RCSV_NCOLS, sizeof *cells);
    char why[256];
    size_t i;
    json_t *rule;
    int rc = 0;

    *csv = NULL;
    *len = 0;
    *skipped = json_array();
    if (cells == NULL || *skipped == NULL) {
        rc = GW_ENOMEM;
        goto out;
    }
    for (int k = 0; k < GW_RCSV_NCOLS; k++) {
        rt_csvw_put(&o, k ? "," : "", k ? 1 : 0);
        rt_csvw_put(&o, gw_rcsv_cols[k].name, strlen(gw_rcsv_cols[k].name));
    }
    rt_csvw_put(&o, "\n", 1);
    json_array_foreach(rules, i, rule) {
        if (gw_rcsv_cells(rule, cells, why, sizeof why) != 0) {
            if (json_array_append_new(*skipped, json_pack("{s:O?, s:O?, s:s}", "id",
                                                          json_object_get(rule, "id"), "name",
                                                          json_object_get(rule, "name"),
                                                          "reason", why)) != 0)
                rc = GW_ENOMEM;
            continue;
        }
        for (int k = 0; k < GW_RCSV_NCOLS; k++) {
            rt_csvw_put(&o, ",", k ? 1 : 0);
            rt_csvw_field(&o, cells[k]);
        }
        rt_csvw_put(&o, "\n", 1);
    }
    if (rc == 0)
        rc = o.rc;
out:
    free(cells);
    if (rc != 0) {
        free(o.buf);
        json_decref(*skipped);
        *skipped = NULL;
        return rc;
    }
    *csv = o.buf;
    *len = o.len;
    return 0;
}
