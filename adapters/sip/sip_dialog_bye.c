/*
 * sip_dialog_bye.c - the BYEs of MI sip.dialogs.end as client transactions
 * of worker 0 (sip_dialog.h).
 *
 * sip_dialog_mi.c builds each BYE on the main thread and queues it to
 * worker 0 (a SIP_ITEM_CALL), which owns the TCP connections.  Here each
 * one is a non-INVITE client transaction run by the NICT machine of
 * sip_tsx.c: over UDP Timer E retransmits it (T1, doubling to T2), Timer F
 * (64*T1) gives up; a final response ends it.  Its Via branch is
 * "z9hG4bK-jp0-dlg-<random>": the proxy's prefix naming worker 0, so an
 * answer read by any worker is queued to worker 0 by sip_proxy_response,
 * and sip_px_response_local, finding no proxy branch of that name, hands
 * it here (sip_dlg_bye_response) instead of forwarding it statelessly.
 * Each outcome is a trace record; the dialog has already ended (cause mi)
 * when the BYE is sent, whatever its answer.
 *
 * Ownership: the pending list and each entry (its text, its timer) belong
 * to worker 0; sip_dlg_bye_free_all frees what is left after the workers
 * were joined, before their event bases go.
 * Threads: worker 0; sip_dlg_bye_free_all on the main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gw_log.h"
#include "gw_trace.h"
#include "sip_dialog.h"
#include "sip_proxy.h"

typedef struct sip_dlg_byetx {
    sip_dlg_bye_t *bye;            /* what to send, where (owned) */
    sip_worker_t *w;
    sip_tsx_t tsx;                 /* NICT */
    struct event *timer;
    struct sip_dlg_byetx *next;
} sip_dlg_byetx_t;

static sip_dlg_byetx_t *sip_dlg_byes; /* worker 0's pending BYEs */

static void sip_dlg_bye_trace(const sip_dlg_byetx_t *t, const char *what, int status)
{
    gw_trace_rec_t r = {0};
    char summary[200], peer[96];

    if (!gw_trace_on())
        return;
    sip_dlg_peer_text(&t->bye->dst, peer, sizeof peer);
    snprintf(summary, sizeof summary, "dialog: BYE to the %s %s%s%.0d", t->bye->side, what,
             status ? " " : "", status);
    r.kind = GW_TRACE_LOG;
    r.connector = "sip";
    r.peer = peer + 4;
    r.call_id = t->bye->call_id;
    r.summary = summary;
    gw_trace_record(&r);
}

static void sip_dlg_bye_unlink_free(sip_dlg_byetx_t *t)
{
    for (sip_dlg_byetx_t **pp = &sip_dlg_byes; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    if (t->timer)
        event_free(t->timer);
    free(t->bye);
    free(t);
}

/* Arm t's timer at its machine's deadline; 0, or -1 when it has none. */
static int sip_dlg_bye_arm(sip_dlg_byetx_t *t)
{
    int64_t at = sip_tsx_deadline(&t->tsx), now = sip_px_now();
    struct timeval tv;

    if (at == 0 || !t->timer)
        return -1;
    at = at > now ? at - now : 0;
    tv.tv_sec = at / 1000;
    tv.tv_usec = (at % 1000) * 1000;
    return event_add(t->timer, &tv) == 0 ? 0 : -1;
}

static void sip_dlg_bye_on_timer(evutil_socket_t fd, short what, void *arg)
{
    sip_dlg_byetx_t *t = arg;
    unsigned act = sip_tsx_timer(&t->tsx, sip_px_now());
    (void)fd;
    (void)what;

    if (act & SIP_TSX_RETRANSMIT)
        sip_worker_send(t->w, &t->bye->dst, t->bye->text, t->bye->len);
    if (act & SIP_TSX_TIMEOUT)
        sip_dlg_bye_trace(t, "not answered (Timer F)", 0);
    if ((act & SIP_TSX_FREE) || t->tsx.state == SIP_TSX_TERMINATED || sip_dlg_bye_arm(t) != 0)
        sip_dlg_bye_unlink_free(t);
}

/* See sip_dialog.h. */
void sip_dlg_bye_start(sip_worker_t *w, sip_dlg_bye_t *bye)
{
    sip_dlg_byetx_t *t = calloc(1, sizeof *t);

    if (!t) {
        sip_worker_send(w, &bye->dst, bye->text, bye->len); /* at least once */
        free(bye);
        return;
    }
    t->bye = bye;
    t->w = w;
    sip_tsx_init(&t->tsx, SIP_TSX_NICT, bye->dst.conn_id != 0, sip_px_now());
    t->timer = event_new(sip_worker_base(w), -1, 0, sip_dlg_bye_on_timer, t);
    t->next = sip_dlg_byes;
    sip_dlg_byes = t;
    sip_worker_send(w, &bye->dst, bye->text, bye->len);
    sip_dlg_bye_trace(t, "sent", 0);
    if (sip_dlg_bye_arm(t) != 0)
        sip_dlg_bye_unlink_free(t);
}

/* See sip_dialog.h. */
int sip_dlg_bye_response(sip_worker_t *w, const sip_view_t *v)
{
    const size_t plen = strlen(SIP_DLG_BYE_BRANCH);
    sip_view_via_t via;
    sip_dlg_byetx_t *t;
    unsigned act;
    (void)w;

    if (sip_view_via(v, 0, &via) != 0 || via.branch.len <= plen ||
        memcmp(v->buf + via.branch.off, SIP_DLG_BYE_BRANCH, plen) != 0)
        return 0;
    for (t = sip_dlg_byes; t; t = t->next)
        if (strlen(t->bye->branch) == via.branch.len &&
            memcmp(t->bye->branch, v->buf + via.branch.off, via.branch.len) == 0)
            break;
    if (!t)
        return 1; /* a late or retransmitted answer: absorbed */
    act = sip_tsx_response_in(&t->tsx, v->status, sip_px_now());
    if (v->status >= 200 && !(act & SIP_TSX_REFUSED))
        sip_dlg_bye_trace(t, "answered", v->status);
    if ((act & SIP_TSX_FREE) || t->tsx.state == SIP_TSX_TERMINATED || sip_dlg_bye_arm(t) != 0)
        sip_dlg_bye_unlink_free(t);
    return 1;
}

/* See sip_dialog.h. */
void sip_dlg_bye_free_all(void)
{
    while (sip_dlg_byes)
        sip_dlg_bye_unlink_free(sip_dlg_byes);
}
