/*
 * gw_envelope.h - the one message form every adapter produces and consumes.
 *
 * An envelope is built by the adapter that received a message, routed by
 * router/, committed by db/ and sent by the target adapter.  It is
 * reference counted: whoever stores a pointer holds a reference
 * (gw_env_ref / gw_env_unref).  It is content only: once handed to
 * gw_core_accept nothing in it changes, so any thread may read it.  How it
 * is being delivered (plan, target, attempts, status, the far side's id)
 * is the delivery record's (gw_delivery.h), which the core owns.
 *
 * The JSON form (gw_env_to_json / gw_env_from_json) is the AMQP and MI form
 * and the form stored in the messages table; its field "v" is the version.
 */
#ifndef GW_ENVELOPE_H
#define GW_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "gw_addr.h" /* gw_addr_t: from and to */

#define GW_ENV_VERSION 2 /* 2: delivery fields left the envelope */
#define GW_ENV_ID_LEN 26 /* ULID: 48-bit ms time + 80 bits, Crockford base32 */

typedef enum {
    GW_ST_RECEIVED = 0,
    GW_ST_QUEUED,
    GW_ST_SENDING,
    GW_ST_SUBMITTED,
    GW_ST_DELIVERED,
    GW_ST_FAILED,
    GW_ST_EXPIRED,
    GW_ST_REJECTED,
    GW_ST__COUNT
} gw_status_t;

/* Checklist for a new field: this struct, gw_env_unref, the JSON text
 * form (gw_env_to_text; gw_env_to_json parses it) and gw_env_from_json in
 * gw_envelope.c; a field with its own column also the writer job
 * (db/db_writer.c) and the schema.  An optional field is absent from the
 * JSON when NULL, so envelopes from before it still load. */
typedef struct gw_envelope {
    /* public, read-only once routed */
    char id[GW_ENV_ID_LEN + 1];
    int version;
    int64_t created_at; /* ms since the epoch */
    int64_t expires_at; /* ms since the epoch, 0 = never */
    struct {
        char *adapter;   /* "sip", "smpp", "amqp" */
        char *connector; /* connector or listener name */
        char *peer;      /* "ip:port" or system_id */
        char *domain;    /* SIP: the From URI's host, lower-case; NULL otherwise */
    } source;
    gw_addr_t from;
    gw_addr_t to;
    char *body;          /* UTF-8 text, NUL terminated; or raw bytes when binary */
    size_t body_len;
    int binary;          /* 1: body holds raw bytes of content_type */
    char *content_type;  /* "text/plain" unless binary */
    int data_coding;     /* original SMPP data_coding, -1 when none */
    int registered_delivery; /* receipt requested: SMPP registered_delivery bits */
    struct {
        char *sip_call_id;
        char *smpp_message_id; /* the id the source's SMSC gave it (an MO's message_id) */
        char *amqp_message_id;
        char *amqp_correlation_id;
    } corr;
    struct {             /* a delivery report junction made for the sender of
                          * another message (gateway/gw_report.c); all NULL / 0
                          * on any other message */
        char *of;        /* the id of the message it reports on */
        char *stat;      /* SMPP 3.4 appendix B state: DELIVRD, UNDELIV, ... */
        int err;         /* the error code of that outcome (0: none) */
    } report;
    json_t *tags;        /* object of string -> string, never NULL; junction's
                          * own include sender, concat, sms_class, coding,
                          * udh (a binary body's user data header in hex:
                          * gw_binary.h) and deferred_until (ms since the
                          * epoch: the core holds the first attempt till
                          * then), each stored with the envelope */

    /* private */
    int refs;            /* atomic */
} gw_envelope_t;

/* A rule's action.set.headers travel as tags of this prefix and the header
 * name (e.g. "amqp_out.x-tenant"); the AMQP adapter publishes each as a
 * header of the message's envelope and of its mirror copy. */
#define GW_TAG_AMQP_OUT "amqp_out."

/* A new envelope with a fresh id, created_at = now, one
 * reference held by the caller.  NULL on allocation failure. */
gw_envelope_t *gw_env_new(void);
gw_envelope_t *gw_env_ref(gw_envelope_t *env);
/* Drop a reference; frees on the last one.  NULL is accepted. */
void gw_env_unref(gw_envelope_t *env);

/* Replace a string field (e.g. &env->body) with a copy of s (n bytes, or
 * strlen when n == (size_t)-1).  Returns 0 or GW_ENOMEM. */
int gw_env_set_str(char **field, const char *s, size_t n);
int gw_env_set_tag(gw_envelope_t *env, const char *key, const char *value);

/* JSON form.  to_json returns a new object (caller owns it) or NULL.
 * from_json returns a new envelope (one ref) or NULL with *err set to a
 * static message. */
json_t *gw_env_to_json(const gw_envelope_t *env);
/* The same JSON form as compact text, written without a tree (the message
 * path's form): malloc'd (caller frees), or NULL. */
char *gw_env_to_text(const gw_envelope_t *env);
gw_envelope_t *gw_env_from_json(const json_t *obj, const char **err);

const char *gw_status_name(gw_status_t st);
int gw_status_parse(const char *s); /* -1 when unknown */

/* Time-ordered unique id into out (GW_ENV_ID_LEN + 1 bytes). Thread-safe. */
void gw_env_make_id(char *out);
int64_t gw_now_ms(void);

#endif
