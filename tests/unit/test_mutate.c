/* test_mutate.c - deterministic mutation testing of the whole core (run under ASan + UBSan).
 *
 * Seeds are real flows from tests/vectors (the [MS-SIPAE] seed example, the OC 2007 R2 NTLM
 * exchange, MIT Kerberos AP-REQ/AP-REP with MICs, real SfB messages); each is mutated thousands of
 * times with a fixed-seed generator (byte changes, deletions, duplications, inserted separators
 * and quotes, truncation) and fed through tests/fuzz/fuzz_entry.h with real keys configured, so
 * header parsing, SA tracking, key derivation and MIC checks all meet hostile bytes. Every result
 * must be well formed (fuzz_check); ASan/UBSan catch the rest. The same entry point serves the
 * libFuzzer target tests/fuzz/fuzz_core.c.
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

static char *hex_file(const char *rel)
{
    char *h = tu_read_vector(rel, NULL);
    return g_strstrip(h);
}

static GByteArray *kerberos_seed(const char *dir)
{
    GByteArray *seed = g_byte_array_new();
    char *p;
    p = g_strdup_printf("kerberos-mit-lab/%s/ap-req.hex", dir);
    char *apreq_hex = hex_file(p);
    g_free(p);
    size_t n;
    uint8_t *apreq = tu_hex(apreq_hex, &n);
    char *apreq_b64 = g_base64_encode(apreq, n);
    p = g_strdup_printf("kerberos-mit-lab/%s/mic-initiator.hex", dir);
    char *mic_i = hex_file(p);
    g_free(p);
    p = g_strdup_printf("kerberos-mit-lab/%s/mic-acceptor.hex", dir);
    char *mic_a = hex_file(p);
    g_free(p);
    const char *hdrs = "From: <sip:alice@contoso.test>;tag=a\r\nTo: <sip:alice@contoso.test>\r\n"
                       "Call-ID: k1\r\nCSeq: 2 REGISTER\r\n";
    char *m1 = g_strdup_printf(
        "REGISTER sip:contoso.test SIP/2.0\r\n%sAuthorization: Kerberos qop=\"auth\", "
        "realm=\"SIP Communications Service\", targetname=\"sip/server.contoso.test\", "
        "version=4, gssapi-data=\"%s\", crand=\"1\", cnum=\"1\", response=\"%s\"\r\n"
        "Content-Length: 0\r\n\r\n", hdrs, apreq_b64, mic_i);
    char *m2 = g_strdup_printf(
        "SIP/2.0 200 OK\r\n%sAuthentication-Info: Kerberos qop=\"auth\", opaque=\"ABCD0001\", "
        "srand=\"2\", snum=\"1\", rspauth=\"%s\", targetname=\"sip/server.contoso.test\", "
        "realm=\"SIP Communications Service\", version=4\r\nExpires: 7200\r\n"
        "Content-Length: 0\r\n\r\n", hdrs, mic_a);
    add_msg(seed, m1, strlen(m1));
    add_msg(seed, m2, strlen(m2));
    g_free(m1);
    g_free(m2);
    g_free(apreq_hex);
    g_free(apreq);
    g_free(apreq_b64);
    g_free(mic_i);
    g_free(mic_a);
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

static void run_seed(GByteArray *seed, uint64_t s)
{
    char *keylog;
    keystore *ks = make_keystore(&keylog);
    /* the unmutated seed itself first */
    assert_int_equal(fuzz_feed(ks, seed->data, seed->len), 0);
    rng_state = s;
    for (int i = 0; i < ITERATIONS; i++) {
        GByteArray *b = g_byte_array_new();
        g_byte_array_append(b, seed->data, seed->len);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++)
            mutate_once(b);
        if (fuzz_feed(ks, b->data, b->len) != 0) {
            print_error("ill-formed result at iteration %d (seed %llu)\n", i, (unsigned long long)s);
            fail();
        }
        g_byte_array_free(b, TRUE);
    }
    keystore_free(ks);
    char *dir = g_path_get_dirname(keylog);
    g_remove(keylog);
    g_rmdir(dir);
    g_free(dir);
    g_free(keylog);
    g_byte_array_free(seed, TRUE);
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
    run_seed(kerberos_seed("aes256-oneleg"), 3);
}

static void test_mutate_kerberos_rc4(void **state)
{
    (void)state;
    run_seed(kerberos_seed("rc4-session-oneleg"), 4);
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
