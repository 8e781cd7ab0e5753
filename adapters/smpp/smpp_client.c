/*
 * smpp_client.c - client connectors: Junction as the ESME of an operator
 * SMSC.  A connector is 1-16 binds (conf "binds", default 1) of the type
 * conf "bind" names: transceiver by default, transmitter, receiver (fed
 * nothing: MO and receipts only), or "pair" (N bind_transmitter that
 * carry the submits and N bind_receiver that take deliver_sm); conf
 * "outbind" adds one receiver that an SMSC's outbind opens.  This file is
 * the connector's conf, status, send queue and submit_sm_resp;
 * smpp_client_bind.c runs each bind's state machine, smpp_client_rx.c
 * takes what the SMSC sends (smpp_client_int.h is the struct they
 * share).
 *
 * Sending: send() queues an smpp_sub_t per envelope in one ordered list.
 * The cursor points at the first one with parts still to send; pump()
 * places each message that has none out yet on the bound TX-capable bind
 * with the fewest submit_sm in flight that is under its `window` and has
 * a token of its `bind_throughput` bucket; every further part of that
 * message goes on the same bind, in order (an SMSC joins the parts of one
 * long message per bind).  While no bind can take a new message the
 * messages after it wait, in order; when a token is what is missing a
 * timer pumps again when it is due.  The connector's own `throughput` is
 * the core's token bucket (gateway/gw_cq.c), which feeds it no faster; the
 * connector's room is the window of each bound TX-capable bind.
 *
 * A sub leaves the list when its outcome is known (all parts acknowledged
 * -> gw_core_submitted; a throttling, queue-full or system error ->
 * gw_core_retry; another error -> gw_core_failed) and is freed when no
 * part is in flight any more.  When one bind's session drops, only the
 * subs placed on it are reset and sent again, whole, on any bind (at
 * least once); the other binds carry on.
 *
 * PDUs: submit_sm out goes through smpp_wire; the bind body is written
 * by hand (smpp_client_bind.c).
 *
 * Threads: the SMPP thread, except smpp_client_new / ref / unref / status /
 * room / check, which any thread may call (they touch atomics and
 * immutable conf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <stdint.h>
#include <smpp34.h>
#include <smpp34_structs.h>

#include "gw_adapter.h"
#include "gw_core.h"
#include "gw_errors.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_stats.h"
#include "gw_str.h"
#include "gw_trace.h"
#include "smpp.h"
#include "smpp_client_int.h"

const char *const smpp_cl_state_names[] = {
    "down", "connecting", "binding", "bound", "unbinding", "closed", "held",
};

/* Copy a string member of conf into out; GW_EINVAL when absent (and
 * required) or too long. */
static int smpp_conf_str(const json_t *conf, const char *key, int required, char *out,
                         size_t outlen, char *err, size_t errlen)
{
    const json_t *v = json_object_get(conf, key);

    if (v == NULL && !required) {
        if (out)
            out[0] = 0;
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= outlen) {
        snprintf(err, errlen, "%s: a string of at most %zu characters is required", key,
                 outlen - 1);
        return GW_EINVAL;
    }
    if (out)
        snprintf(out, outlen, "%s", json_string_value(v));
    return 0;
}

/* The bind command of conf "bind" (NULL: transceiver; "pair": 0 with
 * *pair set), 0 when unknown. */
static uint32_t smpp_bind_cmd(const char *s, int *pair)
{
    *pair = 0;
    if (s == NULL || strcmp(s, "transceiver") == 0)
        return BIND_TRANSCEIVER;
    if (strcmp(s, "transmitter") == 0)
        return BIND_TRANSMITTER;
    if (strcmp(s, "receiver") == 0)
        return BIND_RECEIVER;
    if (strcmp(s, "pair") == 0)
        *pair = 1;
    return 0;
}

/* conf "interface_version": 0x34 (absent or "3.4"), 0x50 ("5.0"), 0 else. */
static int smpp_iface(const json_t *v)
{
    if (v == NULL)
        return 0x34;
    if (!json_is_string(v))
        return 0;
    if (strcmp(json_string_value(v), "3.4") == 0)
        return 0x34;
    if (strcmp(json_string_value(v), "5.0") == 0)
        return 0x50;
    return 0;
}

/* The binds checks of conf: "bind", "binds", "interface_version",
 * "bind_throughput".  0 or GW_EINVAL with err. */
static int smpp_client_check_binds(const json_t *conf, char *err, size_t errlen)
{
    const json_t *bind = json_object_get(conf, "bind");
    const json_t *n = json_object_get(conf, "binds");
    const json_t *btput = json_object_get(conf, "bind_throughput");
    int pair = 0;

    if (bind != NULL && smpp_bind_cmd(json_string_value(bind), &pair) == 0 && !pair) {
        snprintf(err, errlen, "bind: \"transceiver\" (the default), \"transmitter\", "
                              "\"receiver\" or \"pair\"");
        return GW_EINVAL;
    }
    if (n != NULL && (!json_is_integer(n) || json_integer_value(n) < 1 ||
                      json_integer_value(n) > SMPP_CL_MAX_BINDS / (pair ? 2 : 1))) {
        snprintf(err, errlen, "binds: an integer 1-%d (sessions of the bind type%s)",
                 SMPP_CL_MAX_BINDS / (pair ? 2 : 1), pair ? "; pairs with bind \"pair\"" : "");
        return GW_EINVAL;
    }
    if (smpp_iface(json_object_get(conf, "interface_version")) == 0) {
        snprintf(err, errlen, "interface_version: \"3.4\" (the default) or \"5.0\"");
        return GW_EINVAL;
    }
    if (json_object_get(conf, "outbind") != NULL && !json_is_boolean(json_object_get(conf, "outbind"))) {
        snprintf(err, errlen, "outbind: true or false");
        return GW_EINVAL;
    }
    if (btput && (!json_is_number(btput) || json_number_value(btput) < 0 ||
                  json_number_value(btput) > 100000)) {
        snprintf(err, errlen, "bind_throughput: a number 0-100000 (submit_sm per second per "
                              "bind; 0: no limit)");
        return GW_EINVAL;
    }
    return 0;
}

/* conf "receipt_ids" and "registered_delivery" (absent: "same", the
 * message's).  0 or GW_EINVAL with err naming the key. */
static int smpp_client_check_receipts(const json_t *conf, char *err, size_t errlen)
{
    const json_t *ids = json_object_get(conf, "receipt_ids");
    const json_t *rd = json_object_get(conf, "registered_delivery");

    if (ids != NULL && smpp_receipt_ids_parse(json_string_value(ids)) < 0) {
        snprintf(err, errlen, "receipt_ids: one of \"same\" (the default), \"auto\", "
                              "\"submit_hex_receipt_dec\", \"submit_dec_receipt_hex\"");
        return GW_EINVAL;
    }
    if (rd != NULL && (!json_is_integer(rd) || json_integer_value(rd) < 0 ||
                       json_integer_value(rd) > 2)) {
        snprintf(err, errlen, "registered_delivery: 0 (no receipts), 1 (every outcome) or "
                              "2 (failures only); absent: as each message asks");
        return GW_EINVAL;
    }
    return 0;
}

int smpp_client_check(const json_t *conf, char *err, size_t errlen)
{
    char host[256];
    const json_t *port = json_object_get(conf, "port");
    const json_t *win = json_object_get(conf, "window");
    const json_t *tput = json_object_get(conf, "throughput");

    if (!json_is_object(conf)) {
        snprintf(err, errlen, "conf must be an object");
        return GW_EINVAL;
    }
    if (smpp_conf_str(conf, "host", 1, host, sizeof(host), err, errlen) < 0 ||
        smpp_conf_str(conf, "system_id", 1, NULL, 16, err, errlen) < 0 ||
        smpp_conf_str(conf, "password", 1, NULL, 9, err, errlen) < 0 ||
        smpp_conf_str(conf, "system_type", 0, NULL, 13, err, errlen) < 0 ||
        smpp_conf_str(conf, "source_addr", 0, NULL, 21, err, errlen) < 0)
        return GW_EINVAL;
    if (!json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > 65535) {
        snprintf(err, errlen, "port: an integer 1-65535 is required");
        return GW_EINVAL;
    }
    if (win && (!json_is_integer(win) || json_integer_value(win) < 1 ||
                json_integer_value(win) > 1000)) {
        snprintf(err, errlen, "window: an integer 1-1000");
        return GW_EINVAL;
    }
    {
        smpp_status_table_t t;
        if (smpp_status_parse(json_object_get(conf, "status"), &t, err, errlen) < 0)
            return GW_EINVAL;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *k = i == 0 ? "tls" : "tls_verify";
        const json_t *b = json_object_get(conf, k);
        if (b != NULL && !json_is_boolean(b)) {
            snprintf(err, errlen, "%s: true or false", k);
            return GW_EINVAL;
        }
    }
    if (smpp_conf_str(conf, "tls_ca", 0, NULL, 256, err, errlen) < 0 ||
        smpp_conf_str(conf, "tls_server_name", 0, NULL, 256, err, errlen) < 0)
        return GW_EINVAL;
    if (smpp_client_check_binds(conf, err, errlen) < 0 ||
        smpp_client_check_receipts(conf, err, errlen) < 0)
        return GW_EINVAL;
    if (smpp_conf_str(conf, "address_range", 0, NULL, 41, err, errlen) < 0 ||
        smpp_dc0_check(conf, err, errlen) < 0)
        return GW_EINVAL;
    if (json_object_get(conf, "long") != NULL &&
        smpp_long_parse(json_string_value(json_object_get(conf, "long"))) < 0) {
        snprintf(err, errlen, "long: one of \"udh\" (8-bit reference, the default), \"udh16\", "
                              "\"sar\", \"payload\"");
        return GW_EINVAL;
    }
    /* messages per second the core feeds it at most (gw_cq.c), 0: no limit */
    if (tput && (!json_is_number(tput) || json_number_value(tput) < 0 ||
                 json_number_value(tput) > 100000)) {
        snprintf(err, errlen, "throughput: a number 0-100000 (messages per second; 0: no limit)");
        return GW_EINVAL;
    }
    return 0;
}

/* The binds of cl from its conf (checked): n of the bind type, or for a
 * pair n transmitters then n receivers. */
static void smpp_client_new_binds(smpp_client_t *cl, const json_t *conf)
{
    const json_t *n = json_object_get(conf, "binds");
    int pair, per = n ? (int)json_integer_value(n) : 1;
    uint32_t cmd = smpp_bind_cmd(json_string_value(json_object_get(conf, "bind")), &pair);

    if (per < 1 || per > SMPP_CL_MAX_BINDS / (pair ? 2 : 1))
        per = 1;
    if (cmd == 0 && !pair)
        cmd = BIND_TRANSCEIVER;
    cl->bind_cmd = cmd;
    cl->nbinds = pair ? 2 * per : per;
    for (int i = 0; i < cl->nbinds; i++) {
        smpp_bind_t *b = &cl->binds[i];
        b->cl = cl;
        b->idx = i;
        b->cmd = !pair ? cmd : i < per ? BIND_TRANSMITTER : BIND_RECEIVER;
        smpp_tb_init(&b->tb, cl->bind_tput);
    }
    if (json_is_true(json_object_get(conf, "outbind"))) { /* one receiver more, opened by the SMSC */
        smpp_bind_t *b = &cl->binds[cl->nbinds];
        b->cl = cl;
        b->idx = cl->nbinds++;
        b->cmd = BIND_RECEIVER;
        b->outbind = 1;
    }
}

smpp_client_t *smpp_client_new(gw_connector_t *c)
{
    smpp_client_t *cl = calloc(1, sizeof(*cl));
    char err[128];
    const json_t *win = json_object_get(c->conf, "window");
    const json_t *btput = json_object_get(c->conf, "bind_throughput");

    if (cl == NULL)
        return NULL;
    if (smpp_conf_str(c->conf, "host", 1, cl->host, sizeof(cl->host), err, sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "system_id", 1, cl->system_id, sizeof(cl->system_id), err,
                      sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "password", 1, cl->password, sizeof(cl->password), err,
                      sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "system_type", 0, cl->system_type, sizeof(cl->system_type), err,
                      sizeof(err)) < 0 ||
        smpp_conf_str(c->conf, "source_addr", 0, cl->source, sizeof(cl->source), err,
                      sizeof(err)) < 0) {
        GW_ERR(SMPP_MOD, "connector %s: %s", c->name, err);
        free(cl);
        return NULL;
    }
    snprintf(cl->name, sizeof(cl->name), "%s", c->name);
    cl->port = (int)json_integer_value(json_object_get(c->conf, "port"));
    cl->window = win ? (int)json_integer_value(win) : smpp_window;
    cl->long_mode = json_object_get(c->conf, "long") != NULL
                        ? smpp_long_parse(json_string_value(json_object_get(c->conf, "long")))
                        : SMPP_LONG_UDH;
    if (cl->long_mode < 0)
        cl->long_mode = SMPP_LONG_UDH;
    cl->dc0 = smpp_dc0_conf(c->conf);
    if (smpp_status_parse(json_object_get(c->conf, "status"), &cl->status, err, sizeof(err)) < 0)
        memset(&cl->status, 0, sizeof(cl->status)); /* checked before it was stored */
    cl->iface = smpp_iface(json_object_get(c->conf, "interface_version"));
    if (cl->iface == 0)
        cl->iface = 0x34;
    cl->bind_tput = json_is_number(btput) && json_number_value(btput) > 0
                        ? json_number_value(btput) : 0;
    smpp_client_new_binds(cl, c->conf);
    if (smpp_conf_str(c->conf, "address_range", 0, cl->address_range, sizeof(cl->address_range),
                      err, sizeof(err)) < 0)
        cl->address_range[0] = '\0';
    cl->receipt_ids = smpp_receipt_ids_parse(json_string_value(json_object_get(c->conf,
                                                                               "receipt_ids")));
    if (cl->receipt_ids < 0)
        cl->receipt_ids = SMPP_RIDS_SAME; /* absent (checked before it was stored) */
    cl->rd = json_is_integer(json_object_get(c->conf, "registered_delivery"))
                 ? (int)json_integer_value(json_object_get(c->conf, "registered_delivery"))
                 : -1;
    cl->tls = json_is_true(json_object_get(c->conf, "tls"));
    cl->tls_verify = !json_is_false(json_object_get(c->conf, "tls_verify"));
    if (smpp_conf_str(c->conf, "tls_ca", 0, cl->tls_ca, sizeof(cl->tls_ca), err, sizeof(err)) < 0)
        cl->tls_ca[0] = '\0';
    if (smpp_conf_str(c->conf, "tls_server_name", 0, cl->tls_name, sizeof(cl->tls_name), err,
                      sizeof(err)) < 0 || cl->tls_name[0] == '\0')
        snprintf(cl->tls_name, sizeof(cl->tls_name), "%s", cl->host);
    cl->refs = 1;
    cl->role = SMPP_ROLE_CLIENT;
    return cl;
}

smpp_client_t *smpp_client_ref(smpp_client_t *cl)
{
    __atomic_add_fetch(&cl->refs, 1, __ATOMIC_RELAXED);
    return cl;
}

void smpp_client_unref(smpp_client_t *cl)
{
    if (cl && __atomic_sub_fetch(&cl->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(cl);
}

/* The connector's state from its binds' (any thread): bound while a
 * TX-capable bind is (any bind, for receivers only); else the most
 * advanced of those binds: unbinding, binding, connecting, held, down. */
static int smpp_client_state(smpp_client_t *cl)
{
    static const int rank[] = { [SMPP_CL_DOWN] = 0,      [SMPP_CL_HELD] = 1,
                                [SMPP_CL_CONNECTING] = 2, [SMPP_CL_BINDING] = 3,
                                [SMPP_CL_UNBINDING] = 4, [SMPP_CL_BOUND] = 5,
                                [SMPP_CL_CLOSED] = -1 };
    int best = SMPP_CL_DOWN, rx_only = cl->bind_cmd == BIND_RECEIVER;

    if (__atomic_load_n(&cl->closed, __ATOMIC_RELAXED))
        return SMPP_CL_CLOSED;
    for (int i = 0; i < cl->nbinds; i++) {
        int st = smpp_bind_get(&cl->binds[i]);
        if ((rx_only || smpp_bind_tx(&cl->binds[i])) && rank[st] > rank[best])
            best = st;
    }
    return best;
}

/* One bind as smpp.binds lists it (docs/mi.md). */
static json_t *smpp_bind_status(const smpp_bind_t *b)
{
    int64_t next = __atomic_load_n(&b->next_ms, __ATOMIC_RELAXED);

    return json_pack("{s:i, s:s, s:b, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "bind",
                     b->idx, "type", smpp_bind_type_name(b->cmd), "outbind", b->outbind, "state",
                     smpp_cl_state_names[smpp_bind_get(b)], "inflight",
                     __atomic_load_n(&b->ninflight, __ATOMIC_RELAXED), "submitted",
                     (json_int_t)__atomic_load_n(&b->submits, __ATOMIC_RELAXED), "received",
                     (json_int_t)__atomic_load_n(&b->delivers, __ATOMIC_RELAXED), "binds",
                     (json_int_t)__atomic_load_n(&b->bound_n, __ATOMIC_RELAXED), "refused",
                     (json_int_t)__atomic_load_n(&b->refused, __ATOMIC_RELAXED), "lost",
                     (json_int_t)__atomic_load_n(&b->lost, __ATOMIC_RELAXED), "alerts",
                     (json_int_t)__atomic_load_n(&b->alerts, __ATOMIC_RELAXED), "next_attempt_ms",
                     next > 0 ? json_integer(next) : json_null());
}

json_t *smpp_client_status(smpp_client_t *cl)
{
    char peer[300];
    json_t *binds = json_array(), *st;

    snprintf(peer, sizeof(peer), "%s:%d", cl->host, cl->port);
    for (int i = 0; binds && i < cl->nbinds; i++)
        json_array_append_new(binds, smpp_bind_status(&cl->binds[i]));
    st = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:b, s:s, s:s, s:o*}", "state",
                   smpp_cl_state_names[smpp_client_state(cl)], "peer", peer, "system_id",
                   cl->system_id, "window", cl->window, "pending",
                   __atomic_load_n(&cl->npending, __ATOMIC_RELAXED), "inflight",
                   __atomic_load_n(&cl->ninflight, __ATOMIC_RELAXED), "throttled",
                   (json_int_t)__atomic_load_n(&cl->throttled, __ATOMIC_RELAXED), "tls", cl->tls, "bind",
                   cl->bind_cmd == 0 ? "pair" : smpp_bind_type_name(cl->bind_cmd),
                   "interface_version", cl->iface == 0x50 ? "5.0" : "3.4", "binds", binds);
    return st;
}

void smpp_client_metrics(smpp_client_t *cl, gw_metrics_t *m)
{
    const char *lab[] = { "connector", cl->name, NULL };
    char idx[12];

    for (int i = 0; i < cl->nbinds; i++) {
        const smpp_bind_t *b = &cl->binds[i];
        const char *bl[] = { "connector", cl->name, "bind", idx, NULL };
        int st = smpp_bind_get(b);

        snprintf(idx, sizeof idx, "%d", b->idx);
        gw_metrics_value(m, "smpp.bind_up", GW_STAT_GAUGE, "1 while the SMPP client bind is bound",
                         bl, st == SMPP_CL_BOUND);
        for (int k = SMPP_CL_DOWN; k <= SMPP_CL_HELD; k++)
            gw_metrics_value(m, "smpp.bind_state", GW_STAT_GAUGE,
                             "1 for the state the SMPP client bind is in (smpp.binds)",
                             (const char *[]){ "connector", cl->name, "bind", idx, "state",
                                               smpp_cl_state_names[k], NULL },
                             st == k);
        gw_metrics_value(m, "smpp.bind_window_in_use", GW_STAT_GAUGE,
                         "submit_sm of the bind awaiting their submit_sm_resp", bl,
                         __atomic_load_n(&b->ninflight, __ATOMIC_RELAXED));
        gw_metrics_value(m, "smpp.bind_window", GW_STAT_GAUGE,
                         "the window of the bind: submit_sm it may have unanswered", bl,
                         smpp_bind_tx(b) ? cl->window : 0);
        gw_metrics_value(m, "smpp.bind_submitted", GW_STAT_COUNTER,
                         "submit_sm the SMSC answered ESME_ROK on the bind", bl,
                         (double)__atomic_load_n(&b->submits, __ATOMIC_RELAXED));
        gw_metrics_value(m, "smpp.bind_received", GW_STAT_COUNTER,
                         "deliver_sm and data_sm the SMSC sent on the bind", bl,
                         (double)__atomic_load_n(&b->delivers, __ATOMIC_RELAXED));
        gw_metrics_value(m, "smpp.bind_binds", GW_STAT_COUNTER,
                         "binds the SMSC accepted on the bind", bl,
                         (double)__atomic_load_n(&b->bound_n, __ATOMIC_RELAXED));
        gw_metrics_value(m, "smpp.bind_refused", GW_STAT_COUNTER,
                         "binds the SMSC refused on the bind", bl,
                         (double)__atomic_load_n(&b->refused, __ATOMIC_RELAXED));
        gw_metrics_value(m, "smpp.bind_lost", GW_STAT_COUNTER,
                         "sessions of the bind that ended while bound", bl,
                         (double)__atomic_load_n(&b->lost, __ATOMIC_RELAXED));
    }
    gw_metrics_value(m, "smpp.client_pending", GW_STAT_GAUGE,
                     "messages waiting in the SMPP client for a window place", lab,
                     __atomic_load_n(&cl->npending, __ATOMIC_RELAXED));
    gw_metrics_hist(m, "smpp.submit_seconds",
                    "time from a submit_sm sent to its submit_sm_resp, per client connector", lab,
                    &cl->submit_lat);
}

int smpp_client_room(smpp_client_t *cl)
{
    int room = 0;

    /* each bound bind that may carry submit_sm adds its window; a
     * receiver takes MO and receipts only: nothing is fed to it */
    for (int i = 0; i < cl->nbinds; i++)
        if (smpp_bind_tx(&cl->binds[i]) && smpp_bind_get(&cl->binds[i]) == SMPP_CL_BOUND)
            room += cl->window;
    return room;
}
/* --- the send queue -------------------------------------------------------- */

static void smpp_sub_unlink(smpp_client_t *cl, smpp_sub_t *sub)
{
    if (!sub->linked)
        return;
    if (cl->cursor == sub)
        cl->cursor = sub->next;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        cl->head = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    else
        cl->tail = sub->prev;
    sub->prev = sub->next = NULL;
    sub->linked = 0;
    __atomic_sub_fetch(&cl->npending, 1, __ATOMIC_RELAXED);
}

/* Free sub once it is out of the list and nothing of it is in flight. */
static void smpp_sub_maybe_free(smpp_sub_t *sub)
{
    if (sub->linked || sub->outstanding > 0)
        return;
    gw_dlv_free(sub->d);
    smpp_out_free(&sub->out);
    free(sub);
}

static void smpp_client_pause_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smpp_client_pump(arg);
}

/* Send nothing on cl's bind for ms (a pause status); what waits is sent
 * when it ends. */
static void smpp_client_pause(smpp_client_t *cl, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    cl->pause_until = gw_now_ms() + ms;
    if (cl->pause_ev == NULL)
        cl->pause_ev = evtimer_new(smpp_base, smpp_client_pause_cb, cl);
    if (cl->pause_ev != NULL)
        evtimer_add(cl->pause_ev, &tv);
}

/* The outcome of sub is known: unlink it and hand the envelope on. */
static void smpp_sub_done(smpp_client_t *cl, smpp_sub_t *sub, uint32_t status, const char *text)
{
    gw_delivery_t *d = sub->d;

    smpp_sub_unlink(cl, sub);
    sub->d = NULL; /* each outcome hands d back to the core */
    smpp_status_rule_t rule = smpp_status_classify(&cl->status, status);

    if (status == ESME_ROK) {
        const char *ids[SMPP_MAX_PARTS];
        /* each id's other forms, for a receipt that came first in the
         * other base and was parked as written (smpp_id.c) */
        char aliases[SMPP_MAX_PARTS * 2 * (2 * SMPP_ID_MAX + 2)];
        for (size_t i = 0; i < sub->out.nparts; i++)
            ids[i] = sub->ids[i];
        if (cl->receipt_ids != SMPP_RIDS_AUTO ||
            smpp_id_aliases(ids, sub->out.nparts, aliases, sizeof aliases) <= 0)
            aliases[0] = '\0';
        gw_core_submitted_as(d, ids, sub->out.nparts, cl->rd, aliases);
    } else if (rule.action == SMPP_ST_PAUSE) {
        /* the SMSC asks us to slow down: hold the bind, resend it whole later */
        GW_INFO(SMPP_MOD, "connector %s: %s: status 0x%x, pausing %d ms", cl->name, d->env->id,
                status, rule.delay_ms);
        __atomic_add_fetch(&cl->throttled, 1, __ATOMIC_RELAXED);
        smpp_client_pause(cl, rule.delay_ms);
        gw_core_defer(d, (int)status, text, rule.delay_ms);
    } else if (rule.action == SMPP_ST_RETRY) {
        GW_INFO(SMPP_MOD, "connector %s: %s: status 0x%x, retry later", cl->name, d->env->id,
                status);
        gw_core_retry_in(d, (int)status, text, rule.delay_ms, rule.tries);
    } else {
        GW_WARN(SMPP_MOD, "connector %s: %s: rejected with status 0x%x", cl->name, d->env->id,
                status);
        gw_core_failed(d, (int)status, text);
    }
    smpp_sub_maybe_free(sub);
}


void smpp_client_send(smpp_client_t *cl, gw_delivery_t *d)
{
    smpp_sub_t *sub = calloc(1, sizeof(*sub));
    const gw_envelope_t *env = d->env;
    int rc;

    if (sub == NULL || cl->closing) {
        free(sub);
        if (sub != NULL && cl->stopping)
            gw_dlv_free(d); /* shutdown: it stays in the store for the next start */
        else if (sub != NULL)
            gw_core_requeue(d); /* not the message's fault: no attempt counted */
        else
            gw_core_retry(d, ESME_RSYSERR, "out of memory");
        return;
    }
    sub->d = d;
    rc = smpp_out_prepare_dc0(&sub->out, env, (smpp_long_t)cl->long_mode, cl->dc0);
    if (rc != 0) {
        GW_WARN(SMPP_MOD, "connector %s: %s: message cannot be encoded in %d parts", cl->name,
                env->id, SMPP_MAX_PARTS);
        sub->d = NULL;
        if (rc == GW_ENOMEM)
            gw_core_retry(d, ESME_RSYSERR, "out of memory");
        else
            gw_core_failed(d, ESME_RINVMSGLEN, "message too long");
        smpp_sub_maybe_free(sub);
        return;
    }
    sub->linked = 1;
    sub->prev = cl->tail;
    if (cl->tail)
        cl->tail->next = sub;
    else
        cl->head = sub;
    cl->tail = sub;
    if (cl->cursor == NULL)
        cl->cursor = sub;
    __atomic_add_fetch(&cl->npending, 1, __ATOMIC_RELAXED);
    smpp_client_pump(cl);
}

/* The first part of d goes with cl's registered_delivery, not the asked
 * one: counted, and told to its trace. */
static void smpp_client_rd_set(const smpp_client_t *cl, const gw_delivery_t *d, int asked)
{
    static gw_stat_t *st; /* SMPP thread */

    if (st == NULL)
        st = gw_stat(SMPP_STAT_RD, SMPP_STAT_RD_HELP);
    gw_stat_add(st, 1);
    if (gw_trace_on())
        gw_trace_dlvf(d, GW_TRACE_LOG, "registered_delivery %d (connector %s), the message "
                      "asked %d", cl->rd, cl->name, asked);
}

/* Send part sub->sent of sub on b (one token of b's bucket spent).  0, or
 * GW_EINVAL when the message cannot be expressed (then the caller fails
 * it), GW_ERROR when b's socket fails. */
static int smpp_client_send_part(smpp_client_t *cl, smpp_bind_t *b, smpp_sub_t *sub,
                                 int64_t now_us)
{
    smpp_out_bufs_t bufs;
    smpp_sm_fields_t f;
    int rc = smpp_out_part(&sub->out, sub->sent, sub->d->env, cl->source, &bufs, &f);

    if (rc != 0)
        return GW_EINVAL;
    /* conf registered_delivery: what this SMSC is asked, whatever the
     * message said (bits 0-1; a report carries none) */
    if (cl->rd >= 0 && !(f.esm_class & SMPP_ESM_RECEIPT) &&
        (f.registered_delivery & 0x3) != cl->rd) {
        if (sub->sent == 0)
            smpp_client_rd_set(cl, sub->d, f.registered_delivery & 0x3);
        f.registered_delivery = (uint8_t)((f.registered_delivery & ~0x3u) | (unsigned)cl->rd);
    }
    f.validity_period = smpp_out_validity(sub->d->env, gw_now_ms(), &bufs);
    rc = smpp_session_request_sm(b->sess, SUBMIT_SM, &f, sub, (int)sub->sent);
    if (rc < 0)
        return rc == GW_EINVAL ? GW_EINVAL : GW_ERROR;
    smpp_tb_take(&b->tb, now_us);
    sub->bind = b;
    sub->sent++;
    sub->outstanding++;
    __atomic_add_fetch(&b->ninflight, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&cl->ninflight, 1, __ATOMIC_RELAXED);
    return 0;
}

static int64_t smpp_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 1 when b may send one submit_sm now: a bound TX-capable session under
 * its window with a token.  A missing token lowers *wait_us to when it
 * is due. */
static int smpp_bind_ready(const smpp_client_t *cl, smpp_bind_t *b, int64_t now_us,
                           int64_t *wait_us)
{
    int64_t w;

    if (!smpp_bind_tx(b) || smpp_bind_get(b) != SMPP_CL_BOUND || b->sess == NULL ||
        __atomic_load_n(&b->ninflight, __ATOMIC_RELAXED) >= cl->window)
        return 0;
    if ((w = smpp_tb_wait_us(&b->tb, now_us)) > 0) {
        if (*wait_us == 0 || w < *wait_us)
            *wait_us = w;
        return 0;
    }
    return 1;
}

/* The ready bind with the fewest submit_sm in flight, NULL when none.
 * Ties go round: the search starts after the bind picked last (an SMSC
 * that answers at once leaves every bind at 0 in flight). */
static smpp_bind_t *smpp_client_pick(smpp_client_t *cl, int64_t now_us, int64_t *wait_us)
{
    smpp_bind_t *best = NULL;

    for (int k = 0; k < cl->nbinds; k++) {
        smpp_bind_t *b = &cl->binds[(cl->rr + k) % cl->nbinds];
        if (smpp_bind_ready(cl, b, now_us, wait_us) &&
            (best == NULL || __atomic_load_n(&b->ninflight, __ATOMIC_RELAXED) <
                                 __atomic_load_n(&best->ninflight, __ATOMIC_RELAXED)))
            best = b;
    }
    if (best != NULL)
        cl->rr = (best->idx + 1) % cl->nbinds;
    return best;
}

static void smpp_client_tb_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smpp_client_pump(arg);
}

/* Pump again in wait_us (a bind's next token). */
static void smpp_client_tb_arm(smpp_client_t *cl, int64_t wait_us)
{
    struct timeval tv = { (time_t)(wait_us / 1000000), (suseconds_t)(wait_us % 1000000) };

    if (cl->tb_ev == NULL && (cl->tb_ev = evtimer_new(smpp_base, smpp_client_tb_cb, cl)) == NULL)
        return; /* the next response pumps again */
    if (!evtimer_pending(cl->tb_ev, NULL))
        evtimer_add(cl->tb_ev, &tv);
}

void smpp_client_pump(smpp_client_t *cl)
{
    smpp_sub_t *sub, *next;
    int64_t now_us, wait_us = 0;
    int rc;

    if (cl->pause_until > 0 && gw_now_ms() < cl->pause_until)
        return; /* paused: the timer pumps again */
    cl->pause_until = 0;
    now_us = smpp_mono_us();
    for (sub = cl->cursor; sub != NULL; sub = next) {
        int gone = 0;
        next = sub->next;
        while (sub->sent < sub->out.nparts) {
            /* a message's parts all go on the bind of its first */
            smpp_bind_t *b = sub->bind ? (smpp_bind_ready(cl, sub->bind, now_us, &wait_us)
                                              ? sub->bind : NULL)
                                       : smpp_client_pick(cl, now_us, &wait_us);
            if (b == NULL)
                break;
            rc = smpp_client_send_part(cl, b, sub, now_us);
            if (rc == GW_EINVAL) {
                smpp_sub_done(cl, sub, ESME_RINVDSTADR, "address too long");
                gone = 1; /* sub may be freed */
                break;
            }
            if (rc < 0)
                goto out_cursor; /* the socket is failing; the session will end */
        }
        if (!gone && sub->bind == NULL)
            break; /* no bind takes a new message now: the rest waits, in order */
    }
out_cursor:
    while (cl->cursor && cl->cursor->sent == cl->cursor->out.nparts)
        cl->cursor = cl->cursor->next;
    if (wait_us > 0 && cl->cursor)
        smpp_client_tb_arm(cl, wait_us);
}

void smpp_client_requeue(smpp_bind_t *b)
{
    smpp_client_t *cl = b->cl;
    smpp_req_t *r;
    smpp_sub_t *sub;

    for (r = b->sess ? b->sess->reqs : NULL; r; r = r->next) {
        if (r->cmd_id != SUBMIT_SM || r->ctx == NULL)
            continue;
        sub = r->ctx;
        sub->outstanding--;
        smpp_sub_maybe_free(sub);
    }
    for (sub = cl->head; sub; sub = sub->next) {
        if (sub->bind != b)
            continue;
        sub->bind = NULL;
        sub->sent = sub->acked = 0;
        sub->outstanding = 0;
        memset(sub->ids, 0, sizeof(sub->ids));
    }
    __atomic_sub_fetch(&cl->ninflight, __atomic_exchange_n(&b->ninflight, 0, __ATOMIC_RELAXED),
                       __ATOMIC_RELAXED);
    cl->cursor = cl->head;
    while (cl->cursor && cl->cursor->sent == cl->cursor->out.nparts)
        cl->cursor = cl->cursor->next;
}

void smpp_client_release(smpp_client_t *cl)
{
    smpp_sub_t *sub;

    while ((sub = cl->head) != NULL) {
        smpp_sub_unlink(cl, sub);
        /* on shutdown they stay queued in the store for the next start;
         * else they go to whatever connector carries the name next,
         * without counting an attempt (gw_core_requeue) */
        if (!cl->stopping) {
            gw_core_requeue(sub->d);
            sub->d = NULL;
        }
        smpp_sub_maybe_free(sub);
    }
    if (cl->pause_ev)
        event_free(cl->pause_ev);
    cl->pause_ev = NULL;
    if (cl->tb_ev)
        event_free(cl->tb_ev);
    cl->tb_ev = NULL;
}

/* --- submit_sm_resp ---------------------------------------------------------- */

void smpp_client_submit_resp(smpp_bind_t *b, const smpp_hdr_t *h, const uint8_t *raw,
                             const smpp_req_t *req)
{
    smpp_client_t *cl = b->cl;
    smpp_sub_t *sub = req->ctx;
    const char *msgid, *why;

    gw_hist_observe_us(&cl->submit_lat, gw_stats_now_us() - req->sent_us);
    sub->outstanding--;
    __atomic_sub_fetch(&b->ninflight, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&cl->ninflight, 1, __ATOMIC_RELAXED);
    if (!sub->linked) { /* its outcome is known already */
        smpp_sub_maybe_free(sub);
        goto out_pump;
    }
    if (h->status != ESME_ROK || h->cmd_id != SUBMIT_SM_RESP) {
        smpp_sub_done(cl, sub, h->status ? h->status : ESME_RSYSERR, "submit_sm refused");
        goto out_pump;
    }
    __atomic_add_fetch(&b->submits, 1, __ATOMIC_RELAXED);
    /* every part's message_id: each part gets its own receipt (the core
     * folds them into one outcome); a malformed one is logged and left
     * empty, the part still acknowledged */
    if (smpp_wire_decode_resp(raw, h->len, &msgid, &why) < 0)
        GW_WARN(SMPP_MOD, "%s: submit_sm_resp seq %u: %s", b->sess->peer, h->seq, why);
    else if (req->part >= 0 && req->part < SMPP_MAX_PARTS)
        smpp_id_norm(msgid, sub->ids[req->part], sizeof(sub->ids[0])); /* as receipts match it */
    if (++sub->acked == sub->out.nparts)
        smpp_sub_done(cl, sub, ESME_ROK, NULL);
out_pump:
    /* a window slot came free: send what waits for one */
    smpp_client_pump(cl);
}
