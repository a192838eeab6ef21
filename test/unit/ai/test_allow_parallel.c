/* test_allow_parallel.c - unit tests for src/ai/allow_parallel.c against a
 * fake Postgres (test/unit/task/pg_fake.c): the publication's answers and
 * its end while a publication is in flight (the owner's free comes first,
 * the answer frees; nothing may be left behind: LeakSanitizer checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../task/pg_fake.h"
#include "ai/allow_parallel.h"
#include "ai/registry.h"

#include <stdlib.h>

static lx_snapshot_t *one_key(lx_allow_t *a)
{
    lx_snapshot_t *s = calloc(1, sizeof *s);
    s->keys = calloc(1, sizeof *s->keys);
    s->nkeys = 1;
    s->keys[0].allow.s[0] = a;
    return s;
}

static void free_snapshot(lx_snapshot_t *s)
{
    free(s->keys);
    free(s);
}

static void test_others_counted_then_freed_while_busy(void **state)
{
    (void)state;
    fake_reset();
    lx_allow_t *a = lx_allow_get_all('k', 4242, 0, 0, 0, 5);
    assert_non_null(a);
    lx_snapshot_t *s = one_key(a);
    lx_allow_parallel_t *p = lx_allow_parallel_new(NULL);
    lx_allow_parallel_tick(p, s);
    assert_int_equal(fake_pending(), 1);
    const char *three[] = {"3"};
    fake_answer_rows(1, 1, three);
    assert_int_equal(atomic_load(&a->others), 3); /* the others' count arrived */
    lx_allow_parallel_tick(p, s);                 /* a second publication ... */
    assert_int_equal(fake_pending(), 1);
    lx_allow_parallel_free(p); /* ... in flight when the owner lets go */
    const char *one[] = {"1"};
    fake_answer_rows(1, 1, one); /* the answer frees everything */
    assert_int_equal(fake_pending(), 0);
    free_snapshot(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_others_counted_then_freed_while_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
