/* usage.h - the usage record every finished AI request yields, and the sink
 * interface that persists them.
 *
 * A record is filled by the handler and passed by value: the sink copies what
 * it keeps. Exactly one record per request, whatever the outcome. */
#ifndef LX_AI_USAGE_H
#define LX_AI_USAGE_H

#include "core/common.h"

#include <stdint.h>

typedef struct {
    char request_id[129];
    char key_id[64];
    char provider[64];
    char model[128];     /* upstream model */
    const char *feature; /* "chat", "embed", "messages", "image", "video" */
    int64_t tokens_in;
    int64_t tokens_out;
    int64_t tokens_cached;
    int status;      /* HTTP status the client saw (499: client left) */
    char error[256]; /* empty on success */
    int64_t ttfb_us; /* time to first byte from upstream, -1 if none */
    int64_t total_us;
    int64_t created_ms; /* wall clock */
} lx_usage_t;

typedef struct lx_usage_sink {
    void (*push)(struct lx_usage_sink *sink, const lx_usage_t *u);
} lx_usage_sink_t;

/* A sink that writes each record as a JSON log line (used until a database
 * sink is configured, and in tests). */
lx_usage_sink_t *lx_usage_log_sink(void);

#endif
