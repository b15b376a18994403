/* mech.h - the interface every authentication mechanism implements (one file per scheme,
 * dispatched through a table: a new mechanism is one file plus one row in mech.c).
 *
 * Contract (K's two channels, S's split between deriving and checking):
 *  - on_token() is fed the SA's handshake tokens (decoded gssapi-data) in capture order, on the
 *    first pass only. It parses them defensively and keeps what verify() will need; it may derive
 *    keys at once or lazily. Problems go to notes (NOTE_MALFORMED, NOTE_TOKEN), never abort.
 *  - verify() is a pure check of one signature over one buffer: inputs are const, no counters or
 *    cipher state advance between messages (NTLM SeqNum is 100 on the wire; Kerberos SND_SEQ is
 *    read from the token). It may cache inside st what a computation proved: derived keys,
 *    and facts a cryptographic match established (the key or TLS-DSK variant that verified a
 *    signature of the SA: a forger cannot produce a match). It returns
 *      VALID / INVALID       only when a key was derived and the signature was recomputed;
 *      NO_KEY                no key source matched (why names what was looked up), or a
 *                            password/keytab did not fit the handshake (never INVALID then);
 *      MALFORMED             the signature token cannot be parsed (wrong length, bad header);
 *      UNSUPPORTED           a case the mechanism does not implement.
 *    The verdict's why is g_malloc'd and owned by the caller.
 *  - The SA may have seen no handshake at all (capture started mid-session): then on_token was
 *    never called, and verify() may still succeed from a key-log entry for opaque.
 */
#ifndef MSSIPAE_MECH_H
#define MSSIPAE_MECH_H

#include <stddef.h>
#include <stdint.h>

#include "keytab/keystore.h"
#include "verify/verdict.h"

typedef struct mech_ops {
    const char *scheme; /* as on the wire: "NTLM", "Kerberos", "TLS-DSK" */
    keylog_scheme keylog; /* the keyword of this mechanism's key-log lines */

    /* Per-capture mechanism state shared by all SAs of this mechanism (e.g. the TLS session
     * cache that lets a resumed handshake find the master secret of an earlier one). Optional:
     * NULL for mechanisms whose SAs are independent; then sa_new() gets cap == NULL. */
    void *(*cap_new)(void);
    void (*cap_free)(void *cap);

    /* Per-SA mechanism state; cap is this mechanism's per-capture state (may be NULL; it
     * outlives every SA, so the SA may keep the pointer). */
    void *(*sa_new)(void *cap);
    void (*sa_free)(void *st);

    /* 1 when tok (decoded gssapi-data of a client's credentials) is the client's last handshake
     * token, which version 4 already signs (ms-sipae.md 3: NTLM AUTHENTICATE, Kerberos AP-REQ).
     * NULL when no client token is signed (TLS-DSK signs from the next request on). */
    int (*is_final_client_token)(const uint8_t *tok, size_t len);

    /* One handshake token, decoded from gssapi-data (len > 0), sent in direction dir. */
    void (*on_token)(void *st, mssipae_dir dir, const uint8_t *tok, size_t len, keystore *ks,
                     note_list *notes);

    /* For statistics: who the client is when the handshake says (NTLM DOMAIN\user, Kerberos
     * client principal, TLS-DSK client certificate subject); g_malloc'd, or NULL. Optional. */
    char *(*client_name)(const void *st);

    /* The SA's keys as key-log lines (design.md format), one per opaque of opaques[0..n),
     * appended to out: only keys the handshake gave or a signature proved -- never a password,
     * NT hash or long-term key. Returns the number of lines (0: no key known). Optional. */
    size_t (*export_keys)(const void *st, const char *const *opaques, size_t n, GString *out);

    /* Checks signature sig (decoded from response=/rspauth= hex) over buf, sent in direction
     * dir, on the SA the server named opaque (NULL if not known yet). With later set, a
     * diagnostic that costs a MAC and cannot change the verdict (NTLM: does the signature match
     * the other direction's keys?) may be left undone: a NOTE_LATER note then stands where its
     * notes would be, and explain makes them when a reader shows them (issue 10: a wrong
     * signature costs a second MAC only where someone looks). A NOTE_LATER note is always in
     * place of notes of the verdict's severity, so that leaving it undone changes no highest
     * severity. */
    sig_verdict (*verify)(void *st, keystore *ks, const char *opaque, mssipae_dir dir,
                          const uint8_t *buf, size_t buflen, const uint8_t *sig, size_t siglen,
                          note_list *notes, int later);

    /* The notes a NOTE_LATER note (its text: later) of this SA stands for, appended to notes:
     * exactly those verify would have made in its place for the same buffer and signature.
     * Optional: needed by mechanisms whose verify leaves NOTE_LATER notes. */
    void (*explain)(const void *st, const char *later, mssipae_dir dir, const uint8_t *buf,
                    size_t buflen, const uint8_t *sig, size_t siglen, note_list *notes);
} mech_ops;

extern const mech_ops mech_ntlm_ops;     /* verify/mech_ntlm.c */
extern const mech_ops mech_kerberos_ops; /* verify/mech_kerberos.c */
extern const mech_ops mech_tlsdsk_ops;   /* verify/mech_tlsdsk.c */

/* The mechanism for a scheme token (case-insensitive), or NULL (Digest, unknown schemes). */
const mech_ops *mech_find(const char *scheme);

/* The table itself: mech_at(i) for i < MECH_COUNT, and the index of a row. */
#define MECH_COUNT 3

/* The schemes as on the wire, one row per mechanism in the table's order: each mechanism's
 * ops.scheme points at its row, and mech_find reads these bytes only (one small array, not the
 * ops structs, which tshark evicts between frames). */
enum { MECH_SCHEME_NTLM, MECH_SCHEME_KERBEROS, MECH_SCHEME_TLSDSK };
extern const char mech_schemes[MECH_COUNT][10];
const mech_ops *mech_at(size_t i);
size_t mech_index(const mech_ops *mech);

#endif
