/* packet-mssip-auth.c - Wireshark glue of mssipae: a post-dissector that verifies the message
 * signatures of [MS-SIPAE] (NTLM, Kerberos, TLS-DSK) in SIP traffic.
 *
 * Thin on purpose: registration, preferences and the NTLM users table, finding every SIP
 * message of a frame, and showing results. All parsing, SA tracking and crypto live in the core
 * (sigbuf/, keytab/, verify/), which never sees a tvb.
 *
 * Results are computed once, on the first pass, and a small record of each (msg_rec: the
 * outcome of every auth header) is kept for each SIP message that has something to show
 * (verify/rec_index.h: found by frame number); every pass uses the stored record,
 * and a tree that shows mssipae fields gets the full result re-created from the frame's bytes
 * (result_expand), so `tshark -2`, the GUI and a one-pass run show the same fields.
 */
#define WS_BUILD_DLL
#define WS_LOG_DOMAIN "mssipae" /* tshark --log-debug mssipae */
#include <wireshark.h>

#include <epan/exceptions.h>
#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h> /* prefs_get_string_value: reading tls.keylog_file */
#include <epan/show_exception.h>
#include <epan/uat.h>
#include <epan/to_str.h>
#include <epan/address.h>
#include <epan/plugin_if.h>
#include <epan/strutil.h>
#include <epan/stat_tap_ui.h>
#include <epan/stats_tree.h>
#include <epan/tap.h>
#include <wsutil/filesystem.h> /* also get_persconffile_path: UAT rows dropped after a bad one */
#include <wsutil/report_message.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keytab/keystore.h"
#include "sigbuf/sigbuf.h"
#include "sigbuf/sip_msg.h"
#include "verify/msg_batch.h"
#include "verify/rec_index.h"
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
static int hf_sigbuf_bytes = -1;
static int hf_sigbuf_item = -1;
static int hf_sigbuf_uncovered = -1;
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
static gint ett_sigbuf = -1;
static gint ett_uncovered = -1;

/* the tap "mssipae": one mssipae_tap_frame per frame with SIP messages, on every pass */
static int mssipae_tap = -1;

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
static const char *pref_nt_password = "";       /* string pref: -o and old preference files */
static const char *pref_nt_password_entry = ""; /* password pref: the GUI's masked entry */
static char *nt_password_secret;                /* the password in use; never in a preference */
static const char *pref_keylog = "";
static const char *pref_tlsdsk_rsa_key = "";
static gboolean pref_batch = TRUE;

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

/* Wipes a secret string of a UAT row before it is freed (secure_wipe: the store survives -O2). */
static void wipe_str(char *p)
{
    if (p)
        secure_wipe(p, strlen(p));
}

static void tlsdsk_key_free(void *r)
{
    tlsdsk_key_t *k = r;
    g_free(k->key_file);
    wipe_str(k->password);
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

/* The value of another module's string-like preference, or NULL when unset or not found. */
static char *pref_string_of(const char *module, const char *name)
{
    module_t *m = prefs_find_module(module);
    pref_t *p = m ? prefs_find_preference(m, name) : NULL;
    return p ? prefs_get_string_value(p, pref_current) : NULL;
}

/* The value of Wireshark's own tls.keylog_file preference ("" when unset or not found), so
 * one key log serves the outer SIP-over-TLS and the inner TLS-DSK handshakes. */
static char *tls_keylog_pref(void)
{
    return pref_string_of("tls", "keylog_file");
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
    wipe_str(u->password);
    g_free(u->password);
    wipe_str(u->nt_hash);
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

/* ---- the NTLM password: used, never saved, never shown ----
 *
 * Wireshark 4.0 sets a password preference to "" whatever `-o` says (prefs.c set_pref: "Read
 * value is every time empty"), and its Preferences dialog writes the preferences file before it
 * applies them. So the password has two ways in, and neither keeps it in a preference:
 *   - mssipae.nt_password, a string preference: `-o mssipae.nt_password:X` (and the line of an
 *     older preferences file);
 *   - mssipae.nt_password_entry, a password preference: the dialog's masked field (Wireshark
 *     never writes password preferences).
 * When preferences are applied, a non-empty value of either is moved into nt_password_secret
 * and the preference is reset to "" — so a later "save preferences" finds nothing to write and
 * the protocol preferences menu shows nothing. The password is kept until Wireshark exits. */
static void take_password(const char *name)
{
    module_t *m = prefs_find_module("mssipae");
    pref_t *p = m ? prefs_find_preference(m, name) : NULL;
    char *v = p ? prefs_get_string_value(p, pref_current) : NULL;
    if (!v || !*v)
        return;
    if (nt_password_secret) {
        wipe_str(nt_password_secret);
        g_free(nt_password_secret);
    }
    nt_password_secret = g_strdup(v);
    prefs_set_string_value(p, "", pref_current);
}

static void mssipae_prefs_apply(void)
{
    take_password("nt_password");
    take_password("nt_password_entry");
}

/* ---- capture state: rebuilt per file and after every preference change ---- */

/* The records of the SIP messages that have something to show (MS-SIPAE headers or notes),
 * kept in capture order on the first pass and found by frame number on every pass
 * (verify/rec_index.h: about 1.5 bytes per stored message); nothing for the other messages
 * (unsigned ones share the core's empty record and are not stored). */
static rec_index *frame_recs;

/* Where the SIP message of a record with a diagnostic left for later (msg_rec_has_later) lies,
 * so that a pass without a tree (the GUI's Expert Information, tshark -2 -z expert), which
 * does not know where the frame's SIP messages are, can still make it: which data source of
 * the frame (its position in pinfo->data_src: the same dissectors add the same sources in the
 * same order on every pass), the span in it, and a hash of the bytes to be sure. Kept in frame
 * order (the first pass), only for those records. */
typedef struct {
    guint32 frame;
    guint16 pdu;
    guint16 src;
    gint32 start, len;
    guint32 hash;
} later_loc;

static GArray *later_locs; /* later_loc */

/* The frames waiting to be verified (see batch_take); the Wireshark severity of each note
 * kind's expert info, and the highest one the batches have raised the file's expert severity
 * to. */
static msg_batch *batch;
static int note_ws_severity[NOTE_KINDS];
static int batch_severity_raised;
static void batch_verify(gboolean raise);

static void frame_recs_reset(void)
{
    if (!frame_recs)
        frame_recs = rec_index_new();
    rec_index_clear(frame_recs);
    if (!later_locs)
        later_locs = g_array_new(FALSE, FALSE, sizeof(later_loc));
    g_array_set_size(later_locs, 0);
}

static void frame_recs_free(void)
{
    rec_index_free(frame_recs);
    frame_recs = NULL;
    if (later_locs)
        g_array_free(later_locs, TRUE);
    later_locs = NULL;
}

/* "address:port" into buf (MAX_ADDR_STR_LEN + 12 bytes), without printf. */
#define ENDPOINT_LEN (MAX_ADDR_STR_LEN + 12)
static const char *endpoint_format(const address *a, guint32 port, char *buf)
{
    address_to_str_buf(a, buf, MAX_ADDR_STR_LEN);
    size_t n = strlen(buf);
    char digits[12];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + port % 10);
        port /= 10;
    } while (port);
    buf[n++] = ':';
    while (d)
        buf[n++] = digits[--d];
    buf[n] = '\0';
    return buf;
}

/* The texts of recently seen IPv4/IPv6 endpoints (twice per SIP message otherwise), in a small
 * direct-mapped cache: the text depends only on the address bytes and the port. */
#define EP_CACHE_SIZE 256
#define EP_TEXT_MAX 56 /* "[v6 address]:port" fits; longer texts are not cached */
typedef struct {
    guint8 used;
    guint8 len;        /* address length: 4 or 16 */
    guint16 port;
    guint8 tlen;       /* strlen(text) */
    guint8 addr[16];
    char text[EP_TEXT_MAX];
} ep_entry;
static ep_entry *ep_cache; /* EP_CACHE_SIZE entries, per capture file */

/* The cache slot of an endpoint, or NULL when it is not cached (no cache, not IPv4/IPv6). */
static ep_entry *ep_slot(const address *a, guint32 port)
{
    if (!ep_cache || (a->type != AT_IPv4 && a->type != AT_IPv6) ||
        (a->len != 4 && a->len != 16) || port > G_MAXUINT16 || !a->data)
        return NULL;
    const guint8 *ad = (const guint8 *)a->data;
    guint32 h = port * 0x9E3779B1u;
    for (int i = 0; i < a->len; i++)
        h = (h ^ ad[i]) * 0x01000193u;
    return &ep_cache[(h ^ (h >> 16)) % EP_CACHE_SIZE];
}

static gboolean ep_holds(const ep_entry *e, const address *a, guint32 port)
{
    return e->used && e->len == a->len && e->port == port &&
           memcmp(e->addr, a->data, (size_t)a->len) == 0;
}

/* The text of the endpoint of slot e (from ep_slot, may be NULL): the cached text itself
 * (valid until the slot is filled again), else formatted into buf and kept in the slot. */
static const char *endpoint_str(ep_entry *e, const address *a, guint32 port, char *buf)
{
    if (e && ep_holds(e, a, port))
        return e->text;
    endpoint_format(a, port, buf);
    size_t n = strlen(buf);
    if (!e || n >= EP_TEXT_MAX)
        return buf;
    e->used = 1;
    e->len = (guint8)a->len;
    e->port = (guint16)port;
    memcpy(e->addr, a->data, (size_t)a->len);
    e->tlen = (guint8)n;
    memcpy(e->text, buf, n + 1);
    return e->text;
}

/* The source and destination texts of the packet; sbuf and dbuf hold them when not cached. A
 * destination sharing the source's slot would refill it: the source's text is then copied
 * first. */
static void endpoint_strs(packet_info *pinfo, char *sbuf, char *dbuf, const char **src,
                          const char **dst)
{
    ep_entry *es = ep_slot(&pinfo->src, pinfo->srcport);
    ep_entry *ed = ep_slot(&pinfo->dst, pinfo->destport);
    *src = endpoint_str(es, &pinfo->src, pinfo->srcport, sbuf);
    if (es && es == ed && !ep_holds(ed, &pinfo->dst, pinfo->destport) && *src == es->text)
        *src = memcpy(sbuf, es->text, (size_t)es->tlen + 1);
    *dst = endpoint_str(ed, &pinfo->dst, pinfo->destport, dbuf);
}

static keystore *the_keystore;
static sa_tracker *the_tracker;

/* The expert fields, and the expert tap (0: none; tap ids start at 1): who reads expert
 * infos. */
static int expert_tap;
static int hf_ws_expert[4] = { -1, -1, -1, -1 };
/* Frames with SIP until notes_wanted is asked again on the first pass, and its last answer. */
#define LATER_RECHECK 1024
static guint later_recheck;
static gboolean first_pass_wanted;

static void mssipae_init(void)
{
    the_keystore = keystore_new();
    if (pref_keytab && *pref_keytab) {
        keystore_set_keytab(the_keystore, pref_keytab);
    } else {
        /* Wireshark's own Kerberos keytab, when ours is not set: the reasons name it so */
        char *krb_file = pref_string_of("kerberos", "file");
        if (krb_file && *krb_file)
            keystore_set_keytab_from(the_keystore, krb_file,
                                     "Wireshark's kerberos.file, as mssipae.keytab is empty");
    }
    if (nt_password_secret)
        keystore_set_nt_password(the_keystore, nt_password_secret);
    for (guint i = 0; i < num_ntlm_users; i++)
        keystore_add_ntlm_user(the_keystore, ntlm_users[i].domain ? ntlm_users[i].domain : "",
                               ntlm_users[i].user ? ntlm_users[i].user : "",
                               ntlm_users[i].password, ntlm_users[i].nt_hash);
    if (pref_keylog && *pref_keylog)
        keystore_set_keylog(the_keystore, pref_keylog);
    keystore_keylog_recheck(the_keystore, 1000); /* no stat() per message (issue 10) */
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
    /* whether a wrong NTLM signature's reflection check waits until its expert info is read
     * (issue 10): decided at the first SIP message, see dissect_mssipae */
    later_recheck = 0;
    /* who reads expert infos (looked up here: the expert tap is registered after the handoffs) */
    expert_tap = find_tap_id("expert");
    static const char *const ws_expert[] = { "_ws.expert", "_ws.expert.message",
                                             "_ws.expert.group", "_ws.expert.severity" };
    for (guint i = 0; i < G_N_ELEMENTS(ws_expert); i++)
        hf_ws_expert[i] = proto_registrar_get_id_byname(ws_expert[i]);
    frame_recs_reset();
    msg_batch_clear(batch);
    batch_severity_raised = 0;
    if (!ep_cache)
        ep_cache = g_new0(ep_entry, EP_CACHE_SIZE);
    memset(ep_cache, 0, EP_CACHE_SIZE * sizeof(ep_entry));
}

static void mssipae_cleanup(void)
{
    /* a pass that ends without a postseq clean-up (tshark's single pass): its last frames are
     * verified all the same, although nobody reads them now */
    batch_verify(FALSE);
    msg_batch_free(batch);
    batch = NULL;
    frame_recs_free();
    g_free(ep_cache);
    ep_cache = NULL;
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

/* The bytes of a SIP PDU, valid as long as the packet: the tvb's own (a copy in packet memory
 * only when the tvb is not contiguous, e.g. a composite reassembled one), never a copy per
 * use. */
static const char *pdu_bytes(const sip_pdu *pdu)
{
    return (const char *)tvb_get_ptr(pdu->tvb, pdu->start, pdu->len);
}

/* The SIP PDUs of a frame: a few on the stack, more in packet memory. */
#define SIP_PDUS_LOCAL 8
typedef struct {
    sip_pdu *v;
    guint n;
    sip_pdu local[SIP_PDUS_LOCAL];
} sip_pdus;

/* Every SIP PDU of the frame, in order, into *out. A sip protocol item runs to the end of its
 * tvb, not of its message; PDU i ends where PDU i+1 of the same tvb starts (or at the end of
 * the tvb). */
static void find_sip_pdus(proto_tree *tree, packet_info *pinfo, sip_pdus *out)
{
    out->v = out->local;
    out->n = 0;
    GPtrArray *items = proto_get_finfo_ptr_array(tree, proto_sip);
    gboolean owned = FALSE;
    if (G_UNLIKELY(!items)) {
        items = proto_find_finfo(tree, proto_sip);
        owned = TRUE;
    }
    if (!items)
        return;
    if (G_UNLIKELY(items->len > SIP_PDUS_LOCAL))
        out->v = wmem_alloc_array(pinfo->pool, sip_pdu, items->len);
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
        out->v[out->n++] = p;
    }
    if (owned)
        g_ptr_array_free(items, TRUE);
}

/* 1 when SIP is among the frame's layers: proto_is_frame_protocol(layers, "sip") without
 * looking up and comparing every layer's name. */
static gboolean frame_has_sip(const packet_info *pinfo)
{
    for (wmem_list_frame_t *l = wmem_list_head(pinfo->layers); l; l = wmem_list_frame_next(l))
        if (GPOINTER_TO_INT(wmem_list_frame_data(l)) == proto_sip)
            return TRUE;
    return FALSE;
}

/* ---- rendering a stored result ---- */

/* Text from the wire (or made from it by the core: reasons, certificate subjects) as valid
 * UTF-8, so that -T json / ek / pdml output stays valid: s itself when it is, else a copy in
 * packet memory with every invalid byte replaced by U+FFFD. The raw bytes stay reachable
 * (mssipae.sigbuf.bytes, and the message bytes the items point at). */
static const char *utf8_len(packet_info *pinfo, const char *s, gssize len)
{
    if (!s)
        return NULL;
    if (len < 0)
        len = (gssize)strlen(s);
    /* g_utf8_validate() with a length also refuses NUL bytes, which would cut the string */
    if (g_utf8_validate(s, len, NULL))
        return s[len] == '\0' ? s : wmem_strndup(pinfo->pool, s, (size_t)len);
    wmem_strbuf_t *b = wmem_strbuf_sized_new(pinfo->pool, (gsize)len + 8, 0);
    const char *p = s, *e = s + len;
    while (p < e) {
        const char *bad;
        if (g_utf8_validate(p, e - p, &bad)) {
            wmem_strbuf_append_len(b, p, (gsize)(e - p));
            break;
        }
        wmem_strbuf_append_len(b, p, (gsize)(bad - p));
        wmem_strbuf_append(b, "\xef\xbf\xbd"); /* U+FFFD */
        p = bad + 1;
    }
    return wmem_strbuf_get_str(b);
}

static const char *utf8(packet_info *pinfo, const char *s)
{
    return utf8_len(pinfo, s, -1);
}

/* 1 when tree is shown (-V, -T fields/json/pdml, the GUI's details): labels are seen. */
static gboolean tree_shown(proto_tree *tree)
{
    return tree && PTREE_DATA(tree)->visible;
}

/* s as valid UTF-8 for field hf below t, or s itself when nothing can see that field: a tree
 * that is not shown and a field no filter, column or -e names, whose item Wireshark does not
 * even create (tshark -Y mssipae.sig.valid==0 makes a tree for the filter only). Spares a
 * UTF-8 check, and sometimes a copy, per field that is not used. */
static const char *utf8_field(packet_info *pinfo, proto_tree *t, int hf, const char *s)
{
    return proto_field_is_referenced(t, hf) ? utf8(pinfo, s) : s;
}

/* Expert infos from notes; pi may be NULL (a pass without a tree): the expert tap still sees
 * them, so Analyze > Expert Information and `tshark -z expert` list them without a filter. */
static void add_notes(packet_info *pinfo, proto_item *pi, const note_list *notes)
{
    if (!notes)
        return;
    for (guint i = 0; i < notes->len; i++) {
        const mssipae_note *n = &g_array_index(notes, mssipae_note, i);
        if (n->kind < NOTE_KINDS && n->kind != NOTE_FACT)
            expert_add_info_format(pinfo, pi, &ei_notes[n->kind], "%s", utf8(pinfo, n->text));
    }
}

/* The expert infos of one stored message record without a tree (every pass, see above). */
static void add_notes_no_tree(packet_info *pinfo, const msg_rec *r)
{
    const result_store *rs = sa_tracker_results(the_tracker);
    for (guint i = 0; i < msg_rec_n_auths(r); i++) {
        add_notes(pinfo, NULL, msg_rec_auth_notes(rs, r, i));
        note_kind kind;
        note_sev sev;
        char *vn = auth_rec_verdict_note(rs, &r->auths[i], &kind, &sev);
        if (vn)
            expert_add_info_format(pinfo, NULL, &ei_notes[kind], "%s", utf8(pinfo, vn));
        g_free(vn);
    }
    add_notes(pinfo, NULL, msg_rec_notes(rs, r));
}

/* The expert infos of one full result without a tree, in the order of add_notes_no_tree. */
static void add_notes_full(packet_info *pinfo, const msg_result *full)
{
    for (guint i = 0; i < full->auths->len; i++)
        add_notes(pinfo, NULL, ((const auth_result *)g_ptr_array_index(full->auths, i))->notes);
    add_notes(pinfo, NULL, full->notes);
}

/* 1 when this pass's expert infos are read: a tree that is shown (-V, -T, the GUI's packet
 * details), a filter, column or -e naming an expert field (Wireshark's or ours), or a listener
 * of the expert tap (tshark -z expert, the GUI's Expert Information). A diagnostic left for
 * later is made then only: nobody else would see it. (Its verdict's own expert info, which has
 * the same severity, is added anyway: the highest severity of the file is the same.) */
static gboolean notes_wanted(proto_tree *tree)
{
    if (tree_shown(tree) || (expert_tap > 0 && have_tap_listener(expert_tap)))
        return TRUE;
    if (!tree)
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(hf_ws_expert); i++)
        if (hf_ws_expert[i] >= 0 && proto_field_is_referenced(tree, hf_ws_expert[i]))
            return TRUE;
    for (guint i = 0; i < NOTE_KINDS; i++) /* NOTE_FACT has no expert field (hf 0) */
        if (i != NOTE_FACT && ei_notes[i].hf > 0 &&
            proto_field_is_referenced(tree, ei_notes[i].hf))
            return TRUE;
    return FALSE;
}

/* A fingerprint of a SIP message's bytes, to recognise it on a later pass: its length and
 * FNV-1a over 8-byte words of its first 128 bytes and last 32 (the start line, the Via branch
 * and the end of the headers are unique enough; hashing every byte would cost as much as the
 * check it lets us skip). */
static guint32 bytes_hash32(const guint8 *p, gint len)
{
    guint64 h = 14695981039346656037u ^ (guint64)len;
    gint head = len < 128 ? len & ~7 : 128;
    for (gint i = 0; i < head; i += 8) {
        guint64 w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211u;
    }
    for (gint i = len >= head + 32 ? len - 32 : head; i < len; i++)
        h = (h ^ p[i]) * 1099511628211u;
    return (guint32)(h ^ h >> 32);
}

/* Which data source of the frame tvb is (its position in pinfo->data_src), G_MAXUINT32 when
 * none. */
static guint32 data_source_index(packet_info *pinfo, tvbuff_t *tvb)
{
    guint32 src = 0;
    for (GSList *l = pinfo->data_src; l; l = l->next, src++)
        if (get_data_source_tvb((const struct data_source *)l->data) == tvb)
            return src;
    return G_MAXUINT32;
}

/* Remembers that SIP message pdu_i of frame lies at start .. start + len of the frame's data
 * source src, with these bytes (later_loc), for a frame the record index has just stored (so
 * frames come in increasing order); nothing when src or pdu_i does not fit. */
static void later_add(guint32 frame, guint pdu_i, guint32 src, gint32 start, gint32 len,
                      const char *bytes)
{
    if (src > G_MAXUINT16 || pdu_i > G_MAXUINT16)
        return;
    later_loc loc = { frame, (guint16)pdu_i, (guint16)src, start, len,
                      bytes_hash32((const guint8 *)bytes, len) };
    g_array_append_val(later_locs, loc);
}

/* later_add for SIP message pdu_i of the frame being dissected. */
static void later_remember(packet_info *pinfo, guint pdu_i, const sip_pdu *pdu)
{
    later_add(pinfo->num, pdu_i, data_source_index(pinfo, pdu->tvb), pdu->start, pdu->len,
              pdu_bytes(pdu));
}

/* Whether a message's record is kept for its frame: it has MS-SIPAE headers or notes (the
 * others share the core's empty record). */
static gboolean rec_kept(const msg_rec *r)
{
    return msg_rec_n_auths(r) || msg_rec_notes(sa_tracker_results(the_tracker), r);
}

/* The bytes of SIP message pdu_i of this frame as the first pass saw them, from later_locs and
 * the frame's data sources; NULL when not found (or no longer the same bytes). */
static const char *later_bytes(packet_info *pinfo, guint pdu_i, gint *len)
{
    if (!later_locs)
        return NULL;
    const later_loc *v = (const later_loc *)(const void *)later_locs->data;
    guint lo = 0, hi = later_locs->len;
    while (lo < hi) { /* the first entry not before (frame, pdu_i) */
        guint mid = lo + (hi - lo) / 2;
        if (v[mid].frame < pinfo->num || (v[mid].frame == pinfo->num && v[mid].pdu < pdu_i))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == later_locs->len || v[lo].frame != pinfo->num || v[lo].pdu != pdu_i)
        return NULL;
    const later_loc *loc = &v[lo];
    GSList *l = g_slist_nth(pinfo->data_src, loc->src);
    tvbuff_t *t = l ? get_data_source_tvb((const struct data_source *)l->data) : NULL;
    if (!t || loc->start < 0 || loc->len <= 0 ||
        tvb_captured_length_remaining(t, loc->start) < loc->len)
        return NULL;
    const guint8 *p = tvb_get_ptr(t, loc->start, loc->len);
    if (bytes_hash32(p, loc->len) != loc->hash)
        return NULL;
    *len = loc->len;
    return (const char *)p;
}

/* Info column, in the style of TCP's bracketed notes: one note per signed header
 * ("[MS-SIPAE invalid signature]", "[MS-SIPAE valid]", ...) and one for an unsigned message on
 * a signing SA. Every pass, with or without a tree. */
static const char *info_note(sig_status st)
{
    switch (st) {
    case SIG_VALID: return "[MS-SIPAE valid]";
    case SIG_INVALID: return "[MS-SIPAE invalid signature]";
    case SIG_NO_KEY: return "[MS-SIPAE no key]";
    case SIG_NO_SA: return "[MS-SIPAE no SA]";
    case SIG_UNSUPPORTED: return "[MS-SIPAE unsupported]";
    case SIG_MALFORMED: return "[MS-SIPAE malformed signature]";
    default: return NULL;
    }
}

static void add_info_column(packet_info *pinfo, const msg_rec *r)
{
    for (guint i = 0; i < msg_rec_n_auths(r); i++) {
        const char *t = info_note((sig_status)r->auths[i].status);
        if (t)
            col_append_sep_str(pinfo->cinfo, COL_INFO, " ", t);
    }
    if (msg_rec_unsigned_sa(sa_tracker_results(the_tracker), r, NULL))
        col_append_sep_str(pinfo->cinfo, COL_INFO, " ", "[MS-SIPAE unsigned]");
}

/* NOTE_FACT notes as fields (the TLS-DSK inner handshake), in the order the core gave them. */
static void add_facts(packet_info *pinfo, proto_tree *st, tvbuff_t *tvb, gint off, gint len,
                      const note_list *notes)
{
    if (!notes)
        return;
    for (guint i = 0; i < notes->len; i++) {
        const mssipae_note *n = &g_array_index(notes, mssipae_note, i);
        if (n->kind != NOTE_FACT)
            continue;
        proto_item *it = NULL;
        const char *text = utf8(pinfo, n->text);
        switch (n->fact) {
        case FACT_TLS_VERSION:
            it = proto_tree_add_string(st, hf_tls_version, tvb, off, len, text);
            break;
        case FACT_TLS_SUITE:
            it = proto_tree_add_string(st, hf_tls_suite, tvb, off, len, text);
            break;
        case FACT_TLS_EMS:
            it = proto_tree_add_boolean(st, hf_tls_ems, tvb, off, len, strcmp(n->text, "yes") == 0);
            break;
        case FACT_TLS_SERVER_CERT:
            it = proto_tree_add_string(st, hf_tls_server_cert, tvb, off, len, text);
            break;
        case FACT_TLS_SERVER_THUMB:
            it = proto_tree_add_string(st, hf_tls_server_thumb, tvb, off, len, text);
            break;
        case FACT_TLS_CLIENT_CERT:
            it = proto_tree_add_string(st, hf_tls_client_cert, tvb, off, len, text);
            break;
        case FACT_TLS_SECRET_SRC:
            it = proto_tree_add_string(st, hf_tls_secret_src, tvb, off, len, text);
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
    /* the result is freed after rendering; the new data source lives as long as the packet */
    const guint8 *gss = (const guint8 *)wmem_memdup(pinfo->pool, a->gss, a->gss_len);
    tvbuff_t *child = tvb_new_child_real_data(tvb, gss, (guint)a->gss_len, (gint)a->gss_len);
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

/* 1 when the message bytes [off, off+len) fall inside header h's line(s). */
static int in_header(const sip_hdr *h, size_t off)
{
    return off >= h->line_off && off < h->line_off + h->line_len;
}

/* The signature buffer: the full buffer as a string and as bytes, then one item per buffer item
 * with its name and value; an item whose value stands verbatim in the message sits on exactly
 * those bytes of the SIP message (its data source: frame, reassembled or decrypted TLS), so a
 * click highlights what the signature covers. Below, what the signature does not cover: the
 * start line, every other header, the body.
 *
 * The item positions are not stored: the message is parsed again here and the buffer rebuilt
 * with the stored version (sigbuf_build_items), and used only if it equals the stored buffer. */
static void render_sigbuf(packet_info *pinfo, proto_tree *st, const sip_pdu *pdu, gint hoff,
                          gint hlen, const auth_result *a)
{
    /* on the whole message: the items below come from all over it (PDML also shows a child
     * that starts before its parent at a wrong position) */
    proto_item *bi = proto_tree_add_string(st, hf_sigbuf, pdu->tvb, pdu->start, pdu->len,
                                           proto_field_is_referenced(st, hf_sigbuf)
                                               ? utf8_len(pinfo, a->sigbuf, (gssize)a->sigbuf_len)
                                               : a->sigbuf);
    proto_item_set_generated(bi);
    proto_tree *bt = proto_item_add_subtree(bi, ett_sigbuf);
    proto_item_set_generated(proto_tree_add_bytes_with_length(
        bt, hf_sigbuf_bytes, pdu->tvb, pdu->start, pdu->len, (const guint8 *)a->sigbuf,
        (gint)a->sigbuf_len));
    if (!bt)
        return;
    /* The breakdown only adds items below bt: skip it (a parse and a buffer rebuild per
     * header) when none of them can be seen -- a tree that is not shown (tshark -Y ... without
     * -V/-T) and neither item field filtered on. (Its one expert info, "breakdown unavailable",
     * cannot occur here: result_expand parsed the same bytes already.) */
    if (!proto_field_is_referenced(bt, hf_sigbuf_item) &&
        !proto_field_is_referenced(bt, hf_sigbuf_uncovered))
        return;

    const char *msg = pdu_bytes(pdu);
    sip_msg m;
    const char *why = NULL;
    if (sip_msg_parse(msg, (size_t)pdu->len, &m, &why) != 0) {
        proto_tree_add_expert_format(bt, pinfo, &ei_notes[NOTE_UNSUPPORTED], pdu->tvb, hoff, hlen,
                                     "Buffer breakdown unavailable: %s", why ? why : "not SIP");
        return;
    }
    sigbuf_auth sa = {
        .scheme = a->scheme, .rand = a->rand, .num = a->num_str, .realm = a->realm,
        .targetname = a->targetname, .hdr_off = a->line_off, .hdr_len = a->line_len,
    };
    GArray *items = g_array_new(FALSE, FALSE, sizeof(sigbuf_item));
    GString *b = sigbuf_build_items(&m, &sa, a->has_version ? a->version : 0, items);
    if (b->len != a->sigbuf_len || memcmp(b->str, a->sigbuf, b->len) != 0) {
        proto_item_append_text(bi, " (breakdown unavailable: the message does not rebuild it)");
        goto out;
    }
    for (guint i = 0; i < items->len; i++) {
        const sigbuf_item *it = &g_array_index(items, sigbuf_item, i);
        proto_item *ii;
        if (it->in_msg && tvb_bytes_exist(pdu->tvb, pdu->start + (gint)it->msg_off, (gint)it->len)) {
            /* the value's own bytes, as UTF-8 (invalid bytes become U+FFFD in the field) */
            gint o = pdu->start + (gint)it->msg_off;
            ii = proto_tree_add_item(bt, hf_sigbuf_item, pdu->tvb, o, (gint)it->len, ENC_UTF_8);
            const char *v = utf8_len(pinfo, b->str + it->off, (gssize)it->len);
            proto_item_set_text(ii, "%s: <%s>", it->name, format_text(pinfo->pool, (const guchar *)v, strlen(v)));
        } else {
            /* absent ("<>"), or not verbatim (a folded header, an unquoted parameter) */
            const char *v = utf8_len(pinfo, b->str + it->off, (gssize)it->len);
            ii = proto_tree_add_string_format(bt, hf_sigbuf_item, pdu->tvb, hoff, hlen, v,
                                              "%s: <%s> (%s)", it->name,
                                              format_text(pinfo->pool, (const guchar *)v, strlen(v)),
                                              it->present ? "not verbatim in the message"
                                                          : "absent from the message");
            proto_item_set_generated(ii);
        }
    }

    /* what the signature does not cover */
    proto_tree *ut = proto_tree_add_subtree(bt, pdu->tvb, pdu->start, pdu->len, ett_uncovered,
                                            NULL, "Not covered by the signature");
    size_t first_hdr = m.hdrs->len ? g_array_index(m.hdrs, sip_hdr, 0).line_off : m.hdr_end;
    proto_tree_add_string_format(ut, hf_sigbuf_uncovered, pdu->tvb, pdu->start, (gint)first_hdr,
                                 m.is_request ? "Request-Line" : "Status-Line",
                                 m.is_request ? "Request-Line (the method is covered as the CSeq "
                                                "method; the Request-URI is not)"
                                              : "Status-Line (only the status code is covered)");
    for (guint i = 0; i < m.hdrs->len; i++) {
        const sip_hdr *h = &g_array_index(m.hdrs, sip_hdr, i);
        int covered = h->line_off == a->line_off;
        for (guint j = 0; !covered && j < items->len; j++) {
            const sigbuf_item *it = &g_array_index(items, sigbuf_item, j);
            covered = it->in_msg && in_header(h, it->msg_off);
        }
        if (covered)
            continue;
        const char *name = utf8_len(pinfo, h->name.p, (gssize)h->name.n);
        proto_tree_add_string_format(ut, hf_sigbuf_uncovered, pdu->tvb,
                                     pdu->start + (gint)h->line_off, (gint)h->line_len, name,
                                     "%s header", format_text(pinfo->pool, (const guchar *)name, strlen(name)));
    }
    if (m.complete && m.hdr_end < (size_t)pdu->len)
        proto_tree_add_string_format(ut, hf_sigbuf_uncovered, pdu->tvb,
                                     pdu->start + (gint)m.hdr_end,
                                     pdu->len - (gint)m.hdr_end, "body",
                                     "Message body (%d bytes)", pdu->len - (gint)m.hdr_end);
out:
    g_string_free(b, TRUE);
    g_array_free(items, TRUE);
    sip_msg_clear(&m);
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
    gboolean shown = tree_shown(tree); /* else the labels are not seen */
    proto_item_append_text(ti, ", %s: %s", shown ? utf8(pinfo, a->name) : a->name,
                           !a->scheme ? "?" : shown ? utf8(pinfo, a->scheme) : a->scheme);
    if (a->sa_id)
        proto_item_append_text(ti, ", SA %u", a->sa_id);
    if (a->status != SIG_NONE)
        proto_item_append_text(ti, ", signature %s", sig_status_name(a->status));

#define GEN(x) proto_item_set_generated(x)
    GEN(proto_tree_add_string(st, hf_header, pdu->tvb, off, len,
                              utf8_field(pinfo, st, hf_header, a->name)));
    if (a->scheme)
        GEN(proto_tree_add_string(st, hf_scheme, pdu->tvb, off, len,
                              utf8_field(pinfo, st, hf_scheme, a->scheme)));
    GEN(proto_tree_add_string(st, hf_direction, pdu->tvb, off, len,
                              a->dir == DIR_C2S ? "client-to-server" : "server-to-client"));
    if (a->realm)
        GEN(proto_tree_add_string(st, hf_realm, pdu->tvb, off, len,
                              utf8_field(pinfo, st, hf_realm, a->realm)));
    if (a->targetname)
        GEN(proto_tree_add_string(st, hf_targetname, pdu->tvb, off, len,
                              utf8_field(pinfo, st, hf_targetname, a->targetname)));
    if (a->opaque)
        GEN(proto_tree_add_string(st, hf_opaque, pdu->tvb, off, len,
                              utf8_field(pinfo, st, hf_opaque, a->opaque)));
    if (a->has_version) {
        proto_item *vi = proto_tree_add_uint(st, hf_version, pdu->tvb, off, len, a->version);
        GEN(vi);
        if (a->version_from_sa)
            proto_item_append_text(vi, " (from the SA's challenge)");
    }
    if (a->qop)
        GEN(proto_tree_add_string(st, hf_qop, pdu->tvb, off, len,
                              utf8_field(pinfo, st, hf_qop, a->qop)));
    if (a->rand) {
        int hf = a->dir == DIR_C2S ? hf_crand : hf_srand;
        GEN(proto_tree_add_string(st, hf, pdu->tvb, off, len, utf8_field(pinfo, st, hf, a->rand)));
    }
    if (a->has_num)
        GEN(proto_tree_add_uint(st, a->dir == DIR_C2S ? hf_cnum : hf_snum, pdu->tvb, off, len,
                                a->num));
    for (guint i = 0; a->other_params && i < a->other_params->len; i++)
        GEN(proto_tree_add_string(st, hf_param, pdu->tvb, off, len,
                                  utf8_field(pinfo, st, hf_param,
                                             g_ptr_array_index(a->other_params, i))));
    if (a->sig && a->sig_len)
        GEN(proto_tree_add_bytes_with_length(st, hf_signature, pdu->tvb, off, len, a->sig,
                                             (gint)a->sig_len));
    if (a->sa_id) {
        GEN(proto_tree_add_uint(st, hf_sa, pdu->tvb, off, len, a->sa_id));
        GEN(proto_tree_add_uint(st, hf_sa_frame, pdu->tvb, off, len, a->sa_frame));
    }
    if (a->status != SIG_NONE) {
        proto_item *si = proto_tree_add_uint(st, hf_sig_status, pdu->tvb, off, len, a->status);
        GEN(si);
        GEN(proto_tree_add_string(st, hf_sig_verdict, pdu->tvb, off, len,
                                  sig_status_name(a->status)));
        if (a->status == SIG_VALID || a->status == SIG_INVALID)
            GEN(proto_tree_add_boolean(st, hf_sig_valid, pdu->tvb, off, len,
                                       a->status == SIG_VALID));
        if (a->why) {
            /* the text of a field and of the status label */
            const char *why = shown || proto_field_is_referenced(st, hf_sig_why)
                                  ? utf8(pinfo, a->why) : a->why;
            GEN(proto_tree_add_string(st, hf_sig_why, pdu->tvb, off, len, why));
            proto_item_append_text(si, " (%s)", why);
        }
    }
    /* after the verdict: the buffer breakdown is what one reads next when it is "invalid" */
    if (a->sigbuf)
        render_sigbuf(pinfo, st, pdu, off, len, a);
    add_facts(pinfo, st, pdu->tvb, off, len, a->notes);
    add_notes(pinfo, ti, a->notes);
    if (a->gss && a->gss_len)
        show_gssapi(tvb, pinfo, st, a);
#undef GEN
}

/* Out of line and in the cold section: only a tree that shows mssipae gets here, while every
 * frame runs the post-dissector around it (whose code tshark fetches again for each frame). */
static void __attribute__((noinline, cold)) render(tvbuff_t *tvb, packet_info *pinfo,
                                                   proto_tree *tree, const sip_pdu *pdu,
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

/* What the tap "mssipae" gets for each frame with SIP messages, on every pass: the stored
 * results of its messages, in order (packet memory; the results themselves live with the
 * tracker). */
typedef struct {
    guint n;
    const msg_rec **r;
} mssipae_tap_frame;

/* Out of line: only when a tap listens (every frame runs the post-dissector around it). */
static void __attribute__((noinline, cold)) queue_tap(packet_info *pinfo, const void **recs,
                                                      guint n)
{
    mssipae_tap_frame *tf = wmem_new(pinfo->pool, mssipae_tap_frame);
    tf->n = n;
    tf->r = wmem_alloc_array(pinfo->pool, const msg_rec *, n);
    memcpy(tf->r, recs, n * sizeof *tf->r);
    tap_queue_packet(mssipae_tap, pinfo, tf);
}

/* ---- verifying in batches (verify/msg_batch.h) ----
 *
 * On a pass where nobody reads a frame's results while it is dissected -- no columns, no
 * mssipae field shown or filtered on, no reader of its expert infos, no listener of our tap:
 * the first pass of tshark -2, tshark -q, the GUI reading a file -- the frame's SIP messages
 * are copied into a batch and verified later, all together and in capture order: when the
 * batch is full, before any other frame is dissected that is not batched (a look-up on a later
 * pass, a frame whose results are read), before the keys are exported, and when the pass ends.
 * The tracker sees the same messages in the same order, so the records are the ones the frames
 * would have had. What the frame's own dissection would have left (its expert infos, in this
 * pass only the file's highest expert severity) is left when the batch runs. */
#define BATCH_FRAMES 64
#define BATCH_BYTES (256 * 1024)

/* Whether note kind k's expert info is more severe than top's (-1: none yet). */
static gboolean more_severe(int k, int top)
{
    return top < 0 || note_ws_severity[k] > note_ws_severity[top];
}

/* The note kind of the highest severity among the expert infos add_notes_no_tree would add for
 * r, -1 when none. */
static int rec_top_note(const msg_rec *r)
{
    const result_store *rs = sa_tracker_results(the_tracker);
    int top = -1;
#define TAKE(k) do { if ((k) < NOTE_KINDS && (k) != NOTE_FACT && more_severe(k, top)) \
                         top = (k); } while (0)
    for (guint i = 0; i < msg_rec_n_auths(r); i++) {
        const note_list *nl = msg_rec_auth_notes(rs, r, i);
        for (guint j = 0; nl && j < nl->len; j++)
            TAKE(g_array_index(nl, mssipae_note, j).kind);
        note_kind kind;
        note_sev sev;
        if ((r->auths[i].flags & AR_VERDICT_NOTE) &&
            auth_verdict_note_kind((sig_status)r->auths[i].status, &kind, &sev))
            TAKE(kind);
    }
    const note_list *nl = msg_rec_notes(rs, r);
    for (guint j = 0; nl && j < nl->len; j++)
        TAKE(g_array_index(nl, mssipae_note, j).kind);
#undef TAKE
    return top;
}

/* Verifies the batched frames, in order, and stores their records as dissect_mssipae would
 * have; with raise, raises the file's highest expert severity as their expert infos would
 * have. */
static void batch_verify(gboolean raise)
{
    if (!batch || !msg_batch_frames(batch) || !the_tracker)
        return;
    const result_store *rs = sa_tracker_results(the_tracker);
    int top = -1;
    guint32 top_frame = 0;
    ws_debug("verifying a batch of %u frames, %u to %u", msg_batch_frames(batch),
             msg_batch_frame_at(batch, 0)->meta.frame,
             msg_batch_frame_at(batch, msg_batch_frames(batch) - 1)->meta.frame);
    for (guint f = 0; f < msg_batch_frames(batch); f++) {
        const msg_batch_frame *bf = msg_batch_frame_at(batch, f);
        const void *recs[SIP_PDUS_LOCAL];
        guint16 kept_i[SIP_PDUS_LOCAL];
        guint n = 0;
        for (guint i = 0; i < bf->n && i < SIP_PDUS_LOCAL; i++) {
            const msg_batch_msg *m = msg_batch_msg_at(batch, bf->first + i);
            const msg_rec *r = sa_tracker_process_rec(the_tracker, m->msg, m->len, &bf->meta);
            if (rec_kept(r)) {
                recs[n] = r;
                kept_i[n++] = (guint16)i;
            }
        }
        if (!rec_index_add(frame_recs, bf->meta.frame, n, recs, kept_i, (guint16)bf->n))
            continue;
        for (guint j = 0; j < n; j++) {
            const msg_batch_msg *m = msg_batch_msg_at(batch, bf->first + kept_i[j]);
            if (G_UNLIKELY(msg_rec_has_later(rs, recs[j]))) /* where later_bytes finds it */
                later_add(bf->meta.frame, kept_i[j], m->source, m->offset, (gint32)m->len,
                          m->msg);
            int k = rec_top_note(recs[j]);
            if (k >= 0 && more_severe(k, top)) {
                top = k;
                top_frame = bf->meta.frame;
            }
        }
    }
    msg_batch_clear(batch);
    /* The frames' expert infos were not added: nobody read them, but they also raise the
     * file's highest severity (the GUI's status bar). An expert info without an item, for a
     * packet_info with no columns, adds nothing else when no one listens to the expert tap (if
     * someone does, this is a new pass, whose dissections add them). */
    if (raise && top >= 0 && note_ws_severity[top] > batch_severity_raised &&
        !(expert_tap > 0 && have_tap_listener(expert_tap))) {
        packet_info carrier;
        memset(&carrier, 0, sizeof carrier);
        carrier.num = top_frame;
        expert_add_info(&carrier, NULL, &ei_notes[top]);
        batch_severity_raised = note_ws_severity[top];
    }
}

static void batch_run(void)
{
    batch_verify(TRUE);
}

/* Batches this first-pass frame's SIP messages when nobody reads its results now (see above);
 * FALSE when it must be verified at once. */
static gboolean batch_take(packet_info *pinfo, proto_tree *tree, const sip_pdus *pdus)
{
    if (!pref_batch || pdus->n > SIP_PDUS_LOCAL || later_recheck == 0 || first_pass_wanted ||
        pinfo->cinfo || proto_field_is_referenced(tree, proto_mssipae) ||
        have_tap_listener(mssipae_tap))
        return FALSE;
    if (!batch)
        batch = msg_batch_new(BATCH_FRAMES, BATCH_BYTES);
    const char *msgs[SIP_PDUS_LOCAL];
    size_t lens[SIP_PDUS_LOCAL];
    msg_batch_msg where[SIP_PDUS_LOCAL];
    for (guint i = 0; i < pdus->n; i++) {
        const sip_pdu *pdu = &pdus->v[i];
        msgs[i] = pdu_bytes(pdu);
        lens[i] = (size_t)pdu->len;
        where[i].source = data_source_index(pinfo, pdu->tvb);
        where[i].offset = pdu->start;
    }
    char sbuf[ENDPOINT_LEN], dbuf[ENDPOINT_LEN];
    msg_meta meta = { .frame = pinfo->num };
    endpoint_strs(pinfo, sbuf, dbuf, &meta.src, &meta.dst);
    if (!msg_batch_add(batch, &meta, pdus->n, msgs, lens, where)) {
        batch_run();
        if (!msg_batch_add(batch, &meta, pdus->n, msgs, lens, where))
            return FALSE; /* larger than a batch */
    }
    later_recheck--;
    if (msg_batch_full(batch))
        batch_run();
    return TRUE;
}

static int dissect_mssipae(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    if (!the_tracker)
        return 0;
    /* The SIP messages' positions come from the tree (the wanted hfids give one on the first
     * pass); later passes without a tree (tshark -2 without -V/-T/-Y) still have the stored
     * results for the Info column, the expert infos and the tap. A frame with a SIP message in
     * its tree has SIP among its layers; the others are looked at. */
    sip_pdus pdus;
    pdus.v = pdus.local;
    pdus.n = 0;
    if (tree)
        find_sip_pdus(tree, pinfo, &pdus);
    if (!pdus.n && !frame_has_sip(pinfo))
        return 0;
    guint npdus = pdus.n;
    if (!PINFO_FD_VISITED(pinfo) && npdus && batch_take(pinfo, tree, &pdus))
        return tvb_captured_length(tvb);
    batch_run(); /* what the batch holds comes first, and may be looked up below */
    gss_dissect_left = GSS_DISSECT_MAX; /* per frame: tokens handed to other dissectors */
    /* the frame's records (usually one), each with which SIP message it belongs to, and how
     * many the frame had when they were stored */
    const void *local_r[SIP_PDUS_LOCAL];
    guint16 local_i[SIP_PDUS_LOCAL];
    const void **recs = local_r;
    const guint16 *rec_pdu = NULL;
    guint n = 0, rec_npdus = 1;
    rec_index_hit hit;
    gboolean stored = FALSE;
    if (!PINFO_FD_VISITED(pinfo) && npdus) {
        /* where this pass reads the expert infos (tshark -z expert, -V), the checks that only
         * explain are made at once; else left for when they are read (looked at again every
         * LATER_RECHECK frames: a live capture's reader may come and go) */
        if (G_UNLIKELY(later_recheck-- == 0)) {
            later_recheck = LATER_RECHECK;
            first_pass_wanted = notes_wanted(tree);
            sa_tracker_set_later(the_tracker, !first_pass_wanted);
        }
        char src[ENDPOINT_LEN], dst[ENDPOINT_LEN];
        msg_meta meta = { .frame = pinfo->num };
        endpoint_strs(pinfo, src, dst, &meta.src, &meta.dst);
        guint nmax = MIN(npdus, G_MAXUINT16);
        guint16 *kept_i = local_i;
        if (G_UNLIKELY(nmax > SIP_PDUS_LOCAL)) {
            recs = wmem_alloc_array(pinfo->pool, const void *, nmax);
            kept_i = wmem_alloc_array(pinfo->pool, guint16, nmax);
        }
        for (guint i = 0; i < nmax; i++) {
            const sip_pdu *pdu = &pdus.v[i];
            /* the span may run past the message into its body or the end of the tvb: the
             * core reads the start line and headers only, up to the blank line */
            const msg_rec *r = sa_tracker_process_rec(the_tracker, pdu_bytes(pdu),
                                                      (size_t)pdu->len, &meta);
            if (rec_kept(r)) {
                recs[n] = r;
                kept_i[n++] = (guint16)i;
            }
        }
        /* what was just stored is what a look-up would give; stored means at least one
         * record (none, or a frame seen before on this pass, which the index ignores: looked
         * up instead) */
        stored = rec_index_add(frame_recs, pinfo->num, n, recs, kept_i, (guint16)nmax);
        rec_pdu = kept_i;
        rec_npdus = nmax;
        /* where the stored records with a check left lie (in frame order, as the index) */
        for (guint j = 0; stored && j < n; j++)
            if (G_UNLIKELY(msg_rec_has_later(sa_tracker_results(the_tracker), recs[j])))
                later_remember(pinfo, kept_i[j], &pdus.v[kept_i[j]]);
    }
    if (!stored) {
        n = rec_index_find(frame_recs, pinfo->num, &hit);
        if (!n)
            return 0;
        recs = n <= SIP_PDUS_LOCAL ? local_r : wmem_alloc_array(pinfo->pool, const void *, n);
        rec_index_get(frame_recs, &hit, recs);
        rec_pdu = NULL;
        rec_npdus = rec_index_npdus(&hit);
    }
    /* A tree whose SIP messages match the stored records gets the items, re-created from the
     * message bytes; otherwise -- no tree, or one where no mssipae field is shown or filtered
     * on (tshark -Y sip): Wireshark's "fake items" convention -- the expert infos are added
     * without items. */
    gboolean with_tree = tree && npdus == rec_npdus &&
                         proto_field_is_referenced(tree, proto_mssipae);
    int wanted = -1; /* notes_wanted(tree), asked when a record has a diagnostic left */
    const result_store *rs = sa_tracker_results(the_tracker);
    for (guint i = 0; i < n; i++) {
        const msg_rec *r = recs[i];
        guint pi = rec_pdu ? rec_pdu[i] : rec_index_pdu(&hit, i);
        msg_result *full = NULL;
        const sip_pdu *pdu = with_tree && pi < npdus ? &pdus.v[pi] : NULL;
        int later = msg_rec_has_later(rs, r);
        if (G_UNLIKELY(later) && wanted < 0)
            wanted = stored ? first_pass_wanted : notes_wanted(tree);
        if (G_UNLIKELY(pdu != NULL)) {
            full = sa_tracker_expand(the_tracker, r, pdu_bytes(pdu), (size_t)pdu->len,
                                     later && wanted);
            if (full)
                render(tvb, pinfo, tree, pdu, full);
        } else if (G_UNLIKELY(later && wanted)) {
            /* the message's bytes: from the tree, else where the first pass found them */
            gint len = 0;
            const char *bytes = NULL;
            if (npdus == rec_npdus && pi < npdus) {
                bytes = pdu_bytes(&pdus.v[pi]);
                len = pdus.v[pi].len;
            } else {
                bytes = later_bytes(pinfo, pi, &len);
            }
            full = bytes ? sa_tracker_expand(the_tracker, r, bytes, (size_t)len, 1) : NULL;
            if (full)
                add_notes_full(pinfo, full);
        }
        if (!full)
            add_notes_no_tree(pinfo, r);
        msg_result_free(full);
        add_info_column(pinfo, r);
    }
    /* the tap's data only when someone listens (-z mssipae,..., the GUI's statistics) */
    if (G_UNLIKELY(have_tap_listener(mssipae_tap)))
        queue_tap(pinfo, recs, n);
    return tvb_captured_length(tvb);
}

/* ---- statistics: tshark -z mssipae,sa and the GUI's stats tree ---- */

/* Counts per SA and direction. Column 0 counts unsigned messages on a signing SA, 1-6 the
 * signature statuses (sig_status values). Row 0 holds signatures without an SA. */
#define N_COUNTS 7
typedef struct {
    guint32 c[2][N_COUNTS];
} sa_counts;

typedef struct {
    GArray *rows; /* sa_counts, index = SA id */
} sa_stats;

static sa_counts *sa_row(sa_stats *ss, guint32 id)
{
    if (id >= ss->rows->len)
        g_array_set_size(ss->rows, id + 1); /* zeroed: g_array_new(FALSE, TRUE, ...) */
    return &g_array_index(ss->rows, sa_counts, id);
}

/* Feeds one frame's results to counts (shared by -z mssipae,sa and the stats tree). */
static void count_frame(sa_stats *ss, const mssipae_tap_frame *tf)
{
    for (guint i = 0; i < tf->n; i++) {
        const msg_rec *r = tf->r[i];
        for (guint j = 0; j < msg_rec_n_auths(r); j++) {
            const auth_rec *a = &r->auths[j];
            if (a->status > SIG_NONE && a->status < N_COUNTS)
                sa_row(ss, a->sa_id)->c[a->dir == DIR_S2C][a->status]++;
        }
        mssipae_dir ud = DIR_C2S;
        guint32 us = msg_rec_unsigned_sa(sa_tracker_results(the_tracker), r, &ud);
        if (us)
            sa_row(ss, us)->c[ud == DIR_S2C][0]++;
    }
}

static void sa_stats_reset(void *p)
{
    sa_stats *ss = p;
    g_array_set_size(ss->rows, 0);
}

static tap_packet_status sa_stats_packet(void *p, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                                         const void *data, tap_flags_t flags _U_)
{
    count_frame(p, data);
    return TAP_PACKET_REDRAW;
}

static const char *const count_names[N_COUNTS] = {
    "unsigned", "valid", "invalid", "no key", "no SA", "unsupported", "malformed"
};
/* column order of the table: the verdicts first, unsigned last */
static const int count_order[N_COUNTS] = { 1, 2, 3, 4, 5, 6, 0 };

static void print_cell(const char *s)
{
    /* one line per SA: tabs and line breaks in wire strings would break the table */
    for (const char *p = s && *s ? s : "-"; *p; p++)
        putchar(*p == '\t' || *p == '\r' || *p == '\n' ? ' ' : *p);
    putchar('\t');
}

/* One row per SA, tab-separated, after a header row; a last row "-" for signatures that found
 * no SA. Counts per direction: c2s.<verdict> then s2c.<verdict>. */
static void sa_stats_draw(void *p)
{
    sa_stats *ss = p;
    printf("\n===================================================================\n");
    printf("MS-SIPAE security associations\n");
    printf("SA\tScheme\tVersion\tRealm\tTarget name\tOpaque\tUser/principal\tClient\tServer\t"
           "First frame\tLast frame");
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < N_COUNTS; k++)
            printf("\t%s %s", d ? "s2c" : "c2s", count_names[count_order[k]]);
    printf("\n");
    guint32 nsa = the_tracker ? sa_tracker_count(the_tracker) : 0;
    for (guint32 id = 1; id <= nsa; id++) {
        sa_info in;
        if (!sa_tracker_info(the_tracker, id, &in))
            continue;
        printf("%u\t", id);
        print_cell(in.scheme);
        if (in.has_version)
            printf("%u\t", in.version);
        else
            print_cell(NULL);
        print_cell(in.realm);
        print_cell(in.targetname);
        print_cell(in.opaque);
        print_cell(in.client_name);
        print_cell(in.client_ep);
        print_cell(in.server_ep);
        printf("%u\t%u", in.first_frame, in.last_frame);
        sa_counts zero = { { { 0 } } };
        const sa_counts *c = id < ss->rows->len ? &g_array_index(ss->rows, sa_counts, id) : &zero;
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < N_COUNTS; k++)
                printf("\t%u", c->c[d][count_order[k]]);
        printf("\n");
        sa_info_clear(&in);
    }
    if (ss->rows->len) {
        const sa_counts *c = &g_array_index(ss->rows, sa_counts, 0);
        guint32 total = 0;
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < N_COUNTS; k++)
                total += c->c[d][k];
        if (total) {
            printf("-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-");
            for (int d = 0; d < 2; d++)
                for (int k = 0; k < N_COUNTS; k++)
                    printf("\t%u", c->c[d][count_order[k]]);
            printf("\n");
        }
    }
    printf("===================================================================\n");
}

static void sa_stats_finish(void *p)
{
    sa_stats *ss = p;
    g_array_free(ss->rows, TRUE);
    g_free(ss);
}

static void sa_stats_init(const char *opt_arg, void *userdata _U_)
{
    sa_stats *ss = g_new0(sa_stats, 1);
    ss->rows = g_array_new(FALSE, TRUE, sizeof(sa_counts));
    const char *filter = NULL;
    if (opt_arg && g_str_has_prefix(opt_arg, "mssipae,sa,"))
        filter = opt_arg + strlen("mssipae,sa,");
    GString *err = register_tap_listener("mssipae", ss, filter, TL_REQUIRES_NOTHING,
                                         sa_stats_reset, sa_stats_packet, sa_stats_draw,
                                         sa_stats_finish);
    if (err) {
        fprintf(stderr, "tshark: can't register the mssipae,sa tap: %s\n", err->str);
        g_string_free(err, TRUE);
        g_array_free(ss->rows, TRUE);
        g_free(ss);
    }
}

/* The stats tree (Statistics > MS-SIPAE > Signatures by SA; tshark -z mssipae,tree): per SA,
 * per direction, per verdict. SA nodes are named "SA <n> (<scheme>)": node names must not change
 * while the capture is read, and the user is often known only later. */
static int st_root = -1;
static const char st_root_name[] = "MS-SIPAE signed and unsigned messages";

static void st_init(stats_tree *st)
{
    st_root = stats_tree_create_node(st, st_root_name, 0, STAT_DT_INT, TRUE);
}

static void st_tick(stats_tree *st, guint32 sa_id, mssipae_dir dir, int count)
{
    char sa_name[64];
    if (sa_id) {
        sa_info in;
        int known = the_tracker && sa_tracker_info(the_tracker, sa_id, &in);
        g_snprintf(sa_name, sizeof sa_name, "SA %u (%s)", sa_id, known ? in.scheme : "?");
        if (known)
            sa_info_clear(&in);
    } else {
        g_strlcpy(sa_name, "no SA", sizeof sa_name);
    }
    tick_stat_node(st, st_root_name, 0, TRUE);
    int sa_node = tick_stat_node(st, sa_name, st_root, TRUE);
    int dir_node = tick_stat_node(st, dir == DIR_C2S ? "client-to-server" : "server-to-client",
                                  sa_node, TRUE);
    tick_stat_node(st, count_names[count], dir_node, FALSE);
}

static tap_packet_status st_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                                   const void *data, tap_flags_t flags _U_)
{
    const mssipae_tap_frame *tf = data;
    for (guint i = 0; i < tf->n; i++) {
        const msg_rec *r = tf->r[i];
        for (guint j = 0; j < msg_rec_n_auths(r); j++) {
            const auth_rec *a = &r->auths[j];
            if (a->status > SIG_NONE && a->status < N_COUNTS)
                st_tick(st, a->sa_id, (mssipae_dir)a->dir, (int)a->status);
        }
        mssipae_dir ud = DIR_C2S;
        guint32 us = msg_rec_unsigned_sa(sa_tracker_results(the_tracker), r, &ud);
        if (us)
            st_tick(st, us, ud, 0);
    }
    return TAP_PACKET_REDRAW;
}

/* ---- key export: tshark -z mssipae,keys,FILE and the GUI menu ---- */

/* Writes the derived per-SA keys (sa_tracker_export_keys) to path, created or truncated with
 * mode 0600 (never through the umask: open(2) with the mode, then fchmod for an existing file).
 * Returns the number of key lines, or -1 with *err set (g_malloc'd). */
static int write_keys(const char *path, char **err)
{
    if (!the_tracker) {
        *err = g_strdup("no capture has been read");
        return -1;
    }
    batch_run(); /* the SAs of the batched frames too */
    size_t lines = 0;
    char *text = sa_tracker_export_keys(the_tracker, &lines);
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int ok = fd >= 0 && fchmod(fd, 0600) == 0;
    for (size_t done = 0; ok && done < len;) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            done += (size_t)w;
    }
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    secure_wipe(text, len); /* session keys: do not leave them in freed memory */
    g_free(text);
    if (!ok) {
        *err = g_strdup_printf("%s: %s", path, g_strerror(saved));
        return -1;
    }
    return (int)lines;
}

typedef struct {
    char *path;
} keys_export;

static tap_packet_status keys_packet(void *p _U_, packet_info *pinfo _U_, epan_dissect_t *edt _U_,
                                     const void *data _U_, tap_flags_t flags _U_)
{
    return TAP_PACKET_DONT_REDRAW;
}

/* tshark draws its taps once, when the run ends (after the second pass with -2): the tracker
 * then knows every SA of the capture. */
static void keys_draw(void *p)
{
    keys_export *ke = p;
    char *err = NULL;
    int n = write_keys(ke->path, &err);
    if (n < 0) {
        fprintf(stderr, "mssipae: can't write the keys: %s\n", err);
        g_free(err);
    } else {
        fprintf(stderr, "mssipae: %d key line(s) written to %s\n", n, ke->path);
    }
}

static void keys_finish(void *p)
{
    keys_export *ke = p;
    g_free(ke->path);
    g_free(ke);
}

static void keys_init(const char *opt_arg, void *userdata _U_)
{
    const char *prefix = "mssipae,keys,";
    if (!opt_arg || !g_str_has_prefix(opt_arg, prefix) || !opt_arg[strlen(prefix)]) {
        fprintf(stderr, "tshark: usage: -z mssipae,keys,FILE\n");
        return;
    }
    keys_export *ke = g_new0(keys_export, 1);
    ke->path = g_strdup(opt_arg + strlen(prefix));
    GString *err = register_tap_listener("mssipae", ke, NULL, TL_REQUIRES_NOTHING, NULL,
                                         keys_packet, keys_draw, keys_finish);
    if (err) {
        fprintf(stderr, "tshark: can't register the mssipae,keys tap: %s\n", err->str);
        g_string_free(err, TRUE);
        keys_finish(ke);
    }
}

/* GUI: MS-SIPAE > Export derived SA keys. The plugin menu API of 4.0 gives no file dialog, so
 * the file goes into the personal configuration folder (created 0700 by Wireshark) under a
 * name with the time; a message box names it. */
static void menu_export_keys(ext_menubar_gui_type gui_type _U_, gpointer gui_object _U_,
                             gpointer user_data _U_)
{
    char *dir_err = NULL;
    if (create_persconffile_dir(&dir_err) == -1) {
        report_failure("MS-SIPAE: can't create the configuration folder %s: %s",
                       dir_err ? dir_err : "?", g_strerror(errno));
        g_free(dir_err);
        return;
    }
    char name[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(name, sizeof name, "mssipae-keys-%Y%m%d-%H%M%S.keys", localtime_r(&now, &tm));
    char *path = get_persconffile_path(name, FALSE); /* not the profile's folder */
    char *err = NULL;
    int n = write_keys(path, &err);
    if (n < 0)
        report_failure("MS-SIPAE: can't write the keys: %s", err);
    else
        report_warning("MS-SIPAE: %d derived key line(s) written to %s (mode 0600). Give that "
                       "file as mssipae.keylog_file to verify this capture without the "
                       "passwords or keytabs.", n, path);
    g_free(err);
    g_free(path);
}

static void register_mssipae_taps(void)
{
    static stat_tap_ui sa_ui = {
        REGISTER_STAT_GROUP_GENERIC, "MS-SIPAE security associations", "mssipae,sa",
        sa_stats_init, 0, NULL
    };
    static stat_tap_ui keys_ui = {
        REGISTER_STAT_GROUP_GENERIC, "MS-SIPAE derived key export", "mssipae,keys",
        keys_init, 0, NULL
    };
    register_stat_tap_ui(&sa_ui, NULL);
    register_stat_tap_ui(&keys_ui, NULL);
    stats_tree_register_plugin("mssipae", "mssipae", "MS-SIPAE/Signatures by SA", 0, st_packet,
                               st_init, NULL);
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
                        "The rebuilt input of GSS_GetMIC (invalid UTF-8 shown as U+FFFD; the "
                        "exact bytes are mssipae.sigbuf.bytes)", HFILL } },
        { &hf_sigbuf_bytes, { "Signature buffer bytes", "mssipae.sigbuf.bytes", FT_BYTES,
                              BASE_NONE, NULL, 0, "The rebuilt input of GSS_GetMIC, byte for byte",
                              HFILL } },
        { &hf_sigbuf_item, { "Signature buffer item", "mssipae.sigbuf.item", FT_STRING, BASE_NONE,
                             NULL, 0, "One item of the signature buffer (its name is in the "
                             "label); on the message bytes it was taken from when they are "
                             "verbatim", HFILL } },
        { &hf_sigbuf_uncovered, { "Not covered", "mssipae.sigbuf.not_covered", FT_STRING,
                                  BASE_NONE, NULL, 0, "A part of the SIP message the signature "
                                  "does not cover (start line, header name, body)", HFILL } },
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
    static gint *ett[] = { &ett_mssipae, &ett_gssapi, &ett_sigbuf, &ett_uncovered };
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
    for (guint i = 0; i < array_length(ei); i++)
        note_ws_severity[ei[i].ids - ei_notes] = ei[i].eiinfo.severity;

    module_t *m = prefs_register_protocol(proto_mssipae, mssipae_prefs_apply);
    prefs_register_filename_preference(m, "keytab", "Keytab file",
        "MIT keytab with the SIP service's Kerberos keys; its RC4-HMAC entries also serve as "
        "NT hashes for NTLM", &pref_keytab, FALSE);
    prefs_register_string_preference(m, "nt_password", "NTLM password (command line)",
        "-o mssipae.nt_password:<password>: a password tried for every NTLM security "
        "association. It is taken into memory when preferences are applied and this field is "
        "emptied, so it is never saved nor shown; in this dialog use the masked field below",
        &pref_nt_password);
    prefs_register_password_preference(m, "nt_password_entry", "NTLM password",
        "A password tried for every NTLM security association; kept in memory until Wireshark "
        "exits, never saved, never shown", &pref_nt_password_entry);
    prefs_register_filename_preference(m, "keylog_file", "Key log file",
        "Explicit per-SA keys, one per line: NTLM <opaque> <key>, KERBEROS <opaque> <enctype> "
        "<key>, TLS-DSK <opaque> <client key> <server key>, CLIENT_RANDOM <random> <master secret>",
        &pref_keylog, FALSE);
    prefs_register_filename_preference(m, "tls_dsk_rsa_key", "TLS-DSK server RSA key",
        "PEM file (PKCS#1 or unencrypted PKCS#8) with the server's RSA private key; it is used "
        "for the TLS-DSK handshakes whose server certificate has its public key. For several "
        "servers or PKCS#12 files use the TLS-DSK server keys table. CLIENT_RANDOM lines of "
        "tls.keylog_file are used too", &pref_tlsdsk_rsa_key, FALSE);
    prefs_register_bool_preference(m, "batch", "Verify in batches",
        "When nothing reads a packet's verdict while it is dissected (tshark -2's first pass, "
        "tshark -q, opening a file), verify its SIP messages later together with the next ones, "
        "in capture order: the same verdicts, faster on large captures. Off: each "
        "packet is verified as it is dissected", &pref_batch);
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
    mssipae_tap = register_tap("mssipae");
    ext_menu_t *menu = ext_menubar_register_menu(proto_mssipae, "MS-SIPAE", TRUE);
    ext_menubar_add_entry(menu, "Export derived SA keys",
                          "Write the derived per-SA keys of this capture (session keys only) to a "
                          "key-log file (mode 0600) in the personal configuration folder",
                          menu_export_keys, NULL);
    register_init_routine(mssipae_init);
    register_cleanup_routine(mssipae_cleanup);
    register_postseq_cleanup_routine(batch_run); /* the end of a pass reading the file */
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
    static tap_plugin taps;
    taps.register_tap_listener = register_mssipae_taps;
    tap_register_plugin(&taps);
}
