# adapters/amqp: the AMQP 0-9-1 adapter (events and envelopes to RabbitMQ, messages in from its queues).
JUNCTION_SRCS += adapters/amqp/amqp_adapter.c adapters/amqp/amqp_conn.c adapters/amqp/amqp_connect.c \
                 adapters/amqp/amqp_in.c adapters/amqp/amqp_input.c \
                 adapters/amqp/amqp_mi.c adapters/amqp/amqp_tls.c
