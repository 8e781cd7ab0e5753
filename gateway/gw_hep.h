/*
 * gw_hep.h - HEPv3 export of trace records to a Homer collector.
 *
 * A trace started with a hep destination ("udp:127.0.0.1:9060",
 * "udp:[::1]:9060") sends every record it keeps to that collector as one
 * HEPv3 datagram (HEP3 rev. 12: "HEP3", length, then vendor 0 chunks).
 * The chunks, in this order:
 *   1 IP family (2 / 10)      2 IP protocol (6 TCP for an SMPP PDU, else
 *                               17 UDP: the bus does not know SIP's transport)
 *   3/5 source address        4/6 destination address
 *   7 source port             8 destination port
 *   9 timestamp seconds      10 timestamp microseconds
 *  11 protocol type          12 capture agent id (GW_HEP_AGENT_ID)
 *  15 payload                17 correlation id (when the record has one)
 * Source and destination follow the record's direction: the far side is
 * the record's peer ("ip:port"), our side is unknown to the bus and sent
 * as the unspecified address, port 0; a record without a peer (routing,
 * states, logs) has both unspecified.  The protocol type is 1 (SIP) for a
 * SIP packet; HEP assigns none to SMPP or AMQP, so a PDU goes as
 * GW_HEP_PROTO_SMPP (raw PDU bytes) and every other record as 100 (LOG,
 * its summary as text, as Kamailio's and OpenSIPS' log exports do), so
 * Homer shows them in the journey of their correlation id: the Call-ID,
 * else the envelope id, else the SMPP message_id.
 *
 * The recording thread only builds the datagram (one malloc) and pushes it
 * onto a bounded queue (GW_HEP_QUEUE_MAX); one thread, started by the first
 * trace with a destination, sends them.  A full queue drops the datagram
 * and counts it (trace.hep_dropped): the sender of the record never waits
 * for the network.  Statistics: trace.hep_sent, trace.hep_dropped,
 * trace.hep_errors (sendto failed).
 *
 * Threads: gw_hep_parse and gw_hep_offer on any thread (gw_hep_offer under
 * gw_trace_lock, from gw_trace_record); the sender thread owns the socket.
 */
#ifndef GW_HEP_H
#define GW_HEP_H

#include <stdint.h>
#include <sys/socket.h>

#include "gw_trace.h"

#define GW_HEP_AGENT_ID 2001   /* capture agent id, chunk 12 */
#define GW_HEP_PROTO_SIP 1
#define GW_HEP_PROTO_LOG 100
#define GW_HEP_PROTO_SMPP 0x3e /* unassigned in HEP3 rev. 12: ours for SMPP */
#define GW_HEP_QUEUE_MAX 4096  /* datagrams waiting for the sender thread */
#define GW_HEP_PAYLOAD_MAX 8192

/* A collector address. */
typedef struct gw_hep_dest {
    struct sockaddr_storage addr;
    socklen_t len;
} gw_hep_dest_t;

/* Parse "udp:<ipv4>:<port>" or "udp:[<ipv6>]:<port>" into *d.  0 or
 * GW_EINVAL.  Pure. */
int gw_hep_parse(const char *text, gw_hep_dest_t *d);

/* Build the HEPv3 datagram of r, taken at time_us (microseconds since the
 * epoch), into buf (cap bytes); a payload over GW_HEP_PAYLOAD_MAX is cut.
 * Returns its length, or 0 when it does not fit.  Pure. */
size_t gw_hep_build(const gw_trace_rec_t *r, int64_t time_us, uint8_t *buf, size_t cap);

/* Queue r's datagram, taken at time_us, for d.  Never blocks: drops (and
 * counts) when the queue is full or memory is short.  Any thread. */
void gw_hep_offer(const gw_hep_dest_t *d, const gw_trace_rec_t *r, int64_t time_us);

/* Register the statistics (gw_trace_init, at start-up; again is harmless).
 * Main thread. */
void gw_hep_stats_init(void);

/* Stop the sender thread after it sent what is queued (shutdown, tests);
 * the next gw_hep_offer starts it again.  Any thread but the sender. */
void gw_hep_stop(void);

#endif
