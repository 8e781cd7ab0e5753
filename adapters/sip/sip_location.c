/*
 * sip_location.c - the location service: the registrar's bindings in
 * memory, kept in the store through the core (gateway/gw_location.h).
 *
 * An address of record ("sip:alice@example.com") holds up to
 * sip.max_contacts bindings (sip_binding_t: contact URI, expiry, q,
 * Call-ID and CSeq of the REGISTER that made it, the source it came from
 * for NAT, Path, User-Agent, +sip.instance and reg-id).  The table is
 * SIP_LOC_SHARDS shards, each a mutex over its own hash chains, so
 * REGISTERs on different workers rarely meet.
 *
 * A change (sip_loc_update) runs the caller's function on the current
 * bindings under the shard's lock, so two REGISTERs for one address of
 * record apply one after the other; the new set replaces the old in
 * memory at once and is written to the store with its event; the caller
 * answers when it committed.  A change whose commit fails is undone when
 * nothing changed the address of record since (its generation is the
 * same), so memory does not keep what the store does not have.  Expired
 * bindings are never returned (lookups and lists compare with the time)
 * and are removed, stored and published as "expired" by the sweep
 * (sip_loc_sweep, once a second on the main thread).
 *
 * Threads: sip_loc_update and sip_loc_lookup on the SIP workers; the sweep,
 * the load and the MI methods on the main thread; the commit callbacks on
 * the store's writer thread.  Each shard's lock guards its chains and
 * every address of record in them.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_events.h"
#include "gw_location.h"
#include "gw_log.h"
#include "gw_str.h"
#include "sip.h"

#define SIP_LOC_SHARDS 64
#define SIP_LOC_BUCKETS 1024 /* per shard */

typedef struct sip_aor {
    char aor[SIP_AOR_MAX];
    int n;
    sip_binding_t *b;      /* n of them, malloc'd */
    uint64_t gen;          /* counts the changes */
    int64_t next_expiry;   /* the earliest expires_ms of b, 0 when none */
    struct sip_aor *next;
} sip_aor_t;

typedef struct sip_loc_shard {
    pthread_mutex_t lock;
    sip_aor_t *buckets[SIP_LOC_BUCKETS];
    size_t naors;
} sip_loc_shard_t;

static sip_loc_shard_t sip_loc_shards[SIP_LOC_SHARDS];
static int sip_loc_ready;
static gw_stat_t *sip_loc_st_aors, *sip_loc_st_bindings, *sip_loc_st_expired,
    *sip_loc_st_store_failed;

static uint32_t sip_loc_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static sip_loc_shard_t *sip_loc_shard(const char *aor, uint32_t *bucket)
{
    uint32_t h = sip_loc_hash(aor);
    *bucket = (h / SIP_LOC_SHARDS) % SIP_LOC_BUCKETS;
    return &sip_loc_shards[h % SIP_LOC_SHARDS];
}

/* The address of record in its chain, or NULL.  Shard lock held. */
static sip_aor_t *sip_loc_find(sip_loc_shard_t *sh, uint32_t bucket, const char *aor)
{
    sip_aor_t *a = sh->buckets[bucket];
    while (a != NULL && strcmp(a->aor, aor) != 0)
        a = a->next;
    return a;
}

static void sip_loc_next_expiry(sip_aor_t *a)
{
    a->next_expiry = 0;
    for (int i = 0; i < a->n; i++)
        if (a->next_expiry == 0 || a->b[i].expires_ms < a->next_expiry)
            a->next_expiry = a->b[i].expires_ms;
}

/* Replace a's bindings with a copy of b[0..n) (n may be 0); shard lock
 * held.  0 or GW_ENOMEM (a unchanged). */
static int sip_loc_set(sip_aor_t *a, const sip_binding_t *b, int n)
{
    sip_binding_t *copy = NULL;

    if (n > 0) {
        if ((copy = malloc((size_t)n * sizeof *copy)) == NULL)
            return GW_ENOMEM;
        memcpy(copy, b, (size_t)n * sizeof *copy);
    }
    gw_stat_add(sip_loc_st_bindings, n - a->n);
    free(a->b);
    a->b = copy;
    a->n = n;
    a->gen++;
    sip_loc_next_expiry(a);
    return 0;
}

/* Unlink and free a (its bindings gone).  Shard lock held. */
static void sip_loc_unlink(sip_loc_shard_t *sh, uint32_t bucket, sip_aor_t *a)
{
    sip_aor_t **pp = &sh->buckets[bucket];
    while (*pp != a)
        pp = &(*pp)->next;
    *pp = a->next;
    gw_stat_add(sip_loc_st_bindings, -a->n);
    gw_stat_add(sip_loc_st_aors, -1);
    sh->naors--;
    free(a->b);
    free(a);
}

int sip_aor_make(const char *scheme, const char *user, const char *host, char *out, size_t n)
{
    int len = snprintf(out, n, "%s:%s@%s", scheme != NULL && scheme[0] ? scheme : "sip", user,
                       host);
    char *at;

    if (len <= 0 || (size_t)len >= n)
        return -1;
    at = strrchr(out, '@');
    for (char *p = out; *p; p++) /* scheme and host in lower case, the user as it came */
        if (p < strchr(out, ':') || p > at)
            *p = (char)tolower((unsigned char)*p);
    return 0;
}

json_t *sip_binding_json(const sip_binding_t *b, int64_t now_ms, int stored)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:s}", "contact", b->contact,
                          stored ? "expires_at" : "expires",
                          (json_int_t)(stored ? b->expires_ms
                                              : (b->expires_ms - now_ms + 999) / 1000),
                          "call_id", b->call_id, "cseq", (json_int_t)b->cseq, "source", b->source);
    if (o == NULL)
        return NULL;
    if (b->q >= 0)
        json_object_set_new(o, "q", stored ? json_integer(b->q) : json_real(b->q / 1000.0));
    if (b->path[0])
        json_object_set_new(o, "path", json_string(b->path));
    if (b->user_agent[0])
        json_object_set_new(o, "user_agent", json_string(b->user_agent));
    if (b->instance[0])
        json_object_set_new(o, "instance", json_string(b->instance));
    if (b->reg_id > 0)
        json_object_set_new(o, "reg_id", json_integer(b->reg_id));
    json_object_set_new(o, "nat", json_boolean(b->nat));
    if (stored)
        json_object_set_new(o, "updated_at", json_integer(b->updated_ms));
    else /* the pinger's memory-only state (sip_natping.c) */
        json_object_set_new(o, "last_ping_ok",
                            b->ping_ok_ms ? json_integer(b->ping_ok_ms) : json_null());
    return o;
}

/* One stored binding (sip_binding_json, stored form) back; 0 or -1. */
static int sip_binding_from_json(const json_t *o, sip_binding_t *b)
{
    const char *contact = json_string_value(json_object_get(o, "contact"));

    memset(b, 0, sizeof *b);
    if (contact == NULL || !json_is_integer(json_object_get(o, "expires_at")))
        return -1;
    gw_strlcpy(b->contact, contact, sizeof b->contact);
    b->expires_ms = json_integer_value(json_object_get(o, "expires_at"));
    b->q = json_is_integer(json_object_get(o, "q")) ? (int)json_integer_value(json_object_get(o, "q"))
                                                    : -1;
    gw_strlcpy(b->call_id, json_string_value(json_object_get(o, "call_id")) ?: "",
               sizeof b->call_id);
    b->cseq = (uint32_t)json_integer_value(json_object_get(o, "cseq"));
    gw_strlcpy(b->source, json_string_value(json_object_get(o, "source")) ?: "", sizeof b->source);
    gw_strlcpy(b->path, json_string_value(json_object_get(o, "path")) ?: "", sizeof b->path);
    gw_strlcpy(b->user_agent, json_string_value(json_object_get(o, "user_agent")) ?: "",
               sizeof b->user_agent);
    gw_strlcpy(b->instance, json_string_value(json_object_get(o, "instance")) ?: "",
               sizeof b->instance);
    b->reg_id = (int)json_integer_value(json_object_get(o, "reg_id"));
    b->updated_ms = json_integer_value(json_object_get(o, "updated_at"));
    b->nat = json_is_true(json_object_get(o, "nat"));
    return 0;
}

/* The stored form of b[0..n): a JSON array's text (malloc'd), or NULL
 * when n is 0 (the row goes) or out of memory (*oom set). */
static char *sip_loc_text(const sip_binding_t *b, int n, int *oom)
{
    json_t *arr;
    char *text;

    *oom = 0;
    if (n == 0)
        return NULL;
    if ((arr = json_array()) == NULL) {
        *oom = 1;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, sip_binding_json(&b[i], 0, 1));
    text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    *oom = text == NULL;
    return text;
}

/* What the event sip.registration says (docs/events.md): the address of
 * record, why, the bindings now and each one added, refreshed or
 * removed.  New reference or NULL. */
static json_t *sip_loc_event(const char *aor, const char *why, const sip_binding_t *old, int nold,
                             const sip_binding_t *now, int nnow, int64_t now_ms)
{
    json_t *d = json_pack("{s:s, s:s, s:[], s:[]}", "aor", aor, "why", why, "bindings",
                          "changes");
    json_t *bind = json_object_get(d, "bindings"), *ch = json_object_get(d, "changes");

    if (d == NULL)
        return NULL;
    for (int i = 0; i < nnow; i++) {
        const char *what = "added";
        json_array_append_new(bind, sip_binding_json(&now[i], now_ms, 0));
        for (int k = 0; k < nold; k++)
            if (strcmp(old[k].contact, now[i].contact) == 0)
                what = "refreshed";
        json_array_append_new(ch, json_pack("{s:s, s:s}", "contact", now[i].contact, "change",
                                            what));
    }
    for (int k = 0; k < nold; k++) {
        int kept = 0;
        for (int i = 0; i < nnow && !kept; i++)
            kept = strcmp(old[k].contact, now[i].contact) == 0;
        if (!kept)
            json_array_append_new(ch, json_pack("{s:s, s:s}", "contact", old[k].contact,
                                                "change",
                                                strcmp(why, "register") == 0 ||
                                                        strcmp(why, "deleted") == 0
                                                    ? "removed"
                                                    : why));
    }
    return d;
}

/* A change on its way to the store: what to undo if it does not commit. */
typedef struct sip_loc_pending {
    char aor[SIP_AOR_MAX];
    uint64_t gen;          /* the address of record's generation after the change */
    sip_binding_t *old;    /* the bindings before (malloc'd), nold of them */
    int nold;
    sip_loc_done_fn done;
    void *done_arg;
} sip_loc_pending_t;

/* Commit callback (writer thread): undo a change that did not commit,
 * then tell the caller. */
static void sip_loc_committed(void *arg, int rc)
{
    sip_loc_pending_t *p = arg;

    if (rc != 0) {
        uint32_t bucket;
        sip_loc_shard_t *sh = sip_loc_shard(p->aor, &bucket);
        gw_stat_add(sip_loc_st_store_failed, 1);
        pthread_mutex_lock(&sh->lock);
        sip_aor_t *a = sip_loc_find(sh, bucket, p->aor);
        if (a != NULL && a->gen == p->gen)
            (void)sip_loc_set(a, p->old, p->nold);
        pthread_mutex_unlock(&sh->lock);
    }
    if (p->done != NULL)
        p->done(p->done_arg, rc);
    free(p->old);
    free(p);
}

/* Apply the new bindings of a (shard lock held) and hand them to the
 * store.  why: the event's word.  0 (done will run) or an error. */
static int sip_loc_commit(sip_loc_shard_t *sh, uint32_t bucket, sip_aor_t *a,
                          const sip_binding_t *nb, int nn, const char *why,
                          sip_loc_done_fn done, void *done_arg)
{
    int64_t now = gw_now_ms();
    sip_loc_pending_t *p = calloc(1, sizeof *p);
    int oom = 0, rc;
    char *text = sip_loc_text(nb, nn, &oom);
    json_t *ev = NULL;

    if (p == NULL || oom || (a->n > 0 && (p->old = malloc((size_t)a->n * sizeof *p->old)) == NULL)) {
        free(text);
        free(p);
        return GW_ENOMEM;
    }
    gw_strlcpy(p->aor, a->aor, sizeof p->aor);
    if (a->n > 0)
        memcpy(p->old, a->b, (size_t)a->n * sizeof *p->old);
    p->nold = a->n;
    p->done = done;
    p->done_arg = done_arg;
    if (gw_events_active()) /* built only while a sink listens */
        ev = sip_loc_event(a->aor, why, a->b, a->n, nb, nn, now);
    rc = sip_loc_set(a, nb, nn);
    if (rc == 0) {
        p->gen = a->gen;
        rc = gw_loc_save(a->aor, text, ev, sip_loc_committed, p);
        ev = NULL;
        if (rc != 0) /* nothing went to the store: memory neither */
            (void)sip_loc_set(a, p->old, p->nold);
    }
    json_decref(ev);
    free(text);
    if (rc != 0) {
        free(p->old);
        free(p);
    } else if (nn == 0) {
        sip_loc_unlink(sh, bucket, a);
    }
    return rc;
}

int sip_loc_update(const char *aor, sip_loc_fn fn, void *arg, sip_binding_t *nb, int *nn,
                   sip_loc_done_fn done, void *done_arg)
{
    uint32_t bucket;
    sip_loc_shard_t *sh = sip_loc_shard(aor, &bucket);
    sip_aor_t *a;
    int st, rc;

    *nn = 0;
    pthread_mutex_lock(&sh->lock);
    a = sip_loc_find(sh, bucket, aor);
    st = fn(arg, a ? a->b : NULL, a ? a->n : 0, nb, nn, SIP_LOC_CONTACTS_MAX);
    if (st == 0 && a == NULL && *nn == 0)
        st = 200; /* nothing was, nothing is: answer now */
    if (st != 0) { /* refused, or a query: nothing changes */
        pthread_mutex_unlock(&sh->lock);
        return st;
    }
    if (a == NULL) {
        if ((a = calloc(1, sizeof *a)) == NULL) {
            pthread_mutex_unlock(&sh->lock);
            return -GW_ENOMEM;
        }
        gw_strlcpy(a->aor, aor, sizeof a->aor);
        a->next = sh->buckets[bucket];
        sh->buckets[bucket] = a;
        sh->naors++;
        gw_stat_add(sip_loc_st_aors, 1);
    }
    rc = sip_loc_commit(sh, bucket, a, nb, *nn, "register", done, done_arg);
    if (rc != 0 && a->n == 0)
        sip_loc_unlink(sh, bucket, a);
    pthread_mutex_unlock(&sh->lock);
    return rc != 0 ? -rc : 0;
}

int sip_loc_lookup(const char *aor, sip_binding_t *out, int max)
{
    uint32_t bucket;
    sip_loc_shard_t *sh = sip_loc_shard(aor, &bucket);
    int64_t now = gw_now_ms();
    int n = 0;

    pthread_mutex_lock(&sh->lock);
    sip_aor_t *a = sip_loc_find(sh, bucket, aor);
    for (int i = 0; a != NULL && i < a->n && n < max; i++)
        if (a->b[i].expires_ms > now)
            out[n++] = a->b[i];
    pthread_mutex_unlock(&sh->lock);
    /* highest q first (RFC 3261 16.6: the order of forking); stable */
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && out[k].q > out[k - 1].q; k--) {
            sip_binding_t t = out[k];
            out[k] = out[k - 1];
            out[k - 1] = t;
        }
    return n;
}

/* See sip.h.  Any thread. */
int sip_loc_exists(const char *aor)
{
    uint32_t bucket;
    sip_loc_shard_t *sh = sip_loc_shard(aor, &bucket);
    int found;

    pthread_mutex_lock(&sh->lock);
    found = sip_loc_find(sh, bucket, aor) != NULL;
    pthread_mutex_unlock(&sh->lock);
    return found;
}

/* Remove from a the bindings keep() refuses, stored with the event why.
 * Shard lock held; a may be freed.  1 when something was removed. */
static int sip_loc_prune(sip_loc_shard_t *sh, uint32_t bucket, sip_aor_t *a,
                         int (*keep)(const sip_binding_t *b, const void *arg), const void *arg,
                         const char *why)
{
    sip_binding_t kept[SIP_LOC_CONTACTS_MAX];
    int nk = 0, n = a->n;

    for (int i = 0; i < a->n && nk < SIP_LOC_CONTACTS_MAX; i++)
        if (keep(&a->b[i], arg))
            kept[nk++] = a->b[i];
    if (nk == n)
        return 0;
    if (strcmp(why, "expired") == 0)
        gw_stat_add(sip_loc_st_expired, n - nk);
    if (sip_loc_commit(sh, bucket, a, kept, nk, why, NULL, NULL) != 0)
        GW_WARN(SIP_LOG, "%s: bindings not stored; kept until the next sweep", a->aor);
    return 1;
}

static int sip_loc_keep_live(const sip_binding_t *b, const void *arg)
{
    return b->expires_ms > *(const int64_t *)arg;
}

void sip_loc_sweep(void)
{
    int64_t now = gw_now_ms();

    for (int s = 0; sip_loc_ready && s < SIP_LOC_SHARDS; s++) {
        sip_loc_shard_t *sh = &sip_loc_shards[s];
        pthread_mutex_lock(&sh->lock);
        for (uint32_t k = 0; sh->naors > 0 && k < SIP_LOC_BUCKETS; k++) {
            sip_aor_t *a = sh->buckets[k], *next;
            for (; a != NULL; a = next) {
                next = a->next;
                if (a->next_expiry != 0 && a->next_expiry <= now)
                    sip_loc_prune(sh, k, a, sip_loc_keep_live, &now, "expired");
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

static int sip_loc_keep_other(const sip_binding_t *b, const void *arg)
{
    return arg != NULL && strcmp(b->contact, arg) != 0;
}

int sip_loc_delete(const char *aor, const char *contact)
{
    uint32_t bucket;
    sip_loc_shard_t *sh = sip_loc_shard(aor, &bucket);
    int rc = 0;

    pthread_mutex_lock(&sh->lock);
    sip_aor_t *a = sip_loc_find(sh, bucket, aor);
    if (a != NULL)
        rc = sip_loc_prune(sh, bucket, a, sip_loc_keep_other, contact, "deleted");
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* The pinger's walk: see sip.h.  The removals are pruned with the
 * event why "unreachable"; fn marks them in ping_fails as -1 so that the
 * keep function knows them.  Main thread. */
static int sip_loc_keep_reachable(const sip_binding_t *b, const void *arg)
{
    (void)arg;
    return b->ping_fails >= 0;
}

void sip_loc_ping_walk(sip_loc_ping_fn fn, void *arg)
{
    int64_t now = gw_now_ms();

    for (int s = 0; sip_loc_ready && s < SIP_LOC_SHARDS; s++) {
        sip_loc_shard_t *sh = &sip_loc_shards[s];
        pthread_mutex_lock(&sh->lock);
        for (uint32_t k = 0; sh->naors > 0 && k < SIP_LOC_BUCKETS; k++) {
            sip_aor_t *a = sh->buckets[k], *next;
            for (; a != NULL; a = next) {
                int gone = 0;
                next = a->next;
                for (int i = 0; i < a->n; i++)
                    if (a->b[i].expires_ms > now && fn(arg, a->aor, &a->b[i]) == 1) {
                        a->b[i].ping_fails = -1;
                        gone = 1;
                    }
                if (gone)
                    sip_loc_prune(sh, k, a, sip_loc_keep_reachable, NULL, "unreachable");
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

int sip_loc_ping_answered(const char *aor, const char *branch, int64_t now_ms)
{
    uint32_t bucket;
    sip_loc_shard_t *sh = sip_loc_shard(aor, &bucket);
    int found = 0;

    pthread_mutex_lock(&sh->lock);
    sip_aor_t *a = sip_loc_find(sh, bucket, aor);
    for (int i = 0; a != NULL && i < a->n && !found; i++)
        if (a->b[i].ping_branch[0] != '\0' && strcmp(a->b[i].ping_branch, branch) == 0) {
            a->b[i].ping_branch[0] = '\0';
            a->b[i].ping_ok_ms = now_ms;
            a->b[i].ping_fails = 0;
            found = 1;
        }
    pthread_mutex_unlock(&sh->lock);
    return found;
}

json_t *sip_loc_list(const char *aor_filter, int limit)
{
    json_t *arr = json_array();
    int64_t now = gw_now_ms();
    int n = 0;

    for (int s = 0; arr != NULL && s < SIP_LOC_SHARDS && n < limit; s++) {
        sip_loc_shard_t *sh = &sip_loc_shards[s];
        pthread_mutex_lock(&sh->lock);
        for (uint32_t k = 0; sh->naors > 0 && k < SIP_LOC_BUCKETS && n < limit; k++)
            for (sip_aor_t *a = sh->buckets[k]; a != NULL && n < limit; a = a->next) {
                json_t *b;
                if (aor_filter != NULL && strcmp(a->aor, aor_filter) != 0)
                    continue;
                b = json_array(); /* after the filter: a skipped one made none to leak */
                for (int i = 0; i < a->n; i++)
                    if (a->b[i].expires_ms > now)
                        json_array_append_new(b, sip_binding_json(&a->b[i], now, 0));
                json_array_append_new(arr, json_pack("{s:s, s:o}", "aor", a->aor, "bindings", b));
                n++;
            }
        pthread_mutex_unlock(&sh->lock);
    }
    return arr;
}

/* One stored address of record into memory (gw_loc_load).  Main thread,
 * before the workers start. */
static int sip_loc_load_one(void *arg, const char *aor, const char *text)
{
    json_t *arr = json_loads(text, 0, NULL), *o;
    uint32_t bucket;
    sip_loc_shard_t *sh;
    sip_aor_t *a;
    size_t i;
    (void)arg;

    if (!json_is_array(arr) || strlen(aor) >= SIP_AOR_MAX) {
        GW_WARN(SIP_LOG, "stored bindings of %s do not parse: skipped", aor);
        json_decref(arr);
        return 0;
    }
    sh = sip_loc_shard(aor, &bucket);
    if ((a = calloc(1, sizeof *a)) == NULL ||
        (a->b = calloc(json_array_size(arr) + 1, sizeof *a->b)) == NULL) {
        free(a);
        json_decref(arr);
        return GW_ENOMEM;
    }
    gw_strlcpy(a->aor, aor, sizeof a->aor);
    json_array_foreach(arr, i, o)
        if (a->n < SIP_LOC_CONTACTS_MAX && sip_binding_from_json(o, &a->b[a->n]) == 0)
            a->n++;
    json_decref(arr);
    sip_loc_next_expiry(a);
    pthread_mutex_lock(&sh->lock);
    a->next = sh->buckets[bucket];
    sh->buckets[bucket] = a;
    sh->naors++;
    pthread_mutex_unlock(&sh->lock);
    gw_stat_add(sip_loc_st_aors, 1);
    gw_stat_add(sip_loc_st_bindings, a->n);
    return 0;
}

int sip_loc_init(void)
{
    int rc;

    sip_loc_st_aors = gw_stat_gauge("sip.registrar_aors", "addresses of record with bindings");
    sip_loc_st_bindings = gw_stat_gauge("sip.registrar_bindings",
                                        "registered contacts (bindings), expired ones until "
                                        "the sweep removes them");
    sip_loc_st_expired = gw_stat("sip.registrar_expired", "bindings removed as expired");
    sip_loc_st_store_failed = gw_stat("sip.registrar_store_failed",
                                      "registrations the store could not commit (answered 500)");
    for (int s = 0; s < SIP_LOC_SHARDS; s++)
        pthread_mutex_init(&sip_loc_shards[s].lock, NULL);
    rc = gw_loc_load(sip_loc_load_one, NULL);
    if (rc != 0)
        GW_ERR(SIP_LOG, "cannot read the stored registrations");
    else
        GW_INFO(SIP_LOG, "registrar: %lld binding(s) of %lld address(es) of record from the store",
                (long long)gw_stat_get(sip_loc_st_bindings),
                (long long)gw_stat_get(sip_loc_st_aors));
    sip_loc_ready = rc == 0;
    return rc;
}

void sip_loc_free(void)
{
    for (int s = 0; s < SIP_LOC_SHARDS; s++) {
        sip_loc_shard_t *sh = &sip_loc_shards[s];
        pthread_mutex_lock(&sh->lock);
        for (uint32_t k = 0; k < SIP_LOC_BUCKETS; k++)
            while (sh->buckets[k] != NULL) {
                sip_aor_t *a = sh->buckets[k];
                sh->buckets[k] = a->next;
                free(a->b);
                free(a);
            }
        sh->naors = 0;
        pthread_mutex_unlock(&sh->lock);
    }
    sip_loc_ready = 0;
}
