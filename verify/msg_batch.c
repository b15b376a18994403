/* msg_batch.c - SIP messages kept to be verified later, together (see msg_batch.h). */
#include "verify/msg_batch.h"

#include <glib.h>
#include <limits.h>
#include <string.h>

struct msg_batch {
    unsigned max_frames;
    size_t max_bytes;
    unsigned nframes;
    msg_batch_frame *frames; /* max_frames */
    msg_batch_msg *msgs;     /* nmsgs of cap */
    unsigned nmsgs, cap;
    char *bytes;             /* max_bytes, allocated once: the copies never move */
    size_t used;
};

msg_batch *msg_batch_new(unsigned max_frames, size_t max_bytes)
{
    if (!max_frames || !max_bytes)
        return NULL;
    msg_batch *b = g_new0(msg_batch, 1);
    b->max_frames = max_frames;
    b->max_bytes = max_bytes;
    b->frames = g_new0(msg_batch_frame, max_frames);
    b->cap = max_frames;
    b->msgs = g_new(msg_batch_msg, b->cap);
    b->bytes = g_malloc(max_bytes);
    return b;
}

void msg_batch_free(msg_batch *b)
{
    if (!b)
        return;
    g_free(b->frames);
    g_free(b->msgs);
    g_free(b->bytes);
    g_free(b);
}

void msg_batch_clear(msg_batch *b)
{
    if (!b)
        return;
    b->nframes = 0;
    b->used = 0;
    b->nmsgs = 0;
}

static size_t text_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* The bytes of n messages after total bytes of other copies; SIZE_MAX when too many. */
static size_t msgs_bytes(size_t total, unsigned n, const size_t *lens)
{
    for (unsigned i = 0; i < n; i++) {
        if (lens[i] > SIZE_MAX / 2 - total)
            return SIZE_MAX;
        total += lens[i];
    }
    return total;
}

size_t msg_batch_frame_bytes(const msg_meta *meta, unsigned n, const size_t *lens)
{
    return msgs_bytes(text_bytes(meta->src) + text_bytes(meta->dst), n, lens);
}

/* A copy of n bytes in the batch's memory (room checked by the caller). */
static const char *keep(msg_batch *b, const char *p, size_t n)
{
    char *dst = b->bytes + b->used;
    if (n)
        memcpy(dst, p, n);
    b->used += n;
    return dst;
}

int msg_batch_add(msg_batch *b, const msg_meta *meta, unsigned n, const char *const *msgs,
                  const size_t *lens, const msg_batch_msg *where)
{
    if (!b || !n || b->nframes == b->max_frames || n > UINT_MAX - b->nmsgs)
        return 0;
    size_t ls = text_bytes(meta->src), ld = text_bytes(meta->dst);
    if (msgs_bytes(ls + ld, n, lens) > b->max_bytes - b->used)
        return 0;
    if (G_UNLIKELY(b->nmsgs + n > b->cap)) {
        b->cap = MAX(b->cap * 2, b->nmsgs + n);
        b->msgs = g_renew(msg_batch_msg, b->msgs, b->cap);
    }
    msg_batch_frame *f = &b->frames[b->nframes++];
    f->meta.frame = meta->frame;
    f->meta.src = ls ? keep(b, meta->src, ls) : NULL;
    f->meta.dst = ld ? keep(b, meta->dst, ld) : NULL;
    f->first = b->nmsgs;
    f->n = n;
    for (unsigned i = 0; i < n; i++) {
        msg_batch_msg *m = &b->msgs[b->nmsgs++];
        m->msg = keep(b, msgs[i], lens[i]);
        m->len = lens[i];
        m->source = where ? where[i].source : 0;
        m->offset = where ? where[i].offset : 0;
    }
    return 1;
}

unsigned msg_batch_frames(const msg_batch *b)
{
    return b ? b->nframes : 0;
}

int msg_batch_full(const msg_batch *b)
{
    return !b || b->nframes == b->max_frames;
}

const msg_batch_frame *msg_batch_frame_at(const msg_batch *b, unsigned i)
{
    return b && i < b->nframes ? &b->frames[i] : NULL;
}

const msg_batch_msg *msg_batch_msg_at(const msg_batch *b, unsigned j)
{
    return b && j < b->nmsgs ? &b->msgs[j] : NULL;
}
