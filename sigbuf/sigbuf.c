/* sigbuf.c - the [MS-SIPAE] 3.2.5.2 signature buffer. */
#include "sigbuf/sigbuf.h"

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

static char *strip_dup(const char *a, const char *b)
{
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    return g_strndup(a, (gsize)(b - a));
}

/* name-addr / addr-spec (RFC 3261 §20.20): the URI is inside <...> if there are angle
 * brackets outside the display name's quotes; otherwise it is the text before the first ';'. */
char *sigbuf_nameaddr_uri(const char *v)
{
    const char *lt = find_outside(v, '<', 0);
    if (lt) {
        const char *gt = strchr(lt + 1, '>');
        if (!gt)
            return NULL;
        return g_strndup(lt + 1, (gsize)(gt - lt - 1));
    }
    const char *semi = strchr(v, ';');
    return strip_dup(v, semi ? semi : v + strlen(v));
}

/* The parameters follow the '>' of a name-addr, or the URI of an addr-spec. */
char *sigbuf_nameaddr_tag(const char *v)
{
    const char *params;
    const char *lt = find_outside(v, '<', 0);
    if (lt) {
        const char *gt = strchr(lt + 1, '>');
        if (!gt)
            return NULL;
        params = gt + 1;
    } else {
        params = strchr(v, ';');
        if (!params)
            return NULL;
    }
    return sigbuf_param(params, "tag");
}

/* generic-param = token [ EQUAL gen-value ] (RFC 3261 25.1), each after a ';'. */
char *sigbuf_param(const char *params, const char *name)
{
    size_t nl = strlen(name);
    const char *p = params;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ';' && *e != ',' && *e != '=' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - p) == nl && g_ascii_strncasecmp(p, name, nl) == 0) {
            while (*e == ' ' || *e == '\t')
                e++;
            if (*e != '=')
                return g_strdup("");
            e++;
            const char *ve = e;
            while (*ve && *ve != ';' && *ve != ',')
                ve++;
            return strip_dup(e, ve);
        }
        p = e;
    }
    return NULL;
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

static void item(GString *b, const char *v)
{
    g_string_append_c(b, '<');
    if (v)
        g_string_append(b, v);
    g_string_append_c(b, '>');
}

static void item_len(GString *b, const char *v, size_t n)
{
    g_string_append_c(b, '<');
    g_string_append_len(b, v, (gssize)n);
    g_string_append_c(b, '>');
}

static char *hdr_value(const sip_msg *m, const char *name, char compact)
{
    const sip_hdr *h = sip_hdr_find(m, name, compact);
    return h ? sip_hdr_value(m, h, NULL) : NULL;
}

GString *sigbuf_build(const sip_msg *m, const sigbuf_auth *a, unsigned version)
{
    GString *b = g_string_sized_new(256);
    int v3 = version >= 3;

    /* 1-5: from the signing header ([MS-SIPAE] 3.2.5.2 items 1-5) */
    item(b, a->scheme);
    item(b, a->rand);
    item(b, a->num);
    item(b, a->realm);
    item(b, a->targetname);

    /* 6: Call-ID (compact i) */
    char *callid = hdr_value(m, "Call-ID", 'i');
    item(b, callid);
    g_free(callid);

    /* 7, 8: CSeq number and method (the method of CSeq, also in responses) */
    char *cseq = hdr_value(m, "CSeq", 0);
    if (cseq) {
        char *p = cseq;
        char *ne = p;
        while (*ne && *ne != ' ' && *ne != '\t')
            ne++;
        const char *ms = ne;
        while (*ms == ' ' || *ms == '\t')
            ms++;
        const char *me = ms;
        while (*me && *me != ' ' && *me != '\t')
            me++;
        item_len(b, p, (size_t)(ne - p));
        item_len(b, ms, (size_t)(me - ms));
    } else {
        item(b, NULL);
        item(b, NULL);
    }
    g_free(cseq);

    /* 9, 10: From URI and tag */
    char *from = hdr_value(m, "From", 'f');
    char *from_uri = from ? sigbuf_nameaddr_uri(from) : NULL;
    char *from_tag = from ? sigbuf_nameaddr_tag(from) : NULL;
    item(b, from_uri);
    item(b, from_tag);
    g_free(from);
    g_free(from_uri);
    g_free(from_tag);

    /* 11 (v3+), 12: To URI and tag */
    char *to = hdr_value(m, "To", 't');
    if (v3) {
        char *to_uri = to ? sigbuf_nameaddr_uri(to) : NULL;
        item(b, to_uri);
        g_free(to_uri);
    }
    char *to_tag = to ? sigbuf_nameaddr_tag(to) : NULL;
    item(b, to_tag);
    g_free(to);
    g_free(to_tag);

    /* 13, 14 (v3+): P-Asserted-Identity sip and tel URIs; P-Preferred-Identity without PAI */
    if (v3) {
        char *pai = hdr_value(m, "P-Asserted-Identity", 0);
        if (!pai)
            pai = hdr_value(m, "P-Preferred-Identity", 0);
        char *sip = pai ? sigbuf_pai_uri(pai, 0) : NULL;
        char *tel = pai ? sigbuf_pai_uri(pai, 1) : NULL;
        item(b, sip);
        item(b, tel);
        g_free(sip);
        g_free(tel);
        g_free(pai);
    }

    /* 15: Expires header (never Session-Expires or a Contact parameter) */
    char *expires = hdr_value(m, "Expires", 0);
    item(b, expires);
    g_free(expires);

    /* 16: status code, responses only */
    if (!m->is_request)
        item_len(b, m->status.p, m->status.n);
    return b;
}
