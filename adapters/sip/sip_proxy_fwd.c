/*
 * sip_proxy_fwd.c - the bytes of what the proxy forwards, made from the
 * view of what it received (sip_view.h) by its edits in one copy, never by
 * re-serialising a parsed tree.
 *
 *   a request (16.6): new Request-URI, Max-Forwards decremented, our Via
 *     on top, our Record-Route, our own top Route removed, a binding's
 *     Path values as the top Route (RFC 3327) - sip_view_apply, then the
 *     Path line after the request line;
 *   the strict-router rewrite (16.4): the Request-URI becomes the last
 *     Route's URI and that Route goes;
 *   a response (16.7 step 9): our top Via removed;
 *   the CANCEL of a branch (9.1) and the ACK of its non-2xx final
 *     (17.1.1.3), written from the forwarded request's view.
 *
 * Ownership: reads the views' buffers; writes only out[0..cap).
 * Threads: pure; any thread.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "sip_proxy.h"

/* See sip_proxy.h. */
long sip_px_build(const sip_view_t *v, const sip_px_fwd_t *f, char *out, size_t cap)
{
    sip_view_edit_t e[6];
    size_t n = 0;
    long len;

    e[n++] = (sip_view_edit_t){SIP_EDIT_VIA_ADD, f->via, strlen(f->via), 0};
    e[n++] = (sip_view_edit_t){SIP_EDIT_MAX_FWD, NULL, 0, -1};
    if (f->ruri)
        e[n++] = (sip_view_edit_t){SIP_EDIT_RURI, f->ruri, strlen(f->ruri), 0};
    if (f->rr)
        e[n++] = (sip_view_edit_t){SIP_EDIT_RR_ADD, f->rr, strlen(f->rr), 0};
    if (f->del_top_route)
        e[n++] = (sip_view_edit_t){SIP_EDIT_ROUTE_DEL_TOP, NULL, 0, 0};
    len = sip_view_apply(v, e, n, out, cap);
    if (len >= 0 && f->path && f->path[0]) {
        /* the Path values as the first header: the top Route */
        char *eol = memchr(out, '\n', (size_t)len);
        size_t add = strlen("Route: \r\n") + strlen(f->path);
        if (!eol) {
            len = SIP_VE_BAD_EDIT;
        } else if ((size_t)len + add > cap) {
            len = SIP_VE_NOSPACE;
        } else {
            size_t at = (size_t)(eol + 1 - out);
            memmove(out + at + add, out + at, (size_t)len - at);
            memcpy(out + at, "Route: ", 7);
            memcpy(out + at + 7, f->path, strlen(f->path));
            memcpy(out + at + add - 2, "\r\n", 2);
            len += (long)add;
        }
    }
    return len;
}

/* Append p[0..n) to out at *len within cap; -1 when it does not fit. */
static int sip_px_put(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
    int rc = 0;

    if (*len + n > cap)
        rc = -1;
    else {
        memcpy(out + *len, p, n);
        *len += n;
    }
    return rc;
}

/* See sip_proxy.h. */
long sip_px_strict_rewrite(const sip_view_t *v, char *out, size_t cap)
{
    unsigned nr = sip_view_num(v, SIP_H_ROUTE);
    sip_view_addr_t a;
    sip_range_t last;
    const sip_view_hdr_t *h;
    uint32_t cut_from, cut_to;
    size_t len = 0;
    int vi, rc = 0;

    if (nr == 0 || (vi = sip_view_nth(v, SIP_H_ROUTE, nr - 1, &last)) < 0 ||
        sip_view_addr(v, last, &a) != 0)
        return SIP_VE_NOT_FOUND;
    h = &v->hdrs[v->vals[vi].hdr];
    if (h->nvals == 1) { /* the whole line */
        cut_from = h->line_off;
        cut_to = h->line_end;
    } else { /* ", value" at the end of its line: from the comma before it */
        const sip_view_val_t *prev = &v->vals[vi - 1];
        cut_from = prev->r.off + prev->r.len;
        cut_to = last.off + last.len;
    }
    /* start .. Request-URI, the last Route's URI, .. the cut, after it */
    if (sip_px_put(out, cap, &len, v->buf + v->start, v->ruri.off - v->start) != 0 ||
        sip_px_put(out, cap, &len, v->buf + a.uri.off, a.uri.len) != 0 ||
        sip_px_put(out, cap, &len, v->buf + v->ruri.off + v->ruri.len,
                   cut_from - (v->ruri.off + v->ruri.len)) != 0 ||
        sip_px_put(out, cap, &len, v->buf + cut_to, v->len - cut_to) != 0)
        rc = SIP_VE_NOSPACE;
    return rc ? rc : (long)len;
}

/* See sip_proxy.h. */
long sip_px_resp_strip(const sip_view_t *v, char *out, size_t cap)
{
    sip_view_edit_t e = {SIP_EDIT_VIA_DEL_TOP, NULL, 0, 0};
    return sip_view_apply(v, &e, 1, out, cap);
}

/* See sip_proxy.h. */
int sip_px_via_dest(const sip_view_t *v, unsigned n, sip_sa_t *out)
{
    sip_view_via_t via;
    sip_range_t h;
    int port;

    if (sip_view_via(v, n, &via) != 0)
        return -1;
    h = via.received.len ? via.received : via.host;
    port = via.rport > 0 ? via.rport : via.port > 0 ? via.port : 5060;
    return sip_sa_from_host(v->buf + h.off, h.len, port, out); /* IPv4, [IPv6] or IPv6 */
}

/* "Name: value\r\n" of the header line holding range r. */
static int sip_px_put_hdr(char *out, size_t cap, size_t *len, const char *name, const sip_view_t *v,
                          sip_range_t r)
{
    int rc = sip_px_put(out, cap, len, name, strlen(name));
    if (rc == 0)
        rc = sip_px_put(out, cap, len, v->buf + r.off, r.len);
    if (rc == 0)
        rc = sip_px_put(out, cap, len, "\r\n", 2);
    return rc;
}

/* See sip_proxy.h. */
long sip_px_build_cancel_ack(const sip_view_t *fwd, const sip_view_t *resp, char *out, size_t cap)
{
    const char *method = resp ? "ACK" : "CANCEL";
    sip_view_via_t via;
    sip_range_t from, to, r;
    char cseq[48];
    size_t len = 0;
    int rc = 0;

    if (sip_view_via(fwd, 0, &via) != 0 || sip_view_nth(fwd, SIP_H_FROM, 0, &from) < 0 ||
        sip_view_nth(resp ? resp : fwd, SIP_H_TO, 0, &to) < 0)
        return SIP_VE_NOT_FOUND;
    snprintf(cseq, sizeof cseq, "CSeq: %u %s\r\n", fwd->cseq, method);
    if (sip_px_put(out, cap, &len, method, strlen(method)) != 0 ||
        sip_px_put(out, cap, &len, " ", 1) != 0 ||
        sip_px_put(out, cap, &len, fwd->buf + fwd->ruri.off, fwd->ruri.len) != 0 ||
        sip_px_put(out, cap, &len, " SIP/2.0\r\n", 10) != 0 ||
        sip_px_put_hdr(out, cap, &len, "Via: ", fwd, via.value) != 0 ||
        sip_px_put(out, cap, &len, "Max-Forwards: 70\r\n", 18) != 0 ||
        sip_px_put_hdr(out, cap, &len, "From: ", fwd, from) != 0 ||
        sip_px_put_hdr(out, cap, &len, "To: ", resp ? resp : fwd, to) != 0 ||
        sip_px_put_hdr(out, cap, &len, "Call-ID: ", fwd, fwd->call_id) != 0 ||
        sip_px_put(out, cap, &len, cseq, strlen(cseq)) != 0)
        rc = SIP_VE_NOSPACE;
    for (unsigned i = 0; rc == 0 && sip_view_nth(fwd, SIP_H_ROUTE, i, &r) >= 0; i++)
        if (sip_px_put_hdr(out, cap, &len, "Route: ", fwd, r) != 0)
            rc = SIP_VE_NOSPACE;
    if (rc == 0 && sip_px_put(out, cap, &len, "Content-Length: 0\r\n\r\n", 21) != 0)
        rc = SIP_VE_NOSPACE;
    return rc ? rc : (long)len;
}
