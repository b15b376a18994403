/* results.h - what the core tells the glue about one SIP message (plain structs), and how long
 * those results live.
 *
 * Results are computed once, on the first pass, and kept for the whole capture: the glue stores
 * the pointers with the frame and renders them on every pass. They are owned by a result_store
 * (the tracker's) and freed with it. Messages without MS-SIPAE headers or notes all share one
 * empty result, and empty note lists are dropped, so a capture of mostly unsigned SIP costs
 * nothing per message.
 */
#ifndef MSSIPAE_RESULTS_H
#define MSSIPAE_RESULTS_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "verify/verdict.h"

typedef enum {
    AH_CHALLENGE = 0,   /* WWW-Authenticate, Proxy-Authenticate */
    AH_CREDENTIALS,     /* Authorization, Proxy-Authorization */
    AH_INFO,            /* Authentication-Info, Proxy-Authentication-Info */
} ah_kind;

/* One MS-SIPAE auth header of a message and what became of it. */
typedef struct {
    char *name;              /* header name as on the wire */
    ah_kind kind;
    int proxy;               /* 1 for the Proxy-* family (407 / Proxy-Authorization / Proxy-Authentication-Info) */
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
    uint32_t unsigned_sa;    /* the signing SA of an unsigned message (its NOTE_UNSIGNED note),
                                0 when none; for statistics */
    mssipae_dir unsigned_dir; /* then: which way the unsigned message travelled */
} msg_result;

typedef struct result_store result_store;

result_store *result_store_new(void);
void result_store_free(result_store *rs);

/* A new result for one message (parsed = 0, no auths, an empty note list), owned by rs. */
msg_result *result_new(result_store *rs);

/* Frees one auth_result (the GDestroyNotify of msg_result.auths). */
void auth_result_free(gpointer p);

/* Finishes the newest result r of rs for keeping: drops empty note lists; a result with no
 * auth header and no note is freed and the shared empty result returned instead. */
const msg_result *result_keep(result_store *rs, msg_result *r);

#endif
