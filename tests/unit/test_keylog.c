/* test_keylog.c - the key-log line parser: every line kind, the lexical rules (comments, blank
 * lines, CRLF, tabs, case), and a table of bad lines that must be rejected with a reason and
 * never crash.
 */
#include "testutil.h"

#include <string.h>

#include "keytab/keylog.h"

#define K16 "00112233445566778899aabbccddeeff"
#define R32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define MS48 "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"

/* Parses a NUL-terminated line and expects OK. */
static keylog_entry parse_ok(const char *line)
{
    keylog_entry e;
    const char *why = "unset";
    keylog_line_status st = keylog_parse_line(line, strlen(line), &e, &why);
    if (st != KEYLOG_LINE_OK)
        print_error("line <%s>: status %d why %s\n", line, st, why ? why : "(null)");
    assert_int_equal(st, KEYLOG_LINE_OK);
    return e;
}

static void test_ntlm(void **state)
{
    keylog_entry e = parse_ok("NTLM 1a2b3c4d " K16);
    assert_int_equal(e.scheme, KEYLOG_NTLM);
    assert_string_equal(e.id, "1A2B3C4D");
    assert_int_equal(e.enctype, 0);
    tu_assert_hex(e.key1, e.key1_len, K16);
    assert_null(e.key2);
    assert_int_equal(e.key2_len, 0);
    keylog_entry_clear(&e);
    assert_null(e.id);
    assert_null(e.key1);
}

static void test_kerberos(void **state)
{
    keylog_entry e = parse_ok("KERBEROS 7e57 18 " K16 K16);
    assert_int_equal(e.scheme, KEYLOG_KERBEROS);
    assert_string_equal(e.id, "7E57");
    assert_int_equal(e.enctype, 18);
    tu_assert_hex(e.key1, e.key1_len, K16 K16);
    assert_null(e.key2);
    keylog_entry_clear(&e);

    e = parse_ok("KERBEROS x 23 " K16);
    assert_int_equal(e.enctype, 23);
    assert_int_equal(e.key1_len, 16);
    keylog_entry_clear(&e);

    /* enctypes are signed 32-bit; negative (private) and extreme values are in range */
    e = parse_ok("KERBEROS x -128 " K16);
    assert_int_equal(e.enctype, -128);
    keylog_entry_clear(&e);
    e = parse_ok("KERBEROS x 2147483647 " K16);
    assert_int_equal(e.enctype, INT32_MAX);
    keylog_entry_clear(&e);
    e = parse_ok("KERBEROS x -2147483648 " K16);
    assert_int_equal(e.enctype, INT32_MIN);
    keylog_entry_clear(&e);

    /* 64-byte key is the upper bound */
    e = parse_ok("KERBEROS x 20 " K16 K16 K16 K16);
    assert_int_equal(e.key1_len, 64);
    keylog_entry_clear(&e);
}

static void test_tlsdsk(void **state)
{
    keylog_entry e = parse_ok("TLS-DSK abcd " K16 " 0102");
    assert_int_equal(e.scheme, KEYLOG_TLSDSK);
    assert_string_equal(e.id, "ABCD");
    tu_assert_hex(e.key1, e.key1_len, K16);
    tu_assert_hex(e.key2, e.key2_len, "0102");
    keylog_entry_clear(&e);
}

static void test_client_random(void **state)
{
    char *upper = g_ascii_strup("CLIENT_RANDOM " R32 " " MS48, -1);
    keylog_entry e = parse_ok(upper);
    assert_int_equal(e.scheme, KEYLOG_CLIENT_RANDOM);
    assert_string_equal(e.id, R32); /* lower-case hex, whatever the input case */
    tu_assert_hex(e.key1, e.key1_len, MS48);
    assert_null(e.key2);
    keylog_entry_clear(&e);
    g_free(upper);
}

static void test_lexical(void **state)
{
    /* blank and comment lines */
    static const char *const empty[] = {
        "", "\n", "\r\n", "   \t  ", " \t\r\n", "# comment", "   # indented comment\n",
        "#NTLM 1 " K16, "\t#",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(empty); i++) {
        keylog_entry e;
        const char *why = NULL;
        assert_int_equal(keylog_parse_line(empty[i], strlen(empty[i]), &e, &why),
                         KEYLOG_LINE_EMPTY);
    }
    /* NULL line is simply empty */
    keylog_entry e;
    assert_int_equal(keylog_parse_line(NULL, 0, &e, NULL), KEYLOG_LINE_EMPTY);

    /* CRLF, LF, tabs, mixed separators, mixed case keyword and hex, trailing comment */
    static const char *const same[] = {
        "NTLM AbCd " K16,
        "NTLM abcd " K16 "\n",
        "NTLM abcd " K16 "\r\n",
        "ntlm\tabcd\t" K16,
        "  Ntlm \t ABCD\t \t00112233445566778899AABBCCDDEEFF  \r\n",
        "nTlM abcd 00112233445566778899AaBbCcDdEeFf # alice's session",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
        keylog_entry x = parse_ok(same[i]);
        assert_int_equal(x.scheme, KEYLOG_NTLM);
        assert_string_equal(x.id, "ABCD");
        tu_assert_hex(x.key1, x.key1_len, K16);
        keylog_entry_clear(&x);
    }

    /* explicit length: bytes after len are ignored (no NUL terminator needed) */
    const char buf[] = "TLS-DSK q 01 02garbage";
    keylog_entry x;
    assert_int_equal(keylog_parse_line(buf, strlen("TLS-DSK q 01 02"), &x, NULL), KEYLOG_LINE_OK);
    tu_assert_hex(x.key2, x.key2_len, "02");
    keylog_entry_clear(&x);

    /* clearing twice, or a zeroed entry, is harmless */
    keylog_entry_clear(&x);
    keylog_entry z = { 0 };
    keylog_entry_clear(&z);
    keylog_entry_clear(NULL);
}

typedef struct {
    const char *line;
    const char *what;
} bad_case;

static void test_bad_lines(void **state)
{
    static const bad_case cases[] = {
        { "NTLM abcd 0011223344556677889aabbccddeeff", "odd hex (31 digits)" },
        { "NTLM abcd 00112233445566778899aabbccddeefg", "non-hex digit" },
        { "NTLM abcd 0x112233445566778899aabbccddeeff", "0x prefix" },
        { "NTLM abcd 00112233445566778899aabbccddee", "15-byte key" },
        { "NTLM abcd " K16 "00", "17-byte key" },
        { "NTLM abcd", "missing key" },
        { "NTLM", "keyword only" },
        { "NTLM abcd " K16 " extra", "extra field" },
        { "NTLM abcd " K16 " 00 11 22", "many extra fields" },
        { "NTLMX abcd " K16, "unknown keyword" },
        { "SSL abcd " K16, "unknown keyword" },
        { "KERBEROS abcd " K16, "missing enctype" },
        { "KERBEROS abcd 18", "missing key" },
        { "KERBEROS abcd 18 " K16 " 00", "extra field" },
        { "KERBEROS abcd aes " K16, "enctype not a number" },
        { "KERBEROS abcd 0x12 " K16, "enctype hex" },
        { "KERBEROS abcd +18 " K16, "enctype with plus sign" },
        { "KERBEROS abcd - " K16, "enctype only a sign" },
        { "KERBEROS abcd 2147483648 " K16, "enctype > INT32_MAX" },
        { "KERBEROS abcd -2147483649 " K16, "enctype < INT32_MIN" },
        { "KERBEROS abcd 99999999999999999999999999 " K16, "huge enctype" },
        { "KERBEROS abcd 0 " K16, "enctype 0" },
        { "KERBEROS abcd 18 " K16 K16 K16 K16 "00", "65-byte key" },
        { "KERBEROS abcd 18 0", "odd hex" },
        { "TLS-DSK abcd " K16, "missing server key" },
        { "TLS-DSK abcd " K16 " " K16 " 00", "extra field" },
        { "TLS-DSK abcd " K16 " " K16 K16 K16 K16 "00", "65-byte server key" },
        { "TLS-DSK abcd zz " K16, "non-hex client key" },
        { "CLIENT_RANDOM " R32 " " MS48 " 00", "extra field" },
        { "CLIENT_RANDOM " R32, "missing master secret" },
        { "CLIENT_RANDOM 0001 " MS48, "short random" },
        { "CLIENT_RANDOM " R32 "00 " MS48, "33-byte random" },
        { "CLIENT_RANDOM " R32 " " K16, "short master secret" },
        { "CLIENT_RANDOM " R32 " " MS48 "00", "49-byte master secret" },
        { "CLIENT_RANDOM zz" R32 " " MS48, "non-hex random" },
        { "NTLM ab\x01" "cd " K16, "control character" },
        { "NTLM ab\xc3\xa9 " K16, "non-ASCII opaque" },
        { "NTLM abcd " K16 "\rNTLM x " K16, "CR inside the line" },
        { "NTLM abcd " K16 "\nNTLM x " K16, "two lines in one" },
        { "NTLM abcd " K16 "\x7f", "DEL" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        keylog_entry e;
        const char *why = NULL;
        keylog_line_status st = keylog_parse_line(cases[i].line, strlen(cases[i].line), &e, &why);
        if (st != KEYLOG_LINE_BAD)
            print_error("case %zu (%s): status %d\n", i, cases[i].what, st);
        assert_int_equal(st, KEYLOG_LINE_BAD);
        assert_non_null(why);
        assert_true(strlen(why) > 0);
        assert_null(e.id); /* nothing to free on BAD */
        assert_null(e.key1);
        assert_null(e.key2);
        keylog_entry_clear(&e);
        /* a NULL why pointer is allowed too */
        assert_int_equal(keylog_parse_line(cases[i].line, strlen(cases[i].line), &e, NULL),
                         KEYLOG_LINE_BAD);
    }
}

static void test_embedded_nul(void **state)
{
    /* A NUL in the middle of an otherwise good line, given by explicit length. */
    const char line[] = "NTLM ab\0cd " K16;
    keylog_entry e;
    const char *why = NULL;
    assert_int_equal(keylog_parse_line(line, sizeof(line) - 1, &e, &why), KEYLOG_LINE_BAD);
    assert_non_null(why);
    assert_non_null(strstr(why, "NUL"));

    const char tail[] = "NTLM abcd " K16 "\0";
    assert_int_equal(keylog_parse_line(tail, sizeof(tail) - 1, &e, &why), KEYLOG_LINE_BAD);
    const char only[] = "\0";
    assert_int_equal(keylog_parse_line(only, 1, &e, &why), KEYLOG_LINE_BAD);
}

static void test_huge_lines(void **state)
{
    const size_t n = 1024 * 1024;
    /* 1 MB of hex in a key field */
    char *big = g_malloc(n + 1);
    memcpy(big, "NTLM abcd ", 10);
    memset(big + 10, 'a', n - 10);
    big[n] = 0;
    keylog_entry e;
    const char *why = NULL;
    assert_int_equal(keylog_parse_line(big, n, &e, &why), KEYLOG_LINE_BAD);
    assert_non_null(why);
    /* 1 MB of blanks, and 1 MB comment: bad as well (over the line limit), never a crash */
    memset(big, ' ', n);
    assert_int_equal(keylog_parse_line(big, n, &e, &why), KEYLOG_LINE_BAD);
    big[0] = '#';
    assert_int_equal(keylog_parse_line(big, n, &e, &why), KEYLOG_LINE_BAD);
    g_free(big);

    /* long opaque within the line limit */
    GString *s = g_string_new("NTLM ");
    for (int i = 0; i < 257; i++)
        g_string_append_c(s, 'o');
    g_string_append(s, " " K16);
    assert_int_equal(keylog_parse_line(s->str, s->len, &e, &why), KEYLOG_LINE_BAD);
    g_string_free(s, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntlm),
        cmocka_unit_test(test_kerberos),
        cmocka_unit_test(test_tlsdsk),
        cmocka_unit_test(test_client_random),
        cmocka_unit_test(test_lexical),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_huge_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
