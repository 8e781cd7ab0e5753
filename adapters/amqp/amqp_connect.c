/*
 * amqp_connect.c - opening one connection to an AMQP connector's broker,
 * for the link thread (amqp_conn.c) and the consumer (amqp_in.c) alike.
 *
 * amqp_link_connect: a TCP socket, or a TLS one (amqp_tls.c), opened
 * with amqp.connect_timeout_ms; the handshake and every RPC bounded by
 * the same timeout (a broker that accepts and never answers is given up
 * after it); a login with client properties that advertise the
 * capability connection.blocked; channel 1 in confirm mode.  Every
 * failure comes back as words for the WARN and last_error: the broker's
 * reply code and text (403 ACCESS_REFUSED with the user named, 530
 * NOT_ALLOWED for a vhost it lacks), a timeout with its length,
 * OpenSSL's reason for a failed handshake.  Data the broker's host does
 * not acknowledge for AMQP_TCP_USER_TIMEOUT_MS ends the connection
 * (TCP_USER_TIMEOUT), so no write waits forever.  amqp_reply_error words any
 * failed RPC reply the same way.
 *
 * Threads: the AMQP thread (link or consumer) that will own the
 * connection; sockfd is published under the caller's lock so that a
 * closing thread can shutdown() a blocked call.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include "amqp_link.h"

void amqp_reply_error(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
{
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        snprintf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
    } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
               r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        snprintf(err, errlen, "%s: connection closed by broker: %u %.*s", what, m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
               r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        snprintf(err, errlen, "%s: channel closed by broker: %u %.*s", what, m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else {
        snprintf(err, errlen, "%s: unexpected reply", what);
    }
}

/* Login with client properties that advertise the capability
 * connection.blocked: librabbitmq 0.11 advertises only
 * authentication_failure_close and exchange_exchange_bindings (it merges
 * ours into those), and a broker sends connection.blocked / unblocked
 * only to clients that ask for them. */
static amqp_rpc_reply_t amqp_link_login(amqp_connection_state_t conn, const amqp_settings_t *set)
{
    amqp_table_entry_t caps[1], props[2];
    amqp_table_t caps_t, props_t;

    caps[0].key = amqp_cstring_bytes("connection.blocked");
    caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[0].value.value.boolean = 1;
    caps_t.num_entries = 1;
    caps_t.entries = caps;
    props[0].key = amqp_cstring_bytes("product");
    props[0].value.kind = AMQP_FIELD_KIND_UTF8;
    props[0].value.value.bytes = amqp_cstring_bytes("junction");
    props[1].key = amqp_cstring_bytes("capabilities");
    props[1].value.kind = AMQP_FIELD_KIND_TABLE;
    props[1].value.value.table = caps_t;
    props_t.num_entries = 2;
    props_t.entries = props;
    return amqp_login_with_properties(conn, set->vhost, set->channel_max,
                                      AMQP_DEFAULT_FRAME_SIZE, set->heartbeat, &props_t,
                                      AMQP_SASL_METHOD_PLAIN, set->user, set->password);
}

/* Words for a failed socket open into err. */
static void amqp_link_open_error(const amqp_settings_t *set, int rc, char *err, size_t errlen)
{
    /* librabbitmq folds a failed non-blocking connect into one status
     * and leaves errno at EINPROGRESS; say what it usually means */
    if (rc == AMQP_STATUS_SOCKET_ERROR && errno != 0 && errno != EINPROGRESS)
        snprintf(err, errlen, "connect: %s", strerror(errno));
    else if (rc == AMQP_STATUS_SOCKET_ERROR)
        snprintf(err, errlen, "connect: connection refused or host unreachable");
    else if (rc == AMQP_STATUS_TIMEOUT)
        snprintf(err, errlen, "connect: no answer within amqp.connect_timeout_ms (%d ms)%s",
                 __atomic_load_n(&amqp_param_connect_timeout_ms, __ATOMIC_RELAXED),
                 set->tls ? " (TCP or the TLS handshake)" : "");
    else if (set->tls)
        snprintf(err, errlen, "TLS handshake: %s", amqp_error_string2(rc));
    else
        snprintf(err, errlen, "connect: %s", amqp_error_string2(rc));
    if (set->tls)
        amqp_tls_reason(err, errlen);
}

int amqp_link_connect(const amqp_settings_t *set, int *sockfd, pthread_mutex_t *lock,
                      amqp_connection_state_t *out, char *err, size_t errlen)
{
    int tmo = __atomic_load_n(&amqp_param_connect_timeout_ms, __ATOMIC_RELAXED);
    struct timeval tv = { tmo / 1000, (tmo % 1000) * 1000 };
    amqp_connection_state_t conn;
    amqp_socket_t *sock;
    amqp_rpc_reply_t r;
    int rc;

    *out = conn = amqp_new_connection();
    if (conn == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sock = set->tls ? amqp_tls_socket(conn, set, err, errlen) : amqp_tcp_socket_new(conn);
    if (sock == NULL) {
        if (!set->tls)
            snprintf(err, errlen, "cannot create a socket");
        goto out_close;
    }
    errno = 0;
    rc = amqp_socket_open_noblock(sock, set->host, set->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        amqp_link_open_error(set, rc, err, errlen);
        goto out_close;
    }
    pthread_mutex_lock(lock);
    *sockfd = amqp_get_sockfd(conn);
    pthread_mutex_unlock(lock);
    /* librabbitmq waits without end for room to write a publish: a broker
     * whose host stops acknowledging (a partition, a host gone without a
     * reset) would hold the thread until TCP gives up after many minutes.
     * Past AMQP_TCP_USER_TIMEOUT_MS of unacknowledged data the kernel
     * drops the connection and the write fails (best effort: no error if
     * the kernel lacks it) */
    (void)setsockopt(amqp_get_sockfd(conn), IPPROTO_TCP, TCP_USER_TIMEOUT,
                     &(unsigned int){ AMQP_TCP_USER_TIMEOUT_MS }, sizeof(unsigned int));
    amqp_set_handshake_timeout(conn, &tv);
    amqp_set_rpc_timeout(conn, &tv);
    r = amqp_link_login(conn, set);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "login", err, errlen);
        if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
            r.reply.id == AMQP_CONNECTION_CLOSE_METHOD &&
            ((amqp_connection_close_t *)r.reply.decoded)->reply_code == AMQP_ACCESS_REFUSED) {
            size_t len = strlen(err);
            snprintf(err + len, errlen - len, " (user %s: check user and password)", set->user);
        } else if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                   r.library_error == AMQP_STATUS_TIMEOUT) {
            size_t len = strlen(err);
            snprintf(err + len, errlen - len, " (no AMQP answer within %d ms)", tmo);
        }
        if (set->tls && !amqp_tls_reason(err, errlen) &&
            r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            (r.library_error == AMQP_STATUS_SSL_ERROR ||
             r.library_error == AMQP_STATUS_CONNECTION_CLOSED ||
             r.library_error == AMQP_STATUS_SOCKET_ERROR)) {
            /* the broker ended the session after the handshake, its alert
             * lost to our write: with TLS 1.3 that is how a refused (or a
             * missing) client certificate looks */
            size_t len = strlen(err);
            snprintf(err + len, errlen - len, " (the broker closed the TLS session: does it want a "
                     "client certificate, tls_cert and tls_key, or refuse this one?)");
        }
        goto out_close;
    }
    amqp_channel_open(conn, 1);
    r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "channel.open", err, errlen);
        goto out_close;
    }
    amqp_confirm_select(conn, 1);
    r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_reply_error(r, "confirm.select", err, errlen);
        goto out_close;
    }
    return 0;

out_close:
    /* conn_close may shutdown() this fd while we block: forget it first */
    pthread_mutex_lock(lock);
    *sockfd = -1;
    pthread_mutex_unlock(lock);
    amqp_destroy_connection(conn);
    *out = NULL;
    return -1;
}
