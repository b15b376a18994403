/* sa_table.h - the capture's security associations and their indexes (tracker-internal).
 *
 * The table owns every SA (kept until the capture is closed: in-flight messages may still use an
 * old SA after a renegotiation), each mechanism's per-capture state, and four indexes:
 *   - by name:     (scheme, opaque) -> SAs that opaque names, oldest first; an SA has one primary
 *                  opaque and may have aliases (sa_bind.c decides when);
 *   - by endpoints: the pair of transport endpoints -> the SAs of that pair that are still open
 *                  (handshake under way, or opaque named but not yet used by the client), and the
 *                  SA that last signed between them;
 *   - offers:      the version a first-leg challenge offered to a client.
 * It holds no policy: which SA a message belongs to is decided in sa_bind.c.
 */
#ifndef MSSIPAE_SA_TABLE_H
#define MSSIPAE_SA_TABLE_H

#include <glib.h>
#include <stdint.h>

#include "verify/mech.h"
#include "verify/sa_seq.h"

/* How far the server's naming of the SA has got (sa_bind.c). */
typedef enum {
    SA_PENDING = 0, /* handshake started; the server has not named an opaque yet */
    SA_BOUND,       /* a server response named an opaque; the client has not used it yet */
    SA_CONFIRMED,   /* the client used an opaque of the SA (or the SA came from a key log) */
} sa_state;

/* The RFC 3261 transaction of a request (17.1.3: top Via branch + CSeq number and method; for
 * requests without a branch, RFC 2543's Call-ID + CSeq + From tag), plus the dialog facts that
 * bind notes mention. All strings g_malloc'd or NULL. */
typedef struct {
    char *branch;
    uint32_t cseq;
    int has_cseq;
    char *method;   /* the CSeq method */
    char *call_id;
    char *from_tag;
} sip_txn;

/* What only some SAs need, and most only for a while: the binding transactions (an open SA's,
 * dropped once it is confirmed), further opaques, a mechanism's unprotected sequence numbers.
 * Made on first use, freed when empty. */
typedef struct {
    sip_txn *txn;              /* request that carried the latest client token (binding key);
                                  NULL when none, and dropped once the SA is confirmed (only
                                  open SAs bind) */
    sip_txn *bind_txn;         /* request answered by the response that named the opaque (the
                                  same) */
    GPtrArray *aliases;        /* further opaques naming this SA (char*), NULL when none */
    sa_seq *mech_seq;          /* [2]: a mechanism sequence number the signature does not protect
                                  (RFC 4757 SND_SEQ), per direction, from verified messages;
                                  NULL until the first (sa_mech_seq) */
} sa_rare;

/* The realm and targetname of the header that started an SA, interned by the table (one
 * record for every SA with the same pair of texts); either may be NULL. */
typedef struct {
    const char *realm, *targetname;
} sa_names;

typedef struct sa_entry {
    uint32_t id;               /* 1, 2, ... in creation order */
    uint32_t frame;            /* where the handshake started */
    uint32_t last_frame;       /* the last frame with a header of this SA */
    unsigned version;
    void *mstate;              /* owned by the mechanism (sa_mech) */
    const sa_names *names;     /* realm and targetname of the header that started the SA
                                  (interned by the table: shared): read with sa_realm,
                                  sa_targetname */
    char *opaque;              /* primary opaque, NULL while SA_PENDING */
    const char *client_ep, *server_ep; /* interned by the table (shared), NULL when unknown */
    struct sa_pair *pair;      /* the record of its endpoint pair (sa_table.c; endpoints never
                                  change), NULL when either endpoint is unknown */
    sa_rare *rare;             /* NULL when none: read with sa_txn_of, sa_bind_txn_of,
                                  sa_aliases */
    sa_seq seq[2];             /* cnum (DIR_C2S) / snum (DIR_S2C) bookkeeping */
    const note_list *notes_kept[2]; /* per direction: the notes last kept for a header of this
                                  SA (owned by the result store; sa.c: a memo, not a verdict) */
    uint32_t why_kept[2];      /* the same for its reason: a why_ref of a reason of the result
                                  store (auth_rec_why_hint), 0 for none */
    uint8_t state;             /* sa_state */
    uint8_t proxy;             /* family: 1 Proxy-*, 0 WWW-/Authorization/Authentication-Info */
    uint8_t has_version;
    uint8_t handshake_seen;    /* a token was fed to the mechanism */
    uint8_t signed_seen;       /* a signed message of this SA verified (or, without keys, was seen) */
    uint8_t implicit;          /* created from a key-log entry; handshake not in the capture */
    uint8_t mech_ix;           /* its mechanism: mech_at(mech_ix), read with sa_mech */
    uint8_t why_kept_split;    /* bit dir: why_kept[dir] is a why_split */
} sa_entry;

static inline const mech_ops *sa_mech(const sa_entry *s)
{
    return mech_at(s->mech_ix);
}

static inline const char *sa_realm(const sa_entry *s)
{
    return s->names->realm;
}

static inline const char *sa_targetname(const sa_entry *s)
{
    return s->names->targetname;
}

typedef struct sa_table sa_table;

/* The mech_seq bookkeeping of s for direction dir, made on first use. */
sa_seq *sa_mech_seq(sa_entry *s, int dir);

sa_table *sa_table_new(void);
/* SA id (1 .. count), or NULL. */
sa_entry *sa_table_get(const sa_table *tab, uint32_t id);
void sa_table_free(sa_table *tab);
uint32_t sa_table_count(const sa_table *tab);

/* At most this many SAs are open (waiting for the server's opaque or the client's first use of
 * it) on one pair of endpoints: a capture cannot make the binding scans grow without bound. */
#define SA_OPEN_MAX 64

/* A new SA in state SA_PENDING, open on its endpoint pair. client_ep / server_ep may be NULL.
 * When the pair already had SA_OPEN_MAX open SAs, the oldest is no longer open (it stays in the
 * table, found by its opaque if it has one) and *evicted (may be NULL) points to it. */
sa_entry *sa_table_create(sa_table *tab, const mech_ops *mech, uint32_t frame, const char *realm,
                          const char *targetname, int proxy, const char *client_ep,
                          const char *server_ep, sa_entry **evicted);

/* At most this many SAs are found by one opaque (a renegotiation may keep the opaque; the oldest
 * is dropped from the index), and one SA has at most this many aliases: lookups stay bounded. */
#define SA_NAME_MAX 64
#define SA_ALIASES_MAX 16

/* Gives s the name opaque: its primary opaque if it has none (SA_PENDING -> SA_BOUND), else an
 * alias. A name s already has is ignored. Returns 1 when the name was added as an alias. A limit
 * reached (above) is reported in notes (may be NULL) as a NOTE_BIND warning. */
int sa_table_name(sa_table *tab, sa_entry *s, const char *opaque, note_list *notes);

/* 1 when opaque (case-insensitive) is the primary opaque or an alias of s. */
int sa_has_name(const sa_entry *s, const char *opaque);

/* The client has used one of s's opaques: s is no longer open on its endpoint pair. */
void sa_table_confirm(sa_table *tab, sa_entry *s);

/* Where an SA named opaque was found relative to a message's endpoints. */
typedef enum {
    SA_NAMED_NONE = 0,
    SA_NAMED_HERE,           /* same endpoint pair, same realm and targetname */
    SA_NAMED_HERE_NAMES_DIFFER, /* same endpoint pair, realm or targetname differ */
    SA_NAMED_ELSEWHERE,      /* another endpoint pair (an SA outlives its connection) */
} sa_named;

/* The SA of mech that opaque names for a message between src and dst, newest first: same pair
 * with the same realm/targetname, else same pair (a tampered realm/targetname must still reach
 * its SA), else, when elsewhere is 1, the newest with the same realm and targetname on another
 * pair, preferring SAs the client has confirmed. *how says which. Only the pair {src, dst}
 * matters: they may be given either way round (client first is the faster). */
sa_entry *sa_table_named(sa_table *tab, const mech_ops *mech, const char *opaque,
                         const char *realm, const char *targetname, const char *src,
                         const char *dst, int elsewhere, sa_named *how);

/* 1 when opaque names any SA of mech. */
int sa_table_known(sa_table *tab, const mech_ops *mech, const char *opaque);

/* The SAs of mech still open (SA_PENDING or SA_BOUND) on the pair {a, b}, oldest first; a
 * g_malloc'd array the caller g_free()s, *n its length. */
sa_entry **sa_table_open(sa_table *tab, const mech_ops *mech, const char *a, const char *b,
                         size_t *n);

/* The SA that last signed between a and b (either way round), or NULL; and its setter. */
const sa_entry *sa_table_signing(sa_table *tab, const char *a, const char *b);
void sa_table_set_signing(sa_table *tab, sa_entry *s);

/* The version a first-leg challenge offered to client_ep for (mech, realm, targetname): 1 with
 * *version, or 0. */
void sa_table_offer(sa_table *tab, const mech_ops *mech, const char *realm,
                    const char *targetname, const char *client_ep, unsigned version);
int sa_table_offered(sa_table *tab, const mech_ops *mech, const char *realm,
                     const char *targetname, const char *client_ep, unsigned *version);

/* 1 when s's endpoints are {src, dst} either way round; when either side is unknown (no
 * endpoints given), 1 as well: endpoints are hints, never required. */
int sa_on_pair(const sa_entry *s, const char *src, const char *dst);
/* 1 when a message from src to dst travels server -> client on s (unknown endpoints: 1). */
int sa_from_server(const sa_entry *s, const char *src, const char *dst);

void sip_txn_clear(sip_txn *t);
void sip_txn_copy(sip_txn *dst, const sip_txn *src);

/* The transactions of an SA (sa_rare), an empty one when none. */
extern const sip_txn sip_txn_none;
static inline const sip_txn *sa_txn_of(const sa_entry *s)
{
    return s->rare && s->rare->txn ? s->rare->txn : &sip_txn_none;
}
static inline const sip_txn *sa_bind_txn_of(const sa_entry *s)
{
    return s->rare && s->rare->bind_txn ? s->rare->bind_txn : &sip_txn_none;
}
/* The further opaques of s (char*), NULL when none. */
static inline const GPtrArray *sa_aliases(const sa_entry *s)
{
    return s->rare ? s->rare->aliases : NULL;
}
/* Sets s's transaction (bind 0: txn, 1: bind_txn) to a copy of src. */
void sa_txn_set(sa_entry *s, int bind, const sip_txn *src);
/* Drops both transactions of s. */
void sa_txns_drop(sa_entry *s);

#endif
