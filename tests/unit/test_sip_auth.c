/*
 * test_sip_auth.c - the decisions of adapters/sip/sip_auth.c on request
 * texts: no credentials (407 with both challenges, or 401 with
 * WWW-Authenticate as a UAS), the right ones (taken once, as
 * sip:<user>@<realm>), a replayed nc, a wrong password, an unknown or
 * disabled user, malformed credentials, another realm's, an algorithm
 * not offered, a forged nonce.  The users come from a store in a
 * temporary folder through gw_sip_users_load, as in the daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip.h"
#include "adapters/sip/sip_digest.h"
#include "db/db.h"
#include "gw_errors.h"
#include "gw_sip_users.h"

static char test_dir[64];

static int test_setup(void **state)
{
    char path[128], md5[65], sha[65];
    const char *realm;
    (void)state;

    snprintf(test_dir, sizeof test_dir, "/tmp/junction-test-auth-XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/junction.db", test_dir);
    if (db_open(path) != 0)
        return -1;
    sip_stats.auth_challenges = gw_stat("sip.auth_challenges", "");
    sip_stats.auth_ok = gw_stat("sip.auth_ok", "");
    sip_stats.auth_failed = gw_stat("sip.auth_failed", "");
    sip_stats.auth_stale = gw_stat("sip.auth_stale", "");
    sip_stats.auth_replays = gw_stat("sip.auth_replays", "");
    snprintf(sip_conf.auth_algorithms, sizeof sip_conf.auth_algorithms, "SHA-256,MD5");
    sip_conf.nonce_ttl_s = 300;
    if (sip_auth_init() != 0)
        return -1;
    realm = sip_auth_realm_name(); /* no sip.realm here: the host's name */
    gw_sip_users_ha1(0, "alice", realm, "wonderland-1", md5);
    gw_sip_users_ha1(1, "alice", realm, "wonderland-1", sha);
    if (db_sip_user_add("alice", realm, md5, sha) != 0)
        return -1;
    gw_sip_users_ha1(0, "bob", realm, "builder-123", md5);
    gw_sip_users_ha1(1, "bob", realm, "builder-123", sha);
    if (db_sip_user_add("bob", realm, md5, sha) != 0 ||
        db_sip_user_update("bob", realm, NULL, NULL, 0) != 0)
        return -1;
    return gw_sip_users_load();
}

static int test_teardown(void **state)
{
    char cmd[128];
    (void)state;

    sip_auth_free();
    db_close();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A MESSAGE text with the header line hdr (NULL: none) into out. */
static size_t request(char *out, size_t n, const char *hdr)
{
    return (size_t)snprintf(out, n,
                            "MESSAGE sip:+4917012345678@127.0.0.1 SIP/2.0\r\n"
                            "Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-1\r\n"
                            "%s%s"
                            "Content-Length: 0\r\n\r\n",
                            hdr ? hdr : "", hdr ? "\r\n" : "");
}

/* The challenge of alg in a result's extra lines: its nonce into nonce. */
static void challenge_nonce(const char *extra, const char *alg, char *nonce)
{
    char want[32];
    const char *line, *p, *q;

    snprintf(want, sizeof want, "algorithm=%s,", alg);
    line = strstr(extra, want);
    assert_non_null(line);
    while (line > extra && line[-1] != '\n')
        line--;
    p = strstr(line, "nonce=\"");
    assert_non_null(p);
    p += 7;
    q = strchr(p, '"');
    memcpy(nonce, p, (size_t)(q - p));
    nonce[q - p] = '\0';
}

/* The credentials header (name) for user / password / alg / nonce / nc,
 * with the response computed as a client would. */
static void credentials(char *out, size_t n, const char *name, const char *user,
                        const char *password, int alg, const char *nonce, unsigned nc)
{
    sip_digest_cred_t c = { .alg = alg };
    char ha1[65], resp[65];

    snprintf(c.nonce, sizeof c.nonce, "%s", nonce);
    snprintf(c.uri, sizeof c.uri, "sip:+4917012345678@127.0.0.1");
    snprintf(c.nc, sizeof c.nc, "%08x", nc);
    snprintf(c.cnonce, sizeof c.cnonce, "c0ffee");
    gw_sip_users_ha1(alg == SIP_DIGEST_SHA256, user, sip_auth_realm_name(), password, ha1);
    assert_int_equal(sip_digest_response(&c, ha1, "MESSAGE", resp), 0);
    snprintf(out, n,
             "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
             "response=\"%s\", algorithm=%s, qop=auth, nc=%s, cnonce=\"c0ffee\"",
             name, user, sip_auth_realm_name(), nonce, c.uri, resp, sip_digest_alg_name(alg),
             c.nc);
}

/* Check the text with hdr; returns the result (extra freed by the caller). */
static sip_auth_result_t check(const char *hdr, int role)
{
    char text[2048];
    size_t n = request(text, sizeof text, hdr);
    sip_auth_result_t r;

    sip_auth_check(text, n, "MESSAGE", role, &r);
    return r;
}

/* A fresh nonce of a 407 for alg. */
static void fresh_nonce(int alg, char *nonce)
{
    sip_auth_result_t r = check(NULL, SIP_AUTH_PROXY);

    assert_int_equal(r.status, 407);
    challenge_nonce(r.extra, sip_digest_alg_name(alg), nonce);
    free(r.extra);
}

static void test_no_credentials_is_a_407_with_both_challenges(void **state)
{
    sip_auth_result_t r = check(NULL, SIP_AUTH_PROXY);
    (void)state;

    assert_int_equal(r.status, 407);
    assert_string_equal(r.reason, "Proxy Authentication Required");
    assert_non_null(r.extra);
    assert_true(strstr(r.extra, "algorithm=SHA-256") < strstr(r.extra, "algorithm=MD5"));
    assert_non_null(strstr(r.extra, "Proxy-Authenticate: Digest realm=\""));
    assert_null(strstr(r.extra, "WWW-Authenticate"));
    free(r.extra);
}

static void test_as_a_uas_it_is_a_401_with_www_authenticate(void **state)
{
    char nonce[SIP_NONCE_TEXT_MAX], hdr[1024];
    sip_auth_result_t r = check(NULL, SIP_AUTH_UAS);
    (void)state;

    assert_int_equal(r.status, 401);
    assert_string_equal(r.reason, "Unauthorized");
    assert_non_null(strstr(r.extra, "WWW-Authenticate: Digest realm=\""));
    assert_null(strstr(r.extra, "Proxy-Authenticate"));
    challenge_nonce(r.extra, "SHA-256", nonce);
    free(r.extra);
    /* a UAS reads Authorization, not Proxy-Authorization */
    credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1",
                SIP_DIGEST_SHA256, nonce, 1);
    r = check(hdr, SIP_AUTH_UAS);
    assert_int_equal(r.status, 401);
    free(r.extra);
    credentials(hdr, sizeof hdr, "Authorization", "alice", "wonderland-1", SIP_DIGEST_SHA256,
                nonce, 1);
    r = check(hdr, SIP_AUTH_UAS);
    assert_int_equal(r.status, 0);
}

static void test_right_credentials_are_taken_once_per_nc(void **state)
{
    char nonce[SIP_NONCE_TEXT_MAX], hdr[1024], want[200];
    sip_auth_result_t r;
    (void)state;

    for (int alg = SIP_DIGEST_MD5; alg <= SIP_DIGEST_SHA256; alg++) {
        fresh_nonce(alg, nonce);
        credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1", alg, nonce,
                    1);
        r = check(hdr, SIP_AUTH_PROXY);
        assert_int_equal(r.status, 0);
        assert_null(r.extra);
        snprintf(want, sizeof want, "sip:alice@%s", sip_auth_realm_name());
        assert_string_equal(r.sender, want);
        assert_string_equal(r.alg, sip_digest_alg_name(alg));
        r = check(hdr, SIP_AUTH_PROXY); /* the same nc again: a replay */
        assert_int_equal(r.status, 407);
        assert_false(r.stale);
        assert_string_equal(r.why, "nc replayed");
        free(r.extra);
        credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1", alg, nonce,
                    2);
        assert_int_equal(check(hdr, SIP_AUTH_PROXY).status, 0);
    }
}

static void test_wrong_password_unknown_and_disabled_users_are_403(void **state)
{
    static const char *const who[][2] = {
        { "alice", "wonderland-2" }, { "carol", "wonderland-1" }, { "bob", "builder-123" },
    };
    char nonce[SIP_NONCE_TEXT_MAX], hdr[1024];
    sip_auth_result_t r;
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        fresh_nonce(SIP_DIGEST_SHA256, nonce);
        credentials(hdr, sizeof hdr, "Proxy-Authorization", who[i][0], who[i][1],
                    SIP_DIGEST_SHA256, nonce, 1);
        r = check(hdr, SIP_AUTH_PROXY);
        assert_int_equal(r.status, 403);
        assert_null(r.extra);
        assert_string_equal(r.user, who[i][0]);
        /* one phrase for all three: the answer tells no names */
        assert_string_equal(r.reason, "Forbidden (credentials refused)");
    }
    /* a refused attempt used no nc: the right answer with nc 1 is taken */
    credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1",
                SIP_DIGEST_SHA256, nonce, 1);
    assert_int_equal(check(hdr, SIP_AUTH_PROXY).status, 0);
}

static void test_malformed_foreign_and_unoffered_credentials(void **state)
{
    char nonce[SIP_NONCE_TEXT_MAX], hdr[1024], forged[SIP_NONCE_TEXT_MAX];
    sip_auth_result_t r;
    (void)state;

    r = check("Proxy-Authorization: Digest username=\"alice\", realm=\"x\"", SIP_AUTH_PROXY);
    assert_int_equal(r.status, 407); /* another realm's: not for us */
    assert_string_equal(r.why, "no credentials");
    free(r.extra);
    snprintf(hdr, sizeof hdr, "Proxy-Authorization: Digest username=\"alice\", realm=\"%s\"",
             sip_auth_realm_name());
    r = check(hdr, SIP_AUTH_PROXY);
    assert_int_equal(r.status, 400);
    assert_null(r.extra);
    fresh_nonce(SIP_DIGEST_MD5, nonce);
    credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1", SIP_DIGEST_MD5,
                nonce, 1);
    strcpy(strstr(hdr, "algorithm=MD5"), "algorithm=MD5-sess, qop=auth, nc=00000001, cnonce=x");
    r = check(hdr, SIP_AUTH_PROXY);
    assert_int_equal(r.status, 407);
    free(r.extra);
    /* a nonce not ours */
    snprintf(forged, sizeof forged, "%s", nonce);
    forged[10] = forged[10] == 'A' ? 'B' : 'A';
    credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1", SIP_DIGEST_MD5,
                forged, 1);
    r = check(hdr, SIP_AUTH_PROXY);
    assert_int_equal(r.status, 407);
    assert_string_equal(r.why, "a nonce that is not ours");
    free(r.extra);
}

static void test_an_algorithm_not_offered_is_challenged_again(void **state)
{
    char nonce[SIP_NONCE_TEXT_MAX], hdr[1024];
    sip_auth_result_t r;
    (void)state;

    fresh_nonce(SIP_DIGEST_MD5, nonce);
    sip_auth_free();
    snprintf(sip_conf.auth_algorithms, sizeof sip_conf.auth_algorithms, "SHA-256");
    assert_int_equal(sip_auth_init(), 0);
    r = check(NULL, SIP_AUTH_PROXY);
    assert_null(strstr(r.extra, "algorithm=MD5"));
    challenge_nonce(r.extra, "SHA-256", nonce);
    free(r.extra);
    credentials(hdr, sizeof hdr, "Proxy-Authorization", "alice", "wonderland-1", SIP_DIGEST_MD5,
                nonce, 1);
    r = check(hdr, SIP_AUTH_PROXY);
    assert_int_equal(r.status, 407);
    free(r.extra);
    snprintf(sip_conf.auth_algorithms, sizeof sip_conf.auth_algorithms, "MD5,MD5");
    sip_auth_free();
    assert_int_equal(sip_auth_init(), GW_EINVAL);
    snprintf(sip_conf.auth_algorithms, sizeof sip_conf.auth_algorithms, "SHA-256,MD5");
    assert_int_equal(sip_auth_init(), 0);
}

/* sip_auth_strip: our realm's Proxy-Authorization (folded too, and one
 * naming no realm) goes; another realm's, the other headers and the body
 * stay, byte for byte. */
static void test_strip_removes_only_our_proxy_authorization(void **state)
{
    char buf[2048], want[2048];
    const char *realm = sip_auth_realm_name();
    size_t n;
    (void)state;

    n = (size_t)snprintf(buf, sizeof buf,
                         "INVITE sip:bob@example.com SIP/2.0\r\n"
                         "Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-1\r\n"
                         "Proxy-Authorization: Digest username=\"x\", realm=\"next.example\", "
                         "nonce=\"n\", uri=\"u\", response=\"r\"\r\n"
                         "proxy-authorization : Digest username=\"alice\",\r\n"
                         "  realm=\"%s\", nonce=\"n\", uri=\"u\", response=\"r\"\r\n"
                         "Authorization: Digest username=\"alice\", realm=\"%s\"\r\n"
                         "Proxy-Authorization: Basic YWxpY2U=\r\n"
                         "Content-Length: 27\r\n\r\n"
                         "Proxy-Authorization: body\r\n",
                         realm, realm);
    snprintf(want, sizeof want,
             "INVITE sip:bob@example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-1\r\n"
             "Proxy-Authorization: Digest username=\"x\", realm=\"next.example\", "
             "nonce=\"n\", uri=\"u\", response=\"r\"\r\n"
             "Authorization: Digest username=\"alice\", realm=\"%s\"\r\n"
             "Content-Length: 27\r\n\r\n"
             "Proxy-Authorization: body\r\n",
             realm);
    n = sip_auth_strip(buf, n);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
    /* nothing to take: unchanged */
    assert_int_equal(sip_auth_strip(buf, n), n);
    assert_string_equal(buf, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_credentials_is_a_407_with_both_challenges),
        cmocka_unit_test(test_as_a_uas_it_is_a_401_with_www_authenticate),
        cmocka_unit_test(test_right_credentials_are_taken_once_per_nc),
        cmocka_unit_test(test_wrong_password_unknown_and_disabled_users_are_403),
        cmocka_unit_test(test_malformed_foreign_and_unoffered_credentials),
        cmocka_unit_test(test_an_algorithm_not_offered_is_challenged_again),
        cmocka_unit_test(test_strip_removes_only_our_proxy_authorization),
    };
    return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
