/*
 * gw_config.c - load the configuration file (libconfig) over the defaults.
 *
 * libconfig parses the file (with @include) and reports syntax errors with
 * file and line; we walk the tree, join group names with dots and hand
 * every scalar to the parameter registry, so the tables stay the single
 * description of what can be configured.
 *
 * Threads: main thread at start-up.
 */
#include <libconfig.h>
#include <stdio.h>
#include <string.h>

#include "gw_config.h"
#include "gw_errors.h"
#include "gw_log.h"

gw_config_t gw_config;

/* on_change of log.level and log.modules: the logger takes them at once. */
static void gw_config_on_log_level(const gw_param_t *p)
{
    int level = gw_log_level_parse((const char *)p->var);
    gw_log_set_level(level < 0 ? GW_LOG_INFO : level);
}

static void gw_config_on_log_modules(const gw_param_t *p)
{
    gw_log_apply_spec((const char *)p->var);
}

const gw_param_t gw_config_params[] = {
    { "db.path", GW_PT_STR, gw_config.db_path, sizeof(gw_config.db_path), "var/junction.db",
      1, 0, 0, "SQLite database file (created with its folder on first start)" },
    { "mi.socket", GW_PT_STR, gw_config.mi_socket, sizeof(gw_config.mi_socket),
      "var/junction.sock", 1, 0, 0, "UNIX socket of the MI (junctionctl's default)" },
    { "log.level", GW_PT_STR, gw_config.log_level, sizeof(gw_config.log_level), "info", 1, 0,
      GW_PARAM_RUNTIME, "err, warn, info or debug" },
    { "log.modules", GW_PT_STR, gw_config.log_modules, sizeof(gw_config.log_modules), "", 1,
      0, GW_PARAM_RUNTIME, "per-module levels, e.g. \"sip=debug,smpp=warn\"" },
    { "core.max_attempts", GW_PT_INT, &gw_config.max_attempts, 0, "10", 1, 1000,
      GW_PARAM_RUNTIME, "delivery attempts before a message fails" },
    { "core.retry_base_ms", GW_PT_INT, &gw_config.retry_base_ms, 0, "1000", 10, 3600000,
      GW_PARAM_RUNTIME, "first retry delay; doubles per attempt" },
    { "core.retry_max_ms", GW_PT_INT, &gw_config.retry_max_ms, 0, "60000", 10, 86400000,
      GW_PARAM_RUNTIME, "longest retry delay" },
    { "core.validity_s", GW_PT_INT, &gw_config.validity_s, 0, "86400", 1, 31536000,
      GW_PARAM_RUNTIME, "default message validity; expired messages fail as expired" },
    { "core.workers", GW_PT_INT, &gw_config.workers, 0, "2", 1, 64, 0,
      "threads of the pool that runs blocking work (SMPP bind password checks)" },
    { "core.work_queue", GW_PT_INT, &gw_config.work_queue, 0, "256", 1, 100000, 0,
      "jobs that may wait for the pool; beyond it a bind is refused (ESME_RSYSERR)" },
    { "core.queue_memory", GW_PT_INT, &gw_config.queue_memory, 0, "1000", 10, 1000000, 0,
      "messages per connector held in memory; the rest wait in the store and are paged in" },
    { "core.room_windows", GW_PT_INT, &gw_config.room_windows, 0, "1", 1, 4, GW_PARAM_RUNTIME,
      "deliveries outstanding per connector (marked sending, outcome not yet queued for the "
      "store), in windows of the connector: 1 keeps what a crash may send twice under one "
      "window; 2 keeps the wire busy while the next deliveries' marks commit (faster, up to "
      "two windows of possible duplicates)" },
    { "core.queue_max", GW_PT_INT, &gw_config.queue_max, 0, "5000000", 1, 2000000000,
      GW_PARAM_RUNTIME, "queued messages per connector past which new ones are refused "
      "(SIP 503, SMPP ESME_RTHROTTLED): admission control" },
    { "core.failover_after_s", GW_PT_INT, &gw_config.failover_after_s, 0, "30", 1, 86400,
      GW_PARAM_RUNTIME, "seconds a target may stay down before its queued messages move to "
      "the next target of their plan" },
    { "core.receipt_wait_s", GW_PT_INT, &gw_config.receipt_wait_s, 0, "172800", 1, 31536000,
      GW_PARAM_RUNTIME, "seconds a submitted message waits for its delivery receipt before "
      "it expires" },
    { "core.retention_s", GW_PT_INT, &gw_config.retention_s, 0, "604800", 1, 2000000000,
      GW_PARAM_RUNTIME, "seconds a message in a final state is kept before it is purged" },
    { "core.sweep_ms", GW_PT_INT, &gw_config.sweep_ms, 0, "1000", 50, 60000, 0,
      "period of the sweep: expiry, receipt waits, retention, failover of dead targets" },
    { "core.reassembly_timeout_s", GW_PT_INT, &gw_config.reassembly_timeout_s, 0, "60", 1,
      86400, GW_PARAM_RUNTIME, "seconds the parts of a long message wait for the rest (and how "
      "long a part sent again is known as a duplicate after its message is whole)" },
    { "core.reassembly_incomplete", GW_PT_STR, gw_config.reassembly_incomplete,
      sizeof(gw_config.reassembly_incomplete), "deliver", 1, 0, GW_PARAM_RUNTIME,
      "a long message still missing parts after core.reassembly_timeout_s: deliver (what "
      "arrived, \"[...]\" for each missing part) or fail (dropped, logged, counted)" },
    { "core.admin_user", GW_PT_STR, gw_config.admin_user, sizeof(gw_config.admin_user), "admin",
      1, 0, 0, "web UI / MI user created on first start" },
    GW_PARAM_END,
};

const gw_param_hook_t gw_config_hooks[] = {
    { "log.level", gw_config_on_log_level },
    { "log.modules", gw_config_on_log_modules },
    { NULL, NULL },
};

/* Walk one setting; name holds the dotted prefix (modified in place). */
static int gw_config_walk(config_setting_t *s, char *name, size_t cap, char *err, size_t errlen)
{
    const gw_param_t *p;
    config_setting_t *child;
    char value[512], perr[256];
    size_t len = strlen(name);
    const char *key = config_setting_name(s);
    int i, rc = GW_OK;

    if (key) {
        if (len + strlen(key) + 2 > cap) {
            snprintf(err, errlen, "%s:%d: name too long", config_setting_source_file(s),
                     config_setting_source_line(s));
            return GW_EINVAL;
        }
        if (len)
            strcat(name, ".");
        strcat(name, key);
    }
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        for (i = 0; (child = config_setting_get_elem(s, (unsigned)i)) != NULL; i++)
            if ((rc = gw_config_walk(child, name, cap, err, errlen)) != 0)
                break;
        break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
    case CONFIG_TYPE_BOOL:
    case CONFIG_TYPE_STRING:
        p = gw_param_find(name);
        if (p == NULL) {
            snprintf(err, errlen, "%s:%d: unknown parameter %s", config_setting_source_file(s),
                     config_setting_source_line(s), name);
            rc = GW_EINVAL;
            break;
        }
        if (config_setting_type(s) == CONFIG_TYPE_STRING)
            snprintf(value, sizeof(value), "%s", config_setting_get_string(s));
        else if (config_setting_type(s) == CONFIG_TYPE_BOOL)
            snprintf(value, sizeof(value), "%s", config_setting_get_bool(s) ? "yes" : "no");
        else
            snprintf(value, sizeof(value), "%lld", config_setting_get_int64(s));
        if (gw_param_set(p, value, perr, sizeof(perr)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", config_setting_source_file(s),
                     config_setting_source_line(s), perr);
            rc = GW_EINVAL;
        }
        break;
    default:
        snprintf(err, errlen, "%s:%d: %s: lists, arrays and floats are not parameters",
                 config_setting_source_file(s), config_setting_source_line(s), name);
        rc = GW_EINVAL;
    }
    name[len] = '\0';
    return rc;
}

int gw_config_load_file(const char *file, char *err, size_t errlen)
{
    config_t cfg;
    char name[256] = "", dir[512], *slash;
    int rc;

    if (file == NULL)
        return GW_OK;
    config_init(&cfg);
    /* @include "x.cfg" is relative to the including file's folder */
    snprintf(dir, sizeof(dir), "%s", file);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        config_set_include_dir(&cfg, dir);
    }
    if (config_read_file(&cfg, file) != CONFIG_TRUE) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "%s: cannot read the file", file);
        else
            snprintf(err, errlen, "%s:%d: %s",
                     config_error_file(&cfg) ? config_error_file(&cfg) : file,
                     config_error_line(&cfg), config_error_text(&cfg));
        rc = GW_EINVAL;
        goto out_destroy;
    }
    rc = gw_config_walk(config_root_setting(&cfg), name, sizeof(name), err, errlen);
out_destroy:
    config_destroy(&cfg);
    return rc;
}

int gw_config_apply_override(const char *kv, char *err, size_t errlen)
{
    const gw_param_t *p;
    char name[128];
    const char *eq = strchr(kv, '=');

    if (eq == NULL || (size_t)(eq - kv) >= sizeof(name) || eq == kv) {
        snprintf(err, errlen, "-o %s: expected name=value", kv);
        return GW_EINVAL;
    }
    memcpy(name, kv, (size_t)(eq - kv));
    name[eq - kv] = '\0';
    p = gw_param_find(name);
    if (p == NULL) {
        snprintf(err, errlen, "-o %s: unknown parameter %s", kv, name);
        return GW_EINVAL;
    }
    return gw_param_set(p, eq + 1, err, errlen);
}
