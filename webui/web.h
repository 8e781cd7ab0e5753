/*
 * web.h - the HTTP front door: POST /mi, GET /metrics and the web UI.
 *
 * webui/ is the only folder that speaks HTTP.  The server is
 * libmicrohttpd with its own small thread pool; every request either calls
 * the MI (gw_mi_handle_text, the same entry the UNIX socket uses), reads
 * the statistics (gw_stats_prometheus) or serves a static asset embedded
 * in the binary (webui/web_assets.S).  HTTPS is a second daemon with the
 * same handler (http.tls_port; web_tls.c: libmicrohttpd's TLS, GnuTLS on
 * Debian, with the PEM pair read at start).
 *
 * Start-up, on the main thread:
 *     gw_params_register(web_params);   (applies the defaults)
 *     ... parse the configuration and -o flags ...
 *     web_start();                      (after the MI commands are registered)
 *     ...
 *     web_stop();                       (before the MI registry goes away)
 */
#ifndef WEB_H
#define WEB_H

#include <stdarg.h>
#include <stddef.h>

#include "gw_param.h"

struct MHD_Connection;
struct MHD_OptionItem;

/* http.listen, http.port, http.enabled, http.max_body, http.tls_port,
 * http.tls_listen, http.tls_cert, http.tls_key; GW_PARAM_END-terminated. */
extern const gw_param_t web_params[];

/* Bind http.listen:http.port (unless http.enabled is off) and, when
 * http.tls_port is set, http.tls_listen:http.tls_port for HTTPS with the
 * PEM pair of http.tls_cert / http.tls_key; start serving.  Returns 0
 * (also when neither is on: nothing is started), GW_EINVAL for a listen
 * address that is not a numeric IPv4/IPv6 address or a certificate or key
 * that cannot be used, or GW_ERROR when a daemon could not start (the
 * reason is logged, naming the files).  On failure nothing is left
 * running.  Main thread. */
int web_start(void);

/* Stop serving: waits for in-flight requests.  Safe when not started.
 * Main thread. */
void web_stop(void);

/* 1 when conn came over HTTPS (the TLS daemon), else 0.  Any thread. */
int web_conn_is_tls(struct MHD_Connection *conn);

/* Between web_http.c and web_tls.c. */

/* Check that libmicrohttpd has TLS, read the PEM certificate (chain) and
 * key at these paths and check their form.  Returns 0, or GW_EINVAL after
 * logging the parameter, the file and the reason.  port is only for the
 * messages.  The pair is held until web_tls_unload.  Main thread. */
int web_tls_load(const char *cert_path, const char *key_path, int port);
/* The MHD_OPTION_ARRAY that gives a daemon the loaded pair and our TLS
 * priorities (MHD_USE_TLS is the caller's); valid until web_tls_unload. */
const struct MHD_OptionItem *web_tls_options(void);
/* libmicrohttpd's logger for the TLS daemon (MHD_OPTION_EXTERNAL_LOGGER):
 * the web debug log, and the first message since web_tls_load kept. */
void web_tls_on_mhd_log(void *cls, const char *fmt, va_list ap);
/* Why the TLS daemon did not start, into buf: that first message (GnuTLS's
 * word on a key that is not the certificate's), else fallback. */
void web_tls_start_reason(char *buf, size_t len, const char *fallback);
/* Wipe and free the pair.  Safe when nothing is loaded.  Main thread,
 * after the TLS daemon has stopped. */
void web_tls_unload(void);

#endif
