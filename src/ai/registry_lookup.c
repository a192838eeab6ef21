/* registry_lookup.c - what a request asks a snapshot: a provider, a model,
 * a group or an API key by name or hash. Read-only, any thread, no lock, no
 * allocation: one hash (or a binary search for keys) per lookup. */
#include "ai/registry.h"
#include "ai/registry_build.h"

#include <stdlib.h>

const lx_provider_t *lx_snapshot_provider(const lx_snapshot_t *s, lx_str_t name)
{
    int32_t i = lx_strmap_get(&s->provider_by_name, name);
    return i < 0 ? NULL : &s->providers[i];
}

const lx_model_t *lx_snapshot_model(const lx_snapshot_t *s, const lx_provider_t *p, lx_str_t name)
{
    char key[512];
    size_t pn = strlen(p->conf.name), n = pn + 1 + name.n;
    if (n >= sizeof key)
        return NULL;
    memcpy(key, p->conf.name, pn);
    key[pn] = '/';
    memcpy(key + pn + 1, name.p, name.n);
    int32_t i = lx_strmap_get(&s->model_by_full, (lx_str_t){key, n});
    if (i < 0)
        i = lx_strmap_get(&s->model_by_upstream, (lx_str_t){key, n});
    return i < 0 ? NULL : &s->models[i];
}

const lx_model_t *lx_snapshot_public_model(const lx_snapshot_t *s, lx_str_t public_name)
{
    int32_t i = lx_strmap_get(&s->model_by_public, public_name);
    return i < 0 ? NULL : &s->models[i];
}

const lx_group_entry_t *lx_snapshot_group(const lx_snapshot_t *s, lx_str_t name)
{
    int32_t i = lx_strmap_get(&s->group_by_name, name);
    return i < 0 ? NULL : &s->groups[i];
}

const lx_apikey_t *lx_snapshot_key(const lx_snapshot_t *s, const unsigned char hash[32])
{
    if (s->nkeys == 0)
        return NULL;
    lx_apikey_t probe;
    memcpy(probe.hash, hash, 32);
    return bsearch(&probe, s->keys, (size_t)s->nkeys, sizeof *s->keys, lx_apikey_cmp);
}

bool lx_apikey_allows(const lx_apikey_t *k, lx_str_t model)
{
    if (k->allowed == NULL)
        return true;
    for (int i = 0; i < k->nallowed; i++) {
        const char *a = k->allowed[i];
        size_t n = strlen(a);
        if (lx_str_eq_cstr(model, a))
            return true;
        /* an entry "provider/" + "*" allows every model of that provider */
        if (n >= 2 && a[n - 1] == '*' && a[n - 2] == '/' && model.n >= n - 1 &&
            memcmp(model.p, a, n - 1) == 0)
            return true;
    }
    return false;
}