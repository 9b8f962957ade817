/* codec.h: base64, hex, URL escaping and a deterministic random generator.
 * Strings returned by the *_encode/_escape functions are malloc'd and owned by the caller.
 */
#ifndef KP_CODEC_H
#define KP_CODEC_H

#include <stddef.h>
#include <stdint.h>

char *kp_base64_encode(const void *data, size_t len);
/* Standard alphabet, '=' padding optional. Returns the decoded length, or KP_EPARSE. */
int kp_base64_decode(const char *s, unsigned char *out, size_t cap);
/* base64url (RFC 4648 §5) without padding, as EME's JSON uses it. Strict decoding: alphabet
 * A-Z a-z 0-9 - _, no '=', no stray bits. Decoded length, or KP_EPARSE / KP_ERANGE (more than
 * cap bytes). */
char *kp_b64url_encode(const void *data, size_t len);
int kp_b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap);
char *kp_hex_encode(const void *data, size_t len);
/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *kp_url_escape(const char *s);

/* splitmix64: same seed, same stream, on every machine. */
typedef struct kp_rng {
    uint64_t state;
} kp_rng;

void kp_rng_seed(kp_rng *r, uint64_t seed);
/* Seeds from a string (FNV-1a of its bytes). */
void kp_rng_seed_str(kp_rng *r, const char *s);
uint64_t kp_rng_next(kp_rng *r);
/* A random-looking version-4 UUID string (37 bytes with the NUL) drawn from r. */
void kp_rng_uuid(kp_rng *r, char out[37]);
uint64_t kp_fnv1a(const void *data, size_t len);

#endif
