/* tls_prf.c - TLS PRFs and the TLS-DSK key block over nettle's HMAC and GnuTLS's hashes. */
#include "verify/tls_prf.h"

#include <string.h>

#include <glib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "verify/verdict.h"

#define TLS_LABEL_MAX 64 /* our labels are at most 22 bytes */

static const char tlsdsk_label[] = "client EAP encryption"; /* 21 bytes, no NUL (reference 8) */

/* nettle's description of hash h, NULL for none. */
static const struct nettle_hash *tls_nettle_hash(tls_hash h)
{
    switch (h) {
    case TLS_H_MD5: return &nettle_md5;
    case TLS_H_SHA1: return &nettle_sha1;
    case TLS_H_SHA256: return &nettle_sha256;
    case TLS_H_SHA384: return &nettle_sha384;
    default: return NULL;
    }
}

/* An HMAC keyed once (nettle keeps the hashed inner and outer pads): each digest costs the
 * message and one outer block, not the two key blocks again (issue 10: the PRF computes dozens
 * of HMACs with one secret). */
typedef union {
    struct md5_ctx md5;
    struct sha1_ctx sha1;
    struct sha256_ctx sha256;
    struct sha512_ctx sha512; /* SHA-384 */
} any_hash_ctx;

typedef struct {
    const struct nettle_hash *h;
    any_hash_ctx outer, inner, state;
} hmac_ctx;

static int hmac_key(hmac_ctx *c, tls_hash h, const uint8_t *key, size_t klen)
{
    c->h = tls_nettle_hash(h);
    if (!c->h)
        return -1;
    hmac_set_key(&c->outer, &c->inner, &c->state, c->h, klen, key);
    return 0;
}

/* HMAC(key, a || b) into out (the digest size of the hash); c is ready for the next one. */
static void hmac_run(hmac_ctx *c, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                     uint8_t *out)
{
    hmac_update(&c->state, c->h, alen, a);
    if (blen)
        hmac_update(&c->state, c->h, blen, b);
    hmac_digest(&c->outer, &c->inner, &c->state, c->h, c->h->digest_size, out);
}

const char *tls_prf_name(tls_prf_kind k)
{
    switch (k) {
    case TLS_PRF_10: return "TLS 1.0 PRF";
    case TLS_PRF_12_SHA256: return "TLS 1.2 PRF-SHA256";
    case TLS_PRF_12_SHA384: return "TLS 1.2 PRF-SHA384";
    }
    return "?";
}

tls_prf_kind tls_prf_for(uint16_t version, tls_hash prf12)
{
    if (version < TLS_V12)
        return TLS_PRF_10;
    return prf12 == TLS_H_SHA384 ? TLS_PRF_12_SHA384 : TLS_PRF_12_SHA256;
}

/* One HMAC per signature: GnuTLS's one-shot HMAC (its SHA code costs fewer instructions than
 * nettle's generic one for a few blocks, at the same time per message: measured 100k headers). */
int tls_hmac(tls_hash h, const uint8_t *key, size_t klen, const uint8_t *data, size_t dlen,
             uint8_t *out)
{
    gnutls_mac_algorithm_t m = h == TLS_H_MD5      ? GNUTLS_MAC_MD5
                             : h == TLS_H_SHA1     ? GNUTLS_MAC_SHA1
                             : h == TLS_H_SHA256   ? GNUTLS_MAC_SHA256
                             : h == TLS_H_SHA384   ? GNUTLS_MAC_SHA384
                                                   : GNUTLS_MAC_UNKNOWN;
    if (m == GNUTLS_MAC_UNKNOWN)
        return -1;
    return gnutls_hmac_fast(m, key, klen, data, dlen, out) < 0 ? -1 : 0;
}

#define HMAC_CACHE_SETS 32   /* a power of two */
#define HMAC_CACHE_WAYS 2    /* an SA's two keys share a set without pushing each other out */
G_STATIC_ASSERT(HMAC_CACHE_WAYS == 2); /* tls_hmac_cached looks at both ways, lru is way ^ 1 */
#define HMAC_CACHE_KEY_MAX 64 /* longer keys (none from a key block or key log) are not cached */

typedef struct {
    uint8_t used;
    uint8_t h;                /* tls_hash */
    uint8_t klen;
    uint8_t key[HMAC_CACHE_KEY_MAX];
    hmac_ctx c;
} hmac_slot;

struct tls_hmac_cache {
    hmac_slot slot[HMAC_CACHE_SETS][HMAC_CACHE_WAYS];
    uint8_t lru[HMAC_CACHE_SETS]; /* the way of each set that was used least recently */
};

tls_hmac_cache *tls_hmac_cache_new(void)
{
    return g_new0(tls_hmac_cache, 1);
}

void tls_hmac_cache_free(tls_hmac_cache *c)
{
    if (!c)
        return;
    secure_wipe(c, sizeof *c);
    g_free(c);
}

static int slot_holds(const hmac_slot *s, tls_hash h, const uint8_t *key, size_t klen)
{
    return s->used && s->h == (uint8_t)h && s->klen == klen && memcmp(s->key, key, klen) == 0;
}

int tls_hmac_cached(tls_hmac_cache *c, tls_hash h, const uint8_t *key, size_t klen,
                    const uint8_t *data, size_t dlen, uint8_t *out)
{
    if (!c || klen < 4 || klen > HMAC_CACHE_KEY_MAX)
        return tls_hmac(h, key, klen, data, dlen, out);
    /* the set: the key's first four bytes (random: a key block's or a key log's), multiplied
     * to spread them, with the hash */
    uint32_t k4 = (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 |
                  (uint32_t)key[3] << 24;
    unsigned set = ((k4 * 0x9e3779b1u) >> 27 ^ (unsigned)h) & (HMAC_CACHE_SETS - 1);
    hmac_slot *w = c->slot[set];
    int way;
    if (slot_holds(&w[0], h, key, klen)) {
        way = 0;
    } else if (slot_holds(&w[1], h, key, klen)) {
        way = 1;
    } else {
        way = c->lru[set];
        hmac_slot *s = &w[way];
        s->used = 0;
        if (hmac_key(&s->c, h, key, klen) < 0)
            return -1;
        s->used = 1;
        s->h = (uint8_t)h;
        s->klen = (uint8_t)klen;
        memcpy(s->key, key, klen);
    }
    c->lru[set] = (uint8_t)(way ^ 1);
    hmac_run(&w[way].c, data, dlen, NULL, 0, out); /* leaves the state keyed for the next one */
    return 0;
}

/* P_hash(secret, seed) (RFC 2246 5): A(0) = seed, A(i) = HMAC(secret, A(i-1)),
 * output = HMAC(secret, A(1) || seed) || HMAC(secret, A(2) || seed) || ...; bytes
 * [off, off + outlen) of it into out, XORed in when xor is set (for the TLS 1.0 PRF's second
 * half). The chain A(i) runs from the start; the output HMAC of a block before off is skipped
 * (issue 10: TLS-DSK wants the second half of a 128-byte key block). */
static int p_hash(tls_hash h, const uint8_t *secret, size_t slen, const uint8_t *seed,
                  size_t seedlen, size_t off, uint8_t *out, size_t outlen, int xor)
{
    size_t hl = tls_hash_len(h), end = off + outlen;
    uint8_t a[TLS_SESSION_HASH_MAX], blk[TLS_SESSION_HASH_MAX];
    hmac_ctx c;
    if (hmac_key(&c, h, secret, slen) < 0)
        return -1;
    hmac_run(&c, seed, seedlen, NULL, 0, a); /* A(1) */
    for (size_t at = 0; at < end; at += hl) { /* block [at, at + hl) */
        if (at + hl > off) {
            hmac_run(&c, a, hl, seed, seedlen, blk);
            size_t from = at < off ? off - at : 0, to = MIN(hl, end - at);
            uint8_t *o = out + (at + from - off);
            for (size_t i = from; i < to; i++, o++)
                *o = xor ? (uint8_t)(*o ^ blk[i]) : blk[i];
        }
        if (end - at > hl)
            hmac_run(&c, a, hl, NULL, 0, a); /* A(i+1), when another block follows */
    }
    secure_wipe(a, sizeof(a));
    secure_wipe(blk, sizeof(blk));
    secure_wipe(&c, sizeof c);
    return 0;
}

int tls_prf_part(tls_prf_kind k, const uint8_t *secret, size_t slen, const char *label,
                 const uint8_t *seed, size_t seedlen, size_t off, uint8_t *out, size_t outlen)
{
    size_t llen = strlen(label);
    if (llen > TLS_LABEL_MAX || seedlen > SIZE_MAX - llen || off > SIZE_MAX - outlen)
        return -1;
    /* the PRF's seed is label || seed */
    size_t ls_len = llen + seedlen;
    uint8_t *ls = g_malloc(ls_len ? ls_len : 1);
    memcpy(ls, label, llen);
    if (seedlen)
        memcpy(ls + llen, seed, seedlen);
    int rc;
    if (k == TLS_PRF_10) {
        /* PRF = P_MD5(S1, label + seed) XOR P_SHA1(S2, label + seed); S1 and S2 are the two
         * halves of the secret, sharing the middle byte when its length is odd (RFC 2246 5) */
        size_t half = (slen + 1) / 2;
        rc = p_hash(TLS_H_MD5, secret, half, ls, ls_len, off, out, outlen, 0);
        if (rc == 0)
            rc = p_hash(TLS_H_SHA1, secret + (slen - half), half, ls, ls_len, off, out, outlen, 1);
    } else {
        /* PRF = P_<hash>(secret, label + seed) (RFC 5246 5) */
        rc = p_hash(k == TLS_PRF_12_SHA384 ? TLS_H_SHA384 : TLS_H_SHA256, secret, slen, ls,
                    ls_len, off, out, outlen, 0);
    }
    g_free(ls);
    if (rc != 0)
        secure_wipe(out, outlen);
    return rc;
}

int tls_prf(tls_prf_kind k, const uint8_t *secret, size_t slen, const char *label,
            const uint8_t *seed, size_t seedlen, uint8_t *out, size_t outlen)
{
    return tls_prf_part(k, secret, slen, label, seed, seedlen, 0, out, outlen);
}

int tls_master_secret(tls_prf_kind k, const uint8_t *pms, size_t pmslen,
                      const uint8_t cr[TLS_RANDOM_LEN], const uint8_t sr[TLS_RANDOM_LEN],
                      uint8_t ms[TLS_MS_LEN])
{
    uint8_t seed[2 * TLS_RANDOM_LEN];
    memcpy(seed, cr, TLS_RANDOM_LEN);
    memcpy(seed + TLS_RANDOM_LEN, sr, TLS_RANDOM_LEN);
    return tls_prf(k, pms, pmslen, "master secret", seed, sizeof(seed), ms, TLS_MS_LEN);
}

int tls_ems_master_secret(tls_prf_kind k, const uint8_t *pms, size_t pmslen,
                          const uint8_t *session_hash, size_t hlen, uint8_t ms[TLS_MS_LEN])
{
    return tls_prf(k, pms, pmslen, "extended master secret", session_hash, hlen, ms, TLS_MS_LEN);
}

int tls_session_hash(tls_prf_kind k, const uint8_t *msgs, size_t len,
                     uint8_t out[TLS_SESSION_HASH_MAX], size_t *hlen)
{
    switch (k) {
    case TLS_PRF_10:
        /* TLS 1.0/1.1: MD5(handshake_messages) || SHA1(handshake_messages) (RFC 7627 3) */
        if (gnutls_hash_fast(GNUTLS_DIG_MD5, msgs, len, out) < 0 ||
            gnutls_hash_fast(GNUTLS_DIG_SHA1, msgs, len, out + 16) < 0)
            return -1;
        *hlen = 36;
        return 0;
    case TLS_PRF_12_SHA256:
        *hlen = 32;
        return gnutls_hash_fast(GNUTLS_DIG_SHA256, msgs, len, out) < 0 ? -1 : 0;
    case TLS_PRF_12_SHA384:
        *hlen = 48;
        return gnutls_hash_fast(GNUTLS_DIG_SHA384, msgs, len, out) < 0 ? -1 : 0;
    }
    return -1;
}

/* Bytes [off, off + n) of PRF(master_secret, "client EAP encryption", client_random ||
 * server_random). */
static int eap_prf(tls_prf_kind k, const uint8_t ms[TLS_MS_LEN], const uint8_t cr[TLS_RANDOM_LEN],
                   const uint8_t sr[TLS_RANDOM_LEN], size_t off, uint8_t *out, size_t n)
{
    uint8_t seed[2 * TLS_RANDOM_LEN];
    memcpy(seed, cr, TLS_RANDOM_LEN);
    memcpy(seed + TLS_RANDOM_LEN, sr, TLS_RANDOM_LEN);
    return tls_prf_part(k, ms, TLS_MS_LEN, tlsdsk_label, seed, sizeof(seed), off, out, n);
}

int tlsdsk_key_block(tls_prf_kind k, const uint8_t ms[TLS_MS_LEN], const uint8_t cr[TLS_RANDOM_LEN],
                     const uint8_t sr[TLS_RANDOM_LEN], uint8_t kb[TLSDSK_KB_LEN])
{
    return eap_prf(k, ms, cr, sr, 0, kb, TLSDSK_KB_LEN);
}

int tlsdsk_sign_keys(tls_prf_kind k, const uint8_t ms[TLS_MS_LEN], const uint8_t cr[TLS_RANDOM_LEN],
                     const uint8_t sr[TLS_RANDOM_LEN], uint8_t keys[TLSDSK_SIGN_KEYS_LEN])
{
    return eap_prf(k, ms, cr, sr, TLSDSK_KB_LEN - TLSDSK_SIGN_KEYS_LEN, keys,
                   TLSDSK_SIGN_KEYS_LEN);
}
