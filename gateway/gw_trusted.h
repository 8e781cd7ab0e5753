/*
 * gw_trusted.h - the trusted networks: where a SIP MESSAGE may come from.
 *
 * Junction is no open relay: a SIP MESSAGE reaches the gateway path only
 * from a peer inside one of the networks of the table `trusted` (IPv4 and
 * IPv6 CIDR blocks, each with a name; loopback to begin with); others are
 * answered 403.  The name of the network that let a message in goes on its
 * envelope (tag `sender` = "trusted:<name>") so rules can match on it, as
 * an SMPP customer's messages carry their account.  Managed through the
 * MI (trusted.list / add / delete), read again on system.reload.
 *
 * Threads: gw_trusted_find on any thread (a read lock around an immutable
 * list); load and the MI commands on the MI's thread or at start-up.
 */
#ifndef GW_TRUSTED_H
#define GW_TRUSTED_H

#include <stddef.h>

#include "gw_net.h"

/* Read the table into the running list (replaced whole, only when every
 * row parses).  0, GW_EINVAL (a row that does not parse: logged, the
 * running list kept), GW_ESTORE, GW_ENOMEM. */
int gw_trusted_load(void);

/* 1 when ip (IPv4 or IPv6 text) is inside a trusted network, with the
 * name of the most specific one holding it copied into name (n bytes; ""
 * for an unnamed one); else 0. */
int gw_trusted_find(const char *ip, char *name, size_t n);
/* The same for an address already parsed (a SIP worker's peer). */
int gw_trusted_holds(const gw_net_addr_t *a, char *name, size_t n);

/* Register trusted.* with the MI and load the table.  Main thread. */
int gw_trusted_init(void);

#endif
