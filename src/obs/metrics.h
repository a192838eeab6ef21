/* metrics.h - the AI request metrics of one worker, merged across workers
 * at scrape time (GET /metrics).
 *
 * Ownership: each worker owns one lx_metrics_t (lx_metrics_new on its
 * thread or before it starts; lx_metrics_free once no thread renders any
 * more). Only the owning worker writes it (lx_metrics_request,
 * lx_metrics_attempt, lx_metrics_stream_*): relaxed atomic loads and
 * stores, no lock, and no allocation once a series exists (a new label set
 * allocates its series once). Any thread renders (lx_metrics_render) every
 * worker's series at once: series are published on a list with a release
 * store and never removed or moved until lx_metrics_free, so a reader walks
 * them without a lock and the writers never wait for it.
 *
 * Label values are what the caller passes; keeping them bounded is the
 * caller's job (the catalog's names, "other" for the rest: README
 * "Metrics"). Past LX_METRICS_MAX_SERIES series in one table a new label
 * set is not counted (llmux_metrics_series_dropped_total says how often). */
#ifndef LX_OBS_METRICS_H
#define LX_OBS_METRICS_H

#include "core/buf.h"
#include "obs/hist.h"

#include <stdbool.h>
#include <stdint.h>

#define LX_METRICS_MAX_SERIES 100000 /* per worker and table */
#define LX_METRICS_LABEL_MAX  128    /* bytes of one label value kept (longer: cut) */

typedef struct lx_metrics lx_metrics_t;
typedef struct lx_mseries lx_mseries_t;

/* per_key: also count requests, tokens and cost by key. */
lx_metrics_t *lx_metrics_new(bool per_key);
void lx_metrics_free(lx_metrics_t *m);

/* How one AI request ended, as the finalizer saw it. Strings are borrowed
 * for the call. provider/model NULL: "other". */
typedef struct {
    const char *endpoint; /* "chat", "messages", "embed", "image" */
    const char *provider; /* the catalog's provider name, NULL: other */
    const char *model;    /* the catalog's public model name, NULL: other */
    int status;           /* the HTTP status the client saw */
    const char *reason;   /* "ok" or the reason code (err.h name) */
    const char *team;     /* the team's name, NULL: no team */
    const char *key;      /* the key's label, NULL: none */
    int64_t total_us;     /* request start to its end */
    int64_t upstream_us;  /* time spent in upstream attempts, -1: no attempt */
    int64_t tokens_in, tokens_out;
    double cost_usd;
} lx_metrics_req_t;

/* Every function below accepts m == NULL (metrics off: unit tests). */
void lx_metrics_request(lx_metrics_t *m, const lx_metrics_req_t *r);

typedef enum { LX_METRICS_DONE = 0, LX_METRICS_RETRY, LX_METRICS_FALLBACK } lx_metrics_next_t;
/* One upstream attempt ended: its time to first byte (-1: none), and what
 * came next (a retry or a fallback, for reason). */
void lx_metrics_attempt(lx_metrics_t *m, const char *endpoint, const char *provider,
                        int64_t ttfb_us, lx_metrics_next_t next, const char *reason);
/* A stream's latency series (endpoint x provider), looked up once per
 * stream; NULL when m is NULL or the table is full. */
lx_mseries_t *lx_metrics_stream_series(lx_metrics_t *m, const char *endpoint, const char *provider);
/* The first chunk reached the client us after the request started. */
void lx_metrics_stream_first(lx_mseries_t *s, int64_t us);
/* The gap between two chunks sent to the client. */
void lx_metrics_stream_gap(lx_mseries_t *s, int64_t us);

/* Renders the families of all n workers' metrics merged (Prometheus text,
 * HELP and TYPE included). Any thread; allocates its scratch. */
void lx_metrics_render(lx_metrics_t *const *ms, int n, lx_buf_t *b);

/* Writes `name="value",...` for n labels into out (cap bytes, NUL-ended);
 * values escaped for the text format (backslash, double quote, newline),
 * NULL values as "other", each cut at LX_METRICS_LABEL_MAX bytes. Returns
 * the length, or 0 if it did not fit. */
size_t lx_metrics_labels(char *out, size_t cap, const char *const *names, const char *const *values,
                         int n);

/* Appends one sample line `name{labels} v` (`name v` when labels is "")
 * without printf: the scrape writes thousands of them. */
void lx_metrics_sample(lx_buf_t *b, const char *name, const char *labels, uint64_t v);
/* The same with the name and labels given with their lengths. */
void lx_metrics_sample_n(lx_buf_t *b, const char *name, size_t name_len, const char *labels,
                         size_t labels_len, uint64_t v);

/* "2xx", "4xx", "5xx" (1xx and 3xx as such; anything else "other"). */
const char *lx_metrics_status_class(int status);

#endif
