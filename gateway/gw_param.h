/*
 * gw_param.h - parameters declared in tables (the nginx/Kamailio way).
 *
 * One table per module drives parsing of the configuration file and of
 * `-o name=value` flags, the embedded defaults, runtime changes through the
 * MI (`params.list`, `params.set`), the docs and the UI.  Each entry points
 * at the variable it sets; string variables are fixed-size char arrays.
 *
 * Threads: set at start-up on the main thread; entries flagged
 * GW_PARAM_RUNTIME may be changed later under gw_params_lock and must be
 * read by their users through a copy or an atomic int.
 */
#ifndef GW_PARAM_H
#define GW_PARAM_H

#include <stddef.h>

typedef enum {
    GW_PT_INT = 0, /* int */
    GW_PT_STR,     /* char[size] */
    GW_PT_BOOL,    /* int, 0 or 1 ("yes"/"no"/"true"/"false"/"1"/"0") */
} gw_param_type_t;

#define GW_PARAM_RUNTIME 0x1 /* may change while running */

typedef struct gw_param {
    const char *name;    /* dotted, e.g. "sip.port" */
    gw_param_type_t type;
    void *var;
    size_t size;         /* for GW_PT_STR: sizeof the array */
    const char *def;     /* default, as text */
    int min, max;        /* for GW_PT_INT, inclusive; min > max: unbounded */
    unsigned flags;
    const char *help;
} gw_param_t;

/* How a runtime parameter whose users do not read its variable each time
 * takes a new value: a table beside the parameter table, {name, fn},
 * ended by { NULL, NULL }.  params.set runs fn after storing the value. */
typedef struct gw_param_hook {
    const char *name;
    void (*on_change)(const gw_param_t *p);
} gw_param_hook_t;

#define GW_PARAM_END { NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL }

/* Register a table (static storage, NULL-terminated) and apply its
 * defaults.  Returns 0 or GW_EFULL. */
int gw_params_register(const gw_param_t *table);
const gw_param_t *gw_param_find(const char *name);
/* Set from text; on error writes a reason into err and returns GW_EINVAL. */
int gw_param_set(const gw_param_t *p, const char *value, char *err, size_t errlen);
/* Whether gw_param_set would take value, without setting it. */
int gw_param_check(const gw_param_t *p, const char *value, char *err, size_t errlen);
/* system.reload: the stored values ({name: text}, from the database)
 * are all checked first; only when every one is valid do the runtime
 * ones that differ take theirs (with their hooks).  *report (new
 * reference): {applied, restart_needed, unknown, errors: [{name, text}]}.
 * 0, or GW_EINVAL when something was invalid (then nothing changed). */
struct json_t;
int gw_params_reload(const struct json_t *stored, struct json_t **report);
/* Current value as text into buf. */
void gw_param_get(const gw_param_t *p, char *buf, size_t len);
/* Register a hook table (static storage).  0 or GW_EFULL. */
int gw_params_register_hooks(const gw_param_hook_t *hooks);
/* Run p's hook, if it has one (the MI's thread, after gw_param_set). */
void gw_param_changed(const gw_param_t *p);
/* 1 when p holds its default value (compared as values: "yes" = "1"). */
int gw_param_is_default(const gw_param_t *p);
/* Visit every registered parameter in registration order. */
void gw_params_foreach(void (*fn)(const gw_param_t *p, void *arg), void *arg);

#endif
