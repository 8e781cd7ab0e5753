/*
 * sip_sms.c - the SMS details a SIP MESSAGE carries in: a CPIM-wrapped
 * body with an IMDN request (RFC 3862, RFC 5438) and the X-SMS-* headers
 * of RestComm-style gateways (docs/sip-sms-headers.md).
 *
 * sip_sms_read() looks at a parsed MESSAGE once, before the envelope is
 * built, and says either "this is the text and these are its SMS
 * settings" or which 4xx to answer with which phrase.  Two body forms are
 * accepted:
 *   text/plain (UTF-8)   the text itself, as before
 *   message/cpim         a CPIM message (header block, blank line, MIME
 *                        header block, blank line, content) whose content
 *                        is text/plain; the text is unwrapped, and the
 *                        imdn.Message-ID and imdn.Disposition-Notification
 *                        headers (prefix as the NS header declares it for
 *                        urn:ietf:params:imdn; "imdn" when none is
 *                        declared) are kept: the sender's IMDN request.
 * The header values are strict (digits only, bounded, known words): a
 * value junction cannot honour is a 400 with a phrase naming the header,
 * never a silent default.
 *
 * Everything here is a pure function of the request (tests/unit/
 * test_sip_sms.c, tests/fuzz/fuzz_sip_sms.c).
 *
 * Threads: any.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip.h"

#define SIP_CPIM_IMDN_NS "urn:ietf:params:imdn"
#define SIP_SMS_VALIDITY_MAX (30 * 86400) /* as a route's set.validity_s */

/* An unsigned decimal of at most 9 digits (no sign, no blanks) in
 * [0, max]: 0 with *v set, or -1. */
static int sip_sms_uint(const char *s, int max, int *v)
{
    long n = 0;
    size_t i;

    if (s == NULL || s[0] == '\0')
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (i >= 9 || !isdigit((unsigned char)s[i]))
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    if (n > max)
        return -1;
    *v = (int)n;
    return 0;
}

/* The value of the first header called name (any case), or NULL. */
static const char *sip_sms_hvalue(const osip_message_t *req, const char *name)
{
    osip_header_t *h = NULL;

    if (osip_message_header_get_byname(req, name, 0, &h) < 0 || h == NULL)
        return NULL;
    return h->hvalue ? h->hvalue : "";
}

/* X-SMS-Coding: gsm | 0 | ucs2 | 8. */
static int sip_sms_coding(const char *v, int *coding)
{
    if (strcasecmp(v, "gsm") == 0 || strcmp(v, "0") == 0)
        *coding = 0;
    else if (strcasecmp(v, "ucs2") == 0 || strcasecmp(v, "ucs-2") == 0 || strcmp(v, "8") == 0)
        *coding = 8;
    else
        return -1;
    return 0;
}

/* See sip.h. */
int sip_sms_headers(const osip_message_t *req, sip_sms_t *s, const char **reason)
{
    const char *v;
    int rd;

    if ((v = sip_sms_hvalue(req, "x-sms-coding")) != NULL && sip_sms_coding(v, &s->coding) != 0) {
        *reason = "Bad X-SMS-Coding (gsm or ucs2)";
        return 400;
    }
    if ((v = sip_sms_hvalue(req, "x-sms-validity")) != NULL &&
        (sip_sms_uint(v, SIP_SMS_VALIDITY_MAX, &s->validity_s) != 0 || s->validity_s == 0)) {
        *reason = "Bad X-SMS-Validity (seconds, 1 to 2592000)";
        return 400;
    }
    if ((v = sip_sms_hvalue(req, "x-sms-registered-delivery")) != NULL) {
        if (sip_sms_uint(v, 2, &rd) != 0) {
            *reason = "Bad X-SMS-Registered-Delivery (0, 1 or 2)";
            return 400;
        }
        s->rd = rd;
    }
    if ((v = sip_sms_hvalue(req, "x-sms-receipt")) != NULL) {
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
            rd = 1;
        else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
            rd = 0;
        else {
            *reason = "Bad X-SMS-Receipt (yes or no)";
            return 400;
        }
        if (s->rd < 0)
            s->rd = rd; /* X-SMS-Registered-Delivery says more, and wins */
    }
    if (s->rd == 1)
        s->dn |= SIP_DN_POSITIVE | SIP_DN_NEGATIVE;
    else if (s->rd == 2)
        s->dn |= SIP_DN_NEGATIVE;
    return 0;
}

/* One header line of a CPIM block: [line, eol) split at the first ':'
 * into a name (trimmed) and a value (leading blanks skipped, trailing
 * blanks cut).  0, or -1 when the line has no ':'. */
static int sip_cpim_line(const char *line, const char *eol, char *name, size_t ncap,
                         const char **val, size_t *vlen)
{
    const char *colon = memchr(line, ':', (size_t)(eol - line));
    size_t n;

    if (colon == NULL)
        return -1;
    n = (size_t)(colon - line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= ncap)
        return -1;
    memcpy(name, line, n);
    name[n] = '\0';
    colon++;
    while (colon < eol && (*colon == ' ' || *colon == '\t'))
        colon++;
    n = (size_t)(eol - colon);
    while (n > 0 && (colon[n - 1] == ' ' || colon[n - 1] == '\t'))
        n--;
    *val = colon;
    *vlen = n;
    return 0;
}

/* The end of the line at p (before CRLF or LF) and where the next one
 * starts; NULL when there is no line end before end. */
static const char *sip_cpim_eol(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    if (nl == NULL)
        return NULL;
    *next = nl + 1;
    return (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
}

/* imdn.Disposition-Notification tokens into SIP_DN_* bits. */
static unsigned sip_cpim_dn(const char *v, size_t n)
{
    unsigned dn = 0;
    size_t i = 0;

    while (i < n) {
        size_t s, e;
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        e = i;
        if (e - s == 17 && strncasecmp(v + s, "positive-delivery", 17) == 0)
            dn |= SIP_DN_POSITIVE;
        else if (e - s == 17 && strncasecmp(v + s, "negative-delivery", 17) == 0)
            dn |= SIP_DN_NEGATIVE;
        /* display, processing: not ours to report */
    }
    return dn;
}

/* The CPIM message headers block [p, end): the IMDN prefix (from NS),
 * Message-ID and dispositions into s.  Returns where the MIME block
 * starts, or NULL (bad block). */
static const char *sip_cpim_msg_headers(const char *p, const char *end, sip_sms_t *s)
{
    char name[64], prefix[32] = "imdn", idname[48], dnname[64];
    const char *id = NULL, *dn = NULL, *val, *next, *eol;
    size_t idlen = 0, dnlen = 0, vlen;
    /* the ids and dispositions may come before the NS header in a lenient
     * sender: keep every candidate's line and compare prefixes at the end */
    const char *cand[16];
    size_t candlen[16], ncand = 0;
    char candname[16][64];

    while ((eol = sip_cpim_eol(p, end, &next)) != NULL) {
        if (eol == p)
            break; /* the blank line */
        if (sip_cpim_line(p, eol, name, sizeof name, &val, &vlen) != 0)
            return NULL;
        if (strcasecmp(name, "NS") == 0) {
            /* NS: prefix <urn> */
            const char *lt = memchr(val, '<', vlen);
            size_t plen = lt ? (size_t)(lt - val) : 0;
            while (plen > 0 && (val[plen - 1] == ' ' || val[plen - 1] == '\t'))
                plen--;
            if (lt != NULL && plen > 0 && plen < sizeof prefix &&
                (size_t)(val + vlen - lt) == sizeof SIP_CPIM_IMDN_NS + 1 &&
                strncmp(lt + 1, SIP_CPIM_IMDN_NS, sizeof SIP_CPIM_IMDN_NS - 1) == 0 &&
                val[vlen - 1] == '>') {
                memcpy(prefix, val, plen);
                prefix[plen] = '\0';
            }
        } else if (strchr(name, '.') != NULL && ncand < 16) {
            snprintf(candname[ncand], sizeof candname[ncand], "%s", name);
            cand[ncand] = val;
            candlen[ncand++] = vlen;
        }
        p = next;
    }
    if (eol == NULL)
        return NULL;
    snprintf(idname, sizeof idname, "%s.Message-ID", prefix);
    snprintf(dnname, sizeof dnname, "%s.Disposition-Notification", prefix);
    for (size_t i = 0; i < ncand; i++) {
        if (strcasecmp(candname[i], idname) == 0 && id == NULL) {
            id = cand[i];
            idlen = candlen[i];
        } else if (strcasecmp(candname[i], dnname) == 0 && dn == NULL) {
            dn = cand[i];
            dnlen = candlen[i];
        }
    }
    if (id != NULL) {
        /* an id goes back in XML and headers: printable ASCII, bounded */
        if (idlen == 0 || idlen >= sizeof s->imdn_id)
            return NULL;
        for (size_t i = 0; i < idlen; i++)
            if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7F)
                return NULL;
        memcpy(s->imdn_id, id, idlen);
        s->imdn_id[idlen] = '\0';
        s->imdn = 1;
        if (dn != NULL)
            s->dn |= sip_cpim_dn(dn, dnlen);
    }
    return next;
}

/* The parameters [p, p + n) of a CPIM content type name no charset, or
 * a UTF-8 compatible one: 1, else 0. */
static int sip_cpim_charset_ok(const char *p, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++) {
        const char *c = p + i + 8;
        size_t cl = 0;
        if (strncasecmp(p + i, "charset=", 8) != 0)
            continue;
        while (i + 8 + cl < n && c[cl] != ';' && c[cl] != ' ' && c[cl] != '\t')
            cl++;
        if (cl >= 2 && c[0] == '"' && c[cl - 1] == '"') {
            c++;
            cl -= 2;
        }
        return (cl == 5 && strncasecmp(c, "utf-8", 5) == 0) ||
               (cl == 4 && strncasecmp(c, "utf8", 4) == 0) ||
               (cl == 8 && strncasecmp(c, "us-ascii", 8) == 0);
    }
    return 1; /* no charset: UTF-8 is CPIM's default */
}

/* See sip.h. */
int sip_cpim_parse(const char *buf, size_t n, sip_sms_t *s, const char **reason)
{
    const char *end = buf + n, *p, *eol, *next, *val;
    char name[64];
    size_t vlen;
    long clen = -1;
    int text = 0;

    p = sip_cpim_msg_headers(buf, end, s);
    if (p == NULL) {
        *reason = "Bad CPIM Body";
        return 400;
    }
    while ((eol = sip_cpim_eol(p, end, &next)) != NULL && eol != p) {
        if (sip_cpim_line(p, eol, name, sizeof name, &val, &vlen) != 0) {
            *reason = "Bad CPIM Body";
            return 400;
        }
        if (strcasecmp(name, "Content-Type") == 0) {
            /* text/plain, with a UTF-8 charset when it names one */
            const char *semi = memchr(val, ';', vlen);
            size_t tlen = semi ? (size_t)(semi - val) : vlen;
            while (tlen > 0 && (val[tlen - 1] == ' ' || val[tlen - 1] == '\t'))
                tlen--;
            text = tlen == 10 && strncasecmp(val, "text/plain", 10) == 0;
            if (text && semi != NULL)
                text = sip_cpim_charset_ok(semi, vlen - (size_t)(semi - val));
        } else if (strcasecmp(name, "Content-Length") == 0) {
            int v;
            char num[12];
            if (vlen == 0 || vlen >= sizeof num) {
                *reason = "Bad CPIM Body";
                return 400;
            }
            memcpy(num, val, vlen);
            num[vlen] = '\0';
            if (sip_sms_uint(num, 1 << 20, &v) != 0) {
                *reason = "Bad CPIM Body";
                return 400;
            }
            clen = v;
        }
        p = next;
    }
    if (eol == NULL) {
        *reason = "Bad CPIM Body";
        return 400;
    }
    if (!text) {
        *reason = "Unsupported CPIM Content (text/plain only)";
        return 415;
    }
    s->text = next;
    s->text_len = (size_t)(end - next);
    if (clen >= 0) {
        if ((size_t)clen > s->text_len) {
            *reason = "Bad CPIM Body";
            return 400;
        }
        s->text_len = (size_t)clen;
    }
    if (!sip_utf8_valid(s->text, s->text_len)) {
        *reason = "Invalid UTF-8 Body";
        return 400;
    }
    return 0;
}

/* See sip.h. */
int sip_sms_read(const osip_message_t *req, sip_sms_t *s, const char **reason)
{
    const osip_content_type_t *ct = req->content_type;
    osip_body_t *b = NULL;
    int st;

    memset(s, 0, sizeof *s);
    s->coding = s->validity_s = s->rd = -1;
    if (ct != NULL && ct->type != NULL && ct->subtype != NULL &&
        strcasecmp(ct->type, "message") == 0 && strcasecmp(ct->subtype, "cpim") == 0) {
        if (osip_message_get_body(req, 0, &b) < 0 || b == NULL || b->body == NULL) {
            *reason = "Bad CPIM Body";
            return 400;
        }
        s->cpim = 1;
        st = sip_cpim_parse(b->body, b->length, s, reason);
    } else {
        st = sip_check_text_body(req, &s->text, &s->text_len, reason);
    }
    if (st != 0)
        return st;
    return sip_sms_headers(req, s, reason);
}

/* See sip.h. */
int sip_reports_form(const char *s)
{
    static const char *const forms[] = {"none", "auto", "imdn", "text"}; /* SIP_REPORTS_* */

    for (int i = 0; s != NULL && i < (int)(sizeof forms / sizeof forms[0]); i++)
        if (strcmp(s, forms[i]) == 0)
            return i;
    return -1;
}
