/* fuzz_translate_resp.c - whole upstream answers: each provider's
 * chat_parse and embed_parse (openai.c, anthropic.c, gemini.c), its error
 * message reader, and the canonical completion on to an Anthropic message
 * (messages_fmt.c: lx_messages_from_openai), as call.c chains them. The
 * input is an upstream's response body. */
#include "ai/adapter.h"
#include "ai/messages_fmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const lx_adapter_t *const ADAPTERS[] = {&lx_adapter_openai, &lx_adapter_anthropic,
                                               &lx_adapter_gemini};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    for (int i = 0; i < 3; i++) {
        const lx_adapter_t *a = ADAPTERS[i];
        lx_tokens_t tok = {0};
        char err[300] = "";
        json_t *c = a->chat_parse(p, size, "m", &tok, err, sizeof err);
        if (c) {
            if (!json_is_object(c))
                abort();
            json_t *msg = lx_messages_from_openai(c, "m", &tok);
            char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
            if (s == NULL)
                abort(); /* a message object that serializes */
            free(s);
            json_decref(msg);
            json_decref(c);
        } else if (err[0] == '\0') {
            fprintf(stderr, "%s chat_parse failed without a message\n", a->name);
            abort();
        }
        if (a->embed_parse) {
            err[0] = '\0';
            json_t *e = a->embed_parse(p, size, "m", &tok, err, sizeof err);
            if (e == NULL && err[0] == '\0')
                abort();
            json_decref(e);
        }
        char m[512];
        memset(m, 'x', sizeof m);
        a->error_message(p, size, m, sizeof m);
        if (strnlen(m, sizeof m) == sizeof m)
            abort(); /* always terminated */
    }
    return 0;
}
