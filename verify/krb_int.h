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

#include "keytab/keystore.h"
#include "verify/krb_der.h"
#include "verify/verdict.h"

/* A key owned by the SA, copied out of krb5 structures so that freeing needs no context. */
typedef struct {
    int32_t enctype;
    uint8_t *val; /* NULL when unset; wiped before it is freed */
    size_t len;
    /* Caches filled on first use by the MIC checks (issue 10), freed by krb_keyv_clear:
     * a krb5_key (libkrb5 keeps the derived Kc inside it, wiped by krb5_k_free_key) and the
     * enctype's mandatory checksum type and length (ck_state 1; -1 when there is none). */
    krb5_key kk;
    int ck_state;
    krb5_cksumtype ck_type;
    size_t ck_len;
    /* The AES-SHA1 MIC fast path's HMAC key states per usage (krb_fast.c), made on first use;
     * wiped and freed by krb_keyv_clear. */
    struct krb_fast *fast;
} krb_keyv;

/* An EncryptedData kept for later decryption (RFC 4120 5.2.9). */
typedef struct {
    int32_t etype;
    uint8_t *cipher; /* NULL when absent */
    size_t len;
} krb_encpart;

/* What the Authenticator or the EncAPRepPart carried. */
typedef struct {
    krb_keyv subkey;
    uint32_t seq;
    int have_seq;
    uint32_t gss_flags;
    int have_gss_flags;
} krb_inner;

typedef struct {
    /* handshake facts, set on the first pass by on_token */
    int apreq_seen;      /* an AP-REQ whose ticket was decoded */
    char *service;       /* ticket sname@realm as sent (g_malloc'd) */
    char *client;        /* client principal from the decrypted ticket, or NULL */
    int32_t tkt_enctype;
    uint32_t tkt_kvno;
    krb_keyv session;    /* from the keytab-decrypted ticket */
    int auth_ok;         /* Authenticator decrypted and parsed: its subkey is known or absent */
    krb_inner auth;
    int aprep_seen;
    int aprep_ok;        /* EncAPRepPart decrypted and parsed */
    krb_inner aprep;
    krb_encpart auth_enc, aprep_enc;
    char *nokey_why;     /* why the handshake gave no key (g_malloc'd), NULL otherwise */
    int nokey_unsupported; /* ... because an enctype is not supported */
    char *bad_token_why; /* the last handshake token that could not be parsed, or NULL */

    /* cache of what a key-log line gives (derived lazily in verify, keyed by the line) */
    int kl_set;
    int32_t kl_src_enctype;
    uint8_t *kl_src;     /* copy of the line's key, to notice a changed key log */
    size_t kl_src_len;
    unsigned kl_line;
    krb_keyv kl_key;     /* usable key, or unset (then kl_why says why) */
    krb_inner kl_auth;   /* Authenticator decrypted with the key-log key */
    krb_inner kl_aprep;  /* EncAPRepPart decrypted with the key-log key */
    char *kl_why;
    int kl_unsupported;
    int kl_auth_ok;      /* the key-log key decrypted the Authenticator: it is the session key */
    int kl_proven;       /* the key-log key verified a signature of this SA: it is the signing key */

    krb_keyv verified;   /* a copy of the key that last verified a signature (for key export) */

    /* Per-message caches (issue 10): what verify would otherwise format for every message.
     * Each is valid while epoch is the one it was made in; epoch changes with anything the
     * candidates or the texts depend on (every handshake token, the key-log cache, kl_proven). */
    uint64_t epoch;
    struct krb_cands_cache *cc[3]; /* RFC 4121 without / with AcceptorSubkey, RFC 4757 */
    struct krb_text_cache *ok_txt[6]; /* the VALID text before its SND_SEQ, per candidate list
                                         (as cc) and sender */
    struct krb_text_cache *bad_txt; /* an INVALID / NO_KEY text after keys did not match */
    ks_keylog_memo kl_memo;        /* the key-log lookup, kept until the key log changes */
} krb_sa;

/* Marks the SA's per-message caches stale (mech_kerberos.c). */
void krb_sa_changed(krb_sa *sa);
/* Frees the per-message caches. */
void krb_sa_caches_free(krb_sa *sa);

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
/* Records a handshake token that could not be used (takes why), with a note of kind. */
void krb_token_bad(krb_sa *sa, note_list *notes, note_kind kind, const char *what, char *why);
/* The three handshake messages, without their GSS framing. */
void krb_on_apreq(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes);
void krb_on_aprep(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes);
void krb_on_krberror(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes);

/* ---- krb_keytab.c ---- */

/* Decrypts ticket with the configured keytab; on failure sets sa->nokey_why (and
 * sa->nokey_unsupported) naming what was looked up. Notes go to notes. */
void krb_keytab_open_ticket(krb_sa *sa, krb5_context ctx, keystore *ks, krb5_ticket *ticket,
                            note_list *notes);

/* ---- krb_keys.c ---- */

typedef struct {
    const krb_keyv *k;
    char label[112];
    int authoritative; /* a mismatch with this key proves the signature wrong */
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
 * missing appended to miss; and those of an RFC 4757 token. */
void krb_cands_cfx(const krb_sa *sa, int acceptor_subkey, krb_cands *cs, GString *miss);
void krb_cands_rc4(const krb_sa *sa, krb_cands *cs);
/* Notes that candidates were dropped (cs->dropped), if any. */
void krb_cands_note(const krb_cands *cs, note_list *notes);

/* ---- krb_mic.c ---- */

/* RFC 4121 4.2.6.1 MIC token (04 04 ...) and RFC 4757 7.2 MIC (hdr: its 24 bytes from TOK_ID). */
sig_verdict krb_verify_cfx(krb_sa *sa, krb5_context ctx, const char *opaque, mssipae_dir dir,
                           const uint8_t *buf, size_t buflen, const uint8_t *sig, size_t siglen,
                           note_list *notes);
sig_verdict krb_verify_rc4(krb_sa *sa, krb5_context ctx, const char *opaque, mssipae_dir dir,
                           const uint8_t *buf, size_t buflen, const uint8_t *hdr,
                           note_list *notes);

/* ---- krb_fast.c ---- */

struct hmac_sha1_ctx;
/* Checks an RFC 4121 MIC checksum (type, usage) over data with k (kk: its krb5_key or NULL) on the
 * AES-SHA1 fast path: 1 match, 0 mismatch, -1 no fast path for this key, usage and type (other
 * enctypes, checksum lengths, or a state that did not give libkrb5's checksum on its first use):
 * then ask libkrb5. */
int krb_fast_verify(krb5_context ctx, const krb_keyv *k, krb5_key kk, krb5_cksumtype type,
                    krb5_keyusage usage, const uint8_t *data, size_t dlen, const uint8_t *ck,
                    size_t cklen);
/* Wipes and frees a key's fast-path states (NULL: nothing). */
void krb_fast_free(struct krb_fast *f);
/* RFC 3961 5.1 n-fold of in (inlen > 0) into outlen bytes. */
void krb_nfold(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen);
/* RFC 3961 5.1 DK(key, constant) for the RFC 3962 AES keys (keylen 16 or 32) into out (keylen
 * bytes); -1 for another key length or an empty constant. */
int krb_aes_dk(const uint8_t *key, size_t keylen, const uint8_t *constant, size_t clen,
               uint8_t *out);
/* The HMAC-SHA1 state of Kc = DK(key, usage || 0x99) for enctype 17 / 18; -1 for others. */
int krb_aes_sha1_ck_init(struct hmac_sha1_ctx *h, int32_t enctype, const uint8_t *key,
                         size_t keylen, krb5_keyusage usage);
/* hmac-sha1-96-aes* over data with such a state (not changed). */
void krb_aes_sha1_ck(const struct hmac_sha1_ctx *h, const uint8_t *data, size_t dlen,
                     uint8_t out[12]);

#endif
