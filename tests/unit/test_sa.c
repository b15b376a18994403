/* test_sa.c - the SA tracker: handshake -> SA -> opaque binding -> lookup, versions, several
 * SAs, renegotiation, sequence bookkeeping, and hostile messages through the whole core.
 *
 * Regression list: (none yet)
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "keytab/keystore.h"
#include "verify/sa.h"
#include "verify/sa_seq.h"
#include "verify/sa_table.h"

#include <glib/gstdio.h>
#include <unistd.h>

typedef struct {
    keystore *ks;
    sa_tracker *t;
    uint32_t frame;
} fixture;

static int setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->ks = keystore_new();
    f->t = sa_tracker_new(f->ks);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sa_tracker_free(f->t);
    keystore_free(f->ks);
    g_free(f);
    return 0;
}

static const msg_result *feed(fixture *f, const char *msg, size_t len, const char *src, const char *dst)
{
    msg_meta meta = { ++f->frame, src, dst };
    return sa_tracker_process(f->t, msg, len, &meta);
}

static const msg_result *feed_vector(fixture *f, const char *rel, const char *src, const char *dst)
{
    size_t len;
    char *msg = tu_read_vector(rel, &len);
    const msg_result *r = feed(f, msg, len, src, dst);
    g_free(msg);
    return r;
}

static const auth_result *auth(const msg_result *r, guint i)
{
    assert_true(i < r->auths->len);
    return g_ptr_array_index(r->auths, i);
}

#define C "192.0.2.1:4849"
#define S "192.0.2.10:5061"

/* [MS-SIPAE] 4.2: the seed example. */
static void test_seed_flow(void **state)
{
    fixture *f = *state;
    const msg_result *r1 = feed_vector(f, "seed-kerberos-example/01-register.sip", C, S);
    assert_int_equal(r1->auths->len, 0);
    const msg_result *r2 = feed_vector(f, "seed-kerberos-example/02-401.sip", S, C);
    assert_int_equal(r2->auths->len, 2);
    assert_int_equal(auth(r2, 0)->status, SIG_NONE);
    assert_int_equal(auth(r2, 0)->sa_id, 0);
    const msg_result *r3 = feed_vector(f, "seed-kerberos-example/03-register-kerberos.sip", C, S);
    const auth_result *a3 = auth(r3, 0);
    assert_int_equal(a3->sa_id, 1);
    assert_int_equal(a3->sa_frame, 3);
    assert_int_equal(a3->status, SIG_NONE);
    assert_true(a3->has_gss);
    /* the placeholder AP-REQ gets a note, not a crash */
    assert_true(tu_has_note(a3->notes, NOTE_MALFORMED, NULL) ||
                tu_has_note(a3->notes, NOTE_TOKEN, NULL));
    const msg_result *r5 = feed_vector(f, "seed-kerberos-example/05-200-ok.sip", S, C);
    const auth_result *a5 = auth(r5, 0);
    assert_int_equal(a5->sa_id, 1);
    assert_int_equal(a5->status, SIG_MALFORMED);
    assert_int_equal(a5->version, 3);
    size_t bl;
    char *exp = tu_read_vector("seed-kerberos-example/05-200-ok.sigbuf", &bl);
    assert_int_equal(a5->sigbuf_len, bl);
    assert_memory_equal(a5->sigbuf, exp, bl);
    g_free(exp);
    assert_int_equal(sa_tracker_count(f->t), 1);
}

/* A signed message whose handshake is not in the capture: no SA. */
static void test_no_sa(void **state)
{
    fixture *f = *state;
    const msg_result *r = feed_vector(f, "sfb-real-headers/03-invite.sip", S, C);
    const auth_result *a = auth(r, 0);
    assert_int_equal(a->status, SIG_NO_SA);
    assert_int_equal(a->sa_id, 0);
    assert_non_null(a->why);
    assert_true(tu_has_note(a->notes, NOTE_NO_SA, NULL));
    size_t bl;
    char *exp = tu_read_vector("sfb-real-headers/03-invite.sigbuf", &bl);
    assert_int_equal(a->sigbuf_len, bl);
    assert_memory_equal(a->sigbuf, exp, bl);
    g_free(exp);
}

static char *ntlm_msg(const char *first_line, const char *callid, int cseq, const char *auth_hdr)
{
    return g_strdup_printf("%s\r\nFrom: <sip:alice@x>;tag=a1\r\nTo: <sip:alice@x>\r\n"
                           "Call-ID: %s\r\nCSeq: %d REGISTER\r\n%s\r\nContent-Length: 0\r\n\r\n",
                           first_line, callid, cseq, auth_hdr);
}

/* NTLM three-leg handshake for one client; returns the SA id of the signed request. */
static uint32_t ntlm_handshake(fixture *f, const char *client, const char *callid, const char *opaque,
                               unsigned version)
{
    char *chal = tu_read_vector("ntlm-oc2007r2-v4/challenge.b64", NULL);
    g_strstrip(chal);
    char *h, *m;
    const msg_result *r;
    h = g_strdup_printf("Authorization: NTLM qop=\"auth\", realm=\"SIP Communications Service\", "
                        "targetname=\"srv.x\", gssapi-data=\"\", version=%u", version);
    m = ntlm_msg("REGISTER sip:x SIP/2.0", callid, 1, h);
    r = feed(f, m, strlen(m), client, S);
    uint32_t sa = auth(r, 0)->sa_id;
    assert_true(sa > 0);
    g_free(h);
    g_free(m);
    h = g_strdup_printf("WWW-Authenticate: NTLM opaque=\"%s\", gssapi-data=\"%s\", "
                        "targetname=\"srv.x\", realm=\"SIP Communications Service\", version=%u",
                        opaque, chal, version);
    m = ntlm_msg("SIP/2.0 401 Unauthorized", callid, 1, h);
    r = feed(f, m, strlen(m), S, client);
    assert_int_equal(auth(r, 0)->sa_id, sa);
    g_free(h);
    g_free(m);
    g_free(chal);
    return sa;
}

static const auth_result *signed_register(fixture *f, const char *client, const char *callid,
                                          const char *opaque, int cnum)
{
    char *h = g_strdup_printf("Authorization: NTLM qop=\"auth\", realm=\"SIP Communications Service\", "
                              "targetname=\"srv.x\", opaque=\"%s\", crand=\"1234abcd\", cnum=\"%d\", "
                              "response=\"01000000000000000000000000000000\"", opaque, cnum);
    char *m = ntlm_msg("REGISTER sip:x SIP/2.0", callid, 10 + cnum, h);
    const msg_result *r = feed(f, m, strlen(m), client, S);
    g_free(h);
    g_free(m);
    return auth(r, 0);
}

/* Headers that name no SA (issue 10: their reason is kept from one to the next): each gets the
 * sentence for its own scheme and opaque (or none), also where one message has several, in both
 * directions, with the note saying the same; the expected texts are written out here. */
static void test_no_sa_reasons(void **state)
{
    fixture *f = *state;
    static const struct { const char *scheme, *name, *opaque; } h[] = {
        { "NTLM", "NTLM", "B0000001" }, { "NTLM", "NTLM", "B0000001" },
        { "NTLM", "NTLM", "B0000002" }, { "Kerberos", "Kerberos", "B0000002" },
        { "NTLM", "NTLM", NULL }, { "NTLM", "NTLM", NULL }, { "TLS-DSK", "TLS-DSK", NULL },
        { "TLS-DSK", "TLS-DSK", "B0000001" }, { "NTLM", "NTLM", "B0000001" },
        { "NTLM", "NTLM", "B000000" }, { "NTLM", "NTLM", "B00000011" },
    };
    /* messages of 1, 2 or 3 headers, alternately requests and responses */
    size_t i = 0;
    for (int msg = 0; i < G_N_ELEMENTS(h); msg++) {
        int req = msg % 2 == 0;
        size_t n = MIN((size_t)(msg % 3 + 1), G_N_ELEMENTS(h) - i);
        GString *m = g_string_new(req ? "MESSAGE sip:x SIP/2.0\r\n" : "SIP/2.0 200 OK\r\n");
        g_string_append_printf(m, "From: <sip:a@x>;tag=a\r\nTo: <sip:b@x>;tag=b\r\n"
                                  "Call-ID: nosa-%d\r\nCSeq: %d MESSAGE\r\n", msg, msg + 1);
        for (size_t k = 0; k < n; k++) {
            const char *hn = req ? (k % 2 ? "Proxy-Authorization" : "Authorization")
                                 : (k % 2 ? "Proxy-Authentication-Info" : "Authentication-Info");
            g_string_append_printf(m, "%s: %s qop=\"auth\", realm=\"R\", targetname=\"t%zu\", ", hn,
                                   h[i + k].scheme, k);
            if (h[i + k].opaque)
                g_string_append_printf(m, "opaque=\"%s\", ", h[i + k].opaque);
            g_string_append_printf(m, "%s=\"1\", %s=\"%d\", %s=\"0100000000000000000000006400000"
                                      "%zu\"\r\n", req ? "crand" : "srand", req ? "cnum" : "snum",
                                   msg + 1, req ? "response" : "rspauth", k);
        }
        g_string_append(m, "Content-Length: 0\r\n\r\n");
        const msg_result *r = feed(f, m->str, m->len, req ? C : S, req ? S : C);
        assert_int_equal(r->auths->len, n);
        for (size_t k = 0; k < n; k++, i++) {
            const auth_result *a = auth(r, (guint)k);
            char *want = h[i].opaque
                ? g_strdup_printf("no %s security association with opaque %s in this capture "
                                  "(handshake not captured, and no key-log entry for it)",
                                  h[i].name, h[i].opaque)
                : g_strdup_printf("no %s security association: the header has no opaque",
                                  h[i].name);
            assert_int_equal(a->status, SIG_NO_SA);
            assert_int_equal(a->sa_id, 0);
            assert_string_equal(a->why, want);
            assert_true(tu_has_note(a->notes, NOTE_NO_SA, want));
            g_free(want);
        }
        g_string_free(m, TRUE);
    }
}

/* Several clients, renegotiation, version from the challenge, cnum bookkeeping. */
static void test_several_sas(void **state)
{
    fixture *f = *state;
    uint32_t sa1 = ntlm_handshake(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 4);
    uint32_t sa2 = ntlm_handshake(f, "10.0.0.2:2000", "cid-2", "AAAA0002", 3);
    assert_int_equal(sa1, 1);
    assert_int_equal(sa2, 2);
    const auth_result *a = signed_register(f, "10.0.0.1:1000", "cid-1", "aaaa0001", 1);
    assert_int_equal(a->sa_id, 1);
    assert_int_equal(a->sa_frame, 1);
    assert_int_equal(a->version, 4);
    assert_int_equal(a->status, SIG_NO_KEY); /* no key given */
    a = signed_register(f, "10.0.0.2:2000", "cid-2", "AAAA0002", 1);
    assert_int_equal(a->sa_id, 2);
    assert_int_equal(a->version, 3);
    /* the v3 buffer has 16 items: To URI present */
    assert_non_null(strstr(a->sigbuf, "<a1><sip:alice@x><>"));
    /* duplicate cnum: a note, not a failure */
    a = signed_register(f, "10.0.0.2:2000", "cid-2", "AAAA0002", 1);
    assert_true(tu_has_note(a->notes, NOTE_SEQ, NULL));
    assert_int_equal(a->status, SIG_NO_KEY);
    /* jump */
    a = signed_register(f, "10.0.0.2:2000", "cid-2", "AAAA0002", 5);
    assert_true(tu_has_note(a->notes, NOTE_SEQ, NULL));
    /* renegotiation on a new connection: new SA with a new opaque, old one still found */
    uint32_t sa3 = ntlm_handshake(f, "10.0.0.1:1001", "cid-1", "BBBB0003", 4);
    assert_int_equal(sa3, 3);
    a = signed_register(f, "10.0.0.1:1001", "cid-1", "BBBB0003", 2);
    assert_int_equal(a->sa_id, 3);
    a = signed_register(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 3);
    assert_int_equal(a->sa_id, 1);
    /* an SA outlives its TCP connection: new source port, same opaque */
    a = signed_register(f, "10.0.0.1:1002", "cid-1", "BBBB0003", 3);
    assert_int_equal(a->sa_id, 3);
    assert_int_equal(sa_tracker_count(f->t), 3);
}

/* A message with a proxy and a registrar signature: one status per signed header. */
static void test_two_signed_headers(void **state)
{
    fixture *f = *state;
    ntlm_handshake(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 4);
    const char *m =
        "SIP/2.0 200 OK\r\nFrom: <sip:alice@x>;tag=a1\r\nTo: <sip:alice@x>;tag=b\r\n"
        "Call-ID: cid-1\r\nCSeq: 3 REGISTER\r\n"
        "Proxy-Authentication-Info: NTLM rspauth=\"01000000000000000000000064000000\", srand=\"1\", snum=\"1\", opaque=\"AAAA0001\", qop=\"auth\", targetname=\"srv.x\", realm=\"SIP Communications Service\"\r\n"
        "Authentication-Info: NTLM rspauth=\"01000000000000000000000064000000\", srand=\"2\", snum=\"1\", opaque=\"CCCC0009\", qop=\"auth\", targetname=\"reg.x\", realm=\"SIP Communications Service\"\r\n"
        "Content-Length: 0\r\n\r\n";
    const msg_result *r = feed(f, m, strlen(m), S, "10.0.0.1:1000");
    assert_int_equal(r->auths->len, 2);
    assert_int_equal(auth(r, 0)->sa_id, 1);
    assert_int_equal(auth(r, 0)->status, SIG_NO_KEY);
    assert_int_equal(auth(r, 1)->status, SIG_NO_SA);
    assert_non_null(strstr(auth(r, 0)->sigbuf, "<NTLM><1><1><SIP Communications Service><srv.x>"));
    assert_non_null(strstr(auth(r, 1)->sigbuf, "<NTLM><2><1><SIP Communications Service><reg.x>"));
}

/* A Kerberos-style message: Via branch, From tag, Call-ID, CSeq as given, one auth header. */
static char *krb_msg(const char *first_line, const char *branch, const char *callid, int cseq,
                     const char *method, const char *auth_hdr)
{
    return g_strdup_printf("%s\r\nVia: SIP/2.0/TCP 10.0.0.1:1000;branch=%s\r\n"
                           "From: <sip:alice@x>;tag=a1\r\nTo: <sip:alice@x>\r\n"
                           "Call-ID: %s\r\nCSeq: %d %s\r\n%s\r\nContent-Length: 0\r\n\r\n",
                           first_line, branch, callid, cseq, method, auth_hdr);
}

#define KRB_INFO(opaque) \
    "Authentication-Info: Kerberos rspauth=\"0404050000000000\", srand=\"1\", snum=\"1\", " \
    "opaque=\"" opaque "\", qop=\"auth\", targetname=\"sip/srv.x\", realm=\"R\""

/* Only a response travelling server -> client on the SA's endpoints names a pending SA's
 * opaque: a forged response from another host, a response travelling client -> server and a
 * request carrying Authentication-Info bind nothing, and the real answer still binds. */
static void test_binding_routing(void **state)
{
    fixture *f = *state;
    const char *cl = "10.0.0.1:1000";
    char *m = krb_msg("REGISTER sip:x SIP/2.0", "z9hG4bKreg1", "cid-k", 2, "REGISTER",
                      "Authorization: Kerberos qop=\"auth\", realm=\"R\", targetname=\"sip/srv.x\", "
                      "gssapi-data=\"YWJj\", version=4");
    const msg_result *r = feed(f, m, strlen(m), cl, S);
    uint32_t sa = auth(r, 0)->sa_id;
    assert_int_equal(sa, 1);
    g_free(m);
    /* the same transaction, answered from another host */
    m = krb_msg("SIP/2.0 200 OK", "z9hG4bKreg1", "cid-k", 2, "REGISTER", KRB_INFO("F0F0F0F0"));
    r = feed(f, m, strlen(m), "192.0.2.66:5061", cl);
    assert_int_equal(auth(r, 0)->sa_id, 0);
    assert_int_equal(auth(r, 0)->status, SIG_NO_SA);
    g_free(m);
    /* a response travelling client -> server */
    m = krb_msg("SIP/2.0 200 OK", "z9hG4bKreg1", "cid-k", 2, "REGISTER", KRB_INFO("F1F1F1F1"));
    r = feed(f, m, strlen(m), cl, S);
    assert_int_equal(auth(r, 0)->sa_id, 0);
    g_free(m);
    /* a request from the server carrying Authentication-Info */
    m = krb_msg("MESSAGE sip:alice@x SIP/2.0", "z9hG4bKreg1", "cid-k", 2, "REGISTER",
                KRB_INFO("F2F2F2F2"));
    r = feed(f, m, strlen(m), S, cl);
    assert_int_equal(auth(r, 0)->sa_id, 0);
    g_free(m);
    /* the real answer binds the pending SA */
    m = krb_msg("SIP/2.0 200 OK", "z9hG4bKreg1", "cid-k", 2, "REGISTER", KRB_INFO("AAAA0001"));
    r = feed(f, m, strlen(m), S, cl);
    assert_int_equal(auth(r, 0)->sa_id, sa);
    assert_false(tu_has_note(auth(r, 0)->notes, NOTE_BIND, NULL)); /* bound the plain way */
    g_free(m);
    /* the client uses the real opaque (the SA is confirmed); none of the forged opaques names
     * the SA afterwards */
    m = krb_msg("SUBSCRIBE sip:alice@x SIP/2.0", "z9hG4bKsub1", "cid-s", 1, "SUBSCRIBE",
                "Authorization: Kerberos qop=\"auth\", realm=\"R\", targetname=\"sip/srv.x\", "
                "opaque=\"AAAA0001\", crand=\"1\", cnum=\"2\", response=\"0404040000000000\"");
    r = feed(f, m, strlen(m), cl, S);
    assert_int_equal(auth(r, 0)->sa_id, sa);
    g_free(m);
    m = krb_msg("SUBSCRIBE sip:alice@x SIP/2.0", "z9hG4bKsub2", "cid-s", 2, "SUBSCRIBE",
                "Authorization: Kerberos qop=\"auth\", realm=\"R\", targetname=\"sip/srv.x\", "
                "opaque=\"F0F0F0F0\", crand=\"1\", cnum=\"3\", response=\"0404040000000000\"");
    r = feed(f, m, strlen(m), cl, S);
    assert_int_equal(auth(r, 0)->sa_id, 0);
    assert_int_equal(auth(r, 0)->status, SIG_NO_SA);
    g_free(m);
    assert_int_equal(sa_tracker_count(f->t), 1);
}

/* A damaged binding response still binds by its transaction (Via branch + CSeq), or as the only
 * pending handshake; a damaged opaque is repaired by the client's echo. */
static void test_binding_damaged(void **state)
{
    fixture *f = *state;
    struct { const char *branch; const char *callid; int cseq; const char *opaque;
             const char *echo; const char *note; } cases[] = {
        { "z9hG4bKb1", "cid-X", 2, "AAAA0001", "AAAA0001", "Call-ID" },      /* Call-ID changed */
        { "z9hG4bKzz", "cid-k", 2, "AAAA0002", "AAAA0002", "only pending" }, /* branch changed */
        { "z9hG4bKb1", "cid-k", 3, "AAAA0003", "AAAA0003", "only pending" }, /* CSeq changed */
        { "z9hG4bKb1", "cid-k", 2, "BAAA0004", "AAAA0004", "no server response named" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char cl[32];
        g_snprintf(cl, sizeof cl, "10.0.1.%zu:1000", i + 1);
        char *m = krb_msg("REGISTER sip:x SIP/2.0", "z9hG4bKb1", "cid-k", 2, "REGISTER",
                          "Authorization: Kerberos qop=\"auth\", realm=\"R\", "
                          "targetname=\"sip/srv.x\", gssapi-data=\"YWJj\", version=4");
        uint32_t sa = auth(feed(f, m, strlen(m), cl, S), 0)->sa_id;
        g_free(m);
        char *info = g_strdup_printf("Authentication-Info: Kerberos rspauth=\"0404050000000000\", "
                                     "srand=\"1\", snum=\"1\", opaque=\"%s\", qop=\"auth\", "
                                     "targetname=\"sip/srv.x\", realm=\"R\"", cases[i].opaque);
        m = krb_msg("SIP/2.0 200 OK", cases[i].branch, cases[i].callid, cases[i].cseq,
                    "REGISTER", info);
        const msg_result *r = feed(f, m, strlen(m), S, cl);
        assert_int_equal(auth(r, 0)->sa_id, sa);
        assert_int_equal(auth(r, 0)->version, 4); /* the SA's version, never the v2 fallback */
        const auth_result *a = auth(r, 0);
        if (strcmp(cases[i].note, "no server response named") != 0 &&
            !tu_has_note(a->notes, NOTE_BIND, cases[i].note)) {
            tu_dump_notes(a->notes);
            fail_msg("case %zu: no bind note naming %s", i, cases[i].note);
        }
        g_free(m);
        g_free(info);
        char *h = g_strdup_printf("Authorization: Kerberos qop=\"auth\", realm=\"R\", "
                                  "targetname=\"sip/srv.x\", opaque=\"%s\", crand=\"1\", "
                                  "cnum=\"2\", response=\"0404040000000000\"", cases[i].echo);
        m = krb_msg("SUBSCRIBE sip:alice@x SIP/2.0", "z9hG4bKs", "cid-s", 1, "SUBSCRIBE", h);
        r = feed(f, m, strlen(m), cl, S);
        assert_int_equal(auth(r, 0)->sa_id, sa);
        if (strcmp(cases[i].note, "no server response named") == 0)
            assert_true(tu_has_note(auth(r, 0)->notes, NOTE_BIND, "no server response named"));
        g_free(m);
        g_free(h);
    }
    assert_int_equal(sa_tracker_count(f->t), G_N_ELEMENTS(cases));
}

/* Without keys nothing can tell a forged message from a genuine one: cnum bookkeeping follows
 * the protocol flow (with keys, only verified messages count: test_sa_robustness.py). */
static void test_seq_without_keys_follows_flow(void **state)
{
    fixture *f = *state;
    ntlm_handshake(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 4);
    const auth_result *a = signed_register(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 1);
    assert_int_equal(a->status, SIG_NO_KEY);
    /* without keys the flow alone counts: cnum 9 is recorded, 2 then "goes back" */
    a = signed_register(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 9);
    assert_true(tu_has_note(a->notes, NOTE_SEQ, "jumps from 1 to 9"));
    a = signed_register(f, "10.0.0.1:1000", "cid-1", "AAAA0001", 2);
    assert_true(tu_has_note(a->notes, NOTE_SEQ, "goes back"));
}

/* At most SA_OPEN_MAX handshakes wait on one endpoint pair: the oldest is let go with a note,
 * and the newest still binds. */
static void test_open_sas_bounded(void **state)
{
    fixture *f = *state;
    const char *cl = "10.0.9.1:1000";
    const msg_result *r = NULL;
    for (int i = 1; i <= SA_OPEN_MAX + 6; i++) {
        char branch[32];
        g_snprintf(branch, sizeof branch, "z9hG4bKflood%d", i);
        char *m = krb_msg("REGISTER sip:x SIP/2.0", branch, "cid-flood", i, "REGISTER",
                          "Authorization: Kerberos qop=\"auth\", realm=\"R\", "
                          "targetname=\"sip/srv.x\", gssapi-data=\"YWJj\", version=4");
        r = feed(f, m, strlen(m), cl, S);
        assert_int_equal(auth(r, 0)->sa_id, (uint32_t)i);
        assert_int_equal(tu_has_note(auth(r, 0)->notes, NOTE_BIND, "no longer waits"),
                         i > SA_OPEN_MAX);
        g_free(m);
    }
    char branch[32];
    g_snprintf(branch, sizeof branch, "z9hG4bKflood%d", SA_OPEN_MAX + 6);
    char *m = krb_msg("SIP/2.0 200 OK", branch, "cid-flood", SA_OPEN_MAX + 6, "REGISTER",
                      KRB_INFO("ABAB0001"));
    r = feed(f, m, strlen(m), S, cl);
    assert_int_equal(auth(r, 0)->sa_id, SA_OPEN_MAX + 6);
    g_free(m);
}

/* A signature made before its opaque was named is tried against at most KEYLOG_TRIAL_MAX
 * key-log entries; the reason says how many were left out. */
static void test_keylog_trial_bounded(void **state)
{
    fixture *f = *state;
    GString *kl = g_string_new(NULL);
    for (int i = 0; i < 100; i++)
        g_string_append_printf(kl, "KERBEROS %08X 18 %064d\n", 0x10000 + i, 0);
    char *path = NULL;
    int fd = g_file_open_tmp("mssipae-trial-XXXXXX", &path, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(g_file_set_contents(path, kl->str, (gssize)kl->len, NULL));
    assert_int_equal(keystore_set_keylog(f->ks, path), 0);
    char *m = krb_msg("REGISTER sip:x SIP/2.0", "z9hG4bKt1", "cid-t", 1, "REGISTER",
                      "Authorization: Kerberos qop=\"auth\", realm=\"R\", targetname=\"sip/srv.x\", "
                      "gssapi-data=\"YWJj\", version=4, crand=\"1\", cnum=\"1\", response=\""
                      "040400ffffffffff0000000000000000000000000000000000000000\"");
    const msg_result *r = feed(f, m, strlen(m), "10.0.9.2:1000", S);
    const auth_result *a = auth(r, 0);
    assert_int_equal(a->status, SIG_NO_KEY);
    assert_non_null(strstr(a->why, "36 more entries not tried"));
    g_free(m);
    g_unlink(path);
    g_free(path);
    g_string_free(kl, TRUE);
}

/* Every auth result has a status in range, a reason unless valid or unsigned, and a buffer when
 * a signature was checked (the invariants of tests/fuzz/fuzz_entry.h). */
static void assert_well_formed(const msg_result *r)
{
    assert_non_null(r);
    assert_non_null(r->auths);
    for (guint i = 0; i < r->auths->len; i++) {
        const auth_result *a = g_ptr_array_index(r->auths, i);
        assert_non_null(a->name);
        assert_true(a->status <= SIG_MALFORMED);
        if (a->status != SIG_NONE && a->status != SIG_VALID)
            assert_non_null(a->why);
        if (a->status != SIG_NONE && a->status != SIG_UNSUPPORTED)
            assert_non_null(a->sigbuf);
    }
}

/* One opaque names at most SA_NAME_MAX SAs (each renegotiation may keep it): the oldest is let
 * go with a note, the newest is found. */
static void test_name_index_bounded(void **state)
{
    fixture *f = *state;
    const char *cl = "10.0.9.3:1000";
    uint32_t last = 0;
    for (int i = 1; i <= SA_NAME_MAX + 2; i++) {
        last = ntlm_handshake(f, cl, "cid-reneg", "RE000001", 4);
        assert_int_equal(last, (uint32_t)i);
        const auth_result *a = signed_register(f, cl, "cid-reneg", "RE000001", i);
        assert_int_equal(a->sa_id, last);
    }
    /* the note was on the challenge that named the (SA_NAME_MAX + 1)-th SA: check through a
     * fresh handshake's challenge, which pushes out one more */
    char *chal = tu_read_vector("ntlm-oc2007r2-v4/challenge.b64", NULL);
    g_strstrip(chal);
    char *h = g_strdup_printf("WWW-Authenticate: NTLM opaque=\"RE000001\", gssapi-data=\"%s\", "
                              "targetname=\"srv.x\", realm=\"SIP Communications Service\", "
                              "version=4", chal);
    char *m = ntlm_msg("SIP/2.0 401 Unauthorized", "cid-reneg", 1, h);
    const msg_result *r = feed(f, m, strlen(m), S, cl);
    assert_true(tu_has_note(auth(r, 0)->notes, NOTE_BIND, "is no longer found by it"));
    assert_int_equal(auth(r, 0)->sa_id, last + 1);
    g_free(m);
    g_free(h);
    g_free(chal);
}

/* Hostile input through the whole core: a clear status, never a crash. */
static void test_hostile(void **state)
{
    fixture *f = *state;
    struct { const char *hdr; sig_status want; } cases[] = {
        { "Authorization: NTLM response=\"zz\", opaque=\"1\"", SIG_MALFORMED },
        { "Authorization: NTLM response=\"123\", opaque=\"1\"", SIG_MALFORMED },
        { "Authorization: NTLM response=\"\", opaque=\"1\"", SIG_MALFORMED },
        { "Authorization: NTLM response=\"0011\", opaque=\"1", SIG_MALFORMED },
        { "Authorization: Foo response=\"0011\"", SIG_UNSUPPORTED },
        { "Authorization: Digest username=\"a\", response=\"0011\"", SIG_NONE },
        { "Authorization: NTLM gssapi-data=\"!!!notbase64\", opaque=\"1\"", SIG_NONE },
        { "Authorization: Kerberos gssapi-data=\"YWJj\", version=4", SIG_NONE },
        { "Authentication-Info: TLS-DSK rspauth=\"00\", opaque=\"X\", srand=\"1\", snum=\"1\"", SIG_NO_SA },
        { "Proxy-Authentication-Info: Kerberos rspauth=\"00\", realm=\"elsewhere\"", SIG_NO_SA },
        { "WWW-Authenticate: NTLM rspauth=\"00\"", SIG_NONE },
        { "authorization: ntlm opaque=\"1\", Response=\"0011\"", SIG_MALFORMED }, /* SA of case 6, 2-byte MAC */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *m = ntlm_msg("REGISTER sip:x SIP/2.0", "h", 1, cases[i].hdr);
        const msg_result *r = feed(f, m, strlen(m), C, S);
        assert_int_equal(r->auths->len, 1);
        const auth_result *a = auth(r, 0);
        if (a->status != cases[i].want) {
            print_error("case %zu (%s): status %d, want %d (%s)\n", i, cases[i].hdr, a->status,
                        cases[i].want, a->why ? a->why : "");
            fail();
        }
        if (a->status != SIG_NONE)
            assert_non_null(a->why);
        g_free(m);
    }
    /* parameters MS-SIPAE does not define are kept, in order, unquoted */
    {
        char *m = ntlm_msg("REGISTER sip:x SIP/2.0", "h", 1,
            "Authorization: NTLM x-first=\"a b\", opaque=\"1\", X-Second=2, response=\"0011\"");
        const msg_result *r0 = feed(f, m, strlen(m), C, S);
        const auth_result *a0 = auth(r0, 0);
        assert_non_null(a0->other_params);
        assert_int_equal(a0->other_params->len, 2);
        assert_string_equal(g_ptr_array_index(a0->other_params, 0), "x-first=a b");
        assert_string_equal(g_ptr_array_index(a0->other_params, 1), "X-Second=2");
        g_free(m);
    }
    /* an unparseable cnum is reported; the buffer still uses it as sent */
    {
        char *m = ntlm_msg("REGISTER sip:x SIP/2.0", "h", 1,
            "Authorization: NTLM opaque=\"1\", crand=\"1\", cnum=\"99999999999999\", response=\"0011\"");
        const msg_result *r0 = feed(f, m, strlen(m), C, S);
        assert_true(tu_has_note(auth(r0, 0)->notes, NOTE_MALFORMED, NULL));
        assert_non_null(strstr(auth(r0, 0)->sigbuf, "<99999999999999>"));
        g_free(m);
    }
    /* not SIP, truncated, NUL bytes, a 1 MB header */
    const msg_result *r = feed(f, "garbage", 7, C, S);
    assert_false(r->parsed);
    assert_true(tu_has_note(r->notes, NOTE_MALFORMED, NULL));
    const char nul[] = "REGISTER sip:x SIP/2.0\r\nAuthorization: NTLM opaque=\"1\0\", response=\"00\"\r\n";
    r = feed(f, nul, sizeof nul - 1, C, S);
    assert_int_equal(r->auths->len, 1);
    assert_well_formed(r);
    assert_int_equal(auth(r, 0)->status, SIG_MALFORMED); /* the NUL ends the value: 1-byte MAC */
    size_t big = 1 << 20;
    GString *g = g_string_new("REGISTER sip:x SIP/2.0\r\nAuthorization: NTLM gssapi-data=\"");
    for (size_t i = 0; i < big; i++)
        g_string_append_c(g, 'A');
    g_string_append(g, "\", response=\"0011\", opaque=\"Z\"\r\n\r\n");
    r = feed(f, g->str, g->len, C, S);
    assert_int_equal(r->auths->len, 1);
    assert_well_formed(r);
    assert_int_equal(auth(r, 0)->status, SIG_MALFORMED);
    assert_non_null(strstr(auth(r, 0)->why, "2 bytes, 16 expected"));
    g_string_free(g, TRUE);
    /* truncated at every length of a real signed message */
    size_t len;
    char *msg = tu_read_vector("ntlm-oc2007r2-v4/register.sip", &len);
    unsigned parsed = 0, signed_seen = 0, valid = 0;
    for (size_t n = 0; n <= len; n += 7) {
        char *copy = g_memdup2(msg, n);
        r = feed(f, copy, n, C, S);
        assert_well_formed(r);
        parsed += r->parsed;
        for (guint i = 0; i < r->auths->len; i++)
            signed_seen += auth(r, i)->status != SIG_NONE,
            valid += auth(r, i)->status == SIG_VALID;
        g_free(copy);
    }
    /* most prefixes still parse, about half carry the whole signing header; without keys none
     * can be valid */
    assert_true(parsed > len / 7 / 2);
    assert_true(signed_seen > 0);
    assert_int_equal(valid, 0);
    g_free(msg);
}

/* The kept record (results.h): 8 bytes plus 16 per auth header; a status code or a number of
 * auth headers that does not fit its bits is kept whole before the record (escape), and
 * everything reads back as it was (status codes clamped to int16, as always). */
static void test_record_layout(void **state)
{
    (void)state;
    result_store *rs = result_store_new();
    static const int codes[] = { 0, 100, 200, 401, 699, 999, 1021, 1022, 1023, 1024, 5000,
                                 32767, 70000, -1, -32768, -70000 };
    const msg_rec *recs[G_N_ELEMENTS(codes)];
    for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) {
        msg_result *r = result_new();
        r->parsed = 1;
        r->is_request = (int)(i & 1);
        r->status_code = codes[i];
        note_add(r->notes, NOTE_MALFORMED, NOTE_SEV_NOTE, "note %zu", i);
        recs[i] = result_keep(rs, r);
        msg_result_free(r);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) { /* read back after the others were kept */
        const msg_rec *k = recs[i];
        assert_int_equal((uintptr_t)k % 8, 0);
        assert_int_equal(msg_rec_status_code(k), CLAMP(codes[i], G_MININT16, G_MAXINT16));
        assert_int_equal(msg_rec_n_auths(k), 0);
        assert_int_equal(msg_rec_flags(k), MR_PARSED | ((i & 1) ? MR_REQUEST : 0));
        char *want = g_strdup_printf("note %zu", i);
        assert_true(tu_has_note(msg_rec_notes(rs, k), NOTE_MALFORMED, want));
        g_free(want);
        msg_result *x = result_expand(rs, k, NULL, 0);
        assert_non_null(x);
        assert_int_equal(x->status_code, CLAMP(codes[i], G_MININT16, G_MAXINT16));
        assert_int_equal(x->is_request, (int)(i & 1));
        msg_result_free(x);
    }
    /* hostile input: more auth headers than the record's 20 bits count (one auth_result
     * repeated: only its outcome is read), one of them with a note */
    for (guint n = MR_N_ESC - 1; n <= MR_N_ESC + 1; n++) {
        msg_result *r = result_new();
        g_ptr_array_set_free_func(r->auths, NULL);
        auth_result *a = g_new0(auth_result, 1);
        auth_result *b = g_new0(auth_result, 1);
        a->status = SIG_INVALID;
        a->sa_id = 7;
        a->dir = DIR_S2C;
        b->status = SIG_VALID;
        b->sa_id = 9;
        b->notes = note_list_new();
        note_add(b->notes, NOTE_SEQ, NOTE_SEV_NOTE, "last one");
        r->parsed = 1;
        r->status_code = 200;
        for (guint i = 0; i + 1 < n; i++)
            g_ptr_array_add(r->auths, a);
        g_ptr_array_add(r->auths, b);
        const msg_rec *k = result_keep(rs, r);
        assert_int_equal(msg_rec_n_auths(k), n);
        assert_int_equal(msg_rec_status_code(k), 200);
        assert_int_equal(msg_rec_flags(k), MR_PARSED);
        assert_int_equal(k->auths[0].status, SIG_INVALID);
        assert_int_equal(k->auths[n - 2].sa_id, 7);
        assert_int_equal(k->auths[n - 2].dir, DIR_S2C);
        assert_int_equal(k->auths[n - 1].status, SIG_VALID);
        assert_int_equal(k->auths[n - 1].sa_id, 9);
        assert_null(msg_rec_auth_notes(rs, k, 0));
        assert_true(tu_has_note(msg_rec_auth_notes(rs, k, n - 1), NOTE_SEQ, "last one"));
        assert_null(msg_rec_auth_notes(rs, k, n));
        msg_result_free(r);
        auth_result_free(a);
        auth_result_free(b);
    }
    result_store_free(rs);
}

/* Reasons kept by result_keep read back exactly (auth_rec_why_dup) however they are shared:
 * the same text as the SA's earlier one (the tracker's hint, interned or a why_split), a short
 * new end (in the record, over either), a longer new end, the same sentence as another SA's
 * with other numbers in its middle (a why_split of a recent reason), and texts sharing nothing. */
static void test_why_sharing(void **state)
{
    (void)state;
    result_store *rs = result_store_new();
    enum { N_SA = 6, PER_SA = 12 };
    GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *recs = g_ptr_array_new();
    int splits = 0;
    for (int sa = 0; sa < N_SA; sa++) {
        why_ref hint[2] = { 0, 0 };
        int hint_split[2] = { 0, 0 };
        for (int m = 0; m < PER_SA; m++) {
            int dir = m & 1;
            char *why;
            if (sa == 5)      /* nothing in common with the others */
                why = g_strdup_printf("%c", 'a' + m % 3);
            else if (m < 4)   /* the SA's usual reason, per direction */
                why = g_strdup_printf("MIC verified with the subkey, key usage %d, SND_SEQ 0x%08x "
                                      "(sent by the %s)", dir ? 23 : 25, 0x1000u * (unsigned)sa + 7u,
                                      dir ? "server" : "client");
            else if (m < 8)   /* a short new end */
                why = g_strdup_printf("MIC verified with the subkey, key usage %d, SND_SEQ 0x%08x "
                                      "(sent by the %s) #%d", dir ? 23 : 25,
                                      0x1000u * (unsigned)sa + 7u, dir ? "server" : "client", m);
            else if (m < 10)  /* a longer one */
                why = g_strdup_printf("MIC verified with the subkey, key usage %d, SND_SEQ 0x%08x "
                                      "(sent by the %s), then something else entirely %d",
                                      dir ? 23 : 25, 0x1000u * (unsigned)sa + 7u,
                                      dir ? "server" : "client", m);
            else              /* none, then an empty one */
                why = m == 10 ? NULL : g_strdup("");
            msg_result *r = result_new();
            r->parsed = 1;
            r->status_code = 200;
            auth_result *a = g_new0(auth_result, 1);
            a->status = SIG_VALID;
            a->sa_id = (uint32_t)sa + 1;
            a->dir = dir ? DIR_S2C : DIR_C2S;
            a->why = why ? g_strdup(why) : NULL;
            a->why_hint = hint[dir];
            a->why_hint_split = hint_split[dir];
            g_ptr_array_add(r->auths, a);
            const msg_rec *k = result_keep(rs, r);
            int split;
            why_ref ref = auth_rec_why_hint(&k->auths[0], &split);
            if (ref) {
                hint[dir] = ref;
                hint_split[dir] = split;
            }
            if (k->auths[0].flags & AR_WHY_SPLIT)
                splits++;
            g_ptr_array_add(texts, why);
            g_ptr_array_add(recs, (gpointer)k);
            msg_result_free(r);
        }
    }
    assert_true(splits > 0); /* the SAs after the first share their reasons' text */
    for (guint i = 0; i < recs->len; i++) { /* read back after all were kept */
        const msg_rec *k = g_ptr_array_index(recs, i);
        const char *want = g_ptr_array_index(texts, i);
        char *got = auth_rec_why_dup(rs, &k->auths[0]);
        if (want)
            assert_string_equal(got, want);
        else
            assert_null(got);
        g_free(got);
    }
    g_ptr_array_free(recs, TRUE);
    g_ptr_array_free(texts, TRUE);
    result_store_free(rs);
}

/* Reasons lent with a number apart (verdict_seq: a Kerberos SND_SEQ) read back as the text
 * printf makes of them, whether the record keeps the number (AR_WHY_SEQ) or the text (a number
 * over 32 bits, a version over 255); the SA's text is interned once. A lent reason made the
 * header's own (auth_result_own_why) no longer reads the lender's buffer. */
static void test_why_seq(void **state)
{
    (void)state;
    result_store *rs = result_store_new();
    char prefix[2][96];
    GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *recs = g_ptr_array_new();
    why_ref hint[2] = { 0, 0 }, first[2] = { 0, 0 };
    int hint_split[2] = { 0, 0 }, in_record = 0;
    for (int m = 0; m < 40; m++) {
        int dir = m & 1;
        /* the texts a mechanism lends: the same per direction, changed once half-way */
        g_snprintf(prefix[dir], sizeof prefix[dir], "RFC 4121 MIC verified with key %d (%s), "
                   "SND_SEQ ", m < 20 ? 1 : 2, dir ? "acceptor" : "initiator");
        uint64_t seq = m == 9 ? G_GUINT64_CONSTANT(0x100000002) : (uint64_t)m * 0x01010101u;
        verdict_borrow_begin();
        sig_verdict v = verdict_seq(SIG_VALID, prefix[dir], seq);
        verdict_borrow_end();
        assert_true(v.why_borrowed && v.why_has_seq && v.why == prefix[dir]);
        msg_result *r = result_new();
        r->parsed = 1;
        r->status_code = 200;
        auth_result *a = g_new0(auth_result, 1);
        a->status = SIG_VALID;
        a->sa_id = 1;
        a->dir = dir ? DIR_S2C : DIR_C2S;
        a->has_version = 1;
        a->version = m == 13 ? 300 : 3;
        auth_result_take_why(a, &v);
        a->why_hint = hint[dir];
        a->why_hint_split = hint_split[dir];
        g_ptr_array_add(r->auths, a);
        const msg_rec *k = result_keep(rs, r);
        g_ptr_array_add(texts, seq > G_MAXUINT32
                                   ? g_strdup_printf("%s0x%016" G_GINT64_MODIFIER "x",
                                                     prefix[dir], (guint64)seq)
                                   : g_strdup_printf("%s0x%08x", prefix[dir], (unsigned)seq));
        g_ptr_array_add(recs, (gpointer)k);
        int split;
        why_ref ref = auth_rec_why_hint(&k->auths[0], &split);
        if (k->auths[0].flags & AR_WHY_SEQ) {
            in_record++;
            if (m < 20 && !first[dir])
                first[dir] = ref;
            else if (m < 20) /* the SA's text, interned once */
                assert_int_equal(ref, first[dir]);
        } else {
            assert_true(m == 9 || m == 13); /* no room for the number */
        }
        if (ref) {
            hint[dir] = ref;
            hint_split[dir] = split;
        }
        memset(prefix[dir], 'x', 20); /* the lender's buffer changes after the header */
        msg_result_free(r);
    }
    assert_int_equal(in_record, 38);
    for (guint i = 0; i < recs->len; i++) {
        char *got = auth_rec_why_dup(rs, &((const msg_rec *)g_ptr_array_index(recs, i))->auths[0]);
        assert_string_equal(got, g_ptr_array_index(texts, i));
        g_free(got);
    }
    /* made its own: a copy, with the number formatted */
    char lent[] = "lent text, SND_SEQ ";
    verdict_borrow_begin();
    sig_verdict v = verdict_seq(SIG_VALID, lent, 0xabc);
    verdict_borrow_end();
    auth_result *a = g_new0(auth_result, 1);
    auth_result_take_why(a, &v);
    assert_ptr_equal(a->why, lent);
    auth_result_own_why(a);
    lent[0] = 'X';
    assert_string_equal(a->why, "lent text, SND_SEQ 0x00000abc");
    assert_false(a->why_borrowed);
    auth_result_free(a);
    /* outside a bracket a mechanism's verdict_seq is formatted text */
    v = verdict_seq(SIG_VALID, "t ", G_GUINT64_CONSTANT(0x1234567800000001));
    assert_false(v.why_borrowed || v.why_has_seq);
    assert_string_equal(v.why, "t 0x1234567800000001");
    verdict_clear(&v);
    g_ptr_array_free(recs, TRUE);
    g_ptr_array_free(texts, TRUE);
    result_store_free(rs);
}

/* mech_find matches each mechanism's own scheme (read from mech_schemes, whose rows must be in
 * the table's order), in any case, and nothing else. */
static void test_mech_find(void **state)
{
    (void)state;
    for (size_t i = 0; mech_at(i); i++) {
        const mech_ops *m = mech_at(i);
        assert_ptr_equal(mech_find(m->scheme), m);
        char *up = g_ascii_strup(m->scheme, -1), *down = g_ascii_strdown(m->scheme, -1);
        assert_ptr_equal(mech_find(up), m);
        assert_ptr_equal(mech_find(down), m);
        char *longer = g_strconcat(m->scheme, "x", NULL);
        assert_null(mech_find(longer));
        longer[strlen(m->scheme) - 1] = 0; /* one letter short */
        assert_null(mech_find(longer));
        g_free(up);
        g_free(down);
        g_free(longer);
    }
    assert_int_equal(mech_index(mech_at(MECH_COUNT - 1)), MECH_COUNT - 1);
    assert_null(mech_at(MECH_COUNT));
    assert_null(mech_find(""));
    assert_null(mech_find("Digest"));
    assert_null(mech_find(NULL));
}

/* Offers (sa_table_offer / sa_table_offered): per (mechanism, realm, targetname, client), the
 * latest version wins; absent texts are "" ; a client offered many (beyond what one allocation
 * holds) still finds each. */
static void test_offers(void **state)
{
    (void)state;
    sa_table *tab = sa_table_new();
    const mech_ops *m0 = mech_at(0), *m1 = mech_at(1);
    unsigned v = 0;
    assert_false(sa_table_offered(tab, m0, "R", "T", "c:1", &v));
    sa_table_offer(tab, m0, "R", "T", "c:1", 3);
    sa_table_offer(tab, m1, "R", "T", "c:1", 4);
    sa_table_offer(tab, m0, NULL, NULL, NULL, 5);
    assert_true(sa_table_offered(tab, m0, "R", "T", "c:1", &v) && v == 3);
    assert_true(sa_table_offered(tab, m1, "R", "T", "c:1", &v) && v == 4);
    assert_true(sa_table_offered(tab, m0, "", "", "", &v) && v == 5);
    assert_false(sa_table_offered(tab, m0, "R", "T", "c:2", &v));
    assert_false(sa_table_offered(tab, m0, "R", "X", "c:1", &v));
    sa_table_offer(tab, m0, "R", "T", "c:1", 7); /* the latest wins */
    assert_true(sa_table_offered(tab, m0, "R", "T", "c:1", &v) && v == 7);
    for (unsigned i = 0; i < 40; i++) {
        char realm[16];
        g_snprintf(realm, sizeof realm, "realm%u", i);
        sa_table_offer(tab, mech_at(i % 2), realm, "T", "c:1", 100 + i);
    }
    for (unsigned i = 0; i < 40; i++) {
        char realm[16];
        g_snprintf(realm, sizeof realm, "realm%u", i);
        sa_table_offer(tab, mech_at(i % 2), realm, "T", "c:1", 200 + i); /* updated */
        assert_true(sa_table_offered(tab, mech_at(i % 2), realm, "T", "c:1", &v));
        assert_int_equal(v, 200 + i);
        assert_false(sa_table_offered(tab, mech_at((i + 1) % 2), realm, "T", "c:1", &v));
    }
    assert_true(sa_table_offered(tab, m1, "R", "T", "c:1", &v) && v == 4);
    sa_table_free(tab);
}

/* The first frame of num as sa_seq_check reports it ("repeated ... first seen in frame N"),
 * 0 when not recorded. */
static uint32_t seq_first_frame(const sa_seq *q, uint32_t num)
{
    note_list *l = note_list_new();
    sa_seq_check(q, num, "cnum", 1, l);
    uint32_t f = 0;
    for (guint i = 0; i < l->len; i++) {
        const char *t = g_array_index(l, mssipae_note, i).text;
        const char *p = strstr(t, "first seen in frame ");
        if (p)
            f = (uint32_t)strtoul(p + strlen("first seen in frame "), NULL, 10);
    }
    note_list_free(l);
    return f;
}

/* sa_seq keeps every recorded number's first frame whatever its storage: the 2-byte window,
 * the 4-byte one (frames far apart), the hash (far jumps, frame 0), in any order of these. */
static void test_seq_storage(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        sa_seq q;
        sa_seq_init(&q);
        if (order) { /* the hash first, before any window */
            sa_seq_commit(&q, 4000000000u, 77);
            sa_seq_commit(&q, 5, 0);
        }
        for (uint32_t n = 1; n <= 40; n++)
            sa_seq_commit(&q, n, 1000 + n);
        sa_seq_commit(&q, 3, 999999);            /* a repeat keeps the first frame */
        sa_seq_commit(&q, 41, 1000 + 70000);      /* does not fit 2 bytes: widened */
        sa_seq_commit(&q, 41 + 5000, 1234);       /* beyond the window's slack: hash */
        if (!order) {
            sa_seq_commit(&q, 4000000000u, 77);
            sa_seq_commit(&q, 5, 0);             /* already recorded: unchanged */
        }
        sa_seq_commit(&q, 60, 0);                 /* frame 0: hash */
        for (uint32_t n = 1; n <= 40; n++)
            if (!(order && n == 5))
                assert_int_equal(seq_first_frame(&q, n), 1000 + n);
        assert_int_equal(seq_first_frame(&q, 41), 1000 + 70000);
        assert_int_equal(seq_first_frame(&q, 41 + 5000), 1234);
        assert_int_equal(seq_first_frame(&q, 4000000000u), 77);
        assert_int_equal(seq_first_frame(&q, 42), 0);
        assert_int_equal(seq_first_frame(&q, 4000000001u), 0);
        if (order) {
            note_list *l = note_list_new(); /* 5 was first seen in frame 0 (the hash) */
            sa_seq_check(&q, 5, "cnum", 1, l);
            assert_true(tu_has_note(l, NOTE_SEQ, "cnum 5 repeated on SA 1 (first seen in frame 0)"));
            note_list_free(l);
        }
        note_list *l = note_list_new();
        sa_seq_check(&q, 4000000002u, "cnum", 1, l);
        assert_true(tu_has_note(l, NOTE_SEQ, "jumps from 4000000000 to 4000000002"));
        note_list_free(l);
        sa_seq_clear(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sa_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_sas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_signed_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binding_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binding_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_without_keys_follows_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_sas_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_index_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keylog_trial_bounded, setup, teardown),
        cmocka_unit_test(test_record_layout),
        cmocka_unit_test(test_why_sharing),
        cmocka_unit_test(test_why_seq),
        cmocka_unit_test(test_mech_find),
        cmocka_unit_test(test_offers),
        cmocka_unit_test(test_seq_storage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
