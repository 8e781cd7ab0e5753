/*
 * fuzz_sip.c - libFuzzer target for the SIP request path of adapters/sip/:
 * the first-line sniffing, libosip2 parsing, the request and body checks,
 * transaction keys, response building (parsed and raw), address
 * classification and TCP framing - everything a peer's bytes reach before
 * an envelope exists.
 *
 *   clang -fsanitize=fuzzer,address -I. -Igateway tests/fuzz/fuzz_sip.c \
 *     adapters/sip/sip_message.c gateway/gw_envelope.c \
 *     $(pkg-config --cflags --libs libosip2 jansson libsodium)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sip/sip.h"

static void fuzz_sip_one(osip_message_t *m)
{
    const char *reason = NULL, *body = NULL;
    size_t len = 0, blen = 0;
    char key[1024];
    char *r;
    gw_addr_t a = {0};

    if (sip_check_request(m, &reason) != 0)
        return;
    sip_txn_key(m, key, sizeof(key));
    sip_check_text_body(m, &body, &blen, &reason);
    if (sip_addr_from_uri(m->req_uri, &a) == 0)
        free(a.address);
    r = sip_build_response(m, 202, "Accepted", "fuzztag", "127.0.0.1", 5060, NULL, &len);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char *buf;
    osip_message_t *m = NULL;
    size_t len = 0;

    if (!ready) {
        sip_osip_init();
        ready = 1;
    }
    if (size > 65535)
        return 0;
    buf = malloc(size + 1); /* the adapter hands NUL-terminated text */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    sip_frame_length(buf, size, 65535);
    sip_utf8_valid(buf, size);
    if (sip_looks_like_sip(buf, size) == 1) {
        free(sip_build_raw_response(buf, size, 400, "Bad Request", &len));
        {
            /* the 202's header block copied from the text (sip_resp.c) */
            gw_jbuf_t b = { 0 };
            sip_resp_headers(buf, size, "fuzztag", "127.0.0.1", 5060, &b);
            gw_jbuf_free(&b);
        }
        if (osip_message_init(&m) == 0) {
            if (osip_message_parse(m, buf, size) == 0 && MSG_IS_REQUEST(m))
                fuzz_sip_one(m);
            osip_message_free(m);
        }
    }
    free(buf);
    return 0;
}
