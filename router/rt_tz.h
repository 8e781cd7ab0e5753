/*
 * rt_tz.h - IANA time zones without TZ/setenv: a bounded TZif reader.
 *
 * rt_tz_load reads one zone file (RFC 8536, version 2 or later: its 64-bit
 * section) once, at rule-compile time; rt_tz_offset is then pure
 * arithmetic: a binary search over the transitions, and past the last one
 * the file's footer (a POSIX TZ string such as
 * "CET-1CEST,M3.5.0,M10.5.0/3") evaluated for the year in question.
 *
 * Ownership: rt_tz_load returns a zone the caller frees with rt_tz_free.
 * Threads: load on any thread; a loaded zone is immutable, read by any.
 */
#ifndef RT_TZ_H
#define RT_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_tz rt_tz_t;

/* Load zone name ("Europe/Berlin") from dir (NULL: $JUNCTION_ZONEINFO, else
 * /usr/share/zoneinfo).  Returns the zone, or NULL with a reason in err
 * ("unknown time zone", "not a TZif file", ...) and, when rcp is not
 * NULL, *rcp = GW_ENOTFOUND (no such zone), GW_EINVAL (a bad file) or
 * GW_ENOMEM. */
rt_tz_t *rt_tz_load(const char *dir, const char *name, int *rcp, char *err, size_t errlen);
/* The same from the bytes of a TZif file (buf, len) named name: the
 * parser rt_tz_load uses, for the fuzz target.  Any thread. */
rt_tz_t *rt_tz_parse(const char *name, const unsigned char *buf, size_t len, int *rcp, char *err,
                     size_t errlen);
/* A zone of only a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0"): for tests
 * of the footer rules.  NULL when the string is not understood. */
rt_tz_t *rt_tz_from_posix(const char *spec);
void rt_tz_free(rt_tz_t *z);
const char *rt_tz_name(const rt_tz_t *z);

/* Seconds east of UTC in zone z at unix time t. */
int32_t rt_tz_offset(const rt_tz_t *z, int64_t t);

/* Civil helpers (proleptic Gregorian, UTC): days since 1970-01-01 for
 * y-m-d, and the weekday (0 = Sunday) of a day number. */
int64_t rt_days_from_civil(int64_t y, unsigned m, unsigned d);
int rt_weekday(int64_t days);

#endif
