/* catalog.h - the built-in model catalog and model-name resolution.
 *
 * The catalog is static, read-only data shared by every thread: well-known
 * models per provider with context windows, output limits, prices and
 * capabilities. A name "provider/model" always reaches that provider: a
 * public name of one of its models (an alias) goes upstream under that
 * model's upstream name, anything else unchanged; a bare name is looked up
 * in the registry snapshot's models (which the database seeds from this
 * catalog, and the config file's "models" add aliases to). */
#ifndef LX_AI_CATALOG_H
#define LX_AI_CATALOG_H

#include "ai/registry.h"
#include "core/config.h"

enum {
    LX_CAP_CHAT = 1 << 0,
    LX_CAP_STREAM = 1 << 1,
    LX_CAP_TOOLS = 1 << 2,
    LX_CAP_VISION = 1 << 3,
    LX_CAP_EMBED = 1 << 4,
    LX_CAP_IMAGES = 1 << 5,
    LX_CAP_VIDEO = 1 << 6,
    LX_CAP_JSON = 1 << 7,
};

typedef struct {
    const char *provider; /* provider name, e.g. "openai" */
    const char *name;     /* public and upstream name */
    unsigned caps;
    int context_window;
    int max_output;
    double input_per_1m; /* USD */
    double output_per_1m;
    double cached_per_1m;
} lx_model_info_t;

extern const lx_model_info_t lx_catalog[];
extern const size_t lx_catalog_len;

/* The provider capabilities by kind (what its adapter can do). */
unsigned lx_provider_caps(lx_provider_kind_t kind);

/* Capability words as stored in ai_models.capabilities. */
unsigned lx_cap_from_name(const char *name);
/* Writes caps as a Postgres array literal, e.g. {chat,stream}. */
void lx_caps_format(unsigned caps, char *out, size_t outlen);

/* What a model name resolves to (lx_resolve_model): a group, or a provider
 * and its model. The places a request then goes are lx_target_t. */
typedef struct {
    const lx_group_entry_t *group; /* a model group: its members are the targets */
    const lx_provider_t *prov;     /* a group's: its first member's */
    const lx_model_t *model;       /* NULL when not in the catalog */
    char upstream_model[256];
    unsigned caps; /* what the target can do */
    bool bare;     /* a bare public name: every model with that name is a candidate */
} lx_resolved_t;

typedef enum {
    LX_RESOLVE_OK = 0,
    LX_RESOLVE_UNKNOWN_PROVIDER, /* "x/model" with no active provider x */
    LX_RESOLVE_UNKNOWN_MODEL,    /* a bare name not in the catalog of an active provider */
} lx_resolve_rc_t;

lx_resolve_rc_t lx_resolve_model(const lx_snapshot_t *snap, lx_str_t model, lx_resolved_t *out);

#endif
