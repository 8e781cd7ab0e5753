/*
 * smpp_out.c - an envelope as the short_message parts of submit_sm (client
 * connectors) or deliver_sm (customers): text encoded once, split into
 * parts that each carry a UDH with an 8-bit concatenation reference, and
 * each part's fields for smpp_wire.
 *
 * The reference is a hash of the envelope id, not a counter: a message
 * sent again (a retry, a rebind, a restart) carries the same reference,
 * so a handset that got some parts the first time joins the rest instead
 * of showing a second, broken copy.
 *
 * A delivery report (env->report.of set) becomes the SMPP 3.4 receipt:
 * esm_class 0x04, the receipt text as short_message, the TLVs
 * receipted_message_id and message_state.
 *
 * Threads: pure, any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "smpp.h"

/* SMPP 3.4 5.2.28 message_state of an appendix B "stat:" word. */
int smpp_message_state(const char *stat)
{
    static const char *const names[] = { NULL,      "ENROUTE", "DELIVRD", "EXPIRED", "DELETED",
                                          "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD" };

    for (int i = 1; stat != NULL && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(stat, names[i]) == 0)
            return i;
    return 7; /* UNKNOWN */
}

static uint8_t smpp_out_ref(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return (uint8_t)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
}

int smpp_out_prepare(smpp_out_t *o, const gw_envelope_t *env)
{
    memset(o, 0, sizeof *o);
    o->ref = smpp_out_ref(env->id);
    if (env->binary) {
        o->text.data_coding = env->data_coding >= 0 ? env->data_coding : SMPP_DC_BINARY;
        o->text.data = malloc(env->body_len + 1);
        if (o->text.data == NULL)
            return GW_ENOMEM;
        memcpy(o->text.data, env->body, env->body_len);
        o->text.len = env->body_len;
        o->nparts = env->body_len <= 140 ? 1 : 0; /* binary is never split */
        o->offs[1] = env->body_len;
    } else {
        if (smpp_text_encode(env->body ? env->body : "", env->body ? strlen(env->body) : 0,
                             &o->text) != 0)
            return GW_ENOMEM;
        o->nparts = smpp_text_split(&o->text, o->offs, SMPP_MAX_PARTS + 1);
    }
    return o->nparts > 0 ? 0 : GW_EINVAL;
}

void smpp_out_free(smpp_out_t *o)
{
    smpp_text_free(&o->text);
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
    if (o->nparts > 1) {
        const uint8_t hdr[6] = { 5, 0x00, 3, o->ref, (uint8_t)o->nparts, (uint8_t)(i + 1) };
        memcpy(b->sm, hdr, sizeof hdr);
        udh = sizeof hdr;
        f->esm_class = SMPP_ESM_UDHI;
    }
    if (udh + n > sizeof b->sm)
        return GW_EINVAL; /* the splitter keeps parts far below this */
    memcpy(b->sm + udh, o->text.data + from, n);
    f->sm_len = udh + n;
    f->data_coding = (uint8_t)o->text.data_coding;
    f->registered_delivery = (uint8_t)(env->registered_delivery & 0x1F);
    if (env->report.of != NULL) {
        f->esm_class |= SMPP_ESM_RECEIPT;
        f->registered_delivery = 0;
        f->receipted_id = env->report.of;
        f->message_state = smpp_message_state(env->report.stat);
    }
    return 0;
}
