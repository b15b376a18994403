/* fuzz_entry.h - one fuzz input through the whole core, shared by the libFuzzer target
 * (tests/fuzz/fuzz_core.c) and the deterministic mutation test (tests/unit/test_mutate.c).
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
#include <string.h>

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

/* Feeds one input; returns 0 when every result was well formed. */
static int fuzz_feed(keystore *ks, const uint8_t *data, size_t len)
{
    sa_tracker *t = sa_tracker_new(ks);
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
        if (fuzz_check(sa_tracker_process(t, msg, n, &meta)) != 0)
            rc = -1;
        free(msg);
        off = end + 2;
    }
    sa_tracker_free(t);
    return rc;
}

#endif
