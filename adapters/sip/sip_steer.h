/*
 * sip_steer.h - the classic BPF program that picks the worker of each UDP
 * datagram in a SO_REUSEPORT group (SO_ATTACH_REUSEPORT_CBPF).
 *
 * A response whose first SIP_STEER_SCAN bytes hold our proxy branch
 * ("z9hG4bK-jp<worker>-", sip_proxy.h) goes to that worker, the owner of
 * its client transaction: without it, a response read by another worker
 * was copied and queued to the owner (a hand-off cost a stateful proxy
 * with two workers a quarter of its CPU).  Everything else -- requests,
 * other responses, a named worker outside 0..n-1 (retiring) -- goes by a
 * hash of the source address and port modulo n, so a peer sticks to one
 * worker.  A miss is never wrong: the reader hands the response off as
 * before.
 *
 * For UDP the program sees the datagram from its payload on: absolute
 * loads read the SIP text, SKF_NET_OFF ones the IP header.  No load goes
 * past the datagram's end (that would end the program with 0, worker 0):
 * the scan runs in blocks, each entered only when the datagram covers it.
 *
 * Threads: pure; the caller attaches the program (sip_transport.c).
 */
#ifndef SIP_STEER_H
#define SIP_STEER_H

#include <linux/filter.h>

#define SIP_STEER_SCAN  512 /* bytes of a response searched for our branch */
#define SIP_STEER_BLOCK 64  /* positions per length check */
/* Instructions a program needs at most (BPF_MAXINSNS is 4096). */
#define SIP_STEER_MAX   (6 + (SIP_STEER_SCAN / SIP_STEER_BLOCK) * 3 + SIP_STEER_SCAN * 4 + 48)

/* The program for a group of n active workers whose sockets take IPv6
 * (v6) or IPv4 into out (room for SIP_STEER_MAX): its length, or -1 when
 * n is not 1..SIP_STEER_WORKERS. */
#define SIP_STEER_WORKERS 99
int sip_steer_program(struct sock_filter *out, int n, int v6);

#endif
