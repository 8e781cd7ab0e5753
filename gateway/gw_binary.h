/*
 * gw_binary.h - a binary body handed in as text on a back-office surface
 * (MI messages.inject, the HTTP API and Kannel's sendsms through it, the
 * AMQP input JSON), checked by one set of rules for all of them.
 *
 * The bytes come as hex or base64 text; an optional user data header
 * comes as hex (its length octet, UDHL, first: "0605040b8423f0").  The
 * envelope gets binary = 1, content_type application/octet-stream, the
 * data_coding given (default 4, 8-bit data) and the UDH as the tag "udh"
 * (lower-case hex, UDHL included): tags are stored and recovered with the
 * envelope's JSON, so nothing new is needed in the store.  SMPP sends
 * the UDH in front of the bytes with esm_class UDHI (smpp_out.c); SIP
 * cannot carry a UDH and fails such a delivery for good (sip_uac.c).
 *
 * A binary message is never split: UDH and bytes together fit one SMS
 * (GW_BIN_SMS_MAX octets).
 *
 * Threads: pure, any thread.
 */
#ifndef GW_BINARY_H
#define GW_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_envelope.h"

#define GW_BIN_SMS_MAX 140   /* octets of one SMS: UDH and bytes together */
#define GW_BIN_TAG_UDH "udh" /* the envelope tag of a binary message's UDH */
#define GW_BIN_DC_DEFAULT 4  /* data_coding 8-bit data */

/* What the caller gave; member names are those of the surface (MI and
 * HTTP "binary", AMQP the same), used in the error texts. */
typedef struct gw_bin_spec {
    const char *data;      /* the bytes as text */
    size_t data_len;
    const char *encoding;  /* "hex" or "base64"; NULL: hex */
    const char *udh;       /* hex; NULL: none */
    long long data_coding; /* 0..255; -1: GW_BIN_DC_DEFAULT */
} gw_bin_spec_t;

/* Decode s onto env: body, body_len, binary, content_type, data_coding
 * and the tag "udh".  0; GW_EINVAL with err (errlen bytes) naming the
 * member at fault ("binary: not valid hex", "udh: ...", "data_coding:
 * ..."); GW_ENOMEM.  env is unchanged on GW_EINVAL of the checks before
 * the body is set. */
int gw_bin_apply(gw_envelope_t *env, const gw_bin_spec_t *s, char *err, size_t errlen);

/* hex (len characters, either case) into out (cap octets): the number of
 * octets, or -1 when it is not an even number of hex digits or too long. */
long gw_bin_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap);

/* n octets as lower-case hex into out (2n + 1 bytes, NUL terminated). */
void gw_bin_hex_encode(const uint8_t *in, size_t n, char *out);

/* The UDH env carries (tag "udh") into out (cap octets): its length, 0
 * when there is none, -1 when the tag is not a well-formed UDH. */
long gw_bin_udh(const gw_envelope_t *env, uint8_t *out, size_t cap);

#endif
