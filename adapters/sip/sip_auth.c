/*
 * sip_auth.c - digest authentication of requests from peers outside the
 * trusted networks (docs/sip-auth.md), on top of the pure RFC 7616 code
 * of sip_digest.c and the users of gateway/gw_sip_users.h.
 *
 * sip_auth_check decides; the caller (sip_uas.c for MESSAGE,
 * sip_proxy_auth.c for proxied requests) answers and traces;
 * sip_auth_strip removes our realm's credentials before forwarding.  For
 * a MESSAGE junction acts as a proxy between the sender and the SMS
 * network, so it challenges with 407 and Proxy-Authenticate and reads
 * Proxy-Authorization (RFC 3261 22.3: SIP_AUTH_PROXY); a registrar or a
 * UAS answering for itself uses 401, WWW-Authenticate and Authorization
 * (SIP_AUTH_UAS, for REGISTER once the registrar asks for credentials).
 * The decisions, in the order they are taken (407 is 401 for a UAS):
 *   no credentials for our realm             -> 407, a fresh nonce
 *   credentials that do not parse            -> 400
 *   an algorithm / qop we do not take (or
 *   one sip.auth_algorithms does not offer)  -> 407, a fresh nonce
 *   a nonce or opaque not ours               -> 407, a fresh nonce
 *   unknown or disabled user, wrong response -> 403 (one phrase for all:
 *                                               no user enumeration)
 *   right response, nonce expired or its
 *   replay slot reused                       -> 407 stale=true
 *   right response, nc not above the last    -> 407, a fresh nonce (a
 *                                               replay: counted)
 *   right response, fresh nonce and nc       -> accepted as sip:user@realm
 * The digest uri need not be the Request-URI: RFC 3261 22.4 lets them
 * differ (a proxy on the way may have changed the Request-URI; SIPp names
 * its peer's address), against RFC 7616 3.4.6's SHOULD.  The response
 * binds the uri and the nc it names, and the nc is taken once.
 * The response is checked before the nonce's age and nc so that a stale
 * answer says stale=true only to one who knows the password (RFC 7616
 * 3.3), and a forged request cannot use up an nc.
 *
 * State: the nonce table (its secret made at init with randombytes), the
 * realm and the opaque, set at init and read-only after.
 *
 * Threads: sip_auth_init / _free on the main thread (adapter init /
 * destroy); sip_auth_check on any worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "gw_sip_users.h"
#include "gw_str.h"
#include "sip.h"
#include "sip_digest.h"

static sip_nonces_t *sip_auth_nonces;
static char sip_auth_realm[GW_SIP_REALM_MAX];
static char sip_auth_opaque[33];
static int sip_auth_algs[2]; /* sip.auth_algorithms, in the order offered */
static int sip_auth_nalgs;

int sip_auth_init(void)
{
    gw_sip_users_default_realm(sip_auth_realm, sizeof sip_auth_realm);
    for (const char *p = sip_auth_realm; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\') {
            GW_ERR(SIP_LOG, "sip.realm '%s': printable ASCII without \" or \\", sip_auth_realm);
            return GW_EINVAL;
        }
    sip_auth_nalgs = sip_digest_algs_parse(sip_conf.auth_algorithms, sip_auth_algs);
    if (sip_auth_nalgs < 0) {
        GW_ERR(SIP_LOG, "sip.auth_algorithms '%s': SHA-256 and / or MD5, comma-separated",
               sip_conf.auth_algorithms);
        return GW_EINVAL;
    }
    sip_random_hex(sip_auth_opaque, 16);
    sip_auth_nonces = sip_nonces_new(NULL);
    return sip_auth_nonces != NULL ? 0 : GW_ENOMEM;
}

void sip_auth_free(void)
{
    sip_nonces_free(sip_auth_nonces);
    sip_auth_nonces = NULL;
}

const char *sip_auth_realm_name(void)
{
    return sip_auth_realm;
}

/* The next value of header name (case-insensitive, folded lines joined)
 * in the header block of buf[0..n), starting at *pos, into out (cap
 * bytes).  1 and *pos moved past it, or 0 when there is none (or it does
 * not fit). */
static int sip_auth_header(const char *buf, size_t n, const char *name, size_t *pos, char *out,
                           size_t cap)
{
    size_t nl = strlen(name), i = *pos, o;

    while (i < n) {
        const char *eol = memchr(buf + i, '\n', n - i);
        size_t end = eol ? (size_t)(eol - buf) : n, j;

        if (end == i || (end == i + 1 && buf[i] == '\r'))
            return 0; /* the empty line: the body follows */
        if (end - i > nl && strncasecmp(buf + i, name, nl) == 0 &&
            (buf[i + nl] == ':' || buf[i + nl] == ' ' || buf[i + nl] == '\t')) {
            for (j = i + nl; j < end && (buf[j] == ' ' || buf[j] == '\t'); j++)
                ;
            if (j < end && buf[j] == ':') {
                o = 0;
                for (j++; j < n; j++) {
                    if (buf[j] == '\r')
                        continue;
                    if (buf[j] == '\n') {
                        if (j + 1 < n && (buf[j + 1] == ' ' || buf[j + 1] == '\t'))
                            continue; /* folded: the header goes on */
                        break;
                    }
                    if (o + 1 >= cap)
                        return 0;
                    out[o++] = buf[j];
                }
                out[o] = '\0';
                *pos = j + 1;
                return 1;
            }
        }
        i = end + 1;
    }
    return 0;
}

/* A refusal into res, with a fresh challenge when challenge is set
 * (status 407: the proxy's word, made 401 for a UAS by sip_auth_check). */
static void sip_auth_refuse(sip_auth_result_t *res, int status, const char *why, int challenge,
                            int stale, int64_t now_s)
{
    char nonce[SIP_NONCE_TEXT_MAX];
    gw_jbuf_t b = { 0 };

    res->status = status;
    res->why = why;
    res->stale = stale;
    if (status == 400)
        res->reason = "Bad Request (credentials)";
    else if (status == 403)
        res->reason = "Forbidden (credentials refused)";
    else
        res->reason = "Proxy Authentication Required";
    if (!challenge)
        return;
    sip_nonce_make(sip_auth_nonces, sip_auth_realm, now_s,
                   __atomic_load_n(&sip_conf.nonce_ttl_s, __ATOMIC_RELAXED), nonce);
    sip_digest_challenge(&b, res->uas ? "WWW-Authenticate" : "Proxy-Authenticate",
                         sip_auth_realm, nonce, sip_auth_opaque, stale, sip_auth_algs,
                         sip_auth_nalgs);
    res->extra = b.oom ? NULL : gw_jbuf_done(&b);
    if (res->extra == NULL) {
        gw_jbuf_free(&b);
        res->status = 500;
        res->reason = "Server Internal Error";
    }
}

/* Credentials c (parsed, for our realm) of a method request: the rest of
 * the decisions (the file's header), into res. */
static void sip_auth_decide(const sip_digest_cred_t *c, const char *method,
                            sip_auth_result_t *res, int64_t now_s)
{
    static const char decoy[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    gw_sip_user_t u;
    const char *ha1;
    int known, right;

    if (c->alg != sip_auth_algs[0] && (sip_auth_nalgs < 2 || c->alg != sip_auth_algs[1])) {
        sip_auth_refuse(res, 407, "an algorithm not offered (sip.auth_algorithms)", 1, 0, now_s);
        return;
    }
    if ((c->opaque[0] != '\0' && strcmp(c->opaque, sip_auth_opaque) != 0) ||
        sip_nonce_check(sip_auth_nonces, c->nonce, sip_auth_realm, now_s) == SIP_NONCE_BAD) {
        sip_auth_refuse(res, 407, "a nonce that is not ours", 1, 0, now_s);
        return;
    }
    known = gw_sip_users_find(c->username, c->realm, &u) == 0 && u.enabled;
    ha1 = !known ? decoy : c->alg == SIP_DIGEST_SHA256 ? u.ha1_sha256 : u.ha1_md5;
    /* the unknown get a hash as long as the known: no timing tells them apart */
    right = sip_digest_verify(c, ha1, method) && known;
    if (!right) {
        gw_stat_add(sip_stats.auth_failed, 1);
        sip_auth_refuse(res, 403,
                        !known ? "unknown or disabled user" : "wrong password (response)", 0, 0,
                        now_s);
        return;
    }
    switch (sip_nonce_use(sip_auth_nonces, c->nonce, sip_auth_realm, now_s, c->nc_value)) {
    case SIP_NONCE_OK:
        gw_stat_add(sip_stats.auth_ok, 1);
        res->status = 0;
        res->why = "authenticated";
        snprintf(res->sender, sizeof res->sender, "sip:%s@%s", u.username, u.realm);
        return;
    case SIP_NONCE_REPLAY:
        gw_stat_add(sip_stats.auth_replays, 1);
        sip_auth_refuse(res, 407, "nc replayed", 1, 0, now_s);
        return;
    default: /* stale: expired, or its replay slot went to a newer nonce */
        gw_stat_add(sip_stats.auth_stale, 1);
        sip_auth_refuse(res, 407, "stale nonce", 1, 1, now_s);
        return;
    }
}

void sip_auth_check(const char *buf, size_t n, const char *method, int role,
                    sip_auth_result_t *res)
{
    static __thread sip_digest_cred_t c; /* 2 kB: off the worker's stack */
    char value[2048];
    const char *why = NULL;
    size_t pos = 0;
    int64_t now_s = gw_now_ms() / 1000;
    int rc = GW_ENOTFOUND;

    memset(res, 0, sizeof *res);
    res->alg = "";
    res->uas = role == SIP_AUTH_UAS;
    /* the first credentials for our realm; others may be for proxies
     * further on (RFC 3261 22.3) */
    while (sip_auth_header(buf, n, res->uas ? "Authorization" : "Proxy-Authorization", &pos,
                           value, sizeof value)) {
        rc = sip_digest_parse(value, &c, &why);
        if (c.realm[0] == '\0' || strcmp(c.realm, sip_auth_realm) == 0)
            break;
        rc = GW_ENOTFOUND; /* another realm's, whatever its shape */
    }
    if (rc == GW_ENOTFOUND) {
        sip_auth_refuse(res, 407, "no credentials", 1, 0, now_s);
    } else if (rc == GW_EINVAL) {
        gw_stat_add(sip_stats.auth_failed, 1);
        sip_auth_refuse(res, 400, why, 0, 0, now_s);
    } else if (rc == GW_EDECLINED) {
        sip_auth_refuse(res, 407, why, 1, 0, now_s);
    } else {
        res->alg = sip_digest_alg_name(c.alg);
        gw_strlcpy(res->user, c.username, sizeof res->user);
        sip_auth_decide(&c, method, res, now_s);
    }
    if (res->status == 407)
        gw_stat_add(sip_stats.auth_challenges, 1);
    if (res->status == 407 && res->uas) {
        res->status = 401;
        res->reason = "Unauthorized";
    }
}

/* See sip.h.  A header line is the name through its CRLF and any folded
 * continuation lines; only the header block is looked at. */
size_t sip_auth_strip(char *buf, size_t n)
{
    static __thread sip_digest_cred_t c; /* 2 kB: off the worker's stack */
    static const char name[] = "Proxy-Authorization";
    const size_t nl = sizeof name - 1;
    char value[2048];
    const char *why;
    size_t i, end, j, o;

    i = 0;
    while (i < n && buf[i] != '\n') /* the start line */
        i++;
    i++;
    while (i < n) {
        /* the line [i, end): through its '\n' and folded lines after it */
        for (end = i; end < n && buf[end] != '\n'; end++)
            ;
        if (end == i || (end == i + 1 && buf[i] == '\r'))
            break; /* the empty line: the body follows */
        while (end + 1 < n && (buf[end + 1] == ' ' || buf[end + 1] == '\t'))
            for (end++; end < n && buf[end] != '\n'; end++)
                ;
        end = end < n ? end + 1 : n;
        if (end - i > nl && strncasecmp(buf + i, name, nl) == 0) {
            for (j = i + nl; j < end && (buf[j] == ' ' || buf[j] == '\t'); j++)
                ;
            if (j < end && buf[j] == ':') {
                for (o = 0, j++; j < end && o + 1 < sizeof value; j++)
                    if (buf[j] != '\r' && buf[j] != '\n')
                        value[o++] = buf[j];
                value[o] = '\0';
                memset(&c, 0, sizeof c);
                (void)sip_digest_parse(value, &c, &why); /* its realm is all we need */
                if (c.realm[0] == '\0' || strcmp(c.realm, sip_auth_realm) == 0) {
                    memmove(buf + i, buf + end, n - end);
                    n -= end - i;
                    buf[n] = '\0';
                    continue; /* the next line is at i now */
                }
            }
        }
        i = end;
    }
    return n;
}
