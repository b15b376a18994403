/* sigbuf.c - the [MS-SIPAE] 3.2.5.2 signature buffer. */
#include "sigbuf/sigbuf.h"
#include "sigbuf/bytes.h"

#include <string.h>

/* Position of the first c in v outside quoted strings and (when skip_angle) outside <...>;
 * NULL when none. */
static const char *find_outside(const char *v, char c, int skip_angle)
{
    int inq = 0, ina = 0;
    for (const char *p = v; *p; p++) {
        if (inq) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                inq = 0;
            continue;
        }
        if (*p == c && !(skip_angle && ina))
            return p;
        if (*p == '"')
            inq = 1;
        else if (*p == '<')
            ina = 1;
        else if (*p == '>')
            ina = 0;
    }
    return NULL;
}

/* [a, b) without outer blanks. */
static inline slice strip_s(const char *a, const char *b)
{
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    return (slice){ a, (size_t)(b - a) };
}

static char *strip_dup(const char *a, const char *b)
{
    slice t = strip_s(a, b);
    return g_strndup(t.p, t.n);
}

/* A found piece of a NUL-terminated value (*out points into it, holds no NUL), or not found. */
static inline char *slice_dup(int found, slice t)
{
    return found ? g_strndup(t.p, t.n) : NULL;
}

/* 1 when the n bytes at p equal the n bytes of name ignoring ASCII case (neither holds a NUL
 * in those n bytes: g_ascii_strncasecmp without the calls). */
static int eq_nocase(const char *p, const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char a = p[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + ('a' - 'A'));
        if (b >= 'A' && b <= 'Z')
            b = (char)(b + ('a' - 'A'));
        if (a != b)
            return 0;
    }
    return 1;
}

/* eq_nocase for a lower-case name (the callers' literals): a letter of name matches its byte
 * with the 0x20 bit set ('T' | 0x20 == 't', and no other byte gives a letter so), anything else
 * byte for byte. */
static inline __attribute__((always_inline)) int eq_lower(const char *p, const char *lower,
                                                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char t = lower[i];
        if (t >= 'a' && t <= 'z' ? (char)(p[i] | 0x20) != t : p[i] != t)
            return 0;
    }
    return 1;
}

/* Bytes that end a parameter name in param_s: NUL, ';', ',', '=', SP, HT. */
static const unsigned char pname_end[256] = {
    [0] = 1, [';'] = 1, [','] = 1, ['='] = 1, [' '] = 1, ['\t'] = 1,
};

/* sigbuf_param without the copy: 1 and *out when present. lower: name is lower-case (a
 * literal; inlined there, the comparison folds). */
static inline __attribute__((always_inline)) int param_s_(const char *params, const char *name,
                                                          size_t nl, int lower, slice *out)
{
    const char *p = params;
    for (;;) {
        /* strchr (p, ';') inline: the next ';' is usually the first byte or a few after */
        while (*p && *p != ';')
            p++;
        if (!*p)
            break;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (!pname_end[(unsigned char)*e])
            e++;
        if ((size_t)(e - p) == nl && (lower ? eq_lower(p, name, nl) : eq_nocase(p, name, nl))) {
            while (*e == ' ' || *e == '\t')
                e++;
            if (*e != '=') {
                *out = (slice){ e, 0 };
                return 1;
            }
            e++;
            const char *ve = e + strcspn(e, ";,");
            *out = strip_s(e, ve);
            return 1;
        }
        p = e;
    }
    return 0;
}

static int param_s(const char *params, const char *name, size_t nl, slice *out)
{
    return param_s_(params, name, nl, 0, out);
}

/* name-addr / addr-spec (RFC 3261 §20.20): the URI is inside <...> if there are angle
 * brackets outside the display name's quotes; otherwise it is the text before the first ';'.
 * The tag is the tag parameter after the '>' of a name-addr, or after the URI of an addr-spec.
 * Either of uri and tag may be NULL (not wanted); returns which were found (1 uri, 2 tag). */
static int nameaddr_s(const char *v, slice *uri, slice *tag)
{
    int found = 0;
    const char *params;
    const char *lt = find_outside(v, '<', 0);
    if (lt) {
        const char *gt = strchr(lt + 1, '>');
        if (!gt)
            return 0;
        if (uri) {
            *uri = (slice){ lt + 1, (size_t)(gt - lt - 1) };
            found |= 1;
        }
        params = gt + 1;
    } else {
        const char *semi = strchr(v, ';');
        if (uri) {
            *uri = strip_s(v, semi ? semi : v + strlen(v));
            found |= 1;
        }
        params = semi;
    }
    if (tag && params && param_s_(params, "tag", 3, 1, tag))
        found |= 2;
    return found;
}

char *sigbuf_nameaddr_uri(const char *v)
{
    slice u;
    return slice_dup(nameaddr_s(v, &u, NULL) & 1, u);
}

char *sigbuf_nameaddr_tag(const char *v)
{
    slice t;
    return slice_dup(nameaddr_s(v, NULL, &t) & 2, t);
}

/* generic-param = token [ EQUAL gen-value ] (RFC 3261 25.1), each after a ';'. */
char *sigbuf_param(const char *params, const char *name)
{
    slice t;
    return slice_dup(param_s(params, name, strlen(name), &t), t);
}

/* P-Asserted-Identity = PAssertedID-value *(COMMA PAssertedID-value) (RFC 3325 §9.1); elements
 * are split on commas outside quotes and <>. Each element is a name-addr or a bare URI; a bare
 * URI is taken whole (with its parameters). */
char *sigbuf_pai_uri(const char *v, int want_tel)
{
    const char *prefix = want_tel ? "tel:" : "sip:";
    const char *p = v;
    while (p && *p) {
        const char *comma = find_outside(p, ',', 1);
        const char *end = comma ? comma : p + strlen(p);
        char *elem = strip_dup(p, end);
        char *uri = NULL;
        /* RFC 3325 §9.1: PAssertedID-value = name-addr / addr-spec, with no header parameters,
         * so a bare URI keeps its ';' parameters (tel:+1;ext=2) */
        if (find_outside(elem, '<', 0))
            uri = sigbuf_nameaddr_uri(elem);
        else
            uri = g_strdup(elem);
        g_free(elem);
        if (uri && g_ascii_strncasecmp(uri, prefix, 4) == 0)
            return uri;
        g_free(uri);
        p = comma ? comma + 1 : NULL;
    }
    return NULL;
}

/* The buffer being built, and (optionally) where each item came from. */
typedef struct {
    const sip_msg *m;
    GString *b;
    GArray *items; /* sigbuf_item, or NULL */
} emitter;

/* Appends "<v>" (v may be NULL: "<>"); returns the offset of v in the buffer. One copy, not
 * inlined into every emit (sixteen per buffer): in tshark the build's code is fetched again for
 * every frame, and sixteen inlined copies cost more in instruction-cache misses than the calls
 * (bench/cachesim.py, NTLM: +104 instructions, -44 I1 misses per frame). */
static __attribute__((noinline)) size_t put(GString *b, const char *v, size_t n)
{
    size_t vn = v ? n : 0;
    size_t off, len = b->len;
    if (b->allocated_len - len > vn + 2) { /* room for "<v>" and the NUL: write in place */
        char *w = b->str + len; /* locals: the copy below cannot change them */
        w[0] = '<';
        copy_short(w + 1, v, vn);
        w[vn + 1] = '>'; /* the NUL: once, at the end of build() */
        b->len = len + vn + 2;
        off = len + 1;
    } else {
        g_string_append_c(b, '<');
        off = b->len;
        if (v)
            g_string_append_len(b, v, (gssize)n);
        g_string_append_c(b, '>');
    }
    return off;
}

/* Records the item just appended at off, locating v's bytes in the message region
 * [roff, roff + rlen) when they occur there verbatim (first occurrence). */
static void record(emitter *e, const char *name, size_t off, const char *v, size_t n, size_t roff,
                   size_t rlen)
{
    sigbuf_item it = { name, off, v ? n : 0, v != NULL, 0, 0 };
    if (v && n && roff <= e->m->len && rlen <= e->m->len - roff) {
        const char *hit = NULL;
        for (size_t i = roff; i + n <= roff + rlen; i++)
            if (memcmp(e->m->buf + i, v, n) == 0) {
                hit = e->m->buf + i;
                break;
            }
        if (hit) {
            it.in_msg = 1;
            it.msg_off = (size_t)(hit - e->m->buf);
        }
    }
    g_array_append_val(e->items, it);
}

/* Appends "<v>" and, when items are wanted, records it (see record). Inlined into both builds,
 * so the bytes-only one has no item code at all. */
static inline __attribute__((always_inline)) void
emit(emitter *e, const char *name, const char *v, size_t n, size_t roff, size_t rlen)
{
    size_t off = put(e->b, v, n);
    if (e->items)
        record(e, name, off, v, n, roff, rlen);
}

/* Where value v (n bytes) of auth parameter pname (or, for pname NULL, the scheme token right
 * after the header's colon) sits verbatim in the header line(s) [roff, roff + rlen): after
 * "pname", optional blanks, '=', optional blanks and an optional quote, at a parameter start.
 * Searching for the bare value would find it inside other parameters (cnum="1" inside
 * opaque="ABCD0001"). Returns the offset, or (size_t)-1. */
static size_t locate_param(const sip_msg *m, size_t roff, size_t rlen, const char *pname,
                           const char *v, size_t n)
{
    const char *b = m->buf;
    size_t end = roff + rlen;
    if (!pname) {
        size_t i = roff;
        while (i < end && b[i] != ':')
            i++;
        for (i++; i < end && (b[i] == ' ' || b[i] == '\t'); i++)
            ;
        return i + n <= end && memcmp(b + i, v, n) == 0 ? i : (size_t)-1;
    }
    size_t pl = strlen(pname);
    for (size_t i = roff; i + pl < end; i++) {
        if (g_ascii_strncasecmp(b + i, pname, pl) != 0)
            continue;
        if (i > roff && b[i - 1] != ' ' && b[i - 1] != ',' && b[i - 1] != '\t' &&
            b[i - 1] != '\n' && b[i - 1] != '\r')
            continue;
        size_t j = i + pl;
        while (j < end && (b[j] == ' ' || b[j] == '\t'))
            j++;
        if (j >= end || b[j] != '=')
            continue;
        for (j++; j < end && (b[j] == ' ' || b[j] == '\t'); j++)
            ;
        if (j < end && b[j] == '"')
            j++;
        if (j + n <= end && memcmp(b + j, v, n) == 0)
            return j;
    }
    return (size_t)-1;
}

/* Locates the item just appended for a value of the signing header (see locate_param). */
static void record_param(emitter *e, const char *v, size_t n, size_t roff, size_t rlen,
                         const char *p1, const char *p2)
{
    if (!v || !n || roff > e->m->len || rlen > e->m->len - roff)
        return;
    size_t at = locate_param(e->m, roff, rlen, p1, v, n);
    if (at == (size_t)-1 && p2)
        at = locate_param(e->m, roff, rlen, p2, v, n);
    if (at != (size_t)-1) {
        sigbuf_item *it = &g_array_index(e->items, sigbuf_item, e->items->len - 1);
        it->in_msg = 1;
        it->msg_off = at;
    }
}

/* emit() for an item of the signing header: located as its parameter (see locate_param). */
static inline __attribute__((always_inline)) void
emit_param(emitter *e, const char *name, const char *v, size_t roff, size_t rlen, const char *p1,
           const char *p2)
{
    size_t n = v ? strlen(v) : 0;
    emit(e, name, v, n, 0, 0); /* appends the item, not located */
    if (e->items)
        record_param(e, v, n, roff, rlen, p1, p2);
}

/* emit() for a piece (found or not) of header h's value (h may be NULL when not found). */
static inline __attribute__((always_inline)) void
emit_hdr(emitter *e, const char *name, int found, slice v, const sip_hdr *h)
{
    emit(e, name, found ? v.p : NULL, found ? v.n : 0, h ? h->value_off : 0, h ? h->value_len : 0);
}

/* emit_hdr for a NUL-terminated value (NULL: absent). */
static inline __attribute__((always_inline)) void
emit_hdr_str(emitter *e, const char *name, const char *v, const sip_hdr *h)
{
    emit(e, name, v, v ? strlen(v) : 0, h ? h->value_off : 0, h ? h->value_len : 0);
}

/* Room for a header value: values that fit are copied to the stack, longer or folded ones to the
 * heap (heap, freed by vbuf_free). */
typedef struct {
    char *heap;
    char stack[256];
} vbuf;

/* The NUL-terminated value of h (sip_hdr_value's bytes), or NULL when h is NULL. */
static inline __attribute__((always_inline)) char *hdr_value(const sip_msg *m, const sip_hdr *h,
                                                            vbuf *b)
{
    b->heap = NULL;
    if (!h)
        return NULL;
    slice sv;
    if (sip_hdr_value_slice(m, h, &sv) && sv.n < sizeof b->stack) {
        memcpy(b->stack, sv.p, sv.n);
        b->stack[sv.n] = 0;
        return b->stack;
    }
    return b->heap = sip_hdr_value(m, h, NULL);
}

/* hdr_value without the copy when h is not folded: the value's bytes in the message up to its
 * first NUL (what strlen of hdr_value's copy counts), *n their length; NULL when h is NULL. */
static inline __attribute__((always_inline)) const char *hdr_text(const sip_msg *m,
                                                                  const sip_hdr *h, vbuf *b,
                                                                  size_t *n)
{
    b->heap = NULL;
    *n = 0;
    if (!h)
        return NULL;
    slice sv;
    if (sip_hdr_value_slice(m, h, &sv)) {
        const char *z = memchr(sv.p, 0, sv.n);
        *n = z ? (size_t)(z - sv.p) : sv.n;
        return sv.p;
    }
    b->heap = sip_hdr_value(m, h, NULL);
    *n = strlen(b->heap);
    return b->heap;
}

static inline void vbuf_free(vbuf *b)
{
    if (b->heap) { /* the usual value was a slice or on the stack: no call */
        g_free(b->heap);
        b->heap = NULL;
    }
}

/* The layout, once: inlined into sigbuf_build (items NULL: bytes only, no item code) and
 * sigbuf_build_items. */
static inline __attribute__((always_inline)) GString *
build(const sip_msg *m, const sigbuf_auth *a, unsigned version, GArray *items, GString *into)
{
    emitter e = { m, into, items };
    g_string_truncate(into, 0);
    int v3 = version >= 3;

    /* 1-5: from the signing header ([MS-SIPAE] 3.2.5.2 items 1-5) */
    emit_param(&e, "Scheme", a->scheme, a->hdr_off, a->hdr_len, NULL, NULL);
    emit_param(&e, "Salt", a->rand, a->hdr_off, a->hdr_len, "crand", "srand");
    emit_param(&e, "Sequence number", a->num, a->hdr_off, a->hdr_len, "cnum", "snum");
    emit_param(&e, "Realm", a->realm, a->hdr_off, a->hdr_len, "realm", NULL);
    emit_param(&e, "Target name", a->targetname, a->hdr_off, a->hdr_len, "targetname", NULL);

    /* 6: Call-ID (compact i) */
    const sip_hdr *h = sip_hdr_find_kind(m, SIP_HK_CALL_ID);
    vbuf vb;
    size_t tn;
    const char *callid = hdr_text(m, h, &vb, &tn);
    emit(&e, "Call-ID", callid, tn, h ? h->value_off : 0, h ? h->value_len : 0);
    vbuf_free(&vb);

    /* 7, 8: CSeq number and method (the method of CSeq, also in responses) */
    h = sip_hdr_find_kind(m, SIP_HK_CSEQ);
    const char *cseq = hdr_text(m, h, &vb, &tn);
    if (cseq) {
        const char *p = cseq, *end = cseq + tn;
        const char *ne = p;
        while (ne < end && *ne != ' ' && *ne != '\t')
            ne++;
        const char *ms = ne;
        while (ms < end && (*ms == ' ' || *ms == '\t'))
            ms++;
        const char *me = ms;
        while (me < end && *me != ' ' && *me != '\t')
            me++;
        emit(&e, "CSeq number", p, (size_t)(ne - p), h->value_off, h->value_len);
        emit(&e, "CSeq method", ms, (size_t)(me - ms), h->value_off, h->value_len);
    } else {
        emit_hdr_str(&e, "CSeq number", NULL, NULL);
        emit_hdr_str(&e, "CSeq method", NULL, NULL);
    }
    vbuf_free(&vb);

    /* 9, 10: From URI and tag */
    slice uri = { NULL, 0 }, tag = { NULL, 0 };
    h = sip_hdr_find_kind(m, SIP_HK_FROM);
    char *from = hdr_value(m, h, &vb);
    int found = from ? nameaddr_s(from, &uri, &tag) : 0;
    emit_hdr(&e, "From URI", found & 1, uri, h);
    emit_hdr(&e, "From tag", found & 2, tag, h);
    vbuf_free(&vb);

    /* 11 (v3+), 12: To URI and tag */
    h = sip_hdr_find_kind(m, SIP_HK_TO);
    char *to = hdr_value(m, h, &vb);
    found = to ? nameaddr_s(to, v3 ? &uri : NULL, &tag) : 0;
    if (v3)
        emit_hdr(&e, "To URI", found & 1, uri, h);
    emit_hdr(&e, "To tag", found & 2, tag, h);
    vbuf_free(&vb);

    /* 13, 14 (v3+): P-Asserted-Identity sip and tel URIs; P-Preferred-Identity without PAI */
    if (v3) {
        h = sip_hdr_find_kind(m, SIP_HK_P_ASSERTED_IDENTITY);
        if (!h)
            h = sip_hdr_find_kind(m, SIP_HK_P_PREFERRED_IDENTITY);
        char *pai = hdr_value(m, h, &vb);
        char *sip = pai ? sigbuf_pai_uri(pai, 0) : NULL;
        char *tel = pai ? sigbuf_pai_uri(pai, 1) : NULL;
        emit_hdr_str(&e, "PAI sip URI", sip, h);
        emit_hdr_str(&e, "PAI tel URI", tel, h);
        g_free(sip);
        g_free(tel);
        vbuf_free(&vb);
    }

    /* 15: Expires header (never Session-Expires or a Contact parameter) */
    h = sip_hdr_find_kind(m, SIP_HK_EXPIRES);
    const char *expires = hdr_text(m, h, &vb, &tn);
    emit(&e, "Expires", expires, tn, h ? h->value_off : 0, h ? h->value_len : 0);
    vbuf_free(&vb);

    /* 16: status code, responses only */
    if (!m->is_request)
        emit(&e, "Status code", m->status.p, m->status.n, (size_t)(m->status.p - m->buf),
             m->status.n);
    e.b->str[e.b->len] = 0; /* put() leaves it out (a GString always has room for it) */
    return e.b;
}

GString *sigbuf_build(const sip_msg *m, const sigbuf_auth *a, unsigned version)
{
    return build(m, a, version, NULL, g_string_sized_new(256));
}

void sigbuf_build_into(const sip_msg *m, const sigbuf_auth *a, unsigned version, GString *b)
{
    build(m, a, version, NULL, b);
}

GString *sigbuf_build_items(const sip_msg *m, const sigbuf_auth *a, unsigned version,
                            GArray *items)
{
    return build(m, a, version, items, g_string_sized_new(256));
}
