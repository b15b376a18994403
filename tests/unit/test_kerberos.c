/* test_kerberos.c - the Kerberos mechanism (verify/mech_kerberos.c, verify/krb_der.c).
 *
 * Known answers come from tests/vectors/kerberos-mit-lab (MIT krb5 1.20.1 against a throw-away
 * KDC; keys listed in values.txt, MICs re-checked by check_vectors.py): every handshake is fed
 * through on_token with the lab keytab, the decrypted keys are compared with values.txt, and the
 * MIC tokens must verify in their own direction only.
 *
 * Regression list:
 *  - a token of one direction accepted in the other (reflection) must be INVALID;
 *  - the [MS-SIPAE] 4.2 seed's placeholder gssapi-data (12 34 AB CD EF) must not crash and must
 *    leave a note;
 *  - RFC 4757 does not checksum SND_SEQ: flipping its counter bytes may still verify, but the
 *    reported SND_SEQ must then differ (it is never silently accepted as the original).
 */
#include "testutil.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "keytab/keystore.h"
#include "verify/krb.h"
#include "verify/krb_der.h"
#include "verify/krb_int.h"
#include "verify/mech.h"

#define LAB "kerberos-mit-lab"
#define VALUES LAB "/values.txt"
#define KEYTAB MSSIPAE_VECTORS_DIR "/" LAB "/sip.keytab"

static const mech_ops *K = &mech_kerberos_ops;

/* ------------------------------------------------------------------ helpers */

static uint8_t *vec_hex(const char *rel, size_t *len)
{
    char *text = tu_read_vector(rel, NULL);
    uint8_t *b = tu_hex(text, len);
    g_free(text);
    return b;
}

static uint8_t *case_hex(const char *cs, const char *file, size_t *len)
{
    char *rel = g_strdup_printf(LAB "/%s/%s", cs, file);
    uint8_t *b = vec_hex(rel, len);
    g_free(rel);
    return b;
}

static char *case_buf(const char *cs, size_t *len)
{
    char *rel = g_strdup_printf(LAB "/%s/buffer.sigbuf", cs);
    char *b = tu_read_vector(rel, len);
    g_free(rel);
    return b;
}

static char *case_value(const char *cs, const char *name)
{
    char *full = g_strdup_printf("%s.%s", cs, name);
    char *v = tu_value(VALUES, full);
    g_free(full);
    return v;
}

/* Runs verify and returns the status, printing the reason (never a key) when asked. */
static sig_status check(void *st, keystore *ks, const char *opaque, mssipae_dir dir,
                        const void *buf, size_t buflen, const uint8_t *sig, size_t siglen,
                        note_list *notes, char **why_out)
{
    sig_verdict v = K->verify(st, ks, opaque, dir, buf, buflen, sig, siglen, notes, 0);
    sig_status s = v.status;
    assert_true(s == SIG_VALID || v.why != NULL);
    if (why_out)
        *why_out = g_strdup(v.why ? v.why : "");
    verdict_clear(&v);
    return s;
}

static void expect(void *st, keystore *ks, const char *opaque, mssipae_dir dir, const void *buf,
                   size_t buflen, const uint8_t *sig, size_t siglen, sig_status want)
{
    note_list *notes = note_list_new();
    char *why = NULL;
    sig_status s = check(st, ks, opaque, dir, buf, buflen, sig, siglen, notes, &why);
    if (s != want) {
        print_error("got %s (%s), want %s\n", sig_status_name(s), why, sig_status_name(want));
        tu_dump_notes(notes);
    }
    assert_int_equal(s, want);
    g_free(why);
    note_list_free(notes);
}

/* Compares a key the handshake gave with the hex value in values.txt. */
static void expect_key(void *st, krb_key_role role, const char *cs, const char *name,
                       const char *etype_name)
{
    int32_t et = 0;
    const uint8_t *k = NULL;
    size_t kl = 0;
    assert_int_equal(krb_sa_key(st, role, &et, &k, &kl), 1);
    char *hex = case_value(cs, name);
    size_t wl;
    uint8_t *want = tu_hex(hex, &wl);
    assert_int_equal(kl, wl);
    assert_memory_equal(k, want, wl);
    if (etype_name) {
        char *e = case_value(cs, etype_name);
        assert_int_equal(et, atoi(e));
        g_free(e);
    }
    g_free(want);
    g_free(hex);
}

static void expect_fact(void *st, krb_fact f, const char *cs, const char *name, int base)
{
    uint32_t got = 0;
    assert_int_equal(krb_sa_fact(st, f, &got), 1);
    char *v = case_value(cs, name);
    assert_int_equal(got, (uint32_t)strtoul(v, NULL, base));
    g_free(v);
}

/* A temporary directory for key logs and keytabs made by the tests. */
static char *tmpdir(void)
{
    GError *err = NULL;
    char *d = g_dir_make_tmp("test_kerberos-XXXXXX", &err);
    assert_non_null(d);
    return d;
}

static void rm_tree(char *dir, const char *const *files)
{
    for (const char *const *f = files; *f; f++) {
        char *p = g_build_filename(dir, *f, NULL);
        g_unlink(p);
        g_free(p);
    }
    g_rmdir(dir);
    g_free(dir);
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *p = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(p, text, -1, NULL));
    return p;
}

/* Feeds a case's handshake (ap-req, and ap-rep for the mutual case) into a fresh SA. */
static void *feed(const char *cs, keystore *ks, note_list *notes)
{
    void *st = K->sa_new(NULL);
    size_t n;
    uint8_t *req = case_hex(cs, "ap-req.hex", &n);
    K->on_token(st, DIR_C2S, req, n, ks, notes);
    g_free(req);
    if (strcmp(cs, "aes256-mutual") == 0) {
        uint8_t *rep = case_hex(cs, "ap-rep.hex", &n);
        K->on_token(st, DIR_S2C, rep, n, ks, notes);
        g_free(rep);
    }
    return st;
}

static const char *const CASES[] = {"aes256-oneleg", "aes256-mutual", "rc4-session-oneleg",
                                    "rc4-ticket-and-session"};

/* ------------------------------------------------------------------ 1. lab cases with keytab */

/* Which token bytes may be flipped and still verify: RFC 4757's SND_SEQ counter (bytes 21..24
 * of the framed token) is encrypted but not checksummed. */
static int rc4_seq_byte(const uint8_t *tok, size_t len, size_t i)
{
    return len == 37 && tok[0] == 0x60 && i >= 21 && i <= 24;
}

/* The flip turned the framing OID into Microsoft's Kerberos OID 1.2.840.48018.1.2.2 (byte 7
 * 0x86 -> 0x82), which is accepted; the RFC 4757 checksum does not cover the framing. */
static int ms_oid_flip(const uint8_t *tok, size_t len, size_t i, uint8_t mask)
{
    return len == 37 && tok[0] == 0x60 && i == 7 && (tok[7] ^ mask) == 0x82;
}

static void flip_token(void *st, keystore *ks, mssipae_dir dir, const char *buf, size_t buflen,
                       const uint8_t *tok, size_t toklen, const char *orig_seq)
{
    static const uint8_t masks[] = {0x01, 0x04, 0x80, 0xff};
    uint8_t *t = g_memdup2(tok, toklen);
    for (size_t i = 0; i < toklen; i++) {
        for (size_t m = 0; m < G_N_ELEMENTS(masks); m++) {
            t[i] ^= masks[m];
            char *why = NULL;
            sig_status s = check(st, ks, NULL, dir, buf, buflen, t, toklen, NULL, &why);
            if (s == SIG_VALID) {
                /* only the RFC 4757 sequence counter, and then with a different SND_SEQ shown */
                if (!ms_oid_flip(tok, toklen, i, masks[m]) &&
                    (!rc4_seq_byte(tok, toklen, i) || strstr(why, orig_seq))) {
                    print_error("byte %zu ^ %02x verified: %s\n", i, masks[m], why);
                    fail();
                }
            } else if (!(s == SIG_INVALID || s == SIG_MALFORMED ||
                         (s == SIG_NO_KEY && i == 2 && tok[0] == 0x04))) {
                /* NO_KEY only when the RFC 4121 flag AcceptorSubkey appears without an AP-REP */
                print_error("byte %zu ^ %02x: %s (%s)\n", i, masks[m], sig_status_name(s), why);
                fail();
            }
            g_free(why);
            t[i] ^= masks[m];
        }
    }
    g_free(t);
}

static void run_lab_case(const char *cs)
{
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    note_list *notes = note_list_new();
    void *st = feed(cs, ks, notes);
    int mutual = strcmp(cs, "aes256-mutual") == 0;
    assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
    assert_false(tu_has_note(notes, NOTE_NO_KEY, NULL));
    assert_true(tu_has_note(notes, NOTE_TOKEN, "Kerberos AP-REQ for sip/"));

    /* keys and facts against values.txt */
    expect_key(st, KRB_KEY_SESSION, cs, "ticket_session_key", "session_key_etype");
    expect_key(st, KRB_KEY_AUTH_SUBKEY, cs, "authenticator_subkey", "authenticator_subkey_etype");
    if (mutual) {
        expect_key(st, KRB_KEY_ACCEPTOR_SUBKEY, cs, "acceptor_subkey", NULL);
        expect_fact(st, KRB_FACT_APREP_SEQ, cs, "ap_rep_seq_number", 16);
    } else {
        int32_t et;
        const uint8_t *k;
        size_t kl;
        assert_int_equal(krb_sa_key(st, KRB_KEY_ACCEPTOR_SUBKEY, &et, &k, &kl), 0);
    }
    expect_fact(st, KRB_FACT_TICKET_ENCTYPE, cs, "ticket_etype", 10);
    expect_fact(st, KRB_FACT_AUTH_SEQ, cs, "authenticator_seq_number", 16);
    expect_fact(st, KRB_FACT_GSS_FLAGS, cs, "authenticator_gss_flags", 16);
    uint32_t kvno;
    assert_int_equal(krb_sa_fact(st, KRB_FACT_TICKET_KVNO, &kvno), 1);
    assert_int_equal(kvno, 1);

    size_t buflen, al, il;
    char *buf = case_buf(cs, &buflen);
    uint8_t *acc = case_hex(cs, "mic-acceptor.hex", &al);
    uint8_t *ini = case_hex(cs, "mic-initiator.hex", &il);

    expect(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, SIG_VALID);
    expect(st, ks, NULL, DIR_C2S, buf, buflen, ini, il, SIG_VALID);
    /* verify is pure: again, same answer */
    expect(st, ks, "ANY", DIR_S2C, buf, buflen, acc, al, SIG_VALID);
    /* reflected: each token in the other direction */
    expect(st, ks, NULL, DIR_C2S, buf, buflen, acc, al, SIG_INVALID);
    expect(st, ks, NULL, DIR_S2C, buf, buflen, ini, il, SIG_INVALID);
    /* tokens over another buffer */
    expect(st, ks, NULL, DIR_S2C, buf, buflen - 1, acc, al, SIG_INVALID);
    expect(st, ks, NULL, DIR_S2C, "", 0, acc, al, SIG_INVALID);

    /* the VALID reason names the key the reference names, and the RFC 4757 SND_SEQ */
    char *why = NULL;
    assert_int_equal(check(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, NULL, &why), SIG_VALID);
    char *desc = case_value(cs, "mic_acceptor");
    if (strstr(desc, "key acceptor_subkey"))
        assert_non_null(strstr(why, "acceptor subkey"));
    else
        assert_non_null(strstr(why, "authenticator subkey"));
    char *seqhex = NULL;
    if (g_str_has_prefix(desc, "RFC 4757")) {
        char *s = strstr(desc, "decrypts to ");
        assert_non_null(s);
        seqhex = g_strdup_printf("SND_SEQ 0x%.8s", s + strlen("decrypts to "));
        assert_non_null(strstr(why, seqhex));
    } else {
        seqhex = g_strdup("SND_SEQ (not applicable)");
    }
    /* the key export names the key that verified, as the reference names it, and a fresh SA
     * with only the exported line (no handshake) verifies the same tokens */
    {
        GString *out = g_string_new(NULL);
        const char *const ops[] = {"1A2B3C4D"};
        assert_int_equal(K->export_keys(st, ops, 1, out), 1);
        char *key = case_value(cs, strstr(desc, "key acceptor_subkey") ? "acceptor_subkey"
                                                                         : "authenticator_subkey");
        char *want = g_ascii_strdown(key, -1);
        char *got = g_ascii_strdown(out->str, -1);
        assert_true(g_str_has_prefix(got, "kerberos 1a2b3c4d "));
        assert_non_null(strstr(got, want));
        char *dir = tmpdir();
        char *kl = write_file(dir, "keys.log", out->str);
        keystore *ks2 = keystore_new();
        assert_int_equal(keystore_set_keylog(ks2, kl), 0);
        void *st2 = K->sa_new(NULL);
        expect(st2, ks2, "1A2B3C4D", DIR_S2C, buf, buflen, acc, al, SIG_VALID);
        expect(st2, ks2, "1A2B3C4D", DIR_C2S, buf, buflen, ini, il, SIG_VALID);
        K->sa_free(st2);
        keystore_free(ks2);
        static const char *const files[] = {"keys.log", NULL};
        rm_tree(dir, files);
        g_free(kl);
        g_free(got);
        g_free(want);
        g_free(key);
        g_string_free(out, TRUE);
    }
    g_free(desc);
    g_free(why);

    /* every byte of the buffer flipped */
    for (size_t i = 0; i < buflen; i++) {
        buf[i] ^= 0x01;
        expect(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, SIG_INVALID);
        expect(st, ks, NULL, DIR_C2S, buf, buflen, ini, il, SIG_INVALID);
        buf[i] ^= 0x01;
    }
    /* every byte of each token flipped, every prefix of each token */
    flip_token(st, ks, DIR_S2C, buf, buflen, acc, al, seqhex);
    flip_token(st, ks, DIR_C2S, buf, buflen, ini, il, seqhex);
    for (size_t n = 0; n < al; n++) {
        sig_status s = check(st, ks, NULL, DIR_S2C, buf, buflen, acc, n, NULL, NULL);
        assert_true(s == SIG_MALFORMED || s == SIG_INVALID);
    }
    /* an RFC 4757 token without its GSS framing is accepted too */
    if (al == 37)
        expect(st, ks, NULL, DIR_S2C, buf, buflen, acc + 13, 24, SIG_VALID);

    g_free(seqhex);
    g_free(buf);
    g_free(acc);
    g_free(ini);
    K->sa_free(st);
    note_list_free(notes);
    keystore_free(ks);
}

static void test_lab_aes256_oneleg(void **state) { (void)state; run_lab_case("aes256-oneleg"); }
static void test_lab_aes256_mutual(void **state) { (void)state; run_lab_case("aes256-mutual"); }
static void test_lab_rc4_session(void **state) { (void)state; run_lab_case("rc4-session-oneleg"); }
static void test_lab_rc4_ticket(void **state) { (void)state; run_lab_case("rc4-ticket-and-session"); }

/* The AP-REP may be captured before the AP-REQ is processed (reordering): still decrypted. */
static void test_aprep_before_apreq(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    note_list *notes = note_list_new();
    void *st = K->sa_new(NULL);
    size_t n, buflen, al;
    uint8_t *rep = case_hex("aes256-mutual", "ap-rep.hex", &n);
    K->on_token(st, DIR_S2C, rep, n, ks, notes);
    g_free(rep);
    uint8_t *req = case_hex("aes256-mutual", "ap-req.hex", &n);
    K->on_token(st, DIR_C2S, req, n, ks, notes);
    g_free(req);
    expect_key(st, KRB_KEY_ACCEPTOR_SUBKEY, "aes256-mutual", "acceptor_subkey", NULL);
    char *buf = case_buf("aes256-mutual", &buflen);
    uint8_t *acc = case_hex("aes256-mutual", "mic-acceptor.hex", &al);
    expect(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, SIG_VALID);
    g_free(buf);
    g_free(acc);
    K->sa_free(st);
    note_list_free(notes);
    keystore_free(ks);
}

/* A token sent the wrong way is noted (and still used). */
static void test_wrong_direction_token(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    note_list *notes = note_list_new();
    void *st = K->sa_new(NULL);
    size_t n;
    uint8_t *req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    K->on_token(st, DIR_S2C, req, n, ks, notes);
    assert_true(tu_has_note(notes, NOTE_TOKEN, "AP-REQ sent by the server"));
    g_free(req);
    K->sa_free(st);
    note_list_free(notes);
    keystore_free(ks);
}

/* ------------------------------------------------------------------ 2. key-log route */

/* A key log with one line "KERBEROS 1A2B3C4D <etype> <key>" taken from a vector case. */
typedef struct {
    char *dir, *key, *et, *line, *kl;
    keystore *ks;
} kl_env;

static void kl_env_init(kl_env *e, const char *cs, const char *keyname, const char *etype_name)
{
    e->dir = tmpdir();
    e->key = case_value(cs, keyname);
    e->et = case_value(cs, etype_name);
    e->line = g_strdup_printf("# test\nKERBEROS 1A2B3C4D %s %s\n", e->et, e->key);
    e->kl = write_file(e->dir, "keys.log", e->line);
    e->ks = keystore_new();
    assert_int_equal(keystore_set_keylog(e->ks, e->kl), 0);
}

static void kl_env_clear(kl_env *e)
{
    keystore_free(e->ks);
    g_free(e->kl);
    g_free(e->line);
    g_free(e->et);
    g_free(e->key);
    static const char *const files[] = {"keys.log", NULL};
    rm_tree(e->dir, files);
}

static void keylog_case(const char *cs, const char *keyname, const char *etype_name,
                        int with_handshake, sig_status want)
{
    kl_env e;
    kl_env_init(&e, cs, keyname, etype_name);
    keystore *ks = e.ks;
    note_list *notes = note_list_new();
    void *st = with_handshake ? feed(cs, ks, notes) : K->sa_new(NULL);
    size_t buflen, al, il;
    char *buf = case_buf(cs, &buflen);
    uint8_t *acc = case_hex(cs, "mic-acceptor.hex", &al);
    uint8_t *ini = case_hex(cs, "mic-initiator.hex", &il);
    expect(st, ks, "1a2b3c4d", DIR_S2C, buf, buflen, acc, al, want);
    expect(st, ks, "1A2B3C4D", DIR_C2S, buf, buflen, ini, il, want);
    if (want == SIG_VALID) {
        expect(st, ks, "1A2B3C4D", DIR_C2S, buf, buflen, acc, al, SIG_INVALID);
        buf[0] ^= 1;
        expect(st, ks, "1A2B3C4D", DIR_S2C, buf, buflen, acc, al, SIG_INVALID);
        buf[0] ^= 1;
        /* another opaque: no key */
        expect(st, ks, "99999999", DIR_S2C, buf, buflen, acc, al, SIG_NO_KEY);
    }
    g_free(buf);
    g_free(acc);
    g_free(ini);
    K->sa_free(st);
    note_list_free(notes);
    kl_env_clear(&e);
}

static void test_keylog_subkey_no_handshake(void **state)
{
    (void)state;
    keylog_case("aes256-oneleg", "authenticator_subkey", "authenticator_subkey_etype", 0,
                SIG_VALID);
    keylog_case("rc4-session-oneleg", "authenticator_subkey", "authenticator_subkey_etype", 0,
                SIG_VALID);
    keylog_case("rc4-ticket-and-session", "authenticator_subkey", "authenticator_subkey_etype", 0,
                SIG_VALID);
    /* the acceptor subkey has no etype line: its MICs carry 12-byte HMAC-SHA1-96 checksums and
     * the key has 32 bytes, so it is enctype 18 like the session key */
    keylog_case("aes256-mutual", "acceptor_subkey", "session_key_etype", 0, SIG_VALID);
}

/* The session key from the key log reaches the subkeys through the kept AP-REQ / AP-REP. */
static void test_keylog_session_key_with_handshake(void **state)
{
    (void)state;
    keylog_case("aes256-oneleg", "ticket_session_key", "session_key_etype", 1, SIG_VALID);
    keylog_case("aes256-mutual", "ticket_session_key", "session_key_etype", 1, SIG_VALID);
    keylog_case("rc4-session-oneleg", "ticket_session_key", "session_key_etype", 1, SIG_VALID);
    /* without the handshake the session key is not the MIC key, and nothing in the capture
     * says whether the line holds the session key or a subkey: "no key", never "invalid" */
    keylog_case("aes256-oneleg", "ticket_session_key", "session_key_etype", 0, SIG_NO_KEY);
}

/* Once the keytab's session key opened the Authenticator / AP-REP, their ciphertext is not kept:
 * a key-log line then gives what decrypting them with its key gave (same key: the same subkeys
 * and sequence numbers; another key: nothing). Compared with an SA that kept the ciphertext (no
 * keytab: the key-log key decrypts it). */
static void assert_same_inner(const krb_inner *a, const krb_inner *b)
{
    assert_int_equal(a->subkey.len, b->subkey.len);
    assert_int_equal(a->subkey.enctype, b->subkey.enctype);
    assert_memory_equal(a->subkey.val, b->subkey.val, a->subkey.len);
    assert_int_equal(a->have_seq, b->have_seq);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->have_gss_flags, b->have_gss_flags);
    assert_int_equal(a->gss_flags, b->gss_flags);
}

static void test_keylog_after_keytab_opened(void **state)
{
    (void)state;
    static const struct {
        const char *cs, *key, *et;
    } v[] = {
        {"aes256-oneleg", "ticket_session_key", "session_key_etype"},
        {"aes256-mutual", "ticket_session_key", "session_key_etype"},
        {"rc4-session-oneleg", "ticket_session_key", "session_key_etype"},
        {"aes256-oneleg", "authenticator_subkey", "authenticator_subkey_etype"},
        {"aes256-mutual", "acceptor_subkey", "session_key_etype"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
        kl_env e;
        kl_env_init(&e, v[i].cs, v[i].key, v[i].et);
        keystore *both = keystore_new();
        assert_int_equal(keystore_set_keytab(both, KEYTAB), 0);
        assert_int_equal(keystore_set_keylog(both, e.kl), 0);
        note_list *notes = note_list_new();
        krb_sa *kept = feed(v[i].cs, e.ks, notes);  /* no keytab: ciphertext kept */
        krb_sa *opened = feed(v[i].cs, both, notes); /* keytab: opened, ciphertext dropped */
        assert_int_equal(kept->session.len, 0);
        assert_non_null(kept->auth_enc.cipher);
        assert_true(opened->auth_ok);
        assert_null(opened->auth_enc.cipher);
        size_t buflen, al, il;
        char *buf = case_buf(v[i].cs, &buflen);
        uint8_t *acc = case_hex(v[i].cs, "mic-acceptor.hex", &al);
        uint8_t *ini = case_hex(v[i].cs, "mic-initiator.hex", &il);
        expect(kept, e.ks, "1A2B3C4D", DIR_C2S, buf, buflen, ini, il, SIG_VALID);
        expect(opened, both, "1A2B3C4D", DIR_C2S, buf, buflen, ini, il, SIG_VALID);
        const krb_kl *a = krb_sa_kl(kept), *b = krb_sa_kl(opened);
        assert_non_null(krb_sa_klp(kept));
        assert_non_null(krb_sa_klp(opened));
        assert_int_equal(a->auth_ok, b->auth_ok);
        assert_int_equal(a->auth_ok, strcmp(v[i].key, "ticket_session_key") == 0);
        assert_same_inner(&a->auth, &b->auth);
        assert_same_inner(&a->aprep, &b->aprep);
        g_free(buf);
        g_free(acc);
        g_free(ini);
        K->sa_free(kept);
        K->sa_free(opened);
        note_list_free(notes);
        keystore_free(both);
        kl_env_clear(&e);
    }
}

/* A key-log key becomes the SA's proven key only by verifying one of its signatures: a damaged
 * signature before that is "no key", after it "invalid". */
static void test_keylog_key_proven_by_a_match(void **state)
{
    (void)state;
    const char *cs = "aes256-oneleg";
    kl_env e;
    kl_env_init(&e, cs, "authenticator_subkey", "authenticator_subkey_etype");
    void *st = K->sa_new(NULL);
    size_t buflen, al;
    char *buf = case_buf(cs, &buflen);
    uint8_t *acc = case_hex(cs, "mic-acceptor.hex", &al);
    note_list *notes = note_list_new();
    char *why = NULL;
    buf[0] ^= 1;
    assert_int_equal(check(st, e.ks, "1A2B3C4D", DIR_S2C, buf, buflen, acc, al, notes, &why),
                     SIG_NO_KEY);
    assert_non_null(strstr(why, "not known to be this SA's signing key"));
    assert_non_null(strstr(why, "no AP-REQ"));
    g_free(why);
    buf[0] ^= 1;
    expect(st, e.ks, "1A2B3C4D", DIR_S2C, buf, buflen, acc, al, SIG_VALID);
    buf[0] ^= 1;
    expect(st, e.ks, "1A2B3C4D", DIR_S2C, buf, buflen, acc, al, SIG_INVALID);
    note_list_free(notes);
    g_free(buf);
    g_free(acc);
    K->sa_free(st);
    kl_env_clear(&e);
}

static void keylog_check_line(const char *line, sig_status want, const char *needle)
{
    char *dir = tmpdir();
    char *kl = write_file(dir, "keys.log", line);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    void *st = K->sa_new(NULL);
    size_t buflen, al;
    char *buf = case_buf("aes256-oneleg", &buflen);
    uint8_t *acc = case_hex("aes256-oneleg", "mic-acceptor.hex", &al);
    char *why = NULL;
    note_list *notes = note_list_new();
    sig_status s = check(st, ks, "ABCD", DIR_S2C, buf, buflen, acc, al, notes, &why);
    if (s != want || (needle && !strstr(why, needle)))
        print_error("got %s: %s\n", sig_status_name(s), why);
    assert_int_equal(s, want);
    if (needle)
        assert_non_null(strstr(why, needle));
    g_free(why);
    note_list_free(notes);
    g_free(buf);
    g_free(acc);
    K->sa_free(st);
    keystore_free(ks);
    g_free(kl);
    static const char *const files[] = {"keys.log", NULL};
    rm_tree(dir, files);
}

static void test_keylog_bad_keys(void **state)
{
    (void)state;
    /* a wrong explicit key with no handshake: it may be a session key or a subkey, so it is
     * "no key" (a wrong key proven by nothing cannot prove a signature wrong) */
    keylog_check_line("KERBEROS ABCD 18 "
                       "0000000000000000000000000000000000000000000000000000000000000000\n",
                       SIG_NO_KEY, "key-log line 1; that key is not known to be this SA's");
    /* a key of the wrong length for its enctype */
    keylog_check_line("KERBEROS ABCD 18 00112233445566778899aabbccddeeff\n", SIG_NO_KEY,
                       "needs a 32-byte key");
    /* an enctype libkrb5 does not know */
    keylog_check_line("KERBEROS ABCD 99 00112233445566778899aabbccddeeff\n", SIG_UNSUPPORTED,
                       "not supported");
    /* no line for this opaque */
    keylog_check_line("KERBEROS OTHER 18 00\n", SIG_NO_KEY, "no KERBEROS key-log entry for "
                       "opaque ABCD");
}

/* ------------------------------------------------------------------ 3. no key */

static void expect_no_key(keystore *ks, const char *must)
{
    note_list *notes = note_list_new();
    void *st = feed("aes256-oneleg", ks, notes);
    if (!tu_has_note(notes, NOTE_NO_KEY, must))
        tu_dump_notes(notes);
    assert_true(tu_has_note(notes, NOTE_NO_KEY, must));
    assert_true(tu_has_note(notes, NOTE_NO_KEY, "sip/server.contoso.test@CONTOSO.TEST kvno 1 "
                                             "enctype 18 (aes256-cts-hmac-sha1-96)"));
    int32_t et;
    const uint8_t *k;
    size_t kl;
    assert_int_equal(krb_sa_key(st, KRB_KEY_SESSION, &et, &k, &kl), 0);
    size_t buflen, al;
    char *buf = case_buf("aes256-oneleg", &buflen);
    uint8_t *acc = case_hex("aes256-oneleg", "mic-acceptor.hex", &al);
    note_list *vn = note_list_new();
    char *why = NULL;
    assert_int_equal(check(st, ks, "ABCD", DIR_S2C, buf, buflen, acc, al, vn, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, must));
    assert_non_null(strstr(why, "sip/server.contoso.test@CONTOSO.TEST kvno 1 enctype 18 "
                                "(aes256-cts-hmac-sha1-96)"));
    assert_true(tu_has_note(vn, NOTE_NO_KEY, "sip/server.contoso.test@CONTOSO.TEST"));
    g_free(why);
    note_list_free(vn);
    g_free(buf);
    g_free(acc);
    K->sa_free(st);
    note_list_free(notes);
}

static void test_no_keytab(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    expect_no_key(ks, "no keytab configured");
    keystore_free(ks);
    ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, "/nonexistent/mssipae-test.keytab"), -1);
    expect_no_key(ks, "keytab /nonexistent/mssipae-test.keytab could not be read");
    keystore_free(ks);
    /* no handshake and no key at all */
    void *st = K->sa_new(NULL);
    ks = keystore_new();
    size_t buflen, al;
    char *buf = case_buf("aes256-oneleg", &buflen);
    uint8_t *acc = case_hex("aes256-oneleg", "mic-acceptor.hex", &al);
    char *why = NULL;
    assert_int_equal(check(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, NULL, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "no Kerberos AP-REQ seen"));
    g_free(why);
    g_free(buf);
    g_free(acc);
    K->sa_free(st);
    keystore_free(ks);
}

/* Writes a keytab with one entry (principal, kvno, enctype, key of the right length). */
static void make_keytab(const char *path, const char *princ, krb5_kvno kvno, krb5_enctype et,
                        uint8_t fill)
{
    krb5_context ctx;
    assert_int_equal(krb5_init_context(&ctx), 0);
    char *name = g_strconcat("FILE:", path, NULL);
    krb5_keytab kt;
    assert_int_equal(krb5_kt_resolve(ctx, name, &kt), 0);
    krb5_keytab_entry e;
    memset(&e, 0, sizeof e);
    assert_int_equal(krb5_parse_name(ctx, princ, &e.principal), 0);
    e.vno = kvno;
    size_t kl = 0;
    assert_int_equal(krb5_c_keylengths(ctx, et, NULL, &kl), 0);
    uint8_t key[64];
    memset(key, fill, sizeof key);
    e.key.magic = KV5M_KEYBLOCK;
    e.key.enctype = et;
    e.key.length = (unsigned int)kl;
    e.key.contents = key;
    assert_int_equal(krb5_kt_add_entry(ctx, kt, &e), 0);
    krb5_free_principal(ctx, e.principal);
    krb5_kt_close(ctx, kt);
    g_free(name);
    krb5_free_context(ctx);
}

static void test_other_keytab(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *other = g_build_filename(dir, "other.keytab", NULL);
    char *wrong = g_build_filename(dir, "wrong.keytab", NULL);
    char *empty = write_file(dir, "empty.keytab", "");
    make_keytab(other, "HTTP/other.contoso.test@CONTOSO.TEST", 3, ENCTYPE_AES128_CTS_HMAC_SHA1_96,
                0x11);
    make_keytab(wrong, "sip/server.contoso.test@CONTOSO.TEST", 1,
                ENCTYPE_AES256_CTS_HMAC_SHA1_96, 0x22);

    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, other), 0);
    char *must = g_strdup_printf("no key in keytab %s for", other);
    expect_no_key(ks, must);
    g_free(must);
    keystore_free(ks);

    ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, wrong), 0);
    expect_no_key(ks, "does not decrypt the ticket");
    keystore_free(ks);

    ks = keystore_new();
    keystore_set_keytab(ks, empty); /* an empty file is no keytab */
    expect_no_key(ks, "could not be read or holds no keys");
    keystore_free(ks);

    g_free(other);
    g_free(wrong);
    g_free(empty);
    static const char *const files[] = {"other.keytab", "wrong.keytab", "empty.keytab", NULL};
    rm_tree(dir, files);
}

/* The tickets a keytab opened are kept per capture (issue 10): SAs of one capture that carry
 * the same ticket get from the cache what a fresh capture gets from libkrb5 (notes, keys, facts,
 * verdicts), and a keytab set since is not answered from it. */
static void assert_same_notes(const note_list *a, const note_list *b)
{
    assert_int_equal(a->len, b->len);
    for (guint i = 0; i < a->len; i++) {
        const mssipae_note *x = &g_array_index(a, mssipae_note, i);
        const mssipae_note *y = &g_array_index(b, mssipae_note, i);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->sev, y->sev);
        assert_string_equal(x->text, y->text);
    }
}

static void test_ticket_cache(void **state)
{
    (void)state;
    static const krb_key_role roles[] = {KRB_KEY_SESSION, KRB_KEY_AUTH_SUBKEY,
                                         KRB_KEY_ACCEPTOR_SUBKEY};
    static const krb_fact facts[] = {KRB_FACT_TICKET_ENCTYPE, KRB_FACT_TICKET_KVNO,
                                     KRB_FACT_AUTH_SEQ, KRB_FACT_APREP_SEQ, KRB_FACT_GSS_FLAGS};
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    void *cap = K->cap_new();
    for (size_t c = 0; c < G_N_ELEMENTS(CASES); c++) {
        note_list *fresh_notes = note_list_new();
        void *fresh = feed(CASES[c], ks, fresh_notes); /* its own capture */
        for (int rep = 0; rep < 3; rep++) { /* the first one fills the shared cache */
            note_list *notes = note_list_new();
            void *st = K->sa_new(cap);
            size_t n;
            uint8_t *req = case_hex(CASES[c], "ap-req.hex", &n);
            K->on_token(st, DIR_C2S, req, n, ks, notes);
            g_free(req);
            if (strcmp(CASES[c], "aes256-mutual") == 0) {
                uint8_t *rep_tok = case_hex(CASES[c], "ap-rep.hex", &n);
                K->on_token(st, DIR_S2C, rep_tok, n, ks, notes);
                g_free(rep_tok);
            }
            assert_same_notes(notes, fresh_notes);
            for (size_t r = 0; r < G_N_ELEMENTS(roles); r++) {
                int32_t e1 = 0, e2 = 0;
                const uint8_t *k1 = NULL, *k2 = NULL;
                size_t l1 = 0, l2 = 0;
                int h1 = krb_sa_key(fresh, roles[r], &e1, &k1, &l1);
                assert_int_equal(krb_sa_key(st, roles[r], &e2, &k2, &l2), h1);
                if (h1) {
                    assert_int_equal(e1, e2);
                    assert_int_equal(l1, l2);
                    assert_memory_equal(k1, k2, l1);
                }
            }
            for (size_t f = 0; f < G_N_ELEMENTS(facts); f++) {
                uint32_t v1 = 0, v2 = 0;
                int h1 = krb_sa_fact(fresh, facts[f], &v1);
                assert_int_equal(krb_sa_fact(st, facts[f], &v2), h1);
                assert_int_equal(v1, v2);
            }
            size_t buflen, al;
            char *buf = case_buf(CASES[c], &buflen);
            uint8_t *acc = case_hex(CASES[c], "mic-acceptor.hex", &al);
            char *w1 = NULL, *w2 = NULL;
            assert_int_equal(check(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, NULL, &w2),
                             check(fresh, ks, NULL, DIR_S2C, buf, buflen, acc, al, NULL, &w1));
            assert_string_equal(w1, w2);
            g_free(w1);
            g_free(w2);
            g_free(buf);
            g_free(acc);
            K->sa_free(st);
            note_list_free(notes);
        }
        K->sa_free(fresh);
        note_list_free(fresh_notes);
    }

    /* another keytab set on the keystore: not answered from the cache */
    char *dir = tmpdir();
    char *wrong = g_build_filename(dir, "wrong.keytab", NULL);
    make_keytab(wrong, "sip/server.contoso.test@CONTOSO.TEST", 1,
                ENCTYPE_AES256_CTS_HMAC_SHA1_96, 0x22);
    assert_int_equal(keystore_set_keytab(ks, wrong), 0);
    note_list *notes = note_list_new();
    void *st = K->sa_new(cap);
    size_t n;
    uint8_t *req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    K->on_token(st, DIR_C2S, req, n, ks, notes);
    assert_true(tu_has_note(notes, NOTE_NO_KEY, "does not decrypt the ticket"));
    int32_t et;
    const uint8_t *k;
    size_t kl;
    assert_int_equal(krb_sa_key(st, KRB_KEY_SESSION, &et, &k, &kl), 0);
    K->sa_free(st);
    note_list_free(notes);
    /* and the lab keytab again: opened again */
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    notes = note_list_new();
    st = K->sa_new(cap);
    K->on_token(st, DIR_C2S, req, n, ks, notes);
    assert_false(tu_has_note(notes, NOTE_NO_KEY, NULL));
    assert_int_equal(krb_sa_key(st, KRB_KEY_SESSION, &et, &k, &kl), 1);
    K->sa_free(st);
    note_list_free(notes);
    g_free(req);
    K->cap_free(cap);
    keystore_free(ks);
    g_free(wrong);
    static const char *const files[] = {"wrong.keytab", NULL};
    rm_tree(dir, files);
}

/* ------------------------------------------------------------------ 4. hostile tokens */

/* Feeds one token to a fresh SA, then checks a valid MIC on it: no crash, no VALID. */
static sig_status hostile_any(keystore *ks, const uint8_t *tok, size_t len, note_list *notes,
                              int allow_valid)
{
    static char *buf;
    static uint8_t *acc;
    static size_t buflen, al;
    if (!tok) { /* cleanup call */
        g_free(buf);
        g_free(acc);
        buf = NULL;
        acc = NULL;
        return SIG_NONE;
    }
    if (!buf) {
        buf = case_buf("aes256-oneleg", &buflen);
        acc = case_hex("aes256-oneleg", "mic-acceptor.hex", &al);
    }
    void *st = K->sa_new(NULL);
    K->on_token(st, DIR_C2S, tok, len, ks, notes);
    sig_status s = check(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, NULL, NULL);
    K->sa_free(st);
    if (!allow_valid)
        assert_int_not_equal(s, SIG_VALID);
    return s;
}

static sig_status hostile(keystore *ks, const uint8_t *tok, size_t len, note_list *notes)
{
    return hostile_any(ks, tok, len, notes, 0);
}

static void test_hostile_truncated(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    size_t n;
    uint8_t *req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    /* the GSS-framed token at every length */
    for (size_t l = 1; l < n; l++) {
        note_list *notes = note_list_new();
        sig_status s = hostile(ks, req, l, notes);
        assert_int_equal(s, SIG_NO_KEY);
        assert_true(tu_has_note(notes, NOTE_MALFORMED, NULL));
        note_list_free(notes);
    }
    /* the bare AP-REQ (6e ...) at every length, so the DER walk itself meets the end */
    size_t off = 17; /* 60 82 xx xx 06 09 <9> 01 00 */
    assert_int_equal(req[off], 0x6e);
    for (size_t l = 1; l < n - off; l++) {
        note_list *notes = note_list_new();
        assert_int_equal(hostile(ks, req + off, l, notes), SIG_NO_KEY);
        assert_true(tu_has_note(notes, NOTE_MALFORMED, NULL));
        note_list_free(notes);
    }
    /* every byte changed: no crash, no leak. (VALID may remain: the cleartext parts of an
     * AP-REQ - sname, realm, kvno, ap-options - are not integrity-protected, and the keys
     * are still right.) */
    for (size_t i = 0; i < n; i++) {
        req[i] ^= 0xff;
        note_list *notes = note_list_new();
        hostile_any(ks, req, n, notes, 1);
        note_list_free(notes);
        req[i] ^= 0xff;
    }
    g_free(req);
    hostile(NULL, NULL, 0, NULL);
    keystore_free(ks);
}

static void replace_hex(uint8_t *buf, size_t len, const char *from_hex, const char *to_hex)
{
    size_t fl, tl;
    uint8_t *from = tu_hex(from_hex, &fl), *to = tu_hex(to_hex, &tl);
    assert_int_equal(fl, tl);
    int done = 0;
    for (size_t i = 0; i + fl <= len && !done; i++)
        if (memcmp(buf + i, from, fl) == 0) {
            memcpy(buf + i, to, tl);
            done = 1;
        }
    assert_true(done);
    g_free(from);
    g_free(to);
}

static void test_hostile_crafted(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    note_list *notes;
    size_t n;

    /* the [MS-SIPAE] 4.2 seed's placeholder gssapi-data */
    static const uint8_t seed[] = {0x12, 0x34, 0xab, 0xcd, 0xef};
    notes = note_list_new();
    assert_int_equal(hostile(ks, seed, sizeof seed, notes), SIG_NO_KEY);
    assert_true(tu_has_note(notes, NOTE_MALFORMED, "1234abcdef"));
    note_list_free(notes);

    /* wrong OID (1.2.840.113554.1.2.3), SPNEGO OID */
    uint8_t *req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    req[14] = 0x03;
    notes = note_list_new();
    assert_int_equal(hostile(ks, req, n, notes), SIG_NO_KEY);
    assert_true(tu_has_note(notes, NOTE_MALFORMED, "not Kerberos"));
    note_list_free(notes);
    g_free(req);
    static const uint8_t spnego[] = {0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05,
                                     0x05, 0x02, 0xa0, 0x00};
    notes = note_list_new();
    hostile(ks, spnego, sizeof spnego, notes);
    assert_true(tu_has_note(notes, NOTE_UNSUPPORTED, "SPNEGO"));
    note_list_free(notes);

    /* the Microsoft OID is accepted */
    req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    req[9] = 0x82;
    notes = note_list_new();
    void *st = K->sa_new(NULL);
    K->on_token(st, DIR_C2S, req, n, ks, notes);
    expect_key(st, KRB_KEY_AUTH_SUBKEY, "aes256-oneleg", "authenticator_subkey", NULL);
    K->sa_free(st);
    note_list_free(notes);
    g_free(req);

    /* outer length past the end, indefinite, 5 length octets */
    static const uint8_t past[] = {0x60, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06, 0x09};
    static const uint8_t indef[] = {0x60, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
                                    0x01, 0x02, 0x02, 0x01, 0x00, 0x6e, 0x80, 0x00, 0x00};
    static const uint8_t len5[] = {0x60, 0x85, 0x00, 0x00, 0x00, 0x00, 0x10, 0x06};
    static const uint8_t inner_indef[] = {0x6e, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t inner_past[] = {0x6e, 0x06, 0x30, 0x84, 0x10, 0x00, 0x00, 0x00};
    /* pvno as a 9-octet INTEGER; msg-type as a 0-octet INTEGER */
    static const uint8_t huge_int[] = {0x6e, 0x0f, 0x30, 0x0d, 0xa0, 0x0b, 0x02, 0x09, 0x01,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05};
    static const uint8_t zero_int[] = {0x6e, 0x0b, 0x30, 0x09, 0xa0, 0x03, 0x02, 0x01, 0x05,
                                       0xa1, 0x02, 0x02, 0x00};
    /* high tag number form, duplicate field, nested explicit tag with two TLVs */
    static const uint8_t hightag[] = {0x6e, 0x04, 0x3f, 0x81, 0x01, 0x00};
    static const uint8_t dup[] = {0x6e, 0x0c, 0x30, 0x0a, 0xa0, 0x03, 0x02, 0x01, 0x05,
                                  0xa0, 0x03, 0x02, 0x01, 0x05};
    static const uint8_t two[] = {0x6e, 0x0a, 0x30, 0x08, 0xa0, 0x06, 0x02, 0x01, 0x05,
                                  0x02, 0x01, 0x05};
    const struct { const uint8_t *p; size_t n; } bad[] = {
        {past, sizeof past},       {indef, sizeof indef},         {len5, sizeof len5},
        {inner_indef, sizeof inner_indef}, {inner_past, sizeof inner_past},
        {huge_int, sizeof huge_int}, {zero_int, sizeof zero_int}, {hightag, sizeof hightag},
        {dup, sizeof dup},         {two, sizeof two},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        notes = note_list_new();
        assert_int_equal(hostile(ks, bad[i].p, bad[i].n, notes), SIG_NO_KEY);
        assert_true(tu_has_note(notes, NOTE_MALFORMED, NULL));
        note_list_free(notes);
    }

    /* unknown ticket enctype (18 -> 99): no key can decrypt it; said so */
    req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    replace_hex(req, n, "30820179a003020112a103020101", "30820179a003020163a103020101");
    notes = note_list_new();
    sig_status s = hostile(ks, req, n, notes);
    assert_true(s == SIG_UNSUPPORTED || s == SIG_NO_KEY);
    assert_true(tu_has_note(notes, NOTE_UNSUPPORTED, "enctype 99"));
    note_list_free(notes);
    g_free(req);

    /* unknown authenticator enctype: the ticket decrypts, the Authenticator does not; the
     * session key is then only a tentative key (NO_KEY, not INVALID) */
    req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    replace_hex(req, n, "3081cca003020112a281c4", "3081cca003020163a281c4");
    notes = note_list_new();
    assert_int_equal(hostile(ks, req, n, notes), SIG_NO_KEY);
    assert_true(tu_has_note(notes, NOTE_MALFORMED, "Authenticator does not decrypt"));
    note_list_free(notes);
    g_free(req);

    /* garbage: random tokens behind each plausible first byte */
    GRand *r = g_rand_new_with_seed(4121);
    static const uint8_t firsts[] = {0x60, 0x6e, 0x6f, 0x7e, 0x30, 0x00};
    for (int i = 0; i < 3000; i++) {
        size_t len = (size_t)g_rand_int_range(r, 1, 300);
        uint8_t *g = g_malloc(len);
        for (size_t j = 0; j < len; j++)
            g[j] = (uint8_t)g_rand_int_range(r, 0, 256);
        g[0] = firsts[i % G_N_ELEMENTS(firsts)];
        if (len > 2 && i % 2)
            g[1] = (uint8_t)(len - 2 < 0x80 ? len - 2 : 0x81);
        notes = note_list_new();
        hostile(ks, g, len, notes);
        note_list_free(notes);
        g_free(g);
    }
    /* garbage signatures on a good SA */
    notes = note_list_new();
    st = feed("aes256-oneleg", ks, notes);
    note_list_free(notes);
    for (int i = 0; i < 3000; i++) {
        size_t len = (size_t)g_rand_int_range(r, 1, 64);
        uint8_t *g = g_malloc(len);
        for (size_t j = 0; j < len; j++)
            g[j] = (uint8_t)g_rand_int_range(r, 0, 256);
        static const uint8_t heads[][2] = {{0x04, 0x04}, {0x60, 0x23}, {0x05, 0x04}, {0x01, 0x01}};
        if (len >= 2 && i % 5 != 4)
            memcpy(g, heads[i % 4], 2);
        sig_status gs = check(st, ks, "X", i % 2 ? DIR_C2S : DIR_S2C, "abc", 3, g, len, NULL,
                              NULL);
        assert_int_not_equal(gs, SIG_VALID);
        g_free(g);
    }
    K->sa_free(st);
    g_rand_free(r);

    /* a KRB-ERROR (made by libkrb5) is shown with its error text */
    krb5_context ctx;
    assert_int_equal(krb5_init_context(&ctx), 0);
    krb5_error e;
    memset(&e, 0, sizeof e);
    e.magic = KV5M_ERROR;
    e.error = (krb5_ui_4)(KRB5KRB_AP_ERR_SKEW - KRB5KDC_ERR_NONE);
    e.stime = 1;
    assert_int_equal(krb5_parse_name(ctx, "sip/server.contoso.test@CONTOSO.TEST", &e.server), 0);
    krb5_data out;
    assert_int_equal(krb5_mk_error(ctx, &e, &out), 0);
    uint8_t *gtok = g_malloc(out.length + 32);
    size_t body = 11 + 2 + out.length;
    assert_true(body < 0x10000);
    size_t p = 0;
    gtok[p++] = 0x60;
    if (body < 0x80) {
        gtok[p++] = (uint8_t)body;
    } else if (body < 0x100) {
        gtok[p++] = 0x81;
        gtok[p++] = (uint8_t)body;
    } else {
        gtok[p++] = 0x82;
        gtok[p++] = (uint8_t)(body >> 8);
        gtok[p++] = (uint8_t)body;
    }
    static const uint8_t oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02,
                                  0x02, 0x03, 0x00};
    memcpy(gtok + p, oid, sizeof oid);
    p += sizeof oid;
    memcpy(gtok + p, out.data, out.length);
    p += out.length;
    notes = note_list_new();
    st = K->sa_new(NULL);
    K->on_token(st, DIR_S2C, gtok, p, ks, notes);
    if (!tu_has_note(notes, NOTE_TOKEN, "KRB-ERROR 37"))
        tu_dump_notes(notes);
    assert_true(tu_has_note(notes, NOTE_TOKEN, "KRB-ERROR 37"));
    K->sa_free(st);
    note_list_free(notes);
    g_free(gtok);
    krb5_free_data_contents(ctx, &out);
    krb5_free_principal(ctx, e.server);
    krb5_free_context(ctx);

    hostile(NULL, NULL, 0, NULL);
    keystore_free(ks);
}

/* ------------------------------------------------------------------ DER reader */

static void test_der_reader(void **state)
{
    (void)state;
    krb_der_tlv t;
    size_t len, hdr;
    static const uint8_t l1[] = {0x81, 0x7f};         /* not minimal */
    static const uint8_t l2[] = {0x82, 0x00, 0x80};   /* leading zero */
    static const uint8_t l3[] = {0x82, 0x01, 0x00};
    assert_int_equal(krb_der_length(l1, sizeof l1, &len, &hdr), -1);
    assert_int_equal(krb_der_length(l2, sizeof l2, &len, &hdr), -1);
    assert_int_equal(krb_der_length(l3, sizeof l3, &len, &hdr), 1);
    assert_int_equal(len, 256);
    assert_int_equal(hdr, 3);

    /* seq-number encodings: 4-octet negative (Windows) and 5-octet positive */
    static const uint8_t neg[] = {0x02, 0x04, 0xff, 0xff, 0xff, 0xfe};
    static const uint8_t pos5[] = {0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xfe};
    static const uint8_t big5[] = {0x02, 0x05, 0x01, 0xff, 0xff, 0xff, 0xfe};
    uint32_t u;
    int32_t i32;
    krb_der d;
    krb_der_init(&d, neg, sizeof neg);
    assert_int_equal(krb_der_next(&d, &t), 1);
    assert_int_equal(krb_der_uint32(&t, &u), 1);
    assert_int_equal(u, 0xfffffffeu);
    assert_int_equal(krb_der_int32(&t, &i32), 1);
    assert_int_equal(i32, -2);
    assert_int_equal(krb_der_next(&d, &t), 0);
    krb_der_init(&d, pos5, sizeof pos5);
    assert_int_equal(krb_der_next(&d, &t), 1);
    assert_int_equal(krb_der_uint32(&t, &u), 1);
    assert_int_equal(u, 0xfffffffeu);
    assert_int_equal(krb_der_int32(&t, &i32), -1);
    krb_der_init(&d, big5, sizeof big5);
    assert_int_equal(krb_der_next(&d, &t), 1);
    assert_int_equal(krb_der_uint32(&t, &u), -1);

    /* the error is sticky */
    static const uint8_t bad[] = {0x30, 0x05, 0x00};
    krb_der_init(&d, bad, sizeof bad);
    assert_int_equal(krb_der_next(&d, &t), -1);
    assert_int_equal(krb_der_next(&d, &t), -1);
}

/* krb_der_fields (one scan) answers as krb_der_field does, for every field number: on the lab
 * AP-REQ's body, on mutations of it, on random bodies made of [n] fields, duplicates and junk. */
static void der_fields_agree(const uint8_t *body, size_t len)
{
    krb_der_tlv seq;
    memset(&seq, 0, sizeof seq);
    seq.tag = KRB_DER_SEQUENCE;
    seq.val = body;
    seq.len = len;
    krb_der_fields ix;
    krb_der_fields_scan(&seq, &ix);
    for (unsigned n = 0; n < 33; n++) {
        krb_der_tlv a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        int ra = krb_der_field(&seq, n, &a);
        int rb = krb_der_fields_get(&ix, n, &b);
        assert_int_equal(ra, rb);
        if (ra == 1) {
            assert_int_equal(a.tag, b.tag);
            assert_ptr_equal(a.raw, b.raw);
            assert_int_equal(a.rawlen, b.rawlen);
            assert_ptr_equal(a.val, b.val);
            assert_int_equal(a.len, b.len);
        }
    }
}

static void test_der_fields(void **state)
{
    (void)state;
    size_t n;
    uint8_t *req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    /* the AP-REQ inside its GSS framing: find 6e, then its SEQUENCE */
    size_t at = 0;
    while (at < n && req[at] != 0x6e)
        at++;
    krb_der_tlv seq;
    assert_int_equal(krb_der_app_seq(req + at, n - at, 14, &seq), 1);
    size_t off = (size_t)(seq.val - req), blen = seq.len;
    der_fields_agree(req + off, blen);
    GRand *r = g_rand_new_with_seed(3961);
    uint8_t *m = g_malloc(blen);
    for (int i = 0; i < 4000; i++) {
        memcpy(m, req + off, blen);
        int flips = g_rand_int_range(r, 1, 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = i % 3 == 0 ? (size_t)g_rand_int_range(r, 0, (gint32)MIN(blen, 40))
                                    : (size_t)g_rand_int_range(r, 0, (gint32)blen);
            m[pos] ^= (uint8_t)g_rand_int_range(r, 1, 256);
        }
        der_fields_agree(m, (size_t)g_rand_int_range(r, 0, (gint32)blen + 1));
    }
    g_free(m);
    /* bodies of small [n] fields: some repeated, some empty or holding two TLVs, junk */
    uint8_t b[256];
    for (int i = 0; i < 20000; i++) {
        size_t len = 0;
        int parts = g_rand_int_range(r, 0, 8);
        for (int k = 0; k < parts && len + 8 <= sizeof b; k++) {
            int kind = g_rand_int_range(r, 0, 10);
            uint8_t tag = kind < 7 ? (uint8_t)(0xa0 | g_rand_int_range(r, 0, 6))
                          : kind < 8 ? (uint8_t)(0x80 | g_rand_int_range(r, 0, 6))
                          : kind < 9 ? 0x30 : (uint8_t)g_rand_int_range(r, 0, 256);
            int inner = g_rand_int_range(r, 0, 4); /* 0: empty, 1: one INTEGER, 2: two, 3: junk */
            b[len++] = tag;
            if (inner == 0) {
                b[len++] = 0x00;
            } else if (inner == 1) {
                b[len++] = 0x03;
                b[len++] = 0x02;
                b[len++] = 0x01;
                b[len++] = (uint8_t)k;
            } else if (inner == 2) {
                b[len++] = 0x06;
                b[len++] = 0x02;
                b[len++] = 0x01;
                b[len++] = 0x01;
                b[len++] = 0x02;
                b[len++] = 0x01;
                b[len++] = 0x02;
            } else {
                b[len++] = 0x02;
                b[len++] = (uint8_t)g_rand_int_range(r, 0, 256);
                b[len++] = (uint8_t)g_rand_int_range(r, 0, 256);
            }
        }
        der_fields_agree(b, len);
    }
    g_rand_free(r);
    g_free(req);
}

/* An RFC 4121 MIC token over buf made with key (enctype 18) by libkrb5: flags, SND_SEQ. */
static uint8_t *make_cfx(const uint8_t key[32], uint8_t flags, uint64_t seq, const char *buf,
                         size_t buflen, size_t *len)
{
    krb5_context ctx;
    assert_int_equal(krb5_init_context(&ctx), 0);
    uint8_t hdr[16] = { 0x04, 0x04, flags, 0xff, 0xff, 0xff, 0xff, 0xff };
    for (int i = 0; i < 8; i++)
        hdr[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
    GByteArray *data = g_byte_array_new();
    g_byte_array_append(data, (const guint8 *)buf, (guint)buflen);
    g_byte_array_append(data, hdr, 16);
    krb5_keyblock kb = { KV5M_KEYBLOCK, ENCTYPE_AES256_CTS_HMAC_SHA1_96, 32, (krb5_octet *)key };
    krb5_data d = { KV5M_DATA, data->len, (char *)data->data };
    krb5_checksum c;
    assert_int_equal(krb5_c_make_checksum(ctx, 0, &kb, (flags & 1) ? 23 : 25, &d, &c), 0);
    uint8_t *tok = g_malloc(16 + c.length);
    memcpy(tok, hdr, 16);
    memcpy(tok + 16, c.contents, c.length);
    *len = 16 + c.length;
    krb5_free_checksum_contents(ctx, &c);
    g_byte_array_free(data, TRUE);
    krb5_free_context(ctx);
    return tok;
}

/* The texts kept per SA (issue 10) are those a printf per message gave: the VALID text with
 * SND_SEQ of 8 and 16 hex digits in both directions, again and again on one SA, and a wrong
 * signature's text and notes the same every time, before and after the key was proven. */
static void test_cfx_texts_per_message(void **state)
{
    (void)state;
    uint8_t key[32];
    GString *line = g_string_new("# k\nKERBEROS C0FFEE01 18 ");
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)(i * 7 + 1);
        g_string_append_printf(line, "%02x", key[i]);
    }
    g_string_append_c(line, '\n');
    char *dir = tmpdir();
    char *kl = write_file(dir, "keys.log", line->str);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    void *st = K->sa_new(NULL);
    const char *buf = "INVITE sip:x SIP/2.0 (signed buffer)";
    size_t bl = strlen(buf);
    static const uint64_t seqs[] = { 0x1234abcdu, 0x00000001deadbeefull, 0, 0xffffffffffffffffull,
                                     7 };
    /* a wrong signature before any match: the key is not known to be the signing key */
    size_t tl;
    uint8_t *bad = make_cfx(key, 0, 5, buf, bl, &tl);
    bad[tl - 1] ^= 1;
    for (int phase = 0; phase < 2; phase++) {
        char *first = NULL, *first_notes = NULL;
        for (int rep = 0; rep < 3; rep++) {
            note_list *n = note_list_new();
            char *why = NULL;
            sig_status s = check(st, ks, "C0FFEE01", DIR_C2S, buf, bl, bad, tl, n, &why);
            assert_int_equal(s, phase ? SIG_INVALID : SIG_NO_KEY);
            GString *all = g_string_new(NULL);
            for (guint j = 0; j < n->len; j++)
                g_string_append_printf(all, "%d %d %s\n",
                                       (int)g_array_index(n, mssipae_note, j).kind,
                                       (int)g_array_index(n, mssipae_note, j).sev,
                                       g_array_index(n, mssipae_note, j).text);
            if (phase) {
                assert_string_equal(why, "RFC 4121 MIC does not verify with the key "
                                         "(aes256-cts-hmac-sha1-96) of KERBEROS key-log line 2");
                assert_string_equal(all->str, "5 2 Kerberos: RFC 4121 MIC does not verify with "
                                              "the key (aes256-cts-hmac-sha1-96) of KERBEROS "
                                              "key-log line 2\n");
            }
            if (!first) {
                first = why;
                first_notes = g_string_free(all, FALSE);
            } else {
                assert_string_equal(why, first);
                assert_string_equal(all->str, first_notes);
                g_free(why);
                g_string_free(all, TRUE);
            }
            note_list_free(n);
        }
        g_free(first);
        g_free(first_notes);
        for (size_t i = 0; i < G_N_ELEMENTS(seqs); i++)
            for (int acc = 0; acc < 2; acc++) {
                uint8_t *tok = make_cfx(key, (uint8_t)acc, seqs[i], buf, bl, &tl);
                char seqs_txt[40];
                if (seqs[i] >> 32)
                    g_snprintf(seqs_txt, sizeof seqs_txt, "0x%08x%08x", (unsigned)(seqs[i] >> 32),
                               (unsigned)seqs[i]);
                else
                    g_snprintf(seqs_txt, sizeof seqs_txt, "0x%08x", (unsigned)seqs[i]);
                char *want = g_strdup_printf("RFC 4121 MIC verified with the key "
                                             "(aes256-cts-hmac-sha1-96) of KERBEROS key-log line "
                                             "2, key usage %d (sent by the %s), SND_SEQ %s",
                                             acc ? 23 : 25,
                                             acc ? "server (acceptor)" : "client (initiator)",
                                             seqs_txt);
                for (int rep = 0; rep < 2; rep++) {
                    char *why = NULL;
                    assert_int_equal(check(st, ks, "C0FFEE01", acc ? DIR_S2C : DIR_C2S, buf, bl,
                                           tok, tl, NULL, &why), SIG_VALID);
                    assert_string_equal(why, want);
                    g_free(why);
                }
                g_free(want);
                g_free(tok);
            }
    }
    g_free(bad);
    K->sa_free(st);
    keystore_free(ks);
    g_free(kl);
    g_string_free(line, TRUE);
    static const char *const files[] = {"keys.log", NULL};
    rm_tree(dir, files);
}

/* What is missing is said when a token has no candidate (issue 10: made only then, no longer
 * kept per SA): an RFC 4121 token with flag AcceptorSubkey on an SA whose AP-REP was not seen,
 * every message alike; and the VALID texts of SAs of one capture (shared per capture) stay each
 * SA's own. Texts as the code before issue 10's third round gave them. */
static void test_cfx_missing_and_shared_texts(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, KEYTAB), 0);
    void *cap = K->cap_new();
    size_t n, al, il, buflen;
    uint8_t *req = case_hex("aes256-oneleg", "ap-req.hex", &n);
    uint8_t *acc = case_hex("aes256-oneleg", "mic-acceptor.hex", &al);
    uint8_t *ini = case_hex("aes256-oneleg", "mic-initiator.hex", &il);
    char *buf = case_buf("aes256-oneleg", &buflen);
    for (int sa = 0; sa < 3; sa++) {
        void *st = K->sa_new(cap);
        note_list *notes = note_list_new();
        K->on_token(st, DIR_C2S, req, n, ks, notes);
        /* the client name (kept once per capture) as the AP-REQ note gives it */
        char *cn = K->client_name(st);
        char *want_cn = tu_value(VALUES, "client");
        assert_non_null(cn);
        assert_string_equal(cn, want_cn);
        g_free(want_cn);
        char *want_cl = g_strdup_printf("; client %s;", cn);
        int seen = 0;
        for (guint j = 0; j < notes->len; j++)
            seen |= strstr(g_array_index(notes, mssipae_note, j).text, want_cl) != NULL;
        assert_true(seen);
        g_free(want_cl);
        g_free(cn);
        note_list_free(notes);
        for (int rep = 0; rep < 2; rep++) {
            char *why = NULL;
            assert_int_equal(check(st, ks, NULL, DIR_S2C, buf, buflen, acc, al, NULL, &why),
                             SIG_VALID);
            assert_true(g_str_has_prefix(why, "RFC 4121 MIC verified with the authenticator "
                                              "subkey (aes256-cts-hmac-sha1-96) from the AP-REQ, "
                                              "key usage 23 (sent by the server (acceptor)), "
                                              "SND_SEQ 0x"));
            g_free(why);
            assert_int_equal(check(st, ks, NULL, DIR_C2S, buf, buflen, ini, il, NULL, &why),
                             SIG_VALID);
            assert_true(g_str_has_prefix(why, "RFC 4121 MIC verified with the authenticator "
                                              "subkey (aes256-cts-hmac-sha1-96) from the AP-REQ, "
                                              "key usage 25 (sent by the client (initiator)), "
                                              "SND_SEQ 0x"));
            g_free(why);
        }
        uint8_t *tok = g_memdup2(acc, al);
        tok[2] = 0x05; /* SentByAcceptor | AcceptorSubkey */
        for (int rep = 0; rep < 2; rep++) {
            for (int op = 0; op < 2; op++) {
                note_list *nl = note_list_new();
                char *why = NULL;
                assert_int_equal(check(st, ks, op ? "ABCD" : NULL, DIR_S2C, buf, buflen, tok, al,
                                       nl, &why), SIG_NO_KEY);
                /* the handshake's part of the no-key text is empty here: one separator */
                const char *want = op ? "the token has flag AcceptorSubkey but no AP-REP was "
                                        "seen; no KERBEROS key-log entry for opaque ABCD"
                                      : "the token has flag AcceptorSubkey but no AP-REP was "
                                        "seen; no opaque known to look up a KERBEROS key-log "
                                        "entry";
                assert_string_equal(why, want);
                assert_int_equal(nl->len, 1);
                char *wn = g_strconcat("Kerberos: ", want, NULL);
                assert_string_equal(g_array_index(nl, mssipae_note, 0).text, wn);
                assert_int_equal(g_array_index(nl, mssipae_note, 0).kind, NOTE_NO_KEY);
                g_free(wn);
                g_free(why);
                note_list_free(nl);
            }
        }
        g_free(tok);
        K->sa_free(st);
    }
    K->cap_free(cap);
    g_free(req);
    g_free(acc);
    g_free(ini);
    g_free(buf);
    keystore_free(ks);
}

/* With no key at all (a capture opened without keys: every signature NO_KEY), the text kept
 * per SA (issue 10) is the one made for each message before: it names the header's own opaque
 * (kept ones are compared byte for byte; one too long to keep is formatted every time), and a
 * key-log line that appears later is used at once. Expected texts written out here, as
 * krb_nokey_text's sentences read. */
static void test_nokey_texts_per_message(void **state)
{
    (void)state;
    uint8_t key[32];
    GString *line = g_string_new("KERBEROS C0FFEE01 18 ");
    for (int i = 0; i < 32; i++) {
        key[i] = (uint8_t)(i * 5 + 3);
        g_string_append_printf(line, "%02x", key[i]);
    }
    g_string_append_c(line, '\n');
    char *dir = tmpdir();
    char *kl = write_file(dir, "keys.log", "# nothing yet\n");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    void *cap = K->cap_new();
    void *st = K->sa_new(cap);
    const char *buf = "MESSAGE sip:x SIP/2.0 (signed buffer)";
    size_t bl = strlen(buf), tl;
    uint8_t *tok = make_cfx(key, 0, 9, buf, bl, &tl);
    static const char *const opaques[] = {
        "AB12", "AB12", "AB13", NULL, "AB1", "AB12", "",
        "0123456789ABCDEF0123", "0123456789ABCDEF0123", "0123456789ABCDE", "0123456789ABCD",
        "AB12", "C0FFEE01", "C0FFEE01",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(opaques); i++) {
        const char *o = opaques[i];
        char *want = o ? g_strdup_printf("no Kerberos AP-REQ seen on this SA; no KERBEROS "
                                         "key-log entry for opaque %s", o)
                       : g_strdup("no Kerberos AP-REQ seen on this SA; no opaque known to "
                                  "look up a KERBEROS key-log entry");
        note_list *n = note_list_new();
        char *why = NULL;
        assert_int_equal(check(st, ks, o, DIR_C2S, buf, bl, tok, tl, n, &why), SIG_NO_KEY);
        assert_string_equal(why, want);
        assert_int_equal(n->len, 1);
        char *wn = g_strconcat("Kerberos: ", want, NULL);
        assert_string_equal(g_array_index(n, mssipae_note, 0).text, wn);
        assert_int_equal(g_array_index(n, mssipae_note, 0).kind, NOTE_NO_KEY);
        assert_int_equal(g_array_index(n, mssipae_note, 0).sev, NOTE_SEV_WARN);
        g_free(wn);
        g_free(why);
        g_free(want);
        note_list_free(n);
    }
    /* the line for C0FFEE01 appears: the next message of the SA verifies with it */
    g_free(write_file(dir, "keys.log", line->str));
    for (int rep = 0; rep < 2; rep++) {
        char *why = NULL;
        assert_int_equal(check(st, ks, "C0FFEE01", DIR_C2S, buf, bl, tok, tl, NULL, &why),
                         SIG_VALID);
        assert_true(g_str_has_prefix(why, "RFC 4121 MIC verified with the key "
                                          "(aes256-cts-hmac-sha1-96) of KERBEROS key-log line 1"));
        g_free(why);
        /* another opaque of the same SA still has no key */
        assert_int_equal(check(st, ks, "AB12", DIR_C2S, buf, bl, tok, tl, NULL, &why),
                         SIG_NO_KEY);
        assert_string_equal(why, "no Kerberos AP-REQ seen on this SA; no KERBEROS key-log "
                                 "entry for opaque AB12");
        g_free(why);
    }
    g_free(tok);
    K->sa_free(st);
    K->cap_free(cap);
    keystore_free(ks);
    g_free(kl);
    g_string_free(line, TRUE);
    static const char *const files[] = {"keys.log", NULL};
    rm_tree(dir, files);
}

/* Hex (spaces allowed) into out; the byte count. */
static size_t unhex(const char *h, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        assert_true(n < max);
        assert_int_equal(sscanf(h, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

/* RFC 3961 A.1 n-fold known answers. The first five also stand in MIT krb5's t_nfold.c; all were
 * re-derived with ../shared/vectors/check_vectors.py's independent _nfold. */
static void test_nfold_rfc3961(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t bits;
        const char *out;
    } v[] = {
        {"012345", 64, "be072631276b1955"},
        {"password", 56, "78a07b6caf85fa"},
        {"Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"},
        {"password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"},
        {"MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192,
         "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"},
        {"Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"},
        {"ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"},
        {"kerberos", 64, "6b65726265726f73"},
        {"kerberos", 128, "6b65726265726f737b9b5b2b93132b93"},
        {"kerberos", 168, "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4"},
        {"kerberos", 256, "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
        uint8_t want[32], got[33];
        size_t n = unhex(v[i].out, want, sizeof want);
        assert_int_equal(n * 8, v[i].bits);
        memset(got, 0xee, sizeof got);
        krb_nfold((const uint8_t *)v[i].in, strlen(v[i].in), got, n);
        assert_memory_equal(got, want, n);
        assert_int_equal(got[n], 0xee);
    }
}

/* RFC 3962 Appendix B: the AES key is DK(PBKDF2 output, "kerberos") (random-to-key is the
 * identity), for 128- and 256-bit keys. */
static void test_aes_dk_rfc3962(void **state)
{
    (void)state;
    static const struct {
        const char *tkey, *key;
    } v[] = {
        /* iteration count 1, "password", "ATHENA.MIT.EDUraeburn" */
        {"cd ed b5 28 1b b2 f8 01 56 5a 11 22 b2 56 35 15",
         "42 26 3c 6e 89 f4 fc 28 b8 df 68 ee 09 79 9f 15"},
        {"cd ed b5 28 1b b2 f8 01 56 5a 11 22 b2 56 35 15 0a d1 f7 a0 4b b9 f3 a3 33 ec c0 e2 e1 "
         "f7 08 37",
         "fe 69 7b 52 bc 0d 3c e1 44 32 ba 03 6a 92 e6 5b bb 52 28 09 90 a2 fa 27 88 39 98 d7 2a "
         "f3 01 61"},
        /* iteration count 1200, "password", "ATHENA.MIT.EDUraeburn" */
        {"5c 08 eb 61 fd f7 1e 4e 4e c3 cf 6b a1 f5 51 2b",
         "4c 01 cd 46 d6 32 d0 1e 6d be 23 0a 01 ed 64 2a"},
        {"5c 08 eb 61 fd f7 1e 4e 4e c3 cf 6b a1 f5 51 2b a7 e5 2d db c5 e5 14 2f 70 8a 31 e2 e6 "
         "2b 1e 13",
         "55 a6 ac 74 0a d1 7b 48 46 94 10 51 e1 e8 b0 a7 54 8d 93 b0 ab 30 a8 bc 3f f1 62 80 38 "
         "2b 8c 2a"},
        /* iteration count 50, g-clef, "EXAMPLE.COMpianist" */
        {"6b 9c f2 6d 45 45 5a 43 a5 b8 bb 27 6a 40 3b 39",
         "f1 49 c1 f2 e1 54 a7 34 52 d4 3e 7f e6 2a 56 e5"},
        {"6b 9c f2 6d 45 45 5a 43 a5 b8 bb 27 6a 40 3b 39 e7 fe 37 a0 c4 1e 02 c2 81 ff 30 69 e1 "
         "e9 4f 52",
         "4b 6d 98 39 f8 44 06 df 1f 09 cc 16 6d b4 b8 3c 57 18 48 b7 84 a3 d6 bd c3 46 58 9a 3e "
         "39 3f 9e"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
        uint8_t tkey[32], want[32], got[32];
        size_t n = unhex(v[i].tkey, tkey, sizeof tkey);
        assert_int_equal(unhex(v[i].key, want, sizeof want), n);
        assert_int_equal(krb_aes_dk(tkey, n, (const uint8_t *)"kerberos", 8, got), 0);
        assert_memory_equal(got, want, n);
    }
    uint8_t k24[24] = {0}, out[32];
    assert_int_equal(krb_aes_dk(k24, sizeof k24, (const uint8_t *)"kerberos", 8, out), -1);
}

/* The fast path's checksum is libkrb5's for aes128 / aes256-cts-hmac-sha1-96, several usages
 * (23 and 25 are those RFC 4121 MICs use) and lengths around the SHA-1 block size. */
static void test_fast_equals_libkrb5(void **state)
{
    (void)state;
    krb5_context ctx;
    assert_int_equal(krb5_init_context(&ctx), 0);
    static const int32_t ets[] = {ENCTYPE_AES128_CTS_HMAC_SHA1_96, ENCTYPE_AES256_CTS_HMAC_SHA1_96};
    static const krb5_keyusage usages[] = {1, 11, 22, 23, 24, 25, 26, 1024, 0x7fffffff};
    static const size_t lens[] = {0, 1, 16, 43, 44, 55, 56, 63, 64, 65, 119, 120, 350, 1000};
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37u + 11u);
    for (size_t e = 0; e < G_N_ELEMENTS(ets); e++) {
        for (int kv = 0; kv < 3; kv++) {
            uint8_t key[32];
            size_t klen = ets[e] == ENCTYPE_AES128_CTS_HMAC_SHA1_96 ? 16 : 32;
            for (size_t i = 0; i < klen; i++)
                key[i] = (uint8_t)(kv * 91 + i * 13 + 5);
            krb5_keyblock kb = {KV5M_KEYBLOCK, ets[e], (unsigned int)klen, key};
            for (size_t u = 0; u < G_N_ELEMENTS(usages); u++) {
                struct krb_ck_key h;
                assert_int_equal(krb_aes_sha1_ck_init(&h, ets[e], key, klen, usages[u]), 0);
                /* h is reused for every length (it must not change), data in one part and split
                 * in two as the MIC check hashes buffer || token header */
                for (size_t l = 0; l < G_N_ELEMENTS(lens); l++) {
                    krb5_data d = {KV5M_DATA, (unsigned int)lens[l], (char *)data};
                    krb5_checksum c;
                    assert_int_equal(krb5_c_make_checksum(ctx, 0, &kb, usages[u], &d, &c), 0);
                    assert_int_equal(c.length, 12);
                    uint8_t mine[12];
                    krb_aes_sha1_ck(&h, data, lens[l], NULL, 0, mine);
                    assert_memory_equal(c.contents, mine, 12);
                    const size_t cuts[] = {0, 1, lens[l] / 2, lens[l] > 16 ? lens[l] - 16 : 0,
                                           lens[l]};
                    for (size_t j = 0; j < G_N_ELEMENTS(cuts); j++) {
                        memset(mine, 0, sizeof mine);
                        size_t cut = cuts[j] < lens[l] ? cuts[j] : lens[l];
                        krb_aes_sha1_ck(&h, data, cut, data + cut, lens[l] - cut, mine);
                        assert_memory_equal(c.contents, mine, 12);
                    }
                    krb5_free_checksum_contents(ctx, &c);
                }
            }
        }
    }
    /* other enctypes have no fast path */
    uint8_t key[32] = {1};
    struct krb_ck_key h;
    assert_int_equal(krb_aes_sha1_ck_init(&h, ENCTYPE_AES256_CTS_HMAC_SHA384_192, key, 32, 23), -1);
    assert_int_equal(krb_aes_sha1_ck_init(&h, ENCTYPE_AES128_CTS_HMAC_SHA256_128, key, 16, 23), -1);
    assert_int_equal(krb_aes_sha1_ck_init(&h, ENCTYPE_ARCFOUR_HMAC, key, 16, 23), -1);
    assert_int_equal(krb_aes_sha1_ck_init(&h, ENCTYPE_AES256_CTS_HMAC_SHA1_96, key, 16, 23), -1);
    krb5_free_context(ctx);
}

/* krb_fast_verify on an SA-style key: a match, a mismatch, and -1 (libkrb5) where there is no
 * fast path: other enctypes and checksum types, another checksum length, a third usage, and an
 * enctype and usage whose fast path did not give libkrb5's checksum in this capture (cap). The
 * first state of an enctype and usage in a capture is cross-checked with libkrb5. */
static void test_fast_verify_fallbacks(void **state)
{
    (void)state;
    krb5_context ctx;
    assert_int_equal(krb5_init_context(&ctx), 0);
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i ^ 0x5a);
    krb5_data d = {KV5M_DATA, (unsigned int)sizeof data, (char *)data};
    krb_cap *cap = krb_cap_new();
    static const struct {
        int32_t et;
        size_t len;
        int fast;
    } ks[] = {
        {ENCTYPE_AES128_CTS_HMAC_SHA1_96, 16, 1},
        {ENCTYPE_AES256_CTS_HMAC_SHA1_96, 32, 1},
        {ENCTYPE_AES128_CTS_HMAC_SHA256_128, 16, 0},
        {ENCTYPE_AES256_CTS_HMAC_SHA384_192, 32, 0},
        {ENCTYPE_ARCFOUR_HMAC, 16, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ks); i++) {
        uint8_t raw[32];
        for (size_t j = 0; j < sizeof raw; j++)
            raw[j] = (uint8_t)(j * 3 + i * 17 + 1);
        krb_keyv k;
        memset(&k, 0, sizeof k);
        krb_keyv_set(&k, ks[i].et, raw, ks[i].len);
        krb5_keyblock kb = krb_keyv_block(&k);
        krb5_key kk;
        assert_int_equal(krb5_k_create_key(ctx, &kb, &kk), 0);
        for (int round = 0; round < 2; round++) /* the first makes the state, the second reuses it */
            for (krb5_keyusage u = 23; u <= 25; u += 2) {
                krb5_checksum c;
                assert_int_equal(krb5_k_make_checksum(ctx, 0, kk, u, &d, &c), 0);
                int r = krb_fast_verify(ctx, cap, &k, c.checksum_type, u, data, sizeof data,
                                        c.contents, c.length);
                assert_int_equal(r, ks[i].fast ? 1 : -1);
                if (ks[i].fast) /* checked against libkrb5 the first time, and found good */
                    assert_int_equal(krb_cap_fast_checked(cap, ks[i].et, u), 1);
                if (ks[i].fast) {
                    c.contents[5] ^= 0x10;
                    assert_int_equal(krb_fast_verify(ctx, cap, &k, c.checksum_type, u, data,
                                                     sizeof data, c.contents, c.length), 0);
                    c.contents[5] ^= 0x10;
                    assert_int_equal(krb_fast_verify(ctx, cap, &k, c.checksum_type, u, data,
                                                     sizeof data - 1, c.contents, c.length), 0);
                    /* a shorter checksum, or another checksum type: libkrb5's business */
                    assert_int_equal(krb_fast_verify(ctx, cap, &k, c.checksum_type, u, data,
                                                     sizeof data, c.contents, 10), -1);
                    assert_int_equal(krb_fast_verify(ctx, cap, &k, CKSUMTYPE_HMAC_SHA256_128_AES128,
                                                     u, data, sizeof data, c.contents, 12), -1);
                }
                krb5_free_checksum_contents(ctx, &c);
            }
        if (ks[i].fast) {
            /* both slots are taken (23, 25): a third usage goes to libkrb5 */
            assert_int_equal(krb_fast_verify(ctx, cap, &k, ks[i].len == 16
                                             ? CKSUMTYPE_HMAC_SHA1_96_AES128
                                             : CKSUMTYPE_HMAC_SHA1_96_AES256, 24, data,
                                             sizeof data, data, 12), -1);
            /* an enctype and usage found bad in this capture: never used, for any key */
            krb_cap *bad = krb_cap_new();
            krb_cap_fast_set(bad, ks[i].et, 23, -1);
            krb_keyv k2;
            memset(&k2, 0, sizeof k2);
            krb_keyv_set(&k2, ks[i].et, raw, ks[i].len);
            krb5_checksum c;
            assert_int_equal(krb5_k_make_checksum(ctx, 0, kk, 23, &d, &c), 0);
            for (int round = 0; round < 2; round++) {
                assert_int_equal(krb_fast_verify(ctx, bad, &k2, c.checksum_type, 23, data,
                                                 sizeof data, c.contents, c.length), -1);
                assert_int_equal(krb_fast_verify(ctx, cap, &k2, c.checksum_type, 23, data,
                                                 sizeof data, c.contents, c.length), 1);
            }
            krb5_free_checksum_contents(ctx, &c);
            krb_keyv_clear(&k2);
            krb_cap_free(bad);
        }
        krb5_k_free_key(ctx, kk);
        krb_keyv_clear(&k);
    }
    krb_cap_free(cap);
    krb5_free_context(ctx);
}

/* The capture's cache of HMAC contexts by checksum key (krb_fast.c): keys used interleaved, many
 * more than its slots (evictions, several keys per set, the cache growing as it thrashes), each
 * checked in turn with both usages, several rounds: every checksum matches its own key and usage
 * and no other (a cached state is only ever used for its own Kc: no false hit after a
 * replacement or a move). */
static void test_fast_cache_interleaved(void **state)
{
    (void)state;
    krb5_context ctx;
    assert_int_equal(krb5_init_context(&ctx), 0);
    uint8_t data[80];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    krb5_data d = {KV5M_DATA, (unsigned int)sizeof data, (char *)data};
    krb_cap *cap = krb_cap_new();
    enum { NK = 300 };
    krb_keyv *k = g_new0(krb_keyv, NK);
    uint8_t (*ck)[2][12] = g_malloc0(NK * sizeof *ck);
    for (size_t i = 0; i < NK; i++) {
        uint8_t raw[32];
        for (size_t j = 0; j < sizeof raw; j++)
            raw[j] = (uint8_t)(j * 5 + i * 29 + (i >> 8) + 1);
        int aes256 = i % 3 != 0;
        krb_keyv_set(&k[i], aes256 ? ENCTYPE_AES256_CTS_HMAC_SHA1_96
                                   : ENCTYPE_AES128_CTS_HMAC_SHA1_96, raw, aes256 ? 32 : 16);
        krb5_keyblock kb = krb_keyv_block(&k[i]);
        for (int u = 0; u < 2; u++) {
            krb5_checksum c;
            assert_int_equal(krb5_c_make_checksum(ctx, 0, &kb, u ? 25 : 23, &d, &c), 0);
            assert_int_equal(c.length, 12);
            memcpy(ck[i][u], c.contents, 12);
            krb5_free_checksum_contents(ctx, &c);
        }
    }
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < NK; i++)
            for (int u = 0; u < 2; u++) {
                krb5_cksumtype t = k[i].len == 32 ? CKSUMTYPE_HMAC_SHA1_96_AES256
                                                  : CKSUMTYPE_HMAC_SHA1_96_AES128;
                krb5_keyusage us = u ? 25 : 23;
                assert_int_equal(krb_fast_verify(ctx, cap, &k[i], t, us, data, sizeof data,
                                                 ck[i][u], 12), 1);
                /* the other usage's checksum, and the next key's (same type): mismatches */
                assert_int_equal(krb_fast_verify(ctx, cap, &k[i], t, us, data, sizeof data,
                                                 ck[i][!u], 12), 0);
                size_t o = (i + 3) % NK; /* same enctype as i (3 apart) */
                assert_int_equal(krb_fast_verify(ctx, cap, &k[i], t, us, data, sizeof data,
                                                 ck[o][u], 12), 0);
            }
    for (size_t i = 0; i < NK; i++)
        krb_keyv_clear(&k[i]);
    g_free(k);
    g_free(ck);
    krb_cap_free(cap);
    krb5_free_context(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lab_aes256_oneleg),
        cmocka_unit_test(test_lab_aes256_mutual),
        cmocka_unit_test(test_lab_rc4_session),
        cmocka_unit_test(test_lab_rc4_ticket),
        cmocka_unit_test(test_aprep_before_apreq),
        cmocka_unit_test(test_wrong_direction_token),
        cmocka_unit_test(test_keylog_subkey_no_handshake),
        cmocka_unit_test(test_keylog_session_key_with_handshake),
        cmocka_unit_test(test_keylog_bad_keys),
        cmocka_unit_test(test_keylog_key_proven_by_a_match),
        cmocka_unit_test(test_keylog_after_keytab_opened),
        cmocka_unit_test(test_no_keytab),
        cmocka_unit_test(test_other_keytab),
        cmocka_unit_test(test_ticket_cache),
        cmocka_unit_test(test_hostile_truncated),
        cmocka_unit_test(test_hostile_crafted),
        cmocka_unit_test(test_der_reader),
        cmocka_unit_test(test_der_fields),
        cmocka_unit_test(test_cfx_texts_per_message),
        cmocka_unit_test(test_cfx_missing_and_shared_texts),
        cmocka_unit_test(test_nokey_texts_per_message),
        cmocka_unit_test(test_nfold_rfc3961),
        cmocka_unit_test(test_aes_dk_rfc3962),
        cmocka_unit_test(test_fast_equals_libkrb5),
        cmocka_unit_test(test_fast_verify_fallbacks),
        cmocka_unit_test(test_fast_cache_interleaved),
    };
    (void)CASES;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
