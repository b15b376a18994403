/* tls_suites.h - what the TLS-DSK verifier needs to know about TLS versions and cipher suites:
 * the key exchange (does the server's RSA key recover the pre-master secret?), the record MAC
 * hash (the TLS-DSK HMAC of the documented TLS 1.0 case) and the TLS 1.2 PRF hash (RFC 5246
 * 5, RFC 5288 3, RFC 5289 3: SHA-384 for *_SHA384 suites, SHA-256 otherwise).
 *
 * One table row per suite; an id missing from the table is "unknown suite" (unsupported).
 */
#ifndef MSSIPAE_TLS_SUITES_H
#define MSSIPAE_TLS_SUITES_H

#include <stddef.h>
#include <stdint.h>

#define TLS_V10 0x0301
#define TLS_V11 0x0302
#define TLS_V12 0x0303
#define TLS_V13 0x0304

typedef enum {
    TLS_KX_RSA = 0, /* pre-master secret encrypted to the server's RSA key */
    TLS_KX_DHE,     /* ephemeral Diffie-Hellman: the server's key only signs */
    TLS_KX_ECDHE,   /* ephemeral elliptic-curve Diffie-Hellman */
} tls_kx;

/* Hash functions used as HMAC / PRF hash; the value doubles as an index into name tables. */
typedef enum {
    TLS_H_NONE = 0, /* AEAD suites have no record MAC */
    TLS_H_MD5,
    TLS_H_SHA1,
    TLS_H_SHA256,
    TLS_H_SHA384,
} tls_hash;

typedef struct {
    uint16_t id;
    const char *name; /* IANA name */
    tls_kx kx;
    tls_hash mac;     /* record MAC hash, TLS_H_NONE for AEAD */
    tls_hash prf12;   /* PRF hash under TLS 1.2 (SHA-256 or SHA-384) */
} tls_suite;

/* The row for a suite id, or NULL when the suite is not in the table. */
const tls_suite *tls_suite_find(uint16_t id);

/* "TLS 1.0" ... "TLS 1.3", "SSL 3.0", or NULL for other values. */
const char *tls_version_name(uint16_t v);

/* "MD5", "SHA1", "SHA256", "SHA384" ("none" for TLS_H_NONE). */
const char *tls_hash_name(tls_hash h);

/* Output length in bytes (0 for TLS_H_NONE). */
size_t tls_hash_len(tls_hash h);

/* The hash whose HMAC output is len bytes (16 MD5, 20 SHA1, 32 SHA256, 48 SHA384), or
 * TLS_H_NONE. */
tls_hash tls_hash_by_len(size_t len);

#endif
