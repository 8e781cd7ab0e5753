/*
 * gw_net.c - IPv4 and IPv6 networks (gw_net.h).
 *
 * inet_pton does the address syntax; what is ours is the prefix: its
 * length checked against the family, the host bits cleared at parse time
 * so a match is a masked compare of the first `bits` bits.
 *
 * Threads: pure, any thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_errors.h"
#include "gw_net.h"

/* Clear the bits of a (len octets) past the first bits. */
static void gw_net_mask(uint8_t *a, size_t len, int bits)
{
    for (size_t i = 0; i < len; i++) {
        int keep = bits - (int)i * 8;
        if (keep >= 8)
            continue;
        a[i] &= keep <= 0 ? 0 : (uint8_t)(0xFFu << (8 - keep));
    }
}

int gw_net_parse(const char *text, gw_net_t *net, char *err, size_t errlen)
{
    char buf[GW_NET_TEXT_MAX];
    const char *p = text ? text : "";
    size_t len;
    char *slash, *end;
    long bits = -1;
    int max;

    while (isspace((unsigned char)*p))
        p++;
    len = strlen(p);
    while (len > 0 && isspace((unsigned char)p[len - 1]))
        len--;
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "\"%.*s\": not a network (a.b.c.d/len or x::y/len)",
                 (int)(len < 40 ? len : 40), p);
        return GW_EINVAL;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    memset(net, 0, sizeof *net);
    if ((slash = strchr(buf, '/')) != NULL) {
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || bits < 0) {
            snprintf(err, errlen, "\"%s/%s\": the prefix length is not a number", buf, slash + 1);
            return GW_EINVAL;
        }
    }
    if (inet_pton(AF_INET, buf, net->addr) == 1) {
        net->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        net->family = AF_INET6;
        max = 128;
    } else {
        snprintf(err, errlen, "\"%s\": not an IPv4 or IPv6 address", buf);
        return GW_EINVAL;
    }
    if (bits > max) {
        snprintf(err, errlen, "\"%s/%ld\": the prefix length is at most %d", buf, bits, max);
        return GW_EINVAL;
    }
    net->bits = bits < 0 ? max : (int)bits;
    gw_net_mask(net->addr, (size_t)max / 8, net->bits);
    return GW_OK;
}

int gw_net_list_parse(const char *list, gw_net_t **out, size_t *n, char *err, size_t errlen)
{
    const char *p = list ? list : "";
    size_t count = 0, cap = 0;
    gw_net_t *nets = NULL, *grown;
    char item[GW_NET_TEXT_MAX * 2];
    int rc = GW_OK;

    *out = NULL;
    *n = 0;
    while (rc == GW_OK && *p) {
        size_t len = strcspn(p, ",");
        const char *q = p;
        p += len + (p[len] == ',');
        while (len > 0 && isspace((unsigned char)*q)) {
            q++;
            len--;
        }
        if (len == 0)
            continue; /* "a, ,b" and a trailing comma: nothing there */
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item - 1 ? len : sizeof item - 1), q);
        if (count == cap) {
            cap = cap ? cap * 2 : 4;
            if ((grown = realloc(nets, cap * sizeof *nets)) == NULL) {
                rc = GW_ENOMEM;
                break;
            }
            nets = grown;
        }
        rc = gw_net_parse(item, &nets[count], err, errlen);
        if (rc == GW_OK)
            count++;
    }
    if (rc != GW_OK) {
        free(nets);
        return rc;
    }
    *out = nets;
    *n = count;
    return GW_OK;
}

int gw_net_addr_parse(const char *ip, gw_net_addr_t *a)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };

    if (ip != NULL && inet_pton(AF_INET, ip, a->addr) == 1) {
        a->family = AF_INET;
    } else if (ip != NULL && inet_pton(AF_INET6, ip, a->addr) == 1) {
        a->family = AF_INET6;
        if (memcmp(a->addr, mapped, sizeof mapped) == 0) {
            memmove(a->addr, a->addr + 12, 4); /* ::ffff:a.b.c.d is the IPv4 peer a.b.c.d */
            a->family = AF_INET;
        }
    } else {
        return GW_EINVAL;
    }
    return GW_OK;
}

int gw_net_addr_from_sa(const struct sockaddr *sa, gw_net_addr_t *a)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
    int rc = GW_OK;

    if (sa->sa_family == AF_INET) {
        a->family = AF_INET;
        memcpy(a->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        a->family = memcmp(b, mapped, sizeof mapped) == 0 ? AF_INET : AF_INET6;
        memcpy(a->addr, a->family == AF_INET ? b + 12 : b, a->family == AF_INET ? 4 : 16);
    } else {
        rc = GW_EINVAL;
    }
    return rc;
}

int gw_net_holds(const gw_net_t *net, const gw_net_addr_t *a)
{
    uint8_t m[16];
    size_t len = a->family == AF_INET ? 4 : 16;

    if (a->family != net->family)
        return 0;
    memcpy(m, a->addr, len);
    gw_net_mask(m, len, net->bits);
    return memcmp(m, net->addr, len) == 0;
}

int gw_net_match(const gw_net_t *net, const char *ip)
{
    gw_net_addr_t a;

    return gw_net_addr_parse(ip, &a) == GW_OK && gw_net_holds(net, &a);
}

int gw_net_find(const gw_net_t *nets, size_t n, const char *ip)
{
    gw_net_addr_t a;

    if (gw_net_addr_parse(ip, &a) != GW_OK)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (gw_net_holds(&nets[i], &a))
            return (int)i;
    return -1;
}

void gw_net_format(const gw_net_t *net, char *buf, size_t n)
{
    char a[INET6_ADDRSTRLEN];

    if (inet_ntop(net->family, net->addr, a, sizeof a) == NULL)
        snprintf(a, sizeof a, "?");
    snprintf(buf, n, "%s/%d", a, net->bits);
}
