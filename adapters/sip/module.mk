# adapters/sip/: the SIP adapter (UDP workers with SO_REUSEPORT, TCP
# connections spread over the workers, IPv4 and IPv6, proxy, MESSAGE in and out).  Exports two symbols: sip_adapter and sip_trunk_adapter
# (the connector type sip_trunk).
JUNCTION_SRCS += adapters/sip/sip_adapter.c adapters/sip/sip_addr.c adapters/sip/sip_conn.c adapters/sip/sip_tcp.c adapters/sip/sip_tls.c \
                 adapters/sip/sip_message.c adapters/sip/sip_resp.c adapters/sip/sip_transport.c \
                 adapters/sip/sip_txn.c adapters/sip/sip_scale.c adapters/sip/sip_uac.c adapters/sip/sip_uas.c \
                 adapters/sip/sip_sms.c adapters/sip/sip_report.c adapters/sip/sip_location.c \
                 adapters/sip/sip_registrar.c adapters/sip/sip_tsx.c adapters/sip/sip_digest.c \
                 adapters/sip/sip_auth.c adapters/sip/sip_flood.c \
                 adapters/sip/sip_view.c adapters/sip/sip_view_names.c adapters/sip/sip_view_get.c adapters/sip/sip_view_edit.c \
                 adapters/sip/sip_proxy.c adapters/sip/sip_proxy_branch.c \
                 adapters/sip/sip_proxy_route.c adapters/sip/sip_proxy_fwd.c \
                 adapters/sip/sip_proxy_table.c adapters/sip/sip_proxy_auth.c \
                 adapters/sip/sip_proxy_dns.c adapters/sip/sip_proxy_sl.c \
                 adapters/sip/sip_dns.c adapters/sip/sip_dns_rr.c \
                 adapters/sip/sip_dialog.c adapters/sip/sip_dialog_hook.c \
                 adapters/sip/sip_dialog_mi.c adapters/sip/sip_dialog_bye.c \
                 adapters/sip/sip_trunk.c adapters/sip/sip_trunk_pick.c adapters/sip/sip_trunk_route.c \
                 adapters/sip/sip_natping.c adapters/sip/sip_wheel.c adapters/sip/sip_steer.c
FUZZ_TARGETS  += tests/fuzz/fuzz_sip.c tests/fuzz/fuzz_sip_sms.c tests/fuzz/fuzz_sip_view.c \
                 tests/fuzz/fuzz_sip_digest.c tests/fuzz/fuzz_sip_dispatch.c
