/* adapter.h - media job adapters: a provider's job API as two pure
 * functions, build (an operation -> the HTTP request) and parse (the HTTP
 * answer -> the normalized result).
 *
 * The built-in adapters (OpenAI videos, Runway, OpenAI images) are static
 * data, read-only for the process's life; a generic adapter owns its
 * configuration (generic.h) and lives until lx_media_generic_free. Neither
 * build nor parse keeps anything from the call: the request and result they
 * fill belong to the caller (job.h).
 *
 * The rule against submitting twice: a submit whose answer is state NONE
 * and not permanent (no answer, 5xx, 429) may have created the job.
 * Resubmit only when the adapter's idempotent_submit is true (the provider
 * takes an idempotency key and the same key is passed again); otherwise
 * reconcile or fail the task with "submission_uncertain". */
#ifndef LX_MEDIA_ADAPTER_H
#define LX_MEDIA_ADAPTER_H

#include "media/job.h"

typedef struct lx_media_adapter lx_media_adapter_t;

struct lx_media_adapter {
    const char *name;       /* "openai-videos", "runway", "openai-images", "generic" */
    unsigned ops;           /* the operations it can build: bit (1u << lx_job_op_t) */
    bool idempotent_submit; /* the provider dedupes a resubmission with the same key */
    /* Builds op's request into out. LX_ERROR (out empty) with a reason in
     * err when the context lacks what op needs, op is not supported or the
     * input cannot be sent to this provider. */
    int (*build)(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_ctx_t *ctx,
                 lx_job_req_t *out, char *err, size_t errlen);
    /* Reads op's answer into out (initialized by the caller). For CONTENT
     * only an error answer is read (the body itself is streamed). */
    void (*parse)(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_answer_t *ans,
                  lx_job_result_t *out);
    const void *conf; /* the adapter's own settings (generic), NULL for the built-ins */
};

static inline bool lx_media_adapter_can(const lx_media_adapter_t *a, lx_job_op_t op)
{
    return (a->ops & (1u << op)) != 0;
}

extern const lx_media_adapter_t lx_media_openai_videos;
extern const lx_media_adapter_t lx_media_runway;
extern const lx_media_adapter_t lx_media_openai_images;

/* The built-in adapter named name, or NULL. */
const lx_media_adapter_t *lx_media_adapter_find(const char *name);

#endif
