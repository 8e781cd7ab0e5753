/*
 * gw_events.h - every state change of a message is an event.
 *
 * gw_event_emit() builds the event once as JSON text
 *   {"event": "message.<state>", "ts": ms, "id": ..., "envelope": {...}, "detail": ...}
 * counts it in the statistics, and offers the text to every sink (AMQP
 * connectors, the trace console).  A sink gets its own copy and must only
 * queue it.
 *
 * Threads: any thread may emit; sinks are added and removed under
 * gw_events_lock (private).
 */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

#include "gw_envelope.h"

/* Sink callback: takes ownership of text (malloc'd, NUL-terminated) and of
 * routing_key (malloc'd, "message.<state>"). */
typedef void (*gw_event_sink_fn_t)(char *routing_key, char *text, void *arg);

int gw_events_add_sink(gw_event_sink_fn_t fn, void *arg);
void gw_events_remove_sink(gw_event_sink_fn_t fn, void *arg);

/* state: "received", "routed", "queued", "submitted", "delivered",
 * "failed", "expired", "rejected", "receipt".  detail may be NULL. */
void gw_event_emit(const gw_envelope_t *env, const char *state, const char *detail);

#endif
