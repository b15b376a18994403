/* floor.c - the verification floor in tshark: a measuring instrument for bench/bench.py --floor,
 * never installed.
 *
 * mssipae_floor.so is a postdissector plugin (protocol "mssipae_floor") that does for each SIP
 * message of a frame only what every verifier of that message has to do, and nothing of
 * mssipae's own work:
 *
 *   - find the message in the frame's tree, as mssipae does (the same wanted field: sip);
 *   - one keyed MAC over as many bytes as a signature buffer has (mssipae_floor.len, the bench
 *     captures' mean: 170), with a key state made once per security association, and a compare
 *     with a 16-byte "signature";
 *   - per SA, the key set-up crypto of the scheme (below);
 *   - a 16-byte record kept per message.
 *
 * It parses nothing, so it verifies nothing: the MAC runs over the message's first bytes, the
 * "signature" is the 16 bytes after them, and a new SA starts every mssipae_floor.per_sa
 * messages (bench.py sets the capture's messages per SA). tshark's time with it, less its time
 * without any plugin, is about the least that verifying these captures can cost in tshark: the
 * crypto, the cold code of the hashes and the glue every plugin pays. What mssipae takes above
 * it is its own parsing, buffers, SA tracking and results. (Without a parse the floor cannot
 * tell a handshake's unsigned messages: it MACs them too. Kerberos's bench captures have 4 %
 * more messages than signed headers, TLS-DSK's 12 %; the work it leaves out, below, is more.)
 *
 * mssipae_floor.mac selects the scheme's crypto (bench/floor_crypto.c, which mssipae_micro
 * --floor runs without tshark; all from nettle, as mssipae's core uses):
 *   md5      NTLM: per message HMAC-MD5; per SA the signing and sealing keys of both
 *            directions (four MD5s), their HMAC states and the SeqNum-100 keystreams (two MD5s,
 *            two RC4 key schedules) [MS-NLMP] 3.4.5
 *   sha1-96  Kerberos: per message HMAC-SHA1 over the buffer and the 16-byte token header
 *            (RFC 4121 4.2.4, RFC 3962); per SA an AP-REQ's worth of AES256-CTS-HMAC-SHA1-96:
 *            1,184 bytes decrypted and MACed, six derived keys (RFC 3961 5.1), two MIC key
 *            states
 *   sha1     TLS-DSK: per message HMAC-SHA1; per SA bytes 64-127 of the TLS 1.0 PRF's key
 *            block (P_MD5 and P_SHA1, RFC 2246 5) and the two HMAC states
 *
 * Each of these is a part of mssipae's own work on the same messages; left out are the
 * ticket's ASN.1 and MIT krb5's own work around it, the TLS handshake's parsing and hashing,
 * and finding the signature.
 */
#include <wireshark.h>

#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto.h>

#include "floor_crypto.h"

#ifndef MSSIPAE_VERSION
#define MSSIPAE_VERSION "0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = MSSIPAE_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);

static const enum_val_t mac_vals[] = {
    { "md5", "HMAC-MD5 (NTLM)", FLOOR_MD5 },
    { "sha1-96", "HMAC-SHA1-96 over buffer and token header (Kerberos)", FLOOR_SHA1_96 },
    { "sha1", "HMAC-SHA1 and the TLS 1.0 PRF per SA (TLS-DSK)", FLOOR_SHA1 },
    { NULL, NULL, 0 },
};

static int proto_floor = -1;
static int hf_mac = -1; /* for tests/integration/test_floor.py: what was computed, over what */
static int hf_sa = -1;
static int proto_sip = -1;
static gint ett_floor = -1;
static dissector_handle_t floor_handle;
static gint pref_mac = FLOOR_MD5;
static guint pref_len = 170;
static guint pref_per_sa = 50;

static floor_state state;

typedef struct {
    guint32 frame;
    guint32 sa;
    guint32 mac4;
    guint16 pdu;
    guint16 pad;
} floor_rec; /* mac4's bit 0: the compare's outcome (floor_mac) */
G_STATIC_ASSERT(sizeof(floor_rec) == 16);
static GArray *recs;

static int dissect_floor(tvbuff_t *tvb _U_, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    if (!tree || PINFO_FD_VISITED(pinfo))
        return 0;
    GPtrArray *items = proto_get_finfo_ptr_array(tree, proto_sip);
    if (!items)
        return 0;
    for (guint i = 0; i < items->len; i++) {
        field_info *fi = (field_info *)g_ptr_array_index(items, i);
        if (!fi->ds_tvb || fi->start < 0)
            continue;
        gint avail = (gint)tvb_captured_length_remaining(fi->ds_tvb, fi->start);
        if (avail < 16)
            continue;
        guint n = MIN((guint)avail - 16, pref_len);
        const guint8 *p = tvb_get_ptr(fi->ds_tvb, fi->start, (gint)n + 16);
        uint8_t mac[16];
        guint32 mac4 = floor_mac(&state, p, n, p + n, mac);
        floor_rec r = { pinfo->num, state.n_sa, mac4, (guint16)i, 0 };
        g_array_append_val(recs, r);
        if (G_UNLIKELY(proto_field_is_referenced(tree, proto_floor))) {
            proto_item *ti = proto_tree_add_item(tree, proto_floor, fi->ds_tvb, fi->start,
                                                 (gint)n, ENC_NA);
            proto_tree *ft = proto_item_add_subtree(ti, ett_floor);
            proto_tree_add_bytes_with_length(ft, hf_mac, fi->ds_tvb, fi->start, (gint)n, mac,
                                             pref_mac == FLOOR_MD5 ? 8 : 16);
            proto_tree_add_uint(ft, hf_sa, fi->ds_tvb, fi->start, 0, r.sa);
        }
    }
    return tvb_captured_length(tvb);
}

static void floor_init(void)
{
    if (!recs)
        recs = g_array_new(FALSE, FALSE, sizeof(floor_rec));
    g_array_set_size(recs, 0);
    floor_reset(&state, (floor_kind)pref_mac, pref_per_sa);
}

static void floor_cleanup(void)
{
    if (recs)
        g_array_free(recs, TRUE);
    recs = NULL;
}

static void proto_register_floor(void)
{
    proto_floor = proto_register_protocol("mssipae verification floor (bench/floor.c)",
                                          "mssipae floor", "mssipae_floor");
    static hf_register_info hf[] = {
        { &hf_mac, { "MAC (first 8 bytes for md5, 16 for sha1 and sha1-96)", "mssipae_floor.mac",
                     FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_sa, { "SA number", "mssipae_floor.sa", FT_UINT32, BASE_DEC, NULL, 0, NULL,
                    HFILL } },
    };
    static gint *ett[] = { &ett_floor };
    proto_register_field_array(proto_floor, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    module_t *m = prefs_register_protocol(proto_floor, NULL);
    prefs_register_enum_preference(m, "mac", "Scheme's MAC", "Which scheme's crypto to run",
                                   &pref_mac, mac_vals, FALSE);
    prefs_register_uint_preference(m, "len", "Bytes MACed", "Bytes per message under the MAC",
                                   10, &pref_len);
    prefs_register_uint_preference(m, "per_sa", "Messages per SA",
                                   "A new SA's key set-up every this many messages", 10,
                                   &pref_per_sa);
    floor_handle = create_dissector_handle(dissect_floor, proto_floor);
    register_init_routine(floor_init);
    register_cleanup_routine(floor_cleanup);
}

static void proto_reg_handoff_floor(void)
{
    proto_sip = proto_get_id_by_filter_name("sip");
    register_postdissector(floor_handle);
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));
    g_array_append_val(wanted, proto_sip);
    set_postdissector_wanted_hfids(floor_handle, wanted);
}

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_floor;
    plug.register_handoff = proto_reg_handoff_floor;
    proto_register_plugin(&plug);
}
