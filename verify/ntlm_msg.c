/* ntlm_msg.c - defensive parsing of NTLM CHALLENGE and AUTHENTICATE messages ([MS-NLMP] 2.2).
 *
 * Every (len, maxlen, offset) field is checked against the token length without overflow
 * (offset <= toklen and len <= toklen - offset, in size_t); maxlen is not trusted. Strings are
 * converted to UTF-8 for display and lookups; the UTF-16LE form of user and domain is kept as
 * sent because NTOWFv2 hashes exactly those code units.
 */
#include "verify/ntlm.h"

#include <glib.h>
#include <string.h>

static const uint8_t ntlm_signature[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };

/* Little-endian reads; callers have checked the bounds. */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t ntlm_message_type(const uint8_t *tok, size_t len)
{
    if (!tok || len < 12 || memcmp(tok, ntlm_signature, 8) != 0)
        return 0;
    return rd32(tok + 8);
}

/* Resolves a (Len, MaxLen, BufferOffset) field at hdr_off into a slice of tok; a zero length
 * is an empty slice whatever its offset (some implementations leave the offset unset). */
static int sec_buf(const uint8_t *tok, size_t toklen, size_t hdr_off, const char *name,
                   const uint8_t **p, size_t *n, char **err)
{
    if (hdr_off > toklen || toklen - hdr_off < 8) {
        *err = g_strdup_printf("%s field header past the end of the %zu-byte message", name,
                               toklen);
        return -1;
    }
    size_t l = rd16(tok + hdr_off);
    size_t off = rd32(tok + hdr_off + 4);
    if (l == 0) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    if (off > toklen || l > toklen - off) {
        *err = g_strdup_printf("%s field (offset %zu, length %zu) lies outside the %zu-byte "
                               "message", name, off, l, toklen);
        return -1;
    }
    *p = tok + off;
    *n = l;
    return 0;
}

/* Appends one code point as UTF-8, replacing control characters so notes stay one line. */
static void append_cp(GString *s, gunichar c)
{
    if (c < 0x20 || c == 0x7f)
        c = '?';
    g_string_append_unichar(s, c);
}

/* UTF-16LE bytes to UTF-8 for display; lone surrogates become U+FFFD (never fails). */
static char *u16le_to_utf8(const uint8_t *p, size_t n)
{
    GString *s = g_string_sized_new(n / 2 + 1);
    for (size_t i = 0; i + 1 < n; i += 2) {
        gunichar c = rd16(p + i);
        if (c >= 0xd800 && c <= 0xdbff && i + 3 < n) {
            gunichar lo = rd16(p + i + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                append_cp(s, 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00));
                i += 2;
                continue;
            }
        }
        if (c >= 0xd800 && c <= 0xdfff)
            c = 0xfffd;
        append_cp(s, c);
    }
    return g_string_free(s, FALSE);
}

/* OEM bytes (code page unknown: read as Latin-1, which is exact for ASCII) to UTF-8. */
static char *oem_to_utf8(const uint8_t *p, size_t n, int *non_ascii)
{
    GString *s = g_string_sized_new(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x80)
            *non_ascii = 1;
        append_cp(s, p[i]);
    }
    return g_string_free(s, FALSE);
}

/* OEM bytes (as Latin-1) to UTF-16LE, for NTOWFv2. */
static uint8_t *oem_to_u16le(const uint8_t *p, size_t n, size_t *outlen)
{
    uint8_t *o = g_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = p[i];
        o[2 * i + 1] = 0;
    }
    *outlen = 2 * n;
    return o;
}

/* One string field of a message, decoded per the UNICODE flag; an odd UTF-16 length is an error. */
static int str_field(const uint8_t *tok, size_t toklen, size_t hdr_off, const char *name,
                     int unicode, char **utf8, uint8_t **u16, size_t *u16len, int *non_ascii,
                     char **err)
{
    const uint8_t *p;
    size_t n;
    if (sec_buf(tok, toklen, hdr_off, name, &p, &n, err) != 0)
        return -1;
    if (unicode) {
        if (n % 2) {
            *err = g_strdup_printf("%s has an odd length (%zu) for UTF-16", name, n);
            return -1;
        }
        *utf8 = u16le_to_utf8(p, n);
        if (u16) {
            *u16 = g_memdup2(p ? p : (const uint8_t *)"", n ? n : 1);
            *u16len = n;
        }
    } else {
        *utf8 = oem_to_utf8(p, n, non_ascii);
        if (u16)
            *u16 = oem_to_u16le(p, n, u16len);
    }
    return 0;
}

void ntlm_av_init(ntlm_av_cursor *c, const uint8_t *p, size_t len)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    c->len = p ? len : 0;
}

int ntlm_av_next(ntlm_av_cursor *c, uint16_t *id, const uint8_t **val, size_t *vlen)
{
    if (c->err)
        return NTLM_AV_ERR;
    if (c->done)
        return NTLM_AV_END;
    size_t rest = c->len - c->off;
    if (rest < 4) {
        c->err = rest == 0 ? "AV pair list ends without MsvAvEOL" : "truncated AV pair header";
        return NTLM_AV_ERR;
    }
    uint16_t i = rd16(c->p + c->off);
    size_t l = rd16(c->p + c->off + 2);
    if (l > rest - 4) {
        c->err = "AV pair value runs past the end of the list";
        return NTLM_AV_ERR;
    }
    if (i == NTLM_AV_EOL) {
        c->done = 1;
        return NTLM_AV_END;
    }
    *id = i;
    *val = c->p + c->off + 4;
    *vlen = l;
    c->off += 4 + l;
    return NTLM_AV_OK;
}

/* Walks TargetInfo and keeps the names worth showing; problems go to c->av_problem only. */
static void walk_target_info(ntlm_challenge *c, const uint8_t *p, size_t n)
{
    ntlm_av_cursor cur;
    ntlm_av_init(&cur, p, n);
    uint16_t id;
    const uint8_t *v;
    size_t vl;
    int rc;
    while ((rc = ntlm_av_next(&cur, &id, &v, &vl)) == NTLM_AV_OK) {
        char **slot = NULL;
        switch (id) {
        case NTLM_AV_NB_DOMAIN: slot = &c->nb_domain; break;
        case NTLM_AV_NB_COMPUTER: slot = &c->nb_computer; break;
        case NTLM_AV_DNS_DOMAIN: slot = &c->dns_domain; break;
        case NTLM_AV_DNS_COMPUTER: slot = &c->dns_computer; break;
        default: break;
        }
        if (slot && !*slot)
            *slot = u16le_to_utf8(v, vl);
    }
    if (rc == NTLM_AV_ERR)
        c->av_problem = g_strdup_printf("TargetInfo: %s (at byte %zu of %zu)", cur.err, cur.off, n);
}

void ntlm_challenge_clear(ntlm_challenge *c)
{
    g_free(c->target_name);
    g_free(c->nb_domain);
    g_free(c->nb_computer);
    g_free(c->dns_domain);
    g_free(c->dns_computer);
    g_free(c->av_problem);
    memset(c, 0, sizeof *c);
}

int ntlm_parse_challenge(const uint8_t *tok, size_t len, ntlm_challenge *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    uint32_t type = ntlm_message_type(tok, len);
    if (len < 12 || memcmp(tok, ntlm_signature, 8) != 0) {
        *err = g_strdup_printf("not an NTLMSSP message (%zu bytes, no \"NTLMSSP\\0\" signature)",
                               len);
        return -1;
    }
    if (type != 2) {
        *err = g_strdup_printf("message type %u where a CHALLENGE (2) was expected", type);
        return -1;
    }
    /* Signature, MessageType, TargetNameFields, NegotiateFlags, ServerChallenge: 32 bytes. */
    if (len < 32) {
        *err = g_strdup_printf("CHALLENGE message truncated (%zu bytes, at least 32 needed)", len);
        return -1;
    }
    out->flags = rd32(tok + 20);
    memcpy(out->server_challenge, tok + 24, 8);
    int unicode = (out->flags & NTLM_FL_UNICODE) != 0;
    int non_ascii = 0;
    const uint8_t *p;
    size_t n;
    char *name = NULL;
    if (str_field(tok, len, 12, "TargetName", unicode, &name, NULL, NULL, &non_ascii, err) != 0)
        goto bad;
    if (name && *name)
        out->target_name = name;
    else
        g_free(name);
    /* Reserved(8) then TargetInfoFields at 40 and Version at 48, when the message is long enough. */
    if (len >= 48) {
        if (sec_buf(tok, len, 40, "TargetInfo", &p, &n, err) != 0)
            goto bad;
        if (n)
            walk_target_info(out, p, n);
    }
    if (len >= 56 && (out->flags & NTLM_FL_VERSION)) {
        out->has_version = 1;
        memcpy(out->version, tok + 48, 8);
    }
    return 0;
bad:
    ntlm_challenge_clear(out);
    return -1;
}

void ntlm_authenticate_clear(ntlm_authenticate *a)
{
    g_free(a->lm_resp);
    g_free(a->nt_resp);
    g_free(a->enc_key);
    g_free(a->domain);
    g_free(a->user);
    g_free(a->workstation);
    g_free(a->user16);
    g_free(a->domain16);
    g_free(a->av_problem);
    memset(a, 0, sizeof *a);
}

/* Copies a slice (a 1-byte allocation for an empty one, so the pointer is never NULL). */
static uint8_t *dup_slice(const uint8_t *p, size_t n)
{
    uint8_t *o = g_malloc(n ? n : 1);
    if (n)
        memcpy(o, p, n);
    return o;
}

/* Walks the AV pairs of an NTLMv2 response blob (NTLMv2_CLIENT_CHALLENGE, [MS-NLMP] 2.2.2.7:
 * 28 fixed bytes then AvPairs) for MsvAvFlags; problems go to a->av_problem only. */
static void walk_v2_blob(ntlm_authenticate *a)
{
    if (a->nt_len < 16 + 28)
        return;
    const uint8_t *blob = a->nt_resp + 16;
    size_t n = a->nt_len - 16;
    ntlm_av_cursor cur;
    ntlm_av_init(&cur, blob + 28, n - 28);
    uint16_t id;
    const uint8_t *v;
    size_t vl;
    int rc;
    while ((rc = ntlm_av_next(&cur, &id, &v, &vl)) == NTLM_AV_OK)
        if (id == NTLM_AV_FLAGS && vl >= 4 && (rd32(v) & 0x2))
            a->mic_flag = 1;
    if (rc == NTLM_AV_ERR)
        a->av_problem = g_strdup_printf("NTLMv2 response AV pairs: %s", cur.err);
}

int ntlm_parse_authenticate(const uint8_t *tok, size_t len, ntlm_authenticate *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    uint32_t type = ntlm_message_type(tok, len);
    if (len < 12 || memcmp(tok, ntlm_signature, 8) != 0) {
        *err = g_strdup_printf("not an NTLMSSP message (%zu bytes, no \"NTLMSSP\\0\" signature)",
                               len);
        return -1;
    }
    if (type != 3) {
        *err = g_strdup_printf("message type %u where an AUTHENTICATE (3) was expected", type);
        return -1;
    }
    /* Fixed part up to and including NegotiateFlags: 64 bytes. */
    if (len < 64) {
        *err = g_strdup_printf("AUTHENTICATE message truncated (%zu bytes, at least 64 needed)",
                               len);
        return -1;
    }
    out->flags = rd32(tok + 60);
    int unicode = (out->flags & NTLM_FL_UNICODE) != 0;
    out->oem = !unicode;
    const uint8_t *p;
    size_t n;
    if (sec_buf(tok, len, 12, "LmChallengeResponse", &p, &n, err) != 0)
        goto bad;
    out->lm_resp = dup_slice(p, n);
    out->lm_len = n;
    if (sec_buf(tok, len, 20, "NtChallengeResponse", &p, &n, err) != 0)
        goto bad;
    out->nt_resp = dup_slice(p, n);
    out->nt_len = n;
    if (str_field(tok, len, 28, "DomainName", unicode, &out->domain, &out->domain16,
                  &out->domain16_len, &out->oem_non_ascii, err) != 0)
        goto bad;
    if (str_field(tok, len, 36, "UserName", unicode, &out->user, &out->user16, &out->user16_len,
                  &out->oem_non_ascii, err) != 0)
        goto bad;
    if (str_field(tok, len, 44, "Workstation", unicode, &out->workstation, NULL, NULL,
                  &out->oem_non_ascii, err) != 0)
        goto bad;
    if (sec_buf(tok, len, 52, "EncryptedRandomSessionKey", &p, &n, err) != 0)
        goto bad;
    out->enc_key = dup_slice(p, n);
    out->enc_len = n;
    if (len >= 72 && (out->flags & NTLM_FL_VERSION)) {
        out->has_version = 1;
        memcpy(out->version, tok + 64, 8);
    }
    if (out->nt_len > 24)
        walk_v2_blob(out);
    return 0;
bad:
    ntlm_authenticate_clear(out);
    return -1;
}

char *ntlm_flags_describe(uint32_t flags)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        { NTLM_FL_ESS, "ESS" },          { NTLM_FL_KEY_EXCH, "KEY_EXCH" },
        { NTLM_FL_128, "128" },          { NTLM_FL_56, "56" },
        { NTLM_FL_LM_KEY, "LM_KEY" },    { NTLM_FL_NON_NT_SESSION_KEY, "NON_NT_SESSION_KEY" },
        { NTLM_FL_DATAGRAM, "DATAGRAM" }, { NTLM_FL_SIGN, "SIGN" },
        { NTLM_FL_SEAL, "SEAL" },        { NTLM_FL_ALWAYS_SIGN, "ALWAYS_SIGN" },
        { NTLM_FL_IDENTIFY, "IDENTIFY" }, { NTLM_FL_ANONYMOUS, "ANONYMOUS" },
        { NTLM_FL_UNICODE, "UNICODE" },  { NTLM_FL_OEM, "OEM" },
        { NTLM_FL_TARGET_INFO, "TARGET_INFO" }, { NTLM_FL_VERSION, "VERSION" },
    };
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (flags & names[i].bit)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", names[i].name);
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}
