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

static inline int sip_vw_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3261 25.1 token. */
static inline int sip_vw_tokc(unsigned char c)
{
    if (((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`':
    case '\'': case '~':
        return 1;
    default:
        return 0;
    }
}

static inline int sip_vw_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
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

/* 1 when the quoted strings and <> of b[s..e) are closed. */
static inline int sip_vw_balanced(const char *b, uint32_t s, uint32_t e)
{
    int inq = 0, ina = 0;

    for (; s < e; s++) {
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

static inline const sip_view_hdr_t *sip_vw_first(const sip_view_t *v, int id)
{
    return v->first[id] < 0 ? NULL : &v->hdrs[v->first[id]];
}

/* sip_view_addr; strict 0 skips the checks only a UA needs (the tags of
 * a From / To a proxy forwards anyway).  sip_view_get.c. */
int sip_vw_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict);
/* Its first half: display, URI and parameter ranges, checked, none of
 * the parameters read (lr, expires and q stay unset). */
int sip_vw_addr_split(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict);

#endif
