/*
 * fuzz_smpp_parts.c - libFuzzer target for long messages both ways: an
 * envelope (body from the input, a "concat" tag from its first octets, a
 * long-message mode) is cut into parts by smpp_out (encode, split, UDH /
 * SAR / payload), each part is encoded as a deliver_sm with smpp_wire,
 * decoded again and turned back into an envelope (smpp_env_fill), and its
 * concatenation is read back as the reassembly does (gw_frag_part_of).
 *
 * Properties (a failure aborts): every part encodes and decodes; a part's
 * concatenation comes back as the reference, total and number it was sent
 * with; text parts joined in order give the body back; the reassembly key
 * of every part of one message is the same.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_smpp_parts -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/smpp/smpp.h"
#include "gw_frag.h"
#include "gw_log.h"

#define FUZZ_BODY_MAX 2048

static gw_envelope_t *fuzz_env(const uint8_t *data, size_t size, int binary)
{
    gw_envelope_t *e = gw_env_new();

    if (e == NULL)
        abort();
    if (gw_addr_normalise(&e->from, "4930111", 1, 1) != 0 ||
        gw_addr_normalise(&e->to, "447700900001", 1, 1) != 0 ||
        gw_env_set_str(&e->body, (const char *)data, size) != 0 ||
        gw_env_set_str(&e->source.connector, "op", (size_t)-1) != 0)
        abort();
    e->body_len = size;
    e->binary = binary;
    e->data_coding = binary ? SMPP_DC_BINARY : -1;
    return e;
}

/* The envelope smpp_env_fill makes of part f as a deliver_sm. */
static gw_envelope_t *fuzz_round_trip(const smpp_sm_fields_t *f)
{
    uint8_t pdu[SMPP_MAX_PDU];
    smpp_sm_fields_t back;
    gw_envelope_t *e;
    const char *why;
    int len = smpp_wire_encode_sm(pdu, sizeof pdu, SMPP_WIRE_DELIVER_SM, 7, f);

    if (len < 0 || smpp_wire_decode_sm(pdu, (size_t)len, &back, &why) != 0)
        abort(); /* what smpp_out builds must encode and decode */
    e = gw_env_new();
    if (e == NULL || gw_env_set_str(&e->source.connector, "op", (size_t)-1) != 0)
        abort();
    if (smpp_env_fill(e, &back) != 0) {
        gw_env_unref(e);
        return NULL; /* e.g. a binary part whose bytes say nothing */
    }
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smpp_out_t o;
    gw_envelope_t *e, *part;
    char joined[FUZZ_BODY_MAX * 4 + 64], key0[GW_FRAG_KEY_MAX] = "", key[GW_FRAG_KEY_MAX];
    size_t jlen = 0;
    int mode, binary, seq, total, kept;

    if (size < 4)
        return 0;
    gw_log_set_level(GW_LOG_ERR);
    mode = data[0] % 4;
    binary = data[1] & 1;
    kept = (data[1] & 2) != 0;
    e = fuzz_env(data + 4, size - 4 > FUZZ_BODY_MAX ? FUZZ_BODY_MAX : size - 4, binary);
    if (kept) { /* one part of its sender's own long message */
        char tag[32];
        snprintf(tag, sizeof tag, "%u/%u/%u", data[2], (unsigned)(data[3] % 8), data[2] % 5);
        gw_env_set_tag(e, "concat", tag);
    }
    if (smpp_out_prepare(&o, e, (smpp_long_t)mode) != 0) {
        smpp_out_free(&o);
        gw_env_unref(e);
        return 0;
    }
    for (size_t i = 0; i < o.nparts; i++) {
        smpp_out_bufs_t b;
        smpp_sm_fields_t f;
        if (smpp_out_part(&o, i, e, NULL, &b, &f) != 0)
            abort();
        if ((part = fuzz_round_trip(&f)) == NULL)
            continue;
        if (gw_frag_part_of(part, key, sizeof key, &seq, &total)) {
            unsigned want_total = o.total ? o.total : (unsigned)o.nparts;
            unsigned want_seq = o.total ? o.seq : (unsigned)i + 1;
            if ((unsigned)seq != want_seq || (unsigned)total != want_total)
                abort(); /* the concatenation sent is the one read */
            if (key0[0] == '\0')
                memcpy(key0, key, sizeof key0);
            else if (strcmp(key0, key) != 0)
                abort(); /* one message, one reassembly key */
        } else if (o.nparts > 1 && mode != SMPP_LONG_PAYLOAD) {
            abort(); /* a part of several lost its concatenation */
        }
        if (!binary && !part->binary && jlen + part->body_len < sizeof joined) {
            memcpy(joined + jlen, part->body, part->body_len);
            jlen += part->body_len;
        }
        gw_env_unref(part);
    }
    /* text that was valid UTF-8 of the GSM or UCS-2 repertoire comes back whole */
    if (!binary && jlen > 0 && e->body_len > 0 && smpp_gsm_fits(e->body, e->body_len) &&
        (jlen != e->body_len || memcmp(joined, e->body, jlen) != 0))
        abort();
    smpp_out_free(&o);
    gw_env_unref(e);
    return 0;
}
