/*
 * gw_jbuf.c - JSON text into a growing buffer (see gw_jbuf.h).
 *
 * Threads: any.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_jbuf.h"

void gw_jbuf_need(gw_jbuf_t *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom || b->len + n + 1 <= b->cap)
        return;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    p = b->fixed ? malloc(cap) : realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    if (b->fixed && b->len > 0)
        memcpy(p, b->p, b->len + 1);
    b->fixed = 0;
    b->p = p;
    b->cap = cap;
}

size_t gw_put_uint(char *p, unsigned long long v)
{
    char tmp[20];
    size_t i = sizeof tmp, n;

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    n = sizeof tmp - i;
    memcpy(p, tmp + i, n);
    return n;
}

void gw_jbuf_int(gw_jbuf_t *b, long long v)
{
    char tmp[24];
    size_t i = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    if (v < 0)
        tmp[i++] = '-';
    i += gw_put_uint(tmp + i, u);
    gw_jbuf_put(b, tmp, i);
}

void gw_jbuf_put(gw_jbuf_t *b, const char *s, size_t n)
{
    gw_jbuf_need(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void gw_jbuf_puts(gw_jbuf_t *b, const char *s)
{
    gw_jbuf_put(b, s, strlen(s));
}

void gw_jbuf_fmt(gw_jbuf_t *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        gw_jbuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void gw_jbuf_strn(gw_jbuf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL) {
        gw_jbuf_put(b, "null", 4);
        return;
    }
    gw_jbuf_need(b, n + 2);
    gw_jbuf_put(b, "\"", 1);
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            gw_jbuf_put(b, s + i, run - i);
            i = run;
            continue;
        }
        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = { '\\', (char)p[i] };
            gw_jbuf_put(b, esc, 2);
        } else {
            char esc[6] = { '\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15] };
            gw_jbuf_put(b, esc, 6);
        }
        i++;
    }
    gw_jbuf_put(b, "\"", 1);
}

void gw_jbuf_str(gw_jbuf_t *b, const char *s)
{
    gw_jbuf_strn(b, s, s ? strlen(s) : 0);
}

char *gw_jbuf_done(gw_jbuf_t *b)
{
    char *out;

    if (b->oom) {
        gw_jbuf_free(b);
        return NULL;
    }
    if (b->p == NULL)
        gw_jbuf_put(b, "", 0);
    if (b->oom || !b->fixed)
        return b->oom ? NULL : b->p;
    out = malloc(b->len + 1);
    if (out != NULL)
        memcpy(out, b->p, b->len + 1);
    b->p = NULL;
    b->fixed = 0;
    return out;
}

void gw_jbuf_free(gw_jbuf_t *b)
{
    if (!b->fixed)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->fixed = 0;
}
