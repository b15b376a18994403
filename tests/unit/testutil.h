/* testutil.h - helpers shared by the unit tests (cmocka). */
#ifndef MSSIPAE_TESTUTIL_H
#define MSSIPAE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "verify/verdict.h"

/* Reads tests/vectors/<rel> whole; fails the test when missing. g_free the result. */
char *tu_read_vector(const char *rel, size_t *len);
/* Decodes hex (whitespace ignored); fails the test on bad input. g_free the result. */
uint8_t *tu_hex(const char *hex, size_t *len);
/* Value of "name = value" in a values.txt file (comment after '#' stripped, trimmed). g_free it. */
char *tu_value(const char *values_rel, const char *name);
/* Asserts that the got_len bytes at got equal the bytes of hex. */
void tu_assert_hex(const uint8_t *got, size_t got_len, const char *hex);
/* 1 if l holds a note of this kind whose text contains needle (any text when needle is NULL). */
int tu_has_note(const note_list *l, note_kind kind, const char *needle);
/* Prints every note of l, to explain a failing assertion. */
void tu_dump_notes(const note_list *l);

#endif
