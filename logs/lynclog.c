/* lynclog.c - streaming reader of Lync / SfB client UccApi logs and server SIPStack text traces.
 *
 * A line-driven state machine; see lynclog.h for the contract and
 * /work/shared/reference/lync-logs.md for the formats. Rebuilding the wire bytes:
 *
 * UccApi block: the start line sits on the time-stamped "INFO  :: " line after the opening line,
 * the rest of the message follows as raw text lines up to the "End of ..." line. The file lost the
 * CRLFs, so the message is the block's lines joined by CRLF (T), plus possibly one more CRLF: a
 * logger that always appends a line end after the message gives T, one that only ends the line
 * when needed gives T + CRLF. Content-Length, else the logged byte count N, decides; without
 * either, T is kept when it holds the end of the header section (reference section 3, "Line
 * endings"; open question 1).
 *
 * SIPStack protocol record: "Start-Line:" then the headers one per line up to "Message-Body:"
 * ("-" = empty; otherwise the body text, on the same and the following lines, up to
 * "$$end_record"); rebuilt as start line, headers, CRLF CRLF, body (trailing CRLF decided by
 * Content-Length the same way).
 */
#include "logs/lynclog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
} lbuf;

/* Appends n bytes; 0, or -1 when out of memory. */
static int lbuf_add(lbuf *b, const void *d, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static void lbuf_free(lbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Keeps the memory of a large buffer only while it is in use: bounded, but no realloc churn. */
static void lbuf_reset(lbuf *b)
{
    if (b->cap > (1u << 20))
        lbuf_free(b);
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

typedef enum {
    ST_IDLE,
    ST_UCC_AWAIT_START, /* opening line seen, start line not yet */
    ST_UCC_MSG,         /* collecting message lines up to "End of" */
    ST_SS_SKIP,         /* a non-protocol SIPStack record: skip up to $$end_record */
    ST_SS_FIELDS,       /* protocol record before Start-Line */
    ST_SS_HEAD,         /* headers, up to Message-Body: */
    ST_SS_BODY,         /* body lines, up to $$end_record */
    ST_SS_BODY_DONE,    /* "Message-Body: -" seen */
} lstate;

typedef struct {
    lynclog_format fmt;
    lynclog_dir dir;
    int64_t tsec;
    uint32_t tms;
    lynclog_endpoint local, remote;
    uint64_t line_first, line_last;
    int64_t logged_len;
    char thread[32];      /* UccApi PID:TID of the opening line */
    lbuf msg;             /* UccApi: lines joined by CRLF; SIPStack: start line + headers (CRLF each) */
    lbuf body;            /* SIPStack body lines joined by CRLF */
    size_t body_lines;
    int hdr_end_seen;     /* UccApi: an empty line ended the header section */
    int have_start;
    int64_t content_length;
    int size_cut;         /* the block reached LYNCLOG_MAX_MSG: nothing more is kept */
    uint32_t flags;
    lbuf note;
} lblock;

struct lynclog_reader {
    lynclog_opts o;
    uint64_t lineno, nmsgs, nprob;
    lynclog_format detected;
    lstate st;
    lblock b;
    int have_out;
    int out_taken;
    lynclog_msg out;
    lbuf out_data, out_note;
};

/* ---------------------------------------------------------------- small helpers */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static int starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static int starts_with_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower(prefix[i]))
            return 0;
    return 1;
}

/* Value of n fixed decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

int64_t lynclog_utc_seconds(int year, int mon, int day, int hh, int mm, int ss)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
        hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0)
        return -1;
    /* H. Hinnant's days_from_civil */
    int64_t y = year - (mon <= 2);
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + hh * 3600 + mm * 60 + ss;
}

/* "MM/DD/YYYY<sep>HH:MM:SS.mmm" at s (23 bytes); 0 and the time, or -1. */
static int parse_datetime(const char *s, size_t len, char sep, int64_t *sec, uint32_t *ms)
{
    if (len < 23 || s[2] != '/' || s[5] != '/' || s[10] != sep || s[13] != ':' || s[16] != ':' ||
        s[19] != '.')
        return -1;
    int mon = digits(s, 2), day = digits(s + 3, 2), year = digits(s + 6, 4);
    int hh = digits(s + 11, 2), mi = digits(s + 14, 2), ss = digits(s + 17, 2);
    int milli = digits(s + 20, 3);
    if (mon < 0 || day < 0 || year < 0 || hh < 0 || mi < 0 || ss < 0 || milli < 0)
        return -1;
    int64_t t = lynclog_utc_seconds(year, mon, day, hh, mi, ss);
    if (t < 0)
        return -1;
    *sec = t;
    *ms = (uint32_t)milli;
    return 0;
}

int lynclog_parse_endpoint(const char *s, size_t len, lynclog_endpoint *e)
{
    memset(e, 0, sizeof *e);
    trim(&s, &len);
    if (len == 0)
        return -1;
    const char *host = s;
    size_t hlen = len;
    const char *port = NULL;
    size_t plen = 0;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        host = s + 1;
        hlen = (size_t)(close - s) - 1;
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
            plen = rest - 1;
        }
    } else {
        const char *c = memchr(s, ':', len);
        if (c && !memchr(c + 1, ':', len - (size_t)(c - s) - 1)) {
            hlen = (size_t)(c - s);
            port = c + 1;
            plen = len - hlen - 1;
        }
    }
    if (hlen == 0 || hlen > LYNCLOG_MAX_HOST)
        return -1;
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '(' || host[i] == ')')
            return -1;
    if (port) {
        if (plen == 0 || plen > 5)
            return -1;
        uint32_t v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!is_digit(port[i]))
                return -1;
            v = v * 10 + (uint32_t)(port[i] - '0');
        }
        if (v > 65535)
            return -1;
        e->port = v;
    }
    memcpy(e->host, host, hlen);
    e->host[hlen] = 0;
    return 0;
}

/* ---------------------------------------------------------------- reports */

static void report(lynclog_reader *r, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(lynclog_reader *r, uint64_t line, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->nprob++;
    if (r->o.diag)
        r->o.diag(r->o.diag_user, line, text);
}

/* Adds a problem to the open block (flag, note, and a report). */
static void block_problem(lynclog_reader *r, uint32_t flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void block_problem(lynclog_reader *r, uint32_t flag, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->b.flags |= flag;
    if (r->b.note.len < 2048) {
        char where[32];
        int n = snprintf(where, sizeof where, "%sline %llu: ", r->b.note.len ? "; " : "",
                         (unsigned long long)r->lineno);
        lbuf_add(&r->b.note, where, (size_t)n);
        lbuf_add(&r->b.note, text, strlen(text));
    }
    report(r, r->lineno, "%s (message block of line %llu)", text,
           (unsigned long long)r->b.line_first);
}

/* ---------------------------------------------------------------- blocks */

static void block_clear(lynclog_reader *r)
{
    lblock *b = &r->b;
    lbuf msg = b->msg, body = b->body, note = b->note;
    lbuf_reset(&msg);
    lbuf_reset(&body);
    lbuf_reset(&note);
    memset(b, 0, sizeof *b);
    b->msg = msg;
    b->body = body;
    b->note = note;
    b->logged_len = -1;
    b->content_length = -1;
    r->st = ST_IDLE;
}

static void block_open(lynclog_reader *r, lynclog_format fmt, int64_t tsec, uint32_t tms)
{
    block_clear(r);
    r->b.fmt = fmt;
    r->b.tsec = tsec - r->o.tz_offset;
    r->b.tms = tms;
    r->b.line_first = r->b.line_last = r->lineno;
    if (r->detected == LYNCLOG_FMT_NONE)
        r->detected = fmt;
}

/* Appends to a block buffer within the size limit; flags the block once when cut. */
static void block_add(lynclog_reader *r, lbuf *b, const void *d, size_t n)
{
    if (r->b.size_cut)
        return;
    /* 8 bytes stay free for the CRLFs block_emit may add */
    if (r->b.msg.len + r->b.body.len + n > LYNCLOG_MAX_MSG - 8) {
        r->b.size_cut = 1;
        block_problem(r, LYNCLOG_F_TRUNCATED, "message longer than %u bytes, cut",
                      LYNCLOG_MAX_MSG);
        return;
    }
    if (lbuf_add(b, d, n) != 0)
        block_problem(r, LYNCLOG_F_TRUNCATED, "out of memory, message cut");
}

/* Content-Length (or compact "l") of one header line, or -1. */
static int64_t content_length_of(const char *s, size_t len)
{
    size_t i;
    if (starts_with_ci(s, len, "content-length"))
        i = 14;
    else if (len >= 1 && lower(s[0]) == 'l')
        i = 1;
    else
        return -1;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || s[i] != ':')
        return -1;
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= len || !is_digit(s[i]))
        return -1;
    int64_t v = 0;
    for (; i < len && is_digit(s[i]); i++) {
        v = v * 10 + (s[i] - '0');
        if (v > (int64_t)1 << 40)
            return -1;
    }
    return v;
}

/* Is s a SIP start line ("METHOD uri SIP/2.0" or "SIP/2.0 NNN reason")? */
static int is_start_line(const char *s, size_t len)
{
    if (starts_with(s, len, "SIP/2.0 ")) {
        return len >= 11 && is_digit(s[8]) && is_digit(s[9]) && is_digit(s[10]) &&
               (len == 11 || s[11] == ' ');
    }
    size_t i = 0;
    while (i < len && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
        i++;
    if (i == 0 || i >= len || s[i] != ' ')
        return 0;
    return len >= 8 && memcmp(s + len - 8, " SIP/2.0", 8) == 0 && len > i + 9;
}

/* Is s a header line (name ":" ...) or a continuation (leading space)? */
static int is_header_line(const char *s, size_t len)
{
    if (len && (s[0] == ' ' || s[0] == '\t'))
        return 1;
    size_t i = 0;
    while (i < len && s[i] != ':' && s[i] != ' ' && s[i] != '\t' && (unsigned char)s[i] > 32 &&
           (unsigned char)s[i] < 127)
        i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i > 0 && i < len && s[i] == ':';
}

/* Offset just past the first CRLF CRLF in d, or 0 when there is none. */
static size_t head_end(const uint8_t *d, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++)
        if (d[i] == '\r' && d[i + 1] == '\n' && d[i + 2] == '\r' && d[i + 3] == '\n')
            return i + 4;
    return 0;
}

/* Turns the block into the returned message (the block's buffers become the output's). */
static void block_emit(lynclog_reader *r)
{
    lblock *b = &r->b;
    if (b->fmt == LYNCLOG_FMT_SIPSTACK) {
        /* headers are complete lines; add the blank line and the body */
        if (lbuf_add(&b->msg, "\r\n", 2) != 0 || lbuf_add(&b->msg, b->body.p, b->body.len) != 0)
            b->flags |= LYNCLOG_F_TRUNCATED;
    }
    /* Candidates: the bytes as they are (T) or with one more CRLF (T + CRLF). */
    size_t he = head_end(b->msg.p, b->msg.len);
    int plus = -1; /* -1 undecided, 0 = T, 1 = T + CRLF */
    size_t body0 = he ? b->msg.len - he : 0;
    size_t he1 = he ? he : (b->msg.len >= 2 && b->msg.p[b->msg.len - 2] == '\r' &&
                            b->msg.p[b->msg.len - 1] == '\n' ? b->msg.len + 2 : 0);
    size_t body1 = he1 ? b->msg.len + 2 - he1 : 0;
    if (b->content_length >= 0) {
        if (he && (int64_t)body0 == b->content_length)
            plus = 0;
        else if (he1 && (int64_t)body1 == b->content_length)
            plus = 1;
    }
    if (plus < 0 && b->logged_len >= 0) {
        if ((int64_t)b->msg.len == b->logged_len && he)
            plus = 0;
        else if ((int64_t)b->msg.len + 2 == b->logged_len && he1)
            plus = 1;
    }
    if (plus < 0)
        plus = he ? 0 : (he1 ? 1 : 2);
    if (b->fmt == LYNCLOG_FMT_SIPSTACK && plus == 2)
        plus = 0;
    if (plus == 2) {
        /* no blank line after the headers at all (e.g. a hand-reduced Snooper block) */
        lbuf_add(&b->msg, "\r\n\r\n", 4);
        r->b.flags |= LYNCLOG_F_NO_BODY_SEP;
        if (b->note.len)
            lbuf_add(&b->note, "; ", 2);
        const char *t = "no blank line after the headers, added";
        lbuf_add(&b->note, t, strlen(t));
    } else if (plus == 1) {
        lbuf_add(&b->msg, "\r\n", 2);
    }
    size_t he_final = head_end(b->msg.p, b->msg.len);
    if (b->content_length >= 0 && he_final &&
        (int64_t)(b->msg.len - he_final) != b->content_length &&
        !(b->flags & LYNCLOG_F_TRUNCATED))
        block_problem(r, LYNCLOG_F_LEN_MISMATCH, "Content-Length %lld but the body has %zu bytes",
                      (long long)b->content_length, b->msg.len - he_final);
    if (b->logged_len >= 0 && (int64_t)b->msg.len != b->logged_len)
        block_problem(r, LYNCLOG_F_LEN_MISMATCH, "logged size %lld bytes, rebuilt %zu",
                      (long long)b->logged_len, b->msg.len);

    /* hand the buffers over */
    lbuf tmp = r->out_data;
    r->out_data = b->msg;
    b->msg = tmp;
    tmp = r->out_note;
    r->out_note = b->note;
    b->note = tmp;
    lynclog_msg *m = &r->out;
    memset(m, 0, sizeof *m);
    m->format = b->fmt;
    m->dir = b->dir;
    m->time_sec = b->tsec;
    m->time_msec = b->tms;
    m->local = b->local;
    m->remote = b->remote;
    m->line_first = b->line_first;
    m->line_last = b->line_last;
    m->logged_len = b->logged_len;
    m->data = r->out_data.p ? r->out_data.p : (const uint8_t *)"";
    m->len = r->out_data.len;
    m->flags = b->flags;
    m->note = r->out_note.p ? (const char *)r->out_note.p : "";
    r->have_out = 1;
    r->out_taken = 0;
    r->nmsgs++;
    block_clear(r);
}

/* Ends the open block: closed = its end line was seen. A block without a start line is only
 * reported; anything else becomes a message. */
static void block_end(lynclog_reader *r, int closed, const char *why)
{
    lblock *b = &r->b;
    if (r->st == ST_IDLE || r->st == ST_SS_SKIP) {
        r->st = ST_IDLE;
        return;
    }
    if (!b->have_start) {
        report(r, b->line_first, "%s block of line %llu has no SIP start line%s%s; skipped",
               b->fmt == LYNCLOG_FMT_UCCAPI ? "UccApi message" : "SIPStack protocol record",
               (unsigned long long)b->line_first, why ? ": " : "", why ? why : "");
        block_clear(r);
        return;
    }
    if (!closed)
        block_problem(r, LYNCLOG_F_TRUNCATED, "truncated: %s", why ? why : "no end line");
    block_emit(r);
}

/* ---------------------------------------------------------------- UccApi */

typedef struct {
    int64_t sec;
    uint32_t ms;
    char thread[32];
    const char *text;
    size_t text_len;
} ucc_line;

/* "MM/DD/YYYY|HH:MM:SS.mmm <PID>:<TID> <LEVEL> :: <text>" */
static int parse_ucc_prefix(const char *s, size_t len, ucc_line *u)
{
    if (len < 24 || s[23] != ' ' || parse_datetime(s, len, '|', &u->sec, &u->ms) != 0)
        return 0;
    size_t i = 24, t0;
    while (i < len && s[i] == ' ')
        i++;
    t0 = i;
    while (i < len && s[i] != ' ')
        i++;
    size_t tl = i - t0;
    const char *colon = tl ? memchr(s + t0, ':', tl) : NULL;
    if (!colon || tl >= sizeof u->thread)
        return 0;
    for (size_t k = t0; k < i; k++)
        if (!is_hex(s[k]) && s[k] != ':')
            return 0;
    memcpy(u->thread, s + t0, tl);
    u->thread[tl] = 0;
    while (i < len && s[i] == ' ')
        i++;
    size_t l0 = i; /* level word */
    while (i < len && s[i] != ' ' && s[i] != ':')
        i++;
    if (i == l0)
        return 0;
    while (i < len && s[i] == ' ')
        i++;
    if (i + 2 > len || s[i] != ':' || s[i + 1] != ':')
        return 0;
    i += 2;
    if (i < len && s[i] == ' ')
        i++;
    u->text = s + i;
    u->text_len = len - i;
    return 1;
}

/* Address part of an opening / end line, after the keyword:
 * " - <remote> (From Local Address: <local>) <N> bytes[:]" -- every part optional. */
static void parse_ucc_addresses(const char *s, size_t len, lynclog_endpoint *remote,
                                lynclog_endpoint *local, int64_t *n)
{
    memset(remote, 0, sizeof *remote);
    memset(local, 0, sizeof *local);
    *n = -1;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '-'))
        i++;
    size_t r0 = i;
    while (i < len && s[i] != ' ' && s[i] != '(')
        i++;
    if (i > r0 && memchr(s + r0, ':', i - r0) && lynclog_parse_endpoint(s + r0, i - r0, remote) != 0)
        memset(remote, 0, sizeof *remote);
    while (i < len && s[i] == ' ')
        i++;
    if (i < len && s[i] == '(') {
        const char *close = memchr(s + i, ')', len - i);
        const char *c = memchr(s + i, ':', len - i);
        if (close && c && c < close) {
            /* "(From Local Address: x)" / "(To Local Address: x)" */
            if (lynclog_parse_endpoint(c + 1, (size_t)(close - c - 1), local) != 0)
                memset(local, 0, sizeof *local);
        }
        i = close ? (size_t)(close - s) + 1 : len;
    }
    while (i < len && s[i] == ' ')
        i++;
    if (i < len && is_digit(s[i])) {
        int64_t v = 0;
        size_t d0 = i;
        while (i < len && is_digit(s[i]) && i - d0 < 12)
            v = v * 10 + (s[i++] - '0');
        while (i < len && s[i] == ' ')
            i++;
        if (starts_with(s + i, len - i, "bytes"))
            *n = v;
    }
}

enum { UCC_OPEN_SEND, UCC_OPEN_RECV, UCC_END, UCC_OTHER };

static int ucc_kind(const char *t, size_t len, size_t *kwlen)
{
    if (starts_with(t, len, "Sending Packet")) {
        *kwlen = 14;
        return UCC_OPEN_SEND;
    }
    if (starts_with(t, len, "Data Received")) {
        *kwlen = 13;
        return UCC_OPEN_RECV;
    }
    if (starts_with(t, len, "End of")) {
        *kwlen = 6;
        return UCC_END;
    }
    return UCC_OTHER;
}

static int endpoint_eq(const lynclog_endpoint *a, const lynclog_endpoint *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port;
}

static void ucc_line_in(lynclog_reader *r, const ucc_line *u)
{
    size_t kw = 0;
    int kind = ucc_kind(u->text, u->text_len, &kw);
    lblock *b = &r->b;
    if (kind == UCC_OPEN_SEND || kind == UCC_OPEN_RECV) {
        if (r->st != ST_IDLE && r->st != ST_SS_SKIP)
            block_end(r, 0, "a new message block starts before its End line");
        block_open(r, LYNCLOG_FMT_UCCAPI, u->sec, u->ms);
        b->dir = kind == UCC_OPEN_SEND ? LYNCLOG_DIR_SENT : LYNCLOG_DIR_RECEIVED;
        snprintf(b->thread, sizeof b->thread, "%s", u->thread);
        parse_ucc_addresses(u->text + kw, u->text_len - kw, &b->remote, &b->local, &b->logged_len);
        r->st = ST_UCC_AWAIT_START;
        return;
    }
    if (kind == UCC_END) {
        if (r->st != ST_UCC_AWAIT_START && r->st != ST_UCC_MSG) {
            if (r->st != ST_IDLE)
                block_end(r, 0, "a UccApi line starts inside a SIPStack record");
            report(r, r->lineno, "\"End of\" line without an open message block; skipped");
            return;
        }
        b->line_last = r->lineno;
        const char *t = u->text + kw;
        size_t tl = u->text_len - kw;
        while (tl && *t == ' ') {
            t++;
            tl--;
        }
        size_t k2 = 0;
        int k = ucc_kind(t, tl, &k2);
        if ((k == UCC_OPEN_SEND || k == UCC_OPEN_RECV) &&
            (k == UCC_OPEN_SEND) != (b->dir == LYNCLOG_DIR_SENT))
            block_problem(r, LYNCLOG_F_GARBLED, "end line of the other direction");
        if (strcmp(u->thread, b->thread) != 0)
            block_problem(r, LYNCLOG_F_INTERLEAVED, "end line from thread %s, block "
                          "opened by thread %s", u->thread, b->thread);
        if (k == UCC_OPEN_SEND || k == UCC_OPEN_RECV) {
            lynclog_endpoint rem, loc;
            int64_t n;
            parse_ucc_addresses(t + k2, tl - k2, &rem, &loc, &n);
            if (!b->remote.host[0])
                b->remote = rem;
            else if (rem.host[0] && !endpoint_eq(&rem, &b->remote))
                block_problem(r, LYNCLOG_F_GARBLED, "end line names remote %s:%u, "
                              "opening line %s:%u", rem.host,
                              rem.port, b->remote.host, b->remote.port);
            if (!b->local.host[0])
                b->local = loc;
            if (b->logged_len < 0)
                b->logged_len = n;
            else if (n >= 0 && n != b->logged_len)
                block_problem(r, LYNCLOG_F_GARBLED, "end line says %lld bytes, "
                              "opening line %lld", (long long)n,
                              (long long)b->logged_len);
        }
        block_end(r, 1, NULL);
        return;
    }
    /* another time-stamped line */
    if (r->st == ST_UCC_AWAIT_START && strcmp(u->thread, b->thread) == 0) {
        b->have_start = 1;
        b->line_last = r->lineno;
        if (!is_start_line(u->text, u->text_len))
            block_problem(r, LYNCLOG_F_GARBLED, "not a SIP start line");
        block_add(r, &b->msg, u->text, u->text_len);
        r->st = ST_UCC_MSG;
        return;
    }
    if (r->st == ST_UCC_AWAIT_START || r->st == ST_UCC_MSG) {
        block_problem(r, LYNCLOG_F_INTERLEAVED, "log line of thread %s inside the "
                      "message block, skipped", u->thread);
        return;
    }
    if (r->st != ST_IDLE && r->st != ST_SS_SKIP)
        block_end(r, 0, "a UccApi line starts inside a SIPStack record");
    /* any other trace line: not a SIP message */
}

static void ucc_raw_line(lynclog_reader *r, const char *s, size_t len, int cut)
{
    lblock *b = &r->b;
    if (r->st == ST_UCC_AWAIT_START) {
        if (len == 0)
            return;
        /* tolerated: the start line on its own unprefixed line */
        b->have_start = 1;
        b->line_last = r->lineno;
        if (!is_start_line(s, len))
            block_problem(r, LYNCLOG_F_GARBLED, "not a SIP start line");
        block_add(r, &b->msg, s, len);
        r->st = ST_UCC_MSG;
        return;
    }
    b->line_last = r->lineno;
    if (cut)
        block_problem(r, LYNCLOG_F_LINE_CUT | LYNCLOG_F_TRUNCATED, "over-long line cut");
    if (!b->hdr_end_seen) {
        if (len == 0) {
            b->hdr_end_seen = 1;
        } else {
            if (!is_header_line(s, len))
                block_problem(r, LYNCLOG_F_GARBLED, "not a SIP header line");
            int64_t cl = content_length_of(s, len);
            if (cl >= 0)
                b->content_length = cl;
        }
    }
    block_add(r, &b->msg, "\r\n", 2);
    block_add(r, &b->msg, s, len);
}

/* ---------------------------------------------------------------- SIPStack */

/* "TL_<LEVEL>(TF_<FLAG>) [ctx]PID.TID::MM/DD/YYYY-HH:MM:SS.mmm.seq (...)...[$$begin_record]"
 * Returns 0 when not such a line; else 1, with protocol = TF_PROTOCOL and begin = the line ends
 * with $$begin_record. */
static int parse_tl_header(const char *s, size_t len, int *protocol, int *begin, int64_t *sec,
                           uint32_t *ms)
{
    if (!starts_with(s, len, "TL_"))
        return 0;
    const char *open = memchr(s, '(', len);
    if (!open || (size_t)(open - s) > 32)
        return 0;
    size_t rest = len - (size_t)(open - s);
    const char *close = memchr(open, ')', rest);
    if (!close || !starts_with(open, rest, "(TF_"))
        return 0;
    *protocol = (size_t)(close - open) == 12 && memcmp(open, "(TF_PROTOCOL", 12) == 0;
    /* the first "::" after the flag */
    const char *p = close;
    size_t left = len - (size_t)(p - s);
    const char *dc = NULL;
    for (size_t i = 0; i + 1 < left && i < 128; i++)
        if (p[i] == ':' && p[i + 1] == ':') {
            dc = p + i;
            break;
        }
    if (!dc)
        return 0;
    const char *d = dc + 2;
    if (parse_datetime(d, len - (size_t)(d - s), '-', sec, ms) != 0)
        return 0;
    const char *e = s;
    size_t el = len;
    trim(&e, &el);
    *begin = el >= 14 && memcmp(e + el - 14, "$$begin_record", 14) == 0;
    return 1;
}

/* "Name: value" of a record field line; 1 when the name matches. */
static int field(const char *s, size_t len, const char *name, const char **v, size_t *vlen)
{
    size_t n = strlen(name);
    if (len < n + 1 || !starts_with_ci(s, len, name) || s[n] != ':')
        return 0;
    *v = s + n + 1;
    *vlen = len - n - 1;
    trim(v, vlen);
    return 1;
}

static void ss_raw_line(lynclog_reader *r, const char *s, size_t len, int cut)
{
    lblock *b = &r->b;
    const char *v;
    size_t vl;
    b->line_last = r->lineno;
    if (cut)
        block_problem(r, LYNCLOG_F_LINE_CUT | LYNCLOG_F_TRUNCATED, "over-long line cut");
    switch (r->st) {
    case ST_SS_FIELDS:
        if (field(s, len, "Start-Line", &v, &vl)) {
            b->have_start = 1;
            if (!is_start_line(v, vl))
                block_problem(r, LYNCLOG_F_GARBLED, "not a SIP start line");
            block_add(r, &b->msg, v, vl);
            block_add(r, &b->msg, "\r\n", 2);
            r->st = ST_SS_HEAD;
        } else if (field(s, len, "Direction", &v, &vl)) {
            if (starts_with_ci(v, vl, "incoming"))
                b->dir = LYNCLOG_DIR_RECEIVED;
            else if (starts_with_ci(v, vl, "outgoing"))
                b->dir = LYNCLOG_DIR_SENT;
            else
                block_problem(r, LYNCLOG_F_GARBLED, "unknown Direction");
        } else if (field(s, len, "Peer", &v, &vl)) {
            if (lynclog_parse_endpoint(v, vl, &b->remote) != 0)
                block_problem(r, LYNCLOG_F_GARBLED, "bad Peer");
        }
        /* Trace-Correlation-Id, Instance-Id, Message-Type, ...: not needed */
        return;
    case ST_SS_HEAD:
        if (field(s, len, "Message-Body", &v, &vl)) {
            if (vl == 1 && v[0] == '-') {
                r->st = ST_SS_BODY_DONE;
            } else {
                /* [?] layout of non-empty bodies: the text starts after "Message-Body: " */
                const char *t = s + 13;
                size_t tl = len - 13;
                if (tl && *t == ' ') {
                    t++;
                    tl--;
                }
                block_add(r, &b->body, t, tl);
                b->body_lines = 1;
                r->st = ST_SS_BODY;
            }
            return;
        }
        if (len == 0)
            return; /* tolerated: stray blank line among the headers */
        if (!is_header_line(s, len))
            block_problem(r, LYNCLOG_F_GARBLED, "not a SIP header line");
        {
            int64_t cl = content_length_of(s, len);
            if (cl >= 0)
                b->content_length = cl;
        }
        block_add(r, &b->msg, s, len);
        block_add(r, &b->msg, "\r\n", 2);
        return;
    case ST_SS_BODY:
        if (b->body_lines++)
            block_add(r, &b->body, "\r\n", 2);
        block_add(r, &b->body, s, len);
        return;
    case ST_SS_BODY_DONE:
        if (len)
            block_problem(r, LYNCLOG_F_GARBLED, "text after \"Message-Body: -\"");
        return;
    default:
        return;
    }
}

/* ---------------------------------------------------------------- entry points */

lynclog_reader *lynclog_new(const lynclog_opts *opts)
{
    lynclog_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (opts)
        r->o = *opts;
    block_clear(r);
    return r;
}

void lynclog_free(lynclog_reader *r)
{
    if (!r)
        return;
    lbuf_free(&r->b.msg);
    lbuf_free(&r->b.body);
    lbuf_free(&r->b.note);
    lbuf_free(&r->out_data);
    lbuf_free(&r->out_note);
    free(r);
}

int lynclog_feed_line(lynclog_reader *r, const char *s, size_t len, int cut)
{
    r->have_out = 0; /* the previous message is no longer valid (contract) */
    r->lineno++;
    if (len && s[len - 1] == '\r')
        len--;
    if (r->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        len -= 3;
    }
    if (r->lineno == 1 && len >= 2 && (memcmp(s, "\xFF\xFE", 2) == 0 || memcmp(s, "\xFE\xFF", 2) == 0))
        report(r, 1, "UTF-16 text (byte-order mark) is not supported: convert the file to UTF-8 "
                     "first (iconv -f UTF-16 -t UTF-8)");
    ucc_line u;
    if (parse_ucc_prefix(s, len, &u)) {
        if (r->detected == LYNCLOG_FMT_NONE)
            r->detected = LYNCLOG_FMT_UCCAPI;
        ucc_line_in(r, &u);
        return 0;
    }
    int protocol = 0, begin = 0;
    int64_t sec;
    uint32_t ms;
    if (parse_tl_header(s, len, &protocol, &begin, &sec, &ms)) {
        if (r->st != ST_IDLE && r->st != ST_SS_SKIP)
            block_end(r, 0, "a new SIPStack record starts before $$end_record");
        if (r->detected == LYNCLOG_FMT_NONE)
            r->detected = LYNCLOG_FMT_SIPSTACK;
        if (protocol && begin) {
            block_open(r, LYNCLOG_FMT_SIPSTACK, sec, ms);
            r->st = ST_SS_FIELDS;
        } else {
            r->st = ST_SS_SKIP;
        }
        return 0;
    }
    const char *t = s;
    size_t tl = len;
    trim(&t, &tl);
    if (tl == 12 && memcmp(t, "$$end_record", 12) == 0 && r->st != ST_UCC_MSG &&
        r->st != ST_UCC_AWAIT_START) {
        if (r->st == ST_SS_FIELDS || r->st == ST_SS_HEAD || r->st == ST_SS_BODY ||
            r->st == ST_SS_BODY_DONE) {
            r->b.line_last = r->lineno;
            if (r->st == ST_SS_HEAD && r->b.have_start)
                block_problem(r, LYNCLOG_F_TRUNCATED, "record ends without "
                              "Message-Body");
            block_end(r, 1, "the record has no Start-Line");
        } else {
            r->st = ST_IDLE;
        }
        return 0;
    }
    switch (r->st) {
    case ST_UCC_AWAIT_START:
    case ST_UCC_MSG:
        ucc_raw_line(r, s, len, cut);
        break;
    case ST_SS_FIELDS:
    case ST_SS_HEAD:
    case ST_SS_BODY:
    case ST_SS_BODY_DONE:
        ss_raw_line(r, s, len, cut);
        break;
    default:
        break; /* not part of a SIP message */
    }
    return 0;
}

void lynclog_finish(lynclog_reader *r)
{
    r->have_out = 0;
    if (r->st != ST_IDLE && r->st != ST_SS_SKIP)
        block_end(r, 0, "end of file inside the message block");
    r->st = ST_IDLE;
}

const lynclog_msg *lynclog_next(lynclog_reader *r)
{
    if (!r->have_out || r->out_taken)
        return NULL;
    r->out_taken = 1;
    return &r->out;
}

lynclog_format lynclog_detected(const lynclog_reader *r) { return r->detected; }
uint64_t lynclog_lines(const lynclog_reader *r) { return r->lineno; }
uint64_t lynclog_messages(const lynclog_reader *r) { return r->nmsgs; }
uint64_t lynclog_problems(const lynclog_reader *r) { return r->nprob; }
