/* test_secure.c - secrets leave no trace (issue 11, acceptance 1): the buffers that held a
 * password, its NT hash and an NTLM session key pass through secure_wipe and are zero right after,
 * while their memory is still owned by the code under test (secure_wipe's observer hook sees them
 * before and after the wipe, so nothing freed is ever read). Also secure_read_file: exactly the
 * file, one buffer, regular files only.
 *
 * tests/unit/check_wipes.py checks the other half: the wipe calls survive in the -O2 objects.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "keytab/keystore.h"
#include "keytab/secure.h"
#include "tests/fuzz/fuzz_entry.h"

/* What the observer saw for one secret: wiped buffers that held it, and whether each was all
 * zero right after its wipe. */
typedef struct {
    const uint8_t *secret;
    size_t len;
    int seen;         /* wipes of a buffer that held the secret */
    int zero_after;   /* ... and were all zero right after */
    const void *pending[64];
    size_t npending;
} watch;

typedef struct {
    watch w[3];
    size_t n;
} watches;

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void observer(const void *p, size_t n, int after, void *user)
{
    watches *ws = user;
    for (size_t i = 0; i < ws->n; i++) {
        watch *w = &ws->w[i];
        if (!after) {
            if (n >= w->len && memmem(p, n, w->secret, w->len) && w->npending < 64)
                w->pending[w->npending++] = p;
        } else {
            for (size_t k = 0; k < w->npending; k++)
                if (w->pending[k] == p) {
                    w->seen++;
                    w->zero_after += all_zero(p, n);
                    w->pending[k] = w->pending[--w->npending];
                    break;
                }
        }
    }
}

static void watch_add(watches *ws, const uint8_t *secret, size_t len)
{
    watch *w = &ws->w[ws->n++];
    memset(w, 0, sizeof *w);
    w->secret = secret;
    w->len = len;
}

static int teardown(void **state)
{
    secure_wipe_set_observer(NULL, NULL);
    return 0;
}

/* The NTLM OC 2007 R2 flow (407 CHALLENGE, REGISTER with AUTHENTICATE, 200 OK), both signatures
 * verified with the password: the password, its NT hash and the exported session key are each
 * wiped (and zero after), in the keystore and in the NTLM mechanism. */
static void test_password_nt_hash_session_key_wiped(void **state)
{
    char *pw_s = tu_value("ntlm-oc2007r2-v4/values.txt", "password");
    char *esk_hex = tu_value("ntlm-oc2007r2-v4/values.txt", "exported_session_key");
    size_t esk_len;
    uint8_t *esk = tu_hex(esk_hex, &esk_len);
    uint8_t nt[16];
    assert_int_equal(nt_hash_from_password(pw_s, nt), 0);

    watches ws = { .n = 0 };
    watch_add(&ws, (const uint8_t *)pw_s, strlen(pw_s));
    watch_add(&ws, nt, 16);
    watch_add(&ws, esk, esk_len);
    secure_wipe_set_observer(observer, &ws);

    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_nt_password(ks, pw_s), 0);
    GByteArray *in = g_byte_array_new();
    char *chal = tu_read_vector("ntlm-oc2007r2-v4/challenge.b64", NULL);
    g_strstrip(chal);
    char *m = g_strdup_printf(
        "SIP/2.0 407 Proxy Authentication Required\r\nFrom: <sip:user@cosmo.local>;tag=3e49177a52\r\n"
        "To: <sip:user@cosmo.local>\r\nCall-ID: 4037df9284354df39065195bd57a4b14\r\nCSeq: 2 REGISTER\r\n"
        "Proxy-Authenticate: NTLM opaque=\"2BDBAC9D\", gssapi-data=\"%s\", "
        "targetname=\"cosmo-ocs-r2.cosmo.local\", realm=\"SIP Communications Service\", version=4\r\n"
        "Content-Length: 0\r\n\r\n", chal);
    g_byte_array_append(in, (const guint8 *)m, (guint)strlen(m));
    const char *files[] = { "ntlm-oc2007r2-v4/register.sip", "ntlm-oc2007r2-v4/200-ok.sip" };
    for (int i = 0; i < 2; i++) {
        size_t n;
        char *v = tu_read_vector(files[i], &n);
        g_byte_array_append(in, (const guint8 *)FUZZ_SEP, 2);
        g_byte_array_append(in, (const guint8 *)v, (guint)n);
        g_free(v);
    }
    GString *listing = g_string_new(NULL);
    assert_int_equal(fuzz_run(ks, in->data, in->len, listing), 0);
    char *st = fuzz_statuses(listing->str);
    assert_string_equal(st, "1 0 0\n2 0 1\n3 0 1\n"); /* both signatures valid: keys derived */
    g_free(st);
    keystore_free(ks);
    secure_wipe_set_observer(NULL, NULL);

    /* at least this many buffers held each secret and went through the wipe: the keystore's
     * password copy; the NT hash in the keystore's credential; the exported session key in
     * pw_derive's local and in the MD5 context that derives the signing keys from it (removing
     * either wipe makes this test fail) */
    const char *what[] = { "password", "NT hash", "exported session key" };
    const int min_wipes[] = { 1, 1, 2 };
    for (size_t i = 0; i < ws.n; i++) {
        if (ws.w[i].seen < min_wipes[i] || ws.w[i].zero_after != ws.w[i].seen) {
            print_error("%s: %d wipes seen, %d zero after\n", what[i], ws.w[i].seen,
                        ws.w[i].zero_after);
            fail();
        }
    }
    g_string_free(listing, TRUE);
    g_byte_array_free(in, TRUE);
    g_free(m);
    g_free(chal);
    g_free(pw_s);
    g_free(esk_hex);
    g_free(esk);
}

/* A buffer the test owns: secure_wipe zeroes exactly n bytes (not one more). */
static void test_wipe_exact(void **state)
{
    uint8_t b[32];
    memset(b, 0xa5, sizeof b);
    secure_wipe(b + 4, 16);
    assert_true(all_zero(b + 4, 16));
    assert_int_equal(b[3], 0xa5);
    assert_int_equal(b[20], 0xa5);
    secure_wipe(NULL, 0);
    secure_wipe(b, 0);
    assert_int_equal(b[0], 0xa5);
}

/* secure_read_file: the whole file in one buffer (NUL after it), FIFOs and folders refused,
 * the size limit enforced, and the buffer wiped by secure_free_file. */
static void test_read_file(void **state)
{
    char *dir = g_dir_make_tmp("mssipae-secure-XXXXXX", NULL);
    char *f = g_build_filename(dir, "k", NULL);
    assert_true(g_file_set_contents(f, "key\0material", 12, NULL));
    size_t len;
    char *why = NULL;
    uint8_t *b = secure_read_file(f, 100, &len, &why);
    assert_non_null(b);
    assert_int_equal(len, 12);
    assert_memory_equal(b, "key\0material", 12);
    assert_int_equal(b[12], 0);
    watches ws = { .n = 0 };
    watch_add(&ws, (const uint8_t *)"material", 8);
    secure_wipe_set_observer(observer, &ws);
    secure_free_file(b, len);
    secure_wipe_set_observer(NULL, NULL);
    assert_int_equal(ws.w[0].seen, 1);
    assert_int_equal(ws.w[0].zero_after, 1);

    assert_null(secure_read_file(f, 11, &len, &why));
    assert_non_null(strstr(why, "larger than 11 bytes"));
    g_free(why);
    why = NULL;
    assert_null(secure_read_file(dir, 100, &len, &why));
    assert_string_equal(why, "not a regular file");
    g_free(why);
    why = NULL;
    char *fifo = g_build_filename(dir, "p", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(secure_read_file(fifo, 100, &len, &why)); /* would block if opened blindly */
    assert_string_equal(why, "not a regular file");
    g_free(why);
    why = NULL;
    assert_null(secure_read_file("/nonexistent/x", 100, &len, &why));
    assert_non_null(why);
    g_free(why);
    g_unlink(fifo);
    g_unlink(f);
    g_rmdir(dir);
    g_free(fifo);
    g_free(f);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_password_nt_hash_session_key_wiped, teardown),
        cmocka_unit_test(test_wipe_exact),
        cmocka_unit_test_teardown(test_read_file, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
