/* scrape.c - the scrape thread and the workers' inboxes (scrape.h). */
#include "app/scrape.h"
#include "app/app.h"
#include "core/buf.h"
#include "core/log.h"

#include <errno.h>
#include <event2/event.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* One render's text, shared by the jobs of its batch; the last worker to
 * reply frees it. */
typedef struct {
    _Atomic int refs;
    lx_buf_t b;
} body_t;

struct lx_scrape_job {
    lx_scrape_job_t *next; /* the list it is on (queue or inbox) */
    lx_scrape_inbox_t *in; /* its worker's inbox */
    lx_req_t *req;         /* the worker's only; NULL once the client left */
    body_t *body;          /* set by the scrape thread; NULL: not rendered */
};

struct lx_scraper {
    lx_app_t *app;
    pthread_t thread;
    sem_t wake;
    _Atomic(lx_scrape_job_t *) queue; /* pushed by workers, taken whole */
    _Atomic int jobs;                 /* queued, rendering or in an inbox */
    _Atomic bool stop;
    _Atomic uint64_t renders;
    size_t last_len;         /* the scrape thread's: the previous text's size */
    pthread_mutex_t stop_mu; /* shutdown only */
    bool joined;
};

static void push(_Atomic(lx_scrape_job_t *) *head, lx_scrape_job_t *j)
{
    lx_scrape_job_t *old = atomic_load_explicit(head, memory_order_relaxed);
    do
        j->next = old;
    while (!atomic_compare_exchange_weak_explicit(head, &old, j, memory_order_release,
                                                  memory_order_relaxed));
}

/* Everything on the list, oldest first. */
static lx_scrape_job_t *take_all(_Atomic(lx_scrape_job_t *) *head)
{
    lx_scrape_job_t *j = atomic_exchange_explicit(head, NULL, memory_order_acquire), *rev = NULL;
    while (j) {
        lx_scrape_job_t *next = j->next;
        j->next = rev;
        rev = j;
        j = next;
    }
    return rev;
}

static void body_release(body_t *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        lx_buf_free(&b->b);
        free(b);
    }
}

/* Hands a batch back to its workers: each job onto its inbox, and each
 * inbox rung once per job (an eventfd adds the writes up; one read takes
 * them all). */
static void hand_back(lx_scrape_job_t *j, body_t *body)
{
    while (j) {
        lx_scrape_job_t *next = j->next;
        lx_scrape_inbox_t *in = j->in;
        j->body = body;
        push(&in->done, j);
        uint64_t one = 1;
        ssize_t r = write(in->fd, &one, sizeof one); /* cannot block: never near 2^64 - 1 */
        (void)r;
        j = next;
    }
}

static void *scrape_main(void *arg)
{
    lx_scraper_t *s = arg;
    for (;;) {
        while (sem_wait(&s->wake) != 0) /* EINTR */
            ;
        lx_scrape_job_t *batch = take_all(&s->queue);
        bool stop = atomic_load_explicit(&s->stop, memory_order_acquire);
        if (batch == NULL) {
            if (stop)
                break;
            continue; /* a wake-up whose jobs an earlier batch took */
        }
        if (stop) {
            hand_back(batch, NULL);
            continue;
        }
        int n = 0;
        for (lx_scrape_job_t *j = batch; j; j = j->next)
            n++;
        body_t *body = lx_alloc(sizeof *body);
        atomic_init(&body->refs, n);
        /* room for the previous text and some: no regrowth copies */
        lx_buf_init(&body->b, LX_MAX(s->last_len + s->last_len / 8, 64 * 1024));
        lx_app_metrics(s->app, &body->b); /* takes and releases its snapshot here */
        s->last_len = body->b.n;
        atomic_fetch_add_explicit(&s->renders, 1, memory_order_relaxed);
        hand_back(batch, body);
    }
    lx_log_thread_done();
    return NULL;
}

lx_scraper_t *lx_scraper_start(lx_app_t *app)
{
    lx_scraper_t *s = lx_calloc(1, sizeof *s);
    s->app = app;
    sem_init(&s->wake, 0, 0);
    pthread_mutex_init(&s->stop_mu, NULL);
    if (pthread_create(&s->thread, NULL, scrape_main, s) != 0) {
        sem_destroy(&s->wake);
        pthread_mutex_destroy(&s->stop_mu);
        free(s);
        return NULL;
    }
    return s;
}

void lx_scraper_stop(lx_scraper_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->stop_mu);
    if (!s->joined) {
        atomic_store_explicit(&s->stop, true, memory_order_release);
        sem_post(&s->wake);
        pthread_join(s->thread, NULL);
        s->joined = true;
    }
    pthread_mutex_unlock(&s->stop_mu);
}

void lx_scraper_free(lx_scraper_t *s)
{
    if (s == NULL)
        return;
    lx_scraper_stop(s);
    sem_destroy(&s->wake);
    pthread_mutex_destroy(&s->stop_mu);
    free(s);
}

uint64_t lx_scraper_renders(const lx_scraper_t *s)
{
    return s ? atomic_load_explicit(&s->renders, memory_order_relaxed) : 0;
}

/* ---- the worker's side ---- */

static void job_free(lx_scrape_job_t *j)
{
    body_release(j->body);
    atomic_fetch_sub_explicit(&j->in->scraper->jobs, 1, memory_order_relaxed);
    free(j);
}

/* The client left while its scrape was out: the job stays with the scrape
 * thread and is freed when it comes back. */
static void on_abort(lx_req_t *req, void *arg)
{
    lx_scrape_job_t *j = arg;
    j->req = NULL;
}

static void inbox_cb(evutil_socket_t fd, short what, void *arg)
{
    lx_scrape_inbox_t *in = arg;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    for (lx_scrape_job_t *j = take_all(&in->done), *next; j; j = next) {
        next = j->next;
        lx_req_t *req = j->req;
        if (req) {
            lx_req_on_abort(req, NULL, NULL);
            if (j->body)
                lx_req_reply(req, 200, "text/plain; version=0.0.4", j->body->b.p, j->body->b.n);
            else
                lx_req_reply_error(req, LX_E_UNAVAILABLE, "shutting down", NULL);
        }
        job_free(j);
    }
}

int lx_scrape_inbox_init(lx_scrape_inbox_t *in, lx_scraper_t *s)
{
    *in = (lx_scrape_inbox_t){.scraper = s};
    atomic_init(&in->done, NULL);
    in->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return in->fd < 0 ? LX_ERROR : LX_OK;
}

int lx_scrape_inbox_attach(lx_scrape_inbox_t *in, struct event_base *base)
{
    in->ev = event_new(base, in->fd, EV_READ | EV_PERSIST, inbox_cb, in);
    return in->ev && event_add(in->ev, NULL) == 0 ? LX_OK : LX_ERROR;
}

void lx_scrape_inbox_fini(lx_scrape_inbox_t *in)
{
    for (lx_scrape_job_t *j = take_all(&in->done), *next; j; j = next) {
        next = j->next;
        job_free(j); /* its request is gone: the server's free ran its abort callback */
    }
    if (in->ev)
        event_free(in->ev);
    in->ev = NULL;
}

void lx_scrape_inbox_release(lx_scrape_inbox_t *in)
{
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
}

int lx_scrape_submit(lx_scrape_inbox_t *in, lx_req_t *req)
{
    lx_scraper_t *s = in->scraper;
    if (s == NULL || in->ev == NULL ||
        atomic_fetch_add_explicit(&s->jobs, 1, memory_order_relaxed) >= LX_SCRAPE_MAX_JOBS) {
        if (s && in->ev)
            atomic_fetch_sub_explicit(&s->jobs, 1, memory_order_relaxed);
        lx_req_set_header(req, "Retry-After", "1");
        lx_req_reply_error(req, LX_E_UNAVAILABLE, "too many scrapes at once", NULL);
        return LX_OK;
    }
    lx_scrape_job_t *j = lx_calloc(1, sizeof *j);
    j->in = in;
    j->req = req;
    lx_req_on_abort(req, on_abort, j);
    push(&s->queue, j);
    sem_post(&s->wake);
    return LX_AGAIN;
}
