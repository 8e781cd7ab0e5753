/*
 * gw_binary.c - a binary body given as hex or base64 text, with its UDH,
 * onto an envelope (gw_binary.h says why the UDH is a tag).
 *
 * A UDH is checked for its shape (3GPP TS 23.040 9.2.3.24): its first
 * octet is the length of the rest, and every information element (IEI,
 * length, data) ends inside it.  What the elements mean is the handset's
 * business; junction passes them on as they are.
 *
 * Threads: pure, any thread.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_binary.h"
#include "gw_errors.h"

static int gw_bin_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long gw_bin_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap)
{
    size_t i;

    if (len % 2 != 0 || len / 2 > cap)
        return -1;
    for (i = 0; i < len; i += 2) {
        int hi = gw_bin_nibble(hex[i]), lo = gw_bin_nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

void gw_bin_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* 1 when u (n octets) is a UDH: UDHL + 1 == n, every IE inside it. */
static int gw_bin_udh_ok(const uint8_t *u, size_t n)
{
    size_t i;

    if (n < 3 || (size_t)u[0] + 1 != n)
        return 0; /* the smallest UDH: UDHL, one IE of no data */
    for (i = 1; i < n; i += 2 + u[i + 1])
        if (i + 2 > n || i + 2 + u[i + 1] > n)
            return 0;
    return 1;
}

long gw_bin_udh(const gw_envelope_t *env, uint8_t *out, size_t cap)
{
    const char *hex = json_string_value(json_object_get(env->tags, GW_BIN_TAG_UDH));
    long n;

    if (hex == NULL)
        return 0;
    n = gw_bin_hex_decode(hex, strlen(hex), out, cap);
    return n > 0 && gw_bin_udh_ok(out, (size_t)n) ? n : -1;
}

/* The bytes of s into out (cap octets): their number, or -1 with err. */
static long gw_bin_bytes(const gw_bin_spec_t *s, uint8_t *out, size_t cap, char *err,
                         size_t errlen)
{
    size_t n = 0;

    if (s->encoding == NULL || strcmp(s->encoding, "hex") == 0) {
        long k = gw_bin_hex_decode(s->data, s->data_len, out, cap);
        if (k < 0)
            snprintf(err, errlen, s->data_len / 2 > cap
                                      ? "binary: more than %zu octets (one SMS; binary is not split)"
                                      : "binary: not valid hex (an even number of 0-9a-f)", cap);
        return k;
    }
    if (strcmp(s->encoding, "base64") != 0) {
        snprintf(err, errlen, "encoding must be hex or base64");
        return -1;
    }
    if (s->data_len > 4 * ((cap + 2) / 3) + 8) {
        snprintf(err, errlen, "binary: more than %zu octets (one SMS; binary is not split)", cap);
        return -1;
    }
    if (sodium_base642bin(out, cap, s->data, s->data_len, "\r\n", &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(err, errlen, "binary: not valid base64 (RFC 4648, with padding), or more than "
                 "%zu octets", cap);
        return -1;
    }
    return (long)n;
}

int gw_bin_apply(gw_envelope_t *env, const gw_bin_spec_t *s, char *err, size_t errlen)
{
    uint8_t udh[GW_BIN_SMS_MAX], bytes[GW_BIN_SMS_MAX];
    char udhhex[2 * GW_BIN_SMS_MAX + 1];
    long nudh = 0, n;
    int rc = GW_EINVAL;

    if (s->data_coding < -1 || s->data_coding > 255) {
        snprintf(err, errlen, "data_coding must be 0..255");
        return rc;
    }
    if (s->udh != NULL) {
        nudh = gw_bin_hex_decode(s->udh, strlen(s->udh), udh, sizeof udh);
        if (nudh <= 0 || !gw_bin_udh_ok(udh, (size_t)nudh)) {
            snprintf(err, errlen, "udh: not a user data header in hex (its length octet first, "
                     "then whole information elements), at most %d octets", GW_BIN_SMS_MAX);
            return rc;
        }
    }
    n = gw_bin_bytes(s, bytes, sizeof bytes - (size_t)nudh, err, errlen);
    if (n < 0)
        return rc;
    if (n == 0 && nudh == 0) {
        snprintf(err, errlen, "binary: empty (give at least one octet, or a udh)");
        return rc;
    }
    rc = GW_ENOMEM;
    if (gw_env_set_str(&env->body, (const char *)bytes, (size_t)n) < 0 ||
        gw_env_set_str(&env->content_type, "application/octet-stream", (size_t)-1) < 0)
        return rc;
    env->body_len = (size_t)n;
    env->binary = 1;
    env->data_coding = s->data_coding < 0 ? GW_BIN_DC_DEFAULT : (int)s->data_coding;
    if (nudh > 0) {
        gw_bin_hex_encode(udh, (size_t)nudh, udhhex);
        if (gw_env_set_tag(env, GW_BIN_TAG_UDH, udhhex) < 0)
            return rc;
    }
    return 0;
}
