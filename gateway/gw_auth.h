/*
 * gw_auth.h - who is calling: login sessions, API tokens, login backoff.
 *
 * The web UI logs in with a user name and password (users in the
 * database, argon2id) and gets a session: an opaque 256-bit id for the
 * cookie and a CSRF token the page sends back in X-CSRF-Token.  Sessions
 * live in memory (a restart logs everyone out) with an idle and an
 * absolute expiry.  Scripts use API tokens ("jt_" + 43 characters of
 * base64url, 256 random bits), kept in the database as their SHA-256.
 *
 * Login backoff: failures are counted per user name and per client
 * address; after auth.login_free_failures, each further failure doubles
 * a lockout from one second up to auth.login_backoff_max_s.  A locked
 * name or address is refused before any hashing (GW_EAGAIN with the
 * seconds to wait), so guessing costs the attacker time and us nothing.
 *
 * Threads: any.  gw_auth_login hashes (tens of ms) and must run on a
 * worker thread (libmicrohttpd's pool), never on an event loop.  The
 * session and backoff tables have their own lock; the database calls
 * take db_admin_lock.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "gw_mi.h"
#include "gw_param.h"

#define GW_AUTH_SID_LEN 64   /* hex characters of a session id */
#define GW_AUTH_CSRF_LEN 32  /* hex characters of a CSRF token */

/* auth.*: session expiry, backoff, password length; GW_PARAM_END-terminated. */
extern const gw_param_t gw_auth_params[];

/* What a login or a session lookup tells the HTTP side. */
typedef struct gw_auth_info {
    char user[64];
    int role;         /* gw_role_t */
    int must_change;
    char csrf[GW_AUTH_CSRF_LEN + 1];
} gw_auth_info_t;

/* "viewer" / "operator" / "admin" -> gw_role_t, else -1. */
int gw_auth_role_parse(const char *s);

/* Check a password and open a session.  addr is the client's address text
 * (the backoff key beside user).  Returns 0 with sid (GW_AUTH_SID_LEN + 1
 * bytes) and *info; GW_EINVAL for a wrong name or password (the same
 * answer for both, after the same work); GW_EAGAIN while locked out, with
 * *retry_after_s; GW_ESTORE / GW_ENOMEM. */
int gw_auth_login(const char *user, const char *password, const char *addr, char *sid,
                  gw_auth_info_t *info, int *retry_after_s);

/* A user name and password without a session (Kannel's sendsms): the
 * same backoff and check as gw_auth_login, the user into *caller.  0,
 * GW_EINVAL, GW_EAGAIN with *retry_after_s, GW_ESTORE.  Slow: a worker. */
int gw_auth_password(const char *user, const char *password, const char *addr,
                     gw_mi_caller_t *caller, int *retry_after_s);

/* The live session sid into *caller and *info (each when not NULL),
 * extending its idle time when touch (a call, not a look: GET /session
 * does not keep a session alive).  0 or GW_ENOTFOUND (unknown, expired). */
int gw_auth_session(const char *sid, int touch, gw_mi_caller_t *caller, gw_auth_info_t *info);

void gw_auth_logout(const char *sid);

/* The API token text into *caller.  0, GW_ENOTFOUND (unknown or expired)
 * or GW_ESTORE. */
int gw_auth_token(const char *token, gw_mi_caller_t *caller);

/* A new token for tokens.create: out gets the text ("jt_..."), hash_hex
 * its stored form.  out: 64 bytes, hash_hex: 65 bytes. */
void gw_auth_token_new(char *out, char *hash_hex);

/* The sessions of user follow a change: role < 0 keeps it; drop != 0 ends
 * them (deleted user, password reset by someone else). */
void gw_auth_user_changed(const char *user, int role, int must_change, int drop);

/* Register users.*, tokens.* and audit.list.  Main thread, at start. */
int gw_auth_mi_init(void);

/* system.reload: every live session takes its user's role and
 * must_change from the database again; a user gone (or with a role this
 * version does not know) is logged out.  Returns how many users were. */
int gw_auth_reload(void);

/* auth.session_max_s, for the cookie's Max-Age. */
int gw_auth_session_max_s(void);

/* Shortest password users.add / users.passwd accept. */
int gw_auth_password_min(void);

#endif
