/*
 * gw_query.c - a message's state for an adapter that is asked for it (an
 * SMPP customer's query_sm), read from the store on the worker pool so no
 * adapter thread waits for SQLite.
 *
 * gw_core_recent_amqp_ids reads the message_ids an AMQP consumer took
 * lately, on the consumer's own thread (which may block), at its start.
 *
 * Threads: gw_core_query on any thread; the read and the callback on a
 * pool thread.
 */
#include <stdlib.h>
#include <string.h>

#include "../db/db.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_str.h"
#include "gw_work.h"

typedef struct gw_query_job {
    char id[GW_ENV_ID_LEN + 1];
    gw_query_cb_t cb;
    void *arg;
} gw_query_job_t;

static void gw_query_run(void *arg)
{
    gw_query_job_t *job = arg;
    gw_query_t q = { 0 };
    json_t *m = db_msg_get(job->id);
    int rc = GW_ENOTFOUND;

    if (m != NULL) {
        gw_strlcpy(q.status, json_string_value(json_object_get(m, "status")) ?: "",
                   sizeof q.status);
        gw_strlcpy(q.source_connector,
                   json_string_value(json_object_get(m, "source_connector")) ?: "",
                   sizeof q.source_connector);
        q.updated_at = json_integer_value(json_object_get(m, "updated_at"));
        q.reason = (int)json_integer_value(json_object_get(m, "reason"));
        rc = 0;
    }
    json_decref(m);
    job->cb(job->arg, rc, rc == 0 ? &q : NULL);
    free(job);
}

int gw_core_query(const char *id, gw_query_cb_t cb, void *arg)
{
    gw_query_job_t *job;
    int rc;

    if (id == NULL || strlen(id) != GW_ENV_ID_LEN || cb == NULL)
        return GW_EINVAL;
    if ((job = calloc(1, sizeof *job)) == NULL)
        return GW_ENOMEM;
    memcpy(job->id, id, GW_ENV_ID_LEN + 1);
    job->cb = cb;
    job->arg = arg;
    rc = gw_work_submit(gw_query_run, job);
    if (rc < 0)
        free(job);
    return rc;
}

int gw_core_recent_amqp_ids(const char *connector, int64_t window_ms, int limit,
                            void (*fn)(const char *id, const char *amqp_msgid, int64_t at,
                                       void *arg),
                            void *arg)
{
    return db_msgs_recent_corr(connector, gw_now_ms() - window_ms, limit, fn, arg);
}
