/*
 * gw_errors.c - names of the shared return codes.  Threads: any.
 */
#include "gw_errors.h"

const char *gw_strerror(int rc)
{
    switch (rc) {
    case GW_OK: return "ok";
    case GW_ERROR: return "error";
    case GW_ENOMEM: return "out of memory";
    case GW_EINVAL: return "invalid argument";
    case GW_ENOROUTE: return "no route";
    case GW_ENOTFOUND: return "not found";
    case GW_EEXIST: return "already exists";
    case GW_ESTORE: return "store failure";
    case GW_EAGAIN: return "try again";
    case GW_EDECLINED: return "declined";
    case GW_ESTOPPED: return "shutting down";
    case GW_EFULL: return "queue full";
    case GW_EREJECTED: return "rejected by a routing rule";
    case GW_EDROPPED: return "dropped by a routing rule";
    default: return "unknown error";
    }
}
