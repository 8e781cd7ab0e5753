# gateway/: the daemon's core (see ARCHITECTURE.md).
JUNCTION_SRCS += gateway/gw_main.c gateway/gw_auth.c gateway/gw_auth_mi.c gateway/gw_audit.c gateway/gw_log.c gateway/gw_errors.c gateway/gw_queue.c gateway/gw_rand.c \
                 gateway/gw_envelope.c gateway/gw_binary.c gateway/gw_jbuf.c gateway/gw_addr.c gateway/gw_delivery.c gateway/gw_param.c \
                 gateway/gw_config.c gateway/gw_stats.c gateway/gw_metrics.c gateway/gw_notify.c gateway/gw_events.c gateway/gw_mi.c \
                 gateway/gw_mi_cmds.c gateway/gw_mi_sock.c gateway/gw_connectors.c gateway/gw_core.c \
                 gateway/gw_cq.c gateway/gw_adapters.c gateway/gw_work.c gateway/gw_accounts.c \
                 gateway/gw_trace.c gateway/gw_trace_mi.c gateway/gw_hep.c gateway/gw_route.c gateway/gw_route_mi.c \
                 gateway/gw_route_csv.c gateway/gw_report.c gateway/gw_report_sip.c gateway/gw_report_http.c gateway/gw_frag.c \
                 gateway/gw_query.c gateway/gw_cancel.c \
                 gateway/gw_net.c gateway/gw_trusted.c gateway/gw_sip_users.c gateway/gw_diag.c gateway/gw_diag_checks.c \
                 gateway/gw_location.c
