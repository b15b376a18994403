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
#include "verify/verdict.h"

typedef struct sa_tracker sa_tracker;

/* Where a message travelled. Endpoints are free-form but stable strings ("10.0.0.1:5060");
 * they are hints for matching SAs, never required. */
typedef struct {
    uint32_t frame;
    const char *src;
    const char *dst;
} msg_meta;

typedef enum {
    AH_CHALLENGE = 0,   /* WWW-Authenticate, Proxy-Authenticate */
    AH_CREDENTIALS,     /* Authorization, Proxy-Authorization */
    AH_INFO,            /* Authentication-Info, Proxy-Authentication-Info */
} ah_kind;

/* One MS-SIPAE auth header of a message and what became of it. */
typedef struct {
    char *name;              /* header name as on the wire */
    ah_kind kind;
    mssipae_dir dir;         /* sender: C2S for credentials, S2C for challenges and *-Info */
    size_t line_off, line_len; /* the header line(s) within the message */
    char *scheme;            /* as on the wire; NULL when unparseable */
    char *realm, *targetname, *opaque, *qop; /* unquoted, NULL when absent */
    char *rand;              /* crand (credentials) or srand (info), NULL when absent */
    char *num_str;           /* cnum / snum as sent */
    int has_num;
    uint32_t num;
    int has_version;
    unsigned version;        /* the header's own version, or the SA's (has_version then 2) */
    int version_from_sa;     /* 1 when version was not in the header */
    int has_sig;             /* response= / rspauth= present */
    uint8_t *sig;            /* decoded signature (NULL when not hex) */
    size_t sig_len;
    int has_gss;             /* gssapi-data present (possibly empty) */
    uint8_t *gss;            /* decoded gssapi-data (NULL when not base64 or empty) */
    size_t gss_len;
    char *sigbuf;            /* rebuilt signature buffer (signed headers only), NUL-terminated */
    size_t sigbuf_len;       /* its length in bytes */
    uint32_t sa_id;          /* 0 when no SA */
    uint32_t sa_frame;       /* frame where the SA's handshake started */
    sig_status status;       /* SIG_NONE when the header carries no signature */
    char *why;               /* reason for status (NULL for VALID without detail) */
    GPtrArray *other_params; /* "name=value" (unquoted) of parameters MS-SIPAE does not define, in order */
    note_list *notes;        /* expert infos about this header (NULL when none) */
} auth_result;

typedef struct {
    int parsed;              /* 0: not a SIP message (notes say why) */
    int is_request;
    int status_code;
    GPtrArray *auths;        /* auth_result*, in message order */
    note_list *notes;        /* message-level notes (e.g. an unsigned message on a signing SA);
                                NULL when none */
} msg_result;

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
