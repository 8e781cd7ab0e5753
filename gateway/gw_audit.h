/*
 * gw_audit.h - the audit log of every configuration change made through
 * the MI: who, when, through what, which method and params, and the
 * object before and after.
 *
 * gw_mi.c calls gw_audit_snapshot before and gw_audit_record after each
 * audited method (gw_mi_cmd_t: role above viewer, not GW_MI_F_NOAUDIT),
 * with gw_mi_lock held.  The object is found generically: the method
 * "area.verb" (the area may hold dots: sip.users) is looked up in the
 * list "area.list" by the first key of its params among name, id,
 * system_id, net, table, username; with no key (reorder,
 * import, reload) the whole list is the object.  Secrets (any member whose
 * name holds "password", "secret" or is "token") are replaced by "***" in
 * params, before and after; a text over GW_AUDIT_TEXT_MAX is stored as
 * {"truncated": bytes}.
 *
 * Threads: MI handlers' (under gw_mi_lock).
 */
#ifndef GW_AUDIT_H
#define GW_AUDIT_H

#include <jansson.h>

#include "gw_mi.h"

#define GW_AUDIT_TEXT_MAX (64 * 1024)

/* The object cmd is about to change (new reference), or NULL. */
json_t *gw_audit_snapshot(const gw_mi_cmd_t *cmd, const json_t *params);

/* cmd succeeded with result: write the entry.  Steals before. */
void gw_audit_record(const gw_mi_cmd_t *cmd, const gw_mi_caller_t *caller,
                     const json_t *params, json_t *before, const json_t *result);

/* Register audit.list.  Main thread, at start. */
int gw_audit_init(void);

#endif
