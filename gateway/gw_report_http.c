/*
 * gw_report_http.c - receipt callbacks (gw_report_http.h): the URL check,
 * which final changes owe one, and the JSON document it carries.
 *
 * Threads: any; the check runs on the MI caller's thread, the rest on the
 * store's writer thread (called by gw_report.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw_errors.h"
#include "gw_report_http.h"

int gw_report_http_url_check(const char *url, char *err, size_t n)
{
    const char *p, *host, *end;
    size_t len = url != NULL ? strlen(url) : 0;
    long port = 0;

    if (len == 0 || len > GW_REPORT_HTTP_URL_MAX) {
        snprintf(err, n, "callback_url must have 1-%d characters", GW_REPORT_HTTP_URL_MAX);
        return GW_EINVAL;
    }
    for (p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F) {
            snprintf(err, n, "callback_url: spaces, control and non-ASCII bytes must be "
                             "%%-escaped");
            return GW_EINVAL;
        }
    if (strncasecmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        host = url + 8;
    else {
        snprintf(err, n, "callback_url must be an http:// or https:// URL");
        return GW_EINVAL;
    }
    end = host + strcspn(host, "/?#");
    if (memchr(host, '@', (size_t)(end - host)) != NULL) {
        snprintf(err, n, "callback_url: no user or password in the URL");
        return GW_EINVAL;
    }
    if (*host == '[') { /* an IPv6 literal */
        p = memchr(host, ']', (size_t)(end - host));
        if (p == NULL || p == host + 1 || strspn(host + 1, "0123456789abcdefABCDEF:.") !=
                                              (size_t)(p - host - 1)) {
            snprintf(err, n, "callback_url: a bad IPv6 address");
            return GW_EINVAL;
        }
        p++;
    } else {
        p = host + strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789-.");
        if (p == host) {
            snprintf(err, n, "callback_url has no host");
            return GW_EINVAL;
        }
    }
    if (p < end && *p == ':') {
        char *stop;
        port = strtol(p + 1, &stop, 10);
        if (stop != end || stop == p + 1 || port < 1 || port > 65535) {
            snprintf(err, n, "callback_url: the port must be 1-65535");
            return GW_EINVAL;
        }
        p = end;
    }
    if (p != end) {
        snprintf(err, n, "callback_url: a bad host");
        return GW_EINVAL;
    }
    return 0;
}

static const char *gw_report_http_tag(const gw_envelope_t *env, const char *key)
{
    return json_string_value(json_object_get(env->tags, key));
}

int gw_report_http_asked(const gw_envelope_t *env)
{
    return env->report.of == NULL && env->source.adapter != NULL &&
           strcmp(env->source.adapter, "mi") == 0 &&
           gw_report_http_tag(env, GW_REPORT_HTTP_TAG) != NULL;
}

int gw_report_http_kannel_type(gw_status_t st, const char *stat)
{
    if (st == GW_ST_DELIVERED)
        return 1;
    return st == GW_ST_FAILED && (stat == NULL || stat[0] == '\0') ? 16 : 2;
}

int gw_report_http_wanted(const gw_envelope_t *env, gw_status_t st, const char *stat)
{
    const char *mask = gw_report_http_tag(env, GW_REPORT_HTTP_TAG_MASK);

    if (!gw_report_http_asked(env) ||
        (st != GW_ST_DELIVERED && st != GW_ST_FAILED && st != GW_ST_EXPIRED))
        return 0;
    return mask == NULL || (atoi(mask) & gw_report_http_kannel_type(st, stat)) != 0;
}

int gw_report_http_maybe(const char *sender)
{
    return sender != NULL && strcmp(sender, GW_REPORT_HTTP_STUB) == 0;
}

const char *gw_report_http_event(gw_status_t st)
{
    switch (st) {
    case GW_ST_DELIVERED:
        return "message.delivered";
    case GW_ST_EXPIRED:
        return "message.expired";
    case GW_ST_REJECTED:
        return "message.rejected";
    default:
        return "message.failed";
    }
}

/* RFC 3339 UTC with milliseconds of ms into out (32 bytes). */
static void gw_report_http_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t k;

    gmtime_r(&t, &tm);
    k = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, 32 - k, ".%03dZ", (int)(ms % 1000));
}

/* Append v %-encoded (all but RFC 3986's unreserved characters) to out
 * at *k of n bytes; 0, or -1 when it does not fit. */
static int gw_report_http_esc(char *out, size_t n, size_t *k, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; v != NULL && *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        if (*k + 4 > n)
            return -1;
        if (plain) {
            out[(*k)++] = (char)c;
        } else {
            out[(*k)++] = '%';
            out[(*k)++] = hex[c >> 4];
            out[(*k)++] = hex[c & 15];
        }
    }
    return 0;
}

char *gw_report_http_kannel_url(const char *tmpl, const gw_report_http_info_t *in)
{
    size_t n = GW_REPORT_HTTP_URL_MAX * 2 + 1, k = 0;
    char *out = malloc(n), num[32], when[32];
    time_t t = (time_t)(in->at_ms / 1000);
    struct tm tm;
    int rc = 0;

    if (out == NULL)
        return NULL;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    for (const char *p = tmpl; rc == 0 && *p != '\0'; p++) {
        const char *v = NULL;
        if (*p != '%' || p[1] == '\0') {
            if (k + 2 > n)
                rc = -1;
            else
                out[k++] = *p;
            continue;
        }
        switch (*++p) {
        case 'd':
            snprintf(num, sizeof num, "%d", gw_report_http_kannel_type(in->status, in->stat));
            v = num;
            break;
        case 'T':
            snprintf(num, sizeof num, "%lld", (long long)(in->at_ms / 1000));
            v = num;
            break;
        case 'A': v = in->text; break;
        case 'I': v = in->id; break;
        case 'F': v = in->remote_id; break;
        case 'i': v = in->smsc; break;
        case 'p': v = in->to; break;
        case 'P': v = in->from; break;
        case 't': v = when; break;
        case '%': v = "%"; break;
        default:
            if (*p >= '0' && *p <= '9') { /* a percent-encoding of the URL's own: kept */
                if (k + 3 > n)
                    rc = -1;
                else {
                    out[k++] = '%';
                    out[k++] = *p;
                }
                continue;
            }
            v = ""; /* an escape junction has no value for (%b, %n, ...) */
            break;
        }
        rc = gw_report_http_esc(out, n, &k, v);
    }
    if (rc != 0) {
        free(out);
        return NULL;
    }
    out[k] = '\0';
    return out;
}

/* v as a JSON string, or null when NULL (a new reference). */
static json_t *gw_report_http_str(const char *v)
{
    return v != NULL ? json_string(v) : json_null();
}

char *gw_report_http_body(const gw_report_http_info_t *in)
{
    char at[32];
    json_t *o, *rcpt = NULL;
    char *text = NULL;
    int rc = 0;

    gw_report_http_time(in->at_ms, at);
    o = json_object();
    if (o == NULL)
        return NULL;
    rc |= json_object_set_new(o, "event", json_string(gw_report_http_event(in->status)));
    rc |= json_object_set_new(o, "id", gw_report_http_str(in->id));
    if (in->client_ref != NULL)
        rc |= json_object_set_new(o, "client_ref", json_string(in->client_ref));
    rc |= json_object_set_new(o, "to", gw_report_http_str(in->to));
    rc |= json_object_set_new(o, "from", gw_report_http_str(in->from));
    rc |= json_object_set_new(o, "state", json_string(gw_status_name(in->status)));
    rc |= json_object_set_new(o, "reason", in->status == GW_ST_DELIVERED
                                               ? json_null()
                                               : gw_report_http_str(in->reason));
    rc |= json_object_set_new(o, "error", json_integer(in->error));
    rc |= json_object_set_new(o, "remote_id", gw_report_http_str(in->remote_id));
    if (in->stat != NULL && in->stat[0] != '\0') {
        rcpt = json_pack("{s:s, s:i, s:o}", "stat", in->stat, "err", in->error, "remote_id",
                         gw_report_http_str(in->remote_id));
        rc |= rcpt == NULL ? -1 : json_object_set_new(o, "receipt", rcpt);
    }
    rc |= json_object_set_new(o, "at", json_string(at));
    if (rc == 0)
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* Kannel's form of the report r: the expanded URL, method GET, no body.
 * 0 or GW_ENOMEM. */
static int gw_report_http_fill_kannel(gw_envelope_t *r, const gw_envelope_t *env,
                                      const gw_report_http_info_t *in)
{
    char *url = gw_report_http_kannel_url(gw_report_http_tag(env, GW_REPORT_HTTP_TAG), in);
    int rc = url != NULL ? 0 : GW_ENOMEM;

    if (rc == 0)
        rc = gw_env_set_tag(r, GW_REPORT_HTTP_TAG, url);
    if (rc == 0)
        rc = gw_env_set_tag(r, GW_REPORT_HTTP_TAG_METHOD, "GET");
    if (rc == 0)
        rc = gw_env_set_tag(r, "callback_event", gw_report_http_event(in->status));
    free(url);
    return rc < 0 ? GW_ENOMEM : 0;
}

int gw_report_http_fill(gw_envelope_t *r, const gw_envelope_t *env,
                        const gw_report_http_info_t *in)
{
    const char *form = gw_report_http_tag(env, GW_REPORT_HTTP_TAG_FORM);
    char *body;
    int rc;

    if (form != NULL && strcmp(form, "kannel") == 0)
        return gw_report_http_fill_kannel(r, env, in);
    body = gw_report_http_body(in);
    rc = body != NULL ? 0 : GW_ENOMEM;

    if (rc == 0)
        rc = gw_env_set_tag(r, GW_REPORT_HTTP_TAG, gw_report_http_tag(env, GW_REPORT_HTTP_TAG));
    if (rc == 0)
        rc = gw_env_set_tag(r, "callback_event", gw_report_http_event(in->status));
    if (rc == 0)
        rc = gw_env_set_str(&r->content_type, "application/json", (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->body, body, (size_t)-1);
    if (rc == 0)
        r->body_len = strlen(body);
    free(body);
    return rc < 0 ? GW_ENOMEM : 0;
}
