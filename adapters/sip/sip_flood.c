/*
 * sip_flood.c - per-source request rate limits and the ban list
 * (docs/sip-auth.md, "Flood protection").
 *
 * Each source address has a token bucket: sip.flood_burst tokens, refilled
 * at sip.flood_rate per second; a request that counts (every method but
 * ACK and CANCEL, which must reach their transactions; responses are not
 * counted) takes one.  A request that finds the bucket empty is refused:
 * answered 503 with Retry-After, or dropped (sip.flood_action).  An
 * episode of refusals lasts until a request finds the bucket full again
 * (the source calmed down for burst / rate seconds); its sip.ban_after-th
 * refusal bans the source for sip.ban_s seconds, and until then every
 * packet of it is dropped here, before it is parsed.  A trusted source
 * (trusted.*) is never refused nor banned: the trusted list is asked only
 * when a request would be refused, so the common path costs one lock.
 *
 * The table: SIP_FLOOD_SHARDS shards, each a mutex and an open-addressed
 * array; a source hashes (keyed with a random seed, so nobody can aim at
 * a slot) to one shard and a start slot, and lives in one of the
 * SIP_FLOOD_PROBE slots from there.  A new source takes a free slot of
 * those, else the one seen longest ago that is not banned; when all of
 * them are banned it is not tracked (it passes).  So every packet costs
 * O(1) and the memory is bounded (sip_flood_new's slots), and a spoofed
 * flood of addresses evicts the old quiet entries, not the bans.
 * Expired bans are cleared by the next packet of their source, by the
 * list, and by a sweep each second while any ban is active (so the gauge
 * sip.bans_active falls when they end).
 *
 * Ownership: the table owns its shards; entries are values in them.
 * Threads: the table on any thread (each shard's mutex guards its slots;
 * the ban count is an atomic); sip_flood_input on the workers; init,
 * the sweep and destroy on the main thread; MI on the MI thread.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_param.h"
#include "gw_trace.h"
#include "gw_trusted.h"
#include "sip_flood.h"

#define SIP_FLOOD_SHARDS 64
#define SIP_FLOOD_PROBE 8
#define SIP_FLOOD_SLOTS 32768 /* the adapter's table: 32768 sources, 2 MB */

typedef struct sip_flood_ent {
    sip_flood_key_t key;
    int used;
    int64_t last_ms;       /* the bucket's last refill (and the last request) */
    int64_t tokens;        /* thousandths of a token */
    uint32_t refusals;     /* in the running episode */
    int64_t since_ms;      /* banned since, 0: not banned */
    int64_t until_ms;
    uint64_t hits;         /* packets dropped during the ban */
} sip_flood_ent_t;

typedef struct sip_flood_shard {
    pthread_mutex_t lock; /* guards slots */
    sip_flood_ent_t *slots;
} __attribute__((aligned(64))) sip_flood_shard_t; /* a cache line each: no false sharing */

struct sip_flood {
    unsigned per_shard;   /* a power of two */
    uint64_t seed[2];
    int nbans;            /* atomic */
    sip_flood_shard_t shard[SIP_FLOOD_SHARDS];
};

/* ---- the table ---- */

sip_flood_t *sip_flood_new(unsigned slots)
{
    sip_flood_t *t = aligned_alloc(64, (sizeof(sip_flood_t) + 63) / 64 * 64);
    unsigned per = 64;

    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    while (per * SIP_FLOOD_SHARDS < slots && per < (1u << 20))
        per <<= 1;
    t->per_shard = per;
    randombytes_buf(t->seed, sizeof t->seed);
    for (int i = 0; i < SIP_FLOOD_SHARDS; i++) {
        pthread_mutex_init(&t->shard[i].lock, NULL);
        t->shard[i].slots = calloc(per, sizeof(sip_flood_ent_t));
        if (!t->shard[i].slots) {
            sip_flood_free(t);
            return NULL;
        }
    }
    return t;
}

void sip_flood_free(sip_flood_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < SIP_FLOOD_SHARDS; i++) {
        free(t->shard[i].slots);
        pthread_mutex_destroy(&t->shard[i].lock);
    }
    free(t);
}

/* A keyed mix of the 16 bytes (splitmix64 finaliser over two words). */
static uint64_t sip_flood_hash(const sip_flood_t *t, const sip_flood_key_t *k)
{
    uint64_t a, b, h;

    memcpy(&a, k->a, 8);
    memcpy(&b, k->a + 8, 8);
    h = (a ^ t->seed[0]) * 0x9e3779b97f4a7c15ULL;
    h ^= (b ^ t->seed[1]) + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

/* An entry's ban ended at now: cleared, its bucket full again. */
static void sip_flood_unban_ent(sip_flood_t *t, sip_flood_ent_t *e, int64_t now_ms,
                                int64_t burst_milli)
{
    e->since_ms = e->until_ms = 0;
    e->hits = 0;
    e->refusals = 0;
    e->tokens = burst_milli;
    e->last_ms = now_ms;
    __atomic_sub_fetch(&t->nbans, 1, __ATOMIC_RELAXED);
}

/* The slot of k in shard s (locked) from start h, or a slot for it
 * (cleared, key set) when add, or NULL. */
static sip_flood_ent_t *sip_flood_slot(sip_flood_t *t, sip_flood_shard_t *s, uint64_t h,
                                       const sip_flood_key_t *k, int add)
{
    sip_flood_ent_t *free_e = NULL, *old = NULL, *e;
    unsigned mask = t->per_shard - 1;

    for (unsigned i = 0; i < SIP_FLOOD_PROBE; i++) {
        e = &s->slots[(h + i) & mask];
        if (e->used && memcmp(&e->key, k, sizeof *k) == 0)
            return e;
        if (!e->used) {
            if (!free_e)
                free_e = e;
        } else if (e->since_ms == 0 && (!old || e->last_ms < old->last_ms)) {
            old = e;
        }
    }
    if (!add)
        return NULL;
    e = free_e ? free_e : old;
    if (e) {
        memset(e, 0, sizeof *e);
        e->used = 1;
        e->key = *k;
    }
    return e;
}

sip_flood_verdict_t sip_flood_check(sip_flood_t *t, const sip_flood_key_t *k, int request,
                                    int64_t now_ms, const sip_flood_limits_t *lim)
{
    uint64_t h = sip_flood_hash(t, k);
    sip_flood_shard_t *s = &t->shard[h % SIP_FLOOD_SHARDS];
    int64_t burst = (int64_t)(lim->burst > 0 ? lim->burst : 1) * 1000;
    sip_flood_verdict_t rc = SIP_FLOOD_PASS;
    sip_flood_ent_t *e;

    h /= SIP_FLOOD_SHARDS;
    pthread_mutex_lock(&s->lock);
    e = sip_flood_slot(t, s, h, k, request && lim->rate > 0);
    if (!e)
        goto out_unlock; /* not tracked: no ban, no limit (or no room) */
    if (e->since_ms != 0) {
        if (now_ms < e->until_ms) {
            e->hits++;
            rc = SIP_FLOOD_BANNED;
            goto out_unlock;
        }
        sip_flood_unban_ent(t, e, now_ms, burst);
    }
    if (!request || lim->rate <= 0)
        goto out_unlock;
    if (e->last_ms == 0) { /* new: a full bucket */
        e->tokens = burst;
    } else if (now_ms > e->last_ms) {
        e->tokens += (now_ms - e->last_ms) * (int64_t)lim->rate;
        if (e->tokens > burst)
            e->tokens = burst;
    }
    e->last_ms = now_ms;
    if (e->tokens >= burst)
        e->refusals = 0; /* calm again: the episode is over */
    if (e->tokens >= 1000) {
        e->tokens -= 1000;
        goto out_unlock;
    }
    if (lim->trusted && lim->trusted(k, lim->arg))
        goto out_unlock; /* trusted: never refused */
    e->refusals++;
    rc = SIP_FLOOD_LIMIT;
    if (lim->ban_after > 0 && e->refusals >= (uint32_t)lim->ban_after && lim->ban_s > 0) {
        e->since_ms = now_ms;
        e->until_ms = now_ms + (int64_t)lim->ban_s * 1000;
        __atomic_add_fetch(&t->nbans, 1, __ATOMIC_RELAXED);
        rc = SIP_FLOOD_BAN;
    }
out_unlock:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int sip_flood_bans(sip_flood_t *t, int64_t now_ms,
                   void (*fn)(const sip_flood_ban_t *b, void *arg), void *arg)
{
    int n = 0;

    for (int i = 0; i < SIP_FLOOD_SHARDS; i++) {
        sip_flood_shard_t *s = &t->shard[i];
        pthread_mutex_lock(&s->lock);
        for (unsigned j = 0; j < t->per_shard; j++) {
            sip_flood_ent_t *e = &s->slots[j];
            if (!e->used || e->since_ms == 0)
                continue;
            if (now_ms >= e->until_ms) {
                sip_flood_unban_ent(t, e, now_ms, 0);
                e->last_ms = 0; /* its next request finds a full bucket, as a new one */
                continue;
            }
            n++;
            if (fn) {
                sip_flood_ban_t b = {e->key, e->since_ms, e->until_ms, e->hits, e->refusals};
                fn(&b, arg);
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

int sip_flood_unban(sip_flood_t *t, const sip_flood_key_t *k, int64_t now_ms)
{
    uint64_t h = sip_flood_hash(t, k);
    sip_flood_shard_t *s = &t->shard[h % SIP_FLOOD_SHARDS];
    sip_flood_ent_t *e;
    int rc = GW_ENOTFOUND;

    pthread_mutex_lock(&s->lock);
    e = sip_flood_slot(t, s, h / SIP_FLOOD_SHARDS, k, 0);
    if (e && e->since_ms != 0) {
        /* lifted with an empty bucket: the next request is taken as soon
         * as a token came back, a flood goes on being refused */
        int live = now_ms < e->until_ms;
        sip_flood_unban_ent(t, e, now_ms, 1000);
        rc = live ? 0 : GW_ENOTFOUND;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int sip_flood_nbans(const sip_flood_t *t)
{
    return __atomic_load_n(&t->nbans, __ATOMIC_RELAXED);
}

void sip_flood_key_text(const sip_flood_key_t *k, char *out, size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (memcmp(k->a, mapped, 12) == 0)
        inet_ntop(AF_INET, k->a + 12, out, (socklen_t)n);
    else
        inet_ntop(AF_INET6, k->a, out, (socklen_t)n);
}

int sip_flood_key_parse(const char *s, sip_flood_key_t *k)
{
    memset(k, 0, sizeof *k);
    if (inet_pton(AF_INET, s, k->a + 12) == 1) {
        k->a[10] = k->a[11] = 0xff;
        return 0;
    }
    return inet_pton(AF_INET6, s, k->a) == 1 ? 0 : -1;
}

/* ---- the adapter's side ---- */

sip_flood_conf_t sip_flood_conf;
static sip_flood_t *sip_flood_table;
static struct event *sip_flood_sweep_ev;
static gw_stat_t *sip_flood_limited, *sip_flood_dropped, *sip_bans_active, *sip_bans_total;

/* The key of a peer (IPv6, or IPv4 mapped), and its "ip:port" text
 * ("[ip6]:port"): the two places that read sip_peer_t's address. */
static void sip_flood_key_of(const sip_peer_t *p, sip_flood_key_t *k)
{
    memset(k, 0, sizeof *k);
    if (p->addr.sa.sa_family == AF_INET6) {
        memcpy(k->a, &p->addr.in6.sin6_addr, 16);
        return;
    }
    k->a[10] = k->a[11] = 0xff;
    memcpy(k->a + 12, &p->addr.in.sin_addr, 4);
}

static void sip_flood_peer_text(const sip_peer_t *p, char *out, size_t n)
{
    sip_sa_str(&p->addr, out, n);
}

static int sip_flood_trusted(const sip_flood_key_t *k, void *arg)
{
    char ip[64], name[64];
    (void)arg;

    sip_flood_key_text(k, ip, sizeof ip);
    return gw_trusted_find(ip, name, sizeof name);
}

/* sip.flood_action's hook: the workers read the int. */
static void sip_flood_on_action(const gw_param_t *p)
{
    (void)p;
    if (strcmp(sip_flood_conf.action, "drop") != 0 && strcmp(sip_flood_conf.action, "503") != 0)
        GW_WARN(SIP_LOG, "sip.flood_action '%s': 503 or drop; taken as 503", sip_flood_conf.action);
    __atomic_store_n(&sip_flood_conf.drop, strcmp(sip_flood_conf.action, "drop") == 0,
                     __ATOMIC_RELAXED);
}

static const gw_param_hook_t sip_flood_hooks[] = {
    {"sip.flood_action", sip_flood_on_action},
    {NULL, NULL},
};

/* A trace record on the flood's decision (kind log). */
static void sip_flood_trace(const sip_peer_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sip_flood_trace(const sip_peer_t *p, const char *fmt, ...)
{
    char peer[64];
    va_list ap;

    sip_flood_peer_text(p, peer, sizeof peer);
    va_start(ap, fmt);
    gw_trace_vlogf("sip", peer, NULL, fmt, ap);
    va_end(ap);
}

/* 1 when buf[0..n) is a request that counts: not a response, not ACK or
 * CANCEL, not a keep-alive of CRLFs. */
static int sip_flood_counts(const char *buf, size_t n)
{
    size_t i = 0;

    while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    buf += i;
    n -= i;
    return n >= 4 && strncmp(buf, "SIP/", 4) != 0 && !(n >= 4 && memcmp(buf, "ACK ", 4) == 0) &&
           !(n >= 7 && memcmp(buf, "CANCEL ", 7) == 0);
}

/* 503 with Retry-After to the refused request buf[0..n). */
static void sip_flood_answer(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer)
{
    static const char tail[] = "Content-Length: 0\r\n\r\n";
    static const char ra[] = "Retry-After: 1\r\n";
    size_t len = 0, tl = sizeof tail - 1;
    char *resp = sip_build_raw_response(buf, n, 503, "Service Unavailable (flood)", &len);
    char *out = resp ? malloc(len + sizeof ra) : NULL;

    if (out && len >= tl && memcmp(resp + len - tl, tail, tl) == 0) {
        memcpy(out, resp, len - tl);
        memcpy(out + len - tl, ra, sizeof ra - 1);
        memcpy(out + len - tl + sizeof ra - 1, tail, tl);
        sip_worker_send(w, peer, out, len + sizeof ra - 1);
        gw_stat_add(sip_stats.tx_5xx, 1);
    }
    free(out);
    free(resp);
}

int sip_flood_input(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer)
{
    sip_flood_limits_t lim;
    sip_flood_key_t k;
    sip_flood_verdict_t v;
    int drop;

    lim.rate = __atomic_load_n(&sip_flood_conf.rate, __ATOMIC_RELAXED);
    if (!sip_flood_table || (lim.rate <= 0 && sip_flood_nbans(sip_flood_table) == 0))
        return 0; /* off, and nobody banned: nothing to look up */
    lim.burst = __atomic_load_n(&sip_flood_conf.burst, __ATOMIC_RELAXED);
    lim.ban_after = __atomic_load_n(&sip_flood_conf.ban_after, __ATOMIC_RELAXED);
    lim.ban_s = __atomic_load_n(&sip_flood_conf.ban_s, __ATOMIC_RELAXED);
    lim.trusted = sip_flood_trusted;
    lim.arg = NULL;
    sip_flood_key_of(peer, &k);
    v = sip_flood_check(sip_flood_table, &k, sip_flood_counts(buf, n), gw_now_ms(), &lim);
    if (v == SIP_FLOOD_PASS)
        return 0;
    if (v == SIP_FLOOD_BANNED) {
        gw_stat_add(sip_flood_dropped, 1);
        return 1;
    }
    drop = __atomic_load_n(&sip_flood_conf.drop, __ATOMIC_RELAXED);
    gw_stat_add(sip_flood_limited, 1);
    if (v == SIP_FLOOD_BAN) {
        gw_stat_add(sip_bans_total, 1);
        gw_stat_set(sip_bans_active, sip_flood_nbans(sip_flood_table));
    }
    if (gw_trace_on()) {
        sip_flood_trace(peer, "flood: request over sip.flood_rate %d/s (burst %d): %s",
                        lim.rate, lim.burst, drop ? "dropped" : "503");
        if (v == SIP_FLOOD_BAN)
            sip_flood_trace(peer, "flood: source banned for %d s after %d refusals "
                            "(sip.ban_after)", lim.ban_s, lim.ban_after);
    }
    if (v == SIP_FLOOD_BAN) {
        char who[64];
        sip_flood_peer_text(peer, who, sizeof who);
        GW_INFO(SIP_LOG, "banned %s for %d s: %d requests over sip.flood_rate", who, lim.ban_s,
                lim.ban_after);
    }
    if (!drop)
        sip_flood_answer(w, buf, n, peer);
    return 1;
}

/* Each second while a ban is active: clear the ended ones (the gauge). */
static void sip_flood_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (sip_flood_nbans(sip_flood_table) > 0)
        sip_flood_bans(sip_flood_table, gw_now_ms(), NULL, NULL);
    gw_stat_set(sip_bans_active, sip_flood_nbans(sip_flood_table));
}

int sip_flood_init(struct event_base *main_base)
{
    struct timeval sec = {1, 0};

    sip_flood_limited = gw_stat("sip.flood_limited",
                                "requests refused over sip.flood_rate (answered 503 or dropped)");
    sip_flood_dropped = gw_stat("sip.flood_dropped",
                                "packets of banned sources dropped unread");
    sip_bans_active = gw_stat_gauge("sip.bans_active", "sources banned now (sip.bans.list)");
    sip_bans_total = gw_stat("sip.bans_total", "bans made (sip.ban_after refusals)");
    if (gw_params_register_hooks(sip_flood_hooks) != 0)
        return GW_EFULL;
    sip_flood_on_action(NULL);
    if (!sip_flood_table && !(sip_flood_table = sip_flood_new(SIP_FLOOD_SLOTS)))
        return GW_ENOMEM;
    if (main_base && !sip_flood_sweep_ev) {
        sip_flood_sweep_ev = event_new(main_base, -1, EV_PERSIST, sip_flood_on_sweep, NULL);
        if (!sip_flood_sweep_ev)
            return GW_ENOMEM;
        event_add(sip_flood_sweep_ev, &sec);
    }
    return 0;
}

void sip_flood_stop(void)
{
    if (sip_flood_sweep_ev)
        event_free(sip_flood_sweep_ev);
    sip_flood_sweep_ev = NULL;
}

void sip_flood_destroy(void)
{
    sip_flood_stop();
    sip_flood_free(sip_flood_table);
    sip_flood_table = NULL;
}

/* ---- MI ---- */

/* UTC ms as "2026-12-02T03:04:05Z". */
static json_t *sip_flood_time(int64_t ms)
{
    char s[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(s);
}

static void sip_flood_mi_one(const sip_flood_ban_t *b, void *arg)
{
    char ip[64], reason[96];

    sip_flood_key_text(&b->key, ip, sizeof ip);
    snprintf(reason, sizeof reason, "%u requests over sip.flood_rate", b->refusals);
    json_array_append_new(arg, json_pack("{s:s, s:o, s:o, s:I, s:s, s:I}", "ip", ip, "since",
                                         sip_flood_time(b->since_ms), "until",
                                         sip_flood_time(b->until_ms), "remaining_s",
                                         (json_int_t)((b->until_ms - gw_now_ms() + 999) / 1000),
                                         "reason", reason, "hits", (json_int_t)b->hits));
}

void sip_flood_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *a = json_array();
    (void)params;

    if (!a || !sip_flood_table) {
        json_decref(a);
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "no ban table");
        return;
    }
    sip_flood_bans(sip_flood_table, gw_now_ms(), sip_flood_mi_one, a);
    gw_stat_set(sip_bans_active, sip_flood_nbans(sip_flood_table));
    gw_mi_result(r, a);
}

void sip_flood_mi_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *ip = json_string_value(json_object_get(params, "ip"));
    sip_flood_key_t k;

    if (!ip || sip_flood_key_parse(ip, &k) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "ip: an IPv4 or IPv6 address");
        return;
    }
    if (!sip_flood_table || sip_flood_unban(sip_flood_table, &k, gw_now_ms()) != 0) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "%s: not banned", ip);
        return;
    }
    gw_stat_set(sip_bans_active, sip_flood_nbans(sip_flood_table));
    GW_INFO(SIP_LOG, "ban of %s lifted (sip.bans.delete)", ip);
    gw_mi_result(r, json_pack("{s:s}", "deleted", ip));
}
