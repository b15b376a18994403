/* test_rec_index.c - the frame -> records index (verify/rec_index.c) against a plain array:
 * records at arena-like addresses (small forward distances), far jumps, backward and unaligned
 * addresses (escapes), plain and odd frames (several SIP messages, a record for message 2 of 2),
 * empty blocks, look-ups in frame order, backward, at random and beyond the last block, the
 * empty index, frames refused out of order, clear and reuse, and the memory per record.
 *
 * Regression list: (none yet)
 */
#include "testutil.h"

#include <string.h>

#include "verify/rec_index.h"

/* ---- the reference: every stored record, in order ---- */

typedef struct {
    uint32_t frame;
    uint16_t pdu, npdus;
    const void *r;
} ref_rec;

typedef struct {
    GArray *v; /* ref_rec, by frame then pdu */
    uint32_t last_frame;
} ref_index;

static void ref_init(ref_index *ref)
{
    ref->v = g_array_new(FALSE, FALSE, sizeof(ref_rec));
    ref->last_frame = 0;
}

static void ref_free(ref_index *ref)
{
    g_array_free(ref->v, TRUE);
}

/* Adds to both; checks that the index accepts exactly what the reference accepts. */
static void both_add(rec_index *ix, ref_index *ref, uint32_t frame, unsigned n,
                     const void *const *recs, const uint16_t *pdu, uint16_t npdus)
{
    int want = n && (ref->v->len == 0 || frame > ref->last_frame);
    if (want) {
        for (unsigned i = 0; i < n; i++) {
            ref_rec e = { frame, pdu ? pdu[i] : (uint16_t)i, npdus, recs[i] };
            g_array_append_val(ref->v, e);
        }
        ref->last_frame = frame;
    }
    assert_int_equal(rec_index_add(ix, frame, n, recs, pdu, npdus), want);
    assert_int_equal(rec_index_count(ix), ref->v->len);
}

/* The first reference entry of a frame >= frame. */
static unsigned ref_lower(const ref_index *ref, uint32_t frame)
{
    unsigned lo = 0, hi = ref->v->len;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (g_array_index(ref->v, ref_rec, mid).frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* One look-up of frame, compared with the reference; its records read twice when again. */
static void check_frame(rec_index *ix, const ref_index *ref, uint32_t frame, int again)
{
    unsigned k = ref_lower(ref, frame), e = k;
    while (e < ref->v->len && g_array_index(ref->v, ref_rec, e).frame == frame)
        e++;
    rec_index_hit hit;
    unsigned n = rec_index_find(ix, frame, &hit);
    if (n != e - k)
        fail_msg("frame %u: %u records, want %u", frame, n, e - k);
    assert_int_equal(hit.n, n);
    if (!n)
        return;
    assert_int_equal(rec_index_npdus(&hit), g_array_index(ref->v, ref_rec, k).npdus);
    const void **got = g_new(const void *, n + 1);
    for (int pass = 0; pass <= again; pass++) {
        got[n] = got; /* a guard: nothing written past n */
        rec_index_get(ix, &hit, got);
        assert_ptr_equal(got[n], got);
        for (unsigned i = 0; i < n; i++) {
            const ref_rec *want = &g_array_index(ref->v, ref_rec, k + i);
            if (got[i] != want->r)
                fail_msg("frame %u record %u: %p, want %p", frame, i, got[i], want->r);
            assert_int_equal(rec_index_pdu(&hit, i), want->pdu);
        }
    }
    g_free(got);
}

/* Every frame up to beyond the last block, in order, then backward, then at random (and runs
 * in order from random places, which mix the cursors' fast and slow paths). */
static void check_all(rec_index *ix, const ref_index *ref, GRand *rnd)
{
    uint32_t end = ref->last_frame + 200;
    for (uint32_t f = 0; f <= end; f++)
        check_frame(ix, ref, f, 0);
    for (uint32_t f = end + 1; f-- > 0;)
        check_frame(ix, ref, f, (int)(f & 1));
    for (unsigned i = 0; i < 4 * end; i++)
        check_frame(ix, ref, (uint32_t)g_rand_int_range(rnd, 0, (gint32)end + 1),
                    g_rand_boolean(rnd));
    for (unsigned run = 0; run < 50; run++) {
        uint32_t f = (uint32_t)g_rand_int_range(rnd, 0, (gint32)end + 1);
        for (unsigned i = 0; i < 150 && f <= end; i++, f++)
            check_frame(ix, ref, f, 0);
    }
    /* the frames far beyond */
    check_frame(ix, ref, end + 64 * 1000, 0);
    check_frame(ix, ref, G_MAXUINT32, 0);
}

/* ---- record addresses ---- */

/* Arena-like addresses: mostly a small forward step (8-40 bytes) inside a block, sometimes a
 * new block (a far jump), and with the given odds (per 1000) an escape of another kind. */
typedef struct {
    GPtrArray *blocks; /* the arena's blocks (real memory: the addresses are never read) */
    guint8 *cur;
    size_t used;
    GRand *rnd;
    unsigned odd_addr; /* per 1000: backward, unaligned, or exactly 255 / 256 steps */
} arena;

#define ARENA_BLOCK 8192

static void arena_init(arena *a, GRand *rnd, unsigned odd_addr)
{
    a->blocks = g_ptr_array_new_with_free_func(g_free);
    a->cur = NULL;
    a->used = ARENA_BLOCK;
    a->rnd = rnd;
    a->odd_addr = odd_addr;
}

static void arena_free(arena *a)
{
    g_ptr_array_free(a->blocks, TRUE);
}

static const void *arena_next(arena *a)
{
    if (a->odd_addr && (unsigned)g_rand_int_range(a->rnd, 0, 1000) < a->odd_addr &&
        a->blocks->len) {
        guint8 *base = g_ptr_array_index(a->blocks, g_rand_int_range(a->rnd, 0, (gint32)a->blocks->len));
        switch (g_rand_int_range(a->rnd, 0, 5)) {
        case 0: /* backward, possibly into an older block */
            return base + g_rand_int_range(a->rnd, 0, ARENA_BLOCK / 8) * 8;
        case 1: /* forward, unaligned */
            if (a->cur && a->used + 5 <= ARENA_BLOCK) {
                a->used += 5;
                return a->cur + a->used - 5;
            }
            break;
        case 2: /* exactly 255 steps of 8: still a delta */
        case 3: /* exactly 256 steps: an escape */
        {
            size_t step = (size_t)(255 + (g_rand_int_range(a->rnd, 0, 2))) * 8;
            if (a->cur && a->used + step + 64 <= ARENA_BLOCK) {
                a->used += step;
                return a->cur + a->used;
            }
            break;
        }
        default: /* the same record again (distance 0) */
            if (a->cur)
                return a->cur + a->used;
            break;
        }
    }
    size_t step = (size_t)g_rand_int_range(a->rnd, 1, 6) * 8;
    if (!a->cur || a->used + step + 64 > ARENA_BLOCK) {
        a->cur = g_malloc(ARENA_BLOCK);
        g_ptr_array_add(a->blocks, a->cur);
        a->used = 0;
        return a->cur;
    }
    a->used += step;
    return a->cur + a->used;
}

/* ---- scenarios ---- */

/* A capture: frames with gaps (some over several blocks), per frame 1-3 SIP messages mostly 1,
 * of which a random subset has a record; odds per 1000. */
typedef struct {
    unsigned frames;
    unsigned gap;      /* per 1000 frames: a gap of 1-300 frames before */
    unsigned multi;    /* per 1000 frames: 2-4 SIP messages (rarely up to 300) */
    unsigned odd_addr; /* see arena */
    guint32 seed;
} scenario;

static void run_scenario(const scenario *s)
{
    GRand *rnd = g_rand_new_with_seed(s->seed);
    arena a;
    arena_init(&a, rnd, s->odd_addr);
    ref_index ref;
    ref_init(&ref);
    rec_index *ix = rec_index_new();
    uint32_t frame = (uint32_t)g_rand_int_range(rnd, 0, 3);
    const void *recs[300];
    uint16_t pdu[300];
    for (unsigned i = 0; i < s->frames; i++) {
        if ((unsigned)g_rand_int_range(rnd, 0, 1000) < s->gap)
            frame += (uint32_t)g_rand_int_range(rnd, 1, 300);
        unsigned npdus = 1;
        if ((unsigned)g_rand_int_range(rnd, 0, 1000) < s->multi)
            npdus = g_rand_int_range(rnd, 0, 20) ? (unsigned)g_rand_int_range(rnd, 2, 5)
                                                 : (unsigned)g_rand_int_range(rnd, 60, 300);
        unsigned n = 0;
        for (unsigned p = 0; p < npdus; p++) {
            /* plain frames always keep their message; in others some messages have nothing */
            if (npdus == 1 || g_rand_int_range(rnd, 0, 3)) {
                recs[n] = arena_next(&a);
                pdu[n++] = (uint16_t)p;
            }
        }
        both_add(ix, &ref, frame, n, recs, npdus == 1 ? NULL : pdu, (uint16_t)npdus);
        frame++;
    }
    check_all(ix, &ref, rnd);
    rec_index_free(ix);
    ref_free(&ref);
    arena_free(&a);
    g_rand_free(rnd);
}

static void test_empty(void **state)
{
    rec_index *ix = rec_index_new();
    rec_index_hit hit;
    uint32_t frames[] = { 0, 1, 63, 64, 65, 1000, 1000000, G_MAXUINT32 };
    for (size_t i = 0; i < G_N_ELEMENTS(frames); i++) {
        assert_int_equal(rec_index_find(ix, frames[i], &hit), 0);
        assert_int_equal(hit.n, 0);
    }
    assert_int_equal(rec_index_count(ix), 0);
    assert_int_equal(rec_index_bytes(ix), 0);
    /* nothing to store: refused, and the frame can still be stored later */
    const void *r = &hit;
    assert_int_equal(rec_index_add(ix, 5, 0, NULL, NULL, 1), 0);
    assert_int_equal(rec_index_find(ix, 5, &hit), 0);
    assert_int_equal(rec_index_add(ix, 5, 1, &r, NULL, 1), 1);
    assert_int_equal(rec_index_find(ix, 5, &hit), 1);
    const void *got = NULL;
    rec_index_get(ix, &hit, &got);
    assert_ptr_equal(got, r);
    /* cleared: empty again */
    rec_index_clear(ix);
    for (size_t i = 0; i < G_N_ELEMENTS(frames); i++)
        assert_int_equal(rec_index_find(ix, frames[i], &hit), 0);
    assert_int_equal(rec_index_count(ix), 0);
    rec_index_free(ix);
    rec_index_free(NULL);
}

/* Frame 0, out-of-order and repeated frames (a frame dissected twice), message 2 of 2, a frame
 * at the end of a block and one far beyond. */
static void test_small(void **state)
{
    static guint64 mem[64];
    rec_index *ix = rec_index_new();
    ref_index ref;
    ref_init(&ref);
    const void *r1[] = { &mem[0] }, *r2[] = { &mem[1], &mem[3] }, *r3[] = { &mem[2] };
    uint16_t p01[] = { 0, 1 }, p1[] = { 1 }, p0[] = { 0 };
    both_add(ix, &ref, 0, 1, r1, NULL, 1);
    both_add(ix, &ref, 0, 1, r3, NULL, 1);         /* again: refused */
    both_add(ix, &ref, 3, 2, r2, p01, 2);          /* two messages */
    both_add(ix, &ref, 2, 1, r3, NULL, 1);         /* backward: refused */
    both_add(ix, &ref, 4, 1, r3, p1, 2);           /* message 2 of 2 only */
    both_add(ix, &ref, 5, 1, r1, p0, 2);           /* message 1 of 2 only */
    both_add(ix, &ref, 6, 1, r1, p0, 1);           /* plain, with pdu given */
    both_add(ix, &ref, 63, 2, r2, p01, 3);         /* last frame of block 0 */
    both_add(ix, &ref, 64, 1, r1, NULL, 1);        /* first of block 1 */
    both_add(ix, &ref, 64 * 50 + 7, 2, r2, p01, 2); /* after 48 empty blocks */
    both_add(ix, &ref, 64 * 50 + 7, 1, r1, NULL, 1); /* again: refused */
    GRand *rnd = g_rand_new_with_seed(7);
    check_all(ix, &ref, rnd);
    /* cleared, then reused with other records */
    rec_index_clear(ix);
    ref_free(&ref);
    ref_init(&ref);
    both_add(ix, &ref, 10, 1, r3, p1, 2);
    both_add(ix, &ref, 11, 2, r2, p01, 2);
    check_all(ix, &ref, rnd);
    g_rand_free(rnd);
    ref_free(&ref);
    rec_index_free(ix);
}

/* One frame with more records than a checkpoint run, and records far apart everywhere. */
static void test_many_in_a_frame(void **state)
{
    static guint64 mem[4096];
    rec_index *ix = rec_index_new();
    ref_index ref;
    ref_init(&ref);
    const void *recs[300];
    uint16_t pdu[300];
    for (unsigned i = 0; i < 300; i++) {
        recs[i] = &mem[(i * 37) % 4096]; /* forward, backward, far */
        pdu[i] = (uint16_t)(i * 2 + 1);
    }
    both_add(ix, &ref, 1, 1, recs, NULL, 1);
    both_add(ix, &ref, 2, 300, recs, pdu, 601);
    both_add(ix, &ref, 3, 1, recs + 5, NULL, 1);
    both_add(ix, &ref, 4, 200, recs + 100, pdu, 401);
    both_add(ix, &ref, 70, 1, recs + 7, NULL, 1);
    GRand *rnd = g_rand_new_with_seed(11);
    check_all(ix, &ref, rnd);
    g_rand_free(rnd);
    ref_free(&ref);
    rec_index_free(ix);
}

/* A typical capture: one SIP message per frame, every frame with a record, the records one
 * after the other in the core's arena. About 1.5 bytes per record. */
static void test_plain_arena(void **state)
{
    scenario s = { .frames = 20000, .seed = 1 };
    run_scenario(&s);

    GRand *rnd = g_rand_new_with_seed(2);
    arena a;
    arena_init(&a, rnd, 0);
    rec_index *ix = rec_index_new();
    for (uint32_t f = 1; f <= 100000; f++) {
        const void *r = arena_next(&a);
        assert_int_equal(rec_index_add(ix, f, 1, &r, NULL, 1), 1);
    }
    double per = (double)rec_index_bytes(ix) / (double)rec_index_count(ix);
    print_message("rec_index: %.3f bytes per record (%u arena blocks)\n", per, a.blocks->len);
    assert_true(per >= 1.0 && per <= 1.6);
    rec_index_free(ix);
    arena_free(&a);
    g_rand_free(rnd);
}

static void test_mixed(void **state)
{
    const scenario s[] = {
        { .frames = 5000, .gap = 50, .multi = 0, .odd_addr = 0, .seed = 3 },
        { .frames = 5000, .gap = 50, .multi = 30, .odd_addr = 20, .seed = 4 },
        { .frames = 3000, .gap = 300, .multi = 300, .odd_addr = 100, .seed = 5 },
        { .frames = 3000, .gap = 0, .multi = 900, .odd_addr = 500, .seed = 6 },
        { .frames = 2000, .gap = 900, .multi = 100, .odd_addr = 1000, .seed = 8 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(s); i++)
        run_scenario(&s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_many_in_a_frame),
        cmocka_unit_test(test_plain_arena),
        cmocka_unit_test(test_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
