/*
 * fuzz_smpp.c - libFuzzer target for what the SMPP adapter does with bytes
 * from the network: decoding PDUs with smpp_wire (submit_sm / deliver_sm
 * bodies and TLVs, submit_sm_resp / deliver_sm_resp), turning a decoded
 * submit_sm / deliver_sm into an envelope (smpp_env_fill: addresses, UDH,
 * message_payload, text decoding), a submit_multi's destinations and the
 * submit_sm each stands for (smpp_multi_parse / smpp_multi_build), a
 * data_sm as the submit_sm it carries (smpp_data_sm_as), cancel_sm and
 * replace_sm bodies (smpp_cancel_parse / smpp_replace_parse), and the text
 * codecs and splitter.
 *
 * What the decoder accepts is encoded again with smpp_wire_encode_sm and
 * decoded once more: the fields we use must come back equal (a decoder
 * and an encoder that disagree abort).
 *
 * Found so far: libsmpp34 leaks a TLV node on a malformed TLV (the reason,
 * with its per-field snprintf, it left the message path for smpp_wire).
 *
 * The input is one framed PDU; as the session's framer guarantees, its
 * command_length is made to equal the input size (16 .. SMPP_MAX_PDU).
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_smpp -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/smpp/smpp.h"
#include "gw_log.h"

static void fuzz_smpp_text(const uint8_t *data, size_t size)
{
    static const int codings[] = { SMPP_DC_GSM, SMPP_DC_IA5, SMPP_DC_LATIN1, SMPP_DC_UCS2 };
    size_t offs[SMPP_MAX_PARTS + 1], n, k;
    smpp_text_t t;
    char *s;

    for (k = 0; k < sizeof(codings) / sizeof(codings[0]); k++) {
        s = smpp_text_decode(codings[k], data, size, &n);
        free(s);
    }
    /* the first octet as a data_coding (the 3GPP TS 23.038 groups): text
     * exactly when smpp_text_is_binary says so */
    if (size > 0) {
        s = smpp_text_decode(data[0], data + 1, size - 1, &n);
        if ((s == NULL) != smpp_text_is_binary(data[0]))
            abort();
        free(s);
    }
    if (smpp_text_encode((const char *)data, size, &t) == 0) {
        smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1);
        smpp_text_free(&t);
    }
}

static void fuzz_smpp_env(const smpp_sm_fields_t *f)
{
    gw_envelope_t *env = gw_env_new();

    if (env == NULL)
        return;
    smpp_env_fill(env, f);
    gw_env_unref(env);
}

static int fuzz_smpp_streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Encode f again, decode that, compare what the adapter uses. */
static void fuzz_smpp_roundtrip(uint32_t cmd, const smpp_sm_fields_t *f)
{
    static uint8_t buf[SMPP_MAX_PDU + 512];
    smpp_sm_fields_t g;
    const char *why;
    int len = smpp_wire_encode_sm(buf, sizeof(buf), cmd, 1, f);

    if (len < 0)
        return; /* a payload too big for one more PDU */
    if (smpp_wire_decode_sm(buf, (size_t)len, &g, &why) < 0)
        abort();
    if (!fuzz_smpp_streq(f->service_type, g.service_type) || !fuzz_smpp_streq(f->src, g.src) ||
        !fuzz_smpp_streq(f->dst, g.dst) || f->src_ton != g.src_ton || f->dst_npi != g.dst_npi ||
        f->esm_class != g.esm_class || f->data_coding != g.data_coding ||
        f->registered_delivery != g.registered_delivery || f->sm_len != g.sm_len ||
        memcmp(f->sm, g.sm, f->sm_len) != 0 || (f->payload == NULL) != (g.payload == NULL) ||
        f->payload_len != g.payload_len ||
        (f->payload && memcmp(f->payload, g.payload, f->payload_len) != 0) ||
        !fuzz_smpp_streq(f->receipted_id, g.receipted_id) ||
        (f->network_error == NULL) != (g.network_error == NULL) ||
        (f->network_error && memcmp(f->network_error, g.network_error, 3) != 0) ||
        f->message_state != g.message_state || f->sar_ref != g.sar_ref ||
        f->sar_total != g.sar_total || f->sar_seq != g.sar_seq)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* The same bytes as a data_sm: the submit_sm it carries, decoded. */
static void fuzz_smpp_data(const uint8_t *pdu, size_t size)
{
    static uint8_t sm[SMPP_MAX_PDU + 256];
    smpp_sm_fields_t f;
    const char *why;
    int len = smpp_data_sm_as(pdu, size, SMPP_WIRE_SUBMIT_SM, sm, sizeof sm);

    if (len < 0)
        return;
    if ((size_t)len > size + 64)
        abort(); /* it adds the fixed fields of submit_sm, nothing else */
    if (smpp_wire_decode_sm(sm, (size_t)len, &f, &why) == 0)
        fuzz_smpp_env(&f);
}

/* The same bytes as a submit_multi body: its destinations parsed, and the
 * submit_sm each stands for built and decoded (what smpp_multi.c does). */
static void fuzz_smpp_multi(const uint8_t *pdu, size_t size)
{
    static smpp_multi_dest_t d[SMPP_MULTI_MAX];
    static uint8_t one[SMPP_MAX_PDU];
    size_t head_end, tail_at;
    smpp_sm_fields_t f;
    const char *why;
    int n, len;

    if (smpp_multi_parse(pdu, size, d, &n, &head_end, &tail_at) != 0)
        return;
    if (n < 1 || n > SMPP_MULTI_MAX || head_end < 16 || tail_at > size || tail_at < head_end)
        abort();
    for (int i = 0; i < n; i++) {
        if (strlen(d[i].addr) >= sizeof d[i].addr)
            abort();
        len = smpp_multi_build(pdu, size, head_end, tail_at, &d[i], one, sizeof one);
        if (len > 0 && smpp_wire_decode_sm(one, (size_t)len, &f, &why) == 0)
            fuzz_smpp_env(&f);
    }
}

/* The same bytes as a cancel_sm and a replace_sm body (smpp_cancel.c):
 * every string NUL-terminated within its field, a short_message no longer
 * than its maximum. */
static void fuzz_smpp_cancel(const uint8_t *pdu, size_t size)
{
    smpp_cancel_req_t c;
    smpp_replace_req_t r;

    if (smpp_cancel_parse(pdu, size, &c) == 0 &&
        (strlen(c.message_id) >= sizeof c.message_id || strlen(c.src) >= sizeof c.src ||
         strlen(c.dst) >= sizeof c.dst || strlen(c.service_type) >= sizeof c.service_type))
        abort();
    if (smpp_replace_parse(pdu, size, &r) == 0 &&
        (strlen(r.message_id) >= sizeof r.message_id || r.sm_length > SMPP_WIRE_SM_MAX ||
         strlen(r.schedule) >= sizeof r.schedule || strlen(r.validity) >= sizeof r.validity))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Malformed input is the norm here: keep the warnings off stderr. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gw_log_set_level(GW_LOG_ERR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t cmds[] = { SMPP_WIRE_SUBMIT_SM, SMPP_WIRE_DELIVER_SM,
                                     SMPP_WIRE_SUBMIT_SM_RESP, SMPP_WIRE_DELIVER_SM_RESP };
    smpp_sm_fields_t f;
    smpp_hdr_t h;
    const char *why, *msgid;
    uint8_t *pdu;
    uint32_t cmd;

    fuzz_smpp_text(data, size);
    if (size < 16 || size > SMPP_MAX_PDU)
        return 0;
    /* an exact-size copy, so that ASan sees any read past the PDU */
    pdu = malloc(size);
    if (pdu == NULL)
        return 0;
    memcpy(pdu, data, size);
    smpp_put32(pdu, (uint32_t)size);
    /* the command id picks the body; the adapter decodes only these */
    cmd = cmds[data[7] % (sizeof(cmds) / sizeof(cmds[0]))];
    smpp_put32(pdu + 4, cmd);
    if (smpp_wire_header(pdu, size, &h, &why) < 0)
        abort(); /* framed by its own length: always a header */
    if (cmd == SMPP_WIRE_SUBMIT_SM || cmd == SMPP_WIRE_DELIVER_SM) {
        if (smpp_wire_decode_sm(pdu, size, &f, &why) == 0) {
            fuzz_smpp_env(&f);
            fuzz_smpp_roundtrip(cmd, &f);
        }
    } else if (smpp_wire_decode_resp(pdu, size, &msgid, &why) == 0 &&
               strlen(msgid) >= SMPP_WIRE_MSGID_MAX) {
        abort();
    }
    fuzz_smpp_multi(pdu, size);
    fuzz_smpp_data(pdu, size);
    fuzz_smpp_cancel(pdu, size);
    free(pdu);
    return 0;
}
