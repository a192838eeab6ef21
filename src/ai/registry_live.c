/* registry_live.c - publishing snapshots, the references requests take on
 * them, and freeing each one when its last reference is released.
 *
 * Split reference counts. A published snapshot sits in a slot of a fixed
 * table; the word `current` holds that slot's index in its low bits and,
 * above them, the number of references taken since it was published. A
 * reader takes a reference and learns which snapshot it refers to in one
 * atomic add on that word, so there is no moment between "load the
 * pointer" and "count the reference" in which the snapshot could go. A
 * release subtracts one from the slot's own count, which therefore runs
 * negative while the snapshot is current (and can never reach zero then).
 * The publisher swaps in the new word and adds the old word's count to the
 * old slot's: from then on that count is the number of references still
 * out, and whoever brings it to zero (the publisher itself, or the last
 * release) frees the snapshot and frees its slot.
 *
 * Costs: acquire is one atomic add and one load, release one atomic
 * subtract; no lock, no allocation, no thread registration. A snapshot can
 * count 2^52 references while current (a year at 100 million a second). At
 * most LX_REGISTRY_SLOTS - 1 snapshots can be alive at once (held by
 * requests that outlive many republications); when they are all taken,
 * publishing waits for one to go. */
#include "ai/registry_live.h"
#include "ai/registry_build.h"
#include "core/clock.h"
#include "core/log.h"

#define SLOT_BITS 12
#define NSLOTS    (1u << SLOT_BITS) /* slot 0 stands for "no snapshot" */
_Static_assert(NSLOTS == LX_REGISTRY_SLOTS, "the header's count");
#define SLOT_MASK (NSLOTS - 1)
#define ONE_REF   (UINT64_C(1) << SLOT_BITS)

typedef struct {
    _Alignas(64) _Atomic(lx_snapshot_t *) snap; /* NULL: free (publisher takes it) */
    /* releases (-1 each), plus, once replaced, the references taken while
     * it was current: the references still out */
    _Atomic int64_t refs;
} slot_t;

static struct {
    _Alignas(64) _Atomic uint64_t current; /* references taken << SLOT_BITS | slot */
    _Alignas(64) _Atomic uint64_t version;
    _Atomic int live;
    unsigned next; /* publisher only: where to look for a free slot */
} R;

static slot_t slots[NSLOTS];

lx_snapshot_t *lx_registry_acquire(void)
{
    uint64_t w = atomic_fetch_add_explicit(&R.current, ONE_REF, memory_order_acquire);
    unsigned i = (unsigned)(w & SLOT_MASK);
    /* the slot was filled before the word that names it was stored */
    return i ? atomic_load_explicit(&slots[i].snap, memory_order_relaxed) : NULL;
}

/* The last reference is gone: free the snapshot, then its slot. */
static void reclaim(slot_t *sl)
{
    lx_snapshot_free(atomic_load_explicit(&sl->snap, memory_order_relaxed));
    atomic_fetch_sub_explicit(&R.live, 1, memory_order_relaxed);
    atomic_store_explicit(&sl->snap, NULL, memory_order_release);
}

void lx_registry_release(lx_snapshot_t *s)
{
    if (s == NULL)
        return;
    slot_t *sl = &slots[s->slot];
    /* acq_rel: every holder's reads happen before the free */
    if (atomic_fetch_sub_explicit(&sl->refs, 1, memory_order_acq_rel) == 1)
        reclaim(sl);
}

uint64_t lx_registry_version(void)
{
    return atomic_load_explicit(&R.version, memory_order_relaxed);
}

/* A word taken out of `current`: hand its references to its slot's count. */
static void retire(uint64_t w)
{
    unsigned i = (unsigned)(w & SLOT_MASK);
    if (i == 0)
        return;
    int64_t taken = (int64_t)(w >> SLOT_BITS);
    if (atomic_fetch_add_explicit(&slots[i].refs, taken, memory_order_acq_rel) + taken == 0)
        reclaim(&slots[i]);
}

int lx_registry_publish(lx_snapshot_t *s)
{
    unsigned i = 0;
    for (unsigned n = 0; n < NSLOTS && i == 0; n++) {
        unsigned k = (R.next + n) % NSLOTS;
        if (k != 0 && atomic_load_explicit(&slots[k].snap, memory_order_acquire) == NULL)
            i = k;
    }
    if (i == 0) {
        lx_log_warn("registry: every snapshot slot is held by requests; not publishing",
                    "\"slots\":%u", NSLOTS - 1);
        return LX_ERROR;
    }
    R.next = i + 1;
    s->slot = (int)i;
    s->version = atomic_fetch_add_explicit(&R.version, 1, memory_order_relaxed) + 1;
    s->published_ms = lx_wall_ms();
    atomic_store_explicit(&slots[i].refs, 0, memory_order_relaxed);
    atomic_store_explicit(&slots[i].snap, s, memory_order_relaxed);
    atomic_fetch_add_explicit(&R.live, 1, memory_order_relaxed);
    /* release: the snapshot and its slot before the word that names them */
    retire(atomic_exchange_explicit(&R.current, (uint64_t)i, memory_order_acq_rel));
    lx_log_info("registry published",
                "\"version\":%llu,\"providers\":%d,\"models\":%d,\"keys\":%d,\"source\":\"%s\","
                "\"build_us\":%lld",
                (unsigned long long)s->version, s->nproviders, s->nmodels, s->nkeys,
                s->from_db ? "database" : "config", (long long)s->build_us);
    return LX_OK;
}

void lx_registry_retire_all(void)
{
    retire(atomic_exchange_explicit(&R.current, 0, memory_order_acq_rel));
    /* references never released (nothing can use them now) */
    for (unsigned i = 1; i < NSLOTS; i++)
        if (atomic_load_explicit(&slots[i].snap, memory_order_acquire))
            reclaim(&slots[i]);
}

int lx_registry_live(void)
{
    return atomic_load_explicit(&R.live, memory_order_relaxed);
}
