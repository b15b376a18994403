/* test_msg_batch.c - the batch of messages verified later (verify/msg_batch.c): copies that
 * outlive and never alias the caller's bytes, frames and messages in the order added, the
 * caller's source and offset kept, NULL endpoints, the frame and byte limits (a frame that does
 * not fit adds nothing; one larger than the batch never fits), clear and reuse with the copies
 * at the same place, and the degenerate arguments.
 *
 * Regression list: (none yet)
 */
#include "testutil.h"

#include <string.h>

#include "verify/msg_batch.h"

static int add_one(msg_batch *b, uint32_t frame, const char *src, const char *dst, const char *m1,
                   const char *m2)
{
    msg_meta meta = { .frame = frame, .src = src, .dst = dst };
    const char *msgs[2] = { m1, m2 };
    size_t lens[2] = { strlen(m1), m2 ? strlen(m2) : 0 };
    msg_batch_msg where[2] = { { NULL, 0, 7, 100 }, { NULL, 0, 8, 200 } };
    return msg_batch_add(b, &meta, m2 ? 2 : 1, msgs, lens, where);
}

static void test_copies_in_order(void **state)
{
    (void)state;
    msg_batch *b = msg_batch_new(8, 4096);
    assert_non_null(b);
    char m1[] = "INVITE sip:a SIP/2.0\r\n\r\n";
    char m2[] = "SIP/2.0 200 OK\r\n\r\n";
    char src[] = "10.0.0.1:5061", dst[] = "10.0.0.2:5061";
    assert_int_equal(add_one(b, 5, src, dst, m1, m2), 1);
    assert_int_equal(add_one(b, 9, NULL, "x", "ACK\r\n\r\n", NULL), 1);
    /* the caller's buffers are reused: the batch keeps its own copies */
    memset(m1, 'Z', sizeof m1 - 1);
    memset(m2, 'Z', sizeof m2 - 1);
    memset(src, 'Z', sizeof src - 1);
    assert_int_equal(msg_batch_frames(b), 2);
    assert_false(msg_batch_full(b));

    const msg_batch_frame *f0 = msg_batch_frame_at(b, 0), *f1 = msg_batch_frame_at(b, 1);
    assert_non_null(f0);
    assert_non_null(f1);
    assert_null(msg_batch_frame_at(b, 2));
    assert_int_equal(f0->meta.frame, 5);
    assert_string_equal(f0->meta.src, "10.0.0.1:5061");
    assert_string_equal(f0->meta.dst, "10.0.0.2:5061");
    assert_int_equal(f0->first, 0);
    assert_int_equal(f0->n, 2);
    const msg_batch_msg *a = msg_batch_msg_at(b, 0), *c = msg_batch_msg_at(b, 1);
    assert_int_equal(a->len, strlen("INVITE sip:a SIP/2.0\r\n\r\n"));
    assert_memory_equal(a->msg, "INVITE sip:a SIP/2.0\r\n\r\n", a->len);
    assert_ptr_not_equal(a->msg, m1);
    assert_int_equal(a->source, 7);
    assert_int_equal(a->offset, 100);
    assert_memory_equal(c->msg, "SIP/2.0 200 OK\r\n\r\n", c->len);
    assert_int_equal(c->source, 8);
    assert_int_equal(c->offset, 200);

    assert_int_equal(f1->meta.frame, 9);
    assert_null(f1->meta.src);
    assert_string_equal(f1->meta.dst, "x");
    assert_int_equal(f1->first, 2);
    assert_int_equal(f1->n, 1);
    assert_memory_equal(msg_batch_msg_at(b, 2)->msg, "ACK\r\n\r\n", 7);
    assert_null(msg_batch_msg_at(b, 3));
    msg_batch_free(b);
}

static void test_frame_limit(void **state)
{
    (void)state;
    msg_batch *b = msg_batch_new(3, 1 << 16);
    for (uint32_t f = 1; f <= 3; f++) {
        assert_false(msg_batch_full(b));
        assert_int_equal(add_one(b, f, "s", "d", "M\r\n\r\n", NULL), 1);
    }
    assert_true(msg_batch_full(b));
    assert_int_equal(add_one(b, 4, "s", "d", "M\r\n\r\n", NULL), 0);
    assert_int_equal(msg_batch_frames(b), 3);
    assert_null(msg_batch_msg_at(b, 3)); /* nothing of the refused frame */
    msg_batch_clear(b);
    assert_int_equal(msg_batch_frames(b), 0);
    assert_false(msg_batch_full(b));
    assert_null(msg_batch_msg_at(b, 0));
    assert_int_equal(add_one(b, 4, "s", "d", "M\r\n\r\n", NULL), 1);
    assert_int_equal(msg_batch_frame_at(b, 0)->meta.frame, 4);
    msg_batch_free(b);
}

static void test_byte_limit(void **state)
{
    (void)state;
    /* "s\0" + "d\0" + 10 bytes = 14 per frame: three fit in 42, not four */
    msg_batch *b = msg_batch_new(100, 42);
    msg_meta meta = { .frame = 1, .src = "s", .dst = "d" };
    size_t ten = 10;
    assert_int_equal(msg_batch_frame_bytes(&meta, 1, &ten), 14);
    const char *first = NULL;
    for (uint32_t f = 1; f <= 3; f++) {
        assert_int_equal(add_one(b, f, "s", "d", "0123456789", NULL), 1);
        if (f == 1)
            first = msg_batch_msg_at(b, 0)->msg;
    }
    /* the copies never move: the first one is where it was */
    assert_ptr_equal(msg_batch_msg_at(b, 0)->msg, first);
    assert_memory_equal(first, "0123456789", 10);
    assert_int_equal(add_one(b, 4, "s", "d", "0123456789", NULL), 0);
    assert_int_equal(msg_batch_frames(b), 3);
    assert_null(msg_batch_msg_at(b, 3));
    /* nor does a smaller frame: the batch is full to the byte */
    assert_int_equal(add_one(b, 4, NULL, NULL, "012345", NULL), 0);
    msg_batch_clear(b);
    /* after clear the same memory is used again */
    assert_int_equal(add_one(b, 5, "s", "d", "abcdefghij", NULL), 1);
    assert_ptr_equal(msg_batch_msg_at(b, 0)->msg, first);
    assert_int_equal(msg_batch_frames(b), 1);
    /* a frame larger than the whole batch never fits */
    msg_batch_clear(b);
    char big[64];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(add_one(b, 6, NULL, NULL, big, NULL), 0);
    assert_int_equal(msg_batch_frames(b), 0);
    /* exactly the room left fits */
    char fits[43];
    memset(fits, 'y', 42);
    fits[42] = '\0';
    assert_int_equal(add_one(b, 6, NULL, NULL, fits, NULL), 1);
    assert_int_equal(add_one(b, 7, NULL, NULL, "", NULL), 1); /* an empty message: 0 bytes */
    assert_int_equal(msg_batch_msg_at(b, 1)->len, 0);
    msg_batch_free(b);
}

static void test_degenerate(void **state)
{
    (void)state;
    assert_null(msg_batch_new(0, 10));
    assert_null(msg_batch_new(10, 0));
    msg_batch_free(NULL);
    msg_batch_clear(NULL);
    assert_int_equal(msg_batch_frames(NULL), 0);
    assert_true(msg_batch_full(NULL));
    assert_null(msg_batch_frame_at(NULL, 0));
    assert_null(msg_batch_msg_at(NULL, 0));
    msg_meta meta = { .frame = 1 };
    const char *m = "x";
    size_t len = 1;
    assert_int_equal(msg_batch_add(NULL, &meta, 1, &m, &len, NULL), 0);
    msg_batch *b = msg_batch_new(2, 16);
    assert_int_equal(msg_batch_add(b, &meta, 0, &m, &len, NULL), 0); /* no message: no frame */
    assert_int_equal(msg_batch_frames(b), 0);
    /* where may be NULL: source and offset 0 */
    assert_int_equal(msg_batch_add(b, &meta, 1, &m, &len, NULL), 1);
    assert_int_equal(msg_batch_msg_at(b, 0)->source, 0);
    assert_int_equal(msg_batch_msg_at(b, 0)->offset, 0);
    /* lengths whose sum overflows are refused, not wrapped */
    const char *two[2] = { "a", "b" };
    size_t huge[2] = { SIZE_MAX / 2, SIZE_MAX / 2 };
    assert_int_equal(msg_batch_frame_bytes(&meta, 2, huge), SIZE_MAX);
    assert_int_equal(msg_batch_add(b, &meta, 2, two, huge, NULL), 0);
    assert_int_equal(msg_batch_frames(b), 1);
    msg_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_in_order),
        cmocka_unit_test(test_frame_limit),
        cmocka_unit_test(test_byte_limit),
        cmocka_unit_test(test_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
