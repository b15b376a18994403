/* test_keystore.c - the key store: NT hashes against independent known answers, the keytab
 * copy (RC4 entries as NT-hash candidates, Kerberos keys via krb5_kt_get_entry), candidate
 * order, configuration errors, and the lazily (re-)read key log.
 *
 * Known answers: "password" -> 8846f7ee... is the NT hash published everywhere; the others come
 * from tests/vectors (ms-nlmp-kat, ntlm-oc2007r2-v4, kerberos-mit-lab/values.txt via klist -K).
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "keytab/keystore.h"

#define LAB "kerberos-mit-lab/values.txt"
#define K16A "00112233445566778899aabbccddeeff"
#define K16B "ffeeddccbbaa99887766554433221100"
#define R32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define MS48 "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"

/* ---- helpers ---- */

static char *keytab_path(void)
{
    return g_build_filename(MSSIPAE_VECTORS_DIR, "kerberos-mit-lab", "sip.keytab", NULL);
}

/* Compares 16 bytes with the hex value named in a values.txt file. */
static void assert_hash_is_value(const uint8_t got[16], const char *values, const char *name)
{
    char *hex = tu_value(values, name);
    size_t n = 0;
    uint8_t *want = tu_hex(hex, &n);
    assert_int_equal(n, 16);
    assert_memory_equal(got, want, 16);
    g_free(want);
    g_free(hex);
}

static size_t n_errors(const keystore *ks)
{
    size_t n = 0;
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        n++;
    return n;
}

/* Number of configuration errors containing every one of the given substrings. */
static size_t n_errors_with(const keystore *ks, const char *a, const char *b)
{
    size_t n = 0;
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        if (strstr(*e, a) && (!b || strstr(*e, b)))
            n++;
    return n;
}

static size_t count_entries(krb5_context ctx, krb5_keytab kt)
{
    krb5_kt_cursor cur;
    krb5_keytab_entry e;
    size_t n = 0;
    assert_int_equal(krb5_kt_start_seq_get(ctx, kt, &cur), 0);
    while (krb5_kt_next_entry(ctx, kt, &e, &cur) == 0) {
        n++;
        krb5_free_keytab_entry_contents(ctx, &e);
    }
    krb5_kt_end_seq_get(ctx, kt, &cur);
    return n;
}

/* Looks up (principal, kvno, enctype) in the keystore's keytab and checks the key. */
static void assert_kt_key(const keystore *ks, const char *princ, krb5_kvno kvno, krb5_enctype et,
                          const char *values_name)
{
    krb5_context ctx = keystore_krb5_context(ks);
    krb5_keytab kt = keystore_keytab(ks);
    assert_non_null(ctx);
    assert_non_null(kt);
    krb5_principal p = NULL;
    assert_int_equal(krb5_parse_name(ctx, princ, &p), 0);
    krb5_keytab_entry ent;
    assert_int_equal(krb5_kt_get_entry(ctx, kt, p, kvno, et, &ent), 0);
    assert_int_equal(ent.vno, kvno);
    assert_int_equal(ent.key.enctype, et);
    char *hex = tu_value(LAB, values_name);
    tu_assert_hex(ent.key.contents, ent.key.length, hex);
    g_free(hex);
    krb5_free_keytab_entry_contents(ctx, &ent);
    krb5_free_principal(ctx, p);
}

static char *tmp_dir(void)
{
    char *d = g_dir_make_tmp("mssipae-ks-XXXXXX", NULL);
    assert_non_null(d);
    return d;
}

static void write_file(const char *path, const char *text)
{
    assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* Rewrites a file in place (same inode), as an editor or a logging client would. */
static void write_in_place(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Moves the file's mtime by delta seconds, to force a change without changing its size. */
static void bump_mtime(const char *path, int delta)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    struct timespec ts[2] = { st.st_atim, st.st_mtim };
    ts[1].tv_sec += delta;
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void rm_tree(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *p = g_build_filename(dir, name, NULL);
            g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
    g_free(dir);
}

/* ---- NT hash ---- */

static void test_nt_hash_known(void **state)
{
    uint8_t h[16];
    assert_int_equal(nt_hash_from_password("password", h), 0);
    tu_assert_hex(h, 16, "8846f7eaee8fb117ad06bdd830b7586c");

    char *pw = tu_value("ms-nlmp-kat/values.txt", "password");
    assert_string_equal(pw, "Password");
    assert_int_equal(nt_hash_from_password(pw, h), 0);
    assert_hash_is_value(h, "ms-nlmp-kat/values.txt", "v1.ntowfv1");
    g_free(pw);

    pw = tu_value("ntlm-oc2007r2-v4/values.txt", "password");
    assert_string_equal(pw, "Pa$$word");
    assert_int_equal(nt_hash_from_password(pw, h), 0);
    assert_hash_is_value(h, "ntlm-oc2007r2-v4/values.txt", "ntowfv1");
    g_free(pw);

    /* the keytab's RC4 key is the NT hash of the service password (RFC 4757) */
    pw = tu_value(LAB, "service1_password");
    assert_int_equal(nt_hash_from_password(pw, h), 0);
    assert_hash_is_value(h, LAB, "keytab.service1.arcfour-hmac");
    g_free(pw);
}

static void test_nt_hash_bad(void **state)
{
    uint8_t h[16];
    assert_int_equal(nt_hash_from_password("\xff\xfe", h), -1);
    assert_int_equal(nt_hash_from_password("ab\xc3", h), -1); /* truncated sequence */
    assert_int_equal(nt_hash_from_password(NULL, h), -1);
    /* the empty password has a hash too: MD4("") */
    assert_int_equal(nt_hash_from_password("", h), 0);
    tu_assert_hex(h, 16, "31d6cfe0d16ae931b73c59d7e0c089c0");
}

/* ---- keytab ---- */

static void test_keytab_candidates(void **state)
{
    keystore *ks = keystore_new();
    assert_non_null(keystore_krb5_context(ks));
    assert_null(keystore_keytab(ks));
    assert_null(keystore_keytab_path(ks));
    char *path = keytab_path();
    assert_int_equal(keystore_set_keytab(ks, path), 0);
    assert_string_equal(keystore_keytab_path(ks), path);
    assert_int_equal(n_errors(ks), 0);

    /* both services' first component is "sip"; file order: service1 then service2 */
    const ks_nt_cred **c = NULL;
    assert_int_equal(keystore_nt_candidates(ks, "WHATEVER", "SiP", &c), 2);
    assert_hash_is_value(c[0]->nt_hash, LAB, "keytab.service1.arcfour-hmac");
    assert_hash_is_value(c[1]->nt_hash, LAB, "keytab.service2.arcfour-hmac");
    assert_string_equal(c[0]->user, "sip");
    assert_string_equal(c[0]->domain, "CONTOSO.TEST");
    assert_null(c[0]->password);
    assert_string_equal(c[0]->origin, "keytab entry sip/server.contoso.test@CONTOSO.TEST kvno 1");
    assert_string_equal(c[1]->origin, "keytab entry sip/rc4.contoso.test@CONTOSO.TEST kvno 1");
    g_free(c);

    assert_int_equal(keystore_nt_candidates(ks, "CONTOSO", "alice", &c), 0);
    g_free(c);
    assert_int_equal(keystore_nt_candidates(ks, NULL, NULL, NULL), 0);

    /* Kerberos keys through the MEMORY copy */
    assert_kt_key(ks, "sip/server.contoso.test@CONTOSO.TEST", 1, ENCTYPE_AES256_CTS_HMAC_SHA1_96,
                  "keytab.service1.aes256-cts-hmac-sha1-96");
    assert_kt_key(ks, "sip/server.contoso.test@CONTOSO.TEST", 1, ENCTYPE_AES128_CTS_HMAC_SHA1_96,
                  "keytab.service1.aes128-cts-hmac-sha1-96");
    assert_kt_key(ks, "sip/rc4.contoso.test@CONTOSO.TEST", 1, ENCTYPE_ARCFOUR_HMAC,
                  "keytab.service2.arcfour-hmac");
    char name[256];
    assert_int_equal(krb5_kt_get_name(keystore_krb5_context(ks), keystore_keytab(ks), name,
                                      sizeof(name)), 0);
    assert_true(g_str_has_prefix(name, "MEMORY:"));

    /* clearing the source */
    assert_int_equal(keystore_set_keytab(ks, ""), 0);
    assert_null(keystore_keytab(ks));
    assert_null(keystore_keytab_path(ks));
    assert_int_equal(keystore_nt_candidates(ks, "", "sip", &c), 0);
    g_free(c);
    g_free(path);
    keystore_free(ks);
}

static void test_keytab_copy_independent_of_file(void **state)
{
    /* Copy the keytab to a temp file, load it (with FILE: prefix), then delete the file. */
    char *dir = tmp_dir();
    char *src = keytab_path();
    char *data = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(src, &data, &len, NULL));
    char *copy = g_build_filename(dir, "copy.keytab", NULL);
    assert_true(g_file_set_contents(copy, data, (gssize)len, NULL));
    char *spec = g_strconcat("FILE:", copy, NULL);

    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, spec), 0);
    assert_int_equal(g_unlink(copy), 0);
    assert_kt_key(ks, "sip/server.contoso.test@CONTOSO.TEST", 1, ENCTYPE_AES256_CTS_HMAC_SHA1_96,
                  "keytab.service1.aes256-cts-hmac-sha1-96");
    assert_int_equal(count_entries(keystore_krb5_context(ks), keystore_keytab(ks)), 6);
    keystore_free(ks);

    g_free(spec);
    g_free(copy);
    g_free(data);
    g_free(src);
    rm_tree(dir);
}

static void test_keytab_errors(void **state)
{
    keystore *ks = keystore_new();
    const char *missing = "/nonexistent-mssipae/dir/service.keytab";
    assert_int_equal(keystore_set_keytab(ks, missing), -1);
    assert_null(keystore_keytab(ks));
    assert_string_equal(keystore_keytab_path(ks), missing);
    assert_int_equal(n_errors(ks), 1);
    assert_int_equal(n_errors_with(ks, missing, "No such file"), 1);
    const ks_nt_cred **c = NULL;
    assert_int_equal(keystore_nt_candidates(ks, "", "sip", &c), 0);
    g_free(c);

    /* a file that is not a keytab */
    char *dir = tmp_dir();
    char *junk = g_build_filename(dir, "junk.keytab", NULL);
    write_file(junk, "this is not a keytab\n");
    assert_int_equal(keystore_set_keytab(ks, junk), -1);
    assert_null(keystore_keytab(ks));
    /* the old error went away with its source; the new one names the new path */
    assert_int_equal(n_errors(ks), 1);
    assert_int_equal(n_errors_with(ks, junk, NULL), 1);

    /* a directory */
    assert_int_equal(keystore_set_keytab(ks, dir), -1);
    assert_int_equal(n_errors_with(ks, dir, "not a regular file"), 1);

    /* then a good one clears the errors */
    char *path = keytab_path();
    assert_int_equal(keystore_set_keytab(ks, path), 0);
    assert_int_equal(n_errors(ks), 0);
    g_free(path);
    g_free(junk);
    rm_tree(dir);
    keystore_free(ks);
}

static void test_keytab_private_copies(void **state)
{
    char *path = keytab_path();
    keystore *a = keystore_new();
    keystore *b = keystore_new();
    keystore *c = keystore_new();
    assert_int_equal(keystore_set_keytab(a, path), 0);
    assert_int_equal(keystore_set_keytab(b, path), 0);
    assert_ptr_not_equal(keystore_keytab(a), keystore_keytab(b));
    assert_null(keystore_keytab(c)); /* not configured: nothing shared */

    char na[256], nb[256];
    assert_int_equal(krb5_kt_get_name(keystore_krb5_context(a), keystore_keytab(a), na, sizeof(na)), 0);
    assert_int_equal(krb5_kt_get_name(keystore_krb5_context(b), keystore_keytab(b), nb, sizeof(nb)), 0);
    assert_string_not_equal(na, nb);
    assert_int_equal(count_entries(keystore_krb5_context(a), keystore_keytab(a)), 6);
    assert_int_equal(count_entries(keystore_krb5_context(b), keystore_keytab(b)), 6);

    /* setting the keytab again replaces the copy instead of adding to it */
    assert_int_equal(keystore_set_keytab(a, path), 0);
    assert_int_equal(keystore_set_keytab(a, path), 0);
    assert_int_equal(count_entries(keystore_krb5_context(a), keystore_keytab(a)), 6);
    char na2[256];
    assert_int_equal(krb5_kt_get_name(keystore_krb5_context(a), keystore_keytab(a), na2, sizeof(na2)), 0);
    assert_string_not_equal(na, na2);
    const ks_nt_cred **cr = NULL;
    assert_int_equal(keystore_nt_candidates(a, "", "sip", &cr), 2);
    g_free(cr);

    /* freeing one leaves the other intact */
    keystore_free(a);
    assert_int_equal(count_entries(keystore_krb5_context(b), keystore_keytab(b)), 6);
    assert_kt_key(b, "sip/server.contoso.test@CONTOSO.TEST", 1, ENCTYPE_AES256_CTS_HMAC_SHA1_96,
                  "keytab.service1.aes256-cts-hmac-sha1-96");

    /* a MEMORY keytab of the same name as a freed one starts empty (MIT destroys it on the
     * last close) */
    krb5_context ctx = keystore_krb5_context(c);
    krb5_keytab again = NULL;
    assert_int_equal(krb5_kt_resolve(ctx, na, &again), 0);
    assert_int_equal(count_entries(ctx, again), 0);
    krb5_kt_close(ctx, again);
    assert_int_equal(krb5_kt_resolve(ctx, na2, &again), 0);
    assert_int_equal(count_entries(ctx, again), 0);
    krb5_kt_close(ctx, again);

    /* and a new keystore gets exactly the file's entries */
    keystore *d = keystore_new();
    assert_int_equal(keystore_set_keytab(d, path), 0);
    assert_int_equal(count_entries(keystore_krb5_context(d), keystore_keytab(d)), 6);
    keystore_free(d);

    keystore_free(b);
    keystore_free(c);
    g_free(path);
}

/* ---- NTLM candidates ---- */

static void test_candidate_order(void **state)
{
    char *path = keytab_path();
    char *svc2 = tu_value(LAB, "keytab.service2.arcfour-hmac");
    keystore *ks = keystore_new();
    /* configured in the "wrong" order on purpose: the result order is by kind */
    assert_int_equal(keystore_set_nt_password(ks, "GlobalPw1"), 0);
    assert_int_equal(keystore_set_keytab(ks, path), 0);
    assert_int_equal(keystore_add_ntlm_user(ks, "CONTOSO", "sip", "RowOnePw", NULL), 0);   /* 1 */
    assert_int_equal(keystore_add_ntlm_user(ks, "", "SIP", NULL, svc2), 0);               /* 2 */
    assert_int_equal(keystore_add_ntlm_user(ks, "OTHER", "sip", "x", NULL), 0);           /* 3 */
    assert_int_equal(keystore_add_ntlm_user(ks, "contoso", "alice", "y", NULL), 0);       /* 4 */
    assert_int_equal(keystore_add_ntlm_user(ks, "contoso", "SIP", "RowFivePw", NULL), 0); /* 5 */
    assert_int_equal(n_errors(ks), 0);

    const ks_nt_cred **c = NULL;
    size_t n = keystore_nt_candidates(ks, "Contoso", "Sip", &c);
    assert_int_equal(n, 6);
    assert_string_equal(c[0]->origin, "NTLM users table row 1");
    assert_string_equal(c[0]->password, "RowOnePw");
    uint8_t h[16];
    assert_int_equal(nt_hash_from_password("RowOnePw", h), 0);
    assert_memory_equal(c[0]->nt_hash, h, 16);
    assert_string_equal(c[1]->origin, "NTLM users table row 2");
    assert_null(c[1]->password);
    assert_hash_is_value(c[1]->nt_hash, LAB, "keytab.service2.arcfour-hmac");
    assert_string_equal(c[2]->origin, "NTLM users table row 5");
    assert_string_equal(c[3]->origin, "keytab entry sip/server.contoso.test@CONTOSO.TEST kvno 1");
    assert_string_equal(c[4]->origin, "keytab entry sip/rc4.contoso.test@CONTOSO.TEST kvno 1");
    assert_string_equal(c[5]->origin, "preference mssipae.nt_password");
    assert_string_equal(c[5]->user, "");
    assert_string_equal(c[5]->domain, "");
    assert_string_equal(c[5]->password, "GlobalPw1");
    assert_int_equal(nt_hash_from_password("GlobalPw1", h), 0);
    assert_memory_equal(c[5]->nt_hash, h, 16);
    g_free(c);

    /* other domain: row 3 and row 2 (empty domain) match, rows 1 and 5 do not */
    n = keystore_nt_candidates(ks, "OTHER", "sip", &c);
    assert_int_equal(n, 5);
    assert_string_equal(c[0]->origin, "NTLM users table row 2");
    assert_string_equal(c[1]->origin, "NTLM users table row 3");
    g_free(c);

    n = keystore_nt_candidates(ks, "CONTOSO", "ALICE", &c);
    assert_int_equal(n, 2);
    assert_string_equal(c[0]->origin, "NTLM users table row 4");
    assert_string_equal(c[1]->origin, "preference mssipae.nt_password");
    g_free(c);

    n = keystore_nt_candidates(ks, "CONTOSO", "bob", &c);
    assert_int_equal(n, 1);
    g_free(c);

    /* clearing the global password */
    assert_int_equal(keystore_set_nt_password(ks, NULL), 0);
    n = keystore_nt_candidates(ks, "CONTOSO", "bob", &c);
    assert_int_equal(n, 0);
    g_free(c);
    assert_int_equal(keystore_set_nt_password(ks, "x"), 0);
    assert_int_equal(keystore_set_nt_password(ks, ""), 0);
    assert_int_equal(keystore_nt_candidates(ks, "CONTOSO", "bob", NULL), 0);

    g_free(svc2);
    g_free(path);
    keystore_free(ks);
}

static void test_ntlm_user_rows(void **state)
{
    keystore *ks = keystore_new();
    uint8_t pw_hash[16];
    assert_int_equal(nt_hash_from_password("password", pw_hash), 0);

    /* row 1: neither -> rejected, still counts as row 1 */
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u1", NULL, NULL), -1);
    assert_int_equal(n_errors_with(ks, "NTLM users table row 1", "neither"), 1);
    /* row 2: bad hashes */
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u2", NULL, "8846f7eaee8fb117ad06bdd830b7586"), -1);
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u3", "pw", "8846f7eaee8fb117ad06bdd830b7586g"), -1);
    assert_int_equal(n_errors_with(ks, "row 2", "32 hex digits"), 1);
    assert_int_equal(n_errors_with(ks, "row 3", "32 hex digits"), 1);
    /* row 4: invalid UTF-8 password */
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u4", "\xff", NULL), -1);
    assert_int_equal(n_errors_with(ks, "row 4", "UTF-8"), 1);
    /* row 5: hash only, upper case, blanks around */
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u5", "", " 8846F7EAEE8FB117AD06BDD830B7586C "), 0);
    /* row 6: both, agreeing: password kept */
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u6", "password", "8846f7eaee8fb117ad06bdd830b7586c"), 0);
    /* row 7: both, disagreeing: hash wins, password dropped, error recorded */
    assert_int_equal(keystore_add_ntlm_user(ks, "D", "u7", "other", "8846f7eaee8fb117ad06bdd830b7586c"), 0);
    assert_int_equal(n_errors_with(ks, "row 7", "disagree"), 1);
    /* row 8: empty user matches anyone */
    assert_int_equal(keystore_add_ntlm_user(ks, NULL, NULL, "password", NULL), 0);
    assert_int_equal(n_errors(ks), 5);

    const ks_nt_cred **c = NULL;
    assert_int_equal(keystore_nt_candidates(ks, "d", "U5", &c), 2);
    assert_string_equal(c[0]->origin, "NTLM users table row 5");
    assert_null(c[0]->password);
    assert_memory_equal(c[0]->nt_hash, pw_hash, 16);
    assert_string_equal(c[1]->origin, "NTLM users table row 8");
    g_free(c);
    assert_int_equal(keystore_nt_candidates(ks, "d", "u6", &c), 2);
    assert_string_equal(c[0]->password, "password");
    g_free(c);
    assert_int_equal(keystore_nt_candidates(ks, "d", "u7", &c), 2);
    assert_null(c[0]->password);
    assert_memory_equal(c[0]->nt_hash, pw_hash, 16);
    g_free(c);
    assert_int_equal(keystore_nt_candidates(ks, "d", "u1", &c), 1); /* rejected row: only row 8 */
    g_free(c);

    /* the global password: invalid UTF-8 is an error, not a candidate */
    assert_int_equal(keystore_set_nt_password(ks, "\xc3"), -1);
    assert_int_equal(n_errors_with(ks, "mssipae.nt_password", NULL), 1);
    assert_int_equal(keystore_set_nt_password(ks, "ok"), 0);
    assert_int_equal(n_errors_with(ks, "mssipae.nt_password", NULL), 0);

    /* no error text ever contains a secret */
    for (const char *const *e = keystore_config_errors(ks); *e; e++) {
        assert_null(strstr(*e, "8846"));
        assert_null(strstr(*e, "other"));
    }
    keystore_free(ks);
}

/* ---- key log ---- */

static void test_keylog_lookup(void **state)
{
    char *dir = tmp_dir();
    char *kl = g_build_filename(dir, "keys.log", NULL);
    write_file(kl,
               "# mssipae key log\r\n"
               "NTLM ABcd " K16A "\r\n"
               "NTLM abcd 0011\n"                           /* line 3: bad, short key */
               "\n"
               "KERBEROS 7e57 18 " K16A K16B "\n"
               "tls-dsk Tls1 " K16A " " K16B "\n"
               "CLIENT_RANDOM " R32 " " MS48 "\n"
               "NTLM dup " K16A "\n"
               "NTLM DUP " K16B);                           /* later line wins, no final LF */
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    assert_int_equal(n_errors(ks), 0); /* read lazily */

    const keylog_entry *e = keystore_keylog_find(ks, KEYLOG_NTLM, "abCD");
    assert_non_null(e);
    assert_int_equal(e->scheme, KEYLOG_NTLM);
    tu_assert_hex(e->key1, e->key1_len, K16A);
    assert_int_equal(e->line, 2);
    /* the bad line 3, and the conflict of lines 8 and 9 (both kept: only a signature can tell) */
    assert_int_equal(n_errors(ks), 2);
    char *want = g_strdup_printf("key log %s line 3: ", kl);
    assert_true(g_str_has_prefix(keystore_config_errors(ks)[0], want));
    g_free(want);
    want = g_strdup_printf("key log %s lines 8 and 9 give different keys for the same DUP", kl);
    assert_true(g_str_has_prefix(keystore_config_errors(ks)[1], want));
    g_free(want);

    e = keystore_keylog_find(ks, KEYLOG_KERBEROS, "7E57");
    assert_non_null(e);
    assert_int_equal(e->enctype, 18);
    tu_assert_hex(e->key1, e->key1_len, K16A K16B);
    e = keystore_keylog_find(ks, KEYLOG_TLSDSK, "TLS1");
    assert_non_null(e);
    tu_assert_hex(e->key1, e->key1_len, K16A);
    tu_assert_hex(e->key2, e->key2_len, K16B);
    char *cr_upper = g_ascii_strup(R32, -1);
    e = keystore_keylog_find(ks, KEYLOG_CLIENT_RANDOM, cr_upper);
    g_free(cr_upper);
    assert_non_null(e);
    assert_string_equal(e->id, R32);
    tu_assert_hex(e->key1, e->key1_len, MS48);
    e = keystore_keylog_find(ks, KEYLOG_NTLM, "dup");
    assert_non_null(e);
    tu_assert_hex(e->key1, e->key1_len, K16B);
    assert_int_equal(e->line, 9);
    /* both conflicting lines are offered, in file order; a pin makes find return one */
    const keylog_entry *const *alts;
    assert_int_equal(keystore_keylog_conflicts(ks, KEYLOG_NTLM, "Dup", &alts), 2);
    assert_int_equal(alts[0]->line, 8);
    tu_assert_hex(alts[0]->key1, alts[0]->key1_len, K16A);
    assert_int_equal(alts[1]->line, 9);
    keystore_keylog_pin(ks, alts[0]);
    assert_ptr_equal(keystore_keylog_find(ks, KEYLOG_NTLM, "dup"), alts[0]);
    assert_int_equal(keystore_keylog_find(ks, KEYLOG_NTLM, "abcd")->line, 2); /* other ids unpinned */
    keystore_keylog_pin(ks, NULL);
    assert_int_equal(keystore_keylog_find(ks, KEYLOG_NTLM, "dup")->line, 9);
    assert_int_equal(keystore_keylog_conflicts(ks, KEYLOG_NTLM, "abcd", &alts), 0);

    /* misses: unknown opaque, wrong scheme, NULL opaque */
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "nope"));
    assert_null(keystore_keylog_find(ks, KEYLOG_KERBEROS, "abcd"));
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, NULL));
    /* the bad line and the conflict are reported once, however often we look */
    assert_int_equal(n_errors(ks), 2);

    /* listing the ids of one scheme (sorted; the later "DUP" line replaced "dup") */
    const char **ids;
    assert_int_equal(keystore_keylog_ids(ks, KEYLOG_NTLM, &ids), 2);
    assert_string_equal(ids[0], "ABCD");
    assert_string_equal(ids[1], "DUP");
    g_free(ids);
    assert_int_equal(keystore_keylog_ids(ks, KEYLOG_KERBEROS, &ids), 1);
    assert_string_equal(ids[0], "7E57");
    g_free(ids);

    /* no key log configured */
    assert_int_equal(keystore_set_keylog(ks, NULL), 0);
    assert_int_equal(n_errors(ks), 0);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "abcd"));

    keystore_free(ks);
    g_free(kl);
    rm_tree(dir);
}

static void test_keylog_reread(void **state)
{
    char *dir = tmp_dir();
    char *kl = g_build_filename(dir, "keys.log", NULL);
    write_file(kl, "NTLM aaaa " K16A "\nNTLM bbbb " K16A "\nbad line\n");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);

    const keylog_entry *a1 = keystore_keylog_find(ks, KEYLOG_NTLM, "aaaa");
    const keylog_entry *b1 = keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb");
    assert_non_null(a1);
    assert_non_null(b1);
    assert_int_equal(n_errors(ks), 1);
    const char *const *view = keystore_config_errors(ks);
    assert_int_equal(n_errors_with(ks, "line 3", NULL), 1);

    /* rewrite with a different size: aaaa changes, bbbb unchanged, same bad line 3, new bad line 4 */
    write_in_place(kl, "NTLM aaaa " K16B "\nNTLM bbbb " K16A "\nbad line\nNTLM cccc 00\n");
    const keylog_entry *a2 = keystore_keylog_find(ks, KEYLOG_NTLM, "AAAA");
    assert_non_null(a2);
    tu_assert_hex(a2->key1, a2->key1_len, K16B);
    /* unchanged entry keeps its address; the replaced one is still readable */
    assert_ptr_equal(keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb"), b1);
    tu_assert_hex(a1->key1, a1->key1_len, K16A);
    /* line 3 not reported twice, line 4 is new; the view taken earlier is still valid */
    assert_int_equal(n_errors(ks), 2);
    assert_int_equal(n_errors_with(ks, "line 3", NULL), 1);
    assert_int_equal(n_errors_with(ks, "line 4", "16 bytes"), 1);
    assert_non_null(view[0]);
    assert_null(view[1]);
    assert_non_null(strstr(view[0], "line 3"));

    /* same size, new mtime: bbbb gets a new key of the same length */
    write_in_place(kl, "NTLM aaaa " K16B "\nNTLM bbbb " K16B "\nbad line\nNTLM cccc 00\n");
    bump_mtime(kl, 10);
    const keylog_entry *b2 = keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb");
    assert_non_null(b2);
    tu_assert_hex(b2->key1, b2->key1_len, K16B);
    tu_assert_hex(b1->key1, b1->key1_len, K16A); /* old pointer still valid */
    assert_int_equal(n_errors(ks), 2);

    /* an entry removed from the file is gone */
    write_in_place(kl, "NTLM bbbb " K16B "\n");
    bump_mtime(kl, 20);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "aaaa"));
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb"));

    /* file deleted: one error, the keys read before are kept */
    assert_int_equal(g_unlink(kl), 0);
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb"));
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb"));
    assert_int_equal(n_errors(ks), 3);
    assert_int_equal(n_errors_with(ks, kl, "No such file"), 1);

    /* and it comes back */
    write_file(kl, "NTLM dddd " K16A "\n");
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "dddd"));
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "bbbb"));
    assert_int_equal(n_errors(ks), 3);

    keystore_free(ks);
    g_free(kl);
    rm_tree(dir);
}

static void test_keylog_missing(void **state)
{
    keystore *ks = keystore_new();
    const char *missing = "/nonexistent-mssipae/keys.log";
    assert_int_equal(keystore_set_keylog(ks, missing), -1);
    assert_int_equal(n_errors(ks), 1);
    assert_int_equal(n_errors_with(ks, missing, "No such file"), 1);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "abcd"));
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "abcd"));
    assert_int_equal(n_errors(ks), 1);

    /* a directory is not a key log */
    char *dir = tmp_dir();
    assert_int_equal(keystore_set_keylog(ks, dir), -1);
    assert_int_equal(n_errors(ks), 1);
    assert_int_equal(n_errors_with(ks, dir, "not a regular file"), 1);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "abcd"));
    assert_int_equal(n_errors(ks), 1);

    /* a binary file: bad lines, never a crash */
    char *bin = g_build_filename(dir, "bin.log", NULL);
    static const char junk[] = "NTLM ab\0cd 00\n\xff\xfe\x00\x01\nNTLM ok " K16A;
    assert_true(g_file_set_contents(bin, junk, sizeof(junk) - 1, NULL));
    assert_int_equal(keystore_set_keylog(ks, bin), 0);
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "OK"));
    assert_int_equal(n_errors(ks), 2);
    assert_int_equal(n_errors_with(ks, "line 1", "NUL"), 1);
    assert_int_equal(n_errors_with(ks, "line 2", NULL), 1);
    g_free(bin);

    keystore_free(ks);
    rm_tree(dir);
}

static void test_config_errors_empty(void **state)
{
    keystore *ks = keystore_new();
    const char *const *e = keystore_config_errors(ks);
    assert_non_null(e);
    assert_null(e[0]);
    keystore_free(ks);
    e = keystore_config_errors(NULL);
    assert_non_null(e);
    assert_null(e[0]);
    keystore_free(NULL);
}

/* ---- hostile key files (issue 11) ---- */

/* A FIFO as keytab, key log, TLS key log or RSA key: refused with a clear message, never opened
 * for a blocking read (the test would hang; ctest's timeout would catch it). */
static void test_fifo_refused(void **state)
{
    char *dir = tmp_dir();
    char *fifo = g_build_filename(dir, "pipe", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab(ks, fifo), -1);
    assert_int_equal(n_errors_with(ks, fifo, "not a regular file"), 1);
    assert_int_equal(keystore_set_keylog(ks, fifo), -1);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "abcd"));
    assert_int_equal(n_errors_with(ks, "key log", "not a regular file"), 1);
    assert_int_equal(keystore_add_tls_rsa_key(ks, fifo, NULL, "RSA key row 1"), -1);
    assert_int_equal(n_errors_with(ks, "RSA key row 1", "not a regular file"), 1);
    assert_int_equal(keystore_set_tls_keylog(ks, fifo), 0);
    uint8_t cr[32] = { 0 }, ms[48];
    char *origin = NULL;
    assert_int_equal(keystore_client_random(ks, cr, ms, &origin), 0);
    assert_int_equal(n_errors_with(ks, "TLS key log", "not a regular file"), 1);
    g_free(origin);
    keystore_free(ks);
    unlink(fifo);
    g_free(fifo);
    rm_tree(dir);
}

/* The id listing is kept (no copy, no walk per call) until the content changes; while held, the
 * file is not looked at again. */
static void test_keylog_ids_view_and_hold(void **state)
{
    char *dir = tmp_dir();
    char *kl = g_build_filename(dir, "keys.log", NULL);
    write_file(kl, "NTLM b " K16A "\nNTLM a " K16B "\nKERBEROS k 18 " K16A K16B "\n");
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    const char *const *v1, *const *v2;
    assert_int_equal(keystore_keylog_ids_view(ks, KEYLOG_NTLM, &v1), 2);
    assert_string_equal(v1[0], "A");
    assert_string_equal(v1[1], "B");
    assert_int_equal(keystore_keylog_ids_view(ks, KEYLOG_NTLM, &v2), 2);
    assert_ptr_equal(v1, v2); /* the same listing, not rebuilt */
    keystore_keylog_hold(ks, 1);
    sleep(1); /* a different mtime */
    write_file(kl, "NTLM c " K16A "\n");
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "a")); /* held: old content */
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "c"));
    keystore_keylog_hold(ks, 0);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "a")); /* released: reread */
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "c"));
    assert_int_equal(keystore_keylog_ids_view(ks, KEYLOG_NTLM, &v2), 1);
    assert_string_equal(v2[0], "C");
    keystore_free(ks);
    g_free(kl);
    rm_tree(dir);
}

/* 100,000 malformed key-log lines: the first few are named, the rest counted in one message. */
/* With a recheck interval the file is looked at again only after it (an hour here: nothing is
 * timed); a new keystore, as every run makes, reads the changed file; 0 looks on every lookup. */
static void test_keylog_recheck_interval(void **state)
{
    char *dir = tmp_dir();
    char *kl = g_build_filename(dir, "keys.log", NULL);
    write_file(kl, "NTLM a " K16A "\n");
    keystore *ks = keystore_new();
    keystore_keylog_recheck(ks, 3600 * 1000);
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "a"));
    sleep(1); /* a different mtime */
    write_file(kl, "NTLM c " K16A "\n");
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "a")); /* not looked at again yet */
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "c"));
    keystore *ks2 = keystore_new(); /* the next run */
    keystore_keylog_recheck(ks2, 3600 * 1000);
    assert_int_equal(keystore_set_keylog(ks2, kl), 0);
    assert_null(keystore_keylog_find(ks2, KEYLOG_NTLM, "a"));
    assert_non_null(keystore_keylog_find(ks2, KEYLOG_NTLM, "c"));
    keystore_free(ks2);
    keystore_keylog_recheck(ks, 0);
    assert_null(keystore_keylog_find(ks, KEYLOG_NTLM, "a")); /* every lookup looks again */
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "c"));
    keystore_free(ks);
    g_free(kl);
    rm_tree(dir);
}

static void test_keylog_many_bad_lines(void **state)
{
    char *dir = tmp_dir();
    char *kl = g_build_filename(dir, "keys.log", NULL);
    GString *s = g_string_new("NTLM good " K16A "\n");
    for (int i = 0; i < 100000; i++)
        g_string_append_printf(s, "NTLM bad%d zz\n", i);
    write_file(kl, s->str);
    g_string_free(s, TRUE);
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keylog(ks, kl), 0);
    assert_non_null(keystore_keylog_find(ks, KEYLOG_NTLM, "GOOD"));
    assert_int_equal(n_errors(ks), 6);
    assert_int_equal(n_errors_with(ks, "line 2:", NULL), 1);
    assert_int_equal(n_errors_with(ks, "100000 malformed lines in all", "first 5"), 1);
    keystore_free(ks);
    g_free(kl);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nt_hash_known),
        cmocka_unit_test(test_nt_hash_bad),
        cmocka_unit_test(test_keytab_candidates),
        cmocka_unit_test(test_keytab_copy_independent_of_file),
        cmocka_unit_test(test_keytab_errors),
        cmocka_unit_test(test_keytab_private_copies),
        cmocka_unit_test(test_candidate_order),
        cmocka_unit_test(test_ntlm_user_rows),
        cmocka_unit_test(test_keylog_lookup),
        cmocka_unit_test(test_keylog_reread),
        cmocka_unit_test(test_keylog_missing),
        cmocka_unit_test(test_config_errors_empty),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_keylog_many_bad_lines),
        cmocka_unit_test(test_keylog_ids_view_and_hold),
        cmocka_unit_test(test_keylog_recheck_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
