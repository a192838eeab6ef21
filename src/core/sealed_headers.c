/* sealed_headers.c - sealing a provider's extra_headers with the master key. */
#include "core/sealed_headers.h"
#include "core/secret.h"

#include <jansson.h>
#include <stdio.h>

void lx_headers_aad(int64_t provider_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "ai_providers.extra_headers:%lld", (long long)provider_id);
}

int lx_headers_seal_hex(const unsigned char key[32], int64_t provider_id, const char *json,
                        lx_buf_t *hex)
{
    char aad[64];
    lx_headers_aad(provider_id, aad, sizeof aad);
    lx_buf_t sealed;
    lx_buf_init(&sealed, 0);
    int rc = lx_secret_seal(key, LX_HEADERS_KEY_VERSION, aad, json, strlen(json), &sealed);
    if (rc == LX_OK)
        lx_bytea_encode(sealed.p, sealed.n, hex);
    lx_buf_free(&sealed);
    return rc;
}

int lx_headers_open(const lx_config_t *cfg, int64_t provider_id, const void *blob, size_t n,
                    lx_buf_t *out)
{
    char aad[64];
    lx_headers_aad(provider_id, aad, sizeof aad);
    size_t start = out->n;
    if (cfg->has_master_key && lx_secret_open(cfg->master_key, aad, blob, n, out, NULL) == LX_OK)
        return LX_OK;
    out->n = start;
    if (cfg->has_master_key_old &&
        lx_secret_open(cfg->master_key_old, aad, blob, n, out, NULL) == LX_OK)
        return LX_OK;
    out->n = start;
    return LX_ERROR;
}

bool lx_headers_json_empty(const char *text)
{
    return text == NULL || text[0] == '\0' || strcmp(text, "{}") == 0;
}

void lx_headers_add_from_json(lx_provider_conf_t *conf, const char *text)
{
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (conf->nheaders == LX_MAX_EXTRA_HEADERS || !json_is_string(v))
            continue;
        conf->header_names[conf->nheaders] = lx_strdup(k);
        conf->header_values[conf->nheaders++] = lx_strdup(json_string_value(v));
    }
    json_decref(o);
}
