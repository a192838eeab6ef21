/* test_config.c - unit tests for src/core/config.c: defaults, the JSON file
 * layer, the environment layer, flags, precedence, validation and freeing.
 * Run under ASan: every test frees its config, so a leak in lx_config_free or
 * in a layer that overwrites a string fails the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- helpers ---- */

typedef struct {
    lx_config_t cfg;
    char err[512];
    char path[64]; /* temp config file, unlinked in teardown */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    lx_config_defaults(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    lx_config_free(&f->cfg);
    if (f->path[0])
        unlink(f->path);
    free(f);
    return 0;
}

static int apply_json(fixture_t *f, const char *json)
{
    f->err[0] = '\0';
    return lx_config_apply_json(&f->cfg, json, strlen(json), f->err, sizeof f->err);
}

static int apply_env(fixture_t *f, char **envp)
{
    f->err[0] = '\0';
    return lx_config_apply_env(&f->cfg, envp, f->err, sizeof f->err);
}

static int validate(fixture_t *f)
{
    f->err[0] = '\0';
    return lx_config_validate(&f->cfg, f->err, sizeof f->err);
}

static int load(fixture_t *f, int argc, char **argv, char **envp)
{
    f->err[0] = '\0';
    return lx_config_load(&f->cfg, argc, argv, envp, f->err, sizeof f->err);
}

static void write_config(fixture_t *f, const char *json)
{
    snprintf(f->path, sizeof f->path, "/tmp/lx_test_config_XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    size_t n = strlen(json);
    assert_int_equal(write(fd, json, n), (ssize_t)n);
    close(fd);
}

/* The error names the field (and says something after it). */
#define assert_err_names(f, field)                                                                 \
    do {                                                                                           \
        if (strstr((f)->err, (field)) == NULL)                                                     \
            fail_msg("error '%s' does not name '%s'", (f)->err, (field));                          \
    } while (0)

static const lx_provider_conf_t *provider(fixture_t *f, const char *name)
{
    return lx_config_provider(&f->cfg, lx_str(name));
}

/* Runs fn with stdout sent to /dev/null (usage text must not reach the TAP
 * stream) and returns its result. */
static int quiet_load(fixture_t *f, int argc, char **argv, char **envp)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    dup2(fileno(null), STDOUT_FILENO);
    int rc = load(f, argc, argv, envp);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    fclose(null);
    return rc;
}

/* 32 bytes 0x00..0x1f in base64. */
#define KEY32_B64          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY32_B64_UNPADDED "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static void assert_key32(const lx_config_t *cfg)
{
    assert_true(cfg->has_master_key);
    for (int i = 0; i < 32; i++)
        assert_int_equal(cfg->master_key[i], i);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    fixture_t *f = *state;
    const lx_config_t *c = &f->cfg;
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8080);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(c->workers, cpus > 0 ? cpus : 1);
    assert_int_equal(c->backlog, 4096);
    assert_null(c->database_url);
    assert_null(c->admin_key);
    assert_false(c->has_master_key);
    assert_int_equal(c->max_body_bytes, 16u << 20);
    assert_int_equal(c->max_header_bytes, 32u << 10);
    assert_int_equal(c->max_headers, 100);
    assert_int_equal(c->header_timeout_ms, 10000);
    assert_int_equal(c->keepalive_timeout_ms, 75000);
    assert_int_equal(c->write_timeout_ms, 60000);
    assert_int_equal(c->drain_timeout_ms, 30000);
    assert_int_equal(c->stream_high_water, 256u << 10);
    assert_int_equal(c->max_event_bytes, 8u << 20);
    assert_int_equal(c->upstream_max_response_bytes, 64u << 20);
    assert_int_equal(c->log_level, LX_LOG_INFO);
    assert_true(c->access_log);
    assert_int_equal(c->upstream.connect_ms, 5000);
    assert_int_equal(c->upstream.first_byte_ms, 120000);
    assert_int_equal(c->upstream.idle_ms, 120000);
    assert_int_equal(c->upstream.total_ms, 600000);
    assert_int_equal(c->nproviders, 0);
    assert_null(c->config_path);
    assert_string_equal(c->command, "serve");
    assert_int_equal(validate(f), LX_OK);
}

static void test_provider_kind_names(void **state)
{
    (void)state;
    static const char *const names[] = {"openai", "anthropic", "gemini", "openai_compatible"};
    for (int k = 0; k < LX_PROVIDER__COUNT; k++) {
        assert_string_equal(lx_provider_kind_name((lx_provider_kind_t)k), names[k]);
        lx_provider_kind_t out = LX_PROVIDER__COUNT;
        assert_int_equal(lx_provider_kind_parse(names[k], &out), LX_OK);
        assert_int_equal(out, k);
    }
    lx_provider_kind_t out = LX_PROVIDER_OPENAI;
    assert_int_equal(lx_provider_kind_parse("generic", &out), LX_OK);
    assert_int_equal(out, LX_PROVIDER_OPENAI_COMPAT);
    out = LX_PROVIDER_OPENAI;
    assert_int_equal(lx_provider_kind_parse("openrouter", &out), LX_OK);
    assert_int_equal(out, LX_PROVIDER_OPENAI_COMPAT);
    out = LX_PROVIDER_GEMINI;
    assert_int_equal(lx_provider_kind_parse("OpenAI", &out), LX_ERROR);
    assert_int_equal(lx_provider_kind_parse("", &out), LX_ERROR);
    assert_int_equal(lx_provider_kind_parse("mistral", &out), LX_ERROR);
    assert_int_equal(out, LX_PROVIDER_GEMINI);
    assert_string_equal(lx_provider_kind_name(LX_PROVIDER__COUNT), "unknown");
    assert_string_equal(lx_provider_kind_name((lx_provider_kind_t)-1), "unknown");
}

/* ---- JSON file layer ---- */

static void test_json_every_top_level_setting(void **state)
{
    fixture_t *f = *state;
    int rc = apply_json(f, "{"
                           "\"listen\": \"0.0.0.0:9000\","
                           "\"workers\": 7,"
                           "\"backlog\": 128,"
                           "\"database_url\": \"postgresql://u:p@db/llmux\","
                           "\"admin_key\": \"admin-key-0123456789\","
                           "\"master_key\": \"" KEY32_B64 "\","
                           "\"log_level\": \"debug\","
                           "\"access_log\": false"
                           "}");
    assert_int_equal(rc, LX_OK);
    const lx_config_t *c = &f->cfg;
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 9000);
    assert_int_equal(c->workers, 7);
    assert_int_equal(c->backlog, 128);
    assert_string_equal(c->database_url, "postgresql://u:p@db/llmux");
    assert_string_equal(c->admin_key, "admin-key-0123456789");
    assert_key32(c);
    assert_int_equal(c->log_level, LX_LOG_DEBUG);
    assert_false(c->access_log);
    assert_int_equal(validate(f), LX_OK);
}

static void test_json_scalars_accept_strings_numbers_and_bools(void **state)
{
    fixture_t *f = *state;
    /* A number may come as a string, a bool as a string or number. */
    assert_int_equal(apply_json(f, "{\"workers\": \"12\", \"access_log\": \"off\"}"), LX_OK);
    assert_int_equal(f->cfg.workers, 12);
    assert_false(f->cfg.access_log);
    assert_int_equal(apply_json(f, "{\"access_log\": 1}"), LX_OK);
    assert_true(f->cfg.access_log);
    assert_int_equal(apply_json(f, "{\"access_log\": \"NO\"}"), LX_OK);
    assert_false(f->cfg.access_log);
    /* An empty string clears an optional string. */
    assert_int_equal(apply_json(f, "{\"database_url\": \"postgres://x\"}"), LX_OK);
    assert_int_equal(apply_json(f, "{\"database_url\": \"\"}"), LX_OK);
    assert_null(f->cfg.database_url);
}

static void test_json_nested_limits_and_upstream(void **state)
{
    fixture_t *f = *state;
    int rc = apply_json(f, "{\"limits\": {"
                           "  \"max_body_bytes\": 2048,"
                           "  \"max_header_bytes\": 4096,"
                           "  \"max_headers\": 50,"
                           "  \"header_timeout_ms\": 111,"
                           "  \"keepalive_timeout_ms\": 222,"
                           "  \"write_timeout_ms\": 333,"
                           "  \"drain_timeout_ms\": 0,"
                           "  \"stream_high_water_bytes\": 8192,"
                           "  \"max_event_bytes\": 4096"
                           "}, \"upstream\": {"
                           "  \"max_response_bytes\": 1048576,"
                           "  \"connect_timeout_ms\": 11,"
                           "  \"first_byte_timeout_ms\": 22,"
                           "  \"idle_timeout_ms\": 33,"
                           "  \"total_timeout_ms\": 44"
                           "}}");
    assert_int_equal(rc, LX_OK);
    const lx_config_t *c = &f->cfg;
    assert_int_equal(c->max_body_bytes, 2048);
    assert_int_equal(c->max_header_bytes, 4096);
    assert_int_equal(c->max_headers, 50);
    assert_int_equal(c->header_timeout_ms, 111);
    assert_int_equal(c->keepalive_timeout_ms, 222);
    assert_int_equal(c->write_timeout_ms, 333);
    assert_int_equal(c->drain_timeout_ms, 0);
    assert_int_equal(c->stream_high_water, 8192);
    assert_int_equal(c->max_event_bytes, 4096);
    assert_int_equal(c->upstream_max_response_bytes, 1048576);
    assert_int_equal(c->upstream.connect_ms, 11);
    assert_int_equal(c->upstream.first_byte_ms, 22);
    assert_int_equal(c->upstream.idle_ms, 33);
    assert_int_equal(c->upstream.total_ms, 44);
    /* Untouched settings keep their defaults. */
    assert_int_equal(c->workers, sysconf(_SC_NPROCESSORS_ONLN));
    assert_string_equal(c->listen_host, "127.0.0.1");
}

static void test_json_providers(void **state)
{
    fixture_t *f = *state;
    int rc = apply_json(f, "{\"providers\": {"
                           "  \"openai\": {\"api_key\": \"sk-file\"},"
                           "  \"anthropic\": {\"api_key\": \"sk-ant\", \"idle_timeout_ms\": 999},"
                           "  \"local\": {"
                           "    \"kind\": \"openai_compatible\","
                           "    \"base_url\": \"http://127.0.0.1:11434/v1\","
                           "    \"headers\": {\"X-A\": \"1\", \"X-B\": \"two\"},"
                           "    \"connect_timeout_ms\": 100,"
                           "    \"first_byte_timeout_ms\": 200,"
                           "    \"total_timeout_ms\": 400"
                           "  },"
                           "  \"g\": {\"kind\": \"gemini\", \"base_url\": \"https://g.example\"}"
                           "}}");
    assert_int_equal(rc, LX_OK);
    assert_int_equal(f->cfg.nproviders, 4);

    const lx_provider_conf_t *p = provider(f, "openai");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_OPENAI);
    assert_string_equal(p->base_url, "https://api.openai.com/v1"); /* built-in default */
    assert_string_equal(p->api_key, "sk-file");
    assert_int_equal(p->nheaders, 0);

    p = provider(f, "anthropic");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_ANTHROPIC);
    assert_string_equal(p->base_url, "https://api.anthropic.com");
    assert_int_equal(p->timeouts.idle_ms, 999);
    assert_int_equal(p->timeouts.connect_ms, 0); /* filled from upstream by load */

    p = provider(f, "local");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_OPENAI_COMPAT);
    assert_string_equal(p->base_url, "http://127.0.0.1:11434/v1");
    assert_null(p->api_key);
    assert_int_equal(p->nheaders, 2);
    assert_string_equal(p->header_names[0], "X-A");
    assert_string_equal(p->header_values[0], "1");
    assert_string_equal(p->header_names[1], "X-B");
    assert_string_equal(p->header_values[1], "two");
    assert_int_equal(p->timeouts.connect_ms, 100);
    assert_int_equal(p->timeouts.first_byte_ms, 200);
    assert_int_equal(p->timeouts.idle_ms, 0);
    assert_int_equal(p->timeouts.total_ms, 400);

    p = provider(f, "g");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_GEMINI);

    assert_null(provider(f, "missing"));
    assert_int_equal(validate(f), LX_OK);
}

static void test_json_models(void **state)
{
    fixture_t *f = *state;
    int rc = apply_json(f, "{\"providers\": {\"p\": {\"kind\": \"openai_compatible\","
                           "  \"base_url\": \"http://127.0.0.1:1/v1\"}},"
                           " \"models\": {"
                           "  \"my-chat\": {\"provider\": \"p\", \"model\": \"up-1\"},"
                           "  \"priced\": {\"provider\": \"p\", \"model\": \"up-1\","
                           "    \"input_cost_per_1m\": 0.5, \"output_cost_per_1m\": 2,"
                           "    \"cached_cost_per_1m\": 0, \"context_window\": 1000,"
                           "    \"max_output_tokens\": 100}}}");
    assert_int_equal(rc, LX_OK);
    assert_int_equal(f->cfg.nmodels, 2);
    const lx_model_conf_t *m = &f->cfg.models[0];
    assert_string_equal(m->name, "my-chat");
    assert_string_equal(m->provider, "p");
    assert_string_equal(m->model, "up-1");
    /* left out: from the catalog */
    assert_true(m->input_per_1m < 0 && m->output_per_1m < 0 && m->cached_per_1m < 0);
    assert_int_equal(m->context_window, -1);
    assert_int_equal(m->max_output, -1);
    m = &f->cfg.models[1];
    assert_true(m->input_per_1m == 0.5 && m->output_per_1m == 2 && m->cached_per_1m == 0);
    assert_int_equal(m->context_window, 1000);
    assert_int_equal(m->max_output, 100);
    assert_int_equal(validate(f), LX_OK);
}

static void test_json_models_errors_name_the_field(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"models\": 5}", "models: expected an object"},
        {"{\"models\": {\"a\": []}}", "models.a: expected an object"},
        {"{\"models\": {\"a\": {\"model\": \"m\"}}}", "models.a.provider: required"},
        {"{\"models\": {\"a\": {\"provider\": \"p\"}}}", "models.a.model: required"},
        {"{\"models\": {\"a\": {\"provider\": \"p\", \"model\": \"m m\"}}}", "models.a.model"},
        {"{\"models\": {\"\": {\"provider\": \"p\", \"model\": \"m\"}}}", "models.:"},
        {"{\"models\": {\"a\": {\"provider\": \"p\", \"model\": \"m\", \"x\": 1}}}",
         "models.a.x: unknown setting"},
        {"{\"models\": {\"a\": {\"provider\": \"p\", \"model\": \"m\", "
         "\"output_cost_per_1m\": \"1\"}}}",
         "models.a.output_cost_per_1m"},
        {"{\"models\": {\"a\": {\"provider\": \"p\", \"model\": \"m\", "
         "\"context_window\": 0}}}",
         "models.a.context_window"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        assert_int_equal(apply_json(f, cases[i].json), LX_ERROR);
        if (strstr(f->err, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' does not hold '%s'", i, f->err, cases[i].want);
    }
    /* cross-field: a configured provider, a name no group has */
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(apply_json(f, "{\"models\": {\"a\": {\"provider\": \"nope\", "
                                   "\"model\": \"m\"}}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "models.a.provider: no provider 'nope' is configured"));
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(
        apply_json(f, "{\"providers\": {\"p\": {\"base_url\": \"http://127.0.0.1:1/v1\"}},"
                      " \"models\": {\"g\": {\"provider\": \"p\", \"model\": \"m\"}},"
                      " \"groups\": {\"g\": {\"members\": [{\"provider\": \"p\", "
                      "\"model\": \"m\"}]}}}"),
        LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "models.g: a group has that name"));
}

static void test_config_provider_lookup_uses_length(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(apply_json(f, "{\"providers\": {\"ab\": {\"base_url\": \"http://a\"},"
                                   "\"abc\": {\"base_url\": \"http://b\"}}}"),
                     LX_OK);
    const lx_provider_conf_t *p = lx_config_provider(&f->cfg, (lx_str_t){"abcdef", 2});
    assert_non_null(p);
    assert_string_equal(p->name, "ab");
    p = lx_config_provider(&f->cfg, (lx_str_t){"abcdef", 3});
    assert_non_null(p);
    assert_string_equal(p->name, "abc");
    assert_null(lx_config_provider(&f->cfg, (lx_str_t){"abcdef", 1}));
    assert_null(lx_config_provider(&f->cfg, LX_NULL_STR));
}

static void test_json_unknown_keys_name_the_field(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *json, *field;
    } cases[] = {
        {"{\"bogus\": 1}", "bogus"},
        {"{\"limits\": {\"bogus\": 1}}", "limits.bogus"},
        {"{\"limits\": {\"max_headers\": 10, \"bogus\": 1}}", "limits.bogus"},
        {"{\"upstream\": {\"bogus\": 1}}", "upstream.bogus"},
        {"{\"upstream\": {\"max_headers\": 10}}", "upstream.max_headers"},
        {"{\"max_body_bytes\": 2048}", "max_body_bytes"}, /* belongs under limits */
        {"{\"providers\": {\"x\": {\"bogus\": 1}}}", "providers.x.bogus"},
        {"{\"limits\": {\"limits\": {}}}", "limits.limits"},
        {"{\"limits\": 5}", "limits"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        assert_int_equal(apply_json(f, cases[i].json), LX_ERROR);
        assert_err_names(f, cases[i].field);
        assert_non_null(strstr(f->err, "unknown"));
    }
}

static void test_json_unknown_provider_timeout_key(void **state)
{
    fixture_t *f = *state;
    int rc = apply_json(f, "{\"providers\": {\"x\": {\"base_url\": \"http://x\","
                           "\"conect_timeout_ms\": 5}}}");
    /* A typo must fail, not be silently ignored. */
    assert_int_equal(rc, LX_ERROR);
    assert_err_names(f, "providers.x.conect_timeout_ms");
    assert_non_null(strstr(f->err, "unknown"));
    /* The known keys still work: */
    assert_int_equal(apply_json(f, "{\"providers\": {\"y\": {\"base_url\": \"http://y\","
                                   "\"connect_timeout_ms\": 5}}}"),
                     LX_OK);
    assert_int_equal(provider(f, "y")->timeouts.connect_ms, 5);
}

/* A provider's connection settings (core/transport.h) and the upstream
 * TLS settings. */
static void test_json_provider_transport(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(f->cfg.upstream_tls_min, 12);
    assert_null(f->cfg.upstream_ca_file);
    assert_int_equal(apply_json(f, "{\"providers\": {\"x\": {\"base_url\": \"https://x\","
                                   "\"http2\": false, \"max_connections\": 4,"
                                   "\"max_streams_per_connection\": 10,"
                                   "\"ca_file\": \"/etc/hostname\"}, \"y\": {\"base_url\": "
                                   "\"https://y\"}},"
                                   "\"upstream\": {\"tls_min\": \"1.3\", \"ca_file\": "
                                   "\"/etc/hostname\"}}"),
                     LX_OK);
    const lx_transport_t *t = &provider(f, "x")->transport;
    assert_int_equal(t->http2, LX_HTTP2_OFF);
    assert_int_equal(t->max_connections, 4);
    assert_int_equal(t->max_streams, 10);
    assert_string_equal(t->ca_file, "/etc/hostname");
    t = &provider(f, "y")->transport; /* the defaults */
    assert_int_equal(t->http2, LX_HTTP2_AUTO);
    assert_int_equal(t->max_connections, 0);
    assert_int_equal(t->max_streams, 0);
    assert_null(t->ca_file);
    assert_int_equal(f->cfg.upstream_tls_min, 13);
    assert_string_equal(f->cfg.upstream_ca_file, "/etc/hostname");
    assert_int_equal(validate(f), LX_OK);
    /* a number works too */
    assert_int_equal(apply_json(f, "{\"upstream\": {\"tls_min\": 1.2}}"), LX_OK);
    assert_int_equal(f->cfg.upstream_tls_min, 12);
    char *env[] = {"LLMUX_UPSTREAM_TLS_MIN=1.3", "LLMUX_UPSTREAM_CA_FILE=/etc/passwd", NULL};
    assert_int_equal(apply_env(f, env), LX_OK);
    assert_int_equal(f->cfg.upstream_tls_min, 13);
    assert_string_equal(f->cfg.upstream_ca_file, "/etc/passwd");

    /* a CA file that cannot be read fails the check, naming the setting */
    assert_int_equal(
        apply_json(f, "{\"providers\": {\"x\": {\"ca_file\": \"/nonexistent/ca.pem\"}}}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "providers.x.ca_file");
    assert_int_equal(apply_json(f, "{\"providers\": {\"x\": {\"ca_file\": \"/etc/hostname\"}},"
                                   "\"upstream\": {\"ca_file\": \"/nonexistent/ca.pem\"}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "upstream.ca_file");
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"providers\": {\"z\": {\"http2\": \"yes\"}}}", "providers.z.http2"},
        {"{\"providers\": {\"z\": {\"max_connections\": 0}}}", "providers.z.max_connections"},
        {"{\"providers\": {\"z\": {\"max_connections\": \"4\"}}}", "providers.z.max_connections"},
        {"{\"providers\": {\"z\": {\"max_streams_per_connection\": 1001}}}",
         "providers.z.max_streams_per_connection"},
        {"{\"providers\": {\"z\": {\"ca_file\": \"relative.pem\"}}}", "providers.z.ca_file"},
        {"{\"providers\": {\"z\": {\"ca_file\": 5}}}", "providers.z.ca_file"},
        {"{\"upstream\": {\"tls_min\": \"1.1\"}}", "upstream.tls_min"},
        {"{\"upstream\": {\"tls_min\": 1.0}}", "upstream.tls_min"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        if (apply_json(f, bad[i].json) != LX_ERROR)
            fail_msg("accepted %s", bad[i].json);
        assert_err_names(f, bad[i].field);
    }
}

static void test_json_bad_values_name_the_field(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *json, *field;
    } cases[] = {
        {"{\"workers\": 0}", "workers"},
        {"{\"workers\": 257}", "workers"},
        {"{\"workers\": \"abc\"}", "workers"},
        {"{\"workers\": 1.5}", "workers"},
        {"{\"workers\": null}", "workers"},
        {"{\"workers\": [1]}", "workers"},
        {"{\"backlog\": 1}", "backlog"},
        {"{\"listen\": \"127.0.0.1\"}", "listen"},
        {"{\"listen\": 8080}", "listen"},
        {"{\"master_key\": \"c2hvcnQ=\"}", "master_key"},
        {"{\"log_level\": \"verbose\"}", "log_level"},
        {"{\"access_log\": \"maybe\"}", "access_log"},
        {"{\"limits\": {\"max_body_bytes\": 10}}", "limits.max_body_bytes"},
        {"{\"limits\": {\"stream_high_water_bytes\": -1}}", "limits.stream_high_water_bytes"},
        {"{\"upstream\": {\"connect_timeout_ms\": 0}}", "upstream.connect_timeout_ms"},
        {"{\"limits\": {\"max_event_bytes\": 100}}", "limits.max_event_bytes"},
        {"{\"upstream\": {\"max_response_bytes\": 0}}", "upstream.max_response_bytes"},
        {"{\"providers\": []}", "providers"},
        {"{\"providers\": {\"x\": 1}}", "providers.x"},
        {"{\"providers\": {\"x\": {\"kind\": \"mistral\"}}}", "providers.x.kind"},
        {"{\"providers\": {\"x\": {\"kind\": 3}}}", "providers.x.kind"},
        {"{\"providers\": {\"x\": {\"base_url\": 3}}}", "providers.x.base_url"},
        {"{\"providers\": {\"x\": {\"api_key\": true}}}", "providers.x.api_key"},
        {"{\"providers\": {\"x\": {\"headers\": [\"a\"]}}}", "providers.x.headers"},
        {"{\"providers\": {\"x\": {\"headers\": {\"H\": 1}}}}", "providers.x.headers.H"},
        {"{\"providers\": {\"x\": {\"idle_timeout_ms\": 0}}}", "providers.x.idle_timeout_ms"},
        {"{\"providers\": {\"x\": {\"total_timeout_ms\": \"5\"}}}", "providers.x.total_timeout_ms"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        if (apply_json(f, cases[i].json) != LX_ERROR)
            fail_msg("accepted %s", cases[i].json);
        assert_err_names(f, cases[i].field);
    }
    /* A failed value leaves the setting as it was. */
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(apply_json(f, "{\"workers\": 0}"), LX_ERROR);
    assert_int_equal(f->cfg.workers, sysconf(_SC_NPROCESSORS_ONLN));
}

static void test_json_syntax_errors(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(apply_json(f, "{\n\"workers\": 2,\n\"backlog\": }"), LX_ERROR);
    assert_err_names(f, "line 3");
    assert_int_equal(apply_json(f, ""), LX_ERROR);
    assert_true(f->err[0] != '\0');
    assert_int_equal(apply_json(f, "[1, 2]"), LX_ERROR);
    assert_err_names(f, "object");
    assert_int_equal(apply_json(f, "{\"workers\": 2, \"workers\": 3}"), LX_ERROR);
    assert_true(f->err[0] != '\0');
}

static void test_json_too_many_providers_and_headers(void **state)
{
    fixture_t *f = *state;
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_cstr(&b, "{\"providers\": {");
    for (int i = 0; i <= LX_MAX_PROVIDERS; i++)
        lx_buf_printf(&b, "%s\"p%d\": {\"base_url\": \"http://h%d\"}", i ? "," : "", i, i);
    lx_buf_append_cstr(&b, "}}");
    assert_int_equal(apply_json(f, b.p), LX_ERROR);
    assert_err_names(f, "providers");
    assert_int_equal(f->cfg.nproviders, LX_MAX_PROVIDERS);

    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    lx_buf_reset(&b);
    lx_buf_append_cstr(&b, "{\"providers\": {\"x\": {\"headers\": {");
    for (int i = 0; i <= LX_MAX_EXTRA_HEADERS; i++)
        lx_buf_printf(&b, "%s\"H%d\": \"v\"", i ? "," : "", i);
    lx_buf_append_cstr(&b, "}}}}");
    assert_int_equal(apply_json(f, b.p), LX_ERROR);
    assert_err_names(f, "providers.x.headers");
    assert_int_equal(f->cfg.providers[0].nheaders, LX_MAX_EXTRA_HEADERS);
    lx_buf_free(&b);
}

static void test_json_long_string_is_not_truncated(void **state)
{
    fixture_t *f = *state;
    /* A conninfo string with certificate paths can be long. */
    lx_buf_t url, json;
    lx_buf_init(&url, 0);
    lx_buf_init(&json, 0);
    lx_buf_append_cstr(&url, "host=db dbname=llmux sslrootcert=/");
    while (url.n < 1500)
        lx_buf_append_cstr(&url, "very/long/path/");
    lx_buf_printf(&json, "{\"database_url\": \"%s\"}", url.p);
    assert_int_equal(apply_json(f, json.p), LX_OK);
    assert_non_null(f->cfg.database_url);
    assert_string_equal(f->cfg.database_url, url.p);
    lx_buf_free(&url);
    lx_buf_free(&json);
}

/* ---- environment layer ---- */

static void test_env_scalars(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {
        "HOME=/root",
        "LLMUX_LISTEN=0.0.0.0:9090",
        "LLMUX_WORKERS=3",
        "LLMUX_BACKLOG=512",
        "LLMUX_DATABASE_URL=postgres://env/db",
        "LLMUX_ADMIN_KEY=an-admin-key-of-len",
        "LLMUX_MASTER_KEY=" KEY32_B64_UNPADDED,
        "LLMUX_LOG_LEVEL=warn",
        "LLMUX_ACCESS_LOG=off",
        "LLMUX_MAX_BODY_BYTES=4096",
        "LLMUX_MAX_HEADER_BYTES=2048",
        "LLMUX_MAX_HEADERS=20",
        "LLMUX_HEADER_TIMEOUT_MS=1000",
        "LLMUX_KEEPALIVE_TIMEOUT_MS=2000",
        "LLMUX_WRITE_TIMEOUT_MS=3000",
        "LLMUX_DRAIN_TIMEOUT_MS=4000",
        "LLMUX_STREAM_HIGH_WATER=65536",
        "LLMUX_UPSTREAM_CONNECT_TIMEOUT_MS=10",
        "LLMUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS=20",
        "LLMUX_UPSTREAM_IDLE_TIMEOUT_MS=30",
        "LLMUX_UPSTREAM_TOTAL_TIMEOUT_MS=40",
        NULL,
    };
    assert_int_equal(apply_env(f, envp), LX_OK);
    const lx_config_t *c = &f->cfg;
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 9090);
    assert_int_equal(c->workers, 3);
    assert_int_equal(c->backlog, 512);
    assert_string_equal(c->database_url, "postgres://env/db");
    assert_string_equal(c->admin_key, "an-admin-key-of-len");
    assert_key32(c);
    assert_int_equal(c->log_level, LX_LOG_WARN);
    assert_false(c->access_log);
    assert_int_equal(c->max_body_bytes, 4096);
    assert_int_equal(c->max_header_bytes, 2048);
    assert_int_equal(c->max_headers, 20);
    assert_int_equal(c->header_timeout_ms, 1000);
    assert_int_equal(c->keepalive_timeout_ms, 2000);
    assert_int_equal(c->write_timeout_ms, 3000);
    assert_int_equal(c->drain_timeout_ms, 4000);
    assert_int_equal(c->stream_high_water, 65536);
    assert_int_equal(c->upstream.connect_ms, 10);
    assert_int_equal(c->upstream.first_byte_ms, 20);
    assert_int_equal(c->upstream.idle_ms, 30);
    assert_int_equal(c->upstream.total_ms, 40);
    assert_int_equal(c->nproviders, 0);
    assert_int_equal(validate(f), LX_OK);
}

/* tasks.* (config_tasks.c): defaults, file and environment, and the checks
 * between them. */
static void test_tasks_settings(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(f->cfg.tasks.poll_min_ms, 1000);
    assert_int_equal(f->cfg.tasks.poll_max_ms, 30000);
    assert_int_equal(f->cfg.tasks.lease_ms, 30000);
    assert_int_equal(f->cfg.tasks.pool, 8);
    assert_null(f->cfg.tasks.webhook_secret);
    assert_int_equal(apply_json(f, "{\"tasks\": {\"pool\": 3, \"lease_ms\": 4000}}"), LX_OK);
    char *envp[] = {"LLMUX_TASK_RENEW_MS=2000", "LLMUX_TASK_WEBHOOK_SECRET=hook-secret", NULL};
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.tasks.pool, 3);
    assert_int_equal(f->cfg.tasks.lease_ms, 4000);
    assert_int_equal(f->cfg.tasks.renew_ms, 2000);
    assert_string_equal(f->cfg.tasks.webhook_secret, "hook-secret");
    assert_int_equal(validate(f), LX_OK);
    char *late[] = {"LLMUX_TASK_RENEW_MS=2001", NULL}; /* over half the lease */
    assert_int_equal(apply_env(f, late), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "tasks.renew_ms"));
    char *order[] = {"LLMUX_TASK_RENEW_MS=1000", "LLMUX_TASK_POLL_MAX_MS=500", NULL};
    assert_int_equal(apply_env(f, order), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "tasks.poll_max_ms"));
    assert_int_equal(apply_json(f, "{\"tasks\": {\"pool\": 0}}"), LX_ERROR);
    assert_non_null(strstr(f->err, "tasks.pool"));
}

static void test_env_matches_whole_names_only(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {
        "LLMUX_WORKERSX=9",
        "LLMUX_WORKERS",
        "XLLMUX_WORKERS=9",
        "llmux_workers=9",
        "OPENAI_API_KEYS=sk",
        "LLMUX_LISTEN_=1.2.3.4:5",
        NULL,
    };
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.workers, sysconf(_SC_NPROCESSORS_ONLN));
    assert_string_equal(f->cfg.listen_host, "127.0.0.1");
    assert_int_equal(f->cfg.nproviders, 0);
    /* NULL and empty environments are fine. */
    assert_int_equal(apply_env(f, NULL), LX_OK);
    char *empty[] = {NULL};
    assert_int_equal(apply_env(f, empty), LX_OK);
}

static void test_env_openai_key_only_uses_default_base_url(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {"OPENAI_API_KEY=sk-test-123", NULL};
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.nproviders, 1);
    const lx_provider_conf_t *p = provider(f, "openai");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_OPENAI);
    assert_string_equal(p->base_url, "https://api.openai.com/v1");
    assert_string_equal(p->api_key, "sk-test-123");
    assert_int_equal(validate(f), LX_OK);
}

static void test_env_openai_base_url_overrides(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {"OPENAI_BASE_URL=http://127.0.0.1:9999/v1", "OPENAI_API_KEY=sk-x", NULL};
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.nproviders, 1);
    const lx_provider_conf_t *p = provider(f, "openai");
    assert_non_null(p);
    assert_string_equal(p->base_url, "http://127.0.0.1:9999/v1");
    assert_string_equal(p->api_key, "sk-x");
}

static void test_env_builtin_providers(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {
        "ANTHROPIC_API_KEY=sk-ant",
        "GEMINI_API_KEY=g-key",
        "OPENROUTER_API_KEY=or-key",
        "OPENAI_API_KEY=", /* empty: no provider */
        NULL,
    };
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.nproviders, 3);
    assert_null(provider(f, "openai"));
    const lx_provider_conf_t *p = provider(f, "anthropic");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_ANTHROPIC);
    assert_string_equal(p->base_url, "https://api.anthropic.com");
    assert_string_equal(p->api_key, "sk-ant");
    p = provider(f, "gemini");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_GEMINI);
    assert_string_equal(p->base_url, "https://generativelanguage.googleapis.com");
    p = provider(f, "openrouter");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_OPENAI_COMPAT);
    assert_string_equal(p->base_url, "https://openrouter.ai/api/v1");
    assert_string_equal(p->api_key, "or-key");
    assert_int_equal(validate(f), LX_OK);
}

static void test_env_demo_provider(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {"LLMUX_DEMO_BASE_URL=http://127.0.0.1:18080/v1", NULL};
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.nproviders, 1);
    const lx_provider_conf_t *p = provider(f, "demo");
    assert_non_null(p);
    assert_int_equal(p->kind, LX_PROVIDER_OPENAI_COMPAT);
    assert_string_equal(p->base_url, "http://127.0.0.1:18080/v1");
    assert_null(p->api_key); /* keyless local server */
    assert_int_equal(validate(f), LX_OK);

    /* A demo key without a URL has no default to fall back on. */
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    char *keyonly[] = {"LLMUX_DEMO_API_KEY=k", NULL};
    assert_int_equal(apply_env(f, keyonly), LX_OK);
    assert_non_null(provider(f, "demo"));
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "providers.demo.base_url");
}

static void test_env_merges_into_file_provider(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(apply_json(f, "{\"providers\": {\"openai\": {\"base_url\": "
                                   "\"http://proxy/v1\", \"api_key\": \"sk-file\","
                                   "\"headers\": {\"OpenAI-Organization\": \"org\"}}}}"),
                     LX_OK);
    char *envp[] = {"OPENAI_API_KEY=sk-env", NULL};
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.nproviders, 1);
    const lx_provider_conf_t *p = provider(f, "openai");
    assert_string_equal(p->api_key, "sk-env");
    assert_string_equal(p->base_url, "http://proxy/v1");
    assert_int_equal(p->nheaders, 1);
}

static void test_env_bad_values_name_the_variable(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *var, *field;
    } cases[] = {
        {"LLMUX_WORKERS=0", "LLMUX_WORKERS"},
        {"LLMUX_WORKERS=257", "LLMUX_WORKERS"},
        {"LLMUX_WORKERS=-1", "LLMUX_WORKERS"},
        {"LLMUX_WORKERS=3x", "LLMUX_WORKERS"},
        {"LLMUX_WORKERS=", "LLMUX_WORKERS"},
        {"LLMUX_WORKERS=99999999999999999999", "LLMUX_WORKERS"},
        {"LLMUX_LISTEN=127.0.0.1", "LLMUX_LISTEN"},
        {"LLMUX_LISTEN=:8080", "LLMUX_LISTEN"},
        {"LLMUX_LISTEN=127.0.0.1:", "LLMUX_LISTEN"},
        {"LLMUX_LISTEN=127.0.0.1:0", "LLMUX_LISTEN"},
        {"LLMUX_LISTEN=127.0.0.1:65536", "LLMUX_LISTEN"},
        {"LLMUX_LISTEN=127.0.0.1:http", "LLMUX_LISTEN"},
        {"LLMUX_LISTEN=[::1]", "LLMUX_LISTEN"},
        {"LLMUX_MASTER_KEY=c2hvcnQ=", "LLMUX_MASTER_KEY"},                   /* 5 bytes */
        {"LLMUX_MASTER_KEY=" KEY32_B64_UNPADDED "AAAA", "LLMUX_MASTER_KEY"}, /* 35 bytes */
        {"LLMUX_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
         "LLMUX_MASTER_KEY"}, /* 31 */
        {"LLMUX_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
         "LLMUX_MASTER_KEY"}, /* 33 */
        {"LLMUX_MASTER_KEY=!!!!not-base64!!!!", "LLMUX_MASTER_KEY"},
        {"LLMUX_MASTER_KEY=", "LLMUX_MASTER_KEY"},
        {"LLMUX_LOG_LEVEL=loud", "LLMUX_LOG_LEVEL"},
        {"LLMUX_ACCESS_LOG=2", "LLMUX_ACCESS_LOG"},
        {"LLMUX_MAX_BODY_BYTES=1023", "LLMUX_MAX_BODY_BYTES"},
        {"LLMUX_UPSTREAM_TOTAL_TIMEOUT_MS=0", "LLMUX_UPSTREAM_TOTAL_TIMEOUT_MS"},
        {"LLMUX_MAX_EVENT_BYTES=1023", "LLMUX_MAX_EVENT_BYTES"},
        {"LLMUX_MAX_EVENT_BYTES=2147483648", "LLMUX_MAX_EVENT_BYTES"},
        {"LLMUX_UPSTREAM_MAX_RESPONSE_BYTES=12x", "LLMUX_UPSTREAM_MAX_RESPONSE_BYTES"},
        {"LLMUX_UPSTREAM_DENIED_NETWORKS=10.0.0.0/33", "LLMUX_UPSTREAM_DENIED_NETWORKS"},
        {"LLMUX_UPSTREAM_ALLOWED_NETWORKS=169.254.0.0/16,x", "LLMUX_UPSTREAM_ALLOWED_NETWORKS"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        char *envp[] = {(char *)cases[i].var, NULL};
        if (apply_env(f, envp) != LX_ERROR)
            fail_msg("accepted %s", cases[i].var);
        assert_err_names(f, cases[i].field);
        assert_false(f->cfg.has_master_key);
    }
}

static void test_env_master_key_padded_and_unpadded(void **state)
{
    fixture_t *f = *state;
    char *padded[] = {"LLMUX_MASTER_KEY=" KEY32_B64, NULL};
    assert_int_equal(apply_env(f, padded), LX_OK);
    assert_key32(&f->cfg);
    lx_config_free(&f->cfg);
    assert_false(f->cfg.has_master_key);
    for (int i = 0; i < 32; i++)
        assert_int_equal(f->cfg.master_key[i], 0); /* wiped by free */
    lx_config_defaults(&f->cfg);
    char *unpadded[] = {"LLMUX_MASTER_KEY=" KEY32_B64_UNPADDED, NULL};
    assert_int_equal(apply_env(f, unpadded), LX_OK);
    assert_key32(&f->cfg);
}

static void test_listen_forms(void **state)
{
    fixture_t *f = *state;
    char *v6[] = {"LLMUX_LISTEN=[::1]:8443", NULL};
    assert_int_equal(apply_env(f, v6), LX_OK);
    assert_string_equal(f->cfg.listen_host, "::1");
    assert_int_equal(f->cfg.listen_port, 8443);
    char *any[] = {"LLMUX_LISTEN=0.0.0.0:1", NULL};
    assert_int_equal(apply_env(f, any), LX_OK);
    assert_string_equal(f->cfg.listen_host, "0.0.0.0");
    assert_int_equal(f->cfg.listen_port, 1);
    char *name[] = {"LLMUX_LISTEN=localhost:65535", NULL};
    assert_int_equal(apply_env(f, name), LX_OK);
    assert_string_equal(f->cfg.listen_host, "localhost");
    assert_int_equal(f->cfg.listen_port, 65535);

    /* A bare IPv6 address has no port. */
    char *bare6[] = {"LLMUX_LISTEN=::1", NULL};
    int rc = apply_env(f, bare6);
    assert_int_equal(rc, LX_ERROR);
    assert_err_names(f, "LLMUX_LISTEN");
    /* An IPv6 address with a port still needs the brackets. */
    char *unbracketed[] = {"LLMUX_LISTEN=::1:8080", NULL};
    assert_int_equal(apply_env(f, unbracketed), LX_ERROR);
    assert_err_names(f, "LLMUX_LISTEN");
    assert_string_equal(f->cfg.listen_host, "localhost"); /* unchanged */
}

/* ---- validation ---- */

static void test_validate_provider_base_url_scheme(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {"ftp://x",
                                      "api.openai.com/v1",
                                      "HTTP//x",
                                      "http:/x",
                                      "ws://host",
                                      "https://user:pw@api.example.com/v1",
                                      "https://api.example.com/v1?key=1",
                                      "https://api.example.com/v1#x"};
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        char json[256];
        snprintf(json, sizeof json, "{\"providers\": {\"x\": {\"base_url\": \"%s\"}}}", bad[i]);
        assert_int_equal(apply_json(f, json), LX_OK);
        if (validate(f) != LX_ERROR)
            fail_msg("validate accepted base_url %s", bad[i]);
        assert_err_names(f, "providers.x.base_url");
    }
    static const char *const good[] = {"http://127.0.0.1:8000", "https://api.example.com/v1"};
    for (size_t i = 0; i < LX_ARRAY_LEN(good); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        char json[256];
        snprintf(json, sizeof json, "{\"providers\": {\"x\": {\"base_url\": \"%s\"}}}", good[i]);
        assert_int_equal(apply_json(f, json), LX_OK);
        assert_int_equal(validate(f), LX_OK);
    }
}

static void test_networks(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(f->cfg.netpolicy.nallowed, 0);
    assert_int_equal(f->cfg.netpolicy.ndenied, 0);
    char *envp[] = {"LLMUX_UPSTREAM_DENIED_NETWORKS=10.0.0.0/8, fd00::/8",
                    "LLMUX_UPSTREAM_ALLOWED_NETWORKS=169.254.10.0/24", NULL};
    assert_int_equal(apply_env(f, envp), LX_OK);
    assert_int_equal(f->cfg.netpolicy.ndenied, 2);
    assert_int_equal(f->cfg.netpolicy.nallowed, 1);
    /* the file takes a list or a comma string; a later layer replaces it */
    assert_int_equal(apply_json(f,
                                "{\"upstream\": {\"denied_networks\": [\"127.0.0.0/8\", \"::1\", "
                                "\"192.168.0.0/16\"], \"allowed_networks\": \"\"}}"),
                     LX_OK);
    assert_int_equal(f->cfg.netpolicy.ndenied, 3);
    assert_int_equal(f->cfg.netpolicy.nallowed, 0);
    assert_int_equal(apply_json(f, "{\"upstream\": {\"denied_networks\": [\"a,b\"]}}"), LX_ERROR);
    assert_err_names(f, "upstream.denied_networks");
    assert_int_equal(apply_json(f, "{\"upstream\": {\"denied_networks\": [1]}}"), LX_ERROR);
    assert_err_names(f, "upstream.denied_networks");
    assert_int_equal(apply_json(f, "{\"upstream\": {\"allowed_networks\": \"300.0.0.0/8\"}}"),
                     LX_ERROR);
    assert_err_names(f, "upstream.allowed_networks");
    assert_int_equal(f->cfg.netpolicy.ndenied, 3);
}

static void test_validate_provider_headers(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(apply_json(f, "{\"providers\": {\"x\": {\"base_url\": \"http://h\", "
                                   "\"headers\": {\"X-A\": \"a\\r\\nSet-Cookie: b\"}}}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "providers.x.headers.X-A");
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(apply_json(f, "{\"providers\": {\"x\": {\"base_url\": \"http://h\", "
                                   "\"headers\": {\"Bad Name\": \"v\"}}}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "providers.x.headers");
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(apply_json(f, "{\"providers\": {\"x\": {\"base_url\": \"http://h\", "
                                   "\"headers\": {\"X-A\": \"a\\tb c\"}}}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_OK);
}

static void test_validate_provider_needs_base_url(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(apply_json(f, "{\"providers\": {\"custom\": {\"api_key\": \"k\"}}}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "providers.custom.base_url");
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(apply_json(f, "{\"providers\": {\"custom\": {\"base_url\": \"\"}}}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "providers.custom.base_url");
}

static void test_validate_provider_name(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {"My Provider", "UPPER", "a/b", "dot.name", ""};
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        char json[256];
        snprintf(json, sizeof json, "{\"providers\": {\"%s\": {\"base_url\": \"http://h\"}}}",
                 bad[i]);
        assert_int_equal(apply_json(f, json), LX_OK);
        int rc = validate(f);
        if (rc != LX_ERROR)
            fail_msg("validate accepted provider name '%s'", bad[i]);
        assert_err_names(f, bad[i][0] ? "providers." : "providers");
    }
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    assert_int_equal(
        apply_json(f, "{\"providers\": {\"my-local_llm2\": {\"base_url\": \"http://h\"}}}"), LX_OK);
    assert_int_equal(validate(f), LX_OK);
}

static void test_validate_admin_key_and_database_url(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(apply_json(f, "{\"admin_key\": \"short\"}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "admin_key");
    assert_int_equal(apply_json(f, "{\"admin_key\": \"fifteen-chars-x\"}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR); /* 15 characters: one short */
    assert_err_names(f, "admin_key");
    assert_int_equal(apply_json(f, "{\"admin_key\": \"exactly-16-chars\"}"), LX_OK);
    assert_int_equal(validate(f), LX_OK);

    assert_int_equal(apply_json(f, "{\"database_url\": \"mysql://db\"}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_err_names(f, "database_url");
    static const char *const good[] = {"postgresql://u@h/db", "postgres://h/db",
                                       "host=/var/run dbname=llmux"};
    for (size_t i = 0; i < LX_ARRAY_LEN(good); i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"database_url\": \"%s\"}", good[i]);
        assert_int_equal(apply_json(f, json), LX_OK);
        assert_int_equal(validate(f), LX_OK);
    }
}

/* ---- lx_config_load: flags and precedence ---- */

static void test_load_precedence_file_env_flags(void **state)
{
    fixture_t *f = *state;
    write_config(f, "{\"workers\": 2, \"listen\": \"10.0.0.1:1000\", \"log_level\": \"warn\","
                    " \"backlog\": 100, \"database_url\": \"postgres://file\","
                    " \"upstream\": {\"connect_timeout_ms\": 777},"
                    " \"providers\": {\"openai\": {\"api_key\": \"sk-file\"},"
                    "   \"local\": {\"base_url\": \"http://l\", \"idle_timeout_ms\": 5}}}");
    char *envp[] = {
        "LLMUX_WORKERS=3",
        "LLMUX_LISTEN=10.0.0.2:2000",
        "LLMUX_DATABASE_URL=postgres://env",
        "OPENAI_API_KEY=sk-env",
        NULL,
    };
    char *argv[] = {"llmux",
                    "--config",
                    f->path,
                    "--workers",
                    "4",
                    "check-config",
                    "--database-url=postgres://flag",
                    NULL};
    int argc = (int)LX_ARRAY_LEN(argv) - 1;
    assert_int_equal(load(f, argc, argv, envp), LX_OK);
    const lx_config_t *c = &f->cfg;
    assert_int_equal(c->workers, 4);                         /* flag > env > file */
    assert_string_equal(c->database_url, "postgres://flag"); /* flag > env > file */
    assert_string_equal(c->listen_host, "10.0.0.2");         /* env > file */
    assert_int_equal(c->listen_port, 2000);
    assert_int_equal(c->log_level, LX_LOG_WARN); /* file > default */
    assert_int_equal(c->backlog, 100);
    assert_string_equal(c->command, "check-config");
    assert_string_equal(c->config_path, f->path);
    assert_string_equal(provider(f, "openai")->api_key, "sk-env");

    /* Providers without their own timeouts inherit the upstream ones. */
    const lx_provider_conf_t *p = provider(f, "openai");
    assert_int_equal(p->timeouts.connect_ms, 777);
    assert_int_equal(p->timeouts.first_byte_ms, 120000);
    assert_int_equal(p->timeouts.idle_ms, 120000);
    assert_int_equal(p->timeouts.total_ms, 600000);
    p = provider(f, "local");
    assert_int_equal(p->timeouts.idle_ms, 5);
    assert_int_equal(p->timeouts.connect_ms, 777);
}

static void test_load_flags_override_every_flagged_setting(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {"LLMUX_LOG_LEVEL=error", "LLMUX_LISTEN=1.1.1.1:1", NULL};
    char *argv[] = {"llmux", "--listen=[::]:7000", "--log-level", "debug", "--workers=9", "migrate",
                    NULL};
    assert_int_equal(load(f, 6, argv, envp), LX_OK);
    assert_string_equal(f->cfg.listen_host, "::");
    assert_int_equal(f->cfg.listen_port, 7000);
    assert_int_equal(f->cfg.log_level, LX_LOG_DEBUG);
    assert_int_equal(f->cfg.workers, 9);
    assert_string_equal(f->cfg.command, "migrate");
}

static void test_load_config_path_from_env(void **state)
{
    fixture_t *f = *state;
    write_config(f, "{\"workers\": 5}");
    char envvar[128];
    snprintf(envvar, sizeof envvar, "LLMUX_CONFIG=%s", f->path);
    char *envp[] = {envvar, NULL};
    char *argv[] = {"llmux", NULL};
    assert_int_equal(load(f, 1, argv, envp), LX_OK);
    assert_int_equal(f->cfg.workers, 5);
    assert_null(f->cfg.config_path);
    assert_string_equal(f->cfg.command, "serve");
}

static void test_load_config_flag_beats_env_path(void **state)
{
    fixture_t *f = *state;
    write_config(f, "{\"workers\": 6}");
    char *envp[] = {"LLMUX_CONFIG=/nonexistent/llmux.json", NULL};
    char flag[128];
    snprintf(flag, sizeof flag, "--config=%s", f->path);
    char *argv[] = {"llmux", flag, NULL};
    assert_int_equal(load(f, 2, argv, envp), LX_OK);
    assert_int_equal(f->cfg.workers, 6);
}

static void test_load_errors(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {NULL};
    static const struct {
        const char *args[4];
        const char *field;
    } cases[] = {
        {{"--bogus", "1"}, "--bogus"},
        {{"frobnicate"}, "frobnicate"},
        {{"--workers"}, "--workers"},
        {{"--workers", "0"}, "--workers"},
        {{"--workers=abc"}, "--workers"},
        {{"--listen", "nohost"}, "--listen"},
        {{"--log-level", "loud"}, "--log-level"},
        {{"--config", "/nonexistent/dir/llmux.json"}, "/nonexistent/dir/llmux.json"},
        {{"--master-key", "x"}, "--master-key"}, /* secrets are not flags */
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lx_config_free(&f->cfg);
        lx_config_defaults(&f->cfg);
        char *argv[6] = {"llmux"};
        int argc = 1;
        for (int k = 0; k < 4 && cases[i].args[k]; k++)
            argv[argc++] = (char *)cases[i].args[k];
        if (load(f, argc, argv, envp) != LX_ERROR)
            fail_msg("accepted case %zu (%s)", i, cases[i].args[0]);
        assert_err_names(f, cases[i].field);
    }
}

static void test_load_env_error_and_validate_error_propagate(void **state)
{
    fixture_t *f = *state;
    char *argv[] = {"llmux", NULL};
    char *bad_env[] = {"LLMUX_WORKERS=0", NULL};
    assert_int_equal(load(f, 1, argv, bad_env), LX_ERROR);
    assert_err_names(f, "LLMUX_WORKERS");

    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    char *bad_url[] = {"OPENAI_BASE_URL=api.openai.com", NULL};
    assert_int_equal(load(f, 1, argv, bad_url), LX_ERROR);
    assert_err_names(f, "providers.openai.base_url");

    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg);
    write_config(f, "{\"limits\": {\"bogus\": 1}}");
    char *argv2[] = {"llmux", "--config", f->path, NULL};
    char *envp[] = {NULL};
    assert_int_equal(load(f, 3, argv2, envp), LX_ERROR);
    assert_err_names(f, "limits.bogus");
}

static void test_load_help_and_version_return_done(void **state)
{
    fixture_t *f = *state;
    char *envp[] = {"LLMUX_WORKERS=0", NULL}; /* never reached */
    char *help[] = {"llmux", "--help", NULL};
    assert_int_equal(quiet_load(f, 2, help, envp), LX_DONE);
    char *h[] = {"llmux", "serve", "-h", NULL};
    assert_int_equal(quiet_load(f, 3, h, envp), LX_DONE);
    char *version[] = {"llmux", "--version", NULL};
    assert_int_equal(quiet_load(f, 2, version, envp), LX_DONE);
    char *v[] = {"llmux", "-V", NULL};
    assert_int_equal(quiet_load(f, 2, v, envp), LX_DONE);
    /* --help wins even over a config file that does not exist. */
    char *later[] = {"llmux", "--config", "/nonexistent.json", "--help", NULL};
    assert_int_equal(quiet_load(f, 4, later, envp), LX_DONE);
}

static void test_usage_mentions_flags(void **state)
{
    (void)state;
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    assert_non_null(out);
    lx_config_usage(out);
    fclose(out);
    static const char *const want[] = {"--config",       "--listen",    "--workers",
                                       "--database-url", "--log-level", "--help",
                                       "check-config",   "migrate",     "LLMUX_MASTER_KEY"};
    for (size_t i = 0; i < LX_ARRAY_LEN(want); i++)
        if (strstr(text, want[i]) == NULL)
            fail_msg("usage does not mention %s", want[i]);
    free(text);
}

/* ---- freeing ---- */

static void test_free_releases_everything(void **state)
{
    fixture_t *f = *state;
    /* Every owned string set, then overwritten by later layers (each
     * overwrite must free the old value), then freed: ASan/LSan reports any
     * leak or double free. */
    write_config(f, "{\"listen\": \"1.2.3.4:5\", \"database_url\": \"postgres://a\","
                    " \"admin_key\": \"0123456789abcdef-file\","
                    " \"master_key\": \"" KEY32_B64 "\","
                    " \"providers\": {"
                    "  \"openai\": {\"api_key\": \"k1\", \"base_url\": \"http://o\","
                    "    \"headers\": {\"A\": \"1\", \"B\": \"2\"}},"
                    "  \"p2\": {\"base_url\": \"http://p2\", \"api_key\": \"k2\","
                    "    \"headers\": {\"C\": \"3\"}}}}");
    char *envp[] = {
        "LLMUX_LISTEN=5.6.7.8:9",
        "LLMUX_DATABASE_URL=postgres://b",
        "LLMUX_ADMIN_KEY=0123456789abcdef-env",
        "OPENAI_API_KEY=k3",
        "OPENAI_BASE_URL=http://o2",
        "ANTHROPIC_API_KEY=k4",
        "LLMUX_DEMO_BASE_URL=http://demo",
        NULL,
    };
    char *argv[] = {"llmux",          "--config",     f->path,        "--listen", "[::1]:1",
                    "--database-url", "postgres://c", "check-config", NULL};
    assert_int_equal(load(f, 8, argv, envp), LX_OK);
    assert_int_equal(f->cfg.nproviders, 4);
    assert_string_equal(f->cfg.admin_key, "0123456789abcdef-env");

    lx_config_free(&f->cfg);
    const lx_config_t *c = &f->cfg;
    assert_null(c->listen_host);
    assert_null(c->database_url);
    assert_null(c->admin_key);
    assert_null(c->config_path);
    assert_null(c->command);
    assert_int_equal(c->nproviders, 0);
    assert_false(c->has_master_key);
    for (int i = 0; i < LX_MAX_PROVIDERS; i++) {
        assert_null(c->providers[i].name);
        assert_null(c->providers[i].api_key);
        assert_null(c->providers[i].base_url);
    }
    /* Freeing twice is safe (everything was zeroed). */
    lx_config_free(&f->cfg);
    lx_config_defaults(&f->cfg); /* for teardown */
}

static void test_free_after_failed_load(void **state)
{
    fixture_t *f = *state;
    /* A load that fails half-way still leaves a config lx_config_free can
     * release entirely (teardown frees it; LSan checks). */
    write_config(f, "{\"database_url\": \"postgres://a\", \"providers\": {\"x\": "
                    "{\"base_url\": \"http://x\", \"headers\": {\"H\": \"v\"}},"
                    "\"y\": {\"kind\": \"bad\"}}}");
    char *argv[] = {"llmux", "--config", f->path, NULL};
    char *envp[] = {NULL};
    assert_int_equal(load(f, 3, argv, envp), LX_ERROR);
    assert_err_names(f, "providers.y.kind");
}

/* The "jwt" section: settings read from the file, and what start-up
 * refuses (each message names the field, never the secret). */
static void test_jwt_settings(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(f->cfg.jwt.leeway_s, 60);
    assert_int_equal(validate(f), LX_OK); /* off: nothing required */
    assert_int_equal(apply_json(f, "{\"jwt\": {\"hs256_secret\": \"short-secret\", "
                                   "\"issuer\": \"https://idp\", \"audience\": \"llmux\", "
                                   "\"leeway_s\": 30, \"user_claim\": \"email\"}}"),
                     LX_OK);
    assert_int_equal(f->cfg.jwt.leeway_s, 30);
    assert_string_equal(f->cfg.jwt.user_claim, "email");
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "jwt.hs256_secret"));
    assert_null(strstr(f->err, "short-secret"));
    assert_int_equal(
        apply_json(f, "{\"jwt\": {\"hs256_secret\": \"0123456789abcdef0123456789abcdef!\"}}"),
        LX_OK);
    assert_int_equal(validate(f), LX_OK);
    assert_int_equal(apply_json(f, "{\"jwt\": {\"issuer\": \"\"}}"), LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "jwt.issuer"));
    assert_int_equal(apply_json(f, "{\"jwt\": {\"issuer\": \"i\", \"role_claim\": \"a b\"}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "jwt.role_claim"));
    assert_int_equal(apply_json(f, "{\"jwt\": {\"role_claim\": \"roles\", \"jwks_file\": "
                                   "\"/nonexistent/jwks.json\"}}"),
                     LX_OK);
    assert_int_equal(validate(f), LX_ERROR);
    assert_non_null(strstr(f->err, "jwt.jwks_file"));
    assert_int_equal(apply_json(f, "{\"jwt\": {\"leeway_s\": 7200}}"), LX_ERROR);
    assert_non_null(strstr(f->err, "jwt.leeway_s"));
    assert_int_equal(apply_json(f, "{\"jwt\": {\"nope\": 1}}"), LX_ERROR);
    assert_non_null(strstr(f->err, "jwt.nope"));
}

/* The trace settings (config_tracing.c): the file's "tracing" object, the
 * OTEL_* variables over it, and the errors naming the field. */
static void test_tracing_file_and_env(void **state)
{
    fixture_t *f = *state;
    assert_null(f->cfg.tracing.endpoint);
    assert_false(f->cfg.tracing.capture_content);
    assert_int_equal(apply_json(f, "{\"tracing\": {\"endpoint\": \"http://c:4318\", "
                                   "\"headers\": {\"a\": \"1\", \"b\": \"x%2Cy\"}, "
                                   "\"sampler\": \"traceidratio\", \"sampler_arg\": 0.5, "
                                   "\"service_name\": \"gw\", \"disabled\": false, "
                                   "\"capture_message_content\": true}}"),
                     LX_OK);
    lx_tracing_conf_t *t = &f->cfg.tracing;
    assert_string_equal(t->endpoint, "http://c:4318");
    assert_string_equal(t->headers, "a=1,b=x%2Cy");
    assert_string_equal(t->sampler, "traceidratio");
    assert_string_equal(t->sampler_arg, "0.5");
    assert_string_equal(t->service_name, "gw");
    assert_true(t->capture_content);
    char *env[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://d/v1/t",
                   "OTEL_SERVICE_NAME=svc",
                   "OTEL_TRACES_SAMPLER=always_off",
                   "OTEL_SDK_DISABLED=TRUE",
                   "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false",
                   "OTEL_EXPORTER_OTLP_HEADERS=k=v",
                   NULL};
    assert_int_equal(apply_env(f, env), LX_OK);
    assert_string_equal(t->endpoint, "http://c:4318"); /* not in the environment: kept */
    assert_string_equal(t->traces_endpoint, "http://d/v1/t");
    assert_string_equal(t->service_name, "svc");
    assert_string_equal(t->sampler, "always_off");
    assert_string_equal(t->headers, "k=v");
    assert_true(t->disabled);
    assert_false(t->capture_content);
    char *bad_env[] = {"OTEL_SDK_DISABLED=yes please", NULL};
    assert_int_equal(apply_env(f, bad_env), LX_ERROR);
    assert_non_null(strstr(f->err, "OTEL_SDK_DISABLED"));
    assert_int_equal(apply_json(f, "{\"tracing\": {\"endpoints\": \"x\"}}"), LX_ERROR);
    assert_non_null(strstr(f->err, "tracing.endpoints: unknown setting"));
    assert_int_equal(apply_json(f, "{\"tracing\": {\"disabled\": \"yes\"}}"), LX_ERROR);
    assert_non_null(strstr(f->err, "tracing.disabled"));
    assert_int_equal(apply_json(f, "{\"tracing\": {\"headers\": {\"k\": 1}}}"), LX_ERROR);
    assert_non_null(strstr(f->err, "tracing.headers.k"));
    assert_int_equal(apply_json(f, "{\"tracing\": [1]}"), LX_ERROR);
    assert_non_null(strstr(f->err, "tracing: expected an object"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_tracing_file_and_env),
        T(test_provider_kind_names),
        T(test_json_every_top_level_setting),
        T(test_json_scalars_accept_strings_numbers_and_bools),
        T(test_json_nested_limits_and_upstream),
        T(test_json_providers),
        T(test_json_models),
        T(test_json_models_errors_name_the_field),
        T(test_config_provider_lookup_uses_length),
        T(test_json_unknown_keys_name_the_field),
        T(test_json_unknown_provider_timeout_key),
        T(test_json_provider_transport),
        T(test_json_bad_values_name_the_field),
        T(test_json_syntax_errors),
        T(test_json_too_many_providers_and_headers),
        T(test_json_long_string_is_not_truncated),
        T(test_env_scalars),
        T(test_tasks_settings),
        T(test_env_matches_whole_names_only),
        T(test_env_openai_key_only_uses_default_base_url),
        T(test_env_openai_base_url_overrides),
        T(test_env_builtin_providers),
        T(test_env_demo_provider),
        T(test_env_merges_into_file_provider),
        T(test_env_bad_values_name_the_variable),
        T(test_env_master_key_padded_and_unpadded),
        T(test_listen_forms),
        T(test_validate_provider_base_url_scheme),
        T(test_networks),
        T(test_jwt_settings),
        T(test_validate_provider_headers),
        T(test_validate_provider_needs_base_url),
        T(test_validate_provider_name),
        T(test_validate_admin_key_and_database_url),
        T(test_load_precedence_file_env_flags),
        T(test_load_flags_override_every_flagged_setting),
        T(test_load_config_path_from_env),
        T(test_load_config_flag_beats_env_path),
        T(test_load_errors),
        T(test_load_env_error_and_validate_error_propagate),
        T(test_load_help_and_version_return_done),
        T(test_usage_mentions_flags),
        T(test_free_releases_everything),
        T(test_free_after_failed_load),
    };
#undef T
    return cmocka_run_group_tests_name("core/config", tests, NULL, NULL);
}
