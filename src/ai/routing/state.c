/* state.c - the lock-free table of routing state. */
#include "ai/routing/state.h"

#include <stdlib.h>

_Static_assert(sizeof(lx_route_state_t) == 192, "three cache lines per entry");

struct lx_state_table {
    lx_route_state_t *slots; /* 64-byte aligned inside raw */
    void *raw;
    size_t mask;
    size_t limit; /* stop inserting at this many entries */
    _Atomic size_t count;
};

#define MEMBER_NS (UINT64_C(1) << 62)
#define DEPLOY_NS (UINT64_C(2) << 62)
#define GROUP_NS  (UINT64_C(3) << 62)
#define HASH62    ((UINT64_C(1) << 62) - 1)

uint64_t lx_state_key_cred(int64_t cred_id)
{
    if (cred_id <= 0 || (uint64_t)cred_id >= MEMBER_NS)
        return 0;
    return (uint64_t)cred_id;
}

uint64_t lx_state_key_member(int64_t group_id, int idx)
{
    if (group_id <= 0 || group_id >= (INT64_C(1) << 46) || idx < 0 || idx > 0xffff)
        return 0;
    return MEMBER_NS | ((uint64_t)group_id << 16) | (uint64_t)idx;
}

uint64_t lx_state_key_group(int64_t group_id)
{
    if (group_id <= 0 || (uint64_t)group_id >= MEMBER_NS)
        return 0;
    return GROUP_NS | (uint64_t)group_id;
}

static inline uint64_t mix64(uint64_t z)
{
    /* splitmix64's finaliser: sequential ids spread over the whole table */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t lx_state_key_deploy(int64_t cred_id, lx_str_t model)
{
    if (lx_state_key_cred(cred_id) == 0 || model.p == NULL || model.n == 0)
        return 0;
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a, 64 bits */
    for (size_t i = 0; i < model.n; i++) {
        h ^= (unsigned char)model.p[i];
        h *= UINT64_C(0x100000001b3);
    }
    h = mix64(h ^ mix64((uint64_t)cred_id));
    return DEPLOY_NS | (h & HASH62);
}

lx_state_table_t *lx_state_table_new(size_t capacity)
{
    size_t cap = 64;
    while (cap < capacity && cap < ((size_t)1 << 30))
        cap <<= 1;
    lx_state_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    /* calloc of a large block maps fresh zero pages: the table costs only the
     * pages that get touched. Align by hand (calloc guarantees 16). */
    t->raw = calloc(1, cap * sizeof(lx_route_state_t) + 64);
    if (!t->raw) {
        free(t);
        return NULL;
    }
    uintptr_t a = ((uintptr_t)t->raw + 63) & ~(uintptr_t)63;
    t->slots = (lx_route_state_t *)a;
    t->mask = cap - 1;
    t->limit = cap - cap / 8;
    atomic_init(&t->count, 0);
    return t;
}

void lx_state_table_free(lx_state_table_t *t)
{
    if (!t)
        return;
    free(t->raw);
    free(t);
}

/* limit: insert while fewer entries than this (0: never insert). */
static lx_route_state_t *lookup(lx_state_table_t *t, uint64_t key, size_t limit)
{
    if (!t || key == 0)
        return NULL;
    size_t i = (size_t)mix64(key) & t->mask;
    for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
        lx_route_state_t *s = &t->slots[i];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key)
            return s;
        if (k != 0)
            continue;
        if (atomic_load_explicit(&t->count, memory_order_relaxed) >= limit)
            return NULL;
        uint64_t expect = 0;
        if (atomic_compare_exchange_strong_explicit(&s->key, &expect, key, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
            return s;
        }
        if (expect == key) /* another thread inserted the same key */
            return s;
        /* another key took the slot: keep probing */
    }
    return NULL;
}

lx_route_state_t *lx_state_table_get(lx_state_table_t *t, uint64_t key)
{
    return t ? lookup(t, key, t->limit) : NULL;
}

lx_route_state_t *lx_state_table_get_soft(lx_state_table_t *t, uint64_t key)
{
    return t ? lookup(t, key, (t->mask + 1) / 2) : NULL;
}

lx_route_state_t *lx_state_table_find(lx_state_table_t *t, uint64_t key)
{
    return lookup(t, key, 0);
}

size_t lx_state_table_count(const lx_state_table_t *t)
{
    return t ? atomic_load_explicit(&t->count, memory_order_relaxed) : 0;
}

size_t lx_state_table_capacity(const lx_state_table_t *t)
{
    return t ? t->mask + 1 : 0;
}

/* --- the process-wide table ---------------------------------------------- */

static _Atomic(lx_state_table_t *) g_table;

int lx_route_state_init(size_t capacity)
{
    if (atomic_load(&g_table))
        return LX_ERROR;
    lx_state_table_t *t = lx_state_table_new(capacity ? capacity : LX_STATE_DEFAULT_CAPACITY);
    if (!t)
        return LX_ERROR;
    atomic_store(&g_table, t);
    return LX_OK;
}

void lx_route_state_shutdown(void)
{
    lx_state_table_free(atomic_exchange(&g_table, NULL));
}

lx_state_table_t *lx_route_state_table(void)
{
    return atomic_load_explicit(&g_table, memory_order_acquire);
}

lx_route_state_t *lx_cred_state_get(int64_t cred_id)
{
    return lx_state_table_get(lx_route_state_table(), lx_state_key_cred(cred_id));
}

lx_route_state_t *lx_member_state_get(int64_t group_id, int idx)
{
    return lx_state_table_get(lx_route_state_table(), lx_state_key_member(group_id, idx));
}

lx_route_state_t *lx_group_state_get(int64_t group_id)
{
    return lx_state_table_get(lx_route_state_table(), lx_state_key_group(group_id));
}

lx_route_state_t *lx_deploy_state_get(int64_t cred_id, lx_str_t model)
{
    return lx_state_table_get(lx_route_state_table(), lx_state_key_deploy(cred_id, model));
}

lx_route_state_t *lx_deploy_state_use(int64_t cred_id, lx_str_t model)
{
    return lx_state_table_get_soft(lx_route_state_table(), lx_state_key_deploy(cred_id, model));
}

/* --- per-entry counters -------------------------------------------------- */

#define EWMA_FRAC  4 /* fixed point: value = µs << 4 */
#define EWMA_SHIFT 3 /* alpha = 1/8 */

void lx_state_ttfb_update(lx_route_state_t *st, int64_t ttfb_us)
{
    if (!st || ttfb_us < 0)
        return;
    if (ttfb_us > (INT64_C(1) << 40))
        ttfb_us = INT64_C(1) << 40;
    uint64_t sample = (uint64_t)ttfb_us << EWMA_FRAC;
    if (sample == 0)
        sample = 1; /* 0 means "no data" */
    uint64_t old = atomic_load_explicit(&st->ttfb_ewma, memory_order_relaxed);
    uint64_t nv;
    do {
        if (old == 0) {
            nv = sample;
        } else {
            int64_t diff = (int64_t)sample - (int64_t)old;
            int64_t v = (int64_t)old + diff / (1 << EWMA_SHIFT);
            nv = v > 0 ? (uint64_t)v : 1;
        }
    } while (!atomic_compare_exchange_weak_explicit(&st->ttfb_ewma, &old, nv, memory_order_relaxed,
                                                    memory_order_relaxed));
}

int64_t lx_state_ttfb_us(const lx_route_state_t *st)
{
    if (!st)
        return -1;
    uint64_t v = atomic_load_explicit(&st->ttfb_ewma, memory_order_relaxed);
    return v ? (int64_t)(v >> EWMA_FRAC) : -1;
}

void lx_state_flag_auth(lx_route_state_t *st, int64_t now_ms, int64_t hold_ms)
{
    if (!st)
        return;
    int64_t until = now_ms + (hold_ms > 0 ? hold_ms : 0);
    int64_t old = atomic_load_explicit(&st->auth_until, memory_order_relaxed);
    while (old < until &&
           !atomic_compare_exchange_weak_explicit(&st->auth_until, &old, until,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void lx_state_clear_auth(lx_route_state_t *st)
{
    if (st)
        atomic_store_explicit(&st->auth_until, 0, memory_order_relaxed);
}

bool lx_state_auth_flagged(const lx_route_state_t *st, int64_t now_ms)
{
    return st && now_ms < atomic_load_explicit(&st->auth_until, memory_order_relaxed);
}

/* --- success / error counts ---------------------------------------------- */

static const char *const conn_err_names[LX_CRED_ERR__COUNT] = {
    [LX_CRED_ERR_NONE] = "none",
    [LX_CRED_ERR_UPSTREAM] = "upstream_error",
    [LX_CRED_ERR_TIMEOUT] = "upstream_timeout",
    [LX_CRED_ERR_UNAVAILABLE] = "upstream_unavailable",
    [LX_CRED_ERR_RATE_LIMITED] = "upstream_rate_limited",
    [LX_CRED_ERR_AUTH] = "upstream_auth_failed",
};

const char *lx_cred_err_name(lx_cred_err_t e)
{
    return (unsigned)e < LX_CRED_ERR__COUNT ? conn_err_names[e] : "unknown";
}

#define LAST_ERR_SHIFT 8

/* Raises *p to v (never lowers it); no store when it is already there. */
static void raise_i64(_Atomic int64_t *p, int64_t v)
{
    int64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (old < v && !atomic_compare_exchange_weak_explicit(p, &old, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static void raise_u64(_Atomic uint64_t *p, uint64_t v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (old < v && !atomic_compare_exchange_weak_explicit(p, &old, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

void lx_state_count(lx_route_state_t *st, bool ok, lx_cred_err_t err, int64_t now_ms)
{
    if (!st)
        return;
    if (now_ms < 1)
        now_ms = 1; /* 0 means "never" */
    if (now_ms >= (INT64_C(1) << 42))
        now_ms = (INT64_C(1) << 42) - 1;
    raise_i64(&st->last_used_ms, now_ms);
    if (err != LX_CRED_ERR_NONE && (unsigned)err < LX_CRED_ERR__COUNT) {
        atomic_fetch_add_explicit(&st->fail_total, 1, memory_order_relaxed);
        raise_u64(&st->last_error, (uint64_t)now_ms << LAST_ERR_SHIFT | (uint64_t)err);
    } else if (ok) {
        atomic_fetch_add_explicit(&st->ok_total, 1, memory_order_relaxed);
    }
}

uint64_t lx_state_success_total(const lx_route_state_t *st)
{
    return st ? atomic_load_explicit(&st->ok_total, memory_order_relaxed) : 0;
}

uint64_t lx_state_error_total(const lx_route_state_t *st)
{
    return st ? atomic_load_explicit(&st->fail_total, memory_order_relaxed) : 0;
}

int64_t lx_state_last_used_ms(const lx_route_state_t *st)
{
    return st ? atomic_load_explicit(&st->last_used_ms, memory_order_relaxed) : 0;
}

int64_t lx_state_last_error(const lx_route_state_t *st, lx_cred_err_t *code)
{
    uint64_t v = st ? atomic_load_explicit(&st->last_error, memory_order_relaxed) : 0;
    if (code)
        *code = (lx_cred_err_t)(v & ((1u << LAST_ERR_SHIFT) - 1));
    return (int64_t)(v >> LAST_ERR_SHIFT);
}
