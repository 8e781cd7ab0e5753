/*
 * gw_report.h - delivery reports for senders who asked for them.
 *
 * A message an SMPP customer submitted (source connector "account:<id>")
 * with a receipt request (registered_delivery bits 0-1: 1 = every final
 * outcome, 2 = failures only) owes its sender a report once it is final:
 * a new message from the original destination to the original source,
 * planned to the same "account:<id>" connector, whose envelope says what
 * it reports (env->report: the original id - the message_id the customer
 * got in its submit_sm_resp -, the SMPP 3.4 appendix B state and error)
 * and whose body is the standard receipt text
 *
 *   id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm
 *   stat:DELIVRD err:000 text:<first 20 characters>
 *
 * (dates in UTC).  The store writes it in the transaction that makes the
 * original final (db_writer_set_report_hook), so an outcome is never
 * committed without its report; after the commit it is queued like any
 * message: retried, kept while the customer is not bound, expired after
 * core.validity_s.  Reports on reports are never made; the receipt-wait
 * sweep (no word from the far side) reports only to senders who asked for
 * every outcome.
 *
 * Threads: gw_report_install on the main thread before the writer
 * starts; the hooks run on the writer thread.
 */
#ifndef GW_REPORT_H
#define GW_REPORT_H

#include <stddef.h>

#include "gw_envelope.h"

#define GW_REPORT_CONN_PREFIX "account:" /* the delivery connector of an account */

/* Register the hooks with the store's writer. */
void gw_report_install(void);

/* The receipt text of a report on env into buf (n bytes, NUL-terminated):
 * stat the state, err its code, done_ms when it became final.  Pure. */
void gw_report_text(const gw_envelope_t *env, const char *stat, int err, int64_t done_ms,
                    char *buf, size_t n);

#endif
