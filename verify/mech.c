/* mech.c - the table of mechanisms. */
#include "verify/mech.h"
#include "sigbuf/bytes.h"

#include <glib.h>

static const mech_ops *const mechs[] = {
    [MECH_SCHEME_NTLM] = &mech_ntlm_ops,
    [MECH_SCHEME_KERBEROS] = &mech_kerberos_ops,
    [MECH_SCHEME_TLSDSK] = &mech_tlsdsk_ops,
};
G_STATIC_ASSERT(G_N_ELEMENTS(mechs) == MECH_COUNT);

const char mech_schemes[MECH_COUNT][10] = {
    [MECH_SCHEME_NTLM] = "NTLM",
    [MECH_SCHEME_KERBEROS] = "Kerberos",
    [MECH_SCHEME_TLSDSK] = "TLS-DSK",
};

/* g_ascii_strcasecmp (name, scheme) == 0 inlined: most names differ from the scheme in their
 * first letter. */
const mech_ops *mech_find(const char *scheme)
{
    if (!scheme)
        return NULL;
    char c0 = ascii_lc(scheme[0]);
    for (size_t i = 0; i < MECH_COUNT; i++) {
        const char *n = mech_schemes[i], *s = scheme;
        if (ascii_lc(n[0]) != c0)
            continue;
        for (size_t j = 0;; j++) { /* equal bytes first: the scheme as the table spells it */
            if (n[j] != s[j] && ascii_lc(n[j]) != ascii_lc(s[j]))
                break;
            if (!n[j])
                return mechs[i];
        }
    }
    return NULL;
}

const mech_ops *mech_at(size_t i)
{
    return i < G_N_ELEMENTS(mechs) ? mechs[i] : NULL;
}

size_t mech_index(const mech_ops *mech)
{
    for (size_t i = 0; i < G_N_ELEMENTS(mechs); i++)
        if (mechs[i] == mech)
            return i;
    return G_N_ELEMENTS(mechs);
}
