/* keylog.c - parser for one line of the key-log file (format in keylog.h).
 *
 * Policy details the header leaves open:
 *  - Fields are separated by runs of spaces or tabs; leading and trailing blanks are ignored.
 *  - A field that starts with '#' starts a comment that runs to the end of the line, so
 *    "NTLM 1a2b <key>  # alice" is accepted; a '#' inside a field is part of that field.
 *  - A NUL byte anywhere (even in a comment), a line longer than KEYLOG_MAX_LINE bytes, or a
 *    control byte (CR or LF before the end, DEL, ...) or non-ASCII byte in a field makes the
 *    line bad: key-log lines are short and ASCII.
 *  - Hex must have an even number of digits; the key lengths are fixed per scheme (NTLM 16,
 *    CLIENT_RANDOM 32 + 48) or bounded (KERBEROS and TLS-DSK keys 1..KEYLOG_MAX_KEY bytes).
 *  - The KERBEROS enctype is a decimal number (optional '-') in int32 range and not 0.
 *  - Opaques are 1..KEYLOG_MAX_OPAQUE printable ASCII bytes, stored upper-cased.
 */
#include "keytab/keylog.h"
#include "keytab/secure.h"
#include "sigbuf/bytes.h"
#include "sigbuf/codec.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <glib.h>

#define KEYLOG_MAX_LINE   4096 /* bytes, without the line break */
#define KEYLOG_MAX_OPAQUE 256
#define KEYLOG_MAX_KEY    64
#define KEYLOG_MAX_FIELDS 5    /* one more than any scheme uses, to detect extra fields */

typedef struct {
    const char *p;
    size_t len;
} kl_field;

/* Case-insensitive comparison of a field with a NUL-terminated keyword. */
static inline int kl_field_is(const kl_field *f, const char *kw)
{
    size_t n = strlen(kw);
    return f->len == n && eq_nocase_n(f->p, kw, n); /* no NUL in f */
}

/* Decodes a key field into out (room for max bytes) and checks its length is within
 * [min, max] bytes; strict, so typos are reported: a bad digit anywhere in the field is named
 * before a wrong length (as a decoder of the whole field would). */
static int kl_key(const kl_field *f, size_t min, size_t max, uint8_t *out, size_t *out_len,
                  const char *why_len, const char **why)
{
    *out_len = 0;
    if (f->len / 2 <= max) {
        if (codec_hex_decode_to(f->p, f->len, out, out_len, why) < 0)
            return -1;
    } else {
        /* too long: only checked for digits, a piece at a time */
        uint8_t tmp[64];
        size_t n;
        if (f->len % 2) {
            *why = "odd number of hex digits";
            return -1;
        }
        for (size_t off = 0; off < f->len; off += 2 * sizeof tmp) {
            size_t piece = MIN(2 * sizeof tmp, f->len - off);
            if (codec_hex_decode_to(f->p + off, piece, tmp, &n, why) < 0) {
                secure_wipe(tmp, sizeof tmp);
                return -1;
            }
        }
        secure_wipe(tmp, sizeof tmp);
        *out_len = f->len / 2;
    }
    if (*out_len < min || *out_len > max) {
        secure_wipe(out, MIN(*out_len, max));
        *out_len = 0;
        *why = why_len;
        return -1;
    }
    return 0;
}

/* Parses a decimal enctype in int32 range (RFC 3961 enctypes are signed 32-bit numbers). */
static int kl_enctype(const kl_field *f, int32_t *out, const char **why)
{
    size_t i = 0;
    int neg = 0;
    if (f->len > 0 && f->p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == f->len) {
        *why = "enctype is not a decimal number";
        return -1;
    }
    int64_t v = 0;
    for (; i < f->len; i++) {
        if (!g_ascii_isdigit(f->p[i])) {
            *why = "enctype is not a decimal number";
            return -1;
        }
        v = v * 10 + (f->p[i] - '0');
        if (v > (int64_t)INT32_MAX + 1) {
            *why = "enctype out of range";
            return -1;
        }
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN) {
        *why = "enctype out of range";
        return -1;
    }
    if (v == 0) {
        *why = "enctype 0 is not a key type";
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* Copies an opaque, upper-cased, into out (room for KEYLOG_MAX_OPAQUE + 1) after checking
 * its length. */
static int kl_opaque(const kl_field *f, char *out, const char **why)
{
    if (f->len > KEYLOG_MAX_OPAQUE) {
        *why = "opaque longer than 256 characters";
        return -1;
    }
    for (size_t i = 0; i < f->len; i++) { /* as g_ascii_toupper, without a call per byte */
        char c = f->p[i];
        out[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    out[f->len] = 0;
    return 0;
}

/* Bytes of a line by what they do inside a field: 0 part of it, 1 a blank ending it, 2 a
 * control byte (DEL included), 3 a non-ASCII byte. */
static const unsigned char kl_class[256] = {
    [0x00 ... 0x08] = 2, ['\t'] = 1, [0x0a ... 0x1f] = 2, [' '] = 1, [0x7f] = 2,
    [0x80 ... 0xff] = 3,
};

/* Splits the line into fields; returns the field count, or -1 with *why on a bad byte. */
static int kl_split(const char *line, size_t len, kl_field *fields, const char **why)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)line[i];
        if (c == ' ' || c == '\t') {
            i++;
            continue;
        }
        if (c == '#')
            break; /* comment to end of line */
        size_t start = i;
#ifdef __SSE2__
        /* 16 printable bytes (0x21..0x7e) a step: none ends the field or is bad */
        const __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7f);
        while (len - i >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
            unsigned mk = ~(unsigned)_mm_movemask_epi8(
                              _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi))) &
                          0xffffu;
            if (mk) {
                i += (size_t)__builtin_ctz(mk);
                break;
            }
            i += 16;
        }
#endif
        unsigned k = 0;
        while (i < len && (k = kl_class[(unsigned char)line[i]]) == 0)
            i++;
        if (i < len && k == 2) {
            *why = "control character in line";
            return -1;
        }
        if (i < len && k == 3) {
            *why = "non-ASCII byte in line";
            return -1;
        }
        if (n == KEYLOG_MAX_FIELDS) {
            *why = "too many fields";
            return -1;
        }
        fields[n].p = line + start;
        fields[n].len = i - start;
        n++;
    }
    return n;
}

/* Where keylog_parse_line_to puts the fields of an entry. */
typedef struct {
    char id[KEYLOG_MAX_OPAQUE + 1]; /* an opaque, or a client random's 64 digits */
    uint8_t key1[KEYLOG_MAX_KEY];
    uint8_t key2[KEYLOG_MAX_KEY];
} kl_store;

G_STATIC_ASSERT(sizeof(kl_store) <= KEYLOG_PARSE_BUF);

/* Parses one key-log line into *out, its fields in buf: the single parser for every key-log
 * source. */
keylog_line_status keylog_parse_line_to(const char *line, size_t len, keylog_entry *out,
                                        const char **why, void *buf)
{
    const char *dummy_why;
    if (!why)
        why = &dummy_why;
    *why = NULL;
    if (out)
        memset(out, 0, sizeof(*out));
    if (!line)
        return KEYLOG_LINE_EMPTY;

    /* Drop the line terminator: LF, CRLF, or a lone trailing CR. */
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > KEYLOG_MAX_LINE) {
        *why = "line longer than 4096 bytes";
        return KEYLOG_LINE_BAD;
    }
    if (memchr(line, 0, len)) { /* even inside a comment: the file is not text */
        *why = "NUL byte in line";
        return KEYLOG_LINE_BAD;
    }

    kl_field f[KEYLOG_MAX_FIELDS];
    int n = kl_split(line, len, f, why);
    if (n < 0)
        return KEYLOG_LINE_BAD;
    if (n == 0)
        return KEYLOG_LINE_EMPTY;
    if (!out) {
        *why = "no output entry";
        return KEYLOG_LINE_BAD;
    }

    kl_store *st = buf;
    keylog_entry e = { 0 };
    int want;
    if (kl_field_is(&f[0], "NTLM")) {
        e.scheme = KEYLOG_NTLM;
        want = 3;
    } else if (kl_field_is(&f[0], "KERBEROS")) {
        e.scheme = KEYLOG_KERBEROS;
        want = 4;
    } else if (kl_field_is(&f[0], "TLS-DSK")) {
        e.scheme = KEYLOG_TLSDSK;
        want = 4;
    } else if (kl_field_is(&f[0], "CLIENT_RANDOM")) {
        e.scheme = KEYLOG_CLIENT_RANDOM;
        want = 3;
    } else {
        *why = "unknown keyword (expected NTLM, KERBEROS, TLS-DSK or CLIENT_RANDOM)";
        return KEYLOG_LINE_BAD;
    }
    if (n < want) {
        *why = "missing fields";
        return KEYLOG_LINE_BAD;
    }
    if (n > want) {
        *why = "too many fields";
        return KEYLOG_LINE_BAD;
    }

    switch (e.scheme) {
    case KEYLOG_NTLM:
        if (kl_opaque(&f[1], st->id, why) < 0 ||
            kl_key(&f[2], 16, 16, st->key1, &e.key1_len,
                   "NTLM session key must be 16 bytes (32 hex digits)", why) < 0)
            return KEYLOG_LINE_BAD;
        e.key1 = st->key1;
        break;
    case KEYLOG_KERBEROS:
        if (kl_opaque(&f[1], st->id, why) < 0 || kl_enctype(&f[2], &e.enctype, why) != 0 ||
            kl_key(&f[3], 1, KEYLOG_MAX_KEY, st->key1, &e.key1_len,
                   "Kerberos key must be 1 to 64 bytes", why) < 0)
            return KEYLOG_LINE_BAD;
        e.key1 = st->key1;
        break;
    case KEYLOG_TLSDSK:
        if (kl_opaque(&f[1], st->id, why) < 0 ||
            kl_key(&f[2], 1, KEYLOG_MAX_KEY, st->key1, &e.key1_len,
                   "TLS-DSK client key must be 1 to 64 bytes", why) < 0)
            return KEYLOG_LINE_BAD;
        e.key1 = st->key1;
        if (kl_key(&f[3], 1, KEYLOG_MAX_KEY, st->key2, &e.key2_len,
                   "TLS-DSK server key must be 1 to 64 bytes", why) < 0)
            return KEYLOG_LINE_BAD;
        e.key2 = st->key2;
        break;
    case KEYLOG_CLIENT_RANDOM: {
        /* only validated (into key2's room); the id keeps the text form, lower-cased */
        size_t rlen = 0;
        if (kl_key(&f[1], 32, 32, st->key2, &rlen,
                   "client random must be 32 bytes (64 hex digits)", why) < 0)
            return KEYLOG_LINE_BAD;
        for (size_t i = 0; i < f[1].len; i++) { /* as g_ascii_tolower */
            char c = f[1].p[i];
            st->id[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        st->id[f[1].len] = 0;
        if (kl_key(&f[2], 48, 48, st->key1, &e.key1_len,
                   "master secret must be 48 bytes (96 hex digits)", why) < 0)
            return KEYLOG_LINE_BAD;
        e.key1 = st->key1;
        break;
    }
    }
    e.id = st->id;
    *out = e;
    return KEYLOG_LINE_OK;
}

/* keylog_parse_line_to, each field then copied to its own allocation. */
keylog_line_status keylog_parse_line(const char *line, size_t len, keylog_entry *out,
                                     const char **why)
{
    kl_store st;
    keylog_entry e;
    keylog_line_status r = keylog_parse_line_to(line, len, out ? &e : NULL, why, &st);
    if (r == KEYLOG_LINE_OK) {
        e.id = g_strdup(e.id);
        if (e.key1)
            e.key1 = g_memdup2(e.key1, e.key1_len);
        if (e.key2)
            e.key2 = g_memdup2(e.key2, e.key2_len);
        *out = e;
    } else if (out) {
        memset(out, 0, sizeof(*out));
    }
    secure_wipe(&st, sizeof st);
    return r;
}

/* Frees what keylog_parse_line allocated, wiping the keys first. */
void keylog_entry_clear(keylog_entry *e)
{
    if (!e)
        return;
    g_free(e->id);
    if (e->key1) {
        secure_wipe(e->key1, e->key1_len);
        g_free(e->key1);
    }
    if (e->key2) {
        secure_wipe(e->key2, e->key2_len);
        g_free(e->key2);
    }
    memset(e, 0, sizeof(*e));
}
