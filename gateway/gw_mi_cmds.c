/*
 * gw_mi_cmds.c - the gateway's own management commands.
 *
 * system.*, stats.get, connectors.*, messages.*, params.* (routes.* and
 * rates.*: gw_route_mi.c): each
 * handler validates its params, calls db/ or the registries, and writes
 * its reply through gw_mi_reply_t.  A change to connectors is stored
 * first and then applied to the running system at once (the registry is
 * reloaded).
 *
 * Threads: handlers run under gw_mi_lock on an HTTP or the main thread.
 */
#include <event2/event.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_route.h"
#include "gw_adapter.h"
#include "gw_auth.h"
#include "gw_binary.h"
#include "gw_config.h"
#include "gw_core.h"
#include "gw_cq.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_report.h"
#include "gw_report_sip.h"
#include "gw_report_http.h"
#include "gw_stats.h"
#include "gw_sip_users.h"
#include "gw_trusted.h"
#include "gw_version.h"

/* The most events messages.get returns for one message. */
#define GW_MI_MSG_EVENTS_MAX 200

static int64_t gw_mi_started_ms;

static void gw_mi_system_version(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_mi_result(r, json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "version", JUNCTION_VERSION,
                              "build", __DATE__ " " __TIME__, "libraries", "libevent",
                              event_get_version(), "jansson", JANSSON_VERSION, "libsodium",
                              sodium_version_string()));
}

static void gw_mi_system_uptime(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_mi_result(r, json_pack("{s:I, s:I}", "uptime_s",
                              (json_int_t)((gw_now_ms() - gw_mi_started_ms) / 1000),
                              "started_at", (json_int_t)gw_mi_started_ms));
}

static void gw_mi_system_methods(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_mi_result(r, gw_mi_methods_json());
}

static void gw_mi_system_reload(const json_t *params, gw_mi_reply_t *r)
{
    json_t *errors = NULL, *stored, *preport = NULL;
    int rc, prc;

    (void)params;
    rc = gw_rules_reload(&errors);
    if (rc != 0) {
        gw_mi_error_data(r, GW_MI_INTERNAL_ERROR, errors, "routes not reloaded: %s",
                         json_string_value(json_object_get(json_array_get(errors, 0), "text"))
                             ?: gw_strerror(rc));
        return;
    }
    stored = db_params_list();
    if (stored == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "parameters could not be read: nothing reloaded");
        return;
    }
    prc = gw_params_reload(stored, &preport);
    json_decref(stored);
    if (prc != 0) {
        gw_mi_error_data(r, GW_MI_INVALID_PARAMS, json_incref(json_object_get(preport, "errors")),
                         "stored parameters are invalid: none applied, routes reloaded");
        json_decref(preport);
        return;
    }
    rc = gw_connectors_reload();
    gw_mi_result(r, json_pack("{s:b, s:b, s:b, s:o, s:i}", "connectors_ok", rc == 0,
                              "trusted_ok", gw_trusted_load() == 0, "sip_users_ok",
                              gw_sip_users_load() == 0, "params", preport, "sessions_ended",
                              gw_auth_reload()));
}

static void gw_mi_stats_get(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_mi_result(r, json_pack("{s:o}", "counters", gw_stats_json()));
}

/* ---- connectors --------------------------------------------------------- */

static void gw_mi_connectors_list(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_mi_result(r, gw_connectors_status());
}

/* Validate conf for an adapter; 0 or an error already written to r. */
static int gw_mi_check_conf(const gw_adapter_t *a, const json_t *conf, gw_mi_reply_t *r)
{
    char err[256] = "";

    if (!json_is_object(conf)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"conf\" must be an object");
        return GW_EINVAL;
    }
    if (a->conn_check && a->conn_check(conf, err, sizeof(err)) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "invalid %s connector: %s", a->name, err);
        return GW_EINVAL;
    }
    return GW_OK;
}

static void gw_mi_connectors_apply(gw_mi_reply_t *r, const char *name)
{
    gw_connector_t *c;
    json_t *st = NULL;

    if (gw_connectors_reload() != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR,
                    "stored, but connector %s failed to start (see the log)", name);
        return;
    }
    c = gw_connector_get(name);
    if (c && c->enabled && c->adapter->conn_status)
        st = c->adapter->conn_status(c);
    gw_connector_put(c);
    gw_mi_result(r, json_pack("{s:s, s:o}", "name", name, "status", st ? st : json_object()));
}

static void gw_mi_connectors_add(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);
    const char *type = name ? gw_mi_str(params, "type", r) : NULL;
    const json_t *conf = json_object_get(params, "conf");
    const gw_adapter_t *a;
    int rc;

    if (type == NULL)
        return;
    a = gw_adapter_find(type);
    if (a == NULL || a->conn_open == NULL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "type must be one of smpp, sip, amqp (got \"%s\")",
                    type);
        return;
    }
    if (strlen(name) >= sizeof(((gw_connector_t *)0)->name)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "name is too long");
        return;
    }
    if (strncmp(name, GW_REPORT_CONN_PREFIX, sizeof GW_REPORT_CONN_PREFIX - 1) == 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "names beginning with \"%s\" are the SMPP accounts' own connectors "
                    "(accounts.add makes them)", GW_REPORT_CONN_PREFIX);
        return;
    }
    if (strcmp(name, GW_REPORT_SIP_CONN) == 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "\"%s\" is the SIP adapter's own connector (reports to SIP senders)",
                    GW_REPORT_SIP_CONN);
        return;
    }
    if (strcmp(name, GW_REPORT_HTTP_CONN) == 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "\"%s\" is the HTTP adapter's own connector (receipt callbacks)",
                    GW_REPORT_HTTP_CONN);
        return;
    }
    if (gw_mi_check_conf(a, conf, r) != 0)
        return;
    rc = db_connector_add(name, type, conf, (int)gw_mi_opt_int(params, "enabled", 1));
    if (rc == GW_EEXIST) {
        gw_mi_error(r, GW_MI_CONFLICT, "a connector named \"%s\" exists", name);
        return;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "connector not stored: %s", gw_strerror(rc));
        return;
    }
    gw_mi_connectors_apply(r, name);
}

static void gw_mi_connectors_update(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);
    const json_t *conf = json_object_get(params, "conf");
    json_t *enabled = json_object_get(params, "enabled");
    gw_connector_t *c;
    int rc;

    if (name == NULL)
        return;
    c = gw_connector_get(name);
    if (c == NULL) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no connector named \"%s\"", name);
        return;
    }
    rc = conf ? gw_mi_check_conf(c->adapter, conf, r) : GW_OK;
    gw_connector_put(c);
    if (rc != 0)
        return;
    if (enabled && !json_is_boolean(enabled)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "enabled must be true or false");
        return;
    }
    rc = db_connector_update(name, conf, enabled ? json_is_true(enabled) : -1);
    if (rc == GW_ENOTFOUND) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no connector named \"%s\"", name);
        return;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "connector not updated: %s", gw_strerror(rc));
        return;
    }
    gw_mi_connectors_apply(r, name);
}

static void gw_mi_connectors_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);
    int rc;

    if (name == NULL)
        return;
    rc = db_connector_delete(name);
    if (rc == GW_ENOTFOUND) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no connector named \"%s\"", name);
        return;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "connector not deleted: %s", gw_strerror(rc));
        return;
    }
    gw_connectors_reload();
    gw_mi_result(r, json_pack("{s:b}", "deleted", 1));
}

/* ---- messages ----------------------------------------------------------- */

typedef struct gw_mi_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, rc;
} gw_mi_wait_t;

/* Writer thread: the injected message is durable (or not). */
static void gw_mi_inject_committed(gw_envelope_t *env, int rc, void *arg)
{
    gw_mi_wait_t *w = arg;

    (void)env;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    w->rc = rc;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* env->from and env->to from MI text by the rules every surface shares
 * (gw_addr.h), so "4915..." here is what it is from SIP or SMPP.  0, or -1
 * with the error set in r. */
static int gw_mi_set_addrs(gw_envelope_t *env, const char *from, const char *to,
                           gw_mi_reply_t *r)
{
    int rc = gw_addr_normalise(&env->from, from, GW_ADDR_TON_NONE, 0);

    if (rc == GW_EINVAL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "from: not an address");
        return -1;
    }
    if (rc == 0)
        rc = gw_addr_normalise(&env->to, to, GW_ADDR_TON_NONE, 0);
    if (rc == GW_EINVAL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "to: not an address");
        return -1;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

/* callback_form ("json", the default, or "kannel": Kannel's dlr-url
 * escapes, GET) and callback_mask (1..31, Kannel's dlr-mask: which
 * outcomes) as tags, only beside a callback_url (has_url).  0, or -1 with
 * the error written. */
static int gw_mi_inject_callback_form(gw_envelope_t *env, const json_t *params, int has_url,
                                      gw_mi_reply_t *r)
{
    const char *form = gw_mi_opt_str(params, "callback_form", NULL);
    long long mask = gw_mi_opt_int(params, "callback_mask", 0);
    char num[8];

    if (!has_url && (json_object_get(params, "callback_form") != NULL ||
                     json_object_get(params, "callback_mask") != NULL)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "callback_form and callback_mask need a callback_url");
        return -1;
    }
    if (json_object_get(params, "callback_form") != NULL &&
        (form == NULL || (strcmp(form, "json") != 0 && strcmp(form, "kannel") != 0))) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "callback_form must be json or kannel");
        return -1;
    }
    if (json_object_get(params, "callback_mask") != NULL && (mask < 1 || mask > 31)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "callback_mask must be 1..31 (Kannel's dlr-mask)");
        return -1;
    }
    snprintf(num, sizeof num, "%lld", mask);
    if ((form != NULL && strcmp(form, "kannel") == 0 &&
         gw_env_set_tag(env, GW_REPORT_HTTP_TAG_FORM, "kannel") < 0) ||
        (mask > 0 && gw_env_set_tag(env, GW_REPORT_HTTP_TAG_MASK, num) < 0)) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

/* The optional members of messages.inject as the envelope's tags:
 * tags {key: "value"}, validity_s, client_ref, coding ("gsm" | "ucs2"),
 * callback_url (checked here: gw_report_http.h) with callback_form ("json"
 * | "kannel") and callback_mask (Kannel's dlr-mask bits 1, 2, 16).
 * 0, or -1 with the error written. */
static int gw_mi_inject_options(gw_envelope_t *env, const json_t *params, gw_mi_reply_t *r)
{
    json_t *tags = json_object_get(params, "tags"), *v;
    const char *key, *ref = gw_mi_opt_str(params, "client_ref", NULL);
    const char *coding = gw_mi_opt_str(params, "coding", NULL);
    const char *cb = gw_mi_opt_str(params, GW_REPORT_HTTP_TAG, NULL);
    long long validity = gw_mi_opt_int(params, "validity_s", 0);
    char num[24], why[128];

    if (tags != NULL && !json_is_object(tags)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "tags must be an object of strings");
        return -1;
    }
    json_object_foreach(tags, key, v) {
        if (!json_is_string(v) || strlen(key) == 0 || strlen(key) > 64 ||
            strlen(json_string_value(v)) > 256 || strcmp(key, "sender") == 0 ||
            strcmp(key, GW_BIN_TAG_UDH) == 0 || strcmp(key, "deferred_until") == 0 ||
            strncmp(key, "callback_", 9) == 0) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS,
                        "tag '%s': keys of 1-64 characters (not sender, udh, deferred_until or "
                        "callback_*) with string values of at most 256", key);
            return -1;
        }
        if (gw_env_set_tag(env, key, json_string_value(v)) < 0)
            goto nomem;
    }
    if (validity < 0 || validity > 30 * 86400) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "validity_s must be 1..2592000 (30 days)");
        return -1;
    }
    if (validity > 0) {
        env->expires_at = gw_now_ms() + validity * 1000; /* as an SMPP validity_period */
        snprintf(num, sizeof num, "%lld", validity);
        if (gw_env_set_tag(env, "validity_s", num) < 0)
            goto nomem;
    }
    if (ref != NULL && (strlen(ref) == 0 || strlen(ref) > 64)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "client_ref must have 1-64 characters");
        return -1;
    }
    if (ref != NULL && gw_env_set_tag(env, "client_ref", ref) < 0)
        goto nomem;
    if (coding != NULL && strcmp(coding, "gsm") != 0 && strcmp(coding, "ucs2") != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "coding must be gsm or ucs2");
        return -1;
    }
    if (coding != NULL && strcmp(coding, "ucs2") == 0 && gw_env_set_tag(env, "coding", "ucs2") < 0)
        goto nomem;
    if (json_object_get(params, GW_REPORT_HTTP_TAG) != NULL &&
        (cb == NULL || gw_report_http_url_check(cb, why, sizeof why) != 0)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s", cb == NULL ? "callback_url must be a string"
                                                               : why);
        return -1;
    }
    if (cb != NULL && gw_env_set_tag(env, GW_REPORT_HTTP_TAG, cb) < 0)
        goto nomem;
    return gw_mi_inject_callback_form(env, params, cb != NULL, r);
nomem:
    gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    return -1;
}

/* The content of messages.inject: exactly one of body (text) and binary
 * (with encoding?, udh?, data_coding?: gw_binary.h).  0, or -1 with the
 * error written. */
static int gw_mi_inject_content(gw_envelope_t *env, const json_t *params, gw_mi_reply_t *r)
{
    json_t *body = json_object_get(params, "body"), *bin = json_object_get(params, "binary");
    json_t *dc = json_object_get(params, "data_coding");
    gw_bin_spec_t s = { NULL, 0, gw_mi_opt_str(params, "encoding", NULL),
                        gw_mi_opt_str(params, "udh", NULL), -1 };
    char err[160];
    int rc;

    if ((body == NULL) == (bin == NULL)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "give exactly one of body (text) and binary");
        return -1;
    }
    if (body != NULL) {
        const char *text = gw_mi_opt_str(params, "body", NULL);
        if (text == NULL || text[0] == '\0' ||
            json_object_get(params, "encoding") || json_object_get(params, "udh") || dc) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, text != NULL && text[0] != '\0'
                            ? "encoding, udh and data_coding go with binary, not body"
                            : "param \"body\" (a non-empty string) is required");
            return -1;
        }
        if (gw_env_set_str(&env->body, text, (size_t)-1) != 0 ||
            gw_env_set_str(&env->content_type, "text/plain", (size_t)-1) != 0)
            goto nomem;
        env->body_len = strlen(env->body);
        return 0;
    }
    if (!json_is_string(bin) || (dc != NULL && !json_is_integer(dc)) ||
        (json_object_get(params, "encoding") && s.encoding == NULL) ||
        (json_object_get(params, "udh") && s.udh == NULL)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "binary, encoding and udh must be strings, data_coding an integer");
        return -1;
    }
    s.data = json_string_value(bin);
    s.data_len = json_string_length(bin);
    s.data_coding = dc != NULL ? json_integer_value(dc) : -1;
    if (s.data_coding == -1 && dc != NULL)
        s.data_coding = -2; /* -1 given is out of range, not the default */
    rc = gw_bin_apply(env, &s, err, sizeof err);
    if (rc == GW_EINVAL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s", err);
        return -1;
    }
    if (rc == 0)
        return 0;
nomem:
    gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    return -1;
}

/* deferred_s of messages.inject: the message waits that long before its
 * first attempt (the tag deferred_until, ms since the epoch, which the
 * core holds it by).  0, or -1 with the error written. */
static int gw_mi_inject_deferred(gw_envelope_t *env, const json_t *params, gw_mi_reply_t *r)
{
    json_t *v = json_object_get(params, "deferred_s");
    char num[24];

    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 30 * 86400) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "deferred_s must be 1..2592000 (30 days)");
        return -1;
    }
    snprintf(num, sizeof num, "%lld", (long long)(gw_now_ms() + json_integer_value(v) * 1000));
    if (gw_env_set_tag(env, "deferred_until", num) < 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

static void gw_mi_messages_inject(const json_t *params, gw_mi_reply_t *r)
{
    const char *from = gw_mi_str(params, "from", r);
    const char *to = from ? gw_mi_str(params, "to", r) : NULL;
    long long rd = gw_mi_opt_int(params, "registered_delivery", 1);
    gw_mi_wait_t w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    char *target = NULL, *rule = NULL;
    struct timespec ts;
    gw_envelope_t *env;
    int rc;

    if (to == NULL)
        return;
    if (rd < 0 || rd > 0x1F) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "registered_delivery must be 0..31");
        return;
    }
    env = gw_env_new();
    if (env == NULL) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    if (gw_mi_set_addrs(env, from, to, r) != 0)
        goto out_unref;
    env->registered_delivery = (int)rd;
    if (gw_mi_inject_content(env, params, r) != 0)
        goto out_unref;
    gw_env_set_str(&env->source.adapter, "mi", (size_t)-1);
    gw_env_set_str(&env->source.connector, gw_mi_opt_str(params, "source", "mi"), (size_t)-1);
    {
        /* who sent it: the caller ("token:ci", "alice", "local:uid=0") is
         * the envelope's peer, the router's api_key for a token, and the
         * tag sender = "mi:<who>" (docs/routing.md, "Source") */
        char sender[sizeof gw_mi_caller(r)->who + 4];
        snprintf(sender, sizeof sender, "mi:%s", gw_mi_caller(r)->who);
        gw_env_set_str(&env->source.peer, gw_mi_caller(r)->who, (size_t)-1);
        if (gw_env_set_tag(env, "sender", sender) < 0) {
            gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
            goto out_unref;
        }
    }
    if (gw_mi_inject_options(env, params, r) != 0)
        goto out_unref;
    if (gw_mi_inject_deferred(env, params, r) != 0)
        goto out_unref;
    /* the names the router gives now, for the answer (the accept routes
     * the same way unless the table changes in between) */
    if (gw_core_dry_run(env, &target, &rule) != 0)
        target = rule = NULL;
    rc = gw_core_accept(env, gw_mi_inject_committed, &w);
    if (rc == GW_EFULL) {
        gw_mi_error(r, GW_MI_BUSY, "overloaded: the store's queue is full; try again later");
        goto out_unref;
    }
    if (rc == GW_ENOROUTE) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no route for %s", to);
        goto out_unref;
    }
    if (rc == GW_EREJECTED) {
        const gw_refusal_t *ref = gw_core_refusal();
        gw_mi_error_data(r, GW_MI_REJECTED,
                         json_pack("{s:I, s:s, s:i, s:i, s:b}", "rule", (json_int_t)ref->rule_id,
                                   "name", ref->rule, "sip_status", ref->sip_status,
                                   "smpp_status", ref->smpp_status, "throttled", ref->throttled),
                         "rejected by rule %lld (%s): %s", ref->rule_id, ref->rule, ref->reason);
        goto out_unref;
    }
    if (rc != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "not accepted: %s", gw_strerror(rc));
        goto out_unref;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        if (pthread_cond_timedwait(&w.cond, &w.lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&w.lock);
    if (!w.done || w.rc != 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "the store did not commit the message");
    else
        gw_mi_result(r, json_pack("{s:s, s:s?, s:s?}", "id", env->id, "target", target,
                                  "route", rule));
    if (!w.done) {
        /* the callback may still run and touch w: wait for it without limit */
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
    }
out_unref:
    free(target);
    free(rule);
    gw_env_unref(env);
}

/* The message with its state and, under "events", what its changes
 * published (the outbox, kept db.outbox_keep_s; empty when no AMQP sink
 * listened). */
static void gw_mi_messages_get(const json_t *params, gw_mi_reply_t *r)
{
    const char *id = gw_mi_str(params, "id", r);
    json_t *m;

    if (id == NULL)
        return;
    m = db_msg_get(id);
    if (m == NULL) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no message with id %s", id);
        return;
    }
    json_object_set_new(m, "events",
                        db_msg_events(id, json_integer_value(json_object_get(m, "created_at")),
                                      json_integer_value(json_object_get(m, "updated_at")),
                                      GW_MI_MSG_EVENTS_MAX));
    gw_mi_result(r, m);
}

static void gw_mi_queues_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *a = gw_cq_status();

    (void)params;
    if (a == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    else
        gw_mi_result(r, a);
}

/* messages.list: the filters of db_msg_filter_t.  A number is matched
 * as stored, normalised (gw_addr.h): a leading "+" or "00" is dropped so
 * "+4477" finds 447700900123. */
static void gw_mi_messages_list(const json_t *params, gw_mi_reply_t *r)
{
    long long limit = gw_mi_opt_int(params, "limit", 50);
    db_msg_filter_t f = {
        .status = gw_mi_opt_str(params, "status", NULL),
        .id_prefix = gw_mi_opt_str(params, "id", NULL),
        .number = gw_mi_opt_str(params, "number", NULL),
        .connector = gw_mi_opt_str(params, "connector", NULL),
        .since = gw_mi_opt_int(params, "since", 0),
        .until = gw_mi_opt_int(params, "until", 0),
    };
    json_t *a;

    if (limit < 1 || limit > 10000) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "limit must be within 1..10000");
        return;
    }
    if (f.status && f.status[0] && gw_status_parse(f.status) < 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "unknown status \"%s\"", f.status);
        return;
    }
    if (f.since < 0 || f.until < 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "since and until are ms since the epoch");
        return;
    }
    if (f.number != NULL)
        f.number += f.number[0] == '+' ? 1 : strncmp(f.number, "00", 2) == 0 ? 2 : 0;
    a = db_msgs_search((int)limit, &f);
    if (a == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot read the messages table");
    else
        gw_mi_result(r, a);
}

/* ---- params ------------------------------------------------------------- */

static void gw_mi_param_json(const gw_param_t *p, void *arg)
{
    char value[512];

    gw_param_get(p, value, sizeof(value));
    json_array_append_new(arg, json_pack("{s:s, s:s, s:b, s:s}", "name", p->name, "value", value,
                                         "runtime", (p->flags & GW_PARAM_RUNTIME) != 0, "help",
                                         p->help ? p->help : ""));
}

static void gw_mi_params_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *a = json_array();

    (void)params;
    gw_params_foreach(gw_mi_param_json, a);
    gw_mi_result(r, a);
}

static void gw_mi_param_diff(const gw_param_t *p, void *arg)
{
    char value[512];

    if (gw_param_is_default(p))
        return;
    gw_param_get(p, value, sizeof(value));
    json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:b}", "name", p->name, "value", value,
                                         "default", p->def ? p->def : "", "runtime",
                                         (p->flags & GW_PARAM_RUNTIME) != 0));
}

static void gw_mi_params_diff(const json_t *params, gw_mi_reply_t *r)
{
    json_t *a = json_array();

    (void)params;
    gw_params_foreach(gw_mi_param_diff, a);
    gw_mi_result(r, a);
}

static void gw_mi_params_set(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);
    const char *value = name ? gw_mi_str(params, "value", r) : NULL;
    const gw_param_t *p;
    char err[256];

    if (value == NULL)
        return;
    p = gw_param_find(name);
    if (p == NULL) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no parameter named %s", name);
        return;
    }
    if (!(p->flags & GW_PARAM_RUNTIME)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s can only change with a restart", name);
        return;
    }
    if (gw_param_set(p, value, err, sizeof(err)) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s", err);
        return;
    }
    gw_param_changed(p); /* the hook tables say how it applies: no list of names here */
    db_param_set(name, value); /* kept across restarts */
    gw_mi_result(r, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static const gw_mi_cmd_t gw_mi_core_cmds[] = {
    { "system.version", gw_mi_system_version, "", "version and library versions", GW_ROLE_VIEWER, 0 },
    { "system.uptime", gw_mi_system_uptime, "", "seconds since start", GW_ROLE_VIEWER, 0 },
    { "system.listMethods", gw_mi_system_methods, "", "every MI method with its synopsis", GW_ROLE_VIEWER, 0 },
    { "system.reload", gw_mi_system_reload, "",
      "re-read routes, connectors, trusted networks, parameters and users' roles (as SIGHUP); "
      "each validated before it replaces the running one", GW_ROLE_ADMIN, 0 },
    { "stats.get", gw_mi_stats_get, "", "all counters", GW_ROLE_VIEWER, 0 },
    { "connectors.list", gw_mi_connectors_list, "", "connectors with live status", GW_ROLE_VIEWER, 0 },
    { "connectors.add", gw_mi_connectors_add, "name, type, conf, enabled?",
      "add a connector; it starts at once", GW_ROLE_OPERATOR, 0 },
    { "connectors.update", gw_mi_connectors_update, "name, conf?, enabled?",
      "change a connector; it restarts at once", GW_ROLE_OPERATOR, 0 },
    { "connectors.delete", gw_mi_connectors_delete, "name", "delete a connector; it stops at once", GW_ROLE_OPERATOR, 0 },
    { "messages.inject", gw_mi_messages_inject,
      "from, to, body, source?, registered_delivery?, tags?, validity_s?, client_ref?, coding?"
      ", binary? (instead of body), encoding?, udh?, data_coding?"
      ", deferred_s?, callback_url?, callback_form?, callback_mask?",
      "accept a message as if received; returns after the store commit", GW_ROLE_OPERATOR,
      /* unlocked: it touches only the core's thread-safe accept (as every
       * adapter does), so callers waiting for their commits share groups
       * instead of queueing one commit at a time behind gw_mi_lock */
      GW_MI_F_NOAUDIT | GW_MI_F_UNLOCKED },
    { "messages.get", gw_mi_messages_get, "id", "one message with its state and its events", GW_ROLE_VIEWER, 0 },
    { "queues.list", gw_mi_queues_list, "",
      "connector queues: backlog, in memory, retrying, spilled to the store, in transit, down_s", GW_ROLE_VIEWER, 0 },
    { "messages.list", gw_mi_messages_list, "limit?, status?, id?, number?, connector?, since?, until?",
      "recent messages matching every filter given, newest first", GW_ROLE_VIEWER, 0 },
    { "params.list", gw_mi_params_list, "", "every parameter with its value", GW_ROLE_VIEWER, 0 },
    { "params.set", gw_mi_params_set, "name, value", "change a runtime parameter", GW_ROLE_ADMIN, 0 },
    { "params.diff", gw_mi_params_diff, "",
      "the parameters whose value is not their default: [{name, value, default, runtime}]", GW_ROLE_VIEWER, 0 },
    GW_MI_END,
};

int gw_mi_cmds_init(void)
{
    gw_mi_started_ms = gw_now_ms();
    if (gw_mi_register(gw_mi_core_cmds) != 0)
        return GW_EEXIST;
    if (gw_trusted_init() != 0)
        return GW_EEXIST;
    if (gw_sip_users_init() != 0)
        return GW_EEXIST;
    return gw_route_mi_init();
}
