/*
 * gw_mi.h - the management interface (JSON-RPC 2.0) registry.
 *
 * Every subsystem and adapter registers a table of commands named
 * "area.verb".  A handler reads its params (a JSON object or array, never
 * NULL: an empty object when the request had none) and writes its reply
 * through the gw_mi_reply_t interface, so one handler serves POST /mi, the
 * UNIX socket and junctionctl.  gw_mi_handle_text() does the JSON-RPC
 * envelope: parse errors (-32700), invalid requests (-32600), unknown
 * methods (-32601), bad params (-32602), internal errors (-32603).
 *
 * Threads: handlers run on the caller's thread (libmicrohttpd threads, the
 * main thread for the socket) one at a time under gw_mi_lock, so a handler
 * may touch management state without further locking.
 */
#ifndef GW_MI_H
#define GW_MI_H

#include <jansson.h>
#include <stddef.h>

#define GW_MI_PARSE_ERROR -32700
#define GW_MI_INVALID_REQUEST -32600
#define GW_MI_METHOD_NOT_FOUND -32601
#define GW_MI_INVALID_PARAMS -32602
#define GW_MI_INTERNAL_ERROR -32603
#define GW_MI_NOT_FOUND -32004 /* application: object not found */
#define GW_MI_CONFLICT -32009  /* application: already exists / in use */
#define GW_MI_BUSY -32010      /* application: overloaded, try again later */
#define GW_MI_REJECTED -32011  /* application: refused by a routing rule */

#define GW_MI_UNAUTHORIZED -32001 /* application: no valid credentials (HTTP 401) */
#define GW_MI_FORBIDDEN -32003    /* application: the caller's role may not (HTTP 403) */

typedef struct gw_mi_reply gw_mi_reply_t;
typedef void (*gw_mi_handler_t)(const json_t *params, gw_mi_reply_t *reply);

/* The least role a caller needs for a method (issue 8's access control).
 * 0 in a table means "not declared" and is treated as GW_ROLE_ADMIN, so a
 * method nobody thought about is closed, not open. */
typedef enum gw_role {
    GW_ROLE_NONE = 0,
    GW_ROLE_VIEWER = 1,   /* reads only */
    GW_ROLE_OPERATOR = 2, /* routes, connectors, accounts, messages, trace */
    GW_ROLE_ADMIN = 3,    /* everything: users, tokens, parameters, system */
} gw_role_t;

/* gw_mi_cmd_t.flags */
#define GW_MI_F_UNLOCKED 0x1 /* runs without gw_mi_lock: it locks what it touches
                                (long polls that wait must not hold the lock) */
#define GW_MI_F_NOAUDIT 0x2  /* changes no configuration: not written to the
                                audit log even when its role is above viewer */
#define GW_MI_F_AUDIT 0x4    /* audited although a viewer may call it (users.passwd) */

typedef struct gw_mi_cmd {
    const char *name;    /* "routes.add" */
    gw_mi_handler_t fn;
    const char *params;  /* one-line synopsis of the params, for help and docs */
    const char *help;
    int role;            /* gw_role_t; 0: admin */
    unsigned flags;      /* GW_MI_F_* */
} gw_mi_cmd_t;

#define GW_MI_END { NULL, NULL, NULL, NULL, 0, 0 }

/* Who makes a call: checked against each method's role, named in the audit
 * log.  Filled by the transport (web_http.c from a session or a token,
 * gw_mi_sock.c from the peer's credentials). */
typedef struct gw_mi_caller {
    char who[96];     /* "alice", "token:ci", "local:uid=0", "system" */
    char user[64];    /* the user of a session, "" for tokens and the socket */
    const char *via;  /* "http", "socket", "internal" (static strings) */
    int role;         /* gw_role_t */
    int must_change;  /* a session that must choose a password first */
} gw_mi_caller_t;

/* The caller of the call being handled (never NULL inside a handler). */
const gw_mi_caller_t *gw_mi_caller(const gw_mi_reply_t *r);

/* The registered command called name, or NULL.  For gw_audit.c, which
 * reads an area's list through it (under gw_mi_lock). */
const gw_mi_cmd_t *gw_mi_find(const char *name);
/* Run cmd's handler as the system with gw_mi_lock already held (audit
 * snapshots): its result (new reference) or NULL when it failed. */
json_t *gw_mi_run_locked(const gw_mi_cmd_t *cmd, const json_t *params);

/* Register a NULL-terminated static table.  Returns 0 or GW_EEXIST. */
int gw_mi_register(const gw_mi_cmd_t *table);

/* Reply interface: exactly one of result / error per call. */
void gw_mi_result(gw_mi_reply_t *r, json_t *result); /* steals result */
void gw_mi_error(gw_mi_reply_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* gw_mi_error with the JSON-RPC error's "data" member (stolen; NULL: none):
 * e.g. every compile error of a rule set. */
void gw_mi_error_data(gw_mi_reply_t *r, int code, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parameter helpers: fetch a named member or report -32602 and return NULL
 * / -1.  `opt` variants return the default when absent.  The string
 * helpers take a number as its decimal text (prefixes typed on a CLI). */
const char *gw_mi_str(const json_t *params, const char *key, gw_mi_reply_t *r);
const char *gw_mi_opt_str(const json_t *params, const char *key, const char *def);
long long gw_mi_opt_int(const json_t *params, const char *key, long long def);

/* Handle one JSON-RPC request text (single or batch) for caller.  Returns
 * a malloc'd reply text the caller frees, or NULL for a notification (no
 * id).  *status (when not NULL) gets the HTTP status the reply deserves:
 * 200, or 401 / 403 when a single request was refused for its
 * credentials or role. */
char *gw_mi_handle_text_as(const char *text, size_t len, const gw_mi_caller_t *caller,
                           unsigned *status);
/* The same for the process itself (SIGHUP, tests): role admin. */
char *gw_mi_handle_text(const char *text, size_t len);

/* Call one method directly (tests, internal use).  Returns a new reference
 * to the full JSON-RPC response object. */
json_t *gw_mi_call(const char *method, json_t *params);

/* Call one method for caller (the HTTP send API): the full JSON-RPC
 * response object (new reference; NULL when out of memory), *status as
 * for gw_mi_handle_text_as. */
json_t *gw_mi_call_as(const char *method, json_t *params, const gw_mi_caller_t *caller,
                      unsigned *status);

/* Register the gateway's own commands (gw_mi_cmds.c). Main thread. */
int gw_mi_cmds_init(void);

/* The MI on a UNIX socket (gw_mi_sock.c): one JSON-RPC request per line,
 * one reply line each.  Runs on base's thread (the main loop). */
struct event_base;
int gw_mi_sock_start(struct event_base *base, const char *path);
void gw_mi_sock_stop(void);

/* "viewer", "operator" or "admin" (also for 0, undeclared). */
const char *gw_role_name(int role);

/* Every registered command as [{name, params, help, role}]; new reference. */
json_t *gw_mi_methods_json(void);

#endif
