/* catalog.c - well-known models and name resolution. Prices are USD per
 * million tokens as published by each provider; operators override them in
 * the database catalog. */
#include "ai/catalog.h"

#include <stdio.h>

#define TXT (LX_CAP_CHAT | LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_JSON)
#define VIS (TXT | LX_CAP_VISION)
#define EMB LX_CAP_EMBED

const lx_model_info_t lx_catalog[] = {
    {"openai", "gpt-4o", VIS, 128000, 16384, 2.50, 10.00, 1.25},
    {"openai", "gpt-4o-mini", VIS, 128000, 16384, 0.15, 0.60, 0.075},
    {"openai", "gpt-4.1", VIS, 1047576, 32768, 2.00, 8.00, 0.50},
    {"openai", "gpt-4.1-mini", VIS, 1047576, 32768, 0.40, 1.60, 0.10},
    {"openai", "gpt-4.1-nano", VIS, 1047576, 32768, 0.10, 0.40, 0.025},
    {"openai", "o3-mini", TXT, 200000, 100000, 1.10, 4.40, 0.55},
    {"openai", "text-embedding-3-small", EMB, 8191, 0, 0.02, 0, 0},
    {"openai", "text-embedding-3-large", EMB, 8191, 0, 0.13, 0, 0},
    {"openai", "dall-e-3", LX_CAP_IMAGES, 4000, 0, 0, 0, 0},
    {"openai", "gpt-image-1", LX_CAP_IMAGES, 32000, 0, 5.00, 40.00, 1.25},
    {"anthropic", "claude-sonnet-4-5", VIS, 200000, 64000, 3.00, 15.00, 0.30},
    {"anthropic", "claude-opus-4-1", VIS, 200000, 32000, 15.00, 75.00, 1.50},
    {"anthropic", "claude-haiku-4-5", VIS, 200000, 64000, 1.00, 5.00, 0.10},
    {"anthropic", "claude-3-5-haiku-latest", VIS, 200000, 8192, 0.80, 4.00, 0.08},
    {"gemini", "gemini-2.0-flash", VIS, 1048576, 8192, 0.10, 0.40, 0.025},
    {"gemini", "gemini-2.5-flash", VIS, 1048576, 65536, 0.30, 2.50, 0.075},
    {"gemini", "gemini-2.5-pro", VIS, 1048576, 65536, 1.25, 10.00, 0.31},
    {"gemini", "text-embedding-004", EMB, 2048, 0, 0, 0, 0},
    {"gemini", "gemini-embedding-001", EMB, 2048, 0, 0.15, 0, 0},
    {"openrouter", "meta-llama/llama-3.3-70b-instruct", TXT, 131072, 16384, 0.13, 0.40, 0},
    {"openrouter", "deepseek/deepseek-chat", TXT, 163840, 16384, 0.30, 0.85, 0},
    {"demo", "mock-model", VIS | EMB, 128000, 16384, 0.10, 0.20, 0.05},
    {"demo", "mock-embed", EMB, 8192, 0, 0.01, 0, 0},
};
const size_t lx_catalog_len = sizeof lx_catalog / sizeof lx_catalog[0];

unsigned lx_provider_caps(lx_provider_kind_t kind)
{
    switch (kind) {
    case LX_PROVIDER_ANTHROPIC:
        return VIS;
    case LX_PROVIDER_GEMINI:
        return VIS | EMB;
    default:
        return VIS | EMB | LX_CAP_IMAGES;
    }
}

static const lx_model_info_t *find(const char *provider, lx_str_t name)
{
    for (size_t i = 0; i < lx_catalog_len; i++)
        if (lx_str_eq_cstr(name, lx_catalog[i].name) &&
            (provider == NULL || strcmp(provider, lx_catalog[i].provider) == 0))
            return &lx_catalog[i];
    return NULL;
}

lx_resolve_rc_t lx_resolve_model(const lx_config_t *cfg, lx_str_t model, lx_target_t *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = memchr(model.p, '/', model.n);
    if (slash) {
        lx_str_t pname = {model.p, (size_t)(slash - model.p)};
        const lx_provider_conf_t *p = lx_config_provider(cfg, pname);
        if (p) {
            lx_str_t rest = {slash + 1, model.n - pname.n - 1};
            out->provider = p;
            snprintf(out->upstream_model, sizeof out->upstream_model, "%.*s", (int)rest.n, rest.p);
            out->info = find(p->name, rest);
            return LX_RESOLVE_OK;
        }
    }
    /* A bare name (or one whose prefix is not a provider, such as an
     * OpenRouter-style "meta-llama/..." name): the catalog decides. */
    for (size_t i = 0; i < lx_catalog_len; i++) {
        if (!lx_str_eq_cstr(model, lx_catalog[i].name))
            continue;
        const lx_provider_conf_t *p = lx_config_provider(cfg, lx_str(lx_catalog[i].provider));
        if (p == NULL)
            continue;
        out->provider = p;
        out->info = &lx_catalog[i];
        snprintf(out->upstream_model, sizeof out->upstream_model, "%.*s", (int)model.n, model.p);
        return LX_RESOLVE_OK;
    }
    return slash ? LX_RESOLVE_UNKNOWN_PROVIDER : LX_RESOLVE_UNKNOWN_MODEL;
}
