/*
 * gw_log.c - levelled logging with per-module switches.
 *
 * The global level and a small table of per-module overrides are read on
 * every log call without a lock (relaxed atomics); the table is written
 * under gw_log_lock.  A line is formatted into a stack buffer and written
 * with one write(2) so lines from different threads never interleave.
 *
 * Log lines carry text from peers (SIP headers, SMPP addresses, libosip2's
 * messages about what it could not parse), so the writer itself escapes
 * the formatted text (gw_log_escape): a peer cannot end a line early and
 * forge a second one with CR/LF, nor put terminal escapes or invalid UTF-8
 * into the log.  Every caller is covered without thinking about it; the
 * cost is one pass over the text into a second stack buffer.
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

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF) at p, of at most n bytes; 0 when the
 * bytes there are not one. */
static size_t gw_log_utf8_len(const unsigned char *p, size_t n)
{
    size_t len, k;
    unsigned cp, min;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2; cp = p[0] & 0x1f; min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3; cp = p[0] & 0x0f; min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4; cp = p[0] & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* See gw_log.h.  Any thread; no allocation. */
size_t gw_log_escape(char *dst, size_t cap, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)src;
    size_t i = 0, o = 0, len;
    char esc[4];

    while (i < n) {
        const char *put = esc;
        size_t k;
        if (p[i] >= 0x20 && p[i] < 0x7f) {
            put = (const char *)p + i;
            k = len = 1;
        } else if (p[i] >= 0x80 && (len = gw_log_utf8_len(p + i, n - i)) > 0) {
            put = (const char *)p + i;
            k = len; /* valid UTF-8 stays as it is */
        } else {
            len = 1;
            esc[0] = '\\';
            if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t') {
                esc[1] = p[i] == '\n' ? 'n' : p[i] == '\r' ? 'r' : 't';
                k = 2;
            } else {
                esc[1] = 'x';
                esc[2] = hex[p[i] >> 4];
                esc[3] = hex[p[i] & 15];
                k = 4;
            }
        }
        if (o + k > cap)
            break; /* whole sequences only: never half an escape */
        memcpy(dst + o, put, k);
        o += k;
        i += len;
    }
    return o;
}

void gw_log_write(const char *module, int level, const char *fmt, ...)
{
    static const char *const tags[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };
    char text[2048], line[4096];
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
    if (n < 0 || n >= (int)sizeof(line) / 2)
        n = 0; /* a module name that long is a bug; keep the text */
    va_start(ap, fmt);
    m = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    if (m > (int)sizeof(text) - 1)
        m = (int)sizeof(text) - 1; /* truncated */
    /* the text of peers escaped (see the top of the file); room for '\n' */
    n += (int)gw_log_escape(line + n, sizeof(line) - (size_t)n - 1, text, (size_t)m);
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
