/*
 * sip_view.c - parse one SIP message into a byte-offset view (sip_view.h)
 * and frame one out of a TCP stream.
 *
 * One forward pass: skip leading CRLFs (RFC 3261 7.5), the start line,
 * then header lines until the empty line.  A line that begins with SP or
 * HT continues the previous header (7.3.1), so a header is the run of
 * lines up to the next one that does not; its value is kept as one range
 * with the folds inside, and every scanner here treats CR, LF, SP and HT
 * alike as white space.  The list headers are split on commas outside
 * quoted strings and <> as they are read.  The mandatory checks run last,
 * when every header is known.  Numbers are parsed with overflow checks and
 * nothing reads past the range it was given: the buffer may hold NUL and
 * any octet.
 *
 * The accessors are in sip_view_get.c, the octet and name tables in
 * sip_view_names.c, the helpers they share in sip_view_int.h.
 *
 * Ownership: the view points into the caller's buffer.
 * Threads: pure; any thread.
 */
#include <stddef.h>
#include <string.h>

#include "sip_view_int.h"

static const char *const sip_view_errs[SIP_VE__COUNT] = {
    "OK", "Message incomplete", "Message Too Large", "Empty message", "Truncated message",
    "Bad start line", "SIP Version not supported", "Bad method", "Bad Request-URI",
    "Bad status code", "Malformed header line", "Too many headers", "Too many header values",
    "Unterminated quoted string", "Duplicate header", "No Via", "Bad Via", "No CSeq",
    "Bad CSeq", "CSeq method mismatch", "No Call-ID", "No From", "No To", "Bad Max-Forwards",
    "Bad Content-Length", "Content-Length mismatch", "Content-Length required",
    "Bad header value", "Header not found", "Output buffer too small", "Bad edit",
};

/* See sip_view.h. */
const char *sip_view_strerror(int rc)
{
    if (rc > 0 || rc <= -SIP_VE__COUNT)
        return "Unknown error";
    return sip_view_errs[-rc];
}

/* The headers a request carries once (RFC 3261 7.3.1, 20). */
static const uint8_t sip_vw_single[] = {
    SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ, SIP_H_MAX_FORWARDS,
    SIP_H_CONTENT_LENGTH, SIP_H_CONTENT_TYPE, SIP_H_EXPIRES,
};

/* ---- framing ---- */

/* Offset just past the first "\r\n\r\n" at or after s, 0 when none:
 * from one LF to the next (memchr), as header lines are short. */
static size_t sip_vw_hdr_end(const char *buf, size_t s, size_t n)
{
    const char *p = buf + s, *end = buf + n;

    while (end - p >= 4 && (p = memchr(p + 1, '\n', (size_t)(end - p - 1))) != NULL) {
        if (end - p >= 3 && p[-1] == '\r' && p[1] == '\r' && p[2] == '\n')
            return (size_t)(p - buf) + 3;
    }
    return 0;
}

/* Content-Length of the header block buf[s..he) by a light line scan:
 * *cl = -1 when absent.  0 or an error. */
static int sip_vw_scan_clen(const char *buf, size_t s, size_t he, long *cl)
{
    size_t i = s;
    int rc = 0;

    *cl = -1;
    while (rc == 0 && i < he) {
        const char *nl = memchr(buf + i, '\n', he - i);
        size_t e = nl ? (size_t)(nl - buf) : he, k = i, c;
        unsigned long long x;

        while (k < e && sip_vw_tokc((unsigned char)buf[k]))
            k++;
        c = k;
        while (c < e && (buf[c] == ' ' || buf[c] == '\t'))
            c++;
        if (c < e && buf[c] == ':' && sip_view_hdr_id(buf + i, k - i) == SIP_H_CONTENT_LENGTH) {
            uint32_t vs = (uint32_t)c + 1, ve = (uint32_t)e;
            sip_vw_trim(buf, &vs, &ve);
            if (*cl >= 0)
                rc = SIP_VE_DUP_HEADER;
            else if (sip_vw_uint(buf, vs, ve, SIP_VIEW_MAX_MSG, &x) != 0)
                rc = SIP_VE_BAD_CLEN;
            else
                *cl = (long)x;
        }
        i = e + 1;
    }
    return rc;
}

/* See sip_view.h. */
int sip_view_frame(const char *buf, size_t n, size_t *msg_len)
{
    size_t s = 0, he, lim = n < SIP_VIEW_MAX_MSG ? n : SIP_VIEW_MAX_MSG;
    long cl;
    int rc;

    while (s + 1 < lim && buf[s] == '\r' && buf[s + 1] == '\n')
        s += 2;
    he = sip_vw_hdr_end(buf, s, lim);
    if (!he)
        return n >= SIP_VIEW_MAX_MSG ? SIP_VE_TOO_LARGE : SIP_VE_NEED_MORE;
    rc = sip_vw_scan_clen(buf, s, he, &cl);
    if (rc == 0 && cl < 0)
        rc = SIP_VE_NO_CLEN;
    else if (rc == 0 && he + (size_t)cl > SIP_VIEW_MAX_MSG)
        rc = SIP_VE_TOO_LARGE;
    else if (rc == 0 && n < he + (size_t)cl)
        rc = SIP_VE_NEED_MORE;
    if (rc == 0)
        *msg_len = he + (size_t)cl;
    return rc;
}

/* ---- start line ---- */

/* "SIP/2.0" at b[s..e): 0; another "SIP/x.y": SIP_VE_VERSION; else
 * SIP_VE_START_LINE. */
static int sip_vw_version(const char *b, uint32_t s, uint32_t e)
{
    uint32_t i = s + 4;
    int dots = 0, digits = 0;

    if (e - s < 4 || !sip_vw_ieq(b + s, 4, "sip/"))
        return SIP_VE_START_LINE;
    for (; i < e; i++) {
        if (b[i] == '.' && digits && !dots)
            dots = 1, digits = 0;
        else if (b[i] >= '0' && b[i] <= '9')
            digits++;
        else
            return SIP_VE_START_LINE;
    }
    if (!dots || !digits)
        return SIP_VE_START_LINE;
    return e - s == 7 && memcmp(b + s + 4, "2.0", 3) == 0 ? 0 : SIP_VE_VERSION;
}

/* A Request-URI: scheme ":" then no control octet; a sip: or sips: URI
 * carries no headers ('?' after its host, RFC 3261 19.1.1). */
static int sip_vw_ruri(const char *b, uint32_t s, uint32_t e)
{
    uint32_t i = s;
    const char *at;

    if (i >= e || !((b[i] | 32) >= 'a' && (b[i] | 32) <= 'z'))
        return SIP_VE_URI;
    while (i < e && (((b[i] | 32) >= 'a' && (b[i] | 32) <= 'z') ||
                     (b[i] >= '0' && b[i] <= '9') || b[i] == '+' || b[i] == '-' || b[i] == '.'))
        i++;
    if (i >= e || b[i] != ':' || i + 1 >= e)
        return SIP_VE_URI;
    for (uint32_t k = s; k < e; k++)
        if (sip_vw_cc[(unsigned char)b[k]] & SIP_VW_NOT_URI)
            return SIP_VE_URI;
    if (sip_vw_ieq(b + s, i - s, "sip") || sip_vw_ieq(b + s, i - s, "sips")) {
        at = memchr(b + i, '@', e - i);
        if (memchr(at ? at : b + i, '?', (size_t)(b + e - (at ? at : b + i))))
            return SIP_VE_URI;
    }
    return 0;
}

static int sip_vw_start_line(sip_view_t *v, uint32_t s, uint32_t e)
{
    const char *b = v->buf;
    uint32_t sp1, sp2;
    unsigned long long code;

    const char *p = memchr(b + s, ' ', e - s);
    if (!p)
        return SIP_VE_START_LINE;
    sp1 = (uint32_t)(p - b);
    if (sp1 - s >= 4 && sip_vw_ieq(b + s, 4, "sip/")) {
        int rc;
        v->is_request = 0;
        rc = sip_vw_version(b, s, sp1);
        if (rc)
            return rc;
        sp2 = sp1 + 1;
        while (sp2 < e && b[sp2] != ' ')
            sp2++;
        if (sp2 - sp1 - 1 != 3 || sip_vw_uint(b, sp1 + 1, sp2, 699, &code) != 0 || code < 100)
            return SIP_VE_STATUS;
        v->status = (int)code;
        v->reason = sip_vw_range(sp2 < e ? sp2 + 1 : e, e);
        for (uint32_t k = v->reason.off; k < e; k++)
            if (b[k] == '\0' || b[k] == '\r')
                return SIP_VE_START_LINE;
        return 0;
    }
    for (uint32_t k = s; k < sp1; k++)
        if (!sip_vw_tokc((unsigned char)b[k]))
            return SIP_VE_METHOD;
    if (sp1 == s)
        return SIP_VE_METHOD;
    /* From here on a refusal is answered (400, 505), not dropped. */
    v->is_request = 1;
    v->method_tok = sip_vw_range(s, sp1);
    v->method = sip_view_method(b + s, sp1 - s);
    p = memchr(b + sp1 + 1, ' ', e - sp1 - 1);
    if (!p || p == b + sp1 + 1)
        return SIP_VE_START_LINE;
    sp2 = (uint32_t)(p - b);
    v->ruri = sip_vw_range(sp1 + 1, sp2);
    /* Exactly one SP each (lwsstart, lwsruri, trws are refused here). */
    {
        int rc = sip_vw_version(b, sp2 + 1, e);
        if (rc)
            return rc;
    }
    return sip_vw_ruri(b, v->ruri.off, sp2);
}

/* ---- headers ---- */

/* The characters sip_vw_split stops at: the rest are skipped in a run. */
static const unsigned char sip_vw_split_stop[256] = {
    ['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, [','] = 1,
};

/* Split the list value [s, e) of header h into v->vals. */
static int sip_vw_split(sip_view_t *v, uint16_t h, uint32_t s, uint32_t e)
{
    const char *b = v->buf;
    uint32_t i, vs = s;
    int inq = 0, ina = 0;
    sip_view_hdr_t *hd = &v->hdrs[h];

    hd->val0 = v->nvals;
    for (i = s; i <= e; i++) {
        while (i < e && !sip_vw_split_stop[(unsigned char)b[i]])
            i++;
        if (i < e && inq) {
            if (b[i] == '\\' && i + 1 < e)
                i++;
            else if (b[i] == '"')
                inq = 0;
            continue;
        }
        if (i < e && b[i] == '"' && !ina)
            inq = 1;
        else if (i < e && b[i] == '<')
            ina = 1;
        else if (i < e && b[i] == '>')
            ina = 0;
        else if (i == e || (b[i] == ',' && !ina)) {
            uint32_t a = vs, z = i;
            sip_vw_trim(b, &a, &z);
            if (a == z)
                return hd->id == SIP_H_VIA ? SIP_VE_BAD_VIA : SIP_VE_HEADER;
            if (v->nvals >= SIP_VIEW_MAX_VALS || hd->nvals == 255)
                return SIP_VE_TOO_MANY_VALUES;
            v->vals[v->nvals].r = sip_vw_range(a, z);
            v->vals[v->nvals].hdr = h;
            v->nvals++;
            hd->nvals++;
            vs = i + 1;
        }
    }
    return inq || ina ? SIP_VE_QUOTE : 0;
}

/* One header starting at s (a name); its folded lines end before the
 * empty line at he.  *next = the next line. */
static int sip_vw_header(sip_view_t *v, uint32_t s, uint32_t he, uint32_t *next)
{
    const char *b = v->buf;
    uint32_t k = s, c, e = s;
    sip_view_hdr_t *hd;
    int rc = 0, folded = 0;

    if (v->nhdrs >= SIP_VIEW_MAX_HDRS)
        return SIP_VE_TOO_MANY_HEADERS;
    while (k < he && sip_vw_tokc((unsigned char)b[k]))
        k++;
    c = k;
    while (c < he && (b[c] == ' ' || b[c] == '\t'))
        c++;
    if (k == s || c >= he || b[c] != ':')
        return SIP_VE_HEADER;
    /* The value runs over every line whose successor starts with WSP. */
    for (;;) {
        const char *nl = memchr(b + e, '\n', he - e);
        if (!nl || nl == b + e || nl[-1] != '\r')
            return SIP_VE_HEADER;
        e = (uint32_t)(nl - b) + 1;
        if (e >= he || (b[e] != ' ' && b[e] != '\t'))
            break;
        folded = 1;
    }
    /* a CR or LF inside the value only as a fold's CRLF WSP; one line
     * has no LF before its end (memchr found none), so a CR is the test */
    if (!folded && e - 2 > c + 1 && memchr(b + c + 1, '\r', e - 2 - (c + 1)))
        return SIP_VE_HEADER;
    for (uint32_t x = c + 1; folded && x < e - 2; x++)
        if ((b[x] == '\r' || b[x] == '\n') &&
            !(b[x] == '\r' && b[x + 1] == '\n' && (b[x + 2] == ' ' || b[x + 2] == '\t')) &&
            !(b[x] == '\n' && b[x - 1] == '\r'))
            return SIP_VE_HEADER;
    hd = &v->hdrs[v->nhdrs];
    memset(hd, 0, sizeof(*hd));
    hd->name = sip_vw_range(s, k);
    hd->line_off = s;
    hd->line_end = e;
    hd->id = (uint8_t)sip_view_hdr_id(b + s, k - s);
    {
        uint32_t vs = c + 1, ve = e;
        sip_vw_trim(b, &vs, &ve);
        hd->value = sip_vw_range(vs, ve);
    }
    if (v->first[hd->id] < 0)
        v->first[hd->id] = (int16_t)v->nhdrs;
    if (v->count[hd->id] < 255)
        v->count[hd->id]++;
    if (sip_vw_is_list(hd->id))
        rc = sip_vw_split(v, v->nhdrs, hd->value.off, hd->value.off + hd->value.len);
    else if ((hd->id == SIP_H_FROM || hd->id == SIP_H_TO) &&
             !sip_vw_balanced(b, hd->value.off, hd->value.off + hd->value.len))
        rc = SIP_VE_QUOTE;
    v->nhdrs++;
    *next = e;
    return rc;
}

/* CSeq: 1*DIGIT LWS method, the number below 2^31 (RFC 3261 8.1.1.5). */
static int sip_vw_cseq(sip_view_t *v)
{
    const sip_view_hdr_t *h = sip_vw_first(v, SIP_H_CSEQ);
    const char *b = v->buf;
    uint32_t i, e, m;
    unsigned long long x;

    if (!h)
        return SIP_VE_NO_CSEQ;
    i = h->value.off;
    e = i + h->value.len;
    while (i < e && b[i] >= '0' && b[i] <= '9')
        i++;
    if (sip_vw_uint(b, h->value.off, i, 0x7fffffffu, &x) != 0 || i >= e || !sip_vw_ws((unsigned char)b[i]))
        return SIP_VE_BAD_CSEQ;
    while (i < e && sip_vw_ws((unsigned char)b[i]))
        i++;
    for (m = i; m < e; m++)
        if (!sip_vw_tokc((unsigned char)b[m]))
            return SIP_VE_BAD_CSEQ;
    if (m == i)
        return SIP_VE_BAD_CSEQ;
    v->cseq = (uint32_t)x;
    v->cseq_method_tok = sip_vw_range(i, e);
    v->cseq_method = sip_view_method(b + i, e - i);
    if (v->is_request && (v->cseq_method_tok.len != v->method_tok.len ||
                          memcmp(b + i, b + v->method_tok.off, v->method_tok.len) != 0))
        return SIP_VE_CSEQ_METHOD;
    return 0;
}

/* The tag parameter of From / To into *tag. */
static void sip_vw_tag(const sip_view_t *v, int id, sip_range_t *tag)
{
    sip_view_addr_t a;
    const sip_view_hdr_t *h = sip_vw_first(v, id);

    tag->off = tag->len = 0;
    /* only its tag is wanted; sip_vw_header checked its quotes and <> */
    if (h && sip_vw_addr_split(v, h->value, &a, SIP_VW_KNOWN_BALANCED) == 0)
        sip_vw_param_tag(v, a.params, tag);
}

/* The checks once every header is known. */
static int sip_vw_check(sip_view_t *v)
{
    const sip_view_hdr_t *h = NULL;
    unsigned long long x;
    sip_view_via_t via;
    unsigned i;
    int rc = 0;

    if (v->first[SIP_H_VIA] < 0)
        rc = SIP_VE_NO_VIA;
    for (i = 0; rc == 0 && i < sip_view_num(v, SIP_H_VIA); i++) {
        if (i >= SIP_VIEW_MAX_VIA || sip_view_via(v, i, &via) != 0)
            rc = i >= SIP_VIEW_MAX_VIA ? SIP_VE_TOO_MANY_VALUES : SIP_VE_BAD_VIA;
        else if (i < 2) {
            v->vias[i] = via;
            v->via_ok = (int)i + 1;
        }
    }
    if (rc == 0)
        rc = sip_vw_cseq(v);
    if (rc == 0 && (h = sip_vw_first(v, SIP_H_CALL_ID)) == NULL)
        rc = SIP_VE_NO_CALL_ID;
    if (rc == 0)
        v->call_id = h->value;
    if (rc == 0 && v->call_id.len == 0)
        rc = SIP_VE_NO_CALL_ID;
    if (rc == 0 && v->first[SIP_H_FROM] < 0)
        rc = SIP_VE_NO_FROM;
    if (rc == 0 && v->first[SIP_H_TO] < 0)
        rc = SIP_VE_NO_TO;
    if (rc == 0 && (h = sip_vw_first(v, SIP_H_MAX_FORWARDS)) != NULL) {
        if (sip_vw_uint(v->buf, h->value.off, h->value.off + h->value.len, 255, &x) != 0)
            rc = SIP_VE_BAD_MAX_FWD;
        else
            v->max_forwards = (int)x;
    }
    if (rc == 0) {
        sip_vw_tag(v, SIP_H_FROM, &v->from_tag);
        sip_vw_tag(v, SIP_H_TO, &v->to_tag);
    }
    return rc;
}

/* The body against Content-Length. */
static int sip_vw_body(sip_view_t *v, size_t n, unsigned flags)
{
    const sip_view_hdr_t *h = sip_vw_first(v, SIP_H_CONTENT_LENGTH);
    unsigned long long x;
    int rc = 0;

    v->clen = -1;
    if (h && sip_vw_uint(v->buf, h->value.off, h->value.off + h->value.len, SIP_VIEW_MAX_MSG, &x) != 0)
        rc = SIP_VE_BAD_CLEN;
    else if (h)
        v->clen = (long)x;
    if (rc == 0 && !h && (flags & SIP_VIEW_STREAM))
        rc = SIP_VE_NO_CLEN;
    if (rc == 0 && h && v->body_off + (size_t)x > n)
        rc = SIP_VE_CLEN_MISMATCH;
    if (rc == 0) {
        v->body_len = h ? (uint32_t)x : (uint32_t)(n - v->body_off);
        v->len = v->body_off + v->body_len;
    }
    return rc;
}

/* See sip_view.h. */
int sip_view_parse(sip_view_t *v, const char *buf, size_t n, unsigned flags)
{
    uint32_t s = 0, i, he;
    const char *nl;
    int rc = 0;

    memset(v, 0, offsetof(sip_view_t, hdrs));
    memset(v->first, 0xff, sizeof(v->first));
    v->buf = buf;
    v->is_request = -1;
    v->max_forwards = -1;
    v->clen = -1;
    if (n > SIP_VIEW_MAX_MSG)
        return SIP_VE_TOO_LARGE;
    while (s + 1 < n && buf[s] == '\r' && buf[s + 1] == '\n')
        s += 2;
    if (s == n)
        return SIP_VE_EMPTY;
    v->start = s;
    he = (uint32_t)sip_vw_hdr_end(buf, s, n);
    nl = memchr(buf + s, '\n', n - s);
    if (!he || !nl)
        return SIP_VE_TRUNCATED;
    if (nl == buf + s || nl[-1] != '\r')
        return SIP_VE_START_LINE;
    rc = sip_vw_start_line(v, s, (uint32_t)(nl - buf) - 1);
    i = (uint32_t)(nl - buf) + 1;
    v->hdr_off = i;
    v->body_off = he;
    v->hdr_end = he - 2;
    /* The line after the start line may not be a continuation. */
    if (rc == 0 && i < he - 2 && (buf[i] == ' ' || buf[i] == '\t'))
        rc = SIP_VE_HEADER;
    while (rc == 0 && i < he - 2)
        rc = sip_vw_header(v, i, he - 2, &i);
    for (size_t k = 0; k < sizeof(sip_vw_single) / sizeof(sip_vw_single[0]) && rc == 0; k++)
        if (v->count[sip_vw_single[k]] > 1)
            rc = SIP_VE_DUP_HEADER;
    if (rc == 0)
        rc = sip_vw_body(v, n, flags);
    if (rc == 0)
        rc = sip_vw_check(v);
    return rc;
}

