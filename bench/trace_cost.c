/*
 * trace_cost.c - what the trace bus costs a hot path (make bench-trace).
 *
 * Times, on this machine, per call:
 *   off        `if (gw_trace_on()) gw_trace_record(&r)` with no trace
 *              running, against the same loop without the test
 *   kept       gw_trace_record of a 386-byte SIP MESSAGE that one trace
 *              (to=<number>) keeps: filter, memmem, copy into the ring
 *   passed     the same with a packet to another number: the trace looks
 *              at it (memmem over every byte) and keeps nothing
 *   pdu        gw_trace_wants of an SMPP submit_sm record (numbers set, as
 *              smpp_session.c offers it) that the trace does not keep: what
 *              each record of the untraced load costs before its summary
 *              would be formatted; alone and with a second thread offering
 *              the same at once (the lock shared, as the SMPP, core and
 *              writer threads share it)
 *
 * Threads: one.  Prints one line per case.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_trace.h"

static double trace_cost_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char trace_cost_msg[] =
    "MESSAGE sip:+%s@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:41801;branch=z9hG4bK-19565-1-0;rport\r\n"
    "From: <sip:alice@127.0.0.1:41801>;tag=19565SIPpTag001\r\n"
    "To: <sip:+%s@127.0.0.1:5060>\r\n"
    "Call-ID: 1-19565@127.0.0.1\r\n"
    "CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nUser-Agent: SIPp\r\n"
    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 26\r\n\r\n"
    "Hello Junction 1 gruesse\r\n";

static double trace_cost_record(const gw_trace_rec_t *r, long n)
{
    double t0 = trace_cost_now();
    long i;

    for (i = 0; i < n; i++) {
        gw_trace_record(r);
        __asm__ volatile("" ::: "memory");
    }
    return (trace_cost_now() - t0) / (double)n;
}

static volatile int trace_cost_stop;

static void *trace_cost_other(void *arg)
{
    const gw_trace_rec_t *r = arg;
    long i = 0;

    while (!trace_cost_stop) {
        i += gw_trace_wants(r);
        __asm__ volatile("" ::: "memory");
    }
    return (void *)i;
}

static double trace_cost_wants(const gw_trace_rec_t *r, long n)
{
    double t0 = trace_cost_now();
    long i, k = 0;

    for (i = 0; i < n; i++) {
        k += gw_trace_wants(r);
        __asm__ volatile("" ::: "memory");
    }
    return k ? -1 : (trace_cost_now() - t0) / (double)n;
}

int main(void)
{
    static const unsigned char pdu[64] = { 0, 0, 0, 64, 0, 0, 0, 4 };
    gw_trace_rec_t p;
    pthread_t th;
    char kept[1024], passed[1024];
    gw_trace_filter_t f;
    gw_trace_rec_t r;
    long i, n = 200000000;
    double t0, base, off;
    int id;

    memset(&r, 0, sizeof(r));
    r.kind = GW_TRACE_PACKET;
    r.dir = GW_TRACE_IN;
    r.connector = "sip";
    r.peer = "127.0.0.1:41801";
    r.summary = "MESSAGE sip:+4915112345678@127.0.0.1:5060 SIP/2.0";
    t0 = trace_cost_now();
    for (i = 0; i < n; i++)
        __asm__ volatile("" ::: "memory");
    base = (trace_cost_now() - t0) / (double)n;
    t0 = trace_cost_now();
    for (i = 0; i < n; i++) {
        if (gw_trace_on())
            gw_trace_record(&r);
        __asm__ volatile("" ::: "memory");
    }
    off = (trace_cost_now() - t0) / (double)n;
    printf("off     %.2f ns per hook (loop alone %.2f ns)\n", off - base, base);

    snprintf(kept, sizeof(kept), trace_cost_msg, "4915112345678", "4915112345678");
    snprintf(passed, sizeof(passed), trace_cost_msg, "4930555000111", "4930555000111");
    memset(&f, 0, sizeof(f));
    strcpy(f.to, "4915112345678");
    id = gw_trace_start(&f);
    if (id <= 0)
        return 1;
    r.raw = kept;
    r.raw_len = strlen(kept);
    r.call_id = "1-19565@127.0.0.1";
    printf("kept    %.0f ns per %zu-byte packet\n", trace_cost_record(&r, 2000000), r.raw_len);
    gw_trace_stop(id);
    id = gw_trace_start(&f); /* a fresh trace: nothing learned */
    r.raw = passed;
    r.raw_len = strlen(passed);
    r.call_id = "2-19566@127.0.0.1";
    printf("passed  %.0f ns per %zu-byte packet\n", trace_cost_record(&r, 2000000), r.raw_len);

    memset(&p, 0, sizeof(p));
    p.kind = GW_TRACE_PDU;
    p.dir = GW_TRACE_IN;
    p.connector = "account:bench";
    p.peer = "127.0.0.1:40000";
    p.system_id = "bench";
    p.from = "4930123456";
    p.to = "4915100001";
    p.smpp_cmd = 4;
    p.smpp_seq = 7;
    p.raw = pdu;
    p.raw_len = sizeof(pdu);
    printf("pdu     %.0f ns per record not kept (one thread)\n", trace_cost_wants(&p, 5000000));
    if (pthread_create(&th, NULL, trace_cost_other, &p) == 0) {
        printf("pdu     %.0f ns per record not kept (two threads offering)\n",
               trace_cost_wants(&p, 5000000));
        trace_cost_stop = 1;
        pthread_join(th, NULL);
    }
    gw_trace_stop(id);
    return 0;
}
