/*
 * smpp_wire.h - our own codec for the SMPP 3.4 PDUs of every message:
 * submit_sm, deliver_sm, their responses, enquire_link(_resp) and
 * generic_nack.  No allocation, no formatting, no global state.
 *
 * Why: libsmpp34 snprintf()s a log line into a global for every field it
 * packs or unpacks (and once more in a value-to-string check), which cost
 * about a fifth of junction's CPU per message at 5,000 msg/s; it also needs
 * guards against its leaks and overruns on malformed input.  libsmpp34
 * stays for the session PDUs (bind_*, unbind, their responses), whose cost
 * does not matter, and as the independent reference of
 * tests/unit/test_smpp_wire.c.
 *
 * Decoding is zero copy: the C-octet strings of a decoded smpp_sm_fields_t
 * point into the PDU (whose NUL each was checked to have within its SMPP
 * 3.4 maximum), so the fields live as long as the PDU's octets.  Every
 * read is bounded by the PDU's length; malformed input is GW_EINVAL with a
 * static reason in *why.
 *
 *   smpp_wire_header        the 16-octet header of any PDU
 *   smpp_wire_decode_sm     submit_sm / deliver_sm body and TLVs
 *   smpp_wire_decode_resp   submit_sm_resp / deliver_sm_resp message_id
 *   smpp_wire_encode_header header-only PDUs (enquire_link, generic_nack, ...)
 *   smpp_wire_encode_sm     submit_sm / deliver_sm with the TLVs we use
 *   smpp_wire_encode_resp   submit_sm_resp / deliver_sm_resp
 *
 * Threads: pure functions, any thread.
 */
#ifndef SMPP_WIRE_H
#define SMPP_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The command ids the codec knows (the same values as libsmpp34's). */
#define SMPP_WIRE_GENERIC_NACK 0x80000000u
#define SMPP_WIRE_SUBMIT_SM 0x00000004u
#define SMPP_WIRE_SUBMIT_SM_RESP 0x80000004u
#define SMPP_WIRE_DELIVER_SM 0x00000005u
#define SMPP_WIRE_DELIVER_SM_RESP 0x80000005u
#define SMPP_WIRE_ENQUIRE_LINK 0x00000015u
#define SMPP_WIRE_ENQUIRE_LINK_RESP 0x80000015u

/* esm_class bits */
#define SMPP_ESM_RECEIPT 0x04 /* an SMSC delivery receipt */
#define SMPP_ESM_UDHI 0x40    /* short_message starts with a user data header */

/* The TLV tags picked out (SMPP 3.4, 5.3.2); others are skipped. */
#define SMPP_TLV_SAR_MSG_REF_NUM 0x020C
#define SMPP_TLV_SAR_TOTAL_SEGMENTS 0x020E
#define SMPP_TLV_SAR_SEGMENT_SEQNUM 0x020F
#define SMPP_TLV_MESSAGE_PAYLOAD 0x0424
#define SMPP_TLV_RECEIPTED_MESSAGE_ID 0x001E
#define SMPP_TLV_MESSAGE_STATE 0x0427
#define SMPP_TLV_NETWORK_ERROR_CODE 0x0423

/* SMPP 3.4 maxima, NUL included. */
#define SMPP_WIRE_SERVICE_TYPE_MAX 6
#define SMPP_WIRE_ADDR_MAX 21
#define SMPP_WIRE_TIME_MAX 17  /* in a submit_sm; a deliver_sm's are empty */
#define SMPP_WIRE_MSGID_MAX 65
#define SMPP_WIRE_SM_MAX 254   /* short_message octets (sm_length) */
#define SMPP_WIRE_MAX_TLVS 32  /* more in one PDU is refused */

/* Big-endian fields; p need not be aligned. */
static inline uint16_t smpp_get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t smpp_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void smpp_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void smpp_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

typedef struct smpp_hdr {
    uint32_t len, cmd_id, status, seq;
} smpp_hdr_t;

/* The fields of a submit_sm or deliver_sm (the same body, SMPP 3.4 4.4.1 and
 * 4.6.1).  Decoded: every pointer points into the PDU, strings are
 * NUL-terminated there.  To encode: a NULL string is sent empty; the
 * optional members are sent when set (pointer non-NULL, number >= 0). */
typedef struct smpp_sm_fields {
    const char *service_type;
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    const char *src, *dst;
    uint8_t esm_class, protocol_id, priority_flag;
    const char *schedule_delivery_time, *validity_period;
    uint8_t registered_delivery, replace_if_present, data_coding, sm_default_msg_id;
    const uint8_t *sm;
    size_t sm_len;
    /* optional parameters */
    const uint8_t *payload;   /* message_payload, NULL when absent */
    size_t payload_len;
    const char *receipted_id; /* receipted_message_id, NULL when absent */
    const uint8_t *network_error; /* network_error_code, 3 octets, or NULL */
    int message_state;        /* -1 when absent */
    int sar_ref, sar_total, sar_seq; /* sar_msg_ref_num etc., -1 when absent */
    unsigned ntlv;            /* decoded: TLVs seen, the skipped ones too */
} smpp_sm_fields_t;

/* The header of pdu[0..len): 0, or GW_EINVAL when len < 16 or the
 * command_length is not len. */
int smpp_wire_header(const uint8_t *pdu, size_t len, smpp_hdr_t *h, const char **why);

/* Decode a whole submit_sm or deliver_sm (header included; its
 * command_length must be len) into f.  0, or GW_EINVAL with *why: a field
 * past the end, a C-octet string without its NUL within its maximum, a
 * reserved TON/NPI, sequence number 0, sm_length past 254 or the end, a
 * TLV past the end or of a wrong length, more than SMPP_WIRE_MAX_TLVS. */
int smpp_wire_decode_sm(const uint8_t *pdu, size_t len, smpp_sm_fields_t *f, const char **why);

/* The message_id of a submit_sm_resp / deliver_sm_resp into *msgid
 * (pointing into the PDU; "" when the body is absent, which a response
 * with a non-zero command_status may be).  Octets after it (SMPP 5.0 TLVs)
 * are ignored.  0, or GW_EINVAL without a NUL within 65 octets. */
int smpp_wire_decode_resp(const uint8_t *pdu, size_t len, const char **msgid,
                          const char **why);

/* Encoders write one whole PDU into buf (cap octets) and return its
 * length, or GW_EINVAL when a field is out of range or it does not fit. */
int smpp_wire_encode_header(uint8_t *buf, size_t cap, uint32_t cmd_id, uint32_t status,
                            uint32_t seq);
int smpp_wire_encode_sm(uint8_t *buf, size_t cap, uint32_t cmd_id, uint32_t seq,
                        const smpp_sm_fields_t *f);
/* A response with msgid as its body, or header only when msgid is NULL
 * (SMPP 3.4 4.4.2: a submit_sm_resp with an error has no body; a
 * deliver_sm_resp carries an empty message_id, "", either way). */
int smpp_wire_encode_resp(uint8_t *buf, size_t cap, uint32_t cmd_id, uint32_t status,
                          uint32_t seq, const char *msgid);
/* A query_sm_resp (SMPP 3.4 4.8.2): message_id, final_date ("" while not
 * final, else YYMMDDhhmmss000+), message_state, error_code; header only
 * when status is not 0. */
int smpp_wire_encode_query_resp(uint8_t *buf, size_t cap, uint32_t status, uint32_t seq,
                                const char *msgid, const char *final_date, uint8_t state,
                                uint8_t error);

#endif
