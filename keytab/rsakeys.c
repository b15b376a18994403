/* rsakeys.c - loading TLS-DSK server RSA keys (PEM, DER, PKCS#12) with GnuTLS; certificate
 * facts (subject, thumbprint, key id) for choosing a key. Contract in rsakeys.h.
 *
 * Decryption (issue 10): GnuTLS decrypts with nettle's side-channel-silent, blinded RSA
 * (rsa_decrypt_tr: mpn_sec_invert for the blinding factor, mpn_sec_powm), about 20 M
 * instructions per pre-master secret. This is an offline verifier of recorded handshakes, where
 * nobody can time the computation, so the key's CRT parameters are kept as GMP integers and the
 * root is computed with plain mpz_powm (about 7 M instructions; 1.7 ms -> 0.8 ms measured) and
 * checked against the public exponent before its padding is read. Whatever is not the plain case
 * (a ciphertext that is not one modulus long, zero or not below the modulus, a key whose CRT
 * parameters do not check out, a root that does not verify) goes to GnuTLS as before, so the
 * outcome is GnuTLS's in every case; the PKCS#1 v1.5 check below is the one nettle makes. */
#include "keytab/rsakeys.h"
#include "keytab/secure.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <gmp.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

struct rsakey {
    gnutls_privkey_t pk;
    uint8_t id[RSAKEY_ID_LEN];
    int crt;                  /* the CRT parameters below are set and consistent */
    size_t k;                 /* length of the modulus in bytes */
    mpz_t n, e, p, q, dp, dq, qinv; /* qinv = q^-1 mod p */
};

/* Zeroes an integer's limbs (a secret) before it is cleared. */
static void mpz_wipe_clear(mpz_t z)
{
    size_t n = mpz_size(z);
    if (n)
        secure_wipe(mpz_limbs_modify(z, (mp_size_t)n), n * sizeof(mp_limb_t));
    mpz_clear(z);
}

static void datum_wipe(gnutls_datum_t *d)
{
    if (d->data) {
        secure_wipe(d->data, d->size);
        gnutls_free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

/* Keeps the CRT parameters of xk (an RSA key) in k; k->crt stays 0 when GnuTLS does not give
 * them or they do not agree with each other (n = p q, q invertible mod p): GnuTLS's own
 * decryption is used then. */
static void crt_import(rsakey *k, gnutls_x509_privkey_t xk)
{
    gnutls_datum_t dm = { 0 }, de = { 0 }, dd = { 0 }, dp = { 0 }, dq = { 0 }, du = { 0 },
                   de1 = { 0 }, de2 = { 0 };
    mpz_t *all[] = { &k->n, &k->e, &k->p, &k->q, &k->dp, &k->dq, &k->qinv };
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        mpz_init(*all[i]);
    k->crt = 0;
    if (gnutls_x509_privkey_export_rsa_raw2(xk, &dm, &de, &dd, &dp, &dq, &du, &de1, &de2) < 0)
        return;
    const gnutls_datum_t *src[] = { &dm, &de, &dp, &dq, &de1, &de2 };
    mpz_t *dst[] = { &k->n, &k->e, &k->p, &k->q, &k->dp, &k->dq };
    for (size_t i = 0; i < G_N_ELEMENTS(src); i++)
        mpz_import(*dst[i], src[i]->size, 1, 1, 0, 0, src[i]->data);
    gnutls_datum_t *d[] = { &dm, &de, &dd, &dp, &dq, &du, &de1, &de2 };
    for (size_t i = 0; i < G_N_ELEMENTS(d); i++)
        datum_wipe(d[i]);
    mpz_t pq;
    mpz_init(pq);
    mpz_mul(pq, k->p, k->q);
    int ok = mpz_cmp_ui(k->p, 1) > 0 && mpz_cmp_ui(k->q, 1) > 0 && mpz_cmp(pq, k->n) == 0 &&
             mpz_sgn(k->e) > 0 && mpz_sgn(k->dp) > 0 && mpz_sgn(k->dq) > 0 &&
             mpz_invert(k->qinv, k->q, k->p) != 0;
    mpz_clear(pq);
    if (ok) {
        k->k = (mpz_sizeinbase(k->n, 2) + 7) / 8;
        k->crt = 1;
    }
}

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
    crt_import(k, xk);
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
    mpz_t *all[] = { &k->n, &k->e, &k->p, &k->q, &k->dp, &k->dq, &k->qinv };
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        mpz_wipe_clear(*all[i]);
    g_free(k);
}

const uint8_t *rsakey_id(const rsakey *k)
{
    return k->id;
}

/* The RSA root of ct with the CRT parameters, as k->k big-endian bytes in em: 1; or 0 when this
 * is not the plain case (see the top of this file) and GnuTLS must decide. */
static int crt_root(const rsakey *k, const uint8_t *ct, size_t ctlen, uint8_t *em)
{
    if (!k->crt || ctlen != k->k)
        return 0;
    size_t bits = 2 * mpz_sizeinbase(k->n, 2) + 2 * GMP_NUMB_BITS;
    mpz_t c, m1, m2, h, chk;
    mpz_t *all[] = { &c, &m1, &m2, &h, &chk };
    /* sized once: no reallocation leaves a copy of a secret in freed memory */
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        mpz_init2(*all[i], bits);
    int ok = 0;
    mpz_import(c, ctlen, 1, 1, 0, 0, ct);
    if (mpz_sgn(c) > 0 && mpz_cmp(c, k->n) < 0) {
        mpz_powm(m1, c, k->dp, k->p);  /* m1 = c^dp mod p */
        mpz_powm(m2, c, k->dq, k->q);  /* m2 = c^dq mod q */
        mpz_sub(h, m1, m2);
        mpz_mul(h, h, k->qinv);
        mpz_mod(h, h, k->p);           /* h = qinv (m1 - m2) mod p */
        mpz_mul(h, h, k->q);
        mpz_add(h, h, m2);             /* m = m2 + h q */
        mpz_powm(chk, h, k->e, k->n);  /* the root must give the ciphertext back */
        if (mpz_cmp(chk, c) == 0 && mpz_sizeinbase(h, 256) <= k->k) {
            size_t n = 0, len = (mpz_sizeinbase(h, 2) + 7) / 8;
            memset(em, 0, k->k - len);
            mpz_export(em + (k->k - len), &n, 1, 1, 0, 0, h);
            ok = n == len || (mpz_sgn(h) == 0 && n == 0);
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        mpz_wipe_clear(*all[i]);
    return ok;
}

/* EME-PKCS1-v1_5 decoding (RFC 8017 7.2.2) as nettle does it: 0x00 0x02, at least 8 non-zero
 * padding bytes, a zero byte, the message (possibly empty). Returns the message offset in em,
 * or 0 when the padding is bad. */
static size_t pkcs1_msg_offset(const uint8_t *em, size_t len)
{
    if (len < 11 || em[0] != 0 || em[1] != 2)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (em[i] == 0)
            return i >= 10 ? i + 1 : 0;
    return 0;
}

int rsakey_decrypt_pms(const rsakey *k, const uint8_t *ct, size_t ctlen, uint16_t client_version,
                       uint16_t negotiated_version, uint8_t pms[48], const char **why)
{
    gnutls_datum_t c = { (unsigned char *)ct, (unsigned)ctlen }, p = { NULL, 0 };
    if (ctlen == 0 || ctlen > 2048) {
        *why = "the encrypted pre-master secret has an impossible length";
        return -1;
    }
    uint8_t em[2048];
    int fast = crt_root(k, ct, ctlen, em), decrypted;
    if (fast) {
        size_t off = pkcs1_msg_offset(em, ctlen);
        decrypted = off != 0;
        if (decrypted) {
            p.data = em + off;
            p.size = (unsigned)(ctlen - off);
        }
    } else {
        decrypted = gnutls_privkey_decrypt_data(k->pk, 0, &c, &p) >= 0;
    }
    if (!decrypted) {
        if (fast)
            secure_wipe(em, ctlen);
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
    if (fast) {
        secure_wipe(em, ctlen);
    } else {
        secure_wipe(p.data, p.size);
        gnutls_free(p.data);
    }
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
