/* sip_msg.h - read-only access to the start line and headers of one SIP message.
 *
 * The parser never copies or changes the message: headers are offsets into the caller's
 * buffer, which must outlive the sip_msg. Header names are matched case-insensitively, with the
 * RFC 3261 compact forms (i, f, t, ...), folded continuation lines (a line starting with SP or
 * HT) belong to the header above, and lines may end in CRLF or a bare LF.
 */
#ifndef MSSIPAE_SIP_MSG_H
#define MSSIPAE_SIP_MSG_H

#include <glib.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    const char *p;
    size_t n;
} slice;

/* The headers the core looks up, recognised once by sip_msg_parse (full name or compact form,
 * case-insensitively); SIP_HK_OTHER for every other name. */
typedef enum {
    SIP_HK_OTHER = 0,
    SIP_HK_WWW_AUTHENTICATE,
    SIP_HK_PROXY_AUTHENTICATE,
    SIP_HK_AUTHORIZATION,
    SIP_HK_PROXY_AUTHORIZATION,
    SIP_HK_AUTHENTICATION_INFO,
    SIP_HK_PROXY_AUTHENTICATION_INFO,
    SIP_HK_CALL_ID,     /* compact i */
    SIP_HK_CSEQ,
    SIP_HK_FROM,        /* compact f */
    SIP_HK_TO,          /* compact t */
    SIP_HK_VIA,         /* compact v */
    SIP_HK_P_ASSERTED_IDENTITY,
    SIP_HK_P_PREFERRED_IDENTITY,
    SIP_HK_EXPIRES,
    SIP_HK_COUNT
} sip_hk;

typedef struct {
    slice name;        /* header name as on the wire */
    size_t line_off;   /* offset of the header's first line in the message */
    size_t line_len;   /* through the line end of its last continuation line */
    size_t value_off;  /* raw value after the colon, continuation lines included, untrimmed */
    size_t value_len;
    sip_hk kind;       /* which known header the name is (SIP_HK_OTHER: none) */
    int compact;       /* 1 when the name is the compact form of kind */
    int folded;        /* 1 when continuation lines follow the first (the value holds line ends) */
} sip_hdr;

typedef struct {
    const char *buf;
    size_t len;
    int is_request;     /* 1 request, 0 response */
    slice method;       /* request method (requests only) */
    slice status;       /* three status digits (responses only) */
    int status_code;    /* responses only */
    size_t hdr_end;     /* offset just past the blank line ending the headers (len if none) */
    int complete;       /* 1 when the blank line ending the header block was found */
    GArray *hdrs;       /* sip_hdr, in message order */
    int hdrs_borrowed;  /* hdrs is the caller's (sip_msg_parse_with) */
    unsigned bad_lines; /* header lines without a colon (skipped) */
    guint first[SIP_HK_COUNT]; /* 1 + index in hdrs of the first header of each kind, 0: none */
} sip_msg;

/* RFC 3261 token characters: alphanumerics and -.!%*_+`'~ (NUL counts too, as it always has
 * here: strchr of the set found its terminator). A table: this runs per byte. */
extern const unsigned char sip_token_tab[256];
static inline int sip_is_token_char(char c)
{
    return sip_token_tab[(unsigned char)c];
}

/* Parses the start line and the header block. Returns 0, or -1 (why = static text) when the
 * start line is not SIP. On 0, sip_msg_clear() must be called. */
int sip_msg_parse(const char *buf, size_t len, sip_msg *m, const char **why);
void sip_msg_clear(sip_msg *m);

/* The same, with the headers in hdrs (a GArray of sip_hdr the caller keeps and reuses from
 * message to message: emptied first, never freed by sip_msg_clear). The parser sizes hdrs up
 * front and writes every element it keeps: an array made without clearing
 * (g_array_sized_new (FALSE, FALSE, ...)) spares zeroing what is overwritten anyway. */
int sip_msg_parse_with(const char *buf, size_t len, sip_msg *m, GArray *hdrs, const char **why);

/* The first header called name (or its compact form compact, 0 for none), or NULL. */
const sip_hdr *sip_hdr_find(const sip_msg *m, const char *name, char compact);

/* 1 when header h is called name or its compact form. */
int sip_hdr_is(const sip_msg *m, const sip_hdr *h, const char *name, char compact);

/* The first header of kind k (by its full name or its compact form), or NULL. Same as
 * sip_hdr_find with the kind's name and compact letter, without comparing names. */
static inline const sip_hdr *sip_hdr_find_kind(const sip_msg *m, sip_hk k)
{
    if (!m->hdrs || k <= SIP_HK_OTHER || k >= SIP_HK_COUNT || !m->first[k] ||
        m->first[k] > m->hdrs->len)
        return NULL;
    return &g_array_index(m->hdrs, sip_hdr, m->first[k] - 1);
}

/* The kind of header name name (n bytes, case-insensitive); *compact (may be NULL) is set to 1
 * for a compact form. SIP_HK_OTHER when it is none of sip_hk. */
sip_hk sip_hk_classify(const char *name, size_t n, int *compact);

/* The value with folding joined by one space and outer whitespace stripped; g_malloc'd.
 * *len (may be NULL) receives its length (the value may contain NUL bytes). */
char *sip_hdr_value(const sip_msg *m, const sip_hdr *h, size_t *len);

/* When the value of h has no line break (CR or LF, i.e. no folding), sets *out to the same bytes
 * sip_hdr_value would return, as a slice into the message (no copy, not NUL-terminated) and
 * returns 1; otherwise returns 0 (use sip_hdr_value). Inline: it runs for every header the core
 * reads. */
static inline int sip_hdr_value_slice(const sip_msg *m, const sip_hdr *h, slice *out)
{
    const char *v = m->buf + h->value_off;
    size_t n = h->value_len;
    /* an unfolded header's value ends before its line's LF: only a stray CR can be in it */
    if (memchr(v, '\r', n) || (h->folded && memchr(v, '\n', n)))
        return 0;
    size_t a = 0, b = n;
    while (a < b && (v[a] == ' ' || v[a] == '\t'))
        a++;
    while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
        b--;
    out->p = v + a;
    out->n = b - a;
    return 1;
}

#endif
