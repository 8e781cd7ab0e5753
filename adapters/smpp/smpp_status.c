/*
 * smpp_status.c - what a client connector does with each command_status
 * an SMSC answers a submit_sm with: the per-connector table of conf
 * "status" over the defaults below.
 *
 *   fail   a permanent refusal: the plan's next target, else failed;
 *   retry  a temporary error: again after the core's backoff (or delay_ms),
 *          failed after `tries` attempts (0: core.max_attempts);
 *   pause  the SMSC asks us to slow down: the bind sends nothing for
 *          delay_ms, and the message goes back to the queue without an
 *          attempt counted, all its parts together.
 *
 * Defaults: ESME_RTHROTTLED (0x58) and ESME_RMSGQFUL (0x14) pause 1 s;
 * ESME_RSYSERR (0x08), ESME_RX_T_APPN (0x64) and ESME_RDELIVERYFAILURE
 * (0xFE) retry; everything else fails.  conf "status" maps a status
 * ("0x45" or "69") to an action name or {"action", "delay_ms", "tries"}.
 *
 * Threads: pure, any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "smpp.h"

static const smpp_status_rule_t smpp_status_defaults[] = {
    { 0x58, SMPP_ST_PAUSE, 1000, 0 },
    { 0x14, SMPP_ST_PAUSE, 1000, 0 },
    { 0x08, SMPP_ST_RETRY, 0, 0 },
    { 0x64, SMPP_ST_RETRY, 0, 0 },
    { 0xFE, SMPP_ST_RETRY, 0, 0 },
};

static int smpp_status_action(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "fail") == 0)
        return SMPP_ST_FAIL;
    if (strcmp(s, "retry") == 0)
        return SMPP_ST_RETRY;
    if (strcmp(s, "pause") == 0)
        return SMPP_ST_PAUSE;
    return -1;
}

/* One member of conf "status" into r; 0 or GW_EINVAL with err. */
static int smpp_status_rule(const char *key, const json_t *v, smpp_status_rule_t *r, char *err,
                            size_t errlen)
{
    char *end;
    unsigned long st = strtoul(key, &end, 0);
    const json_t *delay = json_object_get(v, "delay_ms"), *tries = json_object_get(v, "tries");

    memset(r, 0, sizeof *r);
    if (*key == '\0' || *end != '\0' || st > 0xFFFFFFFFul || st == 0) {
        snprintf(err, errlen, "status: \"%s\" is not a command_status (\"0x45\" or \"69\")", key);
        return GW_EINVAL;
    }
    r->status = (uint32_t)st;
    r->action = smpp_status_action(json_is_string(v) ? json_string_value(v)
                                                    : json_string_value(json_object_get(v, "action")));
    if (r->action < 0 ||
        (delay && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
                   json_integer_value(delay) > 3600000)) ||
        (tries && (!json_is_integer(tries) || json_integer_value(tries) < 0 ||
                   json_integer_value(tries) > 1000))) {
        snprintf(err, errlen, "status \"%s\": \"fail\", \"retry\", \"pause\" or {\"action\", "
                              "\"delay_ms\" (0-3600000), \"tries\" (0-1000)}", key);
        return GW_EINVAL;
    }
    r->delay_ms = delay ? (int)json_integer_value(delay) : r->action == SMPP_ST_PAUSE ? 1000 : 0;
    r->tries = tries ? (int)json_integer_value(tries) : 0;
    return 0;
}

int smpp_status_parse(const json_t *conf, smpp_status_table_t *t, char *err, size_t errlen)
{
    const char *key;
    const json_t *v;

    memset(t, 0, sizeof *t);
    if (conf == NULL)
        return 0;
    if (!json_is_object(conf) || json_object_size(conf) > SMPP_STATUS_RULES) {
        snprintf(err, errlen, "status: an object of at most %d command_status rules",
                 SMPP_STATUS_RULES);
        return GW_EINVAL;
    }
    json_object_foreach((json_t *)conf, key, v)
        if (smpp_status_rule(key, v, &t->r[t->n++], err, errlen) < 0)
            return GW_EINVAL;
    return 0;
}

smpp_status_rule_t smpp_status_classify(const smpp_status_table_t *t, uint32_t status)
{
    smpp_status_rule_t fail = { status, SMPP_ST_FAIL, 0, 0 };

    for (int i = 0; t != NULL && i < t->n; i++)
        if (t->r[i].status == status)
            return t->r[i];
    for (size_t i = 0; i < sizeof smpp_status_defaults / sizeof smpp_status_defaults[0]; i++)
        if (smpp_status_defaults[i].status == status)
            return smpp_status_defaults[i];
    return fail;
}
