/*
 * gw_sip_users.h - the SIP digest users: who may send a SIP MESSAGE from
 * outside the trusted networks (docs/sip-auth.md).
 *
 * A user is a username in a realm with H(username ":" realm ":" password)
 * for MD5 and for SHA-256 (RFC 7616 HA1s), kept in the table `sip_users`
 * (db/db_sip_users.c); the password is hashed here once, when it is set
 * through the MI (sip.users.add / passwd), and never stored or logged.
 * The SIP workers never read SQLite: they look users up in a hash table
 * in memory, built from the table at start and after each change, and
 * swapped whole under gw_sip_users_lock (a read-write lock: a lookup
 * copies its user out under the read lock).
 *
 * Threads: gw_sip_users_find on any thread (the SIP workers); load, init
 * and the MI commands on the MI's thread or at start-up.
 */
#ifndef GW_SIP_USERS_H
#define GW_SIP_USERS_H

#include <stddef.h>

#define GW_SIP_USER_MAX 64   /* username: 1-63 bytes */
#define GW_SIP_REALM_MAX 128 /* realm: 1-127 bytes */

/* What a lookup copies out. */
typedef struct gw_sip_user {
    char username[GW_SIP_USER_MAX];
    char realm[GW_SIP_REALM_MAX];
    char ha1_md5[33];
    char ha1_sha256[65];
    int enabled;
} gw_sip_user_t;

/* H (MD5, or SHA-256 when sha256) of the n parts joined by ':', as
 * lower-case hex into out (65 bytes).  0 or GW_ERROR.  Any thread. */
int gw_sip_digest_hex(int sha256, const char *const *parts, int n, char *out);
/* The HA1 of user in realm for password: H(user ":" realm ":" password)
 * in lower-case hex (sha256: SHA-256, else MD5) into out (65 bytes).  The
 * one place the HA1 rule is written.  0 or GW_ERROR.  Any thread. */
int gw_sip_users_ha1(int sha256, const char *user, const char *realm, const char *password,
                     char *out);

/* The user username of realm copied into *out: 0, or GW_ENOTFOUND (also
 * when either is too long).  Disabled users are found (out->enabled 0).
 * Any thread; no allocation, one read lock. */
int gw_sip_users_find(const char *username, const char *realm, gw_sip_user_t *out);

/* The realm challenges name and users are added to by default:
 * sip.realm, else the host's name, else "junction", into out (n bytes).
 * Any thread. */
void gw_sip_users_default_realm(char *out, size_t n);

/* Users in the running table. */
size_t gw_sip_users_count(void);

/* Read the table into a new running table and swap it in.  0,
 * GW_ESTORE or GW_ENOMEM (the running table kept). */
int gw_sip_users_load(void);

/* Register sip.users.* with the MI and load the table.  Main thread. */
int gw_sip_users_init(void);

#endif
