/*
 * sip_view_names.c - the tables the view's scanners read (sip_view.c,
 * sip_view_get.c): the class of every octet (RFC 3261 25.1 token, LWS,
 * parameter value, quoting, not in a Request-URI), ASCII lower case, the
 * header names with their compact forms, and the method names.  The
 * scanners test an octet by one table load instead of a chain of
 * comparisons; tests/unit/test_sip_view.c checks every octet and name
 * against the RFC's definitions.
 *
 * Ownership: static constant data.
 * Threads: pure; any thread.
 */
#include <stddef.h>
#include <string.h>

#include "sip_view_int.h"

/* See sip_view_int.h: token octets carry SIP_VW_TOK | SIP_VW_PVAL. */
#define SIP_VW_T (SIP_VW_TOK | SIP_VW_PVAL)
const unsigned char sip_vw_cc[256] = {
    ['a' ... 'z'] = SIP_VW_T, ['A' ... 'Z'] = SIP_VW_T, ['0' ... '9'] = SIP_VW_T,
    ['-'] = SIP_VW_T, ['.'] = SIP_VW_T, ['!'] = SIP_VW_T, ['%'] = SIP_VW_T,
    ['*'] = SIP_VW_T, ['_'] = SIP_VW_T, ['+'] = SIP_VW_T, ['`'] = SIP_VW_T,
    ['\''] = SIP_VW_T, ['~'] = SIP_VW_T,
    [':'] = SIP_VW_PVAL, ['['] = SIP_VW_PVAL, [']'] = SIP_VW_PVAL,
    [0 ... 8] = SIP_VW_NOT_URI, [11 ... 12] = SIP_VW_NOT_URI, [14 ... 31] = SIP_VW_NOT_URI,
    [' '] = SIP_VW_WS | SIP_VW_NOT_URI, ['\t'] = SIP_VW_WS | SIP_VW_NOT_URI,
    ['\r'] = SIP_VW_WS | SIP_VW_NOT_URI, ['\n'] = SIP_VW_WS | SIP_VW_NOT_URI,
    ['"'] = SIP_VW_QUOTING | SIP_VW_NOT_URI, ['\\'] = SIP_VW_QUOTING,
    ['<'] = SIP_VW_QUOTING | SIP_VW_NOT_URI, ['>'] = SIP_VW_QUOTING | SIP_VW_NOT_URI,
    [0x7f] = SIP_VW_NOT_URI,
};
#undef SIP_VW_T

/* See sip_view_int.h. */
#define SIP_VW_L4(c) c, c + 1, c + 2, c + 3
#define SIP_VW_L16(c) SIP_VW_L4(c), SIP_VW_L4(c + 4), SIP_VW_L4(c + 8), SIP_VW_L4(c + 12)
#define SIP_VW_L64(c) SIP_VW_L16(c), SIP_VW_L16(c + 16), SIP_VW_L16(c + 32), SIP_VW_L16(c + 48)
const unsigned char sip_vw_low[256] = {
    SIP_VW_L64(0), 64,
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm',
    'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z',
    SIP_VW_L64(91), SIP_VW_L64(155), SIP_VW_L16(219), SIP_VW_L16(235), SIP_VW_L4(251), 255,
};
#undef SIP_VW_L64
#undef SIP_VW_L16
#undef SIP_VW_L4

/* ---- names ---- */

/* The header names RFC 3261 (and the extensions a proxy reads) give:
 * by first letter, then length and the rest, case-insensitively. */
#define SIP_VW_NAME(lit, hid)                                                       \
    do {                                                                            \
        if (rc == SIP_H_OTHER && len == sizeof(lit) - 1 &&                          \
            sip_vw_ieq(name + 1, len - 1, (lit) + 1))                               \
            rc = (hid);                                                             \
    } while (0)
static sip_hdr_id_t sip_vw_long_name(const char *name, size_t len)
{
    sip_hdr_id_t rc = SIP_H_OTHER;

    switch (sip_vw_lower((unsigned char)name[0])) {
    case 'a':
        SIP_VW_NAME("authorization", SIP_H_AUTHORIZATION);
        SIP_VW_NAME("accept", SIP_H_ACCEPT);
        SIP_VW_NAME("allow-events", SIP_H_ALLOW_EVENTS);
        SIP_VW_NAME("accept-contact", SIP_H_ACCEPT_CONTACT);
        break;
    case 'c':
        SIP_VW_NAME("call-id", SIP_H_CALL_ID);
        SIP_VW_NAME("cseq", SIP_H_CSEQ);
        SIP_VW_NAME("contact", SIP_H_CONTACT);
        SIP_VW_NAME("content-length", SIP_H_CONTENT_LENGTH);
        SIP_VW_NAME("content-type", SIP_H_CONTENT_TYPE);
        SIP_VW_NAME("content-encoding", SIP_H_CONTENT_ENCODING);
        break;
    case 'd':
        SIP_VW_NAME("date", SIP_H_DATE);
        break;
    case 'e':
        SIP_VW_NAME("expires", SIP_H_EXPIRES);
        SIP_VW_NAME("event", SIP_H_EVENT);
        break;
    case 'f':
        SIP_VW_NAME("from", SIP_H_FROM);
        break;
    case 'i':
        SIP_VW_NAME("identity", SIP_H_IDENTITY);
        SIP_VW_NAME("identity-info", SIP_H_IDENTITY_INFO);
        break;
    case 'm':
        SIP_VW_NAME("max-forwards", SIP_H_MAX_FORWARDS);
        break;
    case 'p':
        SIP_VW_NAME("proxy-require", SIP_H_PROXY_REQUIRE);
        SIP_VW_NAME("proxy-authorization", SIP_H_PROXY_AUTHORIZATION);
        SIP_VW_NAME("proxy-authenticate", SIP_H_PROXY_AUTHENTICATE);
        break;
    case 'r':
        SIP_VW_NAME("route", SIP_H_ROUTE);
        SIP_VW_NAME("record-route", SIP_H_RECORD_ROUTE);
        SIP_VW_NAME("require", SIP_H_REQUIRE);
        SIP_VW_NAME("refer-to", SIP_H_REFER_TO);
        SIP_VW_NAME("referred-by", SIP_H_REFERRED_BY);
        SIP_VW_NAME("reject-contact", SIP_H_REJECT_CONTACT);
        SIP_VW_NAME("request-disposition", SIP_H_REQUEST_DISPOSITION);
        break;
    case 's':
        SIP_VW_NAME("subject", SIP_H_SUBJECT);
        SIP_VW_NAME("supported", SIP_H_SUPPORTED);
        SIP_VW_NAME("session-expires", SIP_H_SESSION_EXPIRES);
        break;
    case 't':
        SIP_VW_NAME("to", SIP_H_TO);
        break;
    case 'v':
        SIP_VW_NAME("via", SIP_H_VIA);
        break;
    case 'w':
        SIP_VW_NAME("www-authenticate", SIP_H_WWW_AUTHENTICATE);
        break;
    default:
        break;
    }
    return rc;
}
#undef SIP_VW_NAME

/* The compact forms (RFC 3261 7.3.3 and the extensions'), by letter. */
static sip_hdr_id_t sip_vw_compact_name(int c)
{
    sip_hdr_id_t rc = SIP_H_OTHER;

    switch (c) {
    case 'a': rc = SIP_H_ACCEPT_CONTACT; break;
    case 'b': rc = SIP_H_REFERRED_BY; break;
    case 'c': rc = SIP_H_CONTENT_TYPE; break;
    case 'd': rc = SIP_H_REQUEST_DISPOSITION; break;
    case 'e': rc = SIP_H_CONTENT_ENCODING; break;
    case 'f': rc = SIP_H_FROM; break;
    case 'i': rc = SIP_H_CALL_ID; break;
    case 'j': rc = SIP_H_REJECT_CONTACT; break;
    case 'k': rc = SIP_H_SUPPORTED; break;
    case 'l': rc = SIP_H_CONTENT_LENGTH; break;
    case 'm': rc = SIP_H_CONTACT; break;
    case 'n': rc = SIP_H_IDENTITY_INFO; break;
    case 'o': rc = SIP_H_EVENT; break;
    case 'r': rc = SIP_H_REFER_TO; break;
    case 's': rc = SIP_H_SUBJECT; break;
    case 't': rc = SIP_H_TO; break;
    case 'u': rc = SIP_H_ALLOW_EVENTS; break;
    case 'v': rc = SIP_H_VIA; break;
    case 'x': rc = SIP_H_SESSION_EXPIRES; break;
    case 'y': rc = SIP_H_IDENTITY; break;
    default: break;
    }
    return rc;
}

/* See sip_view.h. */
sip_hdr_id_t sip_view_hdr_id(const char *name, size_t len)
{
    if (len <= 1)
        return len ? sip_vw_compact_name(sip_vw_lower((unsigned char)name[0])) : SIP_H_OTHER;
    return sip_vw_long_name(name, len);
}

static const struct {
    const char *name;
    size_t len;
} sip_view_methods[] = {
    {"", 0}, {"INVITE", 6}, {"ACK", 3}, {"BYE", 3}, {"CANCEL", 6}, {"OPTIONS", 7},
    {"REGISTER", 8}, {"PRACK", 5}, {"SUBSCRIBE", 9}, {"NOTIFY", 6}, {"PUBLISH", 7},
    {"INFO", 4}, {"REFER", 5}, {"MESSAGE", 7}, {"UPDATE", 6},
};

/* See sip_view.h. */
sip_method_t sip_view_method(const char *tok, size_t len)
{
    size_t i;
    sip_method_t rc = SIP_M_OTHER;

    for (i = 1; i < sizeof(sip_view_methods) / sizeof(sip_view_methods[0]); i++) {
        if (sip_view_methods[i].len == len && sip_view_methods[i].name[0] == tok[0] &&
            memcmp(tok, sip_view_methods[i].name, len) == 0) {
            rc = (sip_method_t)i;
            break;
        }
    }
    return rc;
}
