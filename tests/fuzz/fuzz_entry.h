/* fuzz_entry.h - one fuzz input through the whole core, shared by the libFuzzer target
 * (fuzz_core in tests/fuzz/fuzz_targets.c) and the deterministic mutation test (tests/unit/test_mutate.c).
 *
 * An input is up to FUZZ_MAX_MSGS SIP messages separated by FUZZ_SEP ("\0\0"); each is fed to a
 * fresh tracker in order, alternating directions, so handshakes, SA binding and verification all
 * see hostile bytes. The keystore holds real keys (the vectors' keytab, password and key log), so
 * the mechanisms' key derivation and MIC paths run too. Every result must be well formed.
 */
#ifndef MSSIPAE_FUZZ_ENTRY_H
#define MSSIPAE_FUZZ_ENTRY_H

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keytab/keystore.h"
#include "verify/sa.h"

#define FUZZ_SEP "\0\0"
#define FUZZ_MAX_MSGS 8

/* Checks the invariants of one result; returns 0 when they hold. */
static int fuzz_check(const msg_result *r)
{
    if (!r || !r->auths)
        return -1;
    for (guint i = 0; i < r->auths->len; i++) {
        const auth_result *a = g_ptr_array_index(r->auths, i);
        if (!a->name || a->status > SIG_MALFORMED)
            return -1;
        if (a->status != SIG_NONE && a->status != SIG_VALID && !a->why)
            return -1; /* every "could not tell" says why */
        if (a->status != SIG_NONE && !a->sigbuf && a->status != SIG_UNSUPPORTED)
            return -1;
        if (a->sa_id && !a->sa_frame)
            return -1;
    }
    return 0;
}

/* Feeds one input through a fresh tracker; returns 0 when every result was well formed. When
 * out is not NULL, appends one line per auth header: "<frame> <index> <status>|<why>" (the
 * verdicts, for the oracles below). */
G_GNUC_UNUSED static int fuzz_run(keystore *ks, const uint8_t *data, size_t len, GString *out)
{
    sa_tracker *t = sa_tracker_new(ks);
    /* both ways of making diagnostics, chosen by the input (sa_tracker_process explains what
     * was left) */
    sa_tracker_set_later(t, (int)(len & 1));
    int rc = 0;
    size_t off = 0;
    for (uint32_t frame = 1; frame <= FUZZ_MAX_MSGS && off <= len; frame++) {
        size_t end = off;
        while (end + 1 < len && !(data[end] == 0 && data[end + 1] == 0))
            end++;
        if (end + 1 >= len)
            end = len;
        /* a private copy of exactly this message, so ASan sees any over-read */
        size_t n = end - off;
        char *msg = malloc(n ? n : 1);
        if (n)
            memcpy(msg, data + off, n);
        msg_meta meta = { frame, frame % 2 ? "10.0.0.1:5060" : "10.0.0.2:5060",
                          frame % 2 ? "10.0.0.2:5060" : "10.0.0.1:5060" };
        const msg_result *r = sa_tracker_process(t, msg, n, &meta);
        if (fuzz_check(r) != 0)
            rc = -1;
        if (out && r && r->auths)
            for (guint i = 0; i < r->auths->len; i++) {
                const auth_result *a = g_ptr_array_index(r->auths, i);
                g_string_append_printf(out, "%u %u %d|%s\n", frame, i, (int)a->status,
                                       a->why ? a->why : "");
            }
        free(msg);
        off = end + 2;
    }
    sa_tracker_free(t);
    return rc;
}

/* Feeds one input; returns 0 when every result was well formed. */
G_GNUC_UNUSED static int fuzz_feed(keystore *ks, const uint8_t *data, size_t len)
{
    return fuzz_run(ks, data, len, NULL);
}

/* Statuses only ("<frame> <index> <status>" lines) of a fuzz_run listing. */
G_GNUC_UNUSED static char *fuzz_statuses(const char *listing)
{
    GString *s = g_string_new(NULL);
    for (const char *p = listing; *p;) {
        const char *bar = strchr(p, '|');
        const char *nl = strchr(p, '\n');
        if (!bar || !nl)
            break;
        g_string_append_len(s, p, bar < nl ? bar - p : nl - p);
        g_string_append_c(s, '\n');
        p = nl + 1;
    }
    return g_string_free(s, FALSE);
}

/* Semantic oracles; returns 0 when they hold, else prints which and returns -1.
 *  1. the same input gives the same verdicts (status and reason) through two fresh trackers
 *     (the plugin computes once and renders the stored result on every pass: one-pass and
 *     two-pass output can only agree if the core is deterministic);
 *  2. when a message has a valid signature, adding a header no signature covers to that
 *     message (just before the blank line ending its headers) changes no verdict. */
G_GNUC_UNUSED static int fuzz_oracles(keystore *ks, const uint8_t *data, size_t len)
{
    GString *a = g_string_new(NULL), *b = g_string_new(NULL);
    fuzz_run(ks, data, len, a);
    fuzz_run(ks, data, len, b);
    int rc = 0;
    if (strcmp(a->str, b->str) != 0) {
        fprintf(stderr, "oracle 1: verdicts differ between two runs:\n%s---\n%s", a->str, b->str);
        rc = -1;
    }
    if (rc == 0 && strstr(a->str, " 1|")) {
        /* which frames have a valid signature */
        char *st = fuzz_statuses(a->str);
        size_t off = 0;
        for (uint32_t frame = 1; frame <= FUZZ_MAX_MSGS && off <= len && rc == 0; frame++) {
            size_t end = off;
            while (end + 1 < len && !(data[end] == 0 && data[end + 1] == 0))
                end++;
            if (end + 1 >= len)
                end = len;
            char tag[32];
            g_snprintf(tag, sizeof tag, "%u ", frame);
            int valid = 0;
            for (const char *q = st; (q = strstr(q, tag)) && !valid; q++)
                if ((q == st || q[-1] == '\n')) {
                    const char *nl = strchr(q, '\n');
                    valid = nl && nl - q >= 2 && nl[-1] == '1' && nl[-2] == ' ';
                }
            const uint8_t *hend = NULL;
            for (size_t q = off; valid && !hend && q + 4 <= end; q++)
                if (memcmp(data + q, "\r\n\r\n", 4) == 0)
                    hend = data + q;
            if (hend) {
                size_t at = (size_t)(hend - data) + 2;
                static const char extra[] = "X-Fuzz-Uncovered: 1\r\n";
                GByteArray *m = g_byte_array_sized_new((guint)(len + sizeof extra));
                g_byte_array_append(m, data, (guint)at);
                g_byte_array_append(m, (const guint8 *)extra, sizeof extra - 1);
                g_byte_array_append(m, data + at, (guint)(len - at));
                GString *c = g_string_new(NULL);
                fuzz_run(ks, m->data, m->len, c);
                char *sc = fuzz_statuses(c->str);
                if (strcmp(st, sc) != 0) {
                    fprintf(stderr, "oracle 2: a header added to frame %u changed verdicts:\n"
                            "%s---\n%s", frame, a->str, c->str);
                    rc = -1;
                }
                g_free(sc);
                g_string_free(c, TRUE);
                g_byte_array_free(m, TRUE);
            }
            off = end + 2;
        }
        g_free(st);
    }
    g_string_free(a, TRUE);
    g_string_free(b, TRUE);
    return rc;
}

/* The keystore the fuzz targets use: the lab keytab, the demo password and NTLM user, the demo
 * TLS-DSK RSA key and a key log (written once to /tmp) with entries for the seeds' opaques, a
 * conflicting pair and some malformed lines. Folders: $MSSIPAE_FUZZ_VECTORS (tests/vectors),
 * $MSSIPAE_FUZZ_DEMO (demo/). */
G_GNUC_UNUSED static keystore *fuzz_keystore(void)
{
    keystore *ks = keystore_new();
    keystore_set_nt_password(ks, "Pa$$word");
    keystore_add_ntlm_user(ks, "CONTOSO", "alice", "Lync-Demo-2013", NULL);
    const char *vec = getenv("MSSIPAE_FUZZ_VECTORS");
    const char *demo = getenv("MSSIPAE_FUZZ_DEMO");
    if (vec) {
        char *kt = g_build_filename(vec, "kerberos-mit-lab", "sip.keytab", NULL);
        keystore_set_keytab(ks, kt);
        g_free(kt);
    }
    if (demo) {
        char *k = g_build_filename(demo, "tlsdsk-server.key", NULL);
        keystore_add_tls_rsa_key(ks, k, NULL, "fuzz RSA key");
        g_free(k);
    }
    char *kl = g_strdup_printf("/tmp/mssipae-fuzz-keylog-%d.txt", (int)getpid());
    static const char lines[] =
        "# fuzz key log\n"
        "NTLM 2BDBAC9D 6742fbe37bb1946b49d86a525bd29a9b\n"
        "KERBEROS ABCD0001 18 3ee6b4c3caad342df0adabf26ae0fe276a3f5cfab502adcb2aad9b551a8dcb24\n"
        "KERBEROS ABCD0002 23 072d0d69c2dcec0f104104c9e533c14b\n"
        "KERBEROS ABCD0001 18 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
        "TLS-DSK ABCD0003 00112233445566778899aabbccddeeff ffeeddccbbaa99887766554433221100\n"
        "NTLM bad zz\n"
        "KERBEROS 7 x\n";
    if (g_file_set_contents(kl, lines, -1, NULL))
        keystore_set_keylog(ks, kl);
    g_free(kl);
    return ks;
}

#endif
