/* config_tasks.c - the tasks.* settings (README "Configuration"; read by
 * src/task through the app): defaults, the checks between them, and the
 * webhook secret's wipe. Owns nothing beyond lx_config_t's own fields. */
#include "core/config.h"

#include <stdlib.h>
#include <string.h>

void lx_config_tasks_defaults(lx_config_t *cfg)
{
    cfg->tasks.poll_min_ms = 1000;
    cfg->tasks.poll_max_ms = 30000;
    cfg->tasks.lease_ms = 30000;
    cfg->tasks.renew_ms = 10000;
    cfg->tasks.claim_ms = 1000;
    cfg->tasks.unreachable_ms = 600000;
    cfg->tasks.max_age_ms = 86400000;
    cfg->tasks.pool = 8;
}

int lx_config_tasks_check(const lx_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->tasks.poll_max_ms < cfg->tasks.poll_min_ms)
        return lx_config_fail(err, errlen, "tasks.poll_max_ms: below tasks.poll_min_ms");
    if (cfg->tasks.renew_ms * 2 > cfg->tasks.lease_ms)
        return lx_config_fail(err, errlen,
                              "tasks.renew_ms: must be at most half of tasks.lease_ms (a lease "
                              "must survive one missed renewal)");
    return LX_OK;
}

void lx_config_tasks_free(lx_config_t *cfg)
{
    if (cfg->tasks.webhook_secret) {
        explicit_bzero(cfg->tasks.webhook_secret, strlen(cfg->tasks.webhook_secret));
        free(cfg->tasks.webhook_secret);
    }
}
