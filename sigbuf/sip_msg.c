/* sip_msg.c - start line and header access for one SIP message (RFC 3261 §7, §25). */
#include "sigbuf/sip_msg.h"
#include "sigbuf/bytes.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* RFC 3261 token characters: alphanumerics and -.!%*_+`'~ (a table: this runs per byte).
 * NUL counts too, as it did with strchr of the set (which found its terminator). */
const unsigned char sip_token_tab[256] = {
    [0] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1, ['`'] = 1,
    ['\''] = 1, ['~'] = 1,
};

static inline int is_token_char(char c)
{
    return sip_is_token_char(c);
}

static int parse_start_line(sip_msg *m, size_t end, const char **why)
{
    const char *s = m->buf;
    if (end >= 8 && memcmp(s, "SIP/2.0 ", 8) == 0) {
        size_t i = 8;
        while (i < end && s[i] == ' ')
            i++;
        if (i + 3 > end || !g_ascii_isdigit(s[i]) || !g_ascii_isdigit(s[i + 1]) ||
            !g_ascii_isdigit(s[i + 2]) || (i + 3 < end && s[i + 3] != ' ')) {
            *why = "status line without a three-digit status code";
            return -1;
        }
        m->is_request = 0;
        m->status.p = s + i;
        m->status.n = 3;
        m->status_code = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        return 0;
    }
    size_t i = 0;
    while (i < end && is_token_char(s[i]))
        i++;
    if (i == 0 || i >= end || s[i] != ' ') {
        *why = "not a SIP request or status line";
        return -1;
    }
    /* Request-Line = Method SP Request-URI SP SIP-Version */
    /* the usual line ends in " SIP/2.0" with no NUL before it: g_strstr_len (which stops at a
     * NUL) would find one; anything else is left to it */
    const char *ver = NULL;
    if (end - i >= 8 && memcmp(s + end - 8, " SIP/2.0", 8) == 0 && !memchr(s + i, 0, end - 8 - i))
        ver = s + end - 8;
    else
        ver = g_strstr_len(s + i, (gssize)(end - i), " SIP/2.0");
    if (!ver) {
        *why = "request line without SIP/2.0";
        return -1;
    }
    m->is_request = 1;
    m->method.p = s;
    m->method.n = i;
    return 0;
}

/* Full (lower-case) name and compact letter (0: none) of each kind. */
static const struct {
    const char *name;
    char compact;
} hk_info[SIP_HK_COUNT] = {
    [SIP_HK_OTHER] = { "", 0 },
    [SIP_HK_WWW_AUTHENTICATE] = { "www-authenticate", 0 },
    [SIP_HK_PROXY_AUTHENTICATE] = { "proxy-authenticate", 0 },
    [SIP_HK_AUTHORIZATION] = { "authorization", 0 },
    [SIP_HK_PROXY_AUTHORIZATION] = { "proxy-authorization", 0 },
    [SIP_HK_AUTHENTICATION_INFO] = { "authentication-info", 0 },
    [SIP_HK_PROXY_AUTHENTICATION_INFO] = { "proxy-authentication-info", 0 },
    [SIP_HK_CALL_ID] = { "call-id", 'i' },
    [SIP_HK_CSEQ] = { "cseq", 0 },
    [SIP_HK_FROM] = { "from", 'f' },
    [SIP_HK_TO] = { "to", 't' },
    [SIP_HK_VIA] = { "via", 'v' },
    [SIP_HK_P_ASSERTED_IDENTITY] = { "p-asserted-identity", 0 },
    [SIP_HK_P_PREFERRED_IDENTITY] = { "p-preferred-identity", 0 },
    [SIP_HK_EXPIRES] = { "expires", 0 },
};

/* The kind whose full name (2 bytes or more) has length n and a first letter with low five bits
 * c & 31 (SIP_HK_OTHER: none); with the length, the first letter tells the names apart but for
 * proxy-authorization / p-asserted-identity (sip_hk_classify). A first byte that is not a letter
 * may share the five bits only to fail the comparison. */
#define HC(n, c) [n][(c) & 31]
static const unsigned char hk_cand[26][32] = {
    HC(1, 'i') = SIP_HK_CALL_ID, /* the compact forms */
    HC(1, 'f') = SIP_HK_FROM,
    HC(1, 't') = SIP_HK_TO,
    HC(1, 'v') = SIP_HK_VIA,
    HC(2, 't') = SIP_HK_TO,
    HC(3, 'v') = SIP_HK_VIA,
    HC(4, 'f') = SIP_HK_FROM,
    HC(4, 'c') = SIP_HK_CSEQ,
    HC(7, 'c') = SIP_HK_CALL_ID,
    HC(7, 'e') = SIP_HK_EXPIRES,
    HC(13, 'a') = SIP_HK_AUTHORIZATION,
    HC(16, 'w') = SIP_HK_WWW_AUTHENTICATE,
    HC(18, 'p') = SIP_HK_PROXY_AUTHENTICATE,
    HC(19, 'p') = SIP_HK_PROXY_AUTHORIZATION, /* or p-asserted-identity */
    HC(19, 'a') = SIP_HK_AUTHENTICATION_INFO,
    HC(20, 'p') = SIP_HK_P_PREFERRED_IDENTITY,
    HC(25, 'p') = SIP_HK_PROXY_AUTHENTICATION_INFO,
};
#undef HC

/* eq_lower for n >= 4 and a lower made of letters and '-' only (the hk_info names): a few
 * word compares, the last one overlapping. */
static inline int eq_lower_words(const char *p, const char *lower, size_t n)
{
    if (n < 8)
        return eq4(ld4(p), ld4(lower)) && eq4(ld4(p + n - 4), ld4(lower + n - 4));
    size_t i = 0;
    for (; i + 8 < n; i += 8)
        if (!eq8(ld8(p + i), ld8(lower + i)))
            return 0;
    return eq8(ld8(p + n - 8), ld8(lower + n - 8));
}

/* sip_hk_classify, inlined into the parser (once per header). */
static inline __attribute__((always_inline)) sip_hk hk_classify(const char *p, size_t n, int *compact)
{
    sip_hk k = SIP_HK_OTHER;
    int c = 0;
    /* the one candidate of this length and first letter (19 'p' has two: the second byte
     * tells them apart), then one comparison */
    int i = n >= 1 && n < G_N_ELEMENTS(hk_cand) ? hk_cand[n][(unsigned char)p[0] & 31] : 0;
    if (i) {
        if (n >= 4) {
            if (i == SIP_HK_PROXY_AUTHORIZATION && p[1] == '-')
                i = SIP_HK_P_ASSERTED_IDENTITY;
            if (eq_lower_words(p, hk_info[i].name, n))
                k = (sip_hk)i;
        } else if (n == 1) {
            /* i, f, t, v: a letter matches as the byte with the 0x20 bit set */
            if ((char)(p[0] | 0x20) == hk_info[i].compact) {
                k = (sip_hk)i;
                c = 1;
            }
        } else {
            /* to, via: their bytes are all letters, matched the same way */
            if ((char)(p[0] | 0x20) == hk_info[i].name[0] &&
                (char)(p[1] | 0x20) == hk_info[i].name[1] &&
                (n == 2 || (char)(p[2] | 0x20) == hk_info[i].name[2]))
                k = (sip_hk)i;
        }
    }
    if (compact)
        *compact = c;
    return k;
}

sip_hk sip_hk_classify(const char *p, size_t n, int *compact)
{
    return hk_classify(p, n, compact);
}

/* Index of the first c in p[i, n), or n: sixteen (SSE2) or eight bytes at a time (a header name is short: the
 * call to memchr would cost more than the scan). */
static inline __attribute__((always_inline)) size_t find_byte(const char *p, size_t i, size_t n,
                                                              char c)
{
#ifdef __SSE2__
    const __m128i pc = _mm_set1_epi8(c);
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, pc));
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    const guint64 ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const guint64 pat = ones * (unsigned char)c;
    while (n - i >= 8) {
        guint64 w = ld8(p + i) ^ pat;
        guint64 hit = (w - ones) & ~w & highs; /* the lowest flagged byte is exact */
        if (hit)
            return i + (size_t)(__builtin_ctzll(hit) >> 3);
        i += 8;
    }
#endif
    while (i < n && p[i] != c)
        i++;
    return i;
}

/* Headers m->hdrs has room for before it grows (the usual message has fewer). */
#define SIP_HDR_BATCH 24

static int parse(const char *buf, size_t len, sip_msg *m, const char **why);

int sip_msg_parse(const char *buf, size_t len, sip_msg *m, const char **why)
{
    memset(m, 0, sizeof *m);
    return parse(buf, len, m, why);
}

int sip_msg_parse_with(const char *buf, size_t len, sip_msg *m, GArray *hdrs, const char **why)
{
    memset(m, 0, sizeof *m);
    m->hdrs = hdrs; /* sized by parse (emptied when it stops before the headers) */
    m->hdrs_borrowed = 1;
    return parse(buf, len, m, why);
}

/* End of the line starting at off (before its CRLF or LF; len when none) and *next, the start
 * of the next line. find_byte inline, not memchr: a header line is short, and a library call
 * per line cost more than its scan (issue 10). */
static inline size_t line_end(const char *buf, size_t len, size_t off, size_t *next)
{
    size_t e = find_byte(buf, off, len, '\n');
    if (e == len) {
        *next = len;
        return len;
    }
    *next = e + 1;
    if (e > off && buf[e - 1] == '\r')
        e--;
    return e;
}

static int parse(const char *buf, size_t len, sip_msg *m, const char **why)
{
    m->buf = buf;
    m->len = len;
    if (!buf || len == 0) {
        *why = "empty message";
        goto no_headers;
    }
    size_t next;
    size_t end = line_end(buf, len, 0, &next);
    if (parse_start_line(m, end, why) < 0)
        goto no_headers;
    /* the headers are written into m->hdrs in place: it is sized to SIP_HDR_BATCH (room for
     * the usual message; a reused array has it already), doubled when full, and its length set
     * to the count at the end */
    if (!m->hdrs)
        m->hdrs = g_array_sized_new(FALSE, FALSE, sizeof(sip_hdr), SIP_HDR_BATCH);
    GArray *ha = m->hdrs;
    guint cap = SIP_HDR_BATCH, total = 0;
    g_array_set_size(ha, cap);
    sip_hdr *hv = (sip_hdr *)(void *)ha->data;
    m->hdr_end = len;
    size_t off = next;
    sip_hdr *cur = NULL;
    while (off < len) {
        size_t nl;
        size_t e = line_end(buf, len, off, &nl);
        if (e == off) { /* blank line: end of headers */
            m->hdr_end = nl;
            m->complete = 1;
            break;
        }
        if ((buf[off] == ' ' || buf[off] == '\t') && cur) {
            /* continuation of the previous header (folding) */
            cur->line_len = nl - cur->line_off;
            cur->value_len = e - cur->value_off;
            cur->folded = 1;
        } else {
            size_t ci = find_byte(buf, off, e, ':');
            const char *colon = ci < e ? buf + ci : NULL;
            if (!colon) {
                m->bad_lines++;
                cur = NULL;
            } else {
                if (total == cap) { /* cur is replaced below: the array may move */
                    cap *= 2;
                    g_array_set_size(ha, cap);
                    hv = (sip_hdr *)(void *)ha->data;
                }
                sip_hdr *h = &hv[total++];
                size_t ne = (size_t)(colon - buf);
                if (ne > off && (buf[ne - 1] == ' ' || buf[ne - 1] == '\t')) {
                    /* blanks before the colon (rare) */
                    do
                        ne--;
                    while (ne > off && (buf[ne - 1] == ' ' || buf[ne - 1] == '\t'));
                }
                h->name.p = buf + off;
                h->name.n = ne - off;
                h->line_off = off;
                h->line_len = nl - off;
                h->value_off = (size_t)(colon - buf) + 1;
                h->value_len = e - h->value_off;
                h->kind = hk_classify(h->name.p, h->name.n, &h->compact);
                h->folded = 0;
                if (h->kind != SIP_HK_OTHER && !m->first[h->kind])
                    m->first[h->kind] = total;
                cur = h;
            }
        }
        off = nl;
    }
    /* the elements past total own nothing (no clear function): a shrink only sets the length */
    g_array_set_size(ha, total);
    return 0;
no_headers:
    if (m->hdrs) /* a reused array: none of its old headers are this message's */
        g_array_set_size(m->hdrs, 0);
    return -1;
}

void sip_msg_clear(sip_msg *m)
{
    if (m->hdrs && !m->hdrs_borrowed)
        g_array_free(m->hdrs, TRUE);
    m->hdrs = NULL;
}

int sip_hdr_is(const sip_msg *m, const sip_hdr *h, const char *name, char compact)
{
    (void)m;
    if (compact && h->name.n == 1 && g_ascii_tolower(h->name.p[0]) == compact)
        return 1;
    size_t n = strlen(name);
    return h->name.n == n && eq_nocase_n(h->name.p, name, n);
}

const sip_hdr *sip_hdr_find(const sip_msg *m, const char *name, char compact)
{
    if (!m->hdrs)
        return NULL;
    int qc;
    sip_hk k = sip_hk_classify(name, strlen(name), &qc);
    if (k != SIP_HK_OTHER && !qc) {
        /* a known name: the kinds were found by sip_msg_parse */
        if (compact == hk_info[k].compact)
            return sip_hdr_find_kind(m, k);
        if (compact == 0) { /* the full name only, not the compact form */
            for (guint i = 0; i < m->hdrs->len; i++) {
                const sip_hdr *h = &g_array_index(m->hdrs, sip_hdr, i);
                if (h->kind == k && !h->compact)
                    return h;
            }
            return NULL;
        }
    }
    for (guint i = 0; i < m->hdrs->len; i++) {
        const sip_hdr *h = &g_array_index(m->hdrs, sip_hdr, i);
        if (sip_hdr_is(m, h, name, compact))
            return h;
    }
    return NULL;
}

char *sip_hdr_value(const sip_msg *m, const sip_hdr *h, size_t *len)
{
    slice sv;
    if (sip_hdr_value_slice(m, h, &sv)) { /* no folding: the trimmed bytes as they are */
        char *out = g_malloc(sv.n + 1);
        memcpy(out, sv.p, sv.n);
        out[sv.n] = 0;
        if (len)
            *len = sv.n;
        return out;
    }
    const char *v = m->buf + h->value_off;
    size_t n = h->value_len;
    GString *s = g_string_sized_new(n + 1);
    size_t i = 0;
    while (i < n) {
        char c = v[i];
        if (c == '\r' || c == '\n') {
            /* fold: trailing blanks of this line, the line end and leading blanks of the
             * next line become one space (RFC 3261 §7.3.1) */
            while (s->len && (s->str[s->len - 1] == ' ' || s->str[s->len - 1] == '\t'))
                g_string_truncate(s, s->len - 1);
            while (i < n && (v[i] == '\r' || v[i] == '\n' || v[i] == ' ' || v[i] == '\t'))
                i++;
            g_string_append_c(s, ' ');
            continue;
        }
        g_string_append_c(s, c);
        i++;
    }
    /* strip outer whitespace */
    size_t a = 0, b = s->len;
    while (a < b && (s->str[a] == ' ' || s->str[a] == '\t'))
        a++;
    while (b > a && (s->str[b - 1] == ' ' || s->str[b - 1] == '\t'))
        b--;
    char *out = g_malloc(b - a + 1);
    memcpy(out, s->str + a, b - a);
    out[b - a] = 0;
    if (len)
        *len = b - a;
    g_string_free(s, TRUE);
    return out;
}
