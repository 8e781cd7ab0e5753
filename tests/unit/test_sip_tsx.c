/*
 * test_sip_tsx.c - the transaction state machines (adapters/sip/sip_tsx.c)
 * against RFC 3261 section 17 and RFC 6026: every timer's value, what each
 * event asks of the owner, and what a reliable transport changes.
 *
 * The clock is the test's; single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters/sip/sip_tsx.h"

/* Fire the timer at its deadline; the actions. */
static unsigned fire(sip_tsx_t *t, int64_t *now)
{
    *now = sip_tsx_deadline(t);
    return sip_tsx_timer(t, *now);
}

static void test_ict_retransmits_by_timer_a_doubling_until_timer_b_times_out(void **state)
{
    sip_tsx_t t;
    int64_t now = 1000, gaps[16];
    int n = 0;
    unsigned act = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_ICT, 0, now);
    assert_int_equal(t.state, SIP_TSX_CALLING);
    while (!(act & SIP_TSX_FREE) && n < 16) {
        int64_t before = now;
        act = fire(&t, &now);
        if (act & SIP_TSX_RETRANSMIT)
            gaps[n++] = now - before;
    }
    /* A: 500, 1000, 2000, 4000, 8000, 16000; B at 32000 after the start */
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++)
        assert_int_equal(gaps[i], 500 << i);
    assert_true(act & SIP_TSX_TIMEOUT);
    assert_int_equal(now, 1000 + 32000);
    assert_int_equal(t.state, SIP_TSX_TERMINATED);
}

static void test_ict_provisional_stops_a_and_b_then_non_2xx_acks_and_waits_timer_d(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_ICT, 0, now);
    assert_int_equal(sip_tsx_response_in(&t, 180, 100), SIP_TSX_PASS_UP);
    assert_int_equal(t.state, SIP_TSX_PROCEEDING);
    assert_int_equal(sip_tsx_deadline(&t), 0); /* Timer C is the proxy's */
    unsigned act = sip_tsx_response_in(&t, 486, 200);
    assert_int_equal(act, SIP_TSX_SEND_ACK | SIP_TSX_PASS_UP);
    assert_int_equal(t.state, SIP_TSX_COMPLETED);
    assert_int_equal(sip_tsx_deadline(&t), 200 + 32000);
    /* the 486 again: ACK again, nothing to the TU */
    assert_int_equal(sip_tsx_response_in(&t, 486, 300), SIP_TSX_SEND_ACK);
    act = fire(&t, &now);
    assert_int_equal(act, SIP_TSX_FREE);
}

static void test_ict_2xx_is_accepted_and_its_retransmissions_pass_up_until_timer_m(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_ICT, 0, now);
    assert_int_equal(sip_tsx_response_in(&t, 200, 50), SIP_TSX_PASS_UP);
    assert_int_equal(t.state, SIP_TSX_ACCEPTED);
    assert_int_equal(sip_tsx_response_in(&t, 200, 600), SIP_TSX_PASS_UP);
    assert_int_equal(sip_tsx_deadline(&t), 50 + 32000);
    assert_int_equal(fire(&t, &now), SIP_TSX_FREE);
}

static void test_ict_over_tcp_sends_once_and_a_non_2xx_ends_at_once(void **state)
{
    sip_tsx_t t;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_ICT, 1, 0);
    assert_int_equal(sip_tsx_deadline(&t), 32000); /* B only, no A */
    assert_int_equal(sip_tsx_response_in(&t, 503, 10),
                     SIP_TSX_SEND_ACK | SIP_TSX_PASS_UP | SIP_TSX_FREE);
}

static void test_nict_timer_e_caps_at_t2_and_timer_f_times_out(void **state)
{
    sip_tsx_t t;
    int64_t now = 0, last = 0;
    int n = 0, at_t2 = 0;
    unsigned act = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_NICT, 0, now);
    while (!(act & SIP_TSX_FREE) && n < 40) {
        act = fire(&t, &now);
        if (act & SIP_TSX_RETRANSMIT) {
            at_t2 += now - last == 4000;
            n++;
        }
        last = now;
    }
    assert_true(act & SIP_TSX_TIMEOUT);
    assert_int_equal(now, 32000);
    /* at 0.5, 1.5, 3.5 s, then every 4 s: 7.5 ... 31.5, before F at 32 s */
    assert_int_equal(n, 10);
    assert_int_equal(at_t2, 7);
}

static void test_nict_proceeding_retransmits_every_t2_and_final_waits_timer_k(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_NICT, 0, now);
    assert_int_equal(sip_tsx_response_in(&t, 100, 10), SIP_TSX_PASS_UP);
    assert_int_equal(fire(&t, &now), SIP_TSX_RETRANSMIT); /* the 500 ms one */
    int64_t before = now;
    assert_int_equal(fire(&t, &now), SIP_TSX_RETRANSMIT);
    assert_int_equal(now - before, 4000);
    assert_int_equal(sip_tsx_response_in(&t, 202, now), SIP_TSX_PASS_UP);
    assert_int_equal(t.state, SIP_TSX_COMPLETED);
    assert_int_equal(sip_tsx_response_in(&t, 202, now + 1), 0); /* absorbed */
    assert_int_equal(sip_tsx_deadline(&t), now + 5000);
    assert_int_equal(fire(&t, &now), SIP_TSX_FREE);
}

static void test_ist_non_2xx_retransmits_by_timer_g_until_the_ack_then_timer_i(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_IST, 0, now);
    assert_int_equal(t.state, SIP_TSX_PROCEEDING);
    assert_int_equal(sip_tsx_request_in(&t, 0, 10), 0); /* nothing sent yet: absorbed */
    assert_int_equal(sip_tsx_response_out(&t, 100, 20), 0);
    assert_int_equal(sip_tsx_request_in(&t, 0, 30), SIP_TSX_RETRANSMIT); /* the 100 again */
    assert_int_equal(sip_tsx_response_out(&t, 486, 40), 0);
    assert_int_equal(t.state, SIP_TSX_COMPLETED);
    assert_int_equal(sip_tsx_response_out(&t, 200, 41), SIP_TSX_REFUSED);
    assert_int_equal(fire(&t, &now), SIP_TSX_RETRANSMIT);
    assert_int_equal(now, 540);
    assert_int_equal(fire(&t, &now), SIP_TSX_RETRANSMIT);
    assert_int_equal(now, 1540);
    assert_int_equal(sip_tsx_request_in(&t, 0, now), SIP_TSX_RETRANSMIT); /* INVITE again */
    assert_int_equal(sip_tsx_request_in(&t, 1, now + 5), 0);
    assert_int_equal(t.state, SIP_TSX_CONFIRMED);
    assert_int_equal(sip_tsx_deadline(&t), now + 5 + 5000);
    assert_int_equal(sip_tsx_request_in(&t, 1, now + 6), 0); /* ACK again: absorbed */
    assert_int_equal(fire(&t, &now), SIP_TSX_FREE);
}

static void test_ist_without_ack_times_out_by_timer_h(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    unsigned act = 0;
    int retx = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_IST, 0, now);
    sip_tsx_response_out(&t, 404, 0);
    while (!(act & SIP_TSX_FREE) && retx < 40) {
        act = fire(&t, &now);
        retx += (act & SIP_TSX_RETRANSMIT) != 0;
    }
    assert_true(act & SIP_TSX_TIMEOUT);
    assert_int_equal(now, 32000);
    assert_int_equal(retx, 10); /* G as E: at 0.5, 1.5, 3.5 s, then every 4 s to 31.5 */
}

static void test_ist_2xx_is_accepted_for_timer_l_and_absorbs_the_invite(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_IST, 1, now);
    assert_int_equal(sip_tsx_response_out(&t, 200, 100), 0);
    assert_int_equal(t.state, SIP_TSX_ACCEPTED);
    assert_int_equal(sip_tsx_request_in(&t, 0, 200), 0);
    assert_int_equal(sip_tsx_request_in(&t, 1, 300), SIP_TSX_PASS_UP);
    assert_int_equal(sip_tsx_deadline(&t), 100 + 32000); /* L even over TCP */
    assert_int_equal(fire(&t, &now), SIP_TSX_FREE);
}

static void test_nist_absorbs_in_trying_resends_later_and_timer_j_is_zero_over_tcp(void **state)
{
    sip_tsx_t t;
    int64_t now = 0;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_NIST, 0, now);
    assert_int_equal(sip_tsx_request_in(&t, 0, 1), 0);
    assert_int_equal(sip_tsx_response_out(&t, 180, 2), 0);
    assert_int_equal(sip_tsx_request_in(&t, 0, 3), SIP_TSX_RETRANSMIT);
    assert_int_equal(sip_tsx_response_out(&t, 200, 4), 0);
    assert_int_equal(sip_tsx_request_in(&t, 0, 5), SIP_TSX_RETRANSMIT);
    assert_int_equal(sip_tsx_response_out(&t, 200, 6), SIP_TSX_REFUSED);
    assert_int_equal(sip_tsx_deadline(&t), 4 + 32000);
    assert_int_equal(fire(&t, &now), SIP_TSX_FREE);
    sip_tsx_init(&t, SIP_TSX_NIST, 1, 0);
    assert_int_equal(sip_tsx_response_out(&t, 200, 1), SIP_TSX_FREE);
}

static void test_events_of_the_other_side_are_refused(void **state)
{
    sip_tsx_t t;
    (void)state;
    sip_tsx_init(&t, SIP_TSX_NICT, 0, 0);
    assert_int_equal(sip_tsx_response_out(&t, 200, 1), SIP_TSX_REFUSED);
    assert_int_equal(sip_tsx_request_in(&t, 0, 1), SIP_TSX_REFUSED);
    sip_tsx_init(&t, SIP_TSX_NIST, 0, 0);
    assert_int_equal(sip_tsx_response_in(&t, 200, 1), SIP_TSX_REFUSED);
    assert_int_equal(sip_tsx_request_in(&t, 1, 1), SIP_TSX_REFUSED);
    assert_string_equal(sip_tsx_state_name(SIP_TSX_CONFIRMED), "confirmed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ict_retransmits_by_timer_a_doubling_until_timer_b_times_out),
        cmocka_unit_test(test_ict_provisional_stops_a_and_b_then_non_2xx_acks_and_waits_timer_d),
        cmocka_unit_test(test_ict_2xx_is_accepted_and_its_retransmissions_pass_up_until_timer_m),
        cmocka_unit_test(test_ict_over_tcp_sends_once_and_a_non_2xx_ends_at_once),
        cmocka_unit_test(test_nict_timer_e_caps_at_t2_and_timer_f_times_out),
        cmocka_unit_test(test_nict_proceeding_retransmits_every_t2_and_final_waits_timer_k),
        cmocka_unit_test(test_ist_non_2xx_retransmits_by_timer_g_until_the_ack_then_timer_i),
        cmocka_unit_test(test_ist_without_ack_times_out_by_timer_h),
        cmocka_unit_test(test_ist_2xx_is_accepted_for_timer_l_and_absorbs_the_invite),
        cmocka_unit_test(test_nist_absorbs_in_trying_resends_later_and_timer_j_is_zero_over_tcp),
        cmocka_unit_test(test_events_of_the_other_side_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
