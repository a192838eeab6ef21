/* usage.h - the usage record every finished AI request yields, and the sink
 * interface that persists them.
 *
 * A record is filled by the handler and passed by value: the sink copies what
 * it keeps. Exactly one record per request, whatever the outcome. */
#ifndef LX_AI_USAGE_H
#define LX_AI_USAGE_H

#include "core/common.h"
#include "obs/hist.h"

#include <stdint.h>

/* Room for the attempts text of one record: three or four attempts with
 * names of ordinary length; past that the array ends with {"more": n}. */
#define LX_USAGE_ATTEMPTS_MAX 768

typedef struct {
    char record_id[48]; /* no longer stored (sql/004): only for bench/usage_rows */
    char request_id[129];
    char key_id[64];
    int64_t api_key_id;    /* 0: the admin key */
    int64_t user_id;       /* a JWT's user (sql/013); 0: none (a key's comes from api_keys) */
    int64_t team_id;       /* a JWT's team; 0: none */
    int64_t connection_id; /* the credential used, 0 if none */
    char provider[64];
    char model[256];           /* upstream model */
    char requested_model[256]; /* the name the client asked for (alias, group, ...) */
    const char *feature;       /* "chat", "embed", "messages", "image", "video" */
    int64_t tokens_in;
    int64_t tokens_out;
    int64_t tokens_cached;
    double cost_usd;
    int status;      /* HTTP status the client saw (499: client left; 200 for a stream
                      * that failed after it started: error_code says so) */
    char error[256]; /* empty on success */
    /* The "code" of the error reply the client saw ("model_not_found",
     * "rate_limit_exceeded", ...); empty on success. */
    char error_code[48];
    int64_t ttfb_us; /* time to first byte from upstream, -1 if none */
    int64_t total_us;
    int64_t created_ms;  /* wall clock */
    int64_t overhead_us; /* llmux's own time on the request (-1: not measured) */
    int64_t ttfc_us;     /* from the request's start to its first byte to the client, -1 if none */
    /* Each upstream attempt as a compact JSON array (call_log.c): provider,
     * credential, upstream model, status, why it failed, what followed,
     * duration and time to first byte. Empty: none recorded (NULL). */
    char attempts[LX_USAGE_ATTEMPTS_MAX];
} lx_usage_t;

typedef struct lx_usage_sink {
    void (*push)(struct lx_usage_sink *sink, const lx_usage_t *u);
} lx_usage_sink_t;

/* A sink that writes each record as a JSON log line (used when there is no
 * database). */
lx_usage_sink_t *lx_usage_log_sink(void);
/* Records nothing (usage_log = false: for measuring what recording costs). */
lx_usage_sink_t *lx_usage_null_sink(void);

/* Fills record_id (worker id, a per-thread counter and start-up randomness):
 * what llmux before sql/004 stored; bench/usage_rows replays that statement. */
void lx_usage_new_id(lx_usage_t *u, int worker_id);

struct event_base;
struct lx_pg;
typedef struct lx_usage_pg lx_usage_pg_t;

/* A batch goes out when this many records are queued (or at the 100 ms tick). */
#define LX_USAGE_PG_FLUSH_AT 1024

/* The Postgres sink of one worker: a bounded queue (capacity records;
 * overflow is counted and logged, never silent) flushed by a timer every
 * 100 ms or at LX_USAGE_PG_FLUSH_AT records, as one multi-row insert per
 * batch. While the database is away records stay queued and go out when it
 * returns; a batch whose answer was lost is sent again and inserts nothing
 * the second time (each sink numbers its batches in ai_usage_writers). */
lx_usage_pg_t *lx_usage_pg_new(struct event_base *base, struct lx_pg *pg, size_t capacity);
lx_usage_sink_t *lx_usage_pg_sink(lx_usage_pg_t *s);
/* Records queued and not yet confirmed written. */
size_t lx_usage_pg_pending(const lx_usage_pg_t *s);
/* Any thread (/metrics): records dropped on a full queue, written, queued
 * now, and the time from sending a batch to its answer. */
uint64_t lx_usage_pg_dropped(const lx_usage_pg_t *s);
uint64_t lx_usage_pg_written(const lx_usage_pg_t *s);
uint64_t lx_usage_pg_depth(const lx_usage_pg_t *s);
const lx_hist_t *lx_usage_pg_flush_hist(const lx_usage_pg_t *s);
/* Starts a flush now if none is running. */
void lx_usage_pg_flush(lx_usage_pg_t *s);
void lx_usage_pg_free(lx_usage_pg_t *s);

#endif
