/*
 * gw_connectors.c - the live set of connectors, kept equal to the table.
 *
 * gw_connectors_reload() reads the connectors table and compares it with
 * what runs: a new row is opened, a removed or disabled one closed, a
 * changed one (type, conf or enabled) closed and opened anew.  Beside the
 * table's rows, every SMPP account has its own connector, "account:<id>"
 * (gw_connectors_accounts), so routes and reports can target a customer,
 * the SIP adapter has "sip:reply" for reports to SIP senders and the HTTP
 * adapter "http:callback" for receipt callbacks.  Lookups by
 * name (gw_connector_get, on any thread, e.g. the writer after a commit)
 * take a reference under gw_conn_lock, so a connector closed meanwhile stays
 * valid memory until its last holder puts it.
 *
 * Threads: reload on the main thread or in an MI handler (serialised by
 * gw_mi_lock / start-up order); get/put anywhere.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_adapter.h"
#include "gw_cq.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_report.h"
#include "gw_report_http.h"
#include "gw_report_sip.h"
#include "gw_stats.h"

#define GW_CONN_MAX 256

static gw_connector_t *gw_conns[GW_CONN_MAX];
static int gw_nconns;
static pthread_rwlock_t gw_conn_lock = PTHREAD_RWLOCK_INITIALIZER; /* guards gw_conns */

gw_connector_t *gw_connector_ref(gw_connector_t *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void gw_connector_put(gw_connector_t *c)
{
    if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    json_decref(c->conf);
    free(c);
}

gw_connector_t *gw_connector_get(const char *name)
{
    gw_connector_t *c = NULL;
    int i;

    if (name == NULL)
        return NULL;
    pthread_rwlock_rdlock(&gw_conn_lock);
    for (i = 0; i < gw_nconns; i++)
        if (strcmp(gw_conns[i]->name, name) == 0) {
            c = gw_connector_ref(gw_conns[i]);
            break;
        }
    pthread_rwlock_unlock(&gw_conn_lock);
    return c;
}

/* Build a connector from a table row; NULL when the type is unknown. */
static gw_connector_t *gw_connector_new(const json_t *row)
{
    const char *name = json_string_value(json_object_get(row, "name"));
    const char *type = json_string_value(json_object_get(row, "type"));
    const gw_adapter_t *a = type ? gw_adapter_find(type) : NULL;
    gw_connector_t *c;

    if (name == NULL || strlen(name) >= sizeof(c->name)) {
        GW_ERR("core", "connector %.80s: the name is longer than %zu characters; ignored",
               name ? name : "?", sizeof(c->name) - 1);
        return NULL;
    }
    if (a == NULL) {
        GW_ERR("core", "connector %s: unknown type %s; ignored", name, type ? type : "?");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    strcpy(c->name, name);
    c->adapter = a;
    c->conf = json_deep_copy(json_object_get(row, "conf"));
    if (c->conf == NULL)
        c->conf = json_object();
    c->enabled = json_is_true(json_object_get(row, "enabled"));
    c->refs = 1;
    return c;
}

/* Remove slot i from the registry and close the connector; caller holds
 * no lock. */
static void gw_connector_close(gw_connector_t *c)
{
    if (c->enabled && c->adapter->conn_close)
        c->adapter->conn_close(c);
    GW_INFO("core", "connector %s (%s) closed", c->name, c->adapter->name);
    gw_connector_put(c);
}

static int gw_connector_open(gw_connector_t *c)
{
    int rc = GW_OK;

    if (c->enabled && c->adapter->conn_open)
        rc = c->adapter->conn_open(c);
    if (rc != 0)
        GW_ERR("core", "connector %s (%s) failed to open: %s", c->name, c->adapter->name,
               gw_strerror(rc));
    else
        GW_INFO("core", "connector %s (%s) %s", c->name, c->adapter->name,
                c->enabled ? "opened" : "disabled");
    return rc;
}

static int gw_connector_same(const gw_connector_t *c, const json_t *row)
{
    return strcmp(c->adapter->name, json_string_value(json_object_get(row, "type"))) == 0 &&
           c->enabled == json_is_true(json_object_get(row, "enabled")) &&
           json_equal(c->conf, json_object_get(row, "conf"));
}

/* The implicit connectors: one "account:<system_id>" per SMPP account,
 * type smpp, conf {"account": system_id}, enabled as the account is: the
 * target of the messages (MO, delivery reports) that go to that
 * customer's binds.  Appended to rows; 0 or GW_ESTORE. */
static int gw_connectors_accounts(json_t *rows)
{
    json_t *accts = db_accounts_list(), *a;
    char name[GW_NAME_MAX];
    size_t i;

    if (accts == NULL)
        return GW_ESTORE;
    json_array_foreach(accts, i, a) {
        const char *id = json_string_value(json_object_get(a, "system_id"));
        if (id == NULL)
            continue;
        snprintf(name, sizeof name, "%s%s", GW_REPORT_CONN_PREFIX, id);
        json_array_append_new(rows, json_pack("{s:s, s:s, s:{s:s}, s:b}", "name", name, "type",
                                              "smpp", "conf", "account", id, "enabled",
                                              json_is_true(json_object_get(a, "enabled"))));
    }
    json_decref(accts);
    return 0;
}

/* The implicit reply connector of the SIP adapter, "sip:reply" (conf
 * {"reply": true}): the target of delivery reports to SIP senders
 * (gw_report_sip.h).  Appended to rows when the adapter is built in. */
static void gw_connectors_sip_reply(json_t *rows)
{
    if (gw_adapter_find("sip") == NULL)
        return;
    json_array_append_new(rows, json_pack("{s:s, s:s, s:{s:b}, s:b}", "name", GW_REPORT_SIP_CONN,
                                          "type", "sip", "conf", "reply", 1, "enabled", 1));
}

/* The implicit callback connector of the HTTP adapter, "http:callback"
 * (conf {"callback": true}): the target of receipt callbacks
 * (gw_report_http.h).  Appended to rows when the adapter is built in. */
static void gw_connectors_http_callback(json_t *rows)
{
    if (gw_adapter_find("http") == NULL)
        return;
    json_array_append_new(rows, json_pack("{s:s, s:s, s:{s:b}, s:b}", "name", GW_REPORT_HTTP_CONN,
                                          "type", "http", "conf", "callback", 1, "enabled", 1));
}

/* The connectors on /metrics (a collector, gw_stats.h): each one's
 * enabled state, then its adapter's own samples (conn_metrics).  The HTTP
 * thread, at scrape time. */
static void gw_connectors_metrics(gw_metrics_t *m, void *arg)
{
    (void)arg;
    pthread_rwlock_rdlock(&gw_conn_lock);
    for (int i = 0; i < gw_nconns; i++) {
        gw_connector_t *c = gw_conns[i];
        gw_metrics_value(m, "connector.enabled", GW_STAT_GAUGE,
                         "1 when the connector is enabled (opened), 0 when disabled",
                         (const char *[]){ "connector", c->name, "type", c->adapter->name, NULL },
                         c->enabled);
        if (c->enabled && c->adapter->conn_metrics)
            c->adapter->conn_metrics(c, m);
    }
    pthread_rwlock_unlock(&gw_conn_lock);
}

int gw_connectors_reload(void)
{
    json_t *rows = db_connectors_list(), *row;
    gw_connector_t *keep[GW_CONN_MAX], *drop[GW_CONN_MAX], *c;
    int nkeep = 0, ndrop = 0, i, found, rc = GW_OK;
    size_t r;

    static int registered; /* main thread; the collector lives as long as the process */

    if (!registered++)
        gw_metrics_collector(gw_connectors_metrics, NULL);
    if (rows == NULL)
        return GW_ESTORE;
    if (gw_connectors_accounts(rows) != 0) {
        json_decref(rows);
        return GW_ESTORE;
    }
    gw_connectors_sip_reply(rows);
    gw_connectors_http_callback(rows);
    /* connectors that vanished or changed are closed */
    for (i = 0; i < gw_nconns; i++) {
        c = gw_conns[i];
        found = 0;
        json_array_foreach(rows, r, row)
            if (strcmp(json_string_value(json_object_get(row, "name")), c->name) == 0)
                found = gw_connector_same(c, row);
        if (found)
            keep[nkeep++] = c;
        else
            drop[ndrop++] = c;
    }
    pthread_rwlock_wrlock(&gw_conn_lock);
    memcpy(gw_conns, keep, sizeof(keep[0]) * (size_t)nkeep);
    gw_nconns = nkeep;
    pthread_rwlock_unlock(&gw_conn_lock);
    for (i = 0; i < ndrop; i++)
        gw_connector_close(drop[i]);
    /* new or changed rows are opened */
    json_array_foreach(rows, r, row) {
        const char *name = json_string_value(json_object_get(row, "name"));
        found = 0;
        for (i = 0; i < nkeep; i++)
            if (strcmp(keep[i]->name, name) == 0)
                found = 1;
        if (found)
            continue;
        if (gw_nconns == GW_CONN_MAX) {
            GW_ERR("core", "connector %s not opened: at most %d connectors run", name,
                   GW_CONN_MAX);
            rc = GW_EFULL;
            continue;
        }
        c = gw_connector_new(row);
        if (c == NULL)
            continue;
        gw_cq_declare(c->name);
        if (gw_connector_open(c) != 0) {
            c->enabled = 0; /* registered, shown as failed, nothing to close */
            rc = GW_ERROR;
        }
        pthread_rwlock_wrlock(&gw_conn_lock);
        gw_conns[gw_nconns++] = c;
        pthread_rwlock_unlock(&gw_conn_lock);
    }
    json_decref(rows);
    return rc;
}

/* Close everything (shutdown). */
void gw_connectors_close_all(void)
{
    gw_connector_t *all[GW_CONN_MAX];
    int n, i;

    pthread_rwlock_wrlock(&gw_conn_lock);
    n = gw_nconns;
    memcpy(all, gw_conns, sizeof(all[0]) * (size_t)n);
    gw_nconns = 0;
    pthread_rwlock_unlock(&gw_conn_lock);
    for (i = 0; i < n; i++)
        gw_connector_close(all[i]);
}

/* Mask secrets in a copy of conf: any member named like a password. */
static json_t *gw_connector_masked_conf(const json_t *conf)
{
    json_t *copy = json_deep_copy(conf), *v;
    const char *k;

    json_object_foreach(copy, k, v)
        if (strstr(k, "password") || strstr(k, "secret"))
            json_object_set_new(copy, k, json_string("***"));
    return copy;
}

json_t *gw_connectors_status(void)
{
    json_t *a = json_array(), *st;
    gw_connector_t *c;
    int i;

    pthread_rwlock_rdlock(&gw_conn_lock);
    for (i = 0; a && i < gw_nconns; i++) {
        c = gw_conns[i];
        if (!c->enabled)
            st = json_pack("{s:s}", "state", "disabled");
        else if (c->adapter->conn_status)
            st = c->adapter->conn_status(c);
        else
            st = json_pack("{s:s}", "state", "ready");
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:o, s:o}", "name", c->name, "type",
                                           c->adapter->name, "enabled", c->enabled, "conf",
                                           gw_connector_masked_conf(c->conf), "status",
                                           st ? st : json_object()));
    }
    pthread_rwlock_unlock(&gw_conn_lock);
    return a;
}
