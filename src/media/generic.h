/* generic.h - a job adapter configured by URL templates and JSON field
 * paths, for providers without an adapter of their own.
 *
 * The settings (one JSON object per provider):
 *   submit        {"method": "POST"|"PUT", "path": "/jobs" ({model} allowed),
 *                  "body": a template (template.h); without it the task's
 *                  input is sent as it is}                           required
 *   poll          {"method": "GET"|"POST", "path": "/jobs/{id}"}     required
 *   cancel        {"method": "DELETE"|"POST"|"PUT"|"GET", "path"}    optional
 *   content       {"method": "GET", "path"}                          optional
 *   job_id_path   where the submit answer holds the job id ("data.id") required
 *   status_path   where an answer holds the job's status              required
 *   states        {"<provider status>": "queued"|"running"|"succeeded"|
 *                  "failed"|"cancelled", ...}: at least one succeeded and
 *                  one failed                                          required
 *   progress_path, progress_scale (1: 0-1, or 100: 0-100; default 100)
 *   output_paths  ["data.video_url", ...] (a string or an array of strings
 *                  each); required unless content is set
 *   error_path, error_code_path
 *   auth          {"header": "Authorization", "prefix": "Bearer "} (the default)
 *   idempotency_header  a header name that carries the idempotency key;
 *                  when set, resubmitting is safe (adapter.h)
 *
 * lx_media_generic_new validates and copies what it needs: the returned
 * adapter owns its configuration, is read-only afterwards (any thread may
 * use it) and is freed by lx_media_generic_free. */
#ifndef LX_MEDIA_GENERIC_H
#define LX_MEDIA_GENERIC_H

#include "media/adapter.h"

/* A new adapter from conf (borrowed), or NULL with why it is not usable in
 * err: the message names the setting ("states.done: ..."). The admin API
 * validates a provider's settings with it. */
lx_media_adapter_t *lx_media_generic_new(const json_t *conf, char *err, size_t errlen);

/* Only checks conf: LX_OK, or LX_ERROR with the reason in err. */
int lx_media_generic_validate(const json_t *conf, char *err, size_t errlen);

void lx_media_generic_free(lx_media_adapter_t *a);

#endif
