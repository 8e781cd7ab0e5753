/*
 * test_notify.c - the sd_notify datagram (gw_notify.c) reaches the socket
 * $NOTIFY_SOCKET names, a path or an abstract name, and does nothing
 * without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gateway/gw_errors.h"
#include "gateway/gw_notify.h"

/* A datagram socket bound to name (a path, or "@abstract"). */
static int listener(const char *name)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

    assert_true(fd >= 0);
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    assert_int_equal(bind(fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
    return fd;
}

static void received(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
}

static void ready_reaches_a_socket_named_by_path(void **state)
{
    char path[64], buf[128];
    int fd;

    (void)state;
    snprintf(path, sizeof path, "/tmp/junction-notify-%d.sock", (int)getpid());
    unlink(path);
    fd = listener(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(gw_notify("READY=1"), GW_OK);
    received(fd, buf, sizeof buf);
    assert_string_equal(buf, "READY=1");
    close(fd);
    unlink(path);
}

static void reloading_reaches_an_abstract_socket_with_the_monotonic_time(void **state)
{
    char name[64], buf[128];
    int fd;

    (void)state;
    snprintf(name, sizeof name, "@junction-notify-%d", (int)getpid());
    fd = listener(name);
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(gw_notify_reloading(), GW_OK);
    received(fd, buf, sizeof buf);
    assert_int_equal(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
    assert_true(strtoll(buf + 27, NULL, 10) > 0);
    close(fd);
}

static void without_notify_socket_nothing_is_sent_and_all_is_well(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(gw_notify("READY=1"), GW_OK);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(gw_notify("READY=1"), GW_EINVAL);
    setenv("NOTIFY_SOCKET", "/nonexistent/junction.sock", 1);
    assert_true(gw_notify("READY=1") < 0);
    unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready_reaches_a_socket_named_by_path),
        cmocka_unit_test(reloading_reaches_an_abstract_socket_with_the_monotonic_time),
        cmocka_unit_test(without_notify_socket_nothing_is_sent_and_all_is_well),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
