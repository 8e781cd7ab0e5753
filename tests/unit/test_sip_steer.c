/*
 * test_sip_steer.c - the SO_REUSEPORT steering program (adapters/sip/
 * sip_steer.c) run by a small classic BPF interpreter over datagrams: a
 * response goes to the worker its branch names, everything else to the
 * source-address hash, and no load ever leaves the datagram.
 *
 * The interpreter knows the instructions the program uses; a load from
 * the IP header (SKF_NET_OFF) is where the hash part begins, so it stops
 * there with HASH.  Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "adapters/sip/sip_steer.h"

#define HASH -2 /* reached the source-address hash */
#define OOB  -3 /* a load past the datagram: the kernel would return 0 */
#define BAD  -4 /* an instruction this interpreter does not know */

static int64_t run(const struct sock_filter *p, int len, const char *pkt, size_t n)
{
    uint32_t A = 0, X = 0, M[16] = {0};

    for (int pc = 0; pc < len; pc++) {
        const struct sock_filter *f = &p[pc];
        uint32_t k = f->k, off = 0, size = 0;
        switch (BPF_CLASS(f->code)) {
        case BPF_LD:
        case BPF_LDX:
            if (BPF_MODE(f->code) == BPF_LEN) {
                A = (uint32_t)n;
                continue;
            }
            if (BPF_MODE(f->code) == BPF_IMM) {
                X = k;
                continue;
            }
            if (BPF_MODE(f->code) == BPF_MEM) {
                A = M[k];
                continue;
            }
            if ((int32_t)k < 0)
                return HASH;
            off = BPF_MODE(f->code) == BPF_IND ? X + k : k;
            size = BPF_SIZE(f->code) == BPF_W ? 4 : BPF_SIZE(f->code) == BPF_H ? 2 : 1;
            if (off + size > n)
                return OOB;
            A = 0;
            for (uint32_t i = 0; i < size; i++)
                A = A << 8 | (uint8_t)pkt[off + i];
            break;
        case BPF_ST:
            M[k] = A;
            break;
        case BPF_ALU: {
            uint32_t v = BPF_SRC(f->code) == BPF_X ? X : k;
            switch (BPF_OP(f->code)) {
            case BPF_ADD: A += v; break;
            case BPF_SUB: A -= v; break;
            case BPF_MUL: A *= v; break;
            case BPF_RSH: A >>= v; break;
            case BPF_XOR: A ^= v; break;
            case BPF_MOD: A %= v; break;
            default: return BAD;
            }
            break;
        }
        case BPF_JMP:
            if (BPF_OP(f->code) == BPF_JA) {
                pc += (int)k;
                continue;
            }
            if (BPF_OP(f->code) == BPF_JEQ)
                pc += A == k ? f->jt : f->jf;
            else if (BPF_OP(f->code) == BPF_JGT)
                pc += A > k ? f->jt : f->jf;
            else if (BPF_OP(f->code) == BPF_JGE)
                pc += A >= k ? f->jt : f->jf;
            else
                return BAD;
            break;
        case BPF_RET:
            return BPF_RVAL(f->code) == BPF_A ? A : k;
        case BPF_MISC:
            X = A;
            break;
        default:
            return BAD;
        }
    }
    return BAD;
}

static struct sock_filter prog[SIP_STEER_MAX];

static int64_t steer(int workers, const char *pkt)
{
    int len = sip_steer_program(prog, workers, 0);
    assert_true(len > 0 && len <= SIP_STEER_MAX && len <= 4096);
    return run(prog, len, pkt, strlen(pkt));
}

/* A 200 with our Via on top (branch of worker w), padded to n bytes. */
static const char *response(char *buf, size_t size, const char *status, const char *via_branch,
                            size_t n)
{
    int len = snprintf(buf, size,
                       "SIP/2.0 %s\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\n"
                       "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-jp7-caller\r\n"
                       "Call-ID: a@b\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n",
                       status, via_branch);
    while ((size_t)len < n && (size_t)len + 1 < size)
        buf[len++] = ' ';
    snprintf(buf + len, size - (size_t)len, "\r\n");
    return buf;
}

static void test_a_response_goes_to_the_worker_its_branch_names(void **state)
{
    char b[1024];
    (void)state;
    assert_int_equal(steer(4, response(b, sizeof b, "200 OK", "z9hG4bK-jp2-00ab", 300)), 2);
    assert_int_equal(steer(4, response(b, sizeof b, "486 Busy Here", "z9hG4bK-jp0-1", 300)), 0);
    assert_int_equal(steer(16, response(b, sizeof b, "180 Ringing", "z9hG4bK-jp13-77", 300)), 13);
    /* the first of our branches is the top Via's: not the caller's below */
    assert_int_equal(steer(8, response(b, sizeof b, "200 OK", "z9hG4bK-jp3-x", 300)), 3);
}

static void test_a_worker_outside_the_active_ones_is_hashed(void **state)
{
    char b[1024];
    (void)state;
    /* worker 3 is retiring (the program steers to 0..2): the hash picks */
    assert_int_equal(steer(3, response(b, sizeof b, "200 OK", "z9hG4bK-jp3-00ab", 300)), HASH);
    assert_int_equal(steer(16, response(b, sizeof b, "200 OK", "z9hG4bK-jp42-1", 300)), HASH);
    assert_int_equal(steer(4, response(b, sizeof b, "200 OK", "z9hG4bK-jpx-1", 300)), HASH);
}

static void test_requests_and_foreign_responses_are_hashed(void **state)
{
    char b[1024];
    (void)state;
    assert_int_equal(steer(4, "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-jp1-"
                              "zz\r\nContent-Length: 0\r\n\r\n                                    "
                              "                                                            "),
                     HASH);
    assert_int_equal(steer(4, response(b, sizeof b, "200 OK", "z9hG4bKabcdef", 300)), HASH);
    assert_int_equal(steer(4, "\r\n\r\n"), HASH); /* a keep-alive */
    assert_int_equal(steer(4, "SIP/2.0"), HASH);
}

static void test_no_load_leaves_a_datagram_of_any_length(void **state)
{
    char b[2048];
    (void)state;
    /* every length around the block edges: the marker near the end of
     * the datagram is either found or hashed, never read past */
    for (size_t n = 60; n < 700; n++) {
        int64_t r = steer(4, response(b, sizeof b, "200 OK", "z9hG4bK-jp1-00", n));
        assert_true(r == 1 || r == HASH);
        memset(b, ' ', n);
        memcpy(b, "SIP/2.0 200 OK\r\n", 16);
        memcpy(b + n - 14, "K-jp1-", 6);
        b[n] = '\0';
        r = steer(4, b);
        assert_true(r == 1 || r == HASH);
        b[n - 14] = 'x'; /* no marker at all: every block is scanned */
        assert_int_equal(steer(4, b), HASH);
    }
    /* beyond the scanned window: hashed */
    assert_int_equal(steer(4, response(b, sizeof b, "200 OK", "z9hG4bK-jp1-00", 300)), 1);
    memset(b, 'a', 1500);
    memcpy(b, "SIP/2.0 200 OK\r\nX: ", 19);
    memcpy(b + SIP_STEER_SCAN + 40, "K-jp1-", 6);
    b[1500] = '\0';
    assert_int_equal(steer(4, b), HASH);
}

static void test_a_pool_size_out_of_range_has_no_program(void **state)
{
    (void)state;
    assert_int_equal(sip_steer_program(prog, 0, 0), -1);
    assert_int_equal(sip_steer_program(prog, SIP_STEER_WORKERS + 1, 1), -1);
    assert_true(sip_steer_program(prog, SIP_STEER_WORKERS, 1) <= SIP_STEER_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_response_goes_to_the_worker_its_branch_names),
        cmocka_unit_test(test_a_worker_outside_the_active_ones_is_hashed),
        cmocka_unit_test(test_requests_and_foreign_responses_are_hashed),
        cmocka_unit_test(test_no_load_leaves_a_datagram_of_any_length),
        cmocka_unit_test(test_a_pool_size_out_of_range_has_no_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
