/* call.h - one parsed API request as the router hands it to an endpoint handler,
 * and the handlers themselves (one group per provider file). */
#ifndef MOCK_CALL_H
#define MOCK_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include <evhtp.h>
#include <jansson.h>

#include "opts.h"

typedef struct {
    evhtp_request_t *req;
    const char *path;  /* NUL-terminated; owned by req */
    const char *query; /* raw query string or ""; owned by req */
    const char *body;  /* request body bytes (not NUL-terminated); owned by req */
    size_t body_len;
    json_t *json;      /* parsed body, or NULL; owned by the router, freed after the handler */
    const char *model; /* model as received (with +options); owned by json or the router */
    size_t model_len;
    size_t base_len;    /* length of the model name before the first '+' */
    const char *action; /* Gemini ":action" without the colon, or NULL */
    mock_opts_t opts;   /* defaults < x-mock-* headers < model suffix */
    long prompt_tokens; /* max(1, body bytes / 4) */
} mock_call_t;

/* Content pieces: appends "tok{i} " for i in [from, to). */
void mock_tokens(struct evbuffer *out, long from, long to);

/* Name of the tool to call for an OpenAI/Anthropic style "tools" array, honouring
 * tool_choice; NULL when no tool call should be made. Borrowed from json. */
const char *mock_pick_tool(json_t *json, bool anthropic);

/* openai.c */
void mock_openai_chat(mock_call_t *c);
void mock_openai_models(evhtp_request_t *req, const char *id);

/* embed.c */
void mock_openai_embeddings(mock_call_t *c);
void mock_embed_vector(struct evbuffer *out, const char *text, size_t n, long dims);

/* anthropic.c */
void mock_anthropic_messages(mock_call_t *c);
void mock_anthropic_count_tokens(mock_call_t *c);

/* gemini.c */
void mock_gemini(mock_call_t *c);
void mock_gemini_models(evhtp_request_t *req, const char *id);

/* media.c */
void mock_images(mock_call_t *c);
void mock_file(evhtp_request_t *req, const char *name);

/* video.c: the OpenAI Videos API */
void mock_video_submit(mock_call_t *c);
void mock_video_list(evhtp_request_t *req, const char *query);
void mock_video_get(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o);
void mock_video_content(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o);
void mock_video_delete(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o);

/* runway.c: the Runway task API (image: /image_to_video, else /text_to_video) */
void mock_runway_submit(mock_call_t *c, bool image);
void mock_runway_get(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o);
void mock_runway_delete(evhtp_request_t *req, const char *id, size_t id_len, const mock_opts_t *o);

/* Text fields of a multipart/form-data body as a new JSON object (caller owns),
 * or NULL if ctype has no boundary. File parts are skipped. */
json_t *mock_form_fields(const char *ctype, const char *body, size_t n);

/* The listen address as given ("127.0.0.1:9000"), for URLs in replies. */
extern const char *mock_listen_addr;

#endif
