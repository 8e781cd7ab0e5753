/*
 * gw_report_sip.h - delivery reports for SIP senders who asked for them.
 *
 * A SIP MESSAGE asks for the outcome with IMDN (a CPIM body with
 * imdn.Disposition-Notification, RFC 5438) or with X-SMS-Receipt /
 * X-SMS-Registered-Delivery (docs/sip-sms-headers.md).  The SIP adapter
 * records the request on the envelope as tags (below): the form of the
 * report, which outcomes, and where it goes.  gw_report.c asks this file
 * whether a final change owes such a report and, if so, has it fill the
 * report envelope: the tags the SIP side needs, planned to the reply
 * connector "sip:reply" (adapters/sip/sip_conn.c), which writes it as
 * IMDN or text (adapters/sip/sip_report.c).  Like every report it is
 * stored in the transaction of the final change and retried from the
 * core queue until the sender's UA answers 2xx or it expires.
 *
 * Only envelopes whose source adapter is "sip" are considered, so tags
 * set by a rule or an AMQP publisher cannot aim reports anywhere.
 *
 * Threads: any (pure functions of the envelopes).
 */
#ifndef GW_REPORT_SIP_H
#define GW_REPORT_SIP_H

#include "gw_envelope.h"

#define GW_REPORT_SIP_CONN "sip:reply" /* the implicit reply connector */

/* Tags on a SIP sender's message that asked for a report (and copied onto
 * the report).  Checklist for a new one: here, gw_report_sip_fill's list,
 * adapters/sip/sip.h's SIP_TAG_* alias and docs/sip-sms-headers.md. */
#define GW_RPT_TAG_FORM "sip.report"       /* "imdn" or "text" */
#define GW_RPT_TAG_ON "sip.report_on"      /* "all", "failure", "success" */
#define GW_RPT_TAG_REPLY_TO "sip.reply_to" /* "ip:port" of the sender */
#define GW_RPT_TAG_REPLY_URI "sip.reply_uri" /* the sender's From URI */
#define GW_RPT_TAG_IMDN_ID "sip.imdn_id"   /* the sender's imdn.Message-ID */

/* 1 when env is a SIP sender's message that asked for a report. */
int gw_report_sip_asked(const gw_envelope_t *env);
/* 1 when it asked for a report of st (wait: the receipt-wait sweep, no
 * word from the far side: reported only to senders of "all"). */
int gw_report_sip_wanted(const gw_envelope_t *env, gw_status_t st, int wait);
/* 1 when a stored row (its source connector and envelope JSON) may be
 * one: a cheap test before the row is parsed. */
int gw_report_sip_maybe(const char *source_connector, const char *env_json);
/* The report r on env gets the tags the SIP reply needs.  0 or GW_ENOMEM. */
int gw_report_sip_fill(gw_envelope_t *r, const gw_envelope_t *env);

#endif
