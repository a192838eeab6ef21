/* registry.c - the control thread that keeps the snapshot in step with the
 * database (NOTIFY llmux_config and a periodic refresh), and the registry's
 * start and stop. Building is in registry_build.c, publishing and
 * reclaiming in registry_live.c, lookups in registry_lookup.c. */
#include "ai/registry.h"
#include "ai/catalog.h"
#include "ai/registry_build.h"
#include "ai/registry_live.h"
#include "core/clock.h"
#include "core/log.h"
#include "db/store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct {
    const lx_config_t *cfg;
    _Atomic bool db_ok;
    _Atomic bool stop;
    bool thread_started;
    pthread_t thread;
} R;

static int load_and_publish(lx_store_t *store, char *err, size_t errlen)
{
    int64_t t0 = lx_now_us();
    lx_registry_rows_t rows;
    if (lx_store_load(store, &rows, err, errlen) != LX_OK)
        return LX_ERROR;
    lx_snapshot_t *s = lx_snapshot_from_rows(R.cfg, &rows);
    lx_registry_rows_free(&rows);
    s->build_us = lx_now_us() - t0;
    if (lx_registry_publish(s) != LX_OK)
        lx_snapshot_free(s); /* every slot held: the next refresh tries again */
    return LX_OK;
}

static void *control_main(void *arg)
{
    lx_store_t *store = arg;
    int backoff_ms = 200;
    int refresh_ms = R.cfg->registry_refresh_ms;
    int64_t next_refresh = lx_wall_ms() + refresh_ms;
    char err[512];
    while (!atomic_load(&R.stop)) {
        if (store == NULL || !lx_store_ok(store)) {
            lx_store_close(store);
            store = lx_store_open(R.cfg->database_url, err, sizeof err);
            if (store == NULL || lx_store_listen(store, "llmux_config") != LX_OK ||
                load_and_publish(store, err, sizeof err) != LX_OK) {
                if (atomic_exchange(&R.db_ok, false))
                    lx_log_warn("database unavailable: serving the last snapshot", "%s", "");
                lx_store_close(store);
                store = NULL;
                for (int slept = 0; slept < backoff_ms && !atomic_load(&R.stop); slept += 50)
                    usleep(50 * 1000);
                backoff_ms = LX_MIN(backoff_ms * 2, 5000);
                continue;
            }
            if (!atomic_exchange(&R.db_ok, true))
                lx_log_info("database connected", "%s", "");
            backoff_ms = 200;
            next_refresh = lx_wall_ms() + refresh_ms;
        }
        int rc = lx_store_wait(store, 100); /* short, to notice stop */
        bool due = lx_wall_ms() >= next_refresh;
        if (rc < 0) {
            lx_store_close(store);
            store = NULL;
            continue;
        }
        if (rc == 1 || due) {
            if (load_and_publish(store, err, sizeof err) != LX_OK) {
                lx_store_close(store);
                store = NULL;
                continue;
            }
            next_refresh = lx_wall_ms() + refresh_ms;
        }
    }
    lx_store_close(store);
    lx_log_thread_done();
    return NULL;
}

int lx_registry_start(const lx_config_t *cfg, char *err, size_t errlen)
{
    R.cfg = cfg;
    atomic_store(&R.stop, false);
    if (cfg->database_url == NULL) {
        lx_registry_publish(lx_snapshot_from_config(cfg));
        return LX_OK;
    }
    lx_store_t *store = lx_store_open(cfg->database_url, err, errlen);
    if (store == NULL)
        return LX_ERROR;
    /* the catalog, then the config file's aliases (which replace a row of
     * the same public name) */
    size_t nseed = lx_catalog_len + (size_t)cfg->nmodels;
    lx_seed_model_t *seed = lx_calloc(nseed, sizeof *seed);
    char(*caps)[128] = lx_calloc(nseed, sizeof *caps);
    for (size_t i = 0; i < nseed; i++) {
        bool alias = i >= lx_catalog_len;
        const lx_model_conf_t *mc = alias ? &cfg->models[i - lx_catalog_len] : NULL;
        lx_model_info_t m = alias ? lx_alias_info(cfg, mc) : lx_catalog[i];
        lx_caps_format(m.caps, caps[i], sizeof caps[i]);
        seed[i] = (lx_seed_model_t){.provider = m.provider,
                                    .name = m.name,
                                    .capabilities = caps[i],
                                    .context_window = m.context_window,
                                    .max_output = m.max_output,
                                    .input_per_1m = m.input_per_1m,
                                    .output_per_1m = m.output_per_1m,
                                    .cached_per_1m = m.cached_per_1m,
                                    .public_name = alias ? mc->name : NULL};
    }
    int rc = lx_store_sync(store, cfg, seed, nseed, err, errlen);
    free(seed);
    free(caps);
    if (rc != LX_OK || lx_store_listen(store, "llmux_config") != LX_OK ||
        load_and_publish(store, err, errlen) != LX_OK) {
        lx_store_close(store);
        return LX_ERROR;
    }
    atomic_store(&R.db_ok, true);
    /* The thread starts with SIGTERM and SIGINT blocked: they belong to the
     * main thread's sigwait. Were they open here, one sent while the main
     * thread is not waiting (just before or after its sigwait) would land on
     * this thread and kill the process without a drain. */
    sigset_t stop, prev;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &prev);
    int trc = pthread_create(&R.thread, NULL, control_main, store);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (trc != 0) {
        lx_store_close(store);
        snprintf(err, errlen, "cannot start the registry thread");
        return LX_ERROR;
    }
    R.thread_started = true;
    return LX_OK;
}

void lx_registry_stop(void)
{
    atomic_store(&R.stop, true);
    if (R.thread_started)
        pthread_join(R.thread, NULL);
    R.thread_started = false;
    lx_registry_retire_all();
}

bool lx_registry_db_ok(void)
{
    return atomic_load_explicit(&R.db_ok, memory_order_relaxed);
}
