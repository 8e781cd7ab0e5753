/*
 * gw_events.h - every state change of a message is an event.
 *
 * An event is built once, as JSON text, by the core's transition function
 * and travels with the state change to the store's writer: it is written
 * to the outbox table in the same transaction as the change, and only
 * after the COMMIT is it offered to the sinks (AMQP connectors), in commit
 * order.  So no consumer ever sees an event of a change that did not land.
 *
 *   {"event": "message.<state>", "v": 1, "ts": ms, "id": ..., "status": ...,
 *    "route": ..., "target": ..., "attempts": n, "reason": n,
 *    "remote_id": ..., "detail": ..., "possible_duplicate": bool,
 *    "envelope": {...the content...}}
 *
 * Events are built only while a sink exists (gw_events_active()): with no
 * consumer there is nothing to publish, and the message path pays nothing.
 *
 * Threads: any thread may build; sinks are added and removed under
 * gw_events_lock (private) and called on the writer thread.
 */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

#include "gw_delivery.h"
#include "gw_evbatch.h"

/* The "v" of every published event: docs/events.md and
 * docs/events.schema.json describe this version.  Checklist for a change
 * of an event's members: gw_events.c, both documents, and this number
 * when a member changes meaning or goes away (adding one does not). */
#define GW_EVENTS_SCHEMA_VERSION 1


/* Sink callback: an event committed as outbox row seq (increasing); takes
 * ownership of text (malloc'd, NUL-terminated) and of routing_key
 * (malloc'd, "message.<state>").  Must only queue.  A sink that cannot
 * keep up drops what it cannot hold and reads it back with
 * gw_events_replay: the outbox keeps every event for db.outbox_keep_s. */
typedef void (*gw_event_sink_fn_t)(int64_t seq, char *routing_key, char *text, void *arg);

int gw_events_add_sink(gw_event_sink_fn_t fn, void *arg);
void gw_events_remove_sink(gw_event_sink_fn_t fn, void *arg);
/* 1 while at least one sink listens. */
int gw_events_active(void);

/* Append the event "message.<state>" of d (content env_json, a JSON
 * object's text) to ev, when a sink listens and ev has room.  state is a
 * static string; detail may be NULL.  0 or GW_ENOMEM / GW_EFULL. */
int gw_event_add(gw_evbatch_t *ev, const gw_delivery_t *d, const char *env_json,
                 const char *state, const char *detail);

/* An operational event, about no message: type a static string
 * ("ops.workers_scaled", "ops.config_changed"), data (stolen; NULL: {})
 * its details.  Text {"event", "v", "ts", "data"}; written to the outbox
 * and published after its commit like the message events, when a sink
 * listens (else nothing is built).  Any thread.  0 or GW_ENOMEM /
 * GW_ESTOPPED. */
struct json_t;
int gw_event_op(const char *type, struct json_t *data);
/* The same event form ({event, v, ts, data}) appended to ev, to commit
 * with another change (a SIP registration's row); type a static string,
 * data stolen.  0, GW_EFULL (ev has no room) or GW_ENOMEM. */
int gw_event_data(gw_evbatch_t *ev, const char *type, struct json_t *data);

/* ops.connector_state: connector (its bind, or -1 for the connector as a
 * whole) went "up", "down" or "held"; detail (may be NULL) says why.  As
 * gw_event_op; adapters call it where their state changes. */
int gw_event_connector(const char *connector, const char *state, int bind, const char *detail);

/* Append the event "message.mirrored" of d: the rule's mirror copy.  Its
 * text is {"event", "ts", "id", "mirror": {"exchange", "routing_key"},
 * "envelope"}; the AMQP links publish its envelope to that exchange with
 * that routing key instead of the event itself.  As gw_event_add. */
int gw_event_add_mirror(gw_evbatch_t *ev, const gw_delivery_t *d, const char *env_json,
                        const char *exchange, const char *routing_key);

/* The writer's hooks (db_writer_set_hooks): build the events of a change
 * the writer made itself (a receipt: "receipt" then the final state's; a
 * sweep: the state's), and fan a committed event out. */
void gw_events_rows(gw_evbatch_t *ev, const char *id, const char *envelope_json,
                    gw_status_t status, const char *detail, int receipt);
void gw_events_publish(int64_t seq, const char *type, const char *text);

/* Read committed events back from the outbox: fn for each row with
 * seq > after, in order, at most limit.  Returns the count or < 0.  Blocks
 * on the store: for threads that may block (an AMQP link's). */
int gw_events_replay(int64_t after, int limit,
                     void (*fn)(int64_t seq, const char *type, const char *text, void *arg),
                     void *arg);

#endif
