/*
 * rt_int.h - private to the engine's files: the compiled set.
 *
 *   rt_compile.c, rt_compile_action.c (rt_cc.h)  JSON -> rt_crule_t, errors;
 *                 rt_trie.c the destination
 *                 prefix trie; rt_match.c filters, actions, rt_decide;
 *                 rt_explain.c the dry run; rt_set.c lifetime and the
 *                 running set; rt_tz.c zones.
 *
 * Everything a set owns is either in its arena (strings, lists: freed in
 * one go) or listed in a rule (PCRE2 codes, pick states, buckets) or in
 * set->zones; rt_set_free in rt_set.c frees them.  Checklist for a new
 * owned field: rt_crule_t, rt_compile.c, rt_set_free.
 *
 * Threads: built by one thread; afterwards read-only but for the atomic
 * state inside rt_pick_state_t and rt_bucket_t and the refcount.
 */
#ifndef RT_INT_H
#define RT_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "router/rt_engine.h"
#include "router/rt_tz.h"

#define RT_PREFIX_MAX 32    /* longest prefix in a rule */
#define RT_OVECTOR_PAIRS 32 /* capture groups a rewrite may use */

typedef struct rt_arena_chunk rt_arena_chunk_t;

typedef struct rt_addr_filter {
    const char **prefix;  /* any of them; dst prefixes are in the trie too */
    uint8_t *prefix_len;  /* their lengths (at most RT_PREFIX_MAX) */
    size_t nprefix;
    const char **exact;   /* any of them */
    size_t nexact;
    pcre2_code *re;
    const char *re_text;
    unsigned types;       /* bit per gw_addr_type_t; 0 = any */
} rt_addr_filter_t;

typedef struct rt_window {
    uint8_t days;          /* bit per weekday, 0 = Sunday */
    uint16_t from, to;     /* minutes after local midnight; to < from: past midnight */
} rt_window_t;

typedef struct rt_tag_filter {
    const char *key;
    const char *value;     /* NULL: the key exists */
} rt_tag_filter_t;

typedef struct rt_rewrite {
    int on;
    unsigned strip;        /* 1: strip, prefix, regex, then ton/npi/type/alnum */
    const char *prefix;
    pcre2_code *re;
    const char *replace;
    int ton, npi, type;    /* -1: unchanged */
    const char *alnum;     /* set an alphanumeric address (TON 5 NPI 0) */
} rt_rewrite_t;

typedef struct rt_crule {
    long long id;
    const char *name;
    const char *description;
    int priority;
    int enabled;
    uint32_t order;        /* index in set->rules */

    /* source: connector AND (any of the kind lists) */
    const char **src_conn;
    size_t nsrc_conn;
    const char **src_vals[RT_SRC__COUNT];
    size_t nsrc_vals[RT_SRC__COUNT];
    int has_src_kind;

    /* filters */
    rt_addr_filter_t f_src, f_dst;
    pcre2_code *body_re;
    const char *body_text;
    rt_tag_filter_t *tags;
    size_t ntags;
    const rt_tz_t *tz;     /* NULL: no time filter */
    rt_window_t *windows;
    size_t nwindows;
    unsigned chars_min, chars_max, parts_min, parts_max;
    unsigned codings;      /* bit per rt_coding_t; 0 = any */

    /* action */
    rt_kind_t kind;
    int strategy;          /* rt_pick_kind_t */
    rt_pick_target_t *targets;
    size_t ntargets;
    rt_pick_state_t *pick;
    const rt_rates_t *rates;
    const char *norate_reason;
    int sip_status, smpp_status;
    const char *reason;
    rt_rewrite_t rw_src, rw_dst;
    rt_tag_t *set_tags;
    size_t nset_tags;
    int validity_s, receipt;
    const char *mirror_exchange, *mirror_rk;
    rt_bucket_t *bucket;
    int over_reject;
    int over_sip, over_smpp;
    const char *over_reason;
} rt_crule_t;

typedef struct rt_tnode {
    unsigned char *keys;   /* child edge bytes, nkids of them */
    uint32_t *kids;        /* node indexes */
    uint32_t *rules;       /* ascending rule order numbers ending here */
    uint32_t nkids, nrules;
} rt_tnode_t;

struct rt_set {
    int refs;              /* atomic */
    rt_crule_t *rules;     /* sorted by (priority, id) */
    size_t nrules;
    rt_tnode_t *nodes;     /* node 0 is the root */
    size_t nnodes, capnodes;
    uint32_t *nopfx;       /* enabled rules without a dst prefix, ascending */
    size_t nnopfx;
    rt_tz_t **zones;
    size_t nzones;
    pcre2_match_context *mctx; /* match/depth limits for every match */
    rt_arena_chunk_t *arena;
    /* atomics, the only counters of a set: rt_decide's decisions per rule
     * (rules' order) and, at [nrules], all of its decisions (rt_set_hits) */
    uint64_t *hits;
    void *owner;           /* rt_compile_opts_t.owner: released when the set is freed */
    void (*release)(void *owner);
};

/* A filter that failed: for rt_explain. */
typedef struct rt_fail {
    const char *field;     /* "filters.dst.prefix", "source.connector", ... */
    const char *value;     /* the query's value, or NULL */
    long long num;         /* numeric value when value is NULL, else 0 */
    int has_num;
} rt_fail_t;

/* rt_set.c */
void *rt_arena_alloc(rt_set_t *s, size_t n);  /* zeroed; NULL on ENOMEM */
const char *rt_arena_strdup(rt_set_t *s, const char *str);
rt_set_t *rt_set_alloc(void);
pcre2_match_data *rt_tls_match_data(void);    /* this thread's, created once; NULL on ENOMEM */

/* rt_trie.c */
int rt_trie_add(rt_set_t *s, const char *prefix, uint32_t order);
int rt_trie_seal(rt_set_t *s);                /* sort and dedupe each node's list */

/* rt_match.c */
int rt_rule_check(const rt_set_t *s, const rt_crule_t *r, const rt_query_t *q, int skip_dst_prefix,
                  rt_fail_t *fail);
/* Fill *out from matched rule r (or "no route" when r is NULL); dry = 1
 * takes no token and advances no counter. */
rt_kind_t rt_apply(const rt_set_t *s, const rt_crule_t *r, const rt_query_t *q, int dry,
                   rt_decision_t *out);
int rt_regex_match(const rt_set_t *s, const pcre2_code *re, const char *subj, size_t len);

#endif
