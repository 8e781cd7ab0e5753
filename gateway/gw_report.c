/*
 * gw_report.c - delivery reports for senders who asked for them
 * (gw_report.h): made by the store's writer in the transaction of the
 * final change, queued after its commit.  SMPP customers get the receipt
 * text on their account:<id> connector; SIP senders who asked (IMDN or an
 * X-SMS-* header) get theirs through the reply connector, chosen and
 * filled by gw_report_sip.c; senders who gave a callback URL (MI, HTTP
 * API) get a JSON document POSTed by the callback connector
 * (gw_report_http.c).
 *
 * Threads: the writer thread (the two hooks); gw_report_text is pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../db/db.h"
#include "gw_config.h"
#include "gw_core_int.h"
#include "gw_cq.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_report.h"
#include "gw_report_http.h"
#include "gw_report_sip.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "gw_trace.h"

#define GW_REPORT_ADDR_MAX 256 /* an address in a stub; SMPP's are 21 octets at most */

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

/* What a report on a message needs of it: from its envelope, or from the
 * stub stored beside it (gw_report_stub).  Strings borrowed. */
typedef struct gw_report_src {
    const gw_envelope_t *env; /* the envelope it came from; NULL from a stub */
    const char *id;
    int64_t created_at;
    int rd;               /* registered_delivery & 3 */
    const char *source;   /* its source connector ("account:<id>" for a customer's) */
    gw_addr_t from, to;   /* address borrowed */
    char text[21];        /* the first 20 characters, printable ASCII */
    const char *remote_id; /* the far side's id of it, when the writer knows it */
    const char *reason;    /* the store's reason text of its final change */
    const char *target;    /* the connector it went to, when the writer knows it */
} gw_report_src_t;

/* The receipt text's 20 characters of env's body (printable ASCII only:
 * the receipt's text field has no coding of its own) into text[21]. */
static void gw_report_text20(const gw_envelope_t *env, char text[21])
{
    size_t i = 0;

    for (size_t k = 0; !env->binary && env->body != NULL && k < env->body_len && i < 20; k++) {
        unsigned char c = (unsigned char)env->body[k];
        if (c >= 0x80 && (c & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation: its lead is a '.' already */
        text[i++] = c >= 0x20 && c < 0x7F ? (char)c : '.';
    }
    text[i] = '\0';
}

static void gw_report_src_env(const gw_envelope_t *env, gw_report_src_t *s)
{
    s->env = env;
    s->id = env->id;
    s->created_at = env->created_at;
    s->rd = env->registered_delivery & 0x3;
    s->source = env->source.connector;
    s->from = env->from;
    s->to = env->to;
    gw_report_text20(env, s->text);
}

static void gw_report_format(const gw_report_src_t *s, const char *stat, int err,
                             int64_t done_ms, char *buf, size_t n)
{
    char sub[11], done[11];

    gw_report_date(s->created_at, sub);
    gw_report_date(done_ms, done);
    snprintf(buf, n, "id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%03d text:%s",
             s->id, strcmp(stat, "DELIVRD") == 0 ? "001" : "000", sub, done, stat,
             err < 0 ? 0 : err % 1000, s->text);
}

void gw_report_text(const gw_envelope_t *env, const char *stat, int err, int64_t done_ms,
                    char *buf, size_t n)
{
    gw_report_src_t s;

    gw_report_src_env(env, &s);
    gw_report_format(&s, stat, err, done_ms, buf, n);
}

/* 1 when source (a source connector) is an SMPP customer's account. */
static int gw_report_is_customer(const char *source)
{
    return source != NULL &&
           strncmp(source, GW_REPORT_CONN_PREFIX, sizeof GW_REPORT_CONN_PREFIX - 1) == 0;
}

/* Could env's sender want a report at all?  An SMPP customer's message
 * (not itself a report) with a receipt request. */
static int gw_report_may(const gw_envelope_t *env)
{
    return env->report.of == NULL && (env->registered_delivery & 0x3) != 0 &&
           gw_report_is_customer(env->source.connector);
}

/* The stub: "1 rd created ftype fton fnpi flen ttype tton tnpi tlen|" then
 * the two addresses back to back and the text.  Lengths, not separators,
 * delimit the addresses, so any byte of an address is safe.
 * db_report_stub_fn_t: any thread. */
static char *gw_report_stub(const gw_envelope_t *env)
{
    const char *f = env->from.address ? env->from.address : "";
    const char *t = env->to.address ? env->to.address : "";
    char text[21], *out;
    size_t fl = strlen(f), tl = strlen(t), n = 96 + fl + tl + sizeof text;

    if (gw_report_http_asked(env))
        return strdup(GW_REPORT_HTTP_STUB); /* the row owes a callback: parsed when final */
    if (!gw_report_may(env) || (out = malloc(n)) == NULL)
        return NULL; /* NULL for out of memory too: the writer's fallback is the envelope */
    gw_report_text20(env, text);
    snprintf(out, n, "1 %d %lld %d %d %d %zu %d %d %d %zu|%s%s%s", env->registered_delivery & 0x3,
             (long long)env->created_at, (int)env->from.type, env->from.ton, env->from.npi, fl,
             (int)env->to.type, env->to.ton, env->to.npi, tl, f, t, text);
    return out;
}

/* A stub back into s, its addresses copied into fbuf / tbuf (of n bytes
 * each).  0, or GW_EINVAL for a stub this version cannot read. */
static int gw_report_src_stub(const char *stub, gw_report_src_t *s, char *fbuf, char *tbuf,
                              size_t n)
{
    int ver, rd, ft, fton, fnpi, tt, tton, tnpi, used = 0;
    long long created;
    size_t fl, tl, rest;
    const char *p;

    if (sscanf(stub, "%d %d %lld %d %d %d %zu %d %d %d %zu|%n", &ver, &rd, &created, &ft, &fton,
               &fnpi, &fl, &tt, &tton, &tnpi, &tl, &used) != 11 ||
        used == 0 || ver != 1 || fl >= n || tl >= n)
        return GW_EINVAL;
    p = stub + used;
    rest = strlen(p);
    if (rest < fl + tl || rest - fl - tl > 20)
        return GW_EINVAL;
    memcpy(fbuf, p, fl);
    fbuf[fl] = '\0';
    memcpy(tbuf, p + fl, tl);
    tbuf[tl] = '\0';
    memcpy(s->text, p + fl + tl, rest - fl - tl + 1);
    s->rd = rd & 0x3;
    s->created_at = created;
    s->from = (gw_addr_t){ fbuf, (gw_addr_type_t)ft, fton, fnpi };
    s->to = (gw_addr_t){ tbuf, (gw_addr_type_t)tt, tton, tnpi };
    return GW_OK;
}

/* The SMPP 3.4 state of a final status, when the far side gave none. */
static const char *gw_report_stat(gw_status_t st, const char *stat)
{
    if (stat != NULL && stat[0] != '\0')
        return stat;
    return st == GW_ST_DELIVERED ? "DELIVRD" : st == GW_ST_EXPIRED ? "EXPIRED" : "UNDELIV";
}

/* Does s's sender want a report of st (stat: the far side's word, NULL
 * when none)?  1 or 0. */
static int gw_report_wanted(const gw_report_src_t *s, gw_status_t st, const char *stat,
                            int wait)
{
    if (s->env != NULL && gw_report_sip_asked(s->env))
        return gw_report_sip_wanted(s->env, st, wait);
    if (s->env != NULL && gw_report_http_asked(s->env))
        return gw_report_http_wanted(s->env, st, stat); /* silence too, by its mask */
    if (!gw_report_is_customer(s->source))
        return 0;
    if (st != GW_ST_DELIVERED && st != GW_ST_FAILED && st != GW_ST_EXPIRED)
        return 0;
    if (wait) /* silence from the far side: no failure a "failures only" sender asked about */
        return s->rd == 1;
    return s->rd == 1 || (s->rd == 2 && st != GW_ST_DELIVERED);
}

/* The report on s (final as st) as a new delivery, or NULL: sending when
 * its connector queue has room now (no queue turn, no store write of the
 * queued -> sending edge: the row is stored as sending), else queued. */
static gw_delivery_t *gw_report_build(const gw_report_src_t *s, gw_status_t st,
                                      const char *stat, int err, gw_evbatch_t *ev)
{
    gw_envelope_t *r = gw_env_new();
    gw_delivery_t *d = NULL;
    char text[256];
    const char *state = gw_report_stat(st, stat);
    const char *target = s->source;
    int rc;

    if (r == NULL)
        return NULL;
    r->expires_at = r->created_at +
                    (int64_t)__atomic_load_n(&gw_config.validity_s, __ATOMIC_RELAXED) * 1000;
    gw_report_format(s, state, err, r->created_at, text, sizeof text);
    r->report.err = err;
    rc = gw_env_set_str(&r->source.adapter, "core", (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->source.connector, "report", (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->report.of, s->id, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->report.stat, state, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&r->body, text, (size_t)-1);
    if (rc == 0) {
        r->body_len = strlen(text);
        rc = gw_addr_copy(&r->from, &s->to);
    }
    if (rc == 0)
        rc = gw_addr_copy(&r->to, &s->from);
    if (rc == 0 && s->env != NULL && gw_report_sip_asked(s->env)) {
        /* a SIP sender's: through the reply connector */
        rc = gw_report_sip_fill(r, s->env);
        target = GW_REPORT_SIP_CONN;
    } else if (rc == 0 && s->env != NULL && gw_report_http_asked(s->env)) {
        /* a callback: the JSON document to the sender's URL */
        gw_report_http_info_t in = {
            s->id, json_string_value(json_object_get(s->env->tags, "client_ref")),
            s->from.address, s->to.address, st, s->reason, err,
            stat, s->remote_id, r->created_at, s->target, text,
        };
        rc = gw_report_http_fill(r, s->env, &in);
        target = GW_REPORT_HTTP_CONN;
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
    gw_event_add(ev, d, d->env_json, "received", s->id);
    gw_event_add(ev, d, d->env_json, "queued", "delivery report");
    if ((d->counted = gw_cq_reserve(target)) != NULL) {
        d->status = GW_ST_SENDING;
        gw_event_add(ev, d, d->env_json, "sending", NULL);
    }
    return d;
}

/* db_report_make_fn_t: writer thread. */
static gw_delivery_t *gw_report_make(const gw_envelope_t *env, const db_report_row_t *row,
                                     gw_status_t st, const char *stat, int err, int wait,
                                     gw_evbatch_t *ev)
{
    gw_envelope_t *parsed = NULL;
    gw_report_src_t s = { 0 };
    gw_delivery_t *d = NULL;
    char fbuf[GW_REPORT_ADDR_MAX], tbuf[GW_REPORT_ADDR_MAX];
    const char *why;
    json_t *o;
    int customer = env == NULL && gw_report_is_customer(row->source_connector);

    if (env != NULL) {
        gw_report_src_env(env, &s);
    } else if (customer && row->sender != NULL && row->sender[0] == '\0') {
        return NULL; /* a customer's message that wants no report */
    } else if (customer && row->sender != NULL &&
               gw_report_src_stub(row->sender, &s, fbuf, tbuf, sizeof fbuf) == 0) {
        s.id = row->id;
        s.source = row->source_connector;
    } else if (!customer && !gw_report_sip_maybe(row->source_connector, row->env_json) &&
               !gw_report_http_maybe(row->sender)) {
        return NULL; /* another sender's row: no parse */
    } else {
        /* a customer's row from before the stub (or one it cannot read), or
         * a SIP sender's, whose request is in its envelope's tags */
        o = row->env_json ? json_loads(row->env_json, JSON_ALLOW_NUL, NULL) : NULL;
        parsed = o ? gw_env_from_json(o, &why) : NULL;
        json_decref(o);
        if (parsed == NULL) {
            GW_ERR("core", "a stored envelope cannot be read: its report is not made");
            gw_stat_add(gw_report_st_lost, 1);
            return NULL;
        }
        gw_report_src_env(parsed, &s);
    }
    if (env != NULL && !gw_report_may(env) && !gw_report_sip_asked(env) &&
        !gw_report_http_asked(env))
        s.source = NULL; /* a report, or no request: nothing owed */
    if (row != NULL) {
        s.remote_id = row->remote_id;
        s.reason = row->reason;
        s.target = row->target;
    }
    if (gw_report_wanted(&s, st, stat, wait)) {
        d = gw_report_build(&s, st, stat, err, ev);
        if (d == NULL) {
            GW_ERR("core", "%s: out of memory: its delivery report is not made", s.id);
            gw_stat_add(gw_report_st_lost, 1);
        }
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
    if (d->status == GW_ST_SENDING) {
        gw_core_send_direct(d);
        return;
    }
    gw_cq_backlog_add(gw_dlv_target(d), 1);
    gw_cq_ready(d);
}

void gw_report_install(void)
{
    gw_report_st_made = gw_stat("core.reports", "delivery reports made for senders who asked");
    gw_report_st_lost = gw_stat("core.reports_lost",
                                "delivery reports not made: out of memory or an unreadable row");
    db_writer_set_report_hook(gw_report_stub, gw_report_make, gw_report_done);
}
