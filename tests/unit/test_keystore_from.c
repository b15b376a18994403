/* test_keystore_from.c - keystore_set_keytab_from: a keytab taken from another source (the glue
 * uses it for Wireshark's kerberos.file when mssipae.keytab is empty) is named with its origin
 * wherever the keytab is named, and loads exactly as keystore_set_keytab does.
 */
#include "testutil.h"

#include <string.h>

#include "keytab/keystore.h"

static char *lab_keytab(void)
{
    return g_build_filename(MSSIPAE_VECTORS_DIR, "kerberos-mit-lab", "sip.keytab", NULL);
}

static void test_origin_in_path(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    char *kt = lab_keytab();
    assert_int_equal(keystore_set_keytab_from(ks, kt, "Wireshark's kerberos.file"), 0);
    char *want = g_strdup_printf("%s (Wireshark's kerberos.file)", kt);
    assert_string_equal(keystore_keytab_path(ks), want);
    assert_non_null(keystore_keytab(ks)); /* loaded as by keystore_set_keytab */
    g_free(want);
    /* without an origin: the path alone */
    assert_int_equal(keystore_set_keytab_from(ks, kt, NULL), 0);
    assert_string_equal(keystore_keytab_path(ks), kt);
    g_free(kt);
    keystore_free(ks);
}

static void test_unreadable_named(void **state)
{
    (void)state;
    keystore *ks = keystore_new();
    assert_int_equal(keystore_set_keytab_from(ks, "/nonexistent/x.keytab", "from elsewhere"), -1);
    assert_string_equal(keystore_keytab_path(ks), "/nonexistent/x.keytab (from elsewhere)");
    assert_null(keystore_keytab(ks));
    const char *const *errs = keystore_config_errors(ks);
    assert_non_null(errs);
    assert_non_null(errs[0]);
    assert_non_null(strstr(errs[0], "/nonexistent/x.keytab"));
    /* clearing: no keytab, no name */
    keystore_set_keytab_from(ks, NULL, "from elsewhere");
    assert_null(keystore_keytab_path(ks));
    keystore_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_in_path),
        cmocka_unit_test(test_unreadable_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
