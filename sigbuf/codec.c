/* codec.c - strict hex and base64 decoding. */
#include "sigbuf/codec.h"

#include <glib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Hex digit values by byte: 0-15, or 0xff for anything but a hex digit. */
#define XD_ROW_FF 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, \
                  0xff, 0xff, 0xff
static const unsigned char xd_tab[256] = {
    XD_ROW_FF, XD_ROW_FF, XD_ROW_FF,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 10, 11, 12, 13, 14, 15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    XD_ROW_FF,
    0xff, 10, 11, 12, 13, 14, 15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    XD_ROW_FF,
    XD_ROW_FF, XD_ROW_FF, XD_ROW_FF, XD_ROW_FF, XD_ROW_FF, XD_ROW_FF, XD_ROW_FF, XD_ROW_FF,
};

int codec_hex_decode_to(const char *s, size_t n, uint8_t *buf, size_t *outlen, const char **why)
{
    *outlen = 0;
    if (n % 2) {
        *why = "odd number of hex digits";
        return -1;
    }
    unsigned bad = 0;
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    uint8_t *o = buf;
#ifdef __SSE2__
    /* sixteen digits (eight bytes) at a time: a digit is c - '0' <= 9 or (c | 0x20) - 'a' <= 5
     * (unsigned, wrapping), its value that or 10 more; a lane that is neither flags the text */
    {
        const __m128i c0 = _mm_set1_epi8('0'), ca = _mm_set1_epi8('a'), c20 = _mm_set1_epi8(0x20);
        const __m128i n9 = _mm_set1_epi8(9), n5 = _mm_set1_epi8(5), n10 = _mm_set1_epi8(10);
        const __m128i lo8 = _mm_set1_epi16(0x00ff);
        unsigned okall = 0xffff;
        while (e - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i d = _mm_sub_epi8(x, c0);
            __m128i l = _mm_sub_epi8(_mm_or_si128(x, c20), ca);
            __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, n9), d);
            __m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(l, n5), l);
            okall &= (unsigned)_mm_movemask_epi8(_mm_or_si128(isd, isl));
            __m128i v = _mm_or_si128(_mm_and_si128(isd, d),
                                     _mm_andnot_si128(isd, _mm_add_epi8(l, n10)));
            /* bytes (hi, lo) of each 16-bit lane: hi << 4 | lo, packed to eight bytes */
            __m128i hi = _mm_and_si128(v, lo8), lo = _mm_srli_epi16(v, 8);
            __m128i w = _mm_or_si128(_mm_slli_epi16(hi, 4), lo);
            _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(w, w));
            p += 16;
            o += 8;
        }
        if (okall != 0xffff)
            bad = 0xff;
    }
#endif
    for (; p < e; p += 2, o++) {
        unsigned hi = xd_tab[p[0]], lo = xd_tab[p[1]];
        bad |= hi | lo; /* 0xff has bits above the low four that no digit has */
        *o = (uint8_t)(hi << 4 | lo);
    }
    if (bad & 0xf0) {
        *why = "not a hex digit";
        return -1;
    }
    *outlen = n / 2;
    return 0;
}

int codec_hex_decode(const char *s, size_t n, uint8_t **out, size_t *outlen, const char **why)
{
    *out = NULL;
    *outlen = 0;
    if (n % 2) {
        *why = "odd number of hex digits";
        return -1;
    }
    uint8_t *buf = g_malloc(n / 2 + 1);
    if (codec_hex_decode_to(s, n, buf, outlen, why) < 0) {
        g_free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* Base64 digit values by byte, plus one: 0 for anything but a digit (a table: tokens are
 * kilobytes). */
static const unsigned char b64_tab[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
    ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
    ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
    ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
    ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
    ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
    ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59,
    ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

static inline int b64_value(char c)
{
    return (int)b64_tab[(unsigned char)c] - 1;
}

/* The error of a base64 body with a byte that is not a digit: the first such byte tells. */
static const char *b64_bad_why(const char *s, size_t body)
{
    for (size_t i = 0; i < body; i++)
        if (b64_value(s[i]) < 0)
            return s[i] == '=' ? "base64 padding in the middle" : "invalid base64 character";
    return "invalid base64 character"; /* not reached: the caller found one */
}

#ifdef __SSE2__
/* Sixteen base64 digits at p to twelve bytes at o (13 bytes are written: the caller has the
 * room), or -1 when one of the sixteen is not a digit (o then holds nothing of use). A digit is
 * c - 'A' <= 25, c - 'a' <= 25, c - '0' <= 9 (unsigned, wrapping), '+' or '/'; its value is
 * that difference plus 0, 26 or 52, or 62, 63. SSE2 only (every x86-64): the digits are joined
 * with shifts in 16- and 32-bit lanes, and each lane's three bytes stored in order. */
static inline int b64_block16(const unsigned char *p, uint8_t *o)
{
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i du = _mm_sub_epi8(x, _mm_set1_epi8('A'));
    const __m128i dl = _mm_sub_epi8(x, _mm_set1_epi8('a'));
    const __m128i dd = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    const __m128i n25 = _mm_set1_epi8(25);
    const __m128i isu = _mm_cmpeq_epi8(_mm_min_epu8(du, n25), du);
    const __m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(dl, n25), dl);
    const __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(dd, _mm_set1_epi8(9)), dd);
    const __m128i isp = _mm_cmpeq_epi8(x, _mm_set1_epi8('+'));
    const __m128i iss = _mm_cmpeq_epi8(x, _mm_set1_epi8('/'));
    const __m128i ok = _mm_or_si128(_mm_or_si128(_mm_or_si128(isu, isl), _mm_or_si128(isd, isp)),
                                    iss);
    if (_mm_movemask_epi8(ok) != 0xffff)
        return -1;
    __m128i v = _mm_or_si128(
        _mm_or_si128(_mm_and_si128(isu, du),
                     _mm_and_si128(isl, _mm_add_epi8(dl, _mm_set1_epi8(26)))),
        _mm_or_si128(_mm_and_si128(isd, _mm_add_epi8(dd, _mm_set1_epi8(52))),
                     _mm_or_si128(_mm_and_si128(isp, _mm_set1_epi8(62)),
                                  _mm_and_si128(iss, _mm_set1_epi8(63)))));
    /* digits a b c d (bytes 0-3 of a 32-bit lane, little-endian): a << 6 | b and c << 6 | d in
     * the 16-bit lanes, then (a << 6 | b) << 12 | (c << 6 | d) in the 32-bit lane */
    v = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x00ff)), 6),
                     _mm_srli_epi16(v, 8));
    v = _mm_or_si128(_mm_slli_epi32(_mm_and_si128(v, _mm_set1_epi32(0xffff)), 12),
                     _mm_srli_epi32(v, 16));
    guint32 w[4];
    _mm_storeu_si128((__m128i *)(void *)w, v);
    for (int i = 0; i < 4; i++) {
        guint32 be = GUINT32_TO_BE(w[i] << 8); /* the 24 bits' three bytes, high first */
        memcpy(o + 3 * i, &be, 4);
    }
    return 0;
}
#endif

int codec_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen, const char **why)
{
    *out = NULL;
    *outlen = 0;
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    size_t body = n - pad;
    /* Decode and validate in one pass, four digits (three bytes) at a time: a digit's value is
     * b64_tab - 1, 0xff for anything else, whose high bit the OR of all values keeps. The
     * errors are the ones a validation before decoding gives: a bad byte first (the first one
     * tells which), then a bad length. */
    uint8_t *buf = g_malloc(body * 3 / 4 + 3);
    const unsigned char *p = (const unsigned char *)s;
    unsigned bad = 0;
    size_t i = 0, o = 0;
#ifdef __SSE2__
    /* sixteen digits at a time (tokens are kilobytes); a block with a byte that is not a digit
     * is left to the loops below, which find it */
    for (; body - i >= 16; i += 16, o += 12)
        if (b64_block16(p + i, buf + o) < 0)
            break;
#endif
    for (; body - i >= 4; i += 4, o += 3) {
        unsigned a = (unsigned char)(b64_tab[p[i]] - 1), b = (unsigned char)(b64_tab[p[i + 1]] - 1);
        unsigned c = (unsigned char)(b64_tab[p[i + 2]] - 1), d = (unsigned char)(b64_tab[p[i + 3]] - 1);
        bad |= a | b | c | d;
        guint32 x = a << 18 | b << 12 | c << 6 | d;
        buf[o] = (uint8_t)(x >> 16);
        buf[o + 1] = (uint8_t)(x >> 8);
        buf[o + 2] = (uint8_t)x;
    }
    /* the last one to three digits: the bits that make whole bytes */
    guint32 acc = 0;
    int bits = 0;
    for (; i < body; i++) {
        unsigned v = (unsigned char)(b64_tab[p[i]] - 1);
        bad |= v;
        acc = (acc << 6) | (v & 63);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bad & 0x80) {
        g_free(buf);
        *why = b64_bad_why(s, body);
        return -1;
    }
    if (body % 4 == 1 || (pad && (body + pad) % 4)) {
        g_free(buf);
        *why = "base64 length is not a whole number of bytes";
        return -1;
    }
    *out = buf;
    *outlen = o;
    return 0;
}

char *codec_hex_encode(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = g_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * n] = 0;
    return s;
}
