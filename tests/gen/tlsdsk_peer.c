/* tlsdsk_peer.c - real TLS-DSK handshake material from GnuTLS, for the test generators.
 *
 * A GnuTLS client (with a client certificate) and a GnuTLS server (RSA certificate, client
 * certificate required: the TLS-DSK CertificateRequest flight) run in this one process over two
 * memory buffers. Every byte each side pushes is recorded per flight (the bytes one side writes
 * before it waits for the peer), so the Python side (tests/gen/tlsdskflow.py) can put each
 * flight into the gssapi-data of the right SIP message. The reference TLS-DSK keys come from
 * GnuTLS itself ([MS-SIPAE] 3.2.5.1 as condensed in ms-sipae.md section 8):
 *
 *   key_block  = PRF(master_secret, "client EAP encryption", client_random || server_random)[0..127]
 *                (gnutls_prf_raw: the PRF of the negotiated version and suite)
 *   client_key = key_block[64..95]    signs response=     server_key = key_block[96..127]  rspauth=
 *   signature  = HMAC-<mac>(key, signature buffer)  (gnutls_hmac_fast, full length)
 *
 * Usage: tlsdsk_peer <server-cert.pem> <server-key.pem> <client-cert.pem> <client-key.pem>
 * then one command per line on stdin, one answer line each (peer_io.h; driven by gss._Peer):
 *
 *   hs <priority> <resume> <flags>   a handshake; <resume> is "-" (full handshake) or the
 *        number of an earlier handshake whose session the client resumes; <flags> is "-" or
 *        letters: "t" lets the server issue RFC 5077 session tickets (and keeps no session
 *        cache, so a resumption can only use the ticket; without "t" tickets are off on both
 *        sides and resumption goes by session id from the server's cache); "c" coalesces the
 *        plaintext handshake records of each flight (those before ChangeCipherSpec) into one
 *        record before the peer reads them, so one record holds several handshake messages
 *        (legal TLS framing; the peer really parses the coalesced record). Answer: "ok <n>",
 *        n counting from 0.
 *   info <n>     "ok k=v k=v ...": version, suite, kx, cipher, mac, prf (hash name; MD5-SHA1
 *                for the TLS 1.0/1.1 PRF), ems (0/1),
 *                resumed (0/1), crandom, srandom, sid (session id), ms (master secret),
 *                keyblock (128 bytes, hex), keylog (label:secret as GnuTLS's key-log callback
 *                reported it, "-" if it did not)
 *   flights <n>  "ok c2s:<hex> s2c:<hex> ..." in order
 *   hmac <n> <client|server>:<mac> <hex>  "ok <hex>": HMAC-<mac> (GnuTLS name: MD5, SHA1,
 *                SHA256, SHA384) of the data, keyed with the client or server key of handshake n
 *   p12 <file> <password>   "ok <key-id> <cert-key-id>": the private key and certificate of a
 *                PKCS#12 file read with GnuTLS (gnutls_pkcs12_simple_parse), their SHA-1 key IDs
 *                (equal when the pair matches); "-" = empty password
 *   keyid <pem-key-file>    "ok <key-id>" of a PEM private key (PKCS#1 or PKCS#8)
 *   quit
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>
#include <gssapi/gssapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* peer_io.h also has GSS-only helpers this peer does not use */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "peer_io.h"
#pragma GCC diagnostic pop

#define MAX_HS 64
#define MAX_FLIGHTS 16
#define EAP_LABEL "client EAP encryption"

/* a growable byte buffer */
struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* one side of the in-memory pair: what it has pushed and not yet handed over, what it may read */
struct side {
    gnutls_session_t s;
    struct buf out; /* pushed since the last flight was cut */
    struct buf in;  /* bytes from the peer not yet pulled */
    size_t in_off;
};

struct flight {
    int c2s;
    struct buf bytes;
};

struct hs {
    gnutls_session_t client, server; /* kept for info/sign */
    struct flight flights[MAX_FLIGHTS];
    int nflights;
    char keylog[512];
    gnutls_datum_t cdata; /* the client's session data, for a later resumption */
};

static struct hs hss[MAX_HS];
static int nhs;
static gnutls_certificate_credentials_t srv_cred, cli_cred;
static gnutls_datum_t ticket_key;
static int coalesce; /* "c" flag of the current handshake */

/* the server's session cache (resumption by session id) */
static struct {
    gnutls_datum_t key, data;
} cache[MAX_HS];
static int ncache;

static int db_store(void *ptr, gnutls_datum_t key, gnutls_datum_t data)
{
    if (ncache >= MAX_HS)
        return -1;
    cache[ncache].key.data = malloc(key.size);
    cache[ncache].data.data = malloc(data.size);
    memcpy(cache[ncache].key.data, key.data, key.size);
    memcpy(cache[ncache].data.data, data.data, data.size);
    cache[ncache].key.size = key.size;
    cache[ncache].data.size = data.size;
    ncache++;
    return 0;
}

static gnutls_datum_t db_fetch(void *ptr, gnutls_datum_t key)
{
    gnutls_datum_t r = {NULL, 0};
    for (int i = 0; i < ncache; i++)
        if (cache[i].key.size == key.size && memcmp(cache[i].key.data, key.data, key.size) == 0) {
            r.data = gnutls_malloc(cache[i].data.size);
            memcpy(r.data, cache[i].data.data, cache[i].data.size);
            r.size = cache[i].data.size;
        }
    return r;
}

static int db_remove(void *ptr, gnutls_datum_t key)
{
    return 0;
}

static ssize_t push_fn(gnutls_transport_ptr_t ptr, const void *data, size_t n)
{
    buf_add(&((struct side *)ptr)->out, data, n);
    return (ssize_t)n;
}

static ssize_t pull_fn(gnutls_transport_ptr_t ptr, void *data, size_t n)
{
    struct side *sd = ptr;
    size_t avail = sd->in.len - sd->in_off;
    if (avail == 0) {
        gnutls_transport_set_errno(sd->s, EAGAIN);
        return -1;
    }
    if (n > avail)
        n = avail;
    memcpy(data, sd->in.p + sd->in_off, n);
    sd->in_off += n;
    return (ssize_t)n;
}

static int keylog_fn(gnutls_session_t s, const char *label, const gnutls_datum_t *secret)
{
    struct hs *h = gnutls_session_get_ptr(s);
    size_t used = strlen(h->keylog);
    if (used)
        used += (size_t)snprintf(h->keylog + used, sizeof h->keylog - used, ",");
    used += (size_t)snprintf(h->keylog + used, sizeof h->keylog - used, "%s:", label);
    for (unsigned i = 0; i < secret->size && used + 3 < sizeof h->keylog; i++)
        used += (size_t)snprintf(h->keylog + used, sizeof h->keylog - used, "%02x", secret->data[i]);
    return 0;
}

/* Rewrite b so that the leading run of plaintext handshake records (content type 22, before
 * any ChangeCipherSpec) becomes one record: RFC 5246 6.2.1 lets a record hold several handshake
 * messages; the handshake hashes cover messages, not records, so the handshake stays valid. */
static void coalesce_records(struct buf *b)
{
    size_t off = 0, body = 0;
    while (off + 5 <= b->len && b->p[off] == 22) {
        size_t len = (size_t)b->p[off + 3] << 8 | b->p[off + 4];
        if (off + 5 + len > b->len)
            return;
        body += len;
        off += 5 + len;
    }
    if (body == 0 || body > 16384 || off == 5 + body) /* nothing to merge */
        return;
    struct buf nb = {NULL, 0, 0};
    unsigned char hdr[5] = {22, b->p[1], b->p[2], (unsigned char)(body >> 8), (unsigned char)body};
    buf_add(&nb, hdr, 5);
    for (size_t o = 0; o < off;) {
        size_t len = (size_t)b->p[o + 3] << 8 | b->p[o + 4];
        buf_add(&nb, b->p + o + 5, len);
        o += 5 + len;
    }
    buf_add(&nb, b->p + off, b->len - off);
    free(b->p);
    *b = nb;
}

/* Move what `from` pushed into a new flight and into the peer's input; 1 if there was any. */
static int cut_flight(struct hs *h, struct side *from, struct side *to, int c2s)
{
    if (from->out.len == 0)
        return 0;
    if (h->nflights >= MAX_FLIGHTS) {
        fprintf(stderr, "too many flights\n");
        exit(2);
    }
    struct flight *f = &h->flights[h->nflights++];
    f->c2s = c2s;
    if (coalesce)
        coalesce_records(&from->out);
    buf_add(&f->bytes, from->out.p, from->out.len);
    buf_add(&to->in, from->out.p, from->out.len);
    from->out.len = 0;
    return 1;
}

static int session_new(gnutls_session_t *s, unsigned flags, const char *prio, struct hs *h,
                       struct side *sd, const char **err)
{
    int rc = gnutls_init(s, flags);
    if (rc < 0)
        return rc;
    rc = gnutls_priority_set_direct(*s, prio, err);
    if (rc < 0)
        return rc;
    rc = gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, (flags & GNUTLS_SERVER) ? srv_cred : cli_cred);
    if (rc < 0)
        return rc;
    gnutls_session_set_ptr(*s, h);
    gnutls_transport_set_ptr(*s, sd);
    gnutls_transport_set_push_function(*s, push_fn);
    gnutls_transport_set_pull_function(*s, pull_fn);
    sd->s = *s;
    return 0;
}

/* One gnutls_handshake() call of one side unless it is done; -1 (answer printed) on a fatal error. */
static int hs_step(gnutls_session_t s, int *done, const char *who)
{
    if (*done)
        return 0;
    int rc = gnutls_handshake(s);
    if (rc == 0)
        *done = 1;
    else if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) {
        printf("err 0 %d %s: %s\n", rc, who, gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

/* hs <priority> <resume> <flags> */
static void cmd_hs(const char *prio, const char *resume, const char *flags)
{
    if (!prio || !resume || !flags) {
        printf("err 0 0 usage: hs <priority> <resume|-> <flags: - t c tc>\n");
        return;
    }
    if (nhs >= MAX_HS) {
        printf("err 0 0 too many handshakes\n");
        return;
    }
    int use_tickets = strchr(flags, 't') != NULL;
    coalesce = strchr(flags, 'c') != NULL;
    int from = strcmp(resume, "-") ? atoi(resume) : -1;
    if (from >= nhs || (from >= 0 && hss[from].cdata.size == 0)) {
        printf("err 0 0 no session data of handshake %s to resume\n", resume);
        return;
    }
    struct hs *h = &hss[nhs];
    memset(h, 0, sizeof *h);
    static struct side cs, ss; /* reset per handshake; buffers reused */
    cs.out.len = cs.in.len = cs.in_off = 0;
    ss.out.len = ss.in.len = ss.in_off = 0;
    const char *err = NULL;
    unsigned noticket = use_tickets ? 0 : GNUTLS_NO_TICKETS;
    int rc = session_new(&h->client, GNUTLS_CLIENT | noticket, prio, h, &cs, &err);
    if (rc == 0)
        rc = session_new(&h->server, GNUTLS_SERVER | noticket, prio, h, &ss, &err);
    if (rc < 0) {
        printf("err 0 %d %s near '%s'\n", rc, gnutls_strerror(rc), err ? err : "");
        return;
    }
    gnutls_certificate_server_set_request(h->server, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_keylog_function(h->client, keylog_fn);
    if (use_tickets) {
        rc = gnutls_session_ticket_enable_server(h->server, &ticket_key);
    } else {
        gnutls_db_set_retrieve_function(h->server, db_fetch);
        gnutls_db_set_store_function(h->server, db_store);
        gnutls_db_set_remove_function(h->server, db_remove);
        gnutls_db_set_ptr(h->server, NULL);
    }
    if (rc == 0 && from >= 0)
        rc = gnutls_session_set_data(h->client, hss[from].cdata.data, hss[from].cdata.size);
    if (rc < 0) {
        printf("err 0 %d %s\n", rc, gnutls_strerror(rc));
        return;
    }
    int cdone = 0, sdone = 0;
    for (int round = 0; round < 20 && !(cdone && sdone); round++) {
        if (hs_step(h->client, &cdone, "client") < 0)
            return;
        cut_flight(h, &cs, &ss, 1);
        if (hs_step(h->server, &sdone, "server") < 0)
            return;
        cut_flight(h, &ss, &cs, 0);
    }
    if (!(cdone && sdone) || cs.in_off != cs.in.len || ss.in_off != ss.in.len) {
        printf("err 0 0 handshake did not complete (client %d, server %d)\n", cdone, sdone);
        return;
    }
    if (from >= 0 && !(gnutls_session_is_resumed(h->client) && gnutls_session_is_resumed(h->server))) {
        printf("err 0 0 handshake %d was not resumed\n", nhs);
        return;
    }
    rc = gnutls_session_get_data2(h->client, &h->cdata);
    if (rc < 0)
        h->cdata.size = 0;
    printf("ok %d\n", nhs++);
}

static struct hs *get_hs(const char *arg)
{
    int n = arg ? atoi(arg) : -1;
    if (!arg || n < 0 || n >= nhs) {
        printf("err 0 0 no handshake %s\n", arg ? arg : "-");
        return NULL;
    }
    return &hss[n];
}

static int key_block(struct hs *h, unsigned char kb[128])
{
    gnutls_datum_t cr, sr;
    unsigned char seed[64];
    gnutls_session_get_random(h->client, &cr, &sr);
    memcpy(seed, cr.data, 32);
    memcpy(seed + 32, sr.data, 32);
    /* the reference key block: GnuTLS's PRF of the negotiated version, EAP label, cr || sr */
    return gnutls_prf_raw(h->client, sizeof EAP_LABEL - 1, EAP_LABEL, sizeof seed, (const char *)seed, 128,
                          (char *)kb);
}

static void put_kv(const char *k, const void *v, size_t n)
{
    printf(" %s=", k);
    put_hex(v, n);
}

static void cmd_info(const char *arg)
{
    struct hs *h = get_hs(arg);
    if (!h)
        return;
    gnutls_session_t c = h->client;
    unsigned char kb[128], sid[32];
    size_t sidlen = sizeof sid;
    int rc = key_block(h, kb);
    if (rc < 0) {
        printf("err 0 %d prf: %s\n", rc, gnutls_strerror(rc));
        return;
    }
    gnutls_datum_t cr, sr, ms;
    gnutls_session_get_random(c, &cr, &sr);
    gnutls_session_get_master_secret(c, &ms);
    gnutls_session_get_id(c, sid, &sidlen);
    gnutls_kx_algorithm_t kx = gnutls_kx_get(c);
    gnutls_cipher_algorithm_t ci = gnutls_cipher_get(c);
    gnutls_mac_algorithm_t mac = gnutls_mac_get(c);
    const char *prf = gnutls_digest_get_name(gnutls_prf_hash_get(c));
    printf("ok version=%s suite=%s kx=%s cipher=%s mac=%s prf=%s ems=%u resumed=%d",
           gnutls_protocol_get_name(gnutls_protocol_get_version(c)), gnutls_cipher_suite_get_name(kx, ci, mac),
           gnutls_kx_get_name(kx), gnutls_cipher_get_name(ci), gnutls_mac_get_name(mac),
           prf ? prf : "MD5-SHA1", gnutls_session_ext_master_secret_status(c),
           gnutls_session_is_resumed(c));
    put_kv("crandom", cr.data, cr.size);
    put_kv("srandom", sr.data, sr.size);
    put_kv("sid", sid, sidlen);
    put_kv("ms", ms.data, ms.size);
    put_kv("keyblock", kb, sizeof kb);
    printf(" keylog=%s\n", h->keylog[0] ? h->keylog : "-");
}

static void cmd_flights(const char *arg)
{
    struct hs *h = get_hs(arg);
    if (!h)
        return;
    printf("ok");
    for (int i = 0; i < h->nflights; i++) {
        printf(" %s:", h->flights[i].c2s ? "c2s" : "s2c");
        put_hex(h->flights[i].bytes.p, h->flights[i].bytes.len);
    }
    printf("\n");
}

static void cmd_sign(const char *n, const char *who, const char *macname, const char *hex)
{
    struct hs *h = get_hs(n);
    gss_buffer_desc data;
    if (!h)
        return;
    if (!who || !macname || (strcmp(who, "client") && strcmp(who, "server"))) {
        printf("err 0 0 usage: hmac <n> <client|server>:<mac> <hex>\n");
        return;
    }
    gnutls_mac_algorithm_t mac = gnutls_mac_get_id(macname);
    if (mac == GNUTLS_MAC_UNKNOWN) {
        printf("err 0 0 unknown MAC %s\n", macname);
        return;
    }
    if (parse_hex_arg(hex, &data))
        return;
    unsigned char kb[128], out[64];
    int rc = key_block(h, kb);
    if (rc == 0)
        rc = gnutls_hmac_fast(mac, kb + (strcmp(who, "client") == 0 ? 64 : 96), 32, data.value, data.length, out);
    free(data.value);
    if (rc < 0) {
        printf("err 0 %d %s\n", rc, gnutls_strerror(rc));
        return;
    }
    put_ok_hex(out, gnutls_hmac_get_len(mac));
}

static int read_file(const char *path, gnutls_datum_t *d)
{
    return gnutls_load_file(path, d);
}

static void cmd_p12(const char *path, const char *pass)
{
    gnutls_datum_t der = {NULL, 0};
    gnutls_pkcs12_t p12 = NULL;
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t *chain = NULL;
    unsigned nchain = 0;
    unsigned char kid[64], cid[64];
    size_t klen = sizeof kid, clen = sizeof cid;
    if (!path || !pass) {
        printf("err 0 0 usage: p12 <file> <password>\n");
        return;
    }
    const char *pw = strcmp(pass, "-") ? pass : "";
    int rc = read_file(path, &der);
    if (rc == 0)
        rc = gnutls_pkcs12_init(&p12);
    if (rc == 0)
        rc = gnutls_pkcs12_import(p12, &der, GNUTLS_X509_FMT_DER, 0);
    if (rc == 0)
        rc = gnutls_pkcs12_verify_mac(p12, pw);
    if (rc == 0)
        rc = gnutls_pkcs12_simple_parse(p12, pw, &key, &chain, &nchain, NULL, NULL, NULL, 0);
    if (rc == 0 && nchain == 0)
        rc = GNUTLS_E_CERTIFICATE_ERROR;
    if (rc == 0)
        rc = gnutls_x509_privkey_get_key_id(key, 0, kid, &klen);
    if (rc == 0)
        rc = gnutls_x509_crt_get_key_id(chain[0], 0, cid, &clen);
    if (rc < 0)
        printf("err 0 %d %s\n", rc, gnutls_strerror(rc));
    else {
        printf("ok ");
        put_hex(kid, klen);
        printf(" ");
        put_hex(cid, clen);
        printf("\n");
    }
    for (unsigned i = 0; i < nchain; i++)
        gnutls_x509_crt_deinit(chain[i]);
    gnutls_free(chain);
    if (key)
        gnutls_x509_privkey_deinit(key);
    if (p12)
        gnutls_pkcs12_deinit(p12);
    gnutls_free(der.data);
}

static void cmd_keyid(const char *path)
{
    gnutls_datum_t pem = {NULL, 0};
    gnutls_x509_privkey_t key = NULL;
    unsigned char kid[64];
    size_t klen = sizeof kid;
    int rc = path ? read_file(path, &pem) : GNUTLS_E_INVALID_REQUEST;
    if (rc == 0)
        rc = gnutls_x509_privkey_init(&key);
    if (rc == 0)
        rc = gnutls_x509_privkey_import2(key, &pem, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
    if (rc == 0)
        rc = gnutls_x509_privkey_get_key_id(key, 0, kid, &klen);
    if (rc < 0)
        printf("err 0 %d %s\n", rc, gnutls_strerror(rc));
    else
        put_ok_hex(kid, klen);
    if (key)
        gnutls_x509_privkey_deinit(key);
    gnutls_free(pem.data);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s server-cert.pem server-key.pem client-cert.pem client-key.pem\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = gnutls_global_init();
    if (rc == 0)
        rc = gnutls_certificate_allocate_credentials(&srv_cred);
    if (rc == 0)
        rc = gnutls_certificate_allocate_credentials(&cli_cred);
    if (rc == 0)
        rc = gnutls_certificate_set_x509_key_file(srv_cred, argv[1], argv[2], GNUTLS_X509_FMT_PEM);
    if (rc == 0)
        rc = gnutls_certificate_set_x509_key_file(cli_cred, argv[3], argv[4], GNUTLS_X509_FMT_PEM);
    if (rc == 0) /* for DHE-RSA suites */
        rc = gnutls_certificate_set_known_dh_params(srv_cred, GNUTLS_SEC_PARAM_MEDIUM);
    if (rc == 0)
        rc = gnutls_session_ticket_key_generate(&ticket_key);
    if (rc < 0) {
        fprintf(stderr, "setup: %s\n", gnutls_strerror(rc));
        return 2;
    }
    char *line = NULL, *a1, *a2, *a3;
    size_t cap = 0;
    for (char *cmd; (cmd = next_command(&line, &cap, &a1, &a2, &a3)) != NULL;) {
        if (strcmp(cmd, "quit") == 0)
            break;
        else if (strcmp(cmd, "hs") == 0)
            cmd_hs(a1, a2, a3);
        else if (strcmp(cmd, "info") == 0)
            cmd_info(a1);
        else if (strcmp(cmd, "flights") == 0)
            cmd_flights(a1);
        else if (strcmp(cmd, "hmac") == 0) {
            /* next_command gives three arguments: side and MAC share one word */
            char *colon = a2 ? strchr(a2, ':') : NULL;
            if (colon)
                *colon++ = '\0';
            cmd_sign(a1, a2, colon, a3);
        } else if (strcmp(cmd, "p12") == 0)
            cmd_p12(a1, a2);
        else if (strcmp(cmd, "keyid") == 0)
            cmd_keyid(a1);
        else
            printf("err 0 0 unknown command %s\n", cmd);
    }
    free(line);
    return 0;
}
