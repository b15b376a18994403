/* rsakeys.h - TLS-DSK server RSA private keys and the X.509 facts needed to pick one.
 *
 * A key is read from one file: PEM PKCS#1 ("RSA PRIVATE KEY"), PEM PKCS#8 ("PRIVATE KEY", or
 * "ENCRYPTED PRIVATE KEY" with its password), DER PKCS#1/PKCS#8, or PKCS#12 (.pfx as exported
 * from the Windows certificate store) with its password. The key is chosen for a handshake by
 * its key id (SHA-1 of the SubjectPublicKeyInfo, gnutls_x509_*_get_key_id) compared with the
 * server certificate's, never by trial decryption.
 *
 * Files are checked before they are opened (stat: regular file, at most RSAKEY_MAX_FILE bytes)
 * and opened non-blocking, so a FIFO or device named by mistake never blocks the dissector.
 */
#ifndef MSSIPAE_RSAKEYS_H
#define MSSIPAE_RSAKEYS_H

#include <stddef.h>
#include <stdint.h>

#define RSAKEY_MAX_FILE (1024u * 1024u)
#define RSAKEY_ID_LEN 20

typedef struct rsakey rsakey;

/* Loads the key in path (password may be NULL or "" for none). On failure returns NULL and
 * sets *why (g_malloc'd, names the file and the reason, never the password). */
rsakey *rsakey_load(const char *path, const char *password, char **why);
void rsakey_free(rsakey *k);

/* SHA-1 key id of the public key (what a matching certificate's key id equals). */
const uint8_t *rsakey_id(const rsakey *k);

/* Decrypts an RSA PKCS#1 v1.5 EncryptedPreMasterSecret (RFC 5246 7.4.7.1). Returns 0 and the
 * 48 bytes in pms when the padding is good, the plaintext is 48 bytes and starts with the
 * ClientHello's client_version bytes, or with the negotiated version (the old client bug RFC
 * 5246 7.4.7.1 mentions); -1 otherwise (*why static text). No secret is printed. */
int rsakey_decrypt_pms(const rsakey *k, const uint8_t *ct, size_t ctlen, uint16_t client_version,
                       uint16_t negotiated_version, uint8_t pms[48], const char **why);

/* What a certificate says, for matching and for the tree. */
typedef struct {
    char *subject;            /* RFC 4514 DN (g_malloc'd), "" when unreadable */
    char thumbprint[41];      /* SHA-1 of the DER, upper-case hex (as Windows shows it) */
    uint8_t key_id[RSAKEY_ID_LEN];
    int has_key_id;           /* 0 when the certificate could not be parsed */
    int is_rsa;               /* its public key is RSA */
} tls_cert_info;

/* Fills *out from a DER certificate; returns 0, or -1 when it is not a certificate (the
 * thumbprint is still set then). Free with tls_cert_info_clear. */
int tls_cert_info_read(const uint8_t *der, size_t len, tls_cert_info *out);
void tls_cert_info_clear(tls_cert_info *ci);

#endif
