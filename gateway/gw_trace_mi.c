/*
 * gw_trace_mi.c - the MI commands of the trace bus: trace.start,
 * trace.list, trace.stop.
 *
 * A reader (junctionctl trace, the web console) starts a trace with its
 * filters, polls trace.list with the cursor each reply hands back and
 * stops the trace when it leaves; a reader that vanishes without stopping
 * is covered by trace.idle_s.  trace.list with wait_ms is a long poll: it
 * answers as soon as a record is there, or empty after wait_ms (at most
 * GW_TRACE_WAIT_MAX_MS), so a console needs no sleep between polls.  The
 * handlers only translate params and results; the bus itself is
 * gw_trace.c, and trace.start with hep also feeds gw_hep.c.
 *
 * Threads: trace.start and trace.stop run under gw_mi_lock on an HTTP or
 * the main thread; trace.list is GW_MI_F_UNLOCKED (it may wait, and takes
 * only gw_trace_lock, inside gw_trace.c), on an HTTP thread or, when it
 * waits, a thread of gw_mi_sock.c.
 */
#include <stdio.h>
#include <string.h>

#define GW_TRACE_HTTP_WAIT_MAX_MS 1000 /* the longest wait_ms an HTTP caller gets */

#include "gw_errors.h"
#include "gw_mi.h"
#include "gw_trace.h"

#define GW_TRACE_MI_LIMIT_MAX 4096

/* Copy the text param key into dst; numbers keep only their digits ('+'
 * dropped) when digits is set.  Returns 0, or -1 after writing a -32602. */
static int gw_trace_mi_param(const json_t *params, const char *key, char *dst, size_t cap,
                             int digits, gw_mi_reply_t *r)
{
    const char *v = gw_mi_opt_str(params, key, NULL);
    size_t i;

    dst[0] = '\0';
    if (v == NULL) {
        if (json_object_get(params, key) != NULL) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"%s\" must be text", key);
            return -1;
        }
        return 0;
    }
    if (digits && *v == '+')
        v++;
    if (strlen(v) >= cap) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"%s\" is longer than %zu", key, cap - 1);
        return -1;
    }
    for (i = 0; digits && v[i]; i++)
        if (v[i] < '0' || v[i] > '9') {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"%s\" must be a number", key);
            return -1;
        }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static void gw_trace_mi_start(const json_t *params, gw_mi_reply_t *r)
{
    gw_trace_filter_t f;
    int id;

    if (gw_trace_mi_param(params, "to", f.to, sizeof(f.to), 1, r) != 0 ||
        gw_trace_mi_param(params, "from", f.from, sizeof(f.from), 1, r) != 0 ||
        gw_trace_mi_param(params, "env_id", f.env_id, sizeof(f.env_id), 0, r) != 0 ||
        gw_trace_mi_param(params, "call_id", f.call_id, sizeof(f.call_id), 0, r) != 0 ||
        gw_trace_mi_param(params, "connector", f.connector, sizeof(f.connector), 0, r) != 0 ||
        gw_trace_mi_param(params, "peer", f.peer, sizeof(f.peer), 0, r) != 0 ||
        gw_trace_mi_param(params, "system_id", f.system_id, sizeof(f.system_id), 0, r) != 0 ||
        gw_trace_mi_param(params, "hep", f.hep, sizeof(f.hep), 0, r) != 0)
        return;
    id = gw_trace_start(&f);
    if (id == GW_EINVAL && f.hep[0])
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "param \"hep\" must be udp:<ip>:<port> (udp:[<ipv6>]:<port>), and a filter "
                    "is needed");
    else if (id == GW_EINVAL)
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "give at least one filter: to, from, env_id, "
                                             "call_id, connector, peer, system_id");
    else if (id == GW_EFULL)
        gw_mi_error(r, GW_MI_CONFLICT, "trace.max traces are running already");
    else if (id < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "trace not started: %s", gw_strerror(id));
    else
        gw_mi_result(r, json_pack("{s:i}", "id", id));
}

static void gw_trace_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    const json_t *idv = json_object_get(params, "id");
    long long after = gw_mi_opt_int(params, "after", 0);
    long long limit = gw_mi_opt_int(params, "limit", 256);
    long long wait_ms = gw_mi_opt_int(params, "wait_ms", 0);
    uint64_t cursor, lost;
    json_t *recs;
    int rc;

    if (idv == NULL) {
        gw_mi_result(r, gw_trace_list());
        return;
    }
    if (!json_is_integer(idv)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"id\" must be an integer");
        return;
    }
    if (after < 0 || limit < 1 || limit > GW_TRACE_MI_LIMIT_MAX || wait_ms < 0 ||
        wait_ms > GW_TRACE_WAIT_MAX_MS) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "after must be >= 0, limit within 1..%d and wait_ms within 0..%d",
                    GW_TRACE_MI_LIMIT_MAX, GW_TRACE_WAIT_MAX_MS);
        return;
    }
    /* Over HTTP a wait holds one of libmicrohttpd's pool threads and every
     * connection on it (web_http.c), so there it is capped at a second:
     * the web console's live trace long-polls that long, asking again at
     * once; junctionctl waits longer on the socket. */
    if (strcmp(gw_mi_caller(r)->via, "http") == 0 && wait_ms > GW_TRACE_HTTP_WAIT_MAX_MS)
        wait_ms = GW_TRACE_HTTP_WAIT_MAX_MS;
    cursor = (uint64_t)after;
    recs = gw_trace_read((int)json_integer_value(idv), &cursor, (size_t)limit,
                         (int)gw_mi_opt_int(params, "raw", 0), (int)wait_ms, &lost, &rc);
    if (rc == GW_ENOTFOUND)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no trace %lld (stopped or expired)",
                    (long long)json_integer_value(idv));
    else if (recs == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "trace not read: %s", gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:I, s:o, s:I, s:I}", "id", json_integer_value(idv),
                                  "records", recs, "next", (json_int_t)cursor, "lost",
                                  (json_int_t)lost));
}

static void gw_trace_mi_stop(const json_t *params, gw_mi_reply_t *r)
{
    const json_t *idv = json_object_get(params, "id");

    if (!json_is_integer(idv)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "param \"id\" (an integer) is required");
        return;
    }
    if (gw_trace_stop((int)json_integer_value(idv)) != 0)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no trace %lld", (long long)json_integer_value(idv));
    else
        gw_mi_result(r, json_pack("{s:b}", "stopped", 1));
}

static const gw_mi_cmd_t gw_trace_mi_cmds[] = {
    { "trace.start", gw_trace_mi_start,
      "to?, from?, env_id?, call_id?, connector?, peer?, system_id?, hep?",
      "start a trace (at least one filter; hep: udp:<ip>:<port> of a HEPv3 collector that "
      "gets every record too); returns its id", GW_ROLE_OPERATOR, GW_MI_F_NOAUDIT },
    { "trace.list", gw_trace_mi_list, "id?, after?, limit?, raw?, wait_ms?",
      "with id: records since the cursor after (waiting up to wait_ms <= 30000 for the "
      "first), and the next cursor; else the traces", GW_ROLE_OPERATOR,
      GW_MI_F_NOAUDIT | GW_MI_F_UNLOCKED },
    { "trace.stop", gw_trace_mi_stop, "id", "end a trace", GW_ROLE_OPERATOR, GW_MI_F_NOAUDIT },
    GW_MI_END,
};

int gw_trace_mi_init(void)
{
    return gw_mi_register(gw_trace_mi_cmds);
}
