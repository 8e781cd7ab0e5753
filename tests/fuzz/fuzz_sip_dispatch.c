/*
 * fuzz_sip_dispatch.c - libFuzzer target for the path a received datagram
 * takes through adapters/sip/ before any state is touched: the pieces
 * sip_uas_input and sip_proxy_request call, in their order, on one input:
 *   - keep-alive or message (sip_is_keepalive), the first-line sniffing
 *     (sip_looks_like_sip) and the broken request line's 400 / 505
 *     (sip_bad_request_line), answered from the raw lines;
 *   - an oversized datagram's 413 from its head (sip_build_raw_response on
 *     a prefix, as sip_uas_oversized does);
 *   - libosip2's parse, the request checks (sip_check_request), the
 *     transaction key, our responses (parsed and from the header block);
 *   - the proxy's view (sip_view_parse), its validation and Route
 *     preprocessing (loop check, Request-URI and Route URIs read, "is
 *     this us", the strict-router rewrite), the forwarded request with
 *     every edit, where a response goes (sip_px_via_dest) and a response
 *     with our Via removed;
 *   - NAT detection (sip_nat_detect) of each Contact against a source.
 * Invariants checked (abort() is a crash for libFuzzer): a built response
 * starts with its status line and ends its header block with CRLF CRLF; a
 * keep-alive is never also a request; a forwarded request parses again
 * with one Via more.  The worker side (sockets, tables, the store) is
 * left out: it needs a running adapter; the integration test
 * tests/integration/sip_badinput.test.mjs drives that with the same
 * RFC 4475 messages as this target's seed corpus.
 * Threads: libFuzzer's one.  Ownership: the views and buffers are
 * static; every built text is freed here.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_sip_dispatch tests/fuzz/corpus/fuzz_sip_dispatch
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sip/sip.h"
#include "adapters/sip/sip_proxy.h"

#define FUZZ_DISP_CHECK(c)                                                     \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)

static sip_view_t fuzz_disp_v, fuzz_disp_v2;
static char fuzz_disp_out[SIP_PROXY_MSG_MAX + 4096];

/* A response text we built: its status line and its end. */
static void fuzz_disp_resp(char *r, size_t len)
{
    if (r == NULL)
        return;
    FUZZ_DISP_CHECK(len >= 16 && memcmp(r, "SIP/2.0 ", 8) == 0);
    FUZZ_DISP_CHECK(memcmp(r + len - 4, "\r\n\r\n", 4) == 0);
    free(r);
}

/* libosip2's side: checks, key, our answers.  Takes m. */
static void fuzz_disp_osip(osip_message_t *m, const char *buf, size_t n)
{
    const char *reason = NULL;
    char key[1024];
    size_t len = 0;
    int st = sip_check_request(m, &reason);

    if (st != 0) {
        if (osip_list_size(&m->vias) > 0 && m->sip_method)
            fuzz_disp_resp(sip_build_response(m, st, reason, "fuzztag", "127.0.0.1", 5060, NULL,
                                              &len), len);
        return;
    }
    sip_txn_key(m, key, sizeof key);
    fuzz_disp_resp(sip_build_response(m, 200, "OK", "fuzztag", "127.0.0.1", 5060,
                                      "Allow: MESSAGE, OPTIONS\r\n", &len), len);
    {
        gw_jbuf_t b = { 0 };
        sip_resp_headers(buf, n, "fuzztag", "127.0.0.1", 5060, &b);
        gw_jbuf_free(&b);
    }
}

/* The proxy's view: validation, Route preprocessing, the forward. */
static void fuzz_disp_view(const char *buf, size_t n)
{
    sip_view_t *v = &fuzz_disp_v;
    sip_view_addr_t a;
    sip_px_uri_t u;
    sip_sa_t dst;
    char uri[300];
    long len;

    if (sip_view_parse(v, buf, n, 0) != 0)
        return;
    if (!v->is_request) {
        sip_px_via_dest(v, 1, &dst);
        sip_px_resp_strip(v, fuzz_disp_out, sizeof fuzz_disp_out);
        return;
    }
    (void)sip_px_loop_hash(v);
    (void)sip_px_looped(v, &sip_px_self);
    sip_px_via_dest(v, 0, &dst);
    if (sip_px_uri_parse(v->buf + v->ruri.off, v->ruri.len, &u) == 0)
        (void)sip_px_is_self(&sip_px_self, &u, 1);
    if (sip_view_route(v, 0, &a) == 0 && sip_px_uri_parse(v->buf + a.uri.off, a.uri.len, &u) == 0)
        (void)sip_px_is_self(&sip_px_self, &u, 0);
    if (sip_view_num(v, SIP_H_ROUTE) > 0)
        sip_px_strict_rewrite(v, fuzz_disp_out, sizeof fuzz_disp_out);
    for (unsigned i = 0; i < 4 && sip_view_contact(v, i, &a) == 0; i++)
        if (a.uri.len > 0 && a.uri.len < sizeof uri) {
            memcpy(uri, v->buf + a.uri.off, a.uri.len);
            uri[a.uri.len] = '\0';
            (void)sip_nat_detect(uri, "udp:127.0.0.1:5060");
        }
    {
        sip_px_fwd_t f = { .ruri = "sip:bob@192.0.2.7:5070",
                           .via = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-jp0-1-fuzz",
                           .rr = "<sip:127.0.0.1:5060;lr>",
                           .del_top_route = 1,
                           .path = "<sip:edge.example.com;lr>" };
        size_t vias = sip_view_num(v, SIP_H_VIA);
        len = sip_px_build(v, &f, fuzz_disp_out, sizeof fuzz_disp_out);
        if (len > 0 && sip_view_parse(&fuzz_disp_v2, fuzz_disp_out, (size_t)len, 0) == 0)
            FUZZ_DISP_CHECK(sip_view_num(&fuzz_disp_v2, SIP_H_VIA) == vias + 1);
    }
}

/* libosip2 (5.3) loses the Content-Type of a multipart body part it
 * parses twice (osip_message_parse -> osip_content_type_parse, 12-60
 * bytes a message, none of our code on the stack): LeakSanitizer is told
 * to let those be, so that a leak of ours still stops the run. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:osip_content_type_parse\nleak:osip_content_type_init\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    const char *reason = NULL;
    osip_message_t *m = NULL;
    size_t len = 0;
    char *buf;
    int kind, st;

    if (!ready) {
        sip_osip_init();
        snprintf(sip_px_self.addr[0], sizeof sip_px_self.addr[0], "127.0.0.1");
        sip_px_self.naddr = 1;
        sip_px_self.port = 5060;
        ready = 1;
    }
    if (size > SIP_PROXY_MSG_MAX)
        return 0;
    buf = malloc(size + 1); /* the transport hands NUL-terminated text */
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    kind = sip_looks_like_sip(buf, size);
    if (sip_is_keepalive(buf, size))
        FUZZ_DISP_CHECK(kind == 0);
    /* what sip_uas_oversized answers from a datagram's head */
    if (size > 64 && sip_looks_like_sip(buf, 64) == 1)
        fuzz_disp_resp(sip_build_raw_response(buf, 64, 413, "Request Entity Too Large", &len),
                       len);
    if (kind == 0) {
        if ((st = sip_bad_request_line(buf, size, &reason)) != 0) {
            FUZZ_DISP_CHECK(st == 400 || st == 505);
            fuzz_disp_resp(sip_build_raw_response(buf, size, st, reason, &len), len);
        }
        free(buf);
        return 0;
    }
    if (osip_message_init(&m) == 0) {
        if (osip_message_parse(m, buf, size) != 0 || (kind == 1) != (MSG_IS_REQUEST(m) != 0)) {
            if (kind == 1)
                fuzz_disp_resp(sip_build_raw_response(buf, size, 400, "Bad Request", &len), len);
        } else if (kind == 1) {
            fuzz_disp_osip(m, buf, size);
        }
        osip_message_free(m);
    }
    fuzz_disp_view(buf, size);
    free(buf);
    return 0;
}
