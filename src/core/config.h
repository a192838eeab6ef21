/* config.h - llmux settings: defaults, then the JSON file (--config), then the
 * environment, then command-line flags; each layer overrides the one before.
 *
 * lx_config_t owns every string in it; lx_config_free releases them. After
 * start-up the config is read-only and shared by all threads. Secrets
 * (admin_key, master_key, provider api_key, database_url) are never logged:
 * lx_config_dump_json masks them. */
#ifndef LX_CORE_CONFIG_H
#define LX_CORE_CONFIG_H

#include "core/common.h"
#include "core/log.h"
#include "core/netpolicy.h"
#include "core/transport.h"

#include <stdio.h>

#define LX_MAX_PROVIDERS     32
#define LX_MAX_EXTRA_HEADERS 8

typedef enum {
    LX_PROVIDER_OPENAI = 0,
    LX_PROVIDER_ANTHROPIC,
    LX_PROVIDER_GEMINI,
    LX_PROVIDER_OPENAI_COMPAT,
    LX_PROVIDER__COUNT
} lx_provider_kind_t;

const char *lx_provider_kind_name(lx_provider_kind_t k);
int lx_provider_kind_parse(const char *s, lx_provider_kind_t *out);

typedef struct {
    int connect_ms;
    int first_byte_ms;
    int idle_ms; /* longest gap between two chunks of a stream */
    int total_ms;
} lx_timeouts_t;

typedef struct {
    char *name; /* "openai", "anthropic", "gemini", "openrouter", "demo", ... */
    lx_provider_kind_t kind;
    char *base_url;
    char *api_key; /* secret; may be NULL for keyless local servers */
    char *header_names[LX_MAX_EXTRA_HEADERS];
    char *header_values[LX_MAX_EXTRA_HEADERS];
    int nheaders;
    lx_timeouts_t timeouts;
    lx_transport_t transport; /* http2, max_connections, ... (core/transport.h) */
} lx_provider_conf_t;

#define LX_MAX_GROUPS        32
#define LX_MAX_GROUP_MEMBERS 16

/* A model group from the config file (the database may hold more). */
typedef struct {
    char *name;
    char *strategy;
    int nmembers;
    struct {
        char *provider;
        char *model;
        int weight, priority;
    } members[LX_MAX_GROUP_MEMBERS];
} lx_group_conf_t;

#define LX_MAX_MODEL_ALIASES 64

/* A public model name from the config file ("models"): an alias of an
 * upstream model of a configured provider. Values left out (negative) come
 * from the catalog's entry for that upstream model, if it has one. */
typedef struct {
    char *name;                                        /* the public name clients use */
    char *provider;                                    /* a configured provider's name */
    char *model;                                       /* the upstream model name */
    int context_window, max_output;                    /* -1: from the catalog */
    double input_per_1m, output_per_1m, cached_per_1m; /* USD; < 0: from the catalog */
} lx_model_conf_t;

/* JWT sign-in (README "Sign-in and roles"): on when an HS256 secret or a
 * JWKS file is set. hs256_secret is a secret (never logged). */
typedef struct {
    char *hs256_secret; /* secret; NULL: none */
    char *hs256_kid;    /* the kid tokens signed with it carry; NULL: none */
    char *jwks_file;    /* RS256/ES256 public keys, read at start-up */
    char *issuer, *audience;
    int leeway_s;
    char *user_claim, *team_claim, *role_claim; /* "sub", "team", "role" */
} lx_jwt_conf_t;

/* Traces (README "Traces"): the settings as written, from the file's
 * "tracing" object and the OTEL_* variables (config_tracing.c); checked and
 * parsed by src/obs/trace_conf.c at start-up. headers is a secret. */
typedef struct {
    char *endpoint, *traces_endpoint, *headers, *service_name, *sampler, *sampler_arg;
    bool disabled;        /* OTEL_SDK_DISABLED / tracing.disabled */
    bool capture_content; /* prompt and answer text on spans (off by default) */
} lx_tracing_conf_t;

typedef struct {
    char *listen_host;
    int listen_port;
    int workers;
    int backlog;
    char *database_url; /* secret: may carry a password */
    char *admin_key;    /* secret */
    unsigned char master_key[32];
    bool has_master_key;
    unsigned char master_key_old[32]; /* still opens credentials sealed before a rotation */
    bool has_master_key_old;

    size_t max_body_bytes;
    size_t max_header_bytes;
    int max_headers;
    int header_timeout_ms;
    int body_timeout_ms; /* from the end of the head to the end of the body */
    int max_connections; /* client connections, all workers together; 0: from the fd limit */
    int keepalive_timeout_ms;
    int write_timeout_ms;
    int drain_timeout_ms;
    size_t stream_high_water;
    size_t max_event_bytes; /* one streamed upstream event; larger ends the stream */
    int registry_refresh_ms;

    /* routing: retries, breakers, cooling (see README) */
    int breaker_failures; /* consecutive failures that open a connection's breaker; 0: off */
    int breaker_open_ms;  /* how long it stays open before a probe */
    int cooling_cap_ms;   /* longest cooling after a 429 (Retry-After is capped to it) */
    int retry_same;       /* retries on one target before falling back */
    int auth_hold_ms;     /* a 401/403 keeps a credential out this long */

    lx_log_level_t log_level;
    bool access_log;
    bool usage_log;       /* record usage (to Postgres when configured, else as log lines) */
    bool metrics_per_key; /* /metrics: also requests, tokens and cost by key (README "Metrics") */

    lx_timeouts_t upstream;             /* defaults for providers that set none */
    size_t upstream_max_response_bytes; /* a whole (non-stream) answer; larger is a 502 */
    lx_netpolicy_t netpolicy;           /* upstream.allowed_networks / denied_networks */
    char *upstream_ca_file;             /* upstream.ca_file: CA bundle; NULL: the system's */
    int upstream_tls_min;               /* upstream.tls_min: 12 (TLS 1.2) or 13 (TLS 1.3) */
    lx_provider_conf_t providers[LX_MAX_PROVIDERS];
    int nproviders;
    lx_group_conf_t groups[LX_MAX_GROUPS];
    int ngroups;
    lx_model_conf_t models[LX_MAX_MODEL_ALIASES];
    int nmodels;
    lx_jwt_conf_t jwt;
    lx_tracing_conf_t tracing;
    /* tasks (src/task/task.h, README "Configuration") */
    struct {
        int poll_min_ms, poll_max_ms; /* the poll backoff's floor and ceiling */
        int lease_ms, renew_ms;       /* a task's lease, and how often it is renewed */
        int claim_ms;                 /* how often a worker looks for tasks to run */
        int unreachable_ms;           /* a provider silent this long fails the task */
        int max_age_ms;               /* a task unfinished this long expires */
        int pool;                     /* tasks in flight per provider credential */
        char *webhook_secret;         /* secret: signs task webhooks; NULL: unsigned */
    } tasks;

    char *config_path;
    char *command; /* "serve", "check-config", "migrate", "rotate-master-key" */
} lx_config_t;

void lx_config_defaults(lx_config_t *cfg);
/* config_tasks.c: the tasks.* settings' defaults, their check (after
 * loading: LX_ERROR with the reason in err), and the secret's wipe. */
void lx_config_tasks_defaults(lx_config_t *cfg);
int lx_config_tasks_check(const lx_config_t *cfg, char *err, size_t errlen);
void lx_config_tasks_free(lx_config_t *cfg);
void lx_config_free(lx_config_t *cfg);

/* Fills cfg from every layer. On failure writes a message naming the bad
 * field into err and returns LX_ERROR. Returns LX_DONE for --help/--version
 * (already printed). */
int lx_config_load(lx_config_t *cfg, int argc, char **argv, char **environ_, char *err,
                   size_t errlen);

/* Applies one JSON config document (the --config file's contents). */
int lx_config_apply_json(lx_config_t *cfg, const char *json, size_t len, char *err, size_t errlen);

/* Applies LLMUX_* and provider environment variables from envp. */
int lx_config_apply_env(lx_config_t *cfg, char **envp, char *err, size_t errlen);

/* Formats a configuration error into err; returns LX_ERROR (for config*.c). */
int lx_config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_models.c: applies the file's "models" object (public name ->
 * {provider, model, prices...}); the error names the bad field. */
struct json_t;
int lx_config_apply_models_json(lx_config_t *cfg, struct json_t *obj, char *err, size_t errlen);
void lx_config_models_free(lx_config_t *cfg);

/* config_tracing.c: the file's "tracing" object, the OTEL_* variables,
 * and freeing them (the text is checked by src/obs/trace_conf.c). */
int lx_config_tracing_json(lx_config_t *cfg, struct json_t *obj, char *err, size_t errlen);
/* The value of NAME in envp ("NAME=value"), NULL if absent; points into envp. */
const char *lx_config_env_get(char **envp, const char *name);
int lx_config_tracing_env(lx_config_t *cfg, char **envp, char *err, size_t errlen);
void lx_config_tracing_free(lx_config_t *cfg);

/* config_validate.c: checks cross-field rules once all layers are in. */
int lx_config_validate(const lx_config_t *cfg, char *err, size_t errlen);

const lx_provider_conf_t *lx_config_provider(const lx_config_t *cfg, lx_str_t name);

void lx_config_usage(FILE *out);

#endif
