/* test_tlsdsk.c - TLS-DSK end to end inside the core: real in-process GnuTLS handshakes (a
 * client with a client certificate, a server with an RSA certificate that requires it), their
 * records fed to the mechanism in odd splits, and signatures made with the key block GnuTLS
 * itself derives (gnutls_prf_raw with the EAP label, randoms from gnutls_session_get_random).
 * No expected value comes from our own code: master secrets come from GnuTLS's key-log
 * callback, key blocks from gnutls_prf_raw, thumbprints from gnutls_x509_crt_get_fingerprint,
 * the PRF known answers from tests/vectors/tls-dsk-prf-kat (cross-checked there independently).
 *
 * Covered: the PRF KAT; RSA key exchange TLS 1.0 (AES-128-CBC-SHA, RC4-128-MD5 when GnuTLS
 * offers it), TLS 1.1, TLS 1.2 (AES-128-CBC-SHA, AES-128-CBC-SHA256) with and without extended
 * master secret; ECDHE-RSA-AES-256-GCM-SHA384 from a key log (ours and Wireshark's); key forms
 * PEM PKCS#1, encrypted PKCS#8, PKCS#12; another server's key (no key, never invalid); no key
 * (reason names thumbprint and client random); explicit TLS-DSK keys; resumption by ticket and
 * by session id; tampering (invalid in the known case; unsupported, then invalid once a variant
 * is proven, in the TLS 1.2 case); the facts the tree shows; several handshake messages per
 * record (flights re-framed from the real ones); seeded corruption of real flights.
 *
 * Regressions:
 *   - a signature checked before the ClientKeyExchange froze "no key" for the whole SA
 *     (test_verify_mid_handshake);
 *   - a .pfx exported with an empty password did not load without a password
 *     (test_key_file_errors, rows 13-14).
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "keytab/keystore.h"
#include "verify/mech.h"
#include "verify/tls_prf.h"

#define EAP_LABEL "client EAP encryption"
#define KAT "tls-dsk-prf-kat/values.txt"
#define OPAQUE "5E1A2B3C"
#define PW "p@ss w0rd"

/* ---- credentials made once for the whole program ---- */

typedef struct {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    char thumb[41];       /* SHA-1 fingerprint of the DER, upper-case hex, from GnuTLS */
} ident;

static ident srv, cli, other;
static char *tmpdir;
static char *srv_pkcs1, *srv_pkcs8_enc, *srv_p12, *other_pem, *cert_only_pem;

/* Writes bytes to a new file in tmpdir; returns its path. */
static char *write_tmp(const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    assert_true(g_file_set_contents(path, data, (gssize)len, NULL));
    return path;
}

/* A self-signed certificate for a fresh RSA key. */
static void make_ident(ident *id, const char *dn)
{
    const char *err = NULL;
    assert_int_equal(gnutls_x509_privkey_init(&id->key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(id->key, GNUTLS_PK_RSA, 2048, 0), 0);
    assert_int_equal(gnutls_x509_crt_init(&id->crt), 0);
    assert_int_equal(gnutls_x509_crt_set_version(id->crt, 3), 0);
    unsigned char serial[] = { 0x01, 0x23, 0x45 };
    assert_int_equal(gnutls_x509_crt_set_serial(id->crt, serial, sizeof(serial)), 0);
    time_t now = time(NULL);
    gnutls_x509_crt_set_activation_time(id->crt, now - 3600);
    gnutls_x509_crt_set_expiration_time(id->crt, now + 86400 * 30);
    assert_int_equal(gnutls_x509_crt_set_dn(id->crt, dn, &err), 0);
    assert_int_equal(gnutls_x509_crt_set_key(id->crt, id->key), 0);
    assert_int_equal(gnutls_x509_crt_sign2(id->crt, id->crt, id->key, GNUTLS_DIG_SHA256, 0), 0);
    unsigned char fp[20];
    size_t fpl = sizeof(fp);
    assert_int_equal(gnutls_x509_crt_get_fingerprint(id->crt, GNUTLS_DIG_SHA1, fp, &fpl), 0);
    for (int i = 0; i < 20; i++)
        g_snprintf(id->thumb + 2 * i, 3, "%02X", fp[i]);
}

/* Exports a key in a given form to a file. */
static char *export_key(ident *id, const char *name, int pkcs8, const char *password)
{
    gnutls_datum_t out = { NULL, 0 };
    if (pkcs8)
        assert_int_equal(gnutls_x509_privkey_export2_pkcs8(id->key, GNUTLS_X509_FMT_PEM, password,
                                                          password ? GNUTLS_PKCS_PBES2_AES_256
                                                                   : GNUTLS_PKCS_PLAIN, &out), 0);
    else
        assert_int_equal(gnutls_x509_privkey_export2(id->key, GNUTLS_X509_FMT_PEM, &out), 0);
    char *p = write_tmp(name, out.data, out.size);
    gnutls_free(out.data);
    return p;
}

/* A PKCS#12 file (key + certificate, encrypted and MACed with password), like a Windows .pfx. */
static char *export_p12(ident *id, const char *name, const char *password)
{
    gnutls_pkcs12_t p12;
    gnutls_pkcs12_bag_t cbag, kbag;
    gnutls_datum_t kd = { NULL, 0 }, out = { NULL, 0 };
    unsigned char kid[20];
    size_t kidl = sizeof(kid);
    assert_int_equal(gnutls_pkcs12_init(&p12), 0);
    assert_int_equal(gnutls_pkcs12_bag_init(&cbag), 0);
    assert_int_equal(gnutls_pkcs12_bag_init(&kbag), 0);
    assert_int_equal(gnutls_x509_crt_get_key_id(id->crt, 0, kid, &kidl), 0);
    gnutls_datum_t kidd = { kid, (unsigned)kidl };
    int idx = gnutls_pkcs12_bag_set_crt(cbag, id->crt);
    assert_true(idx >= 0);
    assert_int_equal(gnutls_pkcs12_bag_set_key_id(cbag, idx, &kidd), 0);
    assert_int_equal(gnutls_pkcs12_bag_encrypt(cbag, password, GNUTLS_PKCS_PBES2_AES_256), 0);
    assert_int_equal(gnutls_x509_privkey_export2_pkcs8(id->key, GNUTLS_X509_FMT_DER, password,
                                                      GNUTLS_PKCS_PBES2_AES_256, &kd), 0);
    idx = gnutls_pkcs12_bag_set_data(kbag, GNUTLS_BAG_PKCS8_ENCRYPTED_KEY, &kd);
    assert_true(idx >= 0);
    assert_int_equal(gnutls_pkcs12_bag_set_key_id(kbag, idx, &kidd), 0);
    assert_int_equal(gnutls_pkcs12_set_bag(p12, cbag), 0);
    assert_int_equal(gnutls_pkcs12_set_bag(p12, kbag), 0);
    assert_int_equal(gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, password), 0);
    assert_int_equal(gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &out), 0);
    char *p = write_tmp(name, out.data, out.size);
    gnutls_free(out.data);
    gnutls_free(kd.data);
    gnutls_pkcs12_bag_deinit(cbag);
    gnutls_pkcs12_bag_deinit(kbag);
    gnutls_pkcs12_deinit(p12);
    return p;
}

static int group_setup(void **state)
{
    tmpdir = g_dir_make_tmp("mssipae-tlsdsk-XXXXXX", NULL);
    assert_non_null(tmpdir);
    make_ident(&srv, "CN=fe1.contoso.test,O=Contoso Pool");
    make_ident(&cli, "CN=alice@contoso.test");
    make_ident(&other, "CN=fe2.fabrikam.test");
    srv_pkcs1 = export_key(&srv, "srv-pkcs1.pem", 0, NULL);
    srv_pkcs8_enc = export_key(&srv, "srv-pkcs8-enc.pem", 1, PW);
    srv_p12 = export_p12(&srv, "srv.pfx", PW);
    other_pem = export_key(&other, "other.pem", 1, NULL);
    gnutls_datum_t c = { NULL, 0 };
    assert_int_equal(gnutls_x509_crt_export2(srv.crt, GNUTLS_X509_FMT_PEM, &c), 0);
    cert_only_pem = write_tmp("cert-only.pem", c.data, c.size);
    gnutls_free(c.data);
    return 0;
}

static void free_ident(ident *id)
{
    gnutls_x509_crt_deinit(id->crt);
    gnutls_x509_privkey_deinit(id->key);
}

static int group_teardown(void **state)
{
    const char *const files[] = { srv_pkcs1, srv_pkcs8_enc, srv_p12, other_pem, cert_only_pem };
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_unlink(files[i]);
        g_free((char *)files[i]);
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
    free_ident(&srv);
    free_ident(&cli);
    free_ident(&other);
    return 0;
}

/* ---- an in-memory handshake ---- */

typedef struct {
    mssipae_dir dir;
    GByteArray *bytes;
} flight;

typedef struct {
    GByteArray *to_srv, *to_cli;
    GPtrArray *flights; /* flight *, in order: the bytes one side wrote before the other spoke */
    char keylog[256];   /* "CLIENT_RANDOM <cr> <ms>" from GnuTLS's key-log callback */
    uint8_t kb[128];    /* reference key block (gnutls_prf_raw on the client) */
    uint8_t cr[32];
    uint8_t sr[32];
    gnutls_datum_t resume; /* client session data for a later resumption */
    int resumed;
    int ems;
    uint16_t version;
} hs_run;

typedef struct {
    hs_run *run;
    mssipae_dir dir; /* direction of what this side writes */
} side;

static ssize_t push_fn(gnutls_transport_ptr_t p, const void *data, size_t len)
{
    side *sd = p;
    hs_run *r = sd->run;
    g_byte_array_append(sd->dir == DIR_C2S ? r->to_srv : r->to_cli, data, (guint)len);
    flight *f = r->flights->len ? g_ptr_array_index(r->flights, r->flights->len - 1) : NULL;
    if (!f || f->dir != sd->dir) {
        f = g_new0(flight, 1);
        f->dir = sd->dir;
        f->bytes = g_byte_array_new();
        g_ptr_array_add(r->flights, f);
    }
    g_byte_array_append(f->bytes, data, (guint)len);
    return (ssize_t)len;
}

static ssize_t pull_fn(gnutls_transport_ptr_t p, void *data, size_t len)
{
    side *sd = p;
    GByteArray *in = sd->dir == DIR_C2S ? sd->run->to_cli : sd->run->to_srv;
    if (in->len == 0) {
        errno = EAGAIN;
        return -1;
    }
    size_t n = MIN(len, in->len);
    memcpy(data, in->data, n);
    g_byte_array_remove_range(in, 0, (guint)n);
    return (ssize_t)n;
}

static int keylog_fn(gnutls_session_t s, const char *label, const gnutls_datum_t *secret)
{
    hs_run *r = gnutls_session_get_ptr(s);
    if (strcmp(label, "CLIENT_RANDOM") == 0) {
        gnutls_datum_t crd, srd;
        gnutls_session_get_random(s, &crd, &srd);
        char *h = g_strdup_printf("CLIENT_RANDOM ");
        GString *g = g_string_new(h);
        for (unsigned i = 0; i < crd.size; i++)
            g_string_append_printf(g, "%02x", crd.data[i]);
        g_string_append_c(g, ' ');
        for (unsigned i = 0; i < secret->size; i++)
            g_string_append_printf(g, "%02x", secret->data[i]);
        g_strlcpy(r->keylog, g->str, sizeof(r->keylog));
        g_string_free(g, TRUE);
        g_free(h);
    }
    return 0;
}

/* server-side session cache for session-id resumption */
static GHashTable *sess_db;

static int db_store(void *p, gnutls_datum_t key, gnutls_datum_t data)
{
    g_hash_table_replace(sess_db, g_bytes_new(key.data, key.size), g_bytes_new(data.data, data.size));
    return 0;
}

static gnutls_datum_t db_fetch(void *p, gnutls_datum_t key)
{
    gnutls_datum_t out = { NULL, 0 };
    GBytes *k = g_bytes_new(key.data, key.size);
    GBytes *v = g_hash_table_lookup(sess_db, k);
    g_bytes_unref(k);
    if (v) {
        gsize n;
        const void *d = g_bytes_get_data(v, &n);
        out.data = gnutls_malloc(n);
        memcpy(out.data, d, n);
        out.size = (unsigned)n;
    }
    return out;
}

static int db_remove(void *p, gnutls_datum_t key)
{
    return 0;
}

static gnutls_datum_t ticket_key;

/* Runs one handshake with the given priority string; resume_from (may be NULL) holds the client
 * session data of an earlier run; tickets: 1 ticket resumption, 0 session-id resumption.
 * Returns 0, or -1 when GnuTLS refuses the priority (e.g. RC4 not built in). */
static int run_handshake(hs_run *r, const char *prio, const hs_run *resume_from, int tickets)
{
    memset(r, 0, sizeof(*r));
    r->to_srv = g_byte_array_new();
    r->to_cli = g_byte_array_new();
    r->flights = g_ptr_array_new();
    gnutls_certificate_credentials_t sc, cc;
    gnutls_session_t s, c;
    side ss = { r, DIR_S2C }, cs = { r, DIR_C2S };
    assert_int_equal(gnutls_certificate_allocate_credentials(&sc), 0);
    assert_int_equal(gnutls_certificate_allocate_credentials(&cc), 0);
    assert_true(gnutls_certificate_set_x509_key(sc, &srv.crt, 1, srv.key) >= 0);
    assert_true(gnutls_certificate_set_x509_key(cc, &cli.crt, 1, cli.key) >= 0);
    assert_int_equal(gnutls_init(&s, GNUTLS_SERVER | (tickets ? 0 : GNUTLS_NO_TICKETS)), 0);
    assert_int_equal(gnutls_init(&c, GNUTLS_CLIENT | (tickets ? 0 : GNUTLS_NO_TICKETS)), 0);
    const char *err = NULL;
    if (gnutls_priority_set_direct(s, prio, &err) < 0 || gnutls_priority_set_direct(c, prio, &err) < 0) {
        gnutls_deinit(s);
        gnutls_deinit(c);
        gnutls_certificate_free_credentials(sc);
        gnutls_certificate_free_credentials(cc);
        return -1;
    }
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, sc);
    gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, cc);
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    if (tickets) {
        assert_int_equal(gnutls_session_ticket_enable_server(s, &ticket_key), 0);
    } else {
        gnutls_db_set_retrieve_function(s, db_fetch);
        gnutls_db_set_store_function(s, db_store);
        gnutls_db_set_remove_function(s, db_remove);
        gnutls_db_set_ptr(s, NULL);
    }
    gnutls_transport_set_ptr(s, &ss);
    gnutls_transport_set_ptr(c, &cs);
    gnutls_transport_set_push_function(s, push_fn);
    gnutls_transport_set_pull_function(s, pull_fn);
    gnutls_transport_set_push_function(c, push_fn);
    gnutls_transport_set_pull_function(c, pull_fn);
    gnutls_session_set_ptr(c, r);
    gnutls_session_set_keylog_function(c, keylog_fn);
    if (resume_from)
        assert_int_equal(gnutls_session_set_data(c, resume_from->resume.data,
                                                 resume_from->resume.size), 0);
    int cdone = 0, sdone = 0, rounds = 0;
    while ((!cdone || !sdone) && rounds++ < 100) {
        if (!cdone) {
            int rc = gnutls_handshake(c);
            if (rc == 0)
                cdone = 1;
            else if (gnutls_error_is_fatal(rc))
                break;
        }
        if (!sdone) {
            int rc = gnutls_handshake(s);
            if (rc == 0)
                sdone = 1;
            else if (gnutls_error_is_fatal(rc))
                break;
        }
    }
    int ok = cdone && sdone;
    if (ok) {
        /* the reference key block, by GnuTLS: PRF of the negotiated version and suite */
        gnutls_datum_t crd, srd;
        gnutls_session_get_random(c, &crd, &srd);
        uint8_t seed[64];
        memcpy(seed, crd.data, 32);
        memcpy(seed + 32, srd.data, 32);
        memcpy(r->cr, crd.data, 32);
        memcpy(r->sr, srd.data, 32);
        assert_int_equal(gnutls_prf_raw(c, strlen(EAP_LABEL), EAP_LABEL, 64, (const char *)seed,
                                        128, (char *)r->kb), 0);
        r->resumed = gnutls_session_is_resumed(c);
        r->ems = gnutls_session_ext_master_secret_status(c);
        r->version = gnutls_protocol_get_version(c) == GNUTLS_TLS1_0 ? 0x0301
                   : gnutls_protocol_get_version(c) == GNUTLS_TLS1_1 ? 0x0302 : 0x0303;
        assert_int_equal(gnutls_session_get_data2(c, &r->resume), 0);
    }
    gnutls_deinit(s);
    gnutls_deinit(c);
    gnutls_certificate_free_credentials(sc);
    gnutls_certificate_free_credentials(cc);
    return ok ? 0 : -1;
}

static void free_run(hs_run *r)
{
    for (guint i = 0; r->flights && i < r->flights->len; i++) {
        flight *f = g_ptr_array_index(r->flights, i);
        g_byte_array_free(f->bytes, TRUE);
        g_free(f);
    }
    if (r->flights)
        g_ptr_array_free(r->flights, TRUE);
    if (r->to_srv)
        g_byte_array_free(r->to_srv, TRUE);
    if (r->to_cli)
        g_byte_array_free(r->to_cli, TRUE);
    gnutls_free(r->resume.data);
    memset(r, 0, sizeof(*r));
}

/* ---- feeding the mechanism ---- */

/* Feeds every flight in pieces of `split` bytes (0: whole flights, as one gssapi-data each). */
static void feed(void *st, const hs_run *r, size_t split, keystore *ks, note_list *notes)
{
    for (guint i = 0; i < r->flights->len; i++) {
        const flight *f = g_ptr_array_index(r->flights, i);
        size_t step = split ? split : f->bytes->len;
        for (size_t off = 0; off < f->bytes->len; off += step)
            mech_tlsdsk_ops.on_token(st, f->dir, f->bytes->data + off,
                                     MIN(step, f->bytes->len - off), ks, notes);
    }
}

static uint8_t *sample_buf(size_t *len)
{
    return (uint8_t *)tu_read_vector("tls-dsk-prf-kat/sample.sigbuf", len);
}

/* The signature a peer makes: HMAC-<mac>(key_block[64..95] or [96..127], buf), by GnuTLS. */
static void sign_ref(const hs_run *r, gnutls_mac_algorithm_t mac, mssipae_dir dir,
                     const uint8_t *buf, size_t len, uint8_t *out)
{
    assert_int_equal(gnutls_hmac_fast(mac, r->kb + (dir == DIR_C2S ? 64 : 96), 32, buf, len, out), 0);
}

static sig_status check(void *st, keystore *ks, mssipae_dir dir, const uint8_t *buf, size_t len,
                        const uint8_t *sig, size_t siglen, note_list *notes, char **why)
{
    sig_verdict v = mech_tlsdsk_ops.verify(st, ks, OPAQUE, dir, buf, len, sig, siglen, notes, 0);
    if (why)
        *why = v.why;
    else
        g_free(v.why);
    return v.status;
}

static size_t n_config_errors(const keystore *ks)
{
    size_t n = 0;
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        n++;
    return n;
}

/* 1 when a config error contains needle. */
static int has_config_error(const keystore *ks, const char *needle)
{
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        if (strstr(*e, needle))
            return 1;
    return 0;
}

/* Text of the first fact f in notes, or NULL. */
static const char *fact(const note_list *l, note_fact f)
{
    for (guint i = 0; l && i < l->len; i++) {
        const mssipae_note *n = &g_array_index(l, mssipae_note, i);
        if (n->kind == NOTE_FACT && n->fact == f)
            return n->text;
    }
    return NULL;
}

/* A key store with one source configured by `how`. */
enum { KS_PKCS1, KS_PKCS8_ENC, KS_P12, KS_OTHER, KS_NONE };

static keystore *make_ks(int how)
{
    keystore *ks = keystore_new();
    switch (how) {
    case KS_PKCS1:
        assert_int_equal(keystore_add_tls_rsa_key(ks, srv_pkcs1, NULL, "test pkcs1"), 0);
        break;
    case KS_PKCS8_ENC:
        assert_int_equal(keystore_add_tls_rsa_key(ks, srv_pkcs8_enc, PW, "test pkcs8"), 0);
        break;
    case KS_P12:
        assert_int_equal(keystore_add_tls_rsa_key(ks, srv_p12, PW, "test p12"), 0);
        break;
    case KS_OTHER:
        assert_int_equal(keystore_add_tls_rsa_key(ks, other_pem, NULL, "test other"), 0);
        break;
    default:
        break;
    }
    return ks;
}

typedef struct {
    const char *name;
    const char *prio;
    gnutls_mac_algorithm_t mac; /* the HMAC the simulated peers sign with */
    size_t siglen;
    int known;                  /* the documented TLS 1.0/1.1 case: tampering is INVALID */
    const char *version;        /* expected version fact prefix */
    const char *suite;          /* expected suite fact prefix */
} rsa_case;

#define RSA_PRIO(v, c, m) "NORMAL:-VERS-ALL:+VERS-" v ":-KX-ALL:+RSA:-CIPHER-ALL:+" c ":-MAC-ALL:+" m

static const rsa_case rsa_cases[] = {
    { "tls10-aes128-sha", RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"), GNUTLS_MAC_SHA1, 20, 1,
      "TLS 1.0", "TLS_RSA_WITH_AES_128_CBC_SHA " },
    { "tls11-aes128-sha", RSA_PRIO("TLS1.1", "AES-128-CBC", "SHA1"), GNUTLS_MAC_SHA1, 20, 1,
      "TLS 1.1", "TLS_RSA_WITH_AES_128_CBC_SHA " },
    { "tls12-aes128-sha", RSA_PRIO("TLS1.2", "AES-128-CBC", "SHA1"), GNUTLS_MAC_SHA1, 20, 0,
      "TLS 1.2", "TLS_RSA_WITH_AES_128_CBC_SHA " },
    { "tls12-aes128-sha256", RSA_PRIO("TLS1.2", "AES-128-CBC", "SHA256"), GNUTLS_MAC_SHA256, 32,
      0, "TLS 1.2", "TLS_RSA_WITH_AES_128_CBC_SHA256" },
};

/* One RSA-key-exchange case: every signature valid from the key in each form and every split;
 * tampering detected per the rule; facts shown. */
static void run_rsa_case(const rsa_case *c, int ems)
{
    hs_run r;
    char *prio = g_strdup_printf("%s%s", c->prio, ems ? "" : ":%NO_SESSION_HASH");
    if (run_handshake(&r, prio, NULL, 1) < 0) {
        print_message("%s: GnuTLS refuses %s here\n", c->name, prio);
        g_free(prio);
        free_run(&r);
        fail();
    }
    g_free(prio);
    assert_int_equal(r.ems, ems);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t csig[64], ssig[64];
    sign_ref(&r, c->mac, DIR_C2S, buf, blen, csig);
    sign_ref(&r, c->mac, DIR_S2C, buf, blen, ssig);

    static const size_t splits[] = { 0, 1, 3, 7, 100, 517 };
    static const int forms[] = { KS_PKCS1, KS_PKCS8_ENC, KS_P12 };
    for (size_t f = 0; f < G_N_ELEMENTS(forms); f++) {
        keystore *ks = make_ks(forms[f]);
        for (size_t i = 0; i < G_N_ELEMENTS(splits); i++) {
            void *cap = mech_tlsdsk_ops.cap_new();
            void *st = mech_tlsdsk_ops.sa_new(cap);
            note_list *notes = note_list_new();
            feed(st, &r, splits[i], ks, notes);
            assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
            char *why = NULL;
            sig_status s1 = check(st, ks, DIR_C2S, buf, blen, csig, c->siglen, notes, &why);
            if (s1 != SIG_VALID) {
                print_message("%s ems=%d form=%zu split=%zu: %s\n", c->name, ems, f, splits[i], why);
                tu_dump_notes(notes);
            }
            assert_int_equal(s1, SIG_VALID);
            if (!c->known)
                assert_non_null(strstr(why, "variant"));
            g_free(why);
            assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, c->siglen, notes, NULL),
                             SIG_VALID);
            /* keys are per direction: the client signature is not a server signature */
            assert_int_not_equal(check(st, ks, DIR_S2C, buf, blen, csig, c->siglen, notes, NULL),
                                 SIG_VALID);
            /* facts for the tree */
            assert_non_null(fact(notes, FACT_TLS_VERSION));
            assert_true(g_str_has_prefix(fact(notes, FACT_TLS_VERSION), c->version));
            assert_true(g_str_has_prefix(fact(notes, FACT_TLS_SUITE), c->suite));
            assert_string_equal(fact(notes, FACT_TLS_EMS), ems ? "yes" : "no");
            assert_string_equal(fact(notes, FACT_TLS_SERVER_THUMB), srv.thumb);
            assert_non_null(strstr(fact(notes, FACT_TLS_SERVER_CERT), "CN=fe1.contoso.test"));
            assert_non_null(strstr(fact(notes, FACT_TLS_CLIENT_CERT), "CN=alice@contoso.test"));
            assert_non_null(strstr(fact(notes, FACT_TLS_SECRET_SRC), "RSA key"));
            /* the key export gives GnuTLS's key block bytes 64..96 and 96..128, and statistics
             * the client certificate */
            {
                GString *out = g_string_new(NULL);
                const char *const ops[] = {"0A0B0C0D"};
                assert_int_equal(mech_tlsdsk_ops.export_keys(st, ops, 1, out), 1);
                GString *want = g_string_new("TLS-DSK 0A0B0C0D ");
                for (int k = 64; k < 128; k++)
                    g_string_append_printf(want, "%s%02x", k == 96 ? " " : "", r.kb[k]);
                g_string_append_c(want, '\n');
                assert_string_equal(out->str, want->str);
                g_string_free(want, TRUE);
                g_string_free(out, TRUE);
                char *who = mech_tlsdsk_ops.client_name(st);
                assert_non_null(who);
                assert_non_null(strstr(who, "CN=alice@contoso.test"));
                g_free(who);
            }
            /* one covered byte changed: INVALID (known case, or variant proven above) */
            buf[blen / 2] ^= 0x20;
            assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, c->siglen, notes, NULL),
                             SIG_INVALID);
            buf[blen / 2] ^= 0x20;
            note_list_free(notes);
            mech_tlsdsk_ops.sa_free(st);
            mech_tlsdsk_ops.cap_free(cap);
        }
        keystore_free(ks);
    }

    /* a fresh SA whose first signature is tampered: INVALID in the known case, UNSUPPORTED when
     * no variant is established yet */
    keystore *ks = make_ks(KS_PKCS1);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    feed(st, &r, 0, ks, NULL);
    csig[0] ^= 1;
    assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, c->siglen, NULL, NULL),
                     c->known ? SIG_INVALID : SIG_UNSUPPORTED);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);

    /* another server's key: NO_KEY naming the certificate, never INVALID */
    ks = make_ks(KS_OTHER);
    cap = mech_tlsdsk_ops.cap_new();
    st = mech_tlsdsk_ops.sa_new(cap);
    feed(st, &r, 0, ks, NULL);
    char *why = NULL;
    csig[0] ^= 1;
    assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, c->siglen, NULL, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, srv.thumb));
    g_free(why);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);

    g_free(buf);
    free_run(&r);
}

static void test_rsa_cases(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rsa_cases); i++)
        for (int ems = 0; ems <= 1; ems++)
            run_rsa_case(&rsa_cases[i], ems);
}

/* A TLS 1.2 SA whose peer kept the TLS 1.0 key-block derivation: the second candidate (derived
 * only once the suite's PRF failed) verifies, and its reason names the TLS 1.0 PRF; on a fresh SA
 * a spoilt first signature is UNSUPPORTED, naming both candidates. The TLS 1.0 key block comes
 * from tlsdsk_key_block, which test_prf_kat ties to GnuTLS's bytes; the master secret from
 * GnuTLS's key-log callback. */
static void test_tls12_with_tls10_key_block(void **state)
{
    (void)state;
    hs_run r;
    assert_int_equal(run_handshake(&r, RSA_PRIO("TLS1.2", "AES-128-CBC", "SHA1"), NULL, 1), 0);
    assert_int_equal(r.version, 0x0303);
    const char *ms_hex = strrchr(r.keylog, ' ');
    assert_non_null(ms_hex);
    size_t n;
    uint8_t *ms = tu_hex(ms_hex + 1, &n);
    assert_int_equal(n, 48);
    uint8_t kb10[128];
    assert_int_equal(tlsdsk_key_block(TLS_PRF_10, ms, r.cr, r.sr, kb10), 0);
    assert_memory_not_equal(kb10, r.kb, 128);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t csig[20], ssig[20];
    assert_int_equal(tls_hmac(TLS_H_SHA1, kb10 + 64, 32, buf, blen, csig), 0);
    assert_int_equal(tls_hmac(TLS_H_SHA1, kb10 + 96, 32, buf, blen, ssig), 0);
    keystore *ks = make_ks(KS_PKCS1);
    for (int spoilt_first = 0; spoilt_first <= 1; spoilt_first++) {
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        feed(st, &r, 0, ks, NULL);
        char *why = NULL;
        if (spoilt_first) {
            csig[3] ^= 1;
            assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, 20, NULL, &why),
                             SIG_UNSUPPORTED);
            csig[3] ^= 1;
            assert_non_null(strstr(why, "key blocks"));
            assert_non_null(strstr(why, "TLS 1.2 PRF-SHA256, TLS 1.0 PRF"));
            g_free(why);
        }
        assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, 20, NULL, &why), SIG_VALID);
        assert_non_null(strstr(why, "variant"));
        assert_non_null(strstr(why, "TLS 1.0 PRF key block"));
        g_free(why);
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, 20, NULL, NULL), SIG_VALID);
        /* the variant is proven now: a spoilt signature is INVALID */
        ssig[0] ^= 1;
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, 20, NULL, NULL), SIG_INVALID);
        ssig[0] ^= 1;
        /* the key export gives the key block that verified */
        GString *out = g_string_new(NULL);
        const char *const ops[] = { "0A0B0C0D" };
        assert_int_equal(mech_tlsdsk_ops.export_keys(st, ops, 1, out), 1);
        GString *want = g_string_new("TLS-DSK 0A0B0C0D ");
        for (int k = 64; k < 128; k++)
            g_string_append_printf(want, "%s%02x", k == 96 ? " " : "", kb10[k]);
        g_string_append_c(want, '\n');
        assert_string_equal(out->str, want->str);
        g_string_free(want, TRUE);
        g_string_free(out, TRUE);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
    }
    keystore_free(ks);
    g_free(ms);
    g_free(buf);
    free_run(&r);
}

/* RC4-128-MD5 under TLS 1.0: HMAC-MD5, 16 bytes; only when this GnuTLS still offers RC4. */
static void test_rc4_md5(void **state)
{
    hs_run r;
    if (run_handshake(&r, RSA_PRIO("TLS1.0", "ARCFOUR-128", "MD5"), NULL, 1) < 0) {
        free_run(&r);
        if (getenv("MSSIPAE_NO_SKIP"))
            fail_msg("this GnuTLS offers no RC4-128-MD5 (MSSIPAE_NO_SKIP: a skip is a failure)");
        skip();
    }
    keystore *ks = make_ks(KS_PKCS1);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    feed(st, &r, 5, ks, NULL);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t sig[16];
    sign_ref(&r, GNUTLS_MAC_MD5, DIR_S2C, buf, blen, sig);
    assert_int_equal(check(st, ks, DIR_S2C, buf, blen, sig, 16, NULL, NULL), SIG_VALID);
    buf[0] ^= 1;
    assert_int_equal(check(st, ks, DIR_S2C, buf, blen, sig, 16, NULL, NULL), SIG_INVALID);
    g_free(buf);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);
    free_run(&r);
}

#define ECDHE_PRIO "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-256-GCM:-MAC-ALL:+AEAD"

/* ECDHE-RSA-AES-256-GCM-SHA384 (what SfB Online negotiates): 48-byte HMAC-SHA384 signatures
 * verified from a CLIENT_RANDOM key-log line, ours or Wireshark's; the RSA key alone says why
 * it cannot help. */
static void test_ecdhe_keylog(void **state)
{
    hs_run r;
    assert_int_equal(run_handshake(&r, ECDHE_PRIO, NULL, 1), 0);
    assert_true(g_str_has_prefix(r.keylog, "CLIENT_RANDOM "));
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t csig[48], ssig[48];
    sign_ref(&r, GNUTLS_MAC_SHA384, DIR_C2S, buf, blen, csig);
    sign_ref(&r, GNUTLS_MAC_SHA384, DIR_S2C, buf, blen, ssig);
    char cr_hex[65];
    for (int i = 0; i < 32; i++)
        g_snprintf(cr_hex + 2 * i, 3, "%02x", r.cr[i]);

    /* only the RSA key: NO_KEY, and the reason says what could help */
    keystore *ks = make_ks(KS_PKCS1);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    feed(st, &r, 11, ks, NULL);
    char *why = NULL;
    assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, 48, NULL, &why), SIG_NO_KEY);
    assert_non_null(strstr(why, "cannot recover"));
    assert_non_null(strstr(why, "key log"));
    assert_non_null(strstr(why, cr_hex));
    g_free(why);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);

    /* mssipae.keylog_file, then Wireshark's tls.keylog_file (with lines that are not ours) */
    for (int which = 0; which < 2; which++) {
        char *text = which == 0 ? g_strdup_printf("# GnuTLS\n%s\n", r.keylog)
                                : g_strdup_printf("CLIENT_HANDSHAKE_TRAFFIC_SECRET %s 00\n"
                                                  "SERVER_TRAFFIC_SECRET_0 %s 00\n%s\n",
                                                  cr_hex, cr_hex, r.keylog);
        char *path = write_tmp("ecdhe.keys", text, strlen(text));
        ks = keystore_new();
        if (which == 0)
            assert_int_equal(keystore_set_keylog(ks, path), 0);
        else
            assert_int_equal(keystore_set_tls_keylog(ks, path), 0);
        cap = mech_tlsdsk_ops.cap_new();
        st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        feed(st, &r, 0, ks, notes);
        assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, 48, notes, &why), SIG_VALID);
        assert_non_null(strstr(why, "HMAC-SHA384"));
        assert_non_null(strstr(why, "TLS 1.2 PRF-SHA384"));
        g_free(why);
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, 48, notes, NULL), SIG_VALID);
        assert_true(g_str_has_prefix(fact(notes, FACT_TLS_SUITE),
                                     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
        assert_non_null(strstr(fact(notes, FACT_TLS_SECRET_SRC), "CLIENT_RANDOM"));
        /* variant proven: tampering is now INVALID */
        buf[3] ^= 4;
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, 48, notes, NULL), SIG_INVALID);
        buf[3] ^= 4;
        /* an uncovered change (the signature of the other direction) is not valid either */
        assert_int_not_equal(check(st, ks, DIR_S2C, buf, blen, csig, 48, notes, NULL), SIG_VALID);
        assert_int_equal(n_config_errors(ks), 0);
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
        keystore_free(ks);
        g_unlink(path);
        g_free(path);
        g_free(text);
    }
    g_free(buf);
    free_run(&r);
}

/* No key at all: the reason names the certificate's subject and thumbprint and the client random. */
static void test_no_key_reason(void **state)
{
    hs_run r;
    assert_int_equal(run_handshake(&r, RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"), NULL, 1), 0);
    keystore *ks = make_ks(KS_NONE);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    feed(st, &r, 0, ks, NULL);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t sig[20];
    sign_ref(&r, GNUTLS_MAC_SHA1, DIR_C2S, buf, blen, sig);
    char *why = NULL;
    assert_int_equal(check(st, ks, DIR_C2S, buf, blen, sig, 20, NULL, &why), SIG_NO_KEY);
    char cr_hex[65];
    for (int i = 0; i < 32; i++)
        g_snprintf(cr_hex + 2 * i, 3, "%02x", r.cr[i]);
    assert_non_null(strstr(why, srv.thumb));
    assert_non_null(strstr(why, "fe1.contoso.test"));
    assert_non_null(strstr(why, cr_hex));
    g_free(why);
    g_free(buf);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);
    free_run(&r);
}

/* The NO_KEY reason made for a header on a fresh capture (nothing kept: the text as every
 * message got it before issue 10 kept it), for comparison. */
static char *fresh_why(const hs_run *r, size_t ntok, keystore *ks, const char *opaque,
                       const uint8_t *buf, size_t blen, const uint8_t *sig)
{
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    for (guint i = 0; i < r->flights->len && i < ntok; i++) {
        const flight *f = g_ptr_array_index(r->flights, i);
        mech_tlsdsk_ops.on_token(st, f->dir, f->bytes->data, f->bytes->len, ks, NULL);
    }
    sig_verdict v = mech_tlsdsk_ops.verify(st, ks, opaque, DIR_C2S, buf, blen, sig, 20, NULL, 0);
    assert_int_equal(v.status, SIG_NO_KEY);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    return v.why;
}

/* With no key (a capture opened without keys), the reason kept from one header to the next
 * (issue 10) is the one made afresh: per session (two SAs interleaved), per opaque (other,
 * none), forgotten when a handshake token arrives, and a CLIENT_RANDOM line written later to
 * either key log is used at the next header. */
static void test_no_key_reason_per_message(void **state)
{
    hs_run r[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(run_handshake(&r[i], RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"), NULL, 1),
                         0);
    assert_memory_not_equal(r[0].cr, r[1].cr, 32);
    char *kl = write_tmp("nokey-mssipae.keys", "# none yet\n", 11);
    char *tk = write_tmp("nokey-tls.keys", "# none yet\n", 11);
    keystore *ks = make_ks(KS_NONE);
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    assert_int_equal(keystore_set_tls_keylog(ks, tk), 0);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t sig[2][20];
    for (int i = 0; i < 2; i++)
        sign_ref(&r[i], GNUTLS_MAC_SHA1, DIR_C2S, buf, blen, sig[i]);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st[2];
    for (int i = 0; i < 2; i++)
        st[i] = mech_tlsdsk_ops.sa_new(cap);
    /* SA 1 has no handshake yet: the reason says so, until its tokens arrive */
    feed(st[0], &r[0], 0, ks, NULL);
    size_t ntok = r[1].flights->len;
    static const struct { int sa; const char *opaque; size_t tokens; } steps[] = {
        { 0, "AA11", 99 }, { 0, "AA11", 99 }, { 1, "AA11", 0 }, { 1, "AA11", 0 },
        { 0, "AA11", 99 }, { 0, "BB22", 99 }, { 0, NULL, 99 }, { 1, NULL, 0 },
        { 1, "AA11", 0 }, { 1, "AA11", 99 }, { 1, "AA11", 99 }, { 0, "AA1", 99 },
        { 1, "AA11", 99 }, { 0, "AA11", 99 }, { 1, OPAQUE, 99 }, { 0, OPAQUE, 99 },
    };
    int fed1 = 0;
    for (size_t k = 0; k < G_N_ELEMENTS(steps); k++) {
        int i = steps[k].sa;
        if (i == 1 && steps[k].tokens && !fed1) {
            feed(st[1], &r[1], 0, ks, NULL);
            fed1 = 1;
        }
        sig_verdict v = mech_tlsdsk_ops.verify(st[i], ks, steps[k].opaque, DIR_C2S, buf, blen,
                                               sig[i], 20, NULL, 0);
        assert_int_equal(v.status, SIG_NO_KEY);
        char *want = fresh_why(&r[i], i == 1 && !fed1 ? 0 : ntok, ks, steps[k].opaque, buf, blen,
                               sig[i]);
        assert_string_equal(v.why, want);
        char *on = g_strdup_printf("opaque %s", steps[k].opaque ? steps[k].opaque : "(none)");
        assert_non_null(strstr(v.why, on));
        g_free(on);
        g_free(want);
        verdict_clear(&v);
    }
    /* SA 0's line in Wireshark's TLS key log, then SA 1's in mssipae's: each verifies at once
     * (each SA's reason for this opaque was the last one made before its line was written) */
    for (int i = 0; i < 2; i++) {
        char *line = g_strdup_printf("%s\n", r[i].keylog);
        g_free(write_tmp(i == 0 ? "nokey-tls.keys" : "nokey-mssipae.keys", line, strlen(line)));
        g_free(line);
        char *why = NULL;
        assert_int_equal(check(st[i], ks, DIR_C2S, buf, blen, sig[i], 20, NULL, &why), SIG_VALID);
        g_free(why);
        if (i == 0) {
            assert_int_equal(check(st[1], ks, DIR_C2S, buf, blen, sig[1], 20, NULL, &why),
                             SIG_NO_KEY);
            g_free(why);
        }
    }
    for (int i = 0; i < 2; i++) {
        mech_tlsdsk_ops.sa_free(st[i]);
        free_run(&r[i]);
    }
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);
    g_unlink(kl);
    g_unlink(tk);
    g_free(kl);
    g_free(tk);
    g_free(buf);
}

/* Explicit "TLS-DSK <opaque> <client key> <server key>" lines: no handshake needed; a wrong key
 * is INVALID (nothing tells it apart from tampering) in the known case. */
static void test_explicit_keys(void **state)
{
    hs_run r;
    assert_int_equal(run_handshake(&r, RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"), NULL, 1), 0);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t csig[20], ssig[20];
    sign_ref(&r, GNUTLS_MAC_SHA1, DIR_C2S, buf, blen, csig);
    sign_ref(&r, GNUTLS_MAC_SHA1, DIR_S2C, buf, blen, ssig);
    GString *line = g_string_new("TLS-DSK " OPAQUE " ");
    for (int i = 64; i < 96; i++)
        g_string_append_printf(line, "%02x", r.kb[i]);
    g_string_append_c(line, ' ');
    for (int i = 96; i < 128; i++)
        g_string_append_printf(line, "%02x", r.kb[i]);
    g_string_append_c(line, '\n');
    char *path = write_tmp("explicit.keys", line->str, line->len);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, path), 0);
    for (int with_hs = 0; with_hs <= 1; with_hs++) {
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        if (with_hs)
            feed(st, &r, 0, ks, notes);
        assert_int_equal(check(st, ks, DIR_C2S, buf, blen, csig, 20, notes, NULL), SIG_VALID);
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, 20, notes, NULL), SIG_VALID);
        assert_non_null(strstr(fact(notes, FACT_TLS_SECRET_SRC), "key-log line 1"));
        buf[blen - 1] ^= 1;
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, ssig, 20, notes, NULL), SIG_INVALID);
        buf[blen - 1] ^= 1;
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
    }
    /* a wrong explicit key */
    g_string_truncate(line, 0);
    g_string_append(line, "TLS-DSK " OPAQUE " ");
    for (int i = 0; i < 64; i++)
        g_string_append_printf(line, "%s%02x", i == 32 ? " " : "", i);
    g_string_append_c(line, '\n');
    char *path2 = write_tmp("explicit-wrong.keys", line->str, line->len);
    keystore *ks2 = keystore_new();
    assert_int_equal(keystore_set_keylog(ks2, path2), 0);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    assert_int_equal(check(st, ks2, DIR_C2S, buf, blen, csig, 20, NULL, NULL), SIG_INVALID);
    /* a signature length no HMAC has */
    assert_int_equal(check(st, ks2, DIR_C2S, buf, blen, csig, 19, NULL, NULL), SIG_MALFORMED);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks2);
    keystore_free(ks);
    g_unlink(path);
    g_unlink(path2);
    g_free(path);
    g_free(path2);
    g_string_free(line, TRUE);
    g_free(buf);
    free_run(&r);
}

/* Resumption: the abbreviated handshake (no Certificate, no ClientKeyExchange) takes the master
 * secret of the earlier full handshake in the same capture, found by ticket or by session id;
 * the RSA key is the only source. A resumed SA alone in a capture has no key. */
static void test_resumption(void **state)
{
    for (int tickets = 0; tickets <= 1; tickets++) {
        for (int ems = 0; ems <= 1; ems++) {
            char *prio = g_strdup_printf("%s%s", RSA_PRIO("TLS1.2", "AES-128-CBC", "SHA256"),
                                         ems ? "" : ":%NO_SESSION_HASH");
            hs_run full, res;
            if (!sess_db)
                sess_db = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                                (GDestroyNotify)g_bytes_unref,
                                                (GDestroyNotify)g_bytes_unref);
            assert_int_equal(run_handshake(&full, prio, NULL, tickets), 0);
            assert_int_equal(run_handshake(&res, prio, &full, tickets), 0);
            assert_true(res.resumed);
            assert_int_equal(res.ems, ems);
            size_t blen;
            uint8_t *buf = sample_buf(&blen);
            uint8_t sig[32];
            sign_ref(&res, GNUTLS_MAC_SHA256, DIR_S2C, buf, blen, sig);

            keystore *ks = make_ks(KS_P12);
            void *cap = mech_tlsdsk_ops.cap_new();
            void *st1 = mech_tlsdsk_ops.sa_new(cap);
            void *st2 = mech_tlsdsk_ops.sa_new(cap);
            feed(st1, &full, 0, ks, NULL);
            if (ems) {
                /* the full handshake's SA verifies first (its handshake bytes are then
                 * dropped); the resumed one must still find the master secret */
                uint8_t fsig[32];
                sign_ref(&full, GNUTLS_MAC_SHA256, DIR_C2S, buf, blen, fsig);
                assert_int_equal(check(st1, ks, DIR_C2S, buf, blen, fsig, 32, NULL, NULL),
                                 SIG_VALID);
            }
            note_list *notes = note_list_new();
            feed(st2, &res, 2, ks, notes);
            assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
            char *why = NULL;
            sig_status s = check(st2, ks, DIR_S2C, buf, blen, sig, 32, notes, &why);
            if (s != SIG_VALID)
                print_message("tickets=%d ems=%d: %s\n", tickets, ems, why);
            assert_int_equal(s, SIG_VALID);
            g_free(why);
            assert_non_null(strstr(fact(notes, FACT_TLS_SECRET_SRC), "resumed"));
            /* no Certificate in an abbreviated handshake: the resumed session's is shown */
            assert_string_equal(fact(notes, FACT_TLS_SERVER_THUMB), srv.thumb);
            assert_non_null(strstr(fact(notes, FACT_TLS_CLIENT_CERT), "alice@contoso.test"));
            assert_non_null(strstr(fact(notes, FACT_TLS_SECRET_SRC), "RSA key"));
            note_list_free(notes);
            mech_tlsdsk_ops.sa_free(st1);
            mech_tlsdsk_ops.sa_free(st2);
            mech_tlsdsk_ops.cap_free(cap);

            /* without the full handshake in the capture */
            cap = mech_tlsdsk_ops.cap_new();
            st2 = mech_tlsdsk_ops.sa_new(cap);
            feed(st2, &res, 0, ks, NULL);
            assert_int_equal(check(st2, ks, DIR_S2C, buf, blen, sig, 32, NULL, &why), SIG_NO_KEY);
            assert_non_null(strstr(why, "resumed"));
            g_free(why);
            mech_tlsdsk_ops.sa_free(st2);
            mech_tlsdsk_ops.cap_free(cap);
            keystore_free(ks);
            g_free(buf);
            free_run(&full);
            free_run(&res);
            g_free(prio);
        }
    }
}

/* Key files that cannot be used: a config error each, never a crash or a block. */
static void test_key_file_errors(void **state)
{
    keystore *ks = keystore_new();
    assert_int_equal(keystore_add_tls_rsa_key(ks, srv_p12, "Zq9-notit", "row 1"), -1);
    assert_true(has_config_error(ks, "password"));
    assert_int_equal(keystore_add_tls_rsa_key(ks, srv_p12, NULL, "row 2"), -1);
    assert_int_equal(keystore_add_tls_rsa_key(ks, srv_pkcs8_enc, NULL, "row 3"), -1);
    assert_true(has_config_error(ks, "row 3"));
    assert_int_equal(keystore_add_tls_rsa_key(ks, srv_pkcs8_enc, "Zq9-notit", "row 4"), -1);
    assert_int_equal(keystore_add_tls_rsa_key(ks, cert_only_pem, NULL, "row 5"), -1);
    assert_true(has_config_error(ks, "no private key"));
    char *missing = g_build_filename(tmpdir, "missing.pem", NULL);
    assert_int_equal(keystore_add_tls_rsa_key(ks, missing, NULL, "row 6"), -1);
    assert_int_equal(keystore_add_tls_rsa_key(ks, tmpdir, NULL, "row 7"), -1);
    assert_true(has_config_error(ks, "not a regular file"));
    char *fifo = g_build_filename(tmpdir, "fifo.pem", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(keystore_add_tls_rsa_key(ks, fifo, NULL, "row 8"), -1);
    char *junk = write_tmp("junk.pfx", "\x30\x82\x01\x00garbage", 12);
    assert_int_equal(keystore_add_tls_rsa_key(ks, junk, PW, "row 9"), -1);
    char *empty = write_tmp("empty.pem", "", 0);
    assert_int_equal(keystore_add_tls_rsa_key(ks, empty, NULL, "row 10"), -1);
    assert_int_equal(n_config_errors(ks), 10);
    assert_int_equal(keystore_tls_rsa_count(ks), 0);
    /* the good forms load; secrets never appear in messages */
    assert_int_equal(keystore_add_tls_rsa_key(ks, srv_p12, PW, "row 11"), 0);
    assert_int_equal(keystore_add_tls_rsa_key(ks, srv_pkcs8_enc, PW, "row 12"), 0);
    assert_int_equal(keystore_tls_rsa_count(ks), 2);
    /* a .pfx exported with an empty password, given no password */
    char *nopw = export_p12(&srv, "srv-nopw.pfx", "");
    assert_int_equal(keystore_add_tls_rsa_key(ks, nopw, NULL, "row 13"), 0);
    assert_int_equal(keystore_add_tls_rsa_key(ks, nopw, "", "row 14"), 0);
    assert_int_equal(keystore_tls_rsa_count(ks), 4);
    g_unlink(nopw);
    g_free(nopw);
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        assert_null(strstr(*e, "Zq9-notit"));
    keystore_free(ks);
    const char *const files[] = { missing, fifo, junk, empty };
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_unlink(files[i]);
        g_free((char *)files[i]);
    }
}

/* The PRF known answers: key block, keys and signatures over sample.sigbuf (values made by
 * GnuTLS and re-derived independently by tests/vectors/check_vectors.py). */
static void test_prf_kat(void **state)
{
    static const char *const cases[] = { "tls10_rc4_md5", "tls10_aes128_sha", "tls12_aes128_sha" };
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char name[96];
        size_t n;
#define V(field) (g_snprintf(name, sizeof(name), "%s." field, cases[i]), tu_value(KAT, name))
        char *prf = V("prf"), *mac = V("mac"), *cr_h = V("client_random"), *sr_h = V("server_random");
        char *ms_h = V("master_secret"), *kb_h = V("key_block"), *ck_h = V("client_key");
        char *sk_h = V("server_key"), *cs_h = V("client_signature"), *ss_h = V("server_signature");
#undef V
        uint8_t *cr = tu_hex(cr_h, &n), *sr = tu_hex(sr_h, &n), *ms = tu_hex(ms_h, &n);
        assert_int_equal(n, 48);
        tls_prf_kind k = strcmp(prf, "tls10") == 0 ? TLS_PRF_10 : TLS_PRF_12_SHA256;
        uint8_t kb[128];
        assert_int_equal(tlsdsk_key_block(k, ms, cr, sr, kb), 0);
        tu_assert_hex(kb, 128, kb_h);
        tu_assert_hex(kb + 64, 32, ck_h);
        tu_assert_hex(kb + 96, 32, sk_h);
        uint8_t keys[TLSDSK_SIGN_KEYS_LEN];
        assert_int_equal(tlsdsk_sign_keys(k, ms, cr, sr, keys), 0);
        tu_assert_hex(keys, 32, ck_h);
        tu_assert_hex(keys + 32, 32, sk_h);
        tls_hash h = strcmp(mac, "md5") == 0 ? TLS_H_MD5 : TLS_H_SHA1;
        uint8_t sig[20];
        assert_int_equal(tls_hmac(h, kb + 64, 32, buf, blen, sig), 0);
        tu_assert_hex(sig, tls_hash_len(h), cs_h);
        assert_int_equal(tls_hmac(h, kb + 96, 32, buf, blen, sig), 0);
        tu_assert_hex(sig, tls_hash_len(h), ss_h);
        /* a different PRF gives a different key block */
        uint8_t kb2[128];
        assert_int_equal(tlsdsk_key_block(k == TLS_PRF_10 ? TLS_PRF_12_SHA256 : TLS_PRF_10, ms, cr,
                                          sr, kb2), 0);
        assert_memory_not_equal(kb, kb2, 128);
        char *const strs[] = { prf, mac, cr_h, sr_h, ms_h, kb_h, ck_h, sk_h, cs_h, ss_h };
        for (size_t j = 0; j < G_N_ELEMENTS(strs); j++)
            g_free(strs[j]);
        g_free(cr);
        g_free(sr);
        g_free(ms);
    }
    g_free(buf);
}

/* tls_prf_part gives the bytes of tls_prf at every window (blocks skipped before it, blocks cut
 * at both ends, windows inside one block, empty windows), for each PRF and odd secret lengths. */
static void test_prf_part_windows(void **state)
{
    (void)state;
    uint8_t secret[49], seed[64], full[200], part[200];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(i * 37 + 11);
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(i * 91 + 5);
    const tls_prf_kind kinds[] = { TLS_PRF_10, TLS_PRF_12_SHA256, TLS_PRF_12_SHA384 };
    const size_t slens[] = { 48, 49, 1 };
    for (size_t a = 0; a < G_N_ELEMENTS(kinds); a++) {
        for (size_t b = 0; b < G_N_ELEMENTS(slens); b++) {
            assert_int_equal(tls_prf(kinds[a], secret, slens[b], "client EAP encryption", seed,
                                     sizeof seed, full, sizeof full), 0);
            for (size_t off = 0; off <= sizeof full; off += 7) {
                for (size_t len = 0; off + len <= sizeof full; len += 13) {
                    memset(part, 0xa5, sizeof part);
                    assert_int_equal(tls_prf_part(kinds[a], secret, slens[b],
                                                  "client EAP encryption", seed, sizeof seed,
                                                  off, part, len), 0);
                    assert_memory_equal(part, full + off, len);
                    for (size_t i = len; i < sizeof part; i++)
                        assert_int_equal(part[i], 0xa5); /* nothing written past the window */
                }
            }
        }
    }
}

/* One MAC through the cache, checked against tls_hmac. */
static void hmac_cache_check(tls_hmac_cache *c, tls_hash h, const uint8_t *key, size_t kl,
                             const uint8_t *data, size_t dl)
{
    uint8_t want[64], got[64];
    assert_int_equal(tls_hmac(h, key, kl, data, dl, want), 0);
    assert_int_equal(tls_hmac_cached(c, h, key, kl, data, dl, got), 0);
    assert_memory_equal(got, want, tls_hash_len(h));
}

/* tls_hmac_cached gives tls_hmac's MAC whatever the cache holds: two keys alternating as an SA's
 * two directions do, three keys of one set (the same first four bytes) pushing each other out,
 * more keys than the cache has slots, the same keys under another hash, and keys too short or
 * too long to cache. */
static void test_hmac_cache_matches(void **state)
{
    (void)state;
    tls_hmac_cache *c = tls_hmac_cache_new();
    uint8_t keys[80][65], data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 29 + 7);
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++)
        for (size_t j = 0; j < sizeof keys[0]; j++)
            keys[k][j] = (uint8_t)(k * 131 + j * 17 + 1);
    for (size_t k = 0; k < 3; k++)
        memset(keys[k], 0x5a, 4); /* keys 0..2: one set */
    const tls_hash hs[] = { TLS_H_SHA1, TLS_H_MD5, TLS_H_SHA256 };
    for (size_t r = 0; r < 2 * G_N_ELEMENTS(hs); r++) {
        tls_hash h = hs[r % G_N_ELEMENTS(hs)];
        for (size_t i = 0; i < 12; i++) /* an SA's two directions, one set */
            hmac_cache_check(c, h, keys[i & 1], 32, data, 40 + i);
        for (size_t i = 0; i < 12; i++) /* three keys of one set */
            hmac_cache_check(c, h, keys[i % 3], 32, data, 100 + i);
        for (size_t i = 0; i < 2 * G_N_ELEMENTS(keys); i++) /* more keys than slots */
            hmac_cache_check(c, h, keys[i % G_N_ELEMENTS(keys)], 32, data, i % sizeof data);
        for (size_t i = 0; i < 4; i++) /* one key at several lengths; not cached: 3 and 65 */
            hmac_cache_check(c, h, keys[5], (size_t[]){ 32, 20, 3, 65 }[i], data, 77);
    }
    tls_hmac_cache_free(c);
}

/* The master secret from the RSA key equals the one GnuTLS reports (key-log callback), with
 * and without EMS, so the session hash is right for TLS 1.0 and TLS 1.2. */
static void test_master_secret_matches_gnutls(void **state)
{
    static const char *const prios[] = { RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"),
                                         RSA_PRIO("TLS1.2", "AES-128-CBC", "SHA256") };
    for (size_t i = 0; i < G_N_ELEMENTS(prios); i++) {
        for (int ems = 0; ems <= 1; ems++) {
            char *prio = g_strdup_printf("%s%s", prios[i], ems ? "" : ":%NO_SESSION_HASH");
            hs_run r;
            assert_int_equal(run_handshake(&r, prio, NULL, 1), 0);
            /* RSA path and key-log path must give the same keys: sign with GnuTLS's key block
             * and check with a key store that has only the key log */
            char *line = g_strdup_printf("%s\n", r.keylog);
            char *path = write_tmp("ms.keys", line, strlen(line));
            keystore *ks = keystore_new();
            assert_int_equal(keystore_set_keylog(ks, path), 0);
            void *cap = mech_tlsdsk_ops.cap_new();
            void *st = mech_tlsdsk_ops.sa_new(cap);
            feed(st, &r, 0, ks, NULL);
            size_t blen;
            uint8_t *buf = sample_buf(&blen);
            uint8_t sig[32];
            gnutls_mac_algorithm_t mac = i == 0 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256;
            sign_ref(&r, mac, DIR_C2S, buf, blen, sig);
            assert_int_equal(check(st, ks, DIR_C2S, buf, blen, sig, i == 0 ? 20 : 32, NULL, NULL),
                             SIG_VALID);
            g_free(buf);
            mech_tlsdsk_ops.sa_free(st);
            mech_tlsdsk_ops.cap_free(cap);
            keystore_free(ks);
            g_unlink(path);
            g_free(path);
            g_free(line);
            g_free(prio);
            free_run(&r);
        }
    }
}

/* The flights of r with each flight's plaintext handshake records merged into one record (so
 * one record holds several handshake messages, as Windows' Schannel sends them); *merged gets
 * how many records were saved. Encrypted records (after a direction's ChangeCipherSpec) stay. */
static GPtrArray *coalesce(const hs_run *r, int *merged)
{
    GPtrArray *out = g_ptr_array_new();
    int ccs[2] = { 0, 0 };
    *merged = 0;
    for (guint i = 0; i < r->flights->len; i++) {
        const flight *f = g_ptr_array_index(r->flights, i);
        flight *nf = g_new0(flight, 1);
        nf->dir = f->dir;
        nf->bytes = g_byte_array_new();
        GByteArray *acc = g_byte_array_new();
        int nacc = 0;
        const uint8_t *p = f->bytes->data;
        size_t n = f->bytes->len;
        while (n >= 5) {
            size_t rl = ((size_t)p[3] << 8) | p[4];
            assert_true(n >= 5 + rl);
            if (p[0] == 22 && !ccs[f->dir] && acc->len + rl <= 16384) {
                g_byte_array_append(acc, p + 5, (guint)rl);
                nacc++;
            } else {
                if (nacc) {
                    uint8_t h[5] = { 22, p[1], p[2], (uint8_t)(acc->len >> 8), (uint8_t)acc->len };
                    g_byte_array_append(nf->bytes, h, 5);
                    g_byte_array_append(nf->bytes, acc->data, acc->len);
                    *merged += nacc - 1;
                    g_byte_array_set_size(acc, 0);
                    nacc = 0;
                }
                if (p[0] == 20)
                    ccs[f->dir] = 1;
                g_byte_array_append(nf->bytes, p, (guint)(5 + rl));
            }
            p += 5 + rl;
            n -= 5 + rl;
        }
        assert_int_equal(n, 0);
        if (nacc) {
            uint8_t h[5] = { 22, 3, 1, (uint8_t)(acc->len >> 8), (uint8_t)acc->len };
            g_byte_array_append(nf->bytes, h, 5);
            g_byte_array_append(nf->bytes, acc->data, acc->len);
            *merged += nacc - 1;
        }
        g_byte_array_free(acc, TRUE);
        g_ptr_array_add(out, nf);
    }
    return out;
}

static void free_flights(GPtrArray *fl)
{
    for (guint i = 0; i < fl->len; i++) {
        flight *f = g_ptr_array_index(fl, i);
        g_byte_array_free(f->bytes, TRUE);
        g_free(f);
    }
    g_ptr_array_free(fl, TRUE);
}

/* Several handshake messages in one record (the server's ServerHello..ServerHelloDone, the
 * client's Certificate..CertificateVerify), each flight then cut in two tokens. */
static void test_coalesced_records(void **state)
{
    static const char *const prios[] = { RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"),
                                         RSA_PRIO("TLS1.2", "AES-128-CBC", "SHA256") };
    static const gnutls_mac_algorithm_t macs[] = { GNUTLS_MAC_SHA1, GNUTLS_MAC_SHA256 };
    for (size_t i = 0; i < G_N_ELEMENTS(prios); i++) {
        hs_run r;
        assert_int_equal(run_handshake(&r, prios[i], NULL, 1), 0);
        int merged = 0;
        GPtrArray *fl = coalesce(&r, &merged);
        assert_true(merged >= 2); /* the test really merged records */
        keystore *ks = make_ks(KS_PKCS1);
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        for (guint k = 0; k < fl->len; k++) {
            const flight *f = g_ptr_array_index(fl, k);
            size_t half = f->bytes->len / 2;
            mech_tlsdsk_ops.on_token(st, f->dir, f->bytes->data, half, ks, notes);
            mech_tlsdsk_ops.on_token(st, f->dir, f->bytes->data + half, f->bytes->len - half, ks,
                                     notes);
        }
        assert_false(tu_has_note(notes, NOTE_MALFORMED, NULL));
        size_t blen;
        uint8_t *buf = sample_buf(&blen);
        uint8_t sig[32];
        sign_ref(&r, macs[i], DIR_S2C, buf, blen, sig);
        assert_int_equal(check(st, ks, DIR_S2C, buf, blen, sig, i == 0 ? 20 : 32, notes, NULL),
                         SIG_VALID);
        g_free(buf);
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
        keystore_free(ks);
        free_flights(fl);
        free_run(&r);
    }
}

/* Seeded corruption of real flights (bytes flipped, flights cut) with the RSA key configured:
 * any status, never a crash or an over-read (the sanitizer build runs this too). */
static void test_corrupted_real_flights(void **state)
{
    hs_run r;
    assert_int_equal(run_handshake(&r, RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"), NULL, 1), 0);
    keystore *ks = make_ks(KS_PKCS1);
    GRand *rnd = g_rand_new_with_seed(1234);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t sig[20];
    sign_ref(&r, GNUTLS_MAC_SHA1, DIR_C2S, buf, blen, sig);
    int counts[7] = { 0 };
    for (int iter = 0; iter < 400; iter++) {
        void *cap = mech_tlsdsk_ops.cap_new();
        void *st = mech_tlsdsk_ops.sa_new(cap);
        note_list *notes = note_list_new();
        guint victim = (guint)g_rand_int_range(rnd, 0, (gint32)r.flights->len);
        for (guint k = 0; k < r.flights->len; k++) {
            const flight *f = g_ptr_array_index(r.flights, k);
            size_t len = f->bytes->len;
            uint8_t *copy = g_memdup2(f->bytes->data, len);
            if (k == victim) {
                int flips = g_rand_int_range(rnd, 1, 4);
                for (int j = 0; j < flips; j++)
                    copy[g_rand_int_range(rnd, 0, (gint32)len)] ^= (uint8_t)g_rand_int_range(rnd, 1, 256);
                if (g_rand_int_range(rnd, 0, 4) == 0)
                    len = (size_t)g_rand_int_range(rnd, 0, (gint32)len);
            }
            size_t step = (size_t)g_rand_int_range(rnd, 1, 2000);
            for (size_t off = 0; off < len; off += step) {
                size_t n = MIN(step, len - off);
                uint8_t *piece = g_memdup2(copy + off, n); /* exact size: ASan sees over-reads */
                mech_tlsdsk_ops.on_token(st, f->dir, piece, n, ks, notes);
                g_free(piece);
            }
            g_free(copy);
        }
        sig_status s = check(st, ks, DIR_C2S, buf, blen, sig, 20, notes, NULL);
        assert_true(s >= SIG_VALID && s <= SIG_MALFORMED);
        counts[s]++;
        note_list_free(notes);
        mech_tlsdsk_ops.sa_free(st);
        mech_tlsdsk_ops.cap_free(cap);
    }
    /* the corruption really reached the reader: some handshakes lost their key */
    assert_true(counts[SIG_NO_KEY] > 0);
    g_free(buf);
    g_rand_free(rnd);
    keystore_free(ks);
    free_run(&r);
}

/* A signature checked mid-handshake (before the ClientKeyExchange) has no key; that outcome is
 * not frozen: once the handshake is complete the same SA verifies. */
static void test_verify_mid_handshake(void **state)
{
    hs_run r;
    assert_int_equal(run_handshake(&r, RSA_PRIO("TLS1.0", "AES-128-CBC", "SHA1"), NULL, 1), 0);
    keystore *ks = make_ks(KS_PKCS1);
    void *cap = mech_tlsdsk_ops.cap_new();
    void *st = mech_tlsdsk_ops.sa_new(cap);
    size_t blen;
    uint8_t *buf = sample_buf(&blen);
    uint8_t sig[20];
    sign_ref(&r, GNUTLS_MAC_SHA1, DIR_C2S, buf, blen, sig);
    assert_true(r.flights->len >= 3);
    for (guint k = 0; k < r.flights->len; k++) {
        const flight *f = g_ptr_array_index(r.flights, k);
        if (k == 2) {
            char *why = NULL;
            assert_int_equal(check(st, ks, DIR_C2S, buf, blen, sig, 20, NULL, &why), SIG_NO_KEY);
            assert_non_null(strstr(why, "ClientKeyExchange"));
            g_free(why);
        }
        mech_tlsdsk_ops.on_token(st, f->dir, f->bytes->data, f->bytes->len, ks, NULL);
    }
    assert_int_equal(check(st, ks, DIR_C2S, buf, blen, sig, 20, NULL, NULL), SIG_VALID);
    g_free(buf);
    mech_tlsdsk_ops.sa_free(st);
    mech_tlsdsk_ops.cap_free(cap);
    keystore_free(ks);
    free_run(&r);
}

int main(void)
{
    gnutls_global_init();
    assert_int_equal(gnutls_session_ticket_key_generate(&ticket_key), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prf_kat),
        cmocka_unit_test(test_prf_part_windows),
        cmocka_unit_test(test_hmac_cache_matches),
        cmocka_unit_test(test_rsa_cases),
        cmocka_unit_test(test_tls12_with_tls10_key_block),
        cmocka_unit_test(test_rc4_md5),
        cmocka_unit_test(test_ecdhe_keylog),
        cmocka_unit_test(test_no_key_reason),
        cmocka_unit_test(test_no_key_reason_per_message),
        cmocka_unit_test(test_explicit_keys),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_key_file_errors),
        cmocka_unit_test(test_master_secret_matches_gnutls),
        cmocka_unit_test(test_coalesced_records),
        cmocka_unit_test(test_verify_mid_handshake),
        cmocka_unit_test(test_corrupted_real_flights),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    gnutls_memset(ticket_key.data, 0, ticket_key.size);
    gnutls_free(ticket_key.data);
    if (sess_db)
        g_hash_table_destroy(sess_db);
    gnutls_global_deinit();
    return rc;
}
