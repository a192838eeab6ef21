/* gemini_request.h - private to the Gemini adapter (gemini.c,
 * gemini_request.c): the request body built from a canonical chat request,
 * and the small helpers both files use. */
#ifndef LX_AI_ADAPTERS_GEMINI_REQUEST_H
#define LX_AI_ADAPTERS_GEMINI_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* 15 significant digits print every short decimal exactly as the client
 * wrote it (0.7 stays 0.7 instead of 0.69999999999999996). */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
/* Gemini allows candidateCount 1..8. */
#define MAX_CANDIDATES 8

static inline bool is_set(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

static inline bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The generateContent body for a canonical chat request (new reference):
 * systemInstruction, contents, tools, toolConfig, generationConfig. NULL
 * with a message in err when the request cannot be translated. */
json_t *lx_gemini_request_body(const json_t *req, char *err, size_t errlen);

#endif
