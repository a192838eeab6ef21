/* input.h - what clients send to create media tasks, checked and turned
 * into the normalized task input the adapters read, and a task rendered as
 * an OpenAI `video` object.
 *
 * Pure. The client's body is borrowed; a returned input or object is a new
 * JSON value the caller owns (json_decref). The normalized input:
 *   {"type": "video.generate", "model", "prompt", "seconds" (integer),
 *    "size" ("1280x720"), "image" (URL or data: URI), "callback_url",
 *    "metadata" {string: string}}
 *   {"type": "image.generate", "model", "prompt", "n", "size", "quality",
 *    "style", "background", "output_format", "response_format",
 *    "callback_url", "metadata"}
 * (absent fields are left out). */
#ifndef LX_MEDIA_INPUT_H
#define LX_MEDIA_INPUT_H

#include "core/common.h"

#include <jansson.h>

/* Why a body was refused: the field (OpenAI's error.param) and a message
 * that names it. */
typedef struct {
    char param[64];
    char message[256];
} lx_media_problem_t;

/* POST /api/v1/media/videos. NULL with *p filled when the body is refused. */
json_t *lx_media_video_input(const json_t *body, lx_media_problem_t *p);
/* POST /api/v1/media/images. */
json_t *lx_media_image_input(const json_t *body, lx_media_problem_t *p);
/* POST /v1/videos, the OpenAI-compatible JSON body: model (default
 * "sora-2"), prompt, seconds and size as strings ("8", "1280x720"),
 * input_reference {"image_url"}; mapped to the same normalized input. */
json_t *lx_media_openai_video_input(const json_t *body, lx_media_problem_t *p);

/* A task as the OpenAI video object needs it (everything borrowed). */
typedef struct {
    const char *id;
    const char *model;
    const char *status;   /* the task's state: queued, submitting, running, succeeded,
                             failed, cancelled, expired */
    int progress;         /* 0..100 */
    int64_t created_at;   /* unix seconds */
    int64_t completed_at; /* 0: not finished */
    int64_t expires_at;   /* 0: none */
    const char *prompt;   /* NULL: null */
    const char *size;     /* NULL: "" */
    int seconds;          /* 0: unknown ("") */
    const char *error_code, *error_message; /* NULL: no error */
} lx_media_video_view_t;

/* The OpenAI status of a task state: queued|submitting -> "queued",
 * running -> "in_progress", succeeded -> "completed", anything else ->
 * "failed" (OpenAI has no cancelled or expired video). */
const char *lx_media_openai_video_status(const char *task_status);

/* {"id", "object": "video", "model", "status", "progress", "created_at",
 *  "completed_at", "expires_at", "prompt", "size", "seconds",
 *  "remixed_from_video_id": null, "error": {"code", "message"} | null}.
 * A cancelled or expired task carries an error saying so. */
json_t *lx_media_openai_video_object(const lx_media_video_view_t *v);

#endif
