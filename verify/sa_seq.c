/* sa_seq.c - cnum / snum bookkeeping (see sa_seq.h). */
#include "verify/sa_seq.h"

void sa_seq_init(sa_seq *q)
{
    q->first = g_hash_table_new(g_direct_hash, g_direct_equal);
    q->last = 0;
}

void sa_seq_clear(sa_seq *q)
{
    if (q->first)
        g_hash_table_destroy(q->first);
    q->first = NULL;
    q->last = 0;
}

void sa_seq_check(const sa_seq *q, uint32_t num, const char *label, uint32_t sa_id,
                  note_list *notes)
{
    gpointer first = g_hash_table_lookup(q->first, GUINT_TO_POINTER(num));
    if (first)
        note_add(notes, NOTE_SEQ, NOTE_SEV_NOTE, "%s %u repeated on SA %u (first seen in frame %u)",
                 label, num, sa_id, GPOINTER_TO_UINT(first));
    else if (q->last && num > q->last + 1)
        note_add(notes, NOTE_SEQ, NOTE_SEV_CHAT, "%s jumps from %u to %u on SA %u", label,
                 q->last, num, sa_id);
    else if (q->last && num < q->last)
        note_add(notes, NOTE_SEQ, NOTE_SEV_CHAT, "%s goes back from %u to %u on SA %u", label,
                 q->last, num, sa_id);
}

void sa_seq_commit(sa_seq *q, uint32_t num, uint32_t frame)
{
    if (!g_hash_table_contains(q->first, GUINT_TO_POINTER(num)))
        g_hash_table_insert(q->first, GUINT_TO_POINTER(num), GUINT_TO_POINTER(frame));
    if (num > q->last)
        q->last = num;
}
