/* mech_kerberos.c - Kerberos ([MS-SIPAE] 3.2.5.1, 3.4.5.1): keys from the AP-REQ / AP-REP with a
 * service keytab (or from a key-log line), MIC checks for RFC 4121 and RFC 4757 tokens.
 *
 * Handshake (on_token): GSS InitialContextToken (RFC 2743 3.1) around an AP-REQ, AP-REP or
 * KRB-ERROR. The ticket is decoded and decrypted by MIT krb5 (krb5_decode_ticket,
 * krb5_server_decrypt_ticket_keytab: no clock, replay cache or KDC involved); the Authenticator
 * (key usage 11) and EncAPRepPart (usage 12) have no public decoder, so krb_der.c walks them.
 * Keys are copied into the SA (wiped on free); the encrypted parts are kept so that a key-log
 * key (session key or subkey) can still reach the subkeys when no keytab is configured.
 *
 * Check (verify): pure; the token format is told by its first bytes (ms-sipae.md 7):
 *   04 04 ...            RFC 4121 MIC: checksum over buffer || token[0..15], usage 23 / 25
 *   60 .. OID 01 01 11 00 RFC 4757 MIC (RC4-HMAC): SGN_CKSUM, then SND_SEQ gives the sender
 * Key selection (RFC 4121 4.2.2): the acceptor subkey when the token says AcceptorSubkey, else the
 * initiator subkey, else the ticket session key; RFC 4757 tries the subkeys and the session key.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/mech.h"
#include "verify/krb.h"
#include "verify/krb_der.h"

#include <string.h>

#include <nettle/arcfour.h>
#include <nettle/hmac.h>

/* ------------------------------------------------------------------ state */

/* A key owned by the SA, copied out of krb5 structures so that freeing needs no context. */
typedef struct {
    int32_t enctype;
    uint8_t *val; /* NULL when unset; wiped before it is freed */
    size_t len;
} krb_keyv;

/* An EncryptedData kept for later decryption (RFC 4120 5.2.9). */
typedef struct {
    int32_t etype;
    uint8_t *cipher; /* NULL when absent */
    size_t len;
} krb_encpart;

/* What the Authenticator or the EncAPRepPart carried. */
typedef struct {
    krb_keyv subkey;
    uint32_t seq;
    int have_seq;
    uint32_t gss_flags;
    int have_gss_flags;
} krb_inner;

typedef struct {
    /* handshake facts, set on the first pass by on_token */
    int apreq_seen;      /* an AP-REQ whose ticket was decoded */
    char *service;       /* ticket sname@realm as sent (g_malloc'd) */
    char *client;        /* client principal from the decrypted ticket, or NULL */
    int32_t tkt_enctype;
    uint32_t tkt_kvno;
    krb_keyv session;    /* from the keytab-decrypted ticket */
    int auth_ok;         /* Authenticator decrypted and parsed: its subkey is known or absent */
    krb_inner auth;
    int aprep_seen;
    int aprep_ok;        /* EncAPRepPart decrypted and parsed */
    krb_inner aprep;
    krb_encpart auth_enc, aprep_enc;
    char *nokey_why;     /* why the handshake gave no key (g_malloc'd), NULL otherwise */
    int nokey_unsupported; /* ... because an enctype is not supported */
    char *bad_token_why; /* the last handshake token that could not be parsed, or NULL */

    /* cache of what a key-log line gives (derived lazily in verify, keyed by the line) */
    int kl_set;
    int32_t kl_src_enctype;
    uint8_t *kl_src;     /* copy of the line's key, to notice a changed key log */
    size_t kl_src_len;
    unsigned kl_line;
    krb_keyv kl_key;     /* usable key, or unset (then kl_why says why) */
    krb_inner kl_auth;   /* Authenticator decrypted with the key-log key */
    krb_inner kl_aprep;  /* EncAPRepPart decrypted with the key-log key */
    char *kl_why;
    int kl_unsupported;
} krb_sa;

/* Wipes and frees a key so secrets do not linger in freed heap memory. */
static void keyv_clear(krb_keyv *k)
{
    if (k->val) {
        explicit_bzero(k->val, k->len);
        g_free(k->val);
    }
    memset(k, 0, sizeof *k);
}

/* Copies key bytes into an SA-owned key. */
static void keyv_set(krb_keyv *k, int32_t enctype, const uint8_t *val, size_t len)
{
    keyv_clear(k);
    k->enctype = enctype;
    k->val = g_malloc(len ? len : 1);
    memcpy(k->val, val, len);
    k->len = len;
}

/* A krb5 view of an SA key, for the krb5_c_* calls (which never modify it). */
static krb5_keyblock keyv_block(const krb_keyv *k)
{
    krb5_keyblock kb;
    memset(&kb, 0, sizeof kb);
    kb.magic = KV5M_KEYBLOCK;
    kb.enctype = k->enctype;
    kb.length = (unsigned int)k->len;
    kb.contents = k->val;
    return kb;
}

/* Frees a kept EncryptedData (ciphertext only: nothing secret). */
static void encpart_clear(krb_encpart *e)
{
    g_free(e->cipher);
    memset(e, 0, sizeof *e);
}

/* Forgets what an Authenticator / EncAPRepPart gave, wiping its subkey. */
static void inner_clear(krb_inner *in)
{
    keyv_clear(&in->subkey);
    memset(in, 0, sizeof *in);
}

/* Forgets the key-log cache, e.g. when the handshake or the key-log line changed. */
static void kl_clear(krb_sa *sa)
{
    if (sa->kl_src) {
        explicit_bzero(sa->kl_src, sa->kl_src_len);
        g_free(sa->kl_src);
    }
    sa->kl_src = NULL;
    sa->kl_src_len = 0;
    sa->kl_set = 0;
    keyv_clear(&sa->kl_key);
    inner_clear(&sa->kl_auth);
    inner_clear(&sa->kl_aprep);
    g_free(sa->kl_why);
    sa->kl_why = NULL;
    sa->kl_unsupported = 0;
}

/* Forgets everything an AP-REQ established (a second AP-REQ on one SA starts over). */
static void apreq_clear(krb_sa *sa)
{
    sa->apreq_seen = 0;
    g_free(sa->service);
    g_free(sa->client);
    sa->service = sa->client = NULL;
    sa->tkt_enctype = 0;
    sa->tkt_kvno = 0;
    keyv_clear(&sa->session);
    sa->auth_ok = 0;
    inner_clear(&sa->auth);
    encpart_clear(&sa->auth_enc);
    sa->aprep_ok = 0;
    inner_clear(&sa->aprep);
    g_free(sa->nokey_why);
    sa->nokey_why = NULL;
    sa->nokey_unsupported = 0;
    kl_clear(sa);
}

/* A fresh SA knows nothing: every field zero means "not seen". */
static void *krb_sa_new(void *cap)
{
    return g_new0(krb_sa, 1);
}

/* Frees the SA, wiping every key it holds. */
static void krb_sa_free(void *st)
{
    krb_sa *sa = st;
    if (!sa)
        return;
    apreq_clear(sa);
    encpart_clear(&sa->aprep_enc);
    g_free(sa->bad_token_why);
    g_free(sa);
}

/* ------------------------------------------------------------------ small helpers */

/* Enctype as "18 (aes256-cts-hmac-sha1-96)" for messages; buf needs 80 bytes. */
static const char *etype_desc(int32_t e, char *buf, size_t n)
{
    char name[64];
    if (krb5_enctype_to_name(e, FALSE, name, sizeof name) != 0)
        g_strlcpy(name, "unknown", sizeof name);
    g_snprintf(buf, n, "%d (%s)", (int)e, name);
    return buf;
}

/* Canonical enctype name only ("aes256-cts-hmac-sha1-96"). */
static const char *etype_name(int32_t e, char *buf, size_t n)
{
    if (krb5_enctype_to_name(e, FALSE, buf, n) != 0)
        g_snprintf(buf, n, "enctype %d", (int)e);
    return buf;
}

/* The first bytes of a token in hex, to show what arrived instead of a Kerberos token. */
static char *hex_head(const uint8_t *p, size_t len, size_t max)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < len && i < max; i++)
        g_string_append_printf(s, "%02x", p[i]);
    if (len > max)
        g_string_append(s, "...");
    return g_string_free(s, FALSE);
}

/* A krb5 error as text (the message is copied so krb5's copy can be freed at once). */
static char *krb_errtext(krb5_context ctx, krb5_error_code rc)
{
    const char *m = krb5_get_error_message(ctx, rc);
    char *s = g_strdup(m ? m : "unknown error");
    krb5_free_error_message(ctx, m);
    return s;
}

/* Whether libkrb5 knows an enctype and the key has its length (RFC 3961 key sizes). */
static int key_fits(krb5_context ctx, int32_t enctype, size_t len, char **why)
{
    char eb[80];
    size_t keylen = 0;
    if (!krb5_c_valid_enctype(enctype) ||
        krb5_c_keylengths(ctx, enctype, NULL, &keylen) != 0) {
        *why = g_strdup_printf("enctype %s is not supported by libkrb5",
                               etype_desc(enctype, eb, sizeof eb));
        return -2;
    }
    if (keylen != len) {
        *why = g_strdup_printf("enctype %s needs a %zu-byte key, got %zu bytes",
                               etype_desc(enctype, eb, sizeof eb), keylen, len);
        return -1;
    }
    return 0;
}

/* GSS context flags as names (RFC 2744 and Microsoft extensions), for token notes. */
static void gss_flag_names(uint32_t f, char *buf, size_t n)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {0x1, "DELEG"},     {0x2, "MUTUAL"},      {0x4, "REPLAY"},   {0x8, "SEQUENCE"},
        {0x10, "CONF"},     {0x20, "INTEG"},      {0x40, "ANON"},    {0x80, "PROT_READY"},
        {0x100, "TRANS"},   {0x1000, "DCE_STYLE"}, {0x2000, "IDENTIFY"},
        {0x4000, "EXTENDED_ERROR"},
    };
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (f & names[i].bit)
            g_string_append_printf(s, "%s%s", s->len ? " " : "", names[i].name);
    g_strlcpy(buf, s->len ? s->str : "none", n);
    g_string_free(s, TRUE);
}

/* ------------------------------------------------------------------ GSS framing */

/* Mechanism OIDs (content octets) seen in SIP gssapi-data. */
static const uint8_t OID_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_KRB5_MS[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_SPNEGO[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};

typedef enum { GSS_OK = 0, GSS_BAD, GSS_SPNEGO, GSS_OTHER_OID } gss_res;

/* Unwraps an InitialContextToken-style frame (RFC 2743 3.1: 60 len 06 len OID, then the
 * mechanism token) into the 2-byte TOK_ID and the rest; *trailing counts bytes after the frame. */
static gss_res gss_unwrap(const uint8_t *tok, size_t len, const uint8_t **tokid,
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
        char *hx = hex_head(oid, oidlen, 16);
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

/* ------------------------------------------------------------------ DER pieces */

/* EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET
 * STRING } (RFC 4120 5.2.9). */
static int parse_encdata(const krb_der_tlv *t, int32_t *etype, const uint8_t **cipher,
                         size_t *clen)
{
    krb_der_tlv f;
    if (t->tag != KRB_DER_SEQUENCE)
        return -1;
    if (krb_der_field(t, 0, &f) != 1 || krb_der_int32(&f, etype) < 0)
        return -1;
    int r = krb_der_field(t, 1, &f);
    uint32_t kvno;
    if (r < 0 || (r == 1 && krb_der_uint32(&f, &kvno) < 0))
        return -1;
    if (krb_der_field(t, 2, &f) != 1 || krb_der_octets(&f, cipher, clen) < 0 || *clen == 0)
        return -1;
    return 1;
}

/* EncryptionKey ::= SEQUENCE { keytype [0] Int32, keyvalue [1] OCTET STRING } (RFC 4120 5.2.9);
 * the key is kept only when libkrb5 supports the type and the length fits. */
static int parse_enckey(krb5_context ctx, const krb_der_tlv *t, krb_keyv *out, char **why)
{
    krb_der_tlv f;
    int32_t type;
    const uint8_t *v;
    size_t vl;
    if (t->tag != KRB_DER_SEQUENCE || krb_der_field(t, 0, &f) != 1 ||
        krb_der_int32(&f, &type) < 0 || krb_der_field(t, 1, &f) != 1 ||
        krb_der_octets(&f, &v, &vl) < 0) {
        *why = g_strdup("subkey is not a well-formed EncryptionKey");
        return -1;
    }
    int r = key_fits(ctx, type, vl, why);
    if (r < 0)
        return r;
    keyv_set(out, type, v, vl);
    return 1;
}

/* Authenticator ::= [APPLICATION 2] SEQUENCE { ..., cksum [3] Checksum OPTIONAL, ...,
 * subkey [6] EncryptionKey OPTIONAL, seq-number [7] UInt32 OPTIONAL, ... } (RFC 4120 5.5.1);
 * the 0x8003 checksum carries the GSS flags at offset 20, little endian (RFC 4121 4.1.1). */
static int parse_authenticator(krb5_context ctx, const uint8_t *p, size_t len, krb_inner *out,
                               char **why)
{
    krb_der_tlv seq, f, g;
    if (krb_der_app_seq(p, len, 2, &seq) < 0 || krb_der_field(&seq, 0, &f) != 1) {
        *why = g_strdup("decrypted Authenticator is not well-formed DER");
        return -1;
    }
    int r = krb_der_field(&seq, 3, &f);
    if (r < 0) {
        *why = g_strdup("Authenticator checksum [3] is malformed");
        return -1;
    }
    if (r == 1) {
        int32_t ctype;
        const uint8_t *cv;
        size_t cl;
        if (f.tag != KRB_DER_SEQUENCE || krb_der_field(&f, 0, &g) != 1 ||
            krb_der_int32(&g, &ctype) < 0 || krb_der_field(&f, 1, &g) != 1 ||
            krb_der_octets(&g, &cv, &cl) < 0) {
            *why = g_strdup("Authenticator checksum [3] is malformed");
            return -1;
        }
        if (ctype == 0x8003 && cl >= 24) {
            out->gss_flags = (uint32_t)cv[20] | (uint32_t)cv[21] << 8 | (uint32_t)cv[22] << 16 |
                             (uint32_t)cv[23] << 24;
            out->have_gss_flags = 1;
        }
    }
    r = krb_der_field(&seq, 7, &f);
    if (r < 0 || (r == 1 && krb_der_uint32(&f, &out->seq) < 0)) {
        *why = g_strdup("Authenticator seq-number [7] is malformed");
        return -1;
    }
    out->have_seq = r == 1;
    r = krb_der_field(&seq, 6, &f);
    if (r < 0) {
        *why = g_strdup("Authenticator subkey [6] is malformed");
        return -1;
    }
    if (r == 1)
        return parse_enckey(ctx, &f, &out->subkey, why);
    return 1;
}

/* EncAPRepPart ::= [APPLICATION 27] SEQUENCE { ctime [0], cusec [1], subkey [2] EncryptionKey
 * OPTIONAL, seq-number [3] UInt32 OPTIONAL } (RFC 4120 5.5.2). */
static int parse_encaprep(krb5_context ctx, const uint8_t *p, size_t len, krb_inner *out,
                          char **why)
{
    krb_der_tlv seq, f;
    if (krb_der_app_seq(p, len, 27, &seq) < 0 || krb_der_field(&seq, 0, &f) != 1) {
        *why = g_strdup("decrypted EncAPRepPart is not well-formed DER");
        return -1;
    }
    int r = krb_der_field(&seq, 3, &f);
    if (r < 0 || (r == 1 && krb_der_uint32(&f, &out->seq) < 0)) {
        *why = g_strdup("EncAPRepPart seq-number [3] is malformed");
        return -1;
    }
    out->have_seq = r == 1;
    r = krb_der_field(&seq, 2, &f);
    if (r < 0) {
        *why = g_strdup("EncAPRepPart subkey [2] is malformed");
        return -1;
    }
    if (r == 1)
        return parse_enckey(ctx, &f, &out->subkey, why);
    return 1;
}

/* Decrypts a kept EncryptedData with key and usage (RFC 3961 decrypt), then parses it; the
 * plaintext holds keys, so it is wiped. 1 parsed, -1 with *why. */
static int decrypt_inner(krb5_context ctx, const krb_keyv *key, krb5_keyusage usage,
                         const krb_encpart *enc, int is_aprep, krb_inner *out, char **why)
{
    krb5_keyblock kb = keyv_block(key);
    krb5_enc_data in;
    krb5_data plain;
    memset(&in, 0, sizeof in);
    in.magic = KV5M_ENC_DATA;
    in.enctype = enc->etype;
    in.ciphertext.length = (unsigned int)enc->len;
    in.ciphertext.data = (char *)enc->cipher;
    plain.magic = KV5M_DATA;
    plain.length = (unsigned int)enc->len;
    plain.data = g_malloc(enc->len ? enc->len : 1);
    krb5_error_code rc = krb5_c_decrypt(ctx, &kb, usage, NULL, &in, &plain);
    int r;
    if (rc != 0) {
        char *e = krb_errtext(ctx, rc);
        *why = g_strdup_printf("%s does not decrypt (key usage %d): %s",
                               is_aprep ? "AP-REP enc-part" : "Authenticator", (int)usage, e);
        g_free(e);
        r = -1;
    } else {
        inner_clear(out);
        r = is_aprep ? parse_encaprep(ctx, (uint8_t *)plain.data, plain.length, out, why)
                     : parse_authenticator(ctx, (uint8_t *)plain.data, plain.length, out, why);
    }
    explicit_bzero(plain.data, enc->len);
    g_free(plain.data);
    return r;
}

/* ------------------------------------------------------------------ on_token */

/* Says why no keytab key fits a ticket, naming what was looked up (style: say which key was
 * missing): none of that enctype, or keys that exist but do not decrypt. */
static char *describe_keytab_miss(krb5_context ctx, krb5_keytab kt, const char *path,
                                  krb5_principal server, const char *service, int32_t enctype,
                                  uint32_t kvno)
{
    char eb[80];
    int same_type = 0, exact = 0;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    if (krb5_kt_start_seq_get(ctx, kt, &cur) == 0) {
        while (krb5_kt_next_entry(ctx, kt, &ent, &cur) == 0) {
            if (ent.key.enctype == enctype) {
                same_type++;
                if (krb5_principal_compare(ctx, ent.principal, server) && ent.vno == kvno)
                    exact = 1;
            }
            krb5_free_keytab_entry_contents(ctx, &ent);
        }
        krb5_kt_end_seq_get(ctx, kt, &cur);
    }
    etype_desc(enctype, eb, sizeof eb);
    if (exact)
        return g_strdup_printf("keytab %s has a key for %s kvno %u enctype %s, but it does not "
                               "decrypt the ticket (wrong password or stale keytab?)",
                               path, service, kvno, eb);
    if (same_type)
        return g_strdup_printf("no key in keytab %s for %s kvno %u enctype %s (its %d other "
                               "key(s) of that enctype do not decrypt the ticket)",
                               path, service, kvno, eb, same_type);
    return g_strdup_printf("no key in keytab %s for %s kvno %u enctype %s", path, service, kvno,
                           eb);
}

/* Records a handshake token that could not be used, for the note and for later verdicts. */
static void token_bad(krb_sa *sa, note_list *notes, note_kind kind, const char *what,
                      char *why)
{
    note_add(notes, kind, kind == NOTE_UNSUPPORTED ? NOTE_SEV_NOTE : NOTE_SEV_WARN,
             "Kerberos %s: %s", what, why);
    g_free(sa->bad_token_why);
    sa->bad_token_why = g_strdup_printf("%s: %s", what, why);
    g_free(why);
}

/* Decrypts the AP-REP with the session key once both are known (the capture may show them in
 * either order). */
static void try_aprep(krb_sa *sa, krb5_context ctx, note_list *notes)
{
    if (!sa->aprep_enc.cipher || !sa->session.val || sa->aprep_ok)
        return;
    char *why = NULL;
    krb_inner in;
    memset(&in, 0, sizeof in);
    /* EncAPRepPart: key usage 12, ticket session key (RFC 4120 5.5.2, 7.5.1) */
    int r = decrypt_inner(ctx, &sa->session, 12, &sa->aprep_enc, 1, &in, &why);
    if (r < 0) {
        note_add(notes, r == -2 ? NOTE_UNSUPPORTED : NOTE_MALFORMED, NOTE_SEV_WARN,
                 "Kerberos AP-REP: %s", why);
        g_free(why);
        inner_clear(&in);
        return;
    }
    inner_clear(&sa->aprep);
    sa->aprep = in;
    sa->aprep_ok = 1;
    char eb[64], sb[32] = "none";
    if (sa->aprep.have_seq)
        g_snprintf(sb, sizeof sb, "0x%08x", sa->aprep.seq);
    note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT, "Kerberos AP-REP: acceptor subkey %s, seq-number %s",
             sa->aprep.subkey.val ? etype_name(sa->aprep.subkey.enctype, eb, sizeof eb) : "none",
             sb);
}

/* AP-REQ ::= [APPLICATION 14] SEQUENCE { pvno [0], msg-type [1], ap-options [2],
 * ticket [3] Ticket, authenticator [4] EncryptedData } (RFC 4120 5.5.1). */
static void on_apreq(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes)
{
    krb5_context ctx = keystore_krb5_context(ks);
    krb_der_tlv seq, f, tkt, auth;
    int32_t pvno, mtype, aetype;
    const uint8_t *acipher;
    size_t aclen;
    if (krb_der_app_seq(p, len, 14, &seq) < 0 || krb_der_field(&seq, 0, &f) != 1 ||
        krb_der_int32(&f, &pvno) < 0 || krb_der_field(&seq, 1, &f) != 1 ||
        krb_der_int32(&f, &mtype) < 0 || krb_der_field(&seq, 3, &tkt) != 1 ||
        tkt.tag != KRB_DER_APP(1) || krb_der_field(&seq, 4, &auth) != 1 ||
        parse_encdata(&auth, &aetype, &acipher, &aclen) < 0) {
        token_bad(sa, notes, NOTE_MALFORMED, "AP-REQ",
                  g_strdup("not a well-formed KRB_AP_REQ (RFC 4120 5.5.1)"));
        return;
    }
    if (pvno != 5 || mtype != 14) {
        token_bad(sa, notes, NOTE_MALFORMED, "AP-REQ",
                  g_strdup_printf("pvno %d msg-type %d (expected 5 and 14)", (int)pvno,
                                  (int)mtype));
        return;
    }
    if (!ctx) {
        token_bad(sa, notes, NOTE_CONFIG, "AP-REQ", g_strdup("no krb5 context"));
        return;
    }
    krb5_data td = {KV5M_DATA, (unsigned int)tkt.rawlen, (char *)tkt.raw};
    krb5_ticket *ticket = NULL;
    krb5_error_code rc = krb5_decode_ticket(&td, &ticket);
    if (rc != 0) {
        char *e = krb_errtext(ctx, rc);
        token_bad(sa, notes, NOTE_MALFORMED, "AP-REQ", g_strdup_printf("ticket: %s", e));
        g_free(e);
        return;
    }
    if (sa->apreq_seen)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN,
                 "Kerberos: a second AP-REQ on this SA; its keys replace the first one's");
    apreq_clear(sa);
    g_free(sa->bad_token_why);
    sa->bad_token_why = NULL;
    sa->apreq_seen = 1;

    char *svc = NULL;
    if (krb5_unparse_name(ctx, ticket->server, &svc) == 0) {
        sa->service = g_strdup(svc);
        krb5_free_unparsed_name(ctx, svc);
    } else {
        sa->service = g_strdup("(unprintable principal)");
    }
    sa->tkt_enctype = ticket->enc_part.enctype;
    sa->tkt_kvno = ticket->enc_part.kvno;
    sa->auth_enc.etype = aetype;
    sa->auth_enc.cipher = g_memdup2(acipher, aclen);
    sa->auth_enc.len = aclen;

    char eb[80], eb2[64], eb3[64];
    krb5_keytab kt = keystore_keytab(ks);
    const char *path = keystore_keytab_path(ks);
    etype_desc(sa->tkt_enctype, eb, sizeof eb);
    if (!kt) {
        sa->nokey_why = path
            ? g_strdup_printf("keytab %s could not be read or holds no keys: no key for %s "
                              "kvno %u enctype %s", path, sa->service, sa->tkt_kvno, eb)
            : g_strdup_printf("no keytab configured (preference mssipae.keytab): no key for %s "
                              "kvno %u enctype %s", sa->service, sa->tkt_kvno, eb);
    } else if (!krb5_c_valid_enctype(sa->tkt_enctype)) {
        sa->nokey_why = g_strdup_printf("ticket for %s uses enctype %s, which libkrb5 does not "
                                        "support", sa->service, eb);
        sa->nokey_unsupported = 1;
    } else {
        rc = krb5_server_decrypt_ticket_keytab(ctx, kt, ticket);
        if (ticket->enc_part2 && rc != 0) {
            /* decrypted, but a policy check (transited realms, postdated flag) failed: an
             * offline verifier applies no such policy */
            char *e = krb_errtext(ctx, rc);
            note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                     "Kerberos AP-REQ: ticket decrypted; ignoring a ticket policy check: %s", e);
            g_free(e);
        }
        char *kname = NULL;
        if (ticket->enc_part2 && krb5_unparse_name(ctx, ticket->server, &kname) == 0) {
            /* the cleartext sname is not integrity-protected; the keytab entry that decrypted
             * the ticket says whose it really is */
            if (strcmp(kname, sa->service) != 0)
                note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE, "Kerberos AP-REQ: the ticket names "
                         "%s but was decrypted with the keytab key of %s", sa->service, kname);
            krb5_free_unparsed_name(ctx, kname);
        }
        if (!ticket->enc_part2)
            sa->nokey_why = describe_keytab_miss(ctx, kt, path ? path : "(in memory)",
                                                 ticket->server, sa->service, sa->tkt_enctype,
                                                 sa->tkt_kvno);
    }
    if (sa->nokey_why)
        note_add(notes, sa->nokey_unsupported ? NOTE_UNSUPPORTED : NOTE_NO_KEY, NOTE_SEV_WARN,
                 "Kerberos AP-REQ: %s", sa->nokey_why);

    if (ticket->enc_part2 && ticket->enc_part2->session) {
        const krb5_keyblock *s = ticket->enc_part2->session;
        char *why = NULL;
        if (key_fits(ctx, s->enctype, s->length, &why) < 0) {
            sa->nokey_why = g_strdup_printf("ticket session key: %s", why);
            sa->nokey_unsupported = 1;
            note_add(notes, NOTE_UNSUPPORTED, NOTE_SEV_WARN, "Kerberos AP-REQ: %s", sa->nokey_why);
            g_free(why);
        } else {
            keyv_set(&sa->session, s->enctype, s->contents, s->length);
        }
        char *cl = NULL;
        if (ticket->enc_part2->client && krb5_unparse_name(ctx, ticket->enc_part2->client,
                                                           &cl) == 0) {
            sa->client = g_strdup(cl);
            krb5_free_unparsed_name(ctx, cl);
        }
    }
    krb5_free_ticket(ctx, ticket);

    if (sa->session.val) {
        char *why = NULL;
        /* Authenticator: key usage 11, ticket session key (RFC 4120 7.5.1) */
        int r = decrypt_inner(ctx, &sa->session, 11, &sa->auth_enc, 0, &sa->auth, &why);
        if (r < 0) {
            note_add(notes, r == -2 ? NOTE_UNSUPPORTED : NOTE_MALFORMED, NOTE_SEV_WARN,
                     "Kerberos AP-REQ: %s", why);
            g_free(why);
        } else {
            sa->auth_ok = 1;
        }
    }

    GString *s = g_string_new(NULL);
    g_string_printf(s, "Kerberos AP-REQ for %s: ticket %s kvno %u", sa->service,
                    etype_name(sa->tkt_enctype, eb2, sizeof eb2), sa->tkt_kvno);
    if (sa->client)
        g_string_append_printf(s, "; client %s", sa->client);
    if (sa->session.val)
        g_string_append_printf(s, "; session key %s",
                               etype_name(sa->session.enctype, eb3, sizeof eb3));
    if (sa->auth_ok) {
        g_string_append_printf(s, "; authenticator subkey %s",
                               sa->auth.subkey.val
                                   ? etype_name(sa->auth.subkey.enctype, eb3, sizeof eb3)
                                   : "none");
        if (sa->auth.have_seq)
            g_string_append_printf(s, ", seq-number 0x%08x", sa->auth.seq);
        if (sa->auth.have_gss_flags) {
            char fn[160];
            gss_flag_names(sa->auth.gss_flags, fn, sizeof fn);
            g_string_append_printf(s, "; GSS flags 0x%x (%s)", sa->auth.gss_flags, fn);
        }
    }
    note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT, "%s", s->str);
    g_string_free(s, TRUE);

    try_aprep(sa, ctx, notes);
}

/* AP-REP ::= [APPLICATION 15] SEQUENCE { pvno [0], msg-type [1], enc-part [2] EncryptedData }
 * (RFC 4120 5.5.2); decrypted at once when the session key is known, later otherwise. */
static void on_aprep(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes)
{
    krb_der_tlv seq, f;
    int32_t pvno, mtype, etype;
    const uint8_t *cipher;
    size_t clen;
    if (krb_der_app_seq(p, len, 15, &seq) < 0 || krb_der_field(&seq, 0, &f) != 1 ||
        krb_der_int32(&f, &pvno) < 0 || krb_der_field(&seq, 1, &f) != 1 ||
        krb_der_int32(&f, &mtype) < 0 || krb_der_field(&seq, 2, &f) != 1 ||
        parse_encdata(&f, &etype, &cipher, &clen) < 0 || pvno != 5 || mtype != 15) {
        token_bad(sa, notes, NOTE_MALFORMED, "AP-REP",
                  g_strdup("not a well-formed KRB_AP_REP (RFC 4120 5.5.2)"));
        return;
    }
    if (sa->aprep_seen)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN,
                 "Kerberos: a second AP-REP on this SA; it replaces the first one");
    encpart_clear(&sa->aprep_enc);
    inner_clear(&sa->aprep);
    sa->aprep_ok = 0;
    kl_clear(sa);
    sa->aprep_seen = 1;
    sa->aprep_enc.etype = etype;
    sa->aprep_enc.cipher = g_memdup2(cipher, clen);
    sa->aprep_enc.len = clen;
    if (!sa->session.val)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                 "Kerberos AP-REP: not decrypted (the ticket session key is not known%s)",
                 sa->apreq_seen ? "" : "; no AP-REQ seen");
    try_aprep(sa, keystore_krb5_context(ks), notes);
}

/* KRB-ERROR (RFC 4120 5.9.1): decoded by libkrb5 and shown, since it explains a failed logon. */
static void on_krberror(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks,
                        note_list *notes)
{
    krb5_context ctx = keystore_krb5_context(ks);
    krb5_data d = {KV5M_DATA, (unsigned int)len, (char *)p};
    krb5_error *err = NULL;
    if (!ctx || krb5_rd_error(ctx, &d, &err) != 0) {
        token_bad(sa, notes, NOTE_MALFORMED, "KRB-ERROR",
                  g_strdup("not a well-formed KRB_ERROR (RFC 4120 5.9.1)"));
        return;
    }
    char *msg = krb_errtext(ctx, (krb5_error_code)(KRB5KDC_ERR_NONE + (long)err->error));
    GString *t = g_string_new(NULL);
    for (unsigned i = 0; i < err->text.length && i < 200; i++) {
        char c = err->text.data[i];
        if (c == 0)
            break;
        g_string_append_c(t, g_ascii_isprint(c) ? c : '?');
    }
    note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN, "Kerberos KRB-ERROR %u: %s%s%s%s", err->error, msg,
             t->len ? " (e-text \"" : "", t->str, t->len ? "\")" : "");
    g_string_free(t, TRUE);
    g_free(msg);
    krb5_free_error(ctx, err);
}

/* Dispatches one handshake token by its framing and TOK_ID (RFC 4121 4.1: 01 00 AP-REQ,
 * 02 00 AP-REP, 03 00 KRB-ERROR); raw 6e / 6f / 7e messages are accepted as well. */
static void krb_on_token(void *st, mssipae_dir dir, const uint8_t *tok, size_t len,
                         keystore *ks, note_list *notes)
{
    krb_sa *sa = st;
    const uint8_t *msg = tok;
    size_t msglen = len;
    int kind; /* 1 AP-REQ, 2 AP-REP, 3 KRB-ERROR */
    if (!tok || len == 0)
        return;
    if (tok[0] == 0x60) {
        const uint8_t *tokid;
        size_t trailing = 0;
        char *why = NULL;
        gss_res g = gss_unwrap(tok, len, &tokid, &msg, &msglen, &trailing, &why);
        if (g != GSS_OK) {
            token_bad(sa, notes, g == GSS_SPNEGO ? NOTE_UNSUPPORTED : NOTE_MALFORMED, "token",
                      why);
            return;
        }
        if (trailing)
            note_add(notes, NOTE_MALFORMED, NOTE_SEV_NOTE,
                     "Kerberos token: %zu byte(s) after the GSS-API frame ignored", trailing);
        if (tokid[0] == 0x01 && tokid[1] == 0x00)
            kind = 1;
        else if (tokid[0] == 0x02 && tokid[1] == 0x00)
            kind = 2;
        else if (tokid[0] == 0x03 && tokid[1] == 0x00)
            kind = 3;
        else {
            token_bad(sa, notes, NOTE_MALFORMED, "token",
                      g_strdup_printf("unknown TOK_ID %02x %02x (expected 01 00 AP-REQ, 02 00 "
                                      "AP-REP or 03 00 KRB-ERROR)", tokid[0], tokid[1]));
            return;
        }
    } else if (tok[0] == 0x6e) {
        kind = 1;
    } else if (tok[0] == 0x6f) {
        kind = 2;
    } else if (tok[0] == 0x7e) {
        kind = 3;
    } else {
        char *hx = hex_head(tok, len, 16);
        token_bad(sa, notes, NOTE_MALFORMED, "token",
                  g_strdup_printf("gssapi-data (%zu byte(s), %s) is not a Kerberos GSS-API token "
                                  "(expected 60 ... 06 09 2a864886f712010202 01 00 6e ...)%s",
                                  len, hx, len < 16 ? "; a placeholder?" : ""));
        g_free(hx);
        return;
    }
    static const char *const names[] = {"", "AP-REQ", "AP-REP", "KRB-ERROR"};
    mssipae_dir want = kind == 1 ? DIR_C2S : DIR_S2C;
    if (dir != want)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN, "Kerberos %s sent by the %s (expected from "
                 "the %s)", names[kind], dir == DIR_C2S ? "client" : "server",
                 want == DIR_C2S ? "client" : "server");
    if (kind == 1)
        on_apreq(sa, msg, msglen, ks, notes);
    else if (kind == 2)
        on_aprep(sa, msg, msglen, ks, notes);
    else
        on_krberror(sa, msg, msglen, ks, notes);
}

/* ------------------------------------------------------------------ key log */

/* Brings the key-log cache up to date with the line for opaque: the key itself, and the subkeys
 * it decrypts from the kept Authenticator / AP-REP when it is the session key. */
static void kl_refresh(krb_sa *sa, krb5_context ctx, const keylog_entry *e)
{
    if (!e) {
        if (sa->kl_set)
            kl_clear(sa);
        return;
    }
    if (sa->kl_set && sa->kl_src_enctype == e->enctype && sa->kl_src_len == e->key1_len &&
        sa->kl_line == e->line && memcmp(sa->kl_src, e->key1, e->key1_len) == 0)
        return;
    kl_clear(sa);
    sa->kl_set = 1;
    sa->kl_src_enctype = e->enctype;
    sa->kl_src = g_memdup2(e->key1, e->key1_len ? e->key1_len : 1);
    sa->kl_src_len = e->key1_len;
    sa->kl_line = e->line;
    char *why = NULL;
    int r = key_fits(ctx, e->enctype, e->key1_len, &why);
    if (r < 0) {
        sa->kl_why = g_strdup_printf("KERBEROS key-log line %u: %s", e->line, why);
        sa->kl_unsupported = r == -2;
        g_free(why);
        return;
    }
    keyv_set(&sa->kl_key, e->enctype, e->key1, e->key1_len);
    if (sa->auth_enc.cipher && sa->auth_enc.etype == e->enctype &&
        decrypt_inner(ctx, &sa->kl_key, 11, &sa->auth_enc, 0, &sa->kl_auth, &why) < 0) {
        inner_clear(&sa->kl_auth); /* not the session key: fine, it may be a subkey */
        g_free(why);
        why = NULL;
    }
    if (sa->aprep_enc.cipher && sa->aprep_enc.etype == e->enctype &&
        decrypt_inner(ctx, &sa->kl_key, 12, &sa->aprep_enc, 1, &sa->kl_aprep, &why) < 0) {
        inner_clear(&sa->kl_aprep);
        g_free(why);
    }
}

/* ------------------------------------------------------------------ verify */

typedef struct {
    const krb_keyv *k;
    char label[112];
    int authoritative; /* a mismatch with this key proves the signature wrong */
} krb_cand;

typedef struct {
    krb_cand c[8];
    size_t n;
} krb_cands;

/* Adds a candidate key with a printf-formatted label for messages. */
static void cand_add(krb_cands *cs, const krb_keyv *k, int authoritative, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Adds a candidate key (unset keys and duplicates of the same bytes are skipped). */
static void cand_add(krb_cands *cs, const krb_keyv *k, int authoritative, const char *fmt, ...)
{
    if (!k->val || cs->n >= G_N_ELEMENTS(cs->c))
        return;
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].k->enctype == k->enctype && cs->c[i].k->len == k->len &&
            memcmp(cs->c[i].k->val, k->val, k->len) == 0) {
            cs->c[i].authoritative |= authoritative;
            return;
        }
    krb_cand *c = &cs->c[cs->n++];
    c->k = k;
    c->authoritative = authoritative;
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(c->label, sizeof c->label, fmt, ap);
    va_end(ap);
}

/* Why no handshake or key-log key exists for this SA, naming every source looked at. */
static char *nokey_text(const krb_sa *sa, const char *opaque, int *unsupported)
{
    GString *s = g_string_new(NULL);
    *unsupported = 0;
    if (sa->nokey_why) {
        g_string_append(s, sa->nokey_why);
        *unsupported = sa->nokey_unsupported;
    } else if (sa->apreq_seen && !sa->session.val) {
        g_string_append(s, "the AP-REQ gave no usable key");
    } else if (!sa->apreq_seen && sa->bad_token_why) {
        g_string_append_printf(s, "the SA's Kerberos handshake could not be used (%s)",
                               sa->bad_token_why);
    } else if (!sa->apreq_seen) {
        g_string_append(s, "no Kerberos AP-REQ seen on this SA");
    }
    if (sa->kl_why) {
        g_string_append_printf(s, "; %s", sa->kl_why);
        *unsupported |= sa->kl_unsupported;
    } else if (!sa->kl_set) {
        if (opaque)
            g_string_append_printf(s, "; no KERBEROS key-log entry for opaque %s", opaque);
        else
            g_string_append(s, "; no opaque known to look up a KERBEROS key-log entry");
    }
    return g_string_free(s, FALSE);
}

/* The RFC 4121 candidates (4.2.2): AcceptorSubkey set -> the acceptor subkey; clear -> the
 * initiator subkey, or the session key when the Authenticator had none. */
static void cands_cfx(const krb_sa *sa, int acceptor_subkey, krb_cands *cs, GString *miss)
{
    char eb[64];
    if (acceptor_subkey) {
        if (sa->aprep.subkey.val)
            cand_add(cs, &sa->aprep.subkey, 1, "the acceptor subkey (%s) from the AP-REP",
                     etype_name(sa->aprep.subkey.enctype, eb, sizeof eb));
        else if (sa->session.val)
            g_string_append_printf(miss, "%sthe token has flag AcceptorSubkey but %s",
                                   miss->len ? "; " : "",
                                   !sa->aprep_seen ? "no AP-REP was seen"
                                   : !sa->aprep_ok ? "the AP-REP could not be decrypted"
                                                   : "the AP-REP carried no subkey");
        if (sa->kl_aprep.subkey.val)
            cand_add(cs, &sa->kl_aprep.subkey, 1,
                     "the acceptor subkey (%s) from the AP-REP decrypted with key-log line %u",
                     etype_name(sa->kl_aprep.subkey.enctype, eb, sizeof eb), sa->kl_line);
    } else {
        if (sa->auth.subkey.val)
            cand_add(cs, &sa->auth.subkey, 1, "the authenticator subkey (%s) from the AP-REQ",
                     etype_name(sa->auth.subkey.enctype, eb, sizeof eb));
        else if (sa->session.val)
            cand_add(cs, &sa->session, sa->auth_ok, "the ticket session key (%s)%s",
                     etype_name(sa->session.enctype, eb, sizeof eb),
                     sa->auth_ok ? "" : " (the Authenticator could not be read)");
        if (sa->kl_auth.subkey.val)
            cand_add(cs, &sa->kl_auth.subkey, 1, "the authenticator subkey (%s) from the AP-REQ "
                     "decrypted with key-log line %u",
                     etype_name(sa->kl_auth.subkey.enctype, eb, sizeof eb), sa->kl_line);
    }
    if (sa->kl_key.val)
        cand_add(cs, &sa->kl_key, 1, "the key (%s) of KERBEROS key-log line %u",
                 etype_name(sa->kl_key.enctype, eb, sizeof eb), sa->kl_line);
}

/* The RFC 4757 candidates: MIT keeps the initiator subkey, Windows may use the acceptor's
 * (ms-sipae.md 7), so every key the handshake gave is tried. */
static void cands_rc4(const krb_sa *sa, krb_cands *cs)
{
    int complete = sa->auth_ok && (!sa->aprep_seen || sa->aprep_ok);
    cand_add(cs, &sa->auth.subkey, complete, "the authenticator subkey from the AP-REQ");
    cand_add(cs, &sa->aprep.subkey, complete, "the acceptor subkey from the AP-REP");
    cand_add(cs, &sa->session, complete, "the ticket session key");
    cand_add(cs, &sa->kl_auth.subkey, 1,
             "the authenticator subkey decrypted with key-log line %u", sa->kl_line);
    cand_add(cs, &sa->kl_aprep.subkey, 1,
             "the acceptor subkey decrypted with key-log line %u", sa->kl_line);
    cand_add(cs, &sa->kl_key, 1, "the key of KERBEROS key-log line %u", sa->kl_line);
}

/* Result of checking one key. */
typedef enum { CHK_MATCH, CHK_NOMATCH, CHK_SKIP_TYPE, CHK_SKIP_LEN, CHK_ERROR } chk_res;

/* RFC 4121 4.2.6.1: checksum = mandatory checksum of the key's enctype with usage
 * 23 (KG-USAGE-ACCEPTOR-SIGN) or 25 (KG-USAGE-INITIATOR-SIGN) over buffer || token[0..15]. */
static chk_res check_cfx(krb5_context ctx, const krb_keyv *k, krb5_keyusage usage,
                         const uint8_t *data, size_t dlen, const uint8_t *ck, size_t cklen,
                         size_t *want_len)
{
    krb5_keyblock kb = keyv_block(k);
    krb5_checksum mand;
    krb5_data empty = {KV5M_DATA, 0, (char *)""};
    memset(&mand, 0, sizeof mand);
    /* cksumtype 0: libkrb5 picks the enctype's mandatory checksum (RFC 3961 "required") */
    if (krb5_c_make_checksum(ctx, 0, &kb, usage, &empty, &mand) != 0)
        return CHK_SKIP_TYPE;
    krb5_cksumtype type = mand.checksum_type;
    *want_len = mand.length;
    krb5_free_checksum_contents(ctx, &mand);
    if (*want_len != cklen)
        return CHK_SKIP_LEN;
    krb5_checksum c;
    memset(&c, 0, sizeof c);
    c.magic = KV5M_CHECKSUM;
    c.checksum_type = type;
    c.length = (unsigned int)cklen;
    c.contents = (krb5_octet *)ck;
    krb5_data d = {KV5M_DATA, (unsigned int)dlen, (char *)data};
    krb5_boolean valid = FALSE;
    if (krb5_c_verify_checksum(ctx, &kb, usage, &d, &c, &valid) != 0)
        return CHK_ERROR;
    return valid ? CHK_MATCH : CHK_NOMATCH;
}

/* RFC 4757 7.2: SGN_CKSUM = first 8 bytes of the HMAC-MD5 checksum (cksumtype -138, key usage
 * 15) over header8 || buffer; on a match, SND_SEQ is decrypted with
 * Kseq = HMAC_MD5(HMAC_MD5(K, LE32(0)), SGN_CKSUM) to give seq (big endian) || direction. */
static chk_res check_rc4(krb5_context ctx, const krb_keyv *k, const uint8_t *data, size_t dlen,
                         const uint8_t snd[8], const uint8_t ck[8], uint8_t plain_seq[8])
{
    if (k->enctype != ENCTYPE_ARCFOUR_HMAC || k->len != 16)
        return CHK_SKIP_TYPE;
    krb5_keyblock kb = keyv_block(k);
    krb5_checksum c;
    krb5_data d = {KV5M_DATA, (unsigned int)dlen, (char *)data};
    memset(&c, 0, sizeof c);
    if (krb5_c_make_checksum(ctx, CKSUMTYPE_HMAC_MD5_ARCFOUR, &kb, 15, &d, &c) != 0)
        return CHK_ERROR;
    int eq = c.length >= 8 && ct_memeq(c.contents, ck, 8);
    krb5_free_checksum_contents(ctx, &c);
    if (!eq)
        return CHK_NOMATCH;
    static const uint8_t zero4[4] = {0, 0, 0, 0};
    uint8_t t[MD5_DIGEST_SIZE], kseq[MD5_DIGEST_SIZE];
    struct hmac_md5_ctx h;
    hmac_md5_set_key(&h, k->len, k->val);
    hmac_md5_update(&h, sizeof zero4, zero4);
    hmac_md5_digest(&h, sizeof t, t);
    hmac_md5_set_key(&h, sizeof t, t);
    hmac_md5_update(&h, 8, ck);
    hmac_md5_digest(&h, sizeof kseq, kseq);
    struct arcfour_ctx rc4;
    arcfour_set_key(&rc4, sizeof kseq, kseq);
    arcfour_crypt(&rc4, 8, plain_seq, snd);
    explicit_bzero(t, sizeof t);
    explicit_bzero(kseq, sizeof kseq);
    explicit_bzero(&h, sizeof h);
    explicit_bzero(&rc4, sizeof rc4);
    return CHK_MATCH;
}

/* Names a token's sender from the observer's side, for messages. */
static const char *who(int acceptor)
{
    return acceptor ? "server (acceptor)" : "client (initiator)";
}

/* Names the header kind a direction implies, for reflection messages. */
static const char *hdr_of(mssipae_dir dir)
{
    return dir == DIR_S2C ? "a server header (rspauth=)" : "a client header (response=)";
}

/* Turns the tally of tried keys into a verdict when none matched. */
static sig_verdict no_match(const krb_sa *sa, const char *opaque, const char *fmt_name,
                            const krb_cands *cs, const chk_res *res, size_t want_len,
                            size_t cklen, GString *miss, note_list *notes)
{
    int tried = 0, auth = 0, badlen = 0, badtype = 0;
    GString *t = g_string_new(NULL);
    for (size_t i = 0; i < cs->n; i++) {
        if (res[i] == CHK_NOMATCH) {
            tried++;
            auth |= cs->c[i].authoritative;
            g_string_append_printf(t, "%s%s", t->len ? ", " : "", cs->c[i].label);
        } else if (res[i] == CHK_SKIP_LEN) {
            badlen++;
        } else if (res[i] == CHK_SKIP_TYPE || res[i] == CHK_ERROR) {
            badtype++;
        }
    }
    sig_verdict v;
    if (tried && auth) {
        v = verdict_make(SIG_INVALID, "%s does not verify with %s", fmt_name, t->str);
        note_add(notes, NOTE_INVALID, NOTE_SEV_WARN, "Kerberos: %s", v.why);
    } else if (tried) {
        v = verdict_make(SIG_NO_KEY, "%s does not verify with %s, which may not be the key the "
                         "sender used", fmt_name, t->str);
        note_add(notes, NOTE_NO_KEY, NOTE_SEV_WARN, "Kerberos: %s", v.why);
    } else if (badlen) {
        v = verdict_make(SIG_MALFORMED, "%s checksum field is %zu bytes; the key's mandatory "
                         "checksum is %zu bytes", fmt_name, cklen, want_len);
    } else if (badtype) {
        v = verdict_make(SIG_NO_KEY, "%s needs an %s key; this SA's keys are of other enctypes",
                         fmt_name, strcmp(fmt_name, "RFC 4757 MIC") == 0
                                           ? "RC4-HMAC (enctype 23)" : "AES or RC4");
        note_add(notes, NOTE_NO_KEY, NOTE_SEV_WARN, "Kerberos: %s", v.why);
    } else {
        int unsup = 0;
        char *nk = nokey_text(sa, opaque, &unsup);
        v = verdict_make(unsup ? SIG_UNSUPPORTED : SIG_NO_KEY, "%s%s%s", miss->str,
                         miss->len ? "; " : "", nk);
        note_add(notes, unsup ? NOTE_UNSUPPORTED : NOTE_NO_KEY, NOTE_SEV_WARN, "Kerberos: %s",
                 v.why);
        g_free(nk);
    }
    g_string_free(t, TRUE);
    return v;
}

/* RFC 4121 4.2.6.1 MIC token: 04 04 | Flags | FF x5 | SND_SEQ (8) | SGN_CKSUM. */
static sig_verdict verify_cfx(krb_sa *sa, krb5_context ctx, const char *opaque,
                              mssipae_dir dir, const uint8_t *buf, size_t buflen,
                              const uint8_t *sig, size_t siglen, note_list *notes)
{
    if (siglen < 16)
        return verdict_make(SIG_MALFORMED, "RFC 4121 MIC token of %zu bytes (header alone is 16)",
                            siglen);
    uint8_t flags = sig[2];
    if (flags & 0x02)
        return verdict_make(SIG_MALFORMED, "RFC 4121 MIC token with flag Sealed (0x02), which "
                            "only Wrap tokens carry");
    for (int i = 3; i < 8; i++)
        if (sig[i] != 0xff)
            return verdict_make(SIG_MALFORMED, "RFC 4121 MIC token filler byte %d is %02x, not "
                                "ff", i, sig[i]);
    int acceptor = flags & 0x01, acc_subkey = (flags & 0x04) != 0;
    uint32_t seq_hi = (uint32_t)sig[8] << 24 | (uint32_t)sig[9] << 16 | (uint32_t)sig[10] << 8 |
                      sig[11];
    uint32_t seq_lo = (uint32_t)sig[12] << 24 | (uint32_t)sig[13] << 16 |
                      (uint32_t)sig[14] << 8 | sig[15];
    krb5_keyusage usage = acceptor ? 23 : 25;

    krb_cands cs;
    memset(&cs, 0, sizeof cs);
    GString *miss = g_string_new(NULL);
    cands_cfx(sa, acc_subkey, &cs, miss);
    if (!acc_subkey && sa->aprep.subkey.val)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE, "Kerberos: the AP-REP set an acceptor subkey "
                 "but this RFC 4121 token lacks flag AcceptorSubkey (0x04): checked with the "
                 "initiator's key");

    /* data = buffer || first 16 bytes of the token (RFC 4121 4.2.4) */
    size_t dlen = buflen + 16;
    uint8_t *data = g_malloc(dlen);
    if (buflen)
        memcpy(data, buf, buflen);
    memcpy(data + buflen, sig, 16);
    chk_res res[G_N_ELEMENTS(cs.c)];
    size_t want_len = 0;
    sig_verdict v = {SIG_NONE, NULL};
    for (size_t i = 0; i < cs.n && v.status == SIG_NONE; i++) {
        res[i] = check_cfx(ctx, cs.c[i].k, usage, data, dlen, sig + 16, siglen - 16, &want_len);
        if (res[i] != CHK_MATCH)
            continue;
        char seqs[40];
        if (seq_hi)
            g_snprintf(seqs, sizeof seqs, "0x%08x%08x", seq_hi, seq_lo);
        else
            g_snprintf(seqs, sizeof seqs, "0x%08x", seq_lo);
        if (acceptor != (dir == DIR_S2C)) {
            v = verdict_make(SIG_INVALID, "RFC 4121 MIC made by the %s, flag SentByAcceptor %s, "
                             "is carried in %s: a reflected signature", who(acceptor),
                             acceptor ? "set" : "clear", hdr_of(dir));
            note_add(notes, NOTE_INVALID, NOTE_SEV_WARN, "Kerberos: %s", v.why);
        } else {
            v = verdict_make(SIG_VALID, "RFC 4121 MIC verified with %s, key usage %d (sent by "
                             "the %s), SND_SEQ %s", cs.c[i].label, (int)usage, who(acceptor), seqs);
        }
    }
    explicit_bzero(data, dlen);
    g_free(data);
    if (v.status == SIG_NONE) {
        if (cs.n == 0 && acceptor != (dir == DIR_S2C))
            note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN, "Kerberos: RFC 4121 MIC with flag "
                     "SentByAcceptor %s is carried in %s", acceptor ? "set" : "clear",
                     hdr_of(dir));
        v = no_match(sa, opaque, "RFC 4121 MIC", &cs, res, want_len, siglen - 16, miss, notes);
    }
    g_string_free(miss, TRUE);
    return v;
}

/* RFC 4757 7.2 MIC token (GSS-framed, 37 bytes): TOK_ID 01 01 | SGN_ALG 11 00 | SEAL_ALG ff ff |
 * Filler ff ff | SND_SEQ (8, encrypted) | SGN_CKSUM (8). hdr points at TOK_ID, 24 bytes. */
static sig_verdict verify_rc4(krb_sa *sa, krb5_context ctx, const char *opaque,
                              mssipae_dir dir, const uint8_t *buf, size_t buflen,
                              const uint8_t *hdr, note_list *notes)
{
    if (hdr[2] == 0x11 && hdr[3] == 0x00) {
        /* RFC 4757 HMAC-MD5: handled below */
    } else if (hdr[3] == 0x00 && hdr[2] <= 0x02) {
        return verdict_make(SIG_UNSUPPORTED, "RFC 1964 DES-based MIC (SGN_ALG %02x %02x) is not "
                            "supported", hdr[2], hdr[3]);
    } else {
        return verdict_make(SIG_MALFORMED, "Kerberos MIC with unknown SGN_ALG %02x %02x",
                            hdr[2], hdr[3]);
    }
    if (hdr[4] != 0xff || hdr[5] != 0xff || hdr[6] != 0xff || hdr[7] != 0xff)
        return verdict_make(SIG_MALFORMED, "RFC 4757 MIC: SEAL_ALG / Filler are %02x%02x %02x%02x, "
                            "not ffff ffff", hdr[4], hdr[5], hdr[6], hdr[7]);
    krb_cands cs;
    memset(&cs, 0, sizeof cs);
    cands_rc4(sa, &cs);

    /* checksum input = header8 (TOK_ID .. Filler) || buffer (RFC 4757 7.2) */
    size_t dlen = buflen + 8;
    uint8_t *data = g_malloc(dlen);
    memcpy(data, hdr, 8);
    if (buflen)
        memcpy(data + 8, buf, buflen);
    chk_res res[G_N_ELEMENTS(cs.c)];
    sig_verdict v = {SIG_NONE, NULL};
    for (size_t i = 0; i < cs.n && v.status == SIG_NONE; i++) {
        uint8_t ps[8];
        res[i] = check_rc4(ctx, cs.c[i].k, data, dlen, hdr + 8, hdr + 16, ps);
        if (res[i] != CHK_MATCH)
            continue;
        uint32_t seq = (uint32_t)ps[0] << 24 | (uint32_t)ps[1] << 16 | (uint32_t)ps[2] << 8 | ps[3];
        int acceptor;
        if (ps[4] == 0 && ps[5] == 0 && ps[6] == 0 && ps[7] == 0)
            acceptor = 0;
        else if (ps[4] == 0xff && ps[5] == 0xff && ps[6] == 0xff && ps[7] == 0xff)
            acceptor = 1;
        else {
            v = verdict_make(SIG_INVALID, "RFC 4757 MIC: checksum matches with %s but SND_SEQ "
                             "decrypts to direction %02x%02x%02x%02x (neither 00000000 nor "
                             "ffffffff)", cs.c[i].label, ps[4], ps[5], ps[6], ps[7]);
            note_add(notes, NOTE_INVALID, NOTE_SEV_WARN, "Kerberos: %s", v.why);
            break;
        }
        if (acceptor != (dir == DIR_S2C)) {
            v = verdict_make(SIG_INVALID, "RFC 4757 MIC made by the %s, SND_SEQ direction %s, is "
                             "carried in %s: a reflected signature", who(acceptor),
                             acceptor ? "ffffffff" : "00000000", hdr_of(dir));
            note_add(notes, NOTE_INVALID, NOTE_SEV_WARN, "Kerberos: %s", v.why);
        } else {
            /* SND_SEQ is encrypted, not checksummed (RFC 4757 7.2): show it so that a changed
             * sequence number is visible */
            v = verdict_make(SIG_VALID, "RFC 4757 MIC verified with %s, key usage 15 (sent by the "
                             "%s), SND_SEQ 0x%08x", cs.c[i].label, who(acceptor), seq);
        }
    }
    explicit_bzero(data, dlen);
    g_free(data);
    if (v.status == SIG_NONE) {
        GString *miss = g_string_new(NULL);
        v = no_match(sa, opaque, "RFC 4757 MIC", &cs, res, 0, 8, miss, notes);
        g_string_free(miss, TRUE);
    }
    return v;
}

/* Tells the token format by its first bytes (ms-sipae.md 7) and checks it with every key the SA
 * or the key log offers. */
static sig_verdict krb_verify(void *st, keystore *ks, const char *opaque, mssipae_dir dir,
                              const uint8_t *buf, size_t buflen, const uint8_t *sig,
                              size_t siglen, note_list *notes)
{
    krb_sa *sa = st;
    krb5_context ctx = keystore_krb5_context(ks);
    if (!sig || siglen < 2)
        return verdict_make(SIG_MALFORMED, "Kerberos signature of %zu byte(s)", sig ? siglen : 0);
    if (!buf)
        buflen = 0;
    int cfx = 0;
    const uint8_t *rc4hdr = NULL;
    if (sig[0] == 0x04 && sig[1] == 0x04) {
        cfx = 1;
    } else if (sig[0] == 0x05 && sig[1] == 0x04) {
        return verdict_make(SIG_MALFORMED, "an RFC 4121 Wrap token (05 04), not a MIC");
    } else if (sig[0] == 0x60) {
        const uint8_t *tokid, *rest;
        size_t restlen, trailing = 0;
        char *why = NULL;
        gss_res g = gss_unwrap(sig, siglen, &tokid, &rest, &restlen, &trailing, &why);
        if (g != GSS_OK) {
            sig_verdict v = verdict_make(g == GSS_SPNEGO ? SIG_UNSUPPORTED : SIG_MALFORMED,
                                         "Kerberos signature: %s", why);
            g_free(why);
            return v;
        }
        if (tokid[0] != 0x01 || tokid[1] != 0x01)
            return verdict_make(SIG_MALFORMED, "GSS-framed Kerberos token with TOK_ID %02x %02x, "
                                "not a MIC (01 01)", tokid[0], tokid[1]);
        if (restlen != 22 || trailing)
            return verdict_make(SIG_MALFORMED, "RFC 1964/4757 MIC token of %zu bytes (expected "
                                "37 with the GSS framing)", siglen);
        rc4hdr = tokid;
    } else if (sig[0] == 0x01 && sig[1] == 0x01 && siglen == 24) {
        rc4hdr = sig; /* an RFC 4757 MIC without its GSS framing */
    } else {
        char *hx = hex_head(sig, siglen, 8);
        sig_verdict v = verdict_make(SIG_MALFORMED, "unknown Kerberos signature format (%zu "
                                     "bytes, %s): neither an RFC 4121 (04 04) nor an RFC 4757 "
                                     "(60 ...) MIC token", siglen, hx);
        g_free(hx);
        return v;
    }
    if (!ctx)
        return verdict_make(SIG_NO_KEY, "libkrb5 context unavailable");
    kl_refresh(sa, ctx, opaque ? keystore_keylog_find(ks, KEYLOG_KERBEROS, opaque) : NULL);
    if (cfx)
        return verify_cfx(sa, ctx, opaque, dir, buf, buflen, sig, siglen, notes);
    return verify_rc4(sa, ctx, opaque, dir, buf, buflen, rc4hdr, notes);
}

/* ------------------------------------------------------------------ test accessors */

/* Test accessor (krb.h): a handshake key, borrowed. */
int krb_sa_key(const void *st, krb_key_role role, int32_t *enctype, const uint8_t **key,
               size_t *len)
{
    const krb_sa *sa = st;
    const krb_keyv *k = role == KRB_KEY_SESSION ? &sa->session
                        : role == KRB_KEY_AUTH_SUBKEY ? &sa->auth.subkey
                                                      : &sa->aprep.subkey;
    if (!k->val)
        return 0;
    *enctype = k->enctype;
    *key = k->val;
    *len = k->len;
    return 1;
}

/* Test accessor (krb.h): a handshake fact. */
int krb_sa_fact(const void *st, krb_fact fact, uint32_t *out)
{
    const krb_sa *sa = st;
    switch (fact) {
    case KRB_FACT_TICKET_ENCTYPE:
        *out = (uint32_t)sa->tkt_enctype;
        return sa->apreq_seen;
    case KRB_FACT_TICKET_KVNO:
        *out = sa->tkt_kvno;
        return sa->apreq_seen;
    case KRB_FACT_AUTH_SEQ:
        *out = sa->auth.seq;
        return sa->auth_ok && sa->auth.have_seq;
    case KRB_FACT_APREP_SEQ:
        *out = sa->aprep.seq;
        return sa->aprep_ok && sa->aprep.have_seq;
    case KRB_FACT_GSS_FLAGS:
        *out = sa->auth.gss_flags;
        return sa->auth_ok && sa->auth.have_gss_flags;
    }
    return 0;
}

const mech_ops mech_kerberos_ops = {
    .scheme = "Kerberos",
    .keylog = KEYLOG_KERBEROS,
    .sa_new = krb_sa_new,
    .sa_free = krb_sa_free,
    .on_token = krb_on_token,
    .verify = krb_verify,
};
