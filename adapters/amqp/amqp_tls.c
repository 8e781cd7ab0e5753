/*
 * amqp_tls.c - TLS towards the broker (amqps://): librabbitmq's OpenSSL
 * socket, its CA, client certificate and verification.
 *
 * A connector speaks TLS with "url": "amqps://..." or "tls": true
 * (docs/amqp.md, "TLS").  The broker's certificate is verified against
 * "tls_ca" (a PEM file; without it the system's CAs) and its name against
 * "host", unless "tls_verify" is false; "tls_cert" and "tls_key" give a
 * client certificate for brokers that ask for one (ssl_options.verify =
 * verify_peer).  TLS 1.2 at least.
 *
 * The files are checked when the connector is created (amqp_tls_check,
 * through amqp_settings_parse): each must be readable and of its kind,
 * and the key must match the certificate, so a typo is an MI error naming
 * the file instead of an outage.  They are read again at every connection
 * (librabbitmq loads them into the socket's own SSL_CTX), so a renewed
 * certificate is taken at the next reconnection.
 *
 * A handshake that fails (a wrong CA, a name that does not match, a
 * broker that refuses our certificate) is an ordinary connection failure
 * for amqp_conn.c: one WARN per outage, the reason in last_error.
 * amqp_tls_reason adds OpenSSL's own words to librabbitmq's status,
 * which alone says only "SSL handshake failed".
 *
 * Threads: amqp_tls_init on the main thread (the adapter's init);
 * amqp_tls_check on any thread (the MI's, at connector create);
 * amqp_tls_socket and amqp_tls_reason on the AMQP thread that owns the
 * connection (OpenSSL's error queue is per thread).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "gw_errors.h"
#include "amqp_link.h"

void amqp_tls_init(void)
{
    /* OpenSSL 1.1 and later initialise themselves (thread-safely); the
     * daemon's other TLS users (web UI, SMPP) share that state, so
     * librabbitmq must not set it up or tear it down on its own */
    amqp_set_initialize_ssl_library(0);
}

/* The oldest OpenSSL error of this thread as words (or "" when none);
 * clears the queue. */
static void amqp_tls_ossl(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();

    buf[0] = '\0';
    if (e != 0)
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

/* A file the connector names must be there and readable: 0, or GW_EINVAL
 * with err "<member> <path>: <errno words>". */
static int amqp_tls_readable(const char *member, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "%s %s: %s", member, path, strerror(errno));
        return GW_EINVAL;
    }
    fclose(f);
    return 0;
}

/* tls_key into ctx, whose certificate is tls_cert: a PEM key, not
 * encrypted (nobody is there to type a passphrase), that matches it.  0 or
 * GW_EINVAL with err. */
static int amqp_tls_key_check(SSL_CTX *ctx, const amqp_settings_t *set, char *err, size_t errlen)
{
    FILE *f = fopen(set->tls_key, "r");
    EVP_PKEY *key = NULL;
    char why[200];
    int rc = 0;

    if (f != NULL) {
        key = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
        fclose(f);
    }
    if (key == NULL) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "tls_key %s: not a PEM private key, or encrypted (%s)",
                 set->tls_key, why);
        rc = GW_EINVAL;
    } else if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "tls_key %s does not match tls_cert %s", set->tls_key,
                 set->tls_cert);
        rc = GW_EINVAL;
    }
    EVP_PKEY_free(key);
    return rc;
}

int amqp_tls_check(const amqp_settings_t *set, char *err, size_t errlen)
{
    char why[200];
    SSL_CTX *ctx;
    int rc = 0;

    if ((set->tls_cert[0] != '\0') != (set->tls_key[0] != '\0')) {
        snprintf(err, errlen, "tls_cert and tls_key go together (a client certificate and "
                 "its key)");
        return GW_EINVAL;
    }
    if (!set->tls && (set->tls_ca[0] || set->tls_cert[0])) {
        snprintf(err, errlen, "tls_ca, tls_cert and tls_key need TLS (\"tls\": true or an "
                 "amqps:// url)");
        return GW_EINVAL;
    }
    if (!set->tls)
        return 0;
    if (set->tls_ca[0] && (rc = amqp_tls_readable("tls_ca", set->tls_ca, err, errlen)) != 0)
        return rc;
    if (set->tls_cert[0] &&
        ((rc = amqp_tls_readable("tls_cert", set->tls_cert, err, errlen)) != 0 ||
         (rc = amqp_tls_readable("tls_key", set->tls_key, err, errlen)) != 0))
        return rc;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "TLS context: %s", why);
        return GW_ENOMEM;
    }
    if (set->tls_ca[0] && SSL_CTX_load_verify_locations(ctx, set->tls_ca, NULL) != 1) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "tls_ca %s: no PEM certificate in it (%s)", set->tls_ca, why);
        rc = GW_EINVAL;
    } else if (set->tls_cert[0] && SSL_CTX_use_certificate_chain_file(ctx, set->tls_cert) != 1) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "tls_cert %s: not a PEM certificate (%s)", set->tls_cert, why);
        rc = GW_EINVAL;
    } else if (set->tls_key[0]) {
        rc = amqp_tls_key_check(ctx, set, err, errlen);
    }
    SSL_CTX_free(ctx);
    return rc;
}

amqp_socket_t *amqp_tls_socket(amqp_connection_state_t conn, const amqp_settings_t *set,
                               char *err, size_t errlen)
{
    amqp_socket_t *sock = amqp_ssl_socket_new(conn);
    char why[200];

    ERR_clear_error();
    if (sock == NULL) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "cannot create a TLS socket%s%s", why[0] ? ": " : "", why);
        return NULL;
    }
    /* sock belongs to conn from here on: amqp_destroy_connection frees it */
    amqp_ssl_socket_set_verify_peer(sock, set->tls_verify);
    amqp_ssl_socket_set_verify_hostname(sock, set->tls_verify);
    if (amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "TLS: cannot require TLS 1.2 or later");
        return NULL;
    }
    if (set->tls_ca[0]) {
        if (amqp_ssl_socket_set_cacert(sock, set->tls_ca) != AMQP_STATUS_OK) {
            amqp_tls_ossl(why, sizeof why);
            snprintf(err, errlen, "tls_ca %s: cannot load it (%s)", set->tls_ca, why);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(amqp_ssl_socket_get_context(sock)) != 1) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "TLS: cannot load the system's CAs (%s)", why);
        return NULL;
    }
    if (set->tls_cert[0] &&
        amqp_ssl_socket_set_key(sock, set->tls_cert, set->tls_key) != AMQP_STATUS_OK) {
        amqp_tls_ossl(why, sizeof why);
        snprintf(err, errlen, "tls_cert %s / tls_key %s: cannot load them (%s)", set->tls_cert,
                 set->tls_key, why);
        return NULL;
    }
    return sock;
}

int amqp_tls_reason(char *err, size_t errlen)
{
    size_t len = strlen(err);
    char why[200];

    amqp_tls_ossl(why, sizeof why);
    if (why[0] == '\0' || len + 3 >= errlen)
        return 0;
    snprintf(err + len, errlen - len, " (%s)", why);
    return 1;
}
