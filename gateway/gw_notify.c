/*
 * gw_notify.c - the sd_notify datagram (gw_notify.h).
 *
 * Twenty lines instead of a dependency on libsystemd: the protocol is one
 * sendto() of the state text to the socket $NOTIFY_SOCKET names (a
 * leading '@' is the abstract namespace, a NUL byte in sun_path).
 *
 * Threads: the main thread.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gw_errors.h"
#include "gw_notify.h"

int gw_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len;
    socklen_t salen;
    int fd, rc = GW_OK;

    if (path == NULL || path[0] == '\0')
        return GW_OK;
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
        return GW_EINVAL;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return GW_ERROR;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
        rc = GW_ERROR;
    close(fd);
    return rc;
}

int gw_notify_reloading(void)
{
    struct timespec ts;
    char state[64];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%lld",
             (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    return gw_notify(state);
}
