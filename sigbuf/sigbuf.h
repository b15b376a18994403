/* sigbuf.h - the [MS-SIPAE] signature buffer: the bytes GSS_GetMIC is applied to.
 *
 *   v3/v4: <scheme><rand><num><realm><targetname><Call-ID><CSeq-num><CSeq-method><From-URI>
 *          <From-tag><To-URI><To-tag><PAI-sip><PAI-tel><Expires>[<status>]
 *   v2:    <scheme><rand><num><realm><targetname><Call-ID><CSeq-num><CSeq-method><From-URI>
 *          <From-tag><To-tag><Expires>[<status>]
 *
 * Items 1-5 come from the signing header, the rest from the message ([MS-SIPAE] 3.2.5.2,
 * [MS-SIP] 3.1.4.2; items 11-16 from real signatures, see reference §4). Values are copied
 * byte for byte; absent values give "<>"; the status item exists only in responses.
 */
#ifndef MSSIPAE_SIGBUF_H
#define MSSIPAE_SIGBUF_H

#include <glib.h>

#include "sigbuf/sip_msg.h"

/* Items 1-5, taken from the signing header (unquoted values; NULL gives "<>"). */
typedef struct {
    const char *scheme;
    const char *rand;       /* crand or srand */
    const char *num;        /* cnum or snum, the decimal string as sent */
    const char *realm;
    const char *targetname;
    size_t hdr_off, hdr_len;  /* the signing header's line(s) in the message, where items 1-5
                                 are located for sigbuf_build_items (0, 0: unknown) */
} sigbuf_auth;

/* One item of a built buffer, for showing what the signature covers. */
typedef struct {
    const char *name;  /* "Scheme", "Salt", "Sequence number", "Realm", "Target name", "Call-ID",
                          "CSeq number", "CSeq method", "From URI", "From tag", "To URI", "To tag",
                          "PAI sip URI", "PAI tel URI", "Expires", "Status code" (static) */
    size_t off, len;   /* the value inside the buffer (between its '<' and '>') */
    int present;       /* 0 for "<>" made from an absent value */
    int in_msg;        /* 1 when the value's bytes occur verbatim where it was taken from */
    size_t msg_off;    /* then: their offset in the message (len bytes) */
} sigbuf_item;

/* Builds the buffer for protocol version (absent, 1 and 2 give the 13-item layout; 3 and above
 * the 16-item layout). Returns a GString the caller frees. */
GString *sigbuf_build(const sip_msg *m, const sigbuf_auth *a, unsigned version);

/* The same into b (emptied first), a GString the caller reuses from message to message. */
void sigbuf_build_into(const sip_msg *m, const sigbuf_auth *a, unsigned version, GString *b);

/* The same buffer, and one sigbuf_item per item appended to items (a GArray of sigbuf_item):
 * where each value sits in the buffer and, when found verbatim in the header it came from (not
 * for a folded header), in the message. */
GString *sigbuf_build_items(const sip_msg *m, const sigbuf_auth *a, unsigned version,
                            GArray *items);

/* Pieces, exposed for tests. All return g_malloc'd strings or NULL when absent. */
/* URI of a From/To value: inside <...> when present, else the text before the first ';'. */
char *sigbuf_nameaddr_uri(const char *v);
/* Value of the tag parameter of a From/To value, or NULL. */
char *sigbuf_nameaddr_tag(const char *v);
/* Value of parameter name (case-insensitive) in a ";a=b;c" parameter list starting at params
 * (a value ends at ';' or ','); "" for a parameter without value; NULL if absent. */
char *sigbuf_param(const char *params, const char *name);
/* First sip: (want_tel = 0) or tel: (want_tel = 1) URI of a P-Asserted-Identity value. */
char *sigbuf_pai_uri(const char *v, int want_tel);

#endif
