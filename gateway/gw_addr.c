/*
 * gw_addr.c - the address rules of gw_addr.h: normalise, SMPP and SIP forms.
 *
 * Every function works on a local result (gw_addr_res_t: type, TON, NPI and
 * the text in a stack buffer) and touches the caller's gw_addr_t only once
 * the whole address was understood, so a refused address leaves *a as it
 * was.  No allocation but the one copy of the final text.
 *
 * The prefixes and the short-code length are parameters (gw_addr_params)
 * set at start-up; they are read without a lock, which is why they are not
 * runtime parameters.
 *
 * Threads: any.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_addr.h"
#include "gw_errors.h"

static char gw_addr_intl_prefix[8] = "00";
static char gw_addr_national_prefix[8] = "0";
static int gw_addr_short_max = 6;

const gw_param_t gw_addr_params[] = {
    { "addr.international_prefix", GW_PT_STR, gw_addr_intl_prefix, sizeof(gw_addr_intl_prefix),
      "00", 1, 0, 0, "digits that start an international number (\"011\" in North America)" },
    { "addr.national_prefix", GW_PT_STR, gw_addr_national_prefix,
      sizeof(gw_addr_national_prefix), "0", 1, 0, 0,
      "digits that start a national number (\"1\" in North America, \"\" for none)" },
    { "addr.short_code_max", GW_PT_INT, &gw_addr_short_max, 0, "6", 0, GW_ADDR_DIGITS_MAX, 0,
      "all-digit addresses of at most this many digits are short codes" },
    GW_PARAM_END,
};

static const char *const gw_addr_names[GW_ADDR__COUNT] = {
    "international", "national", "short", "alnum", "sip-uri", "tel-uri",
};

/* What an address was understood as, before it is stored. */
typedef struct gw_addr_res {
    gw_addr_type_t type;
    int ton, npi;
    char text[GW_ADDR_MAX + sizeof(gw_addr_national_prefix)];
} gw_addr_res_t;

typedef enum { GW_ADDR_S_NONE = 0, GW_ADDR_S_SIP, GW_ADDR_S_TEL } gw_addr_scheme_t;

const char *gw_addr_type_name(gw_addr_type_t t)
{
    return (unsigned)t < GW_ADDR__COUNT ? gw_addr_names[t] : "unknown";
}

int gw_addr_type_parse(const char *s)
{
    int i;

    for (i = 0; s && i < GW_ADDR__COUNT; i++)
        if (strcmp(s, gw_addr_names[i]) == 0)
            return i;
    return -1;
}

/* The length of text when it may be an address at all (1..GW_ADDR_MAX
 * printable ASCII characters, no space at either end), else -1. */
static long gw_addr_text_len(const char *text)
{
    size_t n, i;

    if (text == NULL)
        return -1;
    n = strnlen(text, GW_ADDR_MAX + 1);
    if (n == 0 || n > GW_ADDR_MAX || text[0] == ' ' || text[n - 1] == ' ')
        return -1;
    for (i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
            return -1;
    return (long)n;
}

/* The scheme of text and the length of "scheme:" in *skip. */
static gw_addr_scheme_t gw_addr_scheme(const char *text, size_t *skip)
{
    if (strncasecmp(text, "sip:", 4) == 0 || strncasecmp(text, "tel:", 4) == 0) {
        *skip = 4;
        return (text[0] | 0x20) == 's' ? GW_ADDR_S_SIP : GW_ADDR_S_TEL;
    }
    if (strncasecmp(text, "sips:", 5) == 0) {
        *skip = 5;
        return GW_ADDR_S_SIP;
    }
    *skip = 0;
    return GW_ADDR_S_NONE;
}

/* The digits of s (n characters) into out (GW_ADDR_DIGITS_MAX + 1 octets):
 * an optional leading '+' sets *plus; with seps the RFC 3966 visual
 * separators "-.()" are skipped.  Returns the number of digits, -1 when
 * s is no number (another character, no digit) or -2 when it has more than
 * GW_ADDR_DIGITS_MAX digits. */
static int gw_addr_digits(const char *s, size_t n, int seps, int *plus, char *out)
{
    size_t i = 0;
    int k = 0;

    *plus = n > 0 && s[0] == '+';
    for (i = (size_t)*plus; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (k == GW_ADDR_DIGITS_MAX)
                return -2;
            out[k++] = s[i];
        } else if (!seps || strchr("-.()", s[i]) == NULL) {
            return -1;
        }
    }
    out[k] = '\0';
    return k > 0 ? k : -1;
}

static int gw_addr_starts(const char *s, const char *prefix)
{
    return prefix[0] != '\0' && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Classify the k digits d (with a '+' in front when plus) into r by the
 * number rules of gw_addr.h.  0, or GW_EINVAL for the international prefix
 * alone. */
static int gw_addr_number(gw_addr_res_t *r, const char *d, int k, int plus)
{
    size_t ip = strlen(gw_addr_intl_prefix), np = strlen(gw_addr_national_prefix);

    r->npi = GW_NPI_ISDN;
    if (plus || gw_addr_starts(d, gw_addr_intl_prefix)) {
        if (!plus)
            d += ip;
        if (*d == '\0')
            return GW_EINVAL;
        r->type = GW_ADDR_INTL;
        r->ton = GW_TON_INTL;
    } else if (gw_addr_starts(d, gw_addr_national_prefix) && (size_t)k > np) {
        r->type = GW_ADDR_NATIONAL;
        r->ton = GW_TON_NATIONAL;
    } else if (k <= gw_addr_short_max) {
        r->type = GW_ADDR_SHORT;
        r->ton = GW_TON_UNKNOWN;
    } else {
        r->type = GW_ADDR_INTL;
        r->ton = GW_TON_INTL;
    }
    strcpy(r->text, d);
    return GW_OK;
}

/* The user part of a sip:/sips: URI (after the scheme at p, before '@',
 * without ":password" or ";params") in *user / *len; -1 when it has none. */
static int gw_addr_uri_user(const char *p, const char **user, size_t *len)
{
    const char *at = strchr(p, '@');
    size_t n;

    if (at == NULL)
        return -1;
    n = (size_t)(at - p);
    n = strcspn(p, ":;") < n ? strcspn(p, ":;") : n;
    if (n == 0)
        return -1;
    *user = p;
    *len = n;
    return 0;
}

/* A whole URI kept as it is. */
static void gw_addr_keep_uri(gw_addr_res_t *r, gw_addr_type_t type, const char *text, size_t n)
{
    r->type = type;
    r->ton = GW_TON_UNKNOWN;
    r->npi = GW_NPI_UNKNOWN;
    memcpy(r->text, text, n);
    r->text[n] = '\0';
}

/* Classify text (n characters, already checked) when no TON says what it
 * is.  0 or GW_EINVAL. */
static int gw_addr_by_text(gw_addr_res_t *r, const char *text, size_t n)
{
    char digits[GW_ADDR_DIGITS_MAX + 1];
    const char *user;
    size_t skip, ulen;
    int k, plus;

    switch (gw_addr_scheme(text, &skip)) {
    case GW_ADDR_S_SIP:
        if (gw_addr_uri_user(text + skip, &user, &ulen) == 0 &&
            (k = gw_addr_digits(user, ulen, 1, &plus, digits)) > 0)
            return gw_addr_number(r, digits, k, plus);
        if (n == skip)
            return GW_EINVAL;
        gw_addr_keep_uri(r, GW_ADDR_SIP_URI, text, n);
        return GW_OK;
    case GW_ADDR_S_TEL:
        ulen = strcspn(text + skip, ";");
        if ((k = gw_addr_digits(text + skip, ulen, 1, &plus, digits)) > 0)
            return gw_addr_number(r, digits, k, plus);
        if (ulen == 0)
            return GW_EINVAL;
        gw_addr_keep_uri(r, GW_ADDR_TEL_URI, text, n);
        return GW_OK;
    case GW_ADDR_S_NONE:
        break;
    }
    k = gw_addr_digits(text, n, 0, &plus, digits);
    if (k > 0)
        return gw_addr_number(r, digits, k, plus);
    if (k == -2 || text[0] == '+')
        return GW_EINVAL; /* too long for a number, or a '+' that promised one */
    r->type = GW_ADDR_ALNUM;
    r->ton = GW_TON_ALNUM;
    r->npi = GW_NPI_UNKNOWN;
    memcpy(r->text, text, n + 1);
    return GW_OK;
}

/* Classify SMPP text by its explicit TON.  0, GW_EINVAL, or GW_EDECLINED
 * when the TON says nothing about this text (classify it by the text). */
static int gw_addr_by_ton(gw_addr_res_t *r, const char *text, size_t n, int ton, int npi)
{
    char digits[GW_ADDR_DIGITS_MAX + 1];
    int k, plus;

    r->ton = ton;
    r->npi = npi;
    if (ton == GW_TON_ALNUM) {
        r->type = GW_ADDR_ALNUM;
        memcpy(r->text, text, n + 1);
        return GW_OK;
    }
    k = gw_addr_digits(text, n, 0, &plus, digits);
    if (k < 0 || (plus && ton != GW_TON_INTL))
        return GW_EDECLINED;
    switch (ton) {
    case GW_TON_INTL:
        r->type = GW_ADDR_INTL;
        strcpy(r->text, digits);
        return GW_OK;
    case GW_TON_NATIONAL:
        r->type = GW_ADDR_NATIONAL;
        strcpy(r->text, gw_addr_starts(digits, gw_addr_national_prefix) ? ""
                                                                         : gw_addr_national_prefix);
        strcat(r->text, digits);
        return GW_OK;
    case GW_TON_NETWORK:
    case GW_TON_SUBSCRIBER:
    case GW_TON_ABBREVIATED:
        r->type = GW_ADDR_SHORT;
        strcpy(r->text, digits);
        return GW_OK;
    default:
        return GW_EDECLINED;
    }
}

/* See gw_addr.h.  Any thread. */
int gw_addr_normalise(gw_addr_t *a, const char *text, int ton, int npi)
{
    gw_addr_res_t r;
    long n = gw_addr_text_len(text);
    char *copy;
    int rc = GW_EDECLINED;

    if (n < 0)
        return GW_EINVAL;
    if (ton > GW_TON_UNKNOWN)
        rc = gw_addr_by_ton(&r, text, (size_t)n, ton, npi);
    if (rc == GW_EDECLINED)
        rc = gw_addr_by_text(&r, text, (size_t)n);
    if (rc != GW_OK)
        return rc;
    copy = strdup(r.text);
    if (copy == NULL)
        return GW_ENOMEM;
    free(a->address);
    a->address = copy;
    a->type = r.type;
    a->ton = r.ton;
    a->npi = r.npi;
    return GW_OK;
}

int gw_addr_copy(gw_addr_t *dst, const gw_addr_t *src)
{
    dst->type = src->type;
    dst->ton = src->ton;
    dst->npi = src->npi;
    dst->address = strdup(src->address ? src->address : "");
    return dst->address ? GW_OK : GW_ENOMEM;
}

/* See gw_addr.h.  Any thread. */
int gw_addr_load(gw_addr_t *a, const char *address, const char *type, int ton, int npi)
{
    char *copy;
    int t;

    if (type == NULL || strcmp(type, "e164") == 0)
        return gw_addr_normalise(a, address, ton, npi);
    t = gw_addr_type_parse(type);
    /* "" is a source left for the SMSC to fill in (smpp_pdu.c keeps it) */
    if (t < 0 || address == NULL || (address[0] != '\0' && gw_addr_text_len(address) < 0))
        return GW_EINVAL;
    copy = strdup(address);
    if (copy == NULL)
        return GW_ENOMEM;
    free(a->address);
    a->address = copy;
    a->type = (gw_addr_type_t)t;
    a->ton = ton;
    a->npi = npi;
    return GW_OK;
}

/* Copy at most max characters of s (n of them) into out; GW_EINVAL when
 * they do not fit or there are none. */
static int gw_addr_put(char *out, size_t outlen, const char *s, size_t n, size_t max)
{
    if (n > max)
        n = max;
    if (n == 0 || n + 1 > outlen)
        return GW_EINVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    return GW_OK;
}

/* See gw_addr.h.  Any thread. */
int gw_addr_sip_user(const gw_addr_t *a, char *out, size_t outlen)
{
    const char *s = a->address, *user;
    size_t skip, n;

    if (s == NULL || s[0] == '\0' || outlen == 0)
        return GW_EINVAL;
    switch (a->type) {
    case GW_ADDR_INTL:
        if (s[0] == '+')
            s++;
        out[0] = '+';
        return gw_addr_put(out + 1, outlen - 1, s, strlen(s), (size_t)-1);
    case GW_ADDR_SIP_URI:
        gw_addr_scheme(s, &skip);
        if (gw_addr_uri_user(s + skip, &user, &n) < 0)
            return GW_EINVAL;
        return gw_addr_put(out, outlen, user, n, (size_t)-1);
    case GW_ADDR_TEL_URI:
        gw_addr_scheme(s, &skip);
        return gw_addr_put(out, outlen, s + skip, strcspn(s + skip, ";"), (size_t)-1);
    default:
        return gw_addr_put(out, outlen, s, strlen(s), (size_t)-1);
    }
}

/* See gw_addr.h.  Any thread. */
int gw_addr_to_smpp(const gw_addr_t *a, uint8_t *ton, uint8_t *npi, char *out, size_t outlen)
{
    const char *s = a->address;
    char user[GW_ADDR_MAX + 1], digits[GW_ADDR_DIGITS_MAX + 1];
    gw_addr_res_t r;
    size_t skip;
    int k, plus;

    if (s == NULL || s[0] == '\0')
        return GW_EINVAL;
    switch (a->type) {
    case GW_ADDR_INTL:
        *ton = GW_TON_INTL;
        *npi = GW_NPI_ISDN;
        s += s[0] == '+';
        return gw_addr_put(out, outlen, s, strlen(s), (size_t)-1);
    case GW_ADDR_NATIONAL:
        *ton = GW_TON_NATIONAL;
        *npi = GW_NPI_ISDN;
        if (gw_addr_starts(s, gw_addr_national_prefix) &&
            strlen(s) > strlen(gw_addr_national_prefix))
            s += strlen(gw_addr_national_prefix);
        return gw_addr_put(out, outlen, s, strlen(s), (size_t)-1);
    case GW_ADDR_SHORT:
        *ton = (uint8_t)a->ton;
        *npi = (uint8_t)a->npi;
        return gw_addr_put(out, outlen, s, strlen(s), (size_t)-1);
    case GW_ADDR_SIP_URI:
        /* the user part: its number when it is one (a URI stored by hand
         * or by an older version), else a name; no user: the host */
        if (gw_addr_sip_user(a, user, sizeof(user)) < 0) {
            gw_addr_scheme(s, &skip);
            if (gw_addr_put(user, sizeof(user), s + skip, strcspn(s + skip, ";:>"),
                            (size_t)-1) < 0)
                return GW_EINVAL;
        }
        k = gw_addr_digits(user, strlen(user), 1, &plus, digits);
        if (k > 0 && gw_addr_number(&r, digits, k, plus) == 0) {
            const gw_addr_t num = { r.text, r.type, r.ton, r.npi };
            return gw_addr_to_smpp(&num, ton, npi, out, outlen);
        }
        *ton = GW_TON_ALNUM;
        *npi = GW_NPI_UNKNOWN;
        return gw_addr_put(out, outlen, user, strlen(user), GW_ADDR_ALNUM_SMPP);
    case GW_ADDR_TEL_URI:
        /* a dial string such as *100#: the SMSC's own plan reads it */
        *ton = GW_TON_UNKNOWN;
        *npi = GW_NPI_ISDN;
        gw_addr_scheme(s, &skip);
        return gw_addr_put(out, outlen, s + skip, strcspn(s + skip, ";"), (size_t)-1);
    default:
        *ton = GW_TON_ALNUM;
        *npi = GW_NPI_UNKNOWN;
        return gw_addr_put(out, outlen, s, strlen(s), GW_ADDR_ALNUM_SMPP);
    }
}
