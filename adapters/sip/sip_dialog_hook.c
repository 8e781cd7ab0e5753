/*
 * sip_dialog_hook.c - dialogs as the proxy makes and ends them
 * (sip_dialog.h): the hooks in sip_proxy*.c, the CDR event sip.call,
 * trace records, statistics and the timeout sweep.
 *
 * A dialog is made from the initial INVITE as received (tx->req: From,
 * its tag, the caller's Contact and CSeq) and its first 2xx on a branch
 * (To with its tag, the callee's Contact, the Record-Route set).  Our own
 * Record-Route splits that set: the values above ours lead to the callee,
 * in reverse order, and those below it to the caller, in order (RFC 3261
 * 12.1.2 seen from the middle); the MI's BYEs follow them.  A 2xx without
 * our Record-Route (sip.record_route off, a callee that dropped it) makes
 * no dialog: the requests inside it would not come through us.
 *
 * Every end (a BYE, the timeout, the MI; an INVITE answered >= 300) is
 * one sip.call event built only while a sink listens (gw_event_op: the
 * outbox, then the AMQP connectors).  Times are ms since the epoch
 * (gw_now_ms); the timeout counts from the answer.
 *
 * Threads: the hooks on the worker of the transaction; sip_dlg_end on
 * any; init, the sweep and free on the main thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "sip_dialog.h"
#include "sip_proxy.h"

#define SIP_DLG_SWEEP_MS 1000
#define SIP_DLG_SWEEP_BATCH 16
#define SIP_DLG_SWEEP_ROUNDS 64 /* at most 1024 dialogs timed out a second */

sip_dlg_conf_t sip_dlg_conf;

static sip_dlg_table_t *sip_dlg_tab;
static struct event *sip_dlg_sweep_ev;
static struct {
    gw_stat_t *active, *started, *ended, *timeouts, *full;
} sip_dlg_stats;

sip_dlg_table_t *sip_dlg_table(void)
{
    return sip_dlg_tab;
}

/* A trace record (kind log) about the dialog of call_id; peer the
 * caller's source. */
static void sip_dlg_trace(const char *call_id, const sip_peer_t *peer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sip_dlg_trace(const char *call_id, const sip_peer_t *peer, const char *fmt, ...)
{
    char src[96];
    va_list ap;

    if (!gw_trace_on())
        return;
    sip_dlg_peer_text(peer, src, sizeof src);
    va_start(ap, fmt);
    gw_trace_vlogf("sip", src + 4 /* without "udp:" */, call_id, fmt, ap);
    va_end(ap);
}

/* Copy range r of v into out (size n) NUL-terminated: 0, or -1 when it
 * does not fit (the dialog is then not tracked rather than cut). */
static int sip_dlg_copy(const sip_view_t *v, sip_range_t r, char *out, size_t n)
{
    if (r.len >= n)
        return -1;
    memcpy(out, v->buf + r.off, r.len);
    out[r.len] = '\0';
    return 0;
}

/* The URI of the From / To (id) value of v into out. */
static int sip_dlg_addr_uri(const sip_view_t *v, sip_hdr_id_t id, char *hdr, char *uri)
{
    sip_range_t r;
    sip_view_addr_t a;

    if (sip_view_nth(v, id, 0, &r) < 0 || sip_view_addr(v, r, &a) != 0 ||
        sip_dlg_copy(v, r, hdr, SIP_DLG_HDR_MAX) != 0)
        return -1;
    return sip_dlg_copy(v, a.uri, uri, SIP_DLG_URI_MAX);
}

/* The first Contact URI of v into out ("" without one). */
static int sip_dlg_contact(const sip_view_t *v, char *out)
{
    sip_view_addr_t a;

    out[0] = '\0';
    if (sip_view_contact(v, 0, &a) != 0 || a.star)
        return 0;
    return sip_dlg_copy(v, a.uri, out, SIP_DLG_URI_MAX);
}

/* Append Record-Route value k of v to route (", " between). */
static int sip_dlg_route_add(const sip_view_t *v, unsigned k, char *route)
{
    sip_range_t r;
    size_t len = strlen(route);

    if (sip_view_nth(v, SIP_H_RECORD_ROUTE, k, &r) < 0 ||
        len + r.len + 3 >= SIP_DLG_ROUTE_MAX)
        return -1;
    if (len)
        memcpy(route + len, ", ", 2), len += 2;
    memcpy(route + len, v->buf + r.off, r.len);
    route[len + r.len] = '\0';
    return 0;
}

/* The route sets of d from the Record-Route of the 2xx v: 0, or -1 when
 * our own value is not among them (not record-routed) or they are too
 * long. */
static int sip_dlg_routes(const sip_view_t *v, sip_dlg_t *d)
{
    unsigned n = sip_view_num(v, SIP_H_RECORD_ROUTE), ours = n;
    int rc = 0;

    for (unsigned k = 0; k < n && ours == n; k++) {
        sip_range_t r;
        sip_view_addr_t a;
        sip_px_uri_t u;
        if (sip_view_nth(v, SIP_H_RECORD_ROUTE, k, &r) >= 0 && sip_view_addr(v, r, &a) == 0 &&
            sip_px_uri_parse(v->buf + a.uri.off, a.uri.len, &u) == 0 &&
            sip_px_is_self(&sip_px_self, &u, 0))
            ours = k;
    }
    if (ours == n)
        return -1;
    for (unsigned k = ours; k-- > 0 && rc == 0;) /* towards the callee: nearest first */
        rc = sip_dlg_route_add(v, k, d->route[SIP_DLG_CALLEE]);
    for (unsigned k = ours + 1; k < n && rc == 0; k++) /* towards the caller */
        rc = sip_dlg_route_add(v, k, d->route[SIP_DLG_CALLER]);
    return rc;
}

/* What the initial INVITE tx says of its call into d (caller side, To
 * as requested).  rv is a view for the parse.  0 or -1. */
static int sip_dlg_from_invite(const sip_px_txn_t *tx, sip_view_t *rv, sip_dlg_t *d)
{
    if (sip_view_parse(rv, tx->req, tx->len, 0) != 0 ||
        sip_dlg_copy(rv, rv->call_id, d->call_id, sizeof d->call_id) != 0 ||
        sip_dlg_copy(rv, rv->from_tag, d->tag[SIP_DLG_CALLER], SIP_DLG_TAG_MAX) != 0 ||
        sip_dlg_addr_uri(rv, SIP_H_FROM, d->hdr[SIP_DLG_CALLER], d->uri[SIP_DLG_CALLER]) != 0 ||
        sip_dlg_addr_uri(rv, SIP_H_TO, d->hdr[SIP_DLG_CALLEE], d->uri[SIP_DLG_CALLEE]) != 0 ||
        sip_dlg_contact(rv, d->contact[SIP_DLG_CALLER]) != 0)
        return -1;
    d->peer[SIP_DLG_CALLER] = tx->src;
    d->cseq[SIP_DLG_CALLER] = rv->cseq;
    d->start_ms = tx->rx_ms;
    return 0;
}

/* A 2xx to an INVITE or UPDATE inside a dialog: the answering side (its
 * From tag is the response's To tag) gets the 2xx's Contact as its remote
 * target. */
static void sip_dlg_refresh(const sip_view_t *resp)
{
    char call_id[SIP_DLG_CALL_ID_MAX], ftag[SIP_DLG_TAG_MAX], ttag[SIP_DLG_TAG_MAX];
    char contact[SIP_DLG_URI_MAX];

    if ((resp->cseq_method != SIP_M_INVITE && resp->cseq_method != SIP_M_UPDATE) ||
        sip_dlg_contact(resp, contact) != 0 || !contact[0] ||
        sip_dlg_copy(resp, resp->call_id, call_id, sizeof call_id) != 0 ||
        sip_dlg_copy(resp, resp->from_tag, ftag, sizeof ftag) != 0 ||
        sip_dlg_copy(resp, resp->to_tag, ttag, sizeof ttag) != 0)
        return;
    sip_dlg_request(sip_dlg_tab, call_id, ttag, ftag, 0, contact, 0, 0, NULL, NULL);
}

/* See sip_dialog.h. */
void sip_dlg_answered(const sip_px_txn_t *tx, const sip_px_branch_t *b, const sip_view_t *resp)
{
    sip_dlg_t *d;
    sip_view_t *rv;
    int rc = -1;

    if (!sip_dlg_tab || (tx->has_to_tag && sip_dlg_count(sip_dlg_tab) == 0))
        return;
    if (tx->has_to_tag) {
        sip_dlg_refresh(resp);
        return;
    }
    if (!tx->invite || (tx->final_sent && tx->tsx.state != SIP_TSX_ACCEPTED))
        return; /* a 2xx after our non-2xx final: the server transaction refuses it */
    if (!b->rr) { /* we did not record-route it (sip.record_route off): not our dialog */
        sip_dlg_trace(tx->call_id, &tx->src, "dialog: %d not record-routed by us: not tracked",
                      resp->status);
        return;
    }
    d = calloc(1, sizeof *d);
    rv = malloc(sizeof *rv);
    if (!d || !rv)
        goto out_free;
    if (sip_dlg_from_invite(tx, rv, d) != 0 || resp->to_tag.len == 0 ||
        sip_dlg_copy(resp, resp->to_tag, d->tag[SIP_DLG_CALLEE], SIP_DLG_TAG_MAX) != 0 ||
        sip_dlg_addr_uri(resp, SIP_H_TO, d->hdr[SIP_DLG_CALLEE], d->uri[SIP_DLG_CALLEE]) != 0 ||
        sip_dlg_contact(resp, d->contact[SIP_DLG_CALLEE]) != 0) {
        sip_dlg_trace(tx->call_id, &tx->src, "dialog: %d without what a dialog needs (To tag, "
                      "sizes): not tracked", resp->status);
        goto out_free;
    }
    if (sip_dlg_routes(resp, d) != 0) {
        sip_dlg_trace(tx->call_id, &tx->src, "dialog: %d not record-routed by us: not tracked",
                      resp->status);
        goto out_free;
    }
    d->peer[SIP_DLG_CALLEE].addr = b->dst;
    d->peer[SIP_DLG_CALLEE].proto = b->dst_proto; /* a stream: its connection by address */
    d->peer[SIP_DLG_CALLEE].conn_id = 0;
    d->answer_ms = gw_now_ms();
    d->status = resp->status;
    d->state = SIP_DLG_CONFIRMED_NA;
    rc = sip_dlg_insert(sip_dlg_tab, d);
    if (rc == 0) {
        gw_stat_add(sip_dlg_stats.started, 1);
        gw_stat_set(sip_dlg_stats.active, (int64_t)sip_dlg_count(sip_dlg_tab));
        sip_dlg_trace(d->call_id, &tx->src, "dialog: created by %d (from tag %s, to tag %s), "
                      "setup %lld ms", d->status, d->tag[0], d->tag[1],
                      (long long)(d->answer_ms - d->start_ms));
    } else if (rc == GW_EFULL) {
        gw_stat_add(sip_dlg_stats.full, 1);
        sip_dlg_trace(d->call_id, &tx->src, "dialog: not tracked, sip.dialogs_max reached");
    }
out_free:
    free(rv);
    free(d);
}

/* The sip.call event of d ended at end_ms with cause. */
static void sip_dlg_cdr(const sip_dlg_t *d, const char *cause, int64_t end_ms)
{
    char caller[96], callee[96];
    int answered = d->answer_ms > 0;
    int64_t setup = (answered ? d->answer_ms : end_ms) - d->start_ms;
    json_t *o;

    if (!gw_events_active())
        return;
    sip_dlg_peer_text(&d->peer[SIP_DLG_CALLER], caller, sizeof caller);
    if (answered)
        sip_dlg_peer_text(&d->peer[SIP_DLG_CALLEE], callee, sizeof callee);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:i}",
                  "call_id", d->call_id, "from", d->uri[SIP_DLG_CALLER], "to",
                  d->uri[SIP_DLG_CALLEE], "from_tag", d->tag[SIP_DLG_CALLER], "caller", caller,
                  "start", (json_int_t)d->start_ms, "end", (json_int_t)end_ms, "duration_s",
                  (json_int_t)(answered ? (end_ms - d->answer_ms) / 1000 : 0), "setup_ms",
                  (json_int_t)(setup > 0 ? setup : 0), "cause", cause, "status", d->status);
    if (!o)
        return;
    json_object_set_new(o, "answer", answered ? json_integer(d->answer_ms) : json_null());
    json_object_set_new(o, "to_tag", answered ? json_string(d->tag[SIP_DLG_CALLEE]) : json_null());
    json_object_set_new(o, "callee", answered && d->contact[SIP_DLG_CALLEE][0]
                                         ? json_string(d->contact[SIP_DLG_CALLEE]) : json_null());
    json_object_set_new(o, "callee_source", answered ? json_string(callee) : json_null());
    if (gw_event_op("sip.call", o) != 0)
        GW_WARN(SIP_LOG, "dialog %s: the sip.call event was not stored", d->call_id);
}

/* See sip_dialog.h. */
void sip_dlg_end(const sip_dlg_t *d, const char *cause, int64_t end_ms)
{
    gw_stat_add(sip_dlg_stats.ended, 1);
    if (sip_dlg_tab)
        gw_stat_set(sip_dlg_stats.active, (int64_t)sip_dlg_count(sip_dlg_tab));
    sip_dlg_trace(d->call_id, &d->peer[SIP_DLG_CALLER], "dialog: ended (%s) after %lld s",
                  cause, (long long)((end_ms - d->answer_ms) / 1000));
    sip_dlg_cdr(d, cause, end_ms);
}

/* See sip_dialog.h. */
void sip_dlg_unanswered(const sip_px_txn_t *tx, int status)
{
    sip_dlg_t *d;
    sip_view_t *rv;
    int started = 0;
    char cause[16];

    for (int i = 0; i < tx->nb && !started; i++)
        started = tx->b[i].started;
    if (!started || !gw_events_active())
        return; /* no call was placed (no target, refused here) / nobody listens */
    d = calloc(1, sizeof *d);
    rv = malloc(sizeof *rv);
    if (d && rv && sip_dlg_from_invite(tx, rv, d) == 0) {
        d->status = status;
        snprintf(cause, sizeof cause, "%d", status);
        sip_dlg_cdr(d, tx->cancelled ? "cancel" : cause, gw_now_ms());
    }
    free(rv);
    free(d);
}

/* See sip_dialog.h. */
void sip_dlg_in_dialog(const sip_view_t *v, const sip_peer_t *src)
{
    char call_id[SIP_DLG_CALL_ID_MAX], ftag[SIP_DLG_TAG_MAX], ttag[SIP_DLG_TAG_MAX];
    char contact[SIP_DLG_URI_MAX] = "";
    int bye = v->method == SIP_M_BYE, ack = v->method == SIP_M_ACK, side, was_na = 0;
    sip_dlg_t *d;

    if (!sip_dlg_tab || sip_dlg_count(sip_dlg_tab) == 0 ||
        sip_dlg_copy(v, v->call_id, call_id, sizeof call_id) != 0 ||
        sip_dlg_copy(v, v->from_tag, ftag, sizeof ftag) != 0 ||
        sip_dlg_copy(v, v->to_tag, ttag, sizeof ttag) != 0)
        return;
    if (v->method == SIP_M_INVITE || v->method == SIP_M_UPDATE) /* a target refresh */
        sip_dlg_contact(v, contact);
    d = bye ? malloc(sizeof *d) : NULL;
    if (bye && !d)
        return;
    side = sip_dlg_request(sip_dlg_tab, call_id, ftag, ttag, ack ? 0 : v->cseq, contact, ack,
                           bye, d, &was_na);
    if (side >= 0 && bye)
        sip_dlg_end(d, side == SIP_DLG_CALLER ? "bye-caller" : "bye-callee", gw_now_ms());
    else if (side >= 0 && was_na)
        sip_dlg_trace(call_id, src, "dialog: confirmed (ACK of the 2xx)");
    free(d);
}

/* Once a second: the dialogs answered sip.dialog_timeout_s ago end. */
static void sip_dlg_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = gw_now_ms();
    int64_t before = now - (int64_t)__atomic_load_n(&sip_dlg_conf.timeout_s, __ATOMIC_RELAXED) *
                               1000;
    sip_dlg_t *out;
    int n = SIP_DLG_SWEEP_BATCH;
    (void)fd;
    (void)what;
    (void)arg;

    if (!sip_dlg_tab || sip_dlg_count(sip_dlg_tab) == 0 ||
        !(out = malloc(SIP_DLG_SWEEP_BATCH * sizeof *out)))
        return;
    for (int round = 0; round < SIP_DLG_SWEEP_ROUNDS && n == SIP_DLG_SWEEP_BATCH; round++) {
        n = sip_dlg_take_expired(sip_dlg_tab, before, out, SIP_DLG_SWEEP_BATCH);
        for (int i = 0; i < n; i++) {
            gw_stat_add(sip_dlg_stats.timeouts, 1);
            sip_dlg_end(&out[i], "timeout", now);
        }
    }
    free(out);
}

/* See sip_dialog.h. */
int sip_dlg_init(struct event_base *main_base)
{
    struct timeval tv = {SIP_DLG_SWEEP_MS / 1000, (SIP_DLG_SWEEP_MS % 1000) * 1000};

    sip_dlg_stats.active = gw_stat_gauge("sip.dialogs_active", "SIP dialogs the proxy tracks now");
    sip_dlg_stats.started = gw_stat("sip.dialogs_started",
                                    "SIP dialogs made by a 2xx to a record-routed INVITE");
    sip_dlg_stats.ended = gw_stat("sip.dialogs_ended",
                                  "SIP dialogs ended (BYE, timeout, sip.dialogs.end)");
    sip_dlg_stats.timeouts = gw_stat("sip.dialogs_timeouts",
                                     "SIP dialogs ended by sip.dialog_timeout_s");
    sip_dlg_stats.full = gw_stat("sip.dialogs_untracked",
                                 "SIP dialogs not tracked: sip.dialogs_max was reached");
    sip_dlg_tab = sip_dlg_table_new(&sip_dlg_conf.max);
    if (!sip_dlg_tab)
        return GW_ENOMEM;
    sip_dlg_sweep_ev = event_new(main_base, -1, EV_PERSIST, sip_dlg_on_sweep, NULL);
    if (!sip_dlg_sweep_ev || event_add(sip_dlg_sweep_ev, &tv) != 0)
        return GW_ENOMEM;
    return 0;
}

/* See sip_dialog.h. */
void sip_dlg_stop(void)
{
    if (sip_dlg_sweep_ev)
        event_free(sip_dlg_sweep_ev);
    sip_dlg_sweep_ev = NULL;
}

/* See sip_dialog.h. */
void sip_dlg_free(void)
{
    sip_dlg_stop();
    sip_dlg_table_free(sip_dlg_tab);
    sip_dlg_tab = NULL;
}
