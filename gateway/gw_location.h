/*
 * gw_location.h - the SIP registrar's bindings, kept by the core's store.
 *
 * The registrar (adapters/sip/sip_registrar.c) keeps the bindings of every
 * address of record in memory (adapters/sip/sip_location.c); this is its
 * door to the store, since adapters touch no SQLite: each change of an
 * address of record is written whole, with its event `sip.registration`
 * in the same transaction (published after the commit like every event,
 * docs/events.md), and the REGISTER is answered only after that commit;
 * at start every stored address of record is read back.
 *
 * Threads: gw_loc_save on any thread (its callback on the store's writer
 * thread); gw_loc_load on the main thread at start.
 */
#ifndef GW_LOCATION_H
#define GW_LOCATION_H

struct json_t;

/* rc: 0 when committed, GW_ESTORE when not (nothing stored). */
typedef void (*gw_loc_cb_t)(void *arg, int rc);

/* Store aor's bindings (their JSON array text; NULL: none left, the row
 * goes) with the event sip.registration of data (stolen; NULL: no event),
 * then cb.  0, or GW_EFULL (the store is overloaded: answer 503) /
 * GW_ESTOPPED / GW_ENOMEM / GW_EINVAL, and cb never runs. */
int gw_loc_save(const char *aor, const char *bindings, struct json_t *data, gw_loc_cb_t cb,
                void *arg);

/* fn(arg, aor, bindings JSON text) for every stored address of record; a
 * non-zero return stops the walk and is returned.  0 or GW_ESTORE. */
int gw_loc_load(int (*fn)(void *arg, const char *aor, const char *bindings), void *arg);

#endif
