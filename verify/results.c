/* results.c - per-message results and their lifetime (see results.h). */
#include "verify/results.h"

struct result_store {
    GPtrArray *results; /* msg_result*, owned, in creation order */
    msg_result *empty;  /* shared result of messages without MS-SIPAE headers or notes */
};

void auth_result_free(gpointer p)
{
    auth_result *a = p;
    g_free(a->name);
    g_free(a->scheme);
    g_free(a->realm);
    g_free(a->targetname);
    g_free(a->opaque);
    g_free(a->qop);
    g_free(a->rand);
    g_free(a->num_str);
    g_free(a->sig);
    g_free(a->gss);
    g_free(a->sigbuf);
    g_free(a->why);
    if (a->other_params)
        g_ptr_array_free(a->other_params, TRUE);
    note_list_free(a->notes);
    g_free(a);
}

static void msg_result_free(gpointer p)
{
    msg_result *r = p;
    if (r->auths)
        g_ptr_array_free(r->auths, TRUE);
    note_list_free(r->notes);
    g_free(r);
}

result_store *result_store_new(void)
{
    result_store *rs = g_new0(result_store, 1);
    rs->results = g_ptr_array_new_with_free_func(msg_result_free);
    return rs;
}

void result_store_free(result_store *rs)
{
    if (!rs)
        return;
    g_ptr_array_free(rs->results, TRUE);
    if (rs->empty)
        msg_result_free(rs->empty);
    g_free(rs);
}

msg_result *result_new(result_store *rs)
{
    msg_result *r = g_new0(msg_result, 1);
    r->auths = g_ptr_array_new_with_free_func(auth_result_free);
    r->notes = note_list_new();
    g_ptr_array_add(rs->results, r);
    return r;
}

/* Results live as long as the capture: drop empty note lists, and share one empty result for
 * the (many) SIP messages without MS-SIPAE headers or notes. */
const msg_result *result_keep(result_store *rs, msg_result *r)
{
    for (guint i = 0; i < r->auths->len; i++) {
        auth_result *a = g_ptr_array_index(r->auths, i);
        if (a->notes && a->notes->len == 0) {
            note_list_free(a->notes);
            a->notes = NULL;
        }
    }
    if (r->notes && r->notes->len == 0) {
        note_list_free(r->notes);
        r->notes = NULL;
    }
    if (r->auths->len || r->notes)
        return r;
    g_assert(rs->results->len && g_ptr_array_index(rs->results, rs->results->len - 1) == r);
    g_ptr_array_remove_index(rs->results, rs->results->len - 1); /* frees r */
    if (!rs->empty) {
        rs->empty = g_new0(msg_result, 1);
        rs->empty->parsed = 1;
        rs->empty->auths = g_ptr_array_new();
    }
    return rs->empty;
}
