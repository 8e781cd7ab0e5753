/*
 * smpp_time.c - the SMPP time format of schedule_delivery_time and
 * validity_period (SMPP 3.4 7.1.1), read into milliseconds since the
 * epoch.
 *
 * A time is "" (none: the SMSC's default) or 16 characters
 * "YYMMDDhhmmsstnnp":
 *   p '+' / '-'  absolute: local time nn quarter hours ahead of (behind)
 *                UTC, t tenths of a second; YY counts from 2000;
 *   p 'R'        relative to now: YY years, MM months, DD days, hh
 *                hours, mm minutes, ss seconds (t and nn are 0 and
 *                ignored), added field by field to the current UTC
 *                calendar time (so a month is a month), as an SMSC does.
 * Anything else - another length, a non-digit, a field out of its range
 * (month 1-12, day 1-31, hour 0-23, minute and second 0-59, nn 0-48) -
 * is refused: the caller answers ESME_RINVEXPIRY.
 *
 * smpp_time_parse is pure: no I/O, no clock (now is the caller's);
 * tests/unit/test_smpp_time.c holds its edge values.  smpp_env_validity
 * applies a customer's validity_period (submit_sm, submit_multi,
 * replace_sm) to the envelope: its expiry, and the tag validity_s so that
 * a client connector passes what is left of it on to the operator's SMSC
 * (smpp_out_validity).
 *
 * Threads: any.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <smpp34.h>

#include "gw_errors.h"
#include "smpp.h"

/* Two decimal digits at s, or -1. */
static int smpp_time_2(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int smpp_time_parse(const char *s, int64_t now_ms, int64_t *out_ms)
{
    int f[6], t, nn;
    struct tm tm;
    time_t secs;

    *out_ms = 0;
    if (s == NULL || s[0] == '\0')
        return GW_OK;
    if (strlen(s) != 16 || s[12] < '0' || s[12] > '9' ||
        (s[15] != '+' && s[15] != '-' && s[15] != 'R'))
        return GW_EINVAL;
    for (int i = 0; i < 6; i++)
        if ((f[i] = smpp_time_2(s + 2 * i)) < 0)
            return GW_EINVAL;
    t = s[12] - '0';
    if ((nn = smpp_time_2(s + 13)) < 0)
        return GW_EINVAL;
    if (s[15] == 'R') {
        time_t now = (time_t)(now_ms / 1000);
        if (f[3] > 23 || f[4] > 59 || f[5] > 59 || gmtime_r(&now, &tm) == NULL)
            return GW_EINVAL;
        tm.tm_year += f[0];
        tm.tm_mon += f[1];
        tm.tm_mday += f[2];
        tm.tm_hour += f[3];
        tm.tm_min += f[4];
        tm.tm_sec += f[5];
        if ((secs = timegm(&tm)) == (time_t)-1)
            return GW_EINVAL;
        *out_ms = (int64_t)secs * 1000 + now_ms % 1000;
        return GW_OK;
    }
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 ||
        f[5] > 59 || nn > 48)
        return GW_EINVAL;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = 100 + f[0];
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    if ((secs = timegm(&tm)) == (time_t)-1 || tm.tm_mday != f[2])
        return GW_EINVAL; /* 31 April and the like: timegm moved it */
    /* local = UTC + offset: UTC is the local time minus it */
    secs += (s[15] == '+' ? -1 : 1) * (time_t)nn * 15 * 60;
    *out_ms = (int64_t)secs * 1000 + t * 100;
    return GW_OK;
}

int smpp_env_validity(gw_envelope_t *env, const char *validity, int64_t now_ms)
{
    char num[24];
    int64_t at;

    if (smpp_time_parse(validity, now_ms, &at) < 0)
        return ESME_RINVEXPIRY;
    if (at == 0)
        return GW_OK; /* none: junction's default (core.validity_s) or a rule's */
    env->expires_at = at;
    snprintf(num, sizeof num, "%lld", (long long)(at > now_ms ? (at - now_ms) / 1000 : 0));
    return gw_env_set_tag(env, "validity_s", num) < 0 ? GW_ENOMEM : GW_OK;
}
