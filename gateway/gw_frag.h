/*
 * gw_frag.h - long messages that arrive in parts, made whole again.
 *
 * An adapter that receives one part of a long message (an SMSC's MO in
 * UDH or SAR parts) hands it here instead of to gw_core_accept.  Each
 * part is stored (db_frag_add) before the adapter answers its peer, so a
 * restart loses none; a part sent again is recognised and only answered.
 * The part that completes its set has the parts assembled into one
 * envelope - the bodies in order, tag "parts" = "<received>/<total>" -
 * which is then routed and delivered like any message; its insert marks
 * the parts done in the same transaction, so the whole is stored exactly
 * once.  A set still missing parts after core.reassembly_timeout_s is
 * assembled from what arrived with "[...]" for each missing part
 * (core.reassembly_incomplete = "deliver", the default) or dropped,
 * logged and counted ("fail").
 *
 * The same path serves an SMPP customer's own long message when its route
 * cannot carry parts (gw_frag_keep): an SMPP target keeps the customer's
 * reference, total and number (smpp_out.c), any other (SIP, AMQP) gets
 * the whole text once.  The whole message takes the id of its
 * lowest-numbered part received - the message_id that part's
 * submit_sm_resp gave the customer -, so its one delivery report, and a
 * query_sm, speak of an id the customer knows (docs/delivery.md).
 *
 * Threads: gw_frag_add from any thread; gw_frag_tick on the core thread;
 * the rest runs on the store's writer thread after commits.
 */
#ifndef GW_FRAG_H
#define GW_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "gw_core.h"
#include "gw_envelope.h"

#define GW_FRAG_KEY_MAX 160 /* a set's key, with its NUL (db.h: DB_FRAG_KEY_MAX) */

/* When env is one part of a long message (tag "concat" = ref/total/seq,
 * total >= 2): 1, its set's key (from source connector, addresses,
 * reference and total) into key (n bytes), and its seq / total.  Else 0. */
int gw_frag_part_of(const gw_envelope_t *env, char *key, size_t n, int *seq, int *total);

/* Should env, one part of a customer's long message (gw_frag_part_of),
 * travel as a message of its own?  1 when the first target its route
 * picks now is an SMPP connector (parts carried as they came), and when
 * the router refuses, drops or finds no route (the part is answered as a
 * whole message would be), or names no connector configured now (the
 * parts wait as they came, as before); 0 when that target cannot carry
 * parts (SIP, AMQP, ...): join it through gw_frag_add.  The decision is traced and
 * a join counted (core.parts_joined_for_target).  Any thread; a dry run
 * of the router (no token taken, no round-robin step). */
int gw_frag_keep(const gw_envelope_t *env, int seq, int total);

/* Store part seq of total of set key (env's content); cb(arg, rc) runs on
 * the writer thread after the commit: 0 stored (or a duplicate), or < 0
 * (not stored: the peer should send it again).  Returns 0, or an error
 * (cb never runs).  The caller keeps its reference of env. */
int gw_frag_add(const gw_envelope_t *env, const char *key, int seq, int total, gw_ack_cb_t cb,
                void *arg);

/* Core thread, from the sweep: offer timed-out sets (once a second). */
void gw_frag_tick(int64_t now_ms);

void gw_frag_init(void);

#endif
