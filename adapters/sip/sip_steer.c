/*
 * sip_steer.c - the steering program of sip_steer.h.
 *
 * Layout (A the accumulator, X the index register, M[] the scratch):
 *   guard    len >= 8 and the first word is "SIP/", else -> hash
 *   scan     per block of SIP_STEER_BLOCK positions: len covers the
 *            block's last load, else -> hash; per position i: the word at
 *            i is "K-jp" (the end of the magic cookie and our prefix) ->
 *            X = i, -> worker
 *   worker   one or two decimal digits at X+4 followed by '-': that
 *            worker when it is below n, else -> hash
 *   hash     the source address (its last word for IPv6) ^ the source
 *            port, times 2^32/phi, high bits, modulo n
 * Far targets go through BPF_JA (conditional jumps reach 255 ahead);
 * the two labels are patched once the program is laid out.
 *
 * Threads: pure.
 */
#include <stdint.h>
#include <string.h>

#include "sip_steer.h"

/* "K-jp" as a big-endian word: the end of SIP_PROXY_BRANCH_PREFIX */
#define SIP_STEER_MARK 0x4B2D6A70u
#define SIP_STEER_SIP  0x5349502Fu /* "SIP/" */

typedef struct sip_steer_asm {
    struct sock_filter *p;
    int n;
    int to_hash[SIP_STEER_SCAN / SIP_STEER_BLOCK + 8]; /* JAs to patch */
    int nhash;
    int to_worker[SIP_STEER_SCAN];
    int nworker;
} sip_steer_asm_t;

static void sip_steer_emit(sip_steer_asm_t *a, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
    a->p[a->n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
}

/* An unconditional jump to the hash part, patched later. */
static void sip_steer_to_hash(sip_steer_asm_t *a)
{
    a->to_hash[a->nhash++] = a->n;
    sip_steer_emit(a, BPF_JMP | BPF_JA, 0, 0, 0);
}

static void sip_steer_patch(sip_steer_asm_t *a, const int *at, int count, int target)
{
    for (int i = 0; i < count; i++)
        a->p[at[i]].k = (uint32_t)(target - at[i] - 1);
}

/* "if A <op> k fall through, else -> hash" */
static void sip_steer_require(sip_steer_asm_t *a, uint16_t op, uint32_t k)
{
    sip_steer_emit(a, BPF_JMP | op | BPF_K, 1, 0, k);
    sip_steer_to_hash(a);
}

static void sip_steer_hash(sip_steer_asm_t *a, int n, int v6)
{
    if (v6) {
        /* A = UDP source port (after the fixed 40-byte header), X = A;
         * A = the last word of the source address ^ X */
        sip_steer_emit(a, BPF_LD | BPF_H | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + 40);
        sip_steer_emit(a, BPF_MISC | BPF_TAX, 0, 0, 0);
        sip_steer_emit(a, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + 20);
    } else {
        /* X = the IP header's length; A = UDP source port, X = A;
         * A = the source address ^ X */
        sip_steer_emit(a, BPF_LDX | BPF_B | BPF_MSH, 0, 0, (uint32_t)SKF_NET_OFF);
        sip_steer_emit(a, BPF_LD | BPF_H | BPF_IND, 0, 0, (uint32_t)SKF_NET_OFF);
        sip_steer_emit(a, BPF_MISC | BPF_TAX, 0, 0, 0);
        sip_steer_emit(a, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + 12);
    }
    sip_steer_emit(a, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    sip_steer_emit(a, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9E3779B1u);
    sip_steer_emit(a, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16);
    sip_steer_emit(a, BPF_ALU | BPF_MOD | BPF_K, 0, 0, (uint32_t)n);
    sip_steer_emit(a, BPF_RET | BPF_A, 0, 0, 0);
}

/* A = the worker named by the digits at X+4 (the datagram covers X+5). */
static void sip_steer_worker(sip_steer_asm_t *a, int n)
{
    int check;

    sip_steer_emit(a, BPF_LD | BPF_B | BPF_IND, 0, 0, 4);
    sip_steer_emit(a, BPF_ALU | BPF_SUB | BPF_K, 0, 0, '0');
    sip_steer_emit(a, BPF_JMP | BPF_JGT | BPF_K, 0, 1, 9); /* not a digit */
    sip_steer_to_hash(a);
    sip_steer_emit(a, BPF_ST, 0, 0, 0);                     /* M[0] = first digit */
    sip_steer_emit(a, BPF_LD | BPF_B | BPF_IND, 0, 0, 5);
    sip_steer_emit(a, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, '-'); /* one digit: */
    sip_steer_emit(a, BPF_LD | BPF_MEM, 0, 0, 0);           /* A = M[0] */
    check = a->n;
    sip_steer_emit(a, BPF_JMP | BPF_JA, 0, 0, 0); /* -> check, patched below */
    sip_steer_emit(a, BPF_ALU | BPF_SUB | BPF_K, 0, 0, '0');
    sip_steer_emit(a, BPF_JMP | BPF_JGT | BPF_K, 0, 1, 9);
    sip_steer_to_hash(a);
    sip_steer_emit(a, BPF_MISC | BPF_TAX, 0, 0, 0);        /* X = second digit */
    sip_steer_emit(a, BPF_LD | BPF_MEM, 0, 0, 0);
    sip_steer_emit(a, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 10);
    sip_steer_emit(a, BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
    a->p[check].k = (uint32_t)(a->n - check - 1);
    sip_steer_emit(a, BPF_JMP | BPF_JGE | BPF_K, 0, 1, (uint32_t)n); /* retiring, or none */
    sip_steer_to_hash(a);
    sip_steer_emit(a, BPF_RET | BPF_A, 0, 0, 0);
}

int sip_steer_program(struct sock_filter *out, int n, int v6)
{
    sip_steer_asm_t a = {.p = out};
    int worker;

    if (n < 1 || n > SIP_STEER_WORKERS)
        return -1;
    /* guard */
    sip_steer_emit(&a, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
    sip_steer_require(&a, BPF_JGE, 8);
    sip_steer_emit(&a, BPF_LD | BPF_W | BPF_ABS, 0, 0, 0);
    sip_steer_require(&a, BPF_JEQ, SIP_STEER_SIP);
    /* scan */
    for (int b = 0; b < SIP_STEER_SCAN; b += SIP_STEER_BLOCK) {
        sip_steer_emit(&a, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
        /* the block's last word load and the two digits after it */
        sip_steer_require(&a, BPF_JGE, (uint32_t)(b + SIP_STEER_BLOCK + 6));
        for (int i = b; i < b + SIP_STEER_BLOCK; i++) {
            sip_steer_emit(&a, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)i);
            sip_steer_emit(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, SIP_STEER_MARK);
            sip_steer_emit(&a, BPF_LDX | BPF_W | BPF_IMM, 0, 0, (uint32_t)i);
            a.to_worker[a.nworker++] = a.n;
            sip_steer_emit(&a, BPF_JMP | BPF_JA, 0, 0, 0);
        }
    }
    sip_steer_to_hash(&a); /* not found in the window */
    worker = a.n;
    sip_steer_worker(&a, n);
    sip_steer_patch(&a, a.to_worker, a.nworker, worker);
    sip_steer_patch(&a, a.to_hash, a.nhash, a.n);
    sip_steer_hash(&a, n, v6);
    return a.n;
}
