/* util.h - small helpers shared by the mock: clocks, ids, base64, string tests.
 * Nothing here allocates except mock_base64 (into a caller-owned evbuffer). */
#ifndef MOCK_UTIL_H
#define MOCK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Monotonic milliseconds (for timers and job ages). */
uint64_t mock_now_ms(void);

/* Wall-clock seconds (for "created" fields). */
long mock_unix_s(void);

/* Wall-clock milliseconds since the Unix epoch (ISO-8601 "createdAt"). */
int64_t mock_unix_ms(void);

/* Process-wide, thread-safe id counter: 1, 2, 3, ... shared by every id kind. */
long mock_next_id(void);

/* Appends the standard base64 encoding of data[0..n) to out. */
void mock_base64(struct evbuffer *out, const unsigned char *data, size_t n);

/* True if s[0..n) ends with the NUL-terminated suffix. */
bool mock_ends_with(const char *s, size_t n, const char *suffix);

/* True if s[0..n) starts with the NUL-terminated prefix. */
bool mock_starts_with(const char *s, size_t n, const char *prefix);

/* Decodes %XX escapes of src[0..n) into dst (capacity cap, NUL-terminated).
 * Returns the decoded length, or (size_t)-1 if it does not fit. */
size_t mock_pct_decode(char *dst, size_t cap, const char *src, size_t n);

/* 64-bit FNV-1a hash of data[0..n). */
uint64_t mock_hash(const void *data, size_t n);

#endif
