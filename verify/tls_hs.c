/* tls_hs.c - TLS record and handshake reader for the TLS-DSK inner handshake (tls_hs.h). */
#include "verify/tls_hs.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "verify/tls_suites.h"

#define TLS_REC_HDR 5
#define TLS_REC_MAX (16384u + 2048u) /* TLSCiphertext.length limit (RFC 5246 6.2.3) */
#define TLS_HS_HDR 4

enum {
    TLS_CT_CCS = 20,
    TLS_CT_ALERT = 21,
    TLS_CT_HANDSHAKE = 22,
    TLS_CT_APPDATA = 23,
    TLS_CT_HEARTBEAT = 24,
};

enum {
    TLS_EXT_SUPPORTED_VERSIONS = 0x002b,
    TLS_EXT_EMS = 0x0017,
    TLS_EXT_SESSION_TICKET = 0x0023,
};

/* ---- a pull cursor with a sticky error (K's k5input) ---- */

typedef struct {
    const uint8_t *p;
    size_t n;
    int err;
} tls_cur;

static uint32_t cur_uint(tls_cur *c, size_t bytes)
{
    if (c->err || c->n < bytes) {
        c->err = 1;
        return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; i++)
        v = (v << 8) | c->p[i];
    c->p += bytes;
    c->n -= bytes;
    return v;
}

/* Takes n bytes as a sub-cursor (empty and err set on shortage). */
static tls_cur cur_take(tls_cur *c, size_t n)
{
    tls_cur s = { NULL, 0, 1 };
    if (c->err || c->n < n) {
        c->err = 1;
        return s;
    }
    s.p = c->p;
    s.n = n;
    s.err = 0;
    c->p += n;
    c->n -= n;
    return s;
}

/* Takes a vector with a length prefix of `bytes` bytes. */
static tls_cur cur_vec(tls_cur *c, size_t bytes)
{
    size_t n = cur_uint(c, bytes);
    return cur_take(c, n);
}

/* ---- bounded buffers ---- */

/* Stops reading in direction d with a reason (first one kept) and a note. The pending bytes of
 * the direction are of no use any more: they leave the count at once, their buffers at the end
 * of tls_hs_feed (a caller up the stack may still point into them). */
static void hs_break(tls_hs *hs, mssipae_dir d, note_list *notes, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static void hs_break(tls_hs *hs, mssipae_dir d, note_list *notes, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    note_add(notes, NOTE_MALFORMED, NOTE_SEV_WARN, "TLS-DSK %s handshake: %s; rest of this "
             "direction's handshake ignored", d == DIR_C2S ? "client" : "server", why);
    if (!hs->broken_why)
        hs->broken_why = g_strdup_printf("%s handshake unreadable: %s",
                                         d == DIR_C2S ? "client" : "server", why);
    g_free(why);
    hs->broken[d] = 1;
    hs->held -= hs->rec_len[d] + hs->msg_len[d];
    hs->rec_len[d] = hs->msg_len[d] = 0;
}

/* Whether n more bytes fit under the per-SA cap. */
static int hs_fits(const tls_hs *hs, size_t n)
{
    return n <= TLS_HS_MAX_HELD && hs->held + n <= TLS_HS_MAX_HELD;
}

/* Appends to one of the held buffers (created when NULL), within the per-SA cap; 0, or -1
 * (nothing appended). */
static int hs_append(tls_hs *hs, GByteArray **b, const uint8_t *p, size_t n)
{
    if (!hs_fits(hs, n))
        return -1;
    if (!*b)
        *b = g_byte_array_sized_new((guint)n);
    g_byte_array_append(*b, p, (guint)n);
    hs->held += n;
    return 0;
}

static void free_bytes(GByteArray *b)
{
    if (b) {
        secure_wipe(b->data, b->len);
        g_byte_array_free(b, TRUE);
    }
}

/* Frees one held buffer (wiped) and takes it off the count. */
static void hs_drop(tls_hs *hs, GByteArray **slot)
{
    if (*slot) {
        hs->held -= (*slot)->len;
        free_bytes(*slot);
        *slot = NULL;
    }
}

/* Replaces *slot by a copy of p[0..n) counted against the cap; 0 or -1 (the slot is empty then:
 * the old content is dropped first). */
static int hs_keep(tls_hs *hs, GByteArray **slot, const uint8_t *p, size_t n)
{
    hs_drop(hs, slot);
    return hs_append(hs, slot, p, n);
}

tls_cert *tls_cert_ref(tls_cert *c)
{
    if (c)
        c->refs++;
    return c;
}

void tls_cert_unref(tls_cert *c)
{
    if (c && --c->refs == 0) {
        tls_cert_info_clear(&c->info);
        g_free(c);
    }
}

#define CERT_RECENT 4             /* certificates kept with their DER */
#define CERT_RECENT_DER_MAX 8192  /* a longer DER is found by its digest alone */

struct tls_cert_cache {
    GHashTable *by_digest; /* SHA-256 of the DER (GBytes) -> tls_cert (ref) */
    struct {
        uint8_t *der;      /* a copy; NULL: slot empty */
        size_t n;
        tls_cert *c;       /* ref */
    } recent[CERT_RECENT];
    unsigned next;         /* the slot replaced next */
};

tls_cert_cache *tls_cert_cache_new(void)
{
    tls_cert_cache *c = g_new0(tls_cert_cache, 1);
    c->by_digest = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                         (GDestroyNotify)g_bytes_unref,
                                         (GDestroyNotify)tls_cert_unref);
    return c;
}

static void recent_drop(tls_cert_cache *c, unsigned i)
{
    g_free(c->recent[i].der);
    tls_cert_unref(c->recent[i].c);
    c->recent[i].der = NULL;
    c->recent[i].c = NULL;
}

void tls_cert_cache_free(tls_cert_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < CERT_RECENT; i++)
        recent_drop(c, i);
    g_hash_table_destroy(c->by_digest);
    g_free(c);
}

/* The certificate of DER der[0..n): from the cache when it was read before, else read now. */
static tls_cert *cert_get(tls_cert_cache *cache, const uint8_t *der, size_t n)
{
    if (cache) {
        for (unsigned i = 0; i < CERT_RECENT; i++) {
            if (cache->recent[i].der && cache->recent[i].n == n &&
                memcmp(cache->recent[i].der, der, n) == 0)
                return tls_cert_ref(cache->recent[i].c);
        }
    }
    uint8_t digest[32];
    GBytes *key = NULL;
    tls_cert *c = NULL;
    if (cache && gnutls_hash_fast(GNUTLS_DIG_SHA256, der, n, digest) >= 0) {
        key = g_bytes_new(digest, sizeof digest);
        c = g_hash_table_lookup(cache->by_digest, key);
        if (c) {
            g_bytes_unref(key);
            key = NULL;
        }
    }
    if (!c) {
        c = g_new0(tls_cert, 1);
        c->refs = 1;
        c->der_len = n;
        tls_cert_info_read(der, n, &c->info);
        if (key)
            g_hash_table_insert(cache->by_digest, key, tls_cert_ref(c));
    } else {
        tls_cert_ref(c);
    }
    if (cache && n <= CERT_RECENT_DER_MAX) {
        unsigned i = cache->next++ % CERT_RECENT;
        recent_drop(cache, i);
        cache->recent[i].der = g_memdup2(der, n);
        cache->recent[i].n = n;
        cache->recent[i].c = tls_cert_ref(c);
    }
    return c;
}

/* The bytes to read: p itself, or, after an incomplete unit kept from before (partial), p
 * appended to it. *total is their length. */
static const uint8_t *with_partial(GByteArray *partial, const uint8_t *p, size_t n, size_t *total)
{
    if (!partial) {
        *total = n;
        return p;
    }
    g_byte_array_append(partial, p, (guint)n);
    *total = partial->len;
    return partial->data;
}

/* The pending bytes of a reassembly buffer after `used` of the `total` bytes at data were
 * consumed: *buf holds them alone afterwards (NULL when none). data is either (*buf)->data (the
 * buffer was used) or the caller's bytes. */
static void keep_tail(GByteArray **buf, const uint8_t *data, size_t used, size_t total)
{
    if (*buf) {
        if (used == total) {
            free_bytes(*buf);
            *buf = NULL;
        } else if (used) {
            secure_wipe((*buf)->data, used);
            g_byte_array_remove_range(*buf, 0, (guint)used);
        }
    } else if (used < total) {
        *buf = g_byte_array_sized_new((guint)(total - used));
        g_byte_array_append(*buf, data + used, (guint)(total - used));
    }
}

tls_hs *tls_hs_new(void)
{
    return g_new0(tls_hs, 1);
}

void tls_hs_init(tls_hs *hs)
{
    memset(hs, 0, sizeof *hs);
}

void tls_hs_free(tls_hs *hs)
{
    if (!hs)
        return;
    tls_hs_clear(hs);
    g_free(hs);
}

void tls_hs_clear(tls_hs *hs)
{
    if (!hs)
        return;
    for (int d = 0; d < 2; d++) {
        free_bytes(hs->rec[d]);
        free_bytes(hs->msg[d]);
    }
    free_bytes(hs->ch_ticket);
    tls_cert_unref(hs->server_cert);
    tls_cert_unref(hs->client_cert);
    free_bytes(hs->cke);
    free_bytes(hs->ticket);
    free_bytes(hs->transcript);
    g_free(hs->broken_why);
    secure_wipe(hs, sizeof(*hs));
}

/* ---- handshake messages ---- */

/* Walks an extensions block; returns -1 when its framing is bad. */
static int parse_extensions(tls_hs *hs, tls_cur *c, int server)
{
    if (c->n == 0)
        return 0; /* no extensions (TLS 1.0 clients such as Lync's) */
    tls_cur exts = cur_vec(c, 2);
    if (exts.err || c->n != 0)
        return -1;
    while (exts.n) {
        uint16_t type = (uint16_t)cur_uint(&exts, 2);
        tls_cur body = cur_vec(&exts, 2);
        if (exts.err)
            return -1;
        if (type == TLS_EXT_EMS) {
            if (server)
                hs->ems = hs->ch_ems;
            else
                hs->ch_ems = 1;
        } else if (type == TLS_EXT_SESSION_TICKET && !server) {
            hs->ch_ticket_ext = 1;
            hs->ch_ticket_seen = body.n > 0;
            if (body.n && hs_keep(hs, &hs->ch_ticket, body.p, body.n) < 0)
                return -2;
        } else if (type == TLS_EXT_SUPPORTED_VERSIONS && server) {
            /* TLS 1.3 ServerHello: selected_version (RFC 8446 4.2.1) */
            uint16_t v = (uint16_t)cur_uint(&body, 2);
            if (!body.err)
                hs->version = v;
        }
    }
    return 0;
}

/* ClientHello (RFC 5246 7.4.1.2). */
static int parse_client_hello(tls_hs *hs, tls_cur c)
{
    hs->ch_version = (uint16_t)cur_uint(&c, 2);
    tls_cur rnd = cur_take(&c, 32);
    tls_cur sid = cur_vec(&c, 1);
    tls_cur suites = cur_vec(&c, 2);
    tls_cur comp = cur_vec(&c, 1);
    if (c.err || sid.n > 32 || suites.n < 2 || (suites.n & 1) || comp.n < 1)
        return -1;
    memcpy(hs->cr, rnd.p, 32);
    memcpy(hs->ch_sid, sid.p, sid.n);
    hs->ch_sid_len = (uint8_t)sid.n;
    int rc = parse_extensions(hs, &c, 0);
    if (rc < 0)
        return rc;
    hs->have_ch = 1;
    return 0;
}

/* ServerHello (RFC 5246 7.4.1.3). */
static int parse_server_hello(tls_hs *hs, tls_cur c)
{
    hs->version = (uint16_t)cur_uint(&c, 2);
    tls_cur rnd = cur_take(&c, 32);
    tls_cur sid = cur_vec(&c, 1);
    hs->suite = (uint16_t)cur_uint(&c, 2);
    (void)cur_uint(&c, 1); /* compression method */
    if (c.err || sid.n > 32)
        return -1;
    memcpy(hs->sr, rnd.p, 32);
    memcpy(hs->sid, sid.p, sid.n);
    hs->sid_len = (uint8_t)sid.n;
    hs->ems = 0;
    int rc = parse_extensions(hs, &c, 1);
    if (rc < 0)
        return rc;
    hs->have_sh = 1;
    return 0;
}

/* Certificate (RFC 5246 7.4.2): reads the first (leaf) certificate of the chain. Counted in
 * held by its DER length as long as it is the direction's certificate, as if it were kept. */
static int parse_certificate(tls_hs *hs, mssipae_dir d, tls_cur c)
{
    tls_cur list = cur_vec(&c, 3);
    if (c.err || c.n)
        return -1;
    if (list.n == 0)
        return 0; /* a client without a certificate */
    tls_cur leaf = cur_vec(&list, 3);
    if (list.err || leaf.n == 0)
        return -1;
    tls_cert **slot = d == DIR_S2C ? &hs->server_cert : &hs->client_cert;
    if (*slot) {
        hs->held -= (*slot)->der_len;
        tls_cert_unref(*slot);
        *slot = NULL;
    }
    if (!hs_fits(hs, leaf.n))
        return -2;
    *slot = cert_get(hs->cert_cache, leaf.p, leaf.n);
    hs->held += leaf.n;
    return 0;
}

/* NewSessionTicket (RFC 5077 3.3). */
static int parse_ticket(tls_hs *hs, tls_cur c)
{
    (void)cur_uint(&c, 4); /* ticket_lifetime_hint */
    tls_cur t = cur_vec(&c, 2);
    if (c.err)
        return -1;
    if (t.n == 0)
        return 0; /* the server will not issue one after all */
    return hs_keep(hs, &hs->ticket, t.p, t.n) < 0 ? -2 : 0;
}

/* One complete handshake message (type, body) sent in direction d. */
static void handle_message(tls_hs *hs, mssipae_dir d, const uint8_t *msg, size_t len,
                           note_list *notes)
{
    uint8_t type = msg[0];
    tls_cur body = { msg + TLS_HS_HDR, len - TLS_HS_HDR, 0 };
    int rc = 0;
    int in_transcript = type != TLS_HT_HELLO_REQUEST && !hs->kx_seen;
    hs->messages++;
    if (in_transcript && hs_append(hs, &hs->transcript, msg, len) < 0) {
        hs_break(hs, d, notes, "handshake larger than the %u-byte limit", TLS_HS_MAX_HELD);
        return;
    }
    switch (type) {
    case TLS_HT_CLIENT_HELLO:
        if (d != DIR_C2S || hs->have_ch)
            goto unexpected;
        rc = parse_client_hello(hs, body);
        if (rc == 0)
            note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT,
                     "TLS-DSK ClientHello: version 0x%04x, session id of %zu bytes%s%s",
                     hs->ch_version, (size_t)hs->ch_sid_len, hs->ch_ems ? ", extended master secret" : "",
                     hs->ch_ticket ? ", session ticket presented" : "");
        break;
    case TLS_HT_SERVER_HELLO: {
        if (d != DIR_S2C || hs->have_sh)
            goto unexpected;
        rc = parse_server_hello(hs, body);
        if (rc == 0) {
            const tls_suite *s = tls_suite_find(hs->suite);
            const char *vn = tls_version_name(hs->version);
            note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT,
                     "TLS-DSK ServerHello: %s, %s (0x%04x), extended master secret %s",
                     vn ? vn : "unknown version", s ? s->name : "unknown suite", hs->suite,
                     hs->ems ? "yes" : "no");
        }
        break;
    }
    case TLS_HT_CERTIFICATE:
        rc = parse_certificate(hs, d, body);
        break;
    case TLS_HT_SERVER_KEY_EXCHANGE:
        if (d != DIR_S2C)
            goto unexpected;
        hs->server_kx = 1;
        break;
    case TLS_HT_CERTIFICATE_REQUEST:
        if (d != DIR_S2C)
            goto unexpected;
        hs->cert_request = 1;
        break;
    case TLS_HT_SERVER_HELLO_DONE:
        if (d != DIR_S2C)
            goto unexpected;
        hs->server_done = 1;
        break;
    case TLS_HT_CLIENT_KEY_EXCHANGE:
        if (d != DIR_C2S || hs->kx_seen)
            goto unexpected;
        hs->kx_seen = 1;
        rc = hs_keep(hs, &hs->cke, body.p, body.n) < 0 ? -2 : 0;
        break;
    case TLS_HT_NEW_SESSION_TICKET:
        if (d != DIR_S2C)
            goto unexpected;
        rc = parse_ticket(hs, body);
        break;
    default:
        break; /* CertificateVerify, HelloRequest, ...: nothing the keys depend on */
    }
    if (rc == -2)
        hs_break(hs, d, notes, "handshake larger than the %u-byte limit", TLS_HS_MAX_HELD);
    else if (rc < 0)
        hs_break(hs, d, notes, "handshake message type %u of %zu bytes is malformed", type,
                 len - TLS_HS_HDR);
    return;
unexpected:
    hs_break(hs, d, notes, "unexpected handshake message type %u from the %s", type,
             d == DIR_C2S ? "client" : "server");
}

/* The plaintext of one handshake record: completes and handles handshake messages. Messages
 * are read in place; only an incomplete one is copied (to msg[d]). */
static void handle_handshake_record(tls_hs *hs, mssipae_dir d, const uint8_t *p, size_t n,
                                    note_list *notes)
{
    if (!hs_fits(hs, n)) {
        hs_break(hs, d, notes, "handshake larger than the %u-byte limit", TLS_HS_MAX_HELD);
        return;
    }
    hs->held += n;
    hs->msg_len[d] += n;
    size_t total;
    const uint8_t *data = with_partial(hs->msg[d], p, n, &total);
    size_t off = 0;
    while (!hs->broken[d] && total - off >= TLS_HS_HDR) {
        const uint8_t *h = data + off;
        size_t blen = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
        if (blen + TLS_HS_HDR > TLS_HS_MAX_HELD) {
            hs_break(hs, d, notes, "handshake message type %u announces %zu bytes, more than the "
                     "%u-byte limit", h[0], blen, TLS_HS_MAX_HELD);
            return;
        }
        if (total - off < TLS_HS_HDR + blen)
            break; /* the rest comes in a later record */
        handle_message(hs, d, h, TLS_HS_HDR + blen, notes);
        off += TLS_HS_HDR + blen;
    }
    if (hs->broken[d])
        return;
    hs->held -= off;
    hs->msg_len[d] -= off;
    keep_tail(&hs->msg[d], data, off, total);
}

/* One complete record. */
static void handle_record(tls_hs *hs, mssipae_dir d, uint8_t type, const uint8_t *p, size_t n,
                          note_list *notes)
{
    switch (type) {
    case TLS_CT_HANDSHAKE:
        if (hs->ccs[d])
            return; /* encrypted Finished (or renegotiation): not ours to read */
        if (n == 0) {
            hs_break(hs, d, notes, "empty handshake record");
            return;
        }
        handle_handshake_record(hs, d, p, n, notes);
        return;
    case TLS_CT_CCS:
        if (hs->ccs[d])
            return;
        if (n != 1 || p[0] != 1 || hs->msg_len[d]) {
            hs_break(hs, d, notes, "malformed ChangeCipherSpec");
            return;
        }
        hs->ccs[d] = 1;
        return;
    case TLS_CT_ALERT:
        if (!hs->ccs[d] && n == 2)
            note_add(notes, NOTE_TOKEN, NOTE_SEV_WARN, "TLS-DSK %s sent alert level %u, "
                     "description %u", d == DIR_C2S ? "client" : "server", p[0], p[1]);
        return;
    default:
        return; /* application data or heartbeat: not part of TLS-DSK, ignored */
    }
}

void tls_hs_feed(tls_hs *hs, mssipae_dir d, const uint8_t *tok, size_t len, note_list *notes)
{
    if (!hs || (d != DIR_C2S && d != DIR_S2C) || hs->broken[d] || !tok || !len)
        return;
    if (!hs_fits(hs, len)) {
        hs_break(hs, d, notes, "more than %u bytes of handshake records", TLS_HS_MAX_HELD);
        goto out;
    }
    /* records are read in place from the token; only an incomplete one is copied (rec[d]) */
    hs->held += len;
    hs->rec_len[d] += len;
    size_t total;
    const uint8_t *data = with_partial(hs->rec[d], tok, len, &total);
    size_t off = 0;
    while (!hs->broken[d] && total - off >= TLS_REC_HDR) {
        const uint8_t *h = data + off;
        uint8_t type = h[0];
        uint16_t ver = (uint16_t)((h[1] << 8) | h[2]);
        size_t rlen = ((size_t)h[3] << 8) | h[4];
        if (type < TLS_CT_CCS || type > TLS_CT_HEARTBEAT || h[1] != 3) {
            hs_break(hs, d, notes, "not a TLS record (type %u, version 0x%04x)", type, ver);
            break;
        }
        if (rlen > TLS_REC_MAX) {
            hs_break(hs, d, notes, "record length %zu exceeds the TLS limit %u", rlen, TLS_REC_MAX);
            break;
        }
        if (total - off < TLS_REC_HDR + rlen)
            break; /* the record ends in a later token */
        handle_record(hs, d, type, h + TLS_REC_HDR, rlen, notes);
        off += TLS_REC_HDR + rlen;
    }
    if (!hs->broken[d]) {
        hs->held -= off;
        hs->rec_len[d] -= off;
        keep_tail(&hs->rec[d], data, off, total);
    }
out:
    if (hs->broken[d]) {
        /* nothing of this direction is read any more */
        free_bytes(hs->rec[d]);
        free_bytes(hs->msg[d]);
        hs->rec[d] = hs->msg[d] = NULL;
    }
}

int tls_hs_resumed(const tls_hs *hs)
{
    if (!hs->have_ch || !hs->have_sh)
        return 0;
    if (hs->sid_len && hs->sid_len == hs->ch_sid_len && memcmp(hs->sid, hs->ch_sid, hs->sid_len) == 0)
        return 1;
    return hs->ch_ticket_seen && !hs->server_cert && !hs->server_done && !hs->kx_seen &&
           hs->ccs[DIR_S2C];
}

void tls_hs_trim(tls_hs *hs)
{
    if (!hs || !hs->ccs[DIR_C2S] || !hs->ccs[DIR_S2C])
        return;
    if (hs->kx_seen && !hs->transcript && !hs->cke && !hs->ch_ticket && !hs->ticket &&
        !hs->rec[0] && !hs->rec[1] && !hs->msg[0] && !hs->msg[1] && !hs->rec_len[0] &&
        !hs->rec_len[1] && !hs->msg_len[0] && !hs->msg_len[1])
        return; /* trimmed already (the usual case: called for every signature) */
    hs_drop(hs, &hs->transcript);
    hs->kx_seen = 1; /* nothing more enters the transcript */
    hs_drop(hs, &hs->cke);
    hs_drop(hs, &hs->ch_ticket);
    hs_drop(hs, &hs->ticket);
    for (int d = 0; d < 2; d++) {
        hs->held -= hs->rec_len[d] + hs->msg_len[d];
        hs->rec_len[d] = hs->msg_len[d] = 0;
        free_bytes(hs->rec[d]);
        free_bytes(hs->msg[d]);
        hs->rec[d] = hs->msg[d] = NULL;
    }
}
