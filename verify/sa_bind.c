/* sa_bind.c - the binding policy: which security association an auth header belongs to
 * ([MS-SIPAE] 3.2.5, 3.3.5; ms-sipae.md 5).
 *
 * THE RULE: SA state follows the protocol flow of the messages, and a verdict never creates,
 * prevents or undoes state. Nothing in this file looks at a signature or its verdict; fields that
 * the signature covers (Call-ID, CSeq, From tag, realm, targetname) are never what binds, so a
 * damaged or forged message cannot blind the messages after it.
 *
 *  1. An SA starts with the first handshake data of a client (credentials carrying gssapi-data)
 *     or with a challenge that names an opaque nobody asked for on that connection. It is open on
 *     its pair of transport endpoints until the client uses one of its opaques.
 *  2. Only a response travelling server -> client on the SA's own endpoints names the opaque of
 *     a pending SA (a 2nd-leg challenge for NTLM / TLS-DSK, the first *-Info for Kerberos). A
 *     request, a response from another host and a response travelling client -> server name
 *     nothing. Among the pending SAs of that scheme on those endpoints the response binds:
 *       a. the one whose client token travelled in the request this response answers (RFC 3261
 *          17.1.3: top Via branch + CSeq number and method; RFC 2543 requests without a branch:
 *          Call-ID + CSeq + From tag), preferring the same header family (WWW vs Proxy);
 *          differing Call-ID, From tag, realm, targetname or family are noted;
 *       b. failing that, the only pending SA of that scheme on those endpoints, with a note --
 *          but only when the opaque names no SA anywhere yet (a response with an old SA's opaque
 *          on a new connection belongs to that old SA);
 *       c. otherwise nothing (several candidates: noted, not guessed).
 *     A second opaque named for the same transaction becomes an alias, never a re-bind.
 *  3. The client repairs a missed binding: when it uses an opaque that names no SA at all on the
 *     endpoints of an open SA of that scheme, the opaque is bound to (or aliased on) that SA, with
 *     a note. The SA's keys come from its handshake, whichever opaque names it.
 *  4. A signed header finds its SA by (scheme, opaque): same endpoints with the same realm and
 *     targetname, else same endpoints (realm/targetname differ: noted), else the same names on
 *     another pair (an SA outlives its connection), preferring SAs the client confirmed. With no
 *     such SA, a key-log entry for the opaque creates one (the handshake is not in the capture).
 *  5. A challenge naming the opaque of an SA that has already signed starts a new SA with that
 *     opaque (renegotiation); old SAs are kept for in-flight messages.
 * Sequence bookkeeping and "signed seen" are the tracker's (sa.c), from verified messages only.
 */
#include "verify/sa_bind.h"

#include <string.h>

#include "sigbuf/sigbuf.h"
#include "verify/ahdr.h"

static int streq0(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* ------------------------------------------------------------------ routing facts */

static char *msg_hdr(const sip_msg *m, const char *name, char compact)
{
    const sip_hdr *h = sip_hdr_find(m, name, compact);
    return h ? sip_hdr_value(m, h, NULL) : NULL;
}

/* The branch parameter of the first via-parm of the top Via header (RFC 3261 20.42). */
static char *top_via_branch(const sip_msg *m)
{
    char *via = msg_hdr(m, "Via", 'v');
    if (!via)
        return NULL;
    char *comma = strchr(via, ',');
    if (comma)
        *comma = '\0';
    char *semi = strchr(via, ';');
    char *b = semi ? sigbuf_param(semi, "branch") : NULL;
    g_free(via);
    return b;
}

void msg_facts_init(msg_facts *f, const sip_msg *m, const msg_meta *meta)
{
    memset(f, 0, sizeof *f);
    f->meta = meta;
    f->is_request = m->is_request;
    f->m = m;
}

const sip_txn *msg_facts_txn(const msg_facts *cf)
{
    msg_facts *f = (msg_facts *)cf; /* a cache: every msg_facts is a tracker's local variable */
    if (f->txn_read)
        return &f->txn_;
    const sip_msg *m = f->m;
    sip_txn *t = &f->txn_;
    f->txn_read = 1;
    t->branch = top_via_branch(m);
    t->call_id = msg_hdr(m, "Call-ID", 'i');
    char *from = msg_hdr(m, "From", 'f');
    t->from_tag = from ? sigbuf_nameaddr_tag(from) : NULL;
    g_free(from);
    char *cseq = msg_hdr(m, "CSeq", 0);
    if (cseq) {
        size_t n = strcspn(cseq, " \t");
        char *num = g_strndup(cseq, n);
        t->has_cseq = ahdr_parse_u32(num, &t->cseq) == 0;
        g_free(num);
        const char *meth = cseq + n;
        while (*meth == ' ' || *meth == '\t')
            meth++;
        t->method = g_strndup(meth, strcspn(meth, " \t"));
        g_free(cseq);
    }
    return t;
}

void msg_facts_clear(msg_facts *f)
{
    if (f->txn_read) /* else nothing was read into it */
        sip_txn_clear(&f->txn_);
}

/* 1 when a response with transaction resp answers the request with transaction req. */
static int txn_same(const sip_txn *req, const sip_txn *resp)
{
    if (!req->has_cseq || !resp->has_cseq || req->cseq != resp->cseq ||
        !streq0(req->method, resp->method))
        return 0;
    if (req->branch || resp->branch)
        return streq0(req->branch, resp->branch);
    return streq0(req->call_id, resp->call_id) && streq0(req->from_tag, resp->from_tag);
}

/* Appends to d what differs between the SA's binding facts and the header's / response's. */
static void describe_diff(GString *d, const sa_entry *s, const auth_result *a, const sip_txn *req,
                          const sip_txn *resp)
{
    if (!streq0(req->branch, resp->branch))
        g_string_append_printf(d, "%stop Via branch \"%s\" (request: \"%s\")", d->len ? ", " : "",
                               or_empty(resp->branch), or_empty(req->branch));
    if (req->cseq != resp->cseq || req->has_cseq != resp->has_cseq ||
        !streq0(req->method, resp->method))
        g_string_append_printf(d, "%sCSeq %u %s (request: %u %s)", d->len ? ", " : "", resp->cseq,
                               or_empty(resp->method), req->cseq, or_empty(req->method));
    if (!streq0(req->call_id, resp->call_id))
        g_string_append_printf(d, "%sCall-ID \"%s\" (request: \"%s\")", d->len ? ", " : "",
                               or_empty(resp->call_id), or_empty(req->call_id));
    if (!streq0(req->from_tag, resp->from_tag))
        g_string_append_printf(d, "%sFrom tag \"%s\" (request: \"%s\")", d->len ? ", " : "",
                               or_empty(resp->from_tag), or_empty(req->from_tag));
    if (!streq0(sa_realm(s), a->realm))
        g_string_append_printf(d, "%srealm \"%s\" (SA: \"%s\")", d->len ? ", " : "",
                               or_empty(a->realm), or_empty(sa_realm(s)));
    if (!streq0(sa_targetname(s), a->targetname))
        g_string_append_printf(d, "%stargetname \"%s\" (SA: \"%s\")", d->len ? ", " : "",
                               or_empty(a->targetname), or_empty(sa_targetname(s)));
    if (s->proxy != a->proxy)
        g_string_append_printf(d, "%s%s header for an SA of the %s family", d->len ? ", " : "",
                               a->name, s->proxy ? "Proxy-*" : "WWW-Authenticate/Authorization");
}

/* ------------------------------------------------------------------ rule 2: responses name SAs */

/* Names s by a's opaque (if any) on behalf of a response with transaction resp, and notes what
 * differed (how: why this SA). */
static void bind_named(sa_table *tab, sa_entry *s, auth_result *a, const sip_txn *resp,
                       const char *how)
{
    if (a->opaque) {
        int alias = sa_table_name(tab, s, a->opaque, a->notes);
        if (alias)
            note_add(a->notes, NOTE_BIND, NOTE_SEV_WARN, "%s: opaque %s is a second name of %s SA "
                     "%u, which the server already named %s for this transaction", a->name,
                     a->opaque, sa_mech(s)->scheme, s->id, or_empty(s->opaque));
        else
            sa_txn_set(s, 1, resp);
    }
    GString *d = g_string_new(NULL);
    describe_diff(d, s, a, sa_txn_of(s), resp);
    if (how || d->len)
        note_add(a->notes, NOTE_BIND, NOTE_SEV_NOTE, "%s: bound to %s SA %u (handshake frame %u)%s%s"
                 "%s%s", a->name, sa_mech(s)->scheme, s->id, s->frame, how ? " as " : "",
                 how ? how : "", d->len ? "; differs from the request that carried the token: " : "",
                 d->str);
    g_string_free(d, TRUE);
}

/* Rule 2: the pending SA a response (server -> client, on the SA's endpoints) names, or NULL. */
static sa_entry *bind_from_response(sa_table *tab, const mech_ops *mech, auth_result *a,
                                    const msg_facts *f)
{
    if (f->is_request)
        return NULL;
    const char *src = f->meta->src, *dst = f->meta->dst;
    size_t n;
    sa_entry **open = sa_table_open(tab, mech, src, dst, &n);
    sa_entry *exact = NULL, *exact_family = NULL, *same_bind = NULL, *only = NULL;
    size_t npending = 0;
    for (size_t i = n; i-- > 0;) {
        sa_entry *s = open[i];
        if (!sa_from_server(s, src, dst))
            continue;
        if (s->state == SA_PENDING) {
            npending++;
            only = s;
            if (txn_same(sa_txn_of(s), msg_facts_txn(f))) {
                if (!exact)
                    exact = s;
                if (!exact_family && s->proxy == a->proxy)
                    exact_family = s;
            }
        } else if (a->opaque && !same_bind && txn_same(sa_bind_txn_of(s), msg_facts_txn(f)) &&
                   s->proxy == a->proxy) {
            same_bind = s;
        }
    }
    g_free(open);
    sa_entry *s = NULL;
    if (exact_family || exact) {
        s = exact_family ? exact_family : exact;
        bind_named(tab, s, a, msg_facts_txn(f), NULL);
    } else if (same_bind) {
        s = same_bind;
        bind_named(tab, s, a, msg_facts_txn(f), NULL);
    } else if (npending == 1 && (!a->opaque || !sa_table_known(tab, mech, a->opaque))) {
        s = only;
        bind_named(tab, s, a, msg_facts_txn(f), "the only pending handshake of this scheme between "
                   "these endpoints");
    } else if (npending > 1) {
        note_add(a->notes, NOTE_BIND, NOTE_SEV_WARN, "%s: %zu %s handshakes are pending between "
                 "these endpoints and none was carried by the request this response answers: "
                 "opaque %s bound to none", a->name, npending, mech->scheme, or_empty(a->opaque));
    }
    return s;
}

/* ------------------------------------------------------------------ rule 3: the client's echo */

/* Rule 3: credentials from the client of an open SA use opaque a->opaque, which names no SA. */
static sa_entry *bind_from_echo(sa_table *tab, const mech_ops *mech, auth_result *a,
                                const msg_facts *f)
{
    const char *src = f->meta->src, *dst = f->meta->dst;
    size_t n;
    sa_entry **open = sa_table_open(tab, mech, src, dst, &n);
    sa_entry *best = NULL;
    size_t count = 0;
    for (size_t i = n; i-- > 0;) {
        sa_entry *s = open[i];
        if (!sa_from_server(s, dst, src)) /* the credentials travel client -> server */
            continue;
        count++;
        if (!best || (best->proxy != a->proxy && s->proxy == a->proxy))
            best = s;
    }
    g_free(open);
    if (!best)
        return NULL;
    char *named = g_strdup(best->opaque);
    int alias = sa_table_name(tab, best, a->opaque, a->notes);
    if (alias)
        note_add(a->notes, NOTE_BIND, NOTE_SEV_WARN, "%s: the client uses opaque %s, which no server "
                 "response named; the server named %s SA %u \"%s\": %s is now a second name of "
                 "that SA%s", a->name, a->opaque, mech->scheme, best->id, or_empty(named),
                 a->opaque, count > 1 ? " (the newest of the open SAs between these endpoints)" : "");
    else
        note_add(a->notes, NOTE_BIND, NOTE_SEV_WARN, "%s: the client uses opaque %s, which no server "
                 "response named; bound to the pending %s SA %u between these endpoints%s",
                 a->name, a->opaque, mech->scheme, best->id,
                 count > 1 ? " (the newest of the open SAs)" : "");
    g_free(named);
    return best;
}

/* ------------------------------------------------------------------ rules 1, 4, 5 */

/* Notes that a header reached its SA although realm or targetname differ (rule 4). */
static void note_names_differ(auth_result *a, const sa_entry *s)
{
    note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN,
             "%s: realm \"%s\" / targetname \"%s\" differ from those of %s SA %u "
             "(\"%s\" / \"%s\"), found by its opaque %s on the same endpoints",
             a->name, or_empty(a->realm), or_empty(a->targetname), sa_mech(s)->scheme, s->id,
             or_empty(sa_realm(s)), or_empty(sa_targetname(s)), a->opaque);
}

/* Rule 4, with rule 2 and 3 in between: the SA a header's opaque names. resp: the header
 * travels in a response that may name a pending SA. */
static sa_entry *by_opaque(sa_table *tab, const mech_ops *mech, auth_result *a,
                           const msg_facts *f, int *named)
{
    const char *src = f->meta->src, *dst = f->meta->dst;
    /* the pair either way round (sa_table_named): client first, as an SA keeps it, so the
     * usual header's pair matches on the first two compares */
    const char *c = a->dir == DIR_S2C ? dst : src, *v = a->dir == DIR_S2C ? src : dst;
    sa_named how;
    sa_entry *s = sa_table_named(tab, mech, a->opaque, a->realm, a->targetname, c, v, 0, &how);
    if (s) {
        *named = 1; /* from the opaque's own index list: the opaque names s (sa_has_name) */
    } else {
        if (a->kind != AH_CREDENTIALS)
            s = bind_from_response(tab, mech, a, f);
        if (!s && a->kind == AH_CREDENTIALS && !sa_table_known(tab, mech, a->opaque))
            s = bind_from_echo(tab, mech, a, f);
        if (!s) {
            s = sa_table_named(tab, mech, a->opaque, a->realm, a->targetname, src, dst, 1, &how);
            *named = s != NULL;
        }
    }
    if (s && how == SA_NAMED_HERE_NAMES_DIFFER)
        note_names_differ(a, s);
    return s;
}

/* A new SA (rule 1) for header a, its client and server as given; notes when it pushed the
 * oldest open SA of the pair out of the binding scans. */
static sa_entry *new_sa(sa_table *tab, const mech_ops *mech, auth_result *a, const msg_facts *f,
                        const char *client, const char *server)
{
    sa_entry *old;
    sa_entry *s = sa_table_create(tab, mech, f->meta->frame, a->realm, a->targetname, a->proxy,
                                  client, server, &old);
    if (old)
        note_add(a->notes, NOTE_BIND, NOTE_SEV_WARN, "%s: more than %d handshakes are open between "
                 "these endpoints: %s SA %u (handshake frame %u) no longer waits for its opaque",
                 a->name, SA_OPEN_MAX, sa_mech(old)->scheme, old->id, old->frame);
    return s;
}

/* The client of s used one of its opaques: s is confirmed (rule 1). */
static void confirm_if_client(sa_table *tab, sa_entry *s, const auth_result *a,
                              const msg_facts *f)
{
    if (s->state == SA_CONFIRMED) /* already (the usual signed header): nothing would change */
        return;
    if (a->kind == AH_CREDENTIALS && sa_has_name(s, a->opaque) &&
        sa_from_server(s, f->meta->dst, f->meta->src))
        sa_table_confirm(tab, s);
}

/* The version a header states, for an SA that has none yet. */
static void take_version(sa_entry *s, const auth_result *a)
{
    if (a->has_version && !s->has_version) {
        s->has_version = 1;
        s->version = a->version;
    }
}

sa_entry *sa_bind_handshake(sa_table *tab, keystore *ks, const mech_ops *mech, auth_result *a,
                            const msg_facts *f)
{
    const char *src = f->meta->src, *dst = f->meta->dst;
    sa_entry *s = NULL;
    sa_named how;
    if (a->kind == AH_CHALLENGE) {
        if (!a->opaque && !a->has_gss) {
            /* 1st-leg challenge: remember the offered version for this client */
            if (a->has_version && dst)
                sa_table_offer(tab, mech, a->realm, a->targetname, dst, a->version);
            return NULL;
        }
        /* a challenge is about its own connection: only SAs on these endpoints */
        if (a->opaque) {
            s = sa_table_named(tab, mech, a->opaque, a->realm, a->targetname, src, dst, 0, &how);
            if (s && s->signed_seen)
                s = NULL; /* rule 5: a new handshake for a known opaque */
            else if (s && how == SA_NAMED_HERE_NAMES_DIFFER)
                note_names_differ(a, s);
        }
        if (!s)
            s = bind_from_response(tab, mech, a, f);
        if (!s) {
            s = new_sa(tab, mech, a, f, dst, src);
            if (a->opaque) {
                sa_table_name(tab, s, a->opaque, a->notes);
                sa_txn_set(s, 1, msg_facts_txn(f));
            }
        }
        if (a->has_version) { /* the challenge's version is the SA's */
            s->has_version = 1;
            s->version = a->version;
        }
    } else if (a->kind == AH_CREDENTIALS) {
        if (!a->has_gss)
            return NULL;
        int named;
        if (a->opaque)
            s = by_opaque(tab, mech, a, f, &named);
        if (!s) {
            s = new_sa(tab, mech, a, f, src, dst);
            if (a->opaque)
                sa_table_name(tab, s, a->opaque, a->notes);
            unsigned off;
            if (sa_table_offered(tab, mech, a->realm, a->targetname, src, &off)) {
                s->has_version = 1;
                s->version = off;
            }
        }
        /* the request carrying the client's latest token (rule 2a); only an open SA binds by
         * it (a confirmed one is never open again) */
        if (f->is_request && s->state != SA_CONFIRMED)
            sa_txn_set(s, 0, msg_facts_txn(f));
        confirm_if_client(tab, s, a, f);
        take_version(s, a);
    } else { /* AH_INFO with gssapi-data: e.g. a Kerberos AP-REP */
        if (!a->has_gss)
            return NULL;
        int named;
        s = a->opaque ? by_opaque(tab, mech, a, f, &named) : bind_from_response(tab, mech, a, f);
        if (!s)
            return NULL;
    }
    if (a->gss && a->gss_len) {
        s->handshake_seen = 1;
        mech->on_token(s->mstate, a->dir, a->gss, a->gss_len, ks, a->notes);
    }
    return s;
}

sa_entry *sa_bind_signed(sa_table *tab, keystore *ks, const mech_ops *mech, auth_result *a,
                         const msg_facts *f, int *named)
{
    *named = 0;
    if (!a->opaque)
        return NULL;
    sa_entry *s = by_opaque(tab, mech, a, f, named);
    if (!s && keystore_keylog_find(ks, mech->keylog, a->opaque)) {
        /* handshake not in the capture, but the user gave this SA's key */
        int client = a->kind == AH_CREDENTIALS;
        s = new_sa(tab, mech, a, f, client ? f->meta->src : f->meta->dst,
                   client ? f->meta->dst : f->meta->src);
        s->implicit = 1;
        sa_table_name(tab, s, a->opaque, a->notes);
        sa_table_confirm(tab, s);
        take_version(s, a);
    }
    if (s)
        confirm_if_client(tab, s, a, f);
    return s;
}

const char *sa_bind_opaque_for(const sa_entry *s, const auth_result *a)
{
    return a->opaque && sa_has_name(s, a->opaque) ? a->opaque : s->opaque;
}
