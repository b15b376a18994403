/* keystore.c - every secret the user gave us, in one place (contract in keystore.h).
 *
 * Lifetimes:
 *  - The keytab file is copied once, by keystore_set_keytab, into a MEMORY keytab private to
 *    this keystore ("MEMORY:mssipae-<keystore>-<generation>"), so later lookups never touch the
 *    file. MIT krb5 (1.20) has no krb5_kt_destroy: krb5_kt_close() of a MEMORY keytab whose
 *    reference count drops to zero removes it from the process-wide list and frees its entries,
 *    so one close per resolve is "close and destroy". We still check that a freshly resolved
 *    MEMORY keytab is empty, in case someone else still holds a reference to an old one.
 *  - The key log is read lazily by keystore_keylog_find and read again, whole, when the file's
 *    identity (device, inode, size, mtime) changes. Entries whose content did not change keep
 *    their address; replaced or removed ones are parked until keystore_set_keylog or
 *    keystore_free, so a pointer returned by keystore_keylog_find stays valid that long.
 *  - keystore_config_errors returns a view that stays valid until the next setter call or
 *    keystore_free (errors found later by keystore_keylog_find go into a new view; the old one is
 *    parked, not freed).
 */
#define _POSIX_C_SOURCE 200809L /* struct stat st_mtim */

#include "keytab/keystore.h"
#include "keytab/secure.h"
#include "sigbuf/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <nettle/md4.h>

#define KS_KEYLOG_MAX_SIZE (64u * 1024 * 1024) /* a key log larger than this is a mistake */
#define KS_KEYLOG_REPORT_MAX 5 /* malformed / conflicting key-log lines named one by one */
#define KS_MEMKT_TRIES 16

typedef enum {
    KS_SRC_CONTEXT = 0,
    KS_SRC_KEYTAB,
    KS_SRC_PASSWORD,
    KS_SRC_USERS,
    KS_SRC_KEYLOG,
    KS_SRC_RSA,
    KS_SRC_TLSKEYLOG,
} ks_src;

/* One TLS-DSK RSA key and where it came from. */
typedef struct {
    rsakey *key;
    char *origin;
} ks_rsa;

/* A master secret from the TLS key log. */
typedef struct {
    uint8_t ms[48];
    unsigned line;
} ks_tls_ms;

typedef struct {
    ks_src src;
    char *text;
} ks_err;

/* What identifies one version of the key-log file. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    time_t mtime_sec;
    long mtime_nsec;
} ks_file_id;

struct keystore {
    krb5_context kctx;

    GPtrArray *errs;     /* ks_err *, owned, in the order seen */
    char **err_view;     /* NULL-terminated borrowed texts of errs, handed out */
    GPtrArray *retired;  /* old err_views (arrays only), freed at the next setter or free */

    char *kt_path;       /* as configured */
    krb5_keytab kt;      /* private MEMORY copy, or NULL */
    unsigned kt_gen;     /* makes each MEMORY keytab name unique within this keystore */
    GPtrArray *kt_creds; /* ks_nt_cred * from RC4-HMAC keytab entries, file order */

    GPtrArray *user_creds; /* ks_nt_cred * from the NTLM users table, call order */
    unsigned user_rows;    /* rows added so far, including rejected ones (1-based numbering) */
    ks_nt_cred *global;    /* mssipae.nt_password, or NULL */

    char *kl_path;
    GHashTable *kl_table;    /* set of keylog_entry * by (scheme, id) (owned, packed:
                                ks_entry_pack) */
    GPtrArray *kl_parked;    /* keylog_entry * replaced on a re-read, kept valid until reset */
    GHashTable *kl_reported; /* key-log error texts already recorded */
    GHashTable *kl_alts;     /* "scheme:id" -> GPtrArray of keylog_entry * (not owned): every
                                different line for one id, in file order, when there are several */
    GPtrArray *kl_conflicted;/* keylog_entry * of earlier conflicting lines (owned) */
    const keylog_entry *kl_pin; /* keystore_keylog_pin: what find returns for its id, or NULL */
    GPtrArray *kl_ids[KEYLOG_CLIENT_RANDOM + 1]; /* per scheme: sorted ids (not owned), built on
                                                    demand, dropped when the table changes */
    unsigned kl_hold;        /* keystore_keylog_hold depth: no re-stat while held */
    gboolean kl_loaded;      /* kl_id describes the content in kl_table */
    gint64 kl_recheck_us;    /* keystore_keylog_recheck: 0 = look at the file on every lookup */
    gint64 kl_checked;       /* monotonic time (us) of the last look that found it loaded */
    guint64 kl_gen;          /* keystore_keylog_generation: new whenever a find could answer
                                differently (table rebuilt or cleared, pin changed) */
    ks_file_id kl_id;

    GPtrArray *rsa_keys;     /* ks_rsa *, in the order added */

    char *tk_path;           /* Wireshark's tls.keylog_file, or NULL */
    GHashTable *tk_table;    /* client random (lower hex) -> ks_tls_ms * (owned, wiped) */
    GHashTable *tk_reported; /* error texts already recorded */
    gboolean tk_loaded;
    ks_file_id tk_id;
    guint64 tk_gen;          /* from the same counter as kl_gen: new whenever the TLS key log's
                                table changed (keystore_client_random_generation) */
    gint64 tk_checked;       /* as kl_checked, for the TLS key log (the same interval) */
};

/* ---- small helpers ---- */

/* One process-wide counter, so a generation is never reused, not even by another keystore at
 * the same address (a per-SA memo keyed by (keystore, generation) cannot go stale). */
static guint64 ks_gen_counter;

static void ks_keylog_changed(keystore *ks)
{
    ks->kl_gen = ++ks_gen_counter;
}

/* Frees a password string after wiping it. */
static void ks_free_secret_str(char *s)
{
    if (s) {
        secure_wipe(s, strlen(s));
        g_free(s);
    }
}

static void ks_cred_free(gpointer p)
{
    ks_nt_cred *c = p;
    if (!c)
        return;
    g_free(c->domain);
    g_free(c->user);
    ks_free_secret_str(c->password);
    secure_wipe(c->nt_hash, sizeof(c->nt_hash));
    g_free(c->origin);
    g_free(c);
}

static void ks_rsa_free(gpointer p)
{
    ks_rsa *r = p;
    rsakey_free(r->key);
    g_free(r->origin);
    g_free(r);
}

static void ks_tls_ms_free(gpointer p)
{
    secure_wipe(p, sizeof(ks_tls_ms));
    g_free(p);
}

static size_t ks_entry_size(const keylog_entry *e);

/* Frees a packed entry of the key-log table (ks_entry_pack), wiping its keys first. */
static void ks_entry_free(gpointer p)
{
    keylog_entry *e = p;
    secure_wipe(e, ks_entry_size(e));
    g_free(e);
}

static void ks_err_free(gpointer p)
{
    ks_err *e = p;
    g_free(e->text);
    g_free(e);
}

/* Rebuilds the borrowed error view; the old view is parked when someone may still hold it. */
static void ks_errs_rebuild(keystore *ks, gboolean park_old)
{
    char **v = g_new0(char *, ks->errs->len + 1);
    for (guint i = 0; i < ks->errs->len; i++)
        v[i] = ((ks_err *)ks->errs->pdata[i])->text;
    if (ks->err_view) {
        if (park_old)
            g_ptr_array_add(ks->retired, ks->err_view);
        else
            g_free(ks->err_view);
    }
    ks->err_view = v;
}

/* Every setter starts here: views handed out before are now allowed to die. */
static void ks_setter_begin(keystore *ks)
{
    g_ptr_array_set_size(ks->retired, 0);
}

/* Every setter ends here, publishing a fresh view of the errors. */
static void ks_setter_end(keystore *ks)
{
    ks_errs_rebuild(ks, FALSE);
}

/* Records one configuration error (takes ownership of text). */
static void ks_error(keystore *ks, ks_src src, char *text)
{
    ks_err *e = g_new0(ks_err, 1);
    e->src = src;
    e->text = text;
    g_ptr_array_add(ks->errs, e);
}

/* Drops the errors of one source, when that source is reconfigured. */
static void ks_errors_drop(keystore *ks, ks_src src)
{
    for (guint i = ks->errs->len; i-- > 0;) {
        if (((ks_err *)ks->errs->pdata[i])->src == src)
            g_ptr_array_remove_index(ks->errs, i);
    }
}

/* Text of a krb5 error code, via the context when there is one. */
static char *ks_krb5_msg(krb5_context ctx, krb5_error_code code)
{
    const char *m = krb5_get_error_message(ctx, code);
    char *s = g_strdup(m ? m : "unknown Kerberos error");
    krb5_free_error_message(ctx, m);
    return s;
}

/* Case-insensitive comparison of user or domain names (UTF-8 aware, bytewise if invalid). */
static gboolean ks_name_eq(const char *a, const char *b)
{
    if (g_ascii_strcasecmp(a, b) == 0)
        return TRUE;
    if (!g_utf8_validate(a, -1, NULL) || !g_utf8_validate(b, -1, NULL))
        return FALSE;
    char *fa = g_utf8_casefold(a, -1);
    char *fb = g_utf8_casefold(b, -1);
    gboolean eq = strcmp(fa, fb) == 0;
    g_free(fa);
    g_free(fb);
    return eq;
}

/* ---- NT hash ---- */

/* NTOWFv1 ([MS-NLMP] 3.3.1): MD4(UNICODE(Passwd)), UNICODE = UTF-16LE without terminator. */
int nt_hash_from_password(const char *password, uint8_t out[16])
{
    if (!password || !g_utf8_validate(password, -1, NULL))
        return -1;
    glong n16 = 0;
    gunichar2 *u16 = g_utf8_to_utf16(password, -1, NULL, &n16, NULL);
    if (!u16)
        return -1;
    /* gunichar2 is host-endian; serialise explicitly as little-endian. */
    size_t nbytes = (size_t)n16 * 2;
    uint8_t *le = g_malloc(nbytes ? nbytes : 1);
    for (glong i = 0; i < n16; i++) {
        le[2 * i] = (uint8_t)(u16[i] & 0xff);
        le[2 * i + 1] = (uint8_t)(u16[i] >> 8);
    }
    struct md4_ctx md4;
    md4_init(&md4);
    md4_update(&md4, nbytes, le);
    md4_digest(&md4, MD4_DIGEST_SIZE, out);
    secure_wipe(&md4, sizeof(md4));
    secure_wipe(le, nbytes);
    secure_wipe(u16, nbytes);
    g_free(le);
    g_free(u16);
    return 0;
}

/* ---- lifetime ---- */

/* Creates an empty keystore with its own krb5 context (needed by every keytab operation). */
keystore *keystore_new(void)
{
    keystore *ks = g_new0(keystore, 1);
    ks->errs = g_ptr_array_new_with_free_func(ks_err_free);
    ks->retired = g_ptr_array_new_with_free_func(g_free);
    ks->kt_creds = g_ptr_array_new_with_free_func(ks_cred_free);
    ks->user_creds = g_ptr_array_new_with_free_func(ks_cred_free);
    ks->kl_parked = g_ptr_array_new_with_free_func(ks_entry_free);
    ks->kl_conflicted = g_ptr_array_new_with_free_func(ks_entry_free);
    ks->kl_alts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)g_ptr_array_unref);
    ks->kl_reported = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ks->rsa_keys = g_ptr_array_new_with_free_func(ks_rsa_free);
    ks->tk_reported = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ks_keylog_changed(ks);
    krb5_error_code rc = krb5_init_context(&ks->kctx);
    if (rc != 0) {
        ks->kctx = NULL;
        char *m = ks_krb5_msg(NULL, rc);
        ks_error(ks, KS_SRC_CONTEXT, g_strdup_printf("Kerberos: cannot initialise MIT krb5: %s", m));
        g_free(m);
    }
    ks_errs_rebuild(ks, FALSE);
    return ks;
}

/* Forgets the keytab: closing our only reference destroys the MEMORY copy (see top). */
static void ks_keytab_clear(keystore *ks)
{
    if (ks->kt) {
        krb5_kt_close(ks->kctx, ks->kt);
        ks->kt = NULL;
    }
    g_ptr_array_set_size(ks->kt_creds, 0);
    g_free(ks->kt_path);
    ks->kt_path = NULL;
}

/* Forgets the key log and everything read from it. */
static void ks_keylog_ids_drop(keystore *ks);

static void ks_keylog_clear(keystore *ks)
{
    if (ks->kl_table) {
        g_hash_table_destroy(ks->kl_table);
        ks->kl_table = NULL;
    }
    g_hash_table_remove_all(ks->kl_alts);
    ks->kl_pin = NULL;
    ks_keylog_ids_drop(ks);
    g_ptr_array_set_size(ks->kl_conflicted, 0);
    g_ptr_array_set_size(ks->kl_parked, 0);
    g_hash_table_remove_all(ks->kl_reported);
    ks->kl_loaded = FALSE;
    g_free(ks->kl_path);
    ks->kl_path = NULL;
    ks_keylog_changed(ks);
}

static void ks_tls_keylog_clear(keystore *ks);

void keystore_free(keystore *ks)
{
    if (!ks)
        return;
    ks_tls_keylog_clear(ks);
    g_hash_table_destroy(ks->tk_reported);
    g_ptr_array_free(ks->rsa_keys, TRUE);
    ks_keytab_clear(ks);
    ks_keylog_clear(ks);
    g_ptr_array_free(ks->kt_creds, TRUE);
    g_ptr_array_free(ks->user_creds, TRUE);
    ks_cred_free(ks->global);
    g_ptr_array_free(ks->kl_parked, TRUE);
    g_ptr_array_free(ks->kl_conflicted, TRUE);
    g_hash_table_destroy(ks->kl_alts);
    ks_keylog_ids_drop(ks);
    g_hash_table_destroy(ks->kl_reported);
    g_ptr_array_free(ks->errs, TRUE);
    g_ptr_array_free(ks->retired, TRUE);
    g_free(ks->err_view);
    if (ks->kctx)
        krb5_free_context(ks->kctx);
    g_free(ks);
}

/* ---- keytab ---- */

/* Checks the file can be opened for reading, so the error names the real reason. */
static char *ks_check_readable(const char *fs_path)
{
    /* the type is checked before opening, and O_NONBLOCK keeps a FIFO swapped in since then
     * from blocking the open: a named pipe must never hang start-up */
    struct stat st0;
    if (stat(fs_path, &st0) != 0)
        return g_strdup(g_strerror(errno));
    if (!S_ISREG(st0.st_mode))
        return g_strdup("not a regular file");
    int fd = open(fs_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return g_strdup(g_strerror(errno));
    struct stat st;
    char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = g_strdup(g_strerror(errno));
    else if (!S_ISREG(st.st_mode))
        why = g_strdup("not a regular file");
    close(fd);
    return why;
}

/* Resolves a fresh, empty MEMORY keytab private to this keystore. */
static krb5_error_code ks_memkt_new(keystore *ks, krb5_keytab *out)
{
    krb5_error_code rc = KRB5_KT_NAME_TOOLONG;
    for (int tries = 0; tries < KS_MEMKT_TRIES; tries++) {
        char *name = g_strdup_printf("MEMORY:mssipae-%p-%u", (void *)ks, ks->kt_gen++);
        krb5_keytab kt = NULL;
        rc = krb5_kt_resolve(ks->kctx, name, &kt);
        g_free(name);
        if (rc != 0)
            return rc;
        if (krb5_kt_have_content(ks->kctx, kt) != 0) {
            *out = kt; /* empty: ours alone */
            return 0;
        }
        krb5_kt_close(ks->kctx, kt); /* still held by someone else: try the next name */
        rc = KRB5_KT_NAME_TOOLONG;
    }
    return rc;
}

/* Turns an RC4-HMAC keytab entry into an NT-hash candidate (its key is the NT hash, RFC 4757). */
static void ks_keytab_cred(keystore *ks, const krb5_keytab_entry *e)
{
    const krb5_principal p = e->principal;
    if (!p || p->length < 1 || e->key.length != 16)
        return;
    char *name = NULL;
    if (krb5_unparse_name(ks->kctx, p, &name) != 0)
        return;
    ks_nt_cred *c = g_new0(ks_nt_cred, 1);
    c->user = g_strndup(p->data[0].data, p->data[0].length);
    c->domain = g_strndup(p->realm.data, p->realm.length);
    c->password = NULL;
    memcpy(c->nt_hash, e->key.contents, 16);
    c->origin = g_strdup_printf("keytab entry %s kvno %u", name, (unsigned)e->vno);
    krb5_free_unparsed_name(ks->kctx, name);
    g_ptr_array_add(ks->kt_creds, c);
}

/* Copies every entry of the keytab file into a private MEMORY keytab; the file is not kept open. */
static char *ks_keytab_load(keystore *ks, const char *fs_path)
{
    char *why = ks_check_readable(fs_path);
    if (why)
        return why;

    char *fname = g_strconcat("FILE:", fs_path, NULL);
    krb5_keytab fkt = NULL, mkt = NULL;
    krb5_kt_cursor cur;
    gboolean cur_open = FALSE;
    unsigned n = 0;
    krb5_error_code rc = krb5_kt_resolve(ks->kctx, fname, &fkt);
    g_free(fname);
    if (rc != 0)
        goto krb_fail;
    rc = ks_memkt_new(ks, &mkt);
    if (rc != 0)
        goto krb_fail;
    rc = krb5_kt_start_seq_get(ks->kctx, fkt, &cur);
    if (rc != 0)
        goto krb_fail;
    cur_open = TRUE;
    for (;;) {
        krb5_keytab_entry e;
        rc = krb5_kt_next_entry(ks->kctx, fkt, &e, &cur);
        if (rc == KRB5_KT_END) {
            rc = 0;
            break;
        }
        if (rc != 0)
            goto krb_fail;
        rc = krb5_kt_add_entry(ks->kctx, mkt, &e);
        if (rc == 0 && e.key.enctype == ENCTYPE_ARCFOUR_HMAC)
            ks_keytab_cred(ks, &e);
        krb5_free_keytab_entry_contents(ks->kctx, &e);
        if (rc != 0)
            goto krb_fail;
        n++;
    }
    krb5_kt_end_seq_get(ks->kctx, fkt, &cur);
    krb5_kt_close(ks->kctx, fkt);
    if (n == 0) {
        krb5_kt_close(ks->kctx, mkt);
        return g_strdup("holds no keys");
    }
    ks->kt = mkt;
    return NULL;

krb_fail:
    why = ks_krb5_msg(ks->kctx, rc);
    if (cur_open)
        krb5_kt_end_seq_get(ks->kctx, fkt, &cur);
    if (fkt)
        krb5_kt_close(ks->kctx, fkt);
    if (mkt)
        krb5_kt_close(ks->kctx, mkt);
    g_ptr_array_set_size(ks->kt_creds, 0);
    return why;
}

int keystore_set_keytab(keystore *ks, const char *path)
{
    if (!ks)
        return -1;
    ks_setter_begin(ks);
    ks_keytab_clear(ks);
    ks_errors_drop(ks, KS_SRC_KEYTAB);
    int ret = 0;
    if (path && *path) {
        ks->kt_path = g_strdup(path);
        const char *fs_path = g_str_has_prefix(path, "FILE:") ? path + 5 : path;
        char *why = NULL;
        if (!ks->kctx)
            why = g_strdup("no Kerberos context");
        else if (!*fs_path)
            why = g_strdup("empty file name");
        else
            why = ks_keytab_load(ks, fs_path);
        if (why) {
            ks_error(ks, KS_SRC_KEYTAB, g_strdup_printf("keytab %s: %s", path, why));
            g_free(why);
            ret = -1;
        }
    }
    ks_setter_end(ks);
    return ret;
}

int keystore_set_keytab_from(keystore *ks, const char *path, const char *origin)
{
    int ret = keystore_set_keytab(ks, path);
    if (ks && ks->kt_path && origin && *origin) {
        char *named = g_strdup_printf("%s (%s)", ks->kt_path, origin);
        g_free(ks->kt_path);
        ks->kt_path = named;
    }
    return ret;
}

krb5_context keystore_krb5_context(const keystore *ks)
{
    return ks ? ks->kctx : NULL;
}

krb5_keytab keystore_keytab(const keystore *ks)
{
    return ks ? ks->kt : NULL;
}

const char *keystore_keytab_path(const keystore *ks)
{
    return ks ? ks->kt_path : NULL;
}

/* ---- NTLM passwords ---- */

int keystore_set_nt_password(keystore *ks, const char *password)
{
    if (!ks)
        return -1;
    ks_setter_begin(ks);
    ks_cred_free(ks->global);
    ks->global = NULL;
    ks_errors_drop(ks, KS_SRC_PASSWORD);
    int ret = 0;
    if (password && *password) {
        ks_nt_cred *c = g_new0(ks_nt_cred, 1);
        if (nt_hash_from_password(password, c->nt_hash) != 0) {
            g_free(c);
            ks_error(ks, KS_SRC_PASSWORD,
                     g_strdup("preference mssipae.nt_password: not valid UTF-8"));
            ret = -1;
        } else {
            c->domain = g_strdup("");
            c->user = g_strdup("");
            c->password = g_strdup(password);
            c->origin = g_strdup("preference mssipae.nt_password");
            ks->global = c;
        }
    }
    ks_setter_end(ks);
    return ret;
}

/* Parses exactly 32 hex digits (blanks around them ignored) into an NT hash. */
static int ks_parse_nt_hash(const char *hex, uint8_t out[16])
{
    while (*hex == ' ' || *hex == '\t')
        hex++;
    size_t n = strlen(hex);
    while (n > 0 && (hex[n - 1] == ' ' || hex[n - 1] == '\t'))
        n--;
    if (n != 32)
        return -1;
    for (size_t i = 0; i < 32; i++)
        if (!g_ascii_isxdigit(hex[i]))
            return -1;
    for (size_t i = 0; i < 16; i++)
        out[i] = (uint8_t)(g_ascii_xdigit_value(hex[2 * i]) << 4 |
                           g_ascii_xdigit_value(hex[2 * i + 1]));
    return 0;
}

/* One row of the NTLM users table; see keystore.h for the both-given rule. */
static char *ks_user_row(keystore *ks, const char *domain, const char *user, const char *password,
                         const char *hash_hex, const char *row, int *ok)
{
    *ok = 0;
    if (!g_utf8_validate(domain, -1, NULL) || !g_utf8_validate(user, -1, NULL))
        return g_strdup_printf("%s: domain or user is not valid UTF-8", row);
    gboolean has_pw = password && *password;
    gboolean has_hash = hash_hex && *hash_hex;
    if (!has_pw && !has_hash)
        return g_strdup_printf("%s (%s\\%s): neither a password nor an NT hash", row, domain, user);

    ks_nt_cred *c = g_new0(ks_nt_cred, 1);
    uint8_t from_pw[16];
    char *warn = NULL;
    if (has_hash && ks_parse_nt_hash(hash_hex, c->nt_hash) != 0) {
        ks_cred_free(c);
        return g_strdup_printf("%s (%s\\%s): NT hash must be 32 hex digits", row, domain, user);
    }
    if (has_pw && nt_hash_from_password(password, from_pw) != 0) {
        ks_cred_free(c);
        return g_strdup_printf("%s (%s\\%s): password is not valid UTF-8", row, domain, user);
    }
    if (has_pw && !has_hash) {
        memcpy(c->nt_hash, from_pw, 16);
        c->password = g_strdup(password);
    } else if (has_pw && has_hash) {
        if (memcmp(from_pw, c->nt_hash, 16) == 0)
            c->password = g_strdup(password);
        else
            warn = g_strdup_printf("%s (%s\\%s): password and NT hash disagree; using the NT hash",
                                   row, domain, user);
    }
    secure_wipe(from_pw, sizeof(from_pw));
    c->domain = g_strdup(domain);
    c->user = g_strdup(user);
    c->origin = g_strdup(row);
    g_ptr_array_add(ks->user_creds, c);
    *ok = 1;
    return warn;
}

int keystore_add_ntlm_user(keystore *ks, const char *domain, const char *user,
                           const char *password, const char *hash_hex)
{
    if (!ks)
        return -1;
    ks_setter_begin(ks);
    char *row = g_strdup_printf("NTLM users table row %u", ++ks->user_rows);
    int ok = 0;
    char *msg = ks_user_row(ks, domain ? domain : "", user ? user : "", password, hash_hex, row,
                            &ok);
    if (msg)
        ks_error(ks, KS_SRC_USERS, msg);
    g_free(row);
    ks_setter_end(ks);
    return ok ? 0 : -1;
}

/* Candidates in the documented order: table rows, keytab RC4 entries, global password. */
size_t keystore_nt_candidates(const keystore *ks, const char *domain, const char *user,
                              const ks_nt_cred ***out)
{
    if (!domain)
        domain = "";
    if (!user)
        user = "";
    GPtrArray *a = g_ptr_array_new();
    if (ks) {
        for (guint i = 0; i < ks->user_creds->len; i++) {
            const ks_nt_cred *c = ks->user_creds->pdata[i];
            if ((!*c->user || ks_name_eq(c->user, user)) &&
                (!*c->domain || ks_name_eq(c->domain, domain)))
                g_ptr_array_add(a, (gpointer)c);
        }
        for (guint i = 0; i < ks->kt_creds->len; i++) {
            const ks_nt_cred *c = ks->kt_creds->pdata[i];
            if (ks_name_eq(c->user, user))
                g_ptr_array_add(a, (gpointer)c);
        }
        if (ks->global)
            g_ptr_array_add(a, ks->global);
    }
    size_t n = a->len;
    if (out)
        *out = (const ks_nt_cred **)g_ptr_array_free(a, FALSE);
    else
        g_ptr_array_free(a, TRUE);
    return n;
}

/* ---- key log ---- */

/* Records a problem of a watched file once per text (reported: the texts said so far), so
 * re-reads of the same content stay quiet; takes text. TRUE when it was new. */
static gboolean ks_error_once(keystore *ks, GHashTable *reported, int src, char *text)
{
    if (g_hash_table_contains(reported, text)) {
        g_free(text);
        return FALSE;
    }
    g_hash_table_add(reported, g_strdup(text));
    ks_error(ks, src, text);
    return TRUE;
}

/* A key-log problem, once per text. */
static gboolean ks_keylog_error(keystore *ks, char *text)
{
    return ks_error_once(ks, ks->kl_reported, KS_SRC_KEYLOG, text);
}

static char *ks_read_file(const char *path, size_t *len, char **why);

/* The content of a key-log file when it was never read or its identity (device, inode, size,
 * mtime) changed: a buffer of *len bytes for secure_free_file, and *id / *loaded updated. NULL
 * when there is nothing new to parse; problems go through err (what names the file in them),
 * and *added tells whether one was new. */
static char *ks_watched_read(keystore *ks, const char *path, const char *what, ks_file_id *id,
                             gboolean *loaded, gboolean (*err)(keystore *, char *),
                             size_t *len, gboolean *added)
{
    *added = FALSE;
    struct stat st;
    if (stat(path, &st) != 0) {
        *loaded = FALSE; /* read again whenever it comes back; keep what we had */
        *added = err(ks, g_strdup_printf("%s %s: %s", what, path, g_strerror(errno)));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *loaded = FALSE;
        *added = err(ks, g_strdup_printf("%s %s: not a regular file", what, path));
        return NULL;
    }
    ks_file_id now = { st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec };
    if (*loaded && memcmp(&now, id, sizeof(now)) == 0)
        return NULL;
    char *why = NULL;
    char *data = ks_read_file(path, len, &why);
    if (!data) {
        *loaded = FALSE;
        *added = err(ks, g_strdup_printf("%s %s: %s", what, path, why));
        g_free(why);
        return NULL;
    }
    *id = now;
    *loaded = TRUE;
    return data;
}

/* Drops the per-scheme id listings (the table they point into changed). */
static void ks_keylog_ids_drop(keystore *ks)
{
    for (size_t i = 0; i < G_N_ELEMENTS(ks->kl_ids); i++)
        if (ks->kl_ids[i]) {
            g_ptr_array_free(ks->kl_ids[i], TRUE);
            ks->kl_ids[i] = NULL;
        }
}

/* Index key of an entry: scheme plus the normalised id (CLIENT_RANDOM lower, others upper). */
/* ks_keylog_key into buf when it fits (a lookup per message then allocates nothing); else
 * NULL. */
static const char *ks_keylog_key_buf(keylog_scheme scheme, const char *id, char *buf, size_t size)
{
    int n = g_snprintf(buf, size, "%d:", (int)scheme);
    size_t idl = strlen(id);
    if (n < 0 || (size_t)n + idl >= size)
        return NULL;
    for (size_t i = 0; i <= idl; i++)
        buf[n + i] = scheme == KEYLOG_CLIENT_RANDOM ? g_ascii_tolower(id[i]) : g_ascii_toupper(id[i]);
    return buf;
}

static char *ks_keylog_key(keylog_scheme scheme, const char *id)
{
    char *norm = scheme == KEYLOG_CLIENT_RANDOM ? g_ascii_strdown(id, -1) : g_ascii_strup(id, -1);
    char *k = g_strdup_printf("%d:%s", (int)scheme, norm);
    g_free(norm);
    return k;
}

static gboolean ks_entry_same(const keylog_entry *a, const keylog_entry *b)
{
    return a->scheme == b->scheme && strcmp(a->id, b->id) == 0 && a->enctype == b->enctype &&
           a->key1_len == b->key1_len && a->key2_len == b->key2_len &&
           (a->key1_len == 0 || memcmp(a->key1, b->key1, a->key1_len) == 0) &&
           (a->key2_len == 0 || memcmp(a->key2, b->key2, a->key2_len) == 0);
}

/* Reads the whole file (binary-safe) into one buffer of its size, or returns NULL with *why. */
static char *ks_read_file(const char *path, size_t *len, char **why)
{
    uint8_t *b = secure_read_file(path, KS_KEYLOG_MAX_SIZE, len, why);
    if (!b && *why && g_str_has_prefix(*why, "larger than")) {
        g_free(*why);
        *why = g_strdup("larger than 64 MiB");
    }
    return (char *)b;
}

/* The key-log table is a set of entries hashed and compared by (scheme, id), each entry one
 * allocation with its keys and id after it (issue 10: a key log of tens of thousands of
 * CLIENT_RANDOM lines kept ~330 bytes per line in five allocations: the entry, its id, its key,
 * an index string "scheme:id" and the table's slots; now one allocation and one slot). */
static guint ks_entry_hash(gconstpointer p)
{
    /* the id's bytes eight at a time (a CLIENT_RANDOM id has 64): g_str_hash takes one a step;
     * nothing depends on the table's order (ids_view sorts) */
    const keylog_entry *e = p;
    return bytes_hash(e->id, strlen(e->id), 0, NULL) * 31u + (guint)e->scheme;
}

static gboolean ks_entry_key_equal(gconstpointer a, gconstpointer b)
{
    const keylog_entry *x = a, *y = b;
    return x->scheme == y->scheme && strcmp(x->id, y->id) == 0;
}

/* Bytes of a packed entry (ks_entry_pack). */
static size_t ks_entry_size(const keylog_entry *e)
{
    return sizeof *e + e->key1_len + e->key2_len + strlen(e->id) + 1;
}

/* A copy of e in one allocation: the entry, then key1, key2 and the id. */
static keylog_entry *ks_entry_pack(const keylog_entry *e)
{
    size_t il = strlen(e->id) + 1;
    keylog_entry *p = g_malloc(sizeof *p + e->key1_len + e->key2_len + il);
    uint8_t *q = (uint8_t *)(p + 1);
    *p = *e;
    p->key1 = e->key1 ? q : NULL;
    if (e->key1_len)
        memcpy(q, e->key1, e->key1_len);
    q += e->key1_len;
    p->key2 = e->key2 ? q : NULL;
    if (e->key2_len)
        memcpy(q, e->key2, e->key2_len);
    q += e->key2_len;
    memcpy(q, e->id, il);
    p->id = (char *)q;
    return p;
}

/* A lookup probe: scheme and the id normalised as the table keeps it (CLIENT_RANDOM lower,
 * others upper), in buf when it fits, else in *heap (the caller g_frees it). */
static void ks_entry_probe(keylog_entry *probe, keylog_scheme scheme, const char *id, char *buf,
                           size_t size, char **heap)
{
    memset(probe, 0, sizeof *probe);
    probe->scheme = scheme;
    *heap = NULL;
    size_t idl = strlen(id);
    char *t = buf;
    if (idl >= size)
        t = *heap = g_malloc(idl + 1);
    for (size_t i = 0; i <= idl; i++)
        t[i] = scheme == KEYLOG_CLIENT_RANDOM ? g_ascii_tolower(id[i]) : g_ascii_toupper(id[i]);
    probe->id = t;
}

/* Parses the file content into a new table, keeping unchanged entries at the same address. */
static gboolean ks_keylog_parse(keystore *ks, const char *data, size_t len)
{
    GHashTable *old = ks->kl_table;
    GHashTable *tab = g_hash_table_new_full(ks_entry_hash, ks_entry_key_equal, ks_entry_free, NULL);
    gboolean new_errors = FALSE;
    unsigned lineno = 0, bad = 0, conflicts = 0;
    uint8_t pbuf[KEYLOG_PARSE_BUF]; /* the fields of the line being read; wiped at the end */
    /* earlier conflicting lines may have been handed out: keep them valid until reset */
    for (guint i = 0; i < ks->kl_conflicted->len; i++)
        g_ptr_array_add(ks->kl_parked, ks->kl_conflicted->pdata[i]);
    g_ptr_array_set_free_func(ks->kl_conflicted, NULL);
    g_ptr_array_set_size(ks->kl_conflicted, 0);
    g_ptr_array_set_free_func(ks->kl_conflicted, ks_entry_free);
    g_hash_table_remove_all(ks->kl_alts);
    ks->kl_pin = NULL;
    ks_keylog_ids_drop(ks);
    size_t pos = 0;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl ? 1 : 0);
        lineno++;

        keylog_entry e;
        const char *why = NULL;
        keylog_line_status st = keylog_parse_line_to(line, llen, &e, &why, pbuf);
        if (st == KEYLOG_LINE_EMPTY)
            continue;
        if (st == KEYLOG_LINE_BAD) {
            /* the first few are named; the rest only counted (one summary after the loop) */
            if (++bad <= KS_KEYLOG_REPORT_MAX)
                new_errors |= ks_keylog_error(ks, g_strdup_printf("key log %s line %u: %s",
                                                                  ks->kl_path, lineno,
                                                                  why ? why : "malformed"));
            continue;
        }
        e.line = lineno;
        /* e's id is normalised by the parser as the table keeps it: e is its own probe */
        keylog_entry *prev = g_hash_table_lookup(tab, &e);
        if (prev && ks_entry_same(prev, &e)) {
            /* The same line again: keep the first copy, note where it was last seen. */
            prev->line = lineno;
            continue;
        }
        char *key = prev ? ks_keylog_key(e.scheme, e.id) : NULL; /* conflicts only */
        GPtrArray *alts = prev ? g_hash_table_lookup(ks->kl_alts, key) : NULL;
        if (alts) {
            gboolean seen = FALSE;
            for (guint i = 0; i < alts->len && !seen; i++)
                seen = ks_entry_same(alts->pdata[i], &e);
            if (seen) { /* repeats an earlier one of the conflicting lines: nothing new */
                g_free(key);
                continue;
            }
        }
        keylog_entry *ent = old ? g_hash_table_lookup(old, &e) : NULL;
        if (ent && ks_entry_same(ent, &e)) {
            /* Unchanged: move the old entry over so pointers handed out stay valid. */
            g_hash_table_steal(old, ent);
            ent->line = lineno;
        } else {
            ent = ks_entry_pack(&e);
        }
        /* Another line for the same id with a different key: the later one is what find()
         * returns, but every line is kept and offered (keystore_keylog_conflicts), since only a
         * signature can tell which one is right; the conflict is reported. */
        if (prev) {
            g_hash_table_steal(tab, prev);
            g_ptr_array_add(ks->kl_conflicted, prev);
            if (!alts) {
                alts = g_ptr_array_new();
                g_ptr_array_add(alts, prev);
                g_hash_table_insert(ks->kl_alts, g_strdup(key), alts);
            }
            g_ptr_array_add(alts, ent);
            if (++conflicts <= KS_KEYLOG_REPORT_MAX)
                new_errors |= ks_keylog_error(ks, g_strdup_printf(
                    "key log %s lines %u and %u give different keys for the same %s; every such "
                    "line is tried and the one a signature verifies with is used", ks->kl_path,
                    prev->line, lineno, ent->id));
        }
        g_free(key);
        g_hash_table_add(tab, ent);
    }
    secure_wipe(pbuf, sizeof pbuf);
    if (bad > KS_KEYLOG_REPORT_MAX)
        new_errors |= ks_keylog_error(ks, g_strdup_printf(
            "key log %s: %u malformed lines in all (only the first %d are listed)", ks->kl_path,
            bad, KS_KEYLOG_REPORT_MAX));
    if (conflicts > KS_KEYLOG_REPORT_MAX)
        new_errors |= ks_keylog_error(ks, g_strdup_printf(
            "key log %s: %u conflicting lines in all (only the first %d are listed)", ks->kl_path,
            conflicts, KS_KEYLOG_REPORT_MAX));
    if (old) {
        /* Entries gone from the file may still be held by a caller: park them. */
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, old);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_ptr_array_add(ks->kl_parked, k);
            g_hash_table_iter_steal(&it);
        }
        g_hash_table_destroy(old);
    }
    ks->kl_table = tab;
    ks_keylog_changed(ks);
    return new_errors;
}

/* Monotonic time in microseconds for the recheck interval: the coarse clock (a tick's
 * resolution is plenty for an interval of a second, and reading it costs no timestamp counter:
 * it runs for every lookup), g_get_monotonic_time where there is none. */
static gint64 ks_now_us(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
        return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
#endif
    return g_get_monotonic_time();
}

/* 1 when a key-log file (loaded: read before; *checked: when it was last looked at) is due for
 * a look: never read, no recheck interval, or the interval is over (then *checked is now). */
static inline gboolean ks_recheck_due(const keystore *ks, gboolean loaded, gint64 *checked)
{
    if (ks->kl_recheck_us <= 0)
        return TRUE;
    gint64 now = ks_now_us();
    if (loaded && now >= *checked && now - *checked < ks->kl_recheck_us)
        return FALSE; /* looked at less than the interval ago (issue 10: no stat per message) */
    *checked = now;
    return TRUE;
}

/* ks_keylog_refresh_look once the interval allows a look at the file. */
static G_GNUC_NO_INLINE gboolean ks_keylog_reread(keystore *ks)
{
    size_t len = 0;
    gboolean added;
    char *data = ks_watched_read(ks, ks->kl_path, "key log", &ks->kl_id, &ks->kl_loaded,
                                 ks_keylog_error, &len, &added);
    if (!data)
        return added;
    added |= ks_keylog_parse(ks, data, len);
    secure_free_file((uint8_t *)data, len);
    return added;
}

/* ks_keylog_refresh when not held: the clock, and the file only when the interval allows. */
static G_GNUC_NO_INLINE gboolean ks_keylog_refresh_look(keystore *ks)
{
    if (!ks_recheck_due(ks, ks->kl_loaded, &ks->kl_checked))
        return FALSE;
    return ks_keylog_reread(ks);
}

/* Loads the key log when it was never read or its identity changed; TRUE when errors were added. */
static inline gboolean ks_keylog_refresh(keystore *ks)
{
    if (ks->kl_hold && ks->kl_loaded)
        return FALSE; /* held: one look at the file serves a whole trial */
    return ks_keylog_refresh_look(ks);
}

int keystore_set_keylog(keystore *ks, const char *path)
{
    if (!ks)
        return -1;
    ks_setter_begin(ks);
    ks_keylog_clear(ks);
    ks_errors_drop(ks, KS_SRC_KEYLOG);
    int ret = 0;
    if (path && *path) {
        ks->kl_path = g_strdup(path);
        /* Only check it is there now (reported once); reading waits for the first lookup. */
        struct stat st;
        if (stat(path, &st) != 0) {
            ks_keylog_error(ks, g_strdup_printf("key log %s: %s", path, g_strerror(errno)));
            ret = -1;
        } else if (!S_ISREG(st.st_mode)) {
            ks_keylog_error(ks, g_strdup_printf("key log %s: not a regular file", path));
            ret = -1;
        } else if (access(path, R_OK) != 0) {
            ks_keylog_error(ks, g_strdup_printf("key log %s: %s", path, g_strerror(errno)));
            ret = -1;
        }
    }
    ks_setter_end(ks);
    return ret;
}

/* qsort-style comparison of two string pointers, for stable listings. */
static gint ks_strptr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const keylog_entry *keystore_keylog_find(keystore *ks, keylog_scheme scheme, const char *opaque)
{
    if (!ks || !ks->kl_path || !opaque)
        return NULL;
    if (ks_keylog_refresh(ks))
        ks_errs_rebuild(ks, TRUE); /* a view handed out earlier stays valid */
    if (!ks->kl_table)
        return NULL;
    if (ks->kl_pin && ks->kl_pin->scheme == scheme && g_ascii_strcasecmp(ks->kl_pin->id, opaque) == 0)
        return ks->kl_pin;
    char kb[128], *heap;
    keylog_entry probe;
    ks_entry_probe(&probe, scheme, opaque, kb, sizeof kb, &heap);
    const keylog_entry *e = g_hash_table_lookup(ks->kl_table, &probe);
    g_free(heap);
    return e;
}

size_t keystore_keylog_conflicts(keystore *ks, keylog_scheme scheme, const char *opaque,
                                 const keylog_entry *const **out)
{
    *out = NULL;
    if (!ks || !ks->kl_path || !opaque)
        return 0;
    if (ks_keylog_refresh(ks))
        ks_errs_rebuild(ks, TRUE);
    if (!ks->kl_alts || !g_hash_table_size(ks->kl_alts))
        return 0; /* the usual key log: no conflicting lines at all */
    char kb[128];
    const char *k = ks_keylog_key_buf(scheme, opaque, kb, sizeof kb);
    char *key = k ? NULL : ks_keylog_key(scheme, opaque);
    GPtrArray *alts = g_hash_table_lookup(ks->kl_alts, k ? k : key);
    g_free(key);
    if (!alts)
        return 0;
    *out = (const keylog_entry *const *)alts->pdata;
    return alts->len;
}

size_t keystore_keylog_ids_view(keystore *ks, keylog_scheme scheme, const char *const **out)
{
    *out = NULL;
    if (!ks || !ks->kl_path || (size_t)scheme >= G_N_ELEMENTS(ks->kl_ids))
        return 0;
    if (ks_keylog_refresh(ks))
        ks_errs_rebuild(ks, TRUE);
    if (!ks->kl_table)
        return 0;
    if (!ks->kl_ids[scheme]) {
        GPtrArray *ids = g_ptr_array_new();
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, ks->kl_table);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const keylog_entry *e = v;
            if (e->scheme == scheme)
                g_ptr_array_add(ids, e->id);
        }
        g_ptr_array_sort(ids, (GCompareFunc)ks_strptr_cmp);
        ks->kl_ids[scheme] = ids;
    }
    *out = (const char *const *)ks->kl_ids[scheme]->pdata;
    return ks->kl_ids[scheme]->len;
}

void keystore_keylog_recheck(keystore *ks, unsigned ms)
{
    if (ks)
        ks->kl_recheck_us = (gint64)ms * 1000;
}

void keystore_keylog_hold(keystore *ks, int hold)
{
    if (!ks)
        return;
    if (hold)
        ks->kl_hold++;
    else if (ks->kl_hold)
        ks->kl_hold--;
}

void keystore_keylog_pin(keystore *ks, const keylog_entry *e)
{
    if (ks && ks->kl_pin != e) {
        ks->kl_pin = e;
        ks_keylog_changed(ks);
    }
}

/* keystore_keylog_generation for a keystore that is not NULL (inlined into the memo look-up,
 * which runs per signed header). */
static inline uint64_t ks_keylog_gen(keystore *ks)
{
    if (ks->kl_path && ks_keylog_refresh(ks))
        ks_errs_rebuild(ks, TRUE); /* as keystore_keylog_find does */
    return ks->kl_gen;
}

uint64_t keystore_keylog_generation(keystore *ks)
{
    return ks ? ks_keylog_gen(ks) : 0;
}

const keylog_entry *keystore_keylog_find_memo(keystore *ks, keylog_scheme scheme,
                                              const char *opaque, ks_keylog_memo *m)
{
    if (!ks || !opaque)
        return NULL;
    uint64_t gen = ks_keylog_gen(ks);
    if (m->ks == ks && m->gen == gen && m->scheme == scheme && m->opaque &&
        strcmp(m->opaque, opaque) == 0)
        return m->entry;
    const keylog_entry *e = keystore_keylog_find(ks, scheme, opaque);
    /* find looked at the file again only if the recheck interval allows; the table it answered
     * from is the one of generation ks->kl_gen */
    if (m->opaque == NULL || strcmp(m->opaque, opaque) != 0) {
        g_free(m->opaque);
        m->opaque = g_strdup(opaque);
    }
    m->ks = ks;
    m->gen = ks->kl_gen;
    m->scheme = scheme;
    m->entry = e;
    return e;
}

void keystore_keylog_memo_clear(ks_keylog_memo *m)
{
    g_free(m->opaque);
    memset(m, 0, sizeof *m);
}

size_t keystore_keylog_ids(keystore *ks, keylog_scheme scheme, const char ***out)
{
    const char *const *view;
    size_t n = keystore_keylog_ids_view(ks, scheme, &view);
    *out = n ? g_memdup2(view, n * sizeof *view) : NULL;
    return n;
}

const char *const *keystore_config_errors(const keystore *ks)
{
    static const char *const none[] = { NULL };
    if (!ks || !ks->err_view)
        return none;
    return (const char *const *)ks->err_view;
}

/* ---- TLS-DSK RSA keys ---- */

int keystore_add_tls_rsa_key(keystore *ks, const char *path, const char *password,
                             const char *origin)
{
    if (!ks)
        return -1;
    ks_setter_begin(ks);
    char *why = NULL;
    rsakey *k = rsakey_load(path, password, &why);
    int ret = 0;
    if (!k) {
        ks_error(ks, KS_SRC_RSA, g_strdup_printf("%s: %s", origin ? origin : "TLS-DSK key", why));
        g_free(why);
        ret = -1;
    } else {
        ks_rsa *r = g_new0(ks_rsa, 1);
        r->key = k;
        r->origin = g_strdup_printf("%s (%s)", origin ? origin : "TLS-DSK key", path);
        g_ptr_array_add(ks->rsa_keys, r);
    }
    ks_setter_end(ks);
    return ret;
}

size_t keystore_tls_rsa_count(const keystore *ks)
{
    return ks ? ks->rsa_keys->len : 0;
}

const rsakey *keystore_tls_rsa_find(const keystore *ks, const uint8_t key_id[RSAKEY_ID_LEN],
                                    const char **origin)
{
    if (origin)
        *origin = NULL;
    if (!ks)
        return NULL;
    for (guint i = 0; i < ks->rsa_keys->len; i++) {
        const ks_rsa *r = ks->rsa_keys->pdata[i];
        if (memcmp(rsakey_id(r->key), key_id, RSAKEY_ID_LEN) == 0) {
            if (origin)
                *origin = r->origin;
            return r->key;
        }
    }
    return NULL;
}

/* ---- Wireshark's TLS key log (CLIENT_RANDOM lines only) ---- */

/* A TLS key-log problem, once per text. */
static gboolean ks_tls_keylog_error(keystore *ks, char *text)
{
    return ks_error_once(ks, ks->tk_reported, KS_SRC_TLSKEYLOG, text);
}

static void ks_tls_keylog_clear(keystore *ks)
{
    if (ks->tk_table) {
        g_hash_table_destroy(ks->tk_table);
        ks->tk_table = NULL;
    }
    g_hash_table_remove_all(ks->tk_reported);
    ks->tk_loaded = FALSE;
    g_free(ks->tk_path);
    ks->tk_path = NULL;
    ks->tk_gen = ++ks_gen_counter;
}

int keystore_set_tls_keylog(keystore *ks, const char *path)
{
    if (!ks)
        return -1;
    ks_setter_begin(ks);
    ks_tls_keylog_clear(ks);
    ks_errors_drop(ks, KS_SRC_TLSKEYLOG);
    if (path && *path)
        ks->tk_path = g_strdup(path); /* read at the first lookup; problems reported then */
    ks_setter_end(ks);
    return 0;
}

/* Parses the CLIENT_RANDOM lines of an NSS key log into a fresh table. */
static gboolean ks_tls_keylog_parse(keystore *ks, const char *data, size_t len)
{
    GHashTable *tab = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ks_tls_ms_free);
    gboolean added = FALSE;
    unsigned lineno = 0;
    size_t pos = 0;
    static const char kw[] = "CLIENT_RANDOM";
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl ? 1 : 0);
        lineno++;
        /* other NSS labels (TLS 1.3 traffic secrets, RSA, ...) are not for us */
        if (llen < sizeof(kw) || g_ascii_strncasecmp(line, kw, sizeof(kw) - 1) != 0 ||
            (line[sizeof(kw) - 1] != ' ' && line[sizeof(kw) - 1] != '\t'))
            continue;
        keylog_entry e;
        const char *why = NULL;
        if (keylog_parse_line(line, llen, &e, &why) != KEYLOG_LINE_OK) {
            added |= ks_tls_keylog_error(ks, g_strdup_printf("TLS key log %s line %u: %s",
                                                             ks->tk_path, lineno,
                                                             why ? why : "malformed"));
            continue;
        }
        ks_tls_ms *m = g_new0(ks_tls_ms, 1);
        memcpy(m->ms, e.key1, MIN(e.key1_len, sizeof(m->ms)));
        m->line = lineno;
        g_hash_table_replace(tab, g_ascii_strdown(e.id, -1), m); /* a later line wins */
        keylog_entry_clear(&e);
    }
    if (ks->tk_table)
        g_hash_table_destroy(ks->tk_table);
    ks->tk_table = tab;
    ks->tk_gen = ++ks_gen_counter;
    return added;
}

/* Loads the TLS key log when never read or changed; TRUE when errors were added. Once read it
 * is looked at no more than once per recheck interval, as mssipae's key log is (a session
 * without a key looks its client random up for every header). A hold does not apply: nothing
 * looks at this file before the verification that holds (the tracker looks at mssipae's). */
static gboolean ks_tls_keylog_refresh(keystore *ks)
{
    if (!ks_recheck_due(ks, ks->tk_loaded, &ks->tk_checked))
        return FALSE;
    size_t len = 0;
    gboolean added;
    char *data = ks_watched_read(ks, ks->tk_path, "TLS key log", &ks->tk_id, &ks->tk_loaded,
                                 ks_tls_keylog_error, &len, &added);
    if (!data)
        return added;
    added |= ks_tls_keylog_parse(ks, data, len);
    secure_free_file((uint8_t *)data, len);
    return added;
}

uint64_t keystore_client_random_generation(keystore *ks)
{
    if (!ks)
        return 0;
    uint64_t g = ks_keylog_gen(ks);
    if (ks->tk_path && ks_tls_keylog_refresh(ks)) /* looked at as a lookup would */
        ks_errs_rebuild(ks, TRUE);
    /* both come from one counter that only grows: the larger changes whenever either does */
    return MAX(g, ks->tk_gen);
}

int keystore_client_random_src(keystore *ks, const uint8_t cr[32], uint8_t ms[48], char **src,
                               unsigned *line)
{
    *src = NULL;
    *line = 0;
    if (!ks)
        return 0;
    static const char digits[] = "0123456789abcdef";
    char hex[65]; /* as "%02x" per byte */
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[cr[i] >> 4];
        hex[2 * i + 1] = digits[cr[i] & 15];
    }
    hex[64] = 0;
    const keylog_entry *e = keystore_keylog_find(ks, KEYLOG_CLIENT_RANDOM, hex);
    if (e && e->key1_len == 48) {
        memcpy(ms, e->key1, 48);
        *src = g_strconcat("key log ", ks->kl_path, NULL);
        *line = e->line;
        return 1;
    }
    if (!ks->tk_path)
        return 0;
    if (ks_tls_keylog_refresh(ks))
        ks_errs_rebuild(ks, TRUE);
    const ks_tls_ms *m = ks->tk_table ? g_hash_table_lookup(ks->tk_table, hex) : NULL;
    if (!m)
        return 0;
    memcpy(ms, m->ms, 48);
    *src = g_strconcat("TLS key log ", ks->tk_path, NULL);
    *line = m->line;
    return 1;
}

int keystore_client_random(keystore *ks, const uint8_t cr[32], uint8_t ms[48], char **origin)
{
    char *src = NULL;
    unsigned line = 0;
    *origin = NULL;
    if (!keystore_client_random_src(ks, cr, ms, &src, &line))
        return 0;
    *origin = g_strdup_printf("%s line %u (CLIENT_RANDOM)", src, line);
    g_free(src);
    return 1;
}
