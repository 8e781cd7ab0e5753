/*
 * smpp_out.c - an envelope as the short_message parts of submit_sm (client
 * connectors) or deliver_sm (customers): text encoded once, split into
 * parts the connector's way (conf "long": UDH with an 8- or 16-bit
 * reference, SAR TLVs, or one PDU with message_payload), and each part's
 * fields for smpp_wire.  A part of the sender's own long message keeps its
 * reference, total and number (tag "concat").
 *
 * The reference is a hash of the envelope id, not a counter: a message
 * sent again (a retry, a rebind, a restart) carries the same reference,
 * so a handset that got some parts the first time joins the rest instead
 * of showing a second, broken copy.
 *
 * The sender's wishes kept as tags: "coding" = "ucs2" encodes the text as
 * UCS-2 even when GSM 03.38 would carry it; "validity_s" sends the time
 * left to the envelope's expiry as the submit_sm's validity_period (SIP
 * X-SMS-Coding / X-SMS-Validity, docs/sip-sms-headers.md; an SMPP
 * customer's validity_period, smpp_env_validity).
 *
 * A delivery report (env->report.of set) becomes the SMPP 3.4 receipt:
 * esm_class 0x04, the receipt text as short_message, the TLVs
 * receipted_message_id and message_state.
 *
 * Text goes as data_coding 0 when it fits the far side's default alphabet
 * (a client connector's conf "dc0": GSM 03.38 unless it says Latin-1 or
 * ASCII; customers' is GSM), else as UCS-2.  A sender's message class (tag
 * "sms_class", e.g. 0 for a flash SMS) goes back into data_coding: 0xF0 |
 * class for GSM, 0x18 | class for UCS-2; toward a Latin-1 or ASCII
 * default it cannot be said and is left out.  Binary keeps the
 * data_coding it came with, class and all.
 *
 * A binary message's user data header (tag "udh", gw_binary.h: from
 * messages.inject, the HTTP API, sendsms or AMQP) goes in front of its
 * octets with esm_class UDHI; UDH and octets fit one short_message, or
 * the message is refused (binary is never split).
 *
 * Threads: pure, any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_binary.h"
#include "gw_errors.h"
#include "smpp.h"

static const char *const smpp_state_names[] = { NULL,      "ENROUTE", "DELIVRD",
                                                "EXPIRED", "DELETED", "UNDELIV",
                                                "ACCEPTD", "UNKNOWN", "REJECTD" };

/* SMPP 3.4 5.2.28 message_state of an appendix B "stat:" word. */
int smpp_message_state(const char *stat)
{
    for (int i = 1; stat != NULL && i < (int)(sizeof smpp_state_names / sizeof *smpp_state_names); i++)
        if (strcmp(stat, smpp_state_names[i]) == 0)
            return i;
    return 7; /* UNKNOWN */
}

const char *smpp_message_state_name(int state)
{
    if (state < 1 || state >= (int)(sizeof smpp_state_names / sizeof *smpp_state_names))
        return NULL;
    return smpp_state_names[state];
}

void smpp_id_norm(const char *in, char *out, size_t n)
{
    size_t k = 0;

    while (in[0] == '0' && in[1] != '\0')
        in++; /* "000" is "0" */
    for (; *in != '\0' && k + 1 < n; in++)
        out[k++] = (char)(*in >= 'A' && *in <= 'Z' ? *in - 'A' + 'a' : *in);
    if (n > 0)
        out[k] = '\0';
}

int smpp_long_parse(const char *s)
{
    static const char *const names[] = { "udh", "udh16", "sar", "payload" };

    for (int i = 0; s != NULL && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static unsigned smpp_out_hash(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return (unsigned)(h ^ (h >> 16));
}

/* The sender's own segmentation from the tag "concat" ("ref/total/seq"):
 * 1 when valid (1 <= seq <= total, 2 <= total <= 255, ref <= 65535). */
static int smpp_out_kept(const gw_envelope_t *env, unsigned *ref, unsigned *total, unsigned *seq)
{
    const char *tag = json_string_value(json_object_get(env->tags, "concat"));
    char end;

    if (tag == NULL || sscanf(tag, "%u/%u/%u%c", ref, total, seq, &end) != 3)
        return 0;
    return *ref <= 0xFFFF && *total >= 2 && *total <= 255 && *seq >= 1 && *seq <= *total;
}

/* The sender's message class from the tag "sms_class" ("0".."3"), or -1. */
static int smpp_out_class(const gw_envelope_t *env)
{
    const char *tag = json_string_value(json_object_get(env->tags, "sms_class"));

    return tag != NULL && tag[0] >= '0' && tag[0] <= '3' && tag[1] == '\0' ? tag[0] - '0' : -1;
}

int smpp_out_prepare(smpp_out_t *o, const gw_envelope_t *env, smpp_long_t mode)
{
    return smpp_out_prepare_dc0(o, env, mode, SMPP_DC0_GSM);
}

int smpp_out_prepare_dc0(smpp_out_t *o, const gw_envelope_t *env, smpp_long_t mode, int dc0)
{
    static const size_t hdr[] = { 6, 7, 0, 0 }; /* octets a part's header takes */
    unsigned kref, ktotal, kseq;

    memset(o, 0, sizeof *o);
    o->mode = mode;
    o->ref = smpp_out_hash(env->id) & (mode == SMPP_LONG_UDH ? 0xFFu : 0xFFFFu);
    if (env->binary) {
        o->text.data_coding = env->data_coding >= 0 ? env->data_coding : SMPP_DC_BINARY;
        o->text.data = malloc(env->body_len + 1);
        if (o->text.data == NULL)
            return GW_ENOMEM;
        memcpy(o->text.data, env->body, env->body_len);
        o->text.len = env->body_len;
        long nudh = gw_bin_udh(env, o->udh, sizeof o->udh);
        o->udh_len = nudh > 0 ? (size_t)nudh : 0;
        /* binary is never split; a bad "udh" tag refuses it */
        o->nparts = nudh >= 0 && o->udh_len + env->body_len <= GW_BIN_SMS_MAX ? 1 : 0;
        o->offs[1] = env->body_len;
    } else {
        const char *coding = json_string_value(json_object_get(env->tags, "coding"));
        const char *body = env->body ? env->body : "";
        size_t blen = env->body ? strlen(env->body) : 0;
        int rc = coding != NULL && strcmp(coding, "ucs2") == 0
                     ? smpp_text_encode_ucs2(body, blen, &o->text)
                     : smpp_text_encode_dc0(body, blen, dc0, &o->text);
        if (rc != 0)
            return GW_ENOMEM;
        o->nparts = smpp_text_split_hdr(&o->text, o->offs, SMPP_MAX_PARTS + 1, hdr[mode]);
    }
    o->data_coding = o->text.data_coding;
    if (!env->binary && (dc0 == SMPP_DC0_GSM || o->text.data_coding != SMPP_DC_GSM))
        o->data_coding = smpp_dcs_with_class(o->text.data_coding, smpp_out_class(env));
    if (o->nparts == 1 && o->udh_len == 0 && smpp_out_kept(env, &kref, &ktotal, &kseq)) {
        /* one part of its sender's own long message: sent as that part,
         * in short_message with its UDH or SAR TLVs, whatever the mode */
        o->ref = kref;
        o->total = ktotal;
        o->seq = kseq;
        if (o->mode == SMPP_LONG_PAYLOAD)
            o->mode = SMPP_LONG_UDH;
    } else if (mode == SMPP_LONG_PAYLOAD && !env->binary && o->nparts > 1) {
        o->payload = 1; /* one PDU: the whole text in message_payload */
        o->nparts = 1;
        o->offs[1] = o->text.len;
    }
    return o->nparts > 0 ? 0 : GW_EINVAL;
}

void smpp_out_free(smpp_out_t *o)
{
    smpp_text_free(&o->text);
}

/* The concatenation header of part seq of total into f (and b->sm, whose
 * first *udh octets it takes). */
static void smpp_out_concat(const smpp_out_t *o, unsigned total, unsigned seq,
                            smpp_out_bufs_t *b, smpp_sm_fields_t *f, size_t *udh)
{
    if (o->mode == SMPP_LONG_SAR) {
        f->sar_ref = (int)o->ref;
        f->sar_total = (int)total;
        f->sar_seq = (int)seq;
    } else if (o->mode == SMPP_LONG_UDH16 || o->ref > 0xFF) {
        const uint8_t h[7] = { 6, 0x08, 4, (uint8_t)(o->ref >> 8), (uint8_t)o->ref,
                               (uint8_t)total, (uint8_t)seq };
        memcpy(b->sm, h, sizeof h);
        *udh = sizeof h;
        f->esm_class = SMPP_ESM_UDHI;
    } else {
        const uint8_t h[6] = { 5, 0x00, 3, (uint8_t)o->ref, (uint8_t)total, (uint8_t)seq };
        memcpy(b->sm, h, sizeof h);
        *udh = sizeof h;
        f->esm_class = SMPP_ESM_UDHI;
    }
}

int smpp_out_part(const smpp_out_t *o, size_t i, const gw_envelope_t *env,
                  const char *default_src, smpp_out_bufs_t *b, smpp_sm_fields_t *f)
{
    size_t from = o->offs[i], n = o->offs[i + 1] - from, udh = 0;
    int rc;

    memset(f, 0, sizeof *f);
    f->src = b->src;
    f->dst = b->dst;
    f->sm = b->sm;
    f->message_state = f->sar_ref = f->sar_total = f->sar_seq = -1;
    if ((env->from.address == NULL || env->from.address[0] == 0) && default_src != NULL &&
        default_src[0] != 0) {
        gw_addr_t a = { (char *)default_src, GW_ADDR_ALNUM, 5, 0 };
        rc = smpp_addr_out(&a, &f->src_ton, &f->src_npi, b->src, sizeof b->src);
    } else {
        rc = smpp_addr_out(&env->from, &f->src_ton, &f->src_npi, b->src, sizeof b->src);
    }
    if (rc == 0 && env->to.address != NULL)
        rc = smpp_addr_out(&env->to, &f->dst_ton, &f->dst_npi, b->dst, sizeof b->dst);
    if (rc != 0 || env->to.address == NULL || i >= o->nparts)
        return GW_EINVAL;
    if (o->udh_len > 0) { /* a binary message's own UDH, as given */
        memcpy(b->sm, o->udh, o->udh_len);
        udh = o->udh_len;
        f->esm_class = SMPP_ESM_UDHI;
    } else if (o->total > 0)
        smpp_out_concat(o, o->total, o->seq, b, f, &udh); /* the sender's own part */
    else if (o->nparts > 1)
        smpp_out_concat(o, (unsigned)o->nparts, (unsigned)i + 1, b, f, &udh);
    if (o->payload) {
        f->payload = o->text.data;
        f->payload_len = o->text.len;
        f->sm_len = 0;
    } else {
        if (udh + n > sizeof b->sm)
            return GW_EINVAL; /* the splitter keeps parts far below this */
        memcpy(b->sm + udh, o->text.data + from, n);
        f->sm_len = udh + n;
    }
    f->data_coding = (uint8_t)o->data_coding;
    f->registered_delivery = (uint8_t)(env->registered_delivery & 0x1F);
    if (env->report.of != NULL) {
        f->esm_class |= SMPP_ESM_RECEIPT;
        f->registered_delivery = 0;
        f->receipted_id = env->report.of;
        f->message_state = smpp_message_state(env->report.stat);
    }
    return 0;
}

const char *smpp_out_validity(const gw_envelope_t *env, int64_t now_ms, smpp_out_bufs_t *b)
{
    int64_t left;
    unsigned d, h, m, sec;

    if (json_object_get(env->tags, "validity_s") == NULL || env->expires_at <= 0)
        return NULL;
    left = (env->expires_at - now_ms) / 1000;
    if (left < 1)
        left = 1; /* the sweep expires it; the SMSC should not hold it */
    if (left > 99LL * 86400)
        left = 99LL * 86400;
    d = (unsigned)(left / 86400);
    h = (unsigned)(left % 86400 / 3600);
    m = (unsigned)(left % 3600 / 60);
    sec = (unsigned)(left % 60);
    /* relative: years and months 0, days up to 99 (SMPP 3.4 7.1.1.2) */
    snprintf(b->validity, sizeof b->validity, "0000%02u%02u%02u%02u000R", d % 100, h % 100,
             m % 100, sec % 100);
    return b->validity;
}
