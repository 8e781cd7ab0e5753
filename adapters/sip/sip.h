/*
 * sip.h - private header of the SIP adapter (adapters/sip/).
 *
 * Table of contents:
 *   sip_sms.c      pure: the SMS details a MESSAGE carries in (a CPIM body
 *                  with an IMDN request, the X-SMS-* headers).
 *   sip_report.c   pure: what a MESSAGE carries out (X-SMS-* headers, a
 *                  delivery report as IMDN in CPIM or as text).
 *   sip_message.c  pure helpers on SIP text and parsed messages: URIs as
 *                  addresses (rules in gw_addr.h), UTF-8 check, request
 *                  checks, response and MESSAGE building, TCP framing.  No
 *                  I/O, no state.
 *   sip_view.c     pure: the byte-offset view of one received message
 *   sip_view_get.c (parse, accessors) and its forwarding edits
 *   sip_view_edit.c (sip_view_edit.c), with their own header sip_view.h
 *                  (no libosip2, no allocation): the proxy's message
 *                  layer (sip_proxy*.c forward with its edits).
 *   sip_txn.c      the server transaction table (retransmission dedupe,
 *                  RFC 3261 section 17.2.2), bounded in size; one for the
 *                  pool, in shards behind a lock each.
 *   sip_addr.c     pure: IPv4 / IPv6 transport addresses (sip_sa_t) in
 *                  their text forms, a binding's source "udp:ip:port".
 *   sip_transport.c worker threads: one event_base and one SO_REUSEPORT UDP
 *                  socket per address family each, steered by a classic
 *                  BPF program; the transports' ops table and
 *                  sip_worker_send; the cross-thread work queues; growing
 *                  and retiring workers.
 *   sip_tcp.c      SIP over TCP and TLS: the listeners, the connection
 *                  table shared by every worker (sharded, locked),
 *                  connections spread over the workers, outgoing ones,
 *                  their limits and deadlines, MI sip.connections.list.
 *   sip_tls.c      the OpenSSL contexts (sip.tls_*) and the bufferevent
 *                  of a TLS connection.
 *   sip_scale.c    the load profile: each worker's busy % per cycle, the
 *                  decisions to grow or shrink the pool, MI sip.workers.
 *   sip_uas.c      inbound requests: MESSAGE -> envelope -> gw_core_accept,
 *                  OPTIONS, 4xx/5xx answers, the 202 after the commit.
 *   sip_uac.c      outbound MESSAGE for "sip" connectors: non-INVITE client
 *                  transactions with Timer E / Timer F, outcomes to the core.
 *   sip_conn.c     connectors of type "sip": conf check, open/close, send()
 *                  (queues to a worker), status.
 *   sip_auth.c     digest authentication of MESSAGEs and proxied requests
 *                  from untrusted peers (407 challenges, or 401 for a UAS;
 *                  checks against gw_sip_users.h) over the
 *                  pure RFC 7616 code of sip_digest.c (sip_digest.h).
 *   sip_flood.c    per-source request rate limits and the ban list, own
 *                  header sip_flood.h: every packet before it is parsed.
 *   sip_proxy*.c   the stateful proxy (RFC 3261 section 16), own header
 *                  sip_proxy.h: requests sip_uas.c does not answer itself.
 *   sip_dialog*.c  the proxy's dialogs of record-routed calls, their CDR
 *                  events and MI, own header sip_dialog.h.
 *   sip_trunk*.c   SIP trunks, own header sip_trunk.h: the connector type
 *                  sip_trunk (a second gw_adapter_t), OPTIONS probing, the
 *                  proxy's rule-engine query for requests it has no target for.
 *   sip_natping.c  NAT: a binding flagged nat at its REGISTER, OPTIONS
 *                  keep-alive pings to NATed bindings' sources, the
 *                  unreachable ones removed.
 *   sip_adapter.c  the exported gw_adapter_t, parameters, lifecycle, MI.
 *
 * Threads: a worker owns everything reachable from its sip_worker_t except
 * its queue (gw_queue_t is the thread-safe door).  The main thread runs
 * init/start/stop/destroy and the connector callbacks.
 */
#ifndef SIP_H
#define SIP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <osipparser2/osip_parser.h>

#include "gw_delivery.h"
#include "gw_jbuf.h"
#include "gw_mi.h"
#include "gw_queue.h"
#include "gw_report_sip.h"
#include "gw_stats.h"
#include "gw_trace.h"

#define SIP_LOG "sip"
#define SIP_MAX_WORKERS 64
#define SIP_TXN_SHARDS 32        /* the pool's server transaction table (sip_txns_*) */
#define SIP_TXN_SHARD_CAP 512    /* entries per shard: 16384 for the pool */
#define SIP_TXN_LINGER_MS 32000  /* Timer J: 64 * T1 */
#define SIP_T2_MS 4000
#define SIP_BRANCH_PREFIX "z9hG4bK-jn" /* then "<worker>-<random hex>" */
/* MESSAGEs queued or in a client transaction per connector; beyond it
 * send() answers GW_EFULL and the core offers the envelope again later,
 * so a target that stops answering (or a start-up recovery of a long
 * queue) cannot grow the worker queues and timers without bound. */
#define SIP_CONN_MAX_INFLIGHT 1024

/* ---- parameters (sip_adapter.c) ---- */
typedef struct sip_conf {
    char listen[64];      /* sip.listen: IPv4 or IPv6 address */
    char listen6[64];     /* sip.listen6: a second (IPv6) address, "" = none */
    int port;
    int workers;
    int workers_min;      /* sip.workers_min / _max: 0 and 0: a fixed pool */
    int workers_max;
    int scale_up_pct;     /* runtime: read atomically by the scaler */
    int scale_up_cycles;
    int scale_down_pct;
    int scale_down_cycles;
    int scale_cycle_ms;
    int tcp;
    int tcp_max_conns;    /* sip.tcp_max_conns: open connections, all workers */
    int tcp_max_per_ip;   /* sip.tcp_max_per_ip: from one remote address */
    int tcp_header_timeout_ms; /* runtime: a message's headers must complete in this */
    int tcp_idle_s;       /* sip.tcp_idle_s: a silent connection is closed */
    int tcp_max_out;      /* sip.tcp_max_out: bytes unsent before a connection is closed */
    int tls_port;         /* sip.tls_port: 0 = no TLS listener */
    char tls_cert[256];   /* sip.tls_cert / sip.tls_key: PEM files of the listener */
    char tls_key[256];
    int tls_verify;       /* sip.tls_verify: outgoing TLS checks the peer */
    char tls_ca[256];     /* sip.tls_ca: CA file for that ("" = the system's) */
    int max_message;
    int udp_rcvbuf;       /* sip.udp_rcvbuf: SO_RCVBUF of each UDP socket, 0: the system's */
    char reports[8];      /* sip.reports: none, auto, imdn, text */
    char reports_to[8];   /* sip.reports_to: source, from */
    int report_form;      /* SIP_REPORTS_*, from reports (init) */
    int report_to_from;   /* 1: reports_to is "from" (init) */
    char domains[512];    /* sip.domains: the registrar's local domains, "" = any */
    int default_expires;  /* the registrar's bounds (sip_registrar.c); runtime */
    int min_expires;
    int max_expires;
    int max_contacts;
    char realm[128];      /* sip.realm: "" for the host's name (sip_auth_realm_name) */
    int nonce_ttl_s;      /* runtime: read atomically */
    int auth;             /* sip.auth, runtime: read atomically; 0: untrusted is 403 */
    char auth_algorithms[24]; /* sip.auth_algorithms: offered in this order (init) */
    int nat_detect;       /* sip.nat_detect, runtime: flag bindings behind a NAT */
    int nat_ping_interval_s; /* sip.nat_ping_interval_s, runtime: 0 = no OPTIONS pings */
    int nat_ping_all;     /* sip.nat_ping_all, runtime: ping every binding, not only NATed */
    int nat_ping_fails;   /* sip.nat_ping_fails, runtime: unanswered in a row -> removed; 0 never */
} sip_conf_t;
#define SIP_REPORTS_NONE 0
#define SIP_REPORTS_AUTO 1
#define SIP_REPORTS_IMDN 2
#define SIP_REPORTS_TEXT 3
extern sip_conf_t sip_conf;

/* ---- statistics (sip_adapter.c), resolved once in init ---- */
typedef struct sip_stats {
    gw_stat_t *rx_requests, *rx_responses, *rx_message, *rx_retrans;
    gw_stat_t *tx_202, *tx_2xx, *tx_4xx, *tx_5xx, *drops;
    gw_stat_t *tx_message, *tx_retrans, *uac_2xx, *uac_failed, *uac_retry;
    gw_stat_t *tcp_conns, *tls_conns, *tcp_refused, *tcp_limit_closed;
    gw_stat_t *rx_cpim, *rx_report_req, *rx_refused_sms, *tx_report;
    gw_stat_t *rx_untrusted;
    gw_stat_t *scale_ups, *scale_downs;
    gw_stat_t *auth_challenges, *auth_ok, *auth_failed, *auth_stale, *auth_replays;
    gw_stat_t *keepalives, *oversized, *nat_pings_sent, *nat_pings_ok, *nat_pings_failed;
} sip_stats_t;
extern sip_stats_t sip_stats;

/* ---- sip_message.c: pure helpers ---- */

/* Set up libosip2's global parser tables and silence its tracing.  Call
 * once before any thread parses; parsing is then thread-safe (the tables
 * are only read).  0 or GW_ERROR. */
int sip_osip_init(void);

/* A sip:, sips: or tel: URI (libosip2 parses tel: too, keeping the number
 * in uri->string) as an address by gw_addr_normalise's rules: a number in
 * the user part (or the tel: number) is that number, else the URI.
 * addr->address is replaced by a malloc'd copy (freed with the envelope).
 * Returns 0, GW_EDECLINED (another scheme: 416), GW_EINVAL (no usable
 * address: 400) or GW_ENOMEM. */
int sip_addr_from_uri(const osip_uri_t *uri, gw_addr_t *addr);
/* 1 when s (n bytes) is well-formed UTF-8 (RFC 3629) without NUL. */
int sip_utf8_valid(const char *s, size_t n);
/* 1 when buf starts with something shaped like a SIP request line
 * ("TOKEN SP uri SP SIP/2.0"), 2 when it looks like a status line. */
int sip_looks_like_sip(const char *buf, size_t n);
/* 1 when a datagram is a keep-alive rather than a message: only CR and
 * LF (RFC 5626 4.4.1's CRLF ping, a lone CRLF), or a 4-byte ping of zero
 * or 0xff octets as some phones send; ignored, never answered. */
int sip_is_keepalive(const char *buf, size_t n);
/* Text that sip_looks_like_sip refuses but whose first line is meant as
 * a request line (a method, a URI, "SIP/x.y" at the end) broken by LWS
 * in the URI, extra or trailing whitespace (RFC 4475 3.1.2.7 - 3.1.2.10)
 * or another version (3.1.2.16): 400 or 505 with *reason set; 0 when it
 * is no request at all. */
int sip_bad_request_line(const char *buf, size_t n, const char **reason);
/* Check a parsed request: mandatory headers, Max-Forwards, CSeq method.
 * Returns 0 or the SIP status to answer (400, 483) with *reason set to a
 * static phrase. */
int sip_check_request(const osip_message_t *req, const char **reason);
/* The text/plain body check for MESSAGE: 0, 415 (not text/plain UTF-8) or
 * 400 (bad UTF-8); *reason set to a static phrase. */
int sip_check_text_body(const osip_message_t *req, const char **body, size_t *len,
                        const char **reason);
/* A response to req: all Via (the top one gets received= and rport= when
 * src_ip is given and the request asked for rport), From, To (with
 * to_tag added when it has none), Call-ID, CSeq (those present), Server,
 * Content-Length 0,
 * plus extra (whole header lines with CRLF, may be NULL).  Returns a
 * malloc'd text (caller frees) with its length in *len, or NULL. */
char *sip_build_response(osip_message_t *req, int status, const char *reason,
                         const char *to_tag, const char *src_ip, int src_port,
                         const char *extra, size_t *len);
/* The header block of a response to the request text buf[0..n), appended
 * to b: every Via, From, To, Call-ID and CSeq line as received, the top
 * Via stamped as sip_build_response does, the To given ";tag=" to_tag
 * unless to_tag is NULL (the request's To has a tag).  0, or -1 (b as it
 * was) when the text has no Via with a sent-by: use sip_build_response.
 * sip_resp.c. */
int sip_resp_headers(const char *buf, size_t n, const char *to_tag, const char *src_ip,
                     int src_port, gw_jbuf_t *b);
/* The same built from raw text that osip could not parse: copies the Via,
 * From, To, Call-ID and CSeq lines as they are.  NULL when there is no Via
 * (nothing to answer to). */
char *sip_build_raw_response(const char *buf, size_t n, int status, const char *reason,
                             size_t *len);
/* Server transaction key of req: top Via branch when it has the RFC 3261
 * magic cookie, else Call-ID + CSeq + From tag; plus the CSeq method.
 * Writes into key (size keylen); returns 0 or GW_EINVAL when too long. */
int sip_txn_key(const osip_message_t *req, char *key, size_t keylen);
/* Stream framing: length of the first complete message in buf, 0 when more
 * bytes are needed, GW_EINVAL when the header is bad or the message would
 * exceed max. */
long sip_frame_length(const char *buf, size_t n, size_t max);
/* printf into b at any length (b->oom set when it cannot grow). */
void sip_jbuf_printf(gw_jbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Random lower-case hex into out (2 * nbytes + 1 bytes). */
void sip_random_hex(char *out, size_t nbytes);

/* ---- sip_sms.c: SMS details of an incoming MESSAGE ---- */
#define SIP_DN_POSITIVE 1u /* the sender wants to hear of a delivery */
#define SIP_DN_NEGATIVE 2u /* ... of a failure (undelivered, expired) */
#define SIP_IMDN_ID_MAX 128

typedef struct sip_sms {
    int coding;       /* -1: not given; 0 (gsm: GSM 03.38 when it fits), 8 (ucs2) */
    int validity_s;   /* -1: not given; 1 .. 30 days */
    int rd;           /* -1: not given; X-SMS-Registered-Delivery 0..2 (X-SMS-Receipt: 1 / 0) */
    int cpim;         /* 1: the body was CPIM, unwrapped to its text */
    int imdn;         /* 1: a CPIM body with an imdn.Message-ID */
    unsigned dn;      /* SIP_DN_* the sender asked for (IMDN dispositions or a header) */
    char imdn_id[SIP_IMDN_ID_MAX]; /* printable ASCII */
    const char *text; /* the text (points into the request's body) */
    size_t text_len;
} sip_sms_t;

/* Read a MESSAGE's body (text/plain, or message/cpim wrapping text/plain)
 * and its X-SMS-* headers into s.  0, or the status to answer (400, 415)
 * with *reason a static phrase naming what is wrong. */
int sip_sms_read(const osip_message_t *req, sip_sms_t *s, const char **reason);
/* SIP_REPORTS_* of a setting's text ("none", "auto", "imdn", "text"), or
 * -1 (also for NULL). */
int sip_reports_form(const char *s);
/* The two halves, for tests and the fuzz target: a CPIM body buf[0..n)
 * and the headers (s set up by the caller: coding/validity_s/rd -1). */
int sip_cpim_parse(const char *buf, size_t n, sip_sms_t *s, const char **reason);
int sip_sms_headers(const osip_message_t *req, sip_sms_t *s, const char **reason);

/* ---- sip_report.c: SMS details and reports going out ---- */
/* Envelope tags the SIP adapter writes on a message whose sender asked
 * for a report, read by gateway/gw_report_sip.c (which copies them onto
 * the report) and by the reply connector. */
#define SIP_TAG_REPORT GW_RPT_TAG_FORM
#define SIP_TAG_REPORT_ON GW_RPT_TAG_ON
#define SIP_TAG_REPLY_TO GW_RPT_TAG_REPLY_TO
#define SIP_TAG_REPLY_URI GW_RPT_TAG_REPLY_URI
#define SIP_TAG_IMDN_ID GW_RPT_TAG_IMDN_ID

/* The X-SMS-* header lines of env as a MESSAGE (CRLF each) appended to b:
 * an MO's X-SMS-Coding, X-SMS-Message-Id, X-SMS-Source-TON/-NPI; a
 * report's X-SMS-Status and X-SMS-Message-Id (the id it reports on). */
void sip_report_headers(const gw_envelope_t *env, gw_jbuf_t *b);
/* The body of report r as a MESSAGE: IMDN (tag sip.report "imdn": a
 * message/cpim wrapping message/imdn+xml, RFC 5438 7.2) or text/plain.
 * from_uri / to_uri are the MESSAGE's From and To.  Appends to b and
 * sets *ctype (static).  0 or GW_ENOMEM. */
int sip_report_body(const gw_envelope_t *r, const char *from_uri, const char *to_uri,
                    gw_jbuf_t *b, const char **ctype);

/* ---- sip_txn.c: server transaction table ---- */
typedef struct sip_txn_table sip_txn_table_t;
typedef enum { SIP_TXN_NEW = 0, SIP_TXN_PENDING, SIP_TXN_FINAL } sip_txn_state_t;

sip_txn_table_t *sip_txn_table_new(size_t cap);
void sip_txn_table_free(sip_txn_table_t *t);
/* Look key up at time now_ms.  Absent (or expired): inserts a pending entry
 * and returns SIP_TXN_NEW.  Pending: SIP_TXN_PENDING.  Final: SIP_TXN_FINAL
 * with the stored response in *resp / *resp_len (owned by the table, valid
 * until the next call).  SIP_TXN_NEW also when allocation failed (no dedupe
 * then, but the request is still served). */
sip_txn_state_t sip_txn_lookup(sip_txn_table_t *t, const char *key, int64_t now_ms,
                               const char **resp, size_t *resp_len);
/* Record the final response of key (copied), kept until now + linger. */
void sip_txn_final(sip_txn_table_t *t, const char *key, const char *resp, size_t len,
                   int64_t now_ms);
size_t sip_txn_count(const sip_txn_table_t *t);
/* The pool's table (SIP_TXN_SHARDS tables behind a mutex each; any
 * worker).  sip_txns_init: 0 or GW_ENOMEM (main thread, before the
 * workers run); sip_txns_free after they were joined.  sip_txns_lookup is
 * sip_txn_lookup with the stored response copied: *resp is malloc'd (the
 * caller frees) when it returns SIP_TXN_FINAL, else NULL. */
int sip_txns_init(void);
void sip_txns_free(void);
sip_txn_state_t sip_txns_lookup(const char *key, int64_t now_ms, char **resp, size_t *resp_len);
void sip_txns_final(const char *key, const char *resp, size_t len, int64_t now_ms);
size_t sip_txns_count(void);

/* ---- sip_addr.c: pure, transport addresses (IPv4 and IPv6) ---- */
#define SIP_PROTO_UDP 0
#define SIP_PROTO_TCP 1
#define SIP_PROTO_TLS 2
#define SIP_ADDR_MAX 64 /* "[" IPv6 "]:65535" and a NUL fit */
typedef union sip_sa {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
} sip_sa_t;
/* "udp", "tcp", "tls" (lower case, static); sip_proto_from_name: the
 * SIP_PROTO_* of a name (any case, n bytes) or -1. */
const char *sip_proto_name(int proto);
int sip_proto_from_name(const char *s, size_t n);
socklen_t sip_sa_len(const sip_sa_t *a); /* for sendto / bind / connect */
int sip_sa_port(const sip_sa_t *a);
void sip_sa_set_port(sip_sa_t *a, int port);
/* The forms of a's address, written into out (n bytes; returns out):
 * ip "1.2.3.4" / "::1" (received=, trusted networks); host "1.2.3.4" /
 * "[::1]" (Via, Record-Route, URIs: RFC 3261 25.1); str "1.2.3.4:5060" /
 * "[::1]:5060" (logs, traces, MI). */
const char *sip_sa_ip(const sip_sa_t *a, char *out, size_t n);
const char *sip_sa_host(const sip_sa_t *a, char *out, size_t n);
const char *sip_sa_str(const sip_sa_t *a, char *out, size_t n);
/* 1 when a and b are the same family, address and port (sip_sa_same_ip:
 * without the port); else 0. */
int sip_sa_equal(const sip_sa_t *a, const sip_sa_t *b);
int sip_sa_same_ip(const sip_sa_t *a, const sip_sa_t *b);
/* An IP literal host[0..len) ("1.2.3.4", "::1" or "[::1]") with port
 * into out: 0, or -1 (no literal: a name needs DNS). */
int sip_sa_from_host(const char *host, size_t len, int port, sip_sa_t *out);
/* "1.2.3.4:5060" or "[::1]:5060" into out: 0 or -1. */
int sip_sa_parse(const char *s, sip_sa_t *out);
/* A binding's source "udp:1.2.3.4:5060" / "tcp:[::1]:5070": 0 with
 * *proto and out set, or -1. */
int sip_source_parse(const char *s, int *proto, sip_sa_t *out);
const char *sip_source_format(int proto, const sip_sa_t *a, char *out, size_t n);
/* An address as text ("1.2.3.4", "::1") in its host form ("[::1]"). */
const char *sip_host_of_ip(const char *ip, char *out, size_t n);

/* ---- sip_transport.c: workers ---- */
typedef struct sip_worker sip_worker_t;

/* Where a request came from and where its answer goes: the address, and
 * for a stream the connection it came on (sip_tcp.c's table; ids never
 * repeat, so a late answer for a closed connection is dropped). */
typedef struct sip_peer {
    sip_sa_t addr;
    uint64_t conn_id; /* 0 = UDP, else a TCP connection (sip_tcp.c) */
    int proto;        /* SIP_PROTO_*: the transport it came on / goes on */
} sip_peer_t;

typedef enum {
    SIP_ITEM_REPLY = 1, /* a pending MESSAGE got its store outcome */
    SIP_ITEM_SEND,      /* an envelope to send on a connector */
    SIP_ITEM_RESPONSE,  /* a response for one of this worker's client txns */
    SIP_ITEM_STOP,      /* shutdown: linger for TCP, leave the loop */
    SIP_ITEM_RETIRE,    /* the scaler's last word to a drained retiring worker */
    SIP_ITEM_CALL,      /* run fn(worker, item) on the worker (a registrar's answer) */
} sip_item_kind_t;

typedef struct sip_conn sip_conn_t; /* connector state, sip_uac.c */

/* One unit of cross-thread work; owned by the queue until popped. */
typedef struct sip_item {
    sip_item_kind_t kind;
    sip_worker_t *worker;
    /* REPLY */
    osip_message_t *req;     /* NULL when resp_hdrs holds what the answer needs */
    sip_peer_t peer;         /* the request's source; with resp_hdrs, where the answer goes */
    char *resp_hdrs;         /* the answer's header block (sip_resp_headers), or NULL */
    size_t resp_hdrs_len;
    char *txn_key;
    char to_tag[17];
    int rc;
    int64_t rx_us;           /* when the MESSAGE came (gw_stats_now_us) */
    /* SEND */
    sip_conn_t *conn;
    gw_delivery_t *dlv;  /* owned */
    /* RESPONSE */
    char *branch;
    int status;
    char *reason;
    /* CALL: fn runs on the worker; arg is freed by arg_free unless fn
     * took it (set it to NULL) */
    void (*fn)(sip_worker_t *w, struct sip_item *it);
    void *arg;
    void (*arg_free)(void *arg);
} sip_item_t;

void sip_item_free(void *item);

int sip_workers_init(void);       /* main thread, in adapter init */
int sip_workers_start(void);
void sip_workers_stop(void);      /* drains queues, joins */
void sip_workers_destroy(void);
/* Active workers: those that take new datagrams and new SENDs.  Any
 * thread. */
int sip_worker_count(void);
/* The worker of slot idx (active, retiring or stopped: a slot lives until
 * destroy), or NULL when the slot was never used.  Any thread. */
sip_worker_t *sip_worker_get(int idx);
int sip_worker_index(const sip_worker_t *w);
struct event_base *sip_worker_base(sip_worker_t *w);
/* Queue an item to w (any thread).  0 or a negative code (item stays the
 * caller's). */
int sip_worker_push(sip_worker_t *w, sip_item_t *item);
/* Queue a SEND to the next active worker (round robin), under the pool's
 * lock so that no worker retiring meanwhile gets it.  As sip_worker_push;
 * GW_ESTOPPED when no worker is active.  Any thread. */
int sip_worker_push_any(sip_item_t *item);
/* A MESSAGE of w's was handed to the core (+1) / its REPLY has run (-1):
 * a retiring worker stops only when none is left.  Any thread. */
void sip_worker_pending(sip_worker_t *w, int delta);

/* ---- the pool (sip_transport.c), for the scaler (main thread) ----
 * Slots 0..n-1 have an open socket, in the kernel's SO_REUSEPORT group at
 * the index of their slot; the BPF program sends datagrams to the active
 * ones, 0..active-1, and the rest are retiring.  Only the top slot is
 * ever opened or closed, so no index moves. */
typedef enum {
    SIP_W_OFF = 0,   /* slot unused, or its worker stopped and was joined */
    SIP_W_ACTIVE,    /* takes new datagrams and SENDs */
    SIP_W_RETIRING,  /* steered around; finishing what it holds */
    SIP_W_STOPPING,  /* drained: RETIRE sent, socket closing, thread ending */
} sip_wstate_t;

typedef struct sip_wsnap {
    int idx;
    sip_wstate_t state;
    int64_t cpu_ns;     /* the thread's CPU time; -1 when unknown */
    unsigned gen;       /* counts the starts of this slot's thread */
    int pending;        /* MESSAGEs waiting for the store's answer */
    int64_t rx;         /* datagrams its socket gave it, since the slot was made */
    int uac;            /* client transactions in flight */
    size_t queued;      /* items in its queue */
} sip_wsnap_t;

/* Grow by one: the top retiring worker becomes active again, or a new
 * slot opens its socket and starts its thread; then the BPF program
 * takes it in.  Returns the new active count, or GW_EFULL (at
 * SIP_MAX_WORKERS), GW_EAGAIN (a worker is stopping: try next cycle) or
 * GW_ERROR (logged). */
int sip_pool_grow(void);
/* Shrink by one: the BPF program stops sending to the top active worker,
 * which retires (worker 0 never does).  New active count or GW_EINVAL. */
int sip_pool_shrink(void);
/* Reap: the top retiring worker, once drained, is told to stop; a stopped
 * one is joined and its slot closed.  Every cycle. */
void sip_pool_reap(void);
/* The slots in use into out (at most max); returns how many. */
int sip_pool_snapshot(sip_wsnap_t *out, int max);
/* 1 when the sockets are steered by our BPF program (else the kernel's
 * hash spreads them and the pool stays fixed). */
int sip_pool_steered(void);
/* After the pool changed size the steering program sends some peers to
 * another worker, and a retransmission of a request they sent before
 * would start a second transaction there.  For 64*T1 after a change:
 * the index of the worker that datagrams from sa went to before it,
 * when that one still runs; else -1.  sip_pool_owner: the worker they go
 * to now.  Any thread. */
int sip_pool_prev_owner(const sip_sa_t *sa);
/* 1 while w is steered around and finishing what it holds. */
int sip_worker_retiring(const sip_worker_t *w);
int sip_pool_owner(const sip_sa_t *sa);
/* The size sip.workers asks for (one per core for 0): the pool's bounds
 * while sip.workers_max is 0. */
int sip_pool_fixed(void);
/* Send text to peer from w's thread, over the transport peer->proto
 * names (sip_transport_ops): sendto on w's UDP socket of the peer's
 * family; on a stream, the connection peer->conn_id (queued to its owner
 * worker when that is another), or with conn_id 0 a live connection to
 * the address or a new one.  Offered to the trace bus.  Returns 0,
 * GW_ERROR, or GW_EDECLINED (a transport not there: TLS). */
int sip_worker_send(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len);
/* As sip_worker_send, but a UDP datagram sent while w's thread handles
 * what one read brought is copied and held, and all held ones leave in
 * one sendmmsg once that batch is handled (a forward, a response going
 * up: what needs no send error back).  Elsewhere it sends at once.
 * Returns 0 when held (a later send error is logged, not returned). */
int sip_worker_send_soon(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len);

/* One transport: what sip_worker_send calls.  Const, one per transport
 * (sip_udp_ops in sip_transport.c, sip_tcp_ops in sip_tcp.c). */
typedef struct sip_transport_ops {
    const char *name;      /* "udp", "tcp": as in a source "tcp:1.2.3.4:5060" */
    int proto;             /* SIP_PROTO_* */
    int reliable;          /* 1: no retransmission of requests (RFC 3261 17.1.1.2) */
    int (*send)(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len);
} sip_transport_ops_t;
/* The ops of proto, NULL when that transport is not there. */
const sip_transport_ops_t *sip_transport_ops(int proto);
/* One SIP packet on the trace bus (callers test gw_trace_on() first).
 * Worker thread. */
void sip_trace_packet(gw_trace_dir_t dir, const sip_peer_t *peer, const char *buf, size_t len);

/* ---- sip_tcp.c: SIP over TCP ---- */
extern const sip_transport_ops_t sip_tcp_ops;
/* The table's locks and the listeners on worker 0's base, one per
 * address (addrs[0..n)).  Main thread, in sip_workers_init.  0 or
 * GW_ERROR (logged). */
int sip_tcp_init(sip_worker_t *w0, const sip_sa_t *const *addrs, int n);
void sip_tcp_free(void);  /* the listeners (main thread, worker 0 joined) */
/* sip_tcp_ops.send.  Worker thread. */
int sip_tcp_send(sip_worker_t *w, const sip_peer_t *peer, const char *buf, size_t len);
/* STOP: stop listening (worker 0), flush and half-close w's connections,
 * leave w's loop once they closed or SIP_TCP_LINGER_MS passed.  w's
 * thread. */
void sip_tcp_linger(sip_worker_t *w);
/* Close every connection of w (why: for the trace).  w's thread, or the
 * main thread once w's was joined. */
void sip_tcp_close_all(sip_worker_t *w, const char *why);
/* sip_tls.c: the OpenSSL contexts (server with sip.tls_port, client
 * always).  Main thread: 0 or GW_ERROR (logged). */
int sip_tls_init(void);
void sip_tls_free(void);
int sip_tls_listening(void); /* 1: the server context exists */
/* A TLS bufferevent on fd (-1: to connect) accepting or, outgoing,
 * connecting to remote (verified as sip.tls_verify says).  NULL on
 * failure.  The owner's thread. */
struct bufferevent *sip_tls_bev(struct event_base *base, int fd, int outgoing,
                                const sip_sa_t *remote);
extern const sip_transport_ops_t sip_tls_ops;
/* The port we listen on for proto: sip.tls_port for TLS, else sip.port. */
int sip_listen_port(int proto);
/* 1 when a live connection of proto to remote is in the table (a
 * binding's source is worth reusing).  Any thread. */
int sip_tcp_alive(const sip_sa_t *remote, int proto);
/* MI sip.connections.list (viewer). */
void sip_tcp_mi_list(const json_t *params, gw_mi_reply_t *r);

/* ---- sip_scale.c: the load profile (main thread) ---- */
struct event_base;
/* Gauges, the cycle's timer on main_base.  After sip_workers_init.
 * 0 or GW_ENOMEM. */
int sip_scale_init(struct event_base *main_base);
void sip_scale_start(void);  /* after sip_workers_start */
void sip_scale_stop(void);   /* before sip_workers_stop */
/* MI sip.workers (viewer). */
void sip_scale_mi_workers(const json_t *params, gw_mi_reply_t *r);

/* ---- sip_uas.c ---- */
/* Handle one received message (request or response) on w's thread. */
void sip_uas_input(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer);
/* A datagram longer than sip.max_message: 413 from its first n bytes
 * when they start with a request line and hold a Via, else dropped.
 * Worker thread. */
void sip_uas_oversized(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer);
/* A REPLY item popped on w's thread. */
void sip_uas_reply(sip_worker_t *w, sip_item_t *it);
extern int sip_stopping; /* atomic: answer 503 to new MESSAGEs */
/* MESSAGE in -> its answer after the commit (sip_stats_init registers it;
 * not in sip_stats, whose members sip.stats reads as counters) */
extern gw_hist_t *sip_uas_answer_hist;

/* ---- sip_auth.c: digest authentication of untrusted requests ---- */
/* What sip_auth_check decided. */
typedef struct sip_auth_result {
    int status;          /* 0: authenticated; else the status to answer (400, 401, 403, 407, 500) */
    const char *reason;  /* that answer's phrase (static) */
    const char *why;     /* what decided, for the trace (static) */
    int stale;           /* a 407 with stale=true */
    const char *alg;     /* the credentials' algorithm, "" without */
    char user[64];       /* the username given, "" without */
    char sender[200];    /* status 0: "sip:<username>@<realm>", the envelope's tag sender */
    char *extra;         /* a challenge's Proxy- / WWW-Authenticate lines (malloc'd: the
                          * caller frees) */
    int uas;             /* checked as SIP_AUTH_UAS */
} sip_auth_result_t;
#define SIP_AUTH_PROXY 0 /* 407, Proxy-Authenticate / Proxy-Authorization (MESSAGE) */
#define SIP_AUTH_UAS 1   /* 401, WWW-Authenticate / Authorization (a registrar, a UAS) */

/* The realm (sip.realm, else the host's name, else "junction"), the
 * opaque and the nonce table with its new secret.  Main thread, adapter
 * init: 0, GW_EINVAL (a realm that cannot be quoted) or GW_ENOMEM. */
int sip_auth_init(void);
void sip_auth_free(void);
/* The realm challenges name (valid after sip_auth_init). */
const char *sip_auth_realm_name(void);
/* Check the credentials of the request text buf[0..n) (method is its
 * method) against the SIP users, as a proxy (SIP_AUTH_PROXY: its
 * Proxy-Authorization, 407) or a UAS (SIP_AUTH_UAS: its Authorization,
 * 401); counts sip.auth_*.  Any worker. */
void sip_auth_check(const char *buf, size_t n, const char *method, int role,
                    sip_auth_result_t *res);
/* Remove from the request text buf[0..n) (NUL-terminated, edited in
 * place) every Proxy-Authorization line for our realm (or naming none):
 * a proxy consumes its own credentials (RFC 3261 22.3).  The new length.
 * Any worker. */
size_t sip_auth_strip(char *buf, size_t n);

/* ---- sip_conn.c: "sip" connectors ---- */
/* The registrar's location service (sip_location.c): the bindings of
 * each address of record, in memory and in the store. */
#define SIP_AOR_MAX 256
#define SIP_LOC_CONTACTS_MAX 16  /* the most sip.max_contacts may be */
typedef struct sip_binding {
    char contact[256];     /* the Contact URI, as the UA wrote it (no header params) */
    int64_t expires_ms;    /* when it expires, ms since the epoch */
    int q;                 /* 0..1000 (q=0.5 is 500); -1: none given */
    char call_id[128];     /* of the REGISTER that made or refreshed it */
    uint32_t cseq;
    char source[96];       /* where that REGISTER came from: "udp:1.2.3.4:5060" */
    char path[512];        /* its Path header values (RFC 3327), "" when none */
    char user_agent[128];
    char instance[128];    /* +sip.instance (RFC 5626), "" when none */
    int reg_id;            /* reg-id (RFC 5626), 0 when none */
    int64_t updated_ms;
    int nat;               /* behind a NAT (sip_nat_detect at its REGISTER); stored */
    /* OPTIONS pings (sip_natping.c), in memory only, under the shard's lock */
    int64_t ping_due_ms;   /* the next ping, 0: not planned yet */
    int64_t ping_ok_ms;    /* the last answered ping, 0: none */
    int ping_fails;        /* pings unanswered in a row */
    char ping_branch[40];  /* the ping waiting for its answer, "" when none */
} sip_binding_t;

/* A change of one address of record: gets its current bindings (cur,
 * ncur, expired ones too, as stored) and writes the new set into out (at
 * most max) with *nout.  Returns 0 to apply it, or a SIP status to answer
 * at once with nothing changed (a refusal, or 200 for a query: out then
 * holds what to list).  Runs under the address of record's lock: it must
 * not block. */
typedef int (*sip_loc_fn)(void *arg, const sip_binding_t *cur, int ncur, sip_binding_t *out,
                          int *nout, int max);
/* rc: 0 when the change committed, else GW_ESTORE (undone in memory). */
typedef void (*sip_loc_done_fn)(void *arg, int rc);
/* Run fn on aor's bindings; out (SIP_LOC_CONTACTS_MAX) gets the set fn
 * made.  0: applied, done runs after its commit (on the store's writer
 * thread); > 0: a status to answer now (done never runs); < 0: -GW_E*
 * (GW_EFULL: the store is overloaded).  Any thread. */
int sip_loc_update(const char *aor, sip_loc_fn fn, void *arg, sip_binding_t *out, int *nout,
                   sip_loc_done_fn done, void *done_arg);
/* aor's live bindings into out (at most max), highest q first; their
 * count.  Any thread. */
int sip_loc_lookup(const char *aor, sip_binding_t *out, int max);
/* 1 when aor is in the location service, live bindings or not (the
 * proxy's 480 rather than 404).  Any thread. */
int sip_loc_exists(const char *aor);
/* Expired bindings out (stored, published).  Main thread, once a second. */
void sip_loc_sweep(void);
/* Remove contact (NULL: every binding) of aor: 1 when one went, 0 when
 * none was there.  Main thread (MI). */
int sip_loc_delete(const char *aor, const char *contact);
/* [{aor, bindings: [{contact, expires (s left), q, call_id, cseq, source,
 * path?, user_agent?, instance?, reg_id?}]}] of every address of record
 * (or only aor_filter), at most limit; new reference.  Main thread (MI). */
json_t *sip_loc_list(const char *aor_filter, int limit);
/* A binding as JSON: stored (expires_at, q per mille, updated_at) or as
 * the MI shows it (expires in seconds from now_ms, q as 0..1). */
json_t *sip_binding_json(const sip_binding_t *b, int64_t now_ms, int stored);
/* The address of record of a URI's parts, the location service's key:
 * "scheme:user@host" (no port or parameters), the scheme (default sip)
 * and host in lower case, the user as it came.  0, or -1 when it does
 * not fit n.  Any thread. */
int sip_aor_make(const char *scheme, const char *user, const char *host, char *out, size_t n);
/* The OPTIONS pinger's walk (sip_natping.c): fn sees every live binding
 * of every address of record and may change its ping_* fields; it
 * returns 1 to remove the binding (stored and published with why
 * "unreachable", like an expiry).  Main thread. */
typedef int (*sip_loc_ping_fn)(void *arg, const char *aor, sip_binding_t *b);
void sip_loc_ping_walk(sip_loc_ping_fn fn, void *arg);
/* The ping branch of a binding of aor was answered: its ping_ok_ms set
 * to now_ms, its fails cleared.  1 when a binding had that branch.  Any
 * thread. */
int sip_loc_ping_answered(const char *aor, const char *branch, int64_t now_ms);
int sip_loc_init(void);  /* main thread, at adapter init: reads the store */
void sip_loc_free(void);

/* The registrar (sip_registrar.c): a REGISTER the transaction table let
 * through; takes req.  Worker thread. */
void sip_reg_request(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                     const char *txn_key, const char *to_tag, const char *buf, size_t n);
int sip_reg_init(struct event_base *main_base);
/* 1 when host is one of sip.domains (or the list is empty: any is).
 * Any thread (reads sip.domains). */
int sip_reg_is_local(const char *host);
void sip_reg_stop(void);
void sip_reg_mi_list(const json_t *params, gw_mi_reply_t *r);
void sip_reg_mi_delete(const json_t *params, gw_mi_reply_t *r);
/* Final response to req (sip_uas.c): built, sent where the request came
 * from, recorded for retransmissions under txn_key (may be NULL); extra
 * are header lines ("Name: value\r\n"), or NULL.  Worker thread. */
void sip_uas_answer(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                    const char *txn_key, const char *to_tag, int status, const char *reason,
                    const char *extra);

struct gw_connector;
/* State of one connector; reference counted because client transactions
 * outlive a conn_close.  Read-only after sip_conn_open but the counters. */
struct sip_conn {
    int refs;                 /* atomic */
    char name[64];            /* the connector's, for gw_core_credit */
    char *uri_text;           /* conf "uri" */
    osip_uri_t *uri;          /* parsed conf uri; NULL on the reply connector */
    char *from_domain;        /* conf "from_domain" or NULL */
    int report_form;          /* conf "reports": SIP_REPORTS_*, -1: not set */
    struct sip_conn *next_reporting; /* sip_conn.c's list, under its lock */
    int reply;                /* conf "reply": true: the reply connector (no uri; each
                               * report names its destination, SIP_TAG_REPLY_*) */
    char local_ip[64];        /* our host towards dest (or sip.listen; IPv6 in []) */
    sip_sa_t dest;
    int64_t sent, failed;     /* atomic: 2xx received / final or temporary failures */
    int inflight;             /* atomic: SEND items and client transactions alive */
};
int sip_conn_check(const json_t *conf, char *err, size_t errlen);
int sip_conn_open(struct gw_connector *c);
void sip_conn_close(struct gw_connector *c);
int sip_conn_send(struct gw_connector *c, gw_delivery_t *d);
/* SIP_CONN_MAX_INFLIGHT MESSAGEs may be outstanding (gw_adapter.h). */
int sip_conn_room(struct gw_connector *c);
json_t *sip_conn_status(struct gw_connector *c);
/* The conf "reports" (SIP_REPORTS_*) of the open connector whose target
 * is src (address and port), with its name into name; -1 when none is. */
int sip_conn_report_form(const sip_sa_t *src, char *name, size_t n);
sip_conn_t *sip_conn_ref(sip_conn_t *c);
void sip_conn_unref(sip_conn_t *c);

/* ---- sip_natping.c: NAT detection and OPTIONS keep-alive pings ---- */
#define SIP_PING_BRANCH_PREFIX "z9hG4bK-jo" /* then "<random hex>" */
/* 1 when the IPv4 literal ip is private (RFC 1918), shared (RFC 6598
 * 100.64/10) or link-local: an address a phone behind a NAT writes.
 * Pure. */
int sip_nat_private(const char *ip);
/* 1 when a binding of contact (a SIP URI) registered from source
 * ("udp:ip:port") is behind a NAT, as Kamailio's nathelper tests it: the
 * contact's host is a private IPv4 address, or it is an IPv4 address and
 * port other than the source's.  A host name is taken as it is.  Pure. */
int sip_nat_detect(const char *contact, const char *source);
/* The pinger's timer on main_base (a tick a second; each binding pinged
 * once per sip.nat_ping_interval_s, at its own offset in the interval).
 * 0 or GW_ENOMEM.  Main thread. */
int sip_natping_init(struct event_base *main_base);
void sip_natping_stop(void);
/* A response whose top Via branch is SIP_PING_BRANCH_PREFIX...: the
 * binding's ping answered.  1 when the response was a ping's (consumed),
 * 0 otherwise.  Any worker. */
int sip_natping_response(const osip_message_t *resp, const sip_peer_t *peer);

/* ---- sip_uac.c ---- */
typedef struct sip_uac sip_uac_t; /* a worker's client transactions */
/* The MESSAGE text for env on conn (our address local_ip, branch and
 * tags given): a report on the reply connector in its SIP form
 * (sip_report_body), X-SMS-* headers on every one.  Pure; a
 * malloc'd text with its length in *len, or NULL.  Any thread. */
char *sip_uac_build(const sip_conn_t *conn, const gw_envelope_t *env, const char *local_ip,
                    const char *branch, const char *from_tag, const char *call_id, size_t *len);
sip_uac_t *sip_uac_new(sip_worker_t *w);
/* Drop every in-flight transaction without an outcome (stop): the
 * envelopes stay queued in the store and are recovered on restart. */
void sip_uac_free(sip_uac_t *u);
/* Client transactions in flight (any thread: the scaler reads it). */
size_t sip_uac_count(const sip_uac_t *u);
void sip_uac_send(sip_worker_t *w, sip_uac_t *u, sip_item_t *it);
void sip_uac_response(sip_worker_t *w, sip_uac_t *u, sip_item_t *it);
/* Route a received response to the worker that owns its branch. */
void sip_uac_dispatch(sip_worker_t *w, osip_message_t *resp);
sip_uac_t *sip_worker_uac(sip_worker_t *w);

#endif
