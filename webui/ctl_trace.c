/*
 * ctl_trace.c - `junctionctl trace`: one message's journey, live.
 *
 *   junctionctl trace to=4915112345678 [--count N] [--seconds S]
 *
 * Starts a trace with the key=value filters (trace.start), polls
 * trace.list every WEB_CTL_TRACE_POLL_MS with the cursor each reply hands
 * back, prints one line per record (ctl_print.c; --json: the record as one
 * JSON line) and flushes after every poll so a pipe sees the lines at
 * once.  It ends after N records, after S seconds, or on SIGINT / SIGTERM;
 * then it polls once more (what already happened is shown) and stops the
 * trace.  A trace the daemon ended (trace.idle_s, a restart) ends the
 * console with status 1.
 *
 * Thread: junctionctl's only thread; the signal handler only sets a flag.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webui/ctl.h"

#define WEB_CTL_TRACE_POLL_MS 200

enum { WEB_CTL_TRACE_OK = 0, WEB_CTL_TRACE_RPC = 1, WEB_CTL_TRACE_NET = 2 };

static volatile sig_atomic_t web_ctl_trace_quit;

static void web_ctl_trace_on_signal(int sig)
{
    (void)sig;
    web_ctl_trace_quit = 1;
}

static double web_ctl_trace_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One poll: print the records after *cursor, move it on, count them.
 * Returns 0, or the exit status to end with. */
static int web_ctl_trace_poll(const web_ctl_opts_t *o, json_int_t id, json_int_t *cursor,
                              long *printed, long count)
{
    json_t *res, *rec;
    long long code;
    size_t i;
    int rc;

    rc = web_ctl_rpc(o, "trace.list", json_pack("{s:I, s:I}", "id", id, "after", *cursor),
                           &res, &code, 0);
    if (rc != 0)
        return rc;
    json_array_foreach(json_object_get(res, "records"), i, rec) {
        if (count > 0 && *printed >= count)
            break;
        if (o->json) {
            char *line = json_dumps(rec, JSON_COMPACT);
            if (line != NULL)
                printf("%s\n", line);
            free(line);
        } else {
            web_ctl_print_trace(stdout, rec);
        }
        (*printed)++;
    }
    if (json_integer_value(json_object_get(res, "lost")) > 0)
        fprintf(stderr, "junctionctl: %lld record(s) lost (the ring overflowed)\n",
                (long long)json_integer_value(json_object_get(res, "lost")));
    *cursor = json_integer_value(json_object_get(res, "next"));
    fflush(stdout);
    json_decref(res);
    return 0;
}

int web_ctl_trace(const web_ctl_opts_t *o, json_t *params, long count, long seconds)
{
    struct sigaction sa;
    struct timespec pause = { 0, WEB_CTL_TRACE_POLL_MS * 1000000L };
    double deadline = seconds > 0 ? web_ctl_trace_now() + (double)seconds : 0;
    json_t *res, *stopped;
    json_int_t id, cursor = 0;
    long printed = 0;
    long long code;
    int rc;

    rc = web_ctl_rpc(o, "trace.start", params, &res, &code, 0);
    if (rc != 0)
        return rc;
    id = json_integer_value(json_object_get(res, "id"));
    json_decref(res);
    /* no SA_RESTART: a signal also cuts the pause short */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = web_ctl_trace_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "junctionctl: trace %lld running; Ctrl-C ends it\n", (long long)id);
    while (rc == 0 && !web_ctl_trace_quit && (count <= 0 || printed < count) &&
           (deadline == 0 || web_ctl_trace_now() < deadline)) {
        rc = web_ctl_trace_poll(o, id, &cursor, &printed, count);
        if (rc == 0 && !web_ctl_trace_quit)
            nanosleep(&pause, NULL);
    }
    /* what happened up to now is shown before the trace ends */
    if (rc == 0 && (count <= 0 || printed < count))
        rc = web_ctl_trace_poll(o, id, &cursor, &printed, count);
    if (web_ctl_rpc(o, "trace.stop", json_pack("{s:I}", "id", id), &stopped, &code, 1) ==
        0)
        fprintf(stderr, "junctionctl: trace %lld stopped after %ld record(s)\n", (long long)id,
                printed);
    json_decref(stopped);
    return rc;
}
