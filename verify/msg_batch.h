/* msg_batch.h - SIP messages kept to be verified later, together, in capture order.
 *
 * Verifying one message when its frame is dissected runs the whole verifier (SIP and
 * auth-parameter parsers, signature buffer, SA tables, the MAC) once per frame, in between
 * Wireshark's own per-frame work: its code and data are fetched again for every frame
 * (bench/cachesim.py: ~530-640 first-level instruction-cache misses per frame, against ~100-160
 * for the crypto alone). When nobody reads a frame's results while it is dissected (the first
 * pass of tshark -2, tshark -q, the GUI reading a file), the glue copies the frame's SIP
 * messages here instead and runs them all at once when the batch is full, when the pass ends,
 * or before anything reads a result: the same messages, in the same order, through the same
 * tracker, so every verdict is the one the frame would have had.
 *
 * A batch holds at most max_frames frames and max_bytes bytes of copies (messages and
 * endpoint texts); its memory is allocated once. No Wireshark header; not thread-safe.
 */
#ifndef MSSIPAE_MSG_BATCH_H
#define MSSIPAE_MSG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "verify/sa.h"

typedef struct msg_batch msg_batch;

/* One copied message, and where it lay in its frame (the caller's: kept, never read here). */
typedef struct {
    const char *msg;
    size_t len;
    uint32_t source; /* e.g. which data source of the frame */
    int32_t offset;  /* e.g. the offset in it */
} msg_batch_msg;

/* One frame: its meta (frame number and copies of the endpoint texts; NULL stays NULL) and its
 * messages first .. first + n - 1 (msg_batch_msg_at). */
typedef struct {
    msg_meta meta;
    unsigned first;
    unsigned n;
} msg_batch_frame;

/* NULL when max_frames or max_bytes is 0. */
msg_batch *msg_batch_new(unsigned max_frames, size_t max_bytes);
void msg_batch_free(msg_batch *b);
/* Forgets every frame (keeps the memory). */
void msg_batch_clear(msg_batch *b);

/* Appends a frame with its n messages (msgs[i], lens[i] bytes; where[i] the caller's source and
 * offset, may be NULL), copying them and meta's endpoint texts. 1 when added; 0 when it does
 * not fit in what is left (then nothing is added: the caller runs the batch, then retries or
 * verifies the frame at once) or n is 0. A frame that could never fit (more bytes than
 * max_bytes) is never added. */
int msg_batch_add(msg_batch *b, const msg_meta *meta, unsigned n, const char *const *msgs,
                  const size_t *lens, const msg_batch_msg *where);

/* Frames held, and whether another frame can be added at all (frames left). */
unsigned msg_batch_frames(const msg_batch *b);
int msg_batch_full(const msg_batch *b);
/* Bytes a frame of these messages and endpoints takes (what msg_batch_add checks). */
size_t msg_batch_frame_bytes(const msg_meta *meta, unsigned n, const size_t *lens);

/* Frame i (0 .. msg_batch_frames - 1), in the order added; message j of the batch. Valid until
 * msg_batch_clear / msg_batch_free. */
const msg_batch_frame *msg_batch_frame_at(const msg_batch *b, unsigned i);
const msg_batch_msg *msg_batch_msg_at(const msg_batch *b, unsigned j);

#endif
