/* sa_bind.h - which SA an MS-SIPAE auth header belongs to: the binding policy (tracker-internal;
 * the rule itself is written at the top of sa_bind.c). */
#ifndef MSSIPAE_SA_BIND_H
#define MSSIPAE_SA_BIND_H

#include "keytab/keystore.h"
#include "sigbuf/sip_msg.h"
#include "verify/results.h"
#include "verify/sa.h"
#include "verify/sa_table.h"

/* The routing facts of one SIP message, computed once per message and only when a binding
 * needs them (most signed headers name their SA by opaque and never do). */
typedef struct {
    const msg_meta *meta;  /* frame, src, dst */
    int is_request;
    const sip_msg *m;      /* for the transaction, read on first use */
    int txn_read;
    sip_txn txn_;          /* its transaction (for a response: the request it answers): use
                              msg_facts_txn */
} msg_facts;

void msg_facts_init(msg_facts *f, const sip_msg *m, const msg_meta *meta);
void msg_facts_clear(msg_facts *f);
/* The message's transaction (top Via branch, Call-ID, From tag, CSeq). */
const sip_txn *msg_facts_txn(const msg_facts *f);

/* A header that takes part in a handshake (a challenge naming an opaque or carrying a token,
 * credentials or *-Info carrying gssapi-data): finds, creates or binds its SA, feeds the token to
 * the mechanism, and returns the SA (NULL for a first-leg challenge, which only offers a
 * version). */
sa_entry *sa_bind_handshake(sa_table *tab, keystore *ks, const mech_ops *mech, auth_result *a,
                            const msg_facts *f);

/* 0 when sa_bind_handshake would return NULL at once, changing nothing (credentials or *-Info
 * without gssapi-data: the usual signed header), so the call can be skipped. */
static inline int sa_bind_may_handshake(const auth_result *a)
{
    return a->kind == AH_CHALLENGE || a->has_gss;
}

/* A signed header that carried no handshake data: the SA its opaque names, binding or repairing
 * the binding where the policy allows, or an SA made from a key-log entry for the opaque when the
 * handshake is not in the capture; NULL when none. *named is set to 1 when the SA was found by
 * the header's opaque (which then names it: sa_bind_opaque_for would return a->opaque), else 0. */
sa_entry *sa_bind_signed(sa_table *tab, keystore *ks, const mech_ops *mech, auth_result *a,
                         const msg_facts *f, int *named);

/* The opaque to look keys up by for a header on s: the header's own when it names s, else the
 * SA's primary one (may be NULL). */
const char *sa_bind_opaque_for(const sa_entry *s, const auth_result *a);

#endif
