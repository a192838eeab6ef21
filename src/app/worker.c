/* worker.c - one event loop per core (memcached's thread.c shape).
 *
 * Each worker owns its event_base (epoll, 1 ms timers), its HTTP server bound to
 * the shared port with SO_REUSEPORT, its curl multi and its timers. The main
 * thread talks to it only through an eventfd, so no event_base needs locks. */
#include "app/app.h"
#include "core/clock.h"
#include "core/log.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* Every 100 ms: flush the log buffer; and once the worker has been quiet
 * for a second after traffic, give back what a burst left: idle upstream
 * connections and easy handles beyond a few (upstream.h), then the freed heap
 * (glibc keeps it otherwise, and a burst of 10,000 streams would stay in RSS
 * for good). */
#define QUIET_MS           1000
#define KEEP_IDLE_UPSTREAM 16

static void log_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_worker_t *w = arg;
    lx_log_flush();
    const lx_http_stats_t *st = lx_http_server_stats(w->http);
    uint64_t active = atomic_load_explicit(&st->requests_active, memory_order_relaxed);
    uint64_t total = atomic_load_explicit(&st->requests, memory_order_relaxed);
    int64_t now = lx_wall_ms();
    if (total != w->seen_requests || active > 0) {
        w->seen_requests = total;
        w->quiet_since_ms = now;
        return;
    }
    if (total != w->trimmed_at_requests && now - w->quiet_since_ms >= QUIET_MS) {
        w->trimmed_at_requests = total;
        lx_upstream_trim(w->up, KEEP_IDLE_UPSTREAM);
        lx_ai_fini(&w->ai);  /* the cached call contexts */
#ifndef __SANITIZE_ADDRESS__ /* ASan owns the heap: glibc's trim would walk nothing valid */
        malloc_trim(0);
#endif
    }
}

static void no_event(evutil_socket_t fd, short ev, void *arg) {}

/* The fd numbers to reserve libevent's records for: the open-file limit,
 * up to 32,768 (about 55 bytes each, per worker). */
static int prealloc_fds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    return rl.rlim_cur > 32768 ? 32768 : (int)rl.rlim_cur;
}

/* libevent keeps a small per-fd record from the first event on that fd until
 * the base is freed. Made during a burst, thousands of them end up scattered
 * through the heap and keep its pages resident after the burst; made here,
 * for the fd numbers the process may use, they sit together. An add and a
 * del in the same pass cost no syscall (the changelist drops both). */
static void reserve_fd_slots(struct event_base *base, int nfds)
{
    struct event ev;
    for (int fd = 0; fd < nfds; fd++) {
        event_assign(&ev, base, fd, EV_READ, no_event, NULL);
        event_add(&ev, NULL);
        event_del(&ev);
    }
}

/* After the last request: usage records still queued and spend not yet
 * in ai_spend go out before the loop ends (nothing lost in a clean
 * shutdown), within a deadline. */
static void flush_wait_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_worker_t *w = arg;
    bool usage_done = w->usage == NULL || lx_usage_pg_pending(w->usage) == 0;
    bool spend_done = !lx_budget_sync_draining(w->budget_sync);
    bool tasks_done = !lx_task_runner_stopping(w->tasks); /* its leases given back */
    bool traces_done = lx_tracer_idle(w->tracer);         /* the spans queued, sent */
    if ((usage_done && spend_done && tasks_done && traces_done && !lx_health_flushing(w->health)) ||
        lx_wall_ms() >= w->flush_deadline_ms) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    if (w->usage) /* none without a database (the traces may be what is left) */
        lx_usage_pg_flush(w->usage);
}

static void http_idle_cb(void *arg)
{
    lx_worker_t *w = arg;
    if (w->flush_ev) /* the drain deadline got here first */
        return;
    w->flush_deadline_ms = lx_wall_ms() + LX_MAX(w->app->cfg->drain_timeout_ms, 5000);
    lx_health_flush(w->health); /* the connection counters, one last time */
    lx_tracer_flush(w->tracer);
    w->flush_ev = event_new(w->base, -1, EV_PERSIST, flush_wait_cb, w);
    struct timeval tv = {0, 20 * 1000};
    event_add(w->flush_ev, &tv);
    flush_wait_cb(-1, 0, w);
}

static void deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_worker_t *w = arg;
    lx_log_warn("drain timeout: closing remaining connections", "\"worker\":%d", w->id);
    lx_http_server_close_all(w->http); /* their usage records are queued now */
    if (w->flush_ev == NULL)
        http_idle_cb(w);
}

static void control_cb(evutil_socket_t fd, short ev, void *arg)
{
    lx_worker_t *w = arg;
    uint64_t v = 0;
    if (read(fd, &v, sizeof v) != sizeof v)
        return;
    if (v >= 2) { /* a second signal, or an explicit stop */
        lx_http_server_close_all(w->http);
        event_base_loopexit(w->base, NULL);
        return;
    }
    if (lx_http_server_draining(w->http))
        return;
    int ms = w->app->cfg->drain_timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    w->deadline_ev = evtimer_new(w->base, deadline_cb, w);
    evtimer_add(w->deadline_ev, &tv);
    lx_task_runner_stop(w->tasks); /* another instance takes its tasks over at once */
    lx_http_server_drain(w->http, http_idle_cb, w);
}

/* Each worker gets an open-file table of its own. A stream holds two
 * sockets and the open-file limit counts per table, so two workers hold twice
 * the streams one shared table would (10,000 streams need 20,000 sockets, and
 * the hard limit may be just that). The kernel also skips the reference
 * count on each fd lookup of a table only one thread uses.
 *
 * unshare() copies the table: the copies of other threads' files (the
 * registry's Postgres connection, the other workers' control fds) are closed
 * at once, so that their owners' close() still closes them. Everything else
 * the worker opens from here on (listener, epoll, curl's and libpq's sockets)
 * exists only in its table: nothing opened by one worker may be used by
 * another thread. Without unshare (a seccomp filter), the table stays
 * shared, as before.
 *
 * ThreadSanitizer keeps its state of a file by fd number, for the whole
 * process: two workers' files that share a number (each table hands out 3,
 * 4, ... again) look like one file closed by a thread while another polls it,
 * a report on nearly every request. Its build (scripts/tsan) keeps the shared
 * table, the path a refused unshare takes. */
#if defined(__SANITIZE_THREAD__)
#define LX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LX_TSAN 1
#endif
#endif
static void own_file_table(lx_worker_t *w)
{
#ifdef LX_TSAN
    return;
#endif
    if (unshare(CLONE_FILES) != 0) {
        lx_log_warn("workers share one open-file table", "\"errno\":%d", errno);
        return;
    }
    w->own_files = true;
    /* keep the control fd and the scrape inbox's (> 2: stdin, stdout, stderr stay) */
    unsigned a = (unsigned)LX_MIN(w->control_fd, w->scrape.fd);
    unsigned b = (unsigned)LX_MAX(w->control_fd, w->scrape.fd);
    bool ok = (a <= 3 || close_range(3, a - 1, 0) == 0) &&
              (b <= a + 1 || close_range(a + 1, b - 1, 0) == 0) && close_range(b + 1, ~0U, 0) == 0;
    if (!ok) {
        /* No close_range (a kernel before 5.9, or a seccomp filter): one by
         * one, up to the limit; once, at start-up. */
        struct rlimit rl;
        unsigned end = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20
                           ? (unsigned)rl.rlim_cur
                           : 1u << 20;
        for (unsigned fd = 3; fd < end; fd++)
            if (fd != a && fd != b)
                close((int)fd);
    }
}

/* Its Postgres connection's state and query latency, for /metrics. */
static void pg_state(lx_pg_t *pg, bool connected, void *arg)
{
    lx_worker_t *w = arg;
    atomic_store_explicit(&w->pg_up, connected, memory_order_relaxed);
}

static void pg_latency(int64_t us, void *arg)
{
    lx_worker_t *w = arg;
    lx_hist_observe(&w->pg_query_hist, us);
}

/* Everything the worker owns but its control fd, made on its own thread. */
static int worker_setup(lx_worker_t *w)
{
    lx_app_t *app = w->app;
    int id = w->id;
    struct event_config *ec = event_config_new();
    /* No EVENT_BASE_FLAG_PRECISE_TIMER: it arms a timerfd with a syscall
     * whenever the nearest timer changes (several times per request); our
     * timers (curl's, watchdogs, batching) are fine at epoll's 1 ms. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (w->base == NULL)
        return LX_ERROR;
    reserve_fd_slots(w->base, prealloc_fds());
    lx_up_tls_t tls = {.ca_file = app->cfg->upstream_ca_file,
                       .tls_min = app->cfg->upstream_tls_min};
    w->up = lx_upstream_new(w->base, &app->cfg->netpolicy, &tls);
    if (w->up == NULL)
        return LX_ERROR;
    lx_ai_init(&w->ai, app->cfg, &app->routing, w->up,
               app->cfg->usage_log ? lx_usage_log_sink() : lx_usage_null_sink());
    w->metrics = lx_metrics_new(app->cfg->metrics_per_key);
    w->ai.metrics = w->metrics;
    w->tid = gettid();
    w->tracer = lx_tracer_new(w->base, w->up, app->trace_conf);
    w->ai.tracer = w->tracer;
    lx_tracer_set_current(w->tracer); /* media task calls find it there */
    if (app->cfg->database_url) {
        char name[32];
        snprintf(name, sizeof name, "llmux-w%d", id);
        lx_pg_opts_t po = {.statement_timeout_ms = 5000,
                           .application_name = name,
                           .on_state = pg_state,
                           .state_arg = w,
                           .on_latency = pg_latency,
                           .latency_arg = w};
        w->pg = lx_pg_new(w->base, app->cfg->database_url, &po);
        if (w->pg == NULL)
            return LX_ERROR;
        if (app->cfg->usage_log) {
            w->usage = lx_usage_pg_new(w->base, w->pg, 20000);
            w->ai.usage = lx_usage_pg_sink(w->usage);
        }
        w->lease = lx_allow_lease_new(w->base, w->pg, id == 0);
        w->ai.lease = w->lease;
    }
    if (id == 0) { /* one health monitor and one limits sync per process */
        w->health =
            lx_health_new(w->base, app->cfg, &app->routing.conf.breaker, w->up, w->pg, NULL);
        if (w->pg) {
            w->limits_sync = lx_limits_sync_new(w->base, w->pg);
            w->budget_sync = lx_budget_sync_new(w->base, w->pg);
            w->budget_hook = lx_budget_hook_new(w->base, app->cfg, w->pg, w->up);
        }
    }
    if (w->pg) {
        lx_task_runner_opts_t to = {
            .conf = app->task_conf,
            .instance_id = lx_task_instance_id(),
            .worker_id = id,
            .exec_ctx = w->up,
            .crash_after_submit = app->task_crash_after_submit,
            .webhook_secret = app->cfg->tasks.webhook_secret,
        };
        if (id == 0) /* one webhook deliverer per instance */
            to.poster = lx_app_task_poster(w->up);
        w->tasks = lx_task_runner_new(w->base, w->pg, &to);
        w->task_events = lx_task_events_new(w->pg);
    }
    w->task_http = (lx_task_http_t){.pg = w->pg,
                                    .conf = &app->task_conf,
                                    .runner = w->tasks,
                                    .events = w->task_events,
                                    .auth = lx_app_task_auth,
                                    .auth_arg = &w->ai};
    w->media_http = (lx_media_http_t){.pg = w->pg,
                                      .conf = &app->task_conf,
                                      .runner = w->tasks,
                                      .auth = lx_app_task_auth,
                                      .auth_arg = &w->ai,
                                      .admit = lx_app_media_admit,
                                      .admit_arg = &w->ai,
                                      .up = w->up};
    w->admin = (lx_admin_t){.cfg = app->cfg, .pg = w->pg, .ai = &w->ai, .tasks = &w->task_http};
    w->nroutes = lx_routes_build(w, w->routes, LX_MAX_ROUTES);
    w->http = lx_http_server_new(w->base, app->cfg, w->routes, w->nroutes, id);
    if (w->http == NULL || lx_http_server_listen(w->http) != LX_OK)
        return LX_ERROR;
    if (lx_scrape_inbox_attach(&w->scrape, w->base) != LX_OK)
        return LX_ERROR;
    w->control_ev = event_new(w->base, w->control_fd, EV_READ | EV_PERSIST, control_cb, w);
    event_add(w->control_ev, NULL);
    w->log_flush_ev = event_new(w->base, -1, EV_PERSIST, log_flush_cb, w);
    struct timeval tv = {0, 100 * 1000};
    event_add(w->log_flush_ev, &tv);
    return LX_OK;
}

static void *worker_main(void *arg)
{
    lx_worker_t *w = arg;
    own_file_table(w);
    w->start_rc = worker_setup(w);
    int ok = w->start_rc == LX_OK;
    sem_post(&w->started); /* w->start_rc is read by the main thread from here on */
    if (!ok)
        return NULL;              /* the process exits; this thread's files close with it */
    while (sem_wait(&w->go) != 0) /* all workers are up: no request before "ready" */
        ;
    lx_log_set_buffered(1);
    event_base_dispatch(w->base);
    lx_log_info("worker loop ended", "\"worker\":%d", w->id);
    lx_log_flush();
    pthread_barrier_wait(&w->app->loops_done); /* no loop reads this worker's state now */
    lx_scraper_stop(w->app->scraper);          /* nor a render (it reads every worker's) */
    lx_health_free(w->health);                 /* before the upstream client and pg it uses */
    lx_limits_sync_free(w->limits_sync);
    lx_budget_sync_free(w->budget_sync); /* before the pg (it may finish in pg's free) */
    lx_budget_hook_free(w->budget_hook); /* before the upstream client and pg it uses */
    lx_allow_lease_free(w->lease);       /* before the pg its queries use */
    lx_task_runner_free(w->tasks);       /* before the pg (it finishes in pg's free) */
    lx_http_server_free(w->http);
    lx_scrape_inbox_fini(&w->scrape);    /* after the requests' abort callbacks */
    lx_task_events_free(w->task_events); /* after its subscriptions (the SSE requests) */
    lx_tracer_free(w->tracer);           /* before the upstream client it sends through */
    lx_upstream_free(w->up);
    lx_ai_fini(&w->ai);
    lx_metrics_free(w->metrics); /* every loop has ended: no scrape reads it */
    w->ai.metrics = w->metrics = NULL;
    lx_usage_pg_free(w->usage);
    if (w->pg)
        lx_pg_free(w->pg);
    if (w->flush_ev)
        event_free(w->flush_ev);
    event_free(w->control_ev);
    event_free(w->log_flush_ev);
    if (w->deadline_ev)
        event_free(w->deadline_ev);
    /* A bufferevent made with BEV_OPT_DEFER_CALLBACKS (evhtp's) holds a
     * reference for each deferred callback still queued, and libevent runs
     * at most 32 of them in a loop pass, the rest in the next. The pass that
     * ended the loop may have left some (many clients leaving just before a
     * SIGTERM), and event_base_free drops them without running them: those
     * bufferevents, freed or not, would never be released. Everything with
     * a callback of ours is gone now, so one more pass, without waiting,
     * runs just those (and the finalizers they trigger). */
    event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    event_base_free(w->base);
    if (w->own_files) { /* its own copies; shared ones are the main thread's to close */
        close(w->control_fd);
        close(w->scrape.fd);
    }
    lx_log_thread_done();
    return NULL;
}

int lx_worker_start(lx_worker_t *w, lx_app_t *app, int id)
{
    memset(w, 0, sizeof *w);
    w->app = app;
    w->id = id;
    w->control_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->control_fd < 0)
        return LX_ERROR;
    if (lx_scrape_inbox_init(&w->scrape, app->scraper) != LX_OK) {
        close(w->control_fd);
        return LX_ERROR;
    }
    sem_init(&w->started, 0, 0);
    sem_init(&w->go, 0, 0);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return LX_ERROR;
    while (sem_wait(&w->started) != 0) /* EINTR */
        ;
    if (w->start_rc != LX_OK) {
        pthread_join(w->thread, NULL);
        return LX_ERROR;
    }
    return LX_OK;
}

void lx_worker_go(lx_worker_t *w)
{
    sem_post(&w->go);
}

void lx_worker_signal(lx_worker_t *w, uint64_t what)
{
    ssize_t r = write(w->control_fd, &what, sizeof what);
    (void)r;
}

/* After the thread ended: the main thread's copy of the control fd. */
void lx_worker_release(lx_worker_t *w)
{
    close(w->control_fd);
    lx_scrape_inbox_release(&w->scrape);
    sem_destroy(&w->started);
    sem_destroy(&w->go);
}
