/*
 * test_smpp_out.c - an envelope as outgoing SMPP parts
 * (adapters/smpp/smpp_out.c): long-message modes, the sender's own
 * segmentation kept, a stable reference, reports as receipts, the
 * sender's coding, message class and validity (tags "coding",
 * "sms_class", "validity_s"), and the id
 * form receipts match on.  Pure functions; one behaviour per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "adapters/smpp/smpp.h"
#include "gateway/gw_errors.h"

/* An envelope from 4930111 to 447700900001 with body text. */
static gw_envelope_t *env_with(const char *text)
{
    gw_envelope_t *e = gw_env_new();

    assert_non_null(e);
    assert_int_equal(gw_addr_normalise(&e->from, "4930111", 1, 1), 0);
    assert_int_equal(gw_addr_normalise(&e->to, "447700900001", 1, 1), 0);
    assert_int_equal(gw_env_set_str(&e->body, text, (size_t)-1), 0);
    e->body_len = strlen(text);
    return e;
}

static char *text_of(size_t n)
{
    char *s = malloc(n + 1);

    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n] = '\0';
    return s;
}

static void test_long_names_parse_and_unknown_is_refused(void **state)
{
    (void)state;
    assert_int_equal(smpp_long_parse("udh"), SMPP_LONG_UDH);
    assert_int_equal(smpp_long_parse("udh16"), SMPP_LONG_UDH16);
    assert_int_equal(smpp_long_parse("sar"), SMPP_LONG_SAR);
    assert_int_equal(smpp_long_parse("payload"), SMPP_LONG_PAYLOAD);
    assert_int_equal(smpp_long_parse("UDH"), -1);
    assert_int_equal(smpp_long_parse(NULL), -1);
}

static void test_udh8_parts_share_one_reference_numbered_from_one(void **state)
{
    char *body = text_of(400);
    gw_envelope_t *e = env_with(body);
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(o.nparts, 3); /* 153 GSM characters a part */
    for (size_t i = 0; i < o.nparts; i++) {
        assert_int_equal(smpp_out_part(&o, i, e, NULL, &b, &f), 0);
        assert_int_equal(f.esm_class & SMPP_ESM_UDHI, SMPP_ESM_UDHI);
        assert_int_equal(b.sm[0], 5);
        assert_int_equal(b.sm[1], 0x00);
        assert_int_equal(b.sm[3], o.ref);
        assert_int_equal(b.sm[4], 3);
        assert_int_equal(b.sm[5], i + 1);
        assert_true(f.sm_len - 6 <= 153);
    }
    smpp_out_free(&o);
    gw_env_unref(e);
    free(body);
}

static void test_udh16_parts_take_152_characters_and_a_16_bit_reference(void **state)
{
    char *body = text_of(400);
    gw_envelope_t *e = env_with(body);
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH16), 0);
    assert_int_equal(o.nparts, 3);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(b.sm[0], 6);
    assert_int_equal(b.sm[1], 0x08);
    assert_int_equal(((unsigned)b.sm[3] << 8) | b.sm[4], o.ref);
    assert_int_equal(f.sm_len, 7 + 152);
    smpp_out_free(&o);
    gw_env_unref(e);
    free(body);
}

static void test_sar_parts_carry_tlvs_and_no_udh(void **state)
{
    char *body = text_of(400);
    gw_envelope_t *e = env_with(body);
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_SAR), 0);
    assert_int_equal(o.nparts, 3); /* 160 a part: no header in the text */
    assert_int_equal(smpp_out_part(&o, 2, e, NULL, &b, &f), 0);
    assert_int_equal(f.esm_class & SMPP_ESM_UDHI, 0);
    assert_int_equal(f.sar_ref, (int)o.ref);
    assert_int_equal(f.sar_total, 3);
    assert_int_equal(f.sar_seq, 3);
    assert_int_equal(f.sm_len, 400 - 320);
    smpp_out_free(&o);
    gw_env_unref(e);
    free(body);
}

static void test_payload_mode_sends_one_pdu_with_the_whole_text(void **state)
{
    char *body = text_of(400);
    gw_envelope_t *e = env_with(body);
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_PAYLOAD), 0);
    assert_int_equal(o.nparts, 1);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(f.sm_len, 0);
    assert_int_equal(f.payload_len, 400);
    assert_memory_equal(f.payload, body, 400);
    assert_int_equal(f.esm_class & SMPP_ESM_UDHI, 0);
    smpp_out_free(&o);
    gw_env_unref(e);
    free(body);
}

static void test_the_reference_is_the_same_for_the_same_message(void **state)
{
    char *body = text_of(300);
    gw_envelope_t *e = env_with(body);
    smpp_out_t a, c;

    (void)state;
    assert_int_equal(smpp_out_prepare(&a, e, SMPP_LONG_UDH), 0);
    assert_int_equal(smpp_out_prepare(&c, e, SMPP_LONG_UDH), 0);
    assert_int_equal(a.ref, c.ref); /* a retry sends what the first attempt did */
    smpp_out_free(&a);
    smpp_out_free(&c);
    gw_env_unref(e);
    free(body);
}

static void test_a_senders_own_part_keeps_its_reference_total_and_number(void **state)
{
    gw_envelope_t *e = env_with("part two of a long one");
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    assert_int_equal(gw_env_set_tag(e, "concat", "90/3/2"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(b.sm[1], 0x00);
    assert_int_equal(b.sm[3], 90);
    assert_int_equal(b.sm[4], 3);
    assert_int_equal(b.sm[5], 2);
    assert_memory_equal(b.sm + 6, "part two", 8);
    smpp_out_free(&o);
    /* a reference past 255 needs the 16-bit element */
    assert_int_equal(gw_env_set_tag(e, "concat", "4660/2/1"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(b.sm[1], 0x08);
    assert_int_equal(((unsigned)b.sm[3] << 8) | b.sm[4], 4660);
    smpp_out_free(&o);
    /* nonsense is not kept: one plain part */
    assert_int_equal(gw_env_set_tag(e, "concat", "1/2/3"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(f.esm_class & SMPP_ESM_UDHI, 0);
    smpp_out_free(&o);
    gw_env_unref(e);
}

static void test_a_kept_part_on_a_payload_connector_goes_as_that_part_with_its_udh(void **state)
{
    gw_envelope_t *e = env_with("one part of three");
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    /* found by fuzz_smpp_parts: the UDH went into short_message while the
     * text went into message_payload, so the far side cut the text */
    assert_int_equal(gw_env_set_tag(e, "concat", "7/3/1"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_PAYLOAD), 0);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_null(f.payload);
    assert_int_equal(f.esm_class & SMPP_ESM_UDHI, SMPP_ESM_UDHI);
    assert_int_equal(b.sm[3], 7);
    assert_memory_equal(b.sm + 6, "one part of three", 17);
    smpp_out_free(&o);
    gw_env_unref(e);
}

/* A binary envelope of n octets 0, 1, 2, ... with data_coding 4. */
static gw_envelope_t *env_binary(size_t n)
{
    gw_envelope_t *e = env_with("");
    char bytes[200];

    for (size_t i = 0; i < n; i++)
        bytes[i] = (char)i;
    assert_int_equal(gw_env_set_str(&e->body, bytes, n), 0);
    e->body_len = n;
    e->binary = 1;
    e->data_coding = 4;
    return e;
}

static void test_a_binary_messages_udh_goes_in_front_with_udhi(void **state)
{
    static const uint8_t udh[] = { 6, 5, 4, 0x15, 0x81, 0, 0 };
    gw_envelope_t *e = env_binary(133);
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    assert_int_equal(gw_env_set_tag(e, "udh", "06050415810000"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_SAR), 0);
    assert_int_equal(o.nparts, 1);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(f.esm_class, SMPP_ESM_UDHI);
    assert_int_equal(f.data_coding, 4);
    assert_int_equal(f.sar_ref, -1);
    assert_int_equal(f.sm_len, 140);
    assert_memory_equal(b.sm, udh, sizeof udh);
    assert_int_equal(b.sm[7], 0);
    assert_int_equal(b.sm[139], 132);
    smpp_out_free(&o);
    gw_env_unref(e);
}

static void test_a_binary_message_past_one_sms_or_with_a_bad_udh_is_refused(void **state)
{
    gw_envelope_t *e = env_binary(134);
    smpp_out_t o;

    (void)state;
    assert_int_equal(gw_env_set_tag(e, "udh", "06050415810000"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), GW_EINVAL); /* 7 + 134 */
    smpp_out_free(&o);
    assert_int_equal(gw_env_set_tag(e, "udh", "0705041581"), 0); /* UDHL past its end */
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), GW_EINVAL);
    smpp_out_free(&o);
    gw_env_unref(e);
}

static void test_a_report_goes_out_as_a_receipt_with_its_tlvs(void **state)
{
    gw_envelope_t *e = env_with("id:01ABC sub:001 dlvrd:000 stat:UNDELIV err:011 text:x");
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    (void)state;
    e->registered_delivery = 1;
    assert_int_equal(gw_env_set_str(&e->report.of, "01ABC", (size_t)-1), 0);
    assert_int_equal(gw_env_set_str(&e->report.stat, "UNDELIV", (size_t)-1), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    assert_int_equal(f.esm_class & SMPP_ESM_RECEIPT, SMPP_ESM_RECEIPT);
    assert_int_equal(f.registered_delivery, 0);
    assert_string_equal(f.receipted_id, "01ABC");
    assert_int_equal(f.message_state, 5);
    smpp_out_free(&o);
    gw_env_unref(e);
}

static void test_the_tag_coding_ucs2_sends_ucs2_text_gsm_could_carry(void **state)
{
    gw_envelope_t *e = env_with("Hi");
    smpp_out_t o;

    (void)state;
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(o.text.data_coding, 0);
    smpp_out_free(&o);
    assert_int_equal(gw_env_set_tag(e, "coding", "ucs2"), 0);
    assert_int_equal(smpp_out_prepare(&o, e, SMPP_LONG_UDH), 0);
    assert_int_equal(o.text.data_coding, 8);
    assert_int_equal(o.text.len, 4);
    assert_memory_equal(o.text.data, "\0H\0i", 4);
    smpp_out_free(&o);
    gw_env_unref(e);
}

/* Part 0's data_coding for e prepared toward dc0. */
static int dc_out(const gw_envelope_t *e, int dc0)
{
    smpp_out_t o;
    smpp_out_bufs_t b;
    smpp_sm_fields_t f;

    assert_int_equal(smpp_out_prepare_dc0(&o, e, SMPP_LONG_UDH, dc0), 0);
    assert_int_equal(smpp_out_part(&o, 0, e, NULL, &b, &f), 0);
    smpp_out_free(&o);
    return f.data_coding;
}

static void test_the_message_class_goes_back_into_data_coding(void **state)
{
    gw_envelope_t *e = env_with("Flash");

    (void)state;
    assert_int_equal(dc_out(e, SMPP_DC0_GSM), 0x00); /* no class: as before */
    assert_int_equal(gw_env_set_tag(e, "sms_class", "0"), 0);
    assert_int_equal(dc_out(e, SMPP_DC0_GSM), 0xF0);
    assert_int_equal(dc_out(e, SMPP_DC0_LATIN1), 0x00); /* Latin-1 octets: no class to say */
    assert_int_equal(gw_env_set_tag(e, "coding", "ucs2"), 0);
    assert_int_equal(dc_out(e, SMPP_DC0_GSM), 0x18);
    assert_int_equal(dc_out(e, SMPP_DC0_LATIN1), 0x18);
    assert_int_equal(gw_env_set_tag(e, "sms_class", "2"), 0);
    assert_int_equal(dc_out(e, SMPP_DC0_GSM), 0x1A);
    assert_int_equal(gw_env_set_tag(e, "sms_class", "7"), 0); /* not a class */
    assert_int_equal(dc_out(e, SMPP_DC0_GSM), 0x08);
    gw_env_unref(e);
}

static void test_data_coding_classes_are_read_from_the_3gpp_groups_only(void **state)
{
    (void)state;
    assert_int_equal(smpp_dcs_class(0x00), -1);
    assert_int_equal(smpp_dcs_class(0x08), -1);
    assert_int_equal(smpp_dcs_class(0x10), 0);
    assert_int_equal(smpp_dcs_class(0x19), 1);
    assert_int_equal(smpp_dcs_class(0xF0), 0);
    assert_int_equal(smpp_dcs_class(0xF7), 3);
    assert_int_equal(smpp_dcs_class(0xE0), -1);
    assert_int_equal(smpp_dcs_with_class(SMPP_DC_LATIN1, 0), SMPP_DC_LATIN1);
    assert_int_equal(smpp_dcs_with_class(SMPP_DC_GSM, -1), SMPP_DC_GSM);
}

static void test_validity_is_sent_relative_only_when_the_sender_set_one(void **state)
{
    gw_envelope_t *e = env_with("Hi");
    smpp_out_bufs_t b;

    (void)state;
    e->expires_at = 1000000;
    assert_null(smpp_out_validity(e, 0, &b)); /* the default validity is the SMSC's */
    assert_int_equal(gw_env_set_tag(e, "validity_s", "90061"), 0);
    e->expires_at = 90061 * 1000LL; /* 1 day, 1 h, 1 min, 1 s from 0 */
    assert_string_equal(smpp_out_validity(e, 0, &b), "000001010101000R");
    assert_string_equal(smpp_out_validity(e, 90061 * 1000LL + 5, &b), "000000000001000R");
    gw_env_unref(e);
}

static void test_message_states_and_their_words_map_both_ways(void **state)
{
    (void)state;
    assert_int_equal(smpp_message_state("DELIVRD"), 2);
    assert_int_equal(smpp_message_state("REJECTD"), 8);
    assert_int_equal(smpp_message_state("nonsense"), 7);
    assert_string_equal(smpp_message_state_name(2), "DELIVRD");
    assert_string_equal(smpp_message_state_name(5), "UNDELIV");
    assert_null(smpp_message_state_name(0));
    assert_null(smpp_message_state_name(9));
}

static void test_ids_match_without_case_or_leading_zeros(void **state)
{
    char out[16];

    (void)state;
    smpp_id_norm("00AB12", out, sizeof out);
    assert_string_equal(out, "ab12");
    smpp_id_norm("000", out, sizeof out);
    assert_string_equal(out, "0");
    smpp_id_norm("smsc-7", out, sizeof out);
    assert_string_equal(out, "smsc-7");
    smpp_id_norm("", out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_names_parse_and_unknown_is_refused),
        cmocka_unit_test(test_udh8_parts_share_one_reference_numbered_from_one),
        cmocka_unit_test(test_udh16_parts_take_152_characters_and_a_16_bit_reference),
        cmocka_unit_test(test_sar_parts_carry_tlvs_and_no_udh),
        cmocka_unit_test(test_payload_mode_sends_one_pdu_with_the_whole_text),
        cmocka_unit_test(test_the_reference_is_the_same_for_the_same_message),
        cmocka_unit_test(test_a_senders_own_part_keeps_its_reference_total_and_number),
        cmocka_unit_test(test_a_kept_part_on_a_payload_connector_goes_as_that_part_with_its_udh),
        cmocka_unit_test(test_a_binary_messages_udh_goes_in_front_with_udhi),
        cmocka_unit_test(test_a_binary_message_past_one_sms_or_with_a_bad_udh_is_refused),
        cmocka_unit_test(test_a_report_goes_out_as_a_receipt_with_its_tlvs),
        cmocka_unit_test(test_the_tag_coding_ucs2_sends_ucs2_text_gsm_could_carry),
        cmocka_unit_test(test_the_message_class_goes_back_into_data_coding),
        cmocka_unit_test(test_data_coding_classes_are_read_from_the_3gpp_groups_only),
        cmocka_unit_test(test_validity_is_sent_relative_only_when_the_sender_set_one),
        cmocka_unit_test(test_message_states_and_their_words_map_both_ways),
        cmocka_unit_test(test_ids_match_without_case_or_leading_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
