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
    {"demo", "mock-model", VIS | EMB | LX_CAP_IMAGES, 128000, 16384, 0.10, 0.20, 0.05},
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

static const char *const cap_names[] = {"chat",       "stream", "tools", "vision",
                                        "embeddings", "images", "video", "json"};

unsigned lx_cap_from_name(const char *name)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(cap_names); i++)
        if (strcmp(name, cap_names[i]) == 0)
            return 1u << i;
    return 0;
}

void lx_caps_format(unsigned caps, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "{");
    for (size_t i = 0; i < LX_ARRAY_LEN(cap_names) && n < outlen; i++)
        if (caps & (1u << i))
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", n > 1 ? "," : "", cap_names[i]);
    if (n < outlen)
        snprintf(out + n, outlen - n, "}");
}

lx_resolve_rc_t lx_resolve_model(const lx_snapshot_t *snap, lx_str_t model, lx_resolved_t *out)
{
    memset(out, 0, sizeof *out);
    const lx_group_entry_t *g = lx_snapshot_group(snap, model);
    if (g) { /* a group name wins: its strategy picks among the members */
        out->group = g;
        out->prov = g->targets[0].prov;
        out->model = g->targets[0].model;
        lx_copy(out->upstream_model, sizeof out->upstream_model, model.p, model.n);
        out->caps = 0;
        for (int i = 0; i < g->ntargets; i++) {
            unsigned c = lx_provider_caps(g->targets[i].prov->conf.kind);
            out->caps |= g->targets[i].model ? c & g->targets[i].model->caps : c;
        }
        return LX_RESOLVE_OK;
    }
    const char *slash = memchr(model.p, '/', model.n);
    if (slash) {
        const lx_provider_t *p =
            lx_snapshot_provider(snap, (lx_str_t){model.p, (size_t)(slash - model.p)});
        if (p && p->active) {
            lx_str_t rest = {slash + 1, model.n - (size_t)(slash - model.p) - 1};
            out->prov = p;
            out->model = lx_snapshot_model(snap, p, rest);
            /* an alias ("demo/my-chat") goes upstream under its upstream name */
            if (out->model)
                lx_copy_cstr(out->upstream_model, sizeof out->upstream_model,
                             out->model->upstream_name);
            else
                lx_copy(out->upstream_model, sizeof out->upstream_model, rest.p, rest.n);
            out->caps = lx_provider_caps(p->conf.kind);
            if (out->model)
                out->caps &= out->model->caps;
            return LX_RESOLVE_OK;
        }
    }
    /* A bare name (or one whose prefix is not a provider, such as an
     * OpenRouter-style "meta-llama/..." name): the catalog decides. */
    const lx_model_t *m = lx_snapshot_public_model(snap, model);
    if (m == NULL)
        return slash ? LX_RESOLVE_UNKNOWN_PROVIDER : LX_RESOLVE_UNKNOWN_MODEL;
    out->prov = m->provider;
    out->model = m;
    lx_copy_cstr(out->upstream_model, sizeof out->upstream_model, m->upstream_name);
    out->caps = lx_provider_caps(m->provider->conf.kind) & m->caps;
    out->bare = true;
    return LX_RESOLVE_OK;
}
