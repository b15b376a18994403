/* test_lynclog.c - the Lync / SfB log reader (logs/lynclog.c): UccApi blocks and SIPStack protocol
 * records rebuilt byte for byte, line-end and byte-count variants, endpoints and times, and every
 * kind of damage (cut, interleaved, garbled, empty, over-long, hostile bytes) reported with its
 * line number and never merged into the next message.
 *
 * Expected epoch times were computed with `date -u -d <time> +%s`, not with the code under test.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "logs/lynclog.h"

typedef struct {
    lynclog_msg m;       /* copy; data and note point into the copies below */
    char *data;
    char *note;
} got_msg;

typedef struct {
    GPtrArray *msgs;     /* got_msg* */
    GPtrArray *diags;    /* "LINE: text" */
} run_result;

static void on_diag(void *user, uint64_t line, const char *text)
{
    run_result *r = user;
    g_ptr_array_add(r->diags, g_strdup_printf("%llu: %s", (unsigned long long)line, text));
}

static void take(run_result *res, lynclog_reader *r)
{
    const lynclog_msg *m;
    while ((m = lynclog_next(r)) != NULL) {
        got_msg *g = g_new0(got_msg, 1);
        g->m = *m;
        g->data = g_memdup2(m->data, m->len + 1);
        g->data[m->len] = 0;
        g->note = g_strdup(m->note);
        g->m.data = (const uint8_t *)g->data;
        g->m.note = g->note;
        assert_true(m->len <= LYNCLOG_MAX_MSG);
        assert_true(m->line_first <= m->line_last);
        g_ptr_array_add(res->msgs, g);
    }
}

static void free_got(gpointer p)
{
    got_msg *g = p;
    g_free(g->data);
    g_free(g->note);
    g_free(g);
}

/* Feeds text split at "\n" (a last line without "\n" is fed too), with options. */
static run_result run_opts(const char *text, size_t len, int64_t tz)
{
    run_result res = { g_ptr_array_new_with_free_func(free_got),
                       g_ptr_array_new_with_free_func(g_free) };
    lynclog_opts o = { .tz_offset = tz, .diag = on_diag, .diag_user = &res };
    lynclog_reader *r = lynclog_new(&o);
    assert_non_null(r);
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        assert_int_equal(lynclog_feed_line(r, text + i, n, 0), 0);
        take(&res, r);
        i += n + (nl ? 1 : 0);
    }
    lynclog_finish(r);
    take(&res, r);
    assert_int_equal(lynclog_messages(r), res.msgs->len);
    assert_int_equal(lynclog_problems(r), res.diags->len);
    lynclog_free(r);
    return res;
}

static run_result run(const char *text) { return run_opts(text, strlen(text), 0); }

static void done(run_result *r)
{
    g_ptr_array_free(r->msgs, TRUE);
    g_ptr_array_free(r->diags, TRUE);
}

static got_msg *msg(run_result *r, guint i)
{
    assert_true(i < r->msgs->len);
    return g_ptr_array_index(r->msgs, i);
}

/* Asserts that some report is "<line>: <text...>" (prefix match on the text). */
static void assert_diag(run_result *r, unsigned line, const char *text)
{
    char *want = g_strdup_printf("%u: %s", line, text);
    for (guint i = 0; i < r->diags->len; i++)
        if (g_str_has_prefix(g_ptr_array_index(r->diags, i), want)) {
            g_free(want);
            return;
        }
    for (guint i = 0; i < r->diags->len; i++)
        print_error("  report: %s\n", (char *)g_ptr_array_index(r->diags, i));
    print_error("missing report: %s\n", want);
    g_free(want);
    fail();
}

#define P "04/16/2013|03:17:30.168 1F68:C14 INFO  :: "
#define SEND_OPEN P "Sending Packet - 192.168.100.100:5061 (From Local Address: 192.168.103.35:20323) %d bytes:\r\n"
#define SEND_END P "End of Sending Packet - 192.168.100.100:5061 (From Local Address: 192.168.103.35:20323) %d bytes\r\n"

static const char REG[] = "REGISTER sip:contoso.com SIP/2.0\r\n"
                          "Via: SIP/2.0/TLS 192.168.103.35:20323\r\n"
                          "Call-ID: 1a2b\r\n"
                          "CSeq: 1 REGISTER\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n";
static const char MSG_BODY[] = "MESSAGE sip:bob@contoso.com SIP/2.0\r\n"
                               "Call-ID: 3c4d\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 15\r\n"
                               "\r\n"
                               "Sure, go ahead.";
static const char SDP[] = "SIP/2.0 200 OK\r\n"
                          "CSeq: 1 INVITE\r\n"
                          "Content-Length: 18\r\n"
                          "\r\n"
                          "v=0\r\n"
                          "\r\n"
                          "s=session\r\n";

/* A UccApi log of one message as the writer renders it: message lines (CRLF -> line breaks),
 * then a line end (always: extra=1; only when needed: extra=0). */
static char *ucc_block(const char *m, int extra, int with_count)
{
    size_t n = strlen(m);
    GString *s = g_string_new(NULL);
    if (with_count)
        g_string_append_printf(s, SEND_OPEN, (int)n);
    else
        g_string_append(s, P "Sending Packet\r\n");
    g_string_append(s, P);
    g_string_append_len(s, m, (gssize)n);
    if (extra || !(n >= 2 && m[n - 2] == '\r' && m[n - 1] == '\n'))
        g_string_append(s, "\r\n");
    if (with_count)
        g_string_append_printf(s, SEND_END, (int)n);
    else
        g_string_append(s, P "End of\r\n");
    return g_string_free(s, FALSE);
}

static void check_roundtrip(const char *m, int extra, int with_count)
{
    char *log = ucc_block(m, extra, with_count);
    run_result r = run(log);
    assert_int_equal(r.msgs->len, 1);
    got_msg *g = msg(&r, 0);
    assert_int_equal(g->m.len, strlen(m));
    assert_memory_equal(g->m.data, m, strlen(m));
    assert_int_equal(g->m.flags, 0);
    assert_string_equal(g->m.note, "");
    assert_int_equal(r.diags->len, 0);
    done(&r);
    g_free(log);
}

static void test_uccapi_roundtrip(void **state)
{
    const char *msgs[] = { REG, MSG_BODY, SDP };
    for (int i = 0; i < 3; i++)
        for (int extra = 0; extra < 2; extra++)
            for (int count = 0; count < 2; count++)
                check_roundtrip(msgs[i], extra, count);
}

static void test_uccapi_fields(void **state)
{
    char *log = ucc_block(REG, 1, 1);
    run_result r = run(log);
    got_msg *g = msg(&r, 0);
    assert_int_equal(g->m.format, LYNCLOG_FMT_UCCAPI);
    assert_int_equal(g->m.dir, LYNCLOG_DIR_SENT);
    assert_string_equal(g->m.remote.host, "192.168.100.100");
    assert_int_equal(g->m.remote.port, 5061);
    assert_string_equal(g->m.local.host, "192.168.103.35");
    assert_int_equal(g->m.local.port, 20323);
    assert_int_equal(g->m.time_sec, 1366082250); /* date -u -d 2013-04-16T03:17:30 +%s */
    assert_int_equal(g->m.time_msec, 168);
    assert_int_equal(g->m.logged_len, (int64_t)strlen(REG));
    assert_int_equal(g->m.line_first, 1);
    assert_int_equal(g->m.line_last, 9);
    done(&r);
    /* a time-zone offset of +02:00 */
    r = run_opts(log, strlen(log), 7200);
    assert_int_equal(msg(&r, 0)->m.time_sec, 1366082250 - 7200);
    done(&r);
    g_free(log);

    /* received, E1 spelling ("INFO ::" with one space, "-192..." without a space) */
    r = run("04/16/2013|03:17:31.555 1F68:C14 INFO :: Data Received -192.168.100.100:5061 (To Local "
            "Address: 192.168.103.35:20323) 20 bytes:\n"
            "04/16/2013|03:17:31.555 1F68:C14 INFO :: SIP/2.0 200 OK\n"
            "\n"
            "04/16/2013|03:17:31.555 1F68:C14 INFO :: End of Data Received -192.168.100.100:5061 (To "
            "Local Address: 192.168.103.35:20323) 20 bytes\n");
    g = msg(&r, 0);
    assert_int_equal(g->m.dir, LYNCLOG_DIR_RECEIVED);
    assert_string_equal(g->m.remote.host, "192.168.100.100");
    assert_string_equal(g->m.local.host, "192.168.103.35");
    assert_string_equal(g->data, "SIP/2.0 200 OK\r\n\r\n");
    assert_int_equal(g->m.len, 18);
    assert_true(g->m.flags & LYNCLOG_F_LEN_MISMATCH); /* the count says 20 */
    assert_diag(&r, 4, "logged size 20 bytes, rebuilt 18");
    done(&r);
}

static void test_uccapi_reduced_block(void **state)
{
    /* E2 (Snooper-reduced): no addresses, no counts, no blank line */
    run_result r = run("10/16/2013|08:40:18.943 2D8:1C98 INFO  :: Sending Packet\n"
                       "10/16/2013|08:40:18.943 2D8:1C98 INFO  :: SERVICE sip:frank.carius@netatwork.de SIP/2.0\n"
                       "From: <sip:sender>\n"
                       "To: <sip:ziel>\n"
                       "Call-ID: 133283aed71a47eeb4f366e6cc32d17c\n"
                       "10/16/2013|08:40:18.943 2D8:1C98 INFO  :: End of\n");
    assert_int_equal(r.msgs->len, 1);
    got_msg *g = msg(&r, 0);
    assert_string_equal(g->data, "SERVICE sip:frank.carius@netatwork.de SIP/2.0\r\nFrom: <sip:sender>\r\n"
                                 "To: <sip:ziel>\r\nCall-ID: 133283aed71a47eeb4f366e6cc32d17c\r\n\r\n");
    assert_int_equal(g->m.flags, LYNCLOG_F_NO_BODY_SEP);
    assert_string_equal(g->m.remote.host, "");
    assert_string_equal(g->m.local.host, "");
    assert_int_equal(g->m.logged_len, -1);
    assert_int_equal(r.diags->len, 0);
    done(&r);
}

static void test_uccapi_other_lines_skipped(void **state)
{
    GString *s = g_string_new("\xEF\xBB\xBF" P "CUccPlatform::Initialize\r\n"
                              "free text line\r\n\r\n");
    char *b = ucc_block(REG, 1, 1);
    g_string_append(s, b);
    g_string_append(s, P "CSIPTransport::OnSendComplete\r\n" "    at callstack\r\n");
    g_string_append(s, b);
    run_result r = run(s->str);
    assert_int_equal(r.msgs->len, 2);
    assert_int_equal(r.diags->len, 0);
    assert_memory_equal(msg(&r, 1)->m.data, REG, strlen(REG));
    assert_int_equal(msg(&r, 1)->m.line_first, 15);
    done(&r);
    g_free(b);
    g_string_free(s, TRUE);
}

static void test_uccapi_truncated_not_merged(void **state)
{
    /* block 1 has no End line; block 2 follows; block 3 is cut by the end of the file */
    char *b = ucc_block(REG, 1, 1);
    char *cut = g_strndup(b, (gsize)(strstr(b, P "End of") - b));
    GString *s = g_string_new(cut);
    g_string_append(s, b);
    g_string_append(s, cut);
    run_result r = run(s->str);
    assert_int_equal(r.msgs->len, 3);
    for (int i = 0; i < 3; i++)
        assert_memory_equal(msg(&r, (guint)i)->m.data, REG, strlen(REG));
    assert_int_equal(msg(&r, 1)->m.len, strlen(REG));
    assert_true(msg(&r, 0)->m.flags & LYNCLOG_F_TRUNCATED);
    assert_int_equal(msg(&r, 1)->m.flags, 0);
    assert_true(msg(&r, 2)->m.flags & LYNCLOG_F_TRUNCATED);
    assert_diag(&r, 9, "truncated: a new message block starts before its End line (message block of line 1)");
    assert_diag(&r, 25, "truncated: end of file inside the message block (message block of line 18)");
    assert_non_null(strstr(msg(&r, 0)->note, "line 9: truncated"));
    done(&r);
    g_free(b);
    g_free(cut);
    g_string_free(s, TRUE);
}

static void test_uccapi_interleaved_and_garbled(void **state)
{
    run_result r = run(P "Sending Packet - 10.0.0.10:5061 (From Local Address: 10.0.0.21:50123) 83 bytes:\n"
                       "04/16/2013|03:17:30.169 2D8:1C98 INFO  :: another thread first\n" /* 2 */
                       P "REGISTER sip:contoso.com SIP/2.0\n"
                       "Via: SIP/2.0/TLS 10.0.0.21:50123\n"
                       "04/16/2013|03:17:30.169 2D8:1C98 INFO  :: another thread inside\n" /* 5 */
                       "\x01\x02 binary junk \xff\n" /* 6 */
                       "Content-Length: 0\n"
                       "\n"
                       P "End of Sending Packet - 10.0.0.99:5061 (From Local Address: 10.0.0.21:50123) 83 bytes\n"
                       /* an empty block (no start line): reported, no message */
                       P "Data Received - 10.0.0.10:5061 (To Local Address: 10.0.0.21:50123) 0 bytes:\n"
                       P "End of Data Received - 10.0.0.10:5061 (To Local Address: 10.0.0.21:50123) 0 bytes\n"
                       /* a block whose first line is no start line */
                       P "Data Received - 10.0.0.10:5061 (To Local Address: 10.0.0.21:50123) 10 bytes:\n"
                       P "garbage here\n"
                       P "End of Data Received - 10.0.0.10:5061 (To Local Address: 10.0.0.21:50123) 10 bytes\n"
                       /* an End line without a block */
                       P "End of Data Received\n");
    assert_int_equal(r.msgs->len, 2);
    got_msg *g = msg(&r, 0);
    assert_string_equal(g->data, "REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.21:50123\r\n"
                                 "\x01\x02 binary junk \xff\r\nContent-Length: 0\r\n\r\n");
    assert_true(g->m.flags & LYNCLOG_F_INTERLEAVED);
    assert_true(g->m.flags & LYNCLOG_F_GARBLED);
    assert_diag(&r, 2, "log line of thread 2D8:1C98 inside the message block, skipped");
    assert_diag(&r, 5, "log line of thread 2D8:1C98 inside the message block, skipped");
    assert_diag(&r, 6, "not a SIP header line");
    assert_diag(&r, 9, "end line names remote 10.0.0.99:5061, opening line 10.0.0.10:5061");
    assert_diag(&r, 10, "UccApi message block of line 10 has no SIP start line");
    assert_diag(&r, 13, "not a SIP start line");
    assert_diag(&r, 15, "\"End of\" line without an open message block");
    assert_true(msg(&r, 1)->m.flags & LYNCLOG_F_GARBLED);
    done(&r);
}

#define TL "TL_INFO(TF_PROTOCOL) [0]06E4.0EB4::01/18/2012-05:00:43.101.00005386 (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125))$$begin_record\n"
#define TL_CLS "TL_INFO(TF_PROTOCOL) [fe01\\fe01]06E4.0EB4::01/18/2012-05:00:43.101.0000ABCD (SIPStack,SIPAdminLog::TraceProtocolRecord:SIPAdminLog.cpp(125)) [2003888399] $$begin_record\n"

static void test_sipstack_record(void **state)
{
    run_result r = run("TL_ERROR(TF_COMPONENT) [0]0860.0CDC::01/18/2012-05:07:42.622.000d0b31 (SIPStack,x)\n"
                       "LogType: diagnostic\nText: ignored\n$$end_record\n"
                       TL
                       "Trace-Correlation-Id: 2003888399\n"
                       "Instance-Id: 0000C23F\n"
                       "Direction: incoming;source=\"internal edge\";destination=\"external edge\"\n"
                       "Peer: lyncservr.contoso.com:61182\n"
                       "Message-Type: request\n"
                       "Start-Line: OPTIONS sip:Options_User@fabrikam.com SIP/2.0\n"
                       "CSeq: 1 OPTIONS\n"
                       "CONTENT-LENGTH: 0\n"
                       "Message-Body: -\n"
                       "$$end_record\n"
                       TL_CLS
                       "Direction: outgoing;source=\"local\"\n"
                       "Peer: [2001:db8::5]:5061\n"
                       "Message-Type: request\n"
                       "Start-Line: MESSAGE sip:bob@contoso.com SIP/2.0\n"
                       "Content-Length: 18\n"
                       "Message-Body: v=0\n"
                       "\n"
                       "s=session\n"
                       "\n"
                       "$$end_record\n");
    assert_int_equal(r.msgs->len, 2);
    assert_int_equal(r.diags->len, 0);
    got_msg *g = msg(&r, 0);
    assert_int_equal(g->m.format, LYNCLOG_FMT_SIPSTACK);
    assert_int_equal(g->m.dir, LYNCLOG_DIR_RECEIVED);
    assert_string_equal(g->m.remote.host, "lyncservr.contoso.com");
    assert_int_equal(g->m.remote.port, 61182);
    assert_string_equal(g->m.local.host, "");
    assert_int_equal(g->m.time_sec, 1326862843); /* date -u -d 2012-01-18T05:00:43 +%s */
    assert_int_equal(g->m.time_msec, 101);
    assert_string_equal(g->data, "OPTIONS sip:Options_User@fabrikam.com SIP/2.0\r\nCSeq: 1 OPTIONS\r\n"
                                 "CONTENT-LENGTH: 0\r\n\r\n");
    assert_int_equal(g->m.line_first, 5);
    assert_int_equal(g->m.line_last, 15);
    g = msg(&r, 1);
    assert_int_equal(g->m.dir, LYNCLOG_DIR_SENT);
    assert_string_equal(g->m.remote.host, "2001:db8::5");
    assert_int_equal(g->m.remote.port, 5061);
    assert_string_equal(g->data, "MESSAGE sip:bob@contoso.com SIP/2.0\r\nContent-Length: 18\r\n\r\n"
                                 "v=0\r\n\r\ns=session\r\n");
    assert_int_equal(g->m.flags, 0);
    done(&r);
}

static void test_sipstack_damage(void **state)
{
    run_result r = run(TL
                       "Direction: outgoing;source=\"local\"\n"
                       "Peer: ocsedgeint.domain.com:51824\n"
                       "Start-Line: SIP/2.0 401 Unauthorized\n"
                       "From\n"                                  /* 5 */
                       ": <sip:username@domain.com>;tag=ef63\n"  /* 6 */
                       "WWW-Authenticate: NTLM rea\n"
                       TL                                        /* 8 */
                       "Direction: sideways\n"                   /* 9 */
                       "Peer: bad peer:99999\n"                  /* 10 */
                       "$$end_record\n"                          /* 11: no Start-Line */
                       TL                                        /* 12 */
                       "Start-Line: BYE sip:a@b SIP/2.0\n"
                       "Call-ID: x\n"
                       "$$end_record\n"                          /* 15: no Message-Body */
                       TL                                        /* 16 */
                       "Start-Line: ACK sip:a@b SIP/2.0\n"
                       "Message-Body: -\n"
                       "trailing text\n"                         /* 19 */
                       "$$end_record\n"
                       TL                                        /* 21: cut by EOF */
                       "Start-Line: INFO sip:a@b SIP/2.0\n");
    assert_int_equal(r.msgs->len, 4);
    assert_string_equal(msg(&r, 0)->data, "SIP/2.0 401 Unauthorized\r\nFrom\r\n: <sip:username@domain.com>;"
                                          "tag=ef63\r\nWWW-Authenticate: NTLM rea\r\n\r\n");
    assert_true(msg(&r, 0)->m.flags & LYNCLOG_F_TRUNCATED);
    assert_true(msg(&r, 0)->m.flags & LYNCLOG_F_GARBLED);
    assert_diag(&r, 5, "not a SIP header line");
    assert_diag(&r, 6, "not a SIP header line");
    assert_diag(&r, 8, "truncated: a new SIPStack record starts before $$end_record (message block of line 1)");
    assert_diag(&r, 9, "unknown Direction");
    assert_diag(&r, 10, "bad Peer");
    assert_diag(&r, 8, "SIPStack protocol record block of line 8 has no SIP start line");
    assert_diag(&r, 15, "record ends without Message-Body");
    assert_string_equal(msg(&r, 1)->data, "BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n");
    assert_diag(&r, 19, "text after \"Message-Body: -\"");
    assert_string_equal(msg(&r, 2)->data, "ACK sip:a@b SIP/2.0\r\n\r\n");
    assert_diag(&r, 22, "truncated: end of file inside the message block (message block of line 21)");
    assert_string_equal(msg(&r, 3)->data, "INFO sip:a@b SIP/2.0\r\n\r\n");
    done(&r);
}

static void test_mixed_formats(void **state)
{
    /* a UccApi opening line inside a SIPStack record ends the record (truncated) */
    char *b = ucc_block(REG, 1, 1);
    char *text = g_strconcat(TL "Direction: incoming\nStart-Line: OPTIONS sip:x SIP/2.0\n", b, NULL);
    run_result r = run(text);
    assert_int_equal(r.msgs->len, 2);
    assert_true(msg(&r, 0)->m.flags & LYNCLOG_F_TRUNCATED);
    assert_int_equal(msg(&r, 1)->m.format, LYNCLOG_FMT_UCCAPI);
    assert_memory_equal(msg(&r, 1)->m.data, REG, strlen(REG));
    done(&r);
    g_free(text);
    g_free(b);
}

static void test_limits(void **state)
{
    /* a block longer than LYNCLOG_MAX_MSG is cut, flagged and reported once */
    lynclog_reader *r = lynclog_new(NULL);
    const char *open = P "Sending Packet\r";
    lynclog_feed_line(r, open, strlen(open), 0);
    const char *start = P "MESSAGE sip:a@b SIP/2.0";
    lynclog_feed_line(r, start, strlen(start), 0);
    lynclog_feed_line(r, "X: y", 4, 0);
    lynclog_feed_line(r, "", 0, 0);
    size_t big = 1u << 20;
    char *line = g_malloc(big);
    memset(line, 'a', big);
    for (int i = 0; i < 20; i++)
        lynclog_feed_line(r, line, big, i == 3);
    const char *end = P "End of";
    lynclog_feed_line(r, end, strlen(end), 0);
    const lynclog_msg *m = lynclog_next(r);
    assert_non_null(m);
    assert_true(m->len <= LYNCLOG_MAX_MSG);
    assert_true(m->len > LYNCLOG_MAX_MSG - 2 * big);
    assert_true(m->flags & LYNCLOG_F_TRUNCATED);
    assert_true(m->flags & LYNCLOG_F_LINE_CUT);
    assert_null(lynclog_next(r));
    assert_int_equal(lynclog_problems(r), 2); /* the cut line, the size limit */
    g_free(line);
    lynclog_free(r);
}

static void test_endpoints_and_time(void **state)
{
    lynclog_endpoint e;
    run_result r;
    assert_int_equal(lynclog_parse_endpoint("10.0.0.1:5061", 13, &e), 0);
    assert_string_equal(e.host, "10.0.0.1");
    assert_int_equal(e.port, 5061);
    assert_int_equal(lynclog_parse_endpoint(" [fe80::1]:443 ", 15, &e), 0);
    assert_string_equal(e.host, "fe80::1");
    assert_int_equal(e.port, 443);
    assert_int_equal(lynclog_parse_endpoint("2001:db8::1", 11, &e), 0);
    assert_string_equal(e.host, "2001:db8::1");
    assert_int_equal(e.port, 0);
    assert_int_equal(lynclog_parse_endpoint("fe.contoso.com", 14, &e), 0);
    assert_int_equal(e.port, 0);
    const char *bad[] = { "", "   ", "host:", "host:65536", "host:12a", "[::1", "[::1]x",
                          "a b:1", ":5061", "host:123456" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(lynclog_parse_endpoint(bad[i], strlen(bad[i]), &e), -1);
    char longname[300];
    memset(longname, 'h', sizeof longname);
    assert_int_equal(lynclog_parse_endpoint(longname, sizeof longname, &e), -1);

    assert_int_equal(lynclog_utc_seconds(1970, 1, 1, 0, 0, 0), 0);
    assert_int_equal(lynclog_utc_seconds(2000, 2, 29, 0, 0, 0), 951782400);
    assert_int_equal(lynclog_utc_seconds(2100, 12, 31, 23, 59, 59), 4133980799LL);
    assert_int_equal(lynclog_utc_seconds(2013, 13, 1, 0, 0, 0), -1);
    assert_int_equal(lynclog_utc_seconds(2013, 4, 31, 0, 0, 0), -1);
    assert_int_equal(lynclog_utc_seconds(2013, 4, 1, 24, 0, 0), -1);
    /* UTF-16 files are not read, but said so */
    r = run_opts("\xFF\xFE" "0\0" "4\0" "/\0\n", 9, 0);
    assert_int_equal(r.msgs->len, 0);
    assert_diag(&r, 1, "UTF-16 text (byte-order mark) is not supported");
    done(&r);
    /* a prefix with an impossible date is no prefix: the line is plain text */
    r = run("13/45/2013|03:17:30.168 1F68:C14 INFO  :: Sending Packet\n");
    assert_int_equal(r.msgs->len, 0);
    assert_int_equal(r.diags->len, 0);
    done(&r);
}

/* Deterministic hostile input: random lines built from log fragments and bytes. */
static const char NUL2[2] = { 0, 0 };

static void test_hostile(void **state)
{
    static const char *frags[] = {
        P, P "Sending Packet - 1.2.3.4:5 (From Local Address: [::1]:7) 9 bytes:",
        P "Data Received", P "End of", P "End of Sending Packet - x:1 (", P "SIP/2.0 200 OK",
        "TL_INFO(TF_PROTOCOL) [0]06E4.0EB4::01/18/2012-05:00:43.101.1 (x)$$begin_record",
        "TL_INFO(TF_PROTOCOL) [0]06E4.0EB4::01/18/2012-05:00:43.101.1 (x)",
        "TL_X(TF_", "$$end_record", "Start-Line: ", "Message-Body: ", "Message-Body: -",
        "Peer: ", "Direction: incoming", "Content-Length: 99999999999999", "l: 3", "",
        "\r", "\xEF\xBB\xBF", "::", "|", "(", ")", " bytes", NUL2, "\xff\xfe",
        "01/01/1970|00:00:00.000 :", "12/31/9999|23:59:59.999 0:0 I :: "
    };
    GRand *rnd = g_rand_new_with_seed(12);
    for (int round = 0; round < 300; round++) {
        GString *s = g_string_new(NULL);
        int lines = g_rand_int_range(rnd, 1, 60);
        for (int i = 0; i < lines; i++) {
            int parts = g_rand_int_range(rnd, 0, 4);
            for (int k = 0; k < parts; k++) {
                const char *f = frags[g_rand_int_range(rnd, 0, G_N_ELEMENTS(frags))];
                g_string_append_len(s, f, (gssize)(f == NUL2 ? 2 : strlen(f)));
                if (g_rand_boolean(rnd))
                    g_string_append_c(s, (char)g_rand_int_range(rnd, 0, 256));
            }
            g_string_append_c(s, '\n');
        }
        uint64_t nl = 0;
        for (gsize k = 0; k < s->len; k++)
            nl += s->str[k] == '\n';
        run_result r = run_opts(s->str, s->len, g_rand_int_range(rnd, -50000, 50000));
        for (guint i = 0; i < r.msgs->len; i++) {
            got_msg *g = msg(&r, i);
            assert_true(g->m.format == LYNCLOG_FMT_UCCAPI || g->m.format == LYNCLOG_FMT_SIPSTACK);
            assert_true(g->m.line_last <= nl + 1);
            /* every message ends its header section */
            if (!memmem(g->data, g->m.len, "\r\n\r\n", 4)) {
                GString *hx = g_string_new(NULL);
                for (size_t k = 0; k < g->m.len; k++)
                    g_string_append_printf(hx, "%02x", (unsigned char)g->data[k]);
                char *esc = g_string_free(hx, FALSE);
                print_error("no end of headers in <%s> (%zu bytes)\n", esc, g->m.len);
                g_free(esc);
                fail();
            }
        }
        done(&r);
        g_string_free(s, TRUE);
    }
    g_rand_free(rnd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uccapi_roundtrip),
        cmocka_unit_test(test_uccapi_fields),
        cmocka_unit_test(test_uccapi_reduced_block),
        cmocka_unit_test(test_uccapi_other_lines_skipped),
        cmocka_unit_test(test_uccapi_truncated_not_merged),
        cmocka_unit_test(test_uccapi_interleaved_and_garbled),
        cmocka_unit_test(test_sipstack_record),
        cmocka_unit_test(test_sipstack_damage),
        cmocka_unit_test(test_mixed_formats),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_endpoints_and_time),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
