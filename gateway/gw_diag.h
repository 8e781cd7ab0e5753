/*
 * gw_diag.h - self-diagnosis: the MI method `diagnose` (docs/diagnose.md).
 *
 *   gw_diag_params   the thresholds (diagnose.*, all runtime), registered
 *                    with the other parameter tables at start-up
 *   gw_diag_start    register `diagnose` and sample once a second on the
 *                    main loop into a bounded ring (the last few minutes)
 *   gw_diag_stop     stop sampling
 *
 * The answer is built from the ring by a table of checks
 * (gw_diag_checks.c): {"status", "areas": [{area, status, detail}],
 * "problems": [{area, status, subject, cause, advice}]}.
 *
 * Threads: start/stop on the main thread; the sampler runs on the main
 * loop; the MI handler on the MI's thread, both under gw_diag_lock.
 */
#ifndef GW_DIAG_H
#define GW_DIAG_H

#include <jansson.h>
#include "gw_param.h"

struct event_base;

extern const gw_param_t gw_diag_params[];

/* 0, or a negative code (the MI table could not be registered, no
 * memory for the timer). */
int gw_diag_start(struct event_base *base);
void gw_diag_stop(void);

/* The diagnosis now, as the MI returns it; new reference (NULL: no
 * memory).  Any thread. */
json_t *gw_diag_run(void);

#endif
