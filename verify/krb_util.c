/* krb_util.c - Kerberos: names and texts for messages (enctypes, hex, krb5 errors, key sizes, GSS flags). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

/* Enctype as "18 (aes256-cts-hmac-sha1-96)" for messages; buf needs 80 bytes. */
const char *krb_etype_desc(int32_t e, char *buf, size_t n)
{
    char name[64];
    if (krb5_enctype_to_name(e, FALSE, name, sizeof name) != 0)
        g_strlcpy(name, "unknown", sizeof name);
    g_snprintf(buf, n, "%d (%s)", (int)e, name);
    return buf;
}

/* Canonical enctype name only ("aes256-cts-hmac-sha1-96"). */
const char *krb_etype_name(int32_t e, char *buf, size_t n)
{
    if (krb5_enctype_to_name(e, FALSE, buf, n) != 0)
        g_snprintf(buf, n, "enctype %d", (int)e);
    return buf;
}

/* The first bytes of a token in hex, to show what arrived instead of a Kerberos token. */
char *krb_hex_head(const uint8_t *p, size_t len, size_t max)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < len && i < max; i++)
        g_string_append_printf(s, "%02x", p[i]);
    if (len > max)
        g_string_append(s, "...");
    return g_string_free(s, FALSE);
}

/* A krb5 error as text (the message is copied so krb5's copy can be freed at once). */
char *krb_errtext(krb5_context ctx, krb5_error_code rc)
{
    const char *m = krb5_get_error_message(ctx, rc);
    char *s = g_strdup(m ? m : "unknown error");
    krb5_free_error_message(ctx, m);
    return s;
}

/* Whether libkrb5 knows an enctype and the key has its length (RFC 3961 key sizes). */
int krb_key_fits(krb5_context ctx, int32_t enctype, size_t len, char **why)
{
    char eb[80];
    size_t keylen = 0;
    if (!krb5_c_valid_enctype(enctype) ||
        krb5_c_keylengths(ctx, enctype, NULL, &keylen) != 0) {
        *why = g_strdup_printf("enctype %s is not supported by libkrb5",
                               krb_etype_desc(enctype, eb, sizeof eb));
        return -2;
    }
    if (keylen != len) {
        *why = g_strdup_printf("enctype %s needs a %zu-byte key, got %zu bytes",
                               krb_etype_desc(enctype, eb, sizeof eb), keylen, len);
        return -1;
    }
    return 0;
}

/* GSS context flags as names (RFC 2744 and Microsoft extensions), for token notes. */
void krb_gss_flag_names(uint32_t f, char *buf, size_t n)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {0x1, "DELEG"},     {0x2, "MUTUAL"},      {0x4, "REPLAY"},   {0x8, "SEQUENCE"},
        {0x10, "CONF"},     {0x20, "INTEG"},      {0x40, "ANON"},    {0x80, "PROT_READY"},
        {0x100, "TRANS"},   {0x1000, "DCE_STYLE"}, {0x2000, "IDENTIFY"},
        {0x4000, "EXTENDED_ERROR"},
    };
    char s[160]; /* every name once, with spaces: 91 bytes */
    size_t len = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (f & names[i].bit) {
            size_t nl = strlen(names[i].name);
            if (len)
                s[len++] = ' ';
            memcpy(s + len, names[i].name, nl);
            len += nl;
        }
    s[len] = 0;
    g_strlcpy(buf, len ? s : "none", n);
}
