/*
 * sip_view_bench.c - make bench-sip-view: what a proxy pays to forward
 * one request, the byte-offset view (sip_view_parse + sip_view_apply of
 * Via added, Max-Forwards decremented, Record-Route added) beside libosip2
 * (osip_message_parse + osip_message_to_str of the same message, without
 * even the edits), on one thread, and the ratio.
 *
 *   build/bench/sip_view_bench [--count N] [--rounds R]
 *
 * Each round times both in turn (count messages each) and the best round
 * of each is reported, as ns per message and as libosip2 / view.
 * Threads: one.  Memory: osip's per message, freed each time; the view
 * and its output buffer are static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "adapters/sip/sip_view.h"

static const char bench_msg[] =
    "MESSAGE sip:+4915112345678@gw.example SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-abc;rport\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-outer\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:proxy.example;lr>\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=ft1\r\n"
    "To: <sip:+4915112345678@gw.example>\r\n"
    "Call-ID: cid-1@10.0.0.1\r\n"
    "CSeq: 7 MESSAGE\r\n"
    "Contact: <sip:alice@10.0.0.1:5070>\r\n"
    "User-Agent: bench/1.0\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 24\r\n"
    "\r\n"
    "Hello from the benchmark";

static sip_view_t bench_view;
static char bench_out[4096];

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per message of the view's parse + edits; -1 on a failure. */
static double bench_view_run(long count)
{
    static const char via[] = "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-px1";
    static const char rr[] = "<sip:192.0.2.9;lr>";
    const sip_view_edit_t e[] = {
        { SIP_EDIT_VIA_ADD, via, sizeof(via) - 1, 0 },
        { SIP_EDIT_MAX_FWD, NULL, 0, -1 },
        { SIP_EDIT_RR_ADD, rr, sizeof(rr) - 1, 0 },
    };
    double t0 = bench_now();
    long i, sink = 0;

    for (i = 0; i < count; i++) {
        if (sip_view_parse(&bench_view, bench_msg, sizeof(bench_msg) - 1, 0) != 0)
            return -1;
        sink += sip_view_apply(&bench_view, e, 3, bench_out, sizeof(bench_out));
    }
    if (sink <= 0)
        return -1;
    return (bench_now() - t0) / (double)count;
}

/* ns per message of osip_message_parse + osip_message_to_str. */
static double bench_osip_run(long count)
{
    double t0 = bench_now();
    long i;

    for (i = 0; i < count; i++) {
        osip_message_t *m = NULL;
        char *text = NULL;
        size_t len = 0;
        if (osip_message_init(&m) != 0 ||
            osip_message_parse(m, bench_msg, sizeof(bench_msg) - 1) != 0 ||
            osip_message_to_str(m, &text, &len) != 0)
            return -1;
        osip_free(text);
        osip_message_free(m);
    }
    return (bench_now() - t0) / (double)count;
}

int main(int argc, char **argv)
{
    long count = 200000, rounds = 5, r;
    double best_view = 1e18, best_osip = 1e18;
    int i;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--count") == 0)
            count = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atol(argv[i + 1]);
    }
    if (count <= 0 || rounds <= 0 || parser_init() != 0)
        return 2;
    for (r = 0; r < rounds; r++) {
        double v = bench_view_run(count), o = bench_osip_run(count);
        if (v < 0 || o < 0) {
            fprintf(stderr, "a parse failed\n");
            return 1;
        }
        best_view = v < best_view ? v : best_view;
        best_osip = o < best_osip ? o : best_osip;
    }
    printf("{\"message_bytes\":%zu,\"count\":%ld,\"rounds\":%ld,"
           "\"view_parse_edit_ns\":%.0f,\"osip_parse_to_str_ns\":%.0f,\"ratio\":%.1f}\n",
           sizeof(bench_msg) - 1, count, rounds, best_view, best_osip, best_osip / best_view);
    return 0;
}
