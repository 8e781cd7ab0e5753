/*
 * test_sip_dialog.c - the dialog table (adapters/sip/sip_dialog.c) and the
 * BYE the proxy builds to end a dialog (sip_dlg_build_bye in
 * sip_dialog_mi.c): insert and its bound, a request found from either
 * side with the tags swapped, CSeq kept per side, an ACK that confirms,
 * a BYE that takes the dialog, every dialog of a Call-ID, the timeout's
 * expiry, the listing; the BYE's Request-URI, Route, From / To and CSeq
 * for each side.
 *
 * Single-threaded; no daemon, no sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/gw_errors.h"
#include "adapters/sip/sip_dialog.h"

static void make(sip_dlg_t *d, const char *call_id, const char *atag, const char *btag,
                 int64_t answer_ms)
{
    memset(d, 0, sizeof *d);
    snprintf(d->call_id, sizeof d->call_id, "%s", call_id);
    snprintf(d->tag[SIP_DLG_CALLER], SIP_DLG_TAG_MAX, "%s", atag);
    snprintf(d->tag[SIP_DLG_CALLEE], SIP_DLG_TAG_MAX, "%s", btag);
    snprintf(d->uri[0], SIP_DLG_URI_MAX, "sip:alice@example.com");
    snprintf(d->uri[1], SIP_DLG_URI_MAX, "sip:bob@example.com");
    snprintf(d->hdr[0], SIP_DLG_HDR_MAX, "\"Alice\" <sip:alice@example.com>;tag=%s", atag);
    snprintf(d->hdr[1], SIP_DLG_HDR_MAX, "<sip:bob@example.com>;tag=%s", btag);
    snprintf(d->contact[0], SIP_DLG_URI_MAX, "sip:alice@10.0.0.1:5062");
    snprintf(d->contact[1], SIP_DLG_URI_MAX, "sip:bob@10.0.0.2:5064");
    d->cseq[SIP_DLG_CALLER] = 10;
    d->start_ms = answer_ms - 1000;
    d->answer_ms = answer_ms;
    d->status = 200;
    d->state = SIP_DLG_CONFIRMED_NA;
}

static void insert_is_bounded_and_refuses_a_duplicate(void **state)
{
    int max = 2;
    sip_dlg_table_t *t = sip_dlg_table_new(&max);
    sip_dlg_t d;
    (void)state;

    make(&d, "c1", "a1", "b1", 1000);
    assert_int_equal(sip_dlg_insert(t, &d), 0);
    assert_int_equal(sip_dlg_insert(t, &d), GW_EEXIST);
    make(&d, "c1", "a1", "b2", 1000); /* a second fork of the same call */
    assert_int_equal(sip_dlg_insert(t, &d), 0);
    make(&d, "c2", "a1", "b1", 1000);
    assert_int_equal(sip_dlg_insert(t, &d), GW_EFULL);
    assert_int_equal(sip_dlg_count(t), 2);
    max = 3; /* a runtime change is read at the next insert */
    assert_int_equal(sip_dlg_insert(t, &d), 0);
    assert_int_equal(sip_dlg_count(t), 3);
    sip_dlg_table_free(t);
}

static void a_request_is_found_from_either_side_and_keeps_each_sides_cseq_and_target(void **state)
{
    int max = 10, was_na = -1;
    sip_dlg_table_t *t = sip_dlg_table_new(&max);
    sip_dlg_t d, out;
    (void)state;

    make(&d, "c1", "a1", "b1", 1000);
    assert_int_equal(sip_dlg_insert(t, &d), 0);
    /* the caller's INFO: From tag a1, To tag b1 */
    assert_int_equal(sip_dlg_request(t, "c1", "a1", "b1", 11, NULL, 0, 0, &out, &was_na), SIP_DLG_CALLER);
    assert_int_equal(was_na, 0);
    assert_int_equal(out.cseq[SIP_DLG_CALLER], 11);
    /* the callee's: tags swapped */
    assert_int_equal(sip_dlg_request(t, "c1", "b1", "a1", 3, NULL, 0, 0, &out, NULL), SIP_DLG_CALLEE);
    assert_int_equal(out.cseq[SIP_DLG_CALLEE], 3);
    assert_int_equal(out.cseq[SIP_DLG_CALLER], 11);
    /* an older CSeq does not lower it */
    sip_dlg_request(t, "c1", "a1", "b1", 5, NULL, 0, 0, &out, NULL);
    assert_int_equal(out.cseq[SIP_DLG_CALLER], 11);
    /* a target refresh from the callee (a re-INVITE's Contact) */
    sip_dlg_request(t, "c1", "b1", "a1", 4, "sip:bob@10.0.0.7:5080", 0, 0, &out, NULL);
    assert_string_equal(out.contact[SIP_DLG_CALLEE], "sip:bob@10.0.0.7:5080");
    assert_string_equal(out.contact[SIP_DLG_CALLER], "sip:alice@10.0.0.1:5062");
    sip_dlg_request(t, "c1", "b1", "a1", 5, "", 0, 0, &out, NULL); /* none: kept */
    assert_string_equal(out.contact[SIP_DLG_CALLEE], "sip:bob@10.0.0.7:5080");
    /* unknown tags, an unknown Call-ID */
    assert_int_equal(sip_dlg_request(t, "c1", "a1", "zz", 1, NULL, 0, 0, NULL, NULL), -1);
    assert_int_equal(sip_dlg_request(t, "c9", "a1", "b1", 1, NULL, 0, 0, NULL, NULL), -1);
    sip_dlg_table_free(t);
}

static void an_ack_confirms_once_and_a_bye_takes_the_dialog(void **state)
{
    int max = 10, was_na = 0;
    sip_dlg_table_t *t = sip_dlg_table_new(&max);
    sip_dlg_t d, out;
    (void)state;

    make(&d, "c1", "a1", "b1", 1000);
    assert_int_equal(sip_dlg_insert(t, &d), 0);
    assert_int_equal(sip_dlg_request(t, "c1", "a1", "b1", 0, NULL, 1, 0, &out, &was_na), SIP_DLG_CALLER);
    assert_int_equal(was_na, 1);
    assert_int_equal(out.state, SIP_DLG_CONFIRMED);
    sip_dlg_request(t, "c1", "a1", "b1", 0, NULL, 1, 0, &out, &was_na);
    assert_int_equal(was_na, 0); /* a retransmitted ACK confirms nothing more */
    assert_int_equal(sip_dlg_request(t, "c1", "b1", "a1", 1, NULL, 0, 1, &out, NULL), SIP_DLG_CALLEE);
    assert_string_equal(out.call_id, "c1");
    assert_int_equal(sip_dlg_count(t), 0);
    assert_int_equal(sip_dlg_request(t, "c1", "b1", "a1", 2, NULL, 0, 1, &out, NULL), -1);
    sip_dlg_table_free(t);
}

static void take_call_removes_every_fork_of_a_call_id(void **state)
{
    int max = 10;
    sip_dlg_table_t *t = sip_dlg_table_new(&max);
    sip_dlg_t d, out[4];
    (void)state;

    make(&d, "c1", "a1", "b1", 1000);
    sip_dlg_insert(t, &d);
    make(&d, "c1", "a1", "b2", 1000);
    sip_dlg_insert(t, &d);
    make(&d, "c2", "a1", "b1", 1000);
    sip_dlg_insert(t, &d);
    assert_int_equal(sip_dlg_take_call(t, "c1", out, 4), 2);
    assert_string_equal(out[0].call_id, "c1");
    assert_string_equal(out[1].call_id, "c1");
    assert_int_equal(sip_dlg_count(t), 1);
    assert_int_equal(sip_dlg_take_call(t, "c1", out, 4), 0);
    sip_dlg_table_free(t);
}

static void take_expired_takes_what_was_answered_before_and_in_batches(void **state)
{
    int max = 100;
    sip_dlg_table_t *t = sip_dlg_table_new(&max);
    sip_dlg_t d, out[4];
    char id[32];
    (void)state;

    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "old-%d", i);
        make(&d, id, "a", "b", 1000 + i);
        assert_int_equal(sip_dlg_insert(t, &d), 0);
    }
    make(&d, "new", "a", "b", 5000);
    sip_dlg_insert(t, &d);
    assert_int_equal(sip_dlg_take_expired(t, 2000, out, 4), 4);
    assert_int_equal(sip_dlg_take_expired(t, 2000, out, 4), 4);
    assert_int_equal(sip_dlg_take_expired(t, 2000, out, 4), 2);
    assert_int_equal(sip_dlg_take_expired(t, 2000, out, 4), 0);
    assert_int_equal(sip_dlg_count(t), 1);
    assert_int_equal(sip_dlg_take_expired(t, 5000, out, 4), 1);
    assert_string_equal(out[0].call_id, "new");
    sip_dlg_table_free(t);
}

static void count_one(const sip_dlg_t *d, void *arg)
{
    (void)d;
    (*(int *)arg)++;
}

static void foreach_lists_all_or_one_call_id_up_to_a_limit(void **state)
{
    int max = 100, n = 0;
    sip_dlg_table_t *t = sip_dlg_table_new(&max);
    sip_dlg_t d;
    char id[32];
    (void)state;

    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "call-%d", i);
        make(&d, id, "a", "b", 1000);
        sip_dlg_insert(t, &d);
    }
    assert_int_equal(sip_dlg_foreach(t, NULL, 1000, count_one, &n), 20);
    assert_int_equal(n, 20);
    n = 0;
    assert_int_equal(sip_dlg_foreach(t, NULL, 5, count_one, &n), 5);
    n = 0;
    assert_int_equal(sip_dlg_foreach(t, "call-7", 1000, count_one, &n), 1);
    assert_int_equal(n, 1);
    sip_dlg_table_free(t);
}

static void the_bye_to_each_side_has_its_target_route_tags_and_the_other_sides_next_cseq(void **state)
{
    sip_dlg_t d;
    char out[2048];
    long len;
    (void)state;

    make(&d, "c1@x", "a1", "b1", 1000);
    snprintf(d.route[SIP_DLG_CALLEE], SIP_DLG_ROUTE_MAX, "<sip:10.0.0.9:5070;lr>");
    d.cseq[SIP_DLG_CALLEE] = 0;

    len = sip_dlg_build_bye(&d, SIP_DLG_CALLEE, "UDP", "127.0.0.1", 5060, "z9hG4bK-jdx", out,
                            sizeof out);
    assert_true(len > 0);
    assert_int_equal((size_t)len, strlen(out));
    assert_non_null(strstr(out, "BYE sip:bob@10.0.0.2:5064 SIP/2.0\r\n"));
    assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-jdx;rport\r\n"));
    assert_non_null(strstr(out, "\r\nRoute: <sip:10.0.0.9:5070;lr>\r\n"));
    assert_non_null(strstr(out, "\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"));
    assert_non_null(strstr(out, "\r\nTo: <sip:bob@example.com>;tag=b1\r\n"));
    assert_non_null(strstr(out, "\r\nCSeq: 11 BYE\r\n")); /* the caller's 10 + 1 */
    assert_non_null(strstr(out, "\r\nCall-ID: c1@x\r\n"));
    assert_true(strstr(out, "\r\nContent-Length: 0\r\n\r\n") == out + len - 23);

    len = sip_dlg_build_bye(&d, SIP_DLG_CALLER, "TCP", "127.0.0.1", 5060, "z9hG4bK-jdy", out,
                            sizeof out);
    assert_true(len > 0);
    assert_non_null(strstr(out, "BYE sip:alice@10.0.0.1:5062 SIP/2.0\r\n"));
    assert_non_null(strstr(out, "\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-jdy;rport\r\n"));
    assert_null(strstr(out, "\r\nRoute:")); /* no route set towards the caller */
    assert_non_null(strstr(out, "\r\nFrom: <sip:bob@example.com>;tag=b1\r\n"));
    assert_non_null(strstr(out, "\r\nTo: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"));
    assert_non_null(strstr(out, "\r\nCSeq: 1 BYE\r\n"));

    assert_int_equal(sip_dlg_build_bye(&d, SIP_DLG_CALLER, "UDP", "127.0.0.1", 5060, "b", out, 64),
                     -1);
}

static void a_peer_is_written_with_its_transport(void **state)
{
    sip_peer_t p = {0};
    char out[96];
    (void)state;

    assert_int_equal(sip_sa_parse("10.1.2.3:5062", &p.addr), 0);
    sip_dlg_peer_text(&p, out, sizeof out);
    assert_string_equal(out, "udp:10.1.2.3:5062");
    p.proto = SIP_PROTO_TCP;
    p.conn_id = 7;
    sip_dlg_peer_text(&p, out, sizeof out);
    assert_string_equal(out, "tcp:10.1.2.3:5062");
    assert_int_equal(sip_sa_parse("[::1]:5070", &p.addr), 0);
    p.proto = SIP_PROTO_TLS;
    sip_dlg_peer_text(&p, out, sizeof out);
    assert_string_equal(out, "tls:[::1]:5070");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_is_bounded_and_refuses_a_duplicate),
        cmocka_unit_test(a_request_is_found_from_either_side_and_keeps_each_sides_cseq_and_target),
        cmocka_unit_test(an_ack_confirms_once_and_a_bye_takes_the_dialog),
        cmocka_unit_test(take_call_removes_every_fork_of_a_call_id),
        cmocka_unit_test(take_expired_takes_what_was_answered_before_and_in_batches),
        cmocka_unit_test(foreach_lists_all_or_one_call_id_up_to_a_limit),
        cmocka_unit_test(the_bye_to_each_side_has_its_target_route_tags_and_the_other_sides_next_cseq),
        cmocka_unit_test(a_peer_is_written_with_its_transport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
