/*
 * gw_log.c - levelled logging with per-module switches.
 *
 * The global level and a small table of per-module overrides are read on
 * every log call without a lock (relaxed atomics); the table is written
 * under gw_log_lock.  A line is formatted into a stack buffer and written
 * with one write(2) so lines from different threads never interleave.
 *
 * Threads: any.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gw_log.h"

#define GW_LOG_MODULES_MAX 32

typedef struct gw_log_module {
    char name[24];
    int level; /* atomic; -1 = follow the global level */
} gw_log_module_t;

static int gw_log_level = GW_LOG_INFO;
static gw_log_module_t gw_log_modules[GW_LOG_MODULES_MAX];
static int gw_log_nmodules; /* atomic */
static pthread_mutex_t gw_log_lock = PTHREAD_MUTEX_INITIALIZER; /* guards adding modules */

static const char *const gw_log_names[] = { "err", "warn", "info", "debug" };

int gw_log_level_parse(const char *s)
{
    size_t i;

    if (s == NULL)
        return -1;
    if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
        return s[0] - '0';
    for (i = 0; i < sizeof(gw_log_names) / sizeof(gw_log_names[0]); i++)
        if (strcasecmp(s, gw_log_names[i]) == 0)
            return (int)i;
    if (strcasecmp(s, "error") == 0)
        return GW_LOG_ERR;
    if (strcasecmp(s, "warning") == 0)
        return GW_LOG_WARN;
    return -1;
}

const char *gw_log_level_name(int level)
{
    if (level < 0 || level > GW_LOG_DEBUG)
        return "?";
    return gw_log_names[level];
}

void gw_log_set_level(int level)
{
    __atomic_store_n(&gw_log_level, level, __ATOMIC_RELAXED);
}

int gw_log_set_module(const char *module, int level)
{
    int i, n, rc = -1;

    pthread_mutex_lock(&gw_log_lock);
    n = __atomic_load_n(&gw_log_nmodules, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++) {
        if (strcmp(gw_log_modules[i].name, module) == 0) {
            __atomic_store_n(&gw_log_modules[i].level, level, __ATOMIC_RELAXED);
            rc = 0;
            goto out_unlock;
        }
    }
    if (n < GW_LOG_MODULES_MAX && strlen(module) < sizeof(gw_log_modules[n].name)) {
        strcpy(gw_log_modules[n].name, module);
        gw_log_modules[n].level = level;
        __atomic_store_n(&gw_log_nmodules, n + 1, __ATOMIC_RELEASE);
        rc = 0;
    }
out_unlock:
    pthread_mutex_unlock(&gw_log_lock);
    return rc;
}

int gw_log_apply_spec(const char *spec)
{
    char buf[512], *item, *save = NULL, *eq;
    int level, rc = 0;

    if (spec == NULL || *spec == '\0')
        return 0;
    if (strlen(spec) >= sizeof(buf))
        return -1;
    strcpy(buf, spec);
    for (item = strtok_r(buf, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
        eq = strchr(item, '=');
        if (eq == NULL)
            return -1;
        *eq = '\0';
        level = strcmp(eq + 1, "default") == 0 ? -1 : gw_log_level_parse(eq + 1);
        if (level < -1 || (level == -1 && strcmp(eq + 1, "default") != 0))
            return -1;
        if (gw_log_set_module(item, level) != 0)
            rc = -1;
    }
    return rc;
}

int gw_log_enabled(const char *module, int level)
{
    int i, n = __atomic_load_n(&gw_log_nmodules, __ATOMIC_ACQUIRE), ml;

    for (i = 0; i < n; i++) {
        if (strcmp(gw_log_modules[i].name, module) == 0) {
            ml = __atomic_load_n(&gw_log_modules[i].level, __ATOMIC_RELAXED);
            if (ml >= 0)
                return level <= ml;
            break;
        }
    }
    return level <= __atomic_load_n(&gw_log_level, __ATOMIC_RELAXED);
}

void gw_log_write(const char *module, int level, const char *fmt, ...)
{
    static const char *const tags[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n, m;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s] ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, tags[level < 0 ? 0 : level > 3 ? 3 : level],
                 module);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
