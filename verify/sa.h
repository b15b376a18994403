/* sa.h - the security-association tracker: the core's one entry point for the glue.
 *
 * The glue feeds every SIP message of the capture, in capture order and on the first pass
 * only, as plain bytes plus a little metadata; the tracker parses the MS-SIPAE auth headers,
 * follows the SAs (handshake tokens to the mechanisms, the server's opaque, the version from
 * the challenge, cnum/snum bookkeeping), rebuilds the signature buffer of every signed header,
 * asks the SA's mechanism for a verdict, and returns a plain result struct.
 *
 * Results are owned by the tracker and stay valid until sa_tracker_free() (the glue stores the
 * pointers with the frame and renders them on every pass without recomputing).
 */
#ifndef MSSIPAE_SA_H
#define MSSIPAE_SA_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "keytab/keystore.h"
#include "verify/results.h"
#include "verify/verdict.h"

typedef struct sa_tracker sa_tracker;

/* Where a message travelled. Endpoints are free-form but stable strings ("10.0.0.1:5060");
 * they are hints for matching SAs, never required. */
typedef struct {
    uint32_t frame;
    const char *src;
    const char *dst;
} msg_meta;

/* ks is borrowed and must outlive the tracker. */
sa_tracker *sa_tracker_new(keystore *ks);
void sa_tracker_free(sa_tracker *t);

/* Processes one SIP message (capture order, first pass only). Never NULL; messages without
 * MS-SIPAE headers or notes all share one empty result (parsed = 1, no auths). */
const msg_result *sa_tracker_process(sa_tracker *t, const char *msg, size_t len,
                                     const msg_meta *meta);

/* Number of SAs created so far. */
uint32_t sa_tracker_count(const sa_tracker *t);

#endif
