/* krb_keytab.c - Kerberos: the service keytab (decrypting a ticket; saying which key was missing).
 *
 * A client uses one service ticket for every SA it makes until the ticket expires (hours), so
 * the AP-REQs of a capture carry few distinct tickets: what the keytab made of a ticket (issue
 * 10: decoding, the key lookup, the decryption with its key derivations, the names) is kept per
 * capture, keyed by the ticket's whole encoding and the keytab, and the session key's krb5_key
 * with it, so that its derived keys (Authenticator, usage 11) are made once per ticket. Only
 * tickets the keytab decrypted are kept; libkrb5 would give the same again (the same bytes, the
 * same keytab entries, no clock involved). The session keys are wiped when the cache is freed.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

/* Says why no keytab key fits a ticket, naming what was looked up (style: say which key was
 * missing): none of that enctype, or keys that exist but do not decrypt. */
static char *krb_describe_keytab_miss(krb5_context ctx, krb5_keytab kt, const char *path,
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
    krb_etype_desc(enctype, eb, sizeof eb);
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

/* Decrypts the ticket with the keytab (krb5_server_decrypt_ticket_keytab: no clock or replay
 * checks) into t; without a usable key, t->nokey_why says which key was looked up and missing. */
static void open_ticket(krb5_context ctx, keystore *ks, krb5_ticket *ticket, krb_tkt *t)
{
    char eb[80];
    krb5_error_code rc;
    krb5_keytab kt = keystore_keytab(ks);
    const char *path = keystore_keytab_path(ks);
    const char *service = t->service;
    if (!kt) {
        krb_etype_desc(t->enctype, eb, sizeof eb);
        t->nokey_why = path
            ? g_strdup_printf("keytab %s could not be read or holds no keys: no key for %s "
                              "kvno %u enctype %s", path, service, t->kvno, eb)
            : g_strdup_printf("no keytab configured (preference mssipae.keytab): no key for %s "
                              "kvno %u enctype %s", service, t->kvno, eb);
    } else if (!krb5_c_valid_enctype(t->enctype)) {
        krb_etype_desc(t->enctype, eb, sizeof eb);
        t->nokey_why = g_strdup_printf("ticket for %s uses enctype %s, which libkrb5 does not "
                                       "support", service, eb);
        t->nokey_unsupported = 1;
    } else {
        rc = krb5_server_decrypt_ticket_keytab(ctx, kt, ticket);
        /* decrypted, but a policy check (transited realms, postdated flag) failed: an offline
         * verifier applies no such policy (a note says so) */
        if (ticket->enc_part2 && rc != 0)
            t->policy = krb_errtext(ctx, rc);
        char *kname = NULL;
        if (ticket->enc_part2 && krb5_unparse_name(ctx, ticket->server, &kname) == 0) {
            /* the cleartext sname is not integrity-protected; the keytab entry that decrypted
             * the ticket says whose it really is */
            t->kname = g_strdup(kname);
            krb5_free_unparsed_name(ctx, kname);
        }
        if (!ticket->enc_part2)
            t->nokey_why = krb_describe_keytab_miss(ctx, kt, path ? path : "(in memory)",
                                                    ticket->server, service, t->enctype,
                                                    t->kvno);
    }
    t->decrypted = ticket->enc_part2 != NULL;
    if (ticket->enc_part2 && ticket->enc_part2->session) {
        const krb5_keyblock *s = ticket->enc_part2->session;
        t->has_session = 1;
        t->s_enctype = s->enctype;
        t->s_len = s->length;
        t->s_val = g_malloc(s->length ? s->length : 1);
        if (s->length)
            memcpy(t->s_val, s->contents, s->length);
        char *cl = NULL;
        if (ticket->enc_part2->client && krb5_unparse_name(ctx, ticket->enc_part2->client,
                                                           &cl) == 0) {
            t->client = g_strdup(cl);
            krb5_free_unparsed_name(ctx, cl);
        }
    }
}

static void tkt_free(krb_tkt *t)
{
    if (!t)
        return;
    if (t->kk)
        krb5_k_free_key(NULL, t->kk); /* zaps the key and its derived keys; needs no context */
    if (t->s_val) {
        secure_wipe(t->s_val, t->s_len);
        g_free(t->s_val);
    }
    g_free(t->der);
    g_free(t->service);
    g_free(t->policy);
    g_free(t->kname);
    g_free(t->nokey_why);
    g_free(t->client);
    secure_wipe(t, sizeof *t);
    g_free(t);
}

/* ---- the capture's cache of opened tickets ---- */

/* At most this many tickets are kept; the cache starts over when it is full. */
#define TKT_CACHE_MAX 512

struct krb_tkt_cache {
    char *ktname;       /* the keytab the tickets were opened with (krb5_kt_get_name) */
    GHashTable *tkts;   /* krb_tkt * (by its encoding) -> itself; owned */
};

/* The encoding ends in the ciphertext's integrity tag (pseudo-random): its last bytes hash. */
static guint tkt_hash(gconstpointer p)
{
    const krb_tkt *t = p;
    guint h = (guint)t->derlen;
    size_t from = t->derlen > 32 ? t->derlen - 32 : 0;
    for (size_t i = from; i < t->derlen; i++)
        h = h * 31u + t->der[i];
    return h;
}

static gboolean tkt_equal(gconstpointer a, gconstpointer b)
{
    const krb_tkt *x = a, *y = b;
    return x->derlen == y->derlen && memcmp(x->der, y->der, x->derlen) == 0;
}

static void tkt_free_v(gpointer p)
{
    tkt_free(p);
}

void krb_tkt_cache_free(struct krb_tkt_cache *c)
{
    if (!c)
        return;
    if (c->tkts)
        g_hash_table_destroy(c->tkts); /* wipes the session keys */
    g_free(c->ktname);
    g_free(c);
}

/* The cache for the keytab kt (named name), emptied when the keytab is another one. */
static struct krb_tkt_cache *tkt_cache(krb_cap *cap, const char *name)
{
    struct krb_tkt_cache **pc = krb_cap_tkt_cache(cap);
    struct krb_tkt_cache *c = *pc;
    if (c && strcmp(c->ktname, name) != 0) {
        krb_tkt_cache_free(c);
        c = *pc = NULL;
    }
    if (!c) {
        c = *pc = g_new0(struct krb_tkt_cache, 1);
        c->ktname = g_strdup(name);
        c->tkts = g_hash_table_new_full(tkt_hash, tkt_equal, tkt_free_v, NULL);
    }
    return c;
}

const krb_tkt *krb_ticket_open(krb_cap *cap, krb5_context ctx, keystore *ks, const uint8_t *der,
                               size_t len, char **err)
{
    krb5_keytab kt = keystore_keytab(ks);
    char name[512];
    struct krb_tkt_cache *c = NULL;
    if (kt && krb5_kt_get_name(ctx, kt, name, sizeof name) == 0) {
        c = tkt_cache(cap, name);
        krb_tkt probe;
        memset(&probe, 0, sizeof probe);
        probe.der = (uint8_t *)der;
        probe.derlen = len;
        krb_tkt *hit = g_hash_table_lookup(c->tkts, &probe);
        if (hit)
            return hit;
    }
    krb5_data td = {KV5M_DATA, (unsigned int)len, (char *)der};
    krb5_ticket *ticket = NULL;
    krb5_error_code rc = krb5_decode_ticket(&td, &ticket);
    if (rc != 0) {
        *err = krb_errtext(ctx, rc);
        return NULL;
    }
    krb_tkt *t = g_new0(krb_tkt, 1);
    char *svc = NULL;
    if (krb5_unparse_name(ctx, ticket->server, &svc) == 0) {
        t->service = g_strdup(svc);
        krb5_free_unparsed_name(ctx, svc);
    } else {
        t->service = g_strdup("(unprintable principal)");
    }
    t->enctype = ticket->enc_part.enctype;
    t->kvno = ticket->enc_part.kvno;
    open_ticket(ctx, ks, ticket, t);
    krb5_free_ticket(ctx, ticket);
    if (c && t->decrypted) {
        if (g_hash_table_size(c->tkts) >= TKT_CACHE_MAX)
            g_hash_table_remove_all(c->tkts);
        t->der = g_memdup2(der, len);
        t->derlen = len;
        t->cached = 1;
        g_hash_table_add(c->tkts, t);
    }
    return t;
}

void krb_tkt_done(const krb_tkt *t)
{
    if (t && !t->cached)
        tkt_free((krb_tkt *)t);
}

krb5_key krb_tkt_session_kkey(krb5_context ctx, const krb_tkt *ct)
{
    krb_tkt *t = (krb_tkt *)ct; /* cache only */
    if (!t->kk && t->has_session && t->cached) {
        krb5_keyblock kb;
        memset(&kb, 0, sizeof kb);
        kb.magic = KV5M_KEYBLOCK;
        kb.enctype = t->s_enctype;
        kb.length = (unsigned int)t->s_len;
        kb.contents = t->s_val;
        if (krb5_k_create_key(ctx, &kb, &t->kk) != 0)
            t->kk = NULL;
    }
    return t->kk;
}
