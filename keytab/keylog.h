/* keylog.h - the key-log file: explicit per-SA secrets, one per line (design.md).
 *
 *   NTLM          <opaque> <exported-session-key-hex>
 *   KERBEROS      <opaque> <enctype-number> <session-or-subkey-hex>
 *   TLS-DSK       <opaque> <client-key-hex> <server-key-hex>
 *   CLIENT_RANDOM <client-random-hex> <master-secret-hex>
 *
 * '#' starts a comment; blank lines are skipped; keywords and hex are case-insensitive; fields
 * are separated by spaces or tabs; CR before LF is ignored. One parser serves every source (W).
 */
#ifndef MSSIPAE_KEYLOG_H
#define MSSIPAE_KEYLOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KEYLOG_NTLM = 1,
    KEYLOG_KERBEROS,
    KEYLOG_TLSDSK,
    KEYLOG_CLIENT_RANDOM,
} keylog_scheme;

typedef struct {
    keylog_scheme scheme;
    char *id;          /* opaque (upper-cased) or, for CLIENT_RANDOM, the client random in lower hex */
    int32_t enctype;   /* KERBEROS only, else 0 */
    uint8_t *key1;     /* NTLM: exported session key; KERBEROS: key; TLS-DSK: client key; CR: master secret */
    size_t key1_len;
    uint8_t *key2;     /* TLS-DSK: server key; else NULL */
    size_t key2_len;
    unsigned line;     /* line number in the file, for messages */
} keylog_entry;

/* Result of parsing one line. */
typedef enum {
    KEYLOG_LINE_OK = 0,     /* *out filled; free with keylog_entry_clear */
    KEYLOG_LINE_EMPTY,      /* blank or comment */
    KEYLOG_LINE_BAD,        /* malformed; *why set to static text */
} keylog_line_status;

/* Parses one line (without or with its trailing CR/LF). */
keylog_line_status keylog_parse_line(const char *line, size_t len, keylog_entry *out,
                                     const char **why);
/* The same without allocating: id, key1 and key2 of *out point into buf (KEYLOG_PARSE_BUF
 * bytes, which the caller wipes; never keylog_entry_clear such an entry). */
#define KEYLOG_PARSE_BUF 400
keylog_line_status keylog_parse_line_to(const char *line, size_t len, keylog_entry *out,
                                        const char **why, void *buf);
void keylog_entry_clear(keylog_entry *e);

#endif
