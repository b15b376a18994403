/* lynclog.h - streaming reader of Lync / Skype for Business text logs: client UccApi logs
 * (Lync-UccApi-0.UccApilog) and server SIPStack protocol records (OCSLogger / TraceFmt / CLS text
 * output). Formats and variants: /work/shared/reference/lync-logs.md (sections 1, 2, 4).
 *
 * No I/O and no Wireshark header: the caller feeds the file one line at a time (without its line
 * terminator) and pulls the SIP messages the reader has completed. Memory is bounded: one message
 * being built plus one completed message, each at most LYNCLOG_MAX_MSG bytes.
 *
 *     lynclog_reader *r = lynclog_new(&opts);
 *     for each line:  lynclog_feed_line(r, line, len);
 *                     while ((m = lynclog_next(r)) != NULL) use(m);
 *     lynclog_finish(r); while ((m = lynclog_next(r)) != NULL) use(m);
 *     lynclog_free(r);
 *
 * The format is detected per line by content (a file may even mix both). Lines that belong to no
 * SIP message are skipped. A message block that is cut (no closing line, a new block starts, end
 * of input), garbled (no start line, bad header line) or interleaved with other log lines is still
 * returned, with flags and a note, and every problem is also reported through opts.diag with its
 * line number; a block is never merged into the next one.
 */
#ifndef MSSIPAE_LYNCLOG_H
#define MSSIPAE_LYNCLOG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest message kept (bytes); longer blocks are cut and flagged LYNCLOG_F_TRUNCATED. */
#define LYNCLOG_MAX_MSG (16u * 1024u * 1024u)
/* Longest host text kept from an address field. */
#define LYNCLOG_MAX_HOST 255

typedef enum {
    LYNCLOG_FMT_NONE = 0,
    LYNCLOG_FMT_UCCAPI = 1,   /* client UccApi log block: "Sending Packet" / "Data Received" */
    LYNCLOG_FMT_SIPSTACK = 2, /* server TL_INFO(TF_PROTOCOL) ... $$begin_record ... $$end_record */
} lynclog_format;

typedef enum {
    LYNCLOG_DIR_UNKNOWN = 0,
    LYNCLOG_DIR_SENT = 1,     /* local -> remote */
    LYNCLOG_DIR_RECEIVED = 2, /* remote -> local */
} lynclog_dir;

/* Flags of a message (any combination). */
enum {
    LYNCLOG_F_TRUNCATED = 1u << 0,   /* block not closed by its end line, or longer than the limit */
    LYNCLOG_F_GARBLED = 1u << 1,     /* no start line, or a line that cannot be part of a message */
    LYNCLOG_F_INTERLEAVED = 1u << 2, /* other log lines inside the block were skipped */
    LYNCLOG_F_LEN_MISMATCH = 1u << 3,/* rebuilt size differs from the logged byte count / Content-Length */
    LYNCLOG_F_NO_BODY_SEP = 1u << 4, /* no blank line after the headers; one was added */
    LYNCLOG_F_LINE_CUT = 1u << 5,    /* a line of the block was cut by the caller's line limit */
};

/* An endpoint as logged: host text (IPv4, IPv6 without brackets, or a name) and port. */
typedef struct {
    char host[LYNCLOG_MAX_HOST + 1]; /* "" when absent */
    uint32_t port;                   /* 0 when absent */
} lynclog_endpoint;

/* One SIP message. Valid until the next lynclog_feed_line / lynclog_finish / lynclog_free. */
typedef struct {
    lynclog_format format;
    lynclog_dir dir;
    int64_t time_sec;          /* log time as seconds since 1970-01-01, taken as UTC, minus opts.tz_offset */
    uint32_t time_msec;        /* milliseconds 0..999 */
    lynclog_endpoint local;    /* UccApi "(From/To Local Address: ...)"; empty for SIPStack */
    lynclog_endpoint remote;   /* UccApi text before "(", SIPStack "Peer:" */
    uint64_t line_first;       /* line number (1-based) of the block's opening line */
    uint64_t line_last;        /* line number of its closing line (or last line seen) */
    int64_t logged_len;        /* UccApi "<N> bytes", -1 when absent */
    const uint8_t *data;       /* rebuilt message bytes (CRLF line ends) */
    size_t len;
    uint32_t flags;            /* LYNCLOG_F_* */
    const char *note;          /* "" or a one-line description of every problem (NUL-terminated) */
} lynclog_msg;

/* Receives a problem report: the line it concerns and a NUL-terminated text. */
typedef void (*lynclog_diag_fn)(void *user, uint64_t line, const char *text);

typedef struct {
    int64_t tz_offset;         /* seconds to subtract from the log time (log time = UTC + tz_offset) */
    lynclog_diag_fn diag;      /* may be NULL */
    void *diag_user;
} lynclog_opts;

typedef struct lynclog_reader lynclog_reader;

/* A new reader (opts may be NULL); NULL when out of memory. */
lynclog_reader *lynclog_new(const lynclog_opts *opts);
void lynclog_free(lynclog_reader *r);

/* Feeds the next line of the file, without its "\n" (a trailing "\r" is removed here). cut != 0
 * tells that the caller shortened an over-long line. Line numbers count calls, from 1. Any bytes
 * are accepted (NUL, invalid UTF-8, a leading BOM on line 1). Returns 0, or -1 when out of memory
 * (the reader stays usable). */
int lynclog_feed_line(lynclog_reader *r, const char *line, size_t len, int cut);
/* End of input: a block still open is returned as truncated. */
void lynclog_finish(lynclog_reader *r);
/* The next completed message, or NULL. */
const lynclog_msg *lynclog_next(lynclog_reader *r);

/* The first format seen so far (LYNCLOG_FMT_NONE if no UccApi or SIPStack line yet). */
lynclog_format lynclog_detected(const lynclog_reader *r);
/* Counters: lines fed, messages returned, problems reported. */
uint64_t lynclog_lines(const lynclog_reader *r);
uint64_t lynclog_messages(const lynclog_reader *r);
uint64_t lynclog_problems(const lynclog_reader *r);

/* Parses "host:port", "[v6]:port", "v6" (several colons, no port) or "host" into e; returns 0, or
 * -1 when the text is empty, too long, or the port is not 0..65535. Exposed for tests. */
int lynclog_parse_endpoint(const char *s, size_t len, lynclog_endpoint *e);
/* Days-from-civil: seconds since 1970-01-01 of a UTC date and time; -1 if out of range. */
int64_t lynclog_utc_seconds(int year, int mon, int day, int hh, int mm, int ss);

#ifdef __cplusplus
}
#endif

#endif
