/*
 * sip_tls.c - SIP over TLS: the OpenSSL contexts and the bufferevents of
 * TLS connections (libevent's OpenSSL bufferevents).
 *
 * A TLS connection is a TCP connection of sip_tcp.c's table with proto
 * SIP_PROTO_TLS: the same listener logic (on sip.tls_port, beside each
 * address of sip.listen / sip.listen6), the same limits, the same framing
 * and handoffs between workers; only its bufferevent is made here.  The
 * server context takes sip.tls_cert and sip.tls_key (PEM; `make run`
 * makes a self-signed pair under var/sip-tls on its first run).  Outgoing
 * TLS (a `sips:` target or `;transport=tls`) verifies the peer against
 * sip.tls_ca (else the system's CAs) and, for an IP literal target, its
 * address in the certificate, unless sip.tls_verify is no.  TLS 1.2 at
 * least.
 *
 * Threads: the contexts are made and freed on the main thread (adapter
 * init / destroy) and only read after; SSL objects live on the worker
 * that owns their connection.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "sip.h"

static SSL_CTX *sip_tls_server;
static SSL_CTX *sip_tls_client;

/* Log the last OpenSSL error with what failed. */
static void sip_tls_log_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160];

    ERR_error_string_n(e, buf, sizeof buf);
    GW_ERR(SIP_LOG, "tls %s: %s", what, e ? buf : "unknown error");
    ERR_clear_error();
}

/* See sip.h.  Main thread. */
int sip_tls_init(void)
{
    int rc = GW_ERROR;

    sip_tls_client = SSL_CTX_new(TLS_client_method());
    if (!sip_tls_client) {
        sip_tls_log_error("client context");
        goto out_free;
    }
    SSL_CTX_set_min_proto_version(sip_tls_client, TLS1_2_VERSION);
    if (sip_conf.tls_verify) {
        SSL_CTX_set_verify(sip_tls_client, SSL_VERIFY_PEER, NULL);
        if ((sip_conf.tls_ca[0] ? SSL_CTX_load_verify_locations(sip_tls_client, sip_conf.tls_ca, NULL)
                                : SSL_CTX_set_default_verify_paths(sip_tls_client)) != 1) {
            sip_tls_log_error(sip_conf.tls_ca[0] ? sip_conf.tls_ca : "system CAs");
            goto out_free;
        }
    }
    if (sip_conf.tls_port == 0)
        return 0;
    if (!sip_conf.tls_cert[0] || !sip_conf.tls_key[0]) {
        GW_ERR(SIP_LOG, "sip.tls_port needs sip.tls_cert and sip.tls_key");
        goto out_free;
    }
    sip_tls_server = SSL_CTX_new(TLS_server_method());
    if (!sip_tls_server) {
        sip_tls_log_error("server context");
        goto out_free;
    }
    SSL_CTX_set_min_proto_version(sip_tls_server, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(sip_tls_server, sip_conf.tls_cert) != 1) {
        sip_tls_log_error(sip_conf.tls_cert);
        goto out_free;
    }
    if (SSL_CTX_use_PrivateKey_file(sip_tls_server, sip_conf.tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(sip_tls_server) != 1) {
        sip_tls_log_error(sip_conf.tls_key);
        goto out_free;
    }
    rc = 0;
    return rc;
out_free:
    sip_tls_free();
    return rc;
}

/* See sip.h.  Main thread, after the workers were freed. */
void sip_tls_free(void)
{
    SSL_CTX_free(sip_tls_server);
    SSL_CTX_free(sip_tls_client);
    sip_tls_server = sip_tls_client = NULL;
}

/* See sip.h.  The owner's thread. */
struct bufferevent *sip_tls_bev(struct event_base *base, int fd, int outgoing,
                                const sip_sa_t *remote)
{
    SSL_CTX *ctx = outgoing ? sip_tls_client : sip_tls_server;
    struct bufferevent *bev;
    SSL *ssl;

    if (!ctx || !(ssl = SSL_new(ctx)))
        return NULL;
    if (outgoing && sip_conf.tls_verify) {
        /* an IP literal target: its address must be in the certificate */
        char ip[SIP_ADDR_MAX];
        X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(p, sip_sa_ip(remote, ip, sizeof ip)) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    bev = bufferevent_openssl_socket_new(base, fd, ssl,
                                         outgoing ? BUFFEREVENT_SSL_CONNECTING
                                                  : BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    /* on failure libevent may have freed ssl already: it is not freed
     * here (a leak on out-of-memory rather than a double free) */
    return bev; /* frees ssl and closes fd when freed */
}

/* See sip.h. */
int sip_tls_listening(void) { return sip_tls_server != NULL; }
