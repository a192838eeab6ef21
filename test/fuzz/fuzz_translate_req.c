/* fuzz_translate_req.c - request translators: an OpenAI chat request to
 * each provider's wire (chat_build of openai.c, anthropic.c, gemini.c, plus
 * embeddings and images where a provider has them), and an Anthropic
 * Messages request to the canonical form (messages_fmt.c) and on to each
 * provider. The input is the client's JSON body; the same checks the
 * handlers make before translating (chat.c, messages.c, embed.c) are made
 * here, so only what a client can really reach is driven. Every upstream
 * body built must be JSON. */
#include "ai/adapter.h"
#include "ai/messages_fmt.h"
#include "core/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const lx_adapter_t *const ADAPTERS[] = {&lx_adapter_openai, &lx_adapter_anthropic,
                                               &lx_adapter_gemini};
static const lx_provider_kind_t KINDS[] = {LX_PROVIDER_OPENAI, LX_PROVIDER_ANTHROPIC,
                                           LX_PROVIDER_GEMINI};

static void conf_for(lx_provider_conf_t *c, int i)
{
    static char *hn[] = {"x-extra"}, *hv[] = {"1"};
    *c = (lx_provider_conf_t){.name = "p",
                              .kind = KINDS[i],
                              .base_url = "http://127.0.0.1:9",
                              .api_key = "k",
                              .nheaders = 1,
                              .timeouts = {1000, 1000, 1000, 1000}};
    c->header_names[0] = hn[0];
    c->header_values[0] = hv[0];
}

static void check_built(int rc, const lx_up_build_t *b, const char *err, const char *what)
{
    if (rc == LX_OK) {
        if (b->body.n == 0 || b->url.n == 0)
            abort();
        json_t *j = json_loadb(b->body.p, b->body.n, 0, NULL);
        if (j == NULL) {
            fprintf(stderr, "%s built a body that is not JSON: %.*s\n", what, (int)b->body.n,
                    b->body.p);
            abort();
        }
        json_decref(j);
    } else if (rc != LX_ERROR || err[0] == '\0') {
        fprintf(stderr, "%s failed without a message\n", what);
        abort();
    }
}

/* A canonical request (object with a messages array) to every provider. */
static void build_chat(json_t *canon)
{
    json_object_set_new(canon, "model", json_string("m"));
    for (int i = 0; i < 3; i++) {
        lx_provider_conf_t c;
        conf_for(&c, i);
        for (int stream = 0; stream < 2; stream++) {
            lx_up_build_t b;
            lx_up_build_init(&b);
            char err[300] = "";
            int rc = ADAPTERS[i]->chat_build(&c, canon, stream, &b, err, sizeof err);
            check_built(rc, &b, err, ADAPTERS[i]->name);
            lx_up_build_free(&b);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[300];
    json_t *root = lx_json_parse((const char *)data, size, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }

    /* OpenAI chat (chat.c: messages must be an array). */
    if (json_is_array(json_object_get(root, "messages"))) {
        json_t *copy = json_deep_copy(root);
        build_chat(copy);
        json_decref(copy);
    }

    /* Anthropic Messages (messages.c: valid_request). */
    json_t *mt = json_object_get(root, "max_tokens");
    json_t *msgs = json_object_get(root, "messages");
    if (json_is_integer(mt) && json_integer_value(mt) >= 1 && json_is_array(msgs) &&
        json_array_size(msgs) > 0) {
        const char *param = NULL;
        err[0] = '\0';
        json_t *canon = lx_messages_to_openai(root, err, sizeof err, &param);
        if (canon) {
            if (!json_is_object(canon) || !json_is_array(json_object_get(canon, "messages")))
                abort();
            build_chat(canon);
            json_decref(canon);
        } else if (err[0] == '\0') {
            fprintf(stderr, "lx_messages_to_openai failed without a message\n");
            abort();
        }
    }

    /* Embeddings (embed.c: input a string or an array) and images. */
    json_t *input = json_object_get(root, "input");
    for (int i = 0; i < 3; i++) {
        lx_provider_conf_t c;
        conf_for(&c, i);
        lx_up_build_t b;
        if (ADAPTERS[i]->embed_build && (json_is_string(input) || json_is_array(input))) {
            lx_up_build_init(&b);
            err[0] = '\0';
            int rc = ADAPTERS[i]->embed_build(&c, root, &b, err, sizeof err);
            check_built(rc, &b, err, "embed_build");
            lx_up_build_free(&b);
        }
        if (ADAPTERS[i]->image_build) {
            lx_up_build_init(&b);
            err[0] = '\0';
            int rc = ADAPTERS[i]->image_build(&c, root, &b, err, sizeof err);
            check_built(rc, &b, err, "image_build");
            lx_up_build_free(&b);
        }
    }
    json_decref(root);
    return 0;
}
