/* ref_b64.h - a plain base64 reference for the tests of codec_b64_decode (test_sigbuf's sweep,
 * the codec fuzz target): the rules codec.h states, one byte at a time, to compare the
 * decoder's sixteen-digit blocks against. */
#ifndef MSSIPAE_REF_B64_H
#define MSSIPAE_REF_B64_H

#include <string.h>

#include <glib.h>

/* A digit's value, or -1. */
static inline int ref_b64_value(unsigned char c)
{
    const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *at = c ? strchr(digits, c) : NULL;
    return at ? (int)(at - digits) : -1;
}

/* NULL, with the bytes appended to out; or the error codec_b64_decode gives for s. */
static inline const char *ref_b64(const char *s, size_t n, GByteArray *out)
{
    size_t pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    size_t body = n - pad;
    for (size_t i = 0; i < body; i++)
        if (ref_b64_value((unsigned char)s[i]) < 0)
            return s[i] == '=' ? "base64 padding in the middle" : "invalid base64 character";
    if (body % 4 == 1 || (pad && (body + pad) % 4))
        return "base64 length is not a whole number of bytes";
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < body; i++) {
        acc = (acc << 6 | (unsigned)ref_b64_value((unsigned char)s[i])) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            guint8 byte = (guint8)(acc >> bits);
            g_byte_array_append(out, &byte, 1);
        }
    }
    return NULL;
}

#endif
