/* packet-mssip-auth.c - Wireshark glue of mssipae: a post-dissector that verifies the message
 * signatures of [MS-SIPAE] (NTLM, Kerberos, TLS-DSK) in SIP traffic.
 *
 * Thin on purpose: registration, preferences and the NTLM users table, finding every SIP
 * message of a frame, and showing results. All parsing, SA tracking and crypto live in the core
 * (sigbuf/, keytab/, verify/), which never sees a tvb.
 *
 * Results are computed once, on the first pass, and stored with the frame
 * (p_add_proto_data, one key per SIP message of the frame); every pass renders the stored
 * result, so `tshark -2`, the GUI and a one-pass run show the same fields.
 */
#define WS_BUILD_DLL
#include <wireshark.h>

#include <epan/exceptions.h>
#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h> /* prefs_get_string_value: reading tls.keylog_file */
#include <epan/proto_data.h>
#include <epan/show_exception.h>
#include <epan/uat.h>
#include <epan/to_str.h>
#include <epan/address.h>
#include <wsutil/filesystem.h> /* get_persconffile_path: naming UAT rows dropped after a bad one */


#include "keytab/keystore.h"
#include "verify/sa.h"

#ifndef MSSIPAE_VERSION
#define MSSIPAE_VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = MSSIPAE_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

static int proto_mssipae = -1;
static int proto_sip = -1;
static dissector_handle_t mssipae_handle;
static dissector_handle_t ntlmssp_handle;
static dissector_handle_t gssapi_handle;

static int hf_header = -1;
static int hf_scheme = -1;
static int hf_direction = -1;
static int hf_realm = -1;
static int hf_targetname = -1;
static int hf_opaque = -1;
static int hf_version = -1;
static int hf_qop = -1;
static int hf_crand = -1;
static int hf_srand = -1;
static int hf_cnum = -1;
static int hf_snum = -1;
static int hf_signature = -1;
static int hf_gssapi_data = -1;
static int hf_sigbuf = -1;
static int hf_sa = -1;
static int hf_sa_frame = -1;
static int hf_sig_status = -1;
static int hf_sig_valid = -1;
static int hf_sig_verdict = -1;
static int hf_sig_why = -1;
static int hf_param = -1;
/* TLS-DSK inner handshake facts (NOTE_FACT notes of the stored result) */
static int hf_tls_version = -1;
static int hf_tls_suite = -1;
static int hf_tls_ems = -1;
static int hf_tls_server_cert = -1;
static int hf_tls_server_thumb = -1;
static int hf_tls_client_cert = -1;
static int hf_tls_secret_src = -1;

static gint ett_mssipae = -1;
static gint ett_gssapi = -1;

/* one expert field per note kind (verify/verdict.h) */
static expert_field ei_notes[NOTE_KINDS];

static const value_string sig_status_vals[] = {
    { SIG_VALID, "valid" },
    { SIG_INVALID, "invalid" },
    { SIG_NO_KEY, "no key" },
    { SIG_NO_SA, "no SA" },
    { SIG_UNSUPPORTED, "unsupported" },
    { SIG_MALFORMED, "malformed" },
    { 0, NULL }
};

/* ---- preferences and the NTLM users table ---- */

static const char *pref_keytab = "";
static const char *pref_nt_password = "";
static const char *pref_keylog = "";
static const char *pref_tlsdsk_rsa_key = "";

/* the TLS-DSK server keys table: key file, password */
typedef struct {
    char *key_file;
    char *password;
} tlsdsk_key_t;

static tlsdsk_key_t *tlsdsk_keys;
static guint num_tlsdsk_keys;

UAT_FILENAME_CB_DEF(tlsdsk_keys, key_file, tlsdsk_key_t)
UAT_CSTRING_CB_DEF(tlsdsk_keys, password, tlsdsk_key_t)

static void *tlsdsk_key_copy(void *dst, const void *src, size_t len _U_)
{
    const tlsdsk_key_t *s = src;
    tlsdsk_key_t *d = dst;
    d->key_file = g_strdup(s->key_file);
    d->password = g_strdup(s->password);
    return d;
}

static void tlsdsk_key_free(void *r)
{
    tlsdsk_key_t *k = r;
    g_free(k->key_file);
    if (k->password)
        memset(k->password, 0, strlen(k->password));
    g_free(k->password);
}

static gboolean tlsdsk_key_update(void *r, char **err)
{
    tlsdsk_key_t *k = r;
    if (!k->key_file || !*k->key_file) {
        *err = g_strdup("give the key file (PEM, or PKCS#12 .pfx with its password)");
        return FALSE;
    }
    return TRUE; /* the file itself is read when the capture is (re)dissected; problems are
                    reported then as mssipae.config expert infos */
}

/* The value of Wireshark's own tls.keylog_file preference ("" when unset or not found), so
 * one key log serves the outer SIP-over-TLS and the inner TLS-DSK handshakes. */
static char *tls_keylog_pref(void)
{
    module_t *m = prefs_find_module("tls");
    pref_t *p = m ? prefs_find_preference(m, "keylog_file") : NULL;
    return p ? prefs_get_string_value(p, pref_current) : NULL;
}

typedef struct {
    char *domain;
    char *user;
    char *password;
    char *nt_hash;
} ntlm_user_t;

static ntlm_user_t *ntlm_users;
static guint num_ntlm_users;

UAT_CSTRING_CB_DEF(ntlm_users, domain, ntlm_user_t)
UAT_CSTRING_CB_DEF(ntlm_users, user, ntlm_user_t)
UAT_CSTRING_CB_DEF(ntlm_users, password, ntlm_user_t)
UAT_CSTRING_CB_DEF(ntlm_users, nt_hash, ntlm_user_t)

static void *ntlm_user_copy(void *dst, const void *src, size_t len _U_)
{
    const ntlm_user_t *s = src;
    ntlm_user_t *d = dst;
    d->domain = g_strdup(s->domain);
    d->user = g_strdup(s->user);
    d->password = g_strdup(s->password);
    d->nt_hash = g_strdup(s->nt_hash);
    return d;
}

static void ntlm_user_free(void *r)
{
    ntlm_user_t *u = r;
    g_free(u->domain);
    g_free(u->user);
    g_free(u->password);
    g_free(u->nt_hash);
}

/* One quoted field of a UAT file record at *p (uat_esc's \xNN escapes undone); NULL if none. */
static char *uat_field(const char **p)
{
    const char *q = *p;
    while (*q == ' ' || *q == ',')
        q++;
    if (*q != '"')
        return NULL;
    GString *f = g_string_new(NULL);
    for (q++; *q && *q != '"'; q++) {
        if (q[0] == '\\' && q[1] == 'x' && g_ascii_isxdigit(q[2]) && g_ascii_isxdigit(q[3])) {
            g_string_append_c(f, (char)(g_ascii_xdigit_value(q[2]) * 16 + g_ascii_xdigit_value(q[3])));
            q += 3;
        } else {
            g_string_append_c(f, *q);
        }
    }
    *p = *q ? q + 1 : q;
    return g_string_free(f, FALSE);
}

/* Wireshark stops reading a UAT file at the first row its update callback rejects: name the
 * rows of the mssipae_ntlm_users file after the bad row u (they are not loaded), in *err. */
static void ntlm_users_name_dropped(const ntlm_user_t *u, char **err)
{
    char *path = get_persconffile_path("mssipae_ntlm_users", TRUE);
    gchar *text = NULL;
    if (!path || !g_file_get_contents(path, &text, NULL, NULL)) {
        g_free(path);
        return;
    }
    gchar **lines = g_strsplit(text, "\n", -1);
    guint row = 0, bad = 0, dropped = 0;
    GString *names = g_string_new(NULL);
    for (gchar **l = lines; *l; l++) {
        const char *p = g_strstrip(*l);
        if (!*p || *p == '#')
            continue;
        row++;
        char *dom = uat_field(&p);
        char *usr = dom ? uat_field(&p) : NULL;
        if (!bad && dom && usr && g_strcmp0(dom, u->domain ? u->domain : "") == 0 &&
            g_strcmp0(usr, u->user ? u->user : "") == 0) {
            bad = row;
        } else if (bad) {
            if (++dropped <= 10)
                g_string_append_printf(names, "%s%s\\%s", dropped > 1 ? ", " : "",
                                       dom ? dom : "?", usr ? usr : "?");
        }
        g_free(dom);
        g_free(usr);
    }
    if (bad && dropped) {
        char *rows = dropped > 1 ? g_strdup_printf("rows %u-%u", bad + 1, bad + dropped)
                                 : g_strdup_printf("row %u", bad + 1);
        char *more = g_strdup_printf("%s (row %u of %s); Wireshark stops loading the table at a bad "
                                     "row, so %s (%s%s) %s not loaded either", *err, bad, path, rows,
                                     names->str, dropped > 10 ? ", ..." : "",
                                     dropped > 1 ? "are" : "is");
        g_free(rows);
        g_free(*err);
        *err = more;
    }
    g_string_free(names, TRUE);
    g_strfreev(lines);
    g_free(text);
    g_free(path);
}

static gboolean ntlm_user_check(void *r, char **err);

static gboolean ntlm_user_update(void *r, char **err)
{
    if (ntlm_user_check(r, err))
        return TRUE;
    ntlm_users_name_dropped(r, err);
    return FALSE;
}

static gboolean ntlm_user_check(void *r, char **err)
{
    ntlm_user_t *u = r;
    if ((!u->password || !*u->password) && (!u->nt_hash || !*u->nt_hash)) {
        *err = g_strdup("give a password or an NT hash");
        return FALSE;
    }
    if (u->nt_hash && *u->nt_hash) {
        if (strlen(u->nt_hash) != 32) {
            *err = g_strdup("the NT hash must be 32 hex digits");
            return FALSE;
        }
        for (const char *p = u->nt_hash; *p; p++)
            if (!g_ascii_isxdigit(*p)) {
                *err = g_strdup("the NT hash must be 32 hex digits");
                return FALSE;
            }
    }
    return TRUE;
}

/* ---- capture state: rebuilt per file and after every preference change ---- */

static keystore *the_keystore;
static sa_tracker *the_tracker;

static void mssipae_init(void)
{
    the_keystore = keystore_new();
    if (pref_keytab && *pref_keytab)
        keystore_set_keytab(the_keystore, pref_keytab);
    if (pref_nt_password && *pref_nt_password)
        keystore_set_nt_password(the_keystore, pref_nt_password);
    for (guint i = 0; i < num_ntlm_users; i++)
        keystore_add_ntlm_user(the_keystore, ntlm_users[i].domain ? ntlm_users[i].domain : "",
                               ntlm_users[i].user ? ntlm_users[i].user : "",
                               ntlm_users[i].password, ntlm_users[i].nt_hash);
    if (pref_keylog && *pref_keylog)
        keystore_set_keylog(the_keystore, pref_keylog);
    const char *tls_keylog = tls_keylog_pref();
    if (tls_keylog && *tls_keylog)
        keystore_set_tls_keylog(the_keystore, tls_keylog);
    if (pref_tlsdsk_rsa_key && *pref_tlsdsk_rsa_key)
        keystore_add_tls_rsa_key(the_keystore, pref_tlsdsk_rsa_key, NULL,
                                 "preference mssipae.tls_dsk_rsa_key");
    for (guint i = 0; i < num_tlsdsk_keys; i++) {
        char *origin = g_strdup_printf("TLS-DSK keys table row %u", i + 1);
        keystore_add_tls_rsa_key(the_keystore, tlsdsk_keys[i].key_file, tlsdsk_keys[i].password,
                                 origin);
        g_free(origin);
    }
    the_tracker = sa_tracker_new(the_keystore);
}

static void mssipae_cleanup(void)
{
    sa_tracker_free(the_tracker);
    the_tracker = NULL;
    keystore_free(the_keystore);
    the_keystore = NULL;
}

/* ---- finding the SIP messages of a frame ---- */

typedef struct {
    tvbuff_t *tvb;
    gint start;
    gint len;
} sip_pdu;

/* Every SIP PDU of the frame, in order. A sip protocol item runs to the end of its tvb, not
 * of its message; PDU i ends where PDU i+1 of the same tvb starts (or at the end of the tvb). */
static wmem_array_t *find_sip_pdus(proto_tree *tree, packet_info *pinfo)
{
    wmem_array_t *pdus = wmem_array_new(pinfo->pool, sizeof(sip_pdu));
    GPtrArray *items = proto_get_finfo_ptr_array(tree, proto_sip);
    gboolean owned = FALSE;
    if (!items) {
        items = proto_find_finfo(tree, proto_sip);
        owned = TRUE;
    }
    if (!items)
        return pdus;
    for (guint i = 0; i < items->len; i++) {
        field_info *fi = g_ptr_array_index(items, i);
        if (!fi->ds_tvb)
            continue;
        gint start = fi->start;
        gint end = (gint)tvb_captured_length(fi->ds_tvb);
        for (guint j = i + 1; j < items->len; j++) {
            field_info *fj = g_ptr_array_index(items, j);
            if (fj->ds_tvb == fi->ds_tvb && fj->start > start) {
                end = fj->start;
                break;
            }
        }
        if (start < 0 || end <= start)
            continue;
        sip_pdu p = { fi->ds_tvb, start, end - start };
        wmem_array_append_one(pdus, p);
    }
    if (owned)
        g_ptr_array_free(items, TRUE);
    return pdus;
}

static char *endpoint_str(packet_info *pinfo, const address *a, guint32 port)
{
    return wmem_strdup_printf(pinfo->pool, "%s:%u", address_to_str(pinfo->pool, a), port);
}

/* ---- rendering a stored result ---- */

static void add_notes(packet_info *pinfo, proto_item *pi, const note_list *notes)
{
    if (!notes)
        return;
    for (guint i = 0; i < notes->len; i++) {
        const mssipae_note *n = &g_array_index(notes, mssipae_note, i);
        if (n->kind < NOTE_KINDS && n->kind != NOTE_FACT)
            expert_add_info_format(pinfo, pi, &ei_notes[n->kind], "%s", n->text);
    }
}

/* NOTE_FACT notes as fields (the TLS-DSK inner handshake), in the order the core gave them. */
static void add_facts(proto_tree *st, tvbuff_t *tvb, gint off, gint len, const note_list *notes)
{
    if (!notes)
        return;
    for (guint i = 0; i < notes->len; i++) {
        const mssipae_note *n = &g_array_index(notes, mssipae_note, i);
        if (n->kind != NOTE_FACT)
            continue;
        proto_item *it = NULL;
        switch (n->fact) {
        case FACT_TLS_VERSION:
            it = proto_tree_add_string(st, hf_tls_version, tvb, off, len, n->text);
            break;
        case FACT_TLS_SUITE:
            it = proto_tree_add_string(st, hf_tls_suite, tvb, off, len, n->text);
            break;
        case FACT_TLS_EMS:
            it = proto_tree_add_boolean(st, hf_tls_ems, tvb, off, len, strcmp(n->text, "yes") == 0);
            break;
        case FACT_TLS_SERVER_CERT:
            it = proto_tree_add_string(st, hf_tls_server_cert, tvb, off, len, n->text);
            break;
        case FACT_TLS_SERVER_THUMB:
            it = proto_tree_add_string(st, hf_tls_server_thumb, tvb, off, len, n->text);
            break;
        case FACT_TLS_CLIENT_CERT:
            it = proto_tree_add_string(st, hf_tls_client_cert, tvb, off, len, n->text);
            break;
        case FACT_TLS_SECRET_SRC:
            it = proto_tree_add_string(st, hf_tls_secret_src, tvb, off, len, n->text);
            break;
        default:
            break;
        }
        if (it)
            proto_item_set_generated(it);
    }
}

/* Tokens handed to other dissectors per frame: each adds layers, and past Wireshark's layer limit
 * (gui_max_tree_depth) the rest of the frame's dissection -- our own verdicts included -- is lost.
 * Later tokens are still shown as bytes. Reset by dissect_mssipae for every frame. */
#define GSS_DISSECT_MAX 32
static gint gss_dissect_left; /* -1: the limit was reached and noted */

static void show_gssapi(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const auth_result *a)
{
    proto_item *gi = proto_tree_add_bytes_with_length(tree, hf_gssapi_data, tvb, 0, 0, a->gss,
                                                      (gint)a->gss_len);
    proto_item_set_generated(gi);
    if (gss_dissect_left <= 0) {
        if (gss_dissect_left == 0)
            expert_add_info_format(pinfo, gi, &ei_notes[NOTE_UNSUPPORTED], "gssapi-data of at "
                                   "most %d headers per frame is dissected by other dissectors; "
                                   "this and later tokens are shown as bytes only", GSS_DISSECT_MAX);
        gss_dissect_left = -1;
        return;
    }
    gss_dissect_left--;
    dissector_handle_t h = NULL;
    if (a->gss_len >= 8 && memcmp(a->gss, "NTLMSSP\0", 8) == 0)
        h = ntlmssp_handle;
    else if (a->gss_len >= 2 && (a->gss[0] == 0x60 || a->gss[0] == 0x6e || a->gss[0] == 0x6f))
        h = gssapi_handle;
    if (!h)
        return;
    tvbuff_t *child = tvb_new_child_real_data(tvb, a->gss, (guint)a->gss_len, (gint)a->gss_len);
    add_new_data_source(pinfo, child, "Decoded gssapi-data");
    proto_tree *sub = proto_item_add_subtree(gi, ett_gssapi);
    TRY {
        call_dissector(h, child, pinfo, sub);
    }
    CATCH_NONFATAL_ERRORS {
        show_exception(child, pinfo, sub, EXCEPT_CODE, GET_MESSAGE);
    }
    ENDTRY;
}

static void render_auth(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const sip_pdu *pdu,
                        const auth_result *a)
{
    gint off = pdu->start + (gint)a->line_off;
    gint len = (gint)a->line_len;
    if (off < 0 || len < 0 || !tvb_bytes_exist(pdu->tvb, off, len)) {
        off = 0;
        len = 0;
    }
    proto_item *ti = proto_tree_add_item(tree, proto_mssipae, pdu->tvb, off, len, ENC_NA);
    proto_tree *st = proto_item_add_subtree(ti, ett_mssipae);
    proto_item_append_text(ti, ", %s: %s", a->name, a->scheme ? a->scheme : "?");
    if (a->sa_id)
        proto_item_append_text(ti, ", SA %u", a->sa_id);
    if (a->status != SIG_NONE)
        proto_item_append_text(ti, ", signature %s", sig_status_name(a->status));

#define GEN(x) proto_item_set_generated(x)
    GEN(proto_tree_add_string(st, hf_header, pdu->tvb, off, len, a->name));
    if (a->scheme)
        GEN(proto_tree_add_string(st, hf_scheme, pdu->tvb, off, len, a->scheme));
    GEN(proto_tree_add_string(st, hf_direction, pdu->tvb, off, len,
                              a->dir == DIR_C2S ? "client-to-server" : "server-to-client"));
    if (a->realm)
        GEN(proto_tree_add_string(st, hf_realm, pdu->tvb, off, len, a->realm));
    if (a->targetname)
        GEN(proto_tree_add_string(st, hf_targetname, pdu->tvb, off, len, a->targetname));
    if (a->opaque)
        GEN(proto_tree_add_string(st, hf_opaque, pdu->tvb, off, len, a->opaque));
    if (a->has_version) {
        proto_item *vi = proto_tree_add_uint(st, hf_version, pdu->tvb, off, len, a->version);
        GEN(vi);
        if (a->version_from_sa)
            proto_item_append_text(vi, " (from the SA's challenge)");
    }
    if (a->qop)
        GEN(proto_tree_add_string(st, hf_qop, pdu->tvb, off, len, a->qop));
    if (a->rand)
        GEN(proto_tree_add_string(st, a->dir == DIR_C2S ? hf_crand : hf_srand, pdu->tvb, off, len,
                                  a->rand));
    if (a->has_num)
        GEN(proto_tree_add_uint(st, a->dir == DIR_C2S ? hf_cnum : hf_snum, pdu->tvb, off, len,
                                a->num));
    for (guint i = 0; a->other_params && i < a->other_params->len; i++)
        GEN(proto_tree_add_string(st, hf_param, pdu->tvb, off, len,
                                  (const char *)g_ptr_array_index(a->other_params, i)));
    if (a->sig && a->sig_len)
        GEN(proto_tree_add_bytes_with_length(st, hf_signature, pdu->tvb, off, len, a->sig,
                                             (gint)a->sig_len));
    if (a->sa_id) {
        GEN(proto_tree_add_uint(st, hf_sa, pdu->tvb, off, len, a->sa_id));
        GEN(proto_tree_add_uint(st, hf_sa_frame, pdu->tvb, off, len, a->sa_frame));
    }
    if (a->sigbuf)
        GEN(proto_tree_add_string(st, hf_sigbuf, pdu->tvb, off, len, a->sigbuf));
    if (a->status != SIG_NONE) {
        proto_item *si = proto_tree_add_uint(st, hf_sig_status, pdu->tvb, off, len, a->status);
        GEN(si);
        GEN(proto_tree_add_string(st, hf_sig_verdict, pdu->tvb, off, len,
                                  sig_status_name(a->status)));
        if (a->status == SIG_VALID || a->status == SIG_INVALID)
            GEN(proto_tree_add_boolean(st, hf_sig_valid, pdu->tvb, off, len,
                                       a->status == SIG_VALID));
        if (a->why) {
            GEN(proto_tree_add_string(st, hf_sig_why, pdu->tvb, off, len, a->why));
            proto_item_append_text(si, " (%s)", a->why);
        }
    }
    add_facts(st, pdu->tvb, off, len, a->notes);
    add_notes(pinfo, ti, a->notes);
    if (a->gss && a->gss_len)
        show_gssapi(tvb, pinfo, st, a);
#undef GEN
}

static void render(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const sip_pdu *pdu,
                   const msg_result *r)
{
    for (guint i = 0; i < r->auths->len; i++)
        render_auth(tvb, pinfo, tree, pdu, g_ptr_array_index(r->auths, i));
    if (r->notes && r->notes->len) {
        proto_item *ti = proto_tree_add_item(tree, proto_mssipae, pdu->tvb, pdu->start, 0, ENC_NA);
        proto_item_append_text(ti, ", SIP message");
        add_notes(pinfo, ti, r->notes);
    }
}

/* ---- the post-dissector ---- */

static int dissect_mssipae(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    if (!proto_is_frame_protocol(pinfo->layers, "sip") || !tree || !the_tracker)
        return 0;
    wmem_array_t *pdus = find_sip_pdus(tree, pinfo);
    guint n = wmem_array_get_count(pdus);
    gss_dissect_left = GSS_DISSECT_MAX;
    for (guint i = 0; i < n; i++) {
        sip_pdu *pdu = (sip_pdu *)wmem_array_index(pdus, i);
        const msg_result *r;
        if (!PINFO_FD_VISITED(pinfo)) {
            /* the span may run past the message into its body or the end of the tvb: the
             * core reads the start line and headers only, up to the blank line */
            guint8 *bytes = (guint8 *)tvb_memdup(pinfo->pool, pdu->tvb, pdu->start, pdu->len);
            msg_meta meta = {
                .frame = pinfo->num,
                .src = endpoint_str(pinfo, &pinfo->src, pinfo->srcport),
                .dst = endpoint_str(pinfo, &pinfo->dst, pinfo->destport),
            };
            r = sa_tracker_process(the_tracker, (const char *)bytes, (size_t)pdu->len, &meta);
            p_add_proto_data(wmem_file_scope(), pinfo, proto_mssipae, i, (void *)r);
        } else {
            r = (const msg_result *)p_get_proto_data(wmem_file_scope(), pinfo, proto_mssipae, i);
        }
        if (r && (r->auths->len || (r->notes && r->notes->len)))
            render(tvb, pinfo, tree, pdu, r);
    }
    return tvb_captured_length(tvb);
}

/* ---- registration ---- */

static void proto_register_mssipae(void)
{
    static hf_register_info hf[] = {
        { &hf_header, { "Header", "mssipae.header", FT_STRING, BASE_NONE, NULL, 0,
                        "Name of the auth header as it appears", HFILL } },
        { &hf_scheme, { "Scheme", "mssipae.scheme", FT_STRING, BASE_NONE, NULL, 0,
                        "NTLM, Kerberos, TLS-DSK or Digest", HFILL } },
        { &hf_direction, { "Direction", "mssipae.direction", FT_STRING, BASE_NONE, NULL, 0,
                           "Sender of the header: client-to-server (Authorization) or "
                           "server-to-client (challenges, Authentication-Info)", HFILL } },
        { &hf_realm, { "Realm", "mssipae.realm", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_targetname, { "Target name", "mssipae.targetname", FT_STRING, BASE_NONE, NULL, 0,
                            NULL, HFILL } },
        { &hf_opaque, { "Opaque (SA id)", "mssipae.opaque", FT_STRING, BASE_NONE, NULL, 0, NULL,
                        HFILL } },
        { &hf_version, { "Version", "mssipae.version", FT_UINT32, BASE_DEC, NULL, 0,
                         "MS-SIPAE protocol version (the SA's when the header has none)", HFILL } },
        { &hf_qop, { "QoP", "mssipae.qop", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_crand, { "Client salt", "mssipae.crand", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_srand, { "Server salt", "mssipae.srand", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_cnum, { "Client sequence number", "mssipae.cnum", FT_UINT32, BASE_DEC, NULL, 0,
                      NULL, HFILL } },
        { &hf_snum, { "Server sequence number", "mssipae.snum", FT_UINT32, BASE_DEC, NULL, 0,
                      NULL, HFILL } },
        { &hf_signature, { "Signature", "mssipae.signature", FT_BYTES, BASE_NONE, NULL, 0,
                           "Decoded response / rspauth", HFILL } },
        { &hf_gssapi_data, { "GSSAPI data", "mssipae.gssapi_data", FT_BYTES, BASE_NONE, NULL, 0,
                             "Decoded gssapi-data", HFILL } },
        { &hf_sigbuf, { "Signature buffer", "mssipae.sigbuf", FT_STRING, BASE_NONE, NULL, 0,
                        "The rebuilt input of GSS_GetMIC, byte for byte", HFILL } },
        { &hf_sa, { "Security association", "mssipae.sa", FT_UINT32, BASE_DEC, NULL, 0,
                    "SA number within the capture, in order of creation", HFILL } },
        { &hf_sa_frame, { "SA handshake frame", "mssipae.sa.frame", FT_FRAMENUM, BASE_NONE,
                          FRAMENUM_TYPE(FT_FRAMENUM_NONE), 0,
                          "Frame where this SA's handshake started", HFILL } },
        { &hf_sig_status, { "Signature status", "mssipae.sig.status", FT_UINT8, BASE_DEC,
                            VALS(sig_status_vals), 0, NULL, HFILL } },
        { &hf_sig_valid, { "Signature valid", "mssipae.sig.valid", FT_BOOLEAN, BASE_NONE, NULL, 0,
                           "Present only when the signature was recomputed", HFILL } },
        { &hf_sig_verdict, { "Verdict", "mssipae.sig.verdict", FT_STRING, BASE_NONE, NULL, 0,
                             "The signature status as text", HFILL } },
        { &hf_sig_why, { "Reason", "mssipae.sig.why", FT_STRING, BASE_NONE, NULL, 0,
                         "Why this verdict (what was tried or missing)", HFILL } },
        { &hf_param, { "Other parameter", "mssipae.param", FT_STRING, BASE_NONE, NULL, 0,
                       "A parameter MS-SIPAE does not define, as name=value (kept, not used)",
                       HFILL } },
        { &hf_tls_version, { "TLS-DSK TLS version", "mssipae.tls.version", FT_STRING, BASE_NONE,
                             NULL, 0, "Version negotiated by the inner TLS handshake", HFILL } },
        { &hf_tls_suite, { "TLS-DSK cipher suite", "mssipae.tls.cipher_suite", FT_STRING,
                           BASE_NONE, NULL, 0, "Cipher suite of the inner TLS handshake (name and id)",
                           HFILL } },
        { &hf_tls_ems, { "TLS-DSK extended master secret", "mssipae.tls.ems", FT_BOOLEAN, BASE_NONE,
                         NULL, 0, "RFC 7627 extended master secret negotiated", HFILL } },
        { &hf_tls_server_cert, { "TLS-DSK server certificate", "mssipae.tls.server_cert", FT_STRING,
                                 BASE_NONE, NULL, 0, "Subject of the server certificate", HFILL } },
        { &hf_tls_server_thumb, { "TLS-DSK server certificate thumbprint",
                                  "mssipae.tls.server_thumbprint", FT_STRING, BASE_NONE, NULL, 0,
                                  "SHA-1 thumbprint of the server certificate (as Windows shows it)",
                                  HFILL } },
        { &hf_tls_client_cert, { "TLS-DSK client certificate", "mssipae.tls.client_cert", FT_STRING,
                                 BASE_NONE, NULL, 0, "Subject of the client certificate", HFILL } },
        { &hf_tls_secret_src, { "TLS-DSK key source", "mssipae.tls.secret_source", FT_STRING,
                                BASE_NONE, NULL, 0,
                                "Where the master secret or the keys came from (never the secret)",
                                HFILL } },
    };
    static gint *ett[] = { &ett_mssipae, &ett_gssapi };
    static ei_register_info ei[] = {
        { &ei_notes[NOTE_MALFORMED], { "mssipae.malformed", PI_MALFORMED, PI_WARN,
                                       "Malformed MS-SIPAE header, parameter or token", EXPFILL } },
        { &ei_notes[NOTE_NO_SA], { "mssipae.no_sa", PI_SECURITY, PI_WARN,
                                   "Signature without a known security association", EXPFILL } },
        { &ei_notes[NOTE_UNSIGNED], { "mssipae.unsigned", PI_SECURITY, PI_WARN,
                                      "Message not signed although its SA requires it", EXPFILL } },
        { &ei_notes[NOTE_SEQ], { "mssipae.seq", PI_SEQUENCE, PI_NOTE,
                                 "cnum/snum duplicate or jump", EXPFILL } },
        { &ei_notes[NOTE_NO_KEY], { "mssipae.no_key", PI_DECRYPTION, PI_WARN,
                                    "No usable key for this signature", EXPFILL } },
        { &ei_notes[NOTE_INVALID], { "mssipae.sig.invalid", PI_SECURITY, PI_ERROR,
                                     "Signature does not verify", EXPFILL } },
        { &ei_notes[NOTE_TOKEN], { "mssipae.token", PI_SECURITY, PI_CHAT,
                                   "Handshake token", EXPFILL } },
        { &ei_notes[NOTE_UNSUPPORTED], { "mssipae.unsupported", PI_UNDECODED, PI_NOTE,
                                         "Not supported by the verifier", EXPFILL } },
        { &ei_notes[NOTE_CONFIG], { "mssipae.config", PI_DECRYPTION, PI_WARN,
                                    "Key source unusable", EXPFILL } },
        { &ei_notes[NOTE_BIND], { "mssipae.bind", PI_SEQUENCE, PI_NOTE,
                                  "How the header was bound to its security association",
                                  EXPFILL } },
    };
    static uat_field_t ntlm_user_fields[] = {
        UAT_FLD_CSTRING(ntlm_users, domain, "Domain", "NTLM domain (empty: any domain)"),
        UAT_FLD_CSTRING(ntlm_users, user, "User", "NTLM user name (case-insensitive)"),
        UAT_FLD_CSTRING(ntlm_users, password, "Password", "The user's password (or leave empty and give the NT hash)"),
        UAT_FLD_CSTRING(ntlm_users, nt_hash, "NT hash", "MD4 of the UTF-16LE password, 32 hex digits"),
        UAT_END_FIELDS
    };

    proto_mssipae = proto_register_protocol("MS-SIPAE Signature Verification", "MS-SIPAE",
                                            "mssipae");
    proto_register_field_array(proto_mssipae, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_register_field_array(expert_register_protocol(proto_mssipae), ei, array_length(ei));

    module_t *m = prefs_register_protocol(proto_mssipae, NULL);
    prefs_register_filename_preference(m, "keytab", "Keytab file",
        "MIT keytab with the SIP service's Kerberos keys; its RC4-HMAC entries also serve as "
        "NT hashes for NTLM", &pref_keytab, FALSE);
    /* a string, not a password preference: Wireshark 4.0 sets password preferences to "" when
     * they come from `-o` (prefs.c set_pref), so tshark could never be given the password;
     * Wireshark's own ntlmssp.nt_password is a string preference too */
    prefs_register_string_preference(m, "nt_password", "NTLM password",
        "A password tried for every NTLM security association (stored in clear text in the "
        "preferences file, like ntlmssp.nt_password)", &pref_nt_password);
    prefs_register_filename_preference(m, "keylog_file", "Key log file",
        "Explicit per-SA keys, one per line: NTLM <opaque> <key>, KERBEROS <opaque> <enctype> "
        "<key>, TLS-DSK <opaque> <client key> <server key>, CLIENT_RANDOM <random> <master secret>",
        &pref_keylog, FALSE);
    prefs_register_filename_preference(m, "tls_dsk_rsa_key", "TLS-DSK server RSA key",
        "PEM file (PKCS#1 or unencrypted PKCS#8) with the server's RSA private key; it is used "
        "for the TLS-DSK handshakes whose server certificate has its public key. For several "
        "servers or PKCS#12 files use the TLS-DSK server keys table. CLIENT_RANDOM lines of "
        "tls.keylog_file are used too", &pref_tlsdsk_rsa_key, FALSE);
    uat_t *users = uat_new("NTLM users", sizeof(ntlm_user_t), "mssipae_ntlm_users", TRUE,
                           &ntlm_users, &num_ntlm_users, UAT_AFFECTS_DISSECTION, NULL,
                           ntlm_user_copy, ntlm_user_update, ntlm_user_free, NULL, NULL,
                           ntlm_user_fields);
    prefs_register_uat_preference(m, "ntlm_users", "NTLM users",
        "Domain, user and password or NT hash of NTLM accounts; the user in the "
        "AUTHENTICATE message selects the row", users);
    static uat_field_t tlsdsk_key_fields[] = {
        UAT_FLD_FILENAME_OTHER(tlsdsk_keys, key_file, "Key file", uat_fld_chk_str,
                               "PEM (PKCS#1, PKCS#8, encrypted PKCS#8) or PKCS#12 (.pfx) file with "
                               "a TLS-DSK server's RSA private key"),
        UAT_FLD_CSTRING(tlsdsk_keys, password, "Password",
                        "Password of the PKCS#12 file or encrypted PKCS#8 key (empty for none)"),
        UAT_END_FIELDS
    };
    uat_t *keys = uat_new("TLS-DSK server keys", sizeof(tlsdsk_key_t), "mssipae_tls_dsk_keys",
                          TRUE, &tlsdsk_keys, &num_tlsdsk_keys, UAT_AFFECTS_DISSECTION, NULL,
                          tlsdsk_key_copy, tlsdsk_key_update, tlsdsk_key_free, NULL, NULL,
                          tlsdsk_key_fields);
    prefs_register_uat_preference(m, "tls_dsk_keys", "TLS-DSK server keys",
        "RSA private keys of TLS-DSK servers (front ends of a pool): key file and password; "
        "the key whose public key matches the handshake's server certificate is used", keys);

    mssipae_handle = register_dissector("mssipae", dissect_mssipae, proto_mssipae);
    register_init_routine(mssipae_init);
    register_cleanup_routine(mssipae_cleanup);
}

static void proto_reg_handoff_mssipae(void)
{
    proto_sip = proto_get_id_by_filter_name("sip");
    ntlmssp_handle = find_dissector("ntlmssp");
    gssapi_handle = find_dissector("gssapi");
    register_postdissector(mssipae_handle);
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    g_array_append_val(wanted, proto_sip);
    set_postdissector_wanted_hfids(mssipae_handle, wanted);
}

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_mssipae;
    plug.register_handoff = proto_reg_handoff_mssipae;
    proto_register_plugin(&plug);
}
