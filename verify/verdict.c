/* verdict.c - verdicts and notes. */
#include "verify/verdict.h"

#include <string.h>
#include <stdarg.h>
#include <stdint.h>

static void note_clear(gpointer p)
{
    mssipae_note *n = p;
    if (!n->borrowed)
        g_free(n->text);
}

note_list *note_list_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(mssipae_note));
    g_array_set_clear_func(a, note_clear);
    return a;
}

void note_list_free(note_list *l)
{
    if (l)
        g_array_free(l, TRUE);
}

void note_add(note_list *l, note_kind kind, note_sev sev, const char *fmt, ...)
{
    if (!l)
        return;
    va_list ap;
    va_start(ap, fmt);
    mssipae_note n = { .text = g_strdup_vprintf(fmt, ap), .kind = kind, .sev = sev,
                        .fact = FACT_NONE };
    va_end(ap);
    g_array_append_val(l, n);
}

void note_add_text(note_list *l, note_kind kind, note_sev sev, const char *text)
{
    if (!l)
        return;
    mssipae_note n = { .text = g_strdup(text), .kind = kind, .sev = sev, .fact = FACT_NONE };
    g_array_append_val(l, n);
}

void note_fact_add_static(note_list *l, note_fact f, const char *text)
{
    if (!l)
        return;
    mssipae_note n = note_fact_borrowed(f, text);
    g_array_append_val(l, n);
}

void note_list_append(note_list *l, const mssipae_note *notes, guint n)
{
    if (l && n)
        g_array_append_vals(l, notes, n);
}

void note_fact_add(note_list *l, note_fact f, const char *fmt, ...)
{
    if (!l)
        return;
    va_list ap;
    va_start(ap, fmt);
    mssipae_note n = { .text = g_strdup_vprintf(fmt, ap), .kind = NOTE_FACT, .sev = NOTE_SEV_CHAT,
                        .fact = f };
    va_end(ap);
    g_array_append_val(l, n);
}

void note_fact_add_text(note_list *l, note_fact f, const char *text)
{
    if (!l)
        return;
    mssipae_note n = { .text = g_strdup(text), .kind = NOTE_FACT, .sev = NOTE_SEV_CHAT, .fact = f };
    g_array_append_val(l, n);
}

sig_verdict verdict_make(sig_status st, const char *fmt, ...)
{
    sig_verdict v = { st, NULL };
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        v.why = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    return v;
}

static __thread int borrow_depth;

void verdict_borrow_begin(void)
{
    borrow_depth++;
}

void verdict_borrow_end(void)
{
    if (borrow_depth > 0)
        borrow_depth--;
}

sig_verdict verdict_copy(sig_status st, const char *why)
{
    sig_verdict v = { st, NULL };
    if (borrow_depth && why) {
        v.why = (char *)why;
        v.why_borrowed = 1;
    } else {
        v.why = g_strdup(why);
    }
    return v;
}

char *verdict_seq_put(char *p, uint64_t seq)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '0';
    *p++ = 'x';
    for (size_t i = seq > G_MAXUINT32 ? 16 : 8; i-- > 0;)
        *p++ = hex[(seq >> (4 * i)) & 15];
    return p;
}

char *verdict_seq_text(const char *prefix, uint64_t seq)
{
    size_t pl = strlen(prefix);
    char *out = g_malloc(pl + VERDICT_SEQ_MAX + 1);
    memcpy(out, prefix, pl);
    *verdict_seq_put(out + pl, seq) = '\0';
    return out;
}

sig_verdict verdict_seq(sig_status st, const char *prefix, uint64_t seq)
{
    sig_verdict v = { st, NULL };
    if (borrow_depth) {
        v.why = (char *)prefix;
        v.why_borrowed = 1;
        v.why_has_seq = 1;
        v.why_seq = seq;
    } else {
        v.why = verdict_seq_text(prefix, seq);
    }
    return v;
}

void verdict_own(sig_verdict *v)
{
    if (v->why_borrowed) {
        v->why = v->why_has_seq ? verdict_seq_text(v->why, v->why_seq) : g_strdup(v->why);
        v->why_borrowed = 0;
        v->why_has_seq = 0;
    }
}

void verdict_set_why(sig_verdict *v, char *why)
{
    if (!v->why_borrowed)
        g_free(v->why);
    v->why = why;
    v->why_borrowed = 0;
    v->why_has_seq = 0;
}

void verdict_clear(sig_verdict *v)
{
    if (!v->why_borrowed)
        g_free(v->why);
    v->why = NULL;
    v->why_borrowed = 0;
    v->why_has_seq = 0;
    v->status = SIG_NONE;
}

const char *sig_status_name(sig_status st)
{
    switch (st) {
    case SIG_VALID: return "valid";
    case SIG_INVALID: return "invalid";
    case SIG_NO_KEY: return "no key";
    case SIG_NO_SA: return "no SA";
    case SIG_UNSUPPORTED: return "unsupported";
    case SIG_MALFORMED: return "malformed";
    default: return "unsigned";
    }
}

int ct_memeq(const void *a, const void *b, size_t n)
{
    /* eight bytes at a time, then the rest; no early exit */
    const uint8_t *x = a, *y = b;
    uint64_t d = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        d |= u ^ v;
    }
    for (; i < n; i++)
        d |= (uint64_t)(x[i] ^ y[i]);
    return d == 0;
}
