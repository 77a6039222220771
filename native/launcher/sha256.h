/* SHA-256 (FIPS 180-4), just enough for the launcher's socket path: one-shot digest of a short
 * string. The daemon side computes the same hash with node:crypto. */
#ifndef MICRUN_SHA256_H
#define MICRUN_SHA256_H
#include <stddef.h>
#include <stdint.h>

void sha256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif
