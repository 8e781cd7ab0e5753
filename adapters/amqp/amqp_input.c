/*
 * amqp_input.c - what a message handed to junction over AMQP must look
 * like, and which message_ids were seen: pure work for the consumer
 * (amqp_in.c), no broker I/O.
 *
 * The input is one JSON object per AMQP message, validated against the
 * schema docs/amqp-in.schema.json (docs/amqp.md, "Messages in"):
 *
 *   {"to": "4670...", "from": "Acme", "text": "hello", "receipt": true,
 *    "validity_s": 3600, "tags": {"campaign": "x"}, "client_ref": "c-1",
 *    "coding": "ucs2", "connector": "smsc-a", "route_hint": "bulk"}
 *
 * or, instead of text, a binary body: {"binary": "0605...", "encoding":
 * "hex" | "base64", "udh": "050003...", "data_coding": 4}, checked by
 * gateway/gw_binary.c as on every surface (one SMS, never split).
 *
 * to, from and text (or binary) are required; any other member is an error (a typo
 * must not be taken as a message without its option).  The result is an
 * envelope as every surface builds one: addresses normalised by
 * gw_addr.h, source adapter "amqp", connector the link's name, peer the
 * queue (the router's amqp_queue), the tag sender "amqp:<connector>/<queue>",
 * the options as the tags messages.inject sets (validity_s, client_ref,
 * coding), the hints as tags rules match (connector, route_hint), the
 * routing key as the tag amqp_routing_key, and the delivery's string
 * headers and its type, app_id and user_id as tags too
 * (amqp_input_amqp_tags).
 *
 * The dedup table remembers the message_ids of deliveries taken (each
 * with junction's id) for dedup_window_s, at most dedup_max of them, the
 * oldest forgotten first: a ring of entries in arrival order, indexed by
 * a chained hash of the id's 64-bit FNV-1a.  Only the hash is kept, so
 * two ids collide with odds of about n^2 / 2^65.
 *
 * Threads: the consumer thread of one link only (the table is its own).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_addr.h"
#include "gw_binary.h"
#include "gw_envelope.h"
#include "gw_errors.h"
#include "amqp_in_int.h"

#define AMQP_TEXT_MAX 65536 /* bytes of text one message may carry */

static int amqp_input_str(const json_t *o, const char *key, int required, size_t min, size_t max,
                          const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL && !required)
        return 0;
    if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(err, errlen, "%s: %s string of %zu to %zu bytes", key,
                 v == NULL ? "missing; a" : "not a", min, max);
        return GW_EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

/* Every member but the known ones is an error. */
static int amqp_input_known(const json_t *o, char *err, size_t errlen)
{
    static const char *const known[] = { "to", "from", "text", "receipt", "validity_s", "tags",
                                         "client_ref", "coding", "connector", "route_hint",
                                         "receipts_to_reply",
                                         "binary", "encoding", "udh", "data_coding", NULL };
    const char *key;
    json_t *v;
    int i, ok;

    json_object_foreach((json_t *)o, key, v) {
        for (ok = 0, i = 0; known[i]; i++)
            ok |= strcmp(known[i], key) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown member \"%.64s\"", key);
            return GW_EINVAL;
        }
    }
    return 0;
}

static int amqp_input_tags(gw_envelope_t *env, const json_t *tags, char *err, size_t errlen)
{
    const char *key;
    json_t *v;

    if (tags == NULL)
        return 0;
    if (!json_is_object(tags)) {
        snprintf(err, errlen, "tags: not an object of strings");
        return GW_EINVAL;
    }
    json_object_foreach((json_t *)tags, key, v) {
        if (!json_is_string(v) || strlen(key) == 0 || strlen(key) > 64 ||
            json_string_length(v) > 256 || strcmp(key, "sender") == 0 ||
            strcmp(key, GW_BIN_TAG_UDH) == 0 || strncmp(key, "amqp_", 5) == 0) {
            snprintf(err, errlen, "tags: \"%.64s\": keys of 1-64 characters (not sender or udh, "
                     "none starting amqp_) with string values of at most 256", key);
            return GW_EINVAL;
        }
        if (gw_env_set_tag(env, key, json_string_value(v)) < 0)
            return GW_ENOMEM;
    }
    return 0;
}

static int amqp_input_prop_tag(gw_envelope_t *env, const char *key, amqp_bytes_t v)
{
    char val[257];

    if (v.len == 0 || v.len >= sizeof val || memchr(v.bytes, '\0', v.len) != NULL)
        return 0;
    memcpy(val, v.bytes, v.len);
    val[v.len] = '\0';
    return gw_env_set_tag(env, key, val) < 0 ? GW_ENOMEM : 0;
}

/* The delivery's string headers as tags "amqp_header.<name>" (at most
 * AMQP_HEADER_TAGS_MAX; names past 50 bytes, values past 256 bytes and
 * other kinds are left out) and its type, app_id and user_id properties
 * as amqp_type, amqp_app_id, amqp_user_id: rules match them like any
 * tag.  0 or GW_ENOMEM. */
static int amqp_input_amqp_tags(gw_envelope_t *env, const amqp_basic_properties_t *p)
{
    char key[64];
    int rc = 0, kept = 0;

    if (p == NULL)
        return 0;
    if (p->_flags & AMQP_BASIC_TYPE_FLAG)
        rc = amqp_input_prop_tag(env, "amqp_type", p->type);
    if (rc == 0 && (p->_flags & AMQP_BASIC_APP_ID_FLAG))
        rc = amqp_input_prop_tag(env, "amqp_app_id", p->app_id);
    if (rc == 0 && (p->_flags & AMQP_BASIC_USER_ID_FLAG))
        rc = amqp_input_prop_tag(env, "amqp_user_id", p->user_id);
    for (int i = 0; rc == 0 && (p->_flags & AMQP_BASIC_HEADERS_FLAG) &&
                    i < p->headers.num_entries && kept < AMQP_HEADER_TAGS_MAX; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if ((e->value.kind != AMQP_FIELD_KIND_UTF8 && e->value.kind != AMQP_FIELD_KIND_BYTES) ||
            e->key.len == 0 || e->key.len > 50 || memchr(e->key.bytes, '\0', e->key.len))
            continue;
        snprintf(key, sizeof key, "amqp_header.%.*s", (int)e->key.len, (const char *)e->key.bytes);
        rc = amqp_input_prop_tag(env, key, e->value.value.bytes);
        kept++;
    }
    return rc;
}

/* receipts_to_reply: the receipt and final state of the message follow
 * its outcome to the delivery's reply_to (the tag amqp_reply_to, read by
 * the link thread: amqp_conn.c amqp_item_follow); it asks for a receipt. */
static int amqp_input_follow(gw_envelope_t *env, const json_t *o, const char *reply_to,
                             char *err, size_t errlen)
{
    json_t *v = json_object_get(o, "receipts_to_reply");

    if (v == NULL || json_is_false(v))
        return 0;
    if (!json_is_true(v)) {
        snprintf(err, errlen, "receipts_to_reply: not true or false");
        return GW_EINVAL;
    }
    if (reply_to == NULL || reply_to[0] == '\0' || strlen(reply_to) > 256) {
        snprintf(err, errlen, "receipts_to_reply: the delivery has no reply_to");
        return GW_EINVAL;
    }
    env->registered_delivery = 1;
    return gw_env_set_tag(env, "amqp_reply_to", reply_to) < 0 ? GW_ENOMEM : 0;
}

/* The options and hints onto env.  0, GW_EINVAL with err, or GW_ENOMEM. */
static int amqp_input_options(gw_envelope_t *env, const json_t *o, char *err, size_t errlen)
{
    json_t *rcpt = json_object_get(o, "receipt"), *val = json_object_get(o, "validity_s");
    const char *ref, *coding, *conn, *hint;
    char num[24];
    int rc;

    if (rcpt != NULL && !json_is_boolean(rcpt)) {
        snprintf(err, errlen, "receipt: not true or false");
        return GW_EINVAL;
    }
    env->registered_delivery = json_is_true(rcpt) ? 1 : 0;
    if (val != NULL && (!json_is_integer(val) || json_integer_value(val) < 1 ||
                        json_integer_value(val) > 30 * 86400)) {
        snprintf(err, errlen, "validity_s: not an integer from 1 to 2592000 (30 days)");
        return GW_EINVAL;
    }
    if (val != NULL) {
        env->expires_at = gw_now_ms() + json_integer_value(val) * 1000;
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val));
        if (gw_env_set_tag(env, "validity_s", num) < 0)
            return GW_ENOMEM;
    }
    rc = amqp_input_str(o, "client_ref", 0, 1, 64, &ref, err, errlen);
    if (rc == 0)
        rc = amqp_input_str(o, "coding", 0, 3, 4, &coding, err, errlen);
    if (rc == 0 && coding != NULL && strcmp(coding, "gsm") != 0 && strcmp(coding, "ucs2") != 0) {
        snprintf(err, errlen, "coding: not gsm or ucs2");
        rc = GW_EINVAL;
    }
    if (rc == 0)
        rc = amqp_input_str(o, "connector", 0, 1, 63, &conn, err, errlen);
    if (rc == 0)
        rc = amqp_input_str(o, "route_hint", 0, 1, 64, &hint, err, errlen);
    if (rc == 0)
        rc = amqp_input_tags(env, json_object_get(o, "tags"), err, errlen);
    if (rc != 0)
        return rc;
    if ((ref && gw_env_set_tag(env, "client_ref", ref) < 0) ||
        (coding && strcmp(coding, "ucs2") == 0 && gw_env_set_tag(env, "coding", "ucs2") < 0) ||
        (conn && gw_env_set_tag(env, "connector", conn) < 0) ||
        (hint && gw_env_set_tag(env, "route_hint", hint) < 0))
        return GW_ENOMEM;
    return 0;
}

static int amqp_input_addrs(gw_envelope_t *env, const char *from, const char *to, char *err,
                            size_t errlen)
{
    int rc = gw_addr_normalise(&env->from, from, GW_ADDR_TON_NONE, 0);

    if (rc == GW_EINVAL) {
        snprintf(err, errlen, "from: not an address");
        return rc;
    }
    if (rc == 0)
        rc = gw_addr_normalise(&env->to, to, GW_ADDR_TON_NONE, 0);
    if (rc == GW_EINVAL)
        snprintf(err, errlen, "to: not an address");
    return rc;
}

/* The content: text, or binary with encoding?, udh?, data_coding?
 * (gw_binary.h), exactly one of text and binary.  0, GW_EINVAL with err,
 * or GW_ENOMEM. */
static int amqp_input_content(gw_envelope_t *env, const json_t *o, char *err, size_t errlen)
{
    json_t *bin = json_object_get(o, "binary"), *dc = json_object_get(o, "data_coding");
    gw_bin_spec_t s = { NULL, 0, NULL, NULL, -1 };
    const char *text;
    int rc;

    if ((json_object_get(o, "text") == NULL) == (bin == NULL)) {
        snprintf(err, errlen, "give exactly one of text and binary");
        return GW_EINVAL;
    }
    if (bin == NULL) {
        rc = amqp_input_str(o, "text", 1, 0, AMQP_TEXT_MAX, &text, err, errlen);
        if (rc == 0 && (json_object_get(o, "encoding") || json_object_get(o, "udh") || dc)) {
            snprintf(err, errlen, "encoding, udh and data_coding go with binary, not text");
            rc = GW_EINVAL;
        }
        if (rc != 0)
            return rc;
        env->body_len = strlen(text);
        if (gw_env_set_str(&env->body, text, env->body_len) < 0 ||
            gw_env_set_str(&env->content_type, "text/plain", (size_t)-1) < 0)
            return GW_ENOMEM;
        return 0;
    }
    if (!json_is_string(bin)) {
        snprintf(err, errlen, "binary: not a string");
        return GW_EINVAL;
    }
    if (dc != NULL && !json_is_integer(dc)) {
        snprintf(err, errlen, "data_coding: not an integer from 0 to 255");
        return GW_EINVAL;
    }
    rc = amqp_input_str(o, "encoding", 0, 1, 16, &s.encoding, err, errlen);
    if (rc == 0)
        rc = amqp_input_str(o, "udh", 0, 1, 2 * GW_BIN_SMS_MAX, &s.udh, err, errlen);
    if (rc != 0)
        return rc;
    s.data = json_string_value(bin);
    s.data_len = json_string_length(bin);
    s.data_coding = dc == NULL ? -1 : json_integer_value(dc) < 0 ? -2 : json_integer_value(dc);
    return gw_bin_apply(env, &s, err, errlen);
}

int amqp_input_envelope(const char *body, size_t len, const amqp_in_meta_t *m,
                        gw_envelope_t **out, char *err, size_t errlen)
{
    const char *to, *from;
    json_error_t jerr;
    gw_envelope_t *env = NULL;
    char sender[2 * AMQP_NAME_MAX + 8];
    json_t *o;
    int rc;

    *out = NULL;
    o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        snprintf(err, errlen, o ? "not a JSON object" : "not JSON: %.120s", jerr.text);
        json_decref(o);
        return GW_EINVAL;
    }
    rc = amqp_input_known(o, err, errlen);
    if (rc == 0)
        rc = amqp_input_str(o, "to", 1, 1, 64, &to, err, errlen);
    if (rc == 0)
        rc = amqp_input_str(o, "from", 1, 1, 64, &from, err, errlen);
    if (rc != 0)
        goto out;
    rc = GW_ENOMEM;
    env = gw_env_new();
    if (env == NULL)
        goto out;
    rc = amqp_input_addrs(env, from, to, err, errlen);
    if (rc == 0)
        rc = amqp_input_content(env, o, err, errlen);
    if (rc == 0)
        rc = amqp_input_options(env, o, err, errlen);
    if (rc == 0)
        rc = amqp_input_follow(env, o, m->reply_to, err, errlen);
    if (rc != 0)
        goto out;
    snprintf(sender, sizeof sender, "amqp:%s/%s", m->connector, m->queue);
    if (gw_env_set_str(&env->source.adapter, "amqp", (size_t)-1) < 0 ||
        gw_env_set_str(&env->source.connector, m->connector, (size_t)-1) < 0 ||
        gw_env_set_str(&env->source.peer, m->queue, (size_t)-1) < 0 ||
        gw_env_set_tag(env, "sender", sender) < 0 ||
        (m->routing_key && gw_env_set_tag(env, "amqp_routing_key", m->routing_key) < 0) ||
        (m->message_id && gw_env_set_str(&env->corr.amqp_message_id, m->message_id,
                                         (size_t)-1) < 0) ||
        (m->correlation_id && gw_env_set_str(&env->corr.amqp_correlation_id, m->correlation_id,
                                             (size_t)-1) < 0) ||
        amqp_input_amqp_tags(env, m->props) != 0) {
        rc = GW_ENOMEM;
        goto out;
    }
    *out = env;
    env = NULL;
out:
    if (rc == GW_ENOMEM)
        snprintf(err, errlen, "out of memory");
    gw_env_unref(env);
    json_decref(o);
    return rc;
}

/* ---- the dedup table ------------------------------------------------------ */

static uint64_t amqp_dedup_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *id; id++) {
        h ^= (unsigned char)*id;
        h *= 1099511628211ULL;
    }
    return h ? h : 1; /* 0 marks a free or forgotten entry */
}

int amqp_dedup_init(amqp_dedup_t *t, size_t cap, int64_t window_ms)
{
    memset(t, 0, sizeof(*t));
    t->cap = cap;
    t->window_ms = window_ms;
    for (t->nbuckets = 16; t->nbuckets < cap; t->nbuckets <<= 1)
        ;
    t->ent = calloc(cap, sizeof(*t->ent));
    t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
    if (t->ent == NULL || t->buckets == NULL) {
        amqp_dedup_free(t);
        return GW_ENOMEM;
    }
    memset(t->buckets, 0xff, t->nbuckets * sizeof(*t->buckets)); /* all -1 */
    return 0;
}

void amqp_dedup_free(amqp_dedup_t *t)
{
    free(t->ent);
    free(t->buckets);
    t->ent = NULL;
    t->buckets = NULL;
}

/* Unlink entry i from its bucket's chain. */
static void amqp_dedup_unlink(amqp_dedup_t *t, int32_t i)
{
    int32_t *p = &t->buckets[t->ent[i].h & (t->nbuckets - 1)];

    while (*p >= 0 && *p != i)
        p = &t->ent[*p].next;
    if (*p == i)
        *p = t->ent[i].next;
}

amqp_dedup_ent_t *amqp_dedup_find(amqp_dedup_t *t, const char *msgid, int64_t now_ms)
{
    uint64_t h;
    int32_t i;

    if (t->ent == NULL || msgid == NULL || msgid[0] == '\0')
        return NULL;
    h = amqp_dedup_hash(msgid);
    for (i = t->buckets[h & (t->nbuckets - 1)]; i >= 0; i = t->ent[i].next)
        if (t->ent[i].h == h && now_ms - t->ent[i].at < t->window_ms)
            return &t->ent[i];
    return NULL;
}

amqp_dedup_ent_t *amqp_dedup_add(amqp_dedup_t *t, const char *msgid, const char *jid,
                                 int64_t now_ms)
{
    amqp_dedup_ent_t *e;
    int32_t i;

    if (t->ent == NULL || msgid == NULL || msgid[0] == '\0')
        return NULL;
    i = (int32_t)t->head;
    t->head = (t->head + 1) % t->cap;
    e = &t->ent[i];
    if (e->h != 0)
        amqp_dedup_unlink(t, i); /* the oldest is forgotten */
    e->h = amqp_dedup_hash(msgid);
    e->at = now_ms;
    e->pending = 1;
    snprintf(e->jid, sizeof e->jid, "%s", jid);
    e->next = t->buckets[e->h & (t->nbuckets - 1)];
    t->buckets[e->h & (t->nbuckets - 1)] = i;
    return e;
}

void amqp_dedup_forget(amqp_dedup_t *t, const char *msgid, const char *jid)
{
    uint64_t h;
    int32_t i;

    if (t->ent == NULL || msgid == NULL || msgid[0] == '\0')
        return;
    h = amqp_dedup_hash(msgid);
    for (i = t->buckets[h & (t->nbuckets - 1)]; i >= 0; i = t->ent[i].next) {
        if (t->ent[i].h == h && strcmp(t->ent[i].jid, jid) == 0) {
            amqp_dedup_unlink(t, i);
            t->ent[i].h = 0;
            return;
        }
    }
}
