/*
 * fuzz_sip_view.c - libFuzzer target for the byte-offset SIP view
 * (adapters/sip/sip_view.c, sip_view_edit.c): stream framing, parsing as
 * a datagram and as a framed stream message, every accessor, and the
 * proxy's edits applied in one pass, with invariants checked:
 *   - every range the view gives lies inside the message it parsed;
 *   - a framed length is within the buffer and parses without "need more";
 *   - a message that parses still parses after the forwarding edits
 *     (request: Via added, received/rport, Max-Forwards, Record-Route,
 *     top Route removed, Request-URI replaced; response: top Via removed;
 *     either: body replaced), with one Via more (or less) and the values
 *     the edits set.
 * A broken invariant aborts, which libFuzzer reports as a crash.
 * Threads: libFuzzer's one.  Ownership: the views and the output buffer
 * are static; the view points into libFuzzer's input.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_sip_view tests/fuzz/corpus/fuzz_sip_view
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sip/sip_view.h"

static sip_view_t fuzz_view_v, fuzz_view_v2;
static char fuzz_view_out[SIP_VIEW_MAX_MSG + 4096];

#define FUZZ_VIEW_CHECK(c)                                                                \
    do {                                                                           \
        if (!(c))                                                                  \
            abort();                                                               \
    } while (0)

static void fuzz_view_in(const sip_view_t *v, sip_range_t r)
{
    FUZZ_VIEW_CHECK(r.off <= v->len && r.len <= v->len - r.off);
}

/* Every range of v inside [start, len); every accessor run. */
static void fuzz_view_ranges(const sip_view_t *v, size_t n)
{
    unsigned i, k;
    sip_view_via_t via;
    sip_view_addr_t a;
    sip_range_t r;
    long x;

    FUZZ_VIEW_CHECK(v->len <= n && v->body_off + v->body_len == v->len);
    FUZZ_VIEW_CHECK(v->start < v->hdr_off && v->hdr_off <= v->hdr_end + 2 && v->hdr_end + 2 == v->body_off);
    fuzz_view_in(v, v->ruri);
    fuzz_view_in(v, v->method_tok);
    fuzz_view_in(v, v->reason);
    fuzz_view_in(v, v->call_id);
    fuzz_view_in(v, v->from_tag);
    fuzz_view_in(v, v->to_tag);
    fuzz_view_in(v, v->cseq_method_tok);
    for (i = 0; i < v->nhdrs; i++) {
        fuzz_view_in(v, v->hdrs[i].name);
        fuzz_view_in(v, v->hdrs[i].value);
        FUZZ_VIEW_CHECK(v->hdrs[i].line_off < v->hdrs[i].line_end && v->hdrs[i].line_end <= v->hdr_end);
    }
    for (i = 0; i < v->nvals; i++)
        fuzz_view_in(v, v->vals[i].r);
    for (i = 0; i < sip_view_num(v, SIP_H_VIA); i++) {
        FUZZ_VIEW_CHECK(sip_view_via(v, i, &via) == 0); /* all checked by the parse */
        fuzz_view_in(v, via.transport);
        fuzz_view_in(v, via.host);
        fuzz_view_in(v, via.branch);
        fuzz_view_in(v, via.received);
        fuzz_view_in(v, via.maddr);
        FUZZ_VIEW_CHECK(via.params_end <= via.value.off + via.value.len);
    }
    for (k = SIP_H_OTHER; k < SIP_H__COUNT; k++)
        for (i = 0; sip_view_nth(v, (sip_hdr_id_t)k, i, &r) >= 0; i++) {
            fuzz_view_in(v, r);
            if (sip_view_addr(v, r, &a) == 0) {
                fuzz_view_in(v, a.uri);
                fuzz_view_in(v, a.display);
                fuzz_view_in(v, a.params);
            }
        }
    sip_view_expires(v, &x);
}

/* The proxy's edits; the result must parse again. */
static void fuzz_view_edits(const sip_view_t *v)
{
    static const char via[] = "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-fz";
    static const char rr[] = "<sip:192.0.2.9;lr>";
    static const char uri[] = "sip:next@192.0.2.10:5070";
    sip_view_edit_t e[8];
    unsigned nvia = sip_view_num(v, SIP_H_VIA), nroute = sip_view_num(v, SIP_H_ROUTE);
    size_t n = 0;
    long len;

    if (v->is_request) {
        e[n++] = (sip_view_edit_t){ SIP_EDIT_VIA_RECEIVED, "198.51.100.7", 12, 40000 };
        e[n++] = (sip_view_edit_t){ SIP_EDIT_VIA_ADD, via, sizeof(via) - 1, 0 };
        e[n++] = (sip_view_edit_t){ SIP_EDIT_MAX_FWD, NULL, 0, v->max_forwards > 0 ? -1 : 70 };
        e[n++] = (sip_view_edit_t){ SIP_EDIT_RR_ADD, rr, sizeof(rr) - 1, 0 };
        if (nroute)
            e[n++] = (sip_view_edit_t){ SIP_EDIT_ROUTE_DEL_TOP, NULL, 0, 0 };
        e[n++] = (sip_view_edit_t){ SIP_EDIT_RURI, uri, sizeof(uri) - 1, 0 };
    } else if (nvia > 1) {
        e[n++] = (sip_view_edit_t){ SIP_EDIT_VIA_DEL_TOP, NULL, 0, 0 };
    }
    len = sip_view_apply(v, e, n, fuzz_view_out, sizeof(fuzz_view_out));
    FUZZ_VIEW_CHECK(len > 0 && (size_t)len <= sizeof(fuzz_view_out));
    if ((size_t)len > SIP_VIEW_MAX_MSG)
        return; /* grown past the limit: refused, correctly */
    FUZZ_VIEW_CHECK(sip_view_parse(&fuzz_view_v2, fuzz_view_out, (size_t)len, 0) == 0);
    FUZZ_VIEW_CHECK(fuzz_view_v2.body_len == v->body_len);
    FUZZ_VIEW_CHECK(memcmp(fuzz_view_v2.buf + fuzz_view_v2.body_off, v->buf + v->body_off, v->body_len) == 0);
    if (v->is_request) {
        FUZZ_VIEW_CHECK(sip_view_num(&fuzz_view_v2, SIP_H_VIA) == nvia + 1);
        FUZZ_VIEW_CHECK(sip_view_num(&fuzz_view_v2, SIP_H_ROUTE) == (nroute ? nroute - 1 : 0));
        FUZZ_VIEW_CHECK(fuzz_view_v2.max_forwards == (v->max_forwards > 0 ? v->max_forwards - 1 : 70));
        FUZZ_VIEW_CHECK(sip_view_eq(&fuzz_view_v2, fuzz_view_v2.ruri, uri));
    } else if (nvia > 1) {
        FUZZ_VIEW_CHECK(sip_view_num(&fuzz_view_v2, SIP_H_VIA) == nvia - 1);
    }
    /* a new body, Content-Length to match */
    e[0] = (sip_view_edit_t){ SIP_EDIT_BODY, "new body", 8, 0 };
    len = sip_view_apply(v, e, 1, fuzz_view_out, sizeof(fuzz_view_out));
    FUZZ_VIEW_CHECK(len > 0);
    if ((size_t)len <= SIP_VIEW_MAX_MSG) {
        FUZZ_VIEW_CHECK(sip_view_parse(&fuzz_view_v2, fuzz_view_out, (size_t)len, SIP_VIEW_STREAM) == 0);
        FUZZ_VIEW_CHECK(fuzz_view_v2.clen == 8);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t m = 0;
    int rc;

    if (size > SIP_VIEW_MAX_MSG + 64)
        return 0;
    rc = sip_view_frame(buf, size, &m);
    if (rc == 0) {
        FUZZ_VIEW_CHECK(m <= size);
        rc = sip_view_parse(&fuzz_view_v, buf, m, SIP_VIEW_STREAM);
        FUZZ_VIEW_CHECK(rc != SIP_VE_NEED_MORE && rc != SIP_VE_NO_CLEN && rc != SIP_VE_CLEN_MISMATCH);
        if (rc == 0)
            FUZZ_VIEW_CHECK(fuzz_view_v.len == m);
    }
    rc = sip_view_parse(&fuzz_view_v, buf, size, 0);
    FUZZ_VIEW_CHECK(rc <= 0 && sip_view_strerror(rc) != NULL);
    FUZZ_VIEW_CHECK(fuzz_view_v.is_request >= -1 && fuzz_view_v.is_request <= 1);
    if (rc == 0) {
        fuzz_view_ranges(&fuzz_view_v, size);
        fuzz_view_edits(&fuzz_view_v);
    }
    return 0;
}
