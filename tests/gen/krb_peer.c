/* krb_peer: a Kerberos GSS-API initiator and acceptor (MIT krb5) driven over stdin/stdout,
 * used to produce real AP-REQ/AP-REP tokens and RFC 4121 / RFC 4757 MICs for test captures.
 *
 * Usage: krb_peer [<acceptor keytab>|-]      (environment: KRB5_CONFIG, KRB5CCNAME, ...)
 *
 * One command per line, binary data as hex ("-" = empty); one answer line per command:
 *   init <target> <flags> <enctypes>   -> ok <complete|continue> <token> <ret_flags hex>
 *        target: "sip@server.contoso.test" (host-based) or "sip/server.contoso.test[@REALM]"
 *        flags: comma list of integ,identify,mutual,conf,replay,sequence,deleg (or "none")
 *        enctypes: comma list of numbers (17,18,19,20,23) or "default"
 *   init_step <token>                  -> ok <complete|continue> <token> <ret_flags hex>
 *   accept <token>                     -> ok <complete|continue> <token> <ret_flags hex>
 *   mic <initiator|acceptor> <data>    -> ok <mic>
 *   verify <initiator|acceptor> <data> <mic>  -> ok | fail <major> <minor> <text>
 *        (the side named is the one that verifies)
 *   sessionkey <initiator|acceptor>    -> ok <enctype|-1> <key>   (GSS_C_INQ_SSPI_SESSION_KEY)
 *   info <initiator|acceptor>          -> ok flags=<hex> open=<0|1> src=<name> targ=<name>
 *   reset                              -> ok   (drops both contexts)
 *   quit                               -> ok   (and exit)
 * Errors: err <major hex> <minor> <text>. The program never aborts on bad input.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "peer_io.h"

static krb5_context kctx;
static const char *keytab_name;
static gss_ctx_id_t ictx = GSS_C_NO_CONTEXT, actx = GSS_C_NO_CONTEXT;
static gss_cred_id_t icred = GSS_C_NO_CREDENTIAL, acred = GSS_C_NO_CREDENTIAL;
static gss_name_t itarget = GSS_C_NO_NAME;
static OM_uint32 ireq_flags;

/* Print an "err" (or other prefix) line with major/minor codes and their texts, newline-free. */
static void print_status(const char *prefix, OM_uint32 maj, OM_uint32 min, const char *what)
{
    char text[1024];
    snprintf(text, sizeof(text), "%s: ", what);
    if (GSS_ERROR(maj) || maj == 0)
        status_text(gss_display_status, (gss_OID)gss_mech_krb5, maj, GSS_C_GSS_CODE, text, sizeof(text));
    if (min)
        status_text(gss_display_status, (gss_OID)gss_mech_krb5, min, GSS_C_MECH_CODE, text, sizeof(text));
    print_status_line(prefix, maj, min, text);
}

/* Map the textual flag list of the protocol onto GSS request flags. */
static int parse_flags(const char *s, OM_uint32 *flags)
{
    static const struct { const char *name; OM_uint32 bit; } tab[] = {
        {"integ", GSS_C_INTEG_FLAG}, {"identify", GSS_C_IDENTIFY_FLAG},
        {"mutual", GSS_C_MUTUAL_FLAG}, {"conf", GSS_C_CONF_FLAG},
        {"replay", GSS_C_REPLAY_FLAG}, {"sequence", GSS_C_SEQUENCE_FLAG},
        {"deleg", GSS_C_DELEG_FLAG},
    };
    *flags = 0;
    if (!s)
        return -1;
    if (strcmp(s, "none") == 0 || strcmp(s, "-") == 0)
        return 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
            if (strcmp(t, tab[i].name) == 0)
                break;
        if (i == sizeof(tab) / sizeof(tab[0])) {
            rc = -1;
            break;
        }
        *flags |= tab[i].bit;
    }
    free(copy);
    return rc;
}

/* Parse "17,18,..." into an enctype list; "default" gives n=0. */
static int parse_enctypes(const char *s, krb5_enctype *list, size_t max, size_t *n)
{
    *n = 0;
    if (!s)
        return -1;
    if (strcmp(s, "default") == 0 || strcmp(s, "-") == 0)
        return 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 0xffff || *n >= max)
            return -1;
        list[(*n)++] = (krb5_enctype)v;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return -1;
        p = end;
    }
    return 0;
}

/* Drop a context (and what belongs to it) so that commands can start over. */
static void drop_ctx(gss_ctx_id_t *ctx)
{
    OM_uint32 min;
    if (*ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&min, ctx, GSS_C_NO_BUFFER);
    *ctx = GSS_C_NO_CONTEXT;
}

/* Release all initiator state. */
static void drop_initiator(void)
{
    OM_uint32 min;
    drop_ctx(&ictx);
    if (icred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &icred);
    if (itarget != GSS_C_NO_NAME)
        gss_release_name(&min, &itarget);
}

/* Print the result of one context-establishment step in the common format. */
static void print_step(OM_uint32 maj, gss_buffer_desc *out, OM_uint32 ret_flags)
{
    printf("ok %s ", maj == GSS_S_CONTINUE_NEEDED ? "continue" : "complete");
    put_hex(out->value, out->length);
    printf(" %08x\n", (unsigned)ret_flags);
}

/* Run one gss_init_sec_context step with the current initiator state. */
static void init_step(gss_buffer_desc *in)
{
    OM_uint32 maj, min, ret_flags = 0;
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    maj = gss_init_sec_context(&min, icred, &ictx, itarget, (gss_OID)gss_mech_krb5, ireq_flags, 0,
                               GSS_C_NO_CHANNEL_BINDINGS, in, NULL, &out, &ret_flags, NULL);
    if (GSS_ERROR(maj)) {
        print_status("err", maj, min, "gss_init_sec_context");
        if (ictx == GSS_C_NO_CONTEXT)
            drop_initiator();
    } else {
        print_step(maj, &out, ret_flags);
    }
    gss_release_buffer(&min, &out);
}

/* "init": fresh credential (restricted to the enctypes), fresh context, first token. */
static void cmd_init(char *target, char *flags, char *enctypes)
{
    OM_uint32 maj, min;
    krb5_enctype etypes[16];
    size_t n_etypes;
    if (!target || parse_flags(flags, &ireq_flags) || parse_enctypes(enctypes, etypes, 16, &n_etypes)) {
        printf("err 0 0 usage: init <target> <flags> <enctypes>\n");
        return;
    }
    drop_initiator();
    gss_buffer_desc nb = {strlen(target), target};
    gss_OID ntype = strchr(target, '/') ? (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME : GSS_C_NT_HOSTBASED_SERVICE;
    maj = gss_import_name(&min, &nb, ntype, &itarget);
    if (GSS_ERROR(maj)) {
        print_status("err", maj, min, "gss_import_name");
        return;
    }
    gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
    maj = gss_acquire_cred(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &icred, NULL, NULL);
    if (GSS_ERROR(maj)) {
        print_status("err", maj, min, "gss_acquire_cred(initiator)");
        drop_initiator();
        return;
    }
    if (n_etypes) {
        maj = gss_krb5_set_allowable_enctypes(&min, icred, (OM_uint32)n_etypes, etypes);
        if (GSS_ERROR(maj)) {
            print_status("err", maj, min, "gss_krb5_set_allowable_enctypes");
            drop_initiator();
            return;
        }
    }
    init_step(GSS_C_NO_BUFFER);
}

/* "init_step": feed the acceptor's answer (AP-REP) into the initiator. */
static void cmd_init_step(char *hex)
{
    gss_buffer_desc in;
    if (ictx == GSS_C_NO_CONTEXT) {
        printf("err 0 0 no initiator context\n");
        return;
    }
    if (parse_hex_arg(hex, &in))
        return;
    init_step(&in);
    free(in.value);
}

/* Lazily build the acceptor credential from the keytab given on the command line. */
static int ensure_acred(void)
{
    OM_uint32 maj, min;
    krb5_keytab kt = NULL;
    krb5_error_code code;
    if (acred != GSS_C_NO_CREDENTIAL)
        return 0;
    if (!keytab_name) {
        printf("err 0 0 no keytab given on the command line\n");
        return -1;
    }
    code = krb5_kt_resolve(kctx, keytab_name, &kt);
    if (code) {
        const char *m = krb5_get_error_message(kctx, code);
        printf("err 0 %d krb5_kt_resolve: %s\n", (int)code, m);
        krb5_free_error_message(kctx, m);
        return -1;
    }
    maj = gss_krb5_import_cred(&min, NULL, NULL, kt, &acred);
    krb5_kt_close(kctx, kt);
    if (GSS_ERROR(maj)) {
        print_status("err", maj, min, "gss_krb5_import_cred");
        acred = GSS_C_NO_CREDENTIAL;
        return -1;
    }
    return 0;
}

/* "accept": one gss_accept_sec_context step (a new context if none is pending). */
static void cmd_accept(char *hex)
{
    OM_uint32 maj, min, ret_flags = 0;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    if (parse_hex_arg(hex, &in))
        return;
    if (ensure_acred()) {
        free(in.value);
        return;
    }
    /* a completed context is replaced by a fresh one */
    if (actx != GSS_C_NO_CONTEXT) {
        int open = 0;
        if (gss_inquire_context(&min, actx, NULL, NULL, NULL, NULL, NULL, NULL, &open) == GSS_S_COMPLETE && open)
            drop_ctx(&actx);
    }
    maj = gss_accept_sec_context(&min, &actx, acred, &in, GSS_C_NO_CHANNEL_BINDINGS, NULL, NULL, &out,
                                 &ret_flags, NULL, NULL);
    if (GSS_ERROR(maj)) {
        print_status("err", maj, min, "gss_accept_sec_context");
        drop_ctx(&actx);
    } else {
        print_step(maj, &out, ret_flags);
    }
    gss_release_buffer(&min, &out);
    free(in.value);
}

/* Return the context of the named side or NULL (with an err line printed). */
static gss_ctx_id_t side_ctx(const char *side)
{
    gss_ctx_id_t c = GSS_C_NO_CONTEXT;
    if (side && strcmp(side, "initiator") == 0)
        c = ictx;
    else if (side && strcmp(side, "acceptor") == 0)
        c = actx;
    else {
        printf("err 0 0 side must be initiator or acceptor\n");
        return GSS_C_NO_CONTEXT;
    }
    if (c == GSS_C_NO_CONTEXT)
        printf("err 0 0 no %s context\n", side);
    return c;
}

/* "mic": gss_get_mic over arbitrary bytes on one side. */
static void cmd_mic(char *side, char *hex)
{
    OM_uint32 maj, min;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
    gss_ctx_id_t c = side_ctx(side);
    if (c == GSS_C_NO_CONTEXT)
        return;
    if (parse_hex_arg(hex, &in))
        return;
    maj = gss_get_mic(&min, c, GSS_C_QOP_DEFAULT, &in, &out);
    if (GSS_ERROR(maj))
        print_status("err", maj, min, "gss_get_mic");
    else
        put_ok_hex(out.value, out.length);
    gss_release_buffer(&min, &out);
    free(in.value);
}

/* "verify": gss_verify_mic on one side; supplementary status bits are reported but accepted. */
static void cmd_verify(char *side, char *hex, char *mic_hex)
{
    OM_uint32 maj, min;
    gss_qop_t qop = 0;
    gss_buffer_desc in, mic;
    gss_ctx_id_t c = side_ctx(side);
    if (c == GSS_C_NO_CONTEXT)
        return;
    if (parse_hex_arg(hex, &in))
        return;
    if (parse_hex_arg(mic_hex, &mic)) {
        free(in.value);
        return;
    }
    maj = gss_verify_mic(&min, c, &in, &mic, &qop);
    if (GSS_ERROR(maj))
        print_status("fail", maj, min, "gss_verify_mic");
    else if (maj)
        printf("ok supplementary=%08x\n", (unsigned)maj);
    else
        printf("ok\n");
    free(in.value);
    free(mic.value);
}

/* Decode the enctype appended to GSS_KRB5_SESSION_KEY_ENCTYPE_OID (1.2.840.113554.1.2.2.4.<etype>). */
static long enctype_from_oid(const gss_buffer_desc *b)
{
    static const unsigned char base[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x04};
    const unsigned char *p = b->value;
    long v = 0;
    if (b->length <= sizeof(base) || memcmp(p, base, sizeof(base)) != 0)
        return -1;
    for (size_t i = sizeof(base); i < b->length; i++) {
        v = (v << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80))
            return i + 1 == b->length ? v : -1;
        if (v > 0xffffff)
            return -1;
    }
    return -1;
}

/* "sessionkey": the context key (acceptor subkey if any, else initiator subkey) and its enctype. */
static void cmd_sessionkey(char *side)
{
    OM_uint32 maj, min;
    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    gss_ctx_id_t c = side_ctx(side);
    if (c == GSS_C_NO_CONTEXT)
        return;
    maj = gss_inquire_sec_context_by_oid(&min, c, GSS_C_INQ_SSPI_SESSION_KEY, &set);
    if (GSS_ERROR(maj) || set == GSS_C_NO_BUFFER_SET || set->count < 1) {
        print_status("err", maj, min, "gss_inquire_sec_context_by_oid(SSPI_SESSION_KEY)");
    } else {
        long et = set->count >= 2 ? enctype_from_oid(&set->elements[1]) : -1;
        printf("ok %ld ", et);
        put_hex(set->elements[0].value, set->elements[0].length);
        printf("\n");
    }
    if (set != GSS_C_NO_BUFFER_SET)
        gss_release_buffer_set(&min, &set);
}

/* Print a GSS name as one token (spaces replaced) or "-". */
static void put_name(gss_name_t n)
{
    OM_uint32 min;
    gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
    if (n == GSS_C_NO_NAME || gss_display_name(&min, n, &b, NULL) != GSS_S_COMPLETE || b.length == 0) {
        fputs("-", stdout);
        return;
    }
    put_name_text(&b);
    gss_release_buffer(&min, &b);
}

/* "info": context flags, state and names for diagnostics. */
static void cmd_info(char *side)
{
    OM_uint32 maj, min, flags = 0;
    int open = 0;
    gss_name_t src = GSS_C_NO_NAME, targ = GSS_C_NO_NAME;
    gss_ctx_id_t c = side_ctx(side);
    if (c == GSS_C_NO_CONTEXT)
        return;
    maj = gss_inquire_context(&min, c, &src, &targ, NULL, NULL, &flags, NULL, &open);
    if (GSS_ERROR(maj)) {
        print_status("err", maj, min, "gss_inquire_context");
        return;
    }
    printf("ok flags=%08x open=%d src=", (unsigned)flags, open);
    put_name(src);
    printf(" targ=");
    put_name(targ);
    printf("\n");
    gss_release_name(&min, &src);
    gss_release_name(&min, &targ);
}

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;
    OM_uint32 min;
    int rc = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2) {
        fprintf(stderr, "usage: %s [acceptor-keytab|-]\n", argv[0]);
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "-") != 0)
        keytab_name = argv[1];
    if (krb5_init_context(&kctx)) {
        fprintf(stderr, "krb5_init_context failed\n");
        return 1;
    }
    char *cmd, *a1, *a2, *a3;
    while ((cmd = next_command(&line, &cap, &a1, &a2, &a3)) != NULL) {
        if (strcmp(cmd, "init") == 0)
            cmd_init(a1, a2, a3);
        else if (strcmp(cmd, "init_step") == 0)
            cmd_init_step(a1);
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
        else if (strcmp(cmd, "reset") == 0) {
            drop_initiator();
            drop_ctx(&actx);
            printf("ok\n");
        } else if (strcmp(cmd, "quit") == 0) {
            printf("ok\n");
            break;
        } else
            printf("err 0 0 unknown command %s\n", cmd);
    }
    free(line);
    drop_initiator();
    drop_ctx(&actx);
    if (acred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&min, &acred);
    krb5_free_context(kctx);
    return rc;
}
