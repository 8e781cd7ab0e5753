/*
 * gw_metrics.c - the Prometheus text exposition (format 0.0.4) of
 * GET /metrics: the registry's counters, gauges and histograms
 * (gw_stats.c) and the labelled samples of the modules' collectors.
 *
 * A scrape (gw_metrics_t) gathers samples into families: each family
 * (junction_<name>, one kind, one HELP) has its own memory stream, so
 * collectors may write in any order (the queues' collector and each
 * adapter's write connector_* samples separately) and the text still has
 * every family as one group, HELP and TYPE first, as the format wants.
 * Names follow the Prometheus conventions in one place:
 *   - "junction_" + the name with every character outside [a-zA-Z0-9_]
 *     made '_' ("sip.rx_message" -> junction_sip_rx_message);
 *   - a counter ends in _total (added unless it is already there);
 *   - a name part "s", "sec", "ms", "us" or "ns" is a duration in that
 *     unit: shown as "seconds" and the value scaled (db.commit_us_last ->
 *     junction_db_commit_seconds_last), base units as Prometheus wants;
 *   - a histogram writes _bucket{le="<seconds>"} (cumulative, the last
 *     le="+Inf"), _sum (seconds) and _count (the +Inf bucket, so they
 *     always agree however observations race the scrape).
 * Label values are escaped (\\, \", \n); HELP text likewise (\\, \n).
 *
 * Collectors are registered for the life of the process; they run on the
 * HTTP thread that serves the scrape, one after the other, outside any
 * lock of this file.
 *
 * Threads: any (a scrape is one thread's; registration takes
 * gw_metrics_lock).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_stats.h"

#define GW_METRICS_NAME_MAX 160

typedef struct gw_mfam {
    char name[GW_METRICS_NAME_MAX]; /* the exposed name (a counter's with _total) */
    int kind;
    char *help;                     /* owned copy */
    FILE *f;                        /* the samples, into buf */
    char *buf;
    size_t len;
} gw_mfam_t;

struct gw_metrics {
    gw_mfam_t **fams; /* each its own block: its stream holds &buf and &len */
    int n, cap;
    int last;  /* the family found last: samples of one family come together */
    int oom;
};

static struct {
    gw_metrics_fn_t fn;
    void *arg;
} gw_metrics_colls[GW_METRICS_COLLECTORS];
static int gw_metrics_ncolls; /* atomic; guarded for writes by gw_metrics_lock */
static pthread_mutex_t gw_metrics_lock = PTHREAD_MUTEX_INITIALIZER;

int gw_metrics_collector(gw_metrics_fn_t fn, void *arg)
{
    int rc = GW_EFULL;

    pthread_mutex_lock(&gw_metrics_lock);
    if (gw_metrics_ncolls < GW_METRICS_COLLECTORS) {
        gw_metrics_colls[gw_metrics_ncolls].fn = fn;
        gw_metrics_colls[gw_metrics_ncolls].arg = arg;
        __atomic_store_n(&gw_metrics_ncolls, gw_metrics_ncolls + 1, __ATOMIC_RELEASE);
        rc = GW_OK;
    }
    pthread_mutex_unlock(&gw_metrics_lock);
    return rc;
}

/* ---- names and values ------------------------------------------------------ */

/* Abbreviated time units a name part may be (promtool refuses them): the
 * part is exposed as "seconds" and the value scaled. */
static const struct {
    const char *abbr;
    double scale;
} gw_metrics_units[] = {
    { "s", 1 }, { "sec", 1 }, { "ms", 1e-3 }, { "us", 1e-6 }, { "ns", 1e-9 },
};

/* The exposed name of name (kind), into out; returns the factor its values
 * are multiplied by (1, or the scale of a part in gw_metrics_units). */
static double gw_metrics_name(const char *name, int kind, char *out, size_t size)
{
    double scale = 1;
    size_t o, i, start;
    int n = snprintf(out, size, "junction_");

    o = n > 0 ? (size_t)n : 0;
    for (i = 0, start = 0;; i++) {
        char ch = name[i];
        int sep = ch == '\0' || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                  (ch >= '0' && ch <= '9'));
        if (!sep)
            continue;
        /* the part name[start, i) */
        const char *part = name + start;
        size_t plen = i - start;
        for (size_t k = 0; k < sizeof gw_metrics_units / sizeof gw_metrics_units[0]; k++)
            if (plen == strlen(gw_metrics_units[k].abbr) &&
                strncmp(part, gw_metrics_units[k].abbr, plen) == 0) {
                scale = gw_metrics_units[k].scale;
                part = "seconds";
                plen = 7;
                break;
            }
        if (o + plen + 2 < size) {
            memcpy(out + o, part, plen);
            o += plen;
            if (ch != '\0')
                out[o++] = '_';
        }
        if (ch == '\0')
            break;
        start = i + 1;
    }
    out[o] = '\0';
    if (kind == GW_STAT_COUNTER && (o < 6 || strcmp(out + o - 6, "_total") != 0) &&
        o + 7 < size)
        strcpy(out + o, "_total");
    return scale;
}

static void gw_metrics_put_value(FILE *f, double v)
{
    if (isnan(v))
        fputs("NaN", f);
    else if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", f);
    else if (v == floor(v) && fabs(v) < 1e15)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.9g", v);
}

static void gw_metrics_put_escaped(FILE *f, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (quote && *s == '"')
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

/* {name="value",...[,le="..."]}; nothing without labels nor le. */
static void gw_metrics_put_labels(FILE *f, const char *const *labels, const char *le)
{
    int first = 1;

    if ((labels == NULL || labels[0] == NULL) && le == NULL)
        return;
    fputc('{', f);
    for (; labels && labels[0] && labels[1]; labels += 2) {
        if (!first)
            fputc(',', f);
        first = 0;
        for (const char *p = labels[0]; *p; p++)
            fputc(((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9' && p != labels[0])) ? *p : '_', f);
        fputs("=\"", f);
        gw_metrics_put_escaped(f, labels[1], 1);
        fputc('"', f);
    }
    if (le) {
        fprintf(f, "%sle=\"%s\"", first ? "" : ",", le);
    }
    fputc('}', f);
}

/* ---- families -------------------------------------------------------------- */

/* The family of the exposed name, made on first use; NULL when it exists
 * with another kind or memory ran out (m->oom). */
static gw_mfam_t *gw_metrics_fam(gw_metrics_t *m, const char *xname, int kind, const char *help)
{
    gw_mfam_t *fam;
    int i;

    if (m->last < m->n && strcmp(m->fams[m->last]->name, xname) == 0)
        i = m->last;
    else
        for (i = 0; i < m->n && strcmp(m->fams[i]->name, xname) != 0; i++)
            ;
    if (i < m->n) {
        m->last = i;
        return m->fams[i]->kind == kind ? m->fams[i] : NULL;
    }
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 64;
        gw_mfam_t **fams = realloc(m->fams, sizeof(*fams) * (size_t)cap);
        if (fams == NULL) {
            m->oom = 1;
            return NULL;
        }
        m->fams = fams;
        m->cap = cap;
    }
    if ((fam = calloc(1, sizeof *fam)) == NULL) {
        m->oom = 1;
        return NULL;
    }
    strcpy(fam->name, xname);
    fam->kind = kind;
    fam->help = strdup(help && *help ? help : xname);
    fam->f = open_memstream(&fam->buf, &fam->len);
    if (fam->help == NULL || fam->f == NULL) {
        free(fam->help);
        if (fam->f)
            fclose(fam->f);
        free(fam->buf);
        free(fam);
        m->oom = 1;
        return NULL;
    }
    m->fams[m->n] = fam;
    m->last = m->n++;
    return fam;
}

void gw_metrics_value(gw_metrics_t *m, const char *name, gw_stat_kind_t kind, const char *help,
                      const char *const *labels, double v)
{
    char xname[GW_METRICS_NAME_MAX];
    double scale = gw_metrics_name(name, kind, xname, sizeof xname);
    gw_mfam_t *fam;

    if (kind == GW_STAT_HISTOGRAM || (fam = gw_metrics_fam(m, xname, kind, help)) == NULL)
        return;
    fputs(xname, fam->f);
    gw_metrics_put_labels(fam->f, labels, NULL);
    fputc(' ', fam->f);
    gw_metrics_put_value(fam->f, v * scale);
    fputc('\n', fam->f);
}

void gw_metrics_hist(gw_metrics_t *m, const char *name, const char *help,
                     const char *const *labels, const gw_hist_t *h)
{
    char xname[GW_METRICS_NAME_MAX], le[32];
    uint64_t cum = 0;
    gw_mfam_t *fam;
    int i;

    gw_metrics_name(name, GW_STAT_HISTOGRAM, xname, sizeof xname);
    if ((fam = gw_metrics_fam(m, xname, GW_STAT_HISTOGRAM, help)) == NULL)
        return;
    for (i = 0; i <= GW_HIST_BUCKETS; i++) {
        cum += __atomic_load_n(&h->counts[i], __ATOMIC_RELAXED);
        if (i < GW_HIST_BUCKETS)
            snprintf(le, sizeof le, "%g", (double)gw_hist_bounds_us[i] / 1e6);
        else
            strcpy(le, "+Inf");
        fprintf(fam->f, "%s_bucket", xname);
        gw_metrics_put_labels(fam->f, labels, le);
        fprintf(fam->f, " %llu\n", (unsigned long long)cum);
    }
    fprintf(fam->f, "%s_sum", xname);
    gw_metrics_put_labels(fam->f, labels, NULL);
    fputc(' ', fam->f);
    gw_metrics_put_value(fam->f, (double)__atomic_load_n(&h->sum_us, __ATOMIC_RELAXED) / 1e6);
    fprintf(fam->f, "\n%s_count", xname);
    gw_metrics_put_labels(fam->f, labels, NULL);
    fprintf(fam->f, " %llu\n", (unsigned long long)cum);
}

/* ---- the scrape ------------------------------------------------------------ */

static void gw_metrics_add_stat(const gw_stat_t *s, void *arg)
{
    gw_metrics_value(arg, s->name, __atomic_load_n(&s->kind, __ATOMIC_RELAXED), s->help, NULL,
                     (double)gw_stat_get(s));
}

static void gw_metrics_add_hist(const char *name, const char *help, const gw_hist_t *h,
                                void *arg)
{
    gw_metrics_hist(arg, name, help, NULL, h);
}

static const char *gw_metrics_kind_name(int kind)
{
    return kind == GW_STAT_GAUGE ? "gauge" : kind == GW_STAT_HISTOGRAM ? "histogram" : "counter";
}

char *gw_stats_prometheus(void)
{
    gw_metrics_t m = { 0 };
    char *out = NULL;
    size_t len = 0;
    FILE *f;
    int i, n;

    gw_stats_foreach(gw_metrics_add_stat, &m);
    gw_hists_foreach(gw_metrics_add_hist, &m);
    n = __atomic_load_n(&gw_metrics_ncolls, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        gw_metrics_colls[i].fn(&m, gw_metrics_colls[i].arg);
    f = m.oom ? NULL : open_memstream(&out, &len);
    for (i = 0; i < m.n; i++) {
        gw_mfam_t *fam = m.fams[i];
        fclose(fam->f);
        if (f != NULL && fam->buf != NULL) {
            fprintf(f, "# HELP %s ", fam->name);
            gw_metrics_put_escaped(f, fam->help, 0);
            fprintf(f, "\n# TYPE %s %s\n", fam->name, gw_metrics_kind_name(fam->kind));
            fwrite(fam->buf, 1, fam->len, f);
        }
        free(fam->buf);
        free(fam->help);
        free(fam);
    }
    free(m.fams);
    if (f != NULL && fclose(f) != 0) {
        free(out);
        out = NULL;
    }
    return out;
}
