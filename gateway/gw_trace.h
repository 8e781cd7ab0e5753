/*
 * gw_trace.h - the trace bus: one message's journey, packet by packet.
 *
 * Adapters offer every SIP packet, SMPP PDU, AMQP publish and HTTP
 * callback request and response in and out;
 * the core offers its routing decisions, every state change (from its one
 * transition function), receipts and message-scoped log lines.  Active traces (started by
 * MI trace.start) keep the records that match their filters in a bounded
 * ring that MI trace.list reads with a cursor (waiting for the next record
 * when asked: a long poll); junctionctl trace and the web console are
 * readers of that ring, and a trace started with a HEP destination also
 * hands each record it keeps to gw_hep.c for a Homer collector.
 *
 * Contents:
 *   gw_trace_rec_t     a record, filled on the caller's stack; every pointer
 *                      is borrowed for the duration of the call
 *   gw_trace_on()      inline: is any trace active?  Callers test it before
 *                      they build a record, so with no trace the cost is one
 *                      relaxed atomic load and a branch, no lock, no
 *                      allocation
 *   gw_trace_record()  match a record against the active traces; copy it
 *                      (raw bytes capped at GW_TRACE_RAW_MAX) into the ring
 *                      of each trace it matches
 *   gw_trace_env()...  records about an envelope or a delivery (route,
 *   gw_trace_state()   state, receipt, log line)
 *   GW_ENV_LOG()       a log line that is also a trace record of its envelope
 *   gw_trace_start / stop / list / read   the MI's side (gw_trace_mi.c)
 *
 * Matching.  A record matches a trace when it continues a journey the trace
 * already follows (its envelope id, Call-ID or SMPP message_id was learned,
 * or it is the SMPP response to a request the trace matched), or else when
 * it passes every filter the trace has: number to/from (a prefix of the
 * record's number field, '+' ignored; a record without number fields is
 * searched for the digits in its raw bytes), envelope id, Call-ID,
 * connector, peer ("ip" or "ip:port"), SMPP system_id (the PDUs of a
 * session bound as it, and the records of envelopes from its connector
 * "account:<system_id>").  A matching record teaches the trace
 * its envelope id, Call-ID, SMPP message_id and request sequence number
 * (small bounded sets, the oldest replaced), so the core's state changes,
 * the outgoing submit_sm, its submit_sm_resp and a delivery receipt that
 * quotes the message_id follow the first packet.
 *
 * Bounds: at most trace.max traces, each with a ring of trace.ring
 * records; a record overwritten before it was read counts as dropped.  A
 * trace nobody polled for trace.idle_s seconds ends by itself.
 * Statistics: trace.offered (records offered while a trace was active),
 * trace.matched (copies kept), trace.dropped (copies overwritten unread),
 * trace.active (traces running).
 *
 * Threads: any.  One mutex (gw_trace_lock, in gw_trace.c) guards the list
 * of traces and everything in them; gw_trace_record holds it while it
 * matches and copies, and never allocates (but for a HEP trace's datagram,
 * gw_hep_offer); it signals gw_trace_cond only when a trace it kept a
 * record for has a reader waiting.  The count of active traces is
 * written under the lock and read by gw_trace_on() without it: a record
 * offered just as a trace starts may be missed, which a trace accepts.
 */
#ifndef GW_TRACE_H
#define GW_TRACE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "gw_delivery.h"
#include "gw_envelope.h"
#include "gw_log.h"
#include "gw_param.h"

#define GW_TRACE_RAW_MAX 512   /* raw bytes kept per record */
#define GW_TRACE_LEARN_MAX 16  /* learned ids of each kind per trace */

typedef enum {
    GW_TRACE_PACKET = 0, /* a SIP packet */
    GW_TRACE_PDU,        /* an SMPP PDU */
    GW_TRACE_PUBLISH,    /* an AMQP publish */
    GW_TRACE_ROUTE,      /* the router's decision */
    GW_TRACE_STATE,      /* a state change (an event) */
    GW_TRACE_LOG,        /* a message-scoped log line */
    GW_TRACE_HTTP,       /* an HTTP request or response (receipt callbacks) */
    GW_TRACE__KINDS
} gw_trace_kind_t;

typedef enum {
    GW_TRACE_NONE = 0, /* internal: routing, states, logs */
    GW_TRACE_IN,
    GW_TRACE_OUT,
} gw_trace_dir_t;

/* One record.  Zero-initialise it and set what applies; NULL strings and
 * zero numbers mean "not known".  Strings are NUL-terminated and longer
 * ones are cut when copied. */
typedef struct gw_trace_rec {
    int64_t time_ms;         /* 0: gw_trace_record takes the time */
    gw_trace_kind_t kind;
    gw_trace_dir_t dir;
    const char *connector;   /* connector or listener name ("sip", "smsc1") */
    const char *peer;        /* "ip:port" of the far side */
    const char *env_id;
    const char *from, *to;   /* addresses as the envelope or PDU holds them */
    const char *call_id;     /* SIP Call-ID */
    const char *system_id;   /* SMPP: the system_id the session is bound as */
    uint32_t smpp_cmd;       /* SMPP command_id (0: not a PDU) */
    uint32_t smpp_seq;
    uint32_t smpp_status;
    const char *smpp_msgid;  /* SMPP message_id */
    uint64_t amqp_tag;       /* AMQP delivery tag */
    const char *summary;     /* one line: a first line, a command, a state */
    const void *raw;         /* the bytes on the wire, raw_len of them */
    size_t raw_len;
} gw_trace_rec_t;

/* Active traces (private; read through gw_trace_on). */
extern int gw_trace_nactive;

/* 1 when at least one trace is active.  Any thread, no lock. */
static inline int gw_trace_on(void)
{
    return __atomic_load_n(&gw_trace_nactive, __ATOMIC_RELAXED) != 0;
}

/* Offer a record to every active trace.  Copies what it keeps; the caller
 * keeps ownership of everything r points to.  Any thread. */
void gw_trace_record(const gw_trace_rec_t *r);

/* 1 when an active trace would keep r as it is (its summary aside, which
 * matching never reads): callers whose summary costs a format test it
 * first and build the summary only then.  The answer may be stale by the
 * time gw_trace_record runs, which matches again.  Any thread. */
int gw_trace_wants(const gw_trace_rec_t *r);

/* A record of kind LOG on connector's decision (peer "ip:port" and
 * call_id may be NULL), its summary printf'd (at most 511 bytes) only
 * when an active trace wants it.  gw_trace_vlogf: the same from a
 * va_list, for an adapter's own wrapper.  Any thread. */
void gw_trace_logf(const char *connector, const char *peer, const char *call_id,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void gw_trace_vlogf(const char *connector, const char *peer, const char *call_id,
                    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* A record about env (kind ROUTE, STATE or LOG) before it has a delivery:
 * its id, numbers, Call-ID, source connector and peer, and summary.  Any
 * thread; callers test gw_trace_on() first. */
void gw_trace_env(const gw_envelope_t *env, gw_trace_kind_t kind, const char *summary);
void gw_trace_envf(const gw_envelope_t *env, gw_trace_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for a delivery: the connector is its current target and the
 * SMPP message_id its remote id.  gw_trace_state: kind STATE, summary
 * "<status>" or "<status>: <detail>".  On the delivery owner's thread. */
void gw_trace_dlvf(const gw_delivery_t *d, gw_trace_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gw_trace_state(const gw_delivery_t *d, const char *detail);
/* kind ROUTE: "rule <route> -> <target>", the plan's targets in order. */
void gw_trace_route(const gw_delivery_t *d);
/* A delivery receipt as the core takes it: from connector, for the message
 * the far side knows as remote_id (the message_id a trace learned from the
 * submit_sm_resp), with its stat ("DELIVRD"). */
void gw_trace_receipt(const char *connector, const char *remote_id, const char *stat);

/* A log line about one message: written to the log as GW_LOG would, and a
 * LOG record of env whatever the log level, so a trace shows the debug
 * lines of its message without turning debug on for everyone. */
#define GW_ENV_LOG(env, mod, lvl, ...)                                      \
    do {                                                                    \
        if (gw_log_enabled((mod), (lvl)))                                   \
            gw_log_write((mod), (lvl), __VA_ARGS__);                        \
        if (gw_trace_on())                                                  \
            gw_trace_envf((env), GW_TRACE_LOG, __VA_ARGS__);                \
    } while (0)
#define GW_ENV_INFO(env, mod, ...) GW_ENV_LOG(env, mod, GW_LOG_INFO, __VA_ARGS__)
#define GW_ENV_DEBUG(env, mod, ...) GW_ENV_LOG(env, mod, GW_LOG_DEBUG, __VA_ARGS__)

const char *gw_trace_kind_name(gw_trace_kind_t k);
const char *gw_trace_dir_name(gw_trace_dir_t d);

/* ---- traces (the MI's side) --------------------------------------------- */

/* What a trace keeps.  Empty strings are unset; at least one must be set. */
typedef struct gw_trace_filter {
    char to[32], from[32];  /* digits, '+' dropped */
    char env_id[GW_ENV_ID_LEN + 1];
    char call_id[128];
    char connector[64];
    char peer[64];
    char system_id[16];     /* SMPP system_id (at most 15 characters) */
    char hep[64];           /* not a filter: "udp:ip:port" of a HEPv3
                               collector each kept record is also sent to */
} gw_trace_filter_t;

/* Parameters (registered by gw_main with the others; runtime changes apply
 * to traces started afterwards). */
extern const gw_param_t gw_trace_params[];

/* Register the statistics and the MI commands.  Main thread, at start-up.
 * 0 or a negative code.  gw_trace_mi_init (gw_trace_mi.c) is its MI half. */
int gw_trace_init(void);
int gw_trace_mi_init(void);

/* Start a trace; returns its id (> 0), GW_EINVAL (no filter, or a hep
 * destination that is not "udp:<ip>:<port>"), GW_EFULL (trace.max traces
 * run) or GW_ENOMEM.  Any thread. */
int gw_trace_start(const gw_trace_filter_t *f);
/* Stop trace id: 0 or GW_ENOTFOUND. */
int gw_trace_stop(int id);
/* Records of trace id with seq >= *cursor, at most limit, as a JSON array
 * (new reference; raw bytes base64 in "raw" when with_raw).  When there is
 * none yet and wait_ms > 0, waits up to wait_ms (capped at
 * GW_TRACE_WAIT_MAX_MS) for the first one, and GW_TRACE_WAIT_BATCH_MS more
 * for the records right behind it, on gw_trace_cond, holding no lock
 * while it waits (a long poll).  Advances *cursor past the last one
 * returned, sets *lost to the records the cursor missed (overwritten) and
 * counts as a poll; a trace with a reader waiting does not idle out.  NULL
 * with *rc = GW_ENOTFOUND (also when the trace is stopped during the wait)
 * or GW_ENOMEM.  Any thread. */
#define GW_TRACE_WAIT_MAX_MS 30000
#define GW_TRACE_WAIT_BATCH_MS 5 /* after the first record, for the rest of its burst */
json_t *gw_trace_read(int id, uint64_t *cursor, size_t limit, int with_raw, int wait_ms,
                      uint64_t *lost, int *rc);
/* The active traces: [{id, filter, records, dropped, idle_ms, waiting}]
 * (waiting: readers in a long poll now).  New reference or NULL. */
json_t *gw_trace_list(void);
/* End every trace (shutdown, tests) and wake the readers waiting in
 * gw_trace_read, so a shutdown does not wait for their long polls.  Any
 * thread. */
void gw_trace_stop_all(void);

#endif
