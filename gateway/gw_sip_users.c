/*
 * gw_sip_users.c - the SIP digest users (gw_sip_users.h): the running
 * table in memory, its loader, and the MI sip.users.*.
 *
 * The running table is an immutable open-addressing hash table (linear
 * probing, at most half full, keyed by username and realm) built whole
 * from the store and swapped in under gw_sip_users_lock, a read-write
 * lock: every SIP request with credentials takes it for reading to copy
 * one user out, a change takes it for writing once, to swap a pointer.
 * The old table is freed after the write lock is released: no reader can
 * still hold it then.  The store is the truth: each sip.users.* change
 * writes the table and loads it again, so what runs is what a restart
 * would read.
 *
 * Passwords given to sip.users.add / passwd are turned into both HA1s
 * here and wiped; they are never stored, logged or answered (the audit
 * log redacts members named "password", gw_audit.h).
 *
 * Threads: see gw_sip_users.h.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "../db/db.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "gw_mi.h"
#include "gw_param.h"
#include "gw_sip_users.h"
#include "gw_str.h"

#define GW_SIP_PASSWORD_MIN 8

typedef struct gw_sip_table {
    size_t cap;           /* a power of two; slots with username[0] == 0 are free */
    size_t n;
    gw_sip_user_t slots[];
} gw_sip_table_t;

static pthread_rwlock_t gw_sip_users_lock = PTHREAD_RWLOCK_INITIALIZER;
static gw_sip_table_t *gw_sip_users_cur; /* guarded by gw_sip_users_lock */

int gw_sip_digest_hex(int sha256, const char *const *parts, int n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = GW_ERROR, ok;

    if (ctx == NULL)
        return GW_ERROR;
    ok = EVP_DigestInit_ex(ctx, sha256 ? EVP_sha256() : EVP_md5(), NULL) == 1;
    for (int i = 0; ok && i < n; i++)
        ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
             EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
    if (ok && EVP_DigestFinal_ex(ctx, md, &len) == 1) {
        for (unsigned int i = 0; i < len; i++) {
            out[2 * i] = hex[md[i] >> 4];
            out[2 * i + 1] = hex[md[i] & 15];
        }
        out[2 * len] = '\0';
        rc = 0;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

int gw_sip_users_ha1(int sha256, const char *user, const char *realm, const char *password,
                     char *out)
{
    const char *const parts[] = { user, realm, password };
    return gw_sip_digest_hex(sha256, parts, 3, out);
}

/* FNV-1a of username "\0" realm. */
static uint32_t gw_sip_users_hash(const char *username, const char *realm)
{
    uint32_t h = 2166136261u;

    for (const char *p = username; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const char *p = realm; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* The slot of username / realm in t: its entry, or the free slot where it
 * would go.  t is at most half full, so the probe ends. */
static gw_sip_user_t *gw_sip_users_slot(gw_sip_table_t *t, const char *username,
                                        const char *realm)
{
    size_t i = gw_sip_users_hash(username, realm) & (t->cap - 1);

    while (t->slots[i].username[0] != '\0' &&
           (strcmp(t->slots[i].username, username) != 0 || strcmp(t->slots[i].realm, realm) != 0))
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

int gw_sip_users_find(const char *username, const char *realm, gw_sip_user_t *out)
{
    gw_sip_user_t *u;
    int rc = GW_ENOTFOUND;

    if (username[0] == '\0' || strlen(username) >= GW_SIP_USER_MAX ||
        strlen(realm) >= GW_SIP_REALM_MAX)
        return GW_ENOTFOUND;
    pthread_rwlock_rdlock(&gw_sip_users_lock);
    if (gw_sip_users_cur != NULL) {
        u = gw_sip_users_slot(gw_sip_users_cur, username, realm);
        if (u->username[0] != '\0') {
            *out = *u;
            rc = 0;
        }
    }
    pthread_rwlock_unlock(&gw_sip_users_lock);
    return rc;
}

size_t gw_sip_users_count(void)
{
    size_t n;

    pthread_rwlock_rdlock(&gw_sip_users_lock);
    n = gw_sip_users_cur != NULL ? gw_sip_users_cur->n : 0;
    pthread_rwlock_unlock(&gw_sip_users_lock);
    return n;
}

int gw_sip_users_load(void)
{
    json_t *rows = db_sip_users_list(1), *row;
    gw_sip_table_t *t, *old;
    size_t cap = 16, i;

    if (rows == NULL)
        return GW_ESTORE;
    while (cap < 2 * json_array_size(rows))
        cap *= 2;
    t = calloc(1, sizeof *t + cap * sizeof t->slots[0]);
    if (t == NULL) {
        json_decref(rows);
        return GW_ENOMEM;
    }
    t->cap = cap;
    json_array_foreach(rows, i, row) {
        const char *user = json_string_value(json_object_get(row, "username")) ?: "";
        const char *realm = json_string_value(json_object_get(row, "realm")) ?: "";
        gw_sip_user_t *u;

        if (user[0] == '\0' || strlen(user) >= GW_SIP_USER_MAX || strlen(realm) >= GW_SIP_REALM_MAX)
            continue; /* the MI never writes such a row */
        u = gw_sip_users_slot(t, user, realm);
        gw_strlcpy(u->username, user, sizeof u->username);
        gw_strlcpy(u->realm, realm, sizeof u->realm);
        gw_strlcpy(u->ha1_md5, json_string_value(json_object_get(row, "ha1_md5")) ?: "",
                   sizeof u->ha1_md5);
        gw_strlcpy(u->ha1_sha256, json_string_value(json_object_get(row, "ha1_sha256")) ?: "",
                   sizeof u->ha1_sha256);
        u->enabled = json_is_true(json_object_get(row, "enabled"));
        t->n++;
    }
    json_decref(rows);
    pthread_rwlock_wrlock(&gw_sip_users_lock);
    old = gw_sip_users_cur;
    gw_sip_users_cur = t;
    pthread_rwlock_unlock(&gw_sip_users_lock);
    if (old != NULL)
        sodium_memzero(old->slots, old->cap * sizeof old->slots[0]);
    free(old);
    return 0;
}

/* ---- MI ------------------------------------------------------------------ */

void gw_sip_users_default_realm(char *out, size_t n)
{
    const gw_param_t *p = gw_param_find("sip.realm");

    out[0] = '\0';
    if (p != NULL)
        gw_param_get(p, out, n);
    if (out[0] == '\0' && gethostname(out, n) != 0)
        out[0] = '\0';
    out[n - 1] = '\0';
    if (out[0] == '\0')
        gw_strlcpy(out, "junction", n);
}

/* The realm of a call: params' realm, else the default. */
static void gw_sip_users_realm(const json_t *params, char *out, size_t n)
{
    const char *given = gw_mi_opt_str(params, "realm", NULL);

    if (given != NULL && given[0] != '\0')
        gw_strlcpy(out, given, n);
    else
        gw_sip_users_default_realm(out, n);
}

/* A username (1-63 of A-Z a-z 0-9 . _ - + ~ !) and realm (1-127
 * printable characters but " and \: it goes into a quoted string) from
 * params, or NULL with the error set. */
static const char *gw_sip_users_who(const json_t *params, char *realm, size_t n,
                                    gw_mi_reply_t *r)
{
    const char *user = gw_mi_str(params, "username", r);
    size_t len = user != NULL ? strlen(user) : 0;

    if (user == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!((user[i] >= 'a' && user[i] <= 'z') || (user[i] >= 'A' && user[i] <= 'Z') ||
              (user[i] >= '0' && user[i] <= '9') || strchr("._-+~!", user[i]) != NULL))
            len = 0;
    if (len == 0 || len >= GW_SIP_USER_MAX) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS,
                    "username must be 1-63 of A-Z a-z 0-9 . _ - + ~ !");
        return NULL;
    }
    if (gw_mi_opt_str(params, "realm", NULL) != NULL &&
        strlen(gw_mi_opt_str(params, "realm", NULL)) >= GW_SIP_REALM_MAX) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "realm: at most 127 characters");
        return NULL;
    }
    gw_sip_users_realm(params, realm, n);
    for (const char *p = realm; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\') {
            gw_mi_error(r, GW_MI_INVALID_PARAMS,
                        "realm: printable ASCII without \" or \\");
            return NULL;
        }
    return user;
}

/* Both HA1s of params' password into md5 / sha (65 bytes each): 0, or -1
 * with the error set.  The caller wipes them after use. */
static int gw_sip_users_hash_pw(const json_t *params, const char *user, const char *realm,
                                char *md5, char *sha, gw_mi_reply_t *r)
{
    const char *pw = gw_mi_str(params, "password", r);

    if (pw == NULL)
        return -1;
    if (strlen(pw) < GW_SIP_PASSWORD_MIN) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "password must have at least %d characters",
                    GW_SIP_PASSWORD_MIN);
        return -1;
    }
    if (gw_sip_users_ha1(0, user, realm, pw, md5) != 0 ||
        gw_sip_users_ha1(1, user, realm, pw, sha) != 0) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot hash the password");
        return -1;
    }
    return 0;
}

/* The answer of a change of user / realm whose store call returned rc. */
static void gw_sip_users_done(int rc, const char *what, const char *user, const char *realm,
                              gw_mi_reply_t *r)
{
    if (rc == GW_EEXIST) {
        gw_mi_error(r, GW_MI_CONFLICT, "%s@%s exists already", user, realm);
        return;
    }
    if (rc == GW_ENOTFOUND) {
        gw_mi_error(r, GW_MI_NOT_FOUND, "no SIP user %s in realm %s", user, realm);
        return;
    }
    if (rc == 0)
        rc = gw_sip_users_load();
    if (rc < 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot %s %s@%s: %s", what, user, realm,
                    gw_strerror(rc));
    else
        gw_mi_result(r, json_pack("{s:s, s:s}", "username", user, "realm", realm));
}

static void gw_sip_users_mi_list(const json_t *params, gw_mi_reply_t *r)
{
    json_t *rows = db_sip_users_list(0); /* never the HA1s */

    (void)params;
    if (rows == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "cannot read the SIP users");
    else
        gw_mi_result(r, rows);
}

/* sip.users.add and sip.users.passwd: the same checks, another write. */
static void gw_sip_users_mi_set(const json_t *params, gw_mi_reply_t *r, int add)
{
    char realm[GW_SIP_REALM_MAX], md5[65], sha[65];
    const char *user = gw_sip_users_who(params, realm, sizeof realm, r);
    int rc;

    if (user == NULL || gw_sip_users_hash_pw(params, user, realm, md5, sha, r) != 0)
        return;
    rc = add ? db_sip_user_add(user, realm, md5, sha) : db_sip_user_update(user, realm, md5, sha, -1);
    sodium_memzero(md5, sizeof md5);
    sodium_memzero(sha, sizeof sha);
    if (rc == 0)
        GW_INFO("core", "SIP user %s@%s %s", user, realm, add ? "added" : "given a new password");
    gw_sip_users_done(rc, add ? "add" : "change", user, realm, r);
}

static void gw_sip_users_mi_add(const json_t *params, gw_mi_reply_t *r)
{
    gw_sip_users_mi_set(params, r, 1);
}

static void gw_sip_users_mi_passwd(const json_t *params, gw_mi_reply_t *r)
{
    gw_sip_users_mi_set(params, r, 0);
}

static void gw_sip_users_mi_delete(const json_t *params, gw_mi_reply_t *r)
{
    char realm[GW_SIP_REALM_MAX];
    const char *user = gw_sip_users_who(params, realm, sizeof realm, r);

    if (user != NULL)
        gw_sip_users_done(db_sip_user_delete(user, realm), "delete", user, realm, r);
}

static void gw_sip_users_mi_enable(const json_t *params, gw_mi_reply_t *r, int on)
{
    char realm[GW_SIP_REALM_MAX];
    const char *user = gw_sip_users_who(params, realm, sizeof realm, r);

    if (user != NULL)
        gw_sip_users_done(db_sip_user_update(user, realm, NULL, NULL, on),
                          on ? "enable" : "disable", user, realm, r);
}

static void gw_sip_users_mi_enable_on(const json_t *params, gw_mi_reply_t *r)
{
    gw_sip_users_mi_enable(params, r, 1);
}

static void gw_sip_users_mi_disable(const json_t *params, gw_mi_reply_t *r)
{
    gw_sip_users_mi_enable(params, r, 0);
}

static const gw_mi_cmd_t gw_sip_users_mi_cmds[] = {
    { "sip.users.list", gw_sip_users_mi_list, "",
      "SIP digest users (never their HA1s): [{username, realm, enabled, created_at, "
      "updated_at}]", GW_ROLE_VIEWER, 0 },
    { "sip.users.add", gw_sip_users_mi_add, "username, password, realm?",
      "add a SIP digest user (realm: sip.realm); both HA1s are stored, never the password",
      GW_ROLE_ADMIN, 0 },
    { "sip.users.passwd", gw_sip_users_mi_passwd, "username, password, realm?",
      "set a SIP user's password (both HA1s made again); applies at once", GW_ROLE_ADMIN, 0 },
    { "sip.users.delete", gw_sip_users_mi_delete, "username, realm?",
      "delete a SIP user; applies at once", GW_ROLE_ADMIN, 0 },
    { "sip.users.enable", gw_sip_users_mi_enable_on, "username, realm?",
      "let a disabled SIP user authenticate again", GW_ROLE_ADMIN, 0 },
    { "sip.users.disable", gw_sip_users_mi_disable, "username, realm?",
      "refuse a SIP user's credentials (403) until enabled", GW_ROLE_ADMIN, 0 },
    GW_MI_END,
};

int gw_sip_users_init(void)
{
    int rc = gw_mi_register(gw_sip_users_mi_cmds);

    if (rc == 0 && gw_sip_users_load() != 0)
        GW_WARN("core", "SIP users not loaded: no digest credentials are taken");
    return rc;
}
