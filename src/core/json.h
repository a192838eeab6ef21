/* json.h - jansson with the limits jansson does not enforce itself.
 *
 * jansson accepts nesting 2048 deep; a gateway must not. The returned json_t
 * is owned by the caller (json_decref). */
#ifndef LX_CORE_JSON_H
#define LX_CORE_JSON_H

#include "core/buf.h"
#include "core/common.h"

#include <jansson.h>

#define LX_JSON_MAX_DEPTH 64

/* Returns the deepest nesting of [ and { in a JSON text, or -1 if it is
 * deeper than limit (scanning stops there). Strings are skipped correctly. */
int lx_json_depth(const char *p, size_t n, int limit);

/* Parses p[0..n) as a JSON document no deeper than max_depth. On failure
 * returns NULL and writes a one-line reason into err. */
json_t *lx_json_parse(const char *p, size_t n, int max_depth, char *err, size_t errlen);

/* Borrowed string value of obj[key] as a view, or LX_NULL_STR. */
lx_str_t lx_json_str(const json_t *obj, const char *key);

/* Appends v serialized with jansson's flags to b, without the intermediate
 * string json_dumps would allocate. */
void lx_json_dump_buf(lx_buf_t *b, const json_t *v, size_t flags);

/* Compact JSON text of v (json_write.c): like json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) except that every real is the shortest text strtod reads
 * back as the same double (0.15, not 0.14999999999999999; 2.6e-05). Every
 * response body and every body sent upstream goes through it. */
void lx_json_write(lx_buf_t *b, const json_t *v);
/* The same as a NUL-terminated string the caller frees; *len (if not NULL)
 * is its length. */
char *lx_json_text(const json_t *v, size_t *len);
/* The shortest round-trip text of a finite double into out (returns its
 * length); a real without '.' or exponent gets ".0"; NaN/inf give "null". */
size_t lx_json_real_text(double d, char out[32]);

#endif
