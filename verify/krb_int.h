/* krb_int.h - the Kerberos mechanism's internals, shared by its files (mechanism-internal):
 *   mech_kerberos.c  the mech_ops row: SA state, token dispatch, verify dispatch
 *   krb_gss.c        GSS-API framing          krb_ap.c      AP-REQ / AP-REP / KRB-ERROR
 *   krb_keytab.c     the service keytab       krb_keys.c    key candidates and key-log keys
 *   krb_mic.c        RFC 4121 / 4757 MIC checks  krb_util.c  names and texts for messages
 *   krb_der.c        the DER walk     krb_fast.c    the AES-SHA1 MIC checksum with nettle
 */
#ifndef MSSIPAE_KRB_INT_H
#define MSSIPAE_KRB_INT_H

#include <stddef.h>
#include <stdint.h>
#include <krb5/krb5.h>
#include <nettle/sha1.h>

#include "keytab/keystore.h"
#include "verify/krb_der.h"
#include "verify/verdict.h"

/* Longest key of any enctype libkrb5 supports (AES256, Camellia256: 32 bytes). Every key is
 * length-checked by krb_key_fits before it is kept. */
#define KRB_KEY_MAX 32

/* nettle's HMAC-SHA1 key state of one checksum key (krb_fast.c): the outer and inner contexts
 * hmac_set_key makes (the message state is made per message as a copy of inner), used through
 * nettle's API only (hmac_update / hmac_digest on a copy), never rebuilt by hand. */
struct krb_ck_key {
    struct sha1_ctx outer;
    struct sha1_ctx inner;
};

/* One key usage's AES-SHA1 fast path for one key (krb_fast.c): state 1 ready (its checksum key
 * Kc in the key's caches), -1 libkrb5 only. Usages above 255 (none of RFC 4121's) always go to
 * libkrb5. */
struct krb_fast_ck {
    uint8_t usage;
    int8_t state;
};

/* What a key caches for the MIC checks (issue 10), made on first use (krb_keyv_x) and freed
 * (wiped) with the key: the enctype's mandatory checksum (ck_state 1: ck_type / ck_len known;
 * -1 none), the krb5_key (libkrb5 keeps derived keys inside; made only when the fast path cannot
 * be used) and the fast path's checksum keys for RFC 4121's two usages per key (23 acceptor
 * sign, 25 initiator sign; any further usage goes to libkrb5): s[i] for i < ns is a usage taken,
 * kc[i * kclen ..] its Kc = DK(key, usage || 0x99) (kclen: the key's length, 16 or 32). nettle's
 * HMAC contexts made from a Kc are not kept here but in the capture's small cache (krb_fast.c),
 * which SAs used in runs hit. The caches are one allocation per key, grown (krb_fast.c) by one
 * Kc when a usage is first used, so a key whose MIC checks use one usage, or none, keeps no room
 * for the others. */
struct krb_keyx {
    krb5_key kk;
    krb5_cksumtype ck_type;
    int8_t ck_state;
    uint8_t ck_len;
    uint8_t ns;
    uint8_t kclen;
    struct krb_fast_ck s[2];
    uint8_t kc[];
};

/* A key owned by the SA, copied out of krb5 structures so that freeing needs no context. */
typedef struct {
    int32_t enctype;
    uint8_t len;              /* 0 when unset */
    uint8_t val[KRB_KEY_MAX]; /* wiped when cleared */
    struct krb_keyx *x;       /* caches, NULL until used */
} krb_keyv;

/* An EncryptedData kept for later decryption (RFC 4120 5.2.9). */
typedef struct {
    int32_t etype;
    uint32_t len;
    uint8_t *cipher; /* NULL when absent (or freed once the handshake's own key opened it) */
} krb_encpart;

/* What the Authenticator or the EncAPRepPart carried. */
typedef struct {
    krb_keyv subkey;
    uint32_t seq;
    uint32_t gss_flags;
    uint8_t have_seq;
    uint8_t have_gss_flags;
} krb_inner;

/* Where a candidate key comes from (krb_keys.c); at most KRB_SRC_N distinct candidates exist. */
typedef enum {
    KRB_SRC_SESSION = 0,
    KRB_SRC_AUTH_SUBKEY,
    KRB_SRC_APREP_SUBKEY,
    KRB_SRC_KL_AUTH_SUBKEY,
    KRB_SRC_KL_APREP_SUBKEY,
    KRB_SRC_KL_KEY,
    KRB_SRC_N
} krb_src;

/* The key-log cache of an SA: what a KERBEROS key-log line gives (derived lazily in verify, keyed
 * by the line); allocated only while the SA has a line. */
typedef struct {
    int32_t src_enctype;
    uint8_t *src;      /* copy of the line's key, to notice a changed key log */
    size_t src_len;
    unsigned line;
    krb_keyv key;      /* usable key, or unset (then why says why) */
    krb_inner auth;    /* Authenticator decrypted with the key-log key */
    krb_inner aprep;   /* EncAPRepPart decrypted with the key-log key */
    char *why;
    uint8_t unsupported;
    uint8_t auth_ok;   /* the key-log key decrypted the Authenticator: it is the session key */
    uint8_t proven;    /* the key-log key verified a signature of this SA: it is the signing key */
} krb_kl;

/* What few SAs need (issue 10: kept out of krb_sa, which every SA has): texts of a handshake
 * that gave no key, a copy of a verifying key whose source may change, the key-log cache and the
 * key-log lookup memo. Allocated when one of them is first set (krb_rare), freed with the SA. */
typedef struct {
    char *nokey_why;     /* why the handshake gave no key (g_malloc'd), NULL otherwise */
    char *bad_token_why; /* the last handshake token that could not be parsed, or NULL */
    krb_keyv *verified_copy; /* a copy of the key that last verified, when its source may change */
    krb_kl *kl;          /* key-log cache, NULL without a line */
    ks_keylog_memo memo; /* the key-log lookup, kept until the key log changes; used only once
                            the key log has a KERBEROS line (see kl_line) */
} krb_sa_rare;

/* Per-capture state of the mechanism (mech_ops.cap_new), shared by its SAs: texts interned once
 * for every SA, and which AES-SHA1 fast-path states were checked against libkrb5. */
typedef struct krb_cap krb_cap;

typedef struct {
    /* handshake facts, set on the first pass by on_token */
    uint8_t apreq_seen;  /* an AP-REQ whose ticket was decoded */
    uint8_t auth_ok;     /* Authenticator decrypted and parsed: its subkey is known or absent */
    uint8_t aprep_seen;
    uint8_t aprep_ok;    /* EncAPRepPart decrypted and parsed */
    uint8_t nokey_unsupported; /* ... because an enctype is not supported */
    uint8_t verified_src; /* which key last verified a signature: a krb_src + 1 for the SA's own
                             keys, 0 none, KRB_VERIFIED_COPY for verified_copy */
    uint8_t own_cap : 1; /* cap is this SA's own (made without a per-capture state) */
    uint8_t stale : 1;   /* the per-message caches below are stale */
    uint8_t cc_made;     /* bit s: the candidates of slot s are in cc / cc_n (see below) */
    int32_t tkt_enctype;
    uint32_t tkt_kvno;
    const char *client;  /* client principal from the decrypted ticket, or NULL: the capture's
                            one copy of that name (krb_cap_intern; SAs of one client share it) */
    krb_keyv session;    /* from the keytab-decrypted ticket */
    krb_inner auth;
    krb_inner aprep;
    krb_encpart auth_enc, aprep_enc;
    krb_sa_rare *rare;   /* see krb_sa_rare; NULL until needed */
    krb_cap *cap;        /* per-capture state (owned when own_cap) */

    /* Per-message caches (issue 10): what verify would otherwise compute or format for every
     * message. They are valid while stale is clear; stale is set by anything the candidates or
     * the texts depend on (every handshake token, the key-log cache, proven). Texts
     * are interned in the per-capture cap (shared by SAs, freed with it) and named by their id
     * there (0: none). Candidate slots: RFC 4121 without / with AcceptorSubkey, RFC 4757. */
    uint32_t bad_txt;              /* the INVALID / NO_KEY text after keys did not match or
                                      with no candidate (the note's text "Kerberos: <reason>"
                                      when bad_note is a note kind), and */
    uint32_t ok_txt[2];            /* the VALID texts before their SND_SEQ last used, for */
    uint8_t ok_key[2];             /* text slot << 4 | candidate index + 1 (0: none); an SA
                                      uses one text slot per sender (see ok_text) */
    uint8_t bad_status, bad_note;
    uint8_t cc_n[3];
    uint8_t cc[3][KRB_SRC_N];      /* krb_src | 0x80 when authoritative */
    uint16_t bad_key;              /* for which candidates bad_txt is (see no_match) */
    uint8_t bad_opaque_len;        /* with no candidate: the opaque bad_txt names, strlen + 1 */
    char bad_opaque[15];           /* (0: none), NUL-padded; a longer one is not kept */
} krb_sa;

#define KRB_VERIFIED_COPY 0xff

/* The SA's rare part, made when first needed (for writing). */
static inline krb_sa_rare *krb_rare(krb_sa *sa)
{
    if (!sa->rare)
        sa->rare = g_new0(krb_sa_rare, 1);
    return sa->rare;
}
/* Its fields for reading (NULL when the part was never made). */
static inline const char *krb_sa_nokey_why(const krb_sa *sa)
{
    return sa->rare ? sa->rare->nokey_why : NULL;
}
static inline const char *krb_sa_bad_token_why(const krb_sa *sa)
{
    return sa->rare ? sa->rare->bad_token_why : NULL;
}
static inline krb_kl *krb_sa_klp(const krb_sa *sa)
{
    return sa->rare ? sa->rare->kl : NULL;
}

/* The key-log cache for reading: sa->kl, or an all-unset one. */
const krb_kl *krb_sa_kl(const krb_sa *sa);
/* The SA's key of source src (unset keys have len 0). */
const krb_keyv *krb_src_key(const krb_sa *sa, krb_src src);

/* ---- per-capture state (krb_mic.c) ---- */
krb_cap *krb_cap_new(void);
void krb_cap_free(krb_cap *cap);
/* text (taken) as the capture's one copy of that string: its id (> 0). */
uint32_t krb_cap_intern(krb_cap *cap, char *text);
/* The text of an id, NULL for 0. */
const char *krb_cap_text(const krb_cap *cap, uint32_t id);
/* Whether the fast path was checked for (enctype, usage): 0 not yet, 1 good, -1 bad; and set. */
int krb_cap_fast_checked(const krb_cap *cap, int32_t enctype, krb5_keyusage usage);
void krb_cap_fast_set(krb_cap *cap, int32_t enctype, krb5_keyusage usage, int state);
/* krb_ck_fold(usage), made once per capture (it is public: nothing secret). */
const uint8_t *krb_cap_ck_fold(krb_cap *cap, krb5_keyusage usage);
/* The capture's cache of HMAC contexts by checksum key (krb_fast.c; NULL until first used), for
 * krb_fast.c: the address of its pointer in cap. */
struct krb_ck_cache;
struct krb_ck_cache **krb_cap_ck_cache(krb_cap *cap);

/* Marks the SA's per-message caches stale (mech_kerberos.c). */
void krb_sa_changed(krb_sa *sa);

/* ---- mech_kerberos.c: key and SA state ---- */

/* Wipes and frees a key so secrets do not linger in freed heap memory. */
void krb_keyv_clear(krb_keyv *k);
/* Copies key bytes into an SA-owned key. */
void krb_keyv_set(krb_keyv *k, int32_t enctype, const uint8_t *val, size_t len);
/* A krb5 view of an SA key, for the krb5_c_* calls (which never modify it). */
krb5_keyblock krb_keyv_block(const krb_keyv *k);
/* Frees a kept EncryptedData (ciphertext only: nothing secret). */
void krb_encpart_clear(krb_encpart *e);
/* Forgets what an Authenticator / EncAPRepPart gave, wiping its subkey. */
void krb_inner_clear(krb_inner *in);
/* Forgets the key-log cache, e.g. when the handshake or the key-log line changed. */
void krb_kl_clear(krb_sa *sa);
/* Forgets everything an AP-REQ established (a second AP-REQ on one SA starts over). */
void krb_apreq_clear(krb_sa *sa);
/* Remembers the key (of source src) that verified a signature, for the key export. */
void krb_remember_verified(krb_sa *sa, krb_src src, const krb_keyv *k);
/* Gives the remembered key its own copy if it is the key of src, which is about to change. */
void krb_verified_pin(krb_sa *sa, krb_src src);

/* ---- krb_util.c ---- */

/* Enctype as "18 (aes256-cts-hmac-sha1-96)" for messages; buf needs 80 bytes. */
const char *krb_etype_desc(int32_t e, char *buf, size_t n);
/* Canonical enctype name only ("aes256-cts-hmac-sha1-96"). */
const char *krb_etype_name(int32_t e, char *buf, size_t n);
/* The first max bytes of p in hex ("..." when longer); g_malloc'd. */
char *krb_hex_head(const uint8_t *p, size_t len, size_t max);
/* A krb5 error as g_malloc'd text. */
char *krb_errtext(krb5_context ctx, krb5_error_code rc);
/* 0 when libkrb5 knows enctype and len is its key length; -1 wrong length, -2 unsupported
 * enctype (*why g_malloc'd). */
int krb_key_fits(krb5_context ctx, int32_t enctype, size_t len, char **why);
/* GSS context flags as names, into buf. */
void krb_gss_flag_names(uint32_t f, char *buf, size_t n);

/* ---- krb_gss.c ---- */

typedef enum { GSS_OK = 0, GSS_BAD, GSS_SPNEGO, GSS_OTHER_OID } gss_res;

/* Unwraps an InitialContextToken-style frame (RFC 2743 3.1: 60 len 06 len OID, then the
 * mechanism token) into the 2-byte TOK_ID and the rest; *trailing counts bytes after the frame;
 * *why (g_malloc'd) unless GSS_OK. */
gss_res krb_gss_unwrap(const uint8_t *tok, size_t len, const uint8_t **tokid,
                       const uint8_t **rest, size_t *restlen, size_t *trailing, char **why);

/* ---- krb_ap.c ---- */

/* Decrypts a kept EncryptedData with key and usage, then parses it as an Authenticator or (is_aprep)
 * an EncAPRepPart into *out. 1 parsed, < 0 with *why. */
int krb_decrypt_inner(krb5_context ctx, const krb_keyv *key, krb5_keyusage usage,
                      const krb_encpart *enc, int is_aprep, krb_inner *out, char **why);
/* The same with kk, key's krb5_key (NULL: key as a keyblock). */
int krb_decrypt_inner_k(krb5_context ctx, const krb_keyv *key, krb5_key kk, krb5_keyusage usage,
                        const krb_encpart *enc, int is_aprep, krb_inner *out, char **why);
/* Records a handshake token that could not be used (takes why), with a note of kind. */
void krb_token_bad(krb_sa *sa, note_list *notes, note_kind kind, const char *what, char *why);
/* The three handshake messages, without their GSS framing. */
void krb_on_apreq(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes);
void krb_on_aprep(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes);
void krb_on_krberror(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes);

/* ---- krb_keytab.c ---- */

/* What a Ticket gave: its cleartext names, and what the keytab made of it (strings g_malloc'd,
 * the session key wiped when freed). */
typedef struct {
    uint8_t *der;             /* the Ticket's encoding (kept only in the capture's cache) */
    size_t derlen;
    char *service;            /* sname@realm as sent (not integrity-protected) */
    int32_t enctype;          /* of its enc-part */
    uint32_t kvno;
    uint8_t decrypted;        /* the keytab decrypted it */
    uint8_t nokey_unsupported; /* no key because libkrb5 does not support the enctype */
    uint8_t has_session;      /* a session key came out (s_*) */
    uint8_t cached;           /* owned by the capture's cache */
    char *policy;             /* decrypted, but a ticket policy check failed: its error, or NULL */
    char *kname;              /* the keytab principal that decrypted it, or NULL */
    char *nokey_why;          /* why the keytab gave no key, or NULL */
    int32_t s_enctype;
    size_t s_len;
    uint8_t *s_val;
    char *client;             /* the client principal (with a session key only), or NULL */
    krb5_key kk;              /* the session key's krb5_key (cached tickets: made on first use) */
} krb_tkt;

/* Decodes the Ticket der (len bytes) and decrypts it with the configured keytab: NULL with *err
 * (g_malloc'd) when it does not decode. A ticket the same keytab decrypted before in this
 * capture is taken from the capture's cache (libkrb5 would give the same). The result stays
 * valid until the next call; krb_tkt_done after use. */
const krb_tkt *krb_ticket_open(krb_cap *cap, krb5_context ctx, keystore *ks, const uint8_t *der,
                               size_t len, char **err);
void krb_tkt_done(const krb_tkt *t);
/* The session key's krb5_key of a cached ticket (kept with it, so that its derived keys are made
 * once per ticket), or NULL. */
krb5_key krb_tkt_session_kkey(krb5_context ctx, const krb_tkt *t);
/* The capture's cache of tickets (krb_keytab.c), freed (its session keys wiped) with it. */
struct krb_tkt_cache;
struct krb_tkt_cache **krb_cap_tkt_cache(krb_cap *cap);
void krb_tkt_cache_free(struct krb_tkt_cache *c);

/* ---- krb_keys.c ---- */

typedef struct {
    const krb_keyv *k;
    krb_src src;
    int authoritative; /* a mismatch with this key proves the signature wrong */
    char label[112];   /* only when the list was made with labels */
} krb_cand;

/* At most KRB_CANDS_MAX candidates per token: more than the sources of one token (RFC 4121: 4,
 * RFC 4757: 6); should a new source overflow it, the extras are counted in dropped and the
 * verifier says so in a note (never a silent capacity limit). */
#define KRB_CANDS_MAX 8
typedef struct {
    krb_cand c[KRB_CANDS_MAX];
    size_t n;
    size_t dropped; /* candidates not added because c was full */
} krb_cands;

/* Brings the key-log cache up to date with the line e for the SA's opaque (NULL: none). */
void krb_kl_refresh(krb_sa *sa, krb5_context ctx, const keylog_entry *e);
/* Why no handshake or key-log key exists for this SA (g_malloc'd); *unsupported when because of
 * an enctype libkrb5 does not support. */
char *krb_nokey_text(const krb_sa *sa, const char *opaque, int *unsupported);
/* The candidate keys of an RFC 4121 token (acceptor_subkey: its flag 0x04), with what is
 * missing appended to miss (may be NULL); and those of an RFC 4757 token. The labels (texts for
 * messages) are formatted only when labels is set; the list is the same either way. */
void krb_cands_cfx(const krb_sa *sa, int acceptor_subkey, krb_cands *cs, GString *miss,
                   int labels);
void krb_cands_rc4(const krb_sa *sa, krb_cands *cs, int labels);
/* Notes that candidates were dropped (dropped of a list), if any. */
void krb_cands_note(size_t dropped, note_list *notes);

/* ---- krb_mic.c ---- */

/* RFC 4121 4.2.6.1 MIC token (04 04 ...) and RFC 4757 7.2 MIC (hdr: its 24 bytes from TOK_ID). */
sig_verdict krb_verify_cfx(krb_sa *sa, krb5_context ctx, const char *opaque, mssipae_dir dir,
                           const uint8_t *buf, size_t buflen, const uint8_t *sig, size_t siglen,
                           note_list *notes);
sig_verdict krb_verify_rc4(krb_sa *sa, krb5_context ctx, const char *opaque, mssipae_dir dir,
                           const uint8_t *buf, size_t buflen, const uint8_t *hdr,
                           note_list *notes);

/* ---- krb_fast.c ---- */

/* Checks an RFC 4121 MIC checksum (type, usage) over data with k on the AES-SHA1 fast path: 1
 * match, 0 mismatch, -1 no fast path for this key, usage and type (other enctypes, checksum
 * lengths, or fast-path states that did not give libkrb5's checksum when first checked in this
 * capture, cap): then ask libkrb5. */
int krb_fast_verify(krb5_context ctx, krb_cap *cap, const krb_keyv *k, krb5_cksumtype type,
                    krb5_keyusage usage, const uint8_t *data, size_t dlen, const uint8_t *ck,
                    size_t cklen);
/* The same over data || data2 (d2len bytes; the two parts need not be contiguous). */
int krb_fast_verify2(krb5_context ctx, krb_cap *cap, const krb_keyv *k, krb5_cksumtype type,
                     krb5_keyusage usage, const uint8_t *data, size_t dlen, const uint8_t *data2,
                     size_t d2len, const uint8_t *ck, size_t cklen);
/* The key's caches, made on first use (only the caches of k are written). A fast-path state's
 * first use (krb_fast_verify) may move them: the pointer is not kept across that call. */
struct krb_keyx *krb_keyv_x(const krb_keyv *k);
/* The key's krb5_key, made on first use and kept with the key (NULL if libkrb5 refuses it). */
krb5_key krb_keyv_kkey(krb5_context ctx, const krb_keyv *k);
/* Wipes and frees a key's caches (NULL: nothing). */
void krb_keyx_free(struct krb_keyx *x);
/* Wipes and frees a capture's cache of HMAC contexts (NULL: nothing). */
void krb_ck_cache_free(struct krb_ck_cache *c);
/* RFC 3961 5.1 n-fold of in (inlen > 0) into outlen bytes. */
void krb_nfold(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen);
/* RFC 3961 5.1 DK(key, constant) for the RFC 3962 AES keys (keylen 16 or 32) into out (keylen
 * bytes); -1 for another key length or an empty constant. */
int krb_aes_dk(const uint8_t *key, size_t keylen, const uint8_t *constant, size_t clen,
               uint8_t *out);
/* The HMAC-SHA1 state of Kc = DK(key, usage || 0x99) for enctype 17 / 18; -1 for others. */
int krb_aes_sha1_ck_init(struct krb_ck_key *h, int32_t enctype, const uint8_t *key,
                         size_t keylen, krb5_keyusage usage);
/* The same from the n-fold of usage || 0x99 into 16 bytes (krb_ck_fold). */
int krb_aes_sha1_ck_init_folded(struct krb_ck_key *h, int32_t enctype, const uint8_t *key,
                                size_t keylen, const uint8_t fold[16]);
/* RFC 3961 5.1 n-fold of a checksum key's constant usage || 0x99 into 16 bytes. */
void krb_ck_fold(krb5_keyusage usage, uint8_t out[16]);
/* hmac-sha1-96-aes* over data || data2 (d2len may be 0) with such a state (not changed). */
void krb_aes_sha1_ck(const struct krb_ck_key *h, const uint8_t *data, size_t dlen,
                     const uint8_t *data2, size_t d2len, uint8_t out[12]);

#endif
