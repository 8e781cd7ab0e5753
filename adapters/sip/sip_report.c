/*
 * sip_report.c - the SMS details a MESSAGE carries out, and delivery
 * reports in their SIP forms (docs/sip-sms-headers.md).
 *
 * An envelope going out as a SIP MESSAGE gets X-SMS-* headers saying
 * what the SMS side knew: the data_coding it came in, the SMSC's message
 * id, the sender's TON/NPI.  A delivery report (env->report.of set, made
 * by gateway/gw_report.c for a SIP sender who asked) is written in the
 * form the SIP adapter chose when the original arrived (tag sip.report):
 *
 *   imdn   RFC 5438 7.2: a message/cpim body (From, To, the imdn namespace,
 *          a Message-ID of its own, DateTime) wrapping message/imdn+xml
 *          with the original's imdn.Message-ID, the datetime of the
 *          outcome, the recipient and <delivered/> or <failed/>;
 *   text   text/plain: "Your message to +49... was delivered at ...".
 *
 * Both carry X-SMS-Status (the SMPP 3.4 appendix B word) and
 * X-SMS-Message-Id (junction's id of the message reported on).  Values
 * that came from a peer are written only when they are printable ASCII
 * (headers) or escaped (XML), so nothing a peer sent can add a header or
 * an element.
 *
 * Threads: any (pure).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_errors.h"
#include "sip.h"

/* 1 when s is non-empty printable ASCII (no CR, LF, control bytes). */
static int sip_report_printable(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
            return 0;
    return 1;
}

/* The name X-SMS-Coding gives a data_coding. */
static void sip_report_coding(int dc, gw_jbuf_t *b)
{
    gw_jbuf_puts(b, "X-SMS-Coding: ");
    if (dc == 0)
        gw_jbuf_puts(b, "gsm");
    else if (dc == 8)
        gw_jbuf_puts(b, "ucs2");
    else if (dc == 3)
        gw_jbuf_puts(b, "latin1");
    else if (dc == 4)
        gw_jbuf_puts(b, "binary");
    else
        gw_jbuf_int(b, dc);
    gw_jbuf_put(b, "\r\n", 2);
}

/* See sip.h. */
void sip_report_headers(const gw_envelope_t *env, gw_jbuf_t *b)
{
    if (env->report.of != NULL) {
        if (sip_report_printable(env->report.stat))
            sip_jbuf_printf(b, "X-SMS-Status: %s\r\n", env->report.stat);
        sip_jbuf_printf(b, "X-SMS-Message-Id: %s\r\n", env->report.of);
        if (env->report.err > 0)
            sip_jbuf_printf(b, "X-SMS-Error: %03d\r\n", env->report.err % 1000);
        return;
    }
    if (env->data_coding >= 0 && env->data_coding <= 255)
        sip_report_coding(env->data_coding, b);
    if (sip_report_printable(env->corr.smpp_message_id))
        sip_jbuf_printf(b, "X-SMS-Message-Id: %s\r\n", env->corr.smpp_message_id);
    if (env->source.adapter != NULL && strcmp(env->source.adapter, "smpp") == 0 &&
        env->from.ton >= 0 && env->from.ton <= 255 && env->from.npi >= 0 &&
        env->from.npi <= 255)
        sip_jbuf_printf(b, "X-SMS-Source-TON: %d\r\nX-SMS-Source-NPI: %d\r\n", env->from.ton,
                    env->from.npi);
}

/* s with &, <, >, " and ' escaped for XML text or attributes. */
static void sip_report_xml(gw_jbuf_t *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': gw_jbuf_puts(b, "&amp;"); break;
        case '<': gw_jbuf_puts(b, "&lt;"); break;
        case '>': gw_jbuf_puts(b, "&gt;"); break;
        case '"': gw_jbuf_puts(b, "&quot;"); break;
        case '\'': gw_jbuf_puts(b, "&apos;"); break;
        default:
            if ((unsigned char)*s >= 0x20)
                gw_jbuf_put(b, s, 1);
        }
    }
}

/* ms as RFC 3339 UTC ("2026-12-01T18:30:00Z") into out (21 bytes). */
static void sip_report_time(int64_t ms, char out[21])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The message/imdn+xml document of a report on the message id (the
 * sender's imdn.Message-ID) to recipient, final at when. */
static void sip_report_imdn_xml(const char *id, const char *when, const char *recipient,
                                int delivered, gw_jbuf_t *x)
{
    gw_jbuf_puts(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
                    "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\r\n<message-id>");
    sip_report_xml(x, id);
    gw_jbuf_puts(x, "</message-id>\r\n<datetime>");
    gw_jbuf_puts(x, when);
    gw_jbuf_puts(x, "</datetime>\r\n<recipient-uri>");
    sip_report_xml(x, recipient);
    gw_jbuf_puts(x, "</recipient-uri>\r\n<original-recipient-uri>");
    sip_report_xml(x, recipient);
    gw_jbuf_puts(x, "</original-recipient-uri>\r\n<delivery-notification><status>");
    gw_jbuf_puts(x, delivered ? "<delivered/>" : "<failed/>");
    gw_jbuf_puts(x, "</status></delivery-notification>\r\n</imdn>\r\n");
}

/* See sip.h. */
int sip_report_body(const gw_envelope_t *r, const char *from_uri, const char *to_uri,
                    gw_jbuf_t *b, const char **ctype)
{
    const char *form = json_string_value(json_object_get(r->tags, SIP_TAG_REPORT));
    const char *id = json_string_value(json_object_get(r->tags, SIP_TAG_IMDN_ID));
    const char *stat = r->report.stat ? r->report.stat : "UNKNOWN";
    int delivered = strcmp(stat, "DELIVRD") == 0;
    char when[21], xbuf[1024];
    gw_jbuf_t x = GW_JBUF_IN(xbuf);
    int rc = 0;

    sip_report_time(r->created_at, when);
    if (form != NULL && strcmp(form, "imdn") == 0 && id != NULL) {
        sip_report_imdn_xml(id, when, from_uri, delivered, &x);
        gw_jbuf_puts(b, "From: <");
        sip_report_xml(b, from_uri);
        gw_jbuf_puts(b, ">\r\nTo: <");
        sip_report_xml(b, to_uri);
        sip_jbuf_printf(b, ">\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: %s\r\n"
                       "DateTime: %s\r\n\r\nContent-Type: message/imdn+xml\r\n"
                       "Content-Disposition: notification\r\nContent-Length: %zu\r\n\r\n",
                    r->id, when, x.len);
        gw_jbuf_put(b, x.p, x.len);
        *ctype = "message/cpim";
    } else {
        char to[256]; /* the original destination, "+49..." when international */
        if (r->from.address == NULL || gw_addr_sip_user(&r->from, to, sizeof to) != 0)
            snprintf(to, sizeof to, "%s", r->from.address ? r->from.address : "?");
        when[10] = ' ';
        when[19] = '\0';
        if (delivered)
            sip_jbuf_printf(b, "Your message to %s was delivered at %s UTC.", to, when);
        else if (strcmp(stat, "EXPIRED") == 0)
            sip_jbuf_printf(b, "Your message to %s expired undelivered at %s UTC.", to, when);
        else
            sip_jbuf_printf(b, "Your message to %s could not be delivered (%s) at %s UTC.", to,
                        sip_report_printable(stat) ? stat : "UNKNOWN", when);
        *ctype = "text/plain;charset=UTF-8";
    }
    if (x.oom || b->oom)
        rc = GW_ENOMEM;
    gw_jbuf_free(&x);
    return rc;
}
