/* krb_der.c - bounds-checked DER reading for Kerberos messages (see krb_der.h). */
#include "verify/krb_der.h"

#include <string.h>

/* Starts a cursor on a slice; a NULL slice is an empty one. */
void krb_der_init(krb_der *d, const uint8_t *p, size_t len)
{
    d->p = p;
    d->left = p ? len : 0;
    d->err = 0;
}

/* Cursor over a TLV's content, so nested structures are walked with the same checks. */
void krb_der_enter(krb_der *d, const krb_der_tlv *t)
{
    krb_der_init(d, t->val, t->len);
}

/* DER definite length (X.690 8.1.3, 10.1): short form, or 0x81..0x84 with minimal octets. */
int krb_der_length(const uint8_t *p, size_t n, size_t *len, size_t *hdr)
{
    if (n < 1)
        return -1;
    uint8_t b = p[0];
    if (b < 0x80) {
        *len = b;
        *hdr = 1;
        return 1;
    }
    size_t k = b & 0x7f;
    if (k == 0 || k > 4 || n < 1 + k) /* 0x80 = indefinite: not DER */
        return -1;
    if (p[1] == 0)
        return -1; /* leading zero octet: not minimal */
    uint32_t v = 0;
    for (size_t i = 0; i < k; i++)
        v = v << 8 | p[1 + i];
    if (v < 0x80)
        return -1; /* long form for a short length: not minimal */
    *len = v;
    *hdr = 1 + k;
    return 1;
}

/* Reads one TLV and advances; every length is checked against what is left. */
int krb_der_next(krb_der *d, krb_der_tlv *t)
{
    if (d->err)
        return -1;
    if (d->left == 0)
        return 0;
    const uint8_t *start = d->p;
    uint8_t tag = start[0];
    if ((tag & 0x1f) == 0x1f) { /* high tag number form: Kerberos never uses it */
        d->err = 1;
        return -1;
    }
    size_t len, hdr;
    if (krb_der_length(start + 1, d->left - 1, &len, &hdr) < 0 || len > d->left - 1 - hdr) {
        d->err = 1;
        return -1;
    }
    t->tag = tag;
    t->val = start + 1 + hdr;
    t->len = len;
    t->raw = start;
    t->rawlen = 1 + hdr + len;
    d->p += t->rawlen;
    d->left -= t->rawlen;
    return 1;
}

/* Reads the next TLV and insists on its tag, so callers need a single check. */
int krb_der_expect(krb_der *d, uint8_t tag, krb_der_tlv *t)
{
    int r = krb_der_next(d, t);
    if (r <= 0 || t->tag != tag) {
        d->err = 1;
        return -1;
    }
    return 1;
}

/* Scans a whole SEQUENCE body, so a malformed later element is noticed even when [n] is early. */
int krb_der_field(const krb_der_tlv *seq, unsigned n, krb_der_tlv *inner)
{
    if (n > 30)
        return -1;
    krb_der d;
    krb_der_tlv t;
    int found = 0;
    krb_der_enter(&d, seq);
    int r;
    while ((r = krb_der_next(&d, &t)) == 1) {
        if (t.tag != KRB_DER_CTX(n))
            continue;
        if (found)
            return -1; /* duplicate field */
        krb_der in;
        krb_der_tlv x, extra;
        krb_der_enter(&in, &t);
        if (krb_der_next(&in, &x) != 1 || krb_der_next(&in, &extra) != 0)
            return -1; /* an explicit tag wraps exactly one TLV */
        *inner = x;
        found = 1;
    }
    if (r < 0)
        return -1;
    return found;
}

/* krb_der_field for every n at once: a field is -1 when the body is malformed anywhere, when it
 * occurs twice, or when its first occurrence does not hold exactly one TLV. */
void krb_der_fields_scan(const krb_der_tlv *seq, krb_der_fields *ix)
{
    memset(ix->r, 0, sizeof ix->r);
    krb_der d;
    krb_der_tlv t;
    krb_der_enter(&d, seq);
    int r;
    while ((r = krb_der_next(&d, &t)) == 1) {
        if ((t.tag & 0xe0) != 0xa0)
            continue; /* not [n] EXPLICIT (n <= 30: krb_der_next refuses 0xbf) */
        unsigned n = t.tag & 0x1fu;
        if (ix->r[n] != 0) {
            ix->r[n] = -1; /* duplicate field */
            continue;
        }
        krb_der in;
        krb_der_tlv x, extra;
        krb_der_enter(&in, &t);
        if (krb_der_next(&in, &x) != 1 || krb_der_next(&in, &extra) != 0) {
            ix->r[n] = -1; /* an explicit tag wraps exactly one TLV */
            continue;
        }
        ix->r[n] = 1;
        ix->f[n] = x;
    }
    if (r < 0)
        memset(ix->r, 0xff, sizeof ix->r); /* -1 for every field */
}

int krb_der_fields_get(const krb_der_fields *ix, unsigned n, krb_der_tlv *inner)
{
    if (n > 30)
        return -1;
    if (ix->r[n] == 1)
        *inner = ix->f[n];
    return ix->r[n];
}

/* Kerberos messages are "[APPLICATION n] SEQUENCE"; this unwraps both layers at once. */
int krb_der_app_seq(const uint8_t *p, size_t len, unsigned app, krb_der_tlv *seq)
{
    krb_der d, in;
    krb_der_tlv outer, extra;
    if (app > 30)
        return -1;
    krb_der_init(&d, p, len);
    if (krb_der_expect(&d, KRB_DER_APP(app), &outer) < 0)
        return -1;
    krb_der_enter(&in, &outer);
    if (krb_der_expect(&in, KRB_DER_SEQUENCE, seq) < 0 || krb_der_next(&in, &extra) != 0)
        return -1;
    return 1;
}

/* Int32 fields (etype, keytype, cksumtype, msg-type): sign-extended big-endian. */
int krb_der_int32(const krb_der_tlv *t, int32_t *out)
{
    if (t->tag != KRB_DER_INTEGER || t->len < 1 || t->len > 4)
        return -1;
    uint32_t v = (t->val[0] & 0x80) ? 0xffffffffu : 0;
    for (size_t i = 0; i < t->len; i++)
        v = v << 8 | t->val[i];
    memcpy(out, &v, sizeof v); /* two's complement reinterpretation without UB */
    return 1;
}

/* UInt32 fields; Windows has been seen to send sequence numbers as negative Int32. */
int krb_der_uint32(const krb_der_tlv *t, uint32_t *out)
{
    if (t->tag != KRB_DER_INTEGER || t->len < 1 || t->len > 5)
        return -1;
    size_t i = 0;
    if (t->len == 5) {
        if (t->val[0] != 0)
            return -1;
        i = 1;
    }
    if (t->len < 4 && (t->val[0] & 0x80))
        return -1; /* a short negative number is no UInt32 */
    uint32_t v = 0;
    for (; i < t->len; i++)
        v = v << 8 | t->val[i];
    *out = v;
    return 1;
}

/* OCTET STRING content as a slice. */
int krb_der_octets(const krb_der_tlv *t, const uint8_t **p, size_t *len)
{
    if (t->tag != KRB_DER_OCTET_STRING)
        return -1;
    *p = t->val;
    *len = t->len;
    return 1;
}
