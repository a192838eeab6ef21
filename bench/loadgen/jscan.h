/* jscan.h - a minimal, allocation-free JSON scanner: enough to pull one value
 * out of an SSE event (choices[0].delta.content, delta.text, type) without
 * building a tree. It skips values by counting brackets outside strings, so
 * it costs one pass over the bytes it walks. It does not validate: malformed
 * input makes lookups fail, never read out of bounds. Object keys are compared
 * as raw bytes (a key written with escapes does not match). */
#ifndef LB_JSCAN_H
#define LB_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* A borrowed slice of someone else's bytes. */
typedef struct {
    const char *p;
    size_t n;
} lb_span_t;

/* The first value in s (leading whitespace skipped); false if none. */
bool lb_json_value(lb_span_t s, lb_span_t *out);

/* Iterates an object's members: init with the object's span (starting at
 * '{'), then next() yields each key (raw, without quotes) and value until it
 * returns false. */
typedef struct {
    const char *p, *end;
    bool bad;
} lb_json_iter_t;
bool lb_json_iter_init(lb_json_iter_t *it, lb_span_t obj);
bool lb_json_iter_next(lb_json_iter_t *it, lb_span_t *key, lb_span_t *val);

/* Member `key` of object obj; false if obj is not an object or lacks it. */
bool lb_json_get(lb_span_t obj, const char *key, lb_span_t *val);
/* Element idx of array arr; false if not an array or too short. */
bool lb_json_at(lb_span_t arr, size_t idx, lb_span_t *val);

/* True if v is a string (starts with '"'). */
bool lb_json_is_string(lb_span_t v);
/* True if v is the string literal lit written without escapes. */
bool lb_json_str_is(lb_span_t v, const char *lit);

/* Decodes a JSON string value piece by piece: init with the value's span
 * (with its quotes), then each read() writes up to cap bytes of UTF-8 into out
 * and returns how many (0 at the end). \uXXXX and surrogate pairs become
 * UTF-8; a bad escape sets `bad`. cap must be at least 4. */
typedef struct {
    const char *p, *end;
    bool bad;
} lb_json_str_t;
void lb_json_str_init(lb_json_str_t *s, lb_span_t v);
size_t lb_json_str_read(lb_json_str_t *s, char *out, size_t cap);

#endif
