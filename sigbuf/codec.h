/* codec.h - strict hex and base64 decoding of auth-parameter values.
 *
 * Both return 0 and a g_malloc'd buffer (*out, *outlen; a 1-byte allocation for empty input),
 * or -1 when the text is not valid (the why is static text). Nothing is skipped silently:
 * GLib's own base64 decoder ignores invalid characters, so input is validated first.
 */
#ifndef MSSIPAE_CODEC_H
#define MSSIPAE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Hex digits of either case, even count, no separators. */
int codec_hex_decode(const char *s, size_t n, uint8_t **out, size_t *outlen, const char **why);
/* The same into buf (room for n / 2 bytes), for a caller that reuses its buffer: 0 with
 * *outlen, or -1 (buf's contents then undefined). */
int codec_hex_decode_to(const char *s, size_t n, uint8_t *buf, size_t *outlen, const char **why);
/* RFC 4648 base64 with '=' padding (a missing final padding is tolerated); no whitespace. */
int codec_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen, const char **why);
/* Lower-case hex of n bytes into a g_malloc'd string. */
char *codec_hex_encode(const uint8_t *p, size_t n);

#endif
