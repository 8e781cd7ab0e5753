/*
 * sip_resp.c - the header block of a response, copied from the request's
 * text.
 *
 * A response mirrors five headers of its request (RFC 3261 8.2.6.2): every
 * Via, From, To, Call-ID and CSeq.  sip_build_response writes them from
 * the parsed request through libosip2's *_to_str, one allocation and one
 * re-serialisation per header; for the 202 of every MESSAGE that was a
 * tenth of the SIP worker's time.  sip_resp_headers copies the lines as
 * they arrived instead, with the two changes a UAS makes:
 *   - the top Via gets received=<source address> when its sent-by host is
 *     not that address or it asked for rport, and a valueless rport gets
 *     the source port (RFC 3261 18.2.1, RFC 3581 4) — the same rule as
 *     sip_via_stamp on the parsed form;
 *   - the To gets ;tag=<to_tag> when the request's To has no tag.
 * Folded lines (a continuation starting with SP or HT) stay part of their
 * header.  Text it cannot follow (no Via, a Via without a sent-by, lines
 * longer than the request) gives NULL, and the caller falls back to the
 * parsed form.  Compact names (v, f, t, i) are kept: a response may use
 * them as well as the request did.
 *
 * Pure; any thread.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_jbuf.h"
#include "sip.h"

typedef enum { SIP_H_OTHER = 0, SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALLID, SIP_H_CSEQ } sip_hkind_t;

/* Which mirrored header the line at s (up to its ':') is. */
static sip_hkind_t sip_resp_kind(const char *s, size_t n, size_t *colon)
{
    static const struct {
        const char *name;
        sip_hkind_t kind;
    } names[] = {
        {"via", SIP_H_VIA},   {"v", SIP_H_VIA},         {"from", SIP_H_FROM}, {"f", SIP_H_FROM},
        {"to", SIP_H_TO},     {"t", SIP_H_TO},          {"call-id", SIP_H_CALLID},
        {"i", SIP_H_CALLID},  {"cseq", SIP_H_CSEQ},
    };
    size_t i = 0, len;

    while (i < n && s[i] != ':' && s[i] != ' ' && s[i] != '\t')
        i++;
    len = i;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n || s[i] != ':' || len == 0)
        return SIP_H_OTHER;
    *colon = i;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strlen(names[k].name) == len && strncasecmp(s, names[k].name, len) == 0)
            return names[k].kind;
    return SIP_H_OTHER;
}

/* The end of the first via-parm in v[0..n): the first ',' outside a
 * quoted string, or n. */
static size_t sip_resp_via_end(const char *v, size_t n)
{
    int quoted = 0;

    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"')
            quoted = !quoted;
        else if (v[i] == '\\' && quoted && i + 1 < n)
            i++;
        else if (v[i] == ',' && !quoted)
            return i;
    }
    return n;
}

static int sip_resp_lws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Write the top Via header [s, e) stamped.  0, or -1 when its first value
 * has no sent-by. */
static int sip_resp_via(gw_jbuf_t *b, const char *s, size_t colon, size_t e, const char *ip,
                        int port)
{
    const char *v = s + colon + 1, *end = s + e;
    size_t vn = (size_t)(end - v), ve, i = 0, hs, he, rport_end = 0;
    int has_rport = 0, has_received = 0;

    ve = sip_resp_via_end(v, vn);
    while (ve > 0 && sip_resp_lws(v[ve - 1]))
        ve--;
    /* LWS, sent-protocol "SIP/2.0/UDP", LWS, then the sent-by host */
    while (i < ve && sip_resp_lws(v[i]))
        i++;
    while (i < ve && !sip_resp_lws(v[i]))
        i++;
    while (i < ve && sip_resp_lws(v[i]))
        i++;
    hs = i;
    if (i < ve && v[i] == '[') {
        while (i < ve && v[i] != ']')
            i++;
        if (i < ve)
            i++;
    } else {
        while (i < ve && v[i] != ':' && v[i] != ';' && !sip_resp_lws(v[i]))
            i++;
    }
    he = i;
    if (he == hs)
        return -1;
    /* the parameters: ;name[=value] */
    while (i < ve) {
        size_t ns, ne;
        if (v[i] != ';') {
            i++;
            continue;
        }
        i++;
        while (i < ve && sip_resp_lws(v[i]))
            i++;
        ns = i;
        while (i < ve && v[i] != '=' && v[i] != ';' && !sip_resp_lws(v[i]))
            i++;
        ne = i;
        if (ne - ns == 5 && strncasecmp(v + ns, "rport", 5) == 0) {
            has_rport = 1;
            while (i < ve && sip_resp_lws(v[i]))
                i++;
            if (i >= ve || v[i] != '=')
                rport_end = ne; /* valueless: gets the port */
        } else if (ne - ns == 8 && strncasecmp(v + ns, "received", 8) == 0) {
            has_received = 1;
        }
        while (i < ve && v[i] != ';') {
            if (v[i] == '"') { /* a quoted value: skip it whole */
                i++;
                while (i < ve && v[i] != '"')
                    i += (v[i] == '\\' && i + 1 < ve) ? 2 : 1;
            }
            i++;
        }
    }
    if (rport_end) {
        gw_jbuf_put(b, s, (size_t)(v + rport_end - s));
        gw_jbuf_put(b, "=", 1);
        gw_jbuf_int(b, port);
        gw_jbuf_put(b, v + rport_end, ve - rport_end);
    } else {
        gw_jbuf_put(b, s, (size_t)(v + ve - s));
    }
    if (!has_received &&
        (has_rport || he - hs != strlen(ip) || strncmp(v + hs, ip, he - hs) != 0)) {
        gw_jbuf_puts(b, ";received=");
        gw_jbuf_puts(b, ip);
    }
    gw_jbuf_put(b, v + ve, vn - ve);
    gw_jbuf_put(b, "\r\n", 2);
    return 0;
}

/* See sip.h. */
int sip_resp_headers(const char *buf, size_t n, const char *to_tag, const char *src_ip,
                     int src_port, gw_jbuf_t *b)
{
    size_t i = 0, start = b->len;
    int vias = 0;

    while (i < n && buf[i] != '\n') /* the request line */
        i++;
    i++;
    while (i < n) {
        size_t s = i, e, colon = 0;
        sip_hkind_t kind;
        /* one header: its line and the continuation lines after it */
        for (;;) {
            while (i < n && buf[i] != '\n')
                i++;
            if (i + 1 < n && (buf[i + 1] == ' ' || buf[i + 1] == '\t')) {
                i++;
                continue;
            }
            break;
        }
        e = i;
        if (e > s && buf[e - 1] == '\r')
            e--;
        i++;
        if (e == s)
            break; /* the empty line: the headers end */
        kind = sip_resp_kind(buf + s, e - s, &colon);
        if (kind == SIP_H_OTHER)
            continue;
        if (kind == SIP_H_VIA && vias++ == 0) {
            if (sip_resp_via(b, buf + s, colon, e - s, src_ip, src_port) != 0)
                goto out_fail;
            continue;
        }
        while (kind == SIP_H_TO && e > s && sip_resp_lws(buf[e - 1]))
            e--;
        gw_jbuf_put(b, buf + s, e - s);
        if (kind == SIP_H_TO && to_tag != NULL) {
            gw_jbuf_puts(b, ";tag=");
            gw_jbuf_puts(b, to_tag);
        }
        gw_jbuf_put(b, "\r\n", 2);
    }
    if (vias == 0 || b->oom)
        goto out_fail;
    return 0;

out_fail:
    b->len = start; /* nothing of it written */
    if (b->p != NULL && !b->oom)
        b->p[start] = '\0';
    return -1;
}
