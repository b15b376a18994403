/* mech_tlsdsk.c - TLS-DSK ([MS-SIPAE] 3.2.5.1): SAs are tracked, signatures not yet verified.
 *
 * The key derivation (PRF "client EAP encryption" over the inner TLS handshake) belongs to a
 * later issue; until then every TLS-DSK signature is reported as UNSUPPORTED, never guessed.
 */
#include "verify/mech.h"

static void *tlsdsk_sa_new(void *cap) { return g_malloc0(1); }
static void tlsdsk_sa_free(void *st) { g_free(st); }

static void tlsdsk_on_token(void *st, mssipae_dir dir, const uint8_t *tok, size_t len,
                            keystore *ks, note_list *notes)
{
    (void)st; (void)dir; (void)tok; (void)len; (void)ks; (void)notes;
}

static sig_verdict tlsdsk_verify(void *st, keystore *ks, const char *opaque, mssipae_dir dir,
                                 const uint8_t *buf, size_t buflen, const uint8_t *sig,
                                 size_t siglen, note_list *notes)
{
    return verdict_make(SIG_UNSUPPORTED, "TLS-DSK signature verification is not implemented yet");
}

const mech_ops mech_tlsdsk_ops = {
    .scheme = "TLS-DSK",
    .keylog = KEYLOG_TLSDSK,
    .sa_new = tlsdsk_sa_new,
    .sa_free = tlsdsk_sa_free,
    .on_token = tlsdsk_on_token,
    .verify = tlsdsk_verify,
};
