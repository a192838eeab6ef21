/* main.c - start-up (config, migrations, workers) and signal handling.
 *
 * Start-up may block and fails fast with a clear message; after the workers
 * start, the main thread only waits for signals. SIGTERM/SIGINT drain: stop
 * accepting, let in-flight requests and streams end (up to drain_timeout_ms),
 * then exit 0. A second signal closes what remains at once. */
#include "app/app.h"
#include "core/clock.h"
#include "core/log.h"
#include "ai/call.h"
#include "ai/routing/limits.h"
#include "ai/routing/state.h"
#include "ai/registry.h"
#include "ai/signin.h"
#include "db/conninfo.h"
#include "db/migrate.h"
#include "db/store.h"
#include "lx_version.h"
#include "media/jobs_conf.h"
#include "obs/trace_conf.h"

#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

/* The trace exporter's settings (obs/trace_conf.h): checked in main for
 * every command, read-only once the workers start. */
static lx_trace_conf_t trace_conf;

static int check_config(const lx_config_t *cfg)
{
    printf("configuration OK\n  listen: %s:%d\n  workers: %d\n  database: %s\n  admin key: %s\n"
           "  master key: %s\n  providers:",
           cfg->listen_host, cfg->listen_port, cfg->workers,
           cfg->database_url ? "configured" : "none", cfg->admin_key ? "set" : "not set",
           cfg->has_master_key ? "set" : "not set");
    for (int i = 0; i < cfg->nproviders; i++)
        printf(" %s(%s)", cfg->providers[i].name, lx_provider_kind_name(cfg->providers[i].kind));
    printf("%s\n", cfg->nproviders ? "" : " none");
    printf("  traces: %s\n", trace_conf.enabled ? "on" : "off"); /* the URL may hold a secret */
    return 0;
}

static int migrate(const lx_config_t *cfg)
{
    if (cfg->database_url == NULL) {
        fprintf(stderr, "llmux: database_url: required (set LLMUX_DATABASE_URL)\n");
        return 2;
    }
    char err[600];
    int n = lx_db_migrate(cfg->database_url, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "llmux: %s\n", err);
        return 1;
    }
    printf("%d migration(s) applied\n", n);
    return 0;
}

static int rotate_master_key(const lx_config_t *cfg)
{
    if (cfg->database_url == NULL || !cfg->has_master_key || !cfg->has_master_key_old) {
        fprintf(stderr, "llmux: rotate-master-key needs LLMUX_DATABASE_URL, LLMUX_MASTER_KEY (the "
                        "new key) and LLMUX_MASTER_KEY_OLD (the current one)\n");
        return 2;
    }
    char err[600];
    /* a database an older version left behind: the sealed columns first */
    if (lx_db_migrate(cfg->database_url, err, sizeof err) < 0) {
        fprintf(stderr, "llmux: %s\n", err);
        return 1;
    }
    lx_store_t *store = lx_store_open(cfg->database_url, err, sizeof err);
    if (store == NULL) {
        fprintf(stderr, "llmux: %s\n", err);
        return 1;
    }
    int nheaders = 0;
    int n =
        lx_store_rotate(store, cfg->master_key_old, cfg->master_key, &nheaders, err, sizeof err);
    lx_store_close(store);
    if (n < 0) {
        fprintf(stderr, "llmux: rotation failed, nothing changed: %s\n", err);
        return 1;
    }
    printf("%d credential(s) re-encrypted with the new master key\n", n);
    printf("%d provider header set(s) re-encrypted with the new master key\n", nheaders);
    return 0;
}

/* A stream holds two sockets (client and upstream): take all the open files
 * the hard limit allows, as nginx's worker_rlimit_nofile would. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            lx_log_warn("cannot raise the open-file limit", "\"to\":%llu",
                        (unsigned long long)rl.rlim_max);
    }
}

static int serve(lx_config_t *cfg)
{
    lx_app_t app = {.cfg = cfg, .started_ms = lx_wall_ms(), .trace_conf = &trace_conf};
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (lx_upstream_global_init() != LX_OK) {
        lx_log_error("curl initialisation failed", "%s", "");
        return 1;
    }
    if (cfg->database_url) {
        char err[600];
        if (lx_db_migrate(cfg->database_url, err, sizeof err) < 0) {
            fprintf(stderr, "llmux: %s\n", err);
            return 1;
        }
    }
    lx_routing_init(&app.routing, cfg);
    lx_route_state_init(0);
    /* Tests: rate-limit windows read a fixed time (see limits.h). */
    const char *rate_clock = getenv("LLMUX_TEST_RATE_CLOCK_MS");
    if (rate_clock && *rate_clock)
        lx_limits_fix_window_clock(strtoll(rate_clock, NULL, 10));
    lx_admin_budget_init(cfg);
    /* Tests: budget periods follow a clock started at this time (budget_sync.h). */
    const char *budget_clock = getenv("LLMUX_TEST_BUDGET_CLOCK_MS");
    if (budget_clock && *budget_clock)
        lx_budget_clock_start(strtoll(budget_clock, NULL, 10));
    /* Tasks (task.h): the executors, the instance id, the settings. */
    const char *test_tasks = getenv("LLMUX_TEST_TASKS");
    if (test_tasks && strcmp(test_tasks, "1") == 0)
        lx_task_register(&lx_task_test_executor);
    lx_media_exec_register(lx_app_media_resolve);
    lx_admin_set_jobs_check(lx_media_jobs_validate);
    const char *crash = getenv("LLMUX_TEST_TASK_CRASH");
    app.task_crash_after_submit = crash && strcmp(crash, "after_submit") == 0;
    /* Tests: every /metrics render takes this much longer (scrape.h). */
    const char *scrape_delay = getenv("LLMUX_TEST_SCRAPE_DELAY_MS");
    if (scrape_delay && *scrape_delay)
        app.test_scrape_delay_ms = (int)LX_MIN(strtol(scrape_delay, NULL, 10), 60000);
    app.task_conf = (lx_task_conf_t){
        .poll_min_ms = cfg->tasks.poll_min_ms,
        .poll_max_ms = cfg->tasks.poll_max_ms,
        .lease_ms = cfg->tasks.lease_ms,
        .renew_ms = cfg->tasks.renew_ms,
        .claim_ms = cfg->tasks.claim_ms,
        .unreachable_ms = cfg->tasks.unreachable_ms,
        .max_age_ms = cfg->tasks.max_age_ms,
        .pool = cfg->tasks.pool,
        .webhook_max_attempts = 10,
    };
    lx_log_info("task instance", "\"instance\":\"%s\"", lx_task_instance_id());
    /* Key/user/team allowances: leased through the database when there is one. */
    lx_allow_set_shared(cfg->database_url != NULL);
    char rerr[600];
    /* JWT sign-in: its key set (the JWKS file is read here, off the loops) */
    if (lx_signin_start(cfg, rerr, sizeof rerr) != LX_OK) {
        fprintf(stderr, "llmux: %s\n", rerr);
        return 1;
    }
    if (lx_registry_start(cfg, rerr, sizeof rerr) != LX_OK) {
        fprintf(stderr, "llmux: %s\n", rerr);
        lx_signin_stop();
        return 1;
    }
    /* Workers inherit this mask: only the main thread takes the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    app.nworkers = cfg->workers;
    app.workers = lx_calloc((size_t)app.nworkers, sizeof *app.workers);
    app.scraper = lx_scraper_start(&app); /* after the mask: it takes no signal */
    if (app.scraper == NULL) {
        fprintf(stderr, "llmux: cannot start the scrape thread\n");
        return 1;
    }
    for (int i = 0; i < app.nworkers; i++) {
        if (lx_worker_start(&app.workers[i], &app, i) != LX_OK) {
            fprintf(stderr, "llmux: cannot start worker %d (is %s:%d already in use?)\n", i,
                    cfg->listen_host, cfg->listen_port);
            return 1;
        }
    }
    pthread_barrier_init(&app.loops_done, NULL, (unsigned)app.nworkers);
    for (int i = 0; i < app.nworkers; i++)
        lx_worker_go(&app.workers[i]);
    lx_log_info("llmux ready",
                "\"version\":\"%s\",\"listen\":\"%s:%d\",\"workers\":%d,\"providers\":%d",
                LX_VERSION, cfg->listen_host, cfg->listen_port, app.nworkers, cfg->nproviders);

    int signals = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        signals++;
        lx_log_info(signals == 1 ? "draining" : "stopping now",
                    "\"signal\":%d,\"drain_timeout_ms\":%d", sig, cfg->drain_timeout_ms);
        for (int i = 0; i < app.nworkers; i++)
            lx_worker_signal(&app.workers[i], signals == 1 ? 1 : 2);
        break;
    }
    /* A second signal while we wait for the workers forces the stop. */
    struct timespec poll = {0, 50 * 1000 * 1000};
    for (int i = 0; i < app.nworkers; i++) {
        while (pthread_tryjoin_np(app.workers[i].thread, NULL) != 0) {
            siginfo_t info;
            if (sigtimedwait(&set, &info, &poll) > 0) {
                lx_log_info("stopping now", "\"signal\":%d", info.si_signo);
                for (int k = 0; k < app.nworkers; k++)
                    lx_worker_signal(&app.workers[k], 2);
            }
        }
    }
    lx_scraper_free(app.scraper); /* the workers stopped it; joined already */
    for (int i = 0; i < app.nworkers; i++)
        lx_worker_release(&app.workers[i]);
    pthread_barrier_destroy(&app.loops_done);
    free(app.workers);
    lx_registry_stop();
    lx_signin_stop();
    lx_route_state_shutdown();
    lx_upstream_global_cleanup();
    lx_log_info("llmux stopped", "%s", "");
    return 0;
}

int main(int argc, char **argv)
{
    lx_config_t cfg;
    lx_config_defaults(&cfg);
    char err[512];
    int rc = lx_config_load(&cfg, argc, argv, environ, err, sizeof err);
    if (rc == LX_DONE) {
        lx_config_free(&cfg);
        return 0;
    }
    if (rc != LX_OK) {
        fprintf(stderr, "llmux: config error: %s\n", err);
        lx_config_free(&cfg);
        return 2;
    }
    lx_log_min_level = cfg.log_level;
    /* libpq parses the URL now, for every command: a malformed one is a
     * config error naming database_url, never echoing the password. */
    if (cfg.database_url && lx_conninfo_check(cfg.database_url, err, sizeof err) != LX_OK) {
        fprintf(stderr, "llmux: config error: %s\n", err);
        lx_config_free(&cfg);
        return 2;
    }
    if (lx_trace_conf_build(&cfg.tracing, &trace_conf, err, sizeof err) != LX_OK) {
        fprintf(stderr, "llmux: config error: %s\n", err);
        lx_config_free(&cfg);
        return 2;
    }
    if (strcmp(cfg.command, "check-config") == 0)
        rc = check_config(&cfg);
    else if (strcmp(cfg.command, "migrate") == 0)
        rc = migrate(&cfg);
    else if (strcmp(cfg.command, "rotate-master-key") == 0)
        rc = rotate_master_key(&cfg);
    else
        rc = serve(&cfg);
    lx_trace_conf_free(&trace_conf);
    lx_config_free(&cfg);
    lx_log_thread_done();
    return rc;
}
