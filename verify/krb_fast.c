/* krb_fast.c - Kerberos: the RFC 4121 MIC checksum of the AES-SHA1 enctypes (17, 18) without a
 * libkrb5 call per message.
 *
 * hmac-sha1-96-aes128 / -aes256 (RFC 3962 6/7, RFC 3961 5.4) is HMAC-SHA1(Kc, data) truncated to
 * 96 bits, Kc = DK(base key, usage || 0x99) (RFC 3961 5.1), DK with E = AES in CBC-CTS with a
 * zero IV, which on the one-block n-fold of the constant is a plain AES chain. Kc is derived and
 * the HMAC key state (nettle hmac_sha1_set_key) made once per key and usage; a message then costs
 * one HMAC update and digest on a copy of that state. AES and HMAC-SHA1 are nettle's.
 *
 * Safety: the first time a state is made for a key and usage, it must give libkrb5's checksum
 * (krb5_k_make_checksum) over a fixed input; if it does not, or for any other enctype or checksum
 * type, that key and usage stay on the libkrb5 path. The states are wiped when freed.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

#include <nettle/aes.h>
#include <nettle/hmac.h>

/* One key usage's fast path for one key: state 1 ready (h), -1 libkrb5 only. */
struct krb_fast_ck {
    krb5_keyusage usage;
    int state; /* 0: slot unused */
    struct hmac_sha1_ctx h;
};

/* RFC 4121 uses two usages per key (23 acceptor sign, 25 initiator sign); any further usage goes
 * to libkrb5. */
struct krb_fast {
    struct krb_fast_ck s[2];
};

void krb_fast_free(struct krb_fast *f)
{
    if (!f)
        return;
    secure_wipe(f, sizeof *f);
    g_free(f);
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
    if (keylen == 16) {
        struct aes128_ctx a;
        aes128_set_encrypt_key(&a, key);
        aes128_encrypt(&a, AES_BLOCK_SIZE, out, blk);
        secure_wipe(&a, sizeof a);
    } else {
        struct aes256_ctx a;
        aes256_set_encrypt_key(&a, key);
        aes256_encrypt(&a, AES_BLOCK_SIZE, out, blk);
        aes256_encrypt(&a, AES_BLOCK_SIZE, out + AES_BLOCK_SIZE, out);
        secure_wipe(&a, sizeof a);
    }
    return 0;
}

/* The HMAC-SHA1 key state of Kc = DK(key, usage || 0x99) for enctype 17 / 18 (RFC 3962 6):
 * 0, or -1 for another enctype or a key of the wrong length. */
int krb_aes_sha1_ck_init(struct hmac_sha1_ctx *h, int32_t enctype, const uint8_t *key,
                         size_t keylen, krb5_keyusage usage)
{
    size_t want = enctype == ENCTYPE_AES128_CTS_HMAC_SHA1_96 ? 16
                  : enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96 ? 32 : 0;
    if (!want || keylen != want)
        return -1;
    uint32_t u = (uint32_t)usage;
    uint8_t c[5] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u, 0x99};
    uint8_t kc[32];
    if (krb_aes_dk(key, keylen, c, sizeof c, kc) != 0)
        return -1;
    hmac_sha1_set_key(h, keylen, kc);
    secure_wipe(kc, sizeof kc);
    return 0;
}

/* The 96-bit checksum over data with a state from krb_aes_sha1_ck_init (h is not changed). */
void krb_aes_sha1_ck(const struct hmac_sha1_ctx *h, const uint8_t *data, size_t dlen,
                     uint8_t out[12])
{
    struct hmac_sha1_ctx c = *h;
    hmac_sha1_update(&c, dlen, data);
    hmac_sha1_digest(&c, 12, out);
    secure_wipe(&c, sizeof c);
}

/* Whether the state gives libkrb5's checksum (type, key k / kk, usage) over a fixed input of 100
 * bytes (two SHA-1 blocks with the HMAC pad: a wrong Kc, or a wrong checksum definition, cannot
 * pass but by a 2^-96 chance). */
static int cross_check(krb5_context ctx, const krb_keyv *k, krb5_key kk, krb5_cksumtype type,
                       krb5_keyusage usage, const struct hmac_sha1_ctx *h)
{
    uint8_t in[100];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 131u + 7u);
    krb5_data d = {KV5M_DATA, (unsigned int)sizeof in, (char *)in};
    krb5_checksum c;
    memset(&c, 0, sizeof c);
    krb5_keyblock kb = krb_keyv_block(k);
    krb5_error_code rc = kk ? krb5_k_make_checksum(ctx, type, kk, usage, &d, &c)
                            : krb5_c_make_checksum(ctx, type, &kb, usage, &d, &c);
    if (rc != 0)
        return 0;
    uint8_t mine[12];
    krb_aes_sha1_ck(h, in, sizeof in, mine);
    int eq = c.length == sizeof mine && memcmp(c.contents, mine, sizeof mine) == 0;
    krb5_free_checksum_contents(ctx, &c);
    return eq;
}

/* The ready state of key k for usage, made (and cross-checked) on first use; NULL: libkrb5. */
static const struct hmac_sha1_ctx *fast_state(krb5_context ctx, const krb_keyv *ck, krb5_key kk,
                                              krb5_cksumtype type, krb5_keyusage usage)
{
    if ((ck->enctype != ENCTYPE_AES128_CTS_HMAC_SHA1_96 || type != CKSUMTYPE_HMAC_SHA1_96_AES128) &&
        (ck->enctype != ENCTYPE_AES256_CTS_HMAC_SHA1_96 || type != CKSUMTYPE_HMAC_SHA1_96_AES256))
        return NULL;
    krb_keyv *k = (krb_keyv *)ck; /* cache only: the key bytes never change */
    if (!k->fast)
        k->fast = g_new0(struct krb_fast, 1);
    struct krb_fast_ck *s = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(k->fast->s); i++) {
        struct krb_fast_ck *t = &k->fast->s[i];
        if (t->state && t->usage == usage) {
            s = t;
            break;
        }
        if (!t->state && !s)
            s = t;
    }
    if (!s)
        return NULL; /* a third usage: libkrb5 */
    if (!s->state) {
        s->usage = usage;
        s->state = krb_aes_sha1_ck_init(&s->h, k->enctype, k->val, k->len, usage) == 0 &&
                   cross_check(ctx, k, kk, type, usage, &s->h) ? 1 : -1;
        if (s->state < 0)
            secure_wipe(&s->h, sizeof s->h);
    }
    return s->state > 0 ? &s->h : NULL;
}

int krb_fast_verify(krb5_context ctx, const krb_keyv *k, krb5_key kk, krb5_cksumtype type,
                    krb5_keyusage usage, const uint8_t *data, size_t dlen, const uint8_t *ck,
                    size_t cklen)
{
    if (cklen != 12)
        return -1;
    const struct hmac_sha1_ctx *h = fast_state(ctx, k, kk, type, usage);
    if (!h)
        return -1;
    uint8_t mine[12];
    krb_aes_sha1_ck(h, data, dlen, mine);
    int eq = ct_memeq(mine, ck, sizeof mine);
    secure_wipe(mine, sizeof mine);
    return eq ? 1 : 0;
}
