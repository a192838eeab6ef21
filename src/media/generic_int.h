/* generic_int.h - the generic adapter's validated settings, private to
 * generic_conf.c (which builds and frees them) and generic.c (which reads
 * them). The lx_generic_t owns every string and JSON value in it. */
#ifndef LX_MEDIA_GENERIC_INT_H
#define LX_MEDIA_GENERIC_INT_H

#include "media/generic.h"

#define LX_GENERIC_MAX_STATES  64
#define LX_GENERIC_MAX_OUTPUTS 8

typedef struct {
    const char *method; /* static; NULL: the operation is not configured */
    char *path;
} lx_generic_call_t;

typedef struct {
    lx_media_adapter_t adapter; /* first: conf points back at the whole */
    lx_generic_call_t call[LX_JOB_OP__COUNT];
    json_t *body; /* NULL: the input passes through */
    char *job_id_path, *status_path, *progress_path, *error_path, *error_code_path;
    double progress_scale;
    struct {
        char *name;
        lx_job_state_t state;
    } states[LX_GENERIC_MAX_STATES];
    int n_states;
    char *outputs[LX_GENERIC_MAX_OUTPUTS];
    int n_outputs;
    char *auth_header, *auth_prefix, *idempotency_header;
} lx_generic_t;

/* generic.c: the adapter's build and parse. */
int lx_generic_build(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_ctx_t *ctx,
                     lx_job_req_t *out, char *err, size_t errlen);
void lx_generic_parse(const lx_media_adapter_t *a, lx_job_op_t op, const lx_job_answer_t *ans,
                      lx_job_result_t *out);

#endif
