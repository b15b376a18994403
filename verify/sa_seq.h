/* sa_seq.h - cnum / snum bookkeeping of one SA direction ([MS-SIPAE] 3.2.5.2, 3.3.5.3;
 * ms-sipae.md 5.3).
 *
 * Counters start at 1 and count the signed messages of a direction; clients and servers do not
 * check their order (parallel transactions, re-signed requests after a 401), so anomalies are
 * information (NOTE_SEQ), never failures. Checking and recording are separate steps: the tracker
 * records a number only for a message whose signature verified (or, without keys, for every
 * message, following the protocol flow), so a forged message cannot change what later messages
 * are told.
 */
#ifndef MSSIPAE_SA_SEQ_H
#define MSSIPAE_SA_SEQ_H

#include <glib.h>
#include <stdint.h>

#include "verify/verdict.h"

/* Where each recorded number was first seen, kept per SA direction: a dense window of frame
 * numbers indexed by number - 1 (counters start at 1 and grow by one), and a hash only for
 * numbers far beyond it (a jump) or seen in frame 0. The window holds 2 bytes a number (the
 * frame's distance from base, the first frame recorded, plus 1) while every frame fits, else 4
 * (the frame itself). Nothing is allocated before the first number. 24 bytes: the hash, rare,
 * is named at the start of the window's allocation (has_sparse). */
typedef struct {
    void *dense;        /* [GHashTable *sparse, when has_sparse] then uint16_t (narrow) or
                           uint32_t (wide) per number n at [n - 1]: 0 = not recorded. The hash
                           maps number -> frame + 1 (GUINT_TO_POINTER) for the rest */
    uint32_t n_dense;   /* entries of the window */
    uint32_t last;      /* highest number recorded, 0 for none */
    uint32_t base;      /* narrow: frame of entry value 1 */
    uint8_t wide;       /* 1 when the window holds uint32_t frames */
    uint8_t has_sparse; /* 1 when dense begins with the hash */
} sa_seq;

void sa_seq_init(sa_seq *q);
void sa_seq_clear(sa_seq *q);

/* Adds the notes num deserves given what was recorded so far (repeated, jumps, goes back);
 * label is "cnum" or "snum"; changes nothing. */
void sa_seq_check(const sa_seq *q, uint32_t num, const char *label, uint32_t sa_id,
                  note_list *notes);

/* Records num, seen in frame. */
void sa_seq_commit(sa_seq *q, uint32_t num, uint32_t frame);

#endif
