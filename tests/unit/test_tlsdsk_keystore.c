/* test_tlsdsk_keystore.c - the key store's TLS-DSK sources: CLIENT_RANDOM lookups across
 * mssipae.keylog_file and Wireshark's tls.keylog_file (precedence, other NSS labels skipped,
 * bad lines reported once, re-read when the file changes), and RSA keys found by key id.
 *
 * Values are arbitrary test bytes; the master secrets are only copied, never derived.
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <string.h>

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "keytab/keystore.h"

#define CR1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define CR2 "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF000102030405060708090A0B0C0D0E0F"
#define MSA "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
#define MSB "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"

static char *dir;

static int setup(void **state)
{
    dir = g_dir_make_tmp("mssipae-tlsks-XXXXXX", NULL);
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, n, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
    return 0;
}

static char *write_file(const char *name, const char *text)
{
    char *p = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(p, text, -1, NULL));
    return p;
}

static void cr_bytes(const char *hex, uint8_t out[32])
{
    size_t n;
    uint8_t *b = tu_hex(hex, &n);
    assert_int_equal(n, 32);
    memcpy(out, b, 32);
    g_free(b);
}

static size_t n_errors(const keystore *ks)
{
    size_t n = 0;
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        n++;
    return n;
}

/* Only CLIENT_RANDOM lines of the TLS key log count; other labels are skipped quietly; a bad
 * CLIENT_RANDOM line is one config error, reported once. */
static void test_tls_keylog(void **state)
{
    char *p = write_file("tls.keys",
        "# NSS key log\n"
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR1 " 00112233\n"
        "SERVER_TRAFFIC_SECRET_0 " CR1 " 4455\n"
        "CLIENT_RANDOM " CR1 " " MSA "\r\n"
        "CLIENT_RANDOM 0011 " MSA "\n"
        "client_random " CR2 " " MSB "\n");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_tls_keylog(ks, p), 0);
    uint8_t cr[32], ms[48];
    char *origin = NULL;
    cr_bytes(CR1, cr);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 1);
    tu_assert_hex(ms, 48, MSA);
    assert_non_null(strstr(origin, "TLS key log"));
    assert_non_null(strstr(origin, "line 4"));
    g_free(origin);
    cr_bytes(CR2, cr);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 1); /* case-insensitive */
    tu_assert_hex(ms, 48, MSB);
    g_free(origin);
    assert_int_equal(n_errors(ks), 1);
    assert_non_null(strstr(keystore_config_errors(ks)[0], "line 5"));
    /* unknown client random */
    memset(cr, 0x77, 32);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 0);
    assert_null(origin);
    assert_int_equal(n_errors(ks), 1);
    keystore_free(ks);
    g_free(p);
}

/* mssipae.keylog_file wins over the TLS key log; a changed TLS key log is read again. */
static void test_precedence_and_reread(void **state)
{
    char *ours = write_file("ours.keys", "CLIENT_RANDOM " CR1 " " MSA "\n");
    char *tls = write_file("tls2.keys", "CLIENT_RANDOM " CR1 " " MSB "\n");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, ours), 0);
    assert_int_equal(keystore_set_tls_keylog(ks, tls), 0);
    uint8_t cr[32], ms[48];
    char *origin = NULL;
    cr_bytes(CR1, cr);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 1);
    tu_assert_hex(ms, 48, MSA);
    assert_true(g_str_has_prefix(origin, "key log "));
    g_free(origin);

    cr_bytes(CR2, cr);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 0);
    /* the TLS key log grows (keys appended while the capture is read); the file identity
     * includes its size, so this does not depend on the mtime granularity */
    assert_true(g_file_set_contents(tls, "CLIENT_RANDOM " CR1 " " MSB "\nCLIENT_RANDOM " CR2
                                    " " MSB "\n", -1, NULL));
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 1);
    tu_assert_hex(ms, 48, MSB);
    g_free(origin);
    /* cleared */
    assert_int_equal(keystore_set_tls_keylog(ks, NULL), 0);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 0);
    keystore_free(ks);
    g_free(ours);
    g_free(tls);
}

/* Wireshark's TLS key log is looked at as mssipae's is (issue 10): with a recheck interval (an
 * hour here: nothing is timed) not again before it; a new keystore reads the changed file; 0
 * looks on every lookup, also while lookups are held (the tracker holds them for a whole
 * verification, having looked at mssipae's key log only). keystore_client_random_generation
 * follows what a lookup would answer. */
static void test_tls_keylog_recheck_interval(void **state)
{
    char *tls = write_file("tls3.keys", "CLIENT_RANDOM " CR1 " " MSA "\n");
    keystore *ks = keystore_new();
    keystore_keylog_recheck(ks, 3600 * 1000);
    assert_int_equal(keystore_set_tls_keylog(ks, tls), 0);
    uint8_t c1[32], c2[32], ms[48];
    char *origin = NULL;
    cr_bytes(CR1, c1);
    cr_bytes(CR2, c2);
    assert_int_equal(keystore_client_random(ks, c1, ms, &origin), 1);
    g_free(origin);
    uint64_t g0 = keystore_client_random_generation(ks);
    /* a larger file: a different identity, whatever the mtime granularity */
    g_free(write_file("tls3.keys", "CLIENT_RANDOM " CR2 " " MSB "\n# and a comment\n"));
    assert_int_equal(keystore_client_random(ks, c1, ms, &origin), 1); /* not looked at yet */
    g_free(origin);
    assert_int_equal(keystore_client_random(ks, c2, ms, &origin), 0);
    assert_int_equal(keystore_client_random_generation(ks), g0);
    keystore *ks2 = keystore_new(); /* the next run */
    keystore_keylog_recheck(ks2, 3600 * 1000);
    assert_int_equal(keystore_set_tls_keylog(ks2, tls), 0);
    assert_int_equal(keystore_client_random(ks2, c1, ms, &origin), 0);
    assert_int_equal(keystore_client_random(ks2, c2, ms, &origin), 1);
    tu_assert_hex(ms, 48, MSB);
    g_free(origin);
    keystore_free(ks2);
    /* no interval: looked at again, held or not */
    keystore_keylog_recheck(ks, 0);
    keystore_keylog_hold(ks, 1);
    uint64_t g1 = keystore_client_random_generation(ks);
    assert_true(g1 != g0);
    assert_int_equal(keystore_client_random(ks, c1, ms, &origin), 0);
    assert_int_equal(keystore_client_random(ks, c2, ms, &origin), 1);
    g_free(origin);
    keystore_keylog_hold(ks, 0);
    assert_int_equal(keystore_client_random_generation(ks), g1); /* unchanged file: the same */
    keystore_free(ks);
    g_free(tls);
}

/* A missing TLS key log is one config error (at the first lookup), not a failure of the setter. */
static void test_tls_keylog_missing(void **state)
{
    char *p = g_build_filename(dir, "nope.keys", NULL);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_tls_keylog(ks, p), 0);
    uint8_t cr[32] = { 0 }, ms[48];
    char *origin = NULL;
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 0);
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 0);
    assert_int_equal(n_errors(ks), 1);
    assert_non_null(strstr(keystore_config_errors(ks)[0], "nope.keys"));
    keystore_free(ks);
    g_free(p);
}

/* RSA keys are found by the key id of a certificate, and only by it. */
static void test_rsa_find_by_key_id(void **state)
{
    gnutls_x509_privkey_t k;
    assert_int_equal(gnutls_x509_privkey_init(&k), 0);
    assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_RSA, 2048, 0), 0);
    gnutls_datum_t pem = { NULL, 0 };
    assert_int_equal(gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &pem), 0);
    char *path = g_build_filename(dir, "k.pem", NULL);
    assert_true(g_file_set_contents(path, (const char *)pem.data, pem.size, NULL));
    gnutls_free(pem.data);
    uint8_t id[20];
    size_t idl = sizeof(id);
    assert_int_equal(gnutls_x509_privkey_get_key_id(k, GNUTLS_KEYID_USE_SHA1, id, &idl), 0);

    keystore *ks = keystore_new();
    assert_int_equal(keystore_add_tls_rsa_key(ks, path, NULL, "row 1"), 0);
    assert_int_equal(keystore_tls_rsa_count(ks), 1);
    const char *origin = NULL;
    assert_non_null(keystore_tls_rsa_find(ks, id, &origin));
    assert_non_null(strstr(origin, "row 1"));
    id[0] ^= 1;
    assert_null(keystore_tls_rsa_find(ks, id, &origin));
    assert_null(origin);
    keystore_free(ks);
    gnutls_x509_privkey_deinit(k);
    g_free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* a fresh folder per test: no test sees another's files, so order does not matter */
        cmocka_unit_test_setup_teardown(test_tls_keylog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence_and_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_keylog_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_keylog_recheck_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_find_by_key_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
