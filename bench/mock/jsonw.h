/* jsonw.h - writing JSON text straight into libevent buffers (no DOM on the hot path). */
#ifndef MOCK_JSONW_H
#define MOCK_JSONW_H

#include <stddef.h>

struct evbuffer;

/* Appends a string literal (length known at compile time). */
#define MOCK_LIT(out, lit) evbuffer_add((out), "" lit, sizeof(lit) - 1)

/* Appends s[0..n) as a quoted JSON string. Control characters, quotes and
 * backslashes are escaped; bytes that are not valid UTF-8 become U+FFFD, so the
 * output is always valid JSON whatever the input. */
void mock_jw_str(struct evbuffer *out, const char *s, size_t n);

/* Same for a NUL-terminated string; NULL writes null. */
void mock_jw_cstr(struct evbuffer *out, const char *s);

/* Appends a NUL-terminated literal as-is. */
void mock_jw_raw(struct evbuffer *out, const char *s);

#endif
