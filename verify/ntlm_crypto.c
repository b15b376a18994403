/* ntlm_crypto.c - NTLM hashes, responses, key derivation and the datagram MAC ([MS-NLMP] 3.3,
 * 3.4.4, 3.4.5; [MS-SIPAE] for SeqNum 100 and the full-length non-ESS key).
 *
 * Every primitive comes from nettle (MD4, MD5, HMAC-MD5, ARCFOUR, DES) or zlib (CRC32); this
 * file only composes them. RC4 state is always fresh per call (datagram mode), so each function
 * is pure.
 */
#include "verify/ntlm.h"
#include "sigbuf/bytes.h"
#include "verify/verdict.h"

#include <glib.h>
#include <stddef.h>
#include <string.h>

#include <nettle/arcfour.h>
#include <nettle/des.h>
#include <nettle/hmac.h>
#include <nettle/md4.h>
#include <nettle/md5.h>
#include <zlib.h>

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* RC4 of n bytes with a fresh key schedule (datagram NTLM re-keys for every message): nettle's
 * ARCFOUR. keylen is 1..256. */
static void rc4(const uint8_t *key, size_t keylen, const uint8_t *in, size_t n, uint8_t *out)
{
    struct arcfour_ctx c;
    arcfour_set_key(&c, keylen, key);
    arcfour_crypt(&c, n, out, in);
    secure_wipe(&c, sizeof c);
}

/* HMAC_MD5(key, a || b) with one or two message parts. */
static void hmac_md5_2(const uint8_t *key, size_t keylen, const uint8_t *a, size_t alen,
                       const uint8_t *b, size_t blen, uint8_t out[16])
{
    struct hmac_md5_ctx c;
    hmac_md5_set_key(&c, keylen, key);
    hmac_md5_update(&c, alen, a);
    if (blen)
        hmac_md5_update(&c, blen, b);
    hmac_md5_digest(&c, 16, out);
    secure_wipe(&c, sizeof c);
}

/* MD5(a || b), the context wiped afterwards. */
static void md5_2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[16])
{
    struct md5_ctx c;
    md5_init(&c);
    md5_update(&c, alen, a);
    md5_update(&c, blen, b);
    md5_digest(&c, 16, out);
    secure_wipe(&c, sizeof c);
}

/* DES of one block with a 56-bit key given as 7 bytes, spread over the 8 key bytes with the
 * parity bit (ignored by nettle) in bit 0 ([MS-NLMP] 6, "DES(K, D)"). Weak keys still encrypt. */
static void des7(const uint8_t k[7], const uint8_t in[8], uint8_t out[8])
{
    uint8_t k8[8];
    k8[0] = k[0];
    k8[1] = (uint8_t)(k[0] << 7 | k[1] >> 1);
    k8[2] = (uint8_t)(k[1] << 6 | k[2] >> 2);
    k8[3] = (uint8_t)(k[2] << 5 | k[3] >> 3);
    k8[4] = (uint8_t)(k[3] << 4 | k[4] >> 4);
    k8[5] = (uint8_t)(k[4] << 3 | k[5] >> 5);
    k8[6] = (uint8_t)(k[5] << 2 | k[6] >> 6);
    k8[7] = (uint8_t)(k[6] << 1);
    for (int i = 0; i < 8; i++)
        k8[i] &= 0xfe;
    struct des_ctx c;
    (void)des_set_key(&c, k8); /* returns 0 for weak keys; the schedule is computed anyway */
    des_encrypt(&c, 8, out, in);
    secure_wipe(&c, sizeof c);
    secure_wipe(k8, sizeof k8);
}

/* UTF-8 to UTF-16LE bytes; -1 for invalid UTF-8. */
static int utf8_to_u16le(const char *s, uint8_t **out, size_t *outlen)
{
    glong n = 0;
    gunichar2 *u = g_utf8_to_utf16(s, -1, NULL, &n, NULL);
    if (!u)
        return -1;
    uint8_t *o = g_malloc(2 * (size_t)n + 1);
    for (glong i = 0; i < n; i++) {
        o[2 * i] = (uint8_t)u[i];
        o[2 * i + 1] = (uint8_t)(u[i] >> 8);
    }
    g_free(u);
    *out = o;
    *outlen = 2 * (size_t)n;
    return 0;
}

int ntlm_ntowfv1(const char *password, uint8_t out[16])
{
    /* NTOWFv1 = MD4(UNICODE(Passwd))  ([MS-NLMP] 3.3.1) */
    uint8_t *u;
    size_t n;
    if (!password || utf8_to_u16le(password, &u, &n) != 0)
        return -1;
    struct md4_ctx c;
    md4_init(&c);
    md4_update(&c, n, u);
    md4_digest(&c, 16, out);
    secure_wipe(u, n);
    g_free(u);
    return 0;
}

int ntlm_lmowfv1(const char *password, uint8_t out[16])
{
    /* LMOWFv1 = DES(UpperCase(Passwd)[0..6], "KGS!@#$%") || DES(UpperCase(Passwd)[7..13], ...)
     * ([MS-NLMP] 3.3.1), the password in the OEM character set, zero-padded to 14 bytes. */
    static const uint8_t magic[8] = { 'K', 'G', 'S', '!', '@', '#', '$', '%' };
    if (!password)
        return -1;
    uint8_t p14[14] = { 0 };
    for (size_t i = 0; password[i]; i++) {
        if ((unsigned char)password[i] >= 0x80)
            return -1; /* OEM code page unknown: cannot tell which bytes Windows hashed */
        if (i < 14)
            p14[i] = (uint8_t)g_ascii_toupper(password[i]);
    }
    des7(p14, magic, out);
    des7(p14 + 7, magic, out + 8);
    secure_wipe(p14, sizeof p14);
    return 0;
}

int ntlm_ntowfv2_u16(const uint8_t nt_hash[16], const uint8_t *user16, size_t user16_len,
                     const uint8_t *domain16, size_t domain16_len, uint8_t out[16])
{
    /* NTOWFv2 = HMAC_MD5(NTOWFv1, UNICODE(Uppercase(User) || UserDom))  ([MS-NLMP] 3.3.2) */
    if (user16_len % 2 || domain16_len % 2)
        return -1;
    uint8_t *up = g_malloc(user16_len + 1);
    for (size_t i = 0; i < user16_len; i += 2) {
        gunichar c = (gunichar)(user16[i] | user16[i + 1] << 8);
        if (c < 0xd800 || c > 0xdfff) {
            gunichar u = g_unichar_toupper(c);
            if (u <= 0xffff && (u < 0xd800 || u > 0xdfff))
                c = u;
        }
        up[i] = (uint8_t)c;
        up[i + 1] = (uint8_t)(c >> 8);
    }
    static const uint8_t empty[1] = { 0 };
    hmac_md5_2(nt_hash, 16, user16_len ? up : empty, user16_len, domain16, domain16_len, out);
    g_free(up);
    return 0;
}

int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16])
{
    uint8_t *u = NULL, *d = NULL;
    size_t ul = 0, dl = 0;
    int rc = -1;
    if (user && domain && utf8_to_u16le(user, &u, &ul) == 0 && utf8_to_u16le(domain, &d, &dl) == 0)
        rc = ntlm_ntowfv2_u16(nt_hash, u, ul, d, dl, out);
    g_free(u);
    g_free(d);
    return rc;
}

void ntlm_ntproofstr(const uint8_t ntowfv2[16], const uint8_t server_challenge[8],
                     const uint8_t *temp, size_t temp_len, uint8_t out[16])
{
    /* NTProofStr = HMAC_MD5(ResponseKeyNT, ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge, temp))
     * ([MS-NLMP] 3.3.2) */
    hmac_md5_2(ntowfv2, 16, server_challenge, 8, temp, temp_len, out);
}

void ntlm_v2_session_base_key(const uint8_t ntowfv2[16], const uint8_t ntproofstr[16],
                              uint8_t out[16])
{
    /* SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr)  ([MS-NLMP] 3.3.2) */
    hmac_md5_2(ntowfv2, 16, ntproofstr, 16, NULL, 0, out);
}

void ntlm_lmv2_response(const uint8_t ntowfv2[16], const uint8_t server_challenge[8],
                        const uint8_t client_challenge[8], uint8_t out[24])
{
    /* LmChallengeResponse = HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge)
     *                       || ClientChallenge  ([MS-NLMP] 3.3.2) */
    hmac_md5_2(ntowfv2, 16, server_challenge, 8, client_challenge, 8, out);
    memcpy(out + 16, client_challenge, 8);
}

void ntlm_desl(const uint8_t key[16], const uint8_t data[8], uint8_t out[24])
{
    /* DESL(K, D) = DES(K[0..6], D) || DES(K[7..13], D) || DES(K[14..15] || Z(5), D)  ([MS-NLMP] 6) */
    uint8_t k3[7] = { key[14], key[15], 0, 0, 0, 0, 0 };
    des7(key, data, out);
    des7(key + 7, data, out + 8);
    des7(k3, data, out + 16);
    secure_wipe(k3, sizeof k3);
}

void ntlm_v1_response(const uint8_t owf[16], const uint8_t server_challenge[8],
                      const uint8_t *client_challenge, int ess, uint8_t out[24])
{
    /* NTLMv1 ([MS-NLMP] 3.3.1): with ESS
     *   NtChallengeResponse = DESL(ResponseKeyNT, MD5(ServerChallenge || ClientChallenge)[0..7])
     * else NtChallengeResponse = DESL(ResponseKeyNT, ServerChallenge). */
    if (ess) {
        uint8_t h[16];
        md5_2(server_challenge, 8, client_challenge, 8, h);
        ntlm_desl(owf, h, out);
    } else {
        ntlm_desl(owf, server_challenge, out);
    }
}

void ntlm_v1_session_base_key(const uint8_t nt_hash[16], uint8_t out[16])
{
    /* SessionBaseKey = MD4(NTOWFv1)  ([MS-NLMP] 3.3.1) */
    struct md4_ctx c;
    md4_init(&c);
    md4_update(&c, 16, nt_hash);
    md4_digest(&c, 16, out);
}

int ntlm_v1_kxkey(uint32_t flags, const uint8_t session_base_key[16],
                  const uint8_t server_challenge[8], const uint8_t *lm_resp, size_t lm_len,
                  const uint8_t *lmowf, uint8_t out[16], const char **err)
{
    /* KXKEY ([MS-NLMP] 3.4.5.1); ESS takes precedence over LM_KEY. */
    if (flags & NTLM_FL_ESS) {
        if (!lm_resp || lm_len < 8) {
            *err = "ESS needs the client challenge in LmChallengeResponse[0..7]";
            return -1;
        }
        hmac_md5_2(session_base_key, 16, server_challenge, 8, lm_resp, 8, out);
        return 0;
    }
    if (flags & NTLM_FL_LM_KEY) {
        if (!lm_resp || lm_len < 8) {
            *err = "LM_KEY needs an LmChallengeResponse of at least 8 bytes";
            return -1;
        }
        if (!lmowf) {
            *err = "LM_KEY needs the LM hash, which only a password gives";
            return -1;
        }
        /* DES(LMOWF[0..6], LmChallengeResponse[0..7]) ||
         * DES(LMOWF[7] || 0xBDBDBDBDBDBD, LmChallengeResponse[0..7]) */
        uint8_t k2[7] = { lmowf[7], 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd };
        des7(lmowf, lm_resp, out);
        des7(k2, lm_resp, out + 8);
        secure_wipe(k2, sizeof k2);
        return 0;
    }
    if (flags & NTLM_FL_NON_NT_SESSION_KEY) {
        if (!lmowf) {
            *err = "REQUEST_NON_NT_SESSION_KEY needs the LM hash, which only a password gives";
            return -1;
        }
        /* LMOWF[0..7] || Z(8) */
        memcpy(out, lmowf, 8);
        memset(out + 8, 0, 8);
        return 0;
    }
    memcpy(out, session_base_key, 16);
    return 0;
}

int ntlm_exported_session_key(uint32_t flags, const uint8_t kxkey[16], const uint8_t *enc_key,
                              size_t enc_len, uint8_t out[16])
{
    /* KEY_EXCH: ExportedSessionKey = RC4K(KeyExchangeKey, EncryptedRandomSessionKey);
     * else ExportedSessionKey = KeyExchangeKey  ([MS-NLMP] 3.2.5.1.2 / 3.1.5.1.2) */
    if (flags & NTLM_FL_KEY_EXCH) {
        if (!enc_key || enc_len != 16)
            return -1;
        rc4(kxkey, 16, enc_key, 16, out);
    } else {
        memcpy(out, kxkey, 16);
    }
    return 0;
}

/* The magic constants of [MS-NLMP] 3.4.5.2/3.4.5.3, trailing NUL included in the hash. */
static const char *magic(int server_to_client, int sealing)
{
    static const char *const m[2][2] = {
        { "session key to client-to-server signing key magic constant",
          "session key to client-to-server sealing key magic constant" },
        { "session key to server-to-client signing key magic constant",
          "session key to server-to-client sealing key magic constant" },
    };
    return m[server_to_client ? 1 : 0][sealing ? 1 : 0];
}

/* MD5(key || magic || NUL). */
static void md5_magic(const uint8_t *key, size_t keylen, const char *m, uint8_t out[16])
{
    md5_2(key, keylen, (const uint8_t *)m, strlen(m) + 1, out);
}

void ntlm_sign_key(const uint8_t esk[16], int server_to_client, uint8_t out[16])
{
    /* SIGNKEY = MD5(ConcatenationOf(ExportedSessionKey, magic))  ([MS-NLMP] 3.4.5.2) */
    md5_magic(esk, 16, magic(server_to_client, 0), out);
}

void ntlm_seal_key_ess(const uint8_t esk[16], uint32_t flags, int server_to_client,
                       uint8_t out[16])
{
    /* SEALKEY with ESS = MD5(ConcatenationOf(ExportedSessionKey[0..n-1], magic)), n = 16 for
     * NEGOTIATE_128, 7 for NEGOTIATE_56, else 5  ([MS-NLMP] 3.4.5.3) */
    size_t n = (flags & NTLM_FL_128) ? 16 : (flags & NTLM_FL_56) ? 7 : 5;
    md5_magic(esk, n, magic(server_to_client, 1), out);
}

size_t ntlm_seal_key_noess(const uint8_t esk[16], uint32_t flags, uint8_t out[16])
{
    /* [MS-NLMP] 3.4.5.3 without ESS:
     *   LM_KEY: 56-bit ConcatenationOf(ESK[0..6], 0xA0) or 40-bit ConcatenationOf(ESK[0..4],
     *           0xE5, 0x38, 0xB0);
     *   else:   ESK (the DATAGRAM + revision W2K3 weakening does not match real OCS traffic). */
    if (flags & NTLM_FL_LM_KEY) {
        if (flags & NTLM_FL_56) {
            memcpy(out, esk, 7);
            out[7] = 0xa0;
        } else {
            memcpy(out, esk, 5);
            out[5] = 0xe5;
            out[6] = 0x38;
            out[7] = 0xb0;
        }
        memset(out + 8, 0, 8);
        return 8;
    }
    memcpy(out, esk, 16);
    return 16;
}

void ntlm_hmac_key_set(ntlm_hmac_key *hk, const uint8_t *key, size_t keylen)
{
    /* zeroed first: nettle leaves the contexts' block buffers unwritten (nothing buffered), and
     * what is kept should hold no stray stack bytes */
    struct hmac_md5_ctx h;
    memset(&h, 0, sizeof h);
    hmac_md5_set_key(&h, keylen, key);
    hk->inner = h.inner;
    hk->outer = h.outer;
    secure_wipe(&h, sizeof h);
}

void ntlm_hmac_key_digest(const ntlm_hmac_key *hk, uint32_t seq, const uint8_t *buf,
                          size_t buflen, uint8_t out[16])
{
    /* What hmac_md5_update and hmac_md5_digest do on a context set up for the key: the inner
     * hash continues with the message, the outer one with the inner digest. Working on one
     * copy of each kept context (rather than a copied struct hmac_md5_ctx, whose digest copies
     * both contexts again) keeps the per-message copies to two. */
    struct {
        struct md5_ctx c;
        uint8_t s[4], ih[16];
    } w; /* every intermediate, wiped at once */
    wr32(w.s, seq);
    w.c = hk->inner;
    md5_update(&w.c, 4, w.s);
    if (buflen)
        md5_update(&w.c, buflen, buf);
    md5_digest(&w.c, 16, w.ih);
    w.c = hk->outer;
    md5_update(&w.c, 16, w.ih);
    md5_digest(&w.c, 16, out);
    secure_wipe(&w, sizeof w);
}

void ntlm_derive_keys(const uint8_t esk[16], uint32_t flags, ntlm_keys *k)
{
    ntlm_derive_keys_like(esk, flags, NULL, k);
}

/* Index in NTLM_NOESS_ALT_FLAGS order of the non-ESS seal key flags choose. */
int ntlm_noess_choice(uint32_t flags)
{
    if (!(flags & NTLM_FL_LM_KEY))
        return 0;
    return (flags & NTLM_FL_56) ? 1 : 2;
}

void ntlm_derive_keys_like(const uint8_t esk[16], uint32_t flags, const ntlm_keys *ref,
                           ntlm_keys *k)
{
    secure_wipe(k, sizeof *k);
    k->flags = flags;
    memcpy(k->esk, esk, 16);
    int ess = (flags & NTLM_FL_ESS) != 0;
    /* what depends on the ExportedSessionKey alone is taken from ref when it has it */
    if (ref && memcmp(ref->esk, esk, 16) != 0)
        ref = NULL;
    if (ref && ((ref->flags & NTLM_FL_ESS) != 0) != ess)
        ref = NULL;
    if (ess) {
        for (int d = 0; d < 2; d++) {
            if (ref)
                memcpy(k->sign[d], ref->sign[d], 16);
            else
                ntlm_sign_key(esk, d, k->sign[d]);
            ntlm_seal_key_ess(esk, flags, d, k->seal[d]);
        }
        k->seal_len = 16;
    } else {
        /* Without ESS one key serves both directions. */
        k->seal_len = ntlm_seal_key_noess(esk, flags, k->seal[0]);
        memcpy(k->seal[1], k->seal[0], 16);
    }
    /* The per-direction state every message would otherwise recompute (issue 10). */
    static const uint8_t zero[12] = { 0 };
    if (ess) {
        for (int d = 0; d < 2; d++) {
            if (ref)
                k->hmac[d] = ref->hmac[d]; /* the signing key's HMAC state: no flag changes it */
            else
                ntlm_hmac_key_set(&k->hmac[d], k->sign[d], 16);
            if (flags & NTLM_FL_KEY_EXCH) {
                /* RC4 key for SeqNum 100: MD5(SealingKey || LE32(100)); its keystream */
                uint8_t s[4], rk[16];
                wr32(s, NTLM_SEQ_SIP);
                md5_2(k->seal[d], 16, s, 4, rk);
                rc4(rk, 16, zero, 8, k->ks100[d]);
                wr32(s, 0); /* and for SeqNum 0, which the diagnostics try */
                md5_2(k->seal[d], 16, s, 4, rk);
                rc4(rk, 16, zero, 8, k->ks0[d]);
                secure_wipe(rk, sizeof rk);
            }
        }
        return;
    }
    /* Without ESS: the keystreams of the three seal-key choices (fresh RC4: they do not depend
     * on SeqNum), one of which is the flags' own, for both directions. */
    if (ref) {
        memcpy(k->ks_alt, ref->ks_alt, sizeof k->ks_alt);
    } else {
        static const uint32_t alt[3] = NTLM_NOESS_ALT_FLAGS;
        for (int i = 0; i < 3; i++) {
            uint8_t ak[16];
            size_t al = ntlm_seal_key_noess(esk, alt[i], ak);
            rc4(ak, al, zero, 12, k->ks_alt[i]);
            secure_wipe(ak, sizeof ak);
        }
    }
    int c = ntlm_noess_choice(flags);
    memcpy(k->ks100[0], k->ks_alt[c], 12);
    memcpy(k->ks100[1], k->ks_alt[c], 12);
}

/* Without ESS: RandomPad(0) || CRC32(Message) || SeqNum XOR the keystream ks (12 bytes). */
static void mac_noess_ks(const uint8_t ks[12], uint32_t seq, const uint8_t *buf, size_t buflen,
                         uint8_t out[16])
{
    uint8_t plain[8];
    wr32(plain, (uint32_t)crc32_z(0L, buflen ? buf : (const uint8_t *)"", buflen));
    wr32(plain + 4, seq);
    wr32(out, 1);
    memset(out + 4, 0, 4);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(plain[i] ^ ks[4 + i]);
}

void ntlm_mac_noess_alt(const ntlm_keys *k, int alt, uint32_t seq, const uint8_t *buf,
                        size_t buflen, uint8_t out[16])
{
    mac_noess_ks(k->ks_alt[alt], seq, buf, buflen, out);
}

void ntlm_mac_ess(const uint8_t sign_key[16], const uint8_t *seal_key, uint32_t seq,
                  const uint8_t *buf, size_t buflen, uint8_t out[16])
{
    /* [MS-NLMP] 3.4.4.2 with datagram re-keying:
     *   ck = HMAC_MD5(SigningKey, SeqNum || Message)[0..7]
     *   KEY_EXCH: ck = RC4(MD5(SealingKey || SeqNum), ck)
     *   sig = 01000000 || ck || SeqNum */
    uint8_t s[4], h[16];
    wr32(s, seq);
    hmac_md5_2(sign_key, 16, s, 4, buf, buflen, h);
    if (seal_key) {
        uint8_t rk[16];
        md5_2(seal_key, 16, s, 4, rk);
        rc4(rk, 16, h, 8, out + 4);
        secure_wipe(rk, sizeof rk);
    } else {
        memcpy(out + 4, h, 8);
    }
    wr32(out, 1);
    memcpy(out + 12, s, 4);
    secure_wipe(h, sizeof h);
}

void ntlm_mac_noess(const uint8_t *seal_key, size_t seal_len, uint32_t seq,
                    const uint8_t *buf, size_t buflen, uint8_t out[16])
{
    /* [MS-NLMP] 3.4.4.1, RC4 fresh per message (datagram):
     *   RandomPad(0) || CRC32(Message) || SeqNum  encrypted together, version 1 in front;
     *   the pad field of the result is left zero (ignored when comparing). */
    uint8_t plain[12], enc[12];
    wr32(plain, 0);
    wr32(plain + 4, (uint32_t)crc32_z(0L, buflen ? buf : (const uint8_t *)"", buflen));
    wr32(plain + 8, seq);
    rc4(seal_key, seal_len, plain, 12, enc);
    wr32(out, 1);
    memset(out + 4, 0, 4);
    memcpy(out + 8, enc + 4, 8);
}

int ntlm_mac_equal(const uint8_t mine[16], const uint8_t got[16], int ess)
{
    if (ess)
        return ct_memeq(mine, got, 16);
    return ct_memeq(mine, got, 4) & ct_memeq(mine + 8, got + 8, 8);
}

void ntlm_mac(const ntlm_keys *k, int dir, uint32_t seq, const uint8_t *buf, size_t buflen,
              uint8_t out[16])
{
    /* Same results as ntlm_mac_ess / ntlm_mac_noess, from the state ntlm_derive_keys kept:
     * RC4 of n bytes with a fresh schedule is XOR with the first n keystream bytes. */
    int d = dir ? 1 : 0;
    uint8_t s[4];
    wr32(s, seq);
    if (k->flags & NTLM_FL_ESS) {
        if ((k->flags & NTLM_FL_KEY_EXCH) && seq != NTLM_SEQ_SIP && seq != 0) {
            ntlm_mac_ess(k->sign[d], k->seal[d], seq, buf, buflen, out);
            return;
        }
        const uint8_t *ks = seq == 0 ? k->ks0[d] : k->ks100[d];
        /* ck = HMAC_MD5(SigningKey, SeqNum || Message)[0..7], the key setup reused */
        uint8_t h[16];
        ntlm_hmac_key_digest(&k->hmac[d], seq, buf, buflen, h);
        for (int i = 0; i < 8; i++)
            out[4 + i] = (k->flags & NTLM_FL_KEY_EXCH) ? (uint8_t)(h[i] ^ ks[i]) : h[i];
        wr32(out, 1);
        memcpy(out + 12, s, 4);
        secure_wipe(h, sizeof h);
    } else {
        mac_noess_ks(k->ks100[d], seq, buf, buflen, out); /* the seal key's keystream */
    }
}

/* ---- the per-message memo (several keys of one ESK over one message) ---- */

void ntlm_mac_memo_init(ntlm_mac_memo *m, const uint8_t *buf, size_t buflen)
{
    /* slots past n are never read: only the header is set (the memo lives on every verify) */
    m->buf = buf;
    m->buflen = buflen;
    m->have_crc = 0;
    m->crc = 0;
    m->n = 0;
}

void ntlm_mac_memo_clear(ntlm_mac_memo *m)
{
    /* one wipe from crc to the end of the used slots (n and the slots follow crc) */
    G_STATIC_ASSERT(offsetof(ntlm_mac_memo, crc) < offsetof(ntlm_mac_memo, slot));
    size_t from = offsetof(ntlm_mac_memo, crc);
    size_t to = offsetof(ntlm_mac_memo, slot) + m->n * sizeof m->slot[0];
    secure_wipe((uint8_t *)m + from, to - from);
    m->have_crc = 0;
}

static uint32_t memo_crc(ntlm_mac_memo *m)
{
    if (!m->have_crc) {
        m->crc = (uint32_t)crc32_z(0L, m->buflen ? m->buf : (const uint8_t *)"", m->buflen);
        m->have_crc = 1;
    }
    return m->crc;
}

/* Without ESS from a known CRC: as mac_noess_ks. */
static void mac_noess_crc(const uint8_t ks[12], uint32_t crc, uint32_t seq, uint8_t out[16])
{
    uint8_t plain[8];
    wr32(plain, crc);
    wr32(plain + 4, seq);
    wr32(out, 1);
    memset(out + 4, 0, 4);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(plain[i] ^ ks[4 + i]);
}

/* HMAC_MD5(key, LE32(seq) || buf)[0..7] for the key whose HMAC state is hk, from the memo or
 * computed and remembered. */
G_STATIC_ASSERT(sizeof(((struct md5_ctx *)0)->state) == 16);
static const uint8_t *memo_hmac(const ntlm_hmac_key *hk, uint32_t seq, ntlm_mac_memo *m)
{
    const uint32_t *in = hk->inner.state, *out = hk->outer.state;
    for (size_t i = 0; i < m->n; i++) {
        const uint32_t *k = m->slot[i].ks;
        if (m->slot[i].seq == seq &&
            ((k[0] ^ in[0]) | (k[1] ^ in[1]) | (k[2] ^ in[2]) | (k[3] ^ in[3]) |
             (k[4] ^ out[0]) | (k[5] ^ out[1]) | (k[6] ^ out[2]) | (k[7] ^ out[3])) == 0)
            return m->slot[i].h;
    }
    size_t i = m->n < NTLM_MEMO_SLOTS ? m->n++ : NTLM_MEMO_SLOTS - 1;
    uint8_t h[16];
    ntlm_hmac_key_digest(hk, seq, m->buf, m->buflen, h);
    memcpy(m->slot[i].ks, in, 16);
    memcpy(m->slot[i].ks + 4, out, 16);
    m->slot[i].seq = seq;
    memcpy(m->slot[i].h, h, 8);
    secure_wipe(h, sizeof h);
    return m->slot[i].h;
}

void ntlm_mac_m(const ntlm_keys *k, int dir, uint32_t seq, ntlm_mac_memo *m, uint8_t out[16])
{
    int d = dir ? 1 : 0;
    if (!(k->flags & NTLM_FL_ESS)) {
        mac_noess_crc(k->ks100[d], memo_crc(m), seq, out);
        return;
    }
    const uint8_t *h = memo_hmac(&k->hmac[d], seq, m);
    wr32(out, 1);
    wr32(out + 12, seq);
    if (!(k->flags & NTLM_FL_KEY_EXCH)) {
        memcpy(out + 4, h, 8);
    } else if (seq == NTLM_SEQ_SIP || seq == 0) {
        const uint8_t *ks = seq == 0 ? k->ks0[d] : k->ks100[d];
        for (int i = 0; i < 8; i++)
            out[4 + i] = (uint8_t)(h[i] ^ ks[i]);
    } else {
        /* ck = RC4(MD5(SealingKey || SeqNum), ck): a key schedule for this SeqNum */
        uint8_t s[4], rk[16];
        wr32(s, seq);
        md5_2(k->seal[d], 16, s, 4, rk);
        rc4(rk, 16, h, 8, out + 4);
        secure_wipe(rk, sizeof rk);
    }
}

void ntlm_mac_noess_alt_m(const ntlm_keys *k, int alt, uint32_t seq, ntlm_mac_memo *m,
                          uint8_t out[16])
{
    mac_noess_crc(k->ks_alt[alt], memo_crc(m), seq, out);
}

/* ---- one ExportedSessionKey under any flags (ntlm_ek) ---- */

enum {
    EK_HMAC0 = 1u << 0,  /* hmac[0]; hmac[1] is bit 1 */
    EK_KX0 = 1u << 2,    /* kx[s][d]: bit 2 + 2 * s + d */
    EK_ALT0 = 1u << 8,   /* alt[i]: bit 8 + i */
};

void ntlm_ek_init(ntlm_ek *e, const uint8_t esk[16])
{
    secure_wipe(e, sizeof *e);
    memcpy(e->esk, esk, 16);
}

void ntlm_ek_clear(ntlm_ek *e)
{
    secure_wipe(e, sizeof *e);
}

/* The HMAC state of direction d's signing key. */
static void ek_hmac(ntlm_ek *e, int d)
{
    if (e->have & (EK_HMAC0 << d))
        return;
    uint8_t sk[16];
    ntlm_sign_key(e->esk, d, sk);
    ntlm_hmac_key_set(&e->hmac[d], sk, 16);
    secure_wipe(sk, sizeof sk);
    e->have |= EK_HMAC0 << d;
}

/* KEY_EXCH strength of flags: 0 = 128, 1 = 56, 2 = 40 (ntlm_seal_key_ess's choice). */
static int kx_strength(uint32_t flags)
{
    return (flags & NTLM_FL_128) ? 0 : (flags & NTLM_FL_56) ? 1 : 2;
}

/* The first 8 bytes of the RC4 keystream of MD5(SealingKey(flags, d) || LE32(seq)). */
static void ess_seq_ks(const uint8_t esk[16], uint32_t flags, int d, uint32_t seq,
                       uint8_t out[8])
{
    static const uint8_t zero[8] = { 0 };
    uint8_t seal[16], s[4], rk[16];
    ntlm_seal_key_ess(esk, flags, d, seal);
    wr32(s, seq);
    md5_2(seal, 16, s, 4, rk);
    rc4(rk, 16, zero, 8, out);
    secure_wipe(seal, sizeof seal);
    secure_wipe(rk, sizeof rk);
}

/* The kept keystream for SeqNum 100 under flags (ESS with KEY_EXCH) and direction d. */
static const uint8_t *ek_kx(ntlm_ek *e, uint32_t flags, int d)
{
    int s = kx_strength(flags);
    uint32_t bit = EK_KX0 << (2 * s + d);
    if (!(e->have & bit)) {
        ess_seq_ks(e->esk, flags, d, NTLM_SEQ_SIP, e->kx[s][d]);
        e->have |= bit;
    }
    return e->kx[s][d];
}

/* The kept keystream of non-ESS seal-key choice alt. */
static const uint8_t *ek_alt(ntlm_ek *e, int alt)
{
    uint32_t bit = EK_ALT0 << alt;
    if (!(e->have & bit)) {
        static const uint32_t fl[3] = NTLM_NOESS_ALT_FLAGS;
        static const uint8_t zero[12] = { 0 };
        uint8_t ak[16];
        size_t al = ntlm_seal_key_noess(e->esk, fl[alt], ak);
        rc4(ak, al, zero, 12, e->alt[alt]);
        secure_wipe(ak, sizeof ak);
        e->have |= bit;
    }
    return e->alt[alt];
}

/* The ESS checksum field (8 bytes) under flags, direction d, SeqNum seq. */
static void ek_ess_ck(ntlm_ek *e, uint32_t flags, int d, uint32_t seq, ntlm_mac_memo *m,
                      uint8_t ck[8])
{
    ek_hmac(e, d);
    const uint8_t *h = memo_hmac(&e->hmac[d], seq, m);
    if (!(flags & NTLM_FL_KEY_EXCH)) {
        memcpy(ck, h, 8);
        return;
    }
    uint8_t tmp[8];
    const uint8_t *ks;
    if (seq == NTLM_SEQ_SIP) {
        ks = ek_kx(e, flags, d);
    } else {
        ess_seq_ks(e->esk, flags, d, seq, tmp);
        ks = tmp;
    }
    for (int i = 0; i < 8; i++)
        ck[i] = (uint8_t)(h[i] ^ ks[i]);
    secure_wipe(tmp, sizeof tmp);
}

void ntlm_ek_mac(ntlm_ek *e, uint32_t flags, int dir, uint32_t seq, ntlm_mac_memo *m,
                 uint8_t out[16])
{
    int d = dir ? 1 : 0;
    if (!(flags & NTLM_FL_ESS)) {
        /* one seal key serves both directions */
        mac_noess_crc(ek_alt(e, ntlm_noess_choice(flags)), memo_crc(m), seq, out);
        return;
    }
    wr32(out, 1);
    ek_ess_ck(e, flags, d, seq, m, out + 4);
    wr32(out + 12, seq);
}

void ntlm_ek_mac_noess_alt(ntlm_ek *e, int alt, uint32_t seq, ntlm_mac_memo *m,
                           uint8_t out[16])
{
    mac_noess_crc(ek_alt(e, alt), memo_crc(m), seq, out);
}

/* Non-ESS: 01000000 || pad || (CRC32 || SeqNum) XOR ks[4..11], compared on all but the pad
 * (ntlm_mac_equal). The SeqNum part is compared first: it needs no CRC, and when it differs the
 * answer is 0 whatever the CRC (it is no secret either: any valid signature shows ks[8..11]).
 * The rest is compared without branching on secret bytes, as ct_memeq does. */
static int noess_matches(const uint8_t ks[12], uint32_t seq, ntlm_mac_memo *m,
                         const uint8_t sig[16])
{
    if (rd32le(sig) != 1 || (rd32le(sig + 12) ^ rd32le(ks + 8)) != seq)
        return 0;
    uint32_t diff = rd32le(sig + 8) ^ rd32le(ks + 4) ^ memo_crc(m);
    return diff == 0;
}

/* The checksum of an ESS MAC (01000000 || ck || LE32(seq)) against the HMAC h of SeqNum ||
 * buffer: ck = h (no KEY_EXCH) or h XOR the SeqNum's keystream, compared 8 bytes at once. */
static int ess_ck_matches(ntlm_ek *e, uint32_t flags, int d, uint32_t seq, const uint8_t *h,
                          const uint8_t sig[16])
{
    uint64_t x = ld8((const char *)h) ^ ld8((const char *)sig + 4);
    if (!(flags & NTLM_FL_KEY_EXCH))
        return x == 0;
    /* the SeqNum 100 keystream is read from where the SA keeps it (no copy of it is made, so
     * there is none to wipe); another SeqNum's is made on the stack and wiped */
    if (seq == NTLM_SEQ_SIP)
        return (x ^ ld8((const char *)ek_kx(e, flags, d))) == 0;
    uint8_t ks[8];
    ess_seq_ks(e->esk, flags, d, seq, ks);
    int ok = (x ^ ld8((const char *)ks)) == 0;
    secure_wipe(ks, sizeof ks);
    return ok;
}

int ntlm_ek_matches(ntlm_ek *e, uint32_t flags, int dir, uint32_t seq, ntlm_mac_memo *m,
                    const uint8_t sig[16])
{
    if (!(flags & NTLM_FL_ESS))
        return noess_matches(ek_alt(e, ntlm_noess_choice(flags)), seq, m, sig);
    /* The MAC is 01000000 || ck || LE32(seq): the clear fields decide before any HMAC. */
    if (rd32le(sig) != 1 || rd32le(sig + 12) != seq)
        return 0;
    int d = dir ? 1 : 0;
    ek_hmac(e, d);
    return ess_ck_matches(e, flags, d, seq, memo_hmac(&e->hmac[d], seq, m), sig);
}

uint32_t ntlm_ek_match_mask(ntlm_ek *e, const uint32_t *fl, size_t n, uint32_t want, int first,
                            int dir, uint32_t seq, ntlm_mac_memo *m, const uint8_t sig[16])
{
    /* The checks of ntlm_ek_matches and noess_matches, with what they share done once. */
    if (n > 32)
        n = 32;
    if (rd32le(sig) != 1)
        return 0; /* every MAC starts 01000000 */
    int d = dir ? 1 : 0;
    uint32_t wire = rd32le(sig + 12);
    const uint8_t *h = NULL;
    uint32_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(want & 1u << i))
            continue;
        uint32_t f = fl[i];
        int ok;
        if (!(f & NTLM_FL_ESS)) {
            ok = noess_matches(ek_alt(e, ntlm_noess_choice(f)), seq, m, sig);
        } else if (wire != seq) {
            ok = 0;
        } else {
            if (!h) {
                ek_hmac(e, d);
                h = memo_hmac(&e->hmac[d], seq, m);
            }
            ok = ess_ck_matches(e, f, d, seq, h, sig);
        }
        if (ok) {
            out |= 1u << i;
            if (first)
                break;
        }
    }
    return out;
}

int ntlm_ek_noess_alt_matches(ntlm_ek *e, int alt, uint32_t seq, ntlm_mac_memo *m,
                              const uint8_t sig[16])
{
    return noess_matches(ek_alt(e, alt), seq, m, sig);
}
