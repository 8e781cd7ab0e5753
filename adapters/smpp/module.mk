# adapters/smpp: the SMPP 3.4 adapter (client connectors, our SMSC port).
JUNCTION_SRCS += adapters/smpp/smpp_adapter.c adapters/smpp/smpp_session.c \
                 adapters/smpp/smpp_client.c adapters/smpp/smpp_client_bind.c adapters/smpp/smpp_client_rx.c \
                 adapters/smpp/smpp_server.c \
                 adapters/smpp/smpp_pdu.c adapters/smpp/smpp_codec.c \
                 adapters/smpp/smpp_wire.c \
                 adapters/smpp/smpp_out.c adapters/smpp/smpp_dest.c adapters/smpp/smpp_status.c adapters/smpp/smpp_tls.c adapters/smpp/smpp_guard.c adapters/smpp/smpp_rate.c adapters/smpp/smpp_mi.c adapters/smpp/smpp_multi.c \
                 adapters/smpp/smpp_cancel.c adapters/smpp/smpp_id.c adapters/smpp/smpp_time.c
FUZZ_TARGETS  += tests/fuzz/fuzz_smpp.c tests/fuzz/fuzz_smpp_parts.c
