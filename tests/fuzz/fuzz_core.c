/* fuzz_core.c - libFuzzer target over the whole core (headers, auth parameters, SA tracking,
 * NTLM and Kerberos tokens and signatures). Build with -DMSSIPAE_FUZZ=ON (clang), then:
 *
 *   MSSIPAE_FUZZ_VECTORS=tests/vectors build-fuzz/fuzz_core -max_total_time=300 tests/fuzz/corpus
 *
 * The keystore is built once from the vectors folder (keytab, password, key log).
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_entry.h"

static keystore *ks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("MSSIPAE_FUZZ_VECTORS");
    ks = keystore_new();
    keystore_set_nt_password(ks, "Pa$$word");
    if (dir) {
        char *kt = g_build_filename(dir, "kerberos-mit-lab", "sip.keytab", NULL);
        keystore_set_keytab(ks, kt);
        g_free(kt);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (fuzz_feed(ks, data, len) != 0)
        abort();
    return 0;
}
