/* mech.c - the table of mechanisms. */
#include "verify/mech.h"

#include <glib.h>

static const mech_ops *const mechs[] = {
    &mech_ntlm_ops,
    &mech_kerberos_ops,
    &mech_tlsdsk_ops,
};

const mech_ops *mech_find(const char *scheme)
{
    if (!scheme)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(mechs); i++)
        if (g_ascii_strcasecmp(mechs[i]->scheme, scheme) == 0)
            return mechs[i];
    return NULL;
}
