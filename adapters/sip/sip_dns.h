/*
 * sip_dns.h - RFC 3263 server location for the SIP proxy, private to
 * adapters/sip/.  "Which addresses, ports and transports do I try, in
 * which order, for sip:bob@example.com?", answered without ever blocking
 * a worker.
 *
 * Table of contents:
 *   sip_dns_rr.c  pure: the records as the resolver keeps them, the
 *                 NAPTR order (RFC 3403/3263 8: order, then preference,
 *                 only the services junction speaks), the SRV order
 *                 (RFC 2782: priority, then weighted random within one
 *                 priority), the smallest TTL of an answer, and the
 *                 cache (TTLs with a floor and a ceiling, negative
 *                 entries, a bounded table under one mutex).
 *   sip_dns.c     the asynchronous side: one c-ares channel per worker
 *                 (its sockets as libevent events on that worker's
 *                 event_base, its timeouts as one libevent timer), the
 *                 NAPTR -> SRV -> A/AAAA walk of RFC 3263 4.1/4.2, the
 *                 parameters, statistics, trace records and the MI
 *                 methods sip.dns.resolve and sip.dns.flush.
 *
 * Why c-ares and not libevent's evdns: evdns asks only A, AAAA and PTR;
 * RFC 3263 needs NAPTR and SRV (ARCHITECTURE.md).
 *
 * Threads: the pure parts any thread (the cache locks its own mutex);
 * sip_dns_resolve and its callback on the calling worker; the MI methods
 * on the MI thread (a channel of their own on a private event_base).
 */
#ifndef SIP_DNS_H
#define SIP_DNS_H

#include <stdint.h>
#include <sys/socket.h>

#include "sip.h"

#define SIP_DNS_MAX_RR 16      /* records of one answer kept */
#define SIP_DNS_MAX_TARGETS 16 /* targets handed to a caller */
#define SIP_DNS_NAME_MAX 256

/* Transports (a bit each in a "supported" mask). */
enum {
    SIP_DNS_ANY = 0, /* not given: NAPTR / SRV decide */
    SIP_DNS_UDP = 1,
    SIP_DNS_TCP = 2,
    SIP_DNS_TLS = 4,
};
/* The transports junction speaks today (NAPTR / SRV of others are skipped). */
#define SIP_DNS_SUPPORTED (SIP_DNS_UDP | SIP_DNS_TCP | SIP_DNS_TLS)

/* Record types as on the wire. */
enum { SIP_DNS_T_A = 1, SIP_DNS_T_AAAA = 28, SIP_DNS_T_SRV = 33, SIP_DNS_T_NAPTR = 35 };

/* One record of an answer, as kept in the cache. */
typedef struct sip_dns_rr {
    uint16_t order, pref;         /* NAPTR */
    uint16_t prio, weight, port;  /* SRV */
    char flags[8];                /* NAPTR, lower case */
    char service[24];             /* NAPTR, upper case ("SIP+D2U") */
    char name[SIP_DNS_NAME_MAX];  /* NAPTR replacement, SRV target */
    struct sockaddr_storage addr; /* A / AAAA (port 0) */
} sip_dns_rr_t;

/* One place to try: what the caller gets. */
typedef struct sip_dns_target {
    int transport;                /* SIP_DNS_UDP / TCP / TLS */
    struct sockaddr_storage addr; /* IPv4 or IPv6, port set */
    socklen_t addr_len;
    uint16_t port, prio, weight;
} sip_dns_target_t;

/* ---- sip_dns_rr.c: pure ---- */
/* The transport of NAPTR service s ("SIP+D2U" -> UDP, "SIP+D2T" -> TCP,
 * "SIPS+D2T" -> TLS; case-insensitive), 0 for any other. */
int sip_dns_naptr_transport(const char *service);
/* The usable NAPTR records of rr[0..n) (flag "s", a service whose
 * transport is in mask, sips: only SIPS+D2T) in the order to try them:
 * their indices into out, by order then preference (stable).  Count. */
int sip_dns_naptr_order(const sip_dns_rr_t *rr, int n, int mask, int sips, int *out);
/* The SRV records rr[0..n) in the order to try them (RFC 2782): by
 * priority; within one priority a weighted random draw without
 * replacement (weight 0 records have a small chance, as the RFC says),
 * rnd() giving uniform numbers in [0, 2^31).  Indices into out; a target
 * "." (service not offered) is left out.  Count. */
int sip_dns_srv_order(const sip_dns_rr_t *rr, int n, long (*rnd)(void), int *out);
/* The smallest TTL of the answer and authority records of DNS message
 * abuf[0..alen), or -1 when it has none or is malformed. */
long sip_dns_min_ttl(const unsigned char *abuf, int alen);
/* 1 when s is an IPv4 or IPv6 literal (with or without []): into sa
 * (port 0) with its length in *len. */
int sip_dns_numeric(const char *s, struct sockaddr_storage *sa, socklen_t *len);

/* The cache, shared by the workers and the MI (one mutex).  Entries are
 * (name, type) -> records, with an expiry: ttl clamped to
 * [ttl_min, ttl_max] seconds; n 0 is a negative entry (NXDOMAIN / no
 * data).  A bounded open-addressing table of cap slots: a full probe
 * window replaces its earliest expiry. */
int sip_dns_cache_init(int cap);  /* 0 or GW_ENOMEM; replaces the old one */
void sip_dns_cache_free(void);
void sip_dns_cache_flush(void);   /* every entry gone */
int sip_dns_cache_count(void);
void sip_dns_cache_put(const char *name, int type, const sip_dns_rr_t *rr, int n, long ttl_s,
                       int ttl_min, int ttl_max, int64_t now_ms);
/* Records of (name, type) live at now_ms: their count (0: a negative
 * entry) copied into rr (room for SIP_DNS_MAX_RR), -1: not cached. */
int sip_dns_cache_get(const char *name, int type, sip_dns_rr_t *rr, int64_t now_ms);

/* ---- sip_dns.c: asynchronous ---- */
/* Parameters (sip_adapter.c's table points here). */
typedef struct sip_dns_conf {
    char servers[256]; /* sip.dns_servers: "" = /etc/resolv.conf */
    int timeout_ms;    /* sip.dns_timeout_ms, per try */
    int tries;         /* sip.dns_tries */
    int cache_max;     /* sip.dns_cache_max */
    int naptr;         /* sip.dns_naptr: runtime, read atomically */
    int ttl_min_s;     /* sip.dns_ttl_min_s / _max_s: runtime */
    int ttl_max_s;
} sip_dns_conf_t;
extern sip_dns_conf_t sip_dns_conf;

/* The result: n targets in the order to try them (t is the callee's,
 * valid during the call); rc 0, or GW_ENOTFOUND (the name has no
 * usable record), GW_EAGAIN (servers failed or timed out), GW_ESTOPPED
 * (the resolver is going: do nothing). */
typedef void (*sip_dns_cb)(void *arg, const sip_dns_target_t *t, int n, int rc);

/* Resolve host (no []; port 0: none given; transport SIP_DNS_ANY or one
 * of them; sips: a sips: URI) for worker w as RFC 3263 4 says: a numeric
 * IP is not looked up; a port given: A/AAAA only; else NAPTR (when
 * sip.dns_naptr), SRV, A/AAAA, with 5060 / 5061 when nothing else names
 * a port.  cb(arg, ...) runs once on w's thread, perhaps before this
 * returns (a numeric host, everything cached).  0, or GW_ENOMEM /
 * GW_ERROR (then cb never runs).  Worker thread of w. */
int sip_dns_resolve(sip_worker_t *w, const char *host, int port, int transport, int sips,
                    sip_dns_cb cb, void *arg);
/* Parameters and statistics: main thread, adapter init.  0 or GW_ENOMEM. */
int sip_dns_init(void);
/* Every worker's channel (pending callbacks run with GW_ESTOPPED) and the
 * cache: main thread, after the workers were joined, before their bases
 * are freed. */
void sip_dns_free_all(void);
/* The name of transport t ("udp", "tcp", "tls"). */
const char *sip_dns_transport_name(int t);
/* MI sip.dns.resolve {host, transport?, port?} (viewer), sip.dns.flush (admin). */
void sip_dns_mi_resolve(const json_t *params, gw_mi_reply_t *r);
void sip_dns_mi_flush(const json_t *params, gw_mi_reply_t *r);

#endif
