/*
 * gw_rand.c - see gw_rand.h.
 *
 * Each thread keeps 640 bytes of ChaCha20 (IETF) key stream under a
 * 256-bit key from randombytes_buf, drawn at the thread's first use, and
 * a block counter as the nonce: a refill every 640 bytes is one stream
 * computation, no system call.  A new thread draws its own key, so two
 * threads never share a stream.
 *
 * Threads: any; everything here is thread-local.
 */
#include <stdint.h>
#include <string.h>
#include <sodium.h>

#include "gw_rand.h"

#define GW_RAND_POOL 640

static __thread unsigned char gw_rand_pool[GW_RAND_POOL];
static __thread size_t gw_rand_off = GW_RAND_POOL;
static __thread unsigned char gw_rand_key[crypto_stream_chacha20_ietf_KEYBYTES];
static __thread uint64_t gw_rand_blocks; /* refills so far: 0 = not keyed */

static void gw_rand_refill(void)
{
    unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };

    if (gw_rand_blocks == 0)
        randombytes_buf(gw_rand_key, sizeof gw_rand_key);
    gw_rand_blocks++;
    memcpy(nonce, &gw_rand_blocks, sizeof gw_rand_blocks);
    crypto_stream_chacha20_ietf(gw_rand_pool, sizeof gw_rand_pool, nonce, gw_rand_key);
    gw_rand_off = 0;
}

void gw_rand_bytes(void *out, size_t n)
{
    unsigned char *p = out;

    while (n > 0) {
        size_t k;
        if (gw_rand_off == GW_RAND_POOL)
            gw_rand_refill();
        k = GW_RAND_POOL - gw_rand_off < n ? GW_RAND_POOL - gw_rand_off : n;
        memcpy(p, gw_rand_pool + gw_rand_off, k); /* the offset gives each byte once */
        gw_rand_off += k;
        p += k;
        n -= k;
    }
}
