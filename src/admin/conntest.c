/* conntest.c - POST /api/v1/admin/ai/connections/{id}/test: one minimal
 * chat call through a stored connection, to check its key and endpoint.
 *
 * Step 1 reads the connection, its provider and a model of that provider;
 * step 2 opens the sealed key (in memory only, zeroed when the op ends) and
 * makes the call on the worker's upstream client; step 3, after a chat call
 * that worked, asks the provider's model list (GET .../models with the same
 * credential). The answer reports the upstream status, latency and a short
 * answer or error, and the models found (or why none could be listed),
 * never the key. */
#include "admin/internal.h"
#include "ai/adapter.h"
#include "core/clock.h"
#include "core/sealed_headers.h"
#include "core/secret.h"
#include "db/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_ANSWER_BYTES (256u << 10)
#define MAX_LIST_BYTES   (4u << 20)
#define SHOWN_CHARS      200
#define MAX_MODELS       500

typedef struct {
    lx_provider_conf_t conf; /* strings owned; conf.api_key is a secret */
    const lx_adapter_t *ad;
    lx_up_call_t *call;
    lx_buf_t body;
    char model[256];
    /* the chat call's outcome, kept while the model list is asked */
    int status;
    double latency_ms;
    char answer[1024];
    bool listing;
} ctest_t;

static void ctest_free(adm_op_t *op)
{
    ctest_t *t = op->ext;
    if (t == NULL)
        return;
    if (t->call)
        lx_up_call_cancel(t->call);
    free(t->conf.name);
    free(t->conf.base_url);
    if (t->conf.api_key) {
        explicit_bzero(t->conf.api_key, strlen(t->conf.api_key));
        free(t->conf.api_key);
    }
    for (int i = 0; i < t->conf.nheaders; i++) {
        free(t->conf.header_names[i]);
        explicit_bzero(t->conf.header_values[i], strlen(t->conf.header_values[i]));
        free(t->conf.header_values[i]);
    }
    lx_transport_free(&t->conf.transport);
    lx_buf_free(&t->body);
    free(t);
    op->ext = NULL;
}

/* The client left while the upstream call runs: stop it (no callback runs
 * afterwards, so op_abort frees the op). */
static void ctest_abort(adm_op_t *op)
{
    ctest_t *t = op->ext;
    if (t && t->call) {
        lx_up_call_cancel(t->call);
        t->call = NULL;
    }
}

/* Replaces every occurrence of secret in s by "***" (shorter: the string
 * only shrinks). */
static void scrub(char *s, const char *secret)
{
    size_t k = secret ? strlen(secret) : 0;
    if (k < 4)
        return;
    char *p;
    while ((p = strstr(s, secret)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + k, strlen(p + k) + 1);
    }
}

/* Cuts s to at most n bytes on a UTF-8 character boundary. */
static void cut_utf8(char *s, size_t n)
{
    if (strlen(s) <= n)
        return;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    s[n] = '\0';
}

/* models: the provider's model ids (stolen; NULL: not listed, then
 * models_error may say why). */
static void reply_models(adm_op_t *op, bool ok, int status, double latency_ms, const char *answer,
                         const char *error, json_t *models, const char *models_error)
{
    ctest_t *t = op->ext;
    json_t *out = json_object();
    json_object_set_new(out, "ok", json_boolean(ok));
    json_object_set_new(out, "status", json_integer(status));
    json_object_set_new(out, "latency_ms",
                        latency_ms >= 0 ? json_real(round(latency_ms * 10) / 10) : json_null());
    json_object_set_new(out, "answer", answer ? json_string(answer) : json_null());
    json_object_set_new(out, "error", error ? json_string(error) : json_null());
    json_object_set_new(out, "connection_id", json_integer(op->id));
    json_object_set_new(out, "model", t && t->model[0] ? json_string(t->model) : json_null());
    json_object_set_new(out, "models", models ? models : json_null());
    json_object_set_new(out, "models_error",
                        models_error ? json_string(models_error) : json_null());
    adm_reply_json(op, 200, out);
}

static void reply_result(adm_op_t *op, bool ok, int status, double latency_ms, const char *answer,
                         const char *error)
{
    reply_models(op, ok, status, latency_ms, answer, error, NULL, NULL);
}

/* ---- upstream callbacks ---- */

static void up_headers(lx_up_call_t *call, int status, void *arg) {}

static int up_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    adm_op_t *op = arg;
    ctest_t *t = op->ext;
    if (t->body.n + n > (t->listing ? MAX_LIST_BYTES : MAX_ANSWER_BYTES))
        return LX_ERROR;
    lx_buf_append(&t->body, p, n);
    return LX_OK;
}

/* ---- step 3: the provider's models ---- */

/* The model list's URL from the chat call's: ".../chat/completions" (OpenAI
 * and compatible) and ".../messages" (Anthropic) become ".../models",
 * ".../models/<model>:generateContent" (Gemini) ".../models"; the query
 * string stays (a key may travel there). False for any other shape. */
static bool list_url(const char *chat, lx_buf_t *out)
{
    size_t plen = strcspn(chat, "?");
    const char *query = chat + plen;
    static const char *const tails[] = {"/chat/completions", "/messages"};
    size_t keep = 0;
    for (size_t i = 0; i < LX_ARRAY_LEN(tails) && keep == 0; i++) {
        size_t k = strlen(tails[i]);
        if (plen > k && memcmp(chat + plen - k, tails[i], k) == 0)
            keep = plen - k;
    }
    if (keep == 0) {
        const char *m = strstr(chat, "/models/");
        if (m == NULL || (size_t)(m - chat) >= plen)
            return false;
        keep = (size_t)(m - chat);
    }
    lx_buf_append(out, chat, keep);
    lx_buf_append_cstr(out, "/models");
    lx_buf_append_cstr(out, query);
    lx_buf_append_char(out, '\0');
    return true;
}

/* The ids of an OpenAI or Anthropic list ({"data":[{"id"}]}) or a Gemini one
 * ({"models":[{"name":"models/<id>"}]}), at most MAX_MODELS; NULL if neither. */
static json_t *parse_list(const char *body, size_t n)
{
    json_t *root = json_loadb(body ? body : "", n, 0, NULL);
    json_t *items = json_object_get(root, "data");
    const char *key = "id";
    if (!json_is_array(items)) {
        items = json_object_get(root, "models");
        key = "name";
    }
    if (!json_is_array(items)) {
        json_decref(root);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *id = json_string_value(json_object_get(it, key));
        if (id == NULL || json_array_size(out) == MAX_MODELS)
            continue;
        if (strncmp(id, "models/", 7) == 0)
            id += 7;
        char shown[SHOWN_CHARS + 1];
        snprintf(shown, sizeof shown, "%s", id);
        cut_utf8(shown, SHOWN_CHARS);
        json_array_append_new(out, json_string(shown));
    }
    json_decref(root);
    return out;
}

/* A call that did not answer 2xx: why (the transport's outcome, or
 * "<what> answered HTTP <status>: <the provider's message>") into out. */
static bool call_failed(const ctest_t *t, const lx_up_result_t *res, const char *what, char *out,
                        size_t cap)
{
    if (res->outcome != LX_UP_OK) {
        snprintf(out, cap, "%s%s%s", lx_up_outcome_name(res->outcome), res->error ? ": " : "",
                 res->error ? res->error : "");
        return true;
    }
    if (res->status >= 200 && res->status < 300)
        return false;
    char m[400] = "";
    if (t->ad->error_message)
        t->ad->error_message(t->body.p ? t->body.p : "", t->body.n, m, sizeof m);
    snprintf(out, cap, "%s answered HTTP %d%s%s", what, res->status, m[0] ? ": " : "", m);
    return true;
}

static void list_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    adm_op_t *op = arg;
    ctest_t *t = op->ext;
    t->call = NULL;
    char why[600] = "";
    json_t *models = NULL;
    if (!call_failed(t, res, "the model list", why, sizeof why) &&
        (models = parse_list(t->body.p, t->body.n)) == NULL)
        snprintf(why, sizeof why, "the model list is not a list of models");
    scrub(why, t->conf.api_key);
    reply_models(op, true, t->status, t->latency_ms, t->answer, NULL, models, why[0] ? why : NULL);
}

/* Starts GET <models>, with the chat call's headers (the credential);
 * LX_ERROR with the reason in why when it cannot. */
static int start_listing(adm_op_t *op, char *why, size_t cap)
{
    ctest_t *t = op->ext;
    json_t *rq = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "model", t->model, "messages", "role",
                           "user", "content", "ping", "max_tokens", 1);
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[300] = "";
    int rc = t->ad->chat_build(&t->conf, rq, false, &b, err, sizeof err);
    json_decref(rq);
    lx_buf_t url;
    lx_buf_init(&url, 0);
    if (rc == LX_OK && !list_url(b.url.p, &url)) {
        snprintf(why, cap, "this provider's model list address is not known");
        rc = LX_ERROR;
    } else if (rc != LX_OK) {
        snprintf(why, cap, "cannot build the model list request");
    }
    if (rc == LX_OK) {
        lx_buf_reset(&t->body);
        t->listing = true;
        lx_up_request_t up_rq = {.method = "GET",
                                 .url = url.p,
                                 .headers = (const char *const *)b.headers,
                                 .nheaders = b.nheaders,
                                 .body = "",
                                 .body_len = 0,
                                 .timeouts = t->conf.timeouts,
                                 .transport = &t->conf.transport};
        static const lx_up_handlers_t handlers = {up_headers, up_data, list_done};
        t->call = lx_up_call_start(op->admin->ai->up, &up_rq, &handlers, op);
        if (t->call == NULL) {
            snprintf(why, cap, "cannot start the model list call");
            rc = LX_ERROR;
        }
    }
    for (int i = 0; i < b.nheaders; i++)
        explicit_bzero(b.headers[i], strlen(b.headers[i]));
    if (b.url.p)
        explicit_bzero(b.url.p, b.url.n);
    if (url.p)
        explicit_bzero(url.p, url.cap);
    lx_buf_free(&url);
    lx_up_build_free(&b);
    return rc;
}

static void up_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    adm_op_t *op = arg;
    ctest_t *t = op->ext;
    t->call = NULL;
    double latency = (double)res->total_us / 1000.0;
    char answer[1024] = "", error[600] = "";
    bool ok = false;
    if (res->outcome == LX_UP_REFUSED) {
        snprintf(error, sizeof error,
                 "upstream address %s of provider %s refused by the network policy (%s)",
                 res->refused_addr, t->conf.name, res->refused_why);
    } else if (!call_failed(t, res, "upstream", error, sizeof error)) {
        lx_tokens_t tok = {0};
        char err[300] = "";
        json_t *cc = t->ad->chat_parse(t->body.p ? t->body.p : "", t->body.n, t->model, &tok, err,
                                       sizeof err);
        if (cc == NULL) {
            snprintf(error, sizeof error, "unexpected answer: %s", err);
        } else {
            ok = true;
            json_t *msg =
                json_object_get(json_array_get(json_object_get(cc, "choices"), 0), "message");
            const char *content = json_string_value(json_object_get(msg, "content"));
            if (content)
                snprintf(answer, sizeof answer, "%s", content);
            json_decref(cc);
        }
    }
    scrub(error, t->conf.api_key);
    scrub(answer, t->conf.api_key);
    cut_utf8(answer, SHOWN_CHARS);
    if (ok) {
        t->status = res->status;
        t->latency_ms = latency;
        snprintf(t->answer, sizeof t->answer, "%s", answer);
        char why[300] = "";
        if (start_listing(op, why, sizeof why) == LX_OK)
            return;
        reply_models(op, true, res->status, latency, answer, NULL, NULL, why);
        return;
    }
    reply_result(op, ok, res->status, latency, ok ? answer : NULL, error[0] ? error : NULL);
}

/* ---- step 1: the connection, its provider and a model ---- */

static int cap_ms(int v, int dflt, int cap)
{
    int x = v > 0 ? v : dflt;
    return x > 0 && x < cap ? x : cap;
}

static void step_loaded(adm_op_t *op, const lx_pg_result_t *res)
{
    if (!lx_pg_ok(res)) {
        adm_db_error(op, res);
        return;
    }
    if (lx_pg_ntuples(res) == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "connection %lld not found", (long long)op->id);
        adm_error(op, 404, LX_E_NOT_FOUND, msg, NULL);
        return;
    }
    const lx_config_t *cfg = op->admin->cfg;
    ctest_t *t = lx_calloc(1, sizeof *t);
    op->ext = t;
    op->on_free = ctest_free;
    op->on_abort = ctest_abort;
    lx_buf_init(&t->body, 0);
    /* columns: credential, provider name, kind, base_url, plain headers, 4 timeouts, model,
     * sealed headers, provider id, settings */
    snprintf(t->model, sizeof t->model, "%s",
             lx_pg_isnull(res, 0, 9) ? "test" : lx_pg_value(res, 0, 9));
    if (lx_provider_kind_parse(lx_pg_value(res, 0, 2), &t->conf.kind) != LX_OK) {
        reply_result(op, false, 0, -1, NULL, "this provider kind cannot be tested");
        return;
    }
    t->ad = lx_adapter_for(t->conf.kind);
    if (t->ad == NULL || t->ad->chat_build == NULL || t->ad->chat_parse == NULL) {
        reply_result(op, false, 0, -1, NULL, "this provider kind has no chat adapter");
        return;
    }
    t->conf.name = lx_strdup(lx_pg_value(res, 0, 1));
    t->conf.base_url = lx_strdup(lx_pg_value(res, 0, 3));
    /* the provider's headers: plain only in a row an older version wrote
     * (sealed at the next start-up), else sealed for the provider's row */
    if (!lx_headers_json_empty(lx_pg_value(res, 0, 4))) {
        lx_headers_add_from_json(&t->conf, lx_pg_value(res, 0, 4));
    } else if (!lx_pg_isnull(res, 0, 10)) {
        if (!cfg->has_master_key) {
            adm_error(op, 503, LX_E_UNAVAILABLE,
                      "opening the stored extra_headers needs LLMUX_MASTER_KEY to be configured",
                      NULL);
            return;
        }
        lx_buf_t sealed, plain;
        lx_buf_init(&sealed, 0);
        lx_buf_init(&plain, 0);
        int rc = lx_bytea_decode(lx_pg_value(res, 0, 10), &sealed);
        if (rc == LX_OK)
            rc = lx_headers_open(cfg, strtoll(lx_pg_value(res, 0, 11), NULL, 10), sealed.p,
                                 sealed.n, &plain);
        lx_buf_free(&sealed);
        if (rc == LX_OK)
            lx_headers_add_from_json(&t->conf, plain.p);
        if (plain.p)
            explicit_bzero(plain.p, plain.cap);
        lx_buf_free(&plain);
        if (rc != LX_OK) {
            reply_result(op, false, 0, -1, NULL,
                         "the stored extra_headers do not open with the configured master key");
            return;
        }
    }
    /* the provider's connection settings (core/transport.h), as the
     * registry reads them: checked on write, a bad one left out */
    char why[200];
    (void)lx_transport_apply_text(&t->conf.transport, lx_pg_value(res, 0, 12), why, sizeof why);
    const lx_timeouts_t *d = &cfg->upstream;
    t->conf.timeouts.connect_ms = cap_ms(atoi(lx_pg_value(res, 0, 5)), d->connect_ms, 10000);
    t->conf.timeouts.first_byte_ms = cap_ms(atoi(lx_pg_value(res, 0, 6)), d->first_byte_ms, 30000);
    t->conf.timeouts.idle_ms = cap_ms(atoi(lx_pg_value(res, 0, 7)), d->idle_ms, 30000);
    t->conf.timeouts.total_ms = cap_ms(atoi(lx_pg_value(res, 0, 8)), d->total_ms, 60000);

    if (!lx_pg_isnull(res, 0, 0)) {
        if (!cfg->has_master_key) {
            adm_error(op, 503, LX_E_UNAVAILABLE,
                      "opening the stored api_key needs LLMUX_MASTER_KEY to be configured", NULL);
            return;
        }
        char aad[64];
        lx_credential_aad(op->id, aad, sizeof aad);
        lx_buf_t sealed, plain;
        lx_buf_init(&sealed, 0);
        lx_buf_init(&plain, 0);
        int rc = lx_bytea_decode(lx_pg_value(res, 0, 0), &sealed);
        if (rc == LX_OK) {
            rc = lx_secret_open(cfg->master_key, aad, sealed.p, sealed.n, &plain, NULL);
            if (rc != LX_OK && cfg->has_master_key_old) /* sealed before a rotation */
                rc = lx_secret_open(cfg->master_key_old, aad, sealed.p, sealed.n, &plain, NULL);
        }
        lx_buf_free(&sealed);
        if (rc != LX_OK) {
            if (plain.p)
                explicit_bzero(plain.p, plain.cap);
            lx_buf_free(&plain);
            reply_result(op, false, 0, -1, NULL,
                         "the stored api_key does not open with the configured master key");
            return;
        }
        t->conf.api_key = plain.p; /* owned by t now, zeroed in ctest_free */
    }

    json_t *rq = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "model", t->model, "messages", "role",
                           "user", "content", "ping", "max_tokens", 1);
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[300] = "";
    int rc = t->ad->chat_build(&t->conf, rq, false, &b, err, sizeof err);
    json_decref(rq);
    if (rc != LX_OK) {
        lx_up_build_free(&b);
        scrub(err, t->conf.api_key);
        reply_result(op, false, 0, -1, NULL, err[0] ? err : "cannot build the test request");
        return;
    }
    lx_up_request_t up_rq = {.method = "POST",
                             .url = b.url.p,
                             .headers = (const char *const *)b.headers,
                             .nheaders = b.nheaders,
                             .body = b.body.p ? b.body.p : "",
                             .body_len = b.body.n,
                             .timeouts = t->conf.timeouts,
                             .transport = &t->conf.transport};
    static const lx_up_handlers_t handlers = {up_headers, up_data, up_done};
    t->call = lx_up_call_start(op->admin->ai->up, &up_rq, &handlers, op);
    /* the build held the key in its headers: zero them before freeing */
    for (int i = 0; i < b.nheaders; i++)
        explicit_bzero(b.headers[i], strlen(b.headers[i]));
    if (b.url.p)
        explicit_bzero(b.url.p, b.url.n);
    lx_up_build_free(&b);
    if (t->call == NULL)
        reply_result(op, false, 0, -1, NULL, "cannot start the upstream call");
}

int adm_connection_test(lx_admin_t *a, lx_req_t *req, int64_t id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[] = {ids};
    adm_op_t *op = adm_op_new(a, req, &adm_connections);
    op->id = id;
    return adm_submit(
        op,
        "SELECT c.credential, p.name, p.kind, p.base_url, p.extra_headers::text, "
        "coalesce(p.connect_timeout_ms, 0), coalesce(p.first_byte_timeout_ms, 0), "
        "coalesce(p.idle_timeout_ms, 0), coalesce(p.total_timeout_ms, 0), "
        "(SELECT m.upstream_name FROM ai_models m WHERE m.provider_id = p.id ORDER BY "
        "(m.status = 'active') DESC, ('chat' = ANY (m.capabilities)) DESC, m.id LIMIT 1), "
        "p.extra_headers_sealed, p.id, p.settings::text "
        "FROM ai_connections c JOIN ai_providers p ON p.id = c.provider_id WHERE c.id = $1::bigint",
        1, params, step_loaded);
}
