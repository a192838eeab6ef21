/* media_resolve.c - where a media task goes (media/exec.h's resolver),
 * read from the registry snapshot: media may not include src/ai, so the
 * app lends it this. Any thread; takes and drops one snapshot reference;
 * everything returned is copied.
 *
 * The model is "provider/model" (the provider's public or upstream name;
 * a name the catalog lacks is sent as it is) or a public model name. The
 * credential is the one the task was pooled under, else the provider's
 * active credential with the lowest priority value. The adapter: the
 * provider's settings.jobs (media/jobs_conf.h: openai_videos, runway or a
 * generic one made for this target), else OpenAI's videos API (its images
 * API for images) for an openai or openai_compatible provider. The unit
 * price is the model's unit_cost_usd (0 for a name the catalog lacks). */
#include "app/app.h"
#include "ai/registry.h"
#include "media/exec.h"
#include "media/jobs_conf.h"

#include <stdio.h>
#include <stdlib.h>

static const lx_credential_t *pick_cred(const lx_provider_t *p, const char *want)
{
    const lx_credential_t *best = NULL;
    for (int i = 0; i < p->ncreds; i++) {
        const lx_credential_t *c = &p->creds[i];
        char id[64];
        snprintf(id, sizeof id, "cred:%lld", (long long)c->id);
        if (want && strcmp(want, id) == 0)
            return c;
        if (c->active && (best == NULL || c->priority < best->priority))
            best = c;
    }
    return best;
}

int lx_app_media_resolve(const char *model, lx_media_kind_t kind, const char *credential_id,
                         lx_media_target_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (model == NULL || *model == '\0') {
        snprintf(err, errlen, "model is required");
        return LX_ERROR;
    }
    lx_snapshot_t *s = lx_registry_acquire();
    if (s == NULL) {
        snprintf(err, errlen, "the configuration is not loaded yet");
        return LX_ERROR;
    }
    const lx_provider_t *p = NULL;
    const lx_model_t *m = NULL;
    const char *upstream = NULL;
    const char *slash = strchr(model, '/');
    if (slash) {
        p = lx_snapshot_provider(s, (lx_str_t){model, (size_t)(slash - model)});
        if (p) {
            m = lx_snapshot_model(s, p, lx_str(slash + 1));
            upstream = m ? m->upstream_name : slash + 1;
        }
    }
    if (p == NULL) {
        m = lx_snapshot_public_model(s, lx_str(model));
        if (m) {
            p = m->provider;
            upstream = m->upstream_name;
        }
    }
    int rc = LX_ERROR;
    json_t *jobs = NULL;
    if (p == NULL || !p->active) {
        snprintf(err, errlen, "the model '%.100s' does not exist or is not served", model);
        goto out;
    }
    if (p->jobs) {
        jobs = json_loads(p->jobs, 0, NULL);
        if (jobs && json_is_null(jobs)) {
            json_decref(jobs);
            jobs = NULL;
        }
    }
    if (jobs == NULL && p->conf.kind != LX_PROVIDER_OPENAI &&
        p->conf.kind != LX_PROVIDER_OPENAI_COMPAT) {
        snprintf(err, errlen, "the provider of '%.100s' has no %s API", model,
                 kind == LX_MEDIA_VIDEO ? "video" : "image");
        goto out;
    }
    if (lx_media_jobs_pick(jobs, kind == LX_MEDIA_VIDEO, &out->adapter, &out->owned_adapter, err,
                           errlen) != LX_OK)
        goto out;
    const lx_credential_t *c = pick_cred(p, credential_id);
    snprintf(out->provider, sizeof out->provider, "%s", p->conf.name);
    if (c)
        snprintf(out->credential_id, sizeof out->credential_id, "cred:%lld", (long long)c->id);
    else
        snprintf(out->credential_id, sizeof out->credential_id, "provider:%s", p->conf.name);
    const char *key = c && c->api_key ? c->api_key : p->conf.api_key;
    out->key = key ? strdup(key) : NULL;
    out->base_url = strdup(p->conf.base_url);
    out->upstream_model = strdup(upstream);
    out->public_model = strdup(model);
    out->unit_price = m ? m->unit_cost : 0;
    out->timeouts = p->conf.timeouts;
    lx_transport_copy(&out->transport, &p->conf.transport);
    rc = LX_OK;
out:
    json_decref(jobs);
    lx_registry_release(s);
    return rc;
}
