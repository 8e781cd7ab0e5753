/*
 * rt_rates_csv.c - operator rate sheets in and out: rt_rates_parse_csv and
 * rt_rates_export_csv.  docs/rates.md is the user's description; keep the two
 * in step (header names, date forms, messages).
 *
 * Reading: RFC 4180 records through rt_csv.h (quoted fields with ""
 * escapes, CRLF or LF, a quoted field may span lines) with the separator
 * taken from the header line (',' or ';', whichever it has more of outside
 * quotes).  Columns are
 * found by their header names, case-insensitively, in any order; extra
 * columns are ignored.  Each record's fields are unescaped into one scratch
 * buffer and the row goes through rt_rates_add_row, which validates it, so
 * the sheet and the API refuse the same things.  The import is all or
 * nothing: rows are appended as they parse, checked for overlaps against the
 * whole table at the end, and removed again if any line was bad.
 *
 * The text is the caller's; nothing here reads a file.  Threads: the
 * table's builder (import); any thread for a sealed table (export).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_csv.h"
#include "router/rt_rates_int.h"
#include "gw_errors.h"

enum { RT_CSV_PREFIX, RT_CSV_CONNECTOR, RT_CSV_COST, RT_CSV_CURRENCY, RT_CSV_FROM, RT_CSV_TO,
       RT_CSV_NCOLS };

/* Header names of each column; the first is the canonical one. */
static const struct {
    const char *names[4];
    int required;
} rt_csv_cols[RT_CSV_NCOLS] = {
    [RT_CSV_PREFIX] = { { "prefix" }, 1 },
    [RT_CSV_CONNECTOR] = { { "connector" }, 1 },
    [RT_CSV_COST] = { { "cost", "rate", "price" }, 1 },
    [RT_CSV_CURRENCY] = { { "currency" }, 1 },
    [RT_CSV_FROM] = { { "valid_from" }, 0 },
    [RT_CSV_TO] = { { "valid_to" }, 0 },
};

typedef struct rt_csv {
    rt_csvr_t rd;               /* the reader (rt_csv.h) */
    rt_csv_errors_t *errs;
} rt_csv_t;

static void rt_csv_err(rt_csv_t *c, unsigned line, unsigned other, const char *field,
                       const char *fmt, ...)
{
    va_list ap;
    rt_csv_error_t *e;

    c->errs->total++;
    if (c->errs->count >= RT_CSV_ERRORS_MAX)
        return;
    e = &c->errs->err[c->errs->count++];
    e->line = line;
    e->other_line = other;
    snprintf(e->field, sizeof e->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
}

const char *rt_csv_error_format(const rt_csv_error_t *e, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "line %u: %s: %s", e->line, e->field, e->reason);
    return buf;
}

/* Read one record (rt_csvr_next), reporting an unterminated quote. */
static int rt_csv_record(rt_csv_t *c, unsigned *start)
{
    int r = rt_csvr_next(&c->rd, start);

    if (r == GW_EINVAL)
        rt_csv_err(c, c->rd.bad_line, 0, "record", "unterminated quote (field %zu)", c->rd.nf + 1);
    return r;
}

/* Map the header record to col[]; 0, or GW_EINVAL with the errors reported. */
static int rt_csv_header(rt_csv_t *c, unsigned line, size_t col[RT_CSV_NCOLS])
{
    char missing[128] = "";
    int rc = 0;

    for (int k = 0; k < RT_CSV_NCOLS; k++)
        col[k] = SIZE_MAX;
    for (size_t i = 0; i < c->rd.nf && i < RT_CSV_FIELDS_MAX; i++) {
        for (int k = 0; k < RT_CSV_NCOLS; k++) {
            for (int n = 0; n < 4 && rt_csv_cols[k].names[n]; n++) {
                if (!rt_csvr_name_is(rt_csvr_field(&c->rd, i), rt_csv_cols[k].names[n]))
                    continue;
                if (col[k] != SIZE_MAX) {
                    rt_csv_err(c, line, 0, "header", "columns %zu and %zu both give %s",
                               col[k] + 1, i + 1, rt_csv_cols[k].names[0]);
                    rc = GW_EINVAL;
                }
                col[k] = i;
            }
        }
    }
    for (int k = 0; k < RT_CSV_NCOLS; k++) {
        if (rt_csv_cols[k].required && col[k] == SIZE_MAX) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "",
                     rt_csv_cols[k].names[0]);
        }
    }
    if (missing[0] != '\0') {
        rt_csv_err(c, line, 0, "header", "missing column(s): %s", missing);
        rc = GW_EINVAL;
    }
    return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t rt_csv_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at s as a number, or -1. */
static int rt_csv_num(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* s as unix seconds ("" = 0, open): digits, or YYYY-MM-DD[THH:MM[:SS]][Z] in
 * UTC.  0 or GW_EINVAL with the reason. */
static int rt_csv_time(const char *s, int64_t *out, const char **why)
{
    static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);

    *out = 0;
    *why = "not unix seconds or YYYY-MM-DD[THH:MM[:SS]][Z]";
    if (n == 0)
        return 0;
    if (strspn(s, "0123456789") == n) {
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (v > RT_RATES_TIME_MAX)
                break;
            v = v * 10 + (s[i] - '0');
        }
        if (v > RT_RATES_TIME_MAX) {
            *why = "after 9999-12-31";
            return GW_EINVAL;
        }
        *out = v;
        return 0;
    }
    if (n < 10 || (y = rt_csv_num(s, 4)) < 0 || s[4] != '-' || (mo = rt_csv_num(s + 5, 2)) < 0 ||
        s[7] != '-' || (d = rt_csv_num(s + 8, 2)) < 0)
        return GW_EINVAL;
    s += 10;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        if ((h = rt_csv_num(s + 1, 2)) < 0 || s[3] != ':' || (mi = rt_csv_num(s + 4, 2)) < 0)
            return GW_EINVAL;
        s += 6;
        if (*s == ':') {
            if ((se = rt_csv_num(s + 1, 2)) < 0)
                return GW_EINVAL;
            s += 3;
        }
    }
    if (*s == 'Z' || *s == 'z')
        s++;
    if (*s != '\0')
        return GW_EINVAL;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) || h > 23 ||
        mi > 59 || se > 59) {
        *why = "no such date or time";
        return GW_EINVAL;
    }
    *out = rt_csv_days(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

/* The common "digits[.digits]" with at most 15 significant digits, exactly:
 * an integer below 2^53 divided by an exact power of ten is one correctly
 * rounded IEEE operation, the same double strtod gives (Clinger's fast
 * path).  1 when it applied, else 0 (the caller uses strtod). */
static int rt_csv_decimal(const char *s, double *out)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                  1e11, 1e12, 1e13, 1e14, 1e15 };
    uint64_t m = 0;
    int digits = 0, frac = -1;

    for (; *s; s++) {
        if (*s == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*s < '0' || *s > '9' || ++digits > 15)
            return 0;
        m = m * 10 + (uint64_t)(*s - '0');
        frac += frac >= 0;
    }
    if (digits == 0)
        return 0;
    *out = (double)m / p10[frac > 0 ? frac : 0];
    return 1;
}

/* s as a cost: a plain decimal (with ',' for '.' when the separator is ';'),
 * optionally with an exponent.  0 or GW_EINVAL with the reason. */
static int rt_csv_cost(const char *s, char sep, double *out, const char **why)
{
    char tmp[64], *end;
    size_t n = strlen(s), i, digits = 0;

    *why = "not a number";
    if (n == 0) {
        *why = "empty";
        return GW_EINVAL;
    }
    if (n >= sizeof tmp)
        return GW_EINVAL;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == ',' && sep == ';')
            ch = '.';
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' ||
              ch == '-'))
            return GW_EINVAL;
        digits += ch >= '0' && ch <= '9';
        tmp[i] = ch;
    }
    tmp[n] = '\0';
    if (digits == 0)
        return GW_EINVAL;
    if (rt_csv_decimal(tmp, out))
        return 0;
    *out = strtod(tmp, &end);  /* the C locale: nothing in junction calls setlocale */
    if (*end != '\0')
        return GW_EINVAL;
    return 0;
}

static void rt_csv_dup(void *arg, const rt_rates_t *t, const rt_rates_brow_t *a,
                       const rt_rates_brow_t *b)
{
    rt_csv_t *c = arg;
    char p[RT_RATES_DIGITS_MAX + 1];
    unsigned la = a->line & ~RT_RATES_NEW, lb = b->line & ~RT_RATES_NEW;
    const char *conn = t->arena + t->conn_off[a->conn];

    rt_rates_kl_str(a->kl, p);
    if ((a->line & RT_RATES_NEW) && (b->line & RT_RATES_NEW))
        rt_csv_err(c, la > lb ? la : lb, la > lb ? lb : la, "prefix",
                   "duplicate of line %u: prefix %s, connector %s, overlapping validity",
                   la > lb ? lb : la, p, conn);
    else
        rt_csv_err(c, (a->line & RT_RATES_NEW) ? la : lb, 0, "prefix",
                   "prefix %s, connector %s overlaps a row already in the table", p, conn);
}

/* One data record into the table; bad fields reported.  0, GW_EINVAL, GW_ENOMEM. */
static int rt_csv_row(rt_csv_t *c, rt_rates_t *t, unsigned line, const size_t col[RT_CSV_NCOLS],
                      size_t ncols)
{
    const char *why, *field;
    char reason[128];
    double cost = 0;
    int64_t from = 0, to = 0;
    int rc = 0;

    for (size_t i = 0; i < c->rd.nf && i < RT_CSV_FIELDS_MAX; i++) {
        if (c->rd.quoted[i] < 0) {
            rt_csv_err(c, line, 0, "record", "text after the closing quote of field %zu", i + 1);
            rc = GW_EINVAL;
        }
    }
    for (size_t i = ncols; i < c->rd.nf && i < RT_CSV_FIELDS_MAX; i++) {
        if (*rt_csvr_field(&c->rd, i) != '\0') {
            rt_csv_err(c, line, 0, "record", "%zu fields, the header has %zu", c->rd.nf, ncols);
            rc = GW_EINVAL;
            break;
        }
    }
    for (int k = 0; k < RT_CSV_NCOLS; k++) {
        if (col[k] != SIZE_MAX && col[k] >= c->rd.nf && rt_csv_cols[k].required) {
            rt_csv_err(c, line, 0, rt_csv_cols[k].names[0], "missing (%zu fields)", c->rd.nf);
            rc = GW_EINVAL;
        }
    }
    if (rc != 0)
        return rc;
    if (rt_csv_cost(rt_csvr_field(&c->rd, col[RT_CSV_COST]), c->rd.sep, &cost, &why) != 0) {
        rt_csv_err(c, line, 0, "cost", "%s", why);
        rc = GW_EINVAL;
    }
    if (col[RT_CSV_FROM] != SIZE_MAX &&
        rt_csv_time(rt_csvr_field(&c->rd, col[RT_CSV_FROM]), &from, &why) != 0) {
        rt_csv_err(c, line, 0, "valid_from", "%s", why);
        rc = GW_EINVAL;
    }
    if (col[RT_CSV_TO] != SIZE_MAX && rt_csv_time(rt_csvr_field(&c->rd, col[RT_CSV_TO]), &to, &why) != 0) {
        rt_csv_err(c, line, 0, "valid_to", "%s", why);
        rc = GW_EINVAL;
    }
    if (rc != 0)
        return rc;
    rc = rt_rates_add_row(t, rt_csvr_field(&c->rd, col[RT_CSV_PREFIX]),
                          rt_csvr_field(&c->rd, col[RT_CSV_CONNECTOR]), cost,
                          rt_csvr_field(&c->rd, col[RT_CSV_CURRENCY]), from, to, line, &field, reason,
                          sizeof reason);
    if (rc == GW_EINVAL)
        rt_csv_err(c, line, 0, field, "%s", reason);
    return rc;
}

int rt_rates_parse_csv(const char *text, size_t len, rt_rates_t *into, rt_csv_errors_t *errs)
{
    rt_csv_errors_t local;
    rt_csv_t c;
    size_t col[RT_CSV_NCOLS], ncols = 0, first_new = into->nrows, was_checked = into->checked;
    unsigned line;
    int rc = 0, r;

    memset(&c, 0, sizeof c);
    c.errs = errs != NULL ? errs : &local;
    memset(c.errs, 0, sizeof *c.errs);
    rt_csvr_init(&c.rd, text, len);
    if (into->sealed) {
        rt_csv_err(&c, 0, 0, "table", "sealed");
        return GW_EINVAL;
    }
    do
        r = rt_csv_record(&c, &line);
    while (r == 1 && rt_csvr_blank(&c.rd));
    if (r == 0)
        rt_csv_err(&c, 1, 0, "header", "no header row (empty sheet)");
    else if (r == 1 && rt_csv_header(&c, line, col) == 0)
        ncols = c.rd.nf;
    while (ncols > 0 && (r = rt_csv_record(&c, &line)) == 1) {
        if (rt_csvr_blank(&c.rd))
            continue;
        if ((rc = rt_csv_row(&c, into, line, col, ncols)) == GW_ENOMEM)
            break;
    }
    if (rc == GW_ENOMEM || r == GW_ENOMEM) {
        into->nrows = first_new;  /* not yet re-ordered: the new rows are the tail */
        rt_csvr_free(&c.rd);
        return GW_ENOMEM;
    }
    if (into->nrows > first_new) {
        rt_rates_find_dups(into, first_new, rt_csv_dup, &c);
        rt_rates_settle_new(into, c.errs->total == 0);
        /* the check re-ordered the rows: only a wholly checked table stays so */
        into->checked = was_checked == first_new ? into->nrows : 0;
    }
    rt_csvr_free(&c.rd);
    return c.errs->total == 0 ? 0 : GW_EINVAL;
}

/* ---- export ---- */

/* t as YYYY-MM-DDTHH:MM:SSZ, or "" for 0 (open). */
static void rt_csv_put_time(rt_csvw_t *o, int64_t t)
{
    char b[48];
    int64_t z = t / 86400 + 719468, secs = t % 86400;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);

    if (t == 0)
        return;
    snprintf(b, sizeof b, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    rt_csvw_put(o, b, strlen(b));
}

static int rt_csv_out_row(void *arg, const rt_rate_row_t *r)
{
    rt_csvw_t *o = arg;
    char b[40];
    int prec;

    rt_csvw_put(o, r->prefix, strlen(r->prefix));
    rt_csvw_put(o, ",", 1);
    rt_csvw_field(o, r->connector);
    for (prec = 15; prec < 17; prec++) {  /* the shortest text that reads back the same */
        snprintf(b, sizeof b, "%.*g", prec, r->cost);
        if (strtod(b, NULL) == r->cost)
            break;
    }
    snprintf(b, sizeof b, "%.*g", prec, r->cost);
    rt_csvw_put(o, ",", 1);
    rt_csvw_put(o, b, strlen(b));
    rt_csvw_put(o, ",", 1);
    rt_csvw_put(o, r->currency, strlen(r->currency));
    rt_csvw_put(o, ",", 1);
    rt_csv_put_time(o, r->valid_from);
    rt_csvw_put(o, ",", 1);
    rt_csv_put_time(o, r->valid_to);
    rt_csvw_put(o, "\n", 1);
    return o->rc;
}

int rt_rates_export_csv(const rt_rates_t *t, char **out, size_t *len)
{
    static const char head[] = "prefix,connector,cost,currency,valid_from,valid_to\n";
    rt_csvw_t o = { NULL, 0, 0, 0 };
    int rc;

    *out = NULL;
    *len = 0;
    if (!rt_rates_sealed(t))
        return GW_EINVAL;
    rt_csvw_put(&o, head, sizeof head - 1);
    rc = rt_rates_foreach(t, rt_csv_out_row, &o);
    if (rc == 0)
        rc = o.rc;
    if (rc != 0) {
        free(o.buf);
        return rc;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
}
