/* testutil.c - helpers shared by the unit tests. */
#include "testutil.h"

#include <string.h>

char *tu_read_vector(const char *rel, size_t *len)
{
    char *path = g_build_filename(MSSIPAE_VECTORS_DIR, rel, NULL);
    char *data = NULL;
    gsize n = 0;
    GError *err = NULL;
    if (!g_file_get_contents(path, &data, &n, &err)) {
        print_error("cannot read %s: %s\n", path, err->message);
        g_error_free(err);
        g_free(path);
        fail();
    }
    g_free(path);
    if (len)
        *len = n;
    return data;
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = g_malloc(n / 2 + 1);
    size_t o = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (g_ascii_isspace(hex[i]))
            continue;
        int v = g_ascii_xdigit_value(hex[i]);
        assert_true(v >= 0);
        if (hi < 0)
            hi = v;
        else {
            out[o++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    if (len)
        *len = o;
    return out;
}

char *tu_value(const char *values_rel, const char *name)
{
    char *text = tu_read_vector(values_rel, NULL);
    char **lines = g_strsplit(text, "\n", -1);
    char *res = NULL;
    for (char **l = lines; *l && !res; l++) {
        char *line = g_strdup(*l);
        char *hash = strstr(line, " #");
        if (hash)
            *hash = 0;
        char *eq = strchr(line, '=');
        if (eq && line[0] != '#') {
            *eq = 0;
            if (strcmp(g_strstrip(line), name) == 0)
                res = g_strdup(g_strstrip(eq + 1));
        }
        g_free(line);
    }
    g_strfreev(lines);
    g_free(text);
    if (!res)
        print_error("no value %s in %s\n", name, values_rel);
    assert_non_null(res);
    return res;
}

void tu_assert_hex(const uint8_t *got, size_t got_len, const char *hex)
{
    size_t n = 0;
    uint8_t *want = tu_hex(hex, &n);
    assert_int_equal(got_len, n);
    assert_memory_equal(got, want, n);
    g_free(want);
}

int tu_has_note(const note_list *l, note_kind kind, const char *needle)
{
    for (guint i = 0; l && i < l->len; i++) {
        const mssipae_note *n = &g_array_index(l, mssipae_note, i);
        if (n->kind == kind && (!needle || strstr(n->text, needle)))
            return 1;
    }
    return 0;
}

void tu_dump_notes(const note_list *l)
{
    for (guint i = 0; l && i < l->len; i++) {
        const mssipae_note *n = &g_array_index(l, mssipae_note, i);
        print_message("  note kind %d: %s\n", n->kind, n->text);
    }
}
