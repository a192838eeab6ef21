/* fuzz_chat_scan.c - the chat request scanner (src/ai/chat_scan.c).
 *
 * Whenever lx_chat_req_scan answers from the bytes alone, its answer must be
 * the one lx_chat_req_from_json gives from jansson's tree of the same body. */
#include "ai/chat_scan.h"
#include "core/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    lx_chat_req_t s = {0};
    bool sure = lx_chat_req_scan((lx_str_t){p, size}, &s);
    char err[200];
    json_t *root = lx_json_parse(p, size, LX_JSON_MAX_DEPTH, err, sizeof err);
    if (root == NULL || !json_is_object(root)) {
        if (sure) {
            fprintf(stderr, "scan was sure of a body jansson refuses\n");
            abort();
        }
        json_decref(root);
        return 0;
    }
    lx_chat_req_t j = {0};
    lx_chat_req_from_json(root, &j);
    if (sure &&
        (s.messages_array != j.messages_array || s.stream != j.stream ||
         s.client_usage != j.client_usage || s.need != j.need || s.max_tokens != j.max_tokens ||
         !lx_str_eq(s.model, j.model) || (s.model.p == NULL) != (j.model.p == NULL))) {
        fprintf(stderr,
                "scan and tree disagree: arr %d/%d stream %d/%d usage %d/%d need %u/%u "
                "max %lld/%lld model '%.*s'/'%.*s'\n",
                s.messages_array, j.messages_array, s.stream, j.stream, s.client_usage,
                j.client_usage, s.need, j.need, (long long)s.max_tokens, (long long)j.max_tokens,
                (int)s.model.n, s.model.p ? s.model.p : "", (int)j.model.n,
                j.model.p ? j.model.p : "");
        abort();
    }
    json_decref(root);
    return 0;
}
