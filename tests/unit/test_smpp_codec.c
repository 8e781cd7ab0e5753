/*
 * test_smpp_codec.c - GSM 03.38 / UCS-2 / Latin-1 coding and splitting of
 * adapters/smpp/smpp_codec.c.  Pure functions; one behaviour per test.
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

static smpp_text_t enc(const char *s)
{
    smpp_text_t t;

    assert_int_equal(smpp_text_encode(s, strlen(s), &t), 0);
    return t;
}

static void test_ascii_encodes_as_gsm_one_octet_per_char(void **state)
{
    smpp_text_t t = enc("Hello @home");

    (void)state;
    assert_int_equal(t.data_coding, SMPP_DC_GSM);
    assert_int_equal(t.len, 11);
    assert_memory_equal(t.data, "Hello \x00home", 11);
    smpp_text_free(&t);
}

static void test_extension_chars_use_escape_pairs(void **state)
{
    smpp_text_t t = enc("^{}\\[~]|\xE2\x82\xAC");
    const uint8_t want[] = { 0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B,
                             0x3C, 0x1B, 0x3D, 0x1B, 0x3E, 0x1B, 0x40, 0x1B, 0x65 };

    (void)state;
    assert_int_equal(t.data_coding, SMPP_DC_GSM);
    assert_int_equal(t.len, sizeof(want));
    assert_memory_equal(t.data, want, sizeof(want));
    smpp_text_free(&t);
}

static void test_gsm_accented_letters_map_to_table(void **state)
{
    /* "£é" -> 0x01 0x05 */
    smpp_text_t t = enc("\xC2\xA3\xC3\xA9");

    (void)state;
    assert_int_equal(t.data_coding, SMPP_DC_GSM);
    assert_int_equal(t.len, 2);
    assert_int_equal(t.data[0], 0x01);
    assert_int_equal(t.data[1], 0x05);
    smpp_text_free(&t);
}

static void test_cyrillic_falls_back_to_ucs2(void **state)
{
    /* "Привет" */
    smpp_text_t t = enc("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
    const uint8_t want[] = { 0x04, 0x1F, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32, 0x04, 0x35, 0x04, 0x42 };

    (void)state;
    assert_int_equal(t.data_coding, SMPP_DC_UCS2);
    assert_int_equal(t.len, sizeof(want));
    assert_memory_equal(t.data, want, sizeof(want));
    smpp_text_free(&t);
}

static void test_emoji_becomes_surrogate_pair(void **state)
{
    /* U+1F600 -> D83D DE00 */
    smpp_text_t t = enc("a\xF0\x9F\x98\x80");
    const uint8_t want[] = { 0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00 };

    (void)state;
    assert_int_equal(t.data_coding, SMPP_DC_UCS2);
    assert_int_equal(t.len, sizeof(want));
    assert_memory_equal(t.data, want, sizeof(want));
    smpp_text_free(&t);
}

static void test_invalid_utf8_becomes_replacement_in_ucs2(void **state)
{
    smpp_text_t t = enc("a\xFF" "b");
    const uint8_t want[] = { 0x00, 0x61, 0xFF, 0xFD, 0x00, 0x62 };

    (void)state;
    assert_int_equal(t.data_coding, SMPP_DC_UCS2);
    assert_memory_equal(t.data, want, sizeof(want));
    smpp_text_free(&t);
}

static void test_overlong_and_truncated_utf8_are_invalid(void **state)
{
    size_t i = 0;
    uint32_t cp;

    (void)state;
    assert_int_equal(smpp_utf8_next("\xC0\xAF", 2, &i, &cp), -1);
    assert_int_equal(cp, 0xFFFD);
    assert_int_equal(i, 1);
    i = 0;
    assert_int_equal(smpp_utf8_next("\xE2\x82", 2, &i, &cp), -1);
    i = 0;
    assert_int_equal(smpp_utf8_next("\xED\xA0\x80", 3, &i, &cp), -1); /* a surrogate */
}

static void test_gsm_fits_rejects_non_gsm(void **state)
{
    (void)state;
    assert_true(smpp_gsm_fits("abc {x}", 7));
    assert_false(smpp_gsm_fits("\xD0\x9F", 2));
    assert_false(smpp_gsm_fits("a\x80", 2));
}

static void test_gsm_decodes_to_utf8_with_extension(void **state)
{
    const uint8_t in[] = { 0x48, 0x69, 0x00, 0x1B, 0x65, 0x01, 0x10 };
    size_t n;
    char *s = smpp_text_decode(SMPP_DC_GSM, in, sizeof(in), &n);

    (void)state;
    assert_non_null(s);
    assert_string_equal(s, "Hi@\xE2\x82\xAC\xC2\xA3\xCE\x94");
    assert_int_equal(n, strlen(s));
    free(s);
}

static void test_ucs2_decodes_surrogates_and_lone_ones(void **state)
{
    const uint8_t in[] = { 0xD8, 0x3D, 0xDE, 0x00, 0xDC, 0x00, 0x00, 0x41 };
    size_t n;
    char *s = smpp_text_decode(SMPP_DC_UCS2, in, sizeof(in), &n);

    (void)state;
    assert_string_equal(s, "\xF0\x9F\x98\x80\xEF\xBF\xBD" "A");
    free(s);
}

static void test_latin1_decodes_high_octets(void **state)
{
    const uint8_t in[] = { 'c', 0xE9 };
    size_t n;
    char *s = smpp_text_decode(SMPP_DC_LATIN1, in, sizeof(in), &n);

    (void)state;
    assert_string_equal(s, "c\xC3\xA9");
    free(s);
}

static void test_binary_coding_is_not_decoded(void **state)
{
    size_t n;

    (void)state;
    assert_true(smpp_text_is_binary(SMPP_DC_BINARY));
    assert_false(smpp_text_is_binary(SMPP_DC_UCS2));
    assert_null(smpp_text_decode(SMPP_DC_BINARY, (const uint8_t *)"x", 1, &n));
}

/* 3GPP TS 23.038 coding groups whose alphabet bits say GSM 7-bit: the
 * general group with a message class (0x10-0x13), the reserved alphabet
 * (0x1C, read as GSM), message waiting (0xC0-0xDF), data coding /
 * message class with bit 2 clear (0xF0-0xF3). */
static void test_dcs_class_bits_decode_as_gsm(void **state)
{
    static const int dcs[] = { 0x10, 0x11, 0x12, 0x13, 0x1C, 0x1F, 0xC0, 0xCF, 0xD0, 0xDF,
                               0xF0, 0xF1, 0xF2, 0xF3, 0xF8, 0xFB };
    const uint8_t in[] = { 0x48, 0x69, 0x00, 0x1B, 0x65 };
    size_t k, n;
    char *s;

    (void)state;
    for (k = 0; k < sizeof dcs / sizeof dcs[0]; k++) {
        assert_int_equal(smpp_dcs_alphabet(dcs[k]), SMPP_DC_GSM);
        assert_false(smpp_text_is_binary(dcs[k]));
        s = smpp_text_decode(dcs[k], in, sizeof in, &n);
        assert_non_null(s);
        assert_string_equal(s, "Hi@\xE2\x82\xAC");
        free(s);
    }
}

/* Alphabet bits 10 of the general group (0x18-0x1B) and the UCS2 message
 * waiting group (0xE0-0xEF) are UTF-16BE. */
static void test_dcs_group_ucs2_decodes_as_ucs2(void **state)
{
    static const int dcs[] = { 0x18, 0x19, 0x1A, 0x1B, 0xE0, 0xE8, 0xEF };
    const uint8_t in[] = { 0x04, 0x1F, 0xD8, 0x3D, 0xDE, 0x00 };
    size_t k, n;
    char *s;

    (void)state;
    for (k = 0; k < sizeof dcs / sizeof dcs[0]; k++) {
        assert_int_equal(smpp_dcs_alphabet(dcs[k]), SMPP_DC_UCS2);
        s = smpp_text_decode(dcs[k], in, sizeof in, &n);
        assert_non_null(s);
        assert_string_equal(s, "\xD0\x9F\xF0\x9F\x98\x80");
        free(s);
    }
}

/* 8-bit data (0x14-0x17, 0xF4-0xF7, 0xFC-0xFF) and compressed text
 * (bit 5 of 0x20-0x3F) are not decoded. */
static void test_dcs_8bit_and_compressed_stay_binary(void **state)
{
    static const int dcs[] = { 0x14, 0x15, 0x16, 0x17, 0xF4, 0xF5, 0xF6, 0xF7, 0xFC, 0xFF,
                               0x20, 0x21, 0x30, 0x38, 0x3F };
    size_t k, n;

    (void)state;
    for (k = 0; k < sizeof dcs / sizeof dcs[0]; k++) {
        assert_int_equal(smpp_dcs_alphabet(dcs[k]), SMPP_DC_BINARY);
        assert_true(smpp_text_is_binary(dcs[k]));
        assert_null(smpp_text_decode(dcs[k], (const uint8_t *)"x", 1, &n));
    }
}

/* SMPP 3.4's own codings 0..14 keep their meaning (only 0, 1, 3 and 8 are
 * text we decode); 0x0F and 0x40-0xBF stay binary as before. */
static void test_dcs_smpp34_codings_keep_their_meaning(void **state)
{
    int dc;

    (void)state;
    assert_int_equal(smpp_dcs_alphabet(0), SMPP_DC_GSM);
    assert_int_equal(smpp_dcs_alphabet(1), SMPP_DC_IA5);
    assert_int_equal(smpp_dcs_alphabet(3), SMPP_DC_LATIN1);
    assert_int_equal(smpp_dcs_alphabet(8), SMPP_DC_UCS2);
    for (dc = 0; dc <= 0x0F; dc++)
        if (dc != 0 && dc != 1 && dc != 3 && dc != 8)
            assert_int_equal(smpp_dcs_alphabet(dc), SMPP_DC_BINARY);
    for (dc = 0x40; dc <= 0xBF; dc++)
        assert_int_equal(smpp_dcs_alphabet(dc), SMPP_DC_BINARY);
    assert_int_equal(smpp_dcs_alphabet(-1), SMPP_DC_BINARY);
}

static void test_160_gsm_chars_fit_one_part(void **state)
{
    char buf[161];
    smpp_text_t t;
    size_t offs[SMPP_MAX_PARTS + 1];

    (void)state;
    memset(buf, 'a', 160);
    buf[160] = 0;
    t = enc(buf);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 1);
    assert_int_equal(offs[1], 160);
    smpp_text_free(&t);
}

static void test_161_gsm_chars_split_153_and_8(void **state)
{
    char buf[162];
    smpp_text_t t;
    size_t offs[SMPP_MAX_PARTS + 1];

    (void)state;
    memset(buf, 'a', 161);
    buf[161] = 0;
    t = enc(buf);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 2);
    assert_int_equal(offs[1], 153);
    assert_int_equal(offs[2], 161);
    smpp_text_free(&t);
}

static void test_split_never_separates_escape_pair(void **state)
{
    char buf[200];
    smpp_text_t t;
    size_t offs[SMPP_MAX_PARTS + 1];

    (void)state;
    /* 152 'a' then '{' : the escape would be octet 153 */
    memset(buf, 'a', 152);
    strcpy(buf + 152, "{bbbbbbbbbbbbbbbbbbbb");
    t = enc(buf);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 2);
    assert_int_equal(offs[1], 152);
    assert_int_equal(t.data[152], 0x1B);
    smpp_text_free(&t);
}

static void test_split_never_separates_surrogate_pair(void **state)
{
    char buf[400];
    smpp_text_t t;
    size_t offs[SMPP_MAX_PARTS + 1], i, n = 0;

    (void)state;
    /* 66 Cyrillic letters (132 octets) then an emoji across octet 134 */
    for (i = 0; i < 66; i++) {
        buf[n++] = '\xD0';
        buf[n++] = '\x9F';
    }
    memcpy(buf + n, "\xF0\x9F\x98\x80", 4);
    n += 4;
    memset(buf + n, 'z', 20);
    n += 20;
    buf[n] = 0;
    t = enc(buf);
    assert_int_equal(t.data_coding, SMPP_DC_UCS2);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 2);
    assert_int_equal(offs[1], 132);
    assert_int_equal(t.data[132], 0xD8);
    smpp_text_free(&t);
}

static void test_70_ucs2_chars_fit_71_do_not(void **state)
{
    char buf[300];
    smpp_text_t t;
    size_t offs[SMPP_MAX_PARTS + 1], i;

    (void)state;
    for (i = 0; i < 71; i++) {
        buf[2 * i] = '\xD0';
        buf[2 * i + 1] = '\x9F';
    }
    buf[140] = 0;
    t = enc(buf);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 1);
    smpp_text_free(&t);
    buf[140] = '\xD0';
    buf[142] = 0;
    t = enc(buf);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 2);
    assert_int_equal(offs[1], SMPP_UCS2_PART);
    smpp_text_free(&t);
}

static void test_too_many_parts_is_refused(void **state)
{
    static char buf[153 * 20];
    smpp_text_t t;
    size_t offs[SMPP_MAX_PARTS + 1];

    (void)state;
    memset(buf, 'a', sizeof(buf) - 1);
    t = enc(buf);
    assert_int_equal(smpp_text_split(&t, offs, SMPP_MAX_PARTS + 1), 0);
    smpp_text_free(&t);
}

static void test_receipt_text_fields_are_read_up_to_a_space(void **state)
{
    static const char r[] = "id:smsc-77 sub:001 dlvrd:001 submit date:2612011200 "
                            "done date:2612011201 stat:DELIVRD err:042 text:hi id:fake";
    char id[66], stat[16];
    int err = -1;

    (void)state;
    assert_int_equal(smpp_receipt_parse((const uint8_t *)r, sizeof r - 1, id, sizeof id, stat,
                                        sizeof stat, &err),
                     0);
    assert_string_equal(id, "smsc-77"); /* the first id:, not the one in text: */
    assert_string_equal(stat, "DELIVRD");
    assert_int_equal(err, 42);
    /* short_message is not NUL-terminated: the length bounds the scan */
    assert_int_equal(smpp_receipt_parse((const uint8_t *)"id:abc stat:UNDELIVxxx", 19, id,
                                        sizeof id, stat, sizeof stat, &err),
                     0);
    assert_string_equal(stat, "UNDELIV");
    assert_int_equal(err, 0);
    /* a field glued to another word is no field; the value is bounded */
    assert_int_equal(smpp_receipt_parse((const uint8_t *)"xid:1 stat:DELIVRD", 18, id, sizeof id,
                                        stat, sizeof stat, &err),
                     GW_EINVAL);
    assert_int_equal(smpp_receipt_parse((const uint8_t *)"id:1 stat: err:0", 16, id, sizeof id,
                                        stat, sizeof stat, &err),
                     GW_EINVAL);
    assert_int_equal(smpp_receipt_parse((const uint8_t *)"id:0123456789 stat:ACCEPTD", 26, id, 5,
                                        stat, sizeof stat, &err),
                     0);
    assert_string_equal(id, "0123");
}

/* smpp_env_fill on a short_message of len octets with esm_class and
 * data_coding; env is new, the caller unrefs it. */
static int fill(const uint8_t *sm, size_t len, uint8_t esm_class, uint8_t dc,
                gw_envelope_t **env)
{
    smpp_sm_fields_t f = { .src = "4915112345", .dst = "4915198765", .src_ton = 1,
                           .src_npi = 1, .dst_ton = 1, .dst_npi = 1, .esm_class = esm_class,
                           .data_coding = dc, .sm = sm, .sm_len = len, .message_state = -1,
                           .sar_ref = -1, .sar_total = -1, .sar_seq = -1 };

    *env = gw_env_new();
    assert_non_null(*env);
    return smpp_env_fill(*env, &f);
}

static const char *concat_tag(const gw_envelope_t *env)
{
    return json_string_value(json_object_get(env->tags, "concat"));
}

/* A deliver_sm of data_coding 0x11 (class 1, GSM) becomes GSM text; the
 * envelope keeps the value as sent. */
static void test_dcs_class_gsm_fills_text_and_keeps_data_coding(void **state)
{
    const uint8_t sm[] = { 0x48, 0x69, 0x00 };
    gw_envelope_t *env;

    (void)state;
    assert_int_equal(fill(sm, sizeof sm, 0, 0x11, &env), 0);
    assert_false(env->binary);
    assert_string_equal(env->content_type, "text/plain");
    assert_string_equal(env->body, "Hi@");
    assert_int_equal(env->data_coding, 0x11);
    gw_env_unref(env);
    assert_int_equal(fill(sm, sizeof sm, 0, 0xF5, &env), 0);
    assert_true(env->binary);
    assert_int_equal(env->body_len, 3);
    assert_int_equal(env->data_coding, 0xF5);
    gw_env_unref(env);
}

static void test_udh_8bit_reference_recorded(void **state)
{
    const uint8_t sm[] = { 0x05, 0x00, 0x03, 0xA7, 0x03, 0x02, 'h', 'i' };
    gw_envelope_t *env;

    (void)state;
    assert_int_equal(fill(sm, sizeof sm, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), 0);
    assert_string_equal(concat_tag(env), "167/3/2");
    assert_string_equal(env->body, "hi");
    gw_env_unref(env);
}

/* IEI 0x08: a 16-bit reference (hi, lo), total, seq; found after another
 * IE, and recorded like the 8-bit one. */
static void test_udh_16bit_reference_recorded(void **state)
{
    const uint8_t sm[] = { 0x09, 0x24, 0x01, 0x01,                 /* national language */
                           0x08, 0x04, 0xBE, 0xEF, 0x04, 0x01,     /* concat, ref 0xBEEF */
                           0x04, 0x1F };                           /* UCS-2 "П" */
    const uint8_t top[] = { 0x06, 0x08, 0x04, 0xFF, 0xFF, 0x02, 0x02, 'x' };
    gw_envelope_t *env;

    (void)state;
    assert_int_equal(fill(sm, sizeof sm, SMPP_ESM_UDHI, 0x18, &env), 0);
    assert_string_equal(concat_tag(env), "48879/4/1");
    assert_string_equal(env->body, "\xD0\x9F");
    gw_env_unref(env);
    assert_int_equal(fill(top, sizeof top, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), 0);
    assert_string_equal(concat_tag(env), "65535/2/2");
    assert_string_equal(env->body, "x");
    gw_env_unref(env);
}

/* An IE whose length runs past the UDHL, or an IEI without its length
 * octet, is refused; nothing past the UDH is read as IE data. */
static void test_udh_ie_past_header_refused(void **state)
{
    /* UDHL 5 but the 16-bit concat IE needs 6 octets */
    const uint8_t longer[] = { 0x05, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 'a', 'b' };
    /* UDHL 3: one whole IE, then a lone IEI */
    const uint8_t lone[] = { 0x03, 0x24, 0x00, 0x00, 'a' };
    /* an 8-bit concat IE one octet short of its UDHL */
    const uint8_t short8[] = { 0x04, 0x00, 0x03, 0x01, 0x02, 0x01 };
    gw_envelope_t *env;

    (void)state;
    assert_int_equal(fill(longer, sizeof longer, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), GW_EINVAL);
    assert_null(concat_tag(env));
    gw_env_unref(env);
    assert_int_equal(fill(lone, sizeof lone, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), GW_EINVAL);
    gw_env_unref(env);
    assert_int_equal(fill(short8, sizeof short8, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), GW_EINVAL);
    assert_null(concat_tag(env));
    gw_env_unref(env);
}

static void test_udh_longer_than_message_refused(void **state)
{
    const uint8_t sm[] = { 0x06, 0x00, 0x03, 0x01, 0x02, 0x01 };
    const uint8_t empty_text[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x01 };
    gw_envelope_t *env;

    (void)state;
    assert_int_equal(fill(sm, sizeof sm, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), GW_EINVAL);
    gw_env_unref(env);
    assert_int_equal(fill(sm, 0, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), GW_EINVAL);
    gw_env_unref(env);
    /* a UDH that fills the whole message leaves an empty text */
    assert_int_equal(fill(empty_text, sizeof empty_text, SMPP_ESM_UDHI, SMPP_DC_GSM, &env), 0);
    assert_string_equal(concat_tag(env), "1/2/1");
    assert_int_equal(env->body_len, 0);
    gw_env_unref(env);
}

/* data_coding 0 per connector (conf "dc0"): Latin-1 and ASCII defaults. */
static void test_dc0_names_parse_and_others_are_refused(void **state)
{
    (void)state;
    assert_int_equal(smpp_dc0_parse(NULL), SMPP_DC0_GSM);
    assert_int_equal(smpp_dc0_parse("gsm"), SMPP_DC0_GSM);
    assert_int_equal(smpp_dc0_parse("latin1"), SMPP_DC0_LATIN1);
    assert_int_equal(smpp_dc0_parse("ascii"), SMPP_DC0_ASCII);
    assert_int_equal(smpp_dc0_parse("ia5"), SMPP_DC0_ASCII);
    assert_int_equal(smpp_dc0_parse("utf8"), -1);
    assert_int_equal(smpp_dc0_parse(""), -1);
}

static void test_dc0_latin1_decodes_data_coding_0_as_latin1(void **state)
{
    static const uint8_t in[] = { 'c', 'a', 'f', 0xE9, ' ', 0xA3, '5', '@' };
    size_t n;
    char *s;

    (void)state;
    s = smpp_text_decode_dc0(0, SMPP_DC0_LATIN1, in, sizeof in, &n);
    assert_non_null(s);
    assert_string_equal(s, "caf\u00e9 \u00a35@");
    free(s);
    /* the same octets as GSM septets (the default) mean something else */
    s = smpp_text_decode_dc0(0, SMPP_DC0_GSM, in, sizeof in, &n);
    assert_non_null(s);
    assert_string_not_equal(s, "caf\u00e9 \u00a35@");
    free(s);
    /* only the value 0: an explicit GSM coding group stays GSM */
    s = smpp_text_decode_dc0(0xF0, SMPP_DC0_LATIN1, (const uint8_t *)"\x00", 1, &n);
    assert_string_equal(s, "@");
    free(s);
}

static void test_dc0_latin1_encodes_latin1_text_as_data_coding_0(void **state)
{
    smpp_text_t t;

    (void)state;
    assert_int_equal(smpp_text_encode_dc0("caf\u00e9", strlen("caf\u00e9"), SMPP_DC0_LATIN1, &t), 0);
    assert_int_equal(t.data_coding, 0);
    assert_int_equal(t.len, 4);
    assert_memory_equal(t.data, "caf\xe9", 4);
    smpp_text_free(&t);
    /* the euro sign is not Latin-1: UCS-2 */
    assert_int_equal(smpp_text_encode_dc0("5 \u20ac", strlen("5 \u20ac"), SMPP_DC0_LATIN1, &t), 0);
    assert_int_equal(t.data_coding, SMPP_DC_UCS2);
    smpp_text_free(&t);
    /* GSM (the default): e acute is septet 0x05 */
    assert_int_equal(smpp_text_encode_dc0("\u00e9", strlen("\u00e9"), SMPP_DC0_GSM, &t), 0);
    assert_int_equal(t.data_coding, 0);
    assert_int_equal(t.len, 1);
    assert_int_equal(t.data[0], 0x05);
    smpp_text_free(&t);
}

static void test_dc0_ascii_keeps_ascii_and_sends_the_rest_as_ucs2(void **state)
{
    smpp_text_t t;

    (void)state;
    assert_int_equal(smpp_text_encode_dc0("a@b", 3, SMPP_DC0_ASCII, &t), 0);
    assert_int_equal(t.data_coding, 0);
    assert_memory_equal(t.data, "a@b", 3); /* '@' stays 0x40, not GSM's 0x00 */
    smpp_text_free(&t);
    assert_int_equal(smpp_text_encode_dc0("\u00e9", strlen("\u00e9"), SMPP_DC0_ASCII, &t), 0);
    assert_int_equal(t.data_coding, SMPP_DC_UCS2);
    smpp_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dc0_names_parse_and_others_are_refused),
        cmocka_unit_test(test_dc0_latin1_decodes_data_coding_0_as_latin1),
        cmocka_unit_test(test_dc0_latin1_encodes_latin1_text_as_data_coding_0),
        cmocka_unit_test(test_dc0_ascii_keeps_ascii_and_sends_the_rest_as_ucs2),
        cmocka_unit_test(test_ascii_encodes_as_gsm_one_octet_per_char),
        cmocka_unit_test(test_extension_chars_use_escape_pairs),
        cmocka_unit_test(test_gsm_accented_letters_map_to_table),
        cmocka_unit_test(test_cyrillic_falls_back_to_ucs2),
        cmocka_unit_test(test_emoji_becomes_surrogate_pair),
        cmocka_unit_test(test_invalid_utf8_becomes_replacement_in_ucs2),
        cmocka_unit_test(test_overlong_and_truncated_utf8_are_invalid),
        cmocka_unit_test(test_gsm_fits_rejects_non_gsm),
        cmocka_unit_test(test_gsm_decodes_to_utf8_with_extension),
        cmocka_unit_test(test_ucs2_decodes_surrogates_and_lone_ones),
        cmocka_unit_test(test_latin1_decodes_high_octets),
        cmocka_unit_test(test_binary_coding_is_not_decoded),
        cmocka_unit_test(test_dcs_class_bits_decode_as_gsm),
        cmocka_unit_test(test_dcs_group_ucs2_decodes_as_ucs2),
        cmocka_unit_test(test_dcs_8bit_and_compressed_stay_binary),
        cmocka_unit_test(test_dcs_smpp34_codings_keep_their_meaning),
        cmocka_unit_test(test_160_gsm_chars_fit_one_part),
        cmocka_unit_test(test_161_gsm_chars_split_153_and_8),
        cmocka_unit_test(test_split_never_separates_escape_pair),
        cmocka_unit_test(test_split_never_separates_surrogate_pair),
        cmocka_unit_test(test_70_ucs2_chars_fit_71_do_not),
        cmocka_unit_test(test_too_many_parts_is_refused),
        cmocka_unit_test(test_receipt_text_fields_are_read_up_to_a_space),
        cmocka_unit_test(test_dcs_class_gsm_fills_text_and_keeps_data_coding),
        cmocka_unit_test(test_udh_8bit_reference_recorded),
        cmocka_unit_test(test_udh_16bit_reference_recorded),
        cmocka_unit_test(test_udh_ie_past_header_refused),
        cmocka_unit_test(test_udh_longer_than_message_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
