/* runner_stop.c - a runner's clean shutdown (task.h lx_task_runner_stop):
 * no claim, renewal or poll any more, the executors' jobs abandoned, and
 * every lease of the worker given back in one UPDATE. Runs on the runner's
 * loop; owns the release query's callback only. */
#include "core/log.h"
#include "db/pg.h"
#include "task/run.h"

#include <event2/event.h>

/* Every lease of this worker, whatever it holds in memory (a claim in
 * flight when the runner stopped may have leased more): expired now, no
 * owner. Queued after every write already sent, so they land first. */
static const char RELEASE_ALL_SQL[] =
    "UPDATE ai_tasks SET lease_owner = NULL, lease_expires_at = now() WHERE lease_owner = $1";

static void release_all_cb(const lx_pg_result_t *res, void *arg)
{
    lx_task_runner_t *r = arg;
    r->pending--;
    r->releasing = false;
    if (lx_pg_ok(res))
        lx_log_info("task leases released", "\"owner\":\"%s\",\"tasks\":%ld", r->owner,
                    lx_pg_affected(res));
    else
        lx_log_warn("task lease release failed", "\"error\":\"%s\"", lx_pg_error(res));
    lx_task_runner_maybe_free(r);
}

void lx_task_runner_stop(lx_task_runner_t *r)
{
    if (r == NULL || r->stopped || r->closing)
        return;
    r->stopped = true;
    event_del(r->claim_ev);
    event_del(r->renew_ev);
    lx_task_runner_abandon_all(r);
    const char *p[1] = {r->owner};
    if (lx_pg_down(r->pg)) /* nobody to tell: the leases expire */
        return;
    if (lx_pg_query(r->pg, RELEASE_ALL_SQL, 1, p, 0, release_all_cb, r) == LX_OK) {
        r->releasing = true;
        r->pending++;
    }
}

bool lx_task_runner_stopping(const lx_task_runner_t *r)
{
    return r != NULL && r->releasing && !lx_pg_down(r->pg);
}
