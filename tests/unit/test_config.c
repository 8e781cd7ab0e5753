/*
 * test_config.c - parameters from tables, the configuration file and flags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gw_config.h"
#include "gateway/gw_errors.h"
#include "gateway/gw_param.h"

static int t_port;
static int t_tcp;
static char t_listen[32];

static const gw_param_t t_params[] = {
    { "t.port", GW_PT_INT, &t_port, 0, "5060", 1, 65535, 0, "port" },
    { "t.tcp", GW_PT_BOOL, &t_tcp, 0, "yes", 0, 0, 0, "tcp" },
    { "t.listen", GW_PT_STR, t_listen, sizeof(t_listen), "127.0.0.1", 0, 0, 0, "addr" },
    GW_PARAM_END,
};

static char *write_file(const char *text)
{
    static char path[64];
    FILE *f;
    int fd;

    strcpy(path, "/tmp/junction-cfg-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(gw_params_register(t_params), 0);
    assert_int_equal(gw_params_register(gw_config_params), 0);
    return 0;
}

static void defaults_come_from_the_table(void **state)
{
    (void)state;
    assert_int_equal(t_port, 5060);
    assert_int_equal(t_tcp, 1);
    assert_string_equal(t_listen, "127.0.0.1");
    assert_string_equal(gw_config.db_path, "var/junction.db");
}

static void file_groups_map_to_dotted_names(void **state)
{
    char err[256] = "";
    char *path = write_file("t: {\n  port = 5070;\n  tcp = false;\n  listen = \"127.0.0.2\";\n};\n");

    (void)state;
    assert_int_equal(gw_config_load_file(path, err, sizeof(err)), 0);
    assert_int_equal(t_port, 5070);
    assert_int_equal(t_tcp, 0);
    assert_string_equal(t_listen, "127.0.0.2");
    unlink(path);
}

static void bad_value_reports_file_and_line(void **state)
{
    char err[256] = "", want[128];
    char *path = write_file("# comment\nt: {\n  port = 99999;\n};\n");

    (void)state;
    assert_int_equal(gw_config_load_file(path, err, sizeof(err)), GW_EINVAL);
    snprintf(want, sizeof(want), "%s:3:", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "out of range"));
    unlink(path);
}

static void unknown_parameter_is_an_error(void **state)
{
    char err[256] = "";
    char *path = write_file("t: { prot = 1; };\n");

    (void)state;
    assert_int_equal(gw_config_load_file(path, err, sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "unknown parameter t.prot"));
    unlink(path);
}

static void syntax_error_reports_line(void **state)
{
    char err[256] = "";
    char *path = write_file("t: {\n port = ;\n};\n");

    (void)state;
    assert_int_equal(gw_config_load_file(path, err, sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, ":2:"));
    unlink(path);
}

static void override_flag_sets_and_validates(void **state)
{
    char err[256] = "";

    (void)state;
    assert_int_equal(gw_config_apply_override("t.port=6000", err, sizeof(err)), 0);
    assert_int_equal(t_port, 6000);
    assert_int_equal(gw_config_apply_override("t.port=abc", err, sizeof(err)), GW_EINVAL);
    assert_non_null(strstr(err, "expected an integer"));
    assert_int_equal(t_port, 6000);
    assert_int_equal(gw_config_apply_override("nosuch=1", err, sizeof(err)), GW_EINVAL);
    assert_int_equal(gw_config_apply_override("t.tcp=maybe", err, sizeof(err)), GW_EINVAL);
}

static int t_hook_calls;
static void t_on_port(const gw_param_t *p)
{
    assert_string_equal(p->name, "t.port");
    t_hook_calls++;
}
static const gw_param_hook_t t_hooks[] = {
    { "t.port", t_on_port },
    { NULL, NULL },
};

static void a_value_is_default_by_its_value_and_hooks_run_by_name(void **state)
{
    char err[256] = "";
    const gw_param_t *port = gw_param_find("t.port"), *tcp = gw_param_find("t.tcp");

    (void)state;
    assert_int_equal(gw_params_register_hooks(t_hooks), 0);
    assert_int_equal(gw_param_set(port, "5060", err, sizeof err), 0);
    assert_true(gw_param_is_default(port));
    assert_int_equal(gw_param_set(port, "5061", err, sizeof err), 0);
    assert_false(gw_param_is_default(port));
    assert_int_equal(gw_param_set(tcp, "1", err, sizeof err), 0);
    assert_true(gw_param_is_default(tcp)); /* "1" is the default "yes" */
    assert_int_equal(gw_param_set(tcp, "no", err, sizeof err), 0);
    assert_false(gw_param_is_default(tcp));
    t_hook_calls = 0;
    gw_param_changed(port);
    gw_param_changed(tcp); /* no hook: nothing runs */
    assert_int_equal(t_hook_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_come_from_the_table),
        cmocka_unit_test(file_groups_map_to_dotted_names),
        cmocka_unit_test(bad_value_reports_file_and_line),
        cmocka_unit_test(unknown_parameter_is_an_error),
        cmocka_unit_test(syntax_error_reports_line),
        cmocka_unit_test(override_flag_sets_and_validates),
        cmocka_unit_test(a_value_is_default_by_its_value_and_hooks_run_by_name),
    };
    return cmocka_run_group_tests_name("config", tests, setup, NULL);
}
