/*
 * gw_config.h - the embedded defaults, the optional file and the flags.
 *
 * Values come, in order, from the parameter tables' defaults, the file
 * given with -c (libconfig syntax, `@include "other.cfg"` allowed; groups
 * map to dotted names: `sip: { port = 5060; };` sets sip.port) and the
 * `-o name=value` flags.  A bad value stops the start with "file:line:
 * name: reason".
 *
 * The gateway's own parameters live in gw_config, readable by every
 * gateway file.  Threads: loaded on the main thread before anything starts.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include "gw_param.h"

typedef struct gw_config {
    char db_path[256];
    char mi_socket[108];
    char log_level[16];
    char log_modules[256];
    int max_attempts;
    int retry_base_ms;
    int retry_max_ms;
    int validity_s;
    int workers;    /* core.workers: threads of the blocking-work pool */
    int work_queue; /* core.work_queue: jobs that may wait for them */
    int queue_memory;   /* core.queue_memory: deliveries held in memory per connector */
    int room_windows;   /* core.room_windows: a connector's room, in windows */
    int queue_max;      /* core.queue_max: queued messages per connector before refusing */
    int failover_after_s; /* core.failover_after_s: a target down this long is left */
    int receipt_wait_s; /* core.receipt_wait_s: a submitted message expires without receipt */
    int retention_s;    /* core.retention_s: final messages are purged after it */
    int sweep_ms;       /* core.sweep_ms: period of the sweep */
    int reassembly_timeout_s;     /* core.reassembly_timeout_s: a long message's parts wait */
    char reassembly_incomplete[16]; /* core.reassembly_incomplete: "deliver" or "fail" */
    char admin_user[64];
} gw_config_t;

extern gw_config_t gw_config;
extern const gw_param_t gw_config_params[];
extern const gw_param_hook_t gw_config_hooks[]; /* how log.level / log.modules apply */

/* Load file (NULL: none) over the registered defaults.  On error writes
 * "file:line: reason" into err and returns GW_EINVAL. */
int gw_config_load_file(const char *file, char *err, size_t errlen);
/* Apply one "name=value" override. */
int gw_config_apply_override(const char *kv, char *err, size_t errlen);

#endif
