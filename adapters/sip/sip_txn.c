/*
 * sip_txn.c - the server transaction table of one SIP worker.
 *
 * A UAC retransmits a non-INVITE request every T1..T2 until it sees a
 * final response (RFC 3261 section 17.1.2).  The gateway must answer each
 * retransmission with the same final response and must not create a second
 * envelope for it, the way Kamailio's tm module absorbs retransmissions.
 * This table maps a transaction key (sip_txn_key) to either "pending" (the
 * envelope is waiting for its commit: retransmissions are absorbed) or the
 * final response text, kept for Timer J (32 s) after it was sent.
 *
 * Bounded: at most cap entries.  Entries sit on a FIFO in insertion order;
 * inserting into a full table evicts the oldest one, and expired final
 * entries at the head are swept on every insert.  Lookup is a chained hash.
 *
 * Shared by the pool (sip_txns_*): the workers' tables are one table in
 * SIP_TXN_SHARDS shards, each a table as above behind its own mutex,
 * picked by the key's hash.  The kernel spreads datagrams over the
 * workers' SO_REUSEPORT sockets by a hash of the source; when the pool
 * grows or shrinks the spread changes and a retransmission may reach
 * another worker than its original did.  With one table that worker finds
 * the transaction (pending: absorbed; final: the same answer), so no
 * request is accepted twice whatever the pool does.  A shard's lock is
 * held for one lookup or one store, never across a call out; with 32
 * shards and at most SIP_MAX_WORKERS workers it is seldom contended.
 *
 * Threads: a sip_txn_table_t is used by one thread at a time (its
 * caller's, or under its shard's lock); sip_txns_* by any worker.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "sip.h"

typedef struct sip_txn {
    char *key;
    sip_txn_state_t state;
    char *resp;
    size_t resp_len;
    int64_t expires_ms;          /* 0 while pending */
    struct sip_txn *hnext;       /* hash chain */
    struct sip_txn *prev, *next; /* FIFO, oldest first */
} sip_txn_t;

struct sip_txn_table {
    sip_txn_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count, cap;
    sip_txn_t *head, *tail;
};

/* FNV-1a. */
static size_t sip_txn_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* New empty table of at most cap entries; NULL on allocation failure.
 * Caller frees with sip_txn_table_free.  Any thread. */
sip_txn_table_t *sip_txn_table_new(size_t cap)
{
    sip_txn_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cap = cap ? cap : 1;
    t->nbuckets = 16;
    while (t->nbuckets < 2 * t->cap)
        t->nbuckets <<= 1;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

static void sip_txn_remove(sip_txn_table_t *t, sip_txn_t *e)
{
    sip_txn_t **pp = &t->buckets[sip_txn_hash(e->key) & (t->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->tail = e->prev;
    t->count--;
    free(e->key);
    free(e->resp);
    free(e);
}

/* Free the table and every entry.  NULL is accepted. */
void sip_txn_table_free(sip_txn_table_t *t)
{
    if (!t)
        return;
    while (t->head)
        sip_txn_remove(t, t->head);
    free(t->buckets);
    free(t);
}

static sip_txn_t *sip_txn_find(sip_txn_table_t *t, const char *key)
{
    sip_txn_t *e = t->buckets[sip_txn_hash(key) & (t->nbuckets - 1)];
    while (e && strcmp(e->key, key) != 0)
        e = e->hnext;
    return e;
}

/* Drop expired final entries from the head, then the oldest entries while
 * the table is full. */
static void sip_txn_sweep(sip_txn_table_t *t, int64_t now_ms)
{
    while (t->head && t->head->state == SIP_TXN_FINAL && t->head->expires_ms <= now_ms)
        sip_txn_remove(t, t->head);
    while (t->count >= t->cap && t->head)
        sip_txn_remove(t, t->head);
}

static sip_txn_t *sip_txn_insert(sip_txn_table_t *t, const char *key, int64_t now_ms)
{
    sip_txn_t *e;
    size_t b;

    sip_txn_sweep(t, now_ms);
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return NULL;
    }
    e->state = SIP_TXN_PENDING;
    b = sip_txn_hash(key) & (t->nbuckets - 1);
    e->hnext = t->buckets[b];
    t->buckets[b] = e;
    e->prev = t->tail;
    if (t->tail)
        t->tail->next = e;
    else
        t->head = e;
    t->tail = e;
    t->count++;
    return e;
}

/* See sip.h.  Worker thread. */
sip_txn_state_t sip_txn_lookup(sip_txn_table_t *t, const char *key, int64_t now_ms,
                               const char **resp, size_t *resp_len)
{
    sip_txn_t *e = sip_txn_find(t, key);

    if (e && e->state == SIP_TXN_FINAL && e->expires_ms <= now_ms) {
        sip_txn_remove(t, e);
        e = NULL;
    }
    if (!e) {
        sip_txn_insert(t, key, now_ms);
        return SIP_TXN_NEW;
    }
    if (e->state == SIP_TXN_FINAL) {
        *resp = e->resp;
        *resp_len = e->resp_len;
    }
    return e->state;
}

/* See sip.h.  An entry evicted while pending is inserted again, so a late
 * retransmission still gets the answer.  Worker thread. */
void sip_txn_final(sip_txn_table_t *t, const char *key, const char *resp, size_t len,
                   int64_t now_ms)
{
    sip_txn_t *e = sip_txn_find(t, key);
    char *copy = malloc(len + 1);

    if (!copy)
        return;
    memcpy(copy, resp, len);
    copy[len] = '\0';
    if (!e)
        e = sip_txn_insert(t, key, now_ms);
    if (!e) {
        free(copy);
        return;
    }
    free(e->resp);
    e->resp = copy;
    e->resp_len = len;
    e->state = SIP_TXN_FINAL;
    e->expires_ms = now_ms + SIP_TXN_LINGER_MS;
}

/* Number of entries (pending and final).  Owner thread. */
size_t sip_txn_count(const sip_txn_table_t *t)
{
    return t->count;
}

/* ---- the pool's table: shards behind a lock each ---- */

typedef struct sip_txn_shard {
    pthread_mutex_t lock; /* guards t */
    sip_txn_table_t *t;
} sip_txn_shard_t;

static sip_txn_shard_t sip_txn_shards[SIP_TXN_SHARDS];
static int sip_txn_nshards; /* shards set up; 0 before sip_txns_init */

/* See sip.h.  Main thread, adapter init, before any worker runs. */
int sip_txns_init(void)
{
    for (int i = 0; i < SIP_TXN_SHARDS; i++) {
        sip_txn_shards[i].t = sip_txn_table_new(SIP_TXN_SHARD_CAP);
        if (!sip_txn_shards[i].t) {
            sip_txns_free();
            return GW_ENOMEM;
        }
        pthread_mutex_init(&sip_txn_shards[i].lock, NULL);
        sip_txn_nshards = i + 1;
    }
    return 0;
}

/* See sip.h.  Main thread, after every worker was joined. */
void sip_txns_free(void)
{
    for (int i = 0; i < sip_txn_nshards; i++) {
        sip_txn_table_free(sip_txn_shards[i].t);
        sip_txn_shards[i].t = NULL;
        pthread_mutex_destroy(&sip_txn_shards[i].lock);
    }
    sip_txn_nshards = 0;
}

static sip_txn_shard_t *sip_txn_shard(const char *key)
{
    /* the high bits: the low ones pick the bucket inside the shard */
    return &sip_txn_shards[(sip_txn_hash(key) >> 24) % SIP_TXN_SHARDS];
}

/* See sip.h.  Any worker. */
sip_txn_state_t sip_txns_lookup(const char *key, int64_t now_ms, char **resp, size_t *resp_len)
{
    sip_txn_shard_t *sh = sip_txn_shard(key);
    const char *r = NULL;
    size_t n = 0;
    sip_txn_state_t st;

    *resp = NULL;
    pthread_mutex_lock(&sh->lock);
    st = sip_txn_lookup(sh->t, key, now_ms, &r, &n);
    if (st == SIP_TXN_FINAL && (*resp = malloc(n + 1)) != NULL) {
        memcpy(*resp, r, n);
        (*resp)[n] = '\0';
        *resp_len = n;
    }
    pthread_mutex_unlock(&sh->lock);
    if (st == SIP_TXN_FINAL && *resp == NULL)
        st = SIP_TXN_PENDING; /* no memory for the copy: absorb, the UAC sends again */
    return st;
}

/* See sip.h.  Any worker. */
void sip_txns_final(const char *key, const char *resp, size_t len, int64_t now_ms)
{
    sip_txn_shard_t *sh = sip_txn_shard(key);

    pthread_mutex_lock(&sh->lock);
    sip_txn_final(sh->t, key, resp, len, now_ms);
    pthread_mutex_unlock(&sh->lock);
}

/* See sip.h.  Any thread (the MI). */
size_t sip_txns_count(void)
{
    size_t n = 0;
    for (int i = 0; i < sip_txn_nshards; i++) {
        pthread_mutex_lock(&sip_txn_shards[i].lock);
        n += sip_txn_count(sip_txn_shards[i].t);
        pthread_mutex_unlock(&sip_txn_shards[i].lock);
    }
    return n;
}
