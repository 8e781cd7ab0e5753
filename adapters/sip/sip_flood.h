/*
 * sip_flood.h - flood protection of the SIP adapter (docs/sip-auth.md,
 * "Flood protection"), private to adapters/sip/.
 *
 * Table of contents (all in sip_flood.c):
 *   the table   pure: one token bucket and ban record per source address
 *               in a sharded, bounded hash (sip_flood_new .. _sweep);
 *               the clock and the trusted check are passed in, so
 *               tests/unit/test_sip_flood.c drives it alone;
 *   the worker  sip_flood_input: every packet before it is parsed;
 *   the MI      sip.bans.list / sip.bans.delete.
 *
 * The address: a source is keyed by 16 bytes (an IPv4 address as
 * ::ffff:a.b.c.d), so IPv6 fits without a change of the table;
 * sip_flood_key_of is the one place that reads a sip_peer_t's address.
 *
 * Threads: the table on any thread (a mutex per shard); sip_flood_input
 * on the workers; init / free and the sweep timer on the main thread;
 * the MI handlers on the MI thread.
 */
#ifndef SIP_FLOOD_H
#define SIP_FLOOD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sip.h"

/* ---- the table: pure ---- */
typedef struct sip_flood_key {
    uint8_t a[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
} sip_flood_key_t;

/* The limits one decision uses, read once per packet. */
typedef struct sip_flood_limits {
    int rate;      /* requests per second per source, 0: no limit */
    int burst;     /* the bucket's size (at least 1) */
    int ban_after; /* refusals in one episode before a ban, 0: never banned */
    int ban_s;     /* a ban's length */
    /* 1 when the source is trusted (never limited nor banned); asked only
     * when a request would be refused; NULL: nobody is */
    int (*trusted)(const sip_flood_key_t *k, void *arg);
    void *arg;
} sip_flood_limits_t;

typedef enum sip_flood_verdict {
    SIP_FLOOD_PASS = 0, /* handle the packet */
    SIP_FLOOD_LIMIT,    /* a request over the rate: refuse it (503 or drop) */
    SIP_FLOOD_BAN,      /* the same, and the source is banned from now on */
    SIP_FLOOD_BANNED,   /* a packet of a banned source: drop it unread */
} sip_flood_verdict_t;

typedef struct sip_flood sip_flood_t;

/* A table of about slots sources (rounded up to a power of two, at least
 * 64 per shard).  NULL without memory.  Free with sip_flood_free. */
sip_flood_t *sip_flood_new(unsigned slots);
void sip_flood_free(sip_flood_t *t);
/* The verdict on a packet from k at now_ms; request: a request that
 * counts (not ACK, not CANCEL, not a response).  O(1): one shard lock,
 * at most SIP_FLOOD_PROBE slots looked at. */
sip_flood_verdict_t sip_flood_check(sip_flood_t *t, const sip_flood_key_t *k, int request,
                                    int64_t now_ms, const sip_flood_limits_t *lim);
/* One active ban, as sip_flood_bans reports it. */
typedef struct sip_flood_ban {
    sip_flood_key_t key;
    int64_t since_ms, until_ms;
    uint64_t hits;     /* packets dropped during the ban */
    uint32_t refusals; /* requests refused before it */
} sip_flood_ban_t;
/* Call fn for each active ban (expired ones are cleared); the number of
 * active bans.  fn runs under a shard lock: it must not call the table. */
int sip_flood_bans(sip_flood_t *t, int64_t now_ms,
                   void (*fn)(const sip_flood_ban_t *b, void *arg), void *arg);
/* Lift k's ban: 0, or GW_ENOTFOUND when it has none. */
int sip_flood_unban(sip_flood_t *t, const sip_flood_key_t *k, int64_t now_ms);
/* Active bans now (a count kept by the table). */
int sip_flood_nbans(const sip_flood_t *t);
/* The text of k (IPv4 dotted when mapped) into out (at least 46 bytes);
 * sip_flood_key_parse the reverse: 0 or -1. */
void sip_flood_key_text(const sip_flood_key_t *k, char *out, size_t n);
int sip_flood_key_parse(const char *s, sip_flood_key_t *k);

/* ---- parameters (entries in sip_adapter.c's table) ---- */
typedef struct sip_flood_conf {
    int rate;            /* sip.flood_rate, runtime: read atomically; 0: off */
    int burst;           /* sip.flood_burst */
    char action[8];      /* sip.flood_action: "503" or "drop" (its hook sets drop) */
    int drop;            /* 1: refused requests are dropped, 0: answered 503 */
    int ban_after;       /* sip.ban_after */
    int ban_s;           /* sip.ban_s */
} sip_flood_conf_t;
extern sip_flood_conf_t sip_flood_conf;

/* ---- the worker side ---- */
/* Stats, the table, the hook of sip.flood_action, the sweep timer.  0 or
 * a negative code.  Main thread, adapter init. */
int sip_flood_init(struct event_base *main_base);
void sip_flood_stop(void); /* the sweep timer goes; main thread */
void sip_flood_destroy(void);
/* Every packet from peer before it is parsed: 1 when it was taken here
 * (dropped, or refused 503), 0 to handle it.  Worker thread. */
int sip_flood_input(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer);
/* MI sip.bans.list (viewer) and sip.bans.delete {ip} (admin). */
void sip_flood_mi_list(const json_t *params, gw_mi_reply_t *r);
void sip_flood_mi_delete(const json_t *params, gw_mi_reply_t *r);

#endif
