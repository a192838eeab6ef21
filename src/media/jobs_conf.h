/* jobs_conf.h - a provider's "jobs" settings (ai_providers.settings.jobs,
 * sql/017): which job adapter its media tasks are sent through, and the
 * generic adapter's configuration.
 *
 *   {"adapter": "openai_videos" | "runway" | "generic",
 *    "generic": {...generic.h's settings...}}   (only, and required, with "generic")
 *
 * No settings: OpenAI's videos API for videos, its images API for images.
 * "openai_videos" is the same; "runway" serves videos only; "generic"
 * serves both with the given configuration.
 *
 * Owns nothing: the settings are borrowed; a generic adapter returned by
 * lx_media_jobs_pick belongs to the caller (lx_media_generic_free). */
#ifndef LX_MEDIA_JOBS_CONF_H
#define LX_MEDIA_JOBS_CONF_H

#include "media/adapter.h"

/* LX_OK, or LX_ERROR with a message naming the setting in err
 * ("settings.jobs.generic.states: ..."). The admin API checks with it. */
int lx_media_jobs_validate(const json_t *jobs, char *err, size_t errlen);

/* The adapter for a video (video true) or image task under jobs (NULL: no
 * settings). *owned is set to a generic adapter made for the caller (also
 * returned in *adapter), else NULL. LX_ERROR with why in err when the
 * provider's adapter has no such API or the settings do not validate. */
int lx_media_jobs_pick(const json_t *jobs, bool video, const lx_media_adapter_t **adapter,
                       lx_media_adapter_t **owned, char *err, size_t errlen);

#endif
