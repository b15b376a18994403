/* fuzz_lynclog.c - libFuzzer target for the Lync / SfB log reader (logs/lynclog.c).
 *
 * The input is a log file: it is cut into lines at "\n" and fed line by line; the first byte also
 * picks the time-zone offset and which lines are marked as cut by the caller. Every message the
 * reader returns must be well formed (size limit, line numbers, end of the header section, a
 * NUL-terminated note, a known format and direction). Build with -DMSSIPAE_FUZZ=ON (clang), then
 * run for a bounded time with tests/fuzz/run_fuzz_lynclog.sh [SECONDS].
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logs/lynclog.h"

static uint64_t reports;

static void diag(void *user, uint64_t line, const char *text)
{
    (void)user;
    if (!text || line == 0 || strlen(text) > 1024)
        abort();
    reports++;
}

static void check(const lynclog_msg *m, uint64_t lines)
{
    if (m->len > LYNCLOG_MAX_MSG || !m->data || !m->note)
        abort();
    if (m->format != LYNCLOG_FMT_UCCAPI && m->format != LYNCLOG_FMT_SIPSTACK)
        abort();
    if (m->dir > LYNCLOG_DIR_RECEIVED)
        abort();
    if (m->line_first == 0 || m->line_first > m->line_last || m->line_last > lines)
        abort();
    if (!memmem(m->data, m->len, "\r\n\r\n", 4))
        abort();
    if (m->time_msec > 999 || strlen(m->note) > 4096)
        abort();
    if (strlen(m->local.host) > LYNCLOG_MAX_HOST || strlen(m->remote.host) > LYNCLOG_MAX_HOST ||
        m->local.port > 65535 || m->remote.port > 65535)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t ctl = len ? data[0] : 0;
    lynclog_opts o = { .tz_offset = ((int64_t)(ctl & 0x0F) - 7) * 3600, .diag = diag };
    lynclog_reader *r = lynclog_new(&o);
    if (!r)
        return 0;
    const char *s = (const char *)data;
    size_t i = 0;
    uint64_t n = 0;
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (s + i)) : len - i;
        n++;
        lynclog_feed_line(r, s + i, l, (ctl & 0x80) && (n % 7 == 3));
        const lynclog_msg *m;
        while ((m = lynclog_next(r)) != NULL)
            check(m, n);
        i += l + (nl ? 1 : 0);
    }
    lynclog_finish(r);
    const lynclog_msg *m;
    while ((m = lynclog_next(r)) != NULL)
        check(m, n);
    if (lynclog_lines(r) != n)
        abort();
    lynclog_free(r);
    return 0;
}
