/* test_tlsdsk_hostile.c - the TLS-DSK handshake reader and mechanism against hostile or broken
 * input (acceptance item 5): bad record lengths and types, truncated and misdirected messages,
 * unknown suites, DHE/ECDHE handshakes with only an RSA key, a 1 MB certificate, encrypted
 * records after ChangeCipherSpec, framing variants (several messages per record, a message
 * across records, records across tokens), seeded random corruption, and what the reader keeps
 * (only incomplete records and messages; nothing of the handshake after tls_hs_trim). Every case must end in
 * a clear status and notes, never a crash (run under ASan + UBSan by test.sh).
 *
 * The handshakes here are hand-built byte strings (RFC 5246 7.4 layouts), so each case changes
 * exactly one thing.
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <string.h>

#include <glib/gstdio.h>

#include "keytab/keystore.h"
#include "verify/mech.h"
#include "verify/tls_hs.h"

#define OPAQUE "0BADF00D"

/* ---- building records ---- */

static void put16(GByteArray *b, unsigned v)
{
    uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    g_byte_array_append(b, x, 2);
}

static void put24(GByteArray *b, size_t v)
{
    uint8_t x[3] = { (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    g_byte_array_append(b, x, 3);
}

/* A handshake message: type, uint24 length, body. */
static GByteArray *hsmsg(uint8_t type, const uint8_t *body, size_t len)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, &type, 1);
    put24(b, len);
    g_byte_array_append(b, body, (guint)len);
    return b;
}

/* A record of the given type holding p[0..n). */
static GByteArray *record(uint8_t type, uint16_t ver, const uint8_t *p, size_t n)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, &type, 1);
    put16(b, ver);
    put16(b, (unsigned)n);
    g_byte_array_append(b, p, (guint)n);
    return b;
}

static GByteArray *client_hello(uint16_t ver, int ems)
{
    GByteArray *b = g_byte_array_new();
    put16(b, ver);
    for (int i = 0; i < 32; i++) {
        uint8_t r = (uint8_t)(0xc0 + i);
        g_byte_array_append(b, &r, 1);
    }
    uint8_t zero = 0;
    g_byte_array_append(b, &zero, 1);  /* empty session id */
    put16(b, 4);
    put16(b, 0x002f);
    put16(b, 0x0033);
    uint8_t comp[] = { 1, 0 };
    g_byte_array_append(b, comp, 2);
    if (ems) {
        put16(b, 4);
        put16(b, 0x0017);
        put16(b, 0);
    }
    GByteArray *m = hsmsg(1, b->data, b->len);
    g_byte_array_free(b, TRUE);
    return m;
}

static GByteArray *server_hello(uint16_t ver, uint16_t suite)
{
    GByteArray *b = g_byte_array_new();
    put16(b, ver);
    for (int i = 0; i < 32; i++) {
        uint8_t r = (uint8_t)(0x50 + i);
        g_byte_array_append(b, &r, 1);
    }
    uint8_t sid[] = { 4, 1, 2, 3, 4 };
    g_byte_array_append(b, sid, sizeof(sid));
    put16(b, suite);
    uint8_t zero = 0;
    g_byte_array_append(b, &zero, 1);
    GByteArray *m = hsmsg(2, b->data, b->len);
    g_byte_array_free(b, TRUE);
    return m;
}

static void feed_bytes(void *st, mssipae_dir d, const GByteArray *b, keystore *ks, note_list *n)
{
    mech_tlsdsk_ops.on_token(st, d, b->data, b->len, ks, n);
}

/* Feeds a handshake message in its own record. */
static void feed_msg(void *st, mssipae_dir d, GByteArray *msg, keystore *ks, note_list *n)
{
    GByteArray *r = record(22, 0x0301, msg->data, msg->len);
    feed_bytes(st, d, r, ks, n);
    g_byte_array_free(r, TRUE);
    g_byte_array_free(msg, TRUE);
}

typedef struct {
    void *cap, *st;
    keystore *ks;
    note_list *notes;
} fixture;

static int fx_setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->cap = mech_tlsdsk_ops.cap_new();
    f->st = mech_tlsdsk_ops.sa_new(f->cap);
    f->ks = keystore_new();
    f->notes = note_list_new();
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture *f = *state;
    mech_tlsdsk_ops.sa_free(f->st);
    mech_tlsdsk_ops.cap_free(f->cap);
    keystore_free(f->ks);
    note_list_free(f->notes);
    g_free(f);
    return 0;
}

/* Verifies a 20-byte signature; returns the status, *why kept for inspection (g_free it). */
static sig_status verify20(fixture *f, char **why)
{
    static const uint8_t buf[] = "<TLS-DSK><x>";
    uint8_t sig[20] = { 1, 2, 3 };
    sig_verdict v = mech_tlsdsk_ops.verify(f->st, f->ks, OPAQUE, DIR_C2S, buf, sizeof(buf) - 1, sig,
                                           sizeof(sig), f->notes, 0);
    if (why)
        *why = v.why;
    else
        g_free(v.why);
    return v.status;
}

/* ---- cases ---- */

static void test_bad_record_type(void **state)
{
    fixture *f = *state;
    static const uint8_t junk[] = { 0x99, 3, 1, 0, 2, 0, 0 };
    mech_tlsdsk_ops.on_token(f->st, DIR_C2S, junk, sizeof(junk), f->ks, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "not a TLS record"));
    char *why;
    assert_int_equal(verify20(f, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "unreadable"));
    g_free(why);
    /* later tokens of that direction are ignored, quietly */
    guint n = f->notes->len;
    feed_msg(f->st, DIR_C2S, client_hello(0x0301, 0), f->ks, f->notes);
    assert_int_equal(f->notes->len, n);
}

static void test_bad_record_version(void **state)
{
    fixture *f = *state;
    static const uint8_t junk[] = { 22, 2, 0, 0, 1, 0 }; /* SSL 2 style version */
    mech_tlsdsk_ops.on_token(f->st, DIR_S2C, junk, sizeof(junk), f->ks, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "not a TLS record"));
}

static void test_record_too_long(void **state)
{
    fixture *f = *state;
    static const uint8_t hdr[] = { 22, 3, 1, 0xff, 0xff };
    mech_tlsdsk_ops.on_token(f->st, DIR_C2S, hdr, sizeof(hdr), f->ks, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "record length 65535"));
    assert_int_equal(verify20(f, NULL), SIG_NO_KEY);
}

static void test_empty_handshake_record(void **state)
{
    fixture *f = *state;
    static const uint8_t r[] = { 22, 3, 1, 0, 0 };
    mech_tlsdsk_ops.on_token(f->st, DIR_C2S, r, sizeof(r), f->ks, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "empty handshake record"));
}

/* ClientHello bodies cut at every length: malformed, never read past the end. */
static void test_truncated_client_hello(void **state)
{
    GByteArray *full = client_hello(0x0301, 1);
    for (size_t cut = 0; cut < full->len - 4; cut++) {
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        /* a message whose declared length is the cut: the body really is short */
        GByteArray *m = hsmsg(1, full->data + 4, cut);
        /* feed an exact-size copy so ASan sees any over-read */
        GByteArray *r = record(22, 0x0301, m->data, m->len);
        uint8_t *exact = g_memdup2(r->data, r->len);
        mech_tlsdsk_ops.on_token(st, DIR_C2S, exact, r->len, NULL, notes);
        g_free(exact);
        /* version 2 + random 32 + session id 1 + suites 2+4 + compression 1+1 = 43 bytes is a
         * complete ClientHello without extensions; every other cut is malformed (a cut inside
         * the EMS extension breaks the extensions framing) */
        if (cut == 43)
            assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
        else
            assert_true(tu_has_note(notes, NOTE_MALFORMED, "malformed"));
        g_byte_array_free(r, TRUE);
        g_byte_array_free(m, TRUE);
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
    }
    g_byte_array_free(full, TRUE);
}

/* A message that ends before its record does not count: the rest waits for more records; a
 * ChangeCipherSpec in the middle of a message is malformed. */
static void test_truncated_then_ccs(void **state)
{
    fixture *f = *state;
    GByteArray *ch = client_hello(0x0301, 0);
    GByteArray *r = record(22, 0x0301, ch->data, ch->len - 10);
    feed_bytes(f->st, DIR_C2S, r, f->ks, f->notes);
    assert_false(tu_has_note(f->notes, NOTE_MALFORMED, NULL));
    static const uint8_t ccs[] = { 20, 3, 1, 0, 1, 1 };
    mech_tlsdsk_ops.on_token(f->st, DIR_C2S, ccs, sizeof(ccs), f->ks, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "ChangeCipherSpec"));
    g_byte_array_free(r, TRUE);
    g_byte_array_free(ch, TRUE);
}

/* A 1 MB certificate: announced (stopped at once) and sent in full in 16 KiB records (stopped
 * at the per-SA cap); the status says why, nothing grows without bound. */
static void test_huge_certificate(void **state)
{
    for (int announce_only = 0; announce_only <= 1; announce_only++) {
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        feed_msg(st, DIR_C2S, client_hello(0x0301, 0), NULL, notes);
        feed_msg(st, DIR_S2C, server_hello(0x0301, 0x002f), NULL, notes);
        size_t certlen = 1024 * 1024;
        GByteArray *body = g_byte_array_new();
        put24(body, certlen + 3);
        put24(body, certlen);
        g_byte_array_set_size(body, (guint)(body->len + certlen));
        memset(body->data + 6, 0x41, certlen);
        GByteArray *m = hsmsg(11, body->data, body->len);
        size_t limit = announce_only ? 4 : m->len;
        for (size_t off = 0; off < limit; off += 16384) {
            GByteArray *r = record(22, 0x0301, m->data + off, MIN(16384, limit - off));
            feed_bytes(st, DIR_S2C, r, NULL, notes);
            g_byte_array_free(r, TRUE);
        }
        assert_true(tu_has_note(notes, NOTE_MALFORMED, "limit"));
        keystore *ks = keystore_new();
        static const uint8_t buf[] = "x";
        uint8_t sig[20] = { 0 };
        sig_verdict v = mech_tlsdsk_ops.verify(st, ks, OPAQUE, DIR_S2C, buf, 1, sig, 20, notes, 0);
        assert_int_equal(v.status, SIG_NO_KEY);
        assert_non_null(strstr(v.why, "limit"));
        g_free(v.why);
        keystore_free(ks);
        g_byte_array_free(m, TRUE);
        g_byte_array_free(body, TRUE);
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
    }
}

/* Record bytes of a never-ending record stream past the cap. */
static void test_reassembly_cap(void **state)
{
    fixture *f = *state;
    /* a handshake message announcing 200 000 bytes, sent as 200 000 bytes of records: under
     * the cap; then the same again: the transcript would pass the cap */
    GByteArray *big = g_byte_array_new();
    g_byte_array_set_size(big, 200000);
    memset(big->data, 0, big->len);
    for (int round = 0; round < 2; round++) {
        GByteArray *m = hsmsg(15, big->data, big->len); /* CertificateVerify: kept in transcript */
        for (size_t off = 0; off < m->len; off += 16000) {
            GByteArray *r = record(22, 0x0301, m->data + off, MIN(16000, m->len - off));
            feed_bytes(f->st, DIR_C2S, r, NULL, f->notes);
            g_byte_array_free(r, TRUE);
        }
        g_byte_array_free(m, TRUE);
    }
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "limit"));
    g_byte_array_free(big, TRUE);
}

/* Messages from the wrong side or repeated. */
static void test_misdirected(void **state)
{
    fixture *f = *state;
    feed_msg(f->st, DIR_C2S, server_hello(0x0301, 0x002f), NULL, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "unexpected handshake message type 2"));
    feed_msg(f->st, DIR_S2C, client_hello(0x0301, 0), NULL, f->notes);
    assert_true(tu_has_note(f->notes, NOTE_MALFORMED, "unexpected handshake message type 1"));
}

/* An unknown suite: the RSA key cannot be used (key exchange unknown); with a CLIENT_RANDOM line
 * the candidates are tried and, not matching, give UNSUPPORTED, never INVALID. */
static void test_unknown_suite(void **state)
{
    fixture *f = *state;
    feed_msg(f->st, DIR_C2S, client_hello(0x0303, 0), f->ks, f->notes);
    feed_msg(f->st, DIR_S2C, server_hello(0x0303, 0x1234), f->ks, f->notes);
    assert_false(tu_has_note(f->notes, NOTE_MALFORMED, NULL));
    char *why;
    assert_int_equal(verify20(f, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "unknown cipher suite 0x1234"));
    g_free(why);

    GString *kl = g_string_new("CLIENT_RANDOM ");
    for (int i = 0; i < 32; i++)
        g_string_append_printf(kl, "%02x", 0xc0 + i);
    g_string_append_c(kl, ' ');
    for (int i = 0; i < 48; i++)
        g_string_append(kl, "ab");
    g_string_append_c(kl, '\n');
    char *dir = g_dir_make_tmp("mssipae-hostile-XXXXXX", NULL);
    char *path = g_build_filename(dir, "k.log", NULL);
    assert_true(g_file_set_contents(path, kl->str, (gssize)kl->len, NULL));
    assert_int_equal(keystore_set_keylog(f->ks, path), 0);
    assert_int_equal(verify20(f, &why), SIG_UNSUPPORTED);
    assert_non_null(strstr(why, "unknown suite"));
    g_free(why);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
    g_string_free(kl, TRUE);
}

/* DHE and ECDHE suites with only an RSA key: NO_KEY and the reason says what would help. */
static void test_ephemeral_with_rsa_key_only(void **state)
{
    static const uint16_t suites[] = { 0x0033, 0xc030 };
    for (size_t i = 0; i < G_N_ELEMENTS(suites); i++) {
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        keystore *ks = keystore_new();
        feed_msg(st, DIR_C2S, client_hello(0x0303, 0), ks, NULL);
        feed_msg(st, DIR_S2C, server_hello(0x0303, suites[i]), ks, NULL);
        static const uint8_t ske[] = { 3, 0, 23, 1, 4 };
        feed_msg(st, DIR_S2C, hsmsg(12, ske, sizeof(ske)), ks, NULL);
        static const uint8_t buf[] = "x";
        uint8_t sig[48] = { 0 };
        sig_verdict v = mech_tlsdsk_ops.verify(st, ks, OPAQUE, DIR_S2C, buf, 1, sig, 48, NULL, 0);
        assert_int_equal(v.status, SIG_NO_KEY);
        assert_non_null(strstr(v.why, "cannot recover"));
        assert_non_null(strstr(v.why, "explicit TLS-DSK keys"));
        g_free(v.why);
        keystore_free(ks);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
    }
}

/* Framing: a record with several messages, a message over several records, records over
 * several tokens, and encrypted records after ChangeCipherSpec, all read without a note. */
static void test_framing_variants(void **state)
{
    fixture *f = *state;
    /* ClientHello split over three records, the records cut across two tokens */
    GByteArray *ch = client_hello(0x0301, 1);
    GByteArray *stream = g_byte_array_new();
    size_t third = ch->len / 3;
    for (int i = 0; i < 3; i++) {
        size_t off = third * (size_t)i, n = i == 2 ? ch->len - off : third;
        GByteArray *r = record(22, 0x0301, ch->data + off, n);
        g_byte_array_append(stream, r->data, r->len);
        g_byte_array_free(r, TRUE);
    }
    mech_tlsdsk_ops.on_token(f->st, DIR_C2S, stream->data, 7, NULL, f->notes);
    mech_tlsdsk_ops.on_token(f->st, DIR_C2S, stream->data + 7, stream->len - 7, NULL, f->notes);
    /* ServerHello + ServerHelloDone in one record, then CCS and an "encrypted" Finished */
    GByteArray *sh = server_hello(0x0301, 0x002f);
    GByteArray *done = hsmsg(14, NULL, 0);
    g_byte_array_append(sh, done->data, done->len);
    GByteArray *r = record(22, 0x0301, sh->data, sh->len);
    static const uint8_t ccs_fin[] = { 20, 3, 1, 0, 1, 1, 22, 3, 1, 0, 4, 0xde, 0xad, 0xbe, 0xef };
    g_byte_array_append(r, ccs_fin, sizeof(ccs_fin));
    feed_bytes(f->st, DIR_S2C, r, NULL, f->notes);
    assert_false(tu_has_note(f->notes, NOTE_MALFORMED, NULL));
    assert_true(tu_has_note(f->notes, NOTE_TOKEN, "ServerHello: TLS 1.0, TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert_true(tu_has_note(f->notes, NOTE_TOKEN, "ClientHello: version 0x0301"));
    /* no ClientKeyExchange: the RSA path says so (a key with no certificate: no certificate) */
    char *why;
    assert_int_equal(verify20(f, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "Certificate"));
    g_free(why);
    g_byte_array_free(r, TRUE);
    g_byte_array_free(done, TRUE);
    g_byte_array_free(sh, TRUE);
    g_byte_array_free(stream, TRUE);
    g_byte_array_free(ch, TRUE);
}

/* No handshake at all and no explicit keys; an unsupported TLS version. */
static void test_no_handshake_and_tls13(void **state)
{
    fixture *f = *state;
    char *why;
    assert_int_equal(verify20(f, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "not in the capture"));
    g_free(why);
    feed_msg(f->st, DIR_C2S, client_hello(0x0303, 0), NULL, NULL);
    GByteArray *sh = server_hello(0x0303, 0x1301);
    /* append supported_versions = TLS 1.3 */
    static const uint8_t ext[] = { 0, 6, 0, 0x2b, 0, 2, 3, 4 };
    g_byte_array_append(sh, ext, sizeof(ext));
    sh->data[3] = (uint8_t)(sh->len - 4);
    feed_msg(f->st, DIR_S2C, sh, NULL, f->notes);
    assert_int_equal(verify20(f, &why), SIG_UNSUPPORTED);
    assert_non_null(strstr(why, "TLS 1.3"));
    g_free(why);
}

/* Seeded random corruption of a small handshake: any status, no crash, no over-read. */
static void test_random_corruption(void **state)
{
    GByteArray *flight = g_byte_array_new();
    GByteArray *ch = client_hello(0x0301, 1);
    GByteArray *r = record(22, 0x0301, ch->data, ch->len);
    g_byte_array_append(flight, r->data, r->len);
    g_byte_array_free(r, TRUE);
    GByteArray *sh = server_hello(0x0301, 0x0004);
    GByteArray *sflight = record(22, 0x0301, sh->data, sh->len);
    GRand *rnd = g_rand_new_with_seed(7);
    keystore *ks = keystore_new();
    for (int iter = 0; iter < 3000; iter++) {
        GByteArray *fl[2] = { flight, sflight };
        uint8_t *copy[2];
        size_t len[2];
        for (int k = 0; k < 2; k++) {
            len[k] = fl[k]->len;
            copy[k] = g_memdup2(fl[k]->data, fl[k]->len);
            int flips = g_rand_int_range(rnd, 0, 4);
            for (int j = 0; j < flips; j++)
                copy[k][g_rand_int_range(rnd, 0, (gint32)len[k])] ^= (uint8_t)g_rand_int_range(rnd, 1, 256);
            if (g_rand_boolean(rnd))
                len[k] = (size_t)g_rand_int_range(rnd, 0, (gint32)len[k] + 1);
        }
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        size_t cut = len[0] ? (size_t)g_rand_int_range(rnd, 0, (gint32)len[0] + 1) : 0;
        mech_tlsdsk_ops.on_token(st, DIR_C2S, copy[0], cut, ks, notes);
        mech_tlsdsk_ops.on_token(st, DIR_C2S, copy[0] + cut, len[0] - cut, ks, notes);
        mech_tlsdsk_ops.on_token(st, DIR_S2C, copy[1], len[1], ks, notes);
        static const uint8_t buf[] = "y";
        uint8_t sig[16] = { 0 };
        sig_verdict v = mech_tlsdsk_ops.verify(st, ks, OPAQUE, DIR_C2S, buf, 1, sig, 16, notes, 0);
        assert_true(v.status == SIG_NO_KEY || v.status == SIG_UNSUPPORTED);
        assert_non_null(v.why);
        g_free(v.why);
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
        g_free(copy[0]);
        g_free(copy[1]);
    }
    keystore_free(ks);
    g_rand_free(rnd);
    g_byte_array_free(sflight, TRUE);
    g_byte_array_free(sh, TRUE);
    g_byte_array_free(ch, TRUE);
    g_byte_array_free(flight, TRUE);
}

/* A ClientHello presenting a ticket (extension 0x0023) and a ServerHello with a session id;
 * no extensions beyond the ticket. */
static GByteArray *client_hello_ticket(const char *ticket)
{
    GByteArray *b = g_byte_array_new();
    put16(b, 0x0303);
    for (int i = 0; i < 32; i++) {
        uint8_t r = (uint8_t)i;
        g_byte_array_append(b, &r, 1);
    }
    uint8_t zero = 0;
    g_byte_array_append(b, &zero, 1);
    put16(b, 2);
    put16(b, 0x002f);
    uint8_t comp[] = { 1, 0 };
    g_byte_array_append(b, comp, 2);
    size_t tl = strlen(ticket);
    put16(b, (unsigned)(4 + tl));
    put16(b, 0x0023);
    put16(b, (unsigned)tl);
    g_byte_array_append(b, (const uint8_t *)ticket, (guint)tl);
    GByteArray *m = hsmsg(1, b->data, b->len);
    g_byte_array_free(b, TRUE);
    return m;
}

static GByteArray *ticket_msg(const char *ticket)
{
    GByteArray *b = g_byte_array_new();
    static const uint8_t life[] = { 0, 0, 0, 60 };
    g_byte_array_append(b, life, 4);
    put16(b, (unsigned)strlen(ticket));
    g_byte_array_append(b, (const uint8_t *)ticket, (guint)strlen(ticket));
    GByteArray *m = hsmsg(4, b->data, b->len);
    g_byte_array_free(b, TRUE);
    return m;
}

/* Hostile session-cache data where two handshakes would each resume the other: the cycle is
 * refused (no hang, no leaked sessions under LeakSanitizer), the verdict is a clear NO_KEY. */
static void test_resumption_cycle(void **state)
{
    static const uint8_t ccs[] = { 20, 3, 3, 0, 1, 1 };
    void *cap = mech_tlsdsk_ops.cap_new();
    void *a = mech_tlsdsk_ops.sa_new(cap);
    void *b = mech_tlsdsk_ops.sa_new(cap);
    /* A: presents ticket X; the server answers with session id S and issues ticket TA */
    feed_msg(a, DIR_C2S, client_hello_ticket("XX"), NULL, NULL);
    feed_msg(a, DIR_S2C, server_hello(0x0303, 0x002f), NULL, NULL);
    feed_msg(a, DIR_S2C, ticket_msg("TA"), NULL, NULL);
    /* B: presents TA; the same session id S (registered for B while B does not look resumed
     * yet), then ChangeCipherSpec: B resumes A */
    feed_msg(b, DIR_C2S, client_hello_ticket("TA"), NULL, NULL);
    feed_msg(b, DIR_S2C, server_hello(0x0303, 0x002f), NULL, NULL);
    mech_tlsdsk_ops.on_token(b, DIR_S2C, ccs, sizeof(ccs), NULL, NULL);
    /* A now looks resumed too; by session id S it would resume B, which resumes A */
    mech_tlsdsk_ops.on_token(a, DIR_S2C, ccs, sizeof(ccs), NULL, NULL);
    keystore *ks = keystore_new();
    static const uint8_t buf[] = "z";
    uint8_t sig[20] = { 0 };
    for (int i = 0; i < 2; i++) {
        sig_verdict v = mech_tlsdsk_ops.verify(i ? b : a, ks, OPAQUE, DIR_S2C, buf, 1, sig, 20,
                                               NULL, 0);
        assert_int_equal(v.status, SIG_NO_KEY);
        g_free(v.why);
    }
    keystore_free(ks);
    mech_tlsdsk_ops.sa_free(a);
    mech_tlsdsk_ops.sa_free(b);
    mech_tlsdsk_ops.cap_free(cap);
}

/* Feeds bytes to a reader directly. */
static void hs_feed_bytes(tls_hs *hs, mssipae_dir d, const GByteArray *b, note_list *n)
{
    tls_hs_feed(hs, d, b->data, b->len, n);
}

static void hs_feed_msg(tls_hs *hs, mssipae_dir d, GByteArray *msg, note_list *n)
{
    GByteArray *r = record(22, 0x0301, msg->data, msg->len);
    hs_feed_bytes(hs, d, r, n);
    g_byte_array_free(r, TRUE);
    g_byte_array_free(msg, TRUE);
}

/* A Certificate message whose leaf is der[0..n) (not a real certificate: only read). */
static GByteArray *certificate_msg(const uint8_t *der, size_t n)
{
    GByteArray *body = g_byte_array_new();
    put24(body, n + 3);
    put24(body, n);
    g_byte_array_append(body, der, (guint)n);
    GByteArray *m = hsmsg(11, body->data, body->len);
    g_byte_array_free(body, TRUE);
    return m;
}

/* What the reader holds (issue 10: a capture of many SAs keeps little per SA): a partial record
 * or message only while it is incomplete, nothing of the handshake once tls_hs_trim ran but the
 * certificates' counted length, and a certificate read once per capture (the cache). */
static void test_reader_keeps_little(void **state)
{
    tls_cert_cache *cache = tls_cert_cache_new();
    uint8_t der[300];
    for (size_t i = 0; i < sizeof der; i++)
        der[i] = (uint8_t)(i * 7 + 1);
    tls_cert *first = NULL;
    for (int round = 0; round < 2; round++) {
        tls_hs *hs = tls_hs_new();
        hs->cert_cache = cache;
        note_list *notes = note_list_new();
        /* a ClientHello record cut in two tokens: the first part is held, then nothing */
        GByteArray *ch = client_hello(0x0301, 0);
        GByteArray *r = record(22, 0x0301, ch->data, ch->len);
        tls_hs_feed(hs, DIR_C2S, r->data, 9, notes);
        assert_non_null(hs->rec[DIR_C2S]);
        assert_int_equal(hs->held, 9);
        tls_hs_feed(hs, DIR_C2S, r->data + 9, r->len - 9, notes);
        assert_null(hs->rec[DIR_C2S]);
        assert_null(hs->msg[DIR_C2S]);
        assert_true(hs->have_ch);
        size_t transcript = ch->len;
        assert_int_equal(hs->held, transcript);
        g_byte_array_free(r, TRUE);
        g_byte_array_free(ch, TRUE);
        /* ServerHello, then a Certificate message cut over two records */
        GByteArray *sh = server_hello(0x0301, 0x002f);
        transcript += sh->len;
        hs_feed_msg(hs, DIR_S2C, sh, notes);
        GByteArray *cm = certificate_msg(der, sizeof der);
        transcript += cm->len;
        GByteArray *r1 = record(22, 0x0301, cm->data, 100);
        GByteArray *r2 = record(22, 0x0301, cm->data + 100, cm->len - 100);
        hs_feed_bytes(hs, DIR_S2C, r1, notes);
        assert_non_null(hs->msg[DIR_S2C]);
        assert_null(hs->rec[DIR_S2C]);
        hs_feed_bytes(hs, DIR_S2C, r2, notes);
        assert_null(hs->msg[DIR_S2C]);
        assert_non_null(hs->server_cert);
        assert_int_equal(hs->server_cert->der_len, sizeof der);
        if (round == 0)
            first = hs->server_cert;
        else
            assert_ptr_equal(hs->server_cert, first); /* read once per capture */
        hs_feed_msg(hs, DIR_S2C, hsmsg(14, NULL, 0), notes);
        transcript += 4;
        static const uint8_t cke[] = { 0, 4, 1, 2, 3, 4 };
        hs_feed_msg(hs, DIR_C2S, hsmsg(16, cke, sizeof cke), notes);
        transcript += 4 + sizeof cke;
        assert_non_null(hs->cke);
        assert_int_equal(hs->held, transcript + sizeof cke + sizeof der);
        static const uint8_t ccs[] = { 20, 3, 1, 0, 1, 1 };
        tls_hs_feed(hs, DIR_C2S, ccs, sizeof ccs, notes);
        tls_hs_feed(hs, DIR_S2C, ccs, sizeof ccs, notes);
        assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
        tls_hs_trim(hs);
        assert_null(hs->transcript);
        assert_null(hs->cke);
        for (int d = 0; d < 2; d++) {
            assert_null(hs->rec[d]);
            assert_null(hs->msg[d]);
        }
        assert_int_equal(hs->held, sizeof der); /* the certificate, counted by its length */
        /* an encrypted Finished after the trim: read in place, nothing held */
        static const uint8_t fin[] = { 22, 3, 1, 0, 4, 0xde, 0xad, 0xbe, 0xef };
        tls_hs_feed(hs, DIR_C2S, fin, sizeof fin, notes);
        assert_null(hs->rec[DIR_C2S]);
        assert_int_equal(hs->held, sizeof der);
        g_byte_array_free(r1, TRUE);
        g_byte_array_free(r2, TRUE);
        g_byte_array_free(cm, TRUE);
        note_list_free(notes);
        tls_hs_free(hs);
    }
    tls_cert_cache_free(cache);
}

/* The server certificate a ClientHello, ServerHello and Certificate(der) give (a reference). */
static tls_cert *cert_of(tls_cert_cache *cache, const uint8_t *der, size_t n)
{
    tls_hs *hs = tls_hs_new();
    hs->cert_cache = cache;
    note_list *notes = note_list_new();
    hs_feed_msg(hs, DIR_C2S, client_hello(0x0301, 0), notes);
    hs_feed_msg(hs, DIR_S2C, server_hello(0x0301, 0x002f), notes);
    hs_feed_msg(hs, DIR_S2C, certificate_msg(der, n), notes);
    tls_cert *c = tls_cert_ref(hs->server_cert);
    note_list_free(notes);
    tls_hs_free(hs);
    return c;
}

/* The certificate cache finds a DER again by its bytes, whether it is among the last few read
 * (compared in full) or further back (by its digest), and never mistakes another DER of the same
 * length for it (they differ in the last byte only); a DER too long to keep is found too. */
static void test_cert_cache_finds_by_bytes(void **state)
{
    (void)state;
    enum { NDER = 7, LEN = 400 };
    tls_cert_cache *cache = tls_cert_cache_new();
    uint8_t der[NDER][LEN];
    tls_cert *first[NDER];
    for (size_t i = 0; i < NDER; i++) {
        for (size_t j = 0; j < LEN; j++)
            der[i][j] = (uint8_t)(j * 13 + 3);
        der[i][LEN - 1] = (uint8_t)i;
    }
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < NDER; i++) {
            tls_cert *c = cert_of(cache, der[i], LEN);
            assert_non_null(c);
            assert_int_equal(c->der_len, LEN);
            if (round == 0) {
                for (size_t k = 0; k < i; k++)
                    assert_ptr_not_equal(c, first[k]);
                first[i] = c;
            } else {
                assert_ptr_equal(c, first[i]);
                tls_cert_unref(c);
            }
        }
        /* the same one again and again: found among the last ones */
        tls_cert *c = cert_of(cache, der[NDER - 1], LEN);
        assert_ptr_equal(c, first[NDER - 1]);
        tls_cert_unref(c);
    }
    /* longer than the recent ones keep: found by its digest */
    size_t big_n = 9000;
    uint8_t *big = g_malloc(big_n);
    for (size_t j = 0; j < big_n; j++)
        big[j] = (uint8_t)(j * 7);
    tls_cert *b1 = cert_of(cache, big, big_n), *b2 = cert_of(cache, big, big_n);
    assert_ptr_equal(b1, b2);
    big[big_n - 1] ^= 1;
    tls_cert *b3 = cert_of(cache, big, big_n);
    assert_ptr_not_equal(b1, b3);
    tls_cert_unref(b1);
    tls_cert_unref(b2);
    tls_cert_unref(b3);
    g_free(big);
    for (size_t i = 0; i < NDER; i++)
        tls_cert_unref(first[i]);
    tls_cert_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_record_type, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_record_version, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_record_too_long, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_handshake_record, fx_setup, fx_teardown),
        cmocka_unit_test(test_truncated_client_hello),
        cmocka_unit_test_setup_teardown(test_truncated_then_ccs, fx_setup, fx_teardown),
        cmocka_unit_test(test_huge_certificate),
        cmocka_unit_test_setup_teardown(test_reassembly_cap, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_misdirected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_suite, fx_setup, fx_teardown),
        cmocka_unit_test(test_ephemeral_with_rsa_key_only),
        cmocka_unit_test_setup_teardown(test_framing_variants, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_handshake_and_tls13, fx_setup, fx_teardown),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_resumption_cycle),
        cmocka_unit_test(test_reader_keeps_little),
        cmocka_unit_test(test_cert_cache_finds_by_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
