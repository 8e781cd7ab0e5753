/*
 * gw_auth_mi.c - the MI of access control: users.* and tokens.*.
 *
 * users.passwd is the one method a session that must change its password
 * may call (gw_mi.c): for oneself it needs old_password; an admin setting
 * someone else's password needs none, and that user must change it at the
 * next login (unless must_change: false) and is logged out.  The last
 * admin cannot be deleted or lose the role.
 *
 * Threads: MI handlers (under gw_mi_lock).
 */
#include <sodium.h>
#include <string.h>

#include "db/db.h"
#include "gw_audit.h"
#include "gw_auth.h"
#include "gw_errors.h"
#include "gw_log.h"

/* A user or token name: 1-63 of [A-Za-z0-9._@-]. */
static int gw_auth_mi_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

/* The name member of params when it is a valid name, else NULL with the
 * error set. */
static const char *gw_auth_mi_name(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);

    if (name != NULL && !gw_auth_mi_name_ok(name)) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "name must be 1-63 of A-Z a-z 0-9 . _ @ -");
        return NULL;
    }
    return name;
}

/* The role member of params as gw_role_t, or -1 with the error set. */
static int gw_auth_mi_role(const json_t *params, gw_mi_reply_t *r)
{
    const char *s = gw_mi_str(params, "role", r);
    int role;

    if (s == NULL)
        return -1;
    role = gw_auth_role_parse(s);
    if (role < 0)
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "role must be viewer, operator or admin, not '%s'",
                    s);
    return role;
}

static int gw_auth_mi_password_ok(const char *pw, gw_mi_reply_t *r)
{
    if (pw == NULL)
        return 0;
    if ((int)strlen(pw) < gw_auth_password_min()) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "password must have at least %d characters",
                    gw_auth_password_min());
        return 0;
    }
    return 1;
}

/* Map a db_user_* / db_token_* code to the reply; 0 when rc was 0. */
static int gw_auth_mi_db_error(int rc, const char *what, const char *name, gw_mi_reply_t *r)
{
    if (rc == GW_ENOTFOUND)
        gw_mi_error(r, GW_MI_NOT_FOUND, "no %s '%s'", what, name);
    else if (rc == GW_EEXIST)
        gw_mi_error(r, GW_MI_CONFLICT, "%s '%s' already exists", what, name);
    else if (rc != 0)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "%s '%s': the store failed", what, name);
    return rc;
}

/* A list from the store as the result, or the error that it failed. */
static void gw_auth_mi_list(gw_mi_reply_t *r, json_t *a, const char *what)
{
    if (a == NULL)
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "%s could not be read", what);
    else
        gw_mi_result(r, a);
}

static void gw_auth_mi_users_list(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_auth_mi_list(r, db_users_list(), "users");
}

static void gw_auth_mi_users_add(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_auth_mi_name(params, r), *pw;
    int role, must;

    if (name == NULL)
        return;
    if ((role = gw_auth_mi_role(params, r)) < 0)
        return;
    pw = gw_mi_str(params, "password", r);
    if (!gw_auth_mi_password_ok(pw, r))
        return;
    must = json_is_true(json_object_get(params, "must_change"));
    if (gw_auth_mi_db_error(db_user_add(name, pw, gw_role_name(role), must), "user", name, r))
        return;
    gw_mi_result(r, json_pack("{s:s, s:s, s:b}", "name", name, "role", gw_role_name(role),
                              "must_change", must));
}

static void gw_auth_mi_users_passwd(const json_t *params, gw_mi_reply_t *r)
{
    const gw_mi_caller_t *c = gw_mi_caller(r);
    const char *name = gw_mi_opt_str(params, "name", c->user[0] ? c->user : NULL);
    const char *pw, *old;
    int self, must, rc;

    if (name == NULL) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "missing name");
        return;
    }
    self = c->user[0] != '\0' && strcmp(name, c->user) == 0;
    if (!self && c->role < GW_ROLE_ADMIN) {
        gw_mi_error(r, GW_MI_FORBIDDEN, "only an admin may set the password of another user");
        return;
    }
    pw = gw_mi_str(params, "password", r);
    if (!gw_auth_mi_password_ok(pw, r))
        return;
    if (self) {
        old = gw_mi_str(params, "old_password", r);
        if (old == NULL)
            return;
        rc = db_user_verify(name, old, NULL);
        if (rc == GW_EINVAL) {
            gw_mi_error(r, GW_MI_FORBIDDEN, "old_password is wrong");
            return;
        }
        if (strcmp(old, pw) == 0) {
            gw_mi_error(r, GW_MI_INVALID_PARAMS, "the new password must differ from the old");
            return;
        }
        if (gw_auth_mi_db_error(rc, "user", name, r))
            return;
        must = 0;
    } else {
        must = !json_is_false(json_object_get(params, "must_change"));
    }
    if (gw_auth_mi_db_error(db_user_passwd(name, pw, must), "user", name, r))
        return;
    gw_auth_user_changed(name, -1, must, !self);
    GW_INFO("auth", "password of '%s' changed by %s", name, c->who);
    gw_mi_result(r, json_pack("{s:s, s:b}", "name", name, "must_change", must));
}

/* Refuse taking away the last admin: 0 when fine, else the error set. */
static int gw_auth_mi_keeps_admin(const char *name, gw_mi_reply_t *r)
{
    json_t *u = NULL;
    int is_admin;

    if (db_user_get(name, &u) != 0)
        return 0; /* the change itself will say "no user" */
    is_admin = strcmp(json_string_value(json_object_get(u, "role")), "admin") == 0;
    json_decref(u);
    if (is_admin && db_users_admins() <= 1) {
        gw_mi_error(r, GW_MI_CONFLICT, "'%s' is the last admin: make another admin first", name);
        return -1;
    }
    return 0;
}

static void gw_auth_mi_users_set_role(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);
    int role;

    if (name == NULL || (role = gw_auth_mi_role(params, r)) < 0)
        return;
    if (role != GW_ROLE_ADMIN && gw_auth_mi_keeps_admin(name, r) != 0)
        return;
    if (gw_auth_mi_db_error(db_user_set_role(name, gw_role_name(role)), "user", name, r))
        return;
    json_t *u = NULL;
    if (db_user_get(name, &u) == 0)
        gw_auth_user_changed(name, role, json_is_true(json_object_get(u, "must_change")), 0);
    json_decref(u);
    gw_mi_result(r, json_pack("{s:s, s:s}", "name", name, "role", gw_role_name(role)));
}

static void gw_auth_mi_users_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);

    if (name == NULL || gw_auth_mi_keeps_admin(name, r) != 0)
        return;
    if (gw_auth_mi_db_error(db_user_delete(name), "user", name, r))
        return;
    gw_auth_user_changed(name, -1, 0, 1);
    gw_mi_result(r, json_pack("{s:s}", "deleted", name));
}

static void gw_auth_mi_tokens_list(const json_t *params, gw_mi_reply_t *r)
{
    (void)params;
    gw_auth_mi_list(r, db_tokens_list(), "tokens");
}

static void gw_auth_mi_tokens_create(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_auth_mi_name(params, r);
    long long ttl = gw_mi_opt_int(params, "expires_s", 0);
    char token[64], hash[65];
    int64_t expires = 0;
    int role, rc;

    if (name == NULL)
        return;
    if ((role = gw_auth_mi_role(params, r)) < 0)
        return;
    if (role > gw_mi_caller(r)->role) {
        gw_mi_error(r, GW_MI_FORBIDDEN, "a token cannot have a higher role than its maker");
        return;
    }
    if (ttl < 0 || ttl > 10LL * 365 * 86400) {
        gw_mi_error(r, GW_MI_INVALID_PARAMS, "expires_s must be 0 (never) .. 10 years");
        return;
    }
    if (ttl > 0)
        expires = gw_now_ms() + ttl * 1000;
    gw_auth_token_new(token, hash);
    rc = db_token_add(name, hash, gw_role_name(role), expires, gw_mi_caller(r)->who);
    if (gw_auth_mi_db_error(rc, "token", name, r) == 0)
        gw_mi_result(r, json_pack("{s:s, s:s, s:o, s:s}", "name", name, "role",
                                  gw_role_name(role), "expires_at",
                                  expires ? json_integer(expires) : json_null(), "token", token));
    sodium_memzero(token, sizeof token);
}

static void gw_auth_mi_tokens_delete(const json_t *params, gw_mi_reply_t *r)
{
    const char *name = gw_mi_str(params, "name", r);

    if (name == NULL || gw_auth_mi_db_error(db_token_delete(name), "token", name, r))
        return;
    gw_mi_result(r, json_pack("{s:s}", "deleted", name));
}

/* Who am I: the caller as the MI sees it. */
static void gw_auth_mi_whoami(const json_t *params, gw_mi_reply_t *r)
{
    const gw_mi_caller_t *c = gw_mi_caller(r);

    (void)params;
    gw_mi_result(r, json_pack("{s:s, s:s, s:s, s:b}", "who", c->who, "via", c->via, "role",
                              gw_role_name(c->role), "must_change", c->must_change));
}

static const gw_mi_cmd_t gw_auth_mi_cmds[] = {
    { "users.list", gw_auth_mi_users_list, "",
      "users: [{name, role, must_change, created_at, updated_at, last_login}]", GW_ROLE_ADMIN,
      GW_MI_F_NOAUDIT },
    { "users.add", gw_auth_mi_users_add, "name, role, password, must_change?",
      "add a user (role viewer, operator or admin)", GW_ROLE_ADMIN, 0 },
    { "users.passwd", gw_auth_mi_users_passwd, "name?, password, old_password?, must_change?",
      "change a password: one's own with old_password; an admin sets anyone's",
      GW_ROLE_VIEWER, GW_MI_F_AUDIT },
    { "users.set_role", gw_auth_mi_users_set_role, "name, role", "change a user's role",
      GW_ROLE_ADMIN, 0 },
    { "users.delete", gw_auth_mi_users_delete, "name", "delete a user; their sessions end",
      GW_ROLE_ADMIN, 0 },
    { "users.whoami", gw_auth_mi_whoami, "", "the caller: {who, via, role, must_change}",
      GW_ROLE_VIEWER, 0 },
    { "tokens.list", gw_auth_mi_tokens_list, "",
      "API tokens (never their text): [{name, role, expires_at, created_at, created_by, "
      "last_used}]", GW_ROLE_ADMIN, GW_MI_F_NOAUDIT },
    { "tokens.create", gw_auth_mi_tokens_create, "name, role, expires_s?",
      "a new API token for Authorization: Bearer; its text is shown only in this answer",
      GW_ROLE_ADMIN, 0 },
    { "tokens.delete", gw_auth_mi_tokens_delete, "name", "revoke a token at once",
      GW_ROLE_ADMIN, 0 },
    GW_MI_END,
};

int gw_auth_mi_init(void)
{
    if (gw_mi_register(gw_auth_mi_cmds) != 0)
        return GW_EEXIST;
    return gw_audit_init();
}
