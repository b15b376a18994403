/* prefs_save.c - saves Wireshark's preferences the way the GUI does, without a GUI: loads the
 * plugins and the preferences like Wireshark, applies `-o name:value` arguments, then writes the
 * preferences file of the configuration folder (WIRESHARK_CONFIG_DIR) with write_prefs().
 *
 *   prefs_save [-o name:value]... [--dialog name:value]
 *
 * --dialog sets a preference of the mssipae module the way the Preferences dialog does
 * (prefs_set_string_value on the preference, write the file, then apply), which is the order of
 * Wireshark 4.0's PreferencesDialog::on_buttonBox_accepted.
 *
 * Prints "shown <name>: <value>" for every string-like mssipae preference (what the protocol
 * preferences menu would show), then "wrote <path>". Used by tests/integration/test_analyst.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wireshark.h>
#include <epan/epan.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h>
#include <wiretap/wtap.h>
#include <wsutil/filesystem.h>
#include <wsutil/privileges.h>
#include <wsutil/report_message.h>

static void vfail(const char *fmt, va_list ap)
{
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}
static void open_fail(const char *f, int e, gboolean w) { fprintf(stderr, "open %s: %d %d\n", f, e, w); }
static void rw_fail(const char *f, int e) { fprintf(stderr, "%s: %d\n", f, e); }
static void cf_fail(const char *f, int e, gchar *i) { fprintf(stderr, "%s: %d %s\n", f, e, i ? i : ""); }
static void cfd_fail(const char *f, int e, gchar *i, int t) { fprintf(stderr, "%s: %d %s %d\n", f, e, i ? i : "", t); }
static void cfw_fail(const char *in, const char *out, int e, gchar *i, guint32 n, int t)
{
    fprintf(stderr, "%s %s: %d %s %u %d\n", in, out, e, i ? i : "", n, t);
}

static const struct report_message_routines routines = {
    vfail, vfail, open_fail, rw_fail, rw_fail, cf_fail, cfd_fail, cf_fail, cfw_fail, cf_fail,
};

static guint show_pref(pref_t *p, gpointer user_data _U_)
{
    int t = prefs_get_type(p);
    if (t == PREF_STRING || t == PREF_PASSWORD) {
        /* the text of the protocol preferences menu entry (EditorPreferenceAction) */
        char *v = prefs_pref_to_str(p, pref_current);
        printf("shown %s: %s\n", prefs_get_name(p), v ? v : "");
        g_free(v);
    }
    return 0;
}

int main(int argc, char **argv)
{
    init_process_policies();
    char *err = configuration_init(argv[0], NULL);
    if (err) {
        fprintf(stderr, "configuration_init: %s\n", err);
        return 2;
    }
    init_report_message("prefs_save", &routines);
    wtap_init(FALSE);
    if (!epan_init(NULL, NULL, TRUE)) {
        fprintf(stderr, "epan_init failed\n");
        return 2;
    }
    epan_load_settings();
    module_t *m = prefs_find_module("mssipae");
    if (!m) {
        fprintf(stderr, "the mssipae plugin is not loaded\n");
        return 3;
    }
    const char *dialog = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            char *e = NULL;
            if (prefs_set_pref(argv[++i], &e) != PREFS_SET_OK) {
                fprintf(stderr, "bad -o %s: %s\n", argv[i], e ? e : "");
                return 2;
            }
        } else if (strcmp(argv[i], "--dialog") == 0 && i + 1 < argc) {
            dialog = argv[++i];
        } else {
            fprintf(stderr, "usage: prefs_save [-o name:value]... [--dialog name:value]\n");
            return 2;
        }
    }
    prefs_apply_all(); /* what Wireshark does after reading its command line */
    if (dialog) {
        char *name = g_strdup(dialog);
        char *value = strchr(name, ':');
        if (!value) {
            fprintf(stderr, "--dialog name:value\n");
            return 2;
        }
        *value++ = '\0';
        pref_t *p = prefs_find_preference(m, name);
        if (!p) {
            fprintf(stderr, "no preference mssipae.%s\n", name);
            return 2;
        }
        m->prefs_changed_flags |= prefs_set_string_value(p, value, pref_current);
        g_free(name);
    }
    char *path = NULL;
    if (write_prefs(&path) != 0) {
        fprintf(stderr, "write_prefs failed: %s\n", path ? path : "?");
        return 4;
    }
    if (dialog)
        prefs_apply_all(); /* the dialog applies after writing */
    prefs_pref_foreach(m, show_pref, NULL);
    printf("wrote %s\n", path);
    epan_cleanup();
    return 0;
}
