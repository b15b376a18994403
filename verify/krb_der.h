/* krb_der.h - a small bounds-checked DER reader for the Kerberos messages MIT krb5 has no public
 * decoder for (AP-REQ, Authenticator, AP-REP, EncAPRepPart) and for GSS-API token framing.
 *
 * A pull cursor over a slice with a sticky error (K's k5input): every read checks the remaining
 * length, so a hostile token can at worst make a read fail. Only what Kerberos uses is accepted:
 * single-byte tags (numbers 0..30), definite lengths of at most 4 length octets in minimal form.
 * Indefinite lengths, high tag numbers and over-long INTEGERs are errors. Nothing is allocated.
 *
 * Return values, in this fixed phrasing throughout: 1 = read / found, 0 = end or absent,
 * -1 = malformed input (the cursor's error is then sticky).
 */
#ifndef MSSIPAE_KRB_DER_H
#define MSSIPAE_KRB_DER_H

#include <stddef.h>
#include <stdint.h>

/* Tags as whole identifier octets. */
#define KRB_DER_INTEGER     0x02
#define KRB_DER_BIT_STRING  0x03
#define KRB_DER_OCTET_STRING 0x04
#define KRB_DER_OID         0x06
#define KRB_DER_GENSTRING   0x1b
#define KRB_DER_GENTIME     0x18
#define KRB_DER_SEQUENCE    0x30
#define KRB_DER_CTX(n)      (0xa0 | (n))  /* [n] EXPLICIT, constructed */
#define KRB_DER_APP(n)      (0x60 | (n))  /* [APPLICATION n], constructed */

/* One TLV: val/len is the content, raw/rawlen the whole encoding (identifier to end). Slices
 * point into the input. */
typedef struct {
    uint8_t tag;
    const uint8_t *val;
    size_t len;
    const uint8_t *raw;
    size_t rawlen;
} krb_der_tlv;

/* A cursor over a run of TLVs. */
typedef struct {
    const uint8_t *p;
    size_t left;
    int err; /* sticky: once set, every read returns -1 */
} krb_der;

void krb_der_init(krb_der *d, const uint8_t *p, size_t len);
/* A cursor over the content of t. */
void krb_der_enter(krb_der *d, const krb_der_tlv *t);

/* Reads the next TLV: 1, 0 at the end of the slice, -1 when malformed. */
int krb_der_next(krb_der *d, krb_der_tlv *t);
/* Reads the next TLV and requires tag: 1, or -1 (also at the end of the slice). */
int krb_der_expect(krb_der *d, uint8_t tag, krb_der_tlv *t);

/* Parses the length octets at p (n bytes available): 1 with *len and *hdr (octets consumed),
 * -1 when malformed. For GSS framing, which uses DER lengths too. */
int krb_der_length(const uint8_t *p, size_t n, size_t *len, size_t *hdr);

/* In the body of a SEQUENCE (or of an APPLICATION-tagged SEQUENCE's SEQUENCE) seq, finds the
 * field [n] EXPLICIT and returns its single inner TLV: 1 found, 0 absent, -1 when any element
 * is malformed, [n] occurs twice, or the explicit tag does not hold exactly one TLV. */
int krb_der_field(const krb_der_tlv *seq, unsigned n, krb_der_tlv *inner);

/* krb_der_field's answers for every field [0]..[30] of one SEQUENCE body, from one scan (the
 * messages read several fields of each body): r[n] is krb_der_field's return value for [n], f[n]
 * its inner TLV when r[n] is 1. */
typedef struct {
    int8_t r[31];
    krb_der_tlv f[31];
} krb_der_fields;

/* Scans seq once into ix: krb_der_fields_get(ix, n, inner) then answers exactly as
 * krb_der_field(seq, n, inner) would, for every n. */
void krb_der_fields_scan(const krb_der_tlv *seq, krb_der_fields *ix);
int krb_der_fields_get(const krb_der_fields *ix, unsigned n, krb_der_tlv *inner);

/* Unwraps "[APPLICATION app] SEQUENCE {...}" at the start of p/len into the SEQUENCE TLV;
 * trailing bytes after the outer TLV are allowed (decrypted plaintext may be padded). */
int krb_der_app_seq(const uint8_t *p, size_t len, unsigned app, krb_der_tlv *seq);

/* INTEGER as a signed 32-bit value (Int32): 1, or -1 when not an INTEGER of 1..4 octets. */
int krb_der_int32(const krb_der_tlv *t, int32_t *out);
/* INTEGER as UInt32 (seq-number, kvno): 1..4 octets (a negative 4-octet value is taken as its
 * two's complement, as Windows encodes sequence numbers) or 5 octets with a leading 00; else -1. */
int krb_der_uint32(const krb_der_tlv *t, uint32_t *out);
/* OCTET STRING content: 1, or -1 on a different tag. */
int krb_der_octets(const krb_der_tlv *t, const uint8_t **p, size_t *len);

#endif
