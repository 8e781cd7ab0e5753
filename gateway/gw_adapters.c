/*
 * gw_adapters.c - the static table of adapters (no dlopen).
 *
 * Checklist: a new adapter is declared here, listed in gw_adapters, given a
 * module.mk and described in ARCHITECTURE.md.
 * Threads: read-only after start-up.
 */
#include <string.h>

#include "gw_adapter.h"

extern const gw_adapter_t sip_adapter;
extern const gw_adapter_t sip_trunk_adapter; /* connectors only: adapters/sip/sip_trunk.c */
extern const gw_adapter_t smpp_adapter;
extern const gw_adapter_t amqp_adapter;
extern const gw_adapter_t http_adapter;

static const gw_adapter_t *const gw_adapters[] = {
    &sip_adapter,
    &sip_trunk_adapter,
    &smpp_adapter,
    &amqp_adapter,
    &http_adapter,
};

#define GW_NADAPTERS (sizeof(gw_adapters) / sizeof(gw_adapters[0]))

const gw_adapter_t *gw_adapter_find(const char *name)
{
    size_t i;

    for (i = 0; i < GW_NADAPTERS; i++)
        if (strcmp(gw_adapters[i]->name, name) == 0)
            return gw_adapters[i];
    return NULL;
}

void gw_adapters_foreach(void (*fn)(const gw_adapter_t *a, void *arg), void *arg)
{
    size_t i;

    for (i = 0; i < GW_NADAPTERS; i++)
        fn(gw_adapters[i], arg);
}
