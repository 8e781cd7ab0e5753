/*
 * gw_accounts.h - SMPP customer accounts, as the core offers them to
 * adapters (which never include db/).
 *
 *   gw_account_verify_async  a bind's check, on the worker pool (gw_work.h)
 *   gw_account_add / gw_account_update / gw_account_get /
 *   gw_accounts_list / gw_account_delete
 *                            synchronous, for MI handlers (they may block)
 *
 * A bind is refused with one answer whatever the reason (unknown
 * system_id, wrong password, disabled account, peer outside allowed_nets),
 * and every refusal costs one argon2id verification like a wrong
 * password, so a peer can tell neither from the answer nor from its
 * timing which system_ids exist.  The reason is logged for the admin.
 *
 * Threads: verify_async on any thread, its callback on a pool thread; the
 * synchronous calls on the caller's thread (MI).
 */
#ifndef GW_ACCOUNTS_H
#define GW_ACCOUNTS_H

#include <jansson.h>

/* The answer of a bind check, on a pool thread.  rc 0: accepted, account
 * is the row {system_id, allowed_nets, throughput, enabled, created_at}
 * (a new reference the callback owns).  rc GW_EINVAL: refused, whatever
 * the reason.  Any other negative rc: the check could not be made (store,
 * memory); account is NULL then.  The callback should only queue its
 * answer to its own thread. */
typedef void (*gw_account_cb_t)(int rc, json_t *account, void *arg);

/* Check system_id / password from peer_ip (text, IPv4 or IPv6) on the
 * worker pool: the peer's network first, then enabled, then the password.
 * The strings are copied.  Returns 0 (cb runs exactly once, later), or
 * GW_EFULL / GW_ESTOPPED / GW_ENOMEM (cb never runs, arg stays the
 * caller's).  Any thread; never blocks. */
int gw_account_verify_async(const char *system_id, const char *password, const char *peer_ip,
                            gw_account_cb_t cb, void *arg);

/* Synchronous, for MI handlers (they run off the adapter threads, under
 * gw_mi_lock): add and delete also open / close the account's connector
 * account:<system_id> (gw_connectors_reload).  Hashes
 * the password (argon2id, tens of ms).  0, GW_EEXIST, GW_EINVAL, GW_ESTORE. */
int gw_account_add(const char *system_id, const char *password, const char *allowed_nets,
                   int throughput);
/* Change only the given fields (password, allowed_nets: NULL keeps;
 * throughput, enabled: < 0 keeps); a new password is hashed (argon2id).
 * Then gw_connectors_reload: account:<system_id> follows enabled.  What
 * bound sessions see is the adapter's (the SMPP server reads the row at
 * each bind).  0, GW_ENOTFOUND, GW_EINVAL, GW_ENOMEM, GW_ESTORE. */
int gw_account_update(const char *system_id, const char *password, const char *allowed_nets,
                      int throughput, int enabled);
/* The row of system_id, as in gw_accounts_list, into *out (caller
 * json_decref).  0, GW_ENOTFOUND or GW_ESTORE. */
int gw_account_get(const char *system_id, json_t **out);
/* Array of account rows without hashes (caller json_decref), NULL on error. */
json_t *gw_accounts_list(void);
/* 0, GW_ENOTFOUND or GW_ESTORE. */
int gw_account_delete(const char *system_id);

/* 1 when ip (IPv4 or IPv6 text) is inside one of the comma-separated
 * networks of nets (gw_net.h: IPv4 and IPv6 CIDR blocks or hosts); an
 * empty or NULL list allows every peer.  Pure. */
int gw_net_allowed(const char *nets, const char *ip);
/* 0 when nets is a list gw_net_allowed can read, else GW_EINVAL with the
 * bad item named in err.  Pure. */
int gw_nets_check(const char *nets, char *err, size_t errlen);

#endif
