# adapters/amqp: the AMQP 0-9-1 adapter (events and envelopes to RabbitMQ).
JUNCTION_SRCS += adapters/amqp/amqp_adapter.c adapters/amqp/amqp_conn.c
