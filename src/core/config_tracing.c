/* config_tracing.c - the raw trace settings (README "Traces"): the file's
 * "tracing" object and the standard OTEL_* environment variables, kept as
 * text in lx_config_t.tracing (which owns the strings). src/obs/trace_conf.c
 * checks and turns them into the exporter's settings at start-up; nothing
 * here prints a value (headers may hold secrets). */
#include "core/config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *key; /* in the file's "tracing" object */
    const char *env; /* the standard variable */
    size_t off;      /* a char * in lx_tracing_conf_t, or SIZE_MAX for a bool below */
} tr_setting_t;

#define TOFF(f) offsetof(lx_tracing_conf_t, f)
static const tr_setting_t tr_settings[] = {
    {"endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", TOFF(endpoint)},
    {"traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", TOFF(traces_endpoint)},
    {"headers", "OTEL_EXPORTER_OTLP_HEADERS", TOFF(headers)},
    {"service_name", "OTEL_SERVICE_NAME", TOFF(service_name)},
    {"sampler", "OTEL_TRACES_SAMPLER", TOFF(sampler)},
    {"sampler_arg", "OTEL_TRACES_SAMPLER_ARG", TOFF(sampler_arg)},
};

static void set(char **dst, const char *v)
{
    if (*dst) {
        explicit_bzero(*dst, strlen(*dst));
        free(*dst);
    }
    *dst = v && v[0] ? lx_strdup(v) : NULL;
}

static int parse_flag(const char *field, const char *v, bool *out, char *err, size_t errlen)
{
    if (strcasecmp(v, "true") == 0)
        *out = true;
    else if (strcasecmp(v, "false") == 0 || v[0] == '\0')
        *out = false;
    else
        return lx_config_fail(err, errlen, "%s: expected true or false", field);
    return LX_OK;
}

/* {"k":"v",...} as the variable's "k=v,..." text (values are not
 * percent-encoded here: a value with ',' or '=' must be written encoded). */
static int headers_text(json_t *obj, lx_tracing_conf_t *t, char *err, size_t errlen)
{
    lx_buf_t b;
    lx_buf_init(&b, 128);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v)) {
            lx_buf_free(&b);
            return lx_config_fail(err, errlen, "tracing.headers.%s: expected a string", k);
        }
        if (b.n)
            lx_buf_append_char(&b, ',');
        lx_buf_printf(&b, "%s=%s", k, json_string_value(v));
    }
    lx_buf_append_char(&b, '\0');
    set(&t->headers, b.p);
    explicit_bzero(b.p, b.n);
    lx_buf_free(&b);
    return LX_OK;
}

int lx_config_tracing_json(lx_config_t *cfg, struct json_t *obj, char *err, size_t errlen)
{
    lx_tracing_conf_t *t = &cfg->tracing;
    if (!json_is_object(obj))
        return lx_config_fail(err, errlen, "tracing: expected an object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "disabled") == 0 || strcmp(key, "capture_message_content") == 0) {
            if (!json_is_boolean(v))
                return lx_config_fail(err, errlen, "tracing.%s: expected true or false", key);
            *(key[0] == 'd' ? &t->disabled : &t->capture_content) = json_is_true(v);
            continue;
        }
        if (strcmp(key, "headers") == 0 && json_is_object(v)) {
            if (headers_text(v, t, err, errlen) != LX_OK)
                return LX_ERROR;
            continue;
        }
        const tr_setting_t *s = NULL;
        for (size_t i = 0; i < LX_ARRAY_LEN(tr_settings); i++)
            if (strcmp(tr_settings[i].key, key) == 0)
                s = &tr_settings[i];
        if (s == NULL)
            return lx_config_fail(err, errlen, "tracing.%s: unknown setting", key);
        char num[64];
        const char *text = json_string_value(v);
        if (text == NULL && json_is_number(v)) {
            snprintf(num, sizeof num, "%.17g", json_number_value(v));
            text = num;
        }
        if (text == NULL)
            return lx_config_fail(err, errlen, "tracing.%s: expected a string", key);
        set((char **)((char *)t + s->off), text);
    }
    return LX_OK;
}

int lx_config_tracing_env(lx_config_t *cfg, char **envp, char *err, size_t errlen)
{
    lx_tracing_conf_t *t = &cfg->tracing;
    for (size_t i = 0; i < LX_ARRAY_LEN(tr_settings); i++) {
        const char *v = lx_config_env_get(envp, tr_settings[i].env);
        if (v && v[0])
            set((char **)((char *)t + tr_settings[i].off), v);
    }
    const char *v = lx_config_env_get(envp, "OTEL_SDK_DISABLED");
    if (v && v[0] && parse_flag("OTEL_SDK_DISABLED", v, &t->disabled, err, errlen) != LX_OK)
        return LX_ERROR;
    v = lx_config_env_get(envp, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT");
    if (v && v[0] &&
        parse_flag("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", v, &t->capture_content,
                   err, errlen) != LX_OK)
        return LX_ERROR;
    return LX_OK;
}

void lx_config_tracing_free(lx_config_t *cfg)
{
    lx_tracing_conf_t *t = &cfg->tracing;
    for (size_t i = 0; i < LX_ARRAY_LEN(tr_settings); i++)
        set((char **)((char *)t + tr_settings[i].off), NULL);
}
