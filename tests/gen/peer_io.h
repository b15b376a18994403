/* peer_io.h - the line protocol shared by the GSS test peers (krb_peer.c, ntlm_peer.c): one
 * command per input line, one answer line per command, binary data as hex ("-" = empty).
 *
 * Static functions in a header: CMake builds every .c file of tests/gen as its own executable,
 * so each peer compiles its own copy. Include after <gssapi/gssapi.h>, <stdio.h>, <stdlib.h> and
 * <string.h>.
 */
#ifndef MSSIPAE_PEER_IO_H
#define MSSIPAE_PEER_IO_H

/* gss_display_status, or the same entry point of a dlopen()ed mech module */
typedef OM_uint32 (*disp_status_fn)(OM_uint32 *, OM_uint32, int, gss_OID, OM_uint32 *, gss_buffer_t);

/* Append the display texts of one status code (via display, for mech) so errors fit on one line. */
static void status_text(disp_status_fn display, gss_OID mech, OM_uint32 code, int type, char *buf,
                        size_t len)
{
    OM_uint32 min, ctx = 0;
    gss_buffer_desc msg;
    size_t used = strlen(buf);
    do {
        msg.length = 0;
        msg.value = NULL;
        if (display(&min, code, type, mech, &ctx, &msg) != GSS_S_COMPLETE)
            break;
        int n = snprintf(buf + used, len - used, "%s%.*s", (used && buf[used - 1] != ' ') ? "; " : "", (int)msg.length,
                         msg.value ? (const char *)msg.value : "");
        gss_release_buffer(&min, &msg);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    } while (ctx != 0);
}

/* Print an "err"/"fail" answer: prefix, major (hex), minor, then text made newline-free. */
static void print_status_line(const char *prefix, OM_uint32 maj, OM_uint32 min, char *text)
{
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    printf("%s %08x %u %s\n", prefix, (unsigned)maj, (unsigned)min, text);
}

/* Print bytes as lower-case hex, "-" when empty, so that every field is non-empty. */
static void put_hex(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len == 0) {
        fputs("-", stdout);
        return;
    }
    for (size_t i = 0; i < len; i++)
        printf("%02x", p[i]);
}

/* Print the answer "ok <hex>" for commands that return one byte string. */
static void put_ok_hex(const void *data, size_t len)
{
    printf("ok ");
    put_hex(data, len);
    printf("\n");
}

/* Print the text of a displayed GSS name as one token (spaces replaced by '_'). */
static void put_name_text(const gss_buffer_desc *b)
{
    for (size_t i = 0; i < b->length; i++) {
        char ch = ((const char *)b->value)[i];
        if (ch != '\0') /* gss-ntlmssp counts the terminating NUL in the length */
            putchar(ch == ' ' || ch == '\n' ? '_' : ch);
    }
}

/* Value of one hex digit, or -1. */
static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a hex field ("-" = empty) into a malloc'd, NUL-terminated buffer; 0 on success. */
static int parse_hex(const char *s, gss_buffer_desc *out)
{
    out->value = NULL;
    out->length = 0;
    if (s == NULL)
        return -1;
    if (strcmp(s, "-") == 0)
        return 0;
    size_t n = strlen(s);
    if (n % 2)
        return -1;
    unsigned char *b = malloc(n / 2 + 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -1;
        }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    b[n / 2] = 0;
    out->value = b;
    out->length = n / 2;
    return 0;
}

/* parse_hex for a data argument: answers "err 0 0 bad hex" itself when the field is bad. */
static int parse_hex_arg(const char *s, gss_buffer_desc *out)
{
    if (parse_hex(s, out)) {
        printf("err 0 0 bad hex\n");
        return -1;
    }
    return 0;
}

/* Read the next non-empty command line; returns the command word (NULL at end of input) and
 * up to three arguments (NULL when absent). *line is reused across calls and freed by the caller. */
static char *next_command(char **line, size_t *cap, char **a1, char **a2, char **a3)
{
    while (getline(line, cap, stdin) > 0) {
        char *save = NULL;
        char *cmd = strtok_r(*line, " \t\r\n", &save);
        *a1 = strtok_r(NULL, " \t\r\n", &save);
        *a2 = strtok_r(NULL, " \t\r\n", &save);
        *a3 = strtok_r(NULL, " \t\r\n", &save);
        if (cmd)
            return cmd;
    }
    return NULL;
}

#endif
