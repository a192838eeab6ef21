/* stats.h - request counters for tests (GET /_mock/stats, POST /_mock/reset).
 *
 * Each worker thread bumps its own cache-line-aligned slot with relaxed C11
 * atomics, so the hot path takes no lock and shares no cache line; a stats read
 * sums the slots. */
#ifndef MOCK_STATS_H
#define MOCK_STATS_H

#include <stdalign.h>
#include <stdatomic.h>

struct evbuffer;

typedef enum {
    MOCK_ST_REQUESTS = 0, /* every request except /_mock/... */
    MOCK_ST_CHAT,
    MOCK_ST_CHAT_STREAM,
    MOCK_ST_EMBEDDINGS,
    MOCK_ST_IMAGES,
    MOCK_ST_MODELS,
    MOCK_ST_MESSAGES,
    MOCK_ST_MESSAGES_STREAM,
    MOCK_ST_GEMINI_GENERATE,
    MOCK_ST_GEMINI_STREAM,
    MOCK_ST_GEMINI_EMBED,
    MOCK_ST_VIDEO_SUBMIT,
    MOCK_ST_VIDEO_POLL,
    MOCK_ST_VIDEO_CONTENT,     /* GET .../videos/{id}/content */
    MOCK_ST_VIDEO_DELETE,      /* DELETE .../videos/{id} */
    MOCK_ST_RUNWAY_SUBMIT,     /* POST .../text_to_video, .../image_to_video */
    MOCK_ST_RUNWAY_POLL,       /* GET .../tasks/{id} */
    MOCK_ST_RUNWAY_CANCEL,     /* DELETE .../tasks/{id} */
    MOCK_ST_JOBS_CREATED,      /* video jobs created (either API) */
    MOCK_ST_JOB_DUPLICATES,    /* submits answered with an existing job (Idempotency-Key) */
    MOCK_ST_STREAMS_STARTED,   /* stream headers sent */
    MOCK_ST_STREAMS_COMPLETED, /* stream ended by us with its normal end or an error event */
    MOCK_ST_STREAMS_FAULTED,   /* mid-stream fault injected (stall, drop, malformed, error) */
    MOCK_ST_CLIENT_GONE,       /* client left before a delayed reply / stream ended */
    MOCK_ST_FAULTS,            /* faults injected, any kind */
    MOCK_ST_NOT_FOUND,         /* 404 and 405 replies for unknown routes */
    MOCK_ST_IN_FLIGHT,         /* gauge: delayed or streaming requests now open */
    /* the TLS listener (tls.c, h2.c) */
    MOCK_ST_TLS_ACCEPTED,       /* TLS connections accepted */
    MOCK_ST_TLS_FULL,           /* handshakes completed without resumption */
    MOCK_ST_TLS_RESUMED,        /* handshakes that resumed a session */
    MOCK_ST_TLS_FAILED,         /* handshakes that failed (bad client, unknown CA, ...) */
    MOCK_ST_ALPN_H2,            /* handshakes that chose h2 */
    MOCK_ST_ALPN_HTTP1,         /* handshakes that chose http/1.1 or no ALPN */
    MOCK_ST_H2_STREAMS,         /* HTTP/2 request streams opened */
    MOCK_ST_H2_GOAWAY,          /* GOAWAY sent after --h2-max-requests streams */
    MOCK_ST_H2_RST_RECV,        /* RST_STREAM frames received from clients */
    MOCK_ST_H2_GOAWAY_ERR,      /* GOAWAY sent with an error code (nghttp2 ended a session) */
    MOCK_ST_TLS_INNER_CONNECTS, /* loopback connections from the TLS side to the plain port */
    MOCK_ST_TLS_OPEN,           /* gauge: TLS connections open now */
    MOCK_ST__COUNT
} mock_stat_t;

#define MOCK_MAX_WORKERS 256
/* Slots 0..255: the HTTP workers; 256..511: the TLS front's workers. */
#define MOCK_MAX_SLOTS (2 * MOCK_MAX_WORKERS)

typedef struct {
    alignas(64) atomic_long v[MOCK_ST__COUNT];
} mock_counters_t;

/* The calling thread's slot; workers point it at their own slot, other threads
 * share a spare one. */
extern _Thread_local mock_counters_t *mock_tl_counters;

/* Points this thread's counters at slot `worker` (< MOCK_MAX_SLOTS). */
void mock_stats_bind(unsigned worker);

/* Moves the counters to memory shared with processes forked later (the TLS
 * front, main.c), before any worker starts. Returns 0 or -1. */
int mock_stats_share(void);

static inline void mock_stat_add(mock_stat_t s, long d)
{
    atomic_fetch_add_explicit(&mock_tl_counters->v[s], d, memory_order_relaxed);
}

/* Appends "requests_total":..,"chat":..,... (no braces) to out. */
void mock_stats_json_fields(struct evbuffer *out);

/* Raises h2_max_concurrent_streams (the most streams open at once on one
 * HTTP/2 connection since the start or the last reset) to n. */
void mock_stat_max_streams(long n);

/* Zeroes every counter except the gauges (in_flight, tls_open). */
void mock_stats_reset(void);

#endif
