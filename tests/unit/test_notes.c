/* test_notes.c - note lists (owned and borrowed texts) and how the result store keeps them:
 * equal lists are one, a message whose only notes are one kept list shares that list's
 * record as its extra, and what a reader gets back is the same notes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "verify/results.h"
#include "verify/verdict.h"

static const mssipae_note *note_at(const note_list *l, guint i)
{
    return &g_array_index(l, mssipae_note, i);
}

static void test_note_layout(void **state)
{
    (void)state;
    if (sizeof(void *) == 8)
        assert_int_equal(sizeof(mssipae_note), 16);
    mssipae_note n = { .text = NULL, .kind = NOTE_FACT, .sev = NOTE_SEV_ERROR,
                       .fact = FACT_TLS_SECRET_SRC };
    assert_int_equal(n.kind, NOTE_FACT);
    assert_int_equal(n.sev, NOTE_SEV_ERROR);
    assert_int_equal(n.fact, FACT_TLS_SECRET_SRC);
    assert_int_equal(n.borrowed, 0);
    n.kind = NOTE_KINDS - 1;
    n.fact = FACT_KINDS - 1;
    assert_int_equal(n.kind, NOTE_KINDS - 1);
    assert_int_equal(n.fact, FACT_KINDS - 1);
}

/* Borrowed texts are read as any other and never freed (the sanitizers would report a free of
 * a stack array or a literal); owned ones are freed with the list. */
static void test_borrowed_texts(void **state)
{
    (void)state;
    char on_stack[] = "a text the list does not own";
    note_list *l = note_list_new();
    note_fact_add_text(l, FACT_TLS_VERSION, "TLS 1.0 (0x0301)");
    note_fact_add_static(l, FACT_TLS_SUITE, on_stack);
    mssipae_note two[2] = {
        { .text = (char *)"yes", .kind = NOTE_FACT, .sev = NOTE_SEV_CHAT, .fact = FACT_TLS_EMS,
          .borrowed = 1 },
        { .text = g_strdup("owned"), .kind = NOTE_TOKEN, .sev = NOTE_SEV_NOTE,
          .fact = FACT_NONE },
    };
    note_list_append(l, two, 2);
    note_list_append(l, two, 0);
    note_list_append(NULL, two, 1); /* borrowed only: nothing to free */
    note_fact_add_static(NULL, FACT_TLS_EMS, "no");
    assert_int_equal(l->len, 4);
    assert_string_equal(note_at(l, 0)->text, "TLS 1.0 (0x0301)");
    assert_int_equal(note_at(l, 0)->borrowed, 0);
    assert_ptr_equal(note_at(l, 1)->text, on_stack); /* not a copy */
    assert_int_equal(note_at(l, 1)->kind, NOTE_FACT);
    assert_int_equal(note_at(l, 1)->sev, NOTE_SEV_CHAT);
    assert_int_equal(note_at(l, 1)->fact, FACT_TLS_SUITE);
    assert_int_equal(note_at(l, 1)->borrowed, 1);
    assert_string_equal(note_at(l, 2)->text, "yes");
    assert_int_equal(note_at(l, 2)->fact, FACT_TLS_EMS);
    assert_string_equal(note_at(l, 3)->text, "owned");
    assert_int_equal(note_at(l, 3)->kind, NOTE_TOKEN);
    assert_int_equal(note_at(l, 3)->sev, NOTE_SEV_NOTE);
    g_array_set_size(l, 1); /* clears three: frees "owned" only */
    assert_int_equal(l->len, 1);
    note_fact_add_static(l, FACT_TLS_SUITE, on_stack);
    note_list_free(l);
}

/* An SA's facts as TLS-DSK gives them: two borrowed texts and its own source line. */
static const char fact_version[] = "TLS 1.0 (0x0301)", fact_ems[] = "no";

static note_list *facts(const char *src)
{
    note_list *l = note_list_new();
    note_fact_add_static(l, FACT_TLS_VERSION, fact_version);
    note_fact_add_static(l, FACT_TLS_EMS, fact_ems);
    note_fact_add(l, FACT_TLS_SECRET_SRC, "keys.log line %s (CLIENT_RANDOM)", src);
    return l;
}

/* A message with one auth header per list given (NULL ends), each with hint h. */
static const msg_rec *keep(result_store *rs, const note_list *h, note_list *msg_notes, ...)
{
    msg_result *r = result_new();
    r->parsed = 1;
    r->is_request = 1;
    if (msg_notes) {
        note_list_free(r->notes);
        r->notes = msg_notes;
    }
    va_list ap;
    va_start(ap, msg_notes);
    note_list *l;
    while ((l = va_arg(ap, note_list *)) != NULL) {
        auth_result *a = g_new0(auth_result, 1);
        a->name = a->name_buf;
        a->kind = AH_CREDENTIALS;
        a->dir = DIR_C2S;
        a->status = SIG_VALID;
        a->sa_id = 7;
        a->notes = l;
        a->notes_hint = h;
        g_ptr_array_add(r->auths, a);
    }
    va_end(ap);
    const msg_rec *k = result_keep(rs, r);
    msg_result_free(r);
    return k;
}

static void assert_facts(const note_list *l, const char *src)
{
    assert_non_null(l);
    assert_int_equal(l->len, 3);
    assert_string_equal(note_at(l, 0)->text, "TLS 1.0 (0x0301)");
    assert_int_equal(note_at(l, 0)->fact, FACT_TLS_VERSION);
    assert_string_equal(note_at(l, 1)->text, "no");
    assert_int_equal(note_at(l, 1)->fact, FACT_TLS_EMS);
    char *want = g_strdup_printf("keys.log line %s (CLIENT_RANDOM)", src);
    assert_string_equal(note_at(l, 2)->text, want);
    g_free(want);
    for (guint i = 0; i < l->len; i++) {
        assert_int_equal(note_at(l, i)->kind, NOTE_FACT);
        assert_int_equal(note_at(l, i)->sev, NOTE_SEV_CHAT);
    }
    /* the borrowed texts are kept as they are (they outlive the store: note_fact_add_static),
     * the list's own text is the store's copy */
    assert_ptr_equal(note_at(l, 0)->text, fact_version);
    assert_int_equal(note_at(l, 0)->borrowed, 1);
    assert_ptr_equal(note_at(l, 1)->text, fact_ems);
    assert_int_equal(note_at(l, 1)->borrowed, 1);
    assert_int_equal(note_at(l, 2)->borrowed, 0);
}

static void test_store_shares_lists(void **state)
{
    (void)state;
    result_store *rs = result_store_new();
    const msg_rec *k1 = keep(rs, NULL, NULL, facts("1"), NULL);
    const note_list *l1 = msg_rec_auth_notes(rs, k1, 0);
    assert_facts(l1, "1");
    assert_null(msg_rec_notes(rs, k1));
    assert_int_equal(msg_rec_unsigned_sa(rs, k1, NULL), 0);
    assert_int_equal(msg_rec_extra_of(rs, k1)->n_auths, 1);

    /* the SA's next headers: the same list and record, with or without the hint */
    const msg_rec *k2 = keep(rs, l1, NULL, facts("1"), NULL);
    assert_int_not_equal(k2->extra, 0);
    assert_int_equal(k2->extra, k1->extra);
    const msg_rec *k3 = keep(rs, NULL, NULL, facts("1"), NULL);
    assert_int_equal(k3->extra, k1->extra);

    /* another SA: its own list, sharing the borrowed texts */
    const msg_rec *k4 = keep(rs, l1, NULL, facts("2"), NULL);
    assert_int_not_equal(k4->extra, k1->extra);
    const note_list *l2 = msg_rec_auth_notes(rs, k4, 0);
    assert_facts(l2, "2");
    assert_ptr_not_equal(l2, l1);
    assert_ptr_equal(note_at(l2, 0)->text, note_at(l1, 0)->text);
    const msg_rec *k5 = keep(rs, l2, NULL, facts("2"), NULL);
    assert_int_equal(k5->extra, k4->extra);
    const msg_rec *k6 = keep(rs, l1, NULL, facts("1"), NULL); /* back to the first SA */
    assert_int_equal(k6->extra, k1->extra);

    /* two headers with the first list: an extra of their own, the same list twice */
    const msg_rec *k7 = keep(rs, l1, NULL, facts("1"), facts("1"), NULL);
    assert_int_equal(msg_rec_n_auths(k7), 2);
    assert_int_not_equal(k7->extra, k1->extra);
    assert_ptr_equal(msg_rec_auth_notes(rs, k7, 0), l1);
    assert_ptr_equal(msg_rec_auth_notes(rs, k7, 1), l1);
    assert_null(msg_rec_notes(rs, k7));
    const msg_rec *k8 = keep(rs, l1, NULL, facts("1"), facts("1"), NULL);
    assert_int_equal(k8->extra, k7->extra);

    /* message notes besides the header's list */
    note_list *mn = note_list_new();
    note_add(mn, NOTE_MALFORMED, NOTE_SEV_NOTE, "SIP header block is truncated");
    const msg_rec *k9 = keep(rs, l1, mn, facts("1"), NULL);
    assert_int_not_equal(k9->extra, k1->extra);
    assert_ptr_equal(msg_rec_auth_notes(rs, k9, 0), l1);
    const note_list *m9 = msg_rec_notes(rs, k9);
    assert_non_null(m9);
    assert_int_equal(m9->len, 1);
    assert_string_equal(note_at(m9, 0)->text, "SIP header block is truncated");
    assert_int_equal(note_at(m9, 0)->kind, NOTE_MALFORMED);
    assert_int_equal(note_at(m9, 0)->sev, NOTE_SEV_NOTE);

    /* a header without notes */
    const msg_rec *k10 = keep(rs, NULL, NULL, note_list_new(), NULL);
    assert_int_equal(k10->extra, 0);
    assert_facts(msg_rec_auth_notes(rs, k1, 0), "1"); /* unchanged */
    result_store_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_layout),
        cmocka_unit_test(test_borrowed_texts),
        cmocka_unit_test(test_store_shares_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
