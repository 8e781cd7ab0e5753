/*
 * fuzz_sip_sms.c - libFuzzer target for the SMS details a peer's MESSAGE
 * carries (adapters/sip/sip_sms.c): the CPIM body parser with its IMDN
 * headers, and the X-SMS-* header values - read once as a whole request
 * (the input is a MESSAGE) and once as a bare CPIM body.  Whatever was
 * accepted is then written back out as a report and as headers
 * (sip_report.c), since the IMDN id and the text go back to peers.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_sip_sms tests/fuzz/corpus/fuzz_sip_sms
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sip/sip.h"

/* What an accepted request would become going out again. */
static void fuzz_sip_sms_out(const sip_sms_t *s)
{
    gw_envelope_t *r = gw_env_new();
    gw_jbuf_t b = {0};
    const char *ct = NULL;

    if (r == NULL)
        return;
    gw_env_set_str(&r->report.of, "01FUZZ", (size_t)-1);
    gw_env_set_str(&r->report.stat, s->dn & SIP_DN_POSITIVE ? "DELIVRD" : "UNDELIV", (size_t)-1);
    gw_env_set_str(&r->body, s->text, s->text_len);
    if (s->imdn) {
        gw_env_set_tag(r, SIP_TAG_REPORT, "imdn");
        gw_env_set_tag(r, SIP_TAG_IMDN_ID, s->imdn_id);
    }
    sip_report_body(r, "sip:a@b", "sip:c@d", &b, &ct);
    sip_report_headers(r, &b);
    gw_jbuf_free(&b);
    gw_env_unref(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    const char *reason = NULL;
    osip_message_t *m = NULL;
    sip_sms_t s;
    char *buf;

    if (!ready) {
        sip_osip_init();
        ready = 1;
    }
    if (size > 65535)
        return 0;
    buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    memset(&s, 0, sizeof s);
    s.coding = s.validity_s = s.rd = -1;
    if (sip_cpim_parse(buf, size, &s, &reason) == 0)
        fuzz_sip_sms_out(&s);
    if (osip_message_init(&m) == 0 && osip_message_parse(m, buf, size) == 0 &&
        MSG_IS_REQUEST(m) && sip_check_request(m, &reason) == 0 &&
        sip_sms_read(m, &s, &reason) == 0)
        fuzz_sip_sms_out(&s);
    osip_message_free(m);
    free(buf);
    return 0;
}
