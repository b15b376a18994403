/* test_mutate.c - deterministic mutation testing of the whole core (run under ASan + UBSan).
 *
 * Seeds are real flows from tests/vectors (the [MS-SIPAE] seed example, the OC 2007 R2 NTLM
 * exchange, MIT Kerberos AP-REQ/AP-REP with MICs, real SfB messages); each is mutated thousands of
 * times with a fixed-seed generator (byte changes, deletions, duplications, inserted separators
 * and quotes, truncation) and fed through tests/fuzz/fuzz_entry.h with real keys configured, so
 * header parsing, SA tracking, key derivation and MIC checks all meet hostile bytes. Every result
 * must be well formed (fuzz_check); ASan/UBSan catch the rest. The same entry point serves the
 * libFuzzer target fuzz_core (tests/fuzz/fuzz_targets.c).
 */
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

#include "tests/fuzz/fuzz_entry.h"

#define ITERATIONS 10000

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure is reproducible */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void add_msg(GByteArray *seed, const char *data, size_t len)
{
    if (seed->len)
        g_byte_array_append(seed, (const guint8 *)FUZZ_SEP, 2);
    g_byte_array_append(seed, (const guint8 *)data, (guint)len);
}

static void add_vector(GByteArray *seed, const char *rel)
{
    size_t len;
    char *m = tu_read_vector(rel, &len);
    add_msg(seed, m, len);
    g_free(m);
}

/* A Kerberos flow (REGISTER with AP-REQ, 200 OK, MESSAGE on the SA) whose MICs are real: made by
 * tests/fuzz/make_corpus.py --seeds over the real signature buffers with the lab AP-REQ's
 * authenticator subkey, so the unmutated seed verifies and mutants reach the valid -> invalid
 * paths. */
static GByteArray *kerberos_seed(const char *dir)
{
    char *p = g_strdup_printf("%s/../fuzz/seeds/kerberos-%s.bin", MSSIPAE_VECTORS_DIR, dir);
    gchar *data;
    gsize len;
    assert_true(g_file_get_contents(p, &data, &len, NULL));
    g_free(p);
    GByteArray *seed = g_byte_array_new_take((guint8 *)data, len);
    return seed;
}

static GByteArray *ntlm_seed(void)
{
    GByteArray *seed = g_byte_array_new();
    char *chal = tu_read_vector("ntlm-oc2007r2-v4/challenge.b64", NULL);
    g_strstrip(chal);
    char *m = g_strdup_printf(
        "SIP/2.0 407 Proxy Authentication Required\r\nFrom: <sip:user@cosmo.local>;tag=3e49177a52\r\n"
        "To: <sip:user@cosmo.local>\r\nCall-ID: 4037df9284354df39065195bd57a4b14\r\nCSeq: 2 REGISTER\r\n"
        "Proxy-Authenticate: NTLM opaque=\"2BDBAC9D\", gssapi-data=\"%s\", "
        "targetname=\"cosmo-ocs-r2.cosmo.local\", realm=\"SIP Communications Service\", version=4\r\n"
        "Content-Length: 0\r\n\r\n", chal);
    add_msg(seed, m, strlen(m));
    g_free(m);
    g_free(chal);
    add_vector(seed, "ntlm-oc2007r2-v4/register.sip");
    add_vector(seed, "ntlm-oc2007r2-v4/200-ok.sip");
    add_vector(seed, "ntlm-ocs2007-v2-noess/200-ok.sip");
    return seed;
}

/* One random edit of buf. */
static void mutate_once(GByteArray *b)
{
    static const char specials[] = "\",;=<>\r\n: \\\0@%";
    guint len = b->len;
    switch (rnd() % 6) {
    case 0: /* change a byte */
        if (len)
            b->data[rnd() % len] = (guint8)rnd();
        break;
    case 1: { /* delete a range */
        if (!len)
            break;
        guint at = rnd() % len, n = 1 + rnd() % 16;
        g_byte_array_remove_range(b, at, MIN(n, len - at));
        break;
    }
    case 2: { /* duplicate a range in place */
        if (!len)
            break;
        guint at = rnd() % len, n = MIN(1 + rnd() % 64, len - at);
        g_byte_array_set_size(b, len + n);
        memmove(b->data + at + n, b->data + at, len - at);
        break;
    }
    case 3: { /* insert a separator, quote or line break */
        guint8 c = (guint8)specials[rnd() % (sizeof specials - 1)];
        guint at = len ? rnd() % len : 0;
        g_byte_array_set_size(b, len + 1);
        memmove(b->data + at + 1, b->data + at, len - at);
        b->data[at] = c;
        break;
    }
    case 4: /* truncate */
        if (len)
            g_byte_array_set_size(b, rnd() % len);
        break;
    default: /* flip one bit */
        if (len)
            b->data[rnd() % len] ^= (guint8)(1u << (rnd() % 8));
        break;
    }
}

static keystore *make_keystore(char **keylog_path)
{
    keystore *ks = keystore_new();
    char *kt = g_build_filename(MSSIPAE_VECTORS_DIR, "kerberos-mit-lab", "sip.keytab", NULL);
    assert_int_equal(keystore_set_keytab(ks, kt), 0);
    g_free(kt);
    assert_int_equal(keystore_set_nt_password(ks, "Pa$$word"), 0);
    char *dir = g_dir_make_tmp("mssipae-mutate-XXXXXX", NULL);
    assert_non_null(dir);
    *keylog_path = g_build_filename(dir, "keys.log", NULL);
    g_free(dir);
    assert_true(g_file_set_contents(*keylog_path,
        "NTLM 4452DFB0 5f029153bc025058969548615e7099ba\n"
        "KERBEROS ABCD0001 18 3ee6b4c3caad342df0adabf26ae0fe276a3f5cfab502adcb2aad9b551a8dcb24\n",
        -1, NULL));
    assert_int_equal(keystore_set_keylog(ks, *keylog_path), 0);
    return ks;
}

/* Mutants of seed through the core: every result well formed. want_valid: the statuses the
 * unmutated seed must give (NULL: not checked); then some mutants must still be valid and some
 * must have become invalid, so both paths were exercised. */
static void run_seed_expect(GByteArray *seed, uint64_t s, const char *want_valid)
{
    char *keylog;
    keystore *ks = make_keystore(&keylog);
    /* the unmutated seed itself first */
    GString *listing = g_string_new(NULL);
    assert_int_equal(fuzz_run(ks, seed->data, seed->len, listing), 0);
    if (want_valid) {
        char *st = fuzz_statuses(listing->str);
        if (strcmp(st, want_valid) != 0) {
            print_error("seed verdicts:\n%s", listing->str);
            fail();
        }
        g_free(st);
    }
    g_string_free(listing, TRUE);
    rng_state = s;
    int valid = 0, invalid = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        GByteArray *b = g_byte_array_new();
        g_byte_array_append(b, seed->data, seed->len);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++)
            mutate_once(b);
        GString *l = g_string_new(NULL);
        if (fuzz_run(ks, b->data, b->len, l) != 0) {
            print_error("ill-formed result at iteration %d (seed %llu)\n", i, (unsigned long long)s);
            fail();
        }
        valid += strstr(l->str, " 1|") != NULL;
        invalid += strstr(l->str, " 2|") != NULL;
        g_string_free(l, TRUE);
        g_byte_array_free(b, TRUE);
    }
    if (want_valid) {
        assert_true(valid > ITERATIONS / 100);
        assert_true(invalid > ITERATIONS / 100);
    }
    keystore_free(ks);
    char *dir = g_path_get_dirname(keylog);
    g_remove(keylog);
    g_rmdir(dir);
    g_free(dir);
    g_free(keylog);
    g_byte_array_free(seed, TRUE);
}

static void run_seed(GByteArray *seed, uint64_t s)
{
    run_seed_expect(seed, s, NULL);
}

static void test_mutate_seed_example(void **state)
{
    (void)state;
    GByteArray *seed = g_byte_array_new();
    add_vector(seed, "seed-kerberos-example/01-register.sip");
    add_vector(seed, "seed-kerberos-example/02-401.sip");
    add_vector(seed, "seed-kerberos-example/03-register-kerberos.sip");
    add_vector(seed, "seed-kerberos-example/05-200-ok.sip");
    run_seed(seed, 1);
}

static void test_mutate_ntlm(void **state)
{
    (void)state;
    run_seed(ntlm_seed(), 2);
}

static void test_mutate_kerberos_aes(void **state)
{
    (void)state;
    run_seed_expect(kerberos_seed("aes256-oneleg"), 3, "1 0 1\n2 0 1\n3 0 1\n");
}

static void test_mutate_kerberos_rc4(void **state)
{
    (void)state;
    run_seed_expect(kerberos_seed("rc4-session-oneleg"), 4, "1 0 1\n2 0 1\n3 0 1\n");
}

static void test_mutate_sfb(void **state)
{
    (void)state;
    GByteArray *seed = g_byte_array_new();
    add_vector(seed, "sfb-real-headers/05-invite-pai-tel.sip");
    add_vector(seed, "buffer-only-180/180-ringing-uppercase.sip");
    run_seed(seed, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutate_seed_example), cmocka_unit_test(test_mutate_ntlm),
        cmocka_unit_test(test_mutate_kerberos_aes), cmocka_unit_test(test_mutate_kerberos_rc4),
        cmocka_unit_test(test_mutate_sfb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
