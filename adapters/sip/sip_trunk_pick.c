/*
 * sip_trunk_pick.c - the order in which a request tries a trunk's
 * destinations, and which answers move it on to the next one.
 *
 * As Kamailio's dispatcher and drouting modules do it:
 *   failover     priority order (lower first; equal priorities as listed)
 *   round_robin  the usable destinations as listed, each request starting
 *                one further than the last (counter), the rest after it
 *                in a ring: every destination gets the first try equally
 *   weighted     the first at random in proportion to weight (rnd), then
 *                the rest in priority order for failover
 * Down destinations are left out of every order.
 *
 * Ownership: no allocation.  Threads: pure; any thread.
 */
#include <string.h>

#include "sip_trunk.h"

/* Insertion sort of order[0..n) by c[].priority, stable. */
static void sip_trunk_by_priority(const sip_trunk_cand_t *c, int *order, int n)
{
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && c[order[k]].priority < c[order[k - 1]].priority; k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
}

/* See sip_trunk.h. */
int sip_trunk_order(sip_trunk_strategy_t strategy, const sip_trunk_cand_t *c, int n,
                    unsigned counter, uint32_t rnd, int *order)
{
    int usable[SIP_TRUNK_MAX_DST], nu = 0, rc = 0;

    for (int i = 0; i < n && nu < SIP_TRUNK_MAX_DST; i++)
        if (c[i].usable)
            usable[nu++] = i;
    if (nu == 0)
        return 0;
    switch (strategy) {
    case SIP_TRUNK_ROUND_ROBIN:
        for (int i = 0; i < nu; i++)
            order[i] = usable[(counter + (unsigned)i) % (unsigned)nu];
        rc = nu;
        break;
    case SIP_TRUNK_WEIGHTED: {
        unsigned total = 0, pick, first = 0;
        for (int i = 0; i < nu; i++)
            total += (unsigned)(c[usable[i]].weight > 0 ? c[usable[i]].weight : 1);
        pick = rnd % total;
        for (int i = 0; i < nu; i++) {
            unsigned w = (unsigned)(c[usable[i]].weight > 0 ? c[usable[i]].weight : 1);
            if (pick < w) {
                first = (unsigned)i;
                break;
            }
            pick -= w;
        }
        order[rc++] = usable[first];
        for (int i = 0; i < nu; i++)
            if ((unsigned)i != first)
                order[rc++] = usable[i];
        sip_trunk_by_priority(c, order + 1, rc - 1);
        break;
    }
    default: /* failover */
        memcpy(order, usable, sizeof(int) * (size_t)nu);
        sip_trunk_by_priority(c, order, nu);
        rc = nu;
        break;
    }
    return rc;
}

/* See sip_trunk.h. */
int sip_trunk_fails_over(int status)
{
    return status == 408 || (status >= 500 && status < 600);
}

static const char *const sip_trunk_strategies[] = {"failover", "round_robin", "weighted"};
static const char *const sip_trunk_states[] = {"probing", "up", "down"};

int sip_trunk_strategy_parse(const char *s)
{
    int rc = -1;

    for (int i = 0; s && i < 3 && rc < 0; i++)
        if (strcmp(s, sip_trunk_strategies[i]) == 0)
            rc = i;
    return rc;
}

const char *sip_trunk_strategy_name(sip_trunk_strategy_t s)
{
    return (unsigned)s < 3 ? sip_trunk_strategies[s] : "?";
}

const char *sip_trunk_state_name(sip_trunk_state_t s)
{
    return (unsigned)s < 3 ? sip_trunk_states[s] : "?";
}
