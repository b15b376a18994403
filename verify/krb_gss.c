/* krb_gss.c - Kerberos: GSS-API framing of Kerberos tokens (RFC 2743 3.1, RFC 4121 4.1). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

static const uint8_t OID_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_KRB5_MS[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_SPNEGO[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};

/* Unwraps an InitialContextToken-style frame (RFC 2743 3.1: 60 len 06 len OID, then the
 * mechanism token) into the 2-byte TOK_ID and the rest; *trailing counts bytes after the frame. */
gss_res krb_gss_unwrap(const uint8_t *tok, size_t len, const uint8_t **tokid,
                          const uint8_t **rest, size_t *restlen, size_t *trailing, char **why)
{
    size_t l, h;
    if (len < 2 || tok[0] != 0x60 || krb_der_length(tok + 1, len - 1, &l, &h) < 0 ||
        l > len - 1 - h) {
        *why = g_strdup("GSS-API framing: bad or truncated outer length");
        return GSS_BAD;
    }
    const uint8_t *p = tok + 1 + h;
    *trailing = len - 1 - h - l;
    if (l < 2 || p[0] != 0x06 || p[1] >= 0x80 || (size_t)p[1] + 2 > l) {
        *why = g_strdup("GSS-API framing: no mechanism OID");
        return GSS_BAD;
    }
    size_t oidlen = p[1];
    const uint8_t *oid = p + 2;
    if (oidlen == sizeof OID_SPNEGO && memcmp(oid, OID_SPNEGO, oidlen) == 0) {
        *why = g_strdup("an SPNEGO (1.3.6.1.5.5.2) token, not a bare Kerberos token");
        return GSS_SPNEGO;
    }
    if (!(oidlen == sizeof OID_KRB5 &&
          (memcmp(oid, OID_KRB5, oidlen) == 0 || memcmp(oid, OID_KRB5_MS, oidlen) == 0))) {
        char *hx = krb_hex_head(oid, oidlen, 16);
        *why = g_strdup_printf("GSS-API mechanism OID %s is not Kerberos (1.2.840.113554.1.2.2 "
                               "or 1.2.840.48018.1.2.2)", hx);
        g_free(hx);
        return GSS_OTHER_OID;
    }
    size_t used = 2 + oidlen;
    if (l - used < 2) {
        *why = g_strdup("GSS-API framing: no TOK_ID after the OID");
        return GSS_BAD;
    }
    *tokid = p + used;
    *rest = p + used + 2;
    *restlen = l - used - 2;
    return GSS_OK;
}
