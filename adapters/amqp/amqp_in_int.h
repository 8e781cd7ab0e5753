/*
 * amqp_in_int.h - private to the AMQP consumer (amqp_in.c) and its pure
 * helpers (amqp_input.c): the input JSON as an envelope, the dedup table.
 *
 * Threads: every function here runs on one link's consumer thread.
 */
#ifndef AMQP_IN_INT_H
#define AMQP_IN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "gw_envelope.h"
#include "amqp_link.h"

/* What the broker said about a delivery besides its body; every string
 * NUL-terminated, NULL when absent. */
typedef struct amqp_in_meta {
    const char *connector;      /* the link's name */
    const char *queue;          /* the queue it was consumed from */
    const char *routing_key;
    const char *message_id;
    const char *correlation_id;
    const char *reply_to;
    const amqp_basic_properties_t *props; /* for the tags of its headers, type, app_id,
                                           * user_id; may be NULL */
} amqp_in_meta_t;

#define AMQP_HEADER_TAGS_MAX 16 /* headers kept as tags per message */

/* Validate body (len bytes) against docs/amqp-in.schema.json and build
 * its envelope: 0 with *out (one reference, the caller's), GW_EINVAL with
 * the reason in err (the delivery is dead-lettered with it), or
 * GW_ENOMEM. */
int amqp_input_envelope(const char *body, size_t len, const amqp_in_meta_t *m,
                        gw_envelope_t **out, char *err, size_t errlen);

typedef struct amqp_dedup_ent {
    uint64_t h;                   /* FNV-1a of the message_id; 0 = free */
    int64_t at;                   /* ms when it was taken */
    int32_t next;                 /* chain in its bucket, -1 = end */
    int pending;                  /* its commit is not known yet */
    char jid[GW_ENV_ID_LEN + 1];  /* junction's id of the message */
} amqp_dedup_ent_t;

typedef struct amqp_dedup {
    amqp_dedup_ent_t *ent;        /* ring of cap entries, oldest at head */
    int32_t *buckets;             /* nbuckets (a power of two) chain heads */
    size_t cap, nbuckets, head;
    int64_t window_ms;
} amqp_dedup_t;

/* 0 or GW_ENOMEM (t is then empty and every lookup misses). */
int amqp_dedup_init(amqp_dedup_t *t, size_t cap, int64_t window_ms);
void amqp_dedup_free(amqp_dedup_t *t);
/* The entry of msgid taken within the window, or NULL. */
amqp_dedup_ent_t *amqp_dedup_find(amqp_dedup_t *t, const char *msgid, int64_t now_ms);
/* Remember msgid as junction's message jid, pending until its commit is
 * known (the oldest entry goes when the ring is full); NULL when msgid is
 * empty or t has no memory. */
amqp_dedup_ent_t *amqp_dedup_add(amqp_dedup_t *t, const char *msgid, const char *jid,
                                 int64_t now_ms);
/* Forget msgid's entry for jid (its accept failed: a redelivery is new). */
void amqp_dedup_forget(amqp_dedup_t *t, const char *msgid, const char *jid);

#endif
