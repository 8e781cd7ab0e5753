/*
 * sip_view_get.c - the accessors of a parsed view (sip_view.h): the n-th
 * value of a header, a Via's transport, sent-by and parameters, a
 * name-addr's display name, URI and parameters (tag, lr, expires, q),
 * Expires.  Each parses on demand from the view's ranges, as RFC 3261
 * 25.1 writes it with LWS allowed around the separators; nothing is
 * stored, nothing allocated, nothing read outside the range given.
 *
 * Ownership: results are ranges into the view's buffer.
 * Threads: pure; any thread.
 */
#include <string.h>

#include "sip_view_int.h"

/* See sip_view.h. */
int sip_view_eq(const sip_view_t *v, sip_range_t r, const char *text)
{
    size_t i, n = strlen(text);

    if (r.len != n)
        return 0;
    for (i = 0; i < n; i++)
        if (sip_vw_lower((unsigned char)v->buf[r.off + i]) != sip_vw_lower((unsigned char)text[i]))
            return 0;
    return 1;
}

/* See sip_view.h. */
unsigned sip_view_num(const sip_view_t *v, sip_hdr_id_t id)
{
    unsigned k, rc = 0;

    if (!sip_vw_is_list(id))
        return v->count[id];
    for (k = 0; k < v->nhdrs; k++)
        if (v->hdrs[k].id == id)
            rc += v->hdrs[k].nvals;
    return rc;
}

/* See sip_view.h. */
int sip_view_nth(const sip_view_t *v, sip_hdr_id_t id, unsigned n, sip_range_t *out)
{
    unsigned k;

    if ((unsigned)id >= SIP_H__COUNT || v->first[id] < 0)
        return -1;
    for (k = (unsigned)v->first[id]; k < v->nhdrs; k++) {
        const sip_view_hdr_t *h = &v->hdrs[k];
        if (h->id != id)
            continue;
        if (!sip_vw_is_list(id) && n-- == 0) {
            *out = h->value;
            return (int)k;
        }
        if (sip_vw_is_list(id) && n < h->nvals) {
            *out = v->vals[h->val0 + n].r;
            return h->val0 + (int)n;
        }
        if (sip_vw_is_list(id))
            n -= h->nvals;
    }
    return -1;
}

/* Skip white space from *i to e. */
static void sip_vw_skip(const char *b, uint32_t *i, uint32_t e)
{
    while (*i < e && sip_vw_ws((unsigned char)b[*i]))
        (*i)++;
}

/* A token from *i: its range, 0, or -1 when empty. */
static int sip_vw_token(const char *b, uint32_t *i, uint32_t e, sip_range_t *t)
{
    uint32_t s = *i;

    while (*i < e && sip_vw_tokc((unsigned char)b[*i]))
        (*i)++;
    *t = sip_vw_range(s, *i);
    return *i > s ? 0 : -1;
}

/* A parameter value: quoted string, or token / host / IPv6 characters. */
static int sip_vw_pvalue(const char *b, uint32_t *i, uint32_t e, sip_range_t *t)
{
    uint32_t s = *i;

    if (*i < e && b[*i] == '"') {
        for ((*i)++; *i < e && b[*i] != '"'; (*i)++)
            if (b[*i] == '\\')
                (*i)++;
        if (*i >= e)
            return -1;
        (*i)++;
    } else {
        while (*i < e && (sip_vw_cc[(unsigned char)b[*i]] & SIP_VW_PVAL))
            (*i)++;
    }
    *t = sip_vw_range(s, *i);
    return *i > s ? 0 : -1;
}

/* Via parameters from i: ;name[=value] ... to e. */
static int sip_vw_via_params(const sip_view_t *v, uint32_t i, uint32_t e, sip_view_via_t *o)
{
    const char *b = v->buf;
    unsigned long long x;
    sip_range_t nm, val;

    for (;;) {
        sip_vw_skip(b, &i, e);
        if (i >= e)
            break;
        if (b[i] != ';')
            return SIP_VE_BAD_VIA;
        i++;
        sip_vw_skip(b, &i, e);
        if (sip_vw_token(b, &i, e, &nm) != 0)
            return SIP_VE_BAD_VIA;
        o->params_end = i;
        val.off = i, val.len = 0;
        sip_vw_skip(b, &i, e);
        if (i < e && b[i] == '=') {
            i++;
            sip_vw_skip(b, &i, e);
            if (sip_vw_pvalue(b, &i, e, &val) != 0)
                return SIP_VE_BAD_VIA;
            o->params_end = i;
        }
        if (SIP_VW_EQ(b, nm, "branch")) {
            o->branch = val;
            o->rfc3261 = val.len > 7 && memcmp(b + val.off, "z9hG4bK", 7) == 0;
        } else if (SIP_VW_EQ(b, nm, "received")) {
            o->received = val;
        } else if (SIP_VW_EQ(b, nm, "rport")) {
            o->rport_at = nm;
            o->rport_val = val;
            if (val.len == 0)
                o->rport = 0;
            else if (sip_vw_uint(b, val.off, val.off + val.len, 65535, &x) != 0 || x == 0)
                return SIP_VE_BAD_VIA;
            else
                o->rport = (int)x;
        } else if (SIP_VW_EQ(b, nm, "maddr")) {
            o->maddr = val;
        } else if (SIP_VW_EQ(b, nm, "ttl")) {
            if (sip_vw_uint(b, val.off, val.off + val.len, 255, &x) != 0)
                return SIP_VE_BAD_VIA;
            o->ttl = (int)x;
        }
    }
    return 0;
}

/* See sip_view.h: "SIP / 2.0 / UDP host[:port] *(;param)", LWS anywhere
 * RFC 3261 25.1 allows it (around '/', ':', ';', '='). */
int sip_view_via(const sip_view_t *v, unsigned n, sip_view_via_t *o)
{
    const char *b = v->buf;
    sip_range_t r, t;
    uint32_t i, e, hs;
    unsigned long long x;
    int part;

    if (n < (unsigned)v->via_ok) { /* the checks parsed it */
        *o = v->vias[n];
        return 0;
    }
    memset(o, 0, sizeof(*o));
    o->rport = -1;
    o->ttl = -1;
    if (sip_view_nth(v, SIP_H_VIA, n, &r) < 0)
        return SIP_VE_NOT_FOUND;
    o->value = r;
    i = r.off;
    e = r.off + r.len;
    for (part = 0; part < 3; part++) {
        sip_vw_skip(b, &i, e);
        if (sip_vw_token(b, &i, e, &t) != 0)
            return SIP_VE_BAD_VIA;
        sip_vw_skip(b, &i, e);
        if (part < 2 && (i >= e || b[i++] != '/'))
            return SIP_VE_BAD_VIA;
    }
    o->transport = t;
    hs = i;
    if (i < e && b[i] == '[') {
        while (i < e && b[i] != ']')
            i++;
        if (i >= e)
            return SIP_VE_BAD_VIA;
        i++;
    } else {
        while (i < e && (sip_vw_tokc((unsigned char)b[i])))
            i++;
    }
    if (i == hs)
        return SIP_VE_BAD_VIA;
    o->host = sip_vw_range(hs, i);
    o->params_end = i;
    sip_vw_skip(b, &i, e);
    if (i < e && b[i] == ':') {
        uint32_t ps;
        i++;
        sip_vw_skip(b, &i, e);
        ps = i;
        while (i < e && b[i] >= '0' && b[i] <= '9')
            i++;
        if (sip_vw_uint(b, ps, i, 65535, &x) != 0 || x == 0)
            return SIP_VE_BAD_VIA;
        o->port = (int)x;
        o->params_end = i;
    }
    return sip_vw_via_params(v, i, e, o);
}

/* The parameter name of n octets (lower case) in the ;-separated list
 * r: 1 and its value in *val (len 0 when it has none), else 0.  Octets
 * other than ';' and '"' are skipped in a run. */
static int sip_vw_param(const sip_view_t *v, sip_range_t r, const char *name, size_t n,
                        sip_range_t *val)
{
    const char *b = v->buf;
    uint32_t i = r.off, e = r.off + r.len;
    sip_range_t nm, pv;

    while (i < e) {
        while (i < e && b[i] != ';') {
            if (b[i] == '"')
                for (i++; i < e && b[i] != '"'; i++)
                    if (b[i] == '\\')
                        i++;
            i++;
        }
        if (i >= e)
            break;
        i++;
        sip_vw_skip(b, &i, e);
        sip_vw_token(b, &i, e, &nm);
        sip_vw_skip(b, &i, e);
        pv.off = i, pv.len = 0;
        if (i < e && b[i] == '=') {
            i++;
            sip_vw_skip(b, &i, e);
            sip_vw_pvalue(b, &i, e, &pv);
        }
        if (nm.len && sip_vw_eqn(b, nm, name, n)) {
            *val = pv;
            return 1;
        }
    }
    return 0;
}

/* See sip_view.h. */
int sip_view_param(const sip_view_t *v, sip_range_t r, const char *name, sip_range_t *val)
{
    char low[64];
    size_t n = strlen(name);

    if (n >= sizeof low)
        return 0; /* no parameter name we look for is that long */
    for (size_t k = 0; k <= n; k++)
        low[k] = (char)sip_vw_lower((unsigned char)name[k]);
    return sip_vw_param(v, r, low, n, val);
}

/* See sip_view_int.h. */
int sip_vw_param_tag(const sip_view_t *v, sip_range_t r, sip_range_t *tag)
{
    return sip_vw_param(v, r, "tag", 3, tag);
}

/* A URI has no white space (badaspec); a display name is a quoted
 * string or tokens separated by LWS (baddn, RFC 3261 25.1). */
static int sip_vw_addr_words(const char *b, sip_range_t r, int display)
{
    uint32_t k;

    if (display && r.len && b[r.off] == '"')
        return b[r.off + r.len - 1] == '"';
    for (k = r.off; k < r.off + r.len; k++)
        if (display ? !sip_vw_tokc((unsigned char)b[k]) && !sip_vw_ws((unsigned char)b[k])
                    : sip_vw_ws((unsigned char)b[k]))
            return 0;
    return 1;
}

/* See sip_view_int.h. */
/* See sip_view_int.h: display, URI and parameters of r, checked; no
 * parameter read. */
int sip_vw_addr_split(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict)
{
    const char *b = v->buf;
    uint32_t i = r.off, e = r.off + r.len, lt = e, gt;

    memset(o, 0, sizeof(*o));
    o->expires = -1;
    o->q = -1;
    if (!(strict & SIP_VW_KNOWN_BALANCED) && !sip_vw_balanced(b, i, e))
        return SIP_VE_BAD_VALUE;
    if (r.len == 1 && b[i] == '*') {
        o->star = 1;
        return 0;
    }
    /* name-addr: [display] <uri>; else addr-spec up to the first ';'. */
    for (uint32_t k = i; k < e; k++) {
        if (b[k] == '"') {
            for (k++; k < e && b[k] != '"'; k++)
                if (b[k] == '\\')
                    k++;
            continue;
        }
        if (b[k] == '<')
            lt = k;
        if (b[k] == '<' || b[k] == ';')
            break;
    }
    if (lt < e) {
        const char *g = memchr(b + lt, '>', e - lt);
        if (!g)
            return SIP_VE_BAD_VALUE;
        gt = (uint32_t)(g - b);
        {
            uint32_t ds = i, de = lt;
            sip_vw_trim(b, &ds, &de);
            o->display = sip_vw_range(ds, de);
        }
        o->uri = sip_vw_range(lt + 1, gt);
        o->params = sip_vw_range(gt + 1, e);
    } else {
        const char *semi = memchr(b + i, ';', e - i);
        uint32_t ue = semi ? (uint32_t)(semi - b) : e, us = i;
        sip_vw_trim(b, &us, &ue);
        o->uri = sip_vw_range(us, ue);
        o->params = sip_vw_range(ue, e);
        /* RFC 3261 20: an addr-spec with ',' '?' or ';' in the URI must be in <>. */
        if (memchr(b + us, '?', ue - us) || memchr(b + us, ',', ue - us))
            return SIP_VE_BAD_VALUE;
    }
    if (o->uri.len == 0 ||
        ((strict & SIP_VW_STRICT) &&
         (!sip_vw_addr_words(b, o->uri, 0) || !sip_vw_addr_words(b, o->display, 1))))
        return SIP_VE_BAD_VALUE;
    return 0;
}

int sip_vw_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict)
{
    const char *b = v->buf;
    sip_range_t pv;
    int rc = sip_vw_addr_split(v, r, o, strict);

    if (rc != 0 || o->star)
        return rc;
    o->lr = sip_vw_param(v, o->uri, "lr", 2, &pv);
    if (sip_vw_param(v, o->params, "expires", 7, &pv) &&
        sip_vw_uint_clamp(b, pv.off, pv.off + pv.len, &o->expires) != 0)
        return SIP_VE_BAD_VALUE;
    if (sip_vw_param(v, o->params, "q", 1, &pv)) {
        /* qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ] */
        int q = 0, d = 0;
        uint32_t k = pv.off, pe = pv.off + pv.len;
        if (k >= pe || (b[k] != '0' && b[k] != '1'))
            return SIP_VE_BAD_VALUE;
        q = (b[k++] - '0') * 1000;
        if (k < pe && b[k++] != '.')
            return SIP_VE_BAD_VALUE;
        for (int m = 100; k < pe; k++, m /= 10, d++) {
            if (d == 3 || b[k] < '0' || b[k] > '9')
                return SIP_VE_BAD_VALUE;
            q += (b[k] - '0') * m;
        }
        if (q > 1000)
            return SIP_VE_BAD_VALUE;
        o->q = q;
    }
    return 0;
}

/* See sip_view.h. */
int sip_view_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *out)
{
    return sip_vw_addr(v, r, out, 1);
}

/* See sip_view.h. */
int sip_view_route(const sip_view_t *v, unsigned n, sip_view_addr_t *out)
{
    sip_range_t r;

    if (sip_view_nth(v, SIP_H_ROUTE, n, &r) < 0)
        return SIP_VE_NOT_FOUND;
    return sip_view_addr(v, r, out);
}

/* See sip_view.h. */
int sip_view_contact(const sip_view_t *v, unsigned n, sip_view_addr_t *out)
{
    sip_range_t r;

    if (sip_view_nth(v, SIP_H_CONTACT, n, &r) < 0)
        return SIP_VE_NOT_FOUND;
    return sip_view_addr(v, r, out);
}

/* See sip_view.h. */
int sip_view_expires(const sip_view_t *v, long *out)
{
    const sip_view_hdr_t *h = sip_vw_first(v, SIP_H_EXPIRES);

    if (!h)
        return SIP_VE_NOT_FOUND;
    return sip_vw_uint_clamp(v->buf, h->value.off, h->value.off + h->value.len, out) == 0
               ? 0 : SIP_VE_BAD_VALUE;
}
