/*
 * sip_view.h - a byte-offset view of one received SIP message, and edits
 * that forward it by copying byte ranges instead of re-serialising.
 *
 * libosip2 builds a tree of allocated strings and prints it back; a proxy
 * that only adds a Via, lowers Max-Forwards or strips the top Via of a
 * response needs neither.  The view is one fixed-size struct the caller
 * owns (on its stack or in its worker): every header is a {name, canonical
 * id, value} triple of ranges into the caller's buffer, the list headers
 * (Via, Route, Record-Route, Contact) are split into values, and what a
 * proxy decides on (Via parameters, CSeq, Call-ID, tags, Max-Forwards,
 * Content-Length, Route, Expires, Contact) is parsed on demand from those
 * ranges.  Nothing is allocated and nothing is copied while parsing.
 *
 *   sip_view.c       sip_view_frame (one message out of a TCP stream),
 *                    sip_view_parse (start line, headers with RFC 3261
 *                    section 7.3.1 folding, list values, body against
 *                    Content-Length, the mandatory headers).
 *   sip_view_get.c   the accessors (Via, name-addr, parameters, Expires).
 *   sip_view_int.h   what those two share.
 *   sip_view_edit.c  sip_view_apply: a short list of edits turned into
 *                    splices, sorted by offset, applied in one copy into the
 *                    caller's output buffer.
 *
 * Errors are the negative sip_view_err_t codes; sip_view_strerror gives
 * each a short phrase fit for a 400's reason ("no Via", "bad CSeq").
 *
 * Ownership: the view points into the buffer given to sip_view_parse; the
 * buffer must outlive the view and stay unchanged.  No function keeps
 * anything beyond the call.
 * Threads: pure functions; any thread, a view used by one at a time.
 */
#ifndef SIP_VIEW_H
#define SIP_VIEW_H

#include <stddef.h>
#include <stdint.h>

/* ---- limits ---- */
#define SIP_VIEW_MAX_MSG   65535u /* bytes of one message, headers and body */
#define SIP_VIEW_MAX_HDRS  128    /* header lines */
#define SIP_VIEW_MAX_VALS  128    /* values of the list headers, all of them */
#define SIP_VIEW_MAX_VIA   64     /* Via values (of SIP_VIEW_MAX_VALS) */
#define SIP_VIEW_MAX_EDITS 16     /* edits in one sip_view_apply */
#define SIP_VIEW_MAX_FWD_DEFAULT 70 /* Max-Forwards added when missing (RFC 3261 16.6) */

/* ---- errors: 0 or one of these; sip_view_strerror(rc) for a phrase ---- */
typedef enum sip_view_err {
    SIP_VIEW_OK = 0,
    SIP_VE_NEED_MORE = -1,    /* stream: the message is not complete yet */
    SIP_VE_TOO_LARGE = -2,    /* over SIP_VIEW_MAX_MSG (513 / drop) */
    SIP_VE_EMPTY = -3,        /* only CRLF (a keepalive): nothing to parse */
    SIP_VE_TRUNCATED = -4,    /* no empty line ending the headers */
    SIP_VE_START_LINE = -5,   /* not "method SP uri SP version" / "version SP code" */
    SIP_VE_VERSION = -6,      /* a SIP version other than 2.0 (505) */
    SIP_VE_METHOD = -7,
    SIP_VE_URI = -8,          /* bad Request-URI */
    SIP_VE_STATUS = -9,       /* status code not 100..699 */
    SIP_VE_HEADER = -10,      /* a header line without "name:" or a bare CR/LF */
    SIP_VE_TOO_MANY_HEADERS = -11,
    SIP_VE_TOO_MANY_VALUES = -12,
    SIP_VE_QUOTE = -13,       /* unterminated quoted string or <> */
    SIP_VE_DUP_HEADER = -14,  /* a single-valued header given twice */
    SIP_VE_NO_VIA = -15,
    SIP_VE_BAD_VIA = -16,
    SIP_VE_NO_CSEQ = -17,
    SIP_VE_BAD_CSEQ = -18,
    SIP_VE_CSEQ_METHOD = -19, /* CSeq method is not the request's */
    SIP_VE_NO_CALL_ID = -20,
    SIP_VE_NO_FROM = -21,
    SIP_VE_NO_TO = -22,
    SIP_VE_BAD_MAX_FWD = -23,
    SIP_VE_BAD_CLEN = -24,    /* Content-Length not a number, or too large */
    SIP_VE_CLEN_MISMATCH = -25, /* Content-Length beyond the bytes received */
    SIP_VE_NO_CLEN = -26,     /* stream transport without Content-Length */
    SIP_VE_BAD_VALUE = -27,   /* an accessor could not parse a value */
    SIP_VE_NOT_FOUND = -28,   /* the accessor's header or value is absent */
    SIP_VE_NOSPACE = -29,     /* the output buffer is too small */
    SIP_VE_BAD_EDIT = -30,    /* edits overlap, or one does not fit the message */
    SIP_VE__COUNT = 31
} sip_view_err_t;

const char *sip_view_strerror(int rc);

/* ---- header ids: compact forms map to the same id ---- */
typedef enum sip_hdr_id {
    SIP_H_OTHER = 0,
    SIP_H_VIA,            /* v */
    SIP_H_FROM,           /* f */
    SIP_H_TO,             /* t */
    SIP_H_CALL_ID,        /* i */
    SIP_H_CSEQ,
    SIP_H_CONTACT,        /* m */
    SIP_H_MAX_FORWARDS,
    SIP_H_ROUTE,
    SIP_H_RECORD_ROUTE,
    SIP_H_CONTENT_LENGTH, /* l */
    SIP_H_CONTENT_TYPE,   /* c */
    SIP_H_CONTENT_ENCODING, /* e */
    SIP_H_SUBJECT,        /* s */
    SIP_H_SUPPORTED,      /* k */
    SIP_H_EXPIRES,
    SIP_H_REQUIRE,
    SIP_H_PROXY_REQUIRE,
    SIP_H_AUTHORIZATION,
    SIP_H_PROXY_AUTHORIZATION,
    SIP_H_WWW_AUTHENTICATE,
    SIP_H_PROXY_AUTHENTICATE,
    SIP_H_ACCEPT,
    SIP_H_DATE,
    SIP_H_EVENT,          /* o */
    SIP_H_ALLOW_EVENTS,   /* u */
    SIP_H_REFER_TO,       /* r */
    SIP_H_REFERRED_BY,    /* b */
    SIP_H_SESSION_EXPIRES, /* x */
    SIP_H_ACCEPT_CONTACT, /* a */
    SIP_H_REJECT_CONTACT, /* j */
    SIP_H_REQUEST_DISPOSITION, /* d */
    SIP_H_IDENTITY,       /* y */
    SIP_H_IDENTITY_INFO,  /* n */
    SIP_H__COUNT
} sip_hdr_id_t;

typedef enum sip_method {
    SIP_M_OTHER = 0, SIP_M_INVITE, SIP_M_ACK, SIP_M_BYE, SIP_M_CANCEL, SIP_M_OPTIONS,
    SIP_M_REGISTER, SIP_M_PRACK, SIP_M_SUBSCRIBE, SIP_M_NOTIFY, SIP_M_PUBLISH,
    SIP_M_INFO, SIP_M_REFER, SIP_M_MESSAGE, SIP_M_UPDATE
} sip_method_t;

/* A byte range of the parsed buffer: buf + off, len bytes. */
typedef struct sip_range {
    uint32_t off, len;
} sip_range_t;

typedef struct sip_view_hdr {
    sip_range_t name;     /* as received ("v", "MaX-fOrWaRdS") */
    sip_range_t value;    /* trimmed; may hold folded CRLF + WSP inside */
    uint32_t line_off;    /* first byte of the line */
    uint32_t line_end;    /* just past the CRLF of its last (folded) line */
    uint8_t id;           /* sip_hdr_id_t */
    uint8_t nvals;        /* list headers: its values, vals[val0 ..] */
    uint16_t val0;
} sip_view_hdr_t;

typedef struct sip_view_val {
    sip_range_t r;        /* one comma-separated value, trimmed */
    uint16_t hdr;         /* index in hdrs[] */
} sip_view_val_t;

#define SIP_VIEW_STREAM 1u /* TCP/TLS: Content-Length required */

/* A Via value parsed (sip_view_via). */
typedef struct sip_view_via {
    sip_range_t transport;  /* "UDP", "TCP", "TLS", "SCTP", ... */
    sip_range_t host;       /* sent-by host (an IPv6 reference with its []) */
    int port;               /* 0 when absent */
    sip_range_t branch;     /* len 0 when absent */
    int rfc3261;            /* branch starts with the magic cookie z9hG4bK and has more */
    sip_range_t received;   /* value; len 0 when absent */
    int rport;              /* -1 absent, 0 present without value, else the port */
    sip_range_t rport_at;   /* the "rport" name and its value (for edits) */
    sip_range_t rport_val;
    sip_range_t maddr;
    int ttl;                /* -1 absent */
    sip_range_t value;      /* the whole Via value */
    uint32_t params_end;    /* just past the last parameter */
} sip_view_via_t;

typedef struct sip_view {
    /* read-only after sip_view_parse */
    const char *buf;
    uint32_t start;       /* first byte of the start line (leading CRLFs skipped) */
    uint32_t len;         /* end of this message: body_off + body_len */
    int is_request;       /* 1 request, 0 response; -1 when even the start line
                           * was unreadable (kept when parsing fails: 1 means
                           * answer the refusal, 0 or -1 drop it) */
    sip_method_t method;
    sip_range_t method_tok, ruri, reason;
    int status;
    uint32_t hdr_off;     /* first header line */
    uint32_t hdr_end;     /* the empty line's CRLF */
    uint32_t body_off, body_len;
    long clen;            /* Content-Length, -1 when absent */
    int max_forwards;     /* -1 when absent */
    uint32_t cseq;
    sip_method_t cseq_method;
    sip_range_t cseq_method_tok, call_id, from_tag, to_tag; /* tags: len 0 = none */
    uint16_t nhdrs, nvals;
    int via_ok;             /* 0, 1 or 2: the first vias[] parsed by the checks */
    sip_view_via_t vias[2]; /* (sip_view_via(v, 0 or 1) returns them, not a new parse:
                             * the top one and the one a response goes back to) */
    int16_t first[SIP_H__COUNT]; /* index of the first header with that id, -1 */
    uint8_t count[SIP_H__COUNT]; /* header lines with that id (saturates at 255) */
    sip_view_hdr_t hdrs[SIP_VIEW_MAX_HDRS];
    sip_view_val_t vals[SIP_VIEW_MAX_VALS];
} sip_view_t;

/* ---- parsing (sip_view.c) ---- */

/* Stream framing: when buf[0..n) holds a whole message (leading CRLFs,
 * headers, the empty line and Content-Length bytes of body), its length in
 * *msg_len and 0; SIP_VE_NEED_MORE, SIP_VE_TOO_LARGE (headers or headers +
 * body beyond SIP_VIEW_MAX_MSG), SIP_VE_NO_CLEN, SIP_VE_BAD_CLEN or
 * SIP_VE_DUP_HEADER (two Content-Lengths) otherwise. */
int sip_view_frame(const char *buf, size_t n, size_t *msg_len);

/* Parse the message in buf[0..n) (a datagram, or one message framed by
 * sip_view_frame with flags SIP_VIEW_STREAM) into v.  Over UDP a missing
 * Content-Length means the rest of the datagram, and bytes after
 * Content-Length are ignored (v->len says where the message ends).
 * Checks the start line, every header line, every Via, CSeq (and its
 * method against the request's), Call-ID, From, To (quotes balanced, one
 * each), Max-Forwards (0..255), Content-Length.  0 or a sip_view_err_t;
 * on error v is partly filled: v->is_request says whether to answer
 * (400 with sip_view_strerror(rc) as the reason, 505 for SIP_VE_VERSION,
 * 513 for SIP_VE_TOO_LARGE) or drop, nothing else in v is to be used. */
int sip_view_parse(sip_view_t *v, const char *buf, size_t n, unsigned flags);

/* The id of a header name (case-insensitive, compact forms), SIP_H_OTHER
 * for any other. */
sip_hdr_id_t sip_view_hdr_id(const char *name, size_t len);
/* The method of a token (case-sensitive, RFC 3261 7.1), SIP_M_OTHER. */
sip_method_t sip_view_method(const char *tok, size_t len);

/* ---- accessors (sip_view_get.c): parsed on demand from the ranges ---- */

/* The n-th value (0 = top) of a list header id across all its lines, or
 * for another id the value of its n-th line.  Index into v->vals or, for
 * other ids, v->hdrs; -1 when there is none. */
int sip_view_nth(const sip_view_t *v, sip_hdr_id_t id, unsigned n, sip_range_t *out);
/* Number of values (list headers) or lines (others) with that id. */
unsigned sip_view_num(const sip_view_t *v, sip_hdr_id_t id);


/* The n-th Via value (0 = top) parsed.  0, SIP_VE_NOT_FOUND or SIP_VE_BAD_VIA. */
int sip_view_via(const sip_view_t *v, unsigned n, sip_view_via_t *out);

typedef struct sip_view_addr {
    sip_range_t display;    /* as written, quotes kept; len 0 when none */
    sip_range_t uri;        /* without <>; len 0 for Contact "*" */
    sip_range_t params;     /* header parameters after the URI (from the first ';') */
    int star;               /* Contact: * */
    int lr;                 /* the URI has ;lr (Route, Record-Route) */
    long expires;           /* Contact ;expires=, -1 absent (clamped to 2^32-1) */
    int q;                  /* Contact ;q= in thousandths, -1 absent */
} sip_view_addr_t;

/* A name-addr / addr-spec value (From, To, Contact, Route, Record-Route)
 * at r parsed.  0 or SIP_VE_BAD_VALUE (an addr-spec carrying '?' headers
 * or ',' outside <>, RFC 3261 20.10; unbalanced quotes). */
int sip_view_addr(const sip_view_t *v, sip_range_t r, sip_view_addr_t *out);
/* The n-th Route / Contact value parsed: sip_view_nth + sip_view_addr. */
int sip_view_route(const sip_view_t *v, unsigned n, sip_view_addr_t *out);
int sip_view_contact(const sip_view_t *v, unsigned n, sip_view_addr_t *out);
/* The Expires header: 0 and *out (clamped to 2^32-1), SIP_VE_NOT_FOUND or
 * SIP_VE_BAD_VALUE. */
int sip_view_expires(const sip_view_t *v, long *out);
/* The parameter name of ";a=b;c" parameters in r: 1 and its value in *val
 * (len 0 when it has none), 0 when absent. */
int sip_view_param(const sip_view_t *v, sip_range_t r, const char *name, sip_range_t *val);
/* 1 when the range holds exactly text (case-insensitive). */
int sip_view_eq(const sip_view_t *v, sip_range_t r, const char *text);

/* ---- edits (sip_view_edit.c) ---- */
typedef enum sip_edit_kind {
    SIP_EDIT_VIA_ADD,         /* text: a Via value, put on top */
    SIP_EDIT_VIA_RECEIVED,    /* top Via: text (may be NULL) as received=, num >= 0 as
                               * rport= (set when rport is there, added when not) */
    SIP_EDIT_VIA_DEL_TOP,     /* the top Via value (only it when its line has more) */
    SIP_EDIT_MAX_FWD,         /* num < 0: decrement, else set; added (70 or num) when missing */
    SIP_EDIT_RR_ADD,          /* text: a Record-Route value, put on top */
    SIP_EDIT_ROUTE_DEL_TOP,   /* the top Route value */
    SIP_EDIT_RURI,            /* text: the new Request-URI */
    SIP_EDIT_BODY,            /* text/len: the new body; Content-Length set or added */
} sip_edit_kind_t;

typedef struct sip_view_edit {
    sip_edit_kind_t kind;
    const char *text;       /* borrowed for the call */
    size_t len;             /* text's length */
    long num;
} sip_view_edit_t;

/* Every edit names a place in the received message: "the top Via" of
 * SIP_EDIT_VIA_RECEIVED is the one the request came with, below the Via a
 * SIP_EDIT_VIA_ADD of the same call puts on top.
 * Apply edits[0..n) (n <= SIP_VIEW_MAX_EDITS, in any order; edits at one
 * offset keep their order) to the message of v in one pass into
 * out[0..cap).  Bytes before v->start and after v->len are not copied.
 * Returns the output length, or SIP_VE_NOSPACE, SIP_VE_NOT_FOUND (an edit
 * of a header that is absent: no Via or Route to delete), SIP_VE_BAD_EDIT
 * (edits overlap, Max-Forwards 0 to decrement, a URI edit of a response). */
long sip_view_apply(const sip_view_t *v, const sip_view_edit_t *edits, size_t n,
                    char *out, size_t cap);

#endif
