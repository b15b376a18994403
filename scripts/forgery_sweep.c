/* forgery_sweep.c - the forgery sweep's engine (driven by scripts/forgery_sweep.py): one flow of
 * SIP messages through the core, then, for every message whose signature is "valid":
 *
 *   - every covered item (the signature buffer's items found verbatim in the message) changed
 *     one byte at a time, at every byte of the value;
 *   - every hex digit of the signature changed;
 *   - reflection: the signature of a message sent the other way put in its place;
 *   - every byte of every header no signature covers, and of the body, changed (control: these
 *     must stay "valid").
 *
 * Each variant is the whole flow again through a fresh tracker with only that message changed;
 * the changed message's verdict for that header is compared. A covered change, a changed digit
 * or a reflected signature that still gives "valid" is a false valid, except for signature bytes
 * the protocol itself leaves unprotected, which are counted apart (RFC 4757: the 4 sequence-number
 * bytes of the encrypted SND_SEQ; NTLM without extended session security: the 4-byte RandomPad).
 *
 *   forgery_sweep [--keytab F] [--password P] [--user DOM,USER,PW] [--keylog F] [--rsa F]
 *                 [--uncovered-max N] FLOW     (N: uncovered bytes tried per message, evenly
 *                                               spaced; default all)
 *
 * FLOW: records of  u32 len, "src" | u32 len, "dst" | u32 len, message  (little-endian).
 * Prints counts; exit status 1 when a false valid or an uncovered change that lost "valid".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "keytab/keystore.h"
#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "verify/sa.h"

typedef struct {
    char *src, *dst;
    GByteArray *msg;
} flow_msg;

static GPtrArray *flow; /* flow_msg* */
static keystore *ks;

static struct {
    unsigned long variants, covered, digits, reflected, uncovered;
    unsigned long false_valid, unprotected_valid, uncovered_lost, skipped_items;
    unsigned long valid_msgs;
} cnt;

static int verbose;
static size_t uncovered_max = (size_t)-1; /* --uncovered-max: uncovered bytes tried per message */

/* Runs the flow with message k replaced by (repl, rlen) (k < 0: unchanged); returns the status
 * of auth header index ai of message k, or of every message into statuses[] when not NULL. */
static int run_flow(int k, const uint8_t *repl, size_t rlen, int ai, GArray *statuses)
{
    sa_tracker *t = sa_tracker_new(ks);
    sa_tracker_set_later(t, 1); /* as the dissector: verdicts are the same either way */
    int st = -1;
    for (guint i = 0; i < flow->len; i++) {
        flow_msg *m = flow->pdata[i];
        const uint8_t *p = m->msg->data;
        size_t n = m->msg->len;
        if ((int)i == k) {
            p = repl;
            n = rlen;
        }
        char *copy = g_malloc(n ? n : 1);
        memcpy(copy, p, n);
        msg_meta meta = { i + 1, m->src, m->dst };
        const msg_result *r = sa_tracker_process(t, copy, n, &meta);
        if (statuses) {
            for (guint a = 0; r && r->auths && a < r->auths->len; a++) {
                const auth_result *ar = g_ptr_array_index(r->auths, a);
                int v = (int)i << 16 | a << 8 | ar->status;
                g_array_append_val(statuses, v);
            }
        }
        if ((int)i == k && r && r->auths && ai >= 0 && (guint)ai < r->auths->len)
            st = ((const auth_result *)g_ptr_array_index(r->auths, ai))->status;
        g_free(copy);
    }
    sa_tracker_free(t);
    return st;
}

/* The value range [*off, *off+*len) of parameter name (response / rspauth) in the header line. */
static int find_param(const uint8_t *msg, size_t line_off, size_t line_len, const char *name,
                      size_t *off, size_t *len)
{
    size_t nl = strlen(name);
    for (size_t i = line_off; i + nl + 2 < line_off + line_len; i++) {
        if (g_ascii_strncasecmp((const char *)msg + i, name, nl) == 0 && msg[i + nl] == '=' &&
            (i == line_off || msg[i - 1] == ' ' || msg[i - 1] == ',' || msg[i - 1] == '\t')) {
            size_t s = i + nl + 1;
            if (msg[s] == '"')
                s++;
            size_t e = s;
            while (e < line_off + line_len && g_ascii_isxdigit(msg[e]))
                e++;
            *off = s;
            *len = e - s;
            return e > s;
        }
    }
    return 0;
}

static uint8_t other_char(uint8_t c)
{
    if (c >= '0' && c <= '8')
        return c + 1;
    if (c == '9')
        return '0';
    if ((c >= 'a' && c < 'z') || (c >= 'A' && c < 'Z'))
        return c + 1;
    if (c == 'z')
        return 'a';
    if (c == 'Z')
        return 'A';
    if (c == '.')
        return '-';
    if (c == '-' || c == '_')
        return '.';
    if (c == ':')
        return ';';
    if (c == '@')
        return '%';
    return 0; /* not changed: a change here could make the message unparseable */
}

static void report(const char *what, guint k, int ai, size_t at, int st)
{
    if (verbose || st == SIG_VALID)
        fprintf(stderr, "  %s: message %u header %d byte %zu -> status %d\n", what, k + 1, ai, at,
                st);
}

/* Is this signature byte one the protocol leaves unprotected? sig is the decoded signature. */
static int unprotected_byte(const auth_result *a, size_t byte)
{
    if (!a->scheme)
        return 0;
    if (g_ascii_strcasecmp(a->scheme, "Kerberos") == 0 && a->sig_len == 37 && a->sig[0] == 0x60)
        return byte >= 21 && byte < 25; /* RFC 4757: SND_SEQ's sequence number (encrypted, not
                                           checksummed; the tracker watches it) */
    if (g_ascii_strcasecmp(a->scheme, "NTLM") == 0 && a->sig_len == 16)
        return byte >= 4 && byte < 8 && a->why && strstr(a->why, "without ESS");
    return 0;
}

static void sweep_message(guint k, GArray *base)
{
    flow_msg *m = flow->pdata[k];
    const uint8_t *msg = m->msg->data;
    size_t n = m->msg->len;
    /* the auth results of this message, from a run of the unchanged flow */
    sa_tracker *t = sa_tracker_new(ks);
    const msg_result *r = NULL;
    char *copies[64];
    guint nc = 0;
    for (guint i = 0; i <= k; i++) {
        flow_msg *fm = flow->pdata[i];
        char *copy = g_memdup2(fm->msg->data, fm->msg->len ? fm->msg->len : 1);
        msg_meta meta = { i + 1, fm->src, fm->dst };
        r = sa_tracker_process(t, copy, fm->msg->len, &meta);
        if (nc < 64)
            copies[nc++] = copy;
        else
            g_free(copy);
    }
    sip_msg sm;
    const char *why;
    if (!r || !r->auths || sip_msg_parse((const char *)msg, n, &sm, &why) != 0) {
        sa_tracker_free(t);
        for (guint i = 0; i < nc; i++)
            g_free(copies[i]);
        return;
    }
    GByteArray *v = g_byte_array_new();
    /* covered: 1 where a byte belongs to a covered item of any valid header */
    uint8_t *covered = g_malloc0(n + 1);
    for (guint ai = 0; ai < r->auths->len; ai++) {
        const auth_result *a = g_ptr_array_index(r->auths, ai);
        if (a->status != SIG_VALID)
            continue;
        cnt.valid_msgs++;
        sigbuf_auth sa = { a->scheme, a->rand, a->num_str, a->realm, a->targetname, a->line_off,
                           a->line_len };
        GArray *items = g_array_new(FALSE, TRUE, sizeof(sigbuf_item));
        GString *b = sigbuf_build_items(&sm, &sa, a->version, items);
        g_string_free(b, TRUE);
        for (guint i = 0; i < items->len; i++) {
            const sigbuf_item *it = &g_array_index(items, sigbuf_item, i);
            if (!it->present || !it->len)
                continue;
            if (!it->in_msg) {
                cnt.skipped_items++;
                continue;
            }
            for (size_t j = 0; j < it->len; j++) {
                size_t at = it->msg_off + j;
                covered[at] = 1;
                uint8_t c = other_char(msg[at]);
                if (!c)
                    continue;
                g_byte_array_set_size(v, 0);
                g_byte_array_append(v, msg, (guint)n);
                v->data[at] = c;
                int st = run_flow((int)k, v->data, v->len, (int)ai, NULL);
                cnt.variants++;
                cnt.covered++;
                if (st == SIG_VALID) {
                    cnt.false_valid++;
                    report(it->name, k, (int)ai, at, st);
                }
            }
        }
        g_array_free(items, TRUE);
        /* the signature's hex digits */
        size_t so, sl;
        if (find_param(msg, a->line_off, a->line_len,
                       a->kind == AH_CREDENTIALS ? "response" : "rspauth", &so, &sl)) {
            for (size_t j = 0; j < sl; j++) {
                covered[so + j] = 1;
                g_byte_array_set_size(v, 0);
                g_byte_array_append(v, msg, (guint)n);
                uint8_t c = msg[so + j];
                int d = g_ascii_xdigit_value(c);
                v->data[so + j] = "0123456789abcdef"[(d + 1) & 15];
                int st = run_flow((int)k, v->data, v->len, (int)ai, NULL);
                cnt.variants++;
                cnt.digits++;
                if (st == SIG_VALID) {
                    if (unprotected_byte(a, j / 2))
                        cnt.unprotected_valid++;
                    else {
                        cnt.false_valid++;
                        report("signature digit", k, (int)ai, so + j, st);
                    }
                }
            }
            /* reflection: the signature of each valid header sent the other way, in its place */
            for (guint o = 0; o < flow->len; o++) {
                if (o == k)
                    continue;
                flow_msg *om = flow->pdata[o];
                sip_msg osm;
                if (sip_msg_parse((const char *)om->msg->data, om->msg->len, &osm, &why) != 0)
                    continue;
                for (guint h = 0; h < osm.hdrs->len; h++) {
                    const sip_hdr *oh = &g_array_index(osm.hdrs, sip_hdr, h);
                    size_t oo, ol;
                    int other_client = sip_hdr_is(&osm, oh, "Authorization", 0) ||
                                       sip_hdr_is(&osm, oh, "Proxy-Authorization", 0);
                    int other_server = sip_hdr_is(&osm, oh, "Authentication-Info", 0) ||
                                       sip_hdr_is(&osm, oh, "Proxy-Authentication-Info", 0);
                    if (!other_client && !other_server)
                        continue;
                    if ((a->kind == AH_CREDENTIALS) == other_client)
                        continue; /* same direction: not a reflection */
                    if (!find_param(om->msg->data, oh->line_off, oh->line_len,
                                    other_client ? "response" : "rspauth", &oo, &ol))
                        continue;
                    g_byte_array_set_size(v, 0);
                    g_byte_array_append(v, msg, (guint)so);
                    g_byte_array_append(v, om->msg->data + oo, (guint)ol);
                    g_byte_array_append(v, msg + so + sl, (guint)(n - so - sl));
                    int st = run_flow((int)k, v->data, v->len, (int)ai, NULL);
                    cnt.variants++;
                    cnt.reflected++;
                    if (st == SIG_VALID) {
                        cnt.false_valid++;
                        report("reflected signature", k, (int)ai, so, st);
                    }
                }
                sip_msg_clear(&osm);
            }
        }
    }
    /* uncovered: every byte of headers that are not sources of any item, not auth headers and
     * not Content-Length, and of the body: the valid headers must stay valid */
    int any_valid = 0;
    for (guint ai = 0; ai < r->auths->len; ai++)
        any_valid |= ((const auth_result *)g_ptr_array_index(r->auths, ai))->status == SIG_VALID;
    if (any_valid) {
        static const char *const skip[] = { "Authorization", "Proxy-Authorization",
            "Authentication-Info", "Proxy-Authentication-Info", "WWW-Authenticate",
            "Proxy-Authenticate", "Content-Length", "From", "To", "Call-ID", "CSeq", "Expires",
            "P-Asserted-Identity", "P-Preferred-Identity" };
        static const char compact[] = { 0, 0, 0, 0, 0, 0, 'l', 'f', 't', 'i', 0, 0, 0, 0 };
        GArray *ranges = g_array_new(FALSE, FALSE, sizeof(size_t) * 2);
        for (guint h = 0; h < sm.hdrs->len; h++) {
            const sip_hdr *hd = &g_array_index(sm.hdrs, sip_hdr, h);
            int skipme = 0;
            for (size_t s = 0; s < G_N_ELEMENTS(skip) && !skipme; s++)
                skipme = sip_hdr_is(&sm, hd, skip[s], compact[s]);
            if (!skipme) {
                size_t rg[2] = { hd->value_off, hd->value_off + hd->value_len };
                g_array_append_val(ranges, rg);
            }
        }
        if (sm.complete && sm.hdr_end < n) {
            size_t rg[2] = { sm.hdr_end, n };
            g_array_append_val(ranges, rg);
        }
        size_t total = 0;
        for (guint q = 0; q < ranges->len; q++) {
            size_t *rg = &g_array_index(ranges, size_t, 2 * q);
            total += rg[1] - rg[0];
        }
        size_t step = uncovered_max == (size_t)-1 || total <= uncovered_max
                          ? 1 : (total + uncovered_max - 1) / uncovered_max;
        for (guint q = 0; q < ranges->len; q++) {
            size_t *rg = &g_array_index(ranges, size_t, 2 * q);
            for (size_t at = rg[0]; at < rg[1]; at++) {
                if (covered[at] || (at - rg[0]) % step)
                    continue;
                uint8_t c = other_char(msg[at]);
                if (!c)
                    continue;
                g_byte_array_set_size(v, 0);
                g_byte_array_append(v, msg, (guint)n);
                v->data[at] = c;
                cnt.variants++;
                cnt.uncovered++;
                for (guint ai = 0; ai < r->auths->len; ai++) {
                    if (((const auth_result *)g_ptr_array_index(r->auths, ai))->status !=
                        SIG_VALID)
                        continue;
                    int st = run_flow((int)k, v->data, v->len, (int)ai, NULL);
                    if (st != SIG_VALID) {
                        cnt.uncovered_lost++;
                        fprintf(stderr, "  uncovered change lost valid: message %u header %u "
                                "byte %zu ('%c') -> status %d\n", k + 1, ai, at, msg[at], st);
                    }
                }
            }
        }
        g_array_free(ranges, TRUE);
    }
    g_free(covered);
    g_byte_array_free(v, TRUE);
    sip_msg_clear(&sm);
    sa_tracker_free(t);
    for (guint i = 0; i < nc; i++)
        g_free(copies[i]);
    (void)base;
}

static GPtrArray *read_flow(const char *path)
{
    gchar *data;
    gsize len;
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    GPtrArray *f = g_ptr_array_new();
    size_t off = 0;
    while (off + 4 <= len) {
        flow_msg *m = g_new0(flow_msg, 1);
        for (int part = 0; part < 3; part++) {
            guint32 l;
            if (off + 4 > len)
                exit(2);
            memcpy(&l, data + off, 4);
            off += 4;
            if (off + l > len)
                exit(2);
            if (part == 0)
                m->src = g_strndup(data + off, l);
            else if (part == 1)
                m->dst = g_strndup(data + off, l);
            else {
                m->msg = g_byte_array_new();
                g_byte_array_append(m->msg, (const guint8 *)data + off, l);
            }
            off += l;
        }
        g_ptr_array_add(f, m);
    }
    g_free(data);
    return f;
}

int main(int argc, char **argv)
{
    ks = keystore_new();
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keytab") && i + 1 < argc)
            keystore_set_keytab(ks, argv[++i]);
        else if (!strcmp(argv[i], "--password") && i + 1 < argc)
            keystore_set_nt_password(ks, argv[++i]);
        else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
            gchar **f = g_strsplit(argv[++i], ",", 3);
            if (f[0] && f[1] && f[2])
                keystore_add_ntlm_user(ks, f[0], f[1], f[2], NULL);
            g_strfreev(f);
        } else if (!strcmp(argv[i], "--keylog") && i + 1 < argc)
            keystore_set_keylog(ks, argv[++i]);
        else if (!strcmp(argv[i], "--tls-keylog") && i + 1 < argc)
            keystore_set_tls_keylog(ks, argv[++i]);
        else if (!strcmp(argv[i], "--rsa") && i + 1 < argc)
            keystore_add_tls_rsa_key(ks, argv[++i], NULL, "sweep");
        else if (!strcmp(argv[i], "--uncovered-max") && i + 1 < argc)
            uncovered_max = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: forgery_sweep [options] FLOW\n");
        return 2;
    }
    for (const char *const *e = keystore_config_errors(ks); *e; e++)
        fprintf(stderr, "config: %s\n", *e);
    flow = read_flow(path);
    GArray *base = g_array_new(FALSE, FALSE, sizeof(int));
    run_flow(-1, NULL, 0, -1, base);
    for (guint k = 0; k < flow->len; k++)
        sweep_message(k, base);
    printf("valid signed headers %lu; variants %lu (covered bytes %lu, signature digits %lu, "
           "reflections %lu, uncovered bytes %lu); false valid %lu; valid by protocol design "
           "(unprotected signature bytes) %lu; uncovered changes that lost valid %lu; covered "
           "items not found verbatim (skipped) %lu\n",
           cnt.valid_msgs, cnt.variants, cnt.covered, cnt.digits, cnt.reflected, cnt.uncovered,
           cnt.false_valid, cnt.unprotected_valid, cnt.uncovered_lost, cnt.skipped_items);
    g_array_free(base, TRUE);
    keystore_free(ks);
    return cnt.false_valid || cnt.uncovered_lost || !cnt.valid_msgs ? 1 : 0;
}
