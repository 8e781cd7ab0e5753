/*
 * gw_log.h - levelled logging with per-module switches.
 *
 * Every line goes to stderr as "<time> <LEVEL> [<module>] <text>"; lines
 * about one message use GW_ENV_LOG (gw_trace.h), which also hands them to
 * the trace bus whatever the level.  The global level and a
 * per-module level can be changed at runtime (MI `log.set`) without locking
 * the hot path: levels are read with relaxed atomics.
 *
 * Threads: every function is safe to call from any thread.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stddef.h>

enum {
    GW_LOG_ERR = 0,
    GW_LOG_WARN = 1,
    GW_LOG_INFO = 2,
    GW_LOG_DEBUG = 3,
};

/* Parse "err|warn|info|debug" (or a digit); returns the level or -1. */
int gw_log_level_parse(const char *s);
const char *gw_log_level_name(int level);

void gw_log_set_level(int level);
/* Set one module's level; "default" resets it to follow the global level.
 * Returns 0 or -1 when the table of modules is full. */
int gw_log_set_module(const char *module, int level);
/* Apply a spec such as "sip=debug,smpp=warn"; returns 0 or -1 on a bad item. */
int gw_log_apply_spec(const char *spec);
int gw_log_enabled(const char *module, int level);

/* Format and write one line to stderr with one write(2).  The formatted
 * text is escaped by gw_log_escape, so a line is always one line. */
void gw_log_write(const char *module, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy n bytes of src into dst (cap bytes, not NUL-terminated) with what
 * must not reach a log escaped: LF, CR, TAB as \n \r \t, other bytes
 * below 0x20, 0x7f and bytes that are no well-formed UTF-8 as \xNN;
 * printable ASCII and valid UTF-8 stay.  Stops before a sequence that does
 * not fit whole.  Returns the bytes written.  No allocation. */
size_t gw_log_escape(char *dst, size_t cap, const char *src, size_t n);

#define GW_LOG(mod, lvl, ...)                                              \
    do {                                                                   \
        if (gw_log_enabled((mod), (lvl)))                                  \
            gw_log_write((mod), (lvl), __VA_ARGS__);                       \
    } while (0)
#define GW_ERR(mod, ...) GW_LOG(mod, GW_LOG_ERR, __VA_ARGS__)
#define GW_WARN(mod, ...) GW_LOG(mod, GW_LOG_WARN, __VA_ARGS__)
#define GW_INFO(mod, ...) GW_LOG(mod, GW_LOG_INFO, __VA_ARGS__)
#define GW_DEBUG(mod, ...) GW_LOG(mod, GW_LOG_DEBUG, __VA_ARGS__)

#endif
