/* results.h - what the core tells the glue about one SIP message (plain structs), and how long
 * those results live.
 *
 * Results are computed once, on the first pass. What is kept for the whole capture is a small
 * record per message (msg_rec: the outcome of each auth header); the glue stores the pointer
 * with the frame, uses it on every pass for the Info column, the expert infos and the taps, and
 * re-creates the full result (msg_result: parameters, signature, buffer) from the frame's bytes
 * only when a tree shows it. Records are owned by a result_store (the tracker's) and freed with
 * it. Messages without MS-SIPAE headers or notes all share one empty record, so a capture of
 * mostly unsigned SIP costs nothing per message.
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
    char *name;              /* header name as on the wire (name_buf when it fits) */
    char name_buf[32];
    ah_kind kind;
    int proxy;               /* 1 for the Proxy-* family (407 / Proxy-Authorization / Proxy-Authentication-Info) */
    mssipae_dir dir;         /* sender: C2S for credentials, S2C for challenges and *-Info */
    size_t line_off, line_len; /* the header line(s) within the message */
    /* scheme, realm, targetname, opaque, qop, rand and num_str point into strings (one
     * allocation, owned by the result): never free them one by one */
    char *strings;
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
    uint32_t sa_frame;       /* frame where the SA's handshake started (not in the record:
                                result_expand leaves 0, its caller puts the SA's back) */
    sig_status status;       /* SIG_NONE when the header carries no signature */
    char *why;               /* reason for status (NULL for VALID without detail) */
    uint32_t why_hint;       /* the tracker's hint: a why_ref of a reason kept earlier for the
                                same SA and direction (auth_rec_why_hint), which why may equal
                                or extend (result_keep); 0 for none */
    int why_hint_split;      /* 1 when why_hint is a why_split, 0 when an interned text */
    const note_list *notes_hint; /* the same for notes: a list kept earlier for the same SA and
                                direction (TLS-DSK facts repeat on every header), shared when
                                equal */
    GPtrArray *other_params; /* "name=value" (unquoted) of parameters MS-SIPAE does not define, in order */
    note_list *notes;        /* expert infos about this header (NULL when none) */
    int verdict_note;        /* the verdict's own expert info follows notes (set by the tracker;
                                result_expand adds it to notes; auth_verdict_note makes it) */
    size_t why_len;          /* strlen(why) when known (set by auth_result_take_why and
                                auth_result_own_why), else 0 */
    int why_borrowed;        /* why is a mechanism's (a borrowed verdict reason, valid until
                                the mechanism's next call: auth_result_own_why before it) */
    int why_has_seq;         /* with why_borrowed: the reason is why, "0x" and why_seq in hex
                                (verdict_seq) */
    uint64_t why_seq;
    /* Storage reused from header to header (auth_result_clear keeps it, auth_result_free frees
     * it): strings, sig, sigbuf and why point into it when they fit, so a recycled auth_result
     * decodes and verifies a header without allocating. Never used directly by readers. */
    size_t strings_cap;      /* capacity of strings (the parser's arena) */
    GArray *params_store;    /* the parser's parameter array */
    uint8_t *sig_store;      /* sig when it fits */
    size_t sig_cap;
    GString *sigbuf_store;   /* sigbuf is its str when built here */
    char *why_store;         /* why when copied from a borrowed verdict reason */
    size_t why_cap;
} auth_result;

/* Sets a's reason to owned text why (g_malloc'd, may be NULL), freeing the old one. */
void auth_result_set_why(auth_result *a, char *why);
/* Sets a's reason to v's (v's reason is then cleared): a borrowed reason is kept borrowed
 * (why_borrowed, and the number of verdict_seq apart), an owned one is taken. */
void auth_result_take_why(auth_result *a, sig_verdict *v);
/* Makes a borrowed reason a's own: copied (and its number formatted) into a's reused storage.
 * Nothing when it is already. The tracker calls it before the next mechanism call. */
void auth_result_own_why(auth_result *a);
/* Builds a->sigbuf / sigbuf_len with build_into semantics into a's reused storage. */
GString *auth_result_sigbuf_store(auth_result *a);

typedef struct {
    GPtrArray *spare;        /* emptied auth_results for reuse (result_reset), or NULL */
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

/* ---- what is kept for the whole capture ----
 *
 * Per MS-SIPAE auth header only its outcome is kept (auth_rec, 16 bytes): status, reason, SA,
 * the version the buffer was built for, notes. Everything that can be read again from the
 * message bytes (name, parameters, signature, gssapi-data, the signature buffer) is re-created
 * when a tree asks for it (result_expand). Reasons are interned: every header of an SA with the
 * same reason shares one copy. Records live in the store's arena; reasons in its reason area,
 * named by a 32-bit reference (why_ref) that only the store resolves. The frame where a
 * header's SA started is the SA's, not kept here. */

typedef struct result_store result_store;

/* A reference to an object of the store's area (an interned reason, a why_split, or a
 * record's msg_rec_extra); 0 for none. */
typedef uint32_t why_ref;

enum {
    AR_HAS_VERSION = 1u << 0,
    AR_VERSION_FROM_SA = 1u << 1,
    AR_HAS_SIGBUF = 1u << 2,    /* a signature buffer was built (with version) */
    AR_WHY_SPLIT = 1u << 3,     /* why is a why_split, not the text itself */
    AR_VERDICT_NOTE = 1u << 4,  /* the verdict's expert info follows the notes (auth_rec_verdict_note) */
    AR_WHY_TAIL = 1u << 5,      /* why is an interned reason (or, with AR_WHY_SPLIT, a
                                   why_split) whose last x.t.cut bytes this one replaces by
                                   x.t.tail (a split without a record of its own) */
    AR_VERSION_BIG = 1u << 6,   /* the version does not fit in a byte: it is x.version_big */
    AR_WHY_SEQ = 1u << 7,       /* why is an interned text followed by "0x" and x.seq as 8
                                   lower-case hex digits (verdict_seq: a Kerberos SND_SEQ) */
};

/* A reason that shares most of its text with one kept earlier (for the same SA: a sequence
 * number at its end; for another SA: the same sentence with other key names or numbers): the
 * shared beginning and end of that text and this one's own middle. The text is base's first
 * base_len bytes, then tail, then base from base_end to its end. */
typedef struct {
    const char *base;        /* an interned reason */
    uint16_t base_len;       /* (a text whose parts do not fit 16 bits is not split) */
    uint16_t base_end;       /* strlen(base) when only the beginning is shared */
    uint16_t tail_len;       /* strlen(tail) */
    uint16_t end_len;        /* strlen(base + base_end) */
    char tail[];             /* this text's own middle, NUL-terminated */
} why_split;

G_STATIC_ASSERT(sizeof(why_split) == 16 || sizeof(void *) != 8);

/* One auth header's outcome: 16 bytes. */
typedef struct {
    why_ref why;             /* interned in the store (shared), or a why_split (AR_WHY_SPLIT),
                                or the interned base of AR_WHY_TAIL, 0 when none: read it
                                with auth_rec_why_dup */
    uint32_t sa_id;          /* 0 when no SA */
    uint8_t version;         /* with AR_HAS_VERSION, unless AR_VERSION_BIG: auth_rec_version */
    uint8_t status;          /* sig_status */
    uint8_t dir;             /* mssipae_dir */
    uint8_t flags;           /* AR_* */
    union {
        uint32_t version_big;    /* AR_VERSION_BIG */
        struct {
            uint8_t cut;         /* AR_WHY_TAIL: bytes of the base's end replaced */
            char tail[3];        /* by these (NUL-padded) */
        } t;
        uint32_t seq;            /* AR_WHY_SEQ */
    } x;
} auth_rec;

G_STATIC_ASSERT(sizeof(auth_rec) == 16);

/* The version the header's buffer was built for (with AR_HAS_VERSION). */
static inline uint32_t auth_rec_version(const auth_rec *k)
{
    return (k->flags & AR_VERSION_BIG) ? k->x.version_big : k->version;
}

/* What few messages have: notes, an unsigned message on a signing SA (it always has a note).
 * Kept in the store's area (like reasons: never moves), named by msg_rec.extra; messages
 * whose notes are all lists kept before (their SA's usual notes) share one. */
typedef struct {
    uint32_t n_auths;        /* entries of auth_notes: the record's n_auths */
    uint32_t unsigned_sa;    /* as msg_result.unsigned_sa */
    note_list *notes;        /* message-level notes, NULL when none */
    uint8_t unsigned_dir;    /* mssipae_dir, with unsigned_sa */
    uint8_t has_later;       /* 1 when an auth_notes list has a NOTE_LATER note */
    why_ref list_ref;        /* the store's own: its reference when it is a kept list's
                                record (one auth header with that list), else 0 */
    note_list *auth_notes[]; /* per auth header (n_auths), NULL when none */
} msg_rec_extra;

G_STATIC_ASSERT(sizeof(msg_rec_extra) == 24 || sizeof(void *) != 8);

enum { MR_PARSED = 1u << 0, MR_REQUEST = 1u << 1 };

/* msg_rec.bits: MR_* flags (2 bits), the status code (10 bits: SIP's are three digits) and the
 * number of auth headers (20 bits). A field holding its escape value (all ones) means the
 * value did not fit: it is then in a msg_rec_big just before the record. */
#define MR_FLAGS_MASK 0x3u
#define MR_STATUS_SHIFT 2
#define MR_STATUS_ESC 0x3FFu
#define MR_N_SHIFT 12
#define MR_N_ESC 0xFFFFFu

typedef struct {
    uint32_t n_auths;
    int32_t status_code;     /* clamped to int16 (as records always kept it) */
} msg_rec_big;

/* One message: 8 bytes and 16 per auth header. */
typedef struct {
    why_ref extra;           /* a msg_rec_extra in the store's area (msg_rec_extra_of), 0 when
                                the message and its headers have no note */
    uint32_t bits;           /* flags | status code | n_auths: read with the msg_rec_* below */
    auth_rec auths[];        /* n_auths, in message order */
} msg_rec;

/* Records are 8-byte aligned and sized (rec_index codes their distances in 8-byte units). */
G_STATIC_ASSERT(sizeof(msg_rec) == 8 && sizeof(auth_rec) % 8 == 0 && sizeof(msg_rec_big) == 8);

static inline unsigned msg_rec_flags(const msg_rec *r)
{
    return r->bits & MR_FLAGS_MASK;
}

/* Number of auth headers (entries of auths). */
static inline guint msg_rec_n_auths(const msg_rec *r)
{
    guint n = r->bits >> MR_N_SHIFT;
    return G_LIKELY(n != MR_N_ESC) ? n : ((const msg_rec_big *)(const void *)r - 1)->n_auths;
}

/* The status code of a response (0 for requests and unparsed messages). */
static inline int msg_rec_status_code(const msg_rec *r)
{
    guint s = (r->bits >> MR_STATUS_SHIFT) & MR_STATUS_ESC;
    return G_LIKELY(s != MR_STATUS_ESC) ? (int)s
                                        : ((const msg_rec_big *)(const void *)r - 1)->status_code;
}

/* The reference of k's reason as a hint for a later header (auth_result.why_hint): an
 * interned text (with AR_WHY_SEQ: the text its number follows, which the SA's next header
 * names again) or a why_split (*split then 1); 0 when it has none or is kept in the record
 * (AR_WHY_TAIL). */
static inline why_ref auth_rec_why_hint(const auth_rec *k, int *split)
{
    *split = (k->flags & AR_WHY_SPLIT) != 0;
    return (k->flags & AR_WHY_TAIL) ? 0 : k->why;
}

/* The reason of k (kept in rs) as g_malloc'd text, NULL when none. */
char *auth_rec_why_dup(const result_store *rs, const auth_rec *k);

/* The expert info a verdict of status gets (invalid, no key, malformed, unsupported): 1 with
 * its kind and severity, else 0. */
int auth_verdict_note_kind(sig_status status, note_kind *kind, note_sev *sev);

/* The verdict's expert info of header k (AR_VERDICT_NOTE): "signature <status>: <why>", as
 * g_malloc'd text with its kind and severity; NULL when k has none. It comes after the notes of
 * msg_rec_auth_notes. */
char *auth_rec_verdict_note(const result_store *rs, const auth_rec *k, note_kind *kind,
                            note_sev *sev);

/* The extra of record r (kept in rs), NULL when it has none. */
const msg_rec_extra *msg_rec_extra_of(const result_store *rs, const msg_rec *r);

/* Notes of the message, and of its auth header i; NULL when none. */
static inline const note_list *msg_rec_notes(const result_store *rs, const msg_rec *r)
{
    const msg_rec_extra *x = msg_rec_extra_of(rs, r);
    return x ? x->notes : NULL;
}

static inline const note_list *msg_rec_auth_notes(const result_store *rs, const msg_rec *r,
                                                  guint i)
{
    const msg_rec_extra *x = msg_rec_extra_of(rs, r);
    return x && i < x->n_auths ? x->auth_notes[i] : NULL;
}

/* 1 when an auth header of r has a NOTE_LATER note: a diagnostic left to be made when shown
 * (sa_tracker_expand with explain). */
static inline int msg_rec_has_later(const result_store *rs, const msg_rec *r)
{
    const msg_rec_extra *x = r->extra ? msg_rec_extra_of(rs, r) : NULL;
    return x && x->has_later;
}

/* The signing SA of an unsigned message (its NOTE_UNSIGNED note), 0 when none; *dir (may be
 * NULL) receives which way it travelled. */
static inline uint32_t msg_rec_unsigned_sa(const result_store *rs, const msg_rec *r,
                                           mssipae_dir *dir)
{
    const msg_rec_extra *x = msg_rec_extra_of(rs, r);
    if (!x || !x->unsigned_sa)
        return 0;
    if (dir)
        *dir = (mssipae_dir)x->unsigned_dir;
    return x->unsigned_sa;
}

result_store *result_store_new(void);
void result_store_free(result_store *rs);

/* A new (transient) full result for one message (parsed = 0, no auths, an empty note list);
 * the caller frees it with msg_result_free once result_keep has compacted it. */
msg_result *result_new(void);
void msg_result_free(msg_result *r);
/* Empties r for the next message (its arrays are reused). */
void result_reset(msg_result *r);

/* Frees one auth_result (the GDestroyNotify of msg_result.auths). */
void auth_result_free(gpointer p);

/* Empties a for reuse by ahdr_decode_into: everything it owns is freed except its (emptied)
 * note list. */
void auth_result_clear(auth_result *a);

/* The record kept for full result r (which stays the caller's, note lists included): keeps
 * compact copies of r's note lists (texts interned, borrowed ones kept as they are; a header's
 * list equal to its notes_hint is shared, and so is a msg_rec_extra equal to one kept before)
 * and interns the reasons. Messages with no auth header and no note all share one empty
 * record. Valid until result_store_free. */
const msg_rec *result_keep(result_store *rs, msg_result *r);

/* The full result of a kept record, re-created from the same message bytes: every header
 * decoded again, its signature buffer rebuilt for the recorded version, the recorded outcome
 * (status, reason, SA, version, notes: copies) put back; sa_frame stays 0 (the caller fills
 * it from the SA: sa_tracker_info's first_frame). NULL when the bytes do not give the
 * headers the record was made from. Free with msg_result_free. */
msg_result *result_expand(const result_store *rs, const msg_rec *rec, const char *msg,
                          size_t len);

#endif
