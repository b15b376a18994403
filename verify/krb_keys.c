/* krb_keys.c - Kerberos: which keys a MIC is checked with (RFC 4121 4.2.2, ms-sipae.md 7), and key-log keys. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>
#include <stdarg.h>

/* Copies what an Authenticator / EncAPRepPart gave (the subkey bytes, not their caches). */
static void inner_copy(krb_inner *dst, const krb_inner *src)
{
    krb_inner_clear(dst);
    if (src->subkey.len)
        krb_keyv_set(&dst->subkey, src->subkey.enctype, src->subkey.val, src->subkey.len);
    dst->seq = src->seq;
    dst->have_seq = src->have_seq;
    dst->gss_flags = src->gss_flags;
    dst->have_gss_flags = src->have_gss_flags;
}

/* Whether the key-log key is the ticket session key (same enctype and bytes). */
static int kl_is_session(const krb_sa *sa, const krb_keyv *k)
{
    return sa->session.len && k->enctype == sa->session.enctype && k->len == sa->session.len &&
           memcmp(k->val, sa->session.val, k->len) == 0;
}

/* Brings the key-log cache up to date with the line for opaque: the key itself, and the subkeys
 * it decrypts from the kept Authenticator / AP-REP when it is the session key. Once the session
 * key opened them, their ciphertext is no longer kept: the key-log key opens them exactly when it
 * is that session key (their integrity checks fail for any other key), and then gives what the
 * session key gave. */
void krb_kl_refresh(krb_sa *sa, krb5_context ctx, const keylog_entry *e)
{
    if (!e) {
        if (krb_sa_klp(sa))
            krb_kl_clear(sa);
        return;
    }
    krb_kl *kl = krb_sa_klp(sa);
    if (kl && kl->src_enctype == e->enctype && kl->src_len == e->key1_len &&
        kl->line == e->line && memcmp(kl->src, e->key1, e->key1_len) == 0)
        return;
    krb_kl_clear(sa); /* marks the caches stale */
    kl = krb_rare(sa)->kl = g_new0(krb_kl, 1);
    kl->src_enctype = e->enctype;
    kl->src = g_memdup2(e->key1, e->key1_len ? e->key1_len : 1);
    kl->src_len = e->key1_len;
    kl->line = e->line;
    char *why = NULL;
    int r = krb_key_fits(ctx, e->enctype, e->key1_len, &why);
    if (r < 0) {
        kl->why = g_strdup_printf("KERBEROS key-log line %u: %s", e->line, why);
        kl->unsupported = r == -2;
        g_free(why);
        return;
    }
    krb_keyv_set(&kl->key, e->enctype, e->key1, e->key1_len);
    if (sa->auth_enc.len && sa->auth_enc.etype == e->enctype) {
        if (!sa->auth_enc.cipher) { /* opened by the session key (auth_ok) */
            if (kl_is_session(sa, &kl->key)) {
                inner_copy(&kl->auth, &sa->auth);
                kl->auth_ok = 1;
            }
        } else if (krb_decrypt_inner(ctx, &kl->key, 11, &sa->auth_enc, 0, &kl->auth, &why) < 0) {
            krb_inner_clear(&kl->auth); /* not the session key: fine, it may be a subkey */
            g_free(why);
            why = NULL;
        } else {
            kl->auth_ok = 1;
        }
    }
    if (sa->aprep_enc.len && sa->aprep_enc.etype == e->enctype) {
        if (!sa->aprep_enc.cipher) { /* opened by the session key (aprep_ok) */
            if (kl_is_session(sa, &kl->key))
                inner_copy(&kl->aprep, &sa->aprep);
        } else if (krb_decrypt_inner(ctx, &kl->key, 12, &sa->aprep_enc, 1, &kl->aprep, &why) < 0) {
            krb_inner_clear(&kl->aprep);
            g_free(why);
        }
    }
}

/* Whether a mismatch with the key-log key itself proves a signature wrong. The key-log format
 * allows the ticket session key or a subkey, and nothing but the capture tells which: the key is
 * trusted once it verified a signature of this SA, or when it decrypted the AP-REQ's
 * Authenticator (it is the session key) and that carried no subkey (so the session key signs).
 * Keys it decrypts out of the AP-REQ / AP-REP are always trusted. */
static int kl_key_trusted(const krb_sa *sa)
{
    const krb_kl *kl = krb_sa_kl(sa);
    return kl->proven || (kl->auth_ok && !kl->auth.subkey.len);
}

/* Adds a candidate key (of source src) with a printf-formatted label for messages (formatted
 * only when labels). */
static void cand_add(krb_cands *cs, const krb_sa *sa, krb_src src, int authoritative, int labels,
                     const char *fmt, ...) G_GNUC_PRINTF(6, 7);

/* Adds a candidate key (unset keys and duplicates of the same bytes are skipped). */
static void cand_add(krb_cands *cs, const krb_sa *sa, krb_src src, int authoritative, int labels,
                     const char *fmt, ...)
{
    const krb_keyv *k = krb_src_key(sa, src);
    if (!k->len)
        return;
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].k->enctype == k->enctype && cs->c[i].k->len == k->len &&
            memcmp(cs->c[i].k->val, k->val, k->len) == 0) {
            cs->c[i].authoritative |= authoritative;
            return;
        }
    if (cs->n >= G_N_ELEMENTS(cs->c)) {
        cs->dropped++; /* reported by the caller (krb_cands_note) */
        return;
    }
    krb_cand *c = &cs->c[cs->n++];
    c->k = k;
    c->src = src;
    c->authoritative = authoritative;
    c->label[0] = 0;
    if (labels) {
        va_list ap;
        va_start(ap, fmt);
        g_vsnprintf(c->label, sizeof c->label, fmt, ap);
        va_end(ap);
    }
}

/* Why no handshake or key-log key exists for this SA, naming every source looked at; its parts
 * are joined with "; ", an empty part adding nothing (no leading or doubled separator). */
char *krb_nokey_text(const krb_sa *sa, const char *opaque, int *unsupported)
{
    GString *s = g_string_new(NULL);
    *unsupported = 0;
    if (krb_sa_nokey_why(sa)) {
        g_string_append(s, krb_sa_nokey_why(sa));
        *unsupported = sa->nokey_unsupported;
    } else if (sa->apreq_seen && !sa->session.len) {
        g_string_append(s, "the AP-REQ gave no usable key");
    } else if (!sa->apreq_seen && krb_sa_bad_token_why(sa)) {
        g_string_append_printf(s, "the SA's Kerberos handshake could not be used (%s)",
                               krb_sa_bad_token_why(sa));
    } else if (!sa->apreq_seen) {
        g_string_append(s, "no Kerberos AP-REQ seen on this SA");
    }
    const krb_kl *kl = krb_sa_kl(sa);
    const char *sep = s->len ? "; " : ""; /* the handshake part may be empty */
    if (kl->why) {
        g_string_append_printf(s, "%s%s", sep, kl->why);
        *unsupported |= kl->unsupported;
    } else if (!krb_sa_klp(sa)) {
        if (opaque)
            g_string_append_printf(s, "%sno KERBEROS key-log entry for opaque %s", sep, opaque);
        else
            g_string_append_printf(s, "%sno opaque known to look up a KERBEROS key-log entry",
                                   sep);
    }
    return g_string_free(s, FALSE);
}

/* An enctype name for a label, only when labels are made (krb5_enctype_to_name costs). */
static const char *ename(int labels, int32_t e, char *buf, size_t n)
{
    return labels ? krb_etype_name(e, buf, n) : "";
}

/* The RFC 4121 candidates (4.2.2): AcceptorSubkey set -> the acceptor subkey; clear -> the
 * initiator subkey, or the session key when the Authenticator had none. */
void krb_cands_cfx(const krb_sa *sa, int acceptor_subkey, krb_cands *cs, GString *miss, int labels)
{
    char eb[64];
    const krb_kl *kl = krb_sa_kl(sa);
    if (acceptor_subkey) {
        if (sa->aprep.subkey.len)
            cand_add(cs, sa, KRB_SRC_APREP_SUBKEY, 1, labels,
                     "the acceptor subkey (%s) from the AP-REP",
                     ename(labels, sa->aprep.subkey.enctype, eb, sizeof eb));
        else if (sa->session.len && miss)
            g_string_append_printf(miss, "%sthe token has flag AcceptorSubkey but %s",
                                   miss->len ? "; " : "",
                                   !sa->aprep_seen ? "no AP-REP was seen"
                                   : !sa->aprep_ok ? "the AP-REP could not be decrypted"
                                                   : "the AP-REP carried no subkey");
        if (kl->aprep.subkey.len)
            cand_add(cs, sa, KRB_SRC_KL_APREP_SUBKEY, 1, labels,
                     "the acceptor subkey (%s) from the AP-REP decrypted with key-log line %u",
                     ename(labels, kl->aprep.subkey.enctype, eb, sizeof eb), kl->line);
    } else {
        if (sa->auth.subkey.len)
            cand_add(cs, sa, KRB_SRC_AUTH_SUBKEY, 1, labels,
                     "the authenticator subkey (%s) from the AP-REQ",
                     ename(labels, sa->auth.subkey.enctype, eb, sizeof eb));
        else if (sa->session.len)
            cand_add(cs, sa, KRB_SRC_SESSION, sa->auth_ok, labels,
                     "the ticket session key (%s)%s",
                     ename(labels, sa->session.enctype, eb, sizeof eb),
                     sa->auth_ok ? "" : " (the Authenticator could not be read)");
        if (kl->auth.subkey.len)
            cand_add(cs, sa, KRB_SRC_KL_AUTH_SUBKEY, 1, labels,
                     "the authenticator subkey (%s) from the AP-REQ "
                     "decrypted with key-log line %u",
                     ename(labels, kl->auth.subkey.enctype, eb, sizeof eb), kl->line);
    }
    if (kl->key.len)
        cand_add(cs, sa, KRB_SRC_KL_KEY, kl_key_trusted(sa), labels,
                 "the key (%s) of KERBEROS key-log line %u",
                 ename(labels, kl->key.enctype, eb, sizeof eb), kl->line);
}

/* The RFC 4757 candidates: MIT keeps the initiator subkey, Windows may use the acceptor's
 * (ms-sipae.md 7), so every key the handshake gave is tried. */
void krb_cands_rc4(const krb_sa *sa, krb_cands *cs, int labels)
{
    int complete = sa->auth_ok && (!sa->aprep_seen || sa->aprep_ok);
    unsigned line = krb_sa_kl(sa)->line;
    cand_add(cs, sa, KRB_SRC_AUTH_SUBKEY, complete, labels,
             "the authenticator subkey from the AP-REQ");
    cand_add(cs, sa, KRB_SRC_APREP_SUBKEY, complete, labels,
             "the acceptor subkey from the AP-REP");
    cand_add(cs, sa, KRB_SRC_SESSION, complete, labels, "the ticket session key");
    cand_add(cs, sa, KRB_SRC_KL_AUTH_SUBKEY, 1, labels,
             "the authenticator subkey decrypted with key-log line %u", line);
    cand_add(cs, sa, KRB_SRC_KL_APREP_SUBKEY, 1, labels,
             "the acceptor subkey decrypted with key-log line %u", line);
    cand_add(cs, sa, KRB_SRC_KL_KEY, kl_key_trusted(sa), labels,
             "the key of KERBEROS key-log line %u", line);
}

/* A note when candidates were dropped because the list was full. */
void krb_cands_note(size_t dropped, note_list *notes)
{
    if (dropped)
        note_add(notes, NOTE_UNSUPPORTED, NOTE_SEV_NOTE, "Kerberos: %zu candidate key(s) not tried: "
                 "at most %d keys are tried per signature", dropped, KRB_CANDS_MAX);
}
