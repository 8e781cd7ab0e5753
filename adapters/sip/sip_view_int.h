/*
 * sip_view_int.h - what sip_view.c (parsing) and sip_view_get.c (the
 * accessors) share: character classes, ranges, bounded number parsing.
 * Private to those two files; callers include sip_view.h.
 *
 * Ownership: nothing kept; ranges point into the caller's buffer.
 * Threads: pure; any thread.
 */
#ifndef SIP_VIEW_INT_H
#define SIP_VIEW_INT_H

#include <string.h>

#include "sip_view.h"

/* Character classes of one octet (sip_view_names.c's table): RFC 3261 25.1
 * token, white space (SP HT CR LF: folds are read as white space), the
 * octets of a parameter value (a token, ':' '[' ']' of a host or IPv6
 * reference), the octets sip_vw_balanced stops at, and those no
 * Request-URI holds. */
enum {
    SIP_VW_TOK = 1,
    SIP_VW_WS = 2,
    SIP_VW_PVAL = 4,
    SIP_VW_QUOTING = 8,
    SIP_VW_NOT_URI = 16, /* below 0x21, DEL, '<' '>' '"': never in a Request-URI */
};
extern const unsigned char sip_vw_cc[256];

static inline int sip_vw_ws(unsigned char c)
{
    return sip_vw_cc[c] & SIP_VW_WS;
}

/* RFC 3261 25.1 token. */
static inline int sip_vw_tokc(unsigned char c)
{
    return sip_vw_cc[c] & SIP_VW_TOK;
}

/* c in lower case (ASCII letters only), from sip_view_names.c's table. */
extern const unsigned char sip_vw_low[256];
static inline int sip_vw_lower(int c)
{
    return sip_vw_low[(unsigned char)c];
}

static inline int sip_vw_ieq(const char *a, size_t n, const char *lower)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!lower[i] || sip_vw_lower((unsigned char)a[i]) != lower[i])
            return 0;
    return lower[n] == '\0';
}

static inline sip_range_t sip_vw_range(uint32_t a, uint32_t b)
{
    sip_range_t r = { a, b > a ? b - a : 0 };
    return r;
}

/* [*a, *b) with white space trimmed from both ends. */
static inline void sip_vw_trim(const char *b, uint32_t *s, uint32_t *e)
{
    while (*s < *e && sip_vw_ws((unsigned char)b[*s]))
        (*s)++;
    while (*e > *s && sip_vw_ws((unsigned char)b[*e - 1]))
        (*e)--;
}

/* Decimal digits at b[s..e) (all of it) into *out, at most max.  0 or -1. */
static inline int sip_vw_uint(const char *b, uint32_t s, uint32_t e, unsigned long long max,
                   unsigned long long *out)
{
    unsigned long long x = 0;

    if (s >= e)
        return -1;
    for (; s < e; s++) {
        if (b[s] < '0' || b[s] > '9')
            return -1;
        x = x * 10 + (unsigned)(b[s] - '0');
        if (x > max)
            return -1;
    }
    *out = x;
    return 0;
}

/* Decimal digits at b[s..e) (all of it) into *out, clamped to 2^32-1 as
 * RFC 3261 20.19 does for Expires.  0 or -1. */
static inline int sip_vw_uint_clamp(const char *b, uint32_t s, uint32_t e, long *out)
{
    long x = 0;

    if (s >= e)
        return -1;
    for (; s < e; s++) {
        if (b[s] < '0' || b[s] > '9')
            return -1;
        x = x * 10 + (b[s] - '0');
        if (x > 0xffffffffL)
            x = 0xffffffffL;
    }
    *out = x;
    return 0;
}

/* 1 for the headers split into comma-separated values. */
static inline int sip_vw_is_list(int id)
{
    return id == SIP_H_VIA || id == SIP_H_ROUTE || id == SIP_H_RECORD_ROUTE ||
           id == SIP_H_CONTACT;
}

/* 1 when the quoted strings and <> of b[s..e) are closed.  Without a
 * '"' (the common case, found by memchr) that is: no '<' after the last
 * '>'.  Else octet by octet, the ones that are none of '"' '\\' '<' '>'
 * skipped in a run. */
static inline int sip_vw_balanced(const char *b, uint32_t s, uint32_t e)
{
    int inq = 0, ina = 0;

    if (s >= e)
        return 1;
    if (!memchr(b + s, '"', e - s)) {
        const char *lt = memrchr(b + s, '<', e - s);
        return !lt || memchr(lt, '>', (size_t)(b + e - lt)) != NULL;
    }
    for (; s < e; s++) {
        while (s < e && !(sip_vw_cc[(unsigned char)b[s]] & SIP_VW_QUOTING))
            s++;
        if (s >= e)
            break;
        if (inq) {
            if (b[s] == '\\')
                s++;
            else if (b[s] == '"')
                inq = 0;
        } else if (b[s] == '"') {
            inq = 1;
        } else if (b[s] == '<') {
            ina = 1;
        } else if (b[s] == '>') {
            ina = 0;
        }
    }
    return !inq && !ina;
}

/* 1 when r of b is lit (n octets, lower case), case-insensitively. */
static inline int sip_vw_eqn(const char *b, sip_range_t r, const char *lit, size_t n)
{
    size_t i;

    if (r.len != n)
        return 0;
    for (i = 0; i < n; i++)
        if (sip_vw_lower((unsigned char)b[r.off + i]) != lit[i])
            return 0;
    return 1;
}
#define SIP_VW_EQ(b, r, lit) sip_vw_eqn((b), (r), lit, sizeof(lit) - 1)

static inline const sip_view_hdr_t *sip_vw_first(const sip_view_t *v, int id)
{
    return v->first[id] < 0 ? NULL : &v->hdrs[v->first[id]];
}

/* sip_view_addr; strict 0 skips the checks only a UA needs (the tags of
 * a From / To a proxy forwards anyway).  sip_view_get.c. */
int sip_vw_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict);
/* Its first half: display, URI and parameter ranges, checked, none of
 * the parameters read (lr, expires and q stay unset).  strict: 0 or bits,
 * SIP_VW_STRICT (as sip_vw_addr's 1) and SIP_VW_KNOWN_BALANCED (the parse
 * checked r's quotes and <> already). */
#define SIP_VW_STRICT 1         /* the checks only a UA needs (sip_vw_addr_words) */
#define SIP_VW_KNOWN_BALANCED 2
int sip_vw_addr_split(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict);
/* The tag parameter of the parameter list r: 1 and its value, else 0. */
int sip_vw_param_tag(const sip_view_t *v, sip_range_t r, sip_range_t *tag);

#endif
