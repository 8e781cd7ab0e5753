/*
 * sip_conn.c - connectors of type "sip": a SIP target for outbound MESSAGE.
 *
 * Configuration (the connector's JSON conf):
 *   uri          "sip:host[:port]" or "sip:user@host[:port]" (required);
 *                without a user, the envelope's destination becomes the
 *                Request-URI user ('+' before international numbers)
 *   transport    "udp" (the only one for now; optional)
 *   from_domain  host part of our From URI (optional; default: our own
 *                address towards the target, with sip.port)
 *   reports      "auto", "imdn", "text" or "none" (optional): the form of the
 *                delivery reports to MESSAGEs that come from this connector's
 *                target address and port, instead of sip.reports
 *                (docs/sip-sms-headers.md)
 *   reply        true instead of uri: the reply connector, which sends each
 *                delivery report to the SIP sender it answers (the address
 *                and From URI the original left in its tags).  One exists
 *                always, "sip:reply" (gateway/gw_connectors.c makes it);
 *                gateway/gw_report_sip.c plans the reports to it.
 *
 * The connector's state (sip_conn_t) is reference counted: conn_close drops
 * the adapter's reference while client transactions may still hold theirs.
 * c->priv is read and swapped under sip_conn_lock because send() runs on
 * any thread while conn_close runs on the main thread.
 *
 * Threads: conn_check / open / close / status on the main thread (MI under
 * gw_mi_lock); send on any thread; sip_conn_report_form on the SIP workers
 * (under sip_conn_lock, like send).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_adapter.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "sip.h"

/* guards gw_connector.priv of sip connectors, and orders send()'s push
 * before conn_close (see sip_conn_send) */
static pthread_mutex_t sip_conn_lock = PTHREAD_MUTEX_INITIALIZER;
/* the open connectors with a conf "reports", for sip_conn_report_form;
 * guarded by sip_conn_lock, each entry's reference is its gw_connector's */
static sip_conn_t *sip_conn_reporting;

/* Parse conf into a new uri; 0 or GW_EINVAL with a reason in err. */
static int sip_conn_parse(const json_t *conf, osip_uri_t **out, char *err, size_t errlen)
{
    const char *text = json_string_value(json_object_get(conf, "uri"));
    const json_t *tr = json_object_get(conf, "transport");
    const json_t *fd = json_object_get(conf, "from_domain");
    const json_t *reply = json_object_get(conf, "reply");
    osip_uri_t *uri = NULL;

    if (json_is_object(conf) && reply != NULL) {
        if (!json_is_true(reply) || text != NULL) {
            snprintf(err, errlen, "conf.reply: true, and no uri (a report names its own)");
            return GW_EINVAL;
        }
        *out = NULL;
        return 0;
    }
    if (!json_is_object(conf) || !text) {
        snprintf(err, errlen, "conf.uri (a sip: URI string) is required");
        return GW_EINVAL;
    }
    if (tr && (!json_is_string(tr) || strcasecmp(json_string_value(tr), "udp") != 0)) {
        snprintf(err, errlen, "conf.transport: only \"udp\" is supported");
        return GW_EINVAL;
    }
    if (fd && (!json_is_string(fd) || !json_string_value(fd)[0])) {
        snprintf(err, errlen, "conf.from_domain must be a non-empty string");
        return GW_EINVAL;
    }
    if (json_object_get(conf, "reports") != NULL &&
        sip_reports_form(json_string_value(json_object_get(conf, "reports"))) < 0) {
        snprintf(err, errlen, "conf.reports: one of \"auto\", \"imdn\", \"text\", \"none\"");
        return GW_EINVAL;
    }
    if (osip_uri_init(&uri) != 0)
        return GW_ENOMEM;
    if (osip_uri_parse(uri, text) != 0 || !uri->scheme || strcasecmp(uri->scheme, "sip") != 0 ||
        !uri->host || !uri->host[0]) {
        snprintf(err, errlen, "conf.uri '%s' is not a sip: URI with a host", text);
        osip_uri_free(uri);
        return GW_EINVAL;
    }
    if (uri->port && (atoi(uri->port) <= 0 || atoi(uri->port) > 65535)) {
        snprintf(err, errlen, "conf.uri '%s': bad port", text);
        osip_uri_free(uri);
        return GW_EINVAL;
    }
    *out = uri;
    return 0;
}

/* Validate a connector's conf before it is stored.  Main thread. */
int sip_conn_check(const json_t *conf, char *err, size_t errlen)
{
    osip_uri_t *uri = NULL;
    int rc = sip_conn_parse(conf, &uri, err, errlen);
    osip_uri_free(uri);
    return rc;
}

/* Resolve the target and our own address towards it (for Via / From). */
static int sip_conn_resolve(sip_conn_t *sc)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    sip_sa_t local;
    socklen_t llen = sizeof(local);
    const char *lip = sip_conf.listen;
    char host[SIP_ADDR_MAX];
    int fd;

    /* a family we have a socket of: any with sip.listen6, else sip.listen's */
    hints.ai_family = sip_conf.listen6[0] != '\0' ? AF_UNSPEC
                      : strchr(sip_conf.listen, ':') ? AF_INET6 : AF_INET;
    if (getaddrinfo(sc->uri->host, sc->uri->port ? sc->uri->port : "5060", &hints, &ai) != 0 ||
        !ai)
        return GW_EINVAL;
    memset(&sc->dest, 0, sizeof sc->dest);
    memcpy(&sc->dest, ai->ai_addr,
           ai->ai_addrlen < sizeof(sc->dest) ? ai->ai_addrlen : sizeof(sc->dest));
    freeaddrinfo(ai);
    if (sc->dest.sa.sa_family == AF_INET6 && !strchr(lip, ':'))
        lip = sip_conf.listen6;
    snprintf(sc->local_ip, sizeof(sc->local_ip), "%s", sip_host_of_ip(lip, host, sizeof host));
    if (strcmp(lip, "0.0.0.0") != 0 && strcmp(lip, "::") != 0)
        return 0;
    /* a wildcard listener: ask the routing table which address we use */
    fd = socket(sc->dest.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, &sc->dest.sa, sip_sa_len(&sc->dest)) == 0 &&
        getsockname(fd, &local.sa, &llen) == 0)
        sip_sa_host(&local, sc->local_ip, sizeof(sc->local_ip));
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Open: build the connector's state.  Main thread.  0 or GW_EINVAL. */
int sip_conn_open(gw_connector_t *c)
{
    char err[256];
    const char *fdom = json_string_value(json_object_get(c->conf, "from_domain"));
    sip_conn_t *sc = calloc(1, sizeof(*sc));
    int rc;

    if (!sc)
        return GW_ENOMEM;
    sc->refs = 1;
    rc = sip_conn_parse(c->conf, &sc->uri, err, sizeof(err));
    if (rc < 0) {
        GW_ERR(SIP_LOG, "connector %s: %s", c->name, err);
        goto out_free;
    }
    snprintf(sc->name, sizeof sc->name, "%s", c->name);
    sc->reply = sc->uri == NULL;
    sc->uri_text = strdup(sc->reply ? "(reply to sender)"
                                    : json_string_value(json_object_get(c->conf, "uri")));
    sc->from_domain = fdom ? strdup(fdom) : NULL;
    if (!sc->uri_text || (fdom && !sc->from_domain)) {
        rc = GW_ENOMEM;
        goto out_free;
    }
    if (sc->reply)
        sip_host_of_ip(sip_conf.listen, sc->local_ip, sizeof sc->local_ip);
    rc = sc->reply ? 0 : sip_conn_resolve(sc);
    if (rc < 0) {
        GW_ERR(SIP_LOG, "connector %s: cannot resolve %s", c->name, sc->uri->host);
        goto out_free;
    }
    sc->report_form = json_object_get(c->conf, "reports") != NULL
                          ? sip_reports_form(json_string_value(json_object_get(c->conf, "reports")))
                          : -1;
    pthread_mutex_lock(&sip_conn_lock);
    c->priv = sc;
    if (sc->report_form >= 0 && !sc->reply) {
        sc->next_reporting = sip_conn_reporting;
        sip_conn_reporting = sc;
    }
    pthread_mutex_unlock(&sip_conn_lock);
    GW_INFO(SIP_LOG, "connector %s ready: %s", c->name, sc->uri_text);
    return 0;

out_free:
    sip_conn_unref(sc);
    return rc;
}

/* Close: drop the adapter's reference.  In-flight transactions finish
 * with theirs.  Main thread. */
void sip_conn_close(gw_connector_t *c)
{
    sip_conn_t *sc;
    sip_conn_t **pp;

    pthread_mutex_lock(&sip_conn_lock);
    sc = c->priv;
    c->priv = NULL;
    for (pp = &sip_conn_reporting; *pp != NULL; pp = &(*pp)->next_reporting)
        if (*pp == sc) {
            *pp = sc->next_reporting;
            break;
        }
    pthread_mutex_unlock(&sip_conn_lock);
    sip_conn_unref(sc);
}

/* See sip.h.  Any thread (a worker reading a MESSAGE). */
int sip_conn_report_form(const sip_sa_t *src, char *name, size_t n)
{
    int form = -1;

    pthread_mutex_lock(&sip_conn_lock);
    for (const sip_conn_t *sc = sip_conn_reporting; sc != NULL; sc = sc->next_reporting)
        if (sip_sa_equal(&sc->dest, src)) {
            form = sc->report_form;
            snprintf(name, n, "%s", sc->name);
            break;
        }
    pthread_mutex_unlock(&sip_conn_lock);
    return form;
}

/* The connector's state with a new reference, or NULL when closed. */
static sip_conn_t *sip_conn_get(gw_connector_t *c)
{
    sip_conn_t *sc;
    pthread_mutex_lock(&sip_conn_lock);
    sc = c->priv ? sip_conn_ref(c->priv) : NULL;
    pthread_mutex_unlock(&sip_conn_lock);
    return sc;
}

/* Queue d to an active worker (round robin, sip_worker_push_any: never
 * one that is retiring).  Any thread.  On success the queued item owns d;
 * on failure d stays the caller's.  Returns 0, GW_ESTOPPED, GW_ENOTFOUND
 * (closed), GW_EFULL (too many
 * MESSAGEs in flight on this connector: the core offers it again shortly)
 * or GW_ENOMEM.
 *
 * The push happens under sip_conn_lock: conn_close clears priv under the
 * same lock, and the workers are only destroyed after every connector was
 * closed, so a send racing shutdown never reaches a freed worker. */
int sip_conn_send(gw_connector_t *c, gw_delivery_t *d)
{
    sip_item_t *it = calloc(1, sizeof(*it));
    sip_conn_t *sc;
    int rc = GW_ENOTFOUND;

    if (!it)
        return GW_ENOMEM;
    it->kind = SIP_ITEM_SEND;
    pthread_mutex_lock(&sip_conn_lock);
    sc = c->priv;
    if (__atomic_load_n(&sip_stopping, __ATOMIC_RELAXED) || sip_worker_count() == 0) {
        rc = GW_ESTOPPED;
    } else if (sc && __atomic_add_fetch(&sc->inflight, 1, __ATOMIC_RELAXED) >
                         SIP_CONN_MAX_INFLIGHT) {
        __atomic_sub_fetch(&sc->inflight, 1, __ATOMIC_RELAXED);
        rc = GW_EFULL;
    } else if (sc) {
        it->conn = sip_conn_ref(sc); /* sip_item_free / sip_ctxn_free end the count */
        it->dlv = d;
        rc = sip_worker_push_any(it); /* an active worker, round robin */
    }
    pthread_mutex_unlock(&sip_conn_lock);
    if (rc != 0) {
        it->dlv = NULL; /* stays the caller's */
        sip_item_free(it);
    }
    return rc;
}

int sip_conn_room(gw_connector_t *c)
{
    sip_conn_t *sc = sip_conn_get(c);
    int room = sc ? SIP_CONN_MAX_INFLIGHT : 0;

    sip_conn_unref(sc);
    return room;
}

/* {"state", "uri", "sent", "failed", "inflight"}: a new object.  Main thread. */
json_t *sip_conn_status(gw_connector_t *c)
{
    sip_conn_t *sc = sip_conn_get(c);
    json_t *o;

    if (!sc)
        return json_pack("{s:s}", "state", "closed");
    o = json_pack("{s:s, s:s, s:I, s:I, s:i}", "state", "ready", "uri", sc->uri_text, "sent",
                  (json_int_t)__atomic_load_n(&sc->sent, __ATOMIC_RELAXED), "failed",
                  (json_int_t)__atomic_load_n(&sc->failed, __ATOMIC_RELAXED), "inflight",
                  __atomic_load_n(&sc->inflight, __ATOMIC_RELAXED));
    sip_conn_unref(sc);
    return o;
}

/* New reference.  Any thread. */
sip_conn_t *sip_conn_ref(sip_conn_t *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

/* Drop a reference; frees on the last.  NULL is accepted.  Any thread. */
void sip_conn_unref(sip_conn_t *c)
{
    if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    osip_uri_free(c->uri);
    free(c->uri_text);
    free(c->from_domain);
    free(c);
}
