/*
 * gw_trusted.c - the trusted networks (gw_trusted.h).
 *
 * The running list is an immutable array of parsed networks with their
 * names, longest prefix first (so a host or a small network inside a
 * larger one names the message), replaced whole under gw_trusted_lock (a read-write lock: every
 * SIP MESSAGE takes it for reading, a change for writing once per MI
 * call).  The table is the truth: trusted.add and trusted.delete write it
 * and load it again, so what runs is always what a restart would read.
 *
 * Threads: see gw_trusted.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_net.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "gw_trusted.h"

#define GW_TRUSTED_NAME_MAX 64

typedef struct gw_trusted_entry {
    gw_net_t net;
    char name[GW_TRUSTED_NAME_MAX];
} gw_trusted_entry_t;

static pthread_rwlock_t gw_trusted_lock = PTHREAD_RWLOCK_INITIALIZER;
static gw_trusted_entry_t *gw_trusted_list; /* guarded by gw_trusted_lock */
static size_t gw_trusted_n;                 /* guarded by gw_trusted_lock */

static int gw_trusted_cmp(const void *a, const void *b)
{
    const gw_trusted_entry_t *x = a, *y = b;
    return y->net.bits - x->net.bits;
}

int gw_trusted_load(void)
{
    json_t *rows = db_trusted_list(), *row;
    gw_trusted_entry_t *list = NULL, *old;
    size_t i, n;
    char err[128];
    int rc = GW_OK;

    if (rows == NULL)
        return GW_ESTORE;
    n = json_array_size(rows);
    if (n > 0 && (list = calloc(n, sizeof *list)) == NULL)
        rc = GW_ENOMEM;
    json_array_foreach(rows, i, row) {
        if (rc != GW_OK)
            break;
        const char *net = json_string_value(json_object_get(row, "net"));
        if (gw_net_parse(net, &list[i].net, err, sizeof err) != 0) {
            GW_ERR("core", "trusted network %s: %s: the running list is kept", net ? net : "?",
                   err);
            rc = GW_EINVAL;
            break;
        }
        gw_strlcpy(list[i].name, json_string_value(json_object_get(row, "name")) ?: "",
                   sizeof list[i].name);
    }
    json_decref(rows);
    if (rc != GW_OK) {
        free(list);
        return rc;
    }
    if (n > 1) /* most specific first: the first match is the longest prefix */
        qsort(list, n, sizeof *list, gw_trusted_cmp);
    pthread_rwlock_wrlock(&gw_trusted_lock);
    old = gw_trusted_list;
    gw_trusted_list = list;
    gw_trusted_n = n;
    pthread_rwlock_unlock(&gw_trusted_lock);
    free(old);
    return GW_OK;
}

int gw_trusted_find(const char *ip, char *name, size_t n)
{
    gw_net_addr_t a;

    if (gw_net_addr_parse(ip, &a) != GW_OK)
        return 0; /* the address is parsed once, outside the lock */
    return gw_trusted_holds(&a, name, n);
}

int gw_trusted_holds(const gw_net_addr_t *a, char *name, size_t n)
{
    int found = 0;

    pthread_rwlock_rdlock(&gw_trusted_lock);
    for (size_t i = 0; i < gw_trusted_n && !found; i++)
        if (gw_net_holds(&gw_trusted_list[i].net, a)) {
            found = 1;
            if (name != NULL && n > 0)
                gw_strlcpy(name, gw_trusted_list[i].name, n);
        }
    pthread_rwlock_unlock(&gw_trusted_lock);
    return found;
}

/* ---- MI ------------------------------------------------------------------ */

static void gw_trusted_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *rows = db_trusted_list();

    (void)params;
    if (rows == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot read the trusted networks");
    else
        gw_mi_result(r, rows);
}

static void gw_trusted_mi_add(const json_t *params, gw_mi_reply_t *r)
{
    const char *text = gw_mi_str(params, "net", r);
    const char *name = gw_mi_opt_str(params, "name", "");
    char canon[GW_NET_TEXT_MAX], err[128];
    gw_net_t net;
    int rc;

    if (text == NULL)
        return;
    if (gw_net_parse(text, &net, err, sizeof err) != 0 || strlen(name) >= GW_TRUSTED_NAME_MAX) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s",
                    strlen(name) >= GW_TRUSTED_NAME_MAX ? "name: at most 63 characters" : err);
        return;
    }
    gw_net_format(&net, canon, sizeof canon); /* one spelling per network */
    rc = db_trusted_add(canon, name);
    if (rc == GW_EEXIST) {
        gw_mi_error(r, GW_MI_CONFLICT, "%s is trusted already", canon);
        return;
    }
    if (rc == 0)
        rc = gw_trusted_load();
    if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot add %s: %s", canon, gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:s, s:s}", "net", canon, "name", name));
}

static void gw_trusted_mi_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *text = gw_mi_str(params, "net", r);
    char canon[GW_NET_TEXT_MAX], err[128];
    gw_net_t net;
    int rc;

    if (text == NULL)
        return;
    if (gw_net_parse(text, &net, err, sizeof err) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s", err);
        return;
    }
    gw_net_format(&net, canon, sizeof canon);
    rc = db_trusted_delete(canon);
    if (rc == GW_ENOTFOUND) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "%s is not a trusted network", canon);
        return;
    }
    if (rc == 0)
        rc = gw_trusted_load();
    if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot delete %s: %s", canon, gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:s}", "net", canon));
}

static const gw_mi_cmd_t gw_trusted_mi_cmds[] = {
    { "trusted.list", gw_trusted_mi_list, "",
      "the networks a SIP MESSAGE is taken from: [{net, name, created_at}]", GW_ROLE_VIEWER, 0 },
    { "trusted.add", gw_trusted_mi_add, "net, name?",
      "trust an IPv4 or IPv6 network (CIDR or host); applies at once", GW_ROLE_ADMIN, 0 },
    { "trusted.delete", gw_trusted_mi_delete, "net", "stop trusting a network; applies at once", GW_ROLE_ADMIN, 0 },
    GW_MI_END,
};

int gw_trusted_init(void)
{
    int rc = gw_mi_register(gw_trusted_mi_cmds);

    if (rc == 0 && gw_trusted_load() != 0)
        GW_WARN("core", "trusted networks not loaded: SIP MESSAGE is refused from everywhere");
    return rc;
}
