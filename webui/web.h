/*
 * web.h - the HTTP front door: POST /mi, GET /metrics and the web UI.
 *
 * webui/ is the only folder that speaks HTTP.  The server is
 * libmicrohttpd with its own small thread pool; every request either calls
 * the MI (gw_mi_handle_text, the same entry the UNIX socket uses), reads
 * the statistics (gw_stats_prometheus) or serves a static asset embedded
 * in the binary (webui/web_assets.S).
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

#include "gw_param.h"

/* http.listen, http.port, http.enabled, http.max_body; GW_PARAM_END-terminated. */
extern const gw_param_t web_params[];

/* Bind http.listen:http.port and start serving.  Returns 0 (also when
 * http.enabled is off: nothing is started), GW_EINVAL for a listen address
 * that is not a numeric IPv4/IPv6 address, or GW_ERROR when the daemon
 * could not start (the reason is logged).  Main thread. */
int web_start(void);

/* Stop serving: waits for in-flight requests.  Safe when not started.
 * Main thread. */
void web_stop(void);

#endif
