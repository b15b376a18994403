/* mech_tlsdsk.c - TLS-DSK ([MS-SIPAE] 3.2.5.1, reference 8): keys from the inner TLS handshake
 * carried in gssapi-data, signatures = HMAC over the signature buffer.
 *
 * Keys (reference 8):
 *   key_block  = PRF(master_secret, "client EAP encryption", client_random || server_random)[0..127]
 *   client_key = key_block[64..95]   signs the client's response=  (DIR_C2S)
 *   server_key = key_block[96..127]  signs the server's rspauth=    (DIR_S2C)
 *   signature  = HMAC-<hash>(key, signature buffer), full length, no sequence number
 *
 * Master secret, first source that has it (derived once per handshake, then cached):
 *   1. a "TLS-DSK <opaque> <client-key> <server-key>" key-log line gives the two keys directly
 *      (no handshake needed) - checked before anything else;
 *   2. a CLIENT_RANDOM line for the handshake's client random (mssipae.keylog_file, then
 *      Wireshark's tls.keylog_file);
 *   3. a resumed handshake (ServerHello echoing an earlier session id, or a ClientHello
 *      presenting a ticket issued earlier in the capture) takes the master secret of the earlier
 *      handshake, from whichever source gave it there (the per-capture session cache);
 *   4. the server's RSA key chosen by the key id of the server Certificate (never by trial)
 *      decrypts the ClientKeyExchange; the master secret is then the standard one or, when
 *      the extended master secret was negotiated, RFC 7627's over the session hash of the
 *      handshake messages up to and including ClientKeyExchange.
 *   DHE/ECDHE handshakes cannot be opened with the server key; the reason says so.
 *
 * Which HMAC - the rule (reference 8 and question 2):
 *   KNOWN case: TLS 1.0 or 1.1, a suite with an MD5 or SHA1 record MAC, and a signature as long
 *     as that MAC (16 or 20 bytes): key block from the TLS 1.0 PRF, HMAC with the suite's MAC
 *     hash. This is what every known peer does [impl][real]. A mismatch with a key we trust is
 *     INVALID. Explicit keys without a handshake and a 16- or 20-byte signature are the same
 *     known case (HMAC-MD5 / HMAC-SHA1 by length).
 *   CANDIDATE case: everything else (TLS 1.2, AEAD suites, SHA-256/SHA-384 record MACs, 32- or 48-byte
 *     signatures, unknown suites): the HMAC hash is chosen by the signature length (16 MD5,
 *     20 SHA1, 32 SHA256, 48 SHA384), and the key block by the negotiated version's PRF (TLS 1.2:
 *     the suite's PRF hash, both SHA-256 and SHA-384 when the suite is unknown), then the TLS 1.0
 *     PRF. A match is cryptographic proof: VALID, and the reason names the variant. No match is
 *     UNSUPPORTED (the variant is unknown), never INVALID...
 *   ...unless an earlier signature of the same SA already proved a variant (a VALID match, first
 *     pass, capture order): from then on that variant is this SA's known case, and a mismatch is
 *     INVALID (the reason names the frame-independent variant). Without it, tampering in a TLS 1.2
 *     SA could never be reported; with it, the verdict of a message depends only on the SA's
 *     earlier messages, which the first pass sees in order (`tshark -2` reuses that result).
 *   Signature lengths other than 16, 20, 32, 48 are MALFORMED.
 *   A trusted key is one derived from the handshake (key log, RSA key, resumption) or an explicit
 *   key-log line. An RSA key that does not match the certificate is not used at all: NO_KEY.
 */
#include "verify/mech.h"
#include "sigbuf/codec.h"

#include <string.h>

#include <gnutls/crypto.h>

#include "keytab/rsakeys.h"
#include "verify/tls_hs.h"
#include "verify/tls_prf.h"
#include "verify/tls_suites.h"

#define TLSDSK_RESUME_DEPTH 8 /* resumption chains longer than this are not followed */
#define TLSDSK_MAX_KB 3       /* candidate key blocks per SA */

/* What is kept per SA is small (issue 10: a capture of a million signed messages has tens of
 * thousands of SAs): the handshake reader keeps no certificate DER and drops its buffers once
 * the master secret is known (tls_hs.h), the SA keeps only the signing half of each candidate
 * key block, the session cache is keyed by session id or by a digest of the ticket, and texts
 * every message would format again (facts, reasons) are made once per capture, keyed by what
 * they are made from (the text table). */

/* One inner handshake and its master secret; shared by its SA and the session cache. */
typedef struct tlsdsk_sess {
    int refs;
    uint8_t have_ms;
    uint8_t rsa_tried;        /* the RSA path ran to a final outcome (once per handshake) */
    uint8_t busy;             /* on the current resumption chain (loop guard) */
    uint8_t sid_registered, ticket_registered;
    uint32_t ms_line;         /* a CLIENT_RANDOM line: ms_src names the key log, the source is
                                 "<ms_src> line <ms_line> (CLIENT_RANDOM)" (sess_src); else 0 */
    const char *ms_src;       /* which source gave it (no secret); shared, in the text table
                                 (text_intern): one copy for every SA of one RSA key or key log */
    char *rsa_why;            /* why the RSA path gave no master secret */
    char *src_text;           /* the source as text when it is a CLIENT_RANDOM line (sess_src),
                                 made on first need: lent to the facts of the SA's headers */
    struct tlsdsk_sess *parent; /* resumed: the earlier handshake of this session (ref), found
                                   by ticket or session id as soon as the resumption shows */
    uint8_t ms[TLS_MS_LEN];   /* valid when have_ms; wiped on free */
    tls_hs hs[1];             /* the reader, in the same allocation (s->hs is a pointer to it;
                                 no field for that: 368 bytes, not 376, per SA) */
} tlsdsk_sess;

/* A key of the session cache: a session id as sent, or the SHA-256 of a ticket. */
typedef struct {
    uint8_t len;
    uint8_t b[32];
} cache_key;

static guint cache_key_hash(gconstpointer p)
{
    const cache_key *k = p;
    guint h = 2166136261u;
    for (size_t i = 0; i < k->len; i++)
        h = (h ^ k->b[i]) * 16777619u;
    return h;
}

static gboolean cache_key_equal(gconstpointer a, gconstpointer b)
{
    const cache_key *x = a, *y = b;
    return x->len == y->len && memcmp(x->b, y->b, x->len) == 0;
}

static guint sess_sid_hash(gconstpointer p)
{
    const tls_hs *hs = ((const tlsdsk_sess *)p)->hs;
    guint h = 2166136261u;
    for (size_t i = 0; i < hs->sid_len; i++)
        h = (h ^ hs->sid[i]) * 16777619u;
    return h;
}

static gboolean sess_sid_equal(gconstpointer a, gconstpointer b)
{
    const tls_hs *x = ((const tlsdsk_sess *)a)->hs, *y = ((const tlsdsk_sess *)b)->hs;
    return x->sid_len == y->sid_len && memcmp(x->sid, y->sid, x->sid_len) == 0;
}

/* Texts made once per capture (see above): key -> g_malloc'd text; the last text of each kind
 * and direction is remembered, so the headers of an SA find theirs without a hash lookup (the
 * two directions' reasons alternate; one slot per kind missed on every header). */
#define TX_SLOTS 16
typedef struct {
    GHashTable *h;
    GHashTable *strs;         /* other shared texts (text_intern), owned */
    uint64_t last_key[TX_SLOTS];
    const char *last[TX_SLOTS];
} tlsdsk_texts;

static tlsdsk_texts *texts_new(void)
{
    tlsdsk_texts *t = g_new0(tlsdsk_texts, 1);
    t->h = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    t->strs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return t;
}

static void texts_free(tlsdsk_texts *t)
{
    if (!t)
        return;
    g_hash_table_destroy(t->h);
    g_hash_table_destroy(t->strs);
    g_free(t);
}

/* The memo slot of key (text_key's layout): its kind and the low bit of its direction. */
static inline unsigned tx_slot(uint64_t key)
{
    return (unsigned)(((key >> 48) << 1 | (key >> 36 & 1)) % TX_SLOTS);
}

/* The text for key, or NULL. */
static const char *text_get(tlsdsk_texts *t, uint64_t key)
{
    unsigned slot = tx_slot(key);
    if (t->last[slot] && t->last_key[slot] == key)
        return t->last[slot];
    const char *v = g_hash_table_lookup(t->h, &key);
    if (v) {
        t->last_key[slot] = key;
        t->last[slot] = v;
    }
    return v;
}

/* The table's copy of text s (g_malloc'd, taken: freed when a copy is there already). */
static const char *text_intern(tlsdsk_texts *t, char *s)
{
    const char *k = g_hash_table_lookup(t->strs, s);
    if (k) {
        g_free(s);
        return k;
    }
    g_hash_table_add(t->strs, s);
    return s;
}

/* Keeps text (g_malloc'd, taken) for key; returns it. */
static const char *text_put(tlsdsk_texts *t, uint64_t key, char *text)
{
    g_hash_table_insert(t->h, g_memdup2(&key, sizeof key), text);
    unsigned slot = tx_slot(key);
    t->last_key[slot] = key;
    t->last[slot] = text;
    return text;
}

enum { TX_FACT_VERSION = 1, TX_FACT_SUITE, TX_VALID_KNOWN, TX_VALID_VARIANT, TX_INVALID };

static uint64_t text_key(unsigned kind, unsigned h, unsigned dir, unsigned prf, unsigned known,
                         unsigned version)
{
    return (uint64_t)kind << 48 | (uint64_t)h << 40 | (uint64_t)dir << 36 | (uint64_t)prf << 32 |
           (uint64_t)known << 24 | version;
}

/* The NO_KEY reason of the last header that had no key (a capture opened without keys: every
 * header, each formatted the same two sentences): kept for the next header of the same session
 * with the same opaque while nothing it was made from changed -- the client-random key logs
 * (their generation), the handshake (on_token forgets it), the RSA route (kept only once final).
 * One per capture, like kl_memo: an SA's headers mostly follow each other. Sessions live as
 * long as the capture, so a pointer names one. */
typedef struct {
    const tlsdsk_sess *sess; /* NULL: none kept */
    const keystore *ks;
    uint64_t gen;            /* keystore_client_random_generation then */
    char *opaque;            /* copy; NULL for a header without one */
    char *text;
} tlsdsk_nokey;

/* Per capture: the TLS session cache (session id / ticket -> the handshake that made it). */
typedef struct {
    GHashTable *by_sid;    /* set of tlsdsk_sess (ref) by their ServerHello session id (the
                              session's own bytes are the key: no copy per SA) */
    GHashTable *by_ticket; /* cache_key -> tlsdsk_sess (ref) */
    tls_cert_cache *certs; /* certificates read */
    tlsdsk_texts *texts;
    tls_hmac_cache *macs;  /* signing keys kept keyed (tls_hmac_cached) */
    ks_keylog_memo kl_memo; /* the last TLS-DSK key-log lookup (by opaque), kept until the key
                              log changes: one per capture, not per SA (the headers of an SA
                              mostly follow each other; 64 bytes less per SA) */
    tlsdsk_nokey nokey;
} tlsdsk_cap;

static void nokey_forget(tlsdsk_nokey *n)
{
    g_free(n->opaque);
    g_free(n->text);
    memset(n, 0, sizeof *n);
}

/* The kept reason when it is the one for session s and opaque now, else NULL. */
static const char *nokey_get(tlsdsk_cap *cap, const tlsdsk_sess *s, keystore *ks,
                             const char *opaque)
{
    const tlsdsk_nokey *n = &cap->nokey;
    if (!n->sess || n->sess != s || n->ks != ks || !opaque != !n->opaque ||
        (opaque && strcmp(opaque, n->opaque) != 0) ||
        keystore_client_random_generation(ks) != n->gen)
        return NULL;
    return n->text;
}

/* Keeps v's reason (made just now for session s and opaque) for nokey_get. */
static void nokey_keep(tlsdsk_cap *cap, const tlsdsk_sess *s, keystore *ks, const char *opaque,
                       const sig_verdict *v)
{
    tlsdsk_nokey *n = &cap->nokey;
    nokey_forget(n);
    n->sess = s;
    n->ks = ks;
    n->gen = keystore_client_random_generation(ks);
    n->opaque = g_strdup(opaque);
    n->text = g_strdup(v->why);
}

/* A variant proven by a VALID signature of the SA. */
typedef struct {
    uint8_t set;
    uint8_t explicit_keys; /* proven with key-log TLS-DSK keys (prf unused) */
    uint8_t prf;           /* tls_prf_kind */
    uint8_t h;             /* tls_hash */
} tlsdsk_variant;

/* Per SA. */
typedef struct {
    union {
        tlsdsk_cap *cap;                  /* !own_texts: the capture's (sa_cap) */
        tlsdsk_texts *texts;              /* own_texts: no capture, the SA's own texts */
    } u;                                  /* one field for both: 104 bytes per SA, not 112 */
    tlsdsk_sess *sess;
    uint8_t *kb;                          /* kb_n x key_block[64..128), each derived when first
                                             tried (kb_have); wiped on free */
    uint8_t *xkeys;                       /* explicit key-log keys that verified (client key,
                                             then server key; copied); wiped on free */
    tls_cert *scert, *ccert;              /* the certificates the facts show (first read) */
    uint8_t kb_done;                      /* candidates listed (kb_n, kb_prf, kb allocated) */
    uint8_t kb_n;                         /* candidate key blocks */
    uint8_t kb_prf[TLSDSK_MAX_KB];        /* tls_prf_kind of each */
    uint8_t kb_have, kb_failed;           /* bit i: candidate i derived / its PRF failed */
    uint8_t verified_kb;                  /* 1 + index of the key block that verified, 0: none */
    uint8_t xlen[2];
    uint8_t own_texts;                    /* no capture: u.texts */
    tlsdsk_variant proven;
} tlsdsk_sa;

/* The capture of st, NULL without one. */
static inline tlsdsk_cap *sa_cap(const tlsdsk_sa *st)
{
    return st->own_texts ? NULL : st->u.cap;
}

/* The text table of st: the capture's, or the SA's own without a capture. */
static inline tlsdsk_texts *sa_texts(const tlsdsk_sa *st)
{
    return st->own_texts ? st->u.texts : st->u.cap->texts;
}

/* ---- sessions and the cache ---- */

static tlsdsk_sess *sess_new(void)
{
    tlsdsk_sess *s = g_new0(tlsdsk_sess, 1);
    s->refs = 1;
    tls_hs_init(s->hs);
    return s;
}

static tlsdsk_sess *sess_ref(tlsdsk_sess *s)
{
    s->refs++;
    return s;
}

/* Drops a reference; the last one frees the session and then its parent reference, iteratively
 * (a capture may chain many resumptions). */
static void sess_unref(gpointer p)
{
    tlsdsk_sess *s = p;
    while (s && --s->refs == 0) {
        tlsdsk_sess *parent = s->parent;
        tls_hs_clear(s->hs);
        secure_wipe(s->ms, sizeof(s->ms));
        g_free(s->rsa_why);
        g_free(s->src_text);
        g_free(s);
        s = parent;
    }
}

static void *tlsdsk_cap_new(void)
{
    tlsdsk_cap *c = g_new0(tlsdsk_cap, 1);
    c->by_sid = g_hash_table_new_full(sess_sid_hash, sess_sid_equal, sess_unref, NULL);
    c->by_ticket = g_hash_table_new_full(cache_key_hash, cache_key_equal, g_free, sess_unref);
    c->texts = texts_new();
    c->certs = tls_cert_cache_new();
    c->macs = tls_hmac_cache_new();
    return c;
}

static void tlsdsk_cap_free(void *p)
{
    tlsdsk_cap *c = p;
    if (!c)
        return;
    g_hash_table_destroy(c->by_sid);
    g_hash_table_destroy(c->by_ticket);
    texts_free(c->texts);
    tls_cert_cache_free(c->certs);
    tls_hmac_cache_free(c->macs);
    keystore_keylog_memo_clear(&c->kl_memo);
    nokey_forget(&c->nokey);
    g_free(c);
}

static void *tlsdsk_sa_new(void *cap)
{
    tlsdsk_sa *st = g_new0(tlsdsk_sa, 1);
    st->sess = sess_new();
    st->own_texts = cap == NULL;
    if (cap) {
        st->u.cap = cap;
        st->sess->hs->cert_cache = st->u.cap->certs;
    } else {
        st->u.texts = texts_new();
    }
    return st;
}

static void tlsdsk_sa_free(void *p)
{
    tlsdsk_sa *st = p;
    if (!st)
        return;
    sess_unref(st->sess);
    tls_cert_unref(st->scert);
    tls_cert_unref(st->ccert);
    if (st->kb) {
        secure_wipe(st->kb, (size_t)st->kb_n * TLSDSK_SIGN_KEYS_LEN);
        g_free(st->kb);
    }
    if (st->xkeys) {
        secure_wipe(st->xkeys, (size_t)st->xlen[0] + st->xlen[1]);
        g_free(st->xkeys);
    }
    if (st->own_texts)
        texts_free(st->u.texts);
    g_free(st);
}

/* The cache key of a session id (at most 32 bytes, as sent) or of a ticket (its SHA-256: a
 * ticket is up to 64 KB, and a collision is out of reach); 0, or -1 when there is none. */
static int cache_key_of(cache_key *k, const uint8_t *p, size_t n, int ticket)
{
    memset(k, 0, sizeof *k);
    if (ticket) {
        k->len = 32;
        return gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, k->b) < 0 ? -1 : 0;
    }
    if (n > sizeof k->b)
        return -1;
    k->len = (uint8_t)n;
    memcpy(k->b, p, n);
    return 0;
}

static void cache_put(GHashTable *t, const uint8_t *p, size_t n, int ticket, tlsdsk_sess *s)
{
    cache_key k;
    if (cache_key_of(&k, p, n, ticket) == 0)
        g_hash_table_replace(t, g_memdup2(&k, sizeof k), sess_ref(s));
}

static tlsdsk_sess *cache_get(GHashTable *t, const uint8_t *p, size_t n, int ticket)
{
    cache_key k;
    return cache_key_of(&k, p, n, ticket) == 0 ? g_hash_table_lookup(t, &k) : NULL;
}

/* The session cache by session id: a set of sessions keyed by hs->sid (set once, by the
 * ServerHello, before the session is registered; a second ServerHello is refused), hashed and
 * compared as a cache_key of it would be. */
static void sid_put(GHashTable *t, tlsdsk_sess *s)
{
    g_hash_table_add(t, sess_ref(s)); /* replaces (and unrefs) an earlier one with this id */
}

static tlsdsk_sess *sid_get(GHashTable *t, const uint8_t *p, size_t n)
{
    if (n > sizeof(((tls_hs *)NULL)->sid))
        return NULL;
    tlsdsk_sess probe; /* only its session id is read */
    probe.hs->sid_len = (uint8_t)n;
    memcpy(probe.hs->sid, p, n);
    return g_hash_table_lookup(t, &probe);
}

/* Lower-case hex of n bytes, NUL-terminated (as "%02x" each; no printf per byte). */
static void hex_lower(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* ---- handshake tokens ---- */

/* The certificate an SA's facts show: the first one it saw (a later Certificate message of
 * the same handshake does not change them). */
static const tls_cert_info *cert_facts(tls_cert **slot, tls_cert *c)
{
    if (!*slot && c)
        *slot = tls_cert_ref(c);
    return &(*slot)->info;
}

/* The earlier handshake a resumed one continues, from the session cache (ticket first). */
static tlsdsk_sess *sess_find_parent(const tlsdsk_cap *cap, const tlsdsk_sess *s)
{
    const tls_hs *hs = s->hs;
    tlsdsk_sess *p = NULL;
    if (!cap || !tls_hs_resumed(hs))
        return NULL;
    if (hs->ch_ticket)
        p = cache_get(cap->by_ticket, hs->ch_ticket->data, hs->ch_ticket->len, 1);
    if (!p && hs->sid_len)
        p = sid_get(cap->by_sid, hs->sid, hs->sid_len);
    /* hostile data could name a session that (indirectly) resumes this one: no cycles */
    for (const tlsdsk_sess *a = p; a; a = a->parent)
        if (a == s)
            return NULL;
    return p;
}

/* Facts about the negotiated handshake, for the tree of a header. A resumed handshake has no
 * Certificate: it shows the certificates of the handshake it resumes. */
static void add_hs_facts(tlsdsk_sa *st, note_list *notes, int version, int cert_s, int cert_c)
{
    const tls_hs *hs = st->sess->hs;
    const tlsdsk_sess *origin = st->sess;
    for (int i = 0; origin->parent && !origin->hs->server_cert && i < TLSDSK_RESUME_DEPTH; i++)
        origin = origin->parent;
    const tls_hs *certs = origin->hs;
    /* every text here lives as long as the SA (the text table, the certificates it holds,
     * literals): borrowed, not copied, and appended at once, on every header */
    mssipae_note f[6];
    guint n = 0;
#define HS_FACT(which, t) (f[n++] = note_fact_borrowed((which), (t)))
    if (version && hs->have_sh && notes) {
        uint64_t kv = text_key(TX_FACT_VERSION, 0, 0, 0, 0, hs->version);
        uint64_t ks = text_key(TX_FACT_SUITE, 0, 0, 0, 0, hs->suite);
        const char *vt = text_get(sa_texts(st), kv), *stx = text_get(sa_texts(st), ks);
        if (!vt) {
            const char *vn = tls_version_name(hs->version);
            vt = text_put(sa_texts(st), kv, g_strdup_printf("%s (0x%04x)", vn ? vn : "unknown",
                                                         hs->version));
        }
        if (!stx) {
            const tls_suite *s = tls_suite_find(hs->suite);
            stx = text_put(sa_texts(st), ks, g_strdup_printf("%s (0x%04x)",
                                                          s ? s->name : "unknown suite",
                                                          hs->suite));
        }
        HS_FACT(FACT_TLS_VERSION, vt);
        HS_FACT(FACT_TLS_SUITE, stx);
        HS_FACT(FACT_TLS_EMS, hs->ems ? "yes" : "no");
    }
    /* as printf's "%s" would show them */
#define FACT_STR(x) ((x) ? (x) : "(null)")
    if (cert_s && certs->server_cert) {
        const tls_cert_info *ci = cert_facts(&st->scert, certs->server_cert);
        HS_FACT(FACT_TLS_SERVER_CERT, FACT_STR(ci->subject));
        HS_FACT(FACT_TLS_SERVER_THUMB, ci->thumbprint);
    }
    if (cert_c && certs->client_cert) {
        const tls_cert_info *ci = cert_facts(&st->ccert, certs->client_cert);
        HS_FACT(FACT_TLS_CLIENT_CERT, FACT_STR(ci->subject));
    }
#undef HS_FACT
    note_list_append(notes, f, n);
}

static void tlsdsk_on_token(void *p, mssipae_dir dir, const uint8_t *tok, size_t len,
                            keystore *ks, note_list *notes)
{
    tlsdsk_sa *st = p;
    tls_hs *hs = st->sess->hs;
    int had_sh = hs->have_sh, had_sc = hs->server_cert != NULL, had_cc = hs->client_cert != NULL;
    int had_parent = st->sess->parent != NULL;
    tls_hs_feed(hs, dir, tok, len, notes);

    /* the session cache: a resumed handshake finds the one it continues; a full handshake's
     * new session id, and any ticket issued, are remembered for later ones */
    tlsdsk_cap *cap = sa_cap(st);
    if (cap && cap->nokey.sess == st->sess)
        nokey_forget(&cap->nokey); /* its reason may name what the handshake had */
    if (cap && !st->sess->parent) {
        tlsdsk_sess *p = sess_find_parent(cap, st->sess);
        if (p)
            st->sess->parent = sess_ref(p);
    }
    int resumed_now = !had_parent && st->sess->parent;
    add_hs_facts(st, notes, !had_sh && hs->have_sh, (!had_sc && hs->server_cert) || resumed_now,
                 (!had_cc && hs->client_cert) || resumed_now);
    if (!cap)
        return;
    if (hs->have_sh && hs->sid_len && !st->sess->sid_registered && !tls_hs_resumed(hs)) {
        sid_put(cap->by_sid, st->sess);
        st->sess->sid_registered = 1;
    }
    if (hs->ticket && !st->sess->ticket_registered) {
        cache_put(cap->by_ticket, hs->ticket->data, hs->ticket->len, 1, st->sess);
        st->sess->ticket_registered = 1;
    }
    if (st->sess->have_ms)
        tls_hs_trim(hs); /* only once both sides sent ChangeCipherSpec */
}

/* ---- master secret ---- */

/* The RSA path: the server key chosen by certificate, decrypting the ClientKeyExchange. */
static int sess_master_rsa(tlsdsk_sess *s, keystore *ks, tlsdsk_texts *tx, char **why)
{
    const tls_hs *hs = s->hs;
    const tls_suite *suite = tls_suite_find(hs->suite);
    char cr[65];
    hex_lower(hs->cr, 32, cr);
    if (!hs->have_sh) {
        *why = g_strdup("no ServerHello of this SA in the capture");
        return -1;
    }
    if ((suite && suite->kx != TLS_KX_RSA) || hs->server_kx) {
        *why = g_strdup_printf("%s uses an ephemeral (EC)DHE key exchange: the server's RSA key "
                               "cannot recover its master secret; a key log (CLIENT_RANDOM %s) "
                               "or explicit TLS-DSK keys can",
                               suite ? suite->name : "the handshake", cr);
        return -1;
    }
    if (!suite) {
        *why = g_strdup_printf("unknown cipher suite 0x%04x: its key exchange is unknown",
                               hs->suite);
        return -1;
    }
    if (!hs->server_cert) {
        *why = g_strdup("no server Certificate in the capture to choose an RSA key by");
        return -1;
    }
    const tls_cert_info ci = hs->server_cert->info; /* read when it arrived (shallow copy) */
    int rc = -1;
    const char *origin = NULL;
    const rsakey *key = ci.has_key_id ? keystore_tls_rsa_find(ks, ci.key_id, &origin) : NULL;
    if (!ci.has_key_id) {
        *why = g_strdup_printf("the server certificate (SHA-1 thumbprint %s) cannot be parsed",
                               ci.thumbprint);
    } else if (!key) {
        size_t n = keystore_tls_rsa_count(ks);
        *why = g_strdup_printf("no RSA key for the server certificate \"%s\" (SHA-1 thumbprint %s; "
                               "%zu RSA key%s configured%s)",
                               ci.subject, ci.thumbprint, n, n == 1 ? "" : "s",
                               n ? ", none with this public key" : "");
    } else if (!hs->cke) {
        *why = g_strdup(hs->kx_seen ? "the ClientKeyExchange is no longer held"
                                    : "no ClientKeyExchange of this SA in the capture");
    } else {
        /* RSA ClientKeyExchange: opaque EncryptedPreMasterSecret<0..2^16-1> (RFC 5246 7.4.7.1) */
        const uint8_t *c = hs->cke->data;
        size_t clen = hs->cke->len;
        const char *dwhy = NULL;
        uint8_t pms[48];
        if (clen < 2 || (size_t)((c[0] << 8) | c[1]) != clen - 2) {
            *why = g_strdup("the ClientKeyExchange is not an RSA EncryptedPreMasterSecret");
        } else if (rsakey_decrypt_pms(key, c + 2, clen - 2, hs->ch_version, hs->version, pms,
                                     &dwhy) < 0) {
            *why = g_strdup_printf("%s: %s", origin, dwhy);
        } else {
            tls_prf_kind k = tls_prf_for(hs->version, suite->prf12);
            if (hs->ems) {
                /* RFC 7627 4: PRF(pms, "extended master secret", session_hash) */
                uint8_t sh[TLS_SESSION_HASH_MAX];
                size_t shlen = 0;
                rc = tls_session_hash(k, hs->transcript ? hs->transcript->data : (const uint8_t *)"",
                                      hs->transcript ? hs->transcript->len : 0, sh, &shlen);
                if (rc == 0)
                    rc = tls_ems_master_secret(k, pms, 48, sh, shlen, s->ms);
            } else {
                rc = tls_master_secret(k, pms, 48, hs->cr, hs->sr, s->ms);
            }
            secure_wipe(pms, sizeof(pms));
            if (rc == 0)
                s->ms_src = text_intern(tx, g_strdup_printf("RSA key %s, %s master secret",
                                                            origin,
                                                            hs->ems ? "extended" : "standard"));
            else
                *why = g_strdup("the TLS PRF failed");
        }
    }
    return rc;
}

/* The master secret of a handshake from the first source that has it; 0, or -1 with *why. */
/* The source of s's master secret as text: s->ms_src itself, or a CLIENT_RANDOM line's made in
 * buf (size bytes) or, when longer, in *heap (the caller g_frees it). NULL when none. */
static const char *sess_src(const tlsdsk_sess *s, char *buf, size_t size, char **heap)
{
    static const char tail[] = " (CLIENT_RANDOM)";
    *heap = NULL;
    if (!s->ms_src || !s->ms_line)
        return s->ms_src;
    size_t n = strlen(s->ms_src);
    if (n + sizeof(" line 4294967295") + sizeof tail > size)
        return *heap = g_strdup_printf("%s line %u%s", s->ms_src, s->ms_line, tail);
    char num[12], *q = num + sizeof num;
    uint32_t v = s->ms_line;
    do
        *--q = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    size_t nl = (size_t)(num + sizeof num - q);
    char *o = buf;
    memcpy(o, s->ms_src, n);
    o += n;
    memcpy(o, " line ", 6);
    o += 6;
    memcpy(o, q, nl);
    o += nl;
    memcpy(o, tail, sizeof tail); /* with its NUL */
    return buf;
}

/* sess_src kept by the session: its SA's headers show the same source, lent (it lives as long
 * as the SA: note_fact_add_static). */
static const char *sess_src_text(tlsdsk_sess *s)
{
    if (!s->ms_src || !s->ms_line)
        return s->ms_src;
    if (!s->src_text) {
        char b[256], *h;
        const char *x = sess_src(s, b, sizeof b, &h);
        s->src_text = h ? h : g_strdup(x);
    }
    return s->src_text;
}

static int sess_master(tlsdsk_sess *s, tlsdsk_cap *cap, tlsdsk_texts *tx, keystore *ks, int depth,
                       char **why)
{
    *why = NULL;
    if (s->have_ms)
        return 0;
    const tls_hs *hs = s->hs;
    if (!hs->have_ch) {
        *why = g_strdup(hs->broken_why ? hs->broken_why : "no ClientHello of this SA in the capture");
        return -1;
    }
    char *origin = NULL;
    unsigned line = 0;
    if (keystore_client_random_src(ks, hs->cr, s->ms, &origin, &line)) {
        s->have_ms = 1;
        s->ms_src = text_intern(tx, origin);
        s->ms_line = line;
        return 0;
    }
    char cr[65]; /* for the reasons below */
    hex_lower(hs->cr, 32, cr);
    if (tls_hs_resumed(hs)) {
        tlsdsk_sess *parent = s->parent ? s->parent : sess_find_parent(cap, s);
        if (!parent || parent->busy || depth >= TLSDSK_RESUME_DEPTH) {
            *why = g_strdup_printf("resumed session whose full handshake is not in the capture: "
                                   "no CLIENT_RANDOM line for client random %s", cr);
            return -1;
        }
        char *pwhy = NULL;
        s->busy = 1;
        int rc = sess_master(parent, cap, tx, ks, depth + 1, &pwhy);
        s->busy = 0;
        if (rc < 0) {
            *why = g_strdup_printf("resumed session (client random %s): its full handshake has no "
                                   "key: %s", cr, pwhy);
            g_free(pwhy);
            return -1;
        }
        memcpy(s->ms, parent->ms, TLS_MS_LEN);
        s->have_ms = 1;
        char pb[256], *ph;
        const char *psrc = sess_src(parent, pb, sizeof pb, &ph);
        s->ms_src = text_intern(tx, g_strdup_printf("resumed session, master secret of the "
                                                    "earlier handshake (%s)", psrc));
        g_free(ph);
        return 0;
    }
    if (!s->rsa_tried) {
        g_free(s->rsa_why);
        s->rsa_why = NULL;
        if (sess_master_rsa(s, ks, tx, &s->rsa_why) == 0) {
            s->have_ms = 1;
            return 0;
        }
        /* the outcome is final once the client's key exchange is over (no later token can
         * change it); before that, a signature seen mid-handshake must not freeze a failure */
        s->rsa_tried = hs->kx_seen || hs->ccs[DIR_C2S];
    }
    *why = g_strdup_printf("no CLIENT_RANDOM line for client random %s; %s%s%s", cr,
                           s->rsa_why ? s->rsa_why : "no RSA key",
                           hs->broken_why ? "; " : "", hs->broken_why ? hs->broken_why : "");
    return -1;
}

/* ---- candidates ---- */

/* The key block PRFs to try for this handshake: the negotiated version's first. */
static int kb_prfs(const tls_hs *hs, tls_prf_kind out[TLSDSK_MAX_KB])
{
    const tls_suite *s = tls_suite_find(hs->suite);
    int n = 0;
    if (hs->version < TLS_V12) {
        out[n++] = TLS_PRF_10;
        return n;
    }
    if (s) {
        out[n++] = tls_prf_for(hs->version, s->prf12);
    } else {
        out[n++] = TLS_PRF_12_SHA256;
        out[n++] = TLS_PRF_12_SHA384;
    }
    out[n++] = TLS_PRF_10; /* in case a peer kept the TLS 1.0 derivation under TLS 1.2 */
    return n;
}

/* The signing half of candidate key block i, derived the first time it is asked for (a TLS 1.2
 * SA verified by its suite's PRF never derives the TLS 1.0 one: issue 10); NULL when the PRF
 * failed. */
static const uint8_t *kb_get(tlsdsk_sa *st, int i)
{
    uint8_t bit = (uint8_t)(1u << i), *k = st->kb + (size_t)i * TLSDSK_SIGN_KEYS_LEN;
    if (st->kb_have & bit)
        return k;
    if (st->kb_failed & bit)
        return NULL;
    const tls_hs *hs = st->sess->hs;
    if (tlsdsk_sign_keys((tls_prf_kind)st->kb_prf[i], st->sess->ms, hs->cr, hs->sr, k) != 0) {
        st->kb_failed |= bit;
        return NULL;
    }
    st->kb_have |= bit;
    return k;
}

/* Lists (once) the SA's candidate key blocks; 0 when one of them can be derived (the first that
 * can is), -1 when every PRF failed. */
static int sa_key_blocks(tlsdsk_sa *st)
{
    if (!st->kb_done) {
        st->kb_done = 1;
        tls_prf_kind ks[TLSDSK_MAX_KB];
        int n = kb_prfs(st->sess->hs, ks);
        for (int i = 0; i < n; i++)
            st->kb_prf[i] = (uint8_t)ks[i];
        st->kb_n = (uint8_t)n;
        st->kb = g_malloc0((size_t)n * TLSDSK_SIGN_KEYS_LEN);
    }
    for (int i = 0; i < st->kb_n; i++)
        if (kb_get(st, i))
            return 0;
    return -1;
}

/* The signing key of direction dir in candidate key block i (key_block[64..96) or [96..128));
 * the block was derived. */
static const uint8_t *kb_key(const tlsdsk_sa *st, int i, mssipae_dir dir)
{
    return st->kb + (size_t)i * TLSDSK_SIGN_KEYS_LEN + (dir == DIR_C2S ? 0 : TLSDSK_KEY_LEN);
}

/* Recomputes HMAC-h(key, buf) and compares with sig (siglen == tls_hash_len(h)). */
static int mac_matches(const tlsdsk_sa *st, tls_hash h, const uint8_t *key, size_t klen,
                       const uint8_t *buf, size_t buflen, const uint8_t *sig, size_t siglen,
                       int *ok)
{
    uint8_t mac[TLS_SESSION_HASH_MAX];
    if (tls_hmac_cached(sa_cap(st) ? sa_cap(st)->macs : NULL, h, key, klen, buf, buflen, mac) < 0)
        return -1;
    *ok = ct_memeq(mac, sig, siglen);
    secure_wipe(mac, sizeof(mac));
    return 0;
}

static const char *key_name(mssipae_dir dir)
{
    return dir == DIR_C2S ? "client key" : "server key";
}

/* Keeps a copy of the explicit keys that verified a signature, for the key export. */
static void remember_xkeys(tlsdsk_sa *st, const keylog_entry *e)
{
    const uint8_t *k[2] = { e->key1, e->key2 };
    size_t n[2] = { e->key1_len, e->key2_len };
    for (int i = 0; i < 2; i++) {
        if (!k[i] || n[i] > TLS_SESSION_HASH_MAX)
            return;
    }
    if (st->xkeys && st->xlen[0] == n[0] && st->xlen[1] == n[1] &&
        memcmp(st->xkeys, k[0], n[0]) == 0 && memcmp(st->xkeys + n[0], k[1], n[1]) == 0)
        return; /* kept already */
    if (st->xkeys) {
        secure_wipe(st->xkeys, (size_t)st->xlen[0] + st->xlen[1]);
        g_free(st->xkeys);
    }
    st->xkeys = g_malloc(n[0] + n[1] ? n[0] + n[1] : 1);
    memcpy(st->xkeys, k[0], n[0]);
    memcpy(st->xkeys + n[0], k[1], n[1]);
    st->xlen[0] = (uint8_t)n[0];
    st->xlen[1] = (uint8_t)n[1];
}

/* Explicit keys from a TLS-DSK key-log line. */
static sig_verdict verify_explicit(tlsdsk_sa *st, const keylog_entry *e, const char *opaque,
                                   mssipae_dir dir, const uint8_t *buf, size_t buflen,
                                   const uint8_t *sig, size_t siglen, tls_hash h,
                                   note_list *notes)
{
    const tls_hs *hs = st->sess->hs;
    const tls_suite *suite = hs->have_sh ? tls_suite_find(hs->suite) : NULL;
    const uint8_t *key = dir == DIR_C2S ? e->key1 : e->key2;
    size_t klen = dir == DIR_C2S ? e->key1_len : e->key2_len;
    note_fact_add(notes, FACT_TLS_SECRET_SRC, "key-log line %u: TLS-DSK keys for opaque %s",
                  e->line, opaque);
    int known = (h == TLS_H_MD5 || h == TLS_H_SHA1) &&
                (!hs->have_sh || (hs->version < TLS_V12 && suite && suite->mac == h));
    int proven = st->proven.set && st->proven.explicit_keys && st->proven.h == h;
    int ok = 0;
    if (!key || !klen || mac_matches(st, h, key, klen, buf, buflen, sig, siglen, &ok) < 0)
        return verdict_make(SIG_NO_KEY, "key-log line %u for opaque %s has no usable %s",
                            e->line, opaque, key_name(dir));
    if (ok)
        remember_xkeys(st, e);
    if (ok && known)
        return verdict_make(SIG_VALID, "HMAC-%s with the %s of key-log line %u",
                            tls_hash_name(h), key_name(dir), e->line);
    if (ok) {
        if (!st->proven.set)
            st->proven = (tlsdsk_variant){ 1, 1, TLS_PRF_10, (uint8_t)h };
        return verdict_make(SIG_VALID, "variant HMAC-%s with the %s of key-log line %u "
                            "(TLS 1.2 / long-signature case, confirmed by this match)",
                            tls_hash_name(h), key_name(dir), e->line);
    }
    if (known || proven)
        return verdict_make(SIG_INVALID, "HMAC-%s with the %s of key-log line %u does not match%s",
                            tls_hash_name(h), key_name(dir), e->line,
                            known ? "" : " (the variant an earlier signature of this SA proved)");
    return verdict_make(SIG_UNSUPPORTED, "HMAC-%s with the %s of key-log line %u does not match; "
                        "the TLS-DSK variant for this case is not established, so this is not "
                        "proof of tampering", tls_hash_name(h), key_name(dir), e->line);
}

static sig_verdict tlsdsk_verify(void *p, keystore *ks, const char *opaque, mssipae_dir dir,
                                 const uint8_t *buf, size_t buflen, const uint8_t *sig,
                                 size_t siglen, note_list *notes, G_GNUC_UNUSED int later)
{
    tlsdsk_sa *st = p;
    tlsdsk_sess *s = st->sess;
    const tls_hs *hs = s->hs;
    tls_hash h = tls_hash_by_len(siglen);
    if (h == TLS_H_NONE)
        return verdict_make(SIG_MALFORMED, "a TLS-DSK signature is 16, 20, 32 or 48 bytes "
                            "(HMAC-MD5, -SHA1, -SHA256, -SHA384), this one %zu", siglen);
    add_hs_facts(st, notes, 1, 1, 1);

    tlsdsk_cap *cap = sa_cap(st);
    const keylog_entry *e = !opaque ? NULL
                            : cap   ? keystore_keylog_find_memo(ks, KEYLOG_TLSDSK, opaque,
                                                                &cap->kl_memo)
                                    : keystore_keylog_find(ks, KEYLOG_TLSDSK, opaque);
    if (e)
        return verify_explicit(st, e, opaque, dir, buf, buflen, sig, siglen, h, notes);
    const char *kept = cap ? nokey_get(cap, s, ks, opaque) : NULL;
    if (kept)
        return verdict_copy(SIG_NO_KEY, kept);

    if (!hs->have_ch && !hs->have_sh) {
        sig_verdict v = verdict_make(SIG_NO_KEY, "no TLS-DSK key-log line for opaque %s, and %s",
                                     opaque ? opaque : "(none)",
                                     hs->broken_why ? hs->broken_why
                                                    : "the SA's handshake is not in the capture");
        if (cap)
            nokey_keep(cap, s, ks, opaque, &v);
        return v;
    }
    if (hs->have_sh && (hs->version < TLS_V10 || hs->version > TLS_V12))
        return verdict_make(SIG_UNSUPPORTED, "TLS-DSK over %s (0x%04x) is not supported",
                            tls_version_name(hs->version) ? tls_version_name(hs->version)
                                                          : "an unknown TLS version",
                            hs->version);
    char *why = NULL;
    if (sess_master(s, sa_cap(st), sa_texts(st), ks, 0, &why) < 0) {
        sig_verdict v = verdict_make(SIG_NO_KEY, "no TLS-DSK key-log line for opaque %s; %s",
                                     opaque ? opaque : "(none)", why);
        g_free(why);
        /* the RSA route's outcome is final and no earlier handshake is involved: only the key
         * logs, the handshake and the opaque change this text */
        if (cap && s->rsa_tried && !tls_hs_resumed(hs))
            nokey_keep(cap, s, ks, opaque, &v);
        /* the RSA route will not run again, and a key log gives the master secret itself: the
         * handshake bytes kept for that route are not needed any more (once it is over) */
        if (s->rsa_tried)
            tls_hs_trim(s->hs);
        return v;
    }
    /* the text table's or the session's: both live as long as the SA */
    note_fact_add_static(notes, FACT_TLS_SECRET_SRC, FACT_STR(sess_src_text(s)));
    tls_hs_trim(s->hs); /* the handshake bytes are not needed any more (once it is over) */
    if (!hs->have_sh)
        return verdict_make(SIG_NO_KEY, "no ServerHello of this SA in the capture: the server "
                            "random is unknown");
    if (sa_key_blocks(st) < 0)
        return verdict_make(SIG_NO_KEY, "the TLS PRF failed");

    const tls_suite *suite = tls_suite_find(hs->suite);
    /* the known case: TLS 1.0/1.1 and HMAC with the suite's MD5/SHA1 record MAC */
    int known = hs->version < TLS_V12 && suite && suite->mac == h &&
                (h == TLS_H_MD5 || h == TLS_H_SHA1);
    for (int i = 0; i < st->kb_n; i++) {
        int ok = 0;
        if (!kb_get(st, i) ||
            mac_matches(st, h, kb_key(st, i, dir), TLSDSK_KEY_LEN, buf, buflen, sig, siglen, &ok) < 0)
            continue;
        tls_prf_kind prf = (tls_prf_kind)st->kb_prf[i];
        int proven = st->proven.set && !st->proven.explicit_keys && st->proven.prf == prf &&
                     st->proven.h == h;
        /* the reason depends on (known, h, the key block's PRF, dir, and for a variant the
         * version): made once per capture (the text table) */
        if (ok) {
            st->verified_kb = (uint8_t)(i + 1);
            if (!known && !st->proven.set)
                st->proven = (tlsdsk_variant){ 1, 0, (uint8_t)prf, (uint8_t)h };
            uint64_t key = text_key(known ? TX_VALID_KNOWN : TX_VALID_VARIANT, h, dir, prf, 0,
                                    known ? 0 : hs->version);
            const char *why = text_get(sa_texts(st), key);
            if (!why)
                why = text_put(sa_texts(st), key, known
                    ? g_strdup_printf("HMAC-%s with the %s (%s key block)", tls_hash_name(h),
                                      key_name(dir), tls_prf_name(prf))
                    : g_strdup_printf("variant HMAC-%s with the %s of the %s key block "
                                      "(%s, not settled by the reference; confirmed by this "
                                      "match)", tls_hash_name(h), key_name(dir),
                                      tls_prf_name(prf), tls_version_name(hs->version)));
            return verdict_copy(SIG_VALID, why);
        }
        if (known || proven) {
            uint64_t key = text_key(TX_INVALID, h, dir, prf, known ? 1 : 0, 0);
            const char *why = text_get(sa_texts(st), key);
            if (!why)
                why = text_put(sa_texts(st), key, g_strdup_printf(
                    "HMAC-%s with the %s (%s key block) does not match%s", tls_hash_name(h),
                    key_name(dir), tls_prf_name(prf),
                    known ? "" : " (the variant an earlier signature of this SA proved)"));
            return verdict_copy(SIG_INVALID, why);
        }
    }
    GString *tried = g_string_new(NULL); /* the candidates whose PRF worked (all were tried) */
    int n_tried = 0;
    for (int i = 0; i < st->kb_n; i++)
        if (!(st->kb_failed & (1u << i)))
            g_string_append_printf(tried, "%s%s", n_tried++ ? ", " : "",
                                   tls_prf_name((tls_prf_kind)st->kb_prf[i]));
    sig_verdict v = verdict_make(SIG_UNSUPPORTED, "%s, %s (0x%04x), %zu-byte signature: no "
                                 "candidate variant matches (HMAC-%s with the %s of the %s key "
                                 "block%s); the derivation for this case is not established, so "
                                 "this is not proof of tampering",
                                 tls_version_name(hs->version), suite ? suite->name : "unknown suite",
                                 hs->suite, siglen, tls_hash_name(h), key_name(dir), tried->str,
                                 n_tried > 1 ? "s" : "");
    g_string_free(tried, TRUE);
    return v;
}

/* The client certificate's subject, for statistics (once the handshake facts were read). */
static char *tlsdsk_client_name(const void *p)
{
    const tlsdsk_sa *st = p;
    return st->ccert && st->ccert->info.subject && *st->ccert->info.subject
               ? g_strdup(st->ccert->info.subject) : NULL;
}

/* "TLS-DSK <opaque> <client key> <server key>": the keys of the key block that verified a
 * signature (key_block[64..96), [96..128)), or the explicit keys that did. */
static size_t tlsdsk_export_keys(const void *p, const char *const *opaques, size_t n,
                                 GString *out)
{
    const tlsdsk_sa *st = p;
    const uint8_t *k[2];
    size_t kl[2];
    if (st->verified_kb) {
        k[0] = kb_key(st, st->verified_kb - 1, DIR_C2S);
        k[1] = kb_key(st, st->verified_kb - 1, DIR_S2C);
        kl[0] = kl[1] = TLSDSK_KEY_LEN;
    } else if (st->xkeys) {
        k[0] = st->xkeys;
        k[1] = st->xkeys + st->xlen[0];
        kl[0] = st->xlen[0];
        kl[1] = st->xlen[1];
    } else {
        return 0;
    }
    char *c = codec_hex_encode(k[0], kl[0]), *s = codec_hex_encode(k[1], kl[1]);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "TLS-DSK %s %s %s\n", opaques[i], c, s);
    secure_wipe(c, strlen(c));
    secure_wipe(s, strlen(s));
    g_free(c);
    g_free(s);
    return n;
}

const mech_ops mech_tlsdsk_ops = {
    .scheme = mech_schemes[MECH_SCHEME_TLSDSK],
    .keylog = KEYLOG_TLSDSK,
    .cap_new = tlsdsk_cap_new,
    .cap_free = tlsdsk_cap_free,
    .sa_new = tlsdsk_sa_new,
    .sa_free = tlsdsk_sa_free,
    .client_name = tlsdsk_client_name,
    .export_keys = tlsdsk_export_keys,
    .on_token = tlsdsk_on_token,
    .verify = tlsdsk_verify,
};
