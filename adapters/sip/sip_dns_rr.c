/*
 * sip_dns_rr.c - the pure parts of RFC 3263 server location: which NAPTR
 * and SRV records to follow in which order, the TTL of an answer, and
 * the cache of answers.
 *
 * NAPTR (RFC 3263 4.1, RFC 3403): only terminal records (flag "s") whose
 * service is one junction speaks (SIP+D2U, SIP+D2T; SIPS+D2T when TLS is
 * in the mask; a sips: URI takes SIPS+D2T only), by increasing order,
 * then increasing preference; equal keys keep the answer's order.
 *
 * SRV (RFC 2782): by increasing priority; within a priority, repeatedly
 * draw one of the records left with probability weight / sum of the
 * weights left (records of weight 0 first in the running sum, so they
 * have a small chance when others weigh something, and an equal one when
 * every weight is 0).
 *
 * Cache: (name, type) -> up to SIP_DNS_MAX_RR records and an expiry in
 * the monotonic ms clock.  The TTL is clamped to the floor and ceiling
 * the caller gives (sip.dns_ttl_min_s / _max_s); an answer without
 * records (NXDOMAIN, no data) is a negative entry.  The table is open
 * addressing over cap slots with a probe window of 8: a put takes the
 * slot of the same key, else an empty or expired one, else the window's
 * earliest expiry, so a full cache costs neither memory nor time.
 *
 * Ownership: the cache owns its slots (sip_dns_cache_init / _free);
 * everything else reads what it is given.
 * Threads: any; the cache under sip_dns_cache_lock.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_errors.h"
#include "sip_dns.h"

#define SIP_DNS_PROBE 8

int sip_dns_naptr_transport(const char *service)
{
    int t = 0;

    if (strcasecmp(service, "SIP+D2U") == 0)
        t = SIP_DNS_UDP;
    else if (strcasecmp(service, "SIP+D2T") == 0)
        t = SIP_DNS_TCP;
    else if (strcasecmp(service, "SIPS+D2T") == 0)
        t = SIP_DNS_TLS;
    return t;
}

int sip_dns_naptr_order(const sip_dns_rr_t *rr, int n, int mask, int sips, int *out)
{
    int k = 0;

    for (int i = 0; i < n && i < SIP_DNS_MAX_RR; i++) {
        int t = sip_dns_naptr_transport(rr[i].service);
        if (strcasecmp(rr[i].flags, "s") != 0 || !(t & mask) || (sips && t != SIP_DNS_TLS))
            continue;
        out[k++] = i;
    }
    for (int i = 1; i < k; i++) /* insertion sort: stable, k <= 16 */
        for (int j = i; j > 0; j--) {
            const sip_dns_rr_t *a = &rr[out[j]], *b = &rr[out[j - 1]];
            int t;
            if (a->order > b->order || (a->order == b->order && a->pref >= b->pref))
                break;
            t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return k;
}

int sip_dns_srv_order(const sip_dns_rr_t *rr, int n, long (*rnd)(void), int *out)
{
    int idx[SIP_DNS_MAX_RR], m = 0, k = 0;

    for (int i = 0; i < n && i < SIP_DNS_MAX_RR; i++)
        if (strcmp(rr[i].name, ".") != 0 && rr[i].name[0] != '\0')
            idx[m++] = i;
    for (int i = 1; i < m; i++) /* by priority, weight 0 first within one */
        for (int j = i; j > 0; j--) {
            const sip_dns_rr_t *a = &rr[idx[j]], *b = &rr[idx[j - 1]];
            int t;
            if (a->prio > b->prio || (a->prio == b->prio && !(a->weight == 0 && b->weight != 0)))
                break;
            t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (int lo = 0; lo < m;) {
        int hi = lo;
        while (hi < m && rr[idx[hi]].prio == rr[idx[lo]].prio)
            hi++;
        /* idx[lo..hi) is one priority: draw without replacement */
        while (lo < hi) {
            unsigned long sum = 0, pick, run = 0;
            int at = lo;
            for (int i = lo; i < hi; i++)
                sum += rr[idx[i]].weight;
            pick = sum ? (unsigned long)rnd() % (sum + 1) : 0;
            if (sum == 0) /* every weight 0: uniform */
                at = lo + (int)((unsigned long)rnd() % (unsigned long)(hi - lo));
            else
                for (int i = lo; i < hi; i++) {
                    run += rr[idx[i]].weight;
                    if (run >= pick) {
                        at = i;
                        break;
                    }
                }
            out[k++] = idx[at];
            for (int i = at; i > lo; i--) /* the rest keep their order */
                idx[i] = idx[i - 1];
            lo++;
        }
    }
    return k;
}

/* Skip the name at p in abuf[0..alen): the offset after it, -1. */
static int sip_dns_skip_name(const unsigned char *abuf, int alen, int p)
{
    while (p < alen) {
        unsigned c = abuf[p];
        if (c == 0)
            return p + 1;
        if ((c & 0xc0) == 0xc0)
            return p + 2 <= alen ? p + 2 : -1;
        if (c & 0xc0)
            return -1;
        p += 1 + (int)c;
    }
    return -1;
}

long sip_dns_min_ttl(const unsigned char *abuf, int alen)
{
    long min = -1;
    int p = 12, qd, nrr;

    if (!abuf || alen < 12)
        return -1;
    qd = abuf[4] << 8 | abuf[5];
    nrr = (abuf[6] << 8 | abuf[7]) + (abuf[8] << 8 | abuf[9]); /* answers + authority */
    for (int i = 0; i < qd && p >= 0; i++) {
        p = sip_dns_skip_name(abuf, alen, p);
        p = p >= 0 && p + 4 <= alen ? p + 4 : -1;
    }
    for (int i = 0; i < nrr && p >= 0; i++) {
        long ttl;
        int rdlen;
        p = sip_dns_skip_name(abuf, alen, p);
        if (p < 0 || p + 10 > alen)
            return -1;
        ttl = (long)((unsigned long)abuf[p + 4] << 24 | (unsigned long)abuf[p + 5] << 16 |
                     (unsigned long)abuf[p + 6] << 8 | abuf[p + 7]);
        rdlen = abuf[p + 8] << 8 | abuf[p + 9];
        if (ttl > 0x7fffffffL)
            ttl = 0;
        if (min < 0 || ttl < min)
            min = ttl;
        p += 10 + rdlen;
        if (p > alen)
            return -1;
    }
    return min;
}

int sip_dns_numeric(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
    char buf[64];
    size_t n = strlen(s);
    struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
    int hit = 0;

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(sa, 0, sizeof *sa);
    if (inet_pton(AF_INET, buf, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        *len = sizeof *a4;
        hit = 1;
    } else if (inet_pton(AF_INET6, buf, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        *len = sizeof *a6;
        hit = 1;
    }
    return hit;
}

/* ---- the cache ---- */
typedef struct sip_dns_slot {
    int used, type, n;
    int64_t expires;
    char name[SIP_DNS_NAME_MAX];
    sip_dns_rr_t rr[SIP_DNS_MAX_RR];
} sip_dns_slot_t;

/* sip_dns_cache_lock guards the table, its size and count. */
static pthread_mutex_t sip_dns_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static sip_dns_slot_t *sip_dns_slots;
static int sip_dns_cap, sip_dns_used;

static unsigned sip_dns_hash(const char *name, int type)
{
    unsigned h = 2166136261u ^ (unsigned)type;
    for (const char *p = name; *p; p++) {
        h ^= (unsigned char)tolower((unsigned char)*p);
        h *= 16777619u;
    }
    return h;
}

int sip_dns_cache_init(int cap)
{
    sip_dns_slot_t *s = cap > 0 ? calloc((size_t)cap, sizeof *s) : NULL;
    int rc = cap > 0 && !s ? GW_ENOMEM : 0;

    pthread_mutex_lock(&sip_dns_cache_lock);
    free(sip_dns_slots);
    sip_dns_slots = s;
    sip_dns_cap = s ? cap : 0;
    sip_dns_used = 0;
    pthread_mutex_unlock(&sip_dns_cache_lock);
    return rc;
}

void sip_dns_cache_free(void)
{
    sip_dns_cache_init(0);
}

void sip_dns_cache_flush(void)
{
    pthread_mutex_lock(&sip_dns_cache_lock);
    for (int i = 0; i < sip_dns_cap; i++)
        sip_dns_slots[i].used = 0;
    sip_dns_used = 0;
    pthread_mutex_unlock(&sip_dns_cache_lock);
}

int sip_dns_cache_count(void)
{
    int n;

    pthread_mutex_lock(&sip_dns_cache_lock);
    n = sip_dns_used;
    pthread_mutex_unlock(&sip_dns_cache_lock);
    return n;
}

void sip_dns_cache_put(const char *name, int type, const sip_dns_rr_t *rr, int n, long ttl_s,
                       int ttl_min, int ttl_max, int64_t now_ms)
{
    sip_dns_slot_t *pick = NULL;

    if (strlen(name) >= SIP_DNS_NAME_MAX)
        return;
    if (ttl_s < ttl_min)
        ttl_s = ttl_min;
    if (ttl_s > ttl_max)
        ttl_s = ttl_max;
    if (n > SIP_DNS_MAX_RR)
        n = SIP_DNS_MAX_RR;
    pthread_mutex_lock(&sip_dns_cache_lock);
    for (int i = 0; i < SIP_DNS_PROBE && i < sip_dns_cap; i++) {
        sip_dns_slot_t *s = &sip_dns_slots[(sip_dns_hash(name, type) + (unsigned)i) %
                                           (unsigned)sip_dns_cap];
        if (s->used && s->type == type && strcasecmp(s->name, name) == 0) {
            pick = s;
            break;
        }
        if (!s->used || s->expires <= now_ms) {
            if (!pick || pick->used)
                pick = s;
        } else if (!pick || (pick->used && s->expires < pick->expires)) {
            pick = s;
        }
    }
    if (pick) {
        sip_dns_used += pick->used ? 0 : 1;
        pick->used = 1;
        pick->type = type;
        pick->n = n;
        pick->expires = now_ms + (int64_t)ttl_s * 1000;
        strcpy(pick->name, name);
        if (n > 0)
            memcpy(pick->rr, rr, (size_t)n * sizeof *rr);
    }
    pthread_mutex_unlock(&sip_dns_cache_lock);
}

int sip_dns_cache_get(const char *name, int type, sip_dns_rr_t *rr, int64_t now_ms)
{
    int n = -1;

    pthread_mutex_lock(&sip_dns_cache_lock);
    for (int i = 0; i < SIP_DNS_PROBE && i < sip_dns_cap; i++) {
        sip_dns_slot_t *s = &sip_dns_slots[(sip_dns_hash(name, type) + (unsigned)i) %
                                           (unsigned)sip_dns_cap];
        if (s->used && s->type == type && strcasecmp(s->name, name) == 0) {
            if (s->expires > now_ms) {
                n = s->n;
                if (n > 0)
                    memcpy(rr, s->rr, (size_t)n * sizeof *rr);
            } else {
                s->used = 0; /* expired: gone */
                sip_dns_used--;
            }
            break;
        }
    }
    pthread_mutex_unlock(&sip_dns_cache_lock);
    return n;
}
