/* body.h - byte-level edits of a client's JSON body, so that an
 * OpenAI-compatible upstream gets the client's own bytes with only the fields
 * we must change (model, stream_options) spliced, not a re-serialization.
 *
 * All functions read p[0..n) (a complete, already validated JSON object) and
 * write into a caller-owned buffer. */
#ifndef LX_AI_BODY_H
#define LX_AI_BODY_H

#include "core/buf.h"

/* Finds the value of a top-level key: [*vs, *ve) in p. Returns LX_OK or
 * LX_ERROR if absent or the text is not an object. */
int lx_body_find(const char *p, size_t n, const char *key, size_t *vs, size_t *ve);

/* out = p with the top-level key's value replaced by the raw JSON text value,
 * or the pair inserted first if the key is absent. */
void lx_body_set(lx_buf_t *out, const char *p, size_t n, const char *key, const char *value,
                 size_t vlen);

/* out = p with the top-level "model" set to the given name (JSON-quoted). */
void lx_body_set_model(lx_buf_t *out, const char *p, size_t n, const char *model);

/* out = p with "stream_options"."include_usage" set to true: set in the
 * client's own stream_options object (replaced or inserted first), or
 * stream_options set to {"include_usage":true} when absent or not an
 * object. */
void lx_body_set_usage(lx_buf_t *out, const char *p, size_t n);

/* A whole answer, checked and indexed in one pass: true if p is one object
 * whose strings and brackets all close, with nothing after it (a cheap
 * structural check, not a full JSON validation: it catches truncated and
 * cut-off bodies without a parse). The value of keys[k] (its first
 * occurrence at top level) is [vs[k], ve[k]), or ve[k] == 0 if absent. */
bool lx_body_scan(const char *p, size_t n, const char *const *keys, int nkeys, size_t *vs,
                  size_t *ve);

#endif
