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

/* Bytes before the window's entries in q->dense: the hash's pointer, when there is one. */
static inline size_t hdr_size(const sa_seq *q)
{
    return q->has_sparse ? sizeof(GHashTable *) : 0;
}

static inline GHashTable *sparse_of(const sa_seq *q)
{
    return q->has_sparse ? *(GHashTable *const *)q->dense : NULL;
}

static inline void *entries(const sa_seq *q)
{
    return (char *)q->dense + hdr_size(q);
}

void sa_seq_clear(sa_seq *q)
{
    GHashTable *sparse = sparse_of(q);
    if (sparse)
        g_hash_table_destroy(sparse);
    g_free(q->dense);
    memset(q, 0, sizeof *q);
}

/* The frame of dense entry i, 0 when not recorded. */
static inline uint32_t dense_get(const sa_seq *q, uint32_t i)
{
    if (q->wide)
        return ((const uint32_t *)entries(q))[i];
    uint16_t v = ((const uint16_t *)entries(q))[i];
    return v ? q->base + v - 1u : 0;
}

/* 1 with *frame when num was recorded. */
static inline int seq_first(const sa_seq *q, uint32_t num, uint32_t *frame)
{
    uint32_t f;
    if (num >= 1 && num - 1 < q->n_dense && (f = dense_get(q, num - 1)) != 0) {
        *frame = f;
        return 1;
    }
    GHashTable *sparse = sparse_of(q);
    gpointer v = sparse ? g_hash_table_lookup(sparse, GUINT_TO_POINTER(num)) : NULL;
    if (!v)
        return 0;
    *frame = GPOINTER_TO_UINT(v) - 1;
    return 1;
}

/* Makes the window hold uint32_t frames. */
static void widen(sa_seq *q)
{
    size_t h = hdr_size(q);
    char *nd = g_malloc0(h + (size_t)MAX(q->n_dense, 1u) * sizeof(uint32_t));
    memcpy(nd, q->dense, h);
    uint32_t *w = (uint32_t *)(void *)(nd + h);
    for (uint32_t i = 0; i < q->n_dense; i++)
        w[i] = dense_get(q, i);
    g_free(q->dense);
    q->dense = nd;
    q->wide = 1;
}

/* Records frame (not 0) for dense entry i (< n_dense). */
static void dense_put(sa_seq *q, uint32_t i, uint32_t frame)
{
    if (!q->wide) {
        int empty = q->last == 0 && !q->has_sparse;
        for (uint32_t j = 0; empty && j < q->n_dense; j++)
            empty = ((const uint16_t *)entries(q))[j] == 0;
        if (empty)
            q->base = frame;
        if (frame >= q->base && frame - q->base < 0xffffu) {
            ((uint16_t *)entries(q))[i] = (uint16_t)(frame - q->base + 1);
            return;
        }
        widen(q);
    }
    ((uint32_t *)entries(q))[i] = frame;
}

/* The hash, made on first use at the start of q->dense. */
static GHashTable *sparse_get(sa_seq *q)
{
    if (!q->has_sparse) {
        size_t es = q->wide ? sizeof(uint32_t) : sizeof(uint16_t);
        size_t n = (size_t)q->n_dense * es;
        char *nd = g_malloc(sizeof(GHashTable *) + n);
        if (n)
            memcpy(nd + sizeof(GHashTable *), q->dense, n);
        GHashTable *h = g_hash_table_new(g_direct_hash, g_direct_equal);
        memcpy(nd, &h, sizeof h);
        g_free(q->dense);
        q->dense = nd;
        q->has_sparse = 1;
    }
    return sparse_of(q);
}

/* The usual number: the one after the last, not recorded yet, no hash: nothing to note. The
 * rest (and every note) in check_slow. */
static inline int seq_is_next(const sa_seq *q, uint32_t num)
{
    return !q->has_sparse && q->last && q->last != G_MAXUINT32 && num == q->last + 1 &&
           (num - 1 >= q->n_dense ||
            (!q->wide && ((const uint16_t *)q->dense)[num - 1] == 0));
}

static __attribute__((noinline)) void check_slow(const sa_seq *q, uint32_t num, const char *label,
                                                 uint32_t sa_id, note_list *notes)
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

void sa_seq_check(const sa_seq *q, uint32_t num, const char *label, uint32_t sa_id,
                  note_list *notes)
{
    if (!seq_is_next(q, num))
        check_slow(q, num, label, sa_id, notes);
}

static __attribute__((noinline)) void commit_slow(sa_seq *q, uint32_t num, uint32_t frame)
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
                size_t h = hdr_size(q);
                q->dense = g_realloc(q->dense, h + (size_t)n * es);
                memset((char *)q->dense + h + (size_t)q->n_dense * es, 0,
                       (size_t)(n - q->n_dense) * es);
                q->n_dense = n;
            }
            dense_put(q, num - 1, frame);
        } else if (frame != G_MAXUINT32) {
            g_hash_table_insert(sparse_get(q), GUINT_TO_POINTER(num), GUINT_TO_POINTER(frame + 1));
        }
    }
    if (num > q->last)
        q->last = num;
}

void sa_seq_commit(sa_seq *q, uint32_t num, uint32_t frame)
{
    /* the usual number: inside the narrow window (no hash, a window already in use: its base
     * is set), its frame within reach of the base; recorded unless it was already */
    if (!q->wide && !q->has_sparse && q->last && num >= 1 && num - 1 < q->n_dense && frame &&
        frame >= q->base && frame - q->base < 0xffffu) {
        uint16_t *e = (uint16_t *)q->dense + (num - 1);
        if (!*e)
            *e = (uint16_t)(frame - q->base + 1);
        if (num > q->last)
            q->last = num;
        return;
    }
    commit_slow(q, num, frame);
}
