/* mech.c - the table of mechanisms. */
#include "verify/mech.h"

#include <glib.h>

static const mech_ops *const mechs[] = {
    &mech_ntlm_ops,
    &mech_kerberos_ops,
    &mech_tlsdsk_ops,
};
G_STATIC_ASSERT(G_N_ELEMENTS(mechs) == MECH_COUNT);

const mech_ops *mech_find(const char *scheme)
{
    if (!scheme)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(mechs); i++)
        if (g_ascii_strcasecmp(mechs[i]->scheme, scheme) == 0)
            return mechs[i];
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
