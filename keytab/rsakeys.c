/* rsakeys.c - loading TLS-DSK server RSA keys (PEM, DER, PKCS#12) with GnuTLS; certificate
 * facts (subject, thumbprint, key id) for choosing a key. Contract in rsakeys.h. */
#include "keytab/rsakeys.h"
#include "keytab/secure.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

struct rsakey {
    gnutls_privkey_t pk;
    uint8_t id[RSAKEY_ID_LEN];
};

/* Reads a regular file of at most RSAKEY_MAX_FILE bytes without ever blocking; NULL + *why. */
static uint8_t *read_key_file(const char *path, size_t *len, char **why)
{
    uint8_t *b = secure_read_file(path, RSAKEY_MAX_FILE, len, why);
    if (!b && *why && g_str_has_prefix(*why, "larger than")) {
        g_free(*why);
        *why = g_strdup_printf("larger than %u bytes: not a key file", RSAKEY_MAX_FILE);
    }
    return b;
}

/* Text of a GnuTLS error that concerns the password, or the library's message. */
static const char *gnutls_why(int rc)
{
    switch (rc) {
    case GNUTLS_E_DECRYPTION_FAILED:
    case GNUTLS_E_MAC_VERIFY_FAILED:
        return "wrong or missing password";
    default:
        return gnutls_strerror(rc);
    }
}

/* Parses data as a PKCS#12 structure (no password needed for that); NULL when it is not one. */
static gnutls_pkcs12_t pkcs12_parse(const gnutls_datum_t *d, gnutls_x509_crt_fmt_t fmt)
{
    gnutls_pkcs12_t p12;
    if (gnutls_pkcs12_init(&p12) < 0)
        return NULL;
    if (gnutls_pkcs12_import(p12, d, fmt, 0) < 0) {
        gnutls_pkcs12_deinit(p12);
        return NULL;
    }
    return p12;
}

/* The private key of a PKCS#12 file. The MAC check tells a wrong password from a damaged file;
 * "no password" is tried as the empty string and as no password at all, since exporters
 * differ (Windows and OpenSSL write an empty-password MAC, others none). */
static int pkcs12_key(gnutls_pkcs12_t p12, const char *password, gnutls_x509_privkey_t *key)
{
    const char *tries[2] = { password, NULL };
    int ntries = 1;
    if (!password || !*password) {
        tries[0] = "";
        tries[1] = NULL;
        ntries = 2;
    }
    int rc = GNUTLS_E_MAC_VERIFY_FAILED;
    for (int i = 0; i < ntries && rc < 0; i++) {
        rc = gnutls_pkcs12_verify_mac(p12, tries[i]);
        if (rc >= 0) {
            gnutls_x509_crt_t *chain = NULL;
            unsigned chain_len = 0;
            rc = gnutls_pkcs12_simple_parse(p12, tries[i], key, &chain, &chain_len, NULL, NULL,
                                            NULL, 0);
            for (unsigned j = 0; j < chain_len; j++)
                gnutls_x509_crt_deinit(chain[j]);
            gnutls_free(chain);
        }
    }
    return rc;
}

rsakey *rsakey_load(const char *path, const char *password, char **why)
{
    *why = NULL;
    if (!path || !*path) {
        *why = g_strdup("TLS-DSK key: no file name");
        return NULL;
    }
    size_t len = 0;
    char *rwhy = NULL;
    uint8_t *data = read_key_file(path, &len, &rwhy);
    if (!data) {
        *why = g_strdup_printf("TLS-DSK key %s: %s", path, rwhy);
        g_free(rwhy);
        return NULL;
    }
    const char *pw = password && *password ? password : NULL;
    gnutls_datum_t d = { data, (unsigned)len };
    int pem = g_strstr_len((const char *)data, (gssize)len, "-----BEGIN ") != NULL;
    gnutls_x509_crt_fmt_t fmt = pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
    gnutls_x509_privkey_t xk = NULL;
    rsakey *k = NULL;
    const char *fail = NULL;
    int rc;

    gnutls_pkcs12_t p12 = pem && !g_strstr_len((const char *)data, (gssize)len, "-----BEGIN PKCS12")
                              ? NULL : pkcs12_parse(&d, fmt);
    if (p12) {
        /* PKCS#12 (.pfx), as exported from the Windows certificate store */
        rc = pkcs12_key(p12, pw, &xk);
        gnutls_pkcs12_deinit(p12);
        if (rc < 0) {
            xk = NULL;
            fail = rc == GNUTLS_E_MAC_VERIFY_FAILED || rc == GNUTLS_E_DECRYPTION_FAILED
                ? "PKCS#12: wrong or missing password" : gnutls_strerror(rc);
            goto out;
        }
    } else {
        /* PKCS#1 or PKCS#8 (plain or encrypted, PEM or DER); legacy encrypted PEM too */
        rc = gnutls_x509_privkey_init(&xk);
        if (rc >= 0)
            rc = gnutls_x509_privkey_import2(xk, &d, fmt, pw, pw ? 0 : GNUTLS_PKCS_PLAIN);
        if (rc < 0) {
            if (rc == GNUTLS_E_DECRYPTION_FAILED || rc == GNUTLS_E_MAC_VERIFY_FAILED)
                fail = gnutls_why(rc);
            else if (!pw && g_strstr_len((const char *)data, (gssize)len, "ENCRYPTED"))
                fail = "the key is encrypted: give its password";
            else
                fail = pem ? "no private key in this PEM file (PKCS#1 or PKCS#8 expected)"
                           : "neither a DER private key nor a PKCS#12 file";
            goto out;
        }
    }
    if (gnutls_x509_privkey_get_pk_algorithm(xk) != GNUTLS_PK_RSA) {
        fail = "not an RSA key (TLS-DSK needs the server's RSA key)";
        goto out;
    }
    k = g_new0(rsakey, 1);
    size_t idlen = sizeof(k->id);
    rc = gnutls_x509_privkey_get_key_id(xk, GNUTLS_KEYID_USE_SHA1, k->id, &idlen);
    if (rc >= 0 && idlen == RSAKEY_ID_LEN)
        rc = gnutls_privkey_init(&k->pk);
    else if (rc >= 0)
        rc = GNUTLS_E_INTERNAL_ERROR;
    if (rc >= 0) {
        rc = gnutls_privkey_import_x509(k->pk, xk, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
        if (rc >= 0)
            xk = NULL; /* owned by k->pk now */
    }
    if (rc < 0) {
        fail = gnutls_strerror(rc);
        rsakey_free(k);
        k = NULL;
    }
out:
    if (xk)
        gnutls_x509_privkey_deinit(xk);
    secure_free_file(data, len);
    if (!k)
        *why = g_strdup_printf("TLS-DSK key %s: %s", path, fail ? fail : "unusable");
    return k;
}

void rsakey_free(rsakey *k)
{
    if (!k)
        return;
    if (k->pk)
        gnutls_privkey_deinit(k->pk);
    g_free(k);
}

const uint8_t *rsakey_id(const rsakey *k)
{
    return k->id;
}

int rsakey_decrypt_pms(const rsakey *k, const uint8_t *ct, size_t ctlen, uint16_t client_version,
                       uint16_t negotiated_version, uint8_t pms[48], const char **why)
{
    gnutls_datum_t c = { (unsigned char *)ct, (unsigned)ctlen }, p = { NULL, 0 };
    if (ctlen == 0 || ctlen > 2048) {
        *why = "the encrypted pre-master secret has an impossible length";
        return -1;
    }
    if (gnutls_privkey_decrypt_data(k->pk, 0, &c, &p) < 0) {
        *why = "RSA decryption of the pre-master secret failed (bad padding: not this key)";
        return -1;
    }
    int rc = -1;
    if (p.size != 48) {
        *why = "the decrypted pre-master secret is not 48 bytes";
    } else if (((uint16_t)((p.data[0] << 8) | p.data[1])) != client_version &&
               ((uint16_t)((p.data[0] << 8) | p.data[1])) != negotiated_version) {
        *why = "the decrypted pre-master secret does not start with the ClientHello version";
    } else {
        memcpy(pms, p.data, 48);
        rc = 0;
    }
    secure_wipe(p.data, p.size);
    gnutls_free(p.data);
    return rc;
}

int tls_cert_info_read(const uint8_t *der, size_t len, tls_cert_info *out)
{
    memset(out, 0, sizeof(*out));
    uint8_t sha1[20];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, der, len, sha1) >= 0)
        for (int i = 0; i < 20; i++)
            g_snprintf(out->thumbprint + 2 * i, 3, "%02X", sha1[i]);
    out->subject = g_strdup("");
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    gnutls_datum_t d = { (unsigned char *)der, (unsigned)len };
    int rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
    if (rc >= 0) {
        gnutls_datum_t dn = { NULL, 0 };
        if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0 && dn.data) {
            g_free(out->subject);
            /* keep it printable: control bytes would upset the tree and the expert text */
            out->subject = g_strndup((const char *)dn.data, dn.size);
            for (char *s = out->subject; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                    *s = '?';
            gnutls_free(dn.data);
        }
        size_t idlen = sizeof(out->key_id);
        if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, out->key_id, &idlen) >= 0 &&
            idlen == RSAKEY_ID_LEN)
            out->has_key_id = 1;
        out->is_rsa = gnutls_x509_crt_get_pk_algorithm(crt, NULL) == GNUTLS_PK_RSA;
    }
    gnutls_x509_crt_deinit(crt);
    return rc >= 0 ? 0 : -1;
}

void tls_cert_info_clear(tls_cert_info *ci)
{
    g_free(ci->subject);
    memset(ci, 0, sizeof(*ci));
}
