/* krb_keytab.c - Kerberos: the service keytab (decrypting a ticket; saying which key was missing). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "verify/krb_int.h"

#include <string.h>

/* Says why no keytab key fits a ticket, naming what was looked up (style: say which key was
 * missing): none of that enctype, or keys that exist but do not decrypt. */
static char *krb_describe_keytab_miss(krb5_context ctx, krb5_keytab kt, const char *path,
                                  krb5_principal server, const char *service, int32_t enctype,
                                  uint32_t kvno)
{
    char eb[80];
    int same_type = 0, exact = 0;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    if (krb5_kt_start_seq_get(ctx, kt, &cur) == 0) {
        while (krb5_kt_next_entry(ctx, kt, &ent, &cur) == 0) {
            if (ent.key.enctype == enctype) {
                same_type++;
                if (krb5_principal_compare(ctx, ent.principal, server) && ent.vno == kvno)
                    exact = 1;
            }
            krb5_free_keytab_entry_contents(ctx, &ent);
        }
        krb5_kt_end_seq_get(ctx, kt, &cur);
    }
    krb_etype_desc(enctype, eb, sizeof eb);
    if (exact)
        return g_strdup_printf("keytab %s has a key for %s kvno %u enctype %s, but it does not "
                               "decrypt the ticket (wrong password or stale keytab?)",
                               path, service, kvno, eb);
    if (same_type)
        return g_strdup_printf("no key in keytab %s for %s kvno %u enctype %s (its %d other "
                               "key(s) of that enctype do not decrypt the ticket)",
                               path, service, kvno, eb, same_type);
    return g_strdup_printf("no key in keytab %s for %s kvno %u enctype %s", path, service, kvno,
                           eb);
}

/* Decrypts the ticket with the keytab (krb5_server_decrypt_ticket_keytab: no clock or replay
 * checks); without a usable key, the SA's nokey_why says which key was looked up and missing. */
void krb_keytab_open_ticket(krb_sa *sa, krb5_context ctx, keystore *ks, krb5_ticket *ticket,
                            const char *service, note_list *notes)
{
    char eb[80];
    krb5_error_code rc;
    krb5_keytab kt = keystore_keytab(ks);
    const char *path = keystore_keytab_path(ks);
    krb_etype_desc(sa->tkt_enctype, eb, sizeof eb);
    if (!kt) {
        krb_rare(sa)->nokey_why = path
            ? g_strdup_printf("keytab %s could not be read or holds no keys: no key for %s "
                              "kvno %u enctype %s", path, service, sa->tkt_kvno, eb)
            : g_strdup_printf("no keytab configured (preference mssipae.keytab): no key for %s "
                              "kvno %u enctype %s", service, sa->tkt_kvno, eb);
    } else if (!krb5_c_valid_enctype(sa->tkt_enctype)) {
        krb_rare(sa)->nokey_why = g_strdup_printf("ticket for %s uses enctype %s, which libkrb5 does not "
                                        "support", service, eb);
        sa->nokey_unsupported = 1;
    } else {
        rc = krb5_server_decrypt_ticket_keytab(ctx, kt, ticket);
        if (ticket->enc_part2 && rc != 0) {
            /* decrypted, but a policy check (transited realms, postdated flag) failed: an
             * offline verifier applies no such policy */
            char *e = krb_errtext(ctx, rc);
            note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                     "Kerberos AP-REQ: ticket decrypted; ignoring a ticket policy check: %s", e);
            g_free(e);
        }
        char *kname = NULL;
        if (ticket->enc_part2 && krb5_unparse_name(ctx, ticket->server, &kname) == 0) {
            /* the cleartext sname is not integrity-protected; the keytab entry that decrypted
             * the ticket says whose it really is */
            if (strcmp(kname, service) != 0)
                note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE, "Kerberos AP-REQ: the ticket names "
                         "%s but was decrypted with the keytab key of %s", service, kname);
            krb5_free_unparsed_name(ctx, kname);
        }
        if (!ticket->enc_part2)
            krb_rare(sa)->nokey_why = krb_describe_keytab_miss(ctx, kt, path ? path : "(in memory)",
                                                 ticket->server, service, sa->tkt_enctype,
                                                 sa->tkt_kvno);
    }
}
