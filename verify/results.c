/* results.c - per-message results, the records kept of them, and re-creating a full result
 * from a record and the message bytes (see results.h). */
#include "verify/results.h"

#include <string.h>

#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "verify/ahdr.h"

G_STATIC_ASSERT(sizeof(auth_rec) == 16);

/* The reason area: blocks of this size that never move, named by why_ref (block << AREA_SHIFT
 * | offset / 8); an object larger than a block gets a block of its own. Interned texts sit
 * after their own reference (interned_obj), so a reason given as text (a hint) names itself. */
#define AREA_BLOCK (16 * 1024)
#define AREA_SHIFT 11 /* log2(AREA_BLOCK / 8) */
#define AREA_MAX_BLOCKS (1u << (32 - AREA_SHIFT))
G_STATIC_ASSERT(AREA_BLOCK / 8 == 1u << AREA_SHIFT);

typedef struct {
    why_ref self;
    char text[];
} interned_obj;

/* Records are never freed one by one: they are carved from blocks of this size. */
#define ARENA_BLOCK (64 * 1024)

/* How many reasons interned last a new reason is compared with (keep_why). */
#define WHY_RECENT 4

struct result_store {
    GPtrArray *blocks;   /* arena blocks (g_malloc'd) */
    char *cur;           /* the newest block (NULL before the first) */
    size_t used;         /* bytes used in it */
    GPtrArray *area;     /* reason area blocks (g_malloc'd): interned texts, why_splits */
    size_t area_used;    /* bytes used in the newest area block */
    GHashTable *why;     /* interned texts (in the area): text -> itself */
    GHashTable *lists;   /* the note lists kept for records, by content (list_hash): equal
                            lists are one. Each is owned through its list record (list_rec, in
                            the area; the set's keys): a compact copy whose texts are interned
                            in why */
    note_list *probe;    /* a list being kept (texts interned or borrowed), looked up in lists */
    const note_list *last_list; /* the list whose record keep_single found last, */
    why_ref last_single; /* and that record's reference */
    GHashTable *extras;  /* msg_rec_extra (in the area) made only of shared lists, by content,
                            -> its why_ref: messages whose notes are all their SA's usual ones
                            share one */
    msg_rec *empty;      /* shared record of messages without MS-SIPAE headers or notes (its own
                            allocation: msg_rec ends in a flexible array, so it cannot sit inside
                            this struct) */
    const char *recent[WHY_RECENT]; /* the reasons interned last (keep_why), a ring: a new
                            reason of another SA is kept as a why_split of one of them */
    uint32_t recent_len[WHY_RECENT];
    guint recent_next;
};

/* auth_result_clear, inline in result_reset (every header of every message). */
static inline void clear_reused(auth_result *a)
{
    note_list *notes = a->notes;
    char *strings = a->strings;
    size_t strings_cap = a->strings_cap;
    if (a->name != a->name_buf)
        g_free(a->name);
    if (strings_cap == 0)
        g_free(a->strings); /* not the reused arena */
    if (a->sig != a->sig_store)
        g_free(a->sig);
    if (a->gss)
        g_free(a->gss);
    if (!a->sigbuf_store || a->sigbuf != a->sigbuf_store->str)
        g_free(a->sigbuf);
    if (a->why != a->why_store && a->why && !a->why_borrowed)
        g_free(a->why);
    if (a->other_params)
        g_ptr_array_free(a->other_params, TRUE);
    /* all but the reused storage (strings_cap on, which stays as it is) */
    memset(a, 0, offsetof(auth_result, strings_cap));
    if (notes && notes->len)
        g_array_set_size(notes, 0); /* frees the texts */
    a->notes = notes;
    if (strings_cap)
        a->strings = strings;
}

void auth_result_clear(auth_result *a)
{
    clear_reused(a);
}

void auth_result_free(gpointer p)
{
    auth_result *a = p;
    if (!a)
        return;
    auth_result_clear(a);
    note_list_free(a->notes);
    g_free(a->strings);
    if (a->params_store)
        g_array_free(a->params_store, TRUE);
    g_free(a->sig_store);
    if (a->sigbuf_store)
        g_string_free(a->sigbuf_store, TRUE);
    g_free(a->why_store);
    g_free(a);
}

void auth_result_set_why(auth_result *a, char *why)
{
    if (a->why != a->why_store && !a->why_borrowed)
        g_free(a->why);
    a->why = why;
    a->why_len = 0;
    a->why_borrowed = 0;
    a->why_has_seq = 0;
}

void auth_result_take_why(auth_result *a, sig_verdict *v)
{
    auth_result_set_why(a, v->why);
    if (v->why_borrowed && v->why) { /* kept as lent: result_keep reads it before the
                                        mechanism's next call, with its length known */
        a->why_len = strlen(v->why);
        a->why_borrowed = 1;
        a->why_has_seq = v->why_has_seq;
        a->why_seq = v->why_seq;
    }
    v->why = NULL;
    v->why_borrowed = 0;
    v->why_has_seq = 0;
}

void auth_result_own_why(auth_result *a)
{
    if (!a->why_borrowed)
        return;
    char *t = a->why_has_seq ? verdict_seq_text(a->why, a->why_seq) : NULL;
    const char *src = t ? t : a->why;
    size_t n = strlen(src);
    if (a->why_cap < n + 1) {
        g_free(a->why_store);
        a->why_cap = MAX(n + 1, (size_t)128);
        a->why_store = g_malloc(a->why_cap);
    }
    memcpy(a->why_store, src, n + 1);
    g_free(t);
    a->why = a->why_store;
    a->why_len = n;
    a->why_borrowed = 0;
    a->why_has_seq = 0;
}

GString *auth_result_sigbuf_store(auth_result *a)
{
    if (!a->sigbuf_store)
        a->sigbuf_store = g_string_sized_new(384);
    return a->sigbuf_store;
}

void msg_result_free(msg_result *r)
{
    if (!r)
        return;
    if (r->spare)
        g_ptr_array_free(r->spare, TRUE);
    if (r->auths)
        g_ptr_array_free(r->auths, TRUE);
    note_list_free(r->notes);
    g_free(r);
}

/* A kept note list's record in the area: the msg_rec_extra of a message whose only notes are
 * this list, on its one auth header (the usual TLS-DSK or Kerberos message: its SA's facts),
 * with its own reference in list_ref. rs->lists is the set of these records, by their list's
 * content: every kept list is found by content and yields the extra its messages share. */
#define LIST_REC_SIZE (sizeof(msg_rec_extra) + sizeof(note_list *))

/* The list of record x (a msg_rec_extra of one auth header). */
static inline const note_list *list_rec_list(const msg_rec_extra *x)
{
    return x->auth_notes[0];
}

/* The reference of record x. */
static inline why_ref list_rec_ref(const msg_rec_extra *x)
{
    return x->list_ref;
}

/* Kept note lists by content: their texts are interned, so equal texts are equal pointers. */
static guint list_hash(gconstpointer p)
{
    const note_list *l = list_rec_list(p);
    guint64 h = l->len;
    for (guint i = 0; i < l->len; i++) {
        const mssipae_note *n = &g_array_index(l, mssipae_note, i);
        h = (h ^ (guint64)(uintptr_t)n->text ^ ((guint64)n->kind << 48 | (guint64)n->sev << 40 |
                                                (guint64)n->fact << 32)) * 0x100000001B3ull;
    }
    return (guint)(h ^ (h >> 32));
}

static gboolean list_equal(gconstpointer a, gconstpointer b)
{
    const note_list *x = list_rec_list(a), *y = list_rec_list(b);
    if (x->len != y->len)
        return FALSE;
    for (guint i = 0; i < x->len; i++) {
        const mssipae_note *m = &g_array_index(x, mssipae_note, i);
        const mssipae_note *n = &g_array_index(y, mssipae_note, i);
        if (m->text != n->text || m->kind != n->kind || m->sev != n->sev || m->fact != n->fact)
            return FALSE;
    }
    return TRUE;
}

static guint extra_hash(gconstpointer k)
{
    const msg_rec_extra *x = k;
    guint64 h = x->n_auths * 0x9E3779B97F4A7C15ull ^ (guint64)(uintptr_t)x->notes ^
                ((guint64)x->unsigned_sa << 8 | x->unsigned_dir);
    for (guint i = 0; i < x->n_auths; i++)
        h = (h ^ (guint64)(uintptr_t)x->auth_notes[i]) * 0x100000001B3ull;
    return (guint)(h ^ (h >> 32));
}

static gboolean extra_equal(gconstpointer a, gconstpointer b)
{
    const msg_rec_extra *x = a, *y = b;
    if (x->n_auths != y->n_auths || x->notes != y->notes ||
        x->unsigned_sa != y->unsigned_sa || x->unsigned_dir != y->unsigned_dir)
        return FALSE;
    for (guint i = 0; i < x->n_auths; i++)
        if (x->auth_notes[i] != y->auth_notes[i])
            return FALSE;
    return TRUE;
}

result_store *result_store_new(void)
{
    result_store *rs = g_new0(result_store, 1);
    rs->blocks = g_ptr_array_new_with_free_func(g_free);
    rs->used = ARENA_BLOCK;
    rs->area = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(rs->area, g_malloc(AREA_BLOCK));
    rs->area_used = 8; /* reference 0 is none */
    rs->why = g_hash_table_new(g_str_hash, g_str_equal);
    rs->lists = g_hash_table_new(list_hash, list_equal);
    rs->probe = g_array_new(FALSE, FALSE, sizeof(mssipae_note)); /* texts: the store's */
    rs->extras = g_hash_table_new(extra_hash, extra_equal);
    rs->empty = g_malloc0(sizeof *rs->empty);
    rs->empty->bits = MR_PARSED;
    return rs;
}

void result_store_free(result_store *rs)
{
    if (!rs)
        return;
    GHashTableIter it;
    gpointer x;
    g_hash_table_iter_init(&it, rs->lists);
    while (g_hash_table_iter_next(&it, &x, NULL)) /* the records are in the area */
        g_array_free((note_list *)list_rec_list(x), TRUE);
    g_hash_table_destroy(rs->lists);
    g_array_free(rs->probe, TRUE);
    g_ptr_array_free(rs->blocks, TRUE);
    g_hash_table_destroy(rs->why);
    g_hash_table_destroy(rs->extras); /* its keys live in the area */
    g_ptr_array_free(rs->area, TRUE);
    g_free(rs->empty);
    g_free(rs);
}

msg_result *result_new(void)
{
    msg_result *r = g_new0(msg_result, 1);
    r->auths = g_ptr_array_new_with_free_func(auth_result_free);
    r->notes = note_list_new();
    return r;
}

/* At most this many emptied auth_results are kept for reuse. */
#define SPARE_MAX 8

void result_reset(msg_result *r)
{
    GPtrArray *auths = r->auths;
    note_list *notes = r->notes;
    GPtrArray *spare = r->spare;
    if (!spare)
        spare = g_ptr_array_new_with_free_func(auth_result_free);
    /* keep a few for the next message's headers (in message order), free the rest */
    guint n = auths->len;
    if (!spare->len && n <= SPARE_MAX) {
        /* the usual case (the headers took the spares): the arrays trade places (both free
         * auth_results) */
        for (guint i = 0; i < n; i++)
            clear_reused(g_ptr_array_index(auths, i));
        GPtrArray *t = spare;
        spare = auths;
        auths = t;
    } else {
        for (guint i = 0; i < n; i++) {
            auth_result *a = g_ptr_array_index(auths, i);
            if (spare->len < SPARE_MAX) {
                auth_result_clear(a);
                g_ptr_array_add(spare, a);
                auths->pdata[i] = NULL;
            }
        }
        g_ptr_array_set_size(auths, 0); /* frees the rest */
    }
    if (!notes)
        notes = note_list_new();
    else if (notes->len)
        g_array_set_size(notes, 0); /* frees the texts */
    memset(r, 0, sizeof *r);
    r->auths = auths;
    r->notes = notes;
    r->spare = spare;
}

/* arena_alloc when the newest block has no room for n (8-byte rounded) bytes. */
static G_GNUC_NO_INLINE void *arena_alloc_slow(result_store *rs, size_t n)
{
    if (n > ARENA_BLOCK) { /* a message with thousands of auth headers: a block of its own */
        void *big = g_malloc0(n);
        g_ptr_array_insert(rs->blocks, rs->blocks->len ? (gint)rs->blocks->len - 1 : 0, big);
        return big;
    }
    rs->cur = g_malloc0(ARENA_BLOCK);
    g_ptr_array_add(rs->blocks, rs->cur);
    rs->used = n;
    return rs->cur;
}

/* n bytes (8-byte aligned, zeroed) of the record arena: the newest block's next ones. */
static inline void *arena_alloc(result_store *rs, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (G_UNLIKELY(n > ARENA_BLOCK - rs->used))
        return arena_alloc_slow(rs, n);
    char *p = rs->cur + rs->used;
    rs->used += n;
    return p;
}

/* n bytes (8-byte aligned) in the reason area and their reference in *ref. */
static void *area_alloc(result_store *rs, size_t n, why_ref *ref)
{
    n = (n + 7) & ~(size_t)7;
    if (n > AREA_BLOCK || rs->area_used + n > AREA_BLOCK) {
        if (rs->area->len >= AREA_MAX_BLOCKS) /* 32 GiB of reasons */
            g_error("mssipae: result store reason area exhausted");
        char *p = g_malloc(MAX(n, (size_t)AREA_BLOCK));
        g_ptr_array_add(rs->area, p);
        rs->area_used = MIN(n, (size_t)AREA_BLOCK); /* a big object's block is full */
        *ref = (why_ref)((rs->area->len - 1) << AREA_SHIFT);
        return p;
    }
    *ref = (why_ref)(((rs->area->len - 1) << AREA_SHIFT) | (rs->area_used >> 3));
    char *p = (char *)g_ptr_array_index(rs->area, rs->area->len - 1) + rs->area_used;
    rs->area_used += n;
    return p;
}

static const void *area_get(const result_store *rs, why_ref ref)
{
    return (const char *)g_ptr_array_index(rs->area, ref >> AREA_SHIFT) +
           ((size_t)(ref & ((1u << AREA_SHIFT) - 1)) << 3);
}

/* The store's copy of text s (NULL for NULL). */
static const char *intern(result_store *rs, const char *s)
{
    if (!s)
        return NULL;
    const char *k = g_hash_table_lookup(rs->why, s);
    if (k)
        return k;
    size_t n = strlen(s);
    why_ref ref;
    interned_obj *o = area_alloc(rs, sizeof(interned_obj) + n + 1, &ref);
    o->self = ref;
    memcpy(o->text, s, n + 1);
    g_hash_table_add(rs->why, o->text);
    return o->text;
}

/* The reference of an interned text. */
static why_ref interned_ref(const char *text)
{
    return ((const interned_obj *)(const void *)(text - offsetof(interned_obj, text)))->self;
}

/* Keeps reason why: the hint itself when equal; when they share a long beginning and why
 * only adds a short end (Kerberos names each message's SND_SEQ), that end alone with a
 * reference to the hint; else an interned copy. */
#define WHY_SPLIT_MIN_SHARED 24
#define WHY_SPLIT_MAX_TAIL 64
/* The length of the common beginning of a and b (both at least n bytes): eight bytes at a
 * time (reasons of one SA share most of their text). */
static size_t common_prefix(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        guint64 x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) {
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
            return i + (size_t)(__builtin_ctzll(x ^ y) >> 3);
#else
            break;
#endif
        }
        i += 8;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* The length of the common end of a and b, at most n bytes. */
static size_t common_suffix(const char *a, size_t la, const char *b, size_t lb, size_t n)
{
    size_t i = 0;
    while (i < n && a[la - 1 - i] == b[lb - 1 - i])
        i++;
    return i;
}

/* The text of split w into buf (cap bytes) when it fits, else g_malloc'd; *len its length. */
static char *split_text(const why_split *w, char *buf, size_t cap, size_t *len)
{
    size_t tl = strlen(w->tail), el = strlen(w->base + w->base_end);
    size_t n = w->base_len + tl + el;
    char *t = n + 1 <= cap ? buf : g_malloc(n + 1);
    memcpy(t, w->base, w->base_len);
    memcpy(t + w->base_len, w->tail, tl);
    memcpy(t + w->base_len + tl, w->base + w->base_end, el + 1);
    *len = n;
    return t;
}

/* 1 when split w's text is why (the usual header of an SA), lw its length when known (else 0:
 * not measured). */
static int split_equal(const why_split *w, const char *why, size_t lw)
{
    if (lw) /* the three parts' lengths are known: one length test, then the bytes */
        return lw == (size_t)w->base_len + w->tail_len + w->end_len &&
               memcmp(w->base, why, w->base_len) == 0 &&
               memcmp(w->tail, why + w->base_len, w->tail_len) == 0 &&
               memcmp(w->base + w->base_end, why + w->base_len + w->tail_len, w->end_len) == 0;
    if (strncmp(w->base, why, w->base_len) != 0)
        return 0;
    why += w->base_len;
    size_t tl = strlen(w->tail);
    if (strncmp(w->tail, why, tl) != 0)
        return 0;
    return strcmp(w->base + w->base_end, why + tl) == 0;
}

/* A short new end of why relative to hint text h (lh bytes): kept in the record itself
 * (AR_WHY_TAIL); 1 when it was. */
static int keep_tail(const char *h, size_t lh, const char *why, size_t lw, auth_rec *k)
{
    size_t p = common_prefix(h, why, MIN(lh, lw));
    size_t tail = lw - p, cut = lh - p;
    if (p >= WHY_SPLIT_MIN_SHARED && tail <= sizeof k->x.t.tail && cut <= 255 &&
        !(k->flags & AR_VERSION_BIG)) {
        k->x.t.cut = (uint8_t)cut;
        memset(k->x.t.tail, 0, sizeof k->x.t.tail);
        memcpy(k->x.t.tail, why + p, tail);
        k->flags |= AR_WHY_TAIL;
        return 1;
    }
    return 0;
}

/* A why_split of why (lw bytes) made of base's first p bytes, mid bytes of its own, and base
 * from base_end on; 0 (not split: the caller interns why) when a part does not fit 16 bits. */
static why_ref new_split(result_store *rs, const char *base, size_t p, size_t base_end,
                         const char *why, size_t mid, auth_rec *k)
{
    size_t el = strlen(base + base_end);
    if (p > G_MAXUINT16 || base_end > G_MAXUINT16 || mid > G_MAXUINT16 || el > G_MAXUINT16)
        return 0;
    why_ref ref;
    why_split *w = area_alloc(rs, sizeof(why_split) + mid + 1, &ref);
    w->base = base;
    w->base_len = (uint16_t)p;
    w->base_end = (uint16_t)base_end;
    w->tail_len = (uint16_t)mid;
    w->end_len = (uint16_t)el;
    memcpy(w->tail, why + p, mid);
    w->tail[mid] = 0;
    k->flags |= AR_WHY_SPLIT;
    return ref;
}

static G_GNUC_NO_INLINE why_ref keep_why_new(result_store *rs, const char *why, size_t lw_known,
                                             why_ref hint_ref, int hint_split, auth_rec *k);

static inline why_ref keep_why(result_store *rs, const char *why, size_t lw_known,
                               why_ref hint_ref, int hint_split, auth_rec *k)
{
    if (!why)
        return 0;
    if (hint_ref && hint_split &&
        split_equal(area_get(rs, hint_ref), why, lw_known)) { /* the usual case: as before */
        k->flags |= AR_WHY_SPLIT;
        return hint_ref;
    }
    if (hint_ref && !hint_split) {
        const char *hint = ((const interned_obj *)area_get(rs, hint_ref))->text;
        if (strcmp(hint, why) == 0) /* the usual case: the same reason as before */
            return hint_ref;
    }
    return keep_why_new(rs, why, lw_known, hint_ref, hint_split, k);
}

/* Keeps text why as one interned text (never split nor with a tail: AR_WHY_SEQ records put
 * their number where a tail would be): the hint itself when it is that text. */
static why_ref keep_why_text(result_store *rs, const char *why, why_ref hint_ref, int hint_split)
{
    if (hint_ref && !hint_split &&
        strcmp(((const interned_obj *)area_get(rs, hint_ref))->text, why) == 0)
        return hint_ref;
    return interned_ref(intern(rs, why));
}

/* keep_why for a reason that is not its hint's text. */
static why_ref keep_why_new(result_store *rs, const char *why, size_t lw_known, why_ref hint_ref,
                            int hint_split, auth_rec *k)
{
    size_t lw = lw_known ? lw_known : strlen(why);
    if (hint_ref && hint_split) { /* a why_split kept earlier for the same SA */
        const why_split *w = area_get(rs, hint_ref);
        char buf[512];
        size_t lh;
        char *h = split_text(w, buf, sizeof buf, &lh);
        int tail = keep_tail(h, lh, why, lw, k);
        if (h != buf)
            g_free(h);
        if (tail) { /* the split's text with a short new end */
            k->flags |= AR_WHY_SPLIT;
            return hint_ref;
        }
    } else if (hint_ref) { /* an interned reason kept earlier for the same SA */
        const char *hint = ((const interned_obj *)area_get(rs, hint_ref))->text;
        size_t lh = strlen(hint);
        if (keep_tail(hint, lh, why, lw, k))
            return hint_ref;
        size_t p = common_prefix(hint, why, MIN(lh, lw));
        why_ref sp = p >= WHY_SPLIT_MIN_SHARED && lw - p <= WHY_SPLIT_MAX_TAIL
                         ? new_split(rs, hint, p, lh, why, lw - p, k) : 0;
        if (sp)
            return sp;
    }
    const char *known = g_hash_table_lookup(rs->why, why);
    if (known)
        return interned_ref(known);
    /* a reason new to the store: the same sentence as one of another SA kept just before,
     * with other names or numbers in it, keeps only its own middle */
    int best = -1;
    size_t best_p = 0, best_q = 0, best_mid = WHY_SPLIT_MAX_TAIL + 1;
    for (int i = 0; i < WHY_RECENT; i++) {
        const char *r = rs->recent[i];
        if (!r)
            continue;
        size_t lr = rs->recent_len[i];
        size_t p = common_prefix(r, why, MIN(lr, lw));
        size_t q = common_suffix(r, lr, why, lw, MIN(lr, lw) - p);
        size_t mid = lw - p - q;
        if (p + q >= WHY_SPLIT_MIN_SHARED && mid < best_mid) {
            best = i;
            best_p = p;
            best_q = q;
            best_mid = mid;
        }
    }
    why_ref sp = best >= 0 ? new_split(rs, rs->recent[best], best_p,
                                       rs->recent_len[best] - best_q, why, best_mid, k) : 0;
    if (sp)
        return sp;
    const char *text = intern(rs, why);
    rs->recent[rs->recent_next] = text;
    rs->recent_len[rs->recent_next] = (uint32_t)lw;
    rs->recent_next = (rs->recent_next + 1) % WHY_RECENT;
    return interned_ref(text);
}

char *auth_rec_why_dup(const result_store *rs, const auth_rec *k)
{
    if (!k->why)
        return NULL;
    if (k->flags & AR_WHY_SEQ)
        return verdict_seq_text(((const interned_obj *)area_get(rs, k->why))->text, k->x.seq);
    char *text;
    size_t len;
    if (k->flags & AR_WHY_SPLIT) {
        text = split_text(area_get(rs, k->why), NULL, 0, &len);
    } else {
        const char *t = ((const interned_obj *)area_get(rs, k->why))->text;
        len = strlen(t);
        if (!(k->flags & AR_WHY_TAIL))
            return g_memdup2(t, len + 1);
        text = (char *)t;
    }
    if (!(k->flags & AR_WHY_TAIL))
        return text;
    /* the base's text with its last cut bytes replaced by the record's tail */
    size_t bl = len - k->x.t.cut;
    size_t tl = strnlen(k->x.t.tail, sizeof k->x.t.tail);
    char *t = g_malloc(bl + tl + 1);
    memcpy(t, text, bl);
    memcpy(t + bl, k->x.t.tail, tl);
    t[bl + tl] = 0;
    if (k->flags & AR_WHY_SPLIT)
        g_free(text);
    return t;
}

int auth_verdict_note_kind(sig_status status, note_kind *kind, note_sev *sev)
{
    static const struct { sig_status st; note_kind kind; note_sev sev; } status_notes[] = {
        { SIG_INVALID, NOTE_INVALID, NOTE_SEV_ERROR },
        { SIG_NO_KEY, NOTE_NO_KEY, NOTE_SEV_WARN },
        { SIG_MALFORMED, NOTE_MALFORMED, NOTE_SEV_WARN },
        { SIG_UNSUPPORTED, NOTE_UNSUPPORTED, NOTE_SEV_NOTE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(status_notes); i++)
        if (status_notes[i].st == status) {
            *kind = status_notes[i].kind;
            *sev = status_notes[i].sev;
            return 1;
        }
    return 0;
}

char *auth_rec_verdict_note(const result_store *rs, const auth_rec *k, note_kind *kind,
                            note_sev *sev)
{
    if (!(k->flags & AR_VERDICT_NOTE) || !auth_verdict_note_kind(k->status, kind, sev))
        return NULL;
    char *why = auth_rec_why_dup(rs, k);
    char *t = g_strconcat("signature ", sig_status_name(k->status), ": ", why ? why : "", NULL);
    g_free(why);
    return t;
}

/* 1 when non-empty lists a and b hold the same notes. */
static int notes_equal(const note_list *a, const note_list *b)
{
    if (!a || !b || !a->len || a->len != b->len)
        return 0;
    for (guint i = 0; i < a->len; i++) {
        const mssipae_note *x = &g_array_index(a, mssipae_note, i);
        const mssipae_note *y = &g_array_index(b, mssipae_note, i);
        if (x->kind != y->kind || x->sev != y->sev || x->fact != y->fact ||
            (x->text != y->text && g_strcmp0(x->text, y->text) != 0))
            return 0;
    }
    return 1;
}

/* The list record (list_rec) whose list has l's content, or NULL: looked up with a record made
 * on the stack around l. */
static const msg_rec_extra *list_rec_find(result_store *rs, const note_list *l)
{
    guint64 kb[(LIST_REC_SIZE + 7) / 8] = { 0 };
    msg_rec_extra *key = (msg_rec_extra *)(void *)kb;
    key->n_auths = 1;
    key->auth_notes[0] = (note_list *)l;
    return g_hash_table_lookup(rs->lists, key);
}

/* 1 when list l has a NOTE_LATER note (msg_rec_extra.has_later). */
static int list_has_later(const note_list *l)
{
    for (guint i = 0; l && i < l->len; i++)
        if (g_array_index(l, mssipae_note, i).kind == NOTE_LATER)
            return 1;
    return 0;
}

/* The store's copy of l, NULL when l is NULL or empty: its own texts interned, borrowed ones
 * kept as they are, and one list for
 * all equal lists (a TLS-DSK SA's facts are the same in both directions, its handshake notes
 * the same as other SAs'); *made is set to 1 when the copy is new, *single (may be NULL)
 * receives its record's reference (list_rec). l stays the caller's. A new copy is exactly
 * as long as l: a kept list is never appended to. */
static note_list *keep_notes(result_store *rs, const note_list *l, int *made, why_ref *single)
{
    if (!l || !l->len)
        return NULL;
    note_list *p = rs->probe;
    g_array_set_size(p, l->len); /* no clear function: the texts are the store's (or borrowed) */
    for (guint i = 0; i < l->len; i++) {
        mssipae_note n = g_array_index(l, mssipae_note, i);
        /* a borrowed text lives as long as the tracker's SA table, which is freed just before
         * this store (note_fact_add_static): kept as it is, so the next header of the SA,
         * borrowing it again, compares equal by its address (notes_equal) */
        if (!n.borrowed)
            n.text = (char *)intern(rs, n.text);
        g_array_index(p, mssipae_note, i) = n;
    }
    const msg_rec_extra *k = list_rec_find(rs, p);
    if (k) {
        if (single)
            *single = list_rec_ref(k);
        return (note_list *)list_rec_list(k);
    }
    note_list *c = g_array_sized_new(FALSE, FALSE, sizeof(mssipae_note), p->len);
    g_array_append_vals(c, p->data, p->len);
    why_ref ref;
    msg_rec_extra *x = area_alloc(rs, LIST_REC_SIZE, &ref);
    memset(x, 0, LIST_REC_SIZE);
    x->list_ref = ref;
    x->n_auths = 1;
    x->auth_notes[0] = c;
    x->has_later = (uint8_t)list_has_later(c);
    g_hash_table_add(rs->lists, x);
    if (single)
        *single = ref;
    *made = 1;
    return c;
}

/* The record (list_rec) of kept list l: the extra of a message whose only notes are l. */
static why_ref keep_single(result_store *rs, const note_list *l)
{
    if (l == rs->last_list) /* the usual case: the SA's list, as for its previous message */
        return rs->last_single;
    const msg_rec_extra *k = list_rec_find(rs, l);
    why_ref ref;
    if (k && list_rec_list(k) == l) {
        ref = list_rec_ref(k);
    } else { /* not a list of this store (cannot happen): kept as any other */
        int made = 0;
        keep_notes(rs, l, &made, &ref);
    }
    rs->last_list = l;
    rs->last_single = ref;
    return ref;
}

const msg_rec_extra *msg_rec_extra_of(const result_store *rs, const msg_rec *r)
{
    return r->extra ? area_get(rs, r->extra) : NULL;
}

/* The extra of a message with notes (result_keep): out of line, most messages have none. */
static G_GNUC_NO_INLINE why_ref keep_extra(result_store *rs, msg_result *r, guint n)
{
    why_ref ref = 0;
    if (n == 1 && !(r->notes && r->notes->len) && !r->unsigned_sa) {
        /* the usual message with notes: one auth header, whose notes are all the store keeps
         * of it (its list's record) */
        auth_result *a = g_ptr_array_index(r->auths, 0);
        if (notes_equal(a->notes, a->notes_hint)) {
            ref = keep_single(rs, a->notes_hint);
        } else {
            int made = 0;
            const note_list *l = keep_notes(rs, a->notes, &made, &ref);
            rs->last_list = l;
            rs->last_single = ref;
        }
    } else {
        /* built on the stack (small messages) or the heap, then kept: shared when it holds
         * only lists kept before (the SA's usual notes), else in the area */
        size_t xs = sizeof(msg_rec_extra) + (size_t)n * sizeof(note_list *);
        guint64 stackbuf[32];
        msg_rec_extra *x = xs <= sizeof stackbuf ? (void *)stackbuf : g_malloc(xs);
        memset(x, 0, sizeof *x);
        x->n_auths = n;
        int fresh = 0; /* a list was made for this message: no earlier extra can equal it */
        x->notes = keep_notes(rs, r->notes, &fresh, NULL);
        x->unsigned_sa = r->unsigned_sa;
        x->unsigned_dir = (uint8_t)r->unsigned_dir;
        for (guint i = 0; i < n; i++) {
            auth_result *a = g_ptr_array_index(r->auths, i);
            if (notes_equal(a->notes, a->notes_hint)) {
                x->auth_notes[i] = (note_list *)a->notes_hint; /* shared, read-only */
            } else {
                x->auth_notes[i] = keep_notes(rs, a->notes, &fresh, NULL);
            }
            x->has_later |= (uint8_t)list_has_later(x->auth_notes[i]);
        }
        gpointer found = NULL;
        if (!fresh && g_hash_table_lookup_extended(rs->extras, x, NULL, &found)) {
            ref = GPOINTER_TO_UINT(found);
        } else {
            void *kept = area_alloc(rs, xs, &ref);
            memcpy(kept, x, xs);
            if (!fresh)
                g_hash_table_insert(rs->extras, kept, GUINT_TO_POINTER(ref));
        }
        if (x != (void *)stackbuf)
            g_free(x);
    }
    return ref;
}

const msg_rec *result_keep(result_store *rs, msg_result *r)
{
    if (r->parsed && !r->auths->len && !(r->notes && r->notes->len) && !r->unsigned_sa)
        return rs->empty;
    guint n = r->auths->len;
    int status = CLAMP(r->status_code, G_MININT16, G_MAXINT16);
    /* a count or status code that does not fit its bits (hostile input) goes before the record */
    int big = n >= MR_N_ESC || status < 0 || (unsigned)status >= MR_STATUS_ESC;
    size_t rs_size = sizeof(msg_rec) + (size_t)n * sizeof(auth_rec);
    msg_rec *m;
    if (G_LIKELY(!big)) {
        m = arena_alloc(rs, rs_size);
        m->bits = (uint32_t)n << MR_N_SHIFT | (uint32_t)status << MR_STATUS_SHIFT;
    } else {
        msg_rec_big *b = arena_alloc(rs, sizeof(msg_rec_big) + rs_size);
        b->n_auths = n;
        b->status_code = status;
        m = (msg_rec *)(void *)(b + 1);
        m->bits = (n >= MR_N_ESC ? MR_N_ESC : n) << MR_N_SHIFT |
                  ((status < 0 || (unsigned)status >= MR_STATUS_ESC) ? MR_STATUS_ESC
                                                                      : (uint32_t)status)
                      << MR_STATUS_SHIFT;
    }
    m->bits |= (uint32_t)((r->parsed ? MR_PARSED : 0) | (r->is_request ? MR_REQUEST : 0));
    m->extra = 0;
    int extra = (r->notes && r->notes->len) || r->unsigned_sa;
    for (guint i = 0; i < n && !extra; i++) {
        const auth_result *a = g_ptr_array_index(r->auths, i);
        extra = a->notes && a->notes->len;
    }
    if (extra)
        m->extra = keep_extra(rs, r, n);
    for (guint i = 0; i < n; i++) {
        auth_result *a = g_ptr_array_index(r->auths, i);
        auth_rec *k = &m->auths[i];
        k->sa_id = a->sa_id;
        k->status = (uint8_t)a->status;
        k->dir = (uint8_t)a->dir;
        k->flags = (uint8_t)((a->has_version ? AR_HAS_VERSION : 0) |
                             (a->version_from_sa ? AR_VERSION_FROM_SA : 0) |
                             (a->sigbuf ? AR_HAS_SIGBUF : 0) |
                             (a->verdict_note ? AR_VERDICT_NOTE : 0));
        k->x.version_big = 0;
        if (a->version <= 255) {
            k->version = (uint8_t)a->version;
        } else {
            k->version = 0;
            k->x.version_big = a->version;
            k->flags |= AR_VERSION_BIG;
        }
        if (a->why_has_seq && (a->why_seq > G_MAXUINT32 || (k->flags & AR_VERSION_BIG)))
            auth_result_own_why(a); /* no room for the number: the text, as any other */
        if (a->why_has_seq) { /* the usual Kerberos header: the SA's text, and its SND_SEQ */
            k->why = keep_why_text(rs, a->why, a->why_hint, a->why_hint_split);
            k->flags |= AR_WHY_SEQ;
            k->x.seq = (uint32_t)a->why_seq;
            continue;
        }
        k->why = keep_why(rs, a->why, a->why_len, a->why_hint, a->why_hint_split, k);
    }
    return m;
}

static note_list *copy_notes(const note_list *l)
{
    note_list *c = note_list_new();
    for (guint i = 0; l && i < l->len; i++) {
        mssipae_note n = g_array_index(l, mssipae_note, i);
        n.text = g_strdup(n.text);
        n.borrowed = 0;
        g_array_append_val(c, n);
    }
    return c;
}

msg_result *result_expand(const result_store *rs, const msg_rec *rec, const char *msg,
                          size_t len)
{
    msg_result *r = result_new();
    guint n_auths = msg_rec_n_auths(rec);
    r->parsed = (msg_rec_flags(rec) & MR_PARSED) != 0;
    r->is_request = (msg_rec_flags(rec) & MR_REQUEST) != 0;
    r->status_code = msg_rec_status_code(rec);
    r->unsigned_sa = msg_rec_unsigned_sa(rs, rec, &r->unsigned_dir);
    note_list_free(r->notes);
    r->notes = msg_rec_notes(rs, rec) ? copy_notes(msg_rec_notes(rs, rec)) : NULL;
    if (!n_auths)
        return r;
    sip_msg m;
    const char *why;
    if (!msg || sip_msg_parse(msg, len, &m, &why) < 0) {
        msg_result_free(r);
        return NULL;
    }
    for (guint i = 0; i < m.hdrs->len; i++) {
        auth_result *a = ahdr_decode(&m, &g_array_index(m.hdrs, sip_hdr, i));
        if (!a)
            continue;
        if (r->auths->len == n_auths) { /* not the message the record was made from */
            auth_result_free(a);
            goto mismatch;
        }
        const auth_rec *k = &rec->auths[r->auths->len];
        g_ptr_array_add(r->auths, a);
        if (k->dir != a->dir)
            goto mismatch;
        a->status = (sig_status)k->status;
        auth_result_set_why(a, auth_rec_why_dup(rs, k));
        a->sa_id = k->sa_id; /* sa_frame: the caller's (the SA's) */
        a->has_version = (k->flags & AR_HAS_VERSION) != 0;
        a->version_from_sa = (k->flags & AR_VERSION_FROM_SA) != 0;
        a->version = auth_rec_version(k);
        note_list_free(a->notes);
        const note_list *kn = msg_rec_auth_notes(rs, rec, r->auths->len - 1);
        a->notes = kn ? copy_notes(kn) : NULL;
        note_kind vk = NOTE_MALFORMED;
        note_sev vs = NOTE_SEV_CHAT;
        mssipae_note vn = { .text = auth_rec_verdict_note(rs, k, &vk, &vs), .fact = FACT_NONE };
        vn.kind = vk;
        vn.sev = vs;
        if (vn.text) {
            if (!a->notes)
                a->notes = note_list_new();
            g_array_append_val(a->notes, vn);
        }
        if (k->flags & AR_HAS_SIGBUF) {
            sigbuf_auth sa = { a->scheme, a->rand, a->num_str, a->realm, a->targetname,
                               a->line_off, a->line_len };
            GString *b = auth_result_sigbuf_store(a);
            sigbuf_build_into(&m, &sa, a->version, b);
            a->sigbuf_len = b->len;
            a->sigbuf = b->str;
        }
    }
    if (r->auths->len != n_auths)
        goto mismatch;
    sip_msg_clear(&m);
    return r;
mismatch:
    sip_msg_clear(&m);
    msg_result_free(r);
    return NULL;
}
