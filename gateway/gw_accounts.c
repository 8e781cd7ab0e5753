/*
 * gw_accounts.c - SMPP account checks on the worker pool, and the MI's
 * synchronous account calls.
 *
 * A bind check is one job (gw_account_job_t, owning copies of the
 * credentials) on the pool: read the row (cheap), refuse a peer outside
 * allowed_nets or a disabled account without touching the real hash, and
 * only then verify the password (argon2id, in db/).  Every refusal spends
 * one argon2id verification (db_hash_decoy when the real hash is not
 * consulted), so refusals look alike in time as well as in the answer.
 * The job answers through the caller's callback and frees itself; the
 * password copy is wiped first.
 *
 * Threads: gw_account_verify_async on any thread; the job and its
 * callback on a pool thread; the synchronous calls on the MI's thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_adapter.h"
#include "gw_accounts.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_net.h"
#include "gw_work.h"

typedef struct gw_account_job {
    char system_id[64];
    char password[64];
    char peer_ip[64];
    gw_account_cb_t cb;
    void *arg; /* the caller's, handed back to cb */
} gw_account_job_t;

int gw_net_allowed(const char *nets, const char *ip)
{
    gw_net_t *list;
    size_t n;
    char err[128];
    int found;

    if (nets == NULL || nets[0] == 0)
        return 1;
    /* checked when stored (accounts.add / update); a list that no longer
     * parses, or memory that is short, lets nobody in */
    if (gw_net_list_parse(nets, &list, &n, err, sizeof err) != 0)
        return 0;
    found = n == 0 || gw_net_find(list, n, ip) >= 0;
    free(list);
    return found;
}

int gw_nets_check(const char *nets, char *err, size_t errlen)
{
    gw_net_t *list;
    size_t n;
    int rc = gw_net_list_parse(nets, &list, &n, err, errlen);

    free(list);
    return rc;
}

/* Pool thread: the whole check.  Returns 0 with *out set (caller owns),
 * GW_EINVAL for any refusal (reason logged), or GW_ESTORE / GW_ENOMEM. */
static int gw_account_check(const gw_account_job_t *job, json_t **out)
{
    json_t *row = NULL;
    const char *why = NULL;
    int rc;

    *out = NULL;
    rc = db_account_get(job->system_id, &row);
    if (rc == GW_ENOTFOUND)
        why = "unknown system_id";
    else if (rc < 0)
        return rc;
    else if (!json_is_true(json_object_get(row, "enabled")))
        why = "account disabled";
    else if (!gw_net_allowed(json_string_value(json_object_get(row, "allowed_nets")),
                             job->peer_ip))
        why = "peer outside allowed_nets";
    json_decref(row);
    if (why == NULL) {
        rc = db_account_verify(job->system_id, job->password, out);
        if (rc == GW_EINVAL)
            why = "wrong password";
        else if (rc == GW_ENOTFOUND)
            why = "account deleted during the bind";
        else if (rc < 0)
            return rc;
    } else {
        db_hash_decoy(job->password);
    }
    if (why == NULL)
        return 0;
    GW_WARN("accounts", "bind as '%s' from %s refused: %s", job->system_id, job->peer_ip, why);
    json_decref(*out);
    *out = NULL;
    return GW_EINVAL;
}

static void gw_account_verify_job(void *arg)
{
    gw_account_job_t *job = arg;
    json_t *acct = NULL;
    int rc = gw_account_check(job, &acct);

    sodium_memzero(job->password, sizeof(job->password));
    job->cb(rc, acct, job->arg); /* hands acct over */
    free(job);
}

int gw_account_verify_async(const char *system_id, const char *password, const char *peer_ip,
                            gw_account_cb_t cb, void *arg)
{
    gw_account_job_t *job;
    int rc;

    if (cb == NULL)
        return GW_EINVAL;
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return GW_ENOMEM;
    /* SMPP bounds system_id to 15 and password to 8 octets; longer input
     * is cut here and then simply fails to match */
    snprintf(job->system_id, sizeof(job->system_id), "%s", system_id ? system_id : "");
    snprintf(job->password, sizeof(job->password), "%s", password ? password : "");
    snprintf(job->peer_ip, sizeof(job->peer_ip), "%s", peer_ip ? peer_ip : "");
    job->cb = cb;
    job->arg = arg;
    rc = gw_work_submit(gw_account_verify_job, job);
    if (rc < 0) {
        sodium_memzero(job->password, sizeof(job->password));
        free(job);
    }
    return rc;
}

int gw_account_add(const char *system_id, const char *password, const char *allowed_nets,
                   int throughput)
{
    int rc = db_account_add(system_id, password, allowed_nets, throughput);

    /* its connector, account:<system_id>, opens with it */
    if (rc == 0 && gw_connectors_reload() != 0)
        GW_WARN("core", "account %s stored; its connector did not open (see the log)", system_id);
    return rc;
}

int gw_account_update(const char *system_id, const char *password, const char *allowed_nets,
                      int throughput, int enabled)
{
    int rc = db_account_update(system_id, password, allowed_nets, throughput, enabled);

    /* account:<system_id> follows enabled: reload closes it and registers
     * it again as disabled (or opens it); other fields leave it alone */
    if (rc == 0 && gw_connectors_reload() != 0)
        GW_WARN("core", "account %s updated; its connector did not follow (see the log)",
                system_id);
    return rc;
}

int gw_account_get(const char *system_id, json_t **out)
{
    return db_account_get(system_id, out);
}

json_t *gw_accounts_list(void)
{
    return db_accounts_list();
}

int gw_account_delete(const char *system_id)
{
    int rc = db_account_delete(system_id);

    if (rc == 0)
        gw_connectors_reload(); /* closes account:<system_id> */
    return rc;
}
