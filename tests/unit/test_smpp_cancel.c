/*
 * test_smpp_cancel.c - adapters/smpp/smpp_cancel.c's hand-read bodies of
 * cancel_sm and replace_sm, checked against libsmpp34's packing of the
 * same PDUs: the fields come back as packed; a body cut anywhere, one
 * with an octet too many, and fields past their SMPP 3.4 maximum are
 * refused (the session answers those generic_nack ESME_RINVCMDLEN).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "adapters/smpp/smpp.h"
#include "gateway/gw_errors.h"

static int pack_cancel(uint8_t *buf, size_t cap, const char *id, const char *src, const char *dst)
{
    cancel_sm_t p;
    int len = 0;

    memset(&p, 0, sizeof p);
    p.command_id = CANCEL_SM;
    p.sequence_number = 7;
    strcpy((char *)p.service_type, "CMT");
    strcpy((char *)p.message_id, id);
    p.source_addr_ton = 1;
    p.source_addr_npi = 1;
    strcpy((char *)p.source_addr, src);
    p.dest_addr_ton = 2;
    p.dest_addr_npi = 1;
    strcpy((char *)p.destination_addr, dst);
    assert_int_equal(smpp34_pack(CANCEL_SM, buf, (int)cap, &len, &p), 0);
    return len;
}

static int pack_replace(uint8_t *buf, size_t cap, const char *id, const char *text)
{
    replace_sm_t p;
    int len = 0;

    memset(&p, 0, sizeof p);
    p.command_id = REPLACE_SM;
    p.sequence_number = 8;
    strcpy((char *)p.message_id, id);
    p.source_addr_ton = 1;
    p.source_addr_npi = 1;
    strcpy((char *)p.source_addr, "447700100001");
    strcpy((char *)p.validity_period, "000001000000000R");
    p.registered_delivery = 1;
    p.sm_length = (uint8_t)strlen(text);
    memcpy(p.short_message, text, p.sm_length);
    assert_int_equal(smpp34_pack(REPLACE_SM, buf, (int)cap, &len, &p), 0);
    return len;
}

static void test_cancel_sm_fields_come_back_as_libsmpp34_packed_them(void **state)
{
    uint8_t buf[512];
    smpp_cancel_req_t c;
    int len = pack_cancel(buf, sizeof buf, "01JABCDEFGHJKMNPQRSTVWXYZ0", "447700100001", "447700900001");

    (void)state;
    assert_int_equal(smpp_cancel_parse(buf, (size_t)len, &c), 0);
    assert_string_equal(c.service_type, "CMT");
    assert_string_equal(c.message_id, "01JABCDEFGHJKMNPQRSTVWXYZ0");
    assert_string_equal(c.src, "447700100001");
    assert_string_equal(c.dst, "447700900001");
    assert_int_equal(c.src_ton, 1);
    assert_int_equal(c.dst_ton, 2);
}

static void test_a_cut_or_overlong_cancel_sm_is_refused(void **state)
{
    uint8_t buf[512];
    smpp_cancel_req_t c;
    int len = pack_cancel(buf, sizeof buf, "", "447700100001", "447700900001");

    (void)state;
    for (int n = 0; n < len; n++)
        assert_int_equal(smpp_cancel_parse(buf, (size_t)n, &c), GW_EINVAL);
    buf[len] = 0;
    assert_int_equal(smpp_cancel_parse(buf, (size_t)len + 1, &c), GW_EINVAL);
    /* a source_addr of 21 characters (its maximum is 20 and the NUL) */
    len = pack_cancel(buf, sizeof buf, "", "1", "2");
    {
        uint8_t big[512];
        size_t at = 16 + 4 /* "CMT" */ + 1 /* "" */ + 2;
        memcpy(big, buf, at);
        memset(big + at, '4', 21);
        big[at + 21] = 0;
        memcpy(big + at + 22, buf + at + 2, (size_t)len - at - 2);
        assert_int_equal(smpp_cancel_parse(big, (size_t)len + 20, &c), GW_EINVAL);
    }
}

static void test_replace_sm_fields_come_back_as_libsmpp34_packed_them(void **state)
{
    uint8_t buf[512];
    smpp_replace_req_t r;
    int len = pack_replace(buf, sizeof buf, "01JABCDEFGHJKMNPQRSTVWXYZ0", "new text");

    (void)state;
    assert_int_equal(smpp_replace_parse(buf, (size_t)len, &r), 0);
    assert_string_equal(r.message_id, "01JABCDEFGHJKMNPQRSTVWXYZ0");
    assert_string_equal(r.src, "447700100001");
    assert_string_equal(r.schedule, "");
    assert_string_equal(r.validity, "000001000000000R");
    assert_int_equal(r.registered_delivery, 1);
    assert_int_equal(r.sm_length, 8);
    assert_memory_equal(r.sm, "new text", 8);
}

static void test_a_cut_or_overlong_replace_sm_is_refused(void **state)
{
    uint8_t buf[512];
    smpp_replace_req_t r;
    int len = pack_replace(buf, sizeof buf, "01JABCDEFGHJKMNPQRSTVWXYZ0", "new text");

    (void)state;
    for (int n = 0; n < len; n++)
        assert_int_equal(smpp_replace_parse(buf, (size_t)n, &r), GW_EINVAL);
    buf[len] = 0;
    assert_int_equal(smpp_replace_parse(buf, (size_t)len + 1, &r), GW_EINVAL);
    /* sm_length saying more than the body holds */
    buf[len - 8 - 1] = 9;
    assert_int_equal(smpp_replace_parse(buf, (size_t)len, &r), GW_EINVAL);
    /* sm_length 255: past SMPP 3.4's 254, even when the octets are there */
    {
        static uint8_t big[600];
        memcpy(big, buf, (size_t)len - 8);
        big[len - 8 - 1] = 255;
        memset(big + len - 8, 'x', 255);
        assert_int_equal(smpp_replace_parse(big, (size_t)len - 8 + 255, &r), GW_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_sm_fields_come_back_as_libsmpp34_packed_them),
        cmocka_unit_test(test_a_cut_or_overlong_cancel_sm_is_refused),
        cmocka_unit_test(test_replace_sm_fields_come_back_as_libsmpp34_packed_them),
        cmocka_unit_test(test_a_cut_or_overlong_replace_sm_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
