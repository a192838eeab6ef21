/* template.h - the generic job adapter's templates: a path template
 * ("/jobs/{id}") and a JSON body template ({"input": {"prompt":
 * "{prompt}", "duration": "{seconds}"}}) filled from a task's input.
 *
 * Pure. A filled path is appended to the caller's buffer; a filled body is
 * a new JSON value the caller owns (json_decref). The template and the
 * input are borrowed for the call. */
#ifndef LX_MEDIA_TEMPLATE_H
#define LX_MEDIA_TEMPLATE_H

#include "core/buf.h"

#include <jansson.h>

/* Which placeholders a path template may hold. */
#define LX_TPL_ID    1u /* {id}: the provider's job id */
#define LX_TPL_MODEL 2u /* {model}: the input's model */

/* NULL when tpl is a usable path template allowing the placeholders in
 * allowed, else why not (static text that reads after the setting's name).
 * A path starts with '/', holds no blank, control character, '#', '\' or
 * "..", and its only placeholders are {id} and {model}. */
const char *lx_tpl_path_problem(const char *tpl, unsigned allowed);

/* Appends tpl with {id} -> id and {model} -> input.model, each escaped as
 * one path segment (job.h). LX_ERROR when a value is missing or empty. */
int lx_tpl_path_fill(lx_buf_t *b, const char *tpl, const char *id, const json_t *input);

/* The input fields a body template may name: model, prompt, seconds, size,
 * image, n, quality, style, idempotency_key. */

/* NULL when body (any JSON) is a usable body template, else why not into
 * why[whylen]: a string's placeholders must be known names; "{{" and "}}"
 * are a literal brace. */
const char *lx_tpl_body_problem(const json_t *body, char *why, size_t whylen);

/* A new JSON value: body with every string that is exactly one placeholder
 * replaced by the input's value of that name as it is typed (a number stays
 * a number; a member or array element whose value is missing is left out),
 * and placeholders inside longer strings replaced by their text ("" when
 * missing). idempotency_key comes from the argument, not the input. */
json_t *lx_tpl_body_fill(const json_t *body, const json_t *input, const char *idempotency_key);

#endif
