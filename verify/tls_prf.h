/* tls_prf.h - TLS key derivation for TLS-DSK: the PRFs, the master secret (standard and
 * RFC 7627 extended), the session hash, the EAP key block and the HMAC of a signature.
 *
 * Every primitive is a library's (nettle's HMAC keyed once per secret for the PRFs, GnuTLS's
 * one-shot HMAC per signature, GnuTLS's hashes);
 * nothing is hand-written but the P_hash expansion itself (RFC 2246 5 / RFC 5246 5).
 *
 * Return values: 0 on success, -1 when the library refused (an unknown hash, an algorithm
 * disabled by policy): the caller then has no key, never a wrong one.
 */
#ifndef MSSIPAE_TLS_PRF_H
#define MSSIPAE_TLS_PRF_H

#include <stddef.h>
#include <stdint.h>

#include "verify/tls_suites.h"

#define TLS_MS_LEN 48        /* master secret (RFC 5246 8.1) */
#define TLS_RANDOM_LEN 32
#define TLSDSK_KB_LEN 128    /* EAP-TLS key block: MSK (64) + EMSK (64), RFC 5216 2.3 */
#define TLSDSK_KEY_LEN 32
#define TLSDSK_SIGN_KEYS_LEN (2 * TLSDSK_KEY_LEN) /* key_block[64..128): client, server key */
#define TLS_SESSION_HASH_MAX 48

/* Which PRF: the TLS 1.0/1.1 PRF, or the TLS 1.2 PRF over a given hash. */
typedef enum {
    TLS_PRF_10 = 0,   /* P_MD5(S1) xor P_SHA1(S2), RFC 2246 5 (TLS 1.0 and 1.1) */
    TLS_PRF_12_SHA256, /* P_SHA256, RFC 5246 5 */
    TLS_PRF_12_SHA384, /* P_SHA384, RFC 5288 3 / RFC 5289 3 for *_SHA384 suites */
} tls_prf_kind;

/* "TLS 1.0 PRF", "TLS 1.2 PRF-SHA256", "TLS 1.2 PRF-SHA384". */
const char *tls_prf_name(tls_prf_kind k);

/* The PRF of a negotiated version and suite (prf12 = the suite's TLS 1.2 PRF hash). */
tls_prf_kind tls_prf_for(uint16_t version, tls_hash prf12);

/* PRF(secret, label, seed)[0..outlen) (label without NUL). */
int tls_prf(tls_prf_kind k, const uint8_t *secret, size_t slen, const char *label,
            const uint8_t *seed, size_t seedlen, uint8_t *out, size_t outlen);

/* Bytes [off, off + outlen) of PRF(secret, label, seed): what tls_prf gives there, without
 * the output blocks before off (the chain of A(i) still runs from the start). */
int tls_prf_part(tls_prf_kind k, const uint8_t *secret, size_t slen, const char *label,
                 const uint8_t *seed, size_t seedlen, size_t off, uint8_t *out, size_t outlen);

/* master_secret = PRF(pre_master_secret, "master secret", client_random || server_random)[0..47]
 * (RFC 5246 8.1). */
int tls_master_secret(tls_prf_kind k, const uint8_t *pms, size_t pmslen,
                      const uint8_t cr[TLS_RANDOM_LEN], const uint8_t sr[TLS_RANDOM_LEN],
                      uint8_t ms[TLS_MS_LEN]);

/* master_secret = PRF(pre_master_secret, "extended master secret", session_hash)[0..47]
 * (RFC 7627 4). */
int tls_ems_master_secret(tls_prf_kind k, const uint8_t *pms, size_t pmslen,
                          const uint8_t *session_hash, size_t hlen, uint8_t ms[TLS_MS_LEN]);

/* session_hash = Hash(handshake_messages) (RFC 7627 3): MD5 || SHA1 (36 bytes) for TLS 1.0/1.1,
 * the PRF hash for TLS 1.2. *hlen gets the length. */
int tls_session_hash(tls_prf_kind k, const uint8_t *msgs, size_t len,
                     uint8_t out[TLS_SESSION_HASH_MAX], size_t *hlen);

/* key_block = PRF(master_secret, "client EAP encryption", client_random || server_random)
 * [0..127] ([MS-SIPAE] 3.2.5.1.2 as implemented, reference 8; RFC 5216 2.3). */
int tlsdsk_key_block(tls_prf_kind k, const uint8_t ms[TLS_MS_LEN], const uint8_t cr[TLS_RANDOM_LEN],
                     const uint8_t sr[TLS_RANDOM_LEN], uint8_t kb[TLSDSK_KB_LEN]);

/* key_block[64..128) alone (the client key, then the server key): the signing keys, at about
 * three quarters of the key block's cost. */
int tlsdsk_sign_keys(tls_prf_kind k, const uint8_t ms[TLS_MS_LEN], const uint8_t cr[TLS_RANDOM_LEN],
                     const uint8_t sr[TLS_RANDOM_LEN], uint8_t keys[TLSDSK_SIGN_KEYS_LEN]);

/* HMAC-h(key, data) into out (tls_hash_len(h) bytes, not truncated). */
int tls_hmac(tls_hash h, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen,
             uint8_t *out);

/* A few HMAC keys kept keyed (nettle's hashed inner and outer pads), per capture: the signatures
 * of an SA reuse their direction's key, so the two key blocks of the HMAC set-up are hashed once
 * per key instead of once per signature (issue 10), and nothing is kept per SA. Slots are found
 * by the key's bytes (compared in full); a miss keys a slot again. Secrets are wiped by
 * tls_hmac_cache_free. */
typedef struct tls_hmac_cache tls_hmac_cache;
tls_hmac_cache *tls_hmac_cache_new(void);
void tls_hmac_cache_free(tls_hmac_cache *c);
/* tls_hmac through the cache (c may be NULL: plain tls_hmac). */
int tls_hmac_cached(tls_hmac_cache *c, tls_hash h, const uint8_t *key, size_t klen,
                    const uint8_t *data, size_t dlen, uint8_t *out);

#endif
