/*
 * sip_digest.h - HTTP Digest access authentication for SIP (RFC 7616 as
 * RFC 3261 section 22 and RFC 8760 use it): MD5 and SHA-256, qop=auth.
 *
 *   sip_digest_parse      an Authorization / Proxy-Authorization value
 *   sip_digest_response   the expected response of a request from an HA1
 *   sip_digest_verify     a received response against a stored HA1, in
 *                         constant time
 *   sip_digest_challenge  the WWW-Authenticate / Proxy-Authenticate lines,
 *                         one per algorithm in the order given (SHA-256
 *                         first by default: RFC 8760 section 2.4 puts the
 *                         preferred one first)
 *   sip_nonces_*          self-validating nonces and the nc replay table
 *
 * A nonce is base64url (no padding) of 56 bytes:
 *   expiry (8, big-endian unix seconds) | slot (4) | gen (4) | random (8)
 *   | HMAC-SHA256(secret, those 24 bytes | realm) (32)
 * so its expiry and origin are checked without any table.  The slot names
 * one entry of a ring of SIP_NONCE_SLOTS (a power of two) that holds the
 * highest nc seen for the nonce that was last given that slot: a nonce is
 * given the next slot in turn when it is made (its gen is the slot's new
 * generation).  An nc not above the slot's is a replay; a slot whose gen
 * moved on (SIP_NONCE_SLOTS newer challenges were sent) makes the nonce
 * stale, so the client asks again with a fresh one: a nonce never loses
 * its replay record without being refused.  The ring is guarded by one
 * mutex (the table's lock), held for a few loads and stores.
 *
 * The HA1s themselves, H(username ":" realm ":" password), are made where
 * passwords are set: gw_sip_users_ha1 (gateway/gw_sip_users.h).  MD5 and
 * SHA-256 come from OpenSSL's EVP, the HMAC and random bytes from
 * libsodium.  No I/O; the nonce table is the only state.
 *
 * Threads: every function on any thread; sip_nonces_new / _free on one
 * thread while no other uses that table.
 */
#ifndef SIP_DIGEST_H
#define SIP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "gw_jbuf.h"

typedef enum {
    SIP_DIGEST_MD5 = 0,
    SIP_DIGEST_SHA256 = 1,
} sip_digest_alg_t;

#define SIP_DIGEST_HEX_MAX 65   /* SHA-256 as hex plus NUL */
#define SIP_DIGEST_FIELD_MAX 256
#define SIP_DIGEST_URI_MAX 512
#define SIP_NONCE_SLOTS 4096
#define SIP_NONCE_TEXT_MAX 80   /* 75 characters of base64url plus NUL */

/* A parsed credentials value.  Every string NUL-terminated, "" when absent. */
typedef struct sip_digest_cred {
    char username[SIP_DIGEST_FIELD_MAX];
    char realm[SIP_DIGEST_FIELD_MAX];
    char nonce[SIP_DIGEST_FIELD_MAX];
    char uri[SIP_DIGEST_URI_MAX];
    char response[SIP_DIGEST_HEX_MAX];
    char cnonce[SIP_DIGEST_FIELD_MAX];
    char opaque[SIP_DIGEST_FIELD_MAX];
    char nc[9];          /* 8 hex digits as sent */
    uint32_t nc_value;
    int alg;             /* sip_digest_alg_t; MD5 when not given */
} sip_digest_cred_t;

/* Parse value ("Digest username=..., ...").  Names are case-insensitive,
 * values a token or a quoted string (backslash escapes any character);
 * unknown parameters are skipped.  Returns 0; GW_EINVAL (not Digest, a
 * syntax error, a parameter twice or too long, username / realm / nonce /
 * uri / response missing, a response that is not hex of the algorithm's
 * length) or GW_EDECLINED (an algorithm other than MD5 and SHA-256, qop
 * other than auth or missing, userhash other than false, no nc or cnonce):
 * what is wrong as a static phrase in *why. */
int sip_digest_parse(const char *value, sip_digest_cred_t *c, const char **why);

/* "MD5" / "SHA-256". */
const char *sip_digest_alg_name(int alg);

/* The response c deserves for method from ha1 (RFC 7616 3.4.1, qop=auth:
 * H(ha1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" H(method ":" uri))) in
 * hex into out.  0 or GW_ERROR. */
int sip_digest_response(const sip_digest_cred_t *c, const char *ha1, const char *method,
                        char *out);

/* 1 when c->response is what ha1 gives for method (compared in constant
 * time), else 0. */
int sip_digest_verify(const sip_digest_cred_t *c, const char *ha1, const char *method);

/* Append one challenge header line per algorithm of algs[0..nalgs), in
 * that order (header is "WWW-Authenticate" or "Proxy-Authenticate"), each
 * ending CRLF, with realm, nonce, opaque, qop="auth", and stale=true when
 * stale. */
void sip_digest_challenge(gw_jbuf_t *b, const char *header, const char *realm,
                          const char *nonce, const char *opaque, int stale, const int *algs,
                          int nalgs);

/* A list of algorithms as text ("SHA-256,MD5", case-insensitive, each
 * once) into algs (2 entries): how many (1 or 2), or GW_EINVAL. */
int sip_digest_algs_parse(const char *text, int *algs);

/* ---- nonces ---- */
typedef struct sip_nonces sip_nonces_t;

typedef enum {
    SIP_NONCE_OK = 0,
    SIP_NONCE_BAD,     /* not one of ours (or for another realm): a fresh challenge */
    SIP_NONCE_STALE,   /* ours, but expired or its slot was reused: stale=true */
    SIP_NONCE_REPLAY,  /* ours and live, but the nc was not above the last one */
} sip_nonce_state_t;

/* A table whose nonces are signed with key (32 bytes, copied; NULL: 32
 * random bytes).  NULL when out of memory. */
sip_nonces_t *sip_nonces_new(const uint8_t *key);
void sip_nonces_free(sip_nonces_t *t);

/* A new nonce for realm, valid until now_s + ttl_s, into out
 * (SIP_NONCE_TEXT_MAX); it takes the next slot of the ring. */
void sip_nonce_make(sip_nonces_t *t, const char *realm, int64_t now_s, int ttl_s, char *out);

/* Check nonce for realm at now_s without using it: SIP_NONCE_OK, _BAD or
 * _STALE (expired, or its slot reused). */
sip_nonce_state_t sip_nonce_check(sip_nonces_t *t, const char *nonce, const char *realm,
                                  int64_t now_s);

/* Check as sip_nonce_check, then record nc for it: SIP_NONCE_OK when nc
 * is above the last one seen for this nonce (and now recorded),
 * SIP_NONCE_REPLAY when not, or what sip_nonce_check says. */
sip_nonce_state_t sip_nonce_use(sip_nonces_t *t, const char *nonce, const char *realm,
                                int64_t now_s, uint32_t nc);

#endif
