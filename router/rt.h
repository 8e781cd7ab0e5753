/*
 * rt.h - the rule engine: pure routing, no I/O.
 *
 * A routing table is an immutable, reference-counted snapshot of the rules
 * from the routes table, sorted by (priority, id).  The first enabled rule
 * whose conditions all hold picks the target connector.  Conditions:
 *   source      the envelope's source connector/adapter name (NULL = any)
 *   dst_prefix  prefix of to.address (NULL or "" = any)
 *   dst_regex   PCRE2 pattern matched against to.address (NULL = none)
 *   src_prefix  prefix of from.address (NULL or "" = any)
 * A new table is built beside the running one and installed only when every
 * rule compiled (nginx-style reload), so a bad rule never disturbs traffic.
 *
 * Threads: building is single-threaded (the builder owns the table);
 * rt_current / rt_install may be called from any thread (one mutex guards
 * the current pointer); matching on a held table needs no lock.
 */
#ifndef RT_H
#define RT_H

#include <stddef.h>
#include "../gateway/gw_envelope.h"

typedef struct rt_rule_spec {
    long long id;
    const char *name;
    int priority;
    const char *source;
    const char *src_prefix;
    const char *dst_prefix;
    const char *dst_regex;
    const char *target;
    int enabled;
} rt_rule_spec_t;

typedef struct rt_rule rt_rule_t;   /* opaque */
typedef struct rt_table rt_table_t; /* opaque */

/* Check a PCRE2 pattern; 0, or GW_EINVAL with the compiler's reason and
 * offset in err. */
int rt_regex_check(const char *pattern, char *err, size_t errlen);

rt_table_t *rt_table_new(void);
/* Copy spec into the table, compiling its regex.  GW_EINVAL with a reason
 * in err (the table is unchanged), GW_ENOMEM, or 0. */
int rt_table_add(rt_table_t *t, const rt_rule_spec_t *spec, char *err, size_t errlen);
/* Sort by (priority, id); call once when all rules are added. */
void rt_table_seal(rt_table_t *t);
rt_table_t *rt_table_ref(rt_table_t *t);
void rt_table_unref(rt_table_t *t);
size_t rt_table_count(const rt_table_t *t);

/* First matching rule or NULL.  The rule lives as long as the table. */
const rt_rule_t *rt_match(const rt_table_t *t, const gw_envelope_t *env);
const char *rt_rule_target(const rt_rule_t *r);
const char *rt_rule_name(const rt_rule_t *r);
long long rt_rule_id(const rt_rule_t *r);

/* The running table: a new reference (never NULL after rt_init). */
rt_table_t *rt_current(void);
/* Install t (steals the caller's reference) and drop the old one. */
void rt_install(rt_table_t *t);
void rt_init(void);
void rt_shutdown(void);

#endif
