/* floor_crypto.h - the crypto of the verification floor (bench/floor.c's plugin and
 * mssipae_micro --floor): per SIP message the scheme's MAC with a key state made once per SA,
 * per SA the scheme's key set-up. See bench/floor.c for what each kind computes and why. No
 * Wireshark here: the micro-benchmark runs it without tshark. */
#ifndef MSSIPAE_FLOOR_CRYPTO_H
#define MSSIPAE_FLOOR_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/hmac.h>

typedef enum { FLOOR_MD5, FLOOR_SHA1_96, FLOOR_SHA1 } floor_kind;

typedef struct {
    floor_kind kind;
    unsigned per_sa;   /* a new SA every this many messages (at least 1) */
    uint32_t n_msgs;   /* messages MACed so far */
    uint32_t n_sa;     /* the current SA's number, from 1 */
    union {            /* its key states, one per direction */
        struct hmac_md5_ctx md5[2];
        struct hmac_sha1_ctx sha1[2];
    } keys;
    uint8_t keystream[2][8]; /* md5: the SeqNum-100 RC4 keystreams */
} floor_state;

/* The kind named "md5", "sha1-96" or "sha1"; -1 for another name. */
int floor_kind_of(const char *name);

/* Starts over: no SA yet. */
void floor_reset(floor_state *f, floor_kind kind, unsigned per_sa);

/* The MAC of the next message into mac (md5: 8 bytes, the others 16): n bytes from p, compared
 * with the 16 at sig. A new SA's key set-up first when one is due; the direction alternates.
 * Returns the MAC's first four bytes, with bit 0 set when its first 8 match sig's. */
uint32_t floor_mac(floor_state *f, const uint8_t *p, size_t n, const uint8_t *sig,
                   uint8_t mac[16]);

#endif
