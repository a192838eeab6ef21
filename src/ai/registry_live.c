/* registry_live.c - publishing snapshots, the references requests take on
 * them, and freeing the replaced ones. */
#include "ai/registry_live.h"
#include "ai/registry_build.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdlib.h>

#define GRACE_MS 2000

typedef struct retired {
    lx_snapshot_t *snap;
    int64_t at_ms;
    struct retired *next;
} retired_t;

static struct {
    _Atomic(lx_snapshot_t *) current;
    _Atomic uint64_t version;
    retired_t *retired; /* publisher only */
} R;

lx_snapshot_t *lx_registry_acquire(void)
{
    lx_snapshot_t *s = atomic_load_explicit(&R.current, memory_order_acquire);
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void lx_registry_release(lx_snapshot_t *s)
{
    if (s)
        atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release);
}

uint64_t lx_registry_version(void)
{
    return atomic_load_explicit(&R.version, memory_order_relaxed);
}

static void reclaim(bool all)
{
    int64_t now = lx_wall_ms();
    retired_t **pp = &R.retired;
    while (*pp) {
        retired_t *r = *pp;
        if (atomic_load_explicit(&r->snap->refs, memory_order_acquire) == 0 &&
            (all || now - r->at_ms > GRACE_MS)) {
            *pp = r->next;
            lx_snapshot_free(r->snap);
            free(r);
        } else {
            pp = &r->next;
        }
    }
}

void lx_registry_reclaim(void)
{
    reclaim(false);
}

void lx_registry_publish(lx_snapshot_t *s)
{
    s->version = atomic_fetch_add(&R.version, 1) + 1;
    atomic_store_explicit(&s->refs, 0, memory_order_relaxed);
    lx_snapshot_t *old = atomic_exchange_explicit(&R.current, s, memory_order_acq_rel);
    if (old) {
        retired_t *r = lx_calloc(1, sizeof *r);
        r->snap = old;
        r->at_ms = lx_wall_ms();
        r->next = R.retired;
        R.retired = r;
    }
    reclaim(false);
    lx_log_info("registry published",
                "\"version\":%llu,\"providers\":%d,\"models\":%d,\"keys\":%d,\"source\":\"%s\","
                "\"build_us\":%lld",
                (unsigned long long)s->version, s->nproviders, s->nmodels, s->nkeys,
                s->from_db ? "database" : "config", (long long)s->build_us);
}

void lx_registry_retire_all(void)
{
    lx_snapshot_t *cur = atomic_exchange(&R.current, NULL);
    if (cur)
        lx_snapshot_free(cur);
    reclaim(true);
}

int lx_registry_live(void)
{
    int n = atomic_load(&R.current) != NULL;
    for (retired_t *r = R.retired; r; r = r->next)
        n++;
    return n;
}
