/*
 * smpp_codec.c - text codings of short messages: GSM 03.38, UCS-2/UTF-16BE,
 * Latin-1, and splitting into concatenated parts.
 *
 * Everything here is pure (no I/O, no globals written) so it is unit tested
 * on its own (tests/unit/test_smpp_codec.c) and safe on any thread.
 *
 * GSM 03.38 travels unpacked in short_message: one septet per octet, the
 * extension table reached through the escape 0x1B (two octets per
 * character).  UCS-2 is sent as UTF-16BE, so characters outside the BMP
 * become surrogate pairs.  Invalid UTF-8 input is replaced by U+FFFD, which
 * is not in GSM 03.38 and therefore forces UCS-2: the text is never
 * silently truncated.  Splitting counts octets of the encoded text and
 * never separates an escape pair or a surrogate pair.
 *
 * Decoding reads data_coding as SMPP 3.4 defines 0..14 (0 GSM 03.38, 1
 * IA5, 3 Latin-1, 8 UCS-2; the others are kept as binary) and, above, as
 * the coding groups of 3GPP TS 23.038 (smpp_dcs_alphabet): 0x10-0x3F by
 * their alphabet bits (compressed is binary), 0xC0-0xDF GSM, 0xE0-0xEF
 * UCS-2, 0xF0-0xFF GSM or 8-bit data by bit 2.  The message class those
 * values carry (smpp_dcs_class) travels as the envelope's tag "sms_class"
 * and is put back by smpp_dcs_with_class; 0x0F, 0x40-0xBF stay binary.
 *
 * data_coding 0 is "the SMSC's default alphabet": GSM 03.38 for most, but
 * some SMSCs mean Latin-1 or plain ASCII by it.  A client connector says
 * which (conf "dc0", smpp_dc0_parse); the *_dc0 functions read and write
 * data_coding 0 that way, both directions (only the value 0: the 3GPP
 * groups that name GSM explicitly stay GSM).  Encoding for a Latin-1 or
 * ASCII default keeps one octet per character with the GSM part sizes
 * (160 / 153: the SMSC converts to the air interface's 7-bit alphabet),
 * and a text with a character outside that set goes as UCS-2.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "smpp.h"

#define SMPP_REPLACEMENT 0xFFFDu
#define SMPP_GSM_ESC 0x1B

/* GSM 03.38 default alphabet, septet -> Unicode (0x1B is the escape). */
static const uint16_t smpp_gsm_basic[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, 0x00A0, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* The extension table: septet after 0x1B -> Unicode. */
static const struct {
    uint8_t septet;
    uint16_t cp;
} smpp_gsm_ext[] = {
    { 0x0A, 0x000C }, { 0x14, 0x005E }, { 0x28, 0x007B }, { 0x29, 0x007D },
    { 0x2F, 0x005C }, { 0x3C, 0x005B }, { 0x3D, 0x007E }, { 0x3E, 0x005D },
    { 0x40, 0x007C }, { 0x65, 0x20AC },
};

#define SMPP_GSM_EXT_N (sizeof(smpp_gsm_ext) / sizeof(smpp_gsm_ext[0]))

int smpp_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp)
{
    const uint8_t *p = (const uint8_t *)s + *i;
    size_t left = n - *i, need, k;
    uint32_t c, min;

    if (p[0] < 0x80) {
        *cp = p[0];
        *i += 1;
        return 0;
    }
    if ((p[0] & 0xE0) == 0xC0) {
        need = 2; c = p[0] & 0x1F; min = 0x80;
    } else if ((p[0] & 0xF0) == 0xE0) {
        need = 3; c = p[0] & 0x0F; min = 0x800;
    } else if ((p[0] & 0xF8) == 0xF0) {
        need = 4; c = p[0] & 0x07; min = 0x10000;
    } else {
        goto out_invalid;
    }
    if (left < need)
        goto out_invalid;
    for (k = 1; k < need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            goto out_invalid;
        c = (c << 6) | (p[k] & 0x3F);
    }
    /* overlong forms, surrogates and values past U+10FFFF are invalid */
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        goto out_invalid;
    *cp = c;
    *i += need;
    return 0;

out_invalid:
    *cp = SMPP_REPLACEMENT;
    *i += 1;
    return -1;
}

/* Append cp as UTF-8 at out; returns the octets written (1-4). */
static size_t smpp_utf8_put(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* The basic table inverted for ASCII code points (0xFF: none), built once:
 * most text is ASCII, and a scan of 128 entries per character was the
 * encoder's whole cost. */
static uint8_t smpp_gsm_rev_ascii[128];
static pthread_once_t smpp_gsm_rev_once = PTHREAD_ONCE_INIT;

static void smpp_gsm_rev_build(void)
{
    memset(smpp_gsm_rev_ascii, 0xFF, sizeof smpp_gsm_rev_ascii);
    for (size_t k = 128; k-- > 0;) /* the lowest septet wins, as in the scan */
        if (k != SMPP_GSM_ESC && smpp_gsm_basic[k] < 0x80)
            smpp_gsm_rev_ascii[smpp_gsm_basic[k]] = (uint8_t)k;
}

/* One code point to GSM septets; returns 1 or 2 octets written into out,
 * or 0 when cp has no GSM 03.38 form. */
static size_t smpp_gsm_put(uint8_t *out, uint32_t cp)
{
    size_t k;

    pthread_once(&smpp_gsm_rev_once, smpp_gsm_rev_build);
    if (cp < 0x80 && smpp_gsm_rev_ascii[cp] != 0xFF) {
        out[0] = smpp_gsm_rev_ascii[cp];
        return 1;
    }
    for (k = 0; cp >= 0x80 && k < 128; k++) {
        if (smpp_gsm_basic[k] == cp && k != SMPP_GSM_ESC) {
            out[0] = (uint8_t)k;
            return 1;
        }
    }
    for (k = 0; k < SMPP_GSM_EXT_N; k++) {
        if (smpp_gsm_ext[k].cp == cp) {
            out[0] = SMPP_GSM_ESC;
            out[1] = smpp_gsm_ext[k].septet;
            return 2;
        }
    }
    return 0;
}

int smpp_gsm_fits(const char *utf8, size_t n)
{
    uint8_t tmp[2];
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        if (smpp_utf8_next(utf8, n, &i, &cp) < 0 || smpp_gsm_put(tmp, cp) == 0)
            return 0;
    }
    return 1;
}

/* GSM septets of utf8 into a new buffer; GW_EINVAL when a character has no
 * GSM form. */
static int smpp_gsm_encode(const char *utf8, size_t n, smpp_text_t *out)
{
    uint8_t *buf = malloc(2 * n + 1);
    size_t i = 0, len = 0, w;
    uint32_t cp;

    if (buf == NULL)
        return GW_ENOMEM;
    while (i < n) {
        if (smpp_utf8_next(utf8, n, &i, &cp) < 0 || (w = smpp_gsm_put(buf + len, cp)) == 0) {
            free(buf);
            return GW_EINVAL;
        }
        len += w;
    }
    out->data_coding = SMPP_DC_GSM;
    out->data = buf;
    out->len = len;
    return 0;
}

/* UTF-16BE of utf8 into a new buffer; invalid input becomes U+FFFD. */
static int smpp_ucs2_encode(const char *utf8, size_t n, smpp_text_t *out)
{
    uint8_t *buf = malloc(2 * n + 2);
    size_t i = 0, len = 0;
    uint32_t cp, hi, lo;

    if (buf == NULL)
        return GW_ENOMEM;
    while (i < n) {
        smpp_utf8_next(utf8, n, &i, &cp);
        if (cp >= 0x10000) {
            hi = 0xD800 + ((cp - 0x10000) >> 10);
            lo = 0xDC00 + ((cp - 0x10000) & 0x3FF);
            buf[len++] = (uint8_t)(hi >> 8);
            buf[len++] = (uint8_t)hi;
            buf[len++] = (uint8_t)(lo >> 8);
            buf[len++] = (uint8_t)lo;
        } else {
            buf[len++] = (uint8_t)(cp >> 8);
            buf[len++] = (uint8_t)cp;
        }
    }
    out->data_coding = SMPP_DC_UCS2;
    out->data = buf;
    out->len = len;
    return 0;
}

int smpp_text_encode_ucs2(const char *utf8, size_t n, smpp_text_t *out)
{
    return smpp_ucs2_encode(utf8, n, out);
}

int smpp_text_encode(const char *utf8, size_t n, smpp_text_t *out)
{
    int rc = smpp_gsm_encode(utf8, n, out);

    if (rc == GW_EINVAL)
        rc = smpp_ucs2_encode(utf8, n, out);
    return rc;
}

void smpp_text_free(smpp_text_t *t)
{
    free(t->data);
    t->data = NULL;
    t->len = 0;
}

/* Decoders: each returns a new NUL-terminated UTF-8 string. */
static char *smpp_gsm_to_utf8(const uint8_t *in, size_t n, size_t *outlen)
{
    uint8_t *out = malloc(3 * n + 1);
    size_t i, len = 0, k;
    uint32_t cp;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (in[i] == SMPP_GSM_ESC && i + 1 < n) {
            cp = 0;
            for (k = 0; k < SMPP_GSM_EXT_N; k++)
                if (smpp_gsm_ext[k].septet == in[i + 1])
                    cp = smpp_gsm_ext[k].cp;
            i++;
            /* an unknown extension shows its basic-table character (03.38) */
            if (cp == 0)
                cp = smpp_gsm_basic[in[i] & 0x7F];
        } else if (in[i] == SMPP_GSM_ESC) {
            cp = ' ';
        } else {
            cp = in[i] < 0x80 ? smpp_gsm_basic[in[i]] : '?';
        }
        len += smpp_utf8_put(out + len, cp);
    }
    out[len] = 0;
    *outlen = len;
    return (char *)out;
}

static char *smpp_ucs2_to_utf8(const uint8_t *in, size_t n, size_t *outlen)
{
    uint8_t *out = malloc(2 * n + 4);
    size_t i, len = 0;
    uint32_t cp, lo;

    if (out == NULL)
        return NULL;
    for (i = 0; i + 1 < n; i += 2) {
        cp = ((uint32_t)in[i] << 8) | in[i + 1];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < n) {
            lo = ((uint32_t)in[i + 2] << 8) | in[i + 3];
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) /* a lone surrogate */
            cp = SMPP_REPLACEMENT;
        len += smpp_utf8_put(out + len, cp);
    }
    if (n % 2) /* a dangling odd octet */
        len += smpp_utf8_put(out + len, SMPP_REPLACEMENT);
    out[len] = 0;
    *outlen = len;
    return (char *)out;
}

static char *smpp_latin1_to_utf8(const uint8_t *in, size_t n, size_t *outlen)
{
    uint8_t *out = malloc(2 * n + 1);
    size_t i, len = 0;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        len += smpp_utf8_put(out + len, in[i]);
    out[len] = 0;
    *outlen = len;
    return (char *)out;
}

/* 3GPP TS 23.038 section 4, alphabet bits 3..2 of the general data coding
 * group: 00 GSM 7-bit, 01 8-bit data, 10 UCS2, 11 reserved (read as GSM,
 * the default alphabet). */
static int smpp_dcs_general(int data_coding)
{
    static const int alphabet[4] = { SMPP_DC_GSM, SMPP_DC_BINARY, SMPP_DC_UCS2, SMPP_DC_GSM };

    /* compressed text (bit 5) is kept as binary: we do not decompress */
    return data_coding & 0x20 ? SMPP_DC_BINARY : alphabet[(data_coding >> 2) & 0x03];
}

int smpp_dcs_alphabet(int data_coding)
{
    int rc;

    if (data_coding == SMPP_DC_GSM || data_coding == SMPP_DC_IA5 ||
        data_coding == SMPP_DC_LATIN1 || data_coding == SMPP_DC_UCS2)
        rc = data_coding;
    else if (data_coding >= 0x10 && data_coding <= 0x3F)
        rc = smpp_dcs_general(data_coding); /* bit 4: class in bits 1..0 */
    else if (data_coding >= 0xC0 && data_coding <= 0xDF)
        rc = SMPP_DC_GSM; /* message waiting, discard or store */
    else if (data_coding >= 0xE0 && data_coding <= 0xEF)
        rc = SMPP_DC_UCS2; /* message waiting, store, UCS2 */
    else if (data_coding >= 0xF0 && data_coding <= 0xFF)
        rc = data_coding & 0x04 ? SMPP_DC_BINARY : SMPP_DC_GSM; /* class in bits 1..0 */
    else
        rc = SMPP_DC_BINARY; /* SMPP 3.4's other codings, 0x0F, 0x40-0xBF, < 0 */
    return rc;
}

int smpp_dcs_class(int data_coding)
{
    int rc = -1;

    if ((data_coding >= 0x10 && data_coding <= 0x1F) || (data_coding >= 0x30 && data_coding <= 0x3F) ||
        (data_coding >= 0xF0 && data_coding <= 0xFF))
        rc = data_coding & 0x03;
    return rc;
}

int smpp_dcs_with_class(int enc, int cls)
{
    int rc = enc;

    if (cls >= 0 && cls <= 3 && enc == SMPP_DC_GSM)
        rc = 0xF0 | cls; /* data coding / message class, GSM 7-bit */
    else if (cls >= 0 && cls <= 3 && enc == SMPP_DC_UCS2)
        rc = 0x18 | cls; /* general data coding, uncompressed, class meaningful, UCS-2 */
    return rc;
}

int smpp_text_is_binary(int data_coding)
{
    return smpp_dcs_alphabet(data_coding) == SMPP_DC_BINARY;
}

char *smpp_text_decode(int data_coding, const uint8_t *in, size_t n, size_t *outlen)
{
    switch (smpp_dcs_alphabet(data_coding)) {
    case SMPP_DC_GSM:
        return smpp_gsm_to_utf8(in, n, outlen);
    case SMPP_DC_UCS2:
        return smpp_ucs2_to_utf8(in, n, outlen);
    case SMPP_DC_IA5:    /* IA5 is ASCII, a subset of Latin-1 */
    case SMPP_DC_LATIN1:
        return smpp_latin1_to_utf8(in, n, outlen);
    default:
        return NULL;
    }
}

int smpp_dc0_parse(const char *s)
{
    if (s == NULL || strcmp(s, "gsm") == 0)
        return SMPP_DC0_GSM;
    if (strcmp(s, "latin1") == 0)
        return SMPP_DC0_LATIN1;
    if (strcmp(s, "ascii") == 0 || strcmp(s, "ia5") == 0)
        return SMPP_DC0_ASCII;
    return -1;
}

char *smpp_text_decode_dc0(int data_coding, int dc0, const uint8_t *in, size_t n,
                           size_t *outlen)
{
    /* IA5 octets read as Latin-1, as for data_coding 1: ASCII is its lower
     * half, and a stray high octet still shows as a character */
    if (data_coding == SMPP_DC_GSM && dc0 != SMPP_DC0_GSM)
        return smpp_latin1_to_utf8(in, n, outlen);
    return smpp_text_decode(data_coding, in, n, outlen);
}

int smpp_text_encode_dc0(const char *utf8, size_t n, int dc0, smpp_text_t *out)
{
    uint32_t max = dc0 == SMPP_DC0_LATIN1 ? 0xFF : 0x7F, cp;
    uint8_t *buf;
    size_t i = 0, len = 0;

    if (dc0 != SMPP_DC0_LATIN1 && dc0 != SMPP_DC0_ASCII)
        return smpp_text_encode(utf8, n, out);
    if ((buf = malloc(n + 1)) == NULL)
        return GW_ENOMEM;
    while (i < n) {
        if (smpp_utf8_next(utf8, n, &i, &cp) < 0 || cp > max) {
            free(buf);
            return smpp_ucs2_encode(utf8, n, out); /* not all in the default alphabet */
        }
        buf[len++] = (uint8_t)cp;
    }
    out->data_coding = SMPP_DC_GSM; /* the value 0, which this SMSC reads so */
    out->data = buf;
    out->len = len;
    return 0;
}

/* Is offset `at` of t a place where a part may end?  Not inside an escape
 * pair (GSM) nor inside a surrogate pair (UTF-16BE). */
static int smpp_split_ok(const smpp_text_t *t, size_t at)
{
    size_t k, esc = 0;

    if (at == 0 || at >= t->len)
        return 1;
    if (t->data_coding == SMPP_DC_UCS2)
        return !(t->data[at - 2] >= 0xD8 && t->data[at - 2] <= 0xDB);
    /* count the escapes that directly precede `at`: an odd run means the
     * octet before `at` is an escape waiting for its character */
    for (k = at; k > 0 && t->data[k - 1] == SMPP_GSM_ESC; k--)
        esc++;
    return esc % 2 == 0;
}

size_t smpp_text_split(const smpp_text_t *t, size_t *offs, size_t max)
{
    return smpp_text_split_hdr(t, offs, max, 6);
}

size_t smpp_text_split_hdr(const smpp_text_t *t, size_t *offs, size_t max, size_t hdr)
{
    size_t single = t->data_coding == SMPP_DC_UCS2 ? SMPP_UCS2_SINGLE : SMPP_GSM_SINGLE;
    /* 140 octets per part on the air: the header's octets come off it (a
     * GSM septet per octet, rounded so the packed header fits) */
    size_t part = t->data_coding == SMPP_DC_UCS2 ? 140 - hdr - (140 - hdr) % 2
                                                 : ((140 - hdr) * 8) / 7;
    size_t n = 0, at = 0, end;

    if (max < 2)
        return 0;
    offs[0] = 0;
    if (t->len <= single) {
        offs[1] = t->len;
        return 1;
    }
    while (at < t->len) {
        if (n + 1 >= max)
            return 0;
        end = at + part < t->len ? at + part : t->len;
        while (!smpp_split_ok(t, end))
            end -= t->data_coding == SMPP_DC_UCS2 ? 2 : 1;
        offs[++n] = end;
        at = end;
    }
    return n;
}
