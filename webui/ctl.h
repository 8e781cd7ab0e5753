/*
 * ctl.h - the parts of junctionctl, the command-line client of the MI.
 *
 *   junctionctl.c   arguments -> one JSON-RPC request; the reply -> exit code
 *   ctl_net.c       the two transports: the MI UNIX socket (one JSON line
 *                   each way) and HTTP/1.1 POST to a loopback URL, and one
 *                   call over either (web_ctl_rpc)
 *   ctl_print.c     a result as aligned tables / "key: value" lines, and
 *                   trace records as one line each
 *   ctl_explain.c   `junctionctl routes test`: a dry run for people
 *   ctl_trace.c     `junctionctl trace`: a live console over trace.start /
 *                   trace.list / trace.stop
 *   ctl_diagnose.c  `junctionctl diagnose`: the self-diagnosis per area and
 *                   problem, its status as the exit status
 *
 * junctionctl is a separate program linked only with jansson and libc; it
 * shares no code with the daemon but the wire format.  Single-threaded.
 */
#ifndef WEB_CTL_H
#define WEB_CTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Largest reply accepted from the daemon. */
#define WEB_CTL_MAX_REPLY (64u * 1024 * 1024)
/* Seconds to wait for the daemon to accept, read or answer. */
#define WEB_CTL_TIMEOUT_S 30

/* Send the request line req (compact JSON, no newline) over the UNIX
 * socket at path and read one reply line.  Returns the reply text without
 * its newline (malloc'd, the caller frees) or NULL with a message in err. */
char *web_ctl_call_socket(const char *path, const char *req, char *err, size_t errlen);

/* POST req to url ("http://host:port[/path]", loopback hosts only; path
 * defaults to /mi).  Returns the body of a 200 reply (malloc'd; "" for
 * 204) or NULL with a message in err (connection failures, other HTTP
 * statuses, a malformed reply). */
char *web_ctl_call_http(const char *url, const char *req, char *err, size_t errlen);

/* Where and how junctionctl talks to the daemon (from its options). */
typedef struct web_ctl_opts web_ctl_opts_t;

/* One call over o's transport: method with params (a new reference, taken
 * over; NULL: {}).  Returns 0 with *result (a new reference), 1 with
 * *code set for a JSON-RPC error (its message printed to stderr unless
 * quiet), 2 for a transport error (printed). */
int web_ctl_rpc(const web_ctl_opts_t *o, const char *method, json_t *params, json_t **result,
                long long *code, int quiet);

/* Print a JSON-RPC result for people: an array of objects as a table with
 * one column per key, an object as aligned "key: value" lines (nested
 * values indented), a scalar as text. */
void web_ctl_print(FILE *out, const json_t *result);

/* routes.test's result (the explained decision) as lines for people. */
void web_ctl_print_explain(FILE *out, const json_t *ex);

/* One trace record (an element of trace.list's "records") as one line. */
void web_ctl_print_trace(FILE *out, const json_t *rec);

/* `users add NAME ROLE` / `users passwd NAME` (ctl_users.c): the words
 * with the password read from the terminal or stdin.  1 with *out_argc /
 * *out_argv (malloc'd; the process exits soon after), 0 when argv is not
 * such a command (or already has password=), -1 after printing why. */
int web_ctl_users_words(int argc, char **argv, int *out_argc, char ***out_argv);

/* Where and how junctionctl talks to the daemon (from its options). */
struct web_ctl_opts {
    const char *socket;
    const char *url;
    int json;
    int explain;  /* the request is routes.test: print the explanation */
};

/* The trace console: start a trace with params (the filters, a new
 * reference taken over), print each record as it comes, until count
 * records (0: no bound), seconds elapsed (0: no bound), SIGINT or
 * SIGTERM; then stop the trace.  Returns the exit status (0, 1 for an MI
 * error, 2 for a connection error). */
int web_ctl_trace(const web_ctl_opts_t *o, json_t *params, long count, long seconds);

/* `junctionctl diagnose`: call diagnose, print it (o->json: the raw
 * result), and return 0 / 1 / 2 for OK / WARNING / CRITICAL, 3 when there
 * is no answer (a connection or MI error, printed). */
int web_ctl_diagnose(const web_ctl_opts_t *o);

#endif
