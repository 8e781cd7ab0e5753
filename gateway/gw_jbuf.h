/*
 * gw_jbuf.h - JSON text written straight into a growing buffer.
 *
 * The message path writes the same few JSON shapes for every message (the
 * envelope for the store, the events): building a jansson tree for each
 * costs dozens of small allocations that a buffer does not.  A gw_jbuf_t
 * starts empty, grows by doubling and remembers an allocation failure
 * (oom), so a writer can emit a whole object and check once at the end.
 * put / puts / fmt write any text (the SIP responses use them too).
 * Strings are escaped as RFC 8259 asks: '"', '\' and control characters;
 * everything else (UTF-8) is copied as it is, as jansson's json_dumps does.
 *
 * A buffer may start in the caller's storage (GW_JBUF_IN: a stack array)
 * and moves to the heap only when it outgrows it; gw_jbuf_done then hands
 * out a heap copy of exactly the text.  The message path builds every
 * envelope and response this way: one allocation of the final size instead
 * of a doubling series (whose larger steps also made glibc consolidate its
 * fastbins on every message).
 *
 * Threads: any; a buffer belongs to its writer.
 */
#ifndef GW_JBUF_H
#define GW_JBUF_H

#include <stddef.h>

typedef struct gw_jbuf {
    char *p;     /* NUL-terminated text: malloc'd, or the caller's storage while fixed */
    size_t len, cap;
    int oom;     /* an allocation failed: p is incomplete */
    int fixed;   /* p is the caller's storage (GW_JBUF_IN), not to be freed */
} gw_jbuf_t;

/* A buffer writing into the array arr first. */
#define GW_JBUF_IN(arr) { .p = (arr), .len = 0, .cap = sizeof(arr), .oom = 0, .fixed = 1 }

/* Make room for n more bytes (and the NUL). */
void gw_jbuf_need(gw_jbuf_t *b, size_t n);
void gw_jbuf_put(gw_jbuf_t *b, const char *s, size_t n);
/* A literal or preformatted piece (strlen). */
void gw_jbuf_puts(gw_jbuf_t *b, const char *s);
void gw_jbuf_fmt(gw_jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A decimal integer, without printf. */
void gw_jbuf_int(gw_jbuf_t *b, long long v);
/* The decimal digits of v at p (room for 20, no NUL); their count.  For
 * hot paths that would otherwise printf one number. */
size_t gw_put_uint(char *p, unsigned long long v);
/* A JSON string of s[0..n) (NUL bytes included, as \u0000), or null when
 * s is NULL. */
void gw_jbuf_strn(gw_jbuf_t *b, const char *s, size_t n);
void gw_jbuf_str(gw_jbuf_t *b, const char *s);
/* The finished text (the caller frees it; a heap copy when the text is in
 * the caller's storage), or NULL after an allocation failure (the buffer
 * is freed). */
char *gw_jbuf_done(gw_jbuf_t *b);
/* Release the buffer without taking its text (use b->p, b->len before). */
void gw_jbuf_free(gw_jbuf_t *b);

#endif
