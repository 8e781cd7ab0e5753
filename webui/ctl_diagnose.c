/*
 * ctl_diagnose.c - `junctionctl diagnose`: the self-diagnosis for people.
 *
 *   status: WARNING
 *   areas:
 *     sip_workers  OK        no data
 *     smpp_binds   WARNING   2 client connectors, 2 bound
 *     ...
 *   problems:
 *     WARNING   smpp_binds   op1: SMSC throttling: 12 submit_sm answered ...
 *               advice: the SMSC limits our rate: ...
 *
 * The exit status is the diagnosis, the way monitoring plugins report:
 * 0 OK, 1 WARNING, 2 CRITICAL, 3 unknown (no answer: the daemon is not
 * reachable or the call failed), so `junctionctl diagnose` can be a check
 * in a cron job or a monitoring system as it is.
 *
 * Thread: junctionctl's only thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webui/ctl.h"

enum { WEB_CTL_DIAG_OK = 0, WEB_CTL_DIAG_WARNING, WEB_CTL_DIAG_CRITICAL, WEB_CTL_DIAG_UNKNOWN };

static const char *web_ctl_diag_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "?";
}

/* The exit status of a status name. */
static int web_ctl_diag_code(const char *status)
{
    if (strcmp(status, "OK") == 0)
        return WEB_CTL_DIAG_OK;
    if (strcmp(status, "WARNING") == 0)
        return WEB_CTL_DIAG_WARNING;
    if (strcmp(status, "CRITICAL") == 0)
        return WEB_CTL_DIAG_CRITICAL;
    return WEB_CTL_DIAG_UNKNOWN;
}

static void web_ctl_diag_print(FILE *out, const json_t *d)
{
    const json_t *areas = json_object_get(d, "areas"), *problems = json_object_get(d, "problems");
    const json_t *e;
    size_t i;

    fprintf(out, "status: %s\nareas:\n", web_ctl_diag_str(d, "status"));
    json_array_foreach(areas, i, e)
        fprintf(out, "  %-12s %-9s %s\n", web_ctl_diag_str(e, "area"),
                web_ctl_diag_str(e, "status"), web_ctl_diag_str(e, "detail"));
    if (json_array_size(problems) == 0) {
        fprintf(out, "problems: none\n");
        return;
    }
    fprintf(out, "problems:\n");
    json_array_foreach(problems, i, e) {
        fprintf(out, "  %-9s %-12s %s: %s\n", web_ctl_diag_str(e, "status"),
                web_ctl_diag_str(e, "area"), web_ctl_diag_str(e, "subject"),
                web_ctl_diag_str(e, "cause"));
        fprintf(out, "  %-9s %-12s advice: %s\n", "", "", web_ctl_diag_str(e, "advice"));
    }
}

int web_ctl_diagnose(const web_ctl_opts_t *o)
{
    json_t *d = NULL;
    long long code;
    int rc;

    if (web_ctl_rpc(o, "diagnose", NULL, &d, &code, 0) != 0)
        return WEB_CTL_DIAG_UNKNOWN;
    if (!json_is_object(d)) {
        fprintf(stderr, "junctionctl: diagnose answered something else than an object\n");
        json_decref(d);
        return WEB_CTL_DIAG_UNKNOWN;
    }
    if (o->json) {
        char *text = json_dumps(d, JSON_INDENT(2));

        if (text != NULL)
            printf("%s\n", text);
        free(text);
    } else {
        web_ctl_diag_print(stdout, d);
    }
    rc = web_ctl_diag_code(web_ctl_diag_str(d, "status"));
    json_decref(d);
    return rc;
}
