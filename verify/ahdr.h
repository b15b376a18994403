/* ahdr.h - decoding the MS-SIPAE auth headers of a SIP message. */
#ifndef MSSIPAE_AHDR_H
#define MSSIPAE_AHDR_H

#include <stdint.h>

#include "sigbuf/sip_msg.h"
#include "verify/results.h"

/* The auth_result of header h when it is one of the six MS-SIPAE auth headers (its parameters
 * parsed, signature hex and gssapi-data base64 decoded, notes for what could not be parsed;
 * status MALFORMED when the signature cannot be checked at all), else NULL. Free with
 * auth_result_free. */
auth_result *ahdr_decode(const sip_msg *m, const sip_hdr *h);

/* The same, decoding into an emptied auth_result from spare (auth_result_clear) when spare
 * (may be NULL) has one. */
auth_result *ahdr_decode_reuse(const sip_msg *m, const sip_hdr *h, GPtrArray *spare);

/* A decimal parameter (cnum, snum, version): 0 with *out, or -1 for anything but 1-10 digits
 * that fit in 32 bits. */
int ahdr_parse_u32(const char *s, uint32_t *out);

#endif
