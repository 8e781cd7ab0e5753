/*
 * gw_location.c - the SIP registrar's bindings in the store (gw_location.h).
 *
 * Threads: see gw_location.h.
 */
#include <jansson.h>

#include "../db/db.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_location.h"

int gw_loc_save(const char *aor, const char *bindings, json_t *data, gw_loc_cb_t cb, void *arg)
{
    gw_evbatch_t ev = { 0 };
    int rc = GW_OK;

    if (data != NULL && gw_events_active())
        rc = gw_event_data(&ev, "sip.registration", data); /* takes data */
    else
        json_decref(data);
    if (rc == GW_OK)
        rc = db_loc_save(aor, bindings, &ev, cb, arg);
    gw_evbatch_clear(&ev); /* given back when not taken */
    return rc;
}

int gw_loc_load(int (*fn)(void *arg, const char *aor, const char *bindings), void *arg)
{
    return db_loc_load(fn, arg);
}
