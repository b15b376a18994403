/* secure.h - the core's one way to forget a secret, and its one way to read a key file.
 *
 * keytab/ is the lowest layer that holds secrets, so both helpers live here and verify/ uses
 * them too (verify/verdict.h re-exports secure_wipe for the mechanisms).
 */
#ifndef MSSIPAE_SECURE_H
#define MSSIPAE_SECURE_H

#include <stddef.h>
#include <stdint.h>

/* Overwrites n bytes at p with zeros in a way the compiler may not remove (explicit_bzero).
 * Use it for every secret: passwords, NT hashes, session and signing keys, key blocks,
 * pre-master and master secrets, buffers that held a key file. NULL or n == 0: nothing. */
void secure_wipe(void *p, size_t n);

/* Test hook (tests only; NULL in the plugin): when set, called by secure_wipe with the buffer
 * just before (after_wipe == 0) and just after (after_wipe == 1) it is zeroed, while the memory
 * is still owned by the caller, so a unit test can see which secrets pass through the wipe and
 * that they are zero afterwards without reading freed memory. Not thread-safe by design. */
typedef void (*secure_wipe_observer_fn)(const void *p, size_t n, int after_wipe, void *user);
void secure_wipe_set_observer(secure_wipe_observer_fn fn, void *user);

/* Reads the whole of a regular file into one buffer of exactly its size (plus a NUL), so no
 * reallocation leaves copies of its content in freed memory; free it with secure_free_file.
 * The type is checked before opening and again on the open descriptor (opened with O_NONBLOCK),
 * so a FIFO, device or folder is refused instead of blocking. Files larger than max are refused.
 * Returns NULL with *why (g_malloc'd) on failure. */
uint8_t *secure_read_file(const char *path, size_t max, size_t *len, char **why);
/* Wipes and frees a buffer from secure_read_file (len as returned). */
void secure_free_file(uint8_t *buf, size_t len);

#endif
