/* rec_index.c - frame number -> stored records, compact; see rec_index.h. */
#include "verify/rec_index.h"

#include <glib.h>
#include <string.h>

#define REC_BLOCK 64 /* frames per block, records per checkpoint */

typedef struct {
    uint64_t bits;    /* bit f % 64: frame f has records */
    uint32_t first;   /* position of the block's first record */
    uint32_t has_odd; /* some frame of the block is odd */
} rec_block;

typedef struct {
    const void *r; /* record 64 * i */
    uint32_t esc;  /* escapes before it */
} rec_checkpoint;

struct rec_index {
    /* the record pointers in order */
    struct {
        guint8 *data;  /* per record: distance from the previous one in 8-byte units, 0: escape */
        unsigned len, cap;
    } delta;           /* (appended to once per record: cheaper by hand than a GByteArray) */
    GArray *cp;        /* rec_checkpoint per 64 records */
    GArray *esc;       /* const void *: the escaped pointers, in order */
    const void *last;  /* the last record added */
    struct {
        int valid;
        unsigned idx;  /* the last record decoded */
        const void *r; /* its pointer */
        unsigned esc;  /* escapes up to and including it */
    } cur;
    /* frame -> position */
    GArray *blocks;      /* rec_block, index = frame / 64 */
    GArray *odd;         /* rec_index_pos, sorted by frame */
    uint32_t last_frame; /* the last frame stored */
    struct {
        int valid;
        unsigned block; /* the block of the last look-up that needed odd */
        uint32_t frame; /* its frame */
        unsigned k;     /* the first odd entry of a frame >= frame */
        unsigned adj;   /* records of the block's odd frames before frame, minus one each */
    } odd_cur;          /* where the last look-up in odd ended */
};

rec_index *rec_index_new(void)
{
    rec_index *ix = g_new0(rec_index, 1);
    ix->delta.cap = 4096;
    ix->delta.data = g_malloc(ix->delta.cap);
    ix->cp = g_array_new(FALSE, FALSE, sizeof(rec_checkpoint));
    ix->esc = g_array_new(FALSE, FALSE, sizeof(const void *));
    ix->blocks = g_array_sized_new(FALSE, FALSE, sizeof(rec_block), 64);
    ix->odd = g_array_new(FALSE, FALSE, sizeof(rec_index_pos));
    return ix;
}

void rec_index_free(rec_index *ix)
{
    if (!ix)
        return;
    g_free(ix->delta.data);
    g_array_free(ix->cp, TRUE);
    g_array_free(ix->esc, TRUE);
    g_array_free(ix->blocks, TRUE);
    g_array_free(ix->odd, TRUE);
    g_free(ix);
}

void rec_index_clear(rec_index *ix)
{
    ix->delta.len = 0;
    g_array_set_size(ix->cp, 0);
    g_array_set_size(ix->esc, 0);
    ix->last = NULL;
    memset(&ix->cur, 0, sizeof ix->cur);
    g_array_set_size(ix->blocks, 0);
    g_array_set_size(ix->odd, 0);
    ix->last_frame = 0;
    memset(&ix->odd_cur, 0, sizeof ix->odd_cur);
}

size_t rec_index_count(const rec_index *ix)
{
    return ix->delta.len;
}

size_t rec_index_bytes(const rec_index *ix)
{
    return ix->delta.len + (size_t)ix->cp->len * sizeof(rec_checkpoint) +
           (size_t)ix->esc->len * sizeof(const void *) +
           (size_t)ix->blocks->len * sizeof(rec_block) +
           (size_t)ix->odd->len * sizeof(rec_index_pos);
}

/* ---- the record pointers ---- */

static void list_add(rec_index *ix, const void *r)
{
    unsigned i = ix->delta.len;
    guint8 d = 0;
    if (i % REC_BLOCK == 0) {
        rec_checkpoint c = { r, ix->esc->len };
        g_array_append_val(ix->cp, c);
        d = 1; /* not read: the checkpoint has the pointer */
    } else {
        guintptr a = (guintptr)ix->last, b = (guintptr)r;
        if (b > a && (b - a) % 8 == 0 && (b - a) / 8 <= 255)
            d = (guint8)((b - a) / 8);
        else
            g_array_append_val(ix->esc, r);
    }
    if (ix->delta.len == ix->delta.cap) {
        ix->delta.cap *= 2;
        ix->delta.data = g_realloc(ix->delta.data, ix->delta.cap);
    }
    ix->delta.data[ix->delta.len++] = d;
    ix->last = r;
}

/* Records idx .. idx + n - 1 (< rec_index_count()) into out: from the cursor when it is at or
 * before idx in the same run of 64, else from idx's checkpoint. */
static void list_get(rec_index *ix, unsigned idx, unsigned n, const void **out)
{
    unsigned j, e;
    guintptr r;
    if (ix->cur.valid && ix->cur.idx <= idx && ix->cur.idx / REC_BLOCK == idx / REC_BLOCK) {
        j = ix->cur.idx;
        r = (guintptr)ix->cur.r;
        e = ix->cur.esc;
    } else {
        const rec_checkpoint *c = &g_array_index(ix->cp, rec_checkpoint, idx / REC_BLOCK);
        j = idx / REC_BLOCK * REC_BLOCK;
        r = (guintptr)c->r;
        e = c->esc;
    }
    const guint8 *d = ix->delta.data;
    for (unsigned end = idx + n - 1;; j++) {
        if (j >= idx)
            *out++ = (const void *)r;
        if (j == end)
            break;
        if ((j + 1) % REC_BLOCK == 0) /* a checkpoint (its delta byte is not read) */
            r = (guintptr)g_array_index(ix->cp, rec_checkpoint, (j + 1) / REC_BLOCK).r;
        else if (d[j + 1])
            r += (guintptr)d[j + 1] * 8;
        else
            r = (guintptr)g_array_index(ix->esc, const void *, e++);
    }
    ix->cur.valid = 1;
    ix->cur.idx = j;
    ix->cur.r = (const void *)r;
    ix->cur.esc = e;
}

/* ---- frames ---- */

int rec_index_add(rec_index *ix, uint32_t frame, unsigned n, const void *const *recs,
                  const uint16_t *pdu, uint16_t npdus)
{
    if (!n || (ix->delta.len && frame <= ix->last_frame))
        return 0; /* not in frame order: a frame dissected twice before it was marked visited */
    unsigned b = frame / REC_BLOCK;
    if (b >= ix->blocks->len) {
        unsigned old = ix->blocks->len;
        g_array_set_size(ix->blocks, b + 1);
        for (unsigned i = old; i <= b; i++) {
            rec_block *nb = &g_array_index(ix->blocks, rec_block, i);
            nb->bits = 0;
            nb->first = ix->delta.len;
            nb->has_odd = 0;
        }
    }
    rec_block *blk = &g_array_index(ix->blocks, rec_block, b);
    blk->bits |= (uint64_t)1 << (frame % REC_BLOCK);
    if (n != 1 || (pdu ? pdu[0] : 0) != 0 || npdus != 1) {
        blk->has_odd = 1;
        for (unsigned i = 0; i < n; i++) {
            rec_index_pos p = { frame, pdu ? pdu[i] : (uint16_t)i, npdus };
            g_array_append_val(ix->odd, p);
        }
    }
    for (unsigned i = 0; i < n; i++)
        list_add(ix, recs[i]);
    ix->last_frame = frame;
    return 1;
}

unsigned rec_index_find(rec_index *ix, uint32_t frame, rec_index_hit *hit)
{
    hit->n = 0;
    hit->first = 0;
    hit->odd = NULL;
    unsigned b = frame / REC_BLOCK, bit = frame % REC_BLOCK;
    if (b >= ix->blocks->len)
        return 0;
    const rec_block *blk = &g_array_index(ix->blocks, rec_block, b);
    if (!(blk->bits >> bit & 1))
        return 0;
    unsigned idx = blk->first + (unsigned)__builtin_popcountll(blk->bits & (((uint64_t)1 << bit) - 1));
    if (!blk->has_odd) {
        hit->first = idx;
        return hit->n = 1;
    }
    /* from where the last look-up of this block ended (passes go in frame order), else from
     * the block's first odd entry */
    const rec_index_pos *v = (const rec_index_pos *)(void *)ix->odd->data;
    unsigned len = ix->odd->len;
    unsigned k, adj = 0;
    if (ix->odd_cur.valid && ix->odd_cur.block == b && ix->odd_cur.frame <= frame) {
        k = ix->odd_cur.k;
        adj = ix->odd_cur.adj;
    } else {
        uint32_t bstart = (uint32_t)b * REC_BLOCK;
        unsigned lo = 0, hi = len;
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            if (v[mid].frame < bstart)
                lo = mid + 1;
            else
                hi = mid;
        }
        k = lo;
    }
    /* every odd frame before this one in the block has one bit but possibly several records */
    while (k < len && v[k].frame < frame) {
        uint32_t fr = v[k].frame;
        unsigned c = 0;
        while (k < len && v[k].frame == fr) {
            c++;
            k++;
        }
        adj += c - 1;
    }
    ix->odd_cur.valid = 1;
    ix->odd_cur.block = b;
    ix->odd_cur.frame = frame;
    ix->odd_cur.k = k;
    ix->odd_cur.adj = adj;
    hit->first = idx + adj;
    if (k < len && v[k].frame == frame) {
        unsigned e = k;
        while (e < len && v[e].frame == frame)
            e++;
        hit->odd = &v[k];
        return hit->n = e - k;
    }
    return hit->n = 1;
}

void rec_index_get(rec_index *ix, const rec_index_hit *hit, const void **out)
{
    if (hit->n)
        list_get(ix, hit->first, hit->n, out);
}
