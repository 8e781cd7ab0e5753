/*
 * smpp_tls.c - TLS for SMPP sessions (OpenSSL, through libevent's OpenSSL
 * bufferevents in smpp_session.c).
 *
 * Our SMSC port has a TLS twin (smpp.tls_port, with smpp.tls_cert and
 * smpp.tls_key: PEM files); a client connector speaks TLS with conf
 * "tls": true, verifying the SMSC's certificate and name (conf "host", or
 * "tls_server_name") against the system's CAs or conf "tls_ca" unless
 * "tls_verify" is false.  TLS 1.2 at least.
 *
 * Threads: contexts are made on the main thread (server, at init) or the
 * SMPP thread (clients, at connect); SSL objects live on the SMPP thread.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "smpp.h"

/* The last OpenSSL error as text into err. */
static void smpp_tls_error(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160];

    ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s: %s", what, e ? buf : "unknown error");
    ERR_clear_error();
}

void *smpp_tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        smpp_tls_error(err, errlen, "TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        smpp_tls_error(err, errlen, cert);
        goto out_free;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        smpp_tls_error(err, errlen, key);
        goto out_free;
    }
    return ctx;
out_free:
    SSL_CTX_free(ctx);
    return NULL;
}

void *smpp_tls_client_ctx(int verify, const char *ca, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        smpp_tls_error(err, errlen, "TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((ca != NULL && ca[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                                         : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            smpp_tls_error(err, errlen, ca != NULL && ca[0] ? ca : "system CAs");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

void smpp_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

void *smpp_tls_ssl(void *ctx, const char *server_name, int verify)
{
    SSL *ssl = SSL_new(ctx);

    if (ssl == NULL)
        return NULL;
    if (server_name != NULL && server_name[0] != '\0') {
        SSL_set_tlsext_host_name(ssl, server_name); /* SNI */
        if (verify && SSL_set1_host(ssl, server_name) != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}
