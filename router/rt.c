/*
 * rt.c - the rule engine: compiled routing tables and the running table.
 *
 * A table is built by one thread (the MI handler or start-up code that read
 * the routes table): rt_table_new, rt_table_add for each row, rt_table_seal.
 * rt_table_add copies every string and compiles dst_regex with PCRE2 (JIT
 * when available), so a rule that does not compile is refused before the
 * table can be installed: the running table is never disturbed by a bad
 * rule (the nginx reload pattern).  After rt_table_seal the table is
 * immutable and may be matched by any number of threads without a lock;
 * each match uses its own PCRE2 match data because match data is mutable.
 *
 * Lifetime: a table is reference counted with atomics.  rt_current hands
 * out a new reference to the running table; rt_install swaps the pointer
 * under rt_lock and drops the old table's reference, which frees it once
 * the last thread still matching on it lets go.
 *
 * Invariant: nothing here does I/O or touches the store; the only lock is
 * rt_lock, guarding rt_cur.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt.h"
#include "gw_errors.h"

struct rt_rule {
    long long id;
    char *name;
    int priority;
    char *source;     /* NULL = any */
    char *src_prefix; /* NULL = any */
    char *dst_prefix; /* NULL = any */
    char *dst_regex;  /* NULL = none; the text, kept for diagnostics */
    pcre2_code *re;   /* compiled dst_regex, NULL when none */
    char *target;
    int enabled;
    size_t seq;       /* insertion order: makes the sort total and stable */
};

struct rt_table {
    struct rt_rule *rules;
    size_t count;
    size_t cap;
    int sealed;
    int refs; /* atomic */
};

/* The running table; rt_lock guards the pointer (not the table, which is
 * immutable once installed). */
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_table_t *rt_cur;

/* Compile pattern as UTF-8.  Returns the code or NULL with the compiler's
 * reason in err ("dst_regex: <message> at offset N").  Caller frees the
 * code with pcre2_code_free.  Any thread. */
static pcre2_code *rt_regex_compile(const char *pattern, char *err, size_t errlen)
{
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                                   &errcode, &erroff, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", errcode);
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "dst_regex: %s at offset %zu", (const char *)msg,
                     (size_t)erroff);
        return NULL;
    }
    /* JIT is an optimisation only: when unavailable pcre2_match interprets. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

int rt_regex_check(const char *pattern, char *err, size_t errlen)
{
    if (pattern == NULL || pattern[0] == '\0')
        return 0;
    pcre2_code *re = rt_regex_compile(pattern, err, errlen);
    if (re == NULL)
        return GW_EINVAL;
    pcre2_code_free(re);
    return 0;
}

/* Copy a condition string; "" and NULL both mean "any" and become NULL.
 * Returns 0 or GW_ENOMEM. */
static int rt_copy_cond(char **dst, const char *s)
{
    *dst = NULL;
    if (s == NULL || s[0] == '\0')
        return 0;
    *dst = strdup(s);
    return *dst != NULL ? 0 : GW_ENOMEM;
}

static void rt_rule_clear(struct rt_rule *r)
{
    free(r->name);
    free(r->source);
    free(r->src_prefix);
    free(r->dst_prefix);
    free(r->dst_regex);
    free(r->target);
    pcre2_code_free(r->re);
    memset(r, 0, sizeof *r);
}

rt_table_t *rt_table_new(void)
{
    rt_table_t *t = calloc(1, sizeof *t);
    if (t != NULL)
        t->refs = 1;
    return t;
}

int rt_table_add(rt_table_t *t, const rt_rule_spec_t *spec, char *err, size_t errlen)
{
    int rc = GW_EINVAL;
    struct rt_rule r;

    memset(&r, 0, sizeof r);
    if (t == NULL || spec == NULL || t->sealed) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "table is sealed");
        return GW_EINVAL;
    }
    if (spec->target == NULL || spec->target[0] == '\0') {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "target: must not be empty");
        return GW_EINVAL;
    }
    if (spec->dst_regex != NULL && spec->dst_regex[0] != '\0') {
        r.re = rt_regex_compile(spec->dst_regex, err, errlen);
        if (r.re == NULL)
            return GW_EINVAL;
    }
    rc = GW_ENOMEM;
    r.id = spec->id;
    r.priority = spec->priority;
    r.enabled = spec->enabled;
    r.seq = t->count;
    r.name = strdup(spec->name != NULL ? spec->name : "");
    r.target = strdup(spec->target);
    if (r.name == NULL || r.target == NULL)
        goto out_clear_rule;
    if (rt_copy_cond(&r.source, spec->source) < 0 ||
        rt_copy_cond(&r.src_prefix, spec->src_prefix) < 0 ||
        rt_copy_cond(&r.dst_prefix, spec->dst_prefix) < 0 ||
        rt_copy_cond(&r.dst_regex, spec->dst_regex) < 0)
        goto out_clear_rule;
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        struct rt_rule *nr = realloc(t->rules, ncap * sizeof *nr);
        if (nr == NULL)
            goto out_clear_rule;
        t->rules = nr;
        t->cap = ncap;
    }
    t->rules[t->count++] = r;
    return 0;

out_clear_rule:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "out of memory");
    rt_rule_clear(&r);
    return rc;
}

/* Order: priority ascending, then id ascending, then insertion order (so
 * equal keys keep their order: a stable sort on top of qsort). */
static int rt_rule_cmp(const void *a, const void *b)
{
    const struct rt_rule *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

void rt_table_seal(rt_table_t *t)
{
    if (t == NULL || t->sealed)
        return;
    if (t->count > 1)
        qsort(t->rules, t->count, sizeof t->rules[0], rt_rule_cmp);
    t->sealed = 1;
}

rt_table_t *rt_table_ref(rt_table_t *t)
{
    if (t != NULL)
        __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
    return t;
}

void rt_table_unref(rt_table_t *t)
{
    if (t == NULL || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < t->count; i++)
        rt_rule_clear(&t->rules[i]);
    free(t->rules);
    free(t);
}

size_t rt_table_count(const rt_table_t *t)
{
    return t != NULL ? t->count : 0;
}

static int rt_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s != NULL ? s : "", prefix, strlen(prefix)) == 0;
}

/* Limits for every match: an admin's pattern that backtracks badly meets an
 * address from the network on a SIP worker, so it gets a bounded budget
 * (a pattern over it does not match) instead of PCRE2's ten million steps.
 * Created by rt_init, read-only afterwards, shared by every thread. */
#define RT_MATCH_LIMIT 100000
#define RT_DEPTH_LIMIT 10000
static pcre2_match_context *rt_match_ctx;

/* 1 when s matches re.  Match data per call: it is mutable, and several
 * threads match on one table at once.  One ovector pair is enough because
 * only "matched or not" matters (pcre2_match returns 0, not an error, when
 * captures do not fit). */
static int rt_regex_matches(const pcre2_code *re, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (md == NULL)
        return 0;
    const char *subject = s != NULL ? s : "";
    int n = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, rt_match_ctx);
    pcre2_match_data_free(md);
    return n >= 0;
}

static int rt_rule_matches(const struct rt_rule *r, const gw_envelope_t *env)
{
    if (!r->enabled)
        return 0;
    if (r->source != NULL) {
        const char *conn = env->source.connector, *ad = env->source.adapter;
        if (!(conn != NULL && strcmp(conn, r->source) == 0) &&
            !(ad != NULL && strcmp(ad, r->source) == 0))
            return 0;
    }
    if (r->src_prefix != NULL && !rt_has_prefix(env->from.address, r->src_prefix))
        return 0;
    if (r->dst_prefix != NULL && !rt_has_prefix(env->to.address, r->dst_prefix))
        return 0;
    if (r->re != NULL && !rt_regex_matches(r->re, env->to.address))
        return 0;
    return 1;
}

const rt_rule_t *rt_match(const rt_table_t *t, const gw_envelope_t *env)
{
    if (t == NULL || env == NULL)
        return NULL;
    for (size_t i = 0; i < t->count; i++)
        if (rt_rule_matches(&t->rules[i], env))
            return &t->rules[i];
    return NULL;
}

const char *rt_rule_target(const rt_rule_t *r)
{
    return r->target;
}

const char *rt_rule_name(const rt_rule_t *r)
{
    return r->name;
}

long long rt_rule_id(const rt_rule_t *r)
{
    return r->id;
}

rt_table_t *rt_current(void)
{
    pthread_mutex_lock(&rt_lock);
    rt_table_t *t = rt_table_ref(rt_cur);
    pthread_mutex_unlock(&rt_lock);
    return t;
}

void rt_install(rt_table_t *t)
{
    rt_table_seal(t);
    pthread_mutex_lock(&rt_lock);
    rt_table_t *old = rt_cur;
    rt_cur = t;
    pthread_mutex_unlock(&rt_lock);
    /* Outside the lock: freeing the old table may take a while. */
    rt_table_unref(old);
}

void rt_init(void)
{
    rt_match_ctx = pcre2_match_context_create(NULL);
    if (rt_match_ctx != NULL) {
        pcre2_set_match_limit(rt_match_ctx, RT_MATCH_LIMIT);
        pcre2_set_depth_limit(rt_match_ctx, RT_DEPTH_LIMIT);
    }
    rt_table_t *t = rt_table_new();
    if (t == NULL)
        abort(); /* start-up, a few bytes: nothing sensible to do without a table */
    rt_install(t);
}

void rt_shutdown(void)
{
    pthread_mutex_lock(&rt_lock);
    rt_table_t *old = rt_cur;
    rt_cur = NULL;
    pthread_mutex_unlock(&rt_lock);
    rt_table_unref(old);
    pcre2_match_context_free(rt_match_ctx);
    rt_match_ctx = NULL;
}
