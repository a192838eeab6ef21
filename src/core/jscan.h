/* jscan.h - an allocation-free JSON validator and walker.
 *
 * Owns nothing: every function reads the caller's bytes p[0..n) and returns
 * offsets or views into them.
 *
 * lx_jscan_validate checks a whole document (RFC 8259, strict) and never
 * accepts one that lx_json_parse (jansson, depth limit, duplicate keys
 * refused) would refuse. Where agreeing with jansson exactly would take more
 * than a scan (\u0000, integers beyond 18 digits, reals that might overflow a
 * double, very long numbers, objects with very many keys) it answers UNSURE
 * and the caller parses with jansson instead.
 *
 * The walkers (lx_jscan_obj_*, lx_jscan_arr_*, lx_jscan_str_is, ...) expect
 * text that lx_jscan_validate accepted. The skip functions also serve
 * unvalidated text: they stop at n and never read past it. */
#ifndef LX_CORE_JSCAN_H
#define LX_CORE_JSCAN_H

#include "core/common.h"

#include <stdint.h>

typedef enum {
    LX_JSCAN_OK,      /* valid: jansson accepts it too */
    LX_JSCAN_INVALID, /* not valid JSON (or deeper than LX_JSON_MAX_DEPTH): jansson refuses it */
    LX_JSCAN_UNSURE,  /* valid as far as the scan goes; only jansson can tell */
} lx_jscan_rc_t;

/* Validates p[0..n) as one JSON document: an object or an array (as
 * jansson requires without JSON_DECODE_ANY), nested at most
 * LX_JSON_MAX_DEPTH deep, with valid UTF-8 and escapes in its strings, no
 * duplicate key in any object and nothing but whitespace after it. */
lx_jscan_rc_t lx_jscan_validate(const char *p, size_t n);

/* Index of the first non-whitespace byte at or after i (n if none). */
size_t lx_jscan_ws(const char *p, size_t n, size_t i);
/* i at an opening quote; the index after the closing quote (n if none). */
size_t lx_jscan_skip_string(const char *p, size_t n, size_t i);
/* i at the first byte of a value; the index after it. Brackets are counted
 * outside strings, so a truncated container returns n. */
size_t lx_jscan_skip_value(const char *p, size_t n, size_t i);

/* One member of an object: the key as its raw bytes between the quotes,
 * whether those contain escapes, and the value's text. */
typedef struct {
    lx_str_t key;
    bool key_esc;
    lx_str_t val;
} lx_jscan_member_t;

/* A cursor over the members of an object or the elements of an array. */
typedef struct {
    const char *p;
    size_t n, i;
} lx_jscan_iter_t;

/* Starts at the value v; false if v is not an object (array). */
bool lx_jscan_obj_begin(lx_jscan_iter_t *it, lx_str_t v);
bool lx_jscan_arr_begin(lx_jscan_iter_t *it, lx_str_t v);
/* The next member (element); false after the last. */
bool lx_jscan_obj_next(lx_jscan_iter_t *it, lx_jscan_member_t *m);
bool lx_jscan_arr_next(lx_jscan_iter_t *it, lx_str_t *v);

/* True if the member's key, escapes decoded, is lit. */
bool lx_jscan_key_is(const lx_jscan_member_t *m, const char *lit);
/* True if v is a string whose value, escapes decoded, is lit. */
bool lx_jscan_str_is(lx_str_t v, const char *lit);
/* True if v is a string without escapes: *out is its bytes between the
 * quotes. */
bool lx_jscan_str_raw(lx_str_t v, lx_str_t *out);
/* True if v is the literal true. */
bool lx_jscan_is_true(lx_str_t v);
/* True if v is an integer (no fraction, no exponent, as jansson types it)
 * that fits an int64_t: its value in *out. */
bool lx_jscan_int(lx_str_t v, int64_t *out);

#endif
