/*
 * test_amqp_settings.c - an amqp connector's conf: defaults, checks, and the
 * adapter's declared contract (name, callbacks, parameters).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "adapters/amqp/amqp_link.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_errors.h"

extern const gw_adapter_t amqp_adapter;

static int parse(const char *text, amqp_settings_t *set, char *err, size_t errlen)
{
    json_t *conf = text ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL;
    int rc;

    if (text)
        assert_non_null(conf);
    err[0] = '\0';
    rc = amqp_settings_parse(conf, set, err, errlen);
    json_decref(conf);
    return rc;
}

static void test_empty_conf_gets_defaults(void **state)
{
    amqp_settings_t set;
    char err[256];

    (void)state;
    assert_int_equal(parse("{}", &set, err, sizeof(err)), 0);
    assert_string_equal(set.host, "127.0.0.1");
    assert_int_equal(set.port, 5672);
    assert_string_equal(set.vhost, "/");
    assert_string_equal(set.user, "guest");
    assert_string_equal(set.password, "guest");
    assert_string_equal(set.exchange, "junction.events");
    assert_int_equal(set.heartbeat, 30);
}

static void test_full_conf_is_taken(void **state)
{
    amqp_settings_t set;
    char err[256];

    (void)state;
    assert_int_equal(parse("{\"host\":\"mq.local\",\"port\":5673,\"vhost\":\"prod\","
                           "\"user\":\"junction\",\"password\":\"\",\"exchange\":\"ev\","
                           "\"heartbeat\":0}", &set, err, sizeof(err)), 0);
    assert_string_equal(set.host, "mq.local");
    assert_int_equal(set.port, 5673);
    assert_string_equal(set.vhost, "prod");
    assert_string_equal(set.user, "junction");
    assert_string_equal(set.password, "");
    assert_string_equal(set.exchange, "ev");
    assert_int_equal(set.heartbeat, 0);
}

static void test_unknown_member_is_refused(void **state)
{
    amqp_settings_t set;
    char err[256];

    (void)state;
    assert_int_equal(parse("{\"hots\":\"x\"}", &set, err, sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "hots"));
}

static void test_bad_values_are_refused(void **state)
{
    static const char *const bad[] = {
        "{\"port\":0}", "{\"port\":70000}", "{\"port\":\"5672\"}", "{\"host\":\"\"}",
        "{\"exchange\":\"\"}", "{\"heartbeat\":-1}", "{\"user\":5}", "[1]",
        "{\"vhost\":\"a\\u0000b\"}",
    };
    amqp_settings_t set;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &set, err, sizeof(err)), GW_EINVAL);
        assert_true(strlen(err) > 0);
    }
}

static void test_overlong_host_is_refused(void **state)
{
    char text[600], err[256];
    amqp_settings_t set;

    (void)state;
    strcpy(text, "{\"host\":\"");
    memset(text + strlen(text), 'h', 300);
    strcpy(text + 9 + 300, "\"}");
    assert_int_equal(parse(text, &set, err, sizeof(err)), GW_EINVAL);
}

static void test_consume_takes_names_and_bindings(void **state)
{
    amqp_settings_t set;
    char err[256];

    (void)state;
    assert_int_equal(parse("{}", &set, err, sizeof(err)), 0);
    assert_int_equal(set.nconsume, 0);
    assert_int_equal(set.prefetch, 100);
    assert_string_equal(set.dead_letter_exchange, "junction.dlx");
    assert_string_equal(set.dead_letter_queue, "junction.dead");
    assert_int_equal(set.dedup_window_s, 600);
    assert_int_equal(set.passive, 0);
    assert_int_equal(parse("{\"consume\":[\"a\",{\"queue\":\"b\",\"bindings\":[{\"exchange\":"
                           "\"x\",\"key\":\"k.#\"},{\"exchange\":\"y\"}]}],\"passive\":true,"
                           "\"prefetch\":5}", &set, err, sizeof(err)), 0);
    assert_int_equal(set.nconsume, 2);
    assert_string_equal(set.consume[0].queue, "a");
    assert_int_equal(set.consume[0].nbindings, 0);
    assert_string_equal(set.consume[1].queue, "b");
    assert_int_equal(set.consume[1].nbindings, 2);
    assert_string_equal(set.consume[1].bindings[0].key, "k.#");
    assert_string_equal(set.consume[1].bindings[1].key, "#");
    assert_int_equal(set.passive, 1);
    assert_int_equal(set.prefetch, 5);
}

static void test_bad_consume_is_refused(void **state)
{
    static const char *const bad[] = {
        "{\"consume\":\"a\"}", "{\"consume\":[\"\"]}", "{\"consume\":[{\"q\":\"a\"}]}",
        "{\"consume\":[{\"queue\":\"a\",\"bindings\":[{\"key\":\"k\"}]}]}",
        "{\"consume\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}",
        "{\"passive\":1}", "{\"prefetch\":0}", "{\"dedup_max\":1}",
    };
    amqp_settings_t set;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &set, err, sizeof(err)), GW_EINVAL);
}

static void test_url_gives_host_port_vhost_credentials_and_tls(void **state)
{
    amqp_settings_t set;
    char err[256];

    (void)state;
    assert_int_equal(parse("{\"url\":\"amqp://u:p%40ss@mq.local:5673/prod\"}", &set, err,
                           sizeof(err)), 0);
    assert_string_equal(set.host, "mq.local");
    assert_int_equal(set.port, 5673);
    assert_string_equal(set.vhost, "prod");
    assert_string_equal(set.user, "u");
    assert_string_equal(set.password, "p@ss");
    assert_int_equal(set.tls, 0);
    /* amqps: TLS on port 5671, verified; "/" and %2f are the default vhost */
    assert_int_equal(parse("{\"url\":\"amqps://mq.local/%2f\"}", &set, err, sizeof(err)), 0);
    assert_int_equal(set.tls, 1);
    assert_int_equal(set.port, 5671);
    assert_string_equal(set.vhost, "/");
    assert_int_equal(set.tls_verify, 1);
    assert_int_equal(parse("{\"url\":\"amqp://mq.local/\"}", &set, err, sizeof(err)), 0);
    assert_string_equal(set.vhost, "/");
    /* members beside the url win, whatever their order */
    assert_int_equal(parse("{\"port\":1234,\"url\":\"amqp://a:b@h:99/v\",\"user\":\"c\","
                           "\"heartbeat\":5,\"channel_max\":8}", &set, err, sizeof(err)), 0);
    assert_int_equal(set.port, 1234);
    assert_string_equal(set.user, "c");
    assert_string_equal(set.password, "b");
    assert_int_equal(set.heartbeat, 5);
    assert_int_equal(set.channel_max, 8);
    /* "tls": true without a port takes amqps' */
    assert_int_equal(parse("{\"tls\":true,\"tls_verify\":false}", &set, err, sizeof(err)), 0);
    assert_int_equal(set.port, 5671);
    assert_int_equal(set.tls_verify, 0);
}

static void test_bad_url_is_refused_without_its_password(void **state)
{
    static const char *const bad[] = {
        "{\"url\":\"http://u:secret@h\"}", "{\"url\":\"amqp://u:secret@h:0\"}",
        "{\"url\":\"amqp://u:secret@h:99999\"}", "{\"url\":5}", "{\"url\":\"amqp://h:\"}",
    };
    amqp_settings_t set;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &set, err, sizeof(err)), GW_EINVAL);
        assert_true(strncmp(err, "url", 3) == 0);
        assert_null(strstr(err, "secret"));
    }
}

static void test_tls_files_are_checked_and_named(void **state)
{
    amqp_settings_t set;
    char err[256];

    (void)state;
    assert_int_equal(parse("{\"tls\":true,\"tls_ca\":\"/nonexistent/ca.pem\"}", &set, err,
                           sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "tls_ca /nonexistent/ca.pem"));
    /* not a PEM file */
    assert_int_equal(parse("{\"tls\":true,\"tls_ca\":\"/etc/hostname\"}", &set, err,
                           sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "tls_ca /etc/hostname"));
    assert_int_equal(parse("{\"tls\":true,\"tls_cert\":\"/etc/hostname\"}", &set, err,
                           sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "go together"));
    assert_int_equal(parse("{\"tls_ca\":\"/etc/hostname\"}", &set, err, sizeof(err)),
                     GW_EINVAL);
    assert_non_null(strstr(err, "need TLS"));
}

static void test_unknown_member_lists_the_table(void **state)
{
    amqp_settings_t set;
    char err[512];

    (void)state;
    assert_int_equal(parse("{\"tls_ca_file\":\"x\"}", &set, err, sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "\"tls_ca_file\""));
    assert_non_null(strstr(err, "url, host"));
    assert_non_null(strstr(err, "tls_verify"));
    assert_non_null(strstr(err, "requeue_delay_ms)"));
}

static void test_adapter_declares_its_contract(void **state)
{
    char err[256];
    json_t *bad = json_pack("{s:i}", "port", 0);
    int i, found = 0;

    (void)state;
    assert_string_equal(amqp_adapter.name, "amqp");
    assert_non_null(amqp_adapter.conn_open);
    assert_non_null(amqp_adapter.conn_close);
    assert_non_null(amqp_adapter.conn_status);
    assert_non_null(amqp_adapter.send);
    assert_int_equal(amqp_adapter.conn_check(bad, err, sizeof(err)), GW_EINVAL);
    json_decref(bad);
    for (i = 0; amqp_adapter.params[i].name; i++)
        found |= strcmp(amqp_adapter.params[i].name, "amqp.buffer_max") == 0;
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_conf_gets_defaults),
        cmocka_unit_test(test_full_conf_is_taken),
        cmocka_unit_test(test_unknown_member_is_refused),
        cmocka_unit_test(test_bad_values_are_refused),
        cmocka_unit_test(test_overlong_host_is_refused),
        cmocka_unit_test(test_consume_takes_names_and_bindings),
        cmocka_unit_test(test_bad_consume_is_refused),
        cmocka_unit_test(test_url_gives_host_port_vhost_credentials_and_tls),
        cmocka_unit_test(test_bad_url_is_refused_without_its_password),
        cmocka_unit_test(test_tls_files_are_checked_and_named),
        cmocka_unit_test(test_unknown_member_lists_the_table),
        cmocka_unit_test(test_adapter_declares_its_contract),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
