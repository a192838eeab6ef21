/* corpus.c - the benchmark streams of corpus.h. */
#include "corpus.h"
#include "micro.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Raw text pieces (escaped when written): mostly words with their leading
 * space, some punctuation, newlines, quotes, code and non-ASCII. */
static const char *const words[] = {
    " the",  " model",  " request", " a",        " of",      " to",    " and",
    " is",   " stream", " token",   " response", " gateway", " that",  " with",
    " for",  " it",     " can",     " provider", " latency", " we",    " this",
    ",",     ".",       " in",      " routing",  " cache",   " on",    " as",
    "\n\n",  "\n",      " \"",      "\"",        " café",    " naïve", " über",
    " 東京", " —",      " `json`",  "```c\n",    "{",        "}",      " x",
    " 42",   " 3.14",   "ing",      "ed",        " be",      " you",   " not",
};
#define NWORDS (sizeof words / sizeof words[0])

static void end_event(corpus_t *c)
{
    if (c->nevents == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->ends = lx_realloc(c->ends, c->cap * sizeof *c->ends);
    }
    c->ends[c->nevents++] = c->bytes.n;
}

static void init(corpus_t *c)
{
    *c = (corpus_t){0};
    lx_buf_init(&c->bytes, 1 << 20);
}

/* n words (raw) into t. */
static void text(lx_buf_t *t, uint64_t *rng, int n)
{
    lx_buf_reset(t);
    for (int i = 0; i < n; i++)
        lx_buf_append_cstr(t, words[micro_below(rng, NWORDS)]);
}

void corpus_free(corpus_t *c)
{
    lx_buf_free(&c->bytes);
    free(c->ends);
    *c = (corpus_t){0};
}

/* ---- OpenAI ---------------------------------------------------------------- */

#define OA_HEAD                                                                                    \
    "data: {\"id\":\"chatcmpl-BkX2m9Qv3yZr7LwT0aHfC5eJd8sNp\",\"object\":\"chat.completion."       \
    "chunk\",\"created\":1763731200,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":"        \
    "\"default\",\"system_fingerprint\":\"fp_560af6e559\",\"choices\":"

void corpus_openai(corpus_t *c, int tokens, uint64_t seed)
{
    lx_buf_t t;
    lx_buf_init(&t, 64);
    init(c);
    lx_buf_t *b = &c->bytes;
    lx_buf_append_cstr(b,
                       OA_HEAD "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                               "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    end_event(c);
    for (int i = 0; i < tokens; i++) {
        text(&t, &seed, 1);
        lx_buf_append_cstr(b, OA_HEAD "[{\"index\":0,\"delta\":{\"content\":");
        lx_buf_append_json_str(b, t.p, t.n);
        lx_buf_append_cstr(b, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
        end_event(c);
    }
    lx_buf_append_cstr(
        b,
        OA_HEAD "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n");
    end_event(c);
    lx_buf_printf(b,
                  OA_HEAD "[],\"usage\":{\"prompt_tokens\":472,\"completion_tokens\":%d,"
                          "\"total_tokens\":%d,\"prompt_tokens_details\":{\"cached_tokens\":0,"
                          "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":"
                          "0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
                          "\"rejected_prediction_tokens\":0}}}\n\n",
                  tokens, tokens + 472);
    end_event(c);
    lx_buf_append_cstr(b, "data: [DONE]\n\n");
    end_event(c);
    lx_buf_free(&t);
}

/* ---- Anthropic ------------------------------------------------------------- */

static void an_event(corpus_t *c, const char *name, const char *data_fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void an_event(corpus_t *c, const char *name, const char *data_fmt, ...)
{
    va_list ap;
    lx_buf_printf(&c->bytes, "event: %s\ndata: ", name);
    va_start(ap, data_fmt);
    lx_buf_vprintf(&c->bytes, data_fmt, ap);
    va_end(ap);
    lx_buf_append_cstr(&c->bytes, "\n\n");
    end_event(c);
}

void corpus_anthropic(corpus_t *c, int text_deltas, int json_deltas, uint64_t seed)
{
    lx_buf_t t;
    lx_buf_init(&t, 256);
    init(c);
    an_event(c, "message_start",
             "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
             "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\","
             "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
             "\"input_tokens\":472,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":"
             "0,\"output_tokens\":2,\"service_tier\":\"standard\"}}}");
    an_event(c, "content_block_start",
             "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
             "\"text\":\"\"}}");
    for (int i = 0; i < text_deltas; i++) {
        text(&t, &seed, 1 + (int)micro_below(&seed, 4));
        lx_buf_t *b = &c->bytes;
        lx_buf_append_cstr(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                              "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":");
        lx_buf_append_json_str(b, t.p, t.n);
        lx_buf_append_cstr(b, "}}\n\n");
        end_event(c);
        if (i == 0)
            an_event(c, "ping", "{\"type\": \"ping\"}");
    }
    an_event(c, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
    an_event(c, "content_block_start",
             "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
             "\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"search_docs\","
             "\"input\":{}}}");
    /* The arguments, cut into pieces of 4-20 bytes (whole UTF-8 characters)
     * as Anthropic streams them. */
    lx_buf_t args;
    lx_buf_init(&args, 1024);
    lx_buf_append_cstr(&args, "{\"query\": \"");
    while (args.n < (size_t)json_deltas * 12) {
        text(&t, &seed, 1);
        for (size_t k = 0; k < t.n; k++) /* keep the arguments valid JSON */
            if (t.p[k] != '"' && t.p[k] != '\n')
                lx_buf_append_char(&args, t.p[k]);
    }
    lx_buf_append_cstr(&args, "\", \"limit\": 10}");
    size_t at = 0;
    int sent = 0;
    for (int i = 0; i < json_deltas && at < args.n; i++, sent++) {
        size_t n = i == json_deltas - 1 ? args.n - at : 4 + micro_below(&seed, 17);
        if (n > args.n - at)
            n = args.n - at;
        while (at + n < args.n && (args.p[at + n] & 0xc0) == 0x80)
            n++; /* pieces are whole characters */
        lx_buf_t *b = &c->bytes;
        lx_buf_append_cstr(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                              "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
                              "\"partial_json\":");
        lx_buf_append_json_str(b, args.p + at, n);
        lx_buf_append_cstr(b, "}}\n\n");
        end_event(c);
        at += n;
    }
    lx_buf_free(&args);
    an_event(c, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}");
    an_event(c, "message_delta",
             "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
             "\"stop_sequence\":null},\"usage\":{\"output_tokens\":%d}}",
             text_deltas * 2 + json_deltas);
    an_event(c, "message_stop", "{\"type\":\"message_stop\"}");
    /* role, every text delta, tool start, every args delta, finish, usage */
    c->chunks = (size_t)text_deltas + (size_t)sent + 4;
    lx_buf_free(&t);
}

/* ---- Gemini ---------------------------------------------------------------- */

#define GM_TAIL                                                                                    \
    "\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"tXUgaKmQBZ2hz7IPp_Tz0Ao\"}\r\n\r\n"

static void gm_text(corpus_t *c, const lx_buf_t *t, const char *finish, int out_tokens)
{
    lx_buf_t *b = &c->bytes;
    lx_buf_append_cstr(b, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": ");
    lx_buf_append_json_str(b, t->p, t->n);
    lx_buf_append_cstr(b, "}],\"role\": \"model\"}");
    if (finish)
        lx_buf_printf(b, ",\"finishReason\": \"%s\"", finish);
    lx_buf_append_cstr(b, ",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 472,");
    if (out_tokens > 0)
        lx_buf_printf(b, "\"candidatesTokenCount\": %d,\"totalTokenCount\": %d,", out_tokens,
                      out_tokens + 472);
    else
        lx_buf_append_cstr(b, "\"totalTokenCount\": 472,");
    lx_buf_append_cstr(b, "\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": "
                          "472}]}," GM_TAIL);
    end_event(c);
}

void corpus_gemini(corpus_t *c, int text_events, uint64_t seed)
{
    lx_buf_t t;
    lx_buf_init(&t, 256);
    init(c);
    for (int i = 0; i < text_events; i++) {
        text(&t, &seed, 3 + (int)micro_below(&seed, 10));
        gm_text(c, &t, NULL, 0);
    }
    lx_buf_append_cstr(&c->bytes,
                       "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": "
                       "{\"name\": \"search_docs\",\"args\": {\"query\": \"gateway latency\","
                       "\"limit\": 10}}}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": "
                       "{\"promptTokenCount\": 472,\"totalTokenCount\": 472,"
                       "\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": "
                       "472}]}," GM_TAIL);
    end_event(c);
    lx_buf_reset(&t);
    lx_buf_append_cstr(&t, ".");
    gm_text(c, &t, "STOP", text_events * 7 + 12);
    /* role, every text event, the call, the last text, finish, usage */
    c->chunks = (size_t)text_events + 5;
    lx_buf_free(&t);
}
