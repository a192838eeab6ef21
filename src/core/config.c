/* config.c - layered configuration: defaults < file < environment < flags. */
#include "core/config.h"
#include "core/jwt_conf.h"
#include "core/crypto.h"
#include "lx_version.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

/* The providers the environment contract knows by name. */
static const struct {
    const char *name;
    const char *env_prefix;
    lx_provider_kind_t kind;
    const char *default_base_url;
} builtin_providers[] = {
    {"openai", "OPENAI", LX_PROVIDER_OPENAI, "https://api.openai.com/v1"},
    {"anthropic", "ANTHROPIC", LX_PROVIDER_ANTHROPIC, "https://api.anthropic.com"},
    {"gemini", "GEMINI", LX_PROVIDER_GEMINI, "https://generativelanguage.googleapis.com"},
    {"openrouter", "OPENROUTER", LX_PROVIDER_OPENAI_COMPAT, "https://openrouter.ai/api/v1"},
    {"demo", "LLMUX_DEMO", LX_PROVIDER_OPENAI_COMPAT, NULL},
};

int lx_config_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return LX_ERROR;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? lx_strdup(v) : NULL;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void lx_config_defaults(lx_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = lx_strdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->workers = online_cpus();
    cfg->backlog = 4096;
    cfg->max_body_bytes = 16u << 20;
    cfg->max_header_bytes = 32u << 10;
    cfg->max_headers = 100;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 60000;
    cfg->keepalive_timeout_ms = 75000;
    cfg->write_timeout_ms = 60000;
    cfg->drain_timeout_ms = 30000;
    cfg->stream_high_water = 256u << 10;
    cfg->max_event_bytes = 8u << 20;
    cfg->upstream_max_response_bytes = 64u << 20;
    cfg->registry_refresh_ms = 30000;
    cfg->breaker_failures = 5;
    cfg->breaker_open_ms = 30000;
    cfg->cooling_cap_ms = 60000;
    cfg->retry_same = 1;
    cfg->auth_hold_ms = 300000;
    cfg->jwt.leeway_s = 60;
    lx_config_tasks_defaults(cfg);
    cfg->log_level = LX_LOG_INFO;
    cfg->access_log = true;
    cfg->usage_log = true;
    cfg->upstream.connect_ms = 5000;
    cfg->upstream.first_byte_ms = 120000;
    cfg->upstream.idle_ms = 120000;
    cfg->upstream.total_ms = 600000;
    cfg->upstream_tls_min = 12;
    cfg->command = lx_strdup("serve");
}

static void provider_free(lx_provider_conf_t *p)
{
    free(p->name);
    free(p->base_url);
    if (p->api_key) {
        explicit_bzero(p->api_key, strlen(p->api_key));
        free(p->api_key);
    }
    for (int i = 0; i < p->nheaders; i++) {
        free(p->header_names[i]);
        free(p->header_values[i]);
    }
    lx_transport_free(&p->transport);
    memset(p, 0, sizeof *p);
}

void lx_config_free(lx_config_t *cfg)
{
    free(cfg->listen_host);
    free(cfg->database_url);
    free(cfg->upstream_ca_file);
    if (cfg->admin_key) {
        explicit_bzero(cfg->admin_key, strlen(cfg->admin_key));
        free(cfg->admin_key);
    }
    explicit_bzero(cfg->master_key, sizeof cfg->master_key);
    explicit_bzero(cfg->master_key_old, sizeof cfg->master_key_old);
    for (int i = 0; i < cfg->nproviders; i++)
        provider_free(&cfg->providers[i]);
    for (int i = 0; i < cfg->ngroups; i++) {
        lx_group_conf_t *g = &cfg->groups[i];
        free(g->name);
        free(g->strategy);
        for (int m = 0; m < g->nmembers; m++) {
            free(g->members[m].provider);
            free(g->members[m].model);
        }
    }
    lx_config_models_free(cfg);
    lx_jwt_conf_free(&cfg->jwt);
    lx_config_tasks_free(cfg);
    lx_config_tracing_free(cfg);
    free(cfg->config_path);
    free(cfg->command);
    memset(cfg, 0, sizeof *cfg);
}

const lx_provider_conf_t *lx_config_provider(const lx_config_t *cfg, lx_str_t name)
{
    for (int i = 0; i < cfg->nproviders; i++)
        if (lx_str_eq_cstr(name, cfg->providers[i].name))
            return &cfg->providers[i];
    return NULL;
}

static lx_provider_conf_t *provider_get(lx_config_t *cfg, const char *name, char *err,
                                        size_t errlen)
{
    for (int i = 0; i < cfg->nproviders; i++)
        if (strcmp(cfg->providers[i].name, name) == 0)
            return &cfg->providers[i];
    if (cfg->nproviders == LX_MAX_PROVIDERS) {
        lx_config_fail(err, errlen, "providers: at most %d providers", LX_MAX_PROVIDERS);
        return NULL;
    }
    lx_provider_conf_t *p = &cfg->providers[cfg->nproviders++];
    memset(p, 0, sizeof *p);
    p->name = lx_strdup(name);
    p->kind = LX_PROVIDER_OPENAI_COMPAT;
    for (size_t i = 0; i < LX_ARRAY_LEN(builtin_providers); i++) {
        if (strcmp(builtin_providers[i].name, name) == 0) {
            p->kind = builtin_providers[i].kind;
            set_str(&p->base_url, builtin_providers[i].default_base_url);
        }
    }
    return p;
}

/* ---- scalar parsers shared by the three layers ---- */

static int parse_int(const char *field, const char *s, long lo, long hi, long *out, char *err,
                     size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return lx_config_fail(err, errlen, "%s: expected an integer between %ld and %ld", field, lo,
                              hi);
    *out = v;
    return LX_OK;
}

static int parse_bool(const char *field, const char *s, bool *out, char *err, size_t errlen)
{
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = true;
        return LX_OK;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off")) {
        *out = false;
        return LX_OK;
    }
    return lx_config_fail(err, errlen, "%s: expected true or false", field);
}

static int parse_listen(lx_config_t *cfg, const char *field, const char *s, char *err,
                        size_t errlen)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return lx_config_fail(err, errlen, "%s: expected host:port, e.g. 127.0.0.1:8080", field);
    long port = 0;
    if (parse_int(field, colon + 1, 1, 65535, &port, err, errlen) != LX_OK)
        return lx_config_fail(err, errlen, "%s: port must be 1..65535", field);
    const char *h = s;
    size_t hn = (size_t)(colon - s);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') { /* [::1]:8080 */
        h++;
        hn -= 2;
    } else if (memchr(h, ':', hn)) { /* "::1" would split into host ":" and port 1 */
        return lx_config_fail(err, errlen, "%s: an IPv6 address needs brackets, e.g. [::1]:8080",
                              field);
    }
    free(cfg->listen_host);
    cfg->listen_host = lx_strndup(h, hn);
    cfg->listen_port = (int)port;
    return LX_OK;
}

static int parse_key32(unsigned char *dst, bool *has, const char *field, const char *s, char *err,
                       size_t errlen)
{
    unsigned char k[48];
    long n = lx_base64_decode(s, strlen(s), k, sizeof k);
    if (n != 32) {
        explicit_bzero(k, sizeof k);
        return lx_config_fail(err, errlen, "%s: expected base64 of exactly 32 bytes", field);
    }
    memcpy(dst, k, 32);
    explicit_bzero(k, sizeof k);
    *has = true;
    return LX_OK;
}

/* One table maps every scalar setting to its file key, env name and flag. */
typedef enum {
    T_INT,
    T_SIZE,
    T_BOOL,
    T_STR,
    T_LISTEN,
    T_MASTER,
    T_MASTER_OLD,
    T_LEVEL,
    T_NETS_ALLOW, /* comma-separated CIDRs (a JSON array of strings too) */
    T_NETS_DENY,
    T_TLS, /* "1.2" or "1.3" */
} kind_t;

typedef struct {
    const char *key;  /* JSON key (dotted for nested objects) */
    const char *env;  /* environment variable, or NULL */
    const char *flag; /* --flag, or NULL */
    kind_t type;
    size_t off;
    long lo, hi;
} setting_t;

#define OFF(f) offsetof(lx_config_t, f)
#define TASK_INT(f, env, lo, hi)                                                                   \
    {                                                                                              \
        "tasks." #f, "LLMUX_TASK_" env, NULL, T_INT, OFF(tasks.f), lo, hi                          \
    }
static const setting_t settings[] = {
    {"listen", "LLMUX_LISTEN", "--listen", T_LISTEN, 0, 0, 0},
    {"workers", "LLMUX_WORKERS", "--workers", T_INT, OFF(workers), 1, 256},
    {"backlog", "LLMUX_BACKLOG", NULL, T_INT, OFF(backlog), 16, 65535},
    {"database_url", "LLMUX_DATABASE_URL", "--database-url", T_STR, OFF(database_url), 0, 0},
    {"admin_key", "LLMUX_ADMIN_KEY", NULL, T_STR, OFF(admin_key), 0, 0},
    {"master_key", "LLMUX_MASTER_KEY", NULL, T_MASTER, 0, 0, 0},
    {"master_key_old", "LLMUX_MASTER_KEY_OLD", NULL, T_MASTER_OLD, 0, 0, 0},
    {"log_level", "LLMUX_LOG_LEVEL", "--log-level", T_LEVEL, OFF(log_level), 0, 0},
    {"access_log", "LLMUX_ACCESS_LOG", NULL, T_BOOL, OFF(access_log), 0, 0},
    {"usage_log", "LLMUX_USAGE_LOG", NULL, T_BOOL, OFF(usage_log), 0, 0},
    {"metrics_per_key", "LLMUX_METRICS_PER_KEY", NULL, T_BOOL, OFF(metrics_per_key), 0, 0},
    {"limits.max_body_bytes", "LLMUX_MAX_BODY_BYTES", NULL, T_SIZE, OFF(max_body_bytes), 1024,
     1L << 30},
    {"limits.max_header_bytes", "LLMUX_MAX_HEADER_BYTES", NULL, T_SIZE, OFF(max_header_bytes), 1024,
     1L << 20},
    {"limits.max_headers", "LLMUX_MAX_HEADERS", NULL, T_INT, OFF(max_headers), 8, 1000},
    {"limits.header_timeout_ms", "LLMUX_HEADER_TIMEOUT_MS", NULL, T_INT, OFF(header_timeout_ms), 10,
     3600000},
    {"limits.body_timeout_ms", "LLMUX_BODY_TIMEOUT_MS", NULL, T_INT, OFF(body_timeout_ms), 10,
     3600000},
    {"limits.max_connections", "LLMUX_MAX_CONNECTIONS", NULL, T_INT, OFF(max_connections), 0,
     10000000},
    {"limits.keepalive_timeout_ms", "LLMUX_KEEPALIVE_TIMEOUT_MS", NULL, T_INT,
     OFF(keepalive_timeout_ms), 10, 3600000},
    {"limits.write_timeout_ms", "LLMUX_WRITE_TIMEOUT_MS", NULL, T_INT, OFF(write_timeout_ms), 10,
     3600000},
    {"limits.drain_timeout_ms", "LLMUX_DRAIN_TIMEOUT_MS", NULL, T_INT, OFF(drain_timeout_ms), 0,
     3600000},
    {"limits.stream_high_water_bytes", "LLMUX_STREAM_HIGH_WATER", NULL, T_SIZE,
     OFF(stream_high_water), 4096, 64L << 20},
    {"limits.max_event_bytes", "LLMUX_MAX_EVENT_BYTES", NULL, T_SIZE, OFF(max_event_bytes), 1024,
     1L << 30},
    {"registry_refresh_ms", "LLMUX_REGISTRY_REFRESH_MS", NULL, T_INT, OFF(registry_refresh_ms), 100,
     86400000},
    {"routing.breaker_failures", "LLMUX_BREAKER_FAILURES", NULL, T_INT, OFF(breaker_failures), 0,
     1000000},
    {"routing.breaker_open_ms", "LLMUX_BREAKER_OPEN_MS", NULL, T_INT, OFF(breaker_open_ms), 1,
     86400000},
    {"routing.cooling_cap_ms", "LLMUX_COOLING_CAP_MS", NULL, T_INT, OFF(cooling_cap_ms), 0,
     86400000},
    {"routing.retry_same", "LLMUX_RETRY_SAME", NULL, T_INT, OFF(retry_same), 0, 10},
    {"routing.auth_hold_ms", "LLMUX_AUTH_HOLD_MS", NULL, T_INT, OFF(auth_hold_ms), 0, 86400000},
    {"upstream.connect_timeout_ms", "LLMUX_UPSTREAM_CONNECT_TIMEOUT_MS", NULL, T_INT,
     OFF(upstream.connect_ms), 1, 600000},
    {"upstream.first_byte_timeout_ms", "LLMUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS", NULL, T_INT,
     OFF(upstream.first_byte_ms), 1, 3600000},
    {"upstream.idle_timeout_ms", "LLMUX_UPSTREAM_IDLE_TIMEOUT_MS", NULL, T_INT,
     OFF(upstream.idle_ms), 1, 3600000},
    {"upstream.total_timeout_ms", "LLMUX_UPSTREAM_TOTAL_TIMEOUT_MS", NULL, T_INT,
     OFF(upstream.total_ms), 1, 86400000},
    {"upstream.max_response_bytes", "LLMUX_UPSTREAM_MAX_RESPONSE_BYTES", NULL, T_SIZE,
     OFF(upstream_max_response_bytes), 1024, 1L << 30},
    {"upstream.ca_file", "LLMUX_UPSTREAM_CA_FILE", NULL, T_STR, OFF(upstream_ca_file), 0, 0},
    {"upstream.tls_min", "LLMUX_UPSTREAM_TLS_MIN", NULL, T_TLS, OFF(upstream_tls_min), 0, 0},
    {"upstream.allowed_networks", "LLMUX_UPSTREAM_ALLOWED_NETWORKS", NULL, T_NETS_ALLOW, 0, 0, 0},
    {"upstream.denied_networks", "LLMUX_UPSTREAM_DENIED_NETWORKS", NULL, T_NETS_DENY, 0, 0, 0},
    {"jwt.hs256_secret", "LLMUX_JWT_HS256_SECRET", NULL, T_STR, OFF(jwt.hs256_secret), 0, 0},
    {"jwt.hs256_kid", "LLMUX_JWT_HS256_KID", NULL, T_STR, OFF(jwt.hs256_kid), 0, 0},
    {"jwt.jwks_file", "LLMUX_JWT_JWKS_FILE", NULL, T_STR, OFF(jwt.jwks_file), 0, 0},
    {"jwt.issuer", "LLMUX_JWT_ISSUER", NULL, T_STR, OFF(jwt.issuer), 0, 0},
    {"jwt.audience", "LLMUX_JWT_AUDIENCE", NULL, T_STR, OFF(jwt.audience), 0, 0},
    {"jwt.leeway_s", "LLMUX_JWT_LEEWAY_S", NULL, T_INT, OFF(jwt.leeway_s), 0, 3600},
    {"jwt.user_claim", "LLMUX_JWT_USER_CLAIM", NULL, T_STR, OFF(jwt.user_claim), 0, 0},
    {"jwt.team_claim", "LLMUX_JWT_TEAM_CLAIM", NULL, T_STR, OFF(jwt.team_claim), 0, 0},
    {"jwt.role_claim", "LLMUX_JWT_ROLE_CLAIM", NULL, T_STR, OFF(jwt.role_claim), 0, 0},
    TASK_INT(poll_min_ms, "POLL_MIN_MS", 10, 3600000),
    TASK_INT(poll_max_ms, "POLL_MAX_MS", 10, 3600000),
    TASK_INT(lease_ms, "LEASE_MS", 100, 3600000),
    TASK_INT(renew_ms, "RENEW_MS", 50, 3600000),
    TASK_INT(claim_ms, "CLAIM_MS", 10, 3600000),
    TASK_INT(unreachable_ms, "UNREACHABLE_MS", 100, 86400000),
    TASK_INT(max_age_ms, "MAX_AGE_MS", 1000, 2000000000),
    TASK_INT(pool, "POOL", 1, 100000),
    {"tasks.webhook_secret", "LLMUX_TASK_WEBHOOK_SECRET", NULL, T_STR, OFF(tasks.webhook_secret), 0,
     0},
};

static int apply_setting(lx_config_t *cfg, const setting_t *s, const char *field, const char *v,
                         char *err, size_t errlen)
{
    char *base = (char *)cfg;
    long n = 0;
    switch (s->type) {
    case T_INT:
        if (parse_int(field, v, s->lo, s->hi, &n, err, errlen) != LX_OK)
            return LX_ERROR;
        *(int *)(base + s->off) = (int)n;
        return LX_OK;
    case T_SIZE:
        if (parse_int(field, v, s->lo, s->hi, &n, err, errlen) != LX_OK)
            return LX_ERROR;
        *(size_t *)(base + s->off) = (size_t)n;
        return LX_OK;
    case T_BOOL:
        return parse_bool(field, v, (bool *)(base + s->off), err, errlen);
    case T_STR:
        set_str((char **)(base + s->off), v[0] ? v : NULL);
        return LX_OK;
    case T_LISTEN:
        return parse_listen(cfg, field, v, err, errlen);
    case T_MASTER:
        return parse_key32(cfg->master_key, &cfg->has_master_key, field, v, err, errlen);
    case T_MASTER_OLD:
        return parse_key32(cfg->master_key_old, &cfg->has_master_key_old, field, v, err, errlen);
    case T_LEVEL:
        if (lx_log_level_parse(v, (lx_log_level_t *)(base + s->off)) != LX_OK)
            return lx_config_fail(err, errlen, "%s: expected debug, info, warn or error", field);
        return LX_OK;
    case T_TLS:
        if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
            return lx_config_fail(err, errlen, "%s: expected 1.2 or 1.3", field);
        *(int *)(base + s->off) = v[2] == '3' ? 13 : 12;
        return LX_OK;
    case T_NETS_ALLOW:
    case T_NETS_DENY: {
        bool allow = s->type == T_NETS_ALLOW;
        lx_cidr_t tmp[LX_NET_MAX_CIDRS];
        int k;
        char why[160];
        if (lx_cidr_list_parse(v, tmp, LX_NET_MAX_CIDRS, &k, why, sizeof why) != LX_OK)
            return lx_config_fail(err, errlen, "%s: %s", field, why);
        memcpy(allow ? cfg->netpolicy.allowed : cfg->netpolicy.denied, tmp,
               (size_t)k * sizeof tmp[0]);
        *(allow ? &cfg->netpolicy.nallowed : &cfg->netpolicy.ndenied) = k;
        return LX_OK;
    }
    }
    return LX_ERROR;
}

/* ---- JSON file layer ---- */

/* Returns v as text: a string's own bytes (whole, owned by v), a number
 * formatted into num, or NULL if v is not a scalar. */
static const char *json_scalar_text(json_t *v, char num[static 32])
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(num, 32, "%lld", (long long)json_integer_value(v));
        return num;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_real(v)) { /* "tls_min": 1.2 */
        snprintf(num, 32, "%.1f", json_real_value(v));
        return num;
    }
    return NULL;
}

static const struct {
    const char *key;
    size_t off;
} timeout_keys[] = {
    {"connect_timeout_ms", offsetof(lx_timeouts_t, connect_ms)},
    {"first_byte_timeout_ms", offsetof(lx_timeouts_t, first_byte_ms)},
    {"idle_timeout_ms", offsetof(lx_timeouts_t, idle_ms)},
    {"total_timeout_ms", offsetof(lx_timeouts_t, total_ms)},
};

static bool is_timeout_key(const char *key)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(timeout_keys); i++)
        if (strcmp(key, timeout_keys[i].key) == 0)
            return true;
    return false;
}

static int apply_timeouts_json(lx_timeouts_t *t, json_t *obj, const char *prefix, char *err,
                               size_t errlen)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(timeout_keys); i++) {
        json_t *v = json_object_get(obj, timeout_keys[i].key);
        if (v == NULL)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 86400000)
            return lx_config_fail(err, errlen, "%s.%s: expected milliseconds (1..86400000)", prefix,
                                  timeout_keys[i].key);
        *(int *)((char *)t + timeout_keys[i].off) = (int)json_integer_value(v);
    }
    return LX_OK;
}

static int apply_provider_json(lx_config_t *cfg, const char *name, json_t *obj, char *err,
                               size_t errlen)
{
    char field[160];
    snprintf(field, sizeof field, "providers.%s", name);
    if (!json_is_object(obj))
        return lx_config_fail(err, errlen, "%s: expected an object", field);
    lx_provider_conf_t *p = provider_get(cfg, name, err, errlen);
    if (p == NULL)
        return LX_ERROR;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "kind") == 0) {
            if (!json_is_string(v) || lx_provider_kind_parse(json_string_value(v), &p->kind))
                return lx_config_fail(
                    err, errlen, "%s.kind: expected openai, anthropic, gemini or openai_compatible",
                    field);
        } else if (strcmp(key, "base_url") == 0 || strcmp(key, "api_key") == 0) {
            if (!json_is_string(v))
                return lx_config_fail(err, errlen, "%s.%s: expected a string", field, key);
            set_str(key[0] == 'b' ? &p->base_url : &p->api_key, json_string_value(v));
        } else if (strcmp(key, "headers") == 0) {
            if (!json_is_object(v))
                return lx_config_fail(err, errlen, "%s.headers: expected an object of strings",
                                      field);
            const char *hk;
            json_t *hv;
            json_object_foreach(v, hk, hv)
            {
                if (!json_is_string(hv))
                    return lx_config_fail(err, errlen, "%s.headers.%s: expected a string", field,
                                          hk);
                if (p->nheaders == LX_MAX_EXTRA_HEADERS)
                    return lx_config_fail(err, errlen, "%s.headers: at most %d headers", field,
                                          LX_MAX_EXTRA_HEADERS);
                p->header_names[p->nheaders] = lx_strdup(hk);
                p->header_values[p->nheaders++] = lx_strdup(json_string_value(hv));
            }
        } else if (lx_transport_is_key(key)) {
            char why[160];
            if (lx_transport_set(&p->transport, key, v, why, sizeof why) != LX_OK)
                return lx_config_fail(err, errlen, "%s.%s", field, why);
        } else if (!is_timeout_key(key)) {
            return lx_config_fail(err, errlen, "%s.%s: unknown setting", field, key);
        }
    }
    return apply_timeouts_json(&p->timeouts, obj, field, err, errlen);
}

/* "groups": {"smart": {"strategy": "priority", "members": [{"provider":
 * "openai", "model": "gpt-4o", "weight": 1, "priority": 0}, ...]}} */
static int apply_groups_json(lx_config_t *cfg, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return lx_config_fail(err, errlen, "groups: expected an object keyed by group name");
    const char *name;
    json_t *g;
    json_object_foreach(obj, name, g)
    {
        if (cfg->ngroups == LX_MAX_GROUPS)
            return lx_config_fail(err, errlen, "groups: at most %d groups", LX_MAX_GROUPS);
        json_t *st = json_object_get(g, "strategy"), *members = json_object_get(g, "members");
        if (!json_is_object(g) || (st && !json_is_string(st)))
            return lx_config_fail(err, errlen, "groups.%s.strategy: expected a string", name);
        if (!json_is_array(members) || json_array_size(members) == 0 ||
            json_array_size(members) > LX_MAX_GROUP_MEMBERS)
            return lx_config_fail(err, errlen, "groups.%s.members: expected 1..%d members", name,
                                  LX_MAX_GROUP_MEMBERS);
        lx_group_conf_t *gc = &cfg->groups[cfg->ngroups++];
        memset(gc, 0, sizeof *gc);
        gc->name = lx_strdup(name);
        gc->strategy = lx_strdup(st ? json_string_value(st) : "priority");
        size_t i;
        json_t *m;
        json_array_foreach(members, i, m)
        {
            const char *prov = json_string_value(json_object_get(m, "provider"));
            const char *model = json_string_value(json_object_get(m, "model"));
            if (prov == NULL || model == NULL)
                return lx_config_fail(err, errlen,
                                      "groups.%s.members[%zu]: provider and model are required",
                                      name, i);
            gc->members[i].provider = lx_strdup(prov);
            gc->members[i].model = lx_strdup(model);
            json_t *w = json_object_get(m, "weight"), *pr = json_object_get(m, "priority");
            gc->members[i].weight = w ? (int)json_integer_value(w) : 1;
            gc->members[i].priority = pr ? (int)json_integer_value(pr) : 0;
            gc->nmembers++;
        }
    }
    return LX_OK;
}

static int apply_object(lx_config_t *cfg, json_t *obj, const char *prefix, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char field[128];
        snprintf(field, sizeof field, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (prefix[0] == '\0' && strcmp(key, "groups") == 0) {
            if (apply_groups_json(cfg, v, err, errlen) != LX_OK)
                return LX_ERROR;
            continue;
        }
        if (prefix[0] == '\0' && strcmp(key, "models") == 0) {
            if (lx_config_apply_models_json(cfg, v, err, errlen) != LX_OK)
                return LX_ERROR;
            continue;
        }
        if (prefix[0] == '\0' && strcmp(key, "tracing") == 0) {
            if (lx_config_tracing_json(cfg, v, err, errlen) != LX_OK)
                return LX_ERROR;
            continue;
        }
        if (prefix[0] == '\0' && strcmp(key, "providers") == 0) {
            if (!json_is_object(v))
                return lx_config_fail(err, errlen,
                                      "providers: expected an object keyed by provider name");
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv)
            {
                if (apply_provider_json(cfg, pk, pv, err, errlen) != LX_OK)
                    return LX_ERROR;
            }
            continue;
        }
        if (json_is_object(v) && prefix[0] == '\0' &&
            (strcmp(key, "limits") == 0 || strcmp(key, "upstream") == 0 ||
             strcmp(key, "routing") == 0 || strcmp(key, "jwt") == 0 || strcmp(key, "tasks") == 0)) {
            if (apply_object(cfg, v, key, err, errlen) != LX_OK)
                return LX_ERROR;
            continue;
        }
        const setting_t *s = NULL;
        for (size_t i = 0; i < LX_ARRAY_LEN(settings); i++)
            if (strcmp(settings[i].key, field) == 0)
                s = &settings[i];
        if (s == NULL)
            return lx_config_fail(err, errlen, "%s: unknown setting", field);
        if ((s->type == T_NETS_ALLOW || s->type == T_NETS_DENY) && json_is_array(v)) {
            /* ["10.0.0.0/8", "fd00::/8"]: the same as the comma list */
            lx_buf_t list;
            lx_buf_init(&list, 256);
            size_t i;
            json_t *item;
            int rc = LX_OK;
            json_array_foreach(v, i, item)
            {
                if (!json_is_string(item) || strchr(json_string_value(item), ',')) {
                    rc =
                        lx_config_fail(err, errlen, "%s[%zu]: expected a network string", field, i);
                    break;
                }
                if (i)
                    lx_buf_append_char(&list, ',');
                lx_buf_append_cstr(&list, json_string_value(item));
            }
            lx_buf_append_char(&list, '\0');
            if (rc == LX_OK)
                rc = apply_setting(cfg, s, field, list.p, err, errlen);
            lx_buf_free(&list);
            if (rc != LX_OK)
                return LX_ERROR;
            continue;
        }
        char num[32];
        const char *text = json_scalar_text(v, num);
        if (text == NULL)
            return lx_config_fail(err, errlen, "%s: expected a string, number or boolean", field);
        if (apply_setting(cfg, s, field, text, err, errlen) != LX_OK)
            return LX_ERROR;
    }
    return LX_OK;
}

int lx_config_apply_json(lx_config_t *cfg, const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return lx_config_fail(err, errlen, "config: line %d: %s", jerr.line, jerr.text);
    int rc = json_is_object(root) ? apply_object(cfg, root, "", err, errlen)
                                  : lx_config_fail(err, errlen, "config: expected a JSON object");
    json_decref(root);
    return rc;
}

/* ---- environment layer ---- */

const char *lx_config_env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

int lx_config_apply_env(lx_config_t *cfg, char **envp, char *err, size_t errlen)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(settings); i++) {
        const char *v = settings[i].env ? lx_config_env_get(envp, settings[i].env) : NULL;
        if (v && apply_setting(cfg, &settings[i], settings[i].env, v, err, errlen) != LX_OK)
            return LX_ERROR;
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(builtin_providers); i++) {
        char kname[64], uname[64];
        snprintf(kname, sizeof kname, "%s_API_KEY", builtin_providers[i].env_prefix);
        snprintf(uname, sizeof uname, "%s_BASE_URL", builtin_providers[i].env_prefix);
        const char *key = lx_config_env_get(envp, kname), *url = lx_config_env_get(envp, uname);
        if ((key == NULL || !key[0]) && (url == NULL || !url[0]))
            continue;
        lx_provider_conf_t *p = provider_get(cfg, builtin_providers[i].name, err, errlen);
        if (p == NULL)
            return LX_ERROR;
        if (key && key[0])
            set_str(&p->api_key, key);
        if (url && url[0])
            set_str(&p->base_url, url);
    }
    return lx_config_tracing_env(cfg, envp, err, errlen);
}

/* ---- flags ---- */

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return lx_config_fail(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
    lx_buf_t b;
    lx_buf_init(&b, 4096);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        lx_buf_append(&b, chunk, n);
    fclose(f);
    *out = b.p;
    *outlen = b.n;
    return LX_OK;
}

/* Flags are parsed twice: first to find the command and --config, then (after
 * the file and the environment) to override them. */
static int apply_flags(lx_config_t *cfg, int argc, char **argv, bool final, char *err,
                       size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (strcmp(a, "serve") && strcmp(a, "check-config") && strcmp(a, "migrate") &&
                strcmp(a, "rotate-master-key"))
                return lx_config_fail(err, errlen, "unknown command '%s' (try --help)", a);
            set_str(&cfg->command, a);
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            if (final)
                continue;
            lx_config_usage(stdout);
            return LX_DONE;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            if (final)
                continue;
            printf("llmux %s\n", LX_VERSION);
            return LX_DONE;
        }
        const char *name = a, *val = NULL;
        char flag[64];
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            name = flag;
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return lx_config_fail(err, errlen, "%s: missing value", a);
        }
        if (!strcmp(name, "--config")) {
            set_str(&cfg->config_path, val);
            continue;
        }
        const setting_t *s = NULL;
        for (size_t k = 0; k < LX_ARRAY_LEN(settings); k++)
            if (settings[k].flag && !strcmp(settings[k].flag, name))
                s = &settings[k];
        if (s == NULL)
            return lx_config_fail(err, errlen, "unknown option '%s' (try --help)", name);
        if (final && apply_setting(cfg, s, name, val, err, errlen) != LX_OK)
            return LX_ERROR;
    }
    return LX_OK;
}

static void fill_provider_timeouts(lx_config_t *cfg)
{
    for (int i = 0; i < cfg->nproviders; i++) {
        lx_timeouts_t *t = &cfg->providers[i].timeouts;
        if (!t->connect_ms)
            t->connect_ms = cfg->upstream.connect_ms;
        if (!t->first_byte_ms)
            t->first_byte_ms = cfg->upstream.first_byte_ms;
        if (!t->idle_ms)
            t->idle_ms = cfg->upstream.idle_ms;
        if (!t->total_ms)
            t->total_ms = cfg->upstream.total_ms;
    }
}

int lx_config_load(lx_config_t *cfg, int argc, char **argv, char **envp, char *err, size_t errlen)
{
    int rc = apply_flags(cfg, argc, argv, false, err, errlen);
    if (rc != LX_OK)
        return rc;
    const char *path =
        cfg->config_path ? cfg->config_path : lx_config_env_get(envp, "LLMUX_CONFIG");
    if (path && path[0]) {
        char *text;
        size_t n;
        if (read_file(path, &text, &n, err, errlen) != LX_OK)
            return LX_ERROR;
        rc = lx_config_apply_json(cfg, text, n, err, errlen);
        free(text);
        if (rc != LX_OK)
            return rc;
    }
    if (lx_config_apply_env(cfg, envp, err, errlen) != LX_OK)
        return LX_ERROR;
    if (apply_flags(cfg, argc, argv, true, err, errlen) != LX_OK)
        return LX_ERROR;
    fill_provider_timeouts(cfg);
    return lx_config_validate(cfg, err, errlen);
}
