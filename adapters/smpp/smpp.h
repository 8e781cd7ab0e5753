/*
 * smpp.h - private to adapters/smpp: the pieces of the SMPP 3.4 adapter.
 *
 *   smpp_adapter.c  the gw_adapter_t, parameters, the SMPP thread and its
 *                   work queue
 *   smpp_mi.c       MI commands (accounts.*, smpp.sessions, smpp.binds)
 *   smpp_dest.c     deliveries to customers (the account:<id> connectors)
 *   smpp_out.c      an envelope as outgoing parts (both roles)
 *   smpp_status.c   what each SMSC command_status means (per connector)
 *   smpp_tls.c      TLS (OpenSSL) for sessions of both roles
 *   smpp_guard.c    bind failures back off
 *   smpp_rate.c     reconnect backoff and the token bucket of a bind (pure)
 *   smpp_id.c       the base (hex, decimal) of an SMSC's ids in receipts (pure)
 *   smpp_session.c  one TCP session: framing, sequence numbers, the
 *                   in-flight request list, response timers, enquire_link
 *   smpp_client.c   client connectors (we are the ESME of an operator SMSC):
 *                   conf, status, the send queue over the binds, bound PDUs
 *   smpp_client_bind.c  each bind's state machine, backoff, hold, close,
 *                   outbind
 *   smpp_client_rx.c  what an SMSC sends a client: receipts, MO, alerts
 *                   (the three share smpp_client_int.h)
 *   smpp_server.c   our SMSC port for customers
 *   smpp_cancel.c   cancel_sm / replace_sm from customers (gw_core_cancel)
 *   smpp_codec.c    GSM 03.38 / UCS-2 / Latin-1 and splitting (pure)
 *   smpp_pdu.c      envelope <-> PDU fields shared by client and server
 *   smpp_wire.c     our codec of the per-message PDUs (smpp_wire.h, pure)
 *
 * Threads: libsmpp34 keeps its error state in globals, so every function
 * here except the codecs, smpp_work_push() and the gw_adapter_t entry
 * points runs on the one SMPP thread (smpp_base); blocking work (a bind's
 * password check) goes to the core's worker pool and comes back as work.
 */
#ifndef SMPP_H
#define SMPP_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "gw_core.h"
#include "gw_mi.h"
#include "gw_delivery.h"
#include "gw_stats.h"
#include "smpp_wire.h"

#define SMPP_MOD "smpp"
#define SMPP_MAX_PDU 65536 /* largest command_length we accept */
#define SMPP_MAX_PARTS 16  /* longest concatenated message we send */

/* data_coding values */
#define SMPP_DC_GSM 0
#define SMPP_DC_IA5 1
#define SMPP_DC_LATIN1 3
#define SMPP_DC_BINARY 4
#define SMPP_DC_UCS2 8

/* octets of short_message per single message / per concatenated part */
#define SMPP_GSM_SINGLE 160
#define SMPP_GSM_PART 153
#define SMPP_UCS2_SINGLE 140
#define SMPP_UCS2_PART 134

/* --- codec (pure, any thread) ------------------------------------------ */
typedef struct smpp_text {
    int data_coding; /* SMPP_DC_GSM or SMPP_DC_UCS2 */
    uint8_t *data;   /* owned */
    size_t len;
} smpp_text_t;

/* Decode one code point of UTF-8 at s[*i] (i < n) and advance *i.  Returns
 * 0, or -1 for an invalid sequence (then *cp = U+FFFD, *i moves by one). */
int smpp_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp);
/* 1 when every character of utf8 has a GSM 03.38 form (basic or extension). */
int smpp_gsm_fits(const char *utf8, size_t n);
/* Encode utf8 as unpacked GSM septets when it fits, else UTF-16BE.
 * out->data is malloc'd (smpp_text_free).  0 or GW_ENOMEM. */
int smpp_text_encode(const char *utf8, size_t n, smpp_text_t *out);
/* Encode utf8 as UTF-16BE whatever it holds (the sender asked for UCS-2:
 * tag "coding" = "ucs2").  0 or GW_ENOMEM. */
int smpp_text_encode_ucs2(const char *utf8, size_t n, smpp_text_t *out);
void smpp_text_free(smpp_text_t *t);
/* Split t into parts: offs[0..n] are the part boundaries (n + 1 entries,
 * max >= n + 1).  One part when it fits one short_message, else parts of
 * SMPP_GSM_PART / SMPP_UCS2_PART octets that never end inside an escape or
 * surrogate pair.  Returns n, or 0 when more than max - 1 parts. */
size_t smpp_text_split(const smpp_text_t *t, size_t *offs, size_t max);
/* The same for parts that each carry hdr octets of header (6: an 8-bit
 * concatenation UDH, 7: a 16-bit one, 0: SAR TLVs). */
size_t smpp_text_split_hdr(const smpp_text_t *t, size_t *offs, size_t max, size_t hdr);
/* The alphabet data_coding says the octets are in: SMPP_DC_GSM, _IA5,
 * _LATIN1, _UCS2 or _BINARY (8-bit data, compressed, codings we do not
 * decode, reserved values).  SMPP 3.4's own codings 0..14 as they are,
 * the 3GPP TS 23.038 coding groups 0x10-0x3F and 0xC0-0xFF by their
 * alphabet bits (message class and indications ignored). */
int smpp_dcs_alphabet(int data_coding);
/* The SMS message class (0 flash .. 3) a 3GPP TS 23.038 data_coding
 * carries - general data coding with bit 4 (0x10-0x1F, 0x30-0x3F), data
 * coding / message class (0xF0-0xFF) - or -1 when it names none. */
int smpp_dcs_class(int data_coding);
/* data_coding of text encoded as enc (SMPP_DC_GSM or SMPP_DC_UCS2) with
 * message class cls (0..3): 0xF0 | cls, 0x18 | cls; enc unchanged for
 * any other alphabet (none of Latin-1 or IA5 carries a class) or cls < 0. */
int smpp_dcs_with_class(int enc, int cls);
/* 1 when data_coding carries no text we decode (binary, unknown). */
int smpp_text_is_binary(int data_coding);
/* short_message octets in data_coding to a new NUL-terminated UTF-8 string
 * (caller frees); NULL when binary or out of memory. */
char *smpp_text_decode(int data_coding, const uint8_t *in, size_t n, size_t *outlen);

/* What data_coding 0 means to an SMSC (client conf "dc0"): its default
 * alphabet, GSM 03.38 unless it says otherwise. */
typedef enum { SMPP_DC0_GSM = 0, SMPP_DC0_LATIN1, SMPP_DC0_ASCII } smpp_dc0_t;
/* "gsm" (and NULL: the default), "latin1", "ascii" or "ia5" -> the
 * meaning; -1 for anything else. */
int smpp_dc0_parse(const char *s);
/* smpp_text_decode, data_coding 0 read as dc0 says. */
char *smpp_text_decode_dc0(int data_coding, int dc0, const uint8_t *in, size_t n,
                           size_t *outlen);
/* smpp_text_encode for an SMSC whose data_coding 0 is dc0: a text all in
 * that alphabet as its octets with data_coding 0 (GSM: septets), else
 * UTF-16BE (data_coding 8).  0 or GW_ENOMEM. */
int smpp_text_encode_dc0(const char *utf8, size_t n, int dc0, smpp_text_t *out);

/* --- an envelope as outgoing parts (smpp_out.c, pure) --------------------- */
/* How a connector sends a text longer than one message (conf "long"). */
typedef enum {
    SMPP_LONG_UDH = 0, /* UDH, 8-bit reference (IEI 0x00): the default */
    SMPP_LONG_UDH16,   /* UDH, 16-bit reference (IEI 0x08) */
    SMPP_LONG_SAR,     /* sar_msg_ref_num / sar_total_segments / sar_segment_seqnum */
    SMPP_LONG_PAYLOAD, /* one PDU, the whole text in message_payload */
} smpp_long_t;

/* "udh", "udh16", "sar", "payload" -> the mode; -1 for anything else. */
int smpp_long_parse(const char *s);

typedef struct smpp_out {
    smpp_text_t text;                 /* owned */
    size_t offs[SMPP_MAX_PARTS + 1];  /* part boundaries in text */
    size_t nparts;
    smpp_long_t mode;
    int payload;                      /* 1: one PDU, text in message_payload */
    unsigned ref;                     /* concatenation reference: a hash of the id
                                       * (8 or 16 bits by mode), or the sender's */
    unsigned total, seq;              /* 0, or the sender's own part: its total and
                                       * number (env tag "concat"), kept */
    int data_coding;                  /* of every part: text.data_coding with the
                                       * sender's message class (tag "sms_class") */
    uint8_t udh[140];                 /* a binary message's UDH (tag "udh"), sent */
    size_t udh_len;                   /* in front of its octets with UDHI; 0: none */
} smpp_out_t;

/* The buffers one part's fields point into. */
typedef struct smpp_out_bufs {
    char src[SMPP_WIRE_ADDR_MAX], dst[SMPP_WIRE_ADDR_MAX];
    uint8_t sm[SMPP_WIRE_SM_MAX];
    char validity[17]; /* smpp_out_validity */
} smpp_out_bufs_t;

/* Encode env's body and split it the connector's way (mode).  A message
 * that is one part of its sender's own long message (tag "concat" =
 * "ref/total/seq") and fits one PDU keeps that segmentation: the same
 * reference, total and number, as a UDH (8-bit, or 16-bit for a reference
 * past 255 or mode udh16) or as SAR TLVs (mode sar).  A binary message's
 * UDH (tag "udh", gw_binary.h) goes in front of its octets.  0, GW_EINVAL
 * (more than SMPP_MAX_PARTS parts, binary and its UDH past one part, a
 * bad "udh" tag) or GW_ENOMEM;
 * smpp_out_free either way. */
int smpp_out_prepare(smpp_out_t *o, const gw_envelope_t *env, smpp_long_t mode);
/* The same toward an SMSC whose data_coding 0 means dc0 (smpp_dc0_t). */
int smpp_out_prepare_dc0(smpp_out_t *o, const gw_envelope_t *env, smpp_long_t mode, int dc0);
void smpp_out_free(smpp_out_t *o);
/* The fields of part i (0-based) into f, pointing into b: addresses
 * (default_src when env has no source), UDH, coding, registered_delivery;
 * a delivery report as a receipt (esm_class 0x04, receipted_message_id,
 * message_state).  0, or GW_EINVAL when an address cannot be expressed. */
int smpp_out_part(const smpp_out_t *o, size_t i, const gw_envelope_t *env,
                  const char *default_src, smpp_out_bufs_t *b, smpp_sm_fields_t *f);
/* The validity_period of a submit_sm for env sent at now_ms: when its
 * sender set one (tag "validity_s": SIP X-SMS-Validity, an SMPP
 * customer's validity_period), the time
 * left to its expiry in SMPP 3.4 relative form "YYMMDDhhmmss000R" written
 * into b->validity; else NULL (the SMSC's default). */
const char *smpp_out_validity(const gw_envelope_t *env, int64_t now_ms, smpp_out_bufs_t *b);
/* SMPP 3.4 5.2.28 message_state of a receipt's "stat:" word (7, UNKNOWN,
 * for any other). */
int smpp_message_state(const char *stat);
/* Its "stat:" word, NULL outside 1..8. */
const char *smpp_message_state_name(int state);
/* A far side's message id as receipts are matched: leading zeros dropped
 * (one kept for an all-zero id), letters lower case - SMSCs that answer
 * "00AB12" and receipt "ab12" name one message.  out holds n octets. */
void smpp_id_norm(const char *in, char *out, size_t n);

/* --- the base of the far side's ids (smpp_id.c, pure) ------------------- */
#define SMPP_ID_MAX 66 /* an id as receipts match it, with its NUL */
/* conf "receipt_ids" of a client connector (smpp_id.c explains them) */
typedef enum {
    SMPP_RIDS_SAME = 0,  /* "same" (the default): as written */
    SMPP_RIDS_AUTO,      /* "auto": as written, then its other forms */
    SMPP_RIDS_HEX_DEC,   /* "submit_hex_receipt_dec" */
    SMPP_RIDS_DEC_HEX,   /* "submit_dec_receipt_hex" */
} smpp_rids_t;
/* The mode a conf string names, -1 for none. */
int smpp_receipt_ids_parse(const char *s);
/* A decimal id (1-20 digits, at most 2^64-1) as lower-case hex, or a hex
 * id (at most 16 significant digits) as decimal, exactly, into out (n
 * octets).  0, or GW_EINVAL when in is no such number or out too small. */
int smpp_id_dec_to_hex(const char *in, char *out, size_t n);
int smpp_id_hex_to_dec(const char *in, char *out, size_t n);
/* The other forms of normalised id (hex of it read as decimal, decimal of
 * it read as hex; none equal to id), each followed by '\n', into out (n
 * octets).  1 when there is any, else 0 (out ""). */
int smpp_id_forms(const char *id, char *out, size_t n);
/* A receipt's normalised id under mode (smpp_rids_t): the form to match
 * first into match (n octets) and, for auto, the other forms into alt
 * (lines, "" for none).  0: as written, 1: converted, 2: as written with
 * other forms. */
int smpp_id_receipt(int mode, const char *id, char *match, size_t n, char *alt, size_t altlen);
/* For auto: the forms a receipt ahead of a submit with ids[0..nids) may
 * have been parked under, lines "form\tid\n" into out (n octets).  The
 * length written (0: none), or GW_EINVAL when out is too small. */
int smpp_id_aliases(const char *const *ids, size_t nids, char *out, size_t n);

/* --- what to do with an SMSC's command_status (smpp_status.c, pure) ------- */
typedef enum { SMPP_ST_FAIL = 0, SMPP_ST_RETRY, SMPP_ST_PAUSE } smpp_st_action_t;
typedef struct smpp_status_rule {
    uint32_t status;
    int action;   /* smpp_st_action_t */
    int delay_ms; /* retry: fixed delay (0: the core's backoff); pause: how long */
    int tries;    /* retry: attempts before it fails (0: core.max_attempts) */
} smpp_status_rule_t;
#define SMPP_STATUS_RULES 32
typedef struct smpp_status_table {
    smpp_status_rule_t r[SMPP_STATUS_RULES];
    int n;
} smpp_status_table_t;
/* conf "status" (NULL: none) into t.  0 or GW_EINVAL with err. */
int smpp_status_parse(const json_t *conf, smpp_status_table_t *t, char *err, size_t errlen);
/* The rule for status: t's, else the defaults, else fail. */
smpp_status_rule_t smpp_status_classify(const smpp_status_table_t *t, uint32_t status);

/* --- TLS (smpp_tls.c, OpenSSL; the contexts are SSL_CTX, the objects SSL) - */
/* A server context from PEM files, or NULL with err. */
void *smpp_tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
/* A client context: verify the peer (against ca, or the system's CAs), or
 * not; NULL with err. */
void *smpp_tls_client_ctx(int verify, const char *ca, char *err, size_t errlen);
void smpp_tls_ctx_free(void *ctx);
/* A connection's SSL of ctx, with SNI server_name, whose certificate must
 * name it when verify; NULL on failure. */
void *smpp_tls_ssl(void *ctx, const char *server_name, int verify);

/* --- sessions (SMPP thread) ---------------------------------------------- */
typedef struct smpp_session smpp_session_t;

/* A request we sent that awaits its response. */
typedef struct smpp_req {
    struct smpp_req *next;
    uint32_t seq;
    uint32_t cmd_id;
    int64_t deadline_ms;
    int64_t sent_us;  /* when it was sent (gw_stats_now_us): its response's latency */
    void *ctx; /* the owner's, never freed by the session */
    int part;  /* the owner's: which part of a long message (0-based) */
} smpp_req_t;

typedef struct smpp_session_ops {
    /* An outgoing connection is up. */
    void (*on_connected)(smpp_session_t *s);
    /* A PDU arrived (pdu holds h->len octets, header included).  For a
     * response, req is the request it answers (NULL when unknown); the
     * session frees req after the call.  enquire_link is answered by the
     * session itself. */
    void (*on_pdu)(smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *pdu, smpp_req_t *req);
    /* The session ended by itself (peer closed, I/O error, timeout, or a
     * finish the owner asked for); s->reqs still lists what was in flight.
     * The session is freed right after the call. */
    void (*on_closed)(smpp_session_t *s, const char *why);
} smpp_session_ops_t;

struct smpp_session {
    /* read-only for owners */
    uint64_t id;          /* unique, for answers that come back later */
    char peer[64];        /* "ip:port" */
    void *owner;
    smpp_req_t *reqs;     /* in flight, oldest first */
    size_t nreqs;
    int keepalive;        /* send enquire_link when idle (client side) */
    int64_t expire_ms;    /* 0, or when the tick ends the session (no bind yet) */
    int idle_s;           /* 0, or seconds of silence from the peer after which
                           * the tick sends unbind and finishes (customers) */
    int pending_in;       /* requests of the peer handed to the core and not yet
                           * answered (smpp_accept / smpp_accepted_answer) */
    int64_t created_ms;   /* wall clock (ms epoch) when the session was made */
    /* set by the owner, for the trace bus: the connector its PDUs belong
     * to and the system_id it is bound as ("" until known) */
    char trace_conn[64];
    char system_id[16];
    uint64_t rx_pdus, tx_pdus; /* PDUs read / written (smpp.sessions) */
    /* private */
    struct smpp_session *next;
    const smpp_session_ops_t *ops;
    struct bufferevent *bev;
    struct event *tick;
    uint32_t seq;
    int64_t last_rx_ms;
    int in_cb;            /* inside a callback: defer freeing */
    int dead;             /* freed by its owner while in_cb */
    int finishing;        /* flushing output, then on_closed */
    int rx_paused;        /* reading stopped until the output drained */
};

/* A session on an accepted socket (fd >= 0) or, with fd < 0, one that
 * connects to host:port.  NULL on failure (fd is closed either way). */
smpp_session_t *smpp_session_new(evutil_socket_t fd, const char *peer,
                                 const smpp_session_ops_t *ops, void *owner);
/* The same over TLS: ssl (smpp_tls_ssl, taken over even on failure)
 * accepts on fd >= 0, connects with fd < 0. */
smpp_session_t *smpp_session_new_tls(evutil_socket_t fd, const char *peer,
                                     const smpp_session_ops_t *ops, void *owner, void *ssl);
int smpp_session_connect(smpp_session_t *s, const char *host, int port);
/* Free without calling on_closed (the owner's own close); requests still
 * in flight are dropped, their ctx untouched. */
void smpp_session_free(smpp_session_t *s);
/* Stop reading, flush what was written, then on_closed(why) and free. */
void smpp_session_finish(smpp_session_t *s, const char *why);
smpp_session_t *smpp_session_find(uint64_t id);
/* Send a session request: pdu is a libsmpp34 struct (bind_*), NULL for
 * header-only commands (unbind, enquire_link, built by smpp_wire).
 * Registers it in flight with ctx.  Returns 0 or GW_ERROR. */
int smpp_session_request(smpp_session_t *s, uint32_t cmd_id, void *pdu, void *ctx);
/* Send a submit_sm or deliver_sm of fields f (smpp_wire), in flight with
 * ctx.  0, GW_EINVAL when f cannot be encoded (nothing sent), GW_ERROR. */
int smpp_session_request_sm(smpp_session_t *s, uint32_t cmd_id, const smpp_sm_fields_t *f,
                            void *ctx, int part);
/* Send a response (or generic_nack) for seq: pdu is a libsmpp34 struct
 * (bind_*_resp), NULL for header only. */
int smpp_session_respond(smpp_session_t *s, uint32_t cmd_id, uint32_t status, uint32_t seq,
                         void *pdu);
/* Send a submit_sm_resp / deliver_sm_resp for seq (smpp_wire): msgid its
 * body, or NULL for header only (see smpp_wire_encode_resp). */
int smpp_session_respond_id(smpp_session_t *s, uint32_t cmd_id, uint32_t status, uint32_t seq,
                            const char *msgid);
/* Send a request of the body the caller encoded (len octets after the
 * header; the client's binds, whose interface_version libsmpp34 limits to
 * 3.4), in flight with ctx.  0, GW_EINVAL (too long), GW_ENOMEM or
 * GW_ERROR. */
int smpp_session_request_body(smpp_session_t *s, uint32_t cmd_id, const uint8_t *body,
                              size_t len, void *ctx);
/* Hand s to another owner: its callbacks are ops from now on (also
 * inside one of the old owner's callbacks, which must not touch s after
 * it), with no bind deadline or idle limit (outbind: a customer session
 * of our port becomes a client bind). */
void smpp_session_adopt(smpp_session_t *s, const smpp_session_ops_t *ops, void *owner);
/* Send a whole PDU encoded by the caller (smpp_wire).  0 or GW_ERROR. */
int smpp_session_send_pdu(smpp_session_t *s, const uint8_t *pdu, int len);
/* Close every session (stop). */
void smpp_sessions_free_all(void);

/* --- shared between client and server (smpp_pdu.c) ----------------------- */
/* Fill env->from / env->to / body / data_coding / registered_delivery from a
 * submit_sm or deliver_sm decoded by smpp_wire_decode_sm.  Returns 0,
 * GW_EINVAL (no usable destination, a source with control characters, a
 * bad UDH) or GW_ENOMEM.  Any thread. */
int smpp_env_fill(gw_envelope_t *env, const smpp_sm_fields_t *f);
/* The same from an SMSC whose data_coding 0 means dc0 (smpp_dc0_t). */
int smpp_env_fill_dc0(gw_envelope_t *env, const smpp_sm_fields_t *f, int dc0);
/* conf "dc0" of a client connector: 0, or GW_EINVAL with err. */
int smpp_dc0_check(const json_t *conf, char *err, size_t errlen);
/* Its meaning (smpp_dc0_t) in a checked conf. */
int smpp_dc0_conf(const json_t *conf);
/* The C-octet string at pdu[*at] (len octets in all) into out, at most
 * outlen octets with its NUL; *at moves past it.  0, or GW_EINVAL without
 * a NUL in time.  Pure: the hand-read bodies (bind, query_sm,
 * submit_multi, data_sm) all use it. */
int smpp_cstr(const uint8_t *pdu, size_t len, size_t *at, char *out, size_t outlen);
/* A data_sm (raw: len octets) as the submit_sm or deliver_sm (as_cmd) it
 * carries: the same header and addresses, its esm_class,
 * registered_delivery, data_coding and TLVs (the text in message_payload),
 * sm_length 0, into out (cap >= len + 64).  Its length, or GW_EINVAL.
 * Pure. */
int smpp_data_sm_as(const uint8_t *raw, size_t len, uint32_t as_cmd, uint8_t *out, size_t cap);
/* Decode the submit_sm / deliver_sm pdu of h->len octets from peer into f
 * (smpp_wire_decode_sm), logging a malformed one with its reason.  0 or
 * GW_EINVAL. */
int smpp_sm_decode(const char *peer, const smpp_hdr_t *h, const uint8_t *pdu,
                   smpp_sm_fields_t *f);
/* The fields of a delivery receipt's text (SMPP 3.4 appendix B: "id:X sub:
 * ... stat:DELIVRD err:000 text:..."): id and stat copied (at most
 * idlen - 1 / statlen - 1 octets, up to the next space), err as a number (0
 * when absent).  0, or GW_EINVAL without an id or a stat.  Pure. */
int smpp_receipt_parse(const uint8_t *sm, size_t n, char *id, size_t idlen, char *stat,
                       size_t statlen, int *err);

/* An envelope address as SMPP ton/npi/text: gateway/gw_addr.h's rules.
 * An empty address stays empty (TON 0, NPI 0): a source_addr the SMSC
 * fills in with the account's default, as SMPP 3.4 allows. */
static inline int smpp_addr_out(const gw_addr_t *a, uint8_t *ton, uint8_t *npi, char *out,
                                size_t outlen)
{
    if ((a->address == NULL || a->address[0] == '\0') && outlen > 0) {
        *ton = 0;
        *npi = 0;
        out[0] = '\0';
        return 0;
    }
    return gw_addr_to_smpp(a, ton, npi, out, outlen);
}

/* --- the adapter (smpp_adapter.c) ----------------------------------------- */
extern struct event_base *smpp_base;
extern int smpp_enquire_link_s, smpp_reconnect_s, smpp_window, smpp_response_timeout_s;
/* the longest wait between attempts of a client bind (smpp_client_bind.c) */
extern int smpp_reconnect_max_s;
/* customer sessions (smpp_server.c): idle timeout, sessions per peer
 * address, unanswered submit_sm per session */
extern int smpp_server_idle_s, smpp_server_max_per_ip, smpp_server_window;
/* deliver_sm in flight per receiving customer session (smpp_dest.c) */
extern int smpp_deliver_window;

/* Work handed to the SMPP thread. */
typedef enum {
    SMPP_W_OPEN,     /* cl: start a client connector */
    SMPP_W_CLOSE,    /* cl: unbind and free */
    SMPP_W_SEND,     /* cl, dlv: queue a submit */
    SMPP_W_ACCEPTED, /* sess_id, seq, resp_cmd, rc, msgid: answer after commit */
    SMPP_W_BIND,     /* sess_id, seq, resp_cmd, rc: a customer's bind checked
                      * (smpp_server_bind_answer) */
    SMPP_W_SESSIONS, /* query: fill it with the customer sessions (smpp.sessions) */
    SMPP_W_UNBIND,   /* system_id: unbind its sessions (the account was disabled) */
    SMPP_W_QUERY,    /* sess_id, seq, msgid, rc, state: a query_sm read from the store
                      * (smpp_server_query_answer) */
    SMPP_W_MULTI,    /* multi: every destination of a submit_multi settled */
    SMPP_W_HOLD,     /* cl, rc: smpp.unbind (rc 1) / smpp.bind (rc 0) of a client */
    SMPP_W_CANCEL,   /* sess_id, seq, resp_cmd, rc: a cancel_sm / replace_sm settled
                      * by the core (smpp_cancel_answer) */
    SMPP_W_STOP,     /* shut down the thread */
} smpp_work_kind_t;

struct smpp_client;
struct smpp_dest;
struct smpp_query;

typedef struct smpp_work {
    smpp_work_kind_t kind;
    struct smpp_client *cl; /* a reference (OPEN, CLOSE, SEND of a client) */
    struct smpp_dest *dest; /* a reference (OPEN, CLOSE, SEND of an account's connector) */
    gw_delivery_t *dlv;     /* SEND: owned */
    uint64_t sess_id;
    uint32_t seq;
    uint32_t resp_cmd;
    int rc;
    int throughput;         /* BIND: the account's msg/s (0: unlimited) */
    char msgid[GW_ENV_ID_LEN + 1];
    char system_id[16];     /* UNBIND */
    struct smpp_query *query; /* SESSIONS: a reference (smpp_adapter.c) */
    gw_query_t state;       /* QUERY: the message's state */
    struct smpp_multi *multi; /* MULTI: owned */
} smpp_work_t;

/* smpp.sessions' question to the SMPP thread (smpp_mi.c). */
typedef struct smpp_query smpp_query_t;
void smpp_query_unref(smpp_query_t *q);
/* SMPP thread: answer q with result (taken over). */
void smpp_query_answer(smpp_query_t *q, json_t *result);
/* MI thread: hold (smpp.unbind) or release (smpp.bind) the client
 * connector name.  0, GW_ENOTFOUND (no such connector), GW_EINVAL (not a
 * client of an SMSC), or a push error. */
int smpp_conn_hold(const char *name, int hold);
/* The adapter's MI commands (smpp_mi.c). */
extern const gw_mi_cmd_t smpp_mi_cmds[];

/* Any thread: hand w to the SMPP thread.  0 or a negative code (w stays
 * the caller's). */
int smpp_work_push(smpp_work_t *w);
void smpp_work_free(void *w);
/* Offer env (built from a submit_sm / deliver_sm with sequence seq on s)
 * to the core; answers resp_cmd at once on an error, else after the
 * commit, counting it in s->pending_in until then.  The caller keeps its
 * reference. */
void smpp_accept(smpp_session_t *s, gw_envelope_t *env, uint32_t seq, uint32_t resp_cmd);
/* gw_accept_cb_t for smpp_work_t tickets (kind SMPP_W_ACCEPTED). */
void smpp_accept_cb(gw_envelope_t *env, int rc, void *arg);
/* SMPP thread: a client session or a customer session answered. */
void smpp_accepted_answer(smpp_work_t *w);

/* c->priv of an smpp connector is an smpp_client_t (an operator's SMSC)
 * or an smpp_dest_t (an account's binds); each begins with its role. */
#define SMPP_ROLE_CLIENT 1
#define SMPP_ROLE_DEST 2
static inline int smpp_priv_role(const void *priv)
{
    return *(const int *)priv;
}

/* --- client connectors (smpp_client.c) ------------------------------------ */
typedef struct smpp_client smpp_client_t;
typedef struct gw_connector gw_connector_t;

int smpp_client_check(const json_t *conf, char *err, size_t errlen);
/* Main thread: a new client for c (one reference for c->priv), or NULL. */
smpp_client_t *smpp_client_new(gw_connector_t *c);
smpp_client_t *smpp_client_ref(smpp_client_t *cl);
void smpp_client_unref(smpp_client_t *cl);
json_t *smpp_client_status(smpp_client_t *cl); /* any thread */
/* cl's binds and latencies on /metrics (gw_adapter_t conn_metrics); any
 * thread: atomics. */
void smpp_client_metrics(smpp_client_t *cl, struct gw_metrics *m);
/* The window while bound, else 0 (any thread: atomics). */
int smpp_client_room(smpp_client_t *cl);
/* SMPP thread */
void smpp_client_open(smpp_client_t *cl);
void smpp_client_close(smpp_client_t *cl);
void smpp_client_send(smpp_client_t *cl, gw_delivery_t *d); /* takes d */
/* outbind (SMPP 3.4 4.1.7) on s, a session accepted on our port from ip
 * (pdu: len octets): when its system_id and password are those of a
 * client connector with conf "outbind" whose outbind bind is free, that
 * bind takes s over (smpp_session_adopt) and sends bind_receiver on it:
 * 0.  Else GW_ENOTFOUND (no such connector, a wrong password: logged,
 * counted by smpp_guard), GW_EEXIST (its outbind bind is in use) or
 * GW_EINVAL (malformed); the caller closes s. */
int smpp_client_outbind(smpp_session_t *s, const char *ip, const uint8_t *pdu, size_t len);
/* smpp.unbind (hold 1): unbind and stay down; smpp.bind (0): bind again. */
void smpp_client_hold(smpp_client_t *cl, int hold);
/* Number of clients still unbinding (stop waits for 0). */
int smpp_clients_closing(void);
void smpp_clients_close_all(void);
/* Main thread, after the SMPP thread ended: finalize the clients whose
 * unbind was never answered (their envelopes stay queued in the store). */
void smpp_clients_free_all(void);

/* --- delivery to customers (smpp_dest.c) ---------------------------------- */
typedef struct smpp_dest smpp_dest_t;

/* conn_check of a conf with "account": refused (junction makes those). */
int smpp_dest_check(const json_t *conf, char *err, size_t errlen);
/* Main thread: the target of c (conf {"account": id}); one reference. */
smpp_dest_t *smpp_dest_new(gw_connector_t *c);
smpp_dest_t *smpp_dest_ref(smpp_dest_t *t);
void smpp_dest_unref(smpp_dest_t *t);
int smpp_dest_room(smpp_dest_t *t);        /* any thread */
json_t *smpp_dest_status(smpp_dest_t *t);  /* any thread */
void smpp_dest_metrics(smpp_dest_t *t, struct gw_metrics *m); /* any thread */
/* SMPP thread */
void smpp_dest_open(smpp_dest_t *t);        /* takes the caller's reference */
void smpp_dest_close(smpp_dest_t *t);       /* drops it */
void smpp_dests_close_all(void);
void smpp_dest_send(smpp_dest_t *t, gw_delivery_t *d); /* takes d */
/* The server's word: system_id's receiving binds changed (bound, closed). */
void smpp_dest_binds_changed(const char *system_id);
/* A deliver_sm (ctx) was answered (h) / its session ended unanswered. */
void smpp_dest_resp(const smpp_hdr_t *h, void *ctx);
void smpp_dest_lost(void *ctx);
/* Set at shutdown: lost messages stay "sending" for the next start. */
extern int smpp_dest_stopping;

/* --- bind failures back off (smpp_guard.c, SMPP thread) ------------------- */
extern int smpp_bind_backoff_max_s;
/* ms until a bind of system_id from ip may be checked again (0: now). */
int64_t smpp_guard_closed(const char *ip, const char *system_id, int64_t now_ms);
void smpp_guard_failed(const char *ip, const char *system_id, int64_t now_ms);
void smpp_guard_passed(const char *ip, const char *system_id, int64_t now_ms);
void smpp_guard_reset(void);

/* --- pacing of client binds (smpp_rate.c, pure) -------------------------- */
#define SMPP_RATE_JITTER_PCT 20
/* The wait before reconnection attempt number attempt (0: the first after
 * a loss or refusal): base_ms doubled per attempt up to max_ms (at least
 * base_ms), then moved by up to +-20% by rnd (any 32 random bits).  0
 * when base_ms is 0. */
int64_t smpp_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt, uint32_t rnd);

/* A token bucket: rate tokens a second (0: no limit), at most burst
 * (rate / 20, at least 1) held; full at start. */
typedef struct smpp_tb {
    double rate, burst, tokens;
    int64_t at_us; /* last refill, -1 before the first */
} smpp_tb_t;
void smpp_tb_init(smpp_tb_t *tb, double rate);
/* 1 and one token spent when one is there at now_us, else 0. */
int smpp_tb_take(smpp_tb_t *tb, int64_t now_us);
/* Microseconds from now_us until a token is there (0: now). */
int64_t smpp_tb_wait_us(smpp_tb_t *tb, int64_t now_us);

/* --- submit_multi (smpp_multi.c, SMPP thread) ---------------------------- */
typedef struct smpp_multi smpp_multi_t;
#define SMPP_MULTI_MAX 255
typedef struct smpp_multi_dest {
    uint8_t ton, npi;
    char addr[SMPP_WIRE_ADDR_MAX]; /* an SME address, or a distribution list's name */
    uint32_t status;               /* ESME_ROK once stored; else why not */
    char id[GW_ENV_ID_LEN + 1];
} smpp_multi_dest_t;
/* Pure: the destinations of a submit_multi pdu (len octets) into d[0..*n)
 * (a distribution list with status ESME_RINVDLNAME), where the source
 * ends (*head_end) and the message fields begin (*tail_at).  0,
 * ESME_RINVNUMDESTS or GW_EINVAL. */
int smpp_multi_parse(const uint8_t *raw, size_t len, smpp_multi_dest_t *d, int *n,
                     size_t *head_end, size_t *tail_at);
/* Pure: the submit_sm destination d stands for, into out (cap octets);
 * its length or GW_EINVAL. */
int smpp_multi_build(const uint8_t *raw, size_t len, size_t head_end, size_t tail_at,
                     const smpp_multi_dest_t *d, uint8_t *out, size_t cap);
/* A customer's submit_multi on s (raw: h->len octets), its messages from
 * conn_name ("account:<id>"): each SME destination offered to the core as
 * a submit_sm; one submit_multi_resp once all are settled
 * (smpp_multi_answer).  0 (answered later), a command_status to answer
 * now (ESME_RINVNUMDESTS), or GW_EINVAL (malformed: generic_nack) /
 * GW_ENOMEM. */
int smpp_multi_submit(smpp_session_t *s, const smpp_hdr_t *h, const uint8_t *raw,
                      const char *conn_name);
/* SMPP_W_MULTI: answer it and free m. */
void smpp_multi_answer(smpp_multi_t *m);

/* --- cancel_sm / replace_sm (smpp_cancel.c) ------------------------------ */
typedef struct smpp_cancel_req {
    char service_type[SMPP_WIRE_SERVICE_TYPE_MAX];
    char message_id[SMPP_WIRE_MSGID_MAX];
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    char src[SMPP_WIRE_ADDR_MAX], dst[SMPP_WIRE_ADDR_MAX];
} smpp_cancel_req_t;
typedef struct smpp_replace_req {
    char message_id[SMPP_WIRE_MSGID_MAX];
    uint8_t src_ton, src_npi;
    char src[SMPP_WIRE_ADDR_MAX];
    char schedule[SMPP_WIRE_TIME_MAX], validity[SMPP_WIRE_TIME_MAX];
    uint8_t registered_delivery, sm_default_msg_id, sm_length;
    uint8_t sm[SMPP_WIRE_SM_MAX];
} smpp_replace_req_t;
/* Pure (smpp_time.c): an SMPP time (SMPP 3.4 7.1.1: "" or 16 characters,
 * absolute with its UTC offset or 'R' relative to now_ms) into *out_ms,
 * ms since the epoch (0 for "").  0, or GW_EINVAL (the caller answers
 * ESME_RINVEXPIRY / ESME_RINVSCHED). */
int smpp_time_parse(const char *s, int64_t now_ms, int64_t *out_ms);
/* A customer's validity_period onto env: its expires_at and the tag
 * validity_s (the seconds left at now_ms); "" leaves env as it is.  0,
 * GW_ENOMEM, or ESME_RINVEXPIRY (positive: the status to answer) for a
 * time smpp_time_parse refuses. */
int smpp_env_validity(gw_envelope_t *env, const char *validity, int64_t now_ms);
/* Pure: a cancel_sm / replace_sm pdu of len octets (header included)
 * into c / r.  0, or GW_EINVAL for a body that is too short, has a field
 * past its SMPP 3.4 maximum, or goes on past its last field. */
int smpp_cancel_parse(const uint8_t *raw, size_t len, smpp_cancel_req_t *c);
int smpp_replace_parse(const uint8_t *raw, size_t len, smpp_replace_req_t *r);
/* A customer's cancel_sm / replace_sm (raw: h->len octets) for its
 * messages (owner "account:<system_id>"): answered now when malformed or
 * refused, else once the core settled it (smpp_cancel_answer). */
void smpp_cancel_sm(smpp_session_t *s, const char *owner, const smpp_hdr_t *h,
                    const uint8_t *raw);
void smpp_replace_sm(smpp_session_t *s, const char *owner, const smpp_hdr_t *h,
                     const uint8_t *raw);
/* SMPP_W_CANCEL: answer it. */
void smpp_cancel_answer(const smpp_work_t *w);
/* Register the stats (with the server's). */
void smpp_cancel_stats(void);

/* --- server (smpp_server.c) ----------------------------------------------- */
int smpp_server_listen(const char *addr, int port);
/* The TLS twin of the port, with the certificate chain and key (PEM).
 * 0, or an error (logged with the file and OpenSSL's reason). */
int smpp_server_listen_tls(const char *addr, int port, const char *cert, const char *key);
/* Shutdown, SMPP thread: stop listening, unbind bound customers and close
 * every customer session once its output (pending answers) is flushed. */
void smpp_server_quiesce(void);
/* SMPP thread: a query_sm's message read (SMPP_W_QUERY): answer it. */
void smpp_server_query_answer(const smpp_work_t *w);
/* SMPP thread: the pool's verdict on a bind (SMPP_W_BIND). */
void smpp_server_bind_answer(const smpp_work_t *w);
/* The bound receiver / transceiver session of system_id with the fewest
 * requests in flight, under smpp.window; NULL when none. */
smpp_session_t *smpp_server_pick(const char *system_id);
/* How many receiver / transceiver sessions system_id has bound. */
int smpp_server_receivers(const char *system_id);
/* SMPP thread: the customer sessions open now, as smpp.sessions lists
 * them (docs/mi.md); a new array, NULL when out of memory. */
json_t *smpp_server_sessions(void);
/* SMPP thread: unbind every session bound as system_id (its account was
 * disabled); each closes on unbind_resp or its response timer. */
void smpp_server_unbind_account(const char *system_id);
/* 1 while customer sessions are still open. */
int smpp_server_busy(void);
/* Free the listener and every customer session at once (destroy). */
void smpp_server_stop(void);

#endif
