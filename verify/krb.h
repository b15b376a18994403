/* krb.h - internal view of the Kerberos mechanism's per-SA state, for unit tests only.
 *
 * The glue and the tracker use mech_kerberos_ops (verify/mech.h); nothing here is needed to verify
 * a signature. Tests use these accessors to compare what the handshake yielded with known answers.
 */
#ifndef MSSIPAE_KRB_H
#define MSSIPAE_KRB_H

#include <stddef.h>
#include <stdint.h>

/* Keys a Kerberos handshake can yield (decrypted with the keytab). */
typedef enum {
    KRB_KEY_SESSION = 0,     /* EncTicketPart key (RFC 4120 5.3) */
    KRB_KEY_AUTH_SUBKEY,     /* Authenticator subkey [6] (RFC 4120 5.5.1) */
    KRB_KEY_ACCEPTOR_SUBKEY, /* EncAPRepPart subkey [2] (RFC 4120 5.5.2) */
} krb_key_role;

/* Facts a handshake can yield. */
typedef enum {
    KRB_FACT_TICKET_ENCTYPE = 0,
    KRB_FACT_TICKET_KVNO,
    KRB_FACT_AUTH_SEQ,  /* Authenticator seq-number [7] */
    KRB_FACT_APREP_SEQ, /* EncAPRepPart seq-number [3] */
    KRB_FACT_GSS_FLAGS, /* flags of the 0x8003 authenticator checksum (RFC 4121 4.1.1) */
} krb_fact;

/* The key of that role on the SA state st (of mech_kerberos_ops): 1 with borrowed pointers, or
 * 0 when the handshake did not yield it. */
int krb_sa_key(const void *st, krb_key_role role, int32_t *enctype, const uint8_t **key,
               size_t *len);
/* A fact of the SA's handshake: 1 with *out, or 0 when not known. */
int krb_sa_fact(const void *st, krb_fact fact, uint32_t *out);

#endif
