/* log2pcap.c - mssipae-log2pcap: Lync / SfB client UccApi logs and server SIPStack text traces to
 * one pcapng file of exported-PDU frames (LINKTYPE_WIRESHARK_UPPER_PDU, 252) that Wireshark hands
 * to its SIP dissector, so the mssipae post-dissector verifies the signatures.
 *
 *   mssipae-log2pcap [options] LOG [LOG...] OUT.pcapng
 *
 * Each logged SIP message becomes one frame: the log's time stamp, source and destination address
 * and port from the log (direction decides which is which), the message bytes as rebuilt by
 * logs/lynclog.c, and a frame comment naming file:lines and any problem. Several logs are merged
 * by time stamp (streaming k-way merge; equal times keep the command-line order). Memory stays
 * bounded: one line buffer and one message per input.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "logs/lynclog.h"

/* Exported-PDU tag numbers (wsutil/exported_pdu_tlvs.h of Wireshark 4.0); checked against the
 * installed header when it is available. */
#define TAG_END_OF_OPT 0
#define TAG_DISSECTOR_NAME 12
#define TAG_IPV4_SRC 20
#define TAG_IPV4_DST 21
#define TAG_IPV6_SRC 22
#define TAG_IPV6_DST 23
#define TAG_PORT_TYPE 24
#define TAG_SRC_PORT 25
#define TAG_DST_PORT 26
#define TAG_P2P_DIRECTION 35
#define PT_TCP 2
#define LINKTYPE_WIRESHARK_UPPER_PDU 252
#if defined(__has_include)
#if __has_include(<wsutil/exported_pdu_tlvs.h>)
#include <wsutil/exported_pdu_tlvs.h>
_Static_assert(TAG_END_OF_OPT == EXP_PDU_TAG_END_OF_OPT, "tag");
_Static_assert(TAG_DISSECTOR_NAME == EXP_PDU_TAG_DISSECTOR_NAME, "tag");
_Static_assert(TAG_IPV4_SRC == EXP_PDU_TAG_IPV4_SRC && TAG_IPV4_DST == EXP_PDU_TAG_IPV4_DST, "tag");
_Static_assert(TAG_IPV6_SRC == EXP_PDU_TAG_IPV6_SRC && TAG_IPV6_DST == EXP_PDU_TAG_IPV6_DST, "tag");
_Static_assert(TAG_PORT_TYPE == EXP_PDU_TAG_PORT_TYPE && PT_TCP == EXP_PDU_PT_TCP, "tag");
_Static_assert(TAG_SRC_PORT == EXP_PDU_TAG_SRC_PORT && TAG_DST_PORT == EXP_PDU_TAG_DST_PORT, "tag");
_Static_assert(TAG_P2P_DIRECTION == EXP_PDU_TAG_P2P_DIRECTION, "tag");
#endif
#endif

#define MAX_LINE (1u << 20) /* longer lines are cut (and the cut is reported) */
#define READ_CHUNK (1u << 16)
#define MAX_COMMENT 1000

static int quiet;

/* ---------------------------------------------------------------- one input */

typedef struct {
    const char *path;
    FILE *f;
    lynclog_reader *r;
    char *rbuf; /* read buffer */
    size_t rpos, rlen;
    char *line; /* current line, at most MAX_LINE bytes */
    size_t line_len;
    int eof, finished;
    const lynclog_msg *msg; /* current message, or NULL */
    uint64_t order;         /* index on the command line */
} source;

static void diag(void *user, uint64_t line, const char *text)
{
    source *s = user;
    if (!quiet)
        fprintf(stderr, "%s:%llu: %s\n", s->path, (unsigned long long)line, text);
}

/* Reads the next line into s->line; 1 = a line (cut set when shortened), 0 = end of file. */
static int read_line(source *s, int *cut)
{
    s->line_len = 0;
    *cut = 0;
    int any = 0;
    for (;;) {
        if (s->rpos == s->rlen) {
            if (s->eof)
                return any;
            s->rlen = fread(s->rbuf, 1, READ_CHUNK, s->f);
            s->rpos = 0;
            if (s->rlen == 0) {
                if (ferror(s->f)) {
                    fprintf(stderr, "%s: read error: %s\n", s->path, strerror(errno));
                }
                s->eof = 1;
                return any;
            }
        }
        any = 1;
        char *start = s->rbuf + s->rpos;
        size_t avail = s->rlen - s->rpos;
        char *nl = memchr(start, '\n', avail);
        size_t n = nl ? (size_t)(nl - start) : avail;
        size_t room = MAX_LINE - s->line_len;
        if (n > room) {
            *cut = 1;
            memcpy(s->line + s->line_len, start, room);
            s->line_len += room;
        } else {
            memcpy(s->line + s->line_len, start, n);
            s->line_len += n;
        }
        s->rpos += n + (nl ? 1 : 0);
        if (nl)
            return 1;
    }
}

/* Makes s->msg the next message of the input, or NULL at its end. */
static void advance(source *s)
{
    s->msg = NULL;
    while (!s->finished) {
        int cut;
        if (read_line(s, &cut)) {
            lynclog_feed_line(s->r, s->line, s->line_len, cut);
        } else {
            lynclog_finish(s->r);
            s->finished = 1;
        }
        const lynclog_msg *m = lynclog_next(s->r);
        if (m) {
            s->msg = m;
            return;
        }
    }
}

/* ---------------------------------------------------------------- pcapng output */

typedef struct {
    FILE *f;
    const char *path;
    int err;
} out_file;

static void w(out_file *o, const void *d, size_t n)
{
    if (n && fwrite(d, 1, n, o->f) != n)
        o->err = 1;
}

static void w32(out_file *o, uint32_t v) { w(o, &v, 4); }
static void w16(out_file *o, uint16_t v) { w(o, &v, 2); }

static void w_option(out_file *o, uint16_t code, const void *d, uint16_t len)
{
    static const uint8_t zero[4];
    w16(o, code);
    w16(o, len);
    w(o, d, len);
    w(o, zero, (4 - len % 4) % 4);
}

static size_t opt_size(size_t len) { return 4 + len + (4 - len % 4) % 4; }

static void write_shb_idb(out_file *o)
{
    const char *app = "mssipae-log2pcap";
    /* SHB */
    uint32_t len = 28 + (uint32_t)opt_size(strlen(app)) + 4;
    w32(o, 0x0A0D0D0A);
    w32(o, len);
    w32(o, 0x1A2B3C4D);
    w16(o, 1);
    w16(o, 0);
    w32(o, 0xFFFFFFFF);
    w32(o, 0xFFFFFFFF);
    w_option(o, 4, app, (uint16_t)strlen(app)); /* shb_userappl */
    w_option(o, 0, NULL, 0);
    w32(o, len);
    /* IDB: link type 252, no snap length, microseconds (default if_tsresol) */
    const char *name = "Lync/SfB log (SIP messages)";
    len = 20 + (uint32_t)opt_size(strlen(name)) + 4;
    w32(o, 1);
    w32(o, len);
    w16(o, LINKTYPE_WIRESHARK_UPPER_PDU);
    w16(o, 0);
    w32(o, 0);
    w_option(o, 2, name, (uint16_t)strlen(name)); /* if_name */
    w_option(o, 0, NULL, 0);
    w32(o, len);
}

/* Name resolution block with one record (IPv4: type 1, IPv6: type 2). */
static void write_nrb(out_file *o, int v6, const uint8_t *addr, const char *name)
{
    size_t alen = v6 ? 16 : 4;
    size_t vlen = alen + strlen(name) + 1;
    size_t rec = 4 + vlen + (4 - vlen % 4) % 4;
    uint32_t len = (uint32_t)(12 + rec + 4);
    static const uint8_t zero[4];
    w32(o, 4);
    w32(o, len);
    w16(o, v6 ? 2 : 1);
    w16(o, (uint16_t)vlen);
    w(o, addr, alen);
    w(o, name, strlen(name) + 1);
    w(o, zero, (4 - vlen % 4) % 4);
    w16(o, 0); /* nrb_record_end */
    w16(o, 0);
    w32(o, len);
}

/* ---------------------------------------------------------------- addresses */

typedef struct {
    int v6;
    uint8_t a[16];
} addr_t;

typedef struct {
    char *name;
    addr_t addr;
} name_entry;

static name_entry *names;
static size_t n_names, cap_names;

static int addr_used(const addr_t *a)
{
    for (size_t i = 0; i < n_names; i++)
        if (!names[i].addr.v6 && memcmp(names[i].addr.a, a->a, 4) == 0)
            return 1;
    return 0;
}

/* The address of a host text: the IP itself, or a stable synthetic IPv4 in 198.18.0.0/15
 * (RFC 2544 benchmarking range) for a name, announced once in a name-resolution block. */
static void host_addr(out_file *o, const char *host, addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, host, out->a) == 1)
        return;
    if (inet_pton(AF_INET6, host, out->a) == 1) {
        out->v6 = 1;
        return;
    }
    for (size_t i = 0; i < n_names; i++)
        if (strcmp(names[i].name, host) == 0) {
            *out = names[i].addr;
            return;
        }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = host; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (uint32_t k = 0;; k++) {
        uint32_t v = (h + k) & 0x1FFFF;
        if ((v & 0xFF) == 0 || (v & 0xFF) == 0xFF)
            continue;
        out->a[0] = 198;
        out->a[1] = (uint8_t)(18 + (v >> 16));
        out->a[2] = (uint8_t)(v >> 8);
        out->a[3] = (uint8_t)v;
        if (!addr_used(out))
            break;
    }
    if (n_names == cap_names) {
        cap_names = cap_names ? cap_names * 2 : 16;
        names = realloc(names, cap_names * sizeof *names);
        if (!names) {
            fprintf(stderr, "mssipae-log2pcap: out of memory\n");
            exit(1);
        }
    }
    names[n_names].name = strdup(host);
    names[n_names].addr = *out;
    n_names++;
    write_nrb(o, 0, out->a, host);
}

/* ---------------------------------------------------------------- frames */

static const char *fmt_name(lynclog_format f)
{
    return f == LYNCLOG_FMT_UCCAPI ? "UccApi" : f == LYNCLOG_FMT_SIPSTACK ? "SIPStack" : "?";
}

typedef struct {
    const char *host;
    uint32_t port;
} ep_cfg;

static ep_cfg sipstack_local = { "sipstack-local", 5061 };
static ep_cfg uccapi_local = { "uccapi-local", 0 };
static ep_cfg unknown_remote = { "unknown-peer", 0 };

static void write_frame(out_file *o, const source *s, const lynclog_msg *m)
{
    const char *lh = m->local.host, *rh = m->remote.host;
    uint32_t lp = m->local.port, rp = m->remote.port;
    if (!lh[0]) {
        const ep_cfg *c = m->format == LYNCLOG_FMT_SIPSTACK ? &sipstack_local : &uccapi_local;
        lh = c->host;
        lp = c->port;
    }
    if (!rh[0]) {
        rh = unknown_remote.host;
        rp = unknown_remote.port;
    }
    addr_t la, ra;
    host_addr(o, lh, &la);
    host_addr(o, rh, &ra);
    int sent = m->dir != LYNCLOG_DIR_RECEIVED;
    const addr_t *src = sent ? &la : &ra, *dst = sent ? &ra : &la;
    uint32_t sport = sent ? lp : rp, dport = sent ? rp : lp;

    /* exported-PDU header */
    uint8_t hdr[128];
    size_t h = 0;
#define TLV(tag, len)                                                                              \
    do {                                                                                           \
        hdr[h++] = (uint8_t)((tag) >> 8);                                                          \
        hdr[h++] = (uint8_t)(tag);                                                                 \
        hdr[h++] = (uint8_t)((len) >> 8);                                                          \
        hdr[h++] = (uint8_t)(len);                                                                 \
    } while (0)
#define U32(v)                                                                                     \
    do {                                                                                           \
        uint32_t v_ = (v);                                                                         \
        hdr[h++] = (uint8_t)(v_ >> 24);                                                            \
        hdr[h++] = (uint8_t)(v_ >> 16);                                                            \
        hdr[h++] = (uint8_t)(v_ >> 8);                                                             \
        hdr[h++] = (uint8_t)v_;                                                                    \
    } while (0)
    TLV(TAG_DISSECTOR_NAME, 4);
    memcpy(hdr + h, "sip\0", 4); /* NUL padding is allowed and counted in the length */
    h += 4;
    TLV(src->v6 ? TAG_IPV6_SRC : TAG_IPV4_SRC, src->v6 ? 16 : 4);
    memcpy(hdr + h, src->a, src->v6 ? 16 : 4);
    h += src->v6 ? 16 : 4;
    TLV(dst->v6 ? TAG_IPV6_DST : TAG_IPV4_DST, dst->v6 ? 16 : 4);
    memcpy(hdr + h, dst->a, dst->v6 ? 16 : 4);
    h += dst->v6 ? 16 : 4;
    TLV(TAG_PORT_TYPE, 4);
    U32(PT_TCP);
    TLV(TAG_SRC_PORT, 4);
    U32(sport);
    TLV(TAG_DST_PORT, 4);
    U32(dport);
    if (m->dir != LYNCLOG_DIR_UNKNOWN) {
        TLV(TAG_P2P_DIRECTION, 4);
        U32(m->dir == LYNCLOG_DIR_SENT ? 0 : 1); /* P2P_DIR_SENT / P2P_DIR_RECV */
    }
    TLV(TAG_END_OF_OPT, 0);
#undef TLV
#undef U32

    char comment[MAX_COMMENT + 1];
    int cl = snprintf(comment, sizeof comment, "%s:%llu-%llu %s %s%s%s", s->path,
                      (unsigned long long)m->line_first, (unsigned long long)m->line_last,
                      fmt_name(m->format), m->dir == LYNCLOG_DIR_SENT ? "sent" :
                      m->dir == LYNCLOG_DIR_RECEIVED ? "received" : "direction unknown",
                      m->note[0] ? " | " : "", m->note);
    if (cl < 0)
        cl = 0;
    if (cl > MAX_COMMENT)
        cl = MAX_COMMENT;

    size_t caplen = h + m->len;
    size_t pad = (4 - caplen % 4) % 4;
    uint32_t flags = m->dir == LYNCLOG_DIR_SENT ? 2 : m->dir == LYNCLOG_DIR_RECEIVED ? 1 : 0;
    size_t opts = opt_size((size_t)cl) + opt_size(4) + 4;
    uint32_t blen = (uint32_t)(28 + caplen + pad + opts + 4);
    int64_t sec = m->time_sec < 0 ? 0 : m->time_sec;
    uint64_t ts = (uint64_t)sec * 1000000u + (uint64_t)m->time_msec * 1000u;
    static const uint8_t zero[4];
    w32(o, 6);
    w32(o, blen);
    w32(o, 0);
    w32(o, (uint32_t)(ts >> 32));
    w32(o, (uint32_t)ts);
    w32(o, (uint32_t)caplen);
    w32(o, (uint32_t)caplen);
    w(o, hdr, h);
    w(o, m->data, m->len);
    w(o, zero, pad);
    w_option(o, 1, comment, (uint16_t)cl); /* opt_comment */
    w_option(o, 2, &flags, 4); /* epb_flags: 1 inbound, 2 outbound, 0 unknown */
    w_option(o, 0, NULL, 0);
    w32(o, blen);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mssipae-log2pcap [options] LOG [LOG...] OUT.pcapng\n"
            "\n"
            "Converts Lync / Skype for Business client UccApi logs (Lync-UccApi-0.UccApilog) and\n"
            "server SIPStack text traces (OCSLogger, CLS search output) into one pcapng file whose\n"
            "frames Wireshark dissects as SIP (exported-PDU link type), merged by time.\n"
            "Formats are detected by content.\n"
            "\n"
            "options:\n"
            "  --tz-offset=[+|-]HH:MM   the logs' time zone (log time = UTC + offset); default +00:00\n"
            "  --local=HOST[:PORT]      local endpoint of SIPStack traces (they do not log it);\n"
            "                           default sipstack-local:5061 (a synthetic 198.18.x.y address)\n"
            "  -q, --quiet              no per-line problem reports (the summary is still printed)\n"
            "  -h, --help               this text\n"
            "\n"
            "Problems (cut, garbled or interleaved message blocks) are reported on stderr as\n"
            "FILE:LINE: text and written into the frame's comment. Exit status: 0 when every\n"
            "input held UccApi or SIPStack lines and the output was written, 1 otherwise.\n");
}

static int parse_tz(const char *s, int64_t *off)
{
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    int hh, mm;
    char extra;
    if (sscanf(s, "%2d:%2d%c", &hh, &mm, &extra) != 2 || hh > 14 || mm > 59 || hh < 0 || mm < 0)
        return -1;
    *off = sign * (int64_t)(hh * 3600 + mm * 60);
    return 0;
}

static int parse_local(const char *s, ep_cfg *c)
{
    static lynclog_endpoint e;
    if (lynclog_parse_endpoint(s, strlen(s), &e) != 0)
        return -1;
    c->host = e.host;
    c->port = e.port;
    return 0;
}

int main(int argc, char **argv)
{
    lynclog_opts opts = { 0 };
    int nfiles = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    if (!files)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strncmp(a, "--tz-offset=", 12) == 0) {
            if (parse_tz(a + 12, &opts.tz_offset) != 0) {
                fprintf(stderr, "mssipae-log2pcap: bad --tz-offset (want [+|-]HH:MM): %s\n", a + 12);
                return 1;
            }
        } else if (strncmp(a, "--local=", 8) == 0) {
            if (parse_local(a + 8, &sipstack_local) != 0) {
                fprintf(stderr, "mssipae-log2pcap: bad --local (want HOST[:PORT]): %s\n", a + 8);
                return 1;
            }
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                files[nfiles++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "mssipae-log2pcap: unknown option %s\n", a);
            usage(stderr);
            return 1;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles < 2) {
        usage(stderr);
        return 1;
    }
    const char *out_path = files[nfiles - 1];
    int nin = nfiles - 1;

    struct stat ost;
    int out_exists = stat(out_path, &ost) == 0;
    source *src = calloc((size_t)nin, sizeof *src);
    if (!src)
        return 1;
    for (int i = 0; i < nin; i++) {
        source *s = &src[i];
        s->path = files[i];
        s->order = (uint64_t)i;
        s->f = fopen(s->path, "rb");
        if (!s->f) {
            fprintf(stderr, "mssipae-log2pcap: %s: %s\n", s->path, strerror(errno));
            return 1;
        }
        struct stat ist;
        if (out_exists && fstat(fileno(s->f), &ist) == 0 && ist.st_dev == ost.st_dev &&
            ist.st_ino == ost.st_ino) {
            fprintf(stderr, "mssipae-log2pcap: output %s is also an input\n", out_path);
            return 1;
        }
        lynclog_opts o = opts;
        o.diag = diag;
        o.diag_user = s;
        s->r = lynclog_new(&o);
        s->rbuf = malloc(READ_CHUNK);
        s->line = malloc(MAX_LINE);
        if (!s->r || !s->rbuf || !s->line) {
            fprintf(stderr, "mssipae-log2pcap: out of memory\n");
            return 1;
        }
    }
    out_file o = { fopen(out_path, "wb"), out_path, 0 };
    if (!o.f) {
        fprintf(stderr, "mssipae-log2pcap: %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    write_shb_idb(&o);
    for (int i = 0; i < nin; i++)
        advance(&src[i]);
    /* k-way merge by (time, command-line order): inputs are few, a linear scan per frame */
    uint64_t frames = 0;
    for (;;) {
        source *best = NULL;
        for (int i = 0; i < nin; i++) {
            source *s = &src[i];
            if (!s->msg)
                continue;
            if (!best || s->msg->time_sec < best->msg->time_sec ||
                (s->msg->time_sec == best->msg->time_sec &&
                 s->msg->time_msec < best->msg->time_msec))
                best = s;
        }
        if (!best)
            break;
        write_frame(&o, best, best->msg);
        frames++;
        advance(best);
    }
    if (fclose(o.f) != 0)
        o.err = 1;
    int rc = 0;
    if (o.err) {
        fprintf(stderr, "mssipae-log2pcap: %s: write error\n", out_path);
        rc = 1;
    }
    for (int i = 0; i < nin; i++) {
        source *s = &src[i];
        lynclog_format f = lynclog_detected(s->r);
        fprintf(stderr, "%s: %s, %llu lines, %llu SIP messages, %llu problems\n", s->path,
                f == LYNCLOG_FMT_UCCAPI ? "UccApi client log" :
                f == LYNCLOG_FMT_SIPSTACK ? "SIPStack server trace" :
                "no UccApi or SIPStack lines found",
                (unsigned long long)lynclog_lines(s->r),
                (unsigned long long)lynclog_messages(s->r),
                (unsigned long long)lynclog_problems(s->r));
        if (f == LYNCLOG_FMT_NONE)
            rc = 1;
        fclose(s->f);
        lynclog_free(s->r);
        free(s->rbuf);
        free(s->line);
    }
    fprintf(stderr, "%s: %llu frames\n", out_path, (unsigned long long)frames);
    for (size_t i = 0; i < n_names; i++)
        free(names[i].name);
    free(names);
    free(src);
    free(files);
    return rc;
}
