/* template.c - path and body templates of the generic job adapter. */
#include "media/template.h"

#include "media/job.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const body_names[] = {"model", "prompt",  "seconds", "size",           "image",
                                         "n",     "quality", "style",   "idempotency_key"};

/* The placeholder at p ("{name}...") -> its name's length, or 0 when p does
 * not open a well-formed placeholder. */
static size_t placeholder(const char *p, const char **name)
{
    if (p[0] != '{')
        return 0;
    const char *end = strchr(p + 1, '}');
    if (end == NULL || end == p + 1 || end - p > 32)
        return 0;
    *name = p + 1;
    return (size_t)(end - p - 1);
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(name, want, n) == 0;
}

const char *lx_tpl_path_problem(const char *tpl, unsigned allowed)
{
    if (tpl == NULL || tpl[0] != '/')
        return "must start with '/'";
    if (strlen(tpl) > 512)
        return "is longer than 512 characters";
    if (strstr(tpl, "..") != NULL)
        return "must not hold \"..\"";
    for (const char *p = tpl; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || c == '#' || c == '\\')
            return "must not hold blanks, control characters, '#' or '\\'";
        if (c == '}')
            return "has a '}' without its '{'";
        if (c != '{')
            continue;
        const char *name;
        size_t n = placeholder(p, &name);
        if (n == 0)
            return "has a '{' that opens no {placeholder}";
        if (name_is(name, n, "id")) {
            if (!(allowed & LX_TPL_ID))
                return "may not hold {id} (there is no job id yet)";
        } else if (name_is(name, n, "model")) {
            if (!(allowed & LX_TPL_MODEL))
                return "may not hold {model}";
        } else {
            return (allowed & LX_TPL_ID) ? "may hold only the placeholders {id} and {model}"
                                         : "may hold only the placeholder {model}";
        }
        p += n + 1;
    }
    return NULL;
}

int lx_tpl_path_fill(lx_buf_t *b, const char *tpl, const char *id, const json_t *input)
{
    for (const char *p = tpl; *p; p++) {
        const char *name;
        size_t n = *p == '{' ? placeholder(p, &name) : 0;
        if (n == 0) {
            lx_buf_append_char(b, *p);
            continue;
        }
        const char *v =
            name_is(name, n, "id") ? id : json_string_value(json_object_get(input, "model"));
        if (v == NULL || lx_job_path_segment(b, v, strlen(v)) != LX_OK)
            return LX_ERROR;
        p += n + 1;
    }
    return LX_OK;
}

static bool known_body_name(const char *name, size_t n)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(body_names); i++)
        if (name_is(name, n, body_names[i]))
            return true;
    return false;
}

/* Walks one template string: NULL when fine, else writes why. */
static const char *string_problem(const char *s, char *why, size_t whylen)
{
    for (const char *p = s; *p; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p++;
            continue;
        }
        if (*p == '}') {
            snprintf(why, whylen, "\"%.40s\" has a '}' without its '{' (write \"}}\")", s);
            return why;
        }
        if (*p != '{')
            continue;
        const char *name;
        size_t n = placeholder(p, &name);
        if (n == 0 || !known_body_name(name, n)) {
            snprintf(why, whylen,
                     "\"%.40s\" has an unknown placeholder (known: {model} {prompt} {seconds} "
                     "{size} {image} {n} {quality} {style} {idempotency_key}; \"{{\" for a brace)",
                     s);
            return why;
        }
        p += n + 1;
    }
    return NULL;
}

static const char *body_problem(const json_t *v, int depth, char *why, size_t whylen)
{
    if (depth > 16) {
        snprintf(why, whylen, "is nested deeper than 16 levels");
        return why;
    }
    const char *key;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return string_problem(json_string_value(v), why, whylen);
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, key, x)
        {
            if (body_problem(x, depth + 1, why, whylen))
                return why;
        }
        return NULL;
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
        {
            if (body_problem(x, depth + 1, why, whylen))
                return why;
        }
        return NULL;
    default:
        return NULL;
    }
}

const char *lx_tpl_body_problem(const json_t *body, char *why, size_t whylen)
{
    if (!json_is_object(body)) {
        snprintf(why, whylen, "must be a JSON object");
        return why;
    }
    return body_problem(body, 0, why, whylen);
}

/* The value of placeholder name (borrowed), or NULL. */
static json_t *value_of(const char *name, size_t n, const json_t *input, json_t *idem)
{
    if (name_is(name, n, "idempotency_key"))
        return idem;
    char key[32];
    lx_copy(key, sizeof key, name, n);
    json_t *v = json_object_get(input, key);
    return json_is_null(v) ? NULL : v;
}

/* NULL when s is exactly one placeholder whose value is missing. */
static json_t *fill_string(const char *s, const json_t *input, json_t *idem)
{
    const char *name;
    size_t n = placeholder(s, &name);
    if (n > 0 && s[n + 2] == '\0') { /* exactly one placeholder: keep its type */
        json_t *v = value_of(name, n, input, idem);
        return v ? json_deep_copy(v) : NULL;
    }
    lx_buf_t b;
    lx_buf_init(&b, strlen(s) + 16);
    for (const char *p = s; *p; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            lx_buf_append_char(&b, *p++);
            continue;
        }
        n = *p == '{' ? placeholder(p, &name) : 0;
        if (n == 0) {
            lx_buf_append_char(&b, *p);
            continue;
        }
        json_t *v = value_of(name, n, input, idem);
        if (json_is_string(v)) {
            lx_buf_append(&b, json_string_value(v), json_string_length(v));
        } else if (json_is_integer(v)) {
            char num[24];
            lx_buf_append(&b, num, lx_i64_str(num, json_integer_value(v)));
        }
        p += n + 1;
    }
    json_t *out = json_stringn(b.p, b.n);
    lx_buf_free(&b);
    return out;
}

static json_t *fill(const json_t *v, const json_t *input, json_t *idem)
{
    const char *key;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return fill_string(json_string_value(v), input, idem);
    case JSON_OBJECT: {
        json_t *o = json_object();
        json_object_foreach((json_t *)v, key, x)
        {
            json_t *y = fill(x, input, idem);
            if (y)
                json_object_set_new(o, key, y);
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        json_array_foreach(v, i, x)
        {
            json_t *y = fill(x, input, idem);
            if (y)
                json_array_append_new(a, y);
        }
        return a;
    }
    default:
        return json_deep_copy(v);
    }
}

json_t *lx_tpl_body_fill(const json_t *body, const json_t *input, const char *idempotency_key)
{
    json_t *idem = idempotency_key ? json_string(idempotency_key) : NULL;
    json_t *out = fill(body, input, idem);
    json_decref(idem);
    return out;
}
