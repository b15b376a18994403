/* mech_ntlm.c - the NTLM mechanism of [MS-SIPAE] (datagram NTLM, [MS-NLMP]): keeps the
 * CHALLENGE and AUTHENTICATE of an SA, finds the user's key, and checks signatures.
 *
 * Key sources, in order (design.md, ms-sipae.md 6):
 *   1. a password / NT hash candidate from the keystore whose NTProofStr (NTLMv2) or NT
 *      response (NTLMv1) matches the AUTHENTICATE: a wrong password is NO_KEY, never INVALID;
 *   2. a key-log line "NTLM <opaque> <ExportedSessionKey>": with the AUTHENTICATE's flags when
 *      it was seen, else every plausible flag variant (the one that matched is named).
 * Keys are derived once per SA and cached in the SA state; verify() changes nothing that could
 * change a later result (S's counter-example: no RC4 state or sequence number advances).
 */
#include "verify/mech.h"
#include "sigbuf/codec.h"
#include "verify/ntlm.h"

#include <glib.h>
#include <string.h>

/* Flag sets tried with a key-log key when no AUTHENTICATE told the flags. */
#define NTLM_VARIANT(name, flags) { name, "variant " name ": ", flags }
static const struct {
    const char *name;
    const char *label; /* "variant <name>: ", the prefix of its diagnostic notes */
    uint32_t flags;
} ntlm_variants[] = {
    NTLM_VARIANT("ESS+KEY_EXCH+128", NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_128),
    NTLM_VARIANT("ESS without KEY_EXCH", NTLM_FL_ESS),
    NTLM_VARIANT("non-ESS", 0),
    NTLM_VARIANT("ESS+KEY_EXCH+56", NTLM_FL_ESS | NTLM_FL_KEY_EXCH | NTLM_FL_56),
    NTLM_VARIANT("ESS+KEY_EXCH+40", NTLM_FL_ESS | NTLM_FL_KEY_EXCH),
    NTLM_VARIANT("non-ESS LM_KEY 56-bit", NTLM_FL_LM_KEY | NTLM_FL_56),
    NTLM_VARIANT("non-ESS LM_KEY 40-bit", NTLM_FL_LM_KEY),
};
#define N_VARIANTS G_N_ELEMENTS(ntlm_variants)

/* The variants' flags, in their order (ntlm_ek_match_mask takes them as an array). */
static void variant_flags(uint32_t fl[N_VARIANTS])
{
    for (size_t i = 0; i < N_VARIANTS; i++)
        fl[i] = ntlm_variants[i].flags;
}

/* A why text kept for the messages of an SA that would format the same text again: valid while
 * its inputs (opaque, key-log line, tag: route and variant) are those it was made from. */
typedef struct {
    char *text;              /* one allocation: the text, NUL, then the opaque (issue 10) */
    const char *opaque;      /* into text's allocation, or NULL */
    unsigned line;
    int tag;
} why_cache;

static void why_cache_clear(why_cache *c)
{
    g_free(c->text);
    memset(c, 0, sizeof *c);
}

/* The cached text when it was made from these inputs, else NULL. */
static const char *why_cache_get(const why_cache *c, const char *opaque, unsigned line, int tag)
{
    if (c->text && c->line == line && c->tag == tag && g_strcmp0(c->opaque, opaque) == 0)
        return c->text;
    return NULL;
}

/* Keeps text (taking it) for these inputs; returns it. */
static const char *why_cache_set(why_cache *c, const char *opaque, unsigned line, int tag,
                                 char *text)
{
    why_cache_clear(c);
    size_t tl = strlen(text) + 1, ol = opaque ? strlen(opaque) + 1 : 0;
    c->text = g_realloc(text, tl + ol);
    if (opaque) {
        memcpy(c->text + tl, opaque, ol);
        c->opaque = c->text + tl;
    }
    c->line = line;
    c->tag = tag;
    return c->text;
}

/* Why-cache tags. */
enum { WHY_KL_KNOWN = -1, WHY_KL_NONE = -2, /* >= 0: the index of the variant that matched */
       WHY_NO_KEY = -3 };                        /* no route had a key (why_bad, line 0) */

/* What the handshake of an SA gave: its messages and the password route. Allocated when the
 * first handshake token arrives, so an SA known from the key log alone does not carry it. */
typedef struct {
    int have_chal;
    ntlm_challenge chal;
    int have_auth;
    ntlm_authenticate auth;
    char *auth_err;          /* why the last AUTHENTICATE could not be parsed, or NULL */
    char *chal_err;          /* same for the last CHALLENGE */

    /* Password route, derived once from (CHALLENGE, AUTHENTICATE, keystore). */
    int pw_done;
    int pw_ok;               /* pw_ek usable, under pw_flags */
    int pw_mismatch;         /* candidates existed and none matched: note on every message */
    char *pw_why;            /* ok: "NTLMv2+ESS+KEY_EXCH+128, key from ..."; else the reason */
    char *pw_inv_why;        /* ok: "signature does not match (<pw_why>)", made once */
    uint32_t pw_flags;       /* the AUTHENTICATE's flags */
    ntlm_ek pw_ek;
} ntlm_hs;

/* Per-SA state. hs is set on the first pass by on_token; the caches are filled by verify. */
typedef struct {
    ntlm_hs *hs;             /* NULL until a handshake token arrives */

    /* Key-log route cache: kl.esk's keys (derived piece by piece as flag sets need them) for
     * kl_n flag sets, the first kl_flags0. */
    int kl_valid;
    uint32_t kl_flags0;      /* first flag set, to notice a change from variants to known flags */
    uint8_t kl_n;
    uint8_t kl_hit;          /* 1 + the variant a signature verified with (kl.esk), or 0: tried
                                first (a cryptographic match, which a forger cannot produce) */
    ntlm_ek kl;              /* kl.esk is the key-log key */

    ks_keylog_memo kl_memo;  /* the key-log lookup, kept until the key log changes */
    why_cache why_ok;        /* key-log route: the VALID text */
    why_cache why_bad;       /* key-log route: the INVALID text */
    GPtrArray *later;        /* ntlm_later*, what the SA's NOTE_LATER notes name; NULL when none */
} ntlm_sa;

/* A reflection check left to explain (mech.h: verify's later): the keys and flags it runs
 * with, kept for the whole capture (the SA's keys may change after: a new handshake token, an
 * edited key log), and the text of the NOTE_LATER notes that name it. */
#define NTLM_LATER_MAX 16 /* per SA; beyond, the check is made at once */
typedef struct {
    char text[32];           /* "NTLM reflection check <index>" (borrowed by the notes) */
    uint8_t esk[16];
    uint32_t flags;          /* diagnose: the flags (variants 0) */
    uint32_t variants;       /* diagnose_variants: the ESS variants to check, as a bit mask */
} ntlm_later;

/* Little-endian 32-bit read. */
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A fresh SA: nothing seen, nothing derived. */
static void *ntlm_sa_new(void *cap)
{
    return g_new0(ntlm_sa, 1);
}

/* The handshake state, allocated when first needed. */
static ntlm_hs *hs_get(ntlm_sa *st)
{
    if (!st->hs)
        st->hs = g_new0(ntlm_hs, 1);
    return st->hs;
}

/* Forgets every derived key (a new handshake token changes the inputs). */
static void ntlm_sa_reset_keys(ntlm_sa *st)
{
    ntlm_hs *hs = st->hs;
    if (hs) {
        g_free(hs->pw_why);
        hs->pw_why = NULL;
        g_free(hs->pw_inv_why);
        hs->pw_inv_why = NULL;
        hs->pw_done = hs->pw_ok = hs->pw_mismatch = 0;
        ntlm_ek_clear(&hs->pw_ek);
    }
    st->kl_valid = 0;
    st->kl_hit = 0;
    ntlm_ek_clear(&st->kl);
    /* the texts name the AUTHENTICATE's mode, which a new token may change */
    why_cache_clear(&st->why_ok);
    why_cache_clear(&st->why_bad);
}

/* Frees the SA, wiping derived keys first. */
static void ntlm_sa_free(void *p)
{
    ntlm_sa *st = p;
    if (!st)
        return;
    ntlm_sa_reset_keys(st);
    keystore_keylog_memo_clear(&st->kl_memo);
    for (guint i = 0; st->later && i < st->later->len; i++) {
        ntlm_later *e = g_ptr_array_index(st->later, i);
        secure_wipe(e, sizeof *e);
        g_free(e);
    }
    if (st->later)
        g_ptr_array_free(st->later, TRUE);
    ntlm_hs *hs = st->hs;
    if (hs) {
        ntlm_challenge_clear(&hs->chal);
        ntlm_authenticate_clear(&hs->auth);
        g_free(hs->auth_err);
        g_free(hs->chal_err);
        secure_wipe(hs, sizeof *hs);
        g_free(hs);
    }
    secure_wipe(st, sizeof *st);
    g_free(st);
}

/* "NTLMv2+ESS+KEY_EXCH+128" style name of a mode, for why texts. version may be NULL. */
static char *mode_label(const char *version, uint32_t flags)
{
    GString *s = g_string_new(version ? version : "");
    if (flags & NTLM_FL_ESS) {
        g_string_append(s, s->len ? "+ESS" : "ESS");
        if (flags & NTLM_FL_KEY_EXCH)
            g_string_append_printf(s, "+KEY_EXCH+%s", (flags & NTLM_FL_128) ? "128"
                                                      : (flags & NTLM_FL_56) ? "56" : "40");
    } else {
        g_string_append(s, s->len ? " without ESS" : "non-ESS");
        if (flags & NTLM_FL_KEY_EXCH)
            g_string_append(s, "+KEY_EXCH");
        if (flags & NTLM_FL_LM_KEY)
            g_string_append_printf(s, "+LM_KEY (%s-bit seal key)",
                                   (flags & NTLM_FL_56) ? "56" : "40");
        else if (flags & NTLM_FL_NON_NT_SESSION_KEY)
            g_string_append(s, "+NON_NT_SESSION_KEY");
    }
    return g_string_free(s, FALSE);
}

/* Which NTLM the AUTHENTICATE used, told by the NtChallengeResponse length ([MS-NLMP] 3.3). */
static const char *auth_version(const ntlm_authenticate *a)
{
    return a->nt_len > 24 ? "NTLMv2" : a->nt_len == 24 ? "NTLMv1" : "NTLM (no NT response)";
}

/* Finds the user's key from the password candidates; result cached in st (done once). */
static void pw_derive(ntlm_hs *st, keystore *ks)
{
    if (st->pw_done)
        return;
    st->pw_done = 1;
    const ntlm_authenticate *a = &st->auth;
    const uint8_t *sc = st->chal.server_challenge;
    char *who = g_strdup_printf("%s\\%s", a->domain, a->user);
    /* every intermediate secret, wiped on every path out (success or not) */
    uint8_t ntowfv2[16], proof[16], sbk[16], kx[16], esk[16];
    int v2 = a->nt_len > 24;
    int ess = (a->flags & NTLM_FL_ESS) != 0;

    if (a->nt_len == 0) {
        st->pw_why = g_strdup_printf("the AUTHENTICATE for %s carries no NT response "
                                     "(anonymous or LM-only): no key can be derived", who);
        goto out;
    }
    if (a->nt_len != 24 && a->nt_len < 16 + 28) {
        st->pw_why = g_strdup_printf("the NtChallengeResponse for %s has %zu bytes: neither "
                                     "NTLMv1 (24) nor NTLMv2 (at least 44)", who, a->nt_len);
        goto out;
    }
    if (!v2 && ess && a->lm_len < 8) {
        st->pw_why = g_strdup_printf("NTLMv1+ESS AUTHENTICATE for %s lacks the client challenge "
                                     "(LmChallengeResponse of %zu bytes)", who, a->lm_len);
        goto out;
    }

    const ks_nt_cred **cands = NULL;
    size_t n = ks ? keystore_nt_candidates(ks, a->domain, a->user, &cands) : 0;
    if (n == 0) {
        st->pw_why = g_strdup_printf("no password or NT hash for %s", who);
        g_free(cands);
        goto out;
    }

    const ks_nt_cred *hit = NULL;
    for (size_t i = 0; i < n && !hit; i++) {
        if (v2) {
            /* NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge || NtChallengeResponse[16..])
             * must equal NtChallengeResponse[0..15]  ([MS-NLMP] 3.3.2) */
            if (ntlm_ntowfv2_u16(cands[i]->nt_hash, a->user16, a->user16_len, a->domain16,
                                 a->domain16_len, ntowfv2) != 0)
                continue;
            ntlm_ntproofstr(ntowfv2, sc, a->nt_resp + 16, a->nt_len - 16, proof);
            if (ct_memeq(proof, a->nt_resp, 16))
                hit = cands[i];
        } else {
            /* NtChallengeResponse = DESL(NTOWFv1, ServerChallenge) or, with ESS,
             * DESL(NTOWFv1, MD5(ServerChallenge || LmChallengeResponse[0..7])[0..7]) (3.3.1) */
            uint8_t resp[24];
            ntlm_v1_response(cands[i]->nt_hash, sc, a->lm_resp, ess, resp);
            if (ct_memeq(resp, a->nt_resp, 24))
                hit = cands[i];
        }
    }
    if (!hit) {
        st->pw_mismatch = 1;
        st->pw_why = g_strdup_printf("password/NT hash for %s does not match (%zu tried)", who, n);
        g_free(cands);
        goto out;
    }

    const char *err = NULL;
    if (v2) {
        /* SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr); KeyExchangeKey = SessionBaseKey */
        ntlm_v2_session_base_key(ntowfv2, proof, sbk);
        memcpy(kx, sbk, 16);
    } else {
        /* SessionBaseKey = MD4(NTOWFv1); KeyExchangeKey per [MS-NLMP] 3.4.5.1 */
        ntlm_v1_session_base_key(hit->nt_hash, sbk);
        uint8_t lmowf[16];
        int have_lm = 0;
        if (!ess && (a->flags & (NTLM_FL_LM_KEY | NTLM_FL_NON_NT_SESSION_KEY))) {
            if (!hit->password) {
                st->pw_why = g_strdup_printf(
                    "NTLMv1 %s needs the LM hash, but only the NT hash of %s is known (%s)",
                    (a->flags & NTLM_FL_LM_KEY) ? "LM_KEY" : "REQUEST_NON_NT_SESSION_KEY", who,
                    hit->origin);
                g_free(cands);
                goto out;
            }
            if (ntlm_lmowfv1(hit->password, lmowf) != 0) {
                st->pw_why = g_strdup_printf(
                    "NTLMv1 %s needs the LM hash of the password of %s (%s), which is unknown "
                    "for non-ASCII passwords (OEM code page)",
                    (a->flags & NTLM_FL_LM_KEY) ? "LM_KEY" : "REQUEST_NON_NT_SESSION_KEY", who,
                    hit->origin);
                g_free(cands);
                goto out;
            }
            have_lm = 1;
        }
        int rc = ntlm_v1_kxkey(a->flags, sbk, sc, a->lm_resp, a->lm_len, have_lm ? lmowf : NULL,
                               kx, &err);
        secure_wipe(lmowf, sizeof lmowf);
        if (rc != 0) {
            st->pw_why = g_strdup_printf("NTLMv1 key exchange for %s: %s", who, err);
            g_free(cands);
            goto out;
        }
    }
    /* ExportedSessionKey = KEY_EXCH ? RC4(KeyExchangeKey, EncryptedRandomSessionKey) : KXKEY */
    if (ntlm_exported_session_key(a->flags, kx, a->enc_key, a->enc_len, esk) != 0) {
        st->pw_why = g_strdup_printf("KEY_EXCH is set but the EncryptedRandomSessionKey of %s "
                                     "has %zu bytes (16 expected)", who, a->enc_len);
        g_free(cands);
        goto out;
    }
    ntlm_ek_init(&st->pw_ek, esk);
    st->pw_flags = a->flags;
    char *label = mode_label(auth_version(a), a->flags);
    st->pw_why = g_strdup_printf("%s, key from %s", label, hit->origin);
    g_free(label);
    st->pw_ok = 1;
    g_free(cands);
out:
    secure_wipe(ntowfv2, sizeof ntowfv2);
    secure_wipe(proof, sizeof proof);
    secure_wipe(sbk, sizeof sbk);
    secure_wipe(kx, sizeof kx);
    secure_wipe(esk, sizeof esk);
    g_free(who);
}

/* Notes that a CHALLENGE arrived, with what it says about the server (no secrets). */
static void note_challenge(const ntlm_challenge *c, note_list *notes)
{
    char *fl = ntlm_flags_describe(c->flags);
    GString *s = g_string_new("NTLM CHALLENGE");
    if (c->nb_computer || c->dns_computer)
        g_string_append_printf(s, " from %s", c->dns_computer ? c->dns_computer : c->nb_computer);
    if (c->nb_domain || c->target_name)
        g_string_append_printf(s, " (domain %s)", c->nb_domain ? c->nb_domain : c->target_name);
    g_string_append_printf(s, ", flags %08x (%s)", c->flags, fl);
    note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT, "%s", s->str);
    g_string_free(s, TRUE);
    g_free(fl);
    if (c->av_problem)
        note_add(notes, NOTE_MALFORMED, NOTE_SEV_WARN, "NTLM CHALLENGE: %s", c->av_problem);
}

/* Notes what an AUTHENTICATE says: who, from where, which NTLM, which flags (no secrets). */
static void note_authenticate(const ntlm_authenticate *a, note_list *notes)
{
    char *fl = ntlm_flags_describe(a->flags);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "NTLM AUTHENTICATE %s\\%s", a->domain, a->user);
    if (*a->workstation)
        g_string_append_printf(s, ", workstation %s", a->workstation);
    g_string_append_printf(s, ", %s", auth_version(a));
    g_string_append_printf(s, ", %s", (a->flags & NTLM_FL_ESS) ? "ESS" : "no ESS");
    if (a->flags & NTLM_FL_KEY_EXCH)
        g_string_append(s, ", KEY_EXCH");
    if (a->flags & NTLM_FL_128)
        g_string_append(s, ", 128-bit");
    else if (a->flags & NTLM_FL_56)
        g_string_append(s, ", 56-bit");
    g_string_append_printf(s, "; flags %08x (%s)", a->flags, fl);
    if (a->mic_flag)
        g_string_append(s, "; MIC present (not checked)");
    if (a->oem_non_ascii)
        g_string_append(s, "; OEM strings with non-ASCII bytes read as Latin-1");
    note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT, "%s", s->str);
    g_string_free(s, TRUE);
    g_free(fl);
    if (a->av_problem)
        note_add(notes, NOTE_MALFORMED, NOTE_SEV_WARN, "NTLM AUTHENTICATE: %s", a->av_problem);
}

/* Takes one handshake token: CHALLENGE (server) or AUTHENTICATE (client). */
static void ntlm_on_token(void *vst, mssipae_dir dir, const uint8_t *tok, size_t len,
                          keystore *ks, note_list *notes)
{
    ntlm_sa *sa = vst;
    ntlm_hs *st = hs_get(sa);
    char *err = NULL;
    uint32_t type = ntlm_message_type(tok, len);
    if (type == 2) {
        if (dir != DIR_S2C)
            note_add(notes, NOTE_MALFORMED, NOTE_SEV_WARN,
                     "NTLM CHALLENGE message sent by the client");
        ntlm_challenge c;
        ntlm_sa_reset_keys(sa);
        if (ntlm_parse_challenge(tok, len, &c, &err) != 0) {
            note_add(notes, NOTE_MALFORMED, NOTE_SEV_ERROR, "NTLM CHALLENGE: %s", err);
            ntlm_challenge_clear(&st->chal);
            st->have_chal = 0;
            g_free(st->chal_err);
            st->chal_err = err;
            return;
        }
        ntlm_challenge_clear(&st->chal);
        st->chal = c;
        st->have_chal = 1;
        g_free(st->chal_err);
        st->chal_err = NULL;
        note_challenge(&st->chal, notes);
    } else if (type == 3) {
        if (dir != DIR_C2S)
            note_add(notes, NOTE_MALFORMED, NOTE_SEV_WARN,
                     "NTLM AUTHENTICATE message sent by the server");
        ntlm_authenticate a;
        ntlm_sa_reset_keys(sa);
        if (ntlm_parse_authenticate(tok, len, &a, &err) != 0) {
            note_add(notes, NOTE_MALFORMED, NOTE_SEV_ERROR, "NTLM AUTHENTICATE: %s", err);
            ntlm_authenticate_clear(&st->auth);
            st->have_auth = 0;
            g_free(st->auth_err);
            st->auth_err = err;
            return;
        }
        if (st->have_auth)
            note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                     "a second NTLM AUTHENTICATE on this SA replaces the first");
        ntlm_authenticate_clear(&st->auth);
        st->auth = a;
        st->have_auth = 1;
        g_free(st->auth_err);
        st->auth_err = NULL;
        note_authenticate(&st->auth, notes);
        if (st->have_chal && ks) {
            pw_derive(st, ks);
            if (st->pw_ok)
                note_add(notes, NOTE_TOKEN, NOTE_SEV_CHAT, "NTLM password check passed: %s",
                         st->pw_why);
        } else if (!st->have_chal) {
            note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                     "NTLM AUTHENTICATE without a CHALLENGE on this SA: the password cannot "
                     "be checked");
        }
    } else if (type == 1) {
        note_add(notes, NOTE_TOKEN, NOTE_SEV_NOTE,
                 "NTLM NEGOTIATE message seen (not used by datagram NTLM in SIP); ignored");
    } else if (type == 0) {
        note_add(notes, NOTE_MALFORMED, NOTE_SEV_ERROR,
                 "NTLM handshake token of %zu bytes is not an NTLMSSP message", len);
    } else {
        note_add(notes, NOTE_MALFORMED, NOTE_SEV_ERROR, "NTLMSSP message of unknown type %u",
                 type);
    }
}

/* The diagnostic notes, one text each for diagnose and diagnose_variants. */
static void note_seq0(note_list *notes, const char *label)
{
    note_add(notes, NOTE_INVALID, NOTE_SEV_WARN,
             "%sthe signature would match with SeqNum 0 instead of 100", label);
}

static void note_wire_seq(note_list *notes, const char *label, uint32_t wire, int m)
{
    note_add(notes, NOTE_INVALID, NOTE_SEV_WARN,
             "%sthe signature carries SeqNum %u ([MS-SIPAE] uses 100)%s", label, wire,
             m ? " and matches with it" : "");
}

static void note_reflected(note_list *notes, const char *label, mssipae_dir dir)
{
    note_add(notes, NOTE_INVALID, NOTE_SEV_ERROR,
             "%sthe signature matches the %s keys: a reflected message (signed by the %s, "
             "presented as the %s's)", label,
             dir == DIR_C2S ? "server-to-client" : "client-to-server",
             dir == DIR_C2S ? "server" : "client", dir == DIR_C2S ? "client" : "server");
}

/* Leaves the reflection check of diagnose (variants 0: under flags) or of diagnose_variants
 * (the ESS variants of mask variants) with keys k to explain: a NOTE_LATER note naming an
 * entry of st->later. 0 when the SA has NTLM_LATER_MAX entries already (the caller checks at
 * once). Every wrong signature of an SA names the same entry, so their notes are one list. */
static int note_later(ntlm_sa *st, const ntlm_ek *k, uint32_t flags, uint32_t variants,
                      note_list *notes)
{
    if (!notes) /* nobody keeps the notes: nothing to check, now or later */
        return 1;
    ntlm_later *e = NULL;
    for (guint i = st->later ? st->later->len : 0; i-- > 0;) {
        ntlm_later *c = g_ptr_array_index(st->later, i);
        if (c->flags == flags && c->variants == variants && memcmp(c->esk, k->esk, 16) == 0) {
            e = c;
            break;
        }
    }
    if (!e) {
        if (!st->later)
            st->later = g_ptr_array_new();
        if (st->later->len >= NTLM_LATER_MAX)
            return 0;
        e = g_new0(ntlm_later, 1);
        g_snprintf(e->text, sizeof e->text, "NTLM reflection check %u", st->later->len);
        memcpy(e->esk, k->esk, 16);
        e->flags = flags;
        e->variants = variants;
        g_ptr_array_add(st->later, e);
    }
    /* in place of reflected notes, which are errors: the verdict's own severity */
    mssipae_note n = { .text = e->text, .kind = NOTE_LATER, .sev = NOTE_SEV_ERROR,
                       .fact = FACT_NONE, .borrowed = 1 };
    g_array_append_val(notes, n);
    return 1;
}

/* Cheap explanations of a failed check with known flags, as notes only (the verdict stays
 * INVALID): SeqNum 0 or the SeqNum in the token, the other direction's keys (reflection), and
 * the other non-ESS seal-key lengths. (diagnose_variants does the same for the flag variants,
 * keeping only the findings that match.) With st (verify's later), the reflection check, a
 * second HMAC, is left to explain. */
static void diagnose(ntlm_sa *st, ntlm_ek *k, uint32_t flags, mssipae_dir dir,
                     ntlm_mac_memo *mm, const uint8_t *sig, note_list *notes)
{
    const char *label = "";
    /* With ESS a MAC ends in LE32(SeqNum), in clear: a finding for another SeqNum than the
     * signature carries cannot match and costs no HMAC (issue 10; ntlm_ek_matches checks the
     * same again). */
    int ess = (flags & NTLM_FL_ESS) != 0;
    uint32_t wire = rd32(sig + 12);
    if ((!ess || wire == 0) && ntlm_ek_matches(k, flags, dir, 0, mm, sig))
        note_seq0(notes, label);
    if (ess) {
        if (wire != NTLM_SEQ_SIP && wire != 0) {
            int m = ntlm_ek_matches(k, flags, dir, wire, mm, sig);
            note_wire_seq(notes, label, wire, m);
        }
        if (wire == NTLM_SEQ_SIP && !(st && note_later(st, k, flags, 0, notes)) &&
            ntlm_ek_matches(k, flags, !dir, NTLM_SEQ_SIP, mm, sig))
            note_reflected(notes, label, dir);
    } else {
        /* The seal-key choices of [MS-NLMP] 3.4.5.3 other than the one used (two choices give
         * the same key only when they are the same choice: the full key has 16 bytes, the
         * weakened ones 8, ending in A0 (56-bit) or B0 (40-bit)). */
        static const struct { const char *name; uint32_t flags; } alt[] = {
            { "full 16-byte", 0 },
            { "[MS-NLMP] 56-bit weakened", NTLM_FL_LM_KEY | NTLM_FL_56 },
            { "[MS-NLMP] 40-bit weakened", NTLM_FL_LM_KEY },
        };
        static const uint32_t alt_flags[] = NTLM_NOESS_ALT_FLAGS;
        G_STATIC_ASSERT(G_N_ELEMENTS(alt) == G_N_ELEMENTS(alt_flags));
        int used = ntlm_noess_choice(flags);
        for (size_t i = 0; i < G_N_ELEMENTS(alt); i++) {
            g_assert(alt[i].flags == alt_flags[i]); /* ek alt i is this choice's keystream */
            if ((int)i == used)
                continue;
            if (ntlm_ek_noess_alt_matches(k, (int)i, NTLM_SEQ_SIP, mm, sig))
                note_add(notes, NOTE_INVALID, NOTE_SEV_WARN,
                         "%sthe signature would match with the %s seal key", label, alt[i].name);
        }
    }
}

/* The diagnostics of diagnose for every variant i in order (k under fl[i]), each note prefixed
 * with the variant's label and kept only when its check matches (the rest is noise when
 * guessing), after a variant search in which none matched. Each check is done for all variants
 * at once (ntlm_ek_match_mask), and only where it can match: with ESS the SeqNum is in clear;
 * the other non-ESS seal-key choices of diagnose are the non-ESS variants, which all failed
 * with the same inputs (SeqNum 100, direction dir), so they are not tried again. */
static void diagnose_variants(ntlm_sa *st, ntlm_ek *k, const uint32_t fl[N_VARIANTS],
                              mssipae_dir dir, ntlm_mac_memo *mm, const uint8_t *sig,
                              note_list *notes)
{
    uint32_t all = (1u << N_VARIANTS) - 1, ess = 0;
    for (size_t i = 0; i < N_VARIANTS; i++)
        if (fl[i] & NTLM_FL_ESS)
            ess |= 1u << i;
    uint32_t wire = rd32(sig + 12);
    int odd = wire != NTLM_SEQ_SIP && wire != 0;
    uint32_t m0 = ntlm_ek_match_mask(k, fl, N_VARIANTS, wire == 0 ? all : all & ~ess, 0, dir, 0,
                                     mm, sig);
    uint32_t mw = odd ? ntlm_ek_match_mask(k, fl, N_VARIANTS, ess, 0, dir, wire, mm, sig) : 0;
    /* with st (verify's later) and nothing else found, the reflection check alone would make
     * notes, one per ESS variant in order: left to explain */
    if (wire == NTLM_SEQ_SIP && st && !m0 && ess && note_later(st, k, 0, ess, notes))
        return;
    uint32_t mr = wire == NTLM_SEQ_SIP
                      ? ntlm_ek_match_mask(k, fl, N_VARIANTS, ess, 0, !dir, NTLM_SEQ_SIP, mm, sig)
                      : 0;
    if (!(m0 | mw | mr))
        return;
    for (size_t i = 0; i < N_VARIANTS; i++) {
        const char *label = ntlm_variants[i].label;
        uint32_t bit = 1u << i;
        if (m0 & bit)
            note_seq0(notes, label);
        if (ess & bit) {
            if (odd && (mw & bit))
                note_wire_seq(notes, label, wire, 1);
            if (mr & bit)
                note_reflected(notes, label, dir);
        }
        /* non-ESS: the other seal-key choices are the non-ESS variants, which all failed */
    }
}

/* Checks sig with known keys (k under flags): 1 when it matches, else 0 after the diagnostic
 * notes (the reflection check left to explain when later is the SA, NULL: made at once). */
static int check_keys(ntlm_sa *later, ntlm_ek *k, uint32_t flags, mssipae_dir dir,
                      ntlm_mac_memo *mm, const uint8_t *sig, note_list *notes)
{
    int ok = ntlm_ek_matches(k, flags, dir, NTLM_SEQ_SIP, mm, sig);
    if (!ok)
        diagnose(later, k, flags, dir, mm, sig, notes);
    return ok;
}

/* Readies the key-log cache for ExportedSessionKey esk under n flag sets, the first flags0:
 * kept when they are those of the cache, else the variant hint is forgotten (and the derived
 * pieces too when the key changed). */
static void kl_prepare(ntlm_sa *st, const uint8_t esk[16], uint32_t flags0, size_t n)
{
    if (st->kl_valid && st->kl_n == n && st->kl_flags0 == flags0 &&
        memcmp(st->kl.esk, esk, 16) == 0)
        return;
    if (!st->kl_valid || memcmp(st->kl.esk, esk, 16) != 0)
        ntlm_ek_init(&st->kl, esk);
    st->kl_hit = 0;
    st->kl_flags0 = flags0;
    st->kl_n = (uint8_t)n;
    st->kl_valid = 1;
}

/* 1 when sig matches variant i of the prepared key-log key. */
static int kl_variant_matches(ntlm_sa *st, size_t i, mssipae_dir dir, ntlm_mac_memo *mm,
                              const uint8_t *sig)
{
    return ntlm_ek_matches(&st->kl, ntlm_variants[i].flags, dir, NTLM_SEQ_SIP, mm, sig);
}

/* The key-log route: known flags when an AUTHENTICATE was seen, else every variant. */
static sig_verdict verify_keylog(ntlm_sa *st, const keylog_entry *e, const char *opaque,
                                 mssipae_dir dir, const uint8_t *buf, size_t buflen,
                                 const uint8_t *sig, note_list *notes, int later)
{
    if (e->key1_len != 16) {
        note_add(notes, NOTE_CONFIG, NOTE_SEV_WARN,
                 "key-log entry NTLM %s (line %u) has a %zu-byte key; NTLM needs 16", opaque,
                 e->line, e->key1_len);
        return verdict_make(SIG_NO_KEY, "key-log entry NTLM %s (line %u) has a %zu-byte key, "
                            "16 expected", opaque, e->line, e->key1_len);
    }
    ntlm_mac_memo mm;
    ntlm_mac_memo_init(&mm, buf, buflen);
    sig_verdict v;
    if (st->hs && st->hs->have_auth) {
        uint32_t fl = st->hs->auth.flags;
        kl_prepare(st, e->key1, fl, 1);
        const char *src = why_cache_get(&st->why_ok, opaque, e->line, WHY_KL_KNOWN);
        if (!src) {
            char *label = mode_label(auth_version(&st->hs->auth), fl);
            src = why_cache_set(&st->why_ok, opaque, e->line, WHY_KL_KNOWN,
                                g_strdup_printf("%s, key from key-log entry NTLM %s (line %u)",
                                                label, opaque, e->line));
            g_free(label);
        }
        if (check_keys(later ? st : NULL, &st->kl, fl, dir, &mm, sig, notes)) {
            v = verdict_copy(SIG_VALID, src);
        } else {
            const char *bad = why_cache_get(&st->why_bad, opaque, e->line, WHY_KL_KNOWN);
            if (!bad)
                bad = why_cache_set(&st->why_bad, opaque, e->line, WHY_KL_KNOWN,
                                    g_strdup_printf("signature does not match (%s)", src));
            v = verdict_copy(SIG_INVALID, bad);
        }
        ntlm_mac_memo_clear(&mm);
        return v;
    }
    kl_prepare(st, e->key1, ntlm_variants[0].flags, N_VARIANTS);
    uint32_t fl[N_VARIANTS];
    variant_flags(fl);
    /* The variant that verified a signature of this SA first, then the others in order (one
     * pass that stops at the first match). */
    int hit = -1;
    size_t tried = st->kl_hit ? (size_t)st->kl_hit - 1 : N_VARIANTS;
    if (tried < N_VARIANTS && kl_variant_matches(st, tried, dir, &mm, sig))
        hit = (int)tried;
    if (hit < 0) {
        uint32_t want = (1u << N_VARIANTS) - 1;
        if (tried < N_VARIANTS)
            want &= ~(1u << tried);
        uint32_t mk = ntlm_ek_match_mask(&st->kl, fl, N_VARIANTS, want, 1, dir, NTLM_SEQ_SIP,
                                         &mm, sig);
        if (mk)
            hit = g_bit_nth_lsf(mk, -1);
    }
    if (hit >= 0) {
        st->kl_hit = (uint8_t)(hit + 1);
        const char *ok = why_cache_get(&st->why_ok, opaque, e->line, hit);
        if (!ok)
            ok = why_cache_set(&st->why_ok, opaque, e->line, hit, g_strdup_printf(
                "key from key-log entry NTLM %s (line %u); no handshake seen, variant %s matched",
                opaque, e->line, ntlm_variants[hit].name));
        ntlm_mac_memo_clear(&mm);
        return verdict_copy(SIG_VALID, ok);
    }
    /* every variant failed above, the three non-ESS seal-key choices among them */
    diagnose_variants(later ? st : NULL, &st->kl, fl, dir, &mm, sig, notes);
    ntlm_mac_memo_clear(&mm);
    const char *bad = why_cache_get(&st->why_bad, opaque, e->line, WHY_KL_NONE);
    if (!bad)
        bad = why_cache_set(&st->why_bad, opaque, e->line, WHY_KL_NONE, g_strdup_printf(
            "signature matches none of the flag variants with key-log entry NTLM %s (line %u); "
            "no handshake seen", opaque, e->line));
    return verdict_copy(SIG_INVALID, bad);
}

/* ntlm_verify's reason when no route had a key. */
static char *no_key_text(const ntlm_hs *hs, const char *opaque)
{
    GString *why = g_string_new(NULL);
    if (hs && hs->have_auth && hs->have_chal)
        g_string_append(why, hs->pw_why);
    else if (hs && hs->have_auth)
        g_string_append_printf(why, "no NTLM CHALLENGE seen for %s\\%s (password cannot be "
                               "checked)", hs->auth.domain, hs->auth.user);
    else if (hs && hs->auth_err)
        g_string_append_printf(why, "the NTLM AUTHENTICATE could not be parsed (%s)",
                               hs->auth_err);
    else if (hs && hs->have_chal)
        g_string_append(why, "no NTLM AUTHENTICATE seen");
    else
        g_string_append(why, "no NTLM handshake seen");
    if (opaque)
        g_string_append_printf(why, " and no key-log entry NTLM %s", opaque);
    else
        g_string_append(why, " and no opaque to look up a key-log entry");
    return g_string_free(why, FALSE);
}

/* Checks one signature: the password route first, then the key log, else NO_KEY naming
 * everything that was looked up (mech.h contract). */
static sig_verdict ntlm_verify(void *vst, keystore *ks, const char *opaque, mssipae_dir dir,
                               const uint8_t *buf, size_t buflen, const uint8_t *sig,
                               size_t siglen, note_list *notes, int later)
{
    ntlm_sa *st = vst;
    if (!sig || siglen != 16)
        return verdict_make(SIG_MALFORMED, "NTLM signature has %zu bytes, 16 expected", siglen);
    if (rd32(sig) != 1)
        return verdict_make(SIG_MALFORMED, "NTLM signature version %02x%02x%02x%02x, "
                            "01000000 expected", sig[0], sig[1], sig[2], sig[3]);
    if (!buf)
        buflen = 0;

    /* 1. password / NT hash, checked against the handshake */
    ntlm_hs *hs = st->hs;
    if (hs && hs->have_auth && hs->have_chal) {
        pw_derive(hs, ks);
        if (hs->pw_ok) {
            ntlm_mac_memo mm;
            ntlm_mac_memo_init(&mm, buf, buflen);
            int ok = check_keys(later ? st : NULL, &hs->pw_ek, hs->pw_flags, dir, &mm, sig,
                                notes);
            ntlm_mac_memo_clear(&mm);
            if (ok)
                return verdict_copy(SIG_VALID, hs->pw_why);
            if (!hs->pw_inv_why)
                hs->pw_inv_why = g_strdup_printf("signature does not match (%s)", hs->pw_why);
            return verdict_copy(SIG_INVALID, hs->pw_inv_why);
        }
        if (hs->pw_mismatch)
            note_add_text(notes, NOTE_NO_KEY, NOTE_SEV_WARN, hs->pw_why);
    }

    /* 2. key log */
    const keylog_entry *e = (ks && opaque) ? keystore_keylog_find_memo(ks, KEYLOG_NTLM, opaque, &st->kl_memo) : NULL;
    if (e)
        return verify_keylog(st, e, opaque, dir, buf, buflen, sig, notes, later);

    /* 3. nothing: say what was looked up (kept for the SA's next header with this opaque: the
     * text depends on the handshake, whose tokens clear the cache, and on the opaque) */
    const char *kept = why_cache_get(&st->why_bad, opaque, 0, WHY_NO_KEY);
    if (!kept)
        kept = why_cache_set(&st->why_bad, opaque, 0, WHY_NO_KEY, no_key_text(hs, opaque));
    if (!(hs && hs->pw_mismatch))
        note_add_text(notes, NOTE_NO_KEY, NOTE_SEV_WARN, kept);
    return verdict_copy(SIG_NO_KEY, kept);
}

/* The notes a NOTE_LATER note of note_later stands for: the reflection check of diagnose or
 * diagnose_variants, with the keys and flags it kept (mech.h contract). */
static void ntlm_explain(const void *vst, const char *later, mssipae_dir dir, const uint8_t *buf,
                         size_t buflen, const uint8_t *sig, size_t siglen, note_list *notes)
{
    const ntlm_sa *st = vst;
    static const char prefix[] = "NTLM reflection check ";
    if (!later || strncmp(later, prefix, sizeof prefix - 1) != 0 || !sig || siglen != 16)
        return;
    guint64 i = g_ascii_strtoull(later + sizeof prefix - 1, NULL, 10);
    if (!st->later || i >= st->later->len)
        return;
    const ntlm_later *e = g_ptr_array_index(st->later, (guint)i);
    if (strcmp(e->text, later) != 0)
        return;
    ntlm_ek k;
    ntlm_ek_init(&k, e->esk);
    ntlm_mac_memo mm;
    ntlm_mac_memo_init(&mm, buf, buflen);
    if (e->variants) {
        uint32_t fl[N_VARIANTS];
        variant_flags(fl);
        uint32_t mr = ntlm_ek_match_mask(&k, fl, N_VARIANTS, e->variants, 0, !dir,
                                         NTLM_SEQ_SIP, &mm, sig);
        for (size_t j = 0; j < N_VARIANTS; j++)
            if (mr & 1u << j)
                note_reflected(notes, ntlm_variants[j].label, dir);
    } else if (ntlm_ek_matches(&k, e->flags, !dir, NTLM_SEQ_SIP, &mm, sig)) {
        note_reflected(notes, "", dir);
    }
    ntlm_mac_memo_clear(&mm);
    ntlm_ek_clear(&k);
}

/* DOMAIN\user of the AUTHENTICATE_MESSAGE, for statistics. */
static char *ntlm_client_name(const void *p)
{
    const ntlm_hs *hs = ((const ntlm_sa *)p)->hs;
    if (!hs || !hs->have_auth)
        return NULL;
    return *hs->auth.domain ? g_strdup_printf("%s\\%s", hs->auth.domain, hs->auth.user)
                            : g_strdup(hs->auth.user);
}

/* "NTLM <opaque> <ExportedSessionKey>" for each opaque: the key the password route derived
 * (its NTProofStr check passed), else the key-log key that produced keys. */
static size_t ntlm_export_keys(const void *p, const char *const *opaques, size_t n, GString *out)
{
    const ntlm_sa *st = p;
    const uint8_t *esk = (st->hs && st->hs->pw_ok) ? st->hs->pw_ek.esk
                         : st->kl_valid ? st->kl.esk : NULL;
    if (!esk)
        return 0;
    char *hex = codec_hex_encode(esk, 16);
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "NTLM %s %s\n", opaques[i], hex);
    secure_wipe(hex, strlen(hex));
    g_free(hex);
    return n;
}

/* The client's last NTLM token is its AUTHENTICATE_MESSAGE, which version 4 already signs
 * (ms-sipae.md 3, 5.1). */
static int ntlm_is_final_client_token(const uint8_t *tok, size_t len)
{
    return ntlm_message_type(tok, len) == 3;
}

const mech_ops mech_ntlm_ops = {
    .scheme = mech_schemes[MECH_SCHEME_NTLM],
    .keylog = KEYLOG_NTLM,
    .sa_new = ntlm_sa_new,
    .sa_free = ntlm_sa_free,
    .is_final_client_token = ntlm_is_final_client_token,
    .client_name = ntlm_client_name,
    .export_keys = ntlm_export_keys,
    .on_token = ntlm_on_token,
    .verify = ntlm_verify,
    .explain = ntlm_explain,
};
