/*
 * smpp_guard.c - repeated bind failures back off, per peer address and
 * per system_id, so a password cannot be guessed at the speed of the
 * port.
 *
 * Each refused bind counts against its peer address and its system_id.
 * The first SMPP_GUARD_FREE failures cost nothing; from then on each one
 * closes that key for a while - 1 s, doubling per failure up to
 * smpp.bind_backoff_max_s - and a bind while either key is closed is
 * refused at once (ESME_RBINDFAIL, like every refusal) without a password
 * check.  A successful bind clears both keys; a key without a failure for
 * SMPP_GUARD_FORGET_MS is forgotten.  The table is bounded: when it is
 * full the entry idle longest makes room.
 *
 * Threads: the SMPP thread (plain data, no locks); pure given now_ms.
 */
#include <stdio.h>
#include <string.h>

#include "smpp.h"

#define SMPP_GUARD_SLOTS 1024
#define SMPP_GUARD_FREE 3
#define SMPP_GUARD_FORGET_MS (15 * 60 * 1000)

typedef struct smpp_guard_slot {
    char key[48];      /* "ip:<address>" or "id:<system_id>"; "" when free */
    int fails;
    int64_t last_ms;   /* the last failure */
    int64_t until_ms;  /* closed until then */
} smpp_guard_slot_t;

static smpp_guard_slot_t smpp_guard[SMPP_GUARD_SLOTS];
int smpp_bind_backoff_max_s = 300;

static smpp_guard_slot_t *smpp_guard_find(const char *key, int64_t now_ms, int make)
{
    smpp_guard_slot_t *idle = NULL;

    for (int i = 0; i < SMPP_GUARD_SLOTS; i++) {
        smpp_guard_slot_t *g = &smpp_guard[i];
        if (g->key[0] != '\0' && now_ms - g->last_ms > SMPP_GUARD_FORGET_MS && now_ms >= g->until_ms)
            g->key[0] = '\0'; /* forgotten */
        if (g->key[0] != '\0' && strcmp(g->key, key) == 0)
            return g;
        if (idle == NULL || g->key[0] == '\0' || (idle->key[0] != '\0' && g->last_ms < idle->last_ms))
            idle = g;
    }
    if (!make)
        return NULL;
    memset(idle, 0, sizeof *idle);
    snprintf(idle->key, sizeof idle->key, "%s", key);
    return idle;
}

static void smpp_guard_key(char *out, size_t n, const char *kind, const char *v)
{
    snprintf(out, n, "%s:%.40s", kind, v);
}

int64_t smpp_guard_closed(const char *ip, const char *system_id, int64_t now_ms)
{
    char key[48];
    int64_t wait = 0;
    smpp_guard_slot_t *g;

    for (int k = 0; k < 2; k++) {
        smpp_guard_key(key, sizeof key, k == 0 ? "ip" : "id", k == 0 ? ip : system_id);
        g = smpp_guard_find(key, now_ms, 0);
        if (g != NULL && g->until_ms > now_ms && g->until_ms - now_ms > wait)
            wait = g->until_ms - now_ms;
    }
    return wait;
}

void smpp_guard_failed(const char *ip, const char *system_id, int64_t now_ms)
{
    char key[48];
    smpp_guard_slot_t *g;

    for (int k = 0; k < 2; k++) {
        smpp_guard_key(key, sizeof key, k == 0 ? "ip" : "id", k == 0 ? ip : system_id);
        if ((g = smpp_guard_find(key, now_ms, 1)) == NULL)
            continue;
        g->fails++;
        g->last_ms = now_ms;
        if (g->fails > SMPP_GUARD_FREE) {
            int n = g->fails - SMPP_GUARD_FREE - 1;
            int64_t ms = 1000LL << (n > 20 ? 20 : n);
            int64_t max = (int64_t)smpp_bind_backoff_max_s * 1000;
            g->until_ms = now_ms + (ms < max ? ms : max);
        }
    }
}

void smpp_guard_passed(const char *ip, const char *system_id, int64_t now_ms)
{
    char key[48];
    smpp_guard_slot_t *g;

    for (int k = 0; k < 2; k++) {
        smpp_guard_key(key, sizeof key, k == 0 ? "ip" : "id", k == 0 ? ip : system_id);
        if ((g = smpp_guard_find(key, now_ms, 0)) != NULL)
            g->key[0] = '\0';
    }
}

void smpp_guard_reset(void)
{
    memset(smpp_guard, 0, sizeof smpp_guard);
}
