/*
 * rt_set.c - a compiled set's memory and lifetime, and the running set.
 *
 * A set owns an arena (strings and lists of the rules, freed at once), the
 * PCRE2 codes, pick states and buckets named in its rules, its zones and
 * its prefix trie, and a reference to the owner of the rate tables its
 * rules look up in (released last).  It is reference counted; rt_set_unref frees it on the
 * last reference.
 *
 * The running set, without a lock for readers: hazard pointers.  A reader
 * (rt_set_current) claims one of RT_HZ_SLOTS slots, publishes the pointer
 * it read in the slot, reads the pointer again and retries until both
 * reads agree; then the set cannot be freed under it, so it takes a
 * reference and clears the slot.  A writer (rt_set_install) exchanges the
 * pointer, then waits until no slot still publishes the old set (a reader
 * holds a slot for a few instructions), and only then drops the running
 * set's reference to it: the old set lives on while readers hold their
 * references and is freed by the last rt_set_unref.
 *
 * Memory ordering: the slot store, the re-read of rt_set_cur, the writer's
 * exchange and its scan of the slots are all seq_cst, so they sit in one
 * total order.  If the reader's re-read returned the old set, it came
 * before the exchange, hence so did its slot store, hence the writer's scan
 * (after the exchange) sees the slot still holding the old set — or a
 * value stored after the reader released the slot, which the reader did
 * (release) only after its reference was taken; the writer's acquire load
 * then orders that increment before its decrement.  A reader whose
 * re-read saw the new set simply retries with it.  Readers never wait on
 * the writer; the writer waits only for readers inside those few
 * instructions.
 *
 * PCRE2 match data is per thread (rt_tls_match_data): created at a
 * thread's first regex, freed by a pthread key destructor at its exit.
 *
 * Threads: any.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_int.h"

#define RT_ARENA_CHUNK 65536
#define RT_HZ_SLOTS 128

struct rt_arena_chunk {
    rt_arena_chunk_t *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *rt_arena_alloc(rt_set_t *s, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    rt_arena_chunk_t *c = s->arena;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > RT_ARENA_CHUNK ? n : RT_ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = s->arena;
        s->arena = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

const char *rt_arena_strdup(rt_set_t *s, const char *str)
{
    size_t n = strlen(str) + 1;
    char *p = rt_arena_alloc(s, n);
    if (p != NULL)
        memcpy(p, str, n);
    return p;
}

static size_t rt_set_nlive; /* atomic */

rt_set_t *rt_set_alloc(void)
{
    rt_set_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->refs = 1;
    s->mctx = pcre2_match_context_create(NULL);
    if (s->mctx == NULL) {
        free(s);
        return NULL;
    }
    /* An admin's pattern that backtracks badly meets addresses and bodies
     * from the network on adapter threads: a bounded budget (over it the
     * pattern does not match) instead of PCRE2's ten million steps. */
    pcre2_set_match_limit(s->mctx, 100000);
    pcre2_set_depth_limit(s->mctx, 10000);
    __atomic_add_fetch(&rt_set_nlive, 1, __ATOMIC_RELAXED);
    return s;
}

static void rt_set_free(rt_set_t *s)
{
    for (size_t i = 0; i < s->nrules; i++) {
        rt_crule_t *r = &s->rules[i];
        pcre2_code_free(r->f_src.re);
        pcre2_code_free(r->f_dst.re);
        pcre2_code_free(r->body_re);
        pcre2_code_free(r->rw_src.re);
        pcre2_code_free(r->rw_dst.re);
        if (r->pick != NULL)
            rt_pick_state_free(r->pick);
        if (r->bucket != NULL)
            rt_bucket_free(r->bucket);
    }
    free(s->rules);
    for (size_t i = 0; i < s->nnodes; i++) {
        free(s->nodes[i].keys);
        free(s->nodes[i].kids);
        free(s->nodes[i].rules);
    }
    free(s->nodes);
    free(s->nopfx);
    for (size_t i = 0; i < s->nzones; i++)
        rt_tz_free(s->zones[i]);
    free(s->zones);
    pcre2_match_context_free(s->mctx);
    while (s->arena != NULL) {
        rt_arena_chunk_t *next = s->arena->next;
        free(s->arena);
        s->arena = next;
    }
    if (s->release != NULL)
        s->release(s->owner); /* last: the rate tables outlive every rule of the set */
    free(s);
    __atomic_sub_fetch(&rt_set_nlive, 1, __ATOMIC_RELAXED);
}

rt_set_t *rt_set_ref(rt_set_t *s)
{
    if (s != NULL)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

void rt_set_unref(rt_set_t *s)
{
    if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        rt_set_free(s);
}

size_t rt_set_count(const rt_set_t *s)
{
    return s != NULL ? s->nrules : 0;
}

uint64_t rt_set_hits(const rt_set_t *s, void (*fn)(void *arg, const rt_rule_hits_t *r),
                     void *arg)
{
    size_t later = 0;

    if (s == NULL)
        return 0;
    for (size_t i = 0; i < s->nrules; i++)
        later += s->rules[i].enabled != 0;
    for (size_t i = 0; fn != NULL && i < s->nrules; i++) {
        const rt_crule_t *c = &s->rules[i];
        rt_rule_hits_t r = { c->id, c->name, c->enabled,
                             __atomic_load_n(&s->hits[i], __ATOMIC_RELAXED), 0 };

        later -= c->enabled != 0;
        r.later = later;
        fn(arg, &r);
    }
    return __atomic_load_n(&s->hits[s->nrules], __ATOMIC_RELAXED);
}

size_t rt_set_live(void)
{
    return __atomic_load_n(&rt_set_nlive, __ATOMIC_RELAXED);
}

/* ---- the running set ---- */

typedef struct rt_hz_slot {
    rt_set_t *hp; /* the set this slot's reader is about to reference */
    int used;     /* claimed by a reader */
    char pad[64 - sizeof(void *) - sizeof(int)]; /* one cache line per slot */
} rt_hz_slot_t;

static rt_hz_slot_t rt_hz[RT_HZ_SLOTS] __attribute__((aligned(64)));
static rt_set_t *rt_set_cur;
static unsigned rt_hz_next;                 /* atomic: spreads threads' first slots */
static __thread unsigned rt_hz_hint;        /* this thread's slot + 1, 0 = none yet */

/* Claim a free slot, starting at this thread's usual one.  With more
 * threads inside rt_set_current at once than slots, a thread spins until a
 * slot frees (each is held for a few instructions). */
static unsigned rt_hz_claim(void)
{
    if (rt_hz_hint == 0)
        rt_hz_hint = __atomic_fetch_add(&rt_hz_next, 1, __ATOMIC_RELAXED) % RT_HZ_SLOTS + 1;
    for (unsigned i = rt_hz_hint - 1;; i = (i + 1) % RT_HZ_SLOTS) {
        int expect = 0;
        if (__atomic_compare_exchange_n(&rt_hz[i].used, &expect, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            rt_hz_hint = i + 1;
            return i;
        }
    }
}

rt_set_t *rt_set_current(void)
{
    unsigned i = rt_hz_claim();
    rt_set_t *s;
    for (;;) {
        s = __atomic_load_n(&rt_set_cur, __ATOMIC_ACQUIRE);
        __atomic_store_n(&rt_hz[i].hp, s, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&rt_set_cur, __ATOMIC_SEQ_CST) == s)
            break;
    }
    rt_set_ref(s);
    __atomic_store_n(&rt_hz[i].hp, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&rt_hz[i].used, 0, __ATOMIC_RELEASE);
    return s;
}

void rt_set_install(rt_set_t *s)
{
    rt_set_t *old = __atomic_exchange_n(&rt_set_cur, s, __ATOMIC_SEQ_CST);
    if (old == NULL)
        return;
    for (unsigned i = 0; i < RT_HZ_SLOTS; i++)
        while (__atomic_load_n(&rt_hz[i].hp, __ATOMIC_SEQ_CST) == old)
            sched_yield();
    rt_set_unref(old);
}

/* ---- per-thread PCRE2 match data ---- */

static pthread_key_t rt_tls_key;
static pthread_once_t rt_tls_once = PTHREAD_ONCE_INIT;
static __thread pcre2_match_data *rt_tls_md;

static void rt_tls_free(void *md)
{
    pcre2_match_data_free(md);
}

/* PCRE2 allocates through these (the match data and the backtracking
 * frames it keeps), so its memory counts where ours does (test_rt_match
 * wraps malloc to prove the match path allocates nothing after warm-up). */
static void *rt_pcre_malloc(PCRE2_SIZE n, void *ctx)
{
    (void)ctx;
    return malloc(n);
}

static void rt_pcre_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static pcre2_general_context *rt_tls_gctx;

static void rt_tls_init(void)
{
    (void)pthread_key_create(&rt_tls_key, rt_tls_free);
    rt_tls_gctx = pcre2_general_context_create(rt_pcre_malloc, rt_pcre_free, NULL);
}

pcre2_match_data *rt_tls_match_data(void)
{
    if (rt_tls_md != NULL)
        return rt_tls_md;
    pthread_once(&rt_tls_once, rt_tls_init);
    rt_tls_md = pcre2_match_data_create(RT_OVECTOR_PAIRS, rt_tls_gctx);
    if (rt_tls_md != NULL)
        (void)pthread_setspecific(rt_tls_key, rt_tls_md);
    return rt_tls_md;
}
