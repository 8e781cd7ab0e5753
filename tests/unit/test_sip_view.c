/*
 * test_sip_view.c - the byte-offset view of SIP messages (adapters/sip/
 * sip_view.c, sip_view_edit.c): parsing, the accessors, stream framing,
 * the edits a proxy forwards with, and the RFC 4475 torture messages.
 *
 * The RFC 4475 messages are C literals (binary-safe: each is passed with
 * its sizeof, so NUL and non-UTF-8 octets stay), one test each, named
 * after the RFC's file name.  They were transcribed from the RFC's
 * rendered text, with the notation of its section 2 expanded (long lines
 * joined, <hex> octets written as \x escapes); the bit-exact archive of
 * its Appendix A was not at hand here.  Where a message could not be
 * transcribed exactly, the test says "reconstructed" and what differs.
 * Each test states what the RFC says an element must do and checks the
 * view does that, or, where the decision belongs to a higher layer (a
 * registrar, a UAS, the transport), that the view exposes what that layer
 * needs.  No network, no files; one thread, the views and the output
 * buffer static.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/sip/sip_view.h"
#include "adapters/sip/sip_view_int.h"

#define MSG(s) (s), sizeof(s) - 1

static sip_view_t view, view2;
static char out[SIP_VIEW_MAX_MSG];

#define SDP150(ip)                                                                  \
    "v=0\r\n"                                                                       \
    "o=mhandley 29739 7272939 IN IP4 " ip "\r\n"                                   \
    "s=-\r\n"                                                                       \
    "c=IN IP4 " ip "\r\n"                                                           \
    "t=0 0\r\n"                                                                     \
    "m=audio 49217 RTP/AVP 0 12\r\n"                                                \
    "m=video 3227 RTP/AVP 31\r\n"                                                   \
    "a=rtpmap:31 LPC\r\n"

static void range_is(const sip_view_t *v, sip_range_t r, const char *s)
{
    size_t n = strlen(s);
    if (r.len != n || memcmp(v->buf + r.off, s, n) != 0)
        fail_msg("range is \"%.*s\", expected \"%s\"", (int)r.len, v->buf + r.off, s);
}

static int parse(const char *s, size_t n)
{
    return sip_view_parse(&view, s, n, 0);
}

/* Apply edits to view, check the output reparses, into view2. */
static long apply_ok(const sip_view_edit_t *e, size_t n)
{
    long len = sip_view_apply(&view, e, n, out, sizeof(out));
    int rc;
    if (len < 0)
        fail_msg("apply: %s", sip_view_strerror((int)len));
    rc = sip_view_parse(&view2, out, (size_t)len, 0);
    if (rc != 0)
        fail_msg("reparse: %s in\n%.*s", sip_view_strerror(rc), (int)len, out);
    return len;
}

static void via_is(const sip_view_t *v, unsigned n, const char *transport, const char *host,
                   int port, const char *branch, int rfc3261)
{
    sip_view_via_t via;
    assert_int_equal(sip_view_via(v, n, &via), 0);
    range_is(v, via.transport, transport);
    range_is(v, via.host, host);
    assert_int_equal(via.port, port);
    range_is(v, via.branch, branch);
    assert_int_equal(via.rfc3261, rfc3261);
}

/* ================= RFC 4475 3.1.1: valid messages ================= */

static const char wsinv[] =
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
    "TO :\r\n"
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
    "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"
    "  ;\r\n"
    "  tag = 98asjd8\r\n"
    "MaX-fOrWaRdS: 0068\r\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
    "Content-Length   : 150\r\n"
    "cseq: 0009\r\n"
    "  INVITE\r\n"
    "Via  : SIP  /   2.0\r\n"
    " /UDP\r\n"
    "    192.0.2.2;branch=390skdjuw\r\n"
    "s :\r\n"
    "NewFangledHeader:   newfangled value\r\n"
    " continued newfangled value\r\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
    "Content-Type: application/sdp\r\n"
    "Route:\r\n"
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
    "  branch  =   z9hG4bK9ikj8  ,\r\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
    " z9hG4bK30239\r\n"
    "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n"
    "      newvalue ;\r\n"
    "  secondparam ; q = 0.33\r\n"
    "\r\n" SDP150("192.0.2.3");

/* 3.1.1.1 A short tortuous INVITE: folding, compact forms, LWS in odd
 * places, escaped quotes; must be parsed, every value as the RFC lists. */
static void test_rfc4475_wsinv(void **s)
{
    sip_view_addr_t a;
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(wsinv)), 0);
    assert_true(view.is_request);
    assert_int_equal(view.method, SIP_M_INVITE);
    range_is(&view, view.ruri, "sip:vivekg@chair-dnrc.example.com;unknownparam");
    assert_int_equal(view.max_forwards, 68);
    assert_int_equal(view.cseq, 9);
    assert_int_equal(view.cseq_method, SIP_M_INVITE);
    range_is(&view, view.call_id, "wsinv.ndaksdj@192.0.2.1");
    range_is(&view, view.to_tag, "1918181833n");
    range_is(&view, view.from_tag, "98asjd8");
    assert_int_equal(view.clen, 150);
    assert_int_equal(view.body_len, 150);
    assert_int_equal(sip_view_num(&view, SIP_H_VIA), 3);
    via_is(&view, 0, "UDP", "192.0.2.2", 0, "390skdjuw", 0);
    via_is(&view, 1, "TCP", "spindle.example.com", 0, "z9hG4bK9ikj8", 1);
    via_is(&view, 2, "UDP", "192.168.255.111", 0, "z9hG4bK30239", 1);
    /* "s :" is an empty Subject */
    assert_true(sip_view_nth(&view, SIP_H_SUBJECT, 0, &r) >= 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(sip_view_route(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:services.example.com;lr;unknownwith=value;unknown-no-value");
    assert_true(a.lr);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.display, "\"Quoted string \\\"\\\"\"");
    range_is(&view, a.uri, "sip:jdrosen@example.com");
    assert_int_equal(a.q, 330);
    assert_int_equal(sip_view_num(&view, SIP_H_OTHER), 2);
    assert_true(sip_view_nth(&view, SIP_H_OTHER, 0, &r) >= 0);
    range_is(&view, r, "newfangled value\r\n continued newfangled value");
}

static const char intmeth[] =
    "!interesting-Method0123456789_*+`.%indeed'~ "
    "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
    "(doesn't-it)@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
    "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" "
    "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r\n"
    "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;"
    "fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.\r\n"
    "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"
    "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
    "Max-Forwards: 255\r\n"
    "extensionHeader-!.%*+_`'~:\xEF\xBB\xBF大停電\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

/* 3.1.1.2 Wide range of valid characters: an unknown method made of
 * every token character, NUL/BEL/DEL as quoted-pairs, UTF-8 values. */
static void test_rfc4475_intmeth(void **s)
{
    sip_view_addr_t a;
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(intmeth)), 0);
    assert_int_equal(view.method, SIP_M_OTHER);
    range_is(&view, view.method_tok, "!interesting-Method0123456789_*+`.%indeed'~");
    range_is(&view, view.cseq_method_tok, "!interesting-Method0123456789_*+`.%indeed'~");
    assert_int_equal(view.cseq, 139122385);
    assert_int_equal(view.max_forwards, 255);
    via_is(&view, 0, "TCP", "host1.example.com", 0, "z9hG4bK-.!%66*_+`'~", 1);
    range_is(&view, view.from_tag, "_token~1'+`*%!-.");
    range_is(&view, view.call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_int_equal(sip_view_addr(&view, view.hdrs[view.first[SIP_H_TO]].value, &a), 0);
    range_is(&view, a.uri, "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
    assert_int_equal(a.display.len, sizeof("\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\"") - 1);
    assert_true(sip_view_nth(&view, SIP_H_OTHER, 0, &r) >= 0);
    range_is(&view, r, "\xEF\xBB\xBF大停電");
    assert_int_equal(view.body_len, 0);
}

static const char esc01[] =
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\r\n"
    "To: sip:%75se%72@example.com\r\n"
    "From: <sip:I%20have%20spaces@example.net>;tag=938\r\n"
    "Max-Forwards: 87\r\n"
    "i: esc01.239409asdfakjkn23onasd0-3234\r\n"
    "CSeq: 234234 INVITE\r\n"
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\r\n"
    "C: application/sdp\r\n"
    "Contact:\r\n"
    "  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\r\n"
    "Content-Length: 150\r\n"
    "\r\n" SDP150("192.0.2.1");

/* 3.1.1.3 Valid use of the % escaping mechanism: escapes are kept as
 * received (a proxy compares them only after unescaping, above the view);
 * an escaped "lr" (%6C%72) is not the lr parameter. */
static void test_rfc4475_esc01(void **s)
{
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(esc01)), 0);
    range_is(&view, view.ruri, "sip:sips%3Auser%40example.com@example.net");
    range_is(&view, view.call_id, "esc01.239409asdfakjkn23onasd0-3234");
    assert_true(view.first[SIP_H_CONTENT_TYPE] >= 0);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
    assert_false(a.lr);
    assert_int_equal(view.body_len, 150);
}

static const char escnull[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "To: sip:null-%00-null@example.com\r\n"
    "From: sip:null-%00-null@example.com;tag=839923423\r\n"
    "Max-Forwards: 70\r\n"
    "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\r\n"
    "CSeq: 14398234 REGISTER\r\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n"
    "Contact: <sip:%00@host5.example.com>\r\n"
    "Contact: <sip:%00%00@host5.example.com>\r\n"
    "L:0\r\n"
    "\r\n";

/* 3.1.1.4 Escaped nulls in URIs: valid; two Contacts; "L:" compact. */
static void test_rfc4475_escnull(void **s)
{
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(escnull)), 0);
    assert_int_equal(view.method, SIP_M_REGISTER);
    assert_int_equal(sip_view_num(&view, SIP_H_CONTACT), 2);
    assert_int_equal(sip_view_contact(&view, 1, &a), 0);
    range_is(&view, a.uri, "sip:%00%00@host5.example.com");
    assert_int_equal(view.clen, 0);
}

static const char esc02[] =
    "RE%47IST%45R sip:registrar.example.com SIP/2.0\r\n"
    "To: \"%Z%45\" <sip:resource@example.com>\r\n"
    "From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\r\n"
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\r\n"
    "Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\r\n"
    "CSeq: 29344 RE%47IST%45R\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:alias1@host1.example.com>\r\n"
    "C%6Fntact: <sip:alias2@host2.example.com>\r\n"
    "Contact: <sip:alias3@host3.example.com>\r\n"
    "l: 0\r\n"
    "\r\n";

/* 3.1.1.5 Use of % when it is not an escape: the method is the token
 * "RE%47IST%45R", not REGISTER; "C%6Fntact" is an unknown header, so two
 * Contacts. */
static void test_rfc4475_esc02(void **s)
{
    (void)s;
    assert_int_equal(parse(MSG(esc02)), 0);
    assert_int_equal(view.method, SIP_M_OTHER);
    range_is(&view, view.method_tok, "RE%47IST%45R");
    assert_int_equal(sip_view_num(&view, SIP_H_CONTACT), 2);
    assert_int_equal(sip_view_num(&view, SIP_H_OTHER), 1);
    via_is(&view, 0, "TCP", "host.example.com", 0, "z9hG4bK209%fzsnel234", 1);
}

static const char lwsdisp[] =
    "OPTIONS sip:user@example.com SIP/2.0\r\n"
    "To: sip:user@example.com\r\n"
    "From: caller<sip:caller@example.com>;tag=323\r\n"
    "Max-Forwards: 70\r\n"
    "Call-ID: lwsdisp.1234abcd@funky.example.com\r\n"
    "CSeq: 60 OPTIONS\r\n"
    "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\r\n"
    "l: 0\r\n"
    "\r\n";

/* 3.1.1.6 No LWS between display name and <: valid. */
static void test_rfc4475_lwsdisp(void **s)
{
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(lwsdisp)), 0);
    assert_int_equal(sip_view_addr(&view, view.hdrs[view.first[SIP_H_FROM]].value, &a), 0);
    range_is(&view, a.display, "caller");
    range_is(&view, a.uri, "sip:caller@example.com");
    range_is(&view, view.from_tag, "323");
}

/* 3.1.1.7 Long values in header fields.  Reconstructed: the RFC writes
 * the long parts with its <repeat> notation; the structure is the RFC's
 * (a long display name and URI parameters, a long tag and Call-ID, an
 * unknown long header, 34 Via lines named in every case and compact form
 * plus one with a long branch, "l: 150"), the repeat counts are close to
 * the RFC's, not guaranteed equal. */
static char longreq[8192];
static size_t longreq_len;

static void longreq_build(void)
{
    static const char *const via_names[] = {
        "Via", "v", "V", "Via", "ViA", "VIa", "VIA", "via", "viA", "vIa", "vIA",
        "V ", "v ", "V  ", "v  ", "Via ", "Via  ",
    };
    char ln[40 * 10 + 1], lv[24 * 10 + 1], cn[6 * 40 + 1], tag[3 * 60 + 1];
    size_t n = 0, k;
    int i;

    ln[0] = lv[0] = cn[0] = tag[0] = '\0';
    for (i = 0; i < 40; i++)
        strcat(ln, "long");
    for (i = 0; i < 10; i++)
        strcat(lv, "extreme");
    for (i = 0; i < 5; i++)
        strcat(cn, "amazinglylongcallername");
    for (i = 0; i < 60; i++)
        strcat(tag, "298");
#define LR_ADD(...) n += (size_t)snprintf(longreq + n, sizeof(longreq) - n, __VA_ARGS__)
    LR_ADD("INVITE sip:user@example.com SIP/2.0\r\n");
    LR_ADD("To: \"I have a user name of %s proportion\"<sip:user@example.com:6000;"
           "unknownparam1=very%svalue;longparamnamenamenamename=shortvalue;"
           "very%sParameterNameWithNoValue>\r\n", lv, ln, ln);
    LR_ADD("F: sip:%s@example.net;tag=1%s424;unknownheaderparamnamenamename="
           "unknowheaderparamvaluevaluevalue;unknownValuelessparamnameparamname\r\n", cn, tag);
    LR_ADD("Call-ID: longreq.one%scallid\r\n", ln);
    LR_ADD("CSeq: 3882340 INVITE\r\n");
    LR_ADD("Unknown-%s-Name: unknown-%s-value; unknown-%s-parameter-name = "
           "unknown-%s-parameter-value\r\n", ln, ln, ln, ln);
    for (i = 33, k = 0; i >= 1; i--, k++)
        LR_ADD("%s: SIP/2.0/TCP sip%d.example.com\r\n",
               via_names[k < sizeof(via_names) / sizeof(via_names[0]) ? k : 0], i);
    LR_ADD("Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very%sbranchvalue\r\n",
           ln);
    LR_ADD("Max-Forwards: 70\r\n");
    LR_ADD("Contact: <sip:%s@host5.example.net>\r\n", cn);
    LR_ADD("Content-Type: application/sdp\r\n");
    LR_ADD("l: 150\r\n\r\n%s", SDP150("192.0.2.1"));
#undef LR_ADD
    longreq_len = n;
}

static void test_rfc4475_longreq(void **s)
{
    sip_view_via_t via;
    (void)s;
    longreq_build();
    assert_true(longreq_len > 3000);
    assert_int_equal(parse(longreq, longreq_len), 0);
    assert_int_equal(sip_view_num(&view, SIP_H_VIA), 34);
    via_is(&view, 0, "TCP", "sip33.example.com", 0, "", 0);
    assert_int_equal(sip_view_via(&view, 33, &via), 0);
    range_is(&view, via.host, "host.example.com");
    range_is(&view, via.received, "192.0.2.5");
    assert_true(via.branch.len > 160);
    assert_int_equal(view.body_len, 150);
    assert_true(view.from_tag.len > 180);
}

static const char dblreq[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "To: sip:j.user@example.com\r\n"
    "From: sip:j.user@example.com;tag=43251j3j324\r\n"
    "Max-Forwards: 8\r\n"
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412\r\n"
    "Contact: sip:j.user@host.example.com\r\n"
    "CSeq: 8 REGISTER\r\n"
    "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
    "\r\n"
    "INVITE sip:joe@example.com SIP/2.0\r\n"
    "t: sip:joe@example.com\r\n"
    "From: sip:caller@example.net;tag=141334\r\n"
    "Max-Forwards: 8\r\n"
    "Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\r\n"
    "CSeq: 8 INVITE\r\n"
    "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 150\r\n"
    "\r\n"
    "v=0\r\n"
    "o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.15\r\n"
    "t=0 0\r\n"
    "m=audio 49217 RTP/AVP 0 12\r\n"
    "m =video 3227 RTP/AVP 31\r\n"
    "a=rtpmap:31 LPC\r\n"
    "\r\n";

/* 3.1.1.8 Multiple requests in one datagram: only the REGISTER (its
 * Content-Length is 0) is the message; the rest is ignored, and a
 * forwarded copy carries only the REGISTER. */
static void test_rfc4475_dblreq(void **s)
{
    long n;
    (void)s;
    assert_int_equal(parse(MSG(dblreq)), 0);
    assert_int_equal(view.method, SIP_M_REGISTER);
    assert_int_equal(view.len, strstr(dblreq, "\r\n\r\n") - dblreq + 4);
    n = apply_ok(NULL, 0);
    assert_int_equal(n, view.len);
    assert_null(memmem(out, (size_t)n, "INVITE", 6));
}

static const char semiuri[] =
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\r\n"
    "To: sip:j_user@example.com\r\n"
    "From: sip:caller@example.org;tag=33242\r\n"
    "Max-Forwards: 3\r\n"
    "Call-ID: semiuri.0ha0isndaksdj\r\n"
    "CSeq: 8 OPTIONS\r\n"
    "Accept: application/sdp, application/pkcs7-mime,\r\n"
    "        multipart/mixed, multipart/signed,\r\n"
    "        message/sip, message/sipfrag\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\r\n"
    "l: 0\r\n"
    "\r\n";

/* 3.1.1.9 Semicolon-separated parameters in the user part: valid; the
 * whole URI is the Request-URI. */
static void test_rfc4475_semiuri(void **s)
{
    (void)s;
    assert_int_equal(parse(MSG(semiuri)), 0);
    range_is(&view, view.ruri, "sip:user;par=u%40example.net@example.com");
    assert_true(view.first[SIP_H_ACCEPT] >= 0);
    assert_int_equal(view.max_forwards, 3);
}

static const char transports[] =
    "OPTIONS sip:user@example.com SIP/2.0\r\n"
    "To: sip:user@example.com\r\n"
    "From: <sip:caller@example.com>;tag=323\r\n"
    "Max-Forwards: 70\r\n"
    "Call-ID:  transports.kijh4akdnaqjkwendsasfdj\r\n"
    "Accept: application/sdp\r\n"
    "CSeq: 60 OPTIONS\r\n"
    "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\r\n"
    "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\r\n"
    "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\r\n"
    "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\r\n"
    "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\r\n"
    "l: 0\r\n"
    "\r\n";

/* 3.1.1.10 Varied and unknown transport types: all valid. */
static void test_rfc4475_transports(void **s)
{
    (void)s;
    assert_int_equal(parse(MSG(transports)), 0);
    via_is(&view, 0, "UDP", "t1.example.com", 0, "z9hG4bKkdjuw", 1);
    via_is(&view, 1, "SCTP", "t2.example.com", 0, "z9hG4bKklasjdhf", 1);
    via_is(&view, 2, "TLS", "t3.example.com", 0, "z9hG4bK2980unddj", 1);
    via_is(&view, 3, "UNKNOWN", "t4.example.com", 0, "z9hG4bKasd0f3en", 1);
    via_is(&view, 4, "TCP", "t5.example.com", 0, "z9hG4bK0a9idfnee", 1);
    range_is(&view, view.call_id, "transports.kijh4akdnaqjkwendsasfdj");
}

/* 3.1.1.11 Multipart MIME message with a binary part.  Reconstructed: the
 * headers are the RFC's (the Identity value shortened); the RFC's binary
 * part is a DER blob, here replaced by octets of the same kind (NUL, CR,
 * LF, "\r\n\r\n", 0x80-0xff) with Content-Length counting them. */
#define MPART_BODY                                                                 \
    "--7a9cbec02ceef655\r\n"                                                       \
    "Content-Type: text/plain\r\n"                                                 \
    "Content-Transfer-Encoding: binary\r\n"                                        \
    "\r\n"                                                                         \
    "Hello\r\n"                                                                    \
    "--7a9cbec02ceef655\r\n"                                                       \
    "Content-Type: application/octet-stream\r\n"                                   \
    "Content-Transfer-Encoding: binary\r\n"                                        \
    "\r\n"                                                                         \
    "0\x82\x01R\x06\t*\x86H\x86\xf7\r\x01\x07\x02\xa0\x00\x00\r\n\r\nVia: x\r\n\xff\xfe" \
    "\r\n--7a9cbec02ceef655--\r\n"
#define STR_(x) #x
#define STR(x) STR_(x)
static const char mpart01[] =
    "MESSAGE sip:kumiko@example.org SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:127.0.0.1:5080>\r\n"
    "Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\r\n"
    "Contact: <sip:fluffy@127.0.0.1:5070>\r\n"
    "To: <sip:kumiko@example.org>\r\n"
    "From: <sip:fluffy@example.com>;tag=2fb0dcc9\r\n"
    "Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\r\n"
    "Date: Sat, 15 Oct 2005 04:44:56 GMT\r\n"
    "User-Agent: SIPimp.org/0.2.5 (curses)\r\n"
    "Content-Length: 243\r\n"
    "\r\n" MPART_BODY;

static void test_rfc4475_mpart01(void **s)
{
    sip_view_via_t via;
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(sizeof(MPART_BODY) - 1, 243);
    assert_int_equal(parse(MSG(mpart01)), 0);
    assert_int_equal(view.method, SIP_M_MESSAGE);
    assert_int_equal(view.body_len, 243);
    assert_memory_equal(view.buf + view.body_off, MPART_BODY, 243);
    assert_int_equal(sip_view_via(&view, 0, &via), 0);
    assert_int_equal(via.rport, 0); /* present, empty */
    assert_int_equal(via.port, 5070);
    assert_int_equal(sip_view_route(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:127.0.0.1:5080");
    assert_false(a.lr);
    assert_true(view.first[SIP_H_IDENTITY] >= 0);
}

static const char unreason[] =
    "SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое\r\n"
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n"
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf\r\n"
    "CSeq: 35 INVITE\r\n"
    "From: sip:user@example.com;tag=11141343\r\n"
    "To: sip:user@example.edu;tag=2229\r\n"
    "Content-Length: 154\r\n"
    "Content-Type: application/sdp\r\n"
    "Contact: <sip:user@host198.example.com>\r\n"
    "\r\n" SDP150("192.0.2.198");

/* 3.1.1.12 Unusual reason phrase (UTF-8): valid. */
static void test_rfc4475_unreason(void **s)
{
    (void)s;
    assert_int_equal(parse(MSG(unreason)), 0);
    assert_false(view.is_request);
    assert_int_equal(view.status, 200);
    range_is(&view, view.reason, "= 2**3 * 5**2 но сто девяносто девять - простое");
    assert_int_equal(view.body_len, 154);
    range_is(&view, view.to_tag, "2229");
}

static const char noreason[] =
    "SIP/2.0 100 \r\n"
    "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n"
    "Call-ID: noreason.asndj203insdf99223ndf\r\n"
    "CSeq: 35 INVITE\r\n"
    "From: <sip:user@example.com>;tag=39ansfi3\r\n"
    "To: <sip:user@example.edu>;tag=902jndnke3\r\n"
    "Content-Length: 0\r\n"
    "Contact: <sip:user@host105.example.com>\r\n"
    "\r\n";

/* 3.1.1.13 Empty reason phrase: valid. */
static void test_rfc4475_noreason(void **s)
{
    (void)s;
    assert_int_equal(parse(MSG(noreason)), 0);
    assert_int_equal(view.status, 100);
    assert_int_equal(view.reason.len, 0);
}

/* ================= RFC 4475 3.1.2: invalid messages ================= */

/* Each: the view refuses it with the error a 400 (or 505) names, or, for
 * a response, the caller drops it (responses are never answered). */
static void refused(const char *m, size_t n, int err)
{
    int rc = parse(m, n);
    if (rc != err)
        fail_msg("got \"%s\", expected \"%s\"", sip_view_strerror(rc), sip_view_strerror(err));
}

/* 3.1.2.1 Extraneous header field separators (Via ";;,;,,"): 400. */
static void test_rfc4475_badinv01(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "To: sip:j.user@example.com\r\n"
        "From: sip:caller@example.net;tag=134161461246\r\n"
        "Max-Forwards: 7\r\n"
        "Call-ID: badinv01.0ha0isndaksdjasdf3234nas\r\n"
        "CSeq: 8 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n"
        "Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n"
        "Content-Length: 152\r\n"
        "Content-Type: application/sdp\r\n"
        "\r\n"
        "v=0\r\n"
        "o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n"
        "s=-\r\n"
        "c=IN IP4 192.0.2.15\r\n"
        "t=0 0\r\n"
        "m=audio 49217 RTP/AVP 0 12\r\n"
        "m=video 3227 RTP/AVP 31\r\n"
        "a=rtpmap:31 LPC\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_BAD_VIA);
    assert_int_equal(view.is_request, 1); /* answered: 400 Bad Via */
}

static const char clerr[] =
    "INVITE sip:user@example.com SIP/2.0\r\n"
    "Max-Forwards: 80\r\n"
    "To: sip:j.user@example.com\r\n"
    "From: sip:caller@example.net;tag=93942939o2\r\n"
    "Contact: <sip:caller@hungry.example.net>\r\n"
    "Call-ID: clerr.0ha0isndaksdjweiafasdk3\r\n"
    "CSeq: 8 INVITE\r\n"
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 9999\r\n"
    "\r\n" SDP150("192.0.2.155");

/* 3.1.2.2 Content-Length larger than the message: over UDP a 400; on a
 * stream the framer waits for the rest. */
static void test_rfc4475_clerr(void **s)
{
    size_t n = 0;
    (void)s;
    refused(MSG(clerr), SIP_VE_CLEN_MISMATCH);
    assert_int_equal(sip_view_frame(MSG(clerr), &n), SIP_VE_NEED_MORE);
}

/* 3.1.2.3 Negative Content-Length: 400. */
static void test_rfc4475_ncl(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "Max-Forwards: 254\r\n"
        "To: sip:j.user@example.com\r\n"
        "From: sip:caller@example.net;tag=32394234\r\n"
        "Call-ID: ncl.0ha0isndaksdj2193423r542w35\r\n"
        "CSeq: 0 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\r\n"
        "Contact: <sip:caller@example53.example.net>\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: -999\r\n"
        "\r\n" SDP150("192.0.2.53");
    size_t n;
    (void)s;
    refused(MSG(m), SIP_VE_BAD_CLEN);
    assert_int_equal(sip_view_frame(MSG(m), &n), SIP_VE_BAD_CLEN);
}

static const char scalar02[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\r\n"
    "To: <sip:user@example.com>\r\n"
    "From: <sip:user@example.com>;tag=239232jh3\r\n"
    "CSeq: 36893488147419103232 REGISTER\r\n"
    "Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\r\n"
    "Max-Forwards: 300\r\n"
    "Expires: 1" "0000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000\r\n"
    "Contact: <sip:user@host129.example.com>\r\n"
    "  ;expires=280297596632815\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

/* 3.1.2.4 Request scalar fields with overlarge values: 400 for the CSeq
 * beyond 2^31.  Max-Forwards 300 alone the RFC lets an element take as
 * absent; the view refuses it too (checked on a copy with the CSeq
 * mended).  Overlarge expiries the RFC lets an element take as the
 * default (3600): the view does not choose, it reports them clamped to
 * 2^32-1 (RFC 3261 20.19's range) and the registrar caps them at its own
 * maximum. */
static void test_rfc4475_scalar02(void **s)
{
    char m[sizeof(scalar02)];
    char *p;
    sip_view_addr_t a;
    long x;
    (void)s;
    refused(MSG(scalar02), SIP_VE_BAD_CSEQ);
    memcpy(m, scalar02, sizeof(m));
    p = strstr(m, "36893488147419103232");
    memcpy(p, "00000000000000000001", 20);
    refused(m, sizeof(m) - 1, SIP_VE_BAD_MAX_FWD);
    p = strstr(m, "300");
    memcpy(p, "030", 3);
    assert_int_equal(parse(m, sizeof(m) - 1), 0);
    assert_int_equal(sip_view_expires(&view, &x), 0);
    assert_int_equal(x, 0xffffffffL);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    assert_int_equal(a.expires, 0xffffffffL);
}

/* 3.1.2.5 Response scalar fields with overlarge values: dropped (the
 * caller drops responses the view refuses). */
static void test_rfc4475_scalarlg(void **s)
{
    static const char m[] =
        "SIP/2.0 503 Service Unavailable\r\n"
        "Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\r\n"
        "To: <sip:user@example.com>\r\n"
        "From: <sip:other@example.net>;tag=2easdjfejw\r\n"
        "CSeq: 9292394834772304023312 OPTIONS\r\n"
        "Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\r\n"
        "Retry-After: 949302838503028349304023988\r\n"
        "Warning: 1812 overture \"In Progress\"\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_BAD_CSEQ);
    assert_false(view.is_request);
}

/* 3.1.2.6 Unterminated quoted string in display name: 400. */
static void test_rfc4475_quotbal(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "To: \"Mr. J. User <sip:j.user@example.com>\r\n"
        "From: sip:caller@example.net;tag=93334\r\n"
        "Max-Forwards: 10\r\n"
        "Call-ID: quotbal.aksdj\r\n"
        "Contact: <sip:caller@host59.example.net>\r\n"
        "CSeq: 8 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 152\r\n"
        "\r\n"
        "v=0\r\n"
        "o=mhandley 29739 7272939 IN IP4 192.0.2.15\r\n"
        "s=-\r\n"
        "c=IN IP4 192.0.2.15\r\n"
        "t=0 0\r\n"
        "m=audio 49217 RTP/AVP 0 12\r\n"
        "m=video 3227 RTP/AVP 31\r\n"
        "a=rtpmap:31 LPC\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_QUOTE);
}

#define SDP159(ip)                                                                  \
    "v=0\r\n"                                                                       \
    "o=mhandley 29739 7272939 IN IP4 " ip "\r\n"                                   \
    "s=-\r\n"                                                                       \
    "c=IN IP4 " ip "\r\n"                                                           \
    "t=3149328700 0\r\n"                                                            \
    "m=audio 49217 RTP/AVP 0 12\r\n"                                                \
    "m=video 3227 RTP/AVP 31\r\n"                                                   \
    "a=rtpmap:31 LPC\r\n"

/* 3.1.2.7 <> enclosing the Request-URI: 400. */
static void test_rfc4475_ltgtruri(void **s)
{
    static const char m[] =
        "INVITE <sip:user@example.com> SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=39291\r\n"
        "Max-Forwards: 23\r\n"
        "Call-ID: ltgtruri.1@192.0.2.5\r\n"
        "CSeq: 1 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.5\r\n"
        "Contact: <sip:caller@host5.example.net>\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 159\r\n"
        "\r\n" SDP159("192.0.2.5");
    (void)s;
    refused(MSG(m), SIP_VE_URI);
}

/* 3.1.2.8 Malformed SIP Request-URI (embedded LWS): 400. */
static void test_rfc4475_lwsruri(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com; lr SIP/2.0\r\n"
        "To: sip:user@example.com;tag=3xfe-9921883-z9f\r\n"
        "From: sip:caller@example.net;tag=231413434\r\n"
        "Max-Forwards: 5\r\n"
        "Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\r\n"
        "CSeq: 2130706432 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\r\n"
        "Contact: <sip:caller@host1.example.net>\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 159\r\n"
        "\r\n" SDP159("192.0.2.1");
    (void)s;
    refused(MSG(m), SIP_VE_START_LINE);
}

/* 3.1.2.9 Multiple SP separating Request-Line elements.  The RFC allows
 * rejecting it, or accepting it if a forwarded copy drops the extra SP;
 * the view forwards the received bytes, so it rejects: 400. */
static void test_rfc4475_lwsstart(void **s)
{
    static const char m[] =
        "INVITE  sip:user@example.com  SIP/2.0\r\n"
        "Max-Forwards: 8\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=8814\r\n"
        "Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\r\n"
        "CSeq: 1893884 INVITE\r\n"
        "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\r\n"
        "Contact: <sip:caller@host1.example.net>\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 150\r\n"
        "\r\n" SDP150("192.0.2.1");
    (void)s;
    refused(MSG(m), SIP_VE_START_LINE);
}

/* 3.1.2.10 SP characters at the end of the Request-Line: as lwsstart,
 * rejected (the forwarded bytes would keep them). */
static void test_rfc4475_trws(void **s)
{
    static const char m[] =
        "OPTIONS sip:remote-target@example.com SIP/2.0  \r\n"
        "Via: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\r\n"
        "To: <sip:remote-target@example.com>\r\n"
        "From: <sip:local-resource@example.com>;tag=329429089\r\n"
        "Call-ID: trws.oicu34958239neffasdhr2345r\r\n"
        "Accept: application/sdp\r\n"
        "CSeq: 238923 OPTIONS\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_START_LINE);
}

/* 3.1.2.11 Escaped headers in a SIP Request-URI: 400 (RFC 3261 19.1.1:
 * no headers in a Request-URI).  Reconstructed from the RFC's
 * description: the Request-URI is the RFC's, the other header values
 * may differ from it. */
static void test_rfc4475_escruri(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=341518\r\n"
        "Max-Forwards: 7\r\n"
        "Contact: <sip:caller@host39923.example.net>\r\n"
        "Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh3q3\r\n"
        "CSeq: 14 INVITE\r\n"
        "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 150\r\n"
        "\r\n" SDP150("192.0.2.1");
    (void)s;
    refused(MSG(m), SIP_VE_URI);
}

/* 3.1.2.12 Invalid time zone in Date: a proxy forwards it; a UA may
 * ignore the Date or reject it.  The view parses it and exposes the
 * Date header for that layer.  Reconstructed from the RFC's description:
 * the Date value is the RFC's, the other values may differ. */
static void test_rfc4475_baddate(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=2234923\r\n"
        "Max-Forwards: 70\r\n"
        "Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\r\n"
        "CSeq: 1392934 INVITE\r\n"
        "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n"
        "Date: Fri, 01 Jan 2010 16:00:00 EST\r\n"
        "Contact: <sip:caller@host5.example.net>\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 150\r\n"
        "\r\n" SDP150("192.0.2.5");
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_true(sip_view_nth(&view, SIP_H_DATE, 0, &r) >= 0);
    range_is(&view, r, "Fri, 01 Jan 2010 16:00:00 EST");
}

/* 3.1.2.13 Failure to enclose a name-addr URI in <>: a registrar answers
 * 400.  A proxy forwards the REGISTER, so the view parses it and its
 * Contact accessor refuses the value (the '?' headers of an addr-spec). */
static void test_rfc4475_regbadct(void **s)
{
    static const char m[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:user@example.com;tag=998332\r\n"
        "Max-Forwards: 70\r\n"
        "Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\r\n"
        "CSeq: 1 REGISTER\r\n"
        "Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\r\n"
        "Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\r\n"
        "l: 0\r\n"
        "\r\n";
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    via_is(&view, 0, "UDP", "135.180.130.133", 5060, "z9hG4bKkdjuw", 1);
    assert_int_equal(sip_view_contact(&view, 0, &a), SIP_VE_BAD_VALUE);
}

/* 3.1.2.14 Spaces within addr-spec (To "< sip:... >"): reasonable to
 * reject.  To is end to end: the view parses (a proxy forwards) and its
 * address accessor refuses the URI with spaces, for the UA layer. */
static void test_rfc4475_badaspec(void **s)
{
    static const char m[] =
        "OPTIONS sip:user@example.org SIP/2.0\r\n"
        "Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\r\n"
        "Max-Forwards: 70\r\n"
        "From: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\r\n"
        "To: \"Watson, Thomas\" < sip:t.watson@example.org >\r\n"
        "Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\r\n"
        "Accept: application/sdp\r\n"
        "CSeq: 3923239 OPTIONS\r\n"
        "l: 0\r\n"
        "\r\n";
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_int_equal(sip_view_addr(&view, view.hdrs[view.first[SIP_H_FROM]].value, &a), 0);
    assert_int_equal(sip_view_addr(&view, view.hdrs[view.first[SIP_H_TO]].value, &a),
                     SIP_VE_BAD_VALUE);
}

/* 3.1.2.15 Non-token characters in an unquoted display name: as
 * badaspec, parsed, and the address accessor refuses From and To. */
static void test_rfc4475_baddn(void **s)
{
    static const char m[] =
        "OPTIONS sip:t.watson@example.org SIP/2.0\r\n"
        "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\r\n"
        "Max-Forwards:      70\r\n"
        "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\r\n"
        "To:      Watson, Thomas <sip:t.watson@example.org>\r\n"
        "Call-ID: baddn.31415@c.example.com\r\n"
        "Accept: application/sdp\r\n"
        "CSeq:    3923239 OPTIONS\r\n"
        "l: 0\r\n"
        "\r\n";
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    range_is(&view, view.from_tag, "43");
    assert_int_equal(sip_view_addr(&view, view.hdrs[view.first[SIP_H_FROM]].value, &a),
                     SIP_VE_BAD_VALUE);
}

/* 3.1.2.16 Unknown protocol version: 505. */
static void test_rfc4475_badvers(void **s)
{
    static const char m[] =
        "OPTIONS sip:t.watson@example.org SIP/7.0\r\n"
        "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n"
        "Max-Forwards:     70\r\n"
        "From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\n"
        "To:      T. Watson <sip:t.watson@example.org>\r\n"
        "Call-ID: badvers.31417@c.example.com\r\n"
        "CSeq:    1 OPTIONS\r\n"
        "l: 0\r\n"
        "\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_VERSION);
    assert_int_equal(view.is_request, 1); /* answered: 505 */
    assert_string_equal(sip_view_strerror(SIP_VE_VERSION), "SIP Version not supported");
}

/* 3.1.2.17 Start line and CSeq method mismatch: 400. */
static void test_rfc4475_mismatch01(void **s)
{
    static const char m[] =
        "OPTIONS sip:user@example.com SIP/2.0\r\n"
        "To: sip:j.user@example.com\r\n"
        "From: sip:caller@example.net;tag=34525\r\n"
        "Max-Forwards: 6\r\n"
        "Call-ID: mismatch01.dj0234sxdfl3\r\n"
        "CSeq: 8 INVITE\r\n"
        "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\r\n"
        "l: 0\r\n"
        "\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_CSEQ_METHOD);
}

/* 3.1.2.18 Unknown method with CSeq method mismatch: 400. */
static void test_rfc4475_mismatch02(void **s)
{
    static const char m[] =
        "NEWMETHOD sip:user@example.com SIP/2.0\r\n"
        "To: sip:j.user@example.com\r\n"
        "From: sip:caller@example.net;tag=34525\r\n"
        "Max-Forwards: 6\r\n"
        "Call-ID: mismatch02.dj0234sxdfl3\r\n"
        "CSeq: 8 INVITE\r\n"
        "Contact: <sip:caller@host.example.net>\r\n"
        "Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\r\n"
        "Content-Type: application/sdp\r\n"
        "l: 138\r\n"
        "\r\n"
        "v=0\r\n"
        "o=mhandley 29739 7272939 IN IP4 192.0.2.1\r\n"
        "c=IN IP4 192.0.2.1\r\n"
        "m=audio 49217 RTP/AVP 0 12\r\n"
        "m=video 3227 RTP/AVP 31\r\n"
        "a=rtpmap:31 LPC\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_CSEQ_METHOD);
}

/* 3.1.2.19 Overlarge response code: dropped. */
static void test_rfc4475_bigcode(void **s)
{
    static const char m[] =
        "SIP/2.0 4294967301 better not break the receiver\r\n"
        "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n"
        "Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\r\n"
        "CSeq: 353494 INVITE\r\n"
        "From: <sip:user@example.com>;tag=39ansfi3\r\n"
        "To: <sip:user@example.edu>;tag=902jndnke3\r\n"
        "Content-Length: 0\r\n"
        "Contact: <sip:user@host105.example.com>\r\n"
        "\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_STATUS);
    assert_int_equal(view.is_request, 0); /* a response: dropped */
}

/* ======= RFC 4475 3.2 / 3.3: transaction and application layer ======= */

/* 3.2.1 Missing transaction identifier (branch is only the cookie): the
 * element may reject it or fall back to RFC 2543 matching; the view
 * parses it and says the branch is not an RFC 3261 one. */
static void test_rfc4475_badbranch(void **s)
{
    static const char m[] =
        "OPTIONS sip:user@example.com SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.org;tag=33242\r\n"
        "Max-Forwards: 3\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\r\n"
        "Accept: application/sdp\r\n"
        "Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n\r\n"
        "CSeq: 8 OPTIONS\r\n"
        "l: 0\r\n"
        "\r\n";
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    via_is(&view, 0, "UDP", "192.0.2.1", 0, "z9hG4bK", 0);
}

/* 3.3.1 Missing required header fields (To, From, Call-ID): 400. */
static void test_rfc4475_insuf(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "CSeq: 193942 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\r\n"
        "Content-Type: application/sdp\r\n"
        "l: 152\r\n"
        "\r\n"
        "v=0\r\n"
        "o=mhandley 29739 7272939 IN IP4 192.0.2.95\r\n"
        "s=-\r\n"
        "c=IN IP4 192.0.2.95\r\n"
        "t=0 0\r\n"
        "m=audio 49217 RTP/AVP 0 12\r\n"
        "m=video 3227 RTP/AVP 31\r\n"
        "a=rtpmap:31 LPC\r\n";
    (void)s;
    refused(MSG(m), SIP_VE_NO_CALL_ID);
}

/* 3.3.2 Request-URI with an unknown scheme: a proxy answers 416; the view
 * parses and gives the Request-URI for that decision. */
static void test_rfc4475_unkscm(void **s)
{
    static const char m[] =
        "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=384\r\n"
        "Max-Forwards: 3\r\n"
        "Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34\r\n"
        "CSeq: 3923423 OPTIONS\r\n"
        "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    range_is(&view, view.ruri, "nobodyKnowsThisScheme:totallyopaquecontent");
}

/* 3.3.3 Request-URI with a known but atypical scheme: valid; a proxy
 * may answer 416 if it cannot route soap.beep. */
static void test_rfc4475_novelsc(void **s)
{
    static const char m[] =
        "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=384\r\n"
        "Max-Forwards: 3\r\n"
        "Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\r\n"
        "CSeq: 3923423 OPTIONS\r\n"
        "Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    range_is(&view, view.ruri, "soap.beep://192.0.2.103:3002");
}

/* 3.3.4 Unknown URI schemes in header fields (To isbn:, From http:,
 * Contact name:): valid; the registrar decides about the Contact. */
static void test_rfc4475_unksm2(void **s)
{
    static const char m[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "To: isbn:2983792873\r\n"
        "From: <http://www.example.com>;tag=3234233\r\n"
        "Call-ID: unksm2.daksdj@hyphenated-host.example.com\r\n"
        "CSeq: 234902 REGISTER\r\n"
        "Max-Forwards: 70\r\n"
        "Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\r\n"
        "Contact: <name:John_Smith>\r\n"
        "l: 0\r\n"
        "\r\n";
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    range_is(&view, view.from_tag, "3234233");
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.uri, "name:John_Smith");
}

/* 3.3.6 Unknown Content-Type: the UAS answers 415; a proxy forwards the
 * body untouched (40 octets by Content-Length). */
static void test_rfc4475_invut(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "Contact: <sip:caller@host5.example.net>\r\n"
        "To: sip:j.user@example.com\r\n"
        "From: sip:caller@example.net;tag=8392034\r\n"
        "Max-Forwards: 70\r\n"
        "Call-ID: invut.0ha0isndaksdjadsfij34n23d\r\n"
        "CSeq: 235448 INVITE\r\n"
        "Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\r\n"
        "Content-Type: application/unknownformat\r\n"
        "Content-Length: 40\r\n"
        "\r\n"
        "<audio>\r\n"
        " <pcmu port=\"443\"/>\r\n"
        "</audio>\r\n";
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_int_equal(view.body_len, 40);
    assert_true(sip_view_nth(&view, SIP_H_CONTENT_TYPE, 0, &r) >= 0);
    range_is(&view, r, "application/unknownformat");
}

/* 3.3.7 REGISTER with an unknown authorization scheme: the registrar
 * answers 401 or 403; the view exposes Authorization as received. */
static void test_rfc4475_regaut01(void **s)
{
    static const char m[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "To: sip:j.user@example.com\r\n"
        "From: sip:j.user@example.com;tag=87321hj23128\r\n"
        "Max-Forwards: 8\r\n"
        "Call-ID: regaut01.0ha0isndaksdj\r\n"
        "CSeq: 9338 REGISTER\r\n"
        "Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\r\n"
        "Authorization: NoOneKnowsThisScheme opaque-data=here\r\n"
        "Content-Length:0\r\n"
        "\r\n";
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_true(sip_view_nth(&view, SIP_H_AUTHORIZATION, 0, &r) >= 0);
    range_is(&view, r, "NoOneKnowsThisScheme opaque-data=here");
    assert_int_equal(view.clen, 0);
}

/* 3.3.5 Proxy-Require and Require with unsupported extensions: a proxy
 * answers 420 listing Proxy-Require; the view exposes it. */
static void test_rfc4475_bext01(void **s)
{
    static const char m[] =
        "OPTIONS sip:user@example.com SIP/2.0\r\n"
        "To: sip:j_user@example.com\r\n"
        "From: sip:caller@example.net;tag=242etr\r\n"
        "Max-Forwards: 6\r\n"
        "Call-ID: bext01.0ha0isndaksdj\r\n"
        "Require: nothingSupportsThis, nothingSupportsThisEither\r\n"
        "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\r\n"
        "CSeq: 8 OPTIONS\r\n"
        "Via: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_true(sip_view_nth(&view, SIP_H_PROXY_REQUIRE, 0, &r) >= 0);
    range_is(&view, r, "noProxiesSupportThis, norDoAnyProxiesSupportThis");
    assert_true(view.first[SIP_H_REQUIRE] >= 0);
}

/* 3.3.8 Multiple values in single-value required fields: 400. */
static void test_rfc4475_multi01(void **s)
{
    static const char m[] =
        "INVITE sip:user@company.com SIP/2.0\r\n"
        "Contact: <sip:caller@host25.example.net>\r\n"
        "Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\r\n"
        "Max-Forwards: 70\r\n"
        "CSeq: 5 INVITE\r\n"
        "Call-ID: multi01.98asdh@192.0.2.1\r\n"
        "CSeq: 59 INVITE\r\n"
        "Call-ID: multi01.98asdh@192.0.2.2\r\n"
        "From: sip:caller@example.com;tag=3413415\r\n"
        "To: sip:user@example.com\r\n"
        "To: sip:other@example.net\r\n"
        "From: sip:caller@example.net;tag=2923420123\r\n"
        "Content-Type: application/sdp\r\n"
        "l: 154\r\n"
        "Contact: <sip:caller@host36.example.net>\r\n"
        "Max-Forwards: 5\r\n"
        "\r\n" SDP150("192.0.2.25");
    (void)s;
    refused(MSG(m), SIP_VE_DUP_HEADER);
}

/* 3.3.9 Multiple Content-Length values: an error response over UDP; on
 * a stream the framing cannot recover and the transport closes the
 * connection (sip_view_frame says so with the same error). */
static void test_rfc4475_mcl01(void **s)
{
    static const char m[] =
        "OPTIONS sip:user@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:other@example.net;tag=3923942\r\n"
        "Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\r\n"
        "CSeq: 15932 OPTIONS\r\n"
        "Content-Length: 13\r\n"
        "Max-Forwards: 60\r\n"
        "Content-Length: 5\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "There's no way to know how many octets are supposed to be here.\r\n";
    size_t n;
    (void)s;
    refused(MSG(m), SIP_VE_DUP_HEADER);
    assert_int_equal(sip_view_frame(MSG(m), &n), SIP_VE_DUP_HEADER);
}

/* 3.3.10 200 OK with a broadcast Via: a proxy must not send the response
 * to 255.255.255.255.  The view gives the next Via's host for the
 * transport's check, and removing the top Via leaves it on top. */
static void test_rfc4475_bcast(void **s)
{
    static const char m[] =
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\r\n"
        "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\r\n"
        "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\r\n"
        "CSeq: 35 INVITE\r\n"
        "From: sip:user@example.com;tag=11141343\r\n"
        "To: sip:user@example.edu;tag=2229\r\n"
        "Content-Length: 154\r\n"
        "Content-Type: application/sdp\r\n"
        "Contact: <sip:user@host28.example.com>\r\n"
        "\r\n" SDP150("192.0.2.198");
    sip_view_edit_t e = { SIP_EDIT_VIA_DEL_TOP, NULL, 0, 0 };
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    via_is(&view, 1, "UDP", "255.255.255.255", 0, "z9hG4bK1saber23", 1);
    apply_ok(&e, 1);
    assert_int_equal(sip_view_num(&view2, SIP_H_VIA), 1);
    via_is(&view2, 0, "UDP", "255.255.255.255", 0, "z9hG4bK1saber23", 1);
}

/* 3.3.11 Max-Forwards of zero: a proxy answers 483 (OPTIONS: it may
 * answer itself); the view reads 0 and refuses to decrement it. */
static void test_rfc4475_zeromf(void **s)
{
    static const char m[] =
        "OPTIONS sip:user@example.com SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:caller@example.net;tag=3ghsd41\r\n"
        "Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\r\n"
        "CSeq: 39234321 OPTIONS\r\n"
        "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\r\n"
        "Max-Forwards: 0\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    sip_view_edit_t e = { SIP_EDIT_MAX_FWD, NULL, 0, -1 };
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_int_equal(view.max_forwards, 0);
    assert_int_equal(sip_view_apply(&view, &e, 1, out, sizeof(out)), SIP_VE_BAD_EDIT);
}

/* 3.3.12 / 3.3.13 REGISTER with a Contact header parameter, and with a
 * URI parameter: ;unknownparam belongs to the header in the first, to
 * the URI in the second. */
static void test_rfc4475_cparam01_cparam02(void **s)
{
    static const char m1[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\n"
        "Max-Forwards: 70\r\n"
        "From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\r\n"
        "To: sip:watson@example.com\r\n"
        "Call-ID: cparam01.70710@saturn.example.com\r\n"
        "CSeq: 2 REGISTER\r\n"
        "Contact: sip:+19725552222@gw1.example.net;unknownparam\r\n"
        "l: 0\r\n"
        "\r\n";
    static const char m2[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\r\n"
        "Max-Forwards: 70\r\n"
        "From: sip:watson@example.com;tag=838293\r\n"
        "To: sip:watson@example.com\r\n"
        "Call-ID: cparam02.70710@saturn.example.com\r\n"
        "CSeq: 3 REGISTER\r\n"
        "Contact: <sip:+19725552222@gw1.example.net;unknownparam>\r\n"
        "l: 0\r\n"
        "\r\n";
    sip_view_addr_t a;
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(m1)), 0);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:+19725552222@gw1.example.net");
    assert_int_equal(sip_view_param(&view, a.params, "unknownparam", &r), 1);
    assert_int_equal(parse(MSG(m2)), 0);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:+19725552222@gw1.example.net;unknownparam");
    assert_int_equal(sip_view_param(&view, a.params, "unknownparam", &r), 0);
}

/* 3.3.14 REGISTER with a URL-escaped header in <>: valid ("M:" compact). */
static void test_rfc4475_regescrt(void **s)
{
    static const char m[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "To: sip:user@example.com\r\n"
        "From: sip:user@example.com;tag=8\r\n"
        "Max-Forwards: 70\r\n"
        "Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\r\n"
        "CSeq: 14398234 REGISTER\r\n"
        "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\r\n"
        "M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\r\n"
        "L:0\r\n"
        "\r\n";
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:user@example.com?Route=%3Csip:sip.example.com%3E");
}

/* 3.3.15 Unacceptable Accept offering: the UAS answers 406; a proxy
 * forwards.  The view parses and exposes Accept. */
static void test_rfc4475_sdp01(void **s)
{
    static const char m[] =
        "INVITE sip:user@example.com SIP/2.0\r\n"
        "To: sip:j_user@example.com\r\n"
        "Contact: <sip:caller@host15.example.net>\r\n"
        "From: sip:caller@example.net;tag=234\r\n"
        "Max-Forwards: 5\r\n"
        "Call-ID: sdp01.ndaksdj9342dasdd\r\n"
        "Accept: text/nobodyKnowsThis\r\n"
        "CSeq: 8 INVITE\r\n"
        "Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw\r\n"
        "Content-Length: 150\r\n"
        "Content-Type: application/sdp\r\n"
        "\r\n" SDP150("192.0.2.5");
    sip_range_t r;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_true(sip_view_nth(&view, SIP_H_ACCEPT, 0, &r) >= 0);
    range_is(&view, r, "text/nobodyKnowsThis");
}

/* 3.4.1 INVITE with RFC 2543 syntax: no branch, no Max-Forwards, no
 * Content-Length (UDP: the rest of the datagram), no From tag; valid.  A
 * proxy adds Max-Forwards 70. */
static void test_rfc4475_inv2543(void **s)
{
    static const char m[] =
        "INVITE sip:UserB@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP iftgw.example.com\r\n"
        "From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n"
        "Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\n"
        "To: sip:+16505552222@ss1.example.net;user=phone\r\n"
        "Call-ID: inv2543.1717@ift.client.example.com\r\n"
        "CSeq: 56 INVITE\r\n"
        "Content-Type: application/sdp\r\n"
        "\r\n" SDP150("192.0.2.5");
    sip_view_edit_t e = { SIP_EDIT_MAX_FWD, NULL, 0, -1 };
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    via_is(&view, 0, "UDP", "iftgw.example.com", 0, "", 0);
    assert_int_equal(view.from_tag.len, 0);
    assert_int_equal(view.clen, -1);
    assert_int_equal(view.body_len, 150);
    assert_int_equal(view.max_forwards, -1);
    apply_ok(&e, 1);
    assert_int_equal(view2.max_forwards, 70);
    /* a stream requires Content-Length */
    assert_int_equal(sip_view_parse(&view2, MSG(m), SIP_VIEW_STREAM), SIP_VE_NO_CLEN);
}

/* ======================= framing ======================= */

static const char small[] =
    "OPTIONS sip:a@b.example SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
    "From: <sip:x@y.example>;tag=1\r\n"
    "To: <sip:a@b.example>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "abcd";

static void test_frame_finds_the_end_of_each_message(void **s)
{
    char buf[2 * sizeof(small)];
    size_t n = 0, len = sizeof(small) - 1;
    (void)s;
    memcpy(buf, small, len);
    memcpy(buf + len, small, len);
    assert_int_equal(sip_view_frame(buf, 2 * len, &n), 0);
    assert_int_equal(n, len);
    assert_int_equal(sip_view_frame(buf, len - 1, &n), SIP_VE_NEED_MORE);
    assert_int_equal(sip_view_frame(buf, 20, &n), SIP_VE_NEED_MORE);
    assert_int_equal(sip_view_parse(&view, buf, n, SIP_VIEW_STREAM), 0);
    assert_int_equal(view.body_len, 4);
    assert_memory_equal(view.buf + view.body_off, "abcd", 4);
}

static void test_frame_skips_keepalive_crlf_and_refuses_what_it_cannot_frame(void **s)
{
    static char big[SIP_VIEW_MAX_MSG + 16];
    char buf[sizeof(small) + 4];
    size_t n = 0;
    (void)s;
    memcpy(buf, "\r\n\r\n", 4);
    memcpy(buf + 4, small, sizeof(small) - 1);
    assert_int_equal(sip_view_frame(buf, sizeof(buf) - 1, &n), 0);
    assert_int_equal(n, sizeof(buf) - 1);
    assert_int_equal(sip_view_parse(&view, buf, n, SIP_VIEW_STREAM), 0);
    assert_int_equal(view.start, 4);
    assert_int_equal(sip_view_frame("\r\n\r\n", 4, &n), SIP_VE_NEED_MORE);
    assert_int_equal(sip_view_parse(&view, "\r\n\r\n", 4, 0), SIP_VE_EMPTY);
    /* no Content-Length on a stream */
    assert_int_equal(sip_view_frame(MSG(lwsdisp), &n), 0);
    assert_int_equal(sip_view_frame(MSG("OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n"), &n),
                     SIP_VE_NO_CLEN);
    /* headers that never end, and a body beyond the limit */
    memset(big, 'a', sizeof(big));
    assert_int_equal(sip_view_frame(big, sizeof(big), &n), SIP_VE_TOO_LARGE);
    assert_int_equal(sip_view_frame(MSG("A b SIP/2.0\r\nl: 65535\r\n\r\n"), &n),
                     SIP_VE_TOO_LARGE);
    assert_int_equal(sip_view_parse(&view, big, sizeof(big), 0), SIP_VE_TOO_LARGE);
}

/* ======================= parsing ======================= */

static void test_parse_refuses_bad_lines_and_limits(void **s)
{
    static char many[SIP_VIEW_MAX_HDRS * 12 + 512];
    size_t n;
    int i;
    (void)s;
    refused(MSG("OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n"), SIP_VE_HEADER);
    refused(MSG("OPTIONS sip:a@b SIP/2.0\r\n continued: x\r\n\r\n"), SIP_VE_HEADER);
    refused(MSG("OPTIONS sip:a@b SIP/2.0\r\nVia: a\nb\r\n\r\n"), SIP_VE_HEADER);
    refused(MSG("OPTIONS sip:a@b SIP/2.0\r\nVia: a\rb\r\n\r\n"), SIP_VE_HEADER);
    refused(MSG("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"), SIP_VE_TRUNCATED);
    refused(MSG("SIP/2.0 20 OK\r\n\r\n"), SIP_VE_STATUS);
    refused(MSG("SIP/2.0 099 OK\r\n\r\n"), SIP_VE_STATUS);
    refused(MSG("OPT(ONS sip:a@b SIP/2.0\r\n\r\n"), SIP_VE_METHOD);
    assert_int_equal(view.is_request, -1); /* not even a request line: dropped */
    refused(MSG("\x16\x03\x01\x02\x00\x01\r\n\r\n"), SIP_VE_START_LINE);
    assert_int_equal(view.is_request, -1);
    refused(MSG("OPTIONS sip:a@b SIP/2.0\r\n\r\n"), SIP_VE_NO_VIA);
    n = (size_t)snprintf(many, sizeof(many), "OPTIONS sip:a@b SIP/2.0\r\n");
    for (i = 0; i <= SIP_VIEW_MAX_HDRS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "X-%d: y\r\n", i);
    n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n");
    refused(many, n, SIP_VE_TOO_MANY_HEADERS);
    n = (size_t)snprintf(many, sizeof(many), "OPTIONS sip:a@b SIP/2.0\r\nVia: h");
    for (i = 0; i <= SIP_VIEW_MAX_VALS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, ",h");
    n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n\r\n");
    refused(many, n, SIP_VE_TOO_MANY_VALUES);
}

static void test_parse_splits_lists_outside_quotes_and_brackets(void **s)
{
    static const char m[] =
        "REGISTER sip:example.com SIP/2.0\r\n"
        "v: SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKa;received=[2001:db8::9];rport=5070;"
        "maddr=224.2.0.1;ttl=16, SIP/2.0/TCP h2\r\n"
        "f: \"a, \\\"b\" <sip:a@x>;tag=1\r\n"
        "t: <sip:a@x>\r\n"
        "i: r1\r\n"
        "CSeq: 2 REGISTER\r\n"
        "m: \"Q, R\" <sip:q@h;x=a,b>;expires=60;q=1.0, <sip:r@h>;q=0.5\r\n"
        "Contact: *\r\n"
        "Expires: 3600\r\n"
        "l: 0\r\n"
        "\r\n";
    sip_view_via_t via;
    sip_view_addr_t a;
    long x;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    assert_int_equal(sip_view_num(&view, SIP_H_VIA), 2);
    assert_int_equal(sip_view_via(&view, 0, &via), 0);
    range_is(&view, via.host, "[2001:db8::1]");
    assert_int_equal(via.port, 5070);
    range_is(&view, via.received, "[2001:db8::9]");
    assert_int_equal(via.rport, 5070);
    range_is(&view, via.maddr, "224.2.0.1");
    assert_int_equal(via.ttl, 16);
    assert_int_equal(sip_view_via(&view, 1, &via), 0);
    range_is(&view, via.host, "h2");
    assert_int_equal(sip_view_num(&view, SIP_H_CONTACT), 3);
    assert_int_equal(sip_view_contact(&view, 0, &a), 0);
    range_is(&view, a.uri, "sip:q@h;x=a,b");
    assert_int_equal(a.expires, 60);
    assert_int_equal(a.q, 1000);
    assert_int_equal(sip_view_contact(&view, 1, &a), 0);
    assert_int_equal(a.q, 500);
    assert_int_equal(a.expires, -1);
    assert_int_equal(sip_view_contact(&view, 2, &a), 0);
    assert_true(a.star);
    assert_int_equal(sip_view_expires(&view, &x), 0);
    assert_int_equal(x, 3600);
    range_is(&view, view.from_tag, "1");
    assert_int_equal(sip_view_contact(&view, 3, &a), SIP_VE_NOT_FOUND);
}

static void test_strerror_names_every_code(void **s)
{
    int i;
    (void)s;
    for (i = 0; i > -SIP_VE__COUNT; i--)
        assert_string_not_equal(sip_view_strerror(i), "Unknown error");
    assert_string_equal(sip_view_strerror(-SIP_VE__COUNT), "Unknown error");
    assert_string_equal(sip_view_strerror(SIP_VE_NO_VIA), "No Via");
}

/* ======================= edits ======================= */

static const char req[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-b\r\n"
    "Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK-c\r\n"
    "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    "Max-Forwards: 10\r\n"
    "From: <sip:alice@example.com>;tag=f\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: e1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "hello";

/* A proxy's forward in one pass: its Via on top, received/rport on the
 * one below, Max-Forwards down, its Record-Route, the top Route off. */
static void test_edit_forward_request_in_one_pass(void **s)
{
    static const char mine[] = "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-px";
    sip_view_edit_t e[] = {
        { SIP_EDIT_MAX_FWD, NULL, 0, -1 },
        { SIP_EDIT_VIA_ADD, mine, sizeof(mine) - 1, 0 },
        { SIP_EDIT_VIA_RECEIVED, "198.51.100.7", 12, 40000 },
        { SIP_EDIT_RR_ADD, "<sip:192.0.2.9;lr>", 18, 0 },
        { SIP_EDIT_ROUTE_DEL_TOP, NULL, 0, 0 },
    };
    sip_view_via_t via;
    sip_view_addr_t a;
    (void)s;
    assert_int_equal(parse(MSG(req)), 0);
    apply_ok(e, 5);
    assert_int_equal(view2.max_forwards, 9);
    assert_int_equal(sip_view_num(&view2, SIP_H_VIA), 4);
    via_is(&view2, 0, "UDP", "192.0.2.9", 5060, "z9hG4bK-px", 1);
    assert_int_equal(sip_view_via(&view2, 1, &via), 0);
    range_is(&view2, via.received, "198.51.100.7");
    assert_int_equal(via.rport, 40000);
    range_is(&view2, via.branch, "z9hG4bK-a");
    assert_int_equal(sip_view_num(&view2, SIP_H_ROUTE), 1);
    assert_int_equal(sip_view_route(&view2, 0, &a), 0);
    range_is(&view2, a.uri, "sip:p2.example.com;lr");
    assert_int_equal(sip_view_num(&view2, SIP_H_RECORD_ROUTE), 1);
    assert_int_equal(view2.body_len, 5);
    assert_memory_equal(view2.buf + view2.body_off, "hello", 5);
    {
        static const char want[] = "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-px\r\n"
                                   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a;rport=40000"
                                   ";received=198.51.100.7, SIP/2.0/UDP 10.0.0.2";
        assert_non_null(memmem(out, view2.len, want, sizeof(want) - 1));
    }
}

/* A response's top Via removed: only the first value of a line with two;
 * the whole line when it has one. */
static void test_edit_remove_top_via_value_or_line(void **s)
{
    static const char resp[] =
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK-px , SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-a\r\n"
        "Via: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK-c\r\n"
        "From: <sip:alice@example.com>;tag=f\r\n"
        "To: <sip:bob@example.com>;tag=t\r\n"
        "Call-ID: e1\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    sip_view_edit_t e = { SIP_EDIT_VIA_DEL_TOP, NULL, 0, 0 };
    long n;
    (void)s;
    assert_int_equal(parse(MSG(resp)), 0);
    n = apply_ok(&e, 1);
    assert_non_null(memmem(out, (size_t)n, "\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-a\r\n", 46));
    assert_int_equal(sip_view_num(&view2, SIP_H_VIA), 2);
    memcpy(&view, &view2, sizeof(view));
    n = sip_view_apply(&view, &e, 1, out + SIP_VIEW_MAX_MSG / 2, SIP_VIEW_MAX_MSG / 2);
    assert_true(n > 0);
    assert_int_equal(sip_view_parse(&view2, out + SIP_VIEW_MAX_MSG / 2, (size_t)n, 0), 0);
    assert_int_equal(sip_view_num(&view2, SIP_H_VIA), 1);
    via_is(&view2, 0, "UDP", "10.0.0.3", 0, "z9hG4bK-c", 1);
    /* the last Via removed: no Via left, the result is refused */
    memcpy(&view, &view2, sizeof(view));
    n = sip_view_apply(&view, &e, 1, out, SIP_VIEW_MAX_MSG / 2);
    assert_int_equal(sip_view_parse(&view2, out, (size_t)n, 0), SIP_VE_NO_VIA);
}

/* RFC 3581: rport given its value, received set or replaced. */
static void test_edit_received_and_rport(void **s)
{
    static const char m[] =
        "OPTIONS sip:a@b SIP/2.0\r\n"
        "Via: SIP/2.0/UDP h.example;received=10.1.1.1;rport=1;branch=z9hG4bK1\r\n"
        "From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: r\r\nCSeq: 1 OPTIONS\r\n\r\n";
    sip_view_edit_t e = { SIP_EDIT_VIA_RECEIVED, "192.0.2.200", 11, 5062 };
    sip_view_via_t via;
    (void)s;
    assert_int_equal(parse(MSG(m)), 0);
    apply_ok(&e, 1);
    assert_int_equal(sip_view_via(&view2, 0, &via), 0);
    range_is(&view2, via.received, "192.0.2.200");
    assert_int_equal(via.rport, 5062);
    range_is(&view2, via.branch, "z9hG4bK1");
    /* received only: rport left alone */
    e.num = -1;
    apply_ok(&e, 1);
    assert_int_equal(sip_view_via(&view2, 0, &via), 0);
    assert_int_equal(via.rport, 1);
}

static void test_edit_ruri_body_and_max_forwards_set(void **s)
{
    sip_view_edit_t e[] = {
        { SIP_EDIT_RURI, "sip:bob@192.0.2.44:5070", 23, 0 },
        { SIP_EDIT_BODY, "a longer body", 13, 0 },
        { SIP_EDIT_MAX_FWD, NULL, 0, 42 },
    };
    (void)s;
    assert_int_equal(parse(MSG(req)), 0);
    apply_ok(e, 3);
    range_is(&view2, view2.ruri, "sip:bob@192.0.2.44:5070");
    assert_int_equal(view2.clen, 13);
    assert_memory_equal(view2.buf + view2.body_off, "a longer body", 13);
    assert_int_equal(view2.max_forwards, 42);
    /* a body added where there was no Content-Length */
    assert_int_equal(parse(MSG(lwsdisp)), 0);
    apply_ok(&e[1], 1);
    assert_int_equal(view2.clen, 13);
}

static void test_edit_refuses_overlaps_missing_headers_and_small_buffers(void **s)
{
    sip_view_edit_t e[] = {
        { SIP_EDIT_VIA_DEL_TOP, NULL, 0, 0 },
        { SIP_EDIT_VIA_RECEIVED, "192.0.2.1", 9, -1 },
    };
    sip_view_edit_t add = { SIP_EDIT_VIA_ADD, "SIP/2.0/UDP x;branch=z9hG4bKq", 29, 0 };
    sip_view_edit_t route = { SIP_EDIT_ROUTE_DEL_TOP, NULL, 0, 0 };
    char tiny[32];
    (void)s;
    assert_int_equal(parse(MSG(req)), 0);
    assert_int_equal(sip_view_apply(&view, e, 2, out, sizeof(out)), SIP_VE_BAD_EDIT);
    assert_int_equal(sip_view_apply(&view, &add, 1, tiny, sizeof(tiny)), SIP_VE_NOSPACE);
    /* "Via: " + 29 + CRLF: 36 more bytes, exactly */
    assert_int_equal(sip_view_apply(&view, &add, 1, out, sizeof(req) - 1 + 36),
                     (long)(sizeof(req) - 1 + 36));
    assert_int_equal(sip_view_apply(&view, &add, 1, out, sizeof(req) - 1 + 35), SIP_VE_NOSPACE);
    assert_int_equal(parse(MSG(lwsdisp)), 0);
    assert_int_equal(sip_view_apply(&view, &route, 1, out, sizeof(out)), SIP_VE_NOT_FOUND);
    /* add and remove at the top Via line land together */
    e[1] = add;
    apply_ok(e, 2);
    via_is(&view2, 0, "UDP", "x", 0, "z9hG4bKq", 1);
    assert_int_equal(sip_view_num(&view2, SIP_H_VIA), 1);
}

/* The scanners' octet tables agree with RFC 3261 25.1 for every octet:
 * token = alphanum / "-" "." "!" "%" "*" "_" "+" "`" "'" "~"; LWS is
 * SP, HT, CR, LF; a parameter value adds ':' '[' ']'; lower case only
 * for A-Z. */
static void test_octet_classes_are_rfc3261_token_lws_and_ascii_case(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        int tok = alnum || (c && strchr("-.!%*_+`'~", c) != NULL);
        int ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
        int pval = tok || c == ':' || c == '[' || c == ']';
        int low = c >= 'A' && c <= 'Z' ? c + 32 : c;
        int quoting = c == '"' || c == '\\' || c == '<' || c == '>';
        if (!!sip_vw_tokc((unsigned char)c) != tok || !!sip_vw_ws((unsigned char)c) != ws ||
            !!(sip_vw_cc[c] & SIP_VW_PVAL) != pval || sip_vw_lower(c) != low ||
            !!(sip_vw_cc[c] & SIP_VW_QUOTING) != quoting)
            fail_msg("octet 0x%02x: tok %d ws %d pval %d low %d quoting %d", c,
                     sip_vw_tokc((unsigned char)c), sip_vw_ws((unsigned char)c),
                     sip_vw_cc[c] & SIP_VW_PVAL, sip_vw_lower(c), sip_vw_cc[c] & SIP_VW_QUOTING);
    }
    /* header names: every name, compact form and case reaches its id */
    static const struct { const char *name; char compact; sip_hdr_id_t id; } names[] = {
        {"Via", 'v', SIP_H_VIA}, {"From", 'f', SIP_H_FROM}, {"To", 't', SIP_H_TO},
        {"Call-ID", 'i', SIP_H_CALL_ID}, {"CSeq", 0, SIP_H_CSEQ},
        {"Contact", 'm', SIP_H_CONTACT}, {"Max-Forwards", 0, SIP_H_MAX_FORWARDS},
        {"Route", 0, SIP_H_ROUTE}, {"Record-Route", 0, SIP_H_RECORD_ROUTE},
        {"Content-Length", 'l', SIP_H_CONTENT_LENGTH}, {"Content-Type", 'c', SIP_H_CONTENT_TYPE},
        {"Content-Encoding", 'e', SIP_H_CONTENT_ENCODING}, {"Subject", 's', SIP_H_SUBJECT},
        {"Supported", 'k', SIP_H_SUPPORTED}, {"Expires", 0, SIP_H_EXPIRES},
        {"Require", 0, SIP_H_REQUIRE}, {"Proxy-Require", 0, SIP_H_PROXY_REQUIRE},
        {"Authorization", 0, SIP_H_AUTHORIZATION},
        {"Proxy-Authorization", 0, SIP_H_PROXY_AUTHORIZATION},
        {"WWW-Authenticate", 0, SIP_H_WWW_AUTHENTICATE},
        {"Proxy-Authenticate", 0, SIP_H_PROXY_AUTHENTICATE}, {"Accept", 0, SIP_H_ACCEPT},
        {"Date", 0, SIP_H_DATE}, {"Event", 'o', SIP_H_EVENT},
        {"Allow-Events", 'u', SIP_H_ALLOW_EVENTS}, {"Refer-To", 'r', SIP_H_REFER_TO},
        {"Referred-By", 'b', SIP_H_REFERRED_BY}, {"Session-Expires", 'x', SIP_H_SESSION_EXPIRES},
        {"Accept-Contact", 'a', SIP_H_ACCEPT_CONTACT},
        {"Reject-Contact", 'j', SIP_H_REJECT_CONTACT},
        {"Request-Disposition", 'd', SIP_H_REQUEST_DISPOSITION},
        {"Identity", 'y', SIP_H_IDENTITY}, {"Identity-Info", 'n', SIP_H_IDENTITY_INFO},
    };
    int compacts = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char up[32], low[32];
        size_t n = strlen(names[i].name);
        for (size_t k = 0; k <= n; k++) {
            up[k] = (char)(names[i].name[k] >= 'a' && names[i].name[k] <= 'z' ? names[i].name[k] - 32 : names[i].name[k]);
            low[k] = (char)sip_vw_lower((unsigned char)names[i].name[k]);
        }
        assert_int_equal(sip_view_hdr_id(names[i].name, n), names[i].id);
        assert_int_equal(sip_view_hdr_id(up, n), names[i].id);
        assert_int_equal(sip_view_hdr_id(low, n), names[i].id);
        if (n > 2) /* a prefix is another name ("t" is To's compact form) */
            assert_int_equal(sip_view_hdr_id(low, n - 1), SIP_H_OTHER);
        if (names[i].compact) {
            char c[2] = {names[i].compact, (char)(names[i].compact - 32)};
            assert_int_equal(sip_view_hdr_id(&c[0], 1), names[i].id);
            assert_int_equal(sip_view_hdr_id(&c[1], 1), names[i].id);
            compacts++;
        }
    }
    assert_int_equal(compacts, 20);
    for (const char *c = "ghpqwz"; *c; c++) /* letters that are no compact form */
        assert_int_equal(sip_view_hdr_id(c, 1), SIP_H_OTHER);
    assert_int_equal(sip_view_hdr_id("", 0), SIP_H_OTHER);
    assert_int_equal(sip_view_hdr_id("User-Agent", 10), SIP_H_OTHER);
    assert_int_equal(sip_view_hdr_id("Via-Extra", 9), SIP_H_OTHER); /* a longer name is another */
    assert_int_equal(sip_view_method("MESSAGE", 7), SIP_M_MESSAGE);
    assert_int_equal(sip_view_method("MESSAGES", 8), SIP_M_OTHER);
    assert_int_equal(sip_view_method("message", 7), SIP_M_OTHER); /* methods are case-sensitive */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4475_wsinv),
        cmocka_unit_test(test_rfc4475_intmeth),
        cmocka_unit_test(test_rfc4475_esc01),
        cmocka_unit_test(test_rfc4475_escnull),
        cmocka_unit_test(test_rfc4475_esc02),
        cmocka_unit_test(test_rfc4475_lwsdisp),
        cmocka_unit_test(test_rfc4475_longreq),
        cmocka_unit_test(test_rfc4475_dblreq),
        cmocka_unit_test(test_rfc4475_semiuri),
        cmocka_unit_test(test_rfc4475_transports),
        cmocka_unit_test(test_rfc4475_mpart01),
        cmocka_unit_test(test_rfc4475_unreason),
        cmocka_unit_test(test_rfc4475_noreason),
        cmocka_unit_test(test_rfc4475_badinv01),
        cmocka_unit_test(test_rfc4475_clerr),
        cmocka_unit_test(test_rfc4475_ncl),
        cmocka_unit_test(test_rfc4475_scalar02),
        cmocka_unit_test(test_rfc4475_scalarlg),
        cmocka_unit_test(test_rfc4475_quotbal),
        cmocka_unit_test(test_rfc4475_ltgtruri),
        cmocka_unit_test(test_rfc4475_lwsruri),
        cmocka_unit_test(test_rfc4475_lwsstart),
        cmocka_unit_test(test_rfc4475_trws),
        cmocka_unit_test(test_rfc4475_escruri),
        cmocka_unit_test(test_rfc4475_baddate),
        cmocka_unit_test(test_rfc4475_regbadct),
        cmocka_unit_test(test_rfc4475_badaspec),
        cmocka_unit_test(test_rfc4475_baddn),
        cmocka_unit_test(test_rfc4475_badvers),
        cmocka_unit_test(test_rfc4475_mismatch01),
        cmocka_unit_test(test_rfc4475_mismatch02),
        cmocka_unit_test(test_rfc4475_bigcode),
        cmocka_unit_test(test_rfc4475_badbranch),
        cmocka_unit_test(test_rfc4475_insuf),
        cmocka_unit_test(test_rfc4475_unkscm),
        cmocka_unit_test(test_rfc4475_novelsc),
        cmocka_unit_test(test_rfc4475_unksm2),
        cmocka_unit_test(test_rfc4475_bext01),
        cmocka_unit_test(test_rfc4475_invut),
        cmocka_unit_test(test_rfc4475_regaut01),
        cmocka_unit_test(test_rfc4475_multi01),
        cmocka_unit_test(test_rfc4475_mcl01),
        cmocka_unit_test(test_rfc4475_bcast),
        cmocka_unit_test(test_rfc4475_zeromf),
        cmocka_unit_test(test_rfc4475_cparam01_cparam02),
        cmocka_unit_test(test_rfc4475_regescrt),
        cmocka_unit_test(test_rfc4475_sdp01),
        cmocka_unit_test(test_rfc4475_inv2543),
        cmocka_unit_test(test_frame_finds_the_end_of_each_message),
        cmocka_unit_test(test_frame_skips_keepalive_crlf_and_refuses_what_it_cannot_frame),
        cmocka_unit_test(test_parse_refuses_bad_lines_and_limits),
        cmocka_unit_test(test_parse_splits_lists_outside_quotes_and_brackets),
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_edit_forward_request_in_one_pass),
        cmocka_unit_test(test_edit_remove_top_via_value_or_line),
        cmocka_unit_test(test_edit_received_and_rport),
        cmocka_unit_test(test_edit_ruri_body_and_max_forwards_set),
        cmocka_unit_test(test_edit_refuses_overlaps_missing_headers_and_small_buffers),
        cmocka_unit_test(test_octet_classes_are_rfc3261_token_lws_and_ascii_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
