/* sa.c - the tracker: one SIP message in, one result out ([MS-SIPAE] 3.2.5, 3.3.5).
 *
 * For every MS-SIPAE auth header of a message, in order:
 *   decode it (ahdr.c) -> find or bind its SA (sa_bind.c: the binding policy and THE RULE that
 *   SA state follows the protocol flow, never a verdict) -> rebuild the signature buffer of the
 *   SA's version (sigbuf/) -> ask the SA's mechanism for a verdict (mech_*.c) -> record cnum /
 *   snum and "signed" only for a message that verified, or without keys from the flow alone
 *   (sa_seq.c) -> keep the result (results.c).
 * The SA table and its indexes are in sa_table.c. Nothing here depends on which mechanism an SA
 * uses: what differs is in the mech_ops table.
 */
#include "verify/sa.h"

#include <string.h>

#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "verify/ahdr.h"
#include "verify/mech.h"
#include "verify/sa_bind.h"
#include "verify/sa_table.h"

struct sa_tracker {
    keystore *ks;
    sa_table *tab;
    result_store *results;
    GPtrArray *full;           /* msg_result* kept for sa_tracker_process (tests, tools) */
    msg_result *scratch;       /* the full result of the message being processed, reused */
    GArray *hdrs;              /* its headers (sip_hdr), reused */
    guint config_reported;     /* keystore configuration errors already reported */
    int later;                 /* sa_tracker_set_later */
    /* Headers that name no SA (NO_SA: a capture that starts after the handshakes, without
     * keys) mostly follow others of the same opaque: the reason of the last one, kept for the
     * next with the same scheme and opaque, and what the store kept for the last one of each
     * direction (the hints an SA keeps for its own headers). */
    struct {
        const mech_ops *mech;  /* NULL: no reason kept */
        char *opaque;          /* the one the reason names (copy), NULL for none */
        char *text;
        why_ref why_kept[2];
        uint8_t why_kept_split;
        const note_list *notes_kept[2];
    } nosa;
};

sa_tracker *sa_tracker_new(keystore *ks)
{
    sa_tracker *t = g_new0(sa_tracker, 1);
    t->ks = ks;
    t->tab = sa_table_new();
    t->results = result_store_new();
    t->full = g_ptr_array_new_with_free_func((GDestroyNotify)msg_result_free);
    t->scratch = result_new();
    t->hdrs = g_array_sized_new(FALSE, FALSE, sizeof(sip_hdr), 32);
    return t;
}

void sa_tracker_set_later(sa_tracker *t, int later)
{
    t->later = later != 0;
}

void sa_tracker_free(sa_tracker *t)
{
    if (!t)
        return;
    sa_table_free(t->tab);
    result_store_free(t->results);
    g_ptr_array_free(t->full, TRUE);
    msg_result_free(t->scratch);
    g_array_free(t->hdrs, TRUE);
    g_free(t->nosa.opaque);
    g_free(t->nosa.text);
    g_free(t);
}

const result_store *sa_tracker_results(const sa_tracker *t)
{
    return t->results;
}

uint32_t sa_tracker_count(const sa_tracker *t)
{
    return sa_table_count(t->tab);
}

int sa_tracker_info(const sa_tracker *t, uint32_t id, sa_info *out)
{
    memset(out, 0, sizeof *out);
    const sa_entry *s = sa_table_get(t->tab, id);
    if (!s)
        return 0;
    out->id = s->id;
    out->first_frame = s->frame;
    out->last_frame = s->last_frame;
    out->scheme = sa_mech(s)->scheme;
    out->has_version = s->has_version;
    out->version = s->version;
    out->realm = sa_realm(s);
    out->targetname = sa_targetname(s);
    out->opaque = s->opaque;
    out->n_aliases = sa_aliases(s) ? sa_aliases(s)->len : 0;
    out->client_name = sa_mech(s)->client_name ? sa_mech(s)->client_name(s->mstate) : NULL;
    out->client_ep = s->client_ep;
    out->server_ep = s->server_ep;
    out->implicit = s->implicit;
    return 1;
}

void sa_info_clear(sa_info *i)
{
    g_free(i->client_name);
    memset(i, 0, sizeof *i);
}

char *sa_tracker_export_keys(const sa_tracker *t, size_t *lines)
{
    GString *out = g_string_new("# mssipae: derived per-SA keys (design.md key-log format)\n");
    size_t total = 0;
    for (uint32_t id = 1; id <= sa_table_count(t->tab); id++) {
        const sa_entry *s = sa_table_get(t->tab, id);
        if (!s->opaque || !sa_mech(s)->export_keys)
            continue;
        GPtrArray *names = g_ptr_array_new();
        g_ptr_array_add(names, s->opaque);
        const GPtrArray *aliases = sa_aliases(s);
        for (guint i = 0; aliases && i < aliases->len; i++)
            g_ptr_array_add(names, g_ptr_array_index(aliases, i));
        GString *one = g_string_new(NULL);
        size_t n = sa_mech(s)->export_keys(s->mstate, (const char *const *)names->pdata, names->len,
                                        one);
        if (n) {
            g_string_append_printf(out, "# SA %u (%s, handshake frame %u)\n", s->id,
                                   sa_mech(s)->scheme, s->frame);
            g_string_append_len(out, one->str, one->len);
            total += n;
        }
        secure_wipe(one->str, one->len);
        g_string_free(one, TRUE);
        g_ptr_array_free(names, TRUE);
    }
    if (lines)
        *lines = total;
    return g_string_free(out, FALSE);
}

static int has_note_kind(const note_list *l, guint from, note_kind k)
{
    for (guint i = from; i < l->len; i++)
        if (g_array_index(l, mssipae_note, i).kind == k)
            return 1;
    return 0;
}

/* At most this many conflicting key-log lines for one opaque are tried for one signature. */
#define KEYLOG_CONFLICT_MAX 16

/* The key log has several lines with different keys for this SA's opaque: a match is proof, so
 * each is tried (pinned in the keystore) until one verifies; that verdict is returned with a note
 * naming the conflict. When none verifies, returns SIG_NONE so the caller verifies with the
 * default line (the last one), after a note that the others did not verify either. */
static sig_verdict verify_conflicts(sa_tracker *t, const mech_ops *mech, sa_entry *s,
                                    auth_result *a, const char *opaque)
{
    sig_verdict none = { SIG_NONE, NULL };
    const keylog_entry *const *alts;
    size_t n = opaque ? keystore_keylog_conflicts(t->ks, mech->keylog, opaque, &alts) : 0;
    if (n < 2)
        return none;
    /* copy: a reread inside verify must not pull the list from under us (entries stay valid) */
    size_t tried = MIN(n, (size_t)KEYLOG_CONFLICT_MAX);
    const keylog_entry **list = g_memdup2(alts, tried * sizeof(*list));
    GString *lines = g_string_new(NULL);
    for (size_t i = 0; i < tried; i++)
        g_string_append_printf(lines, "%s%u", i ? ", " : "", list[i]->line);
    sig_verdict found = none;
    keystore_keylog_hold(t->ks, 1);
    for (size_t i = 0; i < tried && found.status == SIG_NONE; i++) {
        keystore_keylog_pin(t->ks, list[i]);
        note_list *scratch = note_list_new();
        sig_verdict c = mech->verify(s->mstate, t->ks, opaque, a->dir, (const uint8_t *)a->sigbuf,
                                     a->sigbuf_len, a->sig, a->sig_len, scratch, 0);
        if (c.status == SIG_VALID) {
            for (guint j = 0; j < scratch->len; j++) {
                mssipae_note *nt = &g_array_index(scratch, mssipae_note, j);
                g_array_append_val(a->notes, *nt);
                nt->text = NULL; /* moved */
            }
            note_add(a->notes, NOTE_CONFIG, NOTE_SEV_WARN, "key log has %zu lines with different "
                     "keys for %s opaque %s (lines %s): verified with line %u", n, mech->scheme,
                     opaque, lines->str, list[i]->line);
            found = c;
        } else {
            verdict_clear(&c);
        }
        note_list_free(scratch);
    }
    keystore_keylog_pin(t->ks, NULL);
    keystore_keylog_hold(t->ks, 0);
    if (found.status == SIG_NONE)
        note_add(a->notes, NOTE_CONFIG, NOTE_SEV_WARN, "key log has %zu lines with different keys "
                 "for %s opaque %s (lines %s%s): none verifies this signature", n, mech->scheme,
                 opaque, lines->str, n > tried ? ", the rest not tried" : "");
    g_string_free(lines, TRUE);
    g_free(list);
    return found;
}

/* At most this many key-log entries are tried for one signature made before its opaque was
 * named: the trial is linear in the capture, whatever the size of the key log. */
#define KEYLOG_TRIAL_MAX 64

/* A signature made before the server named its SA's opaque (Kerberos v4 signs the AP-REQ
 * request; the opaque comes with the 200 OK) cannot be matched to a key-log line by opaque yet.
 * Try the key-log entries of the scheme whose opaque names no SA yet (the others belong to SAs
 * of their own), at most KEYLOG_TRIAL_MAX: a match is cryptographic proof that the entry is this
 * SA's key; a mismatch proves nothing, so the verdict then stays NO_KEY. */
static void try_keylog_ids(sa_tracker *t, const mech_ops *mech, sa_entry *s, const auth_result *a,
                           sig_verdict *v)
{
    const char *const *ids;
    verdict_own(v); /* the trials below call the mechanism again */
    size_t n = keystore_keylog_ids_view(t->ks, mech->keylog, &ids);
    size_t tried = 0, skipped = 0;
    keystore_keylog_hold(t->ks, 1);
    for (size_t i = 0; i < n; i++) {
        if (tried == KEYLOG_TRIAL_MAX) {
            skipped = n - i; /* not looked at: some may belong to SAs already */
            break;
        }
        if (sa_table_known(t->tab, mech, ids[i]))
            continue;
        tried++;
        note_list *scratch = note_list_new();
        sig_verdict c = mech->verify(s->mstate, t->ks, ids[i], a->dir,
                                     (const uint8_t *)a->sigbuf, a->sigbuf_len, a->sig,
                                     a->sig_len, scratch, 0);
        note_list_free(scratch);
        if (c.status == SIG_VALID) {
            verdict_clear(v);
            v->status = SIG_VALID;
            verdict_set_why(v, g_strdup_printf("%s (key-log entry for opaque %s; the server had "
                                               "not named this SA's opaque yet)",
                                               c.why ? c.why : "valid", ids[i]));
            verdict_clear(&c);
            skipped = 0;
            break;
        }
        verdict_clear(&c);
    }
    if (tried && v->status != SIG_VALID) {
        char *why = g_strdup_printf("%s; none of the %zu %s key-log entries not yet bound to an SA "
                                    "verifies it", v->why ? v->why : "no key", tried,
                                    mech->scheme);
        verdict_set_why(v, why);
    }
    if (skipped) {
        char *why = g_strdup_printf("%s (%zu more entries not tried: at most %d are tried for a "
                                    "signature made before its opaque was named)",
                                    v->why ? v->why : "no key", skipped, KEYLOG_TRIAL_MAX);
        verdict_set_why(v, why);
    }
    keystore_keylog_hold(t->ks, 0);
}

/* The protocol version whose buffer a signed header needs: the SA's (from its challenge), else
 * the header's own, else the one a challenge offered to this client, else 2 (ms-sipae.md 1). */
static unsigned buffer_version(sa_tracker *t, const mech_ops *mech, auth_result *a,
                               const sa_entry *s, const msg_meta *meta)
{
    if (s && s->has_version) {
        a->version_from_sa = !a->has_version || a->version != s->version;
        a->version = s->version;
        a->has_version = 1;
        return a->version;
    }
    if (a->has_version)
        return a->version;
    unsigned off;
    const char *client = a->kind == AH_CREDENTIALS ? meta->src : meta->dst;
    a->version_from_sa = 1;
    a->has_version = 1;
    if (client && sa_table_offered(t->tab, mech, a->realm, a->targetname, client, &off))
        a->version = off;
    else
        a->version = 2;
    return a->version;
}

/* Marks that the verdict deserves its expert info ("signature invalid: <why>"), unless the
 * mechanism already added one of its kind: the note is made from the status and the reason
 * when shown (results.c: auth_verdict_note), never stored per header. */
static void note_verdict(auth_result *a, guint before)
{
    note_kind kind;
    note_sev sev;
    if (a->status == SIG_VALID) /* the usual header: a valid signature has no such note */
        return;
    if (auth_verdict_note_kind(a->status, &kind, &sev) && !has_note_kind(a->notes, before, kind))
        a->verdict_note = 1;
}

/* The NO_SA reason for a header of scheme mech with opaque (may be NULL): the kept one when it
 * is for the same, else made and kept (owned by the tracker until the next one is made). */
static const char *no_sa_why(sa_tracker *t, const mech_ops *mech, const char *opaque)
{
    if (t->nosa.mech == mech && !t->nosa.opaque == !opaque &&
        (!opaque || strcmp(t->nosa.opaque, opaque) == 0))
        return t->nosa.text;
    g_free(t->nosa.text);
    g_free(t->nosa.opaque);
    t->nosa.mech = mech;
    t->nosa.opaque = g_strdup(opaque);
    t->nosa.text = opaque
        ? g_strdup_printf("no %s security association with opaque %s in this capture "
                          "(handshake not captured, and no key-log entry for it)",
                          mech->scheme, opaque)
        : g_strdup_printf("no %s security association: the header has no opaque", mech->scheme);
    return t->nosa.text;
}

/* What a signed header on s leaves behind for later messages: its cnum/snum and "this SA
 * signs". Only a message that verified, or one nobody could check (no key, unsupported: the
 * protocol flow alone), counts; an invalid or malformed signature changes nothing. */
static void record_signed(sa_tracker *t, sa_entry *s, const auth_result *a, uint32_t frame)
{
    if (a->status != SIG_VALID && a->status != SIG_NO_KEY && a->status != SIG_UNSUPPORTED)
        return;
    if (a->has_num)
        sa_seq_commit(&s->seq[a->dir], a->num, frame);
    s->signed_seen = 1;
    sa_table_set_signing(t->tab, s);
}

static void process_auth(sa_tracker *t, auth_result *a, const sip_msg *m, const msg_facts *f)
{
    const mech_ops *mech = mech_find(a->scheme);
    if (!mech) {
        if (a->scheme && g_ascii_strcasecmp(a->scheme, "Digest") == 0) {
            /* recognised, no MS-SIPAE signatures */
            a->status = SIG_NONE;
            auth_result_set_why(a, NULL);
        } else if (a->has_sig) {
            a->status = SIG_UNSUPPORTED;
            auth_result_set_why(a, g_strdup_printf("unknown authentication scheme \"%.40s\"",
                                                   a->scheme ? a->scheme : ""));
            note_add(a->notes, NOTE_UNSUPPORTED, NOTE_SEV_NOTE, "%s", a->why);
        }
        return;
    }

    sa_entry *hs = sa_bind_may_handshake(a) ? sa_bind_handshake(t->tab, t->ks, mech, a, f) : NULL;
    if (hs) {
        a->sa_id = hs->id;
        a->sa_frame = hs->frame;
        hs->last_frame = f->meta->frame;
        a->has_version = a->has_version || hs->has_version;
        if (!a->has_version)
            a->version = hs->version;
    }

    if (!a->has_sig) {
        /* v4: the request carrying the last handshake token is already signed (reference §3) */
        unsigned v = hs && hs->has_version ? hs->version : a->version;
        if (a->kind == AH_CREDENTIALS && a->gss_len && v >= 4 && mech->is_final_client_token &&
            mech->is_final_client_token(a->gss, a->gss_len))
            note_add(a->notes, NOTE_UNSIGNED, NOTE_SEV_WARN,
                     "version %u: the request carrying the last handshake token should be signed", v);
        return;
    }

    int named = 0;
    sa_entry *s = hs ? hs : sa_bind_signed(t->tab, t->ks, mech, a, f, &named);
    if (s) {
        a->sa_id = s->id;
        a->sa_frame = s->frame;
        s->last_frame = f->meta->frame;
        if (a->has_num)
            sa_seq_check(&s->seq[a->dir], a->num, a->dir == DIR_C2S ? "cnum" : "snum", s->id,
                         a->notes);
    }
    unsigned version = buffer_version(t, mech, a, s, f->meta);
    sigbuf_auth sa = { a->scheme, a->rand, a->num_str, a->realm, a->targetname, a->line_off,
                       a->line_len };
    GString *b = auth_result_sigbuf_store(a);
    sigbuf_build_into(m, &sa, version, b);
    a->sigbuf_len = b->len;
    a->sigbuf = b->str;

    if (a->status == SIG_MALFORMED) {
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "signature not checked: %s", a->why);
        return;
    }
    if (!s) {
        a->status = SIG_NO_SA;
        const char *why = no_sa_why(t, mech, a->opaque);
        note_add_text(a->notes, NOTE_NO_SA, NOTE_SEV_WARN, why);
        /* lent, as a mechanism lends its reasons: the store reads it before the next header */
        verdict_borrow_begin();
        sig_verdict v = verdict_copy(SIG_NO_SA, why);
        verdict_borrow_end();
        auth_result_take_why(a, &v);
        a->why_hint = t->nosa.why_kept[a->dir & 1];
        a->why_hint_split = (t->nosa.why_kept_split >> (a->dir & 1)) & 1;
        a->notes_hint = t->nosa.notes_kept[a->dir & 1];
        return;
    }
    guint before = a->notes->len;
    const char *opaque = named ? a->opaque : sa_bind_opaque_for(s, a);
    sig_verdict v = verify_conflicts(t, mech, s, a, opaque);
    if (v.status == SIG_NONE) {
        /* the reason may be the mechanism's own text (no copy): taken below before any other
         * call of the mechanism (try_keylog_ids makes it a copy first) */
        verdict_borrow_begin();
        /* verify_conflicts has just looked at the key log for this opaque: the mechanism's
         * look-ups in this one verification need not look again (no second clock read) */
        if (opaque)
            keystore_keylog_hold(t->ks, 1);
        v = mech->verify(s->mstate, t->ks, opaque, a->dir, (const uint8_t *)a->sigbuf,
                         a->sigbuf_len, a->sig, a->sig_len, a->notes, t->later);
        if (opaque)
            keystore_keylog_hold(t->ks, 0);
        verdict_borrow_end();
    }
    if (v.status == SIG_NO_KEY && !opaque)
        try_keylog_ids(t, mech, s, a, &v);
    if (v.status == SIG_VALID && v.has_unprotected_seq) {
        /* watched like cnum/snum: a repeat or a jump of a number no signature protects */
        uint32_t seq = (uint32_t)v.unprotected_seq;
        sa_seq *ms = sa_mech_seq(s, a->dir);
        sa_seq_check(ms, seq, "RFC 4757 SND_SEQ (not covered by the signature)", s->id,
                     a->notes);
        sa_seq_commit(ms, seq, f->meta->frame);
    }
    a->status = v.status;
    auth_result_take_why(a, &v);
    note_verdict(a, before);
    record_signed(t, s, a, f->meta->frame);
    /* most headers of an SA keep the reason the previous one kept, or one that differs only
     * at its end: result_keep shares it */
    a->why_hint = s->why_kept[a->dir & 1];
    a->why_hint_split = (s->why_kept_split >> (a->dir & 1)) & 1;
    a->notes_hint = s->notes_kept[a->dir & 1];
}

/* An unsigned message between the endpoints of an SA that signs: every message after the
 * handshake is signed, except 1xx, 401/407 challenges and handshake requests (reference §3). */
static void check_unsigned(sa_tracker *t, msg_result *r, const sip_msg *m, const msg_meta *meta)
{
    for (guint i = 0; i < r->auths->len; i++) {
        const auth_result *a = g_ptr_array_index(r->auths, i);
        if (a->has_sig || a->has_gss || a->kind == AH_CHALLENGE)
            return;
    }
    if (!m->is_request && (m->status_code < 200 || m->status_code == 401 || m->status_code == 407))
        return;
    if (!meta->src || !meta->dst)
        return;
    const sa_entry *s = sa_table_signing(t->tab, meta->src, meta->dst);
    if (!s)
        return;
    char *what = m->is_request ? g_strndup(m->method.p, m->method.n)
                               : g_strdup_printf("%d response", m->status_code);
    note_add(r->notes, NOTE_UNSIGNED, NOTE_SEV_WARN,
             "unsigned %s between the endpoints of %s SA %u (opaque %s), which signs every "
             "message", what, sa_mech(s)->scheme, s->id, s->opaque ? s->opaque : "?");
    g_free(what);
    r->unsigned_sa = s->id;
    r->unsigned_dir = s->client_ep && strcmp(meta->src, s->client_ep) == 0 ? DIR_C2S : DIR_S2C;
}

/* Configuration problems (unreadable keytab, bad key-log lines) are reported once, on the first
 * message with an MS-SIPAE header after they appear. */
static void report_config(sa_tracker *t, msg_result *r)
{
    const char *const *errs = keystore_config_errors(t->ks);
    guint n = 0;
    while (errs[n])
        n++;
    for (guint i = t->config_reported; i < n; i++)
        note_add(r->notes, NOTE_CONFIG, NOTE_SEV_WARN, "%s", errs[i]);
    if (n > t->config_reported)
        t->config_reported = n;
}

/* The six MS-SIPAE auth headers are the kinds SIP_HK_WWW_AUTHENTICATE .. AUTH_HK_LAST. */
#define AUTH_HK_LAST SIP_HK_PROXY_AUTHENTICATION_INFO
G_STATIC_ASSERT(SIP_HK_PROXY_AUTHENTICATE == SIP_HK_WWW_AUTHENTICATE + 1 &&
                SIP_HK_AUTHORIZATION == SIP_HK_WWW_AUTHENTICATE + 2 &&
                SIP_HK_PROXY_AUTHORIZATION == SIP_HK_WWW_AUTHENTICATE + 3 &&
                SIP_HK_AUTHENTICATION_INFO == SIP_HK_WWW_AUTHENTICATE + 4 &&
                AUTH_HK_LAST == SIP_HK_WWW_AUTHENTICATE + 5);

const msg_rec *sa_tracker_process_rec(sa_tracker *t, const char *msg, size_t len,
                                      const msg_meta *meta)
{
    msg_result *r = t->scratch;
    result_reset(r);
    sip_msg m;
    const char *why;
    if (sip_msg_parse_with(msg, len, &m, t->hdrs, &why) < 0) {
        note_add(r->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "not a SIP message: %s", why);
        return result_keep(t->results, r);
    }
    r->parsed = 1;
    r->is_request = m.is_request;
    r->status_code = m.status_code;
    if (!m.complete)
        note_add(r->notes, NOTE_MALFORMED, NOTE_SEV_NOTE, "SIP header block is truncated");

    msg_facts f;
    int facts = 0;
    /* the headers are read only from here on: their array, its length and the spares are
     * loaded once, not after every call */
    const sip_hdr *hv = (const sip_hdr *)(const void *)m.hdrs->data;
    guint nh = m.hdrs->len;
    GPtrArray *spare = r->spare;
    for (guint i = 0; i < nh; i++) {
        /* only the six auth headers decode (ahdr.c); the others skip the call */
        if ((unsigned)hv[i].kind - SIP_HK_WWW_AUTHENTICATE > AUTH_HK_LAST - SIP_HK_WWW_AUTHENTICATE)
            continue;
        auth_result *a = ahdr_decode_reuse(&m, &hv[i], spare);
        if (!a)
            continue;
        if (!facts) {
            msg_facts_init(&f, &m, meta);
            facts = 1;
        } else { /* the previous header's reason may be lent by the mechanism called next */
            auth_result_own_why(g_ptr_array_index(r->auths, r->auths->len - 1));
        }
        g_ptr_array_add(r->auths, a);
        process_auth(t, a, &m, &f);
    }
    check_unsigned(t, r, &m, meta);
    if (r->auths->len)
        report_config(t, r);
    if (facts)
        msg_facts_clear(&f);
    sip_msg_clear(&m);
    if (t->hdrs->len > 4096) { /* a message with huge numbers of headers: do not keep its room */
        g_array_free(t->hdrs, TRUE);
        t->hdrs = g_array_sized_new(FALSE, FALSE, sizeof(sip_hdr), 32);
    }
    const msg_rec *k = result_keep(t->results, r);
    const msg_rec_extra *x = msg_rec_extra_of(t->results, k);
    guint n = msg_rec_n_auths(k);
    for (guint i = 0; i < n; i++) {
        const auth_rec *ar = &k->auths[i];
        int split;
        why_ref why = auth_rec_why_hint(ar, &split);
        const note_list *notes = x ? x->auth_notes[i] : NULL;
        if (!ar->sa_id && ar->status == SIG_NO_SA) { /* the hints of headers without an SA */
            unsigned d = ar->dir & 1;
            t->nosa.why_kept[d] = why;
            t->nosa.why_kept_split = (uint8_t)((t->nosa.why_kept_split & ~(1u << d)) |
                                               ((unsigned)split << d));
            t->nosa.notes_kept[d] = notes;
            continue;
        }
        sa_entry *s = ar->sa_id && (why || notes) ? sa_table_get(t->tab, ar->sa_id) : NULL;
        if (s && why) {
            s->why_kept[ar->dir & 1] = why;
            s->why_kept_split = (uint8_t)((s->why_kept_split & ~(1u << (ar->dir & 1))) |
                                          ((unsigned)split << (ar->dir & 1)));
        }
        if (s && notes)
            s->notes_kept[ar->dir & 1] = notes;
    }
    return k;
}

/* The NOTE_LATER notes of a (header i of record k, just expanded, its SA s) replaced by the
 * notes they stand for (explain) or left out, in place; the verdict's own note, which
 * result_expand put last, dropped when a note made here has its kind, as note_verdict would
 * have on the first pass. */
static void explain_later(const msg_rec *k, guint i, const sa_entry *s, auth_result *a,
                          int explain)
{
    note_list *n = a->notes;
    guint j = 0;
    while (n && j < n->len && g_array_index(n, mssipae_note, j).kind != NOTE_LATER)
        j++;
    if (!n || j == n->len)
        return;
    /* the record's verdict note (auth_rec_verdict_note's condition, without making its text):
     * then the last note is the verdict's */
    const auth_rec *kr = &k->auths[i];
    note_kind vk;
    note_sev vs;
    int has_vn = (kr->flags & AR_VERDICT_NOTE) && auth_verdict_note_kind(kr->status, &vk, &vs);
    const mech_ops *mech = s ? sa_mech(s) : NULL;
    note_list *out = note_list_new();
    int drop_vn = 0;
    for (j = 0; j < n->len; j++) {
        mssipae_note *x = &g_array_index(n, mssipae_note, j);
        if (x->kind != NOTE_LATER) {
            g_array_append_val(out, *x);
            x->text = NULL; /* moved */
            continue;
        }
        guint from = out->len;
        if (explain && mech && mech->explain && a->sigbuf && a->sig)
            mech->explain(s->mstate, x->text, a->dir, (const uint8_t *)a->sigbuf, a->sigbuf_len,
                          a->sig, a->sig_len, out);
        if (has_vn && has_note_kind(out, from, vk))
            drop_vn = 1;
    }
    if (drop_vn)
        g_array_set_size(out, out->len - 1);
    note_list_free(n);
    a->notes = out;
}

msg_result *sa_tracker_expand(const sa_tracker *t, const msg_rec *k, const char *msg, size_t len,
                              int explain)
{
    msg_result *r = result_expand(t->results, k, msg, len);
    int later = r && msg_rec_has_later(t->results, k);
    for (guint i = 0; r && i < r->auths->len; i++) { /* records keep no sa_frame: the SA's */
        auth_result *a = g_ptr_array_index(r->auths, i);
        const sa_entry *s = a->sa_id ? sa_table_get(t->tab, a->sa_id) : NULL;
        a->sa_frame = s ? s->frame : 0;
        if (later)
            explain_later(k, i, s, a, explain);
    }
    return r;
}

const msg_result *sa_tracker_process(sa_tracker *t, const char *msg, size_t len,
                                     const msg_meta *meta)
{
    const msg_rec *k = sa_tracker_process_rec(t, msg, len, meta);
    msg_result *r = sa_tracker_expand(t, k, msg, len, 1);
    g_assert(r); /* the same bytes give the same headers */
    g_ptr_array_add(t->full, r);
    return r;
}
