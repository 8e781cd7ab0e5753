/*
 * web_kannel.c - Kannel's sendsms (/cgi-bin/sendsms), for clients written
 * against Kannel's smsbox (its user guide, "SMS Push (send-sms) CGI
 * interface"; docs/http-api.md says what is and is not taken).
 *
 * Three forms of one request, read into one table of arguments:
 *   GET  ?username=&password=&to=&text=&...      the CGI variables
 *   POST application/x-www-form-urlencoded       the same, in the body
 *   POST text/plain or application/octet-stream  the text is the body,
 *        the rest X-Kannel-* headers (X-Kannel-UDH in hex), the charset
 *        that of Content-Type, octet-stream meaning coding 1
 * A '+' in a query or form is a space (URL form encoding), so "to=1+2" is
 * two recipients, as in Kannel; an international number's own '+' comes
 * as %2B.
 *
 * Each recipient of `to` (split on spaces) becomes one message through the
 * MI method messages.inject as the user (role operator or admin), so the
 * checks, routing and commit-before-answer are every surface's:
 *   coding 0 (7-bit): the text, converted from charset (default UTF-8) to
 *            UTF-8 with iconv; the SMPP side picks GSM 03.38 or UCS-2
 *   coding 1 (8-bit): the octets as they came, a binary message
 *            (data_coding 4, or 0xF4 | mclass), udh in front
 *   coding 2 (UCS-2): the text from charset (default UTF-16BE) to UTF-8
 *            with the tag coding = ucs2; with a udh, the UTF-16BE octets
 *            as a binary message of data_coding 8 (or 0x18 | mclass)
 * udh without coding means coding 1 (Kannel's compatibility rule); mclass
 * 0-3 the message class (tag sms_class for text); validity minutes as
 * validity_s, deferred minutes as deferred_s; dlr-mask with bit 1 or 2
 * asks for a receipt, and with dlr-url its outcome is a GET of that URL
 * with Kannel's escapes (gw_report_http.h).  The answer is
 * one for the request, in Kannel's words: "0: Accepted for delivery" (202),
 * "3: Queued for later delivery" (202) when a message must wait (deferred,
 * or its connector can take nothing now: gw_cq_can_send), and Kannel's
 * error texts with its HTTP statuses.
 *
 * Threads: libmicrohttpd's pool threads (the password check hashes there,
 * as /login does).  The request table is the calling thread's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <iconv.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "gw_binary.h"
#include "gw_cq.h"
#include "gw_errors.h"
#include "gw_report_http.h"
#include "webui/web_int.h"

#define WEB_KANNEL_TO_MAX 100     /* recipients in one request */
#define WEB_KANNEL_TEXT_MAX 65536 /* octets of text */

/* The arguments taken: CGI name, Kannel's alias, X-Kannel header. */
enum {
    WK_USER = 0, WK_PASS, WK_TO, WK_TEXT, WK_FROM, WK_DLR, WK_CODING, WK_CHARSET, WK_UDH,
    WK_MCLASS, WK_VALIDITY, WK_DEFERRED, WK_DLR_URL, WK__N
};
static const struct {
    const char *name, *alias, *header;
} web_kannel_args[WK__N] = {
    [WK_USER] = { "username", "user", "X-Kannel-Username" },
    [WK_PASS] = { "password", "pass", "X-Kannel-Password" },
    [WK_TO] = { "to", NULL, "X-Kannel-To" },
    [WK_TEXT] = { "text", NULL, NULL },
    [WK_FROM] = { "from", NULL, "X-Kannel-From" },
    [WK_DLR] = { "dlr-mask", "dlrmask", "X-Kannel-DLR-Mask" },
    [WK_CODING] = { "coding", NULL, "X-Kannel-Coding" },
    [WK_CHARSET] = { "charset", NULL, NULL },
    [WK_UDH] = { "udh", NULL, "X-Kannel-UDH" },
    [WK_MCLASS] = { "mclass", NULL, "X-Kannel-MClass" },
    [WK_VALIDITY] = { "validity", NULL, "X-Kannel-Validity" },
    [WK_DEFERRED] = { "deferred", NULL, "X-Kannel-Deferred" },
    [WK_DLR_URL] = { "dlr-url", "dlrurl", "X-Kannel-DLR-Url" },
};

/* One request's arguments: malloc'd copies (NUL terminated, n octets,
 * which may hold NULs: UTF-16 text, binary), NULL when not given. */
typedef struct web_kannel_req {
    char *p[WK__N];
    size_t n[WK__N];
    int coding_default; /* -1, or 1 for a POST of application/octet-stream */
} web_kannel_req_t;

static void web_kannel_req_free(web_kannel_req_t *q)
{
    for (int i = 0; i < WK__N; i++)
        free(q->p[i]);
}

/* Set argument i to n octets of v (the first one given wins).  0 or -1. */
static int web_kannel_set(web_kannel_req_t *q, int i, const char *v, size_t n)
{
    if (q->p[i] != NULL)
        return 0;
    q->p[i] = malloc(n + 1);
    if (q->p[i] == NULL)
        return -1;
    memcpy(q->p[i], v, n);
    q->p[i][n] = '\0';
    q->n[i] = n;
    return 0;
}

/* The argument a CGI name stands for, or -1. */
static int web_kannel_arg(const char *name, size_t n)
{
    for (int i = 0; i < WK__N; i++)
        if ((strlen(web_kannel_args[i].name) == n && memcmp(name, web_kannel_args[i].name, n) == 0) ||
            (web_kannel_args[i].alias && strlen(web_kannel_args[i].alias) == n &&
             memcmp(name, web_kannel_args[i].alias, n) == 0))
            return i;
    return -1;
}

/* libmicrohttpd's iterator over the query: each known argument copied
 * (the value already unescaped, '+' a space, with its length). */
static enum MHD_Result web_kannel_get_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                          size_t key_size, const char *value, size_t value_size)
{
    web_kannel_req_t *q = cls;
    int i = web_kannel_arg(key, key_size);

    (void)kind;
    if (i >= 0 && web_kannel_set(q, i, value ? value : "", value ? value_size : 0) != 0)
        return MHD_NO;
    return MHD_YES;
}

static int web_kannel_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* URL form decoding of s (n octets) in place: '+' a space, %XX an octet
 * (a malformed escape is kept as it is).  Returns the new length. */
static size_t web_kannel_unescape(char *s, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && web_kannel_hex(s[i + 1]) >= 0 &&
                   web_kannel_hex(s[i + 2]) >= 0) {
            s[k++] = (char)(web_kannel_hex(s[i + 1]) << 4 | web_kannel_hex(s[i + 2]));
            i += 2;
        } else {
            s[k++] = s[i];
        }
    }
    return k;
}

/* An application/x-www-form-urlencoded body into q.  0 or -1. */
static int web_kannel_form(web_kannel_req_t *q, const char *body, size_t len)
{
    char *copy = malloc(len + 1), *at, *end, *amp, *eq;
    int rc = copy != NULL ? 0 : -1;

    if (copy != NULL) {
        memcpy(copy, body, len);
        copy[len] = '\0';
    }
    for (at = copy, end = copy + len; rc == 0 && at != NULL && at < end; at = amp ? amp + 1 : NULL) {
        size_t kn, vn;
        int i;
        amp = memchr(at, '&', (size_t)(end - at));
        eq = memchr(at, '=', (size_t)((amp ? amp : end) - at));
        kn = web_kannel_unescape(at, (size_t)((eq ? eq : amp ? amp : end) - at));
        i = web_kannel_arg(at, kn);
        if (i < 0 || eq == NULL)
            continue;
        vn = web_kannel_unescape(eq + 1, (size_t)((amp ? amp : end) - eq - 1));
        rc = web_kannel_set(q, i, eq + 1, vn);
    }
    free(copy);
    return rc;
}

/* libmicrohttpd's iterator over the headers: the X-Kannel-* ones. */
static enum MHD_Result web_kannel_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    web_kannel_req_t *q = cls;

    (void)kind;
    for (int i = 0; i < WK__N; i++)
        if (web_kannel_args[i].header && strcasecmp(key, web_kannel_args[i].header) == 0 &&
            web_kannel_set(q, i, value ? value : "", value ? strlen(value) : 0) != 0)
            return MHD_NO;
    return MHD_YES;
}

/* The charset of a Content-Type ("text/plain; charset=ISO-8859-1") into
 * q, unquoted.  0 or -1. */
static int web_kannel_ctype_charset(web_kannel_req_t *q, const char *ctype)
{
    const char *cs = ctype ? strcasestr(ctype, "charset=") : NULL;
    size_t n;

    if (cs == NULL)
        return 0;
    cs += 8;
    if (*cs == '"')
        cs++;
    n = strcspn(cs, "\"; \t");
    return n > 0 ? web_kannel_set(q, WK_CHARSET, cs, n) : 0;
}

/* n octets of in, in charset from, as UTF-8: malloc'd, NUL terminated,
 * *outlen set; NULL when iconv does not know the charset or the text is
 * not in it (glibc checks UTF-8 too), or out of memory. */
static char *web_kannel_iconv(const char *from, const char *to, const char *in, size_t n,
                              size_t *outlen)
{
    iconv_t cd = iconv_open(to, from);
    size_t cap = 4 * n + 4, left = cap, inleft = n;
    char *out, *op, *ip = (char *)in;

    if (cd == (iconv_t)-1)
        return NULL;
    out = malloc(cap + 1);
    op = out;
    if (out != NULL && iconv(cd, &ip, &inleft, &op, &left) == (size_t)-1) {
        free(out);
        out = NULL;
    }
    if (out != NULL && iconv(cd, NULL, NULL, &op, &left) == (size_t)-1) {
        free(out);
        out = NULL;
    }
    iconv_close(cd);
    if (out != NULL) {
        *outlen = (size_t)(op - out);
        out[*outlen] = '\0';
    }
    return out;
}

/* An integer argument: *v (def when absent).  0, or -1 when it is not a
 * number in lo..hi. */
static int web_kannel_int(const web_kannel_req_t *q, int i, long lo, long hi, long def, long *v)
{
    char *end;

    *v = def;
    if (q->p[i] == NULL)
        return 0;
    errno = 0;
    *v = strtol(q->p[i], &end, 10);
    return errno == 0 && end != q->p[i] && *end == '\0' && *v >= lo && *v <= hi ? 0 : -1;
}

/* The answer: Kannel's text with its status. */
static enum MHD_Result web_kannel_reply(struct MHD_Connection *conn, unsigned status,
                                        const char *text)
{
    char *copy = strdup(text);

    if (copy == NULL)
        return MHD_NO;
    return web_reply_hdrs(conn, status, "text/plain; charset=utf-8", copy, strlen(copy),
                          MHD_RESPMEM_MUST_FREE, NULL);
}

/* The content of q as members of messages.inject params p (body, or
 * binary with udh and data_coding; coding, tags sms_class).  NULL when
 * fine, else Kannel's error text (a 400). */
static const char *web_kannel_content(const web_kannel_req_t *q, json_t *p)
{
    long coding, mclass;
    const char *charset = q->p[WK_CHARSET];
    char *text = NULL, hex[2 * GW_BIN_SMS_MAX + 1];
    size_t n = 0, nudh = q->p[WK_UDH] ? q->n[WK_UDH] : 0;
    const char *err = NULL;

    if (web_kannel_int(q, WK_CODING, 0, 2, q->coding_default, &coding) != 0)
        return "Coding field misformed, rejected";
    if (coding < 0)
        coding = nudh > 0 ? 1 : 0; /* Kannel's compatibility mode */
    if (web_kannel_int(q, WK_MCLASS, 0, 3, -1, &mclass) != 0)
        return "MClass field misformed, rejected";
    if (nudh > 0 && (nudh != (unsigned char)q->p[WK_UDH][0] + 1u))
        return "UDH field misformed, rejected";
    if (nudh > GW_BIN_SMS_MAX)
        return "UDH field is too long, rejected";
    if (q->p[WK_TEXT] == NULL && nudh == 0)
        return "Missing text";
    if (nudh > 0 && coding == 0)
        return "UDH with coding 0 (7 bits) is not supported, rejected";
    if (coding == 1) {
        text = malloc(q->p[WK_TEXT] ? q->n[WK_TEXT] + 1 : 1);
        if (text != NULL && q->p[WK_TEXT] != NULL)
            memcpy(text, q->p[WK_TEXT], q->n[WK_TEXT]);
        n = q->p[WK_TEXT] ? q->n[WK_TEXT] : 0;
    } else {
        const char *from = charset ? charset : coding == 2 ? "UTF-16BE" : "UTF-8";
        text = web_kannel_iconv(from, nudh > 0 ? "UTF-16BE" : "UTF-8",
                                q->p[WK_TEXT] ? q->p[WK_TEXT] : "",
                                q->p[WK_TEXT] ? q->n[WK_TEXT] : 0, &n);
        if (text == NULL)
            return "Charset or body misformed, rejected";
        if (nudh == 0 && (n == 0 || strlen(text) != n))
            err = n == 0 ? "Missing text" : "Charset or body misformed, rejected";
    }
    if (text == NULL)
        return "Sending failed.";
    if (err == NULL && (coding == 1 || nudh > 0)) {
        /* a binary message: the octets, the UDH, the data_coding */
        int dc = coding == 1 ? (mclass >= 0 ? 0xF4 | (int)mclass : 4)
                             : (mclass >= 0 ? 0x18 | (int)mclass : 8);
        if (n + nudh > GW_BIN_SMS_MAX) {
            err = "Message too long for one SMS (binary is not split), rejected";
        } else {
            char *bhex = malloc(2 * n + 1);
            if (bhex == NULL) {
                err = "Sending failed.";
            } else {
                gw_bin_hex_encode((const uint8_t *)text, n, bhex);
                json_object_set_new(p, "binary", json_string(bhex));
                json_object_set_new(p, "data_coding", json_integer(dc));
                free(bhex);
            }
            if (err == NULL && nudh > 0) {
                gw_bin_hex_encode((const uint8_t *)q->p[WK_UDH], nudh, hex);
                json_object_set_new(p, "udh", json_string(hex));
            }
        }
    } else if (err == NULL) {
        json_object_set_new(p, "body", json_stringn(text, n));
        if (coding == 2)
            json_object_set_new(p, "coding", json_string("ucs2"));
        if (mclass >= 0) {
            char cls[2] = { (char)('0' + mclass), '\0' };
            json_object_set_new(p, "tags", json_pack("{s:s}", "sms_class", cls));
        }
    }
    free(text);
    return err;
}

/* The options of q as messages.inject params (a new object, the content
 * not yet in), or NULL with *err set to Kannel's text. */
static json_t *web_kannel_params(const web_kannel_req_t *q, const char **err)
{
    long dlr, validity, deferred;
    char why[128];
    json_t *p;

    *err = NULL;
    if (q->p[WK_FROM] == NULL || q->p[WK_FROM][0] == '\0')
        *err = "Sender missing and no global set, rejected";
    else if (web_kannel_int(q, WK_DLR, 0, 31, 0, &dlr) != 0)
        *err = "DLR-Mask field misformed, rejected";
    else if (web_kannel_int(q, WK_VALIDITY, 0, 43200, 0, &validity) != 0)
        *err = "Validity field misformed, rejected";
    else if (web_kannel_int(q, WK_DEFERRED, 0, 43200, 0, &deferred) != 0)
        *err = "Deferred field misformed, rejected";
    else if (q->p[WK_DLR_URL] != NULL && dlr != 0 &&
             gw_report_http_url_check(q->p[WK_DLR_URL], why, sizeof why) != 0)
        *err = "Invalid dlr-url";
    if (*err != NULL)
        return NULL;
    /* Kannel's dlr-mask asks for a receipt with any of its final bits (1, 2) */
    p = json_pack("{s:s, s:i}", "from", q->p[WK_FROM], "registered_delivery",
                  (dlr & 3) != 0 ? 1 : 0);
    /* dlr-url: Kannel's escapes, GET, for the outcomes of dlr-mask (gw_report_http.h) */
    if (p != NULL && q->p[WK_DLR_URL] != NULL && dlr != 0)
        json_object_update_new(p, json_pack("{s:s, s:s, s:i}", "callback_url", q->p[WK_DLR_URL],
                                            "callback_form", "kannel", "callback_mask",
                                            (int)dlr));
    if (p != NULL && validity > 0)
        json_object_set_new(p, "validity_s", json_integer(validity * 60));
    if (p != NULL && deferred > 0)
        json_object_set_new(p, "deferred_s", json_integer(deferred * 60));
    if (p != NULL && (*err = web_kannel_content(q, p)) != NULL) {
        json_decref(p);
        return NULL;
    }
    if (p == NULL)
        *err = "Sending failed.";
    return p;
}

/* Whether a message accepted to target waits rather than goes now (its
 * sender deferred it, or its connector can take nothing: down, unbound):
 * Kannel's "3: Queued for later delivery". */
static int web_kannel_waits(const json_t *params, const char *target)
{
    return json_object_get(params, "deferred_s") != NULL ||
           (target != NULL && !gw_cq_can_send(target));
}

/* The recipients in to: words between spaces or tabs. */
static size_t web_kannel_count(const char *to)
{
    size_t n = 0;

    for (; *to != '\0'; to++)
        n += (*to != ' ' && *to != '\t') && (to[1] == ' ' || to[1] == '\t' || to[1] == '\0');
    return n;
}

/* Kannel's text and status for the JSON-RPC error code of a refusal. */
static const char *web_kannel_refusal(int code, unsigned *status)
{
    switch (code) {
    case GW_MI_FORBIDDEN:
        *status = MHD_HTTP_FORBIDDEN;
        return "Authorization failed for sendsms";
    case GW_MI_BUSY:
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return "Temporal failure, try again later.";
    case GW_MI_INVALID_PARAMS:
        *status = MHD_HTTP_BAD_REQUEST;
        return "Invalid receiver or sender number";
    case GW_MI_NOT_FOUND:
    case GW_MI_REJECTED:
        *status = MHD_HTTP_FORBIDDEN;
        return "Not routable. Do not try again.";
    default:
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return "Sending failed.";
    }
}

/* One request, whatever its form: credentials, then one message per
 * recipient of `to`, one answer. */
static enum MHD_Result web_kannel_send(struct MHD_Connection *conn, web_kannel_req_t *q)
{
    gw_mi_caller_t caller;
    char addr[INET6_ADDRSTRLEN + 1], *save = NULL, *dst, answer[512];
    const char *err = NULL, *first_err = NULL;
    unsigned st, first_status = 0;
    int retry = 0, rc, accepted = 0, queued = 0, refused = 0;
    json_t *params;

    web_auth_addr(conn, addr, sizeof addr);
    if (q->p[WK_USER] == NULL || q->p[WK_PASS] == NULL)
        return web_kannel_reply(conn, MHD_HTTP_FORBIDDEN, "Authorization failed for sendsms");
    rc = gw_auth_password(q->p[WK_USER], q->p[WK_PASS], addr, &caller, &retry);
    if (rc == GW_EAGAIN)
        return web_kannel_reply(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                                "Too many failed logins: try again later");
    if (rc != 0 || caller.must_change || caller.role < GW_ROLE_OPERATOR)
        return web_kannel_reply(conn, MHD_HTTP_FORBIDDEN, "Authorization failed for sendsms");
    if (q->p[WK_TO] == NULL)
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST, "Missing receiver number, rejected");
    if (q->n[WK_TO] == 0 || strspn(q->p[WK_TO], " \t") == q->n[WK_TO])
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST,
                                "Empty receiver number not allowed, rejected");
    if (web_kannel_count(q->p[WK_TO]) > WEB_KANNEL_TO_MAX)
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST, "Too many receivers, rejected");
    if (q->p[WK_TEXT] != NULL && q->n[WK_TEXT] > WEB_KANNEL_TEXT_MAX)
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST, "Message too long, rejected");
    params = web_kannel_params(q, &err);
    if (params == NULL)
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST, err);
    snprintf(answer, sizeof answer, " Denied receivers are:");
    for (dst = strtok_r(q->p[WK_TO], " \t", &save); dst != NULL;
         dst = strtok_r(NULL, " \t", &save)) {
        json_t *resp, *res, *e;
        json_object_set_new(params, "to", json_string(dst));
        resp = gw_mi_call_as("messages.inject", params, &caller, &st);
        res = json_object_get(resp, "result");
        e = json_object_get(resp, "error");
        if (res != NULL) {
            accepted++;
            queued |= web_kannel_waits(params, json_string_value(json_object_get(res, "target")));
        } else {
            const char *t = web_kannel_refusal(
                e ? (int)json_integer_value(json_object_get(e, "code")) : GW_MI_INTERNAL_ERROR, &st);
            if (first_err == NULL) {
                first_err = t;
                first_status = st;
            }
            refused++;
            if (strlen(answer) + strlen(dst) + 2 < sizeof answer)
                strcat(strcat(answer, " "), dst);
        }
        json_decref(resp);
    }
    json_decref(params);
    if (accepted == 0)
        return web_kannel_reply(conn, first_status, first_err ? first_err : "Sending failed.");
    {
        char text[sizeof answer + 40];
        snprintf(text, sizeof text, "%s%s",
                 queued ? "3: Queued for later delivery" : "0: Accepted for delivery",
                 refused ? answer : "");
        return web_kannel_reply(conn, MHD_HTTP_ACCEPTED, text);
    }
}

enum MHD_Result web_kannel_sendsms(struct MHD_Connection *conn)
{
    web_kannel_req_t q = { .coding_default = -1 };
    enum MHD_Result r;

    if (MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, web_kannel_get_arg, &q) < 0) {
        web_kannel_req_free(&q);
        return MHD_NO;
    }
    r = web_kannel_send(conn, &q);
    web_kannel_req_free(&q);
    return r;
}

enum MHD_Result web_kannel_sendsms_post(struct MHD_Connection *conn, const char *body, size_t len)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    web_kannel_req_t q = { .coding_default = -1 };
    enum MHD_Result r;
    int rc = 0;

    if (ct == NULL)
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST, "Invalid content-type");
    if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        rc = web_kannel_form(&q, body != NULL ? body : "", len);
    } else if (strncasecmp(ct, "text/plain", 10) == 0 ||
               strncasecmp(ct, "application/octet-stream", 24) == 0) {
        /* Kannel's POST: the text is the body, the rest X-Kannel-* headers */
        if (ct[0] == 'a' || ct[0] == 'A')
            q.coding_default = 1;
        if (MHD_get_connection_values(conn, MHD_HEADER_KIND, web_kannel_header, &q) < 0 ||
            web_kannel_ctype_charset(&q, ct) != 0 ||
            web_kannel_set(&q, WK_TEXT, body != NULL ? body : "", len) != 0)
            rc = -1;
        if (rc == 0 && q.p[WK_UDH] != NULL) {
            /* X-Kannel-UDH is hex (Kannel falls back to URL encoding) */
            uint8_t u[GW_BIN_SMS_MAX];
            long n = gw_bin_hex_decode(q.p[WK_UDH], q.n[WK_UDH], u, sizeof u);
            if (n > 0) {
                memcpy(q.p[WK_UDH], u, (size_t)n);
                q.n[WK_UDH] = (size_t)n;
            } else {
                q.n[WK_UDH] = web_kannel_unescape(q.p[WK_UDH], q.n[WK_UDH]);
            }
        }
    } else {
        return web_kannel_reply(conn, MHD_HTTP_BAD_REQUEST, "Invalid content-type");
    }
    r = rc == 0 ? web_kannel_send(conn, &q) : MHD_NO;
    web_kannel_req_free(&q);
    return r;
}
