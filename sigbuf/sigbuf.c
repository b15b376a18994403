/* sigbuf.c - the [MS-SIPAE] 3.2.5.2 signature buffer. */
#include "sigbuf/sigbuf.h"
#include "sigbuf/bytes.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The values below are byte ranges [p, end) holding no NUL: a header value is cut at its first
 * NUL (what the string functions on a NUL-terminated copy of it saw). */

/* Position of the first c in [v, end) outside quoted strings and (when skip_angle) outside
 * <...>; NULL when none. */
static const char *find_outside(const char *v, const char *end, char c, int skip_angle)
{
    int inq = 0, ina = 0;
    for (const char *p = v; p < end; p++) {
        if (inq) {
            if (*p == '\\' && p + 1 < end)
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

/* The first byte in [p, end) equal to c1 or c2, or end. lim: the end of the readable bytes
 * around [p, end) (16-byte loads may pass end, never lim). */
static inline const char *find2(const char *p, const char *end, const char *lim, char c1, char c2)
{
#ifdef __SSE2__
    if ((size_t)(lim - p) >= (size_t)(end - p) + 15) {
        const __m128i a = _mm_set1_epi8(c1), b = _mm_set1_epi8(c2);
        for (; p < end; p += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned mk = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, a),
                                                                   _mm_cmpeq_epi8(x, b)));
            if (mk) {
                const char *q = p + __builtin_ctz(mk);
                return q < end ? q : end;
            }
        }
        return end;
    }
#endif
    while (p < end && *p != c1 && *p != c2)
        p++;
    return p;
}

/* A found piece (*out points into a NUL-terminated value, holds no NUL), or not found. */
static inline char *slice_dup(int found, slice t)
{
    return found ? g_strndup(t.p, t.n) : NULL;
}

/* Bytes that end a parameter name in param_s: NUL, ';', ',', '=', SP, HT. */
static const unsigned char pname_end[256] = {
    [0] = 1, [';'] = 1, [','] = 1, ['='] = 1, [' '] = 1, ['\t'] = 1,
};

/* Value of parameter name (nl bytes, case-insensitive) in the ";a=b;c" list [params, end) (lim:
 * see find2): 1
 * and *out when present (an empty slice for a parameter without value). tag: name is "tag"
 * (compared as one word). */
static inline __attribute__((always_inline)) int
param_s(const char *params, const char *end, const char *lim, const char *name, size_t nl,
        int tag, slice *out)
{
    const char *p = params;
    for (;;) {
        p = find2(p, end, lim, ';', ';');
        if (p >= end)
            break;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *e = p;
        while (e < end && !pname_end[(unsigned char)*e])
            e++;
        if ((size_t)(e - p) == nl &&
            (tag ? (p[0] | 0x20) == 't' && (p[1] | 0x20) == 'a' && (p[2] | 0x20) == 'g'
                 : eq_nocase_n(p, name, nl))) {
            while (e < end && (*e == ' ' || *e == '\t'))
                e++;
            if (e >= end || *e != '=') {
                *out = (slice){ e, 0 };
                return 1;
            }
            e++;
            *out = strip_s(e, find2(e, end, lim, ';', ','));
            return 1;
        }
        p = e;
    }
    return 0;
}

/* param_s for any name, out of line (sigbuf_param). */
static int param_any(const char *params, const char *end, const char *name, slice *out)
{
    return param_s(params, end, end, name, strlen(name), 0, out);
}

/* name-addr / addr-spec (RFC 3261 §20.20) in [v, end) (lim: see find2): the URI is inside <...> if there are
 * angle brackets outside the display name's quotes; otherwise it is the text before the first
 * ';'. The tag is the tag parameter after the '>' of a name-addr, or after the URI of an
 * addr-spec. Either of uri and tag may be NULL (not wanted); returns which were found (1 uri,
 * 2 tag). */
static inline __attribute__((always_inline)) int
nameaddr_in(const char *v, const char *end, const char *lim, slice *uri, slice *tag)
{
    int found = 0;
    const char *params;
    const char *lt = find_outside(v, end, '<', 0);
    if (lt) {
        const char *gt = find2(lt + 1, end, lim, '>', '>');
        if (gt == end)
            return 0;
        if (uri) {
            *uri = (slice){ lt + 1, (size_t)(gt - lt - 1) };
            found |= 1;
        }
        params = gt + 1;
    } else {
        const char *semi = find2(v, end, lim, ';', ';');
        if (semi == end)
            semi = NULL;
        if (uri) {
            *uri = strip_s(v, semi ? semi : end);
            found |= 1;
        }
        params = semi;
    }
    if (tag && params && param_s(params, end, lim, "tag", 3, 1, tag))
        found |= 2;
    return found;
}

/* nameaddr_in out of line (the helpers and PAI elements). */
static int nameaddr_s(const char *v, const char *end, const char *lim, slice *uri, slice *tag)
{
    return nameaddr_in(v, end, lim, uri, tag);
}

char *sigbuf_nameaddr_uri(const char *v)
{
    slice u;
    return slice_dup(nameaddr_s(v, v + strlen(v), v + strlen(v), &u, NULL) & 1, u);
}

char *sigbuf_nameaddr_tag(const char *v)
{
    slice t;
    return slice_dup(nameaddr_s(v, v + strlen(v), v + strlen(v), NULL, &t) & 2, t);
}

/* generic-param = token [ EQUAL gen-value ] (RFC 3261 25.1), each after a ';'. */
char *sigbuf_param(const char *params, const char *name)
{
    slice t;
    const char *end = params + strlen(params);
    return slice_dup(param_any(params, end, name, &t), t);
}

/* P-Asserted-Identity = PAssertedID-value *(COMMA PAssertedID-value) (RFC 3325 §9.1); elements
 * are split on commas outside quotes and <>. Each element is a name-addr or a bare URI; a bare
 * URI is taken whole (with its parameters). The URI found, as a slice of [v, end). */
static int pai_s(const char *v, const char *end, int want_tel, slice *out)
{
    const char *prefix = want_tel ? "tel:" : "sip:";
    const char *p = v;
    while (p && p < end) {
        const char *comma = find_outside(p, end, ',', 1);
        slice elem = strip_s(p, comma ? comma : end);
        slice uri = elem;
        /* RFC 3325 §9.1: PAssertedID-value = name-addr / addr-spec, with no header parameters,
         * so a bare URI keeps its ';' parameters (tel:+1;ext=2) */
        int ok = 1;
        if (find_outside(elem.p, elem.p + elem.n, '<', 0))
            ok = nameaddr_s(elem.p, elem.p + elem.n, elem.p + elem.n, &uri, NULL) & 1;
        if (ok && uri.n >= 4 && g_ascii_strncasecmp(uri.p, prefix, 4) == 0) {
            *out = uri;
            return 1;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

char *sigbuf_pai_uri(const char *v, int want_tel)
{
    slice u;
    return slice_dup(pai_s(v, v + strlen(v), want_tel, &u), u);
}

/* What a build keeps aside: the copies of folded values (freed once the buffer is written)
 * and, for sigbuf_build_items only, each item (v[i].p NULL for an absent value, "<>") and the
 * message region it was taken from. */
#define SIGBUF_MAX_ITEMS 16
typedef struct {
    char *heap[8]; /* at most one per header read (six) */
    unsigned nheap;
    unsigned k;    /* items only: */
    slice v[SIGBUF_MAX_ITEMS];
    size_t roff[SIGBUF_MAX_ITEMS], rlen[SIGBUF_MAX_ITEMS];
} pieces;

/* A value as [p, e). */
typedef struct {
    const char *p, *e;
} span;

/* hdr_text for a value with a CR or a folded one: sip_hdr_value's copy, kept in pc. */
static __attribute__((noinline)) span hdr_copy(const sip_msg *m, const sip_hdr *h, pieces *pc)
{
    char *s = sip_hdr_value(m, h, NULL);
    if (pc->nheap < G_N_ELEMENTS(pc->heap))
        pc->heap[pc->nheap++] = s;
    return (span){ s, s + strlen(s) };
}

/* The value of h (sip_hdr_value's bytes; p NULL when h is NULL) up to its first NUL: a slice
 * of the message or, for a folded value, of a heap copy kept in pc. */
static __attribute__((noinline)) span hdr_text(const sip_msg *m, const sip_hdr *h,
                                                           pieces *pc)
{
    if (!h)
        return (span){ NULL, NULL };
    const char *v = m->buf + h->value_off, *end = v + h->value_len;
    const char *z = find2(v, end, m->buf + m->len, '\r', 0);
    /* an unfolded header's value ends before its line's LF: only a stray CR can be in it; a
     * NUL first cuts the value, but a CR after it still makes it a copy */
    if ((z < end && (*z == '\r' || memchr(z, '\r', (size_t)(end - z)))) ||
        (h->folded && memchr(v, '\n', h->value_len)))
        return hdr_copy(m, h, pc);
    slice t = strip_s(v, end);
    const char *e = t.p + t.n;
    if (z < e) /* the strip stops at a NUL: it is at or after t.p */
        e = z;
    return (span){ t.p, e };
}

/* 1 when p points into the message (else into a copy, whose bytes end at its NUL). */
static inline int in_msg(const sip_msg *m, const char *p)
{
    return (uintptr_t)p >= (uintptr_t)m->buf && (uintptr_t)p < (uintptr_t)(m->buf + m->len);
}

/* memcpy of n bytes from s to d without the call: 16 bytes a step, the last step overlapping
 * the one before (copy_short below 16). */
static inline __attribute__((always_inline)) void copy_room(char *d, const char *s, size_t n)
{
    if (n >= 16) {
        size_t j = 0;
        for (; j + 16 < n; j += 16) {
            guint64 x = ld8(s + j), y = ld8(s + j + 8);
            memcpy(d + j, &x, 8);
            memcpy(d + j + 8, &y, 8);
        }
        guint64 x = ld8(s + n - 16), y = ld8(s + n - 8);
        memcpy(d + n - 16, &x, 8);
        memcpy(d + n - 8, &y, 8);
    } else {
        copy_short(d, s, n);
    }
}

/* copy_room out of line: the rare copies of put_value (one copy of the code, not one per item). */
static __attribute__((noinline)) void copy_exact(char *d, const char *s, size_t n)
{
    copy_room(d, s, n);
}

/* Copies the n bytes at s (NULL when n is 0) to d, which has 16 bytes of room past them: 16
 * bytes a step when s lies in the message [base, base + len) with 16 readable bytes from every
 * step, else exactly (copy_room). */
static __attribute__((noinline)) void put_value(char *d, const char *s, size_t n,
                                                const char *base, size_t len)
{
    if (!n)
        return;
#ifdef __SSE2__
    size_t off = (size_t)((uintptr_t)s - (uintptr_t)base);
    if (off < len && len - off >= n + 15) {
        for (size_t j = 0; j < n; j += 16)
            _mm_storeu_si128((__m128i *)(void *)(d + j),
                             _mm_loadu_si128((const __m128i *)(const void *)(s + j)));
        return;
    }
#else
    (void)base;
    (void)len;
#endif
    copy_exact(d, s, n);
}

/* Builds the buffer into b (emptied first; see sigbuf.h for the layout), each "<v>" written as
 * its value is found. The room is made once: the values taken from a header are disjoint parts
 * of its raw value (a folded value's copy is shorter than its lines), so they need at most the
 * sum of those headers' value lengths (and the status code's), at most hdr_end, plus the
 * signing header's values, the brackets, the NUL and 16 spare bytes: a value inside the
 * message is copied 16 bytes a step while the loads stay inside it, the last store passing the
 * value's end (the next item or the spare room overwrites those bytes). want_items: also keeps
 * each item and where it came from in pc. */
static inline __attribute__((always_inline)) void build(const sip_msg *m, const sigbuf_auth *a,
                                                        unsigned version, GString *b,
                                                        int want_items, pieces *pc)
{
    int v3 = version >= 3;
    const char *lim = m->buf + m->len;
    pc->nheap = 0;
    unsigned k = 0;
    /* the first header of a kind (as sip_hdr_find_kind) with the array and its length loaded
     * once */
    const sip_hdr *const hs = m->hdrs ? (const sip_hdr *)(const void *)m->hdrs->data : NULL;
    const guint nhs = m->hdrs ? m->hdrs->len : 0;
#define FIND(kind) (m->first[kind] && m->first[kind] <= nhs ? &hs[m->first[kind] - 1] : NULL)

    /* 1-5: from the signing header ([MS-SIPAE] 3.2.5.2 items 1-5), located by record_items */
    const char *const hv[5] = { a->scheme, a->rand, a->num, a->realm, a->targetname };
    /* the headers the items come from, and their raw values' lengths: room for the values */
    const sip_hdr *const hc = FIND(SIP_HK_CALL_ID), *const hq = FIND(SIP_HK_CSEQ),
                         *const hf = FIND(SIP_HK_FROM), *const ht = FIND(SIP_HK_TO),
                         *const hx = FIND(SIP_HK_EXPIRES);
    const sip_hdr *hp = NULL;
    if (v3) {
        hp = FIND(SIP_HK_P_ASSERTED_IDENTITY);
        if (!hp)
            hp = FIND(SIP_HK_P_PREFERRED_IDENTITY);
    }
    size_t hn[5], fixed = 2 * SIGBUF_MAX_ITEMS + 17;
    for (int i = 0; i < 5; i++)
        fixed += hn[i] = hv[i] ? strlen(hv[i]) : 0;
    /* every header value lies in the header block: a room of hdr_end is enough, without adding
     * up the values (a store reused from message to message keeps it) */
    size_t room = fixed + (m->hdr_end <= m->len ? m->hdr_end : m->len);
    if (b->allocated_len < room) {
        /* a new store (b->len 0: e.g. one result shown): only what this message's values need,
         * so that its usual size does not grow */
        if (!b->len)
            room = fixed + (m->is_request ? 0 : m->status.n) + (hc ? hc->value_len : 0) +
                   (hq ? hq->value_len : 0) + (hf ? hf->value_len : 0) +
                   (ht ? ht->value_len : 0) + (hp ? hp->value_len : 0) +
                   (hx ? hx->value_len : 0);
        if (b->allocated_len < room)
            g_string_set_size(b, room);
    }
    char *const start = b->str; /* stores through w could change b as far as the compiler knows */
    char *w = start;
    for (int i = 0; i < 5; i++) {
        size_t n = hn[i];
        w[0] = '<';
        copy_room(w + 1, hv[i], n);
        w[n + 1] = '>';
        w += n + 2;
        if (want_items) {
            pc->v[k] = (slice){ hv[i], n };
            pc->roff[k] = pc->rlen[k] = 0;
            k++;
        }
    }

/* Writes "<v>" for a value (absent when found is 0) taken from [roff, roff + rlen) of the
 * message: in place when it lies in the message with 16 readable bytes from every step. */
#define PUT(found, p_, n_, roff_, rlen_)                                                        \
    do {                                                                                       \
        const char *s__ = (found) ? (p_) : NULL;                                               \
        size_t n__ = (found) ? (size_t)(n_) : 0;                                               \
        if (want_items) {                                                                      \
            pc->v[k] = (slice){ s__, n__ };                                                    \
            pc->roff[k] = (roff_);                                                             \
            pc->rlen[k] = (rlen_);                                                             \
            k++;                                                                               \
        }                                                                                      \
        w[0] = '<';                                                                            \
        put_value(w + 1, s__, n__, m->buf, m->len);                                            \
        w[n__ + 1] = '>';                                                                      \
        w += n__ + 2;                                                                          \
    } while (0)

    /* 6: Call-ID (compact i) */
    const sip_hdr *h = hc;
    span t = hdr_text(m, h, pc);
    PUT(t.p != NULL, t.p, t.e - t.p, h ? h->value_off : 0, h ? h->value_len : 0);

    /* 7, 8: CSeq number and method (the method of CSeq, also in responses) */
    h = hq;
    t = hdr_text(m, h, pc);
    if (t.p) {
        const char *tl = in_msg(m, t.p) ? lim : t.e;
        const char *ne = find2(t.p, t.e, tl, ' ', '\t');
        const char *ms = ne;
        while (ms < t.e && (*ms == ' ' || *ms == '\t'))
            ms++;
        const char *me = find2(ms, t.e, tl, ' ', '\t');
        PUT(1, t.p, ne - t.p, h->value_off, h->value_len);
        PUT(1, ms, me - ms, h->value_off, h->value_len);
    } else {
        PUT(0, NULL, 0, 0, 0);
        PUT(0, NULL, 0, 0, 0);
    }

    /* 9, 10: From URI and tag; 11 (v3+), 12: To URI and tag */
    for (int to = 0; to < 2; to++) {
        slice uri = { NULL, 0 }, tag = { NULL, 0 };
        h = to ? ht : hf;
        t = hdr_text(m, h, pc);
        int want_uri = !to || v3;
        int found = t.p ? nameaddr_in(t.p, t.e, in_msg(m, t.p) ? lim : t.e,
                                      want_uri ? &uri : NULL, &tag)
                        : 0;
        size_t ro = h ? h->value_off : 0, rl = h ? h->value_len : 0;
        if (want_uri)
            PUT(found & 1, uri.p, uri.n, ro, rl);
        PUT(found & 2, tag.p, tag.n, ro, rl);
    }

    /* 13, 14 (v3+): P-Asserted-Identity sip and tel URIs; P-Preferred-Identity without PAI */
    if (v3) {
        h = hp;
        t = hdr_text(m, h, pc);
        size_t ro = h ? h->value_off : 0, rl = h ? h->value_len : 0;
        for (int tel = 0; tel < 2; tel++) {
            slice u = { NULL, 0 };
            int found = t.p ? pai_s(t.p, t.e, tel, &u) : 0;
            PUT(found, u.p, u.n, ro, rl);
        }
    }

    /* 15: Expires header (never Session-Expires or a Contact parameter) */
    h = hx;
    t = hdr_text(m, h, pc);
    PUT(t.p != NULL, t.p, t.e - t.p, h ? h->value_off : 0, h ? h->value_len : 0);

    /* 16: status code, responses only */
    if (!m->is_request)
        PUT(m->status.p != NULL, m->status.p, m->status.n, (size_t)(m->status.p - m->buf),
            m->status.n);
#undef PUT
#undef FIND
    /* within the room made above: sets the length and the NUL, never reallocates */
    g_string_set_size(b, (gsize)(w - start));
    if (want_items)
        pc->k = k;
}

static void free_pieces(pieces *pc)
{
    for (unsigned i = 0; i < pc->nheap; i++)
        g_free(pc->heap[i]);
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

/* The item names, in buffer order for version 3 and above; the 13-item layout leaves out
 * "To URI" and the PAI URIs. */
static const char *const names3[] = {
    "Scheme", "Salt", "Sequence number", "Realm", "Target name", "Call-ID", "CSeq number",
    "CSeq method", "From URI", "From tag", "To URI", "To tag", "PAI sip URI", "PAI tel URI",
    "Expires", "Status code",
};
static const char *const names2[] = {
    "Scheme", "Salt", "Sequence number", "Realm", "Target name", "Call-ID", "CSeq number",
    "CSeq method", "From URI", "From tag", "To tag", "Expires", "Status code",
};

/* One sigbuf_item per item: its place in the buffer and, when its bytes occur verbatim where it
 * was taken from, in the message (items 1-5: as their parameter, see locate_param; the others:
 * the first occurrence in their header's value). */
static void record_items(const sip_msg *m, const sigbuf_auth *a, unsigned version,
                         const pieces *pc, GArray *items)
{
    static const char *const p1[5] = { NULL, "crand", "cnum", "realm", "targetname" };
    static const char *const p2[5] = { NULL, "srand", "snum", NULL, NULL };
    const char *const *names = version >= 3 ? names3 : names2;
    size_t off = 0;
    for (unsigned i = 0; i < pc->k; i++) {
        const char *v = pc->v[i].p;
        size_t n = pc->v[i].n;
        sigbuf_item it = { names[i], off + 1, v ? n : 0, v != NULL, 0, 0 };
        off += n + 2;
        if (!v || !n)
            ;
        else if (i < 5) {
            size_t roff = a->hdr_off, rlen = a->hdr_len;
            if (roff <= m->len && rlen <= m->len - roff) {
                size_t at = locate_param(m, roff, rlen, p1[i], v, n);
                if (at == (size_t)-1 && p2[i])
                    at = locate_param(m, roff, rlen, p2[i], v, n);
                if (at != (size_t)-1) {
                    it.in_msg = 1;
                    it.msg_off = at;
                }
            }
        } else {
            size_t roff = pc->roff[i], rlen = pc->rlen[i];
            if (roff <= m->len && rlen <= m->len - roff) {
                for (size_t j = roff; j + n <= roff + rlen; j++)
                    if (memcmp(m->buf + j, v, n) == 0) {
                        it.in_msg = 1;
                        it.msg_off = j;
                        break;
                    }
            }
        }
        g_array_append_val(items, it);
    }
}

GString *sigbuf_build(const sip_msg *m, const sigbuf_auth *a, unsigned version)
{
    GString *b = g_string_sized_new(256);
    sigbuf_build_into(m, a, version, b);
    return b;
}

void sigbuf_build_into(const sip_msg *m, const sigbuf_auth *a, unsigned version, GString *b)
{
    pieces pc;
    build(m, a, version, b, 0, &pc);
    if (pc.nheap)
        free_pieces(&pc);
}

GString *sigbuf_build_items(const sip_msg *m, const sigbuf_auth *a, unsigned version,
                            GArray *items)
{
    pieces pc;
    GString *b = g_string_sized_new(256);
    build(m, a, version, b, 1, &pc);
    record_items(m, a, version, &pc, items);
    free_pieces(&pc);
    return b;
}
