/* micro.c - core micro-benchmark: CPU time per SIP message through the whole core (tracker,
 * buffer, mechanism), without tshark. Reads a message file written by bench/benchgen.py.
 *
 *   micro FILE.msgs[.gz] [--reps N] [--invalid] [--at-once] [--expect valid|invalid]
 *         [--keytab P] [--keylog P] [--rsa P] [--password X]
 *
 * Each repetition feeds every message to a fresh tracker (as the first pass of tshark would) and
 * measures process CPU time. --invalid changes one hex digit of every signature first (the one 9
 * places from its end: inside the checksum of NTLM, RFC 4121 and TLS-DSK tokens), so every check
 * fails: the worst case. Prints the median ns per message and per signed header, the status
 * counts (of the first repetition) and the heap bytes the tracker keeps per signed header
 * (mallinfo2 before and after, results included). --expect STATUS: exit status 3 unless there
 * are signed headers and every one got STATUS (the profile-feedback training, pgo/train.sh, uses
 * it so that a stale corpus cannot train the wrong paths unnoticed). The file may be gzipped.
 * The tracker leaves the checks that only explain a wrong signature for when its expert infos
 * are read, as the dissector does when nothing reads them (tshark -q; sa_tracker_set_later);
 * --at-once makes them at once, as it does for tshark -z expert or -V.
 *
 *   micro FILE.msgs[.gz] --floor md5|sha1-96|sha1 [--per-sa N] [--reps N]
 *
 * times the verification floor instead (bench/floor_crypto.c, as bench/floor.c runs it in
 * tshark): per message only the scheme's MAC over its first 170 bytes with a key state made once
 * per SA (a new one every N messages, default 50) and a 16-byte record kept; nothing parsed.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "bench/floor_crypto.h"
#include "keytab/keystore.h"
#include "verify/sa.h"

typedef struct {
    char *data;
    size_t len;
    char *src, *dst;
} bmsg;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The whole file, gunzipped when it is gzipped (zlib reads a plain file as it is). */
static gchar *read_all(const char *path, gsize *n)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return NULL;
    GByteArray *b = g_byte_array_new();
    guint8 chunk[65536];
    int r;
    while ((r = gzread(f, chunk, sizeof chunk)) > 0)
        g_byte_array_append(b, chunk, (guint)r);
    int bad = r < 0;
    gzclose(f);
    if (bad) {
        g_byte_array_free(b, TRUE);
        return NULL;
    }
    *n = b->len;
    return (gchar *)g_byte_array_free(b, FALSE);
}

/* Loads the message file; returns the count, or -1. */
static long load(const char *path, bmsg **out)
{
    gchar *buf;
    gsize n = 0;
    if (!(buf = read_all(path, &n)) || n < 10 || memcmp(buf, "MSSIPAEB1\n", 10)) {
        fprintf(stderr, "micro: %s is not a benchgen message file\n", path);
        g_free(buf);
        return -1;
    }
    GArray *a = g_array_new(FALSE, TRUE, sizeof(bmsg));
    size_t p = 10;
    while (p + 8 <= n) {
        uint32_t len = (uint32_t)(uint8_t)buf[p] | (uint32_t)(uint8_t)buf[p + 1] << 8 |
                       (uint32_t)(uint8_t)buf[p + 2] << 16 | (uint32_t)(uint8_t)buf[p + 3] << 24;
        uint16_t sl = (uint16_t)((uint8_t)buf[p + 4] | (uint8_t)buf[p + 5] << 8);
        uint16_t dl = (uint16_t)((uint8_t)buf[p + 6] | (uint8_t)buf[p + 7] << 8);
        p += 8;
        if (p + sl + dl + len > n)
            break;
        bmsg m = { g_memdup2(buf + p + sl + dl, len), len, g_strndup(buf + p, sl),
                   g_strndup(buf + p + sl, dl) };
        g_array_append_val(a, m);
        p += sl + dl + len;
    }
    g_free(buf);
    *out = (bmsg *)(void *)a->data;
    long count = (long)a->len;
    g_array_free(a, FALSE);
    return count;
}

/* The floor's run (see the top): median CPU seconds of reps passes over the messages. */
static double floor_run(const bmsg *msgs, long n, floor_kind kind, unsigned per_sa, int reps)
{
    double *t = g_new(double, reps);
    for (int r = 0; r < reps; r++) {
        floor_state f;
        floor_reset(&f, kind, per_sa);
        GArray *recs = g_array_new(FALSE, FALSE, 16); /* as the floor's plugin keeps them */
        double t0 = cpu_now();
        for (long i = 0; i < n; i++) {
            const uint8_t *p = (const uint8_t *)msgs[i].data;
            if (msgs[i].len < 16)
                continue;
            size_t len = MIN(msgs[i].len - 16, 170);
            uint8_t mac[16];
            guint32 rec[4] = { (guint32)i, 0, 0, 0 };
            rec[2] = floor_mac(&f, p, len, p + len, mac);
            rec[1] = f.n_sa;
            g_array_append_vals(recs, rec, 1);
        }
        t[r] = cpu_now() - t0;
        g_array_free(recs, TRUE);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = t[reps / 2];
    g_free(t);
    return med;
}

static void free_msgs(bmsg *msgs, long n)
{
    for (long i = 0; i < n; i++) {
        g_free(msgs[i].data);
        g_free(msgs[i].src);
        g_free(msgs[i].dst);
    }
    g_free(msgs);
}

/* Changes the hex digit 9 places before the closing quote of every signature value. */
static void spoil(bmsg *m)
{
    static const char *const keys[] = { "response=\"", "rspauth=\"" };
    for (size_t k = 0; k < 2; k++) {
        char *p = m->data, *end = m->data + m->len;
        size_t kl = strlen(keys[k]);
        while ((p = memmem(p, (size_t)(end - p), keys[k], kl)) != NULL) {
            char *v = p + kl, *q = memchr(v, '"', (size_t)(end - v));
            if (q && q - v > 9) {
                char *c = q - 9;
                *c = *c == '0' ? '1' : '0';
            }
            p = v;
        }
    }
}

int main(int argc, char **argv)
{
    const char *file = NULL, *keytab = NULL, *keylog = NULL, *rsa = NULL, *password = NULL;
    const char *expect = NULL, *floor_name = NULL;
    int reps = 5, invalid = 0, at_once = 0, per_sa = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--invalid"))
            invalid = 1;
        else if (!strcmp(argv[i], "--at-once"))
            at_once = 1;
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
            expect = argv[++i];
        else if (!strcmp(argv[i], "--keytab") && i + 1 < argc)
            keytab = argv[++i];
        else if (!strcmp(argv[i], "--keylog") && i + 1 < argc)
            keylog = argv[++i];
        else if (!strcmp(argv[i], "--rsa") && i + 1 < argc)
            rsa = argv[++i];
        else if (!strcmp(argv[i], "--password") && i + 1 < argc)
            password = argv[++i];
        else if (!strcmp(argv[i], "--floor") && i + 1 < argc)
            floor_name = argv[++i];
        else if (!strcmp(argv[i], "--per-sa") && i + 1 < argc)
            per_sa = atoi(argv[++i]);
        else if (!file)
            file = argv[i];
        else {
            fprintf(stderr, "usage: micro FILE.msgs[.gz] [--reps N] [--invalid] [--at-once] "
                            "[--expect valid|invalid] [--keytab P] [--keylog P] [--rsa P] "
                            "[--password X]\n"
                            "       micro FILE.msgs[.gz] --floor md5|sha1-96|sha1 [--per-sa N] "
                            "[--reps N]\n");
            return 2;
        }
    }
    int want = !expect ? 0 : !strcmp(expect, "valid") ? SIG_VALID
                           : !strcmp(expect, "invalid") ? SIG_INVALID : -1;
    int fk = floor_name ? floor_kind_of(floor_name) : 0;
    if (!file || reps < 1 || want < 0 || fk < 0 || per_sa < 1)
        return 2;
    bmsg *msgs;
    long n = load(file, &msgs);
    if (n <= 0)
        return 1;
    if (floor_name) {
        double med = floor_run(msgs, n, (floor_kind)fk, (unsigned)per_sa, reps);
        printf("floor %s, messages %ld, a new SA every %d\n", floor_name, n, per_sa);
        printf("median of %d: %.3f s CPU, %.0f ns per message\n", reps, med,
               med / (double)n * 1e9);
        free_msgs(msgs, n);
        return 0;
    }
    if (invalid)
        for (long i = 0; i < n; i++)
            spoil(&msgs[i]);
    keystore *ks = keystore_new();
    keystore_keylog_recheck(ks, 1000); /* as the dissector sets it */
    if ((keytab && keystore_set_keytab(ks, keytab) < 0) ||
        (keylog && keystore_set_keylog(ks, keylog) < 0) ||
        (rsa && keystore_add_tls_rsa_key(ks, rsa, NULL, "micro --rsa") < 0) ||
        (password && keystore_set_nt_password(ks, password) < 0)) {
        fprintf(stderr, "micro: a key source is unusable: %s\n", keystore_config_errors(ks)[0]);
        return 1;
    }
    double *t = g_new(double, reps);
    unsigned long counts[8] = { 0 };
    unsigned long sig = 0;
    size_t kept = 0;
    for (int r = 0; r < reps; r++) {
        size_t before = mallinfo2().uordblks;
        sa_tracker *tr = sa_tracker_new(ks);
        sa_tracker_set_later(tr, !at_once); /* as the dissector sets it (see above) */
        double t0 = cpu_now();
        for (long i = 0; i < n; i++) {
            msg_meta meta = { (uint32_t)(i + 1), msgs[i].src, msgs[i].dst };
            const msg_rec *res = sa_tracker_process_rec(tr, msgs[i].data, msgs[i].len, &meta);
            if (r == 0)
                for (guint j = 0; j < msg_rec_n_auths(res); j++) {
                    const auth_rec *a = &res->auths[j];
                    if (a->status != SIG_NONE) {
                        counts[a->status < 8 ? a->status : 0]++;
                        sig++;
                    }
                }
        }
        t[r] = cpu_now() - t0;
        if (r == 0)
            kept = mallinfo2().uordblks - before;
        sa_tracker_free(tr);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = t[reps / 2];
    printf("messages %ld, signed headers %lu: valid %lu, invalid %lu, no key %lu, no SA %lu, "
           "unsupported %lu, malformed %lu\n", n, sig, counts[1], counts[2], counts[3], counts[4],
           counts[5], counts[6]);
    printf("median of %d: %.3f s CPU, %.0f ns per message, %.0f ns per signed header\n", reps,
           med, med / (double)n * 1e9, sig ? med / (double)sig * 1e9 : 0.0);
    printf("kept by the tracker: %zu bytes, %.0f bytes per signed header\n", kept,
           sig ? (double)kept / (double)sig : 0.0);
    free_msgs(msgs, n);
    g_free(t);
    keystore_free(ks);
    if (want && (!sig || counts[want] != sig)) {
        fprintf(stderr, "micro: %s: %lu of %lu signed headers %s, all expected\n", file,
                counts[want], sig, expect);
        return 3;
    }
    return 0;
}
