/*
 * gw_addr.h - message addresses, normalised once for every surface.
 *
 * SIP, SMPP, the MI and AMQP hand us addresses in their own forms; this is
 * the one place that decides what they mean, so "4915112345678" is the
 * same address whether it came as a SIP user part, as SMPP text with TON 0
 * or through messages.inject, and the router's prefixes (router/, which
 * match the normalised addresses) see one form.
 *
 * The rules of gw_addr_normalise(), in order, as Kannel and Jasmin users
 * expect of a gateway:
 *   sip:user@host, sips:...  the user part (without ";params" and
 *                            ":password") is classified as below when it
 *                            is a number; else the address is the whole
 *                            URI, type sip-uri, TON 0 NPI 0
 *   tel:number;params        the number is classified as below; a tel URI
 *                            that is no plain number ("tel:*100#") stays
 *                            whole, type tel-uri, TON 0 NPI 0.  In both URI
 *                            forms the RFC 3966 visual separators "-.()"
 *                            between digits are dropped; phone-context is
 *                            ignored
 *   +digits                  international; stored without '+', TON 1 NPI 1
 *   00digits                 international (addr.international_prefix);
 *                            stored without the prefix, TON 1 NPI 1
 *   0digits                  national (addr.national_prefix); stored as
 *                            dialled, prefix kept ("015112345678"), since
 *                            that is the form a phone dials and route
 *                            prefixes are written against; TON 2 NPI 1
 *   at most 6 digits         short code (addr.short_code_max); TON 0 NPI 1
 *                            ("unknown", ISDN plan): what a handset sends
 *                            when its user dials 2020, so every SMSC takes
 *                            it and resolves it in its own plan.  TON 3
 *                            (network specific) means something different
 *                            per operator, so it is kept only when an SMPP
 *                            peer said it.  Six because no complete E.164
 *                            number is shorter than seven digits (a 3-digit
 *                            country code and a 4-digit subscriber number,
 *                            e.g. Niue +683 xxxx)
 *   other digits             international, TON 1 NPI 1: a number without
 *                            either prefix that is too long for a short code
 *                            is taken to start with its country code
 *   anything else            alphanumeric, TON 5 NPI 0 (a '+' that is not
 *                            followed by a number is refused instead)
 * A number has 1..20 digits (the SMPP address fields hold 20 characters);
 * text is 1..255 printable ASCII characters (SIP URIs are ASCII by RFC
 * 3986, SMPP addresses are C-octet strings), without leading or trailing
 * spaces.  Anything else is GW_EINVAL: control characters never get into
 * the store or the logs.
 *
 * An SMPP address with an explicit TON keeps that TON's meaning: TON 1
 * international (a '+' is dropped), TON 2 national (the national prefix is
 * added when missing, so the stored form is the dialled one), TON 3, 4 and
 * 6 short codes, TON 5 alphanumeric (digits too: "12345" may be a sender
 * name); the peer's TON and NPI are kept.  TON 0, an unknown TON, or a
 * numeric TON on text that is no number: classified by the text as above.
 *
 * The SMPP form (gw_addr_to_smpp): international TON 1 NPI 1 digits;
 * national TON 2 NPI 1 without the national prefix (3GPP TS 23.040
 * 9.1.2.5: "prefix or escape digits shall not be included"); short codes
 * with their TON/NPI; alphanumeric TON 5 NPI 0, cut to 11 characters (the
 * GSM limit); a SIP URI as its user part: the number when it is one, else
 * alphanumeric cut to 11; a tel URI's dial string TON 0 NPI 1.
 *
 * Threads: any.  The parameters in gw_addr_params are read without a lock
 * and so are start-up only (no GW_PARAM_RUNTIME).
 */
#ifndef GW_ADDR_H
#define GW_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "gw_param.h"

/* Checklist for a new type: this enum, gw_addr_names in gw_addr.c, the
 * rules above, gw_addr_to_smpp and gw_addr_sip_user. */
typedef enum {
    GW_ADDR_INTL = 0,  /* international number: digits without '+' or 00 */
    GW_ADDR_NATIONAL,  /* national number with its national prefix */
    GW_ADDR_SHORT,     /* short code */
    GW_ADDR_ALNUM,     /* alphanumeric sender or recipient name */
    GW_ADDR_SIP_URI,   /* SIP(S) URI whose user part is no number: the URI */
    GW_ADDR_TEL_URI,   /* tel URI that is no plain number: the URI */
    GW_ADDR__COUNT
} gw_addr_type_t;


typedef struct gw_addr {
    char *address;       /* owned (freed with the envelope); see the rules above */
    gw_addr_type_t type;
    int ton;             /* SMPP type of number */
    int npi;             /* SMPP numbering plan indicator */
} gw_addr_t;

/* SMPP 3.4 section 5.2.5 / 5.2.6 values used by the rules. */
#define GW_TON_UNKNOWN 0
#define GW_TON_INTL 1
#define GW_TON_NATIONAL 2
#define GW_TON_NETWORK 3
#define GW_TON_SUBSCRIBER 4
#define GW_TON_ALNUM 5
#define GW_TON_ABBREVIATED 6
#define GW_NPI_UNKNOWN 0
#define GW_NPI_ISDN 1
#define GW_ADDR_TON_NONE (-1) /* the surface gave no TON: classify the text */

#define GW_ADDR_MAX 255        /* longest address text */
#define GW_ADDR_DIGITS_MAX 20  /* longest number */
#define GW_ADDR_ALNUM_SMPP 11  /* longest alphanumeric SMPP address */

/* addr.international_prefix, addr.national_prefix, addr.short_code_max;
 * registered by gw_main.c.  Unregistered (unit tests) the defaults hold. */
extern const gw_param_t gw_addr_params[];

/* Normalise text from any surface into *a by the rules above.  ton is
 * GW_ADDR_TON_NONE unless the surface carries one (SMPP), then npi with
 * it.  Returns 0 (a->address replaced by a malloc'd copy the owner of *a
 * frees, the old one freed), GW_EINVAL (bad text; *a unchanged) or
 * GW_ENOMEM. */
int gw_addr_normalise(gw_addr_t *a, const char *text, int ton, int npi);

/* An address read back from its stored (JSON) form: a known type name is
 * taken as it is (with an empty text too: an SMPP source the SMSC fills
 * in); the old name "e164" of rows and AMQP messages from the previous
 * version, or no name, is normalised again by its ton (as SMPP text).
 * Returns 0, GW_EINVAL (unknown name or bad text) or GW_ENOMEM. */
int gw_addr_load(gw_addr_t *a, const char *address, const char *type, int ton, int npi);
/* dst becomes a copy of src (its text owned by dst; dst->address must not
 * hold text yet).  0 or GW_ENOMEM. */
int gw_addr_copy(gw_addr_t *dst, const gw_addr_t *src);

/* The SMPP form of a (see above) into ton, npi and out (outlen octets,
 * NUL included).  Returns 0 or GW_EINVAL when a has no text or the text
 * does not fit. */
int gw_addr_to_smpp(const gw_addr_t *a, uint8_t *ton, uint8_t *npi, char *out, size_t outlen);

/* The SIP user part of a: "+digits" for international, the digits of
 * national numbers and short codes, the text of an alphanumeric address,
 * the user part of a SIP URI, the number of a tel URI.  Into out (outlen
 * octets); 0, or GW_EINVAL when there is none or it does not fit. */
int gw_addr_sip_user(const gw_addr_t *a, char *out, size_t outlen);

/* JSON names: "international", "national", "short", "alnum", "sip-uri",
 * "tel-uri".  parse returns the type or -1 (also for "e164": see
 * gw_addr_load). */
const char *gw_addr_type_name(gw_addr_type_t t);
int gw_addr_type_parse(const char *s);

#endif
