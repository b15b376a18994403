/* authp.h - the MS-SIPAE auth-parameter parser (a pull cursor, like sfparse).
 *
 *   ms-auth = scheme LWS param *(COMMA param);  param = name EQUAL (token / quoted-string)
 *
 * The same shape serves WWW-Authenticate, Proxy-Authenticate, Authorization,
 * Proxy-Authorization, Authentication-Info and Proxy-Authentication-Info. Parameters come in any
 * order; names are case-insensitive; a value may be quoted (with quoted-pair escapes) or not;
 * `name=""` is present-and-empty. Unknown parameters are kept.
 *
 * Duplicate policy: authp_parse keeps every parameter in order; authp_get returns the first
 * instance, and authp_parse reports duplicates of a known parameter in *dups.
 */
#ifndef MSSIPAE_AUTHP_H
#define MSSIPAE_AUTHP_H

#include <glib.h>
#include <stddef.h>

#include "sigbuf/sip_msg.h"

enum { AUTHP_OK = 0, AUTHP_EOF = 1, AUTHP_ERR = -1 };

typedef struct {
    const char *p;
    size_t n;
    size_t off;
    const char *why; /* sticky error text (static) once AUTHP_ERR was returned */
    size_t err_off;  /* where the error was found */
} authp_cursor;

/* Starts a cursor over a header value; reads the scheme token into *scheme.
 * Returns AUTHP_OK, or AUTHP_ERR when there is no scheme token. */
int authp_begin(authp_cursor *c, const char *v, size_t n, slice *scheme);

/* Next parameter: name and raw value (quotes included when quoted). Returns AUTHP_OK,
 * AUTHP_EOF at the end, or AUTHP_ERR (sticky; c->why tells why). */
int authp_next(authp_cursor *c, slice *name, slice *value);

/* The value without quotes and escapes; g_malloc'd. */
char *authp_unquote(slice value, int *was_quoted);

/* The parameters [MS-SIPAE] defines, in the order authp_is_known lists them. */
typedef enum {
    AUTHP_K_REALM = 0,
    AUTHP_K_TARGETNAME,
    AUTHP_K_OPAQUE,
    AUTHP_K_VERSION,
    AUTHP_K_GSSAPI_DATA,
    AUTHP_K_QOP,
    AUTHP_K_CRAND,
    AUTHP_K_SRAND,
    AUTHP_K_CNUM,
    AUTHP_K_SNUM,
    AUTHP_K_RESPONSE,
    AUTHP_K_RSPAUTH,
    AUTHP_K_STS_URI,
    AUTHP_K_COUNT
} authp_known_param;

typedef struct {
    char *name;   /* as on the wire */
    char *value;  /* unquoted */
    int quoted;
    int known;    /* authp_known_param of name, or -1 for a parameter [MS-SIPAE] does not define */
} authp_param;

/* The scheme and every parameter name and value are NUL-terminated strings in one allocation
 * (arena) owned by the header: valid until authp_header_clear, never freed one by one. */
typedef struct {
    char *scheme;     /* as on the wire */
    GArray *params;   /* authp_param, in order */
    char *error;      /* g_malloc'd description when the value could not be parsed to the end;
                         the parameters before the error are kept */
    char *dups;       /* g_malloc'd, names of known parameters that occur more than once, or NULL */
    const char *first[AUTHP_K_COUNT]; /* value of the first instance of each known parameter */
    char *arena;      /* storage of scheme, names and values */
    int borrowed;     /* arena and params are an authp_store's (authp_parse_with): kept */
} authp_header;

/* Storage a caller keeps and reuses from header to header (authp_parse_with): the arena and
 * the parameter array only grow, so a steady stream of headers parses without allocating.
 * Zero-initialise; free with authp_store_free. */
typedef struct {
    char *arena;
    size_t cap;
    GArray *params;   /* authp_param */
} authp_store;

void authp_store_free(authp_store *st);

/* Parses a whole header value. Returns 0 when the value parsed completely, -1 otherwise
 * (h->error set; h is still valid and must be cleared). */
int authp_parse(const char *v, size_t n, authp_header *h);
void authp_header_clear(authp_header *h);

/* authp_parse into st's storage: h->arena and h->params are st's (valid until st is used again
 * or freed); authp_header_clear still frees the rest (error, dups). */
int authp_parse_with(const char *v, size_t n, authp_header *h, authp_store *st);

/* authp_parse_with for a caller that reads the known parameters through h->first only
 * (ahdr): h->params holds just the parameters [MS-SIPAE] does not define, in order (known -1),
 * and a known parameter's name is not copied. Scheme, first, error and dups are as
 * authp_parse_with makes them. */
int authp_parse_others(const char *v, size_t n, authp_header *h, authp_store *st);

/* 1 when name is one of the parameters [MS-SIPAE] defines (realm, targetname, opaque, version,
 * gssapi-data, qop, crand, srand, cnum, snum, response, rspauth, sts-uri), case-insensitively. */
int authp_is_known(const char *name);

/* First value of parameter name (case-insensitive), or NULL when absent. */
const char *authp_get(const authp_header *h, const char *name);

/* authp_known_param of the n-byte name (case-insensitive), or -1. */
int authp_known_index(const char *name, size_t n);

/* authp_get for a known parameter k (authp_known_param), without comparing names. */
const char *authp_get_known(const authp_header *h, int k);

#endif
