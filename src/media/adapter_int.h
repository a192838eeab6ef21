/* adapter_int.h - helpers private to src/media's adapters (openai_videos.c,
 * runway.c, openai_images.c, generic.c). Owns nothing: every pointer
 * returned is borrowed from the caller's JSON. */
#ifndef LX_MEDIA_ADAPTER_INT_H
#define LX_MEDIA_ADAPTER_INT_H

#include "media/job.h"

/* The string input[key] (non-empty), or NULL. */
const char *lx_media_in_str(const json_t *input, const char *key);

/* Appends the job id as one escaped path segment (job.h); LX_ERROR with a
 * reason in err when there is no usable id. */
int lx_media_id_segment(lx_buf_t *b, const char *id, char *err, size_t errlen);

/* A provider's progress on a 0..scale scale (scale 1 or 100) as 0..100,
 * clamped and rounded down; -1 for NaN. */
int lx_media_progress(double v, double scale);

/* An answer with a status string the adapter does not know: state NONE,
 * "unknown_status", not permanent (poll again). */
void lx_media_unknown_status(lx_job_result_t *out, const char *status);

#endif
