/*
 * gw_frag.c - long messages that arrive in parts, made whole again
 * (gw_frag.h).
 *
 * Threads: gw_frag_add on the caller's thread; gw_frag_tick on the core
 * thread; the store callbacks (part stored, stale sets) on the writer
 * thread.  gw_frag_sweeping is the only shared state (atomic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../db/db.h"
#include "gw_adapter.h"
#include "gw_config.h"
#include "gw_errors.h"
#include "gw_frag.h"
#include "gw_jbuf.h"
#include "gw_log.h"
#include "gw_param.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "gw_trace.h"

#define GW_FRAG_MARKER "[...]"
_Static_assert(GW_FRAG_KEY_MAX == DB_FRAG_KEY_MAX, "a set's key travels from adapters to db/");
#define GW_FRAG_SWEEP_SETS 20

typedef struct gw_frag_ctx {
    gw_ack_cb_t cb;
    void *arg;
} gw_frag_ctx_t;

static int gw_frag_sweeping; /* atomic: a sweep job is out */
static int64_t gw_frag_last_ms; /* core thread */
static gw_stat_t *gw_frag_st_parts, *gw_frag_st_dups, *gw_frag_st_whole, *gw_frag_st_late,
    *gw_frag_st_dropped, *gw_frag_st_for_target;

int gw_frag_part_of(const gw_envelope_t *env, char *key, size_t n, int *seq, int *total)
{
    const char *tag = json_string_value(json_object_get(env->tags, "concat"));
    unsigned ref, t, s;
    char end;

    if (tag == NULL || sscanf(tag, "%u/%u/%u%c", &ref, &t, &s, &end) != 3 || t < 2 ||
        t > DB_FRAG_MAX || s < 1 || s > t)
        return 0;
    snprintf(key, n, "%.40s|%.40s|%.40s|%u|%u",
             env->source.connector ? env->source.connector : "",
             env->from.address ? env->from.address : "", env->to.address ? env->to.address : "",
             ref, t);
    *seq = (int)s;
    *total = (int)t;
    return 1;
}

int gw_frag_keep(const gw_envelope_t *env, int seq, int total)
{
    char *target = NULL, *rule = NULL;
    gw_connector_t *c = NULL;
    int keep = 1;

    if (gw_core_dry_run(env, &target, &rule) == GW_OK && (c = gw_connector_get(target)) != NULL)
        keep = strcmp(c->adapter->name, "smpp") == 0;
    if (!keep)
        gw_stat_add(gw_frag_st_for_target, 1);
    if (gw_trace_on() && target != NULL)
        gw_trace_envf(env, GW_TRACE_ROUTE, "part %d/%d: target %s (%s) %s", seq, total, target,
                      c != NULL ? c->adapter->name : "unknown",
                      keep ? "carries parts: kept" : "cannot carry parts: joined first");
    if (c != NULL)
        gw_connector_put(c);
    free(target);
    free(rule);
    return keep;
}

/* The envelope of set's parts (parsed: parts[i] of set->seq[i]) as one. */
static gw_envelope_t *gw_frag_join(const db_frag_set_t *set, gw_envelope_t *const *parts)
{
    const gw_envelope_t *b = parts[0];
    gw_envelope_t *w = gw_env_new();
    char scratch[1024], tag[32];
    gw_jbuf_t body = GW_JBUF_IN(scratch);
    const char *k;
    json_t *v;
    int rc = 0, i = 0;

    if (w == NULL)
        return NULL;
    /* the lowest-numbered part's id: the message_id its sender was given
     * (one id per set, so an insert offered again after a failed commit
     * is the same message) */
    memcpy(w->id, b->id, sizeof w->id);
    w->expires_at = b->expires_at;
    w->binary = b->binary;
    w->data_coding = b->data_coding;
    w->registered_delivery = b->registered_delivery;
    /* the bodies in order; "[...]" where a part never came */
    for (int seq = 1; seq <= set->total; seq++) {
        if (i < set->n && set->seq[i] == seq) {
            gw_jbuf_put(&body, parts[i]->body, parts[i]->body_len);
            i++;
        } else if (!w->binary) {
            gw_jbuf_put(&body, GW_FRAG_MARKER, sizeof GW_FRAG_MARKER - 1);
        }
    }
    w->body_len = body.len;
    if ((w->body = gw_jbuf_done(&body)) == NULL)
        rc = GW_ENOMEM;
    if (rc == 0)
        rc = gw_env_set_str(&w->content_type, b->content_type ? b->content_type : "text/plain",
                            (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&w->source.adapter, b->source.adapter, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&w->source.connector, b->source.connector, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&w->source.peer, b->source.peer, (size_t)-1);
    if (rc == 0)
        rc = gw_env_set_str(&w->corr.smpp_message_id, b->corr.smpp_message_id, (size_t)-1);
    if (rc == 0)
        rc = gw_addr_copy(&w->from, &b->from);
    if (rc == 0)
        rc = gw_addr_copy(&w->to, &b->to);
    json_object_foreach(b->tags, k, v)
        if (rc == 0 && strcmp(k, "concat") != 0 && json_is_string(v))
            rc = gw_env_set_tag(w, k, json_string_value(v));
    snprintf(tag, sizeof tag, "%d/%d", set->n, set->total);
    if (rc == 0)
        rc = gw_env_set_tag(w, "parts", tag);
    if (rc != 0) {
        gw_env_unref(w);
        return NULL;
    }
    return w;
}

/* The assembled message committed (rc 0) or not: then its set waits
 * again, for the sweep to offer it once more.  Writer thread. */
static void gw_frag_on_accepted(gw_envelope_t *env, int rc, void *arg)
{
    char *key = arg;

    if (rc != 0) {
        GW_WARN("core", "%s: assembled message not stored (%s); its parts wait", env->id,
                gw_strerror(rc));
        db_frag_release(key, 0);
    }
    free(key);
}

/* Make set whole and accept it.  Writer thread; frees set. */
static void gw_frag_assemble(db_frag_set_t *set, int late)
{
    gw_envelope_t *parts[DB_FRAG_MAX] = { 0 };
    gw_envelope_t *whole = NULL;
    char *key = NULL;
    const char *why = "";
    int n = 0, rc = GW_ENOMEM;

    for (; n < set->n; n++) {
        json_t *o = json_loads(set->json[n], JSON_ALLOW_NUL, NULL);
        parts[n] = o ? gw_env_from_json(o, &why) : NULL;
        json_decref(o);
        if (parts[n] == NULL)
            break;
    }
    if (n == set->n && n > 0 && (whole = gw_frag_join(set, parts)) != NULL &&
        (key = strdup(set->key)) != NULL)
        rc = gw_core_accept_parts(whole, set->key, gw_frag_on_accepted, key);
    if (rc == 0) {
        gw_stat_add(late ? gw_frag_st_late : gw_frag_st_whole, 1);
        GW_ENV_INFO(whole, "core", "%s: long message from %d of %d part(s)%s", whole->id, set->n,
                    set->total, late ? ", the rest did not come in time" : "");
    } else if (rc == GW_ENOROUTE || rc == GW_EREJECTED || n < set->n) {
        /* nowhere to go, or unreadable: it never will */
        GW_ERR("core", "long message %s: %s; its %d part(s) dropped", set->key,
               n < set->n ? "a part cannot be read" : gw_strerror(rc), set->n);
        gw_stat_add(gw_frag_st_dropped, 1);
        db_frag_release(set->key, 1);
        free(key);
    } else {
        GW_WARN("core", "long message %s not accepted now (%s); offered again later", set->key,
                gw_strerror(rc));
        db_frag_release(set->key, 0);
        free(key);
    }
    gw_env_unref(whole);
    for (int i = 0; i < n; i++)
        gw_env_unref(parts[i]);
    db_frag_set_free(set);
}

/* db_frag_cb_t: writer thread. */
static void gw_frag_on_stored(void *arg, int rc, int dup, db_frag_set_t *set)
{
    gw_frag_ctx_t *ctx = arg;

    if (rc == 0)
        gw_stat_add(dup ? gw_frag_st_dups : gw_frag_st_parts, 1);
    ctx->cb(ctx->arg, rc); /* the part is durable: the peer hears so */
    free(ctx);
    if (set != NULL)
        gw_frag_assemble(set, 0);
}

int gw_frag_add(const gw_envelope_t *env, const char *key, int seq, int total, gw_ack_cb_t cb,
                void *arg)
{
    gw_frag_ctx_t *ctx = calloc(1, sizeof *ctx);
    char *json = gw_env_to_text(env);
    int rc = GW_ENOMEM;

    if (ctx != NULL && json != NULL) {
        char digest[16];
        uint32_t h = 2166136261u; /* FNV-1a of the part's content */
        for (size_t i = 0; env->body != NULL && i < env->body_len; i++)
            h = (h ^ (uint8_t)env->body[i]) * 16777619u;
        snprintf(digest, sizeof digest, "%08x", (unsigned)h);
        ctx->cb = cb;
        ctx->arg = arg;
        rc = db_frag_add(key, seq, total, digest, json, gw_frag_on_stored, ctx);
    }
    free(json);
    if (rc != 0)
        free(ctx);
    return rc;
}

/* A timed-out set: writer thread. */
static void gw_frag_on_stale(void *arg, db_frag_set_t *set)
{
    char mode[16];
    const gw_param_t *p = gw_param_find("core.reassembly_incomplete");

    (void)arg;
    if (p != NULL)
        gw_param_get(p, mode, sizeof mode);
    else
        gw_strlcpy(mode, "deliver", sizeof mode);
    if (set->n < set->total && strcasecmp(mode, "fail") == 0) {
        GW_ERR("core", "long message %s: %d of %d part(s) in %d s; dropped "
               "(core.reassembly_incomplete = fail)", set->key, set->n, set->total,
               __atomic_load_n(&gw_config.reassembly_timeout_s, __ATOMIC_RELAXED));
        gw_stat_add(gw_frag_st_dropped, 1);
        db_frag_release(set->key, 1);
        db_frag_set_free(set);
        return;
    }
    gw_frag_assemble(set, set->n < set->total);
}

static void gw_frag_on_swept(void *arg, int n)
{
    (void)arg;
    (void)n;
    __atomic_store_n(&gw_frag_sweeping, 0, __ATOMIC_RELEASE);
}

void gw_frag_tick(int64_t now_ms)
{
    int64_t wait = (int64_t)__atomic_load_n(&gw_config.reassembly_timeout_s, __ATOMIC_RELAXED) *
                   1000;

    if (now_ms - gw_frag_last_ms < 1000 || __atomic_load_n(&gw_frag_sweeping, __ATOMIC_ACQUIRE))
        return;
    gw_frag_last_ms = now_ms;
    __atomic_store_n(&gw_frag_sweeping, 1, __ATOMIC_RELEASE);
    if (db_frag_sweep(now_ms - wait, GW_FRAG_SWEEP_SETS, gw_frag_on_stale, gw_frag_on_swept,
                      NULL) != 0)
        __atomic_store_n(&gw_frag_sweeping, 0, __ATOMIC_RELEASE);
}

void gw_frag_init(void)
{
    gw_frag_st_parts = gw_stat("core.parts_stored", "parts of long messages stored to be joined");
    gw_frag_st_dups = gw_stat("core.parts_duplicate", "parts of long messages received twice");
    gw_frag_st_whole = gw_stat("core.reassembled", "long messages joined from all their parts");
    gw_frag_st_late = gw_stat("core.reassembled_incomplete",
                              "long messages delivered with parts missing after "
                              "core.reassembly_timeout_s");
    gw_frag_st_dropped = gw_stat("core.reassembly_dropped",
                                 "long messages given up: no route, unreadable, or incomplete "
                                 "with core.reassembly_incomplete = fail");
    gw_frag_st_for_target = gw_stat("core.parts_joined_for_target",
                                    "parts of customers' long messages joined because the "
                                    "route's first target cannot carry parts");
}
