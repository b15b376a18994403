/* fuzz_targets.c - one libFuzzer target per parser / decoder of the core (issue 11). Compiled once
 * per target with -DFUZZ_TARGET_<NAME>; CMakeLists.txt builds fuzz_<name> for each name below
 * (configure with -DMSSIPAE_FUZZ=ON and CC=clang). tests/fuzz/run_all.sh runs them all.
 *
 *   sip       sip_msg_parse, sip_hdr_find (full and compact names), sip_hdr_value
 *   authp     the auth-parameter parser (cursor and whole-header), authp_unquote, ahdr_decode
 *   sigbuf    the signature buffer (both layouts) with items, and its helpers
 *   codec     hex / base64 decoders; decode(encode(x)) == x; base64 as the plain reference
 *             (tests/unit/ref_b64.h) decodes, or fails as it does
 *   ntlm      NTLM CHALLENGE / AUTHENTICATE / AV pairs, and the NTLM mechanism (tokens + verify)
 *   kerberos  the DER walk, GSS framing, AP-REQ / AP-REP / KRB-ERROR and MIC tokens through the
 *             Kerberos mechanism with the lab keytab
 *   tlsdsk    the TLS record / handshake reader, certificates, and the TLS-DSK mechanism with the
 *             demo RSA key
 *   keylog    keylog_parse_line, and whole key-log files through the keystore (bad lines,
 *             conflicts, lookups)
 *   keytab    keytab files through the keystore (libkrb5's reader + our copy into MEMORY:)
 *   uat       NTLM users table rows (domain, user, password, NT hash) as the UAT gives them
 *   core      the whole core (fuzz_entry.h) with keytab, password and key log, plus semantic
 *             oracles: same input -> same verdicts twice through fresh trackers, and a valid
 *             verdict stays valid when an uncovered header is added
 *
 * Paths of test material come from MSSIPAE_FUZZ_VECTORS (tests/vectors) and MSSIPAE_FUZZ_DEMO
 * (demo/); run_all.sh sets both.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tests/fuzz/fuzz_entry.h"
#include "tests/unit/ref_b64.h"
#include "keytab/keylog.h"
#include "keytab/keystore.h"
#include "keytab/rsakeys.h"
#include "sigbuf/authp.h"
#include "sigbuf/codec.h"
#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "verify/ahdr.h"
#include "verify/krb_der.h"
#include "verify/mech.h"
#include "verify/ntlm.h"
#include "verify/results.h"
#include "verify/tls_hs.h"

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "oracle failed: %s (%s:%d)\n", #x, \
                                          __FILE__, __LINE__); abort(); } } while (0)

G_GNUC_UNUSED static char *vec_path(const char *env, const char *rel)
{
    const char *d = getenv(env);
    return d ? g_build_filename(d, rel, NULL) : NULL;
}

/* A private heap copy of exactly n bytes (plus one NUL after them, not part of the input), so
 * ASan sees any read past the input. */
G_GNUC_UNUSED static char *dup_n(const void *p, size_t n)
{
    char *c = g_malloc(n + 1);
    if (n)
        memcpy(c, p, n);
    c[n] = 0;
    return c;
}

/* A private file holding exactly the input (for the file readers). */
G_GNUC_UNUSED static char *tmp_file_with(const uint8_t *data, size_t len)
{
    static char *path;
    if (!path)
        path = g_strdup_printf("/tmp/mssipae-fuzz-%d.tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (len)
        fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

/* Splits data at "\0\0" into at most max pieces. */
G_GNUC_UNUSED static size_t split(const uint8_t *data, size_t len, const uint8_t **p, size_t *n, size_t max)
{
    size_t k = 0, off = 0;
    while (k < max && off <= len) {
        size_t end = off;
        while (end + 1 < len && !(data[end] == 0 && data[end + 1] == 0))
            end++;
        if (end + 1 >= len)
            end = len;
        p[k] = data + off;
        n[k] = end - off;
        k++;
        off = end + 2;
    }
    return k;
}

/* Feeds tokens then a verify call through one mechanism row: input = token0 \0\0 token1 ...
 * the last piece is "signature"; directions alternate C2S, S2C. */
G_GNUC_UNUSED static void mech_run(const char *scheme, keystore *ks, const uint8_t *data, size_t len)
{
    const mech_ops *m = mech_find(scheme);
    void *cap = m->cap_new ? m->cap_new() : NULL;
    void *st = m->sa_new(cap);
    note_list *notes = note_list_new();
    const uint8_t *p[8];
    size_t n[8];
    size_t k = split(data, len, p, n, 8);
    for (size_t i = 0; i + 1 < k; i++) {
        if (n[i] == 0)
            continue;
        uint8_t *tok = (uint8_t *)dup_n(p[i], n[i]);
        if (m->is_final_client_token)
            (void)m->is_final_client_token(tok, n[i]);
        m->on_token(st, i % 2 ? DIR_S2C : DIR_C2S, tok, n[i], ks, notes);
        g_free(tok);
    }
    static const char buf[] = "<Kerberos><1><1><SIP Communications Service><sip/x><c><1><REGISTER>";
    uint8_t *sig = (uint8_t *)dup_n(k ? p[k - 1] : (const uint8_t *)"", k ? n[k - 1] : 0);
    for (int d = 0; d < 2; d++) {
        guint before = notes->len;
        /* d 1 also leaves what it may for later (mech.h), which explain then makes */
        sig_verdict v = m->verify(st, ks, d ? "ABCD0001" : NULL, d ? DIR_S2C : DIR_C2S,
                                  (const uint8_t *)buf, sizeof buf - 1, sig, k ? n[k - 1] : 0,
                                  notes, d);
        CHECK(v.status >= SIG_VALID && v.status <= SIG_MALFORMED);
        CHECK(v.status == SIG_VALID || v.why);
        for (guint j = before; j < notes->len; j++) {
            const mssipae_note *x = &g_array_index(notes, mssipae_note, j);
            if (x->kind != NOTE_LATER)
                continue;
            CHECK(d && m->explain);
            note_list *made = note_list_new();
            m->explain(st, x->text, DIR_S2C, (const uint8_t *)buf, sizeof buf - 1, sig,
                       k ? n[k - 1] : 0, made);
            note_list_free(made);
        }
        verdict_clear(&v);
    }
    g_free(sig);
    if (m->client_name)
        g_free(m->client_name(st));
    if (m->export_keys) {
        const char *ops[] = { "ABCD0001" };
        GString *out = g_string_new(NULL);
        m->export_keys(st, ops, 1, out);
        g_string_free(out, TRUE);
    }
    note_list_free(notes);
    m->sa_free(st);
    if (m->cap_free)
        m->cap_free(cap);
}

/* ======================================================================================== */
#if defined(FUZZ_TARGET_SIP)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *buf = dup_n(data, len);
    sip_msg m;
    const char *why = NULL;
    if (sip_msg_parse(buf, len, &m, &why) == 0) {
        CHECK(m.hdr_end <= len);
        static const char *names[] = { "Call-ID", "CSeq", "From", "To", "Authorization",
                                       "Proxy-Authorization", "Authentication-Info",
                                       "Proxy-Authentication-Info", "WWW-Authenticate",
                                       "Proxy-Authenticate", "Expires", "P-Asserted-Identity" };
        static const char compact[] = { 'i', 0, 'f', 't', 0, 0, 0, 0, 0, 0, 0, 0 };
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
            const sip_hdr *h = sip_hdr_find(&m, names[i], compact[i]);
            if (h) {
                CHECK(h->value_off + h->value_len <= len);
                size_t vl = 0;
                char *v = sip_hdr_value(&m, h, &vl);
                CHECK(v && strlen(v) <= vl);
                g_free(v);
            }
        }
        for (guint i = 0; i < m.hdrs->len; i++) {
            const sip_hdr *h = &g_array_index(m.hdrs, sip_hdr, i);
            CHECK(h->line_off + h->line_len <= len);
            (void)sip_hdr_is(&m, h, "Authorization", 0);
        }
        sip_msg_clear(&m);
    } else {
        CHECK(why);
    }
    g_free(buf);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_AUTHP)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *v = dup_n(data, len);
    authp_cursor c;
    slice scheme, name, value;
    if (authp_begin(&c, v, len, &scheme) == AUTHP_OK) {
        int r, guard = 0;
        while ((r = authp_next(&c, &name, &value)) == AUTHP_OK && guard++ < 100000) {
            CHECK(name.p >= v && name.p + name.n <= v + len);
            CHECK(value.p >= v && value.p + value.n <= v + len);
            int q = 0;
            g_free(authp_unquote(value, &q));
        }
    }
    authp_header h;
    memset(&h, 0, sizeof h);
    int r = authp_parse(v, len, &h);
    CHECK(r == 0 || h.error);
    if (h.params)
        for (guint i = 0; i < h.params->len; i++) {
            const authp_param *pp = &g_array_index(h.params, authp_param, i);
            CHECK(pp->name && pp->value);
            (void)authp_is_known(pp->name);
        }
    (void)authp_get(&h, "opaque");
    authp_header_clear(&h);
    /* the same value inside a message, through the auth-header decoder */
    GString *msg = g_string_new("REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 REGISTER\r\n"
                                "Authorization: ");
    g_string_append_len(msg, v, (gssize)len);
    g_string_append(msg, "\r\n\r\n");
    sip_msg m;
    const char *why;
    if (sip_msg_parse(msg->str, msg->len, &m, &why) == 0) {
        for (guint i = 0; i < m.hdrs->len; i++) {
            auth_result *a = ahdr_decode(&m, &g_array_index(m.hdrs, sip_hdr, i));
            if (a)
                auth_result_free(a);
        }
        sip_msg_clear(&m);
    }
    g_string_free(msg, TRUE);
    g_free(v);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_SIGBUF)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1)
        return 0;
    unsigned version = data[0] % 6;
    size_t n = len - 1;
    char *buf = dup_n(data + 1, n);
    sip_msg m;
    const char *why;
    if (sip_msg_parse(buf, n, &m, &why) == 0) {
        sigbuf_auth a = { "NTLM", "a1b2", "7", "SIP Communications Service", "srv", 0, 0 };
        const sip_hdr *h = sip_hdr_find(&m, "Authorization", 0);
        if (h) {
            a.hdr_off = h->line_off;
            a.hdr_len = h->line_len;
        }
        GString *b1 = sigbuf_build(&m, &a, version);
        GArray *items = g_array_new(FALSE, TRUE, sizeof(sigbuf_item));
        GString *b2 = sigbuf_build_items(&m, &a, version, items);
        CHECK(b1->len == b2->len && memcmp(b1->str, b2->str, b1->len) == 0);
        for (guint i = 0; i < items->len; i++) {
            const sigbuf_item *it = &g_array_index(items, sigbuf_item, i);
            CHECK(it->off + it->len <= b2->len);
            if (it->in_msg)
                CHECK(it->msg_off + it->len <= n &&
                      memcmp(buf + it->msg_off, b2->str + it->off, it->len) == 0);
        }
        g_array_free(items, TRUE);
        g_string_free(b1, TRUE);
        g_string_free(b2, TRUE);
        sip_msg_clear(&m);
    }
    /* the helpers on the raw bytes as a NUL-terminated value */
    char *s = g_strndup(buf, n);
    g_free(sigbuf_nameaddr_uri(s));
    g_free(sigbuf_nameaddr_tag(s));
    g_free(sigbuf_param(s, "tag"));
    g_free(sigbuf_pai_uri(s, 0));
    g_free(sigbuf_pai_uri(s, 1));
    g_free(s);
    g_free(buf);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_CODEC)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *s = dup_n(data, len);
    uint8_t *out = NULL;
    size_t outlen = 0;
    const char *why = NULL;
    if (codec_hex_decode(s, len, &out, &outlen, &why) == 0) {
        CHECK(outlen * 2 == len);
        char *enc = codec_hex_encode(out, outlen);
        CHECK(g_ascii_strncasecmp(enc, s, len) == 0);
        g_free(enc);
        g_free(out);
    }
    /* the same bytes, or the same error, as the plain reference (tests/unit/ref_b64.h) */
    out = NULL;
    GByteArray *want = g_byte_array_new();
    const char *want_why = ref_b64(s, len, want);
    if (codec_b64_decode(s, len, &out, &outlen, &why) == 0) {
        CHECK(!want_why && outlen == want->len &&
              (outlen == 0 || memcmp(out, want->data, outlen) == 0));
        g_free(out);
    } else {
        CHECK(want_why && out == NULL && strcmp(why, want_why) == 0);
    }
    g_byte_array_free(want, TRUE);
    /* round trip: any bytes -> base64 -> the same bytes */
    gchar *b64 = g_base64_encode(data, len);
    out = NULL;
    CHECK(codec_b64_decode(b64, strlen(b64), &out, &outlen, &why) == 0);
    CHECK(outlen == len && (len == 0 || memcmp(out, data, len) == 0));
    g_free(out);
    g_free(b64);
    char *hx = codec_hex_encode(data, len);
    out = NULL;
    CHECK(codec_hex_decode(hx, strlen(hx), &out, &outlen, &why) == 0);
    CHECK(outlen == len && (len == 0 || memcmp(out, data, len) == 0));
    g_free(out);
    g_free(hx);
    g_free(s);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_NTLM)
static keystore *ks;
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ks = keystore_new();
    keystore_set_nt_password(ks, "Pa$$word");
    keystore_add_ntlm_user(ks, "CONTOSO", "alice", "Passw0rd!", NULL);
    return 0;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *tok = (uint8_t *)dup_n(data, len);
    (void)ntlm_message_type(tok, len);
    ntlm_challenge c;
    char *err = NULL;
    if (ntlm_parse_challenge(tok, len, &c, &err) == 0)
        ntlm_challenge_clear(&c);
    g_free(err);
    err = NULL;
    ntlm_authenticate a;
    if (ntlm_parse_authenticate(tok, len, &a, &err) == 0)
        ntlm_authenticate_clear(&a);
    g_free(err);
    ntlm_av_cursor cur;
    ntlm_av_init(&cur, tok, len);
    uint16_t id;
    const uint8_t *val;
    size_t vlen;
    int guard = 0;
    while (ntlm_av_next(&cur, &id, &val, &vlen) == NTLM_AV_OK && guard++ < 100000)
        CHECK(val >= tok && val + vlen <= tok + len);
    g_free(ntlm_flags_describe(len >= 4 ? *(const uint32_t *)(const void *)tok : 0));
    g_free(tok);
    mech_run("NTLM", ks, data, len);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_KERBEROS)
static keystore *ks;
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ks = keystore_new();
    char *kt = vec_path("MSSIPAE_FUZZ_VECTORS", "kerberos-mit-lab/sip.keytab");
    if (kt)
        keystore_set_keytab(ks, kt);
    g_free(kt);
    return 0;
}
static void der_walk(const uint8_t *p, size_t len, int depth)
{
    krb_der d;
    krb_der_init(&d, p, len);
    krb_der_tlv t;
    int guard = 0;
    while (krb_der_next(&d, &t) == 1 && guard++ < 4096) {
        int32_t i32;
        uint32_t u32;
        const uint8_t *o;
        size_t ol;
        (void)krb_der_int32(&t, &i32);
        (void)krb_der_uint32(&t, &u32);
        (void)krb_der_octets(&t, &o, &ol);
        krb_der_tlv inner;
        for (unsigned f = 0; f < 4; f++)
            (void)krb_der_field(&t, f, &inner);
        if (depth < 8 && (t.tag & 0x20))
            der_walk(t.val, t.len, depth + 1);
    }
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *tok = (uint8_t *)dup_n(data, len);
    der_walk(tok, len, 0);
    krb_der_tlv seq;
    for (unsigned app = 11; app <= 15; app++)
        (void)krb_der_app_seq(tok, len, app, &seq);
    size_t l, h;
    (void)krb_der_length(tok, len, &l, &h);
    g_free(tok);
    mech_run("Kerberos", ks, data, len);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_TLSDSK)
static keystore *ks;
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ks = keystore_new();
    char *key = vec_path("MSSIPAE_FUZZ_DEMO", "tlsdsk-server.key");
    if (key)
        keystore_add_tls_rsa_key(ks, key, NULL, "fuzz");
    g_free(key);
    return 0;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    /* the reader on its own, tokens alternating directions */
    tls_hs *hs = tls_hs_new();
    note_list *notes = note_list_new();
    const uint8_t *p[8];
    size_t n[8];
    size_t k = split(data, len, p, n, 8);
    for (size_t i = 0; i < k; i++) {
        uint8_t *tok = (uint8_t *)dup_n(p[i], n[i]);
        tls_hs_feed(hs, i % 2 ? DIR_S2C : DIR_C2S, tok, n[i], notes);
        g_free(tok);
    }
    (void)tls_hs_resumed(hs);
    tls_hs_trim(hs);
    note_list_free(notes);
    tls_hs_free(hs);
    /* certificates */
    tls_cert_info ci;
    uint8_t *der = (uint8_t *)dup_n(data, len);
    memset(&ci, 0, sizeof ci);
    (void)tls_cert_info_read(der, len, &ci);
    tls_cert_info_clear(&ci);
    g_free(der);
    mech_run("TLS-DSK", ks, data, len);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_KEYLOG)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    /* each line through the line parser */
    size_t off = 0;
    while (off < len) {
        const uint8_t *nl = memchr(data + off, '\n', len - off);
        size_t ll = nl ? (size_t)(nl - (data + off)) : len - off;
        char *line = dup_n(data + off, ll);
        keylog_entry e;
        const char *why = NULL;
        keylog_line_status st = keylog_parse_line(line, ll, &e, &why);
        if (st == KEYLOG_LINE_OK) {
            CHECK(e.id && e.key1);
            keylog_entry_clear(&e);
        } else if (st == KEYLOG_LINE_BAD) {
            CHECK(why);
        }
        g_free(line);
        off += ll + 1;
    }
    /* the whole file through the keystore: lookups, ids, conflicts, errors bounded */
    char *path = tmp_file_with(data, len);
    keystore *ks = keystore_new();
    keystore_set_keylog(ks, path);
    static const keylog_scheme schemes[] = { KEYLOG_NTLM, KEYLOG_KERBEROS, KEYLOG_TLSDSK,
                                             KEYLOG_CLIENT_RANDOM };
    for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++) {
        const char **ids;
        size_t nid = keystore_keylog_ids(ks, schemes[i], &ids);
        for (size_t j = 0; j < nid && j < 16; j++) {
            const keylog_entry *e = keystore_keylog_find(ks, schemes[i], ids[j]);
            CHECK(e && e->scheme == schemes[i]);
            const keylog_entry *const *alts;
            size_t na = keystore_keylog_conflicts(ks, schemes[i], ids[j], &alts);
            CHECK(na != 1);
            for (size_t q = 0; q < na; q++) {
                keystore_keylog_pin(ks, alts[q]);
                CHECK(keystore_keylog_find(ks, schemes[i], ids[j]) == alts[q]);
            }
            keystore_keylog_pin(ks, NULL);
        }
        g_free(ids);
    }
    size_t nerr = 0;
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        nerr++;
    CHECK(nerr <= 12); /* 5 bad lines + summary, 5 conflicts + summary */
    uint8_t cr[32] = { 0 }, ms[48];
    char *origin = NULL;
    (void)keystore_client_random(ks, cr, ms, &origin);
    g_free(origin);
    keystore_free(ks);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_KEYTAB)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *path = tmp_file_with(data, len);
    keystore *ks = keystore_new();
    keystore_set_keytab(ks, path);
    const ks_nt_cred **c = NULL;
    size_t n = keystore_nt_candidates(ks, "CONTOSO.TEST", "sip", &c);
    (void)n;
    g_free(c);
    (void)keystore_keytab(ks);
    /* once more: a reload replaces everything */
    keystore_set_keytab(ks, path);
    keystore_free(ks);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_UAT)
/* 1 when every occurrence of pw in msg overlaps an occurrence of name1 or name2 in msg. */
static int overlaps_name(const char *msg, size_t at, size_t pwlen, const char *name)
{
    size_t nl = strlen(name);
    if (!nl)
        return 0;
    for (const char *q = strstr(msg, name); q; q = strstr(q + 1, name)) {
        size_t s = (size_t)(q - msg);
        if (s < at + pwlen && at < s + nl)
            return 1;
    }
    return 0;
}

static int only_within_names(const char *msg, const char *pw, const char *name1,
                             const char *name2)
{
    size_t pl = strlen(pw);
    for (const char *p = strstr(msg, pw); p; p = strstr(p + 1, pw)) {
        size_t at = (size_t)(p - msg);
        if (!overlaps_name(msg, at, pl, name1) && !overlaps_name(msg, at, pl, name2))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    /* four NUL-separated fields, as the UAT hands them over (strings) */
    char *f[4] = { NULL, NULL, NULL, NULL };
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        const uint8_t *z = off < len ? memchr(data + off, 0, len - off) : NULL;
        size_t fl = z ? (size_t)(z - (data + off)) : (off < len ? len - off : 0);
        f[i] = g_strndup((const char *)data + off, fl);
        off += fl + 1;
    }
    keystore *ks = keystore_new();
    keystore_add_ntlm_user(ks, f[0], f[1], *f[2] ? f[2] : NULL, *f[3] ? f[3] : NULL);
    keystore_add_ntlm_user(ks, f[0], f[1], f[2], f[3]);
    keystore_set_nt_password(ks, f[2]);
    const ks_nt_cred **c = NULL;
    (void)keystore_nt_candidates(ks, f[0], f[1], &c);
    g_free(c);
    /* no password in messages: when the password's text occurs in a message, it must also occur
     * in the messages of the same rows with another password (then it came from the names or the
     * fixed text, e.g. user "alice" and password "lice)" in "(\\alice): ..."), or every place it
     * occurs must overlap the domain or user name where the message names it: a message about a
     * bad password names the user, and only that row has such a message (user
     * "\xd5\xb6r\xc3\x89" with the invalid-UTF-8 password "\xb6r\xc3\x89", or "\xb6r\xc3\x89)"
     * where the message has the user name followed by ")") */
    if (strlen(f[2]) >= 4) {
        keystore *k2 = keystore_new();
        keystore_add_ntlm_user(k2, f[0], f[1], "Zq9#", *f[3] ? f[3] : NULL);
        keystore_add_ntlm_user(k2, f[0], f[1], "Zq9#", f[3]);
        keystore_set_nt_password(k2, "Zq9#");
        GString *other = g_string_new(NULL);
        for (const char *const *e = keystore_config_errors(k2); *e; e++)
            g_string_append(other, *e);
        for (const char *const *e = keystore_config_errors(ks); *e; e++)
            CHECK(!strstr(*e, f[2]) || strstr(other->str, f[2]) ||
                  only_within_names(*e, f[2], f[0], f[1]));
        g_string_free(other, TRUE);
        keystore_free(k2);
    }
    keystore_free(ks);
    for (int i = 0; i < 4; i++)
        g_free(f[i]);
    return 0;
}

/* ======================================================================================== */
#elif defined(FUZZ_TARGET_CORE)
static keystore *ks;
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ks = fuzz_keystore();
    return 0;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    CHECK(fuzz_feed(ks, data, len) == 0);
    CHECK(fuzz_oracles(ks, data, len) == 0);
    return 0;
}
#else
#error "define one FUZZ_TARGET_<NAME>"
#endif
