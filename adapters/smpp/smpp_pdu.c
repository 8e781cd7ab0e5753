/*
 * smpp_pdu.c - envelope fields <-> submit_sm / deliver_sm fields, shared by
 * the client (deliver_sm in, submit_sm out) and the server (submit_sm in).
 *
 * Addresses follow gateway/gw_addr.h both ways (gw_addr_normalise with the
 * PDU's TON/NPI in, gw_addr_to_smpp out); an empty source_addr stays empty
 * for the SMSC to fill in, an empty or unusable destination is GW_EINVAL.
 * Bodies are decoded to UTF-8 by the alphabet of data_coding
 * (smpp_dcs_alphabet: 0 GSM 03.38, 1 IA5, 3 Latin-1, 8 UCS-2, and the
 * 3GPP TS 23.038 coding groups by their alphabet bits); any other coding
 * is kept as binary octets, and env->data_coding keeps the value as sent.
 * data_coding 0 from an SMSC whose client connector says "dc0": "latin1"
 * or "ascii" is read so (smpp_env_fill_dc0; smpp_dc0_check checks the
 * key).
 * The text comes from short_message, or from the message_payload TLV when
 * short_message is empty.  A user data header (esm_class 0x40) is
 * stripped; a concatenation IE, 8-bit or 16-bit reference, is kept as the
 * tag "concat" = "ref/total/seq" (reassembly is not done here), a message
 * class of data_coding (smpp_dcs_class) as the tag "sms_class".  A UDH
 * whose length runs past the message, or an IE past the UDH, is GW_EINVAL.
 *
 * The PDU itself is decoded by smpp_wire (smpp_sm_decode below logs what
 * it refuses); the fields here point into the PDU and are copied into the
 * envelope.
 *
 * Threads: smpp_sm_decode and smpp_env_fill any thread (the SMPP thread
 * in practice); the receipt scanner is pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "gw_errors.h"
#include "gw_log.h"
#include "smpp.h"

int smpp_sm_decode(const char *peer, const smpp_hdr_t *h, const uint8_t *pdu,
                   smpp_sm_fields_t *f)
{
    const char *why = "";
    int rc = smpp_wire_decode_sm(pdu, h->len, f, &why);

    if (rc < 0)
        GW_WARN(SMPP_MOD, "%s: malformed PDU 0x%08x seq %u (%u octets): %s", peer, h->cmd_id,
                h->seq, h->len, why);
    return rc;
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

/* The octets of the message: short_message, or message_payload. */
static void smpp_sm_octets(const smpp_sm_fields_t *f, const uint8_t **p, size_t *n)
{
    *p = f->sm;
    *n = f->sm_len;
    if (*n == 0 && f->payload != NULL) {
        *p = f->payload;
        *n = f->payload_len;
    }
}

/* Strip a UDH in front of p/n (3GPP TS 23.040 9.2.3.24: UDHL, then IEs of
 * IEI, length, data); records a concatenation IE, 8-bit reference (IEI
 * 0x00, length 3) or 16-bit (IEI 0x08, length 4), as the tag "concat" =
 * "ref/total/seq".  GW_EINVAL when the UDHL runs past the message or an IE
 * past the UDHL (p/n untouched then), GW_ENOMEM. */
static int smpp_udh_strip(gw_envelope_t *env, const uint8_t **p, size_t *n)
{
    const uint8_t *u = *p;
    size_t end, i, ielen;
    char tag[32];
    int rc = 0;

    if (*n < 1 || (size_t)u[0] + 1 > *n)
        return GW_EINVAL;
    end = (size_t)u[0] + 1; /* the first octet after the UDH */
    for (i = 1; rc == 0 && i < end; i += 2 + ielen) {
        /* the IEI, its length octet and its data all within the UDH */
        if (i + 2 > end || i + 2 + u[i + 1] > end) {
            rc = GW_EINVAL;
            break;
        }
        ielen = u[i + 1];
        tag[0] = '\0';
        if (u[i] == 0x00 && ielen == 3)
            snprintf(tag, sizeof(tag), "%u/%u/%u", u[i + 2], u[i + 3], u[i + 4]);
        else if (u[i] == 0x08 && ielen == 4)
            snprintf(tag, sizeof(tag), "%u/%u/%u", ((unsigned)u[i + 2] << 8) | u[i + 3],
                     u[i + 4], u[i + 5]);
        if (tag[0] != '\0' && gw_env_set_tag(env, "concat", tag) < 0)
            rc = GW_ENOMEM;
    }
    if (rc == 0) {
        *p += end;
        *n -= end;
    }
    return rc;
}

int smpp_cstr(const uint8_t *pdu, size_t len, size_t *at, char *out, size_t outlen)
{
    for (size_t k = 0; k < outlen && *at + k < len; k++) {
        out[k] = (char)pdu[*at + k];
        if (out[k] == '\0') {
            *at += k + 1;
            return 0;
        }
    }
    return GW_EINVAL;
}

/* smpp_cstr into out + *k, moving *k past its NUL. */
static int smpp_cstr_append(const uint8_t *p, size_t len, size_t *at, size_t max, uint8_t *out,
                            size_t *k)
{
    int rc = smpp_cstr(p, len, at, (char *)out + *k, max);

    if (rc == 0)
        *k += strlen((char *)out + *k) + 1;
    return rc;
}

int smpp_data_sm_as(const uint8_t *raw, size_t len, uint32_t as_cmd, uint8_t *out, size_t cap)
{
    size_t at = 16, k = 16;
    int i;

    /* the largest data_sm field set must fit before the TLVs are copied */
    if (len < 16 || cap < 16 + 6 + 2 * (2 + 65) + 12 + (len > 16 ? len - 16 : 0))
        return GW_EINVAL;
    memcpy(out, raw, 16);
    if (smpp_cstr_append(raw, len, &at, 6, out, &k) < 0) /* service_type */
        return GW_EINVAL;
    for (i = 0; i < 2; i++) { /* source, then destination: ton, npi, address (65) */
        if (at + 2 > len)
            return GW_EINVAL;
        out[k++] = raw[at++];
        out[k++] = raw[at++];
        if (smpp_cstr_append(raw, len, &at, 65, out, &k) < 0)
            return GW_EINVAL;
    }
    if (at + 3 > len)
        return GW_EINVAL;
    out[k++] = raw[at++];  /* esm_class */
    out[k++] = 0;          /* protocol_id */
    out[k++] = 0;          /* priority_flag */
    out[k++] = 0;          /* schedule_delivery_time "" */
    out[k++] = 0;          /* validity_period "" */
    out[k++] = raw[at++];  /* registered_delivery */
    out[k++] = 0;          /* replace_if_present_flag */
    out[k++] = raw[at++];  /* data_coding */
    out[k++] = 0;          /* sm_default_msg_id */
    out[k++] = 0;          /* sm_length: the text is in message_payload */
    memcpy(out + k, raw + at, len - at); /* the TLVs */
    k += len - at;
    out[0] = (uint8_t)(k >> 24);
    out[1] = (uint8_t)(k >> 16);
    out[2] = (uint8_t)(k >> 8);
    out[3] = (uint8_t)k;
    out[4] = (uint8_t)(as_cmd >> 24);
    out[5] = (uint8_t)(as_cmd >> 16);
    out[6] = (uint8_t)(as_cmd >> 8);
    out[7] = (uint8_t)as_cmd;
    return (int)k;
}

int smpp_dc0_check(const json_t *conf, char *err, size_t errlen)
{
    const json_t *v = json_object_get(conf, "dc0");

    if (v != NULL && smpp_dc0_parse(json_string_value(v)) < 0) {
        snprintf(err, errlen, "dc0: what data_coding 0 means to this SMSC, \"gsm\" (the default), "
                              "\"latin1\" or \"ascii\" (also \"ia5\")");
        return GW_EINVAL;
    }
    return 0;
}

int smpp_dc0_conf(const json_t *conf)
{
    int dc0 = smpp_dc0_parse(json_string_value(json_object_get(conf, "dc0")));

    return dc0 < 0 ? SMPP_DC0_GSM : dc0;
}

int smpp_env_fill(gw_envelope_t *env, const smpp_sm_fields_t *f)
{
    return smpp_env_fill_dc0(env, f, SMPP_DC0_GSM);
}

int smpp_env_fill_dc0(gw_envelope_t *env, const smpp_sm_fields_t *f, int dc0)
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
    if (f->esm_class & SMPP_ESM_UDHI) {
        rc = smpp_udh_strip(env, &p, &n);
        if (rc < 0)
            return rc;
    }
    if (f->sar_ref >= 0 && f->sar_total >= 1 && f->sar_seq >= 1) {
        /* SAR TLVs: the same "concat" tag as a UDH's (ref/total/seq) */
        char tag[40];
        snprintf(tag, sizeof(tag), "%d/%d/%d", f->sar_ref, f->sar_total, f->sar_seq);
        if (gw_env_set_tag(env, "concat", tag) < 0)
            return GW_ENOMEM;
    }
    env->data_coding = f->data_coding;
    env->registered_delivery = f->registered_delivery;
    if (smpp_dcs_class(f->data_coding) >= 0) {
        /* the message class (0: flash), put back on the way out (smpp_out.c) */
        char cls[2] = { (char)('0' + smpp_dcs_class(f->data_coding)), '\0' };
        if (gw_env_set_tag(env, "sms_class", cls) < 0)
            return GW_ENOMEM;
    }
    if (smpp_text_is_binary(f->data_coding)) {
        env->binary = 1;
        if (gw_env_set_str(&env->content_type, "application/octet-stream", (size_t)-1) < 0 ||
            gw_env_set_str(&env->body, (const char *)p, n) < 0)
            return GW_ENOMEM;
        env->body_len = n;
        return 0;
    }
    text = smpp_text_decode_dc0(f->data_coding, dc0, p, n, &outlen);
    if (text == NULL || gw_env_set_str(&env->content_type, "text/plain", (size_t)-1) < 0) {
        free(text);
        return GW_ENOMEM;
    }
    free(env->body);
    env->body = text;
    env->body_len = outlen;
    return 0;
}
