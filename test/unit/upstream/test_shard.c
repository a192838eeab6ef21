/* src/upstream/shard.c: which shard a new transfer goes on (shard.h). */
#include "upstream/shard.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

typedef lx_up_shard_load_t load_t;

/* Low load: one shard serves everything. */
static void test_single_shard(void **state)
{
    (void)state;
    load_t one[] = {{0, 0}};
    assert_int_equal(lx_up_shard_pick(one, 1, 256, 64), 0);
    load_t busy[] = {{255, 0}};
    assert_int_equal(lx_up_shard_pick(busy, 1, 256, 64), 0);
}

/* Full: a new shard, while fewer than max. */
static void test_full_makes_new(void **state)
{
    (void)state;
    load_t full[] = {{256, 0}};
    assert_int_equal(lx_up_shard_pick(full, 1, 256, 64), 1);
    load_t full2[] = {{256, 3}, {300, 0}};
    assert_int_equal(lx_up_shard_pick(full2, 2, 256, 64), 2); /* idle, but no room */
}

/* All full and max reached: the least loaded. */
static void test_max_least_loaded(void **state)
{
    (void)state;
    load_t full[] = {{400, 0}, {260, 0}, {300, 0}};
    assert_int_equal(lx_up_shard_pick(full, 3, 256, 3), 1);
    load_t capped[] = {{1000, 0}}; /* a lane with a connection cap: max 1 */
    assert_int_equal(lx_up_shard_pick(capped, 1, 256, 1), 0);
}

/* Room: the least loaded, lowest index on a tie. */
static void test_least_loaded_with_room(void **state)
{
    (void)state;
    load_t l[] = {{200, 0}, {100, 0}, {150, 0}};
    assert_int_equal(lx_up_shard_pick(l, 3, 256, 64), 1);
    load_t tie[] = {{256, 0}, {10, 0}, {10, 0}};
    assert_int_equal(lx_up_shard_pick(tie, 3, 256, 64), 1);
    load_t quiet[] = {{0, 0}, {0, 0}};
    assert_int_equal(lx_up_shard_pick(quiet, 2, 256, 64), 0);
}

/* An idle connection to reuse wins over a less loaded shard without one. */
static void test_prefers_idle(void **state)
{
    (void)state;
    load_t l[] = {{0, 0}, {5, 2}};
    assert_int_equal(lx_up_shard_pick(l, 2, 256, 64), 1);
    load_t both[] = {{50, 1}, {20, 0}, {30, 4}};
    assert_int_equal(lx_up_shard_pick(both, 3, 256, 64), 2);
    load_t after_burst[] = {{0, 3}, {0, 5}}; /* quiet again: the first shard */
    assert_int_equal(lx_up_shard_pick(after_burst, 2, 256, 64), 0);
}

/* http2 "auto": HTTP/1.1 under the caps, and at most LX_UP_H1_SETUP_MAX
 * connections set up at once beyond the idle ones. */
static void test_h1_room(void **state)
{
    (void)state;
    typedef lx_up_h1_load_t h1_t;
    assert_true(lx_up_h1_room(&(h1_t){0, 0, 0, 0}, false, 256, 64));
    assert_true(lx_up_h1_room(&(h1_t){255, 0, 0, 0}, false, 256, 64));
    assert_false(lx_up_h1_room(&(h1_t){256, 0, 0, 10}, false, 256, 64)); /* the cap */
    /* streams: their own cap, within the whole one */
    assert_true(lx_up_h1_room(&(h1_t){100, 63, 0, 0}, true, 256, 64));
    assert_false(lx_up_h1_room(&(h1_t){100, 64, 0, 0}, true, 256, 64));
    assert_true(lx_up_h1_room(&(h1_t){100, 64, 0, 0}, false, 256, 64)); /* a whole answer */
    assert_false(lx_up_h1_room(&(h1_t){256, 10, 0, 0}, true, 256, 64));
    /* a burst: HTTP/2 beyond the idle connections and LX_UP_H1_SETUP_MAX */
    assert_true(lx_up_h1_room(&(h1_t){7, 0, LX_UP_H1_SETUP_MAX - 1, 0}, false, 256, 64));
    assert_false(lx_up_h1_room(&(h1_t){8, 0, LX_UP_H1_SETUP_MAX, 0}, false, 256, 64));
    assert_true(lx_up_h1_room(&(h1_t){40, 0, 20, 20}, false, 256, 64));
    assert_false(lx_up_h1_room(&(h1_t){40, 0, 20 + LX_UP_H1_SETUP_MAX, 20}, false, 256, 64));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_shard),     cmocka_unit_test(test_full_makes_new),
        cmocka_unit_test(test_max_least_loaded), cmocka_unit_test(test_least_loaded_with_room),
        cmocka_unit_test(test_prefers_idle),     cmocka_unit_test(test_h1_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
