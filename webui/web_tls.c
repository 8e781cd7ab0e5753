/*
 * web_tls.c - HTTPS: the certificate and key of the TLS daemon, and which
 * connections came over it.
 *
 * HTTPS is a second libmicrohttpd daemon beside the plain one (web_http.c
 * starts both with the same request handler): http.tls_port on
 * http.tls_listen, with MHD_USE_TLS and the PEM pair handed over in memory
 * (MHD_OPTION_HTTPS_MEM_CERT / _KEY).  The TLS itself is libmicrohttpd's:
 * Debian builds it against GnuTLS, so there is no TLS code of ours here,
 * only what makes its errors readable and its settings ours:
 *
 *   - We read the files ourselves (rather than pass a path nowhere in
 *     libmicrohttpd's API takes), so an unreadable file, one that is not
 *     PEM, or an encrypted key is reported with its parameter, its path
 *     and the reason before any daemon starts.
 *   - Whether the pair matches is GnuTLS's to say: it refuses a key that
 *     is not the certificate's when the daemon starts, and says so only
 *     through libmicrohttpd's logger.  web_tls_on_mhd_log keeps the first
 *     message since web_tls_load so web_start can name both files and
 *     that reason in one error line.
 *   - TLS 1.2 at least (HTTPS priorities), as the SMPP TLS port.
 *
 * The key stays in memory until web_tls_unload (after the daemon has
 * stopped), which wipes it.
 *
 * Threads: web_tls_load, web_tls_options, web_tls_start_reason and
 * web_tls_unload on the main thread; web_tls_on_mhd_log and
 * web_conn_is_tls on libmicrohttpd's threads too.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "webui/web.h"

#define WEB_TLS_FILE_MAX (1024 * 1024) /* a PEM chain is a few KiB */
#define WEB_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static char *web_tls_cert_pem, *web_tls_key_pem;
static size_t web_tls_key_len;

/* HTTPS options for MHD_OPTION_ARRAY; the pointers are filled by
 * web_tls_load. */
static struct MHD_OptionItem web_tls_opts[] = {
    { MHD_OPTION_HTTPS_MEM_CERT, 0, NULL },
    { MHD_OPTION_HTTPS_MEM_KEY, 0, NULL },
    { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)WEB_TLS_PRIORITIES },
    { MHD_OPTION_END, 0, NULL },
};

/* The first libmicrohttpd message since web_tls_load, under
 * web_tls_log_lock (the daemon's threads log too). */
static pthread_mutex_t web_tls_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char web_tls_first_msg[256];

/* Read a whole PEM file into a NUL-terminated heap buffer (*out, freed by
 * the caller) of *len bytes; *mode gets its permission bits.  Returns 0,
 * or GW_EINVAL after logging the parameter, the path and the reason. */
static int web_tls_read(const char *param, const char *path, char **out, size_t *len,
                        mode_t *mode)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    ssize_t n;
    int fd, rc = GW_EINVAL;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        GW_ERR("web", "cannot read %s '%s': %s", param, path, strerror(errno));
        return GW_EINVAL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        GW_ERR("web", "cannot read %s '%s': not a regular file", param, path);
        goto out_close;
    }
    if (st.st_size > WEB_TLS_FILE_MAX) {
        GW_ERR("web", "%s '%s' is larger than %d bytes: not a PEM file", param, path,
               WEB_TLS_FILE_MAX);
        goto out_close;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        GW_ERR("web", "cannot read %s '%s': out of memory", param, path);
        goto out_close;
    }
    while (got < (size_t)st.st_size &&
           (n = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            GW_ERR("web", "cannot read %s '%s': %s", param, path, strerror(errno));
            explicit_bzero(buf, got);
            free(buf);
            goto out_close;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    *mode = st.st_mode & 07777;
    rc = GW_OK;
out_close:
    close(fd);
    return rc;
}

/* Is the key file one GnuTLS can take without a password?  Returns 0, or
 * GW_EINVAL after logging why not. */
static int web_tls_check_key(const char *path, const char *pem, mode_t mode)
{
    if (strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
        strstr(pem, "Proc-Type: 4,ENCRYPTED") != NULL) {
        GW_ERR("web", "http.tls_key '%s' is encrypted: give the key without a passphrase "
               "(a file of mode 0600)", path);
        return GW_EINVAL;
    }
    if (strstr(pem, "-----BEGIN ") == NULL || strstr(pem, "PRIVATE KEY-----") == NULL) {
        GW_ERR("web", "http.tls_key '%s' is not a PEM private key (no BEGIN ... PRIVATE KEY line)",
               path);
        return GW_EINVAL;
    }
    if (mode & (S_IRWXG | S_IRWXO))
        GW_WARN("web", "http.tls_key '%s' may be read by others (mode %03o): chmod 600 it",
                path, (unsigned)(mode & 0777));
    return GW_OK;
}

int web_tls_load(const char *cert_path, const char *key_path, int port)
{
    size_t cert_len;
    mode_t mode;
    int rc;

    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        GW_ERR("web", "http.tls_port %d: this libmicrohttpd was built without TLS support", port);
        return GW_EINVAL;
    }
    if (cert_path[0] == '\0' || key_path[0] == '\0') {
        GW_ERR("web", "http.tls_port %d needs http.tls_cert and http.tls_key (PEM files)", port);
        return GW_EINVAL;
    }
    web_tls_unload();
    rc = web_tls_read("http.tls_cert", cert_path, &web_tls_cert_pem, &cert_len, &mode);
    if (rc != 0)
        return rc;
    if (strstr(web_tls_cert_pem, "-----BEGIN CERTIFICATE-----") == NULL) {
        GW_ERR("web", "http.tls_cert '%s' is not a PEM certificate (no BEGIN CERTIFICATE line)",
               cert_path);
        rc = GW_EINVAL;
        goto out_unload;
    }
    rc = web_tls_read("http.tls_key", key_path, &web_tls_key_pem, &web_tls_key_len, &mode);
    if (rc == 0)
        rc = web_tls_check_key(key_path, web_tls_key_pem, mode);
    if (rc != 0)
        goto out_unload;
    web_tls_opts[0].ptr_value = web_tls_cert_pem;
    web_tls_opts[1].ptr_value = web_tls_key_pem;
    pthread_mutex_lock(&web_tls_log_lock);
    web_tls_first_msg[0] = '\0';
    pthread_mutex_unlock(&web_tls_log_lock);
    return GW_OK;
out_unload:
    web_tls_unload();
    return rc;
}

const struct MHD_OptionItem *web_tls_options(void)
{
    return web_tls_opts;
}

void web_tls_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    pthread_mutex_lock(&web_tls_log_lock);
    if (web_tls_first_msg[0] == '\0')
        snprintf(web_tls_first_msg, sizeof web_tls_first_msg, "%s", line);
    pthread_mutex_unlock(&web_tls_log_lock);
    if (gw_log_enabled("web", GW_LOG_DEBUG))
        gw_log_write("web", GW_LOG_DEBUG, "libmicrohttpd (HTTPS): %s", line);
}

void web_tls_start_reason(char *buf, size_t len, const char *fallback)
{
    pthread_mutex_lock(&web_tls_log_lock);
    snprintf(buf, len, "%s", web_tls_first_msg[0] ? web_tls_first_msg : fallback);
    pthread_mutex_unlock(&web_tls_log_lock);
}

void web_tls_unload(void)
{
    if (web_tls_key_pem != NULL)
        explicit_bzero(web_tls_key_pem, web_tls_key_len);
    free(web_tls_key_pem);
    free(web_tls_cert_pem);
    web_tls_key_pem = web_tls_cert_pem = NULL;
    web_tls_key_len = 0;
    web_tls_opts[0].ptr_value = web_tls_opts[1].ptr_value = NULL;
}

/* The connection's daemon is a worker of the pool, not the daemon
 * web_start holds, so this asks for its flags rather than compare
 * pointers; each worker carries its master's MHD_USE_TLS. */
int web_conn_is_tls(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    const union MHD_DaemonInfo *di;

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
    if (ci == NULL || ci->daemon == NULL)
        return 0;
    di = MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_FLAGS);
    return di != NULL && (di->flags & MHD_USE_TLS) != 0;
}
