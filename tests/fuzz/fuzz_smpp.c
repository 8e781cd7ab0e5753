/*
 * fuzz_smpp.c - libFuzzer target for what the SMPP adapter does with bytes
 * from the network: unpacking PDU bodies with libsmpp34, turning a
 * submit_sm / deliver_sm into an envelope (smpp_env_fill: addresses, UDH,
 * message_payload, text decoding), and the text codecs and splitter.
 *
 * Found so far: libsmpp34 leaks a TLV node on a malformed TLV (worked
 * around in smpp_unpack).
 *
 * The input is one framed PDU; as the session's framer guarantees, its
 * command_length is made to equal the input size (16 .. SMPP_MAX_PDU).
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_smpp -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "adapters/smpp/smpp.h"
#include "gw_log.h"

typedef union {
    submit_sm_t submit;
    deliver_sm_t deliver;
    submit_sm_resp_t submit_resp;
} fuzz_smpp_pdu_u;

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
    if (smpp_text_encode((const char *)data, size, &t) == 0) {
        smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1);
        smpp_text_free(&t);
    }
}

static void fuzz_smpp_env(uint32_t cmd, fuzz_smpp_pdu_u *u)
{
    smpp_sm_fields_t f;
    gw_envelope_t *env = gw_env_new();

    if (env == NULL)
        return;
    if (cmd == SUBMIT_SM)
        f = (smpp_sm_fields_t){ u->submit.source_addr_ton, u->submit.source_addr_npi,
                                u->submit.dest_addr_ton, u->submit.dest_addr_npi,
                                (const char *)u->submit.source_addr,
                                (const char *)u->submit.destination_addr, u->submit.esm_class,
                                u->submit.data_coding, u->submit.registered_delivery,
                                u->submit.short_message, u->submit.sm_length, u->submit.tlv };
    else
        f = (smpp_sm_fields_t){ u->deliver.source_addr_ton, u->deliver.source_addr_npi,
                                u->deliver.dest_addr_ton, u->deliver.dest_addr_npi,
                                (const char *)u->deliver.source_addr,
                                (const char *)u->deliver.destination_addr, u->deliver.esm_class,
                                u->deliver.data_coding, u->deliver.registered_delivery,
                                u->deliver.short_message, u->deliver.sm_length, u->deliver.tlv };
    smpp_env_fill(env, &f);
    gw_env_unref(env);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
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
    static const uint32_t cmds[] = { SUBMIT_SM, DELIVER_SM, SUBMIT_SM_RESP };
    fuzz_smpp_pdu_u u;
    uint8_t *pdu;
    uint32_t cmd;

    fuzz_smpp_text(data, size);
    if (size < 16 || size > SMPP_MAX_PDU)
        return 0;
    pdu = malloc(size);
    if (pdu == NULL)
        return 0;
    memcpy(pdu, data, size);
    pdu[0] = (uint8_t)(size >> 24);
    pdu[1] = (uint8_t)(size >> 16);
    pdu[2] = (uint8_t)(size >> 8);
    pdu[3] = (uint8_t)size;
    /* the command id picks the body; the adapter unpacks only these */
    cmd = cmds[data[7] % (sizeof(cmds) / sizeof(cmds[0]))];
    pdu[4] = (uint8_t)(cmd >> 24);
    pdu[5] = (uint8_t)(cmd >> 16);
    pdu[6] = (uint8_t)(cmd >> 8);
    pdu[7] = (uint8_t)cmd;
    if (smpp_unpack("fuzz", cmd, &u, sizeof(u), pdu, size) == 0) {
        if (cmd == SUBMIT_SM || cmd == DELIVER_SM)
            fuzz_smpp_env(cmd, &u);
        if (cmd == SUBMIT_SM)
            smpp_tlv_free(u.submit.tlv);
        else if (cmd == DELIVER_SM)
            smpp_tlv_free(u.deliver.tlv);
    }
    free(pdu);
    return 0;
}
