/*
 * smpp_id.c - the far side's message ids as receipts are matched: the
 * base an SMSC writes them in (pure, no I/O).
 *
 * Many SMSCs answer submit_sm_resp with an id in one base and quote it in
 * the receipt's "id:" text (or receipted_message_id) in the other: "7B"
 * and "123" name one message.  A client connector's conf "receipt_ids"
 * says how its SMSC does it (Kannel's msg-id-type is the same idea):
 *
 *   same                    as written (case and leading zeros aside)
 *   submit_hex_receipt_dec  the receipt's decimal id is made hex
 *   submit_dec_receipt_hex  the receipt's hex id is made decimal
 *   auto                    as written first; on a miss the id's other
 *                           forms (hex of it read as decimal, decimal of
 *                           it read as hex), each tried once
 *
 * The fixed modes convert before the core sees the receipt, so the store
 * matches, parks (receipts_early) and unparks one form.  With auto the
 * store is given the other forms (gw_core_receipt_alt) and parks a
 * receipt that matched none under its written form; the submit then
 * names the forms its ids may have been parked under (aliases, lines
 * "form\tid\n": smpp_id_aliases), so an early receipt in the other base
 * is placed when its submit_sm_resp arrives.  The relation is symmetric:
 * a receipt R matches a submit S when S is among R's forms, exactly when
 * R is among S's.  Conversions are exact for every 64-bit value (up to 20
 * decimal digits, 16 hex digits); a longer id has no other form.
 *
 * Threads: any (pure functions).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gw_errors.h"
#include "smpp.h"

int smpp_receipt_ids_parse(const char *s)
{
    static const char *const names[] = { "same", "auto", "submit_hex_receipt_dec",
                                         "submit_dec_receipt_hex" };

    for (int i = 0; s != NULL && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The value of s in base (10 or 16) into *v: 0, or GW_EINVAL when s is
 * empty, has a digit outside the base or does not fit 64 bits. */
static int smpp_id_value(const char *s, unsigned base, uint64_t *v)
{
    uint64_t x = 0;

    if (*s == '\0')
        return GW_EINVAL;
    for (; *s != '\0'; s++) {
        unsigned c = (unsigned char)*s, dg;
        if (c >= '0' && c <= '9')
            dg = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            dg = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            dg = c - 'A' + 10;
        else
            return GW_EINVAL;
        if (x > (UINT64_MAX - dg) / base)
            return GW_EINVAL; /* past 64 bits */
        x = x * base + dg;
    }
    *v = x;
    return 0;
}

int smpp_id_dec_to_hex(const char *in, char *out, size_t n)
{
    uint64_t v;
    int rc = smpp_id_value(in, 10, &v);

    if (rc == 0 && (size_t)snprintf(out, n, "%llx", (unsigned long long)v) >= n)
        rc = GW_EINVAL;
    return rc;
}

int smpp_id_hex_to_dec(const char *in, char *out, size_t n)
{
    uint64_t v;
    int rc = smpp_id_value(in, 16, &v);

    if (rc == 0 && (size_t)snprintf(out, n, "%llu", (unsigned long long)v) >= n)
        rc = GW_EINVAL;
    return rc;
}

/* Append line to out (used octets *k of n) unless it is id itself or
 * already there. */
static void smpp_id_add_form(char *out, size_t n, size_t *k, const char *id, const char *form)
{
    size_t len = strlen(form);
    const char *p = out;

    if (strcmp(form, id) == 0)
        return;
    for (; *p != '\0'; p += strcspn(p, "\n") + 1)
        if (strncmp(p, form, len) == 0 && p[len] == '\n')
            return;
    if (*k + len + 2 > n)
        return;
    memcpy(out + *k, form, len);
    out[*k + len] = '\n';
    *k += len + 1;
    out[*k] = '\0';
}

int smpp_id_forms(const char *id, char *out, size_t n)
{
    char form[SMPP_ID_MAX];
    size_t k = 0;

    if (n == 0)
        return 0;
    out[0] = '\0';
    if (smpp_id_dec_to_hex(id, form, sizeof form) == 0)
        smpp_id_add_form(out, n, &k, id, form);
    if (smpp_id_hex_to_dec(id, form, sizeof form) == 0)
        smpp_id_add_form(out, n, &k, id, form);
    return out[0] != '\0';
}

int smpp_id_receipt(int mode, const char *id, char *match, size_t n, char *alt, size_t altlen)
{
    int rc = 0;

    if (altlen > 0)
        alt[0] = '\0';
    if (mode == SMPP_RIDS_HEX_DEC && smpp_id_dec_to_hex(id, match, n) == 0)
        return 1;
    if (mode == SMPP_RIDS_DEC_HEX && smpp_id_hex_to_dec(id, match, n) == 0)
        return 1;
    snprintf(match, n, "%s", id);
    if (mode == SMPP_RIDS_AUTO)
        rc = smpp_id_forms(id, alt, altlen) ? 2 : 0;
    return rc;
}

int smpp_id_aliases(const char *const *ids, size_t nids, char *out, size_t n)
{
    char forms[2 * SMPP_ID_MAX + 4];
    size_t k = 0;

    if (n == 0)
        return GW_EINVAL;
    out[0] = '\0';
    for (size_t i = 0; i < nids; i++) {
        if (ids[i][0] == '\0' || !smpp_id_forms(ids[i], forms, sizeof forms))
            continue;
        for (const char *p = forms; *p != '\0';) {
            size_t len = strcspn(p, "\n"), idlen = strlen(ids[i]);
            if (k + len + idlen + 3 > n)
                return GW_EINVAL;
            memcpy(out + k, p, len);
            out[k + len] = '\t';
            memcpy(out + k + len + 1, ids[i], idlen);
            out[k + len + 1 + idlen] = '\n';
            k += len + idlen + 2;
            out[k] = '\0';
            p += len + (p[len] == '\n');
        }
    }
    return (int)k;
}
