/* backoff.h - when a task is polled next (pure: owns nothing; any thread).
 *
 * The n-th poll of a task (n from 0) waits poll_min_ms x 1.5^n, at most
 * poll_max_ms, then jittered by +-20 % so that tasks submitted together
 * spread out. A provider's hint replaces the curve, clamped to
 * [poll_min_ms, poll_max_ms], and is jittered the same way. rnd is a
 * uniform random 32-bit number. */
#ifndef LX_TASK_BACKOFF_H
#define LX_TASK_BACKOFF_H

#include "task/task.h"

/* The delay before poll n (hint_ms <= 0: none given). */
int lx_task_backoff_ms(const lx_task_conf_t *c, int n, int hint_ms, uint32_t rnd);
/* The same without the jitter (the curve's own value). */
int lx_task_backoff_base_ms(const lx_task_conf_t *c, int n, int hint_ms);

#endif
