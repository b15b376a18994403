/* keystore.h - every secret the user gave us, in one place (W's two stores: preferences/UAT
 * and the key-log file).
 *
 * The glue rebuilds a keystore when preferences or the NTLM user table change; the core only
 * reads it. Lookups never print secrets; failures to read a source are kept as text
 * (keystore_config_errors) so they are reported once, visibly.
 *
 * Sources:
 *   - mssipae.keytab       one MIT keytab file: Kerberos service keys; its RC4-HMAC entries
 *                          (enctype 23) also serve as NT hashes for NTLM (user = first
 *                          component of the principal, domain = its realm).
 *   - mssipae.nt_password  one password tried for every NTLM user.
 *   - NTLM users table     rows (domain, user, password or NT hash).
 *   - mssipae.keylog_file  lines "NTLM <opaque> <key>", "KERBEROS <opaque> <enctype> <key>",
 *                          "TLS-DSK <opaque> <ckey> <skey>", "CLIENT_RANDOM <cr> <ms>".
 *   - TLS key log          Wireshark's own tls.keylog_file (NSS format): only its CLIENT_RANDOM
 *                          lines are read (TLS 1.3 secrets and other labels are skipped
 *                          silently), lazily and again when the file changes.
 *   - TLS-DSK RSA keys     mssipae.tls_dsk_rsa_key (one PEM file) and the rows of the table
 *                          mssipae_tls_dsk_keys (key file, password): PEM PKCS#1/PKCS#8,
 *                          DER, PKCS#12; loaded when added, chosen by certificate key id.
 */
#ifndef MSSIPAE_KEYSTORE_H
#define MSSIPAE_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <krb5/krb5.h>

#include "keytab/keylog.h"
#include "keytab/rsakeys.h"

typedef struct keystore keystore;

/* One NTLM credential candidate. Owned by the keystore. */
typedef struct {
    char *domain;        /* may be "" (matches any domain) */
    char *user;          /* may be "" (matches any user: the global password) */
    char *password;      /* UTF-8, or NULL when only the hash is known */
    uint8_t nt_hash[16]; /* NTOWFv1 = MD4(UTF-16LE(password)), always set */
    char *origin;        /* human text: "preference mssipae.nt_password", "NTLM users row 2",
                            "keytab entry alice@CONTOSO.TEST kvno 3" (never the secret) */
} ks_nt_cred;

keystore *keystore_new(void);
void keystore_free(keystore *ks);

/* Setters used by the glue; NULL or "" clears the source. Errors are recorded, not returned
 * fatally: the return value is 0 on success, -1 when the source could not be used (the reason
 * is then in keystore_config_errors). */
int keystore_set_keytab(keystore *ks, const char *path);
/* keystore_set_keytab, with origin (e.g. "from Wireshark's kerberos.file") named after the path
 * wherever the keytab is named (reasons, keystore_keytab_path). */
int keystore_set_keytab_from(keystore *ks, const char *path, const char *origin);
int keystore_set_nt_password(keystore *ks, const char *password);
/* Adds one row of the NTLM users table: password or hash_hex (32 hex digits), at least one.
 * Rows are numbered 1, 2, ... in call order (rejected rows count too), origin "NTLM users table
 * row N". When both are given the NT hash wins: the password is kept only if it hashes to the
 * same value, otherwise it is dropped and a config error says they disagree (return 0). An
 * empty user or domain in a row matches any user or domain. */
int keystore_add_ntlm_user(keystore *ks, const char *domain, const char *user,
                           const char *password, const char *hash_hex);
int keystore_set_keylog(keystore *ks, const char *path);

/* Adds a TLS-DSK server RSA key from a file (password for encrypted PKCS#8 and PKCS#12, NULL
 * or "" otherwise); origin names the source for messages ("preference mssipae.tls_dsk_rsa_key",
 * "TLS-DSK keys table row 2"). Unusable files (not a key, wrong password, unreadable, not a
 * regular file) become a config error and return -1. */
int keystore_add_tls_rsa_key(keystore *ks, const char *path, const char *password,
                             const char *origin);
/* Number of TLS-DSK RSA keys loaded. */
size_t keystore_tls_rsa_count(const keystore *ks);
/* The RSA key whose public key has this SHA-1 key id (of the server certificate), or NULL;
 * *origin (borrowed, may be NULL) gets the key's origin text. */
const rsakey *keystore_tls_rsa_find(const keystore *ks, const uint8_t key_id[RSAKEY_ID_LEN],
                                    const char **origin);

/* Wireshark's TLS key log (tls.keylog_file); NULL or "" clears it. */
int keystore_set_tls_keylog(keystore *ks, const char *path);

/* The master secret of a TLS handshake by its client random: a CLIENT_RANDOM line of
 * mssipae.keylog_file first, then of the TLS key log. Returns 1 and fills ms and *origin
 * (g_malloc'd, e.g. "key log /x/keys.log line 3 (CLIENT_RANDOM)"; the caller frees it), or 0. */
int keystore_client_random(keystore *ks, const uint8_t cr[32], uint8_t ms[48], char **origin);
/* The same with the origin in two parts, for a caller that keeps it for many handshakes and
 * shares the first: *src (g_malloc'd: "key log /x/keys.log" or "TLS key log /y/tls.log") and
 * *line (from 1); the origin text is "<src> line <line> (CLIENT_RANDOM)". */
int keystore_client_random_src(keystore *ks, const uint8_t cr[32], uint8_t ms[48], char **src,
                               unsigned *line);
/* A number that changes whenever keystore_client_random could answer differently for some
 * client random (either key log re-read, set or cleared); it looks at the files as a lookup
 * does. Never reused (keystore_keylog_generation's counter). */
uint64_t keystore_client_random_generation(keystore *ks);

/* Configuration problems seen so far (unreadable keytab, bad key-log lines, bad NT hash), one
 * line each, for a single report; new ones are appended (key-log lines found by a later
 * keystore_keylog_find too). Borrowed; NULL-terminated array, never NULL, valid until the next
 * setter call or keystore_free. */
const char *const *keystore_config_errors(const keystore *ks);

/* Every NTLM credential that may belong to (domain, user), in this order: table rows for that
 * user (domain compared case-insensitively; a row with an empty domain matches any domain),
 * keytab RC4 entries whose principal's first component equals user (case-insensitively),
 * then the global password. Returns the number of candidates; *out (borrowed pointers) is a
 * g_malloc'd array the caller g_free()s. */
size_t keystore_nt_candidates(const keystore *ks, const char *domain, const char *user,
                              const ks_nt_cred ***out);

/* Key-log entry for (scheme, opaque); the opaque is compared case-insensitively. The key log
 * is read lazily and re-read when the file changes (device, inode, size or mtime); a later line
 * for the same key wins. NULL when none. The entry is borrowed and stays valid until
 * keystore_set_keylog or keystore_free, even across re-reads. */
const keylog_entry *keystore_keylog_find(keystore *ks, keylog_scheme scheme, const char *opaque);

/* The ids (opaques) of every key-log entry of scheme, sorted, for signatures made before the
 * server named their SA's opaque (a Kerberos v4 AP-REQ request is signed before the 200 OK says
 * the opaque). Returns the count; *out is a g_malloc'd array of borrowed strings (valid like the
 * entries of keystore_keylog_find), which the caller g_free()s. */
/* Several lines of the key log for one (scheme, opaque) with different keys: returns how many
 * (0 when there is no conflict) and *out their entries in file order (valid until the next
 * lookup that rereads the file). Only a signature can tell which is right, so the tracker tries
 * each, pinning it with keystore_keylog_pin so that keystore_keylog_find returns it for its id;
 * keystore_keylog_pin(ks, NULL) ends that. */
size_t keystore_keylog_conflicts(keystore *ks, keylog_scheme scheme, const char *opaque,
                                 const keylog_entry *const **out);
void keystore_keylog_pin(keystore *ks, const keylog_entry *e);

size_t keystore_keylog_ids(keystore *ks, keylog_scheme scheme, const char ***out);
/* The same listing without a copy: sorted, kept by the keystore until the key log changes (valid
 * until the next lookup that rereads it); built once per content, so a trial per signature
 * costs no walk over the whole key log. */
size_t keystore_keylog_ids_view(keystore *ks, keylog_scheme scheme, const char *const **out);
/* While held (calls nest), lookups do not look at the key-log file again: one stat() serves a
 * whole trial of many entries. (Wireshark's TLS key log is looked at all the same, within the
 * recheck interval.) */
void keystore_keylog_hold(keystore *ks, int hold);
/* Looks at the key-log file (stat, re-read when it changed) at most once per ms milliseconds
 * once it was read; 0 (the default) looks on every lookup. The same interval applies to
 * Wireshark's TLS key log (keystore_set_tls_keylog). The dissector sets 1000: a key log
 * written during a capture is seen within a second, one that changes between runs is read again
 * (each run starts a new keystore), and no lookup per message costs a stat(). */
void keystore_keylog_recheck(keystore *ks, unsigned ms);

/* A number that changes whenever keystore_keylog_find could answer differently for some id (the
 * key log was re-read, set or cleared, or a pin changed). It looks at the file as a lookup does
 * (at most once per recheck interval). Generations come from one process-wide counter, so none
 * is ever reused, not even by a later keystore at the same address. */
uint64_t keystore_keylog_generation(keystore *ks);

/* A per-SA memo of one key-log lookup: keystore_keylog_find_memo answers from it while the
 * keystore, the generation, the scheme and the opaque (compared exactly) are unchanged, else
 * looks up and remembers. Zero-initialise; free with keystore_keylog_memo_clear. */
typedef struct {
    const keystore *ks;
    uint64_t gen;
    keylog_scheme scheme;
    char *opaque;
    const keylog_entry *entry;
} ks_keylog_memo;
const keylog_entry *keystore_keylog_find_memo(keystore *ks, keylog_scheme scheme,
                                              const char *opaque, ks_keylog_memo *m);
void keystore_keylog_memo_clear(ks_keylog_memo *m);

/* MIT krb5 access for the Kerberos mechanism: the context (always valid after keystore_new
 * unless krb5_init_context failed) and the keytab (an in-memory copy of the configured file,
 * or NULL when no keytab is configured or it could not be read). */
krb5_context keystore_krb5_context(const keystore *ks);
krb5_keytab keystore_keytab(const keystore *ks);
/* Path of the configured keytab, or NULL. */
const char *keystore_keytab_path(const keystore *ks);

/* NTOWFv1 of a UTF-8 password: MD4(UTF-16LE(password)). Returns 0, or -1 for invalid UTF-8. */
int nt_hash_from_password(const char *password, uint8_t out[16]);

#endif
