/*
 * sip_message.c - pure helpers on SIP text and libosip2 messages.
 *
 * Everything here is a function of its arguments: no sockets, no globals,
 * no clock.  That keeps the rules of RFC 3261 that the adapter relies on
 * (which headers a request must carry, how a response mirrors them, how a
 * server transaction is recognised, how a stream is framed) unit-testable
 * without a network (tests/unit/test_sip_message.c).
 *
 * Responses are written as text rather than through osip_message_to_str:
 * a response copies five headers and adds two, and building the text
 * directly avoids cloning the request (see DESIGN.md on the cost of
 * re-serialising with libosip2).
 *
 * Threads: any; libosip2's parser tables must have been set up by
 * parser_init() (sip_adapter.c does it before the workers start).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_errors.h"
#include "gw_jbuf.h"
#include "gw_log.h"
#include "gw_rand.h"
#include "sip.h"

/* libosip2's own messages (parse errors of what peers send) become debug
 * lines of the "sip" log module instead of going to stdout. */
static void sip_osip_trace(const char *fi, int li, osip_trace_level_t level, const char *chfr,
                           va_list ap)
{
    char line[256];
    if (!gw_log_enabled(SIP_LOG, GW_LOG_DEBUG))
        return;
    vsnprintf(line, sizeof(line), chfr, ap);
    line[strcspn(line, "\r\n")] = '\0';
    gw_log_write(SIP_LOG, GW_LOG_DEBUG, "libosip2 (%s:%d, level %d): %s", fi, li, (int)level, line);
}

/* See sip.h.  Main thread, before any parsing. */
int sip_osip_init(void)
{
    osip_trace_initialize_func(OSIP_WARNING, sip_osip_trace); /* fatal, bug, error */
    return parser_init() == 0 ? 0 : GW_ERROR;
}

/* See sip.h: the rules are gateway/gw_addr.h's, applied to the URI's text
 * so a SIP user part, SMPP text and the MI give the same address.  Runs on
 * any thread. */
int sip_addr_from_uri(const osip_uri_t *uri, gw_addr_t *addr)
{
    char *text = NULL;
    int rc;

    if (!uri || !uri->scheme)
        return GW_EINVAL;
    if (strcasecmp(uri->scheme, "sip") != 0 && strcasecmp(uri->scheme, "sips") != 0 &&
        strcasecmp(uri->scheme, "tel") != 0)
        return GW_EDECLINED;
    if (osip_uri_to_str(uri, &text) != 0 || !text)
        return GW_ENOMEM;
    rc = gw_addr_normalise(addr, text, GW_ADDR_TON_NONE, 0);
    osip_free(text);
    return rc;
}

/* Well-formed UTF-8 per RFC 3629 (no overlongs, no surrogates, nothing
 * past U+10FFFF) and no NUL, since envelope bodies are C strings. */
int sip_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned cp, min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2; cp = c & 0x1f; min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3; cp = c & 0x0f; min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static int sip_is_token_char(int c)
{
    return isalnum(c) || strchr("-.!%*_+`'~", c) != NULL;
}

/* 1: a request line, 2: a status line, 0: not SIP.  Any thread. */
int sip_looks_like_sip(const char *buf, size_t n)
{
    size_t i = 0, eol;
    const char *cr = memchr(buf, '\r', n);
    const char *lf = memchr(buf, '\n', cr ? (size_t)(cr - buf) : n);

    eol = lf ? (size_t)(lf - buf) : cr ? (size_t)(cr - buf) : n; /* the first CR or LF */
    if (eol == n)
        return 0;
    if (eol >= 12 && memcmp(buf, "SIP/2.0 ", 8) == 0 && isdigit((unsigned char)buf[8]) &&
        isdigit((unsigned char)buf[9]) && isdigit((unsigned char)buf[10]))
        return 2;
    while (i < eol && sip_is_token_char((unsigned char)buf[i]))
        i++;
    if (i == 0 || i >= eol || buf[i] != ' ')
        return 0;
    i++;
    size_t uri = i;
    while (i < eol && buf[i] != ' ')
        i++;
    if (i == uri || i >= eol)
        return 0;
    i++;
    if (eol - i != 7 || strncasecmp(buf + i, "SIP/2.0", 7) != 0)
        return 0;
    return 1;
}

/* See sip.h. */
int sip_is_keepalive(const char *buf, size_t n)
{
    size_t i = 0;

    if (n == 4 && (memcmp(buf, "\0\0\0\0", 4) == 0 || memcmp(buf, "\xff\xff\xff\xff", 4) == 0))
        return 1;
    while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return n > 0 && i == n;
}

/* See sip.h. */
int sip_bad_request_line(const char *buf, size_t n, const char **reason)
{
    size_t eol, i = 0, e;

    for (eol = 0; eol < n && buf[eol] != '\r' && buf[eol] != '\n'; eol++)
        ;
    if (eol == n)
        return 0;
    while (i < eol && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    if (i == eol || !sip_is_token_char((unsigned char)buf[i]))
        return 0;
    while (i < eol && sip_is_token_char((unsigned char)buf[i]))
        i++;
    if (i == eol || buf[i] != ' ' || memchr(buf + i, ':', eol - i) == NULL)
        return 0; /* a request line names a URI */
    for (e = eol; e > i && (buf[e - 1] == ' ' || buf[e - 1] == '\t'); e--)
        ;
    /* ... SP "SIP/" 1*DIGIT "." 1*DIGIT at the end */
    size_t v = e;
    while (v > i && (isdigit((unsigned char)buf[v - 1]) || buf[v - 1] == '.'))
        v--;
    if (v < i + 5 || v == e || strncasecmp(buf + v - 4, "SIP/", 4) != 0 || buf[v - 5] != ' ')
        return 0;
    if (e - v != 3 || memcmp(buf + v, "2.0", 3) != 0) {
        *reason = "Version Not Supported";
        return 505;
    }
    *reason = "Bad Request-Line";
    return 400;
}

/* Mandatory headers of RFC 3261 section 8.1.1 and Max-Forwards; see sip.h. */
int sip_check_request(const osip_message_t *req, const char **reason)
{
    osip_header_t *mf = NULL;

    if (!req->sip_method || !req->req_uri || !req->req_uri->scheme) {
        *reason = "Bad Request-Line";
        return 400;
    }
    if (osip_list_size(&req->vias) <= 0) {
        *reason = "Missing Via";
        return 400;
    }
    if (!req->from || !req->from->url) {
        *reason = "Missing From";
        return 400;
    }
    if (!req->to || !req->to->url) {
        *reason = "Missing To";
        return 400;
    }
    if (!req->call_id || !req->call_id->number) {
        *reason = "Missing Call-ID";
        return 400;
    }
    if (!req->cseq || !req->cseq->method || !req->cseq->number) {
        *reason = "Missing CSeq";
        return 400;
    }
    for (const char *p = req->cseq->number; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            *reason = "Bad CSeq";
            return 400;
        }
    }
    /* RFC 3261 8.1.1.5: a 32-bit number below 2**31 (RFC 4475 3.1.2.5) */
    if (strlen(req->cseq->number) > 10 || strtoull(req->cseq->number, NULL, 10) > 2147483647ULL) {
        *reason = "Bad CSeq";
        return 400;
    }
    if (strcmp(req->cseq->method, req->sip_method) != 0) {
        *reason = "CSeq Method Mismatch";
        return 400;
    }
    if (osip_message_get_max_forwards(req, 0, &mf) >= 0 && mf && mf->hvalue) {
        char *end;
        long v = strtol(mf->hvalue, &end, 10);
        if (end == mf->hvalue || v < 0) {
            *reason = "Bad Max-Forwards";
            return 400;
        }
        if (v == 0) {
            *reason = "Too Many Hops";
            return 483;
        }
    }
    return 0;
}

/* A charset parameter value is UTF-8 compatible (quotes allowed). */
static int sip_charset_ok(const char *v)
{
    char buf[32];
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= sizeof(buf))
        return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return strcasecmp(buf, "utf-8") == 0 || strcasecmp(buf, "utf8") == 0 ||
           strcasecmp(buf, "us-ascii") == 0;
}

/* MESSAGE body: text/plain in UTF-8.  A body without Content-Type is a
 * 400 (RFC 3261 7.4.1); an empty MESSAGE without one is accepted.  See
 * sip.h. */
int sip_check_text_body(const osip_message_t *req, const char **body, size_t *len,
                        const char **reason)
{
    const osip_content_type_t *ct = req->content_type;
    const osip_content_length_t *cl = req->content_length;
    osip_body_t *b = NULL;

    if (!ct && cl && cl->value && atol(cl->value) > 0) {
        *reason = "Missing Content-Type";
        return 400;
    }
    if (ct) {
        osip_generic_param_t *cs = NULL;
        if (!ct->type || !ct->subtype || strcasecmp(ct->type, "text") != 0 ||
            strcasecmp(ct->subtype, "plain") != 0) {
            *reason = "Unsupported Media Type";
            return 415;
        }
        osip_generic_param_get_byname((osip_list_t *)&ct->gen_params, "charset", &cs);
        if (cs && (!cs->gvalue || !sip_charset_ok(cs->gvalue))) {
            *reason = "Unsupported Media Type";
            return 415;
        }
    }
    *body = "";
    *len = 0;
    if (osip_message_get_body(req, 0, &b) >= 0 && b && b->body) {
        *body = b->body;
        *len = b->length;
    }
    if (!sip_utf8_valid(*body, *len)) {
        *reason = "Invalid UTF-8 Body";
        return 400;
    }
    return 0;
}

/* The top Via gets received= / rport= (RFC 3261 18.2.1, RFC 3581). */
static void sip_via_stamp(osip_via_t *via, const char *src_ip, int src_port)
{
    osip_generic_param_t *rport = NULL, *recv = NULL;
    char port[16];

    osip_via_param_get_byname(via, "rport", &rport);
    osip_via_param_get_byname(via, "received", &recv);
    if (rport && !rport->gvalue) {
        snprintf(port, sizeof(port), "%d", src_port);
        rport->gvalue = osip_strdup(port);
    }
    if (!recv && (rport || !via->host || strcmp(via->host, src_ip) != 0))
        osip_via_set_received(via, osip_strdup(src_ip));
}

/* Write "Name: <to_str(hdr)>\r\n" when the request has hdr (a 400 for a
 * missing header still mirrors the others). */
#define SIP_PUT_HDR(b, name, fn, hdr)                                      \
    do {                                                                   \
        char *s_ = NULL;                                                   \
        if (!(hdr))                                                        \
            break;                                                         \
        if (fn(hdr, &s_) != 0 || !s_)                                      \
            goto out_fail;                                                 \
        gw_jbuf_puts(b, name ": ");                                        \
        gw_jbuf_puts(b, s_);                                               \
        gw_jbuf_put(b, "\r\n", 2);                                         \
        osip_free(s_);                                                     \
    } while (0)

/* See sip.h.  Modifies req: stamps the top Via, adds the To tag, so a
 * later response on the same transaction carries the same tag. */
char *sip_build_response(osip_message_t *req, int status, const char *reason,
                         const char *to_tag, const char *src_ip, int src_port,
                         const char *extra, size_t *len)
{
    /* one growing buffer (gw_jbuf), not a FILE: a response is built for
     * every request */
    char scratch[1024];
    gw_jbuf_t b = GW_JBUF_IN(scratch);
    osip_generic_param_t *tag = NULL;
    char *out;

    gw_jbuf_puts(&b, "SIP/2.0 ");
    gw_jbuf_int(&b, status);
    gw_jbuf_put(&b, " ", 1);
    gw_jbuf_puts(&b, reason);
    gw_jbuf_put(&b, "\r\n", 2);
    for (int i = 0; i < osip_list_size(&req->vias); i++) {
        osip_via_t *via = osip_list_get(&req->vias, i);
        if (i == 0 && src_ip)
            sip_via_stamp(via, src_ip, src_port);
        SIP_PUT_HDR(&b, "Via", osip_via_to_str, via);
    }
    SIP_PUT_HDR(&b, "From", osip_from_to_str, req->from);
    if (req->to)
        osip_to_get_tag(req->to, &tag);
    if (req->to && !tag && to_tag && status > 100)
        osip_to_set_tag(req->to, osip_strdup(to_tag));
    SIP_PUT_HDR(&b, "To", osip_to_to_str, req->to);
    SIP_PUT_HDR(&b, "Call-ID", osip_call_id_to_str, req->call_id);
    SIP_PUT_HDR(&b, "CSeq", osip_cseq_to_str, req->cseq);
    gw_jbuf_puts(&b, "Server: junction\r\n");
    if (extra)
        gw_jbuf_puts(&b, extra);
    gw_jbuf_puts(&b, "Content-Length: 0\r\n\r\n");
    *len = b.len;
    out = gw_jbuf_done(&b);
    return out;

out_fail:
    gw_jbuf_free(&b);
    return NULL;
}

/* Header name of line (up to ':'), lower-cased into name; 0 or -1. */
static int sip_line_name(const char *line, size_t n, char *name, size_t cap)
{
    size_t i = 0;
    while (i < n && line[i] != ':' && line[i] != ' ' && line[i] != '\t' && i + 1 < cap) {
        name[i] = (char)tolower((unsigned char)line[i]);
        i++;
    }
    name[i] = '\0';
    while (i < n && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return (i < n && line[i] == ':') ? 0 : -1;
}

/* See sip.h.  Lines are copied verbatim up to the first empty line. */
char *sip_build_raw_response(const char *buf, size_t n, int status, const char *reason,
                             size_t *len)
{
    static const char *const keep[] = {"via", "v", "from", "f", "to", "t",
                                       "call-id", "i", "cseq", NULL};
    char *out = NULL;
    size_t outn = 0;
    FILE *f = open_memstream(&out, &outn);
    int vias = 0;
    size_t i = 0;

    if (!f)
        return NULL;
    fprintf(f, "SIP/2.0 %d %s\r\n", status, reason);
    while (i < n && buf[i] != '\n') /* skip the request line */
        i++;
    i++;
    while (i < n) {
        size_t s = i, e;
        char name[16];
        while (i < n && buf[i] != '\n')
            i++;
        e = i;
        if (e > s && buf[e - 1] == '\r')
            e--;
        i++;
        if (e == s)
            break;
        if (sip_line_name(buf + s, e - s, name, sizeof(name)) != 0)
            continue;
        for (int k = 0; keep[k]; k++) {
            if (strcmp(name, keep[k]) == 0) {
                fwrite(buf + s, 1, e - s, f);
                fputs("\r\n", f);
                vias += k < 2;
                break;
            }
        }
    }
    fputs("Server: junction\r\nContent-Length: 0\r\n\r\n", f);
    if (fclose(f) != 0 || vias == 0) {
        free(out);
        return NULL;
    }
    *len = outn;
    return out;
}

/* See sip.h. */
int sip_txn_key(const osip_message_t *req, char *key, size_t keylen)
{
    osip_via_t *via = osip_list_get(&req->vias, 0);
    osip_generic_param_t *br = NULL;
    int n;

    if (!via || !req->cseq || !req->call_id)
        return GW_EINVAL;
    osip_via_param_get_byname(via, "branch", &br);
    if (br && br->gvalue && strncmp(br->gvalue, "z9hG4bK", 7) == 0) {
        n = snprintf(key, keylen, "b|%s|%s:%s|%s", br->gvalue, via->host ? via->host : "",
                     via->port ? via->port : "", req->cseq->method);
    } else {
        osip_generic_param_t *ftag = NULL;
        if (req->from)
            osip_from_get_tag(req->from, &ftag);
        n = snprintf(key, keylen, "c|%s@%s|%s|%s|%s", req->call_id->number,
                     req->call_id->host ? req->call_id->host : "", req->cseq->number,
                     ftag && ftag->gvalue ? ftag->gvalue : "", req->cseq->method);
    }
    return (n < 0 || (size_t)n >= keylen) ? GW_EINVAL : 0;
}

/* See sip.h.  Content-Length (or its compact form "l") decides where the
 * body ends; a stream message without one has no body. */
long sip_frame_length(const char *buf, size_t n, size_t max)
{
    const char *end = memmem(buf, n < max ? n : max, "\r\n\r\n", 4);
    size_t hdr, i;
    long cl = 0;

    if (!end)
        return n >= max ? GW_EINVAL : 0;
    hdr = (size_t)(end - buf) + 4;
    i = 0;
    while (i < hdr - 2) {
        size_t s = i, e;
        char name[24];
        while (i < hdr && buf[i] != '\n')
            i++;
        e = i++;
        if (sip_line_name(buf + s, e - s, name, sizeof(name)) != 0)
            continue;
        if (strcmp(name, "content-length") == 0 || strcmp(name, "l") == 0) {
            const char *v = (const char *)memchr(buf + s, ':', e - s) + 1;
            char *stop;
            while (v < buf + e && (*v == ' ' || *v == '\t'))
                v++;
            if (v >= buf + e || !isdigit((unsigned char)*v))
                return GW_EINVAL;
            cl = strtol(v, &stop, 10);
            if (cl < 0 || (size_t)cl > max)
                return GW_EINVAL;
        }
    }
    if (hdr + (size_t)cl > max)
        return GW_EINVAL;
    return n >= hdr + (size_t)cl ? (long)(hdr + (size_t)cl) : 0;
}

/* See sip.h: formatted straight into b, however long (gw_jbuf_fmt cuts
 * at 128 bytes). */
void sip_jbuf_printf(gw_jbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    gw_jbuf_need(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Random hex for tags, branches and Call-IDs.  Any thread. */
void sip_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];

    if (nbytes > sizeof(raw))
        nbytes = sizeof(raw);
    gw_rand_bytes(raw, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
}
