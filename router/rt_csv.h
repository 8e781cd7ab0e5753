/*
 * rt_csv.h - one reader and one writer of RFC 4180 sheets for every CSV
 * junction takes in or gives out:
 * operator rate sheets (rt_rates_csv.c) and rule sheets
 * (gateway/gw_route_csv.c).
 *
 * Records are read one at a time from the caller's text: quoted fields
 * with "" escapes, CRLF or LF, a quoted field may span lines, spaces and
 * tabs around fields trimmed, a UTF-8 byte order mark skipped, the
 * separator taken from the first line (',' or ';', whichever it has more
 * of outside quotes).  A record's fields are unescaped, NUL-terminated,
 * into one buffer the reader owns (valid until the next record).  Errors
 * are the caller's to word: an unterminated quote is GW_EINVAL with its
 * line in bad_line; text after a closing quote is quoted[i] == -1.
 *
 * Threads: a reader belongs to its caller.  Pure: no I/O.
 */
#ifndef RT_CSV_H
#define RT_CSV_H

#include <stddef.h>

#define RT_CSV_FIELDS_MAX 64

typedef struct rt_csvr {
    const char *p, *end;
    char sep;
    unsigned line;              /* physical line of *p, from 1 */
    unsigned bad_line;          /* GW_EINVAL from rt_csvr_next: the unterminated quote's line */
    char *buf;                  /* the record's fields, unescaped, NUL-terminated */
    size_t buflen, bufcap;
    size_t off[RT_CSV_FIELDS_MAX];
    int quoted[RT_CSV_FIELDS_MAX]; /* 1 quoted, -1 text after its closing quote, 0 plain */
    size_t nf;                  /* fields in the record (may exceed RT_CSV_FIELDS_MAX) */
} rt_csvr_t;

/* Start reading text[0..len) (not copied: it must outlive the reader). */
void rt_csvr_init(rt_csvr_t *r, const char *text, size_t len);
/* The next record: 1, 0 at the end of the text, GW_EINVAL (an unterminated
 * quote: nothing after it can be read), GW_ENOMEM.  *start gets the
 * record's first line. */
int rt_csvr_next(rt_csvr_t *r, unsigned *start);
/* Field i of the record ("" past its end). */
const char *rt_csvr_field(const rt_csvr_t *r, size_t i);
/* 1 when every field of the record is empty and unquoted (a blank line, or
 * ";;;" from a spreadsheet). */
int rt_csvr_blank(const rt_csvr_t *r);
/* A header name s, normalised (lower case, ' ' and '-' as '_'), equals name. */
int rt_csvr_name_is(const char *s, const char *name);
void rt_csvr_free(rt_csvr_t *r);

/* Writing: text appended to a growing buffer (malloc'd, NUL-terminated,
 * the caller frees buf); rc remembers the first allocation failure, so a
 * writer checks once at the end. */
typedef struct rt_csvw {
    char *buf;
    size_t len, cap;
    int rc;                     /* 0, or GW_ENOMEM */
} rt_csvw_t;

void rt_csvw_put(rt_csvw_t *w, const char *s, size_t n);
/* s as one field: quoted (with "" escapes) when it holds a separator, a
 * quote, a line end or edge blanks (which the reader would trim). */
void rt_csvw_field(rt_csvw_t *w, const char *s);

#endif
