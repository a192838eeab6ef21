/* test_registry.c - unit tests for the registry's snapshot lifetime
 * (src/ai/registry_live.c) and the group state that lives outside the
 * snapshot: a reference held across republications stays valid and the
 * snapshot is freed exactly when the last one is released; readers in
 * threads against a publisher in a loop (run under ASan: a snapshot freed
 * while a reader can still reach it is a use-after-free report); a group's
 * round-robin cursor goes on across republications. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/registry.h"
#include "ai/registry_build.h"
#include "ai/registry_live.h"
#include "ai/routing/route.h"
#include "ai/routing/state.h"
#include "core/clock.h"
#include "core/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static lx_config_t cfg;

static const char *const CONFIG =
    "{\"providers\": {\"demo\": {\"kind\": \"openai_compatible\","
    "                            \"base_url\": \"http://127.0.0.1:9\", \"api_key\": \"sk-test\"}},"
    " \"groups\": {\"rr\": {\"strategy\": \"round_robin\", \"members\": ["
    "   {\"provider\": \"demo\", \"model\": \"one\"},"
    "   {\"provider\": \"demo\", \"model\": \"two\"},"
    "   {\"provider\": \"demo\", \"model\": \"three\"}]}}}";

static int setup(void **state)
{
    (void)state;
    lx_log_min_level = LX_LOG_ERROR;
    lx_config_defaults(&cfg);
    char err[256];
    if (lx_config_apply_json(&cfg, CONFIG, strlen(CONFIG), err, sizeof err) != LX_OK) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    return lx_route_state_init(1024) == LX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lx_registry_retire_all();
    lx_route_state_shutdown();
    lx_config_free(&cfg);
    return 0;
}

/* Each test starts with one published snapshot and ends with none. */
static int before(void **state)
{
    (void)state;
    lx_registry_publish(lx_snapshot_from_config(&cfg));
    return lx_registry_live() == 1 ? 0 : -1;
}

static int after(void **state)
{
    (void)state;
    lx_registry_retire_all();
    return lx_registry_live() == 0 ? 0 : -1;
}

static void republish(int times)
{
    for (int i = 0; i < times; i++)
        lx_registry_publish(lx_snapshot_from_config(&cfg));
}

/* A snapshot nobody holds goes as soon as it is replaced, one that is held
 * stays whole across republications and goes with its last release.
 * Against the old reclamation (a replaced snapshot freed by the publisher
 * once unheld AND 2 s old) the counts after the republications are 4, not
 * 2, and the releases free nothing. */
static void test_held_reference_freed_at_last_release(void **state)
{
    (void)state;
    lx_snapshot_t *a = lx_registry_acquire(), *b = lx_registry_acquire();
    assert_non_null(a);
    assert_ptr_equal(a, b);
    uint64_t v = a->version;
    republish(3);
    assert_int_equal(lx_registry_version(), v + 3);
    /* the held one and the current one; the two in between are gone */
    assert_int_equal(lx_registry_live(), 2);
    /* still whole: its strings, indexes and groups */
    assert_int_equal(a->version, v);
    const lx_provider_t *p = lx_snapshot_provider(a, lx_str("demo"));
    assert_non_null(p);
    assert_string_equal(p->conf.name, "demo");
    assert_string_equal(p->conf.api_key, "sk-test");
    assert_non_null(lx_snapshot_group(a, lx_str("rr")));
    lx_snapshot_t *cur = lx_registry_acquire();
    assert_ptr_not_equal(cur, a);
    assert_int_equal(cur->version, v + 3);
    lx_registry_release(cur);
    lx_registry_release(a);
    assert_int_equal(lx_registry_live(), 2); /* b still holds it */
    lx_registry_release(b);
    assert_int_equal(lx_registry_live(), 1); /* freed by that release */
    /* the current one is not freed by its readers' releases */
    cur = lx_registry_acquire();
    lx_registry_release(cur);
    assert_int_equal(lx_registry_live(), 1);
}

/* A replaced snapshot that no request held is freed by the publish that
 * replaced it (the old scheme kept every one for 2 s: live grew to 51). */
static void test_unheld_snapshots_do_not_accumulate(void **state)
{
    (void)state;
    republish(50);
    assert_int_equal(lx_registry_live(), 1);
}

/* --- readers in threads against a publisher ------------------------------ */

#define READERS 3
#define HOLD    4 /* references each reader keeps across republications */

typedef struct {
    pthread_t t;
    _Atomic bool *stop;
    long acquired;
    long republished_under; /* references that outlived a newer snapshot */
    bool bad;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    lx_snapshot_t *held[HOLD] = {0};
    uint64_t last = 0;
    unsigned i = 0;
    while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
        lx_snapshot_t *s = lx_registry_acquire();
        if (s == NULL || s->version < last) { /* versions never go back */
            r->bad = true;
            break;
        }
        last = s->version;
        r->acquired++;
        /* read it through: a freed one is an ASan report here */
        const lx_provider_t *p = lx_snapshot_provider(s, lx_str("demo"));
        const lx_group_entry_t *g = lx_snapshot_group(s, lx_str("rr"));
        if (p == NULL || strcmp(p->conf.api_key, "sk-test") != 0 || g == NULL || g->ntargets != 3 ||
            strcmp(g->targets[2].upstream_model, "three") != 0)
            r->bad = true;
        /* keep a few for a while, so releases race with publishes */
        unsigned k = i++ % HOLD;
        if (held[k]) {
            if (held[k]->version < lx_registry_version())
                r->republished_under++;
            if (strcmp(held[k]->providers[0].conf.name, "demo") != 0)
                r->bad = true;
            lx_registry_release(held[k]);
        }
        held[k] = s;
    }
    for (int k = 0; k < HOLD; k++)
        lx_registry_release(held[k]);
    return NULL;
}

/* Bounded: 400 ms. Against the old scheme the final count fails (every
 * snapshot replaced in the last 2 s is still there); a scheme that frees a
 * snapshot a reader has just loaded fails under ASan. */
static void test_readers_and_republications(void **state)
{
    (void)state;
    _Atomic bool stop = false;
    reader_t r[READERS];
    memset(r, 0, sizeof r);
    for (int i = 0; i < READERS; i++) {
        r[i].stop = &stop;
        assert_int_equal(pthread_create(&r[i].t, NULL, reader_main, &r[i]), 0);
    }
    int64_t end = lx_wall_ms() + 400;
    long published = 0;
    while (lx_wall_ms() < end) {
        republish(1);
        published++;
    }
    atomic_store(&stop, true);
    long acquired = 0, under = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(r[i].t, NULL);
        assert_false(r[i].bad);
        acquired += r[i].acquired;
        under += r[i].republished_under;
    }
    print_message("# %ld publications, %ld references (%ld held across a publication)\n", published,
                  acquired, under);
    assert_true(published > 10);
    assert_true(acquired > 100);
    assert_true(under > 0);
    assert_int_equal(lx_registry_live(), 1); /* every reader is done: only the current */
}

/* --- group state outside the snapshot ------------------------------------ */

static int first_member(void)
{
    lx_snapshot_t *s = lx_registry_acquire();
    const lx_group_entry_t *g = lx_snapshot_group(s, lx_str("rr"));
    assert_non_null(g);
    lx_route_conf_t conf;
    lx_route_conf_default(&conf);
    lx_rng_t rng;
    lx_rng_seed(&rng, 7);
    uint16_t order[LX_GROUP_MAX_MEMBERS];
    int k = lx_group_order(&g->sel, &conf, lx_wall_ms(), &rng, order, LX_GROUP_MAX_MEMBERS, NULL);
    assert_int_equal(k, 3);
    lx_registry_release(s);
    return order[0];
}

/* Round robin takes turns across snapshots: a republication (a NOTIFY, the
 * periodic refresh) neither restarts the cycle at the first member nor
 * skips one. A cursor kept in the snapshot fails the first republication. */
static void test_group_cursor_continues_across_republications(void **state)
{
    (void)state;
    int first = first_member();
    for (int i = 1; i <= 10; i++) {
        if (i % 2 == 0)
            republish(i % 4 == 0 ? 2 : 1);
        assert_int_equal(first_member(), (first + i) % 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_held_reference_freed_at_last_release, before, after),
        cmocka_unit_test_setup_teardown(test_unheld_snapshots_do_not_accumulate, before, after),
        cmocka_unit_test_setup_teardown(test_readers_and_republications, before, after),
        cmocka_unit_test_setup_teardown(test_group_cursor_continues_across_republications, before,
                                        after),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
