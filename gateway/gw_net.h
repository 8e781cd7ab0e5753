/*
 * gw_net.h - IPv4 and IPv6 networks (CIDR blocks): parsed once, matched
 * against peer addresses.
 *
 * A network is written "a.b.c.d/len" or "x:y::z/len"; without "/len" it is
 * one host (/32, /128).  An IPv4 peer seen as an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) matches IPv4 networks.  Used by SMPP accounts'
 * allowed_nets and by the SIP trusted networks (gw_trusted.c).
 *
 * Threads: pure functions, any thread.
 */
#ifndef GW_NET_H
#define GW_NET_H

#include <stddef.h>
#include <stdint.h>

#define GW_NET_TEXT_MAX 64 /* "ffff:...:ffff/128" and a little more */

typedef struct gw_net {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* the network's address, host bits cleared (4 used for IPv4) */
    int bits;            /* prefix length: 0-32 or 0-128 */
} gw_net_t;

/* Parse one network from text (surrounding blanks allowed) into *net.
 * 0, or GW_EINVAL with the reason in err (errlen bytes). */
int gw_net_parse(const char *text, gw_net_t *net, char *err, size_t errlen);

/* Parse a comma-separated list into a malloc'd array (*out, *n; the caller
 * frees *out).  An empty or NULL list gives *n = 0 and *out = NULL.  0,
 * GW_EINVAL (err names the bad item) or GW_ENOMEM. */
int gw_net_list_parse(const char *list, gw_net_t **out, size_t *n, char *err, size_t errlen);

/* A peer's address, parsed once to be held against several networks. */
typedef struct gw_net_addr {
    int family;          /* AF_INET (also for ::ffff:a.b.c.d) or AF_INET6 */
    uint8_t addr[16];
} gw_net_addr_t;

/* ip (IPv4 or IPv6 text) into *a.  0, or GW_EINVAL when it is no address. */
int gw_net_addr_parse(const char *ip, gw_net_addr_t *a);
struct sockaddr;
/* A socket address (AF_INET or AF_INET6; a mapped IPv4 one as IPv4) into
 * *a, without text: 0, or GW_EINVAL for another family. */
int gw_net_addr_from_sa(const struct sockaddr *sa, gw_net_addr_t *a);
/* 1 when net holds a, else 0. */
int gw_net_holds(const gw_net_t *net, const gw_net_addr_t *a);

/* 1 when the address ip (IPv4 or IPv6 text) is inside net, else 0. */
int gw_net_match(const gw_net_t *net, const char *ip);

/* The index of the first of nets[0..n) that holds ip, or -1 (also when ip
 * is not an address). */
int gw_net_find(const gw_net_t *nets, size_t n, const char *ip);

/* net as text ("192.0.2.0/24") into buf. */
void gw_net_format(const gw_net_t *net, char *buf, size_t n);

#endif
