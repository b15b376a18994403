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

/* Processes one SIP message (capture order, first pass only) and returns the record kept of
 * it (results.h): the outcome of every auth header, never NULL; messages without MS-SIPAE
 * headers or notes all share one empty record. result_expand() with the same bytes gives the
 * full result. This is what the dissector keeps per message. */
const msg_rec *sa_tracker_process_rec(sa_tracker *t, const char *msg, size_t len,
                                      const msg_meta *meta);

/* The same, returning the full result (every parameter, the signature buffer), kept by the
 * tracker until sa_tracker_free: for tests and tools, which keep pointers to several results.
 * Costs a full result per message: the dissector uses sa_tracker_process_rec. */
const msg_result *sa_tracker_process(sa_tracker *t, const char *msg, size_t len,
                                     const msg_meta *meta);

/* Number of SAs created so far (ids 1 .. count). */
/* The store the records of sa_tracker_process_rec live in (result_expand, auth_rec_*). */
const result_store *sa_tracker_results(const sa_tracker *t);

/* The full result of a record of this tracker, re-created from the message's bytes
 * (result_expand), with each header's sa_frame from its SA; NULL when the bytes do not give the
 * record's headers. Free with msg_result_free. With explain, a NOTE_LATER note (see
 * sa_tracker_set_later) is replaced by the notes it stands for, as the first pass would have
 * made them at once; without, it is left out (the notes are those of the records: what
 * msg_rec_auth_notes and auth_rec_verdict_note give, less NOTE_LATER). */
msg_result *sa_tracker_expand(const sa_tracker *t, const msg_rec *k, const char *msg, size_t len,
                              int explain);

/* later 1: a diagnostic that costs a MAC and cannot change a verdict (NTLM: does a wrong
 * signature match the other direction's keys?) is not made on the first pass but left, as a
 * NOTE_LATER note of the record, to sa_tracker_expand with explain, which makes it from the
 * message's bytes when a reader shows the notes. The verdict and reason are the same either
 * way, and so are the notes explain gives. 0 (the default): made at once. The dissector sets
 * 1 on a first pass that reads no expert infos (tshark -q), 0 where they are read (-V,
 * -z expert); sa_tracker_process always explains. */
void sa_tracker_set_later(sa_tracker *t, int later);
uint32_t sa_tracker_count(const sa_tracker *t);

/* What the tracker knows about one SA, for statistics. Strings are borrowed from the tracker
 * (valid until the next sa_tracker_process or sa_tracker_free) except client_name. */
typedef struct {
    uint32_t id;
    uint32_t first_frame;    /* where the handshake (or the SA) started */
    uint32_t last_frame;     /* the last frame with a header of this SA */
    const char *scheme;
    int has_version;
    unsigned version;
    const char *realm, *targetname;
    const char *opaque;      /* primary opaque, NULL when the server never named one */
    size_t n_aliases;        /* further opaques naming the SA */
    char *client_name;       /* user / client principal when known (g_malloc'd), else NULL */
    const char *client_ep, *server_ep; /* NULL when unknown */
    int implicit;            /* made from a key-log entry: handshake not in the capture */
} sa_info;

/* Fills *out for SA id (1 .. count): 1, or 0 for an unknown id. Clear with sa_info_clear. */
int sa_tracker_info(const sa_tracker *t, uint32_t id, sa_info *out);
void sa_info_clear(sa_info *i);

/* The derived per-SA keys of every SA as a key-log file (design.md format, one line per SA
 * and opaque, "#" comments naming the SA): reopening the capture with only this file gives the
 * same verdicts. g_malloc'd; *lines (may be NULL) receives the number of key lines. Contains
 * session keys only: never a password, NT hash or long-term key. */
char *sa_tracker_export_keys(const sa_tracker *t, size_t *lines);

#endif
