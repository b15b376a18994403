/* ntlm_peer: gss-ntlmssp in connectionless (datagram) mode as MS-SIPAE uses NTLM, driven over
 * stdin/stdout, to produce real CHALLENGE/AUTHENTICATE messages and NTLM signatures for tests.
 *
 * The acceptor is the gss-ntlmssp mech module called directly (dlopen): through the MIT mechglue an
 * empty first token would go to SPNEGO, but only an empty first token puts gss-ntlmssp's acceptor
 * into datagram mode (no NEGOTIATE, the acceptor speaks first with a CHALLENGE). The initiator uses
 * the normal mechglue with the NTLMSSP mech OID and GSS_C_DATAGRAM_FLAG|INTEG|IDENTIFY and takes the
 * CHALLENGE as its first input. See /work/shared/reference/test-material.md section 4.
 *
 * Environment: NTLM_USER_FILE (DOMAIN:user:password lines, for the acceptor), NETBIOS_COMPUTER_NAME,
 * NETBIOS_DOMAIN_NAME, LM_COMPAT_LEVEL (3 NTLMv2 default, 1 NTLMv1+ESS, 0 NTLMv1+LM_KEY),
 * NTLM_PEER_MODULE (default /usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so).
 *
 * Commands (hex data, "-" = empty), one answer line each:
 *   cred <DOMAIN\user> <password hex>   -> ok           initiator credential (acquire_cred_with_password)
 *   target <service@host>               -> ok           initiator target name (default sip@server.contoso.test)
 *   seqnum <n|none>                     -> ok           SeqNum forced before every get_mic/verify (default 100)
 *   rekey <on|off>                      -> ok           reset RC4 before every get_mic/verify (default on;
 *                                                       matters without ESS, see reset_rc4)
 *   challenge                           -> ok <CHALLENGE>
 *   authenticate <CHALLENGE>            -> ok <AUTHENTICATE>
 *   accept <AUTHENTICATE>               -> ok
 *   mic <initiator|acceptor> <data>     -> ok <signature>
 *   verify <initiator|acceptor> <data> <signature>  -> ok | fail <major> <minor> <text>
 *   sessionkey <initiator|acceptor>     -> ok <ExportedSessionKey>
 *   info <initiator|acceptor>           -> ok flags=<gss flags hex> open=<0|1> src=<name> targ=<name>
 *   quit                                -> ok
 * Errors: err <major hex> <minor> <text>.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>

#include "peer_io.h"

#define DEFAULT_MODULE "/usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so"
#define NTLM_DATAGRAM_FLAG 0x10000u /* GSS_C_DATAGRAM_FLAG of <gssapi/gssapi_ntlmssp.h> */

static gss_OID_desc ntlm_oid = {10, (void *)"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};
/* GSS_NTLMSSP_SET_SEQ_NUM_OID: 1.3.6.1.4.1.7165.655.1.1 */
static gss_OID_desc seqnum_oid = {11, (void *)"\x2b\x06\x01\x04\x01\xb7\x7d\x85\x0f\x01\x01"};
/* GSS_NTLMSSP_RESET_CRYPTO_OID: 1.3.6.1.4.1.7165.655.1.3 (value 1 = receive handle, 0 = send) */
static gss_OID_desc reset_crypto_oid = {11, (void *)"\x2b\x06\x01\x04\x01\xb7\x7d\x85\x0f\x01\x03"};

/* mech-level entry points of the dlopen()ed module (same prototypes as the GSS-API calls) */
typedef OM_uint32 (*acquire_cred_fn)(OM_uint32 *, gss_name_t, OM_uint32, gss_OID_set, gss_cred_usage_t,
                                     gss_cred_id_t *, gss_OID_set *, OM_uint32 *);
typedef OM_uint32 (*accept_fn)(OM_uint32 *, gss_ctx_id_t *, gss_cred_id_t, gss_buffer_t,
                               gss_channel_bindings_t, gss_name_t *, gss_OID *, gss_buffer_t, OM_uint32 *,
                               OM_uint32 *, gss_cred_id_t *);
typedef OM_uint32 (*get_mic_fn)(OM_uint32 *, gss_ctx_id_t, gss_qop_t, gss_buffer_t, gss_buffer_t);
typedef OM_uint32 (*verify_mic_fn)(OM_uint32 *, gss_ctx_id_t, gss_buffer_t, gss_buffer_t, gss_qop_t *);
typedef OM_uint32 (*set_opt_fn)(OM_uint32 *, gss_ctx_id_t *, const gss_OID, const gss_buffer_t);
typedef OM_uint32 (*inq_oid_fn)(OM_uint32 *, const gss_ctx_id_t, const gss_OID, gss_buffer_set_t *);
typedef OM_uint32 (*del_ctx_fn)(OM_uint32 *, gss_ctx_id_t *, gss_buffer_t);
typedef OM_uint32 (*rel_cred_fn)(OM_uint32 *, gss_cred_id_t *);
typedef OM_uint32 (*inq_ctx_fn)(OM_uint32 *, gss_ctx_id_t, gss_name_t *, gss_name_t *, OM_uint32 *, gss_OID *,
                                OM_uint32 *, int *, int *);
typedef OM_uint32 (*disp_name_fn)(OM_uint32 *, gss_name_t, gss_buffer_t, gss_OID *);
typedef OM_uint32 (*rel_name_fn)(OM_uint32 *, gss_name_t *);

static struct {
    void *handle;
    acquire_cred_fn acquire_cred;
    accept_fn accept_sec_context;
    get_mic_fn get_mic;
    verify_mic_fn verify_mic;
    set_opt_fn set_sec_context_option;
    inq_oid_fn inquire_sec_context_by_oid;
    del_ctx_fn delete_sec_context;
    rel_cred_fn release_cred;
    inq_ctx_fn inquire_context;
    disp_name_fn display_name;
    rel_name_fn release_name;
    disp_status_fn display_status;
} mech;

static gss_ctx_id_t ictx = GSS_C_NO_CONTEXT; /* mechglue context */
static gss_ctx_id_t actx = GSS_C_NO_CONTEXT; /* raw gss-ntlmssp context */
static gss_cred_id_t icred = GSS_C_NO_CREDENTIAL, acred = GSS_C_NO_CREDENTIAL;
static gss_name_t itarget = GSS_C_NO_NAME;
static int force_seq = 1;
static uint32_t seq_value = 100;
static int rekey = 1;

/* Load the module and resolve every entry point; on failure print why and return -1. */
static int load_module(void)
{
    const char *path = getenv("NTLM_PEER_MODULE");
    if (!path || !*path)
        path = DEFAULT_MODULE;
    mech.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!mech.handle) {
        fprintf(stderr, "ntlm_peer: cannot load %s: %s\n", path, dlerror());
        return -1;
    }
#define SYM(field, name)                                                                            \
    do {                                                                                            \
        *(void **)(&mech.field) = dlsym(mech.handle, name);                                         \
        if (!mech.field) {                                                                          \
            fprintf(stderr, "ntlm_peer: %s lacks %s\n", path, name);                                \
            return -1;                                                                              \
        }                                                                                           \
    } while (0)
    SYM(acquire_cred, "gss_acquire_cred");
    SYM(accept_sec_context, "gss_accept_sec_context");
    SYM(get_mic, "gss_get_mic");
    SYM(verify_mic, "gss_verify_mic");
    SYM(set_sec_context_option, "gss_set_sec_context_option");
    SYM(inquire_sec_context_by_oid, "gss_inquire_sec_context_by_oid");
    SYM(delete_sec_context, "gss_delete_sec_context");
    SYM(release_cred, "gss_release_cred");
    SYM(inquire_context, "gss_inquire_context");
    SYM(display_name, "gss_display_name");
    SYM(release_name, "gss_release_name");
    SYM(display_status, "gss_display_status");
#undef SYM
    return 0;
}

/* Print an error/fail line: prefix, major (hex), minor, readable text without newlines; the
 * minor code's text comes from the module when the acceptor failed. */
static void print_status(const char *prefix, int acceptor, OM_uint32 maj, OM_uint32 min, const char *what)
{
    char text[1024];
    snprintf(text, sizeof(text), "%s: ", what);
    if (GSS_ERROR(maj))
        status_text(gss_display_status, &ntlm_oid, maj, GSS_C_GSS_CODE, text, sizeof(text));
    if (min) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof(text) - used, "; minor: ");
        status_text(acceptor ? mech.display_status : gss_display_status, &ntlm_oid, min, GSS_C_MECH_CODE,
                    text, sizeof(text));
    }
    print_status_line(prefix, maj, min, text);
}

/* Free a parse_hex buffer, wiping it first (it may hold a password). */
static void free_hex(gss_buffer_desc *b)
{
    if (b->value) {
        memset(b->value, 0, b->length);
        free(b->value);
    }
    b->value = NULL;
    b->length = 0;
}

/* Drop the initiator (mechglue) context. */
static void drop_ictx(void)
{
    OM_uint32 min;
    if (ictx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&min, &ictx, GSS_C_NO_BUFFER);
    ictx = GSS_C_NO_CONTEXT;
}

/* Drop the acceptor (module) context. */
static void drop_actx(void)
{
    OM_uint32 min;
    if (actx != GSS_C_NO_CONTEXT)
        mech.delete_sec_context(&min, &actx, GSS_C_NO_BUFFER);
    actx = GSS_C_NO_CONTEXT;
}

/* "cred": initiator credential from DOMAIN\user and a password, through the mechglue. */
static void cmd_cred(char *user, char *pw_hex)
{
    OM_uint32 maj, min;
    gss_name_t name = GSS_C_NO_NAME;
    gss_buffer_desc pw, nb;
    if (!user || parse_hex(pw_hex, &pw)) {
        printf("err 0 0 usage: cred <DOMAIN\\user> <password hex>\n");
        return;
    }
    if (icred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &icred);
    nb.value = user;
    nb.length = strlen(user);
    maj = gss_import_name(&min, &nb, GSS_C_NT_USER_NAME, &name);
    if (GSS_ERROR(maj)) {
        print_status("err", 0, maj, min, "gss_import_name(user)");
        free_hex(&pw);
        return;
    }
    gss_OID_set_desc mechs = {1, &ntlm_oid};
    maj = gss_acquire_cred_with_password(&min, name, &pw, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &icred,
                                         NULL, NULL);
    free_hex(&pw);
    gss_release_name(&min, &name);
    if (GSS_ERROR(maj)) {
        print_status("err", 0, maj, min, "gss_acquire_cred_with_password");
        icred = GSS_C_NO_CREDENTIAL;
        return;
    }
    printf("ok\n");
}

/* "target": the initiator's host-based target name. */
static int set_target(const char *t)
{
    OM_uint32 maj, min;
    gss_buffer_desc nb = {strlen(t), (void *)t};
    if (itarget != GSS_C_NO_NAME)
        gss_release_name(&min, &itarget);
    maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE, &itarget);
    if (GSS_ERROR(maj)) {
        print_status("err", 0, maj, min, "gss_import_name(target)");
        itarget = GSS_C_NO_NAME;
        return -1;
    }
    return 0;
}

/* "challenge": a fresh acceptor context fed an EMPTY first token, so it enters datagram mode. */
static void cmd_challenge(void)
{
    OM_uint32 maj, min, ret_flags = 0;
    gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER;
    drop_actx();
    if (acred == GSS_C_NO_CREDENTIAL) {
        maj = mech.acquire_cred(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT, &acred,
                                NULL, NULL);
        if (GSS_ERROR(maj)) {
            print_status("err", 1, maj, min, "gss_acquire_cred(acceptor, module)");
            acred = GSS_C_NO_CREDENTIAL;
            return;
        }
    }
    maj = mech.accept_sec_context(&min, &actx, acred, &in, GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &out,
                                  &ret_flags, NULL, NULL);
    if (maj != GSS_S_CONTINUE_NEEDED) {
        print_status("err", 1, maj, min, "gss_accept_sec_context(empty token, module)");
        drop_actx();
    } else if (!(ret_flags & NTLM_DATAGRAM_FLAG)) {
        printf("err 0 0 acceptor did not enter datagram mode (flags %08x)\n", (unsigned)ret_flags);
        drop_actx();
    } else {
        put_ok_hex(out.value, out.length);
    }
    gss_release_buffer(&min, &out);
}

/* "authenticate": a fresh initiator context whose first input is the CHALLENGE (no NEGOTIATE). */
static void cmd_authenticate(char *hex)
{
    OM_uint32 maj, min, ret_flags = 0;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    if (parse_hex(hex, &in) || in.length == 0) {
        free_hex(&in);
        printf("err 0 0 usage: authenticate <challenge hex>\n");
        return;
    }
    drop_ictx();
    if (itarget == GSS_C_NO_NAME && set_target("sip@server.contoso.test")) {
        free_hex(&in);
        return;
    }
    OM_uint32 req = NTLM_DATAGRAM_FLAG | GSS_C_INTEG_FLAG | GSS_C_IDENTIFY_FLAG;
    maj = gss_init_sec_context(&min, icred, &ictx, itarget, &ntlm_oid, req, 0, GSS_C_NO_CHANNEL_BINDINGS, &in,
                               NULL, &out, &ret_flags, NULL);
    if (maj != GSS_S_COMPLETE) {
        print_status("err", 0, maj, min, "gss_init_sec_context(challenge)");
        drop_ictx();
    } else {
        put_ok_hex(out.value, out.length);
    }
    gss_release_buffer(&min, &out);
    free_hex(&in);
}

/* "accept": the acceptor checks the AUTHENTICATE against NTLM_USER_FILE. */
static void cmd_accept(char *hex)
{
    OM_uint32 maj, min, ret_flags = 0;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    if (actx == GSS_C_NO_CONTEXT) {
        printf("err 0 0 no acceptor context (run challenge first)\n");
        return;
    }
    if (parse_hex(hex, &in) || in.length == 0) {
        free_hex(&in);
        printf("err 0 0 usage: accept <authenticate hex>\n");
        return;
    }
    maj = mech.accept_sec_context(&min, &actx, acred, &in, GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &out,
                                  &ret_flags, NULL, NULL);
    if (maj != GSS_S_COMPLETE) {
        print_status("err", 1, maj, min, "gss_accept_sec_context(authenticate, module)");
        /* the module frees a failed context itself and returns it as NULL */
        actx = GSS_C_NO_CONTEXT;
    } else {
        printf("ok\n");
    }
    gss_release_buffer(&min, &out);
    free_hex(&in);
}

/* Resolve the side name; prints an err line and returns -1 if unknown or not established. */
static int side_of(const char *side)
{
    int s = side && strcmp(side, "initiator") == 0 ? 0 : side && strcmp(side, "acceptor") == 0 ? 1 : -1;
    if (s < 0)
        printf("err 0 0 side must be initiator or acceptor\n");
    else if ((s ? actx : ictx) == GSS_C_NO_CONTEXT) {
        printf("err 0 0 no %s context\n", side);
        s = -1;
    }
    return s;
}

/* Set a 32-bit gss-ntlmssp context option on one side (module or mechglue context). */
static int set_u32_option(int s, gss_OID oid, uint32_t v, const char *what)
{
    OM_uint32 maj, min;
    gss_buffer_desc b = {sizeof(v), &v};
    maj = s ? mech.set_sec_context_option(&min, &actx, oid, &b)
            : gss_set_sec_context_option(&min, &ictx, oid, &b);
    if (GSS_ERROR(maj)) {
        print_status("err", s, maj, min, what);
        return -1;
    }
    return 0;
}

/* Force the SeqNum (SIP: always 100) on one side before signing or verifying. */
static int force_seqnum(int s)
{
    if (!force_seq)
        return 0;
    return set_u32_option(s, &seqnum_oid, seq_value, "gss_set_sec_context_option(SET_SEQ_NUM)");
}

/* Restart the RC4 state of one handle before each message: gss-ntlmssp re-keys per message in
 * datagram mode only with ESS; without ESS it would run one RC4 stream shared by both directions,
 * whereas SIP (MS-SIPAE) re-keys every signature. With ESS the reset is harmless. */
static int reset_rc4(int s, int receive)
{
    if (!rekey)
        return 0;
    return set_u32_option(s, &reset_crypto_oid, receive ? 1 : 0, "gss_set_sec_context_option(RESET_CRYPTO)");
}

/* "mic": NTLM signature over arbitrary bytes with SeqNum forced (gss-ntlmssp refuses to sign or
 * verify an empty message "-"). */
static void cmd_mic(char *side, char *hex)
{
    OM_uint32 maj, min;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    int s = side_of(side);
    if (s < 0)
        return;
    if (parse_hex_arg(hex, &in))
        return;
    if (force_seqnum(s) == 0 && reset_rc4(s, 0) == 0) {
        maj = s ? mech.get_mic(&min, actx, GSS_C_QOP_DEFAULT, &in, &out)
                : gss_get_mic(&min, ictx, GSS_C_QOP_DEFAULT, &in, &out);
        if (GSS_ERROR(maj))
            print_status("err", s, maj, min, "gss_get_mic");
        else
            put_ok_hex(out.value, out.length);
    }
    gss_release_buffer(&min, &out);
    free_hex(&in);
}

/* "verify": the named side checks a signature over bytes (SeqNum forced as for signing). */
static void cmd_verify(char *side, char *hex, char *mic_hex)
{
    OM_uint32 maj, min;
    gss_qop_t qop = 0;
    gss_buffer_desc in, mic;
    int s = side_of(side);
    if (s < 0)
        return;
    if (parse_hex_arg(hex, &in))
        return;
    if (parse_hex_arg(mic_hex, &mic)) {
        free_hex(&in);
        return;
    }
    if (force_seqnum(s) == 0 && reset_rc4(s, 1) == 0) {
        maj = s ? mech.verify_mic(&min, actx, &in, &mic, &qop) : gss_verify_mic(&min, ictx, &in, &mic, &qop);
        if (GSS_ERROR(maj))
            print_status("fail", s, maj, min, "gss_verify_mic");
        else
            printf("ok\n");
    }
    free_hex(&in);
    free_hex(&mic);
}

/* "sessionkey": ExportedSessionKey through GSS_C_INQ_SSPI_SESSION_KEY (for key-log tests). */
static void cmd_sessionkey(char *side)
{
    OM_uint32 maj, min;
    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    int s = side_of(side);
    if (s < 0)
        return;
    maj = s ? mech.inquire_sec_context_by_oid(&min, actx, GSS_C_INQ_SSPI_SESSION_KEY, &set)
            : gss_inquire_sec_context_by_oid(&min, ictx, GSS_C_INQ_SSPI_SESSION_KEY, &set);
    if (GSS_ERROR(maj) || set == GSS_C_NO_BUFFER_SET || set->count < 1)
        print_status("err", s, maj, min, "gss_inquire_sec_context_by_oid(SSPI_SESSION_KEY)");
    else
        put_ok_hex(set->elements[0].value, set->elements[0].length);
    if (set != GSS_C_NO_BUFFER_SET)
        gss_release_buffer_set(&min, &set);
}

/* Print a name (module name for the acceptor, mechglue name for the initiator) as one token. */
static void put_name(int s, gss_name_t n)
{
    OM_uint32 min, maj;
    gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
    if (n == GSS_C_NO_NAME) {
        fputs("-", stdout);
        return;
    }
    maj = s ? mech.display_name(&min, n, &b, NULL) : gss_display_name(&min, n, &b, NULL);
    if (maj != GSS_S_COMPLETE || b.length == 0)
        fputs("-", stdout);
    put_name_text(&b);
    gss_release_buffer(&min, &b);
}

/* "info": GSS context flags, state and names for diagnostics. */
static void cmd_info(char *side)
{
    OM_uint32 maj, min, flags = 0;
    int open = 0;
    gss_name_t src = GSS_C_NO_NAME, targ = GSS_C_NO_NAME;
    int s = side_of(side);
    if (s < 0)
        return;
    /* (the module's display_name crashes on the acceptor's own target name: not asked for) */
    maj = s ? mech.inquire_context(&min, actx, &src, NULL, NULL, NULL, &flags, NULL, &open)
            : gss_inquire_context(&min, ictx, &src, &targ, NULL, NULL, &flags, NULL, &open);
    if (GSS_ERROR(maj)) {
        print_status("err", s, maj, min, "gss_inquire_context");
        return;
    }
    printf("ok flags=%08x open=%d src=", (unsigned)flags, open);
    put_name(s, src);
    printf(" targ=");
    put_name(s, targ);
    printf("\n");
    if (s) {
        mech.release_name(&min, &src);
        mech.release_name(&min, &targ);
    } else {
        gss_release_name(&min, &src);
        gss_release_name(&min, &targ);
    }
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    OM_uint32 min;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (load_module())
        return 1;
    char *cmd, *a1, *a2, *a3;
    while ((cmd = next_command(&line, &cap, &a1, &a2, &a3)) != NULL) {
        if (strcmp(cmd, "cred") == 0)
            cmd_cred(a1, a2);
        else if (strcmp(cmd, "target") == 0) {
            if (a1 && set_target(a1) == 0)
                printf("ok\n");
            else if (!a1)
                printf("err 0 0 usage: target <service@host>\n");
        } else if (strcmp(cmd, "seqnum") == 0) {
            char *end = NULL;
            unsigned long v = a1 ? strtoul(a1, &end, 10) : 0;
            if (a1 && strcmp(a1, "none") == 0) {
                force_seq = 0;
                printf("ok\n");
            } else if (a1 && *a1 && end && *end == '\0' && v <= 0xffffffffUL) {
                force_seq = 1;
                seq_value = (uint32_t)v;
                printf("ok\n");
            } else
                printf("err 0 0 usage: seqnum <n|none>\n");
        } else if (strcmp(cmd, "rekey") == 0) {
            if (a1 && (strcmp(a1, "on") == 0 || strcmp(a1, "off") == 0)) {
                rekey = strcmp(a1, "on") == 0;
                printf("ok\n");
            } else
                printf("err 0 0 usage: rekey <on|off>\n");
        } else if (strcmp(cmd, "challenge") == 0)
            cmd_challenge();
        else if (strcmp(cmd, "authenticate") == 0)
            cmd_authenticate(a1);
        else if (strcmp(cmd, "accept") == 0)
            cmd_accept(a1);
        else if (strcmp(cmd, "mic") == 0)
            cmd_mic(a1, a2);
        else if (strcmp(cmd, "verify") == 0)
            cmd_verify(a1, a2, a3);
        else if (strcmp(cmd, "sessionkey") == 0)
            cmd_sessionkey(a1);
        else if (strcmp(cmd, "info") == 0)
            cmd_info(a1);
        else if (strcmp(cmd, "quit") == 0) {
            printf("ok\n");
            break;
        } else
            printf("err 0 0 unknown command %s\n", cmd);
    }
    if (line) {
        memset(line, 0, cap); /* may have held a password */
        free(line);
    }
    drop_ictx();
    drop_actx();
    if (icred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &icred);
    if (acred != GSS_C_NO_CREDENTIAL)
        mech.release_cred(&min, &acred);
    if (itarget != GSS_C_NO_NAME)
        gss_release_name(&min, &itarget);
    /* the module stays loaded: the mechglue may hold it too */
    return 0;
}
