/*
 * rt_compile.c - the rule language (docs/routing.md) compiled into a set.
 *
 * rt_compile checks every rule completely and collects every problem as
 * {"rule", "path", "message", "text"} instead of stopping at the first, so
 * an admin fixes a whole import in one round; any problem and the set is
 * freed: nothing is half-applied, the running set stays.  Each JSON object
 * has a table of the fields it knows (rt_keys_*); anything else is an
 * "unknown field" error, so a typo never silently widens a rule.
 *
 * What compiling resolves, so that matching does not have to: regexes
 * compiled once with PCRE2 (JIT when available), time zones read from
 * their TZif files (rt_tz.c), rate tables looked up by name, rules sorted
 * by (priority, id), destination prefixes put in the trie (rt_trie.c),
 * per-rule round-robin state and token buckets created.
 *
 * This file: the driver, the shared checks (rt_cc.h), source and filters,
 * the priority checks and the index; rt_compile_action.c: the actions.
 *
 * Threads: one caller at a time per call; reads zoneinfo files (the only
 * I/O of the router, done before the set exists).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_cc.h"
#include "gw_errors.h"


/* Checklist: a new field is named in its table here, parsed below and
 * documented in docs/routing.md. */
static const char *const rt_keys_rule[] = { "id", "name", "priority", "enabled", "description",
                                            "source", "filters", "action", NULL };
static const char *const rt_src_kind_names[RT_SRC__COUNT] = {
    "connector", "smpp_account", "sip_domain", "sip_peer", "amqp_queue", "api_key"
};
static const char *const rt_keys_source[] = { "connector", "smpp_account", "sip_domain",
                                              "sip_peer", "amqp_queue", "api_key", NULL };
static const char *const rt_keys_filters[] = { "src", "dst", "body", "tags", "time",
                                               "length", "coding", NULL };
static const char *const rt_keys_addr[] = { "prefix", "exact", "regex", "type", NULL };
static const char *const rt_keys_body[] = { "regex", NULL };
static const char *const rt_keys_time[] = { "tz", "windows", NULL };
static const char *const rt_keys_window[] = { "days", "from", "to", NULL };
static const char *const rt_keys_length[] = { "chars", "parts", NULL };
static const char *const rt_keys_minmax[] = { "min", "max", NULL };
static const char *const rt_coding_names[] = { "gsm", "ucs2", "binary", NULL };
static const char *const rt_day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

void rt_cc_err(rt_cc_t *cc, const char *path, const char *fmt, ...)
{
    char msg[256], text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cc->has_id)
        snprintf(text, sizeof text, "rule %lld: %s: %s", cc->id, path, msg);
    else
        snprintf(text, sizeof text, "rule #%zu: %s: %s", cc->index, path, msg);
    json_t *e = json_pack("{s:o,s:s,s:s,s:s}", "rule",
                          cc->has_id ? json_integer(cc->id) : json_null(), "path", path,
                          "message", msg, "text", text);
    if (e == NULL || json_array_append_new(cc->errors, e) != 0)
        cc->nomem = 1;
}

int rt_cc_name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* Report every key of obj not in allowed; 0 when obj is an object. */
int rt_cc_object(rt_cc_t *cc, const json_t *obj, const char *path,
                        const char *const *allowed)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj)) {
        rt_cc_err(cc, path, "must be an object");
        return -1;
    }
    json_object_foreach((json_t *)obj, key, v) {
        if (rt_cc_name_index(allowed, key) < 0) {
            char p[160];
            snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
            rt_cc_err(cc, p, "unknown field");
        }
    }
    return 0;
}

const char *rt_cc_dup(rt_cc_t *cc, const char *s)
{
    const char *d = rt_arena_strdup(cc->set, s);
    if (d == NULL)
        cc->nomem = 1;
    return d;
}

/* A string or an array of non-empty strings into an arena list. */
int rt_cc_strlist(rt_cc_t *cc, const json_t *v, const char *path, const char ***out,
                         size_t *n)
{
    size_t cnt = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v)) {
        rt_cc_err(cc, path, "must be a string or an array of strings");
        return -1;
    }
    const char **list = rt_arena_alloc(cc->set, (cnt ? cnt : 1) * sizeof *list);
    if (list == NULL) {
        cc->nomem = 1;
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_is_string(v) ? v : json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            rt_cc_err(cc, path, "item %zu: must be a non-empty string", i);
            return -1;
        }
        if ((list[i] = rt_cc_dup(cc, json_string_value(e))) == NULL)
            return -1; /* out of memory: callers read the items */
    }
    if (cnt == 0) {
        rt_cc_err(cc, path, "must not be empty");
        return -1;
    }
    *out = list;
    *n = cnt;
    return 0;
}

/* Names from a table as a bit mask (a string or an array of them). */
int rt_cc_names(rt_cc_t *cc, const json_t *v, const char *path, const char *const *names,
                       unsigned *mask)
{
    const char **list;
    size_t n;
    if (rt_cc_strlist(cc, v, path, &list, &n) != 0)
        return -1;
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        int k = rt_cc_name_index(names, list[i]);
        if (k < 0) {
            rt_cc_err(cc, path, "unknown value \"%s\"", list[i]);
            return -1;
        }
        *mask |= 1u << k;
    }
    return 0;
}

pcre2_code *rt_cc_regex(rt_cc_t *cc, const json_t *v, const char *path, const char **text)
{
    int errcode = 0;
    PCRE2_SIZE off = 0;
    if (!json_is_string(v)) {
        rt_cc_err(cc, path, "must be a string");
        return NULL;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)json_string_value(v), json_string_length(v),
                                   PCRE2_UTF, &errcode, &off, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[200];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", errcode);
        rt_cc_err(cc, path, "%s at offset %zu", (const char *)msg, (size_t)off);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* an optimisation only */
    if (text != NULL)
        *text = rt_cc_dup(cc, json_string_value(v));
    return re;
}

/* An integer in [lo, hi] into *out. */
int rt_cc_int(rt_cc_t *cc, const json_t *v, const char *path, long long lo, long long hi,
                     long long *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        rt_cc_err(cc, path, "must be an integer from %lld to %lld", lo, hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* A sip_domain item is a host name, or "*.name" for the names below it
 * (rt_match.c): a '*' anywhere else would never match, so it is an error
 * rather than a rule that silently matches nothing. */
static void rt_cc_domains(rt_cc_t *cc, const char *const *list, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        const char *d = list[i], *star = strchr(d, '*');
        if (star != NULL && (star != d || d[1] != '.' || d[2] == '\0' || strchr(d + 1, '*') != NULL))
            rt_cc_err(cc, path, "item %zu: \"%s\": a wildcard is only a leading \"*.\"", i, d);
    }
}

static void rt_cc_source(rt_cc_t *cc, rt_crule_t *r, const json_t *src)
{
    if (rt_cc_object(cc, src, "source", rt_keys_source) != 0)
        return;
    for (int k = 0; k < RT_SRC__COUNT; k++) {
        const json_t *v = json_object_get(src, rt_src_kind_names[k]);
        char p[64];
        if (v == NULL)
            continue;
        snprintf(p, sizeof p, "source.%s", rt_src_kind_names[k]);
        if (k == RT_SRC_CONNECTOR) {
            rt_cc_strlist(cc, v, p, &r->src_conn, &r->nsrc_conn);
        } else if (rt_cc_strlist(cc, v, p, &r->src_vals[k], &r->nsrc_vals[k]) == 0) {
            r->has_src_kind = 1;
            if (k == RT_SRC_SIP_DOMAIN)
                rt_cc_domains(cc, r->src_vals[k], r->nsrc_vals[k], p);
        }
    }
}

static void rt_cc_addr(rt_cc_t *cc, rt_addr_filter_t *f, const json_t *v, const char *side)
{
    char path[64], p[80];
    const json_t *x;
    snprintf(path, sizeof path, "filters.%s", side);
    if (rt_cc_object(cc, v, path, rt_keys_addr) != 0)
        return;
    snprintf(p, sizeof p, "%s.prefix", path);
    if ((x = json_object_get(v, "prefix")) != NULL &&
        rt_cc_strlist(cc, x, p, &f->prefix, &f->nprefix) == 0) {
        if ((f->prefix_len = rt_arena_alloc(cc->set, f->nprefix)) == NULL) {
            cc->nomem = 1;
            return;
        }
        for (size_t i = 0; i < f->nprefix; i++) {
            size_t len = strlen(f->prefix[i]);
            if (len > RT_PREFIX_MAX)
                rt_cc_err(cc, p, "\"%s\" is longer than %d characters", f->prefix[i],
                          RT_PREFIX_MAX);
            f->prefix_len[i] = (uint8_t)(len > RT_PREFIX_MAX ? RT_PREFIX_MAX : len);
        }
    }
    snprintf(p, sizeof p, "%s.exact", path);
    if ((x = json_object_get(v, "exact")) != NULL)
        rt_cc_strlist(cc, x, p, &f->exact, &f->nexact);
    snprintf(p, sizeof p, "%s.regex", path);
    if ((x = json_object_get(v, "regex")) != NULL)
        f->re = rt_cc_regex(cc, x, p, &f->re_text);
    snprintf(p, sizeof p, "%s.type", path);
    if ((x = json_object_get(v, "type")) != NULL) {
        static const char *const types[] = { "international", "national", "short", "alnum",
                                             "sip-uri", "tel-uri", NULL };
        rt_cc_names(cc, x, p, types, &f->types);
    }
}

/* "HH:MM" (00:00 .. 24:00) into minutes. */
static int rt_cc_hhmm(rt_cc_t *cc, const json_t *v, const char *path, uint16_t *out)
{
    unsigned h, m;
    char tail;
    if (!json_is_string(v) || sscanf(json_string_value(v), "%2u:%2u%c", &h, &m, &tail) != 2 ||
        m > 59 || h * 60 + m > 1440) {
        rt_cc_err(cc, path, "must be \"HH:MM\" from 00:00 to 24:00");
        return -1;
    }
    *out = (uint16_t)(h * 60 + m);
    return 0;
}

/* Days: names or "mon-fri" ranges (wrapping: "fri-mon"). */
static int rt_cc_days(rt_cc_t *cc, const json_t *v, const char *path, uint8_t *mask)
{
    const char **list;
    size_t n;
    if (rt_cc_strlist(cc, v, path, &list, &n) != 0)
        return -1;
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        char a[8] = "", b[8] = "";
        const char *dash = strchr(list[i], '-');
        snprintf(a, sizeof a, "%.*s", (int)(dash ? (size_t)(dash - list[i]) : strlen(list[i])),
                 list[i]);
        snprintf(b, sizeof b, "%s", dash ? dash + 1 : a);
        int x = rt_cc_name_index(rt_day_names, a), y = rt_cc_name_index(rt_day_names, b);
        if (x < 0 || y < 0) {
            rt_cc_err(cc, path, "unknown day \"%s\" (sun, mon, ..., sat or a range mon-fri)",
                      list[i]);
            return -1;
        }
        for (int d = x;; d = (d + 1) % 7) {
            *mask |= (uint8_t)(1u << d);
            if (d == y)
                break;
        }
    }
    return 0;
}

static const rt_tz_t *rt_cc_zone(rt_cc_t *cc, const json_t *v)
{
    rt_set_t *s = cc->set;
    char err[128];
    if (!json_is_string(v)) {
        rt_cc_err(cc, "filters.time.tz", "must be a string");
        return NULL;
    }
    for (size_t i = 0; i < s->nzones; i++)
        if (strcmp(rt_tz_name(s->zones[i]), json_string_value(v)) == 0)
            return s->zones[i];
    int rc;
    rt_tz_t *z = rt_tz_load(cc->opts->zoneinfo, json_string_value(v), &rc, err, sizeof err);
    if (z == NULL && rc == GW_ENOMEM) {
        cc->nomem = 1;
        return NULL;
    }
    if (z == NULL) {
        rt_cc_err(cc, "filters.time.tz", "%s \"%s\"", err, json_string_value(v));
        return NULL;
    }
    rt_tz_t **nz = realloc(s->zones, (s->nzones + 1) * sizeof *nz);
    if (nz == NULL) {
        rt_tz_free(z);
        cc->nomem = 1;
        return NULL;
    }
    s->zones = nz;
    s->zones[s->nzones++] = z;
    return z;
}

static void rt_cc_time(rt_cc_t *cc, rt_crule_t *r, const json_t *v)
{
    const json_t *w = json_object_get(v, "windows");
    if (rt_cc_object(cc, v, "filters.time", rt_keys_time) != 0)
        return;
    const rt_tz_t *tz = json_object_get(v, "tz") != NULL ? rt_cc_zone(cc, json_object_get(v, "tz"))
                                                         : NULL;
    if (json_object_get(v, "tz") == NULL)
        rt_cc_err(cc, "filters.time.tz", "required (an IANA zone such as \"Europe/Berlin\")");
    if (!json_is_array(w) || json_array_size(w) == 0) {
        rt_cc_err(cc, "filters.time.windows", "must be a non-empty array");
        return;
    }
    r->nwindows = json_array_size(w);
    r->windows = rt_arena_alloc(cc->set, r->nwindows * sizeof *r->windows);
    if (r->windows == NULL) {
        cc->nomem = 1;
        return;
    }
    for (size_t i = 0; i < r->nwindows; i++) {
        const json_t *e = json_array_get(w, i), *x;
        char p[64], q[80];
        rt_window_t *win = &r->windows[i];
        snprintf(p, sizeof p, "filters.time.windows[%zu]", i);
        if (rt_cc_object(cc, e, p, rt_keys_window) != 0)
            continue;
        win->days = 0x7f;
        snprintf(q, sizeof q, "%s.days", p);
        if ((x = json_object_get(e, "days")) != NULL)
            rt_cc_days(cc, x, q, &win->days);
        snprintf(q, sizeof q, "%s.from", p);
        rt_cc_hhmm(cc, json_object_get(e, "from"), q, &win->from);
        snprintf(q, sizeof q, "%s.to", p);
        rt_cc_hhmm(cc, json_object_get(e, "to"), q, &win->to);
    }
    r->tz = tz;
}

static void rt_cc_minmax(rt_cc_t *cc, const json_t *v, const char *path, unsigned *lo,
                         unsigned *hi)
{
    long long n;
    char p[64];
    if (rt_cc_object(cc, v, path, rt_keys_minmax) != 0)
        return;
    snprintf(p, sizeof p, "%s.min", path);
    if (json_object_get(v, "min") != NULL &&
        rt_cc_int(cc, json_object_get(v, "min"), p, 0, 1000000, &n) == 0)
        *lo = (unsigned)n;
    snprintf(p, sizeof p, "%s.max", path);
    if (json_object_get(v, "max") != NULL &&
        rt_cc_int(cc, json_object_get(v, "max"), p, 0, 1000000, &n) == 0)
        *hi = (unsigned)n;
    if (*lo > *hi)
        rt_cc_err(cc, path, "min %u is above max %u", *lo, *hi);
}

static void rt_cc_filters(rt_cc_t *cc, rt_crule_t *r, const json_t *f)
{
    const json_t *v;
    if (rt_cc_object(cc, f, "filters", rt_keys_filters) != 0)
        return;
    if ((v = json_object_get(f, "src")) != NULL)
        rt_cc_addr(cc, &r->f_src, v, "src");
    if ((v = json_object_get(f, "dst")) != NULL)
        rt_cc_addr(cc, &r->f_dst, v, "dst");
    if ((v = json_object_get(f, "body")) != NULL &&
        rt_cc_object(cc, v, "filters.body", rt_keys_body) == 0)
        r->body_re = rt_cc_regex(cc, json_object_get(v, "regex"), "filters.body.regex",
                                 &r->body_text);
    if ((v = json_object_get(f, "tags")) != NULL) {
        const char *key;
        json_t *val;
        size_t i = 0;
        if (!json_is_object(v)) {
            rt_cc_err(cc, "filters.tags", "must be an object of key: value or key: true");
        } else if ((r->tags = rt_arena_alloc(cc->set, (json_object_size(v) + 1) *
                                                          sizeof *r->tags)) == NULL) {
            cc->nomem = 1;
        } else {
            json_object_foreach((json_t *)v, key, val) {
                r->tags[i].key = rt_cc_dup(cc, key);
                if (json_is_string(val))
                    r->tags[i].value = rt_cc_dup(cc, json_string_value(val));
                else if (!json_is_true(val))
                    rt_cc_err(cc, "filters.tags", "%s: must be a string or true (exists)", key);
                i++;
            }
            r->ntags = i;
        }
    }
    if ((v = json_object_get(f, "time")) != NULL)
        rt_cc_time(cc, r, v);
    if ((v = json_object_get(f, "length")) != NULL &&
        rt_cc_object(cc, v, "filters.length", rt_keys_length) == 0) {
        if (json_object_get(v, "chars") != NULL)
            rt_cc_minmax(cc, json_object_get(v, "chars"), "filters.length.chars", &r->chars_min,
                         &r->chars_max);
        if (json_object_get(v, "parts") != NULL)
            rt_cc_minmax(cc, json_object_get(v, "parts"), "filters.length.parts", &r->parts_min,
                         &r->parts_max);
    }
    if ((v = json_object_get(f, "coding")) != NULL)
        rt_cc_names(cc, v, "filters.coding", rt_coding_names, &r->codings);
}

static void rt_cc_rule(rt_cc_t *cc, rt_crule_t *r, const json_t *j)
{
    const json_t *x;
    long long n;
    r->chars_max = r->parts_max = UINT32_MAX;
    r->validity_s = r->receipt = -1;
    r->enabled = 1;
    x = json_object_get(j, "id");
    if (json_is_integer(x)) {
        cc->has_id = 1;
        cc->id = r->id = json_integer_value(x);
    }
    if (rt_cc_object(cc, j, "", rt_keys_rule) != 0)
        return;
    if (!cc->has_id)
        rt_cc_err(cc, "id", "required: an integer");
    if (rt_cc_int(cc, json_object_get(j, "priority"), "priority", -1000000000, 1000000000, &n) == 0)
        r->priority = (int)n;
    if ((x = json_object_get(j, "enabled")) != NULL) {
        if (json_is_boolean(x))
            r->enabled = json_is_true(x);
        else
            rt_cc_err(cc, "enabled", "must be true or false");
    }
    x = json_object_get(j, "name");
    if (x != NULL && !json_is_string(x))
        rt_cc_err(cc, "name", "must be a string");
    char dflt[32];
    snprintf(dflt, sizeof dflt, "rule-%lld", r->id);
    r->name = rt_cc_dup(cc, json_is_string(x) ? json_string_value(x) : dflt);
    x = json_object_get(j, "description");
    if (x != NULL && !json_is_string(x))
        rt_cc_err(cc, "description", "must be a string");
    r->description = rt_cc_dup(cc, json_is_string(x) ? json_string_value(x) : "");
    if ((x = json_object_get(j, "source")) != NULL)
        rt_cc_source(cc, r, x);
    if ((x = json_object_get(j, "filters")) != NULL)
        rt_cc_filters(cc, r, x);
    rt_cc_action(cc, r, json_object_get(j, "action"));
}

static int rt_cc_order(const void *a, const void *b)
{
    const rt_crule_t *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int rt_cc_idcmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Duplicate ids, and enabled rules sharing a priority: errors naming both. */
static void rt_cc_conflicts(rt_cc_t *cc, rt_set_t *s)
{
    for (size_t i = 1; i < s->nrules; i++) {
        for (size_t j = i; j-- > 0 && s->rules[j].priority == s->rules[i].priority;) {
            const rt_crule_t *a = &s->rules[j], *b = &s->rules[i];
            cc->has_id = 1;
            cc->id = b->id;
            if (a->id == b->id)
                rt_cc_err(cc, "id", "rule id %lld is used twice", a->id);
            else if (a->enabled && b->enabled)
                rt_cc_err(cc, "priority", "%d is also the priority of rule %lld", b->priority,
                          a->id);
        }
    }
    /* the same id at different priorities: sort the ids */
    long long *ids = malloc((s->nrules ? s->nrules : 1) * sizeof *ids);
    if (ids == NULL) {
        cc->nomem = 1;
        return;
    }
    for (size_t i = 0; i < s->nrules; i++)
        ids[i] = s->rules[i].id;
    qsort(ids, s->nrules, sizeof *ids, rt_cc_idcmp);
    for (size_t i = 1; i < s->nrules; i++) {
        if (ids[i] != ids[i - 1] || (i > 1 && ids[i - 2] == ids[i]))
            continue;
        int same_prio = 0; /* already reported above */
        for (size_t k = 1; k < s->nrules && !same_prio; k++)
            same_prio = s->rules[k].id == ids[i] && s->rules[k - 1].id == ids[i] &&
                        s->rules[k].priority == s->rules[k - 1].priority;
        if (!same_prio) {
            cc->has_id = 1;
            cc->id = ids[i];
            rt_cc_err(cc, "id", "rule id %lld is used twice", ids[i]);
        }
    }
    free(ids);
}

/* The trie and the no-prefix list, from the sorted rules. */
static int rt_cc_index(rt_set_t *s)
{
    s->nopfx = malloc((s->nrules ? s->nrules : 1) * sizeof *s->nopfx);
    if (s->nopfx == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; i < s->nrules; i++) {
        rt_crule_t *r = &s->rules[i];
        r->order = (uint32_t)i;
        if (!r->enabled)
            continue;
        if (r->f_dst.nprefix == 0) {
            s->nopfx[s->nnopfx++] = (uint32_t)i;
            continue;
        }
        for (size_t k = 0; k < r->f_dst.nprefix; k++)
            if (rt_trie_add(s, r->f_dst.prefix[k], (uint32_t)i) != 0)
                return GW_ENOMEM;
    }
    return rt_trie_seal(s);
}

rt_set_t *rt_compile(const json_t *rules, const rt_compile_opts_t *opts, json_t **errors)
{
    static const rt_compile_opts_t none = { 0 };
    rt_cc_t cc = { .opts = opts != NULL ? opts : &none };
    rt_set_t *s = NULL;

    if (errors != NULL)
        *errors = NULL;
    if ((cc.errors = json_array()) == NULL || (s = cc.set = rt_set_alloc()) == NULL)
        goto out_nomem;
    if (!json_is_array(rules)) {
        rt_cc_err(&cc, "rules", "must be an array of rule objects");
        goto out_errors;
    }
    size_t n = json_array_size(rules);
    if ((s->rules = calloc(n ? n : 1, sizeof *s->rules)) == NULL)
        goto out_nomem;
    s->nrules = n; /* rt_set_free walks them: only once they exist */
    for (size_t i = 0; i < s->nrules; i++) {
        cc.index = i;
        cc.has_id = 0;
        rt_cc_rule(&cc, &s->rules[i], json_array_get(rules, i));
    }
    qsort(s->rules, s->nrules, sizeof s->rules[0], rt_cc_order);
    rt_cc_conflicts(&cc, s);
    if (cc.nomem)
        goto out_nomem;
    if (json_array_size(cc.errors) > 0)
        goto out_errors;
    if (rt_cc_index(s) != 0)
        goto out_nomem;
    if ((s->hits = rt_arena_alloc(s, (s->nrules + 1) * sizeof *s->hits)) == NULL)
        goto out_nomem;
    json_decref(cc.errors);
    s->owner = cc.opts->owner;
    s->release = cc.opts->release;
    return s;

out_nomem:
    if (cc.errors != NULL) {
        json_array_clear(cc.errors);
        cc.has_id = 0;
        cc.nomem = 0;
        rt_cc_err(&cc, "rules", "out of memory");
    }
out_errors:
    rt_set_unref(s);
    if (errors != NULL)
        *errors = cc.errors;
    else
        json_decref(cc.errors);
    return NULL;
}
