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

typedef struct {
    const char *p;
    size_t n;
} slice;

typedef struct {
    slice name;        /* header name as on the wire */
    size_t line_off;   /* offset of the header's first line in the message */
    size_t line_len;   /* through the line end of its last continuation line */
    size_t value_off;  /* raw value after the colon, continuation lines included, untrimmed */
    size_t value_len;
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
    unsigned bad_lines; /* header lines without a colon (skipped) */
} sip_msg;

/* Parses the start line and the header block. Returns 0, or -1 (why = static text) when the
 * start line is not SIP. On 0, sip_msg_clear() must be called. */
int sip_msg_parse(const char *buf, size_t len, sip_msg *m, const char **why);
void sip_msg_clear(sip_msg *m);

/* The first header called name (or its compact form compact, 0 for none), or NULL. */
const sip_hdr *sip_hdr_find(const sip_msg *m, const char *name, char compact);

/* 1 when header h is called name or its compact form. */
int sip_hdr_is(const sip_msg *m, const sip_hdr *h, const char *name, char compact);

/* The value with folding joined by one space and outer whitespace stripped; g_malloc'd.
 * *len (may be NULL) receives its length (the value may contain NUL bytes). */
char *sip_hdr_value(const sip_msg *m, const sip_hdr *h, size_t *len);

#endif
