/*
 * gw_report.c - delivery reports for senders who asked for them
 * (gw_report.h): made by the store's writer in the transaction of the
 * final change, queued after its commit.  SMPP customers get the receipt
 * text on their account:<id> connector; SIP senders who asked (IMDN or an
 * X-SMS-* header) get theirs through the reply connector, chosen and
 * filled by gw_report_sip.c.
 *
 * Threads: the writer thread (the two hooks); gw_report_text is pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../db/db.h"
#include "gw_config.h"
#include "gw_cq.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_report.h"
#include "gw_report_sip.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "gw_trace.h"

static gw_stat_t *gw_report_st_made, *gw_report_st_lost;

/* YYMMDDhhmm of ms (UTC) into out (11 bytes). */
static void gw_report_date(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, 11, "%02u%02u%02u%02u%02u", (unsigned)tm.tm_year % 100, (unsigned)tm.tm_mon % 12 + 1,
             (unsigned)tm.tm_mday % 32,
             (unsigned)tm.tm_hour % 24, (unsigned)tm.tm_min % 60);
}

void gw_report_text(const gw_envelope_t *env, const char *stat, int err, int64_t done_ms,
                    char *buf, size_t n)
{
    char sub[11], done[11], text[21];
    size_t i = 0, k;

    gw_report_date(env->created_at, sub);
    gw_report_date(done_ms, done);
    /* the first 20 characters, printable ASCII only: the receipt's text
     * field has no coding of its own */
    for (k = 0; !env->binary && env->body != NULL && k < env->body_len && i < 20; k++) {
        unsigned char c = (unsigned char)env->body[k];
        if (c >= 0x80 && (c & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation: its lead is a '.' already */
        text[i++] = c >= 0x20 && c < 0x7F ? (char)c : '.';
    }
    text[i] = '\0';
    snprintf(buf, n, "id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%03d text:%s",
             env->id, strcmp(stat, "DELIVRD") == 0 ? "001" : "000", sub, done, stat,
             err < 0 ? 0 : err % 1000, text);
}

/* The SMPP 3.4 state of a final status, when the far side gave none. */
static const char *gw_report_stat(gw_status_t st, const char *stat)
{
    if (stat != NULL && stat[0] != '\0')
        return stat;
    return st == GW_ST_DELIVERED ? "DELIVRD" : st == GW_ST_EXPIRED ? "EXPIRED" : "UNDELIV";
}

/* Does env's sender want a report of st?  1 or 0. */
static int gw_report_wanted(const gw_envelope_t *env, gw_status_t st, int wait)
{
    int rd = env->registered_delivery & 0x3;

    if (gw_report_sip_asked(env))
        return gw_report_sip_wanted(env, st, wait);
    if (env->report.of != NULL || env->source.connector == NULL ||
        strncmp(env->source.connector, GW_REPORT_CONN_PREFIX,
                sizeof GW_REPORT_CONN_PREFIX - 1) != 0)
        return 0;
    if (st != GW_ST_DELIVERED && st != GW_ST_FAILED && st != GW_ST_EXPIRED)
        return 0;
    if (wait) /* silence from the far side: no failure a "failures only" sender asked about */
        return rd == 1;
    return rd == 1 || (rd == 2 && st != GW_ST_DELIVERED);
}

/* The report on env (final as st) as a new queued delivery, or NULL. */
static gw_delivery_t *gw_report_build(const gw_envelope_t *env, gw_status_t st, const char *stat,
                                      int err, gw_evbatch_t *ev)
{
    gw_envelope_t *r = gw_env_new();
    gw_delivery_t *d = NULL;
    char text[256];
    const char *state = gw_report_stat(st, stat);
    const char *target = env->source.connector;
    int rc;

    if (r == NULL)
        return NULL;
    r->expires_at = r->created_at +
                    (int64_t)__atomic_load_n(&gw_config.validity_s, __ATOMIC_RELAXED) * 1000;
    gw_report_text(env, state, err, r->created_at, text, sizeof text);
    r->report.err = err;
    rc = gw_env_set_str(&r->source.adapter, "core", (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->source.connector, "report", (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->report.of, env->id, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->report.stat, state, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->body, text, (size_t)-1);
    if (rc == 0) {
        r->body_len = strlen(text);
        rc = gw_addr_copy(&r->from, &env->to);
    }
    if (rc == 0)
        rc = gw_addr_copy(&r->to, &env->from);
    if (rc == 0 && gw_report_sip_asked(env)) { /* a SIP sender's: through the reply connector */
        rc = gw_report_sip_fill(r, env);
        target = GW_REPORT_SIP_CONN;
    }
    if (rc == 0 && (d = gw_dlv_new(r)) != NULL &&
        (gw_dlv_plan_set(d, "report", target) != 0 ||
         (d->env_json = gw_env_to_text(r)) == NULL)) {
        gw_dlv_free(d);
        d = NULL;
    }
    gw_env_unref(r); /* d holds its own reference */
    if (d == NULL)
        return NULL;
    d->status = GW_ST_QUEUED;
    gw_event_add(ev, d, d->env_json, "received", env->id);
    gw_event_add(ev, d, d->env_json, "queued", "delivery report");
    return d;
}

/* db_report_make_fn_t: writer thread. */
static gw_delivery_t *gw_report_make(const gw_envelope_t *env, const char *source_connector,
                                     const char *env_json, gw_status_t st, const char *stat,
                                     int err, int wait, gw_evbatch_t *ev)
{
    gw_envelope_t *parsed = NULL;
    gw_delivery_t *d;
    const char *why;
    json_t *o;

    if (env == NULL) {
        /* a row of the store: parse only what may be a customer's */
        if ((source_connector == NULL || env_json == NULL ||
             strncmp(source_connector, GW_REPORT_CONN_PREFIX,
                     sizeof GW_REPORT_CONN_PREFIX - 1) != 0) &&
            !gw_report_sip_maybe(source_connector, env_json))
            return NULL;
        o = json_loads(env_json, JSON_ALLOW_NUL, NULL);
        parsed = o ? gw_env_from_json(o, &why) : NULL;
        json_decref(o);
        if (parsed == NULL) {
            GW_ERR("core", "a stored envelope cannot be read: its report is not made");
            gw_stat_add(gw_report_st_lost, 1);
            return NULL;
        }
        env = parsed;
    }
    d = gw_report_wanted(env, st, wait) ? gw_report_build(env, st, stat, err, ev) : NULL;
    if (d == NULL && gw_report_wanted(env, st, wait)) {
        GW_ERR("core", "%s: out of memory: its delivery report is not made", env->id);
        gw_stat_add(gw_report_st_lost, 1);
    }
    gw_env_unref(parsed);
    return d;
}

/* db_commit_cb_t of a report's insert: writer thread, owns d. */
static void gw_report_done(void *arg, int rc, int64_t qseq)
{
    gw_delivery_t *d = arg;

    if (rc != 0) {
        gw_dlv_free(d); /* its group runs again and makes it anew */
        return;
    }
    gw_stat_add(gw_report_st_made, 1);
    if (gw_trace_on())
        gw_trace_state(d, "delivery report stored");
    GW_ENV_DEBUG(d->env, "core", "%s: report %s on %s queued for %s", d->env->id,
                 d->env->report.stat, d->env->report.of, gw_dlv_target(d));
    d->qseq = qseq;
    gw_cq_backlog_add(gw_dlv_target(d), 1);
    gw_cq_ready(d);
}

void gw_report_install(void)
{
    gw_report_st_made = gw_stat("core.reports", "delivery reports made for senders who asked");
    gw_report_st_lost = gw_stat("core.reports_lost",
                                "delivery reports not made: out of memory or an unreadable row");
    db_writer_set_report_hook(gw_report_make, gw_report_done);
}
