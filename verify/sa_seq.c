/* sa_seq.c - cnum / snum bookkeeping (see sa_seq.h). */
#include "verify/sa_seq.h"

#include <string.h>

/* How far beyond its end the dense window grows for one number (a larger jump goes to the
 * hash: a forged cnum of 4,000,000,000 costs one hash entry, not 16 GB). */
#define SEQ_DENSE_SLACK 4096u

void sa_seq_init(sa_seq *q)
{
    memset(q, 0, sizeof *q);
}

void sa_seq_clear(sa_seq *q)
{
    g_free(q->dense);
    if (q->sparse)
        g_hash_table_destroy(q->sparse);
    memset(q, 0, sizeof *q);
}

/* The frame of dense entry i, 0 when not recorded. */
static inline uint32_t dense_get(const sa_seq *q, uint32_t i)
{
    if (q->wide)
        return ((const uint32_t *)q->dense)[i];
    uint16_t v = ((const uint16_t *)q->dense)[i];
    return v ? q->base + v - 1u : 0;
}

/* 1 with *frame when num was recorded. */
static int seq_first(const sa_seq *q, uint32_t num, uint32_t *frame)
{
    uint32_t f;
    if (num >= 1 && num - 1 < q->n_dense && (f = dense_get(q, num - 1)) != 0) {
        *frame = f;
        return 1;
    }
    gpointer v = q->sparse ? g_hash_table_lookup(q->sparse, GUINT_TO_POINTER(num)) : NULL;
    if (!v)
        return 0;
    *frame = GPOINTER_TO_UINT(v) - 1;
    return 1;
}

/* Makes the window hold uint32_t frames. */
static void widen(sa_seq *q)
{
    uint32_t *w = g_new0(uint32_t, MAX(q->n_dense, 1u));
    for (uint32_t i = 0; i < q->n_dense; i++)
        w[i] = dense_get(q, i);
    g_free(q->dense);
    q->dense = w;
    q->wide = 1;
}

/* Records frame (not 0) for dense entry i (< n_dense). */
static void dense_put(sa_seq *q, uint32_t i, uint32_t frame)
{
    if (!q->wide) {
        int empty = q->last == 0 && !q->sparse;
        for (uint32_t j = 0; empty && j < q->n_dense; j++)
            empty = ((const uint16_t *)q->dense)[j] == 0;
        if (empty)
            q->base = frame;
        if (frame >= q->base && frame - q->base < 0xffffu) {
            ((uint16_t *)q->dense)[i] = (uint16_t)(frame - q->base + 1);
            return;
        }
        widen(q);
    }
    ((uint32_t *)q->dense)[i] = frame;
}

void sa_seq_check(const sa_seq *q, uint32_t num, const char *label, uint32_t sa_id,
                  note_list *notes)
{
    uint32_t first;
    if (seq_first(q, num, &first))
        note_add(notes, NOTE_SEQ, NOTE_SEV_NOTE, "%s %u repeated on SA %u (first seen in frame %u)",
                 label, num, sa_id, first);
    else if (q->last && num > q->last + 1)
        note_add(notes, NOTE_SEQ, NOTE_SEV_CHAT, "%s jumps from %u to %u on SA %u", label,
                 q->last, num, sa_id);
    else if (q->last && num < q->last)
        note_add(notes, NOTE_SEQ, NOTE_SEV_CHAT, "%s goes back from %u to %u on SA %u", label,
                 q->last, num, sa_id);
}

void sa_seq_commit(sa_seq *q, uint32_t num, uint32_t frame)
{
    uint32_t seen;
    if (!seq_first(q, num, &seen)) {
        if (num >= 1 && frame != 0 && num - 1 < q->n_dense + SEQ_DENSE_SLACK) {
            if (num - 1 >= q->n_dense) {
                /* grow by a quarter, at least to num, in steps of 4 entries (the window stays
                   close to the counters' reach: an SA of 25 numbers a direction holds 28, not
                   32), from 16 entries */
                uint64_t want = q->n_dense ? (uint64_t)q->n_dense + q->n_dense / 4 : 16u;
                if (want < num)
                    want = num;
                want = (want + 3u) & ~(uint64_t)3u;
                uint32_t n = want > G_MAXUINT32 ? num : (uint32_t)want;
                size_t es = q->wide ? sizeof(uint32_t) : sizeof(uint16_t);
                q->dense = g_realloc(q->dense, n * es);
                memset((char *)q->dense + q->n_dense * es, 0, (size_t)(n - q->n_dense) * es);
                q->n_dense = n;
            }
            dense_put(q, num - 1, frame);
        } else if (frame != G_MAXUINT32) {
            if (!q->sparse)
                q->sparse = g_hash_table_new(g_direct_hash, g_direct_equal);
            g_hash_table_insert(q->sparse, GUINT_TO_POINTER(num), GUINT_TO_POINTER(frame + 1));
        }
    }
    if (num > q->last)
        q->last = num;
}
