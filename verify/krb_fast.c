/* krb_fast.c - Kerberos: the RFC 4121 MIC checksum of the AES-SHA1 enctypes (17, 18) without a
 * libkrb5 call per message.
 *
 * hmac-sha1-96-aes128 / -aes256 (RFC 3962 6/7, RFC 3961 5.4) is HMAC-SHA1(Kc, data) truncated to
 * 96 bits, Kc = DK(base key, usage || 0x99) (RFC 3961 5.1), DK with E = AES in CBC-CTS with a
 * zero IV, which on the one-block n-fold of the constant is a plain AES chain. Kc is derived and
 * nettle's HMAC key state made (hmac_set_key) once per key and usage; a message then costs one
 * HMAC update and digest (hmac_update / hmac_digest) on a copy of that state. AES and HMAC-SHA1
 * are nettle's, used through its public API only.
 *
 * Per key and usage actually used, the state kept is the outer and inner contexts that nettle's
 * hmac_set_key makes, as it made them (its third, the message state, is documented to start as a
 * copy of the inner one, and is made per message). They sit in the key's caches, which grow by
 * one state when a usage is first used (no allocation of their own).
 *
 * Safety: the first time a state is made for an enctype and usage in a capture, it must give
 * libkrb5's checksum (krb5_c_make_checksum) over a fixed input; if it does not, or for any other
 * enctype or checksum type, keys of that enctype and usage stay on the libkrb5 path. The states
 * are wiped when freed.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

#include <nettle/aes.h>
#include <nettle/hmac.h>

void krb_keyx_free(struct krb_keyx *x)
{
    if (!x)
        return;
    if (x->kk)
        krb5_k_free_key(NULL, x->kk); /* zaps the key and its derived keys; needs no context */
    secure_wipe(x, sizeof *x + x->ns * sizeof x->h[0]); /* and the fast-path states in it */
    g_free(x);
}

struct krb_keyx *krb_keyv_x(const krb_keyv *ck)
{
    krb_keyv *k = (krb_keyv *)ck; /* cache only: the key bytes never change */
    if (!k->x)
        k->x = g_new0(struct krb_keyx, 1);
    return k->x;
}

/* k's caches with room for one more fast-path state (h[ns], zeroed): a new allocation, the old one
 * wiped and freed (realloc could leave the states it moved behind). */
static struct krb_keyx *keyx_grow(const krb_keyv *ck)
{
    krb_keyv *k = (krb_keyv *)ck; /* cache only */
    struct krb_keyx *old = krb_keyv_x(k);
    size_t had = sizeof *old + old->ns * sizeof old->h[0];
    struct krb_keyx *x = g_malloc0(had + sizeof x->h[0]);
    memcpy(x, old, had);
    secure_wipe(old, had);
    g_free(old);
    return k->x = x;
}

krb5_key krb_keyv_kkey(krb5_context ctx, const krb_keyv *k)
{
    struct krb_keyx *x = krb_keyv_x(k);
    if (!x->kk) {
        krb5_keyblock kb = krb_keyv_block(k);
        if (krb5_k_create_key(ctx, &kb, &x->kk) != 0)
            x->kk = NULL;
    }
    return x->kk;
}

static size_t gcd_sz(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* RFC 3961 5.1 n-fold: in (inlen > 0 bytes) to outlen bytes. The lcm(inlen, outlen) bytes made of
 * copies of in, each rotated 13 bits right more than the one before, are cut into outlen-byte
 * blocks that are added with ones'-complement (end-around carry) addition. */
void krb_nfold(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
    size_t l = inlen / gcd_sz(inlen, outlen) * outlen; /* bytes in the expanded string */
    size_t nbits = inlen * 8;
    unsigned *sum = g_new0(unsigned, outlen);
    for (size_t b = 0; b < l; b++) {
        /* byte b lies in one copy (nbits is a multiple of 8): copy j = b / inlen, rotated right
         * by 13 * j bits, so its bits are those of in from bit src on (cyclically) */
        size_t j = b / inlen, p = (b % inlen) * 8;
        size_t src = (p + nbits - (13 * j) % nbits) % nbits;
        size_t i0 = src / 8, sh = src % 8;
        unsigned byte = in[i0];
        if (sh)
            byte = (byte << sh | (unsigned)in[(i0 + 1) % inlen] >> (8 - sh)) & 0xffu;
        sum[b % outlen] += byte;
    }
    unsigned carry = 0;
    do { /* propagate carries from the last (least significant) byte; the top carry wraps */
        for (size_t i = outlen; i-- > 0;) {
            unsigned v = sum[i] + carry;
            sum[i] = v & 0xffu;
            carry = v >> 8;
        }
    } while (carry);
    for (size_t i = 0; i < outlen; i++)
        out[i] = (uint8_t)sum[i];
    g_free(sum); /* nothing secret: the constant is public */
}

static int aes_dk_folded(const uint8_t *key, size_t keylen, const uint8_t blk[16], uint8_t *out);

/* RFC 3961 5.1 DK(key, constant) for the RFC 3962 AES enctypes (random-to-key is the identity):
 * out (keylen bytes) = the first keylen bytes of K1 || K2, K1 = E(key, n-fold(constant, 128)),
 * K2 = E(key, K1). keylen is 16 or 32; -1 otherwise. */
int krb_aes_dk(const uint8_t *key, size_t keylen, const uint8_t *constant, size_t clen,
               uint8_t *out)
{
    if ((keylen != 16 && keylen != 32) || clen == 0)
        return -1;
    uint8_t blk[AES_BLOCK_SIZE];
    krb_nfold(constant, clen, blk, sizeof blk);
    return aes_dk_folded(key, keylen, blk, out);
}

/* DK with the n-fold of the constant already made (blk, 16 bytes). */
static int aes_dk_folded(const uint8_t *key, size_t keylen, const uint8_t blk[16], uint8_t *out)
{
    if (keylen == 16) {
        struct aes128_ctx a;
        aes128_set_encrypt_key(&a, key);
        aes128_encrypt(&a, AES_BLOCK_SIZE, out, blk);
        secure_wipe(&a, sizeof a);
    } else if (keylen == 32) {
        struct aes256_ctx a;
        aes256_set_encrypt_key(&a, key);
        aes256_encrypt(&a, AES_BLOCK_SIZE, out, blk);
        aes256_encrypt(&a, AES_BLOCK_SIZE, out + AES_BLOCK_SIZE, out);
        secure_wipe(&a, sizeof a);
    } else {
        return -1;
    }
    return 0;
}

/* The constant usage || 0x99 of a checksum key Kc (RFC 3961 5.3). */
static void ck_constant(krb5_keyusage usage, uint8_t c[5])
{
    uint32_t u = (uint32_t)usage;
    c[0] = (uint8_t)(u >> 24);
    c[1] = (uint8_t)(u >> 16);
    c[2] = (uint8_t)(u >> 8);
    c[3] = (uint8_t)u;
    c[4] = 0x99;
}

void krb_ck_fold(krb5_keyusage usage, uint8_t out[16])
{
    uint8_t c[5];
    ck_constant(usage, c);
    krb_nfold(c, sizeof c, out, 16);
}

/* nettle's HMAC-SHA1 key state of Kc = DK(key, usage || 0x99) for enctype 17 / 18 (RFC 3962 6):
 * 0, or -1 for another enctype or a key of the wrong length. */
int krb_aes_sha1_ck_init(struct krb_ck_key *h, int32_t enctype, const uint8_t *key, size_t keylen,
                         krb5_keyusage usage)
{
    uint8_t fold[16];
    krb_ck_fold(usage, fold);
    return krb_aes_sha1_ck_init_folded(h, enctype, key, keylen, fold);
}

int krb_aes_sha1_ck_init_folded(struct krb_ck_key *h, int32_t enctype, const uint8_t *key,
                                size_t keylen, const uint8_t fold[16])
{
    size_t want = enctype == ENCTYPE_AES128_CTS_HMAC_SHA1_96 ? 16
                  : enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96 ? 32 : 0;
    if (!want || keylen != want)
        return -1;
    uint8_t kc[32];
    if (aes_dk_folded(key, keylen, fold, kc) != 0)
        return -1;
    struct sha1_ctx st; /* the message state hmac_set_key also makes: made per message instead */
    hmac_set_key(&h->outer, &h->inner, &st, &nettle_sha1, keylen, kc);
    secure_wipe(&st, sizeof st);
    secure_wipe(kc, sizeof kc);
    return 0;
}

/* The 96-bit checksum over data || data2 (d2len may be 0) with a state from krb_aes_sha1_ck_init
 * (h is not changed): the message state starts as a copy of the inner context, as hmac_set_key
 * makes it. */
void krb_aes_sha1_ck(const struct krb_ck_key *h, const uint8_t *data, size_t dlen,
                     const uint8_t *data2, size_t d2len, uint8_t out[12])
{
    struct sha1_ctx st = h->inner;
    hmac_update(&st, &nettle_sha1, dlen, data);
    if (d2len)
        hmac_update(&st, &nettle_sha1, d2len, data2);
    hmac_digest(&h->outer, &h->inner, &st, &nettle_sha1, 12, out);
    secure_wipe(&st, sizeof st);
}

/* Whether h gives libkrb5's checksum (type, key k, usage) over a fixed input of 100 bytes (two
 * SHA-1 blocks with the HMAC pad: a wrong Kc, or a wrong checksum definition, cannot pass but by a
 * 2^-96 chance). */
static int cross_check(krb5_context ctx, const krb_keyv *k, krb5_cksumtype type,
                       krb5_keyusage usage, const struct krb_ck_key *h)
{
    uint8_t in[100];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 131u + 7u);
    krb5_data d = {KV5M_DATA, (unsigned int)sizeof in, (char *)in};
    krb5_checksum c;
    memset(&c, 0, sizeof c);
    krb5_keyblock kb = krb_keyv_block(k);
    if (krb5_c_make_checksum(ctx, type, &kb, usage, &d, &c) != 0)
        return 0;
    uint8_t mine[12];
    krb_aes_sha1_ck(h, in, 37, in + 37, sizeof in - 37, mine); /* in two parts, as verify may */
    int eq = c.length == sizeof mine && memcmp(c.contents, mine, sizeof mine) == 0;
    krb5_free_checksum_contents(ctx, &c);
    return eq;
}

/* The ready state of key k for usage, made on first use (the first of its enctype and usage in
 * the capture cross-checked with libkrb5); NULL: libkrb5. */
static const struct krb_ck_key *fast_state(krb5_context ctx, krb_cap *cap, const krb_keyv *k,
                                           krb5_cksumtype type, krb5_keyusage usage)
{
    if ((k->enctype != ENCTYPE_AES128_CTS_HMAC_SHA1_96 || type != CKSUMTYPE_HMAC_SHA1_96_AES128) &&
        (k->enctype != ENCTYPE_AES256_CTS_HMAC_SHA1_96 || type != CKSUMTYPE_HMAC_SHA1_96_AES256))
        return NULL;
    if (usage < 0 || usage > 255)
        return NULL; /* not one of RFC 4121's: libkrb5 */
    int checked = krb_cap_fast_checked(cap, k->enctype, usage);
    if (checked < 0)
        return NULL;
    struct krb_keyx *x = krb_keyv_x(k);
    for (size_t i = 0; i < x->ns; i++) {
        if (x->s[i].usage == usage)
            return x->s[i].state > 0 ? &x->h[i] : NULL;
    }
    if (x->ns == G_N_ELEMENTS(x->s))
        return NULL; /* a third usage: libkrb5 */
    x = keyx_grow(k);
    size_t i = x->ns++;
    struct krb_fast_ck *s = &x->s[i];
    struct krb_ck_key *h = &x->h[i];
    s->usage = (uint8_t)usage;
    s->state = -1;
    if (krb_aes_sha1_ck_init_folded(h, k->enctype, k->val, k->len, krb_cap_ck_fold(cap, usage)) ==
        0) {
        s->state = 1;
        if (!checked) {
            int ok = cross_check(ctx, k, type, usage, h);
            krb_cap_fast_set(cap, k->enctype, usage, ok ? 1 : -1);
            if (!ok)
                s->state = -1;
        }
    }
    if (s->state < 0)
        secure_wipe(h, sizeof *h); /* the slot stays taken: this usage is libkrb5's */
    return s->state > 0 ? h : NULL;
}

int krb_fast_verify(krb5_context ctx, krb_cap *cap, const krb_keyv *k, krb5_cksumtype type,
                    krb5_keyusage usage, const uint8_t *data, size_t dlen, const uint8_t *ck,
                    size_t cklen)
{
    return krb_fast_verify2(ctx, cap, k, type, usage, data, dlen, NULL, 0, ck, cklen);
}

int krb_fast_verify2(krb5_context ctx, krb_cap *cap, const krb_keyv *k, krb5_cksumtype type,
                     krb5_keyusage usage, const uint8_t *data, size_t dlen, const uint8_t *data2,
                     size_t d2len, const uint8_t *ck, size_t cklen)
{
    if (cklen != 12)
        return -1;
    const struct krb_ck_key *h = fast_state(ctx, cap, k, type, usage);
    if (!h)
        return -1;
    uint8_t mine[12];
    krb_aes_sha1_ck(h, data, dlen, data2, d2len, mine);
    int eq = ct_memeq(mine, ck, sizeof mine);
    secure_wipe(mine, sizeof mine);
    return eq ? 1 : 0;
}
