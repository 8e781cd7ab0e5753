/*
 * sip_view_edit.c - forward a message by editing its bytes: the edits of
 * sip_view_apply (sip_view.h) become splices, each "at offset off, drop
 * cut bytes, put these pieces", sorted by offset and copied in one pass
 * from the received buffer into the caller's output buffer.
 *
 * Each edit kind knows where it lands: a new Via or Record-Route goes in
 * front of the first line of its kind (so it is the top value) or, when
 * there is none, in front of the first header (Via) or of the empty line
 * (Record-Route); removing the top value of
 * a line with several removes the value and the comma after it; a missing
 * Max-Forwards or Content-Length goes in front of the empty line.  Two
 * splices may share an offset when neither cuts into the other (an
 * insertion before a removal at the same line); they keep the order of
 * the edits.  A splice that cuts into another is an error, not a guess.
 *
 * Ownership: reads the view's buffer and the edits' texts; writes only
 * out[0..cap).
 * Threads: pure; any thread.
 */
#include <stdio.h>
#include <string.h>

#include "sip_view.h"

#define SIP_VW_PIECES 4

typedef struct sip_vw_splice {
    uint32_t off, cut;
    unsigned seq;             /* the order of the edits, for ties */
    const char *p[SIP_VW_PIECES];
    size_t n[SIP_VW_PIECES];
    char num[24];             /* a formatted number one piece points to (so
                               * splices are sorted by index, never copied) */
} sip_vw_splice_t;

/* Set the next free piece of s. */
static void sip_vw_put(sip_vw_splice_t *s, const char *p, size_t n)
{
    int i;

    for (i = 0; i < SIP_VW_PIECES && s->p[i]; i++)
        ;
    if (i < SIP_VW_PIECES) {
        s->p[i] = p;
        s->n[i] = n;
    }
}

/* The number x as a piece of s. */
static void sip_vw_put_num(sip_vw_splice_t *s, long x)
{
    int n = snprintf(s->num, sizeof(s->num), "%ld", x);
    sip_vw_put(s, s->num, (size_t)n);
}

/* Where a new header line of kind id goes: before its first line, else
 * before the first header (a Via) or the empty line (a Record-Route). */
static uint32_t sip_vw_top_of(const sip_view_t *v, int id)
{
    if (v->first[id] >= 0)
        return v->hdrs[v->first[id]].line_off;
    return id == SIP_H_VIA ? v->hdr_off : v->hdr_end;
}

/* Remove the top value of list header id: the whole line when it has
 * one value, else the value up to the next one. */
static int sip_vw_del_top(const sip_view_t *v, int id, sip_vw_splice_t *s)
{
    const sip_view_hdr_t *h;

    if (v->first[id] < 0)
        return SIP_VE_NOT_FOUND;
    h = &v->hdrs[v->first[id]];
    if (h->nvals <= 1) {
        s->off = h->line_off;
        s->cut = h->line_end - h->line_off;
    } else {
        s->off = v->vals[h->val0].r.off;
        s->cut = v->vals[h->val0 + 1].r.off - s->off;
    }
    return 0;
}

/* received= and rport= on the top Via (RFC 3581 4): each replaced when
 * present, else appended after its last parameter.  Two splices. */
static int sip_vw_received(const sip_view_t *v, const sip_view_edit_t *e, sip_vw_splice_t *s,
                       size_t *ns)
{
    sip_view_via_t via;
    int rc = sip_view_via(v, 0, &via);

    if (rc != 0)
        return rc;
    if (e->num >= 0) {
        sip_vw_splice_t *a = &s[(*ns)++];
        if (via.rport >= 0) {
            a->off = via.rport_at.off + via.rport_at.len;
            /* "rport" then [LWS "=" LWS value]: all of it replaced */
            a->cut = via.rport_val.len ? via.rport_val.off + via.rport_val.len - a->off : 0;
            sip_vw_put(a, "=", 1);
        } else {
            a->off = via.params_end;
            sip_vw_put(a, ";rport=", 7);
        }
        sip_vw_put_num(a, e->num);
    }
    /* After rport: when rport is the last parameter both land at its end,
     * and "=port" must stay next to "rport". */
    if (e->text) {
        sip_vw_splice_t *a = &s[(*ns)++];
        if (via.received.len) {
            a->off = via.received.off;
            a->cut = via.received.len;
        } else {
            a->off = via.params_end;
            sip_vw_put(a, ";received=", 10);
        }
        sip_vw_put(a, e->text, e->len);
    }
    return 0;
}

/* Max-Forwards: decrement (num < 0) or set; added when missing. */
static int sip_vw_max_fwd(const sip_view_t *v, const sip_view_edit_t *e, sip_vw_splice_t *s)
{
    long x = e->num;

    if (v->first[SIP_H_MAX_FORWARDS] < 0) {
        s->off = v->hdr_end;
        sip_vw_put(s, "Max-Forwards: ", 14);
        sip_vw_put_num(s, x < 0 ? SIP_VIEW_MAX_FWD_DEFAULT : x);
        sip_vw_put(s, "\r\n", 2);
        return 0;
    }
    if (x < 0 && v->max_forwards <= 0)
        return SIP_VE_BAD_EDIT;
    s->off = v->hdrs[v->first[SIP_H_MAX_FORWARDS]].value.off;
    s->cut = v->hdrs[v->first[SIP_H_MAX_FORWARDS]].value.len;
    sip_vw_put_num(s, x < 0 ? v->max_forwards - 1 : x);
    return 0;
}

/* The new body, and Content-Length to match: two splices. */
static void sip_vw_body(const sip_view_t *v, const sip_view_edit_t *e, sip_vw_splice_t *s, size_t *ns)
{
    sip_vw_splice_t *cl = &s[(*ns)++], *b = &s[(*ns)++];

    if (v->first[SIP_H_CONTENT_LENGTH] >= 0) {
        cl->off = v->hdrs[v->first[SIP_H_CONTENT_LENGTH]].value.off;
        cl->cut = v->hdrs[v->first[SIP_H_CONTENT_LENGTH]].value.len;
        sip_vw_put_num(cl, (long)e->len);
    } else {
        cl->off = v->hdr_end;
        sip_vw_put(cl, "Content-Length: ", 16);
        sip_vw_put_num(cl, (long)e->len);
        sip_vw_put(cl, "\r\n", 2);
    }
    b->off = v->body_off;
    b->cut = v->body_len;
    sip_vw_put(b, e->text, e->len);
}

/* One edit into its splices (one or two) at s[*ns..]. */
static int sip_vw_splices(const sip_view_t *v, const sip_view_edit_t *e, sip_vw_splice_t *s, size_t *ns)
{
    sip_vw_splice_t *a = &s[*ns];
    int rc = 0;

    switch (e->kind) {
    case SIP_EDIT_VIA_ADD:
    case SIP_EDIT_RR_ADD:
        a->off = sip_vw_top_of(v, e->kind == SIP_EDIT_VIA_ADD ? SIP_H_VIA : SIP_H_RECORD_ROUTE);
        sip_vw_put(a, e->kind == SIP_EDIT_VIA_ADD ? "Via: " : "Record-Route: ",
               e->kind == SIP_EDIT_VIA_ADD ? 5 : 14);
        sip_vw_put(a, e->text, e->len);
        sip_vw_put(a, "\r\n", 2);
        (*ns)++;
        break;
    case SIP_EDIT_VIA_RECEIVED:
        rc = sip_vw_received(v, e, s, ns);
        break;
    case SIP_EDIT_VIA_DEL_TOP:
    case SIP_EDIT_ROUTE_DEL_TOP:
        rc = sip_vw_del_top(v, e->kind == SIP_EDIT_VIA_DEL_TOP ? SIP_H_VIA : SIP_H_ROUTE, a);
        if (rc == 0)
            (*ns)++;
        break;
    case SIP_EDIT_MAX_FWD:
        rc = sip_vw_max_fwd(v, e, a);
        if (rc == 0)
            (*ns)++;
        break;
    case SIP_EDIT_RURI:
        if (!v->is_request)
            rc = SIP_VE_BAD_EDIT;
        if (rc == 0) {
            a->off = v->ruri.off;
            a->cut = v->ruri.len;
            sip_vw_put(a, e->text, e->len);
            (*ns)++;
        }
        break;
    case SIP_EDIT_BODY:
        sip_vw_body(v, e, s, ns);
        break;
    default:
        rc = SIP_VE_BAD_EDIT;
    }
    return rc;
}

/* 1 when a goes before b: by offset; at one offset insertions before a
 * cut (so "add a Via" and "remove the top Via" both land), then by edit
 * order.  Insertion sort: there are a few. */
static int sip_vw_before(const sip_vw_splice_t *a, const sip_vw_splice_t *b)
{
    if (a->off != b->off)
        return a->off < b->off;
    if ((a->cut > 0) != (b->cut > 0))
        return a->cut == 0;
    return a->seq < b->seq;
}

static void sip_vw_sort(const sip_vw_splice_t *s, uint8_t *ord, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++)
        ord[i] = (uint8_t)i;
    for (i = 1; i < n; i++) {
        uint8_t t = ord[i];
        for (j = i; j > 0 && sip_vw_before(&s[t], &s[ord[j - 1]]); j--)
            ord[j] = ord[j - 1];
        ord[j] = t;
    }
}

/* Append src[0..n) at out + *len within cap. */
static int sip_vw_copy(char *out, size_t cap, size_t *len, const char *src, size_t n)
{
    if (n > cap - *len)
        return SIP_VE_NOSPACE;
    memcpy(out + *len, src, n);
    *len += n;
    return 0;
}

/* See sip_view.h. */
long sip_view_apply(const sip_view_t *v, const sip_view_edit_t *edits, size_t n, char *out,
                    size_t cap)
{
    sip_vw_splice_t s[2 * SIP_VIEW_MAX_EDITS];
    uint8_t ord[2 * SIP_VIEW_MAX_EDITS];
    size_t ns = 0, i, len = 0;
    uint32_t at = v->start;
    int rc = 0;

    if (n > SIP_VIEW_MAX_EDITS)
        return SIP_VE_BAD_EDIT;
    memset(s, 0, sizeof(s));
    for (i = 0; i < n && rc == 0; i++) {
        size_t from = ns, k;
        rc = sip_vw_splices(v, &edits[i], s, &ns);
        for (k = from; k < ns; k++)
            s[k].seq = (unsigned)k;
    }
    if (rc == 0)
        sip_vw_sort(s, ord, ns);
    /* A splice may not begin inside what an earlier one cuts, nor cut
     * across a later one's offset. */
    for (i = 0; rc == 0 && i < ns; i++) {
        const sip_vw_splice_t *sp = &s[ord[i]];
        if (sp->off < at || sp->off + sp->cut > v->len)
            rc = SIP_VE_BAD_EDIT;
        else
            rc = sip_vw_copy(out, cap, &len, v->buf + at, sp->off - at);
        for (int p = 0; rc == 0 && p < SIP_VW_PIECES && sp->p[p]; p++)
            rc = sip_vw_copy(out, cap, &len, sp->p[p], sp->n[p]);
        at = sp->off + sp->cut;
    }
    if (rc == 0)
        rc = sip_vw_copy(out, cap, &len, v->buf + at, v->len - at);
    return rc != 0 ? rc : (long)len;
}
