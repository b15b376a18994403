/* sa_table.c - the SAs of a capture and their indexes (see sa_table.h). */
#include "verify/sa_table.h"
#include "sigbuf/bytes.h"

#include <string.h>

/* An SA is one heap block: 152 bytes are a 160-byte malloc chunk (168 would take 176). */
G_STATIC_ASSERT(sizeof(sa_entry) <= 152);

/* What the table knows about one pair of transport endpoints; its own key in the table's
 * pairs (a set). */
typedef struct sa_pair {
    const char *a, *b;   /* the endpoints, interned by the table ("" when unknown), in address
                            order: the pair either way round */
    GPtrArray *open;     /* sa_entry* still SA_PENDING or SA_BOUND, oldest first; NULL when
                            none (most pairs, once their SA is confirmed) */
    sa_entry *signing;   /* the SA that last signed between the two endpoints */
} sa_pair;

/* A memo of sa_table_named answers SA_NAMED_HERE (the usual signed header: its SA on its own
 * endpoints with its own realm and targetname), found by the opaque's exact bytes, so most
 * headers skip building the index key, hashing it and scanning the list. An entry is used only
 * while the list it was read from is unchanged (same length, same newest SA: lists only grow at
 * their end, dropping their oldest at SA_NAME_MAX) and only for a header that the SA it names
 * matches exactly as the scan would (same realm, targetname and endpoint pair, both known): then
 * no newer SA of the list can match the header (it would have matched the memo's own), so the
 * scan would return the same SA. */
#define NAMED_MEMO_SIZE 256
#define NAMED_MEMO_OPAQUE 40
typedef struct {
    const mech_ops *mech;
    struct name_list *list; /* the index list the answer was read from */
    guint len;           /* its length then */
    sa_entry *last;      /* and its newest SA then */
    sa_entry *s;         /* the answer */
    guint64 opaque[NAMED_MEMO_OPAQUE / 8]; /* exact bytes of the opaque looked up, NUL-padded
                                             to the end: compared eight bytes at a time */
} named_memo;

/* g_ascii_strcasecmp(a, b) == 0, inlined: equal bytes first (the usual case). */
static inline int eq_nocase(const char *a, const char *b)
{
    if (a == b)
        return 1;
    for (;; a++, b++) {
        char x = *a, y = *b;
        if (x != y && ascii_lc(x) != ascii_lc(y))
            return 0;
        if (!x)
            return 1;
    }
}

/* The SAs one opaque names (a set in sa_table.named, by mechanism and opaque compared
 * case-insensitively), oldest first, in one 24-byte allocation: the entry itself while a
 * single SA is named (the usual case), else a g_malloc'd array of cap entries. Its address
 * never changes (the memo keeps it). */
typedef struct name_list {
    const char *opaque;  /* the key: the copy the first SA it named keeps (the SA's primary
                            opaque or alias, kept until the table is freed) */
    union {
        sa_entry *one;   /* cap 1 */
        sa_entry **many; /* cap > 1 */
    } u;
    uint16_t len, cap;   /* at most SA_NAME_MAX */
    uint8_t mech_ix;
} name_list;

G_STATIC_ASSERT(sizeof(name_list) == 24 && SA_NAME_MAX < 0x8000);

static inline sa_entry **name_list_v(const name_list *l)
{
    return l->cap == 1 ? (sa_entry **)&l->u.one : l->u.many;
}

static guint name_hash(gconstpointer p)
{
    const name_list *l = p;
    guint32 h = 2166136261u ^ l->mech_ix;
    for (const char *c = l->opaque; *c; c++)
        h = (h ^ (guint8)g_ascii_toupper(*c)) * 16777619u;
    return h;
}

static gboolean name_equal(gconstpointer p, gconstpointer q)
{
    const name_list *x = p, *y = q;
    return x->mech_ix == y->mech_ix && eq_nocase(x->opaque, y->opaque);
}

static void name_list_free(gpointer p)
{
    name_list *l = p;
    if (l->cap > 1)
        g_free(l->u.many);
    g_free(l);
}

/* Appends s to l. */
static void name_list_add(name_list *l, sa_entry *s)
{
    if (l->len == l->cap) {
        guint cap = l->cap * 2u < 4 ? 4 : l->cap * 2u;
        if (l->cap == 1) {
            sa_entry **v = g_new(sa_entry *, cap);
            v[0] = l->u.one;
            l->u.many = v;
        } else {
            l->u.many = g_renew(sa_entry *, l->u.many, cap);
        }
        l->cap = (uint16_t)cap;
    }
    name_list_v(l)[l->len++] = s;
}

/* Drops l's oldest SA. */
static void name_list_drop_oldest(name_list *l)
{
    sa_entry **v = name_list_v(l);
    memmove(v, v + 1, (l->len - 1) * sizeof *v);
    l->len--;
}

struct sa_table {
    named_memo *memo;    /* NAMED_MEMO_SIZE entries, allocated on first use */
    GPtrArray *sas;      /* sa_entry*, owned, in creation order (id = index + 1) */
    GHashTable *named;   /* set of name_list, by (mechanism, opaque) */
    GHashTable *pairs;   /* pair_key() -> sa_pair* */
    GHashTable *offers;  /* set of offer_set, by client */
    GHashTable *offers_more; /* set of offer_more, by (client, mech, realm, targetname): the
                            entries beyond a client's OFFER_INLINE; NULL until needed */
    GHashTable *strs;    /* interned realm / targetname / endpoint texts: string -> itself
                            (owned) */
    GHashTable *names;   /* set of sa_names (owned), by their interned texts */
    void *caps[MECH_COUNT]; /* per-capture state of each mechanism (mech_ops.cap_new) */
};

static int streq0(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* A hash of two pointers (interned texts or endpoints: equal means the same pointer). */
static guint ptr2_hash(const void *a, const void *b)
{
    guint64 h = ((guint64)(uintptr_t)a * 0x9E3779B97F4A7C15ull) ^ (guint64)(uintptr_t)b;
    h *= 0x100000001B3ull;
    return (guint)(h ^ (h >> 32));
}

static guint pair_hash(gconstpointer p)
{
    const sa_pair *x = p;
    return ptr2_hash(x->a, x->b);
}

static gboolean pair_equal(gconstpointer p, gconstpointer q)
{
    const sa_pair *x = p, *y = q;
    return x->a == y->a && x->b == y->b;
}

/* The versions first-leg challenges offered to one client (its endpoint, "" when unknown): per
 * mechanism, realm and targetname as sent (absent ones as ""). Texts are interned by the
 * table, so they compare as pointers. One allocation per client holds its first OFFER_INLINE
 * entries (a challenge offers each scheme once: most clients have a few), its own key in the
 * table's offers (a set); a client offered more (hostile input) has the rest in offers_more,
 * one offer_more each, so no look-up scans more than OFFER_INLINE entries. */
#define OFFER_INLINE 8

typedef struct {
    const char *realm, *target;
    uint32_t mech_ix;
    unsigned version;
} offer_rec;

typedef struct {
    const char *client;
    guint n;             /* entries of v, at most OFFER_INLINE */
    offer_rec v[];
} offer_set;

typedef struct {
    const char *client;
    offer_rec o;
} offer_more;

static guint offer_hash(gconstpointer p)
{
    guint64 h = (guint64)(uintptr_t)((const offer_set *)p)->client * 0x9E3779B97F4A7C15ull;
    return (guint)(h >> 32);
}

static gboolean offer_equal(gconstpointer a, gconstpointer b)
{
    return ((const offer_set *)a)->client == ((const offer_set *)b)->client;
}

static guint more_hash(gconstpointer p)
{
    const offer_more *m = p;
    guint64 h = (guint64)m->o.mech_ix;
    h = (h ^ (guint64)(uintptr_t)m->o.realm) * 0x100000001B3ull;
    h = (h ^ (guint64)(uintptr_t)m->o.target) * 0x100000001B3ull;
    h = (h ^ (guint64)(uintptr_t)m->client) * 0x100000001B3ull;
    return (guint)(h ^ (h >> 29));
}

static gboolean more_equal(gconstpointer a, gconstpointer b)
{
    const offer_more *x = a, *y = b;
    return x->o.mech_ix == y->o.mech_ix && x->o.realm == y->o.realm &&
           x->o.target == y->o.target && x->client == y->client;
}

void sip_txn_clear(sip_txn *t)
{
    g_free(t->branch);
    g_free(t->method);
    g_free(t->call_id);
    g_free(t->from_tag);
    memset(t, 0, sizeof *t);
}

void sip_txn_copy(sip_txn *dst, const sip_txn *src)
{
    sip_txn_clear(dst);
    dst->branch = g_strdup(src->branch);
    dst->cseq = src->cseq;
    dst->has_cseq = src->has_cseq;
    dst->method = g_strdup(src->method);
    dst->call_id = g_strdup(src->call_id);
    dst->from_tag = g_strdup(src->from_tag);
}

const sip_txn sip_txn_none;

static void txn_drop(sip_txn **slot)
{
    if (*slot) {
        sip_txn_clear(*slot);
        g_free(*slot);
        *slot = NULL;
    }
}

void sa_txn_set(sa_entry *s, int bind, const sip_txn *src)
{
    if (!s->rare)
        s->rare = g_new0(sa_rare, 1);
    sip_txn **slot = bind ? &s->rare->bind_txn : &s->rare->txn;
    if (!*slot)
        *slot = g_new0(sip_txn, 1);
    sip_txn_copy(*slot, src);
}

void sa_txns_drop(sa_entry *s)
{
    if (!s->rare)
        return;
    txn_drop(&s->rare->txn);
    txn_drop(&s->rare->bind_txn);
    if (!s->rare->aliases && !s->rare->mech_seq) { /* nothing left in it */
        g_free(s->rare);
        s->rare = NULL;
    }
}

static void sa_free(gpointer p)
{
    sa_entry *s = p;
    if (s->mstate)
        sa_mech(s)->sa_free(s->mstate);
    g_free(s->opaque);
    if (s->rare && s->rare->aliases)
        g_ptr_array_free(s->rare->aliases, TRUE);
    sa_seq *ms = s->rare ? s->rare->mech_seq : NULL;
    sa_txns_drop(s);
    for (int d = 0; d < 2; d++) {
        sa_seq_clear(&s->seq[d]);
        if (ms)
            sa_seq_clear(&ms[d]);
    }
    g_free(ms);
    g_free(s->rare);
    g_free(s);
}

sa_seq *sa_mech_seq(sa_entry *s, int dir)
{
    if (!s->rare)
        s->rare = g_new0(sa_rare, 1);
    if (!s->rare->mech_seq) {
        s->rare->mech_seq = g_new(sa_seq, 2);
        sa_seq_init(&s->rare->mech_seq[0]);
        sa_seq_init(&s->rare->mech_seq[1]);
    }
    return &s->rare->mech_seq[dir & 1];
}

/* The table's one copy of text s (NULL stays NULL). */
static const char *intern(sa_table *tab, const char *s)
{
    if (!s)
        return NULL;
    const char *k = g_hash_table_lookup(tab->strs, s);
    if (!k) {
        char *c = g_strdup(s);
        g_hash_table_add(tab->strs, c);
        k = c;
    }
    return k;
}

static guint names_hash(gconstpointer p)
{
    const sa_names *n = p;
    return ptr2_hash(n->realm, n->targetname);
}

static gboolean names_equal(gconstpointer p, gconstpointer q)
{
    const sa_names *x = p, *y = q;
    return x->realm == y->realm && x->targetname == y->targetname;
}

/* The table's record of (realm, targetname), made on first use. */
static const sa_names *names_get(sa_table *tab, const char *realm, const char *targetname)
{
    sa_names k = { intern(tab, realm), intern(tab, targetname) };
    sa_names *n = g_hash_table_lookup(tab->names, &k);
    if (!n) {
        n = g_memdup2(&k, sizeof k);
        g_hash_table_add(tab->names, n);
    }
    return n;
}

static void pair_free(gpointer p)
{
    sa_pair *pr = p;
    if (pr->open)
        g_ptr_array_free(pr->open, TRUE);
    g_free(pr);
}

sa_table *sa_table_new(void)
{
    sa_table *tab = g_new0(sa_table, 1);
    tab->sas = g_ptr_array_new_with_free_func(sa_free);
    tab->named = g_hash_table_new_full(name_hash, name_equal, name_list_free, NULL);
    tab->pairs = g_hash_table_new_full(pair_hash, pair_equal, pair_free, NULL);
    tab->offers = g_hash_table_new_full(offer_hash, offer_equal, g_free, NULL);
    tab->strs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    tab->names = g_hash_table_new_full(names_hash, names_equal, g_free, NULL);
    for (size_t i = 0; i < MECH_COUNT; i++)
        if (mech_at(i)->cap_new)
            tab->caps[i] = mech_at(i)->cap_new();
    return tab;
}

void sa_table_free(sa_table *tab)
{
    if (!tab)
        return;
    g_hash_table_destroy(tab->named);
    g_hash_table_destroy(tab->pairs);
    g_hash_table_destroy(tab->offers);
    if (tab->offers_more)
        g_hash_table_destroy(tab->offers_more);
    g_ptr_array_free(tab->sas, TRUE); /* before the caps: SAs may point into them */
    g_free(tab->memo);
    g_hash_table_destroy(tab->names);
    g_hash_table_destroy(tab->strs);
    for (size_t i = 0; i < MECH_COUNT; i++)
        if (tab->caps[i])
            mech_at(i)->cap_free(tab->caps[i]);
    g_free(tab);
}

sa_entry *sa_table_get(const sa_table *tab, uint32_t id)
{
    return id >= 1 && id <= tab->sas->len ? g_ptr_array_index(tab->sas, id - 1) : NULL;
}

uint32_t sa_table_count(const sa_table *tab)
{
    return tab->sas->len;
}

/* The record of a pair, created on first use. */
static sa_pair *pair_get(sa_table *tab, const char *a, const char *b, int create)
{
    /* by the table's copies of the endpoints (unknown ones as ""): a text the table has never
     * seen has no pair */
    a = a ? a : "";
    b = b ? b : "";
    sa_pair k = { NULL, NULL, NULL, NULL };
    if (create) {
        k.a = intern(tab, a);
        k.b = intern(tab, b);
    } else {
        k.a = g_hash_table_lookup(tab->strs, a);
        k.b = k.a ? g_hash_table_lookup(tab->strs, b) : NULL;
        if (!k.a || !k.b)
            return NULL;
    }
    if ((uintptr_t)k.a > (uintptr_t)k.b) {
        const char *x = k.a;
        k.a = k.b;
        k.b = x;
    }
    sa_pair *pr = g_hash_table_lookup(tab->pairs, &k);
    if (!pr && create) {
        pr = g_new0(sa_pair, 1);
        pr->a = k.a;
        pr->b = k.b;
        g_hash_table_add(tab->pairs, pr);
    }
    return pr;
}

sa_entry *sa_table_create(sa_table *tab, const mech_ops *mech, uint32_t frame, const char *realm,
                          const char *targetname, int proxy, const char *client_ep,
                          const char *server_ep, sa_entry **evicted)
{
    if (evicted)
        *evicted = NULL;
    sa_entry *s = g_new0(sa_entry, 1);
    s->id = tab->sas->len + 1;
    s->frame = frame;
    s->last_frame = frame;
    s->mech_ix = (uint8_t)mech_index(mech);
    s->mstate = mech->sa_new(tab->caps[mech_index(mech)]);
    s->names = names_get(tab, realm, targetname);
    s->proxy = (uint8_t)(proxy != 0);
    s->client_ep = intern(tab, client_ep);
    s->server_ep = intern(tab, server_ep);
    s->state = SA_PENDING;
    for (int d = 0; d < 2; d++)
        sa_seq_init(&s->seq[d]);
    g_ptr_array_add(tab->sas, s);
    sa_pair *pr = pair_get(tab, client_ep, server_ep, 1);
    if (client_ep && server_ep)
        s->pair = pr;
    if (!pr->open)
        pr->open = g_ptr_array_new();
    GPtrArray *open = pr->open;
    if (open->len >= SA_OPEN_MAX) {
        if (evicted)
            *evicted = g_ptr_array_index(open, 0);
        g_ptr_array_remove_index(open, 0);
    }
    g_ptr_array_add(open, s);
    return s;
}

int sa_has_name(const sa_entry *s, const char *opaque)
{
    if (!opaque)
        return 0;
    /* the usual header names its SA's primary opaque with the same bytes */
    if (s->opaque && (strcmp(s->opaque, opaque) == 0 || eq_nocase(s->opaque, opaque)))
        return 1;
    const GPtrArray *aliases = sa_aliases(s);
    for (guint i = 0; aliases && i < aliases->len; i++)
        if (eq_nocase(g_ptr_array_index(aliases, i), opaque))
            return 1;
    return 0;
}

int sa_table_name(sa_table *tab, sa_entry *s, const char *opaque, note_list *notes)
{
    if (!opaque || sa_has_name(s, opaque))
        return 0;
    int alias = s->opaque != NULL;
    if (alias) {
        if (!s->rare)
            s->rare = g_new0(sa_rare, 1);
        if (!s->rare->aliases)
            s->rare->aliases = g_ptr_array_new_with_free_func(g_free);
        if (s->rare->aliases->len >= SA_ALIASES_MAX) {
            note_add(notes, NOTE_BIND, NOTE_SEV_WARN, "%s SA %u has %d opaques already: %s is not "
                     "added as another name", sa_mech(s)->scheme, s->id, SA_ALIASES_MAX + 1, opaque);
            return 0;
        }
        g_ptr_array_add(s->rare->aliases, g_strdup(opaque));
    } else {
        s->opaque = g_strdup(opaque);
        if (s->state == SA_PENDING)
            s->state = SA_BOUND;
    }
    /* the SA's own copy (kept until the table is freed): the key of a new list */
    const char *copy = alias ? g_ptr_array_index(s->rare->aliases, s->rare->aliases->len - 1)
                             : s->opaque;
    name_list k = { copy, { NULL }, 0, 0, s->mech_ix };
    name_list *list = g_hash_table_lookup(tab->named, &k);
    if (!list) {
        list = g_memdup2(&k, sizeof k);
        list->cap = 1;
        g_hash_table_add(tab->named, list);
    }
    if (list->len >= SA_NAME_MAX) {
        const sa_entry *old = name_list_v(list)[0];
        note_add(notes, NOTE_BIND, NOTE_SEV_WARN, "opaque %s names more than %d %s SAs: SA %u "
                 "(handshake frame %u), the oldest, is no longer found by it", opaque,
                 SA_NAME_MAX, sa_mech(s)->scheme, old->id, old->frame);
        name_list_drop_oldest(list);
    }
    name_list_add(list, s);
    return alias;
}

void sa_table_confirm(sa_table *tab, sa_entry *s)
{
    if (s->state == SA_CONFIRMED)
        return;
    s->state = SA_CONFIRMED;
    /* only open SAs bind by transaction (sa_bind.c): their transactions are not needed now */
    sa_txns_drop(s);
    sa_pair *pr = s->pair ? s->pair : pair_get(tab, s->client_ep, s->server_ep, 0);
    if (pr && pr->open) {
        g_ptr_array_remove(pr->open, s);
        if (!pr->open->len) { /* most pairs: their one SA is confirmed */
            g_ptr_array_free(pr->open, TRUE);
            pr->open = NULL;
        }
    }
}

/* sa_on_pair, inlined into sa_table_named (it runs for every signed header). */
static inline int on_pair(const sa_entry *s, const char *src, const char *dst)
{
    if (!src || !dst || !s->client_ep || !s->server_ep)
        return 1;
    return (strcmp(s->client_ep, src) == 0 && strcmp(s->server_ep, dst) == 0) ||
           (strcmp(s->client_ep, dst) == 0 && strcmp(s->server_ep, src) == 0);
}

int sa_on_pair(const sa_entry *s, const char *src, const char *dst)
{
    return on_pair(s, src, dst);
}

int sa_from_server(const sa_entry *s, const char *src, const char *dst)
{
    if (!src || !dst || !s->client_ep || !s->server_ep)
        return 1;
    return strcmp(s->server_ep, src) == 0 && strcmp(s->client_ep, dst) == 0;
}

/* 1 when a memo's opaque (NUL-padded words) is the one of words ow[0 .. nw) (its bytes and a
 * NUL in the last): a longer memo opaque has a byte where ow has its NUL, a shorter one a NUL
 * where ow has a byte. */
static inline int memo_opaque_equal(const guint64 *m, const guint64 *ow, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (m[i] != ow[i])
            return 0;
    return 1;
}

sa_entry *sa_table_named(sa_table *tab, const mech_ops *mech, const char *opaque,
                         const char *realm, const char *targetname, const char *src,
                         const char *dst, int elsewhere, sa_named *how)
{
    *how = SA_NAMED_NONE;
    if (!opaque)
        return NULL;
    /* the memo (see named_memo): exact opaque bytes, the list unchanged, the SA matching */
    size_t ol = strnlen(opaque, NAMED_MEMO_OPAQUE);
    int memo_ok = ol < NAMED_MEMO_OPAQUE && src && dst;
    guint idx = 0;
    guint64 ow[NAMED_MEMO_OPAQUE / 8]; /* the opaque's bytes, NUL-padded: ow[0 .. ol / 8] */
    size_t nw = ol / 8 + 1;
    if (memo_ok) /* the slot: a hash of the opaque's bytes (kept in ow) and mech */
        idx = bytes_hash(opaque, ol, (guint64)(uintptr_t)mech << 8, ow) % NAMED_MEMO_SIZE;
    const named_memo *me = memo_ok && tab->memo ? &tab->memo[idx] : NULL;
    if (me && me->s && me->mech == mech && me->list->len == me->len &&
        name_list_v(me->list)[me->len - 1] == me->last &&
        memo_opaque_equal(me->opaque, ow, nw) && streq0(sa_realm(me->s), realm) &&
        streq0(sa_targetname(me->s), targetname) && me->s->client_ep && me->s->server_ep &&
        on_pair(me->s, src, dst)) {
        *how = SA_NAMED_HERE;
        return me->s;
    }
    name_list k = { opaque, { NULL }, 0, 0, (uint8_t)mech_index(mech) };
    const name_list *list = g_hash_table_lookup(tab->named, &k);
    sa_entry *const *lv = list ? name_list_v(list) : NULL;
    sa_entry *here = NULL, *away = NULL, *away_confirmed = NULL;
    for (guint i = list ? list->len : 0; i-- > 0;) {
        sa_entry *s = lv[i];
        int names = streq0(sa_realm(s), realm) && streq0(sa_targetname(s), targetname);
        if (on_pair(s, src, dst)) {
            if (names) {
                *how = SA_NAMED_HERE;
                if (memo_ok && s->client_ep && s->server_ep) {
                    if (!tab->memo)
                        tab->memo = g_new0(named_memo, NAMED_MEMO_SIZE);
                    named_memo *w = &tab->memo[idx];
                    w->mech = mech;
                    w->list = (name_list *)list;
                    w->len = list->len;
                    w->last = lv[list->len - 1];
                    w->s = s;
                    memset(w->opaque, 0, sizeof w->opaque);
                    memcpy(w->opaque, ow, nw * sizeof ow[0]);
                }
                return s;
            }
            if (!here)
                here = s;
        } else if (names) {
            if (!away)
                away = s;
            if (!away_confirmed && s->state == SA_CONFIRMED)
                away_confirmed = s;
        }
    }
    if (here) {
        *how = SA_NAMED_HERE_NAMES_DIFFER;
        return here;
    }
    if (elsewhere && (away_confirmed || away)) {
        *how = SA_NAMED_ELSEWHERE;
        return away_confirmed ? away_confirmed : away;
    }
    return NULL;
}

int sa_table_known(sa_table *tab, const mech_ops *mech, const char *opaque)
{
    name_list k = { opaque, { NULL }, 0, 0, (uint8_t)mech_index(mech) };
    return g_hash_table_contains(tab->named, &k);
}

sa_entry **sa_table_open(sa_table *tab, const mech_ops *mech, const char *a, const char *b,
                         size_t *n)
{
    *n = 0;
    sa_pair *pr = pair_get(tab, a, b, 0);
    if (!pr || !pr->open || !pr->open->len)
        return NULL;
    sa_entry **out = g_new(sa_entry *, pr->open->len);
    size_t ix = mech_index(mech);
    for (guint i = 0; i < pr->open->len; i++) {
        sa_entry *s = g_ptr_array_index(pr->open, i);
        if (s->mech_ix == ix)
            out[(*n)++] = s;
    }
    return out;
}

const sa_entry *sa_table_signing(sa_table *tab, const char *a, const char *b)
{
    sa_pair *pr = pair_get(tab, a, b, 0);
    return pr ? pr->signing : NULL;
}

void sa_table_set_signing(sa_table *tab, sa_entry *s)
{
    if (!s->client_ep || !s->server_ep)
        return;
    (s->pair ? s->pair : pair_get(tab, s->client_ep, s->server_ep, 1))->signing = s;
}

/* The entry of (client, mech_ix, realm, target), NULL when none. */
static offer_rec *offer_find(const sa_table *tab, const char *client, size_t mech_ix,
                             const char *realm, const char *target, offer_set **set)
{
    offer_set k = { client, 0 };
    offer_set *o = g_hash_table_lookup(tab->offers, &k);
    *set = o;
    for (guint i = 0; o && i < o->n; i++)
        if (o->v[i].mech_ix == mech_ix && o->v[i].realm == realm && o->v[i].target == target)
            return &o->v[i];
    if (!o || o->n < OFFER_INLINE || !tab->offers_more)
        return NULL;
    offer_more m = { client, { realm, target, (uint32_t)mech_ix, 0 } };
    offer_more *x = g_hash_table_lookup(tab->offers_more, &m);
    return x ? &x->o : NULL;
}

void sa_table_offer(sa_table *tab, const mech_ops *mech, const char *realm,
                    const char *targetname, const char *client_ep, unsigned version)
{
    size_t ix = mech_index(mech);
    const char *r = intern(tab, realm ? realm : ""), *t = intern(tab, targetname ? targetname : "");
    const char *c = intern(tab, client_ep ? client_ep : "");
    offer_set *o;
    offer_rec *e = offer_find(tab, c, ix, r, t, &o);
    if (e) {
        e->version = version;
        return;
    }
    offer_rec add = { r, t, (uint32_t)ix, version };
    guint n = o ? o->n : 0;
    if (n >= OFFER_INLINE) {
        if (!tab->offers_more)
            tab->offers_more = g_hash_table_new_full(more_hash, more_equal, g_free, NULL);
        offer_more *m = g_new(offer_more, 1);
        m->client = c;
        m->o = add;
        g_hash_table_add(tab->offers_more, m);
        return;
    }
    /* the set grows by one entry (out of the table while it moves) */
    if (o)
        g_hash_table_steal(tab->offers, o);
    o = g_realloc(o, sizeof(offer_set) + (n + 1) * sizeof(offer_rec));
    o->client = c;
    o->n = n + 1;
    o->v[n] = add;
    g_hash_table_add(tab->offers, o);
}

int sa_table_offered(sa_table *tab, const mech_ops *mech, const char *realm,
                     const char *targetname, const char *client_ep, unsigned *version)
{
    /* texts the table has never seen were never offered */
    const char *r = g_hash_table_lookup(tab->strs, realm ? realm : "");
    const char *t = g_hash_table_lookup(tab->strs, targetname ? targetname : "");
    const char *c = g_hash_table_lookup(tab->strs, client_ep ? client_ep : "");
    if (!r || !t || !c)
        return 0;
    offer_set *o;
    const offer_rec *e = offer_find(tab, c, mech_index(mech), r, t, &o);
    if (!e)
        return 0;
    *version = e->version;
    return 1;
}
