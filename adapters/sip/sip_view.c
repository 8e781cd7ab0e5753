/*
 * sip_view.c - parse one SIP message into a byte-offset view (sip_view.h),
 * frame one out of a TCP stream, and read what a proxy needs from it.
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
 * Ownership: the view points into the caller's buffer.
 * Threads: pure; any thread.
 */
#include <stddef.h>
#include <string.h>

#include "sip_view.h"

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

/* ---- character classes ---- */

static int sv_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3261 25.1 token. */
static int sv_tokc(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-.!%*_+`'~", c) != NULL);
}

static int sv_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int sv_ieq(const char *a, size_t n, const char *lower)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!lower[i] || sv_lower((unsigned char)a[i]) != lower[i])
            return 0;
    return lower[n] == '\0';
}

/* See sip_view.h. */
int sip_view_eq(const sip_view_t *v, sip_range_t r, const char *text)
{
    size_t i, n = strlen(text);

    if (r.len != n)
        return 0;
    for (i = 0; i < n; i++)
        if (sv_lower((unsigned char)v->buf[r.off + i]) != sv_lower((unsigned char)text[i]))
            return 0;
    return 1;
}

static sip_range_t sv_range(uint32_t a, uint32_t b)
{
    sip_range_t r = { a, b > a ? b - a : 0 };
    return r;
}

/* [*a, *b) with white space trimmed from both ends. */
static void sv_trim(const char *b, uint32_t *s, uint32_t *e)
{
    while (*s < *e && sv_ws((unsigned char)b[*s]))
        (*s)++;
    while (*e > *s && sv_ws((unsigned char)b[*e - 1]))
        (*e)--;
}

/* Decimal digits at b[s..e) (all of it) into *out, at most max.  0 or -1. */
static int sv_uint(const char *b, uint32_t s, uint32_t e, unsigned long long max,
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
static int sv_uint_clamp(const char *b, uint32_t s, uint32_t e, long *out)
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

/* ---- names ---- */

static const struct {
    const char *name;
    char compact;
    sip_hdr_id_t id;
} sip_view_names[] = {
    { "via", 'v', SIP_H_VIA }, { "from", 'f', SIP_H_FROM }, { "to", 't', SIP_H_TO },
    { "call-id", 'i', SIP_H_CALL_ID }, { "cseq", 0, SIP_H_CSEQ },
    { "contact", 'm', SIP_H_CONTACT }, { "max-forwards", 0, SIP_H_MAX_FORWARDS },
    { "route", 0, SIP_H_ROUTE }, { "record-route", 0, SIP_H_RECORD_ROUTE },
    { "content-length", 'l', SIP_H_CONTENT_LENGTH }, { "content-type", 'c', SIP_H_CONTENT_TYPE },
    { "content-encoding", 'e', SIP_H_CONTENT_ENCODING }, { "subject", 's', SIP_H_SUBJECT },
    { "supported", 'k', SIP_H_SUPPORTED }, { "expires", 0, SIP_H_EXPIRES },
    { "require", 0, SIP_H_REQUIRE }, { "proxy-require", 0, SIP_H_PROXY_REQUIRE },
    { "authorization", 0, SIP_H_AUTHORIZATION },
    { "proxy-authorization", 0, SIP_H_PROXY_AUTHORIZATION },
    { "www-authenticate", 0, SIP_H_WWW_AUTHENTICATE },
    { "proxy-authenticate", 0, SIP_H_PROXY_AUTHENTICATE }, { "accept", 0, SIP_H_ACCEPT },
    { "date", 0, SIP_H_DATE }, { "event", 'o', SIP_H_EVENT },
    { "allow-events", 'u', SIP_H_ALLOW_EVENTS }, { "refer-to", 'r', SIP_H_REFER_TO },
    { "referred-by", 'b', SIP_H_REFERRED_BY }, { "session-expires", 'x', SIP_H_SESSION_EXPIRES },
    { "accept-contact", 'a', SIP_H_ACCEPT_CONTACT },
    { "reject-contact", 'j', SIP_H_REJECT_CONTACT },
    { "request-disposition", 'd', SIP_H_REQUEST_DISPOSITION },
    { "identity", 'y', SIP_H_IDENTITY }, { "identity-info", 'n', SIP_H_IDENTITY_INFO },
};

/* See sip_view.h. */
sip_hdr_id_t sip_view_hdr_id(const char *name, size_t len)
{
    size_t i;
    sip_hdr_id_t rc = SIP_H_OTHER;

    for (i = 0; i < sizeof(sip_view_names) / sizeof(sip_view_names[0]); i++) {
        if (len == 1 ? sip_view_names[i].compact &&
                           sv_lower((unsigned char)name[0]) == sip_view_names[i].compact
                     : sv_ieq(name, len, sip_view_names[i].name)) {
            rc = sip_view_names[i].id;
            break;
        }
    }
    return rc;
}

static const char *const sip_view_methods[] = {
    "", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
    "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
};

/* See sip_view.h. */
sip_method_t sip_view_method(const char *tok, size_t len)
{
    size_t i;
    sip_method_t rc = SIP_M_OTHER;

    for (i = 1; i < sizeof(sip_view_methods) / sizeof(sip_view_methods[0]); i++) {
        if (strlen(sip_view_methods[i]) == len && memcmp(tok, sip_view_methods[i], len) == 0) {
            rc = (sip_method_t)i;
            break;
        }
    }
    return rc;
}

/* 1 for the headers split into comma-separated values. */
static int sv_is_list(int id)
{
    return id == SIP_H_VIA || id == SIP_H_ROUTE || id == SIP_H_RECORD_ROUTE ||
           id == SIP_H_CONTACT;
}

/* 1 for the headers a request carries once (RFC 3261 7.3.1, 20). */
static int sv_is_single(int id)
{
    return id == SIP_H_FROM || id == SIP_H_TO || id == SIP_H_CALL_ID || id == SIP_H_CSEQ ||
           id == SIP_H_MAX_FORWARDS || id == SIP_H_CONTENT_LENGTH ||
           id == SIP_H_CONTENT_TYPE || id == SIP_H_EXPIRES;
}

/* ---- framing ---- */

/* Offset just past the first "\r\n\r\n" at or after s, 0 when none. */
static size_t sv_hdr_end(const char *buf, size_t s, size_t n)
{
    const char *e = n > s ? memmem(buf + s, n - s, "\r\n\r\n", 4) : NULL;
    return e ? (size_t)(e - buf) + 4 : 0;
}

/* Content-Length of the header block buf[s..he) by a light line scan:
 * *cl = -1 when absent.  0 or an error. */
static int sv_scan_clen(const char *buf, size_t s, size_t he, long *cl)
{
    size_t i = s;
    int rc = 0;

    *cl = -1;
    while (rc == 0 && i < he) {
        const char *nl = memchr(buf + i, '\n', he - i);
        size_t e = nl ? (size_t)(nl - buf) : he, k = i, c;
        unsigned long long x;

        while (k < e && sv_tokc((unsigned char)buf[k]))
            k++;
        c = k;
        while (c < e && (buf[c] == ' ' || buf[c] == '\t'))
            c++;
        if (c < e && buf[c] == ':' && sip_view_hdr_id(buf + i, k - i) == SIP_H_CONTENT_LENGTH) {
            uint32_t vs = (uint32_t)c + 1, ve = (uint32_t)e;
            sv_trim(buf, &vs, &ve);
            if (*cl >= 0)
                rc = SIP_VE_DUP_HEADER;
            else if (sv_uint(buf, vs, ve, SIP_VIEW_MAX_MSG, &x) != 0)
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
    he = sv_hdr_end(buf, s, lim);
    if (!he)
        return n >= SIP_VIEW_MAX_MSG ? SIP_VE_TOO_LARGE : SIP_VE_NEED_MORE;
    rc = sv_scan_clen(buf, s, he, &cl);
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
static int sv_version(const char *b, uint32_t s, uint32_t e)
{
    uint32_t i = s + 4;
    int dots = 0, digits = 0;

    if (e - s < 4 || !sv_ieq(b + s, 4, "sip/"))
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
static int sv_ruri(const char *b, uint32_t s, uint32_t e)
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
        if ((unsigned char)b[k] < 0x21 || b[k] == 0x7f || b[k] == '<' || b[k] == '>' ||
            b[k] == '"')
            return SIP_VE_URI;
    if (sv_ieq(b + s, i - s, "sip") || sv_ieq(b + s, i - s, "sips")) {
        at = memchr(b + i, '@', e - i);
        if (memchr(at ? at : b + i, '?', (size_t)(b + e - (at ? at : b + i))))
            return SIP_VE_URI;
    }
    return 0;
}

static int sv_start_line(sip_view_t *v, uint32_t s, uint32_t e)
{
    const char *b = v->buf;
    uint32_t sp1, sp2;
    unsigned long long code;

    const char *p = memchr(b + s, ' ', e - s);
    if (!p)
        return SIP_VE_START_LINE;
    sp1 = (uint32_t)(p - b);
    if (sp1 - s >= 4 && sv_ieq(b + s, 4, "sip/")) {
        int rc = sv_version(b, s, sp1);
        if (rc)
            return rc;
        v->is_request = 0;
        sp2 = sp1 + 1;
        while (sp2 < e && b[sp2] != ' ')
            sp2++;
        if (sp2 - sp1 - 1 != 3 || sv_uint(b, sp1 + 1, sp2, 699, &code) != 0 || code < 100)
            return SIP_VE_STATUS;
        v->status = (int)code;
        v->reason = sv_range(sp2 < e ? sp2 + 1 : e, e);
        for (uint32_t k = v->reason.off; k < e; k++)
            if (b[k] == '\0' || b[k] == '\r')
                return SIP_VE_START_LINE;
        return 0;
    }
    v->is_request = 1;
    for (uint32_t k = s; k < sp1; k++)
        if (!sv_tokc((unsigned char)b[k]))
            return SIP_VE_METHOD;
    if (sp1 == s)
        return SIP_VE_METHOD;
    v->method_tok = sv_range(s, sp1);
    v->method = sip_view_method(b + s, sp1 - s);
    p = memchr(b + sp1 + 1, ' ', e - sp1 - 1);
    if (!p || p == b + sp1 + 1)
        return SIP_VE_START_LINE;
    sp2 = (uint32_t)(p - b);
    v->ruri = sv_range(sp1 + 1, sp2);
    /* Exactly one SP each (lwsstart, lwsruri, trws are refused here). */
    {
        int rc = sv_version(b, sp2 + 1, e);
        if (rc)
            return rc;
    }
    return sv_ruri(b, v->ruri.off, sp2);
}

/* ---- headers ---- */

/* Split the list value [s, e) of header h into v->vals. */
static int sv_split(sip_view_t *v, uint16_t h, uint32_t s, uint32_t e)
{
    const char *b = v->buf;
    uint32_t i, vs = s;
    int inq = 0, ina = 0;
    sip_view_hdr_t *hd = &v->hdrs[h];

    hd->val0 = v->nvals;
    for (i = s; i <= e; i++) {
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
            sv_trim(b, &a, &z);
            if (a == z)
                return hd->id == SIP_H_VIA ? SIP_VE_BAD_VIA : SIP_VE_HEADER;
            if (v->nvals >= SIP_VIEW_MAX_VALS || hd->nvals == 255)
                return SIP_VE_TOO_MANY_VALUES;
            v->vals[v->nvals].r = sv_range(a, z);
            v->vals[v->nvals].hdr = h;
            v->nvals++;
            hd->nvals++;
            vs = i + 1;
        }
    }
    return inq || ina ? SIP_VE_QUOTE : 0;
}

/* 1 when the quoted strings and <> of b[s..e) are closed. */
static int sv_balanced(const char *b, uint32_t s, uint32_t e)
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

/* One header starting at s (a name); its folded lines end before the
 * empty line at he.  *next = the next line. */
static int sv_header(sip_view_t *v, uint32_t s, uint32_t he, uint32_t *next)
{
    const char *b = v->buf;
    uint32_t k = s, c, e = s;
    sip_view_hdr_t *hd;
    int rc = 0;

    if (v->nhdrs >= SIP_VIEW_MAX_HDRS)
        return SIP_VE_TOO_MANY_HEADERS;
    while (k < he && sv_tokc((unsigned char)b[k]))
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
    }
    for (uint32_t x = c + 1; x < e - 2; x++)
        if ((b[x] == '\r' || b[x] == '\n') &&
            !(b[x] == '\r' && b[x + 1] == '\n' && (b[x + 2] == ' ' || b[x + 2] == '\t')) &&
            !(b[x] == '\n' && b[x - 1] == '\r'))
            return SIP_VE_HEADER;
    hd = &v->hdrs[v->nhdrs];
    memset(hd, 0, sizeof(*hd));
    hd->name = sv_range(s, k);
    hd->line_off = s;
    hd->line_end = e;
    hd->id = (uint8_t)sip_view_hdr_id(b + s, k - s);
    {
        uint32_t vs = c + 1, ve = e;
        sv_trim(b, &vs, &ve);
        hd->value = sv_range(vs, ve);
    }
    if (v->first[hd->id] < 0)
        v->first[hd->id] = (int16_t)v->nhdrs;
    if (v->count[hd->id] < 255)
        v->count[hd->id]++;
    if (sv_is_list(hd->id))
        rc = sv_split(v, v->nhdrs, hd->value.off, hd->value.off + hd->value.len);
    else if ((hd->id == SIP_H_FROM || hd->id == SIP_H_TO) &&
             !sv_balanced(b, hd->value.off, hd->value.off + hd->value.len))
        rc = SIP_VE_QUOTE;
    v->nhdrs++;
    *next = e;
    return rc;
}

static const sip_view_hdr_t *sv_first(const sip_view_t *v, int id)
{
    return v->first[id] < 0 ? NULL : &v->hdrs[v->first[id]];
}

/* CSeq: 1*DIGIT LWS method, the number below 2^31 (RFC 3261 8.1.1.5). */
static int sv_cseq(sip_view_t *v)
{
    const sip_view_hdr_t *h = sv_first(v, SIP_H_CSEQ);
    const char *b = v->buf;
    uint32_t i, e, m;
    unsigned long long x;

    if (!h)
        return SIP_VE_NO_CSEQ;
    i = h->value.off;
    e = i + h->value.len;
    while (i < e && b[i] >= '0' && b[i] <= '9')
        i++;
    if (sv_uint(b, h->value.off, i, 0x7fffffffu, &x) != 0 || i >= e || !sv_ws((unsigned char)b[i]))
        return SIP_VE_BAD_CSEQ;
    while (i < e && sv_ws((unsigned char)b[i]))
        i++;
    for (m = i; m < e; m++)
        if (!sv_tokc((unsigned char)b[m]))
            return SIP_VE_BAD_CSEQ;
    if (m == i)
        return SIP_VE_BAD_CSEQ;
    v->cseq = (uint32_t)x;
    v->cseq_method_tok = sv_range(i, e);
    v->cseq_method = sip_view_method(b + i, e - i);
    if (v->is_request && (v->cseq_method_tok.len != v->method_tok.len ||
                          memcmp(b + i, b + v->method_tok.off, v->method_tok.len) != 0))
        return SIP_VE_CSEQ_METHOD;
    return 0;
}

static int sv_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict);

/* The tag parameter of From / To into *tag. */
static void sv_tag(const sip_view_t *v, int id, sip_range_t *tag)
{
    sip_view_addr_t a;
    const sip_view_hdr_t *h = sv_first(v, id);

    tag->off = tag->len = 0;
    if (h && sv_addr(v, h->value, &a, 0) == 0)
        sip_view_param(v, a.params, "tag", tag);
}

/* The checks once every header is known. */
static int sv_check(sip_view_t *v)
{
    const sip_view_hdr_t *h = NULL;
    unsigned long long x;
    sip_view_via_t via;
    unsigned i;
    int rc = 0;

    if (v->first[SIP_H_VIA] < 0)
        rc = SIP_VE_NO_VIA;
    for (i = 0; rc == 0 && i < sip_view_num(v, SIP_H_VIA); i++)
        if (i >= SIP_VIEW_MAX_VIA || sip_view_via(v, i, &via) != 0)
            rc = i >= SIP_VIEW_MAX_VIA ? SIP_VE_TOO_MANY_VALUES : SIP_VE_BAD_VIA;
    if (rc == 0)
        rc = sv_cseq(v);
    if (rc == 0 && (h = sv_first(v, SIP_H_CALL_ID)) == NULL)
        rc = SIP_VE_NO_CALL_ID;
    if (rc == 0)
        v->call_id = h->value;
    if (rc == 0 && v->call_id.len == 0)
        rc = SIP_VE_NO_CALL_ID;
    if (rc == 0 && v->first[SIP_H_FROM] < 0)
        rc = SIP_VE_NO_FROM;
    if (rc == 0 && v->first[SIP_H_TO] < 0)
        rc = SIP_VE_NO_TO;
    if (rc == 0 && (h = sv_first(v, SIP_H_MAX_FORWARDS)) != NULL) {
        if (sv_uint(v->buf, h->value.off, h->value.off + h->value.len, 255, &x) != 0)
            rc = SIP_VE_BAD_MAX_FWD;
        else
            v->max_forwards = (int)x;
    }
    if (rc == 0) {
        sv_tag(v, SIP_H_FROM, &v->from_tag);
        sv_tag(v, SIP_H_TO, &v->to_tag);
    }
    return rc;
}

/* The body against Content-Length. */
static int sv_body(sip_view_t *v, size_t n, unsigned flags)
{
    const sip_view_hdr_t *h = sv_first(v, SIP_H_CONTENT_LENGTH);
    unsigned long long x;
    int rc = 0;

    v->clen = -1;
    if (h && sv_uint(v->buf, h->value.off, h->value.off + h->value.len, SIP_VIEW_MAX_MSG, &x) != 0)
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
    v->max_forwards = -1;
    v->clen = -1;
    if (n > SIP_VIEW_MAX_MSG)
        return SIP_VE_TOO_LARGE;
    while (s + 1 < n && buf[s] == '\r' && buf[s + 1] == '\n')
        s += 2;
    if (s == n)
        return SIP_VE_EMPTY;
    v->start = s;
    he = (uint32_t)sv_hdr_end(buf, s, n);
    nl = memchr(buf + s, '\n', n - s);
    if (!he || !nl)
        return SIP_VE_TRUNCATED;
    if (nl == buf + s || nl[-1] != '\r')
        return SIP_VE_START_LINE;
    rc = sv_start_line(v, s, (uint32_t)(nl - buf) - 1);
    i = (uint32_t)(nl - buf) + 1;
    v->hdr_off = i;
    v->body_off = he;
    v->hdr_end = he - 2;
    /* The line after the start line may not be a continuation. */
    if (rc == 0 && i < he - 2 && (buf[i] == ' ' || buf[i] == '\t'))
        rc = SIP_VE_HEADER;
    while (rc == 0 && i < he - 2)
        rc = sv_header(v, i, he - 2, &i);
    for (int k = 0; k < SIP_H__COUNT && rc == 0; k++)
        if (sv_is_single(k) && v->count[k] > 1)
            rc = SIP_VE_DUP_HEADER;
    if (rc == 0)
        rc = sv_body(v, n, flags);
    if (rc == 0)
        rc = sv_check(v);
    return rc;
}

/* ---- accessors ---- */

/* See sip_view.h. */
unsigned sip_view_num(const sip_view_t *v, sip_hdr_id_t id)
{
    unsigned k, rc = 0;

    if (!sv_is_list(id))
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
        if (!sv_is_list(id) && n-- == 0) {
            *out = h->value;
            return (int)k;
        }
        if (sv_is_list(id) && n < h->nvals) {
            *out = v->vals[h->val0 + n].r;
            return h->val0 + (int)n;
        }
        if (sv_is_list(id))
            n -= h->nvals;
    }
    return -1;
}

/* Skip white space from *i to e. */
static void sv_skip(const char *b, uint32_t *i, uint32_t e)
{
    while (*i < e && sv_ws((unsigned char)b[*i]))
        (*i)++;
}

/* A token from *i: its range, 0, or -1 when empty. */
static int sv_token(const char *b, uint32_t *i, uint32_t e, sip_range_t *t)
{
    uint32_t s = *i;

    while (*i < e && sv_tokc((unsigned char)b[*i]))
        (*i)++;
    *t = sv_range(s, *i);
    return *i > s ? 0 : -1;
}

/* A parameter value: quoted string, or token / host / IPv6 characters. */
static int sv_pvalue(const char *b, uint32_t *i, uint32_t e, sip_range_t *t)
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
        while (*i < e && (sv_tokc((unsigned char)b[*i]) || b[*i] == ':' || b[*i] == '[' ||
                          b[*i] == ']'))
            (*i)++;
    }
    *t = sv_range(s, *i);
    return *i > s ? 0 : -1;
}

/* Via parameters from i: ;name[=value] ... to e. */
static int sv_via_params(const sip_view_t *v, uint32_t i, uint32_t e, sip_view_via_t *o)
{
    const char *b = v->buf;
    unsigned long long x;
    sip_range_t nm, val;

    for (;;) {
        sv_skip(b, &i, e);
        if (i >= e)
            break;
        if (b[i] != ';')
            return SIP_VE_BAD_VIA;
        i++;
        sv_skip(b, &i, e);
        if (sv_token(b, &i, e, &nm) != 0)
            return SIP_VE_BAD_VIA;
        o->params_end = i;
        val.off = i, val.len = 0;
        sv_skip(b, &i, e);
        if (i < e && b[i] == '=') {
            i++;
            sv_skip(b, &i, e);
            if (sv_pvalue(b, &i, e, &val) != 0)
                return SIP_VE_BAD_VIA;
            o->params_end = i;
        }
        if (sip_view_eq(v, nm, "branch")) {
            o->branch = val;
            o->rfc3261 = val.len > 7 && memcmp(b + val.off, "z9hG4bK", 7) == 0;
        } else if (sip_view_eq(v, nm, "received")) {
            o->received = val;
        } else if (sip_view_eq(v, nm, "maddr")) {
            o->maddr = val;
        } else if (sip_view_eq(v, nm, "rport")) {
            o->rport_at = nm;
            o->rport_val = val;
            if (val.len == 0)
                o->rport = 0;
            else if (sv_uint(b, val.off, val.off + val.len, 65535, &x) != 0 || x == 0)
                return SIP_VE_BAD_VIA;
            else
                o->rport = (int)x;
        } else if (sip_view_eq(v, nm, "ttl")) {
            if (sv_uint(b, val.off, val.off + val.len, 255, &x) != 0)
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

    memset(o, 0, sizeof(*o));
    o->rport = -1;
    o->ttl = -1;
    if (sip_view_nth(v, SIP_H_VIA, n, &r) < 0)
        return SIP_VE_NOT_FOUND;
    o->value = r;
    i = r.off;
    e = r.off + r.len;
    for (part = 0; part < 3; part++) {
        sv_skip(b, &i, e);
        if (sv_token(b, &i, e, &t) != 0)
            return SIP_VE_BAD_VIA;
        sv_skip(b, &i, e);
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
        while (i < e && (sv_tokc((unsigned char)b[i])))
            i++;
    }
    if (i == hs)
        return SIP_VE_BAD_VIA;
    o->host = sv_range(hs, i);
    o->params_end = i;
    sv_skip(b, &i, e);
    if (i < e && b[i] == ':') {
        uint32_t ps;
        i++;
        sv_skip(b, &i, e);
        ps = i;
        while (i < e && b[i] >= '0' && b[i] <= '9')
            i++;
        if (sv_uint(b, ps, i, 65535, &x) != 0 || x == 0)
            return SIP_VE_BAD_VIA;
        o->port = (int)x;
        o->params_end = i;
    }
    return sv_via_params(v, i, e, o);
}

/* See sip_view.h. */
int sip_view_param(const sip_view_t *v, sip_range_t r, const char *name, sip_range_t *val)
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
        sv_skip(b, &i, e);
        sv_token(b, &i, e, &nm);
        sv_skip(b, &i, e);
        pv.off = i, pv.len = 0;
        if (i < e && b[i] == '=') {
            i++;
            sv_skip(b, &i, e);
            sv_pvalue(b, &i, e, &pv);
        }
        if (nm.len && sip_view_eq(v, nm, name)) {
            *val = pv;
            return 1;
        }
    }
    return 0;
}

/* A URI has no white space (badaspec); a display name is a quoted
 * string or tokens separated by LWS (baddn, RFC 3261 25.1). */
static int sv_addr_words(const char *b, sip_range_t r, int display)
{
    uint32_t k;

    if (display && r.len && b[r.off] == '"')
        return b[r.off + r.len - 1] == '"';
    for (k = r.off; k < r.off + r.len; k++)
        if (display ? !sv_tokc((unsigned char)b[k]) && !sv_ws((unsigned char)b[k])
                    : sv_ws((unsigned char)b[k]))
            return 0;
    return 1;
}

/* sip_view_addr; strict 0 skips the checks only a UA needs (the tags
 * of a From / To a proxy forwards anyway). */
static int sv_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *o, int strict)
{
    const char *b = v->buf;
    uint32_t i = r.off, e = r.off + r.len, lt = e, gt;
    sip_range_t pv;

    memset(o, 0, sizeof(*o));
    o->expires = -1;
    o->q = -1;
    if (!sv_balanced(b, i, e))
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
            sv_trim(b, &ds, &de);
            o->display = sv_range(ds, de);
        }
        o->uri = sv_range(lt + 1, gt);
        o->params = sv_range(gt + 1, e);
    } else {
        const char *semi = memchr(b + i, ';', e - i);
        uint32_t ue = semi ? (uint32_t)(semi - b) : e, us = i;
        sv_trim(b, &us, &ue);
        o->uri = sv_range(us, ue);
        o->params = sv_range(ue, e);
        /* RFC 3261 20: an addr-spec with ',' '?' or ';' in the URI must be in <>. */
        if (memchr(b + us, '?', ue - us) || memchr(b + us, ',', ue - us))
            return SIP_VE_BAD_VALUE;
    }
    if (o->uri.len == 0 ||
        (strict && (!sv_addr_words(b, o->uri, 0) || !sv_addr_words(b, o->display, 1))))
        return SIP_VE_BAD_VALUE;
    o->lr = sip_view_param(v, o->uri, "lr", &pv);
    if (sip_view_param(v, o->params, "expires", &pv) &&
        sv_uint_clamp(b, pv.off, pv.off + pv.len, &o->expires) != 0)
        return SIP_VE_BAD_VALUE;
    if (sip_view_param(v, o->params, "q", &pv)) {
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
    return sv_addr(v, r, out, 1);
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
    const sip_view_hdr_t *h = sv_first(v, SIP_H_EXPIRES);

    if (!h)
        return SIP_VE_NOT_FOUND;
    return sv_uint_clamp(v->buf, h->value.off, h->value.off + h->value.len, out) == 0
               ? 0 : SIP_VE_BAD_VALUE;
}
