/*
 * gw_report_sip.c - which final changes owe a SIP sender a report, and
 * what the report carries for the SIP side (gw_report_sip.h).
 *
 * Threads: any; called by gw_report.c on the store's writer thread.
 */
#include <string.h>

#include "gw_errors.h"
#include "gw_report_sip.h"

static const char *gw_report_sip_tag(const gw_envelope_t *env, const char *key)
{
    return json_string_value(json_object_get(env->tags, key));
}

int gw_report_sip_asked(const gw_envelope_t *env)
{
    return env->report.of == NULL && env->source.adapter != NULL &&
           strcmp(env->source.adapter, "sip") == 0 &&
           gw_report_sip_tag(env, GW_RPT_TAG_FORM) != NULL &&
           gw_report_sip_tag(env, GW_RPT_TAG_REPLY_TO) != NULL &&
           gw_report_sip_tag(env, GW_RPT_TAG_REPLY_URI) != NULL;
}

int gw_report_sip_wanted(const gw_envelope_t *env, gw_status_t st, int wait)
{
    const char *on;

    if (!gw_report_sip_asked(env) ||
        (st != GW_ST_DELIVERED && st != GW_ST_FAILED && st != GW_ST_EXPIRED))
        return 0;
    on = gw_report_sip_tag(env, GW_RPT_TAG_ON);
    if (on == NULL || strcmp(on, "all") == 0)
        return 1;
    if (wait)
        return 0;
    return strcmp(on, "success") == 0 ? st == GW_ST_DELIVERED : st != GW_ST_DELIVERED;
}

int gw_report_sip_maybe(const char *source_connector, const char *env_json)
{
    return source_connector != NULL && env_json != NULL && strcmp(source_connector, "sip") == 0 &&
           strstr(env_json, "\"" GW_RPT_TAG_REPLY_TO "\"") != NULL;
}

int gw_report_sip_fill(gw_envelope_t *r, const gw_envelope_t *env)
{
    static const char *const keys[] = {GW_RPT_TAG_FORM, GW_RPT_TAG_REPLY_TO,
                                       GW_RPT_TAG_REPLY_URI, GW_RPT_TAG_IMDN_ID};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = gw_report_sip_tag(env, keys[i]);
        if (v != NULL)
            rc = gw_env_set_tag(r, keys[i], v);
    }
    return rc;
}
