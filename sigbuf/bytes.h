/* bytes.h - word-at-a-time helpers shared by the SIP, auth-parameter and buffer code.
 *
 * Unaligned little loads, ASCII lower case and case-insensitive compares (a byte, n bytes, a
 * word against a lower-case name), a word-at-a-time hash, and a short copy without the memcpy
 * call. Header-only: they run per byte or per item.
 */
#ifndef MSSIPAE_BYTES_H
#define MSSIPAE_BYTES_H

#include <glib.h>
#include <string.h>

static inline guint32 ld4(const char *p) { guint32 w; memcpy(&w, p, 4); return w; }
static inline guint64 ld8(const char *p) { guint64 w; memcpy(&w, p, 8); return w; }

/* g_ascii_tolower without the call (it runs per byte). */
static inline char ascii_lc(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* g_ascii_strncasecmp (p, name, n) == 0 without the call, for n bytes holding no NUL. */
static inline int eq_nocase_n(const char *p, const char *name, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lc(p[i]) != ascii_lc(name[i]))
            return 0;
    return 1;
}

/* Case-insensitive equality of 4 or 8 bytes x of a name with l of a lower-case name made of
 * letters and '-': lc (byte) == letter is (byte | 0x20) == letter; a '-' (no 0x40 bit) must
 * match as it is. */
static inline int eq4(guint32 x, guint32 l) { return (x | ((l & 0x40404040u) >> 1)) == l; }
static inline int eq8(guint64 x, guint64 l) { return (x | ((l & 0x4040404040404040ull) >> 1)) == l; }

/* A 32-bit hash of the n bytes at s, eight at a time (FNV-1a steps on little-endian words, the
 * last word NUL-padded, then a multiply-shift mix), from seed h. When words is not NULL it
 * receives those words: words[0 .. n / 8] (the last holding the tail and the padding). */
static inline guint bytes_hash(const char *s, size_t n, guint64 h, guint64 *words)
{
    h ^= 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        guint64 w = ld8(s + i);
        if (words)
            words[i / 8] = w;
        h = (h ^ w) * 0x100000001B3ull;
    }
    guint64 w = 0;
    for (size_t j = 0; i + j < n; j++)
        w |= (guint64)(unsigned char)s[i + j] << (8 * j);
    if (words)
        words[i / 8] = w;
    h = ((h ^ w) ^ (h >> 29)) * 0x9E3779B97F4A7C15ull;
    return (guint)(h >> 32);
}

/* memcpy of the n bytes at s to d without the call for the usual name, value or item (at most
 * 32 bytes): overlapping loads and stores cover the n bytes exactly; longer: memcpy. */
static inline __attribute__((always_inline)) void copy_short(char *d, const char *s, size_t n)
{
    if (n >= 16 && n <= 32) {
        guint64 a = ld8(s), b = ld8(s + 8), y = ld8(s + n - 16), z = ld8(s + n - 8);
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + n - 16, &y, 8);
        memcpy(d + n - 8, &z, 8);
    } else if (n >= 8 && n < 16) {
        guint64 a = ld8(s), b = ld8(s + n - 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        guint32 a = ld4(s), b = ld4(s + n - 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0 && n < 4) {
        char a = s[0], b = s[n / 2], c = s[n - 1];
        d[0] = a;
        d[n / 2] = b;
        d[n - 1] = c;
    } else if (n) {
        memcpy(d, s, n);
    }
}

#endif
