/*
 * gw_envelope.c - the envelope: life cycle, ids and the JSON form.
 *
 * Ids are ULIDs: 48 bits of milliseconds then 80 bits that start random
 * and are incremented within the same millisecond, so ids sort by creation
 * time across threads (one mutex, gw_env_id_lock, guards the last id).
 * The random parts come from gw_rand (a key stream, not a getrandom call
 * per millisecond).
 *
 * The JSON form is versioned ("v"); decoding accepts unknown members (a
 * newer node may add some) and rejects a missing id, to or body.
 *
 * Threads: any; an envelope's fields follow the rules in gw_envelope.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "gw_envelope.h"
#include "gw_errors.h"
#include "gw_jbuf.h"
#include "gw_rand.h"

static pthread_mutex_t gw_env_id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t gw_env_last_ms;
static unsigned char gw_env_last_rand[10];

static const char *const gw_status_names[GW_ST__COUNT] = {
    "received", "queued", "sending", "submitted", "delivered", "failed", "expired", "rejected",
};

int64_t gw_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gw_env_make_id(char *out)
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char raw[16];
    uint64_t ms = (uint64_t)gw_now_ms();
    int i, bit;

    pthread_mutex_lock(&gw_env_id_lock);
    if (ms <= gw_env_last_ms) {
        /* same (or earlier: clock stepped back) millisecond: increment */
        ms = gw_env_last_ms;
        for (i = 9; i >= 0 && ++gw_env_last_rand[i] == 0; i--)
            ;
    } else {
        gw_rand_bytes(gw_env_last_rand, sizeof gw_env_last_rand);
        gw_env_last_rand[0] &= 0x7f; /* room to increment within the ms */
        gw_env_last_ms = ms;
    }
    for (i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (40 - 8 * i));
    memcpy(raw + 6, gw_env_last_rand, 10);
    pthread_mutex_unlock(&gw_env_id_lock);

    /* 128 bits -> 26 base32 digits, the first carrying 3 bits */
    for (i = 0; i < GW_ENV_ID_LEN; i++) {
        int v = 0, b;
        for (b = 0; b < 5; b++) {
            bit = i * 5 + b - 2; /* 130 bit positions, the first two are zero */
            v <<= 1;
            if (bit >= 0)
                v |= (raw[bit / 8] >> (7 - bit % 8)) & 1;
        }
        out[i] = b32[v];
    }
    out[GW_ENV_ID_LEN] = '\0';
}

gw_envelope_t *gw_env_new(void)
{
    gw_envelope_t *env = calloc(1, sizeof(*env));

    if (env == NULL)
        return NULL;
    env->tags = json_object();
    if (env->tags == NULL) {
        free(env);
        return NULL;
    }
    gw_env_make_id(env->id);
    env->version = GW_ENV_VERSION;
    env->created_at = gw_now_ms();
    env->data_coding = -1;
    env->refs = 1;
    return env;
}

gw_envelope_t *gw_env_ref(gw_envelope_t *env)
{
    __atomic_add_fetch(&env->refs, 1, __ATOMIC_RELAXED);
    return env;
}

void gw_env_unref(gw_envelope_t *env)
{
    if (env == NULL || __atomic_sub_fetch(&env->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(env->source.adapter);
    free(env->source.connector);
    free(env->source.peer);
    free(env->source.domain);
    free(env->from.address);
    free(env->to.address);
    free(env->body);
    free(env->content_type);
    free(env->corr.sip_call_id);
    free(env->corr.smpp_message_id);
    free(env->corr.amqp_message_id);
    free(env->corr.amqp_correlation_id);
    free(env->report.of);
    free(env->report.stat);
    json_decref(env->tags);
    free(env);
}

int gw_env_set_str(char **field, const char *s, size_t n)
{
    char *copy = NULL;

    if (s != NULL) {
        if (n == (size_t)-1)
            n = strlen(s);
        copy = malloc(n + 1);
        if (copy == NULL)
            return GW_ENOMEM;
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    free(*field);
    *field = copy;
    return GW_OK;
}

int gw_env_set_tag(gw_envelope_t *env, const char *key, const char *value)
{
    return json_object_set_new(env->tags, key, json_string(value)) == 0 ? GW_OK : GW_ENOMEM;
}

const char *gw_status_name(gw_status_t st)
{
    return (unsigned)st < GW_ST__COUNT ? gw_status_names[st] : "unknown";
}

int gw_status_parse(const char *s)
{
    int i;

    for (i = 0; s && i < GW_ST__COUNT; i++)
        if (strcmp(s, gw_status_names[i]) == 0)
            return i;
    return -1;
}

/* ---- JSON ------------------------------------------------------------- */

/* "key":{"address":...,"type":...,"ton":n,"npi":n} */
static void gw_env_text_addr(gw_jbuf_t *b, const char *key, const gw_addr_t *a)
{
    gw_jbuf_put(b, "\"", 1);
    gw_jbuf_puts(b, key);
    gw_jbuf_puts(b, "\":{\"address\":");
    gw_jbuf_str(b, a->address);
    gw_jbuf_puts(b, ",\"type\":\"");
    gw_jbuf_puts(b, gw_addr_type_name(a->type));
    gw_jbuf_puts(b, "\",\"ton\":");
    gw_jbuf_int(b, a->ton);
    gw_jbuf_puts(b, ",\"npi\":");
    gw_jbuf_int(b, a->npi);
    gw_jbuf_put(b, "}", 1);
}

/* ,"key":"s" when s is set; *first tracks the object's first member. */
static void gw_env_text_opt(gw_jbuf_t *b, int *first, const char *key, const char *s)
{
    if (s == NULL)
        return;
    if (!*first)
        gw_jbuf_put(b, ",", 1);
    gw_jbuf_str(b, key); /* tag keys come from peers too */
    gw_jbuf_put(b, ":", 1);
    gw_jbuf_str(b, s);
    *first = 0;
}

char *gw_env_to_text(const gw_envelope_t *env)
{
    char scratch[2048]; /* most envelopes fit: one malloc of the final size */
    gw_jbuf_t b = GW_JBUF_IN(scratch);
    const char *key;
    json_t *v;
    int first;

    gw_jbuf_puts(&b, "{\"id\":");
    gw_jbuf_str(&b, env->id);
    gw_jbuf_puts(&b, ",\"v\":");
    gw_jbuf_int(&b, env->version);
    gw_jbuf_puts(&b, ",\"created_at\":");
    gw_jbuf_int(&b, (long long)env->created_at);
    gw_jbuf_puts(&b, ",\"expires_at\":");
    gw_jbuf_int(&b, (long long)env->expires_at);
    gw_jbuf_put(&b, ",", 1);
    gw_env_text_addr(&b, "from", &env->from);
    gw_jbuf_put(&b, ",", 1);
    gw_env_text_addr(&b, "to", &env->to);
    gw_jbuf_puts(&b, ",\"content_type\":");
    gw_jbuf_str(&b, env->content_type ? env->content_type : "text/plain");
    gw_jbuf_puts(&b, ",\"data_coding\":");
    gw_jbuf_int(&b, env->data_coding);
    gw_jbuf_puts(&b, ",\"registered_delivery\":");
    gw_jbuf_int(&b, env->registered_delivery);
    gw_jbuf_puts(&b, ",\"source\":{");
    first = 1;
    gw_env_text_opt(&b, &first, "adapter", env->source.adapter);
    gw_env_text_opt(&b, &first, "connector", env->source.connector);
    gw_env_text_opt(&b, &first, "peer", env->source.peer);
    gw_env_text_opt(&b, &first, "domain", env->source.domain);
    gw_jbuf_puts(&b, "},\"corr\":{");
    first = 1;
    gw_env_text_opt(&b, &first, "sip_call_id", env->corr.sip_call_id);
    gw_env_text_opt(&b, &first, "smpp_message_id", env->corr.smpp_message_id);
    gw_env_text_opt(&b, &first, "amqp_message_id", env->corr.amqp_message_id);
    gw_env_text_opt(&b, &first, "amqp_correlation_id", env->corr.amqp_correlation_id);
    gw_jbuf_put(&b, "}", 1);
    if (env->report.of != NULL) {
        gw_jbuf_puts(&b, ",\"report\":{");
        first = 1;
        gw_env_text_opt(&b, &first, "of", env->report.of);
        gw_env_text_opt(&b, &first, "stat", env->report.stat);
        gw_jbuf_puts(&b, ",\"err\":");
        gw_jbuf_int(&b, env->report.err);
        gw_jbuf_put(&b, "}", 1);
    }
    gw_jbuf_puts(&b, ",\"tags\":{");
    first = 1;
    json_object_foreach(env->tags, key, v)
        gw_env_text_opt(&b, &first, key, json_is_string(v) ? json_string_value(v) : "");
    gw_jbuf_put(&b, "}", 1);
    if (env->body && env->binary) {
        /* binary bodies travel base64-encoded */
        size_t elen = sodium_base64_ENCODED_LEN(env->body_len, sodium_base64_VARIANT_ORIGINAL);
        char *enc = malloc(elen);
        if (enc == NULL) {
            b.oom = 1;
        } else {
            sodium_bin2base64(enc, elen, (const unsigned char *)env->body, env->body_len,
                              sodium_base64_VARIANT_ORIGINAL);
            gw_jbuf_puts(&b, ",\"body_base64\":");
            gw_jbuf_str(&b, enc);
            free(enc);
        }
    } else if (env->body) {
        gw_jbuf_puts(&b, ",\"body\":");
        gw_jbuf_strn(&b, env->body, env->body_len);
    }
    gw_jbuf_put(&b, "}", 1);
    return gw_jbuf_done(&b);
}

/* The tree form is the text form parsed: one writer for both, so they can
 * never disagree (the tree is for the MI, off the message path). */
json_t *gw_env_to_json(const gw_envelope_t *env)
{
    char *text = gw_env_to_text(env);
    json_t *o = text ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL; /* bodies may hold U+0000 */

    free(text);
    return o;
}

/* Copy the string member key of obj into *field; absent or null is fine,
 * another type is an error. */
static int gw_env_get_str(const json_t *obj, const char *key, char **field)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return GW_OK;
    if (!json_is_string(v))
        return GW_EINVAL;
    return gw_env_set_str(field, json_string_value(v), json_string_length(v));
}

/* Fold the result r of one member's copy into *rc: the lack of memory
 * wins over a wrong type, so the caller does not call good input bad. */
static void gw_env_note(int *rc, int r)
{
    if (r < 0 && *rc != GW_ENOMEM)
        *rc = r;
}

/* An address member; the type names and the reading of the previous
 * version's "e164" are gw_addr_load's. */
static int gw_env_get_addr(const json_t *obj, gw_addr_t *a)
{
    json_t *t;

    if (!json_is_object(obj))
        return GW_EINVAL;
    t = json_object_get(obj, "type");
    if (t != NULL && !json_is_string(t))
        return GW_EINVAL;
    return gw_addr_load(a, json_string_value(json_object_get(obj, "address")),
                        json_string_value(t), (int)json_integer_value(json_object_get(obj, "ton")),
                        (int)json_integer_value(json_object_get(obj, "npi")));
}

gw_envelope_t *gw_env_from_json(const json_t *o, const char **err)
{
    gw_envelope_t *env;
    const char *id;
    json_t *v, *src, *corr, *rep;
    int rc = 0;

    *err = NULL;
    if (!json_is_object(o)) {
        *err = "envelope is not an object";
        return NULL;
    }
    env = gw_env_new();
    if (env == NULL) {
        *err = "out of memory";
        return NULL;
    }
    id = json_string_value(json_object_get(o, "id"));
    if (id == NULL || strlen(id) != GW_ENV_ID_LEN) {
        *err = "id missing or not a 26-character ULID";
        goto out_unref;
    }
    memcpy(env->id, id, GW_ENV_ID_LEN + 1);
    v = json_object_get(o, "v");
    env->version = v ? (int)json_integer_value(v) : GW_ENV_VERSION;
    if (env->version > GW_ENV_VERSION) {
        *err = "envelope version is newer than this node understands";
        goto out_unref;
    }
    if ((v = json_object_get(o, "created_at")) != NULL)
        env->created_at = json_integer_value(v);
    env->expires_at = json_integer_value(json_object_get(o, "expires_at"));
    rc = gw_env_get_addr(json_object_get(o, "from"), &env->from);
    if (rc == GW_ENOMEM)
        goto out_nomem;
    if (rc != 0) {
        *err = "from: address missing or malformed";
        goto out_unref;
    }
    rc = gw_env_get_addr(json_object_get(o, "to"), &env->to);
    if (rc == GW_ENOMEM)
        goto out_nomem;
    if (rc != 0) {
        *err = "to: address missing or malformed";
        goto out_unref;
    }
    if ((src = json_object_get(o, "source")) != NULL) {
        gw_env_note(&rc, gw_env_get_str(src, "adapter", &env->source.adapter));
        gw_env_note(&rc, gw_env_get_str(src, "connector", &env->source.connector));
        gw_env_note(&rc, gw_env_get_str(src, "peer", &env->source.peer));
        gw_env_note(&rc, gw_env_get_str(src, "domain", &env->source.domain));
    }
    if ((corr = json_object_get(o, "corr")) != NULL) {
        gw_env_note(&rc, gw_env_get_str(corr, "sip_call_id", &env->corr.sip_call_id));
        gw_env_note(&rc, gw_env_get_str(corr, "smpp_message_id", &env->corr.smpp_message_id));
        gw_env_note(&rc, gw_env_get_str(corr, "amqp_message_id", &env->corr.amqp_message_id));
        gw_env_note(&rc,
                    gw_env_get_str(corr, "amqp_correlation_id", &env->corr.amqp_correlation_id));
    }
    if ((rep = json_object_get(o, "report")) != NULL) {
        gw_env_note(&rc, gw_env_get_str(rep, "of", &env->report.of));
        gw_env_note(&rc, gw_env_get_str(rep, "stat", &env->report.stat));
        env->report.err = (int)json_integer_value(json_object_get(rep, "err"));
    }
    /* version 1 also carried route, target, attempts, status and reason:
     * delivery state, now the delivery record's; ignored here */
    gw_env_note(&rc, gw_env_get_str(o, "content_type", &env->content_type));
    if (rc == GW_ENOMEM)
        goto out_nomem;
    if (rc != 0) {
        *err = "a string member has another type";
        goto out_unref;
    }
    if ((v = json_object_get(o, "body")) != NULL && json_is_string(v)) {
        if (gw_env_set_str(&env->body, json_string_value(v), json_string_length(v)) != 0)
            goto out_nomem;
        env->body_len = json_string_length(v);
    } else if ((v = json_object_get(o, "body_base64")) != NULL && json_is_string(v)) {
        size_t cap = json_string_length(v), len = 0;
        env->body = malloc(cap + 1);
        if (env->body == NULL)
            goto out_nomem;
        if (sodium_base642bin((unsigned char *)env->body, cap, json_string_value(v), cap, NULL,
                              &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
            *err = "body_base64 is not valid base64";
            goto out_unref;
        }
        env->body[len] = '\0';
        env->body_len = len;
        env->binary = 1;
    } else {
        *err = "body or body_base64 missing";
        goto out_unref;
    }
    v = json_object_get(o, "data_coding");
    env->data_coding = v ? (int)json_integer_value(v) : -1;
    env->registered_delivery = (int)json_integer_value(json_object_get(o, "registered_delivery"));
    if ((v = json_object_get(o, "tags")) != NULL) {
        if (!json_is_object(v)) {
            *err = "tags is not an object";
            goto out_unref;
        }
        if (json_object_update(env->tags, v) != 0)
            goto out_nomem;
    }
    return env;
out_nomem:
    *err = "out of memory";
out_unref:
    gw_env_unref(env);
    return NULL;
}
