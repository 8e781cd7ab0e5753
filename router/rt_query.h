/*
 * rt_query.h - what the rule engine is asked (rt_query_t) and what it
 * answers (rt_decision_t).
 *
 * The query is a view: the caller owns every string it points to and keeps
 * them alive for the call.  It is not the envelope, so the SIP proxy can
 * ask about requests with the same engine: an adapter or the core fills one
 * from whatever it holds (addresses already normalised by gw_addr.c).
 *
 * The decision is caller-provided storage, filled by rt_decide without any
 * allocation: rewritten addresses are written into its own buffers, and
 * every other string (rule name, connectors, tags, mirror, reason) points
 * into the rule set (or its rate tables), so it is valid while the caller
 * holds the set it decided with.
 *
 * Threads: plain data; any thread.
 */
#ifndef RT_QUERY_H
#define RT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "../gateway/gw_addr.h"

/* The kinds of sender a rule's source names, and the index of the query's
 * source.values.  Checklist for a new kind: this enum, rt_src_kind_names in
 * rt_compile.c, rt_f_source in rt_match.c, gw_route_query (who supplies
 * it), docs/routing.md ("source"). */
typedef enum {
    RT_SRC_CONNECTOR = 0, /* source.connector, not source.values (kept: the compiler's key) */
    RT_SRC_SMPP_ACCOUNT,  /* value: the bound system_id */
    RT_SRC_SIP_DOMAIN,    /* value: the From URI's host (matched case-insensitively) */
    RT_SRC_SIP_PEER,      /* value: the peer's "ip" or "ip:port" */
    RT_SRC_AMQP_QUEUE,    /* value: the queue the message came from */
    RT_SRC_API_KEY,       /* value: the MI/HTTP API key's name */
    RT_SRC__COUNT
} rt_src_kind_t;

typedef enum { RT_CODING_GSM = 0, RT_CODING_UCS2, RT_CODING_BINARY, RT_CODING__COUNT } rt_coding_t;

typedef struct rt_tag {
    const char *key;
    const char *value;
} rt_tag_t;

typedef struct rt_query {
    /* Who sent it: every facet the surface knows, one value per kind (a
     * SIP MESSAGE has both a peer address and a From domain).  NULL: not
     * known; values[RT_SRC_CONNECTOR] is not read (connector is). */
    struct {
        const char *connector; /* the connector or listener it came in on */
        const char *values[RT_SRC__COUNT];
    } source;
    gw_addr_t from;            /* normalised (gw_addr_normalise); address may be NULL */
    gw_addr_t to;
    const char *body;          /* UTF-8 text (or raw bytes when binary), not NUL terminated */
    size_t body_len;
    rt_coding_t coding;
    unsigned chars;            /* length in characters */
    unsigned parts;            /* length in SMS parts */
    const rt_tag_t *tags;
    size_t ntags;
    int64_t now;               /* unix seconds, required: time windows, rate validity */
    int64_t now_us;            /* rate limits; 0 = now * 1e6 */
} rt_query_t;

typedef enum {
    RT_NOROUTE = 0, /* no rule matched, or the matched rule could not route: see reason */
    RT_ROUTE,
    RT_REJECT,
    RT_DROP
} rt_kind_t;

typedef enum {
    RT_RATE_NONE = 0,    /* the rule has no rate limit */
    RT_RATE_OK,          /* a token was taken */
    RT_RATE_OVER_QUEUE,  /* over the limit, "over": "queue": routed, to be held back
                          * until rate_due_us (a token booked for it) */
    RT_RATE_OVER_REJECT  /* over the limit, "over": "reject": kind RT_REJECT */
} rt_rate_verdict_t;

#define RT_TARGETS_MAX 8

#define RT_SET_HEADERS_MAX 16 /* action.set.headers (tags GW_TAG_AMQP_OUT) */

typedef struct rt_target {
    const char *connector;
    double cost;          /* least cost only; -1 otherwise */
    const char *currency; /* least cost only; NULL otherwise */
} rt_target_t;

typedef struct rt_decision {
    rt_kind_t kind;
    long long rule_id;       /* -1 when no rule matched */
    const char *rule_name;   /* NULL when no rule matched */
    const char *reason;      /* why: no route, reject reason, drop; never NULL */
    int sip_status;          /* RT_REJECT (and RT_NOROUTE: 404) */
    int smpp_status;         /* RT_REJECT (and RT_NOROUTE: ESME_RINVDSTADR) */
    int strategy;            /* rt_pick_kind_t of the rule (RT_ROUTE) */
    size_t ntargets;
    rt_target_t targets[RT_TARGETS_MAX]; /* first = preferred, then the failover order */
    /* The message's addresses after the rule's rewrites: equal to the
     * query's when nothing was rewritten, else pointing at the buffers. */
    gw_addr_t from, to;
    int from_rewritten, to_rewritten;
    const rt_tag_t *tags;    /* tags to set */
    size_t ntags;
    int validity_s;          /* -1: unchanged */
    int receipt;             /* -1: unchanged; 0 or 1: receipt request */
    const char *mirror_exchange;    /* NULL: no mirror */
    const char *mirror_routing_key;
    rt_rate_verdict_t rate;
    int64_t rate_due_us;     /* RT_RATE_OVER_QUEUE: when the token booked for this message
                              * is due (the query's clock); 0 otherwise */
    char from_buf[GW_ADDR_MAX + 1];
    char to_buf[GW_ADDR_MAX + 1];
} rt_decision_t;

const char *rt_kind_name(rt_kind_t k); /* "no_route", "route", "reject", "drop" */

#endif
