/* stats.c - per-worker counter slots, their sum as JSON, and reset. */
#include "stats.h"

#include <sys/mman.h>

#include <event2/buffer.h>

#include "jsonw.h"

#define NSLOTS (MOCK_MAX_SLOTS + 1) /* the last one: threads that are no worker */

typedef struct {
    mock_counters_t slots[NSLOTS];
    atomic_long max_streams; /* h2_max_concurrent_streams */
} shared_t;

static shared_t local;
static shared_t *sh = &local; /* or a MAP_SHARED copy (mock_stats_share) */

_Thread_local mock_counters_t *mock_tl_counters = &local.slots[MOCK_MAX_SLOTS];

int mock_stats_share(void)
{
    void *p =
        mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return -1;
    sh = p; /* zero-filled; never unmapped (it lives as long as the process) */
    mock_tl_counters = &sh->slots[MOCK_MAX_SLOTS];
    return 0;
}

static const char *const names[MOCK_ST__COUNT] = {
    [MOCK_ST_REQUESTS] = "requests_total",
    [MOCK_ST_CHAT] = "chat",
    [MOCK_ST_CHAT_STREAM] = "chat_stream",
    [MOCK_ST_EMBEDDINGS] = "embeddings",
    [MOCK_ST_IMAGES] = "images",
    [MOCK_ST_MODELS] = "models",
    [MOCK_ST_MESSAGES] = "messages",
    [MOCK_ST_MESSAGES_STREAM] = "messages_stream",
    [MOCK_ST_GEMINI_GENERATE] = "gemini_generate",
    [MOCK_ST_GEMINI_STREAM] = "gemini_stream",
    [MOCK_ST_GEMINI_EMBED] = "gemini_embed",
    [MOCK_ST_VIDEO_SUBMIT] = "video_submit",
    [MOCK_ST_VIDEO_POLL] = "video_poll",
    [MOCK_ST_VIDEO_CONTENT] = "video_content",
    [MOCK_ST_VIDEO_DELETE] = "video_delete",
    [MOCK_ST_RUNWAY_SUBMIT] = "runway_submit",
    [MOCK_ST_RUNWAY_POLL] = "runway_poll",
    [MOCK_ST_RUNWAY_CANCEL] = "runway_cancel",
    [MOCK_ST_JOBS_CREATED] = "jobs_created",
    [MOCK_ST_JOB_DUPLICATES] = "job_duplicate_submits",
    [MOCK_ST_STREAMS_STARTED] = "streams_started",
    [MOCK_ST_STREAMS_COMPLETED] = "streams_completed",
    [MOCK_ST_STREAMS_FAULTED] = "streams_faulted",
    [MOCK_ST_CLIENT_GONE] = "client_gone",
    [MOCK_ST_FAULTS] = "faults",
    [MOCK_ST_NOT_FOUND] = "not_found",
    [MOCK_ST_IN_FLIGHT] = "in_flight",
    [MOCK_ST_TLS_ACCEPTED] = "tls_accepted",
    [MOCK_ST_TLS_FULL] = "tls_handshakes_full",
    [MOCK_ST_TLS_RESUMED] = "tls_handshakes_resumed",
    [MOCK_ST_TLS_FAILED] = "tls_handshakes_failed",
    [MOCK_ST_ALPN_H2] = "alpn_h2",
    [MOCK_ST_ALPN_HTTP1] = "alpn_http1",
    [MOCK_ST_H2_STREAMS] = "h2_streams",
    [MOCK_ST_H2_GOAWAY] = "h2_goaway_sent",
    [MOCK_ST_H2_RST_RECV] = "h2_resets_received",
    [MOCK_ST_H2_GOAWAY_ERR] = "h2_goaway_errors",
    [MOCK_ST_TLS_INNER_CONNECTS] = "tls_inner_connects",
    [MOCK_ST_TLS_OPEN] = "tls_open",
};

void mock_stat_max_streams(long n)
{
    long cur = atomic_load_explicit(&sh->max_streams, memory_order_relaxed);

    while (n > cur && !atomic_compare_exchange_weak_explicit(
                          &sh->max_streams, &cur, n, memory_order_relaxed, memory_order_relaxed))
        ;
}

void mock_stats_bind(unsigned worker)
{
    mock_tl_counters = &sh->slots[worker < MOCK_MAX_SLOTS ? worker : MOCK_MAX_SLOTS];
}

void mock_stats_json_fields(struct evbuffer *out)
{
    for (int s = 0; s < MOCK_ST__COUNT; s++) {
        long sum = 0;
        for (unsigned w = 0; w < NSLOTS; w++)
            sum += atomic_load_explicit(&sh->slots[w].v[s], memory_order_relaxed);
        evbuffer_add_printf(out, "%s\"%s\":%ld", s ? "," : "", names[s], sum);
    }
    evbuffer_add_printf(out, ",\"h2_max_concurrent_streams\":%ld",
                        atomic_load_explicit(&sh->max_streams, memory_order_relaxed));
}

void mock_stats_reset(void)
{
    for (unsigned w = 0; w < NSLOTS; w++)
        for (int s = 0; s < MOCK_ST__COUNT; s++)
            if (s != MOCK_ST_IN_FLIGHT && s != MOCK_ST_TLS_OPEN)
                atomic_store_explicit(&sh->slots[w].v[s], 0, memory_order_relaxed);
    atomic_store_explicit(&sh->max_streams, 0, memory_order_relaxed);
}
