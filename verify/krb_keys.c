/* krb_keys.c - Kerberos: which keys a MIC is checked with (RFC 4121 4.2.2, ms-sipae.md 7), and key-log keys. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>
#include <stdarg.h>

/* Brings the key-log cache up to date with the line for opaque: the key itself, and the subkeys
 * it decrypts from the kept Authenticator / AP-REP when it is the session key. */
void krb_kl_refresh(krb_sa *sa, krb5_context ctx, const keylog_entry *e)
{
    if (!e) {
        if (sa->kl_set)
            krb_kl_clear(sa);
        return;
    }
    if (sa->kl_set && sa->kl_src_enctype == e->enctype && sa->kl_src_len == e->key1_len &&
        sa->kl_line == e->line && memcmp(sa->kl_src, e->key1, e->key1_len) == 0)
        return;
    krb_kl_clear(sa); /* marks the caches stale */
    sa->kl_set = 1;
    sa->kl_src_enctype = e->enctype;
    sa->kl_src = g_memdup2(e->key1, e->key1_len ? e->key1_len : 1);
    sa->kl_src_len = e->key1_len;
    sa->kl_line = e->line;
    char *why = NULL;
    int r = krb_key_fits(ctx, e->enctype, e->key1_len, &why);
    if (r < 0) {
        sa->kl_why = g_strdup_printf("KERBEROS key-log line %u: %s", e->line, why);
        sa->kl_unsupported = r == -2;
        g_free(why);
        return;
    }
    krb_keyv_set(&sa->kl_key, e->enctype, e->key1, e->key1_len);
    if (sa->auth_enc.cipher && sa->auth_enc.etype == e->enctype) {
        if (krb_decrypt_inner(ctx, &sa->kl_key, 11, &sa->auth_enc, 0, &sa->kl_auth, &why) < 0) {
            krb_inner_clear(&sa->kl_auth); /* not the session key: fine, it may be a subkey */
            g_free(why);
            why = NULL;
        } else {
            sa->kl_auth_ok = 1;
        }
    }
    if (sa->aprep_enc.cipher && sa->aprep_enc.etype == e->enctype &&
        krb_decrypt_inner(ctx, &sa->kl_key, 12, &sa->aprep_enc, 1, &sa->kl_aprep, &why) < 0) {
        krb_inner_clear(&sa->kl_aprep);
        g_free(why);
    }
}

/* Whether a mismatch with the key-log key itself proves a signature wrong. The key-log format
 * allows the ticket session key or a subkey, and nothing but the capture tells which: the key is
 * trusted once it verified a signature of this SA, or when it decrypted the AP-REQ's
 * Authenticator (it is the session key) and that carried no subkey (so the session key signs).
 * Keys it decrypts out of the AP-REQ / AP-REP are always trusted. */
static int kl_key_trusted(const krb_sa *sa)
{
    return sa->kl_proven || (sa->kl_auth_ok && !sa->kl_auth.subkey.val);
}

/* Adds a candidate key with a printf-formatted label for messages. */
static void cand_add(krb_cands *cs, const krb_keyv *k, int authoritative, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Adds a candidate key (unset keys and duplicates of the same bytes are skipped). */
static void cand_add(krb_cands *cs, const krb_keyv *k, int authoritative, const char *fmt, ...)
{
    if (!k->val)
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
    c->authoritative = authoritative;
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(c->label, sizeof c->label, fmt, ap);
    va_end(ap);
}

/* Why no handshake or key-log key exists for this SA, naming every source looked at. */
char *krb_nokey_text(const krb_sa *sa, const char *opaque, int *unsupported)
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
void krb_cands_cfx(const krb_sa *sa, int acceptor_subkey, krb_cands *cs, GString *miss)
{
    char eb[64];
    if (acceptor_subkey) {
        if (sa->aprep.subkey.val)
            cand_add(cs, &sa->aprep.subkey, 1, "the acceptor subkey (%s) from the AP-REP",
                     krb_etype_name(sa->aprep.subkey.enctype, eb, sizeof eb));
        else if (sa->session.val)
            g_string_append_printf(miss, "%sthe token has flag AcceptorSubkey but %s",
                                   miss->len ? "; " : "",
                                   !sa->aprep_seen ? "no AP-REP was seen"
                                   : !sa->aprep_ok ? "the AP-REP could not be decrypted"
                                                   : "the AP-REP carried no subkey");
        if (sa->kl_aprep.subkey.val)
            cand_add(cs, &sa->kl_aprep.subkey, 1,
                     "the acceptor subkey (%s) from the AP-REP decrypted with key-log line %u",
                     krb_etype_name(sa->kl_aprep.subkey.enctype, eb, sizeof eb), sa->kl_line);
    } else {
        if (sa->auth.subkey.val)
            cand_add(cs, &sa->auth.subkey, 1, "the authenticator subkey (%s) from the AP-REQ",
                     krb_etype_name(sa->auth.subkey.enctype, eb, sizeof eb));
        else if (sa->session.val)
            cand_add(cs, &sa->session, sa->auth_ok, "the ticket session key (%s)%s",
                     krb_etype_name(sa->session.enctype, eb, sizeof eb),
                     sa->auth_ok ? "" : " (the Authenticator could not be read)");
        if (sa->kl_auth.subkey.val)
            cand_add(cs, &sa->kl_auth.subkey, 1, "the authenticator subkey (%s) from the AP-REQ "
                     "decrypted with key-log line %u",
                     krb_etype_name(sa->kl_auth.subkey.enctype, eb, sizeof eb), sa->kl_line);
    }
    if (sa->kl_key.val)
        cand_add(cs, &sa->kl_key, kl_key_trusted(sa), "the key (%s) of KERBEROS key-log line %u",
                 krb_etype_name(sa->kl_key.enctype, eb, sizeof eb), sa->kl_line);
}

/* The RFC 4757 candidates: MIT keeps the initiator subkey, Windows may use the acceptor's
 * (ms-sipae.md 7), so every key the handshake gave is tried. */
void krb_cands_rc4(const krb_sa *sa, krb_cands *cs)
{
    int complete = sa->auth_ok && (!sa->aprep_seen || sa->aprep_ok);
    cand_add(cs, &sa->auth.subkey, complete, "the authenticator subkey from the AP-REQ");
    cand_add(cs, &sa->aprep.subkey, complete, "the acceptor subkey from the AP-REP");
    cand_add(cs, &sa->session, complete, "the ticket session key");
    cand_add(cs, &sa->kl_auth.subkey, 1,
             "the authenticator subkey decrypted with key-log line %u", sa->kl_line);
    cand_add(cs, &sa->kl_aprep.subkey, 1,
             "the acceptor subkey decrypted with key-log line %u", sa->kl_line);
    cand_add(cs, &sa->kl_key, kl_key_trusted(sa), "the key of KERBEROS key-log line %u",
             sa->kl_line);
}

/* A note when candidates were dropped because the list was full. */
void krb_cands_note(const krb_cands *cs, note_list *notes)
{
    if (cs->dropped)
        note_add(notes, NOTE_UNSUPPORTED, NOTE_SEV_NOTE, "Kerberos: %zu candidate key(s) not tried: "
                 "at most %d keys are tried per signature", cs->dropped, KRB_CANDS_MAX);
}
