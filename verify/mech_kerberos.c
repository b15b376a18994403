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
#include "verify/krb_int.h"
#include "sigbuf/codec.h"

#include <string.h>

/* ------------------------------------------------------------------ state */

/* Wipes and frees a key so secrets do not linger in freed heap memory. */
void krb_keyv_clear(krb_keyv *k)
{
    krb_keyx_free(k->x); /* zaps the krb5_key and its derived keys, wipes the HMAC states */
    secure_wipe(k, sizeof *k);
}

/* Copies key bytes into an SA-owned key (len <= KRB_KEY_MAX: krb_key_fits checked it). */
void krb_keyv_set(krb_keyv *k, int32_t enctype, const uint8_t *val, size_t len)
{
    krb_keyv_clear(k);
    if (len > KRB_KEY_MAX)
        return; /* no libkrb5 enctype has a longer key */
    k->enctype = enctype;
    memcpy(k->val, val, len);
    k->len = (uint8_t)len;
}

/* A krb5 view of an SA key, for the krb5_c_* calls (which never modify it). */
krb5_keyblock krb_keyv_block(const krb_keyv *k)
{
    krb5_keyblock kb;
    memset(&kb, 0, sizeof kb);
    kb.magic = KV5M_KEYBLOCK;
    kb.enctype = k->enctype;
    kb.length = k->len;
    kb.contents = (krb5_octet *)k->val;
    return kb;
}

/* Frees a kept EncryptedData (ciphertext only: nothing secret). */
void krb_encpart_clear(krb_encpart *e)
{
    g_free(e->cipher);
    memset(e, 0, sizeof *e);
}

/* Forgets what an Authenticator / EncAPRepPart gave, wiping its subkey. */
void krb_inner_clear(krb_inner *in)
{
    krb_keyv_clear(&in->subkey);
    memset(in, 0, sizeof *in);
}

void krb_sa_changed(krb_sa *sa)
{
    sa->stale = 1;
}

static const krb_kl kl_none;

const krb_kl *krb_sa_kl(const krb_sa *sa)
{
    const krb_kl *kl = krb_sa_klp(sa);
    return kl ? kl : &kl_none;
}

const krb_keyv *krb_src_key(const krb_sa *sa, krb_src src)
{
    const krb_kl *kl = krb_sa_kl(sa);
    switch (src) {
    case KRB_SRC_SESSION:
        return &sa->session;
    case KRB_SRC_AUTH_SUBKEY:
        return &sa->auth.subkey;
    case KRB_SRC_APREP_SUBKEY:
        return &sa->aprep.subkey;
    case KRB_SRC_KL_AUTH_SUBKEY:
        return &kl->auth.subkey;
    case KRB_SRC_KL_APREP_SUBKEY:
        return &kl->aprep.subkey;
    case KRB_SRC_KL_KEY:
    default:
        return &kl->key;
    }
}

/* The key that last verified a signature, or NULL. */
static const krb_keyv *verified_key(const krb_sa *sa)
{
    if (sa->verified_src == KRB_VERIFIED_COPY)
        return sa->rare->verified_copy;
    if (sa->verified_src)
        return krb_src_key(sa, (krb_src)(sa->verified_src - 1));
    return NULL;
}

static void verified_clear(krb_sa *sa)
{
    if (sa->rare && sa->rare->verified_copy) {
        krb_keyv_clear(sa->rare->verified_copy);
        g_free(sa->rare->verified_copy);
        sa->rare->verified_copy = NULL;
    }
    sa->verified_src = 0;
}

/* Makes the verified key a copy of its own when it is the key of src, which is about to change. */
void krb_verified_pin(krb_sa *sa, krb_src src)
{
    if (sa->verified_src != (uint8_t)(src + 1))
        return;
    const krb_keyv *k = krb_src_key(sa, src);
    krb_keyv *c = g_new0(krb_keyv, 1);
    krb_keyv_set(c, k->enctype, k->val, k->len);
    krb_rare(sa)->verified_copy = c;
    sa->verified_src = KRB_VERIFIED_COPY;
}

/* Remembers the key (of source src) that verified a signature: the SA's key, for the key export.
 * The handshake's own keys are referred to (they change only with a new AP-REQ, which forgets
 * this, or a new AP-REP, which pins it); key-log keys are copied. */
void krb_remember_verified(krb_sa *sa, krb_src src, const krb_keyv *k)
{
    const krb_keyv *cur = verified_key(sa);
    if (cur == k || (cur && cur->enctype == k->enctype && cur->len == k->len &&
                     memcmp(cur->val, k->val, k->len) == 0))
        return;
    if (src <= KRB_SRC_APREP_SUBKEY) {
        verified_clear(sa);
        sa->verified_src = (uint8_t)(src + 1);
        return;
    }
    krb_keyv *c = g_new0(krb_keyv, 1);
    krb_keyv_set(c, k->enctype, k->val, k->len);
    verified_clear(sa);
    krb_rare(sa)->verified_copy = c;
    sa->verified_src = KRB_VERIFIED_COPY;
}

/* Forgets the key-log cache, e.g. when the handshake or the key-log line changed. */
void krb_kl_clear(krb_sa *sa)
{
    krb_sa_changed(sa);
    krb_kl *kl = krb_sa_klp(sa);
    if (!kl)
        return;
    if (kl->src) {
        secure_wipe(kl->src, kl->src_len);
        g_free(kl->src);
    }
    krb_keyv_clear(&kl->key);
    krb_inner_clear(&kl->auth);
    krb_inner_clear(&kl->aprep);
    g_free(kl->why);
    g_free(kl);
    sa->rare->kl = NULL;
}

/* Forgets everything an AP-REQ established (a second AP-REQ on one SA starts over). */
void krb_apreq_clear(krb_sa *sa)
{
    verified_clear(sa);
    sa->apreq_seen = 0;
    sa->client = NULL; /* the capture's copy (cap) */
    sa->tkt_enctype = 0;
    sa->tkt_kvno = 0;
    krb_keyv_clear(&sa->session);
    sa->auth_ok = 0;
    krb_inner_clear(&sa->auth);
    krb_encpart_clear(&sa->auth_enc);
    sa->aprep_ok = 0;
    krb_inner_clear(&sa->aprep);
    if (sa->rare) {
        g_free(sa->rare->nokey_why);
        sa->rare->nokey_why = NULL;
    }
    sa->nokey_unsupported = 0;
    krb_kl_clear(sa);
}

static void *krb_cap_new_v(void)
{
    return krb_cap_new();
}

static void krb_cap_free_v(void *cap)
{
    krb_cap_free(cap);
}

/* A fresh SA knows nothing: every field zero means "not seen". Without a per-capture state (unit
 * tests), the SA makes its own. */
static void *krb_sa_new(void *cap)
{
    krb_sa *sa = g_new0(krb_sa, 1);
    sa->cap = cap;
    if (!cap) {
        sa->cap = krb_cap_new();
        sa->own_cap = 1;
    }
    return sa;
}

/* Frees the SA, wiping every key it holds. */
static void krb_sa_free(void *st)
{
    krb_sa *sa = st;
    if (!sa)
        return;
    krb_apreq_clear(sa);
    verified_clear(sa);
    krb_encpart_clear(&sa->aprep_enc);
    if (sa->rare) { /* krb_apreq_clear freed its key-log cache and nokey_why */
        g_free(sa->rare->bad_token_why);
        keystore_keylog_memo_clear(&sa->rare->memo);
        g_free(sa->rare);
    }
    if (sa->own_cap)
        krb_cap_free(sa->cap);
    g_free(sa);
}


/* ------------------------------------------------------------------ dispatch */

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
    krb_sa_changed(sa); /* whatever the token changes, the per-message caches are stale */
    if (tok[0] == 0x60) {
        const uint8_t *tokid;
        size_t trailing = 0;
        char *why = NULL;
        gss_res g = krb_gss_unwrap(tok, len, &tokid, &msg, &msglen, &trailing, &why);
        if (g != GSS_OK) {
            krb_token_bad(sa, notes, g == GSS_SPNEGO ? NOTE_UNSUPPORTED : NOTE_MALFORMED, "token",
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
            krb_token_bad(sa, notes, NOTE_MALFORMED, "token",
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
        char *hx = krb_hex_head(tok, len, 16);
        krb_token_bad(sa, notes, NOTE_MALFORMED, "token",
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
        krb_on_apreq(sa, msg, msglen, ks, notes);
    else if (kind == 2)
        krb_on_aprep(sa, msg, msglen, ks, notes);
    else
        krb_on_krberror(sa, msg, msglen, ks, notes);
}

/* The key-log line for the SA's opaque, or NULL. Without a KERBEROS line in the key log (or
 * without a key log) every lookup answers NULL, so no memo is made for it (issue 10: the memo and
 * its copy of the opaque were 72 bytes per SA); the listing looks at the key-log file as a lookup
 * does. */
static const keylog_entry *kl_line(krb_sa *sa, keystore *ks, const char *opaque)
{
    const char *const *ids;
    if (!opaque || keystore_keylog_ids_view(ks, KEYLOG_KERBEROS, &ids) == 0)
        return NULL;
    return keystore_keylog_find_memo(ks, KEYLOG_KERBEROS, opaque, &krb_rare(sa)->memo);
}

/* Tells the token format by its first bytes (ms-sipae.md 7) and checks it with every key the SA
 * or the key log offers. */
static sig_verdict krb_verify(void *st, keystore *ks, const char *opaque, mssipae_dir dir,
                              const uint8_t *buf, size_t buflen, const uint8_t *sig,
                              size_t siglen, note_list *notes, G_GNUC_UNUSED int later)
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
        gss_res g = krb_gss_unwrap(sig, siglen, &tokid, &rest, &restlen, &trailing, &why);
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
        char *hx = krb_hex_head(sig, siglen, 8);
        sig_verdict v = verdict_make(SIG_MALFORMED, "unknown Kerberos signature format (%zu "
                                     "bytes, %s): neither an RFC 4121 (04 04) nor an RFC 4757 "
                                     "(60 ...) MIC token", siglen, hx);
        g_free(hx);
        return v;
    }
    if (!ctx)
        return verdict_make(SIG_NO_KEY, "libkrb5 context unavailable");
    krb_kl_refresh(sa, ctx, kl_line(sa, ks, opaque));
    if (cfx)
        return krb_verify_cfx(sa, ctx, opaque, dir, buf, buflen, sig, siglen, notes);
    return krb_verify_rc4(sa, ctx, opaque, dir, buf, buflen, rc4hdr, notes);
}

/* Test accessor (krb.h): a handshake key, borrowed. */
int krb_sa_key(const void *st, krb_key_role role, int32_t *enctype, const uint8_t **key,
               size_t *len)
{
    const krb_sa *sa = st;
    const krb_keyv *k = role == KRB_KEY_SESSION ? &sa->session
                        : role == KRB_KEY_AUTH_SUBKEY ? &sa->auth.subkey
                                                      : &sa->aprep.subkey;
    if (!k->len)
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


/* The client's only Kerberos handshake token is its AP-REQ (TOK_ID 01 00, or a raw 6e ...),
 * which version 4 already signs (ms-sipae.md 3). */
static int krb_is_final_client_token(const uint8_t *tok, size_t len)
{
    if (len && tok[0] == 0x6e)
        return 1;
    const uint8_t *tokid, *rest;
    size_t restlen, trailing;
    char *why = NULL;
    if (krb_gss_unwrap(tok, len, &tokid, &rest, &restlen, &trailing, &why) != GSS_OK) {
        g_free(why);
        return 0;
    }
    return tokid[0] == 0x01 && tokid[1] == 0x00;
}

/* The client principal from the decrypted ticket, for statistics. */
static char *krb_client_name(const void *st)
{
    const krb_sa *sa = st;
    return g_strdup(sa->client);
}

/* "KERBEROS <opaque> <enctype> <key>": the key that verified a signature, else the key the
 * handshake says signs (RFC 4121 4.2.2: acceptor subkey, initiator subkey, session key). */
static size_t krb_export_keys(const void *st, const char *const *opaques, size_t n, GString *out)
{
    const krb_sa *sa = st;
    const krb_keyv *k = verified_key(sa) ? verified_key(sa)
                        : sa->aprep.subkey.len ? &sa->aprep.subkey
                        : sa->auth.subkey.len ? &sa->auth.subkey
                        : sa->auth_ok && sa->session.len ? &sa->session : NULL;
    if (!k)
        return 0;
    char *hex = codec_hex_encode(k->val, k->len);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "KERBEROS %s %d %s\n", opaques[i], (int)k->enctype, hex);
    secure_wipe(hex, strlen(hex));
    g_free(hex);
    return n;
}

const mech_ops mech_kerberos_ops = {
    .scheme = mech_schemes[MECH_SCHEME_KERBEROS],
    .keylog = KEYLOG_KERBEROS,
    .cap_new = krb_cap_new_v,
    .cap_free = krb_cap_free_v,
    .sa_new = krb_sa_new,
    .sa_free = krb_sa_free,
    .is_final_client_token = krb_is_final_client_token,
    .client_name = krb_client_name,
    .export_keys = krb_export_keys,
    .on_token = krb_on_token,
    .verify = krb_verify,
};
