# adapters/http: receipt callbacks POSTed to their sender's URL (libevent's evhttp client).
JUNCTION_SRCS += adapters/http/http_adapter.c adapters/http/http_client.c
