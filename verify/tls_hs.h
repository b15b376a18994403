/* tls_hs.h - the TLS-DSK inner handshake reader: TLS records carried in successive gssapi-data
 * tokens of one SA, both directions, reassembled into handshake messages and parsed for what
 * the key derivation needs.
 *
 * Framing (RFC 5246 6.2.1, 7.4): a token may hold several records, a record may end in the next
 * token, a record may hold several handshake messages, a handshake message may span records.
 * Each direction has its own record and message buffer. After a direction's ChangeCipherSpec its
 * handshake records are encrypted (Finished): they are skipped, not reported as malformed.
 *
 * Defensive rules: every length is checked before use; the bytes held for one SA (pending
 * records, pending messages, transcript, certificates, ticket) are capped at TLS_HS_MAX_HELD;
 * a record or message that cannot be parsed, or one that would exceed the cap, stops the
 * reader for that direction with one note (NOTE_MALFORMED) and a reason kept in broken_why.
 * Nothing here allocates without a bound or reads without a length check.
 */
#ifndef MSSIPAE_TLS_HS_H
#define MSSIPAE_TLS_HS_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "verify/verdict.h"

#define TLS_HS_MAX_HELD (256u * 1024u) /* bytes held per SA */

/* Handshake message types (RFC 5246 7.4, RFC 5077 3.3). */
enum {
    TLS_HT_HELLO_REQUEST = 0,
    TLS_HT_CLIENT_HELLO = 1,
    TLS_HT_SERVER_HELLO = 2,
    TLS_HT_NEW_SESSION_TICKET = 4,
    TLS_HT_CERTIFICATE = 11,
    TLS_HT_SERVER_KEY_EXCHANGE = 12,
    TLS_HT_CERTIFICATE_REQUEST = 13,
    TLS_HT_SERVER_HELLO_DONE = 14,
    TLS_HT_CERTIFICATE_VERIFY = 15,
    TLS_HT_CLIENT_KEY_EXCHANGE = 16,
    TLS_HT_FINISHED = 20,
};

/* Everything read from one inner handshake. Fields are valid when their have_ flag is set;
 * byte arrays are NULL until the message that carries them was read. Owned by the reader. */
typedef struct tls_hs {
    /* ClientHello */
    int have_ch;
    uint16_t ch_version;        /* client_version: the version bytes of the pre-master secret */
    uint8_t cr[32];             /* client_random */
    uint8_t ch_sid[32];
    size_t ch_sid_len;
    int ch_ems;                 /* offered extended_master_secret (0x0017) */
    int ch_ticket_ext;          /* sent session_ticket (0x0023) */
    GByteArray *ch_ticket;      /* its non-empty content: a ticket presented for resumption */
    /* ServerHello */
    int have_sh;
    uint16_t version;           /* negotiated (server_version; supported_versions if present) */
    uint8_t sr[32];             /* server_random */
    uint8_t sid[32];
    size_t sid_len;
    uint16_t suite;
    int ems;                    /* extended master secret negotiated (both sides sent it) */
    /* later messages */
    int server_kx;              /* ServerKeyExchange seen: ephemeral (DHE/ECDHE) key exchange */
    int cert_request;           /* CertificateRequest seen */
    int server_done;            /* ServerHelloDone seen: a full handshake */
    GByteArray *server_cert;    /* DER of the server's leaf certificate */
    GByteArray *client_cert;    /* DER of the client's leaf certificate */
    int kx_seen;                /* ClientKeyExchange seen (stays set after tls_hs_trim) */
    int ch_ticket_seen;         /* the ClientHello presented a ticket (idem) */
    GByteArray *cke;            /* ClientKeyExchange body (RSA: 2-byte length + EncryptedPMS) */
    GByteArray *ticket;         /* NewSessionTicket issued by the server */
    GByteArray *transcript;     /* handshake messages, both directions, up to and including
                                   ClientKeyExchange (RFC 7627 session_hash input) */
    int ccs[2];                 /* ChangeCipherSpec seen, by direction (mssipae_dir) */
    int messages;               /* handshake messages read */

    /* state of the reader */
    GByteArray *rec[2];         /* bytes of an incomplete record, by direction */
    GByteArray *msg[2];         /* bytes of an incomplete handshake message, by direction */
    int broken[2];              /* reading stopped for this direction */
    char *broken_why;           /* first reason reading stopped (g_malloc'd) */
    size_t held;                /* bytes held in all buffers above */
} tls_hs;

tls_hs *tls_hs_new(void);
/* Frees the reader; secret-bearing buffers (ClientKeyExchange, ticket) are wiped first. */
void tls_hs_free(tls_hs *hs);

/* Feeds one token (the decoded gssapi-data) sent in direction dir. Problems become notes
 * (NOTE_MALFORMED for framing errors, NOTE_TOKEN for facts such as a TLS alert). */
void tls_hs_feed(tls_hs *hs, mssipae_dir dir, const uint8_t *tok, size_t len, note_list *notes);

/* Drops what only the master-secret derivation needs (transcript, ClientKeyExchange, tickets,
 * pending bytes; wiped) once the master secret is known and both sides sent ChangeCipherSpec,
 * so a long capture keeps little per SA. The parsed facts and certificates stay. */
void tls_hs_trim(tls_hs *hs);

/* 1 when this handshake resumes an earlier session: the ServerHello echoes the ClientHello's
 * non-empty session id, or the client presented a ticket and the server went on without a
 * Certificate or ServerHelloDone (RFC 5246 7.3, RFC 5077 3.1). */
int tls_hs_resumed(const tls_hs *hs);

#endif
