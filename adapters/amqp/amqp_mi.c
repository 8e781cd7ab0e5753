/*
 * amqp_mi.c - the AMQP adapter's MI methods (docs/mi.md, "Adapter
 * methods"): amqp.connections, the state and counters of every amqp
 * connector's connections, publishing and consuming.
 *
 * Built from the connector registry's status (gw_connectors_status), which
 * each link fills from its atomics and the fields under its lock
 * (amqp_adapter.c amqp_conn_status), so no call here waits for a broker.
 *
 * Threads: the MI's (main thread or an HTTP pool thread under gw_mi_lock).
 */
#include <string.h>
#include <jansson.h>

#include "gw_adapter.h"
#include "gw_mi.h"
#include "amqp_link.h"

/* [{connector, enabled, state, broker, port, exchange, published, buffered,
 * dropped, replayed, behind, last_error, in}] for the amqp connectors; in
 * is the consumer's status or null. */
static void amqp_mi_connections(const json_t *params, gw_mi_reply_t *r)
{
    json_t *all = gw_connectors_status(), *out = json_array(), *c;
    size_t i;

    (void)params;
    if (all == NULL || out == NULL) {
        json_decref(all);
        json_decref(out);
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    json_array_foreach(all, i, c) {
        json_t *st = json_object_get(c, "status"), *e;
        if (strcmp(json_string_value(json_object_get(c, "type")), "amqp") != 0)
            continue;
        e = json_is_object(st) ? json_deep_copy(st) : json_object();
        if (e == NULL)
            continue;
        json_object_set(e, "connector", json_object_get(c, "name"));
        json_object_set(e, "enabled", json_object_get(c, "enabled"));
        if (json_object_get(e, "in") == NULL)
            json_object_set_new(e, "in", json_null());
        json_array_append_new(out, e);
    }
    json_decref(all);
    gw_mi_result(r, out);
}

const gw_mi_cmd_t amqp_mi_cmds[] = {
    { "amqp.connections", amqp_mi_connections, "{}",
      "every amqp connector: the publishing connection's state and counters, and its "
      "consumer's (in) when it consumes queues", GW_ROLE_VIEWER, 0 },
    GW_MI_END,
};
