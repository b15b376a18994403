/* krb_mic.c - Kerberos: MIC checks of RFC 4121 and RFC 4757 tokens against the candidate keys. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

#include <nettle/arcfour.h>
#include <nettle/hmac.h>

typedef enum { CHK_MATCH, CHK_NOMATCH, CHK_SKIP_TYPE, CHK_SKIP_LEN, CHK_ERROR } chk_res;

/* ---- per-capture state: interned texts, fast-path checks (issue 10) ---- */

struct krb_cap {
    GHashTable *ids;   /* text -> id */
    GPtrArray *texts;  /* id - 1 -> text (g_malloc'd) */
    GArray *lens;      /* id - 1 -> strlen of the text (guint32) */
    struct {
        int32_t enctype;
        krb5_keyusage usage;
        int state;
    } fast[8];
    size_t nfast;
    struct {
        krb5_keyusage usage;
        uint8_t blk[16];
    } fold[4];
    size_t nfold;
    uint8_t fold_tmp[16]; /* for usages beyond fold */
    /* VALID texts (ok_text) of the handshake's own keys, shared by the SAs: the text of text slot
     * tslot for a candidate of source src <= KRB_SRC_APREP_SUBKEY depends on nothing else but
     * the key's enctype and (the session key's label) auth_ok */
    struct {
        uint32_t txt;
        int32_t enctype;
        uint8_t tslot, src, auth_ok;
    } okc[16];
    size_t nokc;
    struct krb_ck_cache *ckc; /* HMAC contexts by checksum key (krb_fast.c), made on first use */
    struct krb_tkt_cache *tkc; /* tickets the keytab opened (krb_keytab.c), made on first use */
};

krb_cap *krb_cap_new(void)
{
    krb_cap *c = g_new0(krb_cap, 1);
    c->ids = g_hash_table_new(g_str_hash, g_str_equal);
    c->texts = g_ptr_array_new_with_free_func(g_free);
    c->lens = g_array_new(FALSE, FALSE, sizeof(guint32));
    return c;
}

void krb_cap_free(krb_cap *cap)
{
    if (!cap)
        return;
    krb_ck_cache_free(cap->ckc); /* wipes the HMAC contexts */
    krb_tkt_cache_free(cap->tkc); /* wipes the session keys */
    g_hash_table_destroy(cap->ids);
    g_ptr_array_free(cap->texts, TRUE);
    g_array_free(cap->lens, TRUE);
    g_free(cap);
}

uint32_t krb_cap_intern(krb_cap *cap, char *text)
{
    gpointer id = g_hash_table_lookup(cap->ids, text);
    if (id) {
        g_free(text);
        return GPOINTER_TO_UINT(id);
    }
    guint32 n = (guint32)strlen(text);
    g_ptr_array_add(cap->texts, text);
    g_array_append_val(cap->lens, n);
    g_hash_table_insert(cap->ids, text, GUINT_TO_POINTER(cap->texts->len));
    return cap->texts->len;
}

const char *krb_cap_text(const krb_cap *cap, uint32_t id)
{
    return id ? g_ptr_array_index(cap->texts, id - 1) : NULL;
}

/* The length of the text of id (> 0). */
static size_t cap_text_len(const krb_cap *cap, uint32_t id)
{
    return g_array_index(cap->lens, guint32, id - 1);
}

int krb_cap_fast_checked(const krb_cap *cap, int32_t enctype, krb5_keyusage usage)
{
    for (size_t i = 0; i < cap->nfast; i++)
        if (cap->fast[i].enctype == enctype && cap->fast[i].usage == usage)
            return cap->fast[i].state;
    return 0;
}

void krb_cap_fast_set(krb_cap *cap, int32_t enctype, krb5_keyusage usage, int state)
{
    if (cap->nfast < G_N_ELEMENTS(cap->fast)) { /* beyond: checked again for the next key */
        cap->fast[cap->nfast].enctype = enctype;
        cap->fast[cap->nfast].usage = usage;
        cap->fast[cap->nfast].state = state;
        cap->nfast++;
    }
}

const uint8_t *krb_cap_ck_fold(krb_cap *cap, krb5_keyusage usage)
{
    for (size_t i = 0; i < cap->nfold; i++)
        if (cap->fold[i].usage == usage)
            return cap->fold[i].blk;
    if (cap->nfold == G_N_ELEMENTS(cap->fold)) {
        krb_ck_fold(usage, cap->fold_tmp);
        return cap->fold_tmp;
    }
    cap->fold[cap->nfold].usage = usage;
    krb_ck_fold(usage, cap->fold[cap->nfold].blk);
    return cap->fold[cap->nfold++].blk;
}

struct krb_ck_cache **krb_cap_ck_cache(krb_cap *cap)
{
    return &cap->ckc;
}

struct krb_tkt_cache **krb_cap_tkt_cache(krb_cap *cap)
{
    return &cap->tkc;
}

/* ---- per-SA caches of what every message would compute or format again (issue 10) ---- */

/* Forgets the caches when the SA changed since they were made. */
static void caches_fresh(krb_sa *sa)
{
    if (!sa->stale)
        return;
    sa->stale = 0;
    sa->cc_made = 0;
    memset(sa->ok_key, 0, sizeof sa->ok_key);
    memset(sa->ok_txt, 0, sizeof sa->ok_txt);
    sa->bad_txt = 0;
}

/* The candidates of one token kind, without labels, as the cache keeps them. */
typedef struct {
    size_t n, dropped;
    uint8_t c[KRB_SRC_N]; /* krb_src | 0x80 when authoritative */
} cands_view;

/* Each list adds every source at most once (krb_cands_cfx / krb_cands_rc4), so it holds at most
 * KRB_SRC_N candidates and never drops one: the cache keeps KRB_SRC_N and no dropped count. */
G_STATIC_ASSERT(KRB_SRC_N <= KRB_CANDS_MAX);

/* The candidates of slot (0, 1: RFC 4121 without / with AcceptorSubkey; 2: RFC 4757), made once
 * while the caches are fresh. What krb_cands_cfx says is missing is made only when a text needs
 * it (cfx_miss). */
static void cands_cached(krb_sa *sa, int slot, cands_view *v)
{
    caches_fresh(sa);
    if (!(sa->cc_made & (1u << slot))) {
        krb_cands cs;
        cs.n = cs.dropped = 0;
        if (slot < 2)
            krb_cands_cfx(sa, slot, &cs, NULL, 0);
        else
            krb_cands_rc4(sa, &cs, 0);
        for (size_t i = 0; i < cs.n && i < KRB_SRC_N; i++)
            sa->cc[slot][i] = (uint8_t)(cs.c[i].src | (cs.c[i].authoritative ? 0x80 : 0));
        sa->cc_n[slot] = (uint8_t)(cs.n < KRB_SRC_N ? cs.n : KRB_SRC_N);
        sa->cc_made |= (uint8_t)(1u << slot);
    }
    v->n = sa->cc_n[slot];
    v->dropped = 0; /* see above */
    memcpy(v->c, sa->cc[slot], v->n);
}

/* What krb_cands_cfx says is missing for slot (0, 1), as the candidates were made (g_malloc'd). */
static char *cfx_miss(const krb_sa *sa, int slot)
{
    krb_cands cs;
    cs.n = cs.dropped = 0;
    GString *m = g_string_new(NULL);
    krb_cands_cfx(sa, slot, &cs, m, 0);
    return g_string_free(m, FALSE);
}

/* The same candidates with their labels (for texts: made only when a text is made). */
static void cands_labelled(const krb_sa *sa, int slot, krb_cands *cs)
{
    cs->n = cs->dropped = 0;
    if (slot < 2)
        krb_cands_cfx(sa, slot, cs, NULL, 1);
    else
        krb_cands_rc4(sa, cs, 1);
}

/* prefix (pl bytes) || verdict_seq's "0x%08x" of seq || suffix (sl bytes), without a printf. */
static char *text_with_seq(const char *prefix, size_t pl, uint32_t seq, const char *suffix,
                           size_t sl)
{
    char *out = g_malloc(pl + VERDICT_SEQ_MAX + sl + 1);
    memcpy(out, prefix, pl);
    memcpy(verdict_seq_put(out + pl, seq), suffix, sl + 1);
    return out;
}

/* The input of an RFC 4121 MIC checksum, buffer || token[0..15] (RFC 4121 4.2.4): the fast path
 * reads the two parts where they are; libkrb5 gets them joined, made on first need. */
typedef struct {
    const uint8_t *buf;
    size_t buflen;
    const uint8_t *tok16;
    uint8_t *data; /* joined, or NULL */
    uint8_t *heap;
    uint8_t stack[2048];
} cfx_input;

static const uint8_t *cfx_joined(cfx_input *in)
{
    if (!in->data) {
        size_t dlen = in->buflen + 16;
        in->data = dlen <= sizeof in->stack ? in->stack : (in->heap = g_malloc(dlen));
        if (in->buflen)
            memcpy(in->data, in->buf, in->buflen);
        memcpy(in->data + in->buflen, in->tok16, 16);
    }
    return in->data;
}

static void cfx_input_done(cfx_input *in)
{
    if (in->data)
        secure_wipe(in->data, in->buflen + 16);
    g_free(in->heap);
}

/* RFC 4121 4.2.6.1: checksum = mandatory checksum of the key's enctype with usage
 * 23 (KG-USAGE-ACCEPTOR-SIGN) or 25 (KG-USAGE-INITIATOR-SIGN) over buffer || token[0..15]. */
static chk_res check_cfx(krb5_context ctx, krb_cap *cap, const krb_keyv *k,
                         krb5_keyusage usage, cfx_input *in, const uint8_t *ck,
                         size_t cklen, size_t *want_len)
{
    struct krb_keyx *kc = krb_keyv_x(k); /* cache only */
    if (!kc->ck_state && (k->enctype == ENCTYPE_AES128_CTS_HMAC_SHA1_96 ||
                          k->enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96)) {
        /* RFC 3962 7: the required checksums of enctypes 17 and 18 are hmac-sha1-96-aes128 (15)
         * and hmac-sha1-96-aes256 (16), 12 bytes -- what libkrb5 would say below */
        kc->ck_state = 1;
        kc->ck_type = k->enctype == ENCTYPE_AES128_CTS_HMAC_SHA1_96
                          ? CKSUMTYPE_HMAC_SHA1_96_AES128 : CKSUMTYPE_HMAC_SHA1_96_AES256;
        kc->ck_len = 12;
    }
    if (!kc->ck_state) {
        /* cksumtype 0: libkrb5 picks the enctype's mandatory checksum (RFC 3961 "required");
         * learnt once per key from a checksum over empty data */
        krb5_checksum mand;
        krb5_data empty = {KV5M_DATA, 0, (char *)""};
        krb5_keyblock kb = krb_keyv_block(k);
        memset(&mand, 0, sizeof mand);
        if (krb5_c_make_checksum(ctx, 0, &kb, usage, &empty, &mand) != 0) {
            kc->ck_state = -1;
        } else {
            kc->ck_state = 1;
            kc->ck_type = mand.checksum_type;
            kc->ck_len = (uint8_t)mand.length;
            krb5_free_checksum_contents(ctx, &mand);
        }
    }
    if (kc->ck_state < 0)
        return CHK_SKIP_TYPE;
    krb5_cksumtype type = kc->ck_type;
    *want_len = kc->ck_len;
    if (*want_len != cklen)
        return CHK_SKIP_LEN;
    krb5_checksum c;
    memset(&c, 0, sizeof c);
    c.magic = KV5M_CHECKSUM;
    c.checksum_type = type;
    c.length = (unsigned int)cklen;
    c.contents = (krb5_octet *)ck;
    krb5_boolean valid = FALSE;
    /* AES-SHA1 (17, 18): the HMAC key states kept per key and usage, checked against libkrb5
     * once per capture; other enctypes, and states that did not match, go to libkrb5 (with a
     * krb5_key kept per key, made only then) */
    int fast = krb_fast_verify2(ctx, cap, k, type, usage, in->buf, in->buflen, in->tok16, 16, ck,
                                cklen);
    if (fast >= 0)
        return fast ? CHK_MATCH : CHK_NOMATCH;
    krb5_data d = {KV5M_DATA, (unsigned int)(in->buflen + 16), (char *)cfx_joined(in)};
    krb5_keyblock kb = krb_keyv_block(k);
    krb5_key kk = krb_keyv_kkey(ctx, k);
    krb5_error_code rc = kk ? krb5_k_verify_checksum(ctx, kk, usage, &d, &c, &valid)
                            : krb5_c_verify_checksum(ctx, &kb, usage, &d, &c, &valid);
    if (rc != 0)
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
    krb5_keyblock kb = krb_keyv_block(k);
    krb5_checksum c;
    krb5_data d = {KV5M_DATA, (unsigned int)dlen, (char *)data};
    memset(&c, 0, sizeof c);
    krb5_key kk = krb_keyv_kkey(ctx, k);
    krb5_error_code rc = kk ? krb5_k_make_checksum(ctx, CKSUMTYPE_HMAC_MD5_ARCFOUR, kk, 15, &d, &c)
                            : krb5_c_make_checksum(ctx, CKSUMTYPE_HMAC_MD5_ARCFOUR, &kb, 15, &d, &c);
    if (rc != 0)
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
    secure_wipe(t, sizeof t);
    secure_wipe(kseq, sizeof kseq);
    secure_wipe(&h, sizeof h);
    secure_wipe(&rc4, sizeof rc4);
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

/* A MIC that verifies but was made by the other side than the header it sits in says: a
 * signature reflected from the other direction, never valid. */
static sig_verdict reflected(const char *fmt_name, int acceptor, const char *marker,
                             mssipae_dir dir, note_list *notes)
{
    sig_verdict v = verdict_make(SIG_INVALID, "%s made by the %s, %s, is carried in %s: a "
                                 "reflected signature", fmt_name, who(acceptor), marker,
                                 hdr_of(dir));
    note_add(notes, NOTE_INVALID, NOTE_SEV_WARN, "Kerberos: %s", v.why);
    return v;
}

/* Turns the tally of tried keys into a verdict when none matched. */
static sig_verdict no_match_fmt(const krb_sa *sa, const char *opaque, const char *fmt_name,
                                const krb_cands *cs, const chk_res *res, size_t want_len,
                                size_t cklen, const char *miss, note_list *notes);

/* How no_match_fmt's notes begin: a kept text with a note is the note's text, the reason its
 * end. */
#define BAD_NOTE_PREFIX "Kerberos: "

/* 1 when the opaque a kept no-candidate text was made for is opaque (both may be NULL). */
static int bad_opaque_is(const krb_sa *sa, const char *opaque)
{
    if (!opaque || !sa->bad_opaque_len)
        return !opaque && !sa->bad_opaque_len;
    size_t n = sa->bad_opaque_len - 1u;
    return strncmp(sa->bad_opaque, opaque, n) == 0 && opaque[n] == 0;
}

/* 1 when opaque can be kept for bad_opaque_is (a longer one: the text is not kept). */
static int bad_opaque_fits(const krb_sa *sa, const char *opaque)
{
    return !opaque || strnlen(opaque, sizeof sa->bad_opaque) < sizeof sa->bad_opaque;
}

/* Keeps opaque (it fits) for bad_opaque_is. */
static void bad_opaque_keep(krb_sa *sa, const char *opaque)
{
    size_t n = opaque ? strlen(opaque) : 0;
    memset(sa->bad_opaque, 0, sizeof sa->bad_opaque);
    if (n)
        memcpy(sa->bad_opaque, opaque, n);
    sa->bad_opaque_len = (uint8_t)(n + (opaque ? 1 : 0)); /* 0: NULL, else strlen + 1 */
}

/* no_match_fmt for a token no candidate verified, its text kept per SA when keys were tried or
 * when there was no candidate (see below). The labelled candidates are made only when a text is
 * made. */
static sig_verdict no_match(krb_sa *sa, int slot, const char *opaque, const char *fmt_name,
                            const cands_view *cv, const chk_res *res, size_t want_len,
                            size_t cklen, note_list *notes)
{
    uint16_t nomatch = 0; /* cv->n <= KRB_CANDS_MAX (8) */
    for (size_t i = 0; i < cv->n; i++)
        if (res[i] == CHK_NOMATCH)
            nomatch |= (uint16_t)(1u << i);
    krb_cands cs;
    if (!nomatch && cv->n) {
        /* candidates, none tried (their checksum length or enctype did not fit): the text
         * names the token's own lengths */
        cands_labelled(sa, slot, &cs);
        return no_match_fmt(sa, opaque, fmt_name, &cs, res, want_len, cklen, "", notes);
    }
    /* Keys tried, none matched: the text depends on the candidates (slot; the caches' freshness)
     * and on which did not match. No candidate at all (no key: the usual case of a capture
     * opened without keys): on what is missing, the SA's state like the candidates, and on the
     * opaque (the key-log entry named). Either is kept per SA; slot alone (nomatch 0) is the
     * second. */
    G_STATIC_ASSERT(KRB_CANDS_MAX + 2 <= 16);
    uint16_t key = (uint16_t)(nomatch << 2 | (unsigned)slot);
    caches_fresh(sa);
    if (!sa->bad_txt || sa->bad_key != key || (!nomatch && !bad_opaque_is(sa, opaque))) {
        /* made once: the note it adds, if any, is "Kerberos: <why>" with severity warning */
        cands_labelled(sa, slot, &cs);
        /* what krb_cands_cfx says is missing, said only when there is no candidate */
        char *miss = !nomatch && slot < 2 ? cfx_miss(sa, slot) : NULL;
        note_list *tmp = note_list_new();
        sig_verdict v = no_match_fmt(sa, opaque, fmt_name, &cs, res, want_len, cklen,
                                     miss ? miss : "", tmp);
        g_free(miss);
        const mssipae_note *n = tmp->len ? &g_array_index(tmp, mssipae_note, 0) : NULL;
        int cacheable = (nomatch || bad_opaque_fits(sa, opaque)) &&
                        (tmp->len == 0 ||
                         (tmp->len == 1 && n->sev == NOTE_SEV_WARN && v.why &&
                          g_str_has_prefix(n->text, BAD_NOTE_PREFIX) &&
                          strcmp(n->text + sizeof BAD_NOTE_PREFIX - 1, v.why) == 0));
        if (!cacheable) {
            for (guint i = 0; i < tmp->len; i++) {
                const mssipae_note *m = &g_array_index(tmp, mssipae_note, i);
                note_add_text(notes, m->kind, m->sev, m->text);
            }
            note_list_free(tmp);
            return v;
        }
        note_kind nk = n ? n->kind : NOTE_KINDS;
        note_list_free(tmp);
        sa->bad_key = key;
        if (!nomatch)
            bad_opaque_keep(sa, opaque);
        sa->bad_status = (uint8_t)v.status;
        sa->bad_note = (uint8_t)nk;
        /* one text: the note's, whose end is the reason, when there is a note */
        if (nk != NOTE_KINDS) {
            sa->bad_txt = krb_cap_intern(sa->cap, g_strconcat(BAD_NOTE_PREFIX, v.why, NULL));
            g_free(v.why);
        } else {
            sa->bad_txt = krb_cap_intern(sa->cap, v.why); /* takes v.why */
        }
    }
    const char *t = krb_cap_text(sa->cap, sa->bad_txt);
    if (sa->bad_note == NOTE_KINDS)
        return verdict_copy((sig_status)sa->bad_status, t);
    note_add_text(notes, (note_kind)sa->bad_note, NOTE_SEV_WARN, t);
    return verdict_copy((sig_status)sa->bad_status, t + sizeof BAD_NOTE_PREFIX - 1);
}

static sig_verdict no_match_fmt(const krb_sa *sa, const char *opaque, const char *fmt_name,
                                const krb_cands *cs, const chk_res *res, size_t want_len,
                                size_t cklen, const char *miss, note_list *notes)
{
    int tried = 0, auth = 0, badlen = 0, badtype = 0, kl_untrusted = 0;
    GString *t = g_string_new(NULL);
    for (size_t i = 0; i < cs->n; i++) {
        if (res[i] == CHK_NOMATCH) {
            tried++;
            auth |= cs->c[i].authoritative;
            kl_untrusted |= cs->c[i].src == KRB_SRC_KL_KEY && !cs->c[i].authoritative;
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
    } else if (tried && kl_untrusted) {
        v = verdict_make(SIG_NO_KEY, "%s does not verify with %s; that key is not known to be "
                         "this SA's signing key: a KERBEROS key-log line may hold the ticket "
                         "session key while the sender signed with a subkey (or the reverse), and "
                         "%s -- give the subkey, or the service keytab", fmt_name, t->str,
                         sa->apreq_seen ? "the AP-REQ in this capture does not tell which"
                                        : "no AP-REQ / AP-REP in this capture tells which");
        note_add(notes, NOTE_NO_KEY, NOTE_SEV_WARN, "Kerberos: %s", v.why);
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
        char *nk = krb_nokey_text(sa, opaque, &unsup);
        /* one separator, and only between two parts that are not empty */
        v = verdict_make(unsup ? SIG_UNSUPPORTED : SIG_NO_KEY, "%s%s%s", miss,
                         *miss && *nk ? "; " : "", nk);
        note_add(notes, unsup ? NOTE_UNSUPPORTED : NOTE_NO_KEY, NOTE_SEV_WARN, "Kerberos: %s",
                 v.why);
        g_free(nk);
    }
    g_string_free(t, TRUE);
    return v;
}

/* The VALID text before its SND_SEQ for candidate i (of source src) of slot, sent by acceptor,
 * kept per SA for the two (tslot, i) last used (fmt: "... verified with %s, key usage %d (sent by the %s),
 * SND_SEQ "; tslot tells slot, fmt, usage and acceptor). For the handshake's own keys the text is
 * also kept per capture (okc), as its label depends only on src, the enctype and auth_ok (see
 * krb_cands_cfx / krb_cands_rc4): a new SA does not label its candidates again. *len (len may be
 * NULL) receives its length. */
static const char *ok_text(krb_sa *sa, int slot, int tslot, size_t i, krb_src src,
                           const char *fmt, int usage, int acceptor, size_t *len)
{
    caches_fresh(sa);
    uint8_t key = (uint8_t)(tslot << 4 | (int)(i + 1)); /* tslot < 6, i < KRB_SRC_N */
    for (int j = 0; j < 2; j++)
        if (sa->ok_key[j] == key) {
            if (len)
                *len = cap_text_len(sa->cap, sa->ok_txt[j]);
            return krb_cap_text(sa->cap, sa->ok_txt[j]);
        }
    krb_cap *cap = sa->cap;
    int shared = src <= KRB_SRC_APREP_SUBKEY;
    int32_t enctype = krb_src_key(sa, src)->enctype;
    uint8_t auth_ok = sa->auth_ok ? 1 : 0;
    uint32_t id = 0;
    for (size_t j = 0; shared && j < cap->nokc; j++)
        if (cap->okc[j].tslot == tslot && cap->okc[j].src == src &&
            cap->okc[j].enctype == enctype && cap->okc[j].auth_ok == auth_ok) {
            id = cap->okc[j].txt;
            break;
        }
    if (!id) {
        krb_cands cs;
        cands_labelled(sa, slot, &cs);
        id = krb_cap_intern(cap, g_strdup_printf(fmt, i < cs.n ? cs.c[i].label : "", usage,
                                                 who(acceptor)));
        /* only when the labelled list agrees (it always does for these sources) */
        if (shared && i < cs.n && cs.c[i].src == src && cap->nokc < G_N_ELEMENTS(cap->okc)) {
            cap->okc[cap->nokc].txt = id;
            cap->okc[cap->nokc].enctype = enctype;
            cap->okc[cap->nokc].tslot = (uint8_t)tslot;
            cap->okc[cap->nokc].src = (uint8_t)src;
            cap->okc[cap->nokc].auth_ok = auth_ok;
            cap->nokc++;
        }
    }
    sa->ok_txt[1] = sa->ok_txt[0];
    sa->ok_key[1] = sa->ok_key[0];
    sa->ok_txt[0] = id;
    sa->ok_key[0] = key;
    if (len)
        *len = cap_text_len(cap, id);
    return krb_cap_text(cap, id);
}

/* RFC 4121 4.2.6.1 MIC token: 04 04 | Flags | FF x5 | SND_SEQ (8) | SGN_CKSUM. */
sig_verdict krb_verify_cfx(krb_sa *sa, krb5_context ctx, const char *opaque,
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

    /* kept per SA; a copy, as a match may make the cache stale before we return */
    cands_view cv;
    cands_cached(sa, acc_subkey, &cv);
    krb_cands_note(cv.dropped, notes);
    if (!acc_subkey && sa->aprep.subkey.len)
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE, "Kerberos: the AP-REP set an acceptor subkey "
                 "but this RFC 4121 token lacks flag AcceptorSubkey (0x04): checked with the "
                 "initiator's key");

    /* data = buffer || first 16 bytes of the token (RFC 4121 4.2.4) */
    cfx_input in;
    in.buf = buflen ? buf : (const uint8_t *)"";
    in.buflen = buflen;
    in.tok16 = sig;
    in.data = in.heap = NULL;
    /* res[i] is set for every candidate tried and read for those only (no_match); the
     * initialiser is for GCC, which with profile feedback cannot see that (-Wmaybe-uninitialized) */
    chk_res res[KRB_CANDS_MAX] = { CHK_ERROR };
    size_t want_len = 0;
    sig_verdict v = {SIG_NONE, NULL};
    for (size_t i = 0; i < cv.n && v.status == SIG_NONE; i++) {
        krb_src src = (krb_src)(cv.c[i] & 0x7f);
        const krb_keyv *k = krb_src_key(sa, src);
        res[i] = check_cfx(ctx, sa->cap, k, usage, &in, sig + 16, siglen - 16, &want_len);
        if (res[i] != CHK_MATCH)
            continue;
        if (src == KRB_SRC_KL_KEY && !krb_sa_klp(sa)->proven) {
            krb_sa_klp(sa)->proven = 1; /* a checksum match proves the key (a cache, like a derived key) */
            krb_sa_changed(sa); /* it is now authoritative: candidates and texts change */
        }
        if (acceptor != (dir == DIR_S2C)) {
            v = reflected("RFC 4121 MIC", acceptor, acceptor ? "flag SentByAcceptor set"
                                                            : "flag SentByAcceptor clear",
                          dir, notes);
        } else {
            /* "RFC 4121 MIC verified with %s, key usage %d (sent by the %s), SND_SEQ %s", the
             * part before SND_SEQ kept per SA (candidate, sender) */
            const char *t = ok_text(sa, acc_subkey, acc_subkey * 2 + acceptor, i, src,
                                    "RFC 4121 MIC verified with %s, key usage %d (sent by the "
                                    "%s), SND_SEQ ", (int)usage, acceptor, NULL);
            v = verdict_seq(SIG_VALID, t, (uint64_t)seq_hi << 32 | seq_lo);
            krb_remember_verified(sa, src, k);
        }
    }
    cfx_input_done(&in);
    if (v.status == SIG_NONE) {
        if (cv.n == 0 && acceptor != (dir == DIR_S2C))
            note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN, "Kerberos: RFC 4121 MIC with flag "
                     "SentByAcceptor %s is carried in %s", acceptor ? "set" : "clear",
                     hdr_of(dir));
        /* what is missing is said only when no key was tried (no_match), i.e. when there is
         * no candidate; the SA did not change since cands_cached (only a match changes it) */
        v = no_match(sa, acc_subkey, opaque, "RFC 4121 MIC", &cv, res, want_len, siglen - 16,
                     notes);
    }
    return v;
}

/* RFC 4757 7.2 MIC token (GSS-framed, 37 bytes): TOK_ID 01 01 | SGN_ALG 11 00 | SEAL_ALG ff ff |
 * Filler ff ff | SND_SEQ (8, encrypted) | SGN_CKSUM (8). hdr points at TOK_ID, 24 bytes. */
sig_verdict krb_verify_rc4(krb_sa *sa, krb5_context ctx, const char *opaque,
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
    cands_view cv;
    cands_cached(sa, 2, &cv);
    krb_cands_note(cv.dropped, notes);

    /* checksum input = header8 (TOK_ID .. Filler) || buffer (RFC 4757 7.2) */
    size_t dlen = buflen + 8;
    uint8_t stackbuf[2048];
    uint8_t *data = dlen <= sizeof stackbuf ? stackbuf : g_malloc(dlen);
    memcpy(data, hdr, 8);
    if (buflen)
        memcpy(data + 8, buf, buflen);
    chk_res res[KRB_CANDS_MAX];
    sig_verdict v = {SIG_NONE, NULL};
    for (size_t i = 0; i < cv.n && v.status == SIG_NONE; i++) {
        uint8_t ps[8];
        krb_src src = (krb_src)(cv.c[i] & 0x7f);
        const krb_keyv *k = krb_src_key(sa, src);
        res[i] = check_rc4(ctx, k, data, dlen, hdr + 8, hdr + 16, ps);
        if (res[i] != CHK_MATCH)
            continue;
        if (src == KRB_SRC_KL_KEY && !krb_sa_klp(sa)->proven) {
            krb_sa_klp(sa)->proven = 1;
            krb_sa_changed(sa);
        }
        uint32_t seq = (uint32_t)ps[0] << 24 | (uint32_t)ps[1] << 16 | (uint32_t)ps[2] << 8 | ps[3];
        int acceptor;
        if (ps[4] == 0 && ps[5] == 0 && ps[6] == 0 && ps[7] == 0)
            acceptor = 0;
        else if (ps[4] == 0xff && ps[5] == 0xff && ps[6] == 0xff && ps[7] == 0xff)
            acceptor = 1;
        else {
            krb_cands cs;
            cands_labelled(sa, 2, &cs);
            v = verdict_make(SIG_INVALID, "RFC 4757 MIC: checksum matches with %s but SND_SEQ "
                             "decrypts to direction %02x%02x%02x%02x (neither 00000000 nor "
                             "ffffffff)", i < cs.n ? cs.c[i].label : "", ps[4], ps[5], ps[6],
                             ps[7]);
            note_add(notes, NOTE_INVALID, NOTE_SEV_WARN, "Kerberos: %s", v.why);
            break;
        }
        if (acceptor != (dir == DIR_S2C)) {
            v = reflected("RFC 4757 MIC", acceptor, acceptor ? "SND_SEQ direction ffffffff"
                                                            : "SND_SEQ direction 00000000",
                          dir, notes);
        } else {
            /* SND_SEQ is encrypted, not checksummed (RFC 4757 7.2): show it so that a changed
             * sequence number is visible, and hand it to the tracker, which watches it */
            /* "RFC 4757 MIC verified with %s, key usage 15 (sent by the %s), SND_SEQ 0x%08x
             * (not covered by the checksum)", the part before SND_SEQ kept per SA */
            size_t tl;
            const char *t = ok_text(sa, 2, 4 + acceptor, i, src, "RFC 4757 MIC verified with %s, key "
                                    "usage %d (sent by the %s), SND_SEQ ", 15, acceptor, &tl);
            v.status = SIG_VALID;
            static const char nc[] = " (not covered by the checksum)";
            v.why = text_with_seq(t, tl, seq, nc, sizeof nc - 1);
            v.has_unprotected_seq = 1;
            v.unprotected_seq = seq;
            krb_remember_verified(sa, src, k);
        }
    }
    secure_wipe(data, dlen);
    if (data != stackbuf)
        g_free(data);
    if (v.status == SIG_NONE)
        v = no_match(sa, 2, opaque, "RFC 4757 MIC", &cv, res, 0, 8, notes);
    return v;
}
