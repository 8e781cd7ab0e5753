/*
 * sip_addr.c - pure: the transport addresses of the SIP adapter.
 *
 * A peer is an IPv4 or an IPv6 address with a port (sip_sa_t, a union of
 * the socket address kinds so that no caller casts), read and written in
 * three forms:
 *   ip     "192.0.2.1" or "2001:db8::1"        received=, trusted networks
 *   host   "192.0.2.1" or "[2001:db8::1]"      a URI's or a Via's host
 *                                              (RFC 3261 25.1: IPv6
 *                                              references in brackets)
 *   str    "192.0.2.1:5060" or "[2001:db8::1]:5060"   logs, traces, MI
 * and a source as the registrar records it: "udp:192.0.2.1:5060",
 * "tcp:[::1]:5070" (sip_source_*).  Everything the adapter did with
 * sin_addr / sin_port goes through these, so the rest of it does not care
 * which family a peer is of.
 *
 * Threads: any; no state, no allocation.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip.h"

static const char *const sip_proto_names[] = {"udp", "tcp", "tls"};

/* See sip.h. */
const char *sip_proto_name(int proto)
{
    return proto >= 0 && proto <= SIP_PROTO_TLS ? sip_proto_names[proto] : "udp";
}

/* See sip.h. */
int sip_proto_from_name(const char *s, size_t n)
{
    for (int i = 0; i <= SIP_PROTO_TLS; i++)
        if (n == 3 && strncasecmp(s, sip_proto_names[i], 3) == 0)
            return i;
    return -1;
}

/* See sip.h. */
socklen_t sip_sa_len(const sip_sa_t *a)
{
    return a->sa.sa_family == AF_INET6 ? (socklen_t)sizeof a->in6 : (socklen_t)sizeof a->in;
}

/* See sip.h. */
int sip_sa_port(const sip_sa_t *a)
{
    if (a->sa.sa_family == AF_INET6)
        return ntohs(a->in6.sin6_port);
    if (a->sa.sa_family == AF_INET)
        return ntohs(a->in.sin_port);
    return 0;
}

/* See sip.h. */
void sip_sa_set_port(sip_sa_t *a, int port)
{
    if (a->sa.sa_family == AF_INET6)
        a->in6.sin6_port = htons((uint16_t)port);
    else
        a->in.sin_port = htons((uint16_t)port);
}

/* See sip.h. */
const char *sip_sa_ip(const sip_sa_t *a, char *out, size_t n)
{
    const void *src = a->sa.sa_family == AF_INET6 ? (const void *)&a->in6.sin6_addr
                                                  : (const void *)&a->in.sin_addr;
    int fam = a->sa.sa_family == AF_INET6 ? AF_INET6 : AF_INET;

    if (n == 0)
        return out;
    if (inet_ntop(fam, src, out, (socklen_t)n) == NULL)
        out[0] = '\0';
    return out;
}

/* See sip.h. */
const char *sip_sa_host(const sip_sa_t *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN];

    if (a->sa.sa_family != AF_INET6)
        return sip_sa_ip(a, out, n);
    sip_sa_ip(a, ip, sizeof ip);
    snprintf(out, n, "[%s]", ip);
    return out;
}

/* See sip.h. */
const char *sip_sa_str(const sip_sa_t *a, char *out, size_t n)
{
    char host[SIP_ADDR_MAX];

    sip_sa_host(a, host, sizeof host);
    snprintf(out, n, "%s:%d", host, sip_sa_port(a));
    return out;
}

/* See sip.h. */
int sip_sa_equal(const sip_sa_t *a, const sip_sa_t *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return 0;
    if (a->sa.sa_family == AF_INET6)
        return a->in6.sin6_port == b->in6.sin6_port &&
               memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
    return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
}

/* See sip.h. */
int sip_sa_same_ip(const sip_sa_t *a, const sip_sa_t *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return 0;
    if (a->sa.sa_family == AF_INET6)
        return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof a->in6.sin6_addr) == 0;
    return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
}

/* See sip.h. */
int sip_sa_from_host(const char *host, size_t len, int port, sip_sa_t *out)
{
    char buf[INET6_ADDRSTRLEN + 2];

    memset(out, 0, sizeof *out);
    if (port < 0 || port > 65535 || len == 0)
        return -1;
    if (host[0] == '[') { /* an IPv6 reference */
        if (len < 3 || host[len - 1] != ']')
            return -1;
        host++;
        len -= 2;
    }
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &out->in.sin_addr) == 1) {
        out->in.sin_family = AF_INET;
        out->in.sin_port = htons((uint16_t)port);
        return 0;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET6, buf, &out->in6.sin6_addr) == 1) {
        out->in6.sin6_family = AF_INET6;
        out->in6.sin6_port = htons((uint16_t)port);
        return 0;
    }
    memset(out, 0, sizeof *out);
    return -1;
}

/* See sip.h. */
int sip_sa_parse(const char *s, sip_sa_t *out)
{
    const char *colon;
    char *end;
    long port;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        colon = rb + 1;
    } else {
        colon = strchr(s, ':');
        if (!colon || strchr(colon + 1, ':'))
            return -1; /* an IPv6 address needs its brackets before a port */
    }
    port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535)
        return -1;
    return sip_sa_from_host(s, (size_t)(colon - s), (int)port, out);
}

/* See sip.h. */
int sip_source_parse(const char *s, int *proto, sip_sa_t *out)
{
    const char *colon = strchr(s, ':');
    int p;

    if (!colon || (p = sip_proto_from_name(s, (size_t)(colon - s))) < 0)
        return -1;
    if (sip_sa_parse(colon + 1, out) != 0)
        return -1;
    *proto = p;
    return 0;
}

/* See sip.h. */
const char *sip_source_format(int proto, const sip_sa_t *a, char *out, size_t n)
{
    char where[SIP_ADDR_MAX];

    snprintf(out, n, "%s:%s", sip_proto_name(proto), sip_sa_str(a, where, sizeof where));
    return out;
}

/* See sip.h. */
const char *sip_host_of_ip(const char *ip, char *out, size_t n)
{
    if (strchr(ip, ':') != NULL && ip[0] != '[')
        snprintf(out, n, "[%s]", ip);
    else
        snprintf(out, n, "%s", ip);
    return out;
}
