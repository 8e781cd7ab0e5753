/*
 * rt_csv.c - the RFC 4180 record reader (rt_csv.h).
 *
 * Threads: a reader belongs to its caller.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_csv.h"
#include "gw_errors.h"

/* ',' or ';': whichever the first line has more of outside quotes. */
static char rt_csvr_sniff(const char *p, const char *end)
{
    size_t commas = 0, semis = 0;
    int inq = 0;

    for (; p < end && (inq || *p != '\n'); p++) {
        if (*p == '"')
            inq = !inq;
        else if (!inq && *p == ',')
            commas++;
        else if (!inq && *p == ';')
            semis++;
    }
    return semis > commas ? ';' : ',';
}

void rt_csvr_init(rt_csvr_t *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->p = text;
    r->end = text + len;
    r->line = 1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3; /* a UTF-8 byte order mark, as spreadsheets write */
    r->sep = rt_csvr_sniff(r->p, r->end);
}

void rt_csvr_free(rt_csvr_t *r)
{
    free(r->buf);
    r->buf = NULL;
    r->buflen = r->bufcap = 0;
}

/* Room for n more bytes in the record buffer.  0 or GW_ENOMEM. */
static int rt_csvr_reserve(rt_csvr_t *r, size_t n)
{
    size_t cap = r->bufcap ? r->bufcap : 256;
    char *b;

    if (r->buflen + n < r->bufcap)
        return 0;
    while (cap <= r->buflen + n)
        cap *= 2;
    if ((b = realloc(r->buf, cap)) == NULL)
        return GW_ENOMEM;
    r->buf = b;
    r->bufcap = cap;
    return 0;
}

static inline int rt_csvr_put(rt_csvr_t *r, char ch)
{
    int rc = r->buflen + 1 < r->bufcap ? 0 : rt_csvr_reserve(r, 1);

    if (rc == 0)
        r->buf[r->buflen++] = ch;
    return rc;
}

/* One quoted field from its opening quote at r->p: 0, GW_EINVAL
 * (unterminated: bad_line), GW_ENOMEM.  *quoted: 1, or -1 when text
 * follows the closing quote (skipped up to the separator). */
static int rt_csvr_quoted(rt_csvr_t *r, int *quoted)
{
    unsigned qline = r->line;
    int rc;

    *quoted = 1;
    for (r->p++;; r->p++) {
        if (r->p >= r->end) {
            r->bad_line = qline;
            return GW_EINVAL;
        }
        if (*r->p == '"') {
            if (r->p + 1 < r->end && r->p[1] == '"')
                r->p++; /* "" is one quote */
            else
                break;
        }
        if (*r->p == '\n')
            r->line++;
        if ((rc = rt_csvr_put(r, *r->p)) != 0)
            return rc;
    }
    r->p++;
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
        r->p++;
    if (r->p < r->end && *r->p != r->sep && *r->p != '\r' && *r->p != '\n') {
        *quoted = -1;
        while (r->p < r->end && *r->p != r->sep && *r->p != '\n')
            r->p++;
    }
    return 0;
}

/* An unquoted field: copied up to the separator or the line end at once,
 * trailing spaces, tabs and CR trimmed.  0 or GW_ENOMEM. */
static int rt_csvr_plain(rt_csvr_t *r, size_t at)
{
    const char *q = r->p;
    int rc;

    while (q < r->end && *q != r->sep && *q != '\n')
        q++;
    if ((rc = rt_csvr_reserve(r, (size_t)(q - r->p) + 1)) != 0)
        return rc;
    memcpy(r->buf + r->buflen, r->p, (size_t)(q - r->p));
    r->buflen += (size_t)(q - r->p);
    r->p = q;
    while (r->buflen > at && (r->buf[r->buflen - 1] == ' ' || r->buf[r->buflen - 1] == '\t' ||
                              r->buf[r->buflen - 1] == '\r'))
        r->buflen--;
    return 0;
}

int rt_csvr_next(rt_csvr_t *r, unsigned *start)
{
    int rc;

    r->buflen = 0;
    r->nf = 0;
    *start = r->line;
    if (r->p >= r->end)
        return 0;
    for (;;) {
        size_t at = r->buflen;
        int quoted = 0;
        while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
            r->p++;
        if (r->p < r->end && *r->p == '"')
            rc = rt_csvr_quoted(r, &quoted);
        else
            rc = rt_csvr_plain(r, at);
        if (rc == 0)
            rc = rt_csvr_put(r, '\0');
        if (rc != 0)
            return rc;
        if (r->nf < RT_CSV_FIELDS_MAX) {
            r->off[r->nf] = at;
            r->quoted[r->nf] = quoted;
        }
        r->nf++;
        if (r->p < r->end && *r->p == r->sep) {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '\r')
            r->p++;
        if (r->p < r->end && *r->p == '\n') {
            r->p++;
            r->line++;
        }
        return 1;
    }
}

const char *rt_csvr_field(const rt_csvr_t *r, size_t i)
{
    return i < r->nf && i < RT_CSV_FIELDS_MAX ? r->buf + r->off[i] : "";
}

int rt_csvr_blank(const rt_csvr_t *r)
{
    for (size_t i = 0; i < r->nf && i < RT_CSV_FIELDS_MAX; i++)
        if (r->buf[r->off[i]] != '\0' || r->quoted[i])
            return 0;
    return 1;
}

int rt_csvr_name_is(const char *s, const char *name)
{
    for (; *s && *name; s++, name++) {
        char ch = (char)tolower((unsigned char)*s);
        if (ch == ' ' || ch == '-')
            ch = '_';
        if (ch != *name)
            return 0;
    }
    return *s == '\0' && *name == '\0';
}

void rt_csvw_put(rt_csvw_t *w, const char *s, size_t n)
{
    char *b;
    size_t cap;

    if (w->rc != 0)
        return;
    if (w->len + n + 1 > w->cap) {
        cap = w->cap ? w->cap : 1024;
        while (cap < w->len + n + 1)
            cap *= 2;
        if ((b = realloc(w->buf, cap)) == NULL) {
            w->rc = GW_ENOMEM;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void rt_csvw_field(rt_csvw_t *w, const char *s)
{
    size_t n = strlen(s);

    if (strpbrk(s, ",;\"\r\n") == NULL &&
        (n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t'))) {
        rt_csvw_put(w, s, n);
        return;
    }
    rt_csvw_put(w, "\"", 1);
    for (; *s; s++)
        rt_csvw_put(w, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    rt_csvw_put(w, "\"", 1);
}
