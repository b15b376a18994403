/* krb_fast.c - Kerberos: the RFC 4121 MIC checksum of the AES-SHA1 enctypes (17, 18) without a
 * libkrb5 call per message.
 *
 * hmac-sha1-96-aes128 / -aes256 (RFC 3962 6/7, RFC 3961 5.4) is HMAC-SHA1(Kc, data) truncated to
 * 96 bits, Kc = DK(base key, usage || 0x99) (RFC 3961 5.1), DK with E = AES in CBC-CTS with a
 * zero IV, which on the one-block n-fold of the constant is a plain AES chain. Kc is derived once
 * per key and usage and kept with the key (16 or 32 bytes); nettle's HMAC key state made from it
 * (hmac_set_key: the outer and inner contexts, two SHA-1 compressions) is kept in a small cache
 * per capture keyed by Kc (2-way sets, the full Kc compared on a hit; more sets while it
 * thrashes), so that a message of an SA used in a run costs one HMAC update and digest
 * (hmac_update / hmac_digest) on a copy of that state, and a miss (SAs interleaved) the
 * re-keying. AES and HMAC-SHA1 are nettle's, used through its public API only.
 *
 * Safety: the first time a state is made for an enctype and usage in a capture, it must give
 * libkrb5's checksum (krb5_c_make_checksum) over a fixed input; if it does not, or for any other
 * enctype or checksum type, keys of that enctype and usage stay on the libkrb5 path. The Kc are
 * wiped when freed with their key; the cache's slots when replaced, its arrays when it grows and
 * when the capture ends.
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
    secure_wipe(x, sizeof *x + (size_t)x->ns * x->kclen); /* and the checksum keys in it */
    g_free(x);
}

struct krb_keyx *krb_keyv_x(const krb_keyv *ck)
{
    krb_keyv *k = (krb_keyv *)ck; /* cache only: the key bytes never change */
    if (!k->x)
        k->x = g_new0(struct krb_keyx, 1);
    return k->x;
}

/* k's caches with room for one more checksum key (kc[ns], zeroed; kclen = the key's length): a
 * new allocation, the old one wiped and freed (realloc could leave the keys it moved behind). */
static struct krb_keyx *keyx_grow(const krb_keyv *ck)
{
    krb_keyv *k = (krb_keyv *)ck; /* cache only */
    struct krb_keyx *old = krb_keyv_x(k);
    size_t had = sizeof *old + (size_t)old->ns * old->kclen;
    struct krb_keyx *x = g_malloc0(had + k->len);
    memcpy(x, old, had);
    x->kclen = k->len; /* the same for every usage of the key */
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

/* Kc = DK(key, usage || 0x99) for enctype 17 / 18 from the n-fold of the constant, into kc
 * (keylen bytes): 0, or -1 for another enctype or a key of the wrong length. */
static int ck_derive(int32_t enctype, const uint8_t *key, size_t keylen, const uint8_t fold[16],
                     uint8_t *kc)
{
    size_t want = enctype == ENCTYPE_AES128_CTS_HMAC_SHA1_96 ? 16
                  : enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96 ? 32 : 0;
    if (!want || keylen != want)
        return -1;
    return aes_dk_folded(key, keylen, fold, kc);
}

/* nettle's HMAC-SHA1 key state of kc (klen bytes). */
static void ck_set_key(struct krb_ck_key *h, const uint8_t *kc, size_t klen)
{
    struct sha1_ctx st; /* the message state hmac_set_key also makes: made per message instead */
    hmac_set_key(&h->outer, &h->inner, &st, &nettle_sha1, klen, kc);
    secure_wipe(&st, sizeof st);
}

int krb_aes_sha1_ck_init_folded(struct krb_ck_key *h, int32_t enctype, const uint8_t *key,
                                size_t keylen, const uint8_t fold[16])
{
    uint8_t kc[32];
    if (ck_derive(enctype, key, keylen, fold, kc) != 0)
        return -1;
    ck_set_key(h, kc, keylen);
    secure_wipe(kc, sizeof kc);
    return 0;
}

/* ---- the capture's cache of HMAC key states by checksum key ---- */

/* The cache starts with CK_SETS_MIN sets of 2 ways (128 states, about 30 KB) and doubles, up to
 * CK_SETS_MAX (2048 states, about 500 KB), while it thrashes: more than a quarter of the
 * CK_WINDOW lookups of a window missed (many SAs interleaved). SAs used in runs miss about once
 * per SA and usage, and keep it small. */
#define CK_SETS_MIN 64
#define CK_SETS_MAX 1024
#define CK_WINDOW 256

typedef struct {
    struct krb_ck_key h;
    uint8_t kc[32];
    uint8_t klen; /* 0: empty */
} ck_slot;

struct krb_ck_cache {
    unsigned nsets;         /* a power of two */
    unsigned win, win_miss; /* lookups and misses in the current window */
    ck_slot *way;           /* set i: way[2 * i], way[2 * i + 1] */
    uint8_t *mru;           /* the way last used in each set (the other is replaced on a miss) */
};

/* Kc is an AES output (pseudo-random): its first bytes pick the set. */
static unsigned ck_set_of(const struct krb_ck_cache *c, const uint8_t *kc)
{
    return ((unsigned)kc[0] | (unsigned)kc[1] << 8) & (c->nsets - 1);
}

/* Whether the klen bytes (16 or 32) at a and b are equal: the whole key, compared a word at a
 * time. */
static inline int kc_eq(const uint8_t *a, const uint8_t *b, size_t klen)
{
    uint64_t w[8];
    memcpy(w, a, 16);
    memcpy(w + 4, b, 16);
    uint64_t d = (w[0] ^ w[4]) | (w[1] ^ w[5]);
    if (klen > 16) {
        memcpy(w + 2, a + 16, 16);
        memcpy(w + 6, b + 16, 16);
        d |= (w[2] ^ w[6]) | (w[3] ^ w[7]);
    }
    return d == 0;
}

static void ck_arrays_free(ck_slot *way, uint8_t *mru, unsigned nsets)
{
    secure_wipe(way, (size_t)nsets * 2 * sizeof *way);
    g_free(way);
    g_free(mru);
}

void krb_ck_cache_free(struct krb_ck_cache *c)
{
    if (!c)
        return;
    ck_arrays_free(c->way, c->mru, c->nsets);
    g_free(c);
}

static struct krb_ck_cache *ck_cache_new(void)
{
    struct krb_ck_cache *c = g_new0(struct krb_ck_cache, 1);
    c->nsets = CK_SETS_MIN;
    c->way = g_new0(ck_slot, 2 * CK_SETS_MIN);
    c->mru = g_new0(uint8_t, CK_SETS_MIN);
    return c;
}

/* Twice the sets: the states kept move to their new sets (those of the old set's 2 ways go to 2
 * different sets or to the 2 ways of one), the old arrays are wiped. */
static void ck_grow(struct krb_ck_cache *c)
{
    unsigned on = c->nsets;
    ck_slot *ow = c->way;
    uint8_t *om = c->mru;
    c->nsets = on * 2;
    c->way = g_new0(ck_slot, 2 * (size_t)c->nsets);
    c->mru = g_new0(uint8_t, c->nsets);
    for (unsigned i = 0; i < on; i++)
        for (unsigned j = 0; j < 2; j++) {
            unsigned w = om[i] ^ 1u ^ j; /* the last used last: it stays the last used */
            const ck_slot *s = &ow[2 * i + w];
            if (!s->klen)
                continue;
            unsigned set = ck_set_of(c, s->kc);
            unsigned nw = c->way[2 * set].klen ? 1 : 0;
            c->way[2 * set + nw] = *s;
            c->mru[set] = (uint8_t)nw;
        }
    ck_arrays_free(ow, om, on);
}

/* A miss: the state of kc made in way w of set (the slot wiped first), now the last used. */
static __attribute__((noinline)) const struct krb_ck_key *
ck_fill(struct krb_ck_cache *c, unsigned set, unsigned w, const uint8_t *kc, size_t klen)
{
    if (++c->win_miss > CK_WINDOW / 4 && c->nsets < CK_SETS_MAX) {
        ck_grow(c); /* thrashing: more room, and kc's set in it */
        c->win = c->win_miss = 0;
        set = ck_set_of(c, kc);
        w = c->way[2 * set].klen ? c->mru[set] ^ 1u : 0;
    }
    ck_slot *s = &c->way[2 * set + w];
    secure_wipe(s, sizeof *s);
    ck_set_key(&s->h, kc, klen);
    memcpy(s->kc, kc, klen);
    s->klen = (uint8_t)klen;
    c->mru[set] = (uint8_t)w;
    return &s->h;
}

/* The HMAC key state of kc (klen bytes, 16 or 32) from the capture's cache, made there on a miss
 * (the replaced slot wiped first). Valid until the next call on the cache. */
static const struct krb_ck_key *ck_cached(krb_cap *cap, const uint8_t *kc, size_t klen)
{
    struct krb_ck_cache **pc = krb_cap_ck_cache(cap);
    if (!*pc)
        *pc = ck_cache_new();
    struct krb_ck_cache *c = *pc;
    if (++c->win == CK_WINDOW)
        c->win = c->win_miss = 0;
    unsigned set = ck_set_of(c, kc), m = c->mru[set];
    for (unsigned j = 0; j < 2; j++) { /* the way last used first */
        unsigned w = m ^ j;
        ck_slot *s = &c->way[2 * set + w];
        if (s->klen == klen && kc_eq(s->kc, kc, klen)) { /* the full key: no false hit */
            c->mru[set] = (uint8_t)w;
            return &s->h;
        }
    }
    return ck_fill(c, set, m ^ 1u, kc, klen);
}

/* Wipes the cache's state of kc, if there is one (a Kc found not to give libkrb5's checksum). */
static void ck_drop(krb_cap *cap, const uint8_t *kc, size_t klen)
{
    struct krb_ck_cache *c = *krb_cap_ck_cache(cap);
    if (!c)
        return;
    unsigned set = ck_set_of(c, kc);
    for (unsigned w = 0; w < 2; w++) {
        ck_slot *s = &c->way[2 * set + w];
        if (s->klen == klen && kc_eq(s->kc, kc, klen))
            secure_wipe(s, sizeof *s);
    }
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

/* The ready state of key k for usage: its Kc made on first use (the first of its enctype and
 * usage in the capture cross-checked with libkrb5), its HMAC key state from the capture's cache;
 * NULL: libkrb5. */
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
            return x->s[i].state > 0 ? ck_cached(cap, x->kc + i * x->kclen, x->kclen) : NULL;
    }
    if (x->ns == G_N_ELEMENTS(x->s))
        return NULL; /* a third usage: libkrb5 */
    x = keyx_grow(k);
    size_t i = x->ns++;
    struct krb_fast_ck *s = &x->s[i];
    uint8_t *kc = x->kc + i * x->kclen;
    const struct krb_ck_key *h = NULL;
    s->usage = (uint8_t)usage;
    s->state = -1;
    if (ck_derive(k->enctype, k->val, k->len, krb_cap_ck_fold(cap, usage), kc) == 0) {
        s->state = 1;
        h = ck_cached(cap, kc, x->kclen);
        if (!checked) {
            int ok = cross_check(ctx, k, type, usage, h);
            krb_cap_fast_set(cap, k->enctype, usage, ok ? 1 : -1);
            if (!ok)
                s->state = -1;
        }
    }
    if (s->state < 0) {
        if (h)
            ck_drop(cap, kc, x->kclen);
        secure_wipe(kc, x->kclen); /* the slot stays taken: this usage is libkrb5's */
        h = NULL;
    }
    return h;
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
