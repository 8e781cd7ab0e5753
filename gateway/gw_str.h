/*
 * gw_str.h - bounded string copies for the message path.
 *
 * snprintf(dst, n, "%s", src) runs the whole printf machinery to copy a
 * name; a message took about twenty of those on its way, several percent
 * of its CPU.  gw_strlcpy copies at most size - 1 bytes and always
 * terminates (BSD strlcpy's contract); it returns strlen(src), so a result
 * >= size means the copy was cut.
 *
 * Threads: any.
 */
#ifndef GW_STR_H
#define GW_STR_H

#include <stddef.h>
#include <string.h>

static inline size_t gw_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);

    if (size > 0) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

#endif
