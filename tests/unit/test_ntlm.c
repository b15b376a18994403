/* test_ntlm.c - NTLM primitives and the NTLM mechanism (verify/ntlm.h, verify/mech_ntlm.c).
 *
 * Every expected value comes from tests/vectors (independent sources: [MS-NLMP] 4.2, real
 * OC 2007 R2 / OCS 2007 traffic published by pidgin-sipe), never from our own output.
 *
 * Regression list:
 *  - non-ESS signatures: the pad field (bytes 4..7) is ignored, the full 16-byte key is used;
 *  - a wrong password is NO_KEY with a NOTE_NO_KEY, never INVALID;
 *  - a client signature presented as the server's is INVALID (reflected), never VALID;
 *  - hostile tokens (truncations, bad offsets/lengths, absurd AV pairs) never crash.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nettle/md5.h>

#include "keytab/keystore.h"
#include "verify/mech.h"
#include "verify/ntlm.h"
#include "verify/sa.h"
#include "sigbuf/codec.h"

#define KAT "ms-nlmp-kat/values.txt"
#define R2 "ntlm-oc2007r2-v4/values.txt"
#define NOESS "ntlm-ocs2007-v2-noess/values.txt"

/* ---------------------------------------------------------------- helpers */

/* Hex value of name in a values.txt, decoded; asserts its length when want_len != 0. */
static uint8_t *val_hex(const char *values, const char *name, size_t want_len)
{
    char *h = tu_value(values, name);
    size_t n = 0;
    uint8_t *b = tu_hex(h, &n);
    g_free(h);
    if (want_len)
        assert_int_equal(n, want_len);
    return b;
}

/* Asserts n bytes equal the hex value name of values. */
static void assert_val(const uint8_t *got, size_t n, const char *values, const char *name)
{
    uint8_t *want = val_hex(values, name, n);
    if (memcmp(got, want, n) != 0) {
        char *g = g_malloc(2 * n + 1);
        for (size_t i = 0; i < n; i++)
            sprintf(g + 2 * i, "%02x", got[i]);
        print_error("%s %s: got %s\n", values, name, g);
        g_free(g);
    }
    assert_memory_equal(got, want, n);
    g_free(want);
}

/* A .hex token file, decoded. */
static uint8_t *vec_token(const char *rel, size_t *n)
{
    char *t = tu_read_vector(rel, NULL);
    uint8_t *b = tu_hex(g_strstrip(t), n);
    g_free(t);
    return b;
}

/* Writes a key-log file with one line and returns its path (unlink + g_free it). */
static char *write_keylog(const char *line)
{
    char *path = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("mssipae-ntlm-XXXXXX.keylog", &path, &err);
    assert_true(fd >= 0);
    close(fd);
    char *text = g_strdup_printf("# test key log\n%s\n", line);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    g_free(text);
    return path;
}

/* The key-log line of a vector folder, built from its values (opaque as in the .sip file). */
static char *keylog_line(const char *values, const char *opaque)
{
    char *k = tu_value(values, "exported_session_key");
    char *line = g_strdup_printf("NTLM %s %s", opaque, k);
    g_free(k);
    return line;
}

/* ---------------------------------------------------------------- 1. [MS-NLMP] 4.2 primitives */

static void test_kat_v1(void **state)
{
    char *pw = tu_value(KAT, "password");
    uint8_t *sc = val_hex(KAT, "server_challenge", 8);
    uint8_t *rsk = val_hex(KAT, "random_session_key", 16);
    uint8_t nt1[16], nt1b[16], lm1[16], resp[24], sbk[16], kx[16], esk[16];

    assert_int_equal(ntlm_ntowfv1(pw, nt1), 0);
    assert_val(nt1, 16, KAT, "v1.ntowfv1");
    assert_int_equal(nt_hash_from_password(pw, nt1b), 0); /* the keystore's copy agrees */
    assert_memory_equal(nt1, nt1b, 16);
    assert_int_equal(ntlm_lmowfv1(pw, lm1), 0);
    assert_val(lm1, 16, KAT, "v1.lmowfv1");

    ntlm_v1_response(nt1, sc, NULL, 0, resp);
    assert_val(resp, 24, KAT, "v1.nt_challenge_response");
    ntlm_desl(lm1, sc, resp);
    assert_val(resp, 24, KAT, "v1.lm_challenge_response");

    ntlm_v1_session_base_key(nt1, sbk);
    assert_val(sbk, 16, KAT, "v1.session_base_key");
    /* flags e2028233: no ESS, no LM_KEY, no NON_NT_SESSION_KEY -> KXKEY = SessionBaseKey */
    const char *err = NULL;
    uint8_t *lmr = val_hex(KAT, "v1.lm_challenge_response", 24);
    assert_int_equal(ntlm_v1_kxkey(0xe2028233u, sbk, sc, lmr, 24, lm1, kx, &err), 0);
    assert_val(kx, 16, KAT, "v1.session_base_key");
    /* KEY_EXCH: RC4(KXKEY, EncryptedRandomSessionKey) gives back the random session key */
    uint8_t *ersk = val_hex(KAT, "v1.encrypted_random_session_key", 16);
    assert_int_equal(ntlm_exported_session_key(0xe2028233u, kx, ersk, 16, esk), 0);
    assert_memory_equal(esk, rsk, 16);
    assert_int_equal(ntlm_exported_session_key(0xe2028233u, kx, ersk, 15, esk), -1);

    /* CRC32 inside the non-ESS MAC: checksum fields of text and of "" differ by CRC32(text)
     * (the RC4 keystream cancels out; CRC32("") = 0). */
    char *text_hex = tu_value(KAT, "plaintext_utf16le");
    size_t tl;
    uint8_t *text = tu_hex(text_hex, &tl);
    uint8_t m1[16], m2[16], x[4];
    ntlm_mac_noess(rsk, 16, 0, text, tl, m1);
    ntlm_mac_noess(rsk, 16, 0, (const uint8_t *)"", 0, m2);
    for (int i = 0; i < 4; i++)
        x[3 - i] = m1[8 + i] ^ m2[8 + i]; /* LE32 -> big-endian hex as in values.txt */
    assert_val(x, 4, KAT, "v1.crc32");
    /* ... and the whole stream: pad(0) || CRC32 || SeqNum(0) encrypted from byte 18 of the
     * vector's RC4 stream is what a fresh stream cannot give, so only fields 8..15 are
     * compared through the XOR identity above. */

    g_free(pw); g_free(sc); g_free(rsk); g_free(lmr); g_free(ersk); g_free(text_hex); g_free(text);
}

static void test_kat_ess(void **state)
{
    char *pw = tu_value(KAT, "password");
    uint8_t *sc = val_hex(KAT, "server_challenge", 8);
    uint8_t *cc = val_hex(KAT, "client_challenge", 8);
    uint8_t *lmr = val_hex(KAT, "ess.lm_challenge_response", 24);
    uint8_t nt1[16], resp[24], sbk[16], kx[16], k[16];
    const uint32_t fl = 0x820a8233u; /* [MS-NLMP] 4.2.3: ESS, 56-bit, no KEY_EXCH */
    assert_int_equal(ntlm_ntowfv1(pw, nt1), 0);
    ntlm_v1_response(nt1, sc, cc, 1, resp);
    assert_val(resp, 24, KAT, "ess.nt_challenge_response");
    ntlm_v1_response(nt1, sc, lmr, 1, resp); /* client challenge = LmChallengeResponse[0..7] */
    assert_val(resp, 24, KAT, "ess.nt_challenge_response");
    ntlm_v1_session_base_key(nt1, sbk);
    const char *err = NULL;
    assert_int_equal(ntlm_v1_kxkey(fl, sbk, sc, lmr, 24, NULL, kx, &err), 0);
    assert_val(kx, 16, KAT, "ess.key_exchange_key");
    assert_int_equal(ntlm_v1_kxkey(fl, sbk, sc, lmr, 7, NULL, kx, &err), -1);
    assert_int_equal(ntlm_v1_kxkey(fl, sbk, sc, lmr, 24, NULL, kx, &err), 0);
    ntlm_sign_key(kx, 0, k);
    assert_val(k, 16, KAT, "ess.client_sign_key");
    ntlm_seal_key_ess(kx, fl, 0, k);
    assert_val(k, 16, KAT, "ess.client_seal_key_56bit");
    ntlm_keys keys;
    ntlm_derive_keys(kx, fl, &keys);
    assert_val(keys.sign[0], 16, KAT, "ess.client_sign_key");
    assert_val(keys.seal[0], 16, KAT, "ess.client_seal_key_56bit");

    char *text_hex = tu_value(KAT, "plaintext_utf16le");
    size_t tl;
    uint8_t *text = tu_hex(text_hex, &tl);
    uint8_t mac[16];
    ntlm_mac_ess(keys.sign[0], NULL, 0, text, tl, mac); /* no KEY_EXCH: checksum in clear */
    assert_val(mac + 4, 8, KAT, "ess.checksum_seq0");
    static const uint8_t v1hdr[4] = { 1, 0, 0, 0 }, seq0[4] = { 0 };
    assert_memory_equal(mac, v1hdr, 4);
    assert_memory_equal(mac + 12, seq0, 4);
    ntlm_mac(&keys, 0, 0, text, tl, mac); /* KEY_EXCH not in fl: same */
    assert_val(mac + 4, 8, KAT, "ess.checksum_seq0");
    g_free(pw); g_free(sc); g_free(cc); g_free(lmr); g_free(text_hex); g_free(text);
}

static void test_kat_v2(void **state)
{
    char *pw = tu_value(KAT, "password");
    char *user = tu_value(KAT, "user");
    char *dom = tu_value(KAT, "domain");
    uint8_t *sc = val_hex(KAT, "server_challenge", 8);
    uint8_t *cc = val_hex(KAT, "client_challenge", 8);
    uint8_t *rsk = val_hex(KAT, "random_session_key", 16);
    char *temp_hex = tu_value(KAT, "v2.temp");
    size_t templ;
    uint8_t *temp = tu_hex(temp_hex, &templ);
    uint8_t nt1[16], nt2[16], proof[16], sbk[16], esk[16], lmv2[24];
    const uint32_t fl = 0xe28a8233u; /* [MS-NLMP] 4.2.4 */

    assert_int_equal(ntlm_ntowfv1(pw, nt1), 0);
    assert_int_equal(ntlm_ntowfv2(nt1, user, dom, nt2), 0);
    assert_val(nt2, 16, KAT, "v2.ntowfv2");
    /* UPPER(user) is applied: a lower-case user name gives the same NTOWFv2 */
    char *lower = g_utf8_strdown(user, -1);
    uint8_t nt2b[16];
    assert_int_equal(ntlm_ntowfv2(nt1, lower, dom, nt2b), 0);
    assert_memory_equal(nt2, nt2b, 16);
    g_free(lower);
    ntlm_ntproofstr(nt2, sc, temp, templ, proof);
    assert_val(proof, 16, KAT, "v2.ntproofstr");
    ntlm_lmv2_response(nt2, sc, cc, lmv2);
    assert_val(lmv2, 24, KAT, "v2.lmv2_response");
    ntlm_v2_session_base_key(nt2, proof, sbk);
    assert_val(sbk, 16, KAT, "v2.session_base_key");
    uint8_t *ersk = val_hex(KAT, "v2.encrypted_random_session_key", 16);
    assert_int_equal(ntlm_exported_session_key(fl, sbk, ersk, 16, esk), 0);
    assert_memory_equal(esk, rsk, 16);

    ntlm_keys k;
    ntlm_derive_keys(esk, fl, &k);
    assert_val(k.sign[0], 16, KAT, "v2.client_sign_key");
    assert_val(k.seal[0], 16, KAT, "v2.client_seal_key");
    assert_val(k.sign[1], 16, KAT, "v2.server_sign_key");
    assert_val(k.seal[1], 16, KAT, "v2.server_seal_key");

    char *text_hex = tu_value(KAT, "plaintext_utf16le");
    size_t tl;
    uint8_t *text = tu_hex(text_hex, &tl);
    uint8_t mac[16];
    ntlm_mac_ess(k.sign[0], NULL, 0, text, tl, mac);
    assert_val(mac + 4, 8, KAT, "v2.checksum_seq0");
    g_free(pw); g_free(user); g_free(dom); g_free(sc); g_free(cc); g_free(rsk); g_free(temp_hex);
    g_free(temp); g_free(ersk); g_free(text_hex); g_free(text);
}

/* ---------------------------------------------------------------- 2. OC 2007 R2, NTLMv2 + ESS */

static void test_r2_parse(void **state)
{
    size_t cl, al;
    uint8_t *ct = vec_token("ntlm-oc2007r2-v4/challenge.hex", &cl);
    uint8_t *at = vec_token("ntlm-oc2007r2-v4/authenticate.hex", &al);
    char *err = NULL;
    ntlm_challenge c;
    ntlm_authenticate a;
    assert_int_equal(ntlm_parse_challenge(ct, cl, &c, &err), 0);
    assert_null(err);
    assert_int_equal(ntlm_parse_authenticate(at, al, &a, &err), 0);
    assert_null(err);

    char fl[9];
    snprintf(fl, sizeof fl, "%08x", c.flags);
    char *want = tu_value(R2, "challenge_flags");
    assert_string_equal(fl, want);
    g_free(want);
    snprintf(fl, sizeof fl, "%08x", a.flags);
    want = tu_value(R2, "authenticate_flags");
    assert_string_equal(fl, want);
    g_free(want);
    assert_val(c.server_challenge, 8, R2, "server_challenge");
    assert_null(c.av_problem);
    assert_non_null(c.nb_domain);

    want = tu_value(R2, "user");
    assert_string_equal(a.user, want);
    g_free(want);
    want = tu_value(R2, "domain");
    assert_string_equal(a.domain, want);
    g_free(want);
    want = tu_value(R2, "workstation");
    assert_string_equal(a.workstation, want);
    g_free(want);
    assert_true(a.has_version);
    assert_val(a.version, 8, R2, "authenticate_version");
    assert_int_equal(a.lm_len, 24);
    assert_val(a.lm_resp, 24, R2, "lm_challenge_response");
    want = tu_value(R2, "nt_challenge_response_length");
    assert_int_equal(a.nt_len, (size_t)atoi(want));
    g_free(want);
    assert_int_equal(a.enc_len, 16);
    assert_val(a.enc_key, 16, R2, "encrypted_random_session_key");
    assert_false(a.oem);
    assert_false(a.mic_flag);
    assert_null(a.av_problem);
    assert_int_equal(ntlm_message_type(ct, cl), 2);
    assert_int_equal(ntlm_message_type(at, al), 3);
    ntlm_challenge_clear(&c);
    ntlm_authenticate_clear(&a);
    g_free(ct);
    g_free(at);
}

/* Every intermediate value of ntlm-oc2007r2-v4/values.txt, from the password and the tokens. */
static void test_r2_derive(void **state)
{
    size_t cl, al;
    uint8_t *ct = vec_token("ntlm-oc2007r2-v4/challenge.hex", &cl);
    uint8_t *at = vec_token("ntlm-oc2007r2-v4/authenticate.hex", &al);
    char *err = NULL;
    ntlm_challenge c;
    ntlm_authenticate a;
    assert_int_equal(ntlm_parse_challenge(ct, cl, &c, &err), 0);
    assert_int_equal(ntlm_parse_authenticate(at, al, &a, &err), 0);
    char *pw = tu_value(R2, "password");

    uint8_t nt1[16], nt2[16], proof[16], sbk[16], esk[16], rk[16];
    assert_int_equal(ntlm_ntowfv1(pw, nt1), 0);
    assert_val(nt1, 16, R2, "ntowfv1");
    assert_int_equal(ntlm_ntowfv2_u16(nt1, a.user16, a.user16_len, a.domain16, a.domain16_len,
                                      nt2), 0);
    assert_val(nt2, 16, R2, "ntowfv2");
    ntlm_ntproofstr(nt2, c.server_challenge, a.nt_resp + 16, a.nt_len - 16, proof);
    assert_val(proof, 16, R2, "ntproofstr");
    assert_memory_equal(proof, a.nt_resp, 16); /* the password is right */
    ntlm_v2_session_base_key(nt2, proof, sbk);
    assert_val(sbk, 16, R2, "session_base_key");
    assert_int_equal(ntlm_exported_session_key(a.flags, sbk, a.enc_key, a.enc_len, esk), 0);
    assert_val(esk, 16, R2, "exported_session_key");

    ntlm_keys k;
    ntlm_derive_keys(esk, a.flags, &k);
    assert_val(k.sign[DIR_C2S], 16, R2, "client_sign_key");
    assert_val(k.seal[DIR_C2S], 16, R2, "client_seal_key");
    assert_val(k.sign[DIR_S2C], 16, R2, "server_sign_key");
    assert_val(k.seal[DIR_S2C], 16, R2, "server_seal_key");
    static const uint8_t s100[4] = { 100, 0, 0, 0 };
    char *seq = tu_value(R2, "seq_num");
    assert_int_equal(atoi(seq), NTLM_SEQ_SIP);
    g_free(seq);
    const char *side[2] = { "client", "server" };
    const char *file[2] = { "ntlm-oc2007r2-v4/register.sigbuf", "ntlm-oc2007r2-v4/200-ok.sigbuf" };
    for (int d = 0; d < 2; d++) {
        char name[64];
        struct md5_ctx m;
        md5_init(&m);
        md5_update(&m, 16, k.seal[d]);
        md5_update(&m, 4, s100);
        md5_digest(&m, 16, rk);
        snprintf(name, sizeof name, "%s_rc4_key_seq100", side[d]);
        assert_val(rk, 16, R2, name);

        size_t bl;
        char *buf = tu_read_vector(file[d], &bl);
        uint8_t mac[16];
        ntlm_mac_ess(k.sign[d], NULL, NTLM_SEQ_SIP, (const uint8_t *)buf, bl, mac);
        snprintf(name, sizeof name, "%s_hmac8", side[d]);
        assert_val(mac + 4, 8, R2, name);
        ntlm_mac_ess(k.sign[d], k.seal[d], NTLM_SEQ_SIP, (const uint8_t *)buf, bl, mac);
        snprintf(name, sizeof name, "%s_signature", side[d]);
        assert_val(mac, 16, R2, name);
        ntlm_mac(&k, d, NTLM_SEQ_SIP, (const uint8_t *)buf, bl, mac);
        assert_val(mac, 16, R2, name);
        g_free(buf);
    }
    g_free(pw);
    ntlm_challenge_clear(&c);
    ntlm_authenticate_clear(&a);
    g_free(ct);
    g_free(at);
}

/* A fresh SA fed a CHALLENGE (server to client), then an AUTHENTICATE (client to server). */
static void *ntlm_sa(const uint8_t *ct, size_t cl, const uint8_t *at, size_t al, keystore *ks,
                     note_list *notes)
{
    void *st = mech_ntlm_ops.sa_new(NULL);
    mech_ntlm_ops.on_token(st, DIR_S2C, ct, cl, ks, notes);
    mech_ntlm_ops.on_token(st, DIR_C2S, at, al, ks, notes);
    return st;
}

/* An SA fed with the real CHALLENGE and AUTHENTICATE. */
static void *r2_sa(keystore *ks, note_list *notes)
{
    size_t cl, al;
    uint8_t *ct = vec_token("ntlm-oc2007r2-v4/challenge.hex", &cl);
    uint8_t *at = vec_token("ntlm-oc2007r2-v4/authenticate.hex", &al);
    void *st = ntlm_sa(ct, cl, at, al, ks, notes);
    g_free(ct);
    g_free(at);
    return st;
}

/* A keystore whose global password (mssipae.nt_password) is the R2 vector's. */
static keystore *r2_password_keystore(void)
{
    char *pw = tu_value(R2, "password");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_nt_password(ks, pw), 0);
    g_free(pw);
    return ks;
}

/* Verifies one side of the R2 vector through the mechanism; returns the status. */
static sig_status r2_check(void *st, keystore *ks, const char *opaque, mssipae_dir dir,
                           int side, const uint8_t *sig_override, note_list *notes, char **why)
{
    const char *file = side ? "ntlm-oc2007r2-v4/200-ok.sigbuf" : "ntlm-oc2007r2-v4/register.sigbuf";
    size_t bl;
    char *buf = tu_read_vector(file, &bl);
    uint8_t *sig = val_hex(R2, side ? "server_signature" : "client_signature", 16);
    sig_verdict v = mech_ntlm_ops.verify(st, ks, opaque, dir, (const uint8_t *)buf, bl,
                                         sig_override ? sig_override : sig, 16, notes, 0);
    sig_status s = v.status;
    if (why)
        *why = g_strdup(v.why);
    verdict_clear(&v);
    g_free(buf);
    g_free(sig);
    return s;
}

static void test_r2_password(void **state)
{
    char *pw = tu_value(R2, "password");
    char *user = tu_value(R2, "user");
    char *dom = tu_value(R2, "domain");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_add_ntlm_user(ks, dom, user, pw, NULL), 0);
    note_list *notes = note_list_new();
    void *st = r2_sa(ks, notes);
    char *who = g_strdup_printf("%s\\%s", dom, user);
    assert_true(tu_has_note(notes, NOTE_TOKEN, who));
    assert_true(tu_has_note(notes, NOTE_TOKEN, "NTLMv2"));
    assert_true(tu_has_note(notes, NOTE_TOKEN, "NTLM users table row 1"));
    assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
    char *why = NULL;
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, &why), SIG_VALID);
    assert_non_null(strstr(why, "NTLMv2+ESS"));
    assert_non_null(strstr(why, "NTLM users table row 1"));
    g_free(why);
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 1, NULL, notes, NULL), SIG_VALID);
    /* verify changes nothing: the same checks again give the same results */
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 1, NULL, notes, NULL), SIG_VALID);
    assert_int_equal(r2_check(st, ks, NULL, DIR_C2S, 0, NULL, notes, NULL), SIG_VALID);
    /* statistics name the user; the key export gives the vector's ExportedSessionKey and
     * nothing else (no password, no NT hash) */
    char *name = mech_ntlm_ops.client_name(st);
    assert_string_equal(name, who);
    g_free(name);
    {
        GString *out = g_string_new(NULL);
        const char *const ops[] = {"2BDBAC9D", "ALIAS001"};
        assert_int_equal(mech_ntlm_ops.export_keys(st, ops, 2, out), 2);
        char *esk = tu_value(R2, "exported_session_key");
        char *want = g_strdup_printf("NTLM 2BDBAC9D %s\nNTLM ALIAS001 %s\n", esk, esk);
        char *got = g_ascii_strdown(out->str, -1), *wl = g_ascii_strdown(want, -1);
        assert_string_equal(got, wl);
        char *nth = tu_value(R2, "ntowfv1");
        char *nthl = g_ascii_strdown(nth, -1);
        assert_null(strstr(got, nthl));
        assert_null(strstr(out->str, pw));
        g_free(nth);
        g_free(nthl);
        g_free(got);
        g_free(wl);
        g_free(want);
        g_free(esk);
        g_string_free(out, TRUE);
    }
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);

    /* the global password preference works the same */
    ks = keystore_new();
    assert_int_equal(keystore_set_nt_password(ks, pw), 0);
    st = r2_sa(ks, notes);
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, &why), SIG_VALID);
    assert_non_null(strstr(why, "mssipae.nt_password"));
    g_free(why);
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 1, NULL, notes, NULL), SIG_VALID);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);

    /* the NT hash alone is enough for NTLMv2 */
    uint8_t *h = val_hex(R2, "ntowfv1", 16);
    char *hh = tu_value(R2, "ntowfv1");
    ks = keystore_new();
    assert_int_equal(keystore_add_ntlm_user(ks, dom, user, NULL, hh), 0);
    st = r2_sa(ks, notes);
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 1, NULL, notes, NULL), SIG_VALID);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    g_free(h);
    g_free(hh);

    g_free(who);
    note_list_free(notes);
    g_free(pw);
    g_free(user);
    g_free(dom);
}

static void test_r2_wrong_password(void **state)
{
    char *user = tu_value(R2, "user");
    char *dom = tu_value(R2, "domain");
    char *who = g_strdup_printf("%s\\%s", dom, user);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_add_ntlm_user(ks, dom, user, "not the password", NULL), 0);
    assert_int_equal(keystore_set_nt_password(ks, "Pa$$word2"), 0);
    note_list *notes = note_list_new();
    void *st = r2_sa(ks, notes);
    for (int side = 0; side < 2; side++) {
        note_list *n2 = note_list_new();
        char *why = NULL;
        assert_int_equal(r2_check(st, ks, "2BDBAC9D", side ? DIR_S2C : DIR_C2S, side, NULL, n2,
                                  &why), SIG_NO_KEY);
        assert_non_null(strstr(why, who));
        assert_non_null(strstr(why, "does not match (2 tried)"));
        assert_true(tu_has_note(n2, NOTE_NO_KEY, who));
        assert_true(tu_has_note(n2, NOTE_NO_KEY, "(2 tried)"));
        assert_false(tu_has_note(n2, NOTE_INVALID, NULL));
        g_free(why);
        note_list_free(n2);
    }
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);

    /* no candidate at all */
    ks = keystore_new();
    assert_int_equal(keystore_add_ntlm_user(ks, "OTHER", "someone", "x", NULL), 0);
    st = r2_sa(ks, notes);
    char *why = NULL;
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, &why), SIG_NO_KEY);
    char *want = g_strdup_printf("no password or NT hash for %s", who);
    assert_non_null(strstr(why, want));
    assert_non_null(strstr(why, "NTLM 2BDBAC9D"));
    g_free(want);
    g_free(why);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    note_list_free(notes);
    g_free(who);
    g_free(user);
    g_free(dom);
}

static void test_r2_keylog(void **state)
{
    char *line = keylog_line(R2, "2BDBAC9D");
    char *path = write_keylog(line);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, path), 0);
    note_list *notes = note_list_new();

    /* with the handshake, no password */
    void *st = r2_sa(ks, notes);
    char *why = NULL;
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, &why), SIG_VALID);
    assert_non_null(strstr(why, "key-log entry NTLM 2BDBAC9D"));
    g_free(why);
    assert_int_equal(r2_check(st, ks, "2bdbac9d", DIR_S2C, 1, NULL, notes, NULL), SIG_VALID);
    mech_ntlm_ops.sa_free(st);

    /* without any handshake: flag variants */
    st = mech_ntlm_ops.sa_new(NULL);
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, &why), SIG_VALID);
    assert_non_null(strstr(why, "ESS+KEY_EXCH+128"));
    g_free(why);
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 1, NULL, notes, NULL), SIG_VALID);
    /* reflected without handshake: INVALID, with the reflection named */
    note_list *n2 = note_list_new();
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 0, NULL, n2, NULL), SIG_INVALID);
    assert_true(tu_has_note(n2, NOTE_INVALID, "reflected"));
    note_list_free(n2);
    /* no entry for another opaque */
    assert_int_equal(r2_check(st, ks, "DEADBEEF", DIR_S2C, 1, NULL, notes, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "no NTLM handshake seen and no key-log entry NTLM DEADBEEF"));
    g_free(why);
    mech_ntlm_ops.sa_free(st);

    keystore_free(ks);
    note_list_free(notes);
    unlink(path);
    g_free(path);
    g_free(line);
}

/* The NO_KEY reason and note of one header on an SA given the same tokens afresh (nothing kept
 * yet: the text every message got before issue 10 kept it). tokens: 2 the CHALLENGE and the
 * AUTHENTICATE, 3 and then a second AUTHENTICATE that does not parse. */
static char *fresh_no_key(keystore *ks, int tokens, const uint8_t *bad, size_t badl,
                          const char *opaque)
{
    void *st = r2_sa(ks, NULL);
    if (tokens == 3)
        mech_ntlm_ops.on_token(st, DIR_C2S, bad, badl, ks, NULL);
    char *why = NULL;
    assert_int_equal(r2_check(st, ks, opaque, DIR_C2S, 0, NULL, NULL, &why), SIG_NO_KEY);
    mech_ntlm_ops.sa_free(st);
    return why;
}

/* With no key (issue 10: the reason is kept per SA), each header gets the reason and note a
 * fresh SA gives it: for its own opaque (others, none), after a token that changes the
 * handshake, and a key-log line written later is used at the next header. */
static void test_no_key_texts_per_message(void **state)
{
    char *path = write_keylog("# nothing for these opaques");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, path), 0);
    /* an AUTHENTICATE cut short: it does not parse */
    size_t al;
    uint8_t *bad = vec_token("ntlm-oc2007r2-v4/authenticate.hex", &al);
    size_t badl = 40;
    void *st = r2_sa(ks, NULL);
    static const struct { const char *opaque; int feed_bad; } steps[] = {
        { "2BDBAC9D", 0 }, { "2BDBAC9D", 0 }, { "2BDBAC9E", 0 }, { NULL, 0 }, { NULL, 0 },
        { "2BDBAC9", 0 }, { "2BDBAC9D", 0 }, { "2BDBAC9D", 1 }, { "2BDBAC9D", 0 }, { "X", 0 },
    };
    int tokens = 2;
    for (size_t k = 0; k < G_N_ELEMENTS(steps); k++) {
        if (steps[k].feed_bad) {
            mech_ntlm_ops.on_token(st, DIR_C2S, bad, badl, ks, NULL);
            tokens = 3;
        }
        note_list *n = note_list_new();
        char *why = NULL;
        assert_int_equal(r2_check(st, ks, steps[k].opaque, DIR_C2S, 0, NULL, n, &why),
                         SIG_NO_KEY);
        char *want = fresh_no_key(ks, tokens, bad, badl, steps[k].opaque);
        assert_string_equal(why, want);
        assert_int_equal(n->len, 1);
        assert_string_equal(g_array_index(n, mssipae_note, 0).text, want);
        if (tokens == 3)
            assert_non_null(strstr(why, "could not be parsed"));
        g_free(want);
        g_free(why);
        note_list_free(n);
    }
    /* the SA's opaque gets a line: the next header verifies with it */
    mech_ntlm_ops.sa_free(st);
    st = r2_sa(ks, NULL);
    char *why = NULL;
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, NULL, &why), SIG_NO_KEY);
    g_free(why);
    char *line = keylog_line(R2, "2BDBAC9D");
    char *text = g_strdup_printf("# test key log\n%s\n", line);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, NULL, &why), SIG_VALID);
    g_free(why);
    g_free(text);
    g_free(line);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    g_free(bad);
    unlink(path);
    g_free(path);
}

/* Flipping any byte of buffer or signature never gives VALID; reflection is INVALID. */
static void test_r2_tamper(void **state)
{
    keystore *ks = r2_password_keystore();
    note_list *notes = note_list_new();
    void *st = r2_sa(ks, notes);
    for (int side = 0; side < 2; side++) {
        mssipae_dir dir = side ? DIR_S2C : DIR_C2S;
        const char *file = side ? "ntlm-oc2007r2-v4/200-ok.sigbuf"
                                : "ntlm-oc2007r2-v4/register.sigbuf";
        size_t bl;
        char *buf = tu_read_vector(file, &bl);
        uint8_t *sig = val_hex(R2, side ? "server_signature" : "client_signature", 16);
        for (size_t i = 0; i < bl; i++) {
            buf[i] ^= 0xff;
            sig_verdict v = mech_ntlm_ops.verify(st, ks, "2BDBAC9D", dir, (const uint8_t *)buf,
                                                 bl, sig, 16, NULL, 0);
            assert_int_equal(v.status, SIG_INVALID);
            verdict_clear(&v);
            buf[i] ^= 0xff;
        }
        for (size_t i = 0; i < 16; i++) {
            for (int bit = 0; bit < 8; bit++) {
                sig[i] ^= (uint8_t)(1u << bit);
                sig_verdict v = mech_ntlm_ops.verify(st, ks, "2BDBAC9D", dir, (const uint8_t *)buf,
                                                     bl, sig, 16, NULL, 0);
                assert_true(v.status == (i < 4 ? SIG_MALFORMED : SIG_INVALID));
                verdict_clear(&v);
                sig[i] ^= (uint8_t)(1u << bit);
            }
        }
        /* truncated or extended signature */
        sig_verdict v = mech_ntlm_ops.verify(st, ks, "2BDBAC9D", dir, (const uint8_t *)buf, bl,
                                             sig, 15, NULL, 0);
        assert_int_equal(v.status, SIG_MALFORMED);
        verdict_clear(&v);
        v = mech_ntlm_ops.verify(st, ks, "2BDBAC9D", dir, (const uint8_t *)buf, bl, sig, 0,
                                 NULL, 0);
        assert_int_equal(v.status, SIG_MALFORMED);
        verdict_clear(&v);
        g_free(buf);
        g_free(sig);
    }
    /* reflection: the client's signature presented as the server's, and the reverse */
    note_list *n2 = note_list_new();
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_S2C, 0, NULL, n2, NULL), SIG_INVALID);
    assert_true(tu_has_note(n2, NOTE_INVALID, "reflected"));
    note_list_free(n2);
    n2 = note_list_new();
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 1, NULL, n2, NULL), SIG_INVALID);
    assert_true(tu_has_note(n2, NOTE_INVALID, "reflected"));
    note_list_free(n2);
    /* still valid afterwards: nothing advanced */
    assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, NULL), SIG_VALID);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    note_list_free(notes);
}

/* ---------------------------------------------------------------- 3. OCS 2007, no ESS */

static void test_noess(void **state)
{
    size_t bl;
    char *buf = tu_read_vector("ntlm-ocs2007-v2-noess/200-ok.sigbuf", &bl);
    uint8_t *sig = val_hex(NOESS, "server_signature", 16);
    uint8_t *esk = val_hex(NOESS, "exported_session_key", 16);
    uint8_t *seal = val_hex(NOESS, "seal_key", 16);
    assert_memory_equal(esk, seal, 16);

    /* the primitive: checksum and SeqNum fields as the real server sent them */
    uint8_t mac[16];
    ntlm_mac_noess(esk, 16, NTLM_SEQ_SIP, (const uint8_t *)buf, bl, mac);
    assert_true(ntlm_mac_equal(mac, sig, 0));
    assert_memory_equal(mac + 8, sig + 8, 8);
    uint8_t *ks12 = val_hex(NOESS, "rc4_keystream_first12", 12);
    uint8_t *pt = val_hex(NOESS, "rc4_plaintext", 12);
    for (int i = 4; i < 12; i++)
        assert_int_equal(mac[4 + i], pt[i] ^ ks12[i]);
    uint8_t crc[4] = { pt[7], pt[6], pt[5], pt[4] };
    assert_val(crc, 4, NOESS, "crc32_of_buffer");
    /* the [MS-NLMP] weakened keys give the listed (non-matching) signatures */
    uint8_t wk[16];
    assert_int_equal(ntlm_seal_key_noess(esk, NTLM_FL_LM_KEY | NTLM_FL_56 | NTLM_FL_128, wk), 8);
    ntlm_mac_noess(wk, 8, NTLM_SEQ_SIP, (const uint8_t *)buf, bl, mac);
    uint8_t *s56 = val_hex(NOESS, "signature_with_56bit_key", 16);
    assert_memory_equal(mac + 8, s56 + 8, 8);
    assert_false(ntlm_mac_equal(mac, sig, 0));
    assert_int_equal(ntlm_seal_key_noess(esk, NTLM_FL_LM_KEY | NTLM_FL_128, wk), 8);
    ntlm_mac_noess(wk, 8, NTLM_SEQ_SIP, (const uint8_t *)buf, bl, mac);
    uint8_t *s40 = val_hex(NOESS, "signature_with_40bit_key", 16);
    assert_memory_equal(mac + 8, s40 + 8, 8);
    /* without LM_KEY the full key, DATAGRAM or not */
    assert_int_equal(ntlm_seal_key_noess(esk, NTLM_FL_DATAGRAM | NTLM_FL_56, wk), 16);
    assert_val(wk, 16, NOESS, "seal_key");

    /* the mechanism, key log only, no handshake */
    char *line = keylog_line(NOESS, "4452DFB0");
    char *path = write_keylog(line);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, path), 0);
    void *st = mech_ntlm_ops.sa_new(NULL);
    note_list *notes = note_list_new();
    sig_verdict v = mech_ntlm_ops.verify(st, ks, "4452DFB0", DIR_S2C, (const uint8_t *)buf, bl,
                                         sig, 16, notes, 0);
    assert_int_equal(v.status, SIG_VALID);
    assert_non_null(strstr(v.why, "non-ESS"));
    verdict_clear(&v);
    /* pad bytes are ignored */
    uint8_t s2[16];
    memcpy(s2, sig, 16);
    memcpy(s2 + 4, "\x6f\x00\x69\x00", 4);
    v = mech_ntlm_ops.verify(st, ks, "4452DFB0", DIR_S2C, (const uint8_t *)buf, bl, s2, 16,
                             notes, 0);
    assert_int_equal(v.status, SIG_VALID);
    verdict_clear(&v);
    /* any checksum or SeqNum byte changed: INVALID */
    for (int i = 8; i < 16; i++) {
        memcpy(s2, sig, 16);
        s2[i] ^= 0x01;
        note_list *n2 = note_list_new();
        v = mech_ntlm_ops.verify(st, ks, "4452DFB0", DIR_S2C, (const uint8_t *)buf, bl, s2, 16,
                                 n2, 0);
        assert_int_equal(v.status, SIG_INVALID);
        assert_false(tu_has_note(n2, NOTE_NO_KEY, NULL));
        verdict_clear(&v);
        note_list_free(n2);
    }
    /* any buffer byte changed: INVALID (CRC32 catches every single-byte change) */
    for (size_t i = 0; i < bl; i++) {
        buf[i] ^= 0x20;
        v = mech_ntlm_ops.verify(st, ks, "4452DFB0", DIR_S2C, (const uint8_t *)buf, bl, sig, 16,
                                 NULL, 0);
        assert_int_equal(v.status, SIG_INVALID);
        verdict_clear(&v);
        buf[i] ^= 0x20;
    }
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    note_list_free(notes);
    unlink(path);
    g_free(path);
    g_free(line);
    g_free(buf); g_free(sig); g_free(esk); g_free(seal); g_free(ks12); g_free(pt); g_free(s56);
    g_free(s40);
}

/* A wrong key-log key is INVALID (nothing tells it from tampering); a short one is NO_KEY. */
static void test_keylog_wrong_key(void **state)
{
    char *path = write_keylog("NTLM 4452DFB0 00112233445566778899aabbccddeeff\n"
                              "NTLM 0BADC0DE 0011223344");
    keystore *ks = keystore_new();
    keystore_set_keylog(ks, path);
    size_t bl;
    char *buf = tu_read_vector("ntlm-ocs2007-v2-noess/200-ok.sigbuf", &bl);
    uint8_t *sig = val_hex(NOESS, "server_signature", 16);
    void *st = mech_ntlm_ops.sa_new(NULL);
    sig_verdict v = mech_ntlm_ops.verify(st, ks, "4452DFB0", DIR_S2C, (const uint8_t *)buf, bl,
                                         sig, 16, NULL, 0);
    assert_int_equal(v.status, SIG_INVALID);
    verdict_clear(&v);
    v = mech_ntlm_ops.verify(st, ks, "0BADC0DE", DIR_S2C, (const uint8_t *)buf, bl, sig, 16,
                             NULL, 0);
    assert_true(v.status == SIG_NO_KEY);
    verdict_clear(&v);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    unlink(path);
    g_free(path);
    g_free(buf);
    g_free(sig);
}

/* SeqNum-0 diagnostic: a signature made with SeqNum 0 is INVALID, and the note says why. */
static void test_diag_seq0(void **state)
{
    keystore *ks = r2_password_keystore();
    note_list *notes = note_list_new();
    void *st = r2_sa(ks, notes);
    uint8_t *esk = val_hex(R2, "exported_session_key", 16);
    char *fl = tu_value(R2, "authenticate_flags");
    ntlm_keys k;
    ntlm_derive_keys(esk, (uint32_t)strtoul(fl, NULL, 16), &k);
    size_t bl;
    char *buf = tu_read_vector("ntlm-oc2007r2-v4/register.sigbuf", &bl);
    uint8_t sig[16];
    ntlm_mac(&k, DIR_C2S, 0, (const uint8_t *)buf, bl, sig);
    note_list *n2 = note_list_new();
    sig_verdict v = mech_ntlm_ops.verify(st, ks, "2BDBAC9D", DIR_C2S, (const uint8_t *)buf, bl,
                                         sig, 16, n2, 0);
    assert_int_equal(v.status, SIG_INVALID);
    assert_true(tu_has_note(n2, NOTE_INVALID, "SeqNum 0"));
    verdict_clear(&v);
    note_list_free(n2);
    mech_ntlm_ops.sa_free(st);
    keystore_free(ks);
    note_list_free(notes);
    g_free(buf); g_free(esk); g_free(fl);
}

/* ---------------------------------------------------------------- 3b. gss-ntlmssp datagram */

#define GSSN "ntlm-gssntlmssp-datagram"

/* NTLMv1 (ESS, plain, LM_KEY 56/40, REQUEST_NON_NT_SESSION_KEY) and NTLMv2 exchanges made by
 * gss-ntlmssp, an independent implementation: exported session key from the primitives, and
 * the client MIC through the mechanism by password, by key log with and without handshake.
 * Skipped when the folder is not in tests/vectors. */
static void test_gssntlmssp(void **state)
{
    char *dir = g_build_filename(MSSIPAE_VECTORS_DIR, GSSN, NULL);
    int present = g_file_test(dir, G_FILE_TEST_IS_DIR);
    g_free(dir);
    if (!present) {
        if (getenv("MSSIPAE_NO_SKIP"))
            fail_msg("%s missing from tests/vectors (MSSIPAE_NO_SKIP: a skip is a failure)", GSSN);
        skip();
    }
    static const struct { const char *name; const char *mode; } cases[] = {
        { "v2", "NTLMv2+ESS+KEY_EXCH+128" },
        { "v1-ess", "NTLMv1+ESS+KEY_EXCH+128" },
        { "v1-noess-128", "NTLMv1 without ESS+KEY_EXCH," },
        { "v1-noess-56", "NTLMv1 without ESS+KEY_EXCH," },
        { "v1-lmkey-56", "LM_KEY (56-bit seal key)" },
        { "v1-lmkey-40", "LM_KEY (40-bit seal key)" },
        { "v1-nonnt", "NON_NT_SESSION_KEY" },
        { "v1-lmkey-nonnt", "LM_KEY (56-bit seal key)" },
    };
    const char *values = GSSN "/values.txt";
    char *pw = tu_value(values, "password");
    char *user = tu_value(values, "user");
    char *dom = tu_value(values, "domain");
    size_t bl;
    char *buf = tu_read_vector(GSSN "/buffer.sigbuf", &bl);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char rel[128], name[128];
        size_t cl, al;
        snprintf(rel, sizeof rel, GSSN "/%s.challenge.hex", cases[i].name);
        uint8_t *ct = vec_token(rel, &cl);
        snprintf(rel, sizeof rel, GSSN "/%s.authenticate.hex", cases[i].name);
        uint8_t *at = vec_token(rel, &al);
        snprintf(name, sizeof name, "%s.mic_client", cases[i].name);
        uint8_t *mic = val_hex(values, name, 16);
        snprintf(name, sizeof name, "%s.exported_session_key", cases[i].name);
        print_message("case %s\n", cases[i].name);

        /* the exported session key from the primitives */
        ntlm_challenge c;
        ntlm_authenticate a;
        char *err = NULL;
        assert_int_equal(ntlm_parse_challenge(ct, cl, &c, &err), 0);
        assert_int_equal(ntlm_parse_authenticate(at, al, &a, &err), 0);
        uint8_t nt[16], lm[16], sbk[16], kx[16], esk[16], resp[24];
        assert_int_equal(ntlm_ntowfv1(pw, nt), 0);
        assert_int_equal(ntlm_lmowfv1(pw, lm), 0);
        if (a.nt_len > 24) {
            uint8_t nt2[16], proof[16];
            assert_int_equal(ntlm_ntowfv2(nt, user, dom, nt2), 0);
            ntlm_ntproofstr(nt2, c.server_challenge, a.nt_resp + 16, a.nt_len - 16, proof);
            assert_memory_equal(proof, a.nt_resp, 16);
            ntlm_v2_session_base_key(nt2, proof, kx);
        } else {
            assert_int_equal(a.nt_len, 24);
            ntlm_v1_response(nt, c.server_challenge, a.lm_resp, (a.flags & NTLM_FL_ESS) != 0, resp);
            assert_memory_equal(resp, a.nt_resp, 24);
            ntlm_v1_session_base_key(nt, sbk);
            const char *why = NULL;
            assert_int_equal(ntlm_v1_kxkey(a.flags, sbk, c.server_challenge, a.lm_resp, a.lm_len,
                                           lm, kx, &why), 0);
        }
        assert_int_equal(ntlm_exported_session_key(a.flags, kx, a.enc_key, a.enc_len, esk), 0);
        assert_val(esk, 16, values, name);

        /* the mechanism, by password */
        keystore *ks = keystore_new();
        assert_int_equal(keystore_add_ntlm_user(ks, dom, user, pw, NULL), 0);
        note_list *notes = note_list_new();
        void *st = ntlm_sa(ct, cl, at, al, ks, notes);
        sig_verdict v = mech_ntlm_ops.verify(st, ks, "GSSN", DIR_C2S, (const uint8_t *)buf, bl,
                                             mic, 16, notes, 0);
        if (v.status != SIG_VALID)
            tu_dump_notes(notes);
        assert_int_equal(v.status, SIG_VALID);
        assert_non_null(strstr(v.why, cases[i].mode));
        verdict_clear(&v);
        mech_ntlm_ops.sa_free(st);
        keystore_free(ks);

        /* by key log: with the handshake (flags known), then without (variants) */
        char *hexk = tu_value(values, name);
        char *line = g_strdup_printf("NTLM GSSN %s", hexk);
        char *path = write_keylog(line);
        ks = keystore_new();
        assert_int_equal(keystore_set_keylog(ks, path), 0);
        st = ntlm_sa(ct, cl, at, al, ks, notes);
        v = mech_ntlm_ops.verify(st, ks, "GSSN", DIR_C2S, (const uint8_t *)buf, bl, mic, 16,
                                 notes, 0);
        assert_int_equal(v.status, SIG_VALID);
        verdict_clear(&v);
        mech_ntlm_ops.sa_free(st);
        st = mech_ntlm_ops.sa_new(NULL);
        v = mech_ntlm_ops.verify(st, ks, "GSSN", DIR_C2S, (const uint8_t *)buf, bl, mic, 16,
                                 notes, 0);
        assert_int_equal(v.status, SIG_VALID);
        verdict_clear(&v);
        mech_ntlm_ops.sa_free(st);
        keystore_free(ks);
        unlink(path);
        g_free(path);
        g_free(line);
        g_free(hexk);

        /* NT hash only: LM_KEY / NON_NT_SESSION_KEY need the LM hash -> NO_KEY saying so */
        if (a.nt_len == 24 && !(a.flags & NTLM_FL_ESS) &&
            (a.flags & (NTLM_FL_LM_KEY | NTLM_FL_NON_NT_SESSION_KEY))) {
            char *h = tu_value("ntlm-oc2007r2-v4/values.txt", "ntowfv1"); /* NT hash of Pa$$word */
            ks = keystore_new();
            assert_int_equal(keystore_add_ntlm_user(ks, dom, user, NULL, h), 0);
            st = ntlm_sa(ct, cl, at, al, ks, notes);
            v = mech_ntlm_ops.verify(st, ks, "GSSN", DIR_C2S, (const uint8_t *)buf, bl, mic, 16,
                                     notes, 0);
            assert_int_equal(v.status, SIG_NO_KEY);
            assert_non_null(strstr(v.why, "LM hash"));
            verdict_clear(&v);
            mech_ntlm_ops.sa_free(st);
            keystore_free(ks);
            g_free(h);
        }
        note_list_free(notes);
        ntlm_challenge_clear(&c);
        ntlm_authenticate_clear(&a);
        g_free(ct);
        g_free(at);
        g_free(mic);
    }
    g_free(buf);
    g_free(pw);
    g_free(user);
    g_free(dom);
}

/* ---------------------------------------------------------------- 4. hostile tokens */

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Feeds CHALLENGE ct and a (hostile) AUTHENTICATE, then verifies the client signature with the
 * right password available; the verdict must be MALFORMED or NO_KEY (never VALID/INVALID). */
static void hostile_auth(const uint8_t *ct, size_t cl, const uint8_t *tok, size_t len,
                         keystore *ks, int expect_malformed_note)
{
    note_list *notes = note_list_new();
    void *st = ntlm_sa(ct, cl, tok, len, ks, notes);
    if (expect_malformed_note && !tu_has_note(notes, NOTE_MALFORMED, NULL)) {
        print_error("no malformed note for a %zu-byte token\n", len);
        tu_dump_notes(notes);
        fail();
    }
    char *why = NULL;
    sig_status s = r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, &why);
    if (s != SIG_NO_KEY && s != SIG_MALFORMED) {
        print_error("hostile %zu-byte AUTHENTICATE gave status %d (%s)\n", len, s, why);
        tu_dump_notes(notes);
        fail();
    }
    g_free(why);
    mech_ntlm_ops.sa_free(st);
    note_list_free(notes);
}

static void test_hostile(void **state)
{
    keystore *ks = r2_password_keystore();
    size_t cl, al;
    uint8_t *ct = vec_token("ntlm-oc2007r2-v4/challenge.hex", &cl);
    uint8_t *at = vec_token("ntlm-oc2007r2-v4/authenticate.hex", &al);

    /* truncated at every length (each copy in its own allocation, so ASan sees overreads) */
    for (size_t n = 0; n < al; n++) {
        uint8_t *t = g_memdup2(at, n ? n : 1);
        hostile_auth(ct, cl, t, n, ks, 1);
        g_free(t);
    }

    /* field headers at 12 (LM), 20 (NT), 28 (domain), 36 (user), 44 (ws), 52 (session key) */
    static const size_t fields[] = { 12, 20, 28, 36, 44, 52 };
    static const struct { uint32_t len, off; } bad[] = {
        { 0x10, 0xffffffffu },        /* offset near UINT32_MAX */
        { 0xffff, 0xffff0001u },      /* offset + len wraps in 32 bits */
        { 0xffff, 0x40 },             /* length larger than the message */
        { 0x2, 0 },                   /* placeholder: offset = message length (set below) */
        { 0x1, 0 },                   /* placeholder: offset = message length - 0 + 1 */
    };
    for (size_t f = 0; f < G_N_ELEMENTS(fields); f++) {
        for (size_t b = 0; b < G_N_ELEMENTS(bad); b++) {
            uint8_t *t = g_memdup2(at, al);
            uint32_t off = bad[b].off;
            if (b == 3)
                off = (uint32_t)al - 1; /* one byte inside, two needed */
            if (b == 4)
                off = (uint32_t)al + 1;
            wr16(t + fields[f], (uint16_t)bad[b].len);
            wr16(t + fields[f] + 2, (uint16_t)bad[b].len);
            wr32(t + fields[f] + 4, off);
            hostile_auth(ct, cl, t, al, ks, 1);
            g_free(t);
        }
    }
    /* odd UTF-16 length of the user name */
    {
        uint8_t *t = g_memdup2(at, al);
        wr16(t + 36, 7);
        hostile_auth(ct, cl, t, al, ks, 1);
        g_free(t);
    }
    /* wrong signature, wrong types, zero length */
    {
        uint8_t *t = g_memdup2(at, al);
        t[7] = 'X';
        hostile_auth(ct, cl, t, al, ks, 1);
        t[7] = 0;
        for (uint32_t type = 0; type < 8; type++) {
            if (type == 3)
                continue;
            wr32(t + 8, type);
            hostile_auth(ct, cl, t, al, ks, type != 1);
        }
        wr32(t + 8, 0xffffffffu);
        hostile_auth(ct, cl, t, al, ks, 1);
        g_free(t);
        hostile_auth(ct, cl, NULL, 0, ks, 1);
    }
    /* absurd AV pairs inside the NTLMv2 response blob (AvLen 0xffff on the first pair at
     * NtChallengeResponse offset + 16 + 28); the proof no longer matches -> NO_KEY */
    {
        uint8_t *t = g_memdup2(at, al);
        size_t nt_off = (size_t)t[24] | (size_t)t[25] << 8;
        wr16(t + nt_off + 16 + 28 + 2, 0xffff);
        note_list *notes = note_list_new();
        void *st = ntlm_sa(ct, cl, t, al, ks, notes);
        assert_true(tu_has_note(notes, NOTE_MALFORMED, "AV pair"));
        assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, NULL), SIG_NO_KEY);
        mech_ntlm_ops.sa_free(st);
        note_list_free(notes);
        g_free(t);
    }

    /* hostile CHALLENGEs: every truncation, bad TargetInfo field, absurd AV pairs */
    for (size_t n = 0; n < cl; n++) {
        uint8_t *t = g_memdup2(ct, n ? n : 1);
        note_list *notes = note_list_new();
        void *st = ntlm_sa(t, n, at, al, ks, notes);
        sig_status s = r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, NULL);
        /* 32..47 bytes still hold the whole fixed part (no TargetInfo): that CHALLENGE is
         * usable and the password check passes; everything shorter or cut inside TargetInfo
         * is malformed. */
        if (n >= 32 && n < 48)
            assert_int_equal(s, SIG_VALID);
        else {
            assert_int_equal(s, SIG_NO_KEY);
            assert_true(tu_has_note(notes, NOTE_MALFORMED, n < 12 ? "NTLMSSP" : "CHALLENGE"));
        }
        mech_ntlm_ops.sa_free(st);
        note_list_free(notes);
        g_free(t);
    }
    {
        /* TargetInfo: first AV pair with AvLen 0xffff, then an AvId without EOL */
        size_t ti_off = (size_t)ct[44] | (size_t)ct[45] << 8;
        for (int kind = 0; kind < 3; kind++) {
            uint8_t *t = g_memdup2(ct, cl);
            if (kind == 0)
                wr16(t + ti_off + 2, 0xffff);
            else if (kind == 1)
                wr16(t + 40, 3); /* TargetInfo of 3 bytes: truncated AV header */
            else
                wr16(t + 40, 4 + 10); /* cut after the first pair: no MsvAvEOL */
            note_list *notes = note_list_new();
            void *st = mech_ntlm_ops.sa_new(NULL);
            mech_ntlm_ops.on_token(st, DIR_S2C, t, cl, ks, notes);
            assert_true(tu_has_note(notes, NOTE_MALFORMED, "TargetInfo"));
            mech_ntlm_ops.on_token(st, DIR_C2S, at, al, ks, notes);
            /* the ServerChallenge is still known and the password proves itself */
            assert_int_equal(r2_check(st, ks, "2BDBAC9D", DIR_C2S, 0, NULL, notes, NULL),
                             SIG_VALID);
            mech_ntlm_ops.sa_free(st);
            note_list_free(notes);
            g_free(t);
        }
        uint8_t *t = g_memdup2(ct, cl);
        wr32(t + 44, 0xfffffff0u);
        note_list *notes = note_list_new();
        void *st = mech_ntlm_ops.sa_new(NULL);
        mech_ntlm_ops.on_token(st, DIR_S2C, t, cl, ks, notes);
        assert_true(tu_has_note(notes, NOTE_MALFORMED, "TargetInfo"));
        mech_ntlm_ops.sa_free(st);
        note_list_free(notes);
        g_free(t);
    }

    /* the AV cursor alone on absurd input */
    static const uint8_t av1[] = { 2, 0, 0xff, 0xff, 'x' };
    static const uint8_t av2[] = { 2, 0, 2, 0, 'a', 0, 0, 0, 0, 0 };
    static const uint8_t av3[] = { 2, 0, 2, 0, 'a', 0 };
    ntlm_av_cursor c;
    uint16_t id;
    const uint8_t *val;
    size_t vl;
    ntlm_av_init(&c, av1, sizeof av1);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_ERR);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_ERR); /* sticky */
    ntlm_av_init(&c, av2, sizeof av2);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_OK);
    assert_int_equal(id, 2);
    assert_int_equal(vl, 2);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_END);
    ntlm_av_init(&c, av3, sizeof av3);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_OK);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_ERR);
    ntlm_av_init(&c, NULL, 100);
    assert_int_equal(ntlm_av_next(&c, &id, &val, &vl), NTLM_AV_ERR);

    keystore_free(ks);
    g_free(ct);
    g_free(at);
}

/* Every byte of both real handshake tokens set to a few values: no crash, no leak, a verdict from
 * the documented set, and never "valid" when the change hits what the keys are derived from: the
 * CHALLENGE's ServerChallenge, the AUTHENTICATE's NTProofStr (first 16 bytes of the
 * NtChallengeResponse) or its EncryptedRandomSessionKey. (Elsewhere a changed flag or workstation
 * may still verify: the handshake is not integrity-protected without a MIC; some do, some do
 * not, and both outcomes are counted.) */
static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_mutations(void **state)
{
    keystore *ks = r2_password_keystore();
    size_t cl, al;
    uint8_t *ct = vec_token("ntlm-oc2007r2-v4/challenge.hex", &cl);
    uint8_t *at = vec_token("ntlm-oc2007r2-v4/authenticate.hex", &al);
    /* the key-bearing ranges (MS-NLMP 2.2.1.2, 2.2.1.3) */
    size_t nt_off = rd32le(at + 24), esk_len = at[52] | at[53] << 8, esk_off = rd32le(at + 56);
    assert_true(nt_off + 16 <= al && esk_len == 16 && esk_off + 16 <= al);
    static const uint8_t vals[] = { 0x00, 0xff, 0x80, 0x7f };
    unsigned valid = 0, other = 0, keyed = 0;
    for (int which = 0; which < 2; which++) {
        uint8_t *tok = which ? at : ct;
        size_t len = which ? al : cl;
        for (size_t i = 0; i < len; i++) {
            int key_bearing = which ? ((i >= nt_off && i < nt_off + 16) ||
                                       (i >= esk_off && i < esk_off + 16))
                                    : (i >= 24 && i < 32);
            for (size_t j = 0; j < sizeof vals + 1; j++) {
                uint8_t *t = g_memdup2(tok, len);
                t[i] = j < sizeof vals ? vals[j] : (uint8_t)(t[i] + 1);
                if (t[i] == tok[i]) {
                    g_free(t);
                    continue;
                }
                note_list *notes = note_list_new();
                void *st = ntlm_sa(which ? ct : t, which ? cl : len, which ? t : at,
                                   which ? len : al, ks, notes);
                for (int side = 0; side < 2; side++) {
                    sig_status s = r2_check(st, ks, "2BDBAC9D", side ? DIR_S2C : DIR_C2S, side,
                                            NULL, notes, NULL);
                    assert_true(s >= SIG_VALID && s <= SIG_MALFORMED && s != SIG_NO_SA);
                    if (key_bearing) {
                        keyed++;
                        if (s == SIG_VALID) {
                            print_error("%s byte %zu = %02x still verifies\n",
                                        which ? "AUTHENTICATE" : "CHALLENGE", i, t[i]);
                            fail();
                        }
                    } else if (s == SIG_VALID) {
                        valid++;
                    } else {
                        other++;
                    }
                }
                mech_ntlm_ops.sa_free(st);
                note_list_free(notes);
                g_free(t);
            }
        }
    }
    assert_true(keyed > 0 && valid > 0 && other > 0);
    keystore_free(ks);
    g_free(ct);
    g_free(at);
}

/* A keystore-less SA and signature-level errors. */
static void test_no_sa_inputs(void **state)
{
    void *st = mech_ntlm_ops.sa_new(NULL);
    static const uint8_t sig[16] = { 1, 0, 0, 0 };
    static const uint8_t badv[16] = { 2, 0, 0, 0 };
    sig_verdict v = mech_ntlm_ops.verify(st, NULL, NULL, DIR_C2S, NULL, 0, sig, 16, NULL, 0);
    assert_int_equal(v.status, SIG_NO_KEY);
    verdict_clear(&v);
    v = mech_ntlm_ops.verify(st, NULL, "ABCD", DIR_C2S, (const uint8_t *)"x", 1, badv, 16, NULL, 0);
    assert_int_equal(v.status, SIG_MALFORMED);
    verdict_clear(&v);
    v = mech_ntlm_ops.verify(st, NULL, "ABCD", DIR_C2S, (const uint8_t *)"x", 1, NULL, 0, NULL, 0);
    assert_int_equal(v.status, SIG_MALFORMED);
    verdict_clear(&v);
    v = mech_ntlm_ops.verify(st, NULL, "ABCD", DIR_C2S, (const uint8_t *)"x", 1, sig, 16, NULL, 0);
    assert_int_equal(v.status, SIG_NO_KEY);
    assert_non_null(strstr(v.why, "no NTLM handshake seen and no key-log entry NTLM ABCD"));
    verdict_clear(&v);
    mech_ntlm_ops.sa_free(st);
    assert_ptr_equal(mech_find("ntlm"), &mech_ntlm_ops);
}

/* The per-key MAC state kept by ntlm_derive_keys (issue 10) gives exactly the MACs of the
 * re-keying reference functions, for every flag set, direction and SeqNum (100, 0, others), and
 * ntlm_mac_noess_alt those of the other non-ESS seal-key choices. */
static void test_mac_state_matches_reference(void **state)
{
    static const uint32_t fls[] = {
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128, NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56,
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH, NTLM_FL_ESS, 0, NTLM_FL_LM_KEY | NTLM_FL_56,
        NTLM_FL_LM_KEY, NTLM_FL_KEY_EXCH,
    };
    static const uint32_t seqs[] = { 100, 0, 1, 7, 0xffffffffu };
    static const uint32_t alt[] = NTLM_NOESS_ALT_FLAGS;
    uint8_t esk[16], buf[300];
    for (size_t i = 0; i < sizeof esk; i++)
        esk[i] = (uint8_t)(i * 37 + 11);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 13 + 5);
    for (size_t f = 0; f < G_N_ELEMENTS(fls); f++) {
        ntlm_keys k;
        ntlm_derive_keys(esk, fls[f], &k);
        for (int d = 0; d < 2; d++)
            for (size_t q = 0; q < G_N_ELEMENTS(seqs); q++)
                for (size_t len = 0; len <= sizeof buf; len += 150) {
                    uint8_t a[16], b[16];
                    ntlm_mac(&k, d, seqs[q], len ? buf : NULL, len, a);
                    if (fls[f] & NTLM_FL_ESS)
                        ntlm_mac_ess(k.sign[d], (fls[f] & NTLM_FL_KEY_EXCH) ? k.seal[d] : NULL,
                                     seqs[q], len ? buf : NULL, len, b);
                    else
                        ntlm_mac_noess(k.seal[d], k.seal_len, seqs[q], len ? buf : NULL, len, b);
                    assert_memory_equal(a, b, 16);
                    if (!(fls[f] & NTLM_FL_ESS))
                        for (int j = 0; j < 3; j++) {
                            uint8_t ak[16];
                            size_t al = ntlm_seal_key_noess(esk, alt[j], ak);
                            ntlm_mac_noess_alt(&k, j, seqs[q], buf, len, a);
                            ntlm_mac_noess(ak, al, seqs[q], buf, len, b);
                            assert_memory_equal(a, b, 16);
                        }
                }
    }
}

/* The per-message memo (issue 10): one memo shared by every flag set of one ExportedSessionKey,
 * as the variant search uses it, gives exactly ntlm_mac / ntlm_mac_noess_alt. */
static void test_mac_memo_matches_mac(void **state)
{
    static const uint32_t fls[] = {
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128, NTLM_FL_ESS, 0,
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56, NTLM_FL_ESS | NTLM_FL_KEY_EXCH,
        NTLM_FL_LM_KEY | NTLM_FL_56, NTLM_FL_LM_KEY, NTLM_FL_KEY_EXCH,
    };
    static const uint32_t seqs[] = { 100, 0, 1, 7, 0xffffffffu, 100, 0 };
    uint8_t esk[16], esk2[16], buf[300];
    for (size_t i = 0; i < sizeof esk; i++) {
        esk[i] = (uint8_t)(i * 37 + 11);
        esk2[i] = (uint8_t)(i * 91 + 3);
    }
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 13 + 5);
    ntlm_keys k[G_N_ELEMENTS(fls)], k2;
    for (size_t f = 0; f < G_N_ELEMENTS(fls); f++)
        ntlm_derive_keys(esk, fls[f], &k[f]);
    ntlm_derive_keys(esk2, NTLM_FL_ESS, &k2); /* another signing key through the same memo */
    for (size_t len = 0; len <= sizeof buf; len += 100) {
        ntlm_mac_memo m;
        ntlm_mac_memo_init(&m, len ? buf : NULL, len);
        for (size_t f = 0; f < G_N_ELEMENTS(fls); f++)
            for (int d = 0; d < 2; d++)
                for (size_t q = 0; q < G_N_ELEMENTS(seqs); q++) {
                    uint8_t a[16], b[16];
                    ntlm_mac_m(&k[f], d, seqs[q], &m, a);
                    ntlm_mac(&k[f], d, seqs[q], len ? buf : NULL, len, b);
                    assert_memory_equal(a, b, 16);
                    ntlm_mac_m(&k2, d, seqs[q], &m, a);
                    ntlm_mac(&k2, d, seqs[q], len ? buf : NULL, len, b);
                    assert_memory_equal(a, b, 16);
                    if (!(fls[f] & NTLM_FL_ESS))
                        for (int j = 0; j < 3; j++) {
                            ntlm_mac_noess_alt_m(&k[f], j, seqs[q], &m, a);
                            ntlm_mac_noess_alt(&k[f], j, seqs[q], buf, len, b);
                            assert_memory_equal(a, b, 16);
                        }
                }
        ntlm_mac_memo_clear(&m);
    }
}

/* The compact per-key state (ntlm_ek, issue 10) gives exactly ntlm_mac / ntlm_mac_noess_alt for
 * every flag set, direction, SeqNum and message length 0..300 (every MD5 padding case of its
 * HMAC), pieces derived in any order, and the MACs built from scratch with nettle (ntlm_mac_ess:
 * hmac_md5_set_key / update / digest and a fresh ARCFOUR per message; ntlm_mac_noess), which
 * share nothing with the kept HMAC state (ntlm_hmac_key) both ntlm_ek and ntlm_mac use;
 * ntlm_ek_matches answers as ntlm_mac_equal on the right signature, on the signature with any
 * one byte changed, and on another SeqNum's. */
static void test_ek_matches_mac(void **state)
{
    static const uint32_t fls[] = {
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128, NTLM_FL_ESS, 0,
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56, NTLM_FL_ESS | NTLM_FL_KEY_EXCH,
        NTLM_FL_LM_KEY | NTLM_FL_56, NTLM_FL_LM_KEY, NTLM_FL_KEY_EXCH,
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128 | NTLM_FL_56,
    };
    static const uint32_t seqs[] = { 100, 0, 1, 0xffffffffu };
    uint8_t esk[16], esk2[16], buf[300];
    for (size_t i = 0; i < sizeof esk; i++) {
        esk[i] = (uint8_t)(i * 37 + 11);
        esk2[i] = (uint8_t)(i * 91 + 3);
    }
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 13 + 5);
    ntlm_keys k[G_N_ELEMENTS(fls)];
    for (size_t f = 0; f < G_N_ELEMENTS(fls); f++)
        ntlm_derive_keys(esk, fls[f], &k[f]);
    ntlm_keys k2;
    ntlm_derive_keys(esk2, NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128, &k2);
    for (size_t len = 0; len <= sizeof buf; len++) {
        ntlm_ek e, e2;
        ntlm_ek_init(&e, esk);
        ntlm_ek_init(&e2, esk2);
        ntlm_mac_memo m; /* one memo for both keys, as the memo allows */
        ntlm_mac_memo_init(&m, len ? buf : NULL, len);
        for (size_t r = 0; r < 2; r++) /* derive, then reuse */
            for (size_t f0 = 0; f0 < G_N_ELEMENTS(fls); f0++) {
                size_t f = (f0 + len) % G_N_ELEMENTS(fls); /* another order for each length */
                for (int d = 0; d < 2; d++)
                    for (size_t q = 0; q < G_N_ELEMENTS(seqs); q++) {
                        uint8_t a[16], b[16];
                        int ess = (fls[f] & NTLM_FL_ESS) != 0;
                        ntlm_ek_mac(&e, fls[f], d, seqs[q], &m, a);
                        ntlm_mac(&k[f], d, seqs[q], len ? buf : NULL, len, b);
                        assert_memory_equal(a, b, 16);
                        uint8_t ref[16];
                        if (ess) {
                            ntlm_mac_ess(k[f].sign[d],
                                         (fls[f] & NTLM_FL_KEY_EXCH) ? k[f].seal[d] : NULL,
                                         seqs[q], len ? buf : NULL, len, ref);
                        } else {
                            ntlm_mac_noess(k[f].seal[d], k[f].seal_len, seqs[q], len ? buf : NULL,
                                           len, ref);
                        }
                        assert_memory_equal(a, ref, 16);
                        if (len % 37 == 0 || len == 55 || len == 56 || len == 60 ||
                            len == 64 || len == 119 || len == 120) {
                            for (int x = -1; x < 16; x++) {
                                uint8_t sig[16];
                                memcpy(sig, b, 16);
                                if (x >= 0)
                                    sig[x] ^= 0x20;
                                assert_int_equal(ntlm_ek_matches(&e, fls[f], d, seqs[q], &m, sig),
                                                 ntlm_mac_equal(b, sig, ess));
                                assert_int_equal(
                                    ntlm_ek_matches(&e, fls[f], d, seqs[(q + 1) % 4], &m, sig), 0);
                            }
                        }
                        if (fls[f] == (NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128)) {
                            ntlm_ek_mac(&e2, fls[f], d, seqs[q], &m, a);
                            ntlm_mac(&k2, d, seqs[q], len ? buf : NULL, len, b);
                            assert_memory_equal(a, b, 16);
                            ntlm_mac_ess(k2.sign[d], k2.seal[d], seqs[q], len ? buf : NULL, len,
                                         ref);
                            assert_memory_equal(a, ref, 16);
                        }
                        if (!ess)
                            for (int j = 0; j < 3; j++) {
                                ntlm_ek_mac_noess_alt(&e, j, seqs[q], &m, a);
                                ntlm_mac_noess_alt(&k[f], j, seqs[q], len ? buf : NULL, len, b);
                                assert_memory_equal(a, b, 16);
                                assert_int_equal(
                                    ntlm_ek_noess_alt_matches(&e, j, seqs[q], &m, b), 1);
                                b[13] ^= 1;
                                assert_int_equal(
                                    ntlm_ek_noess_alt_matches(&e, j, seqs[q], &m, b), 0);
                                b[13] ^= 1;
                                b[9] ^= 1;
                                assert_int_equal(
                                    ntlm_ek_noess_alt_matches(&e, j, seqs[q], &m, b), 0);
                            }
                    }
            }
        ntlm_mac_memo_clear(&m);
        ntlm_ek_clear(&e);
        ntlm_ek_clear(&e2);
    }
}

/* A keystore whose key log (*path, a temporary file) has the one line "NTLM CAFE0001 <esk>",
 * esk the bytes a0 .. af. */
static keystore *cafe_keylog(uint8_t esk[16], char **path)
{
    for (size_t i = 0; i < 16; i++)
        esk[i] = (uint8_t)(0xa0 + i);
    *path = write_keylog("NTLM CAFE0001 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, *path), 0);
    return ks;
}

/* verify with later 0 or 1, the notes then as the oracles write them ("E text" / "W text", one
 * line each): a NOTE_LATER note replaced by what explain makes of it (*n_later counts them),
 * so that both ways must give the oracle's notes. Every note must be NOTE_INVALID. */
static sig_verdict verify_notes(void *st, keystore *ks, const char *opaque, mssipae_dir d,
                                const uint8_t *buf, size_t bl, const uint8_t sig[16], int later,
                                GString *got, size_t *n_later)
{
    note_list *n = note_list_new();
    sig_verdict r = mech_ntlm_ops.verify(st, ks, opaque, d, buf, bl, sig, 16, n, later);
    note_list *all = note_list_new();
    for (guint i = 0; i < n->len; i++) {
        const mssipae_note *x = &g_array_index(n, mssipae_note, i);
        if (x->kind == NOTE_LATER) {
            assert_true(later);
            assert_int_equal(x->sev, NOTE_SEV_ERROR); /* where errors would be */
            (*n_later)++;
            mech_ntlm_ops.explain(st, x->text, d, buf, bl, sig, 16, all);
        } else {
            note_add_text(all, x->kind, x->sev, x->text);
        }
    }
    for (guint i = 0; i < all->len; i++) {
        const mssipae_note *x = &g_array_index(all, mssipae_note, i);
        assert_int_equal(x->kind, NOTE_INVALID);
        g_string_append_printf(got, "%s %s\n", x->sev == NOTE_SEV_ERROR ? "E" : "W", x->text);
    }
    note_list_free(all);
    note_list_free(n);
    return r;
}

/* The notes the variant search gave before issue 10's shortcuts, computed here from the full
 * keys of each variant (ntlm_derive_keys, ntlm_mac): an oracle for verify's gated checks. */
static const struct { const char *name; uint32_t flags; } oracle_vs[] = {
    { "ESS+KEY_EXCH+128", NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128 },
    { "ESS without KEY_EXCH", NTLM_FL_ESS },
    { "non-ESS", 0 },
    { "ESS+KEY_EXCH+56", NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56 },
    { "ESS+KEY_EXCH+40", NTLM_FL_ESS | NTLM_FL_KEY_EXCH },
    { "non-ESS LM_KEY 56-bit", NTLM_FL_LM_KEY | NTLM_FL_56 },
    { "non-ESS LM_KEY 40-bit", NTLM_FL_LM_KEY },
};

static uint32_t oracle_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Expected: -1 and the notes (into want) when no variant matches, else the variant index. */
static int oracle_variants(const uint8_t esk[16], mssipae_dir dir, const uint8_t *buf,
                           size_t bl, const uint8_t sig[16], GPtrArray *want)
{
    static const struct { const char *name; uint32_t flags; } alt[] = {
        { "full 16-byte", 0 },
        { "[MS-NLMP] 56-bit weakened", NTLM_FL_LM_KEY | NTLM_FL_56 },
        { "[MS-NLMP] 40-bit weakened", NTLM_FL_LM_KEY },
    };
    ntlm_keys k[G_N_ELEMENTS(oracle_vs)];
    uint8_t mine[16];
    for (size_t i = 0; i < G_N_ELEMENTS(oracle_vs); i++)
        ntlm_derive_keys(esk, oracle_vs[i].flags, &k[i]);
    for (size_t i = 0; i < G_N_ELEMENTS(oracle_vs); i++) {
        ntlm_mac(&k[i], dir, 100, buf, bl, mine);
        if (ntlm_mac_equal(mine, sig, (oracle_vs[i].flags & NTLM_FL_ESS) != 0))
            return (int)i;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(oracle_vs); i++) {
        char *label = g_strdup_printf("variant %s: ", oracle_vs[i].name);
        int ess = (oracle_vs[i].flags & NTLM_FL_ESS) != 0;
        ntlm_mac(&k[i], dir, 0, buf, bl, mine);
        if (ntlm_mac_equal(mine, sig, ess))
            g_ptr_array_add(want, g_strdup_printf(
                "W %sthe signature would match with SeqNum 0 instead of 100", label));
        if (ess) {
            uint32_t wire = oracle_rd32(sig + 12);
            if (wire != 100 && wire != 0) {
                ntlm_mac(&k[i], dir, wire, buf, bl, mine);
                if (ntlm_mac_equal(mine, sig, 1))
                    g_ptr_array_add(want, g_strdup_printf(
                        "W %sthe signature carries SeqNum %u ([MS-SIPAE] uses 100) and matches "
                        "with it", label, wire));
            }
            ntlm_mac(&k[i], !dir, 100, buf, bl, mine);
            if (ntlm_mac_equal(mine, sig, 1))
                g_ptr_array_add(want, g_strdup_printf(
                    "E %sthe signature matches the %s keys: a reflected message (signed by the "
                    "%s, presented as the %s's)", label,
                    dir == DIR_C2S ? "server-to-client" : "client-to-server",
                    dir == DIR_C2S ? "server" : "client", dir == DIR_C2S ? "client" : "server"));
        } else {
            for (int j = 0; j < 3; j++) {
                uint8_t ak[16];
                size_t al = ntlm_seal_key_noess(esk, alt[j].flags, ak);
                if (al == k[i].seal_len && memcmp(ak, k[i].seal[0], al) == 0)
                    continue;
                ntlm_mac_noess_alt(&k[i], j, 100, buf, bl, mine);
                if (ntlm_mac_equal(mine, sig, 0))
                    g_ptr_array_add(want, g_strdup_printf(
                        "W %sthe signature would match with the %s seal key", label,
                        alt[j].name));
            }
        }
        g_free(label);
    }
    return -1;
}

/* Key log without a handshake, wrong and right signatures of every kind the diagnostics look
 * for (each variant's MAC under SeqNum 100, 0 and another, in either direction; the other
 * non-ESS seal keys; damaged ones): verify gives exactly the verdict and the notes, in order,
 * of the unshortened search (oracle_variants), on fresh SAs and on one SA reused. */
static void test_keylog_diagnostics_oracle(void **state)
{
    uint8_t esk[16];
    char *path;
    keystore *ks = cafe_keylog(esk, &path);
    uint8_t buf[180];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    static const uint32_t seqs[] = { 100, 0, 5 };
    size_t checked = 0, with_notes = 0, n_later = 0;
    void *shared = mech_ntlm_ops.sa_new(NULL);
    for (size_t bl = 0; bl <= sizeof buf; bl += 60)
        for (size_t v = 0; v < G_N_ELEMENTS(oracle_vs); v++) {
            ntlm_keys k;
            ntlm_derive_keys(esk, oracle_vs[v].flags, &k);
            for (int sd = 0; sd < 2; sd++)
                for (size_t q = 0; q < G_N_ELEMENTS(seqs); q++)
                    for (int damage = 0; damage < 4; damage++) {
                        uint8_t sig[16];
                        if (damage == 3 && !(oracle_vs[v].flags & NTLM_FL_ESS)) {
                            ntlm_mac_noess_alt(&k, (int)q, 100, buf, bl, sig);
                        } else {
                            ntlm_mac(&k, sd, seqs[q], buf, bl, sig);
                            if (damage == 1)
                                sig[6] ^= 0x10;
                            else if (damage == 2)
                                sig[13] ^= 0x01;
                            else if (damage == 3)
                                memset(sig + 4, 0x5a, 8);
                        }
                        for (int d = 0; d < 2; d++) {
                            GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
                            int exp = oracle_variants(esk, d, buf, bl, sig, want);
                            for (int reuse = 0; reuse < 4; reuse++) {
                                /* 0, 1: at once; 2, 3: the reflection check left to explain */
                                void *st = reuse & 1 ? shared : mech_ntlm_ops.sa_new(NULL);
                                GString *got = g_string_new(NULL);
                                sig_verdict r = verify_notes(st, ks, "CAFE0001", d,
                                                             bl ? buf : NULL, bl, sig, reuse >> 1,
                                                             got, &n_later);
                                if (exp >= 0) {
                                    assert_int_equal(r.status, SIG_VALID);
                                    assert_non_null(strstr(r.why, oracle_vs[exp].name));
                                } else {
                                    assert_int_equal(r.status, SIG_INVALID);
                                }
                                if (!(reuse & 1) || exp < 0) {
                                    GString *w = g_string_new(NULL);
                                    for (guint i = 0; i < want->len; i++)
                                        g_string_append_printf(w, "%s\n",
                                                               (char *)want->pdata[i]);
                                    assert_string_equal(got->str, w->str);
                                    with_notes += want->len > 0;
                                    g_string_free(w, TRUE);
                                }
                                g_string_free(got, TRUE);
                                verdict_clear(&r);
                                if (!(reuse & 1))
                                    mech_ntlm_ops.sa_free(st);
                                checked++;
                            }
                            g_ptr_array_free(want, TRUE);
                        }
                    }
        }
    mech_ntlm_ops.sa_free(shared);
    assert_true(checked > 1000);
    assert_true(with_notes > 100); /* the diagnostics did find things */
    assert_true(n_later > 100);    /* and left the reflection check to explain */
    keystore_free(ks);
    unlink(path);
    g_free(path);
}

/* The same with the AUTHENTICATE's flags known (the R2 handshake and its key-log key): every
 * note of the unshortened check (SeqNum 0, the carried SeqNum, reflection), in order, for MACs
 * under SeqNum 100, 0 and another in either direction, damaged or not. */
static void test_known_flags_diagnostics_oracle(void **state)
{
    char *line = keylog_line(R2, "2BDBAC9D");
    char *path = write_keylog(line);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, path), 0);
    note_list *hn = note_list_new();
    void *st = r2_sa(ks, hn);
    uint8_t *esk = val_hex(R2, "exported_session_key", 16);
    char *flhex = tu_value(R2, "authenticate_flags");
    uint32_t fl = (uint32_t)strtoul(flhex, NULL, 16);
    g_free(flhex);
    assert_true(fl & NTLM_FL_ESS);
    ntlm_keys k;
    ntlm_derive_keys(esk, fl, &k);
    uint8_t buf[150];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 5 + 3);
    static const uint32_t seqs[] = { 100, 0, 7 };
    size_t with_notes = 0, n_later = 0;
    for (int run = 0; run < 4; run++) /* verify's later: run >> 1; the MAC's direction: run & 1 */
        for (size_t q = 0; q < G_N_ELEMENTS(seqs); q++)
            for (int damage = 0; damage < 3; damage++)
                for (int d = 0; d < 2; d++) {
                    uint8_t sig[16], mine[16];
                    ntlm_mac(&k, run & 1, seqs[q], buf, sizeof buf, sig);
                    if (damage == 1)
                        sig[7] ^= 0x40;
                    else if (damage == 2)
                        sig[12] ^= 0x02;
                    GString *w = g_string_new(NULL);
                    ntlm_mac(&k, d, 100, buf, sizeof buf, mine);
                    int valid = ntlm_mac_equal(mine, sig, 1);
                    if (!valid) {
                        ntlm_mac(&k, d, 0, buf, sizeof buf, mine);
                        if (ntlm_mac_equal(mine, sig, 1))
                            g_string_append(w, "W the signature would match with SeqNum 0 "
                                               "instead of 100\n");
                        uint32_t wire = oracle_rd32(sig + 12);
                        if (wire != 100 && wire != 0) {
                            ntlm_mac(&k, d, wire, buf, sizeof buf, mine);
                            g_string_append_printf(
                                w, "W the signature carries SeqNum %u ([MS-SIPAE] uses 100)%s\n",
                                wire, ntlm_mac_equal(mine, sig, 1) ? " and matches with it" : "");
                        }
                        ntlm_mac(&k, !d, 100, buf, sizeof buf, mine);
                        if (ntlm_mac_equal(mine, sig, 1))
                            g_string_append_printf(
                                w, "E the signature matches the %s keys: a reflected message "
                                   "(signed by the %s, presented as the %s's)\n",
                                d == DIR_C2S ? "server-to-client" : "client-to-server",
                                d == DIR_C2S ? "server" : "client",
                                d == DIR_C2S ? "client" : "server");
                    }
                    GString *got = g_string_new(NULL);
                    sig_verdict r = verify_notes(st, ks, "2BDBAC9D", d, buf, sizeof buf, sig,
                                                 run >> 1, got, &n_later);
                    assert_int_equal(r.status, valid ? SIG_VALID : SIG_INVALID);
                    assert_string_equal(got->str, w->str);
                    with_notes += w->len > 0;
                    g_string_free(got, TRUE);
                    g_string_free(w, TRUE);
                    verdict_clear(&r);
                }
    assert_true(with_notes >= 20);
    assert_true(n_later >= 4); /* the reflection checks left to explain (later 1) */
    mech_ntlm_ops.sa_free(st);
    note_list_free(hn);
    keystore_free(ks);
    g_free(esk);
    unlink(path);
    g_free(path);
    g_free(line);
}

/* A request on SA CAFE0001 (key log, no handshake) with cnum and the signature sig (NULL: 16
 * zero bytes), as a SIP message. */
static char *later_msg(unsigned cnum, const uint8_t *sig)
{
    static const uint8_t zero[16] = { 1 };
    char *hex = codec_hex_encode(sig ? sig : zero, 16);
    char *m = g_strdup_printf(
        "MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK%u\r\n"
        "From: <sip:a@x>;tag=ta\r\nTo: <sip:b@x>;tag=tb\r\nCall-ID: later-%u\r\n"
        "CSeq: %u MESSAGE\r\nAuthorization: NTLM qop=\"auth\", realm=\"SIP Communications "
        "Service\", opaque=\"CAFE0001\", targetname=\"srv.x\", crand=\"%08x\", cnum=\"%u\", "
        "response=\"%s\"\r\nContent-Length: 0\r\n\r\n",
        cnum, cnum, cnum, cnum, cnum, hex);
    g_free(hex);
    return m;
}

/* The notes of a full result's header 0 as "<kind> <sev> <text>" lines. */
static char *notes_text(const auth_result *a)
{
    GString *g = g_string_new(NULL);
    for (guint i = 0; a->notes && i < a->notes->len; i++) {
        const mssipae_note *x = &g_array_index(a->notes, mssipae_note, i);
        g_string_append_printf(g, "%d %d %s\n", x->kind, x->sev, x->text);
    }
    return g_string_free(g, FALSE);
}

/* The tracker with later 1 (as the dissector): a wrong signature whose only missing
 * diagnostic is the reflection check keeps a NOTE_LATER note in its record; sa_tracker_expand
 * with explain gives exactly the notes of a tracker that checks at once (reflected or not,
 * with the verdict's own note dropped when the reflection is named); without explain, the
 * record's notes and the verdict's note as if nothing was found. Valid signatures and
 * diagnostics found at once keep nothing for later. */
static void test_later_tracker(void **state)
{
    uint8_t esk[16];
    char *path;
    keystore *ks = cafe_keylog(esk, &path);
    ntlm_keys k128, k0;
    ntlm_derive_keys(esk, NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128, &k128);
    ntlm_derive_keys(esk, 0, &k0);
    sa_tracker *now = sa_tracker_new(ks), *later = sa_tracker_new(ks),
               *scratch = sa_tracker_new(ks);
    sa_tracker_set_later(later, 1);
    /* kind: 0 valid, 1 reflected (server-to-client keys), 2 damaged, 3 non-ESS SeqNum 0 (a
     * cheap finding: made at once), 4 reflected again, 5 valid */
    static const int kinds[] = { 0, 1, 2, 3, 4, 2, 5 };
    static const int has_later[] = { 0, 1, 1, 0, 1, 1, 0 };
    size_t reflected = 0;
    for (unsigned i = 0; i < G_N_ELEMENTS(kinds); i++) {
        msg_meta meta = { i + 1, "10.0.0.1:5061", "10.0.0.2:5061" };
        /* the buffer this header signs, from a message with a dummy signature */
        char *m0 = later_msg(i + 1, NULL);
        const msg_result *r0 = sa_tracker_process(scratch, m0, strlen(m0), &meta);
        const auth_result *a0 = g_ptr_array_index(r0->auths, 0);
        assert_non_null(a0->sigbuf);
        uint8_t sig[16];
        const uint8_t *b = (const uint8_t *)a0->sigbuf;
        switch (kinds[i]) {
        case 0: case 5: ntlm_mac(&k128, DIR_C2S, 100, b, a0->sigbuf_len, sig); break;
        case 1: case 4: ntlm_mac(&k128, DIR_S2C, 100, b, a0->sigbuf_len, sig); break;
        case 2: ntlm_mac(&k128, DIR_C2S, 100, b, a0->sigbuf_len, sig); sig[5] ^= 1; break;
        default: ntlm_mac(&k0, DIR_C2S, 0, b, a0->sigbuf_len, sig); break;
        }
        char *m = later_msg(i + 1, sig);
        size_t len = strlen(m);
        const msg_result *want = sa_tracker_process(now, m, len, &meta);
        const msg_rec *rec = sa_tracker_process_rec(later, m, len, &meta);
        assert_int_equal(msg_rec_has_later(sa_tracker_results(later), rec), has_later[i]);
        msg_result *got = sa_tracker_expand(later, rec, m, len, 1);
        msg_result *plain = sa_tracker_expand(later, rec, m, len, 0);
        assert_non_null(got);
        assert_non_null(plain);
        const auth_result *wa = g_ptr_array_index(want->auths, 0),
                          *ga = g_ptr_array_index(got->auths, 0),
                          *pa = g_ptr_array_index(plain->auths, 0);
        assert_int_equal(ga->status, wa->status);
        assert_int_equal(wa->status, kinds[i] == 0 || kinds[i] == 5 ? SIG_VALID : SIG_INVALID);
        assert_string_equal(ga->why ? ga->why : "", wa->why ? wa->why : "");
        char *wt = notes_text(wa), *gt = notes_text(ga), *pt = notes_text(pa);
        assert_string_equal(gt, wt);
        int refl = strstr(wt, "reflected message") != NULL;
        reflected += refl;
        assert_int_equal(refl, kinds[i] == 1 || kinds[i] == 4);
        if (!has_later[i] || !refl) {
            assert_string_equal(pt, wt); /* nothing found by the check left */
        } else {
            /* without explain: the verdict's own note in place of the reflection's */
            assert_null(strstr(pt, "reflected"));
            assert_non_null(strstr(pt, "signature invalid"));
            assert_null(strstr(wt, "signature invalid"));
        }
        for (guint j = 0; pa->notes && j < pa->notes->len; j++)
            assert_int_not_equal(g_array_index(pa->notes, mssipae_note, j).kind, NOTE_LATER);
        g_free(wt);
        g_free(gt);
        g_free(pt);
        msg_result_free(got);
        msg_result_free(plain);
        g_free(m);
        g_free(m0);
    }
    assert_int_equal(reflected, 2);
    sa_tracker_free(now);
    sa_tracker_free(later);
    sa_tracker_free(scratch);
    keystore_free(ks);
    unlink(path);
    g_free(path);
}

/* Key log without a handshake (issue 10: the variant that verified is tried first, the texts
 * are kept per SA): every variant verifies, in both directions, on one SA and on fresh ones,
 * with the same text each time; a wrong signature gives the same verdict and notes each time;
 * after the key log is rewritten (the line moves) the texts name the new line. */
static void test_keylog_variants_cached(void **state)
{
    static const struct { const char *name; uint32_t flags; } vs[] = {
        { "ESS+KEY_EXCH+128", NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128 },
        { "ESS without KEY_EXCH", NTLM_FL_ESS },
        { "non-ESS", 0 },
        { "ESS+KEY_EXCH+56", NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56 },
        { "ESS+KEY_EXCH+40", NTLM_FL_ESS | NTLM_FL_KEY_EXCH },
        { "non-ESS LM_KEY 56-bit", NTLM_FL_LM_KEY | NTLM_FL_56 },
        { "non-ESS LM_KEY 40-bit", NTLM_FL_LM_KEY },
    };
    uint8_t esk[16];
    for (size_t i = 0; i < sizeof esk; i++)
        esk[i] = (uint8_t)(0xa0 + i);
    char *path = write_keylog("NTLM CAFE0001 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    keystore *ks = keystore_new();
    keystore_set_keylog(ks, path);
    const uint8_t msg[] = "REGISTER sip:x SIP/2.0 (the signed buffer)";
    void *shared = mech_ntlm_ops.sa_new(NULL);
    for (int pass = 0; pass < 2; pass++) {
        unsigned line = pass ? 3 : 2;
        if (pass) { /* the same key, one line further down: re-read, new line in the texts */
            char *text = g_strdup("# test key log\n# moved\nNTLM CAFE0001 "
                                  "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\n");
            assert_true(g_file_set_contents(path, text, -1, NULL));
            g_free(text);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(vs); i++) {
            ntlm_keys k;
            ntlm_derive_keys(esk, vs[i].flags, &k);
            char *want = g_strdup_printf("key from key-log entry NTLM CAFE0001 (line %u); no "
                                         "handshake seen, variant %s matched", line, vs[i].name);
            void *fresh = mech_ntlm_ops.sa_new(NULL);
            for (int rep = 0; rep < 3; rep++)
                for (int d = 0; d < 2; d++) {
                    uint8_t sig[16];
                    ntlm_mac(&k, d, NTLM_SEQ_SIP, msg, sizeof msg, sig);
                    void *sts[2] = { shared, fresh };
                    for (int s = 0; s < 2; s++) {
                        sig_verdict v = mech_ntlm_ops.verify(sts[s], ks, "CAFE0001", d, msg,
                                                             sizeof msg, sig, 16, NULL, 0);
                        assert_int_equal(v.status, SIG_VALID);
                        assert_string_equal(v.why, want);
                        verdict_clear(&v);
                    }
                }
            mech_ntlm_ops.sa_free(fresh);
            secure_wipe(&k, sizeof k);
            g_free(want);
        }
        /* a wrong signature: same verdict and notes on every message */
        char *want = g_strdup_printf("signature matches none of the flag variants with key-log "
                                     "entry NTLM CAFE0001 (line %u); no handshake seen", line);
        uint8_t bad[16] = { 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 0, 0, 0 };
        GString *first = NULL;
        for (int rep = 0; rep < 3; rep++) {
            note_list *n = note_list_new();
            sig_verdict v = mech_ntlm_ops.verify(shared, ks, "CAFE0001", DIR_C2S, msg, sizeof msg,
                                                 bad, 16, n, 0);
            assert_int_equal(v.status, SIG_INVALID);
            assert_string_equal(v.why, want);
            GString *all = g_string_new(NULL);
            for (guint j = 0; j < n->len; j++)
                g_string_append_printf(all, "%d %s\n", (int)g_array_index(n, mssipae_note, j).kind,
                                       g_array_index(n, mssipae_note, j).text);
            if (first) {
                assert_string_equal(all->str, first->str);
                g_string_free(all, TRUE);
            } else {
                first = all;
            }
            verdict_clear(&v);
            note_list_free(n);
        }
        g_string_free(first, TRUE);
        g_free(want);
    }
    mech_ntlm_ops.sa_free(shared);
    keystore_free(ks);
    unlink(path);
    g_free(path);
}

/* ntlm_derive_keys_like gives byte for byte what ntlm_derive_keys gives, whatever ref is (keys
 * of the same ESK under any flag set, of another ESK, or none). */
static void test_derive_keys_like(void **state)
{
    static const uint32_t fls[] = {
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128, NTLM_FL_ESS, 0,
        NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56, NTLM_FL_ESS | NTLM_FL_KEY_EXCH,
        NTLM_FL_LM_KEY | NTLM_FL_56, NTLM_FL_LM_KEY, NTLM_FL_KEY_EXCH,
        NTLM_FL_NON_NT_SESSION_KEY | NTLM_FL_56, NTLM_FL_ESS | NTLM_FL_LM_KEY | NTLM_FL_56,
    };
    uint8_t esk[16], other[16];
    for (size_t i = 0; i < sizeof esk; i++) {
        esk[i] = (uint8_t)(i * 29 + 7);
        other[i] = (uint8_t)(i * 3 + 200);
    }
    for (size_t f = 0; f < G_N_ELEMENTS(fls); f++) {
        ntlm_keys want, got, ref;
        ntlm_derive_keys(esk, fls[f], &want);
        ntlm_derive_keys_like(esk, fls[f], NULL, &got);
        assert_memory_equal(&got, &want, sizeof want);
        for (size_t r = 0; r < G_N_ELEMENTS(fls); r++)
            for (int o = 0; o < 2; o++) {
                ntlm_derive_keys(o ? other : esk, fls[r], &ref);
                ntlm_derive_keys_like(esk, fls[f], &ref, &got);
                assert_memory_equal(&got, &want, sizeof want);
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_v1),
        cmocka_unit_test(test_kat_ess),
        cmocka_unit_test(test_kat_v2),
        cmocka_unit_test(test_r2_parse),
        cmocka_unit_test(test_r2_derive),
        cmocka_unit_test(test_r2_password),
        cmocka_unit_test(test_r2_wrong_password),
        cmocka_unit_test(test_r2_keylog),
        cmocka_unit_test(test_no_key_texts_per_message),
        cmocka_unit_test(test_r2_tamper),
        cmocka_unit_test(test_noess),
        cmocka_unit_test(test_keylog_wrong_key),
        cmocka_unit_test(test_diag_seq0),
        cmocka_unit_test(test_gssntlmssp),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_no_sa_inputs),
        cmocka_unit_test(test_mac_state_matches_reference),
        cmocka_unit_test(test_mac_memo_matches_mac),
        cmocka_unit_test(test_ek_matches_mac),
        cmocka_unit_test(test_keylog_diagnostics_oracle),
        cmocka_unit_test(test_known_flags_diagnostics_oracle),
        cmocka_unit_test(test_later_tracker),
        cmocka_unit_test(test_keylog_variants_cached),
        cmocka_unit_test(test_derive_keys_like),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
