/*
 * rt_tz.c - TZif zone files and POSIX TZ rules (rt_tz.h).
 *
 * Why not localtime_r: it consults the process-wide TZ, and switching
 * zones means setenv("TZ"), which is not thread safe.  The router needs
 * many zones at once (one per rule), read on SIP and SMPP threads, so each
 * rule's zone is loaded here once and matching is arithmetic.
 *
 * Reading is bounded: the file is at most RT_TZ_FILE_MAX bytes, every count
 * from the header is checked against the bytes actually present, and the
 * version 1 block is skipped to use the 64-bit one (version 2+ files only;
 * Debian's tzdata ships them).  Transition times past the table (slim
 * files stop in 2007 or earlier; fat ones in 2037) come from the footer's
 * POSIX rule, in the "std offset dst [offset],start[/time],end[/time]"
 * form with Mm.w.d, Jn or n dates, and also "std offset" alone.
 *
 * Threads: rt_tz_load does file I/O (compile time only); a zone is
 * immutable once loaded.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rt_tz.h"
#include "gw_errors.h"

#define RT_TZ_FILE_MAX (1 << 20)
#define RT_TZ_NAME_MAX 128
#define RT_TZ_T_MAX (INT64_C(1) << 44) /* ~557,000 years: years and seconds stay in range */

typedef struct rt_tz_date {
    int kind;   /* 'M': Mm.w.d, 'J': Jn (1..365, no Feb 29), 'N': n (0..365) */
    int m, w, d, n;
    int32_t time; /* seconds after local midnight (may be negative or > 24 h) */
} rt_tz_date_t;

typedef struct rt_tz_rule {
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    int has_dst;
    rt_tz_date_t start, end;
} rt_tz_rule_t;

struct rt_tz {
    char name[RT_TZ_NAME_MAX];
    size_t n;          /* transitions */
    int64_t *when;     /* ascending unix times */
    int32_t *off;      /* offset in force from when[i] */
    int32_t off0;      /* before the first transition */
    int has_rule;
    rt_tz_rule_t rule; /* past the last transition */
};

int64_t rt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* H. Hinnant's days_from_civil. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int rt_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + 7 : w);
}

static int rt_tz_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The year of unix time t (UTC; |t| <= RT_TZ_T_MAX). */
static int64_t rt_tz_year(int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t y = 1970 + days * 400 / 146097; /* 146097 days per 400 years: off by one at most */
    while (rt_days_from_civil(y, 1, 1) > days)
        y--;
    while (rt_days_from_civil(y + 1, 1, 1) <= days)
        y++;
    return y;
}

/* ---- POSIX TZ strings ---- */

/* A zone abbreviation: letters, or <...> quoted.  Returns the rest. */
static const char *rt_tz_parse_abbr(const char *p)
{
    const char *s = p;
    if (*p == '<') {
        while (*p != '\0' && *p != '>')
            p++;
        return *p == '>' && p - s >= 4 ? p + 1 : NULL;
    }
    while (isalpha((unsigned char)*p))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into *secs (hours up to 167).  Returns the rest. */
static const char *rt_tz_parse_hms(const char *p, int32_t *secs)
{
    int sign = 1, part[3] = { 0, 0, 0 };
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*p))
            return NULL;
        int v = 0;
        for (int k = 0; k < 3 && isdigit((unsigned char)*p); k++)
            v = v * 10 + (*p++ - '0');
        part[i] = v;
        if (*p != ':' || i == 2)
            break;
        p++;
    }
    if (part[0] > 167 || part[1] > 59 || part[2] > 59)
        return NULL;
    *secs = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

static const char *rt_tz_parse_num(const char *p, int *v, int lo, int hi)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    int n = 0;
    while (isdigit((unsigned char)*p) && n <= hi)
        n = n * 10 + (*p++ - '0');
    if (n < lo || n > hi)
        return NULL;
    *v = n;
    return p;
}

static const char *rt_tz_parse_date(const char *p, rt_tz_date_t *d)
{
    memset(d, 0, sizeof *d);
    d->time = 7200; /* 02:00 local unless given */
    if (*p == 'M') {
        d->kind = 'M';
        if ((p = rt_tz_parse_num(p + 1, &d->m, 1, 12)) == NULL || *p++ != '.' ||
            (p = rt_tz_parse_num(p, &d->w, 1, 5)) == NULL || *p++ != '.' ||
            (p = rt_tz_parse_num(p, &d->d, 0, 6)) == NULL)
            return NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        if ((p = rt_tz_parse_num(p + 1, &d->n, 1, 365)) == NULL)
            return NULL;
    } else {
        d->kind = 'N';
        if ((p = rt_tz_parse_num(p, &d->n, 0, 365)) == NULL)
            return NULL;
    }
    if (*p == '/')
        p = rt_tz_parse_hms(p + 1, &d->time);
    return p;
}

/* Parse spec into *r.  0, or -1 when it is not understood. */
static int rt_tz_parse_rule(const char *spec, rt_tz_rule_t *r)
{
    const char *p = spec;
    int32_t off;
    memset(r, 0, sizeof *r);
    if ((p = rt_tz_parse_abbr(p)) == NULL || (p = rt_tz_parse_hms(p, &off)) == NULL)
        return -1;
    r->std_off = -off; /* POSIX counts west of Greenwich */
    if (*p == '\0')
        return 0;
    if ((p = rt_tz_parse_abbr(p)) == NULL)
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = rt_tz_parse_hms(p, &off)) == NULL)
            return -1;
        r->dst_off = -off;
    }
    if (*p == '\0') {
        /* No dates: POSIX leaves them to the implementation; the US rules
         * are the conventional default.  Rare in zone files. */
        rt_tz_parse_date("M3.2.0", &r->start);
        rt_tz_parse_date("M11.1.0", &r->end);
        return 0;
    }
    if (*p++ != ',' || (p = rt_tz_parse_date(p, &r->start)) == NULL || *p++ != ',' ||
        (p = rt_tz_parse_date(p, &r->end)) == NULL || *p != '\0')
        return -1;
    return 0;
}

/* Local seconds since the epoch (as if UTC) at which date d happens in year y. */
static int64_t rt_tz_date_local(const rt_tz_date_t *d, int64_t y)
{
    int64_t day;
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (d->kind == 'M') {
        int64_t first = rt_days_from_civil(y, (unsigned)d->m, 1);
        unsigned len = mdays[d->m - 1] + (d->m == 2 && rt_tz_leap(y));
        int64_t dom = 1 + (d->d - rt_weekday(first) + 7) % 7 + (d->w - 1) * 7;
        while (dom > len)
            dom -= 7;
        day = first + dom - 1;
    } else if (d->kind == 'J') {
        /* 1..365, February 29 never counted */
        day = rt_days_from_civil(y, 1, 1) + d->n - 1 + (rt_tz_leap(y) && d->n >= 60);
    } else {
        day = rt_days_from_civil(y, 1, 1) + d->n;
    }
    return day * 86400 + d->time;
}

static int32_t rt_tz_rule_offset(const rt_tz_rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = rt_tz_year(t + r->std_off);
    /* start happens in standard time, end in daylight time */
    int64_t start = rt_tz_date_local(&r->start, y) - r->std_off;
    int64_t end = rt_tz_date_local(&r->end, y) - r->dst_off;
    int in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return in_dst ? r->dst_off : r->std_off;
}

int32_t rt_tz_offset(const rt_tz_t *z, int64_t t)
{
    /* Far past or future (a broken clock): the offset there, without overflow. */
    if (t > RT_TZ_T_MAX)
        t = RT_TZ_T_MAX;
    if (t < -RT_TZ_T_MAX)
        t = -RT_TZ_T_MAX;
    if (z->n == 0 || t < z->when[0])
        return z->n == 0 && z->has_rule ? rt_tz_rule_offset(&z->rule, t) : z->off0;
    if (t >= z->when[z->n - 1])
        return z->has_rule ? rt_tz_rule_offset(&z->rule, t) : z->off[z->n - 1];
    size_t lo = 0, hi = z->n - 1; /* when[lo] <= t < when[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->when[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

/* ---- TZif ---- */

static uint32_t rt_tz_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t rt_tz_be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)rt_tz_be32(p) << 32 | rt_tz_be32(p + 4));
}

/* A name may only descend into the zone directory. */
static int rt_tz_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= RT_TZ_NAME_MAX || name[0] == '/' || strstr(name, "..") != NULL)
        return 0;
    for (const char *p = name; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
            return 0;
    return 1;
}

/* Parse buf (len bytes) into z.  0, or GW_EINVAL / GW_ENOMEM with err set. */
static int rt_tz_parse_file(rt_tz_t *z, const unsigned char *buf, size_t len, char *err,
                            size_t errlen)
{
    uint32_t c[6];
    size_t off;
    if (len < 44 || memcmp(buf, "TZif", 4) != 0 || buf[4] < '2') {
        snprintf(err, errlen, "not a TZif version 2+ file");
        return GW_EINVAL;
    }
    for (int i = 0; i < 6; i++)
        c[i] = rt_tz_be32(buf + 20 + 4 * i);
    /* skip the 32-bit block */
    off = 44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
    if (c[3] > 100000 || c[4] > 256 || c[5] > 4096 || c[2] > 1000 || off + 44 > len ||
        memcmp(buf + off, "TZif", 4) != 0) {
        snprintf(err, errlen, "truncated TZif file");
        return GW_EINVAL;
    }
    for (int i = 0; i < 6; i++)
        c[i] = rt_tz_be32(buf + off + 20 + 4 * i);
    const uint32_t isut = c[0], isstd = c[1], leap = c[2], timecnt = c[3], typecnt = c[4],
                   charcnt = c[5];
    off += 44;
    size_t need = (size_t)timecnt * 9 + (size_t)typecnt * 6 + charcnt + (size_t)leap * 12 +
                  isstd + isut;
    if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || off + need > len) {
        snprintf(err, errlen, "truncated TZif file");
        return GW_EINVAL;
    }
    const unsigned char *times = buf + off, *idx = times + (size_t)timecnt * 8,
                        *types = idx + timecnt;
    z->when = malloc((timecnt ? timecnt : 1) * sizeof *z->when);
    z->off = malloc((timecnt ? timecnt : 1) * sizeof *z->off);
    if (z->when == NULL || z->off == NULL) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    for (uint32_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt) {
            snprintf(err, errlen, "bad TZif type index");
            return GW_EINVAL;
        }
        z->when[i] = rt_tz_be64(times + 8 * (size_t)i);
        z->off[i] = (int32_t)rt_tz_be32(types + 6 * (size_t)idx[i]);
    }
    z->n = timecnt;
    z->off0 = (int32_t)rt_tz_be32(types);
    /* footer: "\n" TZ "\n" */
    off += need;
    if (off < len && buf[off] == '\n') {
        const unsigned char *s = buf + off + 1, *e = memchr(s, '\n', len - off - 1);
        char spec[128];
        if (e != NULL && e > s && (size_t)(e - s) < sizeof spec) {
            memcpy(spec, s, (size_t)(e - s));
            spec[e - s] = '\0';
            z->has_rule = rt_tz_parse_rule(spec, &z->rule) == 0;
        }
    }
    return 0;
}

rt_tz_t *rt_tz_load(const char *dir, const char *name, int *rcp, char *err, size_t errlen)
{
    char path[512];
    unsigned char *buf = NULL;
    rt_tz_t *z = NULL;
    FILE *f;
    size_t len;
    int dummy;

    if (rcp == NULL)
        rcp = &dummy;
    *rcp = GW_ENOTFOUND;
    if (name == NULL || !rt_tz_name_ok(name)) {
        snprintf(err, errlen, "unknown time zone");
        return NULL;
    }
    if (dir == NULL)
        dir = getenv("JUNCTION_ZONEINFO");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "rb")) == NULL) {
        snprintf(err, errlen, "unknown time zone");
        return NULL;
    }
    *rcp = GW_ENOMEM;
    if ((buf = malloc(RT_TZ_FILE_MAX)) == NULL) {
        snprintf(err, errlen, "out of memory");
        fclose(f);
        return NULL;
    }
    len = fread(buf, 1, RT_TZ_FILE_MAX, f);
    fclose(f);
    z = rt_tz_parse(name, buf, len, rcp, err, errlen);
    free(buf);
    return z;
}

rt_tz_t *rt_tz_parse(const char *name, const unsigned char *buf, size_t len, int *rcp, char *err,
                     size_t errlen)
{
    int dummy;
    rt_tz_t *z = calloc(1, sizeof *z);
    if (rcp == NULL)
        rcp = &dummy;
    if (z == NULL) {
        *rcp = GW_ENOMEM;
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(z->name, sizeof z->name, "%s", name);
    if ((*rcp = rt_tz_parse_file(z, buf, len, err, errlen)) != 0) {
        rt_tz_free(z);
        return NULL;
    }
    return z;
}

rt_tz_t *rt_tz_from_posix(const char *spec)
{
    rt_tz_t *z = calloc(1, sizeof *z);
    if (z == NULL)
        return NULL;
    if (rt_tz_parse_rule(spec, &z->rule) != 0) {
        free(z);
        return NULL;
    }
    z->has_rule = 1;
    z->off0 = z->rule.std_off;
    snprintf(z->name, sizeof z->name, "%s", spec);
    return z;
}

void rt_tz_free(rt_tz_t *z)
{
    if (z == NULL)
        return;
    free(z->when);
    free(z->off);
    free(z);
}

const char *rt_tz_name(const rt_tz_t *z)
{
    return z->name;
}
