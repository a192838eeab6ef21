/* provider_kind.c - the provider kinds' names (config.h): static data,
 * owns nothing; moved out of config.c to keep it one concern. */
#include "core/config.h"

#include <string.h>

static const char *const kind_names[LX_PROVIDER__COUNT] = {
    [LX_PROVIDER_OPENAI] = "openai",
    [LX_PROVIDER_ANTHROPIC] = "anthropic",
    [LX_PROVIDER_GEMINI] = "gemini",
    [LX_PROVIDER_OPENAI_COMPAT] = "openai_compatible",
};

const char *lx_provider_kind_name(lx_provider_kind_t k)
{
    return (unsigned)k < LX_PROVIDER__COUNT ? kind_names[k] : "unknown";
}

int lx_provider_kind_parse(const char *s, lx_provider_kind_t *out)
{
    for (int i = 0; i < LX_PROVIDER__COUNT; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (lx_provider_kind_t)i;
            return LX_OK;
        }
    }
    if (strcmp(s, "generic") == 0 || strcmp(s, "openrouter") == 0) {
        *out = LX_PROVIDER_OPENAI_COMPAT;
        return LX_OK;
    }
    return LX_ERROR;
}
