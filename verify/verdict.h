/* verdict.h - the outcome of one signature check, and the notes (expert infos) the core emits.
 *
 * A verdict is an enum with a reason, never a bool (K's two channels): VALID only when a
 * recomputed signature matched, INVALID only when a key we trust says so; every other outcome
 * says why no verdict could be reached.
 */
#ifndef MSSIPAE_VERDICT_H
#define MSSIPAE_VERDICT_H

#include <glib.h>
#include <stdint.h>

/* Values are the interface contract of the field mssipae.sig.status. */
typedef enum {
    SIG_NONE        = 0, /* header carries no signature (not shown) */
    SIG_VALID       = 1,
    SIG_INVALID     = 2,
    SIG_NO_KEY      = 3,
    SIG_NO_SA       = 4,
    SIG_UNSUPPORTED = 5,
    SIG_MALFORMED   = 6,
} sig_status;

/* Who sent a token or a signature, named from the observer's side. */
typedef enum {
    DIR_C2S = 0, /* client -> server: Authorization / Proxy-Authorization, response= */
    DIR_S2C = 1, /* server -> client: Authentication-Info / Proxy-Authentication-Info, rspauth= */
} mssipae_dir;

/* What a note is about; the glue maps each kind to one expert field. */
typedef enum {
    NOTE_MALFORMED = 0,  /* a header, parameter or token could not be parsed */
    NOTE_NO_SA,          /* a signature whose SA is unknown */
    NOTE_UNSIGNED,       /* a message that should have been signed on its SA is not */
    NOTE_SEQ,            /* cnum/snum duplicate or jump (information only) */
    NOTE_NO_KEY,         /* a key was looked up and not found, or a password did not match */
    NOTE_INVALID,        /* a signature did not verify */
    NOTE_TOKEN,          /* facts about a handshake token (user, principal, enctype, flags) */
    NOTE_UNSUPPORTED,    /* a case the verifier does not handle */
    NOTE_CONFIG,         /* a key source (keytab, key log, password table) is unusable */
    NOTE_BIND,           /* how an auth header was bound to its SA, when not the plain way */
    NOTE_FACT,           /* a named fact about the SA (note.fact says which), shown by the glue as
                            a field, not as an expert info; added with note_fact_add */
    NOTE_KINDS,
    /* Not an expert info: a diagnostic left to be made when shown (mech.h: verify's later,
     * explain). Its text names what to check, for the mechanism only; readers that show notes
     * skip it (it is not below NOTE_KINDS), sa_tracker_expand replaces it. */
    NOTE_LATER
} note_kind;

/* Which fact a NOTE_FACT note carries (the glue maps each to one field). Values are stored with
 * the first-pass result, so every pass renders the same facts. */
typedef enum {
    FACT_NONE = 0,
    FACT_TLS_VERSION,     /* "TLS 1.2 (0x0303)" */
    FACT_TLS_SUITE,       /* "TLS_RSA_WITH_AES_128_CBC_SHA (0x002f)" */
    FACT_TLS_EMS,         /* "yes" / "no" (RFC 7627 extended master secret negotiated) */
    FACT_TLS_SERVER_CERT, /* server certificate subject DN */
    FACT_TLS_SERVER_THUMB,/* SHA-1 thumbprint of the server certificate, upper-case hex */
    FACT_TLS_CLIENT_CERT, /* client certificate subject DN */
    FACT_TLS_SECRET_SRC,  /* where the master secret (or the keys) came from */
    FACT_KINDS
} note_fact;

typedef enum { NOTE_SEV_CHAT = 0, NOTE_SEV_NOTE, NOTE_SEV_WARN, NOTE_SEV_ERROR } note_sev;

/* 16 bytes (the lists kept for a whole capture hold one per note): the text, then the three
 * small enums packed. Build one with designated initializers. */
typedef struct {
    char *text; /* g_malloc'd, owned by the note list (unless borrowed) */
    note_kind kind : 8;
    note_sev sev : 8;
    note_fact fact : 8; /* NOTE_FACT only: which fact text is; FACT_NONE otherwise */
    unsigned borrowed : 1; /* text is not the list's (note_fact_add_static): never freed */
} mssipae_note;

G_STATIC_ASSERT(sizeof(mssipae_note) == 16 || sizeof(void *) != 8);
G_STATIC_ASSERT(NOTE_KINDS <= 255 && FACT_KINDS <= 255);

/* A growable list of notes; GArray of mssipae_note. */
typedef GArray note_list;

note_list *note_list_new(void);
void note_list_free(note_list *l);
/* Appends a printf-formatted note. l may be NULL (the note is dropped). */
void note_add(note_list *l, note_kind kind, note_sev sev, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* Appends a note whose text is a copy of text (no formatting). l may be NULL. */
void note_add_text(note_list *l, note_kind kind, note_sev sev, const char *text);

/* note_fact_add with text copied as it is (no formatting). l may be NULL. */
void note_fact_add_text(note_list *l, note_fact f, const char *text);

/* A NOTE_FACT note whose text is borrowed (see note_fact_add_static), for a caller that appends
 * several at once (note_list_append). */
static inline mssipae_note note_fact_borrowed(note_fact f, const char *text)
{
    return (mssipae_note){ .text = (char *)text, .kind = NOTE_FACT, .sev = NOTE_SEV_CHAT,
                           .fact = f, .borrowed = 1 };
}

/* note_fact_add_text without a copy: text is borrowed, and must stay valid and unchanged until
 * the tracker's SA table is freed (a literal, or a text owned by an SA or by the capture's
 * mechanism state): the result store keeps the pointer itself (results.c, keep_notes), not a
 * copy. Readers see the same note; it costs no allocation (a mechanism's facts, on every
 * header). l may be NULL. */
void note_fact_add_static(note_list *l, note_fact f, const char *text);

/* Appends n notes as they are, in one step (each text the list's own, g_malloc'd, or
 * borrowed as note_fact_add_static says). l may be NULL (nothing is taken: borrowed texts
 * only, then). */
void note_list_append(note_list *l, const mssipae_note *notes, guint n);

/* Appends a NOTE_FACT note (severity chat) naming fact f. l may be NULL. */
void note_fact_add(note_list *l, note_fact f, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The result of one check. why is g_malloc'd text (never NULL for status other than VALID;
 * may be NULL for VALID) naming what was tried or missing; the owner frees it. Only inside
 * verdict_borrow_begin/end (the tracker) may it be borrowed instead (why_borrowed, see
 * verdict_copy): verdict_clear knows, verdict_own makes it a copy. */
typedef struct {
    sig_status status;
    char *why;
    /* A mechanism sequence number the checksum does NOT protect (RFC 4757 SND_SEQ is encrypted,
     * not checksummed): given with a VALID verdict so the tracker can note it and watch it per
     * SA direction. */
    int has_unprotected_seq;
    uint64_t unprotected_seq;
    int why_borrowed;     /* why is not the verdict's (verdict_copy): never free it */
    /* With why_borrowed only (verdict_seq): the reason is why followed by "0x" and why_seq in
     * hex, 8 digits (16 when it does not fit 32 bits), kept apart so that the tracker stores
     * the number instead of formatting a text per message. verdict_own formats it. */
    int why_has_seq;
    uint64_t why_seq;
} sig_verdict;

/* Builds a verdict with a formatted reason. */
sig_verdict verdict_make(sig_status st, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void verdict_clear(sig_verdict *v);
/* A verdict whose reason is a copy of why (may be NULL): for reasons kept per SA, which cost no
 * printf per message. Between verdict_borrow_begin and verdict_borrow_end the reason is why
 * itself, borrowed (no allocation): why must then stay valid until the mechanism's next call
 * for the same SA, and the caller that began borrowing copies it before that. */
sig_verdict verdict_copy(sig_status st, const char *why);
/* A verdict whose reason is prefix followed by "0x" and seq in lower-case hex, 8 digits, or 16
 * when seq does not fit 32 bits (printf "0x%08x" or "0x%08x%08x" of its halves): Kerberos
 * names each message's SND_SEQ after a text kept per SA. Inside verdict_borrow_begin/end
 * prefix is borrowed as verdict_copy says and the number kept apart (why_has_seq); outside, the
 * text is formatted. */
sig_verdict verdict_seq(sig_status st, const char *prefix, uint64_t seq);
/* The text of prefix and seq as verdict_seq says, g_malloc'd. */
char *verdict_seq_text(const char *prefix, uint64_t seq);
/* Writes verdict_seq's number ("0x" and 8 or 16 hex digits, at most VERDICT_SEQ_MAX bytes, no
 * NUL) at p; returns the end. */
#define VERDICT_SEQ_MAX 18
char *verdict_seq_put(char *p, uint64_t seq);
/* Brackets mechanism calls whose verdicts the caller is ready to receive borrowed (nests;
 * per thread). Callers of a mechanism outside such a bracket always get owned reasons. */
void verdict_borrow_begin(void);
void verdict_borrow_end(void);
/* Makes a borrowed reason the verdict's own (a copy); nothing when it already is. */
void verdict_own(sig_verdict *v);
/* Replaces the reason by owned text why (g_malloc'd, may be NULL), freeing the old one when it
 * was the verdict's. */
void verdict_set_why(sig_verdict *v, char *why);

/* Short name of a status ("valid", "invalid", "no key", "no SA", "unsupported", "malformed"). */
const char *sig_status_name(sig_status st);

/* Constant-time comparison of n bytes; returns 1 when equal. */
int ct_memeq(const void *a, const void *b, size_t n);

/* secure_wipe(): the one wipe for every secret, defined in keytab/secure.c (the lowest layer
 * holding secrets) and re-exported here for the mechanisms. */
#include "keytab/secure.h"

#endif
