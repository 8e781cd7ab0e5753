/*
 * rt_trie.c - the destination prefix trie of a compiled set.
 *
 * Every enabled rule with a dst prefix list is listed at the node of each
 * of its prefixes (by its order number: its place in priority order).  A
 * decision walks the trie along to.address; the lists of the nodes it
 * passes, plus the rules without a dst prefix (set->nopfx), are exactly the
 * rules whose dst prefix can match, and merging them in order number gives
 * them in priority order (rt_match.c).  10,000 rules cost a walk of at most
 * RT_PREFIX_MAX nodes and the few candidates found, not 10,000 tests.
 *
 * Nodes live in one growable array (indexes, not pointers, so it may
 * move while building); children are a short byte-keyed list (digits in
 * practice: at most ten).
 *
 * Threads: built by the compiling thread; read-only afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "router/rt_int.h"
#include "gw_errors.h"

static int rt_trie_push(void **arr, uint32_t *n, size_t elem, const void *v)
{
    void *na = realloc(*arr, (*n + 1) * elem);
    if (na == NULL)
        return GW_ENOMEM;
    memcpy((char *)na + *n * elem, v, elem);
    *arr = na;
    (*n)++;
    return 0;
}

static int64_t rt_trie_new_node(rt_set_t *s)
{
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes ? s->capnodes * 2 : 64;
        rt_tnode_t *nn = realloc(s->nodes, cap * sizeof *nn);
        if (nn == NULL)
            return -1;
        s->nodes = nn;
        s->capnodes = cap;
    }
    memset(&s->nodes[s->nnodes], 0, sizeof s->nodes[0]);
    return (int64_t)s->nnodes++;
}

int rt_trie_add(rt_set_t *s, const char *prefix, uint32_t order)
{
    if (s->nnodes == 0 && rt_trie_new_node(s) < 0)
        return GW_ENOMEM;
    uint32_t at = 0;
    for (const unsigned char *p = (const unsigned char *)prefix; *p != '\0'; p++) {
        rt_tnode_t *n = &s->nodes[at];
        uint32_t k = 0;
        while (k < n->nkids && n->keys[k] != *p)
            k++;
        if (k < n->nkids) {
            at = n->kids[k];
            continue;
        }
        int64_t child = rt_trie_new_node(s);
        if (child < 0)
            return GW_ENOMEM;
        n = &s->nodes[at]; /* the array may have moved */
        uint32_t c = (uint32_t)child, nk = n->nkids;
        if (rt_trie_push((void **)&n->keys, &nk, 1, p) != 0 ||
            rt_trie_push((void **)&n->kids, &n->nkids, sizeof c, &c) != 0)
            return GW_ENOMEM;
        at = c;
    }
    return rt_trie_push((void **)&s->nodes[at].rules, &s->nodes[at].nrules, sizeof order, &order);
}

static int rt_trie_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int rt_trie_seal(rt_set_t *s)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        rt_tnode_t *n = &s->nodes[i];
        if (n->nrules < 2)
            continue;
        qsort(n->rules, n->nrules, sizeof n->rules[0], rt_trie_cmp);
        uint32_t w = 1;
        for (uint32_t r = 1; r < n->nrules; r++)
            if (n->rules[r] != n->rules[w - 1])
                n->rules[w++] = n->rules[r];
        n->nrules = w;
    }
    return 0;
}
