/* test_state.c - the task states and their moves (src/task/state.c) and
 * the executor registry (src/task/registry.c). */
#include "task/task.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_names_round_trip(void **state)
{
    for (int s = 0; s < LX_TASK__COUNT; s++)
        assert_int_equal(lx_task_status_parse(lx_task_status_name((lx_task_status_t)s)), s);
    assert_int_equal(lx_task_status_parse("done"), LX_TASK__COUNT);
    assert_int_equal(lx_task_status_parse(NULL), LX_TASK__COUNT);
    assert_string_equal(lx_task_status_name(LX_TASK_SUBMITTING), "submitting");
}

static void test_moves(void **state)
{
    /* the happy path */
    assert_true(lx_task_can_move(LX_TASK_QUEUED, LX_TASK_SUBMITTING));
    assert_true(lx_task_can_move(LX_TASK_SUBMITTING, LX_TASK_RUNNING));
    assert_true(lx_task_can_move(LX_TASK_RUNNING, LX_TASK_SUCCEEDED));
    /* no skipping the job id: success only from running */
    assert_false(lx_task_can_move(LX_TASK_QUEUED, LX_TASK_RUNNING));
    assert_false(lx_task_can_move(LX_TASK_SUBMITTING, LX_TASK_SUCCEEDED));
    assert_false(lx_task_can_move(LX_TASK_QUEUED, LX_TASK_SUCCEEDED));
    /* never back to queued or submitting (a second submission) */
    for (int s = 0; s < LX_TASK__COUNT; s++) {
        assert_false(lx_task_can_move((lx_task_status_t)s, LX_TASK_QUEUED));
        if (s != LX_TASK_QUEUED)
            assert_false(lx_task_can_move((lx_task_status_t)s, LX_TASK_SUBMITTING));
    }
    /* any live state may fail, be cancelled or expire */
    lx_task_status_t live[] = {LX_TASK_QUEUED, LX_TASK_SUBMITTING, LX_TASK_RUNNING};
    lx_task_status_t ends[] = {LX_TASK_FAILED, LX_TASK_CANCELLED, LX_TASK_EXPIRED};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            assert_true(lx_task_can_move(live[i], ends[j]));
    /* terminal is final */
    for (int s = LX_TASK_SUCCEEDED; s < LX_TASK__COUNT; s++) {
        assert_true(lx_task_status_terminal((lx_task_status_t)s));
        for (int t = 0; t < LX_TASK__COUNT; t++)
            assert_false(lx_task_can_move((lx_task_status_t)s, (lx_task_status_t)t));
    }
    assert_false(lx_task_status_terminal(LX_TASK_RUNNING));
    assert_false(lx_task_can_move(LX_TASK__COUNT, LX_TASK_FAILED));
}

static void nop(const lx_task_view_t *t, lx_task_job_t *job, void *arg) {}

static void test_registry(void **state)
{
    lx_task_registry_reset();
    static const lx_task_executor_t a = {.type = "video.generate", .submit = nop, .poll = nop};
    static const lx_task_executor_t dup = {.type = "video.generate", .submit = nop, .poll = nop};
    static const lx_task_executor_t nopoll = {.type = "x", .submit = nop};
    assert_int_equal(lx_task_register(&a), LX_OK);
    assert_int_equal(lx_task_register(&dup), LX_ERROR);
    assert_int_equal(lx_task_register(&nopoll), LX_ERROR);
    assert_ptr_equal(lx_task_executor("video.generate"), &a);
    assert_null(lx_task_executor("image.generate"));
    assert_null(lx_task_executor(NULL));
    const char *id = lx_task_instance_id();
    assert_int_equal(strlen(id), 17);
    assert_ptr_equal(lx_task_instance_id(), id); /* one per process */
    lx_task_registry_reset();
    assert_null(lx_task_executor("video.generate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
