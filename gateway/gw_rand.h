/*
 * gw_rand.h - random bytes for ids, tags and branches without a system
 * call each: a ChaCha20 key stream per thread, keyed once from the kernel.
 *
 * What it is for: values that must be unique and unguessable (RFC 3261
 * tags and branches, message ids), drawn at message rates.  Secrets that
 * outlive a message (keys, passwords, tokens) keep using randombytes_buf.
 *
 * Threads: any; each thread has its own key and stream (no lock).
 */
#ifndef GW_RAND_H
#define GW_RAND_H

#include <stddef.h>

/* n random bytes into out. */
void gw_rand_bytes(void *out, size_t n);

#endif
