/* state.c - the task states as stored in ai_tasks.status and the moves
 * between them (pure: owns nothing). */
#include "task/task.h"

static const char *const names[LX_TASK__COUNT] = {
    [LX_TASK_QUEUED] = "queued",   [LX_TASK_SUBMITTING] = "submitting",
    [LX_TASK_RUNNING] = "running", [LX_TASK_SUCCEEDED] = "succeeded",
    [LX_TASK_FAILED] = "failed",   [LX_TASK_CANCELLED] = "cancelled",
    [LX_TASK_EXPIRED] = "expired",
};

const char *lx_task_status_name(lx_task_status_t s)
{
    return (unsigned)s < LX_TASK__COUNT ? names[s] : "unknown";
}

lx_task_status_t lx_task_status_parse(const char *name)
{
    for (int i = 0; name && i < LX_TASK__COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return (lx_task_status_t)i;
    return LX_TASK__COUNT;
}

bool lx_task_status_terminal(lx_task_status_t s)
{
    return s == LX_TASK_SUCCEEDED || s == LX_TASK_FAILED || s == LX_TASK_CANCELLED ||
           s == LX_TASK_EXPIRED;
}

/* queued -> submitting (claimed) -> running (job id stored) -> terminal.
 * Any live state may be cancelled or expire; a submitting task may fail
 * (refused, or submission_uncertain) and a queued one expires or fails
 * before it was claimed. A terminal state is final. */
bool lx_task_can_move(lx_task_status_t from, lx_task_status_t to)
{
    if ((unsigned)from >= LX_TASK__COUNT || (unsigned)to >= LX_TASK__COUNT ||
        lx_task_status_terminal(from) || from == to)
        return false;
    switch (to) {
    case LX_TASK_QUEUED:
        return false;
    case LX_TASK_SUBMITTING:
        return from == LX_TASK_QUEUED;
    case LX_TASK_RUNNING:
        return from == LX_TASK_SUBMITTING;
    case LX_TASK_SUCCEEDED:
        return from == LX_TASK_RUNNING;
    default: /* failed, cancelled, expired */
        return true;
    }
}
