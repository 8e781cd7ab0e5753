/*
 * test_trace.c - the trace bus: the no-trace path, filters, learned ids,
 * SMPP request/response pairing, ring bounds, expiry and limits, the
 * system_id filter, gw_trace_wants, and the long poll (gw_trace_read
 * waiting for a record, its wait ending, trace stop waking it).
 *
 * Allocations are counted through the linker (--wrap=malloc,calloc,realloc
 * for this binary only, tests/module.mk): "no allocation" is measured, not
 * assumed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <pthread.h>

#include "gw_delivery.h"
#include "gw_errors.h"
#include "gw_param.h"
#include "gw_stats.h"
#include "gw_trace.h"

static int test_counting;
static long test_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    if (test_counting)
        test_allocs++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    if (test_counting)
        test_allocs++;
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (test_counting)
        test_allocs++;
    return __real_realloc(p, n);
}

static void test_param(const char *name, const char *value)
{
    char err[128];

    assert_int_equal(gw_param_set(gw_param_find(name), value, err, sizeof(err)), 0);
}

static int test_setup(void **state)
{
    static int registered;

    (void)state;
    if (!registered) {
        assert_int_equal(gw_params_register(gw_trace_params), 0);
        registered = 1;
    }
    test_param("trace.max", "8");
    test_param("trace.ring", "256");
    test_param("trace.idle_s", "30");
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    gw_trace_stop_all();
    return 0;
}

static int64_t test_stat(const char *name)
{
    return gw_stat_get(gw_stat(name, NULL));
}

static int test_start_to(const char *to)
{
    gw_trace_filter_t f;
    int id;

    memset(&f, 0, sizeof(f));
    strcpy(f.to, to);
    id = gw_trace_start(&f);
    assert_true(id > 0);
    return id;
}

/* Every record of trace id from the start; *n set to their count. */
static json_t *test_read(int id, size_t *n, uint64_t *lost)
{
    uint64_t cursor = 0, l = 0;
    int rc;
    json_t *a = gw_trace_read(id, &cursor, 4096, 0, 0, &l, &rc);

    assert_int_equal(rc, 0);
    assert_non_null(a);
    *n = json_array_size(a);
    if (lost)
        *lost = l;
    return a;
}

static const char *test_field(json_t *a, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(a, i), key));
}

static gw_trace_rec_t test_packet(gw_trace_dir_t dir, const char *raw, const char *call_id)
{
    gw_trace_rec_t r;

    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PACKET;
    r.dir = dir;
    r.connector = "sip";
    r.peer = "127.0.0.1:5070";
    r.call_id = call_id;
    r.summary = "MESSAGE sip:+4915112345678@127.0.0.1 SIP/2.0";
    r.raw = raw;
    r.raw_len = strlen(raw);
    return r;
}

static void test_no_trace_records_nothing_and_allocates_nothing(void **state)
{
    const char *raw = "MESSAGE sip:+4915112345678@127.0.0.1 SIP/2.0\r\n\r\n";
    gw_trace_rec_t r = test_packet(GW_TRACE_IN, raw, "abc");
    gw_envelope_t *env = gw_env_new();
    int64_t offered = test_stat("trace.offered");

    (void)state;
    assert_non_null(env);
    gw_env_set_str(&env->to.address, "4915112345678", (size_t)-1);
    assert_false(gw_trace_on());
    test_allocs = 0;
    test_counting = 1;
    /* the hook as adapters write it, and the bus called regardless */
    if (gw_trace_on())
        gw_trace_record(&r);
    gw_trace_record(&r);
    gw_trace_env(env, GW_TRACE_STATE, "queued");
    gw_trace_envf(env, GW_TRACE_LOG, "%s: a log line", env->id);
    GW_ENV_DEBUG(env, "test", "%s: not logged at info, and no trace", env->id);
    test_counting = 0;
    assert_int_equal(test_allocs, 0);
    assert_int_equal(test_stat("trace.offered"), offered);
    gw_env_unref(env);
}

static void test_recording_with_a_trace_allocates_nothing(void **state)
{
    const char *raw = "MESSAGE sip:+4915112345678@127.0.0.1 SIP/2.0\r\n\r\n";
    gw_trace_rec_t r = test_packet(GW_TRACE_IN, raw, "abc");
    int64_t matched = test_stat("trace.matched");
    int i;

    (void)state;
    test_allocs = 0;
    test_counting = 1;
    test_start_to("4915112345678");
    test_counting = 0;
    assert_int_equal(test_allocs, 2); /* the counter sees the bus: the trace and its ring */
    test_allocs = 0;
    test_counting = 1;
    for (i = 0; i < 300; i++) /* past the ring: overwriting allocates nothing either */
        gw_trace_record(&r);
    test_counting = 0;
    assert_int_equal(test_allocs, 0);
    assert_int_equal(test_stat("trace.matched"), matched + 300);
}

static void test_start_needs_a_filter(void **state)
{
    gw_trace_filter_t f;

    (void)state;
    memset(&f, 0, sizeof(f));
    assert_int_equal(gw_trace_start(&f), GW_EINVAL);
    assert_false(gw_trace_on());
}

/* A number matches a packet by its raw bytes; the packet's Call-ID names
 * the core's routing record, whose envelope id names a later state
 * record that carries neither number nor Call-ID. */
static void test_number_then_learned_ids_follow_the_journey(void **state)
{
    const char *in = "MESSAGE sip:+4915112345678@127.0.0.1 SIP/2.0\r\nCall-ID: c1\r\n\r\n";
    const char *other = "MESSAGE sip:+4930555000111@127.0.0.1 SIP/2.0\r\nCall-ID: c2\r\n\r\n";
    gw_trace_rec_t p1 = test_packet(GW_TRACE_IN, in, "c1");
    gw_trace_rec_t p2 = test_packet(GW_TRACE_IN, other, "c2");
    gw_trace_rec_t route, st, st_other;
    size_t n;
    json_t *a;
    int id;

    (void)state;
    id = test_start_to("4915");
    gw_trace_record(&p1);
    gw_trace_record(&p2);
    memset(&route, 0, sizeof(route));
    route.kind = GW_TRACE_ROUTE;
    route.env_id = "01ENVELOPE000000000000000A";
    route.to = "sip:someone@example.com"; /* not our number: only the Call-ID ties it */
    route.call_id = "c1";
    route.summary = "rule r1 -> smsc1";
    gw_trace_record(&route);
    memset(&st, 0, sizeof(st));
    st.kind = GW_TRACE_STATE;
    st.env_id = "01ENVELOPE000000000000000A";
    st.summary = "queued";
    gw_trace_record(&st);
    st_other = st;
    st_other.env_id = "01ENVELOPE000000000000000B";
    gw_trace_record(&st_other);

    a = test_read(id, &n, NULL);
    assert_int_equal(n, 3);
    assert_string_equal(test_field(a, 0, "kind"), "packet");
    assert_string_equal(test_field(a, 0, "call_id"), "c1");
    assert_string_equal(test_field(a, 1, "kind"), "route");
    assert_string_equal(test_field(a, 2, "kind"), "state");
    assert_string_equal(test_field(a, 2, "env_id"), "01ENVELOPE000000000000000A");
    json_decref(a);
}

static gw_trace_rec_t test_pdu(gw_trace_dir_t dir, uint32_t cmd, uint32_t seq, const char *peer)
{
    gw_trace_rec_t r;

    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PDU;
    r.dir = dir;
    r.peer = peer;
    r.smpp_cmd = cmd;
    r.smpp_seq = seq;
    r.summary = "pdu";
    return r;
}

/* submit_sm out (matched by its destination) -> its submit_sm_resp (same
 * peer and sequence, coming in) -> the receipt quoting its message_id. */
static void test_smpp_response_and_receipt_follow_the_request(void **state)
{
    const char receipt[] = "\0\0\0\x50\0\0\0\x05\0\0\0\0\0\0\0\x09id:smsc-7 stat:DELIVRD";
    gw_trace_rec_t sub = test_pdu(GW_TRACE_OUT, 0x00000004, 7, "127.0.0.1:2775");
    gw_trace_rec_t resp = test_pdu(GW_TRACE_IN, 0x80000004, 7, "127.0.0.1:2775");
    gw_trace_rec_t elsewhere = test_pdu(GW_TRACE_IN, 0x80000004, 7, "127.0.0.1:2776");
    gw_trace_rec_t theirs = test_pdu(GW_TRACE_IN, 0x00000005, 7, "127.0.0.1:2775");
    gw_trace_rec_t dr = test_pdu(GW_TRACE_IN, 0x00000005, 9, "127.0.0.1:2775");
    size_t n;
    json_t *a;
    int id;

    (void)state;
    id = test_start_to("4915112345678");
    sub.from = "alice";
    sub.to = "4915112345678";
    gw_trace_record(&sub);
    resp.smpp_msgid = "smsc-7";
    elsewhere.smpp_msgid = "smsc-8";
    gw_trace_record(&elsewhere); /* same sequence, another session */
    theirs.from = "4930555000111";
    theirs.to = "alice";
    gw_trace_record(&theirs);    /* the SMSC's own request with the same number */
    gw_trace_record(&resp);
    dr.from = "4915112345678";   /* a receipt: to alice, so only the message_id ties it */
    dr.to = "alice";
    dr.raw = receipt;
    dr.raw_len = sizeof(receipt) - 1;
    gw_trace_record(&dr);

    a = test_read(id, &n, NULL);
    assert_int_equal(n, 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "smpp_cmd")),
                     0x80000004);
    assert_string_equal(test_field(a, 1, "smpp_msgid"), "smsc-7");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 2), "smpp_seq")), 9);
    json_decref(a);
}

/* The core's records of a delivery: the route names the plan, a state
 * its status and detail, and both name the current target and remote id;
 * a receipt is tied to them by the remote id alone. */
static void test_delivery_records_name_plan_target_and_remote_id(void **state)
{
    gw_envelope_t *env = gw_env_new();
    gw_delivery_t *d;
    size_t n;
    json_t *a;
    int id;

    (void)state;
    assert_non_null(env);
    gw_env_set_str(&env->to.address, "4915112345678", (size_t)-1);
    gw_env_set_str(&env->source.connector, "sip", (size_t)-1);
    d = gw_dlv_new(env);
    assert_non_null(d);
    assert_int_equal(gw_dlv_plan_set(d, "mt-de", "smsc1,smsc2"), 0);
    id = test_start_to("49151");
    gw_trace_env(env, GW_TRACE_ROUTE, "no route");
    gw_trace_route(d);
    d->status = GW_ST_SUBMITTED;
    snprintf(d->remote_id, sizeof(d->remote_id), "smsc-42");
    gw_trace_state(d, "smsc-42");
    gw_trace_receipt("smsc1", "smsc-42", "DELIVRD");
    gw_trace_receipt("smsc1", "smsc-43", "DELIVRD"); /* another message's */

    a = test_read(id, &n, NULL);
    assert_int_equal(n, 4);
    assert_string_equal(test_field(a, 0, "connector"), "sip");
    assert_string_equal(test_field(a, 1, "summary"), "rule mt-de -> smsc1, smsc2 (failover)");
    assert_string_equal(test_field(a, 1, "connector"), "smsc1");
    assert_string_equal(test_field(a, 2, "summary"), "submitted: smsc-42");
    assert_string_equal(test_field(a, 2, "smpp_msgid"), "smsc-42");
    assert_string_equal(test_field(a, 3, "summary"), "receipt DELIVRD");
    assert_null(test_field(a, 3, "env_id"));
    json_decref(a);
    gw_dlv_free(d);
    gw_env_unref(env);
}

static void test_filters_combine(void **state)
{
    gw_trace_filter_t f;
    gw_trace_rec_t r;
    size_t n;
    json_t *a;
    int id;

    (void)state;
    memset(&f, 0, sizeof(f));
    strcpy(f.to, "44");
    strcpy(f.connector, "smsc2");
    strcpy(f.peer, "10.0.0.5");
    id = gw_trace_start(&f);
    assert_true(id > 0);
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_STATE;
    r.to = "+447700900123";
    r.connector = "smsc1";
    r.peer = "10.0.0.5:2775";
    gw_trace_record(&r); /* wrong connector */
    r.connector = "smsc2";
    r.peer = "10.0.0.50:2775";
    gw_trace_record(&r); /* wrong peer (10.0.0.5 is not a prefix of 10.0.0.50) */
    r.peer = "10.0.0.5:2775";
    r.summary = "kept";
    gw_trace_record(&r);
    a = test_read(id, &n, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(test_field(a, 0, "summary"), "kept");
    json_decref(a);
}

static void test_ring_is_bounded_and_counts_drops(void **state)
{
    char raw[GW_TRACE_RAW_MAX * 2];
    gw_trace_rec_t r;
    int64_t dropped = test_stat("trace.dropped");
    uint64_t lost, cursor;
    json_t *a, *list;
    size_t n;
    int id, i, rc;

    (void)state;
    test_param("trace.ring", "16");
    id = test_start_to("4915");
    memset(raw, 'x', sizeof(raw));
    memcpy(raw, "4915", 4);
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PACKET;
    r.raw = raw;
    r.raw_len = sizeof(raw);
    for (i = 0; i < 20; i++)
        gw_trace_record(&r);
    assert_int_equal(test_stat("trace.dropped"), dropped + 4);
    list = gw_trace_list();
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "dropped")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "records")),
                     20);
    json_decref(list);
    a = test_read(id, &n, &lost);
    assert_int_equal(n, 16);
    assert_int_equal(lost, 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 4);
    /* raw bytes are capped; the full length is kept */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "raw_len")),
                     sizeof(raw));
    json_decref(a);
    /* read records are not dropped when overwritten; the cursor moves on */
    gw_trace_record(&r);
    assert_int_equal(test_stat("trace.dropped"), dropped + 4);
    cursor = 20;
    a = gw_trace_read(id, &cursor, 10, 1, 0, &lost, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(cursor, 21);
    assert_int_equal(lost, 0);
    /* with raw: base64 of the first GW_TRACE_RAW_MAX bytes */
    assert_int_equal(strlen(test_field(a, 0, "raw")), (GW_TRACE_RAW_MAX + 2) / 3 * 4);
    json_decref(a);
}

static void test_traces_are_bounded_in_number(void **state)
{
    int a, b;

    (void)state;
    test_param("trace.max", "2");
    a = test_start_to("1");
    b = test_start_to("2");
    assert_true(a != b);
    {
        gw_trace_filter_t f;
        memset(&f, 0, sizeof(f));
        strcpy(f.to, "3");
        assert_int_equal(gw_trace_start(&f), GW_EFULL);
    }
    assert_int_equal(gw_trace_stop(a), 0);
    assert_int_equal(gw_trace_stop(a), GW_ENOTFOUND);
    test_start_to("3");
}

static void test_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* A trace nobody polls ends after trace.idle_s; one that is polled stays. */
static void test_unpolled_trace_expires(void **state)
{
    gw_trace_rec_t r;
    uint64_t cursor = 0, lost;
    json_t *a;
    int idle, kept, rc;

    (void)state;
    test_param("trace.idle_s", "1");
    idle = test_start_to("4915");
    kept = test_start_to("4916");
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_STATE;
    r.to = "4917";
    test_sleep_ms(600);
    json_decref(gw_trace_read(kept, &cursor, 1, 0, 0, &lost, &rc));
    assert_int_equal(rc, 0);
    test_sleep_ms(600);
    gw_trace_record(&r); /* any record (or MI call) ends the idle trace */
    a = gw_trace_read(idle, &cursor, 1, 0, 0, &lost, &rc);
    assert_null(a);
    assert_int_equal(rc, GW_ENOTFOUND);
    json_decref(gw_trace_read(kept, &cursor, 1, 0, 0, &lost, &rc));
    assert_int_equal(rc, 0);
    assert_int_equal(gw_trace_stop(kept), 0);
    assert_false(gw_trace_on());
}

/* system_id: a PDU of a session bound as it, a record of its account's
 * connector; not another system_id, not a record with neither. */
static void test_system_id_matches_session_and_account_connector(void **state)
{
    gw_trace_filter_t f;
    gw_trace_rec_t r;
    size_t n;
    json_t *a;
    int id;

    (void)state;
    memset(&f, 0, sizeof(f));
    strcpy(f.system_id, "acme");
    id = gw_trace_start(&f);
    assert_true(id > 0);
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PDU;
    r.dir = GW_TRACE_IN;
    r.smpp_cmd = 0x00000004;
    r.smpp_seq = 7;
    r.peer = "127.0.0.1:4000";
    r.system_id = "other";
    r.summary = "other's submit_sm";
    assert_false(gw_trace_wants(&r));
    gw_trace_record(&r);
    r.system_id = "acme";
    r.summary = "acme's submit_sm";
    assert_true(gw_trace_wants(&r));
    gw_trace_record(&r);
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_ROUTE;
    r.connector = "account:acme";
    r.summary = "acme's message routed";
    gw_trace_record(&r);
    r.connector = "account:acme2";
    r.summary = "acme2's message";
    assert_false(gw_trace_wants(&r));
    gw_trace_record(&r);
    a = test_read(id, &n, NULL);
    assert_int_equal(n, 2);
    assert_string_equal(test_field(a, 0, "summary"), "acme's submit_sm");
    assert_string_equal(test_field(a, 0, "system_id"), "acme");
    assert_string_equal(test_field(a, 1, "summary"), "acme's message routed");
    json_decref(a);
}

static int64_t test_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int test_waiter_id;

/* After 150 ms: one record for trace test_waiter_id (to 4915). */
static void *test_record_later(void *arg)
{
    gw_trace_rec_t r;

    (void)arg;
    test_sleep_ms(150);
    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_STATE;
    r.to = "4915000";
    r.summary = "late";
    gw_trace_record(&r);
    return NULL;
}

static void *test_stop_later(void *arg)
{
    (void)arg;
    test_sleep_ms(150);
    gw_trace_stop(test_waiter_id);
    return NULL;
}

static void test_read_waits_for_the_first_record(void **state)
{
    uint64_t cursor = 0, lost;
    pthread_t th;
    int64_t t0;
    json_t *a;
    int rc;

    (void)state;
    test_waiter_id = test_start_to("4915");
    /* nothing comes: empty after the wait */
    t0 = test_mono_ms();
    a = gw_trace_read(test_waiter_id, &cursor, 10, 0, 120, &lost, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(a), 0);
    assert_true(test_mono_ms() - t0 >= 110);
    json_decref(a);
    /* a record comes after 150 ms: answered then, not after 5 s */
    assert_int_equal(pthread_create(&th, NULL, test_record_later, NULL), 0);
    t0 = test_mono_ms();
    a = gw_trace_read(test_waiter_id, &cursor, 10, 0, 5000, &lost, &rc);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(test_field(a, 0, "summary"), "late");
    assert_true(test_mono_ms() - t0 >= 140 && test_mono_ms() - t0 < 2500);
    assert_int_equal(cursor, 1);
    json_decref(a);
}

static void test_stop_wakes_a_waiting_reader(void **state)
{
    uint64_t cursor = 0, lost;
    pthread_t th;
    int64_t t0;
    json_t *a;
    int rc;

    (void)state;
    test_waiter_id = test_start_to("4915");
    assert_int_equal(pthread_create(&th, NULL, test_stop_later, NULL), 0);
    t0 = test_mono_ms();
    a = gw_trace_read(test_waiter_id, &cursor, 10, 0, 5000, &lost, &rc);
    pthread_join(th, NULL);
    assert_null(a);
    assert_int_equal(rc, GW_ENOTFOUND);
    assert_true(test_mono_ms() - t0 < 2500);
    assert_false(gw_trace_on());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_trace_records_nothing_and_allocates_nothing,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_recording_with_a_trace_allocates_nothing,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_start_needs_a_filter, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_number_then_learned_ids_follow_the_journey,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_smpp_response_and_receipt_follow_the_request,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_delivery_records_name_plan_target_and_remote_id,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_filters_combine, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_ring_is_bounded_and_counts_drops, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_traces_are_bounded_in_number, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_unpolled_trace_expires, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_system_id_matches_session_and_account_connector,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_read_waits_for_the_first_record, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_stop_wakes_a_waiting_reader, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
