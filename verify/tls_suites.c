/* tls_suites.c - the cipher-suite table (RFC 5246 A.5, RFC 4492, RFC 5288, RFC 5289, RFC 7905).
 *
 * Only suites a SIP client or server can plausibly negotiate over an RSA certificate are listed
 * (RSA, DHE_RSA, ECDHE_RSA, ECDHE_ECDSA); PSK, SRP, anonymous and Kerberos suites are unknown,
 * and reported as such.
 */
#include "verify/tls_suites.h"

#include <glib.h>

static const tls_suite suites[] = {
    /* RSA key exchange: the server's private key recovers the pre-master secret */
    { 0x0001, "TLS_RSA_WITH_NULL_MD5", TLS_KX_RSA, TLS_H_MD5, TLS_H_SHA256 },
    { 0x0002, "TLS_RSA_WITH_NULL_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", TLS_KX_RSA, TLS_H_MD5, TLS_H_SHA256 },
    { 0x0004, "TLS_RSA_WITH_RC4_128_MD5", TLS_KX_RSA, TLS_H_MD5, TLS_H_SHA256 },
    { 0x0005, "TLS_RSA_WITH_RC4_128_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x003B, "TLS_RSA_WITH_NULL_SHA256", TLS_KX_RSA, TLS_H_SHA256, TLS_H_SHA256 },
    { 0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", TLS_KX_RSA, TLS_H_SHA256, TLS_H_SHA256 },
    { 0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", TLS_KX_RSA, TLS_H_SHA256, TLS_H_SHA256 },
    { 0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", TLS_KX_RSA, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", TLS_KX_RSA, TLS_H_NONE, TLS_H_SHA256 },
    { 0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", TLS_KX_RSA, TLS_H_NONE, TLS_H_SHA384 },
    /* DHE_RSA */
    { 0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", TLS_KX_DHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", TLS_KX_DHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", TLS_KX_DHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", TLS_KX_DHE, TLS_H_SHA256, TLS_H_SHA256 },
    { 0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", TLS_KX_DHE, TLS_H_SHA256, TLS_H_SHA256 },
    { 0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", TLS_KX_DHE, TLS_H_NONE, TLS_H_SHA256 },
    { 0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", TLS_KX_DHE, TLS_H_NONE, TLS_H_SHA384 },
    { 0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLS_KX_DHE, TLS_H_NONE, TLS_H_SHA256 },
    /* ECDHE */
    { 0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", TLS_KX_ECDHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", TLS_KX_ECDHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", TLS_KX_ECDHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", TLS_KX_ECDHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", TLS_KX_ECDHE, TLS_H_SHA1, TLS_H_SHA256 },
    { 0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", TLS_KX_ECDHE, TLS_H_SHA256, TLS_H_SHA256 },
    { 0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", TLS_KX_ECDHE, TLS_H_SHA384, TLS_H_SHA384 },
    { 0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", TLS_KX_ECDHE, TLS_H_SHA256, TLS_H_SHA256 },
    { 0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", TLS_KX_ECDHE, TLS_H_SHA384, TLS_H_SHA384 },
    { 0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TLS_KX_ECDHE, TLS_H_NONE, TLS_H_SHA256 },
    { 0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", TLS_KX_ECDHE, TLS_H_NONE, TLS_H_SHA384 },
    { 0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", TLS_KX_ECDHE, TLS_H_NONE, TLS_H_SHA256 },
    { 0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", TLS_KX_ECDHE, TLS_H_NONE, TLS_H_SHA384 },
    { 0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", TLS_KX_ECDHE, TLS_H_NONE, TLS_H_SHA256 },
    { 0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", TLS_KX_ECDHE, TLS_H_NONE, TLS_H_SHA256 },
};

const tls_suite *tls_suite_find(uint16_t id)
{
    for (size_t i = 0; i < G_N_ELEMENTS(suites); i++)
        if (suites[i].id == id)
            return &suites[i];
    return NULL;
}

const char *tls_version_name(uint16_t v)
{
    switch (v) {
    case 0x0300: return "SSL 3.0";
    case TLS_V10: return "TLS 1.0";
    case TLS_V11: return "TLS 1.1";
    case TLS_V12: return "TLS 1.2";
    case TLS_V13: return "TLS 1.3";
    default: return NULL;
    }
}

const char *tls_hash_name(tls_hash h)
{
    static const char *const names[] = { "none", "MD5", "SHA1", "SHA256", "SHA384" };
    return (size_t)h < G_N_ELEMENTS(names) ? names[h] : "none";
}

size_t tls_hash_len(tls_hash h)
{
    static const size_t lens[] = { 0, 16, 20, 32, 48 };
    return (size_t)h < G_N_ELEMENTS(lens) ? lens[h] : 0;
}

tls_hash tls_hash_by_len(size_t len)
{
    switch (len) {
    case 16: return TLS_H_MD5;
    case 20: return TLS_H_SHA1;
    case 32: return TLS_H_SHA256;
    case 48: return TLS_H_SHA384;
    default: return TLS_H_NONE;
    }
}
