/*
 * sip_uas.c - inbound SIP requests (the UAS side of RFC 3261 / RFC 3428).
 *
 * A datagram or a framed TCP message arrives on a worker:
 *   from a banned source, or a
 *   request over sip.flood_rate -> dropped, or 503 (sip_flood.c)
 *   a CRLF / 4-byte keep-alive  -> ignored (sip.keepalives)
 *   a broken request line       -> 400 / 505 from the raw header lines
 *   not SIP at all              -> dropped and counted (sip.drops)
 *   request line but unparsable -> 400 (416: an unknown URI scheme) built
 *                                  from the raw header lines; a method for
 *                                  the proxy goes to its own parser
 *   an answer to an OPTIONS ping-> sip_natping.c
 *   (over sip.max_message       -> 413 from its head: sip_uas_oversized)
 *   response                    -> the client transaction (sip_uac.c)
 *   request                     -> checks (400 / 483), then the server
 *                                  transaction table: a retransmission is
 *                                  answered from the table or absorbed
 * A MESSAGE from a peer in no trusted network is 403, or with sip.auth
 * on is challenged and checked by sip_auth.c (sip_uas_authenticate: 407,
 * 403, 400, or taken with the tag sender "sip:<user>@<realm>").
 * MESSAGE with a text/plain UTF-8 body (or one wrapped in CPIM, with its
 * IMDN request and X-SMS-* headers read by sip_sms.c; bad ones are a 400
 * naming the header) becomes an envelope handed to
 * gw_core_accept(); its Request-URI and From may be sip:, sips: or tel:
 * URIs (addresses by gateway/gw_addr.h; another scheme is 416, an address
 * nothing can carry 400).  The answer waits for the commit: the core calls
 * sip_uas_accepted() on the store's writer thread, which only queues the
 * pending request back to the worker that read it; that worker answers
 * 202 (or 500) and records the answer for retransmissions.  No route is
 * 404, shutting down or a full queue 503.
 * REGISTER -> the registrar (sip_registrar.c).
 * Every other request, and a MESSAGE or OPTIONS for a registered user or
 * a foreign IP host, goes to the proxy when sip.proxy is on - before
 * libosip2 parses it when the proxy's byte view takes it
 * (sip_proxy_input), else after the checks here (sip_proxy_takes) - and
 * so do the responses on its branches; else OPTIONS -> 200
 * (keep-alive pings), ACK is absorbed, others -> 501.
 *
 * Responses go back where the request came from: over UDP to the source
 * address, with the Via port when the client did not ask for rport
 * (RFC 3261 18.2.2, RFC 3581); over TCP on the same connection.
 *
 * Threads: the worker that read the request, except sip_uas_accepted
 * (the store's writer thread).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_core.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_trace.h"
#include "gw_trusted.h"
#include "sip.h"
#include "sip_flood.h"
#include "sip_proxy.h"
#include "sip_trunk.h"

/* RFC 3261 21.5.4: how long an overloaded junction asks the client to wait. */
#define SIP_RETRY_AFTER "Retry-After: 1\r\n"

#define SIP_ALLOW "Allow: MESSAGE, OPTIONS, ACK, REGISTER\r\n"
#define SIP_ACCEPT "Accept: text/plain\r\n"

int sip_stopping;
gw_hist_t *sip_uas_answer_hist;

static void sip_count_status(int status)
{
    if (status == 202)
        gw_stat_add(sip_stats.tx_202, 1);
    if (status >= 200 && status < 300)
        gw_stat_add(sip_stats.tx_2xx, 1);
    else if (status >= 400 && status < 500)
        gw_stat_add(sip_stats.tx_4xx, 1);
    else if (status >= 500)
        gw_stat_add(sip_stats.tx_5xx, 1);
}

/* Where a UDP response goes: the source address; the Via's port unless
 * the client asked for rport. */
static sip_peer_t sip_reply_peer(const osip_message_t *req, const sip_peer_t *src)
{
    sip_peer_t p = *src;
    osip_via_t *via = osip_list_get(&req->vias, 0);
    osip_generic_param_t *rport = NULL;

    if (p.conn_id != 0 || !via)
        return p;
    osip_via_param_get_byname(via, "rport", &rport);
    if (!rport) {
        int port = via->port ? atoi(via->port) : 5060;
        if (port > 0 && port < 65536)
            sip_sa_set_port(&p.addr, port);
    }
    return p;
}

/* Build, send and record one final response.  txn_key may be NULL (no
 * transaction to record).  Worker thread. */
void sip_uas_answer(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                    const char *txn_key, const char *to_tag, int status, const char *reason,
                    const char *extra)
{
    char ip[INET6_ADDRSTRLEN];
    sip_peer_t dst = sip_reply_peer(req, src);
    size_t len = 0;
    char *resp;

    sip_sa_ip(&src->addr, ip, sizeof(ip));
    resp = sip_build_response(req, status, reason, to_tag, ip, sip_sa_port(&src->addr), extra,
                              &len);
    if (!resp) {
        GW_ERR(SIP_LOG, "cannot build %d for %s", status, ip);
        return;
    }
    if (sip_worker_send(w, &dst, resp, len) == 0)
        sip_count_status(status);
    if (txn_key)
        sip_txns_final(txn_key, resp, len, gw_now_ms());
    GW_DEBUG(SIP_LOG, "%s %s from %s:%d -> %d %s", req->sip_method,
             req->call_id && req->call_id->number ? req->call_id->number : "-", ip,
             sip_sa_port(&src->addr), status, reason);
    free(resp);
}

/* Store outcome of a MESSAGE: runs on the store's writer thread and only
 * queues the pending request back to its worker. */
static void sip_uas_accepted(gw_envelope_t *env, int rc, void *arg)
{
    sip_item_t *it = arg;
    (void)env;

    it->rc = rc;
    if (sip_worker_push(it->worker, it) != 0) {
        GW_ERR(SIP_LOG, "worker queue refused a reply; the client will retransmit");
        sip_worker_pending(it->worker, -1);
        sip_item_free(it);
    }
}

/* The answer of a MESSAGE whose header block was copied when it arrived
 * (it->resp_hdrs): the status line, that block, Server, extra and an empty
 * body; sent to it->peer and recorded for retransmissions.  Worker thread. */
static void sip_uas_answer_hdrs(sip_worker_t *w, sip_item_t *it, int status, const char *reason,
                                const char *extra)
{
    char scratch[2048];
    gw_jbuf_t b = GW_JBUF_IN(scratch);

    gw_jbuf_puts(&b, "SIP/2.0 ");
    gw_jbuf_int(&b, status);
    gw_jbuf_put(&b, " ", 1);
    gw_jbuf_puts(&b, reason);
    gw_jbuf_put(&b, "\r\n", 2);
    gw_jbuf_put(&b, it->resp_hdrs, it->resp_hdrs_len);
    gw_jbuf_puts(&b, "Server: junction\r\n");
    if (extra)
        gw_jbuf_puts(&b, extra);
    gw_jbuf_puts(&b, "Content-Length: 0\r\n\r\n");
    if (b.oom) {
        GW_ERR(SIP_LOG, "cannot build %d: out of memory", status);
        gw_jbuf_free(&b);
        return;
    }
    if (sip_worker_send(w, &it->peer, b.p, b.len) == 0)
        sip_count_status(status);
    if (it->txn_key)
        sip_txns_final(it->txn_key, b.p, b.len, gw_now_ms());
    GW_DEBUG(SIP_LOG, "MESSAGE %s -> %d %s", it->txn_key ? it->txn_key : "-", status, reason);
    gw_jbuf_free(&b);
}

/* See sip.h.  Worker thread. */
void sip_uas_reply(sip_worker_t *w, sip_item_t *it)
{
    gw_hist_observe_us(sip_uas_answer_hist, gw_stats_now_us() - it->rx_us);
    if (it->resp_hdrs != NULL) {
        if (it->rc == 0)
            sip_uas_answer_hdrs(w, it, 202, "Accepted", NULL);
        else
            sip_uas_answer_hdrs(w, it, 503, "Service Unavailable", SIP_RETRY_AFTER);
        return;
    }
    if (it->rc == 0)
        sip_uas_answer(w, it->req, &it->peer, it->txn_key, it->to_tag, 202, "Accepted", NULL);
    else /* the store could not commit it (a full disk, I/O): nothing kept */
        sip_uas_answer(w, it->req, &it->peer, it->txn_key, it->to_tag, 503,
                       "Service Unavailable", SIP_RETRY_AFTER);
}

/* The From URI's host, lower-cased, as env's source domain (a rule's
 * source.sip_domain); a tel: URI has none.  0 or GW_ENOMEM. */
static int sip_env_domain(gw_envelope_t *env, const osip_uri_t *from)
{
    int rc;
    if (from == NULL || from->host == NULL || from->host[0] == '\0')
        return 0;
    if ((rc = gw_env_set_str(&env->source.domain, from->host, (size_t)-1)) < 0)
        return rc;
    for (char *p = env->source.domain; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

/* A MESSAGE refused (st: the status; its trust, credentials, body or
 * X-SMS-* headers), or with st 0 let in by its credentials, on the trace
 * bus. */
static void sip_uas_trace_refusal(const osip_message_t *req, const sip_peer_t *src, int st,
                                  const char *reason)
{
    gw_trace_rec_t r = {0};
    char peer[SIP_ADDR_MAX], summary[256];

    sip_sa_str(&src->addr, peer, sizeof peer);
    if (st == 0)
        snprintf(summary, sizeof summary, "MESSAGE credentials taken: %s", reason);
    else
        snprintf(summary, sizeof summary, "MESSAGE refused %d %s", st, reason);
    r.kind = GW_TRACE_LOG;
    r.connector = "sip";
    r.peer = peer;
    r.call_id = req->call_id ? req->call_id->number : NULL;
    r.summary = summary;
    gw_trace_record(&r);
}

/* Where a report to the sender of req goes, as "ip:port" into out: the
 * From URI's IPv4 host and port (sip.reports_to "from"), else where the
 * MESSAGE's response went (the source, or its Via port without rport). */
static void sip_uas_reply_to(const osip_message_t *req, const sip_peer_t *src, char *out,
                             size_t n)
{
    const osip_uri_t *u = req->from->url;
    sip_sa_t a;
    sip_peer_t p;
    int port;

    if (sip_conf.report_to_from && u->host != NULL) {
        port = u->port ? atoi(u->port) : 5060;
        if (sip_sa_from_host(u->host, strlen(u->host), port, &a) == 0 && port > 0) {
            sip_sa_str(&a, out, n);
            return;
        }
    }
    p = sip_reply_peer(req, src);
    sip_sa_str(&p.addr, out, n);
}

/* The form of the report sms asks for: "imdn", "text" or NULL (none), by
 * the conf "reports" of the connector whose target sent it, else by
 * sip.reports; which one decided into by. */
static const char *sip_uas_report_form(const sip_sms_t *sms, const sip_peer_t *src, char *by,
                                       size_t n)
{
    int form;

    if (sms->dn == 0)
        return NULL;
    form = sip_conn_report_form(&src->addr, by, n);
    if (form < 0) {
        form = sip_conf.report_form;
        snprintf(by, n, "sip.reports");
    }
    switch (form) {
    case SIP_REPORTS_AUTO: return sms->imdn ? "imdn" : "text";
    case SIP_REPORTS_IMDN: return sms->imdn ? "imdn" : NULL;
    case SIP_REPORTS_TEXT: return "text";
    default: return NULL;
    }
}

/* The SMS settings of sms onto env: coding and validity (tags the SMPP
 * side reads, docs/sip-sms-headers.md), and the report request (tags
 * gateway/gw_report_sip.c reads).  0 or GW_ENOMEM. */
static int sip_sms_apply(gw_envelope_t *env, const osip_message_t *req, const sip_peer_t *src,
                         const sip_sms_t *sms)
{
    char num[16], reply_to[SIP_ADDR_MAX], by[64] = "", *uri = NULL;
    const char *form = sip_uas_report_form(sms, src, by, sizeof by);
    int rc = 0;

    if (sms->coding >= 0) {
        env->data_coding = sms->coding;
        rc = gw_env_set_tag(env, "coding", sms->coding == 8 ? "ucs2" : "gsm");
    }
    if (rc == 0 && sms->validity_s > 0) {
        env->expires_at = env->created_at + (int64_t)sms->validity_s * 1000;
        snprintf(num, sizeof num, "%d", sms->validity_s);
        rc = gw_env_set_tag(env, "validity_s", num);
    }
    if (sms->cpim)
        gw_stat_add(sip_stats.rx_cpim, 1);
    if (rc != 0 || form == NULL) {
        if (rc == 0 && sms->dn != 0 && gw_trace_on())
            gw_trace_envf(env, GW_TRACE_LOG, "report asked for (%s), none sent: by %s",
                          sms->imdn ? "IMDN" : "header", by);
        return rc;
    }
    if (osip_uri_to_str(req->from->url, &uri) != 0 || uri == NULL)
        return GW_ENOMEM;
    for (const char *p = uri; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F || strchr("<>\"", *p)) {
            /* it becomes a Request-URI and a To header: nothing that
             * could end them */
            if (gw_trace_on())
                gw_trace_envf(env, GW_TRACE_LOG, "report asked for, none sent: From URI unusable");
            osip_free(uri);
            return 0;
        }
    gw_stat_add(sip_stats.rx_report_req, 1);
    sip_uas_reply_to(req, src, reply_to, sizeof reply_to);
    rc = gw_env_set_tag(env, SIP_TAG_REPORT, form);
    if (rc == 0)
        rc = gw_env_set_tag(env, SIP_TAG_REPORT_ON,
                            (sms->dn & SIP_DN_POSITIVE) == 0   ? "failure"
                            : (sms->dn & SIP_DN_NEGATIVE) == 0 ? "success"
                                                               : "all");
    if (rc == 0)
        rc = gw_env_set_tag(env, SIP_TAG_REPLY_TO, reply_to);
    if (rc == 0)
        rc = gw_env_set_tag(env, SIP_TAG_REPLY_URI, uri);
    if (rc == 0 && strcmp(form, "imdn") == 0)
        rc = gw_env_set_tag(env, SIP_TAG_IMDN_ID, sms->imdn_id);
    if (rc == 0 && gw_trace_on())
        gw_trace_envf(env, GW_TRACE_LOG, "report asked for (%s%s%s): %s report (by %s) to %s %s",
                      sms->imdn ? "IMDN " : "header", sms->imdn ? "id " : "",
                      sms->imdn ? sms->imdn_id : "", form, by, uri, reply_to);
    osip_free(uri);
    return rc;
}

/* Fill env from a checked MESSAGE.  0 or a negative code. */
static int sip_env_fill(gw_envelope_t *env, osip_message_t *req, const sip_peer_t *src,
                        const sip_sms_t *sms)
{
    const char *body = sms->text;
    size_t len = sms->text_len;
    char peer[SIP_ADDR_MAX], cid[512];
    int rc;

    sip_sa_str(&src->addr, peer, sizeof peer);
    if (req->call_id->host)
        snprintf(cid, sizeof(cid), "%s@%s", req->call_id->number, req->call_id->host);
    else
        snprintf(cid, sizeof(cid), "%s", req->call_id->number);
    if ((rc = gw_env_set_str(&env->source.adapter, "sip", (size_t)-1)) < 0 ||
        (rc = gw_env_set_str(&env->source.connector, "sip", (size_t)-1)) < 0 ||
        (rc = gw_env_set_str(&env->source.peer, peer, (size_t)-1)) < 0 ||
        (rc = sip_addr_from_uri(req->req_uri, &env->to)) < 0 ||
        (rc = sip_addr_from_uri(req->from->url, &env->from)) < 0 ||
        (rc = gw_env_set_str(&env->body, body, len)) < 0 ||
        (rc = gw_env_set_str(&env->content_type, "text/plain", (size_t)-1)) < 0 ||
        (rc = gw_env_set_str(&env->corr.sip_call_id, cid, (size_t)-1)) < 0 ||
        (rc = sip_env_domain(env, req->from->url)) < 0)
        return rc;
    env->body_len = len;
    env->binary = 0;
    /* junction asks the SMSC for a receipt (on success and failure) so
     * that the outcome reaches the message's state and events, unless the
     * sender said X-SMS-Registered-Delivery: 0 and wants no report */
    env->registered_delivery = (sms->rd == 0 && sms->dn == 0) ? 0 : 1;
    return sip_sms_apply(env, req, src, sms);
}

/* A MESSAGE from an untrusted peer with sip.auth on: its credentials
 * checked (sip_auth.c).  0 with res->sender set when they are a SIP
 * user's; else the answer (407 with a challenge, 403, 400) is sent and
 * traced here and the result is GW_EDECLINED.
 * 407, not 401: for a MESSAGE junction is a proxy on the way to the SMS
 * network (a next hop decides delivery), and RFC 3261 22.3 has a proxy
 * challenge with 407 / Proxy-Authenticate; 401 / WWW-Authenticate is the
 * registrar's or the destination UAS's word (SIP_AUTH_UAS), which
 * REGISTER will use.
 * Worker thread. */
static int sip_uas_authenticate(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                                const char *key, const char *to_tag, const char *buf, size_t n,
                                sip_auth_result_t *res)
{
    char why[160];

    sip_auth_check(buf, n, req->sip_method, SIP_AUTH_PROXY, res);
    if (gw_trace_on()) {
        if (res->status == 0)
            snprintf(why, sizeof why, "digest %s: %s", res->alg, res->why);
        else
            snprintf(why, sizeof why, "%s%s%s (%s%s%s)", res->reason,
                     res->stale ? " stale=true" : "", res->user[0] ? " user " : "", res->user,
                     res->user[0] ? ": " : "", res->why);
        sip_uas_trace_refusal(req, src, res->status, why);
    }
    if (res->status == 0)
        return 0;
    sip_uas_answer(w, req, src, key, to_tag, res->status, res->reason, res->extra);
    free(res->extra);
    res->extra = NULL;
    return GW_EDECLINED;
}

/* Copy the answer's header block from the request text into it, and
 * where the answer goes; without it (text sip_resp_headers cannot follow)
 * the answer is built from the parsed request later.  Worker thread. */
static void sip_uas_keep_headers(sip_item_t *it, const osip_message_t *req, const sip_peer_t *src,
                                 const char *buf, size_t n, const char *to_tag)
{
    char ip[INET6_ADDRSTRLEN];
    osip_generic_param_t *tag = NULL;
    gw_jbuf_t b = { 0 };

    sip_sa_ip(&src->addr, ip, sizeof(ip));
    if (req->to)
        osip_to_get_tag(req->to, &tag);
    if (sip_resp_headers(buf, n, tag ? NULL : to_tag, ip, sip_sa_port(&src->addr), &b) != 0) {
        gw_jbuf_free(&b);
        return;
    }
    it->resp_hdrs_len = b.len;
    it->resp_hdrs = gw_jbuf_done(&b);
    if (it->resp_hdrs != NULL)
        it->peer = sip_reply_peer(req, src);
}

/* MESSAGE: takes ownership of req; buf[0..n) is its text.  Worker thread. */
static void sip_uas_message(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                            const char *key, const char *to_tag, const char *buf, size_t n)
{
    const char *reason = NULL;
    char ip[INET6_ADDRSTRLEN], trusted[80], sender[96];
    sip_sms_t sms;
    sip_auth_result_t auth = { .status = 0 };
    gw_envelope_t *env = NULL;
    sip_item_t *it = NULL;
    int st, rc, kept;
    int64_t rx_us = gw_stats_now_us(); /* sip.message_answer_seconds counts from here */

    gw_stat_add(sip_stats.rx_message, 1);
    if (__atomic_load_n(&sip_stopping, __ATOMIC_RELAXED)) {
        sip_uas_answer(w, req, src, key, to_tag, 503, "Service Unavailable", NULL);
        goto out_free_req;
    }
    /* no open relay: only peers of a trusted network (gw_trusted.h), or
     * with sip.auth a SIP user's credentials (sip_auth.c) */
    sip_sa_ip(&src->addr, ip, sizeof ip);
    if (!gw_trusted_find(ip, trusted, sizeof trusted)) {
        if (!__atomic_load_n(&sip_conf.auth, __ATOMIC_RELAXED)) {
            if (gw_trace_on())
                sip_uas_trace_refusal(req, src, 403, "the peer is in no trusted network");
            gw_stat_add(sip_stats.rx_untrusted, 1);
            sip_uas_answer(w, req, src, key, to_tag, 403, "Forbidden (untrusted source)", NULL);
            goto out_free_req;
        }
        if (sip_uas_authenticate(w, req, src, key, to_tag, buf, n, &auth) != 0)
            goto out_free_req;
    }
    st = sip_sms_read(req, &sms, &reason);
    if (st) {
        if (gw_trace_on())
            sip_uas_trace_refusal(req, src, st, reason);
        gw_stat_add(sip_stats.rx_refused_sms, 1);
        sip_uas_answer(w, req, src, key, to_tag, st, reason, st == 415 ? SIP_ACCEPT : NULL);
        goto out_free_req;
    }
    env = gw_env_new();
    it = calloc(1, sizeof(*it));
    rc = (env && it && (it->txn_key = strdup(key))) ? sip_env_fill(env, req, src, &sms)
                                                    : GW_ENOMEM;
    if (rc == 0 && auth.sender[0] != '\0') { /* who let it in, for rules and the record */
        rc = gw_env_set_tag(env, "sender", auth.sender);
        if (rc == 0 && gw_trace_on())
            gw_trace_envf(env, GW_TRACE_LOG, "MESSAGE authenticated as %s (digest %s)",
                          auth.sender, auth.alg);
    } else if (rc == 0) {
        snprintf(sender, sizeof sender, "trusted:%s", trusted[0] ? trusted : ip);
        rc = gw_env_set_tag(env, "sender", sender);
    }
    if (rc == GW_EDECLINED || rc == GW_EINVAL) {
        /* a scheme other than sip, sips, tel (RFC 3261 8.2.2.1), or a
         * user part no surface could carry (gw_addr.h) */
        sip_uas_answer(w, req, src, key, to_tag, rc == GW_EDECLINED ? 416 : 400,
                       rc == GW_EDECLINED ? "Unsupported URI Scheme" : "Bad Address", NULL);
        goto out_free_item;
    }
    if (rc < 0) {
        sip_uas_answer(w, req, src, key, to_tag, 500, "Server Internal Error", NULL);
        goto out_free_item;
    }
    it->kind = SIP_ITEM_REPLY;
    it->rx_us = rx_us;
    it->worker = w;
    it->peer = *src;
    snprintf(it->to_tag, sizeof(it->to_tag), "%s", to_tag);
    sip_uas_keep_headers(it, req, src, buf, n, to_tag);
    /* with its header block kept, the answer needs nothing of req */
    kept = it->resp_hdrs != NULL;
    it->req = kept ? NULL : req;
    /* counted before the hand-over: the answer may run before
     * gw_core_accept returns, and w must not retire while it is owed */
    sip_worker_pending(w, 1);
    rc = gw_core_accept(env, sip_uas_accepted, it);
    if (rc != 0)
        sip_worker_pending(w, -1); /* the callback never runs */
    if (rc == 0) {
        /* it (and req with it, unless it kept the header block) now
         * belongs to the callback: it is not read again here */
        if (kept)
            osip_message_free(req);
        gw_env_unref(env);
        return;
    }
    it->req = NULL;
    if (rc == GW_EREJECTED) {
        /* a rule's refusal: its status, its reason as the phrase (one
         * line of printable text: the rule is admin input) */
        const gw_refusal_t *ref = gw_core_refusal();
        char phrase[sizeof ref->reason];
        size_t i;
        for (i = 0; ref->reason[i] != '\0' && i + 1 < sizeof phrase; i++)
            phrase[i] = (unsigned char)ref->reason[i] < 0x20 ? ' ' : ref->reason[i];
        phrase[i] = '\0';
        sip_uas_answer(w, req, src, key, to_tag, ref->sip_status, i ? phrase : "Rejected",
                       ref->throttled ? SIP_RETRY_AFTER : NULL);
    } else if (rc == GW_ENOROUTE)
        sip_uas_answer(w, req, src, key, to_tag, 404, "Not Found", NULL);
    else if (rc == GW_ESTOPPED || rc == GW_EFULL) /* stopping, or admission control */
        sip_uas_answer(w, req, src, key, to_tag, 503, "Service Unavailable", SIP_RETRY_AFTER);
    else
        sip_uas_answer(w, req, src, key, to_tag, 500, "Server Internal Error", NULL);
out_free_item:
    sip_item_free(it);
    gw_env_unref(env);
out_free_req:
    osip_message_free(req);
}

/* 1 when the Request-URI's scheme is one junction knows: sip, sips, tel
 * (libosip2 reads other schemes too). */
static int sip_uas_scheme_ok(const osip_message_t *req)
{
    const char *sc = req->req_uri->scheme;
    return strcasecmp(sc, "sip") == 0 || strcasecmp(sc, "sips") == 0 || strcasecmp(sc, "tel") == 0;
}

/* The option tags of the request's Require headers, joined into out:
 * 1 when there is any (junction as a UAS supports none). */
static int sip_uas_required(const osip_message_t *req, char *out, size_t n)
{
    osip_header_t *h = NULL;
    size_t off = 0;

    out[0] = '\0';
    for (int pos = 0; (pos = osip_message_header_get_byname(req, "require", pos, &h)) >= 0; pos++)
        if (h->hvalue && h->hvalue[0] && off + 1 < n)
            off += (size_t)snprintf(out + off, n - off, "%s%s", off ? ", " : "", h->hvalue);
    for (size_t i = 0; i < off && i < n; i++) /* one header line: no CR or LF */
        if (out[i] == '\r' || out[i] == '\n')
            out[i] = ' ';
    return off > 0;
}

/* A parsed request: takes ownership of req; buf[0..n) is its text.  Worker
 * thread. */
static void sip_uas_request(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                            const char *buf, size_t n)
{
    const char *reason = NULL;
    char *resp = NULL;
    size_t resp_len = 0;
    char key[1024], to_tag[17], unsup[200];
    int st;

    gw_stat_add(sip_stats.rx_requests, 1);
    sip_random_hex(to_tag, 8);
    st = sip_check_request(req, &reason);
    if (st == 0 && sip_txn_key(req, key, sizeof(key)) != 0) {
        st = 400;
        reason = "Header Too Long";
    }
    if (st) {
        if (osip_list_size(&req->vias) > 0 && req->sip_method)
            sip_uas_answer(w, req, src, NULL, to_tag, st, reason, NULL);
        else
            gw_stat_add(sip_stats.drops, 1); /* nothing to address an answer with */
        osip_message_free(req);
        return;
    }
    if (st == 0 && strcmp(req->sip_method, "ACK") != 0 && !sip_uas_scheme_ok(req)) {
        /* RFC 3261 8.2.2.1 / 16.3 step 2 (RFC 4475 3.3.3, 3.3.4) */
        sip_uas_answer(w, req, src, NULL, to_tag, 416, "Unsupported URI Scheme", NULL);
        osip_message_free(req);
        return;
    }
    if (sip_proxy_takes(req)) { /* the proxy's, with its own transactions */
        sip_proxy_request(w, buf, n, src);
        osip_message_free(req);
        return;
    }
    if (strcmp(req->sip_method, "ACK") == 0) {
        osip_message_free(req);
        return;
    }
    /* the pool's table: the original may have reached another worker */
    switch (sip_txns_lookup(key, gw_now_ms(), &resp, &resp_len)) {
    case SIP_TXN_FINAL: {
        sip_peer_t dst = sip_reply_peer(req, src);
        gw_stat_add(sip_stats.rx_retrans, 1);
        sip_worker_send(w, &dst, resp, resp_len);
        free(resp);
        osip_message_free(req);
        return;
    }
    case SIP_TXN_PENDING:
        gw_stat_add(sip_stats.rx_retrans, 1);
        osip_message_free(req);
        return;
    case SIP_TXN_NEW:
        break;
    }
    if (strcmp(req->sip_method, "MESSAGE") == 0) {
        sip_uas_message(w, req, src, key, to_tag, buf, n);
        return;
    }
    if (strcmp(req->sip_method, "REGISTER") == 0) {
        sip_reg_request(w, req, src, key, to_tag, buf, n);
        return;
    }
    if (sip_uas_required(req, unsup, sizeof unsup)) {
        /* RFC 3261 8.2.2.3: junction as the UAS supports no extension
         * (RFC 4475 3.3.8) */
        char extra[sizeof unsup + 20];
        snprintf(extra, sizeof extra, "Unsupported: %s\r\n", unsup);
        sip_uas_answer(w, req, src, key, to_tag, 420, "Bad Extension", extra);
    } else if (strcmp(req->sip_method, "OPTIONS") == 0)
        sip_uas_answer(w, req, src, key, to_tag, 200, "OK", SIP_ALLOW SIP_ACCEPT);
    else
        sip_uas_answer(w, req, src, key, to_tag, 501, "Not Implemented", SIP_ALLOW);
    osip_message_free(req);
}

/* The Request-URI scheme of the request line in buf: 1 for sip, sips,
 * tel (RFC 4475 3.3.4: another is 416, not 400). */
static int sip_uas_raw_scheme_ok(const char *buf, size_t n)
{
    const char *sp = memchr(buf, ' ', n), *colon;
    size_t len;

    if (sp == NULL || (colon = memchr(sp + 1, ':', n - (size_t)(sp + 1 - buf))) == NULL)
        return 1;
    len = (size_t)(colon - sp - 1);
    for (size_t i = 0; i < len; i++) /* not a scheme at all (<sip:...>): a 400 */
        if (!isalnum((unsigned char)sp[1 + i]) && !strchr("+-.", sp[1 + i]))
            return 1;
    return (len == 3 && strncasecmp(sp + 1, "sip", 3) == 0) ||
           (len == 4 && strncasecmp(sp + 1, "sips", 4) == 0) ||
           (len == 3 && strncasecmp(sp + 1, "tel", 3) == 0);
}

/* 1 when a request libosip2 could not parse is the proxy's to read: the
 * proxy is on, the scheme is known and the method is none junction
 * answers itself (MESSAGE, REGISTER, OPTIONS need the parsed form). */
static int sip_uas_proxy_raw(const char *buf, size_t n)
{
    static const char *const own[] = { "MESSAGE ", "REGISTER ", "OPTIONS ", NULL };

    if (!__atomic_load_n(&sip_proxy_conf.on, __ATOMIC_RELAXED) || !sip_uas_raw_scheme_ok(buf, n))
        return 0;
    for (int i = 0; own[i] != NULL; i++)
        if (n > strlen(own[i]) && strncmp(buf, own[i], strlen(own[i])) == 0)
            return 0;
    return 1;
}

/* A request that could not be parsed answered from its raw header
 * lines (sip_build_raw_response), to where it came from; dropped when it
 * has no Via.  Worker thread. */
static void sip_uas_raw_answer(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer,
                               int status, const char *reason)
{
    size_t len = 0;
    char *resp = sip_build_raw_response(buf, n, status, reason, &len);

    gw_stat_add(sip_stats.rx_requests, 1);
    if (resp && sip_worker_send(w, peer, resp, len) == 0)
        sip_count_status(status);
    else
        gw_stat_add(sip_stats.drops, 1);
    free(resp);
}

/* See sip.h.  Worker thread. */
void sip_uas_oversized(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer)
{
    size_t len = 0;
    char *resp = NULL;

    if (sip_flood_input(w, buf, n, peer))
        return; /* a banned or flooding source, as for any packet */
    gw_stat_add(sip_stats.oversized, 1);
    if (sip_looks_like_sip(buf, n) == 1)
        resp = sip_build_raw_response(buf, n, 413, "Request Entity Too Large", &len);
    if (resp != NULL && sip_worker_send(w, peer, resp, len) == 0)
        sip_count_status(413);
    else
        gw_stat_add(sip_stats.drops, 1); /* a response, or no Via to answer */
    if (gw_trace_on()) {
        gw_trace_rec_t r = { 0 };
        char p[SIP_ADDR_MAX], summary[96];
        sip_sa_str(&peer->addr, p, sizeof p);
        snprintf(summary, sizeof summary, "message over sip.max_message (%d bytes): %s",
                 sip_conf.max_message, resp != NULL ? "413" : "dropped");
        r.kind = GW_TRACE_LOG;
        r.connector = "sip";
        r.peer = p;
        r.summary = summary;
        gw_trace_record(&r);
    }
    free(resp);
}

/* See sip.h.  buf is NUL-terminated at buf[n].  Worker thread. */
void sip_uas_input(sip_worker_t *w, const char *buf, size_t n, const sip_peer_t *peer)
{
    int kind = sip_looks_like_sip(buf, n), st;
    const char *reason = NULL;
    osip_message_t *m = NULL;

    if (sip_flood_input(w, buf, n, peer))
        return; /* banned (dropped unread) or over sip.flood_rate (sip_flood.c) */
    if (kind == 0 && sip_is_keepalive(buf, n)) {
        gw_stat_add(sip_stats.keepalives, 1); /* RFC 5626 4.4.1: nothing to answer */
        return;
    }
    if (kind == 0 && (st = sip_bad_request_line(buf, n, &reason)) != 0) {
        sip_uas_raw_answer(w, buf, n, peer, st, reason);
        return;
    }
    if (kind == 0) {
        char where[SIP_ADDR_MAX];
        gw_stat_add(sip_stats.drops, 1);
        GW_DEBUG(SIP_LOG, "dropped %zu bytes of non-SIP from %s", n,
                 sip_sa_str(&peer->addr, where, sizeof where));
        return;
    }
    if (kind == 2 && sip_proxy_response(w, buf, n, peer))
        return; /* a response on one of the proxy's branches */
    if (kind == 2 && sip_trunk_response(buf, n))
        return; /* the answer to a trunk's OPTIONS probe */
    if (kind == 1 && sip_proxy_input(w, buf, n, peer))
        return; /* a request for the proxy, read with the byte view only */
    if (osip_message_init(&m) != 0)
        return;
    if (osip_message_parse(m, buf, n) != 0 || (kind == 1) != (MSG_IS_REQUEST(m) != 0)) {
        osip_message_free(m);
        if (kind == 1 && sip_uas_proxy_raw(buf, n)) {
            /* libosip2 is stricter than RFC 4475 3.1.1.2 (octets in a
             * quoted string): the proxy reads the text with its own view
             * and answers 400 itself when that fails too */
            sip_proxy_request(w, buf, n, peer);
        } else if (kind == 1) {
            int bad_scheme = !sip_uas_raw_scheme_ok(buf, n);
            sip_uas_raw_answer(w, buf, n, peer, bad_scheme ? 416 : 400,
                               bad_scheme ? "Unsupported URI Scheme" : "Bad Request");
        } else {
            gw_stat_add(sip_stats.drops, 1);
        }
        return;
    }
    if (kind == 2) {
        gw_stat_add(sip_stats.rx_responses, 1);
        if (sip_natping_response(m, peer)) { /* an answer to one of our OPTIONS pings */
            osip_message_free(m);
            return;
        }
        sip_uac_dispatch(w, m);
        return;
    }
    sip_uas_request(w, m, peer, buf, n);
}
