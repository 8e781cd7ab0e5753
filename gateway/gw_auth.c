/*
 * gw_auth.c - login sessions, API tokens and login backoff (gw_auth.h).
 *
 * Sessions: a fixed table of GW_AUTH_SESSIONS_MAX slots; a new login when
 * it is full replaces the session idle the longest.  Ids and CSRF tokens
 * come from randombytes_buf and are compared with sodium_memcmp.
 *
 * Backoff: a fixed table of GW_AUTH_BACKOFF_MAX keys ("u:<name>",
 * "a:<address>"); a failure takes the slot of its key or the one touched
 * longest ago, so a flood of addresses cannot grow memory.
 *
 * Threads: any; auth_lock guards both tables and is never held across a
 * database call or a hash.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "gw_auth.h"
#include "gw_errors.h"
#include "gw_log.h"

#define GW_AUTH_SESSIONS_MAX 256
#define GW_AUTH_BACKOFF_MAX 512
#define GW_AUTH_TOKEN_TOUCH_MS 60000 /* last_used is written at most this often */

typedef struct gw_auth_session {
    char sid[GW_AUTH_SID_LEN + 1]; /* "" when free */
    gw_auth_info_t info;
    int64_t created_ms, seen_ms;
} gw_auth_session_t;

typedef struct gw_auth_backoff {
    char key[96]; /* "" when free */
    int failures;
    int64_t until_ms, seen_ms;
} gw_auth_backoff_t;

static int gw_auth_idle_s, gw_auth_max_s, gw_auth_free_failures, gw_auth_backoff_max_s;
static int gw_auth_pw_min;

const gw_param_t gw_auth_params[] = {
    { "auth.session_idle_s", GW_PT_INT, &gw_auth_idle_s, 0, "1800", 5, 7 * 86400,
      GW_PARAM_RUNTIME, "a web session unused this long ends" },
    { "auth.session_max_s", GW_PT_INT, &gw_auth_max_s, 0, "43200", 5, 30 * 86400,
      GW_PARAM_RUNTIME, "a web session ends this long after its login, used or not" },
    { "auth.login_free_failures", GW_PT_INT, &gw_auth_free_failures, 0, "3", 1, 100,
      GW_PARAM_RUNTIME, "failed logins per user or address before the backoff starts" },
    { "auth.login_backoff_max_s", GW_PT_INT, &gw_auth_backoff_max_s, 0, "300", 1, 86400,
      GW_PARAM_RUNTIME, "longest lockout: it doubles from 1 s with each further failure" },
    { "auth.password_min", GW_PT_INT, &gw_auth_pw_min, 0, "10", 8, 128, GW_PARAM_RUNTIME,
      "shortest password users.add and users.passwd accept" },
    GW_PARAM_END
};

static pthread_mutex_t gw_auth_lock = PTHREAD_MUTEX_INITIALIZER;
static gw_auth_session_t gw_auth_sessions[GW_AUTH_SESSIONS_MAX]; /* gw_auth_lock */
static gw_auth_backoff_t gw_auth_backoffs[GW_AUTH_BACKOFF_MAX];  /* gw_auth_lock */

static int gw_auth_rt(const int *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

int gw_auth_session_max_s(void)
{
    return gw_auth_rt(&gw_auth_max_s);
}

int gw_auth_password_min(void)
{
    return gw_auth_rt(&gw_auth_pw_min);
}

int gw_auth_role_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "viewer") == 0)
        return GW_ROLE_VIEWER;
    if (strcmp(s, "operator") == 0)
        return GW_ROLE_OPERATOR;
    if (strcmp(s, "admin") == 0)
        return GW_ROLE_ADMIN;
    return -1;
}

static void gw_auth_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];

    randombytes_buf(raw, nbytes);
    sodium_bin2hex(out, 2 * nbytes + 1, raw, nbytes);
    sodium_memzero(raw, sizeof raw);
}

/* ---- backoff ----------------------------------------------------------- */

/* The slot of key, or NULL (gw_auth_lock held). */
static gw_auth_backoff_t *gw_auth_backoff_find(const char *key)
{
    for (int i = 0; i < GW_AUTH_BACKOFF_MAX; i++)
        if (gw_auth_backoffs[i].key[0] && strcmp(gw_auth_backoffs[i].key, key) == 0)
            return &gw_auth_backoffs[i];
    return NULL;
}

/* Seconds until key may try again, 0 when it may now (gw_auth_lock held). */
static int gw_auth_backoff_wait(const char *key, int64_t now)
{
    gw_auth_backoff_t *b = gw_auth_backoff_find(key);

    if (b == NULL || b->until_ms <= now)
        return 0;
    return (int)((b->until_ms - now + 999) / 1000);
}

static void gw_auth_backoff_fail(const char *key, int64_t now)
{
    gw_auth_backoff_t *b = gw_auth_backoff_find(key), *old = &gw_auth_backoffs[0];
    int over;

    if (b == NULL) {
        for (int i = 0; i < GW_AUTH_BACKOFF_MAX; i++) {
            if (gw_auth_backoffs[i].key[0] == '\0') {
                old = &gw_auth_backoffs[i];
                break;
            }
            if (gw_auth_backoffs[i].seen_ms < old->seen_ms)
                old = &gw_auth_backoffs[i];
        }
        b = old;
        memset(b, 0, sizeof *b);
        snprintf(b->key, sizeof b->key, "%s", key);
    }
    b->failures++;
    b->seen_ms = now;
    over = b->failures - gw_auth_rt(&gw_auth_free_failures) + 1;
    if (over > 0) {
        int64_t s = over > 20 ? (int64_t)1 << 20 : (int64_t)1 << (over - 1);
        if (s > gw_auth_rt(&gw_auth_backoff_max_s))
            s = gw_auth_rt(&gw_auth_backoff_max_s);
        b->until_ms = now + s * 1000;
    }
}

static void gw_auth_backoff_clear(const char *key)
{
    gw_auth_backoff_t *b = gw_auth_backoff_find(key);

    if (b != NULL)
        memset(b, 0, sizeof *b);
}

/* ---- sessions ---------------------------------------------------------- */

static int gw_auth_session_live(const gw_auth_session_t *s, int64_t now)
{
    return s->sid[0] != '\0' && now - s->seen_ms < (int64_t)gw_auth_rt(&gw_auth_idle_s) * 1000 &&
           now - s->created_ms < (int64_t)gw_auth_rt(&gw_auth_max_s) * 1000;
}

static void gw_auth_session_open(const gw_auth_info_t *info, char *sid, int64_t now)
{
    gw_auth_session_t *slot = NULL, *old = &gw_auth_sessions[0];

    for (int i = 0; i < GW_AUTH_SESSIONS_MAX; i++) {
        gw_auth_session_t *s = &gw_auth_sessions[i];
        if (!gw_auth_session_live(s, now)) {
            slot = s;
            break;
        }
        if (s->seen_ms < old->seen_ms)
            old = s;
    }
    if (slot == NULL) {
        slot = old;
        GW_INFO("auth", "session table full: the session of %s idle the longest ends",
                old->info.user);
    }
    memset(slot, 0, sizeof *slot);
    gw_auth_random_hex(slot->sid, GW_AUTH_SID_LEN / 2);
    slot->info = *info;
    slot->created_ms = slot->seen_ms = now;
    memcpy(sid, slot->sid, GW_AUTH_SID_LEN + 1);
}

static gw_auth_session_t *gw_auth_session_find(const char *sid, int64_t now)
{
    if (sid == NULL || strlen(sid) != GW_AUTH_SID_LEN)
        return NULL;
    for (int i = 0; i < GW_AUTH_SESSIONS_MAX; i++) {
        gw_auth_session_t *s = &gw_auth_sessions[i];
        if (s->sid[0] && sodium_memcmp(s->sid, sid, GW_AUTH_SID_LEN) == 0)
            return gw_auth_session_live(s, now) ? s : NULL;
    }
    return NULL;
}

static void gw_auth_fill_caller(gw_mi_caller_t *c, const gw_auth_info_t *info)
{
    memset(c, 0, sizeof *c);
    snprintf(c->who, sizeof c->who, "%s", info->user);
    snprintf(c->user, sizeof c->user, "%s", info->user);
    c->via = "http";
    c->role = info->role;
    c->must_change = info->must_change;
}

/* The backoff, the password check and its bookkeeping: 0 with *info
 * (csrf empty), GW_EINVAL, GW_EAGAIN with *retry_after_s, GW_ESTORE. */
static int gw_auth_verify(const char *user, const char *password, const char *addr,
                          gw_auth_info_t *info, int *retry_after_s)
{
    char ukey[96], akey[96];
    json_t *row = NULL;
    int64_t now = gw_now_ms();
    int wait, rc, role = -1;

    *retry_after_s = 0;
    snprintf(ukey, sizeof ukey, "u:%s", user != NULL ? user : "");
    snprintf(akey, sizeof akey, "a:%s", addr != NULL ? addr : "");
    pthread_mutex_lock(&gw_auth_lock);
    wait = gw_auth_backoff_wait(ukey, now);
    if (gw_auth_backoff_wait(akey, now) > wait)
        wait = gw_auth_backoff_wait(akey, now);
    pthread_mutex_unlock(&gw_auth_lock);
    if (wait > 0) {
        *retry_after_s = wait;
        GW_INFO("auth", "login of '%s' from %s refused: backoff, %d s to wait",
                user != NULL ? user : "", addr != NULL ? addr : "?", wait);
        return GW_EAGAIN;
    }
    rc = user != NULL && user[0] ? db_user_verify(user, password, &row) : GW_ENOTFOUND;
    if (rc == GW_ENOTFOUND)
        rc = db_hash_decoy(password); /* the same work as a wrong password */
    if (rc == 0 && (role = gw_auth_role_parse(json_string_value(json_object_get(row, "role")))) < 0)
        rc = GW_EINVAL; /* a role this version does not know lets nobody in */
    now = gw_now_ms();
    pthread_mutex_lock(&gw_auth_lock);
    if (rc == GW_EINVAL) {
        gw_auth_backoff_fail(ukey, now);
        gw_auth_backoff_fail(akey, now);
    } else if (rc == 0) {
        gw_auth_backoff_clear(ukey);
        gw_auth_backoff_clear(akey);
    }
    pthread_mutex_unlock(&gw_auth_lock);
    if (rc == 0) {
        memset(info, 0, sizeof *info);
        snprintf(info->user, sizeof info->user, "%s", user);
        info->role = role;
        info->must_change = json_is_true(json_object_get(row, "must_change"));
    } else if (rc == GW_EINVAL) {
        GW_INFO("auth", "login of '%s' from %s refused: wrong name or password",
                user != NULL ? user : "", addr != NULL ? addr : "?");
    }
    json_decref(row);
    return rc;
}

int gw_auth_login(const char *user, const char *password, const char *addr, char *sid,
                  gw_auth_info_t *info, int *retry_after_s)
{
    int rc = gw_auth_verify(user, password, addr, info, retry_after_s);

    if (rc != 0)
        return rc;
    gw_auth_random_hex(info->csrf, GW_AUTH_CSRF_LEN / 2);
    pthread_mutex_lock(&gw_auth_lock);
    gw_auth_session_open(info, sid, gw_now_ms());
    pthread_mutex_unlock(&gw_auth_lock);
    db_user_touch_login(user);
    GW_INFO("auth", "login of '%s' (%s) from %s", user, gw_role_name(info->role),
            addr != NULL ? addr : "?");
    return 0;
}

int gw_auth_password(const char *user, const char *password, const char *addr,
                     gw_mi_caller_t *caller, int *retry_after_s)
{
    gw_auth_info_t info;
    int rc = gw_auth_verify(user, password, addr, &info, retry_after_s);

    if (rc != 0)
        return rc;
    gw_auth_fill_caller(caller, &info);
    return 0;
}

int gw_auth_session(const char *sid, int touch, gw_mi_caller_t *caller, gw_auth_info_t *info)
{
    int64_t now = gw_now_ms();
    gw_auth_session_t *s;
    int rc = GW_ENOTFOUND;

    pthread_mutex_lock(&gw_auth_lock);
    s = gw_auth_session_find(sid, now);
    if (s != NULL) {
        if (touch)
            s->seen_ms = now;
        if (caller != NULL)
            gw_auth_fill_caller(caller, &s->info);
        if (info != NULL)
            *info = s->info;
        rc = 0;
    }
    pthread_mutex_unlock(&gw_auth_lock);
    return rc;
}

void gw_auth_logout(const char *sid)
{
    gw_auth_session_t *s;

    pthread_mutex_lock(&gw_auth_lock);
    s = gw_auth_session_find(sid, gw_now_ms());
    if (s != NULL)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&gw_auth_lock);
}

void gw_auth_user_changed(const char *user, int role, int must_change, int drop)
{
    pthread_mutex_lock(&gw_auth_lock);
    for (int i = 0; i < GW_AUTH_SESSIONS_MAX; i++) {
        gw_auth_session_t *s = &gw_auth_sessions[i];
        if (s->sid[0] == '\0' || strcmp(s->info.user, user) != 0)
            continue;
        if (drop) {
            memset(s, 0, sizeof *s);
            continue;
        }
        if (role >= 0)
            s->info.role = role;
        s->info.must_change = must_change;
    }
    pthread_mutex_unlock(&gw_auth_lock);
}

/* ---- tokens ------------------------------------------------------------ */

static void gw_auth_token_hash(const char *token, char *hash_hex)
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hash_hex, 2 * sizeof h + 1, h, sizeof h);
}

void gw_auth_token_new(char *out, char *hash_hex)
{
    unsigned char raw[32];

    randombytes_buf(raw, sizeof raw);
    memcpy(out, "jt_", 3);
    sodium_bin2base64(out + 3, 61, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    gw_auth_token_hash(out, hash_hex);
}

int gw_auth_token(const char *token, gw_mi_caller_t *caller)
{
    char hash[2 * crypto_hash_sha256_BYTES + 1];
    json_t *row = NULL, *exp, *used;
    int64_t now = gw_now_ms();
    int rc, role;

    if (token == NULL || strncmp(token, "jt_", 3) != 0 || strlen(token) > 128)
        return GW_ENOTFOUND;
    gw_auth_token_hash(token, hash);
    rc = db_token_find(hash, &row);
    if (rc < 0)
        return rc;
    exp = json_object_get(row, "expires_at");
    role = gw_auth_role_parse(json_string_value(json_object_get(row, "role")));
    if ((json_is_integer(exp) && json_integer_value(exp) <= now) || role < 0) {
        json_decref(row);
        return GW_ENOTFOUND;
    }
    memset(caller, 0, sizeof *caller);
    snprintf(caller->who, sizeof caller->who, "token:%s",
             json_string_value(json_object_get(row, "name")));
    caller->via = "http";
    caller->role = role;
    used = json_object_get(row, "last_used");
    if (!json_is_integer(used) || now - json_integer_value(used) > GW_AUTH_TOKEN_TOUCH_MS)
        db_token_touch(json_string_value(json_object_get(row, "name")), now);
    json_decref(row);
    return 0;
}

int gw_auth_reload(void)
{
    char users[GW_AUTH_SESSIONS_MAX][64];
    int n = 0, i, j, role, dropped = 0;
    json_t *u;

    pthread_mutex_lock(&gw_auth_lock);
    for (i = 0; i < GW_AUTH_SESSIONS_MAX; i++) {
        if (gw_auth_sessions[i].sid[0] == '\0')
            continue;
        for (j = 0; j < n && strcmp(users[j], gw_auth_sessions[i].info.user) != 0; j++)
            ;
        if (j == n)
            snprintf(users[n++], sizeof users[0], "%s", gw_auth_sessions[i].info.user);
    }
    pthread_mutex_unlock(&gw_auth_lock);
    for (i = 0; i < n; i++) {
        u = NULL;
        int rc = db_user_get(users[i], &u);
        if (rc == GW_ENOTFOUND ||
            (rc == 0 && (role = gw_auth_role_parse(
                             json_string_value(json_object_get(u, "role")))) < 0)) {
            gw_auth_user_changed(users[i], -1, 0, 1);
            dropped++;
        } else if (rc == 0) {
            gw_auth_user_changed(users[i], role, json_is_true(json_object_get(u, "must_change")),
                                 0);
        }
        json_decref(u);
    }
    return dropped;
}
