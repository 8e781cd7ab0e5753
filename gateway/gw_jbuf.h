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
 * Threads: any; a buffer belongs to its writer.
 */
#ifndef GW_JBUF_H
#define GW_JBUF_H

#include <stddef.h>

typedef struct gw_jbuf {
    char *p;     /* NUL-terminated text, malloc'd; the caller frees it */
    size_t len, cap;
    int oom;     /* an allocation failed: p is incomplete */
} gw_jbuf_t;

/* Make room for n more bytes (and the NUL). */
void gw_jbuf_need(gw_jbuf_t *b, size_t n);
void gw_jbuf_put(gw_jbuf_t *b, const char *s, size_t n);
/* A literal or preformatted piece (strlen). */
void gw_jbuf_puts(gw_jbuf_t *b, const char *s);
void gw_jbuf_fmt(gw_jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string of s[0..n) (NUL bytes included, as \u0000), or null when
 * s is NULL. */
void gw_jbuf_strn(gw_jbuf_t *b, const char *s, size_t n);
void gw_jbuf_str(gw_jbuf_t *b, const char *s);
/* The finished text (the caller frees it), or NULL after an allocation
 * failure (the buffer is freed). */
char *gw_jbuf_done(gw_jbuf_t *b);

#endif
