/* authp.c - MS-SIPAE auth-parameter parser ([MS-SIPAE] 2.2.1-2.2.4, RFC 3261 §25.1 LWS,
 * token and quoted-string). */
#include "sigbuf/authp.h"
#include "sigbuf/bytes.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static int is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* RFC 3261 token characters (sip_msg.h's table, shared with the start-line parser). */
static inline int is_token_char(char c)
{
    return sip_is_token_char(c);
}

/* Index of the first byte of p[i, n) that is not a token character, or n: four bytes per bounds
 * check. */
static inline __attribute__((always_inline)) size_t scan_token(const char *p, size_t i, size_t n)
{
    while (n - i >= 4) {
        if (!is_token_char(p[i]))
            return i;
        if (!is_token_char(p[i + 1]))
            return i + 1;
        if (!is_token_char(p[i + 2]))
            return i + 2;
        if (!is_token_char(p[i + 3]))
            return i + 3;
        i += 4;
    }
    while (i < n && is_token_char(p[i]))
        i++;
    return i;
}

/* Byte classes for next_param's loops: blanks and line ends (LWS), ',' and '"'. */
enum { C_LWS = 1, C_COMMA = 2, C_QUOTE = 4 };
static const unsigned char cls_tab[256] = {
    [' '] = C_LWS, ['\t'] = C_LWS, ['\r'] = C_LWS, ['\n'] = C_LWS, [','] = C_COMMA, ['"'] = C_QUOTE,
};

static inline int cls(char c)
{
    return cls_tab[(unsigned char)c];
}

static inline void skip_lws(authp_cursor *c)
{
    while (c->off < c->n && is_lws(c->p[c->off]))
        c->off++;
}

/* Index of the first '"' or '\\' in p[i, n), or n: eight bytes at a time (a quoted value is
 * most of a header: the hex response, the base64 gssapi-data). */
static inline size_t find_quote_or_bs(const char *p, size_t i, size_t n)
{
#ifdef __SSE2__
    /* sixteen bytes at a time where SSE2 is there (every x86-64) */
    const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)));
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    const guint64 ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (i + 8 <= n) {
        guint64 w;
        memcpy(&w, p + i, 8);
        guint64 q = w ^ 0x2222222222222222ull, b = w ^ 0x5c5c5c5c5c5c5c5cull;
        /* a byte of q or b is zero where w holds '"' or '\\'; the lowest flagged byte is exact */
        guint64 hit = ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs);
        if (hit) {
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
            return i + (size_t)(__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
        i += 8;
    }
    while (i < n && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

static int fail(authp_cursor *c, const char *why)
{
    c->why = why;
    c->err_off = c->off;
    c->off = c->n;
    return AUTHP_ERR;
}

static inline __attribute__((always_inline)) int begin(authp_cursor *c, const char *v, size_t n,
                                                       slice *scheme)
{
    c->p = v;
    c->n = n;
    c->off = 0;
    c->why = NULL;
    c->err_off = 0;
    skip_lws(c);
    size_t s = c->off;
    c->off = scan_token(v, s, n);
    if (c->off == s)
        return fail(c, "no authentication scheme");
    scheme->p = v + s;
    scheme->n = c->off - s;
    if (c->off < n && !is_lws(v[c->off]))
        return fail(c, "invalid character after the scheme");
    return AUTHP_OK;
}

int authp_begin(authp_cursor *c, const char *v, size_t n, slice *scheme)
{
    return begin(c, v, n, scheme);
}

/* authp_next; *esc is set to 1 when a quoted value holds a quoted-pair (a backslash). The
 * cursor is read into locals and written back once (bytes read through p could alias it). */
static inline __attribute__((always_inline)) int next_param(authp_cursor *c, slice *name,
                                                            slice *value, int *esc)
{
    if (c->why)
        return AUTHP_ERR;
    const char *p = c->p;
    const size_t n = c->n;
    size_t off = c->off;
    /* blanks, and commas between parameters (empty list elements tolerated) */
    while (off < n && (cls(p[off]) & (C_LWS | C_COMMA)))
        off++;
    if (off >= n) {
        c->off = off;
        return AUTHP_EOF;
    }
    size_t s = off;
    off = scan_token(p, off, n);
    if (off == s)
        goto invalid_name;
    name->p = p + s;
    name->n = off - s;
    while (off < n && (cls(p[off]) & C_LWS))
        off++;
    if (off >= n || p[off] != '=')
        goto no_equal;
    off++;
    while (off < n && (cls(p[off]) & C_LWS))
        off++;
    s = off;
    *esc = 0;
    if (off < n && p[off] == '"') {
        off++;
        /* from quote or backslash to the next: the bytes between are the string's own */
        for (;;) {
            off = find_quote_or_bs(p, off, n);
            if (off >= n)
                goto unterminated;
            if (p[off] == '\\') {
                if (off + 1 >= n)
                    goto unterminated;
                *esc = 1;
                off += 2;
                continue;
            }
            off++; /* the closing quote */
            break;
        }
    } else {
        while (off < n && !cls(p[off]))
            off++;
    }
    value->p = p + s;
    value->n = off - s;
    while (off < n && (cls(p[off]) & C_LWS))
        off++;
    c->off = off;
    if (off < n && p[off] != ',')
        return fail(c, "garbage after a parameter value");
    return AUTHP_OK;
invalid_name:
    c->off = off;
    return fail(c, "invalid character where a parameter name was expected");
no_equal:
    c->off = off;
    return fail(c, "parameter without '='");
unterminated:
    c->off = off;
    return fail(c, "unterminated quoted string");
}

int authp_next(authp_cursor *c, slice *name, slice *value)
{
    int esc;
    return next_param(c, name, value, &esc);
}

static const struct {
    const char *name;
    size_t len;
} known[AUTHP_K_COUNT] = {
    [AUTHP_K_REALM] = { "realm", 5 },
    [AUTHP_K_TARGETNAME] = { "targetname", 10 },
    [AUTHP_K_OPAQUE] = { "opaque", 6 },
    [AUTHP_K_VERSION] = { "version", 7 },
    [AUTHP_K_GSSAPI_DATA] = { "gssapi-data", 11 },
    [AUTHP_K_QOP] = { "qop", 3 },
    [AUTHP_K_CRAND] = { "crand", 5 },
    [AUTHP_K_SRAND] = { "srand", 5 },
    [AUTHP_K_CNUM] = { "cnum", 4 },
    [AUTHP_K_SNUM] = { "snum", 4 },
    [AUTHP_K_RESPONSE] = { "response", 8 },
    [AUTHP_K_RSPAUTH] = { "rspauth", 7 },
    [AUTHP_K_STS_URI] = { "sts-uri", 7 },
};

/* The known parameters whose name has a given length (at most 3; -1 ends the list). */
static const signed char known_by_len[12][3] = {
    [0] = { -1 }, [1] = { -1 }, [2] = { -1 }, [9] = { -1 },
    [3] = { AUTHP_K_QOP, -1 },
    [4] = { AUTHP_K_CNUM, AUTHP_K_SNUM, -1 },
    [5] = { AUTHP_K_REALM, AUTHP_K_CRAND, AUTHP_K_SRAND },
    [6] = { AUTHP_K_OPAQUE, -1 },
    [7] = { AUTHP_K_VERSION, AUTHP_K_RSPAUTH, AUTHP_K_STS_URI },
    [8] = { AUTHP_K_RESPONSE, -1 },
    [10] = { AUTHP_K_TARGETNAME, -1 },
    [11] = { AUTHP_K_GSSAPI_DATA, -1 },
};

/* The one candidate for a name of length n whose first letter has low five bits c & 31, plus
 * one (0: none): with the length, the first letter tells every known name apart. */
#define KC(n, c) [n][(c) & 31]
static const unsigned char known_cand[12][32] = {
    KC(5, 'r') = AUTHP_K_REALM + 1,
    KC(10, 't') = AUTHP_K_TARGETNAME + 1,
    KC(6, 'o') = AUTHP_K_OPAQUE + 1,
    KC(7, 'v') = AUTHP_K_VERSION + 1,
    KC(11, 'g') = AUTHP_K_GSSAPI_DATA + 1,
    KC(3, 'q') = AUTHP_K_QOP + 1,
    KC(5, 'c') = AUTHP_K_CRAND + 1,
    KC(5, 's') = AUTHP_K_SRAND + 1,
    KC(4, 'c') = AUTHP_K_CNUM + 1,
    KC(4, 's') = AUTHP_K_SNUM + 1,
    KC(8, 'r') = AUTHP_K_RESPONSE + 1,
    KC(7, 'r') = AUTHP_K_RSPAUTH + 1,
    KC(7, 's') = AUTHP_K_STS_URI + 1,
};
#undef KC

/* authp_known_index, inlined into the parser (once per parameter). */
static inline __attribute__((always_inline)) int known_index(const char *name, size_t n)
{
    if (n == 0 || n >= G_N_ELEMENTS(known_by_len))
        return -1;
    if (n >= 4) {
        /* every known name starts with a letter: a first byte of another kind can share its
         * low five bits only to fail the full comparison below */
        int k = (int)known_cand[n][(unsigned char)name[0] & 31] - 1;
        if (k < 0)
            return -1;
        const char *kn = known[k].name;
        if (n < 8)
            return eq4(ld4(name), ld4(kn)) && eq4(ld4(name + n - 4), ld4(kn + n - 4)) ? k : -1;
        return eq8(ld8(name), ld8(kn)) && eq8(ld8(name + n - 8), ld8(kn + n - 8)) ? k : -1;
    }
    if (n < 4) { /* qop */
        char c0 = ascii_lc(name[0]);
        for (int j = 0; j < 3 && known_by_len[n][j] >= 0; j++) {
            int k = known_by_len[n][j];
            if (known[k].name[0] != c0)
                continue;
            size_t i = 1;
            while (i < n && ascii_lc(name[i]) == known[k].name[i])
                i++;
            if (i == n)
                return k;
        }
        return -1;
    }
    /* two loads that cover the n bytes (overlapping when n is not 8 or 16) */
    if (n < 8) {
        guint32 a = ld4(name), b = ld4(name + n - 4);
        for (int j = 0; j < 3 && known_by_len[n][j] >= 0; j++) {
            const char *kn = known[known_by_len[n][j]].name;
            if (eq4(a, ld4(kn)) && eq4(b, ld4(kn + n - 4)))
                return known_by_len[n][j];
        }
        return -1;
    }
    guint64 a = ld8(name), b = ld8(name + n - 8);
    for (int j = 0; j < 3 && known_by_len[n][j] >= 0; j++) {
        const char *kn = known[known_by_len[n][j]].name;
        if (eq8(a, ld8(kn)) && eq8(b, ld8(kn + n - 8)))
            return known_by_len[n][j];
    }
    return -1;
}

int authp_known_index(const char *name, size_t n)
{
    return known_index(name, n);
}

int authp_is_known(const char *name)
{
    return authp_known_index(name, strlen(name)) >= 0;
}

/* authp_unquote into out (room for v.n + 1 bytes); returns the length written before the NUL.
 * esc: 0 when a quoted v is known to hold no backslash (next_param said so). */
static inline __attribute__((always_inline)) size_t unquote_to(char *out, slice v, int esc,
                                                                 int *was_quoted)
{
    if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"') {
        *was_quoted = 1;
        if (!esc) { /* no quoted-pair: the bytes between the quotes */
            copy_short(out, v.p + 1, v.n - 2);
            out[v.n - 2] = 0;
            return v.n - 2;
        }
        size_t o = 0;
        for (size_t i = 1; i + 1 < v.n; i++) {
            if (v.p[i] == '\\' && i + 2 < v.n)
                i++;
            out[o++] = v.p[i];
        }
        out[o] = 0;
        return o;
    }
    *was_quoted = 0;
    copy_short(out, v.p, v.n);
    out[v.n] = 0;
    return v.n;
}

char *authp_unquote(slice v, int *was_quoted)
{
    char *out = g_malloc(v.n + 1);
    int q;
    unquote_to(out, v, 1, &q);
    if (was_quoted)
        *was_quoted = q;
    return out;
}

/* Known parameter k with value val: the header's first one, or a duplicate named in *dups
 * (", "-separated, made on the first). */
static inline void take_first(authp_header *h, int k, const char *val, GString **dups)
{
    if (h->first[k]) {
        if (!*dups)
            *dups = g_string_new(NULL);
        else
            g_string_append(*dups, ", ");
        g_string_append(*dups, known[k].name);
    } else {
        h->first[k] = val;
    }
}

/* A known name followed at once by '=' (the usual parameter), matched by words: each entry
 * holds name + "=" as little-endian words, compared as eq8 does: w0 its bytes 0-7 (m0 masks
 * off what lies past the '=' when it is shorter), w1 its last 8 bytes when it is longer. */
typedef struct {
    guint64 w0, m0, w1; /* w1: bytes len + 1 - 8 .. len of name + "=" (len + 1 > 8 only) */
    unsigned char len, k; /* the name's length, its authp_known_param */
} fast_name;

#define W8(a, b, c, d, e, f, g, h)                                                          \
    ((guint64)(unsigned char)(a) | (guint64)(unsigned char)(b) << 8 |                       \
     (guint64)(unsigned char)(c) << 16 | (guint64)(unsigned char)(d) << 24 |                \
     (guint64)(unsigned char)(e) << 32 | (guint64)(unsigned char)(f) << 40 |                \
     (guint64)(unsigned char)(g) << 48 | (guint64)(unsigned char)(h) << 56)
#define M(n) (~0ull >> (8 * (8 - (n)))) /* n = 1..8: the low n bytes */
static const fast_name fast_known[AUTHP_K_COUNT] = {
    [AUTHP_K_REALM] = { W8('r', 'e', 'a', 'l', 'm', '=', 0, 0), M(6), 0, 5, AUTHP_K_REALM },
    [AUTHP_K_TARGETNAME] = { W8('t', 'a', 'r', 'g', 'e', 't', 'n', 'a'), M(8),
                             W8('g', 'e', 't', 'n', 'a', 'm', 'e', '='), 10, AUTHP_K_TARGETNAME },
    [AUTHP_K_OPAQUE] = { W8('o', 'p', 'a', 'q', 'u', 'e', '=', 0), M(7), 0, 6, AUTHP_K_OPAQUE },
    [AUTHP_K_VERSION] = { W8('v', 'e', 'r', 's', 'i', 'o', 'n', '='), M(8), 0, 7, AUTHP_K_VERSION },
    [AUTHP_K_GSSAPI_DATA] = { W8('g', 's', 's', 'a', 'p', 'i', '-', 'd'), M(8),
                              W8('a', 'p', 'i', '-', 'd', 'a', 't', 'a') >> 8 |
                                  (guint64)'=' << 56, 11, AUTHP_K_GSSAPI_DATA },
    [AUTHP_K_QOP] = { W8('q', 'o', 'p', '=', 0, 0, 0, 0), M(4), 0, 3, AUTHP_K_QOP },
    [AUTHP_K_CRAND] = { W8('c', 'r', 'a', 'n', 'd', '=', 0, 0), M(6), 0, 5, AUTHP_K_CRAND },
    [AUTHP_K_SRAND] = { W8('s', 'r', 'a', 'n', 'd', '=', 0, 0), M(6), 0, 5, AUTHP_K_SRAND },
    [AUTHP_K_CNUM] = { W8('c', 'n', 'u', 'm', '=', 0, 0, 0), M(5), 0, 4, AUTHP_K_CNUM },
    [AUTHP_K_SNUM] = { W8('s', 'n', 'u', 'm', '=', 0, 0, 0), M(5), 0, 4, AUTHP_K_SNUM },
    [AUTHP_K_RESPONSE] = { W8('r', 'e', 's', 'p', 'o', 'n', 's', 'e'), M(8),
                           W8('e', 's', 'p', 'o', 'n', 's', 'e', '='), 8, AUTHP_K_RESPONSE },
    [AUTHP_K_RSPAUTH] = { W8('r', 's', 'p', 'a', 'u', 't', 'h', '='), M(8), 0, 7, AUTHP_K_RSPAUTH },
    [AUTHP_K_STS_URI] = { W8('s', 't', 's', '-', 'u', 'r', 'i', '='), M(8), 0, 7, AUTHP_K_STS_URI },
};
#undef M
#undef W8

/* The known names by a hash of their first and third letters (low five bits of each): no two
 * share one. Entry: the known parameter plus one, 0 for none. */
#define FH(a, c) [(((a) & 31) * 2 + ((c) & 31)) & 63]
static const unsigned char fast_by_hash[64] = {
    FH('r', 'a') = AUTHP_K_REALM + 1,       FH('t', 'r') = AUTHP_K_TARGETNAME + 1,
    FH('o', 'a') = AUTHP_K_OPAQUE + 1,      FH('v', 'r') = AUTHP_K_VERSION + 1,
    FH('g', 's') = AUTHP_K_GSSAPI_DATA + 1, FH('q', 'p') = AUTHP_K_QOP + 1,
    FH('c', 'a') = AUTHP_K_CRAND + 1,       FH('s', 'a') = AUTHP_K_SRAND + 1,
    FH('c', 'u') = AUTHP_K_CNUM + 1,        FH('s', 'u') = AUTHP_K_SNUM + 1,
    FH('r', 's') = AUTHP_K_RESPONSE + 1,    FH('r', 'p') = AUTHP_K_RSPAUTH + 1,
    FH('s', 's') = AUTHP_K_STS_URI + 1,
};
#undef FH

/* The known parameter whose name, followed at once by '=', starts at p (avail >= 8 bytes
 * readable), or -1. Where it is one, next_param would read the same name (the token ends at the '=',
 * which is no token character) and known_index would give the same k. The one candidate
 * comes from the hash; bytes that are not letters may hash like letters only to fail the
 * comparison (eq8: a letter of the name matches only itself in either case, '-' and '='
 * only themselves). */
static inline int fast_known_name(const char *p, size_t avail, size_t *len)
{
    guint64 x = ld8(p); /* bytes 0-7, p[0] the lowest */
    int c = fast_by_hash[((x & 31) * 2 + ((x >> 16) & 31)) & 63];
    if (!c)
        return -1;
    const fast_name *f = &fast_known[c - 1];
    if (!eq8(x & f->m0, f->w0))
        return -1;
    if (f->len + 1 > 8 && (avail < f->len + 1u || !eq8(ld8(p + f->len + 1 - 8), f->w1)))
        return -1;
    *len = f->len;
    return f->k;
}

/* Parameters are gathered on the stack and appended to h->params this many at a time. */
#define AUTHP_BATCH 24

/* The parser; st NULL: storage of the header's own. others_only: h->params gets only the
 * parameters [MS-SIPAE] does not define (the known ones are in h->first), and a known
 * parameter's name is not copied (authp_parse_others). */
static inline __attribute__((always_inline)) int parse(const char *v, size_t n, authp_header *h,
                                                       authp_store *st, const int others_only)
{
    memset(h, 0, sizeof *h);
    authp_cursor c;
    slice scheme, name, value;
    if (st) {
        h->borrowed = 1;
        if (!st->params)
            st->params = g_array_sized_new(FALSE, TRUE, sizeof(authp_param), 2 * AUTHP_BATCH);
        g_array_set_size(st->params, 0); /* a shrink: no clear function, nothing zeroed */
    }
    if (begin(&c, v, n, &scheme) != AUTHP_OK) {
        h->params = st ? st->params : g_array_sized_new(FALSE, TRUE, sizeof(authp_param), 16);
        h->error = g_strdup(c.why);
        return -1;
    }
    /* The scheme, the names and the raw values are disjoint parts of v (at most n bytes), each
     * copied with one NUL; every parameter takes at least 2 bytes of v ("a="), so there are at
     * most n / 2 of them: 2n + 2 bytes always suffice. */
    char *ar;
    if (st) {
        if (st->cap < 2 * n + 2) {
            g_free(st->arena);
            st->cap = MAX(2 * n + 2, (size_t)512);
            st->arena = g_malloc(st->cap);
        }
        ar = h->arena = st->arena;
        h->params = st->params;
    } else {
        ar = h->arena = g_malloc(2 * n + 2);
    }
    char *end = ar + 2 * n + 2;
    h->scheme = ar;
    copy_short(ar, scheme.p, scheme.n);
    ar[scheme.n] = 0;
    ar += scheme.n + 1;
    int rc, esc;
    GString *dups = NULL;
    authp_param batch[AUTHP_BATCH];
    guint nb = 0;
    for (;;) {
        if (others_only) {
            /* The usual parameter, a known name, '=' and a value that needs no unescaping,
             * read here without the general cursor: the value is copied while it is
             * scanned. Anything else (and any error) is left to next_param from the start
             * of the parameter, which then reads it as it always did. */
            size_t off = c.off;
            while (off < n && (cls(v[off]) & (C_LWS | C_COMMA)))
                off++;
        next_fast:
            c.off = off; /* next_param would skip the same bytes */
            size_t len;
            int k;
            if (n - off < 8 || (k = fast_known_name(v + off, n - off, &len)) < 0)
                goto general;
            size_t q = off + len + 1, vl, e; /* q: the value, q <= n */
            if (q < n && v[q] == '"') {
                q++;
                /* the 16-byte stores below end at most n - q bytes past ar */
                if ((size_t)(end - ar) <= n - q)
                    goto general;
#ifdef __SSE2__
                /* sixteen bytes at a time, the last load overlapping the one before (its bytes
                 * already scanned are shifted out of the mask); stores overlap the same way */
                if (n - q < 16)
                    goto general;
                size_t i = q;
                const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
                {
                    /* the first sixteen bytes: most values end in them */
                    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(v + i));
                    _mm_storeu_si128((__m128i *)(void *)ar, x);
                    unsigned mask = (unsigned)_mm_movemask_epi8(
                        _mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)));
                    if (mask) {
                        i += (size_t)__builtin_ctz(mask);
                        goto found;
                    }
                    i += 16;
                    if (i == n)
                        goto general;
                }
                for (;;) {
                    size_t b = n - i < 16 ? n - 16 : i; /* b >= q */
                    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(v + b));
                    _mm_storeu_si128((__m128i *)(void *)(ar + (b - q)), x);
                    unsigned mask = (unsigned)_mm_movemask_epi8(
                        _mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)));
                    mask >>= i - b;
                    if (mask) {
                        i += (size_t)__builtin_ctz(mask);
                        break;
                    }
                    i = b + 16;
                    if (i == n)
                        goto general; /* unterminated: next_param says so */
                }
            found:
#else
                goto general;
                size_t i = q;
#endif
                if (v[i] != '"')
                    goto general; /* a quoted-pair */
                vl = i - q;
                e = i + 1;
            } else {
                e = q;
                while (e < n && !cls(v[e]))
                    e++;
                vl = e - q;
                if ((size_t)(end - ar) <= vl)
                    goto general;
                copy_short(ar, v + q, vl);
            }
            ar[vl] = 0;
            if (n - e >= 3 && v[e] == ',' && v[e + 1] == ' ' && !cls(v[e + 2])) {
                /* the usual ", " before the next name */
                take_first(h, k, ar, &dups);
                ar += vl + 1;
                off = e + 2;
                goto next_fast;
            }
            while (e < n && (cls(v[e]) & C_LWS))
                e++;
            if (e < n && v[e] != ',')
                goto general; /* garbage after the value: next_param says so */
            take_first(h, k, ar, &dups);
            ar += vl + 1;
            c.off = e;
            continue;
        }
    general:
        if ((rc = next_param(&c, &name, &value, &esc)) != AUTHP_OK)
            break;
        if ((size_t)(end - ar) < name.n + value.n + 2) { /* cannot happen (see above) */
            c.why = "parameter storage exhausted";
            c.err_off = (size_t)(name.p - v);
            rc = AUTHP_ERR;
            break;
        }
        if (nb == AUTHP_BATCH) {
            if (!h->params)
                h->params = g_array_sized_new(FALSE, TRUE, sizeof(authp_param), 2 * AUTHP_BATCH);
            g_array_append_vals(h->params, batch, nb);
            nb = 0;
        }
        int k = known_index(name.p, name.n);
        if (others_only && k >= 0) { /* the value only, for h->first */
            int q;
            char *val = ar;
            ar += unquote_to(ar, value, esc, &q) + 1;
            take_first(h, k, val, &dups);
            continue;
        }
        authp_param *a = &batch[nb++];
        a->name = ar;
        copy_short(ar, name.p, name.n);
        ar[name.n] = 0;
        ar += name.n + 1;
        a->value = ar;
        ar += unquote_to(ar, value, esc, &a->quoted) + 1;
        a->known = k;
        if (k >= 0)
            take_first(h, k, a->value, &dups);
    }
    /* the usual header: one allocation of the right size, one append */
    if (!h->params)
        h->params = g_array_sized_new(FALSE, TRUE, sizeof(authp_param), nb);
    if (nb)
        g_array_append_vals(h->params, batch, nb);
    if (dups)
        h->dups = g_string_free(dups, FALSE);
    if (rc == AUTHP_ERR) {
        h->error = g_strdup_printf("%s at offset %zu", c.why, c.err_off);
        return -1;
    }
    return 0;
}

/* authp_parse and authp_parse_with share one copy of the parser (neither is on the hot path:
 * ahdr uses authp_parse_others). */
static __attribute__((noinline)) int parse_all(const char *v, size_t n, authp_header *h,
                                               authp_store *st)
{
    return parse(v, n, h, st, 0);
}

int authp_parse(const char *v, size_t n, authp_header *h)
{
    return parse_all(v, n, h, NULL);
}

int authp_parse_with(const char *v, size_t n, authp_header *h, authp_store *st)
{
    return parse_all(v, n, h, st);
}

int authp_parse_others(const char *v, size_t n, authp_header *h, authp_store *st)
{
    return parse(v, n, h, st, 1);
}

void authp_store_free(authp_store *st)
{
    g_free(st->arena);
    if (st->params)
        g_array_free(st->params, TRUE);
    memset(st, 0, sizeof *st);
}

void authp_header_clear(authp_header *h)
{
    if (!h->borrowed) {
        g_free(h->arena);
        if (h->params)
            g_array_free(h->params, TRUE);
    }
    g_free(h->error);
    g_free(h->dups);
    memset(h, 0, sizeof *h);
}

const char *authp_get_known(const authp_header *h, int k)
{
    if (!h->params || k < 0 || k >= AUTHP_K_COUNT)
        return NULL;
    return h->first[k];
}

const char *authp_get(const authp_header *h, const char *name)
{
    if (!h->params)
        return NULL;
    int k = authp_known_index(name, strlen(name));
    if (k >= 0)
        return h->first[k];
    for (guint i = 0; i < h->params->len; i++) {
        const authp_param *a = &g_array_index(h->params, authp_param, i);
        if (g_ascii_strcasecmp(a->name, name) == 0)
            return a->value;
    }
    return NULL;
}
