/*
 * gw_report_http.h - receipt callbacks: the outcome of a message POSTed to
 * the URL its sender gave (the HTTP send API's callback_url, MI
 * messages.inject's; Kannel's dlr-url, Jasmin's dlr-url).
 *
 * messages.inject checks the URL (gw_report_http_url_check) and keeps it
 * on the envelope as the tag callback_url; the insert stores the stub
 * GW_REPORT_HTTP_STUB in the row's sender column, so the store's writer
 * knows the row owes a callback without parsing every row's envelope.
 * When the message becomes final (delivered, failed, expired: the states
 * gw_report.c reports to SMPP customers), gw_report.c makes, in the
 * transaction of that change, a report message planned to the implicit
 * connector "http:callback" (adapters/http/), whose body is the JSON
 * document gw_report_http_body writes and whose tag callback_url says
 * where it goes.  The HTTP adapter POSTs it; the core queues and retries
 * it (core.retry_*, core.max_attempts, core.validity_s) like any message,
 * so a receiver that is away gets it when it is back, and a restart loses
 * nothing (it is a stored message).
 *
 * Kannel's form (sendsms dlr-url, or messages.inject with callback_form
 * "kannel"): the URL is a template whose %-escapes are expanded when the
 * report is made (gw_report_http_kannel_url) and requested with GET, no
 * body; callback_mask (Kannel's dlr-mask: 1 delivered, 2 failed, 16
 * refused by the SMSC) says which outcomes are wanted, in either form.
 *
 * Only envelopes whose source adapter is "mi" (the MI and the HTTP API)
 * are considered: a tag callback_url on a message from SIP, SMPP or AMQP
 * aims no callback anywhere.  A routing rule may set the tag (set.tags)
 * on the MI's messages; that URL was never checked here, and one evhttp
 * cannot parse fails its callback (adapters/http/http_client.c).
 *
 * Threads: any (pure functions of their arguments).
 */
#ifndef GW_REPORT_HTTP_H
#define GW_REPORT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "gw_envelope.h"

#define GW_REPORT_HTTP_CONN "http:callback" /* the implicit callback connector */
#define GW_REPORT_HTTP_TAG "callback_url"   /* the URL, on the message and its report */
#define GW_REPORT_HTTP_STUB "cb"            /* the sender column of a row that owes one */
#define GW_REPORT_HTTP_TAG_FORM "callback_form"     /* "json" (absent) or "kannel" */
#define GW_REPORT_HTTP_TAG_MASK "callback_mask"     /* Kannel's dlr-mask bits, "1".."31" */
#define GW_REPORT_HTTP_TAG_METHOD "callback_method" /* on the report: "GET" for Kannel's */
#define GW_REPORT_HTTP_URL_MAX 1024

/* Is url a callback URL junction can POST to: http:// or https://, a host
 * (name, IPv4 or [IPv6]), an optional port 1-65535, no user part, at most
 * GW_REPORT_HTTP_URL_MAX bytes of printable ASCII?  0, or GW_EINVAL with
 * the reason in err (n bytes).  Pure. */
int gw_report_http_url_check(const char *url, char *err, size_t n);

/* 1 when env is a message (not a report) whose sender gave a callback URL. */
int gw_report_http_asked(const gw_envelope_t *env);
/* 1 when its final status st (with the receipt's stat, NULL when none)
 * owes a callback: delivered, failed, expired, and in its callback_mask. */
int gw_report_http_wanted(const gw_envelope_t *env, gw_status_t st, const char *stat);
/* Kannel's DLR type of an outcome (its %d): 1 delivered, 16 a failure
 * without receipt (the SMSC refused it), else 2. */
int gw_report_http_kannel_type(gw_status_t st, const char *stat);
/* 1 when a stored row's sender column (the stub) says it owes one. */
int gw_report_http_maybe(const char *sender);

/* What a callback reports; strings borrowed, NULL when unknown. */
typedef struct gw_report_http_info {
    const char *id;         /* the message's id (the API's accepted[].id) */
    const char *client_ref; /* the sender's reference */
    const char *from, *to;  /* the message's addresses */
    gw_status_t status;     /* its final status */
    const char *reason;     /* why, when not delivered (the store's reason text) */
    int error;              /* the far side's error code, or junction's reason code */
    const char *stat;       /* the receipt's state (DELIVRD, UNDELIV, ...): NULL, no receipt */
    const char *remote_id;  /* the id the far side gave it */
    int64_t at_ms;          /* when it became final */
    const char *smsc;       /* the connector it went to (Kannel's %i) */
    const char *text;       /* the receipt text (Kannel's %A) */
} gw_report_http_info_t;

/* The callback's JSON document (docs/http-api.md, "Receipt callbacks"):
 * malloc'd, the caller frees; NULL for out of memory.  Pure. */
char *gw_report_http_body(const gw_report_http_info_t *in);

/* Kannel's dlr-url template tmpl with its escapes expanded for in, each
 * value %-encoded: %d the DLR type (gw_report_http_kannel_type), %A the
 * receipt text, %I the message id, %F the remote id, %i the connector,
 * %p the message's destination, %P its source, %t the time it became
 * final ("YYYY-MM-DD hh:mm:ss" UTC), %T the same as a unix time, %% a
 * '%'; '%' and a digit is kept (the URL's own %-encoding, as %20); any
 * other letter is empty (Kannel's escapes junction has no value for, such
 * as %b or %n).  A new string the caller frees, NULL for out of
 * memory or past GW_REPORT_HTTP_URL_MAX * 2 bytes.  Pure. */
char *gw_report_http_kannel_url(const char *tmpl, const gw_report_http_info_t *in);

/* "message.<status>": the X-Junction-Event header of a callback. */
const char *gw_report_http_event(gw_status_t st);

/* The report r on env becomes a callback: its tag callback_url, the body
 * of in as JSON (content type application/json); in Kannel's form the
 * expanded URL, method GET, no body.  0 or GW_ENOMEM. */
int gw_report_http_fill(gw_envelope_t *r, const gw_envelope_t *env,
                        const gw_report_http_info_t *in);

#endif
