/*
 * rt_rates.c - rate tables: the builder (rt_rates_new, rt_rates_add and the
 * validation the CSV import shares), interning, memory accounting, freeing.
 * rt_rates_seal.c compiles a built table and looks up in it.
 *
 * Build: rt_rates_add validates a row and appends it to one array (the
 * prefix packed into one sortable word, strings and validity windows
 * interned), so a million-prefix sheet costs one 28-byte row per line and no
 * allocation per row.
 *
 * Ownership: the table owns every string it hands out; rt_rates_free frees
 * all.  Threads: building and sealing on the owner's thread; a sealed table
 * is read-only and shared freely.
 */
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_rates_int.h"
#include "gw_errors.h"

const uint64_t rt_rates_pow10[RT_RATES_DIGITS_MAX + 1] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
};

void rt_rates_kl_str(uint64_t kl, char *buf)
{
    unsigned n = RT_RATES_LEN(kl), i;

    for (i = 0; i < n; i++)
        buf[i] = (char)('0' + rt_rates_digit(kl, i));
    buf[n] = '\0';
}

/* Grow *v (elements of size sz) to hold need; 0 or GW_ENOMEM. */
static int rt_rates_grow(void **v, size_t *cap, size_t need, size_t sz)
{
    size_t n = *cap ? *cap : 16;
    void *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    p = realloc(*v, n * sz);
    if (p == NULL)
        return GW_ENOMEM;
    *v = p;
    *cap = n;
    return 0;
}

/* Copy s (len bytes) and a NUL into the arena; its offset in *off. */
static int rt_rates_arena_put(rt_rates_t *t, const char *s, size_t len, uint32_t *off)
{
    int rc = rt_rates_grow((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1);

    if (rc != 0)
        return rc;
    if (t->arena_len + len + 1 > UINT32_MAX)
        return GW_ENOMEM;
    memcpy(t->arena + t->arena_len, s, len);
    t->arena[t->arena_len + len] = '\0';
    *off = (uint32_t)t->arena_len;
    t->arena_len += len + 1;
    return 0;
}

void *rt_rates_alloc_big(size_t bytes)
{
    void *p = NULL;

    if (bytes < (4u << 20))
        return malloc(bytes ? bytes : 1);
    if (posix_memalign(&p, 2u << 20, bytes) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, (bytes + 4095) & ~(size_t)4095, MADV_HUGEPAGE);
#endif
    return p;
}

int rt_rates_grow_arena(rt_rates_t *t, size_t need)
{
    return rt_rates_grow((void **)&t->arena, &t->arena_cap, need, 1);
}

static uint64_t rt_rates_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t rt_rates_str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return rt_rates_mix(h);
}

/* Double h's capacity, re-placing ids by hash_of(t, id).  0 or GW_ENOMEM. */
static int rt_rates_hash_grow(rt_rates_t *t, rt_rates_hash_t *h,
                              uint64_t (*hash_of)(const rt_rates_t *, uint32_t))
{
    size_t cap = h->cap ? h->cap * 2 : 64, i, j;
    uint32_t *slot = calloc(cap, sizeof *slot);

    if (slot == NULL)
        return GW_ENOMEM;
    for (i = 0; i < h->cap; i++) {
        if (h->slot[i] == 0)
            continue;
        j = hash_of(t, h->slot[i] - 1) & (cap - 1);
        while (slot[j] != 0)
            j = (j + 1) & (cap - 1);
        slot[j] = h->slot[i];
    }
    free(h->slot);
    h->slot = slot;
    h->cap = cap;
    return 0;
}

static uint64_t rt_rates_conn_hash(const rt_rates_t *t, uint32_t id)
{
    return rt_rates_str_hash(t->arena + t->conn_off[id]);
}

static uint64_t rt_rates_cur_hash(const rt_rates_t *t, uint32_t id)
{
    return rt_rates_str_hash(t->arena + t->cur_off[id]);
}

static uint64_t rt_rates_valid_hash(const rt_rates_t *t, uint32_t id)
{
    return rt_rates_mix((uint64_t)t->valid[id].from * 31 + (uint64_t)t->valid[id].to);
}

/* The id of string s in (h, offs, n), adding it when new.  0 or an error;
 * GW_EFULL past 65535 distinct strings. */
static int rt_rates_intern(rt_rates_t *t, rt_rates_hash_t *h, uint32_t **offs, size_t *n,
                           size_t *cap, uint64_t (*hash_of)(const rt_rates_t *, uint32_t),
                           const char *s, uint16_t *id)
{
    uint64_t hv = rt_rates_str_hash(s);
    size_t j;
    uint32_t off;
    int rc = 0;

    if ((*n + 1) * 2 > h->cap && (rc = rt_rates_hash_grow(t, h, hash_of)) != 0)
        return rc;
    for (j = hv & (h->cap - 1); h->slot[j] != 0; j = (j + 1) & (h->cap - 1)) {
        if (strcmp(t->arena + (*offs)[h->slot[j] - 1], s) == 0) {
            *id = (uint16_t)(h->slot[j] - 1);
            return 0;
        }
    }
    if (*n >= UINT16_MAX)
        return GW_EFULL;
    if ((rc = rt_rates_grow((void **)offs, cap, *n + 1, sizeof **offs)) != 0)
        return rc;
    if ((rc = rt_rates_arena_put(t, s, strlen(s), &off)) != 0)
        return rc;
    (*offs)[*n] = off;
    h->slot[j] = (uint32_t)*n + 1;
    *id = (uint16_t)(*n)++;
    return 0;
}

/* The index of window [from, to) in valid[], adding it when new. */
static int rt_rates_intern_valid(rt_rates_t *t, int64_t from, int64_t to, uint32_t *id)
{
    uint64_t hv = rt_rates_mix((uint64_t)from * 31 + (uint64_t)to);
    size_t j;
    int rc = 0;

    if (from == 0 && to == 0) {
        *id = 0;
        return 0;
    }
    if ((t->nvalid + 1) * 2 > t->valid_h.cap &&
        (rc = rt_rates_hash_grow(t, &t->valid_h, rt_rates_valid_hash)) != 0)
        return rc;
    for (j = hv & (t->valid_h.cap - 1); t->valid_h.slot[j] != 0;
         j = (j + 1) & (t->valid_h.cap - 1)) {
        const rt_rates_valid_t *v = &t->valid[t->valid_h.slot[j] - 1];
        if (v->from == from && v->to == to) {
            *id = t->valid_h.slot[j] - 1;
            return 0;
        }
    }
    if ((rc = rt_rates_grow((void **)&t->valid, &t->valid_cap, t->nvalid + 1,
                            sizeof *t->valid)) != 0)
        return rc;
    t->valid[t->nvalid].from = from;
    t->valid[t->nvalid].to = to;
    t->valid_h.slot[j] = (uint32_t)t->nvalid + 1;
    *id = (uint32_t)t->nvalid++;
    return 0;
}

rt_rates_t *rt_rates_new(const char *name)
{
    rt_rates_t *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->name = strdup(name != NULL ? name : "");
    t->valid = malloc(16 * sizeof *t->valid);  /* valid[0]: open both ends */
    if (t->name == NULL || t->valid == NULL) {
        rt_rates_free(t);
        return NULL;
    }
    t->valid_cap = 16;
    t->valid[0].from = t->valid[0].to = 0;
    t->nvalid = 1;
    return t;
}

void rt_rates_free(rt_rates_t *t)
{
    if (t == NULL)
        return;
    free(t->name);
    free(t->arena);
    free(t->conn_off);
    free(t->cur_off);
    free(t->valid);
    free(t->rows);
    free(t->conn_h.slot);
    free(t->cur_h.slot);
    free(t->valid_h.slot);
    free(t->cells);
    free(t);
}

const char *rt_rates_name(const rt_rates_t *t)
{
    return t->name;
}

int rt_rates_sealed(const rt_rates_t *t)
{
    return t->sealed;
}

size_t rt_rates_count(const rt_rates_t *t)
{
    return t->sealed ? t->nents : t->nrows;
}

size_t rt_rates_memory(const rt_rates_t *t)
{
    return sizeof *t + strlen(t->name) + 1 + t->arena_cap + t->conn_cap * sizeof *t->conn_off +
           t->cur_cap * sizeof *t->cur_off + t->valid_cap * sizeof *t->valid +
           t->rows_cap * sizeof *t->rows +
           (t->conn_h.cap + t->cur_h.cap + t->valid_h.cap) * sizeof(uint32_t) +
           t->ncells * sizeof *t->cells;
}

/* The prefix word of s (an optional '+', then 1..RT_RATES_DIGITS_MAX digits). */
static int rt_rates_prefix_kl(const char *s, uint64_t *kl, char *reason, size_t rlen)
{
    uint64_t v = 0;
    unsigned n = 0;

    if (*s == '+')
        s++;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9') {
            snprintf(reason, rlen, "'%c' is not a digit", *s);
            return GW_EINVAL;
        }
        if (n == RT_RATES_DIGITS_MAX) {
            snprintf(reason, rlen, "longer than %d digits", RT_RATES_DIGITS_MAX);
            return GW_EINVAL;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (n == 0) {
        snprintf(reason, rlen, "empty");
        return GW_EINVAL;
    }
    *kl = RT_RATES_KL(v * rt_rates_pow10[RT_RATES_DIGITS_MAX - n], n);
    return 0;
}

/* "" when the connector name is acceptable, else why not. */
static const char *rt_rates_name_bad(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0)
        return "empty";
    if (n >= RT_RATES_NAME_MAX)
        return "too long";
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "control character";
    return "";
}

int rt_rates_add_row(rt_rates_t *t, const char *prefix, const char *connector, double cost,
                     const char *currency, int64_t valid_from, int64_t valid_to, uint32_t line,
                     const char **field, char *reason, size_t rlen)
{
    rt_rates_brow_t r;
    const char *why;
    uint64_t kl = 0;
    uint32_t valid = 0;
    uint16_t conn = 0, cur = 0;
    int rc = GW_EINVAL;

    *field = "table";
    if (t->sealed) {
        snprintf(reason, rlen, "sealed");
        return rc;
    }
    *field = "prefix";
    if (rt_rates_prefix_kl(prefix, &kl, reason, rlen) != 0)
        return rc;
    *field = "connector";
    if (*(why = rt_rates_name_bad(connector)) != '\0') {
        snprintf(reason, rlen, "%s", why);
        return rc;
    }
    *field = "cost";
    if (!isfinite(cost) || cost < 0) {
        snprintf(reason, rlen, "%s", isfinite(cost) ? "negative" : "not a finite number");
        return rc;
    }
    *field = "currency";
    if (strlen(currency) != 3 || currency[0] < 'A' || currency[0] > 'Z' || currency[1] < 'A' ||
        currency[1] > 'Z' || currency[2] < 'A' || currency[2] > 'Z') {
        snprintf(reason, rlen, "not three upper-case letters (ISO 4217)");
        return rc;
    }
    *field = valid_from < 0 ? "valid_from" : "valid_to";
    if (valid_from < 0 || valid_to < 0) {
        snprintf(reason, rlen, "before 1970");
        return rc;
    }
    *field = valid_from > RT_RATES_TIME_MAX ? "valid_from" : "valid_to";
    if (valid_from > RT_RATES_TIME_MAX || valid_to > RT_RATES_TIME_MAX) {
        snprintf(reason, rlen, "after 9999-12-31");
        return rc;
    }
    if (valid_from != 0 && valid_to != 0 && valid_from >= valid_to) {
        snprintf(reason, rlen, "not after valid_from");
        return rc;
    }
    *field = "table";
    if ((rc = rt_rates_grow((void **)&t->rows, &t->rows_cap, t->nrows + 1, sizeof *t->rows)) ||
        (rc = rt_rates_intern(t, &t->conn_h, &t->conn_off, &t->nconn, &t->conn_cap,
                              rt_rates_conn_hash, connector, &conn)) ||
        (rc = rt_rates_intern(t, &t->cur_h, &t->cur_off, &t->ncur, &t->cur_cap,
                              rt_rates_cur_hash, currency, &cur)) ||
        (rc = rt_rates_intern_valid(t, valid_from, valid_to, &valid))) {
        snprintf(reason, rlen, "%s", rc == GW_EFULL ? "more than 65535 connectors" :
                                                      "out of memory");
        return rc == GW_EFULL ? GW_EINVAL : rc;
    }
    r.kl = kl;
    r.cost = cost;
    r.valid = valid;
    r.line = line;
    r.conn = conn;
    r.cur = cur;
    t->rows[t->nrows++] = r;
    t->kl_sorted = 0;
    return 0;
}

int rt_rates_add(rt_rates_t *t, const char *prefix, const char *connector, double cost,
                 const char *currency, int64_t valid_from, int64_t valid_to, char *err,
                 size_t errlen)
{
    const char *field = "";
    char reason[128];
    int rc = rt_rates_add_row(t, prefix, connector, cost, currency, valid_from, valid_to, 0,
                              &field, reason, sizeof reason);

    if (rc != 0 && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", field, reason);
    return rc;
}
