/* scrape.h - GET /metrics rendered off the worker loops, on one scrape
 * thread.
 *
 * The worker that receives a scrape hands it to the scrape thread as a job
 * (lx_scrape_submit: a lock-free push and a sem_post, nothing that blocks)
 * and goes on serving requests; the thread renders the text
 * (lx_app_metrics) and hands the job back to that worker's inbox (a
 * lock-free list and an eventfd registered in the worker's event_base;
 * libevent here has no thread support, so no event_active from the
 * thread). The worker then replies on its own loop: src/http is touched
 * only by the request's own thread. Jobs that wait while a render runs are
 * answered by the next render, all at once (one render per batch).
 *
 * Ownership:
 *   - lx_scraper_t: the main thread (lx_scraper_start before the workers
 *     start, lx_scraper_free after they ended). lx_scraper_stop (any thread,
 *     idempotent, blocks until the thread is joined) is called by every
 *     worker once every loop has ended and before it frees anything a
 *     render reads; jobs still queued then are handed back unrendered.
 *   - a job: made by the worker's handler; while queued or rendered it
 *     belongs to the scrape thread, except its request pointer, which only
 *     the worker reads or writes (the client leaving clears it through the
 *     request's abort callback; the request itself is never touched by the
 *     scrape thread). Back in the inbox it belongs to the worker again,
 *     which replies (if the client is still there) and frees it.
 *   - an inbox: part of its worker. Its eventfd is made by the main thread
 *     before the worker thread starts (so that it is in both open-file
 *     tables: the worker may unshare its own); lx_scrape_inbox_attach on the
 *     worker thread, lx_scrape_inbox_fini there after its HTTP server is
 *     freed (the requests' abort callbacks have run: the remaining jobs are
 *     freed without touching a request), lx_scrape_inbox_release by the main
 *     thread after the worker thread ended. */
#ifndef LX_APP_SCRAPE_H
#define LX_APP_SCRAPE_H

#include "http/request.h"

#include <stdatomic.h>

#define LX_SCRAPE_MAX_JOBS 64 /* queued or rendering, process-wide: more get 503 */

struct event;
struct event_base;
typedef struct lx_app lx_app_t;
typedef struct lx_scraper lx_scraper_t;
typedef struct lx_scrape_job lx_scrape_job_t;

typedef struct {
    int fd; /* eventfd: the scrape thread rings it after pushing onto done */
    struct event *ev;
    _Atomic(lx_scrape_job_t *) done; /* jobs back from the scrape thread */
    lx_scraper_t *scraper;
} lx_scrape_inbox_t;

/* Starts the scrape thread (main thread, signals blocked, before the
 * workers start). NULL on failure. */
lx_scraper_t *lx_scraper_start(lx_app_t *app);
/* Stops and joins the thread (idempotent, any thread but the scrape one). */
void lx_scraper_stop(lx_scraper_t *s);
/* Stops it if needed and frees it (main thread, after the workers ended). */
void lx_scraper_free(lx_scraper_t *s);
/* Renders done so far (tests, the bench: how many batches ran). */
uint64_t lx_scraper_renders(const lx_scraper_t *s);

int lx_scrape_inbox_init(lx_scrape_inbox_t *in, lx_scraper_t *s);
int lx_scrape_inbox_attach(lx_scrape_inbox_t *in, struct event_base *base);
void lx_scrape_inbox_fini(lx_scrape_inbox_t *in);
void lx_scrape_inbox_release(lx_scrape_inbox_t *in);

/* The /metrics handler's work: queues the scrape and returns LX_AGAIN, or
 * replies 503 at once (queue full, no scrape thread) and returns LX_OK. */
int lx_scrape_submit(lx_scrape_inbox_t *in, lx_req_t *req);

#endif
