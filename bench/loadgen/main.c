/* main.c - llmux-bench: start-up (options, file limit, target, workers), the
 * main thread's watch loop during the run (stop order on SIGINT/SIGTERM, RSS
 * samples every 100 ms, the progress line 4 times a second), then the merged
 * results, the summary and the JSON. Exit: 0 when the run completed, 1 on a
 * setup failure, 2 on bad usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "opts.h"
#include "progress.h"
#include "report.h"
#include "rss.h"
#include "run.h"
#include "stream.h"
#include "target.h"
#include "worker.h"

#define WATCH_US    10000u
#define RSS_US      100000u
#define PROGRESS_US 250000u

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Raises the soft open-file limit to the hard one; warns if the
 * connections still cannot fit. */
static void raise_nofile(unsigned need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)need + 64 > rl.rlim_cur)
        fprintf(stderr,
                "llmux-bench: warning: open-file limit %llu is below %u connections; "
                "expect connect errors (raise the hard limit: ulimit -Hn)\n",
                (unsigned long long)rl.rlim_cur, need);
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted)
        ;
}

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* --ttfc-log: every thread's (start, ttfc) pairs, sorted by start. */
static int write_ttfc_log(const char *path, lb_worker_t *ws, unsigned nw)
{
    size_t n = 0, k = 0;
    for (unsigned i = 0; i < nw; i++)
        n += ws[i].ttfc_n;
    uint64_t *all = malloc((n ? n : 1) * 2 * sizeof(*all));
    FILE *f = fopen(path, "w");
    if (all == NULL || f == NULL) {
        fprintf(stderr, "llmux-bench: cannot write %s\n", path);
        free(all);
        if (f)
            fclose(f);
        return -1;
    }
    for (unsigned i = 0; i < nw; i++) {
        memcpy(all + 2 * k, ws[i].ttfc_rec, ws[i].ttfc_n * 2 * sizeof(*all));
        k += ws[i].ttfc_n;
    }
    qsort(all, n, 2 * sizeof(*all), cmp_pair);
    fprintf(f, "# start_us ttfc_us\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%llu %llu\n", (unsigned long long)all[2 * i],
                (unsigned long long)all[2 * i + 1]);
    free(all);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    lb_opts_t o;
    lb_target_t target;
    lb_expect_t expect = {0};
    lb_rss_t rss;
    lb_run_t run;
    lb_worker_t *ws = NULL;
    lb_stats_t *total = NULL;
    lb_progress_t prog = {0};
    struct sigaction sa;
    unsigned nw;
    uint64_t now, next_rss, next_prog, end_us = 0;
    int rc = 1;

    switch (lb_opts_parse(&o, argc, argv)) {
    case LB_OPTS_EXIT:
        return 0;
    case LB_OPTS_USAGE:
        return 2;
    case LB_OPTS_RUN:
        break;
    }
    switch (lb_target_init(&target, &o)) {
    case 0:
        break;
    case -1:
        return 2;
    default:
        return 1;
    }
    if (o.rss_pid > 0 && lb_rss_init(&rss, o.rss_pid) < 0) {
        fprintf(stderr, "llmux-bench: --rss-pid %ld: cannot read /proc/%ld/status\n", o.rss_pid,
                o.rss_pid);
        lb_target_free(&target);
        return 2;
    }
    if (o.expect_chunks > 0 && lb_expect_build(&expect, o.expect_chunks) < 0)
        goto out;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    raise_nofile(o.concurrency);

    nw = o.threads;
    memset(&run, 0, sizeof(run));
    run.opts = &o;
    run.target = &target;
    run.expect = o.expect_chunks > 0 ? &expect : NULL;
    run.open_loop = o.rate > 0;
    run.nthreads = nw;
    run.publish = o.progress && isatty(STDERR_FILENO);
    atomic_init(&run.claimed, 0);
    atomic_init(&run.stop, false);
    atomic_init(&run.done_workers, 0);
    if (lb_progress_init(&prog, run.publish) < 0 ||
        pthread_barrier_init(&run.start, NULL, nw + 1) != 0)
        goto out;
    ws = calloc(nw, sizeof(*ws));
    total = malloc(sizeof(*total));
    if (ws == NULL || total == NULL)
        goto out_barrier;
    for (unsigned i = 0; i < nw; i++) {
        unsigned share = o.concurrency / nw + (i < o.concurrency % nw ? 1u : 0u);
        if (lb_worker_init(&ws[i], &run, i, share) < 0) {
            fprintf(stderr, "llmux-bench: out of memory\n");
            for (unsigned j = 0; j <= i; j++)
                lb_worker_free(&ws[j]);
            goto out_barrier;
        }
    }
    for (unsigned i = 0; i < nw; i++) {
        if (lb_worker_start(&ws[i]) < 0) {
            /* Started threads wait at the barrier: fail fast, this is start-up. */
            fprintf(stderr, "llmux-bench: cannot start thread %u\n", i);
            exit(1);
        }
    }

    pthread_barrier_wait(&run.start); /* every worker is set up */
    for (unsigned i = 0; i < nw; i++)
        if (ws[i].setup_rc != 0) {
            fprintf(stderr, "llmux-bench: worker %u could not set up its event loop\n", i);
            atomic_store(&run.stop, true);
        }
    run.t0_us = lb_now_us();
    run.measure_us = run.t0_us + o.warmup_us;
    run.deadline_us = run.measure_us + o.duration_us;
    pthread_barrier_wait(&run.start); /* go */

    next_rss = run.t0_us + RSS_US;
    next_prog = run.t0_us + PROGRESS_US;
    while (atomic_load(&run.done_workers) < nw) {
        sleep_us(WATCH_US);
        if (interrupted)
            atomic_store(&run.stop, true);
        now = lb_now_us();
        if (o.rss_pid > 0 && now >= next_rss) {
            lb_rss_sample(&rss);
            next_rss += RSS_US;
            if (next_rss <= now)
                next_rss = now + RSS_US;
        }
        if (prog.on && now >= next_prog) {
            lb_progress_draw(&prog, ws, nw, &run, now);
            next_prog = now + PROGRESS_US;
        }
    }
    for (unsigned i = 0; i < nw; i++)
        lb_worker_join(&ws[i]);
    lb_progress_clear(&prog);
    if (o.rss_pid > 0)
        lb_rss_sample(&rss);
    if (atomic_load(&run.stop) && !interrupted) /* a worker failed to set up */
        goto out_workers;

    lb_stats_init(total);
    for (unsigned i = 0; i < nw; i++) {
        lb_stats_merge(total, &ws[i].stats);
        if (ws[i].end_us > end_us)
            end_us = ws[i].end_us;
    }
    {
        lb_report_t rep = {
            .opts = &o,
            .target = &target,
            .stats = total,
            .threads = nw,
            .measured_s = end_us > run.measure_us ? (double)(end_us - run.measure_us) / 1e6 : 0,
            .warmup_s = (double)o.warmup_us / 1e6,
            .interrupted = interrupted != 0,
            .rss = o.rss_pid > 0 ? &rss : NULL,
        };
        bool json_stdout = o.json_path != NULL && strcmp(o.json_path, "-") == 0;
        lb_report_human(json_stdout ? stderr : stdout, &rep);
        fflush(stdout);
        rc = 0;
        if (o.json_path != NULL && lb_report_json(o.json_path, &rep) < 0)
            rc = 1;
        if (o.ttfc_log != NULL && write_ttfc_log(o.ttfc_log, ws, nw) < 0)
            rc = 1;
    }
out_workers:
    for (unsigned i = 0; i < nw; i++)
        lb_worker_free(&ws[i]);
out_barrier:
    pthread_barrier_destroy(&run.start);
out:
    free(ws);
    free(total);
    lb_progress_free(&prog);
    lb_expect_free(&expect);
    lb_target_free(&target);
    return rc;
}
