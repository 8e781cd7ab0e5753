/*
 * test_sip_digest.c - RFC 7616 Digest (adapters/sip/sip_digest.c): the
 * RFC's own example (section 3.9.1) for MD5 and SHA-256, credentials
 * parsed in odd spellings and refused when incomplete, challenges, and
 * the nonces: expiry, tampering, another realm, nc replay and a reused
 * slot.  The HA1s come from gw_sip_users_ha1, as in the daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip_digest.h"
#include "gw_errors.h"
#include "gw_sip_users.h"

#define RFC_REALM "http-auth@example.org"
#define RFC_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define RFC_OPAQUE "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
#define RFC_MD5 "8ca523f5e9506fed4657c9700eebdbec"
#define RFC_SHA256 "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"

/* The RFC's Authorization value for alg with response resp. */
static void rfc_value(char *out, size_t n, const char *alg, const char *resp)
{
    snprintf(out, n,
             "Digest username=\"Mufasa\", realm=\"" RFC_REALM "\", uri=\"/dir/index.html\", "
             "algorithm=%s, nonce=\"" RFC_NONCE "\", nc=00000001, cnonce=\"" RFC_CNONCE "\", "
             "qop=auth, response=\"%s\", opaque=\"" RFC_OPAQUE "\"",
             alg, resp);
}

static void check_rfc_example(int alg, const char *alg_name, const char *want)
{
    char value[1024], ha1[SIP_DIGEST_HEX_MAX], got[SIP_DIGEST_HEX_MAX];
    sip_digest_cred_t c;
    const char *why = NULL;

    rfc_value(value, sizeof value, alg_name, want);
    assert_int_equal(sip_digest_parse(value, &c, &why), 0);
    assert_int_equal(c.alg, alg);
    assert_string_equal(c.username, "Mufasa");
    assert_string_equal(c.opaque, RFC_OPAQUE);
    assert_int_equal(c.nc_value, 1);
    assert_int_equal(gw_sip_users_ha1(alg == SIP_DIGEST_SHA256, "Mufasa", RFC_REALM, "Circle of Life", ha1), 0);
    assert_int_equal(sip_digest_response(&c, ha1, "GET", got), 0);
    assert_string_equal(got, want);
    assert_true(sip_digest_verify(&c, ha1, "GET"));
    /* another method, another password: refused */
    assert_false(sip_digest_verify(&c, ha1, "POST"));
    assert_int_equal(gw_sip_users_ha1(alg == SIP_DIGEST_SHA256, "Mufasa", RFC_REALM, "Circle of life", ha1), 0);
    assert_false(sip_digest_verify(&c, ha1, "GET"));
}

static void test_rfc7616_example_md5(void **state)
{
    (void)state;
    check_rfc_example(SIP_DIGEST_MD5, "MD5", RFC_MD5);
}

static void test_rfc7616_example_sha256(void **state)
{
    (void)state;
    check_rfc_example(SIP_DIGEST_SHA256, "SHA-256", RFC_SHA256);
}

static void test_response_in_upper_case_hex_verifies(void **state)
{
    char value[1024], ha1[SIP_DIGEST_HEX_MAX];
    sip_digest_cred_t c;
    const char *why;
    (void)state;

    rfc_value(value, sizeof value, "md5", "8CA523F5E9506FED4657C9700EEBDBEC");
    assert_int_equal(sip_digest_parse(value, &c, &why), 0);
    gw_sip_users_ha1(0, "Mufasa", RFC_REALM, "Circle of Life", ha1);
    assert_true(sip_digest_verify(&c, ha1, "GET"));
}

static void test_quoted_strings_keep_escaped_quotes_and_commas(void **state)
{
    sip_digest_cred_t c;
    const char *why;
    (void)state;

    assert_int_equal(
        sip_digest_parse("digest  USERNAME = \"a\\\"b,c\\\\d\",realm=\"r, s\",nonce=n1,"
                         "uri=\"sip:x@y\",response=\"" RFC_MD5 "\",qop=\"auth\","
                         "cnonce=\"c\",nc=0000000a,unknown=\"x,y\",algorithm=\"MD5\"",
                         &c, &why),
        0);
    assert_string_equal(c.username, "a\"b,c\\d");
    assert_string_equal(c.realm, "r, s");
    assert_string_equal(c.nonce, "n1");
    assert_int_equal(c.nc_value, 10);
}

static void test_missing_fields_are_refused(void **state)
{
    static const char *const bad[] = {
        "Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"" RFC_MD5 "\", qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", qop=auth, nc=00000001, cnonce=c",
        "Basic dXNlcjpwdw==",
        "Digest",
        "Digest username=\"unterminated, realm=\"r\"",
        "Digest username=\"u\", username=\"v\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth, nc=00000001, cnonce=c",
        /* a response of the wrong length for MD5, an nc that is no hex */
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_SHA256 "\", qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth, nc=0000001g, cnonce=c",
        NULL,
    };
    sip_digest_cred_t c;
    const char *why;
    (void)state;

    for (int i = 0; bad[i] != NULL; i++) {
        why = NULL;
        assert_int_equal(sip_digest_parse(bad[i], &c, &why), GW_EINVAL);
        assert_non_null(why);
    }
}

static void test_unsupported_algorithm_qop_and_userhash_are_declined(void **state)
{
    static const char *const declined[] = {
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", algorithm=SHA-512-256, qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", algorithm=MD5-sess, qop=auth, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\"",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth-int, nc=00000001, cnonce=c",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"" RFC_MD5 "\", qop=auth, nc=00000001, cnonce=c, userhash=true",
        NULL,
    };
    sip_digest_cred_t c;
    const char *why;
    (void)state;

    for (int i = 0; declined[i] != NULL; i++)
        assert_int_equal(sip_digest_parse(declined[i], &c, &why), GW_EDECLINED);
}

static void test_challenge_offers_sha256_first_then_md5(void **state)
{
    gw_jbuf_t b = { 0 };
    char *text, *sha, *md5;
    (void)state;

    static const int both[] = { SIP_DIGEST_SHA256, SIP_DIGEST_MD5 };
    sip_digest_challenge(&b, "Proxy-Authenticate", "example.org", "N", "O", 0, both, 2);
    text = gw_jbuf_done(&b);
    sha = strstr(text, "algorithm=SHA-256");
    md5 = strstr(text, "algorithm=MD5");
    assert_non_null(sha);
    assert_non_null(md5);
    assert_true(sha < md5);
    assert_non_null(strstr(text, "Proxy-Authenticate: Digest realm=\"example.org\", nonce=\"N\""));
    assert_non_null(strstr(text, "qop=\"auth\"\r\n"));
    assert_null(strstr(text, "stale"));
    free(text);
    b = (gw_jbuf_t){ 0 };
    sip_digest_challenge(&b, "WWW-Authenticate", "r", "N", "O", 1, both, 2);
    text = gw_jbuf_done(&b);
    assert_non_null(strstr(text, "qop=\"auth\", stale=true\r\nWWW-Authenticate:"));
    free(text);
}

static void test_algorithm_lists_parse_in_order_and_refuse_the_rest(void **state)
{
    int a[2] = { -1, -1 };
    (void)state;

    assert_int_equal(sip_digest_algs_parse("SHA-256,MD5", a), 2);
    assert_int_equal(a[0], SIP_DIGEST_SHA256);
    assert_int_equal(a[1], SIP_DIGEST_MD5);
    assert_int_equal(sip_digest_algs_parse(" md5 , sha-256 ", a), 2);
    assert_int_equal(a[0], SIP_DIGEST_MD5);
    assert_int_equal(sip_digest_algs_parse("MD5", a), 1);
    assert_int_equal(a[0], SIP_DIGEST_MD5);
    assert_int_equal(sip_digest_algs_parse("", a), GW_EINVAL);
    assert_int_equal(sip_digest_algs_parse("MD5,", a), GW_EINVAL);
    assert_int_equal(sip_digest_algs_parse("MD5,MD5", a), GW_EINVAL);
    assert_int_equal(sip_digest_algs_parse("SHA-512-256", a), GW_EINVAL);
    assert_int_equal(sip_digest_algs_parse("MD5,SHA-256,MD5", a), GW_EINVAL);
}

static const uint8_t key[32] = { 1, 2, 3 };

static void test_nonce_is_valid_until_it_expires(void **state)
{
    sip_nonces_t *t = sip_nonces_new(key);
    char n[SIP_NONCE_TEXT_MAX];
    (void)state;

    sip_nonce_make(t, "r", 1000, 300, n);
    assert_int_equal(strlen(n), 75);
    assert_int_equal(sip_nonce_check(t, n, "r", 1000), SIP_NONCE_OK);
    assert_int_equal(sip_nonce_check(t, n, "r", 1300), SIP_NONCE_OK);
    assert_int_equal(sip_nonce_check(t, n, "r", 1301), SIP_NONCE_STALE);
    assert_int_equal(sip_nonce_use(t, n, "r", 1301, 1), SIP_NONCE_STALE);
    sip_nonces_free(t);
}

static void test_tampered_foreign_or_other_realm_nonce_is_bad(void **state)
{
    sip_nonces_t *t = sip_nonces_new(key), *other = sip_nonces_new(NULL);
    char n[SIP_NONCE_TEXT_MAX], m[SIP_NONCE_TEXT_MAX];
    (void)state;

    sip_nonce_make(t, "r", 1000, 300, n);
    strcpy(m, n);
    m[3] = m[3] == 'A' ? 'B' : 'A'; /* the expiry bytes: pushing it later needs the key */
    assert_int_equal(sip_nonce_check(t, m, "r", 1000), SIP_NONCE_BAD);
    strcpy(m, n);
    m[74] = m[74] == 'A' ? 'B' : 'A';
    assert_int_equal(sip_nonce_check(t, m, "r", 1000), SIP_NONCE_BAD);
    assert_int_equal(sip_nonce_check(t, n, "s", 1000), SIP_NONCE_BAD);
    assert_int_equal(sip_nonce_check(other, n, "r", 1000), SIP_NONCE_BAD);
    assert_int_equal(sip_nonce_check(t, RFC_NONCE, "r", 1000), SIP_NONCE_BAD);
    assert_int_equal(sip_nonce_check(t, "", "r", 1000), SIP_NONCE_BAD);
    n[60] = '\0';
    assert_int_equal(sip_nonce_check(t, n, "r", 1000), SIP_NONCE_BAD);
    sip_nonces_free(t);
    sip_nonces_free(other);
}

static void test_nc_must_grow_for_each_nonce(void **state)
{
    sip_nonces_t *t = sip_nonces_new(key);
    char a[SIP_NONCE_TEXT_MAX], b[SIP_NONCE_TEXT_MAX];
    (void)state;

    sip_nonce_make(t, "r", 1000, 300, a);
    sip_nonce_make(t, "r", 1000, 300, b);
    assert_string_not_equal(a, b);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 1), SIP_NONCE_OK);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 1), SIP_NONCE_REPLAY);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 0), SIP_NONCE_REPLAY);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 3), SIP_NONCE_OK);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 2), SIP_NONCE_REPLAY);
    /* each nonce counts on its own */
    assert_int_equal(sip_nonce_use(t, b, "r", 1000, 1), SIP_NONCE_OK);
    /* a check does not use */
    assert_int_equal(sip_nonce_check(t, a, "r", 1000), SIP_NONCE_OK);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 4), SIP_NONCE_OK);
    sip_nonces_free(t);
}

static void test_a_nonce_whose_slot_was_reused_is_stale_not_replayable(void **state)
{
    sip_nonces_t *t = sip_nonces_new(key);
    char a[SIP_NONCE_TEXT_MAX], x[SIP_NONCE_TEXT_MAX];
    (void)state;

    sip_nonce_make(t, "r", 1000, 300, a);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 1), SIP_NONCE_OK);
    for (int i = 0; i < SIP_NONCE_SLOTS; i++)
        sip_nonce_make(t, "r", 1000, 300, x);
    /* the ring came round to a's slot: its record is gone, so a is
     * stale (a new challenge), never taken again with nc 1 */
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 1), SIP_NONCE_STALE);
    assert_int_equal(sip_nonce_use(t, a, "r", 1000, 2), SIP_NONCE_STALE);
    assert_int_equal(sip_nonce_use(t, x, "r", 1000, 1), SIP_NONCE_OK);
    sip_nonces_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7616_example_md5),
        cmocka_unit_test(test_rfc7616_example_sha256),
        cmocka_unit_test(test_response_in_upper_case_hex_verifies),
        cmocka_unit_test(test_quoted_strings_keep_escaped_quotes_and_commas),
        cmocka_unit_test(test_missing_fields_are_refused),
        cmocka_unit_test(test_unsupported_algorithm_qop_and_userhash_are_declined),
        cmocka_unit_test(test_challenge_offers_sha256_first_then_md5),
        cmocka_unit_test(test_algorithm_lists_parse_in_order_and_refuse_the_rest),
        cmocka_unit_test(test_nonce_is_valid_until_it_expires),
        cmocka_unit_test(test_tampered_foreign_or_other_realm_nonce_is_bad),
        cmocka_unit_test(test_nc_must_grow_for_each_nonce),
        cmocka_unit_test(test_a_nonce_whose_slot_was_reused_is_stale_not_replayable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
