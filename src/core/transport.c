/* transport.c - a provider's connection settings: checked with messages
 * that name the setting, and written back as JSON. */
#include "core/transport.h"
#include "core/common.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"http2",           "http1_connections",          "http1_streams",
                                   "max_connections", "max_streams_per_connection", "ca_file"};

/* The integer settings: each from 1 to max. */
static const struct {
    const char *key;
    size_t off;
    int max;
} int_keys[] = {
    {"http1_connections", offsetof(lx_transport_t, http1_connections), LX_TRANSPORT_CONNS_MAX},
    {"http1_streams", offsetof(lx_transport_t, http1_streams), LX_TRANSPORT_CONNS_MAX},
    {"max_connections", offsetof(lx_transport_t, max_connections), LX_TRANSPORT_CONNS_MAX},
    {"max_streams_per_connection", offsetof(lx_transport_t, max_streams), LX_TRANSPORT_STREAMS_MAX},
};

bool lx_transport_is_key(const char *key)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(keys); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

static int int_in(const json_t *v, long lo, long hi, int *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return LX_ERROR;
    *out = (int)json_integer_value(v);
    return LX_OK;
}

int lx_transport_set(lx_transport_t *t, const char *key, const json_t *v, char *err, size_t errlen)
{
    if (strcmp(key, "http2") == 0) {
        if (json_is_boolean(v))
            t->http2 = json_is_true(v) ? LX_HTTP2_ON : LX_HTTP2_OFF;
        else if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)
            t->http2 = LX_HTTP2_AUTO;
        else {
            snprintf(err, errlen, "http2: expected \"auto\", true or false");
            return LX_ERROR;
        }
        return LX_OK;
    }
    for (size_t i = 0; i < LX_ARRAY_LEN(int_keys); i++) {
        if (strcmp(key, int_keys[i].key) != 0)
            continue;
        int *field = (int *)((char *)t + int_keys[i].off);
        if (int_in(v, 1, int_keys[i].max, field) != LX_OK) {
            snprintf(err, errlen, "%s: expected an integer from 1 to %d", key, int_keys[i].max);
            return LX_ERROR;
        }
        return LX_OK;
    }
    if (strcmp(key, "ca_file") == 0) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        if (s == NULL || s[0] != '/' || n > LX_TRANSPORT_CA_FILE_MAX ||
            n != json_string_length(v)) {
            snprintf(err, errlen, "ca_file: expected an absolute file path of at most %d bytes",
                     LX_TRANSPORT_CA_FILE_MAX);
            return LX_ERROR;
        }
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
                snprintf(err, errlen, "ca_file: must not contain control characters");
                return LX_ERROR;
            }
        free(t->ca_file);
        t->ca_file = lx_strdup(s);
        return LX_OK;
    }
    snprintf(err, errlen, "%.64s: unknown setting", key);
    return LX_ERROR;
}

int lx_transport_apply(lx_transport_t *t, const json_t *obj, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (lx_transport_is_key(k) && lx_transport_set(t, k, v, err, errlen) != LX_OK)
            return LX_ERROR;
    }
    return LX_OK;
}

int lx_transport_apply_text(lx_transport_t *t, const char *json, char *err, size_t errlen)
{
    json_t *obj = json ? json_loads(json, 0, NULL) : NULL;
    int rc = json_is_object(obj) ? lx_transport_apply(t, obj, err, errlen) : LX_OK;
    json_decref(obj);
    return rc;
}

json_t *lx_transport_to_json(const lx_transport_t *t)
{
    json_t *o = json_object();
    if (t->http2 != LX_HTTP2_AUTO)
        json_object_set_new(o, "http2", json_boolean(t->http2 == LX_HTTP2_ON));
    for (size_t i = 0; i < LX_ARRAY_LEN(int_keys); i++) {
        int v = *(const int *)((const char *)t + int_keys[i].off);
        if (v > 0)
            json_object_set_new(o, int_keys[i].key, json_integer(v));
    }
    if (t->ca_file)
        json_object_set_new(o, "ca_file", json_string(t->ca_file));
    return o;
}

void lx_transport_copy(lx_transport_t *dst, const lx_transport_t *src)
{
    *dst = *src;
    dst->ca_file = src->ca_file ? lx_strdup(src->ca_file) : NULL;
}

void lx_transport_free(lx_transport_t *t)
{
    free(t->ca_file);
    t->ca_file = NULL;
}
