/*
 * sip_digest.c - RFC 7616 Digest for SIP: parsing credentials, hashing,
 * verifying, challenges, and the self-validating nonces with their nc
 * replay ring (sip_digest.h says how a nonce is made and checked).
 *
 * Everything here is pure but the nonce table, which owns its secret and
 * ring (guarded by its lock).  Nothing is logged: the caller (sip_auth.c)
 * knows the peer and decides what to say.
 *
 * Threads: any (see sip_digest.h).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "gw_errors.h"
#include "gw_sip_users.h"
#include "sip_digest.h"

#define SIP_NONCE_SIGNED 24 /* expiry 8 | slot 4 | gen 4 | random 8 */
#define SIP_NONCE_RAW (SIP_NONCE_SIGNED + crypto_auth_hmacsha256_BYTES)

typedef struct sip_nonce_slot {
    uint32_t gen; /* bumped each time a nonce is given the slot */
    uint32_t nc;  /* highest nc seen for that nonce; 0: none yet */
} sip_nonce_slot_t;

struct sip_nonces {
    uint8_t key[crypto_auth_hmacsha256_KEYBYTES];
    pthread_mutex_t lock;                   /* guards next and slots */
    uint32_t next;                          /* the slot the next nonce takes */
    sip_nonce_slot_t slots[SIP_NONCE_SLOTS];
};

/* ---- hashing ---- */

const char *sip_digest_alg_name(int alg)
{
    return alg == SIP_DIGEST_SHA256 ? "SHA-256" : "MD5";
}

/* H of the n parts joined by ':' as lower-case hex into out (the
 * gateway's, which also makes the stored HA1s).  0 or GW_ERROR. */
static int sip_digest_hash(int alg, const char *const *parts, int n, char *out)
{
    return gw_sip_digest_hex(alg == SIP_DIGEST_SHA256, parts, n, out);
}

int sip_digest_response(const sip_digest_cred_t *c, const char *ha1, const char *method,
                        char *out)
{
    char ha2[SIP_DIGEST_HEX_MAX];
    const char *a2[] = { method, c->uri };
    const char *kd[] = { ha1, c->nonce, c->nc, c->cnonce, "auth", ha2 };
    int rc = sip_digest_hash(c->alg, a2, 2, ha2);

    if (rc == 0)
        rc = sip_digest_hash(c->alg, kd, 6, out);
    return rc;
}

int sip_digest_verify(const sip_digest_cred_t *c, const char *ha1, const char *method)
{
    char want[SIP_DIGEST_HEX_MAX];
    size_t n;

    if (sip_digest_response(c, ha1, method, want) != 0)
        return 0;
    n = strlen(want);
    /* the lengths are public (the algorithm's); the contents are compared
     * in constant time.  The parser lower-cased the response. */
    return strlen(c->response) == n && sodium_memcmp(want, c->response, n) == 0;
}

/* ---- parsing ---- */

/* Copy a token or a quoted string at *pp into out (cap bytes), moving *pp
 * past it.  0 or GW_EINVAL (unterminated, empty token, too long). */
static int sip_digest_value(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;

    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            if (*p == '\0' || *p == '\r' || *p == '\n' || n + 1 >= cap)
                return GW_EINVAL;
            out[n++] = *p;
        }
        p++;
    } else {
        while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t' && *p != '"') {
            if (n + 1 >= cap)
                return GW_EINVAL;
            out[n++] = *p++;
        }
        if (n == 0)
            return GW_EINVAL;
    }
    out[n] = '\0';
    *pp = p;
    return 0;
}

/* The parameters sip_digest_parse keeps: name, offset and size in the cred. */
typedef struct sip_digest_field {
    const char *name;
    size_t off, size;
} sip_digest_field_t;

#define SIP_DF(n, f) { n, offsetof(sip_digest_cred_t, f), sizeof(((sip_digest_cred_t *)0)->f) }
static const sip_digest_field_t sip_digest_fields[] = {
    SIP_DF("username", username), SIP_DF("realm", realm),   SIP_DF("nonce", nonce),
    SIP_DF("uri", uri),           SIP_DF("response", response), SIP_DF("cnonce", cnonce),
    SIP_DF("opaque", opaque),     SIP_DF("nc", nc),
};
#define SIP_DF_N (sizeof sip_digest_fields / sizeof sip_digest_fields[0])

/* After the fields are in: the algorithm, qop, userhash and nc checked,
 * the response normalised.  0, GW_EINVAL or GW_EDECLINED with *why. */
static int sip_digest_finish(sip_digest_cred_t *c, const char *alg, const char *qop,
                             const char *userhash, const char **why)
{
    size_t want, n = strlen(c->response);
    char *end = NULL;

    if (c->username[0] == '\0' || c->realm[0] == '\0' || c->nonce[0] == '\0' ||
        c->uri[0] == '\0' || c->response[0] == '\0') {
        *why = "username, realm, nonce, uri and response are required";
        return GW_EINVAL;
    }
    if (alg[0] == '\0' || strcasecmp(alg, "MD5") == 0)
        c->alg = SIP_DIGEST_MD5;
    else if (strcasecmp(alg, "SHA-256") == 0)
        c->alg = SIP_DIGEST_SHA256;
    else {
        *why = "algorithm not supported (MD5, SHA-256)";
        return GW_EDECLINED;
    }
    if (userhash[0] != '\0' && strcasecmp(userhash, "false") != 0) {
        *why = "userhash not supported";
        return GW_EDECLINED;
    }
    if (strcmp(qop, "auth") != 0 || c->cnonce[0] == '\0' || c->nc[0] == '\0') {
        *why = "qop=auth with nc and cnonce is required";
        return GW_EDECLINED;
    }
    c->nc_value = (uint32_t)strtoul(c->nc, &end, 16);
    if (strlen(c->nc) != 8 || *end != '\0' || !isxdigit((unsigned char)c->nc[0])) {
        *why = "nc must be 8 hex digits";
        return GW_EINVAL;
    }
    want = c->alg == SIP_DIGEST_SHA256 ? 64 : 32;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)c->response[i]))
            n = 0;
        c->response[i] = (char)tolower((unsigned char)c->response[i]);
    }
    if (n != want) {
        *why = "response is not a hex digest of the algorithm";
        return GW_EINVAL;
    }
    return 0;
}

int sip_digest_parse(const char *value, sip_digest_cred_t *c, const char **why)
{
    char name[32], alg[32] = "", qop[32] = "", userhash[16] = "", skip[SIP_DIGEST_URI_MAX];
    unsigned seen = 0;
    const char *p = value;
    int rc = 0;

    memset(c, 0, sizeof *c);
    *why = "malformed credentials";
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Digest", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
        *why = "not Digest credentials";
        return GW_EINVAL;
    }
    p += 6;
    while (rc == 0) {
        size_t n = 0;
        char *dst = skip;
        size_t cap = sizeof skip;
        unsigned bit = 0;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        while (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
            if (n + 1 >= sizeof name)
                return GW_EINVAL;
            name[n++] = (char)tolower((unsigned char)*p++);
        }
        name[n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (n == 0 || *p++ != '=')
            return GW_EINVAL;
        while (*p == ' ' || *p == '\t')
            p++;
        for (size_t i = 0; i < SIP_DF_N; i++)
            if (strcmp(name, sip_digest_fields[i].name) == 0) {
                dst = (char *)c + sip_digest_fields[i].off;
                cap = sip_digest_fields[i].size;
                bit = 1u << i;
            }
        if (strcmp(name, "algorithm") == 0)
            dst = alg, cap = sizeof alg, bit = 1u << SIP_DF_N;
        else if (strcmp(name, "qop") == 0)
            dst = qop, cap = sizeof qop, bit = 1u << (SIP_DF_N + 1);
        else if (strcmp(name, "userhash") == 0)
            dst = userhash, cap = sizeof userhash, bit = 1u << (SIP_DF_N + 2);
        if (bit != 0 && (seen & bit) != 0) {
            *why = "a parameter given twice";
            return GW_EINVAL;
        }
        seen |= bit;
        rc = sip_digest_value(&p, dst, cap);
    }
    if (rc != 0) {
        *why = "malformed or too long parameter value";
        return rc;
    }
    return sip_digest_finish(c, alg, qop, userhash, why);
}

/* ---- challenges ---- */

void sip_digest_challenge(gw_jbuf_t *b, const char *header, const char *realm,
                          const char *nonce, const char *opaque, int stale, const int *algs,
                          int nalgs)
{
    /* in pieces: gw_jbuf_fmt is for short texts, a realm may be long */
    for (int i = 0; i < nalgs; i++) {
        gw_jbuf_puts(b, header);
        gw_jbuf_puts(b, ": Digest realm=\"");
        gw_jbuf_puts(b, realm);
        gw_jbuf_puts(b, "\", nonce=\"");
        gw_jbuf_puts(b, nonce);
        gw_jbuf_puts(b, "\", opaque=\"");
        gw_jbuf_puts(b, opaque);
        gw_jbuf_puts(b, "\", algorithm=");
        gw_jbuf_puts(b, sip_digest_alg_name(algs[i]));
        gw_jbuf_puts(b, stale ? ", qop=\"auth\", stale=true\r\n" : ", qop=\"auth\"\r\n");
    }
}

int sip_digest_algs_parse(const char *text, int *algs)
{
    char item[16];
    const char *p = text;
    int n = 0;

    for (;;) {
        size_t len = strcspn(p, ","), a = 0, z = len;

        while (a < z && p[a] == ' ')
            a++;
        while (z > a && p[z - 1] == ' ')
            z--;
        if (z == a || z - a >= sizeof item || n == 2)
            return GW_EINVAL;
        memcpy(item, p + a, z - a);
        item[z - a] = '\0';
        if (strcasecmp(item, "SHA-256") == 0)
            algs[n] = SIP_DIGEST_SHA256;
        else if (strcasecmp(item, "MD5") == 0)
            algs[n] = SIP_DIGEST_MD5;
        else
            return GW_EINVAL;
        if (n == 1 && algs[0] == algs[1])
            return GW_EINVAL;
        n++;
        if (p[len] == '\0')
            return n;
        p += len + 1;
    }
}

/* ---- nonces ---- */

sip_nonces_t *sip_nonces_new(const uint8_t *key)
{
    sip_nonces_t *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    if (key != NULL)
        memcpy(t->key, key, sizeof t->key);
    else
        randombytes_buf(t->key, sizeof t->key);
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void sip_nonces_free(sip_nonces_t *t)
{
    if (t == NULL)
        return;
    sodium_memzero(t->key, sizeof t->key);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void sip_nonce_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t sip_nonce_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* HMAC-SHA256(key, raw[0..SIGNED) | realm) into mac. */
static void sip_nonce_mac(const sip_nonces_t *t, const uint8_t *raw, const char *realm,
                          uint8_t *mac)
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, t->key, sizeof t->key);
    crypto_auth_hmacsha256_update(&st, raw, SIP_NONCE_SIGNED);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)realm, strlen(realm));
    crypto_auth_hmacsha256_final(&st, mac);
}

void sip_nonce_make(sip_nonces_t *t, const char *realm, int64_t now_s, int ttl_s, char *out)
{
    uint8_t raw[SIP_NONCE_RAW];
    uint32_t slot, gen;

    pthread_mutex_lock(&t->lock);
    slot = t->next++ & (SIP_NONCE_SLOTS - 1);
    gen = ++t->slots[slot].gen;
    t->slots[slot].nc = 0;
    pthread_mutex_unlock(&t->lock);
    sip_nonce_put(raw, (uint64_t)(now_s + ttl_s), 8);
    sip_nonce_put(raw + 8, slot, 4);
    sip_nonce_put(raw + 12, gen, 4);
    randombytes_buf(raw + 16, 8);
    sip_nonce_mac(t, raw, realm, raw + SIP_NONCE_SIGNED);
    sodium_bin2base64(out, SIP_NONCE_TEXT_MAX, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Decode and authenticate nonce into raw: 0 or SIP_NONCE_BAD. */
static int sip_nonce_open(const sip_nonces_t *t, const char *nonce, const char *realm,
                          uint8_t *raw)
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    size_t len = 0;

    if (sodium_base642bin(raw, SIP_NONCE_RAW, nonce, strlen(nonce), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != SIP_NONCE_RAW)
        return SIP_NONCE_BAD;
    sip_nonce_mac(t, raw, realm, mac);
    return sodium_memcmp(mac, raw + SIP_NONCE_SIGNED, sizeof mac) == 0 ? 0 : SIP_NONCE_BAD;
}

/* The state of nonce, and when nc is not 0 its use recorded; the slot is
 * read (and written) under the lock. */
static sip_nonce_state_t sip_nonce_state(sip_nonces_t *t, const char *nonce, const char *realm,
                                         int64_t now_s, uint32_t nc, int use)
{
    uint8_t raw[SIP_NONCE_RAW];
    sip_nonce_state_t st = SIP_NONCE_OK;
    uint32_t slot, gen;

    if (sip_nonce_open(t, nonce, realm, raw) != 0)
        return SIP_NONCE_BAD;
    if ((int64_t)sip_nonce_get(raw, 8) < now_s)
        return SIP_NONCE_STALE;
    slot = (uint32_t)sip_nonce_get(raw + 8, 4);
    gen = (uint32_t)sip_nonce_get(raw + 12, 4);
    if (slot >= SIP_NONCE_SLOTS)
        return SIP_NONCE_BAD; /* signed by us, so never; but never index with it */
    pthread_mutex_lock(&t->lock);
    if (t->slots[slot].gen != gen)
        st = SIP_NONCE_STALE;
    else if (use && nc <= t->slots[slot].nc)
        st = SIP_NONCE_REPLAY;
    else if (use)
        t->slots[slot].nc = nc;
    pthread_mutex_unlock(&t->lock);
    return st;
}

sip_nonce_state_t sip_nonce_check(sip_nonces_t *t, const char *nonce, const char *realm,
                                  int64_t now_s)
{
    return sip_nonce_state(t, nonce, realm, now_s, 0, 0);
}

sip_nonce_state_t sip_nonce_use(sip_nonces_t *t, const char *nonce, const char *realm,
                                int64_t now_s, uint32_t nc)
{
    return sip_nonce_state(t, nonce, realm, now_s, nc, 1);
}
