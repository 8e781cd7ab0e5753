/*
 * smpp_pdu.c - envelope fields <-> submit_sm / deliver_sm fields, shared by
 * the client (deliver_sm in, submit_sm out) and the server (submit_sm in).
 *
 * Addresses follow gateway/gw_addr.h both ways (gw_addr_normalise with the
 * PDU's TON/NPI in, gw_addr_to_smpp out); an empty source_addr stays empty
 * for the SMSC to fill in, an empty or unusable destination is GW_EINVAL.
 * Bodies are decoded to UTF-8 by data_coding (0 GSM 03.38, 1 IA5, 3
 * Latin-1, 8 UCS-2); any other coding is kept as binary octets.  The text comes from
 * short_message, or from the message_payload TLV when short_message is
 * empty.  A user data header (esm_class 0x40) is stripped; a concatenation
 * IE is kept as the tag "concat" = "ref/total/seq" (reassembly is not done
 * here).
 *
 * libsmpp34 leaks the TLV node it was filling when a PDU turns out to be
 * malformed (found by tests/fuzz/fuzz_smpp.c), which a peer could repeat
 * until memory runs out.  smpp_unpack therefore gives libsmpp34 an
 * allocator that remembers every block allocated during one unpack and,
 * when the unpack fails, frees them all.  It also writes a log line per
 * field into its 2048-octet smpp34_strerror and overruns it (memory
 * corruption, then a crash) past about 30 TLVs, so smpp_pdu_bounded
 * refuses PDUs with more than SMPP_MAX_TLVS TLVs or oversized bodies before
 * libsmpp34 sees them.
 *
 * Threads: the SMPP thread (libsmpp34's globals, the tracking below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_heap.h>
#include <smpp34_params.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "smpp.h"

/* Blocks libsmpp34 allocated during the current unpack (SMPP thread). */
static void **smpp_track;
static size_t smpp_ntrack, smpp_track_cap;
static int smpp_tracking, smpp_mem_set;

static void smpp_track_add(void *p)
{
    void **grown;

    if (smpp_ntrack == smpp_track_cap) {
        grown = realloc(smpp_track, (smpp_track_cap ? 2 * smpp_track_cap : 16) * sizeof(*grown));
        if (grown == NULL)
            return; /* untracked: at worst the leak this guards against */
        smpp_track = grown;
        smpp_track_cap = smpp_track_cap ? 2 * smpp_track_cap : 16;
    }
    smpp_track[smpp_ntrack++] = p;
}

static void smpp_track_del(void *p)
{
    size_t k;

    for (k = smpp_ntrack; k > 0; k--) {
        if (smpp_track[k - 1] == p) {
            smpp_track[k - 1] = smpp_track[--smpp_ntrack];
            return;
        }
    }
}

static void *smpp_mem_malloc(size_t n)
{
    void *p = malloc(n);

    if (p && smpp_tracking)
        smpp_track_add(p);
    return p;
}

static void *smpp_mem_realloc(void *old, size_t n)
{
    void *p;

    if (old && smpp_tracking)
        smpp_track_del(old);
    p = realloc(old, n);
    if (smpp_tracking && (p || old))
        smpp_track_add(p ? p : old);
    return p;
}

static void smpp_mem_free(void *p)
{
    if (p && smpp_tracking)
        smpp_track_del(p);
    free(p);
}

#define SMPP_MAX_TLVS 12 /* ~60 log octets each: stays far below 2048 */

/* Skip a C-octet string of at most max octets (NUL included) at *at. */
static int smpp_skip_cstr(const uint8_t *pdu, size_t len, size_t *at, size_t max)
{
    size_t k;

    for (k = 0; k < max && *at + k < len; k++) {
        if (pdu[*at + k] == 0) {
            *at += k + 1;
            return 0;
        }
    }
    return -1;
}

/* 0 when a PDU is small enough for libsmpp34's logging: fixed-size bodies
 * no longer than their fields, submit_sm / deliver_sm with at most
 * SMPP_MAX_TLVS well-formed TLVs.  -1 otherwise. */
static int smpp_pdu_bounded(uint32_t cmd_id, const uint8_t *pdu, size_t len)
{
    size_t at = 16, ntlv = 0;

    switch (cmd_id) {
    case SUBMIT_SM_RESP:
        return len <= 16 + 65 ? 0 : -1;
    case SUBMIT_SM:
    case DELIVER_SM:
        break;
    default:
        return -1;
    }
    if (smpp_skip_cstr(pdu, len, &at, 6) < 0)
        return -1;
    at += 2;
    if (smpp_skip_cstr(pdu, len, &at, 21) < 0)
        return -1;
    at += 2;
    if (smpp_skip_cstr(pdu, len, &at, 21) < 0)
        return -1;
    at += 3;
    if (smpp_skip_cstr(pdu, len, &at, 17) < 0 || smpp_skip_cstr(pdu, len, &at, 17) < 0)
        return -1;
    at += 5; /* registered_delivery .. sm_length */
    if (at > len)
        return -1;
    at += pdu[at - 1];
    while (at + 4 <= len) {
        if (++ntlv > SMPP_MAX_TLVS)
            return -1;
        at += 4 + (((size_t)pdu[at + 2] << 8) | pdu[at + 3]);
    }
    return at == len ? 0 : -1;
}

int smpp_unpack(const char *peer, uint32_t cmd_id, void *st, size_t stsize, const uint8_t *pdu,
                size_t len)
{
    static const struct smpp34_memory_functions mf = { smpp_mem_malloc, smpp_mem_realloc,
                                                       smpp_mem_free };
    int rc;

    if (!smpp_mem_set) {
        smpp34_set_memory_functions(&mf);
        smpp_mem_set = 1;
    }
    memset(st, 0, stsize);
    if (smpp_pdu_bounded(cmd_id, pdu, len) < 0) {
        GW_WARN(SMPP_MOD, "%s: malformed or oversized PDU 0x%08x (%zu octets)", peer, cmd_id,
                len);
        return GW_EINVAL;
    }
    smpp_ntrack = 0;
    smpp_tracking = 1;
    rc = smpp34_unpack(cmd_id, st, pdu, (int)len);
    smpp_tracking = 0;
    if (rc == 0)
        return 0; /* the TLV list now belongs to st */
    while (smpp_ntrack > 0)
        free(smpp_track[--smpp_ntrack]);
    memset(st, 0, stsize);
    GW_WARN(SMPP_MOD, "%s: malformed PDU 0x%08x (%zu octets): %s", peer, cmd_id, len,
            smpp34_strerror);
    return GW_EINVAL;
}

/* The value after "key" in sm[0..n) up to the next space, into out; 1 when
 * found with a value. */
static int smpp_receipt_field(const uint8_t *sm, size_t n, const char *key, char *out,
                              size_t outlen)
{
    size_t k = strlen(key), i, j;

    for (i = 0; i + k <= n; i++) {
        if (memcmp(sm + i, key, k) != 0 || (i > 0 && sm[i - 1] != ' '))
            continue;
        for (j = 0; i + k + j < n && sm[i + k + j] != ' ' && sm[i + k + j] != '\0' &&
                    j + 1 < outlen;
             j++)
            out[j] = (char)sm[i + k + j];
        out[j] = '\0';
        return j > 0;
    }
    out[0] = '\0';
    return 0;
}

int smpp_receipt_parse(const uint8_t *sm, size_t n, char *id, size_t idlen, char *stat,
                       size_t statlen, int *err)
{
    char num[12];

    *err = 0;
    if (smpp_receipt_field(sm, n, "err:", num, sizeof num))
        *err = atoi(num);
    if (!smpp_receipt_field(sm, n, "id:", id, idlen) |
        !smpp_receipt_field(sm, n, "stat:", stat, statlen))
        return GW_EINVAL;
    return GW_OK;
}

void smpp_tlv_free(void *tlv_list)
{
    if (tlv_list)
        destroy_tlv(tlv_list);
}

/* The octets of the message: short_message, or message_payload. */
static void smpp_sm_octets(const smpp_sm_fields_t *f, const uint8_t **p, size_t *n)
{
    tlv_t *t;

    *p = f->sm;
    *n = f->sm_len;
    if (*n > 0)
        return;
    smpp34_tlv_for_each(t, (tlv_t *)f->tlv) {
        if (t->tag == TLVID_message_payload) {
            *p = t->value.octet;
            *n = t->length > sizeof(t->value.octet) ? sizeof(t->value.octet) : t->length;
            return;
        }
    }
}

/* Strip a UDH in front of p/n; records a concatenation IE as a tag. */
static int smpp_udh_strip(gw_envelope_t *env, const uint8_t **p, size_t *n)
{
    size_t udhl, i;
    char tag[32];

    if (*n < 1 || (size_t)(*p)[0] + 1 > *n)
        return GW_EINVAL;
    udhl = (*p)[0];
    for (i = 1; i + 1 < udhl + 1; i += 2 + (*p)[i + 1]) {
        if ((*p)[i] == 0x00 && (*p)[i + 1] == 3 && i + 4 < udhl + 1) {
            snprintf(tag, sizeof(tag), "%u/%u/%u", (*p)[i + 2], (*p)[i + 3], (*p)[i + 4]);
            if (gw_env_set_tag(env, "concat", tag) < 0)
                return GW_ENOMEM;
        }
    }
    *p += udhl + 1;
    *n -= udhl + 1;
    return 0;
}

int smpp_env_fill(gw_envelope_t *env, const smpp_sm_fields_t *f)
{
    const uint8_t *p;
    size_t n, outlen;
    char *text;
    int rc;

    /* an empty source_addr is legal (the SMSC fills it in): kept empty */
    if (f->src[0] == '\0') {
        rc = gw_env_set_str(&env->from.address, "", 0);
        env->from.type = GW_ADDR_ALNUM;
        env->from.ton = f->src_ton;
        env->from.npi = f->src_npi;
    } else {
        rc = gw_addr_normalise(&env->from, f->src, f->src_ton, f->src_npi);
    }
    if (rc == 0)
        rc = gw_addr_normalise(&env->to, f->dst, f->dst_ton, f->dst_npi);
    if (rc < 0)
        return rc;
    smpp_sm_octets(f, &p, &n);
    if (f->esm_class & SMPP34_UDHI_IND) {
        rc = smpp_udh_strip(env, &p, &n);
        if (rc < 0)
            return rc;
    }
    env->data_coding = f->data_coding;
    env->registered_delivery = f->registered_delivery;
    if (smpp_text_is_binary(f->data_coding)) {
        env->binary = 1;
        if (gw_env_set_str(&env->content_type, "application/octet-stream", (size_t)-1) < 0 ||
            gw_env_set_str(&env->body, (const char *)p, n) < 0)
            return GW_ENOMEM;
        env->body_len = n;
        return 0;
    }
    text = smpp_text_decode(f->data_coding, p, n, &outlen);
    if (text == NULL || gw_env_set_str(&env->content_type, "text/plain", (size_t)-1) < 0) {
        free(text);
        return GW_ENOMEM;
    }
    free(env->body);
    env->body = text;
    env->body_len = outlen;
    return 0;
}
