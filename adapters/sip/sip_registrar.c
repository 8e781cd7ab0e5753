/*
 * sip_registrar.c - the registrar (RFC 3261 section 10.3, RFC 3327 Path).
 *
 * A REGISTER the transaction table let through (sip_uas.c) is checked in
 * the order of RFC 3261 10.3:
 *   1. the Request-URI's domain is one of sip.domains (empty: any), else
 *      403;
 *   2. Require names nothing but "path", else 420 with Unsupported;
 *   3. the sender may register: a source in a trusted network
 *      (gateway/gw_trusted.h); another one, with sip.auth on, with its
 *      digest credentials for its own address of record (401 with
 *      WWW-Authenticate, sip_auth.c; 403 when its digest user is not the
 *      To user), else 403;
 *   4. the To URI is the address of record ("sip:user@host", the host in
 *      lower case, no port or parameters), with a user and, when
 *      sip.domains is set, a local host, else 404;
 *   5. every Contact's expiry: its expires parameter, else the Expires
 *      header, else sip.default_expires; above sip.max_expires it is
 *      lowered; a non-zero one under sip.min_expires is 423 with
 *      Min-Expires; "*" only alone and with Expires: 0, else 400;
 *   6. the bindings change under the address of record's lock
 *      (sip_location.c): each Contact is added, refreshed or, with expiry
 *      0, removed; "*" removes them all; a binding whose Call-ID is the
 *      request's and whose CSeq is not lower is left alone and the request
 *      fails (500, "Out of order"), as 10.3 step 7 says; more than
 *      sip.max_contacts live bindings is 403;
 *   7. 200 with every live binding as a Contact with its expires (and q),
 *      a Date, and the Path when the UA said Supported: path - sent only
 *      after the change committed (the store keeps it across a restart);
 *      a query (no Contact) is answered at once.
 * Each binding keeps the source the REGISTER came from ("udp:ip:port"),
 * which is where a request for it goes when the phone is behind a NAT.
 *
 * Threads: sip_reg_request and the answer on the worker that read the
 * REGISTER; the commit callback on the store's writer thread (it only
 * queues the answer back); the sweep timer and the MI on the main thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <event2/event.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_str.h"
#include "gw_trace.h"
#include "gw_trusted.h"
#include "sip.h"

#define SIP_REG_SWEEP_MS 1000

/* One Contact of the request, as read. */
typedef struct sip_reg_contact {
    char uri[256];
    int expires; /* seconds, already within the bounds */
    int q;       /* per mille, -1: none */
    char instance[128];
    int reg_id;
} sip_reg_contact_t;

/* What a REGISTER asks, read before the lock; then its answer. */
typedef struct sip_reg {
    sip_worker_t *w;
    osip_message_t *req;
    sip_peer_t src;
    char key[1024];
    char to_tag[17];
    char aor[SIP_AOR_MAX];
    int star;
    int nc;
    sip_reg_contact_t c[SIP_LOC_CONTACTS_MAX];
    char call_id[128];
    uint32_t cseq;
    char source[96];
    char path[512];
    char ua[128];
    int supported_path;
    int64_t now;
    const char *refusal; /* the reason of a status fn returned */
    sip_binding_t out[SIP_LOC_CONTACTS_MAX];
    int nout;
    int rc;              /* the store's word */
} sip_reg_t;

static struct event *sip_reg_sweep_ev;
static gw_stat_t *sip_reg_st_ok, *sip_reg_st_refused;

/* The registrar's decision on the trace bus. */
static void sip_reg_trace(const sip_reg_t *g, int status, const char *what)
{
    char peer[SIP_ADDR_MAX];

    if (!gw_trace_on())
        return;
    gw_trace_logf(SIP_LOG, sip_sa_str(&g->src.addr, peer, sizeof peer), g->call_id,
                  "REGISTER %s -> %d %s", g->aor[0] ? g->aor : "-", status, what);
}

/* 1 when host (its length n) is one of sip.domains, or that list is
 * empty. */
int sip_reg_is_local(const char *host)
{
    char list[sizeof sip_conf.domains], *save = NULL, *d;
    int any = 1, hit = 0;

    gw_strlcpy(list, sip_conf.domains, sizeof list);
    for (d = strtok_r(list, ", ", &save); d != NULL && !hit; d = strtok_r(NULL, ", ", &save)) {
        any = 0;
        hit = host != NULL && strcasecmp(d, host) == 0;
    }
    return any || hit;
}

/* The option tags of every header named name: 1 at the first one that is
 * tag (other = 0) or that is not (other = 1), copied into found (n bytes,
 * may be NULL); 0 when there is none. */
static int sip_reg_tag(const osip_message_t *req, const char *name, const char *tag, int other,
                       char *found, size_t n)
{
    osip_header_t *h = NULL;

    for (int pos = 0; (pos = osip_message_header_get_byname(req, name, pos, &h)) >= 0; pos++) {
        char v[256], *save = NULL, *t;
        gw_strlcpy(v, h->hvalue ? h->hvalue : "", sizeof v);
        for (t = strtok_r(v, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save))
            if ((strcasecmp(t, tag) != 0) == other) {
                if (found != NULL)
                    gw_strlcpy(found, t, n);
                return 1;
            }
    }
    return 0;
}

/* Every header named name joined by ", " into out. */
static void sip_reg_join(const osip_message_t *req, const char *name, char *out, size_t n)
{
    osip_header_t *h = NULL;
    size_t off = 0;

    out[0] = '\0';
    for (int pos = 0; (pos = osip_message_header_get_byname(req, name, pos, &h)) >= 0; pos++)
        if (h->hvalue && off < n)
            off += (size_t)snprintf(out + off, n - off, "%s%s", off ? ", " : "", h->hvalue);
}

/* A q value "0.5" / "1" / "0.125" in per mille; -1 when absent, -2 when
 * malformed. */
static int sip_reg_q(const char *v)
{
    int whole, frac = 0, digits = 0;

    if (v == NULL)
        return -1;
    if (*v != '0' && *v != '1')
        return -2;
    whole = *v++ - '0';
    if (*v == '.')
        for (v++; isdigit((unsigned char)*v) && digits < 3; v++, digits++)
            frac = frac * 10 + (*v - '0');
    for (; digits < 3; digits++)
        frac *= 10;
    if (*v != '\0' || whole * 1000 + frac > 1000)
        return -2;
    return whole * 1000 + frac;
}

/* A parameter's value of a contact (NULL when absent; "" when bare). */
static const char *sip_reg_param(osip_contact_t *c, const char *name)
{
    osip_generic_param_t *p = NULL;
    osip_contact_param_get_byname(c, (char *)name, &p);
    return p == NULL ? NULL : p->gvalue ? p->gvalue : "";
}

/* Read the request into g (the address of record, its contacts and their
 * expiry).  0, or a status with *reason. */
static int sip_reg_read(sip_reg_t *g, const char **reason)
{
    osip_message_t *req = g->req;
    osip_uri_t *to = req->to ? req->to->url : NULL;
    osip_header_t *eh = NULL;
    osip_contact_t *c;
    int hdr_expires = -1;
    char *s = NULL;

    if (to == NULL || to->host == NULL || to->username == NULL || to->username[0] == '\0') {
        *reason = "Not Found"; /* no address of record in To */
        return 404;
    }
    if (!sip_reg_is_local(to->host)) {
        *reason = "Not Found";
        return 404;
    }
    if (sip_aor_make(to->scheme, to->username, to->host, g->aor, sizeof g->aor) != 0) {
        *reason = "Not Found"; /* too long to be one we keep */
        return 404;
    }
    if (osip_message_get_expires(req, 0, &eh) >= 0 && eh != NULL && eh->hvalue != NULL) {
        char *end;
        long v = strtol(eh->hvalue, &end, 10);
        if (end == eh->hvalue || *end != '\0' || v < 0) {
            *reason = "Bad Expires";
            return 400;
        }
        hdr_expires = v > 0x7fffffff ? 0x7fffffff : (int)v;
    }
    for (int i = 0; (c = osip_list_get(&req->contacts, i)) != NULL; i++) {
        sip_reg_contact_t *rc;
        const char *ex, *q, *inst, *rid;
        long e;
        if (c->displayname != NULL && strcmp(c->displayname, "*") == 0 && c->url == NULL) {
            g->star = 1;
            continue;
        }
        if (c->url == NULL || g->nc == SIP_LOC_CONTACTS_MAX) {
            *reason = c->url == NULL ? "Bad Contact" : "Too Many Contacts";
            return c->url == NULL ? 400 : 403;
        }
        rc = &g->c[g->nc];
        memset(rc, 0, sizeof *rc);
        if (osip_uri_to_str(c->url, &s) != 0 || strlen(s) >= sizeof rc->uri) {
            osip_free(s);
            *reason = "Contact Too Long";
            return 400;
        }
        gw_strlcpy(rc->uri, s, sizeof rc->uri);
        osip_free(s);
        s = NULL;
        ex = sip_reg_param(c, "expires");
        e = ex != NULL ? strtol(ex, NULL, 10) : hdr_expires >= 0 ? hdr_expires
                                                                 : sip_conf.default_expires;
        if (e < 0 || (ex != NULL && !isdigit((unsigned char)ex[0]))) {
            *reason = "Bad Expires";
            return 400;
        }
        if (e > 0 && e < sip_conf.min_expires) {
            *reason = "Interval Too Brief";
            return 423;
        }
        rc->expires = e > sip_conf.max_expires ? sip_conf.max_expires : (int)e;
        q = sip_reg_param(c, "q");
        if ((rc->q = sip_reg_q(q)) == -2) {
            *reason = "Bad q";
            return 400;
        }
        if ((inst = sip_reg_param(c, "+sip.instance")) != NULL)
            gw_strlcpy(rc->instance, inst, sizeof rc->instance);
        if ((rid = sip_reg_param(c, "reg-id")) != NULL)
            rc->reg_id = atoi(rid);
        g->nc++;
    }
    if (g->star && (g->nc > 0 || hdr_expires != 0)) {
        *reason = "Wildcard Contact Needs Expires 0 Alone";
        return 400;
    }
    if (req->call_id != NULL) {
        if (osip_call_id_to_str(req->call_id, &s) == 0)
            gw_strlcpy(g->call_id, s, sizeof g->call_id);
        osip_free(s);
    }
    g->cseq = req->cseq && req->cseq->number ? (uint32_t)strtoul(req->cseq->number, NULL, 10) : 0;
    sip_reg_join(req, "path", g->path, sizeof g->path);
    sip_reg_join(req, "user-agent", g->ua, sizeof g->ua);
    g->supported_path = sip_reg_tag(req, "supported", "path", 0, NULL, 0) ||
                        sip_reg_tag(req, "k", "path", 0, NULL, 0);
    return 0;
}

/* The new bindings of g's address of record (sip_loc_fn).  Under its lock. */
static int sip_reg_apply(void *arg, const sip_binding_t *cur, int ncur, sip_binding_t *out,
                         int *nout, int max)
{
    sip_reg_t *g = arg;
    int n = 0, cap = sip_conf.max_contacts < max ? sip_conf.max_contacts : max;

    for (int i = 0; i < ncur && n < max; i++)
        if (cur[i].expires_ms > g->now)
            out[n++] = cur[i];
    *nout = n;
    if (g->nc == 0 && !g->star)
        return 200; /* a query: the live bindings, nothing changes */
    for (int i = 0; i < n; i++) /* 10.3 step 7: an old or repeated request changes nothing */
        for (int k = 0; k < (g->star ? 1 : g->nc); k++)
            if ((g->star || strcasecmp(out[i].contact, g->c[k].uri) == 0) &&
                strcmp(out[i].call_id, g->call_id) == 0 && g->cseq <= out[i].cseq) {
                g->refusal = "Out of Order CSeq";
                return 500;
            }
    if (g->star) {
        *nout = 0;
        return 0;
    }
    for (int k = 0; k < g->nc; k++) {
        const sip_reg_contact_t *c = &g->c[k];
        int at = -1;
        for (int i = 0; i < n && at < 0; i++)
            if (strcasecmp(out[i].contact, c->uri) == 0)
                at = i;
        if (c->expires == 0) {
            if (at >= 0)
                out[at] = out[--n];
            continue;
        }
        if (at < 0) {
            if (n >= cap) {
                g->refusal = "Too Many Contacts";
                return 403;
            }
            at = n++;
            memset(&out[at], 0, sizeof out[at]);
            gw_strlcpy(out[at].contact, c->uri, sizeof out[at].contact);
        }
        out[at].expires_ms = g->now + (int64_t)c->expires * 1000;
        out[at].q = c->q;
        gw_strlcpy(out[at].call_id, g->call_id, sizeof out[at].call_id);
        out[at].cseq = g->cseq;
        gw_strlcpy(out[at].source, g->source, sizeof out[at].source);
        gw_strlcpy(out[at].path, g->path, sizeof out[at].path);
        gw_strlcpy(out[at].user_agent, g->ua, sizeof out[at].user_agent);
        gw_strlcpy(out[at].instance, c->instance, sizeof out[at].instance);
        out[at].reg_id = c->reg_id;
        out[at].updated_ms = g->now;
        /* nathelper's test, at each REGISTER: where it came from vs the
         * contact it wrote (sip_natping.c); a refresh proves it alive */
        out[at].nat = __atomic_load_n(&sip_conf.nat_detect, __ATOMIC_RELAXED) &&
                      sip_nat_detect(c->uri, g->source);
        out[at].ping_fails = 0;
    }
    *nout = n;
    return 0;
}

/* The 200's header lines: a Contact for every live binding, Date, Path. */
static void sip_reg_ok_headers(const sip_reg_t *g, gw_jbuf_t *b)
{
    char date[64];
    time_t t = (time_t)(g->now / 1000);
    struct tm tm;

    for (int i = 0; i < g->nout; i++) {
        int64_t left = (g->out[i].expires_ms - g->now + 999) / 1000;
        sip_jbuf_printf(b, "Contact: <%s>;expires=%lld", g->out[i].contact,
                        (long long)(left > 0 ? left : 0));
        if (g->out[i].q >= 0)
            sip_jbuf_printf(b, ";q=%d.%03d", g->out[i].q / 1000, g->out[i].q % 1000);
        gw_jbuf_put(b, "\r\n", 2);
    }
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    sip_jbuf_printf(b, "Date: %s\r\n", date);
    if (g->supported_path && g->path[0])
        sip_jbuf_printf(b, "Path: %s\r\n", g->path);
}

/* Send g's answer: 200 with its bindings, or 500 when the store failed. */
static void sip_reg_answer(sip_reg_t *g)
{
    char scratch[4096];
    gw_jbuf_t b = GW_JBUF_IN(scratch);

    if (g->rc != 0) {
        gw_stat_add(sip_reg_st_refused, 1);
        if (gw_trace_on())
            sip_reg_trace(g, 500, "not stored");
        sip_uas_answer(g->w, g->req, &g->src, g->key, g->to_tag, 500, "Server Internal Error",
                       NULL);
        return;
    }
    sip_reg_ok_headers(g, &b);
    gw_stat_add(sip_reg_st_ok, 1);
    if (gw_trace_on()) {
        char what[64];
        snprintf(what, sizeof what, "OK, %d binding(s)", g->nout);
        sip_reg_trace(g, 200, what);
    }
    sip_uas_answer(g->w, g->req, &g->src, g->key, g->to_tag, 200, "OK", b.oom ? NULL : b.p);
    gw_jbuf_free(&b);
}

static void sip_reg_free(void *arg)
{
    sip_reg_t *g = arg;
    if (g == NULL)
        return;
    osip_message_free(g->req);
    free(g);
}

/* The committed REGISTER back on its worker. */
static void sip_reg_on_item(sip_worker_t *w, sip_item_t *it)
{
    sip_reg_t *g = it->arg;
    (void)w;
    sip_reg_answer(g);
    sip_worker_pending(g->w, -1);
}

/* Store outcome (writer thread): only queue the answer to the worker. */
static void sip_reg_committed(void *arg, int rc)
{
    sip_reg_t *g = arg;
    sip_item_t *it = calloc(1, sizeof *it);

    g->rc = rc;
    if (it == NULL) {
        GW_ERR(SIP_LOG, "REGISTER %s: no memory for its answer; the phone will retransmit",
               g->aor);
        sip_worker_pending(g->w, -1);
        sip_reg_free(g);
        return;
    }
    it->kind = SIP_ITEM_CALL;
    it->fn = sip_reg_on_item;
    it->arg = g;
    it->arg_free = sip_reg_free;
    if (sip_worker_push(g->w, it) != 0) {
        GW_ERR(SIP_LOG, "worker queue refused a REGISTER answer; the phone will retransmit");
        sip_worker_pending(g->w, -1);
        sip_item_free(it);
    }
}

/* An untrusted source's REGISTER with sip.auth on: its digest
 * credentials (401 / WWW-Authenticate: a registrar is a UAS, RFC 3261
 * 22.2), and the user may register only its own address of record (its
 * digest username is the To user).  0, or the status to answer with
 * *reason and the challenge lines in *extra (malloc'd). */
static int sip_reg_authenticate(sip_reg_t *g, const char *buf, size_t n, const char **reason,
                                char **extra)
{
    sip_auth_result_t res;
    const osip_uri_t *to = g->req->to ? g->req->to->url : NULL;

    memset(&res, 0, sizeof res);
    sip_auth_check(buf, n, "REGISTER", SIP_AUTH_UAS, &res);
    if (gw_trace_on() && res.status != 0) {
        char why[200];
        snprintf(why, sizeof why, "%s%s (%s)", res.reason, res.stale ? " stale=true" : "", res.why);
        sip_reg_trace(g, res.status, why);
    }
    if (res.status != 0) {
        *reason = res.reason;
        *extra = res.extra;
        return res.status;
    }
    free(res.extra);
    if (to == NULL || to->username == NULL || strcmp(to->username, res.user) != 0) {
        *reason = "Forbidden";
        if (gw_trace_on())
            sip_reg_trace(g, 403, "digest user is not the To user");
        return 403;
    }
    return 0;
}

void sip_reg_request(sip_worker_t *w, osip_message_t *req, const sip_peer_t *src,
                     const char *txn_key, const char *to_tag, const char *buf, size_t n)
{
    char *challenge = NULL;
    sip_reg_t *g = calloc(1, sizeof *g);
    const char *reason = NULL;
    char ip[INET6_ADDRSTRLEN], bad[64], extra[160], tname[64];
    osip_uri_t *ruri = req->req_uri;
    int st = 0, trusted;

    if (g == NULL) {
        sip_uas_answer(w, req, src, txn_key, to_tag, 500, "Server Internal Error", NULL);
        osip_message_free(req);
        return;
    }
    g->w = w;
    g->req = req;
    g->src = *src;
    gw_strlcpy(g->key, txn_key, sizeof g->key);
    gw_strlcpy(g->to_tag, to_tag, sizeof g->to_tag);
    g->now = gw_now_ms();
    sip_sa_ip(&src->addr, ip, sizeof ip);
    sip_source_format(src->proto, &src->addr, g->source, sizeof g->source);
    extra[0] = '\0';
    trusted = gw_trusted_find(ip, tname, sizeof tname);
    if (ruri == NULL || ruri->host == NULL || !sip_reg_is_local(ruri->host)) {
        st = 403;
        reason = "Not A Local Domain";
    } else if (sip_reg_tag(req, "require", "path", 1, bad, sizeof bad)) { /* only path known */
        st = 420;
        reason = "Bad Extension";
        snprintf(extra, sizeof extra, "Unsupported: %s\r\n", bad);
    } else if (!trusted && !__atomic_load_n(&sip_conf.auth, __ATOMIC_RELAXED)) {
        st = 403;
        reason = "Forbidden";
    } else if (!trusted && (st = sip_reg_authenticate(g, buf, n, &reason, &challenge)) != 0) {
        ; /* 401 with its challenge, 403, 400 */
    } else if ((st = sip_reg_read(g, &reason)) == 423) {
        snprintf(extra, sizeof extra, "Min-Expires: %d\r\n", sip_conf.min_expires);
    }
    if (st == 0) {
        st = sip_loc_update(g->aor, sip_reg_apply, g, g->out, &g->nout, sip_reg_committed, g);
        if (st == 0) { /* the answer comes after the commit */
            sip_worker_pending(w, 1);
            return;
        }
        if (st == 200) {
            sip_reg_answer(g);
            sip_reg_free(g);
            return;
        }
        reason = st > 0 ? g->refusal : NULL;
        if (st == -GW_EFULL || st == -GW_ESTOPPED) {
            st = 503;
            reason = "Service Unavailable";
            gw_strlcpy(extra, "Retry-After: 1\r\n", sizeof extra);
        } else if (st < 0) {
            st = 500;
            reason = "Server Internal Error";
        }
    }
    gw_stat_add(sip_reg_st_refused, 1);
    if (gw_trace_on())
        sip_reg_trace(g, st, reason ? reason : "");
    sip_uas_answer(w, req, src, txn_key, to_tag, st, reason ? reason : "Bad Request",
                   challenge != NULL ? challenge : extra[0] ? extra : NULL);
    free(challenge);
    sip_reg_free(g);
}

static void sip_reg_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sip_loc_sweep();
}

int sip_reg_init(struct event_base *main_base)
{
    struct timeval tv = { SIP_REG_SWEEP_MS / 1000, (SIP_REG_SWEEP_MS % 1000) * 1000 };

    sip_reg_st_ok = gw_stat("sip.registrar_ok", "REGISTER answered 200 (stored, or a query)");
    sip_reg_st_refused = gw_stat("sip.registrar_refused",
                                 "REGISTER refused (403, 404, 420, 423, 400, 500, 503)");
    if (sip_loc_init() != 0)
        return GW_ESTORE;
    sip_reg_sweep_ev = event_new(main_base, -1, EV_PERSIST, sip_reg_on_sweep, NULL);
    if (sip_reg_sweep_ev == NULL || event_add(sip_reg_sweep_ev, &tv) != 0)
        return GW_ENOMEM;
    return 0;
}

void sip_reg_stop(void)
{
    if (sip_reg_sweep_ev != NULL)
        event_free(sip_reg_sweep_ev);
    sip_reg_sweep_ev = NULL;
}

/* MI sip.registrations.list {aor?, limit?}.  Main thread. */
void sip_reg_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    const char *aor = json_string_value(json_object_get(params, "aor"));
    json_t *lim = json_object_get(params, "limit");
    int limit = json_is_integer(lim) ? (int)json_integer_value(lim) : 1000;

    if (limit < 1 || limit > 100000) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "limit: 1 to 100000");
        return;
    }
    gw_mi_result(r, sip_loc_list(aor, limit));
}

/* MI sip.registrations.delete {aor, contact?}.  Main thread. */
void sip_reg_mi_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *aor = json_string_value(json_object_get(params, "aor"));
    const char *contact = json_string_value(json_object_get(params, "contact"));

    if (aor == NULL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "aor: the address of record, e.g. sip:alice@example.com");
        return;
    }
    if (!sip_loc_delete(aor, contact)) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "%s%s%s: no such binding", aor, contact ? " " : "",
                    contact ? contact : "");
        return;
    }
    gw_mi_result(r, json_pack("{s:s, s:s*}", "deleted", aor, "contact", contact));
}
