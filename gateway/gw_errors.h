/*
 * gw_errors.h - return codes shared by every folder.
 *
 * Functions return 0 (GW_OK) or one of these negative codes; functions that
 * return pointers return NULL.  Codes fit non-blocking I/O in the nginx way:
 * GW_EAGAIN means "not now, call again", GW_EDECLINED "not mine".
 */
#ifndef GW_ERRORS_H
#define GW_ERRORS_H

enum {
    GW_OK = 0,
    GW_ERROR = -1,     /* generic failure, already logged */
    GW_ENOMEM = -2,
    GW_EINVAL = -3,    /* bad input from a caller or a peer */
    GW_ENOROUTE = -4,  /* no routing rule matched */
    GW_ENOTFOUND = -5, /* no such object (route, connector, message) */
    GW_EEXIST = -6,
    GW_ESTORE = -7,    /* the durable store failed */
    GW_EAGAIN = -8,
    GW_EDECLINED = -9,
    GW_ESTOPPED = -10, /* shutting down: no new work accepted */
    GW_EFULL = -11,    /* a bounded queue is full */
    GW_EREJECTED = -12,/* refused by a routing rule (gw_core_refusal says how) */
    GW_EDROPPED = -13, /* dropped by a routing rule: answered as accepted */
};

const char *gw_strerror(int rc);

#endif
