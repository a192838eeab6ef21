/* worker.c - one load thread: event loop set-up and tear-down, the closed-
 * and open-loop schedules, the end of the run, progress snapshots (see
 * worker.h). */
#include "worker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"

#define TICK_US    50000u /* stop-order poll and progress snapshot */
#define RETRY_US   50000u /* closed loop: pause after a failed connect */
#define RAMP_BATCH 256u   /* closed loop: connections started per loop turn */

static struct timeval tv_us(uint64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    return tv;
}

int lb_worker_init(lb_worker_t *w, lb_run_t *run, unsigned id, unsigned nconns)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->run = run;
    w->nconns = nconns;
    lb_stats_init(&w->stats);
    w->pub = calloc(1, sizeof(*w->pub));
    w->conns = calloc(nconns ? nconns : 1, sizeof(*w->conns));
    if (w->pub == NULL || w->conns == NULL)
        return -1;
    lb_hist_init(&w->pub->latency);
    if (pthread_mutex_init(&w->pub_lock, NULL) != 0)
        return -1;
    return 0;
}

void lb_worker_free(lb_worker_t *w)
{
    free(w->ttfc_rec);
    free(w->conns);
    free(w->pub);
    pthread_mutex_destroy(&w->pub_lock);
}

void lb_worker_ttfc_note(lb_worker_t *w, uint64_t start_us, uint64_t ttfc_us)
{
    if (w->ttfc_n == w->ttfc_cap) {
        size_t cap = w->ttfc_cap ? w->ttfc_cap * 2 : 4096;
        uint64_t *p = realloc(w->ttfc_rec, cap * 2 * sizeof(*p));
        if (p == NULL)
            return; /* the log is a diagnostic: a short one is still a log */
        w->ttfc_rec = p;
        w->ttfc_cap = cap;
    }
    w->ttfc_rec[2 * w->ttfc_n] = start_us - w->run->t0_us;
    w->ttfc_rec[2 * w->ttfc_n + 1] = ttfc_us;
    w->ttfc_n++;
}

void lb_worker_snapshot(lb_worker_t *w, lb_pub_t *out)
{
    pthread_mutex_lock(&w->pub_lock);
    memcpy(out, w->pub, sizeof(*out));
    pthread_mutex_unlock(&w->pub_lock);
}

static void publish(lb_worker_t *w)
{
    const lb_stats_t *s = &w->stats;

    pthread_mutex_lock(&w->pub_lock);
    w->pub->started = s->started;
    w->pub->completed = s->completed;
    w->pub->ok = s->ok;
    w->pub->errors = lb_stats_errors(s);
    w->pub->inflight = w->active;
    w->pub->backlogged = s->backlogged;
    memcpy(&w->pub->latency, &s->latency, sizeof(s->latency));
    pthread_mutex_unlock(&w->pub_lock);
}

/* Ends this worker's part of the run: requests in flight are abandoned
 * (counted as unfinished), queued ones as unsent; the loop exits. */
static void stop(lb_worker_t *w, uint64_t now)
{
    if (w->stopping)
        return;
    w->stopping = true;
    w->no_more = true;
    w->end_us = now;
    for (unsigned i = 0; i < w->nconns; i++)
        lb_conn_abandon(&w->conns[i]);
    w->active = 0;
    if (w->run->open_loop) {
        uint64_t from = w->sent > w->first_measured ? w->sent : w->first_measured;
        if (w->due > from)
            w->stats.unsent += w->due - from;
    }
    event_base_loopbreak(w->base);
}

/* Ends the worker early once it has nothing left to do (--requests). */
static void maybe_done(lb_worker_t *w)
{
    bool more;

    if (w->active > 0 || w->stopping)
        return;
    if (w->run->open_loop)
        more = w->due < w->end || w->sent < w->due;
    else
        more = !w->no_more;
    if (!more)
        stop(w, lb_now_us());
}

/* ---- closed loop ---------------------------------------------------- */

typedef enum { CLAIM_NONE, CLAIM_WARMUP, CLAIM_MEASURED } claim_t;

static claim_t claim(lb_worker_t *w, uint64_t now)
{
    lb_run_t *r = w->run;

    if (w->no_more || atomic_load_explicit(&r->stop, memory_order_relaxed))
        return CLAIM_NONE;
    if (now < r->measure_us)
        return CLAIM_WARMUP;
    if (r->opts->requests == 0 ||
        atomic_fetch_add_explicit(&r->claimed, 1, memory_order_relaxed) < r->opts->requests)
        return CLAIM_MEASURED;
    w->no_more = true;
    return CLAIM_NONE;
}

static void closed_next(lb_worker_t *w, lb_conn_t *c, bool connect_failed)
{
    uint64_t now = lb_now_us();
    claim_t k;

    if (connect_failed && !w->no_more) {
        lb_conn_retry_later(c, RETRY_US); /* still active */
        return;
    }
    k = claim(w, now);
    if (k == CLAIM_NONE) {
        w->active--;
        maybe_done(w);
        return;
    }
    lb_conn_send(c, now, k == CLAIM_MEASURED);
}

/* Starts the closed loop's connections RAMP_BATCH at a time, one batch per
 * turn of the loop, so that with thousands of connections the first ones'
 * responses are read while the rest are still being connected (their time
 * to first chunk would otherwise include the whole connect loop). */
static void on_ramp(evutil_socket_t fd, short what, void *arg)
{
    lb_worker_t *w = arg;
    unsigned stop_at = w->ramped + RAMP_BATCH;

    (void)fd;
    (void)what;
    if (stop_at > w->nconns)
        stop_at = w->nconns;
    while (w->ramped < stop_at && !w->stopping)
        closed_next(w, &w->conns[w->ramped++], false);
    if (w->ramped < w->nconns && !w->stopping) {
        struct timeval tv = tv_us(0);
        event_add(w->ramp_ev, &tv);
    }
}

/* ---- open loop ------------------------------------------------------ */

static uint64_t sched_at(const lb_worker_t *w, uint64_t k)
{
    return w->run->t0_us + (uint64_t)llround(w->offset_us + (double)k * w->period_us);
}

static lb_conn_t *take_free(lb_worker_t *w)
{
    lb_conn_t *c = w->idle;

    if (c != NULL) {
        w->idle = c->next;
    } else if ((c = w->spare) != NULL) {
        w->spare = c->next;
    }
    if (c != NULL) {
        c->next = NULL;
        w->active++;
    }
    return c;
}

static void put_free(lb_worker_t *w, lb_conn_t *c)
{
    if (c->bev != NULL) {
        c->next = w->idle;
        w->idle = c;
    } else {
        c->next = w->spare;
        w->spare = c;
    }
    w->active--;
}

static void send_queued(lb_worker_t *w, lb_conn_t *c)
{
    uint64_t k = w->sent++;

    lb_conn_send(c, sched_at(w, k), k >= w->first_measured);
}

static void on_sched(evutil_socket_t fd, short what, void *arg)
{
    lb_worker_t *w = arg;
    uint64_t now = lb_now_us(), old_due = w->due, from, q;
    lb_conn_t *c;

    (void)fd;
    (void)what;
    if (w->stopping)
        return;
    while (w->due < w->end && sched_at(w, w->due) <= now)
        w->due++;
    while (w->sent < w->due && (c = take_free(w)) != NULL)
        send_queued(w, c);
    /* Requests that became due now and found no connection. */
    from = w->sent > old_due ? w->sent : old_due;
    if (from < w->first_measured)
        from = w->first_measured;
    if (w->due > from)
        w->stats.backlogged += w->due - from;
    q = w->due - w->sent;
    if (q > w->stats.backlog_max)
        w->stats.backlog_max = q;
    if (w->due < w->end) {
        uint64_t at = sched_at(w, w->due);
        struct timeval tv = tv_us(at > now ? at - now : 0);
        event_add(w->sched_ev, &tv);
    } else {
        maybe_done(w);
    }
}

static void open_next(lb_worker_t *w, lb_conn_t *c, bool connect_failed)
{
    (void)connect_failed; /* that request failed; the next one tries again */
    if (!w->stopping && w->sent < w->due) {
        send_queued(w, c);
        return;
    }
    put_free(w, c);
    maybe_done(w);
}

static void open_setup(lb_worker_t *w)
{
    const lb_run_t *r = w->run;
    double rate = r->opts->rate;
    uint64_t quota;

    /* Thread i of T sends requests i, i+T, i+2T, ... of one timeline of
     * `rate` requests per second. */
    w->period_us = 1e6 * (double)r->nthreads / rate;
    w->offset_us = 1e6 * (double)w->id / rate;
    w->first_measured = 0;
    if (r->measure_us > r->t0_us) {
        double k = ceil(((double)(r->measure_us - r->t0_us) - w->offset_us) / w->period_us);
        w->first_measured = k > 0 ? (uint64_t)k : 0;
        while (w->first_measured > 0 && sched_at(w, w->first_measured - 1) >= r->measure_us)
            w->first_measured--;
        while (sched_at(w, w->first_measured) < r->measure_us)
            w->first_measured++;
    }
    w->end = UINT64_MAX;
    if (r->opts->requests > 0) {
        quota =
            r->opts->requests / r->nthreads + (w->id < r->opts->requests % r->nthreads ? 1u : 0u);
        w->end = w->first_measured + quota;
    }
    for (unsigned i = w->nconns; i-- > 0;) {
        w->conns[i].next = w->spare;
        w->spare = &w->conns[i];
    }
}

/* ---- both ----------------------------------------------------------- */

void lb_worker_next(lb_worker_t *w, lb_conn_t *c, bool connect_failed)
{
    if (w->stopping)
        return;
    if (w->run->open_loop)
        open_next(w, c, connect_failed);
    else
        closed_next(w, c, connect_failed);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    lb_worker_t *w = arg;

    (void)fd;
    (void)what;
    if (atomic_load_explicit(&w->run->stop, memory_order_relaxed))
        stop(w, lb_now_us());
    else if (w->run->publish)
        publish(w);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    lb_worker_t *w = arg;

    (void)fd;
    (void)what;
    stop(w, w->run->deadline_us);
}

static int setup(lb_worker_t *w)
{
    struct event_config *cfg = event_config_new();
    struct timeval tick = tv_us(TICK_US), tmo = tv_us(w->run->opts->timeout_us);

    if (cfg == NULL)
        return -1;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER | EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (w->base == NULL)
        return -1;
    w->timeout_tv = event_base_init_common_timeout(w->base, &tmo);
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    w->deadline_ev = evtimer_new(w->base, on_deadline, w);
    w->sched_ev = evtimer_new(w->base, on_sched, w);
    w->ramp_ev = evtimer_new(w->base, on_ramp, w);
    if (w->timeout_tv == NULL || w->tick_ev == NULL || w->deadline_ev == NULL ||
        w->sched_ev == NULL || w->ramp_ev == NULL)
        return -1;
    for (unsigned i = 0; i < w->nconns; i++)
        if (lb_conn_init(&w->conns[i], w) < 0)
            return -1;
    return event_add(w->tick_ev, &tick);
}

static void teardown(lb_worker_t *w)
{
    for (unsigned i = 0; i < w->nconns; i++)
        lb_conn_free(&w->conns[i]);
    if (w->tick_ev)
        event_free(w->tick_ev);
    if (w->deadline_ev)
        event_free(w->deadline_ev);
    if (w->sched_ev)
        event_free(w->sched_ev);
    if (w->ramp_ev)
        event_free(w->ramp_ev);
    if (w->base)
        event_base_free(w->base);
    w->base = NULL;
}

static void *thread_main(void *arg)
{
    lb_worker_t *w = arg;
    lb_run_t *r = w->run;
    uint64_t now;
    struct timeval tv;

    w->setup_rc = setup(w);
    pthread_barrier_wait(&r->start); /* set up */
    pthread_barrier_wait(&r->start); /* go: t0 is set */
    if (w->setup_rc != 0 || atomic_load(&r->stop))
        goto out;
    now = lb_now_us();
    tv = tv_us(r->deadline_us > now ? r->deadline_us - now : 0);
    event_add(w->deadline_ev, &tv);
    if (r->open_loop) {
        open_setup(w);
        tv = tv_us(0);
        event_add(w->sched_ev, &tv);
    } else {
        w->active = w->nconns; /* the ones not started yet included */
        on_ramp(-1, 0, w);
    }
    event_base_dispatch(w->base);
    if (w->end_us == 0)
        w->end_us = lb_now_us();
    publish(w);
out:
    teardown(w);
    atomic_fetch_add(&r->done_workers, 1);
    return NULL;
}

int lb_worker_start(lb_worker_t *w)
{
    return pthread_create(&w->thread, NULL, thread_main, w) == 0 ? 0 : -1;
}

void lb_worker_join(lb_worker_t *w)
{
    pthread_join(w->thread, NULL);
}
