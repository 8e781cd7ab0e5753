/*
 * rt_rates.h - rate tables for least-cost routing: {prefix, connector, cost,
 * currency, valid from/to}, longest prefix first, cheapest first.
 *
 * Contents:
 *   building   rt_rates_new, rt_rates_add, rt_rates_parse_csv (rt_rates_csv.c),
 *              rt_rates_seal
 *   reading    rt_rates_lookup, rt_rates_foreach, rt_rates_export_csv,
 *              rt_rates_count, rt_rates_memory, rt_rates_name
 *   freeing    rt_rates_free
 *
 * A table is built by one thread (it owns it), then sealed: the rows are
 * compiled into a digit trie in flat arrays and the table is immutable from
 * then on, so any number of threads may look up in it without a lock.  The
 * caller (the rule set that names the table) frees it once no reader holds
 * it.  docs/rates.md describes the model and the CSV sheets.
 *
 * Prefixes are 1..RT_RATES_DIGITS_MAX digits (a leading '+' is dropped);
 * validity is [valid_from, valid_to) in unix seconds, 0 meaning open.
 * A (prefix, connector) pair may have several rows only when their validity
 * windows do not overlap; rt_rates_seal and the CSV import refuse overlaps.
 */
#ifndef RT_RATES_H
#define RT_RATES_H

#include <stddef.h>
#include <stdint.h>

#define RT_RATES_DIGITS_MAX 16  /* E.164 numbers have at most 15 digits */
#define RT_RATES_NAME_MAX 128   /* bytes of a connector name, NUL included */
#define RT_RATES_TIME_MAX 253402300799LL  /* 9999-12-31T23:59:59Z */

typedef struct rt_rates rt_rates_t;            /* one named, immutable rate table */
typedef struct rt_rate_hit {
    const char *connector;
    double cost;
    const char *currency;
    const char *prefix;   /* the matched prefix, digits only */
} rt_rate_hit_t;

/* One row as rt_rates_foreach hands it out; strings live as long as the table. */
typedef struct rt_rate_row {
    const char *prefix;
    const char *connector;
    double cost;
    const char *currency;
    int64_t valid_from;   /* 0 = open */
    int64_t valid_to;     /* 0 = open */
} rt_rate_row_t;

/* A new, empty, unsealed table named name (copied); NULL when out of memory.
 * The caller frees it with rt_rates_free.  Builder thread. */
rt_rates_t *rt_rates_new(const char *name);

/* Add one row (strings copied).  0; GW_EINVAL with "<field>: <reason>" in err
 * (prefix not digits, cost negative or not finite, currency not three
 * upper-case letters, valid_from not before valid_to, a sealed table), the
 * table unchanged; GW_ENOMEM.  Overlapping duplicates are found by
 * rt_rates_seal.  Builder thread. */
int rt_rates_add(rt_rates_t *t, const char *prefix, const char *connector, double cost,
                 const char *currency, int64_t valid_from, int64_t valid_to, char *err,
                 size_t errlen);

/* Compile the rows into the immutable lookup structure and release the
 * builder's scratch.  0; GW_EINVAL when two rows of one (prefix, connector)
 * overlap in time (named in err; the table stays unsealed); GW_ENOMEM.
 * Builder thread; after it, any thread may read. */
int rt_rates_seal(rt_rates_t *t, char *err, size_t errlen);

/* the entries of the longest matching prefix of digits valid at now (unix s),
   cheapest first (ties: connector name order); returns how many were written
   (<= max).  Lock-free, any thread.  digits may start with '+'; the walk stops
   at the first non-digit.  0 on an unsealed table. */
size_t rt_rates_lookup(const rt_rates_t *t, const char *digits, int64_t now, rt_rate_hit_t *out,
                       size_t max);
const char *rt_rates_name(const rt_rates_t *t);

/* Rows added so far (builder) or in the sealed table. */
size_t rt_rates_count(const rt_rates_t *t);
/* Bytes of heap the table holds. */
size_t rt_rates_memory(const rt_rates_t *t);
int rt_rates_sealed(const rt_rates_t *t);

/* Call fn for each row of a sealed table in prefix order (digit-string
 * order), cheapest first within a prefix; stops when fn returns non-zero and
 * returns that value, else 0.  GW_EINVAL on an unsealed table.  Any thread. */
typedef int (*rt_rates_row_fn)(void *arg, const rt_rate_row_t *row);
int rt_rates_foreach(const rt_rates_t *t, rt_rates_row_fn fn, void *arg);

void rt_rates_free(rt_rates_t *t);

/* ---- CSV (rt_rates_csv.c) ---- */

#define RT_CSV_ERRORS_MAX 32

typedef struct rt_csv_error {
    unsigned line;        /* 1-based line of the sheet (the header is line 1) */
    unsigned other_line;  /* a duplicate's first line, else 0 */
    char field[16];       /* "prefix", "cost", ..., "header", "record" */
    char reason[160];
} rt_csv_error_t;

typedef struct rt_csv_errors {
    size_t count;         /* errors kept in err[] (at most RT_CSV_ERRORS_MAX) */
    size_t total;         /* errors found, kept or not */
    rt_csv_error_t err[RT_CSV_ERRORS_MAX];
} rt_csv_errors_t;

/* Import an operator rate sheet (text, len bytes, with a header row) into the
 * unsealed table into.  All or nothing: 0 and every row added; GW_EINVAL and
 * the errors in errs (may be NULL), the table's rows untouched; GW_ENOMEM
 * (rows untouched).  docs/rates.md lists the format and the messages.
 * Builder thread. */
int rt_rates_parse_csv(const char *text, size_t len, rt_rates_t *into, rt_csv_errors_t *errs);

/* "line 7: cost: not a number" into buf; returns buf. */
const char *rt_csv_error_format(const rt_csv_error_t *e, char *buf, size_t buflen);

/* The canonical CSV of a sealed table (header prefix,connector,cost,currency,
 * valid_from,valid_to; ISO 8601 UTC dates; rows in rt_rates_foreach order)
 * into *out (malloc'd, NUL-terminated, caller frees), its length in *len.
 * 0, GW_EINVAL (unsealed), GW_ENOMEM.  Any thread. */
int rt_rates_export_csv(const rt_rates_t *t, char **out, size_t *len);

#endif
