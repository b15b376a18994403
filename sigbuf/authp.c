/* authp.c - MS-SIPAE auth-parameter parser ([MS-SIPAE] 2.2.1-2.2.4, RFC 3261 §25.1 LWS,
 * token and quoted-string). */
#include "sigbuf/authp.h"

#include <string.h>

static int is_lws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* RFC 3261 token characters: alphanumerics and -.!%*_+`'~ (a table: this runs per byte).
 * NUL counts too, as it always has here (strchr of the set found its terminator). */
static const unsigned char token_tab[256] = {
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
    return token_tab[(unsigned char)c];
}

static void skip_lws(authp_cursor *c)
{
    while (c->off < c->n && is_lws(c->p[c->off]))
        c->off++;
}

static int fail(authp_cursor *c, const char *why)
{
    c->why = why;
    c->err_off = c->off;
    c->off = c->n;
    return AUTHP_ERR;
}

int authp_begin(authp_cursor *c, const char *v, size_t n, slice *scheme)
{
    c->p = v;
    c->n = n;
    c->off = 0;
    c->why = NULL;
    c->err_off = 0;
    skip_lws(c);
    size_t s = c->off;
    while (c->off < n && is_token_char(v[c->off]))
        c->off++;
    if (c->off == s)
        return fail(c, "no authentication scheme");
    scheme->p = v + s;
    scheme->n = c->off - s;
    if (c->off < n && !is_lws(v[c->off]))
        return fail(c, "invalid character after the scheme");
    return AUTHP_OK;
}

int authp_next(authp_cursor *c, slice *name, slice *value)
{
    if (c->why)
        return AUTHP_ERR;
    skip_lws(c);
    /* separators: commas between parameters (empty list elements tolerated) */
    while (c->off < c->n && (c->p[c->off] == ',' || is_lws(c->p[c->off])))
        c->off++;
    if (c->off >= c->n)
        return AUTHP_EOF;
    size_t s = c->off;
    while (c->off < c->n && is_token_char(c->p[c->off]))
        c->off++;
    if (c->off == s)
        return fail(c, "invalid character where a parameter name was expected");
    name->p = c->p + s;
    name->n = c->off - s;
    skip_lws(c);
    if (c->off >= c->n || c->p[c->off] != '=')
        return fail(c, "parameter without '='");
    c->off++;
    skip_lws(c);
    s = c->off;
    if (c->off < c->n && c->p[c->off] == '"') {
        c->off++;
        for (;;) {
            if (c->off >= c->n)
                return fail(c, "unterminated quoted string");
            char ch = c->p[c->off];
            if (ch == '\\') {
                if (c->off + 1 >= c->n)
                    return fail(c, "unterminated quoted string");
                c->off += 2;
                continue;
            }
            c->off++;
            if (ch == '"')
                break;
        }
    } else {
        while (c->off < c->n && c->p[c->off] != ',' && !is_lws(c->p[c->off]) &&
               c->p[c->off] != '"')
            c->off++;
    }
    value->p = c->p + s;
    value->n = c->off - s;
    skip_lws(c);
    if (c->off < c->n && c->p[c->off] != ',')
        return fail(c, "garbage after a parameter value");
    return AUTHP_OK;
}

char *authp_unquote(slice v, int *was_quoted)
{
    if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"') {
        if (was_quoted)
            *was_quoted = 1;
        char *out = g_malloc(v.n);
        size_t o = 0;
        for (size_t i = 1; i + 1 < v.n; i++) {
            if (v.p[i] == '\\' && i + 2 < v.n)
                i++;
            out[o++] = v.p[i];
        }
        out[o] = 0;
        return out;
    }
    if (was_quoted)
        *was_quoted = 0;
    return g_strndup(v.p, v.n);
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

/* g_ascii_tolower, inlined. */
static inline char lc(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

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

int authp_known_index(const char *name, size_t n)
{
    if (n == 0 || n >= G_N_ELEMENTS(known_by_len))
        return -1;
    char c0 = lc(name[0]);
    for (int j = 0; j < 3 && known_by_len[n][j] >= 0; j++) {
        int k = known_by_len[n][j];
        if (known[k].name[0] != c0)
            continue;
        size_t i = 1;
        while (i < n && lc(name[i]) == known[k].name[i])
            i++;
        if (i == n)
            return k;
    }
    return -1;
}

int authp_is_known(const char *name)
{
    return authp_known_index(name, strlen(name)) >= 0;
}

/* authp_unquote into out (room for v.n + 1 bytes); returns the length written before the NUL. */
static size_t unquote_to(char *out, slice v, int *was_quoted)
{
    if (v.n >= 2 && v.p[0] == '"' && v.p[v.n - 1] == '"') {
        *was_quoted = 1;
        if (!memchr(v.p + 1, '\\', v.n - 2)) { /* no quoted-pair: the bytes between the quotes */
            memcpy(out, v.p + 1, v.n - 2);
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
    memcpy(out, v.p, v.n);
    out[v.n] = 0;
    return v.n;
}

int authp_parse(const char *v, size_t n, authp_header *h)
{
    memset(h, 0, sizeof *h);
    h->params = g_array_sized_new(FALSE, TRUE, sizeof(authp_param), 16);
    authp_cursor c;
    slice scheme, name, value;
    if (authp_begin(&c, v, n, &scheme) != AUTHP_OK) {
        h->error = g_strdup(c.why);
        return -1;
    }
    /* The scheme, the names and the raw values are disjoint parts of v (at most n bytes), each
     * copied with one NUL; every parameter takes at least 2 bytes of v ("a="), so there are at
     * most n / 2 of them: 2n + 2 bytes always suffice. */
    char *ar = h->arena = g_malloc(2 * n + 2);
    char *end = ar + 2 * n + 2;
    h->scheme = ar;
    memcpy(ar, scheme.p, scheme.n);
    ar[scheme.n] = 0;
    ar += scheme.n + 1;
    int rc;
    GString *dups = NULL;
    while ((rc = authp_next(&c, &name, &value)) == AUTHP_OK) {
        if ((size_t)(end - ar) < name.n + value.n + 2) { /* cannot happen (see above) */
            c.why = "parameter storage exhausted";
            c.err_off = (size_t)(name.p - v);
            rc = AUTHP_ERR;
            break;
        }
        authp_param a;
        a.name = ar;
        memcpy(ar, name.p, name.n);
        ar[name.n] = 0;
        ar += name.n + 1;
        a.value = ar;
        ar += unquote_to(ar, value, &a.quoted) + 1;
        a.known = authp_known_index(name.p, name.n);
        if (a.known >= 0) {
            if (h->first[a.known]) {
                if (!dups)
                    dups = g_string_new(NULL);
                else
                    g_string_append(dups, ", ");
                g_string_append(dups, known[a.known].name);
            } else {
                h->first[a.known] = a.value;
            }
        }
        g_array_append_val(h->params, a);
    }
    if (dups)
        h->dups = g_string_free(dups, FALSE);
    if (rc == AUTHP_ERR) {
        h->error = g_strdup_printf("%s at offset %zu", c.why, c.err_off);
        return -1;
    }
    return 0;
}

void authp_header_clear(authp_header *h)
{
    g_free(h->arena);
    g_free(h->error);
    g_free(h->dups);
    if (h->params)
        g_array_free(h->params, TRUE);
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
