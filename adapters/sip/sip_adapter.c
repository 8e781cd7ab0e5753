/*
 * sip_adapter.c - the SIP adapter as the core sees it: one const struct.
 *
 * This file holds the static tables (parameters, statistics, management
 * commands) and the lifecycle; the work is done by the workers
 * (sip_transport.c), the UAS (sip_uas.c), the UAC (sip_uac.c) and the
 * connectors (sip_conn.c).  See sip.h for the map.
 *
 * Lifecycle (main thread): init binds the sockets and creates the workers'
 * event bases but starts no thread; start starts them; stop answers 503 to
 * new MESSAGEs, lets the replies already queued go out, then joins the
 * workers; destroy frees everything.  Client transactions still in flight
 * at stop are dropped without an outcome: their envelopes stay queued in
 * the store and gw_core_recover() offers them again at the next start.
 */
#include <string.h>

#include "gw_adapter.h"
#include "gw_errors.h"
#include "gw_log.h"
#include "sip.h"
#include "sip_tsx.h"
#include "sip_dialog.h"
#include "sip_flood.h"
#include "sip_dns.h"
#include "sip_proxy.h"
#include "sip_trunk.h"

sip_conf_t sip_conf;
sip_stats_t sip_stats;

static const gw_param_t sip_params[] = {
    {"sip.listen", GW_PT_STR, sip_conf.listen, sizeof(sip_conf.listen), "127.0.0.1", 0, 0, 0,
     "IPv4 or IPv6 address the SIP UDP sockets and TCP listener bind to"},
    {"sip.listen6", GW_PT_STR, sip_conf.listen6, sizeof(sip_conf.listen6), "", 0, 0, 0,
     "a second, IPv6 address (e.g. ::1) beside an IPv4 sip.listen: each worker gets a UDP "
     "socket on both, and a TCP listener runs on both; empty: none"},
    {"sip.port", GW_PT_INT, &sip_conf.port, 0, "5060", 1, 65535, 0, "SIP port (UDP and TCP)"},
    {"sip.workers", GW_PT_INT, &sip_conf.workers, 0, "0", 0, SIP_MAX_WORKERS, 0,
     "SIP worker threads at start, each with its own SO_REUSEPORT UDP socket; 0 = one per "
     "core; the pool's fixed size unless sip.workers_max is set"},
    {"sip.workers_min", GW_PT_INT, &sip_conf.workers_min, 0, "0", 0, SIP_MAX_WORKERS,
     GW_PARAM_RUNTIME, "with sip.workers_max: the fewest SIP workers the pool shrinks to "
     "(0: 1)"},
    {"sip.workers_max", GW_PT_INT, &sip_conf.workers_max, 0, "0", 0, SIP_MAX_WORKERS,
     GW_PARAM_RUNTIME, "the most SIP workers the pool grows to with load; 0: no scaling, "
     "the pool keeps the size sip.workers gave it"},
    {"sip.scale_up_pct", GW_PT_INT, &sip_conf.scale_up_pct, 0, "70", 1, 100, GW_PARAM_RUNTIME,
     "grow the SIP pool when its load (mean busy % of the active workers) stays above this"},
    {"sip.scale_up_cycles", GW_PT_INT, &sip_conf.scale_up_cycles, 0, "4", 1, 3600,
     GW_PARAM_RUNTIME, "... for this many cycles in a row"},
    {"sip.scale_down_pct", GW_PT_INT, &sip_conf.scale_down_pct, 0, "20", 0, 100,
     GW_PARAM_RUNTIME, "shrink the SIP pool when its load stays below this"},
    {"sip.scale_down_cycles", GW_PT_INT, &sip_conf.scale_down_cycles, 0, "10", 1, 3600,
     GW_PARAM_RUNTIME, "... for this many cycles in a row"},
    {"sip.scale_cycle_ms", GW_PT_INT, &sip_conf.scale_cycle_ms, 0, "1000", 100, 60000,
     GW_PARAM_RUNTIME, "length of a load cycle: each SIP worker's busy % is measured over it"},
    {"sip.tcp", GW_PT_BOOL, &sip_conf.tcp, 0, "yes", 0, 1, 0, "accept SIP over TCP"},
    {"sip.tcp_max_conns", GW_PT_INT, &sip_conf.tcp_max_conns, 0, "1024", 1, 1000000, 0,
     "open SIP TCP connections at most (all workers, both directions); more are refused"},
    {"sip.tcp_max_per_ip", GW_PT_INT, &sip_conf.tcp_max_per_ip, 0, "64", 1, 1000000, 0,
     "incoming SIP TCP connections at most from one remote address; more are refused"},
    {"sip.tcp_header_timeout_ms", GW_PT_INT, &sip_conf.tcp_header_timeout_ms, 0, "10000", 100,
     600000, GW_PARAM_RUNTIME, "a SIP TCP connection whose message headers do not end this "
     "long after the message began is closed"},
    {"sip.tcp_idle_s", GW_PT_INT, &sip_conf.tcp_idle_s, 0, "600", 1, 86400, 0,
     "a SIP TCP connection that reads nothing this long is closed"},
    {"sip.tcp_max_out", GW_PT_INT, &sip_conf.tcp_max_out, 0, "1048576", 4096, 67108864, 0,
     "bytes written to a SIP TCP connection and not yet taken by its peer; past it the "
     "connection is closed (the peer does not read)"},
    {"sip.tls_port", GW_PT_INT, &sip_conf.tls_port, 0, "0", 0, 65535, 0,
     "SIP over TLS listener port on sip.listen (and sip.listen6); 0: none (outgoing TLS "
     "still works)"},
    {"sip.tls_cert", GW_PT_STR, sip_conf.tls_cert, sizeof(sip_conf.tls_cert), "", 0, 0, 0,
     "PEM certificate (chain) of the SIP TLS listener"},
    {"sip.tls_key", GW_PT_STR, sip_conf.tls_key, sizeof(sip_conf.tls_key), "", 0, 0, 0,
     "PEM private key of the SIP TLS listener"},
    {"sip.tls_verify", GW_PT_BOOL, &sip_conf.tls_verify, 0, "yes", 0, 1, 0,
     "outgoing SIP TLS checks the peer's certificate (against sip.tls_ca) and its address"},
    {"sip.tls_ca", GW_PT_STR, sip_conf.tls_ca, sizeof(sip_conf.tls_ca), "", 0, 0, 0,
     "PEM CA file outgoing SIP TLS trusts; empty: the system's CAs"},
    {"sip.udp_rcvbuf", GW_PT_INT, &sip_conf.udp_rcvbuf, 0, "1048576", 0, 67108864, 0,
     "bytes of receive buffer asked for each SIP UDP socket (SO_RCVBUF, capped by the kernel's "
     "net.core.rmem_max): datagrams that arrive while a worker is off the CPU wait there "
     "instead of being dropped; 0: the system's default"},
    {"sip.max_message", GW_PT_INT, &sip_conf.max_message, 0, "65535", 512, 1048576, 0,
     "largest SIP message accepted, in bytes; larger datagrams are dropped"},
    {"sip.reports", GW_PT_STR, sip_conf.reports, sizeof(sip_conf.reports), "auto", 0, 0, 0,
     "delivery reports to SIP senders who asked: auto (IMDN to IMDN requests, text to "
     "X-SMS-Receipt / X-SMS-Registered-Delivery), imdn (IMDN requests only), text (every "
     "request, as text), none"},
    {"sip.reports_to", GW_PT_STR, sip_conf.reports_to, sizeof(sip_conf.reports_to), "source",
     0, 0, 0,
     "where a report goes: source (the address the MESSAGE came from, as its response), "
     "from (the From URI's host and port when it is an IP address, else the source)"},
    {"sip.domains", GW_PT_STR, sip_conf.domains, sizeof(sip_conf.domains), "", 0, 0,
     GW_PARAM_RUNTIME, "the registrar's local domains, comma-separated: a REGISTER for "
     "another is 403 (Request-URI) or 404 (To); empty: every domain is local"},
    {"sip.default_expires", GW_PT_INT, &sip_conf.default_expires, 0, "3600", 1, 604800,
     GW_PARAM_RUNTIME, "seconds a binding lasts when the REGISTER names no expiry"},
    {"sip.min_expires", GW_PT_INT, &sip_conf.min_expires, 0, "60", 1, 86400, GW_PARAM_RUNTIME,
     "a binding asked for less (but not 0) is refused 423 with this Min-Expires"},
    {"sip.max_expires", GW_PT_INT, &sip_conf.max_expires, 0, "86400", 1, 604800,
     GW_PARAM_RUNTIME, "a longer expiry asked for is lowered to this"},
    {"sip.max_contacts", GW_PT_INT, &sip_conf.max_contacts, 0, "10", 1, SIP_LOC_CONTACTS_MAX,
     GW_PARAM_RUNTIME, "live bindings one address of record may have; one more is 403"},
    {"sip.auth", GW_PT_BOOL, &sip_conf.auth, 0, "no", 0, 1, GW_PARAM_RUNTIME,
     "digest authentication (docs/sip-auth.md) of MESSAGEs from peers in no trusted network: "
     "yes: challenged 407 and taken with a SIP user's credentials; no: refused 403"},
    {"sip.realm", GW_PT_STR, sip_conf.realm, sizeof(sip_conf.realm), "", 0, 0, 0,
     "the digest realm of challenges and of sip.users.add; empty: the host's name "
     "(\"junction\" when it has none)"},
    {"sip.auth_algorithms", GW_PT_STR, sip_conf.auth_algorithms, sizeof(sip_conf.auth_algorithms),
     "SHA-256,MD5", 0, 0, 0,
     "the digest algorithms challenges offer, in this order (a client takes the first it "
     "knows; some take the first): SHA-256 and / or MD5; credentials of another are "
     "challenged again"},
    {"sip.nonce_ttl_s", GW_PT_INT, &sip_conf.nonce_ttl_s, 0, "300", 1, 86400, GW_PARAM_RUNTIME,
     "seconds a digest nonce is good for; later answers with it get 407 stale=true"},
    {"sip.proxy", GW_PT_BOOL, &sip_proxy_conf.on, 0, "yes", 0, 1, GW_PARAM_RUNTIME,
     "proxy the requests junction does not answer itself (RFC 3261 section 16, docs/sip-proxy.md); "
     "no: they are 501 as before"},
    {"sip.record_route", GW_PT_BOOL, &sip_proxy_conf.record_route, 0, "yes", 0, 1,
     GW_PARAM_RUNTIME, "the proxy puts <sip:ip:port;lr> in a Record-Route of what it forwards, "
     "so in-dialog requests come through it"},
    {"sip.t1_ms", GW_PT_INT, &sip_tsx_t1_ms, 0, "500", 50, 10000, GW_PARAM_RUNTIME,
     "T1, the round-trip estimate of RFC 3261 17.1.1.1 (Kamailio's retr_timer1): requests and "
     "final responses over UDP are retransmitted from T1 on; a transaction gives up, and "
     "lingers, 64*T1 (Timers B, F, H, J: 32 s by default); transactions started after a change "
     "use the new value"},
    {"sip.proxy_mode", GW_PT_STR, sip_proxy_conf.mode, sizeof(sip_proxy_conf.mode), "stateful",
     0, 0, GW_PARAM_RUNTIME,
     "stateful: each proxied request has its transactions (100 Trying, retransmissions "
     "absorbed, forking, failover, DNS, digest challenges, dialogs, trunks); stateless (RFC 3261 "
     "16.11): no transaction, one target, a branch hashed from the request, retransmissions "
     "forwarded again; UDP only (docs/sip-proxy.md)"},
    {"sip.timer_c_s", GW_PT_INT, &sip_proxy_conf.timer_c_s, 0, "180", 1, 3600, GW_PARAM_RUNTIME,
     "Timer C: seconds a proxied INVITE branch may stay without a final response (reset by "
     "each provisional) before it is cancelled"},
    {"sip.dialogs_max", GW_PT_INT, &sip_dlg_conf.max, 0, "20000", 0, 10000000, GW_PARAM_RUNTIME,
     "dialogs the proxy tracks at most, about 3.2 kB of memory each (docs/sip-proxy.md, "
     "Dialogs); beyond it a call goes through untracked: no CDR, no sip.dialogs.end"},
    {"sip.dialog_timeout_s", GW_PT_INT, &sip_dlg_conf.timeout_s, 0, "43200", 1, 604800,
     GW_PARAM_RUNTIME, "a dialog with no BYE this many seconds after its answer ends (cause "
     "timeout; no BYE is sent)"},
    {"sip.proxy_auth", GW_PT_BOOL, &sip_proxy_conf.auth, 0, "yes", 0, 1, GW_PARAM_RUNTIME,
     "with sip.auth on: the proxy challenges (407) untrusted requests that claim a local caller "
     "(From) or would be relayed anywhere but to a local user (docs/sip-auth.md); no: those "
     "relays are 403 and local callers pass"},
    {"sip.auth_match_from", GW_PT_BOOL, &sip_proxy_conf.auth_match_from, 0, "yes", 0, 1,
     GW_PARAM_RUNTIME, "a proxied request's digest username must be its From user (403 "
     "otherwise)"},
    {"sip.flood_rate", GW_PT_INT, &sip_flood_conf.rate, 0, "0", 0, 1000000, GW_PARAM_RUNTIME,
     "requests per second one source address may send (ACK, CANCEL and responses not "
     "counted; trusted networks never limited); 0: no limit"},
    {"sip.flood_burst", GW_PT_INT, &sip_flood_conf.burst, 0, "20", 1, 1000000, GW_PARAM_RUNTIME,
     "requests a source may send at once above sip.flood_rate (the token bucket's size)"},
    {"sip.flood_action", GW_PT_STR, sip_flood_conf.action, sizeof(sip_flood_conf.action), "503",
     0, 0, GW_PARAM_RUNTIME, "a request over sip.flood_rate is answered 503 with Retry-After "
     "(503) or dropped (drop)"},
    {"sip.ban_after", GW_PT_INT, &sip_flood_conf.ban_after, 0, "100", 0, 1000000,
     GW_PARAM_RUNTIME, "refusals in a row (until the source's bucket is full again) that ban "
     "it (sip.bans.list); 0: never banned"},
    {"sip.ban_s", GW_PT_INT, &sip_flood_conf.ban_s, 0, "300", 1, 604800, GW_PARAM_RUNTIME,
     "seconds a ban lasts; every packet of a banned source is dropped unread"},
    {"sip.dns_servers", GW_PT_STR, sip_dns_conf.servers, sizeof(sip_dns_conf.servers), "", 0, 0,
     0, "DNS servers the proxy asks (RFC 3263), comma-separated ip or ip:port "
     "(\"127.0.0.1:5353,[::1]:53\"); \"\": those of /etc/resolv.conf"},
    {"sip.dns_timeout_ms", GW_PT_INT, &sip_dns_conf.timeout_ms, 0, "2000", 50, 30000, 0,
     "how long the proxy's resolver waits for one DNS answer before it tries again"},
    {"sip.dns_tries", GW_PT_INT, &sip_dns_conf.tries, 0, "2", 1, 10, 0,
     "tries of each DNS query (on each server) before the lookup fails"},
    {"sip.dns_cache_max", GW_PT_INT, &sip_dns_conf.cache_max, 0, "512", 16, 100000, 0,
     "DNS record sets (name and type) the proxy's cache holds; the earliest to expire go first"},
    {"sip.dns_naptr", GW_PT_BOOL, &sip_dns_conf.naptr, 0, "yes", 0, 1, GW_PARAM_RUNTIME,
     "ask NAPTR first for a host without port and transport (RFC 3263 4.1); no: SRV straight away"},
    {"sip.dns_ttl_min_s", GW_PT_INT, &sip_dns_conf.ttl_min_s, 0, "5", 0, 86400, GW_PARAM_RUNTIME,
     "a DNS answer is cached at least this long, whatever its TTL"},
    {"sip.dns_ttl_max_s", GW_PT_INT, &sip_dns_conf.ttl_max_s, 0, "3600", 1, 604800,
     GW_PARAM_RUNTIME, "... and at most this long"},
    {"sip.nat_detect", GW_PT_BOOL, &sip_conf.nat_detect, 0, "yes", 0, 1, GW_PARAM_RUNTIME,
     "flag a binding nat when its Contact's IPv4 address and port differ from where its "
     "REGISTER came from (a private address, a NAT): OPTIONS pings go to it"},
    {"sip.nat_ping_interval_s", GW_PT_INT, &sip_conf.nat_ping_interval_s, 0, "0", 0, 3600,
     GW_PARAM_RUNTIME, "send an OPTIONS ping to each NATed binding (UDP) once in this many "
     "seconds, spread over the interval, to its source; 0: no pings"},
    {"sip.nat_ping_all", GW_PT_BOOL, &sip_conf.nat_ping_all, 0, "no", 0, 1, GW_PARAM_RUNTIME,
     "ping every binding registered over UDP, not only those flagged nat"},
    {"sip.nat_ping_fails", GW_PT_INT, &sip_conf.nat_ping_fails, 0, "0", 0, 1000,
     GW_PARAM_RUNTIME, "remove a binding after this many pings in a row went unanswered "
     "(stored and published like an expiry); 0: never"},
    GW_PARAM_END,
};

/* Every counter the adapter keeps; the names are the public statistics. */
static void sip_stats_init(void)
{
    sip_stats.rx_requests = gw_stat("sip.rx_requests", "SIP requests received");
    sip_stats.rx_responses = gw_stat("sip.rx_responses", "SIP responses received");
    sip_stats.rx_message = gw_stat("sip.rx_message", "SIP MESSAGE requests received (new)");
    sip_stats.rx_retrans = gw_stat("sip.rx_retrans", "retransmitted requests absorbed");
    sip_stats.tx_202 = gw_stat("sip.tx_202", "202 Accepted sent");
    sip_uas_answer_hist = gw_hist("sip.message_answer_seconds", "time from a SIP MESSAGE received to its 202 or 503 sent after the store's commit");
    sip_stats.tx_2xx = gw_stat("sip.tx_2xx", "2xx responses sent");
    sip_stats.tx_4xx = gw_stat("sip.tx_4xx", "4xx responses sent");
    sip_stats.tx_5xx = gw_stat("sip.tx_5xx", "5xx responses sent");
    sip_stats.drops = gw_stat("sip.drops", "datagrams or messages dropped unanswered");
    sip_stats.tx_message = gw_stat("sip.tx_message", "MESSAGE requests sent to connectors");
    sip_stats.tx_retrans = gw_stat("sip.tx_retrans", "MESSAGE retransmissions (Timer E)");
    sip_stats.uac_2xx = gw_stat("sip.uac_2xx", "outbound MESSAGE answered 2xx");
    sip_stats.uac_failed = gw_stat("sip.uac_failed", "outbound MESSAGE failed for good");
    sip_stats.uac_retry = gw_stat("sip.uac_retry", "outbound MESSAGE to retry (5xx, timeout)");
    sip_stats.tcp_conns = gw_stat_gauge("sip.tcp_conns", "open SIP TCP connections");
    sip_stats.tls_conns = gw_stat_gauge("sip.tls_conns", "open SIP TLS connections");
    sip_stats.tcp_refused = gw_stat("sip.tcp_refused",
                                    "SIP TCP connections refused: sip.tcp_max_conns or "
                                    "sip.tcp_max_per_ip reached");
    sip_stats.tcp_limit_closed = gw_stat("sip.tcp_limit_closed",
                                         "SIP TCP connections closed for a limit: header "
                                         "deadline, sip.max_message, sip.tcp_max_out");
    sip_stats.rx_cpim = gw_stat("sip.rx_cpim", "MESSAGE bodies in CPIM unwrapped to their text");
    sip_stats.rx_report_req = gw_stat("sip.rx_report_req",
                                      "MESSAGEs whose sender asked for a delivery report");
    sip_stats.rx_untrusted = gw_stat("sip.rx_untrusted",
                                     "SIP MESSAGE refused 403: the peer is in no trusted network");
    sip_stats.rx_refused_sms = gw_stat("sip.rx_refused_sms",
                                       "MESSAGEs refused for a bad body or X-SMS-* header");
    sip_stats.tx_report = gw_stat("sip.tx_report", "delivery reports sent as MESSAGE");
    sip_stats.scale_ups = gw_stat("sip.scale_ups", "SIP worker pool grown by one (load, bounds)");
    sip_stats.scale_downs = gw_stat("sip.scale_downs", "SIP worker pool shrunk by one");
    sip_stats.auth_challenges = gw_stat("sip.auth_challenges",
                                        "407 digest challenges sent (stale ones too)");
    sip_stats.auth_ok = gw_stat("sip.auth_ok", "requests taken with a SIP user's credentials");
    sip_stats.auth_failed = gw_stat("sip.auth_failed",
                                    "credentials refused: unknown user, wrong password, malformed");
    sip_stats.auth_stale = gw_stat("sip.auth_stale",
                                   "right credentials with a stale nonce (407 stale=true)");
    sip_stats.auth_replays = gw_stat("sip.auth_replays",
                                     "right credentials with an nc not above the nonce's last");
    sip_stats.keepalives = gw_stat("sip.keepalives",
                                   "UDP keep-alives (CRLF, 4-byte pings) received and ignored");
    sip_stats.oversized = gw_stat("sip.oversized",
                                  "datagrams over sip.max_message: 413 when a Via could be read");
    sip_stats.nat_pings_sent = gw_stat("sip.nat_pings_sent", "OPTIONS pings sent to bindings");
    sip_stats.nat_pings_ok = gw_stat("sip.nat_pings_ok", "OPTIONS pings answered");
    sip_stats.nat_pings_failed = gw_stat("sip.nat_pings_failed",
                                         "OPTIONS pings unanswered by the next one's time");
}

/* The report settings as numbers, checked once: 0 or GW_EINVAL. */
static int sip_reports_conf(void)
{
    sip_conf.report_form = sip_reports_form(sip_conf.reports);
    if (sip_conf.report_form < 0) {
        GW_ERR(SIP_LOG, "sip.reports '%s': one of none, auto, imdn, text", sip_conf.reports);
        return GW_EINVAL;
    }
    if (strcmp(sip_conf.reports_to, "source") != 0 && strcmp(sip_conf.reports_to, "from") != 0) {
        GW_ERR(SIP_LOG, "sip.reports_to '%s': source or from", sip_conf.reports_to);
        return GW_EINVAL;
    }
    sip_conf.report_to_from = strcmp(sip_conf.reports_to, "from") == 0;
    return 0;
}

/* MI sip.stats: the adapter's counters and settings.  MI thread. */
static void sip_mi_stats(const json_t *params, gw_mi_reply_t *r)
{
    gw_stat_t *const *s = &sip_stats.rx_requests;
    const size_t n = sizeof(sip_stats) / sizeof(gw_stat_t *);
    json_t *o = json_pack("{s:s, s:i, s:i, s:b, s:b, s:s}", "listen", sip_conf.listen, "port",
                          sip_conf.port, "workers", sip_worker_count(), "tcp", sip_conf.tcp,
                          "auth", __atomic_load_n(&sip_conf.auth, __ATOMIC_RELAXED),
                          "realm", sip_auth_realm_name());
    (void)params;

    if (!o) {
        gw_mi_error(r, GW_MI_INTERNAL_ERROR, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i])
            json_object_set_new(o, s[i]->name + 4, json_integer(gw_stat_get(s[i])));
    }
    gw_mi_result(r, o);
}

static const gw_mi_cmd_t sip_mi_cmds[] = {
    {"sip.stats", sip_mi_stats, "{}", "SIP adapter counters and listener settings", GW_ROLE_VIEWER, 0},
    {"sip.workers", sip_scale_mi_workers, "{}",
     "SIP worker pool: bounds, load profile, each worker's state and busy %, recent changes",
     GW_ROLE_VIEWER, 0},
    {"sip.registrations.list", sip_reg_mi_list, "aor?, limit?",
     "registered bindings: [{aor, bindings: [{contact, expires, q, call_id, cseq, source, "
     "path, user_agent, instance, reg_id, nat, last_ping_ok}]}]", GW_ROLE_VIEWER, 0},
    {"sip.registrations.delete", sip_reg_mi_delete, "aor, contact?",
     "remove one binding of an address of record, or all of them (stored, published)",
     GW_ROLE_OPERATOR, GW_MI_F_NOAUDIT},
    {"sip.connections.list", sip_tcp_mi_list, "{}",
     "open SIP TCP and TLS connections: [{id, transport, direction, remote, local, worker, age_s, "
     "in_bytes, out_bytes}]", GW_ROLE_VIEWER, 0},
    {"sip.transactions.stats", sip_proxy_mi_stats, "{}",
     "the proxy's transactions (ict, nict, ist, nist) counted by state", GW_ROLE_VIEWER, 0},
    {"sip.dialogs.list", sip_dlg_mi_list, "limit?, call_id?",
     "the proxy's dialogs: [{call_id, state, from, from_tag, to, to_tag, start, answer, age_s, "
     "caller: {source, contact, route, cseq}, callee: {...}}]", GW_ROLE_VIEWER, 0},
    {"sip.dialogs.end", sip_dlg_mi_end, "call_id",
     "end the dialogs of a Call-ID: a BYE to each side, a sip.call CDR with cause mi",
     GW_ROLE_ADMIN, GW_MI_F_NOAUDIT},
    {"sip.bans.list", sip_flood_mi_list, "{}",
     "sources banned by flood protection: [{ip, since, until, remaining_s, reason, hits}]",
     GW_ROLE_VIEWER, 0},
    {"sip.bans.delete", sip_flood_mi_delete, "ip", "lift the ban of a source address",
     GW_ROLE_ADMIN, GW_MI_F_NOAUDIT},
    {"sip.dns.resolve", sip_dns_mi_resolve, "host, transport?, port?, sips?",
     "what the proxy would try for a host (RFC 3263): {host, status, targets: [{transport, "
     "address, port, priority, weight}]} in order", GW_ROLE_VIEWER, 0},
    {"sip.dns.flush", sip_dns_mi_flush, "{}", "empty the proxy's DNS cache: {flushed}",
     GW_ROLE_ADMIN, 0},
    {"sip.trunks.status", sip_trunk_mi_status, "name?",
     "SIP trunks (sip_trunk connectors): strategy, probe settings, each destination's uri, "
     "state, weight, priority, last_probe_status, rtt_ms, since, calls", GW_ROLE_VIEWER, 0},
    GW_MI_END,
};

/* Bind the sockets and build the workers.  Main thread. */
static int sip_init(struct event_base *main_base)
{
    int rc;

    sip_stats_init();
    sip_proxy_init();
    if (sip_dns_init() != 0) {
        GW_ERR(SIP_LOG, "the DNS resolver (c-ares) cannot start");
        return GW_ERROR;
    }
    if (sip_reports_conf() != 0 || sip_px_sl_conf() != 0)
        return GW_EINVAL;
    if (sip_osip_init() != 0) {
        GW_ERR(SIP_LOG, "libosip2 parser_init failed");
        return GW_ERROR;
    }
    if ((rc = sip_auth_init()) != 0)
        return rc;
    __atomic_store_n(&sip_stopping, 0, __ATOMIC_RELAXED);
    rc = sip_reg_init(main_base);
    if (rc == 0)
        rc = sip_flood_init(main_base);
    if (rc == 0)
        rc = sip_dlg_init(main_base);
    if (rc == 0)
        rc = sip_natping_init(main_base);
    if (rc == 0)
        rc = sip_workers_init();
    if (rc == 0)
        rc = sip_scale_init(main_base);
    if (rc == 0)
        rc = sip_trunk_init(main_base);
    if (rc < 0) {
        sip_workers_destroy();
        sip_auth_free();
        sip_dlg_free();
    }
    return rc;
}

static int sip_start(void)
{
    int rc = sip_workers_start();
    if (rc == 0)
        sip_scale_start();
    return rc;
}

/* Stop accepting (503), let queued replies go out, join.  Main thread. */
static void sip_stop(void)
{
    __atomic_store_n(&sip_stopping, 1, __ATOMIC_RELAXED);
    sip_reg_stop();   /* no more sweeps: the store is stopping too */
    sip_dlg_stop();   /* no more timeouts */
    sip_flood_stop(); /* nor ban sweeps */
    sip_natping_stop();
    sip_scale_stop(); /* the pool changes no more */
    sip_trunk_stop(); /* no more probes */
    sip_workers_stop();
}

static void sip_destroy(void)
{
    sip_proxy_free_all(); /* their timers are on the workers' bases */
    sip_dns_free_all();   /* so are the resolvers' events */
    sip_dlg_bye_free_all(); /* so are those of sip.dialogs.end's BYEs */
    sip_workers_destroy();
    sip_loc_free();
    sip_auth_free();
    sip_dlg_free();
    sip_flood_destroy();
}

const gw_adapter_t sip_adapter = {
    .name = "sip",
    .params = sip_params,
    .mi_cmds = sip_mi_cmds,
    .init = sip_init,
    .start = sip_start,
    .stop = sip_stop,
    .destroy = sip_destroy,
    .conn_check = sip_conn_check,
    .conn_open = sip_conn_open,
    .conn_close = sip_conn_close,
    .send = sip_conn_send,
    .conn_room = sip_conn_room,
    .conn_status = sip_conn_status,
};
