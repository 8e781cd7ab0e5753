/*
 * sip_proxy_table.c - where the proxy keeps its transactions: each
 * worker's own table of proxied requests (by server transaction key) and
 * of their branches (by our Via branch), made on the worker's thread at
 * its first proxied request, read and written only there, so no lock; and
 * the atomic counts read from other threads: transactions by kind and
 * state (MI sip.transactions.stats) and live ones per worker (a retiring
 * worker waits for 0).
 *
 * Each table has its worker's timer wheel (sip_wheel.h): a transaction
 * waits there for the next timer of its machines.
 *
 * Ownership: a table owns its chains and its wheel; a transaction is freed
 * by sip_px_txn_free (its branches, copies and wheel node with it), and
 * every one left at shutdown by sip_proxy_free_all.
 * Threads: the owning worker; sip_proxy_free_all on the main thread after
 * the workers were joined; sip_proxy_count and sip_proxy_mi_stats any
 * thread (atomics only).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "sip_proxy.h"

/* Per worker and table (a power of two): transactions linger for Timer J
 * / K (32 s of a non-INVITE over UDP), so a worker at a few thousand
 * calls a second holds a hundred thousand; the chains stay short.  4 MiB
 * a worker, its pages touched as they are used. */
#define SIP_PX_BUCKETS 262144


typedef struct sip_px_table {
    sip_px_txn_t *tx[SIP_PX_BUCKETS];
    sip_px_branch_t *br[SIP_PX_BUCKETS];
    sip_wheel_t wheel; /* ticks on the worker's base */
} sip_px_table_t;

/* Each worker's, made on its thread at its first proxied request; freed
 * by sip_proxy_free_all. */
static sip_px_table_t *sip_px_tables[SIP_MAX_WORKERS];
/* Transactions by kind and state (atomic): MI sip.transactions.stats. */
static int64_t sip_px_counts[4][SIP_TSX_TERMINATED + 1];
/* Live transactions per worker (atomic): a retiring worker waits for 0. */
static int sip_px_live[SIP_MAX_WORKERS];

int sip_proxy_count(int idx)
{
    return idx >= 0 && idx < SIP_MAX_WORKERS ? __atomic_load_n(&sip_px_live[idx], __ATOMIC_RELAXED)
                                             : 0;
}

int64_t sip_px_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sip_px_count(sip_tsx_kind_t kind, int from_state, int to_state)
{
    if (from_state == to_state)
        return;
    if (from_state >= 0)
        __atomic_sub_fetch(&sip_px_counts[kind][from_state], 1, __ATOMIC_RELAXED);
    if (to_state >= 0)
        __atomic_add_fetch(&sip_px_counts[kind][to_state], 1, __ATOMIC_RELAXED);
}

/* The full hash (kept in the entry); its bucket is h & (SIP_PX_BUCKETS - 1). */
static size_t sip_px_hash(const char *s, size_t n)
{
    size_t h = 5381;
    for (size_t i = 0; i < n; i++)
        h = h * 33 + (unsigned char)s[i];
    return h;
}

#define SIP_PX_BUCKET(h) ((h) & (SIP_PX_BUCKETS - 1))

static void sip_px_on_due(sip_wheel_t *wh, sip_wheel_node_t *n, int64_t now)
{
    (void)wh;
    sip_px_due((sip_px_txn_t *)((char *)n - offsetof(sip_px_txn_t, tnode)), now);
}

static sip_px_table_t *sip_px_table(sip_worker_t *w)
{
    int i = sip_worker_index(w);
    sip_px_table_t *t = sip_px_tables[i];

    if (!t && (t = calloc(1, sizeof *t)) != NULL &&
        sip_wheel_init(&t->wheel, sip_px_now(), sip_worker_base(w), sip_px_on_due, NULL) != 0) {
        free(t);
        t = NULL;
    }
    return sip_px_tables[i] = t;
}

/* See sip_proxy.h. */
void sip_px_txn_arm(sip_px_txn_t *tx, int64_t at)
{
    sip_px_table_t *t = sip_px_table(tx->w);

    if (t)
        sip_wheel_arm(&t->wheel, &tx->tnode, at, sip_px_now());
}

void sip_px_branch_link(sip_px_branch_t *b)
{
    sip_px_table_t *t = sip_px_table(b->tx->w);
    sip_px_branch_t **head;

    b->hash = sip_px_hash(b->id, strlen(b->id));
    head = &t->br[SIP_PX_BUCKET(b->hash)];
    b->hnext = *head;
    if (*head)
        (*head)->hprev = &b->hnext;
    b->hprev = head;
    *head = b;
    b->linked = 1;
}

void sip_px_branch_unlink(sip_px_branch_t *b)
{
    if (!b->linked)
        return;
    *b->hprev = b->hnext;
    if (b->hnext)
        b->hnext->hprev = b->hprev;
    b->hnext = NULL;
    b->hprev = NULL;
    b->linked = 0;
}

/* See sip_proxy.h. */
int sip_px_branch_ids_to(sip_worker_t *w, const sip_sa_t *dst, int proto, char (*ids)[64], int max)
{
    sip_px_table_t *t = sip_px_tables[sip_worker_index(w)];
    int n = 0;

    for (size_t h = 0; t && h < SIP_PX_BUCKETS && n < max; h++)
        for (sip_px_branch_t *b = t->br[h]; b && n < max; b = b->hnext)
            if (b->started && !b->ended && b->dst_proto == proto && sip_sa_equal(&b->dst, dst) &&
                (b->tsx.state == SIP_TSX_CALLING || b->tsx.state == SIP_TSX_TRYING))
                snprintf(ids[n++], 64, "%s", b->id);
    return n;
}

sip_px_branch_t *sip_px_branch_find(sip_worker_t *w, const char *id, size_t n)
{
    sip_px_table_t *t = sip_px_table(w);
    size_t h = sip_px_hash(id, n);
    sip_px_branch_t *b = t ? t->br[SIP_PX_BUCKET(h)] : NULL;

    while (b && !(b->hash == h && n < sizeof b->id && b->id[n] == '\0' &&
                  memcmp(b->id, id, n) == 0))
        b = b->hnext;
    return b;
}

sip_px_txn_t *sip_px_txn_find(sip_worker_t *w, const char *key)
{
    sip_px_table_t *t = sip_px_table(w);
    size_t h = sip_px_hash(key, strlen(key));
    sip_px_txn_t *tx = t ? t->tx[SIP_PX_BUCKET(h)] : NULL;

    while (tx && !(tx->hash == h && strcmp(tx->key, key) == 0))
        tx = tx->hnext;
    return tx;
}

/* See sip_proxy.h. */
void sip_px_txn_free(sip_px_txn_t *tx)
{
    sip_px_table_t *t = sip_px_table(tx->w);

    if (tx->hprev) {
        *tx->hprev = tx->hnext;
        if (tx->hnext)
            tx->hnext->hprev = tx->hprev;
    }
    sip_px_count(tx->tsx.kind, (int)tx->tsx.state, -1);
    __atomic_sub_fetch(&sip_px_live[sip_worker_index(tx->w)], 1, __ATOMIC_RELAXED);
    sip_px_free_branches(tx);
    if (t)
        sip_wheel_disarm(&t->wheel, &tx->tnode);
    if (tx->b != &tx->b1)
        free(tx->b);
    free(tx->req);
    free(tx->last);
    free(tx);
}

/* See sip_proxy.h. */
int sip_px_branch_room(sip_px_txn_t *tx, int n)
{
    sip_px_branch_t *nb;

    if (n <= tx->bcap)
        return 0;
    if (n > SIP_PROXY_MAX_BRANCHES)
        return -1;
    for (int i = 0; i < tx->bcap; i++)
        if (tx->b[i].started || tx->b[i].linked)
            return -1;
    n = n < 4 && SIP_PROXY_MAX_BRANCHES >= 4 ? 4 : n; /* a fork or two more without a move */
    if (!(nb = calloc((size_t)n, sizeof *nb)))
        return -1;
    memcpy(nb, tx->b, (size_t)tx->bcap * sizeof *nb);
    for (int i = 0; i < n; i++)
        nb[i].tx = tx;
    if (tx->b != &tx->b1)
        free(tx->b);
    tx->b = nb;
    tx->bcap = n;
    return 0;
}

/* See sip_proxy.h. */
void sip_px_branch_scratch(sip_px_txn_t *tx)
{
    memset(&tx->b1, 0, sizeof tx->b1);
    tx->b1.tx = tx;
    tx->b = &tx->b1;
    tx->bcap = 1;
}

/* See sip_proxy.h. */
void sip_px_txn_insert(sip_px_txn_t *tx)
{
    sip_px_table_t *t = sip_px_table(tx->w);
    sip_px_txn_t **head;

    tx->hash = sip_px_hash(tx->key, strlen(tx->key));
    head = &t->tx[SIP_PX_BUCKET(tx->hash)];
    tx->hnext = *head;
    if (*head)
        (*head)->hprev = &tx->hnext;
    tx->hprev = head;
    *head = tx;
    __atomic_add_fetch(&sip_px_live[sip_worker_index(tx->w)], 1, __ATOMIC_RELAXED);
}

int sip_px_table_ready(sip_worker_t *w)
{
    return sip_px_table(w) != NULL;
}

/* See sip_proxy.h. */
void sip_proxy_free_all(void)
{
    for (int i = 0; i < SIP_MAX_WORKERS; i++) {
        sip_px_table_t *t = sip_px_tables[i];
        for (int k = 0; t && k < SIP_PX_BUCKETS; k++)
            while (t->tx[k])
                sip_px_txn_free(t->tx[k]);
        if (t)
            sip_wheel_free(&t->wheel);
        free(t);
        sip_px_tables[i] = NULL;
    }
}

/* See sip_proxy.h.  MI thread: the counts only. */
void sip_proxy_mi_stats(const json_t *params, gw_mi_reply_t *r)
{
    static const char *const kinds[] = {"ict", "nict", "ist", "nist"};
    json_t *o = json_object();
    (void)params;

    for (int k = 0; o && k < 4; k++) {
        json_t *s = json_object();
        int64_t total = 0;
        for (int st = 0; s && st <= SIP_TSX_TERMINATED; st++) {
            int64_t c = __atomic_load_n(&sip_px_counts[k][st], __ATOMIC_RELAXED);
            total += c;
            json_object_set_new(s, sip_tsx_state_name((sip_tsx_state_t)st), json_integer(c));
        }
        json_object_set_new(s, "total", json_integer(total));
        json_object_set_new(o, kinds[k], s);
    }
    if (!o) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    gw_mi_result(r, o);
}
