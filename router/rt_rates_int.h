/*
 * rt_rates_int.h - the inside of a rate table, shared by rt_rates.c (builder),
 * rt_rates_seal.c (seal, lookup) and rt_rates_csv.c (import, export).
 * Nothing else includes it.
 *
 * Builder: rows in one array of rt_rates_brow_t (28 bytes each, packed);
 * connector names and currencies interned once each in one string arena and
 * named by a 16-bit index; validity windows interned in valid[] (index 0 =
 * open).
 *
 * Sealed: the same arena plus every distinct prefix as a string, and one
 * array of 16-byte cells holding the trie's nodes and the rows (sorted by
 * cost, connector name, valid_from) side by side.  A node is a 10-bit child
 * mask and the cell of its first child (the child for digit d is first +
 * popcount(mask below d)) plus the cells of its rows and its prefix string:
 * 16 bytes instead of 40 for ten int32 links alone, which keeps 1,000,000
 * random prefixes with ~3 rows each near 115 MB.  A node's rows are placed
 * just before its children, so a lookup finds them near what it just read.
 * Threads: the builder's; the sealed arrays are read-only.
 */
#ifndef RT_RATES_INT_H
#define RT_RATES_INT_H

#include <stdint.h>
#include "router/rt_rates.h"

/* A prefix as one sortable word: its digits as a number left-aligned to
 * RT_RATES_DIGITS_MAX digits, shifted left 5, its length in the low 5 bits.
 * Integer order of these words is the digit strings' order ("49" < "490" <
 * "4901" < "491"). */
#define RT_RATES_KL(key, len) (((uint64_t)(key) << 5) | (uint64_t)(len))
#define RT_RATES_KEY(kl) ((kl) >> 5)
#define RT_RATES_LEN(kl) ((unsigned)((kl) & 31u))

/* Set in brow.line on the rows of an import while it is being checked. */
#define RT_RATES_NEW 0x80000000u

typedef struct __attribute__((packed, aligned(4))) rt_rates_brow {  /* 28 bytes */
    uint64_t kl;
    double cost;
    uint32_t valid;  /* index into valid[]; 0 = open both ends */
    uint32_t line;   /* CSV line (| RT_RATES_NEW while checked); 0 = rt_rates_add */
    uint16_t conn;   /* index into conn_off[] */
    uint16_t cur;    /* index into cur_off[] */
} rt_rates_brow_t;

typedef struct rt_rates_ent {
    double cost;
    uint32_t valid;
    uint16_t conn;
    uint16_t cur;
} rt_rates_ent_t;

typedef struct rt_rates_node {
    uint16_t mask;   /* bit d: a child for digit d */
    uint16_t nent;   /* rows of this prefix; 0 = no prefix ends here */
    uint32_t child;  /* cell of the first child */
    uint32_t ent;    /* cell of the first row */
    uint32_t str;    /* arena offset of the prefix string */
} rt_rates_node_t;

/* Nodes and rows share one array of 16-byte cells: a node's rows are laid
 * out just before its children, so the rows of a deep prefix sit in the
 * cache lines (and the huge page) the walk has just read. */
typedef union rt_rates_cell {
    rt_rates_node_t node;
    rt_rates_ent_t ent;
} rt_rates_cell_t;

typedef struct rt_rates_valid {
    int64_t from, to;
} rt_rates_valid_t;

/* An interning hash (open addressing, power-of-two capacity) of 32-bit ids. */
typedef struct rt_rates_hash {
    uint32_t *slot;  /* id + 1, 0 = empty */
    size_t cap;
} rt_rates_hash_t;

struct rt_rates {
    char *name;
    int sealed;

    /* strings: connector names, currencies, (sealed) prefixes */
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *conn_off;  /* arena offset of connector i */
    size_t nconn, conn_cap;
    uint32_t *cur_off;
    size_t ncur, cur_cap;
    rt_rates_valid_t *valid;
    size_t nvalid, valid_cap;

    /* builder only */
    rt_rates_brow_t *rows;
    size_t nrows, rows_cap;
    size_t checked;      /* rows[0, checked) are known free of overlaps */
    int kl_sorted;       /* rows are in prefix order (rt_rates_find_dups sorted them) */
    rt_rates_hash_t conn_h, cur_h, valid_h;

    /* sealed only */
    rt_rates_cell_t *cells;    /* cells[0] = the root node */
    size_t ncells;
    size_t nents;              /* rows among the cells */
};

/* Validate and add one row with its CSV line.  0; GW_EINVAL with the field's
 * name in *field and the reason in reason; GW_ENOMEM. */
int rt_rates_add_row(rt_rates_t *t, const char *prefix, const char *connector, double cost,
                     const char *currency, int64_t valid_from, int64_t valid_to, uint32_t line,
                     const char **field, char *reason, size_t rlen);

/* Overlapping rows of one (prefix, connector), found among rows[first_new..]
 * against all rows: rows are re-ordered (the builder's order does not
 * matter); fn is called for each overlap (a the earlier-sorting row) and the
 * count returned.  Rows from first_new on carry RT_RATES_NEW afterwards. */
typedef void (*rt_rates_dup_fn)(void *arg, const rt_rates_t *t, const rt_rates_brow_t *a,
                                const rt_rates_brow_t *b);
size_t rt_rates_find_dups(rt_rates_t *t, size_t first_new, rt_rates_dup_fn fn, void *arg);

/* Drop the rows marked RT_RATES_NEW (keep == 0) or clear the mark (keep). */
void rt_rates_settle_new(rt_rates_t *t, int keep);

/* A block for a sealed array (malloc'd; free() frees it).  Past 4 MB it is
 * 2 MB aligned and marked for transparent huge pages: a lookup in a
 * million-prefix table touches a few random nodes and rows, and with 4 KB
 * pages each of those is a TLB miss too.  madvise is a hint, not I/O.  The
 * builder's growing rows are left alone: huge pages on a block that realloc
 * moves cost ~35 MB more peak memory on a million-prefix load. */
void *rt_rates_alloc_big(size_t bytes);

/* Make room for need bytes of strings in the arena.  0 or GW_ENOMEM. */
int rt_rates_grow_arena(rt_rates_t *t, size_t need);

/* The prefix of kl as a string into buf (>= RT_RATES_DIGITS_MAX + 1). */
void rt_rates_kl_str(uint64_t kl, char *buf);

extern const uint64_t rt_rates_pow10[RT_RATES_DIGITS_MAX + 1];

/* Digit i (0 = first) of the prefix word kl. */
static inline unsigned rt_rates_digit(uint64_t kl, unsigned i)
{
    return (unsigned)(RT_RATES_KEY(kl) / rt_rates_pow10[RT_RATES_DIGITS_MAX - 1 - i] % 10);
}

/* valid_to as an end: open is the end of time. */
static inline int64_t rt_rates_to_end(int64_t to)
{
    return to == 0 ? INT64_MAX : to;
}

#endif
