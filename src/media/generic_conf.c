/* generic_conf.c - the generic adapter's settings: checked, with a message
 * naming the setting, and copied into an lx_generic_t. */
#include "media/generic_int.h"
#include "media/jpath.h"
#include "media/template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const top_keys[] = {
    "submit",         "poll",
    "cancel",         "content",
    "job_id_path",    "status_path",
    "states",         "progress_path",
    "progress_scale", "output_paths",
    "error_path",     "error_code_path",
    "auth",           "idempotency_header",
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return LX_ERROR;
}

/* A header name: an HTTP token of 1..63 bytes. */
static bool header_token(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return false;
    }
    return true;
}

static const char *method_of(const char *s, const char *const *allowed)
{
    for (; s && *allowed; allowed++)
        if (strcmp(s, *allowed) == 0)
            return *allowed;
    return NULL;
}

static int take_call(lx_generic_t *g, const json_t *conf, lx_job_op_t op, const char *key,
                     const char *const *methods, unsigned placeholders, char *err, size_t errlen)
{
    json_t *c = json_object_get(conf, key);
    if (c == NULL)
        return LX_OK;
    if (!json_is_object(c))
        return fail(err, errlen, "%s: must be an object {\"method\", \"path\"}", key);
    const char *k;
    json_t *x;
    json_object_foreach(c, k, x)
    {
        if (strcmp(k, "method") != 0 && strcmp(k, "path") != 0 &&
            !(op == LX_JOB_OP_SUBMIT && strcmp(k, "body") == 0))
            return fail(err, errlen, "%s.%s: unknown setting", key, k);
    }
    json_t *m = json_object_get(c, "method");
    const char *method = methods[0];
    if (m != NULL) {
        method = method_of(json_string_value(m), methods);
        if (method == NULL) {
            char list[64] = "";
            for (const char *const *p = methods; *p; p++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         p == methods ? "" : ", ", *p);
            return fail(err, errlen, "%s.method: must be one of %s", key, list);
        }
    }
    const char *path = json_string_value(json_object_get(c, "path"));
    if (path == NULL)
        return fail(err, errlen, "%s.path: required (a string such as \"/jobs%s\")", key,
                    op == LX_JOB_OP_SUBMIT ? "" : "/{id}");
    const char *why = lx_tpl_path_problem(path, placeholders);
    if (why)
        return fail(err, errlen, "%s.path: %s", key, why);
    if (op != LX_JOB_OP_SUBMIT && strstr(path, "{id}") == NULL)
        return fail(err, errlen, "%s.path: must hold {id}", key);
    if (op == LX_JOB_OP_SUBMIT) {
        json_t *body = json_object_get(c, "body");
        char bwhy[200];
        if (body && lx_tpl_body_problem(body, bwhy, sizeof bwhy))
            return fail(err, errlen, "submit.body: %s", bwhy);
        if (g && body)
            g->body = json_deep_copy(body);
    }
    if (g) {
        g->call[op].method = method;
        g->call[op].path = lx_strdup(path);
        g->adapter.ops |= 1u << op;
    }
    return LX_OK;
}

static int take_path(char **dst, const json_t *conf, const char *key, bool required, char *err,
                     size_t errlen)
{
    json_t *v = json_object_get(conf, key);
    if (v == NULL) {
        if (required)
            return fail(err, errlen, "%s: required (a JSON field path such as \"data.id\")", key);
        return LX_OK;
    }
    const char *why = json_is_string(v)
                          ? lx_jpath_problem(json_string_value(v))
                          : "must be a string (a JSON field path such as \"data.id\")";
    if (why)
        return fail(err, errlen, "%s: %s", key, why);
    if (dst)
        *dst = lx_strdup(json_string_value(v));
    return LX_OK;
}

static int take_states(lx_generic_t *g, const json_t *conf, char *err, size_t errlen)
{
    json_t *s = json_object_get(conf, "states");
    if (!json_is_object(s) || json_object_size(s) == 0)
        return fail(err, errlen,
                    "states: required, an object mapping each provider status to queued, "
                    "running, succeeded, failed or cancelled");
    if (json_object_size(s) > LX_GENERIC_MAX_STATES)
        return fail(err, errlen, "states: more than %d entries", LX_GENERIC_MAX_STATES);
    bool ok = false, bad = false;
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
    {
        if (*k == '\0' || strlen(k) > 64)
            return fail(err, errlen, "states: a provider status must be 1..64 characters");
        lx_job_state_t st = lx_job_state_parse(json_string_value(v));
        if (st == LX_JOB_NONE)
            return fail(err, errlen,
                        "states.%.64s: unknown state (use queued, running, succeeded, failed "
                        "or cancelled)",
                        k);
        ok |= st == LX_JOB_SUCCEEDED;
        bad |= st == LX_JOB_FAILED;
        if (g) {
            g->states[g->n_states].name = lx_strdup(k);
            g->states[g->n_states].state = st;
            g->n_states++;
        }
    }
    if (!ok || !bad)
        return fail(err, errlen, "states: must map at least one status to %s",
                    ok ? "failed" : "succeeded");
    return LX_OK;
}

static int take_outputs(lx_generic_t *g, const json_t *conf, char *err, size_t errlen)
{
    json_t *o = json_object_get(conf, "output_paths");
    if (o == NULL) {
        if (json_object_get(conf, "content") == NULL)
            return fail(err, errlen,
                        "output_paths: required unless content is set (where a finished job's "
                        "URLs are, such as [\"data.video_url\"])");
        return LX_OK;
    }
    json_t *list = json_is_string(o) ? json_pack("[O]", o) : json_incref(o);
    int rc = LX_OK;
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > LX_GENERIC_MAX_OUTPUTS) {
        rc = fail(err, errlen, "output_paths: must be a list of 1..%d JSON field paths",
                  LX_GENERIC_MAX_OUTPUTS);
    }
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (rc != LX_OK)
            break;
        const char *why =
            json_is_string(p) ? lx_jpath_problem(json_string_value(p)) : "must be a string";
        if (why)
            rc = fail(err, errlen, "output_paths[%zu]: %s", i, why);
        else if (g)
            g->outputs[g->n_outputs++] = lx_strdup(json_string_value(p));
    }
    json_decref(list);
    return rc;
}

static int take_auth(lx_generic_t *g, const json_t *conf, char *err, size_t errlen)
{
    json_t *a = json_object_get(conf, "auth");
    const char *header = "Authorization", *prefix = "Bearer ";
    if (a != NULL) {
        if (!json_is_object(a))
            return fail(err, errlen, "auth: must be an object {\"header\", \"prefix\"}");
        const char *k;
        json_t *x;
        json_object_foreach(a, k, x)
        {
            if (strcmp(k, "header") != 0 && strcmp(k, "prefix") != 0)
                return fail(err, errlen, "auth.%s: unknown setting", k);
        }
        json_t *h = json_object_get(a, "header"), *p = json_object_get(a, "prefix");
        if (h && !header_token(json_string_value(h)))
            return fail(err, errlen, "auth.header: must be a header name");
        if (p && (!json_is_string(p) || json_string_length(p) > 32 ||
                  strpbrk(json_string_value(p), "\r\n") != NULL))
            return fail(err, errlen, "auth.prefix: must be a string of up to 32 characters");
        if (h)
            header = json_string_value(h);
        prefix = p ? json_string_value(p) : (h ? "" : prefix);
    }
    json_t *idem = json_object_get(conf, "idempotency_header");
    if (idem && !header_token(json_string_value(idem)))
        return fail(err, errlen, "idempotency_header: must be a header name");
    if (g) {
        g->auth_header = lx_strdup(header);
        g->auth_prefix = lx_strdup(prefix);
        g->idempotency_header = idem ? lx_strdup(json_string_value(idem)) : NULL;
        g->adapter.idempotent_submit = idem != NULL;
    }
    return LX_OK;
}

/* Checks conf, filling g when it is not NULL. */
static int take(lx_generic_t *g, const json_t *conf, char *err, size_t errlen)
{
    if (!json_is_object(conf))
        return fail(err, errlen, "the generic adapter's settings must be a JSON object");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)conf, k, x)
    {
        bool known = false;
        for (size_t i = 0; i < LX_ARRAY_LEN(top_keys) && !known; i++)
            known = strcmp(k, top_keys[i]) == 0;
        if (!known)
            return fail(err, errlen, "%.64s: unknown setting", k);
    }
    static const char *const submit_m[] = {"POST", "PUT", NULL};
    static const char *const poll_m[] = {"GET", "POST", NULL};
    static const char *const cancel_m[] = {"DELETE", "POST", "PUT", "GET", NULL};
    static const char *const content_m[] = {"GET", NULL};
    if (json_object_get(conf, "submit") == NULL)
        return fail(err, errlen, "submit: required ({\"method\": \"POST\", \"path\": \"/jobs\"})");
    if (json_object_get(conf, "poll") == NULL)
        return fail(err, errlen, "poll: required ({\"path\": \"/jobs/{id}\"})");
    if (take_call(g, conf, LX_JOB_OP_SUBMIT, "submit", submit_m, LX_TPL_MODEL, err, errlen) ||
        take_call(g, conf, LX_JOB_OP_POLL, "poll", poll_m, LX_TPL_ID | LX_TPL_MODEL, err, errlen) ||
        take_call(g, conf, LX_JOB_OP_CANCEL, "cancel", cancel_m, LX_TPL_ID | LX_TPL_MODEL, err,
                  errlen) ||
        take_call(g, conf, LX_JOB_OP_CONTENT, "content", content_m, LX_TPL_ID | LX_TPL_MODEL, err,
                  errlen))
        return LX_ERROR;
    if (take_path(g ? &g->job_id_path : NULL, conf, "job_id_path", true, err, errlen) ||
        take_path(g ? &g->status_path : NULL, conf, "status_path", true, err, errlen) ||
        take_path(g ? &g->progress_path : NULL, conf, "progress_path", false, err, errlen) ||
        take_path(g ? &g->error_path : NULL, conf, "error_path", false, err, errlen) ||
        take_path(g ? &g->error_code_path : NULL, conf, "error_code_path", false, err, errlen))
        return LX_ERROR;
    json_t *scale = json_object_get(conf, "progress_scale");
    double sc = 100;
    if (scale != NULL) {
        sc = json_is_number(scale) ? json_number_value(scale) : 0;
        if (sc != 1 && sc != 100)
            return fail(err, errlen, "progress_scale: must be 1 (progress 0-1) or 100 (0-100)");
        if (json_object_get(conf, "progress_path") == NULL)
            return fail(err, errlen, "progress_scale: set without progress_path");
    }
    if (g)
        g->progress_scale = sc;
    if (take_states(g, conf, err, errlen) || take_outputs(g, conf, err, errlen) ||
        take_auth(g, conf, err, errlen))
        return LX_ERROR;
    return LX_OK;
}

int lx_media_generic_validate(const json_t *conf, char *err, size_t errlen)
{
    return take(NULL, conf, err, errlen);
}

lx_media_adapter_t *lx_media_generic_new(const json_t *conf, char *err, size_t errlen)
{
    if (take(NULL, conf, err, errlen) != LX_OK)
        return NULL;
    lx_generic_t *g = lx_calloc(1, sizeof *g);
    g->adapter.name = "generic";
    g->adapter.build = lx_generic_build;
    g->adapter.parse = lx_generic_parse;
    g->adapter.conf = g;
    if (take(g, conf, err, errlen) != LX_OK) { /* cannot fail after the check */
        lx_media_generic_free(&g->adapter);
        return NULL;
    }
    return &g->adapter;
}

void lx_media_generic_free(lx_media_adapter_t *a)
{
    if (a == NULL)
        return;
    lx_generic_t *g = (lx_generic_t *)a->conf;
    for (int i = 0; i < LX_JOB_OP__COUNT; i++)
        free(g->call[i].path);
    json_decref(g->body);
    free(g->job_id_path);
    free(g->status_path);
    free(g->progress_path);
    free(g->error_path);
    free(g->error_code_path);
    for (int i = 0; i < g->n_states; i++)
        free(g->states[i].name);
    for (int i = 0; i < g->n_outputs; i++)
        free(g->outputs[i]);
    free(g->auth_header);
    free(g->auth_prefix);
    free(g->idempotency_header);
    free(g);
}
