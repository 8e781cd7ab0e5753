/*
 * sip_dialog.c - the dialog table (sip_dialog.h).
 *
 * The requests of one dialog come from two places (the caller and the
 * callee), so the BPF program steers them to different workers: the table
 * is shared by the pool.  It is split in SIP_DLG_SHARDS shards by a hash
 * of the Call-ID alone (a request from the callee has the tags swapped,
 * and MI sip.dialogs.end knows only the Call-ID), each behind its own
 * mutex with SIP_DLG_BUCKETS chains; the entries are sip_dlg_t copies
 * allocated one by one.  The bound (sip.dialogs_max) is on the whole
 * table: an atomic count, raised before an insert and lowered on a
 * refusal, so no lock is held across shards.
 *
 * Ownership: the table owns its entries; callers get copies.
 * Threads: any; each call takes one shard's lock at a time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "sip_dialog.h"

typedef struct sip_dlg_shard {
    pthread_mutex_t lock;              /* guards chains */
    sip_dlg_t *chains[SIP_DLG_BUCKETS];
} sip_dlg_shard_t;

struct sip_dlg_table {
    const int *max;                    /* read atomically */
    size_t count;                      /* atomic: entries in all shards */
    sip_dlg_shard_t shards[SIP_DLG_SHARDS];
};

/* FNV-1a of the Call-ID: the shard in the low bits, the chain above. */
static uint32_t sip_dlg_hash(const char *call_id)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)call_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static sip_dlg_shard_t *sip_dlg_shard(sip_dlg_table_t *t, uint32_t h)
{
    return &t->shards[h % SIP_DLG_SHARDS];
}

static sip_dlg_t **sip_dlg_chain(sip_dlg_shard_t *s, uint32_t h)
{
    return &s->chains[(h / SIP_DLG_SHARDS) % SIP_DLG_BUCKETS];
}

sip_dlg_table_t *sip_dlg_table_new(const int *max)
{
    sip_dlg_table_t *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->max = max;
    for (int i = 0; i < SIP_DLG_SHARDS; i++)
        pthread_mutex_init(&t->shards[i].lock, NULL);
    return t;
}

void sip_dlg_table_free(sip_dlg_table_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < SIP_DLG_SHARDS; i++) {
        for (int j = 0; j < SIP_DLG_BUCKETS; j++) {
            sip_dlg_t *d = t->shards[i].chains[j], *next;
            for (; d; d = next) {
                next = d->next;
                free(d);
            }
        }
        pthread_mutex_destroy(&t->shards[i].lock);
    }
    free(t);
}

/* The side whose tag is from_tag when the pair names d, else -1. */
static int sip_dlg_side(const sip_dlg_t *d, const char *from_tag, const char *to_tag)
{
    if (strcmp(d->tag[0], from_tag) == 0 && strcmp(d->tag[1], to_tag) == 0)
        return SIP_DLG_CALLER;
    if (strcmp(d->tag[1], from_tag) == 0 && strcmp(d->tag[0], to_tag) == 0)
        return SIP_DLG_CALLEE;
    return -1;
}

int sip_dlg_insert(sip_dlg_table_t *t, const sip_dlg_t *d)
{
    uint32_t h = sip_dlg_hash(d->call_id);
    sip_dlg_shard_t *s = sip_dlg_shard(t, h);
    sip_dlg_t **chain, *e, *copy;
    size_t max = (size_t)__atomic_load_n(t->max, __ATOMIC_RELAXED);
    int rc = 0;

    if (__atomic_add_fetch(&t->count, 1, __ATOMIC_RELAXED) > max) {
        __atomic_sub_fetch(&t->count, 1, __ATOMIC_RELAXED);
        return GW_EFULL;
    }
    copy = malloc(sizeof *copy);
    if (!copy) {
        __atomic_sub_fetch(&t->count, 1, __ATOMIC_RELAXED);
        return GW_ENOMEM;
    }
    *copy = *d;
    pthread_mutex_lock(&s->lock);
    chain = sip_dlg_chain(s, h);
    for (e = *chain; e; e = e->next)
        if (strcmp(e->call_id, d->call_id) == 0 && sip_dlg_side(e, d->tag[0], d->tag[1]) == 0)
            break;
    if (e) {
        rc = GW_EEXIST;
    } else {
        copy->next = *chain;
        *chain = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (copy) {
        free(copy);
        __atomic_sub_fetch(&t->count, 1, __ATOMIC_RELAXED);
    }
    return rc;
}

int sip_dlg_request(sip_dlg_table_t *t, const char *call_id, const char *from_tag,
                    const char *to_tag, uint32_t cseq, const char *contact, int ack, int take,
                    sip_dlg_t *out, int *was_na)
{
    uint32_t h = sip_dlg_hash(call_id);
    sip_dlg_shard_t *s = sip_dlg_shard(t, h);
    sip_dlg_t **pp, *e = NULL;
    int side = -1;

    if (was_na)
        *was_na = 0;
    pthread_mutex_lock(&s->lock);
    for (pp = sip_dlg_chain(s, h); *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->call_id, call_id) == 0 &&
            (side = sip_dlg_side(*pp, from_tag, to_tag)) >= 0)
            break;
    }
    if (*pp) {
        e = *pp;
        if (cseq > e->cseq[side])
            e->cseq[side] = cseq;
        if (contact && contact[0])
            snprintf(e->contact[side], sizeof e->contact[side], "%s", contact);
        if (ack && e->state == SIP_DLG_CONFIRMED_NA) {
            e->state = SIP_DLG_CONFIRMED;
            if (was_na)
                *was_na = 1;
        }
        if (out)
            *out = *e;
        if (take)
            *pp = e->next;
    }
    pthread_mutex_unlock(&s->lock);
    if (e && take) {
        free(e);
        __atomic_sub_fetch(&t->count, 1, __ATOMIC_RELAXED);
    }
    return e ? side : -1;
}

/* Unlink into out (at most max) the entries of one chain that match;
 * under the chain's shard lock.  How many. */
static int sip_dlg_take_if(sip_dlg_table_t *t, sip_dlg_t **chain,
                           int (*match)(const sip_dlg_t *, const void *), const void *arg,
                           sip_dlg_t *out, int max)
{
    int n = 0;

    for (sip_dlg_t **pp = chain; *pp && n < max;) {
        sip_dlg_t *e = *pp;
        if (!match(e, arg)) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        out[n] = *e;
        out[n++].next = NULL;
        free(e);
        __atomic_sub_fetch(&t->count, 1, __ATOMIC_RELAXED);
    }
    return n;
}

static int sip_dlg_is_call(const sip_dlg_t *d, const void *call_id)
{
    return strcmp(d->call_id, call_id) == 0;
}

static int sip_dlg_is_old(const sip_dlg_t *d, const void *before)
{
    return d->answer_ms <= *(const int64_t *)before;
}

int sip_dlg_take_call(sip_dlg_table_t *t, const char *call_id, sip_dlg_t *out, int max)
{
    uint32_t h = sip_dlg_hash(call_id);
    sip_dlg_shard_t *s = sip_dlg_shard(t, h);
    int n;

    pthread_mutex_lock(&s->lock);
    n = sip_dlg_take_if(t, sip_dlg_chain(s, h), sip_dlg_is_call, call_id, out, max);
    pthread_mutex_unlock(&s->lock);
    return n;
}

int sip_dlg_take_expired(sip_dlg_table_t *t, int64_t before_ms, sip_dlg_t *out, int max)
{
    int n = 0;

    for (int i = 0; i < SIP_DLG_SHARDS && n < max; i++) {
        sip_dlg_shard_t *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        for (int j = 0; j < SIP_DLG_BUCKETS && n < max; j++)
            n += sip_dlg_take_if(t, &s->chains[j], sip_dlg_is_old, &before_ms, out + n,
                                 max - n);
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

int sip_dlg_foreach(sip_dlg_table_t *t, const char *call_id, int limit,
                    void (*fn)(const sip_dlg_t *d, void *arg), void *arg)
{
    int n = 0;

    for (int i = 0; i < SIP_DLG_SHARDS && n < limit; i++) {
        sip_dlg_shard_t *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        for (int j = 0; j < SIP_DLG_BUCKETS && n < limit; j++)
            for (const sip_dlg_t *e = s->chains[j]; e && n < limit; e = e->next)
                if (!call_id || strcmp(e->call_id, call_id) == 0) {
                    fn(e, arg);
                    n++;
                }
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

size_t sip_dlg_count(const sip_dlg_table_t *t)
{
    return __atomic_load_n(&t->count, __ATOMIC_RELAXED);
}
