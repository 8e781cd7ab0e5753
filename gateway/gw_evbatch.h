/*
 * gw_evbatch.h - the events that commit with one change (a base type).
 *
 * Each text (malloc'd JSON, owned by the batch) becomes a row of the
 * store's outbox table in the change's own transaction, and is published
 * only after the COMMIT (gw_events.h builds them, db/ writes them).  A
 * header of its own so that db/ needs nothing of gw_events.c.
 *
 * Threads: a batch belongs to whoever holds it.
 */
#ifndef GW_EVBATCH_H
#define GW_EVBATCH_H

#include <stdint.h>
#include <stdlib.h>

/* the most one change carries: an accept on the direct path with a mirror
 * (received, routed, queued, sending, mirrored) */
#define GW_EVBATCH_MAX 5
typedef struct gw_evbatch {
    int n;
    const char *types[GW_EVBATCH_MAX]; /* static strings: "message.queued" */
    char *texts[GW_EVBATCH_MAX];
    int64_t seqs[GW_EVBATCH_MAX];      /* outbox seq of each, set by the writer */
} gw_evbatch_t;

/* Free the texts of ev; it is left empty. */
static inline void gw_evbatch_clear(gw_evbatch_t *ev)
{
    if (ev == NULL)
        return;
    for (int i = 0; i < ev->n; i++) {
        free(ev->texts[i]);
        ev->texts[i] = NULL;
    }
    ev->n = 0;
}

#endif
