/*
 * gw_core_int.h - what gw_core.c offers the connector queues (gw_cq.c), the
 * delivery reports (gw_report.c) and cancels (gw_cancel.c), and nothing
 * else sees.  Each takes d over and is one transition.
 *
 *   gw_core_begin_send  queued -> sending; once that is committed, d goes
 *                       to its connector's send(); d->counted is settled
 *                       once its outcome is queued for the store
 *   gw_core_expire      queued -> expired (validity passed)
 *   gw_core_move        queued -> queued on the plan's next target (why:
 *                       the reason, for the event); the caller checked
 *                       that there is one
 *   gw_core_send_direct sending (stored so) -> the connector's send()
 *   gw_core_cancel_one  queued -> failed, reason "cancelled", event
 *                       message.cancelled (detail); then(arg) runs on the
 *                       writer thread after the commit.  0: d is freed;
 *                       an error: nothing changed, d stays the caller's
 *                       (gw_cancel.c, for a delivery gw_cq_withdraw took)
 *   gw_core_cancel_stored  the same for a delivery read from the store (a
 *                       message no queue holds): the row changes only if
 *                       it is still queued; then(arg, rc) with rc 0, or
 *                       GW_ENOTFOUND when it was not (nothing written,
 *                       nothing counted).  0: d is freed; an error: d
 *                       stays the caller's
 *
 * Threads: the core thread; gw_core_send_direct any thread.
 */
#ifndef GW_CORE_INT_H
#define GW_CORE_INT_H

#include "../db/db.h"
#include "gw_delivery.h"

int gw_core_begin_send(gw_delivery_t *d);
/* A delivery stored as sending with a place reserved in its queue
 * (d->counted, gw_cq_reserve) is handed to its connector now: the direct
 * path of a new message or a delivery report.  Any thread. */
void gw_core_send_direct(gw_delivery_t *d);
void gw_core_expire(gw_delivery_t *d);
void gw_core_move(gw_delivery_t *d, const char *why);
int gw_core_cancel_one(gw_delivery_t *d, const char *detail, db_commit_cb_t then, void *arg);
int gw_core_cancel_stored(gw_delivery_t *d, const char *detail, db_commit_cb_t then, void *arg);

#endif
