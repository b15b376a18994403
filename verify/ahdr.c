/* ahdr.c - decoding one MS-SIPAE auth header into an auth_result (ms-sipae.md 2, 3, 9): the
 * parameters, the decoded signature and gssapi-data, and notes on whatever cannot be parsed.
 * Nothing here knows about SAs. */
#include "verify/ahdr.h"

#include <string.h>

#include "sigbuf/authp.h"
#include "sigbuf/bytes.h"
#include "sigbuf/codec.h"
#include "verify/mech.h"

/* Which of the six MS-SIPAE auth headers h is (ms-sipae.md 2); 0 when none. The name was
 * recognised once by sip_msg_parse (h->kind). */
static int auth_header_kind(const sip_msg *m, const sip_hdr *h, ah_kind *kind, int *proxy)
{
    (void)m;
    switch (h->kind) {
    case SIP_HK_WWW_AUTHENTICATE: *kind = AH_CHALLENGE; *proxy = 0; return 1;
    case SIP_HK_PROXY_AUTHENTICATE: *kind = AH_CHALLENGE; *proxy = 1; return 1;
    case SIP_HK_AUTHORIZATION: *kind = AH_CREDENTIALS; *proxy = 0; return 1;
    case SIP_HK_PROXY_AUTHORIZATION: *kind = AH_CREDENTIALS; *proxy = 1; return 1;
    case SIP_HK_AUTHENTICATION_INFO: *kind = AH_INFO; *proxy = 0; return 1;
    case SIP_HK_PROXY_AUTHENTICATION_INFO: *kind = AH_INFO; *proxy = 1; return 1;
    default: return 0;
    }
}

/* Parses a decimal parameter (cnum, snum, version) into *out; tolerates nothing else. */
int ahdr_parse_u32(const char *s, uint32_t *out)
{
    if (!s || !*s)
        return -1;
    guint64 v = 0;
    size_t i = 0;
    for (; s[i]; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0'; /* 0-9 for a digit, else larger */
        if (i == 10 || d > 9) /* more than 10 characters, or not a digit */
            return -1;
        v = v * 10 + d;
    }
    if (v > G_MAXUINT32)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* The hex signature into a's reused storage (a->sig NULL when it is not hex). */
static int hex_decode_sig(auth_result *a, const char *sig, const char **why)
{
    size_t n = strlen(sig);
    if (a->sig_cap < n / 2 + 1) {
        g_free(a->sig_store);
        a->sig_cap = MAX(n / 2 + 1, (size_t)64);
        a->sig_store = g_malloc(a->sig_cap);
    }
    if (codec_hex_decode_to(sig, n, a->sig_store, &a->sig_len, why) < 0) {
        a->sig = NULL;
        a->sig_len = 0;
        return -1;
    }
    a->sig = a->sig_store;
    return 0;
}

auth_result *ahdr_decode(const sip_msg *m, const sip_hdr *h)
{
    return ahdr_decode_reuse(m, h, NULL);
}

/* ahdr_decode_reuse for one of the six headers; out of line: most headers of a message are
 * none of them, and their call then costs only the kind test. */
static __attribute__((noinline)) auth_result *decode(const sip_msg *m, const sip_hdr *h,
                                                     GPtrArray *spare, ah_kind kind, int proxy)
{
    /* the last spare (no free function is called on a stolen element) */
    auth_result *a;
    if (spare && spare->len)
        a = g_ptr_array_steal_index_fast(spare, spare->len - 1);
    else
        a = g_new0(auth_result, 1);
    if (!a->notes)
        a->notes = note_list_new();
    if (h->name.n < sizeof a->name_buf) {
        copy_short(a->name_buf, h->name.p, h->name.n);
        a->name_buf[h->name.n] = '\0';
        a->name = a->name_buf;
    } else {
        a->name = g_strndup(h->name.p, h->name.n);
    }
    a->kind = kind;
    a->proxy = proxy;
    a->dir = kind == AH_CREDENTIALS ? DIR_C2S : DIR_S2C;
    a->line_off = h->line_off;
    a->line_len = h->line_len;

    /* the value as it is in the message unless folded (authp_parse copies what it keeps) */
    char *v = NULL;
    slice sv;
    if (!sip_hdr_value_slice(m, h, &sv)) {
        v = sip_hdr_value(m, h, &sv.n);
        sv.p = v;
    }
    authp_header ah;
    authp_store st = { a->strings, a->strings_cap, a->params_store };
    int prc = authp_parse_others(sv.p, sv.n, &ah, &st); /* ah.params: the unknown ones only */
    a->strings = st.arena; /* the arena holds the parameter strings: reused storage */
    a->strings_cap = st.cap;
    a->params_store = st.params;
    if (prc < 0)
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: %s", a->name, ah.error);
    if (ah.dups)
        note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN,
                 "%s: parameter(s) given more than once, the first is used: %s", a->name, ah.dups);
    a->scheme = (char *)ah.scheme;
    /* ah.params is set: ah.first[k] is what authp_get_known (&ah, k) returns */
    a->realm = (char *)ah.first[AUTHP_K_REALM];
    a->targetname = (char *)ah.first[AUTHP_K_TARGETNAME];
    a->opaque = (char *)ah.first[AUTHP_K_OPAQUE];
    a->qop = (char *)ah.first[AUTHP_K_QOP];
    int client = kind == AH_CREDENTIALS;
    if (kind != AH_CHALLENGE) {
        a->rand = (char *)ah.first[client ? AUTHP_K_CRAND : AUTHP_K_SRAND];
        a->num_str = (char *)ah.first[client ? AUTHP_K_CNUM : AUTHP_K_SNUM];
        if (a->num_str) {
            if (ahdr_parse_u32(a->num_str, &a->num) == 0)
                a->has_num = 1;
            else
                note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: %s=\"%.40s\" is not a decimal number",
                         a->name, client ? "cnum" : "snum", a->num_str);
        }
    }
    for (guint i = 0; ah.params && i < ah.params->len; i++) {
        const authp_param *p = &g_array_index(ah.params, authp_param, i);
        if (p->known >= 0)
            continue;
        if (!a->other_params)
            a->other_params = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(a->other_params, g_strdup_printf("%s=%s", p->name, p->value));
    }
    const char *ver = ah.first[AUTHP_K_VERSION];
    if (ver) {
        uint32_t vv;
        if (ahdr_parse_u32(ver, &vv) == 0) {
            a->has_version = 1;
            a->version = vv;
        } else {
            note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: version=\"%.40s\" is not a number",
                     a->name, ver);
        }
    }
    const char *gss = ah.first[AUTHP_K_GSSAPI_DATA];
    if (gss) {
        a->has_gss = 1;
        const char *why;
        if (*gss && codec_b64_decode(gss, strlen(gss), &a->gss, &a->gss_len, &why) < 0)
            note_add(a->notes, NOTE_MALFORMED, NOTE_SEV_WARN, "%s: gssapi-data: %s", a->name, why);
    }
    /* signature parameters only from *-Info and *-Authorization headers (reference §3) */
    const char *sig = kind == AH_CHALLENGE ? NULL : ah.first[client ? AUTHP_K_RESPONSE : AUTHP_K_RSPAUTH];
    if (sig) {
        a->has_sig = 1;
        const char *why = NULL;
        if (!*sig) {
            a->status = SIG_MALFORMED;
            a->why = g_strdup_printf("%s is empty", client ? "response" : "rspauth");
        } else if (hex_decode_sig(a, sig, &why) < 0) {
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
    /* authp_header_clear without its memset of ah (not used again): the storage is borrowed */
    if (ah.error) /* the usual header has none of the three: no calls */
        g_free(ah.error);
    if (ah.dups)
        g_free(ah.dups);
    if (v)
        g_free(v);
    return a;
}

auth_result *ahdr_decode_reuse(const sip_msg *m, const sip_hdr *h, GPtrArray *spare)
{
    ah_kind kind;
    int proxy;
    if (!auth_header_kind(m, h, &kind, &proxy))
        return NULL;
    return decode(m, h, spare, kind, proxy);
}

