/*
 * smpp_mi.c - the SMPP adapter's management commands: accounts.* (through
 * gateway/gw_accounts.h, off the SMPP thread), smpp.sessions (asked of the
 * SMPP thread through its work queue) and smpp.binds (from the connector
 * registry's status).  The table smpp_mi_cmds is the adapter's mi_cmds.
 *
 * Threads: the MI thread (handlers, under gw_mi_lock); smpp_query_answer
 * on the SMPP thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "gw_accounts.h"
#include "gw_adapter.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_str.h"
#include "smpp.h"

#define SMPP_QUERY_WAIT_MS 2000 /* longest an MI handler waits for the SMPP thread */

/* A question from an MI handler to the SMPP thread (smpp.sessions).
 * Choice documented: the customer sessions are the SMPP thread's alone,
 * so rather than keep a locked copy refreshed on every bind and close,
 * the handler pushes SMPP_W_SESSIONS through the work queue the thread
 * already serves and waits on cond, at most SMPP_QUERY_WAIT_MS; the
 * thread builds the answer from its own state.  Two references: the
 * handler's and the work item's; whoever drops the last frees, so a
 * handler that gave up (a stopped or busy thread) leaves no dangling
 * pointer behind.  lock guards done and result. */
typedef struct smpp_query {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;       /* atomic */
    int done;       /* the SMPP thread answered */
    json_t *result; /* owned; taken by the handler */
} smpp_query_t;

void smpp_query_unref(smpp_query_t *q)
{
    if (q == NULL || __atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    json_decref(q->result);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* SMPP thread: answer q with result (taken over). */
void smpp_query_answer(smpp_query_t *q, json_t *result)
{
    pthread_mutex_lock(&q->lock);
    q->result = result;
    q->done = 1;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* --- management commands -------------------------------------------------- */

static void smpp_mi_accounts_add(const json_t *params, gw_mi_reply_t *r)
{
    const char *id = gw_mi_str(params, "system_id", r), *pw;
    char err[128];
    int rc;

    if (id == NULL || (pw = gw_mi_str(params, "password", r)) == NULL)
        return;
    if (strlen(id) > 15 || strlen(pw) > 8 || id[0] == 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "system_id: 1-15 characters, password: at most 8 (SMPP 3.4)");
        return;
    }
    if (gw_nets_check(gw_mi_opt_str(params, "allowed_nets", ""), err, sizeof err) != 0) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "allowed_nets: %s", err);
        return;
    }
    rc = gw_account_add(id, pw, gw_mi_opt_str(params, "allowed_nets", ""),
                        (int)gw_mi_opt_int(params, "throughput", 0));
    if (rc == GW_EEXIST)
        gw_mi_error(r, GW_MI_CONFLICT, "account %s exists", id);
    else if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot add account: %s", gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:s}", "system_id", id));
}

/* The optional members of accounts.update as its call wants them: NULL /
 * -1 when absent.  0, or an -32602 error in r (the rules of accounts.add). */
static int smpp_mi_update_args(const json_t *params, const char **pw, const char **nets,
                               int *throughput, int *enabled, gw_mi_reply_t *r)
{
    const json_t *v;

    *pw = *nets = NULL;
    *throughput = *enabled = -1;
    if ((v = json_object_get(params, "password")) != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 8)
            goto out_invalid;
        *pw = json_string_value(v);
    }
    if ((v = json_object_get(params, "allowed_nets")) != NULL) {
        char err[128];
        if (!json_is_string(v))
            goto out_invalid;
        *nets = json_string_value(v);
        if (gw_nets_check(*nets, err, sizeof err) != 0) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "allowed_nets: %s", err);
            return GW_EINVAL;
        }
    }
    if ((v = json_object_get(params, "throughput")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 1000000)
            goto out_invalid;
        *throughput = (int)json_integer_value(v);
    }
    if ((v = json_object_get(params, "enabled")) != NULL) {
        if (!json_is_boolean(v))
            goto out_invalid;
        *enabled = json_is_true(v);
    }
    return 0;

out_invalid:
    gw_mi_error(r, GW_MI_INVALID_PARAMS,
                "password: 1-8 characters (SMPP 3.4), allowed_nets: a string, throughput: "
                "an integer >= 0 (msg/s), enabled: a boolean");
    return GW_EINVAL;
}

/* Ask the SMPP thread to unbind the sessions of a disabled account. */
static void smpp_unbind_push(const char *system_id)
{
    smpp_work_t *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        GW_ERR(SMPP_MOD, "account %s disabled; out of memory unbinding its sessions", system_id);
        return;
    }
    w->kind = SMPP_W_UNBIND;
    gw_strlcpy(w->system_id, system_id, sizeof(w->system_id));
    if (smpp_work_push(w) < 0)
        smpp_work_free(w);
}

/* MI thread.  The row changes at once; what bound sessions see is
 * smpp_server.c's (its header): a rate, password or network applies from
 * the next bind, a disabled account's sessions are unbound. */
static void smpp_mi_accounts_update(const json_t *params, gw_mi_reply_t *r)
{
    const char *id = gw_mi_str(params, "system_id", r), *pw, *nets;
    int throughput, enabled, rc;
    json_t *row = NULL;

    if (id == NULL || smpp_mi_update_args(params, &pw, &nets, &throughput, &enabled, r) < 0)
        return;
    rc = gw_account_update(id, pw, nets, throughput, enabled);
    if (rc == 0 && enabled == 0)
        smpp_unbind_push(id);
    if (rc == 0)
        rc = gw_account_get(id, &row);
    if (rc == GW_ENOTFOUND)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no account %s", id);
    else if (rc == GW_EINVAL)
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "cannot update account %s: invalid value", id);
    else if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot update account: %s", gw_strerror(rc));
    else
        gw_mi_result(r, row);
}

static void smpp_mi_accounts_get(const json_t *params, gw_mi_reply_t *r)
{
    const char *id = gw_mi_str(params, "system_id", r);
    json_t *row = NULL;
    int rc;

    if (id == NULL)
        return;
    rc = gw_account_get(id, &row);
    if (rc == GW_ENOTFOUND)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no account %s", id);
    else if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot read account: %s", gw_strerror(rc));
    else
        gw_mi_result(r, row);
}

static void smpp_mi_accounts_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *list = gw_accounts_list();

    (void)params;
    if (list == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot read accounts");
    else
        gw_mi_result(r, list);
}

static void smpp_mi_accounts_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *id = gw_mi_str(params, "system_id", r);
    int rc;

    if (id == NULL)
        return;
    rc = gw_account_delete(id);
    if (rc == GW_ENOTFOUND)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no account %s", id);
    else if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot delete account: %s", gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:s}", "deleted", id));
}

/* MI thread: the customer sessions, asked of the SMPP thread (see
 * smpp_query_t for why).  -32010 when it does not answer in time. */
static void smpp_mi_sessions(const json_t *params, gw_mi_reply_t *r)
{
    smpp_query_t *q = calloc(1, sizeof(*q));
    smpp_work_t *w = calloc(1, sizeof(*w));
    struct timespec until;
    json_t *result = NULL;
    int rc = 0;

    (void)params;
    if (q == NULL || w == NULL) {
        free(q);
        free(w);
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->refs = 2; /* ours and the work item's */
    w->kind = SMPP_W_SESSIONS;
    w->query = q;
    if (smpp_work_push(w) < 0) {
        smpp_work_free(w); /* drops its reference */
        rc = GW_ESTOPPED;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SMPP_QUERY_WAIT_MS / 1000;
    until.tv_nsec += (long)(SMPP_QUERY_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    while (rc == 0 && !q->done)
        if (pthread_cond_timedwait(&q->cond, &q->lock, &until) != 0)
            rc = GW_EAGAIN; /* not answered in time */
    if (q->done) {
        result = q->result;
        q->result = NULL;
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    smpp_query_unref(q);
    if (rc < 0)
        gw_mi_error(r, GW_MI_BUSY, "the SMPP thread did not answer: %s", gw_strerror(rc));
    else if (result == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
    else
        gw_mi_result(r, result);
}

/* v itself, or JSON null for an absent member; borrowed either way. */
static json_t *smpp_or_null(json_t *v)
{
    return v != NULL ? v : json_null();
}

/* MI thread: every smpp connector from the registry's status, which the
 * client and account states already publish through atomics
 * (smpp_client_status, smpp_dest_status): nothing here reads the SMPP
 * thread's state. */
static void smpp_mi_binds(const json_t *params, gw_mi_reply_t *r)
{
    json_t *all = gw_connectors_status(), *out = json_array(), *c;
    size_t i;

    (void)params;
    if (all == NULL || out == NULL) {
        json_decref(all);
        json_decref(out);
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    json_array_foreach(all, i, c) {
        const json_t *st = json_object_get(c, "status");
        const json_t *acct = json_object_get(json_object_get(c, "conf"), "account");
        json_t *e;

        if (strcmp(json_string_value(json_object_get(c, "type")), "smpp") != 0)
            continue;
        /* a disabled or closed connector's status is its state alone */
        e = json_pack("{s:O, s:s, s:O, s:O, s:O, s:O, s:O, s:O}", "connector",
                      json_object_get(c, "name"), "role", acct ? "account" : "client", "state",
                      smpp_or_null(json_object_get(st, "state")), "peer",
                      acct ? json_null() : smpp_or_null(json_object_get(st, "peer")),
                      "system_id",
                      acct ? acct : smpp_or_null(json_object_get(st, "system_id")), "window",
                      smpp_or_null(json_object_get(st, "window")), "inflight",
                      smpp_or_null(json_object_get(st, "inflight")), "pending",
                      smpp_or_null(json_object_get(st, "pending")));
        /* an account's: how many receiving binds; a client's: each bind */
        if (e != NULL)
            json_object_set(e, "binds", smpp_or_null(json_object_get(st, "binds")));
        if (e == NULL || json_array_append_new(out, e) < 0) {
            json_decref(all);
            json_decref(out);
            gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
            return;
        }
    }
    json_decref(all);
    gw_mi_result(r, out);
}

/* smpp.unbind / smpp.bind {connector}: hold a client connector down, or
 * let it bind again.  Its messages wait queued meanwhile. */
static void smpp_mi_hold(const json_t *params, gw_mi_reply_t *r, int hold)
{
    const char *name = gw_mi_str(params, "connector", r);
    int rc;

    if (name == NULL)
        return;
    rc = smpp_conn_hold(name, hold);
    if (rc == GW_ENOTFOUND)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no smpp connector %s", name);
    else if (rc == GW_EINVAL)
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "%s is not a client of an SMSC (an account's "
                    "connector follows its customer's binds)", name);
    else if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot reach the SMPP thread: %s", gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:s, s:s}", "connector", name, "requested",
                                  hold ? "unbind and hold" : "bind"));
}

static void smpp_mi_unbind(const json_t *params, gw_mi_reply_t *r)
{
    smpp_mi_hold(params, r, 1);
}

static void smpp_mi_bind(const json_t *params, gw_mi_reply_t *r)
{
    smpp_mi_hold(params, r, 0);
}

const gw_mi_cmd_t smpp_mi_cmds[] = {
    { "accounts.add", smpp_mi_accounts_add,
      "{system_id, password, allowed_nets?, throughput?}",
      "add an SMPP customer account for our SMSC port", GW_ROLE_OPERATOR, 0 },
    { "accounts.list", smpp_mi_accounts_list, "{}", "list SMPP customer accounts", GW_ROLE_VIEWER, 0 },
    { "accounts.get", smpp_mi_accounts_get, "{system_id}", "one SMPP customer account", GW_ROLE_VIEWER, 0 },
    { "accounts.update", smpp_mi_accounts_update,
      "{system_id, password?, allowed_nets?, throughput?, enabled?}",
      "change the given fields of an SMPP customer account (rate, password and networks "
      "apply from the next bind; enabled=false unbinds its sessions)", GW_ROLE_OPERATOR, 0 },
    { "accounts.delete", smpp_mi_accounts_delete, "{system_id}",
      "delete an SMPP customer account", GW_ROLE_OPERATOR, 0 },
    { "smpp.sessions", smpp_mi_sessions, "{}",
      "the customer sessions open on our SMSC port now", GW_ROLE_VIEWER, 0 },
    { "smpp.unbind", smpp_mi_unbind, "{connector}",
      "unbind a client connector and hold it down (its messages wait queued) until smpp.bind", GW_ROLE_OPERATOR, 0 },
    { "smpp.bind", smpp_mi_bind, "{connector}", "let a held client connector bind again", GW_ROLE_OPERATOR, 0 },
    { "smpp.binds", smpp_mi_binds, "{}",
      "every SMPP connector: clients of SMSCs and account:<system_id> connectors", GW_ROLE_VIEWER, 0 },
    GW_MI_END,
};

