/* krb_ap.c - Kerberos: the handshake messages AP-REQ, AP-REP and KRB-ERROR (RFC 4120 5.5, 5.9): parsing and decrypting them. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

/* EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET
 * STRING } (RFC 4120 5.2.9). */
static int parse_encdata(const krb_der_tlv *t, int32_t *etype, const uint8_t **cipher,
                         size_t *clen)
{
    krb_der_tlv f;
    krb_der_fields ix;
    if (t->tag != KRB_DER_SEQUENCE)
        return -1;
    krb_der_fields_scan(t, &ix);
    if (krb_der_fields_get(&ix, 0, &f) != 1 || krb_der_int32(&f, etype) < 0)
        return -1;
    int r = krb_der_fields_get(&ix, 1, &f);
    uint32_t kvno;
    if (r < 0 || (r == 1 && krb_der_uint32(&f, &kvno) < 0))
        return -1;
    if (krb_der_fields_get(&ix, 2, &f) != 1 || krb_der_octets(&f, cipher, clen) < 0 ||
        *clen == 0)
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
    int r = krb_key_fits(ctx, type, vl, why);
    if (r < 0)
        return r;
    krb_keyv_set(out, type, v, vl);
    return 1;
}

/* Authenticator ::= [APPLICATION 2] SEQUENCE { ..., cksum [3] Checksum OPTIONAL, ...,
 * subkey [6] EncryptionKey OPTIONAL, seq-number [7] UInt32 OPTIONAL, ... } (RFC 4120 5.5.1);
 * the 0x8003 checksum carries the GSS flags at offset 20, little endian (RFC 4121 4.1.1). */
static int parse_authenticator(krb5_context ctx, const uint8_t *p, size_t len, krb_inner *out,
                               char **why)
{
    krb_der_tlv seq, f, g;
    krb_der_fields ix;
    if (krb_der_app_seq(p, len, 2, &seq) < 0 ||
        (krb_der_fields_scan(&seq, &ix), krb_der_fields_get(&ix, 0, &f) != 1)) {
        *why = g_strdup("decrypted Authenticator is not well-formed DER");
        return -1;
    }
    int r = krb_der_fields_get(&ix, 3, &f);
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
    r = krb_der_fields_get(&ix, 7, &f);
    if (r < 0 || (r == 1 && krb_der_uint32(&f, &out->seq) < 0)) {
        *why = g_strdup("Authenticator seq-number [7] is malformed");
        return -1;
    }
    out->have_seq = r == 1;
    r = krb_der_fields_get(&ix, 6, &f);
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
    krb_der_fields ix;
    if (krb_der_app_seq(p, len, 27, &seq) < 0 ||
        (krb_der_fields_scan(&seq, &ix), krb_der_fields_get(&ix, 0, &f) != 1)) {
        *why = g_strdup("decrypted EncAPRepPart is not well-formed DER");
        return -1;
    }
    int r = krb_der_fields_get(&ix, 3, &f);
    if (r < 0 || (r == 1 && krb_der_uint32(&f, &out->seq) < 0)) {
        *why = g_strdup("EncAPRepPart seq-number [3] is malformed");
        return -1;
    }
    out->have_seq = r == 1;
    r = krb_der_fields_get(&ix, 2, &f);
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
int krb_decrypt_inner(krb5_context ctx, const krb_keyv *key, krb5_keyusage usage,
                         const krb_encpart *enc, int is_aprep, krb_inner *out, char **why)
{
    return krb_decrypt_inner_k(ctx, key, NULL, usage, enc, is_aprep, out, why);
}

/* The same with kk, the krb5_key of key (its derived keys kept in it), when not NULL. */
int krb_decrypt_inner_k(krb5_context ctx, const krb_keyv *key, krb5_key kk, krb5_keyusage usage,
                        const krb_encpart *enc, int is_aprep, krb_inner *out, char **why)
{
    krb5_keyblock kb = krb_keyv_block(key);
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
    krb5_error_code rc = kk ? krb5_k_decrypt(ctx, kk, usage, NULL, &in, &plain)
                            : krb5_c_decrypt(ctx, &kb, usage, NULL, &in, &plain);
    int r;
    if (rc != 0) {
        char *e = krb_errtext(ctx, rc);
        *why = g_strdup_printf("%s does not decrypt (key usage %d): %s",
                               is_aprep ? "AP-REP enc-part" : "Authenticator", (int)usage, e);
        g_free(e);
        r = -1;
    } else {
        krb_inner_clear(out);
        r = is_aprep ? parse_encaprep(ctx, (uint8_t *)plain.data, plain.length, out, why)
                     : parse_authenticator(ctx, (uint8_t *)plain.data, plain.length, out, why);
    }
    secure_wipe(plain.data, enc->len);
    g_free(plain.data);
    return r;
}

/* Records a handshake token that could not be used, for the note and for later verdicts. */
void krb_token_bad(krb_sa *sa, note_list *notes, note_kind kind, const char *what,
                      char *why)
{
    note_add(notes, kind, kind == NOTE_UNSUPPORTED ? NOTE_SEV_NOTE : NOTE_SEV_WARN,
             "Kerberos %s: %s", what, why);
    krb_sa_rare *r = krb_rare(sa);
    g_free(r->bad_token_why);
    r->bad_token_why = g_strdup_printf("%s: %s", what, why);
    g_free(why);
}

/* Decrypts the AP-REP with the session key once both are known (the capture may show them in
 * either order). */
static void try_aprep(krb_sa *sa, krb5_context ctx, note_list *notes)
{
    if (!sa->aprep_enc.cipher || !sa->session.len || sa->aprep_ok)
        return;
    char *why = NULL;
    krb_inner in;
    memset(&in, 0, sizeof in);
    /* EncAPRepPart: key usage 12, ticket session key (RFC 4120 5.5.2, 7.5.1) */
    int r = krb_decrypt_inner(ctx, &sa->session, 12, &sa->aprep_enc, 1, &in, &why);
    if (r < 0) {
        note_add(notes, r == -2 ? NOTE_UNSUPPORTED : NOTE_MALFORMED, NOTE_SEV_WARN,
                 "Kerberos AP-REP: %s", why);
        g_free(why);
        krb_inner_clear(&in);
        return;
    }
    krb_inner_clear(&sa->aprep);
    sa->aprep = in;
    sa->aprep_ok = 1;
    /* opened: the ciphertext is no longer needed (krb_kl_refresh) */
    g_free(sa->aprep_enc.cipher);
    sa->aprep_enc.cipher = NULL;
    char eb[64], sb[32] = "none";
    if (sa->aprep.have_seq)
        g_snprintf(sb, sizeof sb, "0x%08x", sa->aprep.seq);
    note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT, "Kerberos AP-REP: acceptor subkey %s, seq-number %s",
             sa->aprep.subkey.len ? krb_etype_name(sa->aprep.subkey.enctype, eb, sizeof eb) : "none",
             sb);
}

/* v in decimal (printf "%u"), appended to s. */
static void append_dec(GString *s, uint32_t v)
{
    char b[10];
    size_t n = 0;
    do {
        b[sizeof b - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    g_string_append_len(s, b + sizeof b - n, (gssize)n);
}

/* v in lower-case hex with at least min digits (printf "%0<min>x"), appended to s. */
static void append_hex(GString *s, uint32_t v, int min)
{
    static const char hx[] = "0123456789abcdef";
    char b[8];
    int n = 0;
    do {
        b[sizeof b - ++n] = hx[v & 0xf];
        v >>= 4;
    } while (v || n < min);
    g_string_append_len(s, b + sizeof b - n, n);
}

/* AP-REQ ::= [APPLICATION 14] SEQUENCE { pvno [0], msg-type [1], ap-options [2],
 * ticket [3] Ticket, authenticator [4] EncryptedData } (RFC 4120 5.5.1). */
void krb_on_apreq(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes)
{
    krb5_context ctx = keystore_krb5_context(ks);
    krb_der_tlv seq, f, tkt, auth;
    krb_der_fields ix;
    int32_t pvno, mtype, aetype;
    const uint8_t *acipher;
    size_t aclen;
    if (krb_der_app_seq(p, len, 14, &seq) < 0 ||
        (krb_der_fields_scan(&seq, &ix), krb_der_fields_get(&ix, 0, &f) != 1) ||
        krb_der_int32(&f, &pvno) < 0 || krb_der_fields_get(&ix, 1, &f) != 1 ||
        krb_der_int32(&f, &mtype) < 0 || krb_der_fields_get(&ix, 3, &tkt) != 1 ||
        tkt.tag != KRB_DER_APP(1) || krb_der_fields_get(&ix, 4, &auth) != 1 ||
        parse_encdata(&auth, &aetype, &acipher, &aclen) < 0) {
        krb_token_bad(sa, notes, NOTE_MALFORMED, "AP-REQ",
                  g_strdup("not a well-formed KRB_AP_REQ (RFC 4120 5.5.1)"));
        return;
    }
    if (pvno != 5 || mtype != 14) {
        krb_token_bad(sa, notes, NOTE_MALFORMED, "AP-REQ",
                  g_strdup_printf("pvno %d msg-type %d (expected 5 and 14)", (int)pvno,
                                  (int)mtype));
        return;
    }
    if (!ctx) {
        krb_token_bad(sa, notes, NOTE_CONFIG, "AP-REQ", g_strdup("no krb5 context"));
        return;
    }
    char *terr = NULL;
    const krb_tkt *ticket = krb_ticket_open(sa->cap, ctx, ks, tkt.raw, tkt.rawlen, &terr);
    if (!ticket) {
        krb_token_bad(sa, notes, NOTE_MALFORMED, "AP-REQ", g_strdup_printf("ticket: %s", terr));
        g_free(terr);
        return;
    }
    if (sa->apreq_seen)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN,
                 "Kerberos: a second AP-REQ on this SA; its keys replace the first one's");
    krb_apreq_clear(sa);
    if (sa->rare) {
        g_free(sa->rare->bad_token_why);
        sa->rare->bad_token_why = NULL;
    }
    sa->apreq_seen = 1;

    const char *service = ticket->service; /* ticket sname@realm as sent */
    sa->tkt_enctype = ticket->enctype;
    sa->tkt_kvno = ticket->kvno;
    sa->auth_enc.etype = aetype;
    sa->auth_enc.cipher = g_memdup2(acipher, aclen);
    sa->auth_enc.len = (uint32_t)aclen;

    char eb2[64], eb3[64];
    /* what the keytab made of the ticket (krb_keytab.c) */
    if (ticket->policy)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                 "Kerberos AP-REQ: ticket decrypted; ignoring a ticket policy check: %s",
                 ticket->policy);
    if (ticket->kname && strcmp(ticket->kname, service) != 0)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE, "Kerberos AP-REQ: the ticket names "
                 "%s but was decrypted with the keytab key of %s", service, ticket->kname);
    if (ticket->nokey_why) {
        krb_rare(sa)->nokey_why = g_strdup(ticket->nokey_why);
        if (ticket->nokey_unsupported)
            sa->nokey_unsupported = 1;
    }
    if (krb_sa_nokey_why(sa))
        note_add(notes, sa->nokey_unsupported ? NOTE_UNSUPPORTED : NOTE_NO_KEY, NOTE_SEV_WARN,
                 "Kerberos AP-REQ: %s", krb_sa_nokey_why(sa));

    if (ticket->has_session) {
        char *why = NULL;
        if (krb_key_fits(ctx, ticket->s_enctype, ticket->s_len, &why) < 0) {
            g_free(krb_rare(sa)->nokey_why); /* NULL: the keytab decrypted the ticket */
            sa->rare->nokey_why = g_strdup_printf("ticket session key: %s", why);
            sa->nokey_unsupported = 1;
            note_add(notes, NOTE_UNSUPPORTED, NOTE_SEV_WARN, "Kerberos AP-REQ: %s",
                     sa->rare->nokey_why);
            g_free(why);
        } else {
            krb_keyv_set(&sa->session, ticket->s_enctype, ticket->s_val, ticket->s_len);
        }
        if (ticket->client)
            sa->client = krb_cap_text(sa->cap, krb_cap_intern(sa->cap, g_strdup(ticket->client)));
    }

    if (sa->session.len) {
        char *why = NULL;
        /* Authenticator: key usage 11, ticket session key (RFC 4120 7.5.1) */
        int r = krb_decrypt_inner_k(ctx, &sa->session, krb_tkt_session_kkey(ctx, ticket), 11,
                                    &sa->auth_enc, 0, &sa->auth, &why);
        if (r < 0) {
            note_add(notes, r == -2 ? NOTE_UNSUPPORTED : NOTE_MALFORMED, NOTE_SEV_WARN,
                     "Kerberos AP-REQ: %s", why);
            g_free(why);
        } else {
            sa->auth_ok = 1;
            /* opened: the ciphertext is no longer needed (krb_kl_refresh) */
            g_free(sa->auth_enc.cipher);
            sa->auth_enc.cipher = NULL;
        }
    }

    /* "Kerberos AP-REQ for %s: ticket %s kvno %u" ...: the plain strings appended as they are
     * (one printf per AP-REQ less; issue 10) */
    GString *s = g_string_sized_new(256);
    g_string_append(s, "Kerberos AP-REQ for ");
    g_string_append(s, service);
    g_string_append(s, ": ticket ");
    g_string_append(s, krb_etype_name(sa->tkt_enctype, eb2, sizeof eb2));
    g_string_append(s, " kvno ");
    append_dec(s, sa->tkt_kvno);
    if (sa->client) {
        g_string_append(s, "; client ");
        g_string_append(s, sa->client);
    }
    if (sa->session.len) {
        g_string_append(s, "; session key ");
        g_string_append(s, krb_etype_name(sa->session.enctype, eb3, sizeof eb3));
    }
    if (sa->auth_ok) {
        g_string_append(s, "; authenticator subkey ");
        g_string_append(s, sa->auth.subkey.len
                               ? krb_etype_name(sa->auth.subkey.enctype, eb3, sizeof eb3)
                               : "none");
        if (sa->auth.have_seq) {
            g_string_append(s, ", seq-number 0x");
            append_hex(s, sa->auth.seq, 8);
        }
        if (sa->auth.have_gss_flags) {
            char fn[160];
            krb_gss_flag_names(sa->auth.gss_flags, fn, sizeof fn);
            g_string_append(s, "; GSS flags 0x");
            append_hex(s, sa->auth.gss_flags, 1);
            g_string_append(s, " (");
            g_string_append(s, fn);
            g_string_append_c(s, ')');
        }
    }
    note_add_text(notes, NOTE_TOKEN, NOTE_SEV_CHAT, s->str);
    g_string_free(s, TRUE);
    krb_tkt_done(ticket); /* service was its text */

    try_aprep(sa, ctx, notes);
}

/* AP-REP ::= [APPLICATION 15] SEQUENCE { pvno [0], msg-type [1], enc-part [2] EncryptedData }
 * (RFC 4120 5.5.2); decrypted at once when the session key is known, later otherwise. */
void krb_on_aprep(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks, note_list *notes)
{
    krb_der_tlv seq, f;
    int32_t pvno, mtype, etype;
    const uint8_t *cipher;
    size_t clen;
    if (krb_der_app_seq(p, len, 15, &seq) < 0 || krb_der_field(&seq, 0, &f) != 1 ||
        krb_der_int32(&f, &pvno) < 0 || krb_der_field(&seq, 1, &f) != 1 ||
        krb_der_int32(&f, &mtype) < 0 || krb_der_field(&seq, 2, &f) != 1 ||
        parse_encdata(&f, &etype, &cipher, &clen) < 0 || pvno != 5 || mtype != 15) {
        krb_token_bad(sa, notes, NOTE_MALFORMED, "AP-REP",
                  g_strdup("not a well-formed KRB_AP_REP (RFC 4120 5.5.2)"));
        return;
    }
    if (sa->aprep_seen)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN,
                 "Kerberos: a second AP-REP on this SA; it replaces the first one");
    krb_encpart_clear(&sa->aprep_enc);
    krb_verified_pin(sa, KRB_SRC_APREP_SUBKEY);
    krb_inner_clear(&sa->aprep);
    sa->aprep_ok = 0;
    krb_kl_clear(sa);
    sa->aprep_seen = 1;
    sa->aprep_enc.etype = etype;
    sa->aprep_enc.cipher = g_memdup2(cipher, clen);
    sa->aprep_enc.len = (uint32_t)clen;
    if (!sa->session.len)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                 "Kerberos AP-REP: not decrypted (the ticket session key is not known%s)",
                 sa->apreq_seen ? "" : "; no AP-REQ seen");
    try_aprep(sa, keystore_krb5_context(ks), notes);
}

/* KRB-ERROR (RFC 4120 5.9.1): decoded by libkrb5 and shown, since it explains a failed logon. */
void krb_on_krberror(krb_sa *sa, const uint8_t *p, size_t len, keystore *ks,
                        note_list *notes)
{
    krb5_context ctx = keystore_krb5_context(ks);
    krb5_data d = {KV5M_DATA, (unsigned int)len, (char *)p};
    krb5_error *err = NULL;
    if (!ctx || krb5_rd_error(ctx, &d, &err) != 0) {
        krb_token_bad(sa, notes, NOTE_MALFORMED, "KRB-ERROR",
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
