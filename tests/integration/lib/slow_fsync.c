/*
 * slow_fsync.c - an LD_PRELOAD shim for tests: every fsync / fdatasync of
 * the process sleeps SLOW_FSYNC_MS milliseconds (default 300) before it
 * syncs, so the store's group commits are slow without a line of product
 * code changed.  Built by the test that uses it (diagnose.test.mjs):
 *   cc -shared -fPIC -o slow_fsync.so slow_fsync.c
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void slow_fsync_wait(void)
{
    const char *v = getenv("SLOW_FSYNC_MS");
    long ms = v ? strtol(v, NULL, 10) : 300;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

int fsync(int fd)
{
    slow_fsync_wait();
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    slow_fsync_wait();
    return (int)syscall(SYS_fdatasync, fd);
}
