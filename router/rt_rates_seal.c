/*
 * rt_rates_seal.c - compiling a built rate table (rt_rates_seal), the
 * overlap check shared with the CSV import, the lookup and iteration.
 * rt_rates_int.h describes the arrays; rt_rates.c the builder.
 *
 * Seal: the overlap check sorts the rows by (prefix, connector, validity)
 * (an import has done so already), each prefix's few rows are then sorted
 * into (cost, connector name, valid_from), squeezed to 16 bytes in place, and
 * one recursive pass over the distinct prefixes lays out the trie in a
 * single huge-page block of cells.  The builder's hashes are freed.
 *
 * The sort is our own in-place quicksort over the 28-byte rows: qsort in
 * glibc sorts through a temporary copy of the whole array, which for three
 * million rows would add ~85 MB to the peak of a load.
 *
 * Lookup walks the digits down the trie noting each node that ends a prefix,
 * then goes back from the deepest one to the first that has a row valid at
 * `now`: an expired or future row at the longest prefix falls back to the
 * next shorter prefix.  No allocation, no lock, no write.
 *
 * Threads: rt_rates_seal and rt_rates_find_dups on the builder's thread;
 * rt_rates_lookup and rt_rates_foreach on any thread once sealed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_rates_int.h"
#include "gw_errors.h"

typedef int (*rt_rates_cmp_fn)(const void *ctx, const rt_rates_brow_t *a,
                               const rt_rates_brow_t *b);

static void rt_rates_swap(rt_rates_brow_t *a, rt_rates_brow_t *b)
{
    rt_rates_brow_t x = *a;
    *a = *b;
    *b = x;
}

/* Sort v[0, n) by cmp: median-of-three quicksort, recursing into the smaller
 * side (so the stack stays O(log n)), insertion sort below 16 rows. */
static void rt_rates_sort(rt_rates_brow_t *v, size_t n, rt_rates_cmp_fn cmp, const void *ctx)
{
    while (n > 16) {
        size_t m = n / 2, i = 0, j = n - 1;
        rt_rates_brow_t pivot;

        if (cmp(ctx, &v[m], &v[0]) < 0)
            rt_rates_swap(&v[m], &v[0]);
        if (cmp(ctx, &v[n - 1], &v[0]) < 0)
            rt_rates_swap(&v[n - 1], &v[0]);
        if (cmp(ctx, &v[n - 1], &v[m]) < 0)
            rt_rates_swap(&v[n - 1], &v[m]);
        pivot = v[m];
        for (;;) {  /* Hoare partition: v[0..j] <= pivot <= v[j+1..] */
            while (cmp(ctx, &v[i], &pivot) < 0)
                i++;
            while (cmp(ctx, &pivot, &v[j]) < 0)
                j--;
            if (i >= j)
                break;
            rt_rates_swap(&v[i], &v[j]);
            i++;
            j--;
        }
        if (j + 1 < n - j - 1) {
            rt_rates_sort(v, j + 1, cmp, ctx);
            v += j + 1;
            n -= j + 1;
        } else {
            rt_rates_sort(v + j + 1, n - j - 1, cmp, ctx);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++) {
        rt_rates_brow_t x = v[i];
        size_t k = i;
        for (; k > 0 && cmp(ctx, &x, &v[k - 1]) < 0; k--)
            v[k] = v[k - 1];
        v[k] = x;
    }
}

#define RT_RATES_CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

/* (prefix, connector, valid_from, valid_to): the overlap check's order. */
static int rt_rates_cmp_dup(const void *ctx, const rt_rates_brow_t *a, const rt_rates_brow_t *b)
{
    const rt_rates_t *t = ctx;
    int rc = RT_RATES_CMP(a->kl, b->kl);

    if (rc == 0)
        rc = RT_RATES_CMP(a->conn, b->conn);
    if (rc == 0 && a->valid == b->valid)
        return 0;  /* the common case, open both ends: no look into valid[] */
    if (rc == 0)
        rc = RT_RATES_CMP(t->valid[a->valid].from, t->valid[b->valid].from);
    if (rc == 0)
        rc = RT_RATES_CMP(rt_rates_to_end(t->valid[a->valid].to),
                          rt_rates_to_end(t->valid[b->valid].to));
    return rc;
}

size_t rt_rates_find_dups(rt_rates_t *t, size_t first_new, rt_rates_dup_fn fn, void *arg)
{
    size_t i, k, best, count = 0;

    for (i = first_new; i < t->nrows; i++)
        t->rows[i].line |= RT_RATES_NEW;
    rt_rates_sort(t->rows, t->nrows, rt_rates_cmp_dup, t);
    t->kl_sorted = 1;
    for (i = 0; i < t->nrows; i = k) {
        /* sorted by valid_from: a row overlaps an earlier one of its run
         * exactly when it starts before the latest end seen so far */
        best = i;
        for (k = i + 1; k < t->nrows && t->rows[k].kl == t->rows[i].kl &&
                        t->rows[k].conn == t->rows[i].conn; k++) {
            const rt_rates_brow_t *a = &t->rows[best], *b = &t->rows[k];
            int64_t a_end = rt_rates_to_end(t->valid[a->valid].to);
            if (t->valid[b->valid].from < a_end && ((a->line | b->line) & RT_RATES_NEW)) {
                fn(arg, t, a, b);
                count++;
            }
            if (rt_rates_to_end(t->valid[b->valid].to) > a_end)
                best = k;
        }
    }
    return count;
}

void rt_rates_settle_new(rt_rates_t *t, int keep)
{
    size_t i, n = 0;

    for (i = 0; i < t->nrows; i++) {
        if (!keep && (t->rows[i].line & RT_RATES_NEW))
            continue;
        t->rows[n] = t->rows[i];
        t->rows[n++].line &= ~RT_RATES_NEW;
    }
    t->nrows = n;
}

typedef struct rt_rates_seal_ctx {
    const rt_rates_t *t;
    uint16_t *rank;   /* connector id -> place in name order */
    char *err;
    size_t errlen;
} rt_rates_seal_ctx_t;

/* (prefix, cost, connector name, valid_from): the sealed order. */
static int rt_rates_cmp_seal(const void *ctx, const rt_rates_brow_t *a, const rt_rates_brow_t *b)
{
    const rt_rates_seal_ctx_t *c = ctx;
    int rc = RT_RATES_CMP(a->kl, b->kl);

    if (rc == 0)
        rc = RT_RATES_CMP(a->cost, b->cost);
    if (rc == 0)
        rc = RT_RATES_CMP(c->rank[a->conn], c->rank[b->conn]);
    if (rc == 0)
        rc = RT_RATES_CMP(c->t->valid[a->valid].from, c->t->valid[b->valid].from);
    return rc;
}

static void rt_rates_seal_dup(void *arg, const rt_rates_t *t, const rt_rates_brow_t *a,
                              const rt_rates_brow_t *b)
{
    rt_rates_seal_ctx_t *c = arg;
    char p[RT_RATES_DIGITS_MAX + 1];

    if (c->err == NULL || c->errlen == 0 || c->err[0] != '\0')
        return;  /* keep the first */
    (void)b;
    rt_rates_kl_str(a->kl, p);
    snprintf(c->err, c->errlen, "prefix %s, connector %s: validity overlaps another row", p,
             t->arena + t->conn_off[a->conn]);
}

static int rt_rates_cmp_name(const void *a, const void *b, void *ctx)
{
    const rt_rates_t *t = ctx;

    return strcmp(t->arena + t->conn_off[*(const uint16_t *)a],
                  t->arena + t->conn_off[*(const uint16_t *)b]);
}

/* rank[id] = the place of connector id in name order; NULL when out of memory. */
static uint16_t *rt_rates_ranks(rt_rates_t *t)
{
    uint16_t *rank = malloc((t->nconn + 1) * sizeof *rank);
    uint16_t *ord = malloc((t->nconn + 1) * sizeof *ord);
    size_t i;

    if (rank == NULL || ord == NULL) {
        free(rank);
        free(ord);
        return NULL;
    }
    for (i = 0; i < t->nconn; i++)
        ord[i] = (uint16_t)i;
    qsort_r(ord, t->nconn, sizeof *ord, rt_rates_cmp_name, t);
    for (i = 0; i < t->nconn; i++)
        rank[ord[i]] = (uint16_t)i;
    free(ord);
    return rank;
}

/* Lay out the subtrie of the node in cell node for the distinct prefixes
 * [lo, hi), which share their first depth digits: its rows (from ents) and
 * then its children go at *next on.  kls[g] is prefix g's word, gfirst[g] its
 * first row (gfirst[g + 1] ends it). */
static void rt_rates_build(rt_rates_t *t, const rt_rates_ent_t *ents, const uint64_t *kls,
                           const uint32_t *gfirst, size_t node, size_t lo, size_t hi,
                           unsigned depth, size_t *next)
{
    size_t run_lo[10], run_hi[10], k = 0, i, base;
    uint16_t mask = 0;

    if (lo < hi && RT_RATES_LEN(kls[lo]) == depth) {
        rt_rates_node_t *n = &t->cells[node].node;
        size_t nent = gfirst[lo + 1] - gfirst[lo];
        rt_rates_kl_str(kls[lo], t->arena + t->arena_len);  /* pre-grown by rt_rates_seal */
        n->str = (uint32_t)t->arena_len;
        t->arena_len += depth + 1;
        n->ent = (uint32_t)*next;
        n->nent = (uint16_t)nent;
        for (i = 0; i < nent; i++)
            t->cells[*next + i].ent = ents[gfirst[lo] + i];
        *next += nent;
        lo++;
    }
    for (i = lo; i < hi; i++) {
        unsigned d = rt_rates_digit(kls[i], depth);
        if (k == 0 || !(mask & (1u << d))) {
            run_lo[k] = i;
            run_hi[k++] = i + 1;
            mask |= (uint16_t)(1u << d);
        } else {
            run_hi[k - 1] = i + 1;
        }
    }
    base = *next;
    *next += k;
    t->cells[node].node.mask = mask;
    t->cells[node].node.child = (uint32_t)base;
    for (i = 0; i < k; i++)
        rt_rates_build(t, ents, kls, gfirst, base + i, run_lo[i], run_hi[i], depth + 1, next);
}

/* Squeeze the sorted rows to 16 bytes each in their own block, returned in
 * *ents_out (caller frees; the builder's rows are gone); *kls_out and
 * *gfirst_out get each distinct prefix's word and first row (caller frees
 * both), *ng their number.  0, GW_ENOMEM, or GW_EINVAL when a prefix has more
 * rows than a node can count (named in err). */
static int rt_rates_squeeze(rt_rates_t *t, rt_rates_ent_t **ents_out, uint64_t **kls_out,
                            uint32_t **gfirst_out, size_t *ng_out, char *err, size_t errlen)
{
    size_t n = t->nrows, ng = 0, i, g = 0;
    rt_rates_ent_t *ents;
    uint64_t *kls;
    uint32_t *gfirst;

    for (i = 0; i < n; i++)
        ng += i == 0 || t->rows[i].kl != t->rows[i - 1].kl;
    kls = malloc((ng + 1) * sizeof *kls);
    gfirst = malloc((ng + 1) * sizeof *gfirst);
    if (kls == NULL || gfirst == NULL) {
        free(kls);
        free(gfirst);
        return GW_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        if (i == 0 || t->rows[i].kl != kls[g - 1]) {
            if (g > 0 && i - gfirst[g - 1] > UINT16_MAX)
                break;
            gfirst[g] = (uint32_t)i;
            kls[g++] = t->rows[i].kl;
        }
    }
    if (i < n || (g > 0 && n - gfirst[g - 1] > UINT16_MAX)) {
        char p[RT_RATES_DIGITS_MAX + 1];
        rt_rates_kl_str(kls[g - 1], p);
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "prefix %s: more than %u rows", p, UINT16_MAX);
        free(kls);
        free(gfirst);
        return GW_EINVAL;
    }
    gfirst[ng] = (uint32_t)n;
    ents = (rt_rates_ent_t *)(void *)t->rows;
    for (i = 0; i < n; i++) {
        rt_rates_brow_t r = t->rows[i];  /* read whole before ents[i] overwrites it */
        rt_rates_ent_t e = { r.cost, r.valid, r.conn, r.cur };
        /* ents[i] covers bytes [16i, 16i+16) of rows[0..i] (28 bytes each):
         * all read already */
        memcpy(&ents[i], &e, sizeof e);
    }
    t->rows = NULL;
    t->nrows = t->rows_cap = 0;
    if (n > 0 && (*ents_out = realloc(ents, n * sizeof *ents)) == NULL)
        *ents_out = ents;  /* shrinking failed: keep the larger block */
    if (n == 0) {
        free(ents);
        *ents_out = NULL;
    }
    t->nents = n;
    *kls_out = kls;
    *gfirst_out = gfirst;
    *ng_out = ng;
    return 0;
}

int rt_rates_seal(rt_rates_t *t, char *err, size_t errlen)
{
    rt_rates_seal_ctx_t c = { t, NULL, err, errlen };
    uint64_t *kls = NULL;
    uint32_t *gfirst = NULL;
    rt_rates_ent_t *ents = NULL;
    size_t nodes = 1, strs = 0, g, ng = 0, next = 1, i, k;
    int rc = 0;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (t->sealed)
        return GW_EINVAL;
    if (t->nrows >= UINT32_MAX)
        return GW_ENOMEM;
    if (t->checked < t->nrows || !t->kl_sorted) {
        size_t dups = rt_rates_find_dups(t, t->checked, rt_rates_seal_dup, &c);
        rt_rates_settle_new(t, 1);
        if (dups > 0)
            return GW_EINVAL;
        t->checked = t->nrows;
    }
    if ((c.rank = rt_rates_ranks(t)) == NULL)
        return GW_ENOMEM;
    /* the overlap check left the rows in prefix order: sort each prefix's few
     * rows into (cost, connector name, valid_from) */
    for (i = 0; i < t->nrows; i = k) {
        for (k = i + 1; k < t->nrows && t->rows[k].kl == t->rows[i].kl; k++)
            ;
        rt_rates_sort(t->rows + i, k - i, rt_rates_cmp_seal, &c);
    }
    free(c.rank);
    if ((rc = rt_rates_squeeze(t, &ents, &kls, &gfirst, &ng, err, errlen)) != 0)
        return rc;  /* GW_EINVAL: the rows are still the builder's, re-ordered */
    /* a sorted list's trie has 1 + sum(len_i - lcp(s_i-1, s_i)) nodes */
    for (g = 0; g < ng; g++) {
        unsigned len = RT_RATES_LEN(kls[g]), lcp = 0;
        if (g > 0)
            while (lcp < len && lcp < RT_RATES_LEN(kls[g - 1]) &&
                   rt_rates_digit(kls[g], lcp) == rt_rates_digit(kls[g - 1], lcp))
                lcp++;
        nodes += len - lcp;
        strs += len + 1;
    }
    nodes += t->nents;  /* cells */
    if ((t->cells = rt_rates_alloc_big(nodes * sizeof *t->cells)) != NULL)
        memset(t->cells, 0, nodes * sizeof *t->cells);
    if (t->cells == NULL || (t->arena_len + strs > UINT32_MAX) ||
        (rc = rt_rates_grow_arena(t, t->arena_len + strs)) != 0) {
        free(ents);
        free(kls);
        free(gfirst);
        return GW_ENOMEM;  /* half sealed: only rt_rates_free is left */
    }
    rt_rates_build(t, ents, kls, gfirst, 0, 0, ng, 0, &next);
    t->ncells = next;
    free(ents);
    free(kls);
    free(gfirst);
    free(t->conn_h.slot);
    free(t->cur_h.slot);
    free(t->valid_h.slot);
    memset(&t->conn_h, 0, sizeof t->conn_h);
    memset(&t->cur_h, 0, sizeof t->cur_h);
    memset(&t->valid_h, 0, sizeof t->valid_h);
    t->sealed = 1;
    return 0;
}

static inline int rt_rates_valid_at(const rt_rates_t *t, uint32_t v, int64_t now)
{
    return v == 0 || (t->valid[v].from <= now && now < rt_rates_to_end(t->valid[v].to));
}

/* popcount of a 10-bit mask without relying on the POPCNT instruction
 * (the default x86-64 target has none; __builtin_popcount is a call there). */
static inline unsigned rt_rates_popcount(unsigned m)
{
    m = m - ((m >> 1) & 0x5555u);
    m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
    m = (m + (m >> 4)) & 0x0f0fu;
    return (m + (m >> 8)) & 0x1fu;
}

size_t rt_rates_lookup(const rt_rates_t *t, const char *digits, int64_t now, rt_rate_hit_t *out,
                       size_t max)
{
    const rt_rates_node_t *path[RT_RATES_DIGITS_MAX + 1], *n;
    const unsigned char *p = (const unsigned char *)digits;
    size_t np = 0, k, w = 0;

    if (!t->sealed || max == 0 || t->ncells == 0)
        return 0;
    if (*p == '+')
        p++;
    for (n = &t->cells[0].node;; p++) {
        unsigned c = (unsigned)*p - '0', bit;
        if (n->nent != 0)
            path[np++] = n;
        if (c > 9)
            break;
        bit = 1u << c;
        if (!(n->mask & bit))
            break;
        n = &t->cells[n->child + rt_rates_popcount(n->mask & (bit - 1))].node;
    }
    for (k = np; k-- > 0 && w == 0;) {
        const rt_rates_node_t *g = path[k];
        for (uint32_t e = g->ent; e < g->ent + g->nent && w < max; e++) {
            const rt_rates_ent_t *en = &t->cells[e].ent;
            if (!rt_rates_valid_at(t, en->valid, now))
                continue;
            out[w].connector = t->arena + t->conn_off[en->conn];
            out[w].cost = en->cost;
            out[w].currency = t->arena + t->cur_off[en->cur];
            out[w].prefix = t->arena + g->str;
            w++;
        }
    }
    return w;
}

/* The rows of node and its subtrie, depth first in digit order. */
static int rt_rates_walk(const rt_rates_t *t, const rt_rates_node_t *n, rt_rates_row_fn fn,
                         void *arg)
{
    int rc = 0;

    for (uint32_t e = n->ent; e < n->ent + n->nent && rc == 0; e++) {
        const rt_rates_ent_t *en = &t->cells[e].ent;
        rt_rate_row_t row = {
            .prefix = t->arena + n->str,
            .connector = t->arena + t->conn_off[en->conn],
            .cost = en->cost,
            .currency = t->arena + t->cur_off[en->cur],
            .valid_from = t->valid[en->valid].from,
            .valid_to = t->valid[en->valid].to,
        };
        rc = fn(arg, &row);
    }
    for (unsigned i = 0, nc = rt_rates_popcount(n->mask); i < nc && rc == 0; i++)
        rc = rt_rates_walk(t, &t->cells[n->child + i].node, fn, arg);
    return rc;
}

int rt_rates_foreach(const rt_rates_t *t, rt_rates_row_fn fn, void *arg)
{
    if (!t->sealed)
        return GW_EINVAL;
    return t->ncells ? rt_rates_walk(t, &t->cells[0].node, fn, arg) : 0;
}
