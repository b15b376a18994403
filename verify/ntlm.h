/* ntlm.h - NTLM ([MS-NLMP]) message parsing, key derivation and the datagram MAC, as pure
 * functions over byte arrays (internal to the core; the mechanism is verify/mech_ntlm.c).
 *
 * Exposed for the unit tests (tests/unit/test_ntlm.c). Nothing here keeps state, prints, or
 * logs secrets. Crypto comes from nettle (MD4, MD5, HMAC-MD5, ARCFOUR, DES) and zlib (CRC32).
 *
 * Return values, in one phrasing for every function below that returns int:
 *   0   success, outputs filled;
 *   -1  input unusable (outputs undefined; *err, when present, is g_malloc'd text saying why).
 */
#ifndef MSSIPAE_NTLM_H
#define MSSIPAE_NTLM_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/md5.h>

/* NegotiateFlags ([MS-NLMP] 2.2.2.5). */
#define NTLM_FL_UNICODE          0x00000001u
#define NTLM_FL_OEM              0x00000002u
#define NTLM_FL_REQUEST_TARGET   0x00000004u
#define NTLM_FL_SIGN             0x00000010u
#define NTLM_FL_SEAL             0x00000020u
#define NTLM_FL_DATAGRAM         0x00000040u
#define NTLM_FL_LM_KEY           0x00000080u
#define NTLM_FL_NTLM             0x00000200u
#define NTLM_FL_ANONYMOUS        0x00000800u
#define NTLM_FL_ALWAYS_SIGN      0x00008000u
#define NTLM_FL_ESS              0x00080000u /* NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY */
#define NTLM_FL_IDENTIFY         0x00100000u
#define NTLM_FL_NON_NT_SESSION_KEY 0x00400000u /* NTLMSSP_REQUEST_NON_NT_SESSION_KEY */
#define NTLM_FL_TARGET_INFO      0x00800000u
#define NTLM_FL_VERSION          0x02000000u
#define NTLM_FL_128              0x20000000u
#define NTLM_FL_KEY_EXCH         0x40000000u
#define NTLM_FL_56               0x80000000u

/* AvId values ([MS-NLMP] 2.2.2.1). */
enum {
    NTLM_AV_EOL = 0,
    NTLM_AV_NB_COMPUTER = 1,
    NTLM_AV_NB_DOMAIN = 2,
    NTLM_AV_DNS_COMPUTER = 3,
    NTLM_AV_DNS_DOMAIN = 4,
    NTLM_AV_DNS_TREE = 5,
    NTLM_AV_FLAGS = 6,
    NTLM_AV_TIMESTAMP = 7,
    NTLM_AV_SINGLE_HOST = 8,
    NTLM_AV_TARGET_NAME = 9,
    NTLM_AV_CHANNEL_BINDINGS = 10,
};

#define NTLM_SEQ_SIP 100u /* [MS-SIPAE]: SeqNum is always 100 on the wire */

/* A parsed CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2). Strings are g_malloc'd UTF-8 (or NULL);
 * free with ntlm_challenge_clear. */
typedef struct {
    uint32_t flags;
    uint8_t server_challenge[8];
    char *target_name;        /* TargetName field, or NULL when empty */
    char *nb_domain;          /* from TargetInfo AV pairs, or NULL */
    char *nb_computer;
    char *dns_domain;
    char *dns_computer;
    int has_version;
    uint8_t version[8];
    char *av_problem;         /* TargetInfo could not be walked fully (the message is still usable) */
} ntlm_challenge;

/* A parsed AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3). Every buffer is an owned g_malloc'd copy
 * (never pointing into the token); free with ntlm_authenticate_clear. */
typedef struct {
    uint32_t flags;
    uint8_t *lm_resp;  size_t lm_len;   /* LmChallengeResponse */
    uint8_t *nt_resp;  size_t nt_len;   /* NtChallengeResponse */
    uint8_t *enc_key;  size_t enc_len;  /* EncryptedRandomSessionKey */
    char *domain, *user, *workstation;  /* UTF-8 for display and key lookup; never NULL */
    uint8_t *user16;   size_t user16_len;   /* UserName as UTF-16LE (as sent, or from OEM) */
    uint8_t *domain16; size_t domain16_len; /* DomainName as UTF-16LE */
    int oem;                            /* strings were OEM (interpreted as Latin-1) */
    int oem_non_ascii;                  /* ... and contained non-ASCII bytes */
    int has_version;
    uint8_t version[8];
    int mic_flag;        /* NTLMv2 blob MsvAvFlags bit 0x2: a MIC is present */
    char *av_problem;    /* NTLMv2 blob AV pairs could not be walked fully */
} ntlm_authenticate;

/* Parses a CHALLENGE_MESSAGE defensively: signature, type, every (len, maxlen, offset) field
 * bounds-checked, TargetInfo AV pairs walked. */
int ntlm_parse_challenge(const uint8_t *tok, size_t len, ntlm_challenge *out, char **err);
void ntlm_challenge_clear(ntlm_challenge *c);

/* Parses an AUTHENTICATE_MESSAGE defensively (same checks; UNICODE vs OEM strings). */
int ntlm_parse_authenticate(const uint8_t *tok, size_t len, ntlm_authenticate *out, char **err);
void ntlm_authenticate_clear(ntlm_authenticate *a);

/* Message type of a token: 1, 2, 3 when the signature "NTLMSSP\0" is present, else 0. */
uint32_t ntlm_message_type(const uint8_t *tok, size_t len);

/* Pull cursor over AV pairs (style: a cursor with a sticky error). */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t off;
    int done;            /* MsvAvEOL seen */
    const char *err;     /* static text once an error happened (sticky) */
} ntlm_av_cursor;

#define NTLM_AV_OK   0
#define NTLM_AV_END  1  /* MsvAvEOL reached */
#define NTLM_AV_ERR  (-1)

void ntlm_av_init(ntlm_av_cursor *c, const uint8_t *p, size_t len);
/* Next pair: NTLM_AV_OK with *id, *val (into the input), *vlen; NTLM_AV_END; or NTLM_AV_ERR
 * (c->err says why: truncated header, value past the end, no MsvAvEOL). */
int ntlm_av_next(ntlm_av_cursor *c, uint16_t *id, const uint8_t **val, size_t *vlen);

/* Human list of the interesting flags ("ESS, KEY_EXCH, 128, DATAGRAM, ..."); g_free it. */
char *ntlm_flags_describe(uint32_t flags);

/* ---- hashes and responses ([MS-NLMP] 3.3) ---- */

/* NTOWFv1 = MD4(UTF16LE(password)); password UTF-8. */
int ntlm_ntowfv1(const char *password, uint8_t out[16]);
/* LMOWFv1 = DES(UPPER(pw)[0..6], "KGS!@#$%") || DES(UPPER(pw)[7..13], "KGS!@#$%"), the password
 * as OEM bytes padded/truncated to 14. Only ASCII passwords (the OEM code page is unknown). */
int ntlm_lmowfv1(const char *password, uint8_t out[16]);
/* NTOWFv2 = HMAC_MD5(NTOWFv1, UTF16LE(UPPER(user) || domain)); user and domain as UTF-16LE
 * bytes (even lengths); UPPER is per code unit, as Windows does. */
int ntlm_ntowfv2_u16(const uint8_t nt_hash[16], const uint8_t *user16, size_t user16_len,
                     const uint8_t *domain16, size_t domain16_len, uint8_t out[16]);
/* Same, with UTF-8 user and domain. */
int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16]);
/* NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || temp), temp = NtChallengeResponse[16..]. */
void ntlm_ntproofstr(const uint8_t ntowfv2[16], const uint8_t server_challenge[8],
                     const uint8_t *temp, size_t temp_len, uint8_t out[16]);
/* NTLMv2 SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr). */
void ntlm_v2_session_base_key(const uint8_t ntowfv2[16], const uint8_t ntproofstr[16],
                              uint8_t out[16]);
/* LMv2 response = HMAC_MD5(NTOWFv2, ServerChallenge || ClientChallenge) || ClientChallenge. */
void ntlm_lmv2_response(const uint8_t ntowfv2[16], const uint8_t server_challenge[8],
                        const uint8_t client_challenge[8], uint8_t out[24]);
/* DESL(K, D) = DES(K[0..6], D) || DES(K[7..13], D) || DES(K[14..15] || Z(5), D)
 * ([MS-NLMP] 6). */
void ntlm_desl(const uint8_t key[16], const uint8_t data[8], uint8_t out[24]);
/* NTLMv1 NtChallengeResponse: DESL(NTOWFv1, ServerChallenge) or, with ESS,
 * DESL(NTOWFv1, MD5(ServerChallenge || ClientChallenge)[0..7]) where ClientChallenge =
 * LmChallengeResponse[0..7]; client_challenge is ignored (may be NULL) without ESS. */
void ntlm_v1_response(const uint8_t owf[16], const uint8_t server_challenge[8],
                      const uint8_t *client_challenge, int ess, uint8_t out[24]);
/* NTLMv1 SessionBaseKey = MD4(NTOWFv1). */
void ntlm_v1_session_base_key(const uint8_t nt_hash[16], uint8_t out[16]);

/* ---- key exchange and keys ([MS-NLMP] 3.4.5) ---- */

/* KXKEY for NTLMv1 ([MS-NLMP] 3.4.5.1), by flags:
 *   ESS:                 HMAC_MD5(SessionBaseKey, ServerChallenge || LmChallengeResponse[0..7])
 *   LM_KEY:              DES(LMOWF[0..6], LM[0..7]) || DES(LMOWF[7] || BDBDBDBDBDBD, LM[0..7])
 *   NON_NT_SESSION_KEY:  LMOWF[0..7] || Z(8)
 *   otherwise:           SessionBaseKey
 * lm_resp must hold 8 bytes for ESS and LM_KEY (NULL otherwise allowed); lmowf may be NULL
 * when not needed. Returns -1 when an input the flags need is missing (*err static text). */
int ntlm_v1_kxkey(uint32_t flags, const uint8_t session_base_key[16],
                  const uint8_t server_challenge[8], const uint8_t *lm_resp, size_t lm_len,
                  const uint8_t *lmowf, uint8_t out[16], const char **err);

/* ExportedSessionKey = KEY_EXCH ? RC4(KeyExchangeKey, EncryptedRandomSessionKey) : KXKEY. */
int ntlm_exported_session_key(uint32_t flags, const uint8_t kxkey[16], const uint8_t *enc_key,
                              size_t enc_len, uint8_t out[16]);

/* The HMAC-MD5 state of one key once the key is set up: nettle's inner and outer MD5 contexts
 * as hmac_md5_set_key leaves them (each after its 64-byte padded-key block). A message's HMAC
 * continues copies of them (ntlm_hmac_key_digest), so the key setup is done once per key; the
 * two contexts are all of struct hmac_md5_ctx a kept key needs (its third, the running state,
 * is per message). Secret. */
typedef struct {
    struct md5_ctx inner, outer;
} ntlm_hmac_key;

/* Sets up hk for key (HMAC-MD5 with nettle). */
void ntlm_hmac_key_set(ntlm_hmac_key *hk, const uint8_t *key, size_t keylen);
/* HMAC_MD5(key, LE32(seq) || buf) from the key's state hk (not changed). */
void ntlm_hmac_key_digest(const ntlm_hmac_key *hk, uint32_t seq, const uint8_t *buf,
                          size_t buflen, uint8_t out[16]);

/* The per-direction keys ([MS-NLMP] 3.4.5.2, 3.4.5.3), index 0 = client-to-server,
 * 1 = server-to-client (the values of mssipae_dir). */
typedef struct {
    uint32_t flags;          /* flags the keys were derived for */
    uint8_t esk[16];         /* ExportedSessionKey */
    uint8_t sign[2][16];     /* ESS: MD5(ESK || magic(dir, signing)); unused without ESS */
    uint8_t seal[2][16];     /* ESS: MD5(ESK[0..15|6|4] || magic(dir, sealing));
                                no ESS: one key for both directions, see ntlm_seal_key_noess */
    size_t seal_len;         /* bytes of seal[] used as RC4 key: 16 with ESS; 16 or 8 without */
    /* Per-direction state fixed by the keys, computed once by ntlm_derive_keys (issue 10):
     * ESS: the HMAC-MD5 key setup of sign[d] (ntlm_hmac_key), and with KEY_EXCH the first 8
     * bytes of the RC4 keystream of MD5(seal[d] || LE32(100)) (SeqNum 100 is [MS-SIPAE]'s
     * constant); no ESS: the first 12 bytes of the RC4 keystream of seal[0] (fresh per message,
     * so always the same). Secret: wiped with the struct. */
    ntlm_hmac_key hmac[2];
    uint8_t ks100[2][12];
    /* For the diagnostics of a wrong signature: ESS with KEY_EXCH, the keystream for SeqNum 0;
     * no ESS, the keystreams of the three seal-key choices of ntlm_seal_key_noess (full
     * 16-byte, 56-bit and 40-bit weakened: NTLM_NOESS_ALT_FLAGS order). */
    uint8_t ks0[2][8];
    uint8_t ks_alt[3][12];
} ntlm_keys;

/* SIGNKEY = MD5(ESK || "session key to <dir> signing key magic constant\0") */
void ntlm_sign_key(const uint8_t esk[16], int server_to_client, uint8_t out[16]);
/* SEALKEY (ESS) = MD5(ESK[0..n-1] || "session key to <dir> sealing key magic constant\0"),
 * n = 16 with NEGOTIATE_128, 7 with NEGOTIATE_56, else 5. */
void ntlm_seal_key_ess(const uint8_t esk[16], uint32_t flags, int server_to_client,
                       uint8_t out[16]);
/* SEALKEY without ESS ([MS-NLMP] 3.4.5.3): with LM_KEY the weakened ESK[0..6] || A0
 * (NEGOTIATE_56) or ESK[0..4] || E538B0, 8 bytes; otherwise the full 16-byte ESK. The
 * [MS-NLMP] weakening for DATAGRAM alone is NOT applied: real OCS 2007 signatures use the full
 * key ([MS-SIPAE] reference 6), and so does gss-ntlmssp. Returns the key length (8 or 16). */
size_t ntlm_seal_key_noess(const uint8_t esk[16], uint32_t flags, uint8_t out[16]);
/* The flags of the three non-ESS seal-key choices, in ks_alt order. */
#define NTLM_NOESS_ALT_FLAGS { 0, NTLM_FL_LM_KEY | NTLM_FL_56, NTLM_FL_LM_KEY }
/* ntlm_mac_noess with the seal key of choice alt (0..2) of k's ExportedSessionKey. */
void ntlm_mac_noess_alt(const ntlm_keys *k, int alt, uint32_t seq, const uint8_t *buf,
                        size_t buflen, uint8_t out[16]);
/* Fills *k for ExportedSessionKey esk under flags. */
void ntlm_derive_keys(const uint8_t esk[16], uint32_t flags, ntlm_keys *k);
/* The same result, taking from ref (keys of the same ExportedSessionKey under other flags, or
 * NULL) what no flag changes: with ESS the signing keys and their HMAC key schedules, without
 * ESS the keystreams of the three seal-key choices. ref is ignored when its ExportedSessionKey
 * differs or only one of the two is ESS. */
void ntlm_derive_keys_like(const uint8_t esk[16], uint32_t flags, const ntlm_keys *ref,
                           ntlm_keys *k);

/* ---- the MAC ([MS-NLMP] 3.4.4, datagram: RC4 re-keyed per message) ---- */

/* With ESS: 01000000 || ck || LE32(seq), ck = HMAC_MD5(sign_key, LE32(seq) || buf)[0..7], and
 * with KEY_EXCH (seal_key != NULL) ck = RC4(MD5(seal_key || LE32(seq)), ck). */
void ntlm_mac_ess(const uint8_t sign_key[16], const uint8_t *seal_key, uint32_t seq,
                  const uint8_t *buf, size_t buflen, uint8_t out[16]);
/* Without ESS: ks = RC4 keystream of seal_key (fresh), out = 01000000 || 00000000 ||
 * (LE32(CRC32(buf)) ^ ks[4..7]) || (LE32(seq) ^ ks[8..11]); the pad field is left zero. */
void ntlm_mac_noess(const uint8_t *seal_key, size_t seal_len, uint32_t seq,
                    const uint8_t *buf, size_t buflen, uint8_t out[16]);
/* Compares a computed MAC with a received one: ESS all 16 bytes; without ESS version,
 * checksum and SeqNum (bytes 0..3 and 8..15; the pad field is ignored). 1 when equal. */
int ntlm_mac_equal(const uint8_t mine[16], const uint8_t got[16], int ess);

/* The MAC under keys k for direction dir (0 C2S, 1 S2C) with sequence number seq. */
void ntlm_mac(const ntlm_keys *k, int dir, uint32_t seq, const uint8_t *buf, size_t buflen,
              uint8_t out[16]);

/* ---- one message checked under several keys of one ExportedSessionKey ----
 * What the MACs of one message share, computed at most once per message: the CRC32 of the
 * message (every non-ESS key) and HMAC_MD5(SigningKey, LE32(seq) || message) per signing key and
 * SeqNum (the signing key does not depend on the flags, so every ESS flag variant shares it).
 * Slots are told apart by the key schedule, so keys of several ExportedSessionKeys may share m.
 * Results are those of ntlm_mac / ntlm_mac_noess_alt. Wipe with ntlm_mac_memo_clear. */
#define NTLM_MEMO_SLOTS 6
typedef struct {
    const uint8_t *buf;
    size_t buflen;
    int have_crc;
    uint32_t crc;
    size_t n;                       /* HMAC slots used */
    struct {
        uint32_t ks[8];             /* the state words of the signing key's ntlm_hmac_key
                                       (inner, outer): HMAC_MD5 depends on the key through
                                       them alone */
        uint32_t seq;
        uint8_t h[8];               /* HMAC_MD5(sign, LE32(seq) || buf)[0..7] */
    } slot[NTLM_MEMO_SLOTS];
} ntlm_mac_memo;

void ntlm_mac_memo_init(ntlm_mac_memo *m, const uint8_t *buf, size_t buflen);
void ntlm_mac_memo_clear(ntlm_mac_memo *m);
/* ntlm_mac(k, dir, seq, m->buf, m->buflen, out), sharing work through m. */
void ntlm_mac_m(const ntlm_keys *k, int dir, uint32_t seq, ntlm_mac_memo *m, uint8_t out[16]);
/* ntlm_mac_noess_alt(k, alt, seq, m->buf, m->buflen, out), sharing the CRC through m. */
void ntlm_mac_noess_alt_m(const ntlm_keys *k, int alt, uint32_t seq, ntlm_mac_memo *m,
                          uint8_t out[16]);

/* ---- one ExportedSessionKey under any flags, compactly (issue 10) ----
 * What the MACs of every flag set of one ExportedSessionKey need, each piece derived when first
 * needed and kept: per direction the HMAC-MD5 state of the signing key (ntlm_hmac_key, nettle's
 * inner and outer MD5 contexts), per KEY_EXCH strength (128, 56, 40) and
 * direction the first 8 bytes of the RC4 keystream for SeqNum 100, and the first 12 bytes of
 * the keystreams of the three non-ESS seal-key choices (NTLM_NOESS_ALT_FLAGS order). Other
 * SeqNums recompute their keystream. ~500 bytes (384 of them the two HMAC states) instead of one
 * 560-byte ntlm_keys per flag set.
 * Results equal those of ntlm_mac / ntlm_mac_noess_alt with ntlm_derive_keys(esk, flags).
 * Secret: wipe with ntlm_ek_clear. */
typedef struct {
    uint8_t esk[16];
    uint32_t have;                   /* NTLM_EK_* bits of what is derived */
    ntlm_hmac_key hmac[2];           /* the signing keys' HMAC-MD5 state, per direction */
    uint8_t kx[3][2][8];             /* [strength: 128, 56, 40][dir] keystream for SeqNum 100 */
    uint8_t alt[3][12];              /* non-ESS keystreams */
} ntlm_ek;

void ntlm_ek_init(ntlm_ek *e, const uint8_t esk[16]);
void ntlm_ek_clear(ntlm_ek *e);
/* The index (0..2, NTLM_NOESS_ALT_FLAGS order) of the non-ESS seal key flags choose. */
int ntlm_noess_choice(uint32_t flags);
/* ntlm_mac(ntlm_derive_keys(e->esk, flags), dir, seq, m->buf, m->buflen, out), through m. */
void ntlm_ek_mac(ntlm_ek *e, uint32_t flags, int dir, uint32_t seq, ntlm_mac_memo *m,
                 uint8_t out[16]);
/* ntlm_mac_noess_alt(ntlm_derive_keys(e->esk, any), alt, seq, ...), through m. */
void ntlm_ek_mac_noess_alt(ntlm_ek *e, int alt, uint32_t seq, ntlm_mac_memo *m,
                           uint8_t out[16]);
/* ntlm_mac_equal(ntlm_ek_mac(e, flags, dir, seq, m), sig, flags & ESS), computing only what
 * can change the answer: with ESS the MAC ends in LE32(seq), so a signature carrying another
 * SeqNum cannot match and no HMAC is computed; without ESS the CRC is computed only when the
 * encrypted SeqNum field matches. */
int ntlm_ek_matches(ntlm_ek *e, uint32_t flags, int dir, uint32_t seq, ntlm_mac_memo *m,
                    const uint8_t sig[16]);
/* Bit i set when ntlm_ek_matches(e, fl[i], dir, seq, m, sig), for each i < n (n <= 32) with bit
 * i of want set; the others are not evaluated (0). With first, stops at the lowest set bit
 * (lazy derivation: the later flag sets derive nothing). One pass over the flag sets sharing
 * the clear-field checks and the HMAC (issue 10). */
uint32_t ntlm_ek_match_mask(ntlm_ek *e, const uint32_t *fl, size_t n, uint32_t want, int first,
                            int dir, uint32_t seq, ntlm_mac_memo *m, const uint8_t sig[16]);
/* The same for the non-ESS seal-key choice alt. */
int ntlm_ek_noess_alt_matches(ntlm_ek *e, int alt, uint32_t seq, ntlm_mac_memo *m,
                              const uint8_t sig[16]);

#endif
