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

/* 1 with *frame when num was recorded. */
static int seq_first(const sa_seq *q, uint32_t num, uint32_t *frame)
{
    if (num >= 1 && num - 1 < q->n_dense && q->dense[num - 1]) {
        *frame = q->dense[num - 1];
        return 1;
    }
    gpointer v = q->sparse ? g_hash_table_lookup(q->sparse, GUINT_TO_POINTER(num)) : NULL;
    if (!v)
        return 0;
    *frame = GPOINTER_TO_UINT(v) - 1;
    return 1;
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
                uint32_t n = MAX(16u, q->n_dense);
                while (n <= num - 1)
                    n *= 2;
                q->dense = g_renew(uint32_t, q->dense, n);
                memset(q->dense + q->n_dense, 0, (size_t)(n - q->n_dense) * sizeof *q->dense);
                q->n_dense = n;
            }
            q->dense[num - 1] = frame;
        } else if (frame != G_MAXUINT32) {
            if (!q->sparse)
                q->sparse = g_hash_table_new(g_direct_hash, g_direct_equal);
            g_hash_table_insert(q->sparse, GUINT_TO_POINTER(num), GUINT_TO_POINTER(frame + 1));
        }
    }
    if (num > q->last)
        q->last = num;
}
