/*
 * test_hep.c - HEPv3 datagrams of trace records (gw_hep.c): destinations
 * parsed or refused, the header and every chunk of a SIP packet in and
 * out, an SMPP PDU, a state record as LOG text, the correlation id's
 * order of preference, a buffer too small.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_errors.h"
#include "gw_hep.h"

/* The chunk of type t in datagram b (n bytes): its value and length, or
 * NULL.  Fails the test when the framing is broken. */
static const uint8_t *test_chunk(const uint8_t *b, size_t n, uint16_t t, size_t *len)
{
    size_t off = 6;

    assert_true(n >= 6);
    assert_memory_equal(b, "HEP3", 4);
    assert_int_equal((b[4] << 8) | b[5], n);
    while (off + 6 <= n) {
        uint16_t vendor = (uint16_t)((b[off] << 8) | b[off + 1]);
        uint16_t type = (uint16_t)((b[off + 2] << 8) | b[off + 3]);
        uint16_t clen = (uint16_t)((b[off + 4] << 8) | b[off + 5]);
        assert_int_equal(vendor, 0);
        assert_true(clen >= 6 && off + clen <= n);
        if (type == t) {
            *len = clen - 6u;
            return b + off + 6;
        }
        off += clen;
    }
    assert_int_equal(off, n);
    return NULL;
}

static unsigned test_uint(const uint8_t *b, size_t n, uint16_t t)
{
    size_t len = 0;
    const uint8_t *v = test_chunk(b, n, t, &len);
    unsigned x = 0;
    size_t i;

    assert_non_null(v);
    for (i = 0; i < len; i++)
        x = (x << 8) | v[i];
    return x;
}

static void test_str(const uint8_t *b, size_t n, uint16_t t, const char *want)
{
    size_t len = 0;
    const uint8_t *v = test_chunk(b, n, t, &len);

    if (want == NULL) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
}

static void test_ip4(const uint8_t *b, size_t n, uint16_t t, const char *want)
{
    size_t len = 0;
    const uint8_t *v = test_chunk(b, n, t, &len);
    char text[INET_ADDRSTRLEN];

    assert_non_null(v);
    assert_int_equal(len, 4);
    inet_ntop(AF_INET, v, text, sizeof(text));
    assert_string_equal(text, want);
}

static void test_destinations_parse_or_are_refused(void **state)
{
    const char *bad[] = { NULL, "", "127.0.0.1:9060", "tcp:127.0.0.1:9060", "udp:",
                          "udp:127.0.0.1", "udp:127.0.0.1:", "udp:127.0.0.1:0",
                          "udp:127.0.0.1:65536", "udp:127.0.0.1:90x", "udp:localhost:9060",
                          "udp:[::1:9060", "udp:::1:9060x" };
    gw_hep_dest_t d;
    size_t i;

    (void)state;
    assert_int_equal(gw_hep_parse("udp:127.0.0.1:9060", &d), 0);
    assert_int_equal(d.addr.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&d.addr)->sin_port), 9060);
    assert_int_equal(d.len, sizeof(struct sockaddr_in));
    assert_int_equal(gw_hep_parse("udp:[::1]:9061", &d), 0);
    assert_int_equal(d.addr.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&d.addr)->sin6_port), 9061);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gw_hep_parse(bad[i], &d), GW_EINVAL);
}

static const char test_sip[] = "MESSAGE sip:+4915112345678@127.0.0.1 SIP/2.0\r\n"
                               "Call-ID: abc@host\r\n\r\n";

static void test_sip_packet_in_and_out(void **state)
{
    gw_trace_rec_t r;
    uint8_t b[2048];
    size_t n;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PACKET;
    r.dir = GW_TRACE_IN;
    r.peer = "192.0.2.7:5071";
    r.call_id = "abc@host";
    r.env_id = "01M8SPM6DW3AX7JN1S0ACXC2B4";
    r.raw = test_sip;
    r.raw_len = strlen(test_sip);
    n = gw_hep_build(&r, 1796159039304898LL, b, sizeof(b));
    assert_true(n > 0);
    assert_int_equal(test_uint(b, n, 1), 2);   /* AF_INET */
    assert_int_equal(test_uint(b, n, 2), 17);  /* UDP */
    test_ip4(b, n, 3, "192.0.2.7");            /* in: from the peer */
    test_ip4(b, n, 4, "0.0.0.0");
    assert_int_equal(test_uint(b, n, 7), 5071);
    assert_int_equal(test_uint(b, n, 8), 0);
    assert_int_equal(test_uint(b, n, 9), 1796159039u);
    assert_int_equal(test_uint(b, n, 10), 304898);
    assert_int_equal(test_uint(b, n, 11), GW_HEP_PROTO_SIP);
    assert_int_equal(test_uint(b, n, 12), GW_HEP_AGENT_ID);
    test_str(b, n, 15, test_sip);
    test_str(b, n, 17, "abc@host");            /* the Call-ID before the envelope id */

    r.dir = GW_TRACE_OUT;
    n = gw_hep_build(&r, 1796159039304898LL, b, sizeof(b));
    test_ip4(b, n, 3, "0.0.0.0");              /* out: to the peer */
    test_ip4(b, n, 4, "192.0.2.7");
    assert_int_equal(test_uint(b, n, 7), 0);
    assert_int_equal(test_uint(b, n, 8), 5071);
}

static void test_smpp_pdu_and_state_record(void **state)
{
    static const uint8_t pdu[16] = { 0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9 };
    gw_trace_rec_t r;
    uint8_t b[2048];
    size_t n, len;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PDU;
    r.dir = GW_TRACE_IN;
    r.peer = "[2001:db8::1]:2775";
    r.smpp_msgid = "smsc-1";
    r.raw = pdu;
    r.raw_len = sizeof(pdu);
    n = gw_hep_build(&r, 0, b, sizeof(b));
    assert_true(n > 0);
    assert_int_equal(test_uint(b, n, 1), 10);  /* AF_INET6 */
    assert_int_equal(test_uint(b, n, 2), 6);   /* SMPP runs over TCP */
    assert_non_null(test_chunk(b, n, 5, &len));
    assert_int_equal(len, 16);
    assert_null(test_chunk(b, n, 3, &len));
    assert_int_equal(test_uint(b, n, 7), 2775);
    assert_int_equal(test_uint(b, n, 11), GW_HEP_PROTO_SMPP);
    assert_non_null(test_chunk(b, n, 15, &len));
    assert_int_equal(len, sizeof(pdu));
    test_str(b, n, 17, "smsc-1");              /* no Call-ID, no envelope: message_id */

    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_STATE;
    r.env_id = "01M8SPM6DW3AX7JN1S0ACXC2B4";
    r.summary = "submitted: smsc-1";
    n = gw_hep_build(&r, 0, b, sizeof(b));
    assert_int_equal(test_uint(b, n, 11), GW_HEP_PROTO_LOG);
    test_ip4(b, n, 3, "0.0.0.0");
    test_str(b, n, 15, "submitted: smsc-1");
    test_str(b, n, 17, "01M8SPM6DW3AX7JN1S0ACXC2B4");

    r.env_id = NULL;
    n = gw_hep_build(&r, 0, b, sizeof(b));
    test_str(b, n, 17, NULL);                  /* nothing to correlate: no chunk */
}

static void test_too_small_a_buffer_builds_nothing(void **state)
{
    gw_trace_rec_t r;
    uint8_t b[64];

    (void)state;
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PACKET;
    r.raw = test_sip;
    r.raw_len = strlen(test_sip);
    assert_int_equal(gw_hep_build(&r, 0, b, sizeof(b)), 0);
    assert_int_equal(gw_hep_build(&r, 0, b, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destinations_parse_or_are_refused),
        cmocka_unit_test(test_sip_packet_in_and_out),
        cmocka_unit_test(test_smpp_pdu_and_state_record),
        cmocka_unit_test(test_too_small_a_buffer_builds_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
