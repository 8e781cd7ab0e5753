/*
 * smpp_wire.h - what the two C SMPP peers of the benchmarks share: the
 * big-endian fields of a PDU and a monotonic clock.  Header-only: the
 * peers link libc only, so that they share none of junction's costs.
 */
#ifndef SMPP_WIRE_H
#define SMPP_WIRE_H

#include <stdint.h>
#include <time.h>

static inline void wire_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t wire_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Seconds on CLOCK_MONOTONIC. */
static inline double wire_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
