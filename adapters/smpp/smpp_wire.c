/*
 * smpp_wire.c - the per-message SMPP 3.4 PDUs, decoded and encoded without
 * libsmpp34 (smpp_wire.h says why and what).
 *
 * Decoding walks the PDU with a reader (smpp_rd_t) that never moves past
 * the PDU's end: each field checks what is left before it reads.  The
 * checks, and where they come from:
 *   - command_length equals the octets framed (the session framed them by
 *     it, so a mismatch is a caller's bug or a lie in a test);
 *   - C-octet strings end with a NUL within their SMPP 3.4 maximum (NUL
 *     included: service_type 6, addresses 21, message_id 65, the times 17
 *     in a submit_sm and 1 - empty - in a deliver_sm, 4.6.1);
 *   - sm_length at most 254 and within the PDU;
 *   - TLVs: a 4-octet header and the declared length within the PDU, at
 *     most SMPP_WIRE_MAX_TLVS of them, the fixed-size ones we read of their
 *     size (message_state 1, sar_msg_ref_num 2, sar_total_segments 1,
 *     sar_segment_seqnum 1, network_error_code 3, receipted_message_id a
 *     C-octet string of at most 65); any other tag is skipped;
 *   - kept from libsmpp34, so that peers get the answers they got before:
 *     a reserved TON or NPI and sequence number 0 are refused.
 * libsmpp34's own limits that were artefacts of its struct sizes (at most
 * 12 TLVs, a message_payload of at most 1024 octets) are gone: a
 * message_payload may fill the PDU.
 *
 * Encoding writes through a writer (smpp_wr_t) that records an overflow
 * instead of writing past cap; strings longer than their maximum are
 * refused rather than cut (libsmpp34 cut them silently).
 *
 * Threads: pure, any thread.
 */
#include <string.h>

#include "gw_errors.h"
#include "smpp_wire.h"

/* --- reading --------------------------------------------------------------- */

typedef struct smpp_rd {
    const uint8_t *p, *end;
} smpp_rd_t;

static int smpp_rd_u8(smpp_rd_t *r, uint8_t *v)
{
    if (r->p >= r->end)
        return GW_EINVAL;
    *v = *r->p++;
    return 0;
}

/* A C-octet string of at most max octets, NUL included, at r->p. */
static int smpp_rd_cstr(smpp_rd_t *r, size_t max, const char **out)
{
    size_t left = (size_t)(r->end - r->p);
    const uint8_t *nul = memchr(r->p, '\0', left < max ? left : max);

    if (nul == NULL)
        return GW_EINVAL;
    *out = (const char *)r->p;
    r->p = nul + 1;
    return 0;
}

/* 1 for the TON / NPI values SMPP 3.4 (5.2.5, 5.2.6) defines. */
static int smpp_ton_ok(uint8_t ton)
{
    return ton <= 6;
}

static int smpp_npi_ok(uint8_t npi)
{
    return npi <= 18 && ((1u << npi) & 0x4475Bu) != 0; /* 0 1 3 4 6 8 9 10 14 18 */
}

int smpp_wire_header(const uint8_t *pdu, size_t len, smpp_hdr_t *h, const char **why)
{
    if (len < 16) {
        *why = "PDU shorter than its header";
        return GW_EINVAL;
    }
    h->len = smpp_get32(pdu);
    h->cmd_id = smpp_get32(pdu + 4);
    h->status = smpp_get32(pdu + 8);
    h->seq = smpp_get32(pdu + 12);
    if (h->len != len) {
        *why = "command_length is not the PDU's length";
        return GW_EINVAL;
    }
    return 0;
}

/* One TLV (tag, value v of n octets) into f: the tags we use, checked for
 * their size; the others skipped. */
static int smpp_tlv_pick(smpp_sm_fields_t *f, uint16_t tag, const uint8_t *v, size_t n,
                         const char **why)
{
    size_t want = 0;

    switch (tag) {
    case SMPP_TLV_MESSAGE_PAYLOAD:
        f->payload = v;
        f->payload_len = n;
        return 0;
    case SMPP_TLV_RECEIPTED_MESSAGE_ID:
        if (n > SMPP_WIRE_MSGID_MAX || memchr(v, '\0', n) == NULL) {
            *why = "receipted_message_id without its NUL within 65 octets";
            return GW_EINVAL;
        }
        f->receipted_id = (const char *)v;
        return 0;
    case SMPP_TLV_MESSAGE_STATE:
    case SMPP_TLV_SAR_TOTAL_SEGMENTS:
    case SMPP_TLV_SAR_SEGMENT_SEQNUM:
        want = 1;
        break;
    case SMPP_TLV_SAR_MSG_REF_NUM:
        want = 2;
        break;
    case SMPP_TLV_NETWORK_ERROR_CODE:
        want = 3;
        break;
    default:
        return 0; /* not ours: skipped */
    }
    if (n != want) {
        *why = "TLV of a wrong length";
        return GW_EINVAL;
    }
    if (tag == SMPP_TLV_MESSAGE_STATE)
        f->message_state = v[0];
    else if (tag == SMPP_TLV_SAR_TOTAL_SEGMENTS)
        f->sar_total = v[0];
    else if (tag == SMPP_TLV_SAR_SEGMENT_SEQNUM)
        f->sar_seq = v[0];
    else if (tag == SMPP_TLV_SAR_MSG_REF_NUM)
        f->sar_ref = smpp_get16(v);
    else
        f->network_error = v;
    return 0;
}

/* The optional part: TLVs up to the end of the PDU. */
static int smpp_tlvs_decode(smpp_rd_t *r, smpp_sm_fields_t *f, const char **why)
{
    uint16_t tag;
    size_t n;
    int rc = 0;

    while (rc == 0 && r->p < r->end) {
        if (r->end - r->p < 4) {
            *why = "TLV header past the end";
            return GW_EINVAL;
        }
        tag = smpp_get16(r->p);
        n = smpp_get16(r->p + 2);
        r->p += 4;
        if (n > (size_t)(r->end - r->p)) {
            *why = "TLV length past the end";
            return GW_EINVAL;
        }
        if (++f->ntlv > SMPP_WIRE_MAX_TLVS) {
            *why = "too many TLVs";
            return GW_EINVAL;
        }
        rc = smpp_tlv_pick(f, tag, r->p, n, why);
        r->p += n;
    }
    return rc;
}

int smpp_wire_decode_sm(const uint8_t *pdu, size_t len, smpp_sm_fields_t *f, const char **why)
{
    smpp_hdr_t h;
    smpp_rd_t r = { pdu + 16, pdu + len };
    uint8_t sm_len = 0;
    size_t tmax;
    int rc;

    memset(f, 0, sizeof(*f));
    f->message_state = f->sar_ref = f->sar_total = f->sar_seq = -1;
    rc = smpp_wire_header(pdu, len, &h, why);
    if (rc < 0)
        return rc;
    if (h.cmd_id != SMPP_WIRE_SUBMIT_SM && h.cmd_id != SMPP_WIRE_DELIVER_SM) {
        *why = "not a submit_sm or deliver_sm";
        return GW_EINVAL;
    }
    if (h.seq == 0) {
        *why = "sequence_number 0";
        return GW_EINVAL;
    }
    *why = "field past the end";
    if (smpp_rd_cstr(&r, SMPP_WIRE_SERVICE_TYPE_MAX, &f->service_type) < 0) {
        *why = "service_type without its NUL within 6 octets";
        return GW_EINVAL;
    }
    if (smpp_rd_u8(&r, &f->src_ton) < 0 || smpp_rd_u8(&r, &f->src_npi) < 0)
        return GW_EINVAL;
    if (smpp_rd_cstr(&r, SMPP_WIRE_ADDR_MAX, &f->src) < 0) {
        *why = "source_addr without its NUL within 21 octets";
        return GW_EINVAL;
    }
    if (smpp_rd_u8(&r, &f->dst_ton) < 0 || smpp_rd_u8(&r, &f->dst_npi) < 0)
        return GW_EINVAL;
    if (smpp_rd_cstr(&r, SMPP_WIRE_ADDR_MAX, &f->dst) < 0) {
        *why = "destination_addr without its NUL within 21 octets";
        return GW_EINVAL;
    }
    if (!smpp_ton_ok(f->src_ton) || !smpp_ton_ok(f->dst_ton) || !smpp_npi_ok(f->src_npi) ||
        !smpp_npi_ok(f->dst_npi)) {
        *why = "reserved TON or NPI";
        return GW_EINVAL;
    }
    if (smpp_rd_u8(&r, &f->esm_class) < 0 || smpp_rd_u8(&r, &f->protocol_id) < 0 ||
        smpp_rd_u8(&r, &f->priority_flag) < 0)
        return GW_EINVAL;
    tmax = h.cmd_id == SMPP_WIRE_SUBMIT_SM ? SMPP_WIRE_TIME_MAX : 1;
    if (smpp_rd_cstr(&r, tmax, &f->schedule_delivery_time) < 0 ||
        smpp_rd_cstr(&r, tmax, &f->validity_period) < 0) {
        *why = "a time too long (17 octets in a submit_sm, empty in a deliver_sm)";
        return GW_EINVAL;
    }
    if (smpp_rd_u8(&r, &f->registered_delivery) < 0 ||
        smpp_rd_u8(&r, &f->replace_if_present) < 0 || smpp_rd_u8(&r, &f->data_coding) < 0 ||
        smpp_rd_u8(&r, &f->sm_default_msg_id) < 0 || smpp_rd_u8(&r, &sm_len) < 0)
        return GW_EINVAL;
    if (sm_len > SMPP_WIRE_SM_MAX) {
        *why = "sm_length past 254";
        return GW_EINVAL;
    }
    if (sm_len > r.end - r.p) {
        *why = "sm_length past the end";
        return GW_EINVAL;
    }
    f->sm = r.p;
    f->sm_len = sm_len;
    r.p += sm_len;
    return smpp_tlvs_decode(&r, f, why);
}

int smpp_wire_decode_resp(const uint8_t *pdu, size_t len, const char **msgid, const char **why)
{
    smpp_hdr_t h;
    smpp_rd_t r = { pdu + 16, pdu + len };
    int rc;

    *msgid = "";
    rc = smpp_wire_header(pdu, len, &h, why);
    if (rc < 0 || len == 16)
        return rc;
    if (smpp_rd_cstr(&r, SMPP_WIRE_MSGID_MAX, msgid) < 0) {
        *msgid = "";
        *why = "message_id without its NUL within 65 octets";
        return GW_EINVAL;
    }
    return 0;
}

/* --- writing --------------------------------------------------------------- */

typedef struct smpp_wr {
    uint8_t *p, *end;
    int bad; /* something did not fit or was out of range */
} smpp_wr_t;

static void smpp_wr_bytes(smpp_wr_t *w, const void *v, size_t n)
{
    if (n > (size_t)(w->end - w->p)) {
        w->bad = 1;
        return;
    }
    if (n > 0)
        memcpy(w->p, v, n);
    w->p += n;
}

static void smpp_wr_u8(smpp_wr_t *w, uint8_t v)
{
    smpp_wr_bytes(w, &v, 1);
}

static void smpp_wr_u16(smpp_wr_t *w, uint16_t v)
{
    uint8_t b[2];

    smpp_put16(b, v);
    smpp_wr_bytes(w, b, 2);
}

/* s (NULL: empty) with its NUL, refused when that is more than max. */
static void smpp_wr_cstr(smpp_wr_t *w, const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max) : 0;

    if (n >= max) {
        w->bad = 1;
        return;
    }
    smpp_wr_bytes(w, s ? s : "", n + 1);
}

static void smpp_wr_tlv(smpp_wr_t *w, uint16_t tag, const void *v, size_t n)
{
    if (n > 0xFFFF) {
        w->bad = 1;
        return;
    }
    smpp_wr_u16(w, tag);
    smpp_wr_u16(w, (uint16_t)n);
    smpp_wr_bytes(w, v, n);
}

/* A one- or two-octet TLV when v >= 0; out of range is refused. */
static void smpp_wr_tlv_num(smpp_wr_t *w, uint16_t tag, int v, int octets)
{
    uint8_t b[2];

    if (v < 0)
        return;
    if (v > (octets == 1 ? 0xFF : 0xFFFF)) {
        w->bad = 1;
        return;
    }
    if (octets == 1)
        b[0] = (uint8_t)v;
    else
        smpp_put16(b, (uint16_t)v);
    smpp_wr_tlv(w, tag, b, (size_t)octets);
}

/* The header with command_length 0, patched by smpp_wr_end. */
static void smpp_wr_header(smpp_wr_t *w, uint32_t cmd_id, uint32_t status, uint32_t seq)
{
    uint8_t b[16];

    smpp_put32(b, 0);
    smpp_put32(b + 4, cmd_id);
    smpp_put32(b + 8, status);
    smpp_put32(b + 12, seq);
    smpp_wr_bytes(w, b, 16);
}

static int smpp_wr_end(smpp_wr_t *w, uint8_t *buf)
{
    if (w->bad || w->p - buf > 0x7FFFFFFF)
        return GW_EINVAL;
    smpp_put32(buf, (uint32_t)(w->p - buf));
    return (int)(w->p - buf);
}

int smpp_wire_encode_header(uint8_t *buf, size_t cap, uint32_t cmd_id, uint32_t status,
                            uint32_t seq)
{
    smpp_wr_t w = { buf, buf + cap, 0 };

    smpp_wr_header(&w, cmd_id, status, seq);
    return smpp_wr_end(&w, buf);
}

int smpp_wire_encode_sm(uint8_t *buf, size_t cap, uint32_t cmd_id, uint32_t seq,
                        const smpp_sm_fields_t *f)
{
    smpp_wr_t w = { buf, buf + cap, 0 };
    size_t tmax = cmd_id == SMPP_WIRE_SUBMIT_SM ? SMPP_WIRE_TIME_MAX : 1;

    if ((cmd_id != SMPP_WIRE_SUBMIT_SM && cmd_id != SMPP_WIRE_DELIVER_SM) ||
        f->sm_len > SMPP_WIRE_SM_MAX || (f->sm_len > 0 && f->sm == NULL) ||
        !smpp_ton_ok(f->src_ton) || !smpp_ton_ok(f->dst_ton) || !smpp_npi_ok(f->src_npi) ||
        !smpp_npi_ok(f->dst_npi))
        return GW_EINVAL;
    smpp_wr_header(&w, cmd_id, 0, seq);
    smpp_wr_cstr(&w, f->service_type, SMPP_WIRE_SERVICE_TYPE_MAX);
    smpp_wr_u8(&w, f->src_ton);
    smpp_wr_u8(&w, f->src_npi);
    smpp_wr_cstr(&w, f->src, SMPP_WIRE_ADDR_MAX);
    smpp_wr_u8(&w, f->dst_ton);
    smpp_wr_u8(&w, f->dst_npi);
    smpp_wr_cstr(&w, f->dst, SMPP_WIRE_ADDR_MAX);
    smpp_wr_u8(&w, f->esm_class);
    smpp_wr_u8(&w, f->protocol_id);
    smpp_wr_u8(&w, f->priority_flag);
    smpp_wr_cstr(&w, f->schedule_delivery_time, tmax);
    smpp_wr_cstr(&w, f->validity_period, tmax);
    smpp_wr_u8(&w, f->registered_delivery);
    smpp_wr_u8(&w, f->replace_if_present);
    smpp_wr_u8(&w, f->data_coding);
    smpp_wr_u8(&w, f->sm_default_msg_id);
    smpp_wr_u8(&w, (uint8_t)f->sm_len);
    smpp_wr_bytes(&w, f->sm, f->sm_len);
    if (f->receipted_id) {
        size_t n = strnlen(f->receipted_id, SMPP_WIRE_MSGID_MAX);
        if (n >= SMPP_WIRE_MSGID_MAX)
            return GW_EINVAL;
        smpp_wr_tlv(&w, SMPP_TLV_RECEIPTED_MESSAGE_ID, f->receipted_id, n + 1);
    }
    smpp_wr_tlv_num(&w, SMPP_TLV_MESSAGE_STATE, f->message_state, 1);
    if (f->network_error)
        smpp_wr_tlv(&w, SMPP_TLV_NETWORK_ERROR_CODE, f->network_error, 3);
    smpp_wr_tlv_num(&w, SMPP_TLV_SAR_MSG_REF_NUM, f->sar_ref, 2);
    smpp_wr_tlv_num(&w, SMPP_TLV_SAR_TOTAL_SEGMENTS, f->sar_total, 1);
    smpp_wr_tlv_num(&w, SMPP_TLV_SAR_SEGMENT_SEQNUM, f->sar_seq, 1);
    if (f->payload)
        smpp_wr_tlv(&w, SMPP_TLV_MESSAGE_PAYLOAD, f->payload, f->payload_len);
    return smpp_wr_end(&w, buf);
}

int smpp_wire_encode_query_resp(uint8_t *buf, size_t cap, uint32_t status, uint32_t seq,
                                const char *msgid, const char *final_date, uint8_t state,
                                uint8_t error)
{
    smpp_wr_t w = { buf, buf + cap, 0 };

    smpp_wr_header(&w, 0x80000003u, status, seq);
    if (status == 0) {
        smpp_wr_cstr(&w, msgid, SMPP_WIRE_MSGID_MAX);
        smpp_wr_cstr(&w, final_date, SMPP_WIRE_TIME_MAX);
        smpp_wr_u8(&w, state);
        smpp_wr_u8(&w, error);
    }
    return smpp_wr_end(&w, buf);
}

int smpp_wire_encode_resp(uint8_t *buf, size_t cap, uint32_t cmd_id, uint32_t status,
                          uint32_t seq, const char *msgid)
{
    smpp_wr_t w = { buf, buf + cap, 0 };

    smpp_wr_header(&w, cmd_id, status, seq);
    if (msgid)
        smpp_wr_cstr(&w, msgid, SMPP_WIRE_MSGID_MAX);
    return smpp_wr_end(&w, buf);
}
