/*
 * sip_proxy.h - the stateful proxy core (RFC 3261 section 16), private to
 * adapters/sip/.
 *
 * Table of contents:
 *   sip_proxy_route.c  pure: URIs as the proxy reads them, "is this us",
 *                      the fork order of bindings by q, the best final
 *                      response of a response context (16.7), the loop
 *                      hash of a request (16.3 step 4, 16.6 step 8).
 *   sip_proxy_fwd.c    pure: bytes of forwarded messages built from a
 *                      sip_view_t with its edits (our Via, Max-Forwards,
 *                      Record-Route, Request-URI, a Path as Route), the
 *                      strict-router rewrite (16.4), a response with our
 *                      Via removed, the ACK / CANCEL of a client branch.
 *   sip_proxy.c        the worker side: a request in (validation, Route
 *                      preprocessing, target, server transaction), our
 *                      own responses, responses routed to their owner.
 *   sip_proxy_table.c  each worker's tables of transactions and branches,
 *                      the counts, MI sip.transactions.stats.
 *   sip_proxy_branch.c client branches: sending, Timer A/E/B/F/C, the
 *                      response context, CANCEL, responses routed to the
 *                      owner worker, stateless forwarding of the rest.
 *   sip_proxy_sl.c     sip.proxy_mode stateless (16.11): one target, a
 *                      branch hashed from the request, no transaction;
 *                      responses to it forwarded by their Via.
 *   sip_proxy_auth.c   digest authentication of untrusted local callers
 *                      and relays (407 through the server transaction).
 *
 * Threads: the pure files any thread; the rest on the worker that
 * received the request (it owns the transaction and its branches), and
 * sip_proxy_mi_stats on the MI thread (atomic counters only).
 */
#ifndef SIP_PROXY_H
#define SIP_PROXY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "sip.h"
#include "sip_tsx.h"
#include "sip_view.h"
#include "sip_wheel.h"

/* A proxy client branch: "z9hG4bK-jp<worker>-<loop hash>-<random>"; the
 * UAC's MESSAGEs keep SIP_BRANCH_PREFIX ("-jn"). */
#define SIP_PROXY_BRANCH_PREFIX "z9hG4bK-jp"
/* A stateless proxy's branch: "z9hG4bK-js<16 hex digits of a hash>". */
#define SIP_PROXY_SL_PREFIX "z9hG4bK-js"
#define SIP_PROXY_MAX_BRANCHES SIP_LOC_CONTACTS_MAX
#define SIP_PROXY_MAX_SELF 8
#define SIP_PROXY_MSG_MAX 65535

/* ---- parameters and statistics (registered by sip_proxy_init) ---- */
typedef struct sip_proxy_conf {
    int on;           /* sip.proxy: 0: other requests are 501 as before */
    int record_route; /* sip.record_route */
    int timer_c_s;    /* sip.timer_c_s */
    int auth;         /* sip.proxy_auth: challenge with sip.auth on (sip_proxy_auth.c) */
    int auth_match_from; /* sip.auth_match_from: the digest user is the From user */
    char mode[16];    /* sip.proxy_mode: "stateful" or "stateless" */
    int stateless;    /* mode as read by the workers (atomic; its hook sets it) */
} sip_proxy_conf_t;
extern sip_proxy_conf_t sip_proxy_conf;

typedef struct sip_proxy_stats {
    gw_stat_t *requests, *forwarded, *responses, *timeouts, *cancels, *c487;
    gw_stat_t *stateless, *loops, *no_target, *branches, *handoffs, *req_handoffs;
    gw_stat_t *sl_forwarded; /* requests forwarded in stateless mode */
} sip_proxy_stats_t;
extern sip_proxy_stats_t sip_proxy_stats;

/* ---- sip_proxy_route.c: pure ---- */
typedef struct sip_px_uri {
    char scheme[8];    /* lower case */
    char user[128];
    char host[128];    /* lower case */
    int port;          /* 0: absent */
    int ipv4;          /* host is an IPv4 literal */
    int ip;            /* host is an IP literal: IPv4, or IPv6 in [] */
    int lr;            /* ;lr among the URI parameters */
    int proto;         /* SIP_PROTO_*: ;transport=tcp / tls, sips: is TLS; else UDP */
} sip_px_uri_t;

/* Parse the URI s[0..n) (sip: or sips:; no <>).  0 or -1. */
int sip_px_uri_parse(const char *s, size_t n, sip_px_uri_t *u);

/* Our addresses and port: what "this proxy" is in a Route, a Request-URI
 * or a Via. */
typedef struct sip_px_self {
    char addr[SIP_PROXY_MAX_SELF][64];
    int naddr;
    int port;
    int tls_port;      /* sip.tls_port, 0: none */
} sip_px_self_t;

/* 1 when u names us: one of our addresses, and our port (absent = 5060;
 * any_port: an absent port matches too, as in a Request-URI
 * sip:alice@ourip). */
int sip_px_is_self(const sip_px_self_t *s, const sip_px_uri_t *u, int any_port);

/* The fork order of n bindings' q values (-1: none given, taken as 1.0,
 * RFC 3261 16.6): order[] gets their indices by decreasing q (stable),
 * group[] (per position) the serial step each belongs to: equal q in
 * one step, forked in parallel.  Returns the number of steps. */
int sip_px_order(const int *q, int n, int *order, int *group);

/* The best of n final statuses of a response context (16.7 step 6): a
 * 6xx; else a 2xx; else the lowest class, preferring 401, 407, 415, 420,
 * 484 in 4xx; ties to the first.  Its index, -1 when n is 0. */
int sip_px_best(const int *status, int n);

/* The loop hash of request v (16.6 step 8, without the top Via so a
 * request that comes back is recognised): Request-URI, From and To tags,
 * Call-ID, CSeq number, Proxy-Require, Proxy-Authorization. */
uint32_t sip_px_loop_hash(const sip_view_t *v);
/* 1 when a Via of v is ours (sent-by self, our branch prefix) with the
 * loop hash v has now: the request looped (482). */
int sip_px_looped(const sip_view_t *v, const sip_px_self_t *self);

/* ---- sip_proxy_fwd.c: pure ---- */
typedef struct sip_px_fwd {
    const char *ruri;   /* the new Request-URI, NULL: unchanged */
    const char *via;    /* our Via value (required) */
    const char *rr;     /* a Record-Route value, NULL: none */
    int del_top_route;  /* our own top Route is removed */
    const char *path;   /* Route values put on top (a binding's Path), NULL or "" */
} sip_px_fwd_t;

/* The forwarded request: v with f's edits and Max-Forwards decremented
 * (70 when absent), into out[0..cap).  Length or a sip_view_err_t. */
long sip_px_build(const sip_view_t *v, const sip_px_fwd_t *f, char *out, size_t cap);
/* Strict routing (16.4): v's Request-URI is our Record-Route value: the
 * new Request-URI is the last Route's URI and that Route is removed.
 * Length into out, or SIP_VE_NOT_FOUND (no Route) / SIP_VE_NOSPACE. */
long sip_px_strict_rewrite(const sip_view_t *v, char *out, size_t cap);
/* Response v with its top Via removed.  Length or a sip_view_err_t. */
long sip_px_resp_strip(const sip_view_t *v, char *out, size_t cap);
/* Where Via n of v says a response goes (18.2.2, RFC 3581): received or
 * the sent-by host, rport's value or the sent-by port or 5060.  0, or -1
 * (no such Via, or a host that is no IP literal). */
int sip_px_via_dest(const sip_view_t *v, unsigned n, sip_sa_t *out);
/* The CANCEL (resp NULL) or the ACK of non-2xx resp for the forwarded
 * request fwd (RFC 3261 9.1, 17.1.1.3): its Request-URI, top Via, From,
 * Call-ID, CSeq number and Route; To from resp for an ACK.  Length or a
 * sip_view_err_t. */
long sip_px_build_cancel_ack(const sip_view_t *fwd, const sip_view_t *resp, char *out,
                             size_t cap);

/* ---- the worker side: internal to sip_proxy.c and sip_proxy_branch.c ---- */
struct event;
typedef struct sip_px_txn sip_px_txn_t;

/* One client branch (16.6): a client transaction of its own.  Lives in
 * its txn's array; in the worker's branch table while started. */
typedef struct sip_px_branch {
    sip_px_txn_t *tx;
    /* the worker's branch table: chain, the link to this one, id hash;
     * beside the id, so a lookup reads one cache line per entry */
    struct sip_px_branch *hnext, **hprev;
    size_t hash;
    char id[64];               /* our Via branch */
    sip_tsx_t tsx;             /* ICT or NICT */
    int started, ended;        /* sent; a final came (or a timeout) */
    int linked;                /* in the worker's branch table */
    int cancel_wanted, cancel_sent;
    int group;                 /* the serial step (sip_px_order) */
    int status;                /* its final status, 0: none yet */
    char *req;                 /* the forwarded request (owned) */
    size_t len;
    char *resp;                /* its final response as received (owned), or NULL */
    size_t resp_len;
    sip_sa_t dst;
    int dst_proto;             /* SIP_PROTO_* it goes on (UDP until outgoing streams) */
    int64_t timer_c_at;        /* INVITE: Timer C, 0: not running */
    char ruri[256];            /* the new Request-URI, "" for the received one */
    char path[512];            /* Route values from the binding's Path */
    int rr;                    /* its request carries our Record-Route */
    char trunk[64];            /* the sip_trunk it goes to, "" none (sip_trunk_route.c) */
    int trunk_dst;             /* that trunk's destination index */
} sip_px_branch_t;

/* One proxied request: its server transaction and its response context. */
struct sip_px_txn {
    sip_worker_t *w;
    /* the worker's table: chain, the link to this one, key hash (beside
     * the key: one cache line per entry a lookup passes) */
    struct sip_px_txn *hnext, **hprev;
    size_t hash;
    char key[320];             /* server transaction key (sip_px_key) */
    sip_tsx_t tsx;             /* IST or NIST */
    int invite;
    int has_to_tag;            /* the request's To has a tag (in a dialog) */
    int64_t rx_ms;             /* when it came, ms since the epoch (a call's start) */
    char *req;                 /* the request as received (owned) */
    size_t len;
    sip_peer_t src, reply_to;  /* where it came from; where responses go */
    char *last;                /* the last response sent up (owned) */
    size_t last_len;
    char to_tag[17];
    char call_id[128];
    int del_top_route;
    int relay;                 /* the target is not a local user (a Route, an IP host, a trunk) */
    int trunk;                 /* the branches are trunk destinations: one per serial step,
                                * failover on 408 / 5xx only (sip_trunk_fails_over) */
    int stateless;             /* an ACK forwarded without transaction: no rule is asked */
    char why[96];              /* a rule's reject reason, the phrase of our answer */
    int nb, ngroups, group;    /* branches; serial steps; the step running */
    int final_sent, cancelled;
    int dns_wait;              /* a DNS lookup of its target runs (sip_proxy_dns.c) */
    uint64_t gen;              /* this worker's transaction number: a late DNS answer
                                * finds tx by key and gen, never by pointer */
    sip_px_uri_t dns_uri;      /* the host to resolve (Route or Request-URI) */
    /* its branches: &b1, or an array of bcap made by sip_px_branch_room
     * (a transaction lingers 64*T1 after its final: one branch's room in
     * it, not SIP_PROXY_MAX_BRANCHES', keeps a busy proxy's heap small) */
    sip_px_branch_t *b;
    int bcap;
    sip_wheel_node_t tnode;    /* its next timer, in the worker's wheel */
    sip_px_branch_t b1;        /* last: the head's memsets stop before it */
};

/* Room for n branches in tx (n <= SIP_PROXY_MAX_BRANCHES): 0, or -1 (no
 * memory, n too large, or a branch has started: the array cannot move
 * once the branch table links into it).  tx->b may move: take pointers
 * into it only after.  sip_px_branch_scratch: tx's branches back to its
 * one inline room (a per-thread scratch transaction, reset).  Worker. */
int sip_px_branch_room(sip_px_txn_t *tx, int n);
void sip_px_branch_scratch(sip_px_txn_t *tx);

/* sip_proxy_table.c: the worker's tables and the counts. */
int sip_px_table_ready(sip_worker_t *w); /* 0: no memory for it */
void sip_px_txn_insert(sip_px_txn_t *tx);
sip_px_txn_t *sip_px_txn_find(sip_worker_t *w, const char *key);
/* Arm tx's timer for at (monotonic ms) in its worker's wheel. */
void sip_px_txn_arm(sip_px_txn_t *tx, int64_t at);
/* Free tx: unlinked, its timer, its branches, its copies. */
void sip_px_txn_free(sip_px_txn_t *tx);
int64_t sip_px_now(void); /* monotonic ms, the machines' clock */
/* A machine of kind went from_state -> to_state (-1: created / freed). */
void sip_px_count(sip_tsx_kind_t kind, int from_state, int to_state);
/* sip_proxy.c */
void sip_px_trace(const sip_px_txn_t *tx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sip_px_branch_link(sip_px_branch_t *b);
void sip_px_branch_unlink(sip_px_branch_t *b);
sip_px_branch_t *sip_px_branch_find(sip_worker_t *w, const char *id, size_t n);
/* The ids of w's branches sent to dst over proto that have had no
 * response yet, into ids (at most max); how many. */
int sip_px_branch_ids_to(sip_worker_t *w, const sip_sa_t *dst, int proto, char (*ids)[64], int max);
/* Send a response up (through the server transaction): 0 sent. */
int sip_px_send_up(sip_px_txn_t *tx, const char *resp, size_t len, int status);
/* Our own response to tx's request. */
void sip_px_reply(sip_px_txn_t *tx, int status, const char *reason, const char *extra);
/* The view of tx's request while sip_px_new handles it (the received
 * bytes, which tx->req copies: the same offsets from v->start), else
 * NULL: a later branch parses tx->req. */
const sip_view_t *sip_px_req_view(const sip_px_txn_t *tx);
/* tx->req was edited (our credentials removed): no view of it is kept. */
void sip_px_req_changed(const sip_px_txn_t *tx);
/* Done with tx when every transaction of it ended: freed (1) or timer armed (0). */
int sip_px_settle(sip_px_txn_t *tx);
/* tx's timer came due at now (the wheel's tick): its machines' timers, settled. */
void sip_px_due(sip_px_txn_t *tx, int64_t now);
/* Our host towards dst as a Via / Record-Route writes it ("[::1]" for
 * IPv6): sip.listen or sip.listen6 by dst's family, the route's source
 * address when that is a wildcard. */
void sip_px_local_ip(const sip_sa_t *dst, char *out, size_t n);
extern sip_px_self_t sip_px_self;
/* The targets of v (16.5) into tx->b[] / nb / ngroups / relay /
 * dns_uri (reads tx->del_top_route, has_to_tag, stateless; b[0].ruri /
 * path empty): 0, SIP_PX_NEEDS_DNS, or the status to answer with *reason. */
int sip_px_targets(const sip_view_t *v, sip_px_txn_t *tx, const char **reason);
/* Our response to request v from src that has no transaction. */
void sip_px_reply_bare(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src, int status,
                       const char *reason, const char *extra);

/* x as digits lower-case hex digits at out (no NUL): the branches' hex
 * parts without printf on the hot path. */
static inline void sip_px_hex(char *out, uint64_t x, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, x >>= 4)
        out[i] = hex[x & 15];
}

/* sip_proxy_sl.c: stateless mode (RFC 3261 16.11) */
/* The branch of our Via for request v (see the file): the same for a
 * retransmission, and for an INVITE, its CANCEL and its non-2xx ACK.
 * 0, or GW_EINVAL (no Via, or n too small; 27 bytes are enough).  Pure. */
int sip_px_sl_branch(const sip_view_t *v, char *out, size_t n);
/* Forward request v (validated, Route preprocessed) from a UDP source to
 * its first target with no transaction, or answer it (not an ACK): 1.
 * 0 when the target is over TCP / TLS: the caller handles v statefully.
 * Worker thread. */
int sip_px_sl_request(sip_worker_t *w, const sip_view_t *v, const sip_peer_t *src,
                      int del_top_route);
/* sip.proxy_mode checked (GW_EINVAL when neither value) and its hook
 * registered.  Main thread, adapter init. */
int sip_px_sl_conf(void);

/* sip_proxy_branch.c */
/* Start the branches of serial step g of tx. */
void sip_px_start_group(sip_px_txn_t *tx, int g);
/* The CANCEL of the caller: every live branch gets one. */
void sip_px_cancel(sip_px_txn_t *tx);
/* A response for one of w's branches (raw bytes). */
void sip_px_response_local(sip_worker_t *w, const char *buf, size_t n);
/* A response on a stateless branch of ours (no branch of a transaction
 * can match it): forwarded by its next Via.  Worker. */
void sip_px_response_sl(sip_worker_t *w, const char *buf, size_t n);
/* tx's timers that are due. */
void sip_px_timers(sip_px_txn_t *tx, int64_t now);
/* The earliest deadline of tx's transactions and Timer C, 0: none. */
int64_t sip_px_deadline(const sip_px_txn_t *tx);
/* Unlink tx's branches and free their copies (tx is being freed). */
void sip_px_free_branches(sip_px_txn_t *tx);

/* sip_proxy_auth.c: digest authentication of proxied requests */
#define SIP_PX_AUTH_NONE 0     /* not asked for: the relay rule decides */
#define SIP_PX_AUTH_OK 1       /* authenticated: relaying allowed, our credentials removed */
#define SIP_PX_AUTH_ANSWERED 2 /* 407 / 403 / 400 sent through tx's server transaction */
/* Whether tx's request v (targets known: tx->relay set) from an untrusted
 * source must authenticate, and its credentials checked when so.  Worker. */
int sip_px_authorize(sip_px_txn_t *tx, const sip_view_t *v);
void sip_px_auth_init(void); /* its statistics; main thread */
/* sip_proxy_dns.c: the targets of a host name (RFC 3263) */
/* sip_px_targets' answer when tx->dns_uri is a name to resolve. */
#define SIP_PX_NEEDS_DNS 1
/* Resolve tx->dns_uri; its addresses become serial branches (RFC 3263
 * 4.3 failover: the next on a 503, a timeout or no answer) with the
 * Request-URI kept; no address: 503.  The transaction waits meanwhile
 * (a CANCEL is answered 487 at once).  0, or -1 (answer 500). */
int sip_px_dns_start(sip_px_txn_t *tx);
/* sip_trunk_route.c: the rule engine's targets for v (Request-URI u) when
 * the proxy has none of its own: 0 (tx's branches are trunk destinations,
 * tx->trunk and tx->relay set), a status to answer with *reason (a
 * reject, 503 none up), or -1: no route (the caller answers as before). */
int sip_px_trunk_targets(const sip_view_t *v, const sip_px_uri_t *u, sip_px_txn_t *tx,
                         const char **reason);
/* sip_proxy.c: 1 when tx may go where its targets are without
 * credentials: a local user always; relaying (a Route, an IP host, a
 * trunk) from a trusted source or in a dialog we record-routed.  With
 * SIP_PX_AUTH_OK from sip_px_authorize it is not asked. */
int sip_px_may_relay(const sip_px_txn_t *tx);

/* ---- the worker side: what sip_uas.c and sip_adapter.c call ---- */
/* 1 when the proxy takes req (parsed by sip_uas.c): sip.proxy on and not
 * REGISTER, not a MESSAGE for the gateway (one is proxied when its
 * Request-URI is an address of record with live bindings), not an
 * OPTIONS for us.  Worker thread. */
int sip_proxy_takes(const osip_message_t *req);
/* The fast path of a request datagram or framed stream message, before
 * libosip2 parses it: 1 when the proxy took buf[0..n) (read with its byte
 * view only, the same rule as sip_proxy_takes), 0 when sip_uas.c is to
 * handle it as before (the proxy off, a REGISTER, a MESSAGE for the
 * gateway, an OPTIONS for us, Max-Forwards 0, a CSeq of 2**31 or more, a
 * Request-URI not sip: / sips:, a message the view refuses: sip_uas.c
 * answers those).  Worker thread. */
int sip_proxy_input(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src);
/* A request the proxy takes, buf[0..n) its text (copied if kept).
 * Worker thread. */
void sip_proxy_request(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src);
/* A response: 1 when it carries a proxy branch (taken: handled here or
 * queued to its owner worker), 0 when it is not the proxy's. */
int sip_proxy_response(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *src);
/* Stats and parameters; main thread, adapter init. */
void sip_proxy_init(void);
/* A response read by w whose top Via branch is a stateless one of ours
 * (SIP_PROXY_SL_PREFIX): forwarded at once by w (no owner).  Worker. */
void sip_px_sl_response(sip_worker_t *w, const char *buf, size_t n);
/* Free every worker's transactions (their timers): main thread, after the
 * workers were joined, before their event bases go. */
void sip_proxy_free_all(void);
/* An outgoing connection of w's to remote over proto failed before it
 * connected (refused, TLS handshake or verification): each branch of w's
 * waiting on it ends as a 503 at once instead of at Timer B / F.  Called
 * from the connection's event callback (never from inside a send).
 * Worker thread. */
void sip_proxy_transport_failed(sip_worker_t *w, const sip_sa_t *remote, int proto);
/* Proxied requests worker idx still holds (a retiring worker waits
 * for 0).  Any thread. */
int sip_proxy_count(int idx);
/* MI sip.transactions.stats (viewer). */
void sip_proxy_mi_stats(const json_t *params, gw_mi_reply_t *r);

#endif
