/* adapter.h - provider adapters: small vtables with segregated capabilities.
 *
 * The canonical form inside llmux is the OpenAI wire format: a chat request is
 * an OpenAI chat.completions JSON object; a streamed answer is a sequence of
 * OpenAI chat.completion.chunk objects; a whole answer is a chat.completion
 * object. An adapter translates between that form and one provider's wire.
 * A provider that lacks a capability leaves its pointers NULL (the capability
 * filter reads that). Adapters are pure: no I/O, no globals, no locks; every
 * function runs on the caller's thread and owns nothing it was handed.
 *
 * Ownership: json_t arguments are borrowed; returned json_t are new
 * references the caller decrefs. Strings in lx_up_build_t are owned by it
 * (lx_up_build_free). Decoders are owned by the caller (stream_free). */
#ifndef LX_AI_ADAPTER_H
#define LX_AI_ADAPTER_H

#include "core/buf.h"
#include "core/config.h"

#include <jansson.h>

typedef struct {
    int64_t in;     /* prompt / input tokens (all of them, cached included) */
    int64_t out;    /* completion / output tokens */
    int64_t cached; /* prompt tokens served from a cache */
} lx_tokens_t;

/* The most tokens llmux believes of one request: a bound on every count a
 * client asks for (max_tokens) and every count an upstream reports. A
 * billion tokens is ~4 GB of text, far beyond any model's window, and
 * three of them still add up without overflowing an int64_t. */
#define LX_TOKENS_MAX INT64_C(1000000000)

/* A token count from outside, brought into [0, LX_TOKENS_MAX]. */
static inline int64_t lx_tokens_clamp(int64_t v)
{
    return v < 0 ? 0 : v > LX_TOKENS_MAX ? LX_TOKENS_MAX : v;
}

/* a + b for counts from outside, clamped before and after (no overflow). */
static inline int64_t lx_tokens_add(int64_t a, int64_t b)
{
    return lx_tokens_clamp(lx_tokens_clamp(a) + lx_tokens_clamp(b));
}

/* Every count clamped, and no more cached tokens than input tokens. */
static inline void lx_tokens_sane(lx_tokens_t *t)
{
    t->in = lx_tokens_clamp(t->in);
    t->out = lx_tokens_clamp(t->out);
    t->cached = lx_tokens_clamp(t->cached);
    if (t->cached > t->in)
        t->cached = t->in;
}

#define LX_UP_MAX_HEADERS 16

/* An upstream HTTP request, built by an adapter. */
typedef struct {
    lx_buf_t url;
    lx_buf_t body;
    char *headers[LX_UP_MAX_HEADERS]; /* "Name: value", owned */
    int nheaders;
} lx_up_build_t;

void lx_up_build_init(lx_up_build_t *b);
void lx_up_build_free(lx_up_build_t *b);
/* Appends a formatted "Name: value" header line. */
void lx_up_build_header(lx_up_build_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same for a "name: value" line, without printf. */
void lx_up_build_header_kv(lx_up_build_t *b, const char *name, const char *value);

/* Receives one canonical chunk: a complete chat.completion.chunk JSON object
 * (the decoder owns the bytes; valid during the call). */
typedef void (*lx_chunk_fn)(void *arg, const char *json, size_t n);

typedef enum {
    LX_STREAM_MORE = 0, /* go on */
    LX_STREAM_END,      /* the provider said the answer is complete */
    LX_STREAM_FAILED,   /* the provider reported an error mid-stream */
} lx_stream_rc_t;

typedef struct lx_stream_dec lx_stream_dec_t; /* adapter-private */

typedef struct {
    const char *name; /* "openai", "anthropic", "gemini" */

    /* ---- text: chat and chat stream ---- */
    /* Builds the upstream request for an OpenAI-form request whose "model"
     * is already the upstream model name. Returns LX_OK, or LX_ERROR with a
     * message (the client's fault, e.g. an unsupported content part) in err. */
    int (*chat_build)(const lx_provider_conf_t *p, const json_t *req, bool stream,
                      lx_up_build_t *out, char *err, size_t errlen);
    /* A whole upstream answer (status 200) to a chat.completion object.
     * model: the name to report. NULL with err if the body is not the
     * provider's shape. */
    json_t *(*chat_parse)(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                          char *err, size_t errlen);
    /* Streaming decoder: fed one SSE event at a time (event name may be
     * empty), it emits canonical chunks through emit, all with the same id
     * and model. usage is updated as the provider reports it (cumulative
     * values overwrite, never add twice). On LX_STREAM_FAILED, err holds the
     * provider's message. */
    lx_stream_dec_t *(*stream_new)(const char *model, const char *id, bool include_usage,
                                   lx_chunk_fn emit, void *arg);
    lx_stream_rc_t (*stream_event)(lx_stream_dec_t *d, lx_str_t event, lx_str_t data,
                                   lx_tokens_t *usage, char *err, size_t errlen);
    void (*stream_free)(lx_stream_dec_t *d);

    /* ---- embeddings ---- */
    /* req is an OpenAI embeddings request ("input": string or array). */
    int (*embed_build)(const lx_provider_conf_t *p, const json_t *req, lx_up_build_t *out,
                       char *err, size_t errlen);
    /* To an OpenAI {"object":"list","data":[...],"model","usage"} object. */
    json_t *(*embed_parse)(const char *body, size_t n, const char *model, lx_tokens_t *usage,
                           char *err, size_t errlen);

    /* ---- images ---- */
    /* req is an OpenAI images/generations request; the answer is OpenAI's
     * {"created","data":[...]} and passes through unchanged. */
    int (*image_build)(const lx_provider_conf_t *p, const json_t *req, lx_up_build_t *out,
                       char *err, size_t errlen);

    /* ---- errors ---- */
    /* The human message inside a provider's error body, written into out
     * (empty if none could be found). */
    void (*error_message)(const char *body, size_t n, char *out, size_t outlen);
} lx_adapter_t;

extern const lx_adapter_t lx_adapter_openai;    /* OpenAI and every compatible server */
extern const lx_adapter_t lx_adapter_anthropic; /* Anthropic Messages */
extern const lx_adapter_t lx_adapter_gemini;    /* Google Gemini generateContent */

const lx_adapter_t *lx_adapter_for(lx_provider_kind_t kind);

/* The message of an {"error":{"message"}} / {"error":"..."} / {"message"}
 * body (OpenAI, OpenAI-compatible servers, Anthropic). */
void lx_adapter_error_message(const char *body, size_t n, char *out, size_t outlen);

/* Content-Type, Authorization: Bearer and the provider's extra headers: what
 * every OpenAI-format upstream request carries. */
void lx_openai_headers(const lx_provider_conf_t *p, lx_up_build_t *b);

/* The URL ({base_url}/v1/messages, trailing '/' of base_url dropped) and
 * headers of every Anthropic request: Content-Type, x-api-key,
 * anthropic-version (a configured one wins, else version, else the
 * default), anthropic-beta (a configured one wins, else beta), then the
 * provider's extra headers. version and beta (the client's, for a
 * pass-through) may be NULL. */
void lx_anthropic_head(const lx_provider_conf_t *p, const char *version, const char *beta,
                       lx_up_build_t *b);

/* Maps a provider's finish/stop reason onto OpenAI's finish_reason. */
const char *lx_finish_from_anthropic(const char *stop_reason);
const char *lx_finish_from_gemini(const char *finish_reason);

#endif
