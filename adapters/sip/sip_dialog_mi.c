/*
 * sip_dialog_mi.c - MI sip.dialogs.list and sip.dialogs.end, and the BYE
 * the proxy sends to end a dialog itself (sip_dialog.h).
 *
 * sip.dialogs.end takes the dialogs of a Call-ID out of the table and
 * sends each side a BYE as Kamailio's dlg_end_dlg does: built by the
 * proxy with its own Via (branch SIP_DLG_BYE_BRANCH...), From / To with
 * the tags of the side it pretends to come from, the next CSeq of that
 * side, to the side's remote target (its Contact) through its route set.
 * It goes to the first Route's host when the route set has an IPv4 host,
 * else where the side was reached during the call (the caller's source,
 * the callee's binding), so a NAT in between is passed as the call was.
 * The BYEs are built on the main thread and queued to worker 0 (which owns
 * the TCP connections) as one SIP_ITEM_CALL each, where each is a client
 * transaction of its own (sip_dialog_bye.c).
 *
 * This file is the one place of the dialog code that knows what a
 * sip_peer_t holds (sip_dlg_peer_text, sip_dlg_route_peer).
 *
 * Threads: the MI on the main thread; sip_dlg_on_bye_item on worker 0;
 * sip_dlg_build_bye and sip_dlg_peer_text any thread.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "sip_dialog.h"
#include "sip_proxy.h"

#define SIP_DLG_MI_END_MAX 8 /* dialogs of one Call-ID ended at once (forks) */
#define SIP_DLG_BYE_MAX 4096

/* See sip_dialog.h. */
void sip_dlg_peer_text(const sip_peer_t *p, char *out, size_t n)
{
    sip_source_format(p->proto, &p->addr, out, n); /* "udp:1.2.3.4:5060", "tcp:[::1]:5070" */
}

/* The first hop of a route set ("<sip:ip:port;lr>, ...") when its host is
 * an IP literal (IPv4, or IPv6 in []): 0 and *p (its transport from
 * ;transport= / sips:), else -1. */
static int sip_dlg_route_peer(const char *route, sip_peer_t *p)
{
    const char *lt = strchr(route, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    sip_px_uri_t u;

    if (!gt || sip_px_uri_parse(lt + 1, (size_t)(gt - lt - 1), &u) != 0 || !u.ip)
        return -1;
    memset(p, 0, sizeof *p);
    p->proto = u.proto;
    return sip_sa_from_host(u.host, strlen(u.host),
                            u.port ? u.port : (u.proto == SIP_PROTO_TLS ? 5061 : 5060), &p->addr);
}

/* See sip_dialog.h. */
long sip_dlg_build_bye(const sip_dlg_t *d, int to, const char *transport, const char *via_host,
                       int via_port, const char *branch, char *out, size_t cap)
{
    int from = to == SIP_DLG_CALLER ? SIP_DLG_CALLEE : SIP_DLG_CALLER;
    const char *ruri = d->contact[to][0] ? d->contact[to] : d->uri[to];
    int len;

    len = snprintf(out, cap,
                   "BYE %s SIP/2.0\r\n"
                   "Via: SIP/2.0/%s %s:%d;branch=%s;rport\r\n"
                   "Max-Forwards: 70\r\n"
                   "%s%s%s"
                   "From: %s\r\n"
                   "To: %s\r\n"
                   "Call-ID: %s\r\n"
                   "CSeq: %u BYE\r\n"
                   "Reason: SIP;cause=200;text=\"ended by junction\"\r\n"
                   "User-Agent: junction\r\n"
                   "Content-Length: 0\r\n\r\n",
                   ruri, transport, via_host, via_port, branch,
                   d->route[to][0] ? "Route: " : "", d->route[to], d->route[to][0] ? "\r\n" : "",
                   d->hdr[from], d->hdr[to], d->call_id, d->cseq[from] + 1);
    return len > 0 && (size_t)len < cap ? len : -1;
}

static void sip_dlg_on_bye_item(sip_worker_t *w, sip_item_t *it)
{
    sip_dlg_bye_start(w, it->arg); /* takes it */
    it->arg = NULL;
}

/* Build the BYE to side `to` of d and queue it to worker 0; its
 * destination into dest (text).  0 or a negative code. */
static int sip_dlg_send_bye(const sip_dlg_t *d, int to, char *dest, size_t n)
{
    sip_worker_t *w = sip_worker_get(0);
    sip_peer_t dst = d->peer[to];
    char ip[64], rnd[17];
    sip_dlg_bye_t *b = malloc(sizeof *b + SIP_DLG_BYE_MAX);
    sip_item_t *it = calloc(1, sizeof *it);
    long len;
    int rc = GW_ENOMEM;

    if (!b || !it || !w)
        goto out_free;
    if (d->route[to][0] && sip_dlg_route_peer(d->route[to], &dst) == 0)
        dst.conn_id = 0;
    sip_dlg_peer_text(&dst, dest, n);
    sip_px_local_ip(&dst.addr, ip, sizeof ip);
    sip_random_hex(rnd, 8);
    snprintf(b->branch, sizeof b->branch, SIP_DLG_BYE_BRANCH "%s", rnd);
    snprintf(b->call_id, sizeof b->call_id, "%s", d->call_id);
    b->side = to == SIP_DLG_CALLER ? "caller" : "callee";
    len = sip_dlg_build_bye(d, to,
                            dst.proto == SIP_PROTO_TLS   ? "TLS"
                            : dst.proto == SIP_PROTO_TCP ? "TCP"
                                                         : "UDP",
                            ip, sip_listen_port(dst.proto), b->branch, b->text, SIP_DLG_BYE_MAX);
    rc = GW_EINVAL;
    if (len < 0)
        goto out_free;
    b->dst = dst;
    b->len = (size_t)len;
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_dlg_on_bye_item;
    it->arg = b;
    it->arg_free = free;
    rc = sip_worker_push(w, it);
    if (rc == 0)
        return 0;
    it->arg = NULL;
out_free:
    free(it);
    free(b);
    return rc;
}

/* MI sip.dialogs.end {call_id}.  Main thread. */
void sip_dlg_mi_end(const json_t *params, gw_mi_reply_t *r)
{
    const char *call_id = gw_mi_str(params, "call_id", r);
    sip_dlg_t *ds;
    json_t *byes;
    int n;

    if (!call_id)
        return;
    if (!sip_dlg_table() || !(ds = malloc(SIP_DLG_MI_END_MAX * sizeof *ds))) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    n = sip_dlg_take_call(sip_dlg_table(), call_id, ds, SIP_DLG_MI_END_MAX);
    if (n == 0) {
        free(ds);
        gw_mi_error(r, GW_MI_NOT_FOUND, "%s: no such dialog", call_id);
        return;
    }
    byes = json_array();
    for (int i = 0; i < n; i++) {
        for (int to = SIP_DLG_CALLER; to <= SIP_DLG_CALLEE; to++) {
            char dest[96];
            int rc = sip_dlg_send_bye(&ds[i], to, dest, sizeof dest);
            json_array_append_new(byes, json_pack("{s:s, s:s, s:s, s:b}", "to",
                                                  to == SIP_DLG_CALLER ? "caller" : "callee",
                                                  "tag", ds[i].tag[to], "dest", dest, "sent",
                                                  rc == 0));
        }
        sip_dlg_end(&ds[i], "mi", gw_now_ms());
    }
    free(ds);
    gw_mi_result(r, json_pack("{s:s, s:i, s:o}", "call_id", call_id, "ended", n, "bye", byes));
}

typedef struct sip_dlg_list_arg {
    json_t *a;
    int64_t now;
} sip_dlg_list_arg_t;

/* One dialog as sip.dialogs.list shows it (under its shard's lock). */
static void sip_dlg_list_one(const sip_dlg_t *d, void *arg)
{
    sip_dlg_list_arg_t *la = arg;
    char a[96], b[96];

    sip_dlg_peer_text(&d->peer[SIP_DLG_CALLER], a, sizeof a);
    sip_dlg_peer_text(&d->peer[SIP_DLG_CALLEE], b, sizeof b);
    json_array_append_new(
        la->a,
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:s, s:s, s:s, s:i}, "
                  "s:{s:s, s:s, s:s, s:i}}",
                  "call_id", d->call_id, "state",
                  d->state == SIP_DLG_CONFIRMED ? "confirmed" : "confirmed_na", "from",
                  d->uri[SIP_DLG_CALLER], "from_tag", d->tag[SIP_DLG_CALLER], "to",
                  d->uri[SIP_DLG_CALLEE], "to_tag", d->tag[SIP_DLG_CALLEE], "start",
                  (json_int_t)d->start_ms, "answer", (json_int_t)d->answer_ms, "age_s",
                  (json_int_t)((la->now - d->answer_ms) / 1000), "caller", "source", a,
                  "contact", d->contact[SIP_DLG_CALLER], "route", d->route[SIP_DLG_CALLER],
                  "cseq", (int)d->cseq[SIP_DLG_CALLER], "callee", "source", b, "contact",
                  d->contact[SIP_DLG_CALLEE], "route", d->route[SIP_DLG_CALLEE], "cseq",
                  (int)d->cseq[SIP_DLG_CALLEE]));
}

/* MI sip.dialogs.list {limit?, call_id?}.  Main thread. */
void sip_dlg_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    const char *call_id = json_string_value(json_object_get(params, "call_id"));
    long long limit = gw_mi_opt_int(params, "limit", 1000);
    sip_dlg_list_arg_t la = {json_array(), gw_now_ms()};

    if (limit < 1 || limit > 100000) {
        json_decref(la.a);
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "limit: 1 to 100000");
        return;
    }
    if (sip_dlg_table())
        sip_dlg_foreach(sip_dlg_table(), call_id, (int)limit, sip_dlg_list_one, &la);
    gw_mi_result(r, la.a);
}
