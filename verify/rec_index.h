/* rec_index.h - frame number -> stored records, compact (about 1.5 bytes per stored record).
 *
 * The glue keeps, on the first pass, the records of the SIP messages that have something to
 * show, and finds them again by frame number on every later pass. This index holds them:
 * records are opaque pointers (the index never reads through them), added frame by frame in
 * increasing frame order, several per frame possible, each tagged with which SIP message of the
 * frame it belongs to (pdu) and how many the frame had (npdus).
 *
 * Memory, about 1.5 bytes per stored record when records sit a few words apart (the core's
 * arena) and frames are dense:
 *   - the pointers, in order, delta-coded: 1 byte each (distance in 8-byte units, 1-255; 0 for
 *     an "escape", a whole pointer kept aside: a new arena block, a backward or far address),
 *     plus a whole pointer every 64 records (a checkpoint);
 *   - per 64 frame numbers, a block: a bit per frame that has records, the position of the
 *     block's first record, and whether an "odd" frame is in it (0.25 byte per frame);
 *   - the odd frames (several records, or a record that is not "SIP message 0 of 1") keep one
 *     8-byte position per record, in frame order.
 * Look-ups are O(1) when they go in frame order (every pass does): cursors remember where the
 * previous one ended; any other order costs at most 63 delta bytes plus a binary search over
 * the odd positions.
 *
 * No Wireshark header; not thread-safe (look-ups move the cursors).
 */
#ifndef MSSIPAE_REC_INDEX_H
#define MSSIPAE_REC_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct rec_index rec_index;

/* Where a record of an odd frame belongs. */
typedef struct {
    uint32_t frame;
    uint16_t pdu;   /* which SIP message of the frame */
    uint16_t npdus; /* how many the frame had when stored */
} rec_index_pos;

/* The result of a look-up: valid until the next rec_index_add / rec_index_clear. */
typedef struct {
    unsigned n;               /* records stored for the frame, 0: none */
    unsigned first;           /* private: position of its first record */
    const rec_index_pos *odd; /* private: its n positions, NULL for a plain frame */
} rec_index_hit;

rec_index *rec_index_new(void);
void rec_index_free(rec_index *ix);
/* Forgets every record (keeps the allocations for the next file). */
void rec_index_clear(rec_index *ix);

/* Stores the n records of frame: recs[i] belongs to SIP message pdu[i] of npdus (pdu may be
 * NULL when n == 1: message 0). Frames must come in increasing order: a frame not after the
 * last one stored (a frame dissected twice) is ignored whole, and 0 is returned; n == 0 stores
 * nothing and returns 0. 1 when stored. */
int rec_index_add(rec_index *ix, uint32_t frame, unsigned n, const void *const *recs,
                  const uint16_t *pdu, uint16_t npdus);

/* The records stored for frame: returns their number (also hit->n), 0 for none. */
unsigned rec_index_find(rec_index *ix, uint32_t frame, rec_index_hit *hit);

/* The hit->n records of a look-up, in the order they were added, into out[0 .. hit->n - 1]. */
void rec_index_get(rec_index *ix, const rec_index_hit *hit, const void **out);

/* Which SIP message of the frame record i belongs to, and how many the frame had. */
static inline unsigned rec_index_pdu(const rec_index_hit *hit, unsigned i)
{
    return hit->odd ? hit->odd[i].pdu : 0;
}
static inline unsigned rec_index_npdus(const rec_index_hit *hit)
{
    return hit->odd ? hit->odd[0].npdus : 1;
}

/* Records stored, and the bytes the index uses for them (array lengths, not capacities). */
size_t rec_index_count(const rec_index *ix);
size_t rec_index_bytes(const rec_index *ix);

#endif
