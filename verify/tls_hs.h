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

#include "keytab/rsakeys.h"
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

/* A certificate, read (subject, thumbprint, key id) when its Certificate message arrived; its
 * DER is not kept (issue 10: a capture of many SAs keeps a few hundred bytes per SA).
 * Reference-counted: a handshake and the SAs that show it share one. */
typedef struct tls_cert {
    int refs;
    size_t der_len;             /* length of the DER, still counted in tls_hs.held */
    tls_cert_info info;
} tls_cert;

tls_cert *tls_cert_ref(tls_cert *c);
void tls_cert_unref(tls_cert *c);

/* A table of certificates already read, shared by the handshakes of a capture (a pool's server
 * certificate and a user's client certificate come back in every handshake): SHA-256 of the
 * DER -> tls_cert, and the last few certificates found with their DER, compared in full first
 * (a digest costs more than a comparison: ~1.3 us per handshake at 1M messages, issue 10).
 * Reading one costs ~400 k instructions (GnuTLS import, DN, key id); finding it again a
 * comparison or a digest. */
typedef struct tls_cert_cache tls_cert_cache;
tls_cert_cache *tls_cert_cache_new(void);
void tls_cert_cache_free(tls_cert_cache *c);

/* Everything read from one inner handshake. Fields are valid when their have_ flag is set;
 * byte arrays and certificates are NULL until the message that carries them was read. Owned by
 * the reader. */
typedef struct tls_hs {
    /* ClientHello */
    uint8_t cr[32];             /* client_random */
    uint8_t ch_sid[32];
    uint8_t sr[32];             /* server_random (ServerHello) */
    uint8_t sid[32];            /* session id (ServerHello) */
    uint16_t ch_version;        /* client_version: the version bytes of the pre-master secret */
    uint8_t ch_sid_len;
    uint8_t have_ch;
    uint8_t ch_ems;             /* offered extended_master_secret (0x0017) */
    uint8_t ch_ticket_ext;      /* sent session_ticket (0x0023) */
    /* ServerHello */
    uint8_t have_sh;
    uint8_t ems;                /* extended master secret negotiated (both sides sent it) */
    uint16_t version;           /* negotiated (server_version; supported_versions if present) */
    uint16_t suite;
    uint8_t sid_len;
    /* later messages */
    uint8_t server_kx;          /* ServerKeyExchange seen: ephemeral (DHE/ECDHE) key exchange */
    uint8_t cert_request;       /* CertificateRequest seen */
    uint8_t server_done;        /* ServerHelloDone seen: a full handshake */
    uint8_t kx_seen;            /* ClientKeyExchange seen (stays set after tls_hs_trim) */
    uint8_t ch_ticket_seen;     /* the ClientHello presented a ticket (idem) */
    uint8_t ccs[2];             /* ChangeCipherSpec seen, by direction (mssipae_dir) */
    uint8_t broken[2];          /* reading stopped for this direction */
    int messages;               /* handshake messages read */
    uint32_t held;              /* bytes held: pending records and messages, transcript,
                                   certificates (their DER length), tickets, ClientKeyExchange
                                   (at most TLS_HS_MAX_HELD) */
    tls_cert *server_cert;      /* the server's leaf certificate */
    tls_cert *client_cert;      /* the client's leaf certificate */
    GByteArray *ch_ticket;      /* the ClientHello's non-empty ticket: presented for resumption */
    GByteArray *cke;            /* ClientKeyExchange body (RSA: 2-byte length + EncryptedPMS) */
    GByteArray *ticket;         /* NewSessionTicket issued by the server */
    GByteArray *transcript;     /* handshake messages, both directions, up to and including
                                   ClientKeyExchange (RFC 7627 session_hash input); NULL when
                                   none (yet, or any more) */

    /* state of the reader: the bytes of an incomplete record / handshake message, by direction
     * (NULL when none: whole records and messages are read in place from the token) */
    GByteArray *rec[2];
    GByteArray *msg[2];
    uint32_t rec_len[2], msg_len[2]; /* what the two would hold if every token were copied in
                                   first (the accounting of held, and so of the cap, is that) */
    char *broken_why;           /* first reason reading stopped (g_malloc'd) */
    tls_cert_cache *cert_cache; /* tls_cert_cache_new's, shared (not owned); NULL: none */
} tls_hs;

tls_hs *tls_hs_new(void);
/* Frees the reader; secret-bearing buffers (ClientKeyExchange, ticket) are wiped first. */
void tls_hs_free(tls_hs *hs);
/* The same for a reader kept inside another structure (issue 10: one allocation less per SA):
 * tls_hs_init zeroes it, tls_hs_clear frees what it holds and wipes it, not freeing hs. */
void tls_hs_init(tls_hs *hs);
void tls_hs_clear(tls_hs *hs);

/* Feeds one token (the decoded gssapi-data) sent in direction dir. Problems become notes
 * (NOTE_MALFORMED for framing errors, NOTE_TOKEN for facts such as a TLS alert). */
void tls_hs_feed(tls_hs *hs, mssipae_dir dir, const uint8_t *tok, size_t len, note_list *notes);

/* Drops what only the master-secret derivation needs (transcript, ClientKeyExchange, tickets,
 * pending bytes; wiped and freed) once the master secret is known and both sides sent
 * ChangeCipherSpec, so a long capture keeps little per SA. The parsed facts and certificates
 * stay. */
void tls_hs_trim(tls_hs *hs);

/* 1 when this handshake resumes an earlier session: the ServerHello echoes the ClientHello's
 * non-empty session id, or the client presented a ticket and the server went on without a
 * Certificate or ServerHelloDone (RFC 5246 7.3, RFC 5077 3.1). */
int tls_hs_resumed(const tls_hs *hs);

#endif
