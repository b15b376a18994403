/* sa.c - security associations over a whole capture ([MS-SIPAE] 3.2.5, 3.3.5; reference §5).
 *
 * An SA is created by the first credentials or challenge of a handshake, bound to the server's
 * opaque when it first appears (the 2nd-leg challenge for NTLM/TLS-DSK, the first server *-Info
 * for Kerberos), and looked up for signed messages by (scheme, realm, targetname, opaque).
 * Old SAs are kept: in-flight messages may still use them after a renegotiation.
 */
#include "verify/sa.h"

#include <string.h>

#include "sigbuf/authp.h"
#include "sigbuf/codec.h"
#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "verify/mech.h"

typedef struct {
    uint32_t id;
    uint32_t frame;            /* where the handshake started */
    const mech_ops *mech;
    void *mstate;              /* owned by the mechanism */
    char *realm, *targetname;
    char *opaque;              /* NULL until the server names it */
    int has_version;
    unsigned version;
    char *client_ep, *server_ep;
    char *call_id;
    char *txn;                 /* Kerberos: Call-ID|CSeq|From-tag of the AP-REQ, to bind the opaque */
    int handshake_seen;
    int signed_seen;           /* a signed message of this SA was seen */
    GHashTable *nums[2];       /* per direction: cnum/snum -> first frame (GUINT_TO_POINTER) */
    uint32_t last_num[2];
    int implicit;              /* created from a key-log entry, handshake not in the capture */
} sa_entry;

struct sa_tracker {
    keystore *ks;
    GPtrArray *sas;            /* sa_entry*, in creation order (id = index + 1) */
    GHashTable *by_opaque;     /* "SCHEME|OPAQUE" -> GPtrArray of sa_entry* (newest last) */
    GHashTable *offers;        /* offer_key() -> version + 1 from a 1st-leg challenge */
    GPtrArray *pending;        /* sa_entry* whose opaque is not known yet, oldest first */
    GHashTable *signing;       /* endpoints_key() -> the SA that last signed between them */
    GPtrArray *results;        /* msg_result*, owned */
    guint config_reported;     /* keystore configuration errors already reported */
    msg_result *empty;         /* shared result of messages without MS-SIPAE headers */
    void *caps[MECH_COUNT];    /* per-capture state of each mechanism (mech_ops.cap_new) */
};

/* ---- helpers ---- */

/* Key of the version a 1st-leg challenge offered to one client: the mechanism (a pointer, so
 * case cannot matter), realm and targetname as sent, and the client's endpoint. */
static char *offer_key(const mech_ops *mech, const char *realm, const char *target,
                       const char *client_ep)
{
    return g_strdup_printf("%p|%s|%s|%s", (const void *)mech, realm ? realm : "",
                           target ? target : "", client_ep ? client_ep : "");
}

/* Index key of an SA's opaque: "SCHEME|OPAQUE" (both compare case-insensitively). */
static char *opaque_key(const mech_ops *mech, const char *opaque)
{
    char *k = g_strdup_printf("%s|%s", mech->scheme, opaque);
    for (char *p = k; *p; p++)
        *p = g_ascii_toupper(*p);
    return k;
}

static int streq0(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void sa_free(gpointer p)
{
    sa_entry *s = p;
    if (s->mech && s->mstate)
        s->mech->sa_free(s->mstate);
    g_free(s->realm);
    g_free(s->targetname);
    g_free(s->opaque);
    g_free(s->client_ep);
    g_free(s->server_ep);
    g_free(s->call_id);
    g_free(s->txn);
    for (int d = 0; d < 2; d++)
        if (s->nums[d])
            g_hash_table_destroy(s->nums[d]);
    g_free(s);
}

static void auth_result_free(gpointer p)
{
    auth_result *a = p;
    g_free(a->name);
    g_free(a->scheme);
    g_free(a->realm);
    g_free(a->targetname);
    g_free(a->opaque);
    g_free(a->qop);
    g_free(a->rand);
    g_free(a->num_str);
    g_free(a->sig);
    g_free(a->gss);
    g_free(a->sigbuf);
    g_free(a->why);
    if (a->other_params)
        g_ptr_array_free(a->other_params, TRUE);
    note_list_free(a->notes);
    g_free(a);
}

static void msg_result_free(gpointer p)
{
    msg_result *r = p;
    if (r->auths)
        g_ptr_array_free(r->auths, TRUE);
    note_list_free(r->notes);
    g_free(r);
}

sa_tracker *sa_tracker_new(keystore *ks)
{
    sa_tracker *t = g_new0(sa_tracker, 1);
    t->ks = ks;
    t->sas = g_ptr_array_new_with_free_func(sa_free);
    t->by_opaque = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_ptr_array_unref);
    t->offers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    t->pending = g_ptr_array_new();
    t->signing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    t->results = g_ptr_array_new_with_free_func(msg_result_free);
    for (size_t i = 0; i < MECH_COUNT; i++)
        if (mech_at(i)->cap_new)
            t->caps[i] = mech_at(i)->cap_new();
    return t;
}

void sa_tracker_free(sa_tracker *t)
{
    if (!t)
        return;
    g_hash_table_destroy(t->by_opaque);
    g_hash_table_destroy(t->offers);
    g_ptr_array_free(t->pending, TRUE);
    g_hash_table_destroy(t->signing);
    g_ptr_array_free(t->sas, TRUE);
    g_ptr_array_free(t->results, TRUE);
    for (size_t i = 0; i < MECH_COUNT; i++)
        if (t->caps[i])
            mech_at(i)->cap_free(t->caps[i]);
    if (t->empty)
        msg_result_free(t->empty);
    g_free(t);
}

uint32_t sa_tracker_count(const sa_tracker *t)
{
    return t->sas->len;
}

static sa_entry *sa_create(sa_tracker *t, const mech_ops *mech, const auth_result *a,
                           const msg_meta *meta, const char *call_id)
{
    sa_entry *s = g_new0(sa_entry, 1);
    s->id = t->sas->len + 1;
    s->frame = meta->frame;
    s->mech = mech;
    s->mstate = mech->sa_new(t->caps[mech_index(mech)]);
    s->realm = g_strdup(a->realm);
    s->targetname = g_strdup(a->targetname);
    s->call_id = g_strdup(call_id);
    /* the client is whoever sends credentials; a challenge travels to the client */
    const char *client = a->kind == AH_CREDENTIALS ? meta->src : meta->dst;
    const char *server = a->kind == AH_CREDENTIALS ? meta->dst : meta->src;
    s->client_ep = g_strdup(client);
    s->server_ep = g_strdup(server);
    for (int d = 0; d < 2; d++)
        s->nums[d] = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_ptr_array_add(t->sas, s);
    g_ptr_array_add(t->pending, s);
    return s;
}

static void sa_bind_opaque(sa_tracker *t, sa_entry *s, const char *opaque)
{
    if (!s->opaque)
        g_ptr_array_remove(t->pending, s);
    g_free(s->opaque);
    s->opaque = g_strdup(opaque);
    char *k = opaque_key(s->mech, opaque);
    GPtrArray *list = g_hash_table_lookup(t->by_opaque, k);
    if (!list) {
        list = g_ptr_array_new();
        g_hash_table_insert(t->by_opaque, k, list);
    } else {
        g_free(k);
    }
    g_ptr_array_add(list, s);
}

/* Key of a pair of endpoints, either way round. */
static char *endpoints_key(const char *a, const char *b)
{
    if (strcmp(a, b) > 0) {
        const char *x = a;
        a = b;
        b = x;
    }
    return g_strdup_printf("%s|%s", a, b);
}

/* Same pair of endpoints, either way round. */
static int sa_on_endpoints(const sa_entry *s, const msg_meta *meta)
{
    if (!meta->src || !meta->dst || !s->client_ep || !s->server_ep)
        return 0;
    return (strcmp(s->client_ep, meta->src) == 0 && strcmp(s->server_ep, meta->dst) == 0) ||
           (strcmp(s->client_ep, meta->dst) == 0 && strcmp(s->server_ep, meta->src) == 0);
}

/* The SA a header's opaque names, newest first: the one with the same realm and targetname on
 * the same endpoints; else one with that opaque on the same endpoints whose realm or targetname
 * differ (a tampered realm/targetname must still reach its SA, so the signature can be found
 * invalid; noted); else the newest with the same realm and targetname anywhere (an SA outlives
 * its TCP connection). */
static sa_entry *sa_find(sa_tracker *t, const mech_ops *mech, auth_result *a,
                         const msg_meta *meta)
{
    if (!a->opaque)
        return NULL;
    char *k = opaque_key(mech, a->opaque);
    GPtrArray *list = g_hash_table_lookup(t->by_opaque, k);
    g_free(k);
    sa_entry *same_ep = NULL, *same_names = NULL;
    for (guint i = list ? list->len : 0; i-- > 0;) {
        sa_entry *s = g_ptr_array_index(list, i);
        int names = streq0(s->realm, a->realm) && streq0(s->targetname, a->targetname);
        int ep = sa_on_endpoints(s, meta);
        if (names && ep)
            return s;
        if (ep && !same_ep)
            same_ep = s;
        if (names && !same_names)
            same_names = s;
    }
    if (same_ep) {
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN,
                 "%s: realm \"%s\" / targetname \"%s\" differ from those of %s SA %u "
                 "(\"%s\" / \"%s\"), found by its opaque %s on the same endpoints",
                 a->name, a->realm ? a->realm : "", a->targetname ? a->targetname : "",
                 mech->scheme, same_ep->id, same_ep->realm ? same_ep->realm : "",
                 same_ep->targetname ? same_ep->targetname : "", same_ep->opaque);
        return same_ep;
    }
    return same_names;
}

/* A handshake in progress without an opaque yet, for this scheme/realm/target, started by the
 * client the challenge goes to (same Call-ID or same endpoints). One on the same endpoints is
 * preferred: the same session seen from two vantage points (client and server logs merged into
 * one capture) has the same Call-IDs on different endpoints. */
static sa_entry *sa_find_pending_here(sa_tracker *t, const mech_ops *mech,
                                      const auth_result *a, const msg_meta *meta, const char *txn)
{
    for (guint i = t->pending->len; i-- > 0;) {
        sa_entry *s = g_ptr_array_index(t->pending, i);
        if (s->mech == mech && streq0(s->realm, a->realm) &&
            streq0(s->targetname, a->targetname) && sa_on_endpoints(s, meta) &&
            (!txn || (s->txn && strcmp(s->txn, txn) == 0)))
            return s;
    }
    return NULL;
}

static sa_entry *sa_find_pending(sa_tracker *t, const mech_ops *mech, const auth_result *a,
                                 const msg_meta *meta, const char *call_id, const char *txn)
{
    sa_entry *here = sa_find_pending_here(t, mech, a, meta, txn);
    if (here)
        return here;
    for (guint i = t->pending->len; i-- > 0;) {
        sa_entry *s = g_ptr_array_index(t->pending, i);
        if (s->mech != mech || !streq0(s->realm, a->realm) ||
            !streq0(s->targetname, a->targetname))
            continue;
        if (txn) {
            if (s->txn && strcmp(s->txn, txn) == 0)
                return s;
            continue;
        }
        if ((call_id && s->call_id && strcmp(call_id, s->call_id) == 0) || sa_on_endpoints(s, meta))
            return s;
    }
    return NULL;
}

/* ---- header parsing ---- */

static int auth_header_kind(const sip_msg *m, const sip_hdr *h, ah_kind *kind)
{
    static const struct { const char *name; ah_kind kind; } names[] = {
        { "WWW-Authenticate", AH_CHALLENGE },
        { "Proxy-Authenticate", AH_CHALLENGE },
        { "Authorization", AH_CREDENTIALS },
        { "Proxy-Authorization", AH_CREDENTIALS },
        { "Authentication-Info", AH_INFO },
        { "Proxy-Authentication-Info", AH_INFO },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (sip_hdr_is(m, h, names[i].name, 0)) {
            *kind = names[i].kind;
            return 1;
        }
    return 0;
}

/* Parses a decimal parameter (cnum, snum, version) into *out; tolerates nothing else. */
static int parse_u32(const char *s, uint32_t *out)
{
    if (!s || !*s || strlen(s) > 10)
        return -1;
    guint64 v = 0;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return -1;
        v = v * 10 + (guint64)(*p - '0');
    }
    if (v > G_MAXUINT32)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static auth_result *auth_result_from_header(const sip_msg *m, const sip_hdr *h, ah_kind kind)
{
    auth_result *a = g_new0(auth_result, 1);
    a->notes = note_list_new();
    a->name = g_strndup(h->name.p, h->name.n);
    a->kind = kind;
    a->dir = kind == AH_CREDENTIALS ? DIR_C2S : DIR_S2C;
    a->line_off = h->line_off;
    a->line_len = h->line_len;

    size_t vl;
    char *v = sip_hdr_value(m, h, &vl);
    authp_header ah;
    if (authp_parse(v, vl, &ah) < 0)
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: %s", a->name, ah.error);
    if (ah.dups)
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN,
                 "%s: parameter(s) given more than once, the first is used: %s", a->name, ah.dups);
    a->scheme = g_strdup(ah.scheme);
    a->realm = g_strdup(authp_get(&ah, "realm"));
    a->targetname = g_strdup(authp_get(&ah, "targetname"));
    a->opaque = g_strdup(authp_get(&ah, "opaque"));
    a->qop = g_strdup(authp_get(&ah, "qop"));
    int client = kind == AH_CREDENTIALS;
    if (kind != AH_CHALLENGE) {
        a->rand = g_strdup(authp_get(&ah, client ? "crand" : "srand"));
        a->num_str = g_strdup(authp_get(&ah, client ? "cnum" : "snum"));
        if (a->num_str) {
            if (parse_u32(a->num_str, &a->num) == 0)
                a->has_num = 1;
            else
                note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: %s=\"%.40s\" is not a decimal number",
                         a->name, client ? "cnum" : "snum", a->num_str);
        }
    }
    for (guint i = 0; ah.params && i < ah.params->len; i++) {
        const authp_param *p = &g_array_index(ah.params, authp_param, i);
        if (authp_is_known(p->name))
            continue;
        if (!a->other_params)
            a->other_params = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(a->other_params, g_strdup_printf("%s=%s", p->name, p->value));
    }
    const char *ver = authp_get(&ah, "version");
    if (ver) {
        uint32_t vv;
        if (parse_u32(ver, &vv) == 0) {
            a->has_version = 1;
            a->version = vv;
        } else {
            note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: version=\"%.40s\" is not a number",
                     a->name, ver);
        }
    }
    const char *gss = authp_get(&ah, "gssapi-data");
    if (gss) {
        a->has_gss = 1;
        const char *why;
        if (*gss && codec_b64_decode(gss, strlen(gss), &a->gss, &a->gss_len, &why) < 0)
            note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: gssapi-data: %s", a->name, why);
    }
    /* signature parameters only from *-Info and *-Authorization headers (reference §3) */
    const char *sig = kind == AH_CHALLENGE ? NULL : authp_get(&ah, client ? "response" : "rspauth");
    if (sig) {
        a->has_sig = 1;
        const char *why = NULL;
        if (!*sig) {
            a->status = SIG_MALFORMED;
            a->why = g_strdup_printf("%s is empty", client ? "response" : "rspauth");
        } else if (codec_hex_decode(sig, strlen(sig), &a->sig, &a->sig_len, &why) < 0) {
            a->status = SIG_MALFORMED;
            a->why = g_strdup_printf("%s=\"%.40s%s\" is not hex: %s", client ? "response" : "rspauth",
                                     sig, strlen(sig) > 40 ? "..." : "", why);
        }
    }
    /* an MS-SIPAE credentials or *-Info header that cannot be parsed to the end cannot be
     * verified, signed or not: say so instead of staying silent */
    if (ah.error && kind != AH_CHALLENGE && a->status == SIG_NONE &&
        (a->has_sig || (ah.scheme && mech_find(ah.scheme)))) {
        a->has_sig = 1;
        a->status = SIG_MALFORMED;
        a->why = g_strdup_printf("auth header could not be parsed: %s", ah.error);
    }
    authp_header_clear(&ah);
    g_free(v);
    return a;
}

/* ---- the message ---- */

static char *msg_hdr(const sip_msg *m, const char *name, char compact)
{
    const sip_hdr *h = sip_hdr_find(m, name, compact);
    return h ? sip_hdr_value(m, h, NULL) : NULL;
}

/* Call-ID|CSeq-number|From-tag: identifies a transaction (request and its responses). */
static char *txn_id(const sip_msg *m)
{
    char *cid = msg_hdr(m, "Call-ID", 'i');
    char *cseq = msg_hdr(m, "CSeq", 0);
    char *from = msg_hdr(m, "From", 'f');
    char *tag = from ? sigbuf_nameaddr_tag(from) : NULL;
    char *num = cseq ? g_strndup(cseq, strcspn(cseq, " \t")) : NULL;
    char *id = g_strdup_printf("%s|%s|%s", cid ? cid : "", num ? num : "", tag ? tag : "");
    g_free(cid);
    g_free(cseq);
    g_free(from);
    g_free(tag);
    g_free(num);
    return id;
}

static const char *ah_label(const auth_result *a)
{
    return a->dir == DIR_C2S ? "cnum" : "snum";
}

/* cnum/snum bookkeeping (reference §5.3): anomalies are information, never failures. */
static void seq_check(sa_entry *s, auth_result *a, uint32_t frame)
{
    if (!a->has_num)
        return;
    int d = a->dir;
    gpointer first = g_hash_table_lookup(s->nums[d], GUINT_TO_POINTER(a->num));
    if (first) {
        note_add(a->notes, NOTE_SEQ, NOTE_SEV_NOTE, "%s %u repeated on SA %u (first seen in frame %u)",
                 ah_label(a), a->num, s->id, GPOINTER_TO_UINT(first));
    } else {
        g_hash_table_insert(s->nums[d], GUINT_TO_POINTER(a->num), GUINT_TO_POINTER(frame));
        if (s->last_num[d] && a->num > s->last_num[d] + 1)
            note_add(a->notes, NOTE_SEQ, NOTE_SEV_CHAT, "%s jumps from %u to %u on SA %u",
                     ah_label(a), s->last_num[d], a->num, s->id);
        else if (s->last_num[d] && a->num < s->last_num[d])
            note_add(a->notes, NOTE_SEQ, NOTE_SEV_CHAT, "%s goes back from %u to %u on SA %u",
                     ah_label(a), s->last_num[d], a->num, s->id);
    }
    if (a->num > s->last_num[d])
        s->last_num[d] = a->num;
}

static int has_note_kind(const note_list *l, guint from, note_kind k)
{
    for (guint i = from; i < l->len; i++)
        if (g_array_index(l, mssipae_note, i).kind == k)
            return 1;
    return 0;
}

/* The SA a server's Authentication-Info names: by its opaque (sa_find), except that a pending
 * handshake of the same transaction on these endpoints wins over an SA that has this opaque only
 * on other endpoints (the same session seen from a second vantage point); the pending one is
 * then bound to the opaque. */
static sa_entry *sa_find_info(sa_tracker *t, const mech_ops *mech, auth_result *a,
                              const sip_msg *m, const msg_meta *meta, const char *call_id)
{
    sa_entry *s = sa_find(t, mech, a, meta);
    if (s && sa_on_endpoints(s, meta))
        return s;
    char *txn = txn_id(m);
    sa_entry *p = s ? sa_find_pending_here(t, mech, a, meta, txn)
                    : sa_find_pending(t, mech, a, meta, call_id, txn);
    g_free(txn);
    if (p) {
        if (a->opaque)
            sa_bind_opaque(t, p, a->opaque);
        return p;
    }
    return s;
}

/* Handshake part of one header: create, find or bind the SA and feed the token. Returns the
 * SA this header belongs to (or NULL). */
static sa_entry *handle_handshake(sa_tracker *t, const mech_ops *mech, auth_result *a,
                                  const sip_msg *m, const msg_meta *meta, const char *call_id)
{
    sa_entry *s = NULL;
    if (a->kind == AH_CHALLENGE) {
        if (!a->opaque && !a->has_gss) {
            /* 1st-leg challenge: remember the offered version for this client */
            if (a->has_version && meta->dst) {
                char *k = offer_key(mech, a->realm, a->targetname, meta->dst);
                g_hash_table_replace(t->offers, k, GUINT_TO_POINTER(a->version + 1));
            }
            return NULL;
        }
        s = sa_find_pending(t, mech, a, meta, call_id, NULL);
        if (!s) {
            s = sa_find(t, mech, a, meta);
            /* a challenge naming an opaque we know, carrying a token: a new handshake
             * (renegotiation with the same opaque) unless the SA is still mid-handshake */
            if (s && s->signed_seen)
                s = NULL;
        }
        if (!s) {
            s = sa_create(t, mech, a, meta, call_id);
        }
        if (a->opaque && !streq0(s->opaque, a->opaque))
            sa_bind_opaque(t, s, a->opaque);
        if (a->has_version) {
            s->has_version = 1;
            s->version = a->version;
        }
    } else if (a->kind == AH_CREDENTIALS) {
        if (!a->has_gss)
            return NULL;
        if (a->opaque)
            s = sa_find(t, mech, a, meta);
        if (!s) {
            s = sa_create(t, mech, a, meta, call_id);
            if (a->opaque)
                sa_bind_opaque(t, s, a->opaque);
            else
                s->txn = txn_id(m);
            char *k = offer_key(mech, a->realm, a->targetname, meta->src);
            gpointer off = g_hash_table_lookup(t->offers, k);
            g_free(k);
            if (off) {
                s->has_version = 1;
                s->version = GPOINTER_TO_UINT(off) - 1;
            }
        }
        if (a->has_version && !s->has_version) {
            s->has_version = 1;
            s->version = a->version;
        }
    } else { /* AH_INFO with gssapi-data: e.g. a Kerberos AP-REP */
        if (!a->has_gss)
            return NULL;
        s = sa_find_info(t, mech, a, m, meta, call_id);
        if (!s)
            return NULL;
    }
    if (a->gss && a->gss_len) {
        s->handshake_seen = 1;
        mech->on_token(s->mstate, a->dir, a->gss, a->gss_len, t->ks, a->notes);
    }
    return s;
}

/* Finds the SA of a signed header. */
static sa_entry *find_for_signature(sa_tracker *t, const mech_ops *mech, auth_result *a,
                                    const sip_msg *m, const msg_meta *meta)
{
    /* Kerberos: the server's first signed answer names the opaque of the SA whose AP-REQ
     * travelled in the same transaction (reference §5.1) */
    sa_entry *s = a->kind == AH_INFO ? sa_find_info(t, mech, a, m, meta, NULL)
                                     : sa_find(t, mech, a, meta);
    if (!s && a->opaque) {
        if (keystore_keylog_find(t->ks, mech->keylog, a->opaque)) {
            /* handshake not in the capture, but the user gave this SA's key */
            s = sa_create(t, mech, a, meta, NULL);
            s->implicit = 1;
            sa_bind_opaque(t, s, a->opaque);
            if (a->has_version) {
                s->has_version = 1;
                s->version = a->version;
            }
        }
    }
    return s;
}

/* A signature made before the server named its SA's opaque (Kerberos v4 signs the AP-REQ
 * request; the opaque comes with the 200 OK) cannot be matched to a key-log line by opaque yet.
 * Try each key-log entry of the scheme: a match is cryptographic proof that the entry is this
 * SA's key; a mismatch proves nothing, so the verdict then stays NO_KEY. */
static void try_keylog_ids(sa_tracker *t, const mech_ops *mech, sa_entry *s, const auth_result *a,
                           sig_verdict *v)
{
    const char **ids;
    size_t n = keystore_keylog_ids(t->ks, mech->keylog, &ids);
    for (size_t i = 0; i < n; i++) {
        note_list *scratch = note_list_new();
        sig_verdict c = mech->verify(s->mstate, t->ks, ids[i], a->dir,
                                     (const uint8_t *)a->sigbuf, a->sigbuf_len, a->sig,
                                     a->sig_len, scratch);
        note_list_free(scratch);
        if (c.status == SIG_VALID) {
            verdict_clear(v);
            v->status = SIG_VALID;
            v->why = g_strdup_printf("%s (key-log entry for opaque %s; the server had not named "
                                     "this SA's opaque yet)", c.why ? c.why : "valid", ids[i]);
            verdict_clear(&c);
            break;
        }
        verdict_clear(&c);
    }
    if (n && v->status != SIG_VALID) {
        char *why = g_strdup_printf("%s; none of the %zu %s key-log entries verifies it", v->why ? v->why : "no key",
                                    n, mech->scheme);
        g_free(v->why);
        v->why = why;
    }
    g_free(ids);
}

static void process_auth(sa_tracker *t, auth_result *a, const sip_msg *m, const msg_meta *meta,
                         const char *call_id)
{
    const mech_ops *mech = mech_find(a->scheme);
    if (!mech) {
        if (a->scheme && g_ascii_strcasecmp(a->scheme, "Digest") == 0) {
            /* recognised, no MS-SIPAE signatures */
            a->status = SIG_NONE;
            g_free(a->why);
            a->why = NULL;
        } else if (a->has_sig) {
            a->status = SIG_UNSUPPORTED;
            g_free(a->why);
            a->why = g_strdup_printf("unknown authentication scheme \"%.40s\"",
                                     a->scheme ? a->scheme : "");
            note_add(a->notes, NOTE_UNSUPPORTED, NOTE_SEV_NOTE, "%s", a->why);
        }
        return;
    }

    sa_entry *hs = handle_handshake(t, mech, a, m, meta, call_id);
    if (hs) {
        a->sa_id = hs->id;
        a->sa_frame = hs->frame;
        a->has_version = a->has_version || hs->has_version;
        if (!a->has_version)
            a->version = hs->version;
    }

    if (!a->has_sig) {
        /* v4: the request carrying the last client token is already signed (reference §3) */
        unsigned v = hs && hs->has_version ? hs->version : a->version;
        if (a->kind == AH_CREDENTIALS && a->gss_len && v >= 4 &&
            ((mech == &mech_ntlm_ops && a->opaque) || mech == &mech_kerberos_ops))
            note_add(a->notes, NOTE_UNSIGNED, NOTE_SEV_WARN,
                     "version %u: the request carrying the last handshake token should be signed", v);
        return;
    }

    sa_entry *s = hs ? hs : find_for_signature(t, mech, a, m, meta);
    if (s) {
        a->sa_id = s->id;
        a->sa_frame = s->frame;
        s->signed_seen = 1;
        if (s->client_ep && s->server_ep)
            g_hash_table_replace(t->signing, endpoints_key(s->client_ep, s->server_ep), s);
        if (s->has_version) {
            a->version_from_sa = !a->has_version || a->version != s->version;
            a->version = s->version;
            a->has_version = 1;
        }
        seq_check(s, a, meta->frame);
    }
    unsigned version = a->has_version ? a->version : 2;
    if (!a->has_version) {
        a->version = 2;
        a->version_from_sa = 1;
    }
    sigbuf_auth sa = { a->scheme, a->rand, a->num_str, a->realm, a->targetname };
    /* kept for the whole capture: store it at its exact size */
    GString *b = sigbuf_build(m, &sa, version);
    a->sigbuf_len = b->len;
    a->sigbuf = g_memdup2(b->str, b->len + 1);
    g_string_free(b, TRUE);

    if (a->status == SIG_MALFORMED) {
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "signature not checked: %s", a->why);
        return;
    }
    if (!s) {
        a->status = SIG_NO_SA;
        g_free(a->why);
        a->why = a->opaque
            ? g_strdup_printf("no %s security association with opaque %s in this capture "
                              "(handshake not captured, and no key-log entry for it)",
                              mech->scheme, a->opaque)
            : g_strdup_printf("no %s security association: the header has no opaque", mech->scheme);
        note_add(a->notes, NOTE_NO_SA, NOTE_SEV_WARN, "%s", a->why);
        return;
    }
    guint before = a->notes->len;
    sig_verdict v = mech->verify(s->mstate, t->ks, s->opaque ? s->opaque : a->opaque, a->dir,
                                 (const uint8_t *)a->sigbuf, a->sigbuf_len, a->sig,
                                 a->sig_len, a->notes);
    if (v.status == SIG_NO_KEY && !s->opaque && !a->opaque)
        try_keylog_ids(t, mech, s, a, &v);
    a->status = v.status;
    g_free(a->why);
    a->why = v.why;
    static const struct { sig_status st; note_kind kind; note_sev sev; } status_notes[] = {
        { SIG_INVALID, NOTE_INVALID, NOTE_SEV_ERROR },
        { SIG_NO_KEY, NOTE_NO_KEY, NOTE_SEV_WARN },
        { SIG_MALFORMED, NOTE_MALFORMED, NOTE_SEV_WARN },
        { SIG_UNSUPPORTED, NOTE_UNSUPPORTED, NOTE_SEV_NOTE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(status_notes); i++)
        if (status_notes[i].st == a->status && !has_note_kind(a->notes, before, status_notes[i].kind))
            note_add(a->notes, status_notes[i].kind, status_notes[i].sev, "signature %s: %s",
                     sig_status_name(a->status), a->why ? a->why : "");
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
    char *k = endpoints_key(meta->src, meta->dst);
    const sa_entry *s = g_hash_table_lookup(t->signing, k);
    g_free(k);
    if (!s)
        return;
    char *what = m->is_request ? g_strndup(m->method.p, m->method.n)
                               : g_strdup_printf("%d response", m->status_code);
    note_add(r->notes, NOTE_UNSIGNED, NOTE_SEV_WARN,
             "unsigned %s between the endpoints of %s SA %u (opaque %s), which signs every "
             "message", what, s->mech->scheme, s->id, s->opaque ? s->opaque : "?");
    g_free(what);
}

/* Results live as long as the capture: drop empty note lists, and share one empty result for
 * the (many) SIP messages without MS-SIPAE headers or notes. */
static const msg_result *keep_result(sa_tracker *t, msg_result *r)
{
    for (guint i = 0; i < r->auths->len; i++) {
        auth_result *a = g_ptr_array_index(r->auths, i);
        if (a->notes && a->notes->len == 0) {
            note_list_free(a->notes);
            a->notes = NULL;
        }
    }
    if (r->notes && r->notes->len == 0) {
        note_list_free(r->notes);
        r->notes = NULL;
    }
    if (r->auths->len || r->notes)
        return r;
    g_ptr_array_remove_index(t->results, t->results->len - 1); /* frees r */
    if (!t->empty) {
        t->empty = g_new0(msg_result, 1);
        t->empty->parsed = 1;
        t->empty->auths = g_ptr_array_new();
    }
    return t->empty;
}

const msg_result *sa_tracker_process(sa_tracker *t, const char *msg, size_t len,
                                     const msg_meta *meta)
{
    msg_result *r = g_new0(msg_result, 1);
    r->auths = g_ptr_array_new_with_free_func(auth_result_free);
    r->notes = note_list_new();
    g_ptr_array_add(t->results, r);

    sip_msg m;
    const char *why;
    if (sip_msg_parse(msg, len, &m, &why) < 0) {
        note_add(r->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "not a SIP message: %s", why);
        return r;
    }
    r->parsed = 1;
    r->is_request = m.is_request;
    r->status_code = m.status_code;
    if (!m.complete)
        note_add(r->notes, NOTE_MALFORMED, NOTE_SEV_NOTE, "SIP header block is truncated");

    char *call_id = msg_hdr(&m, "Call-ID", 'i');
    for (guint i = 0; i < m.hdrs->len; i++) {
        const sip_hdr *h = &g_array_index(m.hdrs, sip_hdr, i);
        ah_kind kind;
        if (!auth_header_kind(&m, h, &kind))
            continue;
        auth_result *a = auth_result_from_header(&m, h, kind);
        g_ptr_array_add(r->auths, a);
        process_auth(t, a, &m, meta, call_id);
    }
    check_unsigned(t, r, &m, meta);
    /* configuration problems (unreadable keytab, bad key-log lines) are reported once, on the
     * first message with an MS-SIPAE header after they appear */
    if (r->auths->len) {
        const char *const *errs = keystore_config_errors(t->ks);
        guint n = 0;
        while (errs[n])
            n++;
        for (guint i = t->config_reported; i < n; i++)
            note_add(r->notes, NOTE_CONFIG, NOTE_SEV_WARN, "%s", errs[i]);
        if (n > t->config_reported)
            t->config_reported = n;
    }
    g_free(call_id);
    sip_msg_clear(&m);
    return keep_result(t, r);
}
