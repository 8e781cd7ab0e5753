/*
 * test_smpp_wire.c - adapters/smpp/smpp_wire.c, our codec of the
 * per-message PDUs, checked against libsmpp34 as the independent
 * implementation: random and edge field values encoded by one and decoded
 * by the other must come back equal, both ways; then every malformed input
 * the decoder must refuse, and the encoder's own limits.
 *
 * The random values come from a fixed-seed xorshift, so a failure repeats;
 * libsmpp34 packs at most 253 octets of short_message and 1024 of a TLV,
 * which bounds the values of the libsmpp34 -> smpp_wire direction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#include "adapters/smpp/smpp.h"
#include "gateway/gw_errors.h"

#define ROUNDS 1500

_Static_assert(SMPP_WIRE_SUBMIT_SM == SUBMIT_SM && SMPP_WIRE_DELIVER_SM == DELIVER_SM &&
                   SMPP_WIRE_SUBMIT_SM_RESP == SUBMIT_SM_RESP &&
                   SMPP_WIRE_DELIVER_SM_RESP == DELIVER_SM_RESP &&
                   SMPP_WIRE_ENQUIRE_LINK == ENQUIRE_LINK &&
                   SMPP_WIRE_ENQUIRE_LINK_RESP == ENQUIRE_LINK_RESP &&
                   SMPP_WIRE_GENERIC_NACK == GENERIC_NACK,
               "command ids agree with libsmpp34");
_Static_assert(SMPP_TLV_MESSAGE_PAYLOAD == TLVID_message_payload &&
                   SMPP_TLV_RECEIPTED_MESSAGE_ID == TLVID_receipted_message_id &&
                   SMPP_TLV_MESSAGE_STATE == TLVID_message_state &&
                   SMPP_TLV_NETWORK_ERROR_CODE == TLVID_network_error_code &&
                   SMPP_TLV_SAR_MSG_REF_NUM == TLVID_sar_msg_ref_num &&
                   SMPP_TLV_SAR_TOTAL_SEGMENTS == TLVID_sar_total_segments &&
                   SMPP_TLV_SAR_SEGMENT_SEQNUM == TLVID_sar_segment_seqnum &&
                   SMPP_ESM_UDHI == SMPP34_UDHI_IND && SMPP_ESM_RECEIPT == SMPP34_DELIVERY_RECEIPT,
               "TLV tags and esm_class bits agree with libsmpp34");

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state >> 11);
}

/* A length 0 .. max, the edges (0, max) one time in eight each. */
static size_t rnd_len(size_t max)
{
    uint32_t k = rnd() % 8;

    return k == 0 ? 0 : k == 1 ? max : rnd() % (max + 1);
}

/* A printable string of rnd_len(max - 1) characters into out (max octets). */
static void rnd_str(char *out, size_t max)
{
    size_t n = rnd_len(max - 1), i;

    for (i = 0; i < n; i++)
        out[i] = (char)(0x21 + rnd() % 94);
    out[n] = '\0';
}

static void rnd_bytes(uint8_t *out, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = (uint8_t)rnd();
}

static const uint8_t npis[] = { 0, 1, 3, 4, 6, 8, 9, 10, 14, 18 };

/* Random values of everything smpp_sm_fields_t carries, in owned storage. */
typedef struct sm_vals {
    char svc[6], src[21], dst[21], sched[17], valid[17], rcpt[65];
    uint8_t src_ton, src_npi, dst_ton, dst_npi, esm, pid, prio, reg, repl, dc, dflt;
    uint8_t sm[254], payload[1024], neterr[3];
    size_t sm_len, payload_len;
    int has_payload, has_rcpt, has_neterr, state, sar_ref, sar_total, sar_seq;
    uint8_t vendor[40]; /* an unknown TLV (libsmpp34 -> smpp_wire only) */
    size_t vendor_len;
    int has_vendor;
} sm_vals_t;

static void rnd_vals(sm_vals_t *v, uint32_t cmd, size_t sm_max)
{
    memset(v, 0, sizeof(*v));
    rnd_str(v->svc, sizeof v->svc);
    rnd_str(v->src, sizeof v->src);
    rnd_str(v->dst, sizeof v->dst);
    if (cmd == SUBMIT_SM) { /* a deliver_sm's times are empty */
        rnd_str(v->sched, sizeof v->sched);
        rnd_str(v->valid, sizeof v->valid);
    }
    v->src_ton = (uint8_t)(rnd() % 7);
    v->dst_ton = (uint8_t)(rnd() % 7);
    v->src_npi = npis[rnd() % sizeof npis];
    v->dst_npi = npis[rnd() % sizeof npis];
    v->esm = (uint8_t)rnd();
    v->pid = (uint8_t)rnd();
    v->prio = (uint8_t)rnd();
    v->reg = (uint8_t)rnd();
    v->repl = (uint8_t)rnd();
    v->dc = (uint8_t)rnd();
    v->dflt = (uint8_t)rnd();
    v->sm_len = rnd_len(sm_max);
    rnd_bytes(v->sm, v->sm_len);
    v->has_payload = rnd() % 3 == 0;
    v->payload_len = v->has_payload ? rnd_len(sizeof v->payload) : 0;
    rnd_bytes(v->payload, v->payload_len);
    v->has_rcpt = rnd() % 2;
    if (v->has_rcpt)
        rnd_str(v->rcpt, sizeof v->rcpt);
    v->has_neterr = rnd() % 2;
    rnd_bytes(v->neterr, 3);
    v->state = rnd() % 2 ? (int)(rnd() % 256) : -1;
    v->sar_ref = rnd() % 2 ? (int)(rnd() % 65536) : -1;
    v->sar_total = rnd() % 2 ? (int)(rnd() % 256) : -1;
    v->sar_seq = rnd() % 2 ? (int)(rnd() % 256) : -1;
    v->has_vendor = rnd() % 2;
    v->vendor_len = rnd_len(sizeof v->vendor);
    rnd_bytes(v->vendor, v->vendor_len);
}

static smpp_sm_fields_t vals_fields(const sm_vals_t *v)
{
    return (smpp_sm_fields_t){
        .service_type = v->svc, .src_ton = v->src_ton, .src_npi = v->src_npi,
        .dst_ton = v->dst_ton, .dst_npi = v->dst_npi, .src = v->src, .dst = v->dst,
        .esm_class = v->esm, .protocol_id = v->pid, .priority_flag = v->prio,
        .schedule_delivery_time = v->sched, .validity_period = v->valid,
        .registered_delivery = v->reg, .replace_if_present = v->repl, .data_coding = v->dc,
        .sm_default_msg_id = v->dflt, .sm = v->sm, .sm_len = v->sm_len,
        .payload = v->has_payload ? v->payload : NULL, .payload_len = v->payload_len,
        .receipted_id = v->has_rcpt ? v->rcpt : NULL,
        .network_error = v->has_neterr ? v->neterr : NULL, .message_state = v->state,
        .sar_ref = v->sar_ref, .sar_total = v->sar_total, .sar_seq = v->sar_seq,
    };
}

/* --- libsmpp34's side -------------------------------------------------------- */

static void lib_tlv_add(tlv_t **list, uint16_t tag, const void *val, size_t n)
{
    tlv_t t;

    memset(&t, 0, sizeof(t));
    t.tag = tag;
    t.length = (uint16_t)n;
    memcpy(t.value.octet, val, n);
    assert_int_equal(build_tlv(list, &t), 0);
}

/* A one-octet TLV when v >= 0 (libsmpp34 packs it as val08). */
static void lib_tlv_add8(tlv_t **list, uint16_t tag, int v)
{
    uint8_t b = (uint8_t)v;

    if (v >= 0)
        lib_tlv_add(list, tag, &b, 1);
}

static tlv_t *lib_tlvs(const sm_vals_t *v)
{
    tlv_t *list = NULL;
    uint16_t h;

    if (v->has_payload)
        lib_tlv_add(&list, TLVID_message_payload, v->payload, v->payload_len);
    if (v->has_rcpt)
        lib_tlv_add(&list, TLVID_receipted_message_id, v->rcpt, strlen(v->rcpt) + 1);
    if (v->has_neterr)
        lib_tlv_add(&list, TLVID_network_error_code, v->neterr, 3);
    if (v->has_vendor)
        lib_tlv_add(&list, 0x1401, v->vendor, v->vendor_len);
    lib_tlv_add8(&list, TLVID_message_state, v->state);
    lib_tlv_add8(&list, TLVID_sar_total_segments, v->sar_total);
    lib_tlv_add8(&list, TLVID_sar_segment_seqnum, v->sar_seq);
    if (v->sar_ref >= 0) {
        h = (uint16_t)v->sar_ref;
        lib_tlv_add(&list, TLVID_sar_msg_ref_num, &h, 2); /* host order, as val16 */
    }
    return list;
}

/* submit_sm_t and deliver_sm_t share their fields' names. */
#define LIB_FILL(p, v, cmd, seq)                                                             \
    do {                                                                                     \
        memset((p), 0, sizeof(*(p)));                                                        \
        (p)->command_id = (cmd);                                                             \
        (p)->sequence_number = (seq);                                                        \
        strcpy((char *)(p)->service_type, (v)->svc);                                         \
        (p)->source_addr_ton = (v)->src_ton;                                                 \
        (p)->source_addr_npi = (v)->src_npi;                                                 \
        strcpy((char *)(p)->source_addr, (v)->src);                                          \
        (p)->dest_addr_ton = (v)->dst_ton;                                                   \
        (p)->dest_addr_npi = (v)->dst_npi;                                                   \
        strcpy((char *)(p)->destination_addr, (v)->dst);                                     \
        (p)->esm_class = (v)->esm;                                                           \
        (p)->protocol_id = (v)->pid;                                                         \
        (p)->priority_flag = (v)->prio;                                                      \
        strcpy((char *)(p)->schedule_delivery_time, (v)->sched);                             \
        strcpy((char *)(p)->validity_period, (v)->valid);                                    \
        (p)->registered_delivery = (v)->reg;                                                 \
        (p)->replace_if_present_flag = (v)->repl;                                            \
        (p)->data_coding = (v)->dc;                                                          \
        (p)->sm_default_msg_id = (v)->dflt;                                                  \
        (p)->sm_length = (uint8_t)(v)->sm_len;                                               \
        memcpy((p)->short_message, (v)->sm, (v)->sm_len);                                    \
        (p)->tlv = lib_tlvs(v);                                                              \
    } while (0)

#define LIB_CHECK(p, v)                                                                      \
    do {                                                                                     \
        assert_string_equal((const char *)(p)->service_type, (v)->svc);                      \
        assert_int_equal((p)->source_addr_ton, (v)->src_ton);                               \
        assert_int_equal((p)->source_addr_npi, (v)->src_npi);                               \
        assert_string_equal((const char *)(p)->source_addr, (v)->src);                       \
        assert_int_equal((p)->dest_addr_ton, (v)->dst_ton);                                 \
        assert_int_equal((p)->dest_addr_npi, (v)->dst_npi);                                 \
        assert_string_equal((const char *)(p)->destination_addr, (v)->dst);                  \
        assert_int_equal((p)->esm_class, (v)->esm);                                         \
        assert_int_equal((p)->protocol_id, (v)->pid);                                       \
        assert_int_equal((p)->priority_flag, (v)->prio);                                    \
        assert_string_equal((const char *)(p)->schedule_delivery_time, (v)->sched);          \
        assert_string_equal((const char *)(p)->validity_period, (v)->valid);                 \
        assert_int_equal((p)->registered_delivery, (v)->reg);                               \
        assert_int_equal((p)->replace_if_present_flag, (v)->repl);                          \
        assert_int_equal((p)->data_coding, (v)->dc);                                        \
        assert_int_equal((p)->sm_default_msg_id, (v)->dflt);                                \
        assert_int_equal((p)->sm_length, (v)->sm_len);                                      \
        assert_memory_equal((p)->short_message, (v)->sm, (v)->sm_len);                      \
        lib_check_tlvs((p)->tlv, (v));                                                       \
    } while (0)

/* Every TLV libsmpp34 unpacked is one smpp_wire encoded, with its value. */
static void lib_check_tlvs(const tlv_t *list, const sm_vals_t *v)
{
    const tlv_t *t;
    int n = 0, want = (v->has_payload + v->has_rcpt + v->has_neterr + (v->state >= 0) +
                       (v->sar_ref >= 0) + (v->sar_total >= 0) + (v->sar_seq >= 0));

    for (t = list; t; t = t->next, n++) {
        switch (t->tag) {
        case TLVID_message_payload:
            assert_true(v->has_payload);
            assert_int_equal(t->length, v->payload_len);
            assert_memory_equal(t->value.octet, v->payload, v->payload_len);
            break;
        case TLVID_receipted_message_id:
            assert_true(v->has_rcpt);
            assert_int_equal(t->length, strlen(v->rcpt) + 1);
            assert_string_equal((const char *)t->value.octet, v->rcpt);
            break;
        case TLVID_network_error_code:
            assert_true(v->has_neterr);
            assert_int_equal(t->length, 3);
            assert_memory_equal(t->value.octet, v->neterr, 3);
            break;
        case TLVID_message_state:
            assert_int_equal(t->length, 1);
            assert_int_equal(t->value.val08, v->state);
            break;
        case TLVID_sar_total_segments:
            assert_int_equal(t->value.val08, v->sar_total);
            break;
        case TLVID_sar_segment_seqnum:
            assert_int_equal(t->value.val08, v->sar_seq);
            break;
        case TLVID_sar_msg_ref_num:
            assert_int_equal(t->length, 2);
            assert_int_equal(t->value.val16, v->sar_ref);
            break;
        default:
            fail_msg("unexpected TLV 0x%04x", t->tag);
        }
    }
    assert_int_equal(n, want);
}

/* What smpp_wire decoded equals v. */
static void wire_check(const smpp_sm_fields_t *f, const sm_vals_t *v)
{
    assert_string_equal(f->service_type, v->svc);
    assert_int_equal(f->src_ton, v->src_ton);
    assert_int_equal(f->src_npi, v->src_npi);
    assert_string_equal(f->src, v->src);
    assert_int_equal(f->dst_ton, v->dst_ton);
    assert_int_equal(f->dst_npi, v->dst_npi);
    assert_string_equal(f->dst, v->dst);
    assert_int_equal(f->esm_class, v->esm);
    assert_int_equal(f->protocol_id, v->pid);
    assert_int_equal(f->priority_flag, v->prio);
    assert_string_equal(f->schedule_delivery_time, v->sched);
    assert_string_equal(f->validity_period, v->valid);
    assert_int_equal(f->registered_delivery, v->reg);
    assert_int_equal(f->replace_if_present, v->repl);
    assert_int_equal(f->data_coding, v->dc);
    assert_int_equal(f->sm_default_msg_id, v->dflt);
    assert_int_equal(f->sm_len, v->sm_len);
    assert_memory_equal(f->sm, v->sm, v->sm_len);
    assert_int_equal(f->payload != NULL, v->has_payload);
    if (v->has_payload) {
        assert_int_equal(f->payload_len, v->payload_len);
        assert_memory_equal(f->payload, v->payload, v->payload_len);
    }
    assert_int_equal(f->receipted_id != NULL, v->has_rcpt);
    if (v->has_rcpt)
        assert_string_equal(f->receipted_id, v->rcpt);
    assert_int_equal(f->network_error != NULL, v->has_neterr);
    if (v->has_neterr)
        assert_memory_equal(f->network_error, v->neterr, 3);
    assert_int_equal(f->message_state, v->state);
    assert_int_equal(f->sar_ref, v->sar_ref);
    assert_int_equal(f->sar_total, v->sar_total);
    assert_int_equal(f->sar_seq, v->sar_seq);
}

/* An exact-size copy, so that a sanitizer build sees any read past it. */
static uint8_t *exact(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n);

    assert_non_null(c);
    memcpy(c, p, n);
    return c;
}

static void check_lib_to_wire(uint32_t cmd)
{
    static uint8_t buf[8192];
    sm_vals_t v;
    smpp_sm_fields_t f;
    submit_sm_t sub;
    deliver_sm_t del;
    const char *why = NULL;
    uint32_t seq;
    uint8_t *pdu;
    int len, k;

    for (k = 0; k < ROUNDS; k++) {
        rnd_vals(&v, cmd, 253); /* libsmpp34 packs at most 253 */
        seq = 1 + rnd() % 0x7FFFFFFF;
        if (cmd == SUBMIT_SM) {
            LIB_FILL(&sub, &v, cmd, seq);
            assert_int_equal(smpp34_pack(cmd, buf, sizeof buf, &len, &sub), 0);
            destroy_tlv(sub.tlv);
        } else {
            LIB_FILL(&del, &v, cmd, seq);
            assert_int_equal(smpp34_pack(cmd, buf, sizeof buf, &len, &del), 0);
            destroy_tlv(del.tlv);
        }
        pdu = exact(buf, (size_t)len);
        assert_int_equal(smpp_wire_decode_sm(pdu, (size_t)len, &f, &why), 0);
        wire_check(&f, &v);
        assert_int_equal(f.ntlv, v.has_payload + v.has_rcpt + v.has_neterr + v.has_vendor +
                                     (v.state >= 0) + (v.sar_ref >= 0) + (v.sar_total >= 0) +
                                     (v.sar_seq >= 0));
        free(pdu);
    }
}

static void check_wire_to_lib(uint32_t cmd)
{
    static uint8_t buf[8192];
    sm_vals_t v;
    smpp_sm_fields_t f;
    submit_sm_t sub;
    deliver_sm_t del;
    int len, k;

    for (k = 0; k < ROUNDS; k++) {
        rnd_vals(&v, cmd, 254);
        v.has_vendor = 0; /* smpp_wire sends only the TLVs it knows */
        f = vals_fields(&v);
        len = smpp_wire_encode_sm(buf, sizeof buf, cmd, 1 + rnd() % 0x7FFFFFFF, &f);
        assert_true(len > 16);
        /* libsmpp34 links the TLVs it unpacks in front of st's tlv member */
        memset(&sub, 0, sizeof sub);
        memset(&del, 0, sizeof del);
        if (cmd == SUBMIT_SM) {
            assert_int_equal(smpp34_unpack(cmd, &sub, buf, len), 0);
            assert_int_equal(sub.command_length, len);
            LIB_CHECK(&sub, &v);
            destroy_tlv(sub.tlv);
        } else {
            assert_int_equal(smpp34_unpack(cmd, &del, buf, len), 0);
            assert_int_equal(del.command_length, len);
            LIB_CHECK(&del, &v);
            destroy_tlv(del.tlv);
        }
    }
}

static void test_submit_sm_packed_by_libsmpp34_decodes_equal(void **state)
{
    (void)state;
    check_lib_to_wire(SUBMIT_SM);
}

static void test_deliver_sm_packed_by_libsmpp34_decodes_equal(void **state)
{
    (void)state;
    check_lib_to_wire(DELIVER_SM);
}

static void test_submit_sm_encoded_unpacks_equal_in_libsmpp34(void **state)
{
    (void)state;
    check_wire_to_lib(SUBMIT_SM);
}

static void test_deliver_sm_encoded_unpacks_equal_in_libsmpp34(void **state)
{
    (void)state;
    check_wire_to_lib(DELIVER_SM);
}

static void test_responses_agree_with_libsmpp34_both_ways(void **state)
{
    uint8_t a[128], b[128];
    submit_sm_resp_t sr;
    deliver_sm_resp_t dr;
    char id[65];
    const char *msgid, *why;
    int la, lb, k;

    (void)state;
    for (k = 0; k < ROUNDS; k++) {
        rnd_str(id, sizeof id);
        /* submit_sm_resp OK: the same octets, and each decodes the other's */
        memset(&sr, 0, sizeof sr);
        sr.command_id = SUBMIT_SM_RESP;
        sr.sequence_number = 1 + rnd() % 0x7FFFFFFF;
        strcpy((char *)sr.message_id, id);
        assert_int_equal(smpp34_pack(SUBMIT_SM_RESP, a, sizeof a, &la, &sr), 0);
        lb = smpp_wire_encode_resp(b, sizeof b, SUBMIT_SM_RESP, 0, sr.sequence_number, id);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, (size_t)la);
        assert_int_equal(smpp_wire_decode_resp(a, (size_t)la, &msgid, &why), 0);
        assert_string_equal(msgid, id);
        memset(&sr, 0, sizeof sr);
        assert_int_equal(smpp34_unpack(SUBMIT_SM_RESP, &sr, b, lb), 0);
        assert_string_equal((const char *)sr.message_id, id);
    }
    /* an error has no body in either */
    memset(&sr, 0, sizeof sr);
    sr.command_id = SUBMIT_SM_RESP;
    sr.command_status = ESME_RTHROTTLED;
    sr.sequence_number = 7;
    assert_int_equal(smpp34_pack(SUBMIT_SM_RESP, a, sizeof a, &la, &sr), 0);
    lb = smpp_wire_encode_resp(b, sizeof b, SUBMIT_SM_RESP, ESME_RTHROTTLED, 7, NULL);
    assert_int_equal(lb, 16);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, 16);
    assert_int_equal(smpp_wire_decode_resp(a, 16, &msgid, &why), 0);
    assert_string_equal(msgid, "");
    /* deliver_sm_resp: an empty message_id */
    memset(&dr, 0, sizeof dr);
    dr.command_id = DELIVER_SM_RESP;
    dr.sequence_number = 9;
    assert_int_equal(smpp34_pack(DELIVER_SM_RESP, a, sizeof a, &la, &dr), 0);
    lb = smpp_wire_encode_resp(b, sizeof b, DELIVER_SM_RESP, 0, 9, "");
    assert_int_equal(la, 17);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, 17);
    assert_int_equal(smpp34_unpack(DELIVER_SM_RESP, &dr, b, lb), 0);
}

static void test_header_only_pdus_agree_with_libsmpp34(void **state)
{
    static const uint32_t cmds[] = { ENQUIRE_LINK, ENQUIRE_LINK_RESP, GENERIC_NACK };
    uint8_t a[32], b[32];
    generic_nack_t g;
    smpp_hdr_t h;
    const char *why;
    int la, lb;
    size_t k;

    (void)state;
    for (k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        memset(&g, 0, sizeof g);
        g.command_id = cmds[k];
        g.command_status = cmds[k] == GENERIC_NACK ? ESME_RINVCMDID : 0;
        g.sequence_number = 0x7FFFFFFF;
        assert_int_equal(smpp34_pack(cmds[k], a, sizeof a, &la, &g), 0);
        lb = smpp_wire_encode_header(b, sizeof b, cmds[k], g.command_status, 0x7FFFFFFF);
        assert_int_equal(lb, 16);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, 16);
        assert_int_equal(smpp_wire_header(a, 16, &h, &why), 0);
        assert_int_equal(h.cmd_id, cmds[k]);
        assert_int_equal(h.status, g.command_status);
        assert_int_equal(h.seq, 0x7FFFFFFF);
    }
    /* the generic_nack for an unreadable header carries sequence 0 */
    assert_int_equal(smpp_wire_encode_header(b, sizeof b, GENERIC_NACK, ESME_RINVCMDLEN, 0), 16);
    assert_int_equal(smpp_get32(b + 12), 0);
}

/* --- malformed input ------------------------------------------------------- */

/* A valid submit_sm (no TLVs) into buf; its length. */
static size_t good_submit(uint8_t *buf, size_t cap, const char *src, const char *dst)
{
    const uint8_t sm[] = "hello";
    smpp_sm_fields_t f = { .src = src, .dst = dst, .src_ton = 1, .src_npi = 1,
                           .dst_ton = 1, .dst_npi = 1, .sm = sm, .sm_len = 5,
                           .message_state = -1, .sar_ref = -1, .sar_total = -1,
                           .sar_seq = -1 };
    int len = smpp_wire_encode_sm(buf, cap, SUBMIT_SM, 1, &f);

    assert_true(len > 16);
    return (size_t)len;
}

/* Decoding pdu[0..len) (command_length set to len) is refused. */
static void refused(const uint8_t *pdu, size_t len)
{
    uint8_t *c = exact(pdu, len);
    smpp_sm_fields_t f;
    const char *why = NULL;

    if (len >= 4)
        smpp_put32(c, (uint32_t)len);
    assert_int_equal(smpp_wire_decode_sm(c, len, &f, &why), GW_EINVAL);
    assert_non_null(why);
    free(c);
}

static void test_truncated_pdus_are_refused_at_every_length(void **state)
{
    uint8_t buf[512];
    size_t len = good_submit(buf, sizeof buf, "4915112345", "4915198765"), n;
    smpp_hdr_t h;
    const char *why;

    (void)state;
    for (n = 0; n < len; n++)
        refused(buf, n);
    for (n = 0; n < 16; n++)
        assert_int_equal(smpp_wire_header(buf, n, &h, &why), GW_EINVAL);
}

static void test_command_length_that_lies_is_refused(void **state)
{
    uint8_t buf[512];
    size_t len = good_submit(buf, sizeof buf, "1", "2");
    smpp_sm_fields_t f;
    const char *why, *msgid;

    (void)state;
    smpp_put32(buf, (uint32_t)len + 1);
    assert_int_equal(smpp_wire_decode_sm(buf, len, &f, &why), GW_EINVAL);
    smpp_put32(buf, (uint32_t)len - 1);
    assert_int_equal(smpp_wire_decode_sm(buf, len, &f, &why), GW_EINVAL);
    smpp_wire_encode_resp(buf, sizeof buf, SUBMIT_SM_RESP, 0, 1, "abc");
    smpp_put32(buf, 30);
    assert_int_equal(smpp_wire_decode_resp(buf, 20, &msgid, &why), GW_EINVAL);
}

static void test_c_octet_strings_without_nul_or_too_long_are_refused(void **state)
{
    uint8_t buf[512], *p;
    size_t len, at;

    (void)state;
    /* the PDU ends inside source_addr: no NUL */
    len = good_submit(buf, sizeof buf, "4915112345", "2");
    refused(buf, 16 + 1 + 2 + 5);
    /* service_type of 6 characters (7 octets with the NUL) */
    memcpy(buf + 16, "ABCDEF", 6);
    refused(buf, len); /* its NUL is missing within 6, the rest misparses too */
    /* source_addr of 21 characters, destination of 21 */
    {
        char src[32], pdu[600];
        memset(src, '1', 21);
        src[21] = '\0';
        len = 0;
        memset(pdu, 0, sizeof pdu);
        p = (uint8_t *)pdu + 16;
        *p++ = 0;                  /* service_type "" */
        *p++ = 1, *p++ = 1;        /* ton, npi */
        memcpy(p, src, 22), p += 22;
        *p++ = 1, *p++ = 1;
        memcpy(p, "2", 2), p += 2;
        p += 3 + 1 + 1 + 5;        /* esm .. prio, times "", reg .. sm_length 0 */
        len = (size_t)(p - (uint8_t *)pdu);
        smpp_put32((uint8_t *)pdu + 4, SUBMIT_SM);
        smpp_put32((uint8_t *)pdu + 12, 1);
        refused((uint8_t *)pdu, len);
        /* with 20 characters the same PDU is fine */
        memmove(pdu + 16 + 3 + 20, pdu + 16 + 3 + 21, len - (16 + 3 + 21));
        smpp_put32((uint8_t *)pdu, (uint32_t)len - 1);
        {
            smpp_sm_fields_t f;
            const char *why;
            assert_int_equal(smpp_wire_decode_sm((uint8_t *)pdu, len - 1, &f, &why), 0);
            assert_int_equal(strlen(f.src), 20);
        }
    }
    /* a deliver_sm with a validity period (SMPP 3.4: empty) */
    len = good_submit(buf, sizeof buf, "1", "2");
    at = 16 + 1 + 2 + 2 + 2 + 2 + 3 + 1; /* the validity_period's NUL */
    assert_int_equal(buf[at], 0);
    smpp_put32(buf + 4, DELIVER_SM);
    {
        uint8_t d[512];
        memcpy(d, buf, at);
        d[at] = '1';
        d[at + 1] = 0;
        memcpy(d + at + 2, buf + at + 1, len - at - 1);
        refused(d, len + 1);
    }
}

/* buf holds good_submit's PDU of len octets: sm_length is 5 at len - 6. */
static void test_sm_length_past_the_end_or_254_is_refused(void **state)
{
    uint8_t buf[512];
    size_t len = good_submit(buf, sizeof buf, "1", "2");

    (void)state;
    assert_int_equal(buf[len - 6], 5);
    buf[len - 6] = 6;
    refused(buf, len);
    buf[len - 6] = 255;
    refused(buf, len);
}

/* good_submit's PDU followed by the TLVs in tlv[0..n). */
static void with_tlvs(const uint8_t *tlv, size_t n, int ok)
{
    uint8_t buf[1024];
    size_t len = good_submit(buf, sizeof buf, "1", "2");
    smpp_sm_fields_t f;
    const char *why;
    uint8_t *c;

    memcpy(buf + len, tlv, n);
    len += n;
    smpp_put32(buf, (uint32_t)len);
    c = exact(buf, len);
    assert_int_equal(smpp_wire_decode_sm(c, len, &f, &why), ok ? 0 : GW_EINVAL);
    free(c);
}

static void test_tlvs_past_the_end_or_of_wrong_size_are_refused(void **state)
{
    const uint8_t past[] = { 0x04, 0x24, 0x00, 0x0A, 'a', 'b', 'c', 'd', 'e' };
    const uint8_t half[] = { 0x04, 0x27, 0x00 };
    const uint8_t state2[] = { 0x04, 0x27, 0x00, 0x02, 0x01, 0x02 };
    const uint8_t ref1[] = { 0x02, 0x0C, 0x00, 0x01, 0x01 };
    const uint8_t rcpt_nonul[] = { 0x00, 0x1E, 0x00, 0x03, 'a', 'b', 'c' };
    const uint8_t fine[] = { 0x04, 0x27, 0x00, 0x01, 0x02, 0x14, 0x01, 0x00, 0x00,
                             0x00, 0x1E, 0x00, 0x04, 'a', 'b', 'c', 0 };

    (void)state;
    with_tlvs(past, sizeof past, 0);
    with_tlvs(half, sizeof half, 0);
    with_tlvs(state2, sizeof state2, 0);
    with_tlvs(ref1, sizeof ref1, 0);
    with_tlvs(rcpt_nonul, sizeof rcpt_nonul, 0);
    with_tlvs(fine, sizeof fine, 1); /* and an unknown empty one skipped */
}

static void test_more_than_the_tlv_bound_is_refused(void **state)
{
    uint8_t tlv[4 * (SMPP_WIRE_MAX_TLVS + 1)];
    size_t k;

    (void)state;
    for (k = 0; k <= SMPP_WIRE_MAX_TLVS; k++) {
        tlv[4 * k] = 0x14; /* a vendor tag, empty */
        tlv[4 * k + 1] = (uint8_t)k;
        tlv[4 * k + 2] = tlv[4 * k + 3] = 0;
    }
    with_tlvs(tlv, 4 * SMPP_WIRE_MAX_TLVS, 1);
    with_tlvs(tlv, sizeof tlv, 0);
}

static void test_reserved_ton_npi_and_sequence_zero_are_refused(void **state)
{
    uint8_t buf[512];
    size_t len = good_submit(buf, sizeof buf, "1", "2");

    (void)state;
    buf[17] = 7; /* source TON */
    refused(buf, len);
    buf[17] = 1;
    buf[18] = 2; /* source NPI 2 is reserved */
    refused(buf, len);
    buf[18] = 1;
    smpp_put32(buf + 12, 0);
    refused(buf, len);
    smpp_put32(buf + 12, 1);
    smpp_put32(buf + 4, SUBMIT_SM_RESP); /* not a submit_sm at all */
    refused(buf, len);
}

static void test_resp_message_id_without_nul_is_refused(void **state)
{
    uint8_t buf[128];
    const char *msgid, *why;

    (void)state;
    smpp_wire_encode_header(buf, sizeof buf, SUBMIT_SM_RESP, 0, 1);
    memset(buf + 16, 'x', 65);
    smpp_put32(buf, 16 + 65);
    assert_int_equal(smpp_wire_decode_resp(buf, 16 + 65, &msgid, &why), GW_EINVAL);
    assert_string_equal(msgid, "");
    buf[16 + 64] = 0; /* 64 characters and the NUL: fine */
    assert_int_equal(smpp_wire_decode_resp(buf, 16 + 65, &msgid, &why), 0);
    assert_int_equal(strlen(msgid), 64);
}

/* --- the encoder's limits ---------------------------------------------------- */

static void test_encoder_refuses_what_does_not_fit(void **state)
{
    uint8_t buf[600], sm[255] = { 0 };
    char longaddr[22];
    smpp_sm_fields_t f = { .src = "1", .dst = "2", .sm = sm, .sm_len = 10,
                           .message_state = -1, .sar_ref = -1, .sar_total = -1,
                           .sar_seq = -1 };
    int len, cap;

    (void)state;
    len = smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f);
    assert_true(len > 0);
    for (cap = 0; cap < len; cap++) {
        memset(buf, 0xA5, sizeof buf);
        assert_int_equal(smpp_wire_encode_sm(buf, (size_t)cap, SUBMIT_SM, 1, &f), GW_EINVAL);
        assert_int_equal(buf[cap], 0xA5); /* nothing written past cap */
    }
    f.sm_len = 255;
    assert_int_equal(smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f), GW_EINVAL);
    f.sm_len = 254;
    assert_true(smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f) > 0);
    memset(longaddr, '9', 21);
    longaddr[21] = '\0';
    f.dst = longaddr;
    assert_int_equal(smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f), GW_EINVAL);
    f.dst = "2";
    f.src_ton = 7;
    assert_int_equal(smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f), GW_EINVAL);
    f.src_ton = 1;
    f.message_state = 256;
    assert_int_equal(smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f), GW_EINVAL);
    f.message_state = -1;
    f.validity_period = "000001000000000R";
    assert_true(smpp_wire_encode_sm(buf, sizeof buf, SUBMIT_SM, 1, &f) > 0);
    assert_int_equal(smpp_wire_encode_sm(buf, sizeof buf, DELIVER_SM, 1, &f), GW_EINVAL);
    assert_int_equal(smpp_wire_encode_sm(buf, sizeof buf, ENQUIRE_LINK, 1, &f), GW_EINVAL);
    assert_int_equal(smpp_wire_encode_resp(buf, 16, SUBMIT_SM_RESP, 0, 1, "a"), GW_EINVAL);
    assert_int_equal(smpp_wire_encode_header(buf, 15, ENQUIRE_LINK, 0, 1), GW_EINVAL);
}

/* A deliver_sm whose text is in message_payload becomes the envelope body. */
static void test_message_payload_fills_the_envelope(void **state)
{
    uint8_t buf[512];
    const uint8_t text[] = "hello from the payload";
    smpp_sm_fields_t f = { .src = "4915112345", .dst = "4915198765", .src_ton = 1,
                           .src_npi = 1, .dst_ton = 1, .dst_npi = 1, .payload = text,
                           .payload_len = sizeof text - 1, .message_state = -1,
                           .sar_ref = -1, .sar_total = -1, .sar_seq = -1 };
    smpp_sm_fields_t g;
    gw_envelope_t *env = gw_env_new();
    const char *why;
    int len = smpp_wire_encode_sm(buf, sizeof buf, DELIVER_SM, 5, &f);

    (void)state;
    assert_non_null(env);
    assert_int_equal(smpp_wire_decode_sm(buf, (size_t)len, &g, &why), 0);
    assert_int_equal(smpp_env_fill(env, &g), 0);
    assert_string_equal(env->body, "hello from the payload");
    gw_env_unref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_sm_packed_by_libsmpp34_decodes_equal),
        cmocka_unit_test(test_deliver_sm_packed_by_libsmpp34_decodes_equal),
        cmocka_unit_test(test_submit_sm_encoded_unpacks_equal_in_libsmpp34),
        cmocka_unit_test(test_deliver_sm_encoded_unpacks_equal_in_libsmpp34),
        cmocka_unit_test(test_responses_agree_with_libsmpp34_both_ways),
        cmocka_unit_test(test_header_only_pdus_agree_with_libsmpp34),
        cmocka_unit_test(test_truncated_pdus_are_refused_at_every_length),
        cmocka_unit_test(test_command_length_that_lies_is_refused),
        cmocka_unit_test(test_c_octet_strings_without_nul_or_too_long_are_refused),
        cmocka_unit_test(test_sm_length_past_the_end_or_254_is_refused),
        cmocka_unit_test(test_tlvs_past_the_end_or_of_wrong_size_are_refused),
        cmocka_unit_test(test_more_than_the_tlv_bound_is_refused),
        cmocka_unit_test(test_reserved_ton_npi_and_sequence_zero_are_refused),
        cmocka_unit_test(test_resp_message_id_without_nul_is_refused),
        cmocka_unit_test(test_encoder_refuses_what_does_not_fit),
        cmocka_unit_test(test_message_payload_fills_the_envelope),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
