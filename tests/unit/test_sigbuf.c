/* test_sigbuf.c - the signature buffer against every buffer vector in tests/vectors, plus the
 * header-access and name-addr rules of reference §4.
 *
 * Regression list: (none yet)
 */
#include "testutil.h"

#include <string.h>

#include "sigbuf/authp.h"
#include "sigbuf/codec.h"
#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "tests/unit/ref_b64.h"

/* The protocol version each vector folder's buffer was built with (tests/vectors/README.md). */
static unsigned vector_version(const char *rel)
{
    if (g_str_has_prefix(rel, "seed-kerberos-example"))
        return 3;
    if (g_str_has_prefix(rel, "ntlm-ocs2007-v2-noess"))
        return 2;
    return 4;
}

/* sigbuf_build_items gives the same buffer, one item per <...> in order (13 or 16 items, one
 * less for requests), each value found at its buffer offset and, for these unfolded real
 * messages, at its message offset. */
static void check_items(const sip_msg *m, const sigbuf_auth *a, unsigned version,
                        const GString *want)
{
    GArray *items = g_array_new(FALSE, TRUE, sizeof(sigbuf_item));
    GString *b = sigbuf_build_items(m, a, version, items);
    assert_int_equal(b->len, want->len);
    assert_memory_equal(b->str, want->str, b->len);
    guint n = (version >= 3 ? 16 : 13) - (m->is_request ? 1 : 0);
    assert_int_equal(items->len, n);
    size_t pos = 0;
    for (guint i = 0; i < items->len; i++) {
        const sigbuf_item *it = &g_array_index(items, sigbuf_item, i);
        assert_int_equal(b->str[it->off - 1], '<');
        assert_int_equal(b->str[it->off + it->len], '>');
        assert_int_equal(it->off, pos + 1);
        pos = it->off + it->len + 1;
        if (it->present && it->len) {
            if (!it->in_msg)
                fail_msg("item %s (%.*s) not located in the message", it->name, (int)it->len,
                         b->str + it->off);
            assert_memory_equal(m->buf + it->msg_off, b->str + it->off, it->len);
        }
    }
    assert_int_equal(pos, b->len);
    g_string_free(b, TRUE);
    g_array_free(items, TRUE);
}

/* Builds the buffer of the signing header (the one with response= or rspauth=). */
static GString *build_for(const char *msg, size_t len, unsigned version)
{
    sip_msg m;
    const char *why;
    assert_int_equal(sip_msg_parse(msg, len, &m, &why), 0);
    GString *out = NULL;
    for (guint i = 0; i < m.hdrs->len && !out; i++) {
        const sip_hdr *h = &g_array_index(m.hdrs, sip_hdr, i);
        size_t vl;
        char *v = sip_hdr_value(&m, h, &vl);
        authp_header ah;
        authp_parse(v, vl, &ah);
        const char *sig = authp_get(&ah, "response");
        int client = sig != NULL;
        if (!sig)
            sig = authp_get(&ah, "rspauth");
        if (sig && ah.scheme && g_ascii_strcasecmp(ah.scheme, "Digest") != 0) {
            sigbuf_auth a = {
                .scheme = ah.scheme,
                .rand = authp_get(&ah, client ? "crand" : "srand"),
                .num = authp_get(&ah, client ? "cnum" : "snum"),
                .realm = authp_get(&ah, "realm"),
                .targetname = authp_get(&ah, "targetname"),
                .hdr_off = h->line_off,
                .hdr_len = h->line_len,
            };
            out = sigbuf_build(&m, &a, version);
            check_items(&m, &a, version, out);
        }
        authp_header_clear(&ah);
        g_free(v);
    }
    sip_msg_clear(&m);
    assert_non_null(out);
    return out;
}

static void test_all_vectors(void **state)
{
    (void)state;
    const char *dirs[] = { "seed-kerberos-example", "ntlm-oc2007r2-v4", "ntlm-ocs2007-v2-noess",
                           "buffer-only-180", "buffer-only-tlsdsk-200", "sfb-real-headers" };
    int checked = 0;
    for (size_t d = 0; d < G_N_ELEMENTS(dirs); d++) {
        char *path = g_build_filename(MSSIPAE_VECTORS_DIR, dirs[d], NULL);
        GDir *dir = g_dir_open(path, 0, NULL);
        assert_non_null(dir);
        const char *f;
        while ((f = g_dir_read_name(dir)) != NULL) {
            if (!g_str_has_suffix(f, ".sigbuf"))
                continue;
            char *base = g_strndup(f, strlen(f) - 7);
            char *sip_rel = g_strdup_printf("%s/%s.sip", dirs[d], base);
            char *buf_rel = g_strdup_printf("%s/%s", dirs[d], f);
            size_t ml, bl;
            char *msg = tu_read_vector(sip_rel, &ml);
            char *exp = tu_read_vector(buf_rel, &bl);
            GString *got = build_for(msg, ml, vector_version(dirs[d]));
            if (got->len != bl || memcmp(got->str, exp, bl) != 0) {
                print_error("%s:\n got %s\nwant %.*s\n", sip_rel, got->str, (int)bl, exp);
                fail();
            }
            checked++;
            g_string_free(got, TRUE);
            g_free(msg);
            g_free(exp);
            g_free(base);
            g_free(sip_rel);
            g_free(buf_rel);
        }
        g_dir_close(dir);
        g_free(path);
    }
    assert_true(checked >= 13);
}

static void test_seed_exact(void **state)
{
    (void)state;
    size_t ml;
    char *msg = tu_read_vector("seed-kerberos-example/05-200-ok.sip", &ml);
    GString *got = build_for(msg, ml, 3);
    assert_string_equal(got->str,
        "<Kerberos><211639C4><1><SIP Communications Service><sip/server.contoso.com>"
        "<c7142b90f8c94668807a382f552a6770><2><REGISTER><sip:alice@contoso.com><604168c9c0>"
        "<sip:alice@contoso.com><9588410E2DA11CEE9D0AE7733E07830F><><><7200><200>");
    g_string_free(got, TRUE);
    g_free(msg);
}

static char *build_str(const char *msg, unsigned version)
{
    GString *g = build_for(msg, strlen(msg), version);
    return g_string_free(g, FALSE);
}

/* Compact forms, folding, upper-case names, first instance, PPI fallback, tags after params. */
static void test_header_rules(void **state)
{
    (void)state;
    const char *msg =
        "MESSAGE sip:bob@x SIP/2.0\r\n"
        "f: \"Lunch, <Lucas>\" <sip:alice@x;transport=tcp>;epid=1\r\n"
        "  ;tag=abc\r\n"
        "T: sip:bob@x;tag=t1\r\n"
        "I: cid1\r\n"
        "CSEQ:   7    MESSAGE\r\n"
        "Call-ID: second-ignored\r\n"
        "P-Preferred-Identity: \"a, b\" <SIP:alice@x>, <tel:+1555;ext=2>\r\n"
        "Session-Expires: 1800\r\n"
        "Authorization: NTLM qop=\"auth\", crand=\"1\", cnum=\"2\", response=\"00\", realm=\"R\", targetname=\"T\"\r\n"
        "\r\n";
    char *b = build_str(msg, 4);
    assert_string_equal(b, "<NTLM><1><2><R><T><cid1><7><MESSAGE><sip:alice@x;transport=tcp><abc>"
                           "<sip:bob@x><t1><SIP:alice@x><tel:+1555;ext=2><>");
    g_free(b);
    b = build_str(msg, 2);
    assert_string_equal(b, "<NTLM><1><2><R><T><cid1><7><MESSAGE><sip:alice@x;transport=tcp><abc><t1><>");
    g_free(b);
}

static void test_pai_rules(void **state)
{
    (void)state;
    char *u;
    u = sigbuf_pai_uri("tel:+420123456;ext=88463", 1);
    assert_string_equal(u, "tel:+420123456;ext=88463");
    g_free(u);
    assert_null(sigbuf_pai_uri("tel:+420123456", 0));
    u = sigbuf_pai_uri("\"x,y\"<sip:a@b>,<tel:+1>", 0);
    assert_string_equal(u, "sip:a@b");
    g_free(u);
    u = sigbuf_pai_uri("\"x,y\"<sip:a@b>,<tel:+1>", 1);
    assert_string_equal(u, "tel:+1");
    g_free(u);
    assert_null(sigbuf_pai_uri("<sips:a@b>", 0));
    u = sigbuf_pai_uri("sip:a@b;user=phone", 0);
    assert_string_equal(u, "sip:a@b;user=phone");
    g_free(u);
    u = sigbuf_nameaddr_tag("<sip:a@b>;epid=1;TAG=x");
    assert_string_equal(u, "x");
    g_free(u);
    assert_null(sigbuf_nameaddr_tag("<sip:a@b;tag=inside>"));
    assert_null(sigbuf_nameaddr_uri("\"Bob\" <sip:a@b"));
}

static void test_authp(void **state)
{
    (void)state;
    authp_header h;
    const char *v = "NTLM  opaque=ABC,gssapi-data=\"\" , realm = \"a \\\"q\\\" b\",x-unknown=\"1\", version=4";
    assert_int_equal(authp_parse(v, strlen(v), &h), 0);
    assert_string_equal(h.scheme, "NTLM");
    assert_string_equal(authp_get(&h, "OPAQUE"), "ABC");
    assert_string_equal(authp_get(&h, "gssapi-data"), "");
    assert_string_equal(authp_get(&h, "realm"), "a \"q\" b");
    assert_string_equal(authp_get(&h, "x-unknown"), "1");
    assert_string_equal(authp_get(&h, "version"), "4");
    assert_null(h.dups);
    authp_header_clear(&h);

    /* known parameters by index agree with authp_get; unknown ones have known -1 */
    v = "NTLM Realm=\"r\", X=1, cnum=7, CNUM=8, sts-uri=\"u\\\"\", qop=";
    assert_int_equal(authp_parse(v, strlen(v), &h), 0);
    assert_string_equal(authp_get_known(&h, AUTHP_K_REALM), "r");
    assert_string_equal(authp_get_known(&h, AUTHP_K_CNUM), "7");
    assert_string_equal(authp_get(&h, "cNum"), "7");
    assert_string_equal(authp_get_known(&h, AUTHP_K_STS_URI), "u\"");
    assert_string_equal(authp_get_known(&h, AUTHP_K_QOP), "");
    assert_null(authp_get_known(&h, AUTHP_K_RESPONSE));
    assert_null(authp_get_known(&h, -1));
    assert_null(authp_get_known(&h, AUTHP_K_COUNT));
    assert_string_equal(authp_get(&h, "x"), "1");
    assert_int_equal(g_array_index(h.params, authp_param, 1).known, -1);
    assert_int_equal(g_array_index(h.params, authp_param, 3).known, AUTHP_K_CNUM);
    assert_string_equal(h.dups, "cnum");
    assert_int_equal(authp_known_index("GSSAPI-DATA", 11), AUTHP_K_GSSAPI_DATA);
    assert_int_equal(authp_known_index("realmx", 5), AUTHP_K_REALM);
    assert_int_equal(authp_known_index("realm", 4), -1);
    assert_false(authp_is_known("realm\x01"));
    authp_header_clear(&h);

    v = "Kerberos realm=\"a\", realm=\"b\"";
    assert_int_equal(authp_parse(v, strlen(v), &h), 0);
    assert_string_equal(authp_get(&h, "realm"), "a");
    assert_string_equal(h.dups, "realm");
    authp_header_clear(&h);
}

/* authp_parse_others (a fast path for the usual known parameter, the general cursor for the
 * rest) reads every header as authp_parse does: same scheme, error text and offset, duplicates
 * and first values, and the unknown parameters in order. Checked on every prefix of real
 * headers and with a quote, backslash, comma, blank, CR or capital put at every position (the
 * fast path's 16-byte loads, its tail and each of its ways back to the cursor). */
static void check_others_agrees(const char *v, size_t n, authp_store *st)
{
    authp_header a, b;
    int ra = authp_parse(v, n, &a);
    int rb = authp_parse_others(v, n, &b, st);
    assert_int_equal(ra, rb);
    if (a.scheme || b.scheme)
        assert_string_equal(a.scheme, b.scheme);
    if (a.error || b.error)
        assert_string_equal(a.error, b.error);
    if (a.dups || b.dups)
        assert_string_equal(a.dups, b.dups);
    for (int k = 0; k < AUTHP_K_COUNT; k++) {
        if (a.first[k] || b.first[k]) {
            assert_non_null(a.first[k]);
            assert_non_null(b.first[k]);
            assert_string_equal(a.first[k], b.first[k]);
        }
    }
    guint j = 0;
    for (guint i = 0; i < a.params->len; i++) {
        const authp_param *x = &g_array_index(a.params, authp_param, i);
        if (x->known >= 0)
            continue;
        assert_true(j < b.params->len);
        const authp_param *y = &g_array_index(b.params, authp_param, j++);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->value, y->value);
        assert_int_equal(x->quoted, y->quoted);
        assert_int_equal(y->known, -1);
    }
    assert_int_equal(j, b.params->len);
    authp_header_clear(&a);
    authp_header_clear(&b);
}

static void test_authp_fast_path(void **state)
{
    (void)state;
    static const char *const base[] = {
        "NTLM qop=\"auth\", realm=\"SIP Communications Service\", opaque=\"B0000000\", "
        "targetname=\"server.contoso.test\", version=4, crand=\"d82c07cd\", cnum=\"1\", "
        "response=\"01000000234a801b443d483b64000000\"",
        "Kerberos qop=\"auth\", opaque=\"C0000000\", srand=\"19BE3D4B\", snum=\"1\", "
        "rspauth=\"040401FFFFFFFFFF000000000301447D23ED6E02C773F441A2F5F8E9\", "
        "targetname=\"sip/server.contoso.test\", realm=\"SIP Communications Service\", version=4",
        "TLS-DSK opaque=\"1B591D75\", gssapi-data=\"FgMBAF8CAABbAwELh+dQAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAA==\", sts-uri=\"https://x.test/y\", x-unknown=\"a,b\", REALM=\"r\", Realm=r2",
        "NTLM realm=\"a \\\"q\\\" b\",realm=\"dup\", cnum=1,cnum=\"2\" , qop=auth\t,, version=\"4\"",
    };
    static const char ins[] = "\"\\, \t\rA=";
    authp_store st = { 0 };
    char buf[512];
    for (size_t bi = 0; bi < G_N_ELEMENTS(base); bi++) {
        const char *b = base[bi];
        size_t n = strlen(b);
        assert_true(n + 1 < sizeof buf);
        for (size_t k = 0; k <= n; k++) { /* every prefix, in a buffer of exactly k bytes */
            char *v = g_memdup2(b, k ? k : 1);
            check_others_agrees(v, k, &st);
            g_free(v);
        }
        for (size_t pos = 0; pos <= n; pos++) {
            for (size_t c = 0; c < sizeof ins - 1; c++) {
                memcpy(buf, b, pos);
                buf[pos] = ins[c];
                memcpy(buf + pos + 1, b + pos, n - pos);
                char *v = g_memdup2(buf, n + 1);
                check_others_agrees(v, n + 1, &st);
                g_free(v);
                if (pos < n) { /* the byte at pos replaced */
                    memcpy(buf, b, n);
                    buf[pos] = ins[c];
                    v = g_memdup2(buf, n);
                    check_others_agrees(v, n, &st);
                    g_free(v);
                }
            }
        }
    }
    authp_store_free(&st);
}

/* codec_b64_decode decodes in one pass: its errors are still those of a check before decoding,
 * a bad byte (the first one telling which) before a bad length. */
static void test_b64(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out, *why;
    } t[] = {
        { "", "", NULL },
        { "QUJD", "ABC", NULL },
        { "QUI=", "AB", NULL },
        { "QUI", "AB", NULL },
        { "QQ==", "A", NULL },
        { "QQ", "A", NULL },
        { "QUJDRA", "ABCD", NULL },
        { "QUJDREVGR0g=", "ABCDEFGH", NULL },
        { "Q", NULL, "base64 length is not a whole number of bytes" },
        { "QUJDR", NULL, "base64 length is not a whole number of bytes" },
        { "QUI==", NULL, "base64 length is not a whole number of bytes" },
        { "Q===", NULL, "base64 padding in the middle" },
        { "QU=D", NULL, "base64 padding in the middle" },
        { "QU*D", NULL, "invalid base64 character" },
        { "QUJDR*", NULL, "invalid base64 character" },
        { "A*BCD", NULL, "invalid base64 character" },
        { "QUJD=*==", NULL, "base64 padding in the middle" },
        { "QUJD*=QUJD", NULL, "invalid base64 character" },
        { "QUJD\x80", NULL, "invalid base64 character" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
        uint8_t *out = (uint8_t *)"x";
        size_t len = 99;
        const char *why = NULL;
        int rc = codec_b64_decode(t[i].in, strlen(t[i].in), &out, &len, &why);
        if (t[i].out) {
            assert_int_equal(rc, 0);
            assert_int_equal(len, strlen(t[i].out));
            assert_memory_equal(out, t[i].out, len);
            g_free(out);
        } else {
            assert_int_equal(rc, -1);
            assert_null(out);
            assert_int_equal(len, 0);
            assert_string_equal(why, t[i].why);
        }
    }
}

/* codec_b64_decode on every length up to 200 bytes of data (GLib's encoder, so its sixteen-digit
 * blocks, the four-digit loop and the tail all run), and with every digit of a 96-digit token
 * replaced by bytes that are not digits ('=', '-', '_', '.', ' ', NUL, 0x80, 0xff and each
 * neighbour of a digit range): the same bytes and the same errors as the reference. */
static void test_b64_sweep(void **state)
{
    (void)state;
    guint8 data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (guint8)(i * 151 + 7);
    for (size_t len = 0; len <= sizeof data; len++) {
        gchar *enc = g_base64_encode(data, len);
        size_t n = strlen(enc);
        for (int strip = 0; strip < 2; strip++) { /* with and without the padding */
            size_t m = n;
            while (strip && m && enc[m - 1] == '=')
                m--;
            uint8_t *out = NULL;
            size_t olen = 0;
            const char *why = NULL;
            assert_int_equal(codec_b64_decode(enc, m, &out, &olen, &why), 0);
            assert_int_equal(olen, len);
            if (len)
                assert_memory_equal(out, data, len);
            g_free(out);
        }
        g_free(enc);
    }
    static const unsigned char bad[] = { '=', '-', '_', '.', ' ', 0, 0x80, 0xff, '@', '[',
                                         '`', '{', '/' + 1, '0' - 1, '9' + 1, '+' - 1 };
    gchar *enc = g_base64_encode(data, 72); /* 96 digits, no padding */
    size_t n = strlen(enc);
    assert_int_equal(n, 96);
    for (size_t at = 0; at < n; at++)
        for (size_t k = 0; k < sizeof bad; k++) {
            char *t = g_memdup2(enc, n);
            t[at] = (char)bad[k];
            GByteArray *want = g_byte_array_new();
            const char *want_why = ref_b64(t, n, want);
            uint8_t *out = NULL;
            size_t olen = 0;
            const char *why = NULL;
            int rc = codec_b64_decode(t, n, &out, &olen, &why);
            if (want_why) {
                assert_int_equal(rc, -1);
                assert_null(out);
                assert_string_equal(why, want_why);
            } else { /* '=' in the last places: padding */
                assert_int_equal(rc, 0);
                assert_int_equal(olen, want->len);
                assert_memory_equal(out, want->data, olen);
                g_free(out);
            }
            g_byte_array_free(want, TRUE);
            g_free(t);
        }
    g_free(enc);
}

/* sip_msg_parse_with writes the headers into the caller's array in place: more headers than
 * its first size, blanks before a colon, and a reused array that held more headers before. */
static void test_many_headers(void **state)
{
    (void)state;
    GString *msg = g_string_new("OPTIONS sip:x SIP/2.0\r\n");
    for (int i = 0; i < 60; i++)
        g_string_append_printf(msg, "X-H%d \t: v%d\r\n", i, i);
    g_string_append(msg, "Via: z\r\nno colon\r\nT: t\r\n\r\n");
    GArray *hdrs = g_array_sized_new(FALSE, FALSE, sizeof(sip_hdr), 4);
    sip_msg m;
    const char *why;
    assert_int_equal(sip_msg_parse_with(msg->str, msg->len, &m, hdrs, &why), 0);
    assert_int_equal(m.hdrs->len, 62);
    assert_int_equal(m.bad_lines, 1);
    for (int i = 0; i < 60; i++) {
        const sip_hdr *h = &g_array_index(m.hdrs, sip_hdr, i);
        char name[16];
        g_snprintf(name, sizeof name, "X-H%d", i);
        assert_int_equal(h->name.n, strlen(name));
        assert_memory_equal(h->name.p, name, h->name.n);
        size_t vl;
        char *v = sip_hdr_value(&m, h, &vl);
        char want[16];
        g_snprintf(want, sizeof want, "v%d", i);
        assert_string_equal(v, want);
        g_free(v);
        assert_int_equal(h->kind, SIP_HK_OTHER);
    }
    assert_ptr_equal(sip_hdr_find_kind(&m, SIP_HK_VIA), &g_array_index(m.hdrs, sip_hdr, 60));
    const sip_hdr *t = sip_hdr_find_kind(&m, SIP_HK_TO);
    assert_ptr_equal(t, &g_array_index(m.hdrs, sip_hdr, 61));
    assert_int_equal(t->compact, 1);
    assert_true(m.complete);
    sip_msg_clear(&m);
    /* the same array for a message with fewer headers */
    const char small[] = "SIP/2.0 200 OK\r\nVia: a\r\ni: b\r\n\r\n";
    assert_int_equal(sip_msg_parse_with(small, sizeof small - 1, &m, hdrs, &why), 0);
    assert_int_equal(m.hdrs->len, 2);
    assert_ptr_equal(sip_hdr_find_kind(&m, SIP_HK_CALL_ID), &g_array_index(m.hdrs, sip_hdr, 1));
    assert_null(sip_hdr_find_kind(&m, SIP_HK_TO));
    sip_msg_clear(&m);
    g_array_free(hdrs, TRUE);
    g_string_free(msg, TRUE);
}

/* Header kinds recognised by sip_msg_parse: sip_hdr_find by name and by kind agree, a compact
 * form matches only when the caller names its letter, and the unfolded value slice equals
 * sip_hdr_value. */
static void test_header_kinds(void **state)
{
    (void)state;
    const char msg[] =
        "SIP/2.0 200 OK\r\n"
        "v: SIP/2.0/TLS a\r\n"
        "FROM :\t <sip:a@x>;tag=1 \t\r\n"
        "f: <sip:b@x>;tag=2\r\n"
        "t: <sip:c@x>\r\n"
        "To: <sip:d@x>\r\n"
        "PROXY-AUTHENTICATION-INFO: NTLM x=1\r\n"
        "Call-IDx: no\r\n"
        "Expires: 1\r\n"
        "  2\r\n"
        "X-\0: nul\r\n"
        "\r\n";
    sip_msg m;
    const char *why;
    assert_int_equal(sip_msg_parse(msg, sizeof msg - 1, &m, &why), 0);
    const sip_hdr *h0 = &g_array_index(m.hdrs, sip_hdr, 0);
    assert_int_equal(h0[0].kind, SIP_HK_VIA);
    assert_true(h0[0].compact);
    assert_int_equal(h0[1].kind, SIP_HK_FROM);
    assert_false(h0[1].compact);
    assert_int_equal(h0[5].kind, SIP_HK_PROXY_AUTHENTICATION_INFO);
    assert_int_equal(h0[6].kind, SIP_HK_OTHER);
    assert_int_equal(h0[8].kind, SIP_HK_OTHER);
    assert_ptr_equal(sip_hdr_find(&m, "From", 'f'), &h0[1]);
    assert_ptr_equal(sip_hdr_find_kind(&m, SIP_HK_FROM), &h0[1]);
    assert_ptr_equal(sip_hdr_find(&m, "to", 't'), &h0[3]);
    assert_ptr_equal(sip_hdr_find(&m, "To", 0), &h0[4]);
    assert_ptr_equal(sip_hdr_find_kind(&m, SIP_HK_TO), &h0[3]);
    assert_ptr_equal(sip_hdr_find(&m, "Via", 'v'), &h0[0]);
    assert_null(sip_hdr_find(&m, "Via", 0));
    assert_null(sip_hdr_find(&m, "Call-ID", 'i'));
    assert_null(sip_hdr_find_kind(&m, SIP_HK_CALL_ID));
    assert_null(sip_hdr_find_kind(&m, SIP_HK_OTHER));
    assert_null(sip_hdr_find_kind(&m, SIP_HK_COUNT));
    assert_ptr_equal(sip_hdr_find(&m, "call-idx", 0), &h0[6]);
    assert_ptr_equal(sip_hdr_find(&m, "x", 't'), &h0[3]);
    assert_true(sip_hdr_is(&m, &h0[5], "Proxy-Authentication-Info", 0));
    assert_false(sip_hdr_is(&m, &h0[8], "X-", 0));
    for (guint i = 0; i < m.hdrs->len; i++) {
        size_t vl;
        char *v = sip_hdr_value(&m, &h0[i], &vl);
        slice sv;
        if (sip_hdr_value_slice(&m, &h0[i], &sv)) {
            assert_int_equal(sv.n, vl);
            assert_memory_equal(sv.p, v, vl);
        } else {
            assert_int_equal(i, 7); /* only Expires is folded */
        }
        g_free(v);
    }
    slice sv;
    assert_true(sip_hdr_value_slice(&m, &h0[1], &sv));
    assert_int_equal(sv.n, strlen("<sip:a@x>;tag=1"));
    assert_memory_equal(sv.p, "<sip:a@x>;tag=1", sv.n);
    char *v = sip_hdr_value(&m, &h0[7], NULL);
    assert_string_equal(v, "1 2");
    g_free(v);
    sip_msg_clear(&m);
}

/* Hostile inputs: no crash, a clear status. */
static void test_hostile(void **state)
{
    (void)state;
    const char *bad_auth[] = {
        "", "   ", "NTLM realm=\"unterminated", "NTLM realm", "NTLM =x", "NTLM realm=\"a\"junk",
        "NTLM realm=\"a\\", "\"NTLM\" realm=x", "NTLM\x01 realm=x",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_auth); i++) {
        authp_header h;
        assert_int_equal(authp_parse(bad_auth[i], strlen(bad_auth[i]), &h), -1);
        assert_non_null(h.error);
        authp_header_clear(&h);
    }
    /* a 1 MB parameter */
    size_t big = 1 << 20;
    char *v = g_malloc(big + 64);
    strcpy(v, "NTLM gssapi-data=\"");
    size_t o = strlen(v);
    memset(v + o, 'A', big);
    strcpy(v + o + big, "\", opaque=\"1\"");
    authp_header h;
    assert_int_equal(authp_parse(v, strlen(v), &h), 0);
    assert_int_equal(strlen(authp_get(&h, "gssapi-data")), big);
    authp_header_clear(&h);
    g_free(v);
    /* NUL bytes inside a value: parsed by length, never by strlen */
    const char nul[] = "NTLM realm=\"a\0b\", opaque=\"x\"";
    assert_int_equal(authp_parse(nul, sizeof nul - 1, &h), 0);
    authp_header_clear(&h);

    /* messages */
    const char *bad_msgs[] = { "", "\r\n\r\n", "HELLO", "SIP/2.0 2x OK\r\n", "INVITE\r\n",
                               "SIP/2.0 20", "INVITE sip:x HTTP/1.1\r\n" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_msgs); i++) {
        sip_msg m;
        const char *why = NULL;
        assert_int_equal(sip_msg_parse(bad_msgs[i], strlen(bad_msgs[i]), &m, &why), -1);
        assert_non_null(why);
    }
    /* truncated header block, lines without colon, missing headers: still a buffer */
    const char *trunc = "SIP/2.0 200 OK\r\nnocolon\r\nFrom: <sip:a@b\r\nCSeq:";
    sip_msg m;
    const char *why;
    assert_int_equal(sip_msg_parse(trunc, strlen(trunc), &m, &why), 0);
    assert_false(m.complete);
    assert_int_equal(m.bad_lines, 1);
    sigbuf_auth a = { 0 };
    GString *b = sigbuf_build(&m, &a, 4);
    assert_string_equal(b->str, "<><><><><><><><><><><><><><><><200>"); /* 15 items + status */
    g_string_free(b, TRUE);
    sip_msg_clear(&m);
}

/* The word-at-a-time paths: quoted values longer than a word with a quoted-pair or the closing
 * quote at each position, unterminated ones, names that match a known name except for a byte
 * whose 0x20 bit differs, and header names likewise. */
static void test_word_paths(void **state)
{
    (void)state;
    for (size_t at = 0; at < 20; at++) {
        /* response="<at x 'a'>\"<rest>" and response="<at x 'a'>" */
        GString *q = g_string_new("NTLM response=\"");
        for (size_t i = 0; i < at; i++)
            g_string_append_c(q, 'a');
        GString *want = g_string_new(q->str + 15);
        g_string_append(q, "\\\"bcdefghijklmnopq\", cnum=\"1\"");
        g_string_append(want, "\"bcdefghijklmnopq");
        authp_header h;
        assert_int_equal(authp_parse(q->str, q->len, &h), 0);
        assert_string_equal(authp_get_known(&h, AUTHP_K_RESPONSE), want->str);
        assert_string_equal(authp_get_known(&h, AUTHP_K_CNUM), "1");
        assert_int_equal(g_array_index(h.params, authp_param, 0).quoted, 1);
        authp_header_clear(&h);
        /* cut before the closing quote: unterminated, at the end of the value */
        g_string_truncate(q, 15 + at);
        assert_int_equal(authp_parse(q->str, q->len, &h), -1);
        char *e = g_strdup_printf("unterminated quoted string at offset %zu", q->len);
        assert_string_equal(h.error, e);
        g_free(e);
        authp_header_clear(&h);
        /* a backslash as the last byte */
        g_string_append_c(q, '\\');
        assert_int_equal(authp_parse(q->str, q->len, &h), -1);
        e = g_strdup_printf("unterminated quoted string at offset %zu", q->len - 1);
        assert_string_equal(h.error, e);
        g_free(e);
        authp_header_clear(&h);
        g_string_free(q, TRUE);
        g_string_free(want, TRUE);
    }
    /* more parameters than one batch: all kept, in order */
    GString *many = g_string_new("NTLM ");
    for (int i = 0; i < 60; i++)
        g_string_append_printf(many, "%sp%d=\"%d\"", i ? ", " : "", i, i);
    authp_header h;
    assert_int_equal(authp_parse(many->str, many->len, &h), 0);
    assert_int_equal(h.params->len, 60);
    assert_string_equal(g_array_index(h.params, authp_param, 59).name, "p59");
    assert_string_equal(authp_get(&h, "p31"), "31");
    authp_header_clear(&h);
    g_string_free(many, TRUE);

    /* a '-' matches only '-' (not CR, which differs from it in the 0x20 bit alone) */
    assert_int_equal(authp_known_index("GSSAPI\rDATA", 11), -1);
    assert_int_equal(authp_known_index("Sts\ruri", 7), -1);
    assert_int_equal(authp_known_index("STS-URI", 7), AUTHP_K_STS_URI);
    assert_int_equal(authp_known_index("TargetName", 10), AUTHP_K_TARGETNAME);
    assert_int_equal(authp_known_index("targetnamE", 10), AUTHP_K_TARGETNAME);
    assert_int_equal(authp_known_index("targetnam@", 10), -1);
    assert_int_equal(authp_known_index("SNUM", 4), AUTHP_K_SNUM);
    assert_int_equal(authp_known_index("S@UM", 4), -1);
    assert_int_equal(sip_hk_classify("Call\rID", 7, NULL), SIP_HK_OTHER);
    assert_int_equal(sip_hk_classify("CALL-ID", 7, NULL), SIP_HK_CALL_ID);
    assert_int_equal(sip_hk_classify("Proxy-Authentication-INFO", 25, NULL),
                     SIP_HK_PROXY_AUTHENTICATION_INFO);
    assert_int_equal(sip_hk_classify("Proxy-Authentication\rInfo", 25, NULL), SIP_HK_OTHER);
    assert_int_equal(sip_hk_classify("P-Asserted-Identit@", 19, NULL), SIP_HK_OTHER);

    /* more headers than one batch: all kept, the first of each kind found */
    GString *msg = g_string_new("SIP/2.0 200 OK\r\n");
    for (int i = 0; i < 50; i++)
        g_string_append_printf(msg, "X-H%d: %d\r\n", i, i);
    g_string_append(msg, "Call-ID: c\r\n folded\r\nCSeq: 1 INVITE\r\n\r\n");
    sip_msg m;
    const char *why;
    assert_int_equal(sip_msg_parse(msg->str, msg->len, &m, &why), 0);
    assert_int_equal(m.hdrs->len, 52);
    const sip_hdr *ci = sip_hdr_find_kind(&m, SIP_HK_CALL_ID);
    assert_non_null(ci);
    char *v = sip_hdr_value(&m, ci, NULL);
    assert_string_equal(v, "c folded");
    g_free(v);
    assert_ptr_equal(sip_hdr_find(&m, "cseq", 0), &g_array_index(m.hdrs, sip_hdr, 51));
    sip_msg_clear(&m);
    g_string_free(msg, TRUE);

    /* request lines: SIP/2.0 at the end, after a NUL (not found), or only inside */
    static const struct {
        const char *line;
        size_t n;
        int rc;
    } rl[] = {
        { "INVITE sip:a SIP/2.0\r\n\r\n", 24, 0 },
        { "INVITE sip:\0a SIP/2.0\r\n\r\n", 25, -1 },
        { "INVITE sip:a SIP/2.0 x\r\n\r\n", 26, 0 },
        { "INVITE sip:a SIP/2.\r\n\r\n", 23, -1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rl); i++) {
        int rc = sip_msg_parse(rl[i].line, rl[i].n, &m, &why);
        assert_int_equal(rc, rl[i].rc);
        if (rc == 0)
            sip_msg_clear(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_vectors), cmocka_unit_test(test_seed_exact),
        cmocka_unit_test(test_header_rules), cmocka_unit_test(test_pai_rules),
        cmocka_unit_test(test_authp), cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_authp_fast_path), cmocka_unit_test(test_b64),
        cmocka_unit_test(test_b64_sweep),
        cmocka_unit_test(test_many_headers),
        cmocka_unit_test(test_header_kinds), cmocka_unit_test(test_word_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
