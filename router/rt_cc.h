/*
 * rt_cc.h - private to rt_compile.c and rt_compile_action.c: the compile
 * context and the checks both use.  Every check reports its own error
 * (rt_cc_err, with the field path) and returns -1 / NULL; out of memory
 * sets cc->nomem instead, which rt_compile turns into one "out of memory".
 *
 * Threads: the compiling thread.
 */
#ifndef RT_CC_H
#define RT_CC_H

#include "router/rt_int.h"

typedef struct rt_cc {
    rt_set_t *set;
    json_t *errors;
    const rt_compile_opts_t *opts;
    long long id;
    int has_id;
    size_t index;
    int nomem;
} rt_cc_t;

__attribute__((format(printf, 3, 4)))
void rt_cc_err(rt_cc_t *cc, const char *path, const char *fmt, ...);
/* 0 when obj is an object, every key not in allowed (NULL-terminated)
 * reported as "unknown field". */
int rt_cc_object(rt_cc_t *cc, const json_t *obj, const char *path, const char *const *allowed);
/* A copy in the set's arena, NULL (cc->nomem) when out of memory. */
const char *rt_cc_dup(rt_cc_t *cc, const char *s);
/* A string or an array of non-empty strings into an arena list. */
int rt_cc_strlist(rt_cc_t *cc, const json_t *v, const char *path, const char ***out, size_t *n);
/* Names from a NULL-terminated table as a bit mask. */
int rt_cc_names(rt_cc_t *cc, const json_t *v, const char *path, const char *const *names,
                unsigned *mask);
/* A PCRE2 pattern compiled (JIT when available); its text in *text when
 * not NULL.  The caller owns the code. */
pcre2_code *rt_cc_regex(rt_cc_t *cc, const json_t *v, const char *path, const char **text);
/* An integer in [lo, hi]. */
int rt_cc_int(rt_cc_t *cc, const json_t *v, const char *path, long long lo, long long hi,
              long long *out);
int rt_cc_name_index(const char *const *names, const char *s);

/* rt_compile_action.c: "action" of rule r. */
void rt_cc_action(rt_cc_t *cc, rt_crule_t *r, const json_t *a);

#endif
