/* floor_crypto.c - the verification floor's crypto, from nettle (as mssipae's core uses it);
 * see floor_crypto.h and bench/floor.c. */
#include "floor_crypto.h"

#include <string.h>

#include <nettle/aes.h>
#include <nettle/arcfour.h>
#include <nettle/cbc.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>

static void key_of(uint8_t out[32], uint32_t sa, uint8_t which)
{
    memset(out, 0x5a ^ which, 32);
    memcpy(out, &sa, sizeof sa);
}

/* NTLM: SignKey = MD5(key || magic), SealKey likewise, per direction; the SeqNum-100 keystream is
 * RC4(MD5(SealKey || LE32(100))) of 8 zero bytes. */
static void new_sa_md5(floor_state *f, uint32_t sa)
{
    uint8_t k[32], d[MD5_DIGEST_SIZE], rk[MD5_DIGEST_SIZE];
    key_of(k, sa, 0);
    for (int dir = 0; dir < 2; dir++) {
        struct md5_ctx m;
        md5_init(&m);
        md5_update(&m, 16, k);
        md5_update(&m, 4, (const uint8_t *)(dir ? "srv\0" : "cli\0"));
        md5_digest(&m, MD5_DIGEST_SIZE, d);
        hmac_md5_set_key(&f->keys.md5[dir], MD5_DIGEST_SIZE, d);
        md5_update(&m, 16, k);
        md5_update(&m, 4, (const uint8_t *)(dir ? "SRV\0" : "CLI\0"));
        md5_digest(&m, MD5_DIGEST_SIZE, d); /* SealKey */
        md5_update(&m, MD5_DIGEST_SIZE, d);
        md5_update(&m, 4, (const uint8_t *)"\x64\0\0\0");
        md5_digest(&m, MD5_DIGEST_SIZE, rk);
        struct arcfour_ctx rc4;
        static const uint8_t zero[8];
        arcfour_set_key(&rc4, MD5_DIGEST_SIZE, rk);
        arcfour_crypt(&rc4, 8, f->keystream[dir], zero);
    }
}

/* RFC 3961 5.1 DK(key, constant) for AES256: two blocks of the n-folded constant, encrypted. */
static void dk(const uint8_t base[32], uint8_t usage, uint8_t out[32])
{
    struct aes256_ctx a;
    uint8_t blk[AES_BLOCK_SIZE] = { 0, 0, 0, usage, 0x99 };
    aes256_set_encrypt_key(&a, base);
    aes256_encrypt(&a, AES_BLOCK_SIZE, out, blk);
    aes256_encrypt(&a, AES_BLOCK_SIZE, out + 16, out);
}

/* Kerberos: an AP-REQ's ticket (1,024 bytes) with the service key and authenticator (160) with
 * the session key, each AES256-CBC decrypted and HMAC-SHA1 checked with derived keys; the two
 * MIC keys (usages 23 and 25) derived and keyed. */
static void new_sa_sha1_96(floor_state *f, uint32_t sa)
{
    static uint8_t ct[1024 + 160];
    uint8_t pt[sizeof ct], k[32], ke[32], ki[32], iv[AES_BLOCK_SIZE], mac[SHA1_DIGEST_SIZE];
    const size_t part[2] = { 1024, 160 };
    size_t off = 0;
    for (int i = 0; i < 2; i++) {
        key_of(k, sa, (uint8_t)i);
        dk(k, 2, ke);
        dk(k, 3, ki);
        struct aes256_ctx a;
        aes256_set_decrypt_key(&a, ke);
        memset(iv, 0, sizeof iv);
        cbc_decrypt(&a, (nettle_cipher_func *)aes256_decrypt, AES_BLOCK_SIZE, iv, part[i],
                    pt + off, ct + off);
        struct hmac_sha1_ctx h;
        hmac_sha1_set_key(&h, sizeof ki, ki);
        hmac_sha1_update(&h, part[i], pt + off);
        hmac_sha1_digest(&h, sizeof mac, mac);
        off += part[i];
    }
    for (int dir = 0; dir < 2; dir++) {
        dk(k, dir ? 25 : 23, ke);
        hmac_sha1_set_key(&f->keys.sha1[dir], 32, ke);
    }
}

/* TLS-DSK: bytes 64-127 of PRF(master secret, "client EAP encryption", randoms) = P_MD5 over
 * the first half of the secret XOR P_SHA1 over the second; the output blocks before byte 64 are
 * not made (their A(i) are). */
#define P_HASH_TAIL(NAME, CTX, SET, UPD, DIG, HL)                                                 \
    static void NAME(const uint8_t *secret, const uint8_t *seed, size_t seedlen, uint8_t out[64]) \
    {                                                                                            \
        struct CTX c;                                                                            \
        uint8_t a[HL], blk[HL];                                                                  \
        SET(&c, 24, secret);                                                                     \
        UPD(&c, seedlen, seed);                                                                  \
        DIG(&c, HL, a);                                                                          \
        for (size_t at = 0; at < 128; at += HL) {                                                \
            if (at + HL > 64) {                                                                  \
                UPD(&c, HL, a);                                                                  \
                UPD(&c, seedlen, seed);                                                          \
                DIG(&c, HL, blk);                                                                \
                for (size_t i = at < 64 ? 64 - at : 0; i < HL && at + i < 128; i++)             \
                    out[at + i - 64] ^= blk[i];                                                  \
            }                                                                                    \
            UPD(&c, HL, a);                                                                      \
            DIG(&c, HL, a);                                                                      \
        }                                                                                        \
    }
P_HASH_TAIL(p_md5_tail, hmac_md5_ctx, hmac_md5_set_key, hmac_md5_update, hmac_md5_digest,
            MD5_DIGEST_SIZE)
P_HASH_TAIL(p_sha1_tail, hmac_sha1_ctx, hmac_sha1_set_key, hmac_sha1_update, hmac_sha1_digest,
            SHA1_DIGEST_SIZE)

static void new_sa_sha1(floor_state *f, uint32_t sa)
{
    uint8_t ms[48], seed[21 + 64], kb[64] = { 0 };
    memset(ms, 0, sizeof ms);
    memcpy(ms, &sa, sizeof sa);
    memcpy(seed, "client EAP encryption", 21);
    memset(seed + 21, 0x33, 64);
    p_md5_tail(ms, seed, sizeof seed, kb);
    p_sha1_tail(ms + 24, seed, sizeof seed, kb);
    hmac_sha1_set_key(&f->keys.sha1[0], 32, kb);
    hmac_sha1_set_key(&f->keys.sha1[1], 32, kb + 32);
}

int floor_kind_of(const char *name)
{
    static const char *const names[] = { [FLOOR_MD5] = "md5", [FLOOR_SHA1_96] = "sha1-96",
                                         [FLOOR_SHA1] = "sha1" };
    for (int k = 0; k < 3; k++)
        if (!strcmp(name, names[k]))
            return k;
    return -1;
}

void floor_reset(floor_state *f, floor_kind kind, unsigned per_sa)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->per_sa = per_sa ? per_sa : 1;
}

uint32_t floor_mac(floor_state *f, const uint8_t *p, size_t n, const uint8_t *sig,
                   uint8_t mac[16])
{
    if (f->n_msgs++ % f->per_sa == 0) {
        f->n_sa++;
        if (f->kind == FLOOR_MD5)
            new_sa_md5(f, f->n_sa);
        else if (f->kind == FLOOR_SHA1_96)
            new_sa_sha1_96(f, f->n_sa);
        else
            new_sa_sha1(f, f->n_sa);
    }
    int dir = f->n_msgs & 1;
    if (f->kind == FLOOR_MD5) {
        hmac_md5_update(&f->keys.md5[dir], n, p);
        hmac_md5_digest(&f->keys.md5[dir], 8, mac);
        for (int i = 0; i < 8; i++)
            mac[i] ^= f->keystream[dir][i];
    } else {
        hmac_sha1_update(&f->keys.sha1[dir], n, p);
        if (f->kind == FLOOR_SHA1_96)
            hmac_sha1_update(&f->keys.sha1[dir], 16, sig);
        hmac_sha1_digest(&f->keys.sha1[dir], 16, mac);
    }
    uint32_t m4;
    memcpy(&m4, mac, 4);
    return memcmp(mac, sig, 8) == 0 ? m4 | 1 : m4 & ~1u;
}
